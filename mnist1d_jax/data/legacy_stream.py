"""NumPy's legacy random stream, read in bulk: the per-example draws of the MNIST-1D generator, vectorised.

The original generator makes, for every example in turn, the calls

    rand(), rand(), choice(T), randn(L), randn(L), rand()

on one `RandomState`. Reproducing the frozen dataset means reproducing exactly which 32-bit Mersenne-Twister
words each call consumes. Two of the calls use rejection sampling, so an example's footprint in the word
stream is random:

* ``choice(T)`` (= legacy ``randint(0, T)``) draws words ``w`` until ``w & mask <= T - 1``;
* ``randn`` is the polar Box-Muller method: it draws two doubles (four words) until they fall inside the unit
  disc, and each accepted attempt yields two normals (the spare is cached for the next call).

Instead of making ~100 small calls per example, we draw the raw words of a large block at once and decide
every possible rejection test for every word position with whole-array arithmetic. What remains sequential is
only *where* each example starts; that walk costs a handful of table look-ups per example, because:

* an attempt that starts at word ``i`` is followed by the next attempt at ``i + 4``, so all Box-Muller
  attempts of one example lie in the same residue class ``i mod 4``, and the example's ``L`` accepted pairs
  (``2L`` normals: the spare is always used up by the second ``randn(L)``) are the ``L`` consecutive entries
  of that class's list of accepted positions, found with one cumulative-count look-up;
* ``choice`` accepts a word with probability >= 1/2, so scanning for it word by word is short.

The numbers are then gathered from the word block in one go, and blocks are processed on two threads (NumPy
releases the GIL) while the walk goes on. The legacy stream is frozen across NumPy versions, so this
reproduces the original draws exactly: uniforms, shifts and acceptance decisions to the last bit, normals to
1 ulp (NumPy's vectorised ``log`` differs from the C library's ``log`` that ``randn`` calls in the last bit
for ~0.4 % of inputs).

It stays one module because it is one algorithm with one invariant, the exact word position of every draw: the
acceptance tables, the walk, the gather and the windowed pipeline (windows a multiple of 4 words to keep the
residue classes, their overlap, the final rewind of the `RandomState`) are checked together, top to bottom,
against NumPy's legacy ``randint`` and ``randn``, and split apart they would hide that bookkeeping.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

_TWO_POW_53 = 9007199254740992.0
_TWO_POW_26 = 67108864.0
# How many examples' worth of words to draw at a time (~770k words): fewer, larger blocks measured faster
# than 256-1,024 (per-block overheads and thread hand-offs), with no loss from cache misses.
_EXAMPLES_PER_BLOCK = 2048
# Words shared by consecutive windows: room for the last examples of a window to finish.
_MIN_OVERLAP = 2048
_OVERLAP_EXAMPLES = 4

T = TypeVar("T")


@dataclass(frozen=True)
class ExampleDraws:
    """The random numbers of `n` examples, in generation order.

    Attributes:
      pad_u: (n,) the first ``rand()`` (padding), in [0, 1).
      scale_u: (n,) the second ``rand()`` (amplitude).
      shift: (n,) int64, the ``choice(T)`` translation.
      normals: (n, 2, L) the two ``randn(L)`` calls (correlated noise, then white noise).
      shear_u: (n,) the last ``rand()`` (shear).
    """

    pad_u: np.ndarray
    scale_u: np.ndarray
    shift: np.ndarray
    normals: np.ndarray
    shear_u: np.ndarray


def _mask_for(rng: int) -> int:
    """Smallest 2**k - 1 >= rng, as NumPy's masked rejection sampler uses."""
    mask = rng
    for s in (1, 2, 4, 8, 16, 32):
        mask |= mask >> s
    return mask


def _unit_interval_pm1(words: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``2 d - 1`` for the legacy doubles d at `idx`, computed as ``N 2**-52 - 1``: the same number, since
    ``d = N / 2**53`` with an integer N < 2**53 and scaling by powers of two is exact."""
    x = (words[idx] >> 5) * _TWO_POW_26
    x += words[idx + 1] >> 6
    x *= 2.0**-52
    x -= 1.0
    return x


def _doubles_at(words: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The legacy 53-bit double made of words ``idx`` and ``idx + 1`` (any shape of indices)."""
    hi = (words[idx] >> 5).astype(np.float64)
    lo = (words[idx + 1] >> 6).astype(np.float64)
    return (hi * _TWO_POW_26 + lo) / _TWO_POW_53


# Box-Muller acceptance, decided first in float32 from each word alone. With x = 2 d - 1 the attempt's double,
# X = 2**31 x lies within 32 of the word w itself (d's 53 bits are w's top 27 bits and 26 bits of the next
# word), and A = float32(w) - 2**31 within 32 + 128 + 128 of X (two float32 roundings at these magnitudes).
# So S = A1**2 + A2**2 in float32 is within 2**42 of 2**62 r2 (products, then three roundings of <= 2**39).
# Only attempts with S within a 2**43 margin of the unit circle (or of r2 = 0) are re-decided exactly in
# float64: ~1e-5 of them.
_R2_SCALE = np.float32(2.0**62)
_R2_MARGIN = np.float32(2.0**43)


def _accepted_attempts(words: np.ndarray) -> np.ndarray:
    """``accepted[i]``: would a Box-Muller attempt reading words i..i+3 be accepted? Shape (M - 3,)."""
    f = words.astype(np.float32)
    f -= np.float32(2.0**31)
    f *= f
    s = f[:-3] + f[2:-1]
    accepted = s < _R2_SCALE - _R2_MARGIN
    unsure = np.flatnonzero((accepted != (s < _R2_SCALE + _R2_MARGIN)) | (s < _R2_MARGIN))
    if unsure.size:
        x1 = 2.0 * _doubles_at(words, unsure) - 1.0
        x2 = 2.0 * _doubles_at(words, unsure + 2) - 1.0
        r2 = x1 * x1 + x2 * x2
        accepted[unsure] = (r2 < 1.0) & (r2 != 0.0)
    return accepted


class _Block:
    """Lookup tables over one block of raw words (see the module docstring).

    Attempts are laid out class-major: attempt ``g = r * K + j`` is the one reading words ``4 j + r ...``.
    ``accepted[a]`` lists the accepted attempts in that order, and the number of accepted attempts before g
    (its rank) is ``coarse[g >> 6]`` plus the set bits of ``bits[g >> 6]`` below bit ``g & 63``, so the L
    pairs of an example whose first attempt is g are ``accepted[rank : rank + L]``. (A bit-packed rank is
    ~10x cheaper to build than a full cumulative count, and the walk needs only one rank per example.)
    """

    def __init__(self, words: np.ndarray):
        self.words = words
        self.size = len(words)
        attempts = _accepted_attempts(words)
        self.per_class = k = len(attempts) // 4
        class_major = np.ascontiguousarray(attempts[: 4 * k].reshape(k, 4).T).reshape(-1)
        self.accepted = np.flatnonzero(class_major)
        packed = np.packbits(class_major, bitorder="little")
        packed = np.concatenate([packed, np.zeros(-len(packed) % 8, dtype=np.uint8)])
        self.bits = packed.view("<u8")
        self.coarse = np.zeros(len(self.bits) + 1, dtype=np.int64)
        np.cumsum(np.bitwise_count(self.bits), out=self.coarse[1:])

    def ranks(self, g: np.ndarray) -> np.ndarray:
        """Accepted attempts before each class-major attempt index in `g` (vectorised)."""
        return np.searchsorted(self.accepted, g)


def _walk(block: _Block, start: int, stop: int, todo: int, length: int, translation_rng: int):
    """Find the word positions of up to `todo` examples in `block` that start in [start, stop).

    Returns (starts, choice_pos, end): per example the word of its first draw and the word just before its
    Box-Muller attempts (where its ``choice`` accepted, or its first attempt's word minus one when
    ``choice`` draws nothing); and the word where the next example starts. Stops early if an example would
    run past the end of the block (the caller then extends the block). Only these two positions are kept
    per example: `_gather` recomputes the rest with whole-array arithmetic, so this Python loop (which holds
    the GIL the worker threads need) stays short.
    """
    starts, choice_pos = [], []
    m, k = block.size, block.per_class
    words, accepted, bits, coarse = block.words, block.accepted, block.bits, block.coarse
    num_accepted = len(accepted)
    mask = _mask_for(translation_rng)
    p = start
    while len(starts) < todo and p < stop:
        q = p + 4  # two rand() draws of two words each
        if translation_rng > 0:
            while q < m and words.item(q) & mask > translation_rng:
                q += 1
            g = q + 1
        else:
            g = q  # randint(0, 1) consumes nothing
            q = g - 1
        r, j = g & 3, g >> 2
        if j >= k:
            break
        cm = r * k + j
        rank = coarse.item(cm >> 6) + (bits.item(cm >> 6) & ((1 << (cm & 63)) - 1)).bit_count()
        if rank + length > num_accepted:
            break
        last = accepted.item(rank + length - 1)
        if last >= (r + 1) * k:  # the class ran out of attempts in this block
            break
        s = 4 * (last - r * k + 1) + r
        if s + 2 > m:
            break
        starts.append(p)
        choice_pos.append(q)
        p = s + 2
    return starts, choice_pos, p


def _gather(block: _Block, walked, length: int, translation_rng: int) -> ExampleDraws:
    """Turn the walk's word positions into the examples' random numbers (all vectorised)."""
    starts, choice_pos, _ = walked
    words, k = block.words, block.per_class
    starts = np.asarray(starts, dtype=np.int64)
    choice_pos = np.asarray(choice_pos, dtype=np.int64)
    if translation_rng > 0:
        shift = (words[choice_pos] & _mask_for(translation_rng)).astype(np.int64)
    else:
        shift = np.zeros(len(starts), dtype=np.int64)
    # The walk's arithmetic again, on all examples at once: first attempt g (class r, index j), its rank,
    # the L accepted attempts from there, and the shear draw right after the last of them.
    g = choice_pos + 1
    classes, j = g & 3, g >> 2
    ranks = block.ranks(classes * k + j)
    # Word positions of every example's L accepted Box-Muller attempts, (n, L): attempt c = r K + j of the
    # class-major layout reads words from 4 j + r = 4 c - r (4 K - 1).
    attempt = 4 * block.accepted[ranks[:, None] + np.arange(length)]
    attempt -= (classes * (4 * k - 1))[:, None]
    shear_pos = attempt[:, -1] + 4
    x1, x2 = _unit_interval_pm1(words, attempt), _unit_interval_pm1(words, attempt + 2)
    r2 = x1 * x1
    r2 += x2 * x2
    f = np.log(r2)
    f *= -2.0
    f /= r2
    np.sqrt(f, out=f)
    # Each attempt returns f * x2 first and caches f * x1 for the next call.
    normals = np.empty((len(starts), length, 2))
    np.multiply(f, x2, out=normals[..., 0])
    np.multiply(f, x1, out=normals[..., 1])
    normals = normals.reshape(len(starts), 2, length)
    return ExampleDraws(
        pad_u=_doubles_at(words, starts),
        scale_u=_doubles_at(words, starts + 2),
        shift=shift,
        normals=normals,
        shear_u=_doubles_at(words, shear_pos),
    )


class _WordStream:
    """The raw words of a `RandomState`, handed out as overlapping windows.

    Window k holds words ``[k W, (k + 1) W + V)``: examples *starting* in its first W words are walked in it,
    and the overlap V lets the last of them finish. Words are drawn in order; the state before each draw is
    kept so the `RandomState` can be rewound to any word at the end.
    """

    def __init__(self, rs: np.random.RandomState, window: int, overlap: int):
        self.rs, self.window = rs, window
        self.saved = [(0, rs.get_state())]
        self.tail = self._draw(overlap)
        self.drawn = overlap

    def _draw(self, size: int) -> np.ndarray:
        # randint over the full uint32 range returns the raw Mersenne-Twister words, one word each.
        return self.rs.randint(0, 2**32, size=size, dtype=np.uint32)

    def next_window(self) -> np.ndarray:
        self.saved.append((self.drawn, self.rs.get_state()))
        words = np.concatenate([self.tail, self._draw(self.window)])
        self.drawn += self.window
        self.tail = words[self.window :]
        return words

    def rewind_to(self, position: int) -> None:
        """Leave the `RandomState` at absolute word `position` (<= words drawn so far)."""
        origin, state = max((s for s in self.saved if s[0] <= position), key=lambda s: s[0])
        self.rs.set_state(state)
        if position > origin:
            self._draw(position - origin)


def _ready(produced: Future) -> tuple[np.ndarray, _Block]:
    """Wait for a window's words and then for its tables."""
    words, block = produced.result()
    return words, block.result()


def map_example_draws(
    rs: np.random.RandomState,
    num_examples: int,
    length: int,
    max_translation: int,
    fn: Callable[[ExampleDraws, int], T],
    workers: int = 2,
) -> list[T]:
    """Make the draws of `num_examples` examples exactly as the original loop would, and map `fn` over them.

    Three kinds of work overlap (NumPy releases the GIL): one thread draws the word windows ahead and builds
    their tables, this thread walks the stream, and `workers` threads gather each block's numbers and run
    ``fn(draws, first_example_index)`` on them. Results are returned in order.

    Args:
      rs: the stream to read. On return it stands exactly where the original loop would have left it.
      num_examples: how many examples.
      length: the working length L (each ``randn`` call draws L normals).
      max_translation: T of ``choice(T)``.
      fn: what to compute from each block of draws.
      workers: threads for gathering and `fn`.
    """
    if rs.get_state(legacy=False)["has_gauss"]:
        raise ValueError("the legacy stream has a cached normal; the generator must start without one")
    rng = max_translation - 1
    words_per_example = 6 + 4 * length / (np.pi / 4) + (_mask_for(rng) + 1) / max_translation
    window = 4 * max(1, int(_EXAMPLES_PER_BLOCK * words_per_example / 4))  # multiple of 4: keeps residue classes
    overlap = 4 * int(max(_MIN_OVERLAP, _OVERLAP_EXAMPLES * words_per_example) / 4)
    stream = _WordStream(rs, window, overlap)

    def produce():  # runs on the single producer thread, so windows are drawn in stream order
        words = stream.next_window()
        # The tables are built on the worker pool: drawing is the only part that must stay in stream order.
        return words, pool.submit(_Block, words)

    def consume(block, walked, first):
        return fn(_gather(block, walked, length, rng), first)

    results = []
    with ThreadPoolExecutor(max_workers=1) as producer, ThreadPoolExecutor(max_workers=workers) as pool:
        ahead: deque = deque(producer.submit(produce) for _ in range(3))
        base, p, done = 0, 0, 0  # base: absolute word of the current window's first word
        words, block = _ready(ahead.popleft())
        stop = window
        while True:
            walked = _walk(block, p, stop, num_examples - done, length, rng)
            if walked[0]:
                results.append(pool.submit(consume, block, walked, done))
                done += len(walked[0])
            p = walked[-1]
            if done == num_examples:
                break
            if not ahead:
                ahead.append(producer.submit(produce))
            if p < stop:
                # An example starting in this window runs past its overlap (very rare): merge the next window in.
                more, _ = ahead.popleft().result()
                words = np.concatenate([words[:stop], more])
                block, stop = _Block(words), stop + window
                continue
            ahead.append(producer.submit(produce))
            words, block = _ready(ahead.popleft())
            base, p, stop = base + stop, p - stop, window
        for future in ahead:  # let the producer finish before rewinding the stream it draws from
            future.cancel()
        producer.shutdown(wait=True)
        stream.rewind_to(base + p)
        return [r.result() for r in results]


def draw_examples(rs: np.random.RandomState, num_examples: int, length: int, max_translation: int) -> ExampleDraws:
    """All draws of `num_examples` examples in one `ExampleDraws` (see `map_example_draws`)."""
    blocks = map_example_draws(rs, num_examples, length, max_translation, lambda draws, _: draws)
    fields = ("pad_u", "scale_u", "shift", "normals", "shear_u")
    return ExampleDraws(**{f: np.concatenate([getattr(b, f) for b in blocks]) for f in fields})
