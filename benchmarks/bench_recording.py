"""What recording a run for inspection costs: the same work with recording off and on, side by side.

Recording off must cost nothing measurable (the core tests one empty list per op); recording on
builds the inspection model (ops, tensors, user source lines) while the script runs.
Run: python3 benchmarks/bench_recording.py [--quick]
"""
import argparse
import statistics
import sys
import time

import numpy as np

import tapeviz as tf


def chain(steps):
    x = tf.Variable(0.5)
    with tf.GradientTape() as tape:
        y = x
        for _ in range(steps):
            y = tf.sin(y) * 1.01
    tape.gradient(y, x)


def mlp(batch, sizes, rng):
    """One training step's forward and backward pass; the data and weights are made once, untimed."""
    weights = [tf.Variable(rng.standard_normal((a, b)).astype(np.float32) * 0.05) for a, b in zip(sizes, sizes[1:])]
    data = tf.constant(rng.standard_normal((batch, sizes[0])).astype(np.float32))

    def step():
        with tf.GradientTape() as tape:
            h = data
            for w in weights[:-1]:
                h = tf.nn.relu(h @ w)
            loss = tf.reduce_mean((h @ weights[-1]) ** 2)
        tape.gradient(loss, weights)
    return step


def best_of(fn, repeats, recording):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        if recording:
            with tf.record() as recorder:
                fn()
            recorder.snapshot()
        else:
            fn()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats, for a smoke run")
    args = parser.parse_args(argv)
    repeats = 3 if args.quick else 7
    rng = np.random.default_rng(0)
    steps = 1000  # 2,000 ops
    cases = [("2000-op scalar chain (us/op)", lambda: chain(steps), 2 * steps, 1e6),
             ("256x784-512-512-10 MLP fwd+bwd (ms)", mlp(256, [784, 512, 512, 10], rng), 1, 1e3)]
    print(f"tapeviz {tf.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}")
    print(f"{'workload':40s} {'recording off':>14s} {'recording on':>14s} {'on / off':>9s}")
    for name, fn, ops, scale in cases:
        fn()  # warm up: plugin loading, caches
        off, _ = best_of(fn, repeats, False)
        on, _ = best_of(fn, repeats, True)
        print(f"{name:40s} {off / ops * scale:14.2f} {on / ops * scale:14.2f} {on / off:8.2f}x")
    print("Recording on includes building the snapshot (values copied, source files read).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
