"""benchmarks/peer_recbole.py without RecBole: the split converter, the epoch extrapolation, the cap, the
failure reports. Nothing here installs anything."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from marginrank.data import read_lightgcn_split
from tests.conftest import benchmark_script


@pytest.fixture(scope="module")
def peer():
    return benchmark_script("peer_recbole")


@pytest.fixture
def tiny_split(tmp_path: Path) -> Path:
    folder = tmp_path / "split"
    folder.mkdir()
    (folder / "train.txt").write_text("0 0 2 5\n1 1\n2 3 4 0\n")
    (folder / "test.txt").write_text("0 1\n1 5 2\n2 2\n")
    return folder


def read_atomic(path: Path) -> tuple[str, list[tuple[str, str]]]:
    header, *rows = path.read_text().splitlines()
    return header, [tuple(row.split("\t")) for row in rows]


def test_converter_writes_exactly_our_train_and_test_pairs(peer, tiny_split, tmp_path):
    paths = peer.write_recbole_split(*read_lightgcn_split(tiny_split), tmp_path / "recbole", name="tiny")
    assert {split: path.name for split, path in paths.items()} == {
        "train": "tiny.train.inter", "valid": "tiny.valid.inter", "test": "tiny.test.inter"}
    assert all(path.parent == tmp_path / "recbole" / "tiny" for path in paths.values())
    header, train = read_atomic(paths["train"])
    assert header == "user_id:token\titem_id:token"
    assert sorted(train) == sorted([("0", "0"), ("0", "2"), ("0", "5"), ("1", "1"), ("2", "3"), ("2", "4"), ("2", "0")])
    header, test = read_atomic(paths["test"])
    assert header == "user_id:token\titem_id:token"
    assert sorted(test) == [("0", "1"), ("1", "2"), ("1", "5"), ("2", "2")]
    assert paths["valid"].read_text() == paths["test"].read_text()


def test_config_names_the_files_the_converter_writes(peer, tiny_split, tmp_path):
    paths = peer.write_recbole_split(*read_lightgcn_split(tiny_split), tmp_path, name="tiny")
    config = peer.simplex_config(tmp_path, "tiny", epochs=3)
    expected = [tmp_path / "tiny" / f"tiny.{split}.inter" for split in config["benchmark_filename"]]
    assert expected == [paths["train"], paths["valid"], paths["test"]]  # RecBole's train, valid, test order
    # RecBole counts a pairwise batch in expanded rows: 1024 positives, each with 800 negatives
    assert config["train_batch_size"] // config["train_neg_sample_args"]["sample_num"] == 1024
    assert config["gamma"] == 1.0 and config["reg_weight"] == 0.0  # user embedding only: plain MF


def test_extrapolate_labels_partial_epochs(peer):
    assert peer.extrapolate(30.0, 10, 40) == {"fraction_of_epoch": 0.25, "epoch_s": None, "epoch_s_extrapolated": 120.0}
    assert peer.extrapolate(30.0, 40, 40) == {"fraction_of_epoch": 1.0, "epoch_s": 30.0, "epoch_s_extrapolated": None}
    assert peer.extrapolate(5.0, 0, 40)["epoch_s_extrapolated"] is None


def run_record(epochs: list[tuple[float, int, int]]) -> dict:
    return {"setup_s": 1.0, "eval_s": 2.0, "recall@20": 0.05, "ndcg@20": 0.04, "n_users": 3, "n_items": 6,
            "train_pairs": 7, "epochs": [{"epoch": i, "seconds": s, "loader_s": s / 2, "batches": b, "batches_total": t}
                                         for i, (s, b, t) in enumerate(epochs)]}


def test_summarize_measured_and_extrapolated(peer):
    full = peer.summarize(run_record([(10.0, 4, 4), (14.0, 4, 4)]))
    assert (full["epoch_s"], full["epoch_s_extrapolated"], full["epochs_trained"]) == (12.0, None, 2)
    partial = peer.summarize(run_record([(10.0, 4, 4), (3.0, 1, 4)]))
    assert partial["epoch_s"] is None and partial["epoch_s_extrapolated"] == 12.0
    assert partial["epochs_trained"] == 1.25 and partial["loader_share"] == 0.5


def test_cap_stops_after_the_deadline_and_delegates(peer):
    class Loader(list):
        shuffle = True

    loader = Loader([1, 2, 3, 4])
    uncapped = peer._Capped(loader, deadline=None)
    assert list(uncapped) == [1, 2, 3, 4] and not uncapped.stopped and uncapped.batches == 4
    capped = peer._Capped(loader, deadline=0.0)  # already past: one batch, then stop
    assert list(capped) == [1] and capped.stopped and capped.batches == 1
    assert len(capped) == 4 and capped.shuffle is True


def test_failed_install_is_reported_not_raised(peer, tiny_split, tmp_path, monkeypatch):
    def refuse(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, stdout="", stderr="ERROR: No matching distribution found")

    monkeypatch.setattr(peer.subprocess, "run", refuse)
    result = peer.measure(venv=tmp_path / "venv", data=tiny_split)
    assert result["status"] == "install_failed"
    assert result["install"]["step"] == "python -m venv"
    assert "No matching distribution" in result["error"]
    peer.write_result(result, tmp_path / "out" / "peer.json")
    assert '"install_failed"' in (tmp_path / "out" / "peer.json").read_text()


def test_missing_data_is_skipped_before_any_install(peer, tmp_path, monkeypatch):
    monkeypatch.setattr(peer, "ensure_venv", lambda venv: pytest.fail("must not install without data"))
    result = peer.measure(venv=tmp_path / "venv", data=tmp_path / "absent")
    assert result["status"] == "skipped" and "train.txt" in result["error"]
