"""The interaction task: user-item training pairs, negatives drawn (and optionally mined) per batch."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor, nn

from marginrank.checks import require_integer
from marginrank.data.interactions import Interactions
from marginrank.errors import MarginRankError
from marginrank.sampling.layout import per_row
from marginrank.sampling.miners.base import Miner
from marginrank.sampling.rng import SeededRandom
from marginrank.sampling.source import NegativeSource
from marginrank.training.batches import PairBatches
from marginrank.training.distributed import ProcessGroup
from marginrank.training.seeds import BATCHES, MINERS, NEGATIVES, EpochSeeds
from marginrank.training.tasks.base import Scores
from marginrank.training.top_k_quantile import TopKQuantile

Batch = tuple[Tensor, Tensor]


class InteractionTask:
    """Batches of ``(user, positive item)`` pairs of ``train``; each batch's negatives come from ``negatives``.

    - ``negatives.draw(users, items)``: per-example ``[B, N]``, one shared pool ``[N]``, grouped pools
      ``[G, N]`` or the batch's own positives (:class:`~marginrank.sampling.InBatchNegatives`); the
      known positives a pool holds are masked out of the loss.
    - ``miner``: the drawn negatives become candidates; the model scores them all and the miner
      picks, per row, the negatives the loss sees (their scores are gathered from the candidates'
      scores, so one forward pass serves both, and only the picked ones get a gradient).
    - ``log_q_correction``: hands the loss each row's ``log q`` of its negatives (``neg_log_prob``;
      softmax losses), one row per batch row for grouped pools.
    - ``top_k_quantile``: hands the loss each row's user threshold (``pos_threshold``, SL@K); a
      :class:`~marginrank.training.callbacks.TopKRefresh` keeps the thresholds current.
    - ``pos_groups`` (the users) go to a loss that groups positives by user.
    - ``positive_sampling`` and ``batch_size``: see :class:`~marginrank.training.batches.PairBatches`;
      in a process group every rank takes its share of each global batch.
    """

    optional_keywords = frozenset({"pos_groups"})

    def __init__(
        self,
        train: Interactions,
        negatives: NegativeSource,
        *,
        batch_size: int = 1024,
        positive_sampling: str = "pairs",
        miner: Miner | None = None,
        log_q_correction: bool = False,
        top_k_quantile: TopKQuantile | None = None,
        process: ProcessGroup | None = None,
    ) -> None:
        if len(train) == 0:
            raise MarginRankError("no training pairs")
        if not isinstance(negatives, NegativeSource):
            raise MarginRankError(f"negatives must be a sampler with draw(users, pos_items); got {type(negatives).__name__}")
        process = process or ProcessGroup()
        require_integer("batch size", batch_size, 1)
        if batch_size < process.world_size:
            raise MarginRankError(f"batch size {batch_size} is smaller than the {process.world_size} processes that share each batch")
        if miner is not None and log_q_correction:
            raise MarginRankError("the log-Q correction weighs drawn negatives by their proposal; mined negatives have none")
        self.negatives, self.miner = negatives, miner
        self.log_q_correction, self.top_k_quantile = log_q_correction, top_k_quantile
        self.generator = torch.Generator()
        self.pairs = PairBatches(
            train.users, train.items, batch_size, self.generator, positive_sampling=positive_sampling,
            rank=process.rank, world_size=process.world_size,
        )
        handed_over = {"neg_log_prob": log_q_correction, "pos_threshold": top_k_quantile is not None}
        self.loss_keywords = frozenset(keyword for keyword, on in handed_over.items() if on)

    def __len__(self) -> int:
        return len(self.pairs)

    def begin_epoch(self, epoch: int, seeds: EpochSeeds) -> None:
        self.generator.manual_seed(seeds.shared(BATCHES))
        if isinstance(self.negatives, SeededRandom):
            self.negatives.generator.manual_seed(seeds.per_rank(NEGATIVES))
        if self.miner is not None:
            self.miner.manual_seed(seeds.per_rank(MINERS))
            self.miner.set_epoch(epoch - 1)

    def batches(self) -> Iterator[Batch]:
        return iter(self.pairs)

    def scores(self, scorer: nn.Module, batch: Batch, device: torch.device) -> Scores:
        """Draw the batch's negatives on the CPU, score on ``device``."""
        users, items = batch
        drawn = self.negatives.draw(users, items, with_log_prob=self.log_q_correction)
        extras: dict[str, Tensor] = {}
        if drawn.log_prob is not None:
            extras["neg_log_prob"] = per_row(drawn.log_prob, users.numel()).to(device)
        if self.top_k_quantile is not None:
            extras["pos_threshold"] = self.top_k_quantile.thresholds[users].to(device)
        mask = None if drawn.valid is None else drawn.valid.to(device)
        negatives = drawn.items.to(device)
        users, items = users.to(device), items.to(device)
        extras["pos_groups"] = users
        pos, neg = scorer(users, items, negatives)
        if self.miner is None:
            return Scores(pos, neg, mask, (users, items, negatives), extras)
        picked, valid = self.miner(neg.detach(), pos.detach(), mask)
        candidates = negatives.expand(users.numel(), -1) if negatives.dim() == 1 else per_row(negatives, users.numel())
        return Scores(pos, neg.gather(1, picked), valid, (users, items, candidates.gather(1, picked)), extras)
