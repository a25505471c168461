"""The inspector on real programs, driven offscreen: problems first, links to code, the editor keeps
the user's work, loads and layouts that never block, plots that stay in bounds, search."""
import os
import subprocess
import sys
import textwrap

from PySide6 import QtCore, QtGui, QtWidgets

from tapeviz.inspection.tapefile import save

from .test_problems import record_problem_run


def open_run(qtbot, window, run, tmp_path, name="run.tapeviz"):
    path = tmp_path / name
    save(run, path)
    with qtbot.waitSignal(window.session.run_changed, timeout=30_000):
        assert window.open_run_file(str(path))
    return path


def test_problems_are_listed_run_wide_and_the_first_is_selected_at_start(qtbot, window, tmp_path):
    run = record_problem_run(steps=4)
    open_run(qtbot, window, run, tmp_path)
    panel = window.problems
    assert panel.tree.topLevelItemCount() == 3                 # None x4, NaN/Inf, blocked
    qtbot.waitUntil(lambda: panel.current_problem() is not None, timeout=5000)
    first = panel.current_problem()
    assert first.kind == "None" and window.session.tape_id == first.call.tape
    assert "is None" in panel.explanation.toPlainText()
    # the tape list shows each tape's problem count
    model = window.tapes.model
    counts = {model.tape_at(index): index.sibling(index.row(), 1).data()
              for index in (model.index_of(t) for t in run.tapes)}
    assert list(counts.values()) == ["1"] * 6
    # the loop's four tapes, made on one line, are one group of the list
    group = next(model.index(row, 0) for row in range(model.rowCount()) if model.tape_at(model.index(row, 0)) is None)
    assert group.data().endswith(" x4") and group.sibling(group.row(), 1).data() == "4"
    assert model.rowCount(group) == 4


def test_f8_walks_every_problem_across_tapes_and_shift_f8_goes_back(qtbot, window, tmp_path):
    run = record_problem_run(steps=3)
    open_run(qtbot, window, run, tmp_path)
    panel = window.problems
    qtbot.waitUntil(lambda: panel.current_problem() is not None, timeout=5000)
    seen = [panel.current_problem()]
    for _ in range(4):
        panel.step(1)
        seen.append(panel.current_problem())
    assert [p.kind for p in seen] == ["None", "None", "None", "NaN/Inf", "blocked"]
    assert len({p.call.tape for p in seen}) == 5
    panel.step(1)
    assert panel.current_problem() is seen[0]                    # wraps around
    panel.step(-1)
    assert panel.current_problem() is seen[-1]
    shortcuts = {a.shortcut().toString() for a in window.findChildren(QtGui.QAction)}
    assert {"F8", "Shift+F8"} <= shortcuts


def test_a_line_in_an_explanation_opens_the_editor_there(qtbot, window, tmp_path):
    run = record_problem_run(steps=1)
    open_run(qtbot, window, run, tmp_path)
    panel = window.problems
    qtbot.waitUntil(lambda: panel.current_problem() is not None, timeout=5000)
    html = panel.explanation.toHtml()
    start = html.index("href=\"source:") + len("href=\"")
    url = QtCore.QUrl(html[start:html.index("\"", start)])
    panel.explanation.anchorClicked.emit(url)
    line = int(url.fragment())
    assert window.editor.path == url.path()
    assert window.editor.textCursor().blockNumber() == line - 1
    assert window.editor.textCursor().selectedText().strip() == \
        open(url.path(), encoding="utf-8").read().splitlines()[line - 1].strip()
    assert window.docks["Editor"].isVisible()


def test_editor_marks_changes_and_never_overwrites_a_file_unasked(qtbot, window, tmp_path, monkeypatch):
    script = tmp_path / "mine.py"
    script.write_text("print('original')\n")
    assert window.editor.open_file(str(script))
    assert window.docks["Editor"].windowTitle() == "Editor - mine.py"
    window.editor.appendPlainText("print('edited')")
    assert window.docks["Editor"].windowTitle() == "Editor - mine.py *"
    with qtbot.waitSignal(window.runner.finished, timeout=120_000):
        window.run_editor()                                  # runs a scratch copy of the text
    assert script.read_text() == "print('original')\n"
    assert "edited" in window.console.toPlainText()
    # the file changes on disk meanwhile: Save asks first, and "No" keeps the other edit
    script.write_text("print('changed elsewhere')\n")
    os.utime(script, ns=(1, 1))
    asked = []
    monkeypatch.setattr(QtWidgets.QMessageBox, "question",
                        lambda *args, **kwargs: asked.append(args[2]) or QtWidgets.QMessageBox.StandardButton.No)
    assert window.editor.save() is False
    assert asked and "changed on disk" in asked[0]
    assert script.read_text() == "print('changed elsewhere')\n"
    monkeypatch.setattr(QtWidgets.QMessageBox, "question",
                        lambda *args, **kwargs: QtWidgets.QMessageBox.StandardButton.Yes)
    assert window.editor.save() is True
    assert script.read_text().endswith("print('edited')")
    assert window.docks["Editor"].windowTitle() == "Editor - mine.py"


def test_editor_shows_line_numbers(qtbot, window):
    window.editor.setPlainText("\n".join(f"x{i} = {i}" for i in range(1500)))
    assert window.editor.viewportMargins().left() == window.editor.line_number_width() > 0
    narrow = window.editor.line_number_width()
    window.editor.setPlainText("a = 1")
    assert window.editor.line_number_width() < narrow          # room for four digits, then for three


def test_a_newer_load_drops_the_older_one_and_cancel_drops_it_too(qtbot, window, tmp_path):
    first = record_problem_run(steps=1)
    second = record_problem_run(steps=2)
    a, b = tmp_path / "a.tapeviz", tmp_path / "b.tapeviz"
    save(first, a)
    save(second, b)
    loaded = []
    window.loader.loaded.connect(lambda run, index, origin: loaded.append(origin))
    window.open_run_file(str(a))
    with qtbot.waitSignal(window.session.run_changed, timeout=30_000):
        window.open_run_file(str(b))
    qtbot.wait(200)
    assert loaded == [str(b)] and len(window.session.run.tapes) == len(second.tapes)
    window.open_run_file(str(a))
    window.cancel()
    qtbot.wait(500)
    assert loaded == [str(b)] and not window.loader.is_busy()


def test_a_layout_request_replaced_before_it_finishes_is_dropped(qtbot, window, tmp_path):
    run = record_problem_run(steps=3)
    open_run(qtbot, window, run, tmp_path)
    qtbot.waitUntil(window.graph.is_ready, timeout=10_000)
    tapes = list(run.tapes)
    drawn = []
    window.graph.layout_ready.connect(lambda: drawn.append(window.graph._tape_id))
    window.graph.set_graph(run, tapes[0])
    window.graph.set_graph(run, tapes[1])
    qtbot.waitUntil(window.graph.is_ready, timeout=10_000)
    qtbot.wait(200)
    assert drawn == [tapes[1]]


def test_nothing_to_plot_for_many_sources_stays_small_and_the_dock_waits(qtbot, window, tmp_path):
    import tapeviz as tf
    from tapeviz.gui.plot_data import plottable
    from tapeviz.gui.plots import GradientPlot

    with tf.record() as rec:
        weights = [tf.Variable(float(i)) for i in range(300)]
        with tf.GradientTape() as tape:
            total = tf.add_n([w * 2.0 for w in weights])
        tape.gradient(total, weights)
        flat = tf.Variable([1.0, 1.0, 1.0])        # 1-D but every value the same: no axis
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(flat * flat)
        tape.gradient(y, flat)
    run = rec.snapshot()
    assert not plottable(run, run.calls[0]) and not plottable(run, run.calls[1])
    plot = GradientPlot()
    qtbot.addWidget(plot)
    plot.show_call(run, run.calls[0])
    assert plot.minimumSizeHint().height() < 300 and plot.sizeHint().height() < 600
    assert "and 297 more" in plot.plot.message.text()
    open_run(qtbot, window, run, tmp_path)
    qtbot.wait(100)
    assert window._gradient_plot is None                      # nothing to plot: no plot widget made
    assert window.height() < 1200


def test_search_steps_through_hits_and_esc_clears(qtbot, window, tmp_path):
    from .test_graph_model import record_mlp

    open_run(qtbot, window, record_mlp(), tmp_path)
    qtbot.waitUntil(window.graph.is_ready, timeout=10_000)
    window.graph_search.setText("matmul")
    qtbot.keyClick(window.graph_search, QtCore.Qt.Key.Key_Return)
    assert window.graph_status.text() == "1 of 2 matches"
    qtbot.keyClick(window.graph_search, QtCore.Qt.Key.Key_Return)
    assert window.graph_status.text() == "2 of 2 matches"
    qtbot.keyClick(window.graph_search, QtCore.Qt.Key.Key_Return, QtCore.Qt.KeyboardModifier.ShiftModifier)
    assert window.graph_status.text() == "1 of 2 matches"
    window.graph_search.setText("hidden")                      # a user's name is a search term
    qtbot.keyClick(window.graph_search, QtCore.Qt.Key.Key_Return)
    (key,) = window.graph.selected_keys()
    assert window.graph.graph().nodes[key].label == "Relu"
    qtbot.keyClick(window.graph_search, QtCore.Qt.Key.Key_Escape)
    assert window.graph_search.text() == "" and window.graph.selected_keys() == set()


def test_gui_imports_no_cli_code():
    code = ("import sys; import tapeviz.gui.main_window, tapeviz.gui.app, tapeviz.gui.panels; "
            "sys.exit(1 if 'tapeviz.cli' in sys.modules else 0)")
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_closing_during_a_run_is_clean(tmp_path):
    script = tmp_path / "forever.py"
    script.write_text("import time\nimport tapeviz as tf\nx = tf.Variable(1.0)\nprint('started', flush=True)\n"
                      "while True:\n    time.sleep(0.05)\n")
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(f"""
        import sys
        from PySide6 import QtCore, QtGui, QtWidgets
        from tapeviz.gui.main_window import MainWindow
        app = QtWidgets.QApplication([])
        settings = QtCore.QSettings({str(tmp_path / 's.ini')!r}, QtCore.QSettings.Format.IniFormat)
        window = MainWindow(settings)
        window.show()
        window.open_script({str(script)!r})
        def check():
            if "started" in window.console.toPlainText():
                window.close()
                window.deleteLater()
                QtCore.QTimer.singleShot(300, app.quit)
            else:
                QtCore.QTimer.singleShot(50, check)
        QtCore.QTimer.singleShot(50, check)
        QtCore.QTimer.singleShot(60000, app.quit)
        app.exec()
        print("closed cleanly")
    """))
    done = subprocess.run([sys.executable, str(driver)], env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "closed cleanly" in done.stdout, done.stderr
    assert "Traceback" not in done.stderr and "already deleted" not in done.stderr
    assert "Destroyed while process" not in done.stderr


def test_long_lists_make_their_rows_only_when_shown(qtbot, window, tmp_path):
    import tapeviz as tf

    with tf.record() as rec:
        weights = [tf.Variable(float(i), name=f"v{i}") for i in range(300)]
        with tf.GradientTape() as tape:
            total = tf.add_n([w * 2.0 for w in weights])
        tape.gradient(total, weights)
    with_call = rec.snapshot()
    open_run(qtbot, window, with_call, tmp_path)
    assert isinstance(window.tapes.view, QtWidgets.QTreeView) and isinstance(window.watched.view, QtWidgets.QTreeView)
    assert window.watched.row_count() == 300
    assert window.watched.model.text(299, 0) == "v299:0"
    gradients = window.gradients
    top = gradients.model.index(0, 0)
    assert isinstance(gradients.view, QtWidgets.QTreeView) and not gradients.view.isExpanded(top)  # 300 results
    assert gradients.model.rowCount(top) == 300


def test_a_training_loop_shows_loss_and_gradient_norms_per_step(qtbot, window, tmp_path):
    import numpy as np

    import tapeviz as tf
    from tapeviz.gui.plot_data import steps_data

    with tf.record() as rec:
        w = tf.Variable(3.0, name="w")
        for _ in range(6):
            with tf.GradientTape() as tape:
                loss = (w - 1.0) ** 2
            grad = tape.gradient(loss, w)
            w.assign_sub(0.25 * grad)
    run = rec.snapshot()
    steps, loss, norms = steps_data(run, list(run.tapes))
    distance = 2.0 * 0.5 ** np.arange(6)     # w - 1: each step of w -= 0.25 * 2 (w - 1) halves it
    np.testing.assert_allclose(loss, distance ** 2, rtol=1e-5)
    np.testing.assert_allclose(norms["w"], 2 * distance, rtol=1e-5)
    open_run(qtbot, window, run, tmp_path)
    qtbot.waitUntil(lambda: window.steps_pending(), timeout=5000)   # what a screenshot waits for
    qtbot.waitUntil(lambda: not window.steps_pending(), timeout=5000)
    assert window._steps is not None and window._steps.tape_ids == steps
    assert window.docks["Plots"].isVisible() and window.plot_tabs.currentWidget() is window._steps
    with qtbot.waitSignal(window.session.tape_changed, timeout=2000):
        window._steps.step_chosen.emit(steps[3])
    assert window.session.tape_id == steps[3]


def test_a_loop_over_cases_with_new_variables_each_time_is_not_a_training_loop(qtbot, window, tmp_path):
    import tapeviz as tf
    from tapeviz.gui.plot_data import steps_data

    with tf.record() as rec:
        for case in range(8):                    # as the seed tutorial's cases: fresh values every time
            x = tf.Variable(float(case), name="x")
            with tf.GradientTape() as tape:
                loss = x * x
            tape.gradient(loss, x)
    run = rec.snapshot()
    steps, loss, _ = steps_data(run, list(run.tapes))
    assert len(steps) == 8 and all(loss == [float(c * c) for c in range(8)])   # one-number losses, yet cases
    open_run(qtbot, window, run, tmp_path)
    qtbot.wait(200)
    assert window._steps is None or not window._steps.tape_ids


def test_a_hessian_the_run_computed_is_shown_as_a_heatmap(qtbot, window, tmp_path):
    import numpy as np

    import tapeviz as tf
    from tapeviz.gui.plot_data import jacobian_matrices

    a = np.array([[2.0, 1.0, 0.0], [1.0, 3.0, -1.0], [0.0, -1.0, 4.0]])
    with tf.record() as rec:
        x = tf.Variable(np.array([1.0, 2.0, 3.0]), name="x")
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                y = 0.5 * tf.reduce_sum(x * tf.reshape(tf.matmul(tf.constant(a), tf.reshape(x, (3, 1))), (3,)))
            g = inner.gradient(y, x)
        outer.jacobian(g, x)
    run = rec.snapshot()
    call = next(c for c in run.calls if c.kind == "jacobian")
    ((label, matrix),) = jacobian_matrices(run, call)
    np.testing.assert_allclose(matrix, a, rtol=1e-6)      # the Hessian of x.A.x / 2 is A
    open_run(qtbot, window, run, tmp_path)
    window.session.set_tape(call.tape)
    qtbot.waitUntil(lambda: window._heatmap is not None and window.plot_tabs.currentWidget() is window._heatmap,
                    timeout=5000)
    np.testing.assert_allclose(window._heatmap.image.image, a.T)


def test_scope_toggle_groups_layers_and_expand_all_opens_them(qtbot, window, tmp_path):
    import numpy as np

    import tapeviz as tf

    with tf.record() as rec:
        w = tf.Variable(np.ones((3, 2)), name="dense_1/kernel")
        b = tf.Variable(np.zeros(2), name="dense_1/bias")
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.nn.relu(tf.matmul(tf.ones((4, 3), dtype=tf.float64), w) + b))
        tape.gradient(loss, [w, b])
    open_run(qtbot, window, rec.snapshot(), tmp_path)
    qtbot.waitUntil(window.graph.is_ready, timeout=10_000)
    assert not any(n.kind == "scope" for n in window.graph.graph().nodes.values())
    with qtbot.waitSignal(window.graph.layout_ready, timeout=10_000):
        window.scope_box.setChecked(True)
    assert [n.label for n in window.graph.graph().nodes.values() if n.kind == "scope"] == ["dense_1 (3 ops)"]
    with qtbot.waitSignal(window.graph.layout_ready, timeout=10_000):
        window.expand_button.click()
    assert not any(n.kind in ("scope", "fold", "group") for n in window.graph.graph().nodes.values())
    assert not window.scope_box.isChecked() and not window.fold_box.isChecked()


def test_a_big_expanded_graph_opens_readable_at_its_top_with_a_minimap(qtbot, window, tmp_path):
    from .test_graph_model import record_fan_out

    open_run(qtbot, window, record_fan_out(200), tmp_path)
    qtbot.waitUntil(lambda: window.graph.is_ready() and window.graph.items_complete(), timeout=10_000)
    assert not window.graph.minimap.isVisible()             # folded, it fits
    with qtbot.waitSignal(window.graph.layout_ready, timeout=20_000):
        window.expand_button.click()
    qtbot.waitUntil(window.graph.items_complete, timeout=20_000)
    view = window.graph
    assert view.transform().m11() >= 0.8                     # labels readable, not a 1-px line
    top = min(n.y for n in view.graph().nodes.values())
    shown = view.mapToScene(view.viewport().rect()).boundingRect()
    assert shown.top() <= top <= shown.bottom()              # the inputs are in view
    minimap = view.minimap
    assert minimap.isVisible()
    assert minimap.width() <= view.viewport().width() * 0.2 + 1
    assert minimap.height() <= view.viewport().height() * 0.25 + 1


def test_the_tape_list_filters_by_number_line_and_problems(qtbot, window, tmp_path):
    import tapeviz as tf

    with tf.record() as rec:
        w = tf.Variable(1.0, name="w")
        for _ in range(4):
            with tf.GradientTape() as tape:
                loss = w * w
            tape.gradient(loss, w)
        c = tf.constant(1.0)
        with tf.GradientTape() as tape:
            y = c * 2.0
        tape.gradient(y, c)                    # None: c is not watched
    run = rec.snapshot()
    open_run(qtbot, window, run, tmp_path)
    tapes = window.tapes
    assert tapes.apply_filter("problems") == 1
    assert tapes.apply_filter("tape 2") == 1
    assert tapes.apply_filter("") == 5


def test_the_backward_pass_replays_step_by_step_and_colours_edges(qtbot, window, tmp_path):
    import numpy as np

    import tapeviz as tf
    from tapeviz.gui.replay import replay_backward

    with tf.record() as rec:
        x = tf.Variable(np.array([0.5, -1.0, 2.0]), name="x")
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(tf.sin(x) * x + tf.exp(x))
        tape.gradient(y, x)
    run = rec.snapshot()
    call = run.calls[0]
    replay = replay_backward(run, call)
    value = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(replay.grads[call.sources[0]], np.cos(value) * value + np.sin(value) + np.exp(value))
    assert replay.stopped == "" and [run.ops[s.op].type for s in replay.steps][0] == "Sum"
    open_run(qtbot, window, run, tmp_path)
    qtbot.waitUntil(window.graph.is_ready, timeout=10_000)
    gradients = window.gradients.model
    window.gradients.view.setCurrentIndex(gradients.index(0, 0, gradients.index(0, 0)))
    qtbot.waitUntil(lambda: window.replay is not None and window.step_next.isEnabled(), timeout=10_000)
    assert window.graph._edges._bins                                  # edges coloured by gradient size
    sum_key = next(k for k, n in window.graph.graph().nodes.items() if n.label == "Sum")
    assert "gradient: min 1" in window.graph._items[sum_key].toolTip()    # d y / d y = 1 reaches the Sum
    # x's hover shows its gradient: the sum of those its three reads received
    from tapeviz.gui.graph import value_text
    from tapeviz.inspection.model import summarize
    expected = value_text(summarize(np.cos(value) * value + np.sin(value) + np.exp(value)))
    assert f"gradient: {expected}" in window.graph._items[f"t:{call.sources[0]}"].toolTip()
    first = window.backward_step(1)
    assert run.ops[first.op].type == "Sum" and window.graph.selected_keys() == {f"op:{first.op}"}
    assert "gradient arriving" in window.inspector.toPlainText()
    for _ in range(len(replay.steps) + 2):
        last = window.backward_step(1)
    assert last.op == replay.steps[-1].op                              # stops at the end
    # the pass ends at a read of x, drawn as part of x: the step selects x and shows the read op
    variable = f"t:{call.sources[0]}"
    assert run.ops[last.op].type == "ReadVariableOp" and window.graph.selected_keys() == {variable}
    assert "ReadVariableOp" in window.inspector.toPlainText()
    assert window.backward_step(-1).op == replay.steps[-2].op
    window.session.node_selected.emit(variable)
    assert "read by\n3 ReadVariableOp ops" in window.inspector.toPlainText()   # sin(x), * x, exp(x)


def test_a_none_gradient_has_no_backward_pass_to_walk(qtbot, window, tmp_path):
    run = record_problem_run(steps=1)
    open_run(qtbot, window, run, tmp_path)
    qtbot.waitUntil(lambda: window.problems.current_problem() is not None, timeout=5000)
    assert window.problems.current_problem().kind == "None"
    qtbot.wait(200)
    assert window.replay is None and not window.step_next.isEnabled()
    assert "None" in window.step_label.text() and not window.graph._edges._bins


def test_the_gradient_calls_list_filters_and_keeps_the_chosen_result_across_tapes(qtbot, window, tmp_path):
    import tapeviz as tf

    with tf.record() as rec:
        w = tf.Variable([1.0, 2.0], name="w")
        b = tf.Variable(0.5, name="bias")
        c = tf.constant(3.0)
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(w * c) + b
        tape.gradient(loss, [w, b, c])        # d loss / d c is None: a constant is not watched
        with tf.GradientTape() as tape:
            doubled = tf.reduce_sum(w * 2.0)
        tape.gradient(doubled, w)
    run = rec.snapshot()
    first_tape, second_tape = list(run.tapes)
    open_run(qtbot, window, run, tmp_path)
    panel, model = window.gradients, window.gradients.model
    window.session.set_tape(first_tape)
    assert panel.row_count() == 1                          # the chosen tape's calls only
    call_row = model.index(0, 0)
    assert call_row.data().startswith("gradient") and model.rowCount(call_row) == 3
    assert panel.view.isExpanded(call_row)                  # a small call shows its results at once

    def results():
        return [(model.index(r, 0, model.index(0, 0)).data(), model.index(r, 1, model.index(0, 0)).data())
                for r in range(model.rowCount(model.index(0, 0)))]

    panel.filter.setText("problems")
    assert panel.row_count() == 1 and [value for _, value in results()] == ["None"]
    panel.filter.setText("BIAS")
    assert len(results()) == 1 and "bias" in results()[0][0]
    panel.filter.setText("no such source")
    assert panel.row_count() == 0
    panel.filter.setText("")
    assert len(results()) == 3
    # Choosing a result of the other tape shows that tape; the row stays chosen when the tape comes back.
    window.session.set_tape(second_tape)
    assert panel.row_count() == 1 and model.rowCount(model.index(0, 0)) == 1
    chosen = []
    window.session.result_selected.connect(lambda call, result, _: chosen.append((call.tape, result.source)))
    panel.view.setCurrentIndex(model.index(0, 0, model.index(0, 0)))
    w_id = run.calls[1].sources[0]
    assert chosen == [(second_tape, w_id)] and "d/d" in panel.explanation.toPlainText()
    window.session.set_tape(first_tape)
    window.session.set_tape(second_tape)
    assert model.entry(panel.view.currentIndex())[1].source == w_id
    assert len(chosen) == 1                                   # restoring the row is not a new choice
    # The first None of the run, whichever tape is shown, is found and shown with its tape.
    found = panel.select_first_none()
    assert found.siblingAtColumn(1).data() == "None" and window.session.tape_id == first_tape


def test_hover_and_inspector_show_the_norm_or_a_dash_for_a_file_that_kept_none(qtbot, window, tmp_path):
    import tapeviz as tf
    from tapeviz.inspection.tapefile import load

    with tf.record() as rec:
        x = tf.Variable([3.0, 4.0], name="x")
        with tf.GradientTape() as tape:
            y = tf.reduce_sum(x * 2.0)
        tape.gradient(y, x)
    path = open_run(qtbot, window, rec.snapshot(), tmp_path)

    def shown():
        qtbot.waitUntil(lambda: window.graph.is_ready() and window.graph.items_complete(), timeout=10_000)
        key = next(k for k, n in window.graph.graph().nodes.items() if n.label == "Mul")
        window.session.node_selected.emit(key)
        return window.graph._items[key].toolTip(), window.inspector.toPlainText()

    tip, inspector = shown()
    assert "norm 10" in tip and "norm 10" in inspector      # x * 2 = [6, 8]
    old = load(path)                                         # as saved before the norm was kept
    for info in old.tensors.values():
        info.summary.pop("norm", None)
    open_run(qtbot, window, old, tmp_path, name="old.tapeviz")
    assert "norm" not in load(tmp_path / "old.tapeviz").tensors[next(iter(old.tensors))].summary
    tip, inspector = shown()
    assert "norm —" in tip and "norm —" in inspector and "mean 7" in tip
