"""How much memory a tape holds, beside the minimum its gradient rules need.

Run ``python benchmarks/bench_tape_memory.py [--n N]``. For a few expressions on a float32 vector
``x`` of N elements (default 2,000,000, 8 MB), it prints the bytes of intermediate values the tape
keeps alive and the bytes the rules will read, named per expression (TF's
``ops_which_dont_need_inputs`` / ``_outputs``). The program's own inputs (``x``, ``W``) are not
counted: the program holds them anyway. The two columns should be equal.
"""
import argparse
import os
import sys

import numpy as np

# Measure the tapeviz of this checkout, not whichever copy happens to be installed.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import tapeviz as tf  # noqa: E402


def held_bytes(tape, own):
    """Bytes of distinct arrays the tape's entries reference, stand-ins and ``own`` arrays excluded."""
    seen, total = set(), 0
    owned = {array.__array_interface__["data"][0] for array in own}
    for entry in tape._ops:
        for value in (*entry[2], *entry[4]):
            if not isinstance(value, np.ndarray) or (value.ndim and not any(value.strides)):
                continue  # a stand-in: shape and dtype over one shared zero
            address = value.__array_interface__["data"][0]
            if address in owned or address in seen:
                continue
            seen.add(address)
            total += value.nbytes
    return total


def case_reduce_sum(x, W):
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(x + 1.0)
    return tape, loss, [], "nothing: Sum and AddV2 read shapes only"


def case_relu_scale(x, W):
    with tf.GradientTape() as tape:
        active = tf.nn.relu(x + 1.0)
        loss = tf.reduce_sum(active * 3.0)
    return tape, loss, [active], "relu(x + 1), read by Relu's rule (its output) and Mul's (its input)"


def case_sin_times_x(x, W):
    with tf.GradientTape() as tape:
        s = tf.sin(x)
        loss = tf.reduce_sum(s * x)
    return tape, loss, [s], "sin(x), an input of Mul; Sin's rule reads x, the program's own"


def case_dense_layer(x, W):
    rows = x.shape[0] // 1000
    X = tf.reshape(x, (rows, 1000))
    with tf.GradientTape() as tape:
        h = tf.nn.relu(tf.matmul(X, W) + 0.5)
        loss = tf.reduce_mean(tf.square(h))
    return tape, loss, [h], "relu(X @ W + 0.5): Relu's output, Square's input; MatMul reads X and W"


def case_softmax(x, W):
    with tf.GradientTape() as tape:
        e = tf.exp(x - 1.0)
        p = e / tf.reduce_sum(e)
        loss = -tf.reduce_sum(tf.math.log(p))
    return tape, loss, [e, p], "exp(x - 1) (Exp's output, RealDiv's input) and p (Log's input)"


def case_gather_where(x, W):
    with tf.GradientTape() as tape:
        picked = tf.gather(x * 2.0, [0, 1, 2])
        positive = x > 0.0
        chosen = tf.where(positive, tf.sin(x), tf.cos(x))
        loss = tf.reduce_sum(picked) + tf.reduce_sum(chosen)
    return tape, loss, [positive], "x > 0 (SelectV2 reads the condition only; GatherV2 the indices only)"


CASES = [("reduce_sum(x + 1)", case_reduce_sum), ("reduce_sum(relu(x + 1) * 3)", case_relu_scale),
         ("reduce_sum(sin(x) * x)", case_sin_times_x), ("mean(square(relu(X @ W + .5)))", case_dense_layer),
         ("-sum(log(softmax(x)))", case_softmax), ("gather(2x, idx), where(x > 0, sin, cos)", case_gather_where)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2_000_000, help="elements of x (a multiple of 1000)")
    n = parser.parse_args().n // 1000 * 1000
    rng = np.random.default_rng(0)
    x = tf.Variable(rng.standard_normal(n).astype(np.float32))
    W = tf.Variable(rng.standard_normal((1000, 1000)).astype(np.float32) * 0.03)
    print(f"bench_tape_memory: x is float32[{n:,}] ({x._snapshot._value.nbytes / 2**20:.1f} MiB); "
          "MiB of intermediate values a tape keeps alive")
    print(f"{'expression':42s} {'tape holds':>10s} {'rules need':>10s}  {'ratio':>5s}  what the rules need")
    for label, case in CASES:
        tape, _, needed, what = case(x, W)
        held = held_bytes(tape, [x._snapshot._value, W._snapshot._value])
        minimum = sum(t._value.nbytes for t in needed)
        ratio = f"{held / minimum:.2f}" if minimum else ("1.00" if held == 0 else "inf")
        print(f"{label:42s} {held / 2**20:10.1f} {minimum / 2**20:10.1f}  {ratio:>5s}  {what}")
        del tape


if __name__ == "__main__":
    main()
