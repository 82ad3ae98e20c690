"""Benchmark: the grocery-sales matrix of ../shared/context/001_*.txt (1000 products x 100 stores,
rank-12 log-normal truth, half observed), fitted at rank 8 over several seeds.

Reports train MSE, validation MSE (the unobserved half), the reference MSE of the true first 8
factors, their ratio, and seconds per fit, for MaskedNMF (each solver), the issue's approach re-done in
PyTorch (Adam on exp-embeddings, time-bounded) and scikit-learn NMF on a mean-filled matrix.
Timings are noisy: the machine has 2 cores shared with other jobs.

    PYTHONPATH=src python benchmarks/nmf_sales.py [--seeds 10] [--adam-seconds 3]
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np

from marginrank.nmf import MaskedNMF
from marginrank.nmf.io import write_json, write_text

RESULTS = Path(__file__).resolve().parent / "results"
MODEL_RANK = 8


def generate(seed: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The issue's generator: weights 10**linspace(0,-2,12), exp(N(0,1)) factors, 50% observed."""
    rng = np.random.default_rng(seed)
    n_prod, n_store, rank = 1000, 100, 12
    weight = 10.0 ** np.linspace(0, -2, rank)
    products = np.exp(rng.standard_normal((n_prod, rank))) * weight
    stores = np.exp(rng.standard_normal((n_store, rank))) * weight
    sales = products @ stores.T
    seen = rng.random((n_prod, n_store)) < 0.5
    error = sales - products[:, :MODEL_RANK] @ stores[:, :MODEL_RANK].T
    return sales, seen, float(np.mean(error[~seen] ** 2))


def masked_nmf(solver: str, loss: str, max_iter: int):
    def fit(X: np.ndarray, seen: np.ndarray, seed: int) -> np.ndarray:
        model = MaskedNMF(MODEL_RANK, loss=loss, solver=solver, max_iter=max_iter, tol=1e-5, random_state=seed)
        return model.inverse_transform(model.fit_transform(X, mask=seen))

    return fit


def adam_exp_embeddings(seconds: float):
    """The issue's Keras model in PyTorch: exp(embedding) dot products, MSE, Adam lr 1e-3, batch 8192,
    l2 1e-6 on the embeddings, stopped after a wall-clock budget."""

    def fit(X: np.ndarray, seen: np.ndarray, seed: int) -> np.ndarray:
        import torch

        torch.manual_seed(seed)
        rows, cols = (torch.from_numpy(index) for index in np.nonzero(seen))
        target = torch.from_numpy(X[seen]).float()
        products = torch.nn.Parameter(0.05 * torch.randn(X.shape[0], MODEL_RANK))
        stores = torch.nn.Parameter(0.05 * torch.randn(X.shape[1], MODEL_RANK))
        optimizer = torch.optim.Adam([products, stores], lr=1e-3)
        generator = torch.Generator().manual_seed(seed)
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            for batch in torch.randperm(target.numel(), generator=generator).split(2**13):
                p, s = products[rows[batch]], stores[cols[batch]]
                prediction = (p.exp() * s.exp()).sum(-1)
                loss = torch.mean((prediction - target[batch]) ** 2) + 1e-6 * (p.square().sum() + s.square().sum())
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
        with torch.no_grad():
            return (products.exp() @ stores.exp().T).double().numpy()

    return fit


def sklearn_mean_filled(X: np.ndarray, seen: np.ndarray, seed: int) -> np.ndarray:
    from sklearn.decomposition import NMF

    filled = np.where(seen, X, X[seen].mean())
    model = NMF(MODEL_RANK, init="nndsvda", max_iter=1000, random_state=seed)
    return model.fit_transform(filled) @ model.components_


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--adam-seconds", type=float, default=3.0)
    args = parser.parse_args()
    methods = {
        "MaskedNMF anls (Frobenius)": masked_nmf("anls", "frobenius", 300),
        "MaskedNMF hals (Frobenius)": masked_nmf("hals", "frobenius", 1000),
        "MaskedNMF mu (Frobenius)": masked_nmf("mu", "frobenius", 1000),
        "MaskedNMF mu (KL)": masked_nmf("mu", "kullback-leibler", 1000),
        f"PyTorch Adam exp-embeddings ({args.adam_seconds:g} s budget)": adam_exp_embeddings(args.adam_seconds),
        "scikit-learn NMF, mean-filled": sklearn_mean_filled,
    }
    rows: list[dict] = []
    for seed in range(args.seeds):
        sales, seen, reference = generate(seed)
        X = np.where(seen, sales, np.nan)
        for name, fit in methods.items():
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                estimate = fit(X, seen, seed)
            seconds = time.perf_counter() - start
            error = (estimate - sales) ** 2
            row = {
                "method": name, "seed": seed, "train_mse": float(error[seen].mean()),
                "val_mse": float(error[~seen].mean()), "ref_mse": reference, "seconds": seconds,
            }
            row["ratio"] = row["val_mse"] / reference
            rows.append(row)
            print(f"seed {seed} {name}: val/ref {row['ratio']:.3g}, {seconds:.1f} s", flush=True)
    table = summarize(rows, args.seeds)
    print(table)
    RESULTS.mkdir(exist_ok=True)
    write_json(RESULTS / "nmf_sales.json", {"seeds": args.seeds, "rows": rows})
    write_text(RESULTS / "nmf_sales.md", table)


def summarize(rows: list[dict], n_seeds: int) -> str:
    lines = [
        f"Medians over {n_seeds} seeds (1000x100, rank-12 truth, 50% observed, model rank 8). "
        "Timings are noisy (2 shared cores).",
        "",
        "| method | train MSE | val MSE | ref MSE | val/ref | max val/ref | seconds (max) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(row["method"] for row in rows):
        mine = [row for row in rows if row["method"] == name]
        median = {key: float(np.median([row[key] for row in mine])) for key in ("train_mse", "val_mse", "ref_mse", "ratio", "seconds")}
        lines.append(
            f"| {name} | {median['train_mse']:.3g} | {median['val_mse']:.3g} | {median['ref_mse']:.3g} | "
            f"{median['ratio']:.3g} | {max(row['ratio'] for row in mine):.3g} | "
            f"{median['seconds']:.1f} ({max(row['seconds'] for row in mine):.1f}) |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
