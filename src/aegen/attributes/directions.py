"""Attribute directions in latent space: a linear probe, directions, and moves along them.

Two directions per attribute, both unit vectors in the original z coordinates:

- ``mean``: the difference of the class centres, mu1 - mu0 (the "attribute vector" of
  Foster's VAE), normalised.
- ``probe``: the normal of a logistic-regression probe trained on standardised z-points,
  mapped back to z coordinates (weights divided by the per-component scale), normalised:
  the direction in which the probe's logit grows fastest per unit of latent distance.

Moving a z-point along a direction (:meth:`AttributeDirection.shift`) uses one of two units:
``std`` (the standard deviation of the whole cloud projected on the direction) or
``centres`` (the distance between the two class centres projected on the direction, so that
strength 1 moves a point by the gap from the negative to the positive class centre).
"""

from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from aegen.attributes.labels import to_binary

DIRECTION_METHODS = ("mean", "probe")
STRENGTH_UNITS = ("std", "centres")


def classification_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict:
    """Accuracy, balanced accuracy and the majority-class baseline for labels (N,) in {-1, 1}."""
    y_true, y_pred = to_binary(y_true), to_binary(y_pred)
    positive_rate = float(y_true.mean())
    # Balanced accuracy: the mean of the per-class recalls, over the classes present.
    recalls = [np.mean(y_pred[y_true == value] == value) for value in (0, 1) if np.any(y_true == value)]
    return {
        "n": int(y_true.size),
        "accuracy": float(np.mean(y_true == y_pred)),
        "balanced_accuracy": float(np.mean(recalls)),
        "majority_baseline_accuracy": max(positive_rate, 1.0 - positive_rate),
    }


class LinearProbe:
    """Logistic regression on standardised z-points, predicting one attribute.

    C: inverse L2 regularisation strength; class_weight: "balanced" (default) weighs the
    classes equally so that a rare attribute is not ignored; random_state is recorded and
    passed to the solver.
    """

    def __init__(self, C: float = 1.0, class_weight: str | None = "balanced", max_iter: int = 2000,
                 random_state: int = 0):
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.random_state = random_state

    def fit(self, Z: np.ndarray, y: np.ndarray) -> "LinearProbe":
        """Z: (N, d) z-points; y: (N,) labels in {-1, 1}.

        The parameters are checked by scikit-learn's LogisticRegression, here.
        """
        Z = np.asarray(Z, dtype=np.float64)
        y01 = to_binary(y)
        if np.unique(y01).size < 2:
            raise ValueError("the probe needs both classes among the labels")
        self.scaler_ = StandardScaler().fit(Z)
        self.model_ = LogisticRegression(C=self.C, class_weight=self.class_weight, max_iter=self.max_iter,
                                         random_state=self.random_state)
        self.model_.fit(self.scaler_.transform(Z), y01)
        normal = self.model_.coef_[0] / self.scaler_.scale_
        self.normal_ = normal / np.linalg.norm(normal)
        return self

    def decision_function(self, Z: np.ndarray) -> np.ndarray:
        """Logit of the positive class: (N, d) -> (N,)."""
        return self.model_.decision_function(self.scaler_.transform(np.asarray(Z, dtype=np.float64)))

    def predict(self, Z: np.ndarray) -> np.ndarray:
        """Predicted labels in {-1, 1}: (N, d) -> (N,)."""
        return np.where(self.decision_function(Z) > 0, 1, -1).astype(np.int8)

    def score(self, Z: np.ndarray, y: np.ndarray) -> dict:
        """Accuracy, balanced accuracy and majority baseline on (Z, y)."""
        return classification_scores(y, self.predict(Z))


class AttributeDirection:
    """A unit direction in latent space for one attribute (see the module docstring).

    method: "mean" or "probe"; C and random_state configure the probe.
    After ``fit``: ``direction_`` (d,) unit vector, ``origin_`` (d,) the cloud's centre,
    ``std_along_`` the cloud's std projected on the direction, ``centre_gap_`` the projected
    distance between the class centres, ``threshold_`` the projection half-way between them.
    """

    def __init__(self, method: str = "mean", C: float = 1.0, random_state: int = 0):
        self.method = method
        self.C = C
        self.random_state = random_state

    def fit(self, Z: np.ndarray, y: np.ndarray) -> "AttributeDirection":
        """Z: (N, d) z-points; y: (N,) labels in {-1, 1}."""
        if self.method not in DIRECTION_METHODS:
            raise ValueError(f"method must be one of {DIRECTION_METHODS}, got {self.method!r}")
        Z = np.asarray(Z, dtype=np.float64)
        y01 = to_binary(y)
        if Z.ndim != 2 or Z.shape[0] != y01.size:
            raise ValueError(f"Z must be (N, d) with one label per row, got {Z.shape} and {y01.shape}")
        if min(y01.sum(), y01.size - y01.sum()) < 1:
            raise ValueError("both classes are needed to find a direction")
        mu1, mu0 = Z[y01 == 1].mean(axis=0), Z[y01 == 0].mean(axis=0)
        if self.method == "mean":
            delta = mu1 - mu0
            norm = np.linalg.norm(delta)
            if norm == 0:
                raise ValueError("the class centres coincide: no mean direction")
            self.direction_ = delta / norm
            self.probe_ = None
        else:
            self.probe_ = LinearProbe(C=self.C, random_state=self.random_state).fit(Z, y01)
            self.direction_ = self.probe_.normal_
        self.origin_ = Z.mean(axis=0)
        self.std_along_ = float(np.std(self.project(Z)))
        p1, p0 = float(self.project(mu1[None])[0]), float(self.project(mu0[None])[0])
        self.centre_gap_ = p1 - p0
        self.threshold_ = 0.5 * (p1 + p0)
        return self

    def project(self, Z: np.ndarray) -> np.ndarray:
        """Coordinate along the direction, measured from the cloud's centre: (N, d) -> (N,)."""
        return (np.asarray(Z, dtype=np.float64) - self.origin_) @ self.direction_

    def predict(self, Z: np.ndarray) -> np.ndarray:
        """Labels in {-1, 1} by the side of the midpoint between the projected class centres."""
        side = self.project(Z) > self.threshold_
        if self.centre_gap_ < 0:
            side = ~side
        return np.where(side, 1, -1).astype(np.int8)

    def score(self, Z: np.ndarray, y: np.ndarray) -> dict:
        """How well the direction alone separates the classes of (Z, y)."""
        return classification_scores(y, self.predict(Z))

    def step(self, unit: str = "std") -> float:
        """Latent distance of strength 1 in ``unit`` ("std" or "centres")."""
        if unit not in STRENGTH_UNITS:
            raise ValueError(f"unit must be one of {STRENGTH_UNITS}, got {unit!r}")
        return self.std_along_ if unit == "std" else abs(self.centre_gap_)

    def towards_positive(self) -> np.ndarray:
        """The unit direction (d,) oriented towards the class that carries the attribute."""
        return self.direction_ * (1.0 if self.centre_gap_ >= 0 else -1.0)

    def shift(self, Z: np.ndarray, strengths: np.ndarray, unit: str = "std") -> np.ndarray:
        """Move z-points along the direction, towards the positive class for strength > 0.

        Z: (n, d); strengths: (k,). Returns (n, k, d) float32: z + s * step(unit) * u.
        """
        Z = np.asarray(Z, dtype=np.float64)
        strengths = np.asarray(strengths, dtype=np.float64).ravel()
        moves = strengths[:, None] * self.step(unit) * self.towards_positive()[None, :]
        return (Z[:, None, :] + moves[None, :, :]).astype(np.float32)

    def to_dict(self) -> dict:
        """Scalar description for JSON files (the vector itself is saved as an array)."""
        return {
            "method": self.method,
            "std_along": self.std_along_,
            "centre_gap": self.centre_gap_,
            "centre_gap_in_std": self.centre_gap_ / self.std_along_ if self.std_along_ > 0 else float("nan"),
            "C": self.C if self.method == "probe" else None,
            "random_state": self.random_state,
        }


def parse_strengths(text: str) -> np.ndarray:
    """Parse ``"START:STOP:NUM"`` (NUM evenly spaced values, ends included) or ``"a,b,c"``.

    Returns (k,) float64. Raises ValueError for malformed text or NUM < 1.
    """
    text = text.strip()
    if ":" in text:
        parts = text.split(":")
        if len(parts) != 3:
            raise ValueError(f"strength range must be START:STOP:NUM, got {text!r}")
        try:
            start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise ValueError(f"strength range must be START:STOP:NUM with numbers, got {text!r}") from None
        if num < 1:
            raise ValueError(f"NUM must be >= 1, got {num}")
        return np.linspace(start, stop, num)
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"strengths must be numbers separated by commas, got {text!r}") from None
    if not values:
        raise ValueError("no strength given")
    return np.asarray(values)
