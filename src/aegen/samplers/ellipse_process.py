"""The seed's pairwise-ellipse process, literally and fast.

Both functions generate vectors in the PCA frame of ``ellipse-pca`` from the per-component
limits ``scales = fact * half_widths`` (K,). In normalised coordinates ``u_k = v_k / scales_k``
the process for one vector is:

- visit every unordered pair (i, j) of the K components once, in a fresh random order;
- a fair coin picks which component of the pair is fixed first (call it i);
- an unset u_i is drawn uniformly in [-1, 1];
- u_j must satisfy u_i^2 + u_j^2 <= 1: if u_j is unset or outside [-c, c] with
  c = sqrt(1 - u_i^2), it is drawn uniformly in [-c, c].

:func:`ellipse_pca_literal` runs exactly these steps, one vector at a time; it is the
reference. :func:`unit_ellipse_process` produces the same distribution of u for many vectors
at once, without visiting the pairs that cannot change anything. Why it is exact:

1. *Magnitudes and signs separate.* Every draw is symmetric around 0 and every test looks at
   u^2 only, so the process on s_k = u_k^2 runs on its own and each final sign is an
   independent fair coin. In s, a fresh fixed value is w^2 and a redraw of the other is
   (1 - s_i) w^2 with w uniform in [0, 1].
2. *Only active visits matter.* A visit changes something only when a component is unset or
   s_i + s_j > 1 (the pair is "active"). Values only ever shrink, so a pair that is inactive
   stays inactive for good, and a visited pair is inactive afterwards. Given the past, the
   remaining visits come in a uniformly random order, so the next visit that changes anything
   is to a pair drawn uniformly among the active pairs, with a fresh coin. The process is this
   jump chain; the inactive visits in between can be dropped.
3. *One rule.* With unset stored as s = 2 the whole visit is: s_i <- w1^2 if s_i > 1;
   then s_j <- (1 - s_i) w2^2 if s_i + s_j > 1. An inactive pair is left unchanged by it.
4. *Rejection from a small superset.* Two components with s <= 1/2 can never violate a pair
   condition, so every active pair touches a "hot" component (unset, or s > 1/2). Each vector
   keeps its hot components in a contiguous block; a proposal is drawn uniformly among the
   pairs touching that block and the rule is applied (a no-op when the proposal is inactive).
   Conditioned on being active, the proposal is uniform among the active pairs, as needed.
5. *Labels are exchangeable.* The process treats all K components alike, so the law of the
   final vector is invariant under relabelling. The simulation moves values between slots
   freely; a uniformly random permutation of each finished vector restores the labels.
6. *Once everything is set*, no value can grow and no component can turn hot, so a partner
   of a hot component must have s > 1 - max(s). The values are sorted once and each vector
   keeps a window of slots that can still hold such partners; proposals pair hot components
   with the window only, and the window is re-tightened (re-sorted) as the hot block shrinks.
   With one hot component left, its violating partners are enumerated exactly, which also
   detects the end of the process.

Two backends run this simulation. ``numpy``: vectorised over blocks of vectors (each step
advances every unfinished vector by one proposal); blocks use independent random streams
spawned from the caller's seed, so the result does not depend on ``n_jobs``. ``numba``: the
compiled per-vector kernel of :mod:`aegen.samplers.ellipse_kernel` (the same jump chain, one
seed per vector; several times faster), used by ``backend="auto"`` when numba is installed.
The two backends give different vectors for one seed, with the same distribution.
"""

from __future__ import annotations

import functools
import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Stored value of an unset component: larger than any set value, so that "unset" and
# "violates" are both "s_i + s_j > 1" and unset components count as hot.
UNSET = 2.0
# A window is re-tightened once the hot block has shrunk by this factor since the last time.
_REBUILD_FACTOR = 1.5
DEFAULT_CHUNK_SIZE = 8192
BACKENDS = ("auto", "numba", "numpy")


def ellipse_pca_literal(scales: np.ndarray, n: int, random_state=None) -> np.ndarray:
    """Reference: the seed's steps, one vector at a time, a Python loop over all pairs.

    scales: (K,) positive limits fact * a_k. Returns (n, K) float64 PCA coordinates v.
    With K = 1 there is no pair; the single component is drawn uniformly in its range.
    """
    scales = _check_scales(scales)
    n = _check_n(n)
    rng = np.random.default_rng(random_state)
    n_components = scales.size
    pairs = [(i, j) for i in range(n_components) for j in range(i + 1, n_components)]
    out = np.empty((n, n_components))
    for row in range(n):
        v = [None] * n_components
        for p in rng.permutation(len(pairs)):
            i, j = pairs[p]
            if rng.random() < 0.5:
                i, j = j, i
            if v[i] is None:
                v[i] = rng.uniform(-scales[i], scales[i])
            c = scales[j] * math.sqrt(max(0.0, 1.0 - (v[i] / scales[i]) ** 2))
            if v[j] is None or abs(v[j]) > c:
                v[j] = rng.uniform(-c, c)
        for k in range(n_components):
            if v[k] is None:  # only when K == 1
                v[k] = rng.uniform(-scales[k], scales[k])
        out[row] = v
    return out


def check_backend(backend) -> None:
    """ValueError unless ``backend`` is one of :data:`BACKENDS` (a name check only: numba is not imported)."""
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")


def resolve_backend(backend: str = "auto") -> str:
    """The backend, "numba" or "numpy", that ``backend`` ("auto", "numba" or "numpy") selects here.

    "auto" is "numba" when numba is importable (and compiling), else "numpy". ValueError for
    an unknown name, or for "numba" without numba.
    """
    check_backend(backend)
    if backend == "numpy":
        return "numpy"
    kernel = numba_kernel()
    if kernel is None and backend == "numba":
        raise ValueError("backend='numba' needs the numba package, which cannot be imported here: "
                         "install it (pip install numba) or use backend='numpy'")
    if kernel is None or (backend == "auto" and not kernel.COMPILED):
        return "numpy"
    return "numba"


@functools.cache
def numba_kernel():
    """The compiled-kernel module, or None without numba (imported once, on first use)."""
    try:
        from aegen.samplers import ellipse_kernel
    except ImportError:
        return None
    return ellipse_kernel


def unit_ellipse_process(n: int, n_components: int, random_state=None,
                         chunk_size: int = DEFAULT_CHUNK_SIZE, n_jobs: int = 1,
                         backend: str = "auto") -> np.ndarray:
    """Normalised coordinates u (n, n_components) float64 of n vectors of the process.

    Same distribution as ``ellipse_pca_literal(scales, n) / scales``; every pair condition
    u_i^2 + u_j^2 <= 1 holds for every row. ``backend``: see :func:`resolve_backend`.
    ``n_jobs`` threads share the work. With numpy they work on separate blocks of
    ``chunk_size`` vectors and the output depends on the seed and chunk_size only; with numba
    it depends on the seed only (chunk_size is not used).
    """
    n = _check_n(n)
    if int(n_components) != n_components or n_components < 1:
        raise ValueError(f"n_components must be an integer >= 1, got {n_components}")
    n_components = int(n_components)
    if chunk_size < 1 or n_jobs < 1:
        raise ValueError("chunk_size and n_jobs must be >= 1")
    backend = resolve_backend(backend)
    rng = np.random.default_rng(random_state)
    if backend == "numba":
        return numba_kernel().unit_process(n, n_components, rng, n_jobs=n_jobs)
    seed = np.random.SeedSequence(rng.integers(0, 2**63, size=4))
    starts = list(range(0, n, chunk_size))
    streams = seed.spawn(len(starts))
    out = np.empty((n, n_components))

    def work(k: int) -> None:
        start = starts[k]
        stop = min(n, start + chunk_size)
        gen = np.random.Generator(np.random.SFC64(streams[k]))
        out[start:stop] = _simulate_block(stop - start, n_components, gen)

    if n_jobs == 1 or len(starts) == 1:
        for k in range(len(starts)):
            work(k)
    else:
        # numpy releases the GIL inside its array operations, so blocks run in parallel.
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            list(pool.map(work, range(len(starts))))
    return out


def _simulate_block(n: int, n_components: int, gen: np.random.Generator) -> np.ndarray:
    """u (n, K) for one block: squared magnitudes, then random signs and labels."""
    if n_components == 1:
        return gen.uniform(-1.0, 1.0, size=(n, 1))
    squares = _squared_magnitudes(n, n_components, gen)
    u = np.sqrt(squares)
    signs = np.unpackbits(gen.integers(0, 256, size=(n, -(-n_components // 8)), dtype=np.uint8), axis=1)
    u[signs[:, :n_components].astype(bool)] *= -1.0
    return np.take_along_axis(u, _random_permutations(n, n_components, gen), axis=1)


def _random_permutations(n: int, size: int, gen: np.random.Generator) -> np.ndarray:
    """(n, size) independent uniform permutations of range(size).

    Sorting random keys is the fastest vectorised shuffle; the slot index sits in the low
    bits of each key so the keys are distinct and the sorted keys give the permutation
    directly (numpy's float sort is much faster than argsort).
    """
    index_bits = max(1, (size - 1).bit_length())
    keys = gen.integers(0, 1 << 52, size=(n, size), dtype=np.uint64)
    keys >>= np.uint64(index_bits)
    keys <<= np.uint64(index_bits)
    keys |= np.arange(size, dtype=np.uint64)
    keys |= np.uint64(0x3FF0000000000000)  # exponent of [1, 2): the float order is the key order
    ordered = np.sort(keys.view(np.float64), axis=1).view(np.uint64)
    return (ordered & np.uint64((1 << index_bits) - 1)).astype(np.intp)


def _squared_magnitudes(n: int, K: int, gen: np.random.Generator) -> np.ndarray:
    """s = u^2 (n, K) of n finished vectors, in arbitrary slot order."""
    s = np.full(n * K, UNSET)
    grid = s.reshape(n, K)
    rows = np.arange(n)
    base = rows * K               # flat offset of each vector's first slot
    hot = np.full(n, K, np.intp)  # the hot block is slots [0, hot)
    unset = np.full(n, K, np.intp)
    window = np.full(n, K, np.intp)  # partners of hot slots lie in slots [0, window)
    hot_at_rebuild = np.zeros(n, np.intp)  # 0 while some component is unset
    while rows.size:
        _propose_and_apply(s, base, hot, unset, window, gen)

        entering = (unset == 0) & (hot_at_rebuild == 0)
        if entering.any():
            idx = np.flatnonzero(entering)
            _tighten_windows(grid, rows[idx], K, window, idx)
            hot_at_rebuild[idx] = np.maximum(hot[idx], 1)
        shrunk = (hot * _REBUILD_FACTOR <= hot_at_rebuild) & (hot >= 1)
        if shrunk.any():
            idx = np.flatnonzero(shrunk)
            _tighten_windows(grid, rows[idx], int(window[idx].max()), window, idx)
            hot_at_rebuild[idx] = hot[idx]

        done = (unset == 0) & (hot == 0)
        single = np.flatnonzero((unset == 0) & (hot == 1))
        if single.size:
            finished = _single_hot_step(grid, rows[single], window[single], gen)
            hot[single[finished == 2]] = 0
            done[single[finished > 0]] = True
        if done.any():
            keep = ~done
            rows, base, hot, unset = rows[keep], base[keep], hot[keep], unset[keep]
            window, hot_at_rebuild = window[keep], hot_at_rebuild[keep]
    return grid


def _propose_and_apply(s, base, hot, unset, window, gen) -> None:
    """One proposal per vector, drawn uniformly among pairs touching the hot block, and the rule.

    The partner index runs over the window with every cold slot listed twice, so that a
    hot-hot pair (reachable from either end) and a hot-cold pair (from one end only) are
    equally likely. The low bit of the hot index is the coin.
    """
    u = gen.random((4, base.size))
    a2 = (u[0] * (2 * hot)).astype(np.intp)
    coin = a2 & 1
    a = a2 >> 1
    b = (u[1] * (2 * window - hot - 1)).astype(np.intp)
    b += b >= a
    b = np.where(b >= window, b - (window - hot), b)
    a += base
    b += base
    swap = (a - b) * coin
    fixed = b + swap
    other = a - swap

    s_fixed_old = s[fixed]
    s_other_old = s[other]
    w = u[2]
    w *= w
    s_fixed = np.where(s_fixed_old > 1.0, w, s_fixed_old)
    room = 1.0 - s_fixed
    w = u[3]
    w *= w
    w *= room
    s_other = np.where(s_other_old > room, w, s_other_old)
    s[other] = s_other
    unset -= s_fixed_old > 1.0
    unset -= s_other_old > 1.0

    # Write the fixed value; a hot slot that turned cold swaps with the last hot slot.
    last = base + hot - 1
    last_value = s[last]
    leaves = (fixed <= last) & (s_fixed <= 0.5)
    s[fixed] = np.where(leaves, last_value, s_fixed)
    s[np.where(leaves, last, fixed)] = s_fixed
    other = np.where(leaves & (other == last), fixed, other)
    hot -= leaves
    last = base + hot - 1
    last_value = s[last]
    leaves = (other <= last) & (s_other <= 0.5)
    s[other] = np.where(leaves, last_value, s_other)
    s[np.where(leaves, last, other)] = s_other
    hot -= leaves


def _tighten_windows(grid, rows, width, window, idx) -> None:
    """Sort the first ``width`` slots of ``rows`` (descending) and shrink their windows.

    Needs every component set. Slots past the old window hold values no larger than the
    old threshold, which can only have grown since, so sorting a prefix that covers the old
    window keeps the window a prefix of the sorted values.
    """
    block = grid[rows, :width]
    block.sort(axis=1)
    block = block[:, ::-1]
    grid[rows, :width] = block
    threshold = 1.0 - block[:, :1]  # a partner needs s > 1 - s_max
    window[idx] = np.maximum((block > threshold).sum(axis=1), 1)


def _single_hot_step(grid, rows, window, gen) -> np.ndarray:
    """One exact step for vectors whose only hot component sits in slot 0.

    Returns per row 0 (still running), 1 (no violating pair left: done) or 2 (the hot
    component turned cold: done).
    """
    width = int(window.max())
    status = np.zeros(rows.size, np.int8)
    if width <= 1:
        status[:] = 1
        return status
    big = grid[rows, 0]
    violating = (grid[rows, 1:width] > (1.0 - big)[:, None]) & (np.arange(1, width) < window[:, None])
    counts = violating.sum(axis=1)
    status[counts == 0] = 1
    live = np.flatnonzero(counts > 0)
    if live.size == 0:
        return status
    r_live, big, counts = rows[live], big[live], counts[live]
    u = gen.random((3, live.size))
    pick = (u[0] * counts).astype(np.intp)
    partner = np.argmax(np.cumsum(violating[live], axis=1) > pick[:, None], axis=1) + 1
    s_partner = grid[r_live, partner]
    big_fixed = u[1] < 0.5
    w = u[2] * u[2]
    grid[r_live, partner] = np.where(big_fixed, (1.0 - big) * w, s_partner)
    new_big = np.where(big_fixed, big, (1.0 - s_partner) * w)
    grid[r_live, 0] = new_big
    status[live[new_big <= 0.5]] = 2
    return status


def _check_scales(scales) -> np.ndarray:
    scales = np.asarray(scales, dtype=float)
    if scales.ndim != 1 or scales.size < 1:
        raise ValueError(f"scales must be a non-empty 1-D array, got shape {scales.shape}")
    if not np.all(np.isfinite(scales)) or np.any(scales <= 0):
        raise ValueError("scales must be finite and > 0")
    return scales


def _check_n(n) -> int:
    if int(n) != n or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n}")
    return int(n)
