"""Compiled (numba) kernel of the seed's pairwise-ellipse process, one vector at a time.

Importing this module needs numba; :mod:`aegen.samplers.ellipse_process` imports it only for
the ``numba`` backend. Entry points: :func:`unit_process` (the PCA frame, below) and
:func:`original_process` (the process in the original coordinates of
:mod:`aegen.samplers.ellipse_original`, at the end of this module, a plain simulation of its
sweeps). The PCA kernel simulates the same jump chain as the numpy backend (see the proof
there, points 1-4 and 6): squared magnitudes s_k = u_k^2 with unset stored as 2; the rule "s_i <- w1^2 if s_i > 1; then
s_j <- (1 - s_i) w2^2 if s_i + s_j > 1"; the next visit that changes anything drawn uniformly
among the active pairs, by proposing uniformly from a superset of them and applying the rule
(a no-op on an inactive pair); finally an independent fair sign per component.

Values stay at their component's label k; ``slots`` is a permutation of the labels, and the
sets below are ranges of slots. A proposal uniform over a range of slot pairs is uniform over
the pairs of labels they hold, so the chain is simulated label by label and, unlike the numpy
backend, needs no random relabelling at the end. Per vector:

- *While some component is unset*, slots [0, hot) hold the hot components (unset or s > 1/2)
  and proposals are uniform among all pairs touching them (every active pair does).
- *Once all are set*, no value grows and no component turns hot, so a partner of a hot
  component needs s > 1 - M (M: the largest hot value). The cold slots with s > 1 - M are
  moved right behind the hot block (the "window" [hot, window)); slots past it can never be
  partners again because M only falls. When a hot component turns cold and M has fallen,
  the window is re-filtered.
- *With one hot component left* its partners are exactly the window slots with
  s > 1 - s_hot; they are kept in a block and drawn uniformly, and the block is re-filtered
  when the hot value falls. An empty block, or the hot value falling to 1/2 or less (every
  component cold), ends the vector.

Random numbers: each vector has its own xoshiro256** stream, seeded through splitmix64 from
one 64-bit seed per vector that the caller draws from its numpy Generator, so a vector depends
on its seed only and the output is the same for any split into threads. Bounded integers use
Lemire's unbiased multiply-and-reject method; uniform doubles have 53 random bits.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba import njit

# False when numba is told to run everything as plain Python (NUMBA_DISABLE_JIT=1): far too
# slow for this kernel, so the "auto" backend then picks numpy.
COMPILED = not numba.config.DISABLE_JIT
UNSET = 2.0
# Rows per task when several threads share the work: small enough to balance the threads.
_ROWS_PER_TASK = 4096
_MASK32 = np.uint64(0xFFFFFFFF)
_DOUBLE_UNIT = 1.0 / 9007199254740992.0  # 2**-53


@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True, inline="always")
def _splitmix64(x):
    """(next state, output) of splitmix64; used to spread one seed over xoshiro's 256 bits."""
    x = x + np.uint64(0x9E3779B97F4A7C15)
    z = x
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x, z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def _seed_state(state, seed):
    x = np.uint64(seed)
    for k in range(4):
        x, value = _splitmix64(x)
        state[k] = value


@njit(cache=True, inline="always")
def _next_u64(state):
    """xoshiro256** (Blackman and Vigna): the next 64 random bits of ``state`` (4,) uint64."""
    s0, s1, s2, s3 = state[0], state[1], state[2], state[3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[0], state[1], state[2], state[3] = s0, s1, s2, s3
    return result


@njit(cache=True, inline="always")
def _uniform(state):
    """A double uniform in [0, 1) with 53 random bits."""
    return float(_next_u64(state) >> np.uint64(11)) * _DOUBLE_UNIT


@njit(cache=True, inline="always")
def _below_from(state, bits32, bound):
    """An int uniform in [0, bound), 1 <= bound < 2**32, from 32 random bits ``bits32``.

    Lemire's multiply-and-reject method (2019): unbiased; it asks ``state`` for fresh bits
    only in the rare rejected case.
    """
    n = np.uint64(bound)
    product = bits32 * n
    if (product & _MASK32) < n:
        threshold = (np.uint64(1 << 32) - n) % n
        while (product & _MASK32) < threshold:
            product = (_next_u64(state) >> np.uint64(32)) * n
    return np.int64(product >> np.uint64(32))


@njit(cache=True, inline="always")
def _two_below(state, bound_a, bound_b):
    """Two independent ints uniform in [0, bound_a) and [0, bound_b), from one 64-bit draw."""
    bits = _next_u64(state)
    return (_below_from(state, bits >> np.uint64(32), bound_a),
            _below_from(state, bits & _MASK32, bound_b))


@njit(cache=True, inline="always")
def _swap(slots, a, b):
    slots[a], slots[b] = slots[b], slots[a]


@njit(cache=True, inline="always")
def _partition_above(s, slots, start, stop, threshold):
    """Move the slots of [start, stop) whose value exceeds ``threshold`` to its front; returns their end."""
    end = start
    for k in range(start, stop):
        # Branch-free: always swap, advance only past a kept slot.
        label = slots[k]
        slots[k] = slots[end]
        slots[end] = label
        end += s[label] > threshold
    return end


@njit(cache=True, inline="always")
def _propose(state, hot, limit):
    """(fixed, other): a hot slot a of [0, hot) and a partner slot b != a of [0, limit), in an order
    set by a fair coin (the low bit of a's draw). The cold slots [hot, limit) are listed twice,
    so that a hot-hot pair (reachable from either end) and a hot-cold pair are equally likely."""
    a2, b = _two_below(state, 2 * hot, 2 * limit - hot - 1)
    a = a2 >> 1
    if b >= a:
        b += 1
    if b >= limit:
        b -= limit - hot
    if a2 & 1:
        return b, a
    return a, b


@njit(cache=True)
def _run_process(s, slots, state):
    """Run the process for one vector: s (K,) <- the final u_k^2 by label k.

    slots (K,) int64 is scratch: slots[k] is the label held by slot k. The hot block and the
    windows are ranges of slots, so values never move and need no relabelling at the end.
    """
    K = s.size
    if K == 1:
        w = _uniform(state)
        s[0] = w * w
        return
    for k in range(K):
        s[k] = UNSET
        slots[k] = k
    hot = K
    unset = K

    # Phase 1: some component unset; a partner may be any slot.
    while unset > 0:
        fixed, other = _propose(state, hot, K)
        label_fixed = slots[fixed]
        label_other = slots[other]
        old_fixed = s[label_fixed]
        old_other = s[label_other]
        w1 = _uniform(state)
        w2 = _uniform(state)
        s_fixed = w1 * w1 if old_fixed > 1.0 else old_fixed
        room = 1.0 - s_fixed
        s_other = room * w2 * w2 if old_other > room else old_other
        unset -= (old_fixed > 1.0) + (old_other > 1.0)
        s[label_fixed] = s_fixed
        s[label_other] = s_other
        # A hot slot that turned cold changes places with the last hot slot.
        if fixed < hot and s_fixed <= 0.5:
            hot -= 1
            _swap(slots, fixed, hot)
            if other == hot:
                other = fixed
        if other < hot and s_other <= 0.5:
            hot -= 1
            _swap(slots, other, hot)

    # Phase 2: all set, several hot. Partners of hot slots lie in [0, window); the window is
    # re-filtered when the largest hot value, and with it the partner threshold, has fallen.
    window = K
    threshold = -1.0
    filtered_at = K + 1
    while hot >= 2:
        if hot < filtered_at:
            largest = 0.0
            for k in range(hot):
                largest = max(largest, s[slots[k]])
            if 1.0 - largest > threshold:
                threshold = 1.0 - largest
                window = _partition_above(s, slots, hot, window, threshold)
            filtered_at = hot
        fixed, other = _propose(state, hot, window)
        room = 1.0 - s[slots[fixed]]
        label = slots[other]
        if s[label] > room:
            w = _uniform(state)
            s[label] = room * w * w
            if other < hot and s[label] <= 0.5:
                hot -= 1
                _swap(slots, other, hot)

    # Phase 3: one hot component (slot 0); its partners are slots [1, end).
    if hot == 1:
        big_label = slots[0]
        big = s[big_label]
        end = _partition_above(s, slots, 1, window, 1.0 - big)
        while end > 1:
            bits = _next_u64(state)
            j = 1 + _below_from(state, bits & _MASK32, end - 1)
            w = _uniform(state)
            if bits >> np.uint64(63):
                s[slots[j]] = (1.0 - big) * w * w  # no longer a partner
                end -= 1
                _swap(slots, j, end)
            else:
                big = (1.0 - s[slots[j]]) * w * w
                s[big_label] = big
                if big <= 0.5:  # every component cold: no pair can be violated
                    break
                end = _partition_above(s, slots, 1, end, 1.0 - big)


@njit(cache=True, inline="always")
def _write_row(row, s, state):
    """row (K,) <- +-sqrt(s) with independent fair signs."""
    bits = np.uint64(0)
    for k in range(s.size):
        if k % 64 == 0:
            bits = _next_u64(state)
        sign = 1.0 - 2.0 * float(bits & np.uint64(1))
        bits >>= np.uint64(1)
        row[k] = sign * np.sqrt(s[k])


@njit(cache=True, nogil=True)
def simulate_rows(seeds, out, start, stop):
    """Fill out[start:stop] (normalised coordinates, K = out.shape[1]) from seeds[start:stop].

    seeds: (n,) uint64, one per row of out (n, K) float64. Releases the GIL, so that threads
    can fill separate row ranges at once.
    """
    n_components = out.shape[1]
    s = np.empty(n_components)
    slots = np.empty(n_components, np.int64)
    state = np.empty(4, np.uint64)
    for row in range(start, stop):
        _seed_state(state, seeds[row])
        _run_process(s, slots, state)
        _write_row(out[row], s, state)


def unit_process(n: int, n_components: int, rng: np.random.Generator, n_jobs: int = 1) -> np.ndarray:
    """u (n, n_components) float64 of n vectors of the process; ``n_jobs`` threads.

    One 64-bit seed per vector is drawn from ``rng``; the result depends on ``rng``'s state
    only, not on ``n_jobs``. The first call in a process compiles the kernel or loads it from
    numba's cache (next to this module, or in numba's user cache when that is read-only).
    """
    seeds = rng.integers(0, 2**64, size=n, dtype=np.uint64)
    out = np.empty((n, n_components))
    bounds = list(range(0, n, _ROWS_PER_TASK)) + [n]
    if n_jobs == 1 or len(bounds) <= 2:
        simulate_rows(seeds, out, 0, n)
        return out
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        # The kernel releases the GIL: the threads really run at once.
        list(pool.map(lambda k: simulate_rows(seeds, out, bounds[k], bounds[k + 1]), range(len(bounds) - 1)))
    return out


# -- the pairwise process in the original coordinates (aegen.samplers.ellipse_original) ----------

@njit(cache=True)
def _original_vector(y, unset, order, pair_i, pair_j, rho, root, max_sweeps, state):
    """One vector of the original-coordinate process: y (d,) <- its normalised coordinates.

    Sweeps visit every pair (pair_i[p], pair_j[p]) once in a fresh uniformly random order
    (Fisher-Yates drawn on the fly) with a fair coin for the fixed component, until every
    pair condition holds after a sweep. Returns the number of sweeps, or -1 when conditions
    still fail after ``max_sweeps`` (the caller then starts the vector afresh).
    """
    n_pairs = pair_i.size
    for k in range(y.size):
        unset[k] = True
    for p in range(n_pairs):
        order[p] = p
    for sweep in range(1, max_sweeps + 1):
        for t in range(n_pairs):
            bits = _next_u64(state)
            s = t + _below_from(state, bits >> np.uint64(32), n_pairs - t)
            p = order[s]
            order[s] = order[t]
            order[t] = p
            if bits & np.uint64(1):
                i, j = pair_j[p], pair_i[p]
            else:
                i, j = pair_i[p], pair_j[p]
            if unset[i]:
                y[i] = 2.0 * _uniform(state) - 1.0
                unset[i] = False
            centre = rho[p] * y[i]
            half = root[p] * np.sqrt(max(0.0, 1.0 - y[i] * y[i]))
            if unset[j] or abs(y[j] - centre) > half:
                y[j] = centre + half * (2.0 * _uniform(state) - 1.0)
                unset[j] = False
        if _all_pairs_hold(y, pair_i, pair_j, rho, root):
            return sweep
    return -1


@njit(cache=True, inline="always")
def _all_pairs_hold(y, pair_i, pair_j, rho, root):
    for p in range(pair_i.size):
        i, j = pair_i[p], pair_j[p]
        if abs(y[j] - rho[p] * y[i]) > root[p] * np.sqrt(max(0.0, 1.0 - y[i] * y[i])) + 1e-12:
            return False
    return True


@njit(cache=True, nogil=True)
def original_rows(seeds, out, sweeps, pair_i, pair_j, rho, root, max_sweeps, max_restarts, start, stop):
    """Fill out[start:stop] (n, d) from seeds[start:stop]; sweeps[row] <- sweeps used in all.

    A vector that misses its conditions after ``max_sweeps`` sweeps starts afresh, at most
    ``max_restarts`` times; sweeps[row] is -1 when it never met them.
    """
    d = out.shape[1]
    unset = np.empty(d, np.bool_)
    order = np.empty(pair_i.size, np.int64)
    state = np.empty(4, np.uint64)
    for row in range(start, stop):
        _seed_state(state, seeds[row])
        total = 0
        sweeps[row] = -1
        for _ in range(max_restarts + 1):
            used = _original_vector(out[row], unset, order, pair_i, pair_j, rho, root, max_sweeps, state)
            if used > 0:
                sweeps[row] = total + used
                break
            total += max_sweeps


def original_process(n: int, correlation: np.ndarray, rng: np.random.Generator, max_sweeps: int,
                     max_restarts: int, n_jobs: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """y (n, d) of the original-coordinate process and the sweeps (n,) each vector took (-1: failed).

    One 64-bit seed per vector is drawn from ``rng``: the result depends on ``rng``'s state
    only, not on ``n_jobs``.
    """
    d = correlation.shape[0]
    pair_i, pair_j = (index.astype(np.int64) for index in np.triu_indices(d, k=1))
    rho = np.ascontiguousarray(correlation[pair_i, pair_j], dtype=np.float64)
    root = np.sqrt(np.clip(1.0 - rho * rho, 0.0, None))
    seeds = rng.integers(0, 2**64, size=n, dtype=np.uint64)
    out = np.zeros((n, d))
    sweeps = np.zeros(n, np.int64)
    bounds = list(range(0, n, max(1, _ROWS_PER_TASK // 16))) + [n]
    args = (pair_i, pair_j, rho, root, int(max_sweeps), int(max_restarts))
    if n_jobs == 1 or len(bounds) <= 2:
        original_rows(seeds, out, sweeps, *args, 0, n)
    else:
        with ThreadPoolExecutor(max_workers=n_jobs) as pool:
            list(pool.map(lambda k: original_rows(seeds, out, sweeps, *args, bounds[k], bounds[k + 1]),
                          range(len(bounds) - 1)))
    if d == 1:  # no pair: the single component is uniform on [-1, 1]
        out[:, 0] = rng.uniform(-1.0, 1.0, size=n)
        sweeps[:] = 1
    return out, sweeps
