"""The t-SNE study: a tiny run end to end, and the k-NN number behind its claim."""

import numpy as np

from mnist1d_jax.studies.tsne import knn_accuracy


def test_tiny_run_writes_numbers_embeddings_and_figure(run_quick, tmp_path):
    record, saved = run_quick("tsne")
    assert set(record["datasets"]) == {"image_digits", "mnist1d"}
    assert saved["datasets"]["mnist1d"]["n"] == 300
    assert saved["arrays"]["mnist1d_embedding"].shape == (300, 2)
    assert saved["provenance"]["devices"]["backend"] == "cpu"
    assert (tmp_path / "tsne" / "tsne.png").stat().st_size > 10_000


def test_knn_accuracy_separable_and_random():
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 30)
    separable = y[:, None] * 10.0 + rng.normal(size=(300, 2))
    assert knn_accuracy(separable, y, 10) == 100.0
    assert knn_accuracy(rng.normal(size=(300, 2)), y, 10) < 30.0
