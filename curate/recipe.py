"""A recipe (one pipeline config) -> the jobs that run it: passes over the documents, and the index jobs of its
barriers between them.

A barrier is a step that needs every document of the pass before it (curate.stage.Barrier): `minhash_dedup`,
`sentence_dedup` without `first_seen`, `tokenize`. The recipe is cut before each barrier: the pass before it
writes its documents (OUT/passes/<n>/data), the barrier's index jobs read them, and the next pass reads them
back and starts with the barrier's apply stage. A barrier that can read through the apply stages of barriers
just before it (the sentence index reads the corpus as MinHash dedup leaves it) does not cut a pass of its own,
so `web.yaml` (filters, minhash_dedup, sentence_dedup) is two passes, not three:

    pass-1                     readers -> filters -> pii -> OUT/passes/1/data
    minhash_dedup-signatures   |
    minhash_dedup-buckets      |  index of near-duplicates (OUT/index/minhash_dedup/)
    minhash_dedup-clusters     |
    sentence_dedup-units       |  index of repeated lines, through the near-duplicate filter
    sentence_dedup-owners      |  (OUT/index/sentence_dedup/)
    pass-2                     OUT/passes/1/data -> minhash_dedup -> sentence_dedup -> ... -> OUT/data
    tokens                     (when the recipe ends with `tokenize`) OUT/data -> OUT/tokens
    stats                      every job's stats -> OUT/stats.json, conservation per pass and in total

Every job is a list of datatrove steps run on the chosen executor with its own logs and completion markers
under OUT/logs/<job>/, so a run killed anywhere resumes at the job and task it stopped in. Every job lists its
input files when it runs, never when it is planned: on Slurm the jobs are submitted at once, each depending on
the one before.

Every removed document of every pass goes to OUT/removed/<stage>/ through the stage contract; every record a
reader quarantines to OUT/quarantine/<source>/ (later passes read curate's own shards: OUT/passes/<n>/quarantine/);
both through the `pii` step's scrubber when the recipe has one, for the stages and readers it does not follow.
"""

from dataclasses import dataclass, field

from curate import config as registry  # its step_classes() is looked up at call time: tests swap it
from curate.config import ConfigError, PipelineConfig, build_entry
from curate.stage import Barrier, Stage


NO_LIMIT = 1 << 62


@dataclass
class Job:
    name: str
    steps: list
    tasks: int
    # what the stats of a pass are made of: ("reader", stage name, source) | ("step", stage name) | ("writer", folder)
    funnel: list = field(default_factory=list)

    @property
    def is_pass(self) -> bool:
        return bool(self.funnel)


def _named_steps(config: PipelineConfig) -> list[tuple[str, list | None, object]]:
    """(unique name, sources, built step) for every step of the config, barriers included."""
    from curate.dedup.sentence import SentenceDedup, UnitIndex

    built, names = [], set()
    for kind, args in config.steps:
        args = dict(args)
        sources = args.pop("sources", None)
        name, i = kind, 2
        while name in names:
            name, i = f"{kind}_{i}", i + 1
        names.add(name)
        step = build_entry(registry.step_classes()[kind], args, f"{config.path}: step {name}")
        if isinstance(step, SentenceDedup) and step.first_seen is None:
            step = UnitIndex(step)
        built.append((name, sources, step))
    return built


def record_scrubber(config: PipelineConfig, steps: list) -> tuple:
    """(scrub, [does step i need it]) for the removed/ and quarantine/ records of a recipe with a `pii` step.

    A recipe that scrubs PII should leave no raw PII anywhere in OUT, but what a reader quarantines or a
    stage removes before the `pii` step never reaches it (and neither do the documents of sources it is not
    applied to). So those records pass through the same scrubber, with the step's own recognizers,
    operators, allow list and salt, before they are written. Stages after a `pii` step that sees every
    source get already scrubbed text; the `pii` step itself removes nothing. Its `scrub_text` counts nothing:
    the step's stats stay those of the documents it scrubbed. Without a `pii` step: (None, all False).
    """
    at = next((i for i, (kind, _) in enumerate(config.steps) if kind == "pii"), None)
    if at is None:
        return None, [False] * len(steps)
    every_source = config.steps[at][1].get("sources") is None
    needs = [i < at or (i > at and not every_source) for i in range(len(steps))]
    return steps[at][2], needs


def _raw_parquet_inputs(config: PipelineConfig) -> list[str] | None:
    """The files or folders of the readers when every reader reads parquet as the index jobs do (`curate dedup
    documents`): a barrier first in the recipe then needs no pass before it. None otherwise."""
    inputs = []
    for kind, args in config.readers:
        if (kind != "parquet" or args.get("text_key", "text") != "text" or args.get("id_key", "id") != "id"
                or "://" in args["path"]):  # the index jobs read local files
            return None
        glob = args.get("glob")
        inputs.append(args["path"] if glob in (None, "**/*.parquet") else f"{args['path']}/{glob}")
    return inputs


def plan_recipe(config: PipelineConfig, out: str, tasks: int, work: str | None = None) -> list[Job]:
    """The jobs of a recipe, in the order they run (see the module docstring). `work` holds the passes between
    barriers, the indexes and token shards (OUT itself unless OUT is a store URL: curate.pipeline.run_recipe)."""
    work = work or out
    steps = _named_steps(config)
    scrub, needs_scrub = record_scrubber(config, steps)
    sources = [args["source"] for _, args in config.readers]
    from curate.tokenizer.shards import Tokenize

    tokenize = [i for i, (_, _, s) in enumerate(steps) if isinstance(s, Tokenize)]
    if tokenize and tokenize != [len(steps) - 1]:
        raise ConfigError(f"{config.path}: `tokenize` must be the last step (it reads the final corpus)")
    tokens = steps.pop() if tokenize else None
    jobs: list[Job] = []
    written: str | None = None  # the folder of the last pass written; None: the recipe's own readers
    current: list[Stage] = []  # the stages of the pass being planned
    pending: list[Stage] = []  # apply stages of barriers since the last pass written
    start = 0  # the step the pass being planned begins at

    def readers(n: int) -> list:
        if written is None:
            built = []
            for kind, args in config.readers:
                reader = build_entry(registry.reader_classes()[kind], args, f"{config.path}: reader {kind} ({args['source']})")
                reader.attach(f"read_{args['source']}", f"{out}/quarantine", scrub)
                built.append(reader)
            return built
        from curate.io.parquet import ParquetReader

        built = []
        for source in sources:
            # no size limit: these documents passed the recipe's own readers already
            reader = ParquetReader(f"{written}/{source}", source, glob="*.parquet", lineage=True, max_doc_bytes=NO_LIMIT)
            # a record of a later pass is already scrubbed when the `pii` step came before and saw every source
            # (the scrubber is not even loaded then: presidio and spaCy take seconds to start in each worker)
            reader.attach(f"read_{source}", f"{out}/passes/{n}/quarantine", scrub if needs_scrub[start] else None)
            built.append(reader)
        return built

    def close_pass(final: bool) -> None:
        nonlocal written, current, pending
        n = sum(j.is_pass for j in jobs) + 1
        folder = f"{out}/data" if final else f"{work}/passes/{n}/data"
        kind, args = config.writer
        writer = build_entry(registry.writer_classes()[kind], {"output_folder": folder, **args}, f"{config.path}: writer")
        first = readers(n)
        funnel = [("reader", r.stage_name, r.source) for r in first]
        funnel += [("step", s.stage_name) for s in current] + [("writer", folder)]
        jobs.append(Job(f"pass-{n}", [*first, *current, writer], tasks, funnel))
        written, current, pending = folder, [], []

    for i, (name, only, step) in enumerate(steps):
        if not isinstance(step, Barrier):
            step.attach(name, f"{out}/removed/{name}", only, scrub if needs_scrub[i] else None)
            current.append(step)
            continue
        passes_through = [s for s in current if s not in pending]
        if passes_through or (pending and not step.reads_through) or (written is None and _raw_parquet_inputs(config) is None):
            close_pass(final=False)
            start = i
        inputs = [written] if written is not None else _raw_parquet_inputs(config)
        index = f"{work}/index/{name}"
        for suffix, job_steps, job_tasks in step.index_jobs(inputs, index, list(pending), tasks):
            jobs.append(Job(f"{name}-{suffix}", job_steps, job_tasks))
        apply = step.apply_stage(index)
        apply.attach(name, f"{out}/removed/{name}", only, scrub if needs_scrub[i] else None)
        current.append(apply)
        pending.append(apply)
    close_pass(final=True)
    if tokens is not None:
        name, _, step = tokens
        if work != out:
            raise ConfigError(f"{config.path}: `tokenize` writes token shards beside the corpus, on a local or shared "
                              "file system: give a local -o, then copy OUT/tokens to the store")
        for suffix, job_steps, job_tasks in step.index_jobs([f"{out}/data"], f"{out}/tokens", [], tasks):
            jobs.append(Job(f"{name}-{suffix}" if suffix else name, job_steps, job_tasks))
    return jobs
