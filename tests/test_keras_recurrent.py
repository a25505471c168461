"""SimpleRNN, LSTM and GRU against TF 2.21 / Keras 3: weights, outputs, states and gradients through time.

The numbers are TF's, printed for the same input and the same deterministic weights (a sine pattern
written into every weight) and written in here as facts.
"""
import numpy as np
import pytest

import tapeviz as tf


def _fill(layer):
    for w in layer.weights:
        n = int(np.prod(w.shape))
        w.assign(np.sin(np.arange(n) * 0.37 + len(w.shape)).reshape(w.shape).astype("float32") * 0.5)


WEIGHT_SHAPES = {"SimpleRNN": [(4, 6), (6, 6), (6,)], "LSTM": [(4, 24), (6, 24), (24,)],
                 "GRU": [(4, 18), (6, 18), (2, 18)]}


@pytest.mark.parametrize("name, sequences, shapes, loss, squares", [
    ("SimpleRNN", False, [(3, 6), (3, 6)], 8.9145, [40.9981, 274.2749, 35.4752, 189.817]),
    ("SimpleRNN", True, [(3, 5, 6), (3, 6)], 23.3259, [83.21, 905.1257, 54.3243, 453.6432]),
    ("LSTM", False, [(3, 6), (3, 6), (3, 6)], -0.9899, [8.4991, 16.1889, 2.1674, 74.4507]),
    ("LSTM", True, [(3, 5, 6), (3, 6), (3, 6)], 0.3887, [8.3954, 14.2541, 1.6496, 55.3723]),
    ("GRU", False, [(3, 6), (3, 6)], 13.8188, [27.5791, 55.6634, 30.9928, 115.273]),
    ("GRU", True, [(3, 5, 6), (3, 6)], 36.0067, [75.2481, 158.4545, 114.4405, 485.4286]),
])
def test_recurrent_layers_match_tf(name, sequences, shapes, loss, squares):
    x = tf.Variable(np.random.default_rng(0).standard_normal((3, 5, 4)).astype("float32"))
    layer = getattr(tf.keras.layers, name)(6, return_sequences=sequences, return_state=True)
    layer.build((None, 5, 4))
    assert [tuple(w.shape) for w in layer.weights] == WEIGHT_SHAPES[name]
    assert [w.path.split("/")[-1] for w in layer.weights] == ["kernel", "recurrent_kernel", "bias"]
    _fill(layer)
    with tf.GradientTape() as tape:
        out = layer(x)
        value = tf.reduce_sum(out[0] ** 2) + tf.reduce_sum(out[-1])
    grads = tape.gradient(value, [x] + layer.trainable_weights)
    assert [tuple(o.shape) for o in out] == shapes
    np.testing.assert_allclose(float(value), loss, atol=2e-4)
    np.testing.assert_allclose([float(tf.reduce_sum(g * g)) for g in grads], squares, rtol=2e-5)


def test_lstm_forget_bias_starts_at_one_and_layers_stack_in_a_model():
    lstm = tf.keras.layers.LSTM(3)
    lstm.build((None, 2, 2))
    assert lstm.weights[2].numpy().tolist() == [0.0] * 3 + [1.0] * 3 + [0.0] * 6   # TF 2.21's unit_forget_bias
    model = tf.keras.Sequential([tf.keras.Input((5, 4)), tf.keras.layers.LSTM(8, return_sequences=True),
                                 tf.keras.layers.GRU(4), tf.keras.layers.Dense(1)])
    assert model(tf.ones((3, 5, 4))).shape == (3, 1) and len(model.trainable_weights) == 8
    recurrent = lstm.weights[1].numpy()   # orthogonal: the 3x12 recurrent kernel's rows are orthonormal
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(3), atol=1e-5)


def test_recurrent_layers_say_what_they_do_not_support():
    with pytest.raises(ValueError, match="go_backwards=False and stateful=False only"):
        tf.keras.layers.LSTM(4, stateful=True)
    with pytest.raises(ValueError, match="dropout=0 only"):
        tf.keras.layers.GRU(4, dropout=0.2)
    with pytest.raises(ValueError, match="reset_after=True only"):
        tf.keras.layers.GRU(4, reset_after=False)


def test_a_text_generation_model_carries_its_gru_state_between_calls():
    """TF's "Text generation with an RNN" model (Keras 3 form): get_initial_state takes the batch size,
    and call returns (logits, state) for the next call."""
    class MyModel(tf.keras.Model):
        def __init__(self):
            super().__init__()
            self.embedding = tf.keras.layers.Embedding(20, 8)
            self.gru = tf.keras.layers.GRU(16, return_sequences=True, return_state=True)
            self.dense = tf.keras.layers.Dense(20)

        def call(self, inputs, states=None, return_state=False, training=False):
            x = self.embedding(inputs, training=training)
            if states is None:
                states = self.gru.get_initial_state(tf.shape(x)[0])
            x, states = self.gru(x, initial_state=states, training=training)
            x = self.dense(x, training=training)
            return (x, states) if return_state else x

    model = MyModel()
    tokens = tf.constant(np.random.default_rng(0).integers(0, 20, (2, 5)))
    logits, state = model(tokens, return_state=True)
    assert logits.shape == (2, 5, 20) and state.shape == (2, 16)
    _, again = model(tokens, states=state, return_state=True)
    assert not np.allclose(again.numpy(), state.numpy())   # the second call starts from the first's state
    assert [tuple(v.shape) for v in model.trainable_variables] == [(20, 8), (8, 48), (16, 48), (2, 48), (16, 20),
                                                                   (20,)]   # TF 2.21's, in its order
    with pytest.raises(TypeError, match=r"takes the batch size \(an int\), as in Keras 3"):
        model.gru.get_initial_state(tf.zeros((2, 3, 8)))


def test_super_init_with_self_says_how_to_call_it():
    class Wrong(tf.keras.Model):
        def __init__(self):
            super().__init__(self)   # the Keras 2 tutorials' spelling; Keras 3 refuses it too

    with pytest.raises(TypeError, match=r"positional arguments \(self\).*super\(\).__init__\(\) without `self`"):
        Wrong()
