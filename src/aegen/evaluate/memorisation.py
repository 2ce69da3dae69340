"""Memorisation: how close generated images come to their nearest training image.

Distances are measured on box-downsampled pixels (32 x 32 x 3 by default, rounded back to
8 bits so that the training set costs 3 kB an image in memory and in the cache; values read
as [0, 1]) and reported as root-mean-square differences per pixel channel, so 0 is an exact copy and
0.1 is a typical 10% difference everywhere. Generated images are judged against held-out
real images: a generator that copies its training set puts many images closer to a training
image than almost any held-out image is (below the held-out 1st percentile). Pixel distances
also call a smooth, average-looking face close to many training images, so a high share
means "copy" only when the images are not also near the mean (read it beside the latent
radius and the precision).
"""

from __future__ import annotations

import numpy as np
from tqdm.auto import tqdm

from aegen.evaluate.features import check_images, downsample_images

# Rows of training pixels per distance block: 2048 x 3072 float64 is 50 MB.
BLOCK_ROWS = 2048


class NearestTrainingImage:
    """Distance from images to their nearest training image, on downsampled pixels.

    size: side of the box-downsampled images compared (capped at the image size).
    """

    def __init__(self, size: int = 32, progress: bool = True):
        if size < 1:
            raise ValueError(f"size must be >= 1, got {size}")
        self.size = size
        self.progress = progress

    def pixels(self, images: np.ndarray) -> np.ndarray:
        """(n, S, S, 3) uint8 -> (n, s*s*3) uint8 downsampled pixels, s = min(size, S)."""
        images = check_images(images)
        side = min(self.size, images.shape[1])
        out = np.empty((len(images), side * side * 3), dtype=np.uint8)
        for start in range(0, len(images), BLOCK_ROWS):
            block = np.asarray(images[start:start + BLOCK_ROWS])
            small = downsample_images(block, side).reshape(len(block), -1)
            out[start:start + len(block)] = np.rint(small * 255.0).astype(np.uint8)
        return out

    def fit(self, train_images: np.ndarray) -> "NearestTrainingImage":
        """Store the downsampled training images (N, S, S, 3) uint8."""
        return self.fit_pixels(self.pixels(train_images))

    def fit_pixels(self, train_pixels: np.ndarray) -> "NearestTrainingImage":
        """Store already downsampled training pixels (N, D) uint8 from :meth:`pixels`."""
        train_pixels = np.asarray(train_pixels)
        if train_pixels.dtype != np.uint8 or train_pixels.ndim != 2 or len(train_pixels) == 0:
            raise ValueError(f"training pixels must be uint8 of shape (N, D) with N >= 1, "
                             f"got {train_pixels.dtype} {train_pixels.shape}")
        self.train_pixels_ = train_pixels
        self.train_sq_norms_ = np.zeros(len(train_pixels))
        for start in range(0, len(train_pixels), BLOCK_ROWS):
            block = train_pixels[start:start + BLOCK_ROWS] / 255.0
            self.train_sq_norms_[start:start + len(block)] = np.einsum("ij,ij->i", block, block)
        return self

    def distances(self, images: np.ndarray, desc: str = "nearest training image") -> tuple[np.ndarray, np.ndarray]:
        """RMS pixel distance (n,) from each image to its nearest training image, and its index (n,)."""
        if not hasattr(self, "train_pixels_"):
            raise RuntimeError("call fit() before distances()")
        queries = self.pixels(images) / 255.0
        if queries.shape[1] != self.train_pixels_.shape[1]:
            raise ValueError(f"images give {queries.shape[1]} pixel values, training images {self.train_pixels_.shape[1]}")
        q_norms = np.einsum("ij,ij->i", queries, queries)
        best = np.full(len(queries), np.inf)
        best_index = np.zeros(len(queries), dtype=np.int64)
        n_train = len(self.train_pixels_)
        for start in tqdm(range(0, n_train, BLOCK_ROWS), desc=desc, unit="block",
                          disable=not self.progress or n_train <= 4 * BLOCK_ROWS):
            block = self.train_pixels_[start:start + BLOCK_ROWS] / 255.0
            squared = q_norms[:, None] + self.train_sq_norms_[None, start:start + len(block)] - 2.0 * queries @ block.T
            idx = squared.argmin(axis=1)
            value = squared[np.arange(len(queries)), idx]
            better = value < best
            best[better] = value[better]
            best_index[better] = idx[better] + start
        rms = np.sqrt(np.clip(best, 0.0, None) / queries.shape[1])
        return rms, best_index


def memorisation_summary(distances: np.ndarray, reference_distances: np.ndarray) -> dict:
    """Compare nearest-training distances (n,) of generated images with those (m,) of held-out images.

    Returns medians of both, and the share of generated images closer to a training image
    than the 1st percentile of the held-out distances.
    """
    distances = np.asarray(distances, dtype=float)
    reference_distances = np.asarray(reference_distances, dtype=float)
    if distances.size == 0 or reference_distances.size == 0:
        raise ValueError("need at least one distance in each set")
    threshold = float(np.percentile(reference_distances, 1))
    return {
        "nn_train_median": float(np.median(distances)),
        "nn_train_median_heldout": float(np.median(reference_distances)),
        "nn_train_heldout_p1": threshold,
        "share_closer_than_heldout_p1": float(np.mean(distances < threshold)),
    }
