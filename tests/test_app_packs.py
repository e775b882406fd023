"""The evidence pack in the app (AppTest): saved as it is edited, owned, shared read-only, and
every piece of reader text shown as text.

Each test runs the real `app.py` on its own copy of the collection and its own database (the
conftest points every LIBRARY_* path into tmp_path).  What the app saved is checked by reading the
database through a `Library` opened on the same folders, not through the app.
"""

from __future__ import annotations

import html
import io
import json
import re
from typing import Iterator

import pytest
import streamlit.testing.v1.app_test as app_test_module
from pypdf import PdfReader
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1 import element_tree as et

from library import Library, SearchRequest, Settings
from library.owners import Identity
from library.packs import Search, Selection
from library.packstore import PackStore, StoredPack
from views.ui import WORD_JOINER

from .test_app import (APP, PASSWORD, TIMEOUT, _fresh_resources, collection, follow, goto, librarian, open_app,  # noqa: F401
                       search, shown_keys, sign_in, texts)

PUBLIC = "https://evidence.example.org/library"
LINK = "[Urgent: re-enter your password here](https://evil.example/phish)"
IMAGE = "![beacon](https://evil.example/b.png)"
PAYLOAD = f"{LINK} {IMAGE} <img src=https://evil.example/x.png> www.evil.example/bare phish@evil.example"
LONG_NOTE = " ".join(["This note runs on and on about why the reference matters here."] * 18)  # < 1,200


@pytest.fixture(autouse=True)
def _public_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LIBRARY_PUBLIC_URL", PUBLIC)


@pytest.fixture
def library() -> Iterator[Library]:
    lib = Library(Settings.from_env())
    yield lib
    lib.close()


@pytest.fixture
def files(monkeypatch: pytest.MonkeyPatch) -> list[MediaFileManager]:
    """Each AppTest run's media file manager, to make a deferred download's file as a click does."""
    managers: list[MediaFileManager] = []

    class Recording(MediaFileManager):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]
            managers.append(self)

    monkeypatch.setattr(app_test_module, "MediaFileManager", Recording)
    return managers


def fetch(at: AppTest, managers: list[MediaFileManager], key: str) -> tuple[bytes, str]:
    """The file a download button gives (made on the click, as in the browser) and its name."""
    [button] = [b for b in at.get("download_button") if b.key == key]
    assert not button.proto.disabled, f"{key} is disabled"
    manager = managers[-1]
    if button.proto.deferred_file_id:
        url = manager.execute_deferred(button.proto.deferred_file_id)
    else:
        url = button.proto.url
    storage: MemoryMediaFileStorage = manager._storage  # type: ignore[attr-defined]
    stored = storage.get_file(url.rsplit("/", 1)[1])
    return stored.content, str(stored.filename)


def deferred(at: AppTest, key: str) -> bool:
    [button] = [b for b in at.get("download_button") if b.key == key]
    return bool(button.proto.deferred_file_id)


def disabled(at: AppTest, key: str) -> bool:
    [button] = [b for b in at.get("download_button") if b.key == key]
    return bool(button.proto.disabled)


def saved(at: AppTest) -> StoredPack:
    """The pack in progress as the database holds it, read afresh (not from the app)."""
    return current_store().open(at.query_params["edit"], who_of(at))


def current_store() -> PackStore:
    return Library(Settings.from_env(), sync=False).packs


def who_of(at: AppTest) -> Identity | None:
    if at.user.get("is_logged_in"):
        return Identity.oidc(at.user["email"])
    return Identity.librarian() if "librarian" in at.session_state and at.session_state["librarian"] else None


def brief_of(at: AppTest) -> str:
    """The brief as the page shows it (the HTML export's body, through Streamlit's sanitiser)."""
    [brief] = [h.value for h in at.get("html") if 'class="evl-brief"' in h.value]
    return brief


def brief_title(at: AppTest) -> str:
    found = re.search(r"<h1>(.*?)</h1>", brief_of(at), re.DOTALL)
    assert found, brief_of(at)
    return html.unescape(found.group(1))


def pdf_text(data: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), " ".join(" ".join(page.extract_text() for page in reader.pages).split())


def build_pack(at: AppTest, title: str) -> list[str]:
    """Search, add three references, and write the brief through the pack page's fields."""
    search(at, "burnout")
    keys = shown_keys(at)[:3]
    for key in keys:
        at.button(key=f"add-{key}").click().run()
        assert not at.exception
    goto(at, "views/pack.py")
    at.text_input(key="pack_title").input(title).run()
    at.text_area(key="pack_ask").input("Fund a three-month pilot of reflective practice groups.").run()
    at.text_area(key=f"note-{keys[0]}").input("Shows how common burnout is in our profession.").run()
    at.text_area(key="message-0").input("Burnout is common among mental health staff.").run()
    at.multiselect(key="cites-0").select(keys[0]).select(keys[1]).run()
    assert not at.exception, at.exception
    return keys


def long_pack(at: AppTest) -> list[str]:
    """A concern's six references, each with a long note: a brief of about a page and a half."""
    goto(at, "views/concerns.py")
    at.button(key="concern-staff-burnout").click().run()
    follow(at, "views/pack.py")
    keys = list(saved(at).pack.keys)
    assert len(keys) == 6
    for key in keys:
        at.text_area(key=f"note-{key}").input(LONG_NOTE).run()
    assert not at.exception
    return keys


def reopen(at: AppTest, **query: str) -> AppTest:
    """A new browser session on the pack page with this address (a reload, a typed URL, a bookmark)."""
    again = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    again.secrets["isolated"] = "yes"
    again.user = dict(at.user)
    return goto(again, "views/pack.py", **query)


# ------------------------------------------------------------------ never lost


def test_each_edit_is_saved_at_once_and_a_reload_brings_the_pack_back(library: Library) -> None:
    at = open_app()
    keys = build_pack(at, "Why should we invest in staff wellbeing?")
    link = at.query_params["edit"]
    assert re.fullmatch(r"[A-Za-z0-9_-]{32}", link)

    stored = saved(at)  # the database has every edit, with no "Save" pressed
    assert stored.pack.title == "Why should we invest in staff wellbeing?"
    assert stored.pack.ask == "Fund a three-month pilot of reflective practice groups."
    assert stored.pack.keys == tuple(keys)
    assert stored.pack.references[0].note == "Shows how common burnout is in our profession."
    assert [(m.text, m.cites) for m in stored.pack.key_messages] == \
        [("Burnout is common among mental health staff.", (1, 2))]
    assert stored.owner is None  # nobody signed in: whoever holds the edit link
    assert all(r.snapshot is not None for r in stored.pack.references)  # a reference deleted later still renders

    again = reopen(at, edit=link)  # a reload: a new session with only the address
    assert again.query_params["edit"] == link
    assert again.text_input(key="pack_title").value == "Why should we invest in staff wellbeing?"
    assert again.text_area(key="pack_ask").value == "Fund a three-month pilot of reflective practice groups."
    assert again.text_area(key=f"note-{keys[0]}").value == "Shows how common burnout is in our profession."
    assert again.text_area(key=f"note-{keys[1]}").value == library.get(keys[1]).key_finding
    assert again.text_area(key="message-0").value == "Burnout is common among mental health staff."
    assert again.multiselect(key="cites-0").value == keys[:2]

    # Leaving the page and coming back keeps it too (Streamlit forgets a page's widgets meanwhile).
    goto(again, "views/search.py")
    goto(again, "views/pack.py")
    assert again.query_params["edit"] == link
    assert again.text_area(key=f"note-{keys[0]}").value == "Shows how common burnout is in our profession."


def test_adding_from_search_concerns_and_reference_pages_goes_into_the_saved_pack(library: Library) -> None:
    at = open_app()
    search(at, "burnout")
    first = shown_keys(at)[0]
    at.button(key=f"add-{first}").click().run()
    assert not at.toast  # no toast to cover the navigation: the button turns to "Remove" and the page says so
    assert [p.proto.label for p in at.get("page_link") if p.proto.label.startswith("Your pack")] == [
        "Your pack: 1 reference"]
    link = at.session_state["pack_current"].edit_token
    goto(at, "views/reference.py", key="felitti1998relationship")
    at.button(key="detail-add").click().run()
    assert not at.exception
    stored = current_store().open(link, None)
    assert stored.pack.keys == (first, "felitti1998relationship")
    assert stored.pack.selection == Selection(searches=(Search("burnout"),), one_by_one=True)
    assert at.button(key="detail-remove").label == "Remove from pack"
    at.button(key="detail-remove").click().run()
    assert current_store().open(link, None).pack.keys == (first,)

    goto(at, "views/concerns.py")
    at.button(key="concern-staff-burnout").click().run()
    follow(at, "views/pack.py")
    assert not at.exception
    concern = library.vocabulary.concern_by_slug["staff-burnout"]
    expected = [h.key for h in library.search(SearchRequest(themes=concern.themes, per_page=20)).hits[:6]]
    new = saved(at)
    assert new.edit_token != link and new.pack.concern == concern.label  # a new pack: the first one stays
    assert list(new.pack.keys) == expected
    assert current_store().open(link, None).pack.keys == (first,)
    assert at.text_input(key="pack_title").value == f"Answering the concern: “{concern.label}”"


def test_the_brief_and_exports_follow_the_saved_pack_and_render_only_when_asked(
        files: list[MediaFileManager]) -> None:
    at = open_app()
    keys = build_pack(at, "Why should we invest in staff wellbeing?")
    for key in ("download-pdf", "download-docx", "download-html", "download-md", "download-bib",
                "download-ris", "download-csljson"):
        assert deferred(at, key), key  # nothing rendered until the click
    pdf, pdf_name = fetch(at, files, "download-pdf")
    pages, text = pdf_text(pdf)
    assert pages == 1
    for expected in ("Why should we invest in staff wellbeing?", "Fund a three-month pilot of reflective practice groups.",
                     "Burnout is common among mental health staff. [1, 2]", "Shows how common burnout is in our profession."):
        assert expected in text
    word, word_name = fetch(at, files, "download-docx")
    assert word.startswith(b"PK")
    names = {pdf_name, word_name}
    for key in ("download-html", "download-md", "download-bib", "download-ris", "download-csljson", "download-json"):
        names.add(fetch(at, files, key)[1])
    assert len(names) == 8  # every download its own file name
    assert "why-should-we-invest-in-staff-wellbeing-pack.json" in names
    pack_file = json.loads(fetch(at, files, "download-json")[0])
    assert [r["key"] for r in pack_file["references"]] == keys

    # Reordering: the citation follows its work, and the picker's labels show the new numbers.
    at.button(key=f"down-{keys[0]}").click().run()
    stored = saved(at)
    assert stored.pack.keys == (keys[1], keys[0], keys[2])
    assert stored.pack.key_messages[0].cites == (1, 2)  # the same two works, renumbered
    picker = at.multiselect(key="cites-0")
    assert picker.value == keys[:2] or sorted(picker.value) == sorted(keys[:2])
    assert picker.format_func(keys[1]).startswith("[1] ") and picker.format_func(keys[0]).startswith("[2] ")


def test_the_brief_says_how_the_references_were_chosen_in_plain_words(files: list[MediaFileManager]) -> None:
    """The walk-through: one reference from a filtered search, one from its own page."""
    at = open_app(q="seclusion", type="systematic-review")
    first = shown_keys(at)[0]
    at.button(key=f"add-{first}").click().run()
    goto(at, "views/search.py", q="compassion fatigue")
    second = next(k for k in shown_keys(at) if k != first)
    goto(at, "views/reference.py", key=second)
    at.button(key="detail-add").click().run()
    goto(at, "views/pack.py", edit=at.session_state["pack_current"].edit_token)
    assert not at.exception
    assert saved(at).pack.selection == Selection(
        searches=(Search("seclusion", evidence_types=("Systematic review or meta-analysis",)),), one_by_one=True)
    said = ("How the references were chosen: a search of the evidence library for “seclusion” (systematic reviews "
            "or meta-analyses only); others chosen one by one.")
    assert said in html.unescape(brief_of(at))
    markdown, _ = fetch(at, files, "download-md")
    assert said in markdown.decode("utf-8").replace("\\", "")


def test_the_reference_style_is_saved_with_the_pack(files: list[MediaFileManager]) -> None:
    at = open_app()
    build_pack(at, "Style test")
    at.radio(key="pack_style").set_value("harvard").run()
    assert saved(at).style == "harvard"
    again = reopen(at, edit=at.query_params["edit"])
    assert again.radio(key="pack_style").value == "harvard"


def test_two_windows_on_one_pack_keep_both_changes() -> None:
    one = open_app()
    build_pack(one, "Two windows")
    two = reopen(one, edit=one.query_params["edit"])
    one.text_area(key="pack_ask").input("The ask from window one.").run()
    two.text_input(key="pack_by").input("Window two").run()  # window two never saw window one's ask
    assert not two.exception
    stored = saved(one)
    assert (stored.pack.ask, stored.pack.prepared_by) == ("The ask from window one.", "Window two")
    assert two.text_area(key="pack_ask").value == "The ask from window one."  # refilled from the saved pack


M1, M2 = "Burnout is common among mental health staff.", "Burnout is a response to the workplace."


def two_windows() -> tuple[AppTest, AppTest, list[str]]:
    """The walk-through: a pack of two references from a search, open in two browsers."""
    one = search(open_app(), "burnout")
    keys = shown_keys(one)[:2]
    for key in keys:
        one.button(key=f"add-{key}").click().run()
    goto(one, "views/pack.py", edit=one.session_state["pack_current"].edit_token)
    two = reopen(one, edit=one.query_params["edit"])
    return one, two, keys


def messages_of(at: AppTest) -> list[tuple[str, tuple[str, ...]]]:
    pack = saved(at).pack
    return [(m.text, pack.cited_keys(number)) for number, m in enumerate(pack.key_messages, 1)]


def test_two_people_writing_different_key_messages_keep_both() -> None:
    one, two, keys = two_windows()
    one.text_area(key="message-0").input(M1).run()
    two.text_area(key="message-1").input(M2).run()  # window two never saw window one's message
    assert not two.exception and not texts(two, "warning")
    assert messages_of(one) == [(M1, ()), (M2, ())]
    assert [two.text_area(key=f"message-{i}").value for i in range(2)] == [M1, M2]  # refilled

    # Each message's references merge the same way: one ticks the first, two (not yet seeing it) the second.
    one.multiselect(key="cites-0").select(keys[0]).run()
    two.multiselect(key="cites-0").select(keys[1]).run()
    assert messages_of(one) == [(M1, tuple(keys)), (M2, ())]

    again = reopen(one, edit=one.query_params["edit"])  # reload window one
    assert [again.text_area(key=f"message-{i}").value for i in range(3)] == [M1, M2, ""]
    assert again.multiselect(key="cites-0").value == keys


def test_the_second_person_to_change_the_same_key_message_is_told_and_keeps_their_text() -> None:
    one, two, _ = two_windows()
    one.text_area(key="message-0").input(M1).run()
    two.text_area(key="message-0").input(M2).run()  # the same empty box, without seeing window one's text
    assert not two.exception and not texts(two, "warning")
    assert messages_of(one) == [(M1, ()), (M2, ())]  # a new message is added, never written over another
    assert [two.text_area(key=f"message-{i}").value for i in range(2)] == [M1, M2]  # each box its own message

    one.text_area(key="message-0").input(M1 + " Often.").run()
    two.text_area(key="message-0").input("Mine instead.").run()  # two still shows M1: a rewrite of a rewrite
    [warning] = [w.replace("\\", "") for w in texts(two, "warning")]
    assert "Key message 1 was changed in another window" in warning and f"it now reads: “{M1} Often.”" in warning
    assert two.text_area(key="message-0").value == "Mine instead."  # kept in the form, not lost
    assert messages_of(one) == [(M1 + " Often.", ()), (M2, ())]  # and not written over window one's

    two.text_input(key="pack_by").input("Window two").run()  # other boxes still save; the text stays
    assert saved(one).pack.prepared_by == "Window two"
    assert two.text_area(key="message-0").value == "Mine instead." and texts(two, "warning")
    two.button(key="drop-message-0").click().run()  # "Use theirs"
    assert two.text_area(key="message-0").value == M1 + " Often." and not texts(two, "warning")

    one.text_area(key="message-0").input(M1).run()
    two.text_area(key="message-0").input("Mine instead.").run()  # a second clash on the same message
    assert texts(two, "warning") and messages_of(one) == [(M1, ()), (M2, ())]
    two.button(key="keep-message-0").click().run()  # "Keep my text": theirs is replaced, knowingly
    assert messages_of(one) == [("Mine instead.", ()), (M2, ())]
    assert not texts(two, "warning") and two.text_area(key="message-0").value == "Mine instead."


def three_messages(texts_: tuple[str, ...]) -> tuple[AppTest, AppTest, list[str]]:
    """Window one writes three messages, window two shows them, then one empties message 1."""
    one, two, keys = two_windows()
    for index, text in enumerate(texts_):
        one.text_area(key=f"message-{index}").input(text).run()
    two.run()
    assert [two.text_area(key=f"message-{i}").value for i in range(3)] == list(texts_)
    one.text_area(key="message-0").input("").run()  # the others move up; window two does not see it
    assert messages_of(one) == [(texts_[1], ()), (texts_[2], ())]
    return one, two, keys


def test_a_message_rewritten_in_a_stale_window_after_messages_moved_up_replaces_the_one_meant() -> None:
    one, two, _ = three_messages(("Alpha message", "Bravo message", "Charlie message"))
    two.text_area(key="message-1").input("Bravo rewritten by B").run()  # two still shows Bravo as message 2
    assert not two.exception and not texts(two, "warning")
    assert messages_of(one) == [("Bravo rewritten by B", ()), ("Charlie message", ())]
    assert [two.text_area(key=f"message-{i}").value for i in range(3)] == ["Bravo rewritten by B",
                                                                            "Charlie message", ""]

    # Window one (now stale) rewrites the Bravo that is gone: told it was changed, and "Keep my
    # text" replaces only that message, never Charlie.
    one.text_area(key="message-0").input("Bravo by A").run()
    [warning] = [w.replace("\\", "") for w in texts(one, "warning")]
    assert "Key message 1 was changed" in warning and "“Bravo rewritten by B”" in warning
    assert [one.text_area(key=f"message-{i}").value for i in range(2)] == ["Bravo by A", "Charlie message"]
    one.button(key="keep-message-0").click().run()
    assert messages_of(one) == [("Bravo by A", ()), ("Charlie message", ())]

    # A message removed elsewhere: told so, and keeping it adds it back, not over another.
    two.text_area(key="message-0").input("").run()  # two still shows its own Bravo: told, nothing removed
    assert "Key message 1 was changed" in " ".join(texts(two, "warning"))
    assert messages_of(one) == [("Bravo by A", ()), ("Charlie message", ())]
    two.button(key="drop-message-0").click().run()
    two.text_area(key="message-0").input("").run()  # now it removes "Bravo by A"
    assert messages_of(one) == [("Charlie message", ())]
    one.text_area(key="message-0").input("Bravo once more").run()  # one still shows "Bravo by A"
    [warning] = [w.replace("\\", "") for w in texts(one, "warning")]
    assert "Key message 1 was removed" in warning
    assert [one.text_area(key=f"message-{i}").value for i in range(2)] == ["Charlie message", "Bravo once more"]
    one.button(key="keep-message-1").click().run()
    assert messages_of(one) == [("Charlie message", ()), ("Bravo once more", ())]


def test_a_reference_ticked_in_a_stale_window_lands_on_the_message_meant() -> None:
    one, two, keys = three_messages(("One message", "Two message", "Three message"))
    two.multiselect(key="cites-1").select(keys[1]).run()  # under "Two message", as window two shows it
    assert not two.exception and not texts(two, "warning")
    assert messages_of(one) == [("Two message", (keys[1],)), ("Three message", ())]
    assert two.multiselect(key="cites-0").value == [keys[1]] and two.multiselect(key="cites-1").value == []


def test_the_second_writer_of_the_ask_is_told_and_chooses() -> None:
    one, two, _ = two_windows()
    one.text_area(key="pack_ask").input("Fund a wellbeing lead.").run()
    two.text_area(key="pack_ask").input("Train every ward.").run()  # two never saw one's ask
    [warning] = [w.replace("\\", "") for w in texts(two, "warning")]
    assert "“What you are asking the manager to do” was changed" in warning and "“Fund a wellbeing lead.”" in warning
    assert saved(one).pack.ask == "Fund a wellbeing lead." and two.text_area(key="pack_ask").value == "Train every ward."
    two.text_input(key="pack_title").input("Window two's title").run()  # other boxes still save
    assert saved(one).pack.title == "Window two's title" and two.text_area(key="pack_ask").value == "Train every ward."
    two.button(key="theirs-pack_ask").click().run()
    assert two.text_area(key="pack_ask").value == "Fund a wellbeing lead." and not texts(two, "warning")

    one.text_area(key="pack_ask").input("Fund two leads.").run()
    two.text_area(key="pack_ask").input("Train every ward.").run()
    assert texts(two, "warning") and saved(one).pack.ask == "Fund two leads."
    two.button(key="keep-pack_ask").click().run()
    assert saved(one).pack.ask == "Train every ward." and not texts(two, "warning")
    one.run()
    assert one.text_area(key="pack_ask").value == "Train every ward."


def test_a_message_moves_up_to_its_place_in_the_brief_and_the_next_edit_finds_it_there() -> None:
    one, _, keys = two_windows()
    one.text_area(key="message-2").input(M2).run()  # the third box, with the first two empty
    assert messages_of(one) == [(M2, ())]
    assert [one.text_area(key=f"message-{i}").value for i in range(3)] == [M2, "", ""]  # shown as message 1
    one.text_area(key="message-1").input(M1).run()
    one.multiselect(key="cites-0").select(keys[0]).run()
    assert messages_of(one) == [(M2, (keys[0],)), (M1, ())]
    one.text_area(key="message-0").input("").run()  # emptied: dropped, and the next moves up
    assert messages_of(one) == [(M1, ())]
    assert [one.text_area(key=f"message-{i}").value for i in range(3)] == [M1, "", ""]


def test_a_bad_edit_link_says_so_and_offers_a_fresh_start() -> None:
    at = goto(open_app(), "views/pack.py", edit="no-such-link")
    assert any("does not open a pack" in w.replace("\\", "") for w in texts(at, "warning"))
    assert "edit" not in at.query_params
    assert any("You have no pack open" in text for text in texts(at, "info"))


# ------------------------------------------------------------------ owners


def test_nobody_sees_other_peoples_packs() -> None:
    mine = open_app()
    build_pack(mine, "Mine, private")
    theirs = goto(open_app(), "views/pack.py")
    assert not [b for b in theirs.button if re.fullmatch(r"open-[0-9a-f]{32}", b.key or "")]  # no "My packs" at all
    assert "Mine, private" not in " ".join(texts(theirs, "text") + texts(theirs, "markdown")
                                           + [str(s.options) for s in theirs.selectbox])
    mine.button(key="new-pack").click().run()
    assert "edit" not in mine.query_params
    assert "Mine, private" in texts(mine, "text")  # this browser's own packs are listed to reopen
    [summary] = current_store().held(mine.session_state["pack_browser"].tokens)
    assert mine.button(key=f"open-{summary.id}").label == "Open"


def test_a_signed_in_persons_pack_is_theirs_alone() -> None:
    jo = open_app()
    jo.user = {"is_logged_in": True, "email": "Jo@Example.org"}
    build_pack(jo, "Jo's pack")
    stored = saved(jo)
    assert stored.owner == "oidc:jo@example.org"

    # The edit link alone does not let anyone else in, signed in or not.
    for user in ({}, {"is_logged_in": True, "email": "sam@example.org"}):
        other = open_app()
        other.user = user
        goto(other, "views/pack.py", edit=stored.edit_token)
        assert any("can only be changed by the person who made it" in w.replace("\\", "")
                   for w in texts(other, "warning"))
        assert not other.text_input and not other.text_area
    # Jo, in a new session, finds it under "My packs" without the link.
    again = open_app()
    again.user = {"is_logged_in": True, "email": "jo@example.org"}
    goto(again, "views/pack.py")
    again.button(key=f"open-{stored.id}").click().run()
    assert again.query_params["edit"] == stored.edit_token
    assert again.text_input(key="pack_title").value == "Jo's pack"


@pytest.mark.usefixtures("librarian")
def test_the_librarian_sign_in_owns_the_packs_it_makes() -> None:
    at = goto(sign_in(open_app(), PASSWORD), "views/search.py")
    build_pack(at, "The librarian's pack")
    assert saved(at).owner == "librarian"
    anonymous = goto(open_app(), "views/pack.py", edit=at.query_params["edit"])
    assert not anonymous.text_area


def test_delete_asks_first_and_withdraws_the_share_link() -> None:
    at = open_app()
    build_pack(at, "To be deleted")
    at.button(key="share-pack").click().run()
    token = saved(at).share_token
    at.button(key="delete-pack").click().run()
    assert saved(at).pack.title == "To be deleted"  # not yet: it asks first
    assert any("for good" in w for w in texts(at, "warning"))
    at.button(key="cancel-delete").click().run()
    assert saved(at).pack.title == "To be deleted"
    link = at.query_params["edit"]
    at.button(key="delete-pack").click().run()
    at.button(key="confirm-delete").click().run()
    assert not at.exception
    assert "edit" not in at.query_params
    assert any(s.startswith("Deleted “To be deleted”") for s in texts(at, "success"))
    gone = goto(open_app(), "views/pack.py", share=token)
    assert texts(gone, "title") == ["This pack was withdrawn"]
    assert not gone.get("download_button")
    deleted = goto(open_app(), "views/pack.py", edit=link)
    assert any("does not open a pack" in w.replace("\\", "") for w in texts(deleted, "warning"))


def test_duplicate_opens_a_new_pack_and_leaves_the_original() -> None:
    at = open_app()
    build_pack(at, "Original")
    original = saved(at)
    at.button(key="duplicate-pack").click().run()
    assert not at.exception
    copy = saved(at)
    assert copy.id != original.id and at.query_params["edit"] == copy.edit_token
    assert copy.pack.title == "Copy of Original" and copy.pack.keys == original.pack.keys
    assert at.text_input(key="pack_title").value == "Copy of Original"
    at.text_area(key="pack_ask").input("Only the copy changes.").run()
    assert current_store().open(original.edit_token, None).pack.ask == original.pack.ask
    # Both are in this browser's "My packs"; deleting the copy leaves the original openable.
    at.button(key="delete-pack").click().run()
    at.button(key="confirm-delete").click().run()
    at.button(key=f"open-{original.id}").click().run()
    assert at.query_params["edit"] == original.edit_token
    at.text_input(key="pack_by").input("Still mine").run()
    assert saved(at).pack.prepared_by == "Still mine"


# ------------------------------------------------------------------ sharing


def test_sharing_refuses_a_brief_longer_than_a_page_and_a_draft_is_still_saved(
        files: list[MediaFileManager]) -> None:
    at = open_app()
    long_pack(at)
    assert saved(at).pack.references[0].note == LONG_NOTE  # saved as a draft all the same
    assert any(w.startswith("Longer than one page") for w in texts(at, "warning"))
    assert disabled(at, "download-pdf")
    assert fetch(at, files, "download-docx")[0].startswith(b"PK")  # Word is still offered
    at.button(key="share-pack").click().run()
    assert not at.exception
    assert any(w.startswith("Not shared yet") for w in texts(at, "warning"))
    assert saved(at).share_token is None
    assert not [c for c in at.code if "share=" in c.value]
    at.button(key="fit-pack-share").click().run()  # offered right there
    at.button(key="share-pack").click().run()
    assert saved(at).share_token


def test_a_shared_pack_shows_the_version_shared_whole_with_pdf_and_word(files: list[MediaFileManager],
                                                                      library: Library) -> None:
    at = open_app()
    keys = build_pack(at, "Why should we invest in staff wellbeing?")
    at.radio(key="pack_style").set_value("harvard").run()
    at.button(key="share-pack").click().run()
    token = saved(at).share_token
    assert token
    [link] = [c.value for c in at.code if "share=" in c.value]
    assert link == f"{PUBLIC}/pack?share={token}"  # a full address, with a copy button (st.code)

    shared = goto(open_app(), "views/pack.py", share=token)
    assert brief_title(shared) == "Why should we invest in staff wellbeing?"
    assert not shared.text_input and not shared.text_area
    brief = brief_of(shared)
    # The whole brief (every reference), in the style saved with the pack (Harvard: "Author (year)").
    for key in keys:
        record = library.get(key)
        assert f"({record.year})" in brief and record.creators[0].family in brief
    pdf, _ = fetch(shared, files, "shared-pdf")
    pages, text = pdf_text(pdf)
    assert pages == 1 and "Why should we invest in staff wellbeing?" in text
    assert fetch(shared, files, "shared-docx")[0].startswith(b"PK")

    # Editing after sharing changes nothing a reader sees, until the owner updates the shared version.
    at.text_input(key="pack_title").input("A newer title").run()
    assert any("you have changed the pack since" in i for i in texts(at, "info"))
    assert brief_title(goto(open_app(), "views/pack.py", share=token)) == "Why should we invest in staff wellbeing?"
    at.button(key="share-pack").click().run()
    assert brief_title(goto(open_app(), "views/pack.py", pack=token)) == "A newer title"  # old ?pack= links too

    at.button(key="withdraw-pack").click().run()
    withdrawn = goto(open_app(), "views/pack.py", share=token)
    assert texts(withdrawn, "title") == ["This pack was withdrawn"]
    assert not withdrawn.exception and not texts(withdrawn, "error")


def test_a_reader_can_copy_a_shared_pack_into_their_own() -> None:
    owner = open_app()
    build_pack(owner, "Worth reusing")
    owner.button(key="share-pack").click().run()
    reader = goto(open_app(), "views/pack.py", share=saved(owner).share_token)
    reader.button(key="copy-shared").click().run()
    follow(reader, "views/pack.py")
    reader.run()
    assert not reader.exception
    copy = saved(reader)
    assert copy.pack.title == "Copy of Worth reusing" and copy.edit_token != saved(owner).edit_token


def test_the_share_link_uses_the_address_the_browser_used_without_the_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LIBRARY_PUBLIC_URL")
    at = open_app()
    at.context = {"url": "http://wards.example.nhs.uk:8501/pack"}
    build_pack(at, "From the browser's address")
    at.button(key="share-pack").click().run()
    token = saved(at).share_token
    assert f"http://wards.example.nhs.uk:8501/pack?share={token}" in [c.value for c in at.code]


# ------------------------------------------------------------------ reader text is text


def rendered(at: AppTest) -> Iterator[tuple[str, str]]:
    """Every string the page renders, as ("markdown" | "html", text); plain-text elements are left out."""
    def walk(node: object) -> Iterator[object]:
        yield node
        children = getattr(node, "children", None)
        for child in (children.values() if isinstance(children, dict) else children or ()):
            yield from walk(child)

    for node in walk(at._tree):
        if isinstance(node, (et.Text, et.Code)):
            continue
        if isinstance(node, et.Html):
            yield "html", node.value
            continue
        if isinstance(node, et.Markdown) and node.proto.allow_html:
            yield "html", node.value
            continue
        for name in ("label", "help", "placeholder"):
            value = getattr(getattr(node, "proto", None), name, None)
            if isinstance(value, str) and value:
                yield "markdown", value
        if not isinstance(node, et.Widget):
            value = getattr(node, "value", None)
            if isinstance(value, str):
                yield "markdown", value


def assert_no_live_links(at: AppTest) -> int:
    """No link, image or web address from reader text is live; returns how many strings quoted the payload."""
    quoted = 0
    for kind, text in rendered(at):
        if "evil" not in text:
            continue
        quoted += 1
        if kind == "html":
            assert not re.search(r"<a\b[^>]*evil", text) and not re.search(r"<img\b", text), text
        else:  # Markdown: brackets, colons and dots escaped, so no link, image or autolink forms
            assert not re.search(r"(?<!\\)\]\(", text), text  # [text](address)
            assert not re.search(r"(?<!\\)!\[", text), text  # ![image](address)
            assert not re.search(r"https?://|www\.|@evil", text), text  # a bare address GFM would link
            assert not re.search(r"(?<!\\)<img", text), text
    return quoted


def test_a_hostile_pack_shows_as_text_on_the_pack_page_and_the_share_page() -> None:
    at = search(open_app(), "burnout")
    keys = shown_keys(at)[:1]  # one reference, so that the brief fits one page and can be shared
    at.button(key=f"add-{keys[0]}").click().run()
    goto(at, "views/pack.py")
    at.text_input(key="pack_title").input(PAYLOAD).run()
    at.text_input(key="pack_audience").input(LINK).run()  # short fields: a brief allows 150-200 characters
    at.text_input(key="pack_by").input(IMAGE).run()
    for widget in ("pack_ask", f"note-{keys[0]}", "message-1"):
        at.text_area(key=widget).input(f"{widget}: {PAYLOAD}").run()
    assert not at.exception
    assert assert_no_live_links(at) >= 1  # the delete question quotes the title
    at.button(key="delete-pack").click().run()
    assert assert_no_live_links(at) >= 2
    at.button(key="cancel-delete").click().run()
    at.button(key="share-pack").click().run()
    token = saved(at).share_token
    assert token
    at.button(key="new-pack").click().run()
    assert assert_no_live_links(at) >= 0  # "My packs" lists the title (as st.text)
    assert PAYLOAD in texts(at, "text")

    shared = goto(open_app(), "views/pack.py", share=token)
    assert assert_no_live_links(shared) >= 1  # the brief quotes it
    assert brief_title(shared) == PAYLOAD


@pytest.mark.parametrize(("page", "query"), [
    ("views/reference.py", {"key": LINK}),
    ("views/reference.py", {"key": IMAGE}),
    ("views/search.py", {"q": f'"{LINK}'}),  # a malformed query: the notice quotes the words
    ("views/pack.py", {"edit": LINK}),
    ("views/pack.py", {"share": LINK}),
    ("views/pack.py", {"pack": IMAGE}),
])
def test_hostile_addresses_show_as_text(page: str, query: dict[str, str]) -> None:
    at = goto(open_app(), page, **query)
    assert not at.exception
    assert_no_live_links(at)


def test_an_uploaded_pack_file_opens_as_a_new_pack_and_hostile_text_stays_text() -> None:
    at = goto(open_app(), "views/pack.py")
    hostile = json.dumps({"title": PAYLOAD, "ask": PAYLOAD,
                          "references": [{"key": "felitti1998relationship", "note": PAYLOAD},
                                         {"key": "notinthelibrary2020", "note": PAYLOAD,
                                          "snapshot": {"title": "A work from elsewhere", "year": 2020,
                                                       "type": "misc", "url": "https://evil.example/ref"}}],
                          "key_messages": [{"text": PAYLOAD, "cites": [1, 2]}]})
    at.get("file_uploader")[0].upload("hostile-pack.json", hostile.encode(), "application/json")
    at.button(key="open-upload").click().run()
    assert not at.exception
    stored = saved(at)
    assert (stored.pack.title, stored.pack.keys, stored.owner) == \
        (PAYLOAD, ("felitti1998relationship", "notinthelibrary2020"), None)
    # A reference this library does not hold keeps its details, but not the web address the file gave it.
    kept = stored.pack.references[1].snapshot.to_record("notinthelibrary2020")  # type: ignore[union-attr]
    assert (kept.title, kept.year, kept.url) == ("A work from elsewhere", 2020, "")
    assert "A work from elsewhere" in brief_of(at) and "evil.example/ref" not in brief_of(at)
    assert at.text_input(key="pack_title").value == PAYLOAD
    assert assert_no_live_links(at) >= 1


@pytest.mark.usefixtures("librarian")
def test_pasted_bibtex_under_review_shows_as_text_on_the_librarian_page() -> None:
    at = sign_in(open_app(), PASSWORD)
    hostile = f"""@article{{evil2024phish,
  author = {{Phisher, Ann}},
  title = {{{LINK} {IMAGE} www.evil.example}},
  journal = {{Journal of phish@evil.example}},
  year = {{2024}},
  doi = {{10.5555/evil}}
}}

@article{{broken2024,
  author = {{Nobody, A.}}
  title = {{{LINK}}},
  year = {{2024}}
}}
"""
    at.text_area(key="paste_text").input(hostile)
    at.button(key="read-input").click().run()
    assert not at.exception
    assert any(LINK in e.label.replace("\\", "").replace(WORD_JOINER, "") for e in at.expander)
    assert assert_no_live_links(at) >= 2  # the review's heading and details quote it


def test_a_pack_deleted_in_another_window_is_not_added_to_silently() -> None:
    at = search(open_app(), "burnout")
    first, second = shown_keys(at)[:2]
    at.button(key=f"add-{first}").click().run()
    link = at.session_state["pack_current"].edit_token
    current_store().delete(link, None)  # another window deleted it
    at.button(key=f"add-{second}").click().run()
    assert not at.exception
    assert not texts(at, "error")  # no "edit link" jargon: the person used no link
    # Plain words, the reference in a new pack, and the count of the deleted pack gone.
    assert "Your pack was deleted in another window, so a new pack was started with this reference." in texts(
        at, "info")
    assert at.session_state["pack_current"].edit_token != link
    assert at.session_state["pack_current"].pack.keys == (second,)
    assert [p.label for p in at.get("page_link") if p.label.startswith("Your pack")] == ["Your pack: 1 reference"]


def test_a_shared_pack_that_cannot_be_drawn_gives_a_manager_a_sentence_not_an_error() -> None:
    from library.packs import Pack, PackReference

    store = current_store()
    made = store.create(Pack(title="Lost references", references=(PackReference("gone2020nowhere", "A note."),)),
                        owner=None)
    token = store.share(made.edit_token, None).share_token  # no check: as a link made by an older version
    at = goto(open_app(), "views/pack.py", share=token)
    assert not at.exception and not texts(at, "error")
    assert any(t.startswith("This pack cannot be shown at the moment.") and "gone2020nowhere" in t
               for t in texts(at, "text"))


def test_a_key_given_to_another_work_shows_the_saved_work_and_says_so_on_the_pack_and_share_pages(
        library: Library) -> None:
    from library.packs import KeyMessage, Pack, PackReference

    key = "azeem2011effectiveness"
    pack = Pack(title="Six core strategies", key_messages=(KeyMessage("It helps.", (1,)),),
                references=(PackReference(key, "A note."),))
    store = current_store()
    made = store.create(pack.with_snapshots(library.get_many((key,))), owner=None)
    token = store.share(made.edit_token, None).share_token
    library.edit(key, {}, new_key="azeem2011six")
    library.add_text(f"@article{{{key},\n author={{Azeem, Zed}},\n title={{A completely different paper}},\n"
                     " journal={Other Journal},\n year={2011},\n themes={burnout},\n evidence-type={qualitative}\n}\n")
    for page in (goto(open_app(), "views/pack.py", edit=made.edit_token), goto(open_app(), "views/pack.py", share=token)):
        assert not page.exception
        brief = html.unescape(brief_of(page))
        assert "Effectiveness of six core strategies" in brief and "completely different" not in brief
        notices = [t.replace("\\", "") for t in texts(page, "info")]
        assert any(f"'{key}' now names a different work in the collection" in t
                   and "A completely different paper" in t for t in notices), notices


# ------------------------------------------------------------------ one page


def test_fit_to_one_page_shows_each_step_then_the_pack_can_be_shared(files: list[MediaFileManager]) -> None:
    at = open_app()
    keys = long_pack(at)
    assert any(w.startswith("Longer than one page") for w in texts(at, "warning"))
    assert disabled(at, "download-pdf")
    at.button(key="fit-pack").click().run()
    assert not at.exception
    steps = [s.replace("\\", "") for s in texts(at, "info")]
    assert any(s.startswith("Shortened the note") or s.startswith("Moved reference") for s in steps), steps
    stored = saved(at)
    assert not any(w.startswith("Longer than one page") for w in texts(at, "warning"))
    for number, key in enumerate(keys):  # the widgets show what was saved; nothing was removed
        reference = stored.pack.references[number]
        assert reference.key == key
        assert at.text_area(key=f"note-{key}").value == reference.note
        assert at.checkbox(key=f"further-{key}").value == reference.further_reading
    pages, _ = pdf_text(fetch(at, files, "download-pdf")[0])
    assert pages == 1
    at.button(key="share-pack").click().run()
    assert saved(at).share_token


def test_a_reference_can_be_moved_to_further_reading_and_back() -> None:
    at = open_app()
    keys = build_pack(at, "Further reading by hand")
    at.checkbox(key=f"further-{keys[2]}").check().run()
    assert [r.further_reading for r in saved(at).pack.references] == [False, False, True]
    assert "Further reading" in brief_of(at)
    at.checkbox(key=f"further-{keys[2]}").uncheck().run()
    assert [r.further_reading for r in saved(at).pack.references] == [False, False, False]
    assert saved(at).pack.references[2].note  # the note was kept all along


def test_the_citation_picker_names_references_as_the_brief_does(library: Library) -> None:
    at = open_app()
    keys = build_pack(at, "Labels")
    labels = library.pack_citation_labels(saved(at).pack, "apa")
    picker = at.multiselect(key="cites-0")
    assert [picker.format_func(k) for k in keys] == [f"[{n}] {label}" for n, label in enumerate(labels, 1)]
    two_authors = [k for k in keys if len(library.get(k).creators) == 2]
    assert two_authors, keys  # "burnout" finds Maslach and Leiter (2016)
    for key in two_authors:
        assert "et al." not in picker.format_func(key)  # et al. only for three or more authors


def test_a_changed_reference_is_named_by_its_label_not_its_citation_key(library: Library) -> None:
    """The pack page's "has changed since the pack was saved" note names the reference as the page
    does ("O'Connor et al., 2018"), never by its internal key."""
    from dataclasses import replace

    at = search(open_app(), "burnout")
    key = shown_keys(at)[0]
    at.button(key=f"add-{key}").click().run()
    goto(at, "views/pack.py")
    link = at.query_params["edit"]
    pack = saved(at).pack
    [reference] = pack.references
    assert reference.snapshot is not None
    older = replace(reference.snapshot, fields=tuple((n, "1900" if n == "year" else v)
                                                     for n, v in reference.snapshot.fields))
    current_store().save(link, replace(pack, references=(replace(reference, snapshot=older),)), who=None)

    again = reopen(at, edit=link)
    assert not again.exception, again.exception
    [label] = library.pack_citation_labels(pack, "apa")
    notes = [re.sub(r"\\(.)", r"\1", i.value) for i in again.info if "since the pack was saved" in i.value]
    assert notes == [f"{label} has changed since the pack was saved (year was 1900, now "
                     f"{library.get(key).year}); the brief uses the current details."]
    assert key not in notes[0]


def test_the_footer_follows_removals_and_records_only_the_years_chosen(library: Library) -> None:
    """The walk-through: one from a filtered "trauma" search, one from "burnout, from 2015", one
    from its own page; removing the trauma one and the one-by-one one leaves only the burnout
    search in the footer, worded "2015 or later" (not "2015 to <the latest year>")."""
    at = open_app(q="trauma", type="systematic-review", setting="inpatient", **{"from": "2010", "to": "2022"})
    trauma = shown_keys(at)[0]
    at.button(key=f"add-{trauma}").click().run()
    goto(at, "views/search.py", theme="burnout", **{"from": "2015"})
    burnout = next(k for k in shown_keys(at) if k != trauma)
    at.button(key=f"add-{burnout}").click().run()
    single = next(h.key for h in library.search(SearchRequest(text="seclusion")).hits if h.key not in (trauma, burnout))
    goto(at, "views/reference.py", key=single)
    at.button(key="detail-add").click().run()
    goto(at, "views/pack.py", edit=at.session_state["pack_current"].edit_token)
    assert not at.exception, at.exception
    footer = html.unescape(brief_of(at))
    assert "“trauma”" in footer and "others chosen one by one" in footer
    assert "(theme: burnout; published in 2015 or later)" in footer

    at.button(key=f"drop-{trauma}").click().run()
    at.button(key=f"drop-{single}").click().run()
    assert not at.exception, at.exception
    assert saved(at).pack.keys == (burnout,)
    said = ("How the references were chosen: browsing the evidence library (theme: burnout; published in 2015 "
            "or later).")
    assert said in html.unescape(brief_of(at))


def test_a_concern_pack_with_one_more_says_so_and_is_dated(library: Library) -> None:
    import datetime as dt

    from library.exporters.brief import uk_date

    at = goto(open_app(), "views/concerns.py")
    at.button(key="concern-staff-burnout").click().run()
    follow(at, "views/pack.py")
    pack = saved(at).pack
    assert pack.date == dt.date.today()
    assert f"Prepared on {uk_date(dt.date.today())}." in html.unescape(brief_of(at))  # before any edit
    extra = next(h.key for h in library.search(SearchRequest(text="seclusion")).hits if h.key not in pack.keys)
    goto(at, "views/reference.py", key=extra)
    at.button(key="detail-add").click().run()
    goto(at, "views/pack.py", edit=at.session_state["pack_current"].edit_token)
    brief = html.unescape(brief_of(at))
    assert f"How the references were chosen: {pack.selection.note}; others chosen one by one." in brief
    assert pack.selection.note.startswith(f"from the {len(pack.references)} references (of ")
