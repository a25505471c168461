"""The graph as drawn, without Qt: folding of repeated steps, user names, top-to-bottom layout."""
import numpy as np

import tapeviz as tf
from tapeviz.gui.folding import MIN_GROUP
from tapeviz.gui.graph import SUGIYAMA_MAX_NODES, build_graph, fold_graph, hover_text, layout, path_keys
from tapeviz.gui.source_names import assignment_targets, op_names


def only_tape(run):
    return next(iter(run.tapes))


def record_chain(steps):
    with tf.record() as rec:
        x = tf.Variable(0.5, name="x")
        with tf.GradientTape():
            y = x
            for _ in range(steps):
                y = tf.sin(y) * 1.01
    return rec.snapshot()


def record_fan_out(count):
    with tf.record() as rec:
        weights = [tf.Variable(float(i), name=f"w{i}") for i in range(count)]
        with tf.GradientTape():
            total = tf.constant(0.0)
            for w in weights:
                total = total + w * 2.0
    return rec.snapshot()


def record_mlp():
    rng = np.random.default_rng(0)
    with tf.record() as rec:
        inputs = tf.constant(rng.normal(size=(8, 4)))
        w1 = tf.Variable(rng.normal(size=(4, 5)), name="w1")
        w2 = tf.Variable(rng.normal(size=(5, 1)), name="w2")
        with tf.GradientTape():
            hidden = tf.nn.relu(tf.matmul(inputs, w1))
            logits = tf.matmul(hidden, w2)
            loss = tf.reduce_mean(logits ** 2)
    return rec.snapshot()


def test_a_long_loop_is_one_block_with_the_variable_outside():
    run = record_chain(200)
    full = build_graph(run, only_tape(run))
    drawn, owner = fold_graph(full)
    kinds = sorted(n.kind for n in drawn.nodes.values())
    assert kinds == ["fold", "variable"]
    (block,) = [n for n in drawn.nodes.values() if n.kind == "fold"]
    assert block.label.startswith("Sin, Mul x200")
    # every op and constant of the loop is drawn as the block; the path over it still maps
    assert {owner[k] for k, n in full.nodes.items() if n.kind != "variable"} == {block.key}
    assert len(drawn.edges) == 1 and drawn.edges[0].target == block.key


def test_alike_variables_feeding_one_block_are_one_group():
    run = record_fan_out(3 * MIN_GROUP)
    full = build_graph(run, only_tape(run))
    drawn, owner = fold_graph(full)
    groups = [n for n in drawn.nodes.values() if n.kind == "group"]
    assert len(groups) == 1 and f"({3 * MIN_GROUP - 1} variables)" in groups[0].label
    assert len(drawn.nodes) < 10 < len(full.nodes)
    variables = [k for k, n in full.nodes.items() if n.kind == "variable"]
    assert sum(owner[k] == groups[0].key for k in variables) == 3 * MIN_GROUP - 1


def test_a_small_model_is_not_folded_and_an_expanded_block_opens():
    run = record_mlp()
    full = build_graph(run, only_tape(run))
    drawn, _ = fold_graph(full)
    assert set(drawn.nodes) == set(full.nodes)
    chain = record_chain(50)
    full = build_graph(chain, only_tape(chain))
    block = next(n.key for n in fold_graph(full)[0].nodes.values() if n.kind == "fold")
    opened, _ = fold_graph(full, expanded={block})
    assert set(opened.nodes) == set(full.nodes)


def test_a_variable_read_is_drawn_as_part_of_the_variable():
    run = record_mlp()
    tape_id = only_tape(run)
    reads = [op for op in run.ops_of(tape_id) if op.type == "ReadVariableOp"]
    assert len(reads) == 2                     # the tape recorded a read of w1 and one of w2
    full = build_graph(run, tape_id)
    assert "ReadVariableOp" not in {n.label for n in full.nodes.values()}
    key = {n.label: k for k, n in full.nodes.items()}
    (edge,) = [e for e in full.edges if e.source == key["w1:0"]]
    assert full.nodes[edge.target].label == "MatMul"             # the variable feeds its user directly
    assert run.ops[run.tensors[edge.tensor].producer].type == "ReadVariableOp"   # carrying the read
    assert full.nodes[key["w1:0"]].reads == 1 and "read 1 time" in hover_text(full.nodes[key["w1:0"]])
    _, owner = fold_graph(full)
    assert {owner[f"op:{op.id}"] for op in reads} == {key["w1:0"], key["w2:0"]}
    w1 = int(key["w1:0"][2:])
    loss = run.ops[int(next(k for k, n in full.nodes.items() if n.name == "loss")[3:])].outputs[0]
    on_path = path_keys(run, tape_id, w1, loss)
    assert key["w1:0"] in on_path and on_path <= set(full.nodes)   # every key of the path is drawn


def test_a_read_the_tape_did_not_record_is_a_constant_named_after_its_variable():
    with tf.record() as rec:
        x = tf.Variable([1.0, 2.0], name="x")
        hoisted = x.read_value()                # read before the tape: the tape sees a constant
        with tf.GradientTape() as tape:
            tape.watch(hoisted)
            y = tf.reduce_sum(hoisted * 3.0)
        tape.gradient(y, hoisted)
    run = rec.snapshot()
    full = build_graph(run, only_tape(run))
    (leaf,) = [n for n in full.nodes.values() if n.key == f"t:{hoisted._id}"]
    assert leaf.label == "read of x:0" and "watched" in leaf.flags
    assert not any(n.kind == "variable" for n in full.nodes.values())


def test_user_names_label_the_op_that_made_the_assigned_value():
    run = record_mlp()
    full = build_graph(run, only_tape(run))
    named = {n.name: n.label for n in full.nodes.values() if n.name and n.kind == "op"}
    assert named == {"hidden": "Relu", "logits": "MatMul", "loss": "Mean"}


def test_a_constant_read_by_name_in_the_source_is_labelled_with_that_name_over_its_shape(qapp):
    from tapeviz.gui.graph_items import GraphStyle, label_lines
    from PySide6 import QtGui
    run = record_mlp()          # tf.matmul(inputs, w1): the constant made before the tape is `inputs`
    full = build_graph(run, only_tape(run))
    (constant,) = [n for n in full.nodes.values() if n.kind == "constant" and n.detail.endswith("[8, 4]")]
    assert constant.name == "inputs"
    assert label_lines(constant, GraphStyle(QtGui.QPalette()), 200) == ["inputs", "f64[8, 4]"]


def test_a_constant_no_source_line_names_keeps_its_shape_label(qapp):
    from tapeviz.gui.graph_items import GraphStyle, label_lines
    from PySide6 import QtGui
    with tf.record() as rec:
        w = tf.Variable([[1.0], [2.0]], name="w")
        with tf.GradientTape():
            loss = tf.reduce_sum(tf.matmul(tf.ones((3, 2)), w))
    run = rec.snapshot()
    full = build_graph(run, only_tape(run))
    (constant,) = [n for n in full.nodes.values() if n.kind == "constant"]
    assert not constant.name
    assert label_lines(constant, GraphStyle(QtGui.QPalette()), 200) == ["f32[3, 2]"]
    assert loss is not None


def test_constants_named_only_where_every_use_agrees():
    from tapeviz.gui.source_names import input_names
    with tf.record() as rec:
        x = tf.random.normal((4, 3))
        y = tf.random.normal((4, 1))
        w = tf.Variable(tf.ones((3, 1)), name="w")
        with tf.GradientTape():
            error = x @ w - y
            loss = tf.reduce_mean(error ** 2)
    run = rec.snapshot()
    ops = [run.ops[i] for i in run.tapes[only_tape(run)].ops]
    found = input_names(run, ops)
    assert found[x._id] == "x" and found[y._id] == "y"
    assert loss is not None


def test_a_scoped_variable_shows_its_layer_and_weight_and_keeps_its_full_name(qapp):
    from tapeviz.gui.graph_items import GraphStyle, label_lines
    from tapeviz.gui.graph import hover_text
    from PySide6 import QtGui
    with tf.record() as rec:
        kernel = tf.Variable(tf.ones((3, 2)), name="sequential/dense_1/kernel")
        with tf.GradientTape():
            loss = tf.reduce_sum(tf.ones((1, 3)) @ kernel)
    run = rec.snapshot()
    full = build_graph(run, only_tape(run))
    (variable,) = [n for n in full.nodes.values() if n.kind == "variable"]
    assert label_lines(variable, GraphStyle(QtGui.QPalette()), 112) == ["dense_1/kernel"]
    assert variable.label == "sequential/dense_1/kernel:0"       # search and the tooltip see it whole
    assert "sequential/dense_1/kernel:0" in hover_text(variable)
    assert loss is not None


def test_short_names_keep_the_scope_that_tells_names_apart():
    from tapeviz.gui.short_names import short_names
    names = ["model_a/dense/kernel:0", "model_b/dense/kernel:0", "sequential/dense_1/bias:0", "w1:0"]
    assert short_names(names) == {"model_a/dense/kernel:0": "model_a/dense/kernel",
                                  "model_b/dense/kernel:0": "model_b/dense/kernel",
                                  "sequential/dense_1/bias:0": "dense_1/bias", "w1:0": "w1"}


def test_each_repetition_of_a_loop_line_names_its_own_last_op():
    run = record_chain(5)
    ops = run.ops_of(only_tape(run))
    names = op_names(run, ops)
    assert [ops[i].type for i in range(len(ops)) if ops[i].id in names] == ["Mul"] * 5
    assert set(names.values()) == {"y"}


def test_assignment_targets_cover_every_line_of_a_statement():
    found = assignment_targets("a = 1\nb = f(\n    2)\nc += 3\nx, y = 1, 2\n")
    assert found[1] == (1, "a") and found[2] == found[3] == (2, "b") and found[4] == (4, "c")
    assert 5 not in found   # tuple targets name no single value


def test_layout_runs_top_to_bottom_small_and_large():
    for run in (record_mlp(), record_chain(SUGIYAMA_MAX_NODES)):   # igraph, then the barycentre sweeps
        graph = layout(build_graph(run, only_tape(run)))
        for edge in graph.edges:
            assert graph.nodes[edge.target].y > graph.nodes[edge.source].y
        columns = {}
        for node in graph.nodes.values():
            columns.setdefault(node.y, []).append(node.x)
        for xs in columns.values():   # nodes of one layer never overlap
            xs.sort()
            assert all(b - a >= 0.999 * 150.0 for a, b in zip(xs, xs[1:]))


def test_layout_progress_can_stop_a_large_layout():
    run = record_chain(SUGIYAMA_MAX_NODES * 2)
    graph = build_graph(run, only_tape(run))
    seen = []

    def progress(fraction):
        seen.append(fraction)
        raise KeyboardInterrupt   # any exception from the callback ends the work

    try:
        layout(graph, progress=progress)
    except KeyboardInterrupt:
        pass
    assert seen and 0 < seen[0] < 1


def test_a_source_never_read_on_the_tape_is_a_lone_node():
    with tf.record() as rec:
        x = tf.Variable(1.0, name="x")
        unused = tf.Variable(2.0, name="unused")
        with tf.GradientTape() as tape:
            y = x * 3.0
        tape.gradient(y, [x, unused])
    run = rec.snapshot()
    graph = build_graph(run, only_tape(run))
    (lone,) = [n for n in graph.nodes.values() if "unread" in n.flags]
    assert lone.label == "unused:0"
    assert not any(lone.key in (e.source, e.target) for e in graph.edges)


def test_a_value_computed_before_the_tape_is_named_and_shows_its_shape(qapp):
    from tapeviz.gui.graph_items import GraphStyle, label_lines
    from PySide6 import QtGui
    with tf.record() as rec:
        x = tf.ones((4, 3))
        y = tf.reduce_sum(x, axis=1, keepdims=True)     # an op's output, made before the tape
        w = tf.Variable(tf.ones((3, 1)), name="w")
        with tf.GradientTape():
            loss = tf.reduce_mean((x @ w - y) ** 2)
    run = rec.snapshot()
    full = build_graph(run, only_tape(run))
    (leaf,) = [n for n in full.nodes.values() if n.key == f"t:{y._id}"]
    assert label_lines(leaf, GraphStyle(QtGui.QPalette()), 200) == ["y", "f32[4, 1]"]
    assert loss is not None


def test_a_time_loop_carrying_two_states_folds_inside_its_layer():
    """An LSTM's time steps carry h and c, so no single chain runs through them: found in the order the ops
    ran, the 12 steps are one block in the layer's scope, and the data the layer slices stays outside."""
    data = tf.constant(np.random.default_rng(0).standard_normal((4, 12, 3)).astype(np.float32))
    model = tf.keras.Sequential([tf.keras.Input((12, 3)), tf.keras.layers.LSTM(5), tf.keras.layers.Dense(1)])
    with tf.record() as rec:
        with tf.GradientTape():
            loss = tf.reduce_mean(model(data) ** 2)
    run = rec.snapshot()
    full = build_graph(run, only_tape(run))
    drawn, owner = fold_graph(full)
    (block,) = [n for n in drawn.nodes.values() if n.kind == "fold"]
    assert block.label.endswith("x12") and block.scope == "sequential/lstm"
    step_ops = [k for k, n in full.nodes.items() if n.kind == "op" and n.scope == "sequential/lstm"]
    assert len(step_ops) >= 12 * 10 and all(owner[k] == block.key for k in step_ops)
    assert all(owner[k] == k for k, n in full.nodes.items() if n.kind == "variable")   # weights stay outside
    assert len(drawn.nodes) < 20 < len(full.nodes)
    layout(drawn)   # the block makes no cycle: the layered layout needs a DAG
    opened, _ = fold_graph(full, expanded={block.key})
    assert set(opened.nodes) == set(full.nodes)
