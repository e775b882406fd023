"""Evidence pack: build a one-page brief for a manager from chosen references, see it as it will
print, download it, and share a read-only link.  Every change is saved as it is made, under the
pack's private edit link, which this page keeps in its address.

`?share=<link>` (or the older `?pack=<link>`) shows a shared pack read-only instead.
"""

from __future__ import annotations

import datetime as dt
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import streamlit as st

from library import LibraryError, drafts
from library.citations import STYLES
from library.errors import (FieldConflict, MessageConflict, PackAccessDenied, PackConflict, PackDoesNotFit, PackError,
                            PackNotFound, PackWithdrawn)
from library.exporters import EXPORTERS, file_name
from library.onepage import PackPreview
from library.owners import describe_owner
from library.exporters.brief import LIMITS
from library.packs import MAX_KEY_MESSAGES, Pack, dump_pack, is_replaced, record_for, replaced_notes
from library.packstore import PackSummary, StoredPack, pack_address
from views import ui

lib = ui.library()
vocabulary = lib.vocabulary
store = lib.packs
DOWNLOADS = ("html", "md", "bib", "ris", "csljson")  # besides the PDF and Word
NOTICE = "pack_notice"  # (kind, text) to show once at the top of the next run
MIN_MESSAGE_SLOTS = 3
# Key messages whose text was not saved because someone else changed or removed that message meanwhile,
# by pack: {edit link: [(what this person typed, the message saying so, the message it would replace
# now: None when it was removed, so keeping it adds it)]}.
CONFLICTS = "message_conflicts"
# The same for the other boxes: {edit link: {widget: (what this person typed, the message, theirs)}}.
FIELD_CONFLICTS = "field_conflicts"
Held = tuple[drafts.MessageSlot, str, "drafts.MessageSlot | None"]


def conflicts_in(stored: StoredPack | None) -> list[Held]:
    """This pack's key messages kept in the form after a conflict (changed in place)."""
    held = st.session_state.setdefault(CONFLICTS, {})
    return held.setdefault(stored.edit_token, []) if stored is not None else []


def conflict_boxes(stored: StoredPack | None) -> dict[int, int]:
    """Which box shows each held message ({box index: index in `conflicts_in`}): the box of the
    message it would replace, else a box after the pack's messages, so every other box shows
    its own message."""
    if stored is None:
        return {}
    texts = [m.text for m in stored.pack.key_messages]
    boxes: dict[int, int] = {}
    extra = len(texts)
    for n, (_, _, target) in enumerate(conflicts_in(stored)):
        at = texts.index(target.text) if target is not None and target.text in texts else None
        if at is None or at in boxes:
            at, extra = extra, extra + 1
        boxes[at] = n
    return boxes


def field_conflicts(stored: StoredPack | None) -> dict[str, tuple[str, str, str]]:
    held = st.session_state.setdefault(FIELD_CONFLICTS, {})
    return held.setdefault(stored.edit_token, {}) if stored is not None else {}


def notice(kind: str, text: str) -> None:
    st.session_state[NOTICE] = (kind, text)


def safely(action: Callable[[], object]) -> None:
    """Run a button's or a field's change; a `LibraryError` becomes a message at the top of the page."""
    try:
        action()
    except LibraryError as error:
        notice("error", str(error))
        st.session_state[ui.RESEED] = True


def when(moment: dt.datetime) -> str:
    """A saved time in the reader's own time zone (as their browser reports it), else in UTC."""
    try:
        zone: dt.tzinfo = ZoneInfo(st.context.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = dt.timezone.utc
    shown = moment.astimezone(zone)
    return shown.strftime("%d %b %Y at %H:%M") + (" UTC" if zone in (dt.timezone.utc, ZoneInfo("UTC")) else "")


def download(label: str, pack: Pack, style: str, fmt: str, **options: object) -> None:
    """A download whose file is made only when asked for (Streamlit calls `data` on the click)."""
    exporter = EXPORTERS[fmt]
    st.download_button(label, lambda: lib.render_pack(pack, fmt, style), file_name=file_name(pack, fmt),
                       mime=exporter.mime_type.split(";")[0], on_click="ignore", **options)  # type: ignore[arg-type]


def preview_of(pack: Pack, style: str) -> PackPreview:
    """The preview (the brief as a page, whether it fits, tips), made again only when the pack or its
    style changed since the last run; the fit is checked without drawing the PDF."""
    cache_key = (dump_pack(pack), style)
    cached = st.session_state.get("pack_preview")
    if cached is None or cached[0] != cache_key:
        cached = (cache_key, lib.preview_pack(pack, style))
        st.session_state["pack_preview"] = cached
    return cached[1]


def require_one_page(pack: Pack, style: str) -> None:
    """Refuse (`PackDoesNotFit`, saying what to cut) a brief whose PDF would not fit one page."""
    fit = lib.check_pack_fits(pack, style)
    if not fit.fits:
        raise PackDoesNotFit(fit.advice)


def app_url(**query: str) -> str:
    """A full address of this app's pack page: LIBRARY_PUBLIC_URL, else the address the browser used."""
    base = lib.settings.public_url or (st.context.url or "").rstrip("/").removesuffix("/pack")
    return pack_address(base, **query)


# ------------------------------------------------------------------ read-only shared view


def shared_view(token: str) -> None:
    try:
        version = store.shared(token)
    except PackWithdrawn as error:
        st.title("This pack was withdrawn")
        st.text(str(error))
        return
    pack = version.pack
    # The brief carries its own title: the page adds only where it comes from.
    st.caption(f"A one-page evidence brief (read-only), shared on {when(version.at)}.")
    # A reference whose key the collection has since given to another work is cited as saved: say so.
    for note in replaced_notes(pack, lib.get_many(pack.keys)):
        st.info(ui.plain(note), icon=":material/update:")
    ui.show_brief(lib.render_pack(pack, "html", version.style).decode("utf-8"))  # whole, never cropped
    fits = lib.check_pack_fits(pack, version.style).fits
    with st.container(horizontal=True):
        if fits:
            download("Download as PDF", pack, version.style, "pdf", key="shared-pdf", type="primary",
                     icon=":material/download:")
        download("Download as Word", pack, version.style, "docx", key="shared-docx", icon=":material/download:")
    if not fits:
        st.caption("This brief was shared before briefs were kept to one page, so it is offered as a Word "
                   "document only.")
    with st.expander("Build your own pack from this one"):
        st.markdown("Make your own copy to change and share: this pack stays as it is.")
        if st.button("Make my own copy", key="copy-shared", icon=":material/content_copy:"):
            with ui.friendly_errors():
                ui.remember_pack(store.copy_shared(token, ui.signed_in()))
                st.query_params.clear()
                st.rerun()


share_token = st.query_params.get(ui.SHARE_PARAM, "") or st.query_params.get("pack", "")
if share_token:
    try:
        shared_view(share_token)
    except PackError as error:  # a manager gets a plain sentence, never an error box
        st.text("This pack cannot be shown at the moment. Ask its author to check it. " + str(error))
    st.stop()


# ------------------------------------------------------------------ which pack: the address and the session

st.title("Evidence pack")
st.markdown("Turn the references you chose into a one-page brief for your manager: say what you are asking "
            "for, give three to five key messages with their references, and download it as PDF or Word. "
            "Everything is saved as you go.")

if NOTICE in st.session_state:
    kind, text = st.session_state.pop(NOTICE)
    getattr(st, kind)(ui.plain(text))

# The address wins when it holds an edit link this session did not put there (a reload, a typed or
# bookmarked address); otherwise the session's pack does (a button may have just switched packs).
link = st.query_params.get(ui.EDIT_PARAM, "")
current = ui.current_pack()
try:
    if link and link != st.session_state.get("pack_address") and (current is None or current.edit_token != link):
        current = ui.open_pack(link)
    else:
        current = ui.refresh_pack()
except (PackNotFound, PackAccessDenied) as error:
    st.warning(ui.plain(str(error)), icon=":material/link_off:")
    if ui.waiting_for_sign_in() and ui.librarian() is None:  # a reload forgot the password sign-in
        st.page_link("views/librarian.py", label="Sign in on the Librarian page to carry on with it",
                     icon=":material/login:", width="content")
    current = None
    ui.forget_pack()
if current is not None:
    if link != current.edit_token:
        st.query_params[ui.EDIT_PARAM] = current.edit_token
    st.session_state["pack_address"] = current.edit_token
else:
    st.session_state.pop("pack_address", None)
    if ui.EDIT_PARAM in st.query_params:
        del st.query_params[ui.EDIT_PARAM]
ui.keep_browser_packs()  # a pack just opened from the address is this browser's pack in progress now


# ------------------------------------------------------------------ actions (run before the page is drawn)


def use_template(slug: str) -> None:
    safely(lambda: ui.start_pack(lib.concern_pack(slug)))


def open_link(edit_token: str) -> None:
    safely(lambda: ui.open_pack(edit_token))


def new_pack() -> None:
    ui.forget_pack()


def close_pack() -> None:
    stored = ui.current_pack()
    ui.forget_pack(from_browser=True)
    if stored is not None:
        notice("info", f"Closed “{stored.pack.title}”, and took it off this browser's list. It is still saved"
               + (": you find it under My packs when you are signed in." if stored.owner else
                  ": its private edit link opens it again."))


def duplicate() -> None:
    def act() -> None:
        stored = ui.current_pack()
        assert stored is not None
        copy = ui.remember_pack(store.duplicate(stored.edit_token, ui.signed_in()))
        notice("success", f"You are now working on a copy, “{copy.pack.title}”. The original is unchanged.")
    safely(act)


def delete() -> None:
    def act() -> None:
        stored = ui.current_pack()
        assert stored is not None
        title = store.delete(stored.edit_token, ui.signed_in())
        ui.forget_pack(from_browser=True)
        notice("success", f"Deleted “{title}”." + (" Its share link now says the pack was withdrawn."
                                                    if stored.share_token else ""))
    st.session_state.pop("confirm_delete", None)
    safely(act)


def share() -> None:
    def act() -> None:
        stored = ui.current_pack()
        assert stored is not None
        try:
            ui.remember_pack(store.share(stored.edit_token, ui.signed_in(),
                                         check=require_one_page),
                             switched=False)
        except PackDoesNotFit as error:
            st.session_state["share_refused"] = str(error)
        else:
            st.session_state.pop("share_refused", None)
    safely(act)


def withdraw() -> None:
    def act() -> None:
        stored = ui.current_pack()
        assert stored is not None
        ui.remember_pack(store.withdraw(stored.edit_token, ui.signed_in()), switched=False)
        notice("info", "The link was withdrawn: anyone who opens it now reads that the pack was withdrawn. "
                       "Make a new link to share the pack again.")
    safely(act)


def fit_to_page() -> None:
    def act() -> None:
        stored = ui.current_pack()
        assert stored is not None
        fitted = lib.fit_pack(stored.pack, stored.style)
        ui.change_pack(lambda _: fitted.pack)
        st.session_state[ui.RESEED] = True
        st.session_state["fit_steps"] = (fitted.steps, fitted.fits, fitted.advice)
        st.session_state.pop("share_refused", None)
    safely(act)


def upload_pack() -> None:
    uploaded = st.session_state.get("pack_upload")
    if uploaded is not None:
        def act() -> None:
            pack = lib.read_pack(uploaded.getvalue())
            ui.start_pack(drafts.from_upload(pack, lib.get_many(pack.keys)))
        safely(act)


# What the advocate types: each box saves just itself, from what it showed (see ui.change_pack).
def save_edit(edit: Callable[[Pack], Pack], conflict_type: type[PackConflict],
              hold: Callable[[PackConflict], None]) -> StoredPack | None:
    """Save one box's edit.  A conflict of `conflict_type` is handed to `hold`, which keeps the
    person's text in the form until they choose; any other refusal is said; either way the boxes
    are refilled from the saved pack.  None when nothing was saved."""
    try:
        return ui.change_pack(edit)
    except conflict_type as conflict:
        hold(conflict)
    except LibraryError as error:
        notice("error", str(error))
    st.session_state[ui.RESEED] = True
    return None


def save_field(widget: str, edit: drafts.FieldEdit) -> None:
    held = field_conflicts(ui.current_pack())

    def hold(conflict: PackConflict) -> None:
        assert isinstance(conflict, FieldConflict)
        held[widget] = (edit.after, str(conflict), conflict.theirs)  # kept in the box until they choose

    if save_edit(lambda pack: drafts.edited(pack, fields=[edit]), FieldConflict, hold) is not None:
        held.pop(widget, None)


def typed(widget: str, field: str, key: str = "") -> None:
    stored = ui.current_pack()
    value = str(st.session_state.get(widget, ""))
    held = field_conflicts(stored)
    if widget in held:  # still not saved: it waits for "Keep my text" or "Use theirs"
        held[widget] = (value, *held[widget][1:])
        return
    before = drafts.field_value(stored.pack, field, key) if stored else ""
    save_field(widget, drafts.FieldEdit(field, before, value, key))


def typed_note(key: str) -> None:
    typed(f"note-{key}", "note", key)


def keep_my_field(widget: str, field: str, key: str = "") -> None:
    yours, _, theirs = field_conflicts(ui.current_pack()).pop(widget)
    save_field(widget, drafts.FieldEdit(field, theirs, yours, key))
    st.session_state[ui.RESEED] = True


def use_their_field(widget: str) -> None:
    field_conflicts(ui.current_pack()).pop(widget, None)
    st.session_state[ui.RESEED] = True


def typed_further(key: str) -> None:
    value = bool(st.session_state.get(f"further-{key}", False))
    safely(lambda: ui.change_pack(lambda pack: drafts.edited(pack, further_reading={key: value})))


def box(index: int) -> drafts.MessageSlot:
    return drafts.MessageSlot.of(st.session_state.get(f"message-{index}", ""),
                                 st.session_state.get(f"cites-{index}", []))


def save_message(edit: drafts.MessageEdit) -> None:
    """Save one key message's edit; a conflict keeps the person's text in the form."""
    stored = ui.current_pack()

    def hold(conflict: PackConflict) -> None:
        assert isinstance(conflict, MessageConflict)
        target = None if conflict.theirs is None else drafts.MessageSlot.of(conflict.theirs, conflict.theirs_keys)
        conflicts_in(stored).append((edit.after, str(conflict), target))

    saved = save_edit(lambda pack: drafts.edited(pack, messages=[edit]), MessageConflict, hold)
    if saved is None:
        return
    # Empty messages are dropped and the rest move up, another window's may have moved too: the
    # boxes are refilled whenever they differ, so each shows its own message.
    slots = drafts.message_slots(saved.pack)
    count = st.session_state.get("message_slots", MIN_MESSAGE_SLOTS)
    if [box(i) for i in range(count)] != [*slots, *[drafts.MessageSlot()] * (count - len(slots))][:count] \
            or len(slots) > count:
        st.session_state[ui.RESEED] = True


def typed_message(index: int) -> None:
    """Key message `index + 1` (its text or its references) changed: save that message alone, from
    what it held when this page last showed the pack, so another window's messages are kept."""
    stored = ui.current_pack()
    boxes = conflict_boxes(stored)
    if index in boxes:  # a text not saved yet: it waits for "Keep my text" or "Use theirs"
        held = conflicts_in(stored)
        held[boxes[index]] = (box(index), *held[boxes[index]][1:])
        return
    shown = drafts.message_slots(stored.pack) if stored else ()
    before = shown[index] if index < len(shown) else drafts.MessageSlot()
    seen = tuple(m.text for m in stored.pack.key_messages) if stored else ()
    save_message(drafts.MessageEdit(index + 1, before, box(index), seen))


def keep_my_message(index: int) -> None:
    """"Keep my text": it replaces only the message it was meant for (as that now reads), or is
    added as a new message when that one was removed; never another."""
    stored = ui.current_pack()
    at = conflict_boxes(stored).get(index)
    if stored is None or at is None:
        return
    yours, _, target = conflicts_in(stored).pop(at)
    save_message(drafts.MessageEdit(index + 1, target or drafts.MessageSlot(), yours,
                                    tuple(m.text for m in stored.pack.key_messages)))
    st.session_state[ui.RESEED] = True


def use_their_message(index: int) -> None:
    stored = ui.current_pack()
    at = conflict_boxes(stored).get(index)
    if at is not None:
        conflicts_in(stored).pop(at)
    st.session_state[ui.RESEED] = True


def chose_style() -> None:
    style = st.session_state.get("pack_style", "apa")
    safely(lambda: ui.change_pack(lambda pack: pack, style=style))


def move(key: str, step: int) -> None:
    safely(lambda: ui.change_pack(lambda pack: drafts.move_reference(pack, key, step)))


def remove(key: str) -> None:
    safely(lambda: ui.remove_from_pack(key))


def add_message_slot() -> None:
    st.session_state["message_slots"] = min(MAX_KEY_MESSAGES, st.session_state.get("message_slots", 3) + 1)


def seed_widgets(stored: StoredPack, *, force: bool) -> None:
    """Fill the widgets from the saved pack: all of them after a change made elsewhere (another
    window, a reorder, a template), else only those Streamlit forgot while another page was open."""
    pack = stored.pack
    if force or "message_slots" not in st.session_state:
        st.session_state["message_slots"] = max(MIN_MESSAGE_SLOTS, len(pack.key_messages))
    values: dict[str, object] = {"pack_title": pack.title, "pack_audience": pack.audience, "pack_ask": pack.ask,
                                 "pack_by": pack.prepared_by, "pack_style": stored.style}
    for reference in pack.references:
        values[f"note-{reference.key}"] = reference.note
        values[f"further-{reference.key}"] = reference.further_reading
    for index in range(MAX_KEY_MESSAGES):
        message = pack.key_messages[index] if index < len(pack.key_messages) else None
        values[f"message-{index}"] = message.text if message else ""
        values[f"cites-{index}"] = drafts.cited_keys(pack, message) if message else []
    for name, value in values.items():
        if force or name not in st.session_state:
            st.session_state[name] = value
    # A text someone else changed while this person wrote theirs stays theirs until they choose.
    held = conflicts_in(stored)
    for index, n in conflict_boxes(stored).items():
        st.session_state["message_slots"] = max(st.session_state["message_slots"], index + 1)
        if force:
            yours = held[n][0]
            st.session_state[f"message-{index}"] = yours.text
            st.session_state[f"cites-{index}"] = [k for k in pack.keys if k in yours.cites]
    if force:
        for widget, (typed_text, _, _) in field_conflicts(stored).items():
            st.session_state[widget] = typed_text


def field_conflict(widget: str, field: str, key: str = "") -> None:
    """Under a box whose text was not saved: why, and the choice."""
    held = field_conflicts(current).get(widget)
    if held is None:
        return
    st.warning(ui.plain(held[1]), icon=":material/sync_problem:")
    with st.container(horizontal=True, gap="small"):
        st.button("Keep my text", key=f"keep-{widget}", type="primary", width="content",
                  on_click=keep_my_field, args=(widget, field, key))
        st.button("Use theirs", key=f"theirs-{widget}", width="content", on_click=use_their_field, args=(widget,))


# ------------------------------------------------------------------ starting, and the packs you have


def my_packs(current: StoredPack | None) -> list[PackSummary]:
    who = ui.signed_in()
    found = {s.id: s for s in store.held(ui.pack_links(), who)}
    if who is not None:
        found.update({s.id: s for s in store.owned_by(who)})
    return sorted(found.values(), key=lambda s: s.updated, reverse=True)


def starting_points(current: StoredPack | None) -> None:
    if vocabulary.concerns:
        st.markdown("**Start a new pack from a common concern**")
        c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
        chosen = c1.selectbox("Concern", [c.slug for c in vocabulary.concerns],
                              format_func=lambda s: vocabulary.concern_by_slug[s].label, key="template_concern")
        c2.button("Use this template", key="use-template", on_click=use_template, args=(chosen,))
    mine = my_packs(current)
    if mine:
        who = ui.signed_in()
        st.markdown("**My packs**" + (f" (signed in as {ui.escape_markdown(who.label)})" if who else
                                      " (the packs opened in this browser until it is closed; keep each one's "
                                      "private edit link to come back to it later)"))
        for summary in mine[:50]:
            c1, c2 = st.columns([5, 1], vertical_alignment="center")
            with c1:
                st.text(summary.title)
                st.caption(f"Changed {when(summary.updated)}" + (" · shared" if summary.shared else ""))
            if current is not None and summary.id == current.id:
                c2.caption("Open now")
            else:
                c2.button("Open", key=f"open-{summary.id}", on_click=open_link, args=(summary.edit_token,))
    st.file_uploader("Or open a pack file (.json) saved from this library, as a new pack", type=["json"],
                     key="pack_upload")
    st.button("Open the uploaded pack", key="open-upload", on_click=upload_pack)


if current is None:
    st.info("You have no pack open. Add references from Search (the “Add to pack” button) or from a concern, "
            "or start from a template below.", icon=":material/info:")
    st.page_link("views/search.py", label="Go to search", icon=":material/search:")
    starting_points(None)
    st.stop()

who = ui.signed_in()
pack, style = current.pack, current.style
st.caption(f"Saved automatically, {when(current.updated)}. "
           + (f"Only you ({ui.escape_markdown(describe_owner(current.owner))}) can change it."
              if current.owner else
              "Anyone with this page's address can change it: keep the address to yourself."))
# Buttons sized to their labels, in a row that wraps on a narrow screen (never cut short).
with st.container(horizontal=True, gap="small"):
    st.button("New pack", key="new-pack", on_click=new_pack, icon=":material/add:", width="content",
              help="Start an empty pack. This one stays saved, under “My packs”.")
    st.button("Close this pack", key="close-pack", on_click=close_pack, icon=":material/close:", width="content",
              help="Stop working on this pack and take it off this browser's list, for example on a shared "
                   "computer. It stays saved.")
    st.button("Duplicate", key="duplicate-pack", on_click=duplicate, icon=":material/content_copy:", width="content")
    if st.session_state.get("confirm_delete") != current.id:
        st.button("Delete", key="delete-pack", icon=":material/delete:", width="content",
                  on_click=lambda: st.session_state.update(confirm_delete=current.id))
if st.session_state.get("confirm_delete") == current.id:
    st.warning(f"Delete “{ui.plain(pack.title)}” for good? This cannot be undone"
               + (", and its share link will say the pack was withdrawn." if current.share_token else "."),
               icon=":material/delete:")
    with st.container(horizontal=True, gap="small"):
        st.button("Yes, delete it", key="confirm-delete", type="primary", on_click=delete, width="content")
        st.button("Cancel", key="cancel-delete", width="content",
                  on_click=lambda: st.session_state.pop("confirm_delete", None))
with st.expander("Start another pack, or open one of yours"):
    starting_points(current)
if not current.owner:
    with st.expander("Your private edit link"):
        st.caption("Bookmark it to come back to this pack from any browser. Anyone with it can change or delete "
                   "the pack, so do not send it to your manager: share the read-only link instead.")
        st.code(app_url(**{ui.EDIT_PARAM: current.edit_token}), language=None)

if not pack.references:
    st.info("This pack has no references yet. Add them from Search (the “Add to pack” button) or from a "
            "concern.", icon=":material/info:")
    st.page_link("views/search.py", label="Go to search", icon=":material/search:")
    st.stop()

seed_widgets(current, force=bool(st.session_state.pop(ui.RESEED, False)))

with ui.friendly_errors():
    records = lib.get_many(pack.keys)
    edit_col, preview_col = st.columns([1, 1], gap="large")
    with edit_col:
        st.subheader("1. The brief")
        st.text_input("Title (a question works well, e.g. “Why should we invest in staff wellbeing?”)",
                      key="pack_title", max_chars=LIMITS["title"], on_change=typed, args=("pack_title", "title"))
        field_conflict("pack_title", "title")
        st.text_input("Who it is for", key="pack_audience", placeholder="e.g. the ward manager",
                      max_chars=LIMITS["audience"], on_change=typed, args=("pack_audience", "audience"))
        field_conflict("pack_audience", "audience")
        st.text_area("What you are asking the manager to do", key="pack_ask", height=80, max_chars=LIMITS["ask"],
                     on_change=typed, args=("pack_ask", "ask"))
        field_conflict("pack_ask", "ask")
        st.text_input("Prepared by", key="pack_by", max_chars=LIMITS["prepared_by"], on_change=typed,
                      args=("pack_by", "prepared_by"))
        field_conflict("pack_by", "prepared_by")

        st.subheader("2. References")
        # The picker names each reference as the brief cites it ("Felitti et al., 1998"), with its number.
        labels = {key: f"[{number}] {label}" for number, (key, label)
                  in enumerate(zip(pack.keys, lib.pack_citation_labels(pack, style)), 1)}
        for number, reference in enumerate(pack.references, 1):
            key = reference.key
            record = record_for(reference, records)
            title = record.title if record else key
            saved_only = records.get(key) is None or is_replaced(reference, records.get(key))
            with st.container(border=True):
                st.markdown(f"**[{number}]** {ui.escape_markdown(title)}"
                            + ("" if not saved_only else
                               " — *no longer in the library under this key; the details saved with the pack "
                               "are used*"))
                st.text_area("Why this matters here", key=f"note-{key}", height=80, max_chars=LIMITS["note"],
                             placeholder="Leave empty to use the reference's key finding",
                             on_change=typed_note, args=(key,))
                field_conflict(f"note-{key}", "note", key)
                st.checkbox("Under “Further reading” (listed, without its note, to save room)",
                            key=f"further-{key}", on_change=typed_further, args=(key,))
                with st.container(horizontal=True):
                    st.button("Up", key=f"up-{key}", on_click=move, args=(key, -1), disabled=number == 1,
                              icon=":material/arrow_upward:")
                    st.button("Down", key=f"down-{key}", on_click=move, args=(key, 1),
                              disabled=number == len(pack.references), icon=":material/arrow_downward:")
                    st.button("Remove", key=f"drop-{key}", on_click=remove, args=(key,), icon=":material/close:")

        st.subheader("3. Key messages")
        st.caption("Three to five short messages, each backed by the references you tick.")
        conflicts, boxes = conflicts_in(current), conflict_boxes(current)
        for index in range(st.session_state["message_slots"]):
            st.text_area(f"Key message {index + 1}", key=f"message-{index}", height=70, max_chars=LIMITS["message"],
                         on_change=typed_message, args=(index,))
            if index in boxes:
                st.warning(ui.plain(conflicts[boxes[index]][1]), icon=":material/sync_problem:")
                with st.container(horizontal=True, gap="small"):
                    st.button("Keep my text", key=f"keep-message-{index}", type="primary", width="content",
                              on_click=keep_my_message, args=(index,))
                    st.button("Use theirs", key=f"drop-message-{index}", width="content",
                              on_click=use_their_message, args=(index,))
            st.multiselect(f"References behind message {index + 1}", list(pack.keys), format_func=labels.get,
                           key=f"cites-{index}", on_change=typed_message, args=(index,))
        if st.session_state["message_slots"] < MAX_KEY_MESSAGES:
            st.button("Add a key message", key="add-message", icon=":material/add:", on_click=add_message_slot)
        st.radio("Reference style", list(STYLES), format_func=lambda s: STYLES[s].label, key="pack_style",
                 horizontal=True, on_change=chose_style)

    with preview_col:
        st.subheader("Preview")
        preview = preview_of(pack, style)
        if preview.fit.fits:
            st.caption("It fits on one A4 page.")
        else:
            st.warning("Longer than one page: the PDF and the read-only link wait until it fits. "
                       + ui.plain(preview.fit.advice), icon=":material/warning:")
            st.button("Fit to one page", key="fit-pack", on_click=fit_to_page, icon=":material/fit_page:",
                      help="Shortens notes to their first sentence, then moves the least-cited references to "
                           "a “Further reading” line, until the brief fits; each step is shown.")
        if "fit_steps" in st.session_state:
            steps, fitted, advice = st.session_state.pop("fit_steps")
            for step in steps:
                st.info(ui.plain(step), icon=":material/compress:")
            if not fitted:
                st.warning(ui.plain(advice), icon=":material/warning:")
        for tip in preview.tips:
            st.caption("Tip: " + ui.plain(tip))
        for note in preview.notes:
            st.info(ui.plain(note), icon=":material/update:")
        ui.show_brief(preview.html)

        st.subheader("Download")
        pdf_col, word_col = st.columns(2)
        with pdf_col:
            download("PDF (one page)", pack, style, "pdf", key="download-pdf", type="primary",
                     icon=":material/download:", disabled=not preview.fit.fits,
                     help=None if preview.fit.fits else "Shorten the brief to one page first.")
        with word_col:
            download("Word (to edit)", pack, style, "docx", key="download-docx", icon=":material/download:")
        with st.expander("Other formats: web page, Markdown, the references for Zotero or EndNote, the pack file"):
            for fmt in DOWNLOADS:
                download(EXPORTERS[fmt].label, pack, style, fmt, key=f"download-{fmt}")
            st.download_button("Pack file (to open it again here or in another installation)", dump_pack(pack),
                               file_name=file_name(pack, "pack"), mime="application/json",
                               key="download-json", on_click="ignore")

        st.subheader("Share with your manager")
        refused = st.session_state.pop("share_refused", None)
        if refused:
            st.warning("Not shared yet: a manager would get a brief that runs over one page. "
                       + ui.plain(refused), icon=":material/warning:")
            st.button("Fit to one page", key="fit-pack-share", on_click=fit_to_page, icon=":material/fit_page:")
        if current.share_token and current.shared is not None:
            st.code(app_url(**{ui.SHARE_PARAM: current.share_token}), language=None)
            st.caption("Anyone with this link can read the brief and download it as PDF or Word, but not change "
                       "it. Copy it with the button at its right.")
            if not current.shared_is_current:
                st.info(f"The link shows the version you shared on {when(current.shared.at)}; you have changed "
                        "the pack since.", icon=":material/history:")
                st.button("Update the shared version", key="share-pack", on_click=share, icon=":material/sync:")
            st.button("Withdraw the link", key="withdraw-pack", on_click=withdraw, icon=":material/link_off:")
        else:
            st.button("Make a read-only link", key="share-pack", on_click=share, icon=":material/link:")
