"""Samplers: generate z-vectors from the statistics of a z-point cloud.

Scikit-learn style estimators that work on any (N, d) array, with or without an
autoencoder::

    from aegen.samplers import EllipsePCASampler
    sampler = EllipsePCASampler(n_components=100, fact=0.7).fit(Z)   # Z: (N, d)
    V = sampler.sample(64, random_state=0)                           # (64, d) float32
    sampler.save("folder"); sampler = load_sampler("folder")

``SAMPLERS`` maps the command line's method names to the classes; :func:`make_sampler`
builds one by name. :func:`sample_run` runs a method on an aegen run folder.
"""

from aegen.samplers.base import BaseSampler, load_sampler
from aegen.samplers.ellipse_pca import EllipsePCASampler
from aegen.samplers.ellipse_process import ellipse_pca_literal, unit_ellipse_process
from aegen.samplers.gaussian import GaussianSampler, TruncatedGaussianSampler
from aegen.samplers.gmm import GMMSampler
from aegen.samplers.registry import SAMPLERS, make_sampler
from aegen.samplers.simple import DiagGaussianSampler, UniformSampler

__all__ = [
    "SAMPLERS", "BaseSampler", "DiagGaussianSampler", "EllipsePCASampler", "GMMSampler", "GaussianSampler",
    "TruncatedGaussianSampler", "UniformSampler", "ellipse_pca_literal", "load_sampler", "make_sampler",
    "sample_run", "unit_ellipse_process",
]


def sample_run(*args, **kwargs):
    """Fit (cached) and sample a method on an aegen run; see :func:`aegen.samplers.pipeline.sample_run`."""
    from aegen.samplers.pipeline import sample_run as _sample_run  # imports torch-side modules lazily

    return _sample_run(*args, **kwargs)
