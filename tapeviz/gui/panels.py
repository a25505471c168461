"""The inspector's side panels: tapes, watched variables, gradient results, the inspector, plugins,
console and editor. Each observes the Session and draws plain data from the inspection model."""
import html
import os

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from tapeviz.inspection.explain import describe

from . import forward
from .graph import norm_text
from .reads import READ_OP
from .short_names import short_names, without_output_index
from .updates import assignments_after

ROLE = QtCore.Qt.ItemDataRole.UserRole
EAGER_RESULTS = 60   # a call with more results than this gets its rows when opened
MAX_READS_LISTED = 5  # op ids of a variable's reads shown in the inspector


def _short(location):
    if location is None:
        return "?"
    return f"{os.path.basename(location.file)}:{location.line}"


def _tree(headers):
    tree = QtWidgets.QTreeWidget()
    tree.setHeaderLabels(headers)
    tree.setRootIsDecorated(False)
    tree.setAlternatingRowColors(True)
    tree.setUniformRowHeights(True)
    return tree


def accumulator_groups(run):
    """ForwardAccumulators grouped by the line that created them, as ``tape_groups`` groups tapes."""
    groups = {}
    for info in run.accumulators.values():
        key = (info.location.file, info.location.line) if info.location is not None else ("?", info.id)
        groups.setdefault(key, []).append(info.id)
    return [(_short(run.accumulators[ids[0]].location), ids) for ids in groups.values()]


def tape_groups(run):
    """Tapes grouped by the line that created them, in run order: [(location text, [tape id, ...])].

    A training loop makes one tape per step on one line: fifty rows become one "mlp.py:16 x50" group.
    """
    groups = {}
    for tape in run.tapes.values():
        key = (tape.location.file, tape.location.line) if tape.location is not None else ("?", tape.id)
        groups.setdefault(key, []).append(tape.id)
    return [(_short(run.tapes[ids[0]].location), ids) for ids in groups.values()]


class _HeadedColumns:
    """Columns and their titles from the model's ``HEADERS``, for the lists below."""

    def columnCount(self, parent=QtCore.QModelIndex()):
        return len(self.HEADERS)

    def headerData(self, section, orientation, role=QtCore.Qt.ItemDataRole.DisplayRole):
        if orientation == QtCore.Qt.Orientation.Horizontal and role == QtCore.Qt.ItemDataRole.DisplayRole:
            return self.HEADERS[section]
        return None


class _TwoLevels:
    """Index and parent for a tree of two levels: a child's internal id is its parent's row + 1; top-level
    rows have 0 (groups and their tapes, calls and their results)."""

    def index(self, row, column, parent=QtCore.QModelIndex()):
        if not self.hasIndex(row, column, parent):
            return QtCore.QModelIndex()
        return self.createIndex(row, column, parent.row() + 1 if parent.isValid() else 0)

    def parent(self, index):
        if not index.isValid() or index.internalId() == 0:
            return QtCore.QModelIndex()
        return self.createIndex(index.internalId() - 1, 0, 0)


class TapeModel(_TwoLevels, _HeadedColumns, QtCore.QAbstractItemModel):
    """The run's tapes, grouped by creation line, as rows made on demand (Qt asks only for the rows in
    view). Counts come from the RunIndex computed with the run, off the UI thread."""

    HEADERS = ["tape", "problems", "created at", "ops", "watched", "calls", "persistent"]

    def __init__(self):
        super().__init__()
        self.run = self.index_ = None
        self.ids = []       # every tape id, in run order
        # top-level rows: ("tape", id), ("group", location, [ids]); forward mode: ("accumulator", id) and
        # ("accumulators", location, [ids]) for those made on one line (a loop)
        self.top = []

    def set_run(self, run, index):
        self.beginResetModel()
        self.run, self.index_ = run, index
        self.ids = list(run.tapes) if run is not None else []
        self.top = []
        for where, ids in (tape_groups(run) if run is not None else []):
            self.top.append(("tape", ids[0]) if len(ids) == 1 else ("group", where, ids))
        for where, ids in (accumulator_groups(run) if run is not None else []):
            self.top.append(("accumulator", ids[0]) if len(ids) == 1 else ("accumulators", where, ids))
        self.endResetModel()

    def rowCount(self, parent=QtCore.QModelIndex()):
        if not parent.isValid():
            return len(self.top)
        if parent.internalId() == 0 and self.top[parent.row()][0] in ("group", "accumulators"):
            return len(self.top[parent.row()][2])
        return 0

    def _id_at(self, index, single, group):
        """The id of a row whose entry is a ``single`` kind, or a child of a ``group`` kind; else None."""
        if not index.isValid():
            return None
        if index.internalId() == 0:
            entry = self.top[index.row()]
            return entry[1] if entry[0] == single else None
        entry = self.top[index.internalId() - 1]
        return entry[2][index.row()] if entry[0] == group else None

    def tape_at(self, index):
        """The tape id of a row, or None for a group row."""
        return self._id_at(index, "tape", "group")

    def accumulator_at(self, index):
        """The accumulator id of a row (forward mode), or None for a tape or group row."""
        return self._id_at(index, "accumulator", "accumulators")

    def index_of_accumulator(self, accumulator_id):
        for row, entry in enumerate(self.top):
            if entry == ("accumulator", accumulator_id):
                return self.index(row, 0)
            if entry[0] == "accumulators" and accumulator_id in entry[2]:
                return self.index(entry[2].index(accumulator_id), 0, self.index(row, 0))
        return QtCore.QModelIndex()

    def index_of(self, tape_id):
        for row, entry in enumerate(self.top):
            if entry[0] == "tape" and entry[1] == tape_id:
                return self.index(row, 0)
            if entry[0] == "group" and tape_id in entry[2]:
                return self.index(entry[2].index(tape_id), 0, self.index(row, 0))
        return QtCore.QModelIndex()

    def data(self, index, role=QtCore.Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        tape_id = self.tape_at(index)
        column = index.column()
        if tape_id is None and self.accumulator_at(index) is not None:
            return self._accumulator_data(self.accumulator_at(index), column, role)
        if tape_id is None and self.top[index.row()][0] == "accumulators":
            return self._accumulator_group_data(self.top[index.row()], column, role)
        if tape_id is None:
            return self._group_data(self.top[index.row()], column, role)
        tape = self.run.tapes[tape_id]
        problems = self.index_.problems_per_tape.get(tape.id, 0) if self.index_ else 0
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return f"tape {tape.id}" + (f" (in tape {tape.parent})" if tape.parent else "")
            if column == 1:
                return str(problems) if problems else ""
            if column == 2:
                return _short(tape.location)
            if column == 3:
                return str(len(tape.ops))
            if column == 4:
                return str(self.index_.watched_per_tape.get(tape.id, 0)) if self.index_ else ""
            if column == 5:
                return str(self.index_.calls_per_tape.get(tape.id, 0)) if self.index_ else ""
            return "yes" if tape.persistent else "no"
        if role == QtCore.Qt.ItemDataRole.ForegroundRole and column == 1 and problems:
            return QtGui.QBrush(QtGui.QColor("#c0392b"))
        if role == QtCore.Qt.ItemDataRole.ToolTipRole and column == 2:
            return str(tape.location)
        if role == ROLE:
            return tape.id
        return None

    def _accumulator_data(self, accumulator_id, column, role):
        """A ForwardAccumulator's row: its None jvps as problems, its primals as watched, its jvp calls."""
        info = self.run.accumulators[accumulator_id]
        problems = self.index_.problems_per_accumulator.get(accumulator_id, 0) if self.index_ else 0
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            return [f"accumulator {info.id}", str(problems) if problems else "", _short(info.location),
                    str(len(info.ops)), str(len(info.primals)),
                    str(sum(1 for c in self.run.jvps if c.accumulator == info.id)), "forward"][column]
        if role == QtCore.Qt.ItemDataRole.ForegroundRole and column == 1 and problems:
            return QtGui.QBrush(QtGui.QColor("#c0392b"))
        if role == QtCore.Qt.ItemDataRole.ToolTipRole:
            return (f"ForwardAccumulator created at {info.location}: {len(info.ops)} ops pushed tangents, "
                    f"{len(info.primals)} primals; its jvp calls count as calls")
        return None

    def _accumulator_group_data(self, entry, column, role):
        _, where, ids = entry
        problems = sum(self.index_.problems_per_accumulator.get(i, 0) for i in ids) if self.index_ else 0
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            return [f"accumulators {where} x{len(ids)}", str(problems) if problems else "", where,
                    str(sum(len(self.run.accumulators[i].ops) for i in ids)), "",
                    str(sum(1 for c in self.run.jvps if c.accumulator in set(ids))), "forward"][column]
        if role == QtCore.Qt.ItemDataRole.ForegroundRole and column == 1 and problems:
            return QtGui.QBrush(QtGui.QColor("#c0392b"))
        if role == QtCore.Qt.ItemDataRole.ToolTipRole:
            return f"{len(ids)} ForwardAccumulators created on the same line (a loop): open to see each"
        return None

    def _group_data(self, entry, column, role):
        _, where, ids = entry
        problems = sum(self.index_.problems_per_tape.get(i, 0) for i in ids) if self.index_ else 0
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            if column == 0:
                return f"{where} x{len(ids)}"
            if column == 1:
                return str(problems) if problems else ""
            if column == 2:
                return where
            if column == 3:
                return str(sum(len(self.run.tapes[i].ops) for i in ids))
            if column == 5 and self.index_:
                return str(sum(self.index_.calls_per_tape.get(i, 0) for i in ids))
            return ""
        if role == QtCore.Qt.ItemDataRole.ForegroundRole and column == 1 and problems:
            return QtGui.QBrush(QtGui.QColor("#c0392b"))
        if role == QtCore.Qt.ItemDataRole.ToolTipRole:
            return f"{len(ids)} tapes created on the same line (a loop): open to see each step's tape"
        return None


def _list_with_filter(model, placeholder, on_filter):
    """A tree view of ``model`` (rows laid out only where seen) and the filter box above it."""
    view = QtWidgets.QTreeView()
    view.setModel(model)
    view.setAlternatingRowColors(True)
    view.setUniformRowHeights(True)   # lets Qt lay out only the rows in view
    line = QtWidgets.QLineEdit(placeholderText=placeholder)
    line.setClearButtonEnabled(True)
    line.textChanged.connect(on_filter)
    return view, line


class TapeList(QtWidgets.QWidget):
    """Every tape of the run: its problems, where it was created, op, watched and call counts."""

    def __init__(self, session):
        super().__init__()
        self.session = session
        self.model = TapeModel()
        self.view, self.filter = _list_with_filter(self.model, "Filter: tape number, file:line, or 'problems'",
                                                   self.apply_filter)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.filter)
        layout.addWidget(self.view)
        session.run_changed.connect(self.show_run)
        session.tape_changed.connect(self._select)
        session.accumulator_changed.connect(self._select_accumulator)
        self.view.selectionModel().currentRowChanged.connect(self._chosen)

    def _accumulator_matches(self, accumulator_id, needle):
        if needle == "problems":
            return bool(self.model.index_ and self.model.index_.problems_per_accumulator.get(accumulator_id))
        info = self.model.run.accumulators[accumulator_id]
        return needle in f"accumulator {info.id} forward" or needle in _short(info.location).lower()

    def _matches(self, tape_id, needle):
        if needle == "problems":
            return bool(self.model.index_ and self.model.index_.problems_per_tape.get(tape_id))
        tape = self.model.run.tapes[tape_id]
        return needle in f"tape {tape_id}" or needle in _short(tape.location).lower()

    def apply_filter(self, text=None):
        """Hide the tapes that do not match; a group stays while any of its tapes matches."""
        needle = (self.filter.text() if text is None else text).strip().lower()
        shown = 0
        for row, entry in enumerate(self.model.top):
            if entry[0] in ("accumulator", "accumulators"):
                ids = [entry[1]] if entry[0] == "accumulator" else entry[2]
                keep = [not needle or self._accumulator_matches(i, needle) for i in ids]
                self.view.setRowHidden(row, QtCore.QModelIndex(), not any(keep))
                if entry[0] == "accumulators":
                    for child, visible in enumerate(keep):
                        self.view.setRowHidden(child, self.model.index(row, 0), not visible)
                continue
            ids = [entry[1]] if entry[0] == "tape" else entry[2]
            keep = [not needle or self._matches(tape_id, needle) for tape_id in ids]
            self.view.setRowHidden(row, QtCore.QModelIndex(), not any(keep))
            if entry[0] == "group":
                parent = self.model.index(row, 0)
                for child, visible in enumerate(keep):
                    self.view.setRowHidden(child, parent, not visible)
            shown += sum(keep)
        return shown

    def row_count(self):
        """Tapes listed (each tape of a group counted)."""
        return len(self.model.ids)

    def show_run(self, run):
        self.model.set_run(run, self.session.index)
        if self.filter.text():
            self.apply_filter()
        self.view.setIndentation(12)
        for column, width in enumerate((118, 62, 110, 46, 58, 44, 70)):
            self.view.setColumnWidth(column, width)

    def _select(self, tape_id):
        self._show_row(self.model.index_of(tape_id), self.model.tape_at, tape_id)

    def _select_accumulator(self, accumulator_id):
        self._show_row(self.model.index_of_accumulator(accumulator_id), self.model.accumulator_at, accumulator_id)

    def _show_row(self, index, id_at, wanted):
        """Make ``index`` current (its group opened) unless the current row already holds ``wanted``."""
        if index.isValid() and id_at(self.view.currentIndex()) != wanted:
            if index.parent().isValid():
                self.view.expand(index.parent())
            self.view.setCurrentIndex(index)
            self.view.scrollTo(index)

    def _chosen(self, current, _previous):
        tape_id = self.model.tape_at(current)
        if tape_id is not None:
            self.session.set_tape(tape_id)
        elif self.model.accumulator_at(current) is not None:
            self.session.set_accumulator(self.model.accumulator_at(current))


class ProblemsPanel(QtWidgets.QWidget):
    """Every None, NaN/Inf and blocked gradient of the run, across tapes, alike ones grouped.

    The first is selected when a run opens; F8 / Shift+F8 step through them all. Selecting one shows
    its tape, the path from source to target, and the explanation, whose "line N" opens the editor.
    """

    source_line_clicked = QtCore.Signal(str, int)

    def __init__(self, session):
        super().__init__()
        self.session = session
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setHeaderLabels(["problem", "count"])
        self.tree.setUniformRowHeights(True)
        header = self.tree.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QtWidgets.QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QtWidgets.QHeaderView.ResizeMode.ResizeToContents)
        self.explanation = QtWidgets.QTextBrowser()
        self.explanation.setOpenLinks(False)
        self.explanation.anchorClicked.connect(self._link)
        self.summary = QtWidgets.QLabel("")
        self.summary.setWordWrap(True)
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        splitter.addWidget(self.tree)
        splitter.addWidget(self.explanation)
        splitter.setSizes([220, 220])
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.summary)
        layout.addWidget(splitter)
        self._flat = []    # (group index, member index) in list order, for F8
        session.run_changed.connect(self.show_run)
        self.tree.currentItemChanged.connect(self._chosen)
        self.tree.itemExpanded.connect(self._fill)

    def show_run(self, run):
        self.tree.clear()
        self.explanation.clear()
        self._flat = []
        index = self.session.index
        if run is None or index is None:
            self.summary.setText("")
            return
        groups = index.groups
        counts = {}
        for group in groups:
            kind = "None jvp" if group.first.call.kind == "jvp" else group.kind   # forward mode's, told apart
            counts[kind] = counts.get(kind, 0) + len(group.members)
        gradients = ", ".join(f"{n} {kind}" for kind, n in counts.items() if kind != "None jvp")
        jvps = counts.get("None jvp")
        self.summary.setText((gradients + " gradients" if gradients else "")
                             + (", " if gradients and jvps else "") + (f"{jvps} None jvp results" if jvps else "")
                             if counts else "No None, NaN/Inf or blocked gradient in this run.")
        for g, group in enumerate(groups):
            top = QtWidgets.QTreeWidgetItem([group.title, str(len(group.members))])
            top.setData(0, ROLE, (g, 0))
            top.setToolTip(0, group.title)
            top.setForeground(0, QtGui.QBrush(QtGui.QColor("#c0392b" if group.kind != "blocked" else "#b36b00")))
            self._flat.append((g, 0))
            if len(group.members) > 1:   # children made only when opened: a 10,000-step loop stays cheap
                top.setChildIndicatorPolicy(QtWidgets.QTreeWidgetItem.ChildIndicatorPolicy.ShowIndicator)
            self.tree.addTopLevelItem(top)
        if groups:
            QtCore.QTimer.singleShot(0, lambda r=run: self.select_first() if self.session.run is r else None)

    def _fill(self, item):
        if item.childCount() or item.parent() is not None:
            return
        g, _ = item.data(0, ROLE)
        group = self.session.index.groups[g]
        for m, problem in enumerate(group.members):
            owner = f"accumulator {problem.call.accumulator}" if problem.call.kind == "jvp" else f"tape {problem.call.tape}"
            child = QtWidgets.QTreeWidgetItem([f"{owner}, {problem.call.kind} call {problem.call.id}", ""])
            child.setData(0, ROLE, (g, m))
            item.addChild(child)

    def select_first(self):
        if self.tree.topLevelItemCount():
            self.tree.setCurrentItem(self.tree.topLevelItem(0))
            return self.tree.topLevelItem(0)
        return None

    def step(self, direction):
        """Next (+1) or previous (-1) problem, every member of every group in turn (F8 / Shift+F8)."""
        index = self.session.index
        if index is None or not index.groups:
            return None
        order = [(g, m) for g, group in enumerate(index.groups) for m in range(len(group.members))]
        current = self.tree.currentItem()
        at = order.index(current.data(0, ROLE)) if current is not None else -1
        g, m = order[(at + direction) % len(order)]
        top = self.tree.topLevelItem(g)
        if m == 0 and len(index.groups[g].members) == 1:
            item = top
        else:
            self._fill(top)
            top.setExpanded(True)
            item = top.child(m)
        self.tree.setCurrentItem(item)
        return item

    def current_problem(self):
        item = self.tree.currentItem()
        if item is None or self.session.index is None:
            return None
        g, m = item.data(0, ROLE)
        return self.session.index.groups[g].members[m]

    def _chosen(self, item, _previous):
        problem = self.current_problem()
        if problem is None:
            return
        if problem.call.kind == "jvp":   # forward mode: the accumulator's graph, the way to the target
            self.session.set_accumulator(problem.call.accumulator)
            self.explanation.setHtml(forward.jvp_html(self.session.run, problem.call, problem.result))
            self.session.jvp_selected.emit(problem.call, problem.result)
            return
        self.session.set_tape(problem.call.tape)
        self.explanation.setHtml(problem_html(self.session.run, problem))
        self.session.result_selected.emit(problem.call, problem.result, problem.target)

    def _link(self, url):
        if url.scheme() == "source":
            self.source_line_clicked.emit(url.path(), int(url.fragment() or 0))


def problem_html(run, problem):
    if problem.explanation is not None or problem.kind == "None":
        return explanation_html(run, problem.call, problem.result)
    where = _line_link(problem.call.location, f"line {problem.call.location.line}") if problem.call.location else ""
    diagnosis = problem.result.diagnosis
    if diagnosis is not None:  # the op that made the NaN or the zeros, its line, the values and the fix
        evidence = "".join(f"<li>{html.escape(i['what'])}"
                           + (f" <i>at {_line_link(i['location'], _short(i['location']))}</i>"
                              if i.get("location") else "") + "</li>" for i in diagnosis.evidence)
        return (f"<p><b>{html.escape(problem.text)}</b> <code>[{diagnosis.code}]</code></p><p>{problem.call.kind} "
                f"call {problem.call.id} on tape {problem.call.tape} {where}</p>"
                f"<p>{html.escape(_summary_text(problem.result.summary))}</p>"
                f"<p>{_linked_lines(diagnosis.sentence, problem.call)}</p><ul>{evidence}</ul>"
                f"<p><b>Fix:</b> {html.escape(diagnosis.fix)}</p>")
    advice = {"NaN/Inf": "A value overflowed or an op was given an input outside its domain (log of 0, sqrt of a "
                         "negative, division by zero) on the way back. Check the op values on the path in the "
                         "inspector; clip or guard the input.",
              "blocked": "The gradient is exactly zero everywhere: a ReLU that is off for every input, a comparison, "
                         "a rounding or a cast on the path passes no gradient. Check the ops on the highlighted path."}
    return (f"<p><b>{html.escape(problem.text)}</b></p><p>{problem.call.kind} call {problem.call.id} on tape "
            f"{problem.call.tape} {where}</p><p>{html.escape(_summary_text(problem.result.summary))}</p>"
            f"<p>{advice[problem.kind]}</p>")


def _line_link(location, text):
    """``text`` as a link that opens the editor at ``location``."""
    url = QtCore.QUrl()
    url.setScheme("source")
    url.setPath(location.file)
    url.setFragment(str(location.line))
    return f"<a href='{html.escape(url.toString(), quote=True)}'>{html.escape(text)}</a>"


class WatchedModel(_HeadedColumns, QtCore.QAbstractTableModel):
    """A tape's watched tensors (and sources used unwatched) as rows whose text is made only when shown."""

    HEADERS = ["name", "shape", "dtype", "trainable", "how watched"]
    NOT_WATCHED = "NOT WATCHED (used as a gradient source)"

    def __init__(self):
        super().__init__()
        self.run = None
        self.rows = []   # (tensor id, how)
        self.short = {}  # full variable name -> what its cell shows

    def set_rows(self, run, rows):
        self.beginResetModel()
        self.run, self.rows = run, rows
        names = [run.tensors[t].name for t, _ in rows if t in run.tensors and run.tensors[t].name]
        self.short = {name: tail + name[len(without_output_index(name)):] for name, tail in short_names(names).items()}
        self.endResetModel()

    def rowCount(self, parent=QtCore.QModelIndex()):
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index, role=QtCore.Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        tensor_id, how = self.rows[index.row()]
        if role == ROLE:
            return f"t:{tensor_id}"
        if role == QtCore.Qt.ItemDataRole.ForegroundRole and how == self.NOT_WATCHED:
            return QtGui.QBrush(QtGui.QColor("#c0392b"))
        info = self.run.tensors.get(tensor_id)
        column = index.column()
        if role == QtCore.Qt.ItemDataRole.ToolTipRole and column == 0 and info is not None and info.name:
            return info.name   # the cell shows the scoped name's tail ("dense_1/kernel:0")
        if role != QtCore.Qt.ItemDataRole.DisplayRole:
            return None
        if column == 0:
            return self.short.get(info.name, info.name) if info is not None and info.name \
                else describe(self.run, tensor_id)
        if column == 1:
            return str(tuple(info.shape)) if info else "?"
        if column == 2:
            return info.dtype if info else "?"
        if column == 3:
            return "" if info is None or info.trainable is None else ("yes" if info.trainable else "no")
        return how

    def text(self, row, column):
        return self.data(self.index(row, column))


class WatchedPanel(QtWidgets.QWidget):
    """The chosen tape's watched variables and tensors, and the sources used but not watched."""

    def __init__(self, session):
        super().__init__()
        self.session = session
        self.model = WatchedModel()
        self.view = QtWidgets.QTreeView()
        self.view.setModel(self.model)
        self.view.setRootIsDecorated(False)
        self.view.setAlternatingRowColors(True)
        self.view.setUniformRowHeights(True)
        for column, width in enumerate((120, 60, 60, 60, 120)):   # room for "dense_1/kernel:0"
            self.view.setColumnWidth(column, width)
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.view)
        session.tape_changed.connect(self.show_tape)
        session.accumulator_changed.connect(self.show_accumulator)
        session.run_changed.connect(lambda run: self.model.set_rows(run, []))
        self.view.clicked.connect(lambda index: self.session.node_selected.emit(index.data(ROLE) or ""))

    def row_count(self):
        return self.model.rowCount()

    def show_accumulator(self, accumulator_id):
        """Forward mode: an accumulator's primals, each with its tangent's range as how it is watched."""
        from .graph import value_text

        run = self.session.run
        info = run.accumulators[accumulator_id]
        self.model.set_rows(run, [(p, "primal, tangent " + (value_text(info.tangents[p].summary) or "kept")
                                   if p in info.tangents else "primal, not floating: no tangent")
                                  for p in info.primals])

    def show_tape(self, tape_id):
        run = self.session.run
        watched = run.watched(tape_id)
        rows = [(tensor_id, watched[tensor_id]) for tensor_id in sorted(watched)]  # creation order, as TF lists
        asked = {s for c in run.calls if c.tape == tape_id for s in c.sources}
        for tensor_id in sorted(asked - set(watched)):
            info = run.tensors.get(tensor_id)
            if info is not None and info.kind != "intermediate":
                rows.append((tensor_id, WatchedModel.NOT_WATCHED))
        self.model.set_rows(run, rows)


def _is_jvp(call):
    """A jvp call (forward mode) rather than a gradient or jacobian call."""
    return hasattr(call, "accumulator")


def _subject(result):
    """A result's tensor: a gradient's source, a jvp's target."""
    return result.target if hasattr(result, "target") else result.source


class GradientModel(_TwoLevels, _HeadedColumns, QtCore.QAbstractItemModel):
    """The chosen tape's gradient/jacobian calls as rows, their results (one per source) as child rows;
    then the run's jvp calls (forward mode), which stay listed whatever the tape: forward over backward
    reads them beside the tape's gradients.

    A row's text is written only when Qt shows it, so a call with thousands of sources, or a run with
    thousands of calls, costs nothing until looked at. ``set_filter`` keeps the calls whose own text
    has the words, and of the others the results whose text has them; "problems" keeps the None and
    NaN/Inf results.
    """

    HEADERS = ["call / source", "result", "why"]

    def __init__(self):
        super().__init__()
        self.run = None
        self.tape_id = None
        self.needle = ""
        self.rows = []      # shown calls: (call, [results shown])
        self._tails = {}    # call id -> {variable name: the part of it a cell shows}

    def set_run(self, run):
        self.run, self.tape_id, self._tails = run, None, {}
        self._refilter()

    def set_tape(self, tape_id):
        self.tape_id = tape_id
        self._refilter()

    def set_filter(self, text):
        self.needle = text.strip().lower()
        self._refilter()

    def _refilter(self):
        self.beginResetModel()
        self.rows = []
        calls = self.run.calls if self.run is not None else []
        for call in calls:
            if self.tape_id is not None and call.tape != self.tape_id:
                continue
            if not self.needle or (self.needle != "problems" and self.needle in self._call_text(call).lower()):
                self.rows.append((call, list(call.results)))
                continue
            kept = [r for r in call.results if self._result_matches(call, r)]
            if kept:
                self.rows.append((call, kept))
        for call in (getattr(self.run, "jvps", None) or []) if self.run is not None else []:
            if not self.needle or (self.needle != "problems" and self.needle in self._call_text(call).lower()):
                self.rows.append((call, list(call.results)))
                continue
            kept = [r for r in call.results if self._result_matches(call, r)]
            if kept:
                self.rows.append((call, kept))
        self.endResetModel()

    def _result_matches(self, call, result):
        if _is_jvp(call):
            if self.needle == "problems":
                return result.is_none
            return any(self.needle in text.lower() for text in self._result_texts(call, result))
        if self.needle == "problems":
            return bool(result.is_none or result.explanations or (result.summary or {}).get("nonfinite"))
        return any(self.needle in text.lower() for text in self._result_texts(call, result))

    def rowCount(self, parent=QtCore.QModelIndex()):
        if not parent.isValid():
            return len(self.rows)
        if parent.internalId() == 0 and parent.column() == 0:
            return len(self.rows[parent.row()][1])
        return 0

    def entry(self, index):
        """(call, result) of a row; the result is None on a call's own row."""
        if not index.isValid():
            return None, None
        if index.internalId() == 0:
            return self.rows[index.row()][0], None
        call, results = self.rows[index.internalId() - 1]
        return call, results[index.row()]

    def index_of(self, call_id, source=None, kind=None):
        """The row of a call (``source`` None) or of one of its results (``kind`` "jvp": a jvp call and a
        target); invalid when not shown."""
        for row, (call, results) in enumerate(self.rows):
            if call.id != call_id or _is_jvp(call) != (kind == "jvp"):
                continue
            if source is None:
                return self.index(row, 0)
            for child, result in enumerate(results):
                if _subject(result) == source:
                    return self.index(child, 0, self.index(row, 0))
        return QtCore.QModelIndex()

    def data(self, index, role=QtCore.Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        call, result = self.entry(index)
        column = index.column()
        if role == ROLE:
            return (call.id, None if result is None else _subject(result), "jvp" if _is_jvp(call) else None)
        if result is None:
            if role == QtCore.Qt.ItemDataRole.DisplayRole:
                return self._call_columns(call)[column]
            if role == QtCore.Qt.ItemDataRole.ToolTipRole and column == 0:
                return str(call.location)
            return None
        if role == QtCore.Qt.ItemDataRole.DisplayRole:
            return self._result_texts(call, result)[column]
        if role == QtCore.Qt.ItemDataRole.ToolTipRole and column == 0:
            return describe(self.run, _subject(result))
        if role == QtCore.Qt.ItemDataRole.ForegroundRole and _is_jvp(call) and result.is_none:
            return QtGui.QBrush(QtGui.QColor("#c0392b"))
        if role == QtCore.Qt.ItemDataRole.ForegroundRole and not _is_jvp(call) and result.explanations:
            return QtGui.QBrush(QtGui.QColor("#c0392b"))
        return None

    def _call_columns(self, call):
        targets = ", ".join(describe(self.run, t) for t in call.targets)
        line = f", line {call.location.line}" if call.location else ""
        if _is_jvp(call):
            return [f"jvp {call.id} (accumulator {call.accumulator}{line})", f"tangent of [{targets}]", ""]
        return [f"{call.kind} {call.id} (tape {call.tape}{line})", f"d[{targets}]", ""]

    def _call_text(self, call):
        return " ".join(self._call_columns(call))

    def _result_texts(self, call, result):
        """The three cells of a result's row: its source, its value (or None) and why (the codes)."""
        run = self.run
        if _is_jvp(call):
            return [describe(run, result.target), forward.jvp_result_text(result), result.reason or ""]
        codes = ", ".join(sorted({e.code for e in result.explanations.values()}))
        value = "None" if result.is_none else _summary_text(result.summary)
        if not result.is_none and result.explanations:
            value += " (unconnected: zeros)"
        described = describe(run, result.source)
        name = run.tensors[result.source].name if result.source in run.tensors else None
        if name:   # "Variable 'dense_1/kernel:0'": the cell's end shows what differs
            tails = self._tails.get(call.id)
            if tails is None:
                names = [run.tensors[r.source].name for r in call.results
                         if r.source in run.tensors and run.tensors[r.source].name]
                tails = self._tails[call.id] = short_names(names)
            described = described.replace(name, tails[name] + name[len(without_output_index(name)):])
        return [described, value, codes]


class GradientsPanel(QtWidgets.QWidget):
    """The chosen tape's gradient/jacobian calls as targets x sources; every None with its explanation."""

    source_line_clicked = QtCore.Signal(str, int)

    def __init__(self, session):
        super().__init__()
        self.session = session
        self.model = GradientModel()
        self.view, self.filter = _list_with_filter(self.model, "Filter: a source or call, 'None', or 'problems'",
                                                   self.apply_filter)
        self.explanation = QtWidgets.QTextBrowser()
        self.explanation.setOpenLinks(False)
        self.explanation.anchorClicked.connect(
            lambda url: url.scheme() == "source" and self.source_line_clicked.emit(url.path(), int(url.fragment() or 0)))
        top = QtWidgets.QWidget()
        top_layout = QtWidgets.QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.addWidget(self.filter)
        top_layout.addWidget(self.view)
        splitter = QtWidgets.QSplitter(QtCore.Qt.Orientation.Vertical)
        splitter.addWidget(top)
        splitter.addWidget(self.explanation)
        splitter.setSizes([300, 140])
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self._current = None     # (call id, source or target, "jvp" or None) of the chosen row, kept across refilters
        self._restoring = False
        session.run_changed.connect(self.show_run)
        session.tape_changed.connect(self._show_tape_calls)
        self.view.selectionModel().currentRowChanged.connect(self._chosen)

    def show_run(self, run):
        self.explanation.clear()
        self._current = None
        self.model.set_run(run)
        self._shown()

    def _show_tape_calls(self, tape_id):
        self.model.set_tape(tape_id)
        self._shown()

    def apply_filter(self, text=None):
        """Keep the calls and results matching the filter box; returns how many rows are shown."""
        self.model.set_filter(self.filter.text() if text is None else text)
        self._shown()
        return self.model.rowCount()

    def _shown(self):
        """After the rows changed: small calls open, column widths, and the chosen row chosen again."""
        rows = self.model.rowCount()
        for row in range(min(rows, EAGER_RESULTS)):   # a call with many results opens when asked
            if len(self.model.rows[row][1]) <= EAGER_RESULTS:
                self.view.expand(self.model.index(row, 0))
        if 0 < rows <= EAGER_RESULTS:
            self.view.resizeColumnToContents(0)
        else:
            self.view.setColumnWidth(0, 220)
        if self._current is not None:
            index = self.model.index_of(*self._current)
            if index.isValid():
                self._restoring = True
                self.view.setCurrentIndex(index)
                self.view.scrollTo(index)
                self._restoring = False

    def row_count(self):
        """Calls listed."""
        return self.model.rowCount()

    def select_first_none(self):
        """Choose the first None result of the run (showing its tape); its index, or None if there is none."""
        run = self.session.run
        if run is None:
            return None
        for call in run.calls:
            result = next((r for r in call.results if r.explanations), None)
            if result is None:
                continue
            if self.filter.text():
                self.filter.clear()
            self.session.set_tape(call.tape)
            index = self.model.index_of(call.id, result.source)
            if index.isValid():
                self.view.expand(index.parent())
                self.view.setCurrentIndex(index)
                self.view.scrollTo(index)
                return index
        return None

    def _chosen(self, current, _previous):
        if self._restoring:
            return
        call, result = self.model.entry(current)
        if call is None:
            return
        if _is_jvp(call):
            self._current = (call.id, None if result is None else result.target, "jvp")
            self._jvp_chosen(call.id, None if result is None else result.target)
            return
        if result is None:
            return
        self._current = (call.id, result.source, None)
        self.session.set_tape(call.tape)
        self.explanation.setHtml(explanation_html(self.session.run, call, result))
        self.session.result_selected.emit(call, result, None)


    def _jvp_chosen(self, call_id, target_id):
        run = self.session.run
        call = next((c for c in run.jvps if c.id == call_id), None) if run is not None else None
        if call is None:
            return
        self.session.set_accumulator(call.accumulator)
        if target_id is None:
            self.explanation.setHtml(forward.accumulator_html(run, run.accumulators[call.accumulator]))
            return
        result = next(r for r in call.results if r.target == target_id)
        self.explanation.setHtml(forward.jvp_html(run, call, result))
        self.session.jvp_selected.emit(call, result)


def _summary_text(summary):
    if not summary:
        return "value"
    text = f"{summary['dtype']}{summary['shape']}"
    if "min" in summary:
        text += f"  min {summary['min']:.4g}  max {summary['max']:.4g}  norm {norm_text(summary, 4)}"
    return text


def explanation_html(run, call, result):
    source = html.escape(describe(run, result.source))
    if not result.explanations:
        return f"<p>d/d <b>{source}</b>: {html.escape(_summary_text(result.summary))}</p>"
    parts = []
    for target, e in result.explanations.items():
        evidence = "".join(f"<li>{html.escape(i['what'])}"
                           + (f" <i>at {_line_link(i['location'], _short(i['location']))}</i>"
                              if i.get("location") else "") + "</li>"
                           for i in e.evidence)
        where = f" ({_line_link(call.location, f'line {call.location.line}')})" if call.location else ""
        parts.append(f"<p><b>d {html.escape(describe(run, target))} / d {source} is None</b> "
                     f"<code>[{e.code}]</code>{where}</p><p>{_linked_lines(e.sentence, call)}</p><ul>{evidence}</ul>"
                     f"<p><b>Fix:</b> {html.escape(e.fix)}</p>")
    return "".join(parts)


def _linked_lines(sentence, call):
    """The sentence with each "line N" a link to that line of the call's file."""
    import re

    text = html.escape(sentence)
    if call.location is None:
        return text
    from tapeviz.inspection.model import Location
    return re.sub(r"line (\d+)", lambda m: _line_link(Location(call.location.file, int(m.group(1))), m.group(0)),
                  text)


class InspectorPanel(QtWidgets.QTextBrowser):
    """Details of the selected tensor or op: value, statistics, dtype, rule's plugin, the code around it."""

    def __init__(self, session):
        super().__init__()
        self.session = session
        self.setOpenLinks(False)
        session.node_selected.connect(self.show_key)
        session.run_changed.connect(lambda run: self.setHtml("<p>Select a node, a variable or a gradient.</p>"))

    def show_key(self, key):
        run = self.session.run
        if run is None or not key:
            return
        kind, _, ident = key.partition(":")
        try:
            ident = int(ident)
        except ValueError:
            return
        if kind == "op" and ident in run.ops:
            self.setHtml(op_html(run, run.ops[ident]))
        elif kind == "update" and ident in run.tapes:
            self.setHtml(update_html(run, ident))
        elif kind == "t" and ident in run.tensors:
            self.setHtml(tensor_html(run, run.tensors[ident], self.session.tape_id))


def _code_around(run, location, context=3):
    if location is None or location.file not in run.sources:
        return ""
    lines = run.sources[location.file].splitlines()
    start, stop = max(0, location.line - 1 - context), min(len(lines), location.line + context)
    rows = []
    for number in range(start, stop):
        text = html.escape(lines[number])
        mark = "background-color: rgba(255, 200, 0, 0.35);" if number + 1 == location.line else ""
        rows.append(f"<span style='{mark}'>{number + 1:5d}  {text}</span>")
    return f"<p><i>{html.escape(location.file)}:{location.line}</i></p><pre>" + "\n".join(rows) + "</pre>"


def _value_html(value, summary):
    parts = []
    if summary and "min" in summary:
        parts.append(f"<p>min {summary['min']:.6g} &nbsp; max {summary['max']:.6g} &nbsp; mean {summary['mean']:.6g}"
                     f" &nbsp; norm {norm_text(summary, 6)}"
                     + (f" &nbsp; non-finite {summary['nonfinite']}" if summary.get("nonfinite") else "") + "</p>")
    if value is not None:
        with np.printoptions(threshold=200, edgeitems=4, linewidth=100):
            parts.append(f"<pre>{html.escape(np.array2string(np.asarray(value)))}</pre>")
    elif summary:
        parts.append("<p><i>(value too large to keep; statistics only)</i></p>")
    return "".join(parts)


def tensor_html(run, info, tape_id=None):
    """A tensor's details; a variable's also list its reads on ``tape_id`` (drawn as part of it)."""
    rows = [("kind", info.kind), ("shape", str(tuple(info.shape))), ("dtype", info.dtype)]
    if info.name:
        rows.insert(0, ("name", info.name))
    if info.trainable is not None:
        rows.append(("trainable", "yes" if info.trainable else "no"))
    if info.producer in run.ops:
        rows.append(("computed by", f"{run.ops[info.producer].type} (op {info.producer})"))
    if info.kind == "variable" and tape_id in run.tapes:   # only the tape's ops: a run may have millions
        reads = [op.id for op in run.ops_of(tape_id) if op.type == READ_OP and op.inputs == [info.id]]
        if reads:
            shown = ", ".join(map(str, reads[:MAX_READS_LISTED])) + (", …" if len(reads) > MAX_READS_LISTED else "")
            rows.append(("read by", f"{len(reads)} ReadVariableOp op{'s' if len(reads) > 1 else ''} "
                                    f"on tape {tape_id} ({shown})"))
    table = "".join(f"<tr><td><b>{k}</b></td><td>{html.escape(v)}</td></tr>" for k, v in rows)
    where = run.ops[info.producer].location if info.producer in run.ops else info.first_seen
    return (f"<h3>{html.escape(describe(run, info.id))}</h3><table>{table}</table>"
            + _value_html(info.value, info.summary) + forward.tangents_html(run, info.id) + _code_around(run, where))


def op_html(run, op):
    rule = {"plugin": f"gradient rule from plugin <b>{html.escape(op.rule_source)}</b>",
            "custom": "gradient from a custom_gradient function",
            "not differentiable": f"not differentiable (declared by {html.escape(op.rule_source)})",
            "missing": "<span style='color:#c0392b'>no gradient rule registered: a differentiable path through "
                       "this op raises LookupError</span>"}.get(op.rule, op.rule)
    inputs = "".join(f"<li>{html.escape(describe(run, t))} {_shape(run, t)}</li>" for t in op.inputs)
    outputs = "".join(f"<li>{html.escape(describe(run, t))} {_shape(run, t)}</li>" for t in op.outputs)
    attrs = "".join(f"<li>{html.escape(k)} = {html.escape(repr(v))}</li>" for k, v in op.attrs.items())
    value = ""
    if len(op.outputs) == 1 and op.outputs[0] in run.tensors:
        out = run.tensors[op.outputs[0]]
        value = "<p><b>output value</b></p>" + _value_html(out.value, out.summary) + forward.tangents_html(run, out.id)
    tapes = ", ".join(f"tape {t}" for t in op.tapes) or "none"
    scope = f"<p>in scope <b>{html.escape(op.scope)}</b></p>" if op.scope else ""
    return (f"<h3>{html.escape(op.type)} <small>(op {op.id})</small></h3><p>{rule}</p><p>recorded on: {tapes}</p>"
            + scope
            + f"<p><b>inputs</b></p><ul>{inputs}</ul><p><b>outputs</b></p><ul>{outputs}</ul>"
            + (f"<p><b>attributes</b></p><ul>{attrs}</ul>" if attrs else "") + value + _code_around(run, op.location))


def _shape(run, tensor_id):
    info = run.tensors.get(tensor_id)
    return f"<i>{info.dtype}{list(info.shape)}</i>" if info else ""


class PluginsPanel(QtWidgets.QWidget):
    """What ``tapeviz plugins`` shows: each plugin, its op types, and broken plugins with their errors."""

    def __init__(self):
        super().__init__()
        self.tree = QtWidgets.QTreeWidget()
        self.tree.setHeaderLabels(["plugin", "version", "status / op types"])
        layout = QtWidgets.QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.tree)

    def refresh_once(self):
        """Fill the list the first time it is shown (loading every plugin takes a while)."""
        if not getattr(self, "_filled", False):
            self._filled = True
            self.refresh()

    def refresh(self):
        import warnings

        from tapeviz.inspection.plugin_table import plugin_table

        self.tree.clear()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            table = plugin_table()
        for plugin in table:
            status = f"BROKEN: {plugin['error']}" if plugin["broken"] else f"ok ({plugin['source']})"
            top = QtWidgets.QTreeWidgetItem([plugin["name"], plugin["version"], status])
            if plugin["broken"]:
                top.setForeground(2, QtGui.QBrush(QtGui.QColor("#c0392b")))
            for label, key in (("gradients", "gradients"), ("not differentiable", "not_differentiable"),
                               ("new ops", "new_ops"), ("overrides", "overrides")):
                if plugin[key]:
                    top.addChild(QtWidgets.QTreeWidgetItem([label, str(len(plugin[key])), ", ".join(plugin[key])]))
            self.tree.addTopLevelItem(top)
        self.tree.resizeColumnToContents(0)
        return table


class ConsolePanel(QtWidgets.QPlainTextEdit):
    """The running script's stdout and stderr (stderr in red)."""

    def __init__(self):
        super().__init__()
        self.setReadOnly(True)
        self.setFont(QtGui.QFontDatabase.systemFont(QtGui.QFontDatabase.SystemFont.FixedFont))
        self.setMaximumBlockCount(20000)

    def append_output(self, text, is_error=False):
        cursor = self.textCursor()
        cursor.movePosition(QtGui.QTextCursor.MoveOperation.End)
        fmt = QtGui.QTextCharFormat()
        fmt.setForeground(QtGui.QColor("#c0392b") if is_error else self.palette().color(QtGui.QPalette.ColorRole.Text))
        cursor.insertText(text, fmt)
        self.setTextCursor(cursor)
        self.ensureCursorVisible()


def update_html(run, tape_id):
    """The assignments after a tape (an optimizer's update): stateful, recorded on no tape."""
    rows = []
    for event in assignments_after(run, tape_id):
        info = run.tensors.get(event.tensor)
        name = info.label if info is not None else f"tensor {event.tensor}"
        where = f" at line {event.location.line}" if event.location else ""
        scope = f" in scope {event.scope}" if event.scope else ""
        rows.append(f"<li>{html.escape(event.kind)} to {html.escape(name)}{html.escape(scope + where)}</li>")
    return (f"<h3>Update after tape {tape_id}</h3><p>Stateful assignments, outside the tape: no tape records "
            "them and no gradient flows through them. They change the variables the next step reads.</p>"
            f"<ul>{''.join(rows)}</ul>")
