import numpy as np
import pytest
import torch

from marginrank.errors import MarginRankError
from marginrank.sampling import HardNegativeMiner, MixedMiner, RandomMiner, SemiHardMiner, WarmupMiner

SCORES = torch.tensor(
    [
        [0.1, 0.9, 0.3, 0.7, 0.5],
        [0.4, 0.4, 0.8, 0.4, 0.0],
        [-1.0, -2.0, -3.0, -4.0, -5.0],
    ]
)


def naive_top(row, k, allowed):
    """Oracle: sort (-score, index) over allowed candidates."""
    ranked = sorted((-s, j) for j, (s, ok) in enumerate(zip(row, allowed)) if ok)
    return [j for _, j in ranked[:k]]


def test_hard_miner_returns_true_top_k_with_ties_by_index():
    idx, valid = HardNegativeMiner(3)(SCORES)
    assert idx.tolist() == [[1, 3, 4], [2, 0, 1], [0, 1, 2]]
    assert valid.all()


def test_hard_miner_respects_candidate_mask_and_pads_short_rows():
    allowed = torch.tensor([[True, False, True, True, True], [False, False, False, True, False], [True] * 5])
    idx, valid = HardNegativeMiner(2)(SCORES, candidate_mask=allowed)
    assert idx[0].tolist() == [3, 4] and idx[2].tolist() == [0, 1]
    assert idx[1, 0].item() == 3 and valid.tolist() == [[True, True], [True, False], [True, True]]


def test_hard_miner_matches_oracle_on_random_scores_with_ties():
    rng = np.random.default_rng(40)
    scores = torch.from_numpy(rng.integers(0, 6, size=(30, 25)).astype(np.float32))
    allowed = torch.from_numpy(rng.random((30, 25)) < 0.7)
    idx, valid = HardNegativeMiner(7)(scores, candidate_mask=allowed)
    for b in range(30):
        expected = naive_top(scores[b].tolist(), 7, allowed[b].tolist())
        assert idx[b, : len(expected)].tolist() == expected
        assert valid[b].tolist() == [True] * len(expected) + [False] * (7 - len(expected))


def test_k_larger_than_pool_is_padded():
    idx, valid = HardNegativeMiner(7)(SCORES)
    assert idx.shape == (3, 7) and valid[:, :5].all() and not valid[:, 5:].any()


def test_semi_hard_returns_exactly_the_band():
    scores = torch.tensor([[0.9, 0.7, 0.2, 0.6, 0.8, 0.31], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]])
    pos = torch.tensor([0.8, 0.0])
    idx, valid = SemiHardMiner(0.5)(scores, pos)
    # row 0 band (0.3, 0.8) open: 0.7, 0.6, 0.31 (0.8 itself and 0.2 are out); row 1: empty
    assert idx.shape == (2, 3)
    assert idx[0].tolist() == [1, 3, 5] and valid[0].all()
    assert not valid[1].any()


def test_semi_hard_band_matches_oracle_and_fixed_width_keeps_hardest():
    rng = np.random.default_rng(41)
    scores = torch.from_numpy(rng.random((20, 30)))
    pos = torch.from_numpy(rng.random(20))
    idx, valid = SemiHardMiner(0.3)(scores, pos)
    for b in range(20):
        band = {j for j in range(30) if pos[b] - 0.3 < scores[b, j] < pos[b]}
        assert set(idx[b][valid[b]].tolist()) == band
    top2, valid2 = SemiHardMiner(0.3, num_negatives=2)(scores, pos)
    for b in range(20):
        allowed = [(pos[b] - 0.3 < s < pos[b]).item() for s in scores[b]]
        expected = naive_top(scores[b].tolist(), 2, allowed)
        assert top2[b][valid2[b]].tolist() == expected


def test_semi_hard_needs_positive_scores():
    with pytest.raises(MarginRankError, match="pos_scores"):
        SemiHardMiner(0.5)(SCORES)


def test_random_miner_is_uniform_over_allowed_and_distinct():
    allowed = torch.tensor([[True, True, False, True, True, True]]).expand(3000, 6)
    idx, valid = RandomMiner(2, seed=42)(torch.zeros(3000, 6), candidate_mask=allowed)
    assert valid.all() and (idx[:, 0] != idx[:, 1]).all() and not (idx == 2).any()
    counts = np.bincount(idx.flatten().numpy(), minlength=6)[[0, 1, 3, 4, 5]]
    assert np.abs(counts / counts.sum() - 0.2).max() < 0.02


def test_mixed_miner_hard_part_is_top_k_and_uniform_part_is_disjoint():
    rng = np.random.default_rng(43)
    scores = torch.from_numpy(rng.random((50, 20)))
    allowed = torch.from_numpy(rng.random((50, 20)) < 0.8)
    idx, valid = MixedMiner(3, 4, seed=44)(scores, candidate_mask=allowed)
    hard, _ = HardNegativeMiner(3)(scores, candidate_mask=allowed)
    assert idx.shape == (50, 7) and torch.equal(idx[:, :3], hard)
    for b in range(50):
        picked = idx[b][valid[b]].tolist()
        assert len(picked) == len(set(picked)) and all(allowed[b, j] for j in picked)
        assert valid[b].sum() == min(7, allowed[b].sum())


def test_warmup_miner_is_uniform_then_hard():
    scores = torch.from_numpy(np.random.default_rng(45).random((200, 10)))
    hard = HardNegativeMiner(2)
    miner = WarmupMiner(hard, warmup_epochs=2, seed=0)
    warm, _ = miner(scores)
    assert warm.shape == (200, 2) and not torch.equal(warm, hard(scores)[0])
    miner.set_epoch(1)
    assert miner.warming_up
    miner.set_epoch(2)
    assert not miner.warming_up and torch.equal(miner(scores)[0], hard(scores)[0])


def test_miners_run_without_grad():
    scores = torch.rand(3, 6, requires_grad=True)
    idx, valid = HardNegativeMiner(2)(scores)
    assert not idx.requires_grad and not valid.requires_grad


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: HardNegativeMiner(0), "k must be"),
        (lambda: HardNegativeMiner(2)(torch.rand(3)), r"\[B, C\]"),
        (lambda: HardNegativeMiner(2)(torch.tensor([[0.1, float("nan")]])), "NaN"),
        (lambda: HardNegativeMiner(2)(torch.rand(2, 3), candidate_mask=torch.ones(2, 3)), "candidate_mask"),
        (lambda: SemiHardMiner(0.5)(torch.rand(2, 3), torch.rand(3)), "pos_scores"),
        (lambda: SemiHardMiner(-1.0), "margin"),
        (lambda: WarmupMiner(SemiHardMiner(0.5), 1), "fixed num_negatives"),
        (lambda: MixedMiner(-1, 2), "n_hard"),
        (lambda: MixedMiner(2, 0), "n_uniform must be"),
        (lambda: SemiHardMiner(None), "margin must be a finite number, got None"),
    ],
)
def test_bad_miner_inputs_raise(call, message):
    with pytest.raises(MarginRankError, match=message):
        call()


def test_semi_hard_miner_takes_an_empty_batch():
    indices, valid = SemiHardMiner(0.5)(torch.zeros(0, 4), torch.zeros(0))
    assert indices.shape == valid.shape == (0, 1)
