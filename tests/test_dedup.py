"""MinHash dedup: engine, documents (multi-stage, any task count), sentences, datasets, bad input, quality."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from datatrove.data import Document

from curate.dedup.dataset import DatasetDedup, build_index
from curate.dedup.document import DedupError, dedup_documents
from curate.pipeline import RunError
from curate.dedup.minhash import (
    MinhashConfig,
    choose_bands,
    estimated_jaccard,
    jaccard,
    lean,
    shingles,
    signatures,
)
from kits.dedup_pairs import clusters_from_removed, plant_pairs, score, write_corpus, write_pairs
from curate.dedup.sentence import SentenceDedup
from curate.io.records import read_records
from curate.io.writer import shard_schema
from helpers import kept_documents

WIKI = Path(__file__).parent.parent / "curate" / "data" / "wiki" / "enwiki.jsonl"


def wiki_docs(n=None) -> list[dict]:
    docs = [json.loads(line) for line in open(WIKI)]
    return docs[:n] if n else docs


def write_shard(path: Path, docs: list[dict], source="wiki", metadata=None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = [{"id": d["id"], "text": d["text"], "source": source, "url": None,
             "metadata": json.dumps(metadata(d) if metadata else {})} for d in docs]
    pq.write_table(pa.Table.from_pylist(rows, schema=shard_schema()), path)


# --- engine -----------------------------------------------------------------------------------------------------


def test_config_names_itself_and_validates():
    assert str(MinhashConfig()) == "5ng_14b_8r_x80"
    assert str(MinhashConfig(verify="none")) == "5ng_14b_8r"
    assert str(MinhashConfig(seed=3, threshold=0.7, verify="signature")) == "5ng_14b_8r_s3_e70"
    with pytest.raises(ValueError, match="MinhashConfig.verify"):
        MinhashConfig(verify="maybe")
    with pytest.raises(ValueError, match="MinhashConfig.threshold"):
        MinhashConfig(threshold=1.5)


def test_choose_bands_prints_rates(capsys):
    bands, rows = choose_bands(0.8, 128, verbose=True)
    assert (bands, rows) == (21, 6) and "false positive" in capsys.readouterr().out
    # unverified banding balances both errors around the threshold
    b, r = choose_bands(0.8, 128, verified=False)
    assert b * r <= 128 and r > 6


def test_shingles_ignore_case_and_whitespace_and_short_texts_have_none():
    text = wiki_docs(1)[0]["text"]
    assert np.array_equal(shingles(text), shingles(text.upper().replace(" ", "  \n")))
    assert len(shingles("")) == 0 and len(shingles("four words only here")) == 0
    assert len(shingles("five words are here now")) == 1


def test_signatures_estimate_jaccard_as_datasketch():
    config = MinhashConfig(bands=16, rows=8)
    a, b = (shingles(d["text"]) for d in wiki_docs(2))
    half = a[: len(a) // 2]
    sigs = signatures([a, half, b], config)
    assert abs(estimated_jaccard(sigs[0], sigs[1]) - jaccard(a, half)) < 0.12
    assert lean(sigs[0], config).jaccard(lean(sigs[1], config)) == estimated_jaccard(sigs[0], sigs[1])
    assert estimated_jaccard(sigs[0], sigs[2]) < 0.1


def test_signatures_equal_datasketch_minhashes():
    """curate permutes whole batches itself (datasketch calls the hash function per value); the values must be
    datasketch's own: same permutations, same pre-mix, for short, long and empty sets, any seed."""
    from datasketch import MinHash

    texts = [d["text"] for d in wiki_docs(6)]
    sets = [shingles(t) for t in texts] + [shingles(" ".join(texts) * 4), np.empty(0, np.uint32)]
    assert len(sets[-2]) > 8192  # longer than one group: permuted in chunks
    for config in (MinhashConfig(bands=21, rows=6), MinhashConfig(bands=14, rows=8, seed=7)):
        sigs = signatures(sets, config)
        for s, sig in zip(sets[:-1], sigs):
            m = MinHash(num_perm=config.num_perm, seed=config.seed, hashfunc=lambda x: x)
            m.update_batch(s)
            assert np.array_equal(sig, m.hashvalues)
        assert (sigs[-1] == np.iinfo(np.uint32).max).all()  # an empty set has no signature


# --- documents -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    root = tmp_path_factory.mktemp("planted")
    docs, pairs = plant_pairs(n_pairs=700, n_distractors=500, seed=1)
    write_corpus(docs, root / "data", files=3)
    write_pairs(pairs, root / "pairs.jsonl")
    return root, docs, pairs


def test_same_kept_documents_whatever_the_task_count(planted, tmp_path):
    root, docs, _ = planted
    config = MinhashConfig.for_threshold(0.8)
    one = dedup_documents([str(root / "data")], str(tmp_path / "t1"), config, tasks=1)
    three = dedup_documents([str(root / "data")], str(tmp_path / "t3"), config, tasks=3, workers=1)
    assert one["documents"] == len(docs) == one["kept"] + one["removed"]
    assert one["removed"] > 300 and (one["kept"], one["removed"]) == (three["kept"], three["removed"])
    # the same documents kept and removed, with the same records (shards are per task, so not the same files)
    assert kept_documents(tmp_path / "t1") == kept_documents(tmp_path / "t3")
    removed = read_records(str(tmp_path / "t1" / "removed" / "minhash_dedup"))
    by_id = sorted(read_records(str(tmp_path / "t3" / "removed" / "minhash_dedup")), key=lambda r: r["id"])
    assert sorted(removed, key=lambda r: r["id"]) == by_id
    assert len(removed) == one["removed"]
    assert {r["reason"] for r in removed} == {"near_duplicate"} and {r["stage"] for r in removed} == {"minhash_dedup"}
    kept_ids = {d[0] for d in kept_documents(tmp_path / "t1")}
    for r in removed:
        assert r["details"]["duplicate_of"] in kept_ids and 0 < r["details"]["jaccard"] <= 1
        assert r["id"] > r["details"]["duplicate_of"]  # keep="first": the smallest id stays


def test_clusters_are_the_same_when_candidates_are_read_in_many_blocks(planted, tmp_path, monkeypatch):
    """Stage 3 reads the candidates block by block in file order; a budget of a few documents per block (many
    blocks, pairs across blocks) must give the same clusters as one block."""
    import pyarrow.parquet as pq

    from curate.dedup import minhash_clusters

    root, _, _ = planted
    config = MinhashConfig.for_threshold(0.8)
    dedup_documents([str(root / "data")], str(tmp_path / "out"), config)
    index = tmp_path / "out" / "index" / "minhash_dedup" / str(config)
    manifest = json.loads((index / "clusters.json").read_text())
    one_block = {p.name: pq.read_table(p) for p in sorted((index / "clusters").glob("*.parquet"))}
    reads = []
    real_read = minhash_clusters.StageOneRows.read
    monkeypatch.setattr(minhash_clusters.StageOneRows, "read", lambda self, *a: reads.append(len(a[0])) or real_read(self, *a))
    counts = minhash_clusters.cluster(index, manifest, config, "first", block_bytes=40_000)
    assert len(reads) > 20 and max(reads) < 100  # many blocks of a few candidates each, pairs across them
    assert not (index / "verify").exists()  # the spill files are removed
    assert {k: manifest[k] for k in counts} == counts
    assert {p.name: pq.read_table(p) for p in sorted((index / "clusters").glob("*.parquet"))} == one_block


def test_manifest_and_rerun_checks(planted, tmp_path):
    root, _, _ = planted
    out = tmp_path / "out"
    first = dedup_documents([str(root / "data")], str(out), MinhashConfig.for_threshold(0.9))
    assert dedup_documents([str(root / "data")], str(out), MinhashConfig.for_threshold(0.9))["kept"] == first["kept"]
    with pytest.raises(RunError, match="another config"):
        dedup_documents([str(root / "data")], str(out), MinhashConfig.for_threshold(0.7))
    index = out / "index" / "minhash_dedup" / str(MinhashConfig.for_threshold(0.9))
    manifest = json.loads((index / "clusters.json").read_text())
    assert manifest["config"]["id"] == "5ng_14b_9r_x90" and len(manifest["files"]) == 3
    with pytest.raises(DedupError, match="keep="):
        dedup_documents([str(root / "data")], str(tmp_path / "o2"), keep="random")


def dedup_outputs(out: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every kept shard and removed/ log of a dedup run."""
    files = [p for sub in ("data", "removed") for p in sorted((out / sub).rglob("*")) if p.is_file()]
    return {str(p.relative_to(out)): p.read_bytes() for p in files}


# A pool of 2 workers (forkserver children) killed in the signatures job; one in-process worker killed in the
# pass that removes the duplicates (a pool costs ~2 s of start-up per job, so not both).
@pytest.mark.parametrize("stage,workers", [("minhash_dedup-signatures", 2), ("pass-1", 1)])
def test_killed_dedup_resumes_to_the_same_output(planted, tmp_path, stage, workers):
    """SIGKILL `curate dedup documents` (its whole process group) once some tasks of `stage` are done and
    others are not; the same command run again ends with the bytes of a run never killed."""
    _, docs, _ = planted
    write_corpus(docs, tmp_path / "in", files=8)  # 8 files, 8 tasks: the kill lands between task completions
    reference = tmp_path / "reference"
    dedup_documents([str(tmp_path / "in")], str(reference), MinhashConfig.for_threshold(0.8), tasks=8, workers=2)

    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "curate.cli", "dedup", "documents", str(tmp_path / "in"), "-o", str(out),
           "--threshold", "0.8", "--tasks", "8", "--workers", str(workers)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    completions = out / "logs" / stage / "completions"
    deadline = time.monotonic() + 120
    while not list(completions.glob("*")) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert proc.poll() is None, f"dedup ended before {stage} completed a task (status {proc.returncode})"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = len(list(completions.glob("*")))
    assert 0 < done_before < 8 and not (out / "stats.json").exists()  # killed mid-job, before the end
    assert dedup_outputs(out) != dedup_outputs(reference)

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "already completed" in rerun.stderr  # the tasks done before the kill were not run again
    assert kept_documents(out) == kept_documents(reference)  # ids and texts first: a readable diff
    assert read_records(str(out / "removed")) == read_records(str(reference / "removed"))
    assert dedup_outputs(out) == dedup_outputs(reference)  # then the very bytes
    stats = json.loads((out / "stats.json").read_text())
    assert stats["conserved"] and stats["totals"] == json.loads((reference / "stats.json").read_text())["totals"]
    assert stats["totals"]["removed"] > 300


@pytest.mark.parametrize("threshold", [0.5, 0.7, 0.8, 0.9])
def test_precision_and_recall_on_planted_pairs(planted, tmp_path, threshold):
    root, _, pairs = planted
    dedup_documents([str(root / "data")], str(tmp_path / "out"), MinhashConfig.for_threshold(threshold))
    result = score(pairs, clusters_from_removed(read_records(str(tmp_path / "out" / "removed"))), threshold)
    assert result["relevant"] > 200
    assert result["recall"] >= 0.99 and result["precision"] >= 0.99, result
    for lower, b in result["bins"].items():  # the decision is a step at the threshold
        if float(lower) + 0.1 <= threshold:
            assert b["found"] == 0.0, (lower, b)


@pytest.mark.parametrize("keep,expected", [("first", "a"), ("longest", "c"), ("quality", "b")])
def test_keep_policies(tmp_path, keep, expected):
    text = wiki_docs(1)[0]["text"]
    docs = [{"id": "a", "text": text}, {"id": "b", "text": text + " one"}, {"id": "c", "text": text + " one two three"}]
    write_shard(tmp_path / "in" / "wiki" / "0.parquet", docs, metadata=lambda d: {"quality_score": 0.9 if d["id"] == "b" else 0.1})
    stats = dedup_documents([str(tmp_path / "in")], str(tmp_path / "out"), keep=keep)
    assert [d[0] for d in kept_documents(tmp_path / "out")] == [expected] and stats["removed"] == 2


def test_bad_input_empty_short_repeated(tmp_path):
    text = " ".join(wiki_docs(1)[0]["text"].split()[:80])
    docs = [{"id": f"e{i}", "text": t} for i, t in enumerate(["", "", " ", "one", "two words", "a b c d"])]
    docs += [{"id": f"rep{i:05d}", "text": text} for i in range(10_000)]
    for k in range(2):
        write_shard(tmp_path / "in" / "wiki" / f"{k}.parquet", docs[k::2])
    stats = dedup_documents([str(tmp_path / "in")], str(tmp_path / "out"), tasks=2)
    kept = [d[0] for d in kept_documents(tmp_path / "out")]
    # no shingles: never a candidate, kept; but an empty text is no document: quarantined by the reader
    assert kept == sorted(["rep00000"] + [f"e{i}" for i in range(3, 6)]) and stats["quarantined"] == 3
    assert stats["removed"] == 9_999 and stats["no_shingles"] == 6 and stats["clusters"] == 1


def test_duplicate_ids_are_refused(tmp_path):
    text = wiki_docs(1)[0]["text"]
    write_shard(tmp_path / "in" / "w" / "0.parquet", [{"id": "x", "text": text}, {"id": "x", "text": text}])
    with pytest.raises((DedupError, RunError), match="id .x. occurs 2 times"):  # in a task: as the task raised it
        dedup_documents([str(tmp_path / "in")], str(tmp_path / "out"))


def test_a_50_mb_document(tmp_path):
    docs = wiki_docs()
    big = "\n\n".join(d["text"] for d in docs)
    big = (big * (50_000_000 // len(big) + 1))[:50_000_000]
    write_shard(tmp_path / "in" / "w" / "0.parquet", [{"id": "big", "text": big}, *docs[:5]])
    stats = dedup_documents([str(tmp_path / "in")], str(tmp_path / "out"))
    assert stats["documents"] == 6 and stats["kept"] + stats["removed"] == 6


def test_on_a_curate_run(two_task_run, tmp_path):
    stats = dedup_documents([str(two_task_run / "data")], str(tmp_path / "out"), tasks=2)
    assert stats["conserved"] and stats["documents"] == len(kept_documents(two_task_run))


# --- sentences ---------------------------------------------------------------------------------------------------


def run_stage(stage, docs, tmp_path, name):
    stage.attach(name, str(tmp_path / "removed" / name))
    return list(stage.run(iter(docs), rank=0, world_size=1))


@pytest.mark.parametrize("unit", ["sentence", "line", "paragraph"])
def test_sentence_dedup_cuts_repeats_across_documents(tmp_path, unit):
    a, b = (d["text"] for d in wiki_docs(2))
    shared = "This boilerplate sentence is repeated on every page of the site.\n\n"
    docs = [Document(text=a + "\n\n" + shared, id="d1", metadata={"source": "wiki"}),
            Document(text=shared + b, id="d2", metadata={"source": "wiki"}),
            Document(text=shared.upper() + "Too short.", id="d3", metadata={"source": "wiki"})]
    out = run_stage(SentenceDedup(unit=unit, min_chars=200), docs, tmp_path, "sentence_dedup")
    assert [d.id for d in out] == ["d1", "d2"]
    assert "boilerplate sentence" in out[0].text and "boilerplate sentence" not in out[1].text
    spans = read_records(str(tmp_path / "removed" / "sentence_dedup" / "spans"))
    d2 = [s for s in spans if s["id"] == "d2"]
    assert d2 and d2[0]["first_seen_in"] == "d1" and d2[0]["start"] == 0 and "boilerplate" in d2[0]["text"]
    assert b.startswith(d2[0]["text"]) is False and (shared + b)[d2[0]["start"]:d2[0]["end"]] == d2[0]["text"]
    dropped = [r for r in read_records(str(tmp_path / "removed" / "sentence_dedup")) if "reason" in r and r.get("stage") and "start" not in r]
    assert [(r["id"], r["reason"]) for r in dropped] == [("d3", "too_short_after_sentence_dedup")]


def test_sentence_dedup_keeps_short_units_and_repeats_within_a_document(tmp_path):
    verse = "Double, double toil and trouble; fire burn and cauldron bubble.\n" * 3 + "Act I.\n" * 2
    docs = [Document(text=verse, id="p1", metadata={}), Document(text="Act I.\nAnother line that is new here today.\n", id="p2", metadata={})]
    out = run_stage(SentenceDedup(unit="line", min_chars=10), docs, tmp_path, "s")
    assert out[0].text == verse and out[1].text.startswith("Act I.")


# --- datasets ----------------------------------------------------------------------------------------------------


def test_dataset_dedup_removes_near_copies_of_indexed_documents(tmp_path):
    docs = wiki_docs(40)
    (tmp_path / "eval").mkdir()
    (tmp_path / "eval" / "eval.jsonl").write_text("".join(json.dumps({"id": d["id"], "text": d["text"]}) + "\n" for d in docs[:10]))
    card = build_index([str(tmp_path / "eval")], str(tmp_path / "eval.npz"), MinhashConfig.for_threshold(0.7))
    assert card["documents"] == 10 and card["config"]["id"] == "5ng_32b_4r_x70"
    edited = docs[3]["text"].replace(" the ", " a ", 5)
    quoted = docs[5]["text"]
    inputs = [Document(text=edited, id="copy3", metadata={}), Document(text=quoted + " " + docs[20]["text"], id="quote5", metadata={})]
    inputs += [Document(text=d["text"], id=d["id"], metadata={}) for d in docs[10:40]]
    out = run_stage(DatasetDedup([str(tmp_path / "eval.npz")]), inputs, tmp_path, "decontaminate")
    assert len(out) == 31 and "copy3" not in {d.id for d in out}
    rec = read_records(str(tmp_path / "removed" / "decontaminate"))
    assert [(r["id"], r["reason"], r["details"]["index"], r["details"]["matched_id"]) for r in rec] == [("copy3", "in_index", "eval", docs[3]["id"])]
    out = run_stage(DatasetDedup([str(tmp_path / "eval.npz")], threshold=0.3, measure="containment"), inputs, tmp_path, "contain")
    assert {"copy3", "quote5"}.isdisjoint(d.id for d in out) and len(out) == 30


def test_unit_index_is_the_same_for_any_workers_and_shards(data_dir, tmp_path):
    """The two-pass index (hashes by file, then repeated units by shard) finds the same owners whether one
    process holds everything or two processes share 8 shards; real text, units repeated across files."""
    import orjson
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curate.dedup.sentence import index_units
    from curate.io.writer import shard_schema

    rows = [orjson.loads(line) for line in (data_dir / "wiki" / "enwiki.jsonl").read_bytes().splitlines()[:60]]
    # every article also carries a paragraph of its neighbour: repeats across documents and files
    docs = [{"id": r["id"], "text": r["text"] + "\n\n" + rows[i - 1]["text"].split("\n\n")[0], "source": "wiki",
             "url": None, "metadata": "{}"} for i, r in enumerate(rows)]
    (tmp_path / "in").mkdir()
    for part in range(3):
        pq.write_table(pa.Table.from_pylist(docs[part::3], schema=shard_schema()), tmp_path / "in" / f"{part}.parquet")
    cards, arrays = [], []
    for workers, shards in ((1, 1), (2, 8)):
        path = tmp_path / f"units-{workers}-{shards}.npz"
        cards.append(index_units([str(tmp_path / "in")], str(path), unit="paragraph", workers=workers, shards=shards))
        arrays.append(dict(np.load(path)))
        assert not Path(f"{path}.parts").exists()
    assert cards[0]["shared_units"] >= 55 and cards[0]["documents"] == 60
    assert cards[0] == cards[1]
    for key in ("hashes", "owners"):
        assert np.array_equal(arrays[0][key], arrays[1][key])
    hashes = arrays[1]["hashes"]
    assert np.all(hashes[1:] > hashes[:-1])  # sorted and unique, for searchsorted


def test_sentence_dedup_across_tasks_does_not_depend_on_the_task_count(data_dir, tmp_path):
    """A paragraph shared by documents in different input files is kept in exactly one of them, the same one
    with 1 or 2 tasks; the others lose it, and each cut is logged."""
    import orjson
    import pyarrow as pa
    import pyarrow.parquet as pq

    from curate.dedup.sentence import index_units
    from curate.io.writer import shard_schema
    from curate.pipeline import run_pipeline
    from helpers import kept_documents

    rows = [orjson.loads(line) for line in (data_dir / "wiki" / "enwiki.jsonl").read_bytes().splitlines()[:20]]
    boiler = "This article is licensed under the Creative Commons Attribution-ShareAlike licence, see the talk page."
    docs = [{"id": r["id"], "text": r["text"] + "\n\n" + boiler, "source": "wiki", "url": None, "metadata": "{}"} for r in rows]
    (tmp_path / "in").mkdir()
    for part in range(2):
        pq.write_table(pa.Table.from_pylist(docs[part::2], schema=shard_schema()), tmp_path / "in" / f"{part}.parquet")
    card = index_units([str(tmp_path / "in")], str(tmp_path / "units.npz"), unit="paragraph")
    assert card["documents"] == 20 and card["shared_units"] >= 1
    (tmp_path / "c.yaml").write_text(
        f"readers:\n  - parquet: {{path: {tmp_path / 'in'}, source: wiki}}\n"
        f"steps:\n  - sentence_dedup: {{unit: paragraph, min_chars: 0, first_seen: {tmp_path / 'units.npz'}}}\n")
    outs = []
    for tasks in (1, 2):
        out = tmp_path / f"out{tasks}"
        run_pipeline(str(tmp_path / "c.yaml"), str(out), tasks=tasks, workers=tasks)
        outs.append(kept_documents(out))
    assert outs[0] == outs[1]
    holders = [i for i, _, text in outs[0] if boiler in text]
    assert len(holders) == 1
    from curate.io.records import read_records

    spans = read_records(str(tmp_path / "out2" / "removed" / "sentence_dedup" / "spans"))
    assert len([s for s in spans if boiler in s["text"]]) == 19


def test_decontamination_against_the_bundled_tasks(data_dir, tmp_path):
    """A document that quotes an evaluation item is removed, naming the index and the item; one that does not stays."""
    import orjson
    from datatrove.data import Document

    from curate.dedup.dataset import DatasetDedup, build_index
    from curate.dedup.minhash import MinhashConfig
    from curate.stage import Drop

    index = tmp_path / "tasks.npz"
    build_index([str(data_dir / "tasks")], str(index), MinhashConfig.for_threshold(0.8))
    item = orjson.loads((data_dir / "tasks" / "bigbench_anachronisms.jsonl").read_bytes().splitlines()[3])
    wiki = orjson.loads((data_dir / "wiki" / "enwiki.jsonl").read_bytes().splitlines()[0])["text"][:3000]
    step = DatasetDedup([str(index)], measure="containment", threshold=0.8)
    leaked = step.process(Document(text=wiki + "\n\n" + item["context"] + "\n\n" + wiki[:500], id="leak"))
    assert isinstance(leaked, Drop) and leaked.reason == "in_index"
    assert leaked.details["matched_id"] == item["id"] and leaked.details["index"]
    assert not isinstance(step.process(Document(text=wiki, id="clean")), Drop)
