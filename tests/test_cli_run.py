"""``tapeviz run`` loses nothing: bad ``-o`` paths refused before the script runs, a failed save
kept to one line, exits as plain Python's (``sys.exit``, Ctrl+C, SIGTERM), threads recorded, one
JSON document with ``--json``, and no control character from a file or a user reaching the terminal.
"""
import json
import os
import resource
import signal
import subprocess
import sys
import textwrap

import pytest

from plugin_dist import env_with_path, write_plugin_dist

ENV = {**os.environ, "PYTHONWARNINGS": "ignore"}
TAPE = textwrap.dedent("""
    import sys
    import tapeviz as tf
    x = tf.Variable(2.0, name="x")
    with tf.GradientTape() as tape:
        y = x * x
    print("dy/dx =", float(tape.gradient(y, x)), flush=True)
""")


def tapeviz(*args, cwd=None, **kwargs):
    return subprocess.run([sys.executable, "-m", "tapeviz", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=120, env=ENV, **kwargs)


def write(tmp_path, body, name="script.py"):
    path = tmp_path / name
    path.write_text(TAPE + textwrap.dedent(body))
    return path


def shown(path):
    done = tapeviz("show", path, "--json")
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def one_line_error(done):
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("tapeviz: error: "), done.stderr
    assert "Traceback" not in done.stderr
    return lines[0]


# ---- the -o path is checked before the script runs -------------------------------------------------

def read_only_directory(tmp_path):
    """A directory this process cannot create files in (root ignores permission bits: use /sys)."""
    if os.geteuid() == 0:
        return "/sys"
    directory = tmp_path / "read-only"
    directory.mkdir()
    directory.chmod(0o555)
    return directory


@pytest.mark.parametrize("where, message", [
    (lambda tmp: tmp / "no-such-dir" / "run.tapeviz", "does not exist"),
    (lambda tmp: os.path.join(read_only_directory(tmp), "run.tapeviz"), "cannot write in"),
    (lambda tmp: tmp, "it is a directory"),
])
def test_an_unwritable_output_path_is_refused_before_the_script_runs(tmp_path, where, message):
    marker = tmp_path / "ran"
    script = write(tmp_path, f"open({str(marker)!r}, 'w').close()\n")
    done = tapeviz("run", script, "-o", where(tmp_path))
    assert done.returncode == 2
    assert message in one_line_error(done)
    assert not marker.exists(), "the script ran although its run could not be saved"


def test_a_save_that_fails_after_the_run_keeps_the_summary_and_the_scripts_status(tmp_path):
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    script = write(tmp_path, f"import shutil\nshutil.rmtree({str(out_dir)!r})\nsys.exit(3)\n")
    done = tapeviz("run", script, "-o", out_dir / "run.tapeviz")
    assert done.returncode == 3
    assert "could not save the run to" in one_line_error(done)
    assert "dy/dx = 4.0" in done.stdout and "1 gradient calls" in done.stdout


def test_a_full_disk_while_saving_keeps_the_summary_and_the_scripts_status(tmp_path):
    script = write(tmp_path, "sys.exit(4)\n")
    limit = 512  # files may not grow past this (the tape file needs more): saving fails as on a full disk

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = tapeviz("run", script, "-o", tmp_path / "run.tapeviz", preexec_fn=small_files)
    assert done.returncode == 4
    assert "could not save the run to" in one_line_error(done)
    assert "dy/dx = 4.0" in done.stdout and "1 gradient calls" in done.stdout


# ---- exits as plain Python's ---------------------------------------------------------------------

def test_sys_exit_with_a_message_prints_it_and_exits_1(tmp_path):
    script = write(tmp_path, "sys.exit('stopping: bad input')\n")
    done = tapeviz("run", script, "-o", tmp_path / "run.tapeviz")
    plain = subprocess.run([sys.executable, script], capture_output=True, text=True, timeout=60, env=ENV)
    assert done.returncode == plain.returncode == 1
    assert "stopping: bad input" in done.stderr and plain.stderr.strip() == "stopping: bad input"
    assert len(shown(tmp_path / "run.tapeviz")["calls"]) == 1


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_exits_like_a_shell_reports_it_with_the_run_so_far_saved(tmp_path, signum, status):
    script = write(tmp_path, "import time\nprint('ready', flush=True)\ntime.sleep(60)\n")
    out = tmp_path / "run.tapeviz"
    process = subprocess.Popen([sys.executable, "-m", "tapeviz", "run", str(script), "-o", str(out)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    try:
        for line in process.stdout:
            if line.strip() == "ready":
                break
        process.send_signal(signum)
        stdout, stderr = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == status, stderr
    assert "1 gradient calls" in stdout
    assert len(shown(out)["calls"]) == 1


def test_non_daemon_threads_are_recorded_until_they_finish(tmp_path):
    script = write(tmp_path, """
        import threading, time

        def late_gradient():
            time.sleep(0.5)
            w = tf.Variable(3.0, name="w")
            with tf.GradientTape() as t:
                z = w * w * w
            print("dz/dw =", float(t.gradient(z, w)), flush=True)

        threading.Thread(target=late_gradient).start()
    """)
    done = tapeviz("run", script, "-o", tmp_path / "run.tapeviz")
    assert done.returncode == 0, done.stderr
    assert "dz/dw = 27.0" in done.stdout and "2 gradient calls" in done.stdout
    assert len(shown(tmp_path / "run.tapeviz")["calls"]) == 2


# ---- --json: exactly one JSON document on stdout ------------------------------------------------

SPEAKS = "import os\nprint('from Python')\nos.write(1, b'from C\\n')\n"


@pytest.mark.parametrize("command", ["run", "explain"])
def test_json_stdout_is_one_document_and_the_scripts_output_goes_to_stderr(tmp_path, command):
    script = write(tmp_path, SPEAKS)
    done = tapeviz(command, script, "--json")
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # the whole of stdout
    assert isinstance(document, dict)
    for said in ("dy/dx = 4.0", "from Python", "from C"):
        assert said in done.stderr and said not in done.stdout


def test_json_out_writes_the_document_to_a_file_and_leaves_stdout_to_the_script(tmp_path):
    script = write(tmp_path, SPEAKS)
    done = tapeviz("run", script, "--json-out", tmp_path / "summary.json", "-q")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["dy/dx = 4.0", "from Python", "from C"]
    assert len(json.loads((tmp_path / "summary.json").read_text())["calls"]) == 1


# ---- control characters from files and users are escaped ---------------------------------------

ESCAPE = "\x1b]0;pwned\x07\x1b[2J"


def assert_escaped(text):
    assert "\x1b" not in text and "\x07" not in text
    assert "\\x1b" in text


def strings_in(document):
    if isinstance(document, dict):
        return [s for value in document.values() for s in strings_in(value)]
    if isinstance(document, list):
        return [s for value in document for s in strings_in(value)]
    return [document] if isinstance(document, str) else []


def test_a_name_with_an_escape_sequence_reaches_the_terminal_escaped(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(f"import tapeviz as tf\nx = tf.Variable(2.0, name={ESCAPE!r})\nc = tf.constant(1.0)\n"
                      "with tf.GradientTape() as tape:\n    y = x * c\ntape.gradient(y, [x, c])\n")
    out = tmp_path / "run.tapeviz"
    done = tapeviz("run", script, "-o", out)
    assert done.returncode == 0, done.stderr
    assert_escaped(done.stdout)
    assert_escaped(tapeviz("show", out).stdout)
    assert "\x1b" not in tapeviz("explain", out).stdout
    assert ESCAPE + ":0" in strings_in(shown(out))  # JSON keeps the name as it is (JSON escapes it itself)


def test_a_path_with_an_escape_sequence_is_escaped_in_the_error(tmp_path):
    done = tapeviz("show", f"missing{ESCAPE}.tapeviz", cwd=tmp_path)
    assert done.returncode == 2
    assert_escaped(done.stderr)


def test_a_plugin_error_with_an_escape_sequence_is_escaped(tmp_path):
    site = write_plugin_dist(tmp_path, "escplugin", "1.0", {"escplugin": "escplugin_mod"},
                             {"escplugin_mod": f"raise ImportError({ESCAPE!r})\n"})
    for args in (["plugins"], ["check", "--plugin", "escplugin"]):
        done = subprocess.run([sys.executable, "-m", "tapeviz", *args], capture_output=True, text=True,
                              timeout=120, env=env_with_path(site, PYTHONWARNINGS="ignore"))
        assert "escplugin" in done.stdout
        assert_escaped(done.stdout)


# ---- more ways to lose work, refused before the script runs -------------------------------------

def test_output_onto_the_script_itself_is_refused(tmp_path):
    script = write(tmp_path, "")
    before = script.read_text()
    done = tapeviz("run", script, "-o", script)
    assert done.returncode == 2 and "it is the script itself" in one_line_error(done)
    assert script.read_text() == before


def test_an_unwritable_json_out_path_is_refused_before_the_script_runs(tmp_path):
    marker = tmp_path / "ran"
    script = write(tmp_path, f"open({str(marker)!r}, 'w').close()\n")
    for command in ("run", "explain"):
        done = tapeviz(command, script, "--json-out", tmp_path / "missing" / "summary.json")
        assert done.returncode == 2 and "--json-out" in one_line_error(done)
    assert not marker.exists()


def test_warnings_and_argument_errors_are_escaped_too(tmp_path):
    site = write_plugin_dist(tmp_path / "site", "escplugin", "1.0", {"escplugin": "escwarn_mod"},
                             {"escwarn_mod": f"raise ImportError({ESCAPE!r})\n"})
    script = write(tmp_path, "")
    done = subprocess.run([sys.executable, "-m", "tapeviz", "run", str(script), "-q"], capture_output=True, text=True,
                          timeout=120, env=env_with_path(site))
    assert "escplugin" in done.stderr and "RuntimeWarning" in done.stderr
    assert_escaped(done.stderr)
    bad_option = tapeviz("show", "run.tapeviz", f"extra{ESCAPE}")
    assert bad_option.returncode == 2
    assert_escaped(bad_option.stderr)


def test_outputs_go_where_they_were_asked_for_even_if_the_script_changes_directory(tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    script = write(tmp_path, f"import os\nos.chdir({str(elsewhere)!r})\n")
    done = tapeviz("run", script, "-q", "-o", "run.tapeviz", "--json-out", "summary.json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run.tapeviz").is_file() and (tmp_path / "summary.json").is_file()
    assert not list(elsewhere.iterdir())
