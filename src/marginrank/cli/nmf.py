"""`marginrank nmf`: masked NMF of a CSV matrix with missing entries."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from marginrank.cli.figures import pyplot
from marginrank.errors import MarginRankError
from marginrank.nmf import MaskedNMF
from marginrank.nmf.io import read_matrix, write_figure, write_json, write_matrix


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "nmf",
        help="non-negative factorization of a partially observed matrix",
        description="Fit X ≈ W H on the observed entries of a CSV: long format (header row,col,value) or "
        "dense (header of column labels, empty cell = missing). Writes W.csv, H.csv, filled.csv, "
        "history.json and convergence.png.",
    )
    parser.add_argument("input", type=Path, help="CSV file")
    parser.add_argument("--rank", type=int, required=True, help="number of components")
    parser.add_argument("--loss", choices=["frobenius", "kullback-leibler"], default="frobenius")
    parser.add_argument("--solver", choices=["auto", "anls", "hals", "mu"], default="auto")
    parser.add_argument("--max-iter", type=int, default=500)
    parser.add_argument("--tol", type=float, default=1e-5)
    parser.add_argument("--l2", type=float, default=0.0, help="ridge penalty on both factors (Frobenius)")
    parser.add_argument("--restarts", type=int, default=1, help="fits from different starts; the best is kept")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("nmf_out"), help="output folder (created)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    X, row_labels, col_labels = read_matrix(args.input)
    model = MaskedNMF(
        args.rank,
        loss=args.loss,
        solver=args.solver,
        max_iter=args.max_iter,
        tol=args.tol,
        l2=args.l2,
        n_restarts=args.restarts,
        random_state=args.seed,
    )
    W = model.fit_transform(X)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MarginRankError(f"cannot create the output folder: {error.strerror}", path=str(args.out)) from None
    components = [f"c{index}" for index in range(model.n_components_)]
    write_matrix(args.out / "W.csv", W, row_labels, components)
    write_matrix(args.out / "H.csv", model.components_, components, col_labels)
    write_matrix(args.out / "filled.csv", model.inverse_transform(W), row_labels, col_labels)
    summary = {
        "loss": args.loss,
        "rank": model.n_components_,
        "n_iter": model.n_iter_,
        "reconstruction_err": model.reconstruction_err_,
        "observed": int(np.sum(~np.isnan(X))),
        "shape": list(X.shape),
        "objective": model.history_,
    }
    write_json(args.out / "history.json", summary)
    _plot_convergence(model.history_, args.out / "convergence.png", args.loss)
    print(
        f"rank {model.n_components_}, {model.n_iter_} iterations, reconstruction error "
        f"{model.reconstruction_err_:.6g}; wrote {args.out}/"
    )
    return 0


def _plot_convergence(history: list[float], path: Path, loss: str) -> None:
    plt = pyplot()
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.semilogy(np.arange(len(history)), np.maximum(history, np.finfo(float).tiny))
    axes.set_xlabel("iteration")
    axes.set_ylabel(f"{loss} objective (observed entries)")
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    write_figure(path, figure)
    plt.close(figure)
