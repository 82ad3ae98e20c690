"""matplotlib for the sub-commands that draw, on the file-only Agg backend (no display needed)."""

from __future__ import annotations


def pyplot():
    """``matplotlib.pyplot`` with the Agg backend, imported on first use."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def integer_ticks(axes) -> None:
    """Ticks on whole numbers only along the x axis (epochs, iterations)."""
    from matplotlib.ticker import MaxNLocator

    axes.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
