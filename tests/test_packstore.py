"""Saved packs in the shared database, with owners: every test runs on SQLite and on a real PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
import sqlite3
import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import insert

from library import Library, Settings
from library.database import MIGRATIONS, Database
from library.errors import PackAccessDenied, PackConflict, PackDoesNotFit, PackError, PackNotFound, PackWithdrawn
from library.owners import Identity, may_edit
from library.packs import KeyMessage, Pack, PackReference, dump_pack
from library.packstore import LEGACY_FILE, PackStore
from library.tables import packs as packs_table

from .conftest import REPO

def _script():  # type: ignore[no-untyped-def]
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ScriptDirectory.from_config(config)


# The migration that gave packs their owners (its place in the chain may change as others are added).
OWNERS_MIGRATION = next(r for r in _script().walk_revisions() if r.revision.endswith("_pack_owners"))

JO = Identity.oidc("Jo.Bloggs@Example.org")
SAM = Identity.oidc("sam@example.org")
LIBRARIAN = Identity.librarian()
ADMIN = Identity.admin()


@pytest.fixture()
def pack() -> Pack:
    return Pack(
        title="Should our wards become trauma-informed?",
        audience="Ward managers",
        ask="Agree a six-month pilot on two acute wards.",
        key_messages=(KeyMessage("Adverse childhood experiences are common.", (1,)),),
        references=(PackReference("felitti1998relationship", "Common and harmful."),),
        prepared_by="Jo Bloggs",
        date=dt.date(2025, 3, 1),
    )


@pytest.fixture()
def store(database: Database) -> PackStore:
    return PackStore(database)


# ------------------------------------------------------------------ who may change a pack

# owner of the pack, who asks, whether they present the pack's edit link, may they change it
RULES = [
    (None, None, True, True),  # not signed in: the edit link is the key
    (None, None, False, False),
    (None, JO, True, True),  # signed in, holding a link-held pack's link
    (None, JO, False, False),
    (JO.owner, JO, True, True),  # the owner
    (JO.owner, JO, False, True),  # the owner needs no link ("My packs")
    (JO.owner, SAM, True, False),  # someone else signed in, even with the link
    (JO.owner, None, True, False),  # not signed in, even with the link
    (JO.owner, LIBRARIAN, True, False),
    (LIBRARIAN.owner, LIBRARIAN, False, True),
    (LIBRARIAN.owner, JO, True, False),
    (ADMIN.owner, JO, True, False),  # packs from before owners: only the administrator
    (ADMIN.owner, None, True, False),
    (ADMIN.owner, ADMIN, False, True),
    (JO.owner, ADMIN, False, True),  # the administrator may change any pack
    (None, ADMIN, False, True),
]


@pytest.mark.parametrize(("owner", "who", "with_link", "allowed"), RULES)
def test_who_may_change_a_pack(owner: str | None, who: Identity | None, with_link: bool, allowed: bool) -> None:
    token = "k" * 32
    assert may_edit(owner, who, edit_token=token, presented=token if with_link else "") is allowed
    # A wrong link counts for nothing: only the owner (or the administrator) gets in without the right one.
    by_identity = who is not None and (who.is_admin or who.owner == owner)
    assert may_edit(owner, who, edit_token=token, presented="x" * 32) is by_identity


@pytest.mark.parametrize(("owner", "who", "with_link", "allowed"), RULES)
def test_the_store_applies_the_rules_to_every_verb(store: PackStore, pack: Pack, owner: str | None,
                                                   who: Identity | None, with_link: bool, allowed: bool) -> None:
    made = store.create(pack, owner=Identity.parse(owner) if owner else None)
    # Without being given the link, a person reaches the pack only through "My packs" (its owner) or
    # by its id (the administrator), which hand them the link; anyone else can only guess one.
    reachable = with_link or (who is not None and (who.is_admin or who.owner == owner))
    link = made.edit_token if reachable else "not-the-link"
    verbs = [
        lambda: store.open(link, who),
        lambda: store.save(link, replace(pack, title="Changed"), who=who),
        lambda: store.share(link, who),
        lambda: store.withdraw(link, who),
        lambda: store.duplicate(link, who),
        lambda: store.delete(link, who),
    ]
    for verb in verbs:
        if allowed:
            verb()
        else:
            with pytest.raises((PackAccessDenied, PackNotFound)):
                verb()
    if not allowed:
        assert store.get(made.id, ADMIN).pack == pack  # untouched
        assert store.get(made.id, ADMIN).share_token is None


def test_identities_and_owner_strings() -> None:
    assert JO.owner == "oidc:jo.bloggs@example.org" and JO.label == "jo.bloggs@example.org"
    assert Identity.parse("oidc:Jo.Bloggs@example.org") == JO
    assert Identity.parse("librarian") == LIBRARIAN and Identity.parse("admin") == ADMIN
    assert ADMIN.is_admin and not JO.is_admin and not LIBRARIAN.is_admin
    for bad in ("", "someone", "oidc:", "oidc:not an email", "oidc:" + "x" * 400 + "@example.org"):
        with pytest.raises(PackError):
            Identity.parse(bad)


# ------------------------------------------------------------------ the owner's verbs


def test_create_open_save_keeps_links_style_and_counts_revisions(store: PackStore, pack: Pack) -> None:
    made = store.create(pack, owner=None, style="harvard")
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", made.edit_token)
    assert made.edit_token != made.id and made.share_token is None and made.shared is None
    assert (made.pack, made.style, made.owner, made.revision) == (pack, "harvard", None, 1)
    assert made.updated.tzinfo is not None

    opened = store.open(made.edit_token, None)
    assert opened == made
    renamed = replace(pack, title="Trauma-informed wards: a pilot")
    saved = store.save(made.edit_token, renamed, who=None, style="apa", revision=1)
    assert (saved.pack, saved.style, saved.revision, saved.id, saved.edit_token) == \
        (renamed, "apa", 2, made.id, made.edit_token)
    assert saved.updated > made.updated and saved.created == made.created
    assert store.open(made.edit_token, None).pack == renamed
    with pytest.raises(PackError, match="Unknown reference style"):
        store.save(made.edit_token, pack, who=None, style="vancouver")


def test_a_second_window_cannot_overwrite_a_newer_save(store: PackStore, pack: Pack) -> None:
    made = store.create(pack, owner=None)
    first = store.save(made.edit_token, replace(pack, ask="From window one."), who=None, revision=1)
    with pytest.raises(PackConflict, match="changed in another window"):
        store.save(made.edit_token, replace(pack, ask="From window two."), who=None, revision=1)
    assert store.open(made.edit_token, None).pack.ask == "From window one."
    assert store.save(made.edit_token, replace(pack, ask="Two, again."), who=None,
                      revision=first.revision).revision == 3


def test_my_packs_lists_only_mine_and_a_browser_only_the_links_it_holds(store: PackStore, pack: Pack) -> None:
    mine = [store.create(replace(pack, title=f"Jo's pack {n}"), owner=JO) for n in range(2)]
    sams = store.create(replace(pack, title="Sam's pack"), owner=SAM)
    held = [store.create(replace(pack, title=f"Anonymous {n}"), owner=None) for n in range(3)]

    assert [s.title for s in store.owned_by(JO)] == ["Jo's pack 1", "Jo's pack 0"]  # newest first
    assert [s.title for s in store.owned_by(SAM)] == ["Sam's pack"]
    assert store.owned_by(LIBRARIAN) == []
    assert {s.id for s in store.owned_by(ADMIN)} == {p.id for p in [*mine, sams, *held]}

    assert [s.title for s in store.held([held[0].edit_token, held[2].edit_token])] == ["Anonymous 2", "Anonymous 0"]
    assert store.held([]) == [] and store.held(["no-such-link"]) == []
    # Someone else's edit link held by this browser is not theirs to list, unless they are that person.
    assert store.held([sams.edit_token]) == []
    assert [s.title for s in store.held([sams.edit_token], SAM)] == ["Sam's pack"]
    [summary] = store.held([held[1].edit_token])
    assert (summary.owner, summary.shared, summary.edit_token) == (None, False, held[1].edit_token)


def test_delete_asks_for_the_owner_and_withdraws_the_share_link(store: PackStore, pack: Pack) -> None:
    made = store.create(pack, owner=JO)
    shared = store.share(made.edit_token, JO)
    with pytest.raises(PackAccessDenied):
        store.delete(made.edit_token, SAM)
    assert store.shared(shared.share_token).pack == pack  # type: ignore[arg-type]
    assert store.delete(made.edit_token, JO) == pack.title
    with pytest.raises(PackWithdrawn, match="withdrawn"):
        store.shared(shared.share_token)  # type: ignore[arg-type]
    with pytest.raises(PackNotFound, match="may have been deleted"):
        store.open(made.edit_token, JO)
    with pytest.raises(PackNotFound):
        store.save(made.edit_token, pack, who=JO)
    assert store.owned_by(JO) == []


def test_duplicate_makes_a_new_pack_for_the_current_person(store: PackStore, pack: Pack) -> None:
    original = store.create(pack, owner=None, style="harvard")
    store.share(original.edit_token, None)
    copy = store.duplicate(original.edit_token, JO)
    assert copy.id != original.id and copy.edit_token != original.edit_token
    assert (copy.pack, copy.style, copy.owner) == (replace(pack, title=f"Copy of {pack.title}"), "harvard", JO.owner)
    assert copy.share_token is None and copy.shared is None  # a copy is not shared
    assert store.open(original.edit_token, None).pack == pack  # the original is untouched
    named = store.duplicate(original.edit_token, None, title="For the board")
    assert (named.pack.title, named.owner) == ("For the board", None)
    assert store.duplicate(copy.edit_token, JO).pack.title == f"Copy of {pack.title}"  # not "Copy of Copy of"


def test_share_shows_the_version_shared_until_shared_again(store: PackStore, pack: Pack) -> None:
    made = store.create(pack, owner=None, style="harvard")
    shared = store.share(made.edit_token, None)
    token = shared.share_token
    assert token and re.fullmatch(r"[A-Za-z0-9_-]{32}", token) and token != made.edit_token
    assert shared.shared_is_current
    version = store.shared(token)
    assert (version.pack, version.style) == (pack, "harvard")

    edited = replace(pack, ask="Half-way through a new ask")
    after_edit = store.save(made.edit_token, edited, who=None, style="apa")
    assert not after_edit.shared_is_current
    assert store.shared(token).pack == pack and store.shared(token).style == "harvard"  # readers see the shared one

    again = store.share(made.edit_token, None)
    assert again.share_token == token  # the same link, now showing the new version
    assert (store.shared(token).pack, store.shared(token).style) == (edited, "apa")

    withdrawn = store.withdraw(made.edit_token, None)
    assert withdrawn.share_token is None and withdrawn.shared is None
    with pytest.raises(PackWithdrawn, match="withdrawn by its author"):
        store.shared(token)
    renewed = store.share(made.edit_token, None)
    assert renewed.share_token not in (None, token)  # a new link; the old one stays withdrawn
    with pytest.raises(PackWithdrawn):
        store.shared(token)
    with pytest.raises(PackWithdrawn, match="incomplete"):
        store.shared("")


def test_a_check_can_refuse_to_share_and_nothing_is_shared(store: PackStore, pack: Pack) -> None:
    made = store.create(pack, owner=None)
    seen = []

    def refuse(candidate: Pack, style: str) -> None:
        seen.append((candidate, style))
        raise PackDoesNotFit("Too long for one page.")

    with pytest.raises(PackDoesNotFit):
        store.share(made.edit_token, None, check=refuse)
    assert seen == [(pack, "apa")]
    assert store.open(made.edit_token, None).share_token is None


def test_a_reader_can_copy_a_shared_pack_to_build_on(store: PackStore, pack: Pack) -> None:
    made = store.create(pack, owner=JO, style="harvard")
    token = store.share(made.edit_token, JO).share_token
    copy = store.copy_shared(token, None)  # type: ignore[arg-type]
    assert (copy.pack.title, copy.style, copy.owner) == (f"Copy of {pack.title}", "harvard", None)
    assert store.open(copy.edit_token, None).pack.references == pack.references
    assert store.open(made.edit_token, JO).pack == pack


def test_the_administrator_works_by_id(store: PackStore, pack: Pack) -> None:
    made = store.create(pack, owner=JO)
    for verb in (lambda: store.get(made.id, JO), lambda: store.delete_by_id(made.id, JO),
                 lambda: store.replace_by_id(made.id, pack, JO)):
        with pytest.raises(PackAccessDenied, match="local administrator"):
            verb()
    replaced = store.replace_by_id(made.id, replace(pack, title="Replaced"), ADMIN, style="harvard")
    assert (replaced.pack.title, replaced.style, replaced.owner, replaced.edit_token) == \
        ("Replaced", "harvard", JO.owner, made.edit_token)
    assert store.delete_by_id(made.id, ADMIN) == "Replaced"
    with pytest.raises(PackNotFound, match="No saved pack has the id"):
        store.delete_by_id(made.id, ADMIN)
    with pytest.raises(PackNotFound):
        store.get(made.id, ADMIN)


def test_store_survives_reopening(database_url: str, pack: Pack) -> None:
    first = Database(database_url)
    made = PackStore(first).create(pack, owner=None)
    first.close()
    again = Database(database_url)
    assert PackStore(again).open(made.edit_token, None).pack == pack
    again.close()


def test_store_is_safe_with_several_processes(database_url: str) -> None:
    code = textwrap.dedent(f"""
        import sys
        from library.database import Database
        from library.owners import Identity
        from library.packs import Pack
        from library.packstore import PackStore
        store = PackStore(Database({database_url!r}))
        worker = sys.argv[1]
        for n in range(15):
            made = store.create(Pack(title=f"worker {{worker}} pack {{n}}"), owner=None)
            store.share(made.edit_token, None)
            store.owned_by(Identity.admin())
    """)
    workers = [subprocess.Popen([sys.executable, "-c", code, str(w)], cwd=REPO,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE) for w in range(3)]
    for worker in workers:
        _, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err.decode()
    database = Database(database_url)
    summaries = PackStore(database).owned_by(ADMIN)
    database.close()
    assert {s.title for s in summaries} == {f"worker {w} pack {n}" for w in range(3) for n in range(15)}
    assert len({s.edit_token for s in summaries}) == 45 and all(s.shared for s in summaries)


# ------------------------------------------------------------------ packs from earlier versions


def test_packs_saved_before_owners_belong_to_the_administrator_and_keep_their_links(database_url: str,
                                                                                    pack: Pack) -> None:
    """A database at the first migration, with packs in it, upgraded by opening it."""
    old = Database(database_url, migrate=False)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with old.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, OWNERS_MIGRATION.down_revision)  # every migration before the owners' one
        connection.commit()
    when = "2025-03-01T10:00:00.000000+00:00"
    with old.write() as connection:
        for pack_id, title, token in (("old1", pack.title, "tok-old-1"), ("old2", "Second", None)):
            # Only the columns of the first migration's table.
            connection.execute(insert(packs_table).values(
                id=pack_id, title=title, body=dump_pack(replace(pack, title=title)), created=when, updated=when,
                share_token=token))
    old.close()

    database = Database(database_url)
    assert database.revision() == set(_script().get_heads())  # upgraded through the owners' migration
    store = PackStore(database)
    summaries = {s.id: s for s in store.owned_by(ADMIN)}
    assert set(summaries) == {"old1", "old2"}
    assert {s.owner for s in summaries.values()} == {"admin"}
    assert len({s.edit_token for s in summaries.values()}) == 2
    assert (summaries["old1"].shared, summaries["old2"].shared) == (True, False)
    shared = store.shared("tok-old-1")  # the link made before the upgrade still opens the pack, in APA
    assert (shared.pack, shared.style) == (pack, "apa")
    for who in (None, JO, LIBRARIAN):  # nobody in the app may change them ...
        with pytest.raises(PackAccessDenied):
            store.save(summaries["old1"].edit_token, pack, who=who)
    assert store.copy_shared("tok-old-1", JO).owner == JO.owner  # ... but a reader may copy one to build on
    assert store.delete_by_id("old2", ADMIN) == "Second"  # and the administrator may delete them
    database.close()


def _legacy_file(data_dir: Path, rows: list[tuple]) -> Path:
    """A packs.sqlite3 exactly as versions before the shared database wrote it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / LEGACY_FILE
    with sqlite3.connect(path) as connection:
        connection.executescript("""
            CREATE TABLE packs (id TEXT PRIMARY KEY, title TEXT NOT NULL, body TEXT NOT NULL,
                                created TEXT NOT NULL, updated TEXT NOT NULL, share_token TEXT UNIQUE);
            CREATE INDEX packs_by_updated ON packs (updated DESC);
            PRAGMA user_version=1;
        """)
        connection.executemany("INSERT INTO packs VALUES (?, ?, ?, ?, ?, ?)", rows)
    connection.close()
    return path


def test_packs_saved_by_earlier_versions_are_brought_across_once(tmp_path: Path, pack: Pack) -> None:
    settings = Settings.from_env(references_dir=REPO / "references", index_dir=tmp_path / "index",
                                 data_dir=tmp_path / "data")
    when = "2025-03-01T10:00:00.000000+00:00"
    legacy = _legacy_file(settings.data_dir, [("old1", pack.title, dump_pack(pack), when, when, "tok-old-1"),
                                              ("old2", "Second", dump_pack(replace(pack, title="Second")),
                                               when, when, None)])
    library = Library(settings, sync=False)
    store = library.packs
    summaries = store.owned_by(ADMIN)
    assert {s.id for s in summaries} == {"old1", "old2"} and {s.owner for s in summaries} == {"admin"}
    assert store.get("old1", ADMIN).pack == pack
    assert store.shared("tok-old-1").pack == pack  # share links made before the upgrade still work
    with pytest.raises(PackAccessDenied):
        store.open(store.get("old1", ADMIN).edit_token, None)
    assert not legacy.exists() and (settings.data_dir / (LEGACY_FILE + ".imported")).exists()
    library.close()

    again = Library(settings, sync=False)
    assert len(again.packs.owned_by(ADMIN)) == 2  # not copied twice
    again.close()


def test_an_unreadable_legacy_file_is_named_and_nothing_is_lost(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / LEGACY_FILE).write_bytes(b"this is not a database")
    database = Database(f"sqlite:///{data_dir / 'library.sqlite3'}")
    with pytest.raises(PackError, match=re.escape(str(data_dir / LEGACY_FILE))):
        PackStore(database).import_legacy(data_dir)
    assert (data_dir / LEGACY_FILE).read_bytes() == b"this is not a database"
    database.close()


def test_the_owner_migration_can_be_undone_keeping_the_packs(database_url: str, pack: Pack) -> None:
    database = Database(database_url)
    made = PackStore(database).create(pack, owner=JO)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with database.engine.connect() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, OWNERS_MIGRATION.down_revision)
        connection.commit()
        assert {c for c in connection.exec_driver_sql("SELECT * FROM packs").keys()} == \
            {"id", "title", "body", "created", "updated", "share_token"}
    database.close()
    again = Database(database_url)  # upgraded again on opening: the pack is back, now the administrator's
    [summary] = PackStore(again).owned_by(ADMIN)
    assert (summary.id, summary.owner) == (made.id, "admin")
    again.close()


def test_what_could_not_be_opened_again_is_never_saved(store: PackStore, pack: Pack) -> None:
    made = store.create(pack, owner=None)
    too_long = replace(pack, references=(replace(pack.references[0], note="x" * 5_001),))
    with pytest.raises(PackError, match=r"'references\[1\]\.note' is 5,001 characters long"):
        store.save(made.edit_token, too_long, who=None)
    dangling = replace(pack, key_messages=(KeyMessage("Cites a reference the pack lacks.", (2,)),))
    with pytest.raises(PackError, match="refers to reference 2"):
        store.create(dangling, owner=None)
    assert store.open(made.edit_token, None).pack == pack and store.open(made.edit_token, None).revision == 1
    assert [s.id for s in store.owned_by(ADMIN)] == [made.id]
    # What is saved is exactly what reads back: surrounding spaces go, the rest is kept.
    spaced = store.save(made.edit_token, replace(pack, ask="  Agree a pilot.  "), who=None)
    assert spaced.pack.ask == "Agree a pilot." and store.open(made.edit_token, None).pack == spaced.pack
