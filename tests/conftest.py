"""Every test runs with the network blocked, in this process and in every process it starts."""

import gzip
import os
import runpy
from pathlib import Path

import pytest

from helpers import real_pages, write_warc

NETGUARD = Path(__file__).parent / "netguard"
DATA = Path(__file__).parent.parent / "curate" / "data"
REPO = Path(__file__).parent.parent

os.environ["CURATE_BLOCK_NETWORK"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NETGUARD), os.environ.get("PYTHONPATH")]))
# Install the guard in this process too (another sitecustomize may already be imported under that name);
# child processes get it from PYTHONPATH.
runpy.run_path(str(NETGUARD / "sitecustomize.py"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


# The demo pipeline, with a length threshold that removes some real documents, so removed/ has content.
# The extraction timeout is a wall-clock guard: 60 s, not the recipes' 5 s, so that a loaded machine (large
# Sphinx pages take ~1.5 s in trafilatura when it is quiet) cannot time a page out in one of the runs that the
# determinism tests compare.
TEST_CONFIG = """
name: test
readers:
  - warc: {path: web, source: web}
  - books: {path: "{data}/books", source: books}
  - jsonl: {path: wiki, source: wiki}
steps:
  - html_extract: {timeout: 60}
  - length_filter: {min_words: 1500}
writer:
  parquet: {}
"""


@pytest.fixture(scope="session")
def inputs(tmp_path_factory, data_dir) -> Path:
    """Real pages in two WARC files (one with a PNG record), the real wiki JSONL plus a file of bad lines."""
    root = tmp_path_factory.mktemp("inputs")
    (root / "web").mkdir()
    pages = [{"url": u, "payload": p, "content_type": "text/html; charset=utf-8"} for u, p in real_pages(40)]
    pages[7] = {"url": "https://example.org/a.png", "payload": b"\x89PNG\r\n\x1a\n" + bytes(64), "content_type": "image/png"}
    write_warc(root / "web" / "part-0.warc.gz", pages[:20])
    write_warc(root / "web" / "part-1.warc.gz", pages[20:])
    (root / "wiki").mkdir()
    (root / "wiki" / "enwiki.jsonl").write_bytes((data_dir / "wiki" / "enwiki.jsonl").read_bytes())
    (root / "wiki" / "broken.jsonl.gz").write_bytes(gzip.compress(b'{"id": "w1", "text": "unterminated\n{"id": "w2", "text": ""}\n'))
    (root / "test.yaml").write_text(TEST_CONFIG)
    return root


@pytest.fixture(scope="session")
def two_task_run(inputs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "out"
    from curate.pipeline import run_pipeline

    run_pipeline(str(inputs / "test.yaml"), str(out), tasks=2, workers=2)
    return out


@pytest.fixture
def one_thread():
    # Two cores shared with other jobs: torch's two threads spin against each other (10x slower here).
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="session")
def corpus(tmp_path_factory) -> Path:
    """Token shards of three real sources with a 512-token BPE, shared by the torch tests (helpers.build_corpus)."""
    from helpers import build_corpus

    return build_corpus(tmp_path_factory.getbasetemp() / "train-corpus")
