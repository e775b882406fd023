"""What the project says about its founding study (Clark, 2021) matches the study's public facts.

The facts are those of the study's abstract, as the project's DOMAIN.md states them (read in place
from the shared folder): four main themes, the facilitators and the three barriers it names, and
eight pieces of advice.  Anything the project adds (a barrier the study does not name, one-line
glosses of the advice) must say that it is the project's own.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Iterator

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from library.bibtex import parse_file
from library.records import Record
from library.taxonomy import load_vocabulary

from .conftest import REPO
from .shared_data import shared_path

VOCABULARY = load_vocabulary(REPO / "references" / "themes.toml")
README = (REPO / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def domain() -> str:
    return " ".join(shared_path("DOMAIN.md").read_text(encoding="utf-8").split())


def _advice_points(domain: str) -> list[str]:
    listed = re.search(r"Advice, in eight points: (.+?)\.(?: |$)", domain)
    assert listed, "DOMAIN.md no longer lists the eight pieces of advice"
    points = [re.sub(r"^\d+ ", "", p.strip()) for p in listed.group(1).split(";")]
    assert len(points) == 8
    return points


def test_the_advice_themes_are_the_studys_eight_points_in_order(domain: str) -> None:
    assert [t.label for t in VOCABULARY.children("advice")] == _advice_points(domain)


def test_the_barriers_the_study_names_and_the_one_it_does_not(domain: str) -> None:
    assert "Barriers named: the prevalence of the medical model; misunderstandings about what the " \
           "trauma-informed model is; staff burnout." in domain
    labels = {t.slug: t.label for t in VOCABULARY.children("barriers")}
    assert labels["barrier-medical-model"] == "The prevalence of the medical model"
    assert labels["barrier-burnout"] == "Staff burnout"
    assert "misunderstanding" in labels["barrier-misunderstanding"].casefold()
    # The only other barrier says, where a reader sees it, that the study does not name it.
    assert set(labels) == {"barrier-medical-model", "barrier-misunderstanding", "barrier-burnout", "barrier-resources"}
    assert "not one the founding study names" in VOCABULARY.theme_by_slug["barrier-resources"].description
    text = (REPO / "references" / "themes.toml").read_text(encoding="utf-8")
    heading = text.index("# Other barriers advocates commonly meet (not named in the founding study)")
    assert text.index('slug = "barrier-burnout"') < heading < text.index('slug = "barrier-resources"')
    assert "named in the founding study;" not in text


def test_the_facilitators_are_those_the_study_names(domain: str) -> None:
    assert "Facilitators named: the advocates' persistence, passion for the work and inspiration from clients" in domain
    descriptions = {t.slug: t.description for t in VOCABULARY.children("facilitators")}
    assert set(descriptions) == {"facilitator-persistence", "facilitator-allies", "facilitator-managers",
                                 "facilitator-research"}
    assert "inspiration from clients" in descriptions["facilitator-persistence"]


def test_the_readme_states_the_facilitators_and_the_three_pieces_of_advice_it_serves() -> None:
    intro = " ".join(README.split("## Two commands")[0].split())
    assert "who found that getting management on board, using research and being strategic are what help" not in intro
    for fact in ("fifteen such advocates (Clark, 2021)", "persistence and passion for the work",
                 "(with inspiration from clients)", "allies inside and outside services", "managers",
                 "sharing research with managers and colleagues",
                 "Three of its eight pieces of advice for advocates (get management on board, make use of "
                 "research, be strategic)"):
        assert fact in intro, fact


USER_FACING = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md")), *sorted((REPO / "views").glob("*.py")),
               *sorted((REPO / "references").glob("*")), *sorted((REPO / "library").rglob("*.py"))]


@pytest.mark.parametrize("path", USER_FACING, ids=[str(p.relative_to(REPO)) for p in USER_FACING])
def test_nothing_calls_the_medical_model_dominant(path: Path) -> None:
    # The study's abstract speaks of the *prevalence* of the medical model.
    assert not re.search(r"\bdominan(ce|t)\b", path.read_text(encoding="utf-8"), re.IGNORECASE)


def test_the_founding_studys_key_finding_lists_exactly_the_barriers_it_names() -> None:
    [entry] = parse_file(REPO / "references" / "clark2021mental.bib").entries
    finding = Record.from_entry(entry).key_finding
    assert ("the barriers (the prevalence of the medical model, misunderstandings about what the trauma-informed "
            "model is, and staff burnout)") in finding
    assert "inspiration from clients" in finding


# ---------------------------------------------------------------- the concerns page


@pytest.fixture
def app(tmp_path: Path) -> Iterator[AppTest]:
    shutil.copytree(REPO / "references", tmp_path / "references", ignore=shutil.ignore_patterns(".*"))
    st.cache_resource.clear()
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    at.secrets["isolated"] = "yes"
    at.run()
    at.switch_page("views/concerns.py").run()
    assert not at.exception, at.exception
    yield at
    st.cache_resource.clear()


def test_the_concerns_page_marks_the_advice_glosses_as_our_own_wording(app: AppTest) -> None:
    # The tab's label is short enough for a phone (390 px); the "our summaries" wording is in the tab.
    assert "The study's eight pieces of advice" in [t.label for t in app.tabs]
    assert "**The study's eight pieces of advice (our one-line summaries)**" in [m.value for m in app.markdown]
    intro = [m.value for m in app.markdown if m.value.startswith("The founding study (Clark, 2021) gave eight")]
    assert intro and "our own one-line summary, not the study's words" in intro[0]
    advice = VOCABULARY.children("advice")
    assert [h.value for h in app.subheader] == [f"{n}. {t.label}" for n, t in enumerate(advice, 1)]
    glosses = [c.value for c in app.caption if c.value.startswith("Our summary: ")]
    assert len(glosses) == len(advice)
