"""Runs a script in a separate process with recording on, so the inspector never hangs or dies with it.

The child is ``python -m tapeviz run SCRIPT -q -o RUN_FILE``; its output streams to the console
pane; when it ends (normally, by an exception, or cancelled) the tapes it recorded are loaded.
"""
import os
import sys
import tempfile

from PySide6 import QtCore


class ScriptRunner(QtCore.QObject):
    output = QtCore.Signal(str, bool)      # text, is_error
    started = QtCore.Signal(str)           # script path
    finished = QtCore.Signal(object, int, str)  # Run or None, exit status, message
    _loaded = QtCore.Signal(object, int, object)  # from the loading thread: future, exit code, exit status

    def __init__(self, parent=None):
        super().__init__(parent)
        self._process = None
        self._run_file = None
        self._script = None
        self._cancelled = False
        self.last_index = None   # the RunIndex of the run ``finished`` last reported
        self._loaded.connect(self._on_loaded, QtCore.Qt.ConnectionType.QueuedConnection)

    def is_running(self):
        return self._process is not None

    def start(self, script_path, working_dir=None):
        """Run the script; ``working_dir`` (default: the script's folder) is where it runs."""
        if self.is_running():
            raise RuntimeError("A script is already running: cancel it first.")
        handle, self._run_file = tempfile.mkstemp(suffix=".tapeviz")
        os.close(handle)
        os.remove(self._run_file)
        self._script, self._cancelled = script_path, False
        process = QtCore.QProcess(self)
        environment = QtCore.QProcessEnvironment.systemEnvironment()
        environment.insert("PYTHONUNBUFFERED", "1")
        environment.remove("TAPEVIZ_RECORD")
        process.setProcessEnvironment(environment)
        process.setWorkingDirectory(working_dir or os.path.dirname(os.path.abspath(script_path)))
        process.readyReadStandardOutput.connect(lambda: self._read(process, False))
        process.readyReadStandardError.connect(lambda: self._read(process, True))
        process.finished.connect(self._finished)
        process.errorOccurred.connect(self._error)
        self._process = process
        process.start(sys.executable, ["-m", "tapeviz", "run", os.path.abspath(script_path), "-q", "-o", self._run_file])
        self.started.emit(script_path)

    def cancel(self):
        """Ask the script to stop (it saves the tapes recorded so far); kill it if it does not."""
        if self._process is None:
            return
        self._cancelled = True
        self._process.terminate()
        QtCore.QTimer.singleShot(3000, self._kill_if_running)

    def shutdown(self):
        """The window is closing: stop the child now, quietly, and wait for it (no late signals)."""
        process, self._process = self._process, None
        if process is None:
            return
        for signal in (process.readyReadStandardOutput, process.readyReadStandardError, process.finished,
                       process.errorOccurred):
            try:
                signal.disconnect()
            except (RuntimeError, TypeError):
                pass
        process.kill()
        process.waitForFinished(2000)
        if self._run_file and os.path.exists(self._run_file):
            os.remove(self._run_file)

    def _kill_if_running(self):
        if self._process is not None:
            self._process.kill()

    def _read(self, process, is_error):
        data = process.readAllStandardError() if is_error else process.readAllStandardOutput()
        text = bytes(data).decode("utf-8", errors="replace")
        if text:
            self.output.emit(text, is_error)

    def _error(self, error):
        if error == QtCore.QProcess.ProcessError.FailedToStart:
            self._process = None
            self.finished.emit(None, -1, f"Could not start Python to run {self._script}.")

    def _finished(self, exit_code, exit_status):
        """Read what the child saved in a worker thread (a big run takes seconds), then report."""
        from .loader import start_loading

        process = self._process
        if process is not None:
            self._read(process, False)
            self._read(process, True)
        if not os.path.exists(self._run_file):
            self._report(None, None, "", exit_code, exit_status)
            return
        future = start_loading(self._run_file)

        def arrived(done):
            try:
                self._loaded.emit(done, exit_code, exit_status)
            except RuntimeError:   # the window closed meanwhile
                pass
        future.add_done_callback(arrived)

    @QtCore.Slot(object, int, object)
    def _on_loaded(self, future, exit_code, exit_status):
        from tapeviz.inspection.tapefile import TapeFileError

        run = index = None
        message = ""
        try:
            run, index, _ = future.result()
        except TapeFileError as error:
            message = str(error)
        finally:
            if os.path.exists(self._run_file):
                os.remove(self._run_file)
        self._report(run, index, message, exit_code, exit_status)

    def _report(self, run, index, message, exit_code, exit_status):
        self._process = None
        self.last_index = index
        crashed = exit_status == QtCore.QProcess.ExitStatus.CrashExit
        if self._cancelled:
            message = message or "Cancelled" + ("; showing the tapes recorded until then." if run else ".")
        elif crashed:
            message = message or "The script crashed" + ("; showing the tapes recorded until then." if run else ".")
        elif exit_code:
            message = message or f"The script exited with status {exit_code}" + (
                "; showing the tapes recorded until then." if run else ".")
        self.finished.emit(run, exit_code if not crashed else -1, message)
