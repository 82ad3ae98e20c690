"""Models by name, for ``Recommender(model=...)``, the CLI and config files.

A model is one file with a :class:`~marginrank.models.base.EmbeddingModel` subclass and one line
here. Every model takes the embedding settings ``dim``, ``similarity``, ``ranking_similarity``,
``dropout``, ``init_std`` and ``score_precision`` (and refuses ``sparse`` tables when it cannot use
them); what else its ``__init__`` or its ``build`` accepts by keyword is its own settings
(``model_params``).
"""

from __future__ import annotations

import inspect

import scipy.sparse as sp

from marginrank.errors import MarginRankError
from marginrank.models.base import EmbeddingModel
from marginrank.models.lightgcn import LightGCN
from marginrank.models.mf import MF

MODELS: dict[str, type[EmbeddingModel]] = {
    "mf": MF,
    "lightgcn": LightGCN,
}
SHARED_SETTINGS = ("dim", "similarity", "ranking_similarity", "dropout", "init_std", "score_precision", "sparse")


def available() -> list[str]:
    """The names :func:`build` accepts, sorted."""
    return sorted(MODELS)


def model_class(name: str) -> type[EmbeddingModel]:
    """The class registered as ``name``; an unknown name is a :class:`MarginRankError` listing the known."""
    if name not in MODELS:
        raise MarginRankError(f"unknown model {name!r}; choose one of: {', '.join(available())}")
    return MODELS[name]


def own_settings(name: str) -> list[str]:
    """The settings of model ``name`` beyond the shared embedding settings (its ``model_params``): the
    keyword-only arguments of its ``__init__`` and of its ``build`` (settings that need the pairs)."""
    model = model_class(name)
    parameters = [*inspect.signature(model.__init__).parameters.values(), *inspect.signature(model.build).parameters.values()]
    return list(dict.fromkeys(
        parameter.name for parameter in parameters
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY and parameter.name not in SHARED_SETTINGS
    ))


def check_params(name: str, params: dict[str, object]) -> None:
    """Refuse ``model_params`` that model ``name`` does not take, naming those it does."""
    accepted = own_settings(name)
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        offer = ", ".join(accepted) if accepted else "none"
        raise MarginRankError(f"model {name!r} has no setting {', '.join(unknown)}; its own settings: {offer}")


def build(name: str, pairs: sp.csr_matrix, **settings: object) -> EmbeddingModel:
    """Model ``name`` for the training ``pairs`` (users x items) with its settings."""
    check_params(name, {key: value for key, value in settings.items() if key not in SHARED_SETTINGS})
    return model_class(name).build(pairs, **settings)
