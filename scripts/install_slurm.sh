#!/usr/bin/env bash
# Debian's Slurm daemons and clients (slurmctld, slurmd, sbatch, srun, squeue) and munge, for the test that runs a
# recipe on a real single-node cluster (tests/kits/slurm_cluster.py starts and stops it). `make test` runs this;
# it installs nothing when they are there, and as a user who cannot install it says what that test needs.
set -euo pipefail
if command -v sbatch >/dev/null && [ -x /usr/sbin/slurmctld ] && [ -x /usr/sbin/slurmd ] && [ -x /usr/sbin/munged ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "Slurm is not installed: tests/test_recipe_executors.py needs Debian's slurmctld, slurmd, slurm-client and munge" >&2
  exit 0
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null
