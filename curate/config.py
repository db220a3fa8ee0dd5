"""A pipeline config (plain YAML) -> readers, stages and a writer, each YAML mapping one-to-one onto a
constructor's arguments.

```yaml
name: demo
readers:
  - warc: {path: "{data}/web", source: web}       # {data} is curate's bundled sample folder
  - books: {path: "{data}/books", source: books}
steps:
  - html_extract: {timeout: 5}
  - length_filter: {min_words: 50}
  - minhash_dedup: {threshold: 0.8}     # a barrier: the runner splits the recipe into passes (curate.recipe)
writer:
  parquet: {max_file_size: 1073741824}
slurm: {partition: cpu, time: "04:00:00"}  # only for --executor slurm
```

Relative paths are taken relative to the config file, never to the working directory. `{name}` in a string
argument is a variable: `{data}` is the bundled sample folder, others come from `curate run --var name=VALUE`.
A step may take `sources: [web]` to apply to the documents of those sources only.
"""

import importlib
import inspect
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

DATA_DIR = Path(__file__).parent / "data"


class ConfigError(ValueError):
    pass


class Registry(Mapping):
    """Step names -> classes, imported on first use: checking a config for unknown names costs no import, and
    a pipeline imports only the libraries its own steps need (presidio and spaCy alone take seconds)."""

    def __init__(self, paths: dict[str, str]):
        self._paths = paths

    def __getitem__(self, name: str):
        module, _, cls = self._paths[name].partition(":")
        return getattr(importlib.import_module(module), cls)

    def __contains__(self, name) -> bool:  # Mapping's would import the class
        return name in self._paths

    def __iter__(self):
        return iter(self._paths)

    def __len__(self):
        return len(self._paths)


READERS = Registry({
    "warc": "curate.io.warc:WarcReader",
    "jsonl": "curate.io.jsonl:JsonlReader",
    "parquet": "curate.io.parquet:ParquetReader",
    "books": "curate.io.books:BookReader",
})
STEPS = Registry({
    "url_filter": "curate.quality.urls:URLFilter",
    "html_extract": "curate.extract:HtmlExtract",
    "length_filter": "curate.quality.length:LengthFilter",
    "gopher_repetition": "curate.quality.heuristics:GopherRepetition",
    "gopher_quality": "curate.quality.heuristics:GopherQuality",
    "c4_quality": "curate.quality.heuristics:C4Quality",
    "fineweb_quality": "curate.quality.heuristics:FineWebQuality",
    "language": "curate.quality.langid:LanguageFilter",
    "quality_classifier": "curate.quality.classifier:FastTextQualityFilter",
    "pii": "curate.pii.scrubber:PIIScrubber",
    "sentence_dedup": "curate.dedup.sentence:SentenceDedup",
    "dataset_dedup": "curate.dedup.dataset:DatasetDedup",
    # barriers: the recipe runner ends a pass before them (curate.recipe)
    "minhash_dedup": "curate.dedup.document:MinhashDedup",
    "tokenize": "curate.tokenizer.shards:Tokenize",
})
WRITERS = Registry({"parquet": "curate.io.writer:ShardWriter"})


def reader_classes() -> Mapping:
    return READERS


def step_classes() -> Mapping:
    return STEPS


def writer_classes() -> Mapping:
    return WRITERS


@dataclass
class PipelineConfig:
    name: str
    path: Path
    readers: list[tuple[str, dict]]
    steps: list[tuple[str, dict]]
    writer: tuple[str, dict]
    slurm: dict | None = None  # SlurmPipelineExecutor's options for `--executor slurm` (curate.executors)


def _entry(item, where: str, noun: str, registry: dict, file: Path, reserved: tuple = ()) -> tuple[str, dict]:
    """One `- kind: {args}` entry, validated against the constructor of `kind`."""
    if isinstance(item, str):
        item = {item: {}}
    if not isinstance(item, dict) or len(item) != 1:
        raise ConfigError(f"{file}: {where}: expected one `name: {{arguments}}` mapping, got {item!r}")
    (kind, args), = item.items()
    args = args or {}
    if kind not in registry:
        raise ConfigError(f"{file}: {where}: unknown {noun} {kind!r}; known: {sorted(registry)}")
    if not isinstance(args, dict):
        raise ConfigError(f"{file}: {where} ({kind}): arguments must be a mapping, got {args!r}")
    params = inspect.signature(registry[kind].__init__).parameters
    accepted = {p for p in params if p not in ("self", "output_folder")} | set(reserved)
    if unknown := sorted(set(args) - accepted):
        raise ConfigError(f"{file}: {where} ({kind}): unknown argument(s) {unknown}; accepted: {sorted(accepted)}")
    required = {
        p.name
        for p in params.values()
        if p.default is inspect.Parameter.empty and p.name not in ("self", "output_folder")
        and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)
    }
    if missing := sorted(required - set(args)):
        raise ConfigError(f"{file}: {where} ({kind}): missing required argument(s) {missing}")
    return kind, dict(args)


def type_error(value, annotation) -> str | None:
    """Why `value` (from YAML) does not fit the constructor annotation `annotation`, or None if it does.
    Annotations this does not know (a class, a callable) accept anything: the constructor checks those."""
    if annotation is inspect.Parameter.empty or annotation is typing.Any:
        return None
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        reasons = [type_error(value, a) for a in args]
        return None if None in reasons else "expected " + " or ".join(r.removeprefix("expected ") for r in reasons)
    if annotation is type(None):
        return None if value is None else "expected null"
    if annotation is bool:
        return None if isinstance(value, bool) else "expected true or false"
    if annotation is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else "expected an integer"
    if annotation is float:
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "expected a number"
    if annotation is str:
        return None if isinstance(value, str) else "expected a string"
    if origin is list or annotation is list:
        if not isinstance(value, list):
            return "expected a list"
        inner = [r for v in value if args and (r := type_error(v, args[0]))]
        return f"{inner[0]} in the list" if inner else None
    if origin is dict or annotation is dict:
        if not isinstance(value, dict):
            return "expected a mapping"
        inner = [r for k, v in value.items() if args and (r := type_error(k, args[0]) or type_error(v, args[1]))]
        return f"{inner[0]} in the mapping" if inner else None
    if origin is typing.Literal:
        return None if value in args else f"expected one of {list(args)}"
    return None


def check_types(cls, args: dict, where: str) -> None:
    """Each argument against the annotation of `cls.__init__`, before anything is built or read: a wrong type
    found here names the file, the entry and the argument; found later it would be a traceback mid-run."""
    hints = typing.get_type_hints(cls.__init__)
    for key, value in args.items():
        if key in hints and (why := type_error(value, hints[key])):
            raise ConfigError(f"{where}.{key}: {why}, got {value!r}")


# Step arguments that name a file: taken relative to the config file like the readers' paths.
FILE_ARGUMENTS = ("model_path", "block_domains", "block_urls", "allow_domains", "tokenizer")
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def substitute(value, variables: dict[str, str], where: str):
    """`{name}` in a string argument -> the variable's value (`{data}` is the bundled sample folder)."""
    if isinstance(value, list):
        return [substitute(v, variables, where) for v in value]
    if not isinstance(value, str):
        return value

    def one(m: re.Match) -> str:
        if m.group(1) not in variables:
            raise ConfigError(f"{where}: unknown variable {m.group(0)}; pass it with --var {m.group(1)}=VALUE")
        return str(variables[m.group(1)])

    if (whole := PLACEHOLDER.fullmatch(value)) is not None:
        # `threshold: "{t}"` with --var t=0.5 is the number 0.5, as if it had been written in the file
        text = one(whole)
        try:
            parsed = yaml.safe_load(text)
        except yaml.YAMLError:
            return text
        return parsed if isinstance(parsed, (int, float, bool)) else text
    return PLACEHOLDER.sub(one, value)


def load_config(path: str | Path, variables: dict[str, str] | None = None) -> PipelineConfig:
    path = Path(path)
    variables = {"data": str(DATA_DIR), **(variables or {})}
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}: not valid YAML{where}: {getattr(e, 'problem', None) or e}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with readers, steps and writer")
    if unknown := sorted(set(raw) - {"name", "readers", "steps", "writer", "slurm"}):
        raise ConfigError(f"{path}: unknown top-level key(s) {unknown}; expected name, readers, steps, writer, slurm")
    readers = raw.get("readers") or []
    if not readers:
        raise ConfigError(f"{path}: `readers` must list at least one reader")
    readers = [_entry(r, f"readers[{i}]", "reader", reader_classes(), path) for i, r in enumerate(readers)]
    steps = [_entry(s, f"steps[{i}]", "step", step_classes(), path, reserved=("sources",)) for i, s in enumerate(raw.get("steps") or [])]
    for section, entries, registry in (("readers", readers, reader_classes()), ("steps", steps, step_classes())):
        for i, (kind, args) in enumerate(entries):
            where = f"{path}: {section}[{i}] ({kind})"
            for key, value in args.items():
                args[key] = substitute(value, variables, f"{where}.{key}")
            check_types(registry[kind], {k: v for k, v in args.items() if k != "sources"}, where)
    for kind, args in readers:
        if "path" in args:
            args["path"] = resolve_path(args["path"], path.parent)
    sources = [args["source"] for _, args in readers]
    for i, (kind, args) in enumerate(steps):
        for key in FILE_ARGUMENTS:
            if isinstance(args.get(key), str):  # a file path, not a list given inline
                args[key] = resolve_path(args[key], path.parent)
        only = args.get("sources")
        if only is not None and (not isinstance(only, list) or not set(only) <= set(sources)):
            raise ConfigError(f"{path}: steps[{i}] ({kind}): `sources` must list reader sources {sources}, got {only!r}")
    writer = _entry(raw.get("writer") or "parquet", "writer", "writer", writer_classes(), path)
    check_types(writer_classes()[writer[0]], writer[1], f"{path}: writer ({writer[0]})")
    if len(set(sources)) != len(sources):
        raise ConfigError(f"{path}: each reader needs its own `source`; got {sources}")
    from curate.executors import check_slurm_options

    slurm = check_slurm_options(raw.get("slurm"), f"{path}: slurm")
    return PipelineConfig(raw.get("name") or path.stem, path, readers, steps, writer, slurm)


def resolve_path(value: str, base: Path) -> str:
    value = str(value)
    if "://" in value or Path(value).is_absolute():
        return value
    return str((base / value).resolve())


def override_inputs(config: PipelineConfig, inputs: dict[str, str]) -> None:
    """`--input SOURCE=PATH` replaces the path of the reader of that source."""
    by_source = {args["source"]: args for _, args in config.readers}
    for source, value in inputs.items():
        if source not in by_source:
            raise ConfigError(f"--input {source}=...: no reader has source {source!r}; sources: {sorted(by_source)}")
        by_source[source]["path"] = resolve_path(value, Path.cwd())


def build_entry(cls, args: dict, where: str):
    """`cls(**args)`; a value the constructor refuses becomes a ConfigError naming the entry."""
    try:
        return cls(**args)
    except (ValueError, TypeError, FileNotFoundError) as e:
        raise ConfigError(f"{where}: {e}") from None
