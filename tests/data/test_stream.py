"""write_dataset streams make_dataset's numbers to .npy files: same values, bounded memory, atomic, refusals."""

import json
import tracemalloc

import numpy as np
import pytest

from mnist1d_jax import DatasetConfig, make_dataset
from mnist1d_jax.cli import main
from mnist1d_jax.data import stream, stream_files
from mnist1d_jax.data.legacy_stream import ExampleDraws
from mnist1d_jax.data.stream import MANIFEST, StreamError, load_streamed, read_manifest, write_dataset


def _temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".mnist1d-stream."))


def _ulps_apart(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How many representable values of their dtype lie between a and b (both finite, same sign here)."""
    ints = {2: np.int16, 4: np.int32, 8: np.int64}[a.dtype.itemsize]
    return np.abs(a.view(ints).astype(np.int64) - b.view(ints).astype(np.int64))


# (num_samples, dtype, chunk, shuffle_seq): chunks that divide neither N nor num_train, one example per chunk,
# and one chunk larger than the dataset.
CASES = [
    (3_000, "float64", 700, False),
    (5_000, "float16", 1, True),
    (10_000, "float32", 4_096, True),
    (20_000, "float16", 1 << 15, False),
    (20_000, "float32", 3_001, False),
]


@pytest.mark.parametrize("n, dtype, chunk, shuffle", CASES)
def test_the_files_hold_make_datasets_numbers(tmp_path, n, dtype, chunk, shuffle):
    config = DatasetConfig(num_samples=n, shuffle_seq=shuffle, seed=n + 1)
    out = write_dataset(config, tmp_path / "d", dtype=dtype, chunk=chunk)
    ours, ref = load_streamed(out), make_dataset(config)
    for key in ("y", "y_test"):
        assert ours[key].dtype == np.int64
        np.testing.assert_array_equal(ours[key], getattr(ref, key))
    if shuffle:
        np.testing.assert_array_equal(ours["seq_permutation"], ref.seq_permutation)
    # t and, in float64, x: equal but for the rounding of the pooled mean and std (summed in another order).
    np.testing.assert_allclose(ours["t"], ref.t, rtol=0, atol=1e-12)
    manifest = read_manifest(out)
    assert manifest["raw_mean"] == pytest.approx(ref.raw_mean, rel=0, abs=1e-15)
    assert manifest["raw_std"] == pytest.approx(ref.raw_std, rel=1e-14)
    for key in ("x", "x_test"):
        expected = getattr(ref, key)
        assert ours[key].dtype == np.dtype(dtype) and ours[key].shape == expected.shape
        if dtype == "float64":
            np.testing.assert_allclose(ours[key], expected, rtol=0, atol=1e-12)
            continue
        # After the cast: make_dataset's values cast to the dtype, but for a value within ~1e-16 of a rounding
        # boundary, which may round to the neighbour (one ulp). Measured: 0 differing values in every case
        # here (5,000-20,000 examples x 40 values, float16 and float32), so any difference is a change.
        cast = expected.astype(dtype)
        differ = ours[key] != cast
        assert int(differ.sum()) == 0, f"{key}: {int(differ.sum())} of {differ.size} values differ"
        assert (_ulps_apart(np.asarray(ours[key]), cast) <= 1).all()


def test_the_manifest_describes_the_files(tmp_path):
    config = DatasetConfig(num_samples=3_000, shuffle_seq=True)
    out = write_dataset(config, tmp_path / "d", dtype="float32", chunk=1_000)
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest == read_manifest(out)
    assert manifest["format"] == stream.FORMAT and manifest["format_version"] == stream.FORMAT_VERSION
    assert DatasetConfig.from_dict(manifest["config"]) == config
    assert manifest["fingerprint"] == config.fingerprint() and manifest["package_version"]
    assert manifest["dtype"] == "float32" and manifest["chunk"] == 1_000
    assert manifest["files"] == {
        "x": {"file": "x.npy", "shape": [2_400, 40], "dtype": "float32"},
        "y": {"file": "y.npy", "shape": [2_400], "dtype": "int64"},
        "x_test": {"file": "x_test.npy", "shape": [600, 40], "dtype": "float32"},
        "y_test": {"file": "y_test.npy", "shape": [600], "dtype": "int64"},
        "t": {"file": "t.npy", "shape": [40], "dtype": "float64"},
        "seq_permutation": {"file": "seq_permutation.npy", "shape": [40], "dtype": "int64"},
    }
    assert set(manifest["seconds"]) == {"generate", "write", "total"} and manifest["seconds"]["total"] > 0
    assert manifest["raw_std"] > 0 and manifest["examples_per_second"] > 0
    assert sorted(p.name for p in out.iterdir()) == sorted([MANIFEST, *(f["file"] for f in manifest["files"].values())])


def test_the_arrays_load_as_read_only_memory_maps(tmp_path):
    out = write_dataset(DatasetConfig(num_samples=1_000), tmp_path / "d", chunk=300)
    arrays = load_streamed(out)
    assert set(arrays) == {"x", "y", "x_test", "y_test", "t"}
    for array in arrays.values():
        assert isinstance(array, np.memmap) and not array.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        arrays["x"][0, 0] = 1.0


def test_existing_output_is_refused_unless_overwrite(tmp_path):
    out = write_dataset(DatasetConfig(num_samples=1_000, shuffle_seq=True), tmp_path / "d", chunk=400)
    before = (out / "x.npy").read_bytes()
    with pytest.raises(StreamError, match="already holds a complete") as info:
        write_dataset(DatasetConfig(num_samples=1_000, seed=1), out)
    assert isinstance(info.value, ValueError) and "\n" not in str(info.value)
    assert (out / "x.npy").read_bytes() == before
    # Replaced: another config and dtype, and the old seq_permutation.npy is gone with the old dataset.
    write_dataset(DatasetConfig(num_samples=2_000, seed=1), out, dtype="float64", overwrite=True)
    arrays = load_streamed(out)
    assert arrays["x"].shape == (1_600, 40) and arrays["x"].dtype == np.float64
    assert not (out / "seq_permutation.npy").exists()
    np.testing.assert_array_equal(arrays["y"], make_dataset(DatasetConfig(num_samples=2_000, seed=1)).y)


def test_stray_output_files_without_a_manifest_are_refused(tmp_path):
    (tmp_path / "x.npy").write_bytes(b"someone's")
    with pytest.raises(StreamError, match="no manifest.json"):
        write_dataset(DatasetConfig(num_samples=100), tmp_path)
    assert (tmp_path / "x.npy").read_bytes() == b"someone's"
    write_dataset(DatasetConfig(num_samples=100), tmp_path, overwrite=True)
    assert load_streamed(tmp_path)["x"].shape == (80, 40)


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"dtype": "int8"}, "dtype 'int8' is not supported"),
        ({"dtype": "bfloat"}, "is not supported"),
        ({"dtype": np.complex64}, "is not supported"),
        ({"chunk": 0}, "chunk=0 is invalid"),
        ({"chunk": -5}, "chunk=-5 is invalid"),
        ({"chunk": 2.5}, "chunk=2.5 is invalid"),
        ({"chunk": True}, "chunk=True is invalid"),
    ],
)
def test_bad_arguments_are_refused_before_any_work(tmp_path, kwargs, fragment):
    with pytest.raises(StreamError, match=fragment):
        write_dataset(DatasetConfig(num_samples=100), tmp_path / "d", **kwargs)
    assert not (tmp_path / "d").exists()


def test_dtypes_are_accepted_as_names_or_numpy_types(tmp_path):
    write_dataset(DatasetConfig(num_samples=100), tmp_path / "d", dtype=np.float32)
    assert read_manifest(tmp_path / "d")["dtype"] == "float32"


def test_too_little_disk_space_is_refused_before_any_work(tmp_path, monkeypatch):
    config = DatasetConfig(num_samples=1_000)
    need = stream.estimated_disk_bytes(config, "float16")
    assert need >= 1_000 * 40 * (8 + 2)  # the temporary raw file and the outputs
    monkeypatch.setattr(stream_files.shutil, "disk_usage", lambda path: type("U", (), {"free": need - 1})())
    with pytest.raises(StreamError, match="free disk space"):
        write_dataset(config, tmp_path / "new" / "d")
    assert not (tmp_path / "new" / "d").exists()  # the folder it would have made is not left behind
    (tmp_path / "old").mkdir()
    with pytest.raises(StreamError, match="free disk space"):
        write_dataset(config, tmp_path / "old")
    assert list((tmp_path / "old").iterdir()) == []


def test_a_file_or_an_empty_path_is_refused(tmp_path):
    (tmp_path / "f").write_text("")
    with pytest.raises(StreamError, match="not a folder"):
        write_dataset(DatasetConfig(num_samples=100), tmp_path / "f")
    with pytest.raises(StreamError, match="empty path"):
        write_dataset(DatasetConfig(num_samples=100), "")


def test_a_second_writer_to_the_same_folder_is_refused(tmp_path):
    with stream_files.exclusive(tmp_path):
        with pytest.raises(StreamError, match="being written by another"):
            write_dataset(DatasetConfig(num_samples=100), tmp_path)
    write_dataset(DatasetConfig(num_samples=100), tmp_path)  # the lock is released and its file removed
    assert _temporaries(tmp_path) == []


@pytest.mark.parametrize("where", ["generate", "write"])
def test_an_interrupt_leaves_no_temporary_and_no_manifest(tmp_path, monkeypatch, where):
    calls = []

    def interrupted(*args, **kwargs):
        calls.append(1)
        if where == "write" or len(calls) == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    name = "_permuted_chunk" if where == "write" else "_transform_block"
    original = getattr(stream, name)
    monkeypatch.setattr(stream, name, interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_dataset(DatasetConfig(num_samples=10_000), tmp_path, chunk=1_000)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.undo()
    write_dataset(DatasetConfig(num_samples=100), tmp_path)  # and the folder is usable afterwards
    assert load_streamed(tmp_path)["y"].shape == (80,)


def test_an_error_while_overwriting_keeps_the_old_dataset_complete(tmp_path, monkeypatch):
    write_dataset(DatasetConfig(num_samples=100), tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    monkeypatch.setattr(stream, "_permuted_chunk", lambda *a, **k: (_ for _ in ()).throw(OSError("disk gone")))
    with pytest.raises(OSError, match="disk gone"):
        write_dataset(DatasetConfig(num_samples=200), tmp_path, overwrite=True)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_temporaries_of_a_killed_run_are_removed(tmp_path):
    stale = tmp_path / ".mnist1d-stream.raw.abc123.tmp"
    stale.write_bytes(b"\0" * 1000)
    write_dataset(DatasetConfig(num_samples=100), tmp_path)
    assert not stale.exists() and _temporaries(tmp_path) == []


def test_load_streamed_checks_the_manifest_and_the_files(tmp_path):
    with pytest.raises(StreamError, match="holds no manifest.json"):
        load_streamed(tmp_path)
    out = write_dataset(DatasetConfig(num_samples=100), tmp_path / "d")
    manifest = read_manifest(out)

    def rewrite(**changes):
        (out / MANIFEST).write_text(json.dumps(manifest | changes))

    rewrite(format="something else")
    with pytest.raises(StreamError, match="not a manifest"):
        load_streamed(out)
    rewrite(format_version=99)
    with pytest.raises(StreamError, match="format version 99"):
        load_streamed(out)
    rewrite(config=manifest["config"] | {"num_samples": 200})
    with pytest.raises(StreamError, match=r"x.npy: float16 \(80, 40\), the manifest says float16 \(160, 40\)"):
        load_streamed(out)
    rewrite(config=manifest["config"] | {"num_samples": 7})
    with pytest.raises(StreamError, match="invalid config"):
        load_streamed(out)
    (out / MANIFEST).write_text("{not json")
    with pytest.raises(StreamError, match="not readable JSON"):
        load_streamed(out)
    rewrite()
    (out / "y_test.npy").write_bytes((out / "y_test.npy").read_bytes()[:100])  # truncated
    with pytest.raises(StreamError, match="y_test.npy: not a readable"):
        load_streamed(out)
    (out / "y_test.npy").unlink()
    with pytest.raises(StreamError, match="y_test.npy: not a readable"):
        load_streamed(out)


def _fast_draws(rs, num_examples, length, max_translation, fn, workers=2):
    """A stand-in for `map_example_draws`: the same blocks of 2,048 examples, in order, on this thread, made
    of one fixed set of draws (the real stream under tracemalloc runs ~8x slower: its threads fight over the
    tracer's lock). Memory of the real generator is its own: fixed per block, whatever the number of examples."""
    block = 2048
    draws = ExampleDraws(
        pad_u=rs.rand(block), scale_u=rs.rand(block), shift=rs.randint(0, max_translation, block),
        normals=rs.randn(block, 2, length), shear_u=rs.rand(block),
    )
    results = []
    for first in range(0, num_examples, block):
        m = min(block, num_examples - first)
        part = draws if m == block else ExampleDraws(draws.pad_u[:m], draws.scale_u[:m], draws.shift[:m],
                                                     draws.normals[:m], draws.shear_u[:m])
        results.append(fn(part, first))
    return results


def test_memory_is_bounded_by_the_chunk_not_by_the_dataset(tmp_path, monkeypatch):
    monkeypatch.setattr(stream, "map_example_draws", _fast_draws)
    chunk, peaks = 2_000, {}
    write_dataset(DatasetConfig(num_samples=100), tmp_path / "warm-up")  # the cached template tables, untraced
    for n in (20_000, 200_000):
        tracemalloc.start()
        try:
            write_dataset(DatasetConfig(num_samples=n), tmp_path / str(n), dtype="float64", chunk=chunk)
            peaks[n] = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    dataset_bytes = 200_000 * 40 * 8  # x and x_test in float64: 64 MB (make_dataset holds ~3x that)
    assert peaks[200_000] < dataset_bytes / 8, peaks
    # Ten times the examples: the peak grows by the 8-byte permutation per example (and noise), not by 320 bytes.
    assert peaks[200_000] - peaks[20_000] < 16 * 180_000 + 2**20, peaks
    arrays = load_streamed(tmp_path / "200000")
    assert arrays["x"].shape == (160_000, 40) and np.isfinite(arrays["x"][-5:]).all()


def test_the_command_writes_the_files_and_refuses_in_one_line(tmp_path, capsys):
    out = tmp_path / "big"
    argv = ["generate", "-o", str(out), "--num-samples", "3000", "--dtype", "float32", "--chunk", "999", "--seed",
            "7", "--shuffle-seq", "--no-progress"]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "2,400 train + 600 test examples of length 40 in float32" in printed and "examples/s" in printed
    for name in ("x.npy", "y.npy", "x_test.npy", "y_test.npy", "t.npy", "seq_permutation.npy", MANIFEST):
        assert str(out / name) in printed
    config = DatasetConfig(num_samples=3000, seed=7, shuffle_seq=True)
    np.testing.assert_array_equal(load_streamed(out)["x_test"], make_dataset(config).x_test.astype(np.float32))
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "already holds a complete streamed dataset" in err
    assert main([*argv, "--overwrite", "--chunk", "0"]) == 2
    assert "chunk=0 is invalid" in capsys.readouterr().err
    for bad in (["--dtype", "int8"], ["--num-samples", "1234"], ["--chunk", "many"]):
        with pytest.raises(SystemExit) as info:
            main([*argv, *bad])
        assert info.value.code == 2 and capsys.readouterr().err.count("\n") == 1
    with pytest.raises(SystemExit):
        main(["generate", "--out", ""])
    assert "argument -o/--out: an empty path" in capsys.readouterr().err


def test_a_folder_that_cannot_be_made_is_refused(tmp_path):
    (tmp_path / "file").write_text("")
    with pytest.raises(StreamError, match="cannot be made"):
        write_dataset(DatasetConfig(num_samples=100), tmp_path / "file" / "d")


def test_values_that_overflow_are_refused_after_the_generation(tmp_path, monkeypatch):
    original = stream._transform_block
    monkeypatch.setattr(stream, "_transform_block", lambda *args: np.full_like(original(*args), np.inf))
    with pytest.raises(stream.DatasetSizeError, match="overflow float64"):
        write_dataset(DatasetConfig(num_samples=100), tmp_path)
    assert list(tmp_path.iterdir()) == []
