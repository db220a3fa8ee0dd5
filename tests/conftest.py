"""Every test runs with the network blocked, in this process and in every process it starts."""

import os
import runpy
from pathlib import Path

import pytest

NETGUARD = Path(__file__).parent / "netguard"
DATA = Path(__file__).parent.parent / "curate" / "data"
REPO = Path(__file__).parent.parent

os.environ["CURATE_BLOCK_NETWORK"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(NETGUARD), os.environ.get("PYTHONPATH")]))
# Install the guard in this process too (another sitecustomize may already be imported under that name);
# child processes get it from PYTHONPATH.
runpy.run_path(str(NETGUARD / "sitecustomize.py"))


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA
