"""Batch schedules: the harness's sequential order, per-epoch permutations, pre-drawn batches."""

import jax
import jax.numpy as jnp
import numpy as np

from mnist1d_jax.core.schedules import EpochShuffle, PreDrawn, Sequential, epochs_needed, stack_batches

X = jnp.arange(50.0)[:, None] * jnp.ones((1, 3))
Y = jnp.arange(50)


def idx_of(batch):
    return np.asarray(batch[1])


def test_sequential_order_and_wrap():
    contiguous = Sequential(X, Y, 10)
    np.testing.assert_array_equal(idx_of(contiguous.next((), 7)[0]), np.arange(20, 30))  # (7 * 10) mod 50
    wrapping = Sequential(X, Y, 20)  # 50 is not a multiple of 20: the batch crossing the end wraps
    np.testing.assert_array_equal(idx_of(wrapping.next((), 2)[0]), np.r_[40:50, 0:10])
    xs, ys = stack_batches(wrapping, 4)
    assert xs.shape == (4, 20, 3) and np.array_equal(np.asarray(ys[2]), np.r_[40:50, 0:10])


def test_sequential_over_leading_rows_of_padded_arrays():
    """``rows`` (traced under vmap) gives the unpadded schedule's batches from arrays padded to one shape."""
    padded_x, padded_y = jnp.concatenate([X, jnp.zeros((30, 3))]), jnp.concatenate([Y, -jnp.ones(30, Y.dtype)])
    for b in (10, 20):
        plain = Sequential(X, Y, b)
        for s in (0, 2, 7, 13):
            got = jax.jit(lambda r, s=s, b=b: Sequential(padded_x, padded_y, b, rows=r).next((), s)[0])(50)
            want = plain.next((), s)[0]
            np.testing.assert_array_equal(got[0], want[0])
            np.testing.assert_array_equal(got[1], want[1])
    sizes = jnp.array([20, 50])  # two training sets in one vmapped call
    ys = jax.vmap(lambda r: Sequential(padded_x, padded_y, 10, rows=r).next((), 3)[0][1])(sizes)
    np.testing.assert_array_equal(ys, np.stack([np.r_[10:20], np.r_[30:40]]))


def test_epoch_shuffle_draws_a_permutation_per_epoch_from_its_key():
    keys = jax.random.split(jax.random.key(0), 3)
    sched = EpochShuffle(X, Y, 20, keys)  # 2 batches per epoch, the last 10 examples dropped each epoch

    def run(steps):
        state, seen = sched.init(), []
        for s in range(steps):
            batch, key, state = jax.jit(sched.next)(state, s)
            assert key is None
            seen.append(idx_of(batch))
        return seen

    seen = run(6)
    for e in range(3):
        epoch = np.concatenate(seen[2 * e: 2 * e + 2])
        np.testing.assert_array_equal(epoch, np.asarray(jax.random.permutation(keys[e], 50))[:40])
        assert len(set(epoch.tolist())) == 40
    assert not np.array_equal(seen[0], seen[2])
    assert epochs_needed(6, 50, 20) == 4


def test_epoch_shuffle_with_step_keys_and_predrawn():
    keys = jax.random.split(jax.random.key(1), 2)
    sched = EpochShuffle(X, Y, 25, keys, step_keys=True)
    state = sched.init()
    _, k0, state = sched.next(state, 0)
    _, k1, state = sched.next(state, 1)
    _, k2, _ = sched.next(state, 2)
    perm_key, steps_key = jax.random.split(keys[0])
    np.testing.assert_array_equal(jax.random.key_data(k1), jax.random.key_data(jax.random.split(steps_key, 2)[1]))
    assert not np.array_equal(jax.random.key_data(k0), jax.random.key_data(k2))
    pre = PreDrawn(X.reshape(5, 10, 3), Y.reshape(5, 10))
    np.testing.assert_array_equal(idx_of(pre.next((), 3)[0]), np.arange(30, 40))
