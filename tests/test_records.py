import json

import pytest

from mgn.records import RESULTS_DIR_ENV, Check, CheckFailed, Results, recorded_values


def test_check_directions():
    assert Check.at_most("a", "claim", 1.0, 2.0).passed
    assert not Check.at_most("a", "claim", 3.0, 2.0).passed
    assert Check.at_least("a", "claim", 3.0, 2.0).passed
    assert not Check.at_least("a", "claim", 1.0, 2.0).passed


def test_nan_never_passes():
    assert not Check.at_most("a", "claim", float("nan"), 1.0).passed
    assert not Check.at_least("a", "claim", float("nan"), 1.0).passed


def test_finish_writes_json_and_raises_on_failure(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_DIR_ENV, str(tmp_path))
    results = Results("99_demo", "smoke")
    results.value("answer", 42)
    results.value("diverged", float("inf"))
    results.check("fine", "1 <= 2", 1.0, 2.0)
    results.check("broken", "3 <= 2", 3.0, 2.0)
    with pytest.raises(CheckFailed, match="broken"):
        results.finish()
    written = json.loads((tmp_path / "99_demo.json").read_text())
    assert written["values"] == {"answer": 42.0, "diverged": "inf"}
    assert [c["passed"] for c in written["checks"]] == [True, False]


def test_finish_without_runner_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.delenv(RESULTS_DIR_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    results = Results("99_demo", "paper")
    results.check("fine", "1 <= 2", 1.0, 2.0)
    assert results.finish() is results
    assert list(tmp_path.iterdir()) == []
    assert "passed" in results._repr_html_()


def test_duplicates_are_refused():
    results = Results("99_demo", "smoke")
    results.value("x", 1)
    with pytest.raises(ValueError, match="'x'"):
        results.value("x", 2)
    results.check("c", "claim", 0, 1)
    with pytest.raises(ValueError, match="'c'"):
        results.check("c", "claim", 0, 1)


def test_claims_and_identities_are_written_and_not_counted(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_DIR_ENV, str(tmp_path))
    results = Results("99_demo", "smoke")
    results.claim("ball", "the ball grows like kappa^2", "slope 2.1 +- 0.1", "confirmed")
    results.identity("split", "exact = proxy + gap", 1e-17)
    results.check("fine", "1 <= 2", 1.0, 2.0)
    results.finish()
    written = json.loads((tmp_path / "99_demo.json").read_text())
    assert written["claims"] == [
        {
            "name": "ball",
            "paper": "the ball grows like kappa^2",
            "measured": "slope 2.1 +- 0.1",
            "verdict": "confirmed",
        }
    ]
    assert written["identities"][0]["name"] == "split"
    assert len(written["checks"]) == 1
    assert "not counted" in results._repr_html_()


def test_a_verdict_outside_the_four_is_refused():
    results = Results("99_demo", "smoke")
    with pytest.raises(ValueError, match="verdict"):
        results.claim("ball", "paper", "measured", "plausible")
    results.claim("ball", "paper", "measured", "refined")
    with pytest.raises(ValueError, match="'ball'"):
        results.claim("ball", "paper", "measured", "refined")


def test_recorded_values_reads_the_build_s_results_or_says_there_are_none(tmp_path, monkeypatch):
    monkeypatch.delenv(RESULTS_DIR_ENV, raising=False)
    assert recorded_values("07_accuracy") is None  # outside a build
    monkeypatch.setenv(RESULTS_DIR_ENV, str(tmp_path))
    assert recorded_values("07_accuracy") is None  # not executed in this build
    results = Results("07_accuracy", "smoke")
    results.value("mlp_gap_kappa_0", 0.088)
    results.finish()
    assert recorded_values("07_accuracy") == {"mlp_gap_kappa_0": 0.088}
