"""The usual mistakes, fed to every command: each answer is one line that names what is wrong, exit code 2,
and no traceback. (Config mistakes of `curate run` are in test_pipeline.py.)"""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "curate" / "data"
CURATE = [sys.executable, "-m", "curate.cli"]

CASES = [
    # a path that does not exist
    (["run", "/nope.yaml", "-o", "{tmp}/o"], "no such config file"),
    (["report", "/nope"], "no stats.json"),
    (["quality", "train", "--positive", "/nope", "--negative", "/nope", "-o", "{tmp}/q.bin"], "no such file or directory"),
    (["quality", "inspect", "/nope", "-o", "{tmp}/i"], "no such file or directory"),
    (["tokenizer", "train", "/nope.yaml", "--input", str(DATA / "wiki")], "no such recipe file"),
    (["tokenize", "--tokenizer", "/nope", "--input", str(DATA / "wiki"), "-o", "{tmp}/t"], "not a tokenizer folder"),
    (["dedup", "documents", "/nope", "-o", "{tmp}/d"], "input /nope does not exist"),
    (["dedup", "sentences", "/nope", "-o", "{tmp}/u.npz"], "no such file or directory"),
    (["dedup", "index", "/nope", "-o", "{tmp}/x.npz"], "no .parquet or .jsonl files under /nope"),
    (["train", "--data", "web=/nope", "--weights", "1", "-o", "{tmp}/r"], "no train/ or heldout/ folder"),
    (["eval", "/nope"], "no ckpt.pt"),
    (["ablate", "/nope.yaml"], "no such config file"),
    # a file of the wrong kind
    (["tokenize", "--tokenizer", str(DATA), "--input", str(DATA / "wiki"), "-o", "{tmp}/t"], "no card.json"),
    (["train", "--data", f"wiki={DATA / 'wiki'}", "--weights", "1", "-o", "{tmp}/r"], "no train/ or heldout/ folder"),
    (["report", str(DATA)], "no stats.json"),
    # a wrong value
    (["run", str(REPO / "pipelines" / "books.yaml"), "-o", "{tmp}/o", "--tasks", "0"], "must be at least 1"),
    (["train", "--data", "web=/nope", "--weights", "one", "-o", "{tmp}/r"], "--weights expects numbers"),
    (["run", str(REPO / "pipelines" / "books.yaml"), "-o", "{tmp}/o", "--executor", "slurm"], "needs partition and time"),
    (["run", str(REPO / "pipelines" / "books.yaml"), "-o", "xyz://bucket/out", "--scratch", "{tmp}/s"], "Protocol not known"),
]


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(a[:2]) + f"-{i}" for i, (a, _) in enumerate(CASES)])
def test_a_usual_mistake_is_one_line_and_exit_2(tmp_path, args, message):
    proc = subprocess.run(CURATE + [a.replace("{tmp}", str(tmp_path)) for a in args], capture_output=True, text=True,
                          timeout=300, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert message in proc.stderr and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
