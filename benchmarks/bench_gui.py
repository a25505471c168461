"""How fast the tape inspector's graph view opens and repaints large tapes (offscreen Qt).

Run ``python benchmarks/bench_gui.py`` (``--quick`` skips the 10,000-op runs). For tapes of
1,000 and 10,000 recorded ops, a ``sin(y) * 1.01`` chain and a wider random DAG of matmuls and
adds, it prints:

  open+draw   ``set_graph`` until ``layout_ready`` and the first paint, every op drawn
              (``collapse_scopes(False)``) and as opened by default (scopes collapsed > 2,000 nodes);
  UI thread   the part of that spent on the UI thread (creating items), and the longest gap
              between 5 ms timer ticks while the worker laid the graph out;
  repaints    the mean time of a repaint after panning, at three zoom levels (whole graph, the
              mid level without text, and 1:1 with labels), and of a wheel-zoom step.

Target: a 10,000-op tape opens and draws within 2 s. A miss prints MISS; the script exits 0.
"""
import argparse
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402
from PySide6 import QtCore, QtGui, QtWidgets  # noqa: E402

import tapeviz as tf  # noqa: E402
from tapeviz.gui.graph_view import GraphView  # noqa: E402

OPEN_TARGET_S = 2.0       # for 10,000 ops
REPAINT_TARGET_MS = 50.0  # 20 frames a second while panning or zooming


def chain_run(ops):
    """``y = sin(y) * 1.01``: two ops per step, one long line of layers."""
    with tf.record() as rec:
        x = tf.Variable(0.5, name="x")
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = x
            for _ in range(ops // 2):
                y = tf.sin(y) * 1.01
    return rec.snapshot()


def dag_run(ops, width=40, seed=0):
    """Each op a matmul or add of two recent results: a wide, tangled DAG, as real models are."""
    rng = np.random.default_rng(seed)
    with tf.record() as rec:
        weights = [tf.Variable(rng.normal(size=(4, 4)) * 0.3, name=f"dense_{i}/kernel") for i in range(8)]
        with tf.GradientTape():
            pool = list(weights)
            for i in range(ops):
                a, b = (pool[j] for j in rng.integers(max(0, len(pool) - width), len(pool), size=2))
                pool.append(tf.matmul(a, b) if i % 2 else a + b)
    return rec.snapshot()


def open_and_draw(view, run, collapse):
    """Seconds from set_graph to layout_ready plus the first paint; UI-thread draw time; longest tick gap."""
    view.collapse_scopes(collapse)
    view.set_graph(run, next(iter(run.tapes)))   # collapse_scopes above may start a plan: this supersedes it
    ticks = []
    timer = QtCore.QTimer(interval=5, timeout=lambda: ticks.append(time.perf_counter()))
    loop = QtCore.QEventLoop()
    view.layout_ready.connect(loop.quit)
    drawn = []
    original = view._draw

    def timed_draw(plan):
        start = time.perf_counter()
        original(plan)
        drawn.append(time.perf_counter() - start)

    view._draw = timed_draw
    start = time.perf_counter()
    timer.start()
    QtCore.QTimer.singleShot(60_000, loop.quit)
    loop.exec()
    timer.stop()
    view.viewport().repaint()
    total = time.perf_counter() - start
    view._draw = original
    view.layout_ready.disconnect(loop.quit)
    gaps = np.diff([start] + ticks) if ticks else [total]
    return total, drawn[-1] if drawn else float("nan"), float(np.max(gaps))


def repaint_ms(view, scale, rounds=12):
    """Mean ms per repaint while panning at ``scale`` (1.0 = natural size), and per wheel-zoom step."""
    view.setTransform(QtGui.QTransform.fromScale(scale, scale))
    middle = view.graph().nodes[view._plan.keys[len(view._plan.keys) // 2]]
    view.centerOn(middle.x, middle.y)   # a node, not the scene's centre: that may be empty space
    view._apply_lod()
    view.viewport().repaint()
    bar = view.horizontalScrollBar()
    start = time.perf_counter()
    for i in range(rounds):
        bar.setValue(bar.value() + (150 if i % 2 == 0 else -100))
        view.viewport().repaint()
    pan = (time.perf_counter() - start) / rounds * 1000
    start = time.perf_counter()
    for i in range(rounds):
        view.zoom(1.1 if i % 2 == 0 else 1 / 1.1)
        view.viewport().repaint()
    zoom = (time.perf_counter() - start) / rounds * 1000
    return pan, zoom


def verdict(value, target):
    return "PASS" if value <= target else "MISS"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000-op tapes only")
    args = parser.parse_args()
    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication([])
    view = GraphView()
    view.resize(1280, 800)
    view.show()
    app.processEvents()
    sizes = (1_000,) if args.quick else (1_000, 10_000)
    print(f"tapeviz graph view, offscreen Qt, {os.cpu_count()} CPUs; target: 10,000 ops open+draw <= "
          f"{OPEN_TARGET_S:.1f} s, repaints <= {REPAINT_TARGET_MS:.0f} ms\n")
    print(f"{'tape':<14}{'ops':>7}{'nodes':>8}{'edges':>8}  {'mode':<10}{'open+draw':>11}{'UI part':>9}"
          f"{'max gap':>9}  {'target':>7}")
    repaints = []
    for name, make in (("chain", chain_run), ("random DAG", dag_run)):
        for ops in sizes:
            run = make(ops)
            recorded = len(run.tapes[next(iter(run.tapes))].ops)
            for mode, collapse in (("all ops", False), ("default", None)):
                total, ui, gap = open_and_draw(view, run, collapse)
                target = OPEN_TARGET_S if ops >= 10_000 else OPEN_TARGET_S / 5
                print(f"{name:<14}{recorded:>7}{view.node_count():>8}{view.edge_count():>8}  {mode:<10}"
                      f"{total:>10.2f}s{ui:>8.2f}s{gap * 1000:>7.0f}ms  {target:>6.1f}s {verdict(total, target)}")
            open_and_draw(view, run, False)
            view.fit()
            whole = view.transform().m11()
            for level, scale in (("whole graph", whole), ("mid, no text", 0.3), ("1:1, labels", 1.0)):
                pan, zoom = repaint_ms(view, scale)
                repaints.append((f"{name} {recorded}", level, pan, zoom))
    print(f"\n{'repaints':<22}{'zoom level':<15}{'pan':>9}{'wheel zoom':>12}  {'target':>7}")
    for tape, level, pan, zoom in repaints:
        worst = max(pan, zoom)
        print(f"{tape:<22}{level:<15}{pan:>7.1f}ms{zoom:>10.1f}ms  {REPAINT_TARGET_MS:>5.0f}ms "
              f"{verdict(worst, REPAINT_TARGET_MS)}")
    view.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
