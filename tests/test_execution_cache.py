"""The execution cache on a throw-away book: what reruns a notebook and what does not.

Each tiny notebook counts its own executions (:func:`tests.tiny_book.runs`), so every test sees
whether the runner executed it or restored it from ``_build/cache/``.
"""

import json

import nbformat
import pytest

from mgn.book import cache
from mgn.book.execute import execute
from mgn.book.layout import Layout
from mgn.book.refresh import INJECTED_TAG, with_current_markdown
from tests.tiny_book import BAD, GOOD, modes, notebook, runs


def executions(layout: Layout) -> dict:
    return json.loads(layout.executions.read_text())


@pytest.fixture
def layout(book, tmp_path, monkeypatch):
    """The smoke layout of the tiny book, keyed on a library of its own that a test may edit."""
    library = tmp_path / "library"
    (library / "book").mkdir(parents=True)
    (library / "core.py").write_text("ALPHA = 1\n")
    (library / "book" / "runner.py").write_text("STEP = 1\n")
    (library / "__main__.py").write_text("COMMAND = 1\n")
    monkeypatch.setattr(cache, "LIBRARY", library)
    monkeypatch.delenv("MGN_CIFAR10", raising=False)
    modes(book, "smoke: {}\n")
    return Layout(book, "smoke")


def test_unchanged_notebook_is_restored_not_executed(layout):
    assert execute(layout, ["01_good"]) == []
    first = executions(layout)["01_good"]
    assert first["cache"] == "fresh" and len(first["key"]) == 64
    results = (layout.results / "01_good.json").read_text()
    (layout.results / "01_good.json").unlink()
    (layout.executed / "01_good.ipynb").unlink()

    assert execute(layout, ["01_good"]) == []
    assert runs(layout.root, "01_good") == 1
    again = executions(layout)["01_good"]
    assert again == {**first, "cache": "hit"}
    assert (layout.results / "01_good.json").read_text() == results
    restored = nbformat.read(layout.executed / "01_good.ipynb", as_version=4)
    nbformat.validate(restored)
    assert any(INJECTED_TAG in c.metadata.get("tags", []) for c in restored.cells)
    assert not list(layout.cache.glob(".*")), "no staging folder is left behind"


def test_markdown_change_rerenders_without_executing(layout):
    execute(layout, ["01_good"])
    before = nbformat.read(layout.executed / "01_good.ipynb", as_version=4)
    source = layout.notebooks / "01_good.py"
    source.write_text(notebook("01_good", GOOD, title="A new title"))

    execute(layout, ["01_good"])
    assert runs(layout.root, "01_good") == 1
    after = nbformat.read(layout.executed / "01_good.ipynb", as_version=4)
    assert after.cells[0].source == "# A new title"
    code = [(c.source, c.outputs) for c in before.cells if c.cell_type == "code"]
    assert [(c.source, c.outputs) for c in after.cells if c.cell_type == "code"] == code


def test_code_or_parameter_change_reruns_that_notebook_only(layout, capsys):
    modes(layout.root, "smoke:\n  02_bad: {limit: 3.0}\n")
    assert execute(layout, []) == []
    source = layout.notebooks / "01_good.py"
    source.write_text(notebook("01_good", GOOD.replace("0.5", "0.25")))

    assert execute(layout, []) == []
    assert (runs(layout.root, "01_good"), runs(layout.root, "02_bad")) == (2, 1)
    assert "01_good (smoke)\n    executing (changed: code)" in capsys.readouterr().out
    assert json.loads((layout.results / "01_good.json").read_text())["values"] == {"x": 0.25}

    modes(layout.root, "smoke:\n  02_bad: {limit: 4.0}\n")
    assert execute(layout, []) == []
    assert (runs(layout.root, "01_good"), runs(layout.root, "02_bad")) == (2, 2)
    assert "02_bad (smoke)\n    executing (changed: parameters)" in capsys.readouterr().out


def test_library_or_environment_change_reruns(layout, capsys, monkeypatch):
    execute(layout, ["01_good"])
    (cache.LIBRARY / "book" / "runner.py").write_text("STEP = 2\n")
    (cache.LIBRARY / "__main__.py").write_text("COMMAND = 2\n")
    execute(layout, ["01_good"])
    assert runs(layout.root, "01_good") == 1, "the runner's own files do not key the cache"

    (cache.LIBRARY / "core.py").write_text("ALPHA = 2\n")
    execute(layout, ["01_good"])
    assert runs(layout.root, "01_good") == 2
    assert "executing (changed: library)" in capsys.readouterr().out

    monkeypatch.setenv("MGN_CIFAR10", "/data/cifar")
    execute(layout, ["01_good"])
    assert runs(layout.root, "01_good") == 3
    assert "executing (changed: variables)" in capsys.readouterr().out

    (layout.root / "constraints.txt").write_text("numpy==2.0\n")
    execute(layout, ["01_good"])
    assert runs(layout.root, "01_good") == 4
    assert "executing (changed: pins)" in capsys.readouterr().out


def test_failed_notebook_is_never_cached(layout):
    failures = execute(layout, ["02_bad"])
    assert [f.notebook for f in failures] == ["02_bad"]
    assert cache.load(layout, "02_bad") is None
    assert "02_bad" not in executions(layout)
    assert [f.notebook for f in execute(layout, ["02_bad"])] == ["02_bad"]
    assert runs(layout.root, "02_bad") == 2


def test_failure_after_a_success_drops_the_entry(layout):
    execute(layout, ["01_good"])
    assert cache.load(layout, "01_good") is not None
    (layout.notebooks / "01_good.py").write_text(notebook("01_good", BAD))
    assert [f.notebook for f in execute(layout, ["01_good"])] == ["01_good"]
    assert cache.load(layout, "01_good") is None
    assert not (layout.executed / "01_good.ipynb").exists()
    assert "01_good" not in executions(layout)


def test_force_executes_a_valid_entry_again(layout, capsys):
    execute(layout, ["01_good"])
    execute(layout, ["01_good"], force=True)
    assert runs(layout.root, "01_good") == 2
    assert "executing (forced)" in capsys.readouterr().out
    assert executions(layout)["01_good"]["cache"] == "fresh"


def test_key_covers_code_not_markdown():
    first = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# One"), nbformat.v4.new_code_cell("x = 1")]
    )
    second = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# Two"), nbformat.v4.new_code_cell("x = 1")]
    )
    assert cache.code_digest(first) == cache.code_digest(second)
    second.cells[1].metadata["tags"] = ["hide-input"]
    assert cache.code_digest(first) != cache.code_digest(second)
    parts = cache.chapter_parts("smoke", {"mode": "smoke"}, first, "lib", {"python": "3.11.2"})
    other = cache.chapter_parts("paper", {"mode": "paper"}, first, "lib", {"python": "3.11.2"})
    assert cache.changed_parts(parts, other) == ["mode", "parameters"]
    assert cache.key_of(parts) != cache.key_of(other)
    assert cache.key_of(parts) == cache.key_of(dict(reversed(parts.items())))


def executed_notebook() -> nbformat.NotebookNode:
    """As papermill leaves it: title, parameters, injected parameters, a code cell with output."""
    run = nbformat.v4.new_code_cell("print(n)", execution_count=3)
    run.outputs = [nbformat.v4.new_output("stream", text="3\n")]
    cells = [
        nbformat.v4.new_markdown_cell("# Old title"),
        nbformat.v4.new_code_cell("n = 10", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell("# Parameters\nn = 3", metadata={"tags": [INJECTED_TAG]}),
        nbformat.v4.new_markdown_cell("Old prose."),
        run,
    ]
    return nbformat.v4.new_notebook(cells=cells)


def test_current_markdown_goes_around_the_executed_code():
    current = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# New title"),
            nbformat.v4.new_code_cell("n = 10", metadata={"tags": ["parameters"]}),
            nbformat.v4.new_code_cell("print(n)"),
            nbformat.v4.new_markdown_cell("New closing prose."),
        ]
    )
    merged = with_current_markdown(executed_notebook(), current)
    assert [c.source for c in merged.cells] == [
        "# New title",
        "n = 10",
        "# Parameters\nn = 3",
        "print(n)",
        "New closing prose.",
    ]
    assert merged.cells[3].outputs[0].text == "3\n" and merged.cells[3].execution_count == 3
    nbformat.validate(merged)


def test_different_code_cells_are_refused():
    current = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("n = 10"), nbformat.v4.new_code_cell("print(n + 1)")]
    )
    with pytest.raises(ValueError, match="same code cells"):
        with_current_markdown(executed_notebook(), current)
