"""TensorFlow's guides "Introduction to gradients and automatic differentiation" (guide/autodiff) and
"Advanced automatic differentiation" (guide/advanced_autodiff), run with ``import tapeviz as tf``.

One test per snippet (or per run of snippets that share state), in the guides' order. Each asserts what
TensorFlow prints: values (float32, rtol 1e-6), None, shapes, dtypes, and the printed text, where
TensorFlow's ``tf.Tensor(`` reads ``tapeviz.Tensor(``. Where a snippet starts from random values
(``tf.random.normal``, Dense's initial kernel), the test asserts shapes and relations that must hold:
a gradient against float64 finite differences of the same function written in numpy, a jacobian summed
over the target against the gradient, a batch jacobian against the diagonal blocks of the full one.

Not run: calls outside tapeviz's op set (``tf.image.adjust_contrast``, ``tf.linalg.solve``, ``tf.einsum``,
``tf.keras.layers.BatchNormalization``, ``tf.Module`` with ``tf.function`` and ``tf.saved_model``) and
matplotlib calls; the parts of those snippets before them are run.

Snippets already covered fact by fact in test_tf_semantics.py are referenced there, not repeated:
- "Replaced a variable with a tensor": test_variable_replaced_by_a_tensor_gives_none (its printed text is
  checked here: ``type(x).__name__`` is Variable/Tensor where TensorFlow's is ResourceVariable/EagerTensor,
  a difference the README lists).
- "Did calculations outside of TensorFlow": test_computation_outside_the_library_gives_none.
- "Took gradients through an integer": test_path_through_an_integer_gives_none and
  test_int_watch_warning_names_the_dtype.
- "Took gradients through a stateful object": test_path_through_a_stateful_update_gives_none.
- "No gradient registered" (LookupError): test_differentiable_path_through_an_op_without_a_rule_raises_lookup_error.
"""
import numpy as np
import pytest

import tapeviz as tf

RTOL = 1e-6


def printed(capsys):
    """What the snippet printed, as lines."""
    return capsys.readouterr().out.splitlines()


def tf_text(text):
    """TensorFlow's printed text as tapeviz prints it."""
    return text.replace("tf.Tensor(", "tapeviz.Tensor(")


def assert_float32(tensor, expected, rtol=RTOL):
    assert tensor is not None, "expected a tensor, got None"
    assert tensor.dtype == tf.float32
    assert tuple(tensor.shape) == np.shape(expected)
    np.testing.assert_allclose(tensor.numpy(), expected, rtol=rtol)


def central_difference(f, value, eps=1e-6):
    """d f / d value (f: float64 array -> float64 array), shaped f(value).shape + value.shape."""
    value = np.asarray(value, dtype=np.float64)
    columns = []
    for index in np.ndindex(value.shape):
        step = np.zeros_like(value)
        step[index] = eps
        columns.append((f(value + step) - f(value - step)) / (2 * eps))
    out_shape = np.shape(columns[0])
    return np.moveaxis(np.array(columns), 0, -1).reshape(out_shape + value.shape)


def relu(z):
    return np.maximum(z, 0.0)


def elu(z):
    return np.where(z > 0, z, np.expm1(np.minimum(z, 0.0)))


@pytest.fixture(autouse=True)
def seeded():
    """Random snippets draw the same numbers on every run (the assertions do not depend on them)."""
    tf.random.set_seed(20)


# ==============================================================================================
# Introduction to gradients and automatic differentiation: Gradient tapes
# ==============================================================================================
def test_simple_example_dy_dx_is_6():
    x = tf.Variable(3.0)
    with tf.GradientTape() as tape:
        y = x**2
    dy_dx = tape.gradient(y, x)
    assert dy_dx.numpy() == 6.0
    assert dy_dx.dtype == tf.float32 and tuple(dy_dx.shape) == ()


def test_any_tensor_gradient_has_the_shape_of_its_source(capsys):
    w = tf.Variable(tf.random.normal((3, 2)), name='w')
    b = tf.Variable(tf.zeros(2, dtype=tf.float32), name='b')
    x = [[1., 2., 3.]]

    with tf.GradientTape(persistent=True) as tape:
        y = x @ w + b
        loss = tf.reduce_mean(y**2)

    [dl_dw, dl_db] = tape.gradient(loss, [w, b])
    print(w.shape)
    print(dl_dw.shape)
    assert printed(capsys) == ["(3, 2)", "(3, 2)"]

    # loss = mean over 2 outputs of y**2, so d loss / d y = y; y = x @ w + b.
    row = y.numpy()[0]
    assert_float32(dl_db, row)
    assert_float32(dl_dw, np.outer([1.0, 2.0, 3.0], row))

    my_vars = {
        'w': w,
        'b': b
    }
    grad = tape.gradient(loss, my_vars)
    assert set(grad) == {'w', 'b'}
    assert_float32(grad['b'], dl_db.numpy())
    assert_float32(grad['w'], dl_dw.numpy())
    assert repr(grad['b']).startswith("<tapeviz.Tensor: shape=(2,), dtype=float32, numpy=array([")


def test_gradients_with_respect_to_a_dense_layer(capsys):
    layer = tf.keras.layers.Dense(2, activation='relu')
    x = tf.constant([[1., 2., 3.]])

    with tf.GradientTape() as tape:
        y = layer(x)
        loss = tf.reduce_mean(y**2)

    grad = tape.gradient(loss, layer.trainable_variables)
    for var, g in zip(layer.trainable_variables, grad):
        print(f'{var.name}, shape: {g.shape}')

    lines = printed(capsys)
    assert len(lines) == 2
    assert "kernel" in lines[0] and lines[0].endswith(", shape: (3, 2)")
    assert "bias" in lines[1] and lines[1].endswith(", shape: (2,)")
    # d loss / d y = y, and relu passes it where y > 0 (y = relu(z) is 0 elsewhere, so y itself).
    row = y.numpy()[0]
    assert_float32(grad[0], np.outer([1.0, 2.0, 3.0], row))
    assert_float32(grad[1], row)


# ==============================================================================================
# Controlling what the tape watches
# ==============================================================================================
def test_only_the_trainable_variable_gets_a_gradient(capsys):
    x0 = tf.Variable(3.0, name='x0')                      # a trainable variable
    x1 = tf.Variable(3.0, name='x1', trainable=False)     # not trainable
    x2 = tf.Variable(2.0, name='x2') + 1.0                # a variable plus a tensor is a tensor
    x3 = tf.constant(3.0, name='x3')                      # not a variable

    with tf.GradientTape() as tape:
        y = (x0**2) + (x1**2) + (x2**2)

    grad = tape.gradient(y, [x0, x1, x2, x3])
    for g in grad:
        print(g)
    assert printed(capsys) == [tf_text("tf.Tensor(6.0, shape=(), dtype=float32)"), "None", "None", "None"]
    assert isinstance(x2, tf.Tensor) and not isinstance(x2, tf.Variable)

    assert [var.name for var in tape.watched_variables()] == ['x0:0']


def test_watch_a_constant(capsys):
    x = tf.constant(3.0)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x**2

    dy_dx = tape.gradient(y, x)
    print(dy_dx.numpy())
    assert printed(capsys) == ["6.0"]


def test_watch_accessed_variables_false_connects_only_the_watched_variable(capsys):
    x0 = tf.Variable(0.0)
    x1 = tf.Variable(10.0)

    with tf.GradientTape(watch_accessed_variables=False) as tape:
        tape.watch(x1)
        y0 = tf.math.sin(x0)
        y1 = tf.nn.softplus(x1)
        y = y0 + y1
        ys = tf.reduce_sum(y)

    grad = tape.gradient(ys, {'x0': x0, 'x1': x1})
    print('dy/dx0:', grad['x0'])
    print('dy/dx1:', grad['x1'].numpy())
    assert printed(capsys) == ["dy/dx0: None", "dy/dx1: 0.9999546"]
    assert_float32(grad['x1'], np.float32(0.9999546))     # sigmoid(10)
    assert [v.name for v in tape.watched_variables()] == [x1.name]


# ==============================================================================================
# Intermediate results
# ==============================================================================================
def test_gradient_with_respect_to_an_intermediate_value(capsys):
    x = tf.constant(3.0)

    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x * x
        z = y * y

    print(tape.gradient(z, y).numpy())     # 2 * y, y = 9
    assert printed(capsys) == ["18.0"]


def test_persistent_tape_gives_two_gradients_of_a_vector(capsys):
    x = tf.constant([1, 3.0])             # an int and a float in one list: float32
    assert x.dtype == tf.float32
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = y * y

    dz_dx = tape.gradient(z, x)           # 4 * x**3
    dy_dx = tape.gradient(y, x)           # 2 * x
    print(dz_dx.numpy())
    print(dy_dx.numpy())
    assert printed(capsys) == ["[  4. 108.]", "[2. 6.]"]
    assert_float32(dz_dx, [4.0, 108.0])
    assert_float32(dy_dx, [2.0, 6.0])
    del tape


# ==============================================================================================
# Gradients of non-scalar targets
# ==============================================================================================
def test_two_targets_one_at_a_time(capsys):
    x = tf.Variable(2.0)
    with tf.GradientTape(persistent=True) as tape:
        y0 = x**2
        y1 = 1 / x

    print(tape.gradient(y0, x).numpy())
    print(tape.gradient(y1, x).numpy())
    assert printed(capsys) == ["4.0", "-0.25"]


def test_a_dict_of_targets_gives_the_gradient_of_their_sum(capsys):
    x = tf.Variable(2.0)
    with tf.GradientTape() as tape:
        y0 = x**2
        y1 = 1 / x

    print(tape.gradient({'y0': y0, 'y1': y1}, x).numpy())
    assert printed(capsys) == ["3.75"]


def test_a_vector_target_gives_the_gradient_of_its_sum(capsys):
    x = tf.Variable(2.)

    with tf.GradientTape() as tape:
        y = x * [3., 4.]

    print(tape.gradient(y, x).numpy())
    assert printed(capsys) == ["7.0"]
    assert y.dtype == tf.float32 and tuple(y.shape) == (2,)


def test_elementwise_gradient_of_sigmoid_is_its_derivative():
    x = tf.linspace(-10.0, 10.0, 200+1)

    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.sigmoid(x)

    dy_dx = tape.gradient(y, x)
    # (the guide then plots x, y and dy_dx)
    assert x.dtype == tf.float32 and tuple(x.shape) == (201,)
    np.testing.assert_allclose(x.numpy(), np.linspace(-10.0, 10.0, 201), rtol=0, atol=1e-5)
    expected_y = 1 / (1 + np.exp(-x.numpy().astype(np.float64)))
    np.testing.assert_allclose(y.numpy(), expected_y, rtol=RTOL)
    y32 = y.numpy()
    assert_float32(dy_dx, y32 * (np.float32(1) - y32))
    assert dy_dx.numpy()[100] == 0.25


# ==============================================================================================
# Control flow
# ==============================================================================================
def test_only_the_branch_taken_is_differentiated_and_the_predicate_gets_none(capsys):
    x = tf.constant(1.0)

    v0 = tf.Variable(2.0)
    v1 = tf.Variable(2.0)

    with tf.GradientTape(persistent=True) as tape:
        tape.watch(x)
        if x > 0.0:
            result = v0          # the target is the variable itself: d v0 / d v0 = 1, although v0 is never read
        else:
            result = v1**2

    dv0, dv1 = tape.gradient(result, [v0, v1])

    print(dv0)
    print(dv1)

    dx = tape.gradient(result, x)

    print(dx)
    assert printed(capsys) == [tf_text("tf.Tensor(1.0, shape=(), dtype=float32)"), "None", "None"]
    assert tape.explain(result, v0) is None            # connected: no None to explain
    assert tape.explain(result, v1) is not None


def test_a_source_that_is_the_target_gets_ones_even_unwatched():
    v = tf.Variable([1.0, 2.0])
    c = tf.constant(3.0)
    with tf.GradientTape(persistent=True) as tape:
        pass
    dv, dc = tape.gradient([v, c], [v, c], output_gradients=[tf.constant([2.0, 5.0]), None])
    assert_float32(dv, [2.0, 5.0])
    assert dc is None  # TF 2.21: a None output gradient seeds nothing
    assert_float32(tape.gradient(c, c), np.float32(1.0))


def test_a_source_that_is_the_target_has_the_identity_jacobian():
    v = tf.Variable([1.0, 2.0])
    with tf.GradientTape() as tape:
        pass
    assert_float32(tape.jacobian(v, v), np.eye(2))


# ==============================================================================================
# Cases where gradient returns None (the numbered cases: see the module docstring)
# ==============================================================================================
def test_a_target_not_connected_to_the_source_gives_none(capsys):
    x = tf.Variable(2.)
    y = tf.Variable(3.)

    with tf.GradientTape() as tape:
        z = y * y
    print(tape.gradient(z, x))
    assert printed(capsys) == ["None"]


def test_replacing_a_variable_with_a_tensor_prints_the_lost_gradient(capsys):
    x = tf.Variable(2.0)

    for epoch in range(2):
        with tf.GradientTape() as tape:
            y = x+1

        print(type(x).__name__, ":", tape.gradient(y, x))
        x = x + 1   # should be x.assign_add(1)

    # TensorFlow: "ResourceVariable : tf.Tensor(1.0, ...)" and "EagerTensor : None".
    assert printed(capsys) == ["Variable : " + tf_text("tf.Tensor(1.0, shape=(), dtype=float32)"), "Tensor : None"]


# ==============================================================================================
# Zeros instead of None
# ==============================================================================================
def test_unconnected_gradients_zero(capsys):
    x = tf.Variable([2., 2.])
    y = tf.Variable(3.)

    with tf.GradientTape() as tape:
        z = y**2
    print(tape.gradient(z, x, unconnected_gradients=tf.UnconnectedGradients.ZERO))
    assert printed(capsys) == [tf_text("tf.Tensor([0. 0.], shape=(2,), dtype=float32)")]


# ==============================================================================================
# Advanced automatic differentiation: Controlling gradient recording
# ==============================================================================================
DZ_PRINTED = [tf_text("dz/dx: tf.Tensor(4.0, shape=(), dtype=float32)"), "dz/dy: None"]


def test_stop_recording(capsys):
    x = tf.Variable(2.0)
    y = tf.Variable(3.0)

    with tf.GradientTape() as t:
        x_sq = x * x
        with t.stop_recording():
            y_sq = y * y
        z = x_sq + y_sq

    grad = t.gradient(z, {'x': x, 'y': y})

    print('dz/dx:', grad['x'])  # 2*x => 4
    print('dz/dy:', grad['y'])
    assert printed(capsys) == DZ_PRINTED
    assert z.numpy() == 13.0


def test_reset(capsys):
    x = tf.Variable(2.0)
    y = tf.Variable(3.0)
    reset = True

    with tf.GradientTape() as t:
        y_sq = y * y
        if reset:
            t.reset()          # throw out all the tape recorded so far
        z = x * x + y_sq

    grad = t.gradient(z, {'x': x, 'y': y})

    print('dz/dx:', grad['x'])  # 2*x => 4
    print('dz/dy:', grad['y'])
    assert printed(capsys) == DZ_PRINTED
    assert z.numpy() == 13.0


def test_stop_gradient(capsys):
    x = tf.Variable(2.0)
    y = tf.Variable(3.0)

    with tf.GradientTape() as t:
        y_sq = y**2
        z = x**2 + tf.stop_gradient(y_sq)

    grad = t.gradient(z, {'x': x, 'y': y})

    print('dz/dx:', grad['x'])  # 2*x => 4
    print('dz/dy:', grad['y'])
    assert printed(capsys) == DZ_PRINTED
    assert z.numpy() == 13.0


# ==============================================================================================
# Custom gradients (the SavedModel part needs tf.Module, tf.function and tf.saved_model: not run)
# ==============================================================================================
@tf.custom_gradient
def clip_gradients(y):
    """An identity whose gradient is clipped to norm 0.5 (the guide's example)."""
    def backward(dy):
        return tf.clip_by_norm(dy, 0.5)
    return y, backward


def test_custom_gradient_clips_the_intermediate_gradient(capsys):
    v = tf.Variable(2.0)
    with tf.GradientTape() as t:
        output = clip_gradients(v * v)
    print(t.gradient(output, v))  # calls "backward", which clips 4 to 2
    assert printed(capsys) == [tf_text("tf.Tensor(2.0, shape=(), dtype=float32)")]
    assert output.numpy() == 4.0


def test_clip_gradients_leaves_a_small_gradient_alone():
    v = tf.Variable([0.1, 0.2])
    with tf.GradientTape() as t:
        output = clip_gradients(v * 1.0)
    assert_float32(t.gradient(output, v), [0.5 / np.sqrt(2)] * 2)    # [1, 1] has norm sqrt(2): clipped
    with tf.GradientTape() as t:
        output = clip_gradients(v * 1.0)
    assert_float32(t.gradient(output, v, output_gradients=tf.constant([0.3, 0.4])), [0.3, 0.4])  # norm 0.5


# ==============================================================================================
# Multiple tapes, higher-order gradients
# ==============================================================================================
def test_each_tape_watches_its_own_tensor():
    x0 = tf.constant(0.0)
    x1 = tf.constant(0.0)

    with tf.GradientTape() as tape0, tf.GradientTape() as tape1:
        tape0.watch(x0)
        tape1.watch(x1)

        y0 = tf.math.sin(x0)
        y1 = tf.nn.sigmoid(x1)

        y = y0 + y1

        ys = tf.reduce_sum(y)

    assert tape0.gradient(ys, x0).numpy() == 1.0     # cos(x) => 1.0
    assert tape1.gradient(ys, x1).numpy() == 0.25    # sigmoid(x1)*(1-sigmoid(x1)) => 0.25


def test_second_derivative_with_nested_tapes(capsys):
    x = tf.Variable(1.0)

    with tf.GradientTape() as t2:
        with tf.GradientTape() as t1:
            y = x * x * x
        # inside t2: the gradient computation is recorded too
        dy_dx = t1.gradient(y, x)
    d2y_dx2 = t2.gradient(dy_dx, x)

    print('dy_dx:', dy_dx.numpy())  # 3 * x**2 => 3.0
    print('d2y_dx2:', d2y_dx2.numpy())  # 6 * x => 6.0
    assert printed(capsys) == ["dy_dx: 3.0", "d2y_dx2: 6.0"]


def test_input_gradient_regularization():
    x = tf.random.normal([7, 5])

    layer = tf.keras.layers.Dense(10, activation=tf.nn.relu)

    with tf.GradientTape() as t2:
        # The inner tape takes the gradient with respect to the input only.
        with tf.GradientTape(watch_accessed_variables=False) as t1:
            t1.watch(x)
            y = layer(x)
            out = tf.reduce_sum(layer(x)**2)
        g1 = t1.gradient(out, x)           # 1. the input gradient
        g1_mag = tf.norm(g1)               # 2. its magnitude

    dg1_mag = t2.gradient(g1_mag, layer.trainable_variables)   # 3. its gradient with respect to the model

    assert repr([var.shape for var in dg1_mag]) == "[TensorShape([5, 10]), TensorShape([10])]"
    assert tuple(y.shape) == (7, 10) and tuple(g1.shape) == (7, 5) and tuple(g1_mag.shape) == ()
    assert [v.name for v in t1.watched_variables()] == []

    # The same function in float64 numpy: out = sum(relu(x @ w + b)**2), so d out / d x = 2 relu(z) @ w.T.
    xs = x.numpy().astype(np.float64)
    kernel, bias = (v.numpy().astype(np.float64) for v in layer.trainable_variables)

    def magnitude(w, b):
        return np.linalg.norm(2 * relu(xs @ w + b) @ w.T)

    np.testing.assert_allclose(g1.numpy(), 2 * relu(xs @ kernel + bias) @ kernel.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(g1_mag.numpy(), magnitude(kernel, bias), rtol=1e-5)
    np.testing.assert_allclose(dg1_mag[0].numpy(), central_difference(lambda w: magnitude(w, bias), kernel),
                               rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(dg1_mag[1].numpy(), central_difference(lambda b: magnitude(kernel, b), bias),
                               rtol=1e-4, atol=1e-5)


# ==============================================================================================
# Jacobians
# ==============================================================================================
def test_jacobian_with_respect_to_a_scalar_source(capsys):
    x = tf.linspace(-10.0, 10.0, 200+1)
    delta = tf.Variable(0.0)

    with tf.GradientTape() as tape:
        y = tf.nn.sigmoid(x+delta)

    dy_dx = tape.jacobian(y, delta)
    print(y.shape)
    print(dy_dx.shape)
    # (the guide then plots x.numpy(), y and dy_dx)
    assert printed(capsys) == ["(201,)", "(201,)"]
    y32 = y.numpy()
    assert_float32(dy_dx, y32 * (np.float32(1) - y32))


def test_jacobian_with_respect_to_a_tensor_source(capsys):
    x = tf.random.normal([7, 5])
    layer = tf.keras.layers.Dense(10, activation=tf.nn.relu)

    with tf.GradientTape(persistent=True) as tape:
        y = layer(x)

    assert repr(y.shape) == "TensorShape([7, 10])"
    assert repr(layer.kernel.shape) == "TensorShape([5, 10])"

    j = tape.jacobian(y, layer.kernel)
    assert repr(j.shape) == "TensorShape([7, 10, 5, 10])"

    g = tape.gradient(y, layer.kernel)
    print('g.shape:', g.shape)

    j_sum = tf.reduce_sum(j, axis=[0, 1])
    delta = tf.reduce_max(abs(g - j_sum)).numpy()
    assert delta < 1e-3
    print('delta:', delta)

    lines = printed(capsys)
    assert lines[0] == "g.shape: (5, 10)"
    assert lines[1].startswith("delta: ")
    np.testing.assert_allclose(j_sum.numpy(), g.numpy(), rtol=1e-5, atol=1e-6)
    # d y[i, k] / d kernel[a, c] = x[i, a] where z[i, k] > 0 and c == k, else 0.
    active = (y.numpy() > 0).astype(np.float32)
    expected = np.einsum("ia,ik,kc->ikac", x.numpy(), active, np.eye(10, dtype=np.float32))
    np.testing.assert_allclose(j.numpy(), expected, rtol=RTOL)


def test_hessian_of_a_two_layer_model(capsys):
    x = tf.random.normal([7, 5])
    x_in = x.numpy().astype(np.float64)
    layer1 = tf.keras.layers.Dense(8, activation=tf.nn.relu)
    layer2 = tf.keras.layers.Dense(6, activation=tf.nn.relu)

    with tf.GradientTape() as t2:
        with tf.GradientTape() as t1:
            x = layer1(x)
            x = layer2(x)
            loss = tf.reduce_mean(x**2)

        g = t1.gradient(loss, layer1.kernel)

    h = t2.jacobian(g, layer1.kernel)
    print(f'layer.kernel.shape: {layer1.kernel.shape}')
    print(f'h.shape: {h.shape}')
    assert printed(capsys) == ["layer.kernel.shape: (5, 8)", "h.shape: (5, 8, 5, 8)"]

    n_params = tf.reduce_prod(layer1.kernel.shape)
    assert n_params.dtype == tf.int32 and n_params.numpy() == 40

    g_vec = tf.reshape(g, [n_params, 1])
    h_mat = tf.reshape(h, [n_params, n_params])
    assert tuple(g_vec.shape) == (40, 1) and tuple(h_mat.shape) == (40, 40)

    # imshow_zero_center's computation (before its plt calls); the Hessian is symmetric.
    lim = tf.reduce_max(abs(h_mat))
    assert lim.numpy() == np.abs(h_mat.numpy()).max()
    np.testing.assert_allclose(h_mat.numpy(), h_mat.numpy().T, rtol=1e-5, atol=1e-6 * lim.numpy())

    eps = 1e-3
    eye_eps = tf.eye(h_mat.shape[0])*eps
    assert eye_eps.dtype == tf.float32
    np.testing.assert_allclose(eye_eps.numpy(), np.eye(40) * 1e-3, rtol=RTOL)
    # (the Newton step then calls tf.linalg.solve: not run)

    # g and h against float64 numpy: loss = mean(relu(relu(x @ k1 + b1) @ k2 + b2)**2).
    k1, b1 = (v.numpy().astype(np.float64) for v in layer1.trainable_variables)
    k2, b2 = (v.numpy().astype(np.float64) for v in layer2.trainable_variables)

    def grad_k1(kernel):
        z1 = x_in @ kernel + b1
        z2 = relu(z1) @ k2 + b2
        dz2 = 2 * relu(z2) / z2.size
        return x_in.T @ ((dz2 @ k2.T) * (z1 > 0))

    np.testing.assert_allclose(g.numpy(), grad_k1(k1), rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(h.numpy(), central_difference(grad_k1, k1), rtol=1e-4, atol=1e-6)


def test_batch_jacobian_is_the_diagonal_of_the_full_jacobian(capsys):
    x = tf.random.normal([7, 5])

    layer1 = tf.keras.layers.Dense(8, activation=tf.nn.elu)
    layer2 = tf.keras.layers.Dense(6, activation=tf.nn.elu)

    with tf.GradientTape(persistent=True, watch_accessed_variables=False) as tape:
        tape.watch(x)
        y = layer1(x)
        y = layer2(y)

    assert repr(y.shape) == "TensorShape([7, 6])"

    j = tape.jacobian(y, x)
    assert repr(j.shape) == "TensorShape([7, 6, 7, 5])"

    # Every (batch, batch) slice is diagonal (the guide shows j[:, 0, :, 0] with imshow).
    full = j.numpy()
    assert tuple(j[:, 0, :, 0].shape) == (7, 7)
    off_diagonal = ~np.eye(7, dtype=bool)
    assert np.all(full.transpose(0, 2, 1, 3)[off_diagonal] == 0)

    # plot_as_patches, before its imshow call.
    patches = tf.transpose(j, [1, 0, 3, 2])
    lim = tf.reduce_max(abs(patches))
    patches = tf.pad(patches, [[0, 0], [1, 1], [0, 0], [1, 1]], constant_values=-lim)
    s = patches.shape
    patches = tf.reshape(patches, [s[0]*s[1], s[2]*s[3]])
    assert tuple(s) == (6, 9, 5, 9) and tuple(patches.shape) == (54, 45)

    j_sum = tf.reduce_sum(j, axis=2)
    print(j_sum.shape)
    # (the guide then selects the diagonal with tf.einsum('bxby->bxy', j): not run)

    jb = tape.batch_jacobian(y, x)
    assert repr(jb.shape) == "TensorShape([7, 6, 5])"

    error = tf.reduce_max(abs(jb - j_sum))
    assert error < 1e-3
    print(error.numpy())
    assert printed(capsys) == ["(7, 6, 5)", "0.0"]

    np.testing.assert_array_equal(jb.numpy(), np.stack([full[b, :, b, :] for b in range(7)]))

    # Against float64 numpy: y = elu(elu(x @ k1 + b1) @ k2 + b2), one example at a time.
    k1, b1 = (v.numpy().astype(np.float64) for v in layer1.trainable_variables)
    k2, b2 = (v.numpy().astype(np.float64) for v in layer2.trainable_variables)
    xs = x.numpy().astype(np.float64)
    for b in range(7):
        numeric = central_difference(lambda row: elu(elu(row @ k1 + b1) @ k2 + b2), xs[b])
        np.testing.assert_allclose(jb.numpy()[b], numeric, rtol=1e-4, atol=1e-5)


# ==============================================================================================
# The guides' calls that tapeviz does not have
# ==============================================================================================
@pytest.mark.parametrize("module, name, tf_name", [
    (tf, "signal", "tf.signal"),
    (tf.linalg, "expm", "tf.linalg.expm"),
    (tf.image, "sobel_edges", "tf.image.sobel_edges"),
    (tf.keras.layers, "Bidirectional", "tf.keras.layers.Bidirectional"),
    (tf.keras, "applications", "tf.keras.applications"),
    (tf, "tpu", "tf.tpu"),
    (tf, "Graph", "tf.Graph"),
    (tf, "saved_model", "tf.saved_model"),
    (tf.nn, "ctc_loss", "tf.nn.ctc_loss"),
    (tf.math, "bessel_i0", "tf.math.bessel_i0"),
    (tf.random, "gamma", "tf.random.gamma"),
])
def test_a_missing_tensorflow_name_is_an_attribute_error_naming_it_and_the_way_out(module, name, tf_name):
    with pytest.raises(AttributeError) as info:
        getattr(module, name)
    message = str(info.value)
    assert message.startswith(f"module {module.__name__!r} has no attribute {name!r}: ")
    assert f" {tf_name} is not part of it." in message
    assert "Write this step with the ops tapeviz has" in message
    assert not hasattr(module, name)


def test_missing_private_names_keep_pythons_plain_message():
    with pytest.raises(AttributeError) as info:
        tf.__no_such_name__
    assert "tapeviz implements" not in str(info.value)
