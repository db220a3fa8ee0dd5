"""A recipe that reads from and writes to an S3 bucket: a real S3 API server (moto's server mode) on 127.0.0.1,
started and stopped here; s3fs, through datatrove's DataFolder, talks to it as it would to AWS."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from helpers import kept_documents, real_pages, write_warc

REPO = Path(__file__).resolve().parents[1]
CURATE = [sys.executable, "-m", "curate.cli"]

RECIPE = """
name: s3
readers:
  - warc: {path: "{web}", source: web}
  - jsonl: {path: "{wiki}", source: wiki}
steps:
  - html_extract: {engine: resiliparse}
  - language: {languages: [en], min_score: 0.5}
  - pii: {}
  - minhash_dedup: {threshold: 0.8}
  - sentence_dedup: {unit: line, min_words: 5, min_chars: 200}
writer:
  parquet: {}
"""


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": f"http://{host}:{port}"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    import s3fs

    fs = s3fs.S3FileSystem(skip_instance_cache=True)
    fs.mkdir("corpus")
    local = tmp_path_factory.mktemp("inputs")
    pages = real_pages(120)
    (local / "web").mkdir()
    for i in range(4):  # three copies of each page across four files: near-duplicates for the second pass
        write_warc(local / "web" / f"part-{i}.warc.gz", [{"url": f"{u}?copy={i}", "payload": p} for u, p in pages[i::4] * 3])
    fs.put(str(local / "web"), "corpus/in/web", recursive=True)
    fs.put(str(REPO / "curate" / "data" / "wiki"), "corpus/in/wiki", recursive=True)
    recipe = local / "s3.yaml"
    recipe.write_text(RECIPE)
    yield {"fs": fs, "env": {**os.environ}, "recipe": recipe, "local_inputs": local}
    server.stop()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def curate_run(s3, out: str, *extra: str, web="s3://corpus/in/web", wiki="s3://corpus/in/wiki", env=None):
    cmd = CURATE + ["run", str(s3["recipe"]), "-o", out, "--var", f"web={web}", "--var", f"wiki={wiki}",
                    "--tasks", "4", "--workers", "1", *extra]
    return cmd, env or s3["env"]


def test_a_recipe_reads_and_writes_a_bucket_and_resumes_there(s3, tmp_path):
    fs = s3["fs"]
    local_in = s3["local_inputs"]
    cmd, env = curate_run(s3, str(tmp_path / "local"), web=str(local_in / "web"), wiki=str(REPO / "curate" / "data" / "wiki"))
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=600)

    # killed in its first pass, then run again: the same documents as the local run, every side folder in the bucket
    cmd, env = curate_run(s3, "s3://corpus/out", "--scratch", str(tmp_path / "scratch"))
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path,
                            start_new_session=True)
    deadline = time.monotonic() + 300
    while len(fs.find("corpus/out/logs/pass-1/completions")) < 1 and time.monotonic() < deadline:
        fs.invalidate_cache()
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    fs.invalidate_cache()
    assert 1 <= len(fs.find("corpus/out/logs/pass-1/completions")) < 4 and not fs.exists("corpus/out/stats.json")
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert not (tmp_path / "s3:").exists()  # never a local folder named after the URL

    fs.invalidate_cache()
    for side in ("data", "removed/minhash_dedup", "logs/pass-2/completions", "logs/stats", "run.json", "stats.json"):
        assert fs.exists(f"corpus/out/{side}"), side
    copy = tmp_path / "copy"
    fs.get("corpus/out", str(copy), recursive=True)
    assert kept_documents(copy) == kept_documents(tmp_path / "local")
    stats = orjson.loads((copy / "stats.json").read_bytes())
    assert stats["conserved"] and stats["totals"] == orjson.loads((tmp_path / "local" / "stats.json").read_bytes())["totals"]
    assert stats["passes"][1]["stages"][2]["removed_reasons"]["near_duplicate"] > 100
    assert list((tmp_path / "scratch" / "index").iterdir())  # the indexes stayed on the scratch folder


@pytest.mark.parametrize("out, inputs, message", [
    ("s3://corpus/o1", {"web": "s3://no-such-bucket/web"}, "input s3://no-such-bucket/web: nothing there"),
    ("s3://corpus/o2", {"web": "xyz://bucket/web"}, "cannot be read (ValueError: Protocol not known: xyz)"),
    ("gs://bucket/out", {}, "-o gs://bucket/out: cannot be written (ImportError: Please install gcsfs"),
    ("s3://corpus/o3", {"no_credentials": ""}, "input s3://corpus/in/web: cannot be read (NoCredentialsError"),
    ("s3://corpus/o4", {"no_scratch": ""}, "a store URL needs --scratch DIR"),
])
def test_a_store_that_cannot_be_used_is_a_one_line_error_before_any_work(s3, tmp_path, out, inputs, message):
    env = dict(s3["env"])
    if "no_credentials" in inputs:
        for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            env.pop(k)
        env["AWS_SHARED_CREDENTIALS_FILE"] = env["AWS_CONFIG_FILE"] = str(tmp_path / "none")
    extra = [] if "no_scratch" in inputs else ["--scratch", str(tmp_path / "scratch")]
    cmd, env = curate_run(s3, out, *extra, web=inputs.get("web", "s3://corpus/in/web"), env=env)
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert message in proc.stderr and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (tmp_path / "scratch").exists() and not list(tmp_path.iterdir())  # no work started, nothing written
