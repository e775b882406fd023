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

from library.analysis import PLAIN, STEMMED, WordPositions, analyse, normalise_spelling, stem, text_field

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
]

DIFFERENT_TERMS = [("product", "produce"), ("abduction", "abduce"), ("filing", "filling"), ("timbre", "timber"),
                   ("analysis", "analyse"), ("advice", "advise")]


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
    assert analyse("Müller and O'Brien", PLAIN) == ["muller", "brien"]  # "o" is too short to keep


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
                                             "organisational", "a", "I", "x2", "***", "naïve", "STAFF", "burnt"]),
                            st.text(alphabet=st.characters(categories=("L", "N", "P", "Zs")), max_size=8)),
                  max_size=25).map(" ".join)


@settings(max_examples=300, deadline=None)
@given(_PROSE)
def test_snippet_tokens_are_the_analyzers_tokens(text: str) -> None:
    from library.search import highlight_tokens

    for analyzer, stemmed in ((STEMMED, True), (PLAIN, False)):
        expected = [(t.text, t.startchar, t.endchar) for t in analyzer(text, chars=True, mode="index",
                                                                         removestops=False) if not t.stopped]
        fast = [(t.text, t.startchar, t.endchar) for t in highlight_tokens(text, frozenset(), stemmed)]
        stopped = {(t.startchar, t.endchar) for t in analyzer(text, chars=True, mode="index", removestops=False)
                   if t.stopped}
        assert [t for t in fast if (t[1], t[2]) not in stopped] == expected
