"""`python -m library`: the command line for librarians and scripts.

Exit codes: 0 success; 1 the collection or the input has problems (a failed
check, invalid entries, a duplicate); 2 wrong usage; 3 any other error the
message explains (not found, busy, offline, changed by someone else...); 4 the
change was saved, but something after it was not (the change log or the search
index could not be updated), as the message says.
"""

from __future__ import annotations

import argparse
import html
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

from . import __doc__ as PACKAGE_DOC
from .api import Library, is_ris, read_references
from .bibtex import Entry, ParseResult, format_entry
from .config import Settings
from .errors import (DuplicateReference, EntryProblems, InvalidKey, InvalidValue, LibraryError, OutputRefused,
                     PackDoesNotFit, PackFileInvalid, Problem, SaveRefused)
from .outputs import write_output
from .records import names_line
from .search import SORTS, SearchRequest
from .taxonomy import Theme, unknown_slugs
from .values import apply_changes

if TYPE_CHECKING:
    from .facts import Facts

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE, EXIT_ERROR, EXIT_SAVED_WITH_NOTICES = 0, 1, 2, 3, 4


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
    library = Library(settings, sync=sync, progress=_progress_printer("Indexing references"))
    for notice in library.notices:
        print(notice, file=sys.stderr)
    return library


def _index_notice(library: Library) -> None:
    """Say once, after a command that reads the index, that it could not be brought up to date."""
    problem = library.take_index_problem()
    if problem:
        print(problem, file=sys.stderr)


def _finish(notices: Sequence[str]) -> int:
    """After a change was saved: say what did not follow it, and exit 4 if anything."""
    for notice in notices:
        print(notice, file=sys.stderr)
    return EXIT_SAVED_WITH_NOTICES if notices else EXIT_OK


# ------------------------------------------------------------------ commands


def cmd_check(args: argparse.Namespace) -> int:
    library = _open(args, sync=False)
    facts = _read_facts(args.facts, library) if args.facts else None  # a bad path fails before the long check
    report = library.check()
    for problem in report.problems:
        if problem.severity == "error" or args.warnings:
            print(problem.describe())
    errors, warnings = len(report.errors), len(report.warnings)
    if errors:
        print(f"\n{report.count} references checked: {errors} error(s), {warnings} warning(s). "
              "Fix the errors above (each names the file, line and entry) and run the check again.")
        status = EXIT_PROBLEMS
    else:
        print(f"{report.count} references checked: no errors"
              + (f", {warnings} warning(s) (see them with --warnings)." if warnings else "."))
        status = EXIT_OK
    if facts is not None:
        status = max(status, _check_facts(library, facts))
    return status


def _read_facts(path: str, library: Library) -> "Facts":
    from .facts import usable_facts

    data, source = _read_input(path, library)
    return usable_facts(data, source)


def _check_facts(library: Library, facts: "Facts") -> int:
    """Compare every reference with a facts file and print each difference (file, field, shipped, verified)."""
    from .facts import compare_collection

    entries, _ = library.all_entries()  # unreadable files were reported by the check above
    report = compare_collection(entries, facts)
    print()
    print("\n".join(report.lines()))
    return EXIT_OK if report.ok else EXIT_PROBLEMS


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


def _check_filters(library: Library, args: argparse.Namespace) -> None:
    """Wrong usage (exit 2) when --theme, --type or --setting names nothing the vocabulary holds: a
    filter on it would find nothing, and "no references found" would not say why."""
    unknown = unknown_slugs(library.vocabulary, themes=args.theme or (), evidence_types=args.type or (),
                            settings=getattr(args, "setting", None) or ())
    if unknown:
        hint = " List the themes with: python -m library themes." if any(u.kind == "theme" for u in unknown) else ""
        raise _Usage(" ".join(u.message() for u in unknown) + hint)


def cmd_search(args: argparse.Namespace) -> int:
    library = _open(args)
    _check_filters(library, args)
    request = SearchRequest(
        text=" ".join(args.query), themes=tuple(args.theme or ()), theme_mode=args.theme_mode,
        evidence_types=tuple(args.type or ()), settings=tuple(args.setting or ()),
        year_from=args.year_from, year_to=args.year_to, sort=args.sort, page=args.page,
        per_page=args.limit)
    result = library.search(request)
    _index_notice(library)
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
        ("Authors", names_line(record.authors)),
        ("Editors", names_line(record.editors)),
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


def _read_entries(data: bytes, source: str) -> ParseResult:
    """The entries of a .bib or .ris file, decoded the same way for `add` and `edit --file`."""
    return read_references(data, source)


def cmd_add(args: argparse.Namespace) -> int:
    library = _open(args)
    options = {"replace": args.replace, "who": library.settings.user, "allow_similar": args.keep_both}
    if args.doi:
        from .crossref import CrossrefClient

        with CrossrefClient(library.settings) as client:
            entry = client.lookup(args.doi)
        if args.key:
            entry = entry.with_key(args.key)
        result = library.add_entries([_with_tags(entry, args)], **options)  # type: ignore[arg-type]
    else:
        if not args.file:
            raise _Usage("give a .bib or .ris file, '-' for standard input, or --doi DOI.")
        data, source = _read_input(args.file, library)
        parsed = _read_entries(data, source)
        if parsed.errors:
            raise EntryProblems(list(parsed.errors), "Nothing was saved, because of these problems:")
        if not parsed.entries:
            raise EntryProblems([Problem(source, None, None, "no BibTeX entries were found.")], "Nothing was saved:")
        result = library.add_entries([_with_tags(e, args) for e in parsed.entries], **options)  # type: ignore[arg-type]
        for problem in parsed.problems:
            print(problem.describe(), file=sys.stderr)
    for problem in result.problems:
        print(problem.describe(), file=sys.stderr)
    for key in result.added:
        print(f"Added {key} ({library.settings.references_dir / (key + '.bib')}).")
    for key in result.replaced:
        print(f"Replaced {key}.")
    return _finish(result.notices)


def _with_tags(entry: Entry, args: argparse.Namespace) -> Entry:
    """The tags given on the command line, as plain text (the same rules as every typed value)."""
    changes: dict[str, str] = {}
    if args.themes:
        changes["themes"] = ", ".join(args.themes)
    if args.evidence_type:
        changes["evidence-type"] = args.evidence_type
    if args.setting:
        changes["setting"] = ", ".join(args.setting)
    if args.finding is not None:
        changes["key-finding"] = args.finding
        changes["finding-checked"] = "no"
    try:
        return apply_changes(entry, changes) if changes else entry
    except InvalidValue as error:
        raise EntryProblems([Problem(entry.source, entry.line, entry.key, str(error))],
                            "Nothing was saved, because of these problems:") from None


_SET = re.compile(r"([A-Za-z][\w-]*)=(.*)", re.DOTALL)


def _assignments(values: Sequence[str]) -> dict[str, str]:
    changes: dict[str, str] = {}
    for assignment in values:
        match = _SET.fullmatch(assignment)
        if not match:
            raise _Usage(f"--set needs FIELD=VALUE, not '{assignment}'.")
        # key_finding and key-finding name the same field, as they always have here.
        changes[match.group(1).lower().replace("_", "-")] = match.group(2)
    return changes


def cmd_edit(args: argparse.Namespace) -> int:
    library = _open(args)
    changes = _assignments(args.set or ())
    who = library.settings.user
    source = ""
    if args.file:
        data, source = _read_input(args.file, library)
        parsed = _read_entries(data, source)
        if parsed.errors or len(parsed.entries) != 1:
            problems = list(parsed.errors)
            if not problems:
                raise InvalidValue(f"{source} must hold exactly one entry, the new version of {args.key} "
                                   f"(it holds {len(parsed.entries)}). Nothing was changed.")
            raise EntryProblems(problems, "The changes were not saved:")
        for problem in parsed.problems:
            print(problem.describe(), file=sys.stderr)
        entry = parsed.entries[0]
        if is_ris(source):
            # RIS has no citation key (its ID, when there is one, is the exporting program's record
            # number): the file's reference is the one named on the command line.
            entry = entry.with_key(args.key)
        # The file is the new bibliographic record; the library's own fields it leaves out (themes,
        # key finding, provenance...) are kept; the whole read-modify-write is under the lock.
        result = library.replace_record(args.key, entry, changes=changes, new_key=args.new_key,
                                        entry_type=args.type, who=who)
    else:
        # The whole read-modify-write happens under the collection lock: another process's
        # edit of another field between our read and our write is never lost.
        result = library.edit(args.key, changes, new_key=args.new_key, entry_type=args.type, who=who)
    if result.changed:
        print(f"Saved {result.key}: {result.summary}.")
    else:
        print(f"Nothing to change: {args.key} already reads like that.")
    if result.kept:
        print(f"Kept the library's own fields, which {source} does not have: {', '.join(result.kept)}.")
    return _finish(result.notices)


def cmd_delete(args: argparse.Namespace) -> int:
    library = _open(args)
    result = library.delete(args.key, who=library.settings.user)
    print(f"Moved {args.key} to the trash ({library.collection.trash_dir}). "
          f"Bring it back with: python -m library restore {args.key}")
    return _finish(result.notices)


def cmd_restore(args: argparse.Namespace) -> int:
    library = _open(args)
    if not args.key:
        items = library.collection.trashed()
        if not items:
            print("The trash is empty.")
        for key, path in items:
            print(f"{key}\t{path.name}")
        return EXIT_OK
    result = library.restore(args.key, who=library.settings.user)
    print(f"Restored {args.key}.")
    return _finish(result.notices)


def cmd_export(args: argparse.Namespace) -> int:
    library = _open(args)
    _check_filters(library, args)
    request = None
    if args.query or args.theme or args.type:
        request = SearchRequest(text=" ".join(args.query), themes=tuple(args.theme or ()),
                                evidence_types=tuple(args.type or ()))
    text = library.export(request)
    _index_notice(library)
    if args.output:
        _write_output(library, args.output, text.encode("utf-8"))
        print(f"Wrote {text.count(chr(10) + '@') + (1 if text.startswith('@') else 0)} reference(s) "
              f"to {args.output}.", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def _write_output(library: Library, output: str, data: bytes) -> None:
    write_output(library.settings.references_dir, output, data)


def cmd_coverage(args: argparse.Namespace) -> int:
    from .coverage import format_coverage, gaps

    library = _open(args)
    frame = library.coverage()
    _index_notice(library)
    if args.format == "csv":
        sys.stdout.write(frame.to_csv())
        return EXIT_OK
    print(format_coverage(frame, library.vocabulary))
    missing = gaps(frame)
    if missing:
        print(f"\n{len(missing)} theme(s) have no references yet: {', '.join(missing)}.")
    return EXIT_OK


def cmd_themes(args: argparse.Namespace) -> int:
    action = getattr(args, "themes_command", None)
    if action is None:
        library = _open(args, sync=False)
        for theme, depth in library.vocabulary.walk():
            print(f"{'  ' * depth}{theme.slug:<32} {theme.label}")
        return EXIT_OK
    library = _open(args)
    who = library.settings.user
    if action == "add":
        result = library.add_theme(Theme(args.slug, args.label, args.description or "", args.parent or None,
                                         tuple(args.synonym or ())), who=who)
        print(f"Added the theme {args.slug}.")
    elif action == "rename":
        result = library.rename_theme(args.old, args.new, label=args.label, who=who)
        print(f"Renamed the theme {args.old} to {args.new}.")
    elif action == "merge":
        result = library.merge_theme(args.source, args.into, who=who)
        print(f"Merged the theme {args.source} into {args.into}.")
    else:
        result = library.delete_theme(args.slug, who=who)
        print(f"Deleted the theme {args.slug}.")
    if result.keys:
        print(f"{len(result.keys)} reference(s) updated: {', '.join(result.keys)}.")
    return _finish(result.notices)


def cmd_pack(args: argparse.Namespace) -> int:
    from .packs import replaced_notes

    library = _open(args)
    data, _ = _read_input(args.pack, library)
    pack = library.read_pack(data)
    data = library.render_pack(pack, args.format, args.style)
    # Exit 0 still: the brief was made, citing each reference as the pack saved it.
    for note in replaced_notes(pack, library.get_many(pack.keys)):
        print(f"Notice: {note}", file=sys.stderr)
    if args.output:
        _write_output(library, args.output, data)
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


# ------------------------------------------------------------------ discovery and screening


def _discovery(library: Library):  # type: ignore[no-untyped-def]
    from .discovery import Discovery

    return Discovery(library)


def cmd_discover(args: argparse.Namespace) -> int:
    from .sources.model import Query

    chosen = [name for name in ("saved", "list_saved", "delete_saved") if getattr(args, name)]
    if len(chosen) > 1 or (chosen and (args.query or args.save)):
        raise _Usage("give words to search for, or one of --saved, --list-saved and --delete-saved.")
    if args.check and not args.list_saved:
        raise _Usage("--check goes with --list-saved.")
    library = _open(args)
    discovery = _discovery(library)
    if args.list_saved:
        searches = discovery.check_saved() if args.check else discovery.store.saved_searches()
        _print_saved(searches, args.format)
        return EXIT_OK
    if args.delete_saved:
        discovery.store.delete_search(args.delete_saved)
        print(f"Deleted the saved search '{args.delete_saved}'. Decisions made on what it found are kept.")
        return EXIT_OK
    if args.saved:
        result = discovery.run_saved(args.saved, show_excluded=args.show_excluded)
    else:
        if not args.query:
            raise _Usage("give words to search for, e.g. discover trauma-informed care staff burnout.")
        query = Query(text=" ".join(args.query), source=args.source, since=args.since, type=args.type,
                      limit=args.limit, sort=args.sort)
        result = discovery.search(query, show_excluded=args.show_excluded)
    if args.format == "json":
        print(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        _print_discovery(result)
    if args.save:
        saved = discovery.save_search(args.save, result, who=library.settings.user)
        print(f"\nSaved as '{saved.name}'. To see only what is new next time: "
              f"python -m library discover --saved \"{saved.name}\"", file=sys.stderr)
    return EXIT_OK


def _print_discovery(result) -> None:  # type: ignore[no-untyped-def]
    query = result.query
    shown = len(result.items)
    if result.saved_search:
        print(f"Saved search '{result.saved_search}': {query.describe()}, newest first.")
        print(f"{shown} not shown before" + (f"; {result.already_shown} shown before left out" if
                                             result.already_shown else "") + ".")
    else:
        print(f"{query.describe()}: {result.total:,} found; showing {shown}.")
    if result.hidden:
        print(f"{len(result.hidden)} excluded earlier left out (--show-excluded shows them).")
    if result.notice:
        print(result.notice)
    if result.next_cursor and not result.saved_search and shown:
        print("More are available: raise --limit (up to 200) or narrow the search.")
    if not shown and not result.saved_search:
        print("Nothing to show. Try fewer or broader words, another source, or an earlier --since year.")
    print()
    for number, found in enumerate(result.items, 1):
        c = found.candidate
        status = found.status
        if status == "in collection":
            status += f": {found.reference_key}, {found.matched_by}"
        elif status == "excluded" and found.reason:
            status += f": {found.reason}"
        elif status == "included" and found.reference_key:
            status += f" as {found.reference_key}"
        print(f"{number}. [{status}] {c.title} ({c.year or 'n.d.'})")
        byline = c.author_line()
        if c.venue:
            byline = f"{byline} — {c.venue}" if byline else c.venue
        if byline:
            print(f"   {byline}")
        details = []
        if c.doi:
            details.append(f"DOI {c.doi}")
        if c.pmid:
            details.append(f"PMID {c.pmid}")
        if c.cited_by is not None:
            details.append(f"cited by {c.cited_by:,}")
        details.append(f"free to read: {c.oa_url}" if c.oa_url else "not known to be free to read")
        print(f"   {' · '.join(details)}")
        if c.abstract:
            text = " ".join(c.abstract.split())
            print(f"   Abstract: {text[:400]}{'…' if len(text) > 400 else ''}")
        print(f"   id: {c.id}")
        print()


def _print_saved(searches, fmt: str) -> None:  # type: ignore[no-untyped-def]
    if fmt == "json":
        print(json.dumps([{
            "name": s.name, "source": s.query.source, "query": s.query.text, "since": s.query.since,
            "type": s.query.type, "limit": s.query.limit, "new": s.new_count,
            "checked": s.checked_at.isoformat() if s.checked_at else None,
            "last_run": s.last_run.isoformat() if s.last_run else None, "problem": s.check_message or None,
        } for s in searches], ensure_ascii=False, indent=2))
        return
    if not searches:
        print("No saved searches yet. Save one with: python -m library discover WORDS… --save NAME")
        return
    for s in searches:
        if s.checked_at is None:
            count = "not checked yet (--check checks now)"
        else:
            count = f"{s.new_count if s.new_count is not None else '?'} new, checked {_when(s.checked_at)}"
        print(f"{s.name}: {count}")
        print(f"   {s.query.describe()}")
        if s.check_message:
            print(f"   The last check failed: {s.check_message}")


def _when(moment) -> str:  # type: ignore[no-untyped-def]
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def cmd_screen(args: argparse.Namespace) -> int:
    library = _open(args)
    discovery = _discovery(library)
    store = discovery.store
    who = library.settings.user
    if args.action in ("include", "exclude", "maybe", "undo"):
        candidate = store.candidate(args.id)
        if candidate is None:
            raise LibraryError(f"No work with the id '{args.id}' has been found by a discovery search. Run "
                               "python -m library discover WORDS… first, then give the DOI, PMID or id it shows.")
        if args.action == "undo":
            if discovery.undo(candidate):
                print(f"Forgot the decision on “{candidate.title}”; it counts as new again.")
            else:
                print(f"There was no decision on “{candidate.title}”.")
            return EXIT_OK
        decision = {"include": "included", "exclude": "excluded", "maybe": "maybe"}[args.action]
        if decision == "excluded" and not getattr(args, "reason", None):
            raise _Usage("give --reason with one of the exclusion reasons (list them with: screen reasons).")
        outcome = discovery.decide(candidate, decision, who=who, reason=getattr(args, "reason", None) or "",
                                   themes=tuple(getattr(args, "themes", None) or ()),
                                   evidence_type=getattr(args, "evidence_type", None) or "",
                                   settings=tuple(getattr(args, "setting", None) or ()))
        for problem in outcome.warnings:
            print(problem.describe(), file=sys.stderr)
        if outcome.reference_key:
            print(f"Included and added {outcome.reference_key} "
                  f"({library.settings.references_dir / (outcome.reference_key + '.bib')}). "
                  "Write its key finding next: python -m library edit "
                  f"{outcome.reference_key} --set key-finding=\"...\"")
        else:
            print(f"{outcome.decision.label}: “{candidate.title}”"
                  + (f" ({outcome.decision.reason})" if outcome.decision.reason else "") + ".")
        return EXIT_OK
    if args.action == "list":
        decisions = store.decisions(args.decision)
        if args.format == "json":
            print(json.dumps([{"decision": d.decision, "reason": d.reason or None, "title": d.title,
                               "authors": d.authors, "year": d.year, "doi": d.doi or None, "pmid": d.pmid or None,
                               "reference_key": d.reference_key or None, "found_by": d.query,
                               "decided_by": d.decided_by, "decided_at": d.decided_at.isoformat()}
                              for d in decisions], ensure_ascii=False, indent=2))
            return EXIT_OK
        if not decisions:
            print("No screening decisions yet.")
        for d in decisions:
            extra = f" — {d.reason}" if d.reason else (f" — {d.reference_key}" if d.reference_key else "")
            print(f"{d.label}: {d.title} ({d.year or 'n.d.'}){extra}")
        return EXIT_OK
    if args.action == "export":
        data = store.export_csv()
        if args.output and args.output != "-":
            _write_output(library, args.output, data)
            print(f"Wrote {len(store.decisions())} decision(s) to {args.output}.", file=sys.stderr)
        else:
            sys.stdout.write(data.decode("utf-8").lstrip("\ufeff"))
        return EXIT_OK
    # reasons
    if args.add:
        print(f"Added the exclusion reason '{store.add_reason(args.add)}'.")
    if args.remove:
        store.remove_reason(args.remove)
        print(f"Removed the exclusion reason '{args.remove}' (decisions that gave it keep it).")
    if not args.add and not args.remove:
        for reason in store.reasons():
            print(reason)
    return EXIT_OK


def _year_option(text: str) -> int:
    from .sources.model import FIRST_YEAR

    if not text.isdigit() or not FIRST_YEAR <= int(text) <= 2999:
        raise argparse.ArgumentTypeError(f"give a year such as 2015, not '{text}'")
    return int(text)


def _limit_option(text: str) -> int:
    from .sources.model import MAX_LIMIT

    if not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise argparse.ArgumentTypeError(f"give a number from 1 to {MAX_LIMIT}, not '{text}'")
    return int(text)


def _add_discovery_commands(commands) -> None:  # type: ignore[no-untyped-def]
    from .sources.model import DEFAULT_LIMIT, SORTS, SOURCE_LABELS, TYPES

    p = commands.add_parser(
        "discover", help="search OpenAlex, Europe PMC, PubMed or Crossref for new research",
        description="Search a public literature service for works to add. Each work is marked 'new', 'in collection' "
                    "(same DOI, PMID, or title, year and first author), 'included', 'excluded' or 'maybe' (screened "
                    "before); works excluded earlier are left out. Save a search with --save NAME and re-run it with "
                    "--saved NAME to see only what is new.")
    p.add_argument("query", nargs="*", help="what to look for, in the service's own search syntax")
    p.add_argument("--source", choices=tuple(SOURCE_LABELS), default="openalex", help="which service (default openalex)")
    p.add_argument("--since", type=_year_option, metavar="YEAR", help="only works published in YEAR or later")
    p.add_argument("--type", choices=TYPES, default="any", help="reviews only, articles other than reviews, or any")
    p.add_argument("--limit", type=_limit_option, default=DEFAULT_LIMIT, metavar="N",
                   help=f"how many works to show (default {DEFAULT_LIMIT}, at most 200)")
    p.add_argument("--sort", choices=SORTS, default="relevance", help="best match first, or newest first")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--show-excluded", action="store_true", help="also show works excluded earlier")
    p.add_argument("--save", metavar="NAME", help="save this search under NAME (what it shows now counts as seen)")
    p.add_argument("--saved", metavar="NAME", help="re-run the saved search NAME, newest first: only what it has not shown before")
    p.add_argument("--list-saved", action="store_true", help="list the saved searches with their new works")
    p.add_argument("--check", action="store_true", help="with --list-saved: ask the services for new works first")
    p.add_argument("--delete-saved", metavar="NAME", help="delete the saved search NAME")
    p.set_defaults(func=cmd_discover)

    p = commands.add_parser(
        "screen", help="include, exclude or 'maybe' what discovery found; export the screening record",
        description="Screening decisions on works found by discover. ID is a DOI, a PMID (pmid:NNN) or the id "
                    "discover shows. Including a work adds it to the collection (validated, duplicates refused, "
                    "finding-checked = no); excluding needs a reason from the list.")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = actions.add_parser("include", help="include a work: add it to the collection")
    a.add_argument("id", metavar="ID")
    a.add_argument("--themes", nargs="+", metavar="SLUG", help="tag with these themes")
    a.add_argument("--evidence-type", metavar="SLUG")
    a.add_argument("--setting", nargs="+", metavar="SLUG")
    a = actions.add_parser("exclude", help="exclude a work, with a reason from the list")
    a.add_argument("id", metavar="ID")
    a.add_argument("--reason", metavar="TEXT", help="one of the exclusion reasons (see: screen reasons)")
    a = actions.add_parser("maybe", help="mark a work to look at again")
    a.add_argument("id", metavar="ID")
    a = actions.add_parser("undo", help="forget the decision on a work")
    a.add_argument("id", metavar="ID")
    a = actions.add_parser("list", help="list the decisions")
    a.add_argument("--decision", choices=("included", "excluded", "maybe"))
    a.add_argument("--format", choices=("text", "json"), default="text")
    a = actions.add_parser("export", help="the screening record as CSV (PRISMA-style)")
    a.add_argument("-o", "--output", metavar="FILE.csv", help="write to FILE.csv (default: standard output)")
    a = actions.add_parser("reasons", help="list the exclusion reasons, or add or remove one")
    a.add_argument("--add", metavar="TEXT")
    a.add_argument("--remove", metavar="TEXT")
    p.set_defaults(func=cmd_screen)


class _Usage(Exception):
    pass


# ------------------------------------------------------------------ parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m library",
        description=(PACKAGE_DOC or "").strip().splitlines()[0],
        epilog="Exit codes: 0 success; 1 problems in the collection or input; 2 wrong usage; "
               "3 another error (the message says what to do); 4 saved, but the change log or the search "
               "index could not be updated (the message says which). Settings come from LIBRARY_* "
               "environment variables (see README).")
    parser.add_argument("--references", metavar="DIR", help="the collection folder (default: $LIBRARY_REFERENCES_DIR or references/)")
    parser.add_argument("--index-dir", metavar="DIR", help="the index folder (default: $LIBRARY_INDEX_DIR)")
    parser.add_argument("--data-dir", metavar="DIR", help="the data folder (default: $LIBRARY_DATA_DIR)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = commands.add_parser("check", help="validate the whole collection", description=
                            "Read every reference and report each problem with its file, line, key and reason; "
                            "with --facts, also compare each reference with its checked record. "
                            "Exits with 1 when there are errors or differences.")
    p.add_argument("--warnings", action="store_true", help="also list warnings")
    p.add_argument("--facts", metavar="FILE.bib",
                   help="also compare every bibliographic field with a file of checked facts (in the shape of "
                        "verified.bib: x-verified-by, x-not-confirmed, x-note) and list each difference")
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
                            "--set finding-checked=yes, or replace it with the entry in --file. Values are plain "
                            "text, saved so that they read back exactly as typed ({, }, \\, %, quotes and all); "
                            "--set FIELD= removes a field; people are written 'Family, Given and Family, Given'. "
                            "The reference is read and written under the collection lock, so edits made at the "
                            "same time by others are never lost.")
    p.add_argument("key")
    p.add_argument("--set", action="append", metavar="FIELD=VALUE", help="set a field (repeatable)")
    p.add_argument("--file", help="a .bib or .ris file holding the reference's new bibliographic record (read as "
                   "`add` reads it): fields it leaves out are removed, except the library's own (themes, key "
                   "finding, provenance...), which are kept; a .bib entry's key must be KEY or --new-key")
    p.add_argument("--new-key", help="rename the reference (the old file goes to the trash)")
    p.add_argument("--type", metavar="TYPE", help="change the entry type, e.g. article, book, techreport")
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

    p = commands.add_parser("themes", help="list the theme vocabulary, or change it", description=
                            "With no action, list the vocabulary. The actions check the new vocabulary first, then "
                            "change themes.toml and every reference that uses the theme together: all of them "
                            "or none (an interrupted change is finished the next time the library opens).")
    p.set_defaults(func=cmd_themes)
    theme_commands = p.add_subparsers(dest="themes_command", metavar="ACTION")
    t = theme_commands.add_parser("add", help="add a theme")
    t.add_argument("slug")
    t.add_argument("label")
    t.add_argument("--parent", metavar="SLUG", help="the broader theme it goes under")
    t.add_argument("--synonym", metavar="WORDS", action="append",
                   help="another word or phrase for the theme, searched with its label (repeat for more)")
    t.add_argument("--description", metavar="TEXT")
    t = theme_commands.add_parser("rename", help="give a theme a new slug (and label), in every reference too")
    t.add_argument("old")
    t.add_argument("new")
    t.add_argument("--label", metavar="TEXT", help="a new label as well")
    t = theme_commands.add_parser("merge", help="fold one theme into another, in every reference too")
    t.add_argument("source")
    t.add_argument("into")
    t = theme_commands.add_parser("delete", help="delete a theme no reference uses")
    t.add_argument("slug")

    p = commands.add_parser("pack", help="evidence packs", description="Build evidence packs from pack files, "
                            "and save, list and delete the packs in the shared database.")
    pack_commands = p.add_subparsers(dest="pack_command", metavar="ACTION", required=True)
    b = pack_commands.add_parser("build", help="render a pack file as PDF, Word, HTML, Markdown, BibTeX, RIS or CSL-JSON")
    b.add_argument("pack", metavar="PACK.json")
    b.add_argument("--format", required=True, choices=("pdf", "docx", "html", "md", "bib", "ris", "csljson"))
    b.add_argument("--style", choices=("apa", "harvard"), default="apa")
    b.add_argument("-o", "--output", metavar="FILE")
    b.set_defaults(func=cmd_pack)
    from .packcli import add_pack_commands

    add_pack_commands(pack_commands)

    p = commands.add_parser("hash-password", help="make the salted hash for LIBRARY_LIBRARIAN_PASSWORD_HASH")
    p.add_argument("--stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=cmd_hash_password)

    _add_discovery_commands(commands)
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
    except OutputRefused as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_USAGE
    except (EntryProblems, DuplicateReference, InvalidKey, InvalidValue, SaveRefused, PackDoesNotFit,
            PackFileInvalid) as error:
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
