"""What Keras's ``fit`` costs over the training loop a tutorial writes by hand, on the same MLP.

Both train a 256x784-512-512-10 ReLU MLP with Adam and sparse cross-entropy for one epoch of 8 batches:
one through ``model.fit``, one through a ``GradientTape`` loop with ``optimizer.apply_gradients``.
Times are process CPU time (other processes stretch wall time on shared machines), best of interleaved
repeats after a warm-up. Run: ``python benchmarks/bench_fit.py`` (about 10 s).
"""
import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # single thread, as the other benchmarks
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import time  # noqa: E402

import numpy as np  # noqa: E402

import tapeviz as tf  # noqa: E402

BATCH, STEPS, REPEATS = 256, 8, 5


def make_model():
    model = tf.keras.Sequential([tf.keras.Input(shape=(784,)), tf.keras.layers.Dense(512, activation="relu"),
                                 tf.keras.layers.Dense(512, activation="relu"), tf.keras.layers.Dense(10)])
    model.compile(optimizer="adam", loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    return model


def main():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH * STEPS, 784)).astype(np.float32)
    y = rng.integers(0, 10, BATCH * STEPS)
    fit_model, loop_model = make_model(), make_model()
    loss_fn = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    optimizer = tf.keras.optimizers.Adam()

    def by_fit():
        fit_model.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)

    def by_hand():
        for step in range(STEPS):
            batch = slice(step * BATCH, (step + 1) * BATCH)
            with tf.GradientTape() as tape:
                loss = loss_fn(y[batch], loop_model(x[batch], training=True))
            gradients = tape.gradient(loss, loop_model.trainable_variables)
            optimizer.apply_gradients(zip(gradients, loop_model.trainable_variables))

    by_fit(), by_hand()
    fit_times, hand_times = [], []
    for _ in range(REPEATS):
        start = time.process_time()
        by_fit()
        fit_times.append(time.process_time() - start)
        start = time.process_time()
        by_hand()
        hand_times.append(time.process_time() - start)
    fit_ms, hand_ms = min(fit_times) / STEPS * 1e3, min(hand_times) / STEPS * 1e3
    print(f"{'training step':<28}{'ms/step':>10}")
    print(f"{'model.fit':<28}{fit_ms:>10.2f}")
    print(f"{'GradientTape loop by hand':<28}{hand_ms:>10.2f}")
    print(f"fit / hand-written loop: {fit_ms / hand_ms:.3f}x")


if __name__ == "__main__":
    main()
