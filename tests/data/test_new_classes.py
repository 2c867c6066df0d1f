"""New classes: template draws and banks (shapes, determinism, range, disjointness) and few-shot tasks."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnist1d_jax.data import new_classes as nc
from mnist1d_jax.data.sampler import render, sample
from mnist1d_jax.data.templates import get_templates


@pytest.fixture(scope="module")
def bank():
    return nc.template_bank(3, 30, 10, 12)


def test_draws_are_normalised_like_the_digits_and_keyed():
    x = nc.draw_templates(jax.random.key(0), 64)
    assert x.shape == (64, 12) and x.dtype == jnp.float32
    np.testing.assert_allclose(np.asarray(x)[:, [0, -1]], 0.0, atol=1e-7)  # both ends at zero, as every digit
    np.testing.assert_allclose(np.asarray(x).std(axis=1), 1 / 6, rtol=1e-4)  # the digits' spread
    np.testing.assert_array_equal(x, nc.draw_templates(jax.random.key(0), 64))
    assert not np.array_equal(x, nc.draw_templates(jax.random.key(1), 64))
    both = jax.vmap(lambda k: nc.draw_templates(k, 4))(jax.random.split(jax.random.key(2), 2))
    assert both.shape == (2, 4, 12)


def test_bank_shapes_range_and_determinism(bank):
    assert bank.train.shape == (30, 12) and bank.val.shape == (10, 12) and bank.test.shape == (12, 12)
    assert bank.train.dtype == np.float32
    limit = np.abs(get_templates().x).max()
    for part in (bank.train, bank.val, bank.test):
        assert np.abs(part).max() <= limit + 1e-6
    again = nc.template_bank(3, 30, 10, 12)
    for a, b in zip(bank[:3], again[:3], strict=True):
        np.testing.assert_array_equal(a, b)
    other = nc.template_bank(4, 30, 10, 12)
    assert not np.array_equal(bank.test, other.test)


def test_banks_are_disjoint_from_each_other_and_from_the_digits(bank):
    spacing = nc.digit_spacing()
    assert spacing == pytest.approx(0.0892, abs=1e-3) and bank.min_distance == pytest.approx(spacing / 2)
    every = np.concatenate([get_templates().x, bank.train, bank.val, bank.test])
    d = nc.template_distance(every, every)
    np.fill_diagonal(d, np.inf)
    assert d[10:].min() >= bank.min_distance - 1e-6  # new vs new and new vs digits
    np.testing.assert_allclose(nc.template_distance(bank.test, bank.test).diagonal(), 0.0, atol=1e-7)


def test_distance_forgives_small_shifts_only():
    t = get_templates().x[[0]]
    one = np.concatenate([[[0.0]], t[:, :-1]], axis=1)  # one point later (the last point is zero: nothing lost)
    assert nc.template_distance(one, t)[0, 0] < 1e-12 and nc.template_distance(t, one)[0, 0] < 1e-12
    far = np.concatenate([np.zeros((1, 3)), t[:, :-3]], axis=1)  # three points later: beyond MAX_SHIFT
    assert nc.template_distance(far, t)[0, 0] > 0.05
    assert nc.template_distance(-t, t)[0, 0] > 0.3  # a mirrored curve is another class


def test_render_of_the_digits_is_the_sampler():
    x, y = sample(jax.random.key(5), 32)
    np.testing.assert_array_equal(x, jax.jit(lambda k, y: render(k, get_templates().x, y))(jax.random.key(5), y))
    np.testing.assert_allclose(x, render(jax.random.key(5), get_templates().x, y), atol=1e-6)  # eager: up to rounding


def test_tasks_of_new_classes(bank):
    draw = jax.jit(jax.vmap(lambda k: nc.sample_task(k, jnp.asarray(bank.test), 5, 2, 3)))
    tasks = draw(jax.random.split(jax.random.key(0), 4))
    assert tasks.support_x.shape == (4, 10, 40) and tasks.query_x.shape == (4, 15, 40)
    np.testing.assert_array_equal(tasks.support_y[0], np.repeat(np.arange(5), 2))
    np.testing.assert_array_equal(tasks.query_y[0], np.repeat(np.arange(5), 3))
    assert all(len(set(c.tolist())) == 5 for c in np.asarray(tasks.classes))  # N distinct classes
    again = draw(jax.random.split(jax.random.key(0), 4))
    np.testing.assert_array_equal(tasks.query_x, again.query_x)
    assert abs(float(tasks.query_x.std()) - 1.0) < 0.5  # the digits' scale


def test_tasks_of_digits_take_distinct_rows_of_the_drawn_digits():
    y = np.repeat(np.arange(10), 8)
    x = np.tile(np.arange(80, dtype=np.float32)[:, None], (1, 40))  # row i holds the value i
    task = jax.jit(lambda k: nc.sample_real_task(k, x, y, 5, 3, 4))(jax.random.key(1))
    rows = np.concatenate([np.asarray(task.support_x)[:, 0], np.asarray(task.query_x)[:, 0]]).astype(int)
    labels = np.concatenate([task.support_y, task.query_y])
    assert len(set(rows.tolist())) == rows.size
    np.testing.assert_array_equal(y[rows], np.asarray(task.classes)[labels])
    nc.check_real_rows(y, 3, 5)
    with pytest.raises(ValueError, match="fewer than K"):
        nc.check_real_rows(y, 3, 6)


def test_a_full_bank_says_so():
    with pytest.raises(ValueError, match="ask for fewer"):
        nc.template_bank(0, 50, 0, 0, min_distance=0.5, max_candidates=4096)
