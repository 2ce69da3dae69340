"""Moved: the run-folder pipeline is :mod:`aegen.sample` (and its figures :mod:`aegen.sample_figures`).

``aegen.samplers`` holds estimators on (N, d) arrays only; this module keeps the old import
path of scripts working, with a DeprecationWarning. Import from :mod:`aegen.sample` instead.
"""

import warnings

from aegen.sample import cache_key, condition_suffix, fitted_sampler, sample_run  # noqa: F401

warnings.warn("aegen.samplers.pipeline moved to aegen.sample; import sample_run and fitted_sampler from there",
              DeprecationWarning, stacklevel=2)

__all__ = ["cache_key", "condition_suffix", "fitted_sampler", "sample_run"]
