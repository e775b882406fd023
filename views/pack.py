"""Evidence pack: build a one-page brief for a manager from chosen references, preview it,
check it fits one page, download it in every format, save, share and reopen it."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from library.citations import STYLES
from library.errors import PackDoesNotFit
from library.exporters import EXPORTERS
from library.packs import KeyMessage, Pack, PackReference, Selection, compare, dump_pack
from views import ui

lib = ui.library()
vocabulary = lib.vocabulary
store = lib.packs
draft = ui.pack_draft()
draft.setdefault("messages", [])  # each {"text": str, "cites": [keys]}


def slug_title(title: str) -> str:
    cleaned = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-")
    return "-".join(filter(None, cleaned.split("-")))[:60] or "evidence-pack"


def current_pack() -> Pack:
    keys = draft["keys"]
    snapshots = draft.get("snapshots", {})
    references = []
    for key in keys:
        note = st.session_state.get(f"note-{key}", draft["notes"].get(key, ""))
        saved = snapshots.get(key)
        references.append(PackReference(key, note, saved.evidence if saved else "",
                                        saved.snapshot if saved else None))
    messages = []
    for message in draft["messages"]:
        cites = tuple(sorted(keys.index(k) + 1 for k in message["cites"] if k in keys))
        if message["text"].strip():
            messages.append(KeyMessage(message["text"].strip(), cites))
    return Pack(
        title=st.session_state.get("pack_title", "").strip() or "Evidence brief",
        ask=st.session_state.get("pack_ask", "").strip(),
        key_messages=tuple(messages),
        references=tuple(references),
        audience=st.session_state.get("pack_audience", "").strip(),
        concern=draft.get("concern", ""),
        prepared_by=st.session_state.get("pack_by", "").strip(),
        date=dt.date.today(),
        selection=Selection(note="; ".join(draft["searches"])),
    )


def move(key: str, step: int) -> None:
    keys = draft["keys"]
    index = keys.index(key)
    target = index + step
    if 0 <= target < len(keys):
        keys[index], keys[target] = keys[target], keys[index]


# ------------------------------------------------------------------ read-only shared view

token = st.query_params.get("pack", "")
if token:
    with ui.friendly_errors():
        shared = store.get_by_token(token)
        st.title(shared.title)
        st.caption("A shared evidence pack (read-only).")
        for note in compare(shared, lib.get_many(shared.keys)):
            st.info(note)
        # Our own exported HTML, every value in it escaped by the exporter.
        st.iframe(lib.render_pack(shared, "html", "apa").decode("utf-8"), height=900)
        st.download_button("Download as PDF", lib.render_pack(shared, "pdf", "apa"),
                           file_name=f"{slug_title(shared.title)}.pdf", mime="application/pdf", key="shared-pdf")
    st.stop()

# ------------------------------------------------------------------ the builder

st.title("Evidence pack")
st.markdown("Turn the references you chose into a one-page brief for your manager: say what you are asking "
            "for, give three to five key messages with their references, and download it as PDF or Word.")

with st.expander("Start from a common concern, or open a saved pack", expanded=not draft["keys"]):
    if vocabulary.concerns:
        c1, c2 = st.columns([4, 1], vertical_alignment="bottom")
        chosen = c1.selectbox("Concern", [c.slug for c in vocabulary.concerns],
                              format_func=lambda s: vocabulary.concern_by_slug[s].label, key="template_concern")
        c2.button("Use this template", key="use-template",
                  on_click=lambda slug: ui.load_into_draft(lib.concern_pack(slug)), args=(chosen,))
    saved = store.list()
    if saved:
        c1, c2, c3, c4 = st.columns([4, 1, 1, 1], vertical_alignment="bottom")
        pick = c1.selectbox("Saved packs", [p.id for p in saved], key="saved_pick",
                            format_func=lambda i: next(f"{p.title} (saved {p.updated:%d %b %Y %H:%M})"
                                                       for p in saved if p.id == i))
        if c2.button("Open", key="open-saved"):
            ui.load_into_draft(store.get(pick), pick)
            st.rerun()
        if c3.button("Duplicate", key="duplicate-saved"):
            new_id = store.duplicate(pick)
            ui.load_into_draft(store.get(new_id), new_id)
            st.rerun()
        if c4.button("Delete", key="delete-saved"):
            store.delete(pick)
            if draft.get("pack_id") == pick:
                draft["pack_id"] = None
            st.rerun()
    uploaded = st.file_uploader("Or upload a pack file (.json) saved from this library", type=["json"],
                                key="pack_upload")
    if uploaded is not None and st.button("Open the uploaded pack", key="open-upload"):
        with ui.friendly_errors():
            ui.load_into_draft(lib.read_pack(uploaded.getvalue()))
            st.rerun()

if not draft["keys"]:
    st.info("Your pack is empty. Add references from Search (the “Add to pack” button), from a concern, "
            "or start from a template above.", icon=":material/info:")
    st.page_link("views/search.py", label="Go to search", icon=":material/search:")
    st.stop()

with ui.friendly_errors():
    records = lib.get_many(draft["keys"])
    for note in compare(current_pack(), records) if draft.get("snapshots") else []:
        st.info(note, icon=":material/update:")
    for key in draft["keys"]:
        if records.get(key) is not None:
            draft["notes"].setdefault(key, records[key].key_finding)  # type: ignore[union-attr]

    edit_col, preview_col = st.columns([1, 1], gap="large")
    with edit_col:
        st.subheader("1. The brief")
        st.session_state.setdefault("pack_title", "")
        st.text_input("Title (a question works well, e.g. “Why should we invest in staff wellbeing?”)",
                      key="pack_title")
        st.text_input("Who it is for", key="pack_audience", placeholder="e.g. the ward manager")
        st.text_area("What you are asking the manager to do", key="pack_ask", height=80)
        st.text_input("Prepared by", key="pack_by")

        st.subheader("2. References")
        labels = {}
        for number, key in enumerate(draft["keys"], 1):
            record = records.get(key)
            title = record.title if record else key
            labels[key] = f"[{number}] {record.author_line(1) if record else key} {record.year if record else ''}"
            with st.container(border=True):
                st.markdown(f"**[{number}]** {ui.escape_markdown(title)}"
                            + ("" if record else " — *no longer in the library; the saved details are used*"))
                st.text_area("Why this matters here", value=draft["notes"].get(key, ""), key=f"note-{key}",
                             height=80)
                b1, b2, b3, _ = st.columns([1, 1, 1, 3])
                b1.button("Up", key=f"up-{key}", on_click=move, args=(key, -1), disabled=number == 1,
                          icon=":material/arrow_upward:")
                b2.button("Down", key=f"down-{key}", on_click=move, args=(key, 1),
                          disabled=number == len(draft["keys"]), icon=":material/arrow_downward:")
                b3.button("Remove", key=f"drop-{key}", on_click=ui.remove_from_pack, args=(key,),
                          icon=":material/close:")

        st.subheader("3. Key messages")
        st.caption("Three to five short messages, each backed by the references you tick.")
        messages = draft["messages"]
        while len(messages) < 3:
            messages.append({"text": "", "cites": []})
        for index, message in enumerate(messages):
            message["text"] = st.text_area(f"Key message {index + 1}", value=message["text"],
                                           key=f"message-{index}", height=70)
            message["cites"] = st.multiselect(f"References behind message {index + 1}", draft["keys"],
                                              default=[k for k in message["cites"] if k in draft["keys"]],
                                              format_func=labels.get, key=f"cites-{index}")
        if len(messages) < 5 and st.button("Add a key message", key="add-message", icon=":material/add:"):
            messages.append({"text": "", "cites": []})
            st.rerun()
        style = st.radio("Reference style", list(STYLES), format_func=lambda s: STYLES[s].label,
                         key="pack_style", horizontal=True)

    pack = current_pack()
    with preview_col:
        st.subheader("Preview")
        fits, pdf_bytes = True, b""
        try:
            pdf_bytes = lib.render_pack(pack, "pdf", style)
        except PackDoesNotFit as error:
            fits = False
            st.warning(f"The brief no longer fits on one page. {error}", icon=":material/warning:")
        for tip in pack.advice():
            st.caption(f"Tip: {tip}")
        # Our own exported HTML, every value in it escaped by the exporter.
        html_bytes = lib.render_pack(pack, "html", style)
        st.iframe(html_bytes.decode("utf-8"), height=820)

        st.subheader("Download")
        name = slug_title(pack.title)
        st.download_button("PDF (one page)", pdf_bytes, file_name=f"{name}.pdf", mime="application/pdf",
                           disabled=not fits, key="download-pdf", type="primary", icon=":material/download:")
        for fmt in ("docx", "html", "md", "bib", "ris", "csljson"):
            exporter = EXPORTERS[fmt]
            data = html_bytes if fmt == "html" else lib.render_pack(pack, fmt, style)
            st.download_button(exporter.label, data,
                               file_name=f"{name}{exporter.extension}", mime=exporter.mime_type.split(";")[0],
                               key=f"download-{fmt}")
        st.download_button("Pack file (to move it to another installation)", dump_pack(pack.with_snapshots(records)),
                           file_name=f"{name}.json", mime="application/json", key="download-json")

        st.subheader("Save and share")
        if st.button("Save pack", key="save-pack", icon=":material/save:"):
            draft["pack_id"] = store.save(pack.with_snapshots(records), draft.get("pack_id"))
            st.success("Saved. Reopen it any time from “Saved packs” at the top of this page.")
        if draft.get("pack_id"):
            if st.button("Make a read-only link", key="share-pack", icon=":material/link:"):
                st.session_state["share_token"] = store.share_token(draft["pack_id"])
            if st.session_state.get("share_token"):
                st.code(f"/pack?pack={st.session_state['share_token']}", language=None)
                st.caption("Add this to the app's address (for example http://localhost:8501/pack?pack=…). "
                           "Anyone with the link can read the pack, not change it.")
