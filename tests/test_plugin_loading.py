"""Loading plugins: once, under a lock, and every way a plugin can go wrong named in one line.

Loading happens once per process, so tests that need the first load run in a subprocess.
"""
import json
import subprocess
import sys
import textwrap

from plugin_dist import env_with_path, write_plugin_dist

FIRST_USE_IN_THREADS = textwrap.dedent("""
    import json, threading, warnings
    import tapeviz as tf
    import tapeviz.core.plugins as plugins

    loads = []
    original = plugins.load_one
    plugins.load_one = lambda info, plugin: (loads.append(info.name), original(info, plugin))[1]
    warnings.simplefilter("ignore")
    THREADS = 12
    start = threading.Barrier(THREADS)
    results, errors = [], []

    def first_use(n):
        x = tf.Variable(float(n))
        start.wait()
        try:
            with tf.GradientTape() as tape:      # the first tape of the process: loads the plugins
                y = x * x + tf.sin(x)
            results.append(float(tape.gradient(y, x)))
        except Exception as error:
            errors.append(f"{type(error).__name__}: {error}")

    threads = [threading.Thread(target=first_use, args=(n,)) for n in range(THREADS)]
    for t in threads: t.start()
    for t in threads: t.join()
    print(json.dumps({"results": len(results), "errors": errors, "loads": loads,
                      "broken": [p.name for p in plugins.plugins if p.broken]}))
""")


def test_threads_using_a_tape_for_the_first_time_at_once_all_get_their_gradient():
    done = subprocess.run([sys.executable, "-c", FIRST_USE_IN_THREADS], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["errors"] == [] and report["results"] == 12, report["errors"]
    assert report["broken"] == []
    assert len(report["loads"]) == len(set(report["loads"])), "a plugin was loaded twice"
    assert "tapeviz.math_grad" in report["loads"]
