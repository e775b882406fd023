"""The fixed, mixed query set, and each query's closest SQLite FTS5 translation.

Every query asks for the first 20 hits with facet counts and snippets.  The
set leans on what makes search slow in this field: words that are in most
records ("trauma", "care"), phrases of them, prefixes and misspellings.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from library.search import SearchRequest


@dataclass(frozen=True)
class FtsQuery:
    """The same search for the FTS5 baseline.

    `match` is an FTS5 MATCH expression over the stemmed table; `unstemmed`
    sends it to the table of words as written (for prefixes, as our index
    does); `fuzzy` lists words to expand to every indexed word within one edit
    (FTS5 has no fuzzy search, so the baseline does what Whoosh does by hand).
    """

    match: str = ""
    unstemmed: bool = False
    fuzzy: tuple[str, ...] = ()
    themes: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    order_by_year: bool = False


@dataclass(frozen=True)
class BenchQuery:
    label: str
    request: SearchRequest
    fts: FtsQuery = field(default_factory=FtsQuery)


QUERIES: tuple[BenchQuery, ...] = (
    BenchQuery("word: trauma", SearchRequest("trauma"), FtsQuery("trauma")),
    BenchQuery("word: burnout", SearchRequest("burnout"), FtsQuery("burnout")),
    BenchQuery("word: leadership", SearchRequest("leadership"), FtsQuery("leadership")),
    BenchQuery("word: seclusion", SearchRequest("seclusion"), FtsQuery("seclusion")),
    BenchQuery("two words: trauma care", SearchRequest("trauma care"), FtsQuery("trauma AND care")),
    BenchQuery("two words: staff training", SearchRequest("staff training"), FtsQuery("staff AND training")),
    BenchQuery("two words: mental health", SearchRequest("mental health"), FtsQuery("mental AND health")),
    BenchQuery('phrase: "trauma informed"', SearchRequest('"trauma informed"'), FtsQuery('"trauma informed"')),
    BenchQuery('phrase: "mental health services"', SearchRequest('"mental health services"'),
               FtsQuery('"mental health services"')),
    BenchQuery('phrase: "secondary traumatic stress"', SearchRequest('"secondary traumatic stress"'),
               FtsQuery('"secondary traumatic stress"')),
    BenchQuery("field: title:leadership", SearchRequest("title:leadership"), FtsQuery("title:leadership")),
    BenchQuery("field: title:trauma", SearchRequest("title:trauma"), FtsQuery("title:trauma")),
    BenchQuery("field: author:muller", SearchRequest("author:muller"), FtsQuery("authors:muller")),
    BenchQuery("prefix: trainin*", SearchRequest("trainin*"), FtsQuery("trainin*", unstemmed=True)),
    BenchQuery("fuzzy: traning~", SearchRequest("traning~"), FtsQuery(fuzzy=("traning",))),
    BenchQuery("theme filter: trauma + staff-wellbeing",
               SearchRequest("trauma", themes=("staff-wellbeing",)),
               FtsQuery("trauma", themes=("staff-wellbeing",))),
    BenchQuery("theme filter only: implementation", SearchRequest("", themes=("implementation",)),
               FtsQuery(themes=("implementation",), order_by_year=True)),
    BenchQuery("year filter: trauma care, 2015-2020",
               SearchRequest("trauma care", year_from=2015, year_to=2020),
               FtsQuery("trauma AND care", year_from=2015, year_to=2020)),
    BenchQuery("theme + year: burnout, outcomes, 2010-",
               SearchRequest("burnout", themes=("outcomes",), year_from=2010),
               FtsQuery("burnout", themes=("outcomes",), year_from=2010)),
    BenchQuery("everything, newest first", SearchRequest("", sort="newest"), FtsQuery(order_by_year=True)),
)


# Everyday phrasing (issue 13): measured in the same run and shown in their own table, not in
# p50/p95, so that those stay comparable with earlier runs of the set above.  FTS5 has no
# compounds, spelling rules or theme labels: its row is the closest plain translation.
EVERYDAY: tuple[BenchQuery, ...] = (
    BenchQuery("everyday: burn out", SearchRequest("burn out"), FtsQuery('burnout OR "burn out"')),
    BenchQuery("everyday: staff wellbeing", SearchRequest("staff wellbeing"), FtsQuery("staff AND wellbeing")),
    BenchQuery("everyday: organisational change", SearchRequest("organisational change"),
               FtsQuery("organisational AND change")),
    BenchQuery("everyday: nurses burnout zzzz (most of the words)", SearchRequest("nurses burnout zzzz"),
               FtsQuery("nurses AND burnout AND zzzz")),
    BenchQuery("everyday: trauma-informed care", SearchRequest("trauma-informed care"),
               FtsQuery('"trauma informed" AND care')),
)
