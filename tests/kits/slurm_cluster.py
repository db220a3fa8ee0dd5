"""A real single-node Slurm cluster for the tests: Debian's slurm-wlm daemons (slurmctld, slurmd) and munge,
started in a private folder with their own config, key and ports, and stopped afterwards.

`make test` installs the packages (scripts/install_slurm.sh). The daemons run as the user who runs the tests
(SlurmUser and SlurmdUser are that user), so nothing outside the folder is touched; clients find the cluster
through SLURM_CONF in the environment this kit returns. Proctrack linuxproc and no task plugin: no cgroups, no
systemd, no accounting database.
"""

import os
import pwd
import shutil
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo")
INSTALL_HINT = "run `make test` (scripts/install_slurm.sh installs Debian's slurm-wlm and munge), or install them"


def missing_binaries() -> list[str]:
    return [name for name in DAEMONS if shutil.which(name) is None and not Path("/usr/sbin", name).exists()]


def _binary(name: str) -> str:
    return shutil.which(name) or str(Path("/usr/sbin", name))


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def _config(root: Path, user: str, host: str, ports: list[int]) -> str:
    cpus = os.cpu_count() or 1
    with open("/proc/meminfo") as f:
        memory_mb = int(next(line for line in f if line.startswith("MemTotal")).split()[1]) // 1024
    return f"""ClusterName=curate-test
SlurmctldHost={host}(127.0.0.1)
SlurmUser={user}
SlurmdUser={user}
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={root}/munge.socket
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/log/slurmctld.log
SlurmdLogFile={root}/log/slurmd.log
SlurmctldPort={ports[0]}
SlurmdPort={ports[1]}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
ReturnToService=2
InactiveLimit=0
KillWait=5
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={int(memory_mb * 0.8)} State=UNKNOWN
PartitionName=cpu Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


@contextmanager
def slurm_cluster(root: Path):
    """Start munged, slurmctld and slurmd under `root`; yield the environment for Slurm's clients (and for the
    jobs, which inherit it through sbatch); stop the daemons on exit."""
    if missing := missing_binaries():
        raise RuntimeError(f"Slurm is not installed (no {', '.join(missing)}): {INSTALL_HINT}")
    for sub in ("state", "spool", "log"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    root.chmod(0o700)
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    user, host = pwd.getpwuid(os.getuid()).pw_name, socket.gethostname()
    (root / "slurm.conf").write_text(_config(root, user, host, _free_ports(2)))
    env = {**os.environ, "SLURM_CONF": str(root / "slurm.conf")}
    commands = [
        [_binary("munged"), "--foreground", "--force", f"--key-file={key}", f"--socket={root}/munge.socket",
         f"--pid-file={root}/munged.pid", f"--log-file={root}/log/munged.log", f"--seed-file={root}/munge.seed"],
        [_binary("slurmctld"), "-D", "-c", "-i"],
        [_binary("slurmd"), "-D", "-N", host],
    ]
    daemons = []
    try:
        for cmd in commands:
            daemons.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=open(root / "log" / f"{Path(cmd[0]).name}.err", "wb")))
            if cmd[0].endswith("munged"):
                _wait(lambda: (root / "munge.socket").exists(), 30, root, "munged did not create its socket")
        _wait(lambda: _idle(env), 60, root, "the node did not become idle")
        yield env
    finally:
        for daemon in reversed(daemons):
            daemon.terminate()
        for daemon in reversed(daemons):
            try:
                daemon.wait(timeout=20)
            except subprocess.TimeoutExpired:
                daemon.kill()


def _idle(env: dict) -> bool:
    out = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True, text=True).stdout.split()
    return out == ["idle"]


def _wait(ready, timeout: float, root: Path, what: str) -> None:
    end = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > end:
            logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}" for p in sorted((root / "log").iterdir()))
            raise RuntimeError(f"{what} within {timeout} s; the daemons' logs:\n{logs}")
        time.sleep(0.2)


def wait_for_jobs(env: dict, timeout: float) -> None:
    """Until the queue is empty: every submitted job ran (or failed)."""
    end = time.monotonic() + timeout
    while subprocess.run(["squeue", "-h"], env=env, capture_output=True, text=True, check=True).stdout.strip():
        if time.monotonic() > end:
            raise TimeoutError(f"Slurm jobs still queued after {timeout} s")
        time.sleep(1)
