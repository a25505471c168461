"""The name scope each op runs in, against TensorFlow 2.21 / Keras 3.15.1 eager (observed values written here).

TF's facts were printed with ``tf.get_current_name_scope()`` inside each layer's ``call`` (eager calls
only, not Keras's symbolic build), in exactly the order of ``test_scopes_inside_layers_and_modules``.
A recording keeps that scope with every op, so the inspector can group ops by layer.
"""
import os
import sys

import numpy as np

import tapeviz as tf
from tapeviz import keras
from tapeviz.inspection.tapefile import load, save

sys.path.insert(0, os.path.dirname(__file__))  # the makers of tape files in old layouts live beside the tests

# TF 2.21 / Keras 3.15.1, eager: (what printed, tf.get_current_name_scope()) in creation and call order.
TF_OBSERVED = [
    ("dense dense_probe", "sequential/dense_probe"),        # Sequential([Input, DenseProbe, DenseProbe])
    ("dense dense_probe_1", "sequential/dense_probe_1"),
    ("dense dense_probe_2", "sequential_1/dense_probe_2"),  # Sequential([DenseProbe, DenseProbe]), called twice
    ("dense dense_probe_3", "sequential_1/dense_probe_3"),
    ("dense dense_probe_2", "sequential_1/dense_probe_2"),
    ("dense dense_probe_3", "sequential_1/dense_probe_3"),
    ("dense dense_probe_4", "dense_probe_4"),               # a layer called on its own
    ("inner inner", "inner"),                               # a layer calling its own layers
    ("dense dense_probe_5", "inner/dense_probe_5"),
    ("probe probe", "inner/probe"),
    ("inner blk", "sequential_2/blk"),                      # that layer, named, inside a Sequential
    ("dense dense_probe_6", "sequential_2/blk/dense_probe_6"),
    ("probe probe_1", "sequential_2/blk/probe_1"),
    ("model my_model", "my_model"),                         # a subclassed Model
    ("dense dense_probe_7", "my_model/dense_probe_7"),
    ("inner inner_1", "my_model/inner_1"),
    ("dense dense_probe_8", "my_model/inner_1/dense_probe_8"),
    ("probe probe_2", "my_model/inner_1/probe_2"),
    ("model net", "net"),                                   # named by the user
    ("dense dense_probe_9", "net/dense_probe_9"),
    ("inner inner_2", "net/inner_2"),
    ("dense dense_probe_10", "net/inner_2/dense_probe_10"),
    ("probe probe_3", "net/inner_2/probe_3"),
    ("model net2", "sequential_3/net2"),                    # a subclassed Model inside a Sequential
    ("dense dense_probe_11", "sequential_3/net2/dense_probe_11"),
    ("inner inner_3", "sequential_3/net2/inner_3"),
    ("dense dense_probe_12", "sequential_3/net2/inner_3/dense_probe_12"),
    ("probe probe_4", "sequential_3/net2/inner_3/probe_4"),
    ("outer body", "outer"),                                # with module.name_scope:
    ("module first", "first"),                              # a module's scope is its own, not its caller's
    ("probe lay", "first/lay"),                             # a layer called in a module's method
    ("probe q", "block/q"),                                 # a layer called inside tf.name_scope("block")
    ("block/sub", "block/sub"),
    ("in layer name_scope", "l2/part"),                     # tf.name_scope inside a layer's call
]

seen = []


def note(tag, x):
    # Eager calls on the data only: a Sequential built from keras.Input infers its shapes by calling its
    # layers on zeros (Keras traces them symbolically), and those calls are not among TF's facts.
    if isinstance(x, tf.Tensor) and np.any(x.numpy()):
        seen.append((tag, tf.get_current_name_scope()))


class Probe(keras.layers.Layer):
    def call(self, x):
        note("probe " + self.name, x)
        return x * 1.0   # one op, whose recorded scope must be the one noted


class DenseProbe(keras.layers.Dense):
    def call(self, x):
        note("dense " + self.name, x)
        return super().call(x)


class Inner(keras.layers.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.d = DenseProbe(2)
        self.p = Probe()

    def call(self, x):
        note("inner " + self.name, x)
        return self.p(self.d(x))


class MyModel(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.d1 = DenseProbe(3)
        self.i = Inner()

    def call(self, x):
        note("model " + self.name, x)
        return self.i(self.d1(x))


class Mod(tf.Module):
    def __init__(self, name=None):
        super().__init__(name=name)
        self.layer = Probe(name="lay")

    @tf.Module.with_name_scope
    def __call__(self, x):
        note("module " + self.name, x)
        return self.layer(x)


class Outer(tf.Module):
    def __init__(self):
        super().__init__()
        self.a = Mod(name="first")

    def __call__(self, x):
        with self.name_scope:
            note("outer body", x)
            return self.a(x)


class NameScopeInside(keras.layers.Layer):
    def call(self, x):
        with tf.name_scope("part"):
            note("in layer name_scope", x)
            return x * 2.0


def run_tf_sequence(x):
    """The calls TF's facts were observed on, in the same order (automatic names depend on it)."""
    keras.backend.clear_session()
    keras.utils.set_random_seed(1)   # no layer's output all zeros by chance (see note)
    keras.Sequential([keras.Input((3,)), DenseProbe(4, activation="relu"), DenseProbe(2)])(x)
    model = keras.Sequential([DenseProbe(4), DenseProbe(2)])
    model(x)
    model(x)
    DenseProbe(2)(x)
    Inner()(x)
    keras.Sequential([Inner(name="blk")])(x)
    MyModel()(x)
    MyModel(name="net")(x)
    keras.Sequential([MyModel(name="net2")])(x)
    Outer()(x)
    with tf.name_scope("block"):
        Probe(name="q")(x)
        with tf.name_scope("sub"):
            note("block/sub", x)
    NameScopeInside(name="l2")(x)


def test_scopes_inside_layers_and_modules_are_tensorflows():
    seen.clear()
    run_tf_sequence(tf.ones((1, 3)))
    assert seen == TF_OBSERVED


def test_each_recorded_op_keeps_the_scope_it_ran_in():
    seen.clear()
    x = tf.ones((1, 3))
    with tf.record() as recorder:
        with tf.GradientTape() as tape:
            tape.watch(x)
            run_tf_sequence(x)
            outside = tf.reduce_sum(x)
    run = recorder.snapshot()
    ops = [op for op in run.ops.values() if op.tapes]   # not the shape inference on zeros (no tape sees it)
    # Probe multiplies by 1.0, NameScopeInside by 2.0: each Mul ran where its layer noted its scope.
    probe_scopes = [scope for tag, scope in TF_OBSERVED if tag.startswith("probe ") or tag == "in layer name_scope"]
    assert [op.scope for op in ops if op.type == "Mul"] == probe_scopes
    # A Dense's ops (its variable reads, MatMul, bias add, activation) are in its scope.
    dense_scopes = [scope for tag, scope in TF_OBSERVED if tag.startswith("dense ")]
    assert [op.scope for op in ops if op.type == "MatMul"] == dense_scopes
    first = [op for op in ops if op.scope == "sequential/dense_probe"]
    assert [op.type for op in first] == ["ReadVariableOp", "MatMul", "ReadVariableOp", "AddV2", "Relu"]
    assert run.ops[run.tensors[outside._id].producer].scope == ""


def test_an_optimizer_update_is_recorded_in_the_optimizers_scope():
    # Keras 3 applies gradients inside ``name_scope(optimizer.name)``; TF 2.21 printed 'adam' there.
    v = tf.Variable(1.0, name="v")
    optimizer = keras.optimizers.Adam()
    with tf.record() as recorder:
        with tf.GradientTape() as tape:
            loss = v * v
        optimizer.apply_gradients(zip(tape.gradient(loss, [v]), [v]))
    run = recorder.snapshot()
    updates = [e for e in run.events if e.kind == "assign" and e.tensor == v._id]
    assert [e.scope for e in updates] == ["adam"]
    assert tf.get_current_name_scope() == ""


def test_scopes_survive_a_tape_file(tmp_path):
    v = tf.Variable(np.ones((3, 2), np.float32), name="w")
    optimizer = keras.optimizers.SGD(name="plain_sgd")
    with tf.record() as recorder:
        with tf.GradientTape() as tape:
            with tf.name_scope("block"):
                with tf.name_scope("inner"):
                    y = tf.ones((1, 3)) @ v
            loss = tf.reduce_sum(y)
        optimizer.apply_gradients(zip(tape.gradient(loss, [v]), [v]))
    run = recorder.snapshot()
    loaded = load(save(run, tmp_path / "run.tapeviz"))
    assert [op.scope for op in loaded.ops.values()] == [op.scope for op in run.ops.values()]
    assert {op.scope for op in loaded.ops.values()} >= {"block/inner", ""}
    assert [e.scope for e in loaded.events] == [e.scope for e in run.events]
    assert "plain_sgd" in {e.scope for e in loaded.events}


def test_a_version_3_file_from_before_scopes_loads_with_no_scope(tmp_path):
    import json
    import zipfile

    from hostile_tapefiles import joined_index, split_index

    with tf.record() as recorder:
        with tf.GradientTape() as tape:
            x = tf.constant(2.0)
            tape.watch(x)
            with tf.name_scope("block"):
                y = x * x
        tape.gradient(y, x)
    path = save(recorder.snapshot(), tmp_path / "new.tapeviz")
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    index = joined_index(members)
    # What a version 3 file held before scopes: 13 fields per op, 6 per event, no field lists.
    del index["op_fields"], index["event_fields"]
    index["ops"] = [row[:13] for row in index["ops"]]
    index["events"] = [row[:6] for row in index["events"]]
    split_index(index, members, version=3)
    old = tmp_path / "old.tapeviz"
    with zipfile.ZipFile(old, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    assert json.loads(members["index.json"])["version"] == 3
    loaded = load(old)
    assert len(loaded.ops) == len(recorder.snapshot().ops)
    assert {op.scope for op in loaded.ops.values()} == {""}
    assert {e.scope for e in loaded.events} == {""}
    assert "block" in {op.scope for op in load(path).ops.values()}


def test_show_lists_each_tapes_scopes_with_their_op_counts():
    from tapeviz.inspection.report import json_summary, text_summary
    keras.backend.clear_session()
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="relu"), keras.layers.Dropout(0.5),
                              keras.layers.Dense(1)])
    with tf.record() as recorder:
        with tf.GradientTape() as tape:
            loss = keras.losses.MeanSquaredError()(tf.ones((4, 1)), model(tf.ones((4, 3)), training=True))
        tape.gradient(loss, model.trainable_variables)
    run = recorder.snapshot()
    # Dense: two reads, MatMul, AddV2, Relu; Dropout: its Mul; the last Dense has no activation.
    assert "    scopes: sequential/dense (5 ops), sequential/dropout (1 op), sequential/dense_1 (4 ops), " \
           "mean_squared_error (" in "\n".join(text_summary(run))
    scopes = json_summary(run)["tapes"][0]["scopes"]
    assert list(scopes)[:3] == ["sequential/dense", "sequential/dropout", "sequential/dense_1"]


def test_a_loss_runs_in_its_scope_and_fit_adds_compile_loss():
    # TF 2.21 / Keras 3.15.1 printed these inside a SparseCategoricalCrossentropy subclass's call.
    scopes = []

    class ProbeLoss(keras.losses.SparseCategoricalCrossentropy):
        def call(self, y_true, y_pred):
            scopes.append(tf.get_current_name_scope())
            return super().call(y_true, y_pred)

    y = np.array([1, 2])
    ProbeLoss(from_logits=True)(y, tf.ones((2, 3)))
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3)])
    model.compile(optimizer="adam", loss=ProbeLoss(from_logits=True))
    model.fit(np.ones((2, 3)), y, epochs=1, verbose=0)
    assert scopes == ["sparse_categorical_crossentropy", "compile_loss/sparse_categorical_crossentropy"]


def test_a_file_declaring_an_unknown_op_layout_is_refused_with_one_line(tmp_path):
    import zipfile

    import pytest

    from hostile_tapefiles import joined_index, split_index
    from tapeviz.inspection.tapefile import TapeFileError

    with tf.record() as recorder:
        with tf.GradientTape() as tape:
            x = tf.constant(2.0)
            tape.watch(x)
            y = x * x
        tape.gradient(y, x)
    path = save(recorder.snapshot(), tmp_path / "good.tapeviz")
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    index = joined_index(members)
    index["op_fields"] = ["id", "seq", "colour"]
    split_index(index, members, version=3)
    bad = tmp_path / "bad.tapeviz"
    with zipfile.ZipFile(bad, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(TapeFileError, match="op_fields .* is not a layout of ops this tapeviz reads") as caught:
        load(bad)
    assert str(bad) in str(caught.value) and "\n" not in str(caught.value)
