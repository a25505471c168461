"""How long the inspector's scope-aware layout takes on Keras models, beside the flat layout of the same graph.

Run ``python benchmarks/bench_scope_layout.py``. For a Sequential model of N Dense layers (every op
drawn, no folding: what "Expand all" shows) and a 3-layer functional MLP with its loss, one tape is
recorded; its graph is laid out as the inspector does (``graph.layout`` with the drawn box sizes),
once with its name scopes (each scope in one rectangle) and once with the scopes removed (the flat
layout the graph had before scopes were laid out). Best of 5, milliseconds. Target: the 200-layer
model (about 1,000 nodes) under 500 ms. The script reports; it exits 0.
"""
import os
import sys
import time

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import tapeviz as tf  # noqa: E402
from tapeviz import keras  # noqa: E402
from tapeviz.gui.graph import build_graph, fold_graph, layout  # noqa: E402
from tapeviz.gui.graph_items import HGAP, VGAP, size_of  # noqa: E402

TARGET_MS = 500.0


def sequential_graph(layers):
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8,))] + [keras.layers.Dense(8, activation="relu") for _ in range(layers)])
    with tf.record() as recorder:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(tf.random.normal((4, 8)))))
        tape.gradient(loss, model.trainable_variables)
    run = recorder.snapshot()
    return fold_graph(build_graph(run, next(iter(run.tapes))), repeats=False)[0]


def mlp_graph():
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    inputs = keras.Input((784,))
    hidden = keras.layers.Dense(64, activation="relu")(keras.layers.Dense(64, activation="relu")(inputs))
    model = keras.Model(inputs, keras.layers.Dense(10, name="predictions")(hidden))
    loss_fn = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    with tf.record() as recorder:
        with tf.GradientTape() as tape:
            loss = loss_fn(np.arange(64) % 10, model(tf.random.normal((64, 784)), training=True))
        tape.gradient(loss, model.trainable_variables)
    run = recorder.snapshot()
    return fold_graph(build_graph(run, next(iter(run.tapes))), repeats=False)[0]


def best_ms(graph, repeats=5):
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        layout(graph, hgap=HGAP, vgap=VGAP, width_of=lambda n: size_of(n.kind)[0],
               height_of=lambda n: size_of(n.kind)[1])
        best = min(best, time.perf_counter() - start)
    return best * 1000


def main():
    print(f"{'model':<22}{'nodes':>7}{'scopes':>8}{'with scopes':>13}{'flat':>9}  target")
    for name, make in [("functional MLP + loss", mlp_graph), ("Sequential 50 Dense", lambda: sequential_graph(50)),
                       ("Sequential 200 Dense", lambda: sequential_graph(200))]:
        graph = make()
        scoped = best_ms(graph)
        scopes = len(graph.scope_boxes)
        saved = {key: node.scope for key, node in graph.nodes.items()}
        for node in graph.nodes.values():
            node.scope = ""
        flat = best_ms(graph)
        for key, scope in saved.items():
            graph.nodes[key].scope = scope
        verdict = "PASS" if scoped <= TARGET_MS else "MISS"
        print(f"{name:<22}{len(graph.nodes):>7}{scopes:>8}{scoped:>11.1f}ms{flat:>7.1f}ms  "
              f"{TARGET_MS:.0f} ms {verdict}")


if __name__ == "__main__":
    main()
