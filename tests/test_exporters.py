"""Exporters: each format rendered from a real pack and read back with a real reader.

Golden files in tests/golden/ hold the expected HTML and Markdown for a fixed
pack with a fixed date.  After a deliberate change to the layout, regenerate
them with `UPDATE_GOLDEN=1 pytest tests/test_exporters.py` and review the diff.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import re
from dataclasses import replace
from pathlib import Path

import docx
import pypdf
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from library.bibtex import parse_file, parse_text
from library.errors import PackDoesNotFit, PackError
from library.exporters import EXPORTERS, build_pack, file_name
from library.exporters.brief import BriefTerms, EvidenceKind, build_brief, evidence_kind
from library.packs import KeyMessage, Pack, PackReference, Search, Selection
from library.records import Record
from library.ris import parse_ris

DATA = Path(__file__).resolve().parent / "data"
GOLDEN = Path(__file__).resolve().parent / "golden"

KEYS = ("felitti1998relationship", "sweeney2018paradigm", "samhsa2014concept", "clark2021mental",
        "muller2023example", "example2020chapter")
EVIDENCE_LABELS = {
    "quantitative": "Quantitative observational study", "book-theory": "Book or theory",
    "guidance": "Guidance, policy or framework", "qualitative": "Qualitative study",
    "mixed-methods": "Mixed-methods study",
}
# A small vocabulary of our own (the shipped one is the librarian's to change):
# the themes of the fixtures and their broader themes, as in references/themes.toml.
THEMES = {"founding-study": ("What the founding study found", None),
          "defining-qualities": ("Defining qualities of trauma-informed services", "founding-study"),
          "facilitators": ("What helps trauma-informed change", None),
          "facilitator-managers": ("Supportive managers", "facilitators"),
          "samhsa": ("SAMHSA's trauma-informed approach", None),
          "samhsa-principles": ("The six key principles", "samhsa"),
          "what-managers-ask": ("What managers ask", None),
          "prevalence": ("How common is trauma?", "what-managers-ask"),
          "aces": ("Adverse childhood experiences", "prevalence"),
          "staff-wellbeing": ("Staff wellbeing", "what-managers-ask"),
          "burnout": ("Burnout", "staff-wellbeing"),
          "compassion-fatigue": ("Compassion fatigue", "staff-wellbeing")}
KIND_ORDER = ("quantitative", "qualitative", "mixed-methods", "guidance", "book-theory")  # as in the vocabulary
TERMS = BriefTerms(kinds={slug: evidence_kind(EVIDENCE_LABELS[slug], slug) for slug in KIND_ORDER},
                   themes={slug: label for slug, (label, _) in THEMES.items()},
                   parents={slug: parent for slug, (_, parent) in THEMES.items()})
DOI_LINKS = {
    "https://doi.org/10.1016/S0749-3797(98)00017-8", "https://doi.org/10.1192/bja.2018.29",
    "https://doi.org/10.5555/example.wellbeing.2023", "https://doi.org/10.5555/example.chapter.2020",
}
NAMES = ("Müller", "Šimić", "Ó Súilleabháin")


@pytest.fixture(scope="module")
def records() -> dict[str, Record]:
    result = parse_file(DATA / "pack_references.bib")
    assert not result.problems, [p.describe() for p in result.problems]
    return {entry.key: Record.from_entry(entry) for entry in result.entries}


@pytest.fixture(scope="module")
def pack(records: dict[str, Record]) -> Pack:
    return Pack(
        title="Should our wards become trauma-informed?",
        audience="Ward managers, Acute Mental Health Directorate",
        ask="Agree a six-month pilot of trauma-informed training for staff on two acute wards, "
            "starting in the spring.",
        concern="“This is just the medical model renamed.”",
        key_messages=(
            KeyMessage("Adverse childhood experiences are common and linked with poorer adult health.", (1,)),
            KeyMessage("Trauma-informed services put relationships and safety at the centre of care.", (2, 3)),
            KeyMessage("Staff who advocate for this change name managers as the key to making it happen.", (4,)),
            KeyMessage("Staff wellbeing matters to whether the change lasts.", (5, 6)),
        ),
        references=tuple(PackReference.from_record(records[k]) for k in KEYS),
        prepared_by="Jo Bloggs, Clinical Psychologist",
        date=dt.date(2025, 3, 1),
        selection=Selection(searches=(Search("trauma-informed care"),
                                      Search("staff wellbeing", evidence_types=("Systematic review or meta-analysis",))),
                            one_by_one=True, note="Chosen with the ward team"),
    )


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _build(pack: Pack, records: dict[str, Record], fmt: str, style: str = "apa") -> bytes:
    return build_pack(pack, records, fmt, style, terms=TERMS)


# ---------------------------------------------------------------- PDF


@pytest.mark.parametrize("style", ["apa", "harvard"])
def test_pdf_is_one_page_with_everything_on_it(pack: Pack, records: dict[str, Record], style: str) -> None:
    reader = pypdf.PdfReader(io.BytesIO(_build(pack, records, "pdf", style)))
    assert len(reader.pages) == 1
    page = reader.pages[0]
    assert (page.mediabox.width, page.mediabox.height) == pytest.approx((595.28, 841.89), abs=0.1)  # A4
    text = _flat(page.extract_text())
    assert pack.title in text
    assert pack.ask in text
    for message in pack.key_messages:
        assert message.text in text
    for number, reference in enumerate(pack.references, 1):
        assert f"[{number}]" in text
        assert _flat(reference.note) in text
    for name in NAMES:
        assert name in text
    # The references themselves, up to their links (long URLs may break anywhere).
    assert ("Felitti, V. J., Anda, R. F., Nordenberg, D., Williamson, D. F., Spitz, A. M., Edwards, V., "
            "Koss, M. P., & Marks, J. S. (1998)." if style == "apa" else "Felitti, V.J. et al. (1998)") in text
    assert ("Müller, A., Šimić, I., & Ó Súilleabháin, S. (2023)." if style == "apa"
            else "Müller, A., Šimić, I. and Ó Súilleabháin, S. (2023)") in text
    assert "Clark, S. (2021" in text and "Substance Abuse and Mental Health Services Administration" in text
    assert "Prepared on 1 March 2025 by Jo Bloggs, Clinical Psychologist." in text
    assert ("How the references were chosen: searches of the evidence library for “trauma-informed care” and for "
            "“staff wellbeing” (systematic reviews or meta-analyses only); others chosen one by one; Chosen with the "
            "ward team.") in text
    assert "plain-language summaries" in text


def test_pdf_links_every_doi(pack: Pack, records: dict[str, Record]) -> None:
    page = pypdf.PdfReader(io.BytesIO(_build(pack, records, "pdf"))).pages[0]
    links = {annotation.get_object()["/A"]["/URI"] for annotation in page["/Annots"]}
    assert DOI_LINKS <= links


def test_pdf_metadata(pack: Pack, records: dict[str, Record]) -> None:
    reader = pypdf.PdfReader(io.BytesIO(_build(pack, records, "pdf")))
    assert reader.metadata is not None
    assert reader.metadata.title == pack.title
    assert reader.metadata.author == pack.prepared_by


def test_pdf_shrinks_text_before_giving_up(pack: Pack, records: dict[str, Record]) -> None:
    longer = "This note is longer than most, to push the brief towards the foot of the page. " * 2
    fuller = replace(pack, references=tuple(replace(r, note=longer) for r in pack.references))
    reader = pypdf.PdfReader(io.BytesIO(_build(fuller, records, "pdf")))
    assert len(reader.pages) == 1


def test_pdf_that_cannot_fit_says_what_to_cut(pack: Pack, records: dict[str, Record]) -> None:
    long_note = "A note that goes on and on about why this work matters for the ward. " * 16
    references = tuple(replace(r, note=long_note) if n in (4, 5) else r
                       for n, r in enumerate(pack.references, 1))
    with pytest.raises(PackDoesNotFit) as caught:
        _build(replace(pack, references=references), records, "pdf")
    message = str(caught.value)
    assert message.startswith("This brief does not fit on one A4 page, even in the smallest readable print. ")
    assert re.search(r"Shorten the notes for references 4 and 5 or remove (one|two) references?: "
                     r"the brief is about \d+ lines? too long\.$", message), message


def test_pdf_too_many_references_says_to_remove_some(pack: Pack, records: dict[str, Record]) -> None:
    many = tuple(replace(r, key=f"{r.key}{copy}") for copy in "abc" for r in pack.references)
    by_key = {f"{k}{copy}": replace(records[k], key=f"{k}{copy}") for copy in "abc" for k in KEYS}
    with pytest.raises(PackDoesNotFit, match=r"(Remove \w+ references|remove \w+ references?).* lines? too long"):
        _build(replace(pack, references=many), by_key, "pdf")


# ---------------------------------------------------------------- Word


def test_docx_has_real_headings_lists_and_links(pack: Pack, records: dict[str, Record]) -> None:
    document = docx.Document(io.BytesIO(_build(pack, records, "docx")))
    by_style: dict[str, list[str]] = {}
    for paragraph in document.paragraphs:
        by_style.setdefault(paragraph.style.name, []).append(paragraph.text)
    assert by_style["Title"] == [pack.title]
    assert by_style["Heading 1"] == ["What we are asking for", "The concern this answers", "Key messages",
                                     "What the evidence says", "References (APA 7th edition)",
                                     "About this brief"]
    # Grouped by theme: the themes are Heading 2, the references under them Heading 3.
    assert by_style["Heading 2"] == ["Adverse childhood experiences",
                                     "Defining qualities of trauma-informed services", "Staff wellbeing"]
    assert by_style["Heading 3"][0] == "[1] Felitti et al., 1998"
    assert by_style["Heading 3"][4] == "[5] Müller et al., 2023"
    assert [p.split("\n")[0] for p in by_style["List Bullet"]] == [
        f"{m.text} [{', '.join(map(str, m.cites))}]" for m in pack.key_messages]
    assert by_style["List Bullet"][1].split("\n")[1] == (
        "Based on 1 guidance, policy or framework document and 1 book or theory.")
    body = "\n".join(p.text for p in document.paragraphs)
    for reference in pack.references:
        assert reference.note in body
    for name in NAMES:
        assert name in body
    assert "Koss, M. P., & Marks, J. S. (1998)." in body
    links = {link.address for p in document.paragraphs for link in p.hyperlinks}
    assert DOI_LINKS <= links
    assert document.core_properties.title == pack.title
    assert document.core_properties.language == "en-GB"


def test_docx_italicises_journal_titles(pack: Pack, records: dict[str, Record]) -> None:
    document = docx.Document(io.BytesIO(_build(pack, records, "docx")))
    italic = [run.text for p in document.paragraphs for run in p.runs if run.italic]
    assert "American Journal of Preventive Medicine" in italic


# ---------------------------------------------------------------- HTML and Markdown


@pytest.mark.parametrize(("fmt", "golden"), [("html", "pack.html"), ("md", "pack.md")])
def test_golden_files(pack: Pack, records: dict[str, Record], fmt: str, golden: str) -> None:
    output = _build(pack, records, fmt).decode("utf-8")
    path = GOLDEN / golden
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(exist_ok=True)
        path.write_text(output, encoding="utf-8")
    assert output == path.read_text(encoding="utf-8"), f"{golden} differs; see the module docstring"


def test_html_is_self_contained_and_printable(pack: Pack, records: dict[str, Record]) -> None:
    page = _build(pack, records, "html").decode("utf-8")
    assert page.startswith("<!DOCTYPE html>\n<html lang=\"en-GB\">")
    assert "@page { size: A4;" in page and "@media print" in page
    assert not re.search(r"""(src|href)=["'](?!https://|#)""", page)  # no local or relative assets
    assert "<link" not in page and "<script" not in page and "@import" not in page
    assert "default-src 'none'" in page


@pytest.fixture()
def hostile(pack: Pack) -> Pack:
    references = (replace(pack.references[0], note="See [click](javascript:alert(1)) and <img src=x onerror=alert(2)>"),
                  *pack.references[1:])
    return replace(pack, title="<script>alert(1)</script>", ask="[ask](javascript:alert(3))",
                   audience="</p><script>alert(4)</script>", references=references,
                   key_messages=(KeyMessage("# Heading? *bold* `code` <b>html</b> &amp;", (1,)),
                                 *pack.key_messages[1:]))


def test_user_values_stay_inert_in_html(hostile: Pack, records: dict[str, Record]) -> None:
    page = _build(hostile, records, "html").decode("utf-8")
    assert "<script" not in page and "<img" not in page and "<b>" not in page
    assert "javascript:" not in re.findall(r'href="([^"]*)"', page).__str__()
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt;</title>" in page
    assert "<h1>&lt;script&gt;alert(1)&lt;/script&gt;</h1>" in page
    assert "See [click](javascript:alert(1)) and &lt;img src=x onerror=alert(2)&gt;" in page
    assert "&amp;amp;" in page  # "&amp;" typed by the user is shown as typed


def test_user_values_stay_inert_in_markdown(hostile: Pack, records: dict[str, Record]) -> None:
    text = _build(hostile, records, "md").decode("utf-8")
    assert re.search(r"(?<!\\)<", text) is None  # no raw HTML can start
    destinations = re.findall(r"(?<!\\)\]\(([^)\s]*)", text)
    assert destinations and all(d.startswith("https://") for d in destinations)
    assert "# \\<script\\>alert(1)\\</script\\>" in text
    assert "See \\[click\\](javascript:alert(1)) and \\<img src=x onerror=alert(2)\\>" in text
    assert "\\[ask\\](javascript:alert(3))" in text
    assert "- # Heading? \\*bold\\* \\`code\\` \\<b\\>html\\</b\\> \\&amp; **\\[1\\]**" in text


def test_markdown_paragraphs_cannot_become_headings_or_lists(pack: Pack, records: dict[str, Record]) -> None:
    text = _build(replace(pack, ask="# Not a heading", concern="1. Not a list"), records, "md").decode("utf-8")
    assert "\n\\# Not a heading\n" in text
    assert "\n1\\. Not a list\n" in text


# ---------------------------------------------------------------- reference files


def test_bib_parses_back(pack: Pack, records: dict[str, Record]) -> None:
    result = parse_text(_build(pack, records, "bib").decode("utf-8"))
    assert not result.problems
    assert [e.key for e in result.entries] == list(KEYS)
    assert [Record.from_entry(e).title for e in result.entries] == [records[k].title for k in KEYS]


def test_ris_parses_back(pack: Pack, records: dict[str, Record]) -> None:
    result = parse_ris(_build(pack, records, "ris").decode("utf-8"))
    assert not result.errors
    parsed = [Record.from_entry(e) for e in result.entries]
    assert [r.title for r in parsed] == [records[k].title for k in KEYS]
    assert [r.doi for r in parsed] == [records[k].doi for k in KEYS]


def test_csljson_parses_back(pack: Pack, records: dict[str, Record]) -> None:
    items = json.loads(_build(pack, records, "csljson"))
    assert [item["id"] for item in items] == list(KEYS)
    assert items[4]["author"][2] == {"family": "Ó Súilleabháin", "given": "Seán"}
    assert items[0]["DOI"] == "10.1016/S0749-3797(98)00017-8"


# ---------------------------------------------------------------- registry


def test_registry_describes_every_format() -> None:
    assert set(EXPORTERS) == {"pdf", "docx", "html", "md", "bib", "ris", "csljson"}
    for name, exporter in EXPORTERS.items():
        assert exporter.name == name
        assert exporter.extension.startswith(".") and "/" in exporter.mime_type and exporter.label


@pytest.mark.parametrize("fmt", sorted(EXPORTERS))
def test_every_format_renders_bytes(pack: Pack, records: dict[str, Record], fmt: str) -> None:
    data = EXPORTERS[fmt].render(pack, [records[k] for k in KEYS], "harvard")
    assert isinstance(data, bytes) and data


def test_unknown_format_and_style_are_pack_errors(pack: Pack, records: dict[str, Record]) -> None:
    with pytest.raises(PackError, match="Unknown format 'odt'"):
        build_pack(pack, records, "odt")
    with pytest.raises(PackError, match="Unknown citation style 'vancouver'"):
        build_pack(pack, records, "html", "vancouver")


def test_records_must_match_the_pack(pack: Pack, records: dict[str, Record]) -> None:
    with pytest.raises(PackError, match="6 references but 5 records"):
        EXPORTERS["html"].render(pack, [records[k] for k in KEYS[:5]], "apa")


# ---------------------------------------------------------------- the kind of evidence behind each message

KINDS = [
    # slug, vocabulary label, "1 ...", "2 ..."
    ("systematic-review", "Systematic review or meta-analysis", "systematic review or meta-analysis",
     "systematic reviews or meta-analyses"),
    ("scoping-review", "Scoping or mapping review", "scoping or mapping review", "scoping or mapping reviews"),
    ("trial", "Trial", "trial", "trials"),
    ("quantitative", "Quantitative observational study", "quantitative observational study",
     "quantitative observational studies"),
    ("qualitative", "Qualitative study", "qualitative study", "qualitative studies"),
    ("mixed-methods", "Mixed-methods study", "mixed-methods study", "mixed-methods studies"),
    ("guidance", "Guidance, policy or framework", "guidance, policy or framework document",
     "guidance, policy or framework documents"),  # the one override: the rule would say "2 guidance"
    ("book-theory", "Book or theory", "book or theory", "books or theories"),
    ("grey-literature", "Thesis or other grey literature", "thesis or other grey literature",
     "theses or other grey literature"),
    ("case-series", "Case series", "case series", "case series"),
    ("rct", "RCT or cluster trial", "RCT or cluster trial", "RCTs or cluster trials"),
    ("survey", "Survey", "survey", "surveys"),
    ("box", "Case box", "case box", "case boxes"),
]


@pytest.mark.parametrize(("slug", "label", "one", "two"), KINDS, ids=[k[0] for k in KINDS])
def test_kinds_of_evidence_are_counted_in_plain_english(slug: str, label: str, one: str, two: str) -> None:
    kind = evidence_kind(label, slug)
    assert kind == EvidenceKind(label, one, two)
    assert (kind.count(1), kind.count(3)) == (f"1 {one}", f"3 {two}")


def test_the_shipped_vocabulary_gets_a_plural_for_every_kind() -> None:
    from library.taxonomy import load_vocabulary

    vocabulary = load_vocabulary(Path(__file__).resolve().parent.parent / "references" / "themes.toml")
    terms = BriefTerms.from_vocabulary(vocabulary)
    assert set(terms.kinds) == {t.slug for t in vocabulary.evidence_types}
    for kind in terms.kinds.values():
        assert kind.singular and kind.plural and kind.plural[0].islower()


def test_each_message_says_what_evidence_stands_behind_it(pack: Pack, records: dict[str, Record]) -> None:
    messages = (KeyMessage("All of it.", (6, 1, 2, 3, 4, 5)), KeyMessage("Two alike.", (2, 6)),
                KeyMessage("Nothing cited."), KeyMessage("One.", (4,)))
    brief = build_brief(replace(pack, key_messages=messages), [records[k] for k in KEYS], "apa", TERMS)
    assert [m.marker for m in brief.messages] == ["[1, 2, 3, 4, 5, 6]", "[2, 6]", "", "[4]"]
    assert [m.evidence for m in brief.messages] == [
        # in the vocabulary's order; semicolons because one kind's own words hold a comma
        "Based on 1 quantitative observational study; 1 qualitative study; 1 mixed-methods study; "
        "1 guidance, policy or framework document and 2 books or theories.",
        "Based on 2 books or theories.",
        "",
        "Based on 1 qualitative study.",
    ]


def test_a_work_whose_kind_is_not_recorded_is_counted_as_such(pack: Pack, records: dict[str, Record]) -> None:
    untyped = replace(records["clark2021mental"], evidence_type="")
    chosen = [records[k] for k in KEYS[:3]] + [untyped]
    short = replace(pack, references=pack.references[:4],
                    key_messages=(KeyMessage("m", (1, 4)), KeyMessage("n", (4,))))
    brief = build_brief(short, chosen, "apa", TERMS)
    assert [m.evidence for m in brief.messages] == ["Based on 1 quantitative observational study and 1 other work.",
                                                    "Based on 1 work of a kind not recorded."]


# ---------------------------------------------------------------- grouped by theme, Further reading


def _groups(pack: Pack, records: dict[str, Record], terms: BriefTerms = TERMS) -> list[tuple[str, list[int]]]:
    brief = build_brief(pack, [records[r.key] for r in pack.references], "apa", terms)
    return [(g.heading, [i.number for i in g.items]) for g in brief.groups]


def test_evidence_is_grouped_by_the_fewest_narrowest_themes(pack: Pack, records: dict[str, Record]) -> None:
    assert _groups(pack, records) == [("Adverse childhood experiences", [1]),
                                      ("Defining qualities of trauma-informed services", [2, 3, 4]),
                                      ("Staff wellbeing", [5, 6])]
    # In another order the numbers follow the references, and groups the first number in each.
    reordered = pack.reordered(("muller2023example", *KEYS[:4], "example2020chapter"))
    assert _groups(reordered, records) == [("Staff wellbeing", [1, 6]), ("Adverse childhood experiences", [2]),
                                           ("Defining qualities of trauma-informed services", [3, 4, 5])]


def test_a_concern_pack_is_grouped_by_the_concern_s_themes(pack: Pack, records: dict[str, Record]) -> None:
    concern = "this is just the medical model renamed."  # the pack's concern, as the vocabulary has it
    terms = replace(TERMS, concerns={concern: ("facilitators", "what-managers-ask")})
    # The concern's themes first (a top-level one too), then the general rule for the rest.
    assert _groups(pack, records, terms) == [("What managers ask", [1, 5, 6]),
                                             ("Defining qualities of trauma-informed services", [2, 3]),
                                             ("What helps trauma-informed change", [4])]
    # A concern whose themes would scatter the references gives way to the general rule.
    terms = replace(TERMS, concerns={concern: ("facilitators", "staff-wellbeing")})
    assert _groups(pack, records, terms) == _groups(pack, records)


def test_no_headings_when_they_would_not_gather_references(pack: Pack, records: dict[str, Record]) -> None:
    # Three references under three themes read better as a plain list.
    three = pack.without("sweeney2018paradigm").without("samhsa2014concept").without("example2020chapter")
    assert _groups(three, records) == [("", [1, 2, 3])]
    # Without a vocabulary of themes, a plain list too.
    assert _groups(pack, records, BriefTerms.from_labels(EVIDENCE_LABELS)) == [("", [1, 2, 3, 4, 5, 6])]


def test_references_without_a_theme_come_last_under_other_evidence(pack: Pack, records: dict[str, Record]) -> None:
    untagged = {**records, "felitti1998relationship": replace(records["felitti1998relationship"], themes=()),
                "clark2021mental": replace(records["clark2021mental"], themes=())}
    assert _groups(pack, untagged) == [("Defining qualities of trauma-informed services", [2, 3]),
                                       ("Staff wellbeing", [5, 6]), ("Other evidence", [1, 4])]


@pytest.fixture()
def further(pack: Pack) -> Pack:
    return replace(pack, references=tuple(replace(r, further_reading=n >= 5)
                                          for n, r in enumerate(pack.references, 1)))


FURTHER_LINE = "[5] Müller et al., 2023; [6] Example & Sample, 2020."


@pytest.mark.parametrize("fmt", ["pdf", "docx", "html", "md"])
def test_further_reading_lists_references_without_their_notes(further: Pack, records: dict[str, Record],
                                                              fmt: str) -> None:
    text = _text_of(_build(further, records, fmt), fmt)
    assert "Further reading:" in text and FURTHER_LINE in text
    assert further.references[4].note not in text and further.references[5].note not in text
    assert further.references[3].note in text
    assert "Müller, A., Šimić, I., & Ó Súilleabháin, S. (2023)" in text  # still in the reference list


def _text_of(data: bytes, fmt: str) -> str:
    """What a reader sees, one space between words, Markdown escapes removed."""
    if fmt == "pdf":
        text = " ".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(data)).pages)
    elif fmt == "docx":
        text = "\n".join(p.text for p in docx.Document(io.BytesIO(data)).paragraphs)
    elif fmt == "html":
        import html as html_module

        text = html_module.unescape(re.sub(r"<[^>]+>", " ", data.decode("utf-8")))
    else:
        text = re.sub(r"\\(.)", r"\1", data.decode("utf-8")).replace("*", "")
    return re.sub(r"\s+", " ", text).replace(" ,", ",").replace(" .", ".").replace(" :", ":")


@pytest.mark.parametrize("fmt", ["pdf", "docx", "html", "md"])
def test_no_citation_key_appears_in_any_brief(pack: Pack, records: dict[str, Record], fmt: str) -> None:
    data = _build(pack, records, fmt)
    raw = data.decode("latin-1") if fmt in ("pdf", "docx") else data.decode("utf-8")
    if fmt == "docx":
        import zipfile

        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            raw = " ".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    text = _text_of(data, fmt)
    for key in KEYS:
        assert key not in text and key not in raw, f"{key} in the {fmt} brief"


# ---------------------------------------------------------------- file names, Word properties, links


def test_every_download_has_its_own_file_name(pack: Pack) -> None:
    names = {fmt: file_name(pack, fmt) for fmt in [*EXPORTERS, "pack"]}
    assert len(set(names.values())) == len(names), names
    assert names["csljson"] == "should-our-wards-become-trauma-informed-references.csl.json"
    assert names["pack"] == "should-our-wards-become-trauma-informed-pack.json"
    assert names["pdf"] == "should-our-wards-become-trauma-informed.pdf"
    assert file_name(replace(pack, title="Über «Müller» / ../../etc"), "pdf") == "uber-muller-etc.pdf"
    assert file_name(replace(pack, title="???"), "md") == "evidence-pack.md"


def test_a_title_longer_than_word_allows_is_cut_only_in_the_properties(pack: Pack, records: dict[str, Record]) -> None:
    title = "Why should we invest in staff wellbeing? " * 8  # 328 characters
    document = docx.Document(io.BytesIO(_build(replace(pack, title=title.strip(), prepared_by="P" * 300),
                                               records, "docx")))
    properties = document.core_properties
    assert len(properties.title) == 255 and properties.title.endswith("…")
    assert title.startswith(properties.title[:-1])
    assert len(properties.author) == 255 and len(properties.last_modified_by) == 255
    assert document.paragraphs[0].text == title.strip()  # the brief itself keeps the whole title


UNSAFE_LINKS = ["javascript:alert(1)", "JavaScript:alert(document.cookie)", "data:text/html;base64,PHNjcmlwdD4=",
                "file:///etc/passwd", "vbscript:msgbox(1)"]


@pytest.mark.parametrize("url", UNSAFE_LINKS)
@pytest.mark.parametrize("fmt", sorted(EXPORTERS))
def test_every_format_keeps_only_http_links(pack: Pack, records: dict[str, Record], fmt: str, url: str) -> None:
    entry = records["clark2021mental"].entry
    assert entry is not None
    unsafe = Record.from_entry(entry.with_fields(url=url, howpublished=f"\\url{{{url}}}", file="/home/x/clark.pdf"))
    safe = Record.from_entry(records["samhsa2014concept"].entry.with_fields(  # type: ignore[union-attr]
        url="https://example.org/samhsa?a=1&b=2"))
    data = _build(pack, {**records, "clark2021mental": unsafe, "samhsa2014concept": safe}, fmt)
    scheme = url.split(":")[0].lower()
    raw = data.decode("latin-1")
    if fmt == "docx":
        import zipfile

        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            raw = " ".join(archive.read(name).decode("utf-8") for name in archive.namelist()
                           if name.endswith((".xml", ".rels")))
    if fmt == "pdf":
        raw = raw + " " + _text_of(data, "pdf")
    assert scheme + ":" not in raw.lower(), f"{url} kept in {fmt}"
    assert "clark.pdf" not in raw
    assert "example.org/samhsa" in raw  # an http(s) link is kept
    if fmt == "ris":
        assert "UR  - https://example.org/samhsa?a=1&b=2" in raw and raw.count("UR  - ") == 1
    if fmt == "csljson":
        assert [item.get("URL") for item in json.loads(data)][2:4] == ["https://example.org/samhsa?a=1&b=2", None]
    if fmt == "bib":
        parsed = {e.key: e for e in parse_text(data.decode("utf-8")).entries}
        assert "url" not in parsed["clark2021mental"].fields and "file" not in parsed["clark2021mental"].fields
        assert "howpublished" not in parsed["clark2021mental"].fields


# ---------------------------------------------------------------- one page, measured without drawing


def _layout_ends(brief, body: float) -> tuple[float, float, float]:  # type: ignore[no-untyped-def]
    """Where the brief ends at `body` pt: drawn by fpdf2, measured from remembered heights, estimated."""
    from library.exporters import pdf

    document = pdf._blank_document()
    document.add_page(format=(pdf.PAGE_WIDTH, pdf.MEASURING_HEIGHT))
    drawn = pdf._Painter(pdf._Draw(document), body).draw(brief).end_y
    pdf._close_fonts(document)
    measured = pdf._Painter(pdf._Measure(), body).draw(brief).end_y
    estimated = pdf._Painter(pdf._Estimate(), body).draw(brief).end_y
    return drawn, measured, estimated


@pytest.mark.parametrize("variant", ["as is", "long notes", "further reading", "no ask, no audience", "hostile"])
def test_the_measured_layout_is_the_drawn_layout(pack: Pack, records: dict[str, Record], variant: str) -> None:
    from library.exporters.pdf import BODY_SIZES

    changed = {
        "as is": pack,
        "long notes": replace(pack, references=tuple(replace(r, note=r.note + " And more on why it matters. " * 6)
                                                     for r in pack.references)),
        "further reading": replace(pack, references=tuple(replace(r, further_reading=n % 2 == 0)
                                                          for n, r in enumerate(pack.references, 1))),
        "no ask, no audience": replace(pack, ask="", audience="", concern=""),
        "hostile": replace(pack, title="<b>" + "W" * 150, ask="x" * 900),
    }[variant]
    brief = build_brief(changed, [records[k] for k in KEYS], "harvard", TERMS)
    for body in BODY_SIZES:
        drawn, measured, estimated = _layout_ends(brief, body)
        assert measured == pytest.approx(drawn, abs=1e-6)
        assert estimated <= measured + 1e-6


@hypothesis_settings(max_examples=25, deadline=None)
@given(notes=st.lists(st.text(alphabet=st.characters(categories=("L", "N", "P", "Zs")), max_size=400),
                      min_size=6, max_size=6))
def test_the_estimate_never_exceeds_the_layout(pack: Pack, records: dict[str, Record], notes: list[str]) -> None:
    brief = build_brief(replace(pack, references=tuple(replace(r, note=n) for r, n in zip(pack.references, notes))),
                        [records[k] for k in KEYS], "apa", TERMS)
    drawn, measured, estimated = _layout_ends(brief, 9.0)
    assert estimated <= measured + 1e-6 and measured == pytest.approx(drawn, abs=1e-6)


def test_fit_says_which_size_the_pdf_uses_and_render_agrees(pack: Pack, records: dict[str, Record]) -> None:
    from library.exporters.pdf import fit

    brief = build_brief(pack, [records[k] for k in KEYS], "apa", TERMS)
    checked = fit(brief)
    assert checked.fits and checked.body_size in (10.5, 10.0, 9.5, 9.0) and checked.advice == ""
    fonts = re.findall(rb"/F\d+ ([\d.]+) Tf", _uncompressed_pdf(_build(pack, records, "pdf")))
    assert float(checked.body_size) in {float(size) for size in fonts}


def _uncompressed_pdf(data: bytes) -> bytes:
    import zlib

    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", data, re.S)
    out = b""
    for stream in streams:
        try:
            out += zlib.decompress(stream)
        except zlib.error:
            continue
    return out


@pytest.mark.parametrize(("change", "named"), [
    (lambda p: replace(p, references=(replace(p.references[0], note="word " * 19_800), *p.references[1:])),
     "the note for reference 1 (99,000 characters; at most 1,200)"),
    (lambda p: replace(p, references=(replace(p.references[0], note="x" * 99_000), *p.references[1:])),
     "the note for reference 1 (99,000 characters; at most 1,200)"),
    (lambda p: replace(p, title="T" * 300), "the title (300 characters; at most 200)"),
    (lambda p: replace(p, key_messages=(KeyMessage("m" * 1_500, (1,)),)), "key message 1 (1,500 characters"),
    (lambda p: replace(p, ask="a" * 4_000, concern="c" * 4_000, audience="u" * 400, prepared_by="p" * 400,
                       title="t" * 400), "and 1 other text."),
])
def test_texts_too_long_for_a_page_are_refused_before_layout_naming_them(pack: Pack, records: dict[str, Record],
                                                                         change, named: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PackDoesNotFit) as refused:
        _build(change(pack), records, "pdf")
    assert str(refused.value).startswith("This brief cannot fit on one A4 page: shorten ")
    assert named in str(refused.value)


def test_a_brief_far_too_long_is_refused_from_the_estimate(pack: Pack, records: dict[str, Record]) -> None:
    many = tuple(replace(r, key=f"{r.key}{copy}", note="Why this matters for the ward. " * 30)
                 for copy in "abcdefgh" for r in pack.references)
    by_key = {f"{k}{copy}": replace(records[k], key=f"{k}{copy}") for copy in "abcdefgh" for k in KEYS}
    with pytest.raises(PackDoesNotFit, match=r"^This brief is far too long for one A4 page\. .* at least \d+ lines"):
        _build(replace(pack, references=many), by_key, "pdf")
