"""Token shards: curate's parquet shards -> per-source arrays of token ids that numpy maps from disk.

    meta = tokenize_corpus("tok/", ["run/data"], "tokens/", tasks=4, workers=4)

Layout (`tokenizer_training/README.md` has the full description and a reading snippet):

    tokens/meta.json                           dtype, vocab_size, separator_id, tokenizer + sha256, counts
    tokens/<source>/{train,heldout}/<k>.bin    the token ids, raw (uint16 if vocab_size <= 65535, else uint32)
    tokens/<source>/{train,heldout}/<k>.idx.npy  int64 offsets of document starts, n_docs + 1 of them

`<k>` (five digits) is the position of the input file in the sorted list of input files, so the output is the
same bytes whatever the number of tasks; a source's documents in order are its shards in `k` order, and in
each shard the documents in the order of their input file. Every document is followed by the separator
(the recipe's first special token, e.g. <|endoftext|>), so `tokens[idx[i]:idx[i+1]]` ends with it.
A document is held out under the tokenizer's own rule (`corpus.HELDOUT_RULE`, the fraction in its card), so
a document the tokenizer was measured on is never in a train shard.

This module is the format's one owner: it writes it, and its readers (`read_meta`, `resolve_sources`,
`shard_documents`, `split_tokens`, `meta_sha256`, `load_shard`) are what training, evaluation, the ablation and
the datatrove export use; none of them finds shard files itself.

Each task is a datatrove `PipelineStep`; task `rank` encodes input files rank, rank + tasks, ... and writes
each shard under a temporary name renamed when complete; a one-task job then writes meta.json. In a recipe,
`tokenize: {tokenizer: DIR}` as the last step runs both jobs on the run's executor over OUT/data, into
OUT/tokens (`Tokenize`); `curate tokenize` runs them on local processes.
"""

import json
import os
import shutil
from pathlib import Path

import numpy as np
from datatrove.pipeline.base import PipelineStep

from curate.stage import Barrier
from curate.tokenizer.corpus import HELDOUT_RULE, corpus_files, is_heldout, source_of
from curate.io.files import sha256_file, write_json_atomic
from curate.tokenizer.encode import load_tokenizer
from curate.io.texts import read_documents

SPLITS = ("train", "heldout")
# One encode_batch call takes documents up to this many characters in all (or BATCH_DOCS documents).
BATCH_CHARS = 2_000_000
BATCH_DOCS = 1024


def token_dtype(vocab_size: int) -> np.dtype:
    return np.dtype(np.uint16) if vocab_size <= 65535 else np.dtype(np.uint32)


class _ShardFile:
    """One output shard being written: tokens appended to a temporary .bin, offsets kept for the index."""

    def __init__(self, path: Path, dtype: np.dtype):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.dtype = path, dtype
        self.tmp = path.with_name(f".{path.name}.tmp")
        self.f = open(self.tmp, "wb")
        self.offsets = [0]

    def append(self, docs: list[list[int]], separator: int) -> None:
        flat = []
        for ids in docs:
            flat.extend(ids)
            flat.append(separator)
            self.offsets.append(self.offsets[-1] + len(ids) + 1)
        np.asarray(flat, dtype=self.dtype).tofile(self.f)

    def close(self) -> None:
        self.f.close()
        idx = self.path.with_name(self.path.name[: -len(".bin")] + ".idx.npy")
        np.save(idx, np.asarray(self.offsets, dtype=np.int64))
        os.replace(self.tmp, self.path)


class TokenShardWriter(PipelineStep):
    """Encodes its rank's input files (sorted, files[rank::world_size]) into token shards."""

    name = "token shards"
    type = "curate tokenizer"

    def __init__(self, tokenizer_dir: str, inputs: list[str], out_dir: str):
        super().__init__()
        self.tokenizer_dir = str(tokenizer_dir)
        self.inputs = [str(p) for p in inputs]
        self.out_dir = str(out_dir)

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if data:
            yield from data
        tok = load_tokenizer(self.tokenizer_dir)
        fraction = tok.card["heldout"]["fraction"]
        dtype = token_dtype(tok.vocab_size)
        files = corpus_files(self.inputs)
        for k in range(rank, len(files), world_size):
            root, file = files[k]
            with self.track_time():
                self.encode_file(tok, root, file, k, fraction, dtype)

    def encode_file(self, tok, root: Path, file: Path, k: int, fraction: float, dtype: np.dtype) -> None:
        shards: dict[tuple[str, str], _ShardFile] = {}
        batch: list[tuple[tuple[str, str], str]] = []
        chars = 0

        def flush():
            encoded = tok.encode_batch([text for _, text in batch])
            by_shard: dict[tuple[str, str], list] = {}
            for (key, _), ids in zip(batch, encoded):
                by_shard.setdefault(key, []).append(ids)
            for key, docs in by_shard.items():
                if key not in shards:
                    shards[key] = _ShardFile(Path(self.out_dir) / key[0] / key[1] / f"{k:05d}.bin", dtype)
                shards[key].append(docs, tok.separator_id)
                self.stat_update(f"{key[1]}_documents", value=len(docs))
                self.stat_update(f"{key[1]}_tokens", value=sum(map(len, docs)) + len(docs))
            batch.clear()

        for doc in read_documents(file):
            if doc is None or not doc["text"]:
                self.stat_update("skipped_empty")
                continue
            split = "heldout" if is_heldout(doc["id"], fraction) else "train"
            batch.append(((source_of(root, file, doc), split), doc["text"]))
            chars += len(doc["text"])
            if chars >= BATCH_CHARS or len(batch) >= BATCH_DOCS:
                flush()
                chars = 0
        if batch:
            flush()
        for shard in shards.values():
            shard.close()


def _request(tok_dir: Path, inputs: list[str], tasks: int) -> dict:
    tok = json.loads((tok_dir / "card.json").read_text())
    return {
        "tokenizer": str(tok_dir.resolve()),
        "tokenizer_sha256": sha256_file(tok_dir / tok["tokenizer_file"]),
        "inputs": [str(Path(p).resolve()) for p in inputs],
        "tasks": tasks,
    }


def collect_meta(out: Path, tok, request: dict) -> dict:
    """meta.json from the shards on disk: what the readers will find is what is counted."""
    sources: dict = {}
    for source_dir in sorted(p for p in out.iterdir() if p.is_dir() and p.name != "logs"):
        entry = {}
        for split in SPLITS:
            shards = []
            for bin_path in sorted((source_dir / split).glob("*.bin")):
                idx = np.load(bin_path.with_name(bin_path.name[:-4] + ".idx.npy"))
                shards.append({"file": bin_path.name, "documents": len(idx) - 1, "tokens": int(idx[-1])})
            entry[split] = {
                "documents": sum(s["documents"] for s in shards),
                "tokens": sum(s["tokens"] for s in shards),
                "shards": shards,
            }
        sources[source_dir.name] = entry
    dtype = token_dtype(tok.vocab_size)
    return {
        "format": "curate token shards v1",
        "dtype": dtype.name,
        "vocab_size": tok.vocab_size,
        "separator": tok.card["separator"],
        "separator_id": tok.separator_id,
        "separator_placement": "after every document",
        "tokenizer": request["tokenizer"],
        "tokenizer_file": tok.card["tokenizer_file"],
        "tokenizer_sha256": request["tokenizer_sha256"],
        "inputs": request["inputs"],
        "heldout": {"fraction": tok.card["heldout"]["fraction"], "rule": HELDOUT_RULE},
        "order": "a source's documents: its shards in file-name order (the input file's position in the sorted "
                 "input list), within a shard in input order",
        "sources": sources,
        "totals": {split: {"documents": sum(s[split]["documents"] for s in sources.values()),
                           "tokens": sum(s[split]["tokens"] for s in sources.values())} for split in SPLITS},
    }


class TokenMeta(PipelineStep):
    """The job after the shards: meta.json from the shards on disk (`collect_meta`)."""

    name = "token shards: meta.json"
    light = True  # see curate.pipeline.run_recipe
    type = "curate tokenizer"

    def __init__(self, tokenizer_dir: str, inputs: list[str], out_dir: str, tasks: int):
        super().__init__()
        self.tokenizer_dir, self.inputs, self.out_dir, self.tasks = str(tokenizer_dir), inputs, str(out_dir), tasks

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        out = Path(self.out_dir)
        tok = load_tokenizer(self.tokenizer_dir)
        meta = collect_meta(out, tok, _request(Path(self.tokenizer_dir), self.inputs, self.tasks))
        write_json_atomic(out / "meta.json", meta)
        self.stat_update("documents", value=sum(t["documents"] for t in meta["totals"].values()))
        self.stat_update("tokens", value=sum(t["tokens"] for t in meta["totals"].values()))
        return iter(())


class Tokenize(Barrier):
    """`tokenize: {tokenizer: DIR}`, the last step of a recipe: the final corpus as token shards in OUT/tokens,
    with the tokenizer that `curate tokenizer train` wrote to DIR."""

    def __init__(self, tokenizer: str):
        self.tokenizer = str(tokenizer)
        load_tokenizer(self.tokenizer)  # a wrong folder is a config error now, not a failed job later

    def index_jobs(self, inputs: list[str], work: str, pending: list, tasks: int) -> list[tuple[str, list, int]]:
        return [("", [TokenShardWriter(self.tokenizer, inputs, work)], tasks),
                ("meta", [TokenMeta(self.tokenizer, inputs, work, tasks)], 1)]

    def apply_stage(self, work: str):
        raise TypeError("tokenize changes no document: it is the recipe's last job")


def tokenize_corpus(tokenizer_dir: str, inputs: list[str], out_dir: str, tasks: int = 1, workers: int = 1,
                    overwrite: bool = False) -> dict:
    """Encodes every document under `inputs` (folders of curate parquet shards, or parquet/JSONL files) with
    the tokenizer in `tokenizer_dir` into token shards under `out_dir`, writes `out_dir/meta.json` and
    returns it. Running it again on the same `out_dir` with the same tokenizer, inputs and tasks resumes
    (finished tasks are skipped); anything else there is refused unless `overwrite`."""
    from curate.executors import run_job

    if tasks < 1 or workers < 1:
        raise ValueError(f"tasks and workers must be at least 1 (got tasks={tasks}, workers={workers})")
    tok_dir, out = Path(tokenizer_dir), Path(out_dir)
    tok = load_tokenizer(str(tok_dir))
    inputs = [str(p) for p in ([inputs] if isinstance(inputs, (str, os.PathLike)) else inputs)]
    corpus_files(inputs)  # a clear error now for a missing or empty input, not one per task
    request = _request(tok_dir, inputs, tasks)
    marker = out / "request.json"
    if out.exists() and any(out.iterdir()):
        same = marker.is_file() and json.loads(marker.read_text()) == request
        if overwrite:
            shutil.rmtree(out)
        elif not same:
            raise ValueError(f"{out}: not empty and not a run of this tokenizer on these inputs with tasks={tasks}; "
                             "choose another output folder or pass overwrite=True (--overwrite)")
    out.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(request, indent=2) + "\n")
    run_job([TokenShardWriter(str(tok_dir), inputs, str(out))], tasks, workers, str(out / "logs" / "shards"))
    run_job([TokenMeta(str(tok_dir), inputs, str(out), tasks)], 1, 1, str(out / "logs" / "meta"))
    return json.loads((out / "meta.json").read_text())


# --- reading: the one reader of the format above (training, evaluation, the ablation and the exports use these)


def read_meta(source_dir: Path) -> dict:
    """meta.json of the token shards a source folder (tokens/<source>) belongs to."""
    path = Path(source_dir).parent / "meta.json"
    if not path.is_file():
        raise ValueError(f"{source_dir}: no meta.json in {path.parent}; expected a source folder of token shards "
                         "written by `curate tokenize` (tokens/<source>/{train,heldout}/*.bin)")
    return json.loads(path.read_text())


def resolve_sources(data: "dict[str, str] | str") -> dict[str, Path]:
    """source -> source folder, from a dict of source -> folder (the source folder itself, or a token shards
    root that has a folder of that name) or from one token shards root (every source in its meta.json)."""
    if isinstance(data, (str, Path)):
        root = Path(data)
        if not (root / "meta.json").is_file():
            raise ValueError(f"{root}: no meta.json; expected the output folder of `curate tokenize`")
        meta = json.loads((root / "meta.json").read_text())
        return {s: root / s for s in sorted(meta["sources"])}
    out = {}
    for source, folder in data.items():
        folder = Path(folder)
        if (folder / "meta.json").is_file() and (folder / source).is_dir():
            folder = folder / source
        if not (folder / "train").is_dir() and not (folder / "heldout").is_dir():
            raise ValueError(f"source {source!r}: {folder} has no train/ or heldout/ folder of token shards")
        out[source] = folder
    return out


def shard_files(source_dir: Path, split: str) -> list[Path]:
    """The .bin shards of one source folder and split, in order (a source's documents are its shards in order)."""
    return sorted((Path(source_dir) / split).glob("*.bin"))


def shard_documents(source_dir: Path, split: str) -> list[tuple[np.ndarray, int, int]]:
    """(shard tokens, start, end) of every document of a source folder's split, in order; end includes the
    separator that follows the document."""
    docs = []
    for bin_path in shard_files(source_dir, split):
        tokens, offsets = load_shard(str(bin_path))
        if len(tokens):
            docs += [(tokens, int(a), int(b)) for a, b in zip(offsets[:-1], offsets[1:]) if b > a]
    return docs


def split_tokens(source_dir: Path, split: str) -> int:
    """Tokens of a source folder's split, from meta.json (counted from the shards when meta.json has no entry)."""
    meta = read_meta(Path(source_dir))
    entry = meta.get("sources", {}).get(Path(source_dir).name)
    if entry is not None:
        return int(entry[split]["tokens"])
    return int(sum(np.memmap(p, dtype=meta["dtype"], mode="r").shape[0] for p in shard_files(source_dir, split)))


def meta_sha256(source_dir: Path) -> str:
    """The fingerprint of the token shards a source folder belongs to (its meta.json's sha256)."""
    return sha256_file(Path(source_dir).parent / "meta.json")


def load_shard(bin_path: str) -> tuple[np.ndarray, np.ndarray]:
    """(tokens, offsets) of one shard, the tokens mapped from disk; document i is
    tokens[offsets[i]:offsets[i+1]] (its last token is the separator)."""
    bin_path = Path(bin_path)
    meta = json.loads((bin_path.parents[2] / "meta.json").read_text())
    tokens = np.memmap(bin_path, dtype=np.dtype(meta["dtype"]), mode="r")
    offsets = np.load(bin_path.with_name(bin_path.name[: -len(".bin")] + ".idx.npy"))
    return tokens, offsets
