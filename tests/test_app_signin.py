"""Signing in with the organisation's account, through the app (AppTest sets `st.user` as Streamlit's
own sign-in would after the provider's answer; the real provider and browser are in
tests/test_e2e_signin.py): who becomes a librarian, what the change log records, sign-out."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_app import (APP, LIBRARIAN_NAME, _fresh_resources, collection, goto, librarian,  # noqa: F401
                            open_app, sign_in, texts)

AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "test-cookie-secret-0123456789",
        "client_id": "library", "client_secret": "secret",
        "server_metadata_url": "http://localhost:9/.well-known/openid-configuration"}
BIB = """@article{jones2022signin,
  author = {Jones, Amir},
  title = {Signing in at an organisation: a zebrafinch study},
  journal = {Journal of Tests},
  year = {2022}
}
"""


def organisation_app(user: dict | None, **query: str) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.secrets["auth"] = AUTH
    if user is not None:
        at.user = user
    for name, value in query.items():
        at.query_params[name] = value
    at.run()
    assert not at.exception, at.exception
    return at


def person(email: str, **claims: object) -> dict:
    return {"is_logged_in": True, "email": email, "sub": "s-" + email, **claims}


def plain(values: list[str]) -> list[str]:
    return [v.replace("\\", "").replace("\u2060", "") for v in values]


@pytest.fixture(autouse=True)
def librarians(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBRARY_LIBRARIANS", "jo.bloggs@nhs.net, claim:roles=Library.Librarian")


def add_reference(at: AppTest) -> None:
    at.text_area(key="paste_text").input(BIB)
    at.button(key="read-input").click().run()
    at.button(key="save-review").click().run()
    assert not at.exception, at.exception
    assert texts(at, "success") == ["Saved 1 reference. It can be found in search now."]


def test_a_listed_librarian_changes_the_collection_under_their_own_name(collection: Path, tmp_path: Path) -> None:
    at = goto(organisation_app(person("Jo.Bloggs@NHS.net")), "views/librarian.py")
    assert "Signed in as jo.bloggs@nhs.net (librarian)." in plain(texts(at, "caption"))  # the sidebar
    assert "Signed in as jo.bloggs@nhs.net." in plain(texts(at, "caption"))  # the librarian page
    add_reference(at)
    assert "added-by = {jo.bloggs@nhs.net}" in (collection / "jones2022signin.bib").read_text(encoding="utf-8")
    [line] = [json.loads(x) for x in (tmp_path / "data" / "changes.jsonl").read_text().splitlines()]
    assert (line["who"], line["action"], line["key"]) == ("jo.bloggs@nhs.net", "add", "jones2022signin")
    # The change log tab reads the database's index, filtered by person.
    assert at.selectbox(key="log_who").options == ["Everyone", "jo.bloggs@nhs.net"]
    at.selectbox(key="log_who").select("jo.bloggs@nhs.net").run()
    [entry] = [text for text in plain(texts(at, "markdown")) if " · by " in text]
    assert "jones2022signin" in entry and entry.endswith("by jo.bloggs@nhs.net"), entry
    at.text_input(key="log_key").input("no-such-key").run()
    assert "No changes match." in plain(texts(at, "info"))


def test_a_role_claim_makes_a_librarian() -> None:
    at = goto(organisation_app(person("ann@trust.nhs.uk", roles=["Reader", "Library.Librarian"])),
              "views/librarian.py")
    assert "Signed in as ann@trust.nhs.uk." in plain(texts(at, "caption"))
    assert at.text_area(key="paste_text") is not None


@pytest.mark.parametrize("user", [person("someone.else@nhs.net"), person("ann@trust.nhs.uk", roles=["Reader"]),
                                  person("jo.bloggs@nhs.net", email_verified=False)],
                         ids=["not-listed", "other-role", "unverified"])
def test_anyone_else_signed_in_may_search_and_make_packs_but_not_change_the_collection(user: dict) -> None:
    at = goto(organisation_app(user), "views/librarian.py")
    assert not [t for t in at.text_area if t.key == "paste_text"]
    warnings = plain(texts(at, "warning"))
    if user.get("email_verified") is False:
        assert any("not verified" in w for w in warnings)
    else:
        assert any(f"You are signed in as {user['email']}, who is not one of this library's librarians" in w
                   and "LIBRARY_LIBRARIANS" in w for w in warnings)


def test_nobody_signed_in_is_offered_the_organisations_sign_in() -> None:
    at = goto(organisation_app({"is_logged_in": False}), "views/librarian.py")
    assert [b.label for b in at.button if b.key in ("account-sign-in", "librarian-sign-in")] == [
        "Sign in with your organisation's account"] * 2
    assert not [t for t in at.text_area if t.key == "paste_text"]


@pytest.mark.usefixtures("librarian")
def test_the_password_still_works_beside_the_organisations_sign_in(collection: Path, tmp_path: Path) -> None:
    at = organisation_app({"is_logged_in": False})
    at = sign_in(at)
    assert f"Signed in as {LIBRARIAN_NAME}." in plain(texts(at, "caption"))
    add_reference(at)
    [line] = [json.loads(x) for x in (tmp_path / "data" / "changes.jsonl").read_text().splitlines()]
    assert line["who"] == LIBRARIAN_NAME  # the name typed beside the password
    at.button(key="sign-out").click().run()
    assert not at.exception
    assert not [t for t in at.text_area if t.key == "paste_text"]


def test_without_the_organisations_sign_in_there_is_no_account_panel() -> None:
    at = open_app()
    assert not [b for b in at.button if b.key in ("account-sign-in", "account-sign-out")]


def test_a_signed_in_advocate_sees_their_name_and_can_sign_out() -> None:
    at = organisation_app(person("advocate@nhs.net"))
    assert "Signed in as advocate@nhs.net." in plain(texts(at, "caption"))
    assert [b.key for b in at.button if b.key == "account-sign-out"] == ["account-sign-out"]
