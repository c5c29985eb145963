import numpy as np
import pytest

from mgn.biased_sgd import Constants, Probe, check_theorem, fit_constants, theorem_bound

CONSTANTS = Constants(beta=4.0, mu=0.5, zeta2=1e-3, M=2.0, sigma2=0.2, sigma2_se=0.01)


def probe(n: int = 6, **changes) -> Probe:
    fields = {
        "steps": np.arange(n) * 10,
        "loss": np.linspace(10.0, 1.0, n),
        "grad_norm2": np.linspace(20.0, 2.0, n),
        "lambda_min": np.full(n, 0.6),
        "lambda_max": np.full(n, 3.0),
        "smoothness_needed": np.full(n, 2.0),
        "bias_norm2": np.full(n, 1e-3),
        "second_moment": np.linspace(40.0, 4.0, n) + 0.03,
        "second_moment_se": np.full(n, 0.01),
        "variance": np.full(n, 0.05),
    }
    fields.update(changes)
    return Probe(**fields)


def verdicts(checks):
    return {check.name: check.passed for check in checks}


def test_bound_unrolls_the_recursion():
    lr, steps = 0.01, 50
    bound = theorem_bound(CONSTANTS, lr, 10.0, steps)
    floor = (CONSTANTS.zeta2 + CONSTANTS.beta * lr * CONSTANTS.sigma2) / CONSTANTS.mu
    assert bound[0] == pytest.approx(10.0 + floor)
    # the bound's gap to the floor contracts by (1 - eta mu / 2) per step, as in the proof
    np.testing.assert_allclose(np.diff(np.log(bound - floor)), np.log(1 - lr * CONSTANTS.mu / 2))
    # and the recursion e_{k+1} = (1 - eta mu/2) e_k + eta/2 (zeta^2 + L eta sigma^2) stays below it
    e = [10.0]
    for _ in range(steps):
        e.append(
            (1 - lr * CONSTANTS.mu / 2) * e[-1]
            + lr / 2 * (CONSTANTS.zeta2 + CONSTANTS.beta * lr * CONSTANTS.sigma2)
        )
    assert np.all(np.array(e) <= bound + 1e-12)


def test_fit_takes_the_worst_step():
    p = probe(variance=np.array([0.05, 0.3, 0.05, 0.05, 0.2, 0.05]))
    c = fit_constants(p)
    assert c.beta == 3.0 and c.mu == 0.6 and c.zeta2 == 1e-3 and c.M == 2.0
    assert c.sigma2 == pytest.approx(2e-3 + 0.3)  # M = 2: sigma^2 = 2 zeta^2 + max variance


def test_a_trajectory_that_respects_everything_passes():
    fit, verify = probe().halves()
    constants = fit_constants(fit)
    loss = theorem_bound(constants, 0.01, 10.0, 100) * 0.9
    assert all(verdicts(check_theorem(constants, verify, 0.01, loss)).values())


def test_a_trajectory_above_the_bound_is_reported():
    fit, verify = probe().halves()
    constants = fit_constants(fit)
    loss = theorem_bound(constants, 0.01, 10.0, 100)
    loss[60] *= 1.05
    result = verdicts(check_theorem(constants, verify, 0.01, loss))
    assert result["bound"] is False
    assert all(passed for name, passed in result.items() if name != "bound")


def test_a_step_beyond_the_condition_is_reported():
    fit, verify = probe().halves()
    constants = fit_constants(fit)
    too_big = 1.5 * constants.step_size_limit()
    loss = theorem_bound(constants, too_big, 10.0, 20) * 0.5
    assert verdicts(check_theorem(constants, verify, too_big, loss))["step size"] is False


@pytest.mark.parametrize(
    ("field", "value", "premise"),
    [
        ("smoothness_needed", [2.0, 5.0, 2.0, 2.0, 2.0, 2.0], "A1 smoothness"),
        ("lambda_min", [0.6, 0.6, 0.6, 0.6, 0.6, 0.6], "A2 PL"),
        ("bias_norm2", [1e-3, 2e-3, 1e-3, 1e-3, 1e-3, 1e-3], "A3 bias"),
        ("second_moment", [40.1, 37.0, 26.0, 16.0, 11.0, 4.1], "A4 second moment"),
    ],
)
def test_each_violated_premise_is_reported(field, value, premise):
    changes = {field: np.array(value)}
    if premise == "A2 PL":  # the gradient on a verified step is too small for the fitted mu
        changes = {"grad_norm2": np.array([20.0, 1.0, 12.8, 9.2, 5.6, 2.0])}
    fit, verify = probe(**changes).halves()
    constants = fit_constants(fit)
    loss = theorem_bound(constants, 0.01, 10.0, 10) * 0.5
    result = verdicts(check_theorem(constants, verify, 0.01, loss))
    assert result[premise] is False
    assert result["bound"] is True


def test_probe_shapes_are_checked():
    with pytest.raises(ValueError, match="one length"):
        probe(loss=np.ones(3))
    with pytest.raises(ValueError, match="two probed steps"):
        probe(n=1).halves()
    with pytest.raises(ValueError, match="constants.mu"):
        theorem_bound(Constants(1.0, 0.0, 0.0, 2.0, 0.0), 0.1, 1.0, 3)
