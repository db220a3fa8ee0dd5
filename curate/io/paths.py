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


def store_error(e: Exception) -> str:
    """What went wrong with a store, in one line: the library's own message without its traceback."""
    text = " ".join(str(e).split()) or type(e).__name__
    return f"{type(e).__name__}: {text[:300]}"


def check_remote_input(url: str, what: str) -> None:
    """ValueError, in one line and before any work, for an input URL that cannot be read: an unknown scheme,
    the scheme's library not installed (gcsfs for gs://), missing credentials, an unreachable store, nothing
    there."""
    from datatrove.io import get_datafolder

    try:
        folder = get_datafolder(url)
        found = folder.exists("") and bool(folder.find("", maxdepth=None, withdirs=False))
    except Exception as e:  # fsspec and the stores' clients raise their own types; all of them end the run here
        raise ValueError(f"{what} {url}: cannot be read ({store_error(e)})") from None
    if not found:
        raise ValueError(f"{what} {url}: nothing there (no such bucket, folder or file)")


def check_remote_output(url: str) -> None:
    """ValueError, in one line and before any work, for an output URL that cannot be written: a probe object is
    written and deleted, so a wrong scheme, a missing credential or a read-only bucket shows now."""
    from datatrove.io import get_datafolder

    try:
        folder = get_datafolder(url)
        with folder.open(".curate-write-probe", "w") as f:
            f.write("probe")
        folder.rm_file(".curate-write-probe")
    except Exception as e:
        raise ValueError(f"-o {url}: cannot be written ({store_error(e)})") from None


def check_output_folder(out: str, inputs: list[str]) -> str:
    """The output folder: a URL that can be written (check_remote_output), or the resolved local folder; a
    ValueError when it cannot be one: an existing file, or a folder inside an input folder (a reader would
    read the run's own logs while the run writes them, for ever) or holding one (--overwrite would delete
    the input). A URL is opened as a store, never turned into a local folder named after it."""
    if is_remote(out):
        check_remote_output(out)
        return out.rstrip("/")
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
    return str(path)
