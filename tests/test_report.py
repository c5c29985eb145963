"""The verdict rule, interval comparisons and Markdown tables of mgn.report."""

import numpy as np
import pytest
from scipy import stats

from mgn.report import (
    contains,
    interval_change,
    markdown_table,
    mean_interval,
    ratio_interval,
    verdict,
)


def test_verdict_rule():
    assert verdict([True, True]) == "confirmed"
    assert verdict([True, False]) == "refined"
    assert verdict([False, False]) == "contradicted"
    assert verdict([False]) == "contradicted"


def test_verdict_off_the_papers_scale_is_at_most_refined():
    assert verdict([True, True], at_paper_scale=False) == "refined"
    assert verdict([True, False], at_paper_scale=False) == "refined"
    assert verdict([False, False], at_paper_scale=False) == "contradicted"


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


def test_mean_interval_is_students_t_over_the_last_axis():
    samples = np.array([[1.0, 2.0, 3.0], [5.0, 5.0, 5.0]])
    low, high = mean_interval(samples)
    half = stats.t.ppf(0.975, 2) * 1.0 / np.sqrt(3)  # sample std of 1, 2, 3 is 1
    np.testing.assert_allclose(low, [2.0 - half, 5.0])
    np.testing.assert_allclose(high, [2.0 + half, 5.0])
    assert half > 2.0  # t with 2 degrees of freedom: 4.30, not the normal's 1.96
    one_low, one_high = mean_interval([0.0, 1.0], level=0.5)
    assert np.isclose(one_low, 0.5 - stats.t.ppf(0.75, 1) * np.sqrt(0.5) / np.sqrt(2), rtol=1e-14)
    assert np.ndim(one_low) == 0 and one_high > one_low


@pytest.mark.parametrize(("samples", "level", "name"), [([1.0], 0.95, "samples"),
                                                         ([1.0, 2.0], 1.0, "level")])  # fmt: skip
def test_mean_interval_names_bad_input(samples, level, name):
    with pytest.raises(ValueError, match=name):
        mean_interval(samples, level)


def test_ratio_interval_is_the_set_of_ratios_whose_paired_difference_holds_zero():
    rng = np.random.default_rng(5)
    b = 0.2 + 0.02 * rng.standard_normal(4)
    a = 0.6 * b + 0.01 * rng.standard_normal(4)
    low, high = ratio_interval(a, b)
    assert low < a.mean() / b.mean() < high and high - low < 0.5
    for rho in np.linspace(low - 0.2, high + 0.2, 81):
        d_low, d_high = mean_interval(a - rho * b)
        inside = low - 1e-9 <= rho <= high + 1e-9
        assert (d_low <= 0 <= d_high) == inside or min(abs(rho - low), abs(rho - high)) < 1e-6


def test_ratio_interval_is_unbounded_when_the_denominator_holds_zero():
    assert ratio_interval([0.1, 0.2], [0.05, -0.04]) == (-np.inf, np.inf)
    assert ratio_interval([0.3, 0.3], [0.5, 0.5]) == pytest.approx((0.6, 0.6))


@pytest.mark.parametrize(
    ("numerator", "denominator", "level", "name"),
    [([1.0], [1.0], 0.95, "numerator"), ([1.0, 2.0], [1.0], 0.95, "denominator"),
     ([1.0, 2.0], [1.0, 2.0], 1.0, "level")],
)  # fmt: skip
def test_ratio_interval_names_bad_input(numerator, denominator, level, name):
    with pytest.raises(ValueError, match=name):
        ratio_interval(numerator, denominator, level)
