import numpy as np
import pytest

from marginrank.data import read_lightgcn, read_lightgcn_split, write_lightgcn
from marginrank.errors import MarginRankError


def write(path, text):
    path.write_text(text)
    return path


def test_reads_pairs_and_tolerates_a_user_with_no_items(tmp_path):
    inter = read_lightgcn(write(tmp_path / "t.txt", "0 3 1\n1\n2 0\n"))
    assert inter.shape == (3, 4)
    assert inter.users.tolist() == [0, 0, 2]
    assert inter.items.tolist() == [1, 3, 0]
    assert inter.matrix.toarray().tolist() == [[0, 1, 0, 1], [0, 0, 0, 0], [1, 0, 0, 0]]


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("0 1 2\n1 2 x3\n", 2, "'x3' is not an integer"),
        ("0 1 2\n\n3 -4\n", 3, "negative id -4"),
        ("0 1\n2 99999999999999999999\n", 2, "id 99999999999999999999 is too large"),
        ("0 1.5\n", 1, "'1.5' is not an integer"),
        ("0 1 2\n1 2 4000000000 3\n2 1\n", 2, "item id 4000000000 is far beyond the 4 distinct item ids"),
        ("0 1\n3000000000 2\n", 2, "user id 3000000000 is far beyond the 2 distinct user ids"),
    ],
)
def test_bad_lines_are_named(tmp_path, text, line, problem):
    path = write(tmp_path / "train.txt", text)
    with pytest.raises(MarginRankError) as info:
        read_lightgcn(path)
    assert str(info.value).startswith(f"{path}:{line}: ")
    assert problem in str(info.value)


def test_empty_and_missing_files(tmp_path):
    with pytest.raises(MarginRankError, match="file is empty"):
        read_lightgcn(write(tmp_path / "e.txt", "\n  \n"))
    with pytest.raises(MarginRankError, match="file not found"):
        read_lightgcn(tmp_path / "nope.txt")


def test_split_shares_index_space_and_rejects_unknown_test_user(tmp_path):
    write(tmp_path / "train.txt", "0 1 2\n1 0\n")
    write(tmp_path / "test.txt", "0 3\n1\n")
    train, test = read_lightgcn_split(tmp_path)
    assert train.shape == test.shape == (2, 4)
    write(tmp_path / "test.txt", "0 3\n1 2\n2 1\n")
    with pytest.raises(MarginRankError, match=r"test\.txt:3: test user 2 has no training interactions"):
        read_lightgcn_split(tmp_path)


def test_duplicates_are_merged_with_a_warning(tmp_path):
    with pytest.warns(UserWarning, match="1 duplicate"):
        inter = read_lightgcn(write(tmp_path / "t.txt", "0 1 1 2\n"))
    assert inter.items.tolist() == [1, 2]


def test_write_then_read_round_trips(tmp_path):
    original = read_lightgcn(write(tmp_path / "a.txt", "0 3 1\n2 0 5\n"))
    write_lightgcn(original, tmp_path / "b.txt")
    again = read_lightgcn(tmp_path / "b.txt")
    assert (again.matrix != original.matrix).nnz == 0
    assert not list(tmp_path.glob(".*tmp"))


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "users", "items", "train", "test"),
    [("gowalla", 29858, 40981, 810128, 217242), ("yelp2018", 31668, 38048, 1237259, 324147)],
)
def test_real_splits_match_published_statistics(name, users, items, train, test):
    from tests.conftest import shared_split

    train_set, test_set = read_lightgcn_split(shared_split(name))
    assert train_set.shape == (users, items)
    assert (len(train_set), len(test_set)) == (train, test)
    assert train_set.overlap(test_set) == 0
    assert np.all(train_set.user_counts() > 0)


def test_a_byte_order_mark_is_skipped(tmp_path):
    write(tmp_path / "train.txt", "\ufeff0 1 2\n1 2\n")
    write(tmp_path / "test.txt", "\ufeff0 3\n")
    train, test = read_lightgcn_split(tmp_path)
    assert train.user_ids.tolist() == [0, 1] and test.users.tolist() == [0] and test.items.tolist() == [3]
