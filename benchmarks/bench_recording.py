"""What recording a run for inspection costs: the same work with recording off and on, side by side.

Recording off must cost nothing measurable (the core tests one empty list per op); recording on
builds the inspection model (ops, tensors, user source lines) while the script runs. The training
loop figures (benchmarks/training_loop.py: a 16x32 -> 64 -> 10 MLP trained by hand-written SGD) are
printed beside their targets: recording on at most 2x off at 400 steps, 400 steps at most 4.4x
100 steps, memory over 10,000 steps at most what the run keeps plus 50 MB, and `tapeviz run` of
800 steps at most 2x plain Python (both as whole processes, start-up included).
Run: python3 benchmarks/bench_recording.py [--quick]
"""
import argparse
import os

# One BLAS thread, set before numpy loads: with two, a shared machine's other work made the MLP's products
# (recording off and on alike) vary 2-10x from run to run, which is not what this measures.
for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

import tapeviz as tf  # noqa: E402
from tapeviz.core import context  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import training_loop  # noqa: E402  (the benchmark's own script, beside this file)


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


def _rss_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def memory_child(steps):
    """In a fresh process: RSS growth over ``steps`` recorded steps, and what the run keeps."""
    import gc

    model = training_loop.make_model()
    training_loop.train(2, model)  # plugins, caches
    gc.collect()
    before = _rss_mb()
    with tf.record() as recorder:
        training_loop.train(steps, model)
    recorder.store.tensors.flush()
    gc.collect()
    grown = _rss_mb() - before
    kept = (recorder.store.nbytes() + recorder._value_bytes) / 1024 ** 2
    print(f"{grown:.1f} {kept:.1f} {len(recorder.run.ops)} {len(recorder.run.tensors)} "
          f"{recorder._value_bytes / 1024 ** 2:.1f}")


def _process_seconds(argv, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=HERE)
        times.append(time.perf_counter() - start)
    return min(times)


class _NullObserver:
    """Observes the run and does nothing: what the core's side of recording costs by itself."""

    def _ignore(self, *args):
        pass

    op_executed = tape_created = tape_entered = tape_exited = tape_reset = watched = _ignore
    variable_created = variable_read = variable_assigned = tensor_converted = gradient_computed = _ignore
    recording_paused = recording_resumed = _ignore


def _verdict(value, target):
    return "ok" if value <= target else "MISS"


def training_figures(repeats, quick):
    """The issue's four training-loop targets, each measured in this one run."""
    print()
    print(f"{'training loop (16x32 -> 64 -> 10, SGD)':52s} {'figure':>10s} {'target':>9s}")

    def timed(steps, recording):
        # CPU time of this process: the machine is shared, and wall time counted other processes' work.
        model = training_loop.make_model()
        start = time.process_time()
        if recording == "null":
            context.observers.append(_NullObserver())
            try:
                training_loop.train(steps, model)
            finally:
                context.observers.pop()
        elif recording:
            with tf.record() as recorder:
                training_loop.train(steps, model)
            recorder.snapshot()
        else:
            training_loop.train(steps, model)
        return time.process_time() - start

    timed(5, True)  # warm up
    off = min(timed(400, False) for _ in range(repeats))
    on_400 = min(timed(400, True) for _ in range(repeats))
    on_100 = min(timed(100, True) for _ in range(repeats))
    null = min(timed(400, "null") for _ in range(repeats))
    print(f"{'400 steps: recording on / off (CPU, with snapshot)':52s} {on_400 / off:9.2f}x {'<= 2.0x':>9s} "
          f"{_verdict(on_400 / off, 2.0)}   ({off * 1e3:.0f} ms off, {on_400 * 1e3:.0f} ms on)")
    print(f"{'  of which the core telling an idle observer':52s} {null / off:9.2f}x {'':>9s}      "
          f"(an observer whose methods do nothing: the floor of any recorder)")
    print(f"{'recording on: 400 steps / 100 steps':52s} {on_400 / on_100:9.2f}x {'<= 4.4x':>9s} "
          f"{_verdict(on_400 / on_100, 4.4)}")

    steps = 2000 if quick else 10000
    out = subprocess.run([sys.executable, os.path.abspath(__file__), "--memory-child", str(steps)], check=True,
                         capture_output=True, text=True).stdout.split()
    grown, kept, ops, tensors, values = float(out[0]), float(out[1]), int(out[2]), int(out[3]), float(out[4])
    print(f"{f'{steps} steps recorded: memory growth (MB)':52s} {grown:10.1f} {f'<= {kept + 50:.0f}':>9s} "
          f"{_verdict(grown, kept + 50)}   (the run keeps {kept:.1f} MB: {ops} ops, {tensors} tensor summaries, "
          f"{values:.1f} MB of small values)")

    script = os.path.join(HERE, "training_loop.py")
    plain = _process_seconds([sys.executable, script, "800"], repeats)
    recorded = _process_seconds([sys.executable, "-m", "tapeviz", "run", script, "--", "800"], repeats)
    print(f"{'800 steps: `tapeviz run` / plain `python` (processes)':52s} {recorded / plain:9.2f}x {'<= 2.0x':>9s} "
          f"{_verdict(recorded / plain, 2.0)}   ({plain:.2f} s plain, {recorded:.2f} s tapeviz run)")


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
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child)
        return 0
    repeats = 3 if args.quick else 7
    rng = np.random.default_rng(0)
    steps = 1000  # 2,000 ops
    cases = [("2000-op scalar chain (us/op)", lambda: chain(steps), 2 * steps, 1e6),
             ("256x784-512-512-10 MLP fwd+bwd (ms)", mlp(256, [784, 512, 512, 10], rng), 1, 1e3)]
    from tapeviz.inspection import recorder as recorder_module
    path = "C (_recordfast)" if recorder_module._recordfast is not None else "Python only"
    print(f"tapeviz {tf.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}; recorder's per-op path: {path}")
    print(f"{'workload':40s} {'recording off':>14s} {'recording on':>14s} {'on / off':>9s}")
    for name, fn, ops, scale in cases:
        fn()  # warm up: plugin loading, caches
        off, _ = best_of(fn, repeats, False)
        on, _ = best_of(fn, repeats, True)
        print(f"{name:40s} {off / ops * scale:14.2f} {on / ops * scale:14.2f} {on / off:8.2f}x")
    print("Recording on includes building the snapshot (values copied, source files read).")
    training_figures(repeats, args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
