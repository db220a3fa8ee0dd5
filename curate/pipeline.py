"""`curate run`: a recipe -> its jobs (curate.recipe) -> datatrove executors -> OUT/{data,removed,quarantine,
logs,index,passes}, stats.json.

Resuming: run the same command again with the same OUT. Every job has its own completion markers under
OUT/logs/<job>/: finished jobs and finished tasks are skipped, a task killed mid-way runs again from its start
and overwrites its files with the same bytes. A rerun with another config, other inputs or another task count
would mix two runs, so it is refused.

On Slurm every job is submitted at once, each an array job that depends on the one before; the last job
writes stats.json. The command returns once they are submitted.
"""

import hashlib
import json
import re
import shutil
import time
from contextlib import nullcontext
from pathlib import Path

from datatrove.pipeline.base import PipelineStep

from curate.config import ConfigError, PipelineConfig, load_config, override_inputs
from curate.executors import check_parallelism, check_slurm_ready, make_executor
from curate.io.files import read_json_from, write_json_to
from curate.io.paths import check_output_folder, check_remote_input, is_remote
from curate.progress import JobProgress, terminal_to, with_probes
from curate.recipe import Job, plan_recipe
from curate.stats import check_conservation, merge_rank_stats, summarize_pass, summarize_recipe


class RunError(RuntimeError):
    pass


def _input_listing(readers: list) -> list:
    """(source, file, size) of every input file: a rerun over inputs that changed since (a file fixed, added or
    cut) would mix two runs, since finished tasks keep what they wrote from the old files."""
    from curate.io.reader import SourceReader

    listing = []
    for reader in readers:
        if isinstance(reader, SourceReader):
            for path in reader.data_folder.list_files(recursive=reader.recursive, glob_pattern=reader.glob_pattern):
                listing.append((reader.source, path, reader.data_folder.size(path)))
    return listing


def _fingerprint(config: PipelineConfig, tasks: int, jobs: list[Job]) -> dict:
    spec = {"readers": config.readers, "steps": config.steps, "writer": config.writer, "tasks": tasks,
            "inputs": _input_listing(jobs[0].steps)}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return {"config": str(config.path), "tasks": tasks, "fingerprint": digest}


def _prepare_out(out: str, fingerprint: dict, overwrite: bool) -> None:
    """Refuse an OUT that holds another run or other files; with `overwrite`, empty it first (only if it holds
    a curate run). `out` is a local folder or a store URL."""
    from datatrove.io import get_datafolder

    folder = get_datafolder(out)
    exists = folder.exists("")
    entries = [e for e in folder.ls("", detail=False)] if exists and folder.isdir("") else []
    previous = read_json_from(out, "run.json")
    if overwrite and entries:
        if previous is None:
            raise RunError(f"{out} exists and is not a curate output folder; refusing to delete it")
        if is_remote(out):
            folder.rm("", recursive=True)
        else:
            shutil.rmtree(out)
        previous, entries = None, []
    if previous is not None:
        if previous.get("fingerprint") != fingerprint["fingerprint"]:
            raise RunError(
                f"{out} holds a run of another config, input or task count ({previous.get('config')}, "
                f"tasks={previous.get('tasks')}); resume with the same arguments, or pass --overwrite or a new -o"
            )
    elif entries:
        raise RunError(f"{out} is not empty and holds no curate run; choose a new -o")
    if not is_remote(out):
        Path(out).mkdir(parents=True, exist_ok=True)
    write_json_to(out, "run.json", fingerprint)


class RecipeStats(PipelineStep):
    """The last job of a recipe: every job's stats -> OUT/stats.json, and the conservation check (a failed
    check fails this job, after stats.json is written, so the numbers can be read)."""

    type = "curate"
    name = "recipe stats"
    light = True

    def __init__(self, out: str, jobs: list[tuple[str, int, list]], about: dict):
        super().__init__()
        self.out, self.jobs, self.about = out, jobs, about

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        summary = recipe_summary(self.out, self.jobs)
        summary.update(self.about)
        try:
            check_conservation(summary)
        finally:
            write_json_to(self.out, "stats.json", summary)
        return iter(())


EXCEPTION_LINE = re.compile(r"^(?:[\w.]+\.)?(\w*(?:Error|Exception)): (.+)$")


def task_error(logging_dir: str, rank: int) -> str | None:
    """The exception that ended a failed task, as the last line of its traceback in the task's log names it
    ("DedupError: document id 'x' occurs 2 times ..."): the one line a person needs, without the traceback."""
    from datatrove.io import get_datafolder

    folder, name = get_datafolder(logging_dir), f"logs/task_{rank:05d}.log"
    if not folder.isfile(name):
        return None
    with folder.open(name, "r") as f:
        lines = f.read().splitlines()
    return next((f"{m.group(1)}: {m.group(2)}" for line in reversed(lines) if (m := EXCEPTION_LINE.match(line))), None)


def recipe_summary(out: str, jobs: list[tuple[str, int, list]]) -> dict:
    passes, index = [], []
    for name, tasks, funnel in jobs:
        merged = merge_rank_stats(f"{out}/logs/{name}", tasks)
        if funnel:
            passes.append({"pass": name, **summarize_pass(funnel, merged)})
        else:
            labels = sum((m["labels"] for m in merged), start=type(merged[0]["labels"])()) if merged else {}
            index.append({"job": name, "tasks": tasks, "time_s": round(sum(m["time_s"] for m in merged), 3),
                          "counts": {k: int(v) for k, v in sorted(labels.items())}})
    summary = summarize_recipe(passes)
    summary["jobs"] = index + [{"job": p["pass"], "time_s": round(sum(s["time_s"] for s in p["stages"]), 3)}
                               for p in passes]
    return summary


def run_recipe(config: PipelineConfig, out: str, executor: str = "local", tasks: int = 1, workers: int = 1,
               ray_address: str | None = None, overwrite: bool = False, slurm: dict | None = None,
               scratch: str | None = None, display: str = "verbose") -> dict:
    """Run every job of a recipe on `executor`; returns the summary written to OUT/stats.json (on Slurm: the
    submitted jobs, since they run later).

    OUT may be a store URL (s3://, gs://, ...): the corpus, removed/, quarantine/, logs/, completion markers,
    run.json and stats.json go there. The passes between barriers, the barriers' indexes and token shards
    then go to `scratch`, a local folder (a shared one for a cluster): the indexes are memory-mapped and
    read row by row, which an object store does not do well."""
    where = f"{config.path}: reader"
    for kind, args in config.readers:
        if is_remote(args["path"]):
            check_remote_input(args["path"], f"{where} {kind} ({args['source']}): input")
        elif not Path(args["path"]).exists():
            raise ConfigError(f"{where} {kind} ({args['source']}): input path {args['path']} does not exist")
    check_parallelism(tasks, workers)
    if executor == "slurm":
        check_slurm_ready(slurm)
    if is_remote(out) and not scratch:
        raise ConfigError(f"-o {out}: a store URL needs --scratch DIR, a local (or, on a cluster, shared) folder for "
                          "the passes between barriers, the indexes and token shards")
    out_dir = check_output_folder(out, [args["path"] for _, args in config.readers])
    work = str(Path(scratch).resolve()) if scratch else out_dir
    jobs = plan_recipe(config, out_dir, tasks, work)
    fingerprint = _fingerprint(config, tasks, jobs)
    _prepare_out(out_dir, fingerprint, overwrite)
    about = {"pipeline": config.name, **fingerprint, "executor": executor}
    jobs.append(Job("stats", [RecipeStats(out_dir, [(j.name, j.tasks, j.funnel) for j in jobs], about)], 1))

    start = time.monotonic()
    previous = None
    for i, job in enumerate(jobs, start=1):
        logging_dir = f"{out_dir}/logs/{job.name}"
        # A job of steps that only merge small index files runs in this process on the local executor: starting
        # worker processes (each importing the pipeline's libraries again) costs more than its work.
        light = executor == "local" and all(getattr(step, "light", False) for step in job.steps)
        # a pass counts what it reads and keeps for the progress line (curate.progress), beside the terminal log
        progress = f"{work}/logs/{job.name}/progress" if job.is_pass else None
        steps = with_probes(job.steps, sum(k[0] == "reader" for k in job.funnel), progress) if progress else job.steps
        ex = make_executor(executor, steps, job.tasks, 1 if light else workers, logging_dir, ray_address,
                           slurm=slurm, depends=previous, job_name=f"{config.name}-{job.name}")
        if executor == "slurm":  # submitted together at the end, each depending on the one before
            previous = ex
            continue
        terminal = None if display == "verbose" else f"{work}/logs/{job.name}/terminal.log"
        ticker = JobProgress(f"[{i}/{len(jobs)}] {job.name}", logging_dir, job.tasks, progress=progress,
                             input_bytes=sum(size for *_, size in _input_listing(job.steps)) if progress else 0
                             ) if display == "progress" else nullcontext()
        with terminal_to(terminal), ticker:
            ex.run()
        # datatrove's Ray executor only logs "Only k/n tasks completed"; a run with a failed task must fail.
        if incomplete := ex.get_incomplete_ranks(range(job.tasks)):
            if job.name == "stats" and (written := read_json_from(out_dir, "stats.json")) is not None:
                check_conservation(written)  # raises with the reasons
            why = next((e for rank in incomplete if (e := task_error(logging_dir, rank))), None)
            raise RunError(f"job {job.name}: tasks {incomplete} did not complete{f' ({why})' if why else ''}; see "
                           f"{logging_dir}/logs/ and run the same command to resume")
    if executor == "slurm":
        previous.run()
        return {**about, "submitted": [j.name for j in jobs], "logs": f"{out_dir}/logs"}
    summary = read_json_from(out_dir, "stats.json")
    summary["wall_s"] = round(time.monotonic() - start, 2)
    write_json_to(out_dir, "stats.json", summary)
    return summary


def run_pipeline(
    config_path: str,
    out: str,
    executor: str = "local",
    tasks: int = 1,
    workers: int = 1,
    ray_address: str | None = None,
    inputs: dict[str, str] | None = None,
    overwrite: bool = False,
    variables: dict[str, str] | None = None,
    slurm: dict | None = None,
    scratch: str | None = None,
    display: str = "verbose",
) -> dict:
    """`curate run CONFIG -o OUT`: load the recipe, replace inputs, run it (see run_recipe)."""
    config = load_config(config_path, variables)
    override_inputs(config, inputs or {})
    return run_recipe(config, out, executor=executor, tasks=tasks, workers=workers, ray_address=ray_address,
                      overwrite=overwrite, slurm={**(config.slurm or {}), **(slurm or {})} or None, scratch=scratch,
                      display=display)
