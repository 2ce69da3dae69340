"""aegen: a standard convolutional autoencoder as a face generator.

The package follows the pipeline: ``data`` -> ``model`` -> ``train``/``encode`` ->
``latent`` (analysis) -> ``samplers`` -> ``evaluate`` -> ``report``; ``cli`` is a thin
layer over these modules.
"""

__version__ = "0.1.0"

# Run folders record this; a run written by an incompatible format is refused on load.
RUN_FORMAT_VERSION = 1


class AegenError(Exception):
    """An error meant for the user: the CLI prints its message on one line and exits 2."""
