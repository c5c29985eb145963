"""The smoke run's recorded numbers and checks, held against the committed baselines.

Needs ``python -m mgn execute --mode smoke`` first (``make test`` runs it).
"""

import json

import pytest

from mgn.book.baselines import compare
from mgn.book.build import toc_notebooks
from tests.conftest import ROOT

LAYOUT_ROOT = ROOT
STEMS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("stem", STEMS)
def test_recorded_numbers_match_the_baseline(stem, smoke):
    result_path = smoke.results / f"{stem}.json"
    if not result_path.is_file():
        pytest.fail(f"no smoke results for {stem}: run `python -m mgn execute --mode smoke` first")
    baseline_path = smoke.baselines / f"{stem}.json"
    assert baseline_path.is_file(), f"no baseline for {stem}: run `make baselines` and review it"
    result = json.loads(result_path.read_text())
    assert result["mode"] == "smoke"
    assert compare(json.loads(baseline_path.read_text()), result) == []


def test_every_notebook_records_checks(smoke):
    for stem in toc_notebooks(smoke):
        result = json.loads((smoke.results / f"{stem}.json").read_text())
        assert result["checks"], f"{stem} records no check"


def test_no_stale_baselines(smoke):
    assert sorted(p.stem for p in smoke.baselines.glob("*.json")) == STEMS
