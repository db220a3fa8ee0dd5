"""datatrove executors, the one way curate runs parallel work: local processes (default), Ray (a local instance
or a cluster) or Slurm (one array job per job of a recipe, each depending on the one before)."""

import os
import sys
from pathlib import Path

from curate.config import ConfigError

# Without these, Ray binds a routable address, reports usage, resolves 8.8.8.8 and probes the cloud
# metadata address at start-up; an offline toolkit sends nothing off the machine.
RAY_OFFLINE_ENV = {
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",
    "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
}
# Workers on a cluster do not inherit this process's environment (see quiet_task_tracebacks).
RAY_RUNTIME_ENV = {"env_vars": {"LOGURU_DIAGNOSE": "NO", "LOGURU_BACKTRACE": "NO"}}
# AF_UNIX socket paths are limited to 107 bytes; Ray's default session dir can exceed that.
RAY_TEMP_DIR = "/tmp/curate-ray"


def quiet_task_tracebacks() -> None:
    """Task logs must never hold record text: datatrove's task logger is loguru with `diagnose=True`, whose
    tracebacks print every local variable (a document's text among them) into logs/ and onto stderr.

    loguru reads LOGURU_DIAGNOSE / LOGURU_BACKTRACE once, when it is imported, into the defaults of
    `logger.add`: the variables reach the worker processes (forkserver, spawn and Ray workers import loguru
    afresh), and in this process, where loguru is already imported, the defaults are set on `add` itself.
    """
    os.environ["LOGURU_DIAGNOSE"] = "NO"
    os.environ["LOGURU_BACKTRACE"] = "NO"
    from loguru._logger import Logger

    Logger.add.__kwdefaults__.update(diagnose=False, backtrace=False)


def start_ray(address: str | None = None):
    import ray

    os.environ.update(RAY_OFFLINE_ENV)  # before ray.init: the processes it starts inherit them
    if ray.is_initialized():
        return ray
    if address:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, runtime_env=RAY_RUNTIME_ENV)
    else:
        ray.init(
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            _temp_dir=RAY_TEMP_DIR,
            log_to_driver=False,
            runtime_env=RAY_RUNTIME_ENV,
        )
    return ray


def preload_worker_modules() -> None:
    """Import curate's modules once, in the forkserver that datatrove's local pool forks its workers from.

    Each worker unpickles the job's steps, which imports what they need: presidio (which imports spaCy,
    thinc, torch and transformers), fastText, datatrove, about 5 CPU-seconds and 300 MB per process. The web
    recipe starts a pool of workers per job (about a dozen workers at 2 workers per job), so most of a small
    run's CPU went to imports. Preloaded in the forkserver, the modules are imported once and their pages
    are shared by every worker. The modules are those this process has imported: building the recipe
    imported every step's module. It only takes effect before the first pool starts the forkserver.
    """
    import multiprocess

    modules = ["__main__", *sorted(m for m in sys.modules if m == "curate" or m.startswith("curate."))]
    multiprocess.get_context("forkserver").set_forkserver_preload(modules)


def check_parallelism(tasks: int, workers: int) -> None:
    if tasks < 1 or workers < 1:
        raise ConfigError(f"--tasks and --workers must be at least 1 (got tasks={tasks}, workers={workers})")


# The options of datatrove's SlurmPipelineExecutor a recipe (`slurm:`) or `--slurm KEY=VALUE` may set, with
# their types; partition and time are required.
SLURM_OPTIONS = {"partition": str, "time": str, "cpus_per_task": int, "mem_per_cpu_gb": int, "qos": str,
                 "sbatch_args": dict, "env_command": str, "condaenv": str, "venv_path": str, "max_array_size": int,
                 "tasks_per_job": int, "slurm_logs_folder": str, "mail_type": str, "mail_user": str}


def check_slurm_options(options: dict | None, where: str) -> dict | None:
    if options is None:
        return None
    if not isinstance(options, dict):
        raise ConfigError(f"{where}: expected a mapping of SlurmPipelineExecutor options, got {options!r}")
    for key, value in options.items():
        if key not in SLURM_OPTIONS:
            raise ConfigError(f"{where}: unknown option {key!r}; accepted: {sorted(SLURM_OPTIONS)}")
        if not isinstance(value, SLURM_OPTIONS[key]) or isinstance(value, bool):
            raise ConfigError(f"{where}.{key}: expected {SLURM_OPTIONS[key].__name__}, got {value!r}")
    return options


def check_slurm_ready(options: dict | None) -> None:
    if missing := [k for k in ("partition", "time") if k not in (options or {})]:
        raise ConfigError(f"--executor slurm needs {' and '.join(missing)}: `slurm: {{partition: ..., time: ...}}` "
                          "in the recipe, or --slurm partition=NAME --slurm time=HH:MM:SS")


def slurm_executor(pipeline: list, tasks: int, workers: int, logging_dir: str, options: dict | None, depends,
                   job_name: str):
    from datatrove.executor import SlurmPipelineExecutor

    check_slurm_ready(options)
    options = dict(options)
    # the jobs run in this Python environment unless told otherwise
    activate = Path(sys.prefix) / "bin" / "activate"
    if not {"venv_path", "condaenv", "env_command"} & set(options) and activate.exists():
        options["venv_path"] = str(activate)
    return SlurmPipelineExecutor(pipeline, tasks=tasks, workers=workers, logging_dir=logging_dir, job_name=job_name,
                                 depends=depends, **options)


def make_executor(kind: str, pipeline: list, tasks: int, workers: int, logging_dir: str, ray_address: str | None = None,
                  slurm: dict | None = None, depends=None, job_name: str = "curate"):
    check_parallelism(tasks, workers)
    quiet_task_tracebacks()
    if kind == "local":
        from datatrove.executor import LocalPipelineExecutor

        if workers > 1 and tasks > 1:
            preload_worker_modules()
        return LocalPipelineExecutor(pipeline, tasks=tasks, workers=min(workers, tasks), logging_dir=logging_dir)
    if kind == "ray":
        from datatrove.executor import RayPipelineExecutor

        ray = start_ray(ray_address)
        resources = ray.cluster_resources()
        # datatrove reserves 2 GiB of Ray memory per task by default and waits for ever on a smaller node.
        mem_per_cpu_gb = 0.8 * resources.get("memory", 2 * 2**30) / max(resources.get("CPU", 1), 1) / 2**30
        return RayPipelineExecutor(
            pipeline, tasks=tasks, workers=workers, logging_dir=logging_dir, mem_per_cpu_gb=mem_per_cpu_gb
        )
    if kind == "slurm":
        return slurm_executor(pipeline, tasks, workers, logging_dir, slurm, depends, job_name)
    raise ConfigError(f"--executor {kind!r}: expected local, ray or slurm")


def run_job(pipeline: list, tasks: int, workers: int, logging_dir: str) -> None:
    """One job on local processes, for the commands that are one job of a recipe run on their own (`curate
    tokenize`, `curate dedup sentences`); raises when a task did not complete."""
    ex = make_executor("local", pipeline, tasks, workers, logging_dir)
    ex.run()
    if incomplete := ex.get_incomplete_ranks(range(tasks)):
        raise RuntimeError(f"{pipeline[0].name}: tasks {incomplete} did not complete; see {logging_dir}/logs and run "
                           "again to resume")
