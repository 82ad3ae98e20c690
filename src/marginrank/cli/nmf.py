"""`marginrank nmf`: masked NMF of a CSV matrix with missing entries."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from marginrank.cli.figures import integer_ticks, pyplot
from marginrank.errors import MarginRankError, SettingError
from marginrank.nmf import MaskedNMF
from marginrank.nmf.io import read_matrix, write_figure, write_json, write_matrix


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "nmf",
        help="non-negative factorization of a partially observed matrix",
        description="Fit X ≈ W H on the observed entries of a CSV: long format (header row,col,value) or "
        "dense (header of column labels, empty cell = missing). Writes W.csv, H.csv, filled.csv (the input "
        "with its missing entries filled from W H), history.json and convergence.png.",
    )
    parser.add_argument("input", type=Path, help="CSV file")
    parser.add_argument("--rank", type=int, required=True, help="number of components, at most min(rows, columns)")
    parser.add_argument("--loss", choices=["frobenius", "kullback-leibler"], default="frobenius")
    parser.add_argument("--solver", choices=["auto", "anls", "hals", "mu"], default="auto")
    parser.add_argument("--max-iter", type=int, default=500)
    parser.add_argument("--tol", type=float, default=1e-5)
    parser.add_argument("--l2", type=float, default=0.0, help="ridge penalty on both factors (Frobenius)")
    parser.add_argument("--restarts", type=int, default=1, help="fits from different starts; the best is kept")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("nmf_out"), help="output folder (created)")
    parser.set_defaults(func=run)


# the option that sets each MaskedNMF parameter
OPTIONS = {
    "n_components": "--rank", "loss": "--loss", "solver": "--solver", "max_iter": "--max-iter", "tol": "--tol",
    "l2": "--l2", "n_restarts": "--restarts", "random_state": "--seed",
}


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
    try:
        W = model.fit_transform(X)
    except SettingError as error:
        raise MarginRankError(f"{error} (option {OPTIONS[error.setting]})") from None
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise MarginRankError(f"cannot create the output folder: {error.strerror}", path=str(args.out)) from None
    components = [f"c{index}" for index in range(model.n_components_)]
    write_matrix(args.out / "W.csv", W, row_labels, components)
    write_matrix(args.out / "H.csv", model.components_, components, col_labels)
    filled = np.where(np.isnan(X), model.inverse_transform(W), X)
    write_matrix(args.out / "filled.csv", filled, row_labels, col_labels)
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
    figure = convergence_figure(model.history_, args.loss, args.l2)
    write_figure(args.out / "convergence.png", figure)
    pyplot().close(figure)
    print(
        f"rank {model.n_components_}, {model.n_iter_} iterations, objective {model.history_[-1]:.6g} "
        f"({objective_name(args.loss, args.l2)}); wrote {args.out}/"
    )
    return 0


def objective_name(loss: str, l2: float) -> str:
    """What the fitted objective sums, in plain text (printed, and the plot's title)."""
    if loss == "kullback-leibler":
        return "KL divergence summed over the observed entries"
    penalty = " + 0.5 * l2 * (|W|^2 + |H|^2)" if l2 else ""
    return "0.5 * squared error summed over the observed entries" + penalty


def convergence_figure(history: list[float], loss: str, l2: float):
    """The objective after every iteration (0: the start), on a log scale."""
    figure, axes = pyplot().subplots(figsize=(7, 4))
    axes.semilogy(np.arange(len(history)), np.maximum(history, np.finfo(float).tiny))
    axes.set(xlabel="iteration (0: start)", ylabel="objective (log scale)")
    axes.set_title(objective_name(loss, l2), fontsize="medium")
    integer_ticks(axes)
    axes.grid(True, which="both", alpha=0.3)
    figure.tight_layout()
    return figure
