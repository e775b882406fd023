"""`python -m library pack template|save|list|delete` as an IT administrator would run them: real
processes on a copy of the collection, the app's own database read back through the library."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from library import Library, SearchRequest, Settings
from library.owners import Identity
from library.packs import load_pack

from .conftest import REPO

PUBLIC = "https://evidence.example.org"


@pytest.fixture
def cli(tmp_path: Path):  # type: ignore[no-untyped-def]
    shutil.copytree(REPO / "references", tmp_path / "references", ignore=shutil.ignore_patterns(".*"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "LIBRARY_REFERENCES_DIR": str(tmp_path / "references"),
           "LIBRARY_INDEX_DIR": str(tmp_path / "index"), "LIBRARY_DATA_DIR": str(tmp_path / "data"),
           "LIBRARY_PUBLIC_URL": PUBLIC}

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "library", *args], input=stdin, capture_output=True,
                              text=True, encoding="utf-8", env=env, cwd=tmp_path, timeout=180)

    return run


@pytest.fixture
def library(cli, tmp_path: Path):  # type: ignore[no-untyped-def]
    lib = Library(Settings.from_env(references_dir=tmp_path / "references", index_dir=tmp_path / "expected-index",
                                    data_dir=tmp_path / "data"))
    yield lib
    lib.close()


@pytest.mark.parametrize("name", ["medical-model", "This is just the medical model renamed",
                                  "“this is just the medical model renamed”", "  THIS IS JUST THE MEDICAL MODEL RENAMED "])
def test_template_by_slug_or_label_writes_the_concerns_pack(cli, library: Library, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                            name: str) -> None:
    concern = library.vocabulary.concern_by_slug["medical-model"]
    done = cli("pack", "template", name, "-o", "medical.json")
    assert done.returncode == 0, done.stderr
    assert f"Wrote the template for “{concern.label}” to medical.json" in done.stderr
    pack = load_pack((tmp_path / "medical.json").read_bytes())
    expected = library.concern_pack("medical-model")
    assert pack.keys == expected.keys and pack.concern == concern.label
    assert pack.key_messages == expected.key_messages
    assert all(r.snapshot is not None for r in pack.references)  # renders even where the references are absent
    built = cli("pack", "build", "medical.json", "--format", "docx", "-o", "medical.docx")  # the file is a pack file
    assert built.returncode == 0, built.stderr
    assert (tmp_path / "medical.docx").read_bytes().startswith(b"PK")


def test_template_to_standard_output_and_an_unknown_concern(cli, library: Library) -> None:  # type: ignore[no-untyped-def]
    done = cli("pack", "template", "staff-burnout")
    assert done.returncode == 0, done.stderr
    assert load_pack(done.stdout).concern == library.vocabulary.concern_by_slug["staff-burnout"].label
    wrong = cli("pack", "template", "no-such-concern")
    assert wrong.returncode == 3 and wrong.stdout == ""
    assert "There is no concern 'no-such-concern'" in wrong.stderr and "staff-burnout" in wrong.stderr


def test_save_list_and_delete_as_the_local_administrator(cli, library: Library, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("pack", "template", "staff-burnout", "-o", "burnout.json").returncode == 0
    assert cli("pack", "list").stdout.strip() == "No saved packs."

    saved = cli("pack", "save", "burnout.json")
    assert saved.returncode == 0, saved.stderr
    pack_id = re.search(r"Saved pack ([0-9a-f]{32}) ", saved.stdout).group(1)  # type: ignore[union-attr]
    edit = re.search(rf"{re.escape(PUBLIC)}/pack\?edit=([A-Za-z0-9_-]{{32}})", saved.stdout).group(1)  # type: ignore[union-attr]
    assert "owned by whoever holds the edit link" in saved.stdout
    store = library.packs
    stored = store.open(edit, None)  # the printed link really opens it, for anyone holding it
    assert stored.id == pack_id and stored.owner is None and stored.share_token is None

    jo = cli("pack", "save", "burnout.json", "--owner", "oidc:Jo@Example.org", "--style", "harvard", "--share")
    assert jo.returncode == 0, jo.stderr
    jo_id = re.search(r"Saved pack ([0-9a-f]{32}) ", jo.stdout).group(1)  # type: ignore[union-attr]
    assert "owned by jo@example.org" in jo.stdout and "edit=" not in jo.stdout  # Jo opens it from "My packs"
    share = re.search(rf"Read-only link: {re.escape(PUBLIC)}/pack\?share=([A-Za-z0-9_-]{{32}})", jo.stdout).group(1)  # type: ignore[union-attr]
    assert store.shared(share).style == "harvard"
    [mine] = store.owned_by(Identity.oidc("jo@example.org"))
    assert mine.id == jo_id

    listed = json.loads(cli("pack", "list", "--format", "json").stdout)
    assert [(p["id"], p["owner"], p["shared"]) for p in listed] == [(jo_id, "oidc:jo@example.org", True),
                                                                   (pack_id, None, False)]
    assert all(set(p) == {"id", "title", "updated", "owner", "shared"} for p in listed)  # no secrets
    text = cli("pack", "list").stdout
    assert "whoever holds the edit link" in text and "jo@example.org" in text and "2 packs." in text
    assert edit not in text and share not in text
    assert [p["id"] for p in json.loads(cli("pack", "list", "--format", "json", "--owner", "link").stdout)] == [pack_id]

    # Replacing by id keeps the owner and the links.
    replaced = cli("pack", "save", "burnout.json", "--id", jo_id)
    assert replaced.returncode == 0 and "its links are unchanged" in replaced.stdout
    assert store.get(jo_id, Identity.admin()).share_token == share

    deleted = cli("pack", "delete", jo_id)
    assert deleted.returncode == 0, deleted.stderr
    assert deleted.stdout.startswith(f"Deleted pack {jo_id} (“Answering the concern")
    assert "now says the pack was withdrawn" in deleted.stdout
    again = cli("pack", "delete", jo_id)
    assert again.returncode == 3 and f"No saved pack has the id '{jo_id}'" in again.stderr
    assert [p["id"] for p in json.loads(cli("pack", "list", "--format", "json").stdout)] == [pack_id]


def test_save_refuses_bad_input_and_saves_nothing(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "bad.json").write_text('{"title": "No messages", "key_messages": "not a list"}', encoding="utf-8")
    done = cli("pack", "save", "bad.json")
    assert done.returncode == 1 and "'key_messages' must be a list" in done.stderr  # an input problem
    bad_owner = cli("pack", "template", "staff-burnout", "-o", "ok.json"), cli("pack", "save", "ok.json", "--owner", "someone")
    assert bad_owner[1].returncode == 3 and "is not an owner" in bad_owner[1].stderr
    missing = cli("pack", "save", "no-such-file.json")
    assert missing.returncode == 3 and "does not exist" in missing.stderr
    assert cli("pack", "list").stdout.strip() == "No saved packs."


def test_share_refuses_a_brief_longer_than_a_page(cli, library: Library, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    keys = [h.key for h in library.search(SearchRequest(text="burnout")).hits[:6]]
    long_note = " ".join(["This note runs on and on about why the reference matters here."] * 25)
    pack = {"title": "Far too long", "references": [{"key": k, "note": long_note} for k in keys]}
    (tmp_path / "long.json").write_text(json.dumps(pack), encoding="utf-8")
    done = cli("pack", "save", "long.json", "--share")
    assert done.returncode == 4 and "Saved, but not shared: the brief does not fit on one page" in done.stderr
    [listed] = json.loads(cli("pack", "list", "--format", "json").stdout)
    assert listed["title"] == "Far too long" and listed["shared"] is False  # kept as a draft


def test_the_pack_commands_are_documented() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    for usage in ("pack template CONCERN [-o PACK.json]", "pack save PACK.json", "pack list [--format json]",
                  "pack delete ID"):
        assert usage in readme, usage


def test_a_brief_longer_than_a_page_is_an_input_problem(cli, library: Library, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    keys = [h.key for h in library.search(SearchRequest(text="burnout")).hits[:6]]
    long_note = " ".join(["This note runs on and on about why the reference matters here."] * 25)
    pack = {"title": "Far too long", "references": [{"key": k, "note": long_note} for k in keys]}
    (tmp_path / "long.json").write_text(json.dumps(pack), encoding="utf-8")
    built = cli("pack", "build", "long.json", "--format", "pdf", "-o", "long.pdf")
    assert built.returncode == 1 and "note for reference 1" in built.stderr, built.stderr
    assert not (tmp_path / "long.pdf").exists()


@pytest.mark.parametrize("command", [("export",), ("pack", "build", "p.json", "--format", "bib"),
                                     ("screen", "export"), ("pack", "template", "staff-burnout")],
                         ids=["export", "pack", "screen", "template"])
def test_exports_are_never_written_into_the_collection(cli, tmp_path: Path, command: tuple[str, ...]) -> None:  # type: ignore[no-untyped-def]
    """A copy of the references inside references/ would be read as a duplicate of each of them."""
    (tmp_path / "p.json").write_text(json.dumps({"title": "P", "references": [{"key": "felitti1998relationship"}]}),
                                     encoding="utf-8")
    before = sorted(p.name for p in (tmp_path / "references").iterdir())
    vocabulary = (tmp_path / "references" / "themes.toml").read_bytes()
    for target in ("references/backup.bib", str(tmp_path / "references" / "sub" / ".." / "x.bib"),
                   "references/themes.toml", "references/sub/x.json", "references"):
        done = cli(*command, "-o", target)
        assert done.returncode == 2 and "inside the collection's folder" in done.stderr, done.stderr
    assert sorted(p.name for p in (tmp_path / "references").iterdir()) == before
    assert (tmp_path / "references" / "themes.toml").read_bytes() == vocabulary
    for target, message in (("no-such-folder/x.out", "does not exist"), (".", "is a folder")):
        done = cli(*command, "-o", target)
        assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert cli("check").returncode == 0
    elsewhere = cli(*command, "-o", "elsewhere.out")
    assert elsewhere.returncode == 0 and (tmp_path / "elsewhere.out").stat().st_size > 0, elsewhere.stderr


# The shipped references whose author lists end "and others" (the rest not given).
AND_OTHERS = {"varese2012childhood": 6, "azeem2011effectiveness": 4, "damschroder2009fostering": 3}


def test_and_others_is_no_author_in_ris_or_csl_json_but_stays_in_bibtex(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Built from the command line, as an advocate would, from the shipped files themselves.
    keys = sorted(AND_OTHERS)
    shipped = {key: (REPO / "references" / f"{key}.bib").read_text(encoding="utf-8") for key in keys}
    assert all(" and others}" in text for text in shipped.values())
    pack = tmp_path / "others.json"
    pack.write_text(json.dumps({"version": 1, "title": "P", "key_messages": [{"text": "x", "cites": [1, 2, 3]}],
                                "references": [{"key": key, "note": "n"} for key in keys]}), encoding="utf-8")
    out = {}
    for fmt in ("ris", "csljson", "bib", "md"):
        result = cli("pack", "build", str(pack), "--format", fmt, "-o", str(tmp_path / f"out.{fmt}"))
        assert result.returncode == 0, result.stderr
        out[fmt] = (tmp_path / f"out.{fmt}").read_text(encoding="utf-8")

    # RIS: one AU line per person given, none for "others" (RIS has no "et al.").
    records = out["ris"].split("ER  - ")[:-1]
    assert [sum(line.startswith("AU  - ") for line in r.splitlines()) for r in records] == \
        [AND_OTHERS[key] for key in keys]
    assert "others" not in out["ris"].lower()
    # CSL-JSON: the people given, no {"family": "others"}.
    items = json.loads(out["csljson"])
    assert [len(item["author"]) for item in items] == [AND_OTHERS[key] for key in keys]
    assert all(name.get("family") != "others" for item in items for name in item["author"])
    # BibTeX keeps "and others": that is how BibTeX says the list goes on.
    assert out["bib"].count(" and others}") == 3
    # The brief itself cites them "et al.", never "& others".
    assert "others" not in out["md"] and out["md"].count("et al.") >= 3


def test_build_cites_the_saved_work_when_its_key_was_given_to_another_and_says_so(  # type: ignore[no-untyped-def]
        cli, library: Library, tmp_path: Path) -> None:
    from library.packs import KeyMessage, Pack, PackReference, dump_pack

    key = "azeem2011effectiveness"
    pack = Pack(title="T", key_messages=(KeyMessage("M", (1,)),), references=(PackReference(key, ""),))
    (tmp_path / "p.json").write_text(dump_pack(pack.with_snapshots(library.get_many((key,)))), encoding="utf-8")
    assert cli("edit", key, "--new-key", "azeem2011six").returncode == 0
    (tmp_path / "reuse.bib").write_text(
        f"@article{{{key},\n author={{Azeem, Zed}},\n title={{A completely different paper}},\n"
        " journal={Other Journal},\n year={2011},\n themes={burnout},\n evidence-type={qualitative}\n}\n",
        encoding="utf-8")
    assert cli("add", "reuse.bib").returncode == 0
    built = cli("pack", "build", "p.json", "--format", "md")
    assert built.returncode == 0, built.stderr  # the brief was made, citing the work the pack saved
    [cited] = [line for line in built.stdout.splitlines() if line.startswith("- \\[1\\] Azeem")]
    assert "Effectiveness of six core strategies" in cited and "completely different" not in built.stdout
    assert f"Notice: '{key}' now names a different work in the collection" in built.stderr
    assert "A completely different paper" in built.stderr
    saved = cli("pack", "save", "p.json")
    assert saved.returncode == 0 and "now names a different work" in saved.stderr
    [summary] = library.packs.owned_by(Identity.admin())
    stored = library.packs.get(summary.id, Identity.admin())
    assert stored.pack.references[0].snapshot == load_pack((tmp_path / "p.json").read_bytes()).references[0].snapshot


@pytest.mark.parametrize(("text", "message"), [
    ("not json at all", "is not valid JSON"),
    ('{"title": "T", "key_messages": "not a list"}', "'key_messages' must be a list"),
    ('["a list"]', "must hold a JSON object"),
    ('{"title": "T", "references": [{"key": "x2020", "snapshot": {"fields": {"title": "X}, note = {y"}}}]}',
     "'references[1].snapshot.fields.title' is not BibTeX the library can read"),
    ('{"title": "' + "x" * 5_001 + '"}', "'title' is 5,001 characters long"),
])
def test_build_and_save_exit_1_for_a_file_that_is_not_a_pack(cli, tmp_path: Path,  # type: ignore[no-untyped-def]
                                                             text: str, message: str) -> None:
    (tmp_path / "bad.json").write_text(text, encoding="utf-8")
    for command in (("pack", "build", "bad.json", "--format", "md"), ("pack", "save", "bad.json")):
        done = cli(*command)
        assert done.returncode == 1 and message in done.stderr and done.stdout == "", (command, done.stderr)
    assert cli("pack", "build", "no-such-file.json", "--format", "md").returncode == 3  # not found: still 3
