"""What the collection already holds, for recognising a work found elsewhere: by DOI, by PMID, or by
the same title, year and first author.

The same rules as the duplicate check of `add` (`library.duplicates`): DOIs compared without case or
resolver prefix; titles normalised (case, accents, punctuation) and alike when difflib's ratio is at
least `TITLE_SIMILARITY`; the year and the first author's family name must agree where both are known.
Unlike `find_duplicates`, which asks the search index for the 20 best title matches and compares each,
this compares the work with every reference of a compatible year and first author, so it is exact and
fast for a page of 200 works on a large collection.

The titles, years, authors and DOIs come from the search index (`Library.holdings`); PMIDs from the
files' `pmid` field (the index does not keep them).  Both are re-read only for files whose size or
modification time changed since the last look.
"""

from __future__ import annotations

import difflib
import re
import threading
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable

from .duplicates import TITLE_SIMILARITY, normalise_title
from .records import normalise_doi

if TYPE_CHECKING:
    from .api import Library

SAME_DOI, SAME_PMID, SAME_TITLE = "same DOI", "same PMID", "same title, year and first author"
_PMID_FIELD = re.compile(rb"(?im)(?:^|,)[ \t]*pmid\s*=\s*[{\"]?\s*(\d{1,9})\s*[}\"]?")


@dataclass(frozen=True)
class Held:
    """One reference as the matching needs it (normalised)."""

    key: str
    doi: str = ""  # normalised: lower case, no resolver prefix
    pmid: str = ""
    year: int | None = None
    family: str = ""  # the first author's family name, normalised ("van der kolk")
    title: str = ""  # normalised


def family_of_display(authors: str) -> str:
    """The first family name from a card's author line ('van der Kolk, B. A.; Smith, J.')."""
    return normalise_title(authors.split(";")[0].split(",")[0]) if authors else ""


class Holdings:
    """The references of one collection, looked up by DOI, PMID, or title with year and first author."""

    def __init__(self, items: Iterable[Held]) -> None:
        self.items = tuple(items)
        self.by_doi: dict[str, str] = {}
        self.by_pmid: dict[str, str] = {}
        self._by_pair: dict[tuple[int | None, str], list[Held]] = defaultdict(list)
        self._by_year: dict[int | None, list[Held]] = defaultdict(list)
        self._by_family: dict[str, list[Held]] = defaultdict(list)
        for held in sorted(self.items, key=lambda h: h.key):
            if held.doi:
                self.by_doi.setdefault(held.doi, held.key)
            if held.pmid:
                self.by_pmid.setdefault(held.pmid, held.key)
            if held.title:
                self._by_pair[(held.year, held.family)].append(held)
                self._by_year[held.year].append(held)
                self._by_family[held.family].append(held)

    def __len__(self) -> int:
        return len(self.items)

    def match(self, *, doi: str = "", pmid: str = "", title: str = "", year: int | None = None,
              family: str = "") -> tuple[str, str] | None:
        """(key, how) of the reference this work already is, or None.  `family` is the first author's
        family name as written (it is normalised here)."""
        if doi:
            key = self.by_doi.get(normalise_doi(doi))
            if key:
                return key, SAME_DOI
        if pmid:
            key = self.by_pmid.get(pmid)
            if key:
                return key, SAME_PMID
        wanted = normalise_title(title)
        if not wanted:
            return None
        alike = [(similarity, held.key) for held in self._compatible(year, normalise_title(family))
                 if (similarity := _similarity(wanted, held.title)) >= TITLE_SIMILARITY]
        if not alike:
            return None
        _, key = min(alike, key=lambda pair: (-pair[0], pair[1]))  # the most alike; ties by key
        return key, SAME_TITLE

    def _compatible(self, year: int | None, family: str) -> list[Held]:
        """References whose year and first author do not rule them out (unknown agrees with anything)."""
        if year is not None and family:
            return (self._by_pair[(year, family)] + self._by_pair[(year, "")] + self._by_pair[(None, family)]
                    + self._by_pair[(None, "")])
        if family:
            return self._by_family[family] + self._by_family[""]
        if year is not None:
            return self._by_year[year] + self._by_year[None]
        return [h for h in self.items if h.title]


def _similarity(a: str, b: str) -> float:
    """difflib's ratio of two normalised titles (as `duplicates.title_similarity`), with its cheap
    upper bounds tried first."""
    if not a or not b:
        return 0.0
    matcher = difflib.SequenceMatcher(None, a, b)
    if matcher.real_quick_ratio() < TITLE_SIMILARITY or matcher.quick_ratio() < TITLE_SIMILARITY:
        return 0.0
    return matcher.ratio()


# ------------------------------------------------------------------ the collection's holdings, cached

_Entry = tuple[int, int, "Held | None"]  # size, mtime_ns, what the file holds
_files: dict[Path, dict[str, _Entry]] = {}
_built: dict[Path, tuple[int, Holdings]] = {}
_versions: dict[Path, int] = defaultdict(int)
_lock = threading.Lock()


def holdings_of(library: "Library") -> Holdings:
    """The holdings of the library's collection, brought up to date with the files."""
    # The index answers for what is on disk now (unless another process is writing it this moment:
    # then it may lag for a moment rather than keep the librarian waiting).
    library.refresh(wait=False)
    root = library.settings.references_dir
    stats = library.collection.scan()
    with _lock:
        cache = _files.setdefault(root, {})
        removed = [name for name in cache if name not in stats]
        changed = [name for name, stat in stats.items()
                   if cache.get(name, (None, None, None))[:2] != (stat.size, stat.mtime_ns)]
        for name in removed:
            del cache[name]
        if changed:
            keys = [name[:-4] for name in changed]
            rows = library.holdings(None if len(changed) > len(stats) // 4 else keys)
            indexed = {str(row["key"]): row for row in rows}
            for name in changed:
                stat = stats[name]
                cache[name] = (stat.size, stat.mtime_ns, _held(name[:-4], indexed.get(name[:-4]), root / name))
        if removed or changed or root not in _built:
            _versions[root] += 1
        version = _versions[root]
        built = _built.get(root)
        if built is None or built[0] != version:
            built = (version, Holdings(held for _, _, held in cache.values() if held is not None))
            _built[root] = built
        return built[1]


def _held(key: str, row: dict[str, object] | None, path: Path) -> Held | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    match = _PMID_FIELD.search(data) if b"pmid" in data.lower() else None
    pmid = match.group(1).decode("ascii") if match else ""
    if row is None:  # not (yet) in the index: known only by its PMID
        return Held(key, pmid=pmid) if pmid else None
    year = row.get("year")
    return Held(key, doi=normalise_doi(str(row.get("doi") or "")), pmid=pmid,
                year=year if isinstance(year, int) else None,
                family=family_of_display(str(row.get("authors") or "")),
                title=normalise_title(str(row.get("title") or "")))
