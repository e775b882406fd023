"""Search semantics over a small fixed collection (library.search).

tests/data/search-collection holds 16 fictional references (one per year, 2008-2023)
and a two-level vocabulary; every expectation below can be checked by reading them.
"""

from __future__ import annotations

import re
import shutil

import pytest
from hypothesis import given, settings, strategies as st

from library import Library, SearchRequest, SearchResult, Settings
from library.search import plain_words

from .conftest import DATA, REPO

COLLECTION = DATA / "search-collection"

YEARS = {
    "adebayo2008reflective": 2008, "bramwell2009counting": 2009, "castellanos2010exhaustion": 2010,
    "dlamini2011consent": 2011, "eriksen2012restraint": 2012, "fontaine2013leaders": 2013,
    "gallagher2014course": 2014, "haddad2015safeguarding": 2015, "ito2016compassion": 2016,
    "jansen2017review": 2017, "kowalski2018trainee": 2018, "muller2019night": 2019,
    "nakamura2020managers": 2020, "osei2021guidance": 2021, "petrov2022turnover": 2022,
    "quispe2023simulation": 2023,
}
NEWEST_FIRST = sorted(YEARS, key=YEARS.get, reverse=True)  # type: ignore[arg-type]
BURNOUT = {"castellanos2010exhaustion", "ito2016compassion", "muller2019night"}
TRAINING = {"gallagher2014course", "jansen2017review", "nakamura2020managers", "quispe2023simulation"}


def between(first: int, last: int) -> set[str]:
    return {key for key, year in YEARS.items() if first <= year <= last}


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Library:
    root = tmp_path_factory.mktemp("search")
    shutil.copytree(COLLECTION, root / "references")
    lib = Library(Settings.from_env(references_dir=root / "references", index_dir=root / "index",
                                    data_dir=root / "data"))
    assert lib.index.doc_count() == len(YEARS)
    return lib


def keys(result: SearchResult) -> set[str]:
    return {hit.key for hit in result.hits}


def test_the_fixture_collection_is_valid(library: Library) -> None:
    report = library.check()
    assert report.count == len(YEARS) and not report.problems


# ---------------------------------------------------------------- query syntax


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("burnout", BURNOUT),
        ("BURNOUT", BURNOUT),
        ("burnout nurses", {"castellanos2010exhaustion", "ito2016compassion"}),  # AND between words
        ("burnout AND nurses", {"castellanos2010exhaustion", "ito2016compassion"}),
        ("trauma informed care", {"jansen2017review", "dlamini2011consent", "nakamura2020managers"}),
        ('"trauma informed care"', {"jansen2017review"}),  # the phrase, not the words scattered
        ('"informed consent"', {"dlamini2011consent"}),
        ("title:burnout", {"ito2016compassion", "muller2019night"}),  # castellanos: abstract only
        ("title:(burnout OR exhaustion)", BURNOUT),
        ("author:okafor", {"fontaine2013leaders", "ito2016compassion"}),
        ("by:okafor", {"fontaine2013leaders", "ito2016compassion"}),
        ("author:Hughes-Barra", {"castellanos2010exhaustion"}),
        ("okafor", {"fontaine2013leaders", "ito2016compassion"}),  # authors are searched by default
        # A parent theme finds its children's references.
        ("theme:staff-wellbeing", BURNOUT | {"adebayo2008reflective", "kowalski2018trainee", "petrov2022turnover"}),
        ("theme:burnout", BURNOUT),
        ("theme:implementation", TRAINING | {"fontaine2013leaders"}),
        ("theme:costs", set()),
        ("type:trial", {"gallagher2014course", "nakamura2020managers", "quispe2023simulation"}),
        ("evidence:guidance", {"osei2021guidance"}),
        ("setting:children-young-people", {"eriksen2012restraint", "osei2021guidance"}),
        ("year:2016", {"ito2016compassion"}),
        ("year:[2015 TO 2020]", between(2015, 2020)),
        ("year:>2018", between(2019, 2023)),
        ("year:>=2018", between(2018, 2023)),
        ("year:<2010", between(2008, 2009)),
        ("year:<=2010", between(2008, 2010)),
        ("year:[TO 2009]", between(2008, 2009)),
        ("year:[2021 TO]", between(2021, 2023)),
        ("burnout year:<2017", {"castellanos2010exhaustion", "ito2016compassion"}),
        ("trainin*", TRAINING),  # but not "trainee"
        ("traine*", {"kowalski2018trainee"}),  # the prefix as typed, not its stem "train"
        ("early*", {"adebayo2008reflective", "kowalski2018trainee"}),  # not "earli*"
        ("nurs*", {"castellanos2010exhaustion", "ito2016compassion"}),
        ("Müll*", {"muller2019night"}),
        ("title:simul*", {"quispe2023simulation"}),
        ("traning~", TRAINING),
        # jansen2017review is tagged Leadership: theme labels are searched too.
        ("leadershp~", {"fontaine2013leaders", "nakamura2020managers", "jansen2017review"}),
        ("burnout NOT nurses", {"muller2019night"}),
        ("restraint NOT simulation", {"eriksen2012restraint", "osei2021guidance"}),
        # quispe and osei are tagged "Restraint and seclusion": theme labels are searched too.
        ("seclusion OR vicarious", {"eriksen2012restraint", "adebayo2008reflective", "kowalski2018trainee",
                                    "quispe2023simulation", "osei2021guidance"}),
        ("(restraint OR burnout) AND type:quantitative", BURNOUT | {"eriksen2012restraint"}),
        # Accents fold both ways.
        ("muller", {"muller2019night"}),
        ("Müller", {"muller2019night"}),
        ("author:MULLER", {"muller2019night"}),
        # Stemming: forms of a word find each other.
        ("nurse", {"castellanos2010exhaustion", "ito2016compassion"}),
        ("the burnout", BURNOUT),  # stop words demand nothing
        ("zzzzqqq", set()),
    ],
)
def test_query(library: Library, query: str, expected: set[str]) -> None:
    result = library.search(query, per_page=100)
    assert keys(result) == expected
    assert result.total == len(expected)
    assert result.notice is None


def test_title_matches_rank_above_abstract_matches(library: Library) -> None:
    hits = library.search("burnout").hits
    assert hits[-1].key == "castellanos2010exhaustion"  # the only one without burnout in its title
    scores = [hit.score for hit in hits]
    assert all(score is not None for score in scores)
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]


# ---------------------------------------------------------------- filters


@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (SearchRequest(themes=("burnout",)), BURNOUT),
        (SearchRequest(themes=("staff-wellbeing",)), BURNOUT | {"adebayo2008reflective", "kowalski2018trainee",
                                                                "petrov2022turnover"}),
        (SearchRequest(themes=("burnout", "leadership")), BURNOUT | {"fontaine2013leaders", "jansen2017review",
                                                                     "nakamura2020managers"}),
        (SearchRequest(themes=("training", "leadership"), theme_mode="all"), {"jansen2017review",
                                                                              "nakamura2020managers"}),
        (SearchRequest(themes=("training", "restraint-seclusion"), theme_mode="all"), {"quispe2023simulation"}),
        (SearchRequest(themes=("implementation", "outcomes"), theme_mode="all"), {"quispe2023simulation"}),
        (SearchRequest(themes=("costs",)), set()),
        (SearchRequest(evidence_types=("trial",)), {"gallagher2014course", "nakamura2020managers",
                                                    "quispe2023simulation"}),
        (SearchRequest(evidence_types=("trial", "guidance")), {"gallagher2014course", "nakamura2020managers",
                                                               "quispe2023simulation", "osei2021guidance"}),
        (SearchRequest(settings=("children-young-people",)), {"eriksen2012restraint", "osei2021guidance"}),
        (SearchRequest(year_from=2015, year_to=2016), {"haddad2015safeguarding", "ito2016compassion"}),
        (SearchRequest(year_from=2016, year_to=2015), {"haddad2015safeguarding", "ito2016compassion"}),
        (SearchRequest(year_from=2022), {"petrov2022turnover", "quispe2023simulation"}),
        (SearchRequest(year_to=2009), {"adebayo2008reflective", "bramwell2009counting"}),
        (SearchRequest(year_from=1900, year_to=2008), {"adebayo2008reflective"}),
        (SearchRequest(year_from=2030), set()),
        (SearchRequest(text="restraint", settings=("inpatient",)), {"eriksen2012restraint", "quispe2023simulation"}),
        (SearchRequest(text="burnout", themes=("staff-wellbeing",), evidence_types=("quantitative",),
                       settings=("inpatient",), year_from=2010, year_to=2019),
         {"castellanos2010exhaustion", "muller2019night"}),
    ],
)
def test_filters(library: Library, request_: SearchRequest, expected: set[str]) -> None:
    result = library.search(SearchRequest(**{**request_.__dict__, "per_page": 100}))
    assert keys(result) == expected
    assert result.total == len(expected)


_YEAR = st.one_of(st.none(), st.integers(min_value=0, max_value=3000))


@settings(max_examples=200, deadline=None)
@given(_YEAR, _YEAR)
def test_year_range_filter_matches_counting_by_hand(library: Library, first: int | None, last: int | None) -> None:
    low, high = (last, first) if first is not None and last is not None and first > last else (first, last)
    expected = {key for key, year in YEARS.items()
                if (low is None or year >= low) and (high is None or year <= high)}
    result = library.search(SearchRequest(year_from=first, year_to=last, per_page=100))
    assert keys(result) == expected


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=1000, max_value=2999), st.sampled_from(["<", "<=", ">", ">="]))
def test_year_comparison_queries_match_counting_by_hand(library: Library, year: int, op: str) -> None:
    compare = {"<": int.__lt__, "<=": int.__le__, ">": int.__gt__, ">=": int.__ge__}[op]
    expected = {key for key, y in YEARS.items() if compare(y, year)}
    assert keys(library.search(f"year:{op}{year}", per_page=100)) == expected


# ---------------------------------------------------------------- facets, sorting, pages


def test_facets_count_themes_under_their_ancestors(library: Library) -> None:
    facets = library.search("").facets
    assert facets.themes == {
        "staff-wellbeing": 6, "burnout": 3, "vicarious-trauma": 2,
        "implementation": 5, "training": 4, "leadership": 3,
        "outcomes": 5, "restraint-seclusion": 3,
        "prevalence": 1,
    }
    assert facets.evidence_types == {"qualitative": 5, "quantitative": 6, "trial": 3, "systematic-review": 1,
                                     "guidance": 1}
    assert facets.settings == {"community-mental-health": 8, "inpatient": 7, "children-young-people": 2}
    assert facets.years == {year: 1 for year in range(2008, 2024)}


def test_facets_count_every_match_not_just_the_page(library: Library) -> None:
    result = library.search("burnout", per_page=1)
    assert len(result.hits) == 1 and result.total == 3
    assert result.facets.themes == {"burnout": 3, "staff-wellbeing": 3}
    assert result.facets.evidence_types == {"quantitative": 3}
    assert result.facets.settings == {"inpatient": 2, "community-mental-health": 1}
    assert result.facets.years == {2010: 1, 2016: 1, 2019: 1}


def test_facets_count_each_option_with_the_other_filters_but_not_its_own(library: Library) -> None:
    facets = library.search(SearchRequest(themes=("implementation",), evidence_types=("trial",))).facets
    # Themes: with the evidence-type filter, not the theme filter (choosing another theme widens).
    assert facets.themes == {"implementation": 3, "training": 3, "leadership": 1, "outcomes": 1,
                             "restraint-seclusion": 1}
    # Evidence types: with the theme filter, not the type filter.
    assert facets.evidence_types == {"trial": 3, "qualitative": 1, "systematic-review": 1}
    assert facets.settings == {"inpatient": 2, "community-mental-health": 1}  # gallagher, quispe; nakamura


def test_facets_in_all_themes_mode_count_with_the_chosen_themes(library: Library) -> None:
    facets = library.search(SearchRequest(themes=("training",), theme_mode="all")).facets
    assert facets.themes == {"implementation": 4, "training": 4, "leadership": 2, "outcomes": 1,
                             "restraint-seclusion": 1}


_OPTIONS = [("themes", slug) for slug in ("staff-wellbeing", "burnout", "implementation", "training", "leadership",
                                           "outcomes", "restraint-seclusion", "prevalence", "vicarious-trauma")] + \
           [("evidence_types", slug) for slug in ("qualitative", "quantitative", "trial", "systematic-review",
                                                  "guidance")] + \
           [("settings", slug) for slug in ("inpatient", "community-mental-health", "children-young-people")]
_STARTS = [SearchRequest(), SearchRequest(text="staff"), SearchRequest(text="burnout OR training"),
           SearchRequest(evidence_types=("trial",)), SearchRequest(settings=("inpatient",), year_from=2012),
           SearchRequest(text="care", themes=("outcomes",)), SearchRequest(themes=("implementation",), theme_mode="all")]


@pytest.mark.parametrize("start", _STARTS, ids=lambda r: repr(r)[14:80])
@pytest.mark.parametrize(("facet", "slug"), _OPTIONS)
def test_choosing_an_option_finds_the_number_shown_beside_it(library: Library, start: SearchRequest, facet: str,
                                                             slug: str) -> None:
    """"Systematic review (11)" gives 11: the count shown is what choosing that option alone finds."""
    shown = getattr(library.search(start).facets, facet).get(slug, 0)
    mode = start.theme_mode
    chosen = (*start.themes, slug) if facet == "themes" and mode == "all" else (slug,)
    after = library.search(SearchRequest(**{**start.__dict__, facet: chosen, "per_page": 100}))
    assert after.total == shown


@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        ("newest", ["quispe2023simulation", "nakamura2020managers", "jansen2017review", "gallagher2014course"]),
        ("oldest", ["gallagher2014course", "jansen2017review", "nakamura2020managers", "quispe2023simulation"]),
        ("no-such-order", None),  # falls back to relevance
    ],
)
def test_sorting(library: Library, sort: str, expected: list[str] | None) -> None:
    result = library.search("training", sort=sort)
    if expected is None:
        assert result.request.sort == "relevance"
        assert all(hit.score is not None for hit in result.hits)
    else:
        assert [hit.key for hit in result.hits] == expected
        assert all(hit.score is None for hit in result.hits)


def test_empty_query_lists_everything_newest_first(library: Library) -> None:
    result = library.search("", per_page=100)
    assert [hit.key for hit in result.hits] == NEWEST_FIRST
    assert result.total == len(YEARS) and result.notice is None and result.suggestion is None


@pytest.mark.parametrize(
    ("page", "expected"),
    [
        (1, NEWEST_FIRST[0:5]),
        (2, NEWEST_FIRST[5:10]),
        (4, NEWEST_FIRST[15:16]),
        (5, []),  # past the end: no hits, the total still right
        (0, NEWEST_FIRST[0:5]),  # nonsense becomes page 1
    ],
)
def test_pagination(library: Library, page: int, expected: list[str]) -> None:
    result = library.search("", page=page, per_page=5)
    assert [hit.key for hit in result.hits] == expected
    assert (result.total, result.pages) == (16, 4)


def test_relevance_pages_do_not_overlap(library: Library) -> None:
    pages = [library.search("staff OR ward OR teams", page=n, per_page=3) for n in (1, 2, 3, 4, 5)]
    seen = [hit.key for result in pages for hit in result.hits]
    assert len(seen) == len(set(seen)) == pages[0].total


@pytest.mark.parametrize("per_page", [-5, 0, 1000])
def test_per_page_is_kept_within_bounds(library: Library, per_page: int) -> None:
    result = library.search("", per_page=per_page)
    assert 1 <= result.request.per_page <= 100
    assert len(result.hits) == min(result.request.per_page, 16)


# ---------------------------------------------------------------- what cannot be read


@pytest.mark.parametrize(
    ("query", "notice", "expected"),
    [
        ("title:(", "brackets", set()),
        ("(burnout", "brackets", BURNOUT),
        ("burnout)", "brackets", BURNOUT),
        ('"unclosed', "quotation mark", set()),
        ('"burnout', "quotation mark", BURNOUT),
        ("year:[2015 TO", "range brackets", set()),
        ("year:[abc TO def]", "not search syntax", set()),
        ("year:>99999999999", "not search syntax", set()),
        ("AND", "no words", set()),
        ("OR NOT", "no words", set()),
        ("burnout AND", "AND, OR or NOT", BURNOUT),
        ("foo:bar", "'foo:'", set()),
        ("journal:imaginary burnout", None, BURNOUT),  # an alias we do know
        ("title:", "nothing follows", set()),
        ("*", None, set(YEARS)),  # a lone wildcard matches everything
        ("~", "no words", set()),
        ("\x00burnout\x00", None, BURNOUT),
    ],
)
def test_unreadable_queries_fall_back_with_a_notice(library: Library, query: str, notice: str | None,
                                                   expected: set[str]) -> None:
    result = library.search(query, per_page=100)
    assert keys(result) == expected
    if notice is None:
        assert result.notice is None
    else:
        assert result.notice is not None and notice in result.notice


@pytest.mark.parametrize(
    ("query", "notice"),
    [
        ("the", "'the' is too common a word to search for: add a more specific word."),
        ("The", "'The' is too common a word to search for: add a more specific word."),
        ("title:the", "'the' is too common a word to search for: add a more specific word."),
        ("the OR of", "'the' and 'of' are too common to search for: add a more specific word."),
        ("be the THE", "'be' and 'the' are too common to search for: add a more specific word."),
        ("it's", "'it's' is too common a word to search for: add a more specific word."),
        ("x", "'x' is too short to search for: add a more specific word."),
        ("the x", "'the' is too common a word to search for, and 'x' is too short: add a more specific word."),
        ("the (", "We could not read your search as written (the brackets ( ) do not match), and 'the' is too "
                  "common a word to search for: add a more specific word."),
        # No words at all: another message.
        ("(", "Your search has no words we could look for. Try some words from a title or topic."),
    ],
)
def test_a_search_of_only_words_too_common_to_search_says_so(library: Library, query: str, notice: str) -> None:
    result = library.search(query)
    assert (result.total, result.notice, result.partial) == (0, notice, False)


def test_a_hyphenated_word_found_only_apart_says_so(library: Library) -> None:
    # castellanos and ito have both words, never side by side.
    assert keys(library.search('"nurses burnout"')) == set()
    result = library.search("nurses-burnout", per_page=100)
    assert result.partial and keys(result) == {"castellanos2010exhaustion", "ito2016compassion"}
    assert result.notice == "No reference has 'nurses-burnout' as written — showing those with all of its words."
    apart = library.search("nurses-burnout zzzzqqq", per_page=100)
    assert apart.notice == "No reference has all of: nurses, burnout, zzzzqqq — showing those with most of them."
    assert keys(apart) == keys(result)


# ---------------------------------------------------------------- text pasted with invisible characters

# As a third-party .bib file pasted from a PDF holds it: a soft hyphen, a zero-width space, a word
# joiner and a byte order mark inside words, and a typographic apostrophe in a name.
PASTED_BIB = """@article{zhou2024pasted,
  author = {O\u2019Connor, R\u00f3is\u00edn and Zhou, Li},
  title = {Trau\u00adma-in\u200bformed care for ado\u2060lescents in cri\ufeffsis},
  journal = {Journal of Imaginary Care Studies},
  year = {2024},
  abstract = {Ward staff copied this ab\u00adstract from a PDF of the report.},
  provenance = {Fictional reference written for the test suite; it describes no real study.}
}
"""


@pytest.fixture(scope="module")
def pasted(tmp_path_factory: pytest.TempPathFactory) -> Library:
    root = tmp_path_factory.mktemp("pasted")
    shutil.copytree(COLLECTION, root / "references")
    (root / "references" / "zhou2024pasted.bib").write_text(PASTED_BIB, encoding="utf-8")
    return Library(Settings.from_env(references_dir=root / "references", index_dir=root / "index",
                                     data_dir=root / "data"))


@pytest.mark.parametrize("query", ["trauma", "informed", "trauma-informed", '"trauma informed care"', "adolescents",
                                   "adolescent", "crisis", "crises", "abstract", "title:adolescents",
                                   "adolesc*", "adolesents~", "O'Connor", "O’Connor", "oconnor", "author:oconnor",
                                   "connor", "author:zhou", "ado\u00adlescents", "cri\u200bsis"])
def test_words_holding_invisible_characters_are_found(pasted: Library, query: str) -> None:
    assert "zhou2024pasted" in keys(pasted.search(query, per_page=100))


# ---------------------------------------------------------------- abbreviations written only one way

ABBREVIATED_BIBS = {
    "yusuf2024abbreviated": "PTSD screening after a TIC rollout",
    "quinn2024spelt": "Post-traumatic stress disorder among trauma-informed care staff",
    "ross2024tics": "Motor tic frequency in an adolescent clinic",
}


@pytest.fixture(scope="module")
def abbreviated(tmp_path_factory: pytest.TempPathFactory) -> Library:
    root = tmp_path_factory.mktemp("abbreviated")
    shutil.copytree(COLLECTION, root / "references")
    for key, title in ABBREVIATED_BIBS.items():
        (root / "references" / f"{key}.bib").write_text(
            f"@article{{{key},\n  author = {{Ames, Kit}},\n  title = {{{title}}},\n"
            "  journal = {Journal of Imaginary Care Studies},\n  year = {2024},\n"
            "  provenance = {Fictional reference written for the test suite; it describes no real study.}\n}\n",
            encoding="utf-8")
    return Library(Settings.from_env(references_dir=root / "references", index_dir=root / "index",
                                     data_dir=root / "data"))


@pytest.mark.parametrize(("query", "expected"), [
    ("PTSD", {"yusuf2024abbreviated", "quinn2024spelt"}),
    ("ptsd", {"yusuf2024abbreviated", "quinn2024spelt"}),
    ("post-traumatic stress disorder", {"yusuf2024abbreviated", "quinn2024spelt"}),
    ("post traumatic stress disorders", {"yusuf2024abbreviated", "quinn2024spelt"}),
    ("posttraumatic stress", {"yusuf2024abbreviated", "quinn2024spelt"}),
    ("PTSD staff", {"quinn2024spelt"}),
    ("post traumatic stress screening", {"yusuf2024abbreviated"}),
    # TIC only in capitals: "tic" is also a word (motor tics), and the spelt-out form does not
    # look for it, since the index keeps words in lower case.
    ("TIC", {"yusuf2024abbreviated", "quinn2024spelt", "ross2024tics"}),
    ("tic", {"yusuf2024abbreviated", "ross2024tics"}),
    ('"trauma-informed care"', {"quinn2024spelt"}),
])
def test_an_abbreviation_and_its_spelt_out_form_find_each_other(abbreviated: Library, query: str,
                                                                expected: set[str]) -> None:
    result = abbreviated.search(query, per_page=100)
    assert not result.partial
    assert keys(result) & set(ABBREVIATED_BIBS) == expected


def test_a_spelt_out_abbreviation_is_one_part_of_a_partial_match(abbreviated: Library) -> None:
    result = abbreviated.search("post-traumatic stress disorder zzzzqqq", per_page=100)
    assert result.notice == ("No reference has all of: post-traumatic stress disorder, zzzzqqq — "
                             "showing those with most of them.")
    assert {"yusuf2024abbreviated", "quinn2024spelt"} <= keys(result)


def test_a_word_holding_an_invisible_character_is_marked_in_the_snippet(pasted: Library) -> None:
    [hit] = [hit for hit in pasted.search("abstract", per_page=100).hits if hit.key == "zhou2024pasted"]
    assert "<mark>ab\u00adstract</mark>" in hit.snippet_html


@pytest.mark.parametrize(
    ("query", "suggestion"),
    [
        ("burnuot", "burnout"),
        ("leadershp", "leadership"),
        ("simulaton training", "simulation training"),
        ("burnout", None),  # found: nothing to suggest
        ("zzzzqqqxxxyyy", None),  # nothing close
    ],
)
def test_did_you_mean(library: Library, query: str, suggestion: str | None) -> None:
    result = library.search(query)
    assert result.suggestion == suggestion
    if suggestion:
        assert result.total == 0 or result.partial  # nothing had all the words typed
        better = library.search(suggestion)
        assert better.total > 0 and not better.partial


def test_words_typed_one_after_another_fall_back_to_those_with_most_of_them(library: Library) -> None:
    result = library.search("theme:staff-wellbeing theme:implementation", per_page=100)
    assert result.partial
    assert result.notice == ("No reference has all of: theme:staff-wellbeing, theme:implementation — "
                             "showing those with most of them.")
    assert keys(result) == BURNOUT | TRAINING | {"adebayo2008reflective", "kowalski2018trainee",
                                                  "petrov2022turnover", "fontaine2013leaders"}


def test_the_most_of_the_words_come_first_and_only_those(library: Library) -> None:
    # "night" and "burnout" are both in muller2019night only: it has two of the three words.
    result = library.search("night burnout zzzzqqq", per_page=100)
    assert result.partial and keys(result) == {"muller2019night"}
    assert "night, burnout, zzzzqqq" in (result.notice or "")


def test_explicit_operators_get_no_partial_match(library: Library) -> None:
    result = library.search("burnout AND zzzzqqq")
    assert result.total == 0 and not result.partial


# ---------------------------------------------------------------- snippets


def test_snippet_escapes_html_but_keeps_marks(library: Library) -> None:
    [hit] = library.search("safeguarding").hits
    snippet = hit.snippet_html
    assert "<mark>safeguarding</mark>" in snippet.lower()
    assert "&lt;script&gt;" in snippet and "<script>" not in snippet
    assert "&amp;" in snippet


@pytest.mark.parametrize("query", ["safeguarding", "alert", "script", "burnout", "trainin*", "traning~",
                                   '"trauma informed care"', "restraint OR seclusion"])
def test_snippets_hold_no_markup_but_marks(library: Library, query: str) -> None:
    hits = library.search(query, per_page=100).hits
    assert hits
    for hit in hits:
        bare = re.sub(r"</?mark>", "", hit.snippet_html)
        assert "<" not in bare and ">" not in bare, hit.snippet_html
        assert hit.snippet_html.count("<mark>") == hit.snippet_html.count("</mark>")


def test_hits_carry_what_a_card_shows(library: Library) -> None:
    [hit] = library.search("author:muller").hits
    assert (hit.key, hit.title, hit.year) == ("muller2019night", "Burnout on the night shift: a fictional survey", 2019)
    assert hit.authors == "Müller, A."
    assert hit.venue == "Journal of Imaginary Care Studies"
    assert (hit.themes, hit.evidence_type, hit.settings) == (("burnout",), "quantitative", ("inpatient",))
    assert hit.doi_url == "https://doi.org/10.5555/tic.0012"
    assert hit.key_finding == "Night-shift staff reported more burnout than day staff."
    assert hit.finding_checked is False


# ---------------------------------------------------------------- anything at all


_SYNTAX = st.sampled_from(["AND", "OR", "NOT", "ANDNOT", "TO", "title:", "author:", "theme:", "year:", "type:",
                           "foo:", "[", "]", "{", "}", "(", ")", '"', "*", "?", "~", "~2", "^", "^2", ":", ">",
                           "<", "=", "-", "+", "\\", "/", "\x00", "year:[", "burnout", "trainin*", "müller"])
_QUERIES = st.one_of(
    st.text(),
    st.lists(st.one_of(_SYNTAX, st.text(max_size=5)), max_size=8).map(" ".join),
    st.lists(st.one_of(_SYNTAX, st.text(max_size=3)), max_size=8).map("".join),
)


@settings(max_examples=200, deadline=None)
@given(_QUERIES)
def test_any_text_gives_a_search_result(library: Library, text: str) -> None:
    result = library.search(text, per_page=5)
    assert isinstance(result, SearchResult)
    assert len(result.hits) == min(result.total, 5)
    assert len({hit.key for hit in result.hits}) == len(result.hits)
    assert result.total <= len(YEARS)
    if result.suggestion is not None:
        assert result.total == 0 or result.partial


# ---------------------------------------------------------------- the issue's examples, on the shipped collection

SHIPPED = REPO / "references"


@pytest.fixture(scope="module")
def shipped(tmp_path_factory: pytest.TempPathFactory) -> Library:
    root = tmp_path_factory.mktemp("shipped")
    shutil.copytree(SHIPPED, root / "references")
    return Library(Settings.from_env(references_dir=root / "references", index_dir=root / "index",
                                     data_dir=root / "data"))


def _all(library: Library, text: str) -> set[str]:
    return keys(library.search(text, per_page=100))


def _tagged(library: Library, theme: str) -> set[str]:
    return keys(library.search(SearchRequest(themes=(theme,), per_page=100)))


@pytest.mark.parametrize("forms", [("burnout", "burn out", "burn-out"), ("wellbeing", "well being", "well-being"),
                                   ("organisation", "organization"), ("traumatisation", "traumatization"),
                                   ("behaviour", "behavior"), ("reduce seclusion", "reducing seclusion",
                                                               "seclusion reduction"),
                                   ("nurse", "nurses", "nursing"),
                                   # Irregular forms (library.analysis.IRREGULAR_FORMS).
                                   ("meta-analysis", "meta-analyses", "meta analysis"),
                                   ("analysis", "analyses", "analyse", "analysed", "analyze"),
                                   ("child", "children", "children's"), ("crisis", "crises"),
                                   ("psychosis", "psychoses"), ("woman", "women", "women's"),
                                   ("young people", "young person"),
                                   # Names with an apostrophe, typed with either or none.
                                   ("O'Connor", "O’Connor", "oconnor", "OConnor", "author:oconnor",
                                    "author:O’Connor", "by:o'connor")])
def test_everyday_forms_find_the_same_references(shipped: Library, forms: tuple[str, ...]) -> None:
    found = [_all(shipped, text) for text in forms]
    assert found[0], forms[0]
    assert all(other == found[0] for other in found[1:]), dict(zip(forms, found))
    assert all(not shipped.search(text).partial for text in forms)


def test_a_name_is_found_by_the_part_after_its_apostrophe(shipped: Library) -> None:
    assert _all(shipped, "connor") == _all(shipped, "O'Connor") == {"oconnor2018burnout",
                                                                     "goldstein2024effectiveness"}


@pytest.mark.parametrize(("hyphenated", "apart"), [("peer-support", "peer support"),
                                                   ("trauma-informed", "trauma informed"),
                                                   ("well-being", "well being"), ("burn-out", "burn out"),
                                                   ("meta-analyses", "meta analyses"),
                                                   # Found by neither in full: the same "most of the words".
                                                   ("self-harm", "self harm")])
def test_a_hyphenated_search_finds_what_its_words_typed_apart_find(shipped: Library, hyphenated: str,
                                                                   apart: str) -> None:
    joined, spaced = shipped.search(hyphenated, per_page=100), shipped.search(apart, per_page=100)
    assert keys(joined) and keys(joined) == keys(spaced)
    assert (joined.total, joined.partial, joined.notice) == (spaced.total, spaced.partial, spaced.notice)


def test_seclusion_reduction_finds_the_references_on_reducing_seclusion(shipped: Library) -> None:
    reducing = {hit.key for hit in shipped.search("reducing seclusion", per_page=100).hits}
    assert reducing  # the issue: "two references are about *reducing* seclusion"
    assert reducing <= _all(shipped, "seclusion reduction")


@pytest.mark.parametrize(("text", "theme"), [("staff wellbeing", "staff-wellbeing"), ("leadership", "leadership"),
                                             ("lived experience", "peer-support"),
                                             ("lived experience", "empowerment-voice-choice"),
                                             ("restrictive practice", "restraint-seclusion"),
                                             ("childhood adversity", "aces")])
def test_theme_labels_and_synonyms_reach_the_references_tagged_so(shipped: Library, text: str, theme: str) -> None:
    tagged = _tagged(shipped, theme)  # the theme and every narrower theme
    found = _all(shipped, text)
    assert tagged <= found, sorted(tagged - found)
    assert found


@pytest.mark.parametrize(("text", "tagged_with"), [
    ("inpatient wards", SearchRequest(settings=("inpatient",))),
    ("ward", SearchRequest(settings=("inpatient",))),
    ("wards", SearchRequest(settings=("inpatient",))),
    ("children and young people", SearchRequest(settings=("children-young-people",))),
    ("community mental health", SearchRequest(settings=("community-mental-health",))),
    ("grey literature", SearchRequest(evidence_types=("grey-literature",))),
    ("thesis", SearchRequest(evidence_types=("grey-literature",))),
    ("scoping review", SearchRequest(evidence_types=("scoping-review",))),
    ("homelessness services", SearchRequest(settings=("homelessness",))),
])
def test_setting_and_evidence_type_labels_reach_the_references_tagged_so(shipped: Library, text: str,
                                                                         tagged_with: SearchRequest) -> None:
    tagged = keys(shipped.search(SearchRequest(**{**tagged_with.__dict__, "per_page": 100})))
    result = shipped.search(text, per_page=100)
    assert tagged, tagged_with
    assert not result.partial, result.notice
    assert tagged <= keys(result), sorted(tagged - keys(result))


@pytest.mark.parametrize(("short", "spelt"), [
    # Not a theme: the table in library/query.py (ABBREVIATIONS).
    ("PTSD", "post traumatic stress"), ("ptsd", "post-traumatic stress"), ("PTSD", "posttraumatic stress"),
    ("TIC", '"trauma-informed care"'),
    # The synonym "ACEs" of the theme "Adverse childhood experiences" (references/themes.toml).
    ("ACE", "adverse childhood experiences"), ("ACEs", "adverse childhood experiences"),
    ("aces", "adverse childhood experiences"),
])
def test_an_abbreviation_finds_what_its_spelt_out_form_finds(shipped: Library, short: str, spelt: str) -> None:
    abbreviated, written = shipped.search(short, per_page=100), shipped.search(spelt, per_page=100)
    assert keys(written) and not abbreviated.partial and not written.partial
    assert keys(abbreviated) == keys(written)


def test_ptsd_finds_the_three_references_on_post_traumatic_stress(shipped: Library) -> None:
    # Only kessler2017trauma writes "PTSD"; mauritz writes "post-traumatic stress disorder", han
    # "post-traumatic stress" (symptoms).
    assert _all(shipped, "PTSD") == {"kessler2017trauma", "mauritz2013prevalence", "han2021trauma"}


def test_staff_wellbeing_finds_at_least_the_ten_of_its_theme(shipped: Library) -> None:
    assert len(_tagged(shipped, "staff-wellbeing")) >= 10
    assert len(_all(shipped, "staff wellbeing")) >= len(_tagged(shipped, "staff-wellbeing"))
    assert _tagged(shipped, "leadership") <= _all(shipped, "leadership")


def test_nurses_burnout_shows_those_with_most_of_the_words(shipped: Library) -> None:
    result = shipped.search("nurses burnout", per_page=100)
    assert result.partial
    assert result.notice == "No reference has all of: nurses, burnout — showing those with most of them."
    assert _all(shipped, "burnout") <= keys(result)


ISSUE_QUERIES = ["burn out", "burn-out", "well-being", "staff too burnt out", "nurses burnout", "seclusion reduction",
                 "staff wellbeing", "leadership", "lived experience", "burnuot", "leadershp", "seclusion reducton",
                 "wellbeeing staff", "orgnisational change"]


@pytest.mark.parametrize("text", ISSUE_QUERIES)
def test_a_suggestion_finds_more_than_the_search_typed(shipped: Library, text: str) -> None:
    result = shipped.search(text)
    typed = 0 if result.partial else result.total
    if result.suggestion is None:
        return
    better = shipped.search(result.suggestion)
    assert not better.partial and better.total > typed, (text, result.suggestion)
    reader = shipped.index.searcher().reader()
    for word in plain_words(result.suggestion):  # every word is the collection's
        assert any((f"{name}_x", word.encode()) in reader for name in ("title", "finding", "abstract", "keywords",
                                                                         "topics")), word


@pytest.mark.parametrize(("text", "suggestion"), [("burn out", None), ("well-being", None), ("leadershp", "leadership"),
                                                  ("burnuot", "burnout"), ("staff too burnt out", None),
                                                  ("nurses burnout", None), ("seclusion reduction", None)])
def test_suggestions_for_the_issues_examples(shipped: Library, text: str, suggestion: str | None) -> None:
    assert shipped.search(text).suggestion == suggestion


def test_choosing_systematic_review_gives_the_number_shown_beside_it(shipped: Library) -> None:
    start = SearchRequest(text="trauma", themes=("staff-wellbeing",))
    shown = shipped.search(start).facets.evidence_types.get("systematic-review", 0)
    assert shown
    chosen = shipped.search(SearchRequest(**{**start.__dict__, "evidence_types": ("systematic-review",)}))
    assert chosen.total == shown


# ------------------------------------------------------------------ the shipped collection: word forms


@pytest.fixture(scope="module")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Library:
    root = tmp_path_factory.mktemp("seed")
    shutil.copytree(REPO / "references", root / "references", ignore=shutil.ignore_patterns(".*"))
    return Library(Settings.from_env(references_dir=root / "references", index_dir=root / "index",
                                     data_dir=root / "data"))


def _found(lib: Library, text: str) -> set[str]:
    return keys(lib.search(SearchRequest(text=text, per_page=100)))


# No reference writes these words (nor a form of them); the stemmer joined each to another word:
# experiment/experience, organ/organisation, polite/political, intern(al)/international,
# universal/university, several/severe.
@pytest.mark.parametrize("word", ["experiment", "experiments", "organ", "organs", "polite", "intern",
                                  "internal", "universal"])
def test_words_the_stemmer_joined_to_others_find_nothing_in_the_shipped_collection(seed: Library,
                                                                                    word: str) -> None:
    text = "\n".join(path.read_text(encoding="utf-8") for path in (REPO / "references").glob("*.bib"))
    assert not re.search(rf"\b{word}(?:s|ed|ing|ly)?\b", text, re.IGNORECASE)  # what the test stands on
    assert _found(seed, word) == set()


@pytest.mark.parametrize("forms", [("experience", "experiences", "experienced"),
                                   ("organisation", "organisational", "organization", "organisations"),
                                   ("international", "internationally"),
                                   ("university", "universities"),
                                   ("politics", "political")])
def test_forms_of_a_word_still_find_the_same_references(seed: Library, forms: tuple[str, ...]) -> None:
    found = [_found(seed, form) for form in forms]
    assert found[0] and all(f == found[0] for f in found), dict(zip(forms, map(len, found)))


def test_severe_is_not_several(seed: Library) -> None:
    several = _found(seed, "several")
    assert several and several.isdisjoint(_found(seed, "severe") - _found(seed, "severe several"))
    assert _found(seed, "severe") != several


def test_us_in_capitals_is_the_united_states_and_in_lower_case_a_common_word(seed: Library) -> None:
    policy = _found(seed, "policy")
    us_policy = _found(seed, "US policy")
    assert us_policy and us_policy < policy
    for key in us_policy:
        text = (REPO / "references" / f"{key}.bib").read_text(encoding="utf-8")
        assert re.search(r"\bUS\b|\bUSA\b|United States", text), key
    assert _found(seed, "US") == _found(seed, "USA") == _found(seed, '"united states" OR USA')
    result = seed.search(SearchRequest(text="us policy", per_page=100))
    assert keys(result) == policy and result.notice is None  # "us": a common word, as "the" is


@pytest.mark.parametrize(("query", "notice"), [
    ("IT support", "'IT' is too common a word to search for, so the results are for your other words."),
    ("IT AND support", "'IT' is too common a word to search for, so the results are for your other words."),
    ("the support", None),
    ("support", None),
])
def test_a_common_word_in_capitals_left_out_of_a_longer_search_is_said(library: Library, query: str,
                                                                       notice: str | None) -> None:
    assert library.search(SearchRequest(text=query)).notice == notice
