import numpy as np
import pytest

from marginrank.errors import MarginRankError, SettingError
from marginrank.nmf import ConvergenceWarning, MaskedNMF


def _relative_error(estimate, truth):
    return np.linalg.norm(estimate - truth) / np.linalg.norm(truth)


@pytest.mark.parametrize("solver", ["anls", "hals"])
@pytest.mark.parametrize("init", ["incremental", "nndsvd", "random"])
def test_exact_recovery_with_half_missing(solver, init, make_planted):
    X, mask, truth, _, _ = make_planted(seed=10)
    model = MaskedNMF(3, solver=solver, init=init, max_iter=3000, tol=1e-14, n_restarts=2, random_state=0)
    W = model.fit_transform(X)
    assert _relative_error(model.inverse_transform(W), truth) < 1e-6  # on the missing half too


def test_kl_recovers_planted_matrix(make_planted):
    X, _, truth, _, _ = make_planted(seed=11)
    model = MaskedNMF(3, loss="kullback-leibler", max_iter=2000, tol=1e-12, random_state=0)
    with pytest.warns(ConvergenceWarning):  # multiplicative updates are slow: close, not exact
        W = model.fit_transform(X)
    assert model._solver == "mu"
    assert _relative_error(model.inverse_transform(W), truth) < 1e-2
    assert model.reconstruction_err_ == pytest.approx(model.history_[-1])


@pytest.mark.parametrize(
    "loss, solver", [("frobenius", "anls"), ("frobenius", "hals"), ("frobenius", "mu"), ("kullback-leibler", "mu")]
)
def test_missing_entries_are_ignored(planted_matrix, loss, solver):
    X, mask, truth, _, _ = planted_matrix
    options = {"loss": loss, "solver": solver, "max_iter": 30, "tol": 0.0, "random_state": 0}
    with pytest.warns(ConvergenceWarning):
        by_nan = MaskedNMF(3, **options).fit(X)
    hidden = np.where(mask, truth, 1e6 * np.random.default_rng(1).random(X.shape))
    with pytest.warns(ConvergenceWarning):
        by_mask = MaskedNMF(3, **options).fit(hidden, mask=mask)
    np.testing.assert_array_equal(by_nan.components_, by_mask.components_)
    assert by_nan.reconstruction_err_ == by_mask.reconstruction_err_


def test_reconstruction_error_definition(planted_matrix):
    X, mask, _, _, _ = planted_matrix
    noisy = X + 0.05
    model = MaskedNMF(2, max_iter=30, random_state=0)
    with pytest.warns(ConvergenceWarning):
        W = model.fit_transform(noisy)
    residual = (noisy - W @ model.components_)[mask]
    assert model.reconstruction_err_ == pytest.approx(np.sqrt(np.sum(residual**2)), rel=1e-12)
    assert model.n_iter_ == len(model.history_) - 1
    assert model.history_[-1] == pytest.approx(0.5 * np.sum(residual**2), rel=1e-12)


def test_restarts_keep_the_lowest_objective(planted_matrix):
    X = planted_matrix[0] + 0.3 * np.random.default_rng(0).random(planted_matrix[0].shape)
    options = {"init": "random", "max_iter": 5, "random_state": 0}
    with pytest.warns(ConvergenceWarning):
        single = MaskedNMF(3, **options).fit(X)  # the same first start as below
    with pytest.warns(ConvergenceWarning):
        best = MaskedNMF(3, n_restarts=4, **options).fit(X)
    assert best.history_[-1] <= single.history_[-1]


def test_transform_refits_rows_with_H_fixed(make_planted):
    X, mask, truth, W_true, H_true = make_planted(60, 30, 3, seed=12)
    model = MaskedNMF(3, max_iter=2000, tol=1e-14, random_state=0).fit(X)
    W_new = model.transform(X[40:])  # the rows again, each with its own observed entries
    assert _relative_error(model.inverse_transform(W_new), truth[40:]) < 1e-6
    np.testing.assert_allclose(model.transform(truth[40:]), W_new, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "X, mask, message",
    [
        (np.array([[1.0, -2.0], [3.0, 4.0]]), None, "negative observed"),
        (np.array([[np.nan, np.nan], [3.0, 4.0]]), None, "row"),
        (np.array([[np.nan, 2.0], [np.nan, 4.0]]), None, "column"),
        (np.ones(5), None, "2-D"),
        (np.array([[np.nan, 2.0], [1.0, 4.0]]), np.ones((2, 2), bool), "NaN at entries the mask"),
        (np.ones((2, 2)), np.ones((3, 2), bool), "mask has shape"),
        (np.ones((2, 2)), np.ones((2, 2)), "boolean"),
        (np.array([[np.inf, 1.0], [1.0, 1.0]]), None, "infinite"),
        (np.array([[1e300, 1.0], [1.0, 1.0]]), None, "values \\(up to 1e\\+300\\) overflow float64 once squared"),
    ],
)
def test_input_errors(X, mask, message):
    with pytest.raises(MarginRankError, match=message):
        MaskedNMF(1).fit(X, mask=mask)


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_components": 0}, "n_components=0 must be an integer >= 1"),
        ({"n_components": "2"}, "n_components='2' must be an integer >= 1"),
        ({"n_components": 2, "tol": "1e-3"}, "tol='1e-3' must be a finite number >= 0.0"),
        ({"n_components": 2, "loss": "l1"}, "loss"),
        ({"n_components": 2, "solver": "sgd"}, "solver"),
        ({"n_components": 2, "tol": -1.0}, r"tol=-1.0 must be a finite number >= 0.0"),
        ({"n_components": 2, "l2": float("inf")}, r"l2=inf must be a finite number >= 0.0"),
        ({"n_components": 2, "random_state": -1}, "random_state=-1 must be None, an integer >= 0 or a numpy Generator"),
        ({"n_components": 2, "random_state": "seed"}, "random_state='seed' must be None"),
        ({"n_components": 2, "loss": "kullback-leibler", "solver": "hals"}, "only loss='frobenius'"),
        ({"n_components": 2, "loss": "kullback-leibler", "l2": 0.1}, "l2"),
    ],
)
def test_parameter_errors(params, message):
    with pytest.raises(MarginRankError, match=message):
        MaskedNMF(**params).fit(np.ones((3, 3)))


def test_transform_checks():
    with pytest.raises(MarginRankError, match="not fitted"):
        MaskedNMF(1).transform(np.ones((2, 2)))
    model = MaskedNMF(1, max_iter=5).fit(np.ones((3, 3)))
    with pytest.raises(MarginRankError, match="columns"):
        model.transform(np.ones((2, 4)))


def test_rank_above_the_smaller_side_is_refused_naming_the_setting():
    X = np.random.default_rng(0).random((20, 8))
    with pytest.raises(SettingError, match=r"n_components=9 .*min\(n_rows, n_columns\) = 8") as caught:
        MaskedNMF(9).fit(X)
    assert caught.value.setting == "n_components"
    assert MaskedNMF(8, max_iter=5).fit(X).n_components_ == 8


def test_rank_beyond_what_the_observed_entries_determine_warns():
    X = np.random.default_rng(0).random((10, 10))
    band = (np.arange(10)[None, :] - np.arange(10)[:, None]) % 10 < 4
    X[~band] = np.nan  # 40 observed entries; a rank-4 10 x 10 matrix has 4 * (10 + 10 - 4) = 64 degrees of freedom
    with pytest.warns(UserWarning, match=r"n_components=4 .*64 .*40 observed"):
        MaskedNMF(4, max_iter=5).fit(X)
