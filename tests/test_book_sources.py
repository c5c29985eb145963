"""Hygiene of the notebook sources: tracked as jupytext only, parameters declared, all in the toc."""

import re
import subprocess

import jupytext
import pytest

from mgn.book.build import toc_notebooks
from mgn.book.execute import check_parameters, convert, mode_parameters
from tests.repository import ROOT

SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
FORBIDDEN = {
    "matplotlib.use(": "figures would vanish from the book",
    "MPLBACKEND": "figures would vanish from the book",
    "!pip": "notebooks install nothing",
    "/work/": "no absolute paths",
    "/home/": "no absolute paths",
}


def test_no_notebook_json_is_tracked():
    tracked = subprocess.run(
        ["git", "-C", str(ROOT), "ls-files", "*.ipynb"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert tracked == []


def test_every_notebook_is_in_the_toc_and_back(smoke):
    assert SOURCES, "no notebook sources found"
    assert toc_notebooks(smoke) == [path.stem for path in SOURCES]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_first_code_cell_holds_the_parameters(source):
    notebook = jupytext.read(source)
    assert notebook.metadata["jupytext"]["text_representation"]["format_name"] == "percent"
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "first code cell must be tagged"
    assert re.search(r"^mode = \"paper\"", code[0].source, re.MULTILINE)
    assert notebook.cells[0].cell_type == "markdown" and notebook.cells[0].source.startswith("# ")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
@pytest.mark.parametrize("mode", ["smoke", "paper"])
def test_mode_parameters_are_declared(source, mode, tmp_path, smoke):
    layout = type(smoke)(smoke.root, mode)
    check_parameters(convert(source, tmp_path / "nb.ipynb"), mode_parameters(layout, source.stem))


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_no_forbidden_patterns(source):
    text = source.read_text()
    for pattern, why in FORBIDDEN.items():
        assert pattern not in text, f"{source.name} contains {pattern!r}: {why}"


def test_smoke_parameters_name_only_existing_notebooks(smoke):
    import yaml

    table = yaml.safe_load(smoke.modes_file.read_text())
    for mode, notebooks in table.items():
        assert set(notebooks or {}) <= {path.stem for path in SOURCES}, mode
