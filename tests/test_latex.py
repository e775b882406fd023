"""LaTeX in field values decoded to Unicode for display and indexing (library.latex)."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings, strategies as st

from library import latex


@pytest.mark.parametrize(
    ("written", "shown"),
    [
        # One accent, every spelling found in real files.
        (r"Sch{\"o}n", "Schön"),
        (r"Sch\"{o}n", "Schön"),
        (r"Sch\"on", "Schön"),
        (r"{\"O}sterreich", "Österreich"),
        (r"Gar\c{c}on", "Garçon"),
        (r"Mar{\'\i}a", "María"),
        (r"Mar\'{\i}a", "María"),
        (r"na\"{\i}ve", "naïve"),
        (r"\^{\i}le", "île"),
        (r"\v{S}koda", "Škoda"),
        (r"\v S", "Š"),
        (r"Jos\'e", "José"),
        (r"\`a la", "à la"),
        (r"Espa\~na", "España"),
        (r"Erd\H{o}s", "Erdős"),
        (r"\k{a}", "ą"),
        (r"\r{a}", "å"),
        (r"\u{g}", "ğ"),
        (r"\=a", "ā"),
        (r"\.{z}", "ż"),
        # Special letters.
        (r"{\aa}ngstr{\"o}m", "ångström"),
        (r"\aa", "å"),
        (r"Stra{\ss}e", "Straße"),
        (r"\ss", "ß"),
        (r"{\o}ster", "øster"),
        (r"{\L}{\'o}d{\'z}", "Łódź"),
        (r"{\ae}on", "æon"),
        # Dashes and quotes.
        ("pages 12--19", "pages 12–19"),
        ("then---suddenly", "then—suddenly"),
        ("self-harm", "self-harm"),
        ("``quoted''", "“quoted”"),
        ("`single'", "‘single’"),
        ("a~b", "a b"),
        # Escaped specials; a bare % is text, not a comment that eats the rest.
        (r"R\&D", "R&D"),
        (r"50\% of staff", "50% of staff"),
        ("50% of staff", "50% of staff"),
        (r"\$10 and \#1 and a\_b", "$10 and #1 and a_b"),
        # Formatting commands keep their text; case protection disappears.
        (r"\textit{x}", "x"),
        (r"An \emph{important} \textbf{bold} word", "An important bold word"),
        (r"\textbf{\emph{deep}}", "deep"),
        ("{{ACE}} study", "ACE study"),
        ("The {ACE} study", "The ACE study"),
        (r"\href{https://example.org}{the text}", "the text"),
        (r"\url{https://example.org/a_b}", "https://example.org/a_b"),
        # Maths.
        (r"$\alpha$ and $\beta$", "α and β"),
        (r"p $<$ 0.05", "p < 0.05"),
        # Nested groups and stray braces.
        ("{a {b {c}}}", "a b c"),
        ("{Trauma {Informed {Care}}}", "Trauma Informed Care"),
        ("a } b", "a b"),
        ("a { b", "a b"),
        ("}{", ""),
        # Unknown command: keep its name rather than lose text.
        (r"see \foo", "see foo"),
        # Raw Unicode passes through; whitespace is normalised.
        ("Müller  and\n\tSøren", "Müller and Søren"),
        ("", ""),
    ],
)
def test_decode(written: str, shown: str) -> None:
    assert latex.decode(written) == shown


@pytest.mark.parametrize(
    "written",
    [
        "{" * 5000 + "x" + "}" * 5000,
        "{" * 5000,
        r"\textbf{" * 3000 + "x" + "}" * 3000,
        '\\"' * 5000 + "o",
    ],
    ids=["5000-nested-groups", "5000-unclosed-groups", "3000-nested-commands", "5000-stacked-accents"],
)
def test_decode_survives_pathological_nesting(written: str) -> None:
    decoded = latex.decode(written)
    assert "{" not in decoded and "}" not in decoded


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_decode_never_raises(text: str) -> None:
    assert isinstance(latex.decode(text), str)


_PLAIN = st.text(alphabet=string.ascii_letters + " ", max_size=6)
_BALANCED = st.recursive(
    _PLAIN,
    lambda inner: st.lists(st.one_of(inner, inner.map(lambda s: "{" + s + "}")), max_size=4).map("".join),
    max_leaves=25,
)


@settings(max_examples=200, deadline=None)
@given(_BALANCED)
def test_balanced_letters_and_braces_decode_to_the_letters(text: str) -> None:
    decoded = latex.decode(text)
    assert "{" not in decoded and "}" not in decoded
    assert decoded == " ".join(text.replace("{", "").replace("}", "").split())


# decode() reads quotes and runs of hyphens as typography (' -> ’, -- -> –), so encode() escapes
# them too: a plain-text round trip keeps every character as typed.
@settings(max_examples=300, deadline=None)
@given(st.text(st.one_of(st.characters(blacklist_categories=("Cs",)), st.sampled_from(list("-'`~{}\\%$#^_&")))))
def test_encoded_text_decodes_back(text: str) -> None:
    assert latex.decode(latex.encode(text)) == " ".join(text.split())


@pytest.mark.parametrize(("typed", "written"), [
    ("self-harm", "self-harm"),
    ("12--19", "12-{}-19"),
    ("a---b", "a-{}-{}-b"),
    ("it's", r"it\textquotesingle{}s"),
    ("`x`", r"\textasciigrave{}x\textasciigrave{}"),
    ("{x}", r"\textbraceleft{}x\textbraceright{}"),
    ("50%", r"50\%"),
])
def test_encode_writes_what_decode_reads_back_as_typed(typed: str, written: str) -> None:
    assert latex.encode(typed) == written
    assert latex.decode(written) == typed


@pytest.mark.parametrize(("written", "shown"), [(r"\textquotesingle", "'"), (r"\textasciigrave", "`")])
def test_the_text_commands_for_straight_quotes(written: str, shown: str) -> None:
    assert latex.decode(written) == shown
