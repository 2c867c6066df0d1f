"""The drop-in for the original ``mnist1d.data`` API: the same dicts as the original package for the same
arguments, npz files with a hash instead of pickles, and a pickle converter behind an explicit trust flag."""

import argparse
import pickle

import numpy as np
import pytest
from mnist1d.data import get_dataset_args as reference_args
from mnist1d.data import make_dataset as reference_make_dataset

from mnist1d_jax.data import compat
from mnist1d_jax.runtime.validation import ConfigError


def _same(ours: dict, theirs: dict) -> None:
    assert set(ours) == set(theirs)
    for key in ("x", "x_test", "t"):
        assert ours[key].dtype == np.float64 and ours[key].shape == theirs[key].shape
        np.testing.assert_allclose(ours[key], theirs[key], rtol=0, atol=1e-12)
    for key in ("y", "y_test"):
        np.testing.assert_array_equal(ours[key], theirs[key])
    for key in ("x", "t", "y"):
        np.testing.assert_allclose(ours["templates"][key], theirs["templates"][key], rtol=0, atol=1e-12)


def test_default_arguments_are_the_originals():
    ours, theirs = compat.get_dataset_args(as_dict=True), vars(reference_args())
    assert ours == {k: (list(v) if isinstance(v, tuple) else v) for k, v in theirs.items()}
    assert vars(compat.get_dataset_args()) == ours


@pytest.mark.parametrize("changes", [{}, {"shuffle_seq": True, "seed": 7}, {"final_seq_length": 60,
                                                                          "iid_noise_scale": 0.05}])
def test_make_dataset_returns_the_originals_dict(changes):
    """The original's script, with only the import changed: same keys, dtypes, labels; inputs within 1e-12."""
    state = np.random.get_state()
    ours_args, their_args = compat.get_dataset_args(), reference_args()
    for key, value in {"num_samples": 400, **changes}.items():
        setattr(ours_args, key, value)
        setattr(their_args, key, value)
    ours = compat.make_dataset(ours_args)
    assert all(np.array_equal(a, b) for a, b in zip(state[1:2], np.random.get_state()[1:2], strict=True))
    _same(ours, reference_make_dataset(their_args))


def test_arguments_from_a_dict_or_namespace_and_bad_values():
    args = {"num_samples": 200, "padding": [30, 50], "url": "ignored"}
    a = compat.make_dataset(args)
    b = compat.make_dataset(argparse.Namespace(**args))
    np.testing.assert_array_equal(a["x"], b["x"])
    with pytest.raises(ConfigError, match="num_samples"):
        compat.make_dataset({"num_samples": -5})
    with pytest.raises(TypeError, match="argument object"):
        compat.make_dataset(5)
    with pytest.raises(ValueError, match="custom templates"):
        compat.make_dataset(None, template={"x": np.zeros((10, 12)), "t": np.zeros(12), "y": np.arange(10)})


def test_get_dataset_writes_a_checked_npz_and_reads_it_back(tmp_path, capsys):
    path = tmp_path / "mnist1d_data.npz"
    frozen = compat.get_dataset(compat.get_dataset_args(), path=path)  # the original's download: the frozen set
    assert path.exists() and "Generated the frozen MNIST-1D dataset" in capsys.readouterr().out
    _same(frozen, compat.make_dataset(None))
    again = compat.get_dataset(compat.get_dataset_args(), path=path, verbose=False)
    np.testing.assert_array_equal(again["x"], frozen["x"])
    # your own dataset: regenerate=True (not with download=True, as in the original)
    own = compat.get_dataset({"num_samples": 300}, path=tmp_path / "own.npz", download=False, regenerate=True,
                             verbose=False)
    assert own["x"].shape == (240, 40)
    with pytest.warns(UserWarning, match="not of the arguments asked for"):
        compat.get_dataset({"num_samples": 500}, path=tmp_path / "own.npz", download=False, verbose=False)
    with pytest.raises(ValueError, match="exclude each other"):
        compat.get_dataset(None, path=path, download=True, regenerate=True)


def test_a_damaged_file_is_regenerated_with_a_warning(tmp_path):
    path = tmp_path / "d.npz"
    path.write_bytes(b"not a zip")
    with pytest.warns(UserWarning, match="regenerating"):
        data = compat.get_dataset(None, path=path, verbose=False)
    assert data["x"].shape == (4000, 40)


def test_pickles_are_never_read_without_trust(tmp_path):
    reference = reference_args()
    reference.num_samples = 300
    original = reference_make_dataset(reference)
    src = tmp_path / "mnist1d_data.pkl"
    src.write_bytes(pickle.dumps(original))
    with pytest.raises(ValueError, match="never reads or writes pickles"):
        compat.get_dataset(None, path=src)
    with pytest.raises(ValueError, match="trust=True"):
        compat.convert_pickle(src)
    with pytest.raises(ValueError, match="array 'x' is not the dataset"):  # made with other arguments
        compat.convert_pickle(src, trust=True)
    out = compat.convert_pickle(src, trust=True, args={"num_samples": 300})
    assert out == src.with_suffix(".npz")
    converted = compat.get_dataset({"num_samples": 300}, path=out, download=False, verbose=False)
    np.testing.assert_array_equal(converted["x"], original["x"])  # the pickle's own values, kept bit for bit


def test_every_function_of_the_originals_data_and_utils_is_here_with_its_return_type(tmp_path):
    """mnist1d.data and mnist1d.utils, name by name: the same names, the same kinds of result."""
    import inspect

    import matplotlib
    import mnist1d.data
    import mnist1d.utils

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    public = {name for module in (mnist1d.data, mnist1d.utils) for name, obj in vars(module).items()
              if (inspect.isfunction(obj) or inspect.isclass(obj)) and obj.__module__ == module.__name__}
    assert public <= set(compat.__all__), public - set(compat.__all__)
    ref_templates, templates = mnist1d.data.get_templates(), compat.get_templates()
    assert type(templates) is type(ref_templates) is dict and set(templates) == set(ref_templates)
    for key in ref_templates:
        np.testing.assert_allclose(templates[key], ref_templates[key], rtol=0, atol=1e-12)
    assert type(compat.get_dataset_args(as_dict=True)) is dict
    view = compat.get_dataset_args()
    assert isinstance(view, compat.ObjectView) and view.num_samples == mnist1d.data.get_dataset_args().num_samples
    d = {"a": 1}
    compat.ObjectView(d).a = 2
    assert d == {"a": 2} and mnist1d.utils.ObjectView({"a": 1}).a == compat.ObjectView({"a": 1}).a
    state = np.random.get_state()
    try:
        mnist1d.utils.set_seed(7)
        want = np.random.rand(3)
        assert compat.set_seed(7) is None
        np.testing.assert_array_equal(np.random.rand(3), want)
    finally:
        np.random.set_state(state)
    compat.to_pickle({"x": [1, 2]}, tmp_path / "t.pkl")
    assert mnist1d.utils.from_pickle(tmp_path / "t.pkl") == {"x": [1, 2]}
    with pytest.raises(ValueError, match="trust=True"):
        compat.from_pickle(tmp_path / "t.pkl")
    assert compat.from_pickle(tmp_path / "t.pkl", trust=True) == {"x": [1, 2]}
    data = compat.make_dataset({"num_samples": 100})
    fig = compat.plot_signals(data["x"], data["t"], labels=data["y"])
    assert isinstance(fig, matplotlib.figure.Figure) and len(fig.axes) == 10
    plt.close(fig)
    with pytest.raises(ValueError, match="do_transform"):
        compat.plot_signals(data["x"], data["t"], do_transform=True)
