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


LONGEST_CODE_CELL = 40  # lines: a longer computation is a library function (CONTRIBUTING.md)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_code_cells_are_short(source):
    code = [cell for cell in jupytext.read(source).cells if cell.cell_type == "code"]
    lengths = [len(cell.source.splitlines()) for cell in code]
    assert max(lengths) < LONGEST_CODE_CELL, f"cell {lengths.index(max(lengths))} is too long"


def test_no_library_module_imports_another_module_s_private_name():
    private = re.compile(
        r"^\s*from (mgn[\w.]*) import ([^\n]*\b_[a-z]\w*|\(\s*(?:[^)]*\n)*?\s*_\w+)", re.M
    )
    offenders = []
    for path in (ROOT / "mgn").rglob("*.py"):
        offenders += [
            f"{path.relative_to(ROOT)}: {m.group(0).strip()}"
            for m in private.finditer(path.read_text())
        ]
    assert offenders == []
