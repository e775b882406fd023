"""Who is signed in and who is a librarian, from the ID token's claims (library/signin.py)."""

from __future__ import annotations

import pytest

from library.owners import Identity
from library.signin import (PASSWORD_LIBRARIAN, Librarians, SignInProblem, person_from_claims, signed_in)

LIBRARIANS = Librarians.parse("jo.bloggs@nhs.net, claim:roles=Library.Librarian, claim:groups=6f1c-aa, "
                              "claim:https://example.org/claims/team=library, claim:is_librarian=true")


def claims(**extra: object) -> dict[str, object]:
    return {"is_logged_in": True, "sub": "abc", "email": "someone@nhs.net", **extra}


@pytest.mark.parametrize(("given", "librarian"), [
    (claims(email="jo.bloggs@nhs.net"), True),
    (claims(email="JO.Bloggs@NHS.NET"), True),  # addresses compared without case
    (claims(), False),
    (claims(roles=["Reader", "Library.Librarian"]), True),  # a list claim holding the value
    (claims(roles=["library.librarian"]), False),  # values compared exactly
    (claims(roles="Library.Librarian"), True),  # a single value
    (claims(groups=["6f1c-aa", "77"]), True),
    (claims(groups=["6f1c-aa-extra"]), False),
    (claims(**{"https://example.org/claims/team": "library"}), True),
    (claims(is_librarian=True), True),  # JSON true reads as "true"
    (claims(is_librarian="True"), False),
    (claims(roles=None), False),
    (claims(email="jo.bloggs@nhs.net", email_verified=False), False),  # an unverified address is not used
    ({"is_logged_in": False, "email": "jo.bloggs@nhs.net"}, False),
])
def test_who_is_a_librarian(given: dict, librarian: bool) -> None:
    person = person_from_claims(given)
    identity = person if isinstance(person, Identity) else None
    assert LIBRARIANS.admits(identity, given) is librarian
    session = signed_in(given, librarians=LIBRARIANS, password_name=None)
    assert (session is not None and session.librarian) is librarian


@pytest.mark.parametrize(("given", "expected"), [
    ({}, None),
    ({"is_logged_in": False}, None),
    (claims(email="Ann.Other@Trust.NHS.uk"), Identity.oidc("ann.other@trust.nhs.uk")),
    (claims(email="ann@nhs.net", email_verified=True), Identity.oidc("ann@nhs.net")),
    (claims(email=None, preferred_username="ann@nhs.net"), "did not give the app your e-mail address"),
    (claims(email=""), "did not give the app your e-mail address"),
    (claims(email="ann@nhs.net", email_verified=False), "not verified"),
    (claims(email="not an address"), "cannot use"),
])
def test_the_person_is_their_verified_email(given: dict, expected: object) -> None:
    person = person_from_claims(given)
    if isinstance(expected, str):
        assert isinstance(person, SignInProblem) and expected in person.message
    else:
        assert person == expected


def test_what_the_change_log_records() -> None:
    organisation = signed_in(claims(email="Jo.Bloggs@nhs.net"), librarians=LIBRARIANS, password_name=None)
    assert organisation is not None and organisation.name == "jo.bloggs@nhs.net"
    assert organisation.identity.owner == "oidc:jo.bloggs@nhs.net"  # the packs' owner string
    password = signed_in({}, librarians=LIBRARIANS, password_name="Jo Librarian")
    assert password is not None and password.librarian and password.name == "Jo Librarian"
    unnamed = signed_in({}, librarians=LIBRARIANS, password_name="")
    assert unnamed is not None and unnamed.name == PASSWORD_LIBRARIAN
    assert password.identity == Identity.librarian()
    # Someone signed in with their account who also gives the password is recorded by name.
    both = signed_in(claims(email="ann@nhs.net"), librarians=LIBRARIANS, password_name="Jo Librarian")
    assert both is not None and both.librarian and both.name == "ann@nhs.net"
    assert signed_in({}, librarians=LIBRARIANS, password_name=None) is None


def test_nobody_is_a_librarian_by_an_empty_setting() -> None:
    empty = Librarians.parse("")
    assert not empty
    assert not empty.admits(Identity.oidc("jo.bloggs@nhs.net"), claims(email="jo.bloggs@nhs.net"))
    assert not LIBRARIANS.admits(Identity.librarian(), claims(email="jo.bloggs@nhs.net"))
