"""Features: what turns images into the vectors the metrics compare, and what remembers them.

- :mod:`~aegen.evaluate.features.extractors`: the FID Inception-v3 and pixel features.
- :mod:`~aegen.evaluate.features.backends`: the Inception runtimes (torch, OpenVINO, bfloat16).
- :mod:`~aegen.evaluate.features.bf16_calibration`: the bfloat16 features' calibration to float32.
- :mod:`~aegen.evaluate.features.faces`: the face detector.
- :mod:`~aegen.evaluate.features.cache`: the cache of measurements of real and generated images.
"""
