"""What recording costs in forward mode, beside what it costs for a tape: the same chain of ops run under a
ForwardAccumulator and under a GradientTape, recording off and on, in one process.

Recording a forward-mode run should cost about what recording a tape costs per op: each op's tangent
is a row of a table summarized in bulk, and the ops that computed the tangents are not kept unless
something records them. Recording off costs nothing measurable (one empty-list test per event).
Run: python3 benchmarks/bench_forward_recording.py [--ops N] [--repeats R]
"""
import argparse
import statistics
import time

import numpy as np

import tapeviz as tf


def forward_chain(ops):
    x = tf.constant(np.linspace(-1, 1, 16, dtype=np.float32))
    with tf.autodiff.ForwardAccumulator(x, tf.ones_like(x)) as acc:
        y = x
        for _ in range(ops // 2):
            y = tf.sin(y) * 0.9
    return acc.jvp(y)


def tape_chain(ops):
    x = tf.constant(np.linspace(-1, 1, 16, dtype=np.float32))
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = x
        for _ in range(ops // 2):
            y = tf.sin(y) * 0.9
    return y


def timed(work, ops, recording, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        if recording:
            with tf.record() as recorder:
                work(ops)
                recorder.snapshot()
        else:
            work(ops)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ops", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"{args.ops}-op chain of sin and mul on 16 floats, median of {args.repeats}:")
    print(f"{'':24}{'recording off':>16}{'recording on':>16}{'on / off':>10}")
    for name, work in (("ForwardAccumulator", forward_chain), ("GradientTape", tape_chain)):
        off = timed(work, args.ops, False, args.repeats)
        on = timed(work, args.ops, True, args.repeats)
        print(f"{name:24}{off * 1e3:13.1f} ms{on * 1e3:13.1f} ms{on / off:9.2f}x")


if __name__ == "__main__":
    main()
