"""How text becomes terms (library.analysis): one spelling, one word form, exact positions.

Table-driven over the spellings advocates write; the rules are checked both ways
(UK and US forms meet) and against the words they must leave alone.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st
from whoosh import query as wq
from whoosh.fields import ID, TEXT, Schema
from whoosh.filedb.filestore import RamStorage
from whoosh.formats import Positions

import unicodedata

from whoosh.analysis import CharsetFilter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.support.charset import accent_map

from .conftest import REPO
from library.analysis import (FORMAT_CHARACTERS, IRREGULAR_FORMS, PLAIN, STEMMED, WordPositions, analyse,
                              drop_invisible, normalise_spelling, stem, text_field)

UK_US = [
    ("organisation", "organization"), ("organisational", "organizational"), ("organisations", "organizations"),
    ("traumatisation", "traumatization"), ("traumatised", "traumatized"), ("retraumatising", "retraumatizing"),
    ("recognise", "recognize"), ("recognised", "recognized"), ("prioritising", "prioritizing"),
    ("realisation", "realization"), ("minimise", "minimize"), ("criticise", "criticize"), ("utilise", "utilize"),
    ("behaviour", "behavior"), ("behavioural", "behavioral"), ("colourful", "colorful"), ("favourite", "favorite"),
    ("honourable", "honorable"), ("neighbourhood", "neighborhood"), ("labour", "labor"), ("tumour", "tumor"),
    ("centre", "center"), ("centres", "centers"), ("centred", "centered"), ("fibre", "fiber"), ("metre", "meter"),
    ("catalogue", "catalog"), ("dialogues", "dialogs"), ("catalogued", "cataloged"),
    ("counselling", "counseling"), ("counsellor", "counselor"), ("travelled", "traveled"), ("modelling", "modeling"),
    ("labelled", "labeled"), ("cancelled", "canceled"), ("signalling", "signaling"),
    ("enrolment", "enrollment"), ("fulfilment", "fulfillment"), ("skilful", "skillful"), ("wilful", "willful"),
    ("judgement", "judgment"), ("acknowledgements", "acknowledgments"), ("programme", "program"),
    ("programmes", "programs"), ("paediatric", "pediatric"), ("orthopaedic", "orthopedic"), ("anaemia", "anemia"),
    ("haemorrhage", "hemorrhage"), ("oestrogen", "estrogen"), ("foetal", "fetal"), ("diarrhoea", "diarrhea"),
    ("anaesthesia", "anesthesia"), ("analyse", "analyze"), ("analysed", "analyzed"), ("paralysing", "paralyzing"),
    ("ageing", "aging"), ("grey", "gray"), ("defence", "defense"), ("offences", "offenses"), ("licence", "license"),
    ("practise", "practice"), ("practising", "practicing"), ("burnt", "burned"), ("learnt", "learned"),
]

LEFT_ALONE = [
    "advise", "advised", "promise", "promising", "supervise", "supervisor", "exercise", "exercises", "surprise",
    "compromise", "enterprise", "franchise", "premises", "expertise", "raise", "praised", "wise", "otherwise",
    "likewise", "fundraiser", "arise", "rising", "noise", "treatise", "analysis", "crisis", "basis", "hours",
    "flour", "contour", "devour", "detour", "journey", "resource", "source", "your", "courage", "ogre", "acre",
    "genre", "timbre", "rogue", "vogue", "league", "telling", "spelling", "smaller", "controller", "filling",
    "filing", "willing", "evidence", "experience", "licensed", "trauma", "care",
]

SAME_TERM = [
    ("reduce", "reduction", "reducing", "reduced", "reductions"),
    ("nurse", "nurses", "nursing"),
    ("seclusion", "seclude", "secluded"),
    ("exclusion", "exclude", "excluded"),
    ("inclusion", "include"),
    ("disclosure", "disclose", "disclosed"),
    ("consumption", "consume"),
    ("organisation", "organisational", "organization", "organizational", "organisations"),
    ("traumatic", "traumatised", "traumatized"),
    ("trauma", "traumas"),
    ("counselling", "counseling", "counsel"),
    # Irregular forms, by the table (library.analysis.IRREGULAR_FORMS).  The verb of an -sis noun
    # meets the noun: "analyses" and "diagnoses" are written for both.
    ("analysis", "analyses", "analyse", "analysed", "analysing", "analyze", "analyzed", "analyzes", "analyzing"),
    ("metaanalysis", "metaanalyses"),
    ("diagnosis", "diagnoses", "diagnose", "diagnosed", "diagnosing"),
    ("crisis", "crises"), ("psychosis", "psychoses"), ("neurosis", "neuroses"), ("prognosis", "prognoses"),
    ("hypothesis", "hypotheses", "hypothesise", "hypothesized"), ("synthesis", "syntheses", "synthesised"),
    ("thesis", "theses"), ("emphasis", "emphases", "emphasise"), ("paralysis", "paralyses", "paralysed"),
    ("child", "children", "childrens"), ("woman", "women", "womens"), ("man", "men"),
    ("person", "people", "persons"), ("criterion", "criteria"), ("phenomenon", "phenomena"),
    ("curriculum", "curricula"), ("foot", "feet"), ("index", "indices", "indexes"),
    # -ses words that are not plurals of -sis nouns keep their own singular.
    ("dose", "doses"), ("cause", "causes"), ("purpose", "purposes"), ("base", "bases"), ("database", "databases"),
    ("response", "responses"), ("nurse", "nurses"), ("course", "courses"),
    # "lives" is also the verb: it stays with live and living.
    ("live", "lives", "living"),
]

DIFFERENT_TERMS = [("product", "produce"), ("abduction", "abduce"), ("filing", "filling"), ("timbre", "timber"),
                   ("advice", "advise"), ("bases", "basis"), ("doses", "diagnoses"), ("lives", "life"),
                   ("analyst", "analysis"), ("menus", "men"), ("these", "theses")]


@pytest.mark.parametrize(("uk", "us"), UK_US)
def test_uk_and_us_spellings_meet(uk: str, us: str) -> None:
    assert normalise_spelling(uk) == normalise_spelling(us)
    assert analyse(uk) == analyse(us) != []


@pytest.mark.parametrize("word", LEFT_ALONE)
def test_words_the_rules_leave_alone(word: str) -> None:
    assert normalise_spelling(word) == word


@pytest.mark.parametrize("forms", SAME_TERM)
def test_forms_of_a_word_meet(forms: tuple[str, ...]) -> None:
    assert len({stem(form) for form in forms}) == 1, {form: stem(form) for form in forms}


@pytest.mark.parametrize(("first", "second"), DIFFERENT_TERMS)
def test_words_that_only_look_alike_stay_apart(first: str, second: str) -> None:
    assert stem(first) != stem(second)


def test_text_is_lower_cased_accent_folded_stop_worded_and_split_at_hyphens() -> None:
    assert analyse("The Staff Well-Being of NAÏVE nurses") == ["staff", "well", "be", "naiv", "nurs"]
    assert analyse("Müller and O'Brien", PLAIN) == ["muller", "obrien"]


@pytest.mark.parametrize("text", ["meta-analyses", "Meta-Analysis", "meta-analysed"])
def test_a_hyphenated_irregular_form_meets_its_base(text: str) -> None:
    assert analyse(text) == ["meta", "analysi"]


def test_every_irregular_form_is_keyed_as_spelling_leaves_it() -> None:
    # stem() looks the table up after spelling normalisation: a key it would change is never found.
    assert all(normalise_spelling(form) == form for form in IRREGULAR_FORMS)
    assert all(stem(form) == stem(base) for form, base in IRREGULAR_FORMS.items())


# ---------------------------------------------------------------- invisible characters

# What text copied from PDFs and web pages carries inside words.
INVISIBLE = {"soft hyphen": "\u00ad", "zero-width space": "\u200b", "zero-width non-joiner": "\u200c",
             "zero-width joiner": "\u200d", "word joiner": "\u2060", "byte order mark": "\ufeff",
             "left-to-right mark": "\u200e"}


@pytest.mark.parametrize("char", INVISIBLE.values(), ids=INVISIBLE.keys())
@pytest.mark.parametrize("analyzer", [STEMMED, PLAIN], ids=["stemmed", "plain"])
def test_format_characters_inside_a_word_are_dropped(char: str, analyzer) -> None:  # type: ignore[no-untyped-def]
    written = f"{char}Trau{char}ma-in{char}formed ado{char}{char}lescents' O{char}'Connor{char}"
    assert analyse(written, analyzer) == analyse("Trauma-informed adolescents' O'Connor", analyzer)
    assert drop_invisible(written) == "Trauma-informed adolescents' O'Connor"


def test_the_format_characters_are_unicodes_category_cf() -> None:
    dropped = {c for c in range(0x110000) if drop_invisible(chr(c)) == ""}
    assert dropped == {c for c in range(0x110000) if unicodedata.category(chr(c)) == "Cf"}
    assert FORMAT_CHARACTERS  # the character class stemmed and plain text share


# ---------------------------------------------------------------- apostrophes

NAMES = ["O'Connor", "O’Connor", "O‘Connor", "Oʼconnor", "OConnor", "oconnor"]


@pytest.mark.parametrize("written", NAMES)
@pytest.mark.parametrize("analyzer", [STEMMED, PLAIN], ids=["stemmed", "plain"])
def test_a_name_with_an_apostrophe_is_one_word_typed_with_either_or_none(  # type: ignore[no-untyped-def]
        written: str, analyzer) -> None:
    assert analyse(written, analyzer) == ["oconnor"]


@pytest.mark.parametrize(("text", "indexed", "asked"), [
    # The index holds an apostrophe word's parts at its position; a query asks for the whole
    # word only ("O'Connor" is not any Connor, but "Connor" finds O'Connor).
    ("O'Connor and Smith", [("oconnor", 0), ("connor", 0), ("smith", 1)], ["oconnor", "smith"]),
    ("D’Souza, M.", [("dsouza", 0), ("souza", 0)], ["dsouza"]),
    ("staff don't report", [("staff", 0), ("dont", 1), ("don", 1), ("report", 2)], ["staff", "dont", "report"]),
    # A final 's is dropped: a possessive, or "it's" (the stop word "it"; positions count from the first kept).
    ("children's services", [("child", 0), ("servic", 1)], ["child", "servic"]),
    ("Müller's team", [("muller", 0), ("team", 1)], ["muller", "team"]),
    ("it's burnout", [("burnout", 1)], ["burnout"]),
])
def test_an_apostrophe_word_is_indexed_whole_and_by_its_parts(text: str, indexed: list, asked: list) -> None:
    assert [(t.text, t.pos) for t in STEMMED(text, mode="index", positions=True)] == indexed
    assert analyse(text) == asked


_PLAIN_TEXTS = st.text(alphabet=st.characters(categories=("L", "N", "P", "Zs", "S"),
                                              exclude_characters=FORMAT_CHARACTERS + "'’‘ʼ"), max_size=60)


@settings(max_examples=300, deadline=None)
@given(_PLAIN_TEXTS)
def test_text_without_format_characters_or_apostrophes_is_read_as_whooshs_tokenizer_reads_it(text: str) -> None:
    for ours, stemmed in ((STEMMED, True), (PLAIN, False)):
        chain = RegexTokenizer() | LowercaseFilter() | StopFilter() | CharsetFilter(accent_map)
        theirs = chain | StemFilter(stemfn=stem) if stemmed else chain
        for mode, removestops in (("index", True), ("query", True), ("index", False)):
            options = dict(mode=mode, positions=True, chars=True, removestops=removestops)
            assert ([(t.text, t.pos, t.startchar, t.endchar, t.stopped) for t in ours(text, **options)]
                    == [(t.text, t.pos, t.startchar, t.endchar, t.stopped) for t in theirs(text, **options)])


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(categories=("Ll", "Lu")), min_size=1, max_size=14))
def test_normalising_is_idempotent(word: str) -> None:
    once = normalise_spelling(word.lower())
    assert normalise_spelling(once) == once


# ---------------------------------------------------------------- positions kept as plain numbers

_TEXTS = st.lists(st.sampled_from("trauma informed care staff the of burnout mental health services a "
                                  "well-being reduce reduction nurse".split()), min_size=0, max_size=30).map(" ".join)


@settings(max_examples=100, deadline=None)
@given(_TEXTS)
def test_word_positions_index_what_whooshs_positions_index(text: str) -> None:
    ours = {word: (freq, weight, WordPositions(field_boost=2.0).decode_positions(value))
            for word, freq, weight, value in WordPositions(field_boost=2.0).word_values(text, STEMMED, mode="index")}
    whoosh = {word: (freq, weight, Positions(field_boost=2.0).decode_positions(value))
              for word, freq, weight, value in Positions(field_boost=2.0).word_values(text, STEMMED, mode="index")}
    assert ours == whoosh


def test_whoosh_finds_phrases_in_word_positions_as_in_its_own() -> None:
    texts = ["trauma informed care for staff", "care informed by trauma", "staff trauma and informed care",
             "trauma trauma informed", "mental health services and mental health"]
    found = {}
    for name, field in (("ours", text_field(STEMMED)), ("whoosh", TEXT(analyzer=STEMMED))):
        ix = RamStorage().create_index(Schema(key=ID(stored=True), body=field))
        with ix.writer() as writer:
            for number, text in enumerate(texts):
                writer.add_document(key=str(number), body=text)
        with ix.searcher() as searcher:
            found[name] = [sorted((hit["key"], hit.score) for hit in searcher.search(wq.Phrase("body", words)))
                           for words in (["trauma", "inform"], ["inform", "care"], ["trauma", "trauma"],
                                         ["mental", "health", "servic"], ["health", "mental"])]
    assert found["ours"] == found["whoosh"]
    # "and" is a stop word, so "trauma and informed" is "trauma informed"; "health mental" is nowhere.
    assert [len(hits) for hits in found["ours"]] == [3, 2, 1, 1, 0]


# ---------------------------------------------------------------- snippets: the analyzers' tokens, quicker

_PROSE = st.lists(st.one_of(st.sampled_from(["The", "trauma-informed", "Müller's", "e.g.", "well-being", "U.K.",
                                             "organisational", "a", "I", "x2", "***", "naïve", "STAFF", "burnt",
                                             "O’Connor", "it's", "don't", "children's", "trau\u00adma", "analyses",
                                             "\ufeffcare", "in\u200bformed", "'s", "rock'n'roll"]),
                            st.text(alphabet=st.characters(categories=("L", "N", "P", "Zs")), max_size=8)),
                  max_size=25).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(_PROSE)
def test_snippet_tokens_are_the_analyzers_tokens(text: str) -> None:
    from library.search import highlight_tokens

    for analyzer, stemmed in ((STEMMED, True), (PLAIN, False)):
        indexed = [(t.text, t.startchar, t.endchar) for t in analyzer(text, chars=True, mode="index",
                                                                        removestops=False) if not t.stopped]
        # The parts of an apostrophe word follow it, at its place: one token here, for the word.
        expected, parts = [], {}
        for i, t in enumerate(indexed):
            if i and (t[1], t[2]) == (indexed[i - 1][1], indexed[i - 1][2]):
                parts.setdefault((t[1], t[2]), []).append(t[0])
            else:
                expected.append(t)
        fast = [(t.text, t.startchar, t.endchar) for t in highlight_tokens(text, frozenset(), stemmed)]
        stopped = {(t.startchar, t.endchar) for t in analyzer(text, chars=True, mode="index", removestops=False)
                   if t.stopped}
        assert [t for t in fast if (t[1], t[2]) not in stopped] == expected
        # A match on a part ("connor") marks the whole word.
        for (start, end), texts in parts.items():
            marked = highlight_tokens(text, frozenset(texts[:1]), stemmed)
            assert (start, end) in [(t.startchar, t.endchar) for t in marked if t.matched]


# Words the stemmer joins to words of another meaning, kept apart by OWN_STEMS; and forms that still meet.
@pytest.mark.parametrize(("first", "second"), [
    ("experiment", "experience"), ("experiments", "experiences"), ("organ", "organisation"),
    ("organs", "organizations"), ("organ", "organic"), ("organ", "organism"), ("polite", "political"),
    ("politeness", "politics"), ("intern", "internal"), ("intern", "international"), ("internal", "international"),
    ("internal", "internalised"), ("universal", "university"), ("universal", "universities"),
    ("several", "severe"), ("public", "publication"), ("person", "personality"), ("author", "authority"),
    ("emergency", "emerging"), ("medication", "medical"),
])
def test_words_the_stemmer_would_join_stay_apart(first: str, second: str) -> None:
    assert analyse(first) != analyse(second)


@pytest.mark.parametrize("forms", [
    ("experience", "experiences", "experienced", "experiencing", "experiential"),
    ("experiment", "experiments", "experimental", "experimentally"),
    ("organisation", "organisations", "organisational", "organization", "organizational", "organised", "organize"),
    ("organ", "organs"), ("international", "internationally"), ("university", "universities"),
    ("politics", "political", "politically"), ("polite", "politely", "politeness"), ("internal", "internally"),
    ("internalised", "internalized", "internalisation"), ("severe", "severely"),
    ("personality", "personalities"), ("authority", "authorities"), ("emergency", "emergencies"),
    ("medication", "medications"), ("publication", "publications"),
])
def test_forms_kept_apart_from_others_still_meet(forms: tuple[str, ...]) -> None:
    assert len({tuple(analyse(form)) for form in forms}) == 1, {form: analyse(form) for form in forms}


def test_no_other_word_of_the_collection_is_stemmed_to_an_own_stem() -> None:
    from library.analysis import OWN_STEMS, _word_form, normalise_spelling, stem
    words = set()
    for path in (REPO / "references").glob("*.bib"):
        words.update(analyse(path.read_text(encoding="utf-8"), PLAIN))
    own = set(OWN_STEMS.values())
    strays = {w: stem(w) for w in words if stem(w) in own and _word_form(normalise_spelling(w)) not in OWN_STEMS}
    assert strays == {}


@pytest.mark.parametrize(("text", "terms"), [
    ("US policy", ["usa", "polici"]), ("USA", ["usa"]), ("us policy", ["polici"]), ("Us", []),
    ("a US-based study", ["usa", "base", "studi"]),
])
def test_us_in_capitals_is_the_word_usa(text: str, terms: list[str]) -> None:
    assert analyse(text) == terms
