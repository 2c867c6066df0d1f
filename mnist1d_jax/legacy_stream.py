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
* the next accepted ``choice`` word after any position is a reverse running minimum.

The numbers are then gathered from the word block in one go. The legacy stream is frozen across NumPy
versions, so this reproduces the original generator exactly (to the last bit except for NumPy's vectorised
``log``, which differs from the C library's ``log`` used by ``randn`` in the last bit for ~0.4 % of inputs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_TWO_POW_53 = 9007199254740992.0
_TWO_POW_26 = 67108864.0
# How many examples' worth of words to draw at a time: ~400k words, so the tables stay in the CPU cache.
_EXAMPLES_PER_BLOCK = 1024


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


def _doubles_at(words: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """The legacy 53-bit double made of words ``idx`` and ``idx + 1`` (any shape of indices)."""
    hi = (words[idx] >> 5).astype(np.float64)
    lo = (words[idx + 1] >> 6).astype(np.float64)
    return (hi * _TWO_POW_26 + lo) / _TWO_POW_53


# Box-Muller acceptance, decided first from the top 24 bits of each word in float32. With x = 2 d - 1 and
# A = (word >> 8) - 2**23 we have 2**23 x = A + beta, beta in [0, 1), so 2**46 r2 differs from
# S = A1**2 + A2**2 (float32) by at most 2 (|A1| + |A2|) + 2 + rounding < 2**26. Only attempts with S within
# that margin of the unit circle (or of r2 = 0) are re-decided exactly in float64: ~2e-6 of them.
_R2_SCALE = np.float32(2.0**46)
_R2_MARGIN = np.float32(2.0**26)


def _accepted_attempts(words: np.ndarray) -> np.ndarray:
    """``accepted[i]``: would a Box-Muller attempt reading words i..i+3 be accepted? Shape (M - 3,)."""
    f = (words >> 8).astype(np.float32)
    f -= np.float32(2.0**23)
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
    """Lookup tables over one block of raw words (see the module docstring)."""

    def __init__(self, words: np.ndarray):
        self.words = words
        self.size = len(words)
        accepted = _accepted_attempts(words)
        # Per residue class r: the accepted attempts (in class coordinates j, word 4j + r) and, for every j,
        # how many accepted attempts precede it (the rank of the first accepted attempt at or after j).
        self.accepted_by_class = []
        self.rank_by_class = []
        for r in range(4):
            acc = accepted[r::4]
            self.accepted_by_class.append(np.flatnonzero(acc))
            rank = np.zeros(len(acc) + 1, dtype=np.int32)
            np.cumsum(acc, dtype=np.int32, out=rank[1:])
            self.rank_by_class.append(rank)


def _walk(block: _Block, todo: int, length: int, translation_rng: int):
    """Find the word positions of up to `todo` examples in `block`, starting at word 0.

    Returns (starts, choice_pos, classes, ranks, shear_pos, end): per example the word of its first draw,
    the word its ``choice`` accepted, its Box-Muller residue class and rank of its first pair, the word of
    its shear draw; and the word after the last complete example. Stops early when the block runs out.
    """
    starts, choice_pos, classes, ranks, shear_pos = [], [], [], [], []
    m = block.size
    words = block.words
    mask = _mask_for(translation_rng)
    acc_lists = block.accepted_by_class
    rank_tables = block.rank_by_class
    acc_lens = [len(a) for a in acc_lists]
    rank_lens = [len(t) for t in rank_tables]
    p = 0
    for _ in range(todo):
        q = p + 4  # two rand() draws of two words each
        if translation_rng > 0:
            while q < m and words.item(q) & mask > translation_rng:
                q += 1
            g = q + 1
        else:
            g = q  # randint(0, 1) consumes nothing
        r, j = g & 3, g >> 2
        if j >= rank_lens[r]:
            break
        rank = rank_tables[r].item(j)
        if rank + length > acc_lens[r]:
            break
        s = 4 * (acc_lists[r].item(rank + length - 1) + 1) + r
        if s + 2 > m:
            break
        starts.append(p)
        choice_pos.append(q)
        classes.append(r)
        ranks.append(rank)
        shear_pos.append(s)
        p = s + 2
    return starts, choice_pos, classes, ranks, shear_pos, p


def _gather(block: _Block, walked, length: int, translation_rng: int) -> ExampleDraws:
    """Turn the walk's word positions into the examples' random numbers (all vectorised)."""
    starts, choice_pos, classes, ranks, shear_pos, _ = walked
    words = block.words
    starts = np.asarray(starts, dtype=np.int64)
    n = len(starts)
    if translation_rng > 0:
        shift = (words[np.asarray(choice_pos, dtype=np.int64)] & _mask_for(translation_rng)).astype(np.int64)
    else:
        shift = np.zeros(n, dtype=np.int64)
    classes = np.asarray(classes, dtype=np.int64)
    ranks = np.asarray(ranks, dtype=np.int64)
    # Word positions of every example's L accepted Box-Muller attempts, (n, L).
    offsets = np.cumsum([0] + [len(a) for a in block.accepted_by_class])
    flat_accepted = np.concatenate(block.accepted_by_class)
    idx = (offsets[classes] + ranks)[:, None] + np.arange(length)
    attempt = 4 * flat_accepted[idx] + classes[:, None]
    x1 = 2.0 * _doubles_at(words, attempt) - 1.0
    x2 = 2.0 * _doubles_at(words, attempt + 2) - 1.0
    r2 = x1 * x1 + x2 * x2
    f = np.sqrt(-2.0 * np.log(r2) / r2)
    # Each attempt returns f * x2 first and caches f * x1 for the next call.
    normals = np.stack([f * x2, f * x1], axis=-1).reshape(n, 2, length)
    return ExampleDraws(
        pad_u=_doubles_at(words, starts),
        scale_u=_doubles_at(words, starts + 2),
        shift=shift,
        normals=normals,
        shear_u=_doubles_at(words, np.asarray(shear_pos, dtype=np.int64)),
    )


def draw_examples(
    rs: np.random.RandomState, num_examples: int, length: int, max_translation: int
) -> ExampleDraws:
    """Make the draws of `num_examples` examples exactly as the original's per-example loop would.

    Args:
      rs: the stream to read; it is left exactly where the original loop leaves it.
      num_examples: how many examples.
      length: the working length L (each ``randn`` call draws L normals).
      max_translation: T of ``choice(T)``.
    """
    if rs.get_state(legacy=False)["has_gauss"]:
        raise ValueError("draw_examples needs a stream with no cached normal (has_gauss = 0)")
    rng = max_translation - 1
    words_per_example = 6 + 4 * length / (np.pi / 4) + (_mask_for(rng) + 1) / max_translation
    leftover = np.empty(0, dtype=np.uint32)
    # MT state before the words that start at `leftover`: the position to rewind `rs` to at the end.
    leftover_state, leftover_skip = rs.get_state(), 0
    parts = []
    done = 0
    while done < num_examples:
        todo = min(num_examples - done, _EXAMPLES_PER_BLOCK)
        state_before = rs.get_state()
        # randint over the full uint32 range returns the raw Mersenne-Twister words, one word each.
        new = rs.randint(0, 2**32, size=int(todo * words_per_example * 1.02) + 64, dtype=np.uint32)
        words = np.concatenate([leftover, new])
        block = _Block(words)
        walked = _walk(block, todo, length, rng)
        if walked[0]:
            parts.append(_gather(block, walked, length, rng))
            done += len(walked[0])
        end = walked[-1]
        if end >= len(leftover):  # the next block starts inside the words drawn just now
            leftover_state, leftover_skip = state_before, end - len(leftover)
        else:
            leftover_skip += end
        leftover = words[end:]
    # Rewind `rs` to the first word not consumed by the examples.
    rs.set_state(leftover_state)
    if leftover_skip:
        rs.randint(0, 2**32, size=leftover_skip, dtype=np.uint32)
    return ExampleDraws(*(np.concatenate(field) for field in zip(*(_fields(p) for p in parts), strict=True)))


def _fields(draws: ExampleDraws):
    return draws.pad_u, draws.scale_u, draws.shift, draws.normals, draws.shear_u
