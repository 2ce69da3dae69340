"""Metrics: pure functions of feature arrays and z-points, knowing nothing of runs or images on disk.

- :mod:`~aegen.evaluate.metrics.distances`: FID, KID, precision/recall, density/coverage.
- :mod:`~aegen.evaluate.metrics.intervals`: FID and KID from Gram blocks (the one path for a
  value and its interval), repeats, bootstrap, paired differences, FID∞.
- :mod:`~aegen.evaluate.metrics.memorisation`: nearest training images and the copying statistics.
- :mod:`~aegen.evaluate.metrics.latent_check`: the latent ellipsoid and the latent copying guard.
- :mod:`~aegen.evaluate.metrics.scores`: the scores of one generated set against a reference.
"""
