"""Librarian sign-in: salted password hashes and throttling of repeated failures.

The deployer sets the hash (never the password) in `LIBRARY_LIBRARIAN_PASSWORD_HASH`
or Streamlit secrets.  There is no default password: without a hash the app is
read-only.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import threading
import time
from dataclasses import dataclass

from .errors import AccessDenied, SettingsError

_SCHEME = "scrypt"
_N, _R, _P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """'scrypt$16384$8$1$<salt>$<hash>' for the settings; the password itself is never stored."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise SettingsError(f"Choose a password of at least {MIN_PASSWORD_LENGTH} characters.")
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    encode = lambda b: base64.urlsafe_b64encode(b).decode("ascii").rstrip("=")  # noqa: E731
    return f"{_SCHEME}${_N}${_R}${_P}${encode(salt)}${encode(digest)}"


def _decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_password(password: str, stored_hash: str) -> bool:
    """True only for the right password; a malformed or empty hash never matches."""
    try:
        scheme, n, r, p, salt, digest = stored_hash.strip().split("$")
        if scheme != _SCHEME:
            return False
        expected = _decode(digest)
        actual = hashlib.scrypt(password.encode("utf-8"), salt=_decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected), maxmem=256 * 1024 * 1024)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def is_configured(stored_hash: str) -> bool:
    return bool(stored_hash and stored_hash.startswith(_SCHEME + "$") and stored_hash.count("$") == 5)


@dataclass
class _Attempts:
    failures: int = 0
    locked_until: float = 0.0


class Throttle:
    """Slows down guessing: after a few failures, each further try waits longer (shared by all sessions)."""

    def __init__(self, free_failures: int = 3, base_delay: float = 5.0, max_delay: float = 900.0,
                 clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self.free_failures = free_failures
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.clock = clock
        self._attempts: dict[str, _Attempts] = {}
        self._lock = threading.Lock()

    def wait_seconds(self, who: str = "*") -> float:
        with self._lock:
            state = self._attempts.get(who)
            return max(0.0, state.locked_until - self.clock()) if state else 0.0

    def sign_in(self, password: str, stored_hash: str, who: str = "*") -> None:
        """Check a password, or raise `AccessDenied` with a plain reason."""
        if not is_configured(stored_hash):
            raise AccessDenied("Editing is switched off: no librarian password has been set up. "
                               "Ask whoever runs this app to set LIBRARY_LIBRARIAN_PASSWORD_HASH.")
        wait = self.wait_seconds(who)
        if wait > 0:
            raise AccessDenied(f"Too many wrong passwords. Try again in {int(wait) + 1} seconds.")
        if verify_password(password, stored_hash):
            with self._lock:
                self._attempts.pop(who, None)
            return
        with self._lock:
            state = self._attempts.setdefault(who, _Attempts())
            state.failures += 1
            if state.failures > self.free_failures:
                delay = min(self.max_delay, self.base_delay * 2 ** (state.failures - self.free_failures - 1))
                state.locked_until = self.clock() + delay
        raise AccessDenied("That password is not right.")
