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

Two copying statistics, both z-scores where well below 0 means copying:

- ``copy_z`` (:func:`train_vs_heldout_test`, run by :class:`CopyingTest`), the headline: for
  each generated item, is its nearest neighbour among the training side and the held-out side
  a training item? The two sides are *whole pools*: every training item (so that a copy of any
  of them is seen; a training subset misses the copies of the items left out, and a generator
  that copies its whole training set then scores an excess of the subset's share only) against
  every held-out item outside the evaluation's own uses (the reconstruction row's originals and
  the items the latent metric is fitted on are left out, see the evaluator). A generator that
  never saw either side cannot tell their items apart, so the winner is a training item with
  probability p0 = N_train / (N_train + N_heldout) exactly, whatever the pools' sizes and
  however the generated items look (blur, a mean face, a mode collapse move both distances
  alike). When a sampler was fitted on mirrored items too, both sides hold their mirror
  images, which keeps p0 and catches copies of mirrored items.

  Two answers come out. The share over all items and its excess (share - p0) / (1 - p0): 0
  for independence, 1 when every item copies. And per-item evidence: the items whose winning
  distance is below the 1st percentile of that of *probe* items, real items outside both sides
  (so "as close as almost no unseen real item comes"); among them the winner is still a
  training item with probability p0 under independence (the threshold is a function of
  distances only, blind to the sides' labels), while a copy wins at distance ~0. So 10% exact
  copies, an overall excess of only 0.1, give a near share of almost 1: flagged. The near
  items that are training winners are listed (generated index, training index, distance).
- ``meehan_ct``: the data-copying test of Meehan, Chaudhuri & Dasgupta (AISTATS 2020), the
  Mann-Whitney U of generated against held-out nearest-training distances (:func:`mann_whitney_z`)
  averaged over cells of a k-means partition of the training images (:func:`data_copying_test`).
  On pixels it also falls for smooth, average images (closer to everything), so it is reported
  beside ``copy_z``, not as the flag.
"""

from __future__ import annotations

import numpy as np
from scipy import stats
from tqdm.auto import tqdm

from aegen.evaluate.images import check_images, downsample_images

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
        self.n_fit_ = len(train_pixels)
        self.train_sq_norms_ = np.zeros(len(train_pixels))
        for start in range(0, len(train_pixels), BLOCK_ROWS):
            block = train_pixels[start:start + BLOCK_ROWS] / 255.0
            self.train_sq_norms_[start:start + len(block)] = np.einsum("ij,ij->i", block, block)
        return self

    def cluster(self, n_cells: int, random_state: int) -> np.ndarray:
        """Cell (N,) int64 of each training image in a k-means partition into ``n_cells`` cells.

        The cells of the data-copying test: an image's cell is that of its nearest training image.
        """
        from sklearn.cluster import MiniBatchKMeans

        if not hasattr(self, "train_pixels_"):
            raise RuntimeError("call fit() before cluster()")
        n_cells = int(min(n_cells, len(self.train_pixels_)))
        if n_cells <= 1:
            return np.zeros(len(self.train_pixels_), dtype=np.int64)
        kmeans = MiniBatchKMeans(n_clusters=n_cells, random_state=random_state, n_init=3, batch_size=2048)
        labels = np.empty(len(self.train_pixels_), dtype=np.int64)
        kmeans.fit(self.train_pixels_.astype(np.float32) / 255.0)
        for start in range(0, len(self.train_pixels_), BLOCK_ROWS):
            block = self.train_pixels_[start:start + BLOCK_ROWS].astype(np.float32) / 255.0
            labels[start:start + len(block)] = kmeans.predict(block)
        return labels

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


# A row is flagged as copying when its z-score is below COPYING_Z (one-sided p of about 0.001)
# AND at least COPYING_EXCESS of the items whose nearest neighbour should have been held-out
# are pulled to a training item: with thousands of items the z-score alone also catches the
# small pull of any model fitted on the training set (a Gaussian's covariance shows 0.25 in
# latent space), which is not copying; exact copies show 1.
COPYING_Z = -3.0
COPYING_EXCESS = 0.5
# Near training winners listed per row in metrics.json (all of them are counted).
MAX_LISTED_ITEMS = 100
# Cells with fewer generated or held-out items than this are left out of C_T, as in Meehan et al.
MIN_PER_CELL = 5


def mann_whitney_z(generated, heldout) -> float:
    """Z_U of Meehan et al.: Mann-Whitney U of generated (m,) vs held-out (n,) distances, z-scored.

    U counts the pairs where the generated distance is the larger (ties count half); Z_U < 0
    means generated items sit closer to the training set than held-out ones (copying).
    """
    generated, heldout = np.asarray(generated, dtype=float), np.asarray(heldout, dtype=float)
    m, n = generated.size, heldout.size
    if m < 1 or n < 1:
        raise ValueError("need at least one distance in each set")
    u = stats.mannwhitneyu(generated, heldout, alternative="two-sided", method="asymptotic").statistic
    return float((u - m * n / 2.0) / np.sqrt(m * n * (m + n + 1) / 12.0))


def train_vs_heldout_test(to_train, to_heldout, n_train: int, n_heldout: int,
                          train_index=None, heldout_index=None, near_threshold: float | None = None,
                          max_listed: int = MAX_LISTED_ITEMS) -> dict:
    """Copying test: is each generated item's nearest neighbour in train ∪ held-out a training item?

    to_train, to_heldout (m,): distances to the nearest of the ``n_train`` training and of the
    ``n_heldout`` held-out items. For a generator that never saw either set the two sets are
    exchangeable, so the nearest item is a training item with probability
    p0 = n_train / (n_train + n_heldout), however the generated items look. The two sets must be
    the whole pools (or drawn at the same rate from them), or a copy of a training item left out
    looks like a fresh item.

    train_index, heldout_index (m,), optional: which item is the nearest on each side. Generated
    items that share their nearest neighbour (near-duplicates, a collapse to one blur) are one
    trial, not many: with the indices the share is taken over the distinct nearest neighbours.

    near_threshold, optional: the per-item test. Items whose winning distance (the smaller of
    the two) is below it are "near"; among them the training side wins with the same p0 under
    independence, and with probability ~1 for copies. Needs the indices.

    Returns copy_share_train_closer (ties count half), copy_share_expected (p0), copy_trials,
    copy_z = (p0 - share) / sqrt(p0 (1 - p0) / trials) (below 0 when items sit nearer the
    training set), copy_excess = (share - p0) / (1 - p0) (0 for independence, 1 for copies); with
    a threshold also copy_near_threshold, copy_near_trials, copy_near_train, copy_near_excess,
    copy_near_z (exact binomial tail as a z-score), copy_items_total and copy_items (the near
    training winners, nearest first, at most ``max_listed``: generated item, training item,
    distance); and copy_flagged: z below :data:`COPYING_Z` with excess at least
    :data:`COPYING_EXCESS`, overall or among the near items.
    """
    to_train, to_heldout = np.asarray(to_train, dtype=float), np.asarray(to_heldout, dtype=float)
    if to_train.shape != to_heldout.shape or to_train.ndim != 1 or to_train.size < 1:
        raise ValueError(f"need paired distances of equal shape (m,), got {to_train.shape} and {to_heldout.shape}")
    if n_train < 1 or n_heldout < 1:
        raise ValueError(f"need at least one training and one held-out item, got {n_train} and {n_heldout}")
    with_index = train_index is not None and heldout_index is not None
    if near_threshold is not None and not with_index:
        raise ValueError("the per-item test (near_threshold) needs train_index and heldout_index")
    outcome = (to_train < to_heldout) + 0.5 * (to_train == to_heldout)
    expected = n_train / (n_train + n_heldout)
    first = np.arange(outcome.size)
    if with_index:
        train_index, heldout_index = np.asarray(train_index), np.asarray(heldout_index)
        # The winning neighbour's identity: training item i -> i, held-out item j -> n_train + j.
        winner = np.where(to_train <= to_heldout, train_index, n_train + heldout_index)
        _, first = np.unique(winner, return_index=True)
    share = float(np.mean(outcome[first]))
    z = float((expected - share) / np.sqrt(expected * (1.0 - expected) / first.size))
    excess = float((share - expected) / (1.0 - expected))
    out = {"copy_share_train_closer": share, "copy_share_expected": expected, "copy_trials": int(first.size),
           "copy_z": z, "copy_excess": excess}
    flagged = z < COPYING_Z and excess >= COPYING_EXCESS
    if near_threshold is not None:
        near = first[np.minimum(to_train, to_heldout)[first] < near_threshold]
        wins = int(np.sum(outcome[near] == 1.0))
        near_z = binomial_excess_z(wins, near.size, expected)
        near_excess = float((wins / near.size - expected) / (1.0 - expected)) if near.size else 0.0
        listed = near[outcome[near] == 1.0]
        listed = listed[np.argsort(to_train[listed], kind="stable")]
        out.update(copy_near_threshold=float(near_threshold), copy_near_trials=int(near.size),
                   copy_near_train=wins, copy_near_z=near_z, copy_near_excess=near_excess,
                   copy_items_total=int(listed.size),
                   copy_items=[{"item": int(i), "train": int(train_index[i]), "distance": float(to_train[i])}
                               for i in listed[:max_listed]])
        flagged = flagged or (near_z < COPYING_Z and near_excess >= COPYING_EXCESS)
    out["copy_flagged"] = bool(flagged)
    return out


def binomial_excess_z(successes: int, trials: int, p0: float) -> float:
    """The mid-p upper tail P(X > k) + P(X = k) / 2, X ~ Binomial(trials, p0), as a z-score (below 0: too many).

    Exact where the normal approximation is not (a few dozen near items); 0 for no trials,
    clipped at ±37 (tails below 1e-300).
    """
    if trials < 1:
        return 0.0
    tail = float(stats.binom.sf(successes, trials, p0) + 0.5 * stats.binom.pmf(successes, trials, p0))
    return float(np.clip(stats.norm.ppf(min(max(tail, 1e-300), 1.0)), -37.0, 37.0))


class CopyingTest:
    """The copying test of one generator against two whole pools, with its per-item threshold.

    near_percentile: the percentile of the probe items' winning distances below which a
    generated item counts as near (default 1). max_listed: near training winners listed per row.
    fit(train_side, heldout_side, probe): the two sides are fitted nearest-neighbour searches
    (:class:`NearestTrainingImage` for images, :class:`aegen.evaluate.metrics.latent_check.NearestRows`
    for vectors: ``distances(queries) -> (distance (m,), index (m,))`` and ``n_fit_``); probe
    holds queries (images or vectors) of real items in neither side. Attributes after fit:
    n_train_, n_heldout_, near_threshold_, probe_size_.
    """

    def __init__(self, near_percentile: float = 1.0, max_listed: int = MAX_LISTED_ITEMS):
        self.near_percentile = near_percentile
        self.max_listed = max_listed

    def fit(self, train_side, heldout_side, probe) -> "CopyingTest":
        if not 0 < self.near_percentile < 100:
            raise ValueError(f"near_percentile must be in (0, 100), got {self.near_percentile}")
        if len(probe) < 1:
            raise ValueError("the copying test needs at least one probe item outside both sides")
        self.train_side_, self.heldout_side_ = train_side, heldout_side
        self.n_train_, self.n_heldout_ = int(train_side.n_fit_), int(heldout_side.n_fit_)
        winning = np.minimum(train_side.distances(probe)[0], heldout_side.distances(probe)[0])
        self.near_threshold_ = float(np.percentile(winning, self.near_percentile))
        self.probe_size_ = len(probe)
        return self

    def test(self, queries, train_nearest: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
        """:func:`train_vs_heldout_test` of ``queries`` (images or vectors, as the sides were fitted).

        train_nearest: (distance, index) of the queries' nearest training-side items, when known.
        """
        if not hasattr(self, "near_threshold_"):
            raise RuntimeError("call fit() before test()")
        to_train, train_index = train_nearest or self.train_side_.distances(queries)
        to_heldout, heldout_index = self.heldout_side_.distances(queries)
        return train_vs_heldout_test(to_train, to_heldout, self.n_train_, self.n_heldout_, train_index,
                                     heldout_index, self.near_threshold_, self.max_listed)

    def describe(self) -> dict:
        return {"training_side": self.n_train_, "heldout_side": self.n_heldout_, "probe_items": self.probe_size_,
                "p0": self.n_train_ / (self.n_train_ + self.n_heldout_),
                "near_threshold": self.near_threshold_, "near_percentile": self.near_percentile}


def data_copying_test(generated, generated_cells, heldout, heldout_cells) -> dict:
    """C_T: Z_U within each cell, averaged with the cells' held-out shares as weights.

    generated (m,), heldout (n,): nearest-training distances; *_cells: the cell of each item.
    Returns meehan_z (global Z_U), meehan_ct (C_T, None when no cell has enough items of
    both) and meehan_cells_used.
    """
    generated, heldout = np.asarray(generated, dtype=float), np.asarray(heldout, dtype=float)
    generated_cells, heldout_cells = np.asarray(generated_cells), np.asarray(heldout_cells)
    weights, scores = [], []
    for cell in np.unique(heldout_cells):
        g, h = generated[generated_cells == cell], heldout[heldout_cells == cell]
        if g.size >= MIN_PER_CELL and h.size >= MIN_PER_CELL:
            weights.append(h.size / heldout.size)
            scores.append(mann_whitney_z(g, h))
    global_z = mann_whitney_z(generated, heldout)
    ct = float(np.dot(weights, scores) / np.sum(weights)) if weights else None
    return {"meehan_z": global_z, "meehan_ct": ct, "meehan_cells_used": len(weights)}
