"""Evaluation: measure generated faces against held-out real images.

Metric functions on plain feature arrays (:mod:`~aegen.evaluate.metrics`), the FID
Inception-v3 and pixel feature extractors (:mod:`~aegen.evaluate.features`), the face
detector (:mod:`~aegen.evaluate.faces`), the memorisation and latent checks, the protocol
that scores a run's methods (:func:`evaluate_run`) and parameter sweeps (:func:`sweep_run`).
"""

from aegen.evaluate.evaluation import evaluate_run
from aegen.evaluate.evaluator import Evaluator
from aegen.evaluate.faces import DetectorUnavailable, FaceDetector
from aegen.evaluate.features import FeaturesUnavailable, InceptionFeatures, PixelFeatures, make_features
from aegen.evaluate.latent_check import LatentEllipsoid
from aegen.evaluate.memorisation import NearestTrainingImage, memorisation_summary
from aegen.evaluate.methods import DEFAULT_METHODS, REFERENCE_ROWS
from aegen.evaluate.metrics import (
    density_coverage,
    feature_statistics,
    fid_from_features,
    fidelity_diversity,
    frechet_distance,
    kid,
    prdc,
    precision_recall,
)
from aegen.evaluate.sweep import parse_param, sweep_run

__all__ = [
    "DEFAULT_METHODS", "REFERENCE_ROWS", "DetectorUnavailable", "Evaluator", "FaceDetector", "FeaturesUnavailable",
    "InceptionFeatures", "LatentEllipsoid", "NearestTrainingImage", "PixelFeatures", "density_coverage",
    "evaluate_run", "feature_statistics", "fid_from_features", "fidelity_diversity", "frechet_distance", "kid",
    "make_features", "memorisation_summary", "prdc", "precision_recall", "parse_param", "sweep_run",
]
