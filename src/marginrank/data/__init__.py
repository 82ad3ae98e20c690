"""Data layer: one type for implicit feedback, its readers, writers, splits and filters."""

from marginrank.data.dataset import Dataset
from marginrank.data.filters import k_core, rating_threshold
from marginrank.data.interactions import DuplicateInteractionWarning, Interactions
from marginrank.data.readers import Layout, from_dataframe, read_delimited, read_lightgcn, read_lightgcn_split
from marginrank.data.splits import holdout_split, leave_last_out
from marginrank.data.writers import write_delimited, write_lightgcn

from_sparse = Interactions.from_sparse

__all__ = [
    "Dataset",
    "DuplicateInteractionWarning",
    "Interactions",
    "Layout",
    "from_dataframe",
    "from_sparse",
    "holdout_split",
    "k_core",
    "leave_last_out",
    "rating_threshold",
    "read_delimited",
    "read_lightgcn",
    "read_lightgcn_split",
    "write_delimited",
    "write_lightgcn",
]
