"""Jacobians, Hessians and Hessian-vector products: tapeviz side by side with PyTorch and TensorFlow.

Run ``python benchmarks/bench_jacobian.py`` (``--quick`` for a smoke run). On
``y = tanh(tanh(x @ W) @ W)`` with W of 300x300 (float32) it times, forward pass included:

  (a) ``jacobian`` with x of 1x300;
  (b) ``batch_jacobian`` with x of 64x300;
  (c) the Hessian of the 100-dim scalar function ``sum(tanh(tanh(x @ V) @ V))`` (V 100x100), by
      nested tapes (``outer.jacobian(inner.gradient(f, x), x)``);
  (d) a Hessian-vector product of (c)'s function (forward-over-backward: ``ForwardAccumulator``
      around a ``GradientTape``), as a ratio to one gradient of the same function.

PyTorch runs ``torch.autograd.functional`` with ``vectorize=True`` (batch_jacobian as the jacobian
of the batch-summed output, which is how its users write it); TensorFlow runs its eager
``GradientTape``. Both are optional references, never dependencies: a library that cannot be
imported reads ``skip``. They may live in another interpreter: ``--reference-python PATH`` (or the
``TAPEVIZ_REFERENCE_PYTHON`` variable) names one that has them.

Each library runs in a process of its own, single-threaded (BLAS, OpenMP and the libraries' own
pools pinned to one thread), so no library pays for another's imports or threads. Times are the
best of N after warm-up, in CPU time of the process: on a shared machine wall-clock time mostly
measures how long the process waited for a core (``--wall`` reports wall-clock time instead).
Every result is checked against tapeviz's before it is reported. The
target for (a)-(c) is at most 1.0x PyTorch's time; for (d) at most 3x one gradient. A miss prints
MISS; the script always exits 0.
"""
import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LIBRARIES = ("tapeviz", "torch", "tensorflow")
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS",
                    "NUMEXPR_NUM_THREADS", "TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")
WIDTH, BATCH, HESSIAN_DIM = 300, 64, 100
TARGET_VS_TORCH = 1.0
TARGET_HVP_VS_GRADIENT = 3.0
FIGURES = ("jacobian", "batch_jacobian", "hessian", "gradient", "hvp")


def problem():
    """The same float32 data in every process."""
    rng = np.random.default_rng(0)
    w = (rng.standard_normal((WIDTH, WIDTH)) / np.sqrt(WIDTH)).astype(np.float32)
    v = (rng.standard_normal((HESSIAN_DIM, HESSIAN_DIM)) / np.sqrt(HESSIAN_DIM)).astype(np.float32)
    return {"w": w, "v": v,
            "x1": rng.standard_normal((1, WIDTH)).astype(np.float32),
            "xb": rng.standard_normal((BATCH, WIDTH)).astype(np.float32),
            "xh": rng.standard_normal((1, HESSIAN_DIM)).astype(np.float32),
            "u": rng.standard_normal((1, HESSIAN_DIM)).astype(np.float32)}


def best_time(fn, repeats, clock=time.process_time):
    fn()  # warm-up: first calls pay for imports, caches and thread start-up
    best = float("inf")
    for _ in range(repeats):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


# --- workers: one library each ------------------------------------------------------------------
def gradienttape_figures(tf, data):
    """The figures for a library with TF's API (``tf``: tapeviz or TensorFlow), by the same code."""
    w, v = tf.constant(data["w"]), tf.constant(data["v"])

    def f(x, m):
        return tf.tanh(tf.tanh(x @ m) @ m)

    def jacobian(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = f(x, w)
        return tape.jacobian(y, x)

    def batch_jacobian(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = f(x, w)
        return tape.batch_jacobian(y, x)

    def hessian(x):
        with tf.GradientTape() as outer:
            outer.watch(x)
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = tf.reduce_sum(f(x, v))
            g = inner.gradient(y, x)
        return outer.jacobian(g, x)

    def gradient(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = tf.reduce_sum(f(x, v))
        return tape.gradient(y, x)

    def hvp(x, u):
        with tf.autodiff.ForwardAccumulator(x, u) as acc:
            with tf.GradientTape() as tape:
                tape.watch(x)
                y = tf.reduce_sum(f(x, v))
            g = tape.gradient(y, x)
        return acc.jvp(g)

    x1, xb, xh, u = (tf.constant(data[k]) for k in ("x1", "xb", "xh", "u"))
    return {"jacobian": (lambda: jacobian(x1), lambda r: r.numpy().reshape(WIDTH, WIDTH)),
            "batch_jacobian": (lambda: batch_jacobian(xb), lambda r: r.numpy()),
            "hessian": (lambda: hessian(xh), lambda r: r.numpy().reshape(HESSIAN_DIM, HESSIAN_DIM)),
            "gradient": (lambda: gradient(xh), lambda r: r.numpy().reshape(-1)),
            "hvp": (lambda: hvp(xh, u), lambda r: r.numpy().reshape(-1))}


def tapeviz_figures(data):
    sys.path.insert(0, ROOT)
    import tapeviz

    return gradienttape_figures(tapeviz, data)


def torch_figures(data):
    import torch
    from torch.autograd.functional import hessian, hvp, jacobian

    torch.set_num_threads(1)
    w, v = torch.from_numpy(data["w"]), torch.from_numpy(data["v"])

    def f(x, m):
        return torch.tanh(torch.tanh(x @ m) @ m)

    def scalar(x):
        return f(x, v).sum()

    def gradient(x):
        x = x.detach().requires_grad_(True)
        return torch.autograd.grad(scalar(x), x)[0]

    x1, xb, xh, u = (torch.from_numpy(data[k]) for k in ("x1", "xb", "xh", "u"))
    return {"jacobian": (lambda: jacobian(lambda x: f(x, w), x1, vectorize=True),
                         lambda r: r.numpy().reshape(WIDTH, WIDTH)),
            "batch_jacobian": (lambda: jacobian(lambda x: f(x, w).sum(0), xb, vectorize=True).permute(1, 0, 2),
                               lambda r: r.numpy()),
            "hessian": (lambda: hessian(scalar, xh, vectorize=True),
                        lambda r: r.numpy().reshape(HESSIAN_DIM, HESSIAN_DIM)),
            "gradient": (lambda: gradient(xh), lambda r: r.numpy().reshape(-1)),
            "hvp": (lambda: hvp(scalar, xh, u)[1], lambda r: r.numpy().reshape(-1))}


def tensorflow_figures(data):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    return gradienttape_figures(tf, data)  # the same code as tapeviz's, with the real TensorFlow


WORKERS = {"tapeviz": tapeviz_figures, "torch": torch_figures, "tensorflow": tensorflow_figures}


def run_worker(library, repeats, out_path, wall=False):
    data = problem()
    try:
        figures = WORKERS[library](data)
    except ImportError as error:
        result = {"skip": f"{type(error).__name__}: {error}"}
    else:
        result = {"times": {}, "values": {}}
        for name in FIGURES:
            compute, to_numpy = figures[name]
            result["times"][name] = best_time(compute, repeats if name != "batch_jacobian" else max(repeats // 3, 2),
                                              time.perf_counter if wall else time.process_time)
            result["values"][name] = to_numpy(compute()).tolist()
    with open(out_path, "w") as out:
        json.dump(result, out)


# --- driver -----------------------------------------------------------------------------------
def measure(library, python, repeats, wall=False):
    out_path = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"bench_jacobian_{library}_{os.getpid()}.json")
    env = dict(os.environ, **{name: "1" for name in THREAD_VARIABLES})
    command = [python, os.path.abspath(__file__), "--worker", library, "--repeats", str(repeats), "--out", out_path]
    if wall:
        command.append("--wall")
    completed = subprocess.run(command, env=env, capture_output=True, text=True)
    if completed.returncode != 0 or not os.path.exists(out_path):
        last = (completed.stderr.strip().splitlines() or ["no output"])[-1]
        return {"skip": f"worker failed: {last}"}
    with open(out_path) as handle:
        result = json.load(handle)
    os.remove(out_path)
    return result


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke run, not a measurement")
    parser.add_argument("--reference-python", default=os.environ.get("TAPEVIZ_REFERENCE_PYTHON", sys.executable),
                        help="the interpreter that runs PyTorch and TensorFlow (default: this one)")
    parser.add_argument("--wall", action="store_true", help="wall-clock time instead of the process's CPU time")
    parser.add_argument("--worker", choices=LIBRARIES, help=argparse.SUPPRESS)
    parser.add_argument("--repeats", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    repeats = args.repeats or (3 if args.quick else 15)
    if args.worker:
        run_worker(args.worker, repeats, args.out, args.wall)
        return
    results = {library: measure(library, sys.executable if library == "tapeviz" else args.reference_python, repeats,
                                args.wall) for library in LIBRARIES}
    print(f"times: best of {repeats} ({max(repeats // 3, 2)} for batch_jacobian), "
          f"{'wall-clock' if args.wall else 'process CPU'} time, single-threaded, forward pass included")
    report(results)


def report(results):
    ours = results["tapeviz"]
    if "skip" in ours:
        print(f"tapeviz could not run: {ours['skip']}")
        return
    for library in LIBRARIES[1:]:
        other = results[library]
        if "skip" in other:
            continue
        for name in FIGURES:
            a, b = np.asarray(ours["values"][name]), np.asarray(other["values"][name])
            if a.shape != b.shape or not np.allclose(a, b, rtol=1e-3, atol=1e-4 * max(np.abs(b).max(), 1e-30)):
                other["times"][name] = None
                print(f"note: {library}'s {name} disagrees with tapeviz's (max difference "
                      f"{np.max(np.abs(a - b)) if a.shape == b.shape else 'shape ' + str(b.shape)}); not compared")
    labels = {"jacobian": f"(a) jacobian, x 1x{WIDTH}", "batch_jacobian": f"(b) batch_jacobian, x {BATCH}x{WIDTH}",
              "hessian": f"(c) Hessian, {HESSIAN_DIM}-dim, nested tapes"}
    header = f"{'figure':<36}{'tapeviz':>11}{'torch':>11}{'TF eager':>11}{'vs torch':>10}  target"
    print(header)
    print("-" * len(header))

    def cell(library, name):
        result = results[library]
        if "skip" in result or result["times"].get(name) is None:
            return "skip"
        return f"{result['times'][name] * 1e3:.2f} ms"

    for name, label in labels.items():
        torch_time = None if "skip" in results["torch"] else results["torch"]["times"].get(name)
        ratio = ours["times"][name] / torch_time if torch_time else None
        verdict = "n/a" if ratio is None else ("PASS" if ratio <= TARGET_VS_TORCH else "MISS")
        print(f"{label:<36}{cell('tapeviz', name):>11}{cell('torch', name):>11}{cell('tensorflow', name):>11}"
              f"{'-' if ratio is None else f'{ratio:.2f}x':>10}  <= {TARGET_VS_TORCH:.1f}x {verdict}")
    ratios = {}
    for library in LIBRARIES:
        result = results[library]
        if "skip" not in result and result["times"].get("hvp") and result["times"].get("gradient"):
            ratios[library] = result["times"]["hvp"] / result["times"]["gradient"]
    hvp_ratio = ratios.get("tapeviz")
    print(f"{'(d) HVP / one gradient, ' + str(HESSIAN_DIM) + '-dim':<36}"
          + "".join(f"{(f'{ratios[lib]:.2f}x' if lib in ratios else 'skip'):>11}" for lib in LIBRARIES)
          + f"{'':>10}  <= {TARGET_HVP_VS_GRADIENT:.1f}x "
          + ("PASS" if hvp_ratio is not None and hvp_ratio <= TARGET_HVP_VS_GRADIENT else "MISS"))
    for library in LIBRARIES[1:]:
        if "skip" in results[library]:
            print(f"{library}: skip ({results[library]['skip']})")


if __name__ == "__main__":
    main()
