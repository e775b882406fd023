"""Who is signed in, and who may change the collection.

Two ways to sign in:

* **The organisation's account** (OpenID Connect through Streamlit's `st.login`, set up in
  `.streamlit/secrets.toml`): anyone with a work account can sign in; they own the packs
  they make (`oidc:<e-mail>`, library/owners.py).  Librarians are the people named in the
  setting `LIBRARY_LIBRARIANS` (`Librarians` below).  The app reads the ID token's claims
  as Streamlit hands them over (`st.user`); this module decides what they mean.
* **The librarian password** (`LIBRARY_LIBRARIAN_PASSWORD_HASH`, library/auth.py), the
  default for one machine: one shared password, with the name each librarian types beside it.

What the change log and a new reference's `added-by` record for each (`SignedIn.name`):
the person's e-mail address (in lower case, as their packs' owner string has it after
`oidc:`), or the name typed with the password (`librarian (app)` if none was given).  With the
shared password that name is a label, not proof of identity; the organisation's sign-in is.

`LIBRARY_LIBRARIANS` is a comma-separated list of

* e-mail addresses (`jo.bloggs@nhs.net`), compared without regard to case, and
* claims, `claim:NAME=VALUE`: someone whose ID token has the claim NAME equal to VALUE, or,
  when the claim is a list (Entra ID's `groups` and `roles`), holding VALUE, is a librarian
  (`claim:roles=Library.Librarian`, `claim:groups=<the group's object ID>`).  Values are
  compared exactly.  Claims every signed-in person has, or that Streamlit adds itself
  (`is_logged_in`, `email_verified`, `iss`…), are refused: they would make everyone a librarian.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from .errors import PackError, SettingsError
from .owners import Identity

SETTING = "LIBRARY_LIBRARIANS"
PASSWORD_LIBRARIAN = "librarian (app)"  # how the change log names the shared password's users
_EMAIL = re.compile(r"[^@\s,;=]+@[^@\s,;=]+\.[^@\s,;=]+")
_CLAIM_NAME = re.compile(r"[A-Za-z0-9_.:/#-]{1,200}")
MAX_ITEMS = 500
# Claims that say nothing about who someone is, or that every signed-in person has.
REFUSED_CLAIMS = frozenset({
    "is_logged_in", "origin", "provider", "tokens",  # added by Streamlit
    "iss", "aud", "exp", "iat", "nbf", "nonce", "at_hash", "c_hash", "auth_time", "azp", "sid", "jti",
    "email_verified", "acr", "amr", "ver", "tid",
})


@dataclass(frozen=True)
class Librarians:
    """Who is a librarian when signed in with the organisation's account (`LIBRARY_LIBRARIANS`)."""

    emails: frozenset[str] = frozenset()
    claims: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, text: str) -> "Librarians":
        """Read the setting; `SettingsError` names the item that cannot be used and why."""
        emails: set[str] = set()
        claims: list[tuple[str, str]] = []
        items = [item.strip() for item in (text or "").replace("\n", ",").split(",")]
        items = [item for item in items if item]
        if len(items) > MAX_ITEMS:
            raise SettingsError(f"{SETTING} names {len(items)} librarians; at most {MAX_ITEMS} are allowed. "
                                "Name a group instead: claim:groups=<the group's ID>.")
        for item in items:
            if item.lower().startswith("claim:"):
                name, equals, value = item[len("claim:"):].partition("=")
                name, value = name.strip(), value.strip()
                if not equals or not name or not value:
                    raise SettingsError(f"{SETTING}: '{item}' must read claim:NAME=VALUE, such as "
                                        "claim:roles=Library.Librarian.")
                if not _CLAIM_NAME.fullmatch(name):
                    raise SettingsError(f"{SETTING}: '{name}' in '{item}' is not a claim name (letters, digits "
                                        "and . _ : / # - only).")
                if name.lower() in REFUSED_CLAIMS:
                    raise SettingsError(f"{SETTING}: the claim '{name}' cannot name librarians: every signed-in "
                                        "person has it, so everyone would be a librarian. Use a group or role "
                                        "claim, such as claim:roles=Library.Librarian.")
                if len(value) > 500 or any(ord(c) < 32 for c in value):
                    raise SettingsError(f"{SETTING}: the value in '{item[:60]}' is not usable (at most 500 "
                                        "characters, no control characters).")
                if (name, value) not in claims:
                    claims.append((name, value))
            elif "*" in item:
                raise SettingsError(f"{SETTING}: '{item}' is a pattern; name each librarian's e-mail address, or a "
                                    "group they are in (claim:groups=<the group's ID>).")
            elif _EMAIL.fullmatch(item):
                emails.add(item.lower())
            else:
                raise SettingsError(f"{SETTING}: '{item}' is neither an e-mail address nor claim:NAME=VALUE. "
                                    "Separate the items with commas.")
        return cls(frozenset(emails), tuple(claims))

    def __bool__(self) -> bool:
        return bool(self.emails or self.claims)

    def admits(self, person: Identity | None, claims: Mapping[str, object]) -> bool:
        """Whether the person signed in with these ID-token claims is a librarian."""
        if person is None or not person.owner.startswith("oidc:"):
            return False
        if person.label in self.emails:
            return True
        for name, value in self.claims:
            held = claims.get(name)
            if isinstance(held, (list, tuple, set, frozenset)):
                if any(_claim_text(item) == value for item in held):
                    return True
            elif held is not None and _claim_text(held) == value:
                return True
        return False

    def describe(self) -> str:
        """In words, for the settings summary: '2 e-mail addresses and the claim roles=Librarian'."""
        parts = []
        if self.emails:
            parts.append(f"{len(self.emails)} e-mail address{'es' if len(self.emails) != 1 else ''}")
        for name, value in self.claims:
            parts.append(f"the claim {name}={value}")
        return " and ".join(parts) or "nobody"


def _claim_text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class SignInProblem:
    """Why a signed-in account cannot be used (shown to the person, in plain words)."""

    message: str


def person_from_claims(claims: Mapping[str, object]) -> Identity | SignInProblem | None:
    """The person an organisation sign-in names (by e-mail), a problem to show, or None when
    nobody is signed in that way.

    The e-mail comes from the `email` claim only: Entra ID's `preferred_username` can be changed
    by its owner and is not meant to identify anyone.  An address the provider says it has not
    verified (`email_verified` false) is not used."""
    if claims.get("is_logged_in") is not True:
        return None
    email = claims.get("email")
    if not isinstance(email, str) or not email.strip():
        return SignInProblem("Your organisation's sign-in did not give the app your e-mail address, so it cannot "
                             "tell who you are. Ask whoever runs this app to have the sign-in send the 'email' "
                             "claim (docs/deploy.md, 'Connecting the organisation's sign-in').")
    if claims.get("email_verified") is False:
        return SignInProblem("Your organisation's sign-in says your e-mail address is not verified, so the app "
                             "cannot use it. Ask whoever looks after your work account.")
    try:
        return Identity.oidc(email)
    except PackError:
        return SignInProblem("Your organisation's sign-in gave an e-mail address the app cannot use. Ask whoever "
                             "runs this app.")


@dataclass(frozen=True)
class SignedIn:
    """Someone signed in: who they are, how, and whether they may change the collection."""

    identity: Identity
    librarian: bool
    via: str  # "organisation" or "password"
    password_name: str = PASSWORD_LIBRARIAN  # the name typed with the librarian password

    @property
    def name(self) -> str:
        """How the change log, `added-by` and screening decisions name them."""
        return self.identity.label if self.via == "organisation" else self.password_name


def signed_in(claims: Mapping[str, object], *, librarians: Librarians,
              password_name: str | None) -> SignedIn | None:
    """Who this browser session is: the organisation's account first (a librarian if the setting
    names them, or if the session also gave the librarian password), else the librarian password
    (`password_name`: the name typed with it, None when it was not given); None when nobody is
    signed in."""
    person = person_from_claims(claims)
    if isinstance(person, Identity):
        return SignedIn(person, password_name is not None or librarians.admits(person, claims), "organisation")
    if password_name is not None:
        return SignedIn(Identity.librarian(), True, "password", password_name or PASSWORD_LIBRARIAN)
    return None
