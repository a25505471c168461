"""What tapeviz says about realistic buggy training programs (tests/realistic/*.py).

Each program is the kind people post when their gradients are None, NaN or zero: a multi-step loop
with Keras layers or tf.Variable models, optimizers and losses, the mistake marked `# BUG`. Each
test runs one under recording and checks the reason code, the line, the fix and the folding of the
repeats. What TensorFlow 2.21 does with the same program (None or a value, NaN or not) was observed
by running it with `import tensorflow as tf`, and is written here as fact.
"""
import json
import pathlib
import runpy

import numpy as np

import tapeviz as tf
from tapeviz.inspection.report import json_summary, text_summary

from recording_helpers import recorder_must_not_fail  # noqa: F401 - an autouse fixture

PROGRAMS = pathlib.Path(__file__).parent / "realistic"


def run_program(name):
    with tf.record() as rec:
        runpy.run_path(str(PROGRAMS / name), run_name="__main__")
    return rec.snapshot()


def line_of(name, marker="# BUG"):
    """The line of the program that holds ``marker`` (the mistake)."""
    lines = (PROGRAMS / name).read_text().splitlines()
    (found,) = [number for number, text in enumerate(lines, 1) if marker in text]
    return found


def nones(run):
    return [(call, result, explanation) for call, result, _, explanation in run.nones()]


def lines_of(explanation):
    return [item["location"].line for item in explanation.evidence if item.get("location") is not None]


def test_gan_fake_images_made_before_the_generator_tape(capsys):
    """TF 2.21: every generator gradient is None, every discriminator gradient a value. The loss from
    logits compares them (GreaterEqual) beside the paths that carry the gradient: that comparison is
    not why the gradient is None, the generator running before the tapes is."""
    run = run_program("p12_gan_fake_outside_gen_tape.py")
    assert "[True, True, True, True] [False, False, False, False]" in capsys.readouterr().out
    found = nones(run)
    assert len(found) == 3 * 4 and {e.code for _, _, e in found} == {"FORWARD_BEFORE_TAPE"}
    assert line_of("p12_gan_fake_outside_gen_tape.py") in lines_of(found[0][2])
    assert "GreaterEqual" not in found[0][2].sentence


def test_a_model_run_before_the_tape_is_explained_once_per_call(capsys):
    """Keras MLP, Adam, tf.data batches: four variables, one story. TF 2.21: all four are None."""
    run = run_program("p01_keras_forward_before_tape.py")
    assert capsys.readouterr().out.count("grads: [True, True, True, True]") == 8
    codes = {e.code for _, _, e in nones(run)}
    assert codes == {"FORWARD_BEFORE_TAPE"}
    assert line_of("p01_keras_forward_before_tape.py") in lines_of(nones(run)[0][2])
    text = "\n".join(text_summary(run, only_nones=True))
    assert text.count("The forward pass ran before the tape") == 1
    assert text.count("[FORWARD_BEFORE_TAPE] the same as for Variable '") == 3
    assert text.count("same as step 1 (call 1), x7") == 4
    summary = json_summary(run, only_nones=True)
    assert len(summary["nones"]) == 4 and {n["repeats"] for n in summary["nones"]} == {7}
    json.dumps(summary)


def test_normalization_by_a_zero_std_blames_the_division_in_the_forward_pass(capsys):
    """TF 2.21: the loss and both gradients are NaN; with (std + 1e-5) all are finite. The 0 / 0 of the
    forward pass made the NaN, not the gradient of the sqrt inside reduce_std."""
    run = run_program("p16_zero_std_normalization.py")
    assert "nan True True" in capsys.readouterr().out
    found = [e for _, _, e in run.diagnoses()]
    assert [e.code for e in found] == ["NONFINITE_DIVIDE_BY_ZERO"] * 6
    first = found[0]
    assert "forward pass" in first.sentence and "input 1 ranges over [0," in first.sentence
    assert lines_of(first) == [line_of("p16_zero_std_normalization.py")]
    assert "epsilon" in first.fix


def test_a_variable_made_anew_from_the_parameter_in_every_forward_pass(capsys, tmp_path):
    """`w = tf.Variable(weights)` inside the forward function: TF 2.21 gives None at every step. The
    loss uses the copy; the evidence names the line that made it, and a tape file keeps the story."""
    from tapeviz.inspection.tapefile import load, save

    run = run_program("p07_variable_recreated.py")
    assert capsys.readouterr().out.splitlines() == ["0 None", "1 None", "2 None"]
    found = [e for _, _, e in nones(run)]
    assert [e.code for e in found] == ["SOURCE_COPIED"] * 3
    line = line_of("p07_variable_recreated.py")
    assert lines_of(found[0]) == [line, line] and "Variable 'weights:0'" in found[0].sentence
    assert "create variables once" in found[0].fix
    text = "\n".join(text_summary(run, only_nones=True))
    assert text.count("[SOURCE_COPIED]") == 1 and "same as step 1 (call 1), x2" in text
    assert text_summary(load(save(run, tmp_path / "copy.tapeviz")), only_nones=True) == text_summary(run, True)


def test_an_integer_step_counter_among_the_sources(capsys):
    """TF 2.21: None for the int32 counter and for the learning rate used only in the update."""
    run = run_program("p03_int_step_counter.py")
    assert capsys.readouterr().out.splitlines()[-1] == "4 [False, False, False, True, True]"
    by_source = {run.tensors[result.source].name: e for _, result, e in nones(run)}
    counter, rate = by_source["step:0"], by_source["lr:0"]
    assert counter.code == "SOURCE_NOT_FLOATING" and "leave it out of the sources" in counter.fix
    assert lines_of(counter) == [line_of("p03_int_step_counter.py", "step = tf.Variable(0")]  # where it was made
    assert rate.code == "SOURCE_UNUSED"


def test_a_uint8_image_watched_then_cast_inside_the_tape(capsys):
    """Saliency: TF 2.21 warns "The dtype of the watched tensor must be floating" and gives None. The
    user did call watch: the explanation says it did nothing, and the fix names the float tensor."""
    run = run_program("p22_saliency_uint8.py")
    assert capsys.readouterr().out.count("saliency: None") == 3
    found = [e for _, _, e in nones(run)]
    assert [e.code for e in found] == ["SOURCE_NOT_WATCHED"] * 3
    assert "uint8" in found[0].sentence and "did nothing" in found[0].sentence
    assert line_of("p22_saliency_uint8.py") in lines_of(found[0])
    assert "tape.watch(image)" in found[0].fix and "compute it from a watched value" not in found[0].fix


def test_tf_norm_of_equal_embeddings_then_a_variable_made_nan_by_the_update(capsys):
    """Contrastive loss on tf.norm(a - b) with equal pairs. TF 2.21: the gradient is NaN at the first
    step (loss finite), then Adam writes NaN into the weights and the loss is NaN too. The first step
    is the sqrt in tf.norm, with a fix written for tf.norm; later steps blame the update that made the
    weights NaN, not the ReadVariableOp that read them, and fold into one warning."""
    run = run_program("p15_contrastive_norm.py")
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].endswith("[True, True]") and "nan" not in printed[0] and printed[1].startswith("1 nan")
    found = [(call, e) for call, _, e in run.diagnoses()]
    first = found[0][1]
    assert first.code == "NONFINITE_SQRT_AT_ZERO"
    assert lines_of(first)[0] == line_of("p15_contrastive_norm.py", "distance = tf.norm(")
    assert first.fix.startswith("The sqrt inside tf.norm") and "tf.reduce_sum(tf.square(x), axis) + 1e-12" in first.fix
    later = [e for call, e in found[2:]]
    assert {e.code for e in later} == {"NONFINITE_INPUT"}
    assert "ReadVariableOp" not in later[0].sentence.split("because")[0] and "held NaN/Inf" in later[0].sentence
    update_line = line_of("p15_contrastive_norm.py", "optimizer.apply_gradients")
    assert update_line in lines_of(later[0])
    text = "\n".join(text_summary(run, only_nones=True))
    assert text.count("[NONFINITE_INPUT] The gradient") == 1 and "same as step 2 (call 2), x1" in text


def test_exp_overflow_after_a_few_steps_is_named_at_that_step(capsys):
    """Poisson regression with a learning rate too high. TF 2.21 prints the same: finite gradients for
    four steps, then loss inf and gradient [inf inf] at the fifth (index 4)."""
    run = run_program("p17_poisson_exp_overflow.py")
    assert "4 inf [inf inf]" in capsys.readouterr().out
    ((call, _, found),) = run.diagnoses()
    assert found.code == "NONFINITE_EXP_OVERFLOW" and "forward pass" in found.sentence
    from tapeviz.inspection.report import step
    assert step(run, call) == 5
    assert lines_of(found) == [line_of("p17_poisson_exp_overflow.py", "tf.exp(log_rate)")]


def test_tape_explain_right_after_a_none_in_the_loop(capsys):
    """Recorded, tape.explain after the None names the line that ran before the tape. Not recorded, a
    non-persistent tape has let go of its ops: it says so instead of making up a reason (it used to
    say the target "was not computed by any op this tape recorded")."""
    import pytest

    run_program("p25_explain_after_none.py")
    assert capsys.readouterr().out.splitlines() == [f"{step} FORWARD_BEFORE_TAPE" for step in range(3)]
    with pytest.raises(RuntimeError, match="let go of what it recorded.*tapeviz.record"):
        runpy.run_path(str(PROGRAMS / "p25_explain_after_none.py"), run_name="__main__")


def test_dead_relus_in_a_keras_layer_warn_for_the_next_layers_kernel_too(capsys):
    """Dense(8, relu) with a bias of -10. TF 2.21: the gradients of the first layer's kernel and bias and
    of the second layer's kernel are exactly 0; only the last bias has one. The second kernel's gradient
    is its input (the dead ReLU's zeros) times the error: it used to get no warning at all."""
    run = run_program("p18_dead_relu_keras.py")
    assert capsys.readouterr().out.splitlines()[0].startswith("0 [0.0, 0.0, 0.0, 0.")
    first_call = run.calls[0]
    order = ["kernel 1", "bias 1", "kernel 2", "bias 2"]  # model.trainable_variables
    found = {order[call.sources.index(result.source)]: e for call, result, e in run.diagnoses() if call is first_call}
    assert set(found) == {"kernel 1", "bias 1", "kernel 2"}
    assert {e.code for e in found.values()} == {"ZERO_RELU_INACTIVE"}
    second = found["kernel 2"]
    assert "MatMul (in sequential" in second.sentence and "output of Relu" in second.sentence
    assert "Relu (in sequential" in found["kernel 1"].sentence  # the layer, as both share the model's line
    assert lines_of(second) == [line_of("p18_dead_relu_keras.py", "loss = tf.reduce_mean")]


def test_a_loss_turned_into_a_python_float_before_the_gradient_call(capsys):
    """`loss = float(loss)` inside the tape, for a history list. TF 2.21 raises TypeError: "Cannot
    convert the argument `type_value`: 1.63... to a TensorFlow DType." The error here says why and what
    to do instead."""
    import pytest

    with pytest.raises(TypeError, match=r"got float: .*no link to the ops.*history.append\(float\(loss\)\)"):
        run_program("p10_python_float_loss.py")


def test_watching_the_weights_of_a_model_not_built_yet(capsys):
    """watch_accessed_variables=False and tape.watch(model.trainable_variables) before the model's first
    call. TF 2.21: all four gradients are None at the first step (at the second, TF's watch rejects
    Keras 3 variables with a ValueError; tapeviz takes them). The user did call watch: the fix says to
    build the model first, not to call watch."""
    run = run_program("p26_watch_before_build.py")
    assert capsys.readouterr().out.splitlines()[0] == "0 [True, True, True, True]"
    found = [e for _, _, e in nones(run)]
    assert len(found) == 4 and {e.code for e in found} == {"SOURCE_NOT_WATCHED"}
    assert "created inside the tape's context" in found[0].sentence
    assert "Build the model before the tape" in found[0].fix and not found[0].fix.startswith("Call tape.watch")
    assert lines_of(found[0]) == [line_of("p26_watch_before_build.py", "loss = tf.reduce_mean")]


def test_an_all_zero_initialized_mlp(capsys):
    """Every weight starts at 0. TF 2.21 prints the same maxima: the gradients of w1, b1 and w2 are exactly 0
    at every step, b2's is not. The warning says zero initialization, not dead ReLUs or a loss weight."""
    run = run_program("p27_zero_init_mlp.py")
    assert capsys.readouterr().out.splitlines()[0].startswith("0 [0.0, 0.0, 0.0, 0.30671")
    first = [e for call, _, e in run.diagnoses() if call is run.calls[0]]
    assert len(first) == 3 and {e.code for e in first} == {"ZERO_WEIGHTS"}
    assert "Initialize weights randomly" in first[0].fix
    assert lines_of(first[0]) == [line_of("p27_zero_init_mlp.py", "hidden = tf.nn.relu")]
    text = "\n".join(text_summary(run, only_nones=True))
    assert "same as step 1 (call 1), x2" in text


def test_one_where_around_sqrt_is_enough_and_the_advice_says_so(capsys):
    """TF 2.21, probed op by op: the gradient at x = 0 of tf.where(x > 0, f(x), 0.0) is 0 for f = sqrt
    and rsqrt, NaN for log, x ** 0.5 and 1 / x; tf.norm of a zero vector gives NaN. The program (a
    single where around sqrt) trains with finite gradients in TF and here, and nothing is reported."""
    run = run_program("p29_single_where_sqrt.py")
    assert [line.split()[-1] for line in capsys.readouterr().out.splitlines()] == ["False"] * 3
    assert list(run.diagnoses()) == [] and list(run.nones()) == []
    x = tf.Variable([0.0, 4.0])
    for f, nan in [(tf.sqrt, False), (tf.math.rsqrt, False), (tf.math.log, True), (lambda v: v ** 0.5, True),
                   (lambda v: 1.0 / v, True)]:
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(tf.where(x > 0, f(x), 0.0))
        assert bool(np.isnan(tape.gradient(y, x).numpy()[0])) == nan
    with tf.record() as rec:
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(tf.where(x > 0, x ** 0.5, 0.0))
        tape.gradient(y, x)
    ((_, _, found),) = rec.snapshot().diagnoses()
    assert found.code == "NONFINITE_POW_AT_ZERO" and "a single tf.where still sends NaN" in found.fix


def test_a_target_summed_after_the_inner_tape_block(capsys):
    """Nested tapes: `total = tf.reduce_sum(scores)` one indent too far left. TF 2.21: inner.gradient gives
    None, the outer gradient a value. The outer tape recorded the sum but never watched x, so "ask the
    tape that recorded it" would give None too: the fix is to compute the sum inside the inner block.
    The story names tapes by their line, not their id, so the three steps fold into one."""
    run = run_program("p38_inner_tape_target_after_block.py")
    assert capsys.readouterr().out.count("grad_x is None: True") == 3
    found = [e for _, _, e in nones(run)]
    assert [e.code for e in found] == ["TARGET_OUTSIDE_CONTEXT"] * 3
    assert "after this tape's `with` block" in found[0].sentence
    assert "does not join the source to it" in found[0].sentence
    assert "Ask the tape that recorded it" not in found[0].fix
    assert lines_of(found[0]) == [line_of("p38_inner_tape_target_after_block.py")]
    assert "same as step 1 (call 1), x2" in "\n".join(text_summary(run, only_nones=True))


def test_batch_normalization_over_a_batch_of_one(capsys):
    """By hand (tf.nn.moments) and with Keras' BatchNormalization, one example per batch: x - mean(x) is 0,
    so every gradient but the last bias's is exactly 0. TF 2.21 prints the same maxima for the Keras model
    ([0.0, 0.0, 0.0, 0.0, 0.0, 1.089744] at the first step) and all zeros for the hand-written one. The
    warning names the cancelling op, not dead ReLUs, zero weights or a loss weight."""
    run = run_program("p37_batchnorm_batch_of_one.py")
    assert capsys.readouterr().out.splitlines()[0] == "[0.0, 0.0, 0.0, 0.0]"
    first = [e for call, _, e in run.diagnoses() if call is run.calls[0]]
    assert len(first) == 4 and {e.code for e in first} == {"ZERO_CENTERED"}
    assert "Sub at line" in first[0].sentence and "batch of one" in first[0].sentence
    assert "batch size above 1" in first[0].fix

    run = run_program("p39_keras_batchnorm_batch_of_one.py")
    assert capsys.readouterr().out.splitlines()[0] == "0 [0.0, 0.0, 0.0, 0.0, 0.0, 1.089744]"
    first = [e for call, _, e in run.diagnoses() if call is run.calls[0]]
    assert len(first) == 5 and {e.code for e in first} == {"ZERO_CENTERED"}
    assert "(in sequential" in first[0].sentence and "batch_normalization" in first[0].sentence
    assert lines_of(first[0]) == [line_of("p39_keras_batchnorm_batch_of_one.py", "loss = tf.reduce_mean")]


def test_model_predict_inside_the_tape(capsys):
    """TF 2.21: model.predict returns an ndarray and every gradient is None. The conversion line is named
    and the fix says to call the model instead of predict."""
    run = run_program("p28_predict_in_tape.py")
    assert capsys.readouterr().out.splitlines()[0] == "0 ndarray [True, True, True, True]"
    found = [e for _, _, e in nones(run)]
    assert len(found) == 12 and {e.code for e in found} == {"NO_PATH_LEFT_TAPE"}
    assert lines_of(found[0]) == [line_of("p28_predict_in_tape.py")]
    assert "model.predict (line" in found[0].sentence and found[0].fix.startswith("Call the model itself")


def test_blocked_paths_get_the_fix_for_the_op_that_blocks_them(capsys):
    """argmax in an accuracy loss, stop_gradient around the trained Q-network, round in the loss, an int
    cast for quantization. TF 2.21: every gradient through them is None (the quantized kernel's; the bias
    after it has one). Each fix speaks of the op in question."""
    expected = {"p06_argmax_accuracy_loss.py": ("NOT_DIFFERENTIABLE", "keep argmax and accuracy for the metrics"),
                "p09_dqn_stop_gradient.py": ("NOT_DIFFERENTIABLE", "a target network's output"),
                "p11_round_threshold.py": ("NOT_DIFFERENTIABLE", "straight-through estimator"),
                "p04_quantize_cast.py": ("PATH_NOT_FLOATING", "straight-through estimator")}
    for name, (code, words) in expected.items():
        run = run_program(name)
        capsys.readouterr()
        found = [e for _, _, e in nones(run)]
        assert found and {e.code for e in found} == {code}, name
        assert words in found[0].fix, name
        marker = {"p06_argmax_accuracy_loss.py": "tf.argmax(", "p04_quantize_cast.py": "# BUG"}.get(name, "# BUG")
        assert line_of(name, marker) in lines_of(found[0]), name


def test_the_watch_fix_is_written_with_the_users_names(capsys):
    """WGAN-GP with the interpolated samples not watched by the inner tape. TF 2.21: the inner gradient is
    None at each step (and the critic's gradients are values). The fix names gp_tape and interpolated."""
    run = run_program("p13_gradient_penalty_unwatched.py")
    assert capsys.readouterr().out.count("gradient of the critic w.r.t. the samples: None") == 2
    found = [e for _, _, e in nones(run)]
    assert [e.code for e in found] == ["SOURCE_NOT_WATCHED"] * 2
    assert found[0].fix.startswith("Call gp_tape.watch(interpolated) inside the tape's context")
    assert lines_of(found[0]) == [line_of("p13_gradient_penalty_unwatched.py", "interpolated = alpha")]


def test_a_custom_gradient_that_returns_none_for_an_input(capsys):
    """TF 2.21: `limit`'s gradient is None at every step (w's is a value). The path from limit to the loss
    has a rule for every op, so the None used to go unexplained ("0 None results explained")."""
    run = run_program("p42_custom_gradient_none.py")
    assert capsys.readouterr().out.splitlines() == ["0 False None", "1 False None", "2 False None"]
    found = [e for _, _, e in nones(run)]
    assert [e.code for e in found] == ["RULE_RETURNED_NONE"] * 3
    assert "`soft_clip`" in found[0].sentence and "input 1" in found[0].sentence
    assert lines_of(found[0]) == [line_of("p42_custom_gradient_none.py", "loss = tf.reduce_mean")]
    assert "3 None results explained" in text_summary(run)[0]
    with tf.record():  # tape.explain agrees with the summary
        w, limit = tf.Variable([[1.0], [2.0]]), tf.Variable(1.0)
        soft_clip = runpy.run_path(str(PROGRAMS / "p42_custom_gradient_none.py"))["soft_clip"]
        capsys.readouterr()
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(soft_clip(tf.constant([[1.0, 1.0]]) @ w, limit))
        assert tape.gradient(loss, [w, limit])[1] is None
        assert tape.explain(loss, limit).code == "RULE_RETURNED_NONE"
        assert tape.explain(loss, w) is None


def test_programs_whose_gradients_are_fine_get_no_story(capsys):
    """Mistakes that are not: TF 2.21 gives a value for every gradient of these, and so does tapeviz, and
    nothing is reported. A layer frozen after building, or made with trainable=False, still has variables
    the tape watches in Keras 3 (its gradient is a value); an input watched after the model used it is still joined to the loss by ops the
    tape recorded for the weights; a persistent tape re-entered each step with the gradient taken inside
    its block works (with TF's warning)."""
    for name, printed in [("p02_frozen_layer.py", "[False, False, False, False]"),
                          ("p68_frozen_before_build.py", "[False, False, False, False]"),
                          ("p43_watch_after_use.py", "attribution: tapeviz.Tensor("),
                          ("p23_persistent_tape_reused.py", "[False, False, False, False]")]:
        run = run_program(name)
        assert printed in capsys.readouterr().out, name
        assert list(run.nones()) == [] and list(run.diagnoses()) == [], name


def test_a_recurrent_state_kept_in_a_variable(capsys):
    """The hidden state is assigned to a tf.Variable each time step. TF 2.21: [None, None] at each epoch."""
    run = run_program("p47_state_in_a_variable.py")
    assert capsys.readouterr().out.splitlines() == ["0 [None, None]", "1 [None, None]"]
    found = [e for _, _, e in nones(run)]
    assert {e.code for e in found} == {"STATEFUL_UPDATE"} and len(found) == 4
    assert lines_of(found[0]) == [line_of("p47_state_in_a_variable.py")]
    assert "Keep the value in a tensor" in found[0].fix and "Variable 'state:0'" in found[0].fix


def test_a_layer_used_only_outside_training(capsys):
    """TF 2.21: the projection's kernel and bias are None at every step, the rest values."""
    run = run_program("p45_branch_on_training_flag.py")
    assert capsys.readouterr().out.splitlines()[0] == "0 [False, False, False, False, True, True]"
    found = [e for _, _, e in nones(run)]
    assert len(found) == 6 and {e.code for e in found} == {"SOURCE_UNUSED"}
    assert "Python branch" not in str(found[0].evidence)


def test_the_other_realistic_mistakes_keep_their_reason_and_line(capsys):
    """Programs tapeviz already explained right, kept so. What TF 2.21 prints first for each: p19 the
    hidden weights' largest gradient 0.0 (the output weights' not); p20 both gradients [0.0, 0.0]; p14
    loss nan and NaN gradients; p05 four Nones; p08 values at step 0, Nones after; p21 [False, True]; p36
    loss nan, its embeddings' gradient an IndexedSlices (a dense tensor here); p53 [False, True]."""
    cases = [("p19_saturated_sigmoid_pixels.py", "ZERO_SATURATED", "hidden = tf.sigmoid", 3),
             ("p20_clip_targets_scale.py", "ZERO_CLIPPED", "# BUG", 6),
             ("p14_log_softmax_nan.py", "NONFINITE_LOG_OF_ZERO", "tf.math.log(probs)", 6),
             ("p05_numpy_clip.py", "NO_PATH_LEFT_TAPE", "# BUG", 12),
             ("p08_list_rebinding.py", "SOURCE_BECAME_TENSOR", "# BUG", 9),
             ("p21_custom_layer_unused_bias.py", "SOURCE_UNUSED", "loss = tf.reduce_mean", 3),
             ("p36_embedding_classifier.py", "NONFINITE_DIVIDE_BY_ZERO", "# BUG", 6),
             ("p53_add_weight_not_trainable.py", "SOURCE_NOT_TRAINABLE", "# BUG", 3)]
    for name, code, marker, count in cases:
        run = run_program(name)
        capsys.readouterr()
        found = [e for _, _, e in nones(run)] + [e for _, _, e in run.diagnoses()]
        assert len(found) == count and {e.code for e in found} == {code}, (name, [e.code for e in found])
        assert line_of(name, marker) in lines_of(found[0]), name
        text = "\n".join(text_summary(run, only_nones=True))
        assert text.count(f"[{code}] ") - text.count(f"[{code}] the same as for") == 1, name  # told once
    run = run_program("p08_list_rebinding.py")
    capsys.readouterr()
    assert f"line {line_of('p08_list_rebinding.py')} in step 1" in next(iter(run.nones()))[3].sentence


def test_reinforce_written_with_the_sampled_actions(capsys):
    """TF 2.21: every policy gradient is None. tf.random.categorical is an op (Multinomial, as in TF) so the
    samples stay linked to the logits: the None is the sampling, not an unused model."""
    run = run_program("p49_reinforce_sampled_actions.py")
    assert capsys.readouterr().out.splitlines()[0] == "0 [True, True, True, True]"
    found = [e for _, _, e in nones(run)]
    assert len(found) == 12 and {e.code for e in found} == {"NOT_DIFFERENTIABLE"}
    assert "Multinomial" in found[0].sentence and "sparse_softmax_cross_entropy_with_logits" in found[0].fix
    assert line_of("p49_reinforce_sampled_actions.py", "tf.random.categorical") in lines_of(found[0])


def test_one_hot_of_argmax_in_the_loss(capsys):
    """TF 2.21: every gradient is None. one_hot is an op (OneHot, as in TF), so the argmax before it is
    named; it used to cut the link and the loss was said not to use the model."""
    run = run_program("p50_one_hot_of_argmax.py")
    assert capsys.readouterr().out.splitlines()[0] == "0 [True, True, True, True]"
    found = [e for _, _, e in nones(run)]
    assert len(found) == 12 and {e.code for e in found} == {"NOT_DIFFERENTIABLE"}
    assert "ArgMax" in found[0].sentence and "keep argmax and accuracy for the metrics" in found[0].fix
    assert lines_of(found[0])[0] == line_of("p50_one_hot_of_argmax.py")


def test_a_missing_value_in_the_data(capsys):
    """One NaN in a CSV-like table. TF 2.21: loss nan and every gradient NaN from the first batch. The first
    step names the batch that holds it (not just 'a non-finite value went in'); the next step, the weights
    the update made NaN."""
    run = run_program("p54_nan_in_the_data.py")
    assert capsys.readouterr().out.splitlines()[0] == "0 nan [True, True, True, True]"
    found = [(call, e) for call, _, e in run.diagnoses()]
    first = found[0][1]
    assert first.code == "NONFINITE_INPUT" and "holds 1 NaN/Inf value" in first.sentence
    assert "float32 constant of shape (10, 3)" in first.sentence and "Clean the data" in first.fix
    assert first.evidence[0]["tensor"] is not None
    later = [e for call, e in found if call is run.calls[1]]
    assert later and "already held NaN/Inf" in later[0].sentence


def test_log_of_a_saturated_sigmoid_or_softmax_points_to_the_loss_from_logits(capsys):
    """Cross-entropies by hand: log(sigmoid) and log(softmax) reach log(0). TF 2.21: loss nan and the
    gradients NaN in both. The fix names the from-logits loss for the activation in question."""
    run = run_program("p51_bce_by_hand_saturated.py")
    assert capsys.readouterr().out.splitlines()[0] == "0 nan True False"
    (first, *_) = [e for _, _, e in run.diagnoses()]
    assert first.code == "NONFINITE_LOG_OF_ZERO" and "sigmoid_cross_entropy_with_logits" in first.fix
    assert "log_softmax" not in first.fix and lines_of(first) == [line_of("p51_bce_by_hand_saturated.py")]
    run = run_program("p14_log_softmax_nan.py")
    capsys.readouterr()
    (first, *_) = [e for _, _, e in run.diagnoses()]
    assert first.code == "NONFINITE_LOG_OF_ZERO" and "softmax_cross_entropy_with_logits" in first.fix


def test_a_custom_train_step_that_predicts_before_the_tape(capsys):
    """model.fit with a train_step that calls self(x) before the tape. TF 2.21: all four gradients None
    (then its apply_gradients of an empty list raises ValueError; tapeviz's accepts it). The ops ran in
    call(), so their line is inside the model; the line in train_step that uses y_pred in the tape is
    named too."""
    run = run_program("p56_custom_train_step.py")
    assert capsys.readouterr().out.splitlines()[0] == "None gradients: 4"
    found = [e for _, _, e in nones(run)]
    assert len(found) == 8 and {e.code for e in found} == {"FORWARD_BEFORE_TAPE"}
    use = line_of("p56_custom_train_step.py", "loss = tf.reduce_mean(tf.square(y_pred - y))")
    assert f"line {use} uses that value inside the tape" in found[0].sentence and use in lines_of(found[0])
    assert line_of("p56_custom_train_step.py", "return self.out(") in lines_of(found[0])


def test_a_copy_of_the_model_made_through_set_weights(capsys):
    """A second model is built each step and given the first one's weights with set_weights (numpy).
    TF 2.21: the original's four gradients are None at every step. The original is not used; the fix
    mentions that another model or a copy may have run instead."""
    run = run_program("p64_clone_each_step.py")
    assert capsys.readouterr().out.splitlines()[0] == "0 [True, True, True, True]"
    found = [e for _, _, e in nones(run)]
    assert len(found) == 12 and {e.code for e in found} == {"SOURCE_UNUSED"}
    assert "another model or a copy run instead" in found[0].fix


def test_a_tape_that_was_never_entered(capsys):
    """The loss is computed under a helper's own tape; the loop asks a tape it made but never entered.
    TF 2.21 raises RuntimeError ("A non-persistent GradientTape can only be used to compute one set of
    gradients"); tapeviz gives None, and says the tape was never entered rather than "ask the tape that
    recorded it" (the helper's tape is gone once it returns)."""
    run = run_program("p66_tape_never_entered.py")
    assert capsys.readouterr().out.splitlines() == ["0 None", "1 None"]
    found = [e for _, _, e in nones(run)]
    assert [e.code for e in found] == ["TAPE_NEVER_ENTERED"] * 2
    assert lines_of(found[0]) == [line_of("p66_tape_never_entered.py")]
    assert "same as step 1 (call 1), x1" in "\n".join(text_summary(run, only_nones=True))


def test_relus_that_die_after_one_big_step_fold_though_their_values_drift(capsys):
    """SGD with a learning rate of 5 and momentum 0.9 (which keeps moving the dead layer). TF 2.21 prints
    the same maxima: [45.5304, 38.2214, 133.9809, 38.2214] at step 0, then [0.0, 0.0, 0.0, ...] at steps
    1-3. The warning starts at the second step and is
    folded over the next ones although the ReLU's input (in its sentence) changes every step."""
    run = run_program("p67_relus_die_after_a_big_step.py")
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].endswith("[45.5304, 38.2214, 133.9809, 38.2214]") and "[0.0, 0.0, 0.0," in printed[1]
    from tapeviz.inspection.report import step
    found = [(call, e) for call, _, e in run.diagnoses()]
    assert {step(run, call) for call, _ in found} == {2, 3, 4}
    assert {e.code for _, e in found} == {"ZERO_RELU_INACTIVE"}
    assert len({e.sentence for _, e in found}) > 3  # the values drift...
    text = "\n".join(text_summary(run, only_nones=True))
    assert text.count("[ZERO_RELU_INACTIVE] The gradient") == 2 and text.count("same as step 2 (call 2), x2") == 3
    assert {d["repeats"] for d in json_summary(run, only_nones=True)["diagnoses"]} == {2}


# Ops that used to make their result as a new constant, which cut the path from the model to the loss:
# each of these programs was told "the loss never uses this variable" (SOURCE_UNUSED).
def test_a_ranking_loss_on_the_argsort_order(capsys):
    """TF 2.21: every gradient is None (argsort is TopKV2's int32 indices). argsort is TopKV2 over the
    axis, as in TF, so the int32 indices are named with the sorted-values fix."""
    run = run_program("p80_argsort_ranking_loss.py")
    assert capsys.readouterr().out.splitlines()[0] == "0 [True, True, True, True]"
    found = [e for _, _, e in nones(run)]
    assert len(found) == 12 and {e.code for e in found} == {"PATH_NOT_FLOATING"}
    assert "turns int32 at TopKV2" in found[0].sentence and "tapeviz.sort" in found[0].fix
    assert lines_of(found[0]) == [line_of("p80_argsort_ranking_loss.py")]


def test_labels_gathered_at_the_indices_of_predicted_positives(capsys):
    """TF 2.21: every gradient is None. tf.where(condition) is the op Where, as in TF."""
    run = run_program("p81_where_indices_precision.py")
    assert capsys.readouterr().out.splitlines()[0] == "0 [True, True, True, True]"
    found = [e for _, _, e in nones(run)]
    assert len(found) == 12 and {e.code for e in found} == {"NOT_DIFFERENTIABLE"}
    assert found[0].sentence.endswith("passes no gradient: Greater, Where.")
    assert "boolean_mask(predictions, mask)" in found[0].fix
    assert line_of("p81_where_indices_precision.py") in lines_of(found[0])


def test_the_targets_masked_by_a_mask_of_the_predictions(capsys):
    """TF 2.21: every gradient is None. boolean_mask selects with Where, as TF composes it."""
    run = run_program("p82_boolean_mask_wrong_tensor.py")
    assert capsys.readouterr().out.splitlines()[0] == "0 [True, True, True, True]"
    found = [e for _, _, e in nones(run)]
    assert len(found) == 12 and {e.code for e in found} == {"NOT_DIFFERENTIABLE"}
    assert "Where" in found[0].sentence and "not targets or indices chosen by a comparison" in found[0].fix
    assert line_of("p82_boolean_mask_wrong_tensor.py") in lines_of(found[0])


def test_training_on_top_k_accuracy(capsys):
    """TF 2.21: every gradient is None. in_top_k is the op InTopKV2, not differentiable as in TF."""
    run = run_program("p83_top_k_accuracy_loss.py")
    assert capsys.readouterr().out.splitlines()[0] == "0 [True, True, True, True]"
    found = [e for _, _, e in nones(run)]
    assert len(found) == 12 and {e.code for e in found} == {"NOT_DIFFERENTIABLE"}
    assert found[0].sentence.endswith("passes no gradient: InTopKV2.") and "cross-entropy" in found[0].fix
    assert lines_of(found[0]) == [line_of("p83_top_k_accuracy_loss.py")]


def test_a_batch_shuffled_inside_the_tape(capsys):
    """TF 2.21: every gradient is None (RandomShuffle has no gradient). tapeviz's shuffle is that op."""
    run = run_program("p84_shuffle_inside_the_tape.py")
    assert capsys.readouterr().out.splitlines()[0] == "0 [True, True, True, True]"
    found = [e for _, _, e in nones(run)]
    assert len(found) == 12 and {e.code for e in found} == {"NOT_DIFFERENTIABLE"}
    assert found[0].sentence.endswith("passes no gradient: RandomShuffle.") and "tapeviz.gather" in found[0].fix
    assert lines_of(found[0]) == [line_of("p84_shuffle_inside_the_tape.py")]


def test_a_mask_of_rounded_predicted_lengths(capsys):
    """TF 2.21: every gradient is None. sequence_mask is TF's composition (ExpandDims, Cast, Less, Cast),
    so the rounding before it is named with the straight-through fix."""
    run = run_program("p85_sequence_mask_of_predicted_lengths.py")
    assert capsys.readouterr().out.splitlines()[0] == "0 [True, True, True, True]"
    found = [e for _, _, e in nones(run)]
    assert len(found) == 12 and {e.code for e in found} == {"NOT_DIFFERENTIABLE"}
    assert "Round" in found[0].sentence and "straight-through estimator" in found[0].fix
    assert line_of("p85_sequence_mask_of_predicted_lengths.py") in lines_of(found[0])


def test_an_error_count_and_an_integer_accuracy_as_the_loss(capsys):
    """TF 2.21: every gradient is None in both. count_nonzero is TF's NotEqual, Cast, Sum; an integer
    count divided is cast first (Cast, RealDiv), as in TF: both keep the argmax on the path."""
    for name in ("p86_error_count_loss.py", "p87_integer_accuracy_divided.py"):
        run = run_program(name)
        assert capsys.readouterr().out.splitlines()[0] == "0 [True, True, True, True]", name
        found = [e for _, _, e in nones(run)]
        assert len(found) == 12 and {e.code for e in found} == {"NOT_DIFFERENTIABLE"}, name
        assert "ArgMax" in found[0].sentence and "keep argmax and accuracy for the metrics" in found[0].fix
        assert line_of(name) in lines_of(found[0]), name


def test_losses_of_a_confusion_matrix_and_a_histogram_of_argmax(capsys):
    """TF 2.21: every gradient is None in both. confusion_matrix is TF's ScatterNd of the weights at the
    stacked pairs, and bincount without weights the op DenseBincount, so the argmax is named."""
    for name in ("p88_balanced_error_from_confusion_matrix.py", "p89_class_balance_from_bincount.py"):
        run = run_program(name)
        assert capsys.readouterr().out.splitlines()[0] == "0 [True, True, True, True]", name
        found = [e for _, _, e in nones(run)]
        assert len(found) == 12 and {e.code for e in found} == {"NOT_DIFFERENTIABLE"}, name
        assert found[0].sentence.endswith("passes no gradient: ArgMax."), name
        assert lines_of(found[0]) == [line_of(name)], name


def test_rewards_gathered_at_the_greedy_actions(capsys):
    """TF 2.21: every gradient is None. gather with batch_dims offsets the indices with ops (Reshape,
    AddV2), so the argmax before it stays on the path and is named."""
    run = run_program("p90_greedy_bandit_policy.py")
    assert capsys.readouterr().out.splitlines()[0] == "0 [True, True, True, True]"
    found = [e for _, _, e in nones(run)]
    assert len(found) == 12 and {e.code for e in found} == {"NOT_DIFFERENTIABLE"}
    assert found[0].sentence.endswith("passes no gradient: ArgMax.")
    assert lines_of(found[0]) == [line_of("p90_greedy_bandit_policy.py")]


def test_the_router_of_a_hard_routed_mixture(capsys):
    """TF 2.21: the router's two gradients are None, the experts' are values. dynamic_partition selects
    each partition's rows with ops (Equal, Where), so the router's comparison is named."""
    run = run_program("p91_hard_routing_mixture.py")
    assert capsys.readouterr().out.splitlines()[0] == "0 [True, True, False, False, False, False]"
    found = [e for _, _, e in nones(run)]
    assert len(found) == 6 and {e.code for e in found} == {"NOT_DIFFERENTIABLE"}
    assert "Greater" in found[0].sentence and "Where" in found[0].sentence and "soft mask" in found[0].fix
    assert line_of("p91_hard_routing_mixture.py") in lines_of(found[0])


def test_a_generator_loss_written_on_the_real_images_output(capsys):
    """TF 2.21: the generator's gradients are None, the discriminator's values. The generator reaches the
    loss only through ones_like(fake_out), which keeps the shape alone (OnesLike, as in TF): named, with
    the line, where it used to be "the loss does not use the generator"."""
    run = run_program("p92_generator_loss_on_real_output.py")
    assert capsys.readouterr().out.splitlines()[0] == "0 [True, True, True, True] [False, False, False, False]"
    found = [e for _, _, e in nones(run)]
    assert len(found) == 12 and {e.code for e in found} == {"NOT_DIFFERENTIABLE"}
    assert found[0].sentence.endswith("passes no gradient: OnesLike.") and "fake_output), fake_output" in found[0].fix
    assert lines_of(found[0]) == [line_of("p92_generator_loss_on_real_output.py")]


def test_a_keras_accuracy_function_as_the_loss(capsys):
    """TF 2.21 (Keras 3): every gradient is None. keras.metrics.binary_accuracy is ops (Greater, Cast,
    Equal, Cast), as Keras composes it, so the comparisons are named where the loss used to be said not to
    use the model."""
    run = run_program("p93_keras_accuracy_function_as_loss.py")
    assert capsys.readouterr().out.splitlines()[0] == "0 [True, True, True, True]"
    found = [e for _, _, e in nones(run)]
    assert len(found) == 12 and {e.code for e in found} == {"NOT_DIFFERENTIABLE"}
    assert found[0].sentence.endswith("passes no gradient: Equal, Greater.")
    assert set(lines_of(found[0])) == {line_of("p93_keras_accuracy_function_as_loss.py")}


def test_a_keras_metric_objects_result_as_the_loss(capsys):
    """TF 2.21 (Keras 3): every gradient is None (update_state assign_adds into the metric's variables,
    result() reads them). The value left the tape at update_state and came back at result(): a stateful
    update, with both lines named, not 'the loss does not use the model'."""
    name = "p94_keras_metric_object_as_loss.py"
    run = run_program(name)
    assert capsys.readouterr().out.splitlines()[0] == "0 [True, True, True, True]"
    found = [e for _, _, e in nones(run)]
    assert len(found) == 12 and {e.code for e in found} == {"STATEFUL_UPDATE"}
    assert "update_state" in found[0].sentence and "result()" in found[0].sentence
    assert set(lines_of(found[0])) == {line_of(name), line_of(name, "# UPDATE")}
    assert "loss function" in found[0].fix
