"""Export of a tape's graph without a window: SVG, PNG and DOT files, and the Jupyter figure."""
import xml.etree.ElementTree as ET

import tapeviz as tf
from tapeviz.gui.export import TapeFigure, export_main, export_tape, tape_dot
from tapeviz.gui.graph import build_graph, fold_graph
from tapeviz.inspection.tapefile import save


def record_unwatched():
    with tf.record() as rec:
        x = tf.Variable(2.0, name="x")
        c = tf.constant(3.0)
        with tf.GradientTape() as tape:
            y = x * c
        tape.gradient(y, [x, c])      # c is not watched: its gradient is None
    return rec.snapshot()


def test_svg_png_and_dot_have_every_drawn_node_and_mark_the_break(tmp_path):
    run = record_unwatched()
    tape_id = next(iter(run.tapes))
    drawn, _ = fold_graph(build_graph(run, tape_id))
    svg = export_tape(run, tape_id, str(tmp_path / "graph.svg"))
    root = ET.parse(svg).getroot()
    shapes = [e for e in root.iter() if (e.get("class") or "").startswith("node")]
    assert len(shapes) == len(drawn.nodes)
    assert any(e.get("stroke-dasharray") for e in shapes)            # where the path to c breaks
    png = export_tape(run, tape_id, str(tmp_path / "graph.png"))
    assert open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    dot = tape_dot(run, tape_id)
    assert dot.startswith('digraph "tape ') and "rankdir=TB" in dot and "path breaks here" in dot
    assert dot.count(" -> ") == len(drawn.edges)
    variable = next(k for k, n in drawn.nodes.items() if n.label == "x:0")
    assert 'label="ReadVariableOp"' not in dot and f'"{variable}" -> ' in dot   # the read is the variable's


def test_a_tape_shows_in_jupyter_as_svg():
    figure = TapeFigure(record_unwatched())
    svg = figure._repr_svg_()
    assert svg.lstrip().startswith("<svg") and "Mul" in svg


def test_export_command_reports_bad_requests_in_words(tmp_path, capsys):
    path = tmp_path / "run.tapeviz"
    save(record_unwatched(), path)
    assert export_main([str(path), "-o", str(tmp_path / "g.dot")]) == 0
    assert (tmp_path / "g.dot").read_text().startswith("digraph")
    assert export_main([str(path), "-o", str(tmp_path / "g.jpg")]) == 2
    assert "name the output file .svg, .png or .dot" in capsys.readouterr().err
    assert export_main([str(path), "--tape", "99", "-o", str(tmp_path / "g.svg")]) == 2
    assert "has no tape 99" in capsys.readouterr().err
