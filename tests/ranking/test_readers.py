"""Readers of grouped candidate lists: SVMlight / LETOR with qid or a query file, CSV, DataFrames; bad input names file and line."""

from __future__ import annotations

import numpy as np
import pytest

from marginrank.data.groups import RankingGroups
from marginrank.data.ranking_readers import read_ranking, read_svmlight, read_table
from marginrank.errors import MarginRankError

SVMLIGHT = "2 qid:7 1:0.5 3:1.5 # a comment\n0 qid:7 2:1\n1 qid:9 1:-2 3:4\n"


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_svmlight_with_qid_gives_groups_labels_and_columns_by_index(tmp_path):
    data = read_svmlight(write(tmp_path, "train.txt", SVMLIGHT))
    assert data.sizes.tolist() == [2, 1]
    assert data.labels.tolist() == [2.0, 0.0, 1.0]
    expected = np.array([[0, 0.5, 0, 1.5], [0, 0, 1, 0], [0, -2, 0, 4]], dtype=np.float32)
    np.testing.assert_array_equal(data.features.numpy(), expected)


def test_query_file_beside_the_data_sets_the_groups(tmp_path):
    path = write(tmp_path, "rank.train", "1 1:1\n0 1:2\n0 1:3\n2 1:4\n")
    write(tmp_path, "rank.train.query", "3\n1\n")
    assert read_svmlight(path).sizes.tolist() == [3, 1]


def test_a_given_width_pads_and_a_wider_row_is_refused(tmp_path):
    path = write(tmp_path, "t.txt", SVMLIGHT)
    assert read_svmlight(path, n_features=6).features.shape == (3, 6)
    with pytest.raises(MarginRankError, match=r"t.txt:1: feature 3 is beyond the 3 features"):
        read_svmlight(path, n_features=3)


@pytest.mark.parametrize(
    ("text", "query", "message"),
    [
        ("1 qid:1 1:1\n0 1:2\n", None, r"data.txt:2: no qid"),
        ("1 qid:1 1:1\n0 qid:1 2:abc\n", None, r"data.txt:2: feature 2 is not a number: 'abc'"),
        ("x qid:1 1:1\n", None, r"data.txt:1: label is not a number: 'x'"),
        ("1 qid:1 1:1\n0 qid:1 oops\n", None, r"data.txt:2: expected index:value, got 'oops'"),
        ("1 qid:1 1:1\n0 qid:2 1:1\n1 qid:1 1:1\n", None, r"data.txt:3: qid 1 appears again"),
        ("-1 qid:1 1:1\n", None, r"data.txt:1: relevance label -1.0 is not a number >= 0"),
        ("1 1:1\n0 1:1\n1 1:1\n", "2\n2\n", r"sizes.query:2: group sizes pass the 3 rows"),
        ("1 1:1\n0 1:1\n1 1:1\n", "2\n", r"sizes.query: group sizes add up to 2 rows; .*data.txt has 3"),
        ("1 1:1\n", "one\n", r"sizes.query:1: group size 'one' is not a positive integer"),
    ],
)
def test_bad_svmlight_input_names_file_line_and_problem(tmp_path, text, query, message):
    path = write(tmp_path, "data.txt", text)
    query_path = None if query is None else write(tmp_path, "sizes.query", query)
    with pytest.raises(MarginRankError, match=message):
        read_svmlight(path, query=query_path)


def test_csv_groups_keep_first_appearance_and_row_order(tmp_path):
    path = write(tmp_path, "t.csv", "query,grade,a,b\nq2,1,1,2\nq1,0,3,4\nq2,0,5,6\nq1,2,7,8\n")
    data = read_ranking(path, group="query", label="grade")
    assert data.sizes.tolist() == [2, 2]
    assert data.labels.tolist() == [1, 0, 0, 2]
    assert data.features[:, 0].tolist() == [1, 5, 3, 7]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("qid,label,a\n1,1,0.5\n1,nan,2\n", r"t.csv:3: label column 'label' holds 'nan', not a relevance >= 0"),
        ("qid,label,a\n1,1,0.5\n1,0,x\n", r"t.csv:3: feature column 'a' holds 'x', not a number"),
        ("qid,label,a\n1,1,0.5\n1,0\n", r"t.csv:3: 2 fields; the header has 3"),
        ("qid,label,a\n,1,0.5\n", r"t.csv:2: group column 'qid' is empty"),
        ("query,label,a\n1,1,0.5\n", r"t.csv: no column\(s\) 'qid'"),
    ],
)
def test_bad_table_input_names_file_line_and_problem(tmp_path, text, message):
    with pytest.raises(MarginRankError, match=message):
        read_ranking(write(tmp_path, "t.csv", text))


def test_dataframe_rows_are_named_by_row():
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({"qid": [1, 1, 2], "label": [1.0, float("nan"), 0.0], "x": [0.1, 0.2, 0.3]})
    with pytest.raises(MarginRankError, match=r"DataFrame, row 1: label column 'label' holds 'nan'"):
        read_table(frame)
    frame["label"] = [1.0, 0.0, 2.0]
    data = read_table(frame)
    assert data.sizes.tolist() == [2, 1] and data.n_features == 1


def test_from_arrays_checks_group_sizes():
    with pytest.raises(MarginRankError, match="group sizes add up to 3 rows; there are 4"):
        RankingGroups.from_arrays(np.zeros((4, 2)), np.zeros(4), [1, 2])


def test_split_and_folds_keep_groups_whole():
    data = RankingGroups.from_arrays(np.arange(20.0).reshape(10, 2), np.arange(10) % 3, [1, 2, 3, 4])
    rest, held = data.split(0.25, seed=1)
    assert sorted(rest.sizes.tolist() + held.sizes.tolist()) == [1, 2, 3, 4] and len(held) == 1
    tested = sorted(size for _, test in data.folds(2, seed=0) for size in test.sizes.tolist())
    assert tested == [1, 2, 3, 4]
    for train, test in data.folds(2, seed=0):
        rows = {tuple(r) for r in train.features.tolist()} | {tuple(r) for r in test.features.tolist()}
        assert len(rows) == 10
