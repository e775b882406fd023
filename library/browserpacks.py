"""The packs one browser is working on, as its `evidence_packs` cookie remembers them.

Someone who is not signed in holds a pack only through its private edit link
(`library.packstore`).  So that a reload, a second tab or the next page of a
search keeps the pack in progress without putting that link in the address of
every page (search addresses are copied to colleagues; an edit link in one
would hand over the pack), the app keeps this browser's edit links in a
browser-session cookie: no expiry date, so it ends when the browser is closed.

The cookie's value is `CURRENT|TOKEN.TOKEN...`: the edit link of the pack in
progress (empty when none is open), then the edit links this browser has used,
most recent first (the current one first), at most `MAX_PACKS`.  Edit links are
the 32 URL-safe characters `PackStore` makes; anything else in the cookie is
ignored, never trusted: the cookie is only a list of links to try, and the pack
store still decides what each one opens (see `BrowserPacks.keeping`).

This module only reads and writes the value; the app (views/ui.py) reads the
cookie when a browser session starts and writes it whenever the tab changes its
pack in progress (`cookie_script` merges with what other tabs wrote).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Mapping

COOKIE = "evidence_packs"
# Over https the cookie is named with the `__Host-` prefix: browsers then accept it only when it
# is Secure, for path=/ and set by this very host, so another site under the same domain cannot
# plant a pack of its choosing in this browser.
SECURE_COOKIE = "__Host-" + COOKIE
MAX_PACKS = 50  # 50 links of 33 bytes: about 1.7 kB, well under the 4 kB a browser keeps per cookie
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{32}")  # PackStore's edit links: token_urlsafe(24)
_CURRENT_MARK, _SEPARATOR = "|", "."


def is_edit_token(value: object) -> bool:
    """Whether `value` has the shape of an edit link the pack store makes (never user text)."""
    return isinstance(value, str) and TOKEN_SHAPE.fullmatch(value) is not None


def cookie_name(secure: bool) -> str:
    """The cookie's name: `__Host-evidence_packs` on an https page, else `evidence_packs`."""
    return SECURE_COOKIE if secure else COOKIE


@dataclass(frozen=True)
class BrowserPacks:
    """The edit links one browser holds, most recent first, and which one is in progress."""

    current: str | None = None
    tokens: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not all(is_edit_token(t) for t in self.tokens):
            raise ValueError("Browser packs hold only edit links.")
        if len(set(self.tokens)) != len(self.tokens) or len(self.tokens) > MAX_PACKS:
            raise ValueError(f"Browser packs hold at most {MAX_PACKS} different edit links.")
        if self.current is not None and self.tokens[:1] != (self.current,):
            raise ValueError("The pack in progress comes first in the browser's packs.")

    @classmethod
    def parse(cls, value: str | None) -> BrowserPacks:
        """The packs a cookie value names; anything that is not an edit link is left out, never an error
        (the value comes from the browser, and an old or damaged cookie must not stop the page)."""
        if not value or not isinstance(value, str):
            return cls()
        current, mark, rest = value.partition(_CURRENT_MARK)
        if not mark:  # no mark: a list of links, none of them open
            current, rest = "", value
        tokens = tuple(dict.fromkeys(t for t in rest.split(_SEPARATOR) if is_edit_token(t)))
        if is_edit_token(current):
            return cls(current, (current, *(t for t in tokens if t != current))[:MAX_PACKS])
        return cls(None, tokens[:MAX_PACKS])

    @classmethod
    def from_cookies(cls, cookies: Mapping[str, str], *, secure: bool) -> BrowserPacks:
        """The packs a browser's cookies name (on an https page only the `__Host-` cookie counts)."""
        return cls.parse(cookies.get(cookie_name(secure)))

    def value(self) -> str:
        """The cookie's value ('' when there is nothing to keep: the cookie is then removed)."""
        if not self.tokens:
            return ""
        return (self.current or "") + _CURRENT_MARK + _SEPARATOR.join(self.tokens)

    def opened(self, token: str) -> BrowserPacks:
        """`token`'s pack is now in progress: first in the list (the oldest link drops off at `MAX_PACKS`)."""
        if not is_edit_token(token):
            raise ValueError("Only an edit link can be opened.")
        return BrowserPacks(token, (token, *(t for t in self.tokens if t != token))[:MAX_PACKS])

    def closed(self) -> BrowserPacks:
        """No pack in progress; the browser still lists the ones it used."""
        return BrowserPacks(None, self.tokens)

    def forgotten(self, token: str) -> BrowserPacks:
        """Without `token`: its pack was deleted, or closed and taken off this browser's list."""
        return BrowserPacks(None if self.current == token else self.current,
                            tuple(t for t in self.tokens if t != token))

    def keeping(self, still_open: Iterable[str]) -> BrowserPacks:
        """Only the links in `still_open` (those the pack store still holds): a deleted pack drops
        out without a word.  (A pack only its owner may change, signed in, is kept: the app does not
        open it while they are signed out, and opens it again once they sign in.)"""
        keep = set(still_open)
        tokens = tuple(t for t in self.tokens if t in keep)
        return BrowserPacks(self.current if self.current in keep else None, tokens)


def cookie_script(wanted: BrowserPacks, *, touched: Iterable[str] = (), dropped: Iterable[str] = (),
                  left: str | None = None, secure: bool) -> str:
    """A script for the page that writes this tab's changes into the browser's cookie.

    Several tabs of one browser share the cookie, and each tab's session remembers only what the
    cookie said when it started, so the script merges rather than overwrites:

    - `touched`: the links this tab opened, started or changed since it last read or wrote the
      cookie, most recent first.  They go first, and when `wanted.current` is one of them it becomes
      the cookie's pack in progress: the pack last worked on, in any tab, is what a reload brings back.
    - the links already in the cookie follow (other tabs may have added some), but not `dropped`
      (deleted, or taken off this browser's list here).
    - a link this tab merely remembers from earlier is NOT written back: if it is no longer in the
      cookie, another tab closed or deleted it.
    - `left`: the pack this tab just stopped working on ("New pack"): if it is the cookie's pack in
      progress, none is any more; another tab's pack in progress stays so.

    Only this fixed script and edit links (checked for their shape here, again) go into the page,
    never anything a person typed.  The cookie has no expiry (it ends when the browser closes), is
    sent only to this site's own pages (SameSite=Strict, path=/) and, over https, only over https
    (Secure).
    """
    ours = [t for t in dict.fromkeys(touched)][:MAX_PACKS]
    gone = [t for t in dict.fromkeys(dropped) if is_edit_token(t) and t not in ours][:MAX_PACKS]
    for token in (*wanted.tokens, *ours, *([left] if left else [])):
        if not is_edit_token(token):  # unreachable through the app; checked where it matters
            raise ValueError("Only edit links go into the cookie script.")
    current = wanted.current if wanted.current in ours else ""
    words = {"NAME": cookie_name(secure), "CURRENT": current, "OURS": ".".join(ours),
             "GONE": ".".join(gone), "LEFT": left or "", "MAX": str(MAX_PACKS),
             "SECURE": "true" if secure else "false"}
    script = _SCRIPT
    for word, text in words.items():
        script = script.replace(f"@{word}@", text)
    return script


_SCRIPT = """<script>
(() => {
  const name = "@NAME@", current = "@CURRENT@", left = "@LEFT@", max = @MAX@;
  const ours = "@OURS@".split(".").filter(Boolean), gone = "@GONE@".split(".").filter(Boolean);
  const shape = /^[A-Za-z0-9_-]{32}$/;
  const found = document.cookie.split("; ").find(c => c.startsWith(name + "="));
  const before = found ? found.slice(name.length + 1) : "";
  const mark = before.indexOf("|");
  const was = mark > 0 ? before.slice(0, mark) : "";
  const theirs = before.slice(mark + 1).split(".").filter(t => shape.test(t) && !gone.includes(t));
  const tokens = [...new Set([...ours, ...theirs])].slice(0, max);
  let now = current || (shape.test(was) && was !== left && tokens.includes(was) ? was : "");
  if (now && !tokens.includes(now)) now = "";
  const listed = now ? [now, ...tokens.filter(t => t !== now)] : tokens;
  const secure = @SECURE@ || location.protocol === "https:";
  const rest = "; path=/; SameSite=Strict" + (secure ? "; Secure" : "");
  document.cookie = listed.length ? name + "=" + now + "|" + listed.join(".") + rest
                                  : name + "=" + rest + "; max-age=0";
})();
</script>"""
