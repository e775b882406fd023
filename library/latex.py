"""Decode the LaTeX in BibTeX field values to plain Unicode text for display and indexing.

The files on disk keep their LaTeX exactly as written; this is only a view.
It covers what real bibliographies use (accents in every spelling, special
letters, dashes, quotes, formatting commands, escaped specials) in a single
pass, which is far quicker than a general LaTeX codec, and a bare `%` is kept
as text rather than treated as a comment.
"""

from __future__ import annotations

import re
import unicodedata

# Accent commands and the Unicode combining mark each stands for.
_ACCENTS = {
    "'": "\u0301", "`": "\u0300", "^": "\u0302", '"': "\u0308", "~": "\u0303",
    "=": "\u0304", ".": "\u0307", "u": "\u0306", "v": "\u030c", "H": "\u030b",
    "c": "\u0327", "k": "\u0328", "r": "\u030a", "d": "\u0323", "b": "\u0331",
    "t": "\u0361",
}

_SYMBOLS = {
    "ss": "ß", "o": "ø", "O": "Ø", "aa": "å", "AA": "Å", "ae": "æ", "AE": "Æ",
    "oe": "œ", "OE": "Œ", "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ", "dh": "ð",
    "DH": "Ð", "th": "þ", "TH": "Þ", "ng": "ŋ", "NG": "Ŋ", "dj": "đ", "DJ": "Đ",
    "&": "&", "%": "%", "$": "$", "#": "#", "_": "_", "{": "{", "}": "}",
    " ": " ", ",": " ", ";": " ", ":": " ", "!": "", "/": "", "-": "", "@": "",
    "\\": " ", "textendash": "–", "textemdash": "—", "ldots": "…", "dots": "…",
    "textellipsis": "…", "textquoteright": "’", "textquoteleft": "‘",
    "textquotedblleft": "“", "textquotedblright": "”", "textquotedbl": '"',
    "S": "§", "P": "¶", "copyright": "©", "textcopyright": "©",
    "textregistered": "®", "texttrademark": "™", "pounds": "£", "textsterling": "£",
    "euro": "€", "texteuro": "€", "textasciitilde": "~", "textbackslash": "\\",
    "textbar": "|", "textbraceleft": "{", "textbraceright": "}", "textless": "<", "textgreater": ">", "textdegree": "°",
    "textasciicircum": "^", "textunderscore": "_", "textbullet": "•",
    "textquotesingle": "'", "textasciigrave": "`",
    "guillemotleft": "«", "guillemotright": "»", "textperiodcentered": "·",
    "TeX": "TeX", "LaTeX": "LaTeX", "BibTeX": "BibTeX", "slash": "/",
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε",
    "kappa": "κ", "lambda": "λ", "mu": "μ", "pi": "π", "sigma": "σ", "tau": "τ",
    "chi": "χ", "omega": "ω", "Delta": "Δ", "Sigma": "Σ", "Omega": "Ω",
    "pm": "±", "times": "×", "leq": "≤", "geq": "≥", "le": "≤", "ge": "≥",
    "neq": "≠", "approx": "≈", "sim": "~", "infty": "∞", "cdot": "·", "to": "→",
    "rightarrow": "→", "leftarrow": "←", "circ": "°", "prime": "′",
    "quad": " ", "qquad": " ", "par": " ", "newline": " ", "relax": "",
    "protect": "", "noindent": "", "centering": "",
}

# Commands whose last argument is text to keep (formatting, case protection...).
_KEEP_ARGUMENT = {
    "textit", "textbf", "emph", "textsc", "texttt", "textrm", "textsf", "textup",
    "textsl", "textmd", "textnormal", "mbox", "hbox", "text", "mathrm", "mathit",
    "mathbf", "mathsf", "mathtt", "mathcal", "mathbb", "url", "NoCaseChange",
    "textsuperscript", "textsubscript", "uppercase", "lowercase", "MakeUppercase",
    "MakeLowercase", "ensuremath", "overline", "underline", "bm", "boldsymbol",
    "it", "bf", "em", "sc", "rm", "tt", "sf", "sl", "small", "large", "footnotesize",
}
_QUOTE_ARGUMENT = {"enquote", "mkbibquote", "textquote"}
_DROP_FIRST_ARGUMENT = {"href"}  # \href{url}{text} shows the text
_DROP_WHOLLY = {"noopsort", "cite", "citep", "citet", "label", "ref", "index", "footnote"}

_SPECIAL = re.compile(r"[\\{}~$`'\-]")
_SPACES = re.compile(r"\s+")
_NAME = re.compile(r"[A-Za-z]+")


class _Decoder:
    __slots__ = ("text", "pos", "end")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.end = len(text)

    def run(self, stop_at_brace: bool = False) -> str:
        out: list[str] = []
        text = self.text
        while self.pos < self.end:
            match = _SPECIAL.search(text, self.pos)
            if match is None:
                out.append(text[self.pos:])
                self.pos = self.end
                break
            start = match.start()
            if start > self.pos:
                out.append(text[self.pos:start])
            char = text[start]
            self.pos = start + 1
            if char == "\\":
                out.append(self._command())
            elif char == "{":
                out.append(self.run(stop_at_brace=True))
            elif char == "}":
                if stop_at_brace:
                    return "".join(out)
                # A stray closing brace is dropped, as BibTeX would ignore it.
            elif char == "~":
                out.append(" ")
            elif char == "$":
                pass  # maths: keep its contents, drop the delimiters
            elif char == "-":
                if text.startswith("--", self.pos):
                    out.append("—")
                    self.pos += 2
                elif text.startswith("-", self.pos):
                    out.append("–")
                    self.pos += 1
                else:
                    out.append("-")
            elif char == "`":
                if text.startswith("`", self.pos):
                    out.append("“")
                    self.pos += 1
                else:
                    out.append("‘")
            else:  # "'"
                if text.startswith("'", self.pos):
                    out.append("”")
                    self.pos += 1
                else:
                    out.append("’")
        return "".join(out)

    def _argument(self) -> str:
        """The next argument: a braced group, or else a single character or command."""
        text = self.text
        while self.pos < self.end and text[self.pos] in " \t\n":
            self.pos += 1
        if self.pos >= self.end:
            return ""
        char = text[self.pos]
        self.pos += 1
        if char == "{":
            return self.run(stop_at_brace=True)
        if char == "\\":
            return self._command()
        if char == "}":
            self.pos -= 1  # belongs to the enclosing group
            return ""
        return char

    def _command(self) -> str:
        text = self.text
        name_match = _NAME.match(text, self.pos)
        if name_match:
            name = name_match.group()
            self.pos = name_match.end()
            # A control word swallows the spaces after it.
            while self.pos < self.end and text[self.pos] in " \t\n":
                self.pos += 1
        elif self.pos < self.end:
            name = text[self.pos]
            self.pos += 1
        else:
            return ""
        if name in _ACCENTS:
            base = self._argument().replace("ı", "i").replace("ȷ", "j")
            if not base:
                return ""
            return unicodedata.normalize("NFC", base[0] + _ACCENTS[name] + base[1:])
        if name in _SYMBOLS:
            return _SYMBOLS[name]
        if name in _QUOTE_ARGUMENT:
            return "‘" + self._argument() + "’"
        if name in _DROP_FIRST_ARGUMENT:
            self._argument()
            return self._argument()
        if name in _DROP_WHOLLY:
            if self._next_is_group():
                self._argument()
            return ""
        if name in _KEEP_ARGUMENT or self._next_is_group():
            return self._argument() if self._next_is_group() else ""
        return name  # an unknown command with no argument: keep its name rather than lose text

    def _next_is_group(self) -> bool:
        return self.pos < self.end and self.text[self.pos] == "{"


def decode(value: str) -> str:
    """Plain Unicode text for a BibTeX field value, whitespace normalised."""
    if not value:
        return ""
    if _SPECIAL.search(value) is None:
        return _SPACES.sub(" ", value).strip()
    try:
        decoded = _Decoder(value).run()
    except RecursionError:
        # Nesting deeper than Python's stack allows (the parser stops at 100 levels, but
        # values can come from elsewhere): show the text without its markup rather than fail.
        decoded = _MARKUP.sub("", value)
    return _SPACES.sub(" ", decoded).strip()


_MARKUP = re.compile(r"\\[A-Za-z]+|\\.|[{}$]")


# A literal brace must not be written as \{ : BibTeX still counts that brace, so a
# lone one would unbalance the entry.  The text commands are safe.  Quotes and runs of
# hyphens are escaped too, because `decode` reads them as typography (' -> ’, -- -> –).
_ENCODE = {
    "\\": r"\textbackslash{}", "{": r"\textbraceleft{}", "}": r"\textbraceright{}", "%": r"\%", "&": r"\&",
    "#": r"\#", "$": r"\$", "_": r"\_", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "'": r"\textquotesingle{}", "`": r"\textasciigrave{}", "-": "-{}",
}
# A hyphen is escaped only when another follows it: "self-harm" stays as typed.
_TO_ESCAPE = re.compile(r"[\\{}%&#$_~^'`]|-(?=-)")


def braces_balanced(text: str) -> bool:
    """True when every '{' has its '}' (a raw value such as a DOI must be, to be written as is)."""
    depth = 0
    for char in text:
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def encode(text: str) -> str:
    """BibTeX for plain text typed by a person: `decode(encode(x))` gives x back exactly
    (whitespace runs read as one space, as BibTeX reads them).  Unicode is kept as it is."""
    return _TO_ESCAPE.sub(lambda m: _ENCODE[m.group()], text)
