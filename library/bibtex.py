"""Reading and writing BibTeX with pybtex, reporting every problem per entry.

pybtex's own `Parser` reports problems through a process-wide strict mode and
stops (or silently skips text) at the first syntax error.  We drive its
`LowLevelParser` ourselves so that each problem is collected with the file,
line, citation key and reason, parsing resumes at the next entry, and the
valid entries are still returned.
"""

from __future__ import annotations

import codecs
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

from pybtex.bibtex.utils import split_name_list
from pybtex.database import Person
from pybtex.database.input.bibtex import LowLevelParser, SkipEntry, month_names
from pybtex.exceptions import PybtexError
from pybtex.scanner import PrematureEOF, PybtexSyntaxError
from pybtex.textutils import normalize_whitespace
from pybtex.utils import CaseInsensitiveDict

from . import latex
from .errors import Problem

PERSON_FIELDS = ("author", "editor", "translator")
# The longest field value the library keeps (validation refuses longer ones).  Abbreviations
# (@string) expanded into a value may not make it longer either: chained abbreviations can
# otherwise grow a 1 KB file into gigabytes.
MAX_FIELD_LENGTH = 100_000

# The project's own fields, in the order they are written after the standard ones.
PROJECT_FIELDS = (
    "themes",
    "evidence-type",
    "setting",
    "country",
    "key-finding",
    "finding-checked",
    "provenance",
    "added",
    "added-by",
)


@dataclass(frozen=True, eq=True)
class Entry:
    """One BibTeX entry as written: field values keep their LaTeX.

    `fields` excludes the person fields, which are in `persons` as the name
    strings exactly as written (one string per person).
    """

    key: str
    type: str
    fields: dict[str, str] = field(hash=False)
    persons: dict[str, tuple[str, ...]] = field(hash=False)
    source: str = "<input>"
    line: int | None = None

    def get(self, name: str, default: str = "") -> str:
        return self.fields.get(name, default)

    def with_fields(self, **updates: str | None) -> "Entry":
        """A copy with fields set (or removed when the value is None or empty).

        Keyword names use underscores for hyphens: `key_finding="..."`.
        """
        fields = dict(self.fields)
        for name, value in updates.items():
            name = name.replace("_", "-")
            if value is None or value == "":
                fields.pop(name, None)
            else:
                fields[name] = value
        return Entry(self.key, self.type, fields, dict(self.persons), self.source, self.line)

    def with_key(self, key: str) -> "Entry":
        return Entry(key, self.type, dict(self.fields), dict(self.persons), self.source, self.line)

    def with_persons(self, role: str, names: Iterable[str]) -> "Entry":
        persons = dict(self.persons)
        names = tuple(n for n in names if n.strip())
        if names:
            persons[role] = names
        else:
            persons.pop(role, None)
        return Entry(self.key, self.type, dict(self.fields), persons, self.source, self.line)


@dataclass(frozen=True)
class ParseResult:
    entries: tuple[Entry, ...]
    problems: tuple[Problem, ...]
    text: str = ""

    @property
    def errors(self) -> tuple[Problem, ...]:
        return tuple(p for p in self.problems if p.severity == "error")


# ---------------------------------------------------------------- decoding bytes


def decode_bytes(data: bytes, source: str) -> tuple[str | None, list[Problem]]:
    """Text of a BibTeX file in whatever encoding it came in, or None with a problem.

    Handles byte-order marks, UTF-16 without a mark, and legacy single-byte
    encodings (read as Windows-1252, with a warning to check accents).
    """
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    elif data.startswith(codecs.BOM_UTF16_LE) or data.startswith(codecs.BOM_UTF16_BE):
        try:
            return data.decode("utf-16"), []
        except UnicodeDecodeError:
            return None, [Problem(source, None, None, "the file starts like UTF-16 text but is damaged.")]
    if b"\x00" in data:
        even_nuls = data[0::2].count(0)
        odd_nuls = data[1::2].count(0)
        half = max(1, len(data) // 2)
        if odd_nuls > 0.3 * half and even_nuls < 0.05 * half:
            encoding = "utf-16-le"
        elif even_nuls > 0.3 * half and odd_nuls < 0.05 * half:
            encoding = "utf-16-be"
        else:
            return None, [Problem(source, None, None,
                                  "this is not a text file (it contains binary data). "
                                  "Export your references as BibTeX (.bib) and try again.")]
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            return None, [Problem(source, None, None, "the file looks like UTF-16 text but is damaged.")]
        return text, [Problem(source, None, None,
                              f"the file is in {encoding.upper()} without a byte-order mark; read it as such.",
                              "warning")]
    try:
        return data.decode("utf-8"), []
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        text = data.decode("cp1252", errors="replace")
        return text, [Problem(source, line, None,
                              "the file is not UTF-8; it was read as Windows-1252 (Western European). "
                              "Check that accented letters look right, or save the file as UTF-8.",
                              "warning")]


# ---------------------------------------------------------------- parsing

_ENTRY_START = re.compile(r"^[ \t]*@", re.MULTILINE)
# Text after an entry's closing brace that looks like more of the entry: a comma or
# brace straight after it, or a "field = {" line.
_STRAY_FIELDS = re.compile(r"\A\s*[,}]|^[ \t]*[A-Za-z][\w-]*[ \t]*=[ \t]*[{\"0-9]", re.MULTILINE)
_EXTENDED_NAME = re.compile(r"^\s*(family|given|prefix|suffix|useprefix)\s*=", re.IGNORECASE)


class _Scanner(LowLevelParser):
    """pybtex's low-level parser, recovering at the next entry after an error."""

    def __init__(self, text: str, source: str, problems: list[Problem], max_nesting: int) -> None:
        super().__init__(text, macros=CaseInsensitiveDict(month_names), filename=source)
        self.source = source
        self.problems = problems
        self.max_nesting = max_nesting
        self.entry_line = 1
        self._macro_used = False
        self._refused_macros: dict[str, int] = {}  # abbreviations too long to expand, and their line

    def parse_bibliography(self) -> Iterator[tuple[int, tuple]]:  # type: ignore[override]
        while True:
            if not self.skip_to([self.AT]):
                return
            self.command_start = self.pos - 1
            self.entry_line = self.lineno
            try:
                command = tuple(self.parse_command())
            except PybtexSyntaxError as error:
                self._resume_after(self.command_start)
                line = error.lineno
                if isinstance(error, _ValueTooLong):
                    pass  # the line where the long value is
                elif isinstance(error, PrematureEOF) or (self.pos < self.end_pos and line >= self.lineno):
                    # An unclosed brace let pybtex read on into the entries that follow;
                    # their line would mislead, so point at the start of the broken entry.
                    line = self.entry_line
                self.problems.append(Problem(self.source, line, self.current_entry_key,
                                             _syntax_reason(error)))
            except SkipEntry:
                pass
            except RecursionError:
                self.problems.append(Problem(self.source, self.entry_line, self.current_entry_key,
                                             "braces are nested too deeply to read."))
                self._resume_after(self.command_start)
            else:
                if command[0].lower() not in ("string", "preamble"):
                    self._check_closed_early()
                yield self.entry_line, command

    def _check_closed_early(self) -> None:
        """Warn when a '}' too many closed the entry and its remaining fields became stray text.

        BibTeX ignores text between entries, so those fields would be lost without a word.
        """
        end = self.text.find("@", self.pos)
        stray = self.text[self.pos:end if end >= 0 else self.end_pos]
        stray = "\n".join(line for line in stray.splitlines() if not line.lstrip().startswith("%"))
        if _STRAY_FIELDS.search(stray):
            shown = " ".join(stray.split())[:60]
            self.problems.append(Problem(
                self.source, self.lineno, self.current_entry_key,
                f"a '}}' too many closed this entry early; the text after it ('{shown}') was not read. "
                "Check the braces on this line.", "warning"))

    def _resume_after(self, start: int) -> None:
        match = _ENTRY_START.search(self.text, start + 1)
        self.pos = match.start() if match else self.end_pos
        self.lineno = self.text.count("\n", 0, self.pos) + 1

    def handle_error(self, error: Exception) -> None:
        raise error

    def parse_entry_body(self, body_end):  # type: ignore[no-untyped-def]
        # Unlike pybtex, accept a missing key ("@article{,") so that the entry
        # can be given one instead of being dropped.
        key_pattern = self.KEY_PAREN if body_end == self.RPAREN else self.KEY_BRACE
        token = self.optional([key_pattern])
        self.current_entry_key = token.value if token else None
        self.parse_entry_fields()

    def parse_string(self, string_end, level=0, max_level=None):  # type: ignore[no-untyped-def]
        return super().parse_string(string_end, level, self.max_nesting)

    def parse_string_body(self, body_end):  # type: ignore[no-untyped-def]
        try:
            super().parse_string_body(body_end)
        except _ValueTooLong:
            if self.current_field_name:
                self._refused_macros[self.current_field_name.lower()] = self.entry_line
            raise

    def parse_value(self) -> None:
        # pybtex joins the parts of a value ("a" # s1 # s1...) only after reading them all; the
        # parts are references to strings already held, so their total length is known first.
        self._macro_used = False
        super().parse_value()
        total = sum(len(part) for part in self.current_value)
        if self._macro_used and total > MAX_FIELD_LENGTH:
            name = self.current_field_name or "a value"
            raise _ValueTooLong(
                f"the value of '{name}' would be {total:,} characters long once its abbreviations (@string) "
                f"are expanded; the limit is {MAX_FIELD_LENGTH:,}. Shorten the abbreviations or write the "
                "value out", self)

    def substitute_macro(self, name: str) -> str:
        self._macro_used = True
        if name.lower() in self._refused_macros:
            raise _ValueTooLong(f"uses the abbreviation '{name}', which is too long to expand (see line "
                                f"{self._refused_macros[name.lower()]})", self)
        try:
            return self.macros[name]
        except KeyError:
            self.problems.append(Problem(
                self.source, self.lineno, self.current_entry_key,
                f"uses the abbreviation '{name}', which is not defined in this file; "
                f"its name was kept as the value.", "warning"))
            return name


class _ValueTooLong(PybtexSyntaxError):
    """A value that abbreviations would expand beyond the field limit."""


def _syntax_reason(error: PybtexSyntaxError) -> str:
    message = PybtexError.__str__(error)
    if isinstance(error, _ValueTooLong):
        return message + "."
    hints = {
        "premature end of file": "the entry is not closed (a '}' is missing, or the file was cut short)",
        "unbalanced braces": "the braces '{' and '}' do not match",
        "too many nested braces": "braces are nested too deeply to read",
    }
    return hints.get(message, f"this entry cannot be read: {message}")


def parse_text(text: str, source: str = "<input>", *, max_nesting: int = 100) -> ParseResult:
    """Every entry in `text` and every problem found, located by line and key."""
    problems: list[Problem] = []
    scanner = _Scanner(text, source, problems, max_nesting)
    entries: list[Entry] = []
    seen: dict[str, int] = {}
    for line, (command, body) in scanner:
        kind = command.lower()
        if kind in ("string", "preamble"):
            continue
        key, raw_fields = body
        entry = _make_entry(kind, key, raw_fields, source, line, problems)
        if entry is None:
            continue
        folded = entry.key.casefold()
        if folded in seen:
            problems.append(Problem(source, line, entry.key,
                                    f"the key '{entry.key}' is used twice in this file "
                                    f"(first on line {seen[folded]}); give one of them another key."))
            continue
        seen[folded] = line
        entries.append(entry)
    entries = _inherit_crossrefs(entries, problems)
    return ParseResult(tuple(entries), tuple(problems), text)


def parse_bytes(data: bytes, source: str) -> ParseResult:
    text, problems = decode_bytes(data, source)
    if text is None:
        return ParseResult((), tuple(problems))
    result = parse_text(text, source)
    return ParseResult(result.entries, tuple(problems) + result.problems, text)


def parse_file(path: Path) -> ParseResult:
    return parse_bytes(Path(path).read_bytes(), str(path))


def _make_entry(kind: str, key: str | None, raw_fields: list, source: str, line: int,
                problems: list[Problem]) -> Entry | None:
    fields: dict[str, str] = {}
    persons: dict[str, tuple[str, ...]] = {}
    label = key or None
    for name, value_parts in raw_fields:
        name_lower = name.lower()
        value = normalize_whitespace("".join(value_parts)).strip()
        if name_lower in fields or name_lower in persons:
            problems.append(Problem(source, line, label,
                                    f"the field '{name}' appears twice; the first value was kept.",
                                    "warning"))
            continue
        if name_lower in PERSON_FIELDS:
            names, reason = _split_persons(value)
            if reason:
                problems.append(Problem(source, line, label, f"in '{name}': {reason}"))
                return None
            if names:
                persons[name_lower] = names
        elif value:
            fields[name_lower] = value
    if not key:
        key = make_key(persons, fields)
        problems.append(Problem(source, line, key,
                                f"this entry had no citation key; it was given the key '{key}'.",
                                "warning"))
    return Entry(key, kind, fields, persons, source, line)


def _split_persons(value: str) -> tuple[tuple[str, ...], str | None]:
    names = []
    for raw in split_name_list(value):
        raw = raw.strip()
        if not raw:
            continue
        if _EXTENDED_NAME.match(raw):
            raw = _from_extended_name(raw)
        try:
            Person(raw)
        except PybtexError as error:
            return (), f"the name '{raw}' cannot be read ({error})."
        names.append(raw)
    return tuple(names), None


def _from_extended_name(raw: str) -> str:
    """biblatex's `family=Zaanen, given=Menno, prefix=van` as classic 'van Zaanen, Menno'."""
    parts = {}
    for piece in raw.split(","):
        if "=" in piece:
            name, _, value = piece.partition("=")
            parts[name.strip().lower()] = value.strip()
    family = " ".join(p for p in (parts.get("prefix", ""), parts.get("family", "")) if p)
    pieces = [family]
    if parts.get("suffix"):
        pieces.append(parts["suffix"])
    if parts.get("given"):
        pieces.append(parts["given"])
    return ", ".join(pieces)


def _inherit_crossrefs(entries: list[Entry], problems: list[Problem]) -> list[Entry]:
    """Copy the fields a child entry lacks from the entry it cross-references, as BibTeX does."""
    by_key = {e.key.casefold(): e for e in entries}
    result = []
    for entry in entries:
        parent_key = entry.fields.get("crossref")
        parent = by_key.get(parent_key.casefold()) if parent_key else None
        if parent is None:
            result.append(entry)
            continue
        fields = dict(entry.fields)
        for name, value in parent.fields.items():
            if name == "title" and parent.type in ("book", "proceedings", "mvbook", "mvproceedings"):
                fields.setdefault("booktitle", value)
            elif name not in ("crossref", "key") + PROJECT_FIELDS:
                fields.setdefault(name, value)
        persons = dict(entry.persons)
        for role, names in parent.persons.items():
            if role == "author" and entry.type in ("inproceedings", "incollection") :
                continue
            persons.setdefault(role, names)
        result.append(Entry(entry.key, entry.type, fields, persons, entry.source, entry.line))
    return result


# ---------------------------------------------------------------- keys


def make_key(persons: dict[str, tuple[str, ...]], fields: dict[str, str]) -> str:
    """A citation key in the project's style: surname + year + first title word."""
    names = persons.get("author") or persons.get("editor") or ()
    surname = ""
    if names and names[0].strip().startswith("{") and names[0].strip().endswith("}"):
        # An organisation: its initials ("Substance Abuse and Mental Health..." -> samhsa).
        words = re.findall(r"[A-Za-z]+", latex.decode(names[0]))
        capitals = [w[0] for w in words if w[0].isupper()]
        surname = "".join(capitals) if len(capitals) > 2 else (words[0] if words else "")
    elif names:
        try:
            person = Person(names[0])
            surname = " ".join(person.last_names) or names[0]
        except PybtexError:
            surname = names[0]
    elif fields.get("institution") or fields.get("organization"):
        surname = fields.get("institution") or fields.get("organization") or ""
    year = re.sub(r"\D", "", fields.get("year", ""))[:4]
    words = [w for w in re.findall(r"[^\W\d_]+", _ascii(latex.decode(fields.get("title", ""))).lower())
             if w not in _STOP_WORDS and len(w) > 2]
    surname_part = re.sub(r"[^a-z]", "", _ascii(latex.decode(surname)).lower().split(" ")[-1]) if surname else ""
    key = f"{surname_part or 'anon'}{year}{words[0] if words else ''}"
    return key[:60]


_STOP_WORDS = {"the", "and", "for", "with", "from", "into", "about", "what", "how", "why",
               "are", "was", "were", "its", "their", "this", "that", "does", "not", "une",
               "les", "des", "der", "die", "das", "von"}


def _ascii(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


# ---------------------------------------------------------------- writing


def _braced(value: str) -> str:
    return "{" + value + "}"


def format_entry(entry: Entry) -> str:
    """The entry as BibTeX text, values as written, project fields last in a fixed order."""
    lines = [f"@{entry.type}{{{entry.key},"]
    standard = [(n, v) for n, v in entry.fields.items() if n not in PROJECT_FIELDS]
    own = [(n, entry.fields[n]) for n in PROJECT_FIELDS if n in entry.fields]
    items: list[tuple[str, str]] = []
    for role in PERSON_FIELDS:
        if role in entry.persons:
            items.append((role, " and ".join(entry.persons[role])))
    items.extend(standard)
    items.extend(own)
    for name, value in items:
        lines.append(f"  {name} = {_braced(value)},")
    if len(lines) > 1:
        lines[-1] = lines[-1].rstrip(",")
    lines.append("}")
    return "\n".join(lines) + "\n"


def format_entries(entries: Iterable[Entry]) -> str:
    return "\n".join(format_entry(e) for e in entries)


_NAME_AND = re.compile(r"\sand\s", re.IGNORECASE)


def protect_name_part(encoded: str) -> str:
    """A part of a person's name, braced when a comma or a word 'and' would split it in BibTeX."""
    if "," in encoded or _NAME_AND.search(encoded):
        return "{" + encoded + "}"
    return encoded


def split_list(value: str) -> tuple[str, ...]:
    """The items of a comma- or semicolon-separated field such as `themes`."""
    return tuple(item.strip() for item in re.split(r"[,;]", value) if item.strip())
