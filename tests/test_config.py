"""Settings are resolved once: explicit argument, then environment variable, then default (library.config)."""

from __future__ import annotations

from pathlib import Path

import pytest

from library.config import REPO_ROOT, SETTINGS, Settings
from library.errors import SettingsError
from library.signin import Librarians

SPEC = {spec.attr: spec for spec in SETTINGS}

# attribute, value given through the environment, the same as Python reads it, an argument, as read
CASES = [
    ("references_dir", "/srv/refs", Path("/srv/refs"), "/arg/refs", Path("/arg/refs")),
    ("index_dir", "/srv/index", Path("/srv/index"), "/arg/index", Path("/arg/index")),
    ("data_dir", "/srv/data", Path("/srv/data"), "/arg/data", Path("/arg/data")),
    ("database_url", " postgresql+psycopg://u:p@db/library ", "postgresql+psycopg://u:p@db/library",
     "sqlite:////arg/x.sqlite3", "sqlite:////arg/x.sqlite3"),
    ("crossref_url", "http://127.0.0.1:9/api/", "http://127.0.0.1:9/api", "http://arg.example", "http://arg.example"),
    ("openalex_url", "http://127.0.0.1:9/oa/", "http://127.0.0.1:9/oa", "http://arg.example", "http://arg.example"),
    ("europepmc_url", "http://127.0.0.1:9/epmc/rest/", "http://127.0.0.1:9/epmc/rest", "http://arg.example",
     "http://arg.example"),
    ("pubmed_url", "http://127.0.0.1:9/eutils/", "http://127.0.0.1:9/eutils", "http://arg.example",
     "http://arg.example"),
    ("contact_email", "env@example.org", "env@example.org", "arg@example.org", "arg@example.org"),
    ("http_timeout", "2.5", 2.5, 7.0, 7.0),
    ("lock_timeout", "30", 30.0, 0.2, 0.2),
    ("max_upload_mb", "1.5", 1.5, 20, 20),
    ("librarian_password_hash", "env-hash", "env-hash", "arg-hash", "arg-hash"),
    ("librarians", " Jo.Bloggs@NHS.net, claim:roles=Library.Librarian ",
     Librarians(frozenset({"jo.bloggs@nhs.net"}), (("roles", "Library.Librarian"),)),
     "arg@example.org", Librarians(frozenset({"arg@example.org"}))),
    ("user", "env-user", "env-user", "arg-user", "arg-user"),
    ("public_url", "https://evidence.example.org/library/", "https://evidence.example.org/library",
     "http://127.0.0.1:8501", "http://127.0.0.1:8501"),
]


def test_every_setting_is_covered_here() -> None:
    assert {case[0] for case in CASES} == set(SPEC)


@pytest.mark.parametrize(("attr", "env_value", "env_read", "argument", "argument_read"), CASES,
                         ids=[case[0] for case in CASES])
def test_argument_beats_environment_beats_default(attr: str, env_value: str, env_read: object,
                                                  argument: object, argument_read: object) -> None:
    spec = SPEC[attr]
    default = getattr(Settings.from_env(env={}), attr)
    from_env = getattr(Settings.from_env(env={spec.env: env_value}), attr)
    from_argument = getattr(Settings.from_env(env={spec.env: env_value}, **{attr: argument}), attr)

    assert from_env == env_read
    assert from_argument == argument_read
    assert default != from_env


@pytest.mark.parametrize("attr", [case[0] for case in CASES])
def test_defaults_come_from_the_registry(attr: str) -> None:
    value = getattr(Settings.from_env(env={}), attr)
    default = SPEC[attr].default
    if attr.endswith("_dir"):
        assert value == REPO_ROOT / default
    elif attr == "user":
        assert value  # the login name, or "unknown" where there is none
    elif attr == "librarians":
        assert value == Librarians.parse(default) == Librarians() and not value
    elif isinstance(value, float):
        assert value == float(default)
    else:
        assert value == default


def test_an_empty_variable_means_the_default() -> None:
    assert Settings.from_env(env={"LIBRARY_LOCK_TIMEOUT": ""}).lock_timeout == float(SPEC["lock_timeout"].default)


def test_relative_and_home_paths_are_resolved_once() -> None:
    settings = Settings.from_env(env={"LIBRARY_INDEX_DIR": "var/elsewhere", "LIBRARY_DATA_DIR": "~/library-data"},
                                 references_dir="some/refs")
    assert settings.index_dir == REPO_ROOT / "var/elsewhere"
    assert settings.data_dir == Path.home() / "library-data"
    assert settings.references_dir == REPO_ROOT / "some/refs"
    assert all(p.is_absolute() for p in (settings.index_dir, settings.data_dir, settings.references_dir))


def test_the_process_environment_is_used_by_default(tmp_path: Path) -> None:
    # The conftest points every LIBRARY_*_DIR into tmp_path.
    settings = Settings.from_env()
    assert (settings.references_dir, settings.index_dir, settings.data_dir) == \
        (tmp_path / "references", tmp_path / "index", tmp_path / "data")


NUMBERS = [spec for spec in SETTINGS if spec.attr in ("http_timeout", "lock_timeout", "max_upload_mb")]
BAD_NUMBERS = ["abc", "0", "-1", "1,5", "ten", "nan", "inf", "-inf", "1e999"]


@pytest.mark.parametrize("spec", NUMBERS, ids=[s.env for s in NUMBERS])
@pytest.mark.parametrize("bad", BAD_NUMBERS)
def test_bad_numbers_in_the_environment(spec, bad: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SettingsError) as caught:
        Settings.from_env(env={spec.env: bad})
    assert spec.env in str(caught.value) and repr(bad).strip("'") in str(caught.value)


@pytest.mark.parametrize("spec", NUMBERS, ids=[s.env for s in NUMBERS])
@pytest.mark.parametrize("bad", ["abc", 0, -1, float("nan"), float("inf")])
def test_bad_numbers_as_arguments(spec, bad: object) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(SettingsError):
        Settings.from_env(env={}, **{spec.attr: bad})


@pytest.mark.parametrize(("text", "value"), [("5", 5.0), (" 5 ", 5.0), ("0.25", 0.25), ("1e3", 1000.0)])
def test_good_numbers(text: str, value: float) -> None:
    assert Settings.from_env(env={"LIBRARY_HTTP_TIMEOUT": text}).http_timeout == value


@pytest.mark.parametrize("bad", ["evidence.example.org", "ftp://example.org", "javascript:alert(1)",
                                 "https://example.org/?x=1", "https://example.org/#top", "https://",
                                 "https://exa mple.org"])
def test_a_public_url_must_be_an_http_address(bad: str) -> None:
    with pytest.raises(SettingsError, match="LIBRARY_PUBLIC_URL"):
        Settings.from_env(env={"LIBRARY_PUBLIC_URL": bad})
    with pytest.raises(SettingsError, match="LIBRARY_PUBLIC_URL"):
        Settings.from_env(env={}, public_url=bad)


def test_upload_limit_in_bytes() -> None:
    assert Settings.from_env(env={"LIBRARY_MAX_UPLOAD_MB": "2"}).max_upload_bytes == 2 * 1024 * 1024


def test_the_password_hash_is_not_shown() -> None:
    assert "secret-hash" not in repr(Settings.from_env(env={"LIBRARY_LIBRARIAN_PASSWORD_HASH": "secret-hash"}))


def test_the_database_defaults_to_a_file_in_the_data_folder_and_hides_its_password() -> None:
    settings = Settings.from_env(env={"LIBRARY_DATA_DIR": "/srv/data"})
    assert settings.database == "sqlite:////srv/data/library.sqlite3"
    configured = Settings.from_env(env={"LIBRARY_DATABASE_URL": "postgresql+psycopg://u:s3cret@db/library"})
    assert configured.database == "postgresql+psycopg://u:s3cret@db/library"
    assert "s3cret" not in repr(configured)


@pytest.mark.parametrize(("bad", "message"), [
    ("jo", "neither an e-mail address nor claim:NAME=VALUE"),
    ("jo@nhs", "neither an e-mail address"),
    ("jo@nhs.net; ann@nhs.net", "neither an e-mail address"),
    ("*@nhs.net", "is a pattern"),
    ("claim:roles", "must read claim:NAME=VALUE"),
    ("claim:=Librarian", "must read claim:NAME=VALUE"),
    ("claim:roles=", "must read claim:NAME=VALUE"),
    ("claim:ro les=Librarian", "is not a claim name"),
    ("claim:is_logged_in=true", "everyone would be a librarian"),
    ("claim:email_verified=true", "everyone would be a librarian"),
    ("claim:ISS=https://login.example", "everyone would be a librarian"),
    (",".join(f"p{n}@nhs.net" for n in range(501)), "at most 500"),
])
def test_unusable_librarians_are_refused_with_the_item_named(bad: str, message: str) -> None:
    with pytest.raises(SettingsError, match="LIBRARY_LIBRARIANS") as caught:
        Settings.from_env(env={"LIBRARY_LIBRARIANS": bad})
    assert message in str(caught.value)
    with pytest.raises(SettingsError, match="LIBRARY_LIBRARIANS"):
        Settings.from_env(env={}, librarians=bad)


def test_librarians_may_be_one_a_line_and_repeat() -> None:
    read = Settings.from_env(env={"LIBRARY_LIBRARIANS": "a@x.org\nA@X.org,\n claim:groups=g1, claim:groups=g1,"})
    assert read.librarians == Librarians(frozenset({"a@x.org"}), (("groups", "g1"),))
    assert read.librarians.describe() == "1 e-mail address and the claim groups=g1"
