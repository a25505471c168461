"""examples/basic_training_loops.py and custom_training_walkthrough.py print TensorFlow's numbers.

The guide draws its noise with tf.random.normal; for the comparison both TensorFlow 2.21 and tapeviz
ran the example with that call returning the same fixed noise, and TensorFlow's printed numbers are
written here as facts.
"""
import pathlib
import re
import runpy

import numpy as np
import pytest

import tapeviz as tf

EXAMPLE = pathlib.Path(__file__).resolve().parents[1] / "examples" / "basic_training_loops.py"
NOISE = np.random.default_rng(0).standard_normal(201).astype(np.float32)

# TensorFlow 2.21: "W = .., b = .., loss=.." after each epoch of the hand-written loop (run twice: the
# Module, then the Keras model), the starting and final "Current loss", and fit's per-epoch loss.
TF_CURRENT_LOSSES = [10.646257, 0.974989]
TF_EPOCHS = [(4.45, 0.40, 6.54106), (4.04, 0.72, 4.19476), (3.75, 0.98, 2.84315), (3.53, 1.19, 2.05823),
             (3.37, 1.35, 1.59864), (3.26, 1.48, 1.32733), (3.17, 1.59, 1.16588), (3.11, 1.67, 1.06906),
             (3.07, 1.74, 1.01057), (3.04, 1.80, 0.97499)]
TF_FIT_LOSS = 10.6463


@pytest.fixture
def output(monkeypatch, capsys):
    monkeypatch.setattr(tf.random, "normal", lambda shape, *args, **kwargs: tf.constant(NOISE.reshape(shape)))
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    return capsys.readouterr().out


def test_the_hand_written_loop_prints_tensorflows_weights_and_losses(output):
    reports = [tuple(float(v) for v in match) for match in
               re.findall(r"W = ([\d.-]+), b = ([\d.-]+), loss=([\d.]+)", output)]
    assert len(reports) == 1 + 2 * len(TF_EPOCHS)  # "Starting", then both training loops
    for got, want in zip(reports[1:11] + reports[11:], TF_EPOCHS + TF_EPOCHS):
        assert got[:2] == want[:2]
        assert got[2] == pytest.approx(want[2], abs=2e-5)
    current = [float(v) for v in re.findall(r"Current loss: ([\d.]+)", output)]
    np.testing.assert_allclose(current, TF_CURRENT_LOSSES, atol=2e-6)


def test_the_keras_fit_reports_tensorflows_loss_for_each_epoch(output):
    assert output.count("Epoch 10/10") == 1
    losses = [float(v) for v in re.findall(r"- loss: ([\d.]+)", output)]
    assert len(losses) == 10 and all(loss == TF_FIT_LOSS for loss in losses)


# examples/custom_training_walkthrough.py (TensorFlow's "Custom training: walkthrough"), with the
# Sequential model's initial weights set by a formula in both TensorFlow 2.21 and tapeviz.
WALKTHROUGH = EXAMPLE.parent / "custom_training_walkthrough.py"
TF_WALKTHROUGH_LOSSES = {"Loss test": 1.1061921119689941, "Initial Loss": 1.1061921119689941,
                         "Step 1 Loss": 1.1061320304870605}
TF_WALKTHROUGH_LINES = [
    "Epoch 000: Loss: 1.103, Accuracy: 33.333%",
    "Epoch 050: Loss: 1.099, Accuracy: 33.333%",
    "Epoch 100: Loss: 1.096, Accuracy: 33.333%",
    "Epoch 150: Loss: 1.091, Accuracy: 58.333%",
    "Epoch 200: Loss: 1.083, Accuracy: 66.667%",
    "Test set accuracy: 66.667%",
    "Example 0 prediction: Adélie (34.2%)",
    "Example 1 prediction: Gentoo (33.8%)",
    "Example 2 prediction: Adélie (33.7%)",
]


def _formula(shape, k):
    n = int(np.prod(shape))
    return (np.sin(np.arange(n) * 0.37 + k) * 0.5).astype(np.float32).reshape(shape)


def test_the_custom_training_walkthrough_prints_tensorflows_numbers(monkeypatch, capsys):
    original = tf.keras.Sequential

    def sequential_with_fixed_weights(*args, **kwargs):
        model = original(*args, **kwargs)
        model.set_weights([_formula(w.shape, i) for i, w in enumerate(model.get_weights())])
        return model

    monkeypatch.setattr(tf.keras, "Sequential", sequential_with_fixed_weights)
    runpy.run_path(str(WALKTHROUGH), run_name="__main__")
    output = capsys.readouterr().out
    assert float(re.search(r"Loss test: ([\d.]+)", output).group(1)) == pytest.approx(
        TF_WALKTHROUGH_LOSSES["Loss test"], abs=1e-6)
    assert float(re.search(r"Initial Loss: ([\d.]+)", output).group(1)) == pytest.approx(
        TF_WALKTHROUGH_LOSSES["Initial Loss"], abs=1e-6)
    assert float(re.search(r"Step: 1, +Loss: ([\d.]+)", output).group(1)) == pytest.approx(
        TF_WALKTHROUGH_LOSSES["Step 1 Loss"], abs=1e-6)
    lines = [line for line in output.splitlines() if line.startswith(("Epoch ", "Test set", "Example "))]
    assert lines == TF_WALKTHROUGH_LINES
