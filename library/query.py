"""Reading what an advocate typed into a Whoosh query.

The syntax is Whoosh's (AND/OR/NOT, "phrases", `title:`, `author:`, `theme:`,
`year:[2015 TO 2020]`, `trainin*`, `traning~`), with AND between words and
title weighted above key finding above abstract.  On top of it, by rule:

- a hyphenated word is a phrase ("trauma-informed" finds the two words side by
  side), and also the joined word when the collection has it ("well-being" also
  finds "wellbeing");
- two words typed apart also match them joined when the collection has the
  joined word ("burn out" finds "burnout", "burnt out" too), and a word also
  matches its two halves side by side when the collection has them so
  ("burnout" finds "burn-out" and "burn out");
- an abbreviation of the field (`ABBREVIATIONS`) also finds what it stands for,
  and the spelt-out words also find the abbreviation ("PTSD" finds
  "post-traumatic stress disorder", and the other way round);
- prefix, wildcard and fuzzy terms look at the words as written (the "_x"
  copies of the text fields), not at their stems.

A query that cannot be read never fails: it falls back to its plain words and
says so; a query of only words the index leaves out ("the") says that instead.
When the words are simply typed one after another, the parts are kept
(`ParsedQuery.parts`), so that a search nothing matches in full can show what
matches most of them; a hyphenated word counts as its words there, as typed apart
("peer-support" as "peer support").
"""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass, replace
from typing import Protocol

from whoosh import query as wq
from whoosh.analysis import STOP_WORDS
from whoosh.qparser import FieldAliasPlugin, FuzzyTermPlugin, GtLtPlugin, MultifieldPlugin, QueryParser
from whoosh.qparser import syntax
from whoosh.qparser.plugins import Plugin, PhrasePlugin

from .analysis import PLAIN, STEMMED, analyse, drop_invisible, split_word
from .ranking import AndNot
from .index import SCHEMA

MAX_QUERY_LENGTH = 1000

SEARCH_FIELDS = ("title", "authors", "finding", "abstract", "keywords", "venue", "topics")
FIELD_BOOSTS = {"title": 3.0, "authors": 1.5, "finding": 2.0, "abstract": 1.0, "keywords": 1.5,
                "venue": 0.5, "topics": 2.0}
ALIASES = {
    "authors": ["author", "by"],
    "theme": ["themes", "topic"],
    "type": ["evidence", "evidence-type", "evidence_type"],
    "finding": ["key-finding", "key_finding", "summary"],
    "setting": ["settings"],
    "venue": ["journal", "source"],
}
# The fields a search may name; the index's internal fields (word copies, pairs) are not among them.
PUBLIC_FIELDS = frozenset({"key", "title", "authors", "year", "venue", "finding", "abstract", "keywords", "topics",
                           "theme", "type", "setting", "country", "doi"})
_KNOWN_FIELDS = PUBLIC_FIELDS | {alias for names in ALIASES.values() for alias in names}
# Words as written, for prefix, wildcard and fuzzy terms.
UNSTEMMED = {"title": "title_x", "finding": "finding_x", "abstract": "abstract_x", "keywords": "keywords_x",
             "topics": "topics_x"}
STEMMED_FIELDS = ("title", "finding", "abstract", "keywords", "topics")

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*", re.UNICODE)
_OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO"}
_HYPHEN = re.compile(r"[-‐‑]")
_HYPHENATED = re.compile(r"^[^\W\d_]+(?:[-‐‑][^\W\d_]+)+$")
_PLAIN_WORD = re.compile(r"^[^\W\d_]{2,}$")


@dataclass(frozen=True)
class Abbreviation:
    """An abbreviation with one meaning in mental-health writing, and the words it stands for."""

    short: str  # as it is written: "PTSD"
    # What it stands for, in the forms writing uses; a search for the abbreviation finds each
    # as a phrase, and any of them typed (hyphens or not) also finds the abbreviation.
    spelt: tuple[str, ...]
    # Expanded only when typed in capitals, and never added to the spelt-out words: the index
    # keeps words in lower case, and in lower case the abbreviation is another word ("tic").
    capitals_only: bool = False


# Only abbreviations whose meaning in this field is not in doubt.  Where an abbreviation names
# a theme, it is that theme's synonym in references/themes.toml instead (ACEs: "Adverse
# childhood experiences"; STS; SMI), which finds the references tagged with the theme.
ABBREVIATIONS = (
    # "post-traumatic stress" without "disorder" too: how writing on its symptoms names it.
    Abbreviation("PTSD", ("post traumatic stress disorder", "posttraumatic stress disorder",
                          "post traumatic stress", "posttraumatic stress")),
    Abbreviation("TIC", ("trauma informed care",), capitals_only=True),
    # "US" in capitals is the word "USA" in the index (library/analysis.py CAPITALS); in lower
    # case it is the common word "us".
    Abbreviation("USA", ("united states",)),
    Abbreviation("US", ("united states",), capitals_only=True),
)


def _words_key(words: list[str]) -> tuple[str, ...]:
    return tuple(term_of(word) or word.lower() for word in words)


class Lexicon(Protocol):
    """What the collection holds, as the query reader needs to know it."""

    def has_term(self, term: str) -> bool:
        """Whether an analysed term is in any of the stemmed text fields."""

    def has_pair(self, first: str, second: str) -> bool:
        """Whether two analysed terms stand side by side in any of the stemmed text fields."""


@dataclass(frozen=True)
class ParsedQuery:
    query: wq.Query
    notice: str | None = None
    # For words typed one after another (no operators, no brackets): each part as typed
    # and its query, so that "the most of them" can be searched for when nothing has all.
    # A hyphenated word the collection does not write joined gives its words as parts, as
    # the same words typed apart do ("peer-support": peer, support).
    parts: tuple[tuple[str, wq.Query], ...] = ()
    # The hyphenated words given as their words in `parts` ("peer-support").
    split: tuple[str, ...] = ()


def term_of(word: str) -> str:
    """The stemmed term for one word as typed ('' for a stop word)."""
    terms = [t.text for t in STEMMED(word, mode="query")]
    return terms[0] if len(terms) == 1 else ""


def plain_words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text) if w.upper() not in _OPERATORS][:50]


def word_spans(text: str) -> list[tuple[int, int, str]]:
    """Where the plain words of a query are (not field names, operators, prefixes or fuzzy terms)."""
    spans = []
    for match in _WORD.finditer(text):
        word, end = match.group(), match.end()
        if word.upper() in _OPERATORS or text[end:end + 1] in (":", "*", "?", "~"):
            continue
        spans.append((match.start(), end, word))
    return spans


# ------------------------------------------------------------------ syntax problems


_FIELD_PREFIX = re.compile(r"(?<![\w.])([A-Za-z][\w-]*):")
_FIELD_BEFORE = re.compile(r"(?<![\w.])[A-Za-z][\w-]*:$")


def syntax_problem(text: str) -> str | None:
    """A plain description of what makes the query unreadable, or None."""
    if text.count('"') % 2:
        return "a closing quotation mark is missing"
    depth = 0
    for char in text:
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth < 0:
            break
    if depth != 0:
        return "the brackets ( ) do not match"
    if text.count("[") != text.count("]") or text.count("{") != text.count("}"):
        return "the range brackets [ ] do not match"
    for match in _FIELD_PREFIX.finditer(text):
        if match.group(1).lower() not in _KNOWN_FIELDS:
            return (f"'{match.group(1)}:' is not something you can search by "
                    "(try title:, author:, theme:, type:, setting: or year:)")
        rest = text[match.end():]
        if not rest.strip() or rest[:1].isspace() or rest[:1] in ")":
            return f"nothing follows '{match.group(0)}'"
    words = text.split()
    if words and (words[0] in ("AND", "OR") or words[-1] in ("AND", "OR", "NOT", "ANDNOT")):
        return "a search word is missing next to AND, OR or NOT"
    return None


def _implicit(text: str) -> bool:
    """True when the words are typed one after another: no operators, no brackets."""
    return not any(word in _OPERATORS - {"TO"} for word in text.split()) and "(" not in text


# ------------------------------------------------------------------ compounds


class _CompoundPlugin(Plugin):
    """Hyphens, words typed apart and joined words, by the words of the collection (see the module doc)."""

    def __init__(self, lexicon: Lexicon | None) -> None:
        self.lexicon = lexicon

    def filters(self, parser):  # type: ignore[no-untyped-def]
        # After field names are attached (100), before each word is spread over the fields (110).
        return [(self.do_compounds, 105)]

    def do_compounds(self, parser, group, spelt_out: bool = True):  # type: ignore[no-untyped-def]
        nodes = list(group)
        out = group.empty_copy()
        i = 0
        while i < len(nodes):
            node = nodes[i]
            if isinstance(node, syntax.GroupNode):
                out.append(self.do_compounds(parser, node))
                i += 1
                continue
            spelt = _spelt_out(nodes, i) if spelt_out else None
            if spelt is not None:
                short, end = spelt
                inner = self.do_compounds(parser, syntax.AndGroup(nodes[i:end]), spelt_out=False)
                out.append(_alternatives(short, inner, node.startchar, nodes[end - 1].endchar))
                i = end
                continue
            if _is_word(node):
                phrases = _expansions(node.text)
                if phrases:
                    group = syntax.OrGroup([_word(node.text, node.startchar, node.endchar),
                                            *(_phrase(p, node.startchar, node.endchar) for p in phrases)])
                    group.set_range(node.startchar, node.endchar)
                    out.append(group)
                    i += 1
                    continue
            if _is_word(node) and _HYPHENATED.match(node.text):
                out.append(self._hyphenated(node))
                i += 1
                continue
            if _is_word(node) and _PLAIN_WORD.match(node.text):
                after = nodes[i + 2] if i + 2 < len(nodes) and nodes[i + 1].is_ws() else None
                if after is not None and _is_word(after) and _PLAIN_WORD.match(after.text):
                    joined = self._joined(node.text, after.text)
                    if joined:
                        out.append(_alternatives(joined, f"{node.text} {after.text}", node.startchar, after.endchar))
                        i += 3
                        continue
                halves = self._halves(node.text)
                if halves:
                    out.append(_alternatives(node.text, halves, node.startchar, node.endchar))
                    i += 1
                    continue
            out.append(node)
            i += 1
        return out

    def _hyphenated(self, node):  # type: ignore[no-untyped-def]
        parts = [p for p in _HYPHEN.split(node.text) if p]
        joined = self._joined(*parts) if len(parts) == 2 else None
        phrase = _phrase(" ".join(parts), node.startchar, node.endchar)
        return _alternatives(joined, phrase, node.startchar, node.endchar) if joined else phrase

    def _known(self, word: str) -> bool:
        term = term_of(word)
        return bool(term) and self.lexicon is not None and self.lexicon.has_term(term)

    def _joined(self, first: str, second: str) -> str | None:
        """The two words as one word of the collection ("burn out", "burnt out" → "burnout"), if any."""
        if self.lexicon is None or _stop(first) or _stop(second):
            return None
        candidates = dict.fromkeys([f"{first}{second}".lower(), f"{term_of(first)}{second}".lower()])
        return next((c for c in candidates if self._known(c)), None)

    def _halves(self, word: str) -> str | None:
        """The word as two words of the collection written side by side ("burnout" → "burn out"), if any."""
        if self.lexicon is None or len(word) < 5:
            return None
        lower = word.lower()
        for cut in range(2, len(lower) - 1):
            first, second = lower[:cut], lower[cut:]
            if _stop(first) or _stop(second):
                continue
            a, b = term_of(first), term_of(second)
            if a and b and self.lexicon.has_pair(a, b):
                return f"{first} {second}"
        return None


def _expansions(word: str) -> tuple[str, ...]:
    """The phrases an abbreviation typed stands for (see ABBREVIATIONS), or none."""
    for abbreviation in ABBREVIATIONS:
        if word == abbreviation.short if abbreviation.capitals_only else \
                word.casefold() == abbreviation.short.casefold():
            return abbreviation.spelt
    return ()


def _spelt_forms() -> dict[tuple[str, ...], str]:
    forms: dict[tuple[str, ...], str] = {}
    for abbreviation in ABBREVIATIONS:
        if not abbreviation.capitals_only:
            for spelt in abbreviation.spelt:
                forms[_words_key(spelt.split())] = abbreviation.short
    return forms


_SPELT_FORMS = _spelt_forms()
_LONGEST_SPELT = max((len(key) for key in _SPELT_FORMS), default=0)


def _spelt_out(nodes: list, i: int) -> tuple[str, int] | None:  # type: ignore[type-arg]
    """When the words from nodes[i] on spell out an abbreviation ("post-traumatic stress
    disorder"), the abbreviation and the index after the last of those words; the longest wins."""
    words: list[str] = []
    ends: list[tuple[tuple[str, ...], int]] = []
    j = i
    while j < len(nodes) and _is_word(nodes[j]) and len(words) < _LONGEST_SPELT:
        words.extend(part for part in _HYPHEN.split(nodes[j].text) if part)
        ends.append((_words_key(words), j + 1))
        if j + 2 < len(nodes) and nodes[j + 1].is_ws():
            j += 2
        else:
            break
    for key, end in reversed(ends):
        if key in _SPELT_FORMS:
            return _SPELT_FORMS[key], end
    return None


def _is_word(node) -> bool:  # type: ignore[no-untyped-def]
    return type(node) is syntax.WordNode and node.fieldname is None


def _stop(word: str) -> bool:
    return word.lower() in STOP_WORDS or len(word) < 2


def _phrase(text: str, start: int, end: int):  # type: ignore[no-untyped-def]
    node = PhrasePlugin.PhraseNode(text, start)
    node.set_range(start, end)
    return node


def _word(text: str, start: int, end: int):  # type: ignore[no-untyped-def]
    node = syntax.WordNode(text)
    node.set_range(start, end)
    return node


def _alternatives(word: str, phrase, start: int, end: int):  # type: ignore[no-untyped-def]
    """The word, or the phrase (or group): an OR group spanning the text they stand for."""
    if isinstance(phrase, str):
        phrase = _phrase(phrase, start, end)
    group = syntax.OrGroup([_word(word, start, end), phrase])
    group.set_range(start, end)
    return group


# ------------------------------------------------------------------ the parser


class _Parser(QueryParser):
    def __init__(self, lexicon: Lexicon | None) -> None:
        super().__init__(None, SCHEMA, group=syntax.AndGroup)
        self.add_plugin(MultifieldPlugin(list(SEARCH_FIELDS), fieldboosts=FIELD_BOOSTS))
        self.add_plugin(FuzzyTermPlugin())
        self.add_plugin(GtLtPlugin())
        self.add_plugin(FieldAliasPlugin(ALIASES))
        self.add_plugin(_CompoundPlugin(lexicon))

    def term_query(self, fieldname, text, termclass, boost=1.0, tokenize=True, removestops=True):  # type: ignore[no-untyped-def]
        # Prefix, wildcard and fuzzy terms match words as written ("traine*" is not "train*").
        if isinstance(termclass, type) and issubclass(termclass, (wq.Prefix, wq.Wildcard, wq.FuzzyTerm)):
            fieldname = UNSTEMMED.get(fieldname, fieldname)
        return super().term_query(fieldname, text, termclass, boost, tokenize, removestops)


def _tidy(q: wq.Query) -> wq.Query:
    """Fuzzy terms keep their first letter (quick on a big vocabulary, and how people misspell);
    ANDNOT is Whoosh's with its first-document slip fixed (see library/ranking.py)."""
    if type(q) is wq.AndNot:
        return AndNot(_tidy(q.a), _tidy(q.b))
    if isinstance(q, wq.FuzzyTerm) and q.prefixlength < 1:
        q = wq.FuzzyTerm(q.fieldname, q.text, boost=q.boost, maxdist=q.maxdist, prefixlength=1,
                         constantscore=q.constantscore)
        return q
    return q.apply(_tidy) if not q.is_leaf() else q


def _unreadable(q: wq.Query) -> bool:
    """True when the parser met a part it could not read (it leaves a null query there)."""
    if isinstance(q, wq.qcore._NullQuery):
        return True
    return any(_unreadable(child) for child in q.children())


def _check_ranges(q: wq.Query) -> None:
    for leaf in q.leaves() if not q.is_leaf() else [q]:
        if isinstance(leaf, wq.NumericRange):
            for bound in (leaf.start, leaf.end):
                if bound is not None and not (0 <= int(bound) < 2**31):
                    raise ValueError("year out of range")


def parse_query(text: str, lexicon: Lexicon | None = None) -> ParsedQuery:
    """The Whoosh query for the text, with a notice when plain words had to be used instead."""
    text = drop_invisible(text.replace("\x00", " ")).strip()[:MAX_QUERY_LENGTH]
    if not text:
        return ParsedQuery(wq.Every())
    problem = syntax_problem(text)
    if problem is None:
        parsed = _parse(text, lexicon)
        if parsed is not None:
            left_out = _left_out(text)
            return replace(parsed, notice=left_out) if left_out and parsed.notice is None else parsed
    unsearchable = _unsearchable(text)
    if unsearchable:
        # The index leaves these words out, so nothing can match them: not a matter of syntax.
        notice = unsearchable if problem is None else \
            f"We could not read your search as written ({problem}), and {unsearchable}"
        return ParsedQuery(wq.NullQuery, notice)
    problem = problem or "part of it is not search syntax we understand"
    words = plain_words(text)
    if not words:
        return ParsedQuery(wq.NullQuery, "Your search has no words we could look for. "
                                          "Try some words from a title or topic.")
    notice = f"We could not read your search as written ({problem}), so we searched for the words: {' '.join(words)}."
    fallback = _parse(" ".join(words), lexicon)
    # No "most of the words" on top of a search already read another way: one guess is enough.
    return ParsedQuery(fallback.query if fallback else wq.NullQuery, notice)


def _unsearchable(text: str) -> str:
    """When every search word typed is one the index leaves out (too common, or one letter), why: else ''."""
    words: list[str] = []
    for _, _, word in word_spans(text):
        if word.lower() not in (w.lower() for w in words):
            words.append(word)
    if not words or any(analyse(word, PLAIN) for word in words):
        return ""
    common = [word for word in words if split_word(word)[0].lower() in STOP_WORDS]
    short = [word for word in words if word not in common]
    said = []
    if common:
        said.append(f"{_listed(common)} {'is too common a word' if len(common) == 1 else 'are too common'} "
                    "to search for")
    if short:
        said.append(f"{_listed(short)} {'is' if len(short) == 1 else 'are'} too short"
                    f"{'' if common else ' to search for'}")
    return f"{', and '.join(said)}: add a more specific word."


def _left_out(text: str) -> str:
    """When a search word typed in capitals, as an abbreviation is ("WHO", "IT"), is a common word the
    index leaves out, and other words are searched for, that it was left out: else ''.

    Common words in lower case ("the", "of") are left out without a word: nobody means them alone.
    """
    words = [word for _, _, word in word_spans(text)]
    capitals = [word for word in dict.fromkeys(words)
                if len(word) > 1 and word.isupper() and not analyse(word, PLAIN)
                and split_word(word)[0].lower() in STOP_WORDS]
    if not capitals or not any(analyse(word, PLAIN) for word in words):
        return ""
    return (f"{_listed(capitals)} {'is too common a word' if len(capitals) == 1 else 'are too common'} "
            f"to search for, so the results are for your other words.")


def _listed(words: list[str]) -> str:
    quoted = [f"'{word}'" for word in words]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"


_PARSERS: "weakref.WeakKeyDictionary[object, _Parser]" = weakref.WeakKeyDictionary()
_PLAIN_PARSER = _Parser(None)


def _parser_for(lexicon: Lexicon | None) -> _Parser:
    """One parser per state of the index (it holds no state of its own between parses)."""
    if lexicon is None:
        return _PLAIN_PARSER
    parser = _PARSERS.get(lexicon)
    if parser is None:
        parser = _PARSERS[lexicon] = _Parser(lexicon)
    return parser


def _parse(text: str, lexicon: Lexicon | None) -> ParsedQuery | None:
    parser = _parser_for(lexicon)
    try:
        tree = parser.process(text)
        q = _tidy((tree.query(parser) or wq.NullQuery).normalize())
        if _unreadable(q):
            return None
        _check_ranges(q)
    except (ValueError, OverflowError):  # numbers and ranges the parser could not make sense of
        return None
    except (IndexError, AssertionError):
        # Whoosh's parser fails so on some runs of operators it cannot place ("NOT ANDNOT >",
        # ">=ANDNOT"); such a query is read as its plain words instead.
        return None
    parts: list[tuple[str, wq.Query]] = []
    split: list[str] = []
    if _implicit(text) and isinstance(tree, syntax.AndGroup):
        for node in tree:
            part = node.query(parser)
            part = _tidy(part.normalize()) if part is not None else wq.NullQuery
            if part is not wq.NullQuery and not isinstance(part, wq.qcore._NullQuery):
                field_name = _FIELD_BEFORE.search(text, 0, node.startchar)  # "theme:" belongs to the part
                start = field_name.start() if field_name else node.startchar
                label = " ".join(text[start:node.endchar].split())
                if _HYPHENATED.match(label):
                    # Its words, as the same words typed apart give them (one part when joined).
                    apart = _parse(" ".join(p for p in _HYPHEN.split(label) if p), lexicon)
                    if apart is not None and apart.parts:
                        parts.extend(apart.parts)
                        split.append(label)
                        continue
                parts.append((label, part))
    if len(parts) < 2:
        parts, split = [], []
    return ParsedQuery(q, None, tuple(parts), tuple(split))
