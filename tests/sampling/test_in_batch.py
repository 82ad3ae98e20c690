import torch

from marginrank.sampling import InBatchNegatives

from .helpers import positives_of, random_interactions


def test_mask_without_exclude_hides_own_and_duplicate_items():
    mask = InBatchNegatives().mask(torch.tensor([0, 1, 2, 3]), torch.tensor([4, 9, 4, 1]))
    truth = [[a != b for b in [4, 9, 4, 1]] for a in [4, 9, 4, 1]]
    assert mask.tolist() == truth


def test_mask_with_exclude_matches_naive_oracle():
    matrix = random_interactions(10, 12, 0.3, seed=20)
    users = torch.tensor([3, 7, 7, 0, 9, 2])
    pos_items = torch.tensor([5, 5, 11, 2, 0, 8])
    positives = positives_of(matrix)
    truth = [
        [pos_items[j].item() != pos_items[b].item() and pos_items[j].item() not in positives[users[b].item()] for j in range(6)]
        for b in range(6)
    ]
    assert InBatchNegatives(matrix).mask(users, pos_items).tolist() == truth
