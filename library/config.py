"""Settings, resolved once: explicit argument, then environment variable, then default.

`SETTINGS` is the single registry; the README documents each entry and a test
checks that it does.
"""

from __future__ import annotations

import getpass
import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Mapping

from .errors import SettingsError
from .signin import Librarians

REPO_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class SettingSpec:
    env: str
    attr: str
    default: str
    description: str


SETTINGS: tuple[SettingSpec, ...] = (
    SettingSpec("LIBRARY_REFERENCES_DIR", "references_dir", "references/",
                "The collection: one BibTeX file per reference, plus themes.toml."),
    SettingSpec("LIBRARY_INDEX_DIR", "index_dir", "var/index/",
                "The search index, a cache rebuilt from the collection whenever needed."),
    SettingSpec("LIBRARY_DATA_DIR", "data_dir", "var/data/",
                "Everything else the app keeps: saved packs, the change log, the trash."),
    SettingSpec("LIBRARY_DATABASE_URL", "database_url", "",
                "Where saved packs and other shared state are kept: empty means a SQLite file "
                "(library.sqlite3) in the data folder; a PostgreSQL URL "
                "(postgresql+psycopg://user:password@host:5432/name) lets several app servers share it."),
    SettingSpec("LIBRARY_CROSSREF_URL", "crossref_url", "https://api.crossref.org",
                "Base URL of the Crossref REST API used for DOI look-ups and Crossref discovery searches."),
    SettingSpec("LIBRARY_OPENALEX_URL", "openalex_url", "https://api.openalex.org",
                "Base URL of the OpenAlex API used for discovery searches."),
    SettingSpec("LIBRARY_EUROPEPMC_URL", "europepmc_url", "https://www.ebi.ac.uk/europepmc/webservices/rest",
                "Base URL of the Europe PMC REST API used for discovery searches."),
    SettingSpec("LIBRARY_PUBMED_URL", "pubmed_url", "https://eutils.ncbi.nlm.nih.gov/entrez/eutils",
                "Base URL of NCBI's E-utilities (esearch, efetch) used for PubMed discovery searches."),
    SettingSpec("LIBRARY_CONTACT_EMAIL", "contact_email", "",
                "Contact address sent where each service asks: the User-Agent of every request "
                "(Crossref), OpenAlex's mailto, NCBI's email."),
    SettingSpec("LIBRARY_HTTP_TIMEOUT", "http_timeout", "10",
                "Seconds to wait for the DOI service or a literature service before giving up."),
    SettingSpec("LIBRARY_LOCK_TIMEOUT", "lock_timeout", "15",
                "Seconds a writer waits for another writer before giving up with a message."),
    SettingSpec("LIBRARY_MAX_UPLOAD_MB", "max_upload_mb", "5",
                "Largest BibTeX, RIS or pack file accepted, in megabytes."),
    SettingSpec("LIBRARY_LIBRARIAN_PASSWORD_HASH", "librarian_password_hash", "",
                "Salted hash of the librarian password (make one with `python -m library hash-password`). "
                "Empty means the app is read-only."),
    SettingSpec("LIBRARY_LIBRARIANS", "librarians", "",
                "Who is a librarian when signed in with the organisation's account (OpenID Connect, set up in "
                ".streamlit/secrets.toml): comma-separated e-mail addresses and/or claim:NAME=VALUE for a group "
                "or role claim in the ID token (claim:roles=Library.Librarian). Empty: nobody signs in as a "
                "librarian that way."),
    SettingSpec("LIBRARY_USER", "user", "",
                "Name recorded in the change log for CLI changes (default: the login name)."),
    SettingSpec("LIBRARY_PUBLIC_URL", "public_url", "",
                "The app's address as readers reach it (https://evidence.example.org, with any path prefix), "
                "used to write share and edit links in full; empty means the address the browser used."),
)


_NUMBERS = ("http_timeout", "lock_timeout", "max_upload_mb")


def _resolve_path(value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (REPO_ROOT / path)


def _positive_number(name: str, value: str, cast: Callable[[str], float]) -> float:
    try:
        number = cast(value)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not '{value}'.") from None
    if not math.isfinite(number):  # "nan", "inf": float() reads them, nothing can use them
        raise SettingsError(f"{name} must be a finite number, not '{value}'.")
    if number <= 0:
        raise SettingsError(f"{name} must be greater than zero, not '{value}'.")
    return number


@dataclass(frozen=True)
class Settings:
    references_dir: Path
    index_dir: Path
    data_dir: Path
    database_url: str = field(default="", repr=False)  # may hold a password
    crossref_url: str = "https://api.crossref.org"
    openalex_url: str = "https://api.openalex.org"
    europepmc_url: str = "https://www.ebi.ac.uk/europepmc/webservices/rest"
    pubmed_url: str = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils"
    contact_email: str = ""
    http_timeout: float = 10.0
    lock_timeout: float = 15.0
    max_upload_mb: float = 5.0
    librarian_password_hash: str = field(default="", repr=False)
    librarians: Librarians = Librarians()
    user: str = ""
    public_url: str = ""

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> "Settings":
        """Read every setting: `overrides` win over `env`, which wins over defaults."""
        env = os.environ if env is None else env
        raw = {spec.attr: env.get(spec.env) or spec.default for spec in SETTINGS}
        values: dict[str, object] = {
            "references_dir": _resolve_path(raw["references_dir"]),
            "index_dir": _resolve_path(raw["index_dir"]),
            "data_dir": _resolve_path(raw["data_dir"]),
            "database_url": raw["database_url"].strip(),
            "crossref_url": raw["crossref_url"].rstrip("/"),
            "openalex_url": raw["openalex_url"].rstrip("/"),
            "europepmc_url": raw["europepmc_url"].rstrip("/"),
            "pubmed_url": raw["pubmed_url"].rstrip("/"),
            "contact_email": raw["contact_email"],
            "http_timeout": _positive_number("LIBRARY_HTTP_TIMEOUT", raw["http_timeout"], float),
            "lock_timeout": _positive_number("LIBRARY_LOCK_TIMEOUT", raw["lock_timeout"], float),
            "max_upload_mb": _positive_number("LIBRARY_MAX_UPLOAD_MB", raw["max_upload_mb"], float),
            "librarian_password_hash": raw["librarian_password_hash"],
            "librarians": Librarians.parse(raw["librarians"]),
            "user": raw["user"] or _login_name(),
            "public_url": _public_url(raw["public_url"]),
        }
        for name, value in overrides.items():
            if value is None:
                continue
            if name.endswith("_dir"):
                value = _resolve_path(str(value))
            elif name in _NUMBERS:  # an argument is checked like the variable it overrides
                value = _positive_number(name, str(value), float)
            elif name == "public_url":
                value = _public_url(str(value))
            elif name == "librarians" and not isinstance(value, Librarians):
                value = Librarians.parse(str(value))
            values[name] = value
        return cls(**values)  # type: ignore[arg-type]

    def with_(self, **changes: object) -> "Settings":
        return replace(self, **changes)  # type: ignore[arg-type]

    @property
    def database(self) -> str:
        """The database URL in use: the setting, or the SQLite file in the data folder."""
        from .database import default_url

        return self.database_url or default_url(self.data_dir)

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * 1024 * 1024)


def _public_url(value: str) -> str:
    """An http(s) address without a trailing slash, query or fragment; empty stays empty."""
    from urllib.parse import urlsplit

    text = value.strip()
    if not text:
        return ""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment \
            or any(c.isspace() for c in text):
        raise SettingsError(f"LIBRARY_PUBLIC_URL must be the app's address, such as "
                            f"https://evidence.example.org, not '{value}'.")
    return text.rstrip("/")


def _login_name() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"
