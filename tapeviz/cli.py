"""The ``tapeviz`` command: run scripts with recording on, show and explain tape files, list and
check plugins. User mistakes end with a one-line message and exit status 2, never a traceback."""
import argparse
import json
import os
import runpy
import signal
import sys
import tempfile
import threading
import traceback
import warnings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


SIGNAL_EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143}  # 128 + the signal number, as a shell reports it

# Control characters that make a terminal do something (ESC sequences retitle the window or clear
# the screen, CR overwrites a line, bidi overrides reorder it), shown as escapes instead.
_CONTROLS = {code: f"\\x{code:02x}" for code in [*range(0x00, 0x20), *range(0x7f, 0xa0)] if code not in (0x09, 0x0a)}
_CONTROLS.update({code: f"\\u{code:04x}" for code in [*range(0x202a, 0x202f), *range(0x2066, 0x206a)]})


def terminal_safe(text):
    """``text`` with every control character but newline and tab escaped: what a tape file, a
    plugin or a path says is shown, never obeyed by the terminal."""
    return str(text).translate(_CONTROLS)


def say(text="", stream=None):
    """Print a line that may hold text from a file or from the user, escaped for the terminal."""
    print(terminal_safe(text), file=stream or sys.stdout)


class UserError(Exception):
    """A mistake the user can fix; printed without a traceback."""


class Terminated(BaseException):
    """SIGTERM while a script runs: unwinds the script like Ctrl+C, so the run so far is saved."""

    def __init__(self, signum):
        super().__init__(f"stopped by signal {signum}")
        self.signum = signum


def check_output_path(path, option="-o"):
    """Refuse, before the script runs, an output path (``-o``, ``--json-out``) that cannot be written."""
    target = os.path.abspath(path)
    parent = os.path.dirname(target)
    if os.path.isdir(target):
        raise UserError(f"cannot write {option} {path}: it is a directory; give a file name, "
                        f"such as {os.path.join(path, 'run.tapeviz' if option == '-o' else 'summary.json')}")
    if os.path.lexists(target) and not os.path.isfile(target):
        raise UserError(f"cannot write {option} {path}: it exists and is not a regular file; choose another path")
    if not os.path.isdir(parent):
        raise UserError(f"cannot write {option} {path}: the directory {parent} does not exist; "
                        "create it or choose another path")
    try:  # the one sure test of writability: root passes os.access on read-only directories
        tempfile.TemporaryFile(dir=parent, prefix=".tapeviz-check-").close()
    except OSError as error:
        raise UserError(f"cannot write {option} {path}: cannot write in {parent} ({error.strerror}); "
                        "choose a writable path") from None


def _run_script(script, script_args, output, stdout_to_stderr=False, json_out=None):
    """Run ``script`` as __main__ with recording on; returns (run, exit status), as ``python script`` would exit.

    The tapes recorded so far survive a crash, ``sys.exit``, Ctrl+C and SIGTERM; non-daemon threads
    the script started are waited for (and recorded) as Python waits for them before exiting.
    """
    from tapeviz.inspection.recorder import record

    if os.path.isdir(script) and not os.path.isfile(os.path.join(script, "__main__.py")):
        raise UserError(f"{script} is a directory with no __main__.py; give a Python script")
    if not os.path.exists(script):
        raise UserError(f"no such script: {script}")
    for option, path in (("-o", output), ("--json-out", json_out)):
        if path:
            check_output_path(path, option)
            if os.path.exists(path) and os.path.samefile(path, script):
                raise UserError(f"cannot write {option} {path}: it is the script itself; choose another file name")
    status = EXIT_OK
    saved_to = os.path.abspath(output) if output else None  # the script may change the working directory
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [script, *script_args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    saved_stdout_fd = _stdout_to_stderr() if stdout_to_stderr else None
    block = record(meta={"script": os.path.abspath(script), "argv": [script, *script_args]})
    recorder = block.__enter__()
    previous_handler = signal.signal(signal.SIGTERM, _terminate)
    try:
        try:
            runpy.run_path(script, run_name="__main__")
        finally:
            _join_threads()
    except SystemExit as stop:
        status = _exit_status(stop.code)
    except KeyboardInterrupt:
        traceback.print_exc()  # as Python prints it
        recorder.run.meta["error"] = "KeyboardInterrupt"
        status = SIGNAL_EXIT[signal.SIGINT]
    except Terminated as stop:
        print(f"tapeviz: the script was stopped by signal {stop.signum} (SIGTERM)", file=sys.stderr)
        recorder.run.meta["error"] = "terminated by SIGTERM"
        status = SIGNAL_EXIT[signal.SIGTERM]
    except BaseException as error:  # noqa: BLE001 - the script's crash is reported like Python does
        traceback.print_exc()
        recorder.run.meta["error"] = f"{type(error).__name__}: {error}"
        status = EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        block.__exit__(None, None, None)
        sys.argv, sys.path[:] = saved_argv, saved_path
        sys.stdout.flush()
        if saved_stdout_fd is not None:
            _restore_stdout(saved_stdout_fd)
    run = recorder.snapshot()
    run.meta["exit_status"] = status
    if output and _save(run, saved_to, output):
        run.meta["saved_to"] = saved_to
    return run, status


def _exit_status(code):
    """The status ``sys.exit(code)`` gives in plain Python; a message is printed, as Python does."""
    if code is None:
        return EXIT_OK
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return EXIT_FAILED


def _join_threads():
    """Wait for the script's non-daemon threads, as the interpreter does before it exits."""
    for thread in threading.enumerate():
        if thread is not threading.current_thread() and not thread.daemon and thread.is_alive():
            thread.join()


def _terminate(signum, frame):
    raise Terminated(signum)


def _stdout_to_stderr():
    """Send everything written to stdout (by Python or by C code) to stderr; returns the saved fd."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    return saved


def _restore_stdout(saved):
    sys.stdout.flush()
    os.dup2(saved, 1)
    os.close(saved)


def _save(run, path, output):
    """Save the run to ``path`` (``output`` as the user gave it); a failure is one line, and the
    summary and the script's status are kept."""
    from tapeviz.inspection.tapefile import save

    try:
        save(run, path)
    except Exception as error:  # noqa: BLE001 - a full disk must not lose the summary of a long run
        reason = error.strerror if isinstance(error, OSError) and error.strerror else f"{type(error).__name__}: {error}"
        say(f"tapeviz: error: could not save the run to {output}: {reason}", sys.stderr)
        return False
    return True


def _load_run(path):
    from tapeviz.inspection.tapefile import TapeFileError, load

    try:
        return load(path)
    except TapeFileError as error:
        raise UserError(str(error)) from None


def _print_run(run, as_json, only_nones, json_out=None, quiet=False, full=False):
    """The summary: text on stdout, or exactly one JSON document on stdout; with ``json_out``, JSON in that file."""
    from tapeviz.inspection.report import json_summary, text_summary

    if as_json or json_out:
        document = json.dumps(json_summary(run, only_nones), indent=2, default=str) + "\n"
        if json_out:
            _write_json(json_out, document)
    if quiet:
        return
    if as_json:
        sys.stdout.write(document)
    else:
        sys.stdout.write("".join(terminal_safe(line) + "\n" for line in text_summary(run, only_nones, full)))


def _write_json(path, document):
    try:
        with open(path, "w", encoding="utf-8") as stream:
            stream.write(document)
    except OSError as error:
        raise UserError(f"cannot write the JSON summary to {path}: {error.strerror}") from None


def cmd_run(args):
    args.json_out = args.json_out and os.path.abspath(args.json_out)  # the script may change directory
    run, status = _run_script(args.script, args.args, args.output, stdout_to_stderr=args.json,
                              json_out=args.json_out)
    if not args.quiet and not args.json:
        print("-" * 30 + " tapeviz " + "-" * 30)
    _print_run(run, args.json, False, args.json_out, quiet=args.quiet, full=args.all)
    if run.meta.get("saved_to"):
        say(f"tapeviz: run saved to {args.output}", sys.stderr)
    return status


def cmd_show(args):
    _print_run(_load_run(args.run_file), args.json, False, full=args.all)
    return EXIT_OK


def cmd_explain(args):
    args.json_out = args.json_out and os.path.abspath(args.json_out)
    if args.path.endswith(".py"):
        run, status = _run_script(args.path, args.args, None, stdout_to_stderr=args.json, json_out=args.json_out)
    else:
        run, status = _load_run(args.path), EXIT_OK
    _print_run(run, args.json, True, args.json_out)
    return status


def plugin_table():
    from tapeviz.inspection.plugin_table import plugin_table as table

    return table()


def cmd_plugins(args):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # broken plugins are listed below, with their errors
        table = plugin_table()
    if args.json:
        json.dump({"plugins": table}, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return EXIT_OK
    for p in table:
        state = "BROKEN" if p["broken"] else "WARNING" if p["warning"] else "ok"
        say(f"{p['name']} {p['version']} [{state}] ({p['source']})")
        if p["broken"]:
            say(f"    error: {p['error']}")
        if p["warning"]:
            say(f"    warning: {p['warning']}")
        for label, key in (("gradients", "gradients"), ("not differentiable", "not_differentiable"),
                           ("new ops", "new_ops"), ("overrides", "overrides"), ("forward rules", "forward_rules")):
            if p[key]:
                say(f"    {label} ({len(p[key])}): {', '.join(p[key])}")
    return EXIT_OK


def cmd_check(args):
    from tapeviz.testing import check_gradients, registered_rules

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # broken plugins are reported below, as check failures
        table = plugin_table()
    names = {p["name"] for p in table}
    if args.plugin and args.plugin not in names:
        raise UserError(f"no plugin named {args.plugin!r}; installed: {', '.join(sorted(names))}")
    broken = [p for p in table if p["broken"] and (args.plugin is None or p["name"] == args.plugin)]
    for plugin in broken:
        say(f"FAIL plugin {plugin['name']} is broken and was not loaded: {plugin['error']}")
    rules = registered_rules(args.plugin, args.op or None)
    if args.op:
        missing = sorted(set(args.op) - {r.op_type for r in rules})
        if missing:
            raise UserError(f"no gradient rule registered for {', '.join(missing)}"
                            + (f" in plugin {args.plugin!r}" if args.plugin else "") + "; see `tapeviz plugins`.")
    failed_rules = 0
    for number, reg in enumerate(rules, start=1):
        results = check_gradients(op_types=[reg.op_type], order=args.order)
        bad = [r for r in results if not r.passed]
        failed_rules += bool(bad)
        say(f"[{number}/{len(rules)}] {'FAIL' if bad else 'pass'} {reg.op_type} ({reg.plugin}): "
            f"{len(results) - len(bad)}/{len(results)} checks")
        sys.stdout.flush()
        for result in bad:
            say(f"    {result}")
    failed = failed_rules + len(broken)
    if args.plugin and not rules and not broken:  # a plugin with nothing to check is not a passing plugin
        warning = next((p["warning"] for p in table if p["name"] == args.plugin and p["warning"]), "")
        say(f"FAIL plugin {args.plugin} has no gradient rule to check" + (f": it {warning}" if warning else ""))
        failed += 1
    print(f"tapeviz check: {len(rules) - failed_rules} passed, {failed} failed")
    return EXIT_FAILED if failed else EXIT_OK


class _ArgumentParser(argparse.ArgumentParser):
    """argparse, with the words the user typed escaped in its one-line errors."""

    def error(self, message):
        super().error(terminal_safe(message))


_ALL_HELP = ("list every gradient call and result (by default a call repeated by the same line with nothing "
             "to report is folded, and a call lists at most 12 results with nothing to report)")


def _version_text():
    """tapeviz's version, numpy's and Python's, and whether the recorder's compiled per-op path is in use
    (bug reports about recording speed need it)."""
    import numpy

    import tapeviz
    from tapeviz.inspection.store import _recordfast

    if _recordfast is not None:
        path = "compiled per-op path (tapeviz/inspection/_recordfast)"
    elif os.environ.get("TAPEVIZ_PURE_PYTHON"):
        path = "Python path (TAPEVIZ_PURE_PYTHON is set)"
    else:
        path = ("Python path: the compiled one is not built (pip install -e . builds it where a C compiler and "
                "CPython 3.11+ are present)")
    return (f"tapeviz {tapeviz.__version__}, numpy {numpy.__version__}, python {sys.version.split()[0]}\n"
            f"recorder: {path}")


class _VersionAction(argparse.Action):
    """--version: the text as written (argparse's own action rewraps it), made only when asked."""

    def __call__(self, parser, namespace, values, option_string=None):
        say(_version_text())
        parser.exit(EXIT_OK)


def build_parser():
    parser = _ArgumentParser(prog="tapeviz", description="See and understand reverse-mode autodiff.")
    parser.add_argument("--version", action=_VersionAction, nargs=0,
                        help="print the versions and which recorder path is built, and exit")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    run = commands.add_parser("run", help="run a script with recording on and summarize its tapes")
    run.add_argument("script", help="the Python script to run")
    run.add_argument("args", nargs="*", help="arguments passed to the script (after --)")
    run.add_argument("-o", "--output", metavar="RUN_FILE", help="also save the run as a tape file")
    run.add_argument("--json", action="store_true",
                     help="print the summary as one JSON document on stdout (the script's output goes to stderr)")
    run.add_argument("--json-out", metavar="FILE", help="write the summary as JSON to FILE")
    run.add_argument("-q", "--quiet", action="store_true", help="print no summary")
    run.add_argument("--all", action="store_true", help=_ALL_HELP)
    run.set_defaults(handler=cmd_run)

    show = commands.add_parser("show", help="summarize a tape file")
    show.add_argument("run_file")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.add_argument("--all", action="store_true", help=_ALL_HELP)
    show.set_defaults(handler=cmd_show)

    explain = commands.add_parser("explain", help="list every None gradient and why (script or tape file)")
    explain.add_argument("path", help="a script (.py), run with recording on, or a tape file")
    explain.add_argument("args", nargs="*", help="arguments passed to the script (after --)")
    explain.add_argument("--json", action="store_true",
                         help="print one JSON document on stdout (a script's own output goes to stderr)")
    explain.add_argument("--json-out", metavar="FILE", help="write the JSON to FILE")
    explain.set_defaults(handler=cmd_explain)

    plugins = commands.add_parser("plugins", help="list installed gradient plugins and what they register")
    plugins.add_argument("--json", action="store_true", help="print JSON")
    plugins.set_defaults(handler=cmd_plugins)

    check = commands.add_parser("check", help="check gradient rules against finite differences")
    check.add_argument("--plugin", help="only this plugin's rules")
    check.add_argument("--op", action="append", metavar="TYPE", help="only this op type (repeatable)")
    check.add_argument("--order", type=int, choices=(1, 2), default=2, help="highest derivative order (default 2)")
    check.set_defaults(handler=cmd_check)

    export = commands.add_parser("export", help="draw a tape's graph as SVG, PNG or DOT (for notebooks and docs)")
    export.add_argument("run_file")
    export.add_argument("--tape", type=int, help="the tape to draw (default: the first with a problem)")
    export.add_argument("-o", "--output", required=True, metavar="FILE", help="graph.svg, graph.png or graph.dot")
    export.add_argument("--all-ops", action="store_true", help="draw every op: no folded loops or groups")
    export.set_defaults(handler=cmd_export)

    gui = commands.add_parser("gui", help="open the desktop tape inspector")
    gui.add_argument("path", nargs="?", help="a script or tape file to open")
    gui.add_argument("--screenshot", metavar="PNG", help="save a picture of the window and exit")
    gui.set_defaults(handler=cmd_gui)
    return parser


def cmd_gui(args):
    try:
        from tapeviz.gui.app import main as gui_main
    except ImportError as error:
        raise UserError(f"the inspector needs the gui extra: pip install 'tapeviz[gui]' ({error})") from None
    return gui_main(args)


def cmd_export(args):
    try:
        from tapeviz.gui.export import export_main
    except ImportError as error:
        raise UserError(f"drawing a graph needs the gui extra: pip install 'tapeviz[gui]' ({error})") from None
    argv = [args.run_file, "-o", args.output] + (["--tape", str(args.tape)] if args.tape is not None else [])
    return export_main(argv + (["--all-ops"] if args.all_ops else []))


def main(argv=None):
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after "--" belongs to the script, even words that look like tapeviz options.
    script_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    args = parser.parse_args(argv)
    if hasattr(args, "args"):
        args.args = list(args.args) + script_args
    warnings.showwarning = _show_warning_safely  # a broken plugin's error is text from a file, too
    try:
        return args.handler(args)
    except UserError as error:
        say(f"tapeviz: error: {error}", sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tapeviz: interrupted", file=sys.stderr)
        return SIGNAL_EXIT[signal.SIGINT]
    except BrokenPipeError:  # `tapeviz show run.tapeviz | head`: the reader left, which is no error of ours
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED


def _show_warning_safely(message, category, filename, lineno, file=None, line=None):
    stream = file or sys.stderr
    try:
        stream.write(terminal_safe(warnings.formatwarning(message, category, filename, lineno, line)))
    except OSError:
        pass  # as warnings.showwarning: a closed stderr loses the warning, not the program


if __name__ == "__main__":
    sys.exit(main())
