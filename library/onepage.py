"""Keeping a brief to one page: the preview the pack page shows on every edit, and "Fit to one page".

`fit_to_one_page` makes a brief that is too long fit the way an advocate
would, in this order, stopping as soon as it fits:

1. shorten notes to their first sentence, longest note first;
2. move the least-cited references to a "Further reading" line (they stay in
   the reference list and keep their number; their notes stay in the pack but
   are not printed), the least cited first and, among equals, the last in
   the list first;
3. give back the full note of any reference whose note no longer needs to be
   short.

Every step is returned in plain words for the advocate, and nothing is ever
removed: a brief that still does not fit comes back with the advice on what
to shorten by hand (key messages, the ask); references are moved only if
that makes the brief fit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Callable, Sequence

from .exporters.pdf import Fit
from .packs import Pack

# A full stop ends a sentence unless it closes one of these, or an initial ("S. Clark").
_NOT_AN_END = re.compile(r"(?:\b(?:e\.g|i\.e|et al|etc|cf|vs|approx|Dr|Mr|Mrs|Ms|Prof|St|No|Vol|pp?|ed|eds)|"
                         r"(?<![A-Za-z])[A-Z])\.$")
_SENTENCE_END = re.compile(r"[.!?][’”'\")\]]*(?=\s+[‘“'\"(\[]?[A-Z0-9])")


def first_sentence(text: str) -> str:
    """The first sentence of a note: 'A review of X. It shows Y.' -> 'A review of X.'"""
    text = " ".join(text.split())
    for match in _SENTENCE_END.finditer(text):
        candidate = text[:match.end()]
        if not _NOT_AN_END.search(candidate.rstrip("’”'\")]")):
            return candidate
    return text


@dataclass(frozen=True)
class FitResult:
    """A pack made to fit one page, or as near as the automatic steps get it."""

    pack: Pack
    steps: tuple[str, ...]  # what was changed, in plain words, in order; () when it already fitted
    fits: bool
    advice: str = ""  # when it still does not fit: what to shorten by hand


@dataclass(frozen=True)
class PackPreview:
    """What the pack page shows after an edit: the brief as a web page and whether it fits."""

    html: str  # the brief as a self-contained page (every value escaped)
    fit: Fit  # fits one A4 page in this style, at which print size, or what to cut
    tips: tuple[str, ...]  # what would make it a better brief (Pack.advice)
    notes: tuple[str, ...]  # references changed or removed since the pack was saved (packs.compare)


def _numbers(numbers: Sequence[int]) -> str:
    listed = [str(n) for n in sorted(numbers)]
    text = listed[0] if len(listed) == 1 else ", ".join(listed[:-1]) + " and " + listed[-1]
    return f"reference{'s' if len(listed) > 1 else ''} {text}"


def _with_notes(pack: Pack, notes: dict[int, str]) -> Pack:
    return replace(pack, references=tuple(
        replace(r, note=notes[n]) if n in notes else r for n, r in enumerate(pack.references, 1)))


def _further(pack: Pack, numbers: set[int]) -> Pack:
    return replace(pack, references=tuple(
        replace(r, further_reading=True) if n in numbers else r for n, r in enumerate(pack.references, 1)))


def fit_to_one_page(pack: Pack, check: Callable[[Pack], Fit], *, labels: Sequence[str] = (),
                    shorten_notes: bool = True) -> FitResult:
    """The pack made to fit one page by `check`, with each step taken, in plain words.

    `check` says whether a pack fits (the PDF layout in every style that
    matters); `labels` name the references in the steps ("Bellis et al.,
    2019"), by number.  With `shorten_notes` false, notes are never cut (a
    template keeps each work's caveats) and only step 2 is used.
    """
    result = check(pack)
    if result.fits:
        return FitResult(pack, (), True)
    original = {n: r.note for n, r in enumerate(pack.references, 1)}
    printed = [n for n, r in enumerate(pack.references, 1) if not r.further_reading]

    shortened: list[int] = []
    if shorten_notes:
        longest_first = sorted(printed, key=lambda n: (-len(original[n]), n))
        for number in longest_first:
            short = first_sentence(original[number])
            if short == " ".join(original[number].split()):
                continue
            shortened.append(number)
            pack = _with_notes(pack, {number: short})
            result = check(pack)
            if result.fits:
                break

    moved: list[int] = []
    if not result.fits:
        before_moving = pack
        cited = {n: sum(n in m.cites for m in pack.key_messages) for n in printed}
        for number in sorted(printed, key=lambda n: (cited[n], -n)):
            moved.append(number)
            pack = _further(pack, {number})
            result = check(pack)
            if result.fits:
                break
        if not result.fits:
            # Even with every reference under Further reading it would not fit: the key
            # messages or the ask are the problem, so leave the references where they were.
            pack, moved = before_moving, []
            result = check(pack)
        # A note moved to Further reading is not printed: give it back whole.
        pack = _with_notes(pack, {n: original[n] for n in moved})
        shortened = [n for n in shortened if n not in moved]
        # Moving references may have freed room for some notes in full again.
        if result.fits:
            for number in sorted(shortened, key=lambda n: (len(original[n]), n)):
                trial = _with_notes(pack, {number: original[number]})
                trial_result = check(trial)
                if trial_result.fits:
                    pack, result = trial, trial_result
                    shortened.remove(number)

    steps = []
    if shortened:
        steps.append(f"Shortened the note{'s' if len(shortened) > 1 else ''} for {_numbers(shortened)} "
                     "to the first sentence. Check that each still says what the work can and cannot support.")
    if moved:
        names = "; ".join(f"[{n}] {labels[n - 1]}" if n <= len(labels) else f"[{n}]" for n in sorted(moved))
        steps.append(f"Moved {_numbers(moved)} ({names}) to a “Further reading” line, as "
                     f"{'they were' if len(moved) > 1 else 'it was'} cited least: still in the reference "
                     "list with the same number, without a note in “What the evidence says” (the note is "
                     "kept in the pack).")
    return FitResult(pack, tuple(steps), result.fits, "" if result.fits else result.advice)
