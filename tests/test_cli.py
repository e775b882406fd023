"""`python -m library` run as a librarian would: a real process on a copy of the collection."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from library.bibtex import parse_file, parse_text
from library.cli import build_parser

from .conftest import REPO

SHIPPED = REPO / "references"

NEW_ENTRY = """@article{zephyr2024quiet,
  author = {Zephyr, Quentin},
  title = {Quiet rooms and calmer wards: a fictional evaluation},
  journal = {Journal of Imaginary Care Studies},
  year = {2024},
  doi = {10.5555/cli.0001},
  themes = {restraint-seclusion},
  evidence-type = {quantitative},
  key-finding = {Fewer incidents after quiet rooms opened.},
  finding-checked = {no},
  provenance = {Fictional, written for the CLI tests.}
}
"""


@pytest.fixture
def references(tmp_path: Path) -> Path:
    """A copy of the shipped collection where the conftest's LIBRARY_REFERENCES_DIR points."""
    folder = tmp_path / "references"
    shutil.copytree(SHIPPED, folder, ignore=shutil.ignore_patterns(".*"))
    return folder


@pytest.fixture
def cli(tmp_path: Path, references: Path):  # type: ignore[no-untyped-def]
    env = {**os.environ, "PYTHONPATH": str(REPO), "LIBRARY_USER": "cli-tester",
           "LIBRARY_REFERENCES_DIR": str(references), "LIBRARY_INDEX_DIR": str(tmp_path / "index"),
           "LIBRARY_DATA_DIR": str(tmp_path / "data")}

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "library", *args], input=stdin, capture_output=True,
                              text=True, encoding="utf-8", env=env, cwd=tmp_path, timeout=120)

    return run


def state(tmp_path: Path) -> dict[str, bytes]:
    """Every file in the collection and the data folder (the change log, the trash)."""
    out = {}
    for folder in (tmp_path / "references", tmp_path / "data"):
        for path in sorted(folder.rglob("*")) if folder.exists() else ():
            if path.is_file() and path.name != ".library.lock":
                out[str(path.relative_to(tmp_path))] = path.read_bytes()
    return out


def search_keys(cli, *query: str) -> list[str]:  # type: ignore[no-untyped-def]
    result = cli("search", *query, "--format", "json", "--limit", "100")
    assert result.returncode == 0, result.stderr
    return [hit["key"] for hit in json.loads(result.stdout)["hits"]]


def n_files(folder: Path) -> int:
    return len(list(folder.glob("*.bib")))


# ---------------------------------------------------------------- check and index


def test_check_passes_on_the_shipped_collection(cli, references: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("check")
    assert result.returncode == 0, result.stdout
    assert f"{n_files(references)} references checked: no errors" in result.stdout


BROKEN = {
    "unclosed brace": ("broken2020entry.bib",
                       "@article{broken2020entry,\n  author = {Doe, J.},\n  title = {Unclosed,\n  year = {2020}\n}\n",
                       "broken2020entry", "not closed"),
    "unknown theme": ("badtheme2020entry.bib", NEW_ENTRY.replace("zephyr2024quiet", "badtheme2020entry")
                      .replace("restraint-seclusion", "no-such-theme"), "badtheme2020entry", "unknown theme"),
    "bad DOI": ("baddoi2020entry.bib", NEW_ENTRY.replace("zephyr2024quiet", "baddoi2020entry")
                .replace("10.5555/cli.0001", "not-a-doi"), "baddoi2020entry", "not well formed"),
    "missing title": ("notitle2020entry.bib", NEW_ENTRY.replace("zephyr2024quiet", "notitle2020entry")
                      .replace("  title = {Quiet rooms and calmer wards: a fictional evaluation},\n", ""),
                      "notitle2020entry", "'title' is missing"),
    "file named wrongly": ("wrongname.bib", NEW_ENTRY, "zephyr2024quiet", "file name should be"),
}


@pytest.mark.parametrize("broken", BROKEN, ids=list(BROKEN))
def test_check_fails_naming_file_line_and_key(cli, references: Path, broken: str) -> None:  # type: ignore[no-untyped-def]
    name, text, key, reason = BROKEN[broken]
    (references / name).write_text(text, encoding="utf-8")

    result = cli("check")

    assert result.returncode == 1
    lines = [line for line in result.stdout.splitlines() if reason in line]
    assert lines, result.stdout
    assert lines[0].startswith(f"{references / name}, line ")
    assert f"entry '{key}'" in lines[0]
    assert "error(s)" in result.stdout


def test_check_reports_the_same_doi_twice(cli, references: Path) -> None:  # type: ignore[no-untyped-def]
    text = (references / "felitti1998relationship.bib").read_text(encoding="utf-8")
    (references / "copy2020doi.bib").write_text(text.replace("felitti1998relationship", "copy2020doi"),
                                                encoding="utf-8")
    result = cli("check")
    assert result.returncode == 1
    assert "10.1016/S0749-3797(98)00017-8 is also on" in result.stdout
    assert "copy2020doi" in result.stdout and "felitti1998relationship" in result.stdout


def test_index_rebuilds(cli, references: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("index")
    assert result.returncode == 0, result.stderr
    assert f"Indexed {n_files(references)} files" in result.stdout
    assert (tmp_path / "index" / "whoosh").is_dir()
    assert not list(references.glob("*.seg"))


# ---------------------------------------------------------------- searching and showing


def test_search_prints_ranked_results_with_highlights(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("search", "burnout")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "reference(s) found" in out
    ranked = search_keys(cli, "burnout")
    assert len(ranked) >= 2
    shown = [line.split("key: ", 1)[1].split()[0] for line in out.splitlines() if line.strip().startswith("key: ")]
    assert shown == ranked
    assert out.index("\n1. ") < out.index("\n2. ")
    assert "*burnout*" in out.lower()  # not a terminal: matches marked with asterisks
    assert "<mark>" not in out


def test_search_without_a_match_suggests_a_spelling(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("search", "burnuot")
    assert result.returncode == 0
    assert "No references found. Did you mean: burnout?" in result.stdout


def test_search_with_unreadable_syntax_says_so(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("search", "title:(burnout")
    assert result.returncode == 0
    assert "We could not read your search as written" in result.stderr


def test_search_filters_and_json(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("search", "--theme", "aces", "--year-from", "2015", "--sort", "oldest", "--format", "json")
    data = json.loads(result.stdout)
    years = [hit["year"] for hit in data["hits"]]
    assert data["total"] == len(years) > 0
    assert years == sorted(years) and min(years) >= 2015
    assert all("aces" in hit["themes"] for hit in data["hits"])


def test_show_prints_a_reference(cli, references: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("show", "clark2021mental")
    assert result.returncode == 0, result.stderr
    assert "Key:             clark2021mental" in result.stdout
    assert "Title:           Mental Health Staff’s Understandings" in result.stdout
    assert "Finding checked: not yet checked against the full text" in result.stdout

    as_bib = cli("show", "clark2021mental", "--format", "bib")
    [entry] = parse_text(as_bib.stdout).entries
    [on_disk] = parse_file(references / "clark2021mental.bib").entries
    assert (entry.key, entry.fields, entry.persons) == (on_disk.key, on_disk.fields, on_disk.persons)


@pytest.mark.parametrize(("key", "authors"), [
    ("varese2012childhood", "Varese, F.; Smeets, F.; Drukker, M.; Lieverse, R.; Lataster, T.; Viechtbauer, W. et al."),
    ("azeem2011effectiveness", "Azeem, M. W.; Aujla, A.; Rammerth, M.; Binsfeld, G. et al."),
    ("damschroder2009fostering", "Damschroder, L. J.; Aron, D. C.; Keith, R. E. et al."),
])
def test_show_says_et_al_where_the_file_says_and_others(cli, key: str, authors: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("show", key)
    assert result.returncode == 0, result.stderr
    assert f"Authors:         {authors}\n" in result.stdout
    assert "others" not in result.stdout.split("Provenance:")[0]


@pytest.mark.parametrize("key", ["nosuchkey2020", "../etc/passwd", "CON"])
def test_show_unknown_key_exits_3(cli, key: str) -> None:  # type: ignore[no-untyped-def]
    result = cli("show", key)
    assert result.returncode == 3
    assert f"No reference with the key '{key}'" in result.stderr
    assert "Traceback" not in result.stderr


# ---------------------------------------------------------------- adding


def test_add_a_file(cli, references: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = tmp_path / "new.bib"
    source.write_text(NEW_ENTRY, encoding="utf-8")

    result = cli("add", str(source))

    assert result.returncode == 0, result.stderr
    assert "Added zephyr2024quiet" in result.stdout
    [entry] = parse_file(references / "zephyr2024quiet.bib").entries
    assert entry.fields["added-by"] == "cli-tester"
    assert search_keys(cli, "quiet rooms") == ["zephyr2024quiet"]
    log = [json.loads(line) for line in (tmp_path / "data" / "changes.jsonl").read_text().splitlines()]
    assert (log[-1]["who"], log[-1]["action"], log[-1]["key"]) == ("cli-tester", "add", "zephyr2024quiet")


def test_add_from_standard_input(cli, references: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("add", "-", stdin=NEW_ENTRY)
    assert result.returncode == 0, result.stderr
    assert (references / "zephyr2024quiet.bib").exists()
    assert search_keys(cli, "calmer wards") == ["zephyr2024quiet"]


@pytest.mark.parametrize(
    ("second", "message"),
    [
        (NEW_ENTRY.replace("Quiet rooms and calmer wards", "Another title"), "'zephyr2024quiet' is already"),
        (NEW_ENTRY.replace("zephyr2024quiet", "other2024key").replace("Quiet rooms and calmer", "Other"),
         "same DOI"),
        (NEW_ENTRY.replace("zephyr2024quiet", "other2024key").replace("10.5555/cli.0001", "10.5555/CLI.0001"),
         "same DOI"),
    ],
    ids=["same-key", "same-doi-other-key", "same-doi-other-case"],
)
def test_add_a_duplicate_is_refused_and_nothing_written(cli, tmp_path: Path, second: str,  # type: ignore[no-untyped-def]
                                                        message: str) -> None:
    assert cli("add", "-", stdin=NEW_ENTRY).returncode == 0
    before = state(tmp_path)

    result = cli("add", "-", stdin=second)

    assert result.returncode == 1
    assert message in result.stderr and "Nothing was saved" in result.stderr
    assert state(tmp_path) == before


INVALID = {
    "unknown theme": (NEW_ENTRY.replace("restraint-seclusion", "no-such-theme"), "unknown theme 'no-such-theme'"),
    "unknown evidence type": (NEW_ENTRY.replace("{quantitative}", "{anecdote}"), "unknown evidence type"),
    "bad DOI": (NEW_ENTRY.replace("10.5555/cli.0001", "doi-less"), "not well formed"),
    "no title": (NEW_ENTRY.replace("  title = {Quiet rooms and calmer wards: a fictional evaluation},\n", ""),
                 "'title' is missing"),
    "implausible year": (NEW_ENTRY.replace("{2024}", "{2999}"), "not plausible"),
    "unsafe key": (NEW_ENTRY.replace("zephyr2024quiet", "../zephyr"), "cannot be used as a file name"),
    "syntax error": (NEW_ENTRY.replace("title = {Quiet", "title = Quiet"), "cannot be read"),
    "nothing at all": ("", "no BibTeX entries"),
    "one good, one bad": (NEW_ENTRY + NEW_ENTRY.replace("zephyr2024quiet", "second2024bad")
                          .replace("10.5555/cli.0001", "10.5555/cli.0002").replace("{quantitative}", "{anecdote}"),
                          "second2024bad"),
}


@pytest.mark.parametrize("invalid", INVALID, ids=list(INVALID))
def test_add_an_invalid_entry_is_refused_and_nothing_written(cli, tmp_path: Path, invalid: str) -> None:  # type: ignore[no-untyped-def]
    text, message = INVALID[invalid]
    before = state(tmp_path)

    result = cli("add", "-", stdin=text)

    assert result.returncode == 1
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert state(tmp_path) == before
    assert not (tmp_path / "zephyr").exists() and not (tmp_path / "zephyr.bib").exists()


def test_add_a_missing_file(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("add", str(tmp_path / "nowhere.bib"))
    assert result.returncode == 3
    assert "nowhere.bib does not exist" in result.stderr


# ---------------------------------------------------------------- changing


def test_delete_and_restore(cli, references: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    original = (references / "morse2012burnout.bib").read_bytes()
    assert "morse2012burnout" in search_keys(cli, "burnout")

    deleted = cli("delete", "morse2012burnout")

    assert deleted.returncode == 0, deleted.stderr
    assert "restore morse2012burnout" in deleted.stdout
    assert not (references / "morse2012burnout.bib").exists()
    assert "morse2012burnout" not in search_keys(cli, "burnout")
    listing = cli("restore")
    assert listing.stdout.startswith("morse2012burnout\tmorse2012burnout--")

    restored = cli("restore", "morse2012burnout")

    assert restored.returncode == 0, restored.stderr
    assert (references / "morse2012burnout.bib").read_bytes() == original
    assert "morse2012burnout" in search_keys(cli, "burnout")
    assert cli("restore").stdout.strip() == "The trash is empty."
    actions = [json.loads(line)["action"] for line in (tmp_path / "data" / "changes.jsonl").read_text().splitlines()]
    assert actions == ["delete", "restore"]


@pytest.mark.parametrize("command", ["delete", "restore"])
def test_delete_or_restore_an_unknown_key_exits_3(cli, tmp_path: Path, command: str) -> None:  # type: ignore[no-untyped-def]
    before = state(tmp_path)
    result = cli(command, "nosuchkey2020")
    assert result.returncode == 3
    where = "in the trash" if command == "restore" else "in the collection"
    assert f"No reference with the key 'nosuchkey2020' is {where}" in result.stderr
    assert state(tmp_path) == before


def test_edit_with_set(cli, references: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("edit", "morse2012burnout", "--set", "title=Burnout among lighthouse keepers",
                 "--set", "themes=burnout, leadership")

    assert result.returncode == 0, result.stderr
    [entry] = parse_file(references / "morse2012burnout.bib").entries
    assert entry.fields["title"] == "Burnout among lighthouse keepers"
    assert entry.fields["themes"] == "burnout, leadership"
    assert entry.fields["doi"]  # the other fields are kept
    assert search_keys(cli, "lighthouse") == ["morse2012burnout"]
    assert "morse2012burnout" in search_keys(cli, "--theme", "leadership")


def test_edit_rename(cli, references: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("edit", "morse2012burnout", "--new-key", "morse2012renamed")
    assert result.returncode == 0, result.stderr
    assert not (references / "morse2012burnout.bib").exists()
    assert parse_file(references / "morse2012renamed.bib").entries[0].key == "morse2012renamed"
    assert "morse2012renamed" in search_keys(cli, "burnout")


@pytest.mark.parametrize(("assignment", "code", "message"), [
    ("themes=no-such-theme", 1, "unknown theme"),
    ("year=next year", 1, "not a four-digit year"),
    ("no equals sign", 2, "--set needs FIELD=VALUE"),
])
def test_edit_refused_leaves_the_file(cli, references: Path, assignment: str, code: int, message: str) -> None:  # type: ignore[no-untyped-def]
    original = (references / "morse2012burnout.bib").read_bytes()
    result = cli("edit", "morse2012burnout", "--set", assignment)
    assert result.returncode == code
    assert message in result.stderr
    assert (references / "morse2012burnout.bib").read_bytes() == original


# ---------------------------------------------------------------- export and coverage


def test_export_everything_parses_back(cli, references: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = cli("export")
    assert result.returncode == 0, result.stderr
    parsed = parse_text(result.stdout, "<export>")
    assert not parsed.errors
    assert {e.key for e in parsed.entries} == {p.stem for p in references.glob("*.bib")}
    for entry in parsed.entries:
        [on_disk] = parse_file(references / f"{entry.key}.bib").entries
        assert (entry.fields, entry.persons) == (on_disk.fields, on_disk.persons)

    to_file = cli("export", "-o", str(tmp_path / "all.bib"))
    assert to_file.returncode == 0
    assert f"Wrote {n_files(references)} reference(s)" in to_file.stderr
    assert (tmp_path / "all.bib").read_text(encoding="utf-8") == result.stdout


def test_export_of_a_query(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("export", "burnout")
    parsed = parse_text(result.stdout, "<export>")
    assert not parsed.problems
    assert sorted(e.key for e in parsed.entries) == sorted(search_keys(cli, "burnout"))
    assert 0 < len(parsed.entries)


def test_coverage_prints_the_table(cli, references: Path) -> None:  # type: ignore[no-untyped-def]
    import tomllib

    themes = tomllib.loads((references / "themes.toml").read_text(encoding="utf-8"))["theme"]
    result = cli("coverage")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "All types" in lines[0]
    for theme in themes:
        assert any(line.strip().startswith(theme["label"]) for line in lines), theme["label"]
    gap_lines = [line for line in lines if line.endswith("<- gap: no references yet")]
    if gap_lines:
        assert "theme(s) have no references yet" in result.stdout

    as_csv = cli("coverage", "--format", "csv").stdout.splitlines()
    assert as_csv[0].startswith("theme,") and as_csv[0].endswith(",All types")
    assert len(as_csv) == len(themes) + 1


# ---------------------------------------------------------------- help


def _commands() -> list[list[str]]:
    parser = build_parser()
    found: list[list[str]] = [[]]
    for action in parser._subparsers._group_actions:  # type: ignore[union-attr]
        for name, sub in action.choices.items():
            found.append([name])
            for inner in sub._subparsers._group_actions if sub._subparsers else ():
                found.extend([name, inner_name] for inner_name in inner.choices)
    return found


@pytest.mark.parametrize("command", _commands(), ids=lambda c: " ".join(c) or "(top)")
def test_help(cli, command: list[str]) -> None:  # type: ignore[no-untyped-def]
    result = cli(*command, "--help")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage: python -m library")


def test_no_command_is_a_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli()
    assert result.returncode == 2
    assert "required: COMMAND" in result.stderr


def test_edit_from_a_file_of_two_entries_is_an_input_problem(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    before = state(tmp_path)
    (tmp_path / "two.bib").write_text("@article{a2020x, title={A}, year={2020}}\n"
                                      "@article{b2020x, title={B}, year={2020}}\n", encoding="utf-8")
    result = cli("edit", "morse2012burnout", "--file", str(tmp_path / "two.bib"))
    assert result.returncode == 1
    assert "must hold exactly one entry, the new version of morse2012burnout (it holds 2)" in result.stderr
    assert state(tmp_path) == before


@pytest.mark.parametrize(("args", "said"), [
    (("search", "--theme", "burnot", "burnout"), "There is no theme 'burnot': did you mean 'burnout'"),
    (("search", "--type", "systematic_review", "burnout"),
     "There is no evidence type 'systematic_review': did you mean 'systematic-review'?"),
    (("search", "--setting", "inpatients"), "There is no setting 'inpatients': did you mean 'inpatient'?"),
    (("export", "--theme", "burnot", "-o", "out.bib"), "There is no theme 'burnot': did you mean 'burnout'"),
    (("export", "--type", "review"), "There is no evidence type 'review'"),
])
def test_search_and_export_refuse_an_unknown_filter_naming_it(cli, tmp_path: Path, args: tuple[str, ...],  # type: ignore[no-untyped-def]
                                                             said: str) -> None:
    result = cli(*args)
    assert result.returncode == 2, result
    assert said in result.stderr
    assert "No references found" not in result.stdout + result.stderr
    assert result.stdout == ""
    assert not (tmp_path / "out.bib").exists()


def test_an_unknown_evidence_type_lists_the_known_ones(cli) -> None:  # type: ignore[no-untyped-def]
    result = cli("search", "--type", "xyz", "burnout")
    assert result.returncode == 2
    assert "The evidence types are: systematic-review, scoping-review" in result.stderr
