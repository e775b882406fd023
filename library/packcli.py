"""`python -m library pack template|save|list|delete`: saved packs from the command line.

The command line acts as the **local administrator** (owner `admin`, see
`library.owners`): whoever can run it can already read and change the database
and the files, so it sees every saved pack (its id, title, owner, last change
and whether it is shared, never its contents or secret links), deletes any
pack, and saves packs for anyone.  A pack it saves belongs, by default, to
whoever holds the edit link it prints (as a pack made in the app by someone not
signed in); `--owner` gives it to a signed-in person instead.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import LibraryError, VocabularyError
from .owners import Identity, describe_owner
from .packs import dump_pack, replaced_notes
from .packstore import pack_address

if TYPE_CHECKING:
    from .api import Library
    from .taxonomy import Concern

ADMIN = Identity.admin()


def _concern(library: "Library", name: str) -> "Concern":
    """A concern by its slug or its label (any case, with or without quotation marks)."""
    vocabulary = library.vocabulary
    if name in vocabulary.concern_by_slug:
        return vocabulary.concern_by_slug[name]
    wanted = _folded(name)
    for concern in vocabulary.concerns:
        if _folded(concern.label) == wanted:
            return concern
    known = "\n".join(f"  {c.slug:<28} {c.label}" for c in vocabulary.concerns) or "  (none)"
    raise VocabularyError(f"There is no concern '{name}'. Give one of these slugs or labels:\n{known}")


def _folded(text: str) -> str:
    return " ".join(text.strip().strip("\"'“”‘’").casefold().replace("’", "'").split())


def cmd_template(args: argparse.Namespace, library: "Library") -> int:
    concern = _concern(library, args.concern)
    pack = library.concern_pack(concern.slug)
    text = dump_pack(pack.with_snapshots(library.get_many(pack.keys)))
    if args.output:
        from .outputs import write_output

        write_output(library.settings.references_dir, args.output, text.encode("utf-8"))
        print(f"Wrote the template for “{concern.label}” to {args.output} "
              f"({len(pack.references)} references).", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_save(args: argparse.Namespace, library: "Library", data: bytes) -> int:
    pack = library.read_pack(data)
    records = library.get_many(pack.keys)
    for note in replaced_notes(pack, records):
        print(f"Notice: {note}", file=sys.stderr)
    pack = pack.with_snapshots(records)
    store = library.packs
    if args.id:
        if args.owner:
            raise LibraryError("--owner gives a new pack its owner; a saved pack keeps its own. "
                               "Leave out --owner, or --id to save a new pack.")
        stored = store.replace_by_id(args.id, pack, ADMIN, style=args.style)
        print(f"Replaced pack {stored.id} (“{stored.pack.title}”); its links are unchanged.")
    else:
        owner = None if args.owner in (None, "link") else Identity.parse(args.owner)
        stored = store.create(pack, owner=owner, style=args.style or "apa")
        print(f"Saved pack {stored.id} (“{stored.pack.title}”), owned by {describe_owner(stored.owner)}.")
        if stored.owner is None:
            print(f"Private edit link (whoever holds it can change or delete the pack): "
                  f"{pack_address(library.settings.public_url, edit=stored.edit_token)}")
    if args.share:
        from .errors import PackDoesNotFit
        from .packs import Pack

        def one_page(candidate: Pack, style: str) -> None:
            fit = library.check_pack_fits(candidate, style)
            if not fit.fits:
                raise PackDoesNotFit(fit.advice)

        try:
            stored = store.share(stored.edit_token, ADMIN, check=one_page)
        except PackDoesNotFit as error:
            # Saved, and the follow-up (sharing) was not done: exit 4, as for any save whose follow-up failed.
            print(f"Saved, but not shared: the brief does not fit on one page. {error}", file=sys.stderr)
            return 4
        print(f"Read-only link: {pack_address(library.settings.public_url, share=stored.share_token or '')}")
    if not library.settings.public_url:
        print("(Put the app's address in front of each link, or set LIBRARY_PUBLIC_URL to print them in full.)",
              file=sys.stderr)
    return 0


def cmd_list(args: argparse.Namespace, library: "Library") -> int:
    summaries = library.packs.owned_by(ADMIN)
    if args.owner:
        wanted = None if args.owner == "link" else Identity.parse(args.owner).owner
        summaries = [s for s in summaries if s.owner == wanted]
    if args.format == "json":
        print(json.dumps([{"id": s.id, "title": s.title, "updated": s.updated.isoformat(), "owner": s.owner,
                           "shared": s.shared} for s in summaries], ensure_ascii=False, indent=2))
        return 0
    if not summaries:
        print("No saved packs.")
        return 0
    print(f"{'ID':<32}  {'CHANGED (UTC)':<16}  {'SHARED':<6}  {'OWNER':<30}  TITLE")
    for s in summaries:
        print(f"{s.id:<32}  {s.updated:%Y-%m-%d %H:%M}  {'yes' if s.shared else 'no':<6}  "
              f"{_cell(describe_owner(s.owner), 30):<30}  {_cell(s.title, 80)}")
    print(f"\n{len(summaries)} pack{'s' if len(summaries) != 1 else ''}.")
    return 0


def _cell(text: str, width: int) -> str:
    flat = " ".join(text.split())  # a title with a line break or a tab must not break the table
    return flat if len(flat) <= width else flat[:width - 1] + "…"


def cmd_delete(args: argparse.Namespace, library: "Library") -> int:
    store = library.packs
    shared = store.get(args.id, ADMIN).share_token is not None
    title = store.delete_by_id(args.id, ADMIN)
    print(f"Deleted pack {args.id} (“{title}”)." + (" Its read-only link now says the pack was withdrawn."
                                                     if shared else ""))
    return 0


OWNER_HELP = ("who owns it: 'link' (default: whoever holds the edit link printed), 'oidc:EMAIL' (a person "
              "signed in with the organisation's account), 'librarian' (the librarian sign-in) or 'admin' "
              "(only the command line)")


def add_pack_commands(actions: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    """Add template, save, list and delete to `python -m library pack` (beside `build`)."""
    from . import cli

    def run(command, *, sync: bool = False):  # type: ignore[no-untyped-def]
        def go(args: argparse.Namespace) -> int:
            return command(args, cli._open(args, sync=sync))
        return go

    def run_with_file(command):  # type: ignore[no-untyped-def]
        def go(args: argparse.Namespace) -> int:
            library = cli._open(args, sync=False)
            data, _ = cli._read_input(args.pack, library)
            return command(args, library, data)
        return go

    p = actions.add_parser("template", help="write a concern's template pack (a pack file to edit or build)",
                           description="Write the one-click pack for a common concern as a pack file: its "
                                       "references, its response as the first key message.")
    p.add_argument("concern", metavar="CONCERN", help="the concern's slug or label (see `python -m library themes` "
                                                     "or references/themes.toml)")
    p.add_argument("-o", "--output", metavar="PACK.json", help="where to write it (default: standard output)")
    p.set_defaults(func=run(cmd_template, sync=True))  # a template searches the collection

    p = actions.add_parser("save", help="save a pack file in the shared database (as the local administrator)",
                           description="Save a pack file as a new saved pack (or replace one with --id) and print "
                                       "its links. The command line acts as the local administrator.")
    p.add_argument("pack", metavar="PACK.json", help="a pack file, or '-' for standard input")
    p.add_argument("--id", help="replace the saved pack with this id (see `pack list`); its owner and links stay")
    p.add_argument("--owner", metavar="OWNER", help=OWNER_HELP)
    p.add_argument("--style", choices=("apa", "harvard"), help="reference style (default: apa, or the pack's own)")
    p.add_argument("--share", action="store_true",
                   help="also make (or update) its read-only link; refused if the brief does not fit one page")
    p.set_defaults(func=run_with_file(cmd_save))

    p = actions.add_parser("list", help="list every saved pack (id, last change, shared, owner, title)",
                           description="List every saved pack, most recently changed first. The command line is "
                                       "the local administrator, so it sees every pack; it never prints their "
                                       "contents or secret links.")
    p.add_argument("--format", choices=("text", "json"), default="text")
    p.add_argument("--owner", metavar="OWNER", help="only the packs of this owner ('link' for those held by "
                                                    "their edit link)")
    p.set_defaults(func=run(cmd_list))

    p = actions.add_parser("delete", help="delete a saved pack by its id (its share link then says it was withdrawn)")
    p.add_argument("id", metavar="ID")
    p.set_defaults(func=run(cmd_delete))
