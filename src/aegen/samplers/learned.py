"""Common machinery of the learned samplers (a normalizing flow, a flow-matching prior).

Both learn a neural network on PCA-whitened z-points: ``w = (z - mean) @ components.T / scales``,
so that every coordinate has unit variance and the networks see the same scale whatever the
autoencoder. The whitening is fitted state in ``state.npz`` like any sampler's arrays; the
network weights go to ``weights.safetensors`` through the :meth:`BaseSampler._save_extra`
hook, with their SHA-256 in params.json. Training runs inside ``torch.random.fork_rng``
seeded by ``random_state``, so it is repeatable and leaves the caller's torch generator
untouched; sampling draws its base noise from numpy's generator of ``sample(random_state=...)``.
"""

from __future__ import annotations

import contextlib
import copy
import math
import time
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from aegen import AegenError
from aegen.io import file_digest, load_tensors, save_tensors
from aegen.latent.moments import mean_and_covariance
from aegen.latent.pca import LatentPCA
from aegen.model import pick_device
from aegen.samplers.base import BaseSampler, check_int, check_number

WEIGHTS_FILE = "weights.safetensors"
# Rows pushed through a network at a time when sampling or evaluating densities.
INFERENCE_ROWS = 8192


def pca_whitening(Z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """mean (d,), components (d, d) (rows: principal axes, largest variance first), scales (d,).

    Scales are the standard deviations along the axes, floored at 1e-6 of the largest so that
    a degenerate cloud (fewer points than dimensions) still gives a finite whitening.
    """
    mean, cov = mean_and_covariance(Z)
    pca = LatentPCA().fit_covariance(cov, mean, Z.shape[0])
    variances = pca.explained_variance_
    scales = np.sqrt(np.maximum(variances, (1e-6 * np.sqrt(max(variances[0], 1e-300))) ** 2))
    return pca.mean_, pca.components_, scales


RADIUS_KNOTS = 32


def radius_knots(W: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Knots (K,), (K,) of the radial Gaussianization of whitened points W (N, d).

    At K evenly spaced probability levels: the log radius of W and the log radius a standard
    normal in d dimensions has there (the chi distribution's quantile). Between the knots the
    map is linear in log-log coordinates, beyond them it continues the outer segments (power-law
    tails), so it is a smooth-enough bijection of (0, inf) with an exact inverse.
    """
    from scipy import stats

    levels = (np.arange(RADIUS_KNOTS) + 0.5) / RADIUS_KNOTS
    log_radius = np.quantile(np.log(np.maximum(np.linalg.norm(W, axis=1), 1e-300)), levels)
    target = 0.5 * np.log(stats.chi2.ppf(levels, W.shape[1]))
    # Repeated radii (a degenerate cloud) would give a zero-width segment: keep the knots increasing.
    log_radius = np.maximum.accumulate(log_radius + 1e-9 * np.arange(RADIUS_KNOTS))
    return log_radius, target


def piecewise_log_linear(x: np.ndarray, knots_x: np.ndarray, knots_y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """y (n,) and dy/dx (n,) of the increasing piecewise-linear map through the knots, extended linearly."""
    slopes = np.diff(knots_y) / np.diff(knots_x)
    segment = np.clip(np.searchsorted(knots_x, x) - 1, 0, knots_x.size - 2)
    return knots_y[segment] + slopes[segment] * (x - knots_x[segment]), slopes[segment]


class LearnedSampler(BaseSampler):
    """Base of the neural samplers: parameter checks, whitening, training loop, weights I/O.

    Subclasses extend ``_check_params`` and define ``_build_network(d)``, ``_loss(network, batch)``
    (on a batch of the network's coordinates) and ``_model_from_noise(noise)``.

    With ``gaussianize_radius`` the whitened points are also radially Gaussianized (Lyu and
    Simoncelli 2009): each point keeps its direction and its radius is mapped so that the radii
    follow those of a standard normal (:func:`radius_knots`). The z-point clouds of autoencoders
    are elliptic but far from normal in radius (heavy-tailed and hollow at the centre), and this
    fixed, exact bijection removes most of that before the network sees the points. It is off by
    default: on the CelebA run it alone lifts the Gaussian's held-out log-likelihood from -2.369
    to -2.326 nats/dim, but under a flow it gained little (-2.303 against -2.307) and made the
    samples worse (two-sample accuracy 0.63 against 0.54): the inverse map stretches log radii
    about fivefold, so small radial errors of the network become large ones in z-space.

    ``n_components`` (None: all d) limits the network to the leading principal components of the
    whitened points; the other d - k whitened coordinates are modelled as independent standard
    normal (scaled by the temperature like the rest), as the Gaussian sampler models them. The
    network's capacity then goes to the directions that change a face most.

    Fitted: ``mean_`` (d,), ``components_`` (d, d), ``scales_`` (d,) (the whitening),
    ``radius_knots_`` (K,) and ``radius_targets_`` (K,) (the radial map, with
    ``gaussianize_radius``) and ``network_`` (a torch module in eval mode holding the
    exponential moving average of the weights); ``fit_info_`` records the loss of every epoch,
    the device and the times.
    """

    min_fit_points = 10
    # Read only when sampling: a run's sampler cache fits once for every value of these.
    sample_params = ("temperature", "progress")

    # -- parameters (checked in fit and on load, stored untouched in __init__) --------
    def _check_params(self) -> None:
        check_int("epochs", self.epochs, low=1)
        check_int("batch_size", self.batch_size, low=1)
        check_number("learning_rate", self.learning_rate, low=0.0, high=1.0, low_open=True)
        check_number("weight_decay", self.weight_decay, low=0.0)
        check_number("ema_decay", self.ema_decay, low=0.0, high=1.0, high_open=True)
        check_number("temperature", self.temperature, low=0.0, high=10.0, low_open=True)
        check_int("random_state", self.random_state, low=0)
        check_number("validation_fraction", self.validation_fraction, low=0.0, high=0.5)
        check_int("patience", self.patience, low=1)
        if self.n_components is not None:
            check_int("n_components", self.n_components, low=2)
        pick_device(self.device)
        for name in ("gaussianize_radius", "progress"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")

    def fit(self, Z, groups=None) -> "LearnedSampler":
        """Learn the whitening and train the network on z-points Z (N, d); returns self.

        groups: optional (N,) integer labels; rows with the same label stay on the same side of
        the validation split, as a face and its mirror image must, or early stopping would
        score the network on near-copies of its training points.
        """
        if groups is not None:
            groups = np.asarray(groups)
            if groups.shape != (np.shape(Z)[0],) or not np.issubdtype(groups.dtype, np.integer):
                raise ValueError(f"groups must be {np.shape(Z)[0]} integer labels, one per z-point, "
                                 f"got {groups.dtype} of shape {groups.shape}")
        self._groups = groups
        try:
            return super().fit(Z)
        finally:
            del self._groups

    # -- fitting ---------------------------------------------------------------------
    def _fit(self, Z):
        self.mean_, self.components_, self.scales_ = pca_whitening(Z)
        if self.gaussianize_radius:
            self.radius_knots_, self.radius_targets_ = radius_knots(self._whiten(Z))
        if self.n_components is not None and self.n_components > Z.shape[1]:
            raise ValueError(f"n_components={self.n_components} exceeds the z-points' dimension {Z.shape[1]}")
        points = torch.from_numpy(self._to_model(Z)[0][:, :self._network_dim(Z.shape[1])].astype(np.float32))
        device = pick_device(self.device)
        with seeded_torch(self.random_state, device):
            n_validation = int(round(float(self.validation_fraction) * points.shape[0]))
            if n_validation and points.shape[0] - n_validation < 2:
                raise ValueError(f"too few points to fit: {points.shape[0]} z-points leave "
                                 f"{points.shape[0] - n_validation} for training after validation_fraction")
            validation, train = self._validation_split(points, n_validation, self._groups)
            self._fit_base(train.numpy())
            network = self._build_network(points.shape[1]).to(device)
            network, record = self._train(network, train.to(device), validation.to(device))
        self.network_ = network.eval()
        self.device_ = device
        self.fit_info_.update(device=str(device), n_train=int(train.shape[0]), n_validation=int(validation.shape[0]),
                              n_parameters=int(sum(p.numel() for p in network.parameters())),
                              random_state=int(self.random_state), **record)

    @staticmethod
    def _validation_split(points: torch.Tensor, n_validation: int, groups) -> tuple[torch.Tensor, torch.Tensor]:
        """(validation, train) rows of ``points``: ``n_validation`` random rows, or whole groups
        drawn at random until about that many rows (torch's seeded generator)."""
        if groups is None:
            order = torch.randperm(points.shape[0])
            return points[order[:n_validation]], points[order[n_validation:]]
        labels, inverse = np.unique(groups, return_inverse=True)
        n_groups = int(round(n_validation / points.shape[0] * len(labels)))
        chosen = torch.randperm(len(labels))[:n_groups].numpy()
        in_validation = torch.from_numpy(np.isin(inverse, chosen))
        return points[in_validation], points[~in_validation]

    def _train(self, network: torch.nn.Module, data: torch.Tensor, validation: torch.Tensor):
        """AdamW with a short warm-up and a cosine decay, an EMA of the weights, early stopping.

        With validation points, the EMA network is scored on them after every epoch; the best
        one is kept and training stops after ``patience`` epochs without improvement (a network
        this size memorises 15,000 points within tens of epochs: the held-out likelihood of the
        flow peaks and then collapses). Returns the network and what to record in ``fit_info_``.
        """
        n = data.shape[0]
        batch = min(int(self.batch_size), n)
        steps_per_epoch = n // batch  # drop the ragged last batch: equal-size steps
        total = int(self.epochs) * steps_per_epoch
        warmup = max(1, min(500, total // 20))
        optimizer = torch.optim.AdamW(network.parameters(), lr=float(self.learning_rate),
                                      weight_decay=float(self.weight_decay))
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: min(1.0, (step + 1) / warmup) * 0.5 * (
            1.0 + math.cos(math.pi * min(step, total) / total)))
        ema = copy.deepcopy(network).requires_grad_(False)
        losses, scores, best, best_epoch = [], [], None, 0
        start, step = time.perf_counter(), 0
        bar = tqdm(range(int(self.epochs)), desc=f"fit {self.method}", unit="epoch", disable=not self.progress)
        for epoch in bar:
            network.train()
            order = torch.randperm(n, device=data.device)
            running = 0.0
            for k in range(steps_per_epoch):
                loss = self._loss(network, data[order[k * batch:(k + 1) * batch]])
                if not torch.isfinite(loss):
                    raise ValueError(f"training of {self.method} diverged (loss {loss.item()}); "
                                     "lower learning_rate")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(network.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                step += 1
                # EMA with a warm-up (decay (1 + step) / (10 + step) early), as in common practice.
                decay = min(float(self.ema_decay), (1.0 + step) / (10.0 + step))
                with torch.no_grad():
                    for averaged, current in zip(ema.parameters(), network.parameters()):
                        averaged.lerp_(current, 1.0 - decay)
                running += loss.item()
            losses.append(round(running / steps_per_epoch, 5))
            if validation.shape[0]:
                scores.append(round(self._validation_loss(ema, validation), 5))
                if best is None or scores[-1] < scores[best_epoch - 1]:
                    best, best_epoch = copy.deepcopy(ema.state_dict()), epoch + 1
                bar.set_postfix(loss=f"{losses[-1]:.4f}", validation=f"{scores[-1]:.4f}")
                if epoch + 1 - best_epoch >= int(self.patience):
                    break
            else:
                bar.set_postfix(loss=f"{losses[-1]:.4f}")
        bar.close()
        if best is not None:
            ema.load_state_dict(best)
        return ema, {"train_seconds": round(time.perf_counter() - start, 2), "epoch_loss": losses,
                     "validation_loss": scores, "epochs_run": len(losses),
                     "best_epoch": best_epoch if best is not None else len(losses)}

    @torch.no_grad()
    def _validation_loss(self, network: torch.nn.Module, validation: torch.Tensor) -> float:
        """Mean training loss of ``network`` on the validation points, with the same random draws each epoch."""
        network.eval()
        total = 0.0
        with seeded_torch(int(self.random_state) + 1, validation.device):
            for start in range(0, validation.shape[0], INFERENCE_ROWS):
                block = validation[start:start + INFERENCE_ROWS]
                total += float(self._loss(network, block)) * block.shape[0]
        return total / validation.shape[0]

    def _network_dim(self, d: int) -> int:
        """How many leading whitened coordinates the network models (the rest are standard normal)."""
        return d if self.n_components is None else int(self.n_components)

    # -- from z-space to the network's coordinates and back ---------------------------
    def _whiten(self, Z: np.ndarray) -> np.ndarray:
        return ((np.asarray(Z, dtype=float) - self.mean_) @ self.components_.T) / self.scales_

    def _to_model(self, Z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network's coordinates X (n, d) of Z (n, d) and log |det dX/dZ| (n,)."""
        X = self._whiten(Z)
        log_det = np.full(X.shape[0], -float(np.log(self.scales_).sum()))  # the components are orthonormal
        if self.gaussianize_radius:
            log_radius = np.log(np.maximum(np.linalg.norm(X, axis=1), 1e-300))
            target, slope = piecewise_log_linear(log_radius, self.radius_knots_, self.radius_targets_)
            X = X * np.exp(target - log_radius)[:, None]
            # A radial map r -> s(r) scales d - 1 directions by s/r and the radius by s'(r).
            log_det += X.shape[1] * (target - log_radius) + np.log(slope)
        return X, log_det

    def _from_model(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if self.gaussianize_radius:
            log_radius = np.log(np.maximum(np.linalg.norm(X, axis=1), 1e-300))
            source = piecewise_log_linear(log_radius, self.radius_targets_, self.radius_knots_)[0]
            X = X * np.exp(source - log_radius)[:, None]
        return self.mean_ + (X * self.scales_) @ self.components_

    # -- sampling --------------------------------------------------------------------
    def _sample(self, n, rng):
        noise = rng.standard_normal((n, self.mean_.size)) * float(self.temperature)
        k = self._network_dim(self.mean_.size)
        out = noise.copy()  # the coordinates beyond the network's k stay Gaussian
        noise[:, :k] = self._draw_base(noise[:, :k], rng)
        with torch.no_grad():
            for start in range(0, n, INFERENCE_ROWS):
                block = torch.from_numpy(noise[start:start + INFERENCE_ROWS, :k].astype(np.float32)).to(self.device_)
                out[start:start + block.shape[0], :k] = self._model_from_noise(block).double().cpu().numpy()
        return self._from_model(out)

    def _state_shapes(self, d):
        shapes = {"mean_": (d,), "components_": (d, d), "scales_": (d,)}
        if self.gaussianize_radius:
            shapes.update(radius_knots_=(RADIUS_KNOTS,), radius_targets_=(RADIUS_KNOTS,))
        return shapes

    def _after_load(self):
        if self.gaussianize_radius and not (np.all(np.diff(self.radius_knots_) > 0)
                                            and np.all(np.diff(self.radius_targets_) > 0)):
            raise AegenError("refusing a saved sampler whose radial map is not increasing")

    # -- weights in safetensors ------------------------------------------------------
    def _save_extra(self, path: Path) -> dict:
        save_tensors(path / WEIGHTS_FILE, self.network_.state_dict(),
                     {"format": "aegen-sampler-weights", "method": self.method})
        return {"weights": {"file": WEIGHTS_FILE, "sha256": file_digest(path / WEIGHTS_FILE)}}

    def _load_extra(self, path: Path, extra: dict) -> None:
        record = extra.get("weights") if isinstance(extra, dict) else None
        if not isinstance(record, dict) or record.get("file") != WEIGHTS_FILE:
            raise AegenError(f"{path}: params.json records no {WEIGHTS_FILE}")
        file = path / WEIGHTS_FILE
        if not file.exists():
            raise AegenError(f"missing file: {file}")
        if file_digest(file) != record.get("sha256"):
            raise AegenError(f"refusing {file}: its SHA-256 differs from the one in params.json (corrupt or replaced)")
        tensors, _ = load_tensors(file, "sampler weights")
        device = pick_device(self.device)
        with seeded_torch(self.random_state, device):
            network = self._build_network(self._network_dim(self.n_features_in_))
        expected = network.state_dict()
        for key, value in expected.items():
            got = tensors.get(key)
            if got is None or got.shape != value.shape or got.dtype != value.dtype:
                found = "missing" if got is None else f"{tuple(got.shape)} {got.dtype}"
                raise AegenError(f"refusing {file}: {key} is {found}, expected {tuple(value.shape)} {value.dtype}")
            if got.is_floating_point() and not torch.isfinite(got).all():
                raise AegenError(f"refusing {file}: {key} contains NaN or Inf")
        if set(tensors) != set(expected):
            raise AegenError(f"refusing {file}: unexpected tensors {sorted(set(tensors) - set(expected))[:3]}")
        network.load_state_dict(tensors)
        self.network_ = network.to(device).eval().requires_grad_(False)
        self.device_ = device

    # -- subclass hooks --------------------------------------------------------------
    def _fit_base(self, train: np.ndarray) -> None:
        """Hook: fit a base distribution on the network's training points (n, k), before the network."""

    def _draw_base(self, noise: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Hook: base draws (n, k) for the network; by default the standard normal ``noise`` (n, k) itself."""
        return noise

    def _build_network(self, d: int) -> torch.nn.Module:
        raise NotImplementedError

    def _loss(self, network: torch.nn.Module, batch: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _model_from_noise(self, noise: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


@contextlib.contextmanager
def seeded_torch(seed: int, device: torch.device):
    """Context: torch's global generators forked (restored on exit) and seeded with ``seed``."""
    with torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []):
        torch.manual_seed(int(seed))
        yield


