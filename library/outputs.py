"""Files the command line writes where the user asks (`-o FILE`): exports, packs, templates.

Never inside the collection's own folder, where every file is read as part of the collection (a
copy of the references there would read as a duplicate of each of them, and a template could
replace `themes.toml`); and a folder that does not exist or cannot be written is said in plain
words, not as a Python error.
"""

from __future__ import annotations

from pathlib import Path

from .errors import OutputRefused, WriteFailed
from .store import atomic_write


def write_output(references_dir: Path, output: str, data: bytes) -> Path:
    """Write `data` to `output` (whole, or not at all) and return its path."""
    path = Path(output)
    references = Path(references_dir).resolve()
    target = path.resolve()
    if target == references or references in target.parents:
        raise OutputRefused(f"{output} is inside the collection's folder ({references_dir}), where every file "
                            "is read as part of the collection. Write it somewhere else.")
    if target.is_dir():
        raise OutputRefused(f"{output} is a folder: give a file name, such as {Path(output) / 'export.bib'}.")
    if not target.parent.is_dir():
        raise OutputRefused(f"The folder {path.parent} does not exist: create it first, or write somewhere else.")
    try:
        atomic_write(target, data)
    except OSError as error:
        raise WriteFailed(f"{output} could not be written ({error.strerror or error}). Nothing was written; "
                          "check that the folder can be written to and the disk is not full.") from None
    return target
