"""The theme vocabulary: hierarchical themes, evidence types, settings and common concerns.

It is data kept beside the references (`references/themes.toml`), owned by
the librarian; this module reads, checks and writes it.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .errors import VocabularyError

VOCABULARY_FILE = "themes.toml"
# Anchored with \Z, not $: "$" lets a trailing newline through.
SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\Z")


@dataclass(frozen=True)
class Term:
    """An entry of a flat controlled list (evidence type or setting)."""

    slug: str
    label: str
    description: str = ""


@dataclass(frozen=True)
class Theme(Term):
    parent: str | None = None
    # Other words for the theme ("lived experience" for peer support): a search for them finds
    # the references tagged with the theme or a narrower one, as its label does.
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Concern:
    """A barrier advocates meet, and the themes whose references answer it."""

    slug: str
    label: str
    response: str
    themes: tuple[str, ...]


@dataclass(frozen=True)
class Vocabulary:
    themes: tuple[Theme, ...]
    evidence_types: tuple[Term, ...]
    settings: tuple[Term, ...]
    concerns: tuple[Concern, ...] = ()
    version: int = 1
    source: str = VOCABULARY_FILE

    # ------------------------------------------------------------ look-ups
    @cached_property
    def theme_by_slug(self) -> dict[str, Theme]:
        return {t.slug: t for t in self.themes}

    @cached_property
    def evidence_type_by_slug(self) -> dict[str, Term]:
        return {t.slug: t for t in self.evidence_types}

    @cached_property
    def setting_by_slug(self) -> dict[str, Term]:
        return {t.slug: t for t in self.settings}

    @cached_property
    def concern_by_slug(self) -> dict[str, Concern]:
        return {c.slug: c for c in self.concerns}

    @cached_property
    def _children(self) -> dict[str | None, tuple[Theme, ...]]:
        children: dict[str | None, list[Theme]] = {}
        for theme in self.themes:
            children.setdefault(theme.parent, []).append(theme)
        return {parent: tuple(kids) for parent, kids in children.items()}

    def children(self, slug: str | None) -> tuple[Theme, ...]:
        """Direct children of a theme, or the top-level themes for None, in file order."""
        return self._children.get(slug, ())

    def ancestors(self, slug: str) -> tuple[str, ...]:
        """Parent, grandparent... of a theme (nearest first)."""
        result = []
        theme = self.theme_by_slug.get(slug)
        while theme is not None and theme.parent:
            result.append(theme.parent)
            theme = self.theme_by_slug.get(theme.parent)
        return tuple(result)

    def descendants(self, slug: str) -> tuple[str, ...]:
        result: list[str] = []
        stack = [slug]
        while stack:
            for child in self.children(stack.pop()):
                result.append(child.slug)
                stack.append(child.slug)
        return tuple(result)

    def with_ancestors(self, slugs: tuple[str, ...] | list[str]) -> tuple[str, ...]:
        """The themes plus every ancestor, so that a parent theme finds its children's references."""
        seen: dict[str, None] = {}
        for slug in slugs:
            seen[slug] = None
            for parent in self.ancestors(slug):
                seen[parent] = None
        return tuple(seen)

    def depth(self, slug: str) -> int:
        return len(self.ancestors(slug))

    def label(self, slug: str) -> str:
        """A theme's, evidence type's or setting's label; the slug itself if unknown."""
        for table in (self.theme_by_slug, self.evidence_type_by_slug, self.setting_by_slug):
            if slug in table:
                return table[slug].label
        return slug

    def walk(self) -> list[tuple[Theme, int]]:
        """Every theme with its depth, parents before children, in file order."""
        out: list[tuple[Theme, int]] = []

        def visit(parent: str | None, depth: int) -> None:
            for theme in self.children(parent):
                out.append((theme, depth))
                visit(theme.slug, depth + 1)

        visit(None, 0)
        return out


# ---------------------------------------------------------------- filters asked for


@dataclass(frozen=True)
class UnknownSlug:
    """A theme, evidence type or setting asked for by its slug that the vocabulary does not hold."""

    kind: str  # "theme", "evidence type" or "setting"
    slug: str
    suggestions: tuple[str, ...]  # the closest known slugs, closest first
    known: tuple[str, ...]  # every known slug of the kind, in file order

    def message(self) -> str:
        said = f"There is no {self.kind} '{self.slug}'"
        if self.suggestions:
            said += f": did you mean {' or '.join(repr(s) for s in self.suggestions)}?"
        else:
            said += "."
        if self.kind != "theme":  # themes are many: a command or list shows them
            said += f" The {self.kind}s are: {', '.join(self.known)}."
        return said


def _closest(asked: str, terms: tuple[Term, ...]) -> tuple[str, ...]:
    """The known slugs nearest what was asked, by slug or label ("systematic_review", "Staff wellbeing")."""
    keys: dict[str, str] = {}
    for term in terms:
        keys.setdefault(term.slug, term.slug)
        keys.setdefault(term.label.casefold(), term.slug)
    wanted = asked.strip().casefold()
    found = difflib.get_close_matches(wanted.replace("_", "-").replace(" ", "-"), keys, n=3, cutoff=0.6) + \
        difflib.get_close_matches(wanted, keys, n=3, cutoff=0.6)
    return tuple(dict.fromkeys(keys[key] for key in found))[:3]


def unknown_slugs(vocabulary: Vocabulary, *, themes: tuple[str, ...] | list[str] = (),
                  evidence_types: tuple[str, ...] | list[str] = (),
                  settings: tuple[str, ...] | list[str] = ()) -> tuple[UnknownSlug, ...]:
    """The themes, evidence types and settings asked for that the vocabulary does not hold, with the
    nearest known ones: a filter on one of them would find nothing, which is not what was meant."""
    out = []
    for kind, asked, terms in (("theme", themes, vocabulary.themes),
                               ("evidence type", evidence_types, vocabulary.evidence_types),
                               ("setting", settings, vocabulary.settings)):
        known = tuple(term.slug for term in terms)
        for slug in dict.fromkeys(asked):
            if slug not in known:
                out.append(UnknownSlug(kind, slug, _closest(slug, terms), known))
    return tuple(out)


# ---------------------------------------------------------------- reading


def load_vocabulary(path: Path) -> Vocabulary:
    """Read and check `themes.toml`; every problem names the file and the entry."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise VocabularyError(
            f"The theme vocabulary {path} is missing. Restore it from version control, "
            "or point LIBRARY_REFERENCES_DIR at a collection that has one."
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise VocabularyError(f"{path}: this is not valid TOML ({error}). Fix the file and try again.") from None
    return vocabulary_from_dict(data, str(path))


def vocabulary_from_dict(data: dict, source: str) -> Vocabulary:
    problems: list[str] = []

    def terms(table: str) -> list[dict]:
        items = data.get(table, [])
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            problems.append(f"[[{table}]] must be a list of tables")
            return []
        return items

    def slug_of(table: str, item: dict, index: int) -> str:
        slug = item.get("slug")
        if not isinstance(slug, str) or not SLUG.fullmatch(slug):
            problems.append(f"[[{table}]] number {index + 1}: slug {slug!r} must be lower-case "
                            "letters, digits and single hyphens")
            return ""
        if not isinstance(item.get("label"), str) or not item["label"].strip():
            problems.append(f"[[{table}]] '{slug}': a label is required")
        return slug

    themes: list[Theme] = []
    seen: set[str] = set()
    for index, item in enumerate(terms("theme")):
        slug = slug_of("theme", item, index)
        if not slug:
            continue
        if slug in seen:
            problems.append(f"theme '{slug}' is defined twice")
            continue
        parent = item.get("parent") or None
        if parent is not None and parent not in seen:
            problems.append(f"theme '{slug}': its parent '{parent}' must be defined earlier in the file")
        seen.add(slug)
        themes.append(Theme(slug, str(item.get("label", slug)), str(item.get("description", "")), parent,
                            _synonyms(slug, item.get("synonyms", []), problems)))

    def flat(table: str) -> tuple[Term, ...]:
        out: list[Term] = []
        slugs: set[str] = set()
        for index, item in enumerate(terms(table)):
            slug = slug_of(table, item, index)
            if not slug:
                continue
            if slug in slugs:
                problems.append(f"{table.replace('_', ' ')} '{slug}' is defined twice")
                continue
            slugs.add(slug)
            out.append(Term(slug, str(item.get("label", slug)), str(item.get("description", ""))))
        return tuple(out)

    evidence_types = flat("evidence_type")
    settings = flat("setting")
    concerns: list[Concern] = []
    for index, item in enumerate(terms("concern")):
        slug = slug_of("concern", item, index)
        if not slug:
            continue
        linked = item.get("themes", [])
        if not isinstance(linked, list) or not linked:
            problems.append(f"concern '{slug}': 'themes' must list at least one theme")
            linked = []
        for theme in linked:
            if theme not in seen:
                problems.append(f"concern '{slug}': unknown theme '{theme}'")
        concerns.append(Concern(slug, str(item.get("label", slug)), str(item.get("response", "")),
                                tuple(str(t) for t in linked)))
    if not themes:
        problems.append("no [[theme]] is defined")
    if problems:
        raise VocabularyError(f"{source}: the vocabulary has problems:\n- " + "\n- ".join(problems))
    return Vocabulary(tuple(themes), evidence_types, settings, tuple(concerns),
                      int(data.get("version", 1)), source)


MAX_SYNONYM_LENGTH = 100


def _synonyms(slug: str, value: object, problems: list[str]) -> tuple[str, ...]:
    """A theme's synonyms: a list of short, distinct phrases (problems are added to the list)."""
    if not isinstance(value, list):
        problems.append(f"theme '{slug}': 'synonyms' must be a list of words or phrases, "
                        'like synonyms = ["lived experience", "peer worker"]')
        return ()
    out: list[str] = []
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, str) or not item.strip():
            problems.append(f"theme '{slug}': each synonym must be a word or phrase in quotes, not {item!r}")
            continue
        text = " ".join(item.split())
        if len(text) > MAX_SYNONYM_LENGTH:
            problems.append(f"theme '{slug}': the synonym '{text[:40]}…' is longer than "
                            f"{MAX_SYNONYM_LENGTH} characters")
            continue
        if text.casefold() in seen:
            problems.append(f"theme '{slug}': the synonym '{text}' is listed twice")
            continue
        seen.add(text.casefold())
        out.append(text)
    return tuple(out)


# ---------------------------------------------------------------- writing


def vocabulary_to_dict(vocabulary: Vocabulary) -> dict:
    def term(t: Term) -> dict:
        return {"slug": t.slug, "label": t.label, "description": t.description}

    themes = []
    for theme in vocabulary.themes:
        item = term(theme)
        if theme.parent:
            item["parent"] = theme.parent
        if theme.synonyms:
            item["synonyms"] = list(theme.synonyms)
        themes.append(item)
    return {
        "version": vocabulary.version,
        "theme": themes,
        "evidence_type": [term(t) for t in vocabulary.evidence_types],
        "setting": [term(t) for t in vocabulary.settings],
        "concern": [{"slug": c.slug, "label": c.label, "response": c.response, "themes": list(c.themes)}
                    for c in vocabulary.concerns],
    }


# The keys each array of tables holds, in the order a new table (or a key new to a table) is written.
_KEYS = {
    "theme": ("slug", "label", "description", "parent", "synonyms"),
    "evidence_type": ("slug", "label", "description"),
    "setting": ("slug", "label", "description"),
    "concern": ("slug", "label", "response", "themes"),
}
# What an absent key means, so that a key the file leaves out is not written just to say nothing.
_ABSENT = {"description": "", "parent": None, "synonyms": [], "response": ""}


def vocabulary_text(vocabulary: Vocabulary, current: str | None, *, renamed: dict[str, str] | None = None) -> str:
    """themes.toml for `vocabulary`, written as an edit of the file's `current` text: the librarian's
    comments, blank lines, layout and table order stay exactly as they are, and only the lines of
    what changed change (a reviewable diff).  Each array of tables (theme, evidence_type, setting,
    concern) is matched by slug (`renamed` maps an old slug to its new one): a changed key is
    rewritten in place, a table that went is removed with its lines, a new table goes where the
    vocabulary puts it (a new theme after its parent's family, as `Library.add_theme` orders it).
    Arrays and keys the vocabulary does not know are left alone.  With `current` None (no file
    yet) the file is written from scratch.  Raises VocabularyError when `current` is not TOML."""
    import tomlkit
    from tomlkit.exceptions import TOMLKitError

    try:
        doc = tomlkit.parse(current) if current is not None else tomlkit.document()
    except TOMLKitError as error:
        raise VocabularyError(f"{vocabulary.source}: the file on disk is not valid TOML now ({error}); fix it "
                              "before changing the vocabulary. Nothing was changed.") from None
    data = vocabulary_to_dict(vocabulary)
    if doc.get("version", 1) != data["version"]:
        doc["version"] = data["version"]
    for name in _KEYS:
        _edit_array(doc, name, data[name], (renamed or {}) if name == "theme" else {})
    return doc.as_string()


class _Record:
    """One [[table]] of an array, split into its keys (with any comments among them) and the
    blank lines and comments after its last key: those belong to the gap before the next table
    (typically the next section's heading), so they stay in that gap whatever happens to this table."""

    def __init__(self, slug: str, trivia: object, keys: list, tail: list) -> None:
        self.slug, self.trivia, self.keys, self.tail = slug, trivia, keys, tail


def _is_gap(item: object) -> bool:
    from tomlkit.items import Comment, Whitespace

    return isinstance(item, (Comment, Whitespace))


def _blank_line() -> list:
    from tomlkit.items import Whitespace

    return [(None, Whitespace("\n"))]


def _has_comment(gap: list) -> bool:
    from tomlkit.items import Comment

    return any(isinstance(item, Comment) for _, item in gap)


def _join_gaps(before: list, after: list) -> list:
    """The gap left when the table between `before` and `after` goes: one blank line as before,
    and every comment of either."""
    if not _has_comment(before):
        return after
    if not _has_comment(after):
        return before
    from tomlkit.items import Whitespace

    while before and isinstance(before[-1][1], Whitespace) and after and isinstance(after[0][1], Whitespace):
        before = before[:-1]  # one blank line between the two notes, not two
    return before + after


def _lcs(old: list[str], new: list[str]) -> set[str]:
    """The slugs that keep their order (the longest common subsequence): the rest move."""
    lengths = [[0] * (len(new) + 1) for _ in range(len(old) + 1)]
    for i in range(len(old) - 1, -1, -1):
        for j in range(len(new) - 1, -1, -1):
            lengths[i][j] = (lengths[i + 1][j + 1] + 1 if old[i] == new[j]
                             else max(lengths[i + 1][j], lengths[i][j + 1]))
    kept: set[str] = set()
    i = j = 0
    while i < len(old) and j < len(new):
        if old[i] == new[j]:
            kept.add(old[i])
            i, j = i + 1, j + 1
        elif lengths[i + 1][j] >= lengths[i][j + 1]:
            i += 1
        else:
            j += 1
    return kept


def _edit_array(doc: object, name: str, wanted: list[dict], renamed: dict[str, str]) -> None:
    from tomlkit.container import Container
    from tomlkit.items import AoT, Table, Trivia

    existing = doc.get(name)  # type: ignore[attr-defined]
    if existing is not None and not isinstance(existing, AoT):
        raise VocabularyError(f"[[{name}]] must be a list of tables")
    if existing is None and not wanted:
        return
    records: list[_Record] = []
    for table in existing.body if existing is not None else []:
        body = list(table.value.body)
        cut = len(body)
        while cut and body[cut - 1][0] is None and _is_gap(body[cut - 1][1]):
            cut -= 1
        slug = str(table.get("slug", ""))
        records.append(_Record(renamed.get(slug, slug), table.trivia, body[:cut], body[cut:]))
    by_slug = {item["slug"]: item for item in wanted}
    order = [item["slug"] for item in wanted]

    def remove(index: int) -> _Record:
        record = records.pop(index)
        if index > 0:
            records[index - 1].tail = _join_gaps(records[index - 1].tail, record.tail)
        elif records and _has_comment(record.tail):  # the first table: keep its notes under the next header
            records[0].keys = record.tail + records[0].keys
        record.tail = _blank_line()
        return record

    # Tables that went, then tables that moved (a merge re-files the narrower themes), leave their places.
    for index in range(len(records) - 1, -1, -1):
        if records[index].slug not in by_slug:
            remove(index)
    kept = _lcs([r.slug for r in records], order)
    moving = {records[i].slug: remove(i) for i in range(len(records) - 1, -1, -1) if records[i].slug not in kept}
    # ...and come back, with the new ones, where the vocabulary puts them.
    place = {r.slug: i for i, r in enumerate(records)}
    for position, slug in enumerate(order):
        if slug in place:
            continue
        record = moving.get(slug) or _Record(slug, Trivia(), [], _blank_line())
        if position == 0:
            records.insert(0, record)
        else:
            before = records[place[order[position - 1]]]
            record.tail, before.tail = before.tail, _blank_line()
            records.insert(place[order[position - 1]] + 1, record)
        place = {r.slug: i for i, r in enumerate(records)}
    tables = []
    for record in records:
        _edit_keys(record, by_slug[record.slug], _KEYS[name])
        container = Container(True)
        for key, value in record.keys + record.tail:
            container._raw_append(key, value)  # noqa: SLF001 - tomlkit's own way to build a parsed table
        tables.append(Table(container, record.trivia, is_aot_element=True, name=name))
    if not tables:
        del doc[name]  # type: ignore[attr-defined]
        return
    array = AoT(tables, name=name, parsed=True)
    if existing is None:
        doc.append(name, array)  # type: ignore[attr-defined]
    else:
        doc[name] = array  # type: ignore[index]


def _edit_keys(record: _Record, wanted: dict, keys: tuple[str, ...]) -> None:
    """Rewrite the keys whose value changed, in place (an inline comment stays); add a missing one
    after the key before it in the usual order; drop one the vocabulary no longer has."""
    import tomlkit

    def index_of(name: str) -> int | None:
        for i, (key, _) in enumerate(record.keys):
            if key is not None and key.key == name:
                return i
        return None

    for name in keys:
        value = wanted.get(name, _ABSENT.get(name))
        at = index_of(name)
        old = record.keys[at][1].unwrap() if at is not None else _ABSENT.get(name)
        if old == value or (old in (None, "", []) and value in (None, "", [])):
            continue
        if value is None or value == _ABSENT.get(name, object()):
            if at is not None:
                del record.keys[at]
            continue
        item = tomlkit.item(value)
        if at is not None:
            key, previous = record.keys[at]
            item.trivia.indent, item.trivia.comment_ws = previous.trivia.indent, previous.trivia.comment_ws
            item.trivia.comment, item.trivia.trail = previous.trivia.comment, previous.trivia.trail
            record.keys[at] = (key, item)
            continue
        after = -1
        for earlier in keys[: keys.index(name)]:
            found = index_of(earlier)
            if found is not None:
                after = found
        record.keys.insert(after + 1, (tomlkit.key(name), item))
