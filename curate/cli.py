"""The `curate` command. Thin: parse arguments, call one function, print where the results are.

Heavy libraries (datatrove, ray, torch, presidio) are imported inside the commands, so `curate --help`
answers at once.
"""

import argparse
import json
import shutil
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = REPO_ROOT / "pipelines" / "demo.yaml"
DEMO_FINAL_CONFIG = REPO_ROOT / "pipelines" / "demo-final.yaml"
DEMO_TOKENIZER = REPO_ROOT / "tokenizer_training" / "demo-bpe-4k.yaml"
DEMO_ABLATION = REPO_ROOT / "pipelines" / "ablation-demo.yaml"
EVAL_TASKS = Path(__file__).resolve().parent / "data" / "tasks"

EXAMPLES = """examples:
  curate demo                            # the whole flow on the bundled sample
  curate run pipelines/web.yaml -o out/web --tasks 8 --workers 2
  curate run pipelines/web.yaml --input web=/data/crawl/ -o out/crawl \\
      --executor slurm --slurm partition=cpu --slurm time=04:00:00
  curate report out/web
"""


class UsageError(ValueError):
    """A mistake in the command line: `main` prints it as one line and exits with 2, like every user error."""


def _pairs(values: list[str], flag: str) -> dict[str, str]:
    pairs = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep or not key or not value:
            raise UsageError(f"{flag} expects NAME=VALUE, got {v!r}")
        pairs[key] = value
    return pairs


def _slurm_options(values: list[str], sbatch: list[str]) -> dict | None:
    """`--slurm partition=cpu --slurm cpus_per_task=2 --sbatch account=lab` -> SlurmPipelineExecutor options."""
    from curate.executors import SLURM_OPTIONS, check_slurm_options

    options = {}
    for key, value in _pairs(values, "--slurm").items():
        kind = SLURM_OPTIONS.get(key, str)
        try:
            options[key] = kind(value) if kind in (int, str) else value
        except ValueError:
            raise UsageError(f"--slurm {key}={value}: expected {kind.__name__}") from None
    if sbatch:
        options["sbatch_args"] = _pairs(sbatch, "--sbatch")
    return check_slurm_options(options, "--slurm") if options else None


def cmd_run(args) -> None:
    from curate.pipeline import run_pipeline
    from curate.report import write_report

    summary = run_pipeline(
        args.config,
        args.out,
        executor=args.executor,
        tasks=args.tasks,
        workers=args.workers,
        ray_address=args.ray_address,
        inputs=_pairs(args.input, "--input"),
        overwrite=args.overwrite,
        variables=_pairs(args.var, "--var"),
        slurm=_slurm_options(args.slurm, args.sbatch),
        scratch=args.scratch,
        display="verbose" if args.verbose else "quiet" if args.quiet else "progress",
    )
    if "submitted" in summary:
        print(f"submitted to Slurm: {len(summary['submitted'])} jobs ({', '.join(summary['submitted'])}), each after "
              f"the one before\nlogs: {summary['logs']}/<job>/\nwhen the last is done: curate report {args.out}")
        return
    from curate.io.paths import is_remote

    # the report is drawn from a local copy of OUT; on a store, stats.json has every figure
    md = f"{args.out}/stats.json (curate report works on a local copy)" if is_remote(args.out) else write_report(args.out)[0]
    t = summary["totals"]
    passes = summary["passes"]
    print(
        f"{t['records']} records: {t['kept']} kept, {t['removed']} removed, {t['quarantined']} quarantined "
        f"in {summary['wall_s']} s ({len(passes)} pass{'es' if len(passes) > 1 else ''})\n"
        f"output: {Path(args.out) / 'data'}\nreport: {md}"
    )
    for line in error_lines(summary):
        print(f"warning: {line}", file=sys.stderr)


def error_lines(summary: dict) -> list[str]:
    """One line per stage or source where records met an error rather than a rule: a bug in a step, or input
    no reader could make sense of. Those records are counted and kept aside, but a person should look."""
    lines = []
    for s in summary["stages"]:
        if n := s.get("removed_reasons", {}).get("stage_error"):
            lines.append(f"{n} document(s) made step {s['stage']} raise; see removed/{s['stage']}/ (reason stage_error)")
        for reason in ("record_error", "unreadable_file", "truncated_or_corrupt_file"):
            if n := s.get("quarantine_reasons", {}).get(reason):
                lines.append(f"{n} {reason} in source {s['source']}; see quarantine/{s['source']}/")
    return lines


def cmd_report(args) -> None:
    from curate.report import write_report

    md, png = write_report(args.out)
    print(f"report: {md}\nchart:  {png}")


def cmd_demo(args) -> None:
    """The flow on the bundled sample: two recipes (pipelines/demo.yaml, pipelines/demo-final.yaml), and between
    them what needs the cleaned corpus as a whole: a quality classifier and a tokenizer trained on it."""
    if not DEMO_CONFIG.is_file():
        raise UsageError(f"{DEMO_CONFIG} not found; run it from a source checkout (git clone, make demo)")
    from curate.ablate import ablate
    from curate.pipeline import run_pipeline
    from curate.quality.calibrate import inspect_corpus
    from curate.quality.classifier import train_classifier
    from curate.report import write_report
    from curate.tokenizer import evaluate_tokenizers, train_tokenizer

    out = Path(args.out)
    if out.exists() and not (out / "corpus").exists() and any(out.iterdir()):
        raise UsageError(f"{out} exists and is not a demo output; choose another -o")
    corpus, final, model, tok_dir = out / "corpus", out / "final", out / "quality.bin", out / "tokenizer"
    for stale in (out / "ablation",):  # the ablation resumes instead of starting over; the demo starts over
        if stale.exists():
            shutil.rmtree(stale)
    run = {"tasks": args.tasks, "workers": args.workers, "overwrite": True}

    print(f"[1/6] {DEMO_CONFIG.relative_to(REPO_ROOT)}: extraction, PII, filters, near-duplicate documents, "
          f"decontamination, repeated paragraphs -> {corpus}/")
    summary = run_pipeline(str(DEMO_CONFIG), str(corpus), **run)
    md, _ = write_report(corpus)
    print(f"[2/6] quality classifier: wiki + books (positive) vs web (negative) -> {model}")
    card = train_classifier([str(corpus / "data" / "wiki"), str(corpus / "data" / "books")],
                            [str(corpus / "data" / "web")], str(model))
    print(f"[3/6] {DEMO_TOKENIZER.relative_to(REPO_ROOT)}: byte-level BPE on the corpus -> {tok_dir}/")
    tok_card = train_tokenizer(str(DEMO_TOKENIZER), [str(corpus / "data")], str(tok_dir))
    evaluate_tokenizers([str(tok_dir)], [str(corpus / "data")])
    print(f"[4/6] {DEMO_FINAL_CONFIG.relative_to(REPO_ROOT)}: quality scores, token shards -> {final}/")
    run_pipeline(str(DEMO_FINAL_CONFIG), str(final), **run, variables={
        "corpus": str((corpus / "data").resolve()), "model": str(model.resolve()), "tokenizer": str(tok_dir.resolve())})
    write_report(final)
    first_pass = corpus / "passes" / "1" / "data"
    print(f"[5/6] threshold calibration of the heuristic rules on the filtered text -> {out / 'inspect'}/")
    inspect_md = inspect_corpus([str(first_pass)], str(out / "inspect"), config=str(DEMO_CONFIG))
    print(f"[6/6] {DEMO_ABLATION.relative_to(REPO_ROOT)}: proxies over three mixtures and the natural one -> "
          f"{out / 'ablation'}/")
    tokens = final / "tokens"
    abl = ablate(str(DEMO_ABLATION), out_dir=str(out / "ablation"), overrides={"tokens": str(tokens.resolve())},
                 threads=1)
    t, m = summary["totals"], card["metrics"]
    reasons = {}
    for s in summary["stages"]:
        for reason, n in s.get("removed_reasons", {}).items():
            reasons[s["stage"]] = reasons.get(s["stage"], 0) + n
    removed = ", ".join(f"{n} by {stage}" for stage, n in reasons.items())
    from curate.tokenizer import TokenShards

    dtype = TokenShards.open(tokens).dtype
    print(
        f"\n{t['records']} records read: {t['kept']} kept, {t['removed']} removed ({removed}), "
        f"{t['quarantined']} quarantined\n"
        f"  corpus (parquet):     {final / 'data'}/<source>/*.parquet (quality_score on web pages)\n"
        f"  removed, with reasons: {corpus / 'removed'}/<stage>/\n"
        f"  quarantined records:  {corpus / 'quarantine'}/<source>/*.jsonl.gz\n"
        f"  report:               {md}\n"
        f"  quality classifier:   {model} (held-out ROC AUC {m['roc_auc']}, card {model}.json)\n"
        f"  threshold evidence:   {inspect_md}\n"
        f"  tokenizer:            {tok_dir} ({tok_card['vocab_size']} tokens; report {tok_dir / 'report.md'})\n"
        f"  token shards:         {tokens}/<source>/{{train,heldout}}/*.bin ({dtype}; {tokens / 'meta.json'})\n"
        f"  mixture ablation:     {out / 'ablation' / 'report.md'} ({abl['finished']} proxies)"
    )


def cmd_quality_train(args) -> None:
    if args.graded:
        if args.positive or args.negative:
            raise UsageError("give --graded, or --positive and --negative, not both")
        from curate.quality.graded import train_graded

        card = train_graded(args.graded, args.out, seed=args.seed, holdout=args.holdout)
        m = card["metrics"] or {}
        print(f"grades: {card['grade_histogram']}\nheld-out: accuracy {m.get('accuracy')}, "
              f"Spearman {m.get('spearman')}\nmodel: {args.out}\ncard:  {args.out}.json")
        return
    if not (args.positive and args.negative):
        raise UsageError("give --positive and --negative (or --graded LABELS.jsonl)")
    from curate.quality.classifier import train_classifier

    card = train_classifier(args.positive, args.negative, args.out, seed=args.seed, holdout=args.holdout,
                            max_docs_per_class=args.max_docs_per_class)
    m = card["metrics"]
    print(f"held-out: precision {m['precision']:.3f}, recall {m['recall']:.3f}, ROC AUC {m['roc_auc']:.3f}; "
          f"suggested threshold {card['suggested_threshold']}\nmodel: {args.out}\ncard:  {args.out}.json")


def cmd_quality_inspect(args) -> None:
    from curate.quality.calibrate import inspect_corpus

    md = inspect_corpus(args.paths, args.out, config=args.config, max_docs=args.max_docs)
    print(f"calibration report: {md}\nsignals of every document: {md.parent / 'signals.parquet'}")


def cmd_tokenizer_train(args) -> None:
    from curate.tokenizer import evaluate_tokenizers, train_tokenizer

    out = args.out or f"tokenizer-{Path(args.recipe).stem}"
    card = train_tokenizer(args.recipe, args.input, out)
    evaluate_tokenizers([out, *args.compare], args.input)
    print(f"tokenizer: {out} ({card['vocab_size']} tokens, {card['time_s']} s)\n"
          f"report:    {Path(out) / 'report.md'} (held-out bytes per token and fertility per source)")


def cmd_tokenize(args) -> None:
    from curate.tokenizer import tokenize_corpus

    meta = tokenize_corpus(args.tokenizer, args.input, args.out, tasks=args.tasks, workers=args.workers,
                           overwrite=args.overwrite)
    print(f"token shards: {args.out} ({meta['dtype']}); meta: {Path(args.out) / 'meta.json'}")
    if args.datatrove:
        from curate.tokenizer.export import export_datatrove

        export_datatrove(args.out, args.datatrove)
        print(f"datatrove tokenized files (nanotron reads them): {args.datatrove}/<source>/<split>/")


def _data_and_weights(data: str, weights: str) -> tuple[dict[str, str], dict[str, float]]:
    """`web=DIR,books=DIR` and `0.7,0.3` (in the same order) -> {source: dir}, {source: weight}."""
    dirs = _pairs(data.split(","), "--data")
    try:
        values = [float(w) for w in weights.split(",")]
    except ValueError:
        raise UsageError(f"--weights expects numbers separated by commas, got {weights!r}") from None
    if len(values) != len(dirs):
        raise UsageError(f"{len(dirs)} sources in --data but {len(values)} weights in --weights")
    return dirs, dict(zip(dirs, values))


def cmd_train(args) -> None:
    from curate.train import train

    data, weights = _data_and_weights(args.data, args.weights)
    card = train(data, weights, depth=args.depth, tokens=args.tokens, out_dir=args.out, seq_len=args.seq_len,
                 batch_size=args.batch_size, seed=args.seed, device=args.device, command=sys.argv)
    print(f"run: {args.out} (final loss {card.get('final_loss')}); loss curve {Path(args.out) / 'loss.png'}")


def cmd_eval(args) -> None:
    from curate.evaluate import evaluate_run

    scores = evaluate_run(args.run, tasks=args.task or None, seed=args.seed, device=args.device)
    if args.finetune:
        from curate.evaluate.finetune import finetune_probe

        probe = finetune_probe(args.run, mode=args.finetune, seed=args.seed, device=args.device)
        scores["finetune"] = {k: probe[k] for k in ("accuracy", "majority_baseline", "trainable_params") if k in probe}
    print(json.dumps(scores, indent=2))


def cmd_ablate(args) -> None:
    from curate.ablate import ablate

    summary = ablate(args.config, out_dir=args.out, executor=args.executor, ray_address=args.ray_address,
                     overrides=_pairs(args.var, "--var"), threads=args.threads, verify=args.verify)
    print(f"\n{summary.get('markdown', '')}\nreport: {Path(summary['out_dir']) / 'report.md'}")


def cmd_dedup_documents(args) -> None:
    from curate.dedup.document import dedup_documents
    from curate.dedup.minhash import MinhashConfig
    from curate.dedup.minhash_index import list_inputs

    list_inputs(args.inputs)  # a missing input is the one line, before the banding is printed
    config = MinhashConfig.for_threshold(args.threshold, verbose=True)
    stats = dedup_documents(args.inputs, args.out, config=config, tasks=args.tasks, workers=args.workers, keep=args.keep,
                            executor=args.executor)
    print(f"{stats['documents']} documents: {stats['kept']} kept, {stats['removed']} removed as near duplicates "
          f"(config {config})\noutput: {Path(args.out) / 'data'}; removed: {Path(args.out) / 'removed'}")


def cmd_dedup_sentences(args) -> None:
    from curate.dedup.sentence import index_units

    card = index_units(args.inputs, args.out, unit=args.unit, min_words=args.min_words, workers=args.workers,
                       shards=args.shards)
    print(f"unit index: {args.out}: {card['shared_units']} of {card['units']} {args.unit}s occur in two documents "
          f"or more\nuse it with the step  sentence_dedup: {{unit: {args.unit}, first_seen: {args.out}}}")


def cmd_dedup_index(args) -> None:
    from curate.dedup.dataset import build_index
    from curate.dedup.minhash import MinhashConfig

    card = build_index(args.dirs, args.out, MinhashConfig.for_threshold(args.threshold))
    print(f"index: {args.out} ({card.get('documents')} documents)")


class Parser(argparse.ArgumentParser):
    """Examples keep their lines (each under 80 columns, long commands continued with a backslash): argparse
    would rewrap them mid-command. Subcommands get the same class."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)


def build_parser() -> argparse.ArgumentParser:
    from curate import __version__

    p = Parser(prog="curate", description="Build LLM pretraining data from web and book dumps.", epilog=EXAMPLES)
    p.add_argument("--version", action="version", version=f"curate {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser(
        "run",
        help="run a pipeline config (readers, steps, writer)",
        epilog="example:\n  curate run pipelines/demo.yaml -o out/demo --tasks 2 --workers 2",
    )
    run.add_argument("config", help="pipeline YAML, e.g. pipelines/demo.yaml")
    run.add_argument("-o", "--out", required=True, help="output folder or store URL (s3://bucket/x): data/, removed/, "
                     "quarantine/, logs/, stats.json")
    run.add_argument("--executor", choices=["local", "ray", "slurm"], default="local",
                     help="where every job of the recipe runs (default: local processes)")
    run.add_argument("--tasks", type=int, default=1, help="number of shards of the input (default 1)")
    run.add_argument("--workers", type=int, default=1, help="tasks run at once (default 1)")
    run.add_argument("--ray-address", help="address of a running Ray cluster (default: start a local one)")
    run.add_argument("--input", action="append", default=[], metavar="SOURCE=PATH", help="replace a reader's input path")
    run.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="value of {NAME} in the config")
    run.add_argument("--overwrite", action="store_true", help="delete OUT first instead of resuming in it")
    run.add_argument("--slurm", action="append", default=[], metavar="OPTION=VALUE",
                     help="SlurmPipelineExecutor option: partition, time, cpus_per_task, mem_per_cpu_gb, qos, ... "
                     "(over the recipe's `slurm:`)")
    run.add_argument("--sbatch", action="append", default=[], metavar="ARG=VALUE", help="extra sbatch argument")
    shown = run.add_mutually_exclusive_group()
    shown.add_argument("--verbose", action="store_true", help="datatrove's own output on the terminal (default: "
                       "a progress line per job; datatrove's output in OUT/logs/<job>/terminal.log)")
    shown.add_argument("--quiet", action="store_true", help="only the final summary")
    run.add_argument("--scratch", metavar="DIR", help="with -o on a store (s3://...): a local or shared folder for "
                     "the passes between barriers and the indexes")
    run.set_defaults(func=cmd_run)

    report = sub.add_parser("report", help="markdown + PNG summary of a run", epilog="example:\n  curate report out/demo")
    report.add_argument("out", help="output folder of `curate run`")
    report.set_defaults(func=cmd_report)

    quality = sub.add_parser("quality", help="quality classifier")
    qsub = quality.add_subparsers(dest="quality_command", required=True)
    qtrain = qsub.add_parser(
        "train",
        help="train a fastText quality classifier on your own positives and negatives, or on graded labels",
        epilog="examples:\n  curate quality train --positive out/demo/data/wiki out/demo/data/books \\\n"
        "      --negative out/demo/data/web -o quality.bin\n"
        "  curate quality train --graded annotations.jsonl -o edu.bin\n"
        "      # annotations.jsonl: lines of {\"text\": ..., \"score\": 0-5}",
    )
    qtrain.add_argument("--positive", nargs="+", help="parquet shard folders or JSONL files of good text")
    qtrain.add_argument("--negative", nargs="+", help="... of text to filter out (e.g. random web)")
    qtrain.add_argument("--graded", nargs="+", help="JSONL files of {text, score} with scores 0-5 (FineWeb-Edu style)")
    qtrain.add_argument("-o", "--out", required=True, help="model path (a JSON card is written beside it)")
    qtrain.add_argument("--seed", type=int, default=0)
    qtrain.add_argument("--holdout", type=float, default=0.1)
    qtrain.add_argument("--max-docs-per-class", type=int)
    qtrain.set_defaults(func=cmd_quality_train)
    qinspect = qsub.add_parser(
        "inspect",
        help="histograms, keep rates by threshold and examples at the cut, for every heuristic rule",
        epilog="example:\n  curate quality inspect curate-demo/corpus/data -o curate-demo/inspect \\\n"
        "      --config pipelines/web.yaml",
    )
    qinspect.add_argument("paths", nargs="+", help="parquet shard folders (e.g. OUT/data) or JSONL files")
    qinspect.add_argument("-o", "--out", required=True, help="folder for inspect.md, the PNGs and signals.parquet")
    qinspect.add_argument("--config", help="take thresholds from this pipeline config (default: datatrove's)")
    qinspect.add_argument("--max-docs", type=int, default=10_000, help="inspect the first N documents (default 10000)")
    qinspect.set_defaults(func=cmd_quality_inspect)

    tokenizer = sub.add_parser("tokenizer", help="tokenizer training")
    tsub = tokenizer.add_subparsers(dest="tokenizer_command", required=True)
    ttrain = tsub.add_parser(
        "train",
        help="train a BPE, WordPiece or Unigram tokenizer from a recipe on parquet shards",
        epilog="example:\n  curate tokenizer train tokenizer_training/bpe-32k.yaml --input out/web/data \\\n"
        "      -o tok-bpe32k",
    )
    ttrain.add_argument("recipe", help="recipe YAML (see tokenizer_training/README.md)")
    ttrain.add_argument("--input", nargs="+", required=True, help="parquet shard folders, e.g. OUT/data")
    ttrain.add_argument("-o", "--out", help="output folder (default: ./tokenizer-<recipe name>)")
    ttrain.add_argument("--compare", nargs="*", default=[], help="other tokenizer folders to report beside it")
    ttrain.set_defaults(func=cmd_tokenizer_train)

    tokenize = sub.add_parser(
        "tokenize",
        help="parquet shards -> per-source token shards (memmap + document index)",
        epilog="example:\n  curate tokenize --tokenizer tok-bpe32k --input out/web/data -o tokens \\\n"
        "      --tasks 4 --workers 2",
    )
    tokenize.add_argument("--tokenizer", required=True, help="a folder written by `curate tokenizer train`")
    tokenize.add_argument("--input", nargs="+", required=True, help="parquet shard folders")
    tokenize.add_argument("-o", "--out", required=True)
    tokenize.add_argument("--tasks", type=int, default=1)
    tokenize.add_argument("--workers", type=int, default=1)
    tokenize.add_argument("--overwrite", action="store_true")
    tokenize.add_argument("--datatrove", metavar="DIR",
                          help="also write the shards as datatrove tokenized files (.ds + .ds.index), as nanotron reads")
    tokenize.set_defaults(func=cmd_tokenize)

    dedup = sub.add_parser("dedup", help="MinHash near-duplicate removal across a corpus, and dataset indexes")
    dsub = dedup.add_subparsers(dest="dedup_command", required=True)
    ddocs = dsub.add_parser(
        "documents",
        help="remove near-duplicate documents across parquet shards (multi-stage, any task count)",
        epilog="example:\n  curate dedup documents out/web/data -o out/web-dedup --threshold 0.8 \\\n"
        "      --tasks 4 --workers 2",
    )
    ddocs.add_argument("inputs", nargs="+", help="parquet shard folders (OUT/data)")
    ddocs.add_argument("-o", "--out", required=True)
    ddocs.add_argument("--threshold", type=float, default=0.8, help="Jaccard of word 5-grams (bands/rows derived)")
    ddocs.add_argument("--keep", choices=["first", "longest", "quality"], default="first")
    ddocs.add_argument("--tasks", type=int, default=1)
    ddocs.add_argument("--workers", type=int, default=1)
    ddocs.add_argument("--executor", choices=["local", "ray"], default="local")
    ddocs.set_defaults(func=cmd_dedup_documents)
    dsent = dsub.add_parser(
        "sentences",
        help="index repeated sentences/lines/paragraphs across a corpus for the sentence_dedup step",
        epilog="example:\n  curate dedup sentences out/web/data -o out/web.units.npz --unit line",
    )
    dsent.add_argument("inputs", nargs="+", help="parquet shard folders (OUT/data)")
    dsent.add_argument("-o", "--out", required=True, help="index path (.npz)")
    dsent.add_argument("--unit", choices=["sentence", "line", "paragraph"], default="sentence")
    dsent.add_argument("--min-words", type=int, default=5)
    dsent.add_argument("--workers", type=int, default=1, help="processes for both passes")
    dsent.add_argument("--shards", type=int, default=16,
                       help="parts of the unit hash space; memory is one input file's units, then one shard's")
    dsent.set_defaults(func=cmd_dedup_sentences)
    dindex = dsub.add_parser(
        "index",
        help="persist an index of datasets (e.g. evaluation sets) for the dataset_dedup step",
        epilog="example:\n  curate dedup index eval_tasks/ -o eval.index.npz",
    )
    dindex.add_argument("dirs", nargs="+", help="parquet shard folders or JSONL files")
    dindex.add_argument("-o", "--out", required=True)
    dindex.add_argument("--threshold", type=float, default=0.8)
    dindex.set_defaults(func=cmd_dedup_index)

    trainp = sub.add_parser(
        "train",
        help="train a small proxy GPT on a mixture of token shards",
        epilog="example:\n  curate train --data web=tokens/web,books=tokens/books --weights 0.7,0.3 \\\n"
        "      --depth 4 --tokens 20000000 -o runs/web70",
    )
    trainp.add_argument("--data", required=True, help="SOURCE=DIR,... token shard folders (curate tokenize)")
    trainp.add_argument("--weights", required=True, help="mixture weights, in the order of --data")
    trainp.add_argument("--depth", type=int, default=4, help="the size dial: width 64*depth, heads, lr derived")
    trainp.add_argument("--tokens", type=int, default=10_000_000, help="training token budget")
    trainp.add_argument("--seq-len", type=int, default=256)
    trainp.add_argument("--batch-size", type=int, default=32)
    trainp.add_argument("--seed", type=int, default=0)
    trainp.add_argument("--device", default="auto", help="auto (CUDA when present), cpu or cuda")
    trainp.add_argument("-o", "--out", required=True, help="run folder: checkpoints, loss.csv/png, run.json")
    trainp.set_defaults(func=cmd_train)

    evalp = sub.add_parser("eval", help="bits per byte per source and task accuracy of a trained proxy",
                           epilog="example:\n  curate eval runs/web70 --task my_tasks/arc_easy.jsonl")
    evalp.add_argument("run", help="a run folder of `curate train`")
    evalp.add_argument("--task", action="append", default=[], help="multiple-choice JSONL (context, choices, gold)")
    evalp.add_argument("--seed", type=int, default=0)
    evalp.add_argument("--device", default="auto")
    evalp.add_argument("--finetune", choices=["full", "lora"], help="also finetune a classifier on the bundled "
                       "Rotten Tomatoes task and report held-out accuracy")
    evalp.set_defaults(func=cmd_eval)

    ablatep = sub.add_parser(
        "ablate",
        help="train and score proxies over data mixtures; a report with the table, plots and a fitted mixing law",
        epilog="example:\n  curate ablate pipelines/ablation.yaml --var tokens=out/tokens -o out/ablation",
    )
    ablatep.add_argument("config", help="ablation YAML (see pipelines/ablation.yaml)")
    ablatep.add_argument("-o", "--out", help="ablation folder (default: from the config)")
    ablatep.add_argument("--executor", choices=["local", "ray"], default="local")
    ablatep.add_argument("--ray-address")
    ablatep.add_argument("--var", action="append", default=[], metavar="NAME=VALUE",
                         help="fill {NAME} in the config, or set a key: --var proxy.depth=4")
    ablatep.add_argument("--threads", type=int, help="torch threads per run (1 on small shared machines)")
    ablatep.add_argument("--verify", action="store_true", help="then train the proposed mixture (fit.verify_seeds) "
                         "and report its predicted against its measured scores")
    ablatep.set_defaults(func=cmd_ablate)

    demo = sub.add_parser("demo", help="run everything on the bundled sample", epilog="example:\n  curate demo -o demo-out")
    demo.add_argument("-o", "--out", default="curate-demo", help="output folder (default: ./curate-demo)")
    demo.add_argument("--tasks", type=int, default=2)
    demo.add_argument("--workers", type=int, default=2)
    demo.set_defaults(func=cmd_demo)
    return p


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    from curate.config import ConfigError
    from curate.dedup.document import DedupError
    from curate.pipeline import RunError

    try:
        args.func(args)
    except (ConfigError, RunError, DedupError, FileNotFoundError, ValueError) as e:
        print(f"curate {args.command}: error: {e}", file=sys.stderr)
        sys.exit(2)
    except Exception:  # not a mistake of the user's: show everything, and say whose it is
        import traceback

        traceback.print_exc()
        print(f"curate {args.command}: internal error (a bug in curate, not in your data or command); please "
              "report it with the traceback above", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
