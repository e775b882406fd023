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
- irregular forms no rule can join safely meet by a short table of the ones
  health and research writing uses (analysis/analyses, crisis/crises,
  child/children, woman/women, person/people, criterion/criteria), and the verb
  of an -sis noun meets the noun (analyse/analysed/analysis, diagnosed/diagnosis),
  which also settles "analyses", written for both;
- words the stemmer would join to words of another meaning keep stems of their
  own (`OWN_STEMS`: experiment/experience, organ/organisation, polite/political,
  intern/internal/international, universal/university, severe/several...);
- invisible format characters (soft hyphen, zero-width space, word joiner, byte
  order mark: Unicode's category Cf) are dropped, so a word copied from a PDF with
  one inside is still that word; a name or word with an apostrophe (O'Connor,
  O’Connor) is one word, found without it ("oconnor"), and in the index also by
  its parts ("connor"); a final "'s" is dropped (children's, women's);
- "US" written in capitals is the United States, the word "USA" (`CAPITALS`),
  not the common word "us" the index leaves out;
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
from whoosh.analysis import STOP_WORDS, CharsetFilter, LowercaseFilter, StemFilter, StopFilter, Tokenizer
from whoosh.analysis.acore import Token
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


# ------------------------------------------------------------------ irregular forms

# Nouns in -sis with plurals in -ses.  A list, not a rule: "doses", "causes", "purposes" and
# "bases" (of base: "evidence bases", "databases") are not plurals of -sis nouns.
_SIS_NOUNS = """
analysis metaanalysis psychoanalysis diagnosis crisis psychosis neurosis hypothesis synthesis thesis
antithesis prognosis emphasis paralysis dialysis metastasis prosthesis parenthesis synopsis thrombosis
stenosis fibrosis sclerosis ellipsis catharsis hypnosis
""".split()
# Verbs that name the act of one of those nouns.  Their forms meet the noun ("analysed" finds
# "analysis"): someone searching "analyse" wants the analyses too, and "analyses" and "diagnoses"
# are written both as verbs and as plural nouns, so only one term can serve both.
_SIS_VERBS = {"analyse": "analysis", "psychoanalyse": "psychoanalysis", "diagnose": "diagnosis",
              "hypothesise": "hypothesis", "synthesise": "synthesis", "emphasise": "emphasis",
              "paralyse": "paralysis", "dialyse": "dialysis", "metastasise": "metastasis"}
# Other plurals no rule makes, as health and research writing uses them.  Not "lives" (also the
# verb: "lives with dementia" must still meet "living with dementia"), nor "leaves" (sick leave).
_PLURALS = {
    "children": "child", "grandchildren": "grandchild", "stepchildren": "stepchild",
    "schoolchildren": "schoolchild", "women": "woman", "men": "man", "people": "person",
    "peoples": "person", "feet": "foot", "teeth": "tooth", "mice": "mouse", "geese": "goose",
    "selves": "self", "wives": "wife", "knives": "knife", "halves": "half", "calves": "calf",
    "criteria": "criterion", "phenomena": "phenomenon", "curricula": "curriculum", "stimuli": "stimulus",
    "bacteria": "bacterium", "fungi": "fungus", "nuclei": "nucleus", "foci": "focus", "loci": "locus",
    "radii": "radius", "appendices": "appendix", "indices": "index", "matrices": "matrix",
    "vertices": "vertex", "formulae": "formula", "vertebrae": "vertebra", "strata": "stratum",
    "memoranda": "memorandum", "symposia": "symposium", "spectra": "spectrum", "corpora": "corpus",
    "genera": "genus", "syllabi": "syllabus", "alumni": "alumnus",
    # The possessive with its apostrophe left out ("childrens services").
    "childrens": "child", "womens": "woman", "mens": "man",
}


def _irregular_forms() -> dict[str, str]:
    forms = dict(_PLURALS)
    for noun in _SIS_NOUNS:
        forms[noun[:-3] + "ses"] = noun
    for verb, noun in _SIS_VERBS.items():
        for form in (verb, verb + "d", verb + "s", verb[:-1] + "ing"):
            forms[form] = noun
    # Keyed as spelling normalisation leaves them ("analyses" is "analyzes" by then), so that the
    # UK and US forms of each meet the same noun.
    return {normalise_spelling(form): base for form, base in forms.items()}


IRREGULAR_FORMS = _irregular_forms()


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


# Words the stemmer would join to words of another meaning, each family with a stem of its own
# (written UK or US: keyed as spelling and word forms leave them).  Only collisions that matter in
# health and research writing: "experiment" is not "experience" (the stemmer makes both "experi",
# and leaves "experienced" apart from "experience"), an "organ" is not an "organisation", nor
# "organic" or an "organism"; "polite" is not "political", an "intern" not "internal" nor
# "international", "internalised" (stigma) not "internal"; "universal" is not "university";
# "severe" is not "several", "public" not "publication", "personality" (disorder) not "person",
# "authority" not "author", "emergency" not "emerging", "medication" not "medical".
_OWN_STEMS = {
    "experienc": "experience experiences experienced experiencing experiential",
    "experiment": "experiment experiments experimented experimenting experimental experimentally "
                  "experimentation",
    "organiz": "organisation organisations organisational organisationally organise organises organised "
               "organising organiser organisers",
    "organic": "organic organically",
    "organism": "organism organisms",
    "polite": "polite politely politeness impolite",
    "internal": "internal internally",
    "internaliz": "internalise internalises internalised internalising internalisation",
    "internation": "international internationally internationalise internationalised",
    "universal": "universal universally universality",
    "universiti": "university universities",
    "several": "several",
    "publicat": "publication publications",
    "personality": "personality personalities",
    "authoriti": "authority authorities",
    "emergenc": "emergency emergencies",
    "medicat": "medication medications medicate medicated medicating",
}


def _own_stems() -> dict[str, str]:
    forms = {}
    for own, words in _OWN_STEMS.items():
        for word in words.split():
            forms[_word_form(normalise_spelling(word))] = own
    return forms


OWN_STEMS = _own_stems()


def stem(word: str) -> str:
    """The index term for a lower-case, accent-folded word: one spelling, one word form, its stem."""
    spelled = normalise_spelling(word)
    formed = _word_form(IRREGULAR_FORMS.get(spelled, spelled))
    own = OWN_STEMS.get(formed)
    return own if own is not None else _SNOWBALL.stem(formed)


# ------------------------------------------------------------------ words in a text

# Unicode's format characters (category Cf, as Python 3.11's Unicode 14 lists them), as the body of a
# regular-expression character class: soft hyphen, zero-width space and joiners, direction marks, word
# joiner, byte order mark, tags...  Invisible; text copied from PDFs and web pages carries them inside words.
FORMAT_CHARACTERS = ("\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f"
                     "\u202a-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb\U000110bd\U000110cd"
                     "\U00013430-\U00013438\U0001bca0-\U0001bca3\U0001d173-\U0001d17a\U000e0001"
                     "\U000e0020-\U000e007f")
_INVISIBLE = re.compile(f"[{FORMAT_CHARACTERS}]+")
_APOSTROPHES = "'\u2019\u2018\u02bc"  # typewriter, typographic, left quote typed for one, modifier letter
_TO_APOSTROPHE = str.maketrans({c: "'" for c in _APOSTROPHES[1:]})
# Whoosh's RegexTokenizer expression ([\w*]+(\.?[\w*]+)*), with format characters inside a word
# and an apostrophe between two parts of it (O'Connor) kept in the word.
WORD = re.compile(f"[\\w*]+(?:[{FORMAT_CHARACTERS}]*[.{_APOSTROPHES}]?[{FORMAT_CHARACTERS}]*[\\w*]+)*")
_SPECIAL = re.compile(f"[{FORMAT_CHARACTERS}{_APOSTROPHES}]")
# `WORD` for a text without those characters (the same matches, found sooner).
_SIMPLE_WORD = re.compile(r"[\w*]+(?:\.?[\w*]+)*")


def needs_splitting(text: str) -> bool:
    """Whether a text holds a format character or an apostrophe (else `split_word` leaves its words as found)."""
    return "'" in text if text.isascii() else _SPECIAL.search(text) is not None


def drop_invisible(text: str) -> str:
    """The text without its format characters (see FORMAT_CHARACTERS)."""
    return _INVISIBLE.sub("", text)


def split_word(written: str) -> tuple[str, tuple[str, ...]]:
    """A word as `WORD` found it: the word to index, and its parts when apostrophes joined some.

    "O’Connor" gives ("O'Connor" without the apostrophe, ("O", "Connor")); "children's" gives
    ("children", ()); a soft hyphen or zero-width space inside is dropped.
    """
    if not needs_splitting(written):
        return written, ()
    word = drop_invisible(written).translate(_TO_APOSTROPHE)
    if word[-2:] in ("'s", "'S"):
        word = word[:-2]
    if "'" not in word:
        return word, ()
    parts = tuple(part for part in word.split("'") if part)
    return "".join(parts), parts


# Words that mean something else in capitals than the common word they are in lower case, and
# the word they stand for there: "US" is the United States ("US policy"), "us" a stop word.
# Only as written in capitals, in texts and searches alike.
CAPITALS = {"US": "USA"}


class WordTokenizer(Tokenizer):
    """Whoosh's RegexTokenizer with `WORD` and `split_word`: format characters dropped, apostrophes joined.

    When indexing, the parts of an apostrophe word follow it, marked `part`, so that the index
    holds them at its position too ("connor" for O'Connor).  Only the whole word stands for it
    in a query: "O'Connor" asks for O'Connor, not any Connor; "Connor" finds O'Connor by its part.
    """

    def __call__(self, value, positions=False, chars=False,  # type: ignore[no-untyped-def]
                 keeporiginal=False, removestops=True, start_pos=0, start_char=0, tokenize=True, mode="", **kwargs):
        token = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        token.part = False
        if not tokenize:
            token.original = token.text = value
            token.boost = 1.0
            if positions:
                token.pos = start_pos
            if chars:
                token.startchar, token.endchar = start_char, start_char + len(value)
            yield token
            return
        if not needs_splitting(value):
            # Most texts hold neither format characters nor apostrophes: Whoosh's own loop.
            for pos, match in enumerate(_SIMPLE_WORD.finditer(value)):
                text = match.group()
                token.text = CAPITALS.get(text, text)
                token.boost = 1.0
                if keeporiginal:
                    token.original = token.text
                token.stopped = False
                if positions:
                    token.pos = start_pos + pos
                if chars:
                    token.startchar = start_char + match.start()
                    token.endchar = start_char + match.end()
                yield token
            return
        indexing = mode == "index"
        for pos, match in enumerate(WORD.finditer(value)):
            token.text, parts = split_word(match.group())
            token.text = CAPITALS.get(token.text, token.text)
            token.part = False
            token.boost = 1.0
            if keeporiginal:
                token.original = token.text
            token.stopped = False
            if positions:
                token.pos = start_pos + pos
            if chars:
                token.startchar = start_char + match.start()
                token.endchar = start_char + match.end()
            yield token
            if parts and indexing:
                for part in dict.fromkeys(parts):
                    token.text, token.part, token.stopped = part, True, False
                    if keeporiginal:
                        token.original = part
                    if positions:
                        token.pos = start_pos + pos
                    yield token


class WordStopFilter(StopFilter):
    """Whoosh's StopFilter (stop words out, positions renumbered without them), where a word's parts
    keep its position, and are left out with it or when they are stop words themselves."""

    def __call__(self, tokens):  # type: ignore[no-untyped-def]
        stoplist, minsize = self.stops, self.min
        pos = None
        kept = False  # the last whole word, for its parts
        for t in tokens:
            text = t.text
            if t.part:
                if kept and len(text) >= minsize and text not in stoplist:
                    if t.positions:
                        t.pos = pos
                    yield t
                continue
            if len(text) >= minsize and text not in stoplist:
                if t.positions:
                    if pos is None:
                        pos = t.pos
                    else:
                        pos += 1
                        t.pos = pos
                t.stopped = False
                kept = True
                yield t
            else:
                kept = False
                if not t.removestops:
                    t.stopped = True
                    yield t


def part_texts(parts: tuple[str, ...]) -> list[str]:
    """The parts of an apostrophe word the index holds (see WordTokenizer), as `PLAIN` makes them."""
    out = []
    for part in parts:
        text = part.lower()
        if len(text) >= 2 and text not in STOP_WORDS:
            text = text.translate(accent_map)
            if text not in out:
                out.append(text)
    return out


def _analyzer(*, stemmed: bool):  # type: ignore[no-untyped-def]
    # Stop words as Whoosh's defaults, so "the" in a query never demands a match; accents folded
    # before stemming, so that a rule sees "naive" whether "naïve" or "naive" was written.
    chain = WordTokenizer() | LowercaseFilter() | WordStopFilter() | CharsetFilter(accent_map)
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
