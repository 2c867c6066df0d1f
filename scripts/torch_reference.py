"""A plain PyTorch version of the Table-1 models and harness H (and of the learned-learning-rate protocol),
written here as the speed reference.

Only ``scripts/speed_train.py`` and ``scripts/speed_meta.py`` use it; torch is an optional benchmark extra
(``pip install torch``), never a dependency of the package. It is deliberately written the way a PyTorch user
would: eager modules, a Python loop over the T + 1 steps, evaluation on the full train and test sets every E
steps under ``no_grad``.
"""

from __future__ import annotations

import time

try:
    import torch
    from torch import nn
except ImportError:  # the speed script reports "n/a"
    torch = None


def available() -> bool:
    return torch is not None


if torch is not None:

    class MLP(nn.Module):
        def __init__(self, width=100):
            super().__init__()
            self.l1, self.l2, self.l3 = nn.Linear(40, width), nn.Linear(width, width), nn.Linear(width, 10)

        def forward(self, x):
            h = torch.relu(self.l1(x))
            h = h + torch.relu(self.l2(h))
            return self.l3(h)

    class CNN(nn.Module):
        def __init__(self, channels=25):
            super().__init__()
            self.c1 = nn.Conv1d(1, channels, 5, stride=2, padding=1)
            self.c2 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
            self.c3 = nn.Conv1d(channels, channels, 3, stride=2, padding=1)
            self.out = nn.Linear(channels * 5, 10)

        def forward(self, x):
            h = torch.relu(self.c1(x[:, None, :]))
            h = torch.relu(self.c2(h))
            h = torch.relu(self.c3(h))
            return self.out(h.flatten(1))

    class GRU(nn.Module):
        def __init__(self, hidden=6):
            super().__init__()
            self.gru = nn.GRU(1, hidden, batch_first=True, bidirectional=True)
            self.out = nn.Linear(40 * 2 * hidden, 10)

        def forward(self, x):
            h, _ = self.gru(x[:, :, None])  # (B, 40, 12): forward then backward features per step
            return self.out(h.flatten(1))

    class PoolingCNN(nn.Module):
        """The pooling study's two-layer CNN (20 channels, kernel 3, pad 1): conv, relu, then stride 2 or a
        window-2 pooling (max, average, or L2 = the root of the sum of squares), twice; a linear head."""

        def __init__(self, variant="max_pool"):
            super().__init__()
            stride = 2 if variant == "stride_2" else 1
            self.c1 = nn.Conv1d(1, 20, 3, stride=stride, padding=1)
            self.c2 = nn.Conv1d(20, 20, 3, stride=stride, padding=1)
            self.pool = {"max_pool": nn.MaxPool1d(2), "avg_pool": nn.AvgPool1d(2), "l2_pool": nn.LPPool1d(2, 2)
                         }.get(variant, nn.Identity())
            self.out = nn.Linear(20 * (40 if variant == "no_pool" else 10), 10)

        def forward(self, x):
            h = self.pool(torch.relu(self.c1(x[:, None, :])))
            h = self.pool(torch.relu(self.c2(h)))
            return self.out(h.flatten(1))

    MODELS = {"logistic": lambda: nn.Linear(40, 10), "mlp": MLP, "cnn": CNN, "gru": GRU,
              **{f"pooling_{v}": (lambda v=v: PoolingCNN(v))
                 for v in ("no_pool", "stride_2", "max_pool", "avg_pool", "l2_pool")}}


def run_harness(model: str, data: dict, total_steps: int = 6000, eval_every: int = 250, batch_size: int = 100,
                lr: float = 1e-2, seed: int = 0, threads: int | None = None,
                train_eval_examples: int | None = None) -> dict:
    """The original harness in eager PyTorch; returns wall seconds and the test accuracy curve.

    ``threads`` sets ``torch.set_num_threads`` (None: torch's default, one per core). On a shared machine
    one thread avoids OpenMP threads spinning against other processes, which slows PyTorch many-fold.
    ``train_eval_examples``: measure the training accuracy on the first this many examples (None: all of them,
    as the original).
    """
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    net = MODELS[model]()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    x, y = torch.tensor(data["x"], dtype=torch.float32), torch.tensor(data["y"], dtype=torch.long)
    xt, yt = torch.tensor(data["x_test"], dtype=torch.float32), torch.tensor(data["y_test"], dtype=torch.long)
    loss_fn = nn.CrossEntropyLoss()
    n = len(x)
    test_acc = []
    t0 = time.perf_counter()
    for s in range(total_steps + 1):
        i0 = (s * batch_size) % n
        loss = loss_fn(net(x[i0:i0 + batch_size]), y[i0:i0 + batch_size])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if s % eval_every == 0:
            with torch.no_grad():
                xe, ye = (x, y) if train_eval_examples is None else (x[:train_eval_examples], y[:train_eval_examples])
                _ = (net(xe).argmax(1) == ye).float().mean()  # the harness also records train accuracy
                test_acc.append(100 * float((net(xt).argmax(1) == yt).float().mean()))
    return {"seconds": time.perf_counter() - t0, "test_acc": test_acc, "threads": torch.get_num_threads()}


def metalearn_lr(x, y, initial_lrs=(1.5, 0.15), seed: int = 0, inner_steps: int = 200, batch_size: int = 50,
                 outer_steps: int = 50, outer_lr: float = 0.3, hidden: int = 50, threads: int | None = None) -> dict:
    """The learned-learning-rate protocol the way a PyTorch user writes it.

    A 40→hidden tanh→10 MLP as functional tensors; the 200 inner SGD steps keep their graph
    (``create_graph=True``) so that one ``backward`` of the mean inner loss gives dη; outer plain gradient
    descent on η. One Python loop per trial, trials one after another. Returns ``{"seconds", "final_lrs"}``.
    """
    if threads:
        torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(seed)
    init = [nn.Linear(40, hidden), nn.Linear(hidden, 10)]
    for layer in init:  # PyTorch's default init, drawn from a seeded generator
        bound = 1.0 / layer.in_features**0.5
        with torch.no_grad():
            layer.weight.uniform_(-bound, bound, generator=gen)
            layer.bias.uniform_(-bound, bound, generator=gen)
    theta0 = [t.detach().clone() for layer in init for t in (layer.weight, layer.bias)]
    xs = torch.as_tensor(x, dtype=torch.float32)
    ys = torch.as_tensor(y, dtype=torch.long)
    start = time.perf_counter()
    finals = []
    for lr0 in initial_lrs:
        lr = torch.tensor(float(lr0), requires_grad=True)
        for _ in range(outer_steps):
            w1, b1, w2, b2 = (t.clone().requires_grad_(True) for t in theta0)
            total = 0.0
            for s in range(inner_steps):
                idx = torch.arange(s * batch_size, (s + 1) * batch_size) % len(xs)
                logits = torch.tanh(xs[idx] @ w1.T + b1) @ w2.T + b2
                loss = nn.functional.cross_entropy(logits, ys[idx])
                grads = torch.autograd.grad(loss, (w1, b1, w2, b2), create_graph=True)
                w1, b1, w2, b2 = (p - lr * g for p, g in zip((w1, b1, w2, b2), grads, strict=True))
                total = total + loss
            meta = total / inner_steps
            (dlr,) = torch.autograd.grad(meta, lr)
            with torch.no_grad():
                lr -= outer_lr * dlr
        finals.append(lr.item())
    return {"seconds": time.perf_counter() - start, "final_lrs": finals}


if __name__ == "__main__":
    import sys

    from mnist1d_jax import DatasetConfig, make_dataset

    ds = make_dataset(DatasetConfig())
    d = {"x": ds.x, "y": ds.y, "x_test": ds.x_test, "y_test": ds.y_test}
    for name in sys.argv[1:] or ["cnn"]:
        r = run_harness(name, d, total_steps=1000)
        print(name, f"{r['seconds']:.1f} s per 1,001 steps, final test acc {r['test_acc'][-1]:.1f}")
