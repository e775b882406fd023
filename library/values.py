"""Values typed by people (app forms, CLI `--set`, `--finding`, `--themes`, the API's edit verb).

A typed value is plain text, never LaTeX.  Its canonical form is what BibTeX will read
back: runs of whitespace become one space and the ends are trimmed.  Control characters
other than whitespace are refused.  Text fields are encoded with `latex.encode`, so that
reading the saved file back gives exactly the canonical text; the fields the library
reads raw (`doi`, `url`, `file`) and the vocabulary's fields (`themes`, `evidence-type`,
`setting`, `finding-checked`, `added`) are validated instead of encoded.

People's names are `records.Name` values (family, given, particle, suffix, or an
organisation) encoded the same way, so that `Name.parse(encode_name(n))` gives `n` back.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Iterable, Mapping, Sequence

from . import latex
from .bibtex import PERSON_FIELDS, Entry
from .errors import InvalidValue
from .records import Name, bare_doi

# Read raw by the library (never decoded): validated, written as typed.
RAW_FIELDS = frozenset({"doi", "url", "file"})
# The vocabulary's fields: slugs, a yes/no and a date.
LIST_SLUG_FIELDS = frozenset({"themes", "setting"})
SLUG_FIELDS = frozenset({"evidence-type"})
CHOICE_FIELDS = {"finding-checked": ("yes", "no")}
DATE_FIELDS = frozenset({"added"})

FIELD_NAME = re.compile(r"[a-z][a-z0-9_-]{0,39}")
SLUG_TEXT = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
DOI_TEXT = re.compile(r"10\.\d{4,9}/[^\s{}]+")
URL_TEXT = re.compile(r"https?://[^\s{}]+", re.IGNORECASE)
_WHITESPACE = re.compile(r"\s+")
_WORD_AND = re.compile(r"(?:^|\s)and(?:\s|$)", re.IGNORECASE)
_SHORT = 120  # characters of a value kept in the change log and in messages


def describe_char(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"U+{ord(char):04X}" + (f" ({name.lower()})" if name else "")


# Invisible characters text copied from PDFs and web pages carries inside words (a soft
# hyphen, a zero-width space, a word joiner, a byte-order mark): dropped, since they only
# hide the word from search.  Joiners that some scripts need (U+200C, U+200D) are kept.
INVISIBLE = frozenset("\u00ad\u200b\u2060\ufeff")
_INVISIBLE = re.compile("[" + "".join(sorted(INVISIBLE)) + "]")
# Characters that reorder how the text around them is shown: refused, since they can make
# a value read differently from what it holds.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def canonical(text: str, *, field: str = "") -> str:
    """The value as BibTeX will read it back: whitespace runs as one space, ends trimmed,
    invisible characters (`INVISIBLE`) dropped.

    Raises `InvalidValue` for control characters other than whitespace, for characters that
    reorder the text's direction (and for unpaired surrogates, which cannot be saved as UTF-8)."""
    if not isinstance(text, str):
        raise InvalidValue(f"{_where(field)}must be text, not {type(text).__name__}.")
    for index, char in enumerate(text):
        if char in BIDI_CONTROLS:
            raise InvalidValue(
                f"{_where(field)}contains the invisible character {describe_char(char)} at position "
                f"{index + 1}, which changes the order text is shown in, so it cannot be saved. Remove it "
                "and try again.")
        category = unicodedata.category(char)
        if category == "Cs":
            raise InvalidValue(f"{_where(field)}contains a broken character ({describe_char(char)}, half of a "
                               f"pair) at position {index + 1}, which cannot be saved. Type that character again.")
        if category == "Cc" and not char.isspace():
            raise InvalidValue(
                f"{_where(field)}contains the invisible control character {describe_char(char)} at position "
                f"{index + 1}, which cannot be saved. Remove it (it often comes from copying out of a PDF) "
                "and try again.")
    return _WHITESPACE.sub(" ", _INVISIBLE.sub("", text)).strip()


def _where(field: str) -> str:
    return f"The field '{field}' " if field else "The value "


def check_field_name(name: str) -> str:
    """The field name in lower case, if it can be a BibTeX field name."""
    lowered = name.lower() if isinstance(name, str) else ""
    if not FIELD_NAME.fullmatch(lowered):
        raise InvalidValue(f"'{name}' cannot be a field name: use lower-case letters, digits, '-' and '_', "
                           "starting with a letter (at most 40 characters).")
    return lowered


def encode_value(name: str, text: str) -> str:
    """The BibTeX for one typed value of field `name` ('' means: remove the field)."""
    value = canonical(text, field=name)
    if not value:
        return ""
    if name in RAW_FIELDS:
        return _raw(name, value)
    if name in LIST_SLUG_FIELDS:
        items = [item.strip() for item in re.split(r"[,;]", value) if item.strip()]
        for item in items:
            _slug(name, item)
        return ", ".join(dict.fromkeys(items))
    if name in SLUG_FIELDS:
        return _slug(name, value)
    if name in CHOICE_FIELDS:
        lowered = value.lower()
        if lowered not in CHOICE_FIELDS[name]:
            raise InvalidValue(f"The field '{name}' must be one of {', '.join(CHOICE_FIELDS[name])}, "
                               f"not '{shorten(value)}'.")
        return lowered
    if name in DATE_FIELDS:
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise InvalidValue(f"The field '{name}' must be a date written YYYY-MM-DD, not "
                               f"'{shorten(value)}'.") from None
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise InvalidValue(f"The field '{name}' must be a date written YYYY-MM-DD, not '{shorten(value)}'.")
        return value
    return latex.encode(value)


def _slug(name: str, value: str) -> str:
    if not SLUG_TEXT.fullmatch(value):
        raise InvalidValue(f"'{shorten(value)}' in the field '{name}' is not a slug: use lower-case letters, "
                           "digits and single hyphens, as in the vocabulary.")
    return value


def _raw(name: str, value: str) -> str:
    """A raw field is written exactly as typed, so it may not hold what BibTeX would read otherwise."""
    bad = [c for c in value if c in "{}" or c.isspace()]
    if bad:
        raise InvalidValue(f"The field '{name}' cannot contain braces or spaces "
                           f"('{shorten(value)}' has {describe_char(bad[0])}).")
    if name == "url" and not URL_TEXT.fullmatch(value):
        raise InvalidValue(f"The link '{shorten(value)}' must be a web address starting with https:// or http://.")
    if name == "doi" and not DOI_TEXT.fullmatch(bare_doi(value)):
        raise InvalidValue(f"The DOI '{shorten(value)}' is not well formed (a DOI looks like "
                           "10.1016/S0749-3797(98)00017-8).")
    return value


def decoded_value(name: str, raw: str) -> str:
    """How a saved field reads back as plain text (the inverse of `encode_value`)."""
    if name in RAW_FIELDS or name in LIST_SLUG_FIELDS or name in SLUG_FIELDS or name in CHOICE_FIELDS \
            or name in DATE_FIELDS:
        return _WHITESPACE.sub(" ", raw).strip()
    return latex.decode(raw)


def shorten(text: str, limit: int = _SHORT) -> str:
    """A value cut for a message or the change log: one line, at most `limit` characters."""
    text = _WHITESPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# ---------------------------------------------------------------- people's names


def canonical_name(name: Name, *, field: str = "author") -> Name:
    """The name as it will read back: each part canonical; a particle BibTeX would not
    recognise as one (it must be lower-case words) becomes part of the family name."""
    family = canonical(name.family, field=field)
    if not family:
        raise InvalidValue(f"A name in '{field}' has no family name (or organisation name); "
                           "every name needs one.")
    if name.literal:
        return Name(family=family, literal=True)
    given = canonical(name.given, field=field)
    particle = canonical(name.particle, field=field)
    suffix = canonical(name.suffix, field=field)
    if particle and not _is_particle(particle):
        family, particle = f"{particle} {family}", ""
    return Name(family=family, given=given, particle=particle, suffix=suffix)


def _is_particle(text: str) -> bool:
    words = latex.encode(text).split(" ")
    return all(word[:1].islower() for word in words) and not _WORD_AND.search(text) and "," not in text


ET_AL = Name(family="others")  # BibTeX's "and others": the list goes on (cited as "et al.")


def encode_name(name: Name, *, field: str = "author") -> str:
    """One person or organisation as a BibTeX name, such that `Name.parse` reads it back."""
    name = canonical_name(name, field=field)
    if name == ET_AL:
        return "others"  # not "{others}", which would be an organisation called "others"
    if name.literal:
        return "{" + latex.encode(name.family) + "}"
    family = latex.encode(name.family)
    if " " in name.family or "," in name.family or _WORD_AND.search(name.family) or not family[:1].isalpha() \
            or family[:1].islower() or not _plain_word(family):
        family = "{" + family + "}"
    if name.particle:
        family = f"{latex.encode(name.particle)} {family}"
    given = _protected(name.given) if name.given else ""
    if name.suffix:
        # 'Family, Suffix, Given': the second part is the suffix only when a third follows.
        return f"{family}, {_protected(name.suffix)}," + (f" {given}" if given else "")
    if given:
        return f"{family}, {given}"
    if family.startswith("{") or name.particle:
        return family + ","  # a lone braced name would read as an organisation
    return family


def _plain_word(encoded: str) -> bool:
    return "{" not in encoded and "\\" not in encoded


def _protected(text: str) -> str:
    encoded = latex.encode(text)
    if "," in text or _WORD_AND.search(text) or encoded.startswith("{"):
        return "{" + encoded + "}"
    return encoded


def names_from_text(text: str, *, field: str = "author") -> tuple[Name, ...]:
    """People typed on one line, as on the command line: 'Family, Given and Family, Given'.

    A name without a comma is 'Given Family'; 'Family, Suffix, Given' is read as BibTeX
    reads it; leading lower-case words of the family ('van der Berg') are its particle;
    a name wrapped in braces ('{World Health Organization}') is an organisation."""
    value = canonical(text, field=field)
    names = []
    for piece in _name_pieces(value, field):
        piece = piece.strip()
        if not piece:
            continue
        if piece.startswith("{") and piece.endswith("}") and not any(c in "{}" for c in piece[1:-1]):
            names.append(canonical_name(Name(family=piece[1:-1].strip(), literal=True), field=field))
        elif piece == "others":
            names.append(ET_AL)
        else:
            names.append(_person(piece, field))
    return tuple(names)


SUFFIXES = frozenset({"jr", "jr.", "sr", "sr.", "ii", "iii", "iv", "v"})


def _name_pieces(value: str, field: str) -> list[str]:
    """`value` split at each 'and' outside braces (in any case, as BibTeX reads it): an
    organisation's name in braces ('{Substance Abuse and Mental Health Services
    Administration}') stays whole.  Refuses what would otherwise save as names nobody typed:
    ';' between names, unbalanced braces, and an 'and' with no name on one side."""
    pieces: list[str] = []
    depth, start = 0, 0
    for match in re.finditer(r"[{}]|;|(?:^|\s+)and(?=\s|$)", value, re.IGNORECASE):
        token = match.group()
        if token == "{":
            depth += 1
        elif token == "}":
            depth -= 1
            if depth < 0:
                break
        elif depth == 0 and token == ";":
            raise InvalidValue(f"The names in '{field}' are separated by ';'. Separate names with ' and ', "
                               "as in 'Smith, Jane and Doe, J.' (put an organisation's name in braces: "
                               "'{NHS England}').")
        elif depth == 0:
            pieces.append(value[start:match.start()])
            start = match.end()
    if depth != 0:
        raise InvalidValue(f"The names in '{field}' have a '{{' without its '}}' (or the other way round). Braces go "
                           "around a whole organisation's name, as in '{NHS England}'.")
    pieces.append(value[start:])
    if value and any(not piece.strip() for piece in pieces):
        raise InvalidValue(f"The names in '{field}' have an 'and' with no name before or after it. Separate "
                           "names with ' and ', as in 'Smith, Jane and Doe, J.'.")
    return [piece for piece in pieces if piece.strip()]


def name_from_line(line: str, *, field: str = "author") -> Name:
    """One name on a line of its own (the add form): 'Family, Given' (or 'Family, Suffix, Given')
    for a person; a line without a comma is an organisation's name, taken whole."""
    value = canonical(line, field=field)
    if "," not in value:
        return canonical_name(Name(family=value, literal=True), field=field)
    return _person(value, field)


def _person(piece: str, field: str) -> Name:
    if "{" in piece or "}" in piece:
        raise InvalidValue(f"'{shorten(piece)}' in '{field}' has braces inside a person's name. Braces go only "
                           "around a whole organisation's name, as in '{NHS England}'.")
    parts = [p.strip() for p in piece.split(",")]
    if len(parts) > 3:
        raise InvalidValue(f"'{shorten(piece)}' in '{field}' has {len(parts) - 1} commas; a name has at most two: "
                           "'Family, Given' or 'Family, Jr, Given'. Separate names with ' and '.")
    if len(parts) == 3 and parts[2].casefold() in SUFFIXES and parts[1].casefold() not in SUFFIXES:
        parts = [parts[0], parts[2], parts[1]]  # 'King, Martin Luther, Jr.', as RIS and most people write it
    if len(parts) == 1:
        words = parts[0].split(" ")
        family_words, given_words = words[-1:], words[:-1]
        while given_words and given_words[-1][:1].islower():
            family_words.insert(0, given_words.pop())
        family, suffix, given = " ".join(family_words), "", " ".join(given_words)
    else:
        family = parts[0]
        suffix, given = (parts[1], parts[2]) if len(parts) > 2 else ("", parts[1])
    words = family.split(" ")
    particle_words = []
    while len(words) > 1 and words[0][:1].islower():
        particle_words.append(words.pop(0))
    return canonical_name(Name(family=" ".join(words), given=given, particle=" ".join(particle_words), suffix=suffix),
                          field=field)


def format_names(names: Iterable[Name]) -> str:
    """Names as one line of plain text, the way `names_from_text` reads them."""
    out = []
    for name in names:
        if name.literal:
            out.append("{" + name.family + "}")
            continue
        family = f"{name.particle} {name.family}".strip()
        out.append(", ".join(p for p in (family, name.suffix, name.given) if p) if (name.given or name.suffix)
                   else family)
    return " and ".join(out)


# ---------------------------------------------------------------- applying typed changes


TypedValue = str | Sequence[Name] | None


def apply_changes(entry: Entry, changes: Mapping[str, TypedValue]) -> Entry:
    """`entry` with typed changes applied: a field's plain text (encoded), a person role's
    names, or None / '' to remove.  Fields not named keep their raw LaTeX exactly."""
    fields = dict(entry.fields)
    persons = dict(entry.persons)
    for raw_name, value in changes.items():
        name = check_field_name(raw_name)
        if name in PERSON_FIELDS:
            if value is None or value == "":
                persons.pop(name, None)
                continue
            if isinstance(value, str):
                names = names_from_text(value, field=name)
            else:
                names = tuple(value)
                if not all(isinstance(n, Name) for n in names):
                    raise InvalidValue(f"The names in '{name}' must be given as names (family, given...).")
            encoded = tuple(encode_name(n, field=name) for n in names)
            if encoded:
                persons[name] = encoded
            else:
                persons.pop(name, None)
            continue
        if name in ("crossref", "key"):
            raise InvalidValue(f"The field '{name}' cannot be edited here.")
        if value is not None and not isinstance(value, str):
            raise InvalidValue(f"The field '{name}' takes text, not {type(value).__name__}.")
        encoded_value = encode_value(name, value or "")
        if encoded_value:
            fields[name] = encoded_value
        else:
            fields.pop(name, None)
    return Entry(entry.key, entry.type, fields, persons, entry.source, entry.line)


def field_changes(old: Entry | None, new: Entry) -> dict[str, list[str]]:
    """What an edit changed, field by field, as plain text shortened for the change log:
    {"title": ["old…", "new…"]}.  Empty for a new reference, and when nothing changed."""
    if old is None:
        return {}
    out: dict[str, list[str]] = {}
    if old.key != new.key:
        out["key"] = [old.key, new.key]
    if old.type != new.type:
        out["type"] = [old.type, new.type]
    for role in sorted(set(old.persons) | set(new.persons)):
        before, after = old.persons.get(role, ()), new.persons.get(role, ())
        if before != after:
            out[role] = [shorten(format_names(Name.parse(n) for n in before)),
                         shorten(format_names(Name.parse(n) for n in after))]
    names = list(old.fields) + [n for n in new.fields if n not in old.fields]
    for name in names:
        before, after = old.fields.get(name, ""), new.fields.get(name, "")
        if _WHITESPACE.sub(" ", before).strip() != _WHITESPACE.sub(" ", after).strip():
            out[name] = [shorten(decoded_value(name, before)), shorten(decoded_value(name, after))]
    return out


def change_kinds(old: Entry, new: Entry, changes: Iterable[str]) -> dict[str, str]:
    """For each field `field_changes` named: "added" (`old` did not have it), "removed" (`new`
    does not have it) or "changed".  Decided by whether each entry has the field, not by its
    shortened text, so a value that reads as nothing is still "changed", never "added"."""

    def has(entry: Entry, name: str) -> bool:
        return name in ("key", "type") or bool(entry.persons.get(name)) or name in entry.fields

    kinds = {}
    for name in changes:
        before, after = has(old, name), has(new, name)
        kinds[name] = "added" if after and not before else "removed" if before and not after else "changed"
    return kinds


def describe_change_kinds(kinds: Mapping[str, str]) -> str:
    """'volume changed; note removed; pages added', in the order the fields are given."""
    return "; ".join(f"{name} {kind}" for name, kind in kinds.items())
