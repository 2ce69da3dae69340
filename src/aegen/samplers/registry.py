"""Method names of the samplers, as used by the command line, mapped to their classes."""

from __future__ import annotations

from aegen.samplers.base import BaseSampler
from aegen.samplers.ellipse_original import EllipseOriginalSampler
from aegen.samplers.ellipse_pca import EllipsePCASampler
from aegen.samplers.ellipsoid import EllipsoidSampler
from aegen.samplers.flow import FlowSampler
from aegen.samplers.flow_matching import FlowMatchingSampler
from aegen.samplers.gaussian import GaussianSampler, TruncatedGaussianSampler
from aegen.samplers.gmm import GMMSampler
from aegen.samplers.simple import DiagGaussianSampler, UniformSampler

SAMPLERS: dict[str, type[BaseSampler]] = {
    klass.method: klass
    for klass in (UniformSampler, DiagGaussianSampler, EllipsePCASampler, EllipseOriginalSampler,
                  EllipsoidSampler, GaussianSampler,
                  TruncatedGaussianSampler, GMMSampler, FlowSampler, FlowMatchingSampler)
}


def make_sampler(name: str, **params) -> BaseSampler:
    """A new sampler of method ``name`` with ``params``; ValueError for unknown names or parameters.

    Parameters are checked when the sampler is fitted. A renamed parameter's earlier name
    (e.g. gmm's ``k``, now ``n_components``) is accepted with a DeprecationWarning.
    """
    try:
        klass = SAMPLERS[name]
    except KeyError:
        raise ValueError(f"unknown sampling method {name!r}; known: {', '.join(SAMPLERS)}") from None
    return klass.from_params(params)
