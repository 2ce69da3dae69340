"""The latent explorer section: move one z-vector with sliders and watch its decoded face, live in the page."""

from __future__ import annotations

from pathlib import Path

from aegen import AegenError
from aegen.report.blocks import Explorer, Items, Section, Text
from aegen.report.browser_runtime import load_browser_runtime
from aegen.report.sources import num
from aegen.run import SPLITS


def explorer_section(run) -> Section:
    path = Path(run.path)
    section = Section("explorer", "Latent explorer", hint=f"`aegen encode {path}` (the z-points) fills this section.",
                      lead="Move a z-vector through the latent space and watch the decoded face change: along the "
                           "leading PCA axes, towards or away from the centre, along attribute directions.")
    if not all((path / "zpoints" / f"{split}.npy").is_file() for split in SPLITS):
        return section
    from aegen.report.explorer import explorer_payload

    try:
        runtime = load_browser_runtime()
        payload = explorer_payload(run)
    except AegenError as exc:
        section.blocks.append(Text(f"The explorer is left out: {exc}.", "warning"))
        return section
    settings = payload.settings
    band, pca, ellipse = settings["radius"]["band"], settings["pca"], settings["ellipse"]
    section.blocks += [
        Explorer(payload, runtime),
        Items([
            f"PCA sliders: the vector's coordinate on each of the {pca['n_sliders']} leading axes of the "
            f"{num(pca['n_zpoints'])} training z-points, in that axis's standard deviations; the shaded ends lie beyond "
            f"±{num(pca['seed_sigma_limit'])} sigma, outside the core the seed's generator is fitted on.",
            f"Radius: the vector's Mahalanobis distance from the centre over all {pca['rank']} axes; moving it scales "
            f"the vector towards or away from the centre. The green band holds {num(settings['radius']['n_heldout'])} "
            f"held-out faces' radii from the 5% to the 95% quantile ({num(band[0])} to {num(band[1])}): faces live "
            "on this shell, and a vector pulled towards the centre decodes to a blur.",
            f"Inside the seed's ellipses: whether every pair of the {ellipse['n_components']} normalised coordinates of "
            f"the seed's generator (fact {num(ellipse['fact'])}, {ellipse['source']}) satisfies "
            "u_i² + u_j² <= 1, the condition every vector it generates meets.",
            "Attribute sliders: the position along each attribute's direction (class-centre difference, as in "
            "`aegen edit`), in units of the cloud's standard deviation along it." if settings["attributes"] else
            "No attribute sliders: the run's images have no attribute labels.",
            f"Buttons: start from one of {_pool_text(settings)}; Reset returns to the start.",
        ]),
        Text(f"Decoded in this page by TensorFlow.js {runtime.version} on its WebAssembly backend (licence: {runtime.licence}) "
             f"from the decoder written as a TF.js Layers model ({_size_text(len(payload.decoder.weight_data))} of "
             f"weights, kernels stored as {settings['decoder_weights']}, computing in float32); the page loads nothing "
             "from elsewhere and works opened from disk.", "note"),
    ]
    return section


def _pool_text(settings: dict) -> str:
    return ", ".join(f"{start['count']} {start['plural']} (seed {start['seed']})" for start in settings["starts"])


def _size_text(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.1f} MB" if n_bytes >= 1e6 else f"{n_bytes / 1e3:.0f} kB"
