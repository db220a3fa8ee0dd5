"""Paths are ours, not the data's: names that become folders, and where a run may write.

A source name comes from a config, from `--input`, or from the `source` column of a shard; it becomes a folder
under OUT (`data/<source>/`, `quarantine/<source>/`, `tokens/<source>/`), so it must not be able to climb
out of OUT (`../..`) or point elsewhere (`/etc`).
"""

import re
from pathlib import Path

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def check_name(value, what: str) -> str:
    """`value` if it is a safe folder name (letters, digits, '.', '_', '-'; starting with a letter or digit;
    at most 100 characters), else ValueError naming `what`."""
    if not isinstance(value, str) or not NAME.fullmatch(value):
        raise ValueError(
            f"{what} must be a name of letters, digits, '.', '_' and '-' that starts with a letter or digit "
            f"(at most 100 characters), got {value!r}"
        )
    return value


def is_remote(path: str) -> bool:
    return "://" in str(path)


def check_output_folder(out: str, inputs: list[str]) -> Path:
    """The resolved local output folder, or ValueError when it cannot be one: a remote URL (not written to
    a local folder named after it), an existing file, or a folder inside an input folder (a reader would
    read the run's own logs while the run writes them, for ever) or holding one (--overwrite would delete
    the input)."""
    if is_remote(out):
        raise ValueError(f"-o {out}: remote output folders are not supported by this command; give a local folder")
    path = Path(out).resolve()
    if path.exists() and not path.is_dir():
        raise ValueError(f"-o {out}: {path} is a file, not a folder; choose a folder")
    for given in inputs:
        if is_remote(given):
            continue
        src = Path(given).resolve()
        if path == src or src in path.parents:
            raise ValueError(f"-o {out} is inside the input folder {src}: the run would read its own output; choose -o outside it")
        if path in src.parents:
            raise ValueError(f"-o {out} holds the input {src}: a rerun with --overwrite would delete it; choose -o elsewhere")
    return path
