"""How text becomes search terms: spelling, word forms, stemming, and pairs of words for phrases.

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
- each pair of adjacent words of a text field is also indexed as one term with
  its position, so that a phrase is found exactly from pairs (see
  `library/ranking.py`).

Compound words ("burn out" / "burn-out" / "burnout") are handled when a query
is read (`library/query.py`), where the words of the collection are known.
"""

from __future__ import annotations

import re
from collections import defaultdict
from functools import lru_cache

import numpy as np
from whoosh.analysis import CharsetFilter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter, Token, Tokenizer
from whoosh.fields import FieldType
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
    return chain | StemFilter(stemfn=stem, cachesize=100_000) if stemmed else chain


STEMMED = _analyzer(stemmed=True)
# Words as written (lower case, accents folded): prefix and fuzzy terms, names.
PLAIN = _analyzer(stemmed=False)


def analyse(text: str, analyzer=STEMMED) -> list[str]:  # type: ignore[no-untyped-def]
    """The terms a text gives (the query side of `STEMMED` or `PLAIN`)."""
    return [t.text for t in analyzer(text, mode="query")]


# ------------------------------------------------------------------ word pairs for phrases

# The fields whose phrases are found from pairs, the letter that marks each in a pair term,
# and the analyzer of the field itself (a pair is two of that field's terms).
PAIR_FIELDS = {"title": "t", "finding": "f", "abstract": "a", "keywords": "k", "topics": "s",
               "authors": "u", "venue": "v"}
_PLAIN_FIELDS = frozenset({"authors", "venue"})


def pair_term(fieldname: str, first: str, second: str) -> str:
    """The term for two adjacent terms of a field: exact, one term per pair."""
    return f"{PAIR_FIELDS[fieldname]}:{first} {second}"


def pairs_value(fields: dict[str, str]) -> str:
    """The pairs of adjacent terms of several fields, one "position term" per line, for the pairs field.

    A pair is made where the field's own analysis puts two terms at consecutive positions
    (stop words are taken out and the rest renumbered, as in the field), and it stands at the
    first term's position, counted on from the fields before it, so that a phrase of three
    words or more can be checked pair after pair.
    """
    lines: list[str] = []
    base = 0
    for name, text in fields.items():
        if not text:
            continue
        analyzer = PLAIN if name in _PLAIN_FIELDS else STEMMED
        code = PAIR_FIELDS[name]
        previous, previous_pos, last = None, -2, -1
        for token in analyzer(text, positions=True, mode="index"):
            if previous is not None and token.pos == previous_pos + 1:
                lines.append(f"{base + previous_pos} {code}:{previous} {token.text}")
            previous, previous_pos, last = token.text, token.pos, max(last, token.pos)
        base += last + 2
    return "\n".join(lines)


class _PairTokenizer(Tokenizer):
    """Reads what `pairs_value` wrote: one token per line, at the position the line gives."""

    def __call__(self, value, positions=False, chars=False, keeporiginal=False, removestops=True,  # type: ignore[no-untyped-def]
                 start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        for line in value.splitlines():
            position, _, term = line.partition(" ")
            token.text, token.boost, token.stopped = term, 1.0, False
            if positions:
                token.pos = int(position)
            if chars:
                token.startchar = token.endchar = 0
            yield token


class PairPositions(Format):
    """Each posting's positions as little-endian 32-bit numbers, so that a block decodes in one numpy call.

    Whoosh never runs phrase queries on the pairs field; `library/ranking.py` reads these
    positions to check phrases of three or more words.
    """

    posting_size = -1
    __inittypes__ = dict(field_boost=float)

    def word_values(self, value, analyzer, **kwargs):  # type: ignore[no-untyped-def]
        positions: dict[str, list[int]] = defaultdict(list)
        kwargs["positions"] = True
        for token in tokens(value, analyzer, kwargs):
            positions[token.text].append(token.pos)
        for word, found in positions.items():
            yield word, len(found), float(len(found)) * self.field_boost, np.asarray(found, "<u4").tobytes()

    def decode_frequency(self, valuestring: bytes) -> int:
        return len(valuestring) // 4

    def decode_weight(self, valuestring: bytes) -> float:
        return self.decode_frequency(valuestring) * self.field_boost

    def decode_positions(self, valuestring: bytes) -> list[int]:
        return np.frombuffer(valuestring, "<u4").tolist()


def pairs_field() -> FieldType:
    """The field of word pairs (its value from `pairs_value`): indexed, neither stored nor scored."""
    return FieldType(PairPositions(), _PairTokenizer(), scorable=False, stored=False)
