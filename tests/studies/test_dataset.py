"""The dataset study: the exactness checks pass, and the figure is drawn from the record."""

from mnist1d_jax.studies import dataset


def test_checks_and_figure(run_quick, tmp_path):
    record, saved = run_quick("dataset")
    assert saved["checks"]["values_max_abs_diff"] < 1e-12 and saved["checks"]["sums_max_abs_diff"] < 1e-9
    assert (saved["num_train"], saved["num_test"]) == (4000, 1000)
    assert len(saved["example_indices"]) == 10 and len(saved["example_indices"][0]) == 2
    assert (tmp_path / "dataset" / "dataset.png").stat().st_size > 50_000
    rows = dataset.report_rows(saved)
    assert "1e-12" in rows[0]["paper"]


def test_construction_steps_end_at_the_final_length():
    steps = dataset.construction_steps(dataset.DatasetConfig())
    assert steps[0][0] == "template" and len(steps[-1][2]) == 40
