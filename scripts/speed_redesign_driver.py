"""One timed slice of one study, under the old package (before the redesign) or the new one; prints JSON.

    python scripts/speed_redesign_driver.py {old,new} STUDY {0,1}     # 1: a quick slice (smoke test)

Run by ``speed_redesign.py`` in a fresh process per measurement, with PYTHONPATH pointing at a worktree of the
old revision for ``old``. Each slice is a representative piece of the study's own hot path (the same settings
on both sides), timed from its first JAX work to its last result, compiles included.
"""

import json
import sys
import tempfile
import time
from pathlib import Path

version, study, quick = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
import importlib.util  # noqa: E402

import jax  # noqa: E402


def _threaded_lottery() -> bool:
    """Whether this version's lottery runs its programs on threads (then its CLI gave it one CPU device);
    read from the source, since importing the study before the device count is set would fix it."""
    for name in ("mnist1d_jax.studies.lottery", "mnist1d_jax.lottery"):
        try:
            spec = importlib.util.find_spec(name)
        except ModuleNotFoundError:
            continue
        if spec is not None:
            return "ThreadPoolExecutor" in Path(spec.origin).read_text()
    return False


jax.config.update("jax_num_cpu_devices", 1 if study == "lottery" and _threaded_lottery() else 2)  # as its CLI does
# the study protocol (run(config, ctx)) exists from the redesign on; older revisions take an output folder
NEW = importlib.util.find_spec("mnist1d_jax.report.runner") is not None
OUT = Path(tempfile.mkdtemp())


def ctx():
    from mnist1d_jax.report.runner import Context

    return Context()


def q(full, small):
    return small if quick else full


def get_dataset(config=None):
    if NEW:
        from mnist1d_jax.data.io import get_dataset as g
    else:
        from mnist1d_jax.io import get_dataset as g
    return g(config)


def run():
    from mnist1d_jax import DatasetConfig

    if study == "dataset":
        from mnist1d_jax.studies import dataset

        return dataset.checks()
    if study == "benchmarks":
        from mnist1d_jax.studies import benchmarks as B

        cfg = B.BenchmarksConfig(models=("cnn", "gru"), datasets=("default",), seeds=2, total_steps=q(1000, 20),
                                 eval_every=q(250, 10), modern=False, improved=("cnn",), improved_seeds=2,
                                 improved_steps=q(1000, 20))
        return B.run(cfg, ctx()) if NEW else B.run(cfg, progress=False)
    if study == "lottery":
        from mnist1d_jax.studies import lottery as L

        kw = dict(trials=2, rounds=(0, 91), ablation_steps=q(500, 20))
        if quick:
            kw.update(width=32, total_steps=21, eval_every=10, snapshot_step=10, ablation_batch=100, granularity=8)
        cfg = L.LotteryConfig(**kw)
        return L.run(cfg, ctx()) if NEW else L.run(cfg, OUT)
    if study == "double_descent":
        from mnist1d_jax.core.sweeps import SweepConfig, sweep_widths

        data = get_dataset(DatasetConfig(num_samples=16000, train_split=0.25))
        out = []
        for model, bucket, epochs in (("mlp", [47, 61, 80], q(40, 1)), ("cnn", [20, 25], q(15, 1))):
            out.append(sweep_widths(model, bucket, [0, 1, 2], data, SweepConfig(epochs=epochs), buckets=[bucket]))
        return out
    if study == "metalearn_lr":
        from mnist1d_jax.studies import metalearn_lr as M

        kw = dict(inner_steps=10, outer_steps=3) if quick else {}
        return M.run(M.LRStudyConfig(memory=False, **kw), ctx()) if NEW else M.run(M.LRStudyConfig(**kw))
    if study == "metalearn_activation":
        from mnist1d_jax.studies import metalearn_activation as A

        kw = dict(seeds=(0, 1), outer_steps=q(14, 2), chunk=q(7, 2), g_table=257, transfer_seeds=4,
                  transfer_steps=q(500, 5))
        if quick:
            kw.update(g_hidden=(8,), inner_steps=8, objective_from=3, num_samples=1000)
        cfg = A.ActivationStudyConfig(**kw)
        return A.run(cfg, ctx()) if NEW else A.run(cfg)
    if study == "pooling":
        from mnist1d_jax.studies import pooling as P

        cfg = P.PoolingConfig(sizes=(1000,), seeds=3, total_steps=q(1500, 20), eval_every=q(100, 10))
        return P.run(cfg, ctx()) if NEW else P.run(cfg, OUT)
    if study == "ssl":
        from mnist1d_jax.studies import ssl as S

        cfg = S.SSLConfig(seeds=2, epochs=q(20, 1), projectors=("default",), tsne=False, probe_iterations=q(100, 5))
        return S.run(cfg, ctx()) if NEW else S.run(cfg, OUT)
    if study == "tsne":
        from mnist1d_jax.studies import tsne as T

        cfg = T.TSNEConfig(max_points=q(1500, 100), max_iter=q(750, 250))
        return T.run(cfg, ctx()) if NEW else T.run(cfg, OUT)
    if study == "classwise_errors":
        from mnist1d_jax.studies import classwise_errors as C

        cfg = C.ClasswiseConfig(seeds=5, total_steps=q(1500, 20))
        return C.run(cfg, ctx()) if NEW else C.run(cfg, OUT)
    raise ValueError(f"no slice for {study!r}")


start = time.perf_counter()
jax.block_until_ready(jax.tree.leaves(run(), is_leaf=lambda x: hasattr(x, "block_until_ready")) or [0])
print(json.dumps({"version": version, "study": study, "seconds": time.perf_counter() - start}))
