"""Array, reduction, linalg, creation and random ops: values against numpy, dtypes, errors, and the
gradient conventions the finite-difference checker cannot see (ties, masks, casts, skipped inputs)."""
import numpy as np
import pytest

import tapeviz as tv
from tapeviz.core.errors import InvalidArgumentError

X = np.arange(24, dtype=np.float32).reshape(2, 3, 4)


def grad_of(fn, *values):
    """Gradients of sum(fn(*xs)) with respect to each x."""
    xs = [tv.constant(v) for v in values]
    with tv.GradientTape() as tape:
        tape.watch(xs)
        y = fn(*xs)
    return tape.gradient(y, xs)


# Layout -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("fn, expected", [
    (lambda x: tv.reshape(x, (4, -1)), X.reshape(4, -1)),
    (lambda x: tv.transpose(x), X.T),
    (lambda x: tv.transpose(x, [1, 0, 2]), X.transpose(1, 0, 2)),
    (lambda x: tv.expand_dims(x, -1), X[..., None]),
    (lambda x: tv.squeeze(x[:, :1], axis=1), X[:, 0]),
    (lambda x: tv.tile(x, [1, 2, 1]), np.tile(X, (1, 2, 1))),
    (lambda x: tv.broadcast_to(x[0, 0], (2, 4)), np.broadcast_to(X[0, 0], (2, 4))),
    (lambda x: tv.concat([x, x], axis=-1), np.concatenate([X, X], -1)),
    (lambda x: tv.stack([x, x], axis=1), np.stack([X, X], 1)),
    (lambda x: tv.gather(x, [2, 0], axis=1), X[:, [2, 0]]),
    (lambda x: tv.identity(x), X),
    (lambda x: tv.stop_gradient(x), X),
    (lambda x: tv.clip_by_value(x, 3.0, 20.0), np.clip(X, 3, 20)),
    (lambda x: tv.where(tv.constant(X > 5), x, -x), np.where(X > 5, X, -X)),
])
def test_layout_ops_match_numpy(fn, expected):
    out = fn(tv.constant(X))
    assert out.dtype == tv.float32
    np.testing.assert_array_equal(out.numpy(), expected)


def test_pad_reverse_slice_boolean_mask_one_hot():
    x = tv.constant(X[0])
    np.testing.assert_array_equal(tv.pad(x, [[1, 0], [0, 2]], constant_values=-1.0).numpy(),
                                  np.pad(X[0], [[1, 0], [0, 2]], constant_values=-1))
    np.testing.assert_array_equal(tv.reverse(x, [-1]).numpy(), X[0, :, ::-1])
    np.testing.assert_array_equal(tv.slice(x, [1, 1], [-1, 2]).numpy(), X[0, 1:, 1:3])
    np.testing.assert_array_equal(tv.boolean_mask(x, [True, False, True]).numpy(), X[0, [0, 2]])
    (g,) = grad_of(lambda t: tv.boolean_mask(t, tv.constant(X[0] > 4)), X[0])
    np.testing.assert_array_equal(g.numpy(), (X[0] > 4).astype(np.float32))
    np.testing.assert_array_equal(tv.one_hot([0, 2, 5], 3).numpy(), [[1, 0, 0], [0, 0, 1], [0, 0, 0]])
    assert tv.one_hot([1], 2, on_value=5, off_value=-1).numpy().tolist() == [[-1, 5]]


def test_unstack_and_split():
    parts = tv.unstack(tv.constant(X), axis=1)
    assert len(parts) == 3 and all(np.array_equal(p.numpy(), X[:, i]) for i, p in enumerate(parts))
    a, b = tv.split(tv.constant(X), 2, axis=2)
    np.testing.assert_array_equal(b.numpy(), X[..., 2:])
    a, b = tv.split(tv.constant(X), [1, -1], axis=1)
    assert a.shape == (2, 1, 4) and b.shape == (2, 2, 4)


@pytest.mark.parametrize("key", [
    1, -1, (0, 2), (slice(None), 1), (slice(None, None, -1),), (slice(1, None, 2), Ellipsis, 0),
    (Ellipsis, None), (None, 0, slice(None, 2)), (0, Ellipsis, slice(3, 0, -2)), (slice(5, 10),),
])
def test_slicing_matches_numpy(key):
    out = tv.constant(X)[key]
    np.testing.assert_array_equal(out.numpy(), X[key])
    assert out.shape == X[key].shape


def test_slicing_with_tensors_and_variables():
    v = tv.Variable(X)
    i = tv.constant(1)
    np.testing.assert_array_equal(v[i, :i + 1].numpy(), X[1, :2])


def test_slice_gradient_scatters_into_zeros_and_second_order():
    (g,) = grad_of(lambda x: x[::2] * 3.0, np.arange(5, dtype=np.float32))
    np.testing.assert_array_equal(g.numpy(), [3, 0, 3, 0, 3])
    x = tv.constant([1.0, 2.0, 3.0])
    with tv.GradientTape() as outer:
        outer.watch(x)
        with tv.GradientTape() as inner:
            inner.watch(x)
            y = x[1:] * x[1:] * x[1:]
        g = inner.gradient(y, x)
    np.testing.assert_allclose(g.numpy(), [0, 12, 27])
    np.testing.assert_allclose(outer.gradient(g, x).numpy(), [0, 12, 18])


@pytest.mark.parametrize("bad", [np.array([1]), 1.5, tv.constant([0, 1])])  # a list is a tuple of indices in TF
def test_slicing_with_lists_points_to_gather(bad):
    with pytest.raises(TypeError, match="valid indices.*tapeviz.gather"):
        tv.constant(X)[bad]


def test_slicing_out_of_range_names_the_op_and_shape():
    with pytest.raises(InvalidArgumentError, match=r"StridedSlice.*float32\[2, 3, 4\].*out of bounds"):
        tv.constant(X)[5]


def test_gather_repeated_indices_accumulate_and_bad_indices_are_reported():
    (g,) = grad_of(lambda p: tv.gather(p, [1, 1, 0]), np.ones((3, 2), np.float32))
    np.testing.assert_array_equal(g.numpy(), [[1, 1], [2, 2], [0, 0]])
    with pytest.raises(InvalidArgumentError, match=r"indices\[1\] = 3 is not in \[0, 3\)"):
        tv.gather(tv.constant([1.0, 2.0, 3.0]), [0, 3])
    with pytest.raises(TypeError, match="integer indices"):
        tv.gather(tv.constant([1.0, 2.0]), tv.constant([0.0]))


def test_shape_errors_name_op_shapes_and_fix():
    with pytest.raises(InvalidArgumentError, match=r"Reshape.*\[2, 3, 4\].*into shape \(5,\)"):
        tv.reshape(tv.constant(X), [5])
    with pytest.raises(InvalidArgumentError, match=r"ConcatV2.*float32\[2, 3, 4\], float32\[3\]"):
        tv.concat([tv.constant(X), tv.constant([1.0, 2.0, 3.0])], 0)
    with pytest.raises(TypeError, match="one dtype.*tapeviz.cast"):
        tv.stack([tv.constant(1.0), tv.constant(1)])
    with pytest.raises(ValueError, match=r"Can not squeeze dim\[1\], expected a dimension of 1, got 3"):
        tv.squeeze(tv.constant(X), axis=1)
    with pytest.raises(ValueError, match="multiples argument to be a vector of length 3"):
        tv.tile(tv.constant(X), [2])
    with pytest.raises(ValueError, match=r"evenly divide.*size = 3.*num_split 2"):
        tv.split(tv.constant(X), 2, axis=1)
    with pytest.raises(TypeError, match="bool condition"):
        tv.where(tv.constant([1.0]), 1.0, 2.0)


def test_stack_converts_python_values_to_the_tensors_dtype():
    out = tv.stack([tv.constant(1.0, dtype=tv.float64), 2.0])
    assert out.dtype == tv.float64


# where, clip, cast ----------------------------------------------------------------------------------
def test_where_gradient_goes_to_the_chosen_branch():
    cond = tv.constant([True, False, True])
    gx, gy = grad_of(lambda x, y: tv.where(cond, x, y), np.ones(3, np.float32), np.ones((2, 1), np.float32))
    np.testing.assert_array_equal(gx.numpy(), [2, 0, 2])
    np.testing.assert_array_equal(gy.numpy(), [[1], [1]])
    np.testing.assert_array_equal(tv.where(cond).numpy(), [[0], [2]])


def test_clip_by_value_passes_gradient_inside_closed_interval():
    (g,) = grad_of(lambda x: tv.clip_by_value(x, -1.0, 1.0), np.array([-2, -1, 0, 1, 2], np.float32))
    np.testing.assert_array_equal(g.numpy(), [0, 1, 1, 1, 0])


def test_cast_values_and_gradients():
    assert tv.cast(tv.constant([1.7, -1.7]), tv.int32).numpy().tolist() == [1, -1]  # truncates toward zero
    x = tv.constant([1.0, 2.0])
    assert tv.cast(x, tv.float32) is x
    (g,) = grad_of(lambda x: tv.cast(x, tv.float64) * tv.constant([3.0, 4.0], dtype=tv.float64),
                   np.array([1.0, 2.0], np.float32))
    assert g.dtype == tv.float32
    np.testing.assert_array_equal(g.numpy(), [3, 4])
    (g,) = grad_of(lambda x: tv.cast(tv.cast(x, tv.int32), tv.float32), np.array([1.5], np.float32))
    assert g is None


def test_stop_gradient_blocks_and_identity_passes():
    g1, = grad_of(lambda x: tv.stop_gradient(x) * x, np.array([3.0], np.float32))
    np.testing.assert_array_equal(g1.numpy(), [3.0])
    g2, = grad_of(lambda x: tv.identity(x) * x, np.array([3.0], np.float32))
    np.testing.assert_array_equal(g2.numpy(), [6.0])


# Reductions ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, np_fn", [("reduce_sum", np.sum), ("reduce_mean", np.mean), ("reduce_max", np.max),
                                         ("reduce_min", np.min), ("reduce_prod", np.prod)])
@pytest.mark.parametrize("axis", [None, 0, -1, (0, 2), [1]])
@pytest.mark.parametrize("keepdims", [False, True])
def test_reductions_match_numpy(name, np_fn, axis, keepdims):
    x = X / 10 + 1
    out = getattr(tv, name)(tv.constant(x), axis=axis, keepdims=keepdims)
    expected = np_fn(x, axis=tuple(axis) if isinstance(axis, list) else axis, keepdims=keepdims)
    assert out.shape == expected.shape and out.dtype == tv.float32
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)


def test_integer_reductions_keep_int32_and_mean_truncates():
    x = tv.constant([1, 2])
    assert tv.reduce_mean(x).dtype == tv.int32 and int(tv.reduce_mean(x)) == 1
    assert int(tv.reduce_mean(tv.constant([-1, -2]))) == -1  # toward zero, as C++ integer division
    assert tv.reduce_sum(x).dtype == tv.int32 and tv.reduce_prod(x).dtype == tv.int32
    with pytest.raises(InvalidArgumentError, match="reduce_any"):  # TF: InvalidArgumentError
        tv.reduce_sum(tv.constant([True]))


def test_reduce_max_and_min_split_gradient_among_ties():
    (g,) = grad_of(lambda x: tv.reduce_max(x), np.array([1, 3, 3, 0], np.float32))
    np.testing.assert_array_equal(g.numpy(), [0, 0.5, 0.5, 0])
    (g,) = grad_of(lambda x: tv.reduce_min(x, axis=1), np.array([[1, 1, 1], [2, 0, 5]], np.float32))
    np.testing.assert_allclose(g.numpy(), [[1 / 3] * 3, [0, 1, 0]])


def test_reduce_prod_gradient_with_zeros():
    (g,) = grad_of(lambda x: tv.reduce_prod(x), np.array([2, 0, 3], np.float32))
    np.testing.assert_array_equal(g.numpy(), [0, 6, 0])


@pytest.mark.skipif(not hasattr(tv, "sqrt"), reason="needs the Log rule from math_grad")
def test_reduce_logsumexp_is_stable_and_its_gradient_is_softmax():
    x = np.array([[1000.0, 1000.0], [-1.0, 2.0]], np.float32)
    out = tv.reduce_logsumexp(tv.constant(x), axis=1)
    np.testing.assert_allclose(out.numpy(), [1000 + np.log(2), np.log(np.exp(-1) + np.exp(2))], rtol=1e-6)
    (g,) = grad_of(lambda t: tv.reduce_logsumexp(t, axis=-1, keepdims=True), x)
    np.testing.assert_allclose(g.numpy(), np.exp(x - x.max(1, keepdims=True)) /
                               np.exp(x - x.max(1, keepdims=True)).sum(1, keepdims=True), rtol=1e-6)
    assert tv.reduce_logsumexp(tv.constant([-np.inf, -np.inf])).numpy() == -np.inf


def test_argmax_argmin():
    x = tv.constant([[1.0, 5.0, 5.0], [7.0, 0.0, 7.0]])
    assert tv.argmax(x).numpy().tolist() == [1, 0, 1] and tv.argmax(x).dtype == tv.int64
    assert tv.argmax(x, axis=1).numpy().tolist() == [1, 0]
    assert tv.argmin(x, axis=-1, output_type=tv.int32).dtype == tv.int32


# matmul and linalg ------------------------------------------------------------------------------------
def test_matmul_values_shapes_and_transposes():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((4, 3))
    out = tv.matmul(tv.constant(a), tv.constant(b), transpose_b=True)
    np.testing.assert_allclose(out.numpy(), a @ b.T)
    batch = rng.standard_normal((5, 1, 2, 3)).astype(np.float32)
    assert (tv.constant(batch) @ tv.constant(b.T.astype(np.float32))).shape == (5, 1, 2, 4)
    assert tv.matmul(tv.constant([[1, 2]]), tv.constant([[3], [4]])).numpy().tolist() == [[11]]


def test_small_float32_matmul_is_exactly_rounded():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((8, 30)).astype(np.float32), rng.standard_normal((30, 8)).astype(np.float32)
    exact = (a.astype(np.float64) @ b.astype(np.float64)).astype(np.float32)
    np.testing.assert_array_equal(tv.matmul(a, b).numpy(), exact)


def test_tutorial_linear_model_prints_tensorflows_numbers():
    w = tv.Variable([[-13.394766, 16.05925, 5.238968], [-2.6181564, -8.322439, 5.700083],
                     [19.031418, -2.5960197, 6.4040756], [4.195833, 5.4652596, 4.5779514]])
    b = tv.Variable(tv.ones(3))
    x = tv.Variable([[1, 2, 3, 4]], dtype=tv.float32, name="x")
    with tv.GradientTape(persistent=True) as tape:
        y = x @ w + b
        loss = tv.reduce_mean(y * y)
    assert str(y) == "tapeviz.Tensor([[56.246506 14.48735  55.163166]], shape=(1, 3), dtype=float32)"
    assert str(tape.gradient(y, x)) == ("tapeviz.Tensor([[ 7.903452 -5.240513 22.839474 14.239044]], "
                                        "shape=(1, 4), dtype=float32)")
    assert str(tape.gradient(loss, b)) == "tapeviz.Tensor([37.497673  9.658234 36.775444], shape=(3,), dtype=float32)"


def test_matmul_shape_error_names_op_and_shapes():
    with pytest.raises(InvalidArgumentError, match=r"MatMul.*Matrix size-incompatible: In\[0\]: \[1,3\], "
                                                   r"In\[1\]: \[4,3\].*transpose"):
        tv.matmul(tv.ones((1, 3)), tv.ones((4, 3)))
    with pytest.raises(InvalidArgumentError, match=r"rank >= 2"):
        tv.matmul(tv.ones((3,)), tv.ones((3, 2)))
    with pytest.raises(InvalidArgumentError, match=r"BatchMatMulV2.*batch dimensions \[2\] and \[3\]"):
        tv.matmul(tv.ones((2, 1, 3)), tv.ones((3, 3, 2)))
    with pytest.raises(InvalidArgumentError, match="MatMul.*double tensor"):
        tv.matmul(tv.ones((1, 1)), tv.ones((1, 1), dtype=tv.float64))


def test_matmul_computes_no_gradient_for_an_input_nobody_needs(monkeypatch):
    import tapeviz.plugins.linalg_grad as linalg_grad
    calls = []
    real = linalg_grad.matmul
    monkeypatch.setattr(linalg_grad, "matmul", lambda *a, **k: calls.append(1) or real(*a, **k))
    x, w = tv.constant(np.ones((4, 3), np.float32)), tv.Variable(np.ones((3, 2), np.float32))
    with tv.GradientTape() as tape:
        y = x @ w
    g = tape.gradient(y, w)
    assert len(calls) == 1
    np.testing.assert_array_equal(g.numpy(), np.full((3, 2), 4.0))


def test_linalg_namespace():
    m = tv.constant([[1.0, 2.0], [3.0, 4.0]])
    assert float(tv.linalg.trace(m)) == 5.0
    np.testing.assert_array_equal(tv.linalg.matrix_transpose(m).numpy(), [[1, 3], [2, 4]])
    np.testing.assert_array_equal(tv.linalg.eye(2, batch_shape=[3]).numpy(), np.broadcast_to(np.eye(2), (3, 2, 2)))
    assert tv.linalg.matmul is tv.matmul


needs_math = pytest.mark.skipif(not hasattr(tv, "sqrt") or not hasattr(tv, "greater"),
                                reason="needs sqrt and comparisons from math_ops")


@needs_math
@pytest.mark.parametrize("ord, axis", [("euclidean", None), (1, None), (np.inf, 0), (2, 1), (3, -1),
                                       ("fro", (0, 1)), (1, (0, 1)), (np.inf, (0, 1))])
def test_norm_matches_numpy(ord, axis):
    x = np.array([[1.0, -2.0, 3.0], [-4.0, 5.0, 0.5]], np.float32)
    expected = np.linalg.norm(x.reshape(-1) if axis is None else x, ord=2 if ord == "euclidean" else ord,
                              axis=axis)
    out = tv.norm(tv.constant(x), ord=ord, axis=axis)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-6)
    assert tv.norm(tv.constant(x), ord=ord, axis=axis, keepdims=True).ndim == 2


@needs_math
def test_clip_by_norm():
    t = tv.constant([3.0, 4.0])
    np.testing.assert_allclose(tv.clip_by_norm(t, 1.0).numpy(), [0.6, 0.8], rtol=1e-6)
    np.testing.assert_array_equal(tv.clip_by_norm(t, 10.0).numpy(), [3, 4])
    (g,) = grad_of(lambda x: tv.clip_by_norm(x, 1.0), np.zeros(2, np.float32))
    assert np.all(np.isfinite(g.numpy()))


# Creation and random ------------------------------------------------------------------------------------
def test_linspace_and_range_dtypes_and_values():
    lin = tv.linspace(-15.0, 15.0, 151)
    assert lin.dtype == tv.float32 and lin.shape == (151,)
    assert lin.numpy()[0] == -15 and lin.numpy()[-1] == 15
    np.testing.assert_allclose(lin.numpy(), np.linspace(-15, 15, 151), atol=1e-5)
    assert tv.linspace(tv.constant(0.0, tv.float64), tv.constant(1.0, tv.float64), 3).dtype == tv.float64
    assert tv.linspace(0, 10, 5).dtype == tv.float64  # TF: integer end points give float64
    assert tv.range(5).dtype == tv.int32 and tv.range(5).numpy().tolist() == [0, 1, 2, 3, 4]
    assert tv.range(1, 10, 3).numpy().tolist() == [1, 4, 7]
    assert tv.range(5, 0, -2).numpy().tolist() == [5, 3, 1]
    r = tv.range(0.0, 1.0, 0.25)
    assert r.dtype == tv.float32 and r.numpy().tolist() == [0, 0.25, 0.5, 0.75]
    assert tv.range(3, dtype=tv.float64).dtype == tv.float64
    with pytest.raises(ValueError, match="start <= limit"):
        tv.range(5, 0)


def test_filled_tensors():
    assert tv.ones_like(tv.constant([1, 2])).dtype == tv.int32
    np.testing.assert_array_equal(tv.zeros_like(tv.constant(X)).numpy(), np.zeros_like(X))
    f = tv.fill([2, 3], 9.0)
    assert f.dtype == tv.float32 and f.numpy().tolist() == [[9, 9, 9]] * 2
    assert tv.eye(2, 3, dtype=tv.int32).numpy().tolist() == [[1, 0, 0], [0, 1, 0]]
    assert tv.shape(tv.constant(X)).numpy().tolist() == [2, 3, 4] and int(tv.size(X)) == 24 and int(tv.rank(X)) == 3


def test_random_is_reproducible_after_set_seed():
    def draw():
        return [tv.random.uniform((2, 3), minval=-20, maxval=20).numpy(), tv.random.normal([4]).numpy(),
                tv.random.uniform((2,), seed=7).numpy(), tv.random.truncated_normal((50,)).numpy()]

    tv.random.set_seed(1)
    first = draw()
    tv.random.set_seed(1)
    second = draw()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert first[0].dtype == np.float32 and first[0].min() >= -20 and first[0].max() < 20
    assert np.abs(first[3]).max() <= 2
    assert not np.array_equal(tv.random.normal([4]).numpy(), first[1])
    ints = tv.random.uniform((100,), minval=0, maxval=3, dtype=tv.int32)
    assert ints.dtype == tv.int32 and set(ints.numpy().tolist()) <= {0, 1, 2}
    with pytest.raises(ValueError, match="maxval"):
        tv.random.uniform((2,), dtype=tv.int32)
