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

This module is the format's one owner: it writes it, and its reader, `TokenShards.open(folder or source ->
folder)`, checks meta.json and the shards it lists once and is what training, evaluation, the ablation and
the datatrove export receive; none of them finds shard files or reads meta.json itself.

Each task is a datatrove `PipelineStep`; task `rank` encodes input files rank, rank + tasks, ... and writes
each shard under a temporary name renamed when complete; a one-task job then writes meta.json. In a recipe,
`tokenize: {tokenizer: DIR}` as the last step runs both jobs on the run's executor over OUT/data, into
OUT/tokens (`Tokenize`); `curate tokenize` runs them on local processes.
"""

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import NamedTuple

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

    def append(self, docs: list, separator: int) -> None:
        """Documents as lists or arrays of token ids, each followed by the separator."""
        sep = np.array([separator], dtype=self.dtype)
        parts = []
        for ids in docs:
            parts += [np.asarray(ids, dtype=self.dtype), sep]
            self.offsets.append(self.offsets[-1] + len(ids) + 1)
        if parts:
            np.concatenate(parts).tofile(self.f)

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


def _sources_on_disk(out: Path) -> dict:
    """Each source's counts per split, from the shards on disk: what the readers will find is what is counted."""
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
    return sources


def _meta(sources: dict, vocab_size: int, **fields) -> dict:
    return {
        "format": "curate token shards v1",
        "dtype": token_dtype(vocab_size).name,
        "vocab_size": vocab_size,
        **fields,
        "sources": sources,
        "totals": {split: {"documents": sum(s[split]["documents"] for s in sources.values()),
                           "tokens": sum(s[split]["tokens"] for s in sources.values())} for split in SPLITS},
    }


def collect_meta(out: Path, tok, request: dict) -> dict:
    """meta.json of a tokenized corpus, from the shards on disk."""
    return _meta(
        _sources_on_disk(out),
        tok.vocab_size,
        separator=tok.card["separator"],
        separator_id=tok.separator_id,
        separator_placement="after every document",
        tokenizer=request["tokenizer"],
        tokenizer_file=tok.card["tokenizer_file"],
        tokenizer_sha256=request["tokenizer_sha256"],
        inputs=request["inputs"],
        heldout={"fraction": tok.card["heldout"]["fraction"], "rule": HELDOUT_RULE},
        order="a source's documents: its shards in file-name order (the input file's position in the sorted "
              "input list), within a shard in input order",
    )


def write_token_arrays(out: Path, docs: dict[str, dict[str, list]], vocab_size: int, separator_id: int,
                       tokenizer: str) -> Path:
    """Token shards of documents given as token ids, {source: {split: [ids, ...]}}, one shard per split, with
    no tokenizer behind them (`tokenizer` says what made the ids): for benchmarks of the training loop."""
    for source, splits in docs.items():
        for split, arrays in splits.items():
            shard = _ShardFile(out / source / split / "00000.bin", token_dtype(vocab_size))
            shard.append(arrays, separator_id)
            shard.close()
    meta = _meta(_sources_on_disk(out), vocab_size, separator="<|endoftext|>", separator_id=separator_id,
                 separator_placement="after every document", tokenizer=tokenizer, tokenizer_sha256="0" * 64)
    write_json_atomic(out / "meta.json", meta)
    return out


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


# --- reading: the one reader of the format above. Training, evaluation, the ablation and the exports receive a
# `TokenShards` (opened once, where a path comes in) and never look for shard files themselves.

FORMAT = "curate token shards v1"
# What the readers use from meta.json; a meta.json without one of them is refused when opened.
READ_FIELDS = ("format", "dtype", "vocab_size", "separator_id", "tokenizer", "tokenizer_sha256", "sources")


def _read_meta(root: Path, why: str) -> tuple[dict, str]:
    """(meta.json of the token shards folder `root`, its sha256), checked for what the readers use; `why`
    starts the message when there is none."""
    path = root / "meta.json"
    if not path.is_file():
        raise ValueError(f"{why}; expected the output folder of `curate tokenize` (meta.json and "
                         "<source>/{train,heldout}/*.bin)")
    raw = path.read_bytes()
    try:
        meta = json.loads(raw)
    except ValueError as e:
        raise ValueError(f"{path}: not valid JSON ({e}); run `curate tokenize` again") from None
    if not isinstance(meta, dict) or (missing := [k for k in READ_FIELDS if k not in meta]):
        got = f"missing {missing}" if isinstance(meta, dict) else f"a {type(meta).__name__}"
    elif meta["format"] != FORMAT:
        got = f"format {meta['format']!r}"
    elif meta["dtype"] not in ("uint16", "uint32"):
        got = f"dtype {meta['dtype']!r}"
    elif not isinstance(meta["sources"], dict):
        got = "sources is not a mapping"
    else:
        return meta, hashlib.sha256(raw).hexdigest()
    raise ValueError(f"{path}: not a meta.json of {FORMAT!r} ({got}); run `curate tokenize` again")


class Shard(NamedTuple):
    """One .bin file of a source and split, as its meta.json lists it."""

    path: Path
    documents: int
    tokens: int


class TokenSource:
    """One source of opened token shards: its folder (tokens/<source>), the meta.json of the folder above it
    and its shards per split, in order (a source's documents are its shards' documents in order)."""

    def __init__(self, name: str, folder: Path, meta: dict, meta_sha256: str):
        self.name, self.folder, self.meta, self.meta_sha256 = name, folder, meta, meta_sha256
        self.root = folder.parent
        entry = meta["sources"].get(folder.name)
        if entry is None:
            raise ValueError(f"source {name!r}: {folder} is not listed in {self.root / 'meta.json'} (its sources: "
                             f"{sorted(meta['sources'])}); run `curate tokenize` again")
        self.dtype = np.dtype(meta["dtype"])
        try:
            self._shards = {split: [Shard(folder / split / s["file"], int(s["documents"]), int(s["tokens"]))
                                    for s in entry.get(split, {}).get("shards", [])] for split in SPLITS}
        except (AttributeError, KeyError, TypeError, ValueError):
            raise ValueError(f"{self.root / 'meta.json'}: the entry of source {folder.name!r} is not as `curate "
                             "tokenize` writes it; run `curate tokenize` again") from None
        for shard in (s for shards in self._shards.values() for s in shards):
            if not shard.path.is_file() or not _index_path(shard.path).is_file():
                missing = shard.path if not shard.path.is_file() else _index_path(shard.path)
                raise ValueError(f"{missing}: missing, though {self.root / 'meta.json'} lists it; run `curate "
                                 "tokenize` again")
            if (size := shard.path.stat().st_size) != shard.tokens * self.dtype.itemsize:
                raise ValueError(f"{shard.path}: {size} bytes, its meta.json says {shard.tokens} tokens of "
                                 f"{self.dtype.itemsize} bytes; run `curate tokenize` again")

    def __repr__(self) -> str:
        return f"TokenSource({self.name!r}, {str(self.folder)!r})"

    def shards(self, split: str) -> list[Shard]:
        return self._shards[split]

    def tokens(self, split: str) -> int:
        return sum(s.tokens for s in self._shards[split])

    def documents(self, split: str) -> int:
        return sum(s.documents for s in self._shards[split])

    def load(self, shard: Shard) -> tuple[np.ndarray, np.ndarray]:
        """(tokens, offsets) of one shard, the tokens mapped from disk; document i is
        tokens[offsets[i]:offsets[i+1]] (its last token is the separator)."""
        offsets = np.load(_index_path(shard.path))
        if len(offsets) != shard.documents + 1 or offsets[-1] != shard.tokens:
            raise ValueError(f"{_index_path(shard.path)}: {len(offsets) - 1} documents ending at token {offsets[-1]}, "
                             f"its meta.json says {shard.documents} documents of {shard.tokens} tokens; run `curate "
                             "tokenize` again")
        return np.memmap(shard.path, dtype=self.dtype, mode="r"), offsets

    def arrays(self, split: str) -> list[np.ndarray]:
        """The token arrays (mapped from disk) of the split's non-empty shards, in order."""
        return [np.memmap(s.path, dtype=self.dtype, mode="r") for s in self._shards[split] if s.tokens]

    def spans(self, split: str) -> list[tuple[np.ndarray, int, int]]:
        """(shard tokens, start, end) of every document of the split, in order; end includes the separator
        that follows the document."""
        docs = []
        for shard in self._shards[split]:
            if shard.tokens:
                tokens, offsets = self.load(shard)
                docs += [(tokens, int(a), int(b)) for a, b in zip(offsets[:-1], offsets[1:]) if b > a]
        return docs


def _index_path(bin_path: Path) -> Path:
    return bin_path.with_name(bin_path.name[: -len(".bin")] + ".idx.npy")


class TokenShards:
    """Token shards opened for reading: source name -> `TokenSource`, every meta.json read and checked once
    (listed shards present at their size, one tokenizer for all sources).

        shards = TokenShards.open("tokens/")                                # every source of one folder
        shards = TokenShards.open({"web": "tokens/web", "books": "b/tokens"})  # a source folder or its root
        shards["web"].spans("heldout"), shards.vocab_size, shards.tokenizer

    Nothing is mapped until asked for, so the object is cheap to pickle (a Ray task receives it as it is)."""

    def __init__(self, sources: dict[str, TokenSource]):
        if not sources:
            raise ValueError("no sources of token shards given")
        self.sources = dict(sorted(sources.items()))
        first = next(iter(self.sources.values()))
        for s in self.sources.values():
            if s.meta["tokenizer_sha256"] != first.meta["tokenizer_sha256"]:
                raise ValueError(f"source {s.name!r}: its token shards were made by another tokenizer than "
                                 f"{first.name!r}'s ({s.meta['tokenizer_sha256'][:12]} vs "
                                 f"{first.meta['tokenizer_sha256'][:12]}); re-tokenize")
        meta = first.meta
        self.dtype = np.dtype(meta["dtype"])
        self.vocab_size, self.separator_id = int(meta["vocab_size"]), int(meta["separator_id"])
        self.tokenizer, self.tokenizer_sha256 = meta["tokenizer"], meta["tokenizer_sha256"]

    @classmethod
    def open(cls, data: "TokenShards | str | os.PathLike | dict[str, str | os.PathLike]") -> "TokenShards":
        """From the output folder of `curate tokenize` (every source in it), or from source -> folder where a
        folder is the source's own (tokens/<source>) or the output folder that has it. An opened one is
        returned as it is."""
        if isinstance(data, TokenShards):
            return data
        metas: dict[Path, tuple[dict, str]] = {}

        def meta_of(root: Path, why: str) -> tuple[dict, str]:
            if root not in metas:
                metas[root] = _read_meta(root, why)
            return metas[root]

        if isinstance(data, (str, os.PathLike)):
            root = Path(data)
            meta, sha = meta_of(root, f"{root}: no meta.json")
            return cls({s: TokenSource(s, root / s, meta, sha) for s in meta["sources"]})
        if not isinstance(data, dict):
            raise ValueError(f"token shards: expected a folder or a mapping source -> folder, got {data!r}")
        sources = {}
        for name, folder in data.items():
            folder = Path(folder)
            if (folder / "meta.json").is_file() and (folder / name).is_dir():
                folder = folder / name
            if not (folder / "train").is_dir() and not (folder / "heldout").is_dir():
                raise ValueError(f"source {name!r}: {folder} has no train/ or heldout/ folder of token shards")
            meta, sha = meta_of(folder.parent, f"source {name!r}: no meta.json in {folder.parent}")
            sources[name] = TokenSource(name, folder, meta, sha)
        return cls(sources)

    def __getitem__(self, name: str) -> TokenSource:
        return self.sources[name]

    def __iter__(self):
        return iter(self.sources)

    def __len__(self) -> int:
        return len(self.sources)

    def __repr__(self) -> str:
        return f"TokenShards({self.folders()!r})"

    def folders(self) -> dict[str, str]:
        """source -> its folder, as opened."""
        return {s: str(src.folder) for s, src in self.sources.items()}

    def select(self, names) -> "TokenShards":
        """The same shards with only the sources in `names` (some of them)."""
        names = set(names)
        if not names & set(self.sources):
            raise ValueError(f"none of {sorted(names)} is a source of these token shards ({sorted(self.sources)})")
        return TokenShards({s: src for s, src in self.sources.items() if s in names})

    def load_tokenizer(self):
        """The tokenizer these shards were made with (the folder meta.json names)."""
        return load_tokenizer(self.tokenizer)
