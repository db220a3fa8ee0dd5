"""A recipe of several passes on Slurm: the job scripts datatrove's SlurmPipelineExecutor writes, their
dependency chain, and the jobs themselves run as Slurm would run them.

No Slurm daemon here (slurmctld and munge need root and a configured node; CI has neither), so `sbatch` and
`srun` are small stand-ins put first on PATH: `sbatch` records its arguments and script, and runs the script
once per array task with SLURM_ARRAY_TASK_ID set (at submission, which is the order the dependencies ask for;
a job whose dependency failed is not run), `srun` runs its command (`scontrol` expands a node list of one). What runs is curate's and datatrove's own
code: the pickled executors, `launch_pickled_pipeline`, `merge_stats`.
"""

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import orjson

from helpers import kept_documents

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


def test_a_recipe_on_slurm_is_a_chain_of_array_jobs(tmp_path):
    recipe = tmp_path / "books-wiki.yaml"
    recipe.write_text(RECIPE)
    subprocess.run(CURATE + ["run", str(recipe), "-o", str(tmp_path / "local"), "--tasks", "2", "--workers", "2"],
                   check=True, capture_output=True, timeout=600)
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
    assert stats["totals"] == orjson.loads((tmp_path / "local" / "stats.json").read_bytes())["totals"]
    assert kept_documents(out) == kept_documents(tmp_path / "local")


def test_slurm_without_a_partition_is_a_one_line_error(tmp_path):
    recipe = tmp_path / "r.yaml"
    recipe.write_text(RECIPE.replace('slurm: {partition: cpu, time: "00:30:00", cpus_per_task: 1}', ""))
    proc = subprocess.run(CURATE + ["run", str(recipe), "-o", str(tmp_path / "o"), "--executor", "slurm"],
                          env=fake_slurm(tmp_path), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "--executor slurm needs partition and time" in proc.stderr
    assert not list((tmp_path / "sbatch-state").iterdir())  # nothing submitted
