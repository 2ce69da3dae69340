"""Samplers: generate z-vectors from the statistics of a z-point cloud.

Scikit-learn style estimators that work on any (N, d) array, with or without an
autoencoder::

    from aegen.samplers import EllipsePCASampler
    sampler = EllipsePCASampler(n_components=100, fact=0.7).fit(Z)   # Z: (N, d)
    V = sampler.sample(64, random_state=0)                           # (64, d) float32
    sampler.save("folder"); sampler = load_sampler("folder")

``SAMPLERS`` maps the command line's method names to the classes; :func:`make_sampler`
builds one by name. Running a method on an aegen run folder
(fit on its z-points, cache, decode, figures) is :func:`aegen.sample.sample_run`: this
package stays in z-space.
"""

from aegen.samplers.base import BaseSampler, load_sampler
from aegen.samplers.ellipse_original import EllipseOriginalSampler
from aegen.samplers.ellipse_pca import EllipsePCASampler
from aegen.samplers.ellipsoid import EllipsoidSampler
from aegen.samplers.ellipse_process import ellipse_pca_literal, unit_ellipse_process
from aegen.samplers.flow import FlowSampler
from aegen.samplers.flow_matching import FlowMatchingSampler
from aegen.samplers.gaussian import GaussianSampler, TruncatedGaussianSampler
from aegen.samplers.gmm import GMMSampler
from aegen.samplers.registry import SAMPLERS, make_sampler
from aegen.samplers.simple import DiagGaussianSampler, UniformSampler

__all__ = [
    "SAMPLERS", "BaseSampler", "DiagGaussianSampler", "EllipseOriginalSampler", "EllipsePCASampler",
    "EllipsoidSampler", "FlowMatchingSampler", "FlowSampler",
    "GMMSampler", "GaussianSampler",
    "TruncatedGaussianSampler", "UniformSampler", "ellipse_pca_literal", "load_sampler", "make_sampler",
    "unit_ellipse_process",
]

