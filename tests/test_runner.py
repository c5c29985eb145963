"""The runner itself, on a throw-away book: parameter errors, failure collection, baselines."""

import shutil
import textwrap

import pytest

from mgn.book.baselines import compare
from mgn.book.execute import ParameterError, execute
from mgn.book.layout import Layout
from tests.conftest import ROOT

HEADER = "# ---\n# jupyter:\n#   kernelspec:\n#     name: python3\n#     display_name: Python 3\n#     language: python\n# ---\n"


def notebook(stem: str, body: str) -> str:
    cells = [
        f"# %% [markdown]\n# # {stem}",
        '# %% tags=["parameters"]\nmode = "paper"\nlimit = 1.0',
        f'# %%\nfrom mgn.records import Results\nresults = Results("{stem}", mode)\n{body}',
        "# %%\nresults.finish()",
    ]
    return HEADER + "\n" + "\n\n".join(cells) + "\n"


@pytest.fixture
def book(tmp_path):
    shutil.copy(ROOT / "_toc.yml", tmp_path / "_toc.yml")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_good.py").write_text(
        notebook(
            "01_good", 'results.value("x", 0.5)\nresults.check("ok", "0.5 <= limit", 0.5, limit)'
        )
    )
    (tmp_path / "notebooks" / "02_bad.py").write_text(
        notebook("02_bad", 'results.check("broken", "2 <= limit", 2.0, limit)')
    )
    return tmp_path


def modes(root, text):
    (root / "notebooks" / "modes.yml").write_text(textwrap.dedent(text))


def test_undeclared_parameter_is_refused_before_running(book):
    modes(book, "smoke:\n  02_bad: {limt: 3}\n")
    with pytest.raises(ParameterError, match=r"\['limt'\]"):
        execute(Layout(book, "smoke"), [])
    assert not (book / "_build" / "smoke" / "results").exists()


def test_all_failures_are_collected_with_their_cell(book):
    modes(book, "smoke: {}\n")
    layout = Layout(book, "smoke")
    failures = execute(layout, [])
    assert [f.notebook for f in failures] == ["02_bad"]
    assert "CheckFailed" in failures[0].error and "cell" in failures[0].where
    assert (layout.executed / "01_good.ipynb").is_file()
    assert (layout.failed / "02_bad.ipynb").is_file()
    assert (layout.results / "01_good.json").is_file()


def test_mode_parameters_reach_the_notebook(book):
    modes(book, "smoke:\n  02_bad: {limit: 3.0}\n")
    assert execute(Layout(book, "smoke"), ["02_bad"]) == []


def test_unknown_notebook_and_mode():
    with pytest.raises(FileNotFoundError, match="99_nothing"):
        execute(Layout(ROOT, "smoke"), ["99_nothing"])
    with pytest.raises(ValueError, match="mode must be one of"):
        Layout(ROOT, "fast")


def test_compare_reports_every_kind_of_difference():
    baseline = {
        "values": {
            "x": {"value": 1.0, "rtol": 1e-6, "atol": 0.0},
            "gone": {"value": 1, "rtol": 0, "atol": 0},
        },
        "checks": ["c"],
    }
    result = {
        "values": {"x": 1.001, "new": 2.0},
        "checks": [{"name": "c", "passed": False}],
    }
    problems = " | ".join(compare(baseline, result))
    for fragment in (
        "'x' = 1.001",
        "'gone' is in the baseline",
        "'new' has no baseline",
        "'c' failed",
    ):
        assert fragment in problems
    result = {"values": {"x": 1.0 + 1e-9, "gone": 1}, "checks": [{"name": "c", "passed": True}]}
    assert compare(baseline, result) == []
