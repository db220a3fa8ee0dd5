"""`curate run`: a pipeline config -> datatrove executor -> OUT/{data,removed,quarantine,logs}, stats.json.

Resuming: run the same command again with the same OUT. datatrove's completion markers skip the tasks that
finished; a task killed mid-way runs again from its start and overwrites its files with the same bytes.
A rerun with another config, other inputs or another task count would mix two runs, so it is refused.
"""

import hashlib
import json
import shutil
import time
from pathlib import Path

from curate.config import ConfigError, build_pipeline, load_config, override_inputs
from curate.executors import check_parallelism, make_executor
from curate.io.paths import check_output_folder, is_remote
from curate.stats import check_conservation, merge_rank_stats, summarize


class RunError(RuntimeError):
    pass


def _input_listing(pipeline: list) -> list:
    """(source, file, size) of every input file: a rerun over inputs that changed since (a file fixed, added or
    cut) would mix two runs, since finished tasks keep what they wrote from the old files."""
    from curate.io.reader import SourceReader

    listing = []
    for reader in pipeline:
        if isinstance(reader, SourceReader):
            for path in reader.data_folder.list_files(recursive=reader.recursive, glob_pattern=reader.glob_pattern):
                listing.append((reader.source, path, reader.data_folder.size(path)))
    return listing


def _fingerprint(config, tasks: int, pipeline: list) -> dict:
    spec = {"readers": config.readers, "steps": config.steps, "writer": config.writer, "tasks": tasks,
            "inputs": _input_listing(pipeline)}
    digest = hashlib.sha256(json.dumps(spec, sort_keys=True, default=str).encode()).hexdigest()[:16]
    return {"config": str(config.path), "tasks": tasks, "fingerprint": digest}


def _prepare_out(out: Path, fingerprint: dict, overwrite: bool) -> None:
    run_file = out / "run.json"
    if overwrite and out.exists():
        if not run_file.exists() and any(out.iterdir()):
            raise RunError(f"{out} exists and is not a curate output folder; refusing to delete it")
        shutil.rmtree(out)
    if run_file.exists():
        previous = json.loads(run_file.read_text())
        if previous.get("fingerprint") != fingerprint["fingerprint"]:
            raise RunError(
                f"{out} holds a run of another config, input or task count ({previous.get('config')}, "
                f"tasks={previous.get('tasks')}); resume with the same arguments, or pass --overwrite or a new -o"
            )
    elif out.exists() and any(out.iterdir()):
        raise RunError(f"{out} is not empty and holds no curate run; choose a new -o")
    out.mkdir(parents=True, exist_ok=True)
    run_file.write_text(json.dumps(fingerprint, indent=2) + "\n")


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
) -> dict:
    config = load_config(config_path, variables)
    override_inputs(config, inputs or {})
    for kind, args in config.readers:
        if not is_remote(args["path"]) and not Path(args["path"]).exists():
            raise ConfigError(f"{config.path}: reader {kind} ({args['source']}): input path {args['path']} does not exist")
    check_parallelism(tasks, workers)
    out_dir = check_output_folder(out, [args["path"] for _, args in config.readers])
    pipeline = build_pipeline(config, str(out_dir))
    fingerprint = _fingerprint(config, tasks, pipeline)
    _prepare_out(out_dir, fingerprint, overwrite)

    logging_dir = str(out_dir / "logs")
    start = time.monotonic()
    ex = make_executor(executor, pipeline, tasks, workers, logging_dir, ray_address)
    ex.run()
    # datatrove's Ray executor only logs "Only k/n tasks completed"; a run with a failed task must fail.
    if incomplete := ex.get_incomplete_ranks(range(tasks)):
        raise RunError(f"tasks {incomplete} did not complete; see {logging_dir}/logs/ and run the same command to resume")

    summary = summarize(pipeline, merge_rank_stats(logging_dir, tasks))
    summary.update({"pipeline": config.name, **fingerprint, "executor": executor, "wall_s": round(time.monotonic() - start, 2)})
    try:
        check_conservation(summary)
    finally:
        (out_dir / "stats.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary
