"""One process of the multi-process test (tests/core/test_multiprocess.py); also runnable by hand.

    python tests/core/multiprocess_worker.py PROCESS_ID NUM_PROCESSES DEVICES PORT OUT_FOLDER

Each process makes ``DEVICES`` CPU devices; with ``NUM_PROCESSES > 1`` they join one ``jax.distributed`` job
(gloo collectives, coordinator on 127.0.0.1:PORT). Every process then runs the same user code, unchanged:
``train_seeds`` (3 seeds, so the run axis is padded), ``sweep_widths`` (2 widths x 2 seeds) and a vmapped
``run_outer``, and a whole study through the one runner (``classwise_errors``, quick) into a folder they share.
Every process writes what it got to ``OUT_FOLDER/process<i>.npz`` (so the test can check they
all hold every result); only the writer (process 0) writes ``OUT_FOLDER/written_by.txt``.
"""

import sys
from pathlib import Path

import jax


def main(process_id: int, num_processes: int, devices: int, port: int, out: Path) -> None:
    jax.config.update("jax_num_cpu_devices", devices)
    if num_processes > 1:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
        jax.distributed.initialize(coordinator_address=f"127.0.0.1:{port}", num_processes=num_processes,
                                   process_id=process_id)
    import numpy as np
    import optax

    from mnist1d_jax import DatasetConfig, get_dataset, prepare_data
    from mnist1d_jax.core.parallel import is_writer
    from mnist1d_jax.core.runs import TrainConfig, train_seeds
    from mnist1d_jax.core.sweeps import SweepConfig, sweep_widths
    from mnist1d_jax.meta.outer import run_outer

    data = prepare_data(get_dataset(DatasetConfig(num_samples=600), cache=False))
    results = {"devices": np.array([jax.device_count(), jax.process_count()])}

    config = TrainConfig(model="mlp", total_steps=30, eval_every=10, batch_size=50)
    _, metrics, summary = train_seeds(jax.random.split(jax.random.key(7), 3), data, config)
    results["seeds_train_loss"] = np.asarray(metrics["train_loss"])
    results["seeds_test_acc"] = np.asarray(metrics["test_acc"])
    results["seeds_final_test_acc"] = np.asarray(summary["final_test_acc"])

    sweep = sweep_widths("mlp", [4, 16], [0, 1], data, SweepConfig(epochs=2, batch_size=50))
    results["sweep_test_loss"] = sweep["test_loss"]
    results["sweep_train_error"] = sweep["train_error"]

    # A vmapped outer loop: 3 runs of minimising (w - target)^2 from different starting points.
    import jax.numpy as jnp

    # (each run's key adds its own noise, so a mix-up of keys across processes would show)
    from mnist1d_jax.meta import InnerProblem, exact

    def step(w, state, t, key, target):
        return state, jnp.sum((state - target) ** 2) + 0.01 * jax.random.normal(key)

    problem = InnerProblem(lambda w, key, target: w, step, 1)
    starts, targets = jnp.array([[0.0], [1.0], [-2.0]]), jnp.array([[1.0], [2.0], [3.0]])
    state, outer = run_outer(exact(problem), optax.sgd(0.1), starts, targets, 5, vmap=True, key=jax.random.key(3))
    results["outer_meta"] = np.asarray(state.meta)
    results["outer_loss"] = np.asarray(outer["value"])

    from mnist1d_jax.report.runner import run_study
    from mnist1d_jax.studies import classwise_errors

    record = run_study(classwise_errors, classwise_errors.QUICK, out / "study")
    results["study_accuracy"] = np.asarray(record["cnn"]["accuracy_first_500"])

    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / f"process{process_id}.npz", **results)
    if is_writer():
        (out / "written_by.txt").write_text(f"{process_id}\n")
    results_of = sorted(p.name for p in (out / "study").iterdir())
    print("study files seen by process", process_id, results_of, flush=True)
    if num_processes > 1:
        jax.distributed.shutdown()


if __name__ == "__main__":
    pid, n, devs, port = (int(a) for a in sys.argv[1:5])
    main(pid, n, devs, port, Path(sys.argv[5]))
