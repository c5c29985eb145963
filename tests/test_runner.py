"""The runner itself, on a throw-away book: parameter errors, failure collection, baselines, and the
pages it generates (reading order, claims ledger, MathJax) from synthetic notebooks and results."""

import json

import nbformat
import pytest

from mgn.book.baselines import compare
from mgn.book.claims import claims_section
from mgn.book.execute import ParameterError, execute
from mgn.book.layout import Layout
from mgn.book.mathjax import ENTRY, STATIC, install_mathjax
from mgn.book.reading_order import SETTINGS_TAG, arrange_for_reading, settings_note
from mgn.records import Check, Results, write_json_atomic
from tests.repository import ROOT
from tests.tiny_book import modes


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


def test_compare_holds_an_infinity_but_never_a_nan():
    """Non-finite values are kept as strings: the same infinity agrees, a NaN or a change does not."""
    checks = {"checks": []}
    baseline = {"values": {"bound": {"value": "inf", "rtol": 1e-6, "atol": 0.0}}, **checks}
    assert compare(baseline, {"values": {"bound": "inf"}, "checks": []}) == []
    for measured in ("-inf", "nan", 3.0):
        assert compare(baseline, {"values": {"bound": measured}, "checks": []}) != []
    nan = {"values": {"bound": {"value": "nan", "rtol": 1e-6, "atol": 0.0}}, **checks}
    assert compare(nan, {"values": {"bound": "nan"}, "checks": []}) != []
    finite = {"values": {"bound": {"value": 3.0, "rtol": 1e-6, "atol": 0.0}}, **checks}
    assert compare(finite, {"values": {"bound": "inf"}, "checks": []}) != []


def executed_notebook(parameters: dict) -> nbformat.NotebookNode:
    """A notebook as papermill leaves it: intro, parameters, injected parameters, code."""
    cells = [
        nbformat.v4.new_markdown_cell("# Title\n\nThe introduction."),
        nbformat.v4.new_code_cell("mode = 'paper'\nn = 10", metadata={"tags": ["parameters"]}),
        nbformat.v4.new_code_cell(
            "# Parameters\nmode = 'smoke'", metadata={"tags": ["injected-parameters"]}
        ),
        nbformat.v4.new_code_cell("import math", metadata={"tags": ["hide-cell"]}),
    ]
    notebook = nbformat.v4.new_notebook(cells=cells)
    notebook.metadata["papermill"] = {"parameters": parameters}
    return notebook


def test_parameter_cells_give_way_to_one_settings_note():
    notebook = arrange_for_reading(executed_notebook({"mode": "smoke", "n": 3, "widths": [1, 2]}))
    tags = [c.metadata.get("tags", []) for c in notebook.cells]
    assert tags == [
        [],
        [SETTINGS_TAG],
        ["parameters", "hide-cell"],
        ["injected-parameters", "remove-cell"],
        ["hide-cell"],
    ]
    note = notebook.cells[1].source
    assert "Settings of this run" in note and "`smoke`" in note
    assert "`n = 3`" in note and "`widths = [1, 2]`" in note
    nbformat.validate(notebook)
    with pytest.raises(ValueError, match="already carries"):
        arrange_for_reading(notebook)


def test_settings_note_without_overrides_and_bad_notebooks():
    assert "every parameter keeps the default" in settings_note({"mode": "paper"})
    with pytest.raises(ValueError, match="'mode'"):
        settings_note({"n": 3})
    notebook = executed_notebook({"mode": "paper"})
    del notebook.metadata["papermill"]
    with pytest.raises(ValueError, match="papermill"):
        arrange_for_reading(notebook)


def write_results(layout: Layout, stem: str, build) -> None:
    results = Results(stem, layout.mode)
    build(results)
    write_json_atomic(layout.results / f"{stem}.json", results.to_json())


def test_claims_ledger_without_any_claim(book):
    layout = Layout(book, "smoke")
    assert "No chapter of this build has recorded results" in claims_section(layout, ["01_good"])
    write_results(layout, "01_good", lambda r: r.check("ok", "0.5 <= 1", 0.5, 1.0))
    text = claims_section(layout, ["01_good", "02_bad"])
    assert "records a verdict on a claim yet" in text
    assert "### 01_good" in text and "1 of 1 checks passed" in text and "02_bad" not in text
    assert "by construction" not in text


def test_claims_ledger_lists_claims_checks_and_identities_apart(book):
    layout = Layout(book, "smoke")

    def first(r):
        r.claim("rate", paper="rate is $1 - \\eta$", measured="0.91 | 0.92", verdict="confirmed")
        r.claim("ball", paper="radius ~ kappa", measured="slope 2.0", verdict="refined")
        r.check("slope", "slope near 2", 0.01, 0.05)
        r.add(Check.at_least("margin", "margin positive", -1.0, 0.0))
        r.identity("split", "loss = smooth + reg", 2e-16)

    write_results(layout, "01_good", first)
    write_results(layout, "02_bad", lambda r: r.claim("x", "p", "m", "not tested"))
    text = claims_section(layout, ["01_good", "02_bad"])
    claims, checks = text.split("## Checks by chapter")
    assert "3 claims: 1 confirmed, 1 refined, 1 not tested." in claims
    assert (
        "| rate is $1 - \\eta$ (`rate`) | {doc}`../notebooks/01_good` | 0.91 \\| 0.92 |" in claims
    )
    assert claims.index("01_good") < claims.index("02_bad")
    assert "1 of 2 checks passed" in checks
    assert "| margin positive (`margin`) | -1 | 0 | **no** |" in checks
    identities = checks.split("by construction")[1]
    assert "| loss = smooth + reg (`split`) | 2e-16 |" in identities
    assert "split" not in checks.split("by construction")[0]
    assert "This chapter records no check." in checks.split("### 02_bad")[1]


def test_mathjax_is_copied_into_the_site(tmp_path):
    entry = install_mathjax(tmp_path)
    assert entry.is_file() and entry.stat().st_size > 100_000
    assert entry.relative_to(tmp_path).as_posix() == f"{STATIC}/{ENTRY}"
    fonts = entry.parent / "output" / "chtml" / "fonts" / "woff-v2"
    assert len(list(fonts.glob("*.woff"))) > 20


def test_tolerances_from_three_seeds_zeros_held_and_values_the_seeds_cannot_tell_from_zero(
    tmp_path,
):
    from mgn.book.baselines import write_baselines

    root = tmp_path / "book"
    (root / "notebooks").mkdir(parents=True)
    (root / "_toc.yml").write_text("format: jb-book\n")
    runs = [
        {"effect": 10.0, "noise": 0.1, "count": 0, "round_off": 4e-17},
        {"effect": 10.4, "noise": -0.2, "count": 0, "round_off": 4e-17},
        {"effect": 9.9, "noise": 0.3, "count": 0, "round_off": 4e-17},
    ]
    folders = []
    for k, values in enumerate(runs):
        layout = Layout(root, "paper", k)
        layout.results.mkdir(parents=True)
        payload = {"values": values, "checks": [{"name": "c", "passed": True}]}
        (layout.results / "01_x.json").write_text(json.dumps(payload))
        folders.append(layout.results)
    main = Layout(root, "paper")
    with pytest.raises(ValueError, match="at least 3 seeds"):
        write_baselines(main, None, folders[1:2])
    (path,) = write_baselines(main, None, folders[1:])
    values = json.loads(path.read_text())["values"]
    assert values["effect"]["atol"] == pytest.approx(2 * 0.5) and "held" not in values["effect"]
    assert values["noise"]["held"] is False and "zero" in values["noise"]["derivation"]
    assert "held" not in values["count"] and "exactly 0" in values["count"]["derivation"]
    assert values["round_off"]["held"] is False and "round-off" in values["round_off"]["derivation"]
    baseline = json.loads(path.read_text())
    moved = {"effect": 11.2, "noise": 5.0, "count": 1, "round_off": 1.0}
    problems = compare(baseline, {"values": moved, "checks": [{"name": "c", "passed": True}]})
    # effect: 1.2 beyond twice the seeds' range; count: no longer 0; noise, round_off: not held
    assert sorted(p.split(" =")[0] for p in problems) == ["value 'count'", "value 'effect'"]
    assert any(p.startswith("value 'effect' = 11.2, baseline 10.0") for p in problems)
