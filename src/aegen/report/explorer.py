"""The latent explorer's data: what the page needs to move a z-vector and decode it in the browser.

:func:`explorer_payload` gathers, from a run with z-points:

- the PCA frame of the training z-points (:class:`aegen.latent.pca.LatentPCA`): centre, the
  axes with non-zero variance and their standard deviations. The page's PCA sliders are the
  vector's coordinates on the leading axes in sigma units, and its Mahalanobis radius is
  measured over all of them (as ``LatentPCA.mahalanobis_sq``);
- the held-out z-points' Mahalanobis radii, whose 5-95% band is drawn under the radius control;
- the seed's ellipse conditions: the frame and limits ``fact * half_widths`` of the run's fitted
  ``ellipse-pca`` sampler (its recorded parameters where the run has sampled it, the defaults
  otherwise). A vector is inside when its normalised coordinates satisfy u_i^2 + u_j^2 <= 1 for
  every pair (:meth:`aegen.samplers.ellipse_pca.EllipsePCASampler.pair_excess`);
- the attribute directions of the labelled attributes, as ``aegen edit`` defines them
  (:func:`aegen.attributes.editing.fit_direction`, class-centre difference, unit: the cloud's
  standard deviation along the direction); none when the run has no labels;
- start codes: held-out faces' z-points, Gaussian and GMM samples, each drawn with a recorded seed;
- the decoder as a TensorFlow.js Layers model (:func:`aegen.decoder_tfjs.decoder_tfjs`) with its
  kernels stored as float16 (DECODER_WEIGHTS: half the bytes; the page still computes in float32).

Everything numeric travels as one float32 array blob plus a JSON index, and the decoder as a
topology, a weight manifest and the weights' bytes: data, not code.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from aegen.decoder_tfjs import TfjsModel, decoder_tfjs
from aegen.latent.checks import subsample_indices
from aegen.latent.pca import LatentPCA
from aegen.samplers.ellipse_pca import EllipsePCASampler

# PCA sliders shown: the leading components, which carry most of a face's large-scale variation.
N_PCA_SLIDERS = 8
# Each PCA slider spans this many sigmas either side of the centre.
SLIDER_SIGMAS = 4.0
# Held-out radius quantiles drawn as the band of typical faces under the radius control.
RADIUS_BAND = (0.05, 0.95)
# Start codes of each kind shipped with the page (the buttons step through them in order).
POOL_SIZE = 16
# Most attribute sliders, the first labels in the label file's order (CelebA's 40 all fit).
MAX_ATTRIBUTES = 40
# How the decoder's weights are stored in the page (aegen.decoder_tfjs.WEIGHTS): float16 halves the
# largest part of the explorer that grows with the model, and moves a decoded pixel by a fraction
# of a grey level (tests/test_report_explorer.py bounds it; docs/RESULTS.md has the measured error).
DECODER_WEIGHTS = "float16"
# Methods behind the sample buttons, drawn through the run's fitted-sampler cache.
SAMPLE_STARTS = (("gaussian", "Gaussian sample", "Gaussian samples"), ("gmm", "GMM sample", "GMM samples"))


@dataclass
class ExplorerPayload:
    """``settings``: JSON-ready description (names, sizes, seeds, the arrays' index);
    ``arrays``: the float32 arrays by name; ``decoder``: the TF.js model."""

    settings: dict
    arrays: dict[str, np.ndarray] = field(default_factory=dict)
    decoder: TfjsModel | None = None

    def packed_arrays(self) -> tuple[dict, bytes]:
        """(index {name: {"offset", "shape"}}, the little-endian float32 arrays one after another)."""
        index, parts, offset = {}, [], 0
        for name, array in self.arrays.items():
            data = np.ascontiguousarray(array, dtype="<f4")
            index[name] = {"offset": offset, "shape": list(data.shape)}
            parts.append(data.tobytes())
            offset += data.nbytes
        return index, b"".join(parts)


def seed_sampler_params(run) -> tuple[dict, str]:
    """Parameters of the run's own unconditioned ``ellipse-pca`` samples (and where they come
    from), else the defaults (at most as many components as the run's z_dim: :func:`aegen.sample.default_axes`)."""
    from aegen.report.section_samples import SEED_METHOD, sample_folders

    for folder, params in sample_folders(run.path):
        if params.get("method") == SEED_METHOD and not params.get("where") and isinstance(params.get("params"), dict):
            return dict(params["params"]), f"the parameters of samples/{folder.name}"
    return {}, "the default parameters"


def explorer_attributes(run) -> list[str]:
    """Labelled attributes of the training z-points with both classes present (at most MAX_ATTRIBUTES)."""
    meta = run.zpoint_meta("train")
    names, labels = list(meta.get("attr_names") or []), meta.get("attrs")
    if labels is None or not names:
        return []
    labels = np.asarray(labels)
    both = [name for k, name in enumerate(names) if 0 < np.sum(labels[:, k] > 0) < labels.shape[0]]
    return both[:MAX_ATTRIBUTES]


def explorer_payload(run, seed: int = 0) -> ExplorerPayload:
    """Everything the explorer shows for ``run`` (see the module). ``seed`` draws every start code."""
    from aegen.attributes.editing import fit_direction
    from aegen.sample import fitted_sampler

    Z = run.zpoints("train")
    held = run.zpoints("heldout")
    pca = LatentPCA().fit(Z)
    rank = pca.rank_
    radii = np.sqrt(pca.mahalanobis_sq(held))
    band = [float(q) for q in np.quantile(radii, RADIUS_BAND)]

    params, params_source = seed_sampler_params(run)
    ellipse, ellipse_info = fitted_sampler(run, EllipsePCASampler.method, params, progress=False)
    limits = float(ellipse.fact) * ellipse.half_widths_

    arrays = {"mean": pca.mean_, "axes": pca.components_[:rank], "sigmas": np.sqrt(pca.explained_variance_[:rank]),
              "ellipse_mean": ellipse.mean_, "ellipse_axes": ellipse.components_, "ellipse_limits": limits}

    attributes = []
    names = explorer_attributes(run)
    if names:
        Z64 = np.asarray(Z, dtype=np.float64)
        directions = []
        for name in names:
            direction = fit_direction(run, name, Z=Z64)
            directions.append(direction.towards_positive())
            attributes.append({"name": name, "step": direction.step("std")})
        arrays["attribute_directions"] = np.stack(directions)

    rng = np.random.default_rng(seed)
    rows = subsample_indices(held.shape[0], POOL_SIZE, rng)
    ids = run.zpoint_meta("heldout")["ids"]
    arrays["start_heldout"] = np.asarray(held[rows])
    starts = [{"key": "heldout", "label": "Held-out face", "plural": "held-out faces", "count": int(rows.size),
               "names": [str(ids[r]) for r in rows], "seed": seed,
               "rule": "held-out z-points chosen at random without replacement"}]
    for method, label, plural in SAMPLE_STARTS:
        sampler, info = fitted_sampler(run, method, progress=False)
        arrays[f"start_{method}"] = sampler.sample(POOL_SIZE, random_state=seed)
        starts.append({"key": method, "label": label, "plural": plural, "count": POOL_SIZE, "seed": seed,
                       "sampler_cache": info["cache"], "params": sampler.get_params()})

    model = run.load_model("cpu")
    settings = {
        "z_dim": run.z_dim, "image_size": run.image_size, "decoder_weights": DECODER_WEIGHTS,
        "pca": {"rank": rank, "n_sliders": min(N_PCA_SLIDERS, rank), "slider_sigmas": SLIDER_SIGMAS,
                "seed_sigma_limit": float(ellipse.fit_sigma), "n_zpoints": int(pca.n_samples_)},
        "radius": {"band": band, "quantiles": list(RADIUS_BAND), "median": float(np.median(radii)),
                   "max": float(max(2.0 * band[1], radii.max())), "n_heldout": int(radii.size)},
        "ellipse": {"source": params_source, "n_components": int(ellipse.n_components), "fact": float(ellipse.fact),
                    "fit_sigma": float(ellipse.fit_sigma), "sampler_cache": ellipse_info["cache"]},
        "attributes": attributes,
        "starts": starts,
    }
    return ExplorerPayload(settings, arrays, decoder_tfjs(model, weights=DECODER_WEIGHTS))

