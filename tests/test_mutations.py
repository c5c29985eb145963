"""The mutation check's machinery (mgn.book.mutations), without executing a notebook."""

import json

import pytest

from mgn.__main__ import parser
from mgn.book.layout import Layout
from mgn.book.mutation_catalogue import MUTATIONS
from mgn.book.mutations import (
    CONTROL,
    COPIED,
    NOT_CAUGHT,
    ChapterError,
    Mutation,
    PatchError,
    apply,
    caught_by,
    chapter_error,
    check_applies,
    copy_repository,
    named_outcome,
    outcome,
    patched_text,
    run_mutations,
    table,
    uncaught,
)
from tests.repository import ROOT

# An IPython traceback as a notebook's error output stores it (colours and all), for a ValueError
# raised at line 68 of FILE.
TRACEBACK = [
    "\x1b[31m------------------------------------------------------------------\x1b[39m",
    "\x1b[31mValueError\x1b[39m                     Traceback (most recent call last)",
    "\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[1]\x1b[39m\x1b[32m, line 2\x1b[39m\n"
    "\x1b[32m----> \x1b[39m\x1b[32m2\x1b[39m check_kappa(-\x1b[32m1.0\x1b[39m)\n",
    "\x1b[36mFile \x1b[39m\x1b[32mFILE:68\x1b[39m, in \x1b[36mcheck_kappa\x1b[39m"
    "\x1b[34m(kappa, name)\x1b[39m\n\x1b[32m---> \x1b[39m\x1b[32m68\x1b[39m     raise\n",
    "\x1b[31mValueError\x1b[39m: kappa must be finite and >= 0, got -1.0",
]


def planted(old: str, name: str = "planted", chapters=("01_smoothed_relu",)) -> Mutation:
    return Mutation(name, tuple(chapters), "smoothed.py", old, "replaced\n", "A test patch.")


def test_every_catalogued_mutation_applies_once_to_the_library():
    chapters = {path.stem for path in Layout(ROOT, "smoke").sources()}
    names = [m.name for m in MUTATIONS]
    assert len(set(names)) == len(names) and CONTROL not in names
    for mutation in MUTATIONS:
        check_applies(mutation, ROOT)
        assert mutation.chapters and set(mutation.chapters) <= chapters, mutation.name
        assert mutation.new != mutation.old and mutation.models.endswith("."), mutation.name
    assert {chapter for m in MUTATIONS for chapter in m.chapters} == chapters


def test_a_snippet_that_moved_or_repeats_fails_naming_mutation_file_and_count():
    with pytest.raises(PatchError, match=r"'planted'.*occurs 0 times in mgn/smoothed.py"):
        check_applies(planted("this line is not in the library\n"), ROOT)
    with pytest.raises(PatchError, match=r"occurs 2 times in mgn/smoothed.py"):
        patched_text(planted("x = 1\n"), "x = 1\ny = 2\nx = 1\n")
    assert patched_text(planted("y = 2\n"), "x = 1\ny = 2\n") == "x = 1\nreplaced\n"


def test_the_copy_is_patched_and_the_real_tree_untouched(tmp_path):
    mutation = MUTATIONS[0]
    real = ROOT / "mgn" / mutation.path
    before = real.read_bytes()
    copy = copy_repository(ROOT, tmp_path)
    apply(mutation, copy)
    patched = (copy / "mgn" / mutation.path).read_text()
    assert mutation.new in patched and mutation.old not in patched
    assert real.read_bytes() == before
    assert all((copy / name).exists() for name in COPIED)
    assert (copy / "tests" / "baselines" / "smoke" / f"{mutation.chapters[0]}.json").is_file()
    assert not list(copy.rglob("__pycache__")) and not list(copy.rglob("*.ipynb"))
    assert not (copy / "_build").exists()


def fake_copy(root, values: dict, passed: dict) -> None:
    """A repository copy with chapter 01_x's baseline (a = 1, b = 2, checks c, d) and results."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "_toc.yml").write_text("root: intro\n")
    baseline = {
        "values": {k: {"value": v, "rtol": 1e-6, "atol": 0.0} for k, v in (("a", 1.0), ("b", 2.0))},
        "checks": ["c", "d"],
    }
    (root / "tests" / "baselines" / "smoke").mkdir(parents=True)
    (root / "tests" / "baselines" / "smoke" / "01_x.json").write_text(json.dumps(baseline))
    checks = [{"name": name, "passed": ok} for name, ok in passed.items()]
    (root / "_build" / "smoke" / "results").mkdir(parents=True)
    result = {"values": values, "checks": checks}
    (root / "_build" / "smoke" / "results" / "01_x.json").write_text(json.dumps(result))


def test_outcome_names_the_failed_checks_and_the_moved_values(tmp_path):
    fake_copy(tmp_path, {"a": 1.0, "b": 2.5}, {"c": False, "d": True})
    found = outcome(tmp_path, "01_x")
    assert found.failed_checks == ("c",) and found.moved_values == ("b",)
    assert found.caught and found.error is None and found.recorded == {"a": 1.0, "b": 2.5}
    fake_copy(tmp_path / "clean", {"a": 1.0, "b": 2.0000001}, {"c": True, "d": True})
    assert not outcome(tmp_path / "clean", "01_x").caught


def failed_notebook(path, ename: str, traceback: list[str]) -> None:
    output = {"output_type": "error", "ename": ename, "evalue": "it broke ", "traceback": traceback}
    cells = [{"cell_type": "code", "outputs": [{"output_type": "stream", "text": "hi"}]}]
    cells.append({"cell_type": "code", "outputs": [output]})
    path.write_text(json.dumps({"cells": cells}))


@pytest.mark.parametrize(
    ("ename", "raised_in", "kind"),
    [
        ("CheckFailed", "mgn/records.py", "check"),
        ("ValueError", "mgn/validation.py", "validation"),
        ("TypeError", "mgn/vision/split.py", "validation"),
        ("ValueError", "site-packages/numpy/core.py", "other"),
        ("ValueError", "mgn/book/execute.py", "other"),
        ("RuntimeError", "mgn/train.py", "other"),
    ],
)
def test_a_chapter_error_is_classified_by_its_type_and_innermost_frame(
    tmp_path, ename, raised_in, kind
):
    notebook = tmp_path / "01_x.ipynb"
    failed_notebook(
        notebook, ename, [t.replace("FILE", str(tmp_path / raised_in)) for t in TRACEBACK]
    )
    assert chapter_error(notebook, tmp_path / "mgn") == ChapterError(ename, "it broke", kind)
    assert chapter_error(tmp_path / "none.ipynb", tmp_path / "mgn") is None


def test_only_the_differences_the_control_lacks_are_credited():
    stale = "value 'x' = 2.0, baseline 1.0 (rtol 1e-06, atol 0.0)"
    moved = "value 'y' = 3.0, baseline 1.0 (rtol 1e-06, atol 0.0)"
    error = ChapterError("CheckFailed", "1 check(s) failed: c", "check")
    control = named_outcome("01_x", [stale], None, {"x": 2.0, "y": 1.0, "z": 5.0})
    mutated = named_outcome("01_x", [stale, moved], None, {"x": 2.0, "y": 3.0, "z": 5.5})
    assert mutated.without(control).moved_values == ("y",)
    assert mutated.without(control).changed == ("y", "z")
    assert not named_outcome("01_x", [stale], None).without(control).caught
    with_error = named_outcome("01_x", [stale], error)
    assert with_error.without(control).error == error
    assert not with_error.without(with_error).caught


def test_the_table_of_catches():
    rows = [
        (CONTROL, named_outcome("01_a", [], None)),
        (
            "m|1",
            named_outcome(
                "01_a",
                ["check 'c' failed", *(f"value 'v{i}' = 2, baseline 1" for i in range(4))],
                ChapterError("CheckFailed", "1 check(s) failed: c", "check"),
            ),
        ),
        ("m2", named_outcome("02_b", [], ChapterError("RuntimeError", "shapes", "other"))),
        ("m2", named_outcome("03_c", [], None)),
        ("m3", named_outcome("03_c", [], ChapterError("ValueError", "kappa", "validation"))),
        ("m4", named_outcome("03_c", [], None, {"a": 1.0, "b": 2.0}, ("a", "b"))),
        ("m5", named_outcome("03_c", [], None, {"a": 1.0}, ())),
    ]
    assert table(rows) == (
        "| mutation | chapter | caught by |\n"
        "|---|---|---|\n"
        "| control | 01_a | agrees with the baseline |\n"
        "| m\\|1 | 01_a | checks `c`; 4 baseline values (`v0`, `v1`, `v2`, ...); "
        "stopped by CheckFailed (a check) |\n"
        f"| m2 | 02_b | {NOT_CAUGHT} (stopped by RuntimeError (not a check)) |\n"
        f"| m2 | 03_c | {NOT_CAUGHT} |\n"
        "| m3 | 03_c | stopped by ValueError (a library validation) |\n"
        f"| m4 | 03_c | {NOT_CAUGHT} (2 values changed, none beyond what the baseline holds) |\n"
        f"| m5 | 03_c | {NOT_CAUGHT} (no recorded value changed) |\n"
    )
    assert caught_by(rows[1][1]).startswith("checks `c`")
    assert uncaught(rows) == ["m2", "m4", "m5"]


def test_mutations_are_checked_before_anything_runs(tmp_path):
    good = MUTATIONS[0]
    with pytest.raises(ValueError, match="unique"):
        run_mutations(ROOT, [good, good])
    with pytest.raises(ValueError, match=r"\['99_none'\] are not notebooks"):
        run_mutations(ROOT, [Mutation("x", ("99_none",), good.path, good.old, good.new, "X.")])
    with pytest.raises(PatchError, match="occurs 0 times"):
        run_mutations(ROOT, [planted("this line is not in the library\n")])
    assert not (ROOT / "_build" / "mutations" / "x.log").exists()


def test_the_command_line_knows_the_catalogue():
    args = parser().parse_args(["mutations", "--only", MUTATIONS[0].name])
    assert args.only == [MUTATIONS[0].name] and args.mode == "smoke"
    with pytest.raises(SystemExit):
        parser().parse_args(["mutations", "--only", "no_such_mutation"])
