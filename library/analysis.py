"""How text becomes search terms: spelling, word forms, stemming; and how positions are kept for phrases.

Advocates write the way they talk, in UK or US spelling.  Every text field and
every query go through the same analysis, so a rule applied here makes both
sides agree without a hand list per word:

- UK and US spellings become one form by rule (organisation/organization,
  behaviour/behavior, centre/center, catalogue/catalog, counselling/counseling,
  paediatric/pediatric), with a small list of words the rules must leave alone
  (advise, promise, hour, contour...) and of irregular pairs no rule covers
  (burnt/burned, defence/defense, programme/program);
- related word forms meet before stemming (reduction/reduce, seclusion/seclude,
  organisational/organisation), then the Snowball (Porter2) English stemmer
  joins the rest (nurse/nurses, reduce/reducing);
- positions are stored so that a block of them reads in one go (`WordPositions`),
  for exact phrases in bulk (see `library/ranking.py`).

Compound words ("burn out" / "burn-out" / "burnout") are handled when a query
is read (`library/query.py`), where the words of the collection are known.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache

import numpy as np
from whoosh.analysis import CharsetFilter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.fields import TEXT
from whoosh.formats import Format, tokens
from whoosh.lang.snowball.english import EnglishStemmer
from whoosh.support.charset import accent_map

# ------------------------------------------------------------------ UK and US spelling

# Words that look like a UK form the rules below would change, but are the same in US
# spelling (advise, promise, hour, contour...), and irregular pairs no rule covers.
_NOT_IZE = frozenset("""
advertise advise apprise arise braise bruise chastise chemise circumcise comprise compromise
concise cruise demise despise devise disguise enfranchise enterprise excise exercise expertise
franchise guise improvise incise likewise merchandise mortise noise otherwise paradise poise
porpoise praise appraise precise premise promise raise reprise revise rise sunrise supervise
surmise surprise fundraise televise tortoise treatise turquoise uprise valise wise clockwise
""".split())
_NOT_OUR = frozenset("""
contour detour devour flour paramour scour tambour troubadour velour amour
""".split())
_IRREGULAR = {
    "burnt": "burned", "learnt": "learned", "spelt": "spelled", "dreamt": "dreamed", "spoilt": "spoiled",
    "leant": "leaned", "dwelt": "dwelled", "spilt": "spilled", "knelt": "kneeled",
    "defence": "defense", "defences": "defenses", "offence": "offense", "offences": "offenses",
    "pretence": "pretense", "pretences": "pretenses", "licence": "license", "licences": "licenses",
    "licenced": "licensed", "licencing": "licensing",
    "practise": "practice", "practised": "practiced", "practises": "practices", "practising": "practicing",
    "enroll": "enrol", "enrolls": "enrols", "fulfill": "fulfil", "fulfills": "fulfils",
    "instill": "instil", "instills": "instils", "distill": "distil", "distills": "distils",
    "ageing": "aging", "grey": "gray", "mould": "mold", "moulds": "molds", "plough": "plow",
    "draught": "draft", "draughts": "drafts", "aluminium": "aluminum", "storey": "story",
    "storeys": "stories", "manoeuvre": "maneuver", "manoeuvres": "maneuvers", "pyjamas": "pajamas",
    "cosy": "cozy", "timbre": "timbre", "timbres": "timbres",
}
# -ise/-isation, -yse, -our, -tre/-bre, -ogue, doubled l, -dgement, -gramme, ae/oe.
_IZE = re.compile(r"^(?P<base>[a-z]{3,}?)is(?P<end>e|es|ed|ing|er|ers|able|ation|ations|ational|ationally)$")
_YZE = re.compile(r"^(?P<base>[a-z]*l)ys(?P<end>e|es|ed|ing|er|ers)$")
_OUR = re.compile(r"^(?P<base>[a-z]{2,}?)our(?P<end>|s|ed|ing|al|ally|ite|ites|able|ably|ful|fully|less|er|ers"
                  r"|hood|hoods|ism|ist|ists|y)$")
_TRE = re.compile(r"^(?P<base>[a-z]{2,}[bgt])re(?P<end>|s|d)$")
_OGUE = re.compile(r"^(?P<base>[a-z]{3,})ogu(?P<end>e|es|ed|ing)$")
_DOUBLE_L = re.compile(r"^(?P<base>[a-z]*[aeiou][a-z]*[^aeiou][ea])ll(?P<end>ed|ing|er|ers|or|ors)$")
_DIGRAPHS = (("paed", "ped"), ("haem", "hem"), ("aemi", "emi"), ("anaes", "anes"), ("aetiol", "etiol"),
             ("gynaec", "gynec"), ("faec", "fec"), ("palaeo", "paleo"), ("mediaev", "mediev"),
             ("oesoph", "esoph"), ("oestr", "estr"), ("oedem", "edem"), ("foet", "fet"), ("diarrhoe", "diarrhe"),
             ("coeliac", "celiac"), ("amoeb", "ameb"), ("homoeo", "homeo"), ("pnoea", "pnea"))
_OGUE_END = {"e": "", "es": "s", "ed": "ed", "ing": "ing"}


@lru_cache(maxsize=100_000)
def normalise_spelling(word: str) -> str:
    """One spelling for a lower-case word written the UK or the US way (the US form, by rule)."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if len(word) < 4 or not word.isalpha():
        return word
    for uk, us in _DIGRAPHS:
        if uk in word:
            word = word.replace(uk, us)
    match = _IZE.match(word)
    if match and f"{match['base']}ise" not in _NOT_IZE and not match["base"].endswith("w"):
        return f"{match['base']}iz{match['end']}"
    match = _YZE.match(word)
    if match:
        return f"{match['base']}yz{match['end']}"
    match = _OUR.match(word)
    if match and f"{match['base']}our" not in _NOT_OUR:
        return f"{match['base']}or{match['end']}"
    match = _TRE.match(word)
    if match:
        return f"{match['base']}er{match['end'] if match['end'] != 'd' else 'ed'}"
    match = _OGUE.match(word)
    if match:
        return f"{match['base']}og{_OGUE_END[match['end']]}"
    match = _DOUBLE_L.match(word)
    if match:
        return f"{match['base']}l{match['end']}"
    for uk, us in (("llment", "lment"), ("llful", "lful"), ("dgement", "dgment"), ("gramme", "gram")):
        if word.endswith(uk) or word.endswith(uk + "s"):
            return word.replace(uk, us)
    return word


# ------------------------------------------------------------------ word forms

# Derived forms the stemmer leaves apart, joined by rule before stemming.
_FORMS = ((re.compile(r"^(?P<base>[a-z]+)izational(?:ly)?$"), r"\g<base>ization"),
          (re.compile(r"^(?P<base>(?!ab)[a-z]+)duction(?P<s>s?)$"), r"\g<base>duce\g<s>"),
          (re.compile(r"^(?P<base>[a-z]+)sumption(?P<s>s?)$"), r"\g<base>sume\g<s>"),
          (re.compile(r"^(?P<base>[a-z]+)(?P<c>cl|tr)usion(?P<s>s?)$"), r"\g<base>\g<c>ude\g<s>"),
          (re.compile(r"^(?P<base>[a-z]+)osure(?P<s>s?)$"), r"\g<base>ose\g<s>"))
_SNOWBALL = EnglishStemmer()


def _word_form(word: str) -> str:
    for pattern, replacement in _FORMS:
        if pattern.match(word):
            return pattern.sub(replacement, word)
    return word


def stem(word: str) -> str:
    """The index term for a lower-case, accent-folded word: one spelling, one word form, its stem."""
    return _SNOWBALL.stem(_word_form(normalise_spelling(word)))


def _analyzer(*, stemmed: bool):  # type: ignore[no-untyped-def]
    # Stop words as Whoosh's defaults, so "the" in a query never demands a match; accents folded
    # before stemming, so that a rule sees "naive" whether "naïve" or "naive" was written.
    chain = RegexTokenizer() | LowercaseFilter() | StopFilter() | CharsetFilter(accent_map)
    # An unbounded cache (a dict): one entry per distinct word of the collection and its queries.
    return chain | StemFilter(stemfn=stem, cachesize=-1) if stemmed else chain


STEMMED = _analyzer(stemmed=True)
# Words as written (lower case, accents folded): prefix and fuzzy terms, names.
PLAIN = _analyzer(stemmed=False)


def analyse(text: str, analyzer=STEMMED) -> list[str]:  # type: ignore[no-untyped-def]
    """The terms a text gives (the query side of `STEMMED` or `PLAIN`)."""
    return [t.text for t in analyzer(text, mode="query")]


# ------------------------------------------------------------------ word positions


def _encode_positions(positions: list[int]) -> bytes:
    return np.asarray(positions, "<u4").tobytes()


class WordPositions(Format):
    """Whoosh's Positions format, each posting's positions stored as little-endian 32-bit numbers.

    Whoosh's own Positions pickles every posting's list, so reading the positions of a
    common word means one unpickling per document.  Stored plainly, a block of postings
    decodes in one numpy call (library/ranking.py checks phrases so); Whoosh reads them
    through `decode_positions`, with the same numbers, frequencies and weights.
    """

    posting_size = -1
    textual = True
    __inittypes__ = dict(field_boost=float)

    def word_values(self, value, analyzer, **kwargs):  # type: ignore[no-untyped-def]
        positions: dict[str, list[int]] = defaultdict(list)
        weights: dict[str, float] = defaultdict(float)
        kwargs["positions"] = True
        kwargs["boosts"] = True
        for token in tokens(value, analyzer, kwargs):
            positions[token.text].append(token.pos)
            weights[token.text] += token.boost
        for word, found in positions.items():
            yield word, len(found), weights[word] * self.field_boost, _encode_positions(found)

    def decode_frequency(self, valuestring: bytes) -> int:
        return len(valuestring) // 4

    def decode_weight(self, valuestring: bytes) -> float:
        return self.decode_frequency(valuestring) * self.field_boost

    def decode_positions(self, valuestring: bytes) -> list[int]:
        return np.frombuffer(valuestring, "<u4").tolist()

    def decode_position_boosts(self, valuestring: bytes) -> list[tuple[int, int]]:
        return [(position, 1) for position in self.decode_positions(valuestring)]

    def combine(self, vs):  # type: ignore[no-untyped-def]
        return _encode_positions(sorted({p for v in vs for p in self.decode_positions(v)}))


def text_field(analyzer, *, stored: bool = False, field_boost: float = 1.0) -> TEXT:  # type: ignore[no-untyped-def]
    """A TEXT field with positions for phrases, kept as `WordPositions`."""
    field = TEXT(analyzer=analyzer, stored=stored, field_boost=field_boost)
    field.format = WordPositions(field_boost=field_boost)
    return field
