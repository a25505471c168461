"""Keras layers against TensorFlow 2.21 / Keras 3: the expected numbers were printed by TensorFlow for the same
weights and inputs, and are written here as facts."""
import numpy as np
import pytest

import tapeviz as tf


def formula(shape, k):
    """Deterministic weights, set in TensorFlow and here alike."""
    n = int(np.prod(shape))
    return (np.sin(np.arange(n) * 0.37 + k) * 0.1).astype(np.float32).reshape(shape)


X_BN = np.arange(12, dtype=np.float32).reshape(4, 3) ** 1.5


def test_batch_normalization_training_inference_moving_statistics_and_gradients():
    bn = tf.keras.layers.BatchNormalization()
    np.testing.assert_allclose(bn(X_BN, training=True).numpy(), [
        [-1.1410037279129028, -1.1936625242233276, -1.2221038341522217],
        [-0.6352720856666565, -0.5875560641288757, -0.5615199208259583],
        [0.28942131996154785, 0.32335758209228516, 0.3438720703125],
        [1.486854910850525, 1.4578604698181152, 1.4397516250610352]], rtol=1e-5)
    np.testing.assert_allclose(bn.moving_mean.numpy(), [0.11723271757364273, 0.14785759150981903,
                                                        0.1827976405620575], rtol=1e-6)
    np.testing.assert_allclose(bn.moving_variance.numpy(), [2.0456488132476807, 2.3238131999969482,
                                                            2.5885021686553955], rtol=1e-6)
    np.testing.assert_allclose(bn(X_BN, training=False).numpy(), [
        [-0.08194588869810104, 0.5588794946670532, 1.64407217502594],
        [3.5501744747161865, 5.149844646453857, 6.834197044372559],
        [10.191242218017578, 12.049579620361328, 13.947748184204102],
        [18.791105270385742, 20.642892837524414, 22.557937622070312]], rtol=1e-5)
    assert bn.name.startswith("batch_normalization")
    assert [v.name for v in bn.weights] == [f"{bn.name}/{weight}:0" for weight in
                                            ("gamma", "beta", "moving_mean", "moving_variance")]
    assert [v.name for v in bn.trainable_weights] == [v.name for v in bn.weights[:2]]
    assert len(bn.non_trainable_weights) == 2
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(bn(X_BN, training=True) * formula((4, 3), 1))
    d_gamma, d_beta = tape.gradient(loss, bn.trainable_variables)
    np.testing.assert_allclose(d_gamma.numpy(), [-0.2907397747039795, -0.31285929679870605, -0.29657891392707825],
                               rtol=1e-4)
    np.testing.assert_allclose(d_beta.numpy(), [0.06934859603643417, 0.01608280837535858, -0.0393596813082695],
                               rtol=1e-5)


def test_batch_normalization_without_training_flag_uses_moving_statistics_and_changes_nothing():
    bn = tf.keras.layers.BatchNormalization()
    out = bn(X_BN)
    np.testing.assert_allclose(out.numpy(), X_BN / np.sqrt(1 + 1e-3), rtol=1e-6)
    np.testing.assert_array_equal(bn.moving_mean.numpy(), np.zeros(3))


def test_normalization_adapt():
    norm = tf.keras.layers.Normalization()
    norm.adapt(np.array([[1., 10.], [2., 20.], [4., 50.]]))
    np.testing.assert_allclose(norm(np.array([[2., 30.]])).numpy(), [[-0.26726117730140686, 0.19611617922782898]],
                               rtol=1e-6)
    np.testing.assert_allclose(norm.mean.numpy(), [[2.3333332538604736, 26.66666603088379]], rtol=1e-6)
    np.testing.assert_allclose(norm.variance.numpy(), [[1.5555555820465088, 288.8888854980469]], rtol=1e-6)
    batched = tf.keras.layers.Normalization()
    batched.adapt(iter([np.array([[1., 10.], [2., 20.]]), np.array([[4., 50.]])]))  # batches merged as Keras does
    np.testing.assert_allclose(batched.mean.numpy(), norm.mean.numpy(), rtol=1e-6)
    np.testing.assert_allclose(batched.variance.numpy(), norm.variance.numpy(), rtol=1e-6)


def test_conv2d_same_padding_strides_and_pooling():
    x = formula((1, 5, 5, 2), 3)
    conv = tf.keras.layers.Conv2D(2, 3, strides=2, padding="same")
    conv.build((None, 5, 5, 2))
    conv.set_weights([formula((3, 3, 2, 2), 4), formula((2,), 5)])
    assert conv.name.startswith("conv2d") and conv.kernel.shape == (3, 3, 2, 2)
    np.testing.assert_allclose(conv(x).numpy(), [[
        [[-0.08669976145029068, -0.08229983597993851], [-0.05446315184235573, -0.03571957349777222],
         [-0.10651730746030807, -0.08032830059528351]],
        [[-0.04732849448919296, -0.03509075567126274], [-0.10884525626897812, -0.06976787000894547],
         [-0.13364306092262268, -0.12276948988437653]],
        [[-0.08157534897327423, -0.054188117384910583], [-0.14277584850788116, -0.12442108988761902],
         [-0.07713134586811066, -0.07564985007047653]]]], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(tf.keras.layers.MaxPooling2D()(x).numpy(), [[
        [[0.09155264496803284, 0.09990329295396805], [0.09473250806331635, 0.07674011588096619]],
        [[0.09993094205856323, 0.09451205283403397], [0.0127614326775074, 0.0411071702837944]]]], rtol=1e-6)
    np.testing.assert_allclose(tf.keras.layers.AveragePooling2D(pool_size=2, strides=1)(x).numpy()[0, :, :, 0], [
        [0.02245422638952732, 0.00816013291478157, -0.010402226820588112, -0.023523567244410515],
        [-0.012425970286130905, 0.0059882234781980515, 0.021270200610160828, 0.025426525622606277],
        [-0.0013772938400506973, -0.01831735670566559, -0.025676287710666656, -0.01960490643978119],
        [0.014762137085199356, 0.025081679224967957, 0.02228192239999771, 0.00782732106745243]],
        rtol=1e-5, atol=1e-8)
    valid = tf.keras.layers.Conv2D(3, (2, 3))
    assert valid(np.zeros((2, 5, 5, 2))).shape == (2, 4, 3, 3)


def test_activation_strings_match_keras():
    x = tf.constant([[-2., -0.5, 0., 0.5, 2.]])
    expected = {  # keras.activations.get(name)(x) in TF 2.21
        "swish": [-0.23840584, -0.18877034, 0., 0.31122968, 1.7615942],
        "silu": [-0.23840584, -0.18877034, 0., 0.31122968, 1.7615942],
        "gelu": [-0.04550026, -0.15426877, 0., 0.34573123, 1.9544997],
        "softmax": [0.01255471, 0.0562663, 0.09276744, 0.15294765, 0.68546385],
        "softplus": [0.126928, 0.474077, 0.6931472, 0.974077, 2.126928],
        "elu": [-0.86466473, -0.39346933, 0., 0.5, 2.],
        "selu": [-1.5201665, -0.69175816, 0., 0.5253505, 2.101402],
        "linear": [-2., -0.5, 0., 0.5, 2.],
        "leaky_relu": [-0.4, -0.1, 0., 0.5, 2.],
        "hard_sigmoid": [0.16666667, 0.41666666, 0.5, 0.5833333, 0.8333333],
        "mish": [-0.25250146, -0.22074378, 0., 0.37524524, 1.943959],
        "softsign": [-0.6666667, -0.33333334, 0., 0.33333334, 0.6666667],
        "hard_silu": [-0.33333334, -0.20833333, 0., 0.29166666, 1.6666666],
        "log_softmax": [-4.3776593, -2.8776596, -2.3776596, -1.8776596, -0.3776595],
    }
    for name, values in expected.items():
        np.testing.assert_allclose(tf.keras.activations.get(name)(x).numpy()[0], values, rtol=1e-6, atol=1e-7,
                                   err_msg=name)
        layer = tf.keras.layers.Dense(5, activation=name, kernel_initializer="identity")
        np.testing.assert_allclose(layer(x).numpy()[0], values, rtol=1e-6, atol=1e-7, err_msg=name)
    assert tf.keras.activations.get(None).__name__ == "linear"
    assert tf.keras.activations.get("swish").__name__ == "silu"
    with pytest.raises(ValueError, match="Could not interpret activation function identifier: 'nope'"):
        tf.keras.activations.get("nope")


def test_small_layers():
    np.testing.assert_allclose(tf.keras.layers.LeakyReLU()(tf.constant([-2., 3.])).numpy(), [-0.6, 3.0], rtol=1e-7)
    assert tf.keras.layers.Reshape((3, 2))(np.zeros((4, 6))).shape == (4, 3, 2)
    assert tf.keras.layers.Reshape((-1, 2))(np.zeros((4, 6))).shape == (4, 3, 2)
    assert tf.keras.layers.Flatten()(np.zeros((4, 2, 3))).shape == (4, 6)
    np.testing.assert_allclose(tf.keras.layers.Softmax()(tf.constant([[0., np.log(3.)]])).numpy(), [[0.25, 0.75]])
    np.testing.assert_allclose(tf.keras.layers.Activation("relu")(tf.constant([-1., 2.])).numpy(), [0., 2.])
    embedding = tf.keras.layers.Embedding(10, 3)
    out = embedding(tf.constant([[1, 2], [9, 1]]))
    assert out.shape == (2, 2, 3) and embedding.embeddings.name == f"{embedding.name}/embeddings:0"
    assert embedding.name.startswith("embedding")
    np.testing.assert_array_equal(out.numpy()[1, 1], embedding.embeddings.numpy()[1])
    assert np.abs(embedding.embeddings.numpy()).max() <= 0.05  # Keras's uniform(-0.05, 0.05)
    with tf.GradientTape() as tape:
        total = tf.reduce_sum(embedding(tf.constant([1, 1, 4])))
    gradient = tf.convert_to_tensor(tape.gradient(total, embedding.embeddings)).numpy()
    np.testing.assert_array_equal(gradient[[1, 4, 0]], [[2.] * 3, [1.] * 3, [0.] * 3])


def test_dropout_scales_kept_units_only_in_training_and_is_reproducible_with_a_seed():
    x = np.ones((200, 50), np.float32)
    dropout = tf.keras.layers.Dropout(0.2, seed=3)
    np.testing.assert_array_equal(dropout(x).numpy(), x)
    np.testing.assert_array_equal(dropout(x, training=False).numpy(), x)
    out = dropout(x, training=True).numpy()
    assert set(np.unique(out)) == {0.0, np.float32(1.25)}
    assert abs((out == 0).mean() - 0.2) < 0.02
    again = tf.keras.layers.Dropout(0.2, seed=3)(x, training=True).numpy()
    np.testing.assert_array_equal(out, again)
    assert not np.array_equal(out, dropout(x, training=True).numpy())  # each call draws a new mask
    with pytest.raises(ValueError, match="Expected a float value between 0 and 1. Received: rate=1.5"):
        tf.keras.layers.Dropout(1.5)


def test_training_flag_reaches_inner_layers():
    model = tf.keras.Sequential([tf.keras.layers.Dense(4, kernel_initializer="ones"), tf.keras.layers.Dropout(0.5)])
    x = np.ones((3, 2))
    np.testing.assert_array_equal(model(x).numpy(), np.full((3, 4), 2.0))
    assert 0.0 in model(x, training=True).numpy()


def test_initializers():
    for initializer, std in [(tf.keras.initializers.GlorotUniform(seed=1), 0.06331741),
                             (tf.keras.initializers.HeNormal(seed=1), 0.10005101),
                             (tf.keras.initializers.RandomNormal(seed=1), 0.05005824)]:
        a = initializer((200, 300)).numpy()
        assert a.dtype == np.float32 and abs(a.std() - std) / std < 0.02  # TF's sample std for the same shape
        np.testing.assert_array_equal(a, initializer((200, 300)).numpy())  # one seed for life, as Keras 3
    assert np.abs(tf.keras.initializers.GlorotUniform()((200, 300)).numpy()).max() <= np.sqrt(6 / 500)
    assert np.abs(tf.keras.initializers.HeNormal()((200, 300)).numpy()).max() <= 2 * 0.1 / 0.87962566103423978
    np.testing.assert_array_equal(tf.keras.initializers.Constant(3.)((2,)).numpy(), [3., 3.])
    assert tf.keras.initializers.Ones()((2,), dtype="float64").dtype == tf.float64
    np.testing.assert_array_equal(tf.keras.initializers.Zeros()((2,)).numpy(), [0., 0.])
    assert isinstance(tf.keras.initializers.get("he_normal"), tf.keras.initializers.HeNormal)
    assert isinstance(tf.keras.initializers.get("GlorotUniform"), tf.keras.initializers.GlorotUniform)
    dense = tf.keras.layers.Dense(3, kernel_initializer=tf.keras.initializers.Constant(0.5))
    np.testing.assert_array_equal(dense(np.ones((1, 2))).numpy(), [[1., 1., 1.]])
    tf.random.set_seed(7)
    first = tf.keras.layers.Dense(3)
    first(np.ones((1, 2)))
    tf.random.set_seed(7)
    second = tf.keras.layers.Dense(3)
    second(np.ones((1, 2)))
    np.testing.assert_array_equal(first.kernel.numpy(), second.kernel.numpy())


def test_dense_freezing_input_shape_and_rank_errors():
    dense = tf.keras.layers.Dense(2)
    dense(tf.ones((1, 3)))
    dense.trainable = False
    assert dense.trainable_variables == [] and len(dense.non_trainable_variables) == 2 and len(dense.weights) == 2
    with tf.GradientTape() as tape:  # TF's tape still watches the frozen layer's variables when they are read
        y = tf.reduce_sum(dense(tf.ones((1, 3))))
    np.testing.assert_array_equal(tape.gradient(y, dense.kernel).numpy(), np.ones((3, 2)))
    dense.trainable = True
    assert len(dense.trainable_variables) == 2
    with pytest.warns(UserWarning, match="Do not pass an `input_shape`/`input_dim` argument to a layer"):
        assert not tf.keras.layers.Dense(2, input_shape=(3,)).built  # built only inside a Sequential model
    with pytest.warns(UserWarning):  # TF 2.21 warns too, and still honours it
        model = tf.keras.Sequential([tf.keras.layers.Dense(8, input_shape=(16,)), tf.keras.layers.Dense(4)])
    assert model.built and len(model.weights) == 4
    deferred = tf.keras.Sequential()
    deferred.add(tf.keras.layers.Dense(8))
    assert not deferred.built and deferred.weights == []
    with pytest.raises(ValueError, match="expected min_ndim=2, found ndim=1. Full shape received: \\(3,\\)"):
        tf.keras.layers.Dense(2)(tf.ones(3))
    with pytest.raises(ValueError, match="expected min_ndim=2, found ndim=1"):
        tf.keras.layers.Dense(2)([1., 2.])
    built = tf.keras.layers.Dense(2)
    built(np.ones((1, 3)))
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 3, but received input "
                                         "with shape \\(1, 4\\)"):
        built(np.ones((1, 4)))


def test_a_missing_keras_name_says_so():
    for module, name in [(tf.keras.layers, "Bidirectional"), (tf.keras, "applications"), (tf.keras.activations, "nope"),
                         (tf.keras.initializers, "RandomGamma")]:
        with pytest.raises(AttributeError, match="tapeviz implements TensorFlow's GradientTape with a subset"):
            getattr(module, name)


def test_keras_utils_backend_and_layer_configs():
    one_hot = tf.keras.utils.to_categorical([0, 2, 1])
    assert one_hot.dtype == np.float64 and one_hot.tolist() == [[1., 0., 0.], [0., 0., 1.], [0., 1., 0.]]
    assert tf.keras.utils.to_categorical([[1], [0]], num_classes=3).shape == (2, 3)
    with pytest.raises(ValueError, match="Expected `seed` argument to be an integer. Received: seed=1.5"):
        tf.keras.utils.set_random_seed(1.5)
    tf.keras.utils.set_random_seed(5)
    first = tf.random.normal([3]).numpy()
    tf.keras.utils.set_random_seed(5)
    np.testing.assert_array_equal(first, tf.random.normal([3]).numpy())
    tf.keras.layers.Dense(1)
    tf.keras.backend.clear_session()
    assert tf.keras.layers.Dense(1).name == "dense"  # names start again, as in TF 2.21
    dense = tf.keras.layers.Dense(3, activation="relu", name="configured")
    clone = tf.keras.layers.Dense.from_config(dense.get_config())
    assert (clone.name, clone.units, clone.activation.__name__) == ("configured", 3, "relu")


def test_merging_lambda_rescaling_and_global_pooling_layers():
    a, b = tf.keras.Input(shape=(2,)), tf.keras.Input(shape=(2,))
    merged = tf.keras.layers.concatenate([tf.keras.layers.Add()([a, b]), tf.keras.layers.Subtract()([a, b]),
                                          tf.keras.layers.Average()([a, b]), tf.keras.layers.Maximum()([a, b]),
                                          tf.keras.layers.Multiply()([a, b])])
    model = tf.keras.Model([a, b], tf.keras.layers.Lambda(lambda x: x * 2)(merged))
    x, y = np.array([[1., 4.]]), np.array([[3., 2.]])
    np.testing.assert_allclose(model([x, y]).numpy(), 2 * np.concatenate([x + y, x - y, (x + y) / 2,
                                                                          np.maximum(x, y), x * y], axis=1))
    with pytest.raises(ValueError, match="should be called on a list of at least 2 inputs"):
        tf.keras.layers.Add()(x)
    np.testing.assert_allclose(tf.keras.layers.Rescaling(1. / 255)(np.array([[255., 51.]])).numpy(), [[1., 0.2]])
    images = np.arange(2 * 2 * 3 * 4, dtype=np.float32).reshape(2, 2, 3, 4)
    np.testing.assert_allclose(tf.keras.layers.GlobalAveragePooling2D()(images).numpy(), images.mean(axis=(1, 2)))
    np.testing.assert_allclose(tf.keras.layers.GlobalMaxPooling2D(keepdims=True)(images).numpy(),
                               images.max(axis=(1, 2), keepdims=True))


def test_early_stopping_stops_after_patience_and_restores_the_best_weights(capsys):
    model = tf.keras.Sequential([tf.keras.Input(shape=(1,)), tf.keras.layers.Dense(1, kernel_initializer="zeros")])
    model.compile(optimizer=tf.keras.optimizers.SGD(5.0), loss="mse")  # a step so large the loss grows
    stop = tf.keras.callbacks.EarlyStopping(monitor="loss", patience=2, restore_best_weights=True, verbose=1)
    x = np.linspace(-1, 1, 8).reshape(-1, 1)
    after_epoch = []
    keep = tf.keras.callbacks.LambdaCallback(on_epoch_end=lambda epoch, logs: after_epoch.append(model.get_weights()))
    history = model.fit(x, 3 * x, epochs=20, batch_size=8, verbose=0, callbacks=[keep, stop])
    # TF 2.21: [3.857142925262451, 41.641395568847656, 449.55731201171875], stopped at 2, best 0, kernel 12.857142
    np.testing.assert_allclose(history.history["loss"], [3.857142925262451, 41.641395568847656, 449.55731201171875],
                               rtol=1e-5)
    assert stop.stopped_epoch == 2 and stop.best_epoch == 0
    np.testing.assert_allclose(model.get_weights()[0], [[12.857142]], rtol=1e-6)
    np.testing.assert_array_equal(model.get_weights()[0], after_epoch[0][0])  # the weights at the end of epoch 1
    assert capsys.readouterr().out.splitlines() == [
        "Epoch 3: early stopping", "Restoring model weights from the end of the best epoch: 1."]


def test_batch_normalization_over_another_axis_dropout_noise_shape_and_dilated_convolution():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    bn = tf.keras.layers.BatchNormalization(axis=1)
    mean, variance = x.mean(axis=(0, 2), keepdims=True), x.var(axis=(0, 2), keepdims=True)
    np.testing.assert_allclose(bn(x, training=True).numpy(), (x - mean) / np.sqrt(variance + 1e-3), atol=1e-6)
    np.testing.assert_allclose(bn.moving_mean.numpy(), 0.01 * mean.ravel(), rtol=1e-6)
    rows = tf.keras.layers.Dropout(0.5, noise_shape=(None, 1), seed=1)(np.ones((50, 4)), training=True).numpy()
    assert all(len(set(row)) == 1 for row in rows) and set(rows.ravel()) == {0.0, 2.0}  # whole rows dropped
    assert tf.keras.layers.Conv2D(2, 3, dilation_rate=2)(np.ones((1, 7, 7, 1))).shape == (1, 3, 3, 2)


@pytest.mark.parametrize("padding, strides, size, shape, total, grad_x_squares, grad_kernel", [
    # TF 2.21 / Keras 3 printed these for the same kernel and input (sum of y, sum of (dL/dx)^2, sum of dL/dK,
    # L = sum(y * y)).
    ("same", 1, 3, (2, 5, 6, 4), 206.468, 263139.31, -1364.12),
    ("same", 2, 2, (2, 10, 12, 4), 950.417, 50323.91, -409.2),
    ("same", 3, 5, (2, 15, 18, 4), 2119.118, 1268494.88, -3151.48),
    ("valid", 1, 2, (2, 6, 7, 4), 326.417, 52401.74, -429.36),
    ("valid", 2, 3, (2, 11, 13, 4), 1134.529, 238653.97, -950.64),
])
def test_conv2d_transpose_matches_tf(padding, strides, size, shape, total, grad_x_squares, grad_kernel):
    """The upsampling layer of TF's DCGAN tutorial: output shape, values and gradients as TF gives them."""
    x = tf.Variable(np.random.default_rng(1).standard_normal((2, 5, 6, 3)).astype("float32"))
    layer = tf.keras.layers.Conv2DTranspose(4, size, strides=strides, padding=padding, bias_initializer="ones")
    layer.build((None, 5, 6, 3))
    assert tuple(layer.kernel.shape) == (size, size, 4, 3)   # (height, width, filters, input channels)
    layer.kernel.assign(np.linspace(-1, 1, size * size * 12).reshape(size, size, 4, 3).astype("float32"))
    with tf.GradientTape() as tape:
        y = layer(x)
        loss = tf.reduce_sum(y * y)
    grad_x, grad_kernel_value = tape.gradient(loss, [x, layer.kernel])
    assert tuple(y.shape) == shape
    np.testing.assert_allclose(float(tf.reduce_sum(y)), total, rtol=1e-5)
    np.testing.assert_allclose(float(tf.reduce_sum(grad_x * grad_x)), grad_x_squares, rtol=1e-5)
    np.testing.assert_allclose(float(tf.reduce_sum(grad_kernel_value)), grad_kernel, rtol=1e-5)


def test_conv2d_transpose_refuses_output_padding_with_the_reason():
    with pytest.raises(ValueError, match="output_padding=None only"):
        tf.keras.layers.Conv2DTranspose(4, 3, output_padding=1)


def test_add_weight_with_the_name_first_says_how_keras_3_wants_it():
    """TF's "Custom layers" tutorial (Keras 2) calls add_weight("kernel", shape=...); TF 2.21 refuses it so."""
    class MyDenseLayer(tf.keras.layers.Layer):
        def build(self, input_shape):
            self.kernel = self.add_weight("kernel", shape=[int(input_shape[-1]), 10])

        def call(self, inputs):
            return tf.matmul(inputs, self.kernel)

    with pytest.raises(ValueError, match=r"`name` must be passed as a keyword argument\. Received: "
                                         r"add_weight\('kernel', \.\.\.\)\. Use: add_weight\(shape=\.\.\., name='kernel'\)"):
        MyDenseLayer()(tf.zeros([10, 5]))
