import functools
import http.server
import shutil
import threading

import numpy as np
import pytest

from marginrank import datasets
from marginrank.errors import MarginRankError
from marginrank.metrics import evaluate_embeddings, evaluate_popularity
from tests.conftest import SHARED_DATA, shared_split


@pytest.fixture
def serve():
    """Serve a folder over HTTP on 127.0.0.1; yields a function folder -> base URL."""
    servers = []

    def start(folder):
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *args: None
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.realdata
def test_download_verifies_and_loads(tmp_path, serve):
    shared_split("gowalla")
    base = serve(SHARED_DATA)
    dataset = datasets.load("gowalla", root=tmp_path, base_url=base)
    assert (len(dataset.train), len(dataset.test)) == (810128, 217242)
    assert sorted(p.name for p in (tmp_path / "gowalla").iterdir()) == ["test.txt", "train.txt"]
    again = datasets.load("gowalla", root=tmp_path, download=False, verify=True)
    assert len(again.train) == 810128


@pytest.mark.realdata
def test_checksum_mismatch_keeps_nothing(tmp_path, serve):
    source = shared_split("gowalla")
    tampered = tmp_path / "served" / "gowalla"
    tampered.mkdir(parents=True)
    shutil.copy(source / "train.txt", tampered / "train.txt")
    (tampered / "test.txt").write_bytes((source / "test.txt").read_bytes() + b"0 1\n")
    root = tmp_path / "root"
    with pytest.raises(MarginRankError, match="checksum mismatch"):
        datasets.load("gowalla", root=root, base_url=serve(tmp_path / "served"))
    assert sorted(p.name for p in (root / "gowalla").iterdir()) == ["train.txt"]


def test_amazon_book_md5_is_checked(tmp_path, serve):
    served = tmp_path / "served" / "amazon-book"
    served.mkdir(parents=True)
    (served / "train.txt").write_text("0 1 2\n")
    with pytest.raises(MarginRankError, match="md5 .* expected c916ecac"):
        datasets.load("amazon-book", root=tmp_path / "root", base_url=serve(tmp_path / "served"))


def test_unreachable_server_and_unknown_name(tmp_path):
    with pytest.raises(MarginRankError, match="could not download"):
        datasets.load("yelp2018", root=tmp_path, base_url="http://127.0.0.1:9/")
    with pytest.raises(MarginRankError, match="unknown dataset 'movielens'"):
        datasets.load("movielens")


def test_synthetic_is_deterministic_and_learnable():
    first = datasets.load("synthetic", seed=7, n_users=500, n_items=300)
    second = datasets.load("synthetic", seed=7, n_users=500, n_items=300)
    assert (first.train.matrix != second.train.matrix).nnz == 0
    assert (first.train.matrix != datasets.load("synthetic", seed=8, n_users=500, n_items=300).train.matrix).nnz > 0
    assert first.train.overlap(first.test) == 0
    counts = np.sort(first.train.item_counts())[::-1]
    assert counts[: len(counts) // 10].sum() > 3 * counts[-len(counts) // 10 :].sum()  # skewed popularity
    # a plain low-rank model (truncated SVD of train) clearly beats popularity on it
    from scipy.sparse.linalg import svds

    u, s, vt = svds(first.train.matrix.astype(np.float64), k=16)
    svd = evaluate_embeddings(u * s, vt.T, first.train.matrix, first.test.matrix)["recall@20"]
    popularity = evaluate_popularity(first.train.matrix, first.test.matrix)["recall@20"]
    assert svd > 2 * popularity
