"""Who owns a saved evidence pack, and who may change it.

A pack's owner is one string in the shared database:

| owner            | who                                                                      |
|------------------|--------------------------------------------------------------------------|
| `oidc:<e-mail>`  | a person signed in with the organisation's account (Streamlit's          |
|                  | `st.login`/`st.user`), by their e-mail address in lower case             |
| `librarian`      | someone signed in with the librarian password (one shared password, so   |
|                  | one owner for everyone who uses it)                                      |
| `admin`          | the local administrator: the command line, and every pack saved before   |
|                  | packs had owners                                                         |
| none (NULL)      | nobody was signed in: the pack belongs to whoever holds its private edit |
|                  | link                                                                     |

The rules (`may_edit`): the administrator may change any pack; a pack with an
owner may be changed only by that owner (its edit link alone is not enough);
a pack without one by whoever presents its edit link.  Reading a pack through
its share link needs no identity at all.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass

from .errors import PackError

ADMIN_OWNER = "admin"
LIBRARIAN_OWNER = "librarian"
OIDC_PREFIX = "oidc:"
MAX_OWNER_CHARS = 320  # "oidc:" and the longest e-mail address the standards allow
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


@dataclass(frozen=True)
class Identity:
    """A signed-in person (or the local administrator), as the owner of packs."""

    owner: str  # the string kept in the database
    label: str  # how the app names them: "jo@example.org", "the librarian sign-in"

    @classmethod
    def oidc(cls, email: str) -> "Identity":
        """Someone signed in with the organisation's account (OpenID Connect)."""
        address = email.strip().lower()
        if not _EMAIL.fullmatch(address) or len(OIDC_PREFIX) + len(address) > MAX_OWNER_CHARS:
            raise PackError(f"'{email}' is not an e-mail address the app can record as a pack's owner.")
        return cls(OIDC_PREFIX + address, address)

    @classmethod
    def librarian(cls) -> "Identity":
        return cls(LIBRARIAN_OWNER, "the librarian sign-in")

    @classmethod
    def admin(cls) -> "Identity":
        return cls(ADMIN_OWNER, "the local administrator")

    @classmethod
    def parse(cls, owner: str) -> "Identity":
        """The identity an owner string names (`oidc:jo@example.org`, `librarian`, `admin`)."""
        text = owner.strip()
        if text == ADMIN_OWNER:
            return cls.admin()
        if text == LIBRARIAN_OWNER:
            return cls.librarian()
        if text.lower().startswith(OIDC_PREFIX):
            return cls.oidc(text[len(OIDC_PREFIX):])
        raise PackError(f"'{owner}' is not an owner: use oidc:<e-mail>, librarian or admin.")

    @property
    def is_admin(self) -> bool:
        return self.owner == ADMIN_OWNER


def describe_owner(owner: str | None) -> str:
    """An owner string in words, for listings: 'whoever holds the edit link', 'jo@example.org'."""
    if owner is None:
        return "whoever holds the edit link"
    try:
        return Identity.parse(owner).label
    except PackError:
        return owner


def may_edit(owner: str | None, who: Identity | None, *, edit_token: str = "", presented: str = "") -> bool:
    """Whether `who`, presenting the edit link `presented`, may change a pack owned by `owner`."""
    if who is not None and who.is_admin:
        return True
    if owner is not None:
        return who is not None and hmac.compare_digest(who.owner, owner)
    return bool(presented) and bool(edit_token) and hmac.compare_digest(presented.encode(), edit_token.encode())
