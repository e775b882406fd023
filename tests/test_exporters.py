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

from library.bibtex import parse_file, parse_text
from library.errors import PackDoesNotFit, PackError
from library.exporters import EXPORTERS, build_pack, file_name
from library.exporters.brief import BriefTerms, EvidenceKind, build_brief, evidence_kind
from library.packs import KeyMessage, Pack, PackReference, Selection
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
TERMS = BriefTerms(kinds={slug: evidence_kind(label, slug) for slug, label in EVIDENCE_LABELS.items()},
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
        selection=Selection(searches=("trauma-informed care", "staff wellbeing"),
                            filters=("Evidence type: any",), note="Chosen with the ward team"),
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
    assert "How the references were chosen: searched the evidence library for ‘trauma-informed care’" in text
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
        "Based on 1 book or theory and 1 guidance, policy or framework document.")
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
