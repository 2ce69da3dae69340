"""Evaluation: measure generated faces against held-out real images.

Three parts: :mod:`~aegen.evaluate.metrics` (pure functions on features and z-points: FID, KID,
PRDC, intervals, copying statistics), :mod:`~aegen.evaluate.features` (Inception runtimes,
calibration, face detector, cache) and :mod:`~aegen.evaluate.protocol` (subsets, seeds, the
evaluator, rows, repeats, resumption: :func:`evaluate_run` and :func:`sweep_run`); the image
arrays the first two take (:mod:`~aegen.evaluate.images`), and tables and figures of the results
beside them.
"""

from aegen.evaluate.features.extractors import FeaturesUnavailable, InceptionFeatures, PixelFeatures, make_features
from aegen.evaluate.features.faces import DetectorUnavailable, FaceDetector
from aegen.evaluate.metrics.distances import (
    density_coverage,
    feature_statistics,
    fid_from_features,
    fidelity_diversity,
    frechet_distance,
    kid,
    prdc,
    precision_recall,
)
from aegen.evaluate.metrics.latent_check import LatentEllipsoid
from aegen.evaluate.metrics.memorisation import NearestTrainingImage, memorisation_summary
from aegen.evaluate.protocol.evaluation import evaluate_run
from aegen.evaluate.protocol.evaluator import Evaluator
from aegen.evaluate.protocol.methods import DEFAULT_METHODS, REFERENCE_ROWS
from aegen.evaluate.protocol.sweep import parse_param, sweep_run

__all__ = [
    "DEFAULT_METHODS", "REFERENCE_ROWS", "DetectorUnavailable", "Evaluator", "FaceDetector", "FeaturesUnavailable",
    "InceptionFeatures", "LatentEllipsoid", "NearestTrainingImage", "PixelFeatures", "density_coverage",
    "evaluate_run", "feature_statistics", "fid_from_features", "fidelity_diversity", "frechet_distance", "kid",
    "make_features", "memorisation_summary", "prdc", "precision_recall", "parse_param", "sweep_run",
]
