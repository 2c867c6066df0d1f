"""Safe files: round trip, hash, atomic writes, clear errors for bad files, the cache."""

import json
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mnist1d_jax import DatasetConfig, make_dataset
from mnist1d_jax.data import io as dio


@pytest.fixture(scope="module")
def small():
    return make_dataset(DatasetConfig(num_samples=200, shuffle_seq=True))


def test_round_trip(small, tmp_path):
    path = dio.save_dataset(small, tmp_path / "d.npz")
    back = dio.load_dataset(path)
    assert back.config == small.config
    for key, value in small.arrays().items():
        np.testing.assert_array_equal(back.arrays()[key], value)
    assert back.raw_std == small.raw_std and back.raw_mean == small.raw_mean
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]  # no temporary file left behind


def test_files_hold_no_pickles(small, tmp_path):
    path = dio.save_dataset(small, tmp_path / "d.npz")
    with np.load(path, allow_pickle=False) as npz:  # would raise on any object array
        assert all(npz[k].dtype != object for k in npz.files)


def test_truncated_file_names_the_file(small, tmp_path):
    path = dio.save_dataset(small, tmp_path / "d.npz")
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(dio.DatasetFileError, match=str(path)):
        dio.load_dataset(path)


def test_foreign_npz_is_refused(tmp_path):
    path = tmp_path / "foreign.npz"
    np.savez(path, x=np.zeros(3))
    with pytest.raises(dio.DatasetFileError, match="not written by save_dataset"):
        dio.load_dataset(path)


def saved_contents(dataset, path):
    """Save `dataset` and read the raw archive back as a dict, to tamper with."""
    dio.save_dataset(dataset, path)
    with np.load(path) as npz:
        return {k: npz[k] for k in npz.files}


def test_tampered_array_fails_the_hash(small, tmp_path):
    path = tmp_path / "d.npz"
    contents = saved_contents(small, path)
    contents["x"] = contents["x"].copy()
    contents["x"][0, 0] += 1e-9
    np.savez(path, **contents)
    with pytest.raises(dio.DatasetFileError, match="SHA-256"):
        dio.load_dataset(path)


def test_other_format_version_and_bad_header(small, tmp_path):
    path = tmp_path / "d.npz"
    contents = saved_contents(small, path)
    header = json.loads(str(contents["__header__"]))
    contents["__header__"] = np.array(json.dumps(header | {"format_version": 99}))
    np.savez(path, **contents)
    with pytest.raises(dio.DatasetFileError, match="format version 99"):
        dio.load_dataset(path)
    contents["__header__"] = np.array("{not json")
    np.savez(path, **contents)
    with pytest.raises(dio.DatasetFileError, match="not valid JSON"):
        dio.load_dataset(path)


def test_missing_file():
    with pytest.raises(FileNotFoundError):
        dio.load_dataset("/nonexistent/d.npz")


def test_a_crash_mid_write_keeps_the_old_file(small, tmp_path, monkeypatch):
    path = dio.save_dataset(small, tmp_path / "d.npz")
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(KeyboardInterrupt):
        dio.save_dataset(small, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.npz"]


def test_cache_generates_once_then_reads(tmp_path):
    config = DatasetConfig(num_samples=100)
    first = dio.get_dataset(config)
    path = dio.cache_path(config)
    assert path.exists() and path.parent == tmp_path / "cache"
    mtime = path.stat().st_mtime_ns
    second = dio.get_dataset(config)
    assert path.stat().st_mtime_ns == mtime
    np.testing.assert_array_equal(first.x, second.x)


def test_corrupt_cache_file_is_regenerated_with_a_warning():
    config = DatasetConfig(num_samples=100)
    dio.get_dataset(config)
    path = dio.cache_path(config)
    path.write_bytes(b"garbage")
    with pytest.warns(dio.CacheWarning, match=str(path)):
        again = dio.get_dataset(config)
    np.testing.assert_array_equal(again.x, make_dataset(config).x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        dio.get_dataset(config)  # the regenerated file is fine: no second warning
    assert zipfile.is_zipfile(path)


def test_cache_file_of_another_config_is_regenerated(small):
    config = DatasetConfig(num_samples=100)
    dio.save_dataset(small, dio.cache_path(config))
    with pytest.warns(dio.CacheWarning, match="another config"):
        assert dio.get_dataset(config).config == config


def test_an_edited_header_fails_the_hash_and_a_bad_statistic_names_the_file(small, tmp_path):
    path = tmp_path / "d.npz"
    contents = saved_contents(small, path)
    header = json.loads(str(contents["__header__"]))
    edited = dict(header, config=dict(header["config"], seed=7))  # the arrays unchanged, the header edited
    contents["__header__"] = np.array(json.dumps(edited))
    np.savez(path, **contents)
    with pytest.raises(dio.DatasetFileError, match="SHA-256 of the arrays and the header"):
        dio.load_dataset(path)
    bad = dict(header, raw_mean="not a number")
    bad["sha256"] = dio._file_sha256({k: v for k, v in contents.items() if k != "__header__"}, bad)
    contents["__header__"] = np.array(json.dumps(bad))
    np.savez(path, **contents)
    with pytest.raises(dio.DatasetFileError, match=r"d\.npz: the stored config or statistics are invalid"):
        dio.load_dataset(path)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_way_of_breaking_the_zip_is_a_dataset_file_error(small, tmp_path, data):
    """Any flipped bit or cut anywhere in the file: either a DatasetFileError naming the file, or (a byte the zip
    never reads) the very same dataset."""
    path = tmp_path / "d.npz"
    dio.save_dataset(small, path)
    raw = bytearray(path.read_bytes())
    if data.draw(st.booleans()):
        raw = raw[: data.draw(st.integers(0, len(raw) - 1))]
    else:
        for _ in range(data.draw(st.integers(1, 3))):
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] ^= 1 << data.draw(st.integers(0, 7))
    broken = tmp_path / "broken.npz"
    broken.write_bytes(bytes(raw))
    try:
        loaded = dio.load_dataset(broken)
    except dio.DatasetFileError as err:
        assert "broken.npz" in str(err)
    else:
        np.testing.assert_array_equal(loaded.x, small.x)
        assert loaded.config == small.config


def test_non_finite_data_is_refused_where_written_and_where_read(small, tmp_path, monkeypatch, capsys):
    import dataclasses

    from mnist1d_jax.cli import main

    x = small.x.copy()
    x[3, 7] = np.nan
    bad = dataclasses.replace(small, x=x)
    path = tmp_path / "nan.npz"
    with pytest.raises(ValueError, match=r"nan\.npz: not written: arrays \['x'\] hold NaN"):
        dio.save_dataset(bad, path)
    assert not path.exists()
    with monkeypatch.context() as m:  # a file written by something that did not check: its hash is right
        m.setattr(dio, "_non_finite", lambda arrays: [])
        dio.save_dataset(bad, path)
    with pytest.raises(dio.DatasetFileError, match=r"nan\.npz: arrays \['x'\] hold NaN or infinite values"):
        dio.load_dataset(path)
    assert main(["figure", "--data", str(path), "-o", str(tmp_path / "f.png")]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nan.npz: arrays ['x'] hold NaN" in err
    assert not (tmp_path / "f.png").exists() and not (tmp_path / "f.json").exists()
