"""A recipe of several passes on Slurm: the job scripts datatrove's SlurmPipelineExecutor writes, their
dependency chain, and the jobs themselves run by a real Slurm cluster.

Two ways. With stand-ins for `sbatch`, `srun` and `scontrol` first on PATH (`sbatch` records its arguments and
script, and runs the script once per array task with SLURM_ARRAY_TASK_ID set, at submission, which is the order
the dependencies ask for; a job whose dependency failed is not run): every submitted script and argument can be
checked. And on a real single-node cluster (Debian's slurmctld, slurmd and munge, started by
tests/kits/slurm_cluster.py; `make test` installs them): Slurm queues the jobs and starts each when the one before
has ended. Either way what runs is curate's and datatrove's own code: the pickled executors,
`launch_pickled_pipeline`, `merge_stats`.
"""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from helpers import kept_documents
from kits.slurm_cluster import slurm_cluster, wait_for_jobs

REPO = Path(__file__).resolve().parents[1]
CURATE = [sys.executable, "-m", "curate.cli"]

SBATCH = r'''#!{python}
import json, os, re, subprocess, sys
state = os.environ["FAKE_SLURM_STATE"]
args, script = sys.argv[1:-1], sys.argv[-1]
job = len([f for f in os.listdir(state) if f.endswith(".json")]) + 1
text = open(script).read()
failed = {{int(f.split(".")[0]) for f in os.listdir(state) if f.endswith(".failed")}}
env = {{**os.environ, "SLURM_JOB_ID": str(job), "SLURM_ARRAY_JOB_ID": str(job), "SLURM_NODELIST": "localhost",
       "SLURM_NODEID": "0", "SLURM_PROCID": "0"}}
for a in args:
    if a.startswith("--export=ALL,"):
        env.update(kv.split("=", 1) for kv in a.removeprefix("--export=ALL,").split(","))
deps = [int(d) for a in args if a.startswith("--dependency=") for d in re.findall(r":(\d+)", a)]
json.dump({{"args": args, "script": text}}, open(f"{{state}}/{{job:03d}}.json", "w"))
array = re.search(r"#SBATCH --array=(\d+)-(\d+)", text)
if not failed & set(deps):
    for task in range(int(array[1]), int(array[2]) + 1) if array else [None]:
        if task is not None:
            env["SLURM_ARRAY_TASK_ID"] = str(task)
        run = subprocess.run(["bash", script], env=env, capture_output=True)
        if run.returncode:
            open(f"{{state}}/{{job:03d}}.failed", "wb").write(run.stdout[-3000:] + run.stderr[-3000:])
print(f"Submitted batch job {{job}}")
'''
SRUN = """#!/bin/bash
while [ "$1" != "launch_pickled_pipeline" ]; do shift; done
exec "$@"
"""
SCONTROL = """#!/bin/bash
[ "$1 $2" = "show hostnames" ] && echo "$3"
"""

RECIPE = """
name: books-wiki
readers:
  - books: {path: "{data}/books", source: books}
  - jsonl: {path: "{data}/wiki", source: wiki}
steps:
  - language: {languages: [en], min_score: 0.5}
  - minhash_dedup: {threshold: 0.8}
  - sentence_dedup: {unit: paragraph, min_words: 5, min_chars: 200}
writer:
  parquet: {}
slurm: {partition: cpu, time: "00:30:00", cpus_per_task: 1}
"""


def fake_slurm(tmp_path: Path) -> dict:
    bin_dir, state = tmp_path / "bin", tmp_path / "sbatch-state"
    bin_dir.mkdir()
    state.mkdir()
    for name, text in (("sbatch", SBATCH.format(python=sys.executable)), ("srun", SRUN), ("scontrol", SCONTROL)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod((bin_dir / name).stat().st_mode | stat.S_IEXEC)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "FAKE_SLURM_STATE": str(state)}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory) -> tuple[Path, Path]:
    """(the recipe, its run on local processes), for the Slurm runs to be compared with."""
    root = tmp_path_factory.mktemp("recipe")
    recipe = root / "books-wiki.yaml"
    recipe.write_text(RECIPE)
    subprocess.run(CURATE + ["run", str(recipe), "-o", str(root / "local"), "--tasks", "2", "--workers", "2"],
                   check=True, capture_output=True, timeout=600)
    return recipe, root / "local"


def test_a_recipe_on_slurm_is_a_chain_of_array_jobs(tmp_path, local_run):
    recipe, local = local_run
    out = tmp_path / "on-slurm"
    proc = subprocess.run(CURATE + ["run", str(recipe), "-o", str(out), "--tasks", "2", "--executor", "slurm",
                                    "--slurm", "time=00:20:00", "--sbatch", "account=lab"],
                          env=fake_slurm(tmp_path), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "submitted to Slurm: 8 jobs" in proc.stdout

    submitted = [json.loads(p.read_text()) for p in sorted((tmp_path / "sbatch-state").glob("*.json"))]
    assert not [p.read_text() for p in (tmp_path / "sbatch-state").glob("*.failed")]
    jobs = [(i + 1, s) for i, s in enumerate(submitted) if "launch_pickled_pipeline" in s["script"]]
    names = ["pass-1", "minhash_dedup-signatures", "minhash_dedup-buckets", "minhash_dedup-clusters",
             "sentence_dedup-units", "sentence_dedup-owners", "pass-2", "stats"]
    assert [next(n for n in names if f"job-name=books-wiki-{n}\n" in s["script"]) for _, s in jobs] == names
    for (before, _), (_, job) in zip(jobs, jobs[1:]):  # each job waits for the one before it
        assert f"--dependency=afterok:{before}" in job["args"]
    for _, job in jobs:
        script = job["script"]
        # the recipe's options, the flag over the recipe, sbatch's own arguments, and this environment
        assert "#SBATCH --partition=cpu" in script and "#SBATCH --time=00:20:00" in script
        assert "#SBATCH --account=lab" in script and f"source {sys.prefix}/bin/activate" in script
    assert "#SBATCH --array=0-1" in jobs[0][1]["script"] and "#SBATCH --array=0-0" in jobs[-1][1]["script"]
    for name in names:
        assert (out / "logs" / name / "launch_script.slurm").is_file()

    # the jobs ran as Slurm runs them: the same corpus as on local processes, counted in full
    stats = orjson.loads((out / "stats.json").read_bytes())
    assert stats["conserved"] and stats["executor"] == "slurm"
    assert stats["totals"] == orjson.loads((local / "stats.json").read_bytes())["totals"]
    assert kept_documents(out) == kept_documents(local)


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    with slurm_cluster(tmp_path_factory.mktemp("slurm")) as env:
        yield env


def test_a_recipe_runs_on_a_real_slurm_cluster(tmp_path, local_run, slurm):
    """Debian's slurmctld and slurmd on this machine: sbatch queues the jobs, each array task runs through
    srun once the job before it has ended, and the corpus is the one of local processes."""
    recipe, local = local_run
    out = tmp_path / "on-slurm"
    proc = subprocess.run(CURATE + ["run", str(recipe), "-o", str(out), "--tasks", "2", "--executor", "slurm",
                                    "--slurm", "time=00:20:00"], env=slurm, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "submitted to Slurm: 8 jobs" in proc.stdout
    wait_for_jobs(slurm, timeout=900)

    jobs = subprocess.run(["scontrol", "show", "job", "-o"], env=slurm, capture_output=True, text=True, check=True).stdout
    ran = {}  # array job id -> (job name, first start, last end) over its tasks, as Slurm recorded them
    for line in jobs.splitlines():
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        assert fields["JobState"] == "COMPLETED", line
        name, start, end = ran.get(int(fields["ArrayJobId"]), (fields["JobName"], fields["StartTime"], fields["EndTime"]))
        ran[int(fields["ArrayJobId"])] = (name, min(start, fields["StartTime"]), max(end, fields["EndTime"]))
    first = {}  # datatrove names the job that merges a job's stats after it: the first of a name is the job
    for job_id in sorted(ran):
        first.setdefault(ran[job_id][0], ran[job_id][1:])
    chain = [first[f"books-wiki-{name}"] for name in ("pass-1", "minhash_dedup-signatures", "minhash_dedup-buckets",
                                                       "minhash_dedup-clusters", "sentence_dedup-units",
                                                       "sentence_dedup-owners", "pass-2", "stats")]
    for (_, end), (start, _) in zip(chain, chain[1:]):
        assert start >= end, jobs  # each job started once the one before had ended (ISO times compare as strings)

    stats = orjson.loads((out / "stats.json").read_bytes())
    assert stats["conserved"] and stats["executor"] == "slurm"
    assert stats["totals"] == orjson.loads((local / "stats.json").read_bytes())["totals"]
    assert kept_documents(out) == kept_documents(local)


def test_slurm_without_a_partition_is_a_one_line_error(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.replace('slurm: {partition: cpu, time: "00:30:00", cpus_per_task: 1}', ""))
    proc = subprocess.run(CURATE + ["run", str(recipe), "-o", str(tmp_path / "o"), "--executor", "slurm"],
                          env=fake_slurm(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--executor slurm needs partition and time" in proc.stderr
    assert not list((tmp_path / "sbatch-state").iterdir())  # nothing submitted
