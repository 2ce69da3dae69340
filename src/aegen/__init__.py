"""aegen: a standard convolutional autoencoder as a face generator.

The package follows the pipeline: ``data`` -> ``model`` -> ``train``/``encode`` ->
``latent`` (analysis) -> ``samplers`` (estimators on z-point arrays) and ``sample`` (a sampler
at work on a run folder) -> ``evaluate`` -> ``report``; ``cli`` is a thin layer over these
modules. Inference (``run``, ``encode``, ``sample``, ``evaluate``, ``report``) never imports
``train``.

Words: *the seed* is the source article aegen implements (a blog post on generating faces
with a standard autoencoder; "the seed's generator" is its ellipse-PCA method). A *random
seed* (``seed``, ``random_state``) makes a random choice repeatable and is recorded beside
every result.
"""

__version__ = "0.1.0"

# Run folders record this; a run written by an incompatible format is refused on load.
RUN_FORMAT_VERSION = 1


class AegenError(Exception):
    """An error meant for the user: the CLI prints its message on one line and exits 2."""
