"""datatrove executors for `curate run`: local processes (default) or Ray (a local instance or a cluster)."""

import os

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


def check_parallelism(tasks: int, workers: int) -> None:
    if tasks < 1 or workers < 1:
        raise ConfigError(f"--tasks and --workers must be at least 1 (got tasks={tasks}, workers={workers})")


def make_executor(kind: str, pipeline: list, tasks: int, workers: int, logging_dir: str, ray_address: str | None):
    check_parallelism(tasks, workers)
    quiet_task_tracebacks()
    if kind == "local":
        from datatrove.executor import LocalPipelineExecutor

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
    raise ConfigError(f"--executor {kind!r}: expected local or ray")
