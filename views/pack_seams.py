"""The pack pages' four calls into the brief-rendering side of the library, kept in one place.

The pack page and the share view ask only these: the preview after an edit, whether the
brief fits one A4 page, "Fit to one page", and each download's file name.  Today they use
`Library.render_pack` (a PDF is rendered to learn whether it fits, which is what makes an
edit slow).  When the library's fast one-page check arrives (the `packlib` branch:
`Library.preview_pack`, `Library.check_pack_fits`, `Library.fit_pack`,
`library.exporters.file_name`), each function here becomes a one-line call to it; the
pages do not change.
"""

from __future__ import annotations

from dataclasses import dataclass

from library import Library
from library.errors import PackDoesNotFit
from library.packs import Pack, compare

# Until the library names downloads itself: every format its own name, so that the
# CSL-JSON references and the pack file (both .json) never overwrite each other.
_SUFFIXES = {"pdf": ".pdf", "docx": ".docx", "html": ".html", "md": ".md", "bib": "-references.bib",
             "ris": "-references.ris", "csljson": "-references.csl.json", "pack": "-pack.json"}


@dataclass(frozen=True)
class Preview:
    """What the pack page shows after an edit."""

    html: str  # the brief as a web page, every value escaped by the exporter
    fits: bool  # its PDF fits one A4 page in this style
    advice: str  # when it does not fit: what to shorten
    tips: tuple[str, ...]  # what would make it a better brief (Pack.advice)
    notes: tuple[str, ...]  # references changed or removed since the pack was saved


@dataclass(frozen=True)
class Fitted:
    """A pack made to fit one page, with each step taken in plain words."""

    pack: Pack
    steps: tuple[str, ...]
    fits: bool
    advice: str = ""


def check_fits(lib: Library, pack: Pack, style: str) -> None:
    """Raise `PackDoesNotFit` (saying what to cut) unless the brief's PDF fits one page."""
    lib.render_pack(pack, "pdf", style)


def fits(lib: Library, pack: Pack, style: str) -> tuple[bool, str]:
    """Whether the brief fits one page, and if not, what to shorten."""
    try:
        check_fits(lib, pack, style)
    except PackDoesNotFit as error:
        return False, str(error)
    return True, ""


def preview(lib: Library, pack: Pack, style: str) -> Preview:
    fit, advice = fits(lib, pack, style)
    html = lib.render_pack(pack, "html", style).decode("utf-8")
    return Preview(html, fit, advice, tuple(pack.advice()), tuple(compare(pack, lib.get_many(pack.keys))))


def can_fit_to_one_page() -> bool:
    """Whether the library can shorten a brief to one page by itself (offer the button)."""
    return False


def fit_to_one_page(lib: Library, pack: Pack, style: str) -> Fitted | None:
    """The pack shortened until it fits ("Fit to one page"); None where the library cannot yet."""
    return None


def file_name(pack: Pack, fmt: str) -> str:
    """The download's file name for an export format, or "pack" for the pack file."""
    words = "".join(c if c.isascii() and c.isalnum() else " " for c in pack.title.lower()).split()
    stem = ""
    for word in words:
        if len(stem) + len(word) + 1 > 60:
            break
        stem = f"{stem}-{word}" if stem else word
    return (stem or "evidence-pack") + _SUFFIXES[fmt]
