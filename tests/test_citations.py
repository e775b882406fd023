"""Citations: CSL-JSON mapping, and reference lists checked by hand against APA 7 and Cite Them Right.

The expected strings below were written from the rules of each style, not
copied from the output:

APA 7 (Publication Manual, 7th ed., ch. 9): "Author, A. A., & Author, B. B.
(Year). Title. *Journal*, *volume*(issue), pages. https://doi.org/..."; up to
20 authors listed, with "&" before the last; 21 or more: the first 19, an
ellipsis, then the last author, with no "&"; a book's place is dropped; a
chapter reads "In E. Editor (Ed.), *Book* (pp. x–y). Publisher."; a group
author that is also the publisher is not repeated as publisher; a report
number reads "(... No. ...)"; a thesis adds "[Kind of thesis, Institution]";
an article number reads "Article n"; no full stop after a DOI or URL, and
none after a title that ends in "?".

Cite Them Right Harvard (12th ed.): "Author, A.A. and Author, B.B. (Year)
'Title', *Journal*, volume(issue), pp. x–y. Available at: https://doi.org/...";
initials without spaces; "and" rather than "&"; four or more authors: the first
followed by *et al.*; single quotation marks round article and chapter titles;
book and report titles in italics with "Place: Publisher"; a chapter reads
"in E. Editor (ed.) *Book*. Place: Publisher, pp. x–y."; a thesis adds its
kind and institution; the reference ends with a full stop, after the DOI too.

APA 7 (6.17) puts article and chapter titles in sentence case: the first word
of the title and of a subtitle capitalised, proper nouns and acronyms kept,
everything else lower case.  The library does that itself (CSL cannot): a title
typed in title case is lowered except for words the librarian protected with
braces ({New York City}) and words in capitals (ACE, PTSD); a title already in
sentence case keeps its words.  Books, reports and theses print as the
collection holds them.  Cite Them Right keeps every title as written.
CSL writes APA's ellipsis as one character "…" where the manual prints ". . .".
An edited book names its editor once: in the author position, with "(Ed.)".
"""

from __future__ import annotations

from pathlib import Path

import pytest
from citeproc import CitationStylesStyle

from library.bibtex import parse_file
from library.bibtex import parse_text
from library.citations import (STYLES, STYLES_DIR, FormattedCitation, Segment, citation_labels,
                               format_bibliography, format_reference, safe_url, sentence_case, to_csl)
from library.errors import PackError
from library.records import Record

DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="module")
def records() -> dict[str, Record]:
    result = parse_file(DATA / "citations.bib")
    assert not result.problems, [p.describe() for p in result.problems]
    return {entry.key: Record.from_entry(entry) for entry in result.entries}


APA = [
    # journal article, 8 authors, with DOI (and a URL, which APA leaves out when there is a DOI)
    ("felitti1998relationship",
     "Felitti, V. J., Anda, R. F., Nordenberg, D., Williamson, D. F., Spitz, A. M., Edwards, V., "
     "Koss, M. P., & Marks, J. S. (1998). Relationship of childhood abuse and household dysfunction "
     "to many of the leading causes of death in adults: The adverse childhood experiences (ACE) "
     "study. American Journal of Preventive Medicine, 14(4), 245–258. "
     "https://doi.org/10.1016/S0749-3797(98)00017-8"),
    # one author, with DOI; the subtitle's first word capitalised
    ("muskett2014trauma",
     "Muskett, C. (2014). Trauma-informed care in inpatient mental health settings: A review of the "
     "literature. International Journal of Mental Health Nursing, 23(1), 51–59. "
     "https://doi.org/10.1111/inm.12012"),
    # two authors, with DOI
    ("sweeney2018misunderstanding",
     "Sweeney, A., & Taggart, D. (2018). (Mis)understanding trauma-informed approaches in mental "
     "health. Journal of Mental Health, 27(5), 383–387. https://doi.org/10.1080/09638237.2018.1520973"),
    # two authors, no DOI, no issue; the title's "?" takes the place of the full stop
    ("bober2006strategies",
     "Bober, T., & Regehr, C. (2006). Strategies for reducing secondary or vicarious trauma: Do they "
     "work? Brief Treatment and Crisis Intervention, 6, 1–9."),
    # three authors, with DOI
    ("hopper2010shelter",
     "Hopper, E. K., Bassuk, E. L., & Olivet, J. (2010). Shelter from the storm: Trauma-informed care "
     "in homelessness services settings. The Open Health Services and Policy Journal, 3, 80–100. "
     "https://doi.org/10.2174/1874924001003020080"),
    # three authors, no DOI; braced proper nouns ({September}, {New York City}) kept
    ("boscarino2004compassion",
     "Boscarino, J. A., Figley, C. R., & Adams, R. E. (2004). Compassion fatigue following the "
     "September 11 terrorist attacks: A study of secondary trauma among New York City social workers. "
     "International Journal of Emergency Mental Health, 6(2), 57–66."),
    # 20 authors: all listed, "&" before the last
    ("example2022twenty",
     "Aardvark, A., Badger, B., Crane, C., Dingo, D., Eagle, E., Ferret, F., Gecko, G., Heron, H., "
     "Ibis, I., Jackal, J., Kestrel, K., Lemur, L., Marten, M., Newt, N., Otter, O., Puffin, P., "
     "Quail, Q., Raven, R., Stoat, S., & Tapir, T. (2022). Example article with twenty authors. "
     "Example Journal of Citation Tests, 1(2), 5–6. https://doi.org/10.5555/example.twenty.2022"),
    # 21 authors: the first 19, an ellipsis, the last; no "&"
    ("example2022many",
     "Aardvark, A., Badger, B., Crane, C., Dingo, D., Eagle, E., Ferret, F., Gecko, G., Heron, H., "
     "Ibis, I., Jackal, J., Kestrel, K., Lemur, L., Marten, M., Newt, N., Otter, O., Puffin, P., "
     "Quail, Q., Raven, R., Stoat, S., … Urchin, U. (2022). Example article with twenty-one authors. "
     "Example Journal of Citation Tests, 1(2), 3–4. https://doi.org/10.5555/example.many.2022"),
    # 32 real authors, a particle ("de Girolamo"), a hyphenated given name ("J.-P."), an article number
    ("kessler2017trauma",
     "Kessler, R. C., Aguilar-Gaxiola, S., Alonso, J., Benjet, C., Bromet, E. J., Cardoso, G., "
     "Degenhardt, L., de Girolamo, G., Dinolova, R. V., Ferry, F., Florescu, S., Gureje, O., "
     "Haro, J. M., Huang, Y., Karam, E. G., Kawakami, N., Lee, S., Lepine, J.-P., Levinson, D., "
     "… Koenen, K. C. (2017). Trauma and PTSD in the WHO World Mental Health Surveys. European "
     "Journal of Psychotraumatology, 8(sup5), Article 1353383. "
     "https://doi.org/10.1080/20008198.2017.1353383"),
    # book, one author, no DOI: no place of publication in APA 7
    ("bloom1997creating",
     "Bloom, S. L. (1997). Creating Sanctuary: Toward the Evolution of Sane Societies. Routledge."),
    # book, two authors, no DOI
    ("bloom2013restoring",
     "Bloom, S. L., & Farragher, B. (2013). Restoring Sanctuary: A New Operating System for "
     "Trauma-Informed Systems of Care. Oxford University Press."),
    # book with DOI
    ("example2021book",
     "Example, A. B. (2021). Example book with a DOI. Example Press. "
     "https://doi.org/10.5555/example.book.2021"),
    # chapter, one editor, with DOI
    ("example2020chapter",
     "Example, A. B., & Sample, C. (2020). Example chapter for citation tests. In D. Editor (Ed.), "
     "Example Handbook for Citation Tests (pp. 10–25). Example Press. "
     "https://doi.org/10.5555/example.chapter.2020"),
    # chapter, two editors, no DOI
    ("example2019chapter",
     "Sample, C. (2019). Example chapter without a DOI. In D. Editor & E. Redactor (Eds.), "
     "Example Handbook for Citation Tests (pp. 30–41). Example Press."),
    # report by a group author that is also its publisher, with a URL and no DOI
    ("samhsa2014concept",
     "Substance Abuse and Mental Health Services Administration. (2014). SAMHSA’s Concept of Trauma "
     "and Guidance for a Trauma-Informed Approach (HHS Publication No. (SMA) 14-4884). "
     "https://store.samhsa.gov/sites/default/files/d7/priv/sma14-4884.pdf"),
    # thesis in a repository, URL and no DOI
    ("clark2021mental",
     "Clark, S. (2021). Mental Health Staff’s Understandings of the Barriers and Facilitators to "
     "‘Trauma Informed Services’ [Prof Doc thesis, University of East London, School of Psychology]. "
     "https://repository.uel.ac.uk/item/89zzw"),
    # thesis with DOI
    ("turner2024implementing",
     "Turner, A. (2024). Implementing Trauma-Informed Care: What Is It like for Experts by "
     "Experience? [Prof Doc thesis, University of East London, School of Psychology]. "
     "https://doi.org/10.15123/uel.8y96y"),
    # edited book: the editor once, in the author position
    ("figley1995compassion",
     "Figley, C. R. (Ed.). (1995). Compassion Fatigue: Coping with Secondary Traumatic Stress Disorder "
     "in Those Who Treat the Traumatized. Brunner/Mazel."),
]

HARVARD = [
    ("felitti1998relationship",
     "Felitti, V.J. et al. (1998) ‘Relationship of Childhood Abuse and Household Dysfunction to Many "
     "of the Leading Causes of Death in Adults: The Adverse Childhood Experiences (ACE) Study’, "
     "American Journal of Preventive Medicine, 14(4), pp. 245–258. "
     "Available at: https://doi.org/10.1016/S0749-3797(98)00017-8."),
    ("muskett2014trauma",
     "Muskett, C. (2014) ‘Trauma-informed care in inpatient mental health settings: a review of the "
     "literature’, International Journal of Mental Health Nursing, 23(1), pp. 51–59. "
     "Available at: https://doi.org/10.1111/inm.12012."),
    ("sweeney2018misunderstanding",
     "Sweeney, A. and Taggart, D. (2018) ‘(Mis)understanding trauma-informed approaches in mental "
     "health’, Journal of Mental Health, 27(5), pp. 383–387. "
     "Available at: https://doi.org/10.1080/09638237.2018.1520973."),
    ("bober2006strategies",
     "Bober, T. and Regehr, C. (2006) ‘Strategies for reducing secondary or vicarious trauma: do they "
     "work?’, Brief Treatment and Crisis Intervention, 6, pp. 1–9."),
    ("hopper2010shelter",
     "Hopper, E.K., Bassuk, E.L. and Olivet, J. (2010) ‘Shelter from the storm: trauma-informed care "
     "in homelessness services settings’, The Open Health Services and Policy Journal, 3, "
     "pp. 80–100. Available at: https://doi.org/10.2174/1874924001003020080."),
    ("boscarino2004compassion",
     "Boscarino, J.A., Figley, C.R. and Adams, R.E. (2004) ‘Compassion fatigue following the "
     "September 11 terrorist attacks: a study of secondary trauma among New York City social "
     "workers’, International Journal of Emergency Mental Health, 6(2), pp. 57–66."),
    ("example2022many",
     "Aardvark, A. et al. (2022) ‘Example article with twenty-one authors’, Example Journal of "
     "Citation Tests, 1(2), pp. 3–4. Available at: https://doi.org/10.5555/example.many.2022."),
    ("bloom1997creating",
     "Bloom, S.L. (1997) Creating Sanctuary: Toward the Evolution of Sane Societies. "
     "New York: Routledge."),
    ("bloom2013restoring",
     "Bloom, S.L. and Farragher, B. (2013) Restoring Sanctuary: A New Operating System for "
     "Trauma-Informed Systems of Care. New York: Oxford University Press."),
    ("example2021book",
     "Example, A.B. (2021) Example book with a DOI. London: Example Press. "
     "Available at: https://doi.org/10.5555/example.book.2021."),
    ("example2020chapter",
     "Example, A.B. and Sample, C. (2020) ‘Example chapter for citation tests’, in D. Editor (ed.) "
     "Example Handbook for Citation Tests. London: Example Press, pp. 10–25. "
     "Available at: https://doi.org/10.5555/example.chapter.2020."),
    ("example2019chapter",
     "Sample, C. (2019) ‘Example chapter without a DOI’, in D. Editor and E. Redactor (eds) "
     "Example Handbook for Citation Tests. London: Example Press, pp. 30–41."),
    ("samhsa2014concept",
     "Substance Abuse and Mental Health Services Administration (2014) SAMHSA’s Concept of Trauma "
     "and Guidance for a Trauma-Informed Approach. HHS Publication (SMA) 14-4884. Rockville, MD: "
     "Substance Abuse and Mental Health Services Administration. "
     "Available at: https://store.samhsa.gov/sites/default/files/d7/priv/sma14-4884.pdf."),
    ("clark2021mental",
     "Clark, S. (2021) Mental Health Staff’s Understandings of the Barriers and Facilitators to "
     "‘Trauma Informed Services’. Prof Doc thesis. University of East London, School of Psychology. "
     "Available at: https://repository.uel.ac.uk/item/89zzw."),
    ("turner2024implementing",
     "Turner, A. (2024) Implementing Trauma-Informed Care: What Is It like for Experts by "
     "Experience? Prof Doc thesis. University of East London, School of Psychology. "
     "Available at: https://doi.org/10.15123/uel.8y96y."),
    # edited book: "(ed.)" after the name, and no "Edited by" repeating it
    ("figley1995compassion",
     "Figley, C.R. (ed.) (1995) Compassion Fatigue: Coping with Secondary Traumatic Stress Disorder "
     "in Those Who Treat the Traumatized. Brunner/Mazel."),
]


@pytest.mark.parametrize(("key", "expected"), APA, ids=[k for k, _ in APA])
def test_apa_reference(records: dict[str, Record], key: str, expected: str) -> None:
    assert format_reference(records[key], "apa").text == expected


@pytest.mark.parametrize(("key", "expected"), HARVARD, ids=[k for k, _ in HARVARD])
def test_harvard_reference(records: dict[str, Record], key: str, expected: str) -> None:
    assert format_reference(records[key], "harvard").text == expected


IN_TEXT = [
    ("apa", "felitti1998relationship", "(Felitti et al., 1998)"),
    ("apa", "sweeney2018misunderstanding", "(Sweeney & Taggart, 2018)"),
    ("apa", "hopper2010shelter", "(Hopper et al., 2010)"),  # APA 7: three or more -> et al.
    ("apa", "samhsa2014concept", "(Substance Abuse and Mental Health Services Administration, 2014)"),
    ("harvard", "felitti1998relationship", "(Felitti et al., 1998)"),
    ("harvard", "sweeney2018misunderstanding", "(Sweeney and Taggart, 2018)"),
    ("harvard", "hopper2010shelter", "(Hopper, Bassuk and Olivet, 2010)"),  # CTR names up to three
]


@pytest.mark.parametrize(("style", "key", "expected"), IN_TEXT)
def test_in_text_citation(records: dict[str, Record], style: str, key: str, expected: str) -> None:
    assert format_reference(records[key], style).in_text == expected


SENTENCE_CASE = [
    # title case is lowered, the first word of the title and of the subtitle capitalised
    ("Relationship of Childhood Abuse to Many of the Leading Causes of Death in Adults: The ACE Study",
     "Relationship of childhood abuse to many of the leading causes of death in adults: The ACE study"),
    # braces protect proper nouns, as BibTeX does; capitals (acronyms, McNames) are kept
    ("Trauma and {PTSD} in the {WHO} {World Mental Health Surveys}",
     "Trauma and PTSD in the WHO World Mental Health Surveys"),
    ("Working with {McDonald}'s Staff and NHS Trusts in {New York City}",
     "Working with McDonald’s staff and NHS trusts in New York City"),
    ("Why McKinsey Models Fail", "Why McKinsey models fail"),
    # hyphenated words, each part; an acronym part keeps its capitals
    ("Trauma-Informed Care in Non-NHS Settings", "Trauma-informed care in non-NHS settings"),
    # already sentence case: kept as typed (its capitals are proper nouns), subtitle capitalised
    ("Compassion fatigue following the September 11 attacks: a study of New York City social workers",
     "Compassion fatigue following the September 11 attacks: A study of New York City social workers"),
    ("Trauma-informed care in the {UK}: where are we? a qualitative study",
     "Trauma-informed care in the UK: Where are we? A qualitative study"),
    ("(Mis)understanding trauma-informed approaches in mental health",
     "(Mis)understanding trauma-informed approaches in mental health"),
    # LaTeX is decoded; a special character {\"U} is not protection; a protected first word stays
    ("{\\\"U}ber Die Arbeit", "Über die arbeit"),
    ("{eHealth} for Everyone", "eHealth for everyone"),
    ("{SAMHSA}'s Concept of Trauma", "SAMHSA’s concept of trauma"),
    # as in BibTeX, a group that starts with a command is a special character, not protection
    ("A {\\emph{Very}} Short Title --- With Dashes", "A very short title — with dashes"),
    ("", ""),
    ("single", "Single"),
    ("‘quoted’ start: (bracketed) subtitle", "‘Quoted’ start: (Bracketed) subtitle"),
    # text that merely looks like markup is left as typed
    ("<script>alert(1)</script> Burnout among ward staff", "<script>alert(1)</script> Burnout among ward staff"),
]


@pytest.mark.parametrize(("raw", "expected"), SENTENCE_CASE)
def test_sentence_case(raw: str, expected: str) -> None:
    assert sentence_case(raw) == expected


def test_apa_chapter_titles_are_in_sentence_case_and_harvard_keeps_them() -> None:
    [entry] = parse_text("""@incollection{example2018title,
      author = {Sample, Chris}, title = {Trauma-Informed Leadership in {NHS} {Scotland}: A Case Study},
      booktitle = {Example Handbook for Citation Tests}, editor = {Editor, Diana},
      publisher = {Example Press}, address = {London}, year = {2018}, pages = {1--9}}""").entries
    record = Record.from_entry(entry)
    assert format_reference(record, "apa").text == (
        "Sample, C. (2018). Trauma-informed leadership in NHS Scotland: A case study. In D. Editor (Ed.), "
        "Example Handbook for Citation Tests (pp. 1–9). Example Press.")
    assert format_reference(record, "harvard").text.startswith(
        "Sample, C. (2018) ‘Trauma-Informed Leadership in NHS Scotland: A Case Study’, in D. Editor (ed.) ")


def test_a_title_from_a_saved_pack_is_sentence_cased_without_braces() -> None:
    # A snapshot keeps decoded text only: capitals still survive as acronyms.
    record = Record(key="x", type="article", title="Burnout in the NHS: A National Survey", year=2020,
                    fields={"journal": "Example Journal of Citation Tests"})
    assert format_reference(record, "apa").text.startswith("Burnout in the NHS: A national survey.")


@pytest.mark.parametrize(("keys", "style", "expected"), [
    (["muskett2014trauma"], "apa", ["Muskett, 2014"]),
    # two authors are never "et al."
    (["sweeney2018misunderstanding"], "apa", ["Sweeney & Taggart, 2018"]),
    (["sweeney2018misunderstanding"], "harvard", ["Sweeney and Taggart, 2018"]),
    # APA: three or more authors; Cite Them Right: four or more
    (["hopper2010shelter", "felitti1998relationship"], "apa", ["Hopper et al., 2010", "Felitti et al., 1998"]),
    (["hopper2010shelter", "felitti1998relationship"], "harvard",
     ["Hopper, Bassuk and Olivet, 2010", "Felitti et al., 1998"]),
    (["samhsa2014concept", "figley1995compassion"], "apa",
     ["Substance Abuse and Mental Health Services Administration, 2014", "Figley, 1995"]),
])
def test_citation_labels(records: dict[str, Record], keys: list[str], style: str, expected: list[str]) -> None:
    assert citation_labels([records[k] for k in keys], style) == expected


def test_cached_formatting_equals_a_fresh_run(records: dict[str, Record]) -> None:
    from library import citations

    chosen = list(records.values())
    cached = format_bibliography(chosen, "apa")
    citations._render_items.cache_clear()
    assert format_bibliography(chosen, "apa") == cached


@pytest.mark.parametrize(("url", "kept"), [
    ("https://example.org/a?b=c#d", True), ("http://example.org", True), ("  HTTPS://EXAMPLE.ORG/x ", True),
    ("javascript:alert(1)", False), ("JavaScript:alert(1)", False), ("data:text/html,<script>x</script>", False),
    ("file:///etc/passwd", False), ("ftp://example.org/x", False), ("//example.org/x", False),
    ("https:javascript:alert(1)", False), ("https://", False), ("https://exa mple.org", False),
    ("https://example.org/a\x00b", False), ("https://example.org/a\nb", False), ("", False),
])
def test_safe_url_keeps_only_http_links(url: str, kept: bool) -> None:
    assert (safe_url(url) != "") == kept


@pytest.mark.parametrize(("url", "expected"), [
    ('https://doi.org/10.1234/"><script>alert(1)</script>',
     "https://doi.org/10.1234/%22%3E%3Cscript%3Ealert(1)%3C/script%3E"),
    ("https://example.org/a b?q=ü", "https://example.org/a%20b?q=%C3%BC"),
    ("https://example.org/path?x=1&y=(2)#frag", "https://example.org/path?x=1&y=(2)#frag"),
])
def test_safe_url_percent_encodes_what_could_break_out_of_a_link(url: str, expected: str) -> None:
    assert safe_url(url) == expected


def _italic(citation: FormattedCitation) -> list[str]:
    return [s.text for s in citation.segments if s.italic]


def test_apa_italicises_journal_and_volume_and_book_titles(records: dict[str, Record]) -> None:
    article = format_reference(records["muskett2014trauma"], "apa")
    assert _italic(article) == ["International Journal of Mental Health Nursing", "23"]
    assert "<i>International Journal of Mental Health Nursing</i>, <i>23</i>(1)" in article.html
    book = format_reference(records["bloom1997creating"], "apa")
    assert _italic(book) == ["Creating Sanctuary: Toward the Evolution of Sane Societies"]
    chapter = format_reference(records["example2020chapter"], "apa")
    assert _italic(chapter) == ["Example Handbook for Citation Tests"]


def test_harvard_italicises_journal_and_et_al(records: dict[str, Record]) -> None:
    article = format_reference(records["felitti1998relationship"], "harvard")
    assert _italic(article) == ["et al.", "American Journal of Preventive Medicine"]


def test_doi_is_a_link_in_segments_and_html(records: dict[str, Record]) -> None:
    citation = format_reference(records["felitti1998relationship"], "apa")
    links = [s for s in citation.segments if s.url]
    assert links == [Segment("https://doi.org/10.1016/S0749-3797(98)00017-8",
                             url="https://doi.org/10.1016/S0749-3797(98)00017-8")]
    assert ('<a href="https://doi.org/10.1016/S0749-3797(98)00017-8">'
            "https://doi.org/10.1016/S0749-3797(98)00017-8</a>") in citation.html


def test_bibliography_keeps_the_order_given(records: dict[str, Record]) -> None:
    # The pack numbers its references [1], [2]... so the list must not be re-sorted.
    chosen = [records["sweeney2018misunderstanding"], records["bloom1997creating"],
              records["felitti1998relationship"]]
    result = format_bibliography(chosen, "apa")
    assert [c.key for c in result] == [r.key for r in chosen]
    assert result[0].text.startswith("Sweeney")


def test_values_are_escaped_in_html() -> None:
    record = Record(key="x", type="article", title="Example <script>alert(1)</script> & more",
                    year=2020, fields={"journal": "Example Journal of Citation Tests"})
    citation = format_reference(record, "apa")
    assert "<script>" not in citation.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in citation.html
    assert "Example <script>alert(1)</script> & more" in citation.text


def test_unknown_style_is_a_pack_error(records: dict[str, Record]) -> None:
    with pytest.raises(PackError, match="Unknown citation style 'mla'"):
        format_bibliography([records["muskett2014trauma"]], "mla")


def test_empty_list_formats_to_nothing() -> None:
    assert format_bibliography([], "harvard") == []


@pytest.mark.parametrize("name", sorted(STYLES))
def test_shipped_styles_pass_citeproc_schema(name: str) -> None:
    # citeproc-py warns when a style fails its schema; filterwarnings=error turns that into a failure.
    CitationStylesStyle(str(STYLES_DIR / STYLES[name].file), locale=STYLES[name].locale, validate=True)


def test_shipped_files_keep_their_licence() -> None:
    for path in [*STYLES_DIR.glob("*.csl"), *STYLES_DIR.glob("locales-*.xml")]:
        assert "creativecommons.org/licenses/by-sa/3.0" in path.read_text(encoding="utf-8"), path.name
    readme = (STYLES_DIR / "README.md").read_text(encoding="utf-8")
    for path in [*STYLES_DIR.glob("*.csl"), *STYLES_DIR.glob("locales-*.xml")]:
        assert path.name in readme


# ---------------------------------------------------------------- CSL-JSON


@pytest.mark.parametrize(("key", "csl_type"), [
    ("felitti1998relationship", "article-journal"),
    ("bloom1997creating", "book"),
    ("example2020chapter", "chapter"),
    ("samhsa2014concept", "report"),
    ("clark2021mental", "thesis"),
])
def test_csl_types(records: dict[str, Record], key: str, csl_type: str) -> None:
    assert to_csl(records[key])["type"] == csl_type


def test_csl_article(records: dict[str, Record]) -> None:
    item = to_csl(records["felitti1998relationship"])
    assert item["id"] == "felitti1998relationship"
    assert item["author"][0] == {"family": "Felitti", "given": "Vincent J."}
    assert len(item["author"]) == 8
    assert item["issued"] == {"date-parts": [[1998]]}
    assert item["container-title"] == "American Journal of Preventive Medicine"
    assert (item["volume"], item["issue"], item["page"]) == ("14", "4", "245–258")
    assert item["DOI"] == "10.1016/S0749-3797(98)00017-8"
    assert "URL" not in item  # the DOI is the lasting link


def test_csl_particles_and_organisations(records: dict[str, Record]) -> None:
    kessler = to_csl(records["kessler2017trauma"])["author"]
    assert {"family": "Girolamo", "given": "Giovanni", "non-dropping-particle": "de"} in kessler
    assert {"family": "Cardoso", "given": "Graça"} in kessler
    assert to_csl(records["samhsa2014concept"])["author"] == [
        {"literal": "Substance Abuse and Mental Health Services Administration"}]


def test_csl_report_and_thesis(records: dict[str, Record]) -> None:
    report = to_csl(records["samhsa2014concept"])
    assert (report["genre"], report["number"]) == ("HHS Publication", "(SMA) 14-4884")
    assert report["publisher"] == "Substance Abuse and Mental Health Services Administration"
    assert report["publisher-place"] == "Rockville, MD"
    assert report["URL"] == "https://store.samhsa.gov/sites/default/files/d7/priv/sma14-4884.pdf"
    thesis = to_csl(records["clark2021mental"])
    assert thesis["genre"] == "Prof Doc thesis"  # from the BibTeX `type` field
    assert thesis["publisher"] == "University of East London, School of Psychology"


def test_csl_chapter(records: dict[str, Record]) -> None:
    item = to_csl(records["example2020chapter"])
    assert item["container-title"] == "Example Handbook for Citation Tests"
    assert item["editor"] == [{"family": "Editor", "given": "Diana"}]
    assert item["page"] == "10–25"


def test_csl_thesis_genre_defaults_by_entry_type() -> None:
    record = Record(key="t", type="mastersthesis", title="Example thesis", year=2020,
                    fields={"school": "Example University"})
    assert to_csl(record)["genre"] == "Master's thesis"


@pytest.mark.parametrize(("pages", "expected"), [
    ("245--258", "245–258"), ("245-258", "245–258"), ("e356--e366", "e356–e366"), ("72", "72")])
def test_csl_page_ranges_use_an_en_dash(pages: str, expected: str) -> None:
    record = Record(key="p", type="article", title="Example", fields={"pages": pages})
    assert to_csl(record)["page"] == expected


def test_an_article_without_a_confirmed_volume_is_not_called_a_preprint() -> None:
    # The shipped seed reference has no volume or pages because they were not confirmed;
    # Cite Them Right's "[Preprint]" would say the published article was not yet published.
    [entry] = parse_file(Path(__file__).resolve().parents[1] / "references" / "oconnor2018burnout.bib").entries
    record = Record.from_entry(entry)
    assert not record.fields.get("volume") and not record.fields.get("pages")
    harvard = format_bibliography([record], "harvard")[0].text
    assert "Preprint" not in harvard
    assert harvard.startswith("O’Connor, K., Muller Neff, D. and Pitman, S. (2018) ‘Burnout in mental health "
                              "professionals: a systematic review and meta-analysis of prevalence and "
                              "determinants’, European Psychiatry. Available at: "
                              "https://doi.org/10.1016/j.eurpsy.2018.06.003")


@pytest.mark.parametrize(("authors", "apa", "harvard", "apa_in_text"), [
    ("Sample, Chris and Example, Alice and Editor, Diana and others",
     "Sample, C., Example, A., Editor, D., et al. (2019).", "Sample, C. et al. (2019)", "(Sample et al., 2019)"),
    ("Sample, Chris and others", "Sample, C., et al. (2019).", "Sample, C. et al. (2019)", "(Sample et al., 2019)"),
])
def test_and_others_reads_et_al(authors: str, apa: str, harvard: str, apa_in_text: str) -> None:
    # BibTeX's "and others" (the rest of the authors not given) must never print as a name, "& others".
    [entry] = parse_text(f"@article{{example2019others, author = {{{authors}}}, title = {{Example title}}, "
                         "journal = {Example Journal of Citation Tests}, year = {2019}}").entries
    record = Record.from_entry(entry)
    assert format_reference(record, "apa").text.startswith(apa)
    assert format_reference(record, "harvard").text.startswith(harvard)
    assert format_reference(record, "apa").in_text == apa_in_text
    # CSL-JSON has no "et al.": the exported data lists the people given, never a person called "others".
    assert to_csl(record)["author"] == [{"family": "Sample", "given": "Chris"}, *(
        [{"family": "Example", "given": "Alice"}, {"family": "Editor", "given": "Diana"}] if "Alice" in authors else [])]
