"""The verdict rule, interval comparisons and Markdown tables of mgn.report."""

import pytest

from mgn.report import contains, interval_change, markdown_table, verdict


def test_verdict_rule():
    assert verdict([True, True]) == "confirmed"
    assert verdict([True, False]) == "refined"
    assert verdict([False, False]) == "contradicted"
    assert verdict([False]) == "contradicted"


def test_verdict_needs_a_case():
    with pytest.raises(ValueError, match="holds"):
        verdict([])


def test_contains_is_closed():
    assert contains((1.0, 2.0), 1.0) and contains((1.0, 2.0), 2.0)
    assert not contains((1.0, 2.0), 2.0 + 1e-12)
    assert not contains((1.0, 2.0), 0.5)


def test_interval_change():
    assert interval_change((0.70, 0.80), (0.50, 0.69)) == "falls"
    assert interval_change((0.70, 0.80), (0.81, 0.90)) == "rises"
    assert interval_change((0.70, 0.80), (0.60, 0.70)) == "no change"
    assert interval_change((0.70, 0.80), (0.75, 0.76)) == "no change"


@pytest.mark.parametrize("bad", [(1.0,), (2.0, 1.0), (float("nan"), 1.0)])
def test_bad_intervals_are_named(bad):
    with pytest.raises(ValueError, match="reference"):
        interval_change(bad, (0.0, 1.0))
    with pytest.raises(ValueError, match="interval"):
        contains(bad, 0.5)


def test_markdown_table():
    table = markdown_table(["", "a", "b"], [["x", 1, "2.0"], ["y", 3, 4]])
    assert table.splitlines() == [
        "|  | a | b |",
        "|---|---|---|",
        "| x | 1 | 2.0 |",
        "| y | 3 | 4 |",
    ]


def test_markdown_table_rejects_ragged_rows():
    with pytest.raises(ValueError, match=r"rows\[1\] has 2 cells, expected 3"):
        markdown_table(["a", "b", "c"], [[1, 2, 3], [1, 2]])
    with pytest.raises(ValueError, match="header"):
        markdown_table([], [])
