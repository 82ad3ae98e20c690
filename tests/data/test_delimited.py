import gzip
import io
import warnings

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from marginrank.data import (
    Interactions,
    from_dataframe,
    from_sparse,
    read_delimited,
    write_delimited,
)
from marginrank.errors import MarginRankError, SettingWarning

MOVIELENS_UDATA = "196\t242\t3\t881250949\n186\t302\t3\t891717742\n22\t377\t1\t878887116\n196\t302\t5\t881250950\n"


def test_movielens_udata_without_header(tmp_path):
    path = tmp_path / "u.data"
    path.write_text(MOVIELENS_UDATA)
    inter = read_delimited(path)
    assert inter.shape == (3, 3)
    assert inter.user_ids.tolist() == [22, 186, 196]
    assert inter.item_ids.tolist() == [242, 302, 377]
    by_pair = {
        (int(inter.user_ids[u]), int(inter.item_ids[i])): (r, t)
        for u, i, r, t in zip(inter.users, inter.items, inter.ratings, inter.timestamps)
    }
    assert by_pair[(196, 302)] == (5.0, 881250950.0)
    assert by_pair[(22, 377)] == (1.0, 878887116.0)


def test_csv_with_header_and_string_ids(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("user_id,item_id,rating\nalice,book,4\nbob,film,5\nalice,film,2\n")
    inter = read_delimited(path)
    assert inter.user_ids.tolist() == ["alice", "bob"]
    assert inter.item_ids.tolist() == ["book", "film"]
    assert inter.rating_matrix.toarray().tolist() == [[4, 2], [0, 5]]
    assert inter.user_index(["bob"]).tolist() == [1]


def test_integer_ids_beyond_int64_stay_labels_sorted_numerically(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("user,item\n99999999999999999999,5\n7,5\n7,6\n")
    inter = read_delimited(path)
    assert inter.user_ids.tolist() == [7, 99999999999999999999]
    assert inter.matrix.toarray().tolist() == [[1, 1], [1, 0]]


@pytest.mark.parametrize(
    ("text", "line", "problem"),
    [
        ("u,i\n1,2\n3\n", 3, "got 1 field"),
        ("1,2,5\n1,3,x\n", 2, "rating 'x' is not a number"),
        ("1,2,5\n1,3\n", 2, "expected 3 fields"),
        ("0,1,abc\n0,2,5\n", 1, "rating 'abc' is not a number"),
        ("0,1,5\n1,,3\n", 2, "empty item field"),
        ("0,1,5\n1,2,nan\n", 2, "rating 'nan' is not a finite number"),  # numbers in it: a row, not a header
    ],
)
def test_bad_rows_are_named(tmp_path, text, line, problem):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(MarginRankError) as info:
        read_delimited(path)
    assert str(info.value).startswith(f"{path}:{line}: ") and problem in str(info.value)


def test_a_header_of_any_names_above_numeric_rows_is_skipped(tmp_path):
    path = tmp_path / "pairs.csv"
    path.write_text("customer,product\n0,3\n1,4\n10,3\n")
    inter = read_delimited(path)
    assert inter.user_ids.tolist() == [0, 1, 10] and inter.item_ids.tolist() == [3, 4]


def test_a_file_of_comments_only_is_a_clear_error(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text("# exported 2026\n\n# nothing yet\n")
    with pytest.raises(MarginRankError, match=r"c\.csv: no rows: every line is blank or a # comment"):
        read_delimited(path)


def test_like_maps_into_training_space(tmp_path):
    (tmp_path / "train.csv").write_text("a,x\nb,y\n")
    (tmp_path / "test.csv").write_text("b,x\na,z\n")
    (tmp_path / "bad.csv").write_text("a,x\nc,y\n")
    train = read_delimited(tmp_path / "train.csv")
    with pytest.warns(UserWarning, match="1 rows with items unknown"):
        test = read_delimited(tmp_path / "test.csv", like=train)
    assert test.shape == train.shape and len(test) == 1
    with pytest.raises(MarginRankError, match=r"bad\.csv:2: user 'c' is unknown"):
        read_delimited(tmp_path / "bad.csv", like=train)


def test_write_delimited_round_trips(tmp_path):
    path = tmp_path / "u.data"
    path.write_text(MOVIELENS_UDATA)
    original = read_delimited(path)
    write_delimited(original, tmp_path / "out.csv")
    again = read_delimited(tmp_path / "out.csv")
    assert again.user_ids.tolist() == original.user_ids.tolist()
    np.testing.assert_array_equal(again.ratings, original.ratings)
    np.testing.assert_array_equal(again.timestamps, original.timestamps)


def test_dataframe_and_sparse_constructors():
    frame = pd.DataFrame({"user": ["u2", "u1", "u2"], "item": [10, 20, 20], "stars": [1.0, 2.0, 3.0]})
    inter = from_dataframe(frame, rating_col="stars")
    assert inter.rating_matrix.toarray().tolist() == [[0, 2], [1, 3]]
    with pytest.raises(MarginRankError, match="no column"):
        from_dataframe(frame, rating_col="rating")
    matrix = sp.random(20, 30, density=0.2, format="csr", random_state=0)
    assert (from_sparse(matrix).rating_matrix.astype(np.float64) - matrix).max() < 1e-6
    binary = from_sparse((matrix > 0).astype(np.float32))
    assert binary.ratings is None and binary.matrix.nnz == matrix.nnz


def test_dataframe_ids_of_mixed_types_and_a_non_frame():
    frame = pd.DataFrame({"user": ["a", 7, "a", 7.5], "item": [3, 1, 1, 3]})
    inter = from_dataframe(frame)
    assert inter.user_ids.tolist() == [7, 7.5, "a"] and inter.item_ids.tolist() == [1, 3]  # numbers first
    assert inter.user_index([7, "a"]).tolist() == [0, 2]
    with pytest.raises(MarginRankError, match="from_dataframe takes a pandas DataFrame, got list"):
        from_dataframe([["a", 1]])


def test_overlap_is_counted():
    a = Interactions.from_pairs([0, 0, 1], [0, 1, 1], user_ids=2, item_ids=2)
    b = Interactions.from_pairs([0, 1], [1, 0], user_ids=2, item_ids=2)
    assert a.overlap(b) == 1


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"users": [0.7, 1.0]}, "user indices must be integers, got float64 values such as 0.7"),
        ({"items": [True, False]}, "item indices must be integers, got bool"),
        ({"users": [np.nan, 1.0]}, "user indices must be integers"),
        ({"user_ids": ["a", "a"]}, "user id 'a' appears twice among the raw ids"),
        ({"user_ids": "ab"}, "user_ids must be a count or an array of raw ids, got 'ab'"),
        ({"ratings": [np.nan, 3.0]}, "ratings must be finite; pair 0 has nan"),
        ({"timestamps": ["x", "y"]}, "timestamps must be numbers"),
    ],
)
def test_from_pairs_never_rounds_or_guesses(arguments, message):
    pairs = {"users": [0, 1], "items": [0, 1], "user_ids": 2, "item_ids": 2, **arguments}
    with pytest.raises(MarginRankError, match=message):
        Interactions.from_pairs(pairs.pop("users"), pairs.pop("items"), **pairs)


def test_lookup_matches_ids_exactly_and_by_text_form_never_by_rounding():
    ints = Interactions.from_pairs([0, 1], [0, 1], user_ids=[7, 9], item_ids=2)
    assert ints.user_index([9, "7", np.int64(7), 9.0]).tolist() == [1, 0, 0, 1]
    for wrong in (9.5, True):
        with pytest.raises(MarginRankError, match="unknown user id"):
            ints.user_index([wrong])
    floats = Interactions.from_pairs([0, 1], [0, 1], user_ids=[1.5, 2.5], item_ids=2)
    assert floats.user_index([2.5, 1.5]).tolist() == [1, 0]
    texts = Interactions.from_pairs([0, 1], [0, 1], user_ids=["7", "x"], item_ids=2)
    assert texts.user_index([7, "x"]).tolist() == [0, 1]
    with pytest.raises(MarginRankError, match=r"user ids must be a flat sequence, got shape \(1, 2\)"):
        texts.user_index([[7, "x"]])


def test_a_byte_order_mark_is_skipped(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_text("\ufeff" + "".join(f"{user},{user % 7}\n" for user in range(200)), encoding="utf-8")
    inter = read_delimited(path)
    assert inter.n_users == 200 and inter.user_ids.tolist() == list(range(200))
    path.write_text("\ufeffuser,item\n0,1\n", encoding="utf-8")
    assert read_delimited(path).user_ids.tolist() == [0]


@pytest.mark.parametrize("delimiter", [",", "\t", ";"])
def test_quoted_fields_follow_csv_quoting(tmp_path, delimiter):
    path = tmp_path / "quoted.csv"
    rows = [['"0"', '"1"', "5"], ['"1"', '"Smith, J."', '"3"'], ["2", '"say ""hi"""', "4"]]
    path.write_text("".join(delimiter.join(row) + "\n" for row in rows))
    inter = read_delimited(path)
    assert inter.user_ids.tolist() == [0, 1, 2]
    assert sorted(inter.item_ids.tolist()) == ["1", "Smith, J.", 'say "hi"']
    assert inter.ratings.tolist() == [5.0, 3.0, 4.0]


def test_an_unclosed_quote_is_named(tmp_path):
    path = tmp_path / "open.csv"
    path.write_text('0,1\n"1,2\n2,3\n')
    with pytest.raises(MarginRankError, match=rf"^{path}:2: unclosed quote"):
        read_delimited(path)


def test_ids_are_text_unless_plain_integers(tmp_path):
    path = tmp_path / "zeros.csv"
    path.write_text("007,1\n7,2\n0012,1\n012,3\n12,4\n")
    inter = read_delimited(path)
    assert inter.user_ids.tolist() == ["0012", "007", "012", "12", "7"]
    assert inter.item_ids.tolist() == [1, 2, 3, 4]
    assert inter.user_index(["007", "7", 7]).tolist() == [1, 4, 4]
    write_delimited(inter, tmp_path / "out.csv")
    assert read_delimited(tmp_path / "out.csv").user_ids.tolist() == inter.user_ids.tolist()
    (tmp_path / "ints.csv").write_text("7,1\n8,1\n")
    (tmp_path / "test.csv").write_text("07,1\n")
    integers = read_delimited(tmp_path / "ints.csv")
    with pytest.raises(MarginRankError, match="unknown user id '07'"):
        integers.user_index(["07"])
    with pytest.raises(MarginRankError, match=r"test\.csv:1: user '07' is unknown"):
        read_delimited(tmp_path / "test.csv", like=integers)


@pytest.mark.parametrize(("header", "users"), [(None, ["a", "c", "customer"]), (True, ["a", "c"]), (False, ["a", "c", "customer"])])
def test_a_header_can_be_named(tmp_path, header, users):
    path = tmp_path / "names.csv"
    path.write_text("customer,product\na,b\nc,d\n")
    assert read_delimited(path, header=header).user_ids.tolist() == users


def test_the_layout_read_is_reported(tmp_path):
    path = tmp_path / "names.csv"
    path.write_text("customer;product;stars\n0;1;5\n")
    seen = []
    read_delimited(path, report=lambda layout: seen.append(str(layout)))
    assert seen == ["semicolon-separated, header 'customer;product;stars' skipped, columns user, item, rating"]
    (tmp_path / "plain.tsv").write_text("0\t1\n")
    read_delimited(tmp_path / "plain.tsv", report=lambda layout: seen.append(str(layout)))
    assert seen[-1] == "tab-separated, no header, columns user, item"


def test_bytes_that_are_not_utf8_are_named_by_line(tmp_path):
    path = tmp_path / "latin1.csv"
    path.write_bytes("0,1\n1,2\n2,café\n".encode("latin-1"))
    with pytest.raises(MarginRankError, match=rf"^{path}:3: not UTF-8 text"):
        read_delimited(path)


@pytest.mark.parametrize("name", ["ratings.csv.gz", "ratings.csv"])
def test_gzip_is_read_transparently(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress(b"\xef\xbb\xbfuser,item,rating\n0,1,5\n1,2,3\n"))
    inter = read_delimited(path)
    assert inter.user_ids.tolist() == [0, 1] and inter.ratings.tolist() == [5.0, 3.0]


def test_a_broken_gzip_file_is_named(tmp_path):
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(gzip.compress(b"0,1\n1,2\n" * 100)[:30])
    with pytest.raises(MarginRankError, match=rf"^{path}: not a complete gzip file"):
        read_delimited(path)


def test_a_binary_stream_is_read(tmp_path):
    inter = read_delimited(io.BytesIO(b"0,1\n1,2\n"))
    assert inter.user_ids.tolist() == [0, 1] and inter.source == "<stream>"


def test_min_rating_keeps_ratings_at_or_above_it(tmp_path):
    path = tmp_path / "stars.csv"
    path.write_text("a,x,5\na,y,2\nb,x,4\nc,y,1\n")
    inter = read_delimited(path, min_rating=4)
    assert inter.user_ids.tolist() == ["a", "b"] and inter.item_ids.tolist() == ["x"]
    assert inter.ratings.tolist() == [5.0, 4.0]
    with pytest.raises(MarginRankError, match=rf"^{path}: no rating is at least 6"):
        read_delimited(path, min_rating=6)
    (tmp_path / "pairs.csv").write_text("a,x\n")
    with pytest.raises(MarginRankError, match="min_rating needs a rating column; this file has 2 columns"):
        read_delimited(tmp_path / "pairs.csv", min_rating=4)


def test_negative_ratings_warn_naming_min_rating(tmp_path):
    path = tmp_path / "likes.csv"
    path.write_text("a,x,1\na,y,-1\nb,x,-1\n")
    with pytest.warns(SettingWarning, match="2 ratings are negative and count as interactions; set min_rating") as info:
        inter = read_delimited(path)
    assert len(inter) == 3 and info[0].message.setting == "min_rating"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(read_delimited(path, min_rating=0)) == 1
