"""The store of partial results: round trips, tags, nothing kept without a folder, damaged files healed."""

import numpy as np
import pytest

from mnist1d_jax.runtime.store import Store, StoreWarning


def test_round_trip_of_nested_values_and_tags(tmp_path):
    store = Store(tmp_path / "state")
    value = {"a": np.arange(6.0).reshape(2, 3), "list": [np.ones(2), 3, "x", None], "t": (1.5, {"k": np.int32(7)})}
    store.put("cell_1", {"config": (1, 2)}, value)
    back = store.get("cell_1", {"config": [1, 2]})  # tags compare as JSON: a tuple equals a list
    np.testing.assert_array_equal(back["a"], value["a"])
    assert back["list"][1:] == [3, "x", None] and back["t"][0] == 1.5 and int(back["t"][1]["k"]) == 7
    assert store.get("cell_1", {"config": [1, 3]}) is None  # another tag: not reused
    assert store.get("missing", {}) is None and store.keys() == ["cell_1"]


def test_nothing_is_kept_without_a_folder():
    store = Store(None)
    store.put("k", 1, {"a": 1})
    assert store.get("k", 1) is None and store.keys() == []


@pytest.mark.parametrize("damage", [b"", b"not a zip at all", "truncate"])
def test_a_damaged_file_is_moved_aside_and_recomputed(tmp_path, damage):
    store = Store(tmp_path)
    store.put("k", 1, {"a": np.arange(1000)})
    path = tmp_path / "k.npz"
    path.write_bytes(path.read_bytes()[:200] if damage == "truncate" else damage)
    with pytest.warns(StoreWarning, match="k.npz could not be read.*moved aside to k.npz.damaged"):
        assert store.get("k", 1) is None
    assert (tmp_path / "k.npz.damaged").exists() and not path.exists()
    store.put("k", 1, {"a": np.arange(3)})
    np.testing.assert_array_equal(store.get("k", 1)["a"], np.arange(3))


def test_keys_must_be_plain_names(tmp_path):
    with pytest.raises(ValueError, match="plain file name"):
        Store(tmp_path).put("../x", 1, {})
