"""Links in exports: only plain http(s) addresses ever become something to click.

Every export of a pack (PDF, Word, HTML, Markdown, BibTeX, RIS, CSL-JSON)
keeps a reference's address only when `safe_url` accepts it, so a
`javascript:`, `data:` or `file:` address typed into a reference never reaches
a manager as a link.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

# Fields that point at a file on someone's computer: never useful to anyone else, so left out
# of every export and of the details a saved pack keeps.
LOCAL_FILE_FIELDS = ("file", "pdf", "local-url")
# A link written inside another field of a BibTeX entry: \url{...} or \href{...}{...}.
EMBEDDED_LINK = re.compile(r"\\(?:url|href)\s*\{([^{}]*)\}")

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# Characters a URL may hold as they are; anything else (spaces, quotes, angle
# brackets, backslashes, non-ASCII letters) is percent-encoded.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"


def safe_url(url: str) -> str:
    """The address as a plain http(s) link to a named host, percent-encoded where needed; else ""."""
    url = (url or "").strip()
    if not url or _CONTROL.search(url):
        return ""
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not host or any(c.isspace() for c in parts.netloc):
        return ""
    return quote(url, safe=_URL_SAFE)
