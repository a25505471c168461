"""Keras models and the training workflow against TensorFlow 2.21 / Keras 3 (numbers printed by TensorFlow for
the same weights and data, written here as facts)."""
import io
import re
import runpy
import contextlib
from pathlib import Path

import numpy as np
import pytest

import tapeviz as tf

ROOT = Path(__file__).resolve().parent.parent


def formula(shape, k):
    n = int(np.prod(shape))
    return (np.sin(np.arange(n) * 0.37 + k) * 0.1).astype(np.float32).reshape(shape)


@pytest.fixture(scope="module")
def synthetic():
    namespace = {"np": np}
    exec(_synthetic_source(), namespace)
    return namespace


def _synthetic_source():
    source = (ROOT / "examples" / "quickstart_beginner.py").read_text()
    start = source.index("# Synthetic stand-in")
    return source[start:source.index("model = ")]


def quickstart_model():
    with pytest.warns(UserWarning, match="Do not pass an `input_shape`"):  # as TF 2.21 warns
        model = tf.keras.models.Sequential([
            tf.keras.layers.Flatten(input_shape=(28, 28)),
            tf.keras.layers.Dense(128, activation='relu'),
            tf.keras.layers.Dropout(0.2),
            tf.keras.layers.Dense(10)
        ])
    model.set_weights([formula(w.shape, i) for i, w in enumerate(model.get_weights())])
    return model


def test_quickstart_forward_pass_and_first_loss_match_tensorflow(synthetic):
    model = quickstart_model()
    predictions = model(synthetic["x_train"][:1]).numpy()
    np.testing.assert_allclose(predictions, [[
        0.03837938234210014, 0.00456361286342144, -0.02986983023583889, -0.060260526835918427, -0.08249524980783463,
        -0.09356462210416794, -0.09197045117616653, -0.07792852818965912, -0.053339339792728424,
        -0.02153092250227928]], rtol=1e-4, atol=1e-6)
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    np.testing.assert_allclose(loss_fn(synthetic["y_train"][:1], predictions).numpy(), 2.310006618499756, rtol=1e-6)


def test_quickstart_fit_evaluate_predict_match_tensorflow_step_by_step(synthetic):
    """Same weights, dropout off (rate 0) and no shuffling, so every batch is TensorFlow's: three epochs of Adam."""
    model = quickstart_model()
    model.layers[2].rate = 0.0
    model.compile(optimizer='adam', loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=['accuracy'])
    history = model.fit(synthetic["x_train"], synthetic["y_train"], epochs=3, shuffle=False, verbose=0)
    assert list(history.history) == ["accuracy", "loss"]
    np.testing.assert_allclose(history.history["loss"], [1.935664415359497, 1.2568248510360718, 0.9951342940330505],
                               rtol=2e-4)
    np.testing.assert_allclose(history.history["accuracy"], [0.2616666555404663, 0.5849999785423279,
                                                             0.7300000190734863], rtol=1e-6)
    loss, accuracy = model.evaluate(synthetic["x_test"], synthetic["y_test"], verbose=0)
    np.testing.assert_allclose([loss, accuracy], [0.8753691911697388, 0.7900000214576721], rtol=5e-4)
    np.testing.assert_allclose(model.predict(synthetic["x_test"][:3], verbose=0)[0], [
        2.7055604457855225, 3.1349759101867676, 3.069573402404785, 2.0758419036865234, 1.0313705205917358,
        -0.8136342167854309, -1.2310737371444702, -2.798342227935791, -2.9722890853881836, -4.434382438659668],
        rtol=1e-3, atol=1e-3)
    probability_model = tf.keras.Sequential([model, tf.keras.layers.Softmax()])
    np.testing.assert_allclose(probability_model(synthetic["x_test"][:1]).numpy()[0], [
        0.2103901207447052, 0.32323476672172546, 0.3027708828449249, 0.11208359152078629, 0.03943972662091255,
        0.00623244559392333, 0.004105506464838982, 0.0008564672898501158, 0.0007197249215096235,
        0.00016679671534802765], rtol=2e-3, atol=1e-6)


def test_summary_matches_keras_3_layout():
    model = quickstart_model()
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.summary()
    assert out.getvalue().splitlines() == [  # TF 2.21's print, names included
        'Model: "sequential"' if model.name == "sequential" else f'Model: "{model.name}"',
        "┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓",
        "┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃",
        "┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩",
        f"│ {model.layers[0].name + ' (Flatten)':<31} │ (None, 784)            │             0 │",
        "├─────────────────────────────────┼────────────────────────┼───────────────┤",
        f"│ {model.layers[1].name + ' (Dense)':<31} │ (None, 128)            │       100,480 │",
        "├─────────────────────────────────┼────────────────────────┼───────────────┤",
        f"│ {model.layers[2].name + ' (Dropout)':<31} │ (None, 128)            │             0 │",
        "├─────────────────────────────────┼────────────────────────┼───────────────┤",
        f"│ {model.layers[3].name + ' (Dense)':<31} │ (None, 10)             │         1,290 │",
        "└─────────────────────────────────┴────────────────────────┴───────────────┘",
        " Total params: 101,770 (397.54 KB)",
        " Trainable params: 101,770 (397.54 KB)",
        " Non-trainable params: 0 (0.00 B)"]


def test_fit_progress_lines_history_callbacks_and_validation(synthetic):
    model = quickstart_model()
    model.compile(optimizer="adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    seen = []
    callback = tf.keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: seen.append((epoch, sorted(logs))))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        history = model.fit(synthetic["x_train"][:100], synthetic["y_train"][:100], epochs=2, batch_size=25,
                            validation_data=(synthetic["x_test"], synthetic["y_test"]), callbacks=[callback])
    lines = out.getvalue().splitlines()
    assert lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2" and len(lines) == 4
    assert re.fullmatch(r"4/4 ━{20} \d+s \d+(ms|us|s)/step - loss: \d\.\d{4} - val_loss: \d\.\d{4}", lines[1])
    assert list(history.history) == ["loss", "val_loss"] and len(history.history["loss"]) == 2
    assert seen == [(0, ["loss", "val_loss"]), (1, ["loss", "val_loss"])]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.evaluate(synthetic["x_test"], synthetic["y_test"], verbose=2)
    assert re.fullmatch(r"4/4 - \d+s - \d+(ms|us|s)/step - loss: \d\.\d{4}\n", out.getvalue())


def test_fit_runs_one_tape_per_step_and_updates_every_trainable_weight():
    model = tf.keras.Sequential([tf.keras.Input(shape=(3,)), tf.keras.layers.Dense(2)])
    model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")
    before = model.get_weights()
    model.fit(np.ones((8, 3)), np.zeros((8, 2)), batch_size=4, epochs=1, verbose=0)
    after = model.get_weights()
    assert all(not np.array_equal(b, a) for b, a in zip(before, after))


def test_add_loss_and_model_losses_as_keras():
    class ActivityReg(tf.keras.layers.Layer):
        def call(self, inputs):
            self.add_loss(tf.reduce_sum(inputs) * 0.5)
            return inputs

    class Outer(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.reg = ActivityReg()
            self.dense = tf.keras.layers.Dense(1, kernel_initializer="ones")

        def call(self, x):
            return self.dense(self.reg(x))

    outer = Outer()
    outer(tf.ones((2, 2)))
    assert [float(v) for v in outer.losses] == [2.0]   # TF: [2.0]
    outer(tf.ones((1, 2)))
    assert [float(v) for v in outer.losses] == [1.0]   # cleared at each outer call, as in TF
    assert outer.name == "outer" and [layer.name for layer in outer.layers][0] == "activity_reg"
    outer.compile(optimizer="sgd", loss="mse")
    history = outer.fit(np.ones((4, 2)), np.zeros((4, 1)), batch_size=4, verbose=0)
    assert history.history["loss"] == [pytest.approx(4.0 + 4.0)]  # mse (2 - 0)^2 plus the added 0.5 * sum(x)


def test_functional_model_and_keras_input():
    inputs = tf.keras.Input(shape=[3])
    assert repr(inputs).startswith("<KerasTensor shape=(None, 3), dtype=float32, sparse=False, ragged=False, name=")
    hidden = tf.keras.layers.Dense(4, activation="relu")(inputs)
    outputs = tf.keras.layers.Dense(2)(hidden)
    model = tf.keras.Model(inputs=inputs, outputs=outputs)
    assert isinstance(model, tf.keras.Model) and model.name.startswith("functional")
    assert [type(layer).__name__ for layer in model.layers] == ["InputLayer", "Dense", "Dense"]
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    kernel1, bias1, kernel2, bias2 = model.get_weights()
    expected = np.maximum(x @ kernel1 + bias1, 0) @ kernel2 + bias2
    np.testing.assert_allclose(model(x).numpy(), expected, rtol=1e-5, atol=1e-6)
    assert len(model.trainable_weights) == 4
    two = tf.keras.models.Model(inputs, [hidden, outputs])
    first, second = two(x)
    assert first.shape == (2, 4) and second.shape == (2, 2)
    with pytest.raises(ValueError, match="must be KerasTensors"):
        tf.keras.Model(inputs=inputs, outputs=tf.ones((1, 2)))


def test_subclassed_model_tracks_layers_and_only_add_weight_variables():
    class FlexibleDense(tf.keras.layers.Layer):
        def __init__(self, out_features, **kwargs):
            super().__init__(**kwargs)
            self.out_features = out_features

        def build(self, input_shape):
            self.w = tf.Variable(tf.random.normal([input_shape[-1], self.out_features]), name='w')
            self.v = self.add_weight(shape=(self.out_features,), initializer="zeros", name="v")

        def call(self, inputs):
            return tf.matmul(inputs, self.w) + self.v

    class MySequentialModel(tf.keras.Model):
        def __init__(self, name=None, **kwargs):
            super().__init__(**kwargs)
            self.dense_1 = FlexibleDense(out_features=3)
            self.dense_2 = FlexibleDense(out_features=2)

        def call(self, x):
            return self.dense_2(self.dense_1(x))

    model = MySequentialModel(name="the_model")
    assert model.name == "my_sequential_model"      # TF 2.21: the tutorial's name= never reaches Model
    assert model(tf.constant([[2.0, 2.0, 2.0]])).shape == (1, 2)
    # Keras 3 collects add_weight variables only: the tf.Variable 'w' of each layer is not a weight.
    assert [v.name for v in model.variables] == [f"my_sequential_model/{model.dense_1.name}/v:0",
                                                 f"my_sequential_model/{model.dense_2.name}/v:0"]
    assert model.layers == [model.dense_1, model.dense_2]
    model.trainable = False
    assert model.trainable_weights == [] and not model.dense_1.trainable


def test_the_examples_run_and_print(tmp_path):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(str(ROOT / "examples" / "intro_to_modules.py"), run_name="__main__")
    text = out.getvalue()
    assert "Failed: MatMul cannot run on inputs" in text and "Matrix size-incompatible: In[0]: [1,4], In[1]: [3,3]" \
        in text
    assert "│ flexible_dense_3                │ (None, 3)              │             0 │" in text or \
           "(FlexibleDense)" in text
    assert text.count("Model results:") == 4


def test_the_quickstart_example_runs_and_prints_keras_progress():
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.warns(UserWarning, match="Do not pass an `input_shape`"):
        runpy.run_path(str(ROOT / "examples" / "quickstart_beginner.py"), run_name="__main__")
    lines = out.getvalue().splitlines()
    epochs = [i for i, line in enumerate(lines) if re.fullmatch(r"Epoch \d/5", line)]
    assert len(epochs) == 5
    progress = [lines[i + 1] for i in epochs]
    pattern = r"19/19 ━{20} \d+s \d+(ms|us|s)/step - accuracy: (\d\.\d{4}) - loss: (\d\.\d{4})"
    assert all(re.fullmatch(pattern, line) for line in progress), progress
    losses = [float(re.fullmatch(pattern, line).group(3)) for line in progress]
    assert losses == sorted(losses, reverse=True) and losses[-1] < 0.3  # TF 2.21: 1.5728 after epoch 1, evaluate 0.0146
    assert any(re.fullmatch(r"4/4 - \d+s - \d+(ms|us|s)/step - accuracy: \d\.\d{4} - loss: \d\.\d{4}", line)
               for line in lines)


def test_intro_to_modules_numbers_for_tensorflows_weights():
    """The guide's SequentialModule with the weights tf.random.normal gave in TF 2.21 after set_seed(42)."""
    namespace = runpy.run_path(str(ROOT / "examples" / "intro_to_modules.py"), run_name="intro")
    w1 = [[0.32746851444244385, -0.8426257967948914, 0.31943368911743164],
          [-1.407551884651184, -2.3880598545074463, -1.0392478704452515],
          [-0.5573232173919678, 0.5397070050239563, 1.6994322538375854]]
    w2 = [[0.08422458171844482, -0.8609037399291992], [0.37812304496765137, -0.005196273792535067],
          [-0.4945319592952728, 0.6178191900253296]]
    model = namespace["SequentialModule"](name="the_model")
    model.dense_1.w.assign(w1)
    model.dense_2.w.assign(w2)
    np.testing.assert_allclose(model(tf.constant([[2.0, 2.0, 2.0]])).numpy(), [[0.0, 1.2104536294937134]], rtol=1e-6)
    flexible = namespace["FlexibleDense"](out_features=3)
    flexible(tf.constant([[1.0, 1.0, 1.0]]))
    flexible.w.assign(w1)
    np.testing.assert_allclose(flexible(tf.constant([[2.0, 2.0, 2.0], [3.0, 3.0, 3.0]])).numpy(), [
        [-3.274813175201416, -5.381957530975342, 1.9592361450195312],
        [-4.912220001220703, -8.072936058044434, 2.938854217529297]], rtol=1e-6)
    assert [v.name for v in model.variables] == ["b:0", "w:0", "b:0", "w:0"]


def test_summary_after_fit_counts_the_optimizer_state_as_keras_3():
    model = tf.keras.Sequential([tf.keras.Input(shape=(3,)), tf.keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    model.fit(np.ones((4, 3)), np.zeros((4, 2)), verbose=0)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.summary()
    assert out.getvalue().splitlines()[-4:] == [  # TF 2.21's lines for the same model
        " Total params: 26 (108.00 B)",
        " Trainable params: 8 (32.00 B)",
        " Non-trainable params: 0 (0.00 B)",
        " Optimizer params: 18 (76.00 B)"]


def test_validation_split_and_evaluate_return_dict():
    model = tf.keras.Sequential([tf.keras.Input(shape=(3,)), tf.keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    history = model.fit(np.arange(40.).reshape(10, 4)[:, :3], np.zeros((10, 2)), validation_split=0.2, verbose=0)
    assert list(history.history) == ["loss", "val_loss"]
    logs = model.evaluate(np.ones((4, 3)), np.zeros((4, 2)), verbose=0, return_dict=True)
    assert list(logs) == ["loss"] and isinstance(logs["loss"], float)


def test_fit_with_shuffling_is_repeatable_after_set_seed():
    def run():
        tf.random.set_seed(3)
        model = tf.keras.Sequential([tf.keras.Input(shape=(3,)), tf.keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss="mse")
        x = np.arange(30.).reshape(10, 3) / 30
        return model.fit(x, x.sum(axis=1), batch_size=3, epochs=2, verbose=0).history["loss"]
    assert run() == run()


def test_regularizers_add_their_penalty_to_losses_as_keras():
    assert float(tf.keras.regularizers.l2(0.01)(tf.constant([[1., 2.], [3., 4.]]))) == pytest.approx(0.3)
    assert float(tf.keras.regularizers.L1(0.1)(tf.constant([-1., 2.]))) == pytest.approx(0.3)
    assert float(tf.keras.regularizers.L1L2(0.1, 0.2)(tf.constant([-1., 2.]))) == pytest.approx(1.3)
    dense = tf.keras.layers.Dense(2, kernel_initializer="ones", kernel_regularizer=tf.keras.regularizers.l2(0.01))
    dense(tf.ones((1, 3)))
    assert [float(loss) for loss in dense.losses] == [pytest.approx(0.06)]  # TF 2.21: [0.05999999865889549]
    assert tf.keras.regularizers.get("l2").get_config() == {"l2": 0.01}
    with tf.GradientTape() as tape:
        penalty = dense.losses[0]
    np.testing.assert_allclose(tape.gradient(penalty, dense.kernel).numpy(), np.full((3, 2), 0.02), rtol=1e-6)


def test_a_module_does_not_collect_keras_layers_weights_as_in_tensorflow_2_21():
    class Holder(tf.Module):
        def __init__(self):
            super().__init__()
            self.d = tf.keras.layers.Dense(2)
            self.v = tf.Variable(1.0, name="v")
    holder = Holder()
    holder.d(tf.ones((1, 3)))
    assert [v.name for v in holder.variables] == ["v:0"] and holder.submodules == ()


def test_fit_evaluate_predict_take_a_dataset_of_batches_like_arrays():
    x = np.arange(30.).reshape(10, 3) / 30
    y = x.sum(axis=1)

    def trained(data, **fit_args):
        model = tf.keras.Sequential([tf.keras.Input(shape=(3,)), tf.keras.layers.Dense(1, kernel_initializer="zeros")])
        model.compile(optimizer=tf.keras.optimizers.SGD(0.1), loss="mse")
        history = model.fit(*data, epochs=2, verbose=0, **fit_args)
        return model, history.history["loss"]

    dataset = tf.data.Dataset.from_tensor_slices((x, y)).batch(4)
    from_dataset, losses = trained((dataset,))
    from_arrays, array_losses = trained((x, y), batch_size=4, shuffle=False)
    assert losses == array_losses
    assert from_dataset.evaluate(dataset, verbose=0) == from_arrays.evaluate(x, y, batch_size=4, verbose=0)
    np.testing.assert_array_equal(from_dataset.predict(dataset, verbose=0), from_arrays.predict(x, verbose=0))
    with pytest.raises(ValueError, match="`y` should not be passed"):
        from_dataset.fit(dataset, y, verbose=0)


def test_sequential_add_pop_and_the_mistakes_keras_refuses():
    model = tf.keras.Sequential(name="stack")
    model.add(tf.keras.Input(shape=(4,)))
    model.add(tf.keras.layers.Dense(3, name="first"))
    assert model.built and [layer.name for layer in model.layers] == ["first"]
    model.add(tf.keras.layers.Dense(2, name="second"))
    assert model(np.ones((5, 4))).shape == (5, 2)
    with pytest.raises(ValueError, match="should have unique names. Name 'first' is already"):
        model.add(tf.keras.layers.Dense(2, name="first"))
    with pytest.raises(ValueError, match="Only instances of `keras.Layer` can be added"):
        model.add(lambda x: x)
    assert model.pop().name == "second" and [layer.name for layer in model.layers] == ["first"]
    with pytest.raises(RuntimeError, match="You must call `compile\\(\\)` before"):
        model.fit(np.ones((2, 4)), np.ones((2, 3)), verbose=0)


def test_functional_model_with_integer_inputs_and_an_embedding():
    tokens = tf.keras.Input(shape=(3,), dtype="int32")
    embedded = tf.keras.layers.Embedding(10, 4)(tokens)
    pooled = tf.keras.layers.Flatten()(embedded)
    model = tf.keras.Model(tokens, tf.keras.layers.Dense(1)(pooled))
    assert model(np.array([[1, 2, 3]])).shape == (1, 1)
    assert [layer._output_shapes[0] for layer in model.layers] == [(None, 3), (None, 3, 4), (None, 12), (None, 1)]


def test_a_layer_subclass_that_forgets_super_init_is_told_so():
    class Forgetful(tf.keras.layers.Layer):
        def __init__(self):
            self.inner = tf.keras.layers.Dense(2)
    with pytest.raises(RuntimeError, match="forgot to call `super\\(\\).__init__\\(\\)`"):
        Forgetful()


def test_recording_a_fit_gives_one_tape_and_one_gradient_call_per_step(tmp_path):
    with tf.record(str(tmp_path / "fit.tapeviz")) as recorder:
        model = tf.keras.Sequential([tf.keras.Input(shape=(3,)), tf.keras.layers.Dense(2, name="recorded")])
        model.compile(optimizer="sgd", loss="mse")
        model.fit(np.ones((12, 3)), np.zeros((12, 2)), batch_size=4, epochs=2, verbose=0)
    run = recorder.run
    assert len(run.tapes) == 6 and len(run.calls) == 6
    watched_names = {run.tensors[i].name for tape in run.tapes.values() for i in run.watched(tape.id)}
    assert {f"{model.name}/recorded/kernel:0", f"{model.name}/recorded/bias:0"} <= watched_names


def test_the_progress_line_is_redrawn_in_place_on_a_terminal():
    from tapeviz.keras.models.progress import Progbar

    class Terminal(io.StringIO):
        def isatty(self):
            return True
    terminal = Terminal()
    bar = Progbar(3, verbose=1, stream=terminal)
    for step in (1, 2, 3):
        bar.update(step, [("loss", 0.5)], finalize=step == 3)
    frames = terminal.getvalue().split("\r")[1:]
    assert len(frames) == 3 and frames[-1].endswith("- loss: 0.5000\n")
    assert frames[0].startswith("1/3 ") and "\x1b[32m" in frames[0]
    piped = io.StringIO()
    quiet = Progbar(3, verbose=1, stream=piped)
    quiet.update(1, [("loss", 0.5)])
    assert piped.getvalue() == ""  # off a terminal, only the finished line is printed
    quiet.update(3, [("loss", 0.00012)], finalize=True)
    assert piped.getvalue().endswith(" - loss: 1.2000e-04\n")


def _summary_rows(model):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        model.summary()
    return out.getvalue().splitlines()


def test_summary_of_a_subclassed_model_and_of_an_unbuilt_sequential_model():
    class M(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.d = tf.keras.layers.Dense(2)
            self.e = tf.keras.layers.Dense(1)

        def call(self, x):
            return self.e(self.d(x))
    model = M()
    model(tf.ones((1, 3)))
    rows = _summary_rows(model)  # TF 2.21 shows the shapes of the last call
    assert rows[0] == 'Model: "m"'
    assert rows[4] == f"│ {model.d.name + ' (Dense)':<31} │ (1, 2)                 │             8 │"
    assert rows[6] == f"│ {model.e.name + ' (Dense)':<31} │ (1, 1)                 │             3 │"
    assert rows[-3:] == [" Total params: 11 (44.00 B)", " Trainable params: 11 (44.00 B)",
                         " Non-trainable params: 0 (0.00 B)"]
    unbuilt = tf.keras.Sequential([tf.keras.layers.Dense(2)])
    layer = unbuilt.layers[0]
    assert _summary_rows(unbuilt)[4] == f"│ {layer.name + ' (Dense)':<31} │ ?                      │   0 (unbuilt) │"


def test_class_weight_and_sample_weight_weigh_the_loss_but_not_plain_metrics_as_keras():
    model = tf.keras.Sequential([tf.keras.Input(shape=(3,)), tf.keras.layers.Dense(3)])
    model.set_weights([formula((3, 3), 0), formula((3,), 1)])
    model.compile(optimizer=tf.keras.optimizers.SGD(0.1), metrics=["accuracy"],
                  loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    x = formula((8, 3), 2) * 10
    y = np.array([0, 1, 2, 0, 1, 2, 0, 0])
    # TF 2.21's history for the same two fits, one after the other:
    weighted = model.fit(x, y, batch_size=4, shuffle=False, verbose=0, epochs=2,
                         class_weight={0: 1.0, 1: 2.0, 2: 0.5}).history
    np.testing.assert_allclose(weighted["loss"], [1.244505763053894, 1.2248706817626953], rtol=1e-6)
    assert weighted["accuracy"] == [0.25, 0.25]
    by_sample = model.fit(x, y, batch_size=4, shuffle=False, verbose=0, sample_weight=np.arange(8.)).history
    np.testing.assert_allclose(by_sample["loss"], [3.8139748573303223], rtol=1e-6)
    assert by_sample["accuracy"] == [0.375]
    with pytest.raises(ValueError, match="no weight for the classes \\[2\\]"):
        model.fit(x, y, verbose=0, class_weight={0: 1.0, 1: 2.0})


def test_steps_per_epoch_limits_the_batches_of_arrays():
    model = tf.keras.Sequential([tf.keras.Input(shape=(3,)), tf.keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    counted = []
    callback = tf.keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: counted.append(batch))
    model.fit(np.ones((40, 3)), np.ones((40, 1)), batch_size=4, steps_per_epoch=3, epochs=2, verbose=0,
              callbacks=[callback])
    assert counted == [0, 1, 2, 0, 1, 2]


def test_a_functional_model_with_two_named_inputs_takes_a_dict():
    a = tf.keras.Input(shape=(2,), name="a")
    b = tf.keras.Input(shape=(3,), name="b")
    joined = tf.keras.layers.Dense(1, kernel_initializer="ones")(tf.keras.layers.Flatten()(b))
    model = tf.keras.Model([a, b], tf.keras.layers.Dense(1, kernel_initializer="ones")(a) + joined)
    by_name = model({"b": np.ones((1, 3)), "a": np.full((1, 2), 2.0)}).numpy()
    by_order = model([np.full((1, 2), 2.0), np.ones((1, 3))]).numpy()
    np.testing.assert_array_equal(by_name, [[7.0]])
    np.testing.assert_array_equal(by_order, [[7.0]])
    with pytest.raises(ValueError, match="has inputs named \\['a', 'b'\\]"):
        model({"a": np.ones((1, 2)), "c": np.ones((1, 3))})


def test_arithmetic_on_keras_inputs_becomes_layers_the_model_replays():
    inputs = tf.keras.Input(shape=(2,))
    outputs = -(2.0 * (inputs + 1) - inputs[:, :1] ** 2) / 2
    model = tf.keras.Model(inputs, outputs)
    np.testing.assert_allclose(model(np.array([[1., 3.]])).numpy(), [[-1.5, -3.5]])
    names = [layer.name for layer in model.layers]
    assert len(names) == len(set(names)) == 8
    x = tf.Variable([[1., 3.]])
    with tf.GradientTape() as tape:
        y = tf.reduce_sum(model(x))
    # y = -(x0 + 1) - (x1 + 1) + x0 ** 2 (x0 ** 2 / 2 in each of two columns): dy/dx = (2 x0 - 1, -1)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), [[1.0, -1.0]])


def _expert_namespace():
    """The expert quickstart's code with its training loop set to zero epochs: the model, steps and metrics."""
    source = (ROOT / "examples" / "quickstart_expert.py").read_text().replace("EPOCHS = 5", "EPOCHS = 0")
    namespace = {"__name__": "expert"}
    exec(compile(source, "quickstart_expert.py", "exec"), namespace)
    return namespace


def test_quickstart_for_experts_steps_match_tensorflow_for_the_same_weights():
    """Two train_steps on the first two unshuffled batches, then the test set, as TF 2.21 ran them."""
    namespace = _expert_namespace()
    model = namespace["model"]
    model(namespace["x_train"][:1])
    assert [tuple(w.shape) for w in model.get_weights()] == [(3, 3, 1, 32), (32,), (21632, 128), (128,), (128, 10),
                                                             (10,)]
    model.set_weights([formula(w.shape, i) for i, w in enumerate(model.get_weights())])
    batches = tf.data.Dataset.from_tensor_slices((namespace["x_train"], namespace["y_train"])).batch(32).take(2)
    for images, labels in batches:
        namespace["train_step"](images, labels)
    for images, labels in namespace["test_ds"]:
        namespace["test_step"](images, labels)
    results = [float(namespace[name].result()) for name in ("train_loss", "train_accuracy", "test_loss",
                                                            "test_accuracy")]
    np.testing.assert_allclose(results, [2.274765968322754, 0.03125, 2.1992430686950684, 0.09375], rtol=2e-5)
    np.testing.assert_allclose(model(namespace["x_test"][:1]).numpy(), [[
        -0.5534415245056152, 0.0751345232129097, 0.683058500289917, 1.2158949375152588, 1.5584336519241333,
        1.7580558061599731, 1.5990676879882812, 1.335858941078186, 0.8168672323226929, 0.2414563000202179]],
        rtol=2e-4, atol=1e-5)


def test_the_expert_quickstart_runs_and_prints_each_epoch():
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(str(ROOT / "examples" / "quickstart_expert.py"), run_name="__main__")
    lines = [line for line in out.getvalue().splitlines() if line.startswith("Epoch")]
    pattern = r"Epoch (\d), Loss: (\d+\.\d\d), Accuracy: (\d+\.\d\d), Test Loss: (\d+\.\d\d), Test Accuracy: (\d+\.\d\d)"
    matches = [re.fullmatch(pattern, line) for line in lines]
    assert len(lines) == 5 and all(matches), lines
    assert float(matches[-1].group(2)) < float(matches[0].group(2))


def test_variables_are_named_by_the_name_scopes_of_the_layers_that_build_them_as_keras_3():
    class FD(tf.keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.a = tf.Variable(1.0, name="a")

        def build(self, input_shape):
            self.w = tf.Variable(tf.zeros([input_shape[-1], 2]), name="w")

        def call(self, x):
            if not hasattr(self, "c"):
                self.c = tf.Variable(1.0, name="c")
            return tf.matmul(x, self.w)

    class M(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.d = FD(name="fd")

        def call(self, x):
            return self.d(x)
    alone = FD(name="fd")
    alone(tf.ones((1, 3)))
    assert (alone.a.name, alone.w.name, alone.c.name) == ("a:0", "fd/w:0", "fd/c:0")  # TF 2.21's names
    nested = M()
    nested(tf.ones((1, 3)))
    assert nested.name.startswith("m")  # "m" in a fresh process, as TF's
    assert (nested.d.w.name, nested.d.c.name) == (f"{nested.name}/fd/w:0", f"{nested.name}/fd/c:0")  # TF: m/fd/w:0
    dense = tf.keras.layers.Dense(2)
    model = tf.keras.Sequential([dense])
    model(tf.ones((1, 3)))
    # TF 2.21: kernel.name 'kernel', kernel.path 'sequential/dense/kernel'; tapeviz names it by its path
    assert dense.kernel.name == f"{model.name}/{dense.name}/kernel:0"
    assert dense.kernel.path == f"{model.name}/{dense.name}/kernel"  # Keras 3's path, as TF 2.21 prints it
    built_early = tf.keras.layers.Dense(2)
    early = tf.keras.Sequential([tf.keras.Input(shape=(3,)), built_early])
    assert built_early.kernel.name == f"{early.name}/{built_early.name}/kernel:0"
    direct = tf.keras.layers.Conv2D(2, 3)
    direct.build((None, 5, 5, 1))
    assert direct.kernel.name == f"{direct.name}/kernel:0"


def test_saving_says_it_is_not_part_of_tapeviz_and_how_to_keep_weights(tmp_path):
    model = tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(1)])
    for method in ("save", "save_weights", "load_weights", "export"):
        with pytest.raises(NotImplementedError, match=f"Model.{method} is not part of tapeviz.*numpy.savez"):
            getattr(model, method)(str(tmp_path / "model.keras"))
    path = tmp_path / "weights.npz"  # the way the message gives
    np.savez(path, *model.get_weights())
    copy = tf.keras.Sequential([tf.keras.Input(shape=(2,)), tf.keras.layers.Dense(1)])
    copy.set_weights(list(np.load(path).values()))
    np.testing.assert_array_equal(copy(np.ones((1, 2))).numpy(), model(np.ones((1, 2))).numpy())


def test_build_of_a_subclassed_model_creates_no_weights_and_warns_as_keras_3():
    class TwoDense(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.first = tf.keras.layers.Dense(2)
            self.second = tf.keras.layers.Dense(1)

        def call(self, x):
            return self.second(self.first(x))
    model = TwoDense()
    with pytest.warns(UserWarning, match="`build\\(\\)` was called on layer 'two_dense(_\\d+)?', however the layer does not "
                                         "have a `build\\(\\)` method implemented"):
        model.build((None, 3))
    assert model.built and model.weights == []  # TF 2.21: built, and no weights until the first call
    assert model(np.ones((4, 3))).shape == (4, 1) and [tuple(w.shape) for w in model.weights] == [
        (3, 2), (2,), (2, 1), (1,)]


def test_a_functional_subclass_with_its_own_train_step_fits_as_tf_does():
    """Keras's guide "Customizing what happens in fit()": a Model subclass built as CustomModel(inputs,
    outputs), with a train_step(data) that updates ``self.metrics`` (loss, then "compile_metrics")."""
    keras = tf.keras

    class CustomModel(keras.Model):
        def train_step(self, data):
            x, y = data
            with tf.GradientTape() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            gradients = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply_gradients(zip(gradients, self.trainable_variables))
            for metric in self.metrics:
                if metric.name == "loss":
                    metric.update_state(loss)
                else:
                    metric.update_state(y, y_pred)
            return {m.name: m.result() for m in self.metrics}

    inputs = keras.Input(shape=(32,))
    model = CustomModel(inputs, keras.layers.Dense(1)(inputs))
    assert isinstance(model, CustomModel) and len(model.trainable_variables) == 2
    model.set_weights([np.linspace(-0.5, 0.5, 32, dtype="float32").reshape(32, 1), np.zeros(1, "float32")])
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    assert [m.name for m in model.metrics] == ["loss", "compile_metrics"]
    rng = np.random.default_rng(0)
    x, y = rng.random((256, 32)).astype("float32"), rng.random((256, 1)).astype("float32")
    history = model.fit(x, y, epochs=3, verbose=0, shuffle=False)
    # TF 2.21 / Keras 3 printed these for the same program and weights.
    np.testing.assert_allclose(history.history["loss"], [0.49121, 0.39787, 0.34142], atol=2e-5)
    np.testing.assert_allclose(history.history["mae"], [0.57091, 0.51347, 0.47826], atol=2e-5)


def test_compiled_metrics_are_named_as_given_and_listed_as_keras_3_lists_them():
    keras = tf.keras
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", metrics=["mae", "mse"])
    assert model.metrics_names == ["loss", "compile_metrics"]   # TF 2.21, before and after fit
    history = model.fit(np.ones((8, 3)), np.ones((8, 1)), verbose=0)
    assert list(history.history) == ["loss", "mae", "mse"]
    assert sorted(model.metrics[1].result()) == ["mae", "mse"]
    logs = model.train_on_batch(np.ones((8, 3)), np.ones((8, 1)), return_dict=True)
    assert list(logs) == ["loss", "mae", "mse"] and logs["loss"] == pytest.approx(logs["mse"])
    assert keras.utils.unpack_x_y_sample_weight((1, 2)) == (1, 2, None)
    assert keras.utils.pack_x_y_sample_weight(1) == 1 and keras.utils.pack_x_y_sample_weight(1, 2) == (1, 2)
