"""Gaussian mixture with full covariances, fitted ex post to the z-points (the RAE approach)."""

from __future__ import annotations

import warnings

import numpy as np
from scipy.special import logsumexp

from aegen.latent.checks import subsample_indices
from aegen.samplers.base import BaseSampler, check_int, check_number
from aegen.samplers.gaussian import cholesky_factor, gaussian_log_density

DEFAULT_N_COMPONENTS_GRID = (1, 2, 4, 8, 10, 16)


class GMMSampler(BaseSampler):
    """Mixture of k normals with full covariances (scikit-learn's EM), sampled with numpy.

    n_components: the number k of components, or "auto" to pick the k of
    ``n_components_grid`` (None: 1, 2, 4, 8, 10, 16) with the lowest BIC on a subsample of at
    most ``selection_points`` z-points. The final mixture is fitted on at most
    ``max_fit_points`` z-points (a seeded subsample, ``random_state``). RAE used k = 10. EM with
    full covariances costs about k * N * d^2 per iteration: at d = 256, k = 10 and N = 10,000
    a fit takes minutes on a 2-core CPU (the command line caches it). ``k`` and ``k_grid``
    are the earlier names of ``n_components`` and ``n_components_grid`` (still accepted, with a
    DeprecationWarning).

    Fitted: ``weights_`` (k,), ``means_`` (k, d), ``covariances_`` (k, d, d); the BIC of
    every tried k is in ``fit_info_["bic"]``, the chosen k in ``n_components_``.
    """

    method = "gmm"
    _renamed_params = {"k": "n_components", "k_grid": "n_components_grid"}

    def __init__(self, n_components: int | str = 10, n_components_grid: tuple[int, ...] | list[int] | None = None,
                 max_fit_points: int = 10_000, selection_points: int = 5_000, reg_covar: float = 1e-6,
                 max_iter: int = 100, random_state: int = 0, **renamed):
        self.n_components = n_components
        self.n_components_grid = n_components_grid
        self.max_fit_points = max_fit_points
        self.selection_points = selection_points
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.random_state = random_state
        self._take_renamed(renamed)

    def _check_params(self):
        if self.n_components != "auto":
            check_int("n_components", self.n_components, low=1)
        grid = self._grid()
        if isinstance(grid, (str, bytes)) or not hasattr(grid, "__iter__"):
            raise ValueError(f"n_components_grid must be a list of integers, got {grid!r}")
        if not [check_int("n_components_grid entry", value, low=1) for value in grid]:
            raise ValueError("n_components_grid must not be empty")
        check_int("max_fit_points", self.max_fit_points, low=2)
        check_int("selection_points", self.selection_points, low=2)
        check_number("reg_covar", self.reg_covar, low=0.0)
        check_int("max_iter", self.max_iter, low=1)
        check_int("random_state", self.random_state, low=0)

    def _grid(self):
        return DEFAULT_N_COMPONENTS_GRID if self.n_components_grid is None else self.n_components_grid

    def _fit(self, Z):
        rng = np.random.default_rng(self.random_state)
        bic = {}
        k = self.n_components
        if k == "auto":
            subset = np.asarray(Z[subsample_indices(Z.shape[0], int(self.selection_points), rng)], dtype=float)
            for candidate in sorted({int(value) for value in self._grid()}):
                if candidate <= subset.shape[0]:
                    bic[candidate] = float(self._mixture(candidate).fit(subset).bic(subset))
            if not bic:
                raise ValueError(f"too few points ({subset.shape[0]}) for any k in {list(self._grid())}")
            k = min(bic, key=bic.get)
        k = int(k)
        data = np.asarray(Z[subsample_indices(Z.shape[0], int(self.max_fit_points), rng)], dtype=float)
        if data.shape[0] < k:
            raise ValueError(f"too few points to fit: {data.shape[0]} z-points for n_components={k}")
        mixture = self._mixture(k).fit(data)
        self.weights_ = mixture.weights_.astype(float)
        self.means_ = mixture.means_.astype(float)
        self.covariances_ = mixture.covariances_.astype(float)
        self.fit_info_.update(n_components=k, bic=bic, fit_points=int(data.shape[0]),
                              converged=bool(mixture.converged_), random_state=int(self.random_state))
        self._after_load()

    def _mixture(self, k):
        return _QuietMixture(n_components=k, covariance_type="full", reg_covar=float(self.reg_covar),
                             max_iter=int(self.max_iter), random_state=int(self.random_state))

    @property
    def n_components_(self) -> int:
        """The number of components fitted (chosen by BIC with ``n_components="auto"``)."""
        return int(self.fit_info_["n_components"])

    def _restore_params_from_fit(self):
        if "n_components" not in self.fit_info_ and "k" in self.fit_info_:  # saved before the rename
            self.fit_info_["n_components"] = self.fit_info_.pop("k")
        if "n_components" not in self.fit_info_:
            raise ValueError("fit_info has no n_components")

    def _after_load(self):
        if not np.isclose(self.weights_.sum(), 1.0) or np.any(self.weights_ < 0):
            raise ValueError("mixture weights must be >= 0 and sum to 1")
        self.cholesky_ = np.stack([cholesky_factor(cov) for cov in self.covariances_])

    def _sample(self, n, rng):
        return mixture_sample(self.weights_, self.means_, self.cholesky_, n, rng)

    def log_prob(self, Z):
        return mixture_log_density(self._check_input(Z), self.weights_, self.means_, self.cholesky_)

    def _state_shapes(self, d):
        k = self.n_components_
        return {"weights_": (k,), "means_": (k, d), "covariances_": (k, d, d)}


def mixture_sample(weights: np.ndarray, means: np.ndarray, cholesky: np.ndarray, n: int,
                   rng: np.random.Generator, scale: float = 1.0) -> np.ndarray:
    """n draws (n, d) from the mixture of N(means[j], scale^2 L_j L_j^T) with weights (k,).

    means (k, d), cholesky (k, d, d) lower factors; ``scale`` is a temperature on every
    component's spread (1: the mixture itself).
    """
    counts = rng.multinomial(n, weights / weights.sum())
    out = np.empty((n, means.shape[1]))
    start = 0
    for component, count in enumerate(counts):
        noise = rng.standard_normal((count, means.shape[1]))
        out[start:start + count] = means[component] + (scale * noise) @ cholesky[component].T
        start += count
    # Components were drawn in blocks; shuffle so that the order carries no information.
    return out[rng.permutation(n)]


def mixture_log_density(Z: np.ndarray, weights: np.ndarray, means: np.ndarray, cholesky: np.ndarray) -> np.ndarray:
    """Log density (n,) at Z (n, d) of the mixture of N(means[j], L_j L_j^T) with weights (k,)."""
    per_component = np.stack([
        np.log(weight) + gaussian_log_density(Z, mean, chol)[0] if weight > 0 else np.full(Z.shape[0], -np.inf)
        for weight, mean, chol in zip(weights, means, cholesky)
    ])
    return logsumexp(per_component, axis=0)


class _QuietMixture:
    """scikit-learn's GaussianMixture without the warning when EM stops at max_iter.

    Whether EM converged is recorded in ``fit_info_`` instead.
    """

    def __init__(self, **params):
        from sklearn.mixture import GaussianMixture

        self.model = GaussianMixture(**params)

    def fit(self, X):
        from sklearn.exceptions import ConvergenceWarning

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.model.fit(X)
        return self.model
