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
