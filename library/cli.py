"""`python -m library`: the command line for librarians and scripts.

Exit codes: 0 success; 1 the collection or the input has problems (a failed
check, invalid entries, a duplicate); 2 wrong usage; 3 any other error the
message explains (not found, busy, offline...).
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from pathlib import Path
from typing import Callable, Sequence

from . import __doc__ as PACKAGE_DOC
from .api import Library
from .bibtex import format_entry, parse_text
from .config import Settings
from .errors import DuplicateReference, EntryProblems, InvalidKey, LibraryError
from .search import SORTS, SearchRequest

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_ERROR = 0, 1, 2, 3


def _progress_printer(label: str) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        if sys.stderr.isatty():
            print(f"\r{label}: {done:,} of {total:,}", end="" if done < total else "\n",
                  file=sys.stderr, flush=True)
        elif done == total:
            print(f"{label}: {done:,} of {total:,}", file=sys.stderr)
    return show


def _open(args: argparse.Namespace, *, sync: bool = True) -> Library:
    settings = Settings.from_env(references_dir=args.references, index_dir=args.index_dir,
                                 data_dir=args.data_dir)
    return Library(settings, sync=sync, progress=_progress_printer("Indexing references"))


# ------------------------------------------------------------------ commands


def cmd_check(args: argparse.Namespace) -> int:
    library = _open(args, sync=False)
    report = library.check()
    for problem in report.problems:
        if problem.severity == "error" or args.warnings:
            print(problem.describe())
    errors, warnings = len(report.errors), len(report.warnings)
    if errors:
        print(f"\n{report.count} references checked: {errors} error(s), {warnings} warning(s). "
              "Fix the errors above (each names the file, line and entry) and run the check again.")
        return EXIT_PROBLEMS
    print(f"{report.count} references checked: no errors"
          + (f", {warnings} warning(s) (see them with --warnings)." if warnings else "."))
    return EXIT_OK


def cmd_index(args: argparse.Namespace) -> int:
    library = _open(args, sync=False)
    report = library.rebuild(progress=_progress_printer("Indexing references"), procs=args.procs)
    for problem in report.problems:
        if problem.severity == "error":
            print(problem.describe(), file=sys.stderr)
    print(f"Indexed {report.added:,} files in {report.seconds:.1f} s into {library.settings.index_dir}.")
    return EXIT_OK


def _mark(snippet_html: str, tty: bool) -> str:
    start, end = ("\033[1m", "\033[0m") if tty else ("*", "*")
    text = snippet_html.replace("<mark>", start).replace("</mark>", end)
    return html.unescape(text)


def cmd_search(args: argparse.Namespace) -> int:
    library = _open(args)
    request = SearchRequest(
        text=" ".join(args.query), themes=tuple(args.theme or ()), theme_mode=args.theme_mode,
        evidence_types=tuple(args.type or ()), settings=tuple(args.setting or ()),
        year_from=args.year_from, year_to=args.year_to, sort=args.sort, page=args.page,
        per_page=args.limit)
    result = library.search(request)
    if args.format == "json":
        print(json.dumps({
            "total": result.total, "partial": result.partial, "notice": result.notice, "suggestion": result.suggestion,
            "hits": [{**hit.__dict__} for hit in result.hits],
            "facets": result.facets.__dict__}, ensure_ascii=False, indent=2, default=list))
        return EXIT_OK
    if args.format == "bib":
        print("\n".join(format_entry(library.collection.read(h.key)) for h in result.hits), end="")
        return EXIT_OK
    if result.notice:
        print(result.notice, file=sys.stderr)
    if result.suggestion and result.total:
        print(f"Did you mean: {result.suggestion}?", file=sys.stderr)
    if not result.total:
        hint = f" Did you mean: {result.suggestion}?" if result.suggestion else \
            " Try fewer or broader words, or check the spelling."
        print(f"No references found.{hint}")
        return EXIT_OK
    tty = sys.stdout.isatty()
    first = (result.request.page - 1) * result.request.per_page
    print(f"{result.total:,} reference(s) found; showing {first + 1}–{first + len(result.hits)}.\n")
    vocabulary = library.vocabulary
    for number, hit in enumerate(result.hits, first + 1):
        print(f"{number}. {hit.title} ({hit.year or 'n.d.'})")
        print(f"   {hit.authors}" + (f" — {hit.venue}" if hit.venue else ""))
        details = [vocabulary.label(hit.evidence_type)] if hit.evidence_type else []
        details += [vocabulary.label(t) for t in hit.themes]
        if details:
            print(f"   {' · '.join(details)}")
        if hit.snippet_html:
            print(f"   …{_mark(hit.snippet_html, tty)}…")
        elif hit.key_finding:
            print(f"   {_mark(hit.finding_html, tty) if hit.finding_html else hit.key_finding}")
        link = hit.doi_url or hit.url
        print(f"   key: {hit.key}" + (f"   {link}" if link else ""))
        print()
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    library = _open(args, sync=False)
    record = library.get(args.key)
    if args.format == "bib":
        assert record.entry is not None
        print(format_entry(record.entry), end="")
        return EXIT_OK
    vocabulary = library.vocabulary
    rows = [
        ("Key", record.key), ("Title", record.title),
        ("Authors", "; ".join(n.display() for n in record.authors)),
        ("Editors", "; ".join(n.display() for n in record.editors)),
        ("Year", str(record.year or "")), ("Published in", record.venue),
        ("DOI", record.doi_url), ("Link", record.url),
        ("Themes", ", ".join(vocabulary.label(t) for t in record.themes)),
        ("Evidence type", vocabulary.label(record.evidence_type) if record.evidence_type else ""),
        ("Setting", ", ".join(vocabulary.label(s) for s in record.settings)),
        ("Country", ", ".join(record.countries)),
        ("Key finding", record.key_finding),
        ("Finding checked", "yes" if record.finding_checked else "not yet checked against the full text"),
        ("Provenance", record.provenance), ("Added", " by ".join(x for x in (record.added, record.added_by) if x)),
    ]
    for label, value in rows:
        if value:
            print(f"{label + ':':<16} {value}")
    return EXIT_OK


def _read_input(path: str, library: Library) -> tuple[bytes, str]:
    limit = library.settings.max_upload_bytes
    if path == "-":
        data, source = sys.stdin.buffer.read(limit + 1), "<standard input>"
    else:
        file = Path(path)
        try:
            data, source = file.read_bytes(), str(file)
        except FileNotFoundError:
            raise LibraryError(f"{file} does not exist.") from None
        except IsADirectoryError:
            raise LibraryError(f"{file} is a folder; give a .bib or .ris file.") from None
    # Every kind of input (BibTeX, RIS, tagged imports, packs) gets the same limit as an upload.
    if len(data) > limit:
        raise LibraryError(f"{source} is over the limit of {library.settings.max_upload_mb:g} MB "
                           "(LIBRARY_MAX_UPLOAD_MB). Split it into smaller files.")
    return data, source


def cmd_add(args: argparse.Namespace) -> int:
    library = _open(args)
    options = {"replace": args.replace, "who": library.settings.user, "allow_similar": args.keep_both}
    if args.doi:
        from .crossref import CrossrefClient

        with CrossrefClient(library.settings) as client:
            entry = client.lookup(args.doi)
        if args.key:
            entry = entry.with_key(args.key)
        entry = _with_tags(entry, args)
        result = library.add_entries([entry], **options)  # type: ignore[arg-type]
    else:
        if not args.file:
            raise _Usage("give a .bib or .ris file, '-' for standard input, or --doi DOI.")
        data, source = _read_input(args.file, library)
        if source.lower().endswith(".ris"):
            from .ris import parse_ris

            parsed = parse_ris(data.decode("utf-8-sig", errors="replace"), source)
            if parsed.errors:
                raise EntryProblems(list(parsed.errors), "Nothing was saved, because of these problems:")
            entries = [_with_tags(e, args) for e in parsed.entries]
            result = library.add_entries(entries, **options)  # type: ignore[arg-type]
        elif any(getattr(args, name) for name in ("themes", "evidence_type", "setting", "finding")):
            from .bibtex import parse_bytes

            parsed = parse_bytes(data, source)
            if parsed.errors:
                raise EntryProblems(list(parsed.errors), "Nothing was saved, because of these problems:")
            result = library.add_entries([_with_tags(e, args) for e in parsed.entries], **options)  # type: ignore[arg-type]
        else:
            result = library.add_bytes(data, source, **options)
    for problem in result.problems:
        print(problem.describe(), file=sys.stderr)
    for key in result.added:
        print(f"Added {key} ({library.settings.references_dir / (key + '.bib')}).")
    for key in result.replaced:
        print(f"Replaced {key}.")
    return EXIT_OK


def _with_tags(entry, args: argparse.Namespace):  # type: ignore[no-untyped-def]
    updates = {}
    if args.themes:
        updates["themes"] = ", ".join(args.themes)
    if args.evidence_type:
        updates["evidence_type"] = args.evidence_type
    if args.setting:
        updates["setting"] = ", ".join(args.setting)
    if args.finding:
        updates["key_finding"] = args.finding
        updates["finding_checked"] = "no"
    return entry.with_fields(**updates) if updates else entry


_SET = re.compile(r"^([A-Za-z][\w-]*)=(.*)$", re.DOTALL)


def cmd_edit(args: argparse.Namespace) -> int:
    library = _open(args)
    record = library.get(args.key)
    assert record.entry is not None
    entry = record.entry
    if args.file:
        data, source = _read_input(args.file, library)
        parsed = parse_text(data.decode("utf-8-sig"), source)
        if parsed.errors or len(parsed.entries) != 1:
            problems = list(parsed.errors)
            if not problems:
                raise LibraryError(f"{source} must hold exactly one entry (it holds {len(parsed.entries)}).")
            raise EntryProblems(problems, "The changes were not saved:")
        entry = parsed.entries[0]
    for assignment in args.set or ():
        match = _SET.match(assignment)
        if not match:
            raise _Usage(f"--set needs FIELD=VALUE, not '{assignment}'.")
        name, value = match.group(1).lower(), match.group(2)
        if name in ("author", "editor"):
            entry = entry.with_persons(name, [n.strip() for n in value.split(" and ")])
        else:
            entry = entry.with_fields(**{name.replace("-", "_"): value})
    if args.new_key:
        entry = entry.with_key(args.new_key)
    library.update(entry, previous_key=args.key, who=library.settings.user)
    print(f"Saved {entry.key}.")
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    library = _open(args)
    library.delete(args.key, who=library.settings.user)
    print(f"Moved {args.key} to the trash ({library.collection.trash_dir}). "
          f"Bring it back with: python -m library restore {args.key}")
    return EXIT_OK


def cmd_restore(args: argparse.Namespace) -> int:
    library = _open(args)
    if not args.key:
        items = library.collection.trashed()
        if not items:
            print("The trash is empty.")
        for key, path in items:
            print(f"{key}\t{path.name}")
        return EXIT_OK
    library.restore(args.key, who=library.settings.user)
    print(f"Restored {args.key}.")
    return EXIT_OK


def cmd_export(args: argparse.Namespace) -> int:
    library = _open(args)
    request = None
    if args.query or args.theme or args.type:
        request = SearchRequest(text=" ".join(args.query), themes=tuple(args.theme or ()),
                                evidence_types=tuple(args.type or ()))
    text = library.export(request)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"Wrote {text.count(chr(10) + '@') + (1 if text.startswith('@') else 0)} reference(s) "
              f"to {args.output}.", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_coverage(args: argparse.Namespace) -> int:
    from .coverage import format_coverage, gaps

    library = _open(args)
    frame = library.coverage()
    if args.format == "csv":
        sys.stdout.write(frame.to_csv())
        return EXIT_OK
    print(format_coverage(frame, library.vocabulary))
    missing = gaps(frame)
    if missing:
        print(f"\n{len(missing)} theme(s) have no references yet: {', '.join(missing)}.")
    return EXIT_OK


def cmd_themes(args: argparse.Namespace) -> int:
    library = _open(args, sync=False)
    for theme, depth in library.vocabulary.walk():
        print(f"{'  ' * depth}{theme.slug:<32} {theme.label}")
    return EXIT_OK


def cmd_pack(args: argparse.Namespace) -> int:
    library = _open(args)
    data, _ = _read_input(args.pack, library)
    data = library.render_pack(library.read_pack(data), args.format, args.style)
    if args.output:
        Path(args.output).write_bytes(data)
        print(f"Wrote {args.output} ({len(data):,} bytes).", file=sys.stderr)
    elif args.format in ("pdf", "docx"):
        raise _Usage(f"give -o FILE for the {args.format} format (it is not text).")
    else:
        sys.stdout.write(data.decode("utf-8"))
    return EXIT_OK


def cmd_hash_password(args: argparse.Namespace) -> int:
    import getpass

    from .auth import hash_password

    password = sys.stdin.readline().rstrip("\n") if args.stdin else getpass.getpass("New librarian password: ")
    if not args.stdin and getpass.getpass("Again: ") != password:
        print("The two passwords differ; nothing was made.", file=sys.stderr)
        return EXIT_USAGE
    print(hash_password(password))
    return EXIT_OK


class _Usage(Exception):
    pass


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m library",
        description=(PACKAGE_DOC or "").strip().splitlines()[0],
        epilog="Exit codes: 0 success; 1 problems in the collection or input; 2 wrong usage; "
               "3 another error (the message says what to do). Settings come from LIBRARY_* "
               "environment variables (see README).")
    parser.add_argument("--references", metavar="DIR", help="the collection folder (default: $LIBRARY_REFERENCES_DIR or references/)")
    parser.add_argument("--index-dir", metavar="DIR", help="the index folder (default: $LIBRARY_INDEX_DIR)")
    parser.add_argument("--data-dir", metavar="DIR", help="the data folder (default: $LIBRARY_DATA_DIR)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser("check", help="validate the whole collection", description=
                            "Read every reference and report each problem with its file, line, key and reason. "
                            "Exits with 1 when there are errors.")
    p.add_argument("--warnings", action="store_true", help="also list warnings")
    p.set_defaults(func=cmd_check)

    p = commands.add_parser("index", help="rebuild the search index from the files", description=
                            "Rebuild the search index from scratch. Not normally needed: the index "
                            "updates itself whenever the library is opened.")
    p.add_argument("--procs", type=int, default=None, help="worker processes for reading files (default: 2)")
    p.set_defaults(func=cmd_index)

    p = commands.add_parser("search", help="search the collection", description=
                            'Search titles, authors, key findings, abstracts and keywords. Syntax: words (all must '
                            'match), "a phrase", OR, NOT, title:, author:, theme:, type:, setting:, '
                            'year:[2015 TO 2020], trainin* (prefix), traning~ (spelling tolerant).')
    p.add_argument("query", nargs="*", help="what to look for (empty lists everything, newest first)")
    p.add_argument("--theme", action="append", metavar="SLUG", help="only these themes (repeatable)")
    p.add_argument("--theme-mode", choices=("any", "all"), default="any", help="match any or all of --theme")
    p.add_argument("--type", action="append", metavar="SLUG", help="only these evidence types (repeatable)")
    p.add_argument("--setting", action="append", metavar="SLUG", help="only these settings (repeatable)")
    p.add_argument("--year-from", type=int, metavar="YEAR")
    p.add_argument("--year-to", type=int, metavar="YEAR")
    p.add_argument("--sort", choices=SORTS, default="relevance")
    p.add_argument("--page", type=int, default=1)
    p.add_argument("--limit", type=int, default=20, help="results per page (default 20)")
    p.add_argument("--format", choices=("text", "json", "bib"), default="text")
    p.set_defaults(func=cmd_search)

    p = commands.add_parser("show", help="show one reference", description="Show every field of one reference.")
    p.add_argument("key")
    p.add_argument("--format", choices=("text", "bib"), default="text")
    p.set_defaults(func=cmd_show)

    p = commands.add_parser("add", help="add references from BibTeX, RIS or a DOI", description=
                            "Validate and add references: one file per entry, written atomically, index updated. "
                            "Refuses duplicates (same key or DOI) unless --replace.")
    p.add_argument("file", nargs="?", help="a .bib or .ris file, or '-' to read BibTeX from standard input")
    p.add_argument("--doi", help="look the reference up by DOI (Crossref)")
    p.add_argument("--key", help="citation key to use with --doi")
    p.add_argument("--themes", nargs="+", metavar="SLUG", help="tag with these themes")
    p.add_argument("--evidence-type", metavar="SLUG")
    p.add_argument("--setting", nargs="+", metavar="SLUG")
    p.add_argument("--finding", metavar="TEXT", help="the plain-language key finding")
    p.add_argument("--replace", action="store_true", help="overwrite a reference with the same key")
    p.add_argument("--keep-both", action="store_true",
                   help="add even when a reference with the same title, year and first author exists")
    p.set_defaults(func=cmd_add)

    p = commands.add_parser("edit", help="change a reference's fields", description=
                            "Change fields of one reference, e.g. --set themes='burnout, leadership' "
                            "--set finding-checked=yes, or replace it with the entry in --file.")
    p.add_argument("key")
    p.add_argument("--set", action="append", metavar="FIELD=VALUE")
    p.add_argument("--file", help="a .bib file holding the whole edited entry")
    p.add_argument("--new-key", help="rename the reference")
    p.set_defaults(func=cmd_edit)

    p = commands.add_parser("delete", help="move a reference to the trash")
    p.add_argument("key")
    p.set_defaults(func=cmd_delete)

    p = commands.add_parser("restore", help="bring a reference back from the trash (no key: list the trash)")
    p.add_argument("key", nargs="?")
    p.set_defaults(func=cmd_restore)

    p = commands.add_parser("export", help="write BibTeX of the collection or of a search", description=
                            "BibTeX of every reference (as written on disk), or of those a search finds.")
    p.add_argument("query", nargs="*")
    p.add_argument("--theme", action="append", metavar="SLUG")
    p.add_argument("--type", action="append", metavar="SLUG")
    p.add_argument("-o", "--output", metavar="FILE")
    p.set_defaults(func=cmd_export)

    p = commands.add_parser("coverage", help="theme × evidence-type counts, with gaps", description=
                            "How many references each theme has of each evidence type; themes with none are gaps.")
    p.add_argument("--format", choices=("text", "csv"), default="text")
    p.set_defaults(func=cmd_coverage)

    p = commands.add_parser("themes", help="list the theme vocabulary")
    p.set_defaults(func=cmd_themes)

    p = commands.add_parser("pack", help="evidence packs", description="Build evidence packs from pack files.")
    pack_commands = p.add_subparsers(dest="pack_command", metavar="ACTION", required=True)
    b = pack_commands.add_parser("build", help="render a pack file as PDF, Word, HTML, Markdown, BibTeX, RIS or CSL-JSON")
    b.add_argument("pack", metavar="PACK.json")
    b.add_argument("--format", required=True, choices=("pdf", "docx", "html", "md", "bib", "ris", "csljson"))
    b.add_argument("--style", choices=("apa", "harvard"), default="apa")
    b.add_argument("-o", "--output", metavar="FILE")
    b.set_defaults(func=cmd_pack)

    p = commands.add_parser("hash-password", help="make the salted hash for LIBRARY_LIBRARIAN_PASSWORD_HASH")
    p.add_argument("--stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=cmd_hash_password)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except _Usage as error:
        parser.print_usage(sys.stderr)
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (EntryProblems, DuplicateReference, InvalidKey) as error:
        print(error, file=sys.stderr)
        return EXIT_PROBLEMS
    except LibraryError as error:
        print(error, file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("Stopped.", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return EXIT_OK
