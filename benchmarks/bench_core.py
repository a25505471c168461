"""Core performance figures for tapeviz, side by side with reference implementations.

Run ``python benchmarks/bench_core.py`` (or ``--quick`` for a smoke run). It prints one table:

  (a) a 2000-op scalar chain (``y = sin(y) * 1.01``, 1000 times), forward + backward, in us/op;
  (b) a 256x784-512-512-10 ReLU MLP forward + backward, as a ratio to the same step written by
      hand in numpy;
  (c) the same chain as (a) with 100k ops, in us/op and as a ratio to (a), to show linear scaling;
  (d) peak memory (tracemalloc) of (b), as a ratio to the hand-written numpy step;

each with tapeviz's target and PASS/MISS. PyTorch and HIPS autograd are measured as well when they
are importable; they are optional references, never dependencies of tapeviz, its tests or CI.

The machine this runs on is usually shared, so absolute times mean little: figures are ratios of
best-of-N times taken in interleaved rounds. A missed target is reported, not failed: the script
always exits 0.
"""
import argparse
import ctypes
import gc
import importlib
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np

# Benchmark the tapeviz of this checkout, not whichever copy happens to be installed.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

IMPLS = ("tapeviz", "numpy", "torch", "autograd")
HEADINGS = {"tapeviz": "tapeviz", "numpy": "numpy-hand", "torch": "torch", "autograd": "autograd"}

CHAIN_ITERS = 1_000        # x2 ops per iteration: 2000 ops
LONG_CHAIN_ITERS = 50_000  # 100k ops
CHAIN_START = 0.5
CHAIN_FACTOR = 1.01
BATCH, SIZES = 256, (784, 512, 512, 10)

SLOW_RUN_S = 10.0  # a chain run slower than this is timed once, to keep the whole run ~1 minute

TARGET_CHAIN_US = 5.0
TARGET_MLP_RATIO = 1.10
TARGET_SCALING = 1.30
TARGET_MEMORY_RATIO = 1.30

# Gradients are compared with rtol 1e-4; the atol is relative to the gradient's scale because
# float32 sums taken in a different order can leave near-zero entries with a large relative error.
GRAD_RTOL = 1e-4
GRAD_ATOL_SCALE = 1e-4


# --- environment -----------------------------------------------------------------------------

def blas_info():
    """(name and version, thread count or None) of the BLAS numpy is linked against."""
    try:
        blas = np.__config__.CONFIG["Build Dependencies"]["blas"]
        name = f"{blas['name']} {blas.get('version', '')}".strip()
    except (AttributeError, KeyError, TypeError):
        name = "unknown BLAS"
    return name, blas_threads()


def blas_threads():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        pass
    else:
        for info in threadpool_info():
            if info.get("user_api") == "blas":
                return info["num_threads"]
    # Without threadpoolctl, ask the OpenBLAS that numpy's wheels bundle (found via the loaded
    # libraries, Linux only) rather than guessing from environment variables.
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "openblas" in line.lower()}
    except OSError:
        return None
    for path in sorted(paths):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_",
                       "openblas_get_num_threads"):
            getter = getattr(lib, symbol, None)
            if getter is not None:
                return int(getter())
    return None


def load_modules(names=("tapeviz", "torch", "autograd")):
    """{impl: module} for numpy and each importable one of `names`, and {impl: reason} for the others."""
    modules, missing = {"numpy": np}, {}
    for name in names:
        try:
            modules[name] = importlib.import_module(name)
        except ImportError as exc:
            missing[name] = "not installed" if exc.name == name else f"import failed: {exc}"
        except Exception as exc:  # a half-written package should not stop the references
            missing[name] = f"import failed: {type(exc).__name__}: {exc}"
    return modules, missing


# --- timing and memory -----------------------------------------------------------------------

def best_times(steps, repeats, warmup=1, collect=True):
    """Best-of-`repeats` seconds for each zero-argument callable in `steps`.

    The callables run in interleaved rounds so that a busy spell on the shared machine slows all
    of them alike, and the minimum is kept because noise only ever adds time. Each run starts
    from a collected heap so runs are comparable. The cyclic GC stays on during runs unless
    `collect` is False: collections triggered by a tape's objects are a real cost to users, and
    turning them off only serves to tell how much of a slowdown is theirs.
    """
    for step in steps.values():
        for _ in range(warmup):
            step()
    times = {name: [] for name in steps}
    for _ in range(repeats):
        for name, step in steps.items():
            gc.collect()
            if not collect:
                gc.disable()
            try:
                start = time.perf_counter()
                step()
                times[name].append(time.perf_counter() - start)
            finally:
                gc.enable()
    return {name: min(ts) for name, ts in times.items()}


def peak_bytes(step):
    """Peak bytes allocated above the starting heap during one call of `step`.

    tracemalloc sees numpy's array buffers (numpy reports them to it) but not PyTorch's
    allocator, so it is only used for numpy-based implementations.
    """
    step()  # first-call caches are not per-step memory
    gc.collect()
    tracemalloc.start()
    try:
        result = step()  # noqa: F841  (kept alive until the peak is read: results count)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak


# --- (a) and (c): scalar chain ---------------------------------------------------------------

def chain_numpy(np_, n_iter):
    """The chain with its derivative by hand on numpy float32 scalars: the arithmetic, no tape."""
    factor = np.float32(CHAIN_FACTOR)

    def step():
        y, ys = np.float32(CHAIN_START), []
        for _ in range(n_iter):
            ys.append(y)
            y = np.sin(y) * factor
        grad = np.float32(1.0)
        for y in reversed(ys):
            grad = grad * factor * np.cos(y)
        return grad
    return step


def chain_tapeviz(tf, n_iter):
    x = tf.Variable(CHAIN_START)

    def step():
        with tf.GradientTape() as tape:
            y = x
            for _ in range(n_iter):
                y = tf.sin(y) * CHAIN_FACTOR
        return tape.gradient(y, x)
    return step


def chain_torch(torch, n_iter):
    x = torch.tensor(CHAIN_START, dtype=torch.float32, requires_grad=True)

    def step():
        y = x
        for _ in range(n_iter):
            y = torch.sin(y) * CHAIN_FACTOR
        return torch.autograd.grad(y, x)[0]
    return step


def chain_autograd(autograd, n_iter):
    import autograd.numpy as anp

    def chain(x):
        y = x
        for _ in range(n_iter):
            y = anp.sin(y) * CHAIN_FACTOR
        return y
    grad = autograd.grad(chain)
    x = np.float32(CHAIN_START)
    return lambda: grad(x)


# Builders take the implementation's module (numpy's own ignore it) and return a zero-argument
# step, so that set-up such as creating variables stays outside the timed region.
CHAIN_BUILDERS = {"tapeviz": chain_tapeviz, "numpy": chain_numpy,
                  "torch": chain_torch, "autograd": chain_autograd}


def chain_reference_grad(n_iter):
    """d y / d x of the chain in float64, to check every implementation against."""
    y, grad = CHAIN_START, 1.0
    for _ in range(n_iter):
        grad *= CHAIN_FACTOR * np.cos(y)
        y = np.sin(y) * CHAIN_FACTOR
    return grad


def measure_chain(modules, n_iter, repeats, errors, check, collect=True):
    """us/op of the chain for each implementation (errors go to `errors`)."""
    steps, seconds = {}, {}
    reference = chain_reference_grad(n_iter) if check else None
    for name, module in modules.items():
        try:
            step = CHAIN_BUILDERS[name](module, n_iter)
            start = time.perf_counter()
            grad = float(as_numpy(step()))
            first = time.perf_counter() - start
            if check and not np.isclose(grad, reference, rtol=1e-3, atol=0):
                raise AssertionError(f"gradient {grad:.6g} != reference {reference:.6g}")
        except Exception as exc:
            errors[name] = describe(exc)
            continue
        # One very slow run is figure enough, and repeating it would blow the time budget.
        if first > SLOW_RUN_S:
            seconds[name] = first
        else:
            steps[name] = step
    # The first call above already warmed each step up.
    seconds.update(best_times(steps, repeats, warmup=0, collect=collect))
    return {name: s / (2 * n_iter) * 1e6 for name, s in seconds.items()}


# --- (b) and (d): ReLU MLP -------------------------------------------------------------------

def mlp_data(seed=0):
    """Input batch and [w1, b1, w2, b2, w3, b3], float32, He-initialised, fixed seed."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((BATCH, SIZES[0])).astype(np.float32)
    params = []
    for fan_in, fan_out in zip(SIZES[:-1], SIZES[1:]):
        params.append((rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(np.float32))
        # Non-zero biases: with zero ones, a forward pass that dropped a bias would go unnoticed.
        params.append((0.1 * rng.standard_normal(fan_out)).astype(np.float32))
    return x, params


def mlp_numpy(np_, x, params):
    """The step as a careful numpy programmer writes it: in-place bias and ReLU, no gradient for
    the input batch, masks taken from the ReLU outputs (equal to pre-activation > 0)."""
    w1, b1, w2, b2, w3, b3 = params

    def step():
        h1 = x @ w1
        h1 += b1
        np.maximum(h1, 0, out=h1)
        h2 = h1 @ w2
        h2 += b2
        np.maximum(h2, 0, out=h2)
        out = h2 @ w3
        out += b3
        loss = np.mean(out * out)  # noqa: F841  (every implementation computes the loss)

        d_out = out * np.float32(2.0 / out.size)
        g_w3, g_b3 = h2.T @ d_out, d_out.sum(axis=0)
        d_h2 = d_out @ w3.T
        d_h2 *= h2 > 0
        g_w2, g_b2 = h1.T @ d_h2, d_h2.sum(axis=0)
        d_h1 = d_h2 @ w2.T
        d_h1 *= h1 > 0
        g_w1, g_b1 = x.T @ d_h1, d_h1.sum(axis=0)
        return [g_w1, g_b1, g_w2, g_b2, g_w3, g_b3]
    return step


def mlp_tapeviz(tf, x, params):
    xs = tf.constant(x)
    variables = [tf.Variable(p) for p in params]
    w1, b1, w2, b2, w3, b3 = variables

    def step():
        with tf.GradientTape() as tape:
            h1 = tf.nn.relu(xs @ w1 + b1)
            h2 = tf.nn.relu(h1 @ w2 + b2)
            out = h2 @ w3 + b3
            loss = tf.reduce_mean(out * out)
        return tape.gradient(loss, variables)
    return step


def mlp_torch(torch, x, params):
    xs = torch.from_numpy(x)
    tensors = [torch.from_numpy(p.copy()).requires_grad_() for p in params]
    w1, b1, w2, b2, w3, b3 = tensors

    def step():
        h1 = torch.relu(xs @ w1 + b1)
        h2 = torch.relu(h1 @ w2 + b2)
        out = h2 @ w3 + b3
        loss = torch.mean(out * out)
        return torch.autograd.grad(loss, tensors)
    return step


def mlp_autograd(autograd, x, params):
    import autograd.numpy as anp

    def loss_fn(ps):
        w1, b1, w2, b2, w3, b3 = ps
        h1 = anp.maximum(anp.matmul(x, w1) + b1, 0.0)
        h2 = anp.maximum(anp.matmul(h1, w2) + b2, 0.0)
        out = anp.matmul(h2, w3) + b3
        return anp.mean(out * out)
    grad = autograd.grad(loss_fn)
    params = list(params)
    return lambda: grad(params)


MLP_BUILDERS = {"tapeviz": mlp_tapeviz, "numpy": mlp_numpy,
                "torch": mlp_torch, "autograd": mlp_autograd}
MEMORY_VISIBLE = ("tapeviz", "numpy", "autograd")  # tracemalloc cannot see torch's allocator


def check_grads(got, want):
    """None if the gradient lists agree, else a description of the first mismatch."""
    if len(got) != len(want):
        return f"{len(got)} gradients, expected {len(want)}"
    for i, (g, w) in enumerate(zip(got, want)):
        g = as_numpy(g)
        if g.shape != w.shape:
            return f"gradient {i}: shape {g.shape}, expected {w.shape}"
        if not np.allclose(g, w, rtol=GRAD_RTOL, atol=GRAD_ATOL_SCALE * np.abs(w).max()):
            return f"gradient {i}: max abs diff {np.abs(g - w).max():.3g} (scale {np.abs(w).max():.3g})"
    return None


def build_mlp_steps(modules, errors):
    """Checked MLP steps: an implementation whose gradients disagree with numpy is not timed."""
    x, params = mlp_data()
    reference = mlp_numpy(np, x, params)()
    steps = {}
    for name, module in modules.items():
        try:
            step = MLP_BUILDERS[name](module, x, params)
            if name != "numpy":
                problem = check_grads(step(), reference)
                verdict = "passed" if problem is None else f"FAILED ({problem}); not timed"
                print(f"check: {name} MLP gradients vs hand-written numpy "
                      f"(allclose, rtol {GRAD_RTOL:.0e}): {verdict}")
                if problem is not None:
                    errors[name] = "wrong gradients"
                    continue
            steps[name] = step
        except Exception as exc:
            errors[name] = describe(exc)
    return steps


def measure_mlp_memory(steps, errors):
    """Peak bytes per step for the implementations whose memory tracemalloc can see."""
    peaks = {}
    for name, step in steps.items():
        if name in MEMORY_VISIBLE:
            try:
                peaks[name] = peak_bytes(step)
            except Exception as exc:
                errors[name] = describe(exc)
    return peaks


# --- report ----------------------------------------------------------------------------------

def as_numpy(value):
    if hasattr(value, "detach"):
        value = value.detach()
    if hasattr(value, "numpy"):
        value = value.numpy()
    return np.asarray(value)


def version(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return getattr(sys.modules.get(name), "__version__", "?")


def describe(exc):
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:160]


class Table:
    LABEL, CELL = 36, 12

    def __init__(self, impls, missing):
        self.impls, self.missing, self.notes = impls, missing, {}
        heading = "".join(f"{HEADINGS[i]:>{self.CELL}}" for i in impls)
        print(f"{'figure':<{self.LABEL}}{heading}{'target':>{self.CELL}}  status")
        print("-" * (self.LABEL + self.CELL * (len(impls) + 1) + 8))

    def row(self, label, values, fmt, errors=None, target=None):
        """One line: `values` {impl: number}; the target applies to tapeviz only."""
        errors = errors or {}
        cells = []
        for impl in self.impls:
            if impl in values:
                text = fmt.format(values[impl])
            elif impl in self.missing:
                text = "skip"
            elif impl in errors:
                text = "error"
                self.notes.setdefault((impl, errors[impl]), label.strip())
            else:
                text = "n/a"
            cells.append(f"{text:>{self.CELL}}")
        status = ""
        if target is not None:
            value = values.get("tapeviz")
            status = "n/a" if value is None else ("PASS" if value <= target else "MISS")
        target_text = f"<= {fmt.format(target)}" if target is not None else ""
        print(f"{label:<{self.LABEL}}{''.join(cells)}{target_text:>{self.CELL}}  {status}")

    def footer(self):
        for impl in self.impls:
            if impl in self.missing:
                print(f"{impl}: {self.missing[impl]} (skipped)")
        for (impl, error), label in self.notes.items():
            print(f"error: {impl} in {label}: {error}")


def ratios(values, base):
    return {k: v / values[base] for k, v in values.items()} if base in values else {}


# --- one process per library -----------------------------------------------------------------
#
# Each library is measured in a worker process of its own, interleaved with the hand-written numpy
# step, and its ratios are taken against that process's numpy figures. Loading PyTorch and
# autograd into one process slowed every numpy-based figure there by 5-10% and tapeviz's MLP ratio
# by about 0.03 (torch's OpenMP runtime and a heap of ~170k more objects for each run's
# gc.collect() to sweep out of the caches): a library should not pay for another one's imports.

def set_up_torch(torch):
    """Torch with numpy's BLAS thread count, so the MLP compares libraries, not core counts; a note."""
    _, threads = blas_info()
    if threads:
        torch.set_num_threads(threads)
    return (f"torch {torch.__version__} ({torch.get_num_threads()} threads"
            f"{', set = BLAS threads' if threads else ', its default'})")


def worker(impl, quick, out_path):
    """Measure ``impl`` beside hand-written numpy in this process; write the results as JSON."""
    modules, missing = load_modules([impl])
    report = {"missing": missing.get(impl), "note": None, "results": None}
    if impl in modules:
        if impl == "torch":
            report["note"] = set_up_torch(modules["torch"])
        elif impl in ("tapeviz", "autograd"):
            report["note"] = f"{impl} {version(impl)}"
        report["results"] = measure_all(modules, *repeat_counts(quick))
    with open(out_path, "w") as out:
        json.dump(report, out)


def run_worker(impl, quick):
    """The worker's report for ``impl``, run as ``bench_core.py --worker impl`` (its prints pass through)."""
    with tempfile.TemporaryDirectory() as tmp:
        out_path = os.path.join(tmp, "report.json")
        command = [sys.executable, os.path.abspath(__file__), "--worker", impl, "--out", out_path]
        if quick:
            command.append("--quick")
        status = subprocess.run(command).returncode
        if status != 0 or not os.path.exists(out_path):
            return {"missing": None, "note": None, "results": None, "crashed": f"worker exited with status {status}"}
        with open(out_path) as report:
            return json.load(report)


def merge(reports):
    """One table's figures from the workers: each library's values from its own process; numpy's
    columns from the first process that measured it; ratios within each process."""
    merged = {key: ({}, {}) for key in ("chain", "mlp", "mlp_ratio", "long", "scaling", "scaling_nogc",
                                        "memory", "memory_ratio")}
    missing = {}
    for impl, report in reports.items():
        if report.get("crashed"):
            for values, errors in merged.values():
                errors[impl] = report["crashed"]
            continue
        if report["missing"]:
            missing[impl] = report["missing"]
            continue
        results = report["results"]
        for key in ("chain", "mlp", "long", "memory"):
            values, errors = results[key]
            for name in (impl, "numpy"):
                if name in values:
                    merged[key][0].setdefault(name, values[name])
                elif name in errors:
                    merged[key][1].setdefault(name, errors[name])
        for key, figure in (("mlp_ratio", "mlp"), ("memory_ratio", "memory")):
            values, errors = results[figure]
            ratio = ratios(values, "numpy")
            for name in (impl, "numpy"):
                if name in ratio:
                    merged[key][0].setdefault(name, ratio[name])
            merged[key][1].update({k: v for k, v in errors.items() if k == impl})
        for key, (long, short) in (("scaling", ("long", "chain")), ("scaling_nogc", ("long_nogc", "chain_nogc"))):
            (long_us, long_errors), (short_us, short_errors) = results[long], results[short]
            for name in (impl, "numpy"):
                if name in long_us and name in short_us:
                    merged[key][0].setdefault(name, long_us[name] / short_us[name])
                elif name in long_errors or name in short_errors:
                    merged[key][1].setdefault(name, long_errors.get(name) or short_errors.get(name))
    return merged, missing


def print_header(quick, notes):
    blas_name, threads = blas_info()
    print(f"bench_core{' --quick' if quick else ''}: python {platform.python_version()}  "
          f"numpy {np.__version__}  BLAS {blas_name} ({threads or '?'} threads)  cpus {os.cpu_count()}"
          + "".join(f"  {note}" for note in notes))
    print("times: best of {} (a), {} (b), {} (c) interleaved runs after warm-up; float32 throughout; "
          "each library in its own process beside hand-written numpy".format(*repeat_counts(quick)))


def measure_all(modules, chain_repeats, mlp_repeats, long_repeats):
    """{figure: ({impl: value}, {impl: error})} for every figure of the table."""
    results = {}

    def figure(key, fn, *args, **kwargs):
        errors = {}
        results[key] = (fn(*args, errors=errors, **kwargs), errors)
        return results[key][0]

    figure("chain", measure_chain, modules, CHAIN_ITERS, chain_repeats, check=True)
    mlp_errors = {}
    mlp_steps = build_mlp_steps(modules, mlp_errors)
    results["mlp"] = (best_times(mlp_steps, mlp_repeats, warmup=2), mlp_errors)
    figure("long", measure_chain, modules, LONG_CHAIN_ITERS, long_repeats, check=False)
    peaks = figure("memory", measure_mlp_memory, mlp_steps)
    results["memory"][1].update({k: v for k, v in mlp_errors.items() if k not in peaks})
    # Diagnostic only: how much of any super-linear cost is the cyclic GC's.
    figure("chain_nogc", measure_chain, modules, CHAIN_ITERS, chain_repeats, check=False, collect=False)
    figure("long_nogc", measure_chain, modules, LONG_CHAIN_ITERS, long_repeats, check=False, collect=False)
    return results


def print_table(merged, impls, missing):
    def row(label, key, fmt, target=None):
        values, errors = merged[key]
        table.row(label, values, fmt, errors, target)

    table = Table(impls, missing)
    row(f"(a) {2 * CHAIN_ITERS}-op chain, us/op", "chain", "{:.2f}", TARGET_CHAIN_US)
    row("(b) MLP fwd+bwd, x numpy-hand", "mlp_ratio", "{:.2f}x", TARGET_MLP_RATIO)
    values, errors = merged["mlp"]
    table.row("      ms per step", {k: v * 1e3 for k, v in values.items()}, "{:.2f}", errors)
    row(f"(c) {2 * LONG_CHAIN_ITERS // 1000}k-op chain, us/op", "long", "{:.2f}")
    row("      ratio to (a)", "scaling", "{:.2f}x", TARGET_SCALING)
    row("      ratio to (a), GC off", "scaling_nogc", "{:.2f}x")
    row("(d) MLP peak memory, x numpy-hand", "memory_ratio", "{:.2f}x", TARGET_MEMORY_RATIO)
    values, errors = merged["memory"]
    table.row("      MiB above baseline", {k: v / 2**20 for k, v in values.items()}, "{:.2f}", errors)
    print()
    table.footer()


def repeat_counts(quick):
    """Best-of counts for (a), (b) and (c)."""
    return (3, 3, 1) if quick else (15, 50, 5)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repeats: a smoke run, not a measurement")
    parser.add_argument("--worker", choices=[i for i in IMPLS if i != "numpy"], help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        worker(args.worker, args.quick, args.out)
        return 0

    reports = {impl: run_worker(impl, args.quick) for impl in IMPLS if impl != "numpy"}
    merged, missing = merge(reports)
    print()
    print_header(args.quick, [r["note"] for r in reports.values() if r.get("note")])
    print()
    print_table(merged, list(IMPLS), missing)
    print("numpy-hand: figures from the tapeviz process; every ratio is taken against the numpy-hand "
          "step measured in the same process")
    print("GC off: the (c)/(a) ratio again with Python's cyclic GC paused during runs; "
          "a diagnostic, no target")
    if "torch" not in missing:
        print("torch memory: n/a, tracemalloc cannot see PyTorch's allocator")
    return 0  # a missed target is reported above, never an exit status


if __name__ == "__main__":
    sys.exit(main())
