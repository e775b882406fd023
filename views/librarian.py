"""Librarian: sign in, add references (paste, upload, DOI, form), review and de-duplicate, tag, edit,
delete and restore, look after the vocabulary, and see the change log."""

from __future__ import annotations

from dataclasses import replace as dc_replace

import streamlit as st

from library.api import read_references
from library.bibtex import Entry, ParseResult, make_key, parse_text
from library.errors import EditConflict, EntryProblems, InvalidValue, LibraryError, Problem
from library.records import Record
from library.review import ReviewBatch, ReviewItem, ReviewNotFound
from library.taxonomy import Theme
from library.validation import check_entry
from library.values import apply_changes, decoded_value, name_from_line
from views import discover, ui

REVIEW = "librarian_review"  # the id of the review batch in progress (also in the address: ?review=ID)
PAGE_SIZE = 20
DECISIONS = {"new": "Add it", "skip": "Keep the existing one (don't add)", "replace": "Replace the existing one",
             "both": "Keep both", "merge": "Merge new details into the existing one"}
EDIT_BASE = "edit_base"  # {"key", "version", "values"}: what the edit form started from
EDIT_CONFLICT = "edit_conflict"

lib = ui.library()
vocabulary = lib.vocabulary

st.title("Add and edit references")
who = ui.librarian_sign_in()  # the sign-in choices, and the page stopped, for anyone not a librarian

left, right = st.columns([4, 1])
left.caption(f"Signed in as {ui.escape_markdown(who)}.")
if right.button("Sign out", key="sign-out"):
    ui.sign_out()


# ------------------------------------------------------------------ adding: reading the input


def read_input(method: str) -> ParseResult | None:
    if method == "paste":
        text = st.session_state.get("paste_text", "")
        if len(text.encode("utf-8")) > lib.settings.max_upload_bytes:
            raise LibraryError(f"The pasted text is over the limit of {lib.settings.max_upload_mb:g} MB.")
        return parse_text(text, "pasted text")
    if method == "upload":
        upload = st.session_state.get("upload_file")
        if upload is None:
            return None
        data = upload.getvalue()
        if len(data) > lib.settings.max_upload_bytes:
            raise LibraryError(f"{upload.name} is over the limit of {lib.settings.max_upload_mb:g} MB.")
        return read_references(data, upload.name)
    if method == "doi":
        from library.crossref import CrossrefClient

        with CrossrefClient(lib.settings) as client:
            entry = client.lookup(st.session_state.get("doi_text", ""))
        return ParseResult((entry,), ())
    return None


FORM_FIELDS = (("title", "form_title"), ("year", "form_year"), ("volume", "form_volume"),
               ("number", "form_number"), ("pages", "form_pages"), ("doi", "form_doi"), ("url", "form_url"))


def entry_from_form() -> ParseResult:
    """The form's plain text as an entry: every value encoded so that it reads back as typed."""
    s = st.session_state
    changes: dict[str, object] = {name: s.get(widget, "") for name, widget in FORM_FIELDS}
    changes[s.get("form_container_field", "journal")] = s.get("form_container", "")
    try:
        names = tuple(name_from_line(line) for line in s.get("form_authors", "").splitlines() if line.strip())
        changes["author"] = names or None
        entry = apply_changes(Entry("form", s.get("form_type", "article"), {}, {}, "form", None), changes)
    except InvalidValue as error:
        return ParseResult((), (Problem("form", None, None, str(error)),))
    key = s.get("form_key", "").strip() or make_key(entry.persons, entry.fields)
    return ParseResult((entry.with_key(key),), ())


# ------------------------------------------------------------------ adding: the review batch
# The batch is a `library.review.ReviewBatch` saved in the data folder; each widget writes its one
# field back as it changes, and a widget that comes back on screen is set from the batch.


def current_review() -> ReviewBatch | None:
    review_id = st.session_state.get(REVIEW) or st.query_params.get("review")
    if not review_id:
        return None
    try:
        batch = lib.reviews.load(review_id)
    except ReviewNotFound as error:
        st.session_state.pop(REVIEW, None)
        st.query_params.pop("review", None)
        st.info(str(error))
        return None
    if st.session_state.get(REVIEW) != batch.id:
        _forget_review_widgets()
    st.session_state[REVIEW] = batch.id
    st.query_params["review"] = batch.id
    return batch


def begin_review(result: ParseResult) -> None:
    batch = lib.start_review(result, source=result.entries[0].source if result.entries else "")
    _forget_review_widgets()
    st.session_state[REVIEW] = batch.id
    st.query_params["review"] = batch.id


def end_review() -> None:
    review_id = st.session_state.pop(REVIEW, None)
    if review_id:
        lib.reviews.delete(review_id)
    st.query_params.pop("review", None)
    _forget_review_widgets()


def _forget_review_widgets() -> None:
    for name in list(st.session_state):
        if isinstance(name, str) and name.split("-", 1)[0] in ("decision", "themes", "type", "setting", "finding") \
                and name.rsplit("-", 1)[-1].isdigit():
            del st.session_state[name]


def _store(index: int, widget: str, attribute: str) -> None:
    """A widget's on_change: write its value into the batch on disk."""
    review_id = st.session_state.get(REVIEW)
    if not review_id:
        return
    value = st.session_state.get(widget)
    if attribute in ("themes", "settings"):
        value = tuple(value or ())
    try:
        lib.reviews.update(review_id, lambda batch: batch.with_item(index, **{attribute: value}))
    except ReviewNotFound:
        return  # saved or cancelled in another tab; the page says so on this run


def _store_page() -> None:
    review_id = st.session_state.get(REVIEW)
    if review_id:
        try:
            lib.reviews.update(review_id, lambda batch: dc_replace(batch, page=int(st.session_state.get("review_page", 1))))
        except ReviewNotFound:
            return


def _show(widget: str, value: object) -> None:
    """Set a widget from the batch when it is (back) on screen; its own state wins while it stays."""
    if widget not in st.session_state:
        st.session_state[widget] = value


def save_review(batch_id: str, author: str) -> None:
    try:
        result = lib.save_review(batch_id, who=author)
    except LibraryError as error:
        st.session_state["save_error"] = str(error)
        return
    st.session_state.pop(REVIEW, None)
    st.query_params.pop("review", None)
    _forget_review_widgets()
    st.session_state["save_summary"] = (len(result.added) + len(result.replaced) + len(result.merged),
                                        len(result.skipped), list(result.notices))


def problem_list(problems: list[Problem]) -> None:
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    if errors:
        st.error(f"{len(errors)} entr{'y' if len(errors) == 1 else 'ies'} could not be read and will not be saved:\n\n"
                 + "\n".join(f"- {ui.escape_markdown(p.describe())}" for p in errors[:50]))
    if warnings:
        with st.expander(f"{len(warnings)} warning(s)"):
            st.markdown("\n".join(f"- {ui.escape_markdown(p.describe())}" for p in warnings[:200]))


def review_item(batch: ReviewBatch, index: int, item: ReviewItem) -> None:
    entry = item.entry
    record = Record.from_entry(entry)
    problems = [p for p in check_entry(entry.with_fields(themes=None), vocabulary) if p.severity == "error"]
    label = f"{ui.escape_markdown(record.title or entry.key)} ({record.year or 'n.d.'})"  # a label is Markdown
    if item.duplicates:
        label = "⚠ possible duplicate · " + label
    with st.expander(label, expanded=bool(item.duplicates) or len(batch.items) == 1):
        st.markdown(f"`{ui.escape_markdown(entry.key)}` · {ui.escape_markdown(record.author_line())} · "
                    f"{ui.escape_markdown(record.venue)}"
                    + (f" · {ui.escape_markdown(record.doi_url)}" if record.doi else ""))
        for problem in problems:
            st.error(ui.escape_markdown(problem.describe()))
        match = item.primary
        if match is not None:
            existing_col, new_col = st.columns(2)
            where = "Already in the collection" if match.in_batch is None else "Earlier in what you are adding"
            existing_col.markdown(f"**{where}** (`{ui.escape_markdown(match.key)}`, it "
                                  f"{ui.escape_markdown(match.reason)})\n\n"
                                  f"{ui.escape_markdown(match.title)} ({match.year or 'n.d.'})  \n"
                                  f"{ui.escape_markdown(match.authors)}")
            new_col.markdown(f"**New**\n\n{ui.escape_markdown(record.title)} ({record.year or 'n.d.'})  \n"
                             f"{ui.escape_markdown(record.author_line(10))}")
        options = list(item.options())
        _show(f"decision-{index}", item.decision if item.decision in options else options[0])
        st.radio("What to do", options, format_func=DECISIONS.get, key=f"decision-{index}", horizontal=True,
                 on_change=_store, args=(index, f"decision-{index}", "decision"))
        _show(f"themes-{index}", [t for t in (item.themes or ()) if t in vocabulary.theme_by_slug])
        _show(f"type-{index}", item.evidence_type if item.evidence_type in vocabulary.evidence_type_by_slug else "")
        _show(f"setting-{index}", [s for s in (item.settings or ()) if s in vocabulary.setting_by_slug])
        _show(f"finding-{index}", item.key_finding or "")
        st.multiselect("Themes", [t.slug for t, _ in vocabulary.walk()], format_func=vocabulary.label,
                       key=f"themes-{index}", max_selections=5, on_change=_store,
                       args=(index, f"themes-{index}", "themes"))
        c1, c2 = st.columns(2)
        c1.selectbox("Evidence type", ["", *vocabulary.evidence_type_by_slug],
                     format_func=lambda s: vocabulary.label(s) if s else "(not set)", key=f"type-{index}",
                     on_change=_store, args=(index, f"type-{index}", "evidence_type"))
        c2.multiselect("Setting", list(vocabulary.setting_by_slug), format_func=vocabulary.label,
                       key=f"setting-{index}", on_change=_store, args=(index, f"setting-{index}", "settings"))
        st.text_area("Key finding (plain words, your own; what it shows and what it cannot)",
                     key=f"finding-{index}", height=90, on_change=_store, args=(index, f"finding-{index}", "key_finding"))


def apply_to_all(batch_id: str) -> None:
    s = st.session_state
    lib.reviews.update(batch_id, lambda batch: batch.apply_to_all(
        themes=s.get("bulk_themes", []), evidence_type=s.get("bulk_type", ""), skip_duplicates=bool(s.get("bulk_skip"))))
    _forget_review_widgets()  # set again from the batch


# ------------------------------------------------------------------ editing one reference
# The form starts from one version of the reference; only the fields the librarian changed are
# sent, with that version, so a change someone else made meanwhile is never overwritten unseen.

EDIT_FIELDS = ("title", "year", "themes", "evidence-type", "setting", "country", "key-finding", "finding-checked",
               "doi")


def _edit_values(record: Record) -> dict[str, object]:
    entry = record.entry
    assert entry is not None
    raw = entry.fields.get
    return {
        "title": decoded_value("title", raw("title", "")), "year": decoded_value("year", raw("year", "")),
        "themes": [t for t in record.themes if t in vocabulary.theme_by_slug],
        "evidence-type": record.evidence_type if record.evidence_type in vocabulary.evidence_type_by_slug else "",
        "setting": [s for s in record.settings if s in vocabulary.setting_by_slug],
        "country": decoded_value("country", raw("country", "")),
        "key-finding": decoded_value("key-finding", raw("key-finding", "")),
        "finding-checked": record.finding_checked, "doi": raw("doi", "").strip(),
    }


def _edit_widget(key: str, name: str) -> str:
    return f"edit-{key}-{name}"


def start_editing(record: Record) -> dict:
    values = _edit_values(record)
    base = {"key": record.key, "version": record.version, "values": values}
    st.session_state[EDIT_BASE] = base
    st.session_state.pop(EDIT_CONFLICT, None)
    for name, value in values.items():
        st.session_state[_edit_widget(record.key, name)] = value
    return base


def typed_changes(base: dict) -> dict[str, str]:
    """What the librarian changed in the form, as plain text for `Library.edit`."""
    changes: dict[str, str] = {}
    for name in EDIT_FIELDS:
        value = st.session_state.get(_edit_widget(base["key"], name))
        if value == base["values"][name]:
            continue
        if name in ("themes", "setting"):
            changes[name] = ", ".join(value or [])
        elif name == "finding-checked":
            changes[name] = "yes" if value else "no"
        else:
            changes[name] = value or ""
    return changes


def save_edit(base: dict, author: str, *, version: str) -> None:
    changes = typed_changes(base)
    try:
        result = lib.edit(base["key"], changes, base_version=version, who=author)
    except EditConflict as conflict:
        st.session_state[EDIT_CONFLICT] = {
            "key": base["key"], "version": conflict.current_version, "message": str(conflict),
            "changes": [{"who": c.who, "when": c.when, "field": name, "before": old, "after": new}
                        for c in conflict.changes for name, (old, new) in c.changes.items()]}
        return
    except EntryProblems as error:
        st.session_state["edit_error"] = str(error)
        return
    st.session_state["edit_saved"] = ("Saved. Search shows the change at once." if result.changed
                                      else "Nothing had changed, so nothing was saved.", list(result.notices))
    st.session_state.pop(EDIT_BASE, None)
    st.session_state.pop(EDIT_CONFLICT, None)


def edit_form(record: Record) -> None:
    base = st.session_state.get(EDIT_BASE)
    if not base or base["key"] != record.key:
        base = start_editing(record)
    saved = st.session_state.pop("edit_saved", None)
    if saved:
        st.success(saved[0])
        for notice in saved[1]:
            st.warning(ui.escape_markdown(notice))
    error = st.session_state.pop("edit_error", None)
    if error:
        st.error(ui.escape_markdown(error))
    conflict = st.session_state.get(EDIT_CONFLICT)
    if conflict and conflict["key"] == record.key:
        st.error(ui.escape_markdown(conflict["message"]), icon=":material/sync_problem:")
        if conflict["changes"]:
            st.dataframe(conflict["changes"], hide_index=True, width="stretch")
        c1, c2 = st.columns(2)
        if c1.button("Apply my changes to the new version", key="edit-reapply", type="primary"):
            save_edit(base, who, version=conflict["version"])
            st.rerun()
        if c2.button("Leave my changes and load the new version", key="edit-discard"):
            st.session_state.pop(EDIT_BASE, None)
            st.session_state.pop(EDIT_CONFLICT, None)
            st.rerun()
    key = record.key
    with st.form(f"edit-{key}"):
        st.text_input("Title", key=_edit_widget(key, "title"))
        st.text_input("Year", key=_edit_widget(key, "year"))
        st.multiselect("Themes", [t.slug for t, _ in vocabulary.walk()], format_func=vocabulary.label,
                       key=_edit_widget(key, "themes"), max_selections=5)
        st.selectbox("Evidence type", ["", *vocabulary.evidence_type_by_slug],
                     format_func=lambda s: vocabulary.label(s) if s else "(not set)",
                     key=_edit_widget(key, "evidence-type"))
        st.multiselect("Setting", list(vocabulary.setting_by_slug), format_func=vocabulary.label,
                       key=_edit_widget(key, "setting"))
        st.text_input("Country", key=_edit_widget(key, "country"))
        st.text_area("Key finding", key=_edit_widget(key, "key-finding"), height=110)
        st.checkbox("The key finding has been checked against the full text", key=_edit_widget(key, "finding-checked"))
        st.text_input("DOI", key=_edit_widget(key, "doi"))
        if st.form_submit_button("Save changes", type="primary"):
            save_edit(base, who, version=base["version"])
            st.rerun()


# ------------------------------------------------------------------ the page

add_tab, edit_tab, themes_tab, log_tab, discover_tab = st.tabs(
    ["Add references", "Edit or delete", "Themes", "Change log", discover.tab_label(lib)])

with add_tab, ui.friendly_errors():
    summary = st.session_state.pop("save_summary", None)
    if summary:
        added, skipped, notices = summary
        saved_text = f"Saved {added} reference{'s' if added != 1 else ''}" if added else "Nothing was saved"
        skipped_text = f"; left out {skipped} already in the collection" if skipped else ""
        st.success(f"{saved_text}{skipped_text}." + (" They can be found in search at once." if added else ""))
        for notice in notices:
            st.warning(ui.escape_markdown(notice))
    save_error = st.session_state.pop("save_error", None)
    if save_error:
        st.error(ui.escape_markdown(save_error))
    review = current_review()
    if review is None:
        method = st.radio("How would you like to add references?", ["paste", "upload", "doi", "form"],
                          horizontal=True, key="add_method",
                          format_func={"paste": "Paste BibTeX", "upload": "Upload a .bib or .ris file",
                                       "doi": "Look up a DOI", "form": "Fill in a form"}.get)
        if method == "paste":
            st.text_area("BibTeX", key="paste_text", height=220,
                         placeholder="@article{smith2020, author = {Smith, Jane}, title = {...}, ...}")
        elif method == "upload":
            st.file_uploader("BibTeX or RIS file", type=["bib", "ris", "bibtex", "txt"], key="upload_file",
                             help=f"Up to {lib.settings.max_upload_mb:g} MB, exported from Zotero, JabRef, "
                                  "Mendeley, EndNote…")
        elif method == "doi":
            st.text_input("DOI", key="doi_text", placeholder="10.1016/S0749-3797(98)00017-8",
                          help="We look the DOI up with Crossref. We never guess a DOI from a title.")
        else:
            c1, c2 = st.columns(2)
            c1.selectbox("Type", ["article", "book", "incollection", "techreport", "phdthesis", "misc"],
                         key="form_type")
            c2.text_input("Citation key (leave empty to make one)", key="form_key")
            st.text_input("Title", key="form_title")
            st.text_area("Authors, one per line: 'Family, Given' for a person, or an organisation's full name",
                         key="form_authors", height=90)
            c1, c2, c3 = st.columns(3)
            c1.text_input("Year", key="form_year")
            c2.selectbox("Published in (field)", ["journal", "booktitle", "publisher", "school", "institution"],
                         key="form_container_field")
            c3.text_input("Published in", key="form_container")
            c1, c2, c3 = st.columns(3)
            c1.text_input("Volume", key="form_volume")
            c2.text_input("Issue", key="form_number")
            c3.text_input("Pages", key="form_pages")
            c1, c2 = st.columns(2)
            c1.text_input("DOI", key="form_doi")
            c2.text_input("Web address", key="form_url")
        if st.button("Read and check", type="primary", key="read-input"):
            result = entry_from_form() if method == "form" else read_input(method)
            if result is None:
                st.warning("Choose a file first.")
            elif not result.entries:
                if not result.errors:
                    st.warning("No references were found in that input.")
                problem_list(list(result.problems))
            else:
                begin_review(result)
                st.rerun()
    else:
        items = review.items
        problem_list(list(review.problems))
        if not items:
            st.warning("None of the entries could be read, so there is nothing to save.")
            if st.button("Start again", key="cancel-review"):
                end_review()
                st.rerun()
        else:
            st.subheader(f"Review {len(items)} reference(s) before saving")
            inside = sum(1 for item in items if item.primary is not None and item.primary.in_batch is not None)
            if inside:
                st.warning(f"{inside} of these repeat{'s' if inside == 1 else ''} another entry in what you are "
                           "adding; choose what to do with each, as for references already in the collection.")
            with st.expander("Tag them all at once", expanded=len(items) > 5):
                st.multiselect("Themes for every reference", [t.slug for t, _ in vocabulary.walk()],
                               format_func=vocabulary.label, key="bulk_themes")
                st.selectbox("Evidence type for every reference", ["", *vocabulary.evidence_type_by_slug],
                             format_func=lambda s: vocabulary.label(s) if s else "(leave as is)", key="bulk_type")
                st.checkbox("Skip every reference that is already in the collection", key="bulk_skip")
                if st.button("Apply to all", key="bulk_apply"):
                    apply_to_all(review.id)
                    st.rerun()
            pages = max(1, -(-len(items) // PAGE_SIZE))
            page = min(max(review.page, 1), pages)
            if pages > 1:
                _show("review_page", page)
                page = int(st.number_input("Page", 1, pages, key="review_page", on_change=_store_page))
            for index in range((page - 1) * PAGE_SIZE, min(len(items), page * PAGE_SIZE)):
                review_item(review, index, items[index])
            save_col, cancel_col, _ = st.columns([1, 1, 3])
            if save_col.button("Save", type="primary", key="save-review"):
                save_review(review.id, who)
                st.rerun()
            if cancel_col.button("Cancel", key="cancel-review"):
                end_review()
                st.rerun()

with edit_tab, ui.friendly_errors():
    key = st.text_input("Citation key of the reference to change", key="edit_key",
                        help="Find the key on the reference's details page or in search results.")
    if key:
        try:
            record = lib.get(key.strip())
        except LibraryError as error:
            st.warning(ui.escape_markdown(str(error)))
        else:
            edit_form(record)
            confirm = st.checkbox(f"Yes, move '{record.key}' to the trash", key="confirm-delete")
            if st.button("Delete", disabled=not confirm, key="delete-ref"):
                base = st.session_state.get(EDIT_BASE) or {}
                try:
                    result = lib.delete(record.key, who=who, base_version=base.get("version") or record.version)
                except EditConflict as conflict:
                    st.error(ui.escape_markdown(str(conflict).replace("Your changes were not saved; they are still "
                                                                      "in the form, so you can apply them to the "
                                                                      "new version or leave them.",
                                                                      "It was not deleted; look at the new version "
                                                                      "first.")))
                else:
                    st.session_state.pop(EDIT_BASE, None)
                    st.success(f"Moved {record.key} to the trash. You can restore it below.")
                    for notice in result.notices:
                        st.warning(ui.escape_markdown(notice))
    trashed = lib.collection.trashed()
    if trashed:
        st.subheader("Trash")
        for index, (trashed_key, path) in enumerate(trashed[:50]):
            c1, c2 = st.columns([4, 1])
            c1.markdown(f"`{ui.escape_markdown(trashed_key)}` · deleted {path.name.rsplit('--', 1)[1][:15]}")
            if c2.button("Restore", key=f"restore-{index}"):
                try:
                    lib.restore(trashed_key, who=who)
                    st.rerun()
                except LibraryError as error:
                    st.error(ui.escape_markdown(str(error)))

with themes_tab, ui.friendly_errors():
    st.markdown("The themes are the library's vocabulary. A theme in use is never deleted; rename it, or merge it "
                "into another, and every reference that uses it is updated.")
    with st.form("add-theme"):
        st.markdown("**Add a theme**")
        c1, c2 = st.columns(2)
        slug = c1.text_input("Slug (lower-case-with-hyphens)")
        label = c2.text_input("Label")
        description = st.text_input("One-sentence description")
        parent = st.selectbox("Under", ["", *[t.slug for t, _ in vocabulary.walk()]],
                              format_func=lambda s: vocabulary.label(s) if s else "(top level)")
        if st.form_submit_button("Add theme"):
            lib.add_theme(Theme(slug.strip(), label.strip(), description.strip(), parent or None), who=who)
            st.success(f"Added the theme '{ui.escape_markdown(label)}'.")
    with st.form("rename-theme"):
        st.markdown("**Rename a theme**")
        old = st.selectbox("Theme", [t.slug for t, _ in vocabulary.walk()], format_func=vocabulary.label)
        c1, c2 = st.columns(2)
        new_slug = c1.text_input("New slug (leave empty to keep)")
        new_label = c2.text_input("New label (leave empty to keep)")
        if st.form_submit_button("Rename"):
            result = lib.rename_theme(old, new_slug.strip() or old, label=new_label.strip() or None, who=who)
            st.success(f"Renamed; {len(result.keys)} reference(s) that use it were updated.")
            for notice in result.notices:
                st.warning(ui.escape_markdown(notice))
    with st.form("merge-theme"):
        st.markdown("**Merge a theme into another**")
        c1, c2 = st.columns(2)
        source = c1.selectbox("Merge this theme", [t.slug for t, _ in vocabulary.walk()], format_func=vocabulary.label,
                              key="merge_source")
        into = c2.selectbox("into this one", [t.slug for t, _ in vocabulary.walk()], format_func=vocabulary.label,
                            key="merge_into")
        if st.form_submit_button("Merge"):
            result = lib.merge_theme(source, into, who=who)
            st.success(f"Merged; {len(result.keys)} reference(s) were re-tagged.")
            for notice in result.notices:
                st.warning(ui.escape_markdown(notice))
    with st.form("delete-theme"):
        st.markdown("**Delete an unused theme**")
        doomed = st.selectbox("Theme", [t.slug for t, _ in vocabulary.walk()], format_func=vocabulary.label,
                              key="doomed")
        if st.form_submit_button("Delete theme"):
            lib.delete_theme(doomed, who=who)
            st.success("Deleted.")

with log_tab, ui.friendly_errors():
    for notice in lib.notices:  # what opening the library did, such as finishing an interrupted change
        st.info(ui.escape_markdown(notice))
    # The change log's index in the shared database (library/changelog.py), in step with changes.jsonl.
    everyone = "Everyone"
    c1, c2 = st.columns(2)
    person = c1.selectbox("Changes made by", [everyone, *lib.changes.people()], key="log_who")
    log_key = c2.text_input("Reference key", key="log_key", max_chars=200,
                            placeholder="All references").strip()
    changes = lib.changes.recent(200, who=None if person == everyone else person, key=log_key or None)
    if not changes:
        st.info("No changes match." if person != everyone or log_key else "No changes have been recorded yet.")
    else:
        st.dataframe([{"when": c.when, "who": c.who, "action": c.action, "key": c.key,
                       "what changed": c.describe_changes() or c.detail} for c in changes],
                     width="stretch", hide_index=True)
        st.caption(f"The newest {len(changes)} change{'s' if len(changes) != 1 else ''}, newest first. "
                   "The full record is the file changes.jsonl in the data folder.")

with discover_tab, ui.friendly_errors():
    discover.render(lib, who)
