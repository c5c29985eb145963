"""Each mode's recorded numbers and checks, held against the committed baselines.

Smoke: needs ``python -m mgn execute --mode smoke`` first (``make test`` runs it); its baselines hold
bit-level numbers (rtol 1e-6). Paper: needs ``python -m mgn execute --mode paper`` (``make book``
runs it, then ``pytest tests/test_notebook_results.py -k paper``); its baselines' tolerances come
from the measured spread over seeds (``python -m mgn baselines --mode paper --replicates 2``).
Without paper results the paper tests are skipped, saying why.
"""

import json

import pytest

from mgn.book.baselines import compare
from mgn.book.build import toc_notebooks
from mgn.book.layout import Layout
from tests.repository import ROOT

pytestmark = pytest.mark.slow

STEMS = sorted(p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


@pytest.mark.parametrize("stem", STEMS)
@pytest.mark.parametrize("mode", ["smoke", "paper"])
def test_recorded_numbers_match_the_baseline(stem, mode):
    layout = Layout(ROOT, mode)
    result_path = layout.results / f"{stem}.json"
    baseline_path = layout.baselines / f"{stem}.json"
    if mode == "paper" and not baseline_path.is_file():
        pytest.skip(
            f"no paper baseline for {stem} (chapters are baselined in paper mode one by one)"
        )
    if not result_path.is_file():
        if mode == "paper":
            pytest.skip(
                f"no paper results for {stem}: `make book` (or `python -m mgn execute`) first"
            )
        pytest.fail(f"no smoke results for {stem}: run `python -m mgn execute --mode smoke` first")
    assert baseline_path.is_file(), f"no baseline for {stem}: run `make baselines` and review it"
    result = json.loads(result_path.read_text())
    assert result["mode"] == mode
    assert compare(json.loads(baseline_path.read_text()), result) == []


def test_every_notebook_records_checks(smoke):
    for stem in toc_notebooks(smoke):
        result = json.loads((smoke.results / f"{stem}.json").read_text())
        assert result["checks"], f"{stem} records no check"


def test_no_stale_baselines(smoke):
    assert sorted(p.stem for p in smoke.baselines.glob("*.json")) == STEMS
    paper = Layout(ROOT, "paper").baselines
    assert set(p.stem for p in paper.glob("*.json")) <= set(STEMS)
