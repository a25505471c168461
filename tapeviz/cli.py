"""The ``tapeviz`` command: run scripts with recording on, show and explain tape files, list and
check plugins. User mistakes end with a one-line message and exit status 2, never a traceback."""
import argparse
import json
import os
import runpy
import signal
import sys
import traceback

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class UserError(Exception):
    """A mistake the user can fix; printed without a traceback."""


def _run_script(script, script_args, output):
    """Run ``script`` as __main__ with recording on; returns (run, exit status). Tapes survive a crash."""
    from tapeviz.inspection.recorder import record

    if not os.path.isfile(script):
        raise UserError(f"no such script: {script}")
    status = EXIT_OK
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = [script, *script_args]
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    block = record(meta={"script": os.path.abspath(script), "argv": [script, *script_args]})
    recorder = block.__enter__()
    previous_handler = signal.signal(signal.SIGTERM, _interrupt)  # a cancelled run still saves its tapes
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException as error:  # noqa: BLE001 - the script's crash is reported like Python does
        traceback.print_exc()
        recorder.run.meta["error"] = f"{type(error).__name__}: {error}"
        status = EXIT_FAILED
    finally:
        signal.signal(signal.SIGTERM, previous_handler)
        block.__exit__(None, None, None)
        sys.argv, sys.path[:] = saved_argv, saved_path
        sys.stdout.flush()
    run = recorder.snapshot()
    run.meta["exit_status"] = status
    if output:
        from tapeviz.inspection.tapefile import save
        save(run, output)
    return run, status


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"stopped by signal {signum}")


def _load_run(path):
    from tapeviz.inspection.tapefile import TapeFileError, load

    try:
        return load(path)
    except TapeFileError as error:
        raise UserError(str(error)) from None


def _print_run(run, as_json, only_nones, stream=sys.stdout):
    from tapeviz.inspection.report import json_summary, text_summary

    if as_json:
        json.dump(json_summary(run, only_nones), stream, indent=2, default=str)
        stream.write("\n")
    else:
        stream.write("\n".join(text_summary(run, only_nones)) + "\n")


def cmd_run(args):
    run, status = _run_script(args.script, args.args, args.output)
    if not args.quiet:
        print("-" * 30 + " tapeviz " + "-" * 30, file=sys.stderr if args.json else sys.stdout)
        _print_run(run, args.json, False)
        if args.output:
            print(f"tapeviz: run saved to {args.output}", file=sys.stderr)
    return status


def cmd_show(args):
    _print_run(_load_run(args.run_file), args.json, False)
    return EXIT_OK


def cmd_explain(args):
    if args.path.endswith(".py"):
        run, status = _run_script(args.path, args.args, None)
    else:
        run, status = _load_run(args.path), EXIT_OK
    _print_run(run, args.json, True)
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
        state = "BROKEN" if p["broken"] else "ok"
        print(f"{p['name']} {p['version']} [{state}] ({p['source']})")
        if p["broken"]:
            print(f"    error: {p['error']}")
        for label, key in (("gradients", "gradients"), ("not differentiable", "not_differentiable"),
                           ("new ops", "new_ops"), ("overrides", "overrides")):
            if p[key]:
                print(f"    {label} ({len(p[key])}): {', '.join(p[key])}")
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
        print(f"FAIL plugin {plugin['name']} is broken and was not loaded: {plugin['error']}")
    rules = registered_rules(args.plugin, args.op or None)
    if args.op:
        missing = sorted(set(args.op) - {r.op_type for r in rules})
        if missing:
            raise UserError(f"no gradient rule registered for {', '.join(missing)}"
                            + (f" in plugin {args.plugin!r}" if args.plugin else "") + "; see `tapeviz plugins`.")
    failed = 0
    for number, reg in enumerate(rules, start=1):
        results = check_gradients(op_types=[reg.op_type], order=args.order)
        bad = [r for r in results if not r.passed]
        failed += bool(bad)
        print(f"[{number}/{len(rules)}] {'FAIL' if bad else 'pass'} {reg.op_type} ({reg.plugin}): "
              f"{len(results) - len(bad)}/{len(results)} checks", flush=True)
        for result in bad:
            print(f"    {result}")
    failed += len(broken)
    print(f"tapeviz check: {len(rules) - failed + len(broken)} passed, {failed} failed")
    return EXIT_FAILED if failed else EXIT_OK


def build_parser():
    parser = argparse.ArgumentParser(prog="tapeviz", description="See and understand reverse-mode autodiff.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True

    run = commands.add_parser("run", help="run a script with recording on and summarize its tapes")
    run.add_argument("script", help="the Python script to run")
    run.add_argument("args", nargs="*", help="arguments passed to the script (after --)")
    run.add_argument("-o", "--output", metavar="RUN_FILE", help="also save the run as a tape file")
    run.add_argument("--json", action="store_true", help="print the summary as JSON (on stdout)")
    run.add_argument("-q", "--quiet", action="store_true", help="print no summary")
    run.set_defaults(handler=cmd_run)

    show = commands.add_parser("show", help="summarize a tape file")
    show.add_argument("run_file")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=cmd_show)

    explain = commands.add_parser("explain", help="list every None gradient and why (script or tape file)")
    explain.add_argument("path", help="a script (.py), run with recording on, or a tape file")
    explain.add_argument("args", nargs="*", help="arguments passed to the script (after --)")
    explain.add_argument("--json", action="store_true", help="print JSON")
    explain.set_defaults(handler=cmd_explain)

    plugins = commands.add_parser("plugins", help="list installed gradient plugins and what they register")
    plugins.add_argument("--json", action="store_true", help="print JSON")
    plugins.set_defaults(handler=cmd_plugins)

    check = commands.add_parser("check", help="check gradient rules against finite differences")
    check.add_argument("--plugin", help="only this plugin's rules")
    check.add_argument("--op", action="append", metavar="TYPE", help="only this op type (repeatable)")
    check.add_argument("--order", type=int, choices=(1, 2), default=2, help="highest derivative order (default 2)")
    check.set_defaults(handler=cmd_check)

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


def main(argv=None):
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # Everything after "--" belongs to the script, even words that look like tapeviz options.
    script_args = argv[argv.index("--") + 1:] if "--" in argv else []
    argv = argv[:argv.index("--")] if "--" in argv else argv
    args = parser.parse_args(argv)
    if hasattr(args, "args"):
        args.args = list(args.args) + script_args
    try:
        return args.handler(args)
    except UserError as error:
        print(f"tapeviz: error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("tapeviz: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
