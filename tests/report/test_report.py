"""REPORT.md: the runtime table, studies run separately or not at all, records that cannot be summarised, the
explanation of every number outside the paper's band."""

from mnist1d_jax.report.report import write_report
from mnist1d_jax.runtime.results import mean_std, seeds_text, write_json
from mnist1d_jax.studies import dataset


def test_report_of_whatever_is_there(tmp_path, monkeypatch):
    write_json(tmp_path / "tsne.json", {})  # a record from another version
    write_json(tmp_path / "dataset.json", {"checks": {}, "provenance": {"devices": {
        "backend": "gpu", "device_kind": "NVIDIA H200", "device_count": 8, "process_count": 2}}})
    monkeypatch.setattr(dataset, "report_rows", lambda record: [
        {"quantity": "q1", "paper": "1", "ours": "1"}, {"quantity": "q2", "paper": "1", "ours": "3", "why": "because"}])
    state = {"dataset": {"seconds": 6.0, "seeds": "default", "quick": False}}
    text = write_report(tmp_path, state, quick=False).read_text()
    assert ("| The dataset (Fig. 1) and its exactness | 1 | 0.1 | gpu, 8 devices (NVIDIA H200), 2 processes | "
            "0.1 |") in text
    assert "| t-SNE in input space (Fig. 10) | 1 | not recorded | not recorded |" in text
    assert "tsne.json could not be summarised (KeyError" in text
    assert "| Pooling vs training-set size (Fig. 7) |  | not run |" in text
    assert "Where ours differs from the paper's:\n\n- *q2*: because." in text and "*q1*:" not in text


def test_numbers_of_a_single_seed_carry_no_spread():
    assert mean_std([65.44]) == "65.4" and mean_std([1.0, 3.0]) == "2.0 ± 1.0" and mean_std([]) == "–"
    assert seeds_text(1) == "1 seed" and seeds_text(5) == "5 seeds"


def test_studies_run_one_by_one_show_their_own_runtime_and_seeds(tmp_path):
    """No reproduce state: every runtime and run count comes from the study's JSON, and the total adds them."""
    write_json(tmp_path / "pooling.json", {"config": {"seeds": 3, "init_seed": 0}, "runtime_s": 120.0})
    write_json(tmp_path / "lr_schedule.json", {"config": {"meta_seeds": [0, 1, 2], "eval_seeds": 5},
                                               "runtime_s": 60.0})
    text = write_report(tmp_path, {}, quick=False).read_text()
    assert "| Pooling vs training-set size (Fig. 7) | 3 | 2.0 (own command) |" in text
    assert "| meta_seeds 3, eval_seeds 5 | 1.0 (own command) |" in text
    assert "| **the paper's studies** | | **2.0** |" in text
    assert "| **the studies beyond the paper** | | **1.0** |" in text
