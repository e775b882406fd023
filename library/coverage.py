"""Where the collection is thin: references per theme and evidence type (the evidence map)."""

from __future__ import annotations

import pandas as pd

from .search import Searcher
from .taxonomy import Vocabulary

TOTAL = "All types"


def coverage_table(searcher: Searcher, vocabulary: Vocabulary) -> pd.DataFrame:
    """A theme × evidence type table of counts, themes in vocabulary order, gaps as 0.

    The index holds each reference under its themes' ancestors too, so a parent
    theme's row counts its children's references.
    """
    counts = searcher.theme_by_evidence_type()
    types = [t.slug for t in vocabulary.evidence_types]
    rows = []
    index = []
    for theme, depth in vocabulary.walk():
        row = counts.get(theme.slug, {})
        rows.append([int(row.get(t, 0)) for t in types] + [int(sum(row.values()))])
        index.append(theme.slug)
    frame = pd.DataFrame(rows, index=pd.Index(index, name="theme"), columns=[*types, TOTAL])
    return frame


def gaps(frame: pd.DataFrame) -> list[str]:
    """Themes with no references at all."""
    return [slug for slug, total in frame[TOTAL].items() if total == 0]


def format_coverage(frame: pd.DataFrame, vocabulary: Vocabulary) -> str:
    """The table as plain text for the terminal: indented theme labels, '-' for an empty cell."""
    short = {t.slug: _abbreviate(t.label) for t in vocabulary.evidence_types}
    headers = [short.get(c, c) for c in frame.columns]
    labels = []
    for theme, depth in vocabulary.walk():
        labels.append("  " * depth + theme.label)
    width = max(len(label) for label in labels) if labels else 10
    widths = [max(len(h), 4) for h in headers]
    lines = [" " * width + "  " + "  ".join(h.rjust(w) for h, w in zip(headers, widths))]
    for label, (_, row) in zip(labels, frame.iterrows()):
        cells = [(str(v) if v else "-").rjust(w) for v, w in zip(row.tolist(), widths)]
        gap = "   <- gap: no references yet" if row[TOTAL] == 0 else ""
        lines.append(label.ljust(width) + "  " + "  ".join(cells) + gap)
    key = "; ".join(f"{short[t.slug]} = {t.label}" for t in vocabulary.evidence_types)
    lines.append("")
    lines.append(f"Columns: {key}.")
    return "\n".join(lines)


def _abbreviate(label: str) -> str:
    words = [w for w in label.replace(",", "").split() if w.lower() not in ("or", "and", "of")]
    return "".join(w[0].upper() for w in words[:3]) if len(label) > 8 else label
