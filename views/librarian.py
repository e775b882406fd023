"""Librarian: sign in, add references (paste, upload, DOI, form), review and de-duplicate, tag, edit
every field of a reference, delete and restore, look after the vocabulary, and see the change log.

A reference is edited at `/librarian?edit=KEY`: the reference page and search results link there
for a signed-in librarian, so nobody types a citation key.
"""

from __future__ import annotations

import math
from typing import Iterable, Mapping
from dataclasses import replace as dc_replace

import streamlit as st

from library import SearchRequest
from library.api import read_references
from library.bibtex import Entry, ParseResult, make_key, parse_text
from library.dates import readable
from library.errors import EditConflict, EntryProblems, InvalidValue, LibraryError, Problem, ReferenceNotFound
from library.forms import (MAX_THEMES, TEXT_FIELDS, AuthorRow, ReferenceForm, entry_types_for, field_label,
                           form_changes, form_from_entry, type_label)
from library.records import Record
from library.review import ReviewBatch, ReviewItem, ReviewNotFound, item_issues
from library.taxonomy import Theme
from library.values import apply_changes, name_from_line
from views import discover, ui

REVIEW = "librarian_review"  # the id of the review batch in progress (also in the address: ?review=ID)
PAGE_SIZE = 20
LOG_PAGE = 50
DECISIONS = {"new": "Add it", "skip": "Don't add it", "replace": "Replace the existing one",
             "both": "Keep both", "merge": "Merge new details into the existing one"}
# A duplicate's own wording for "skip": only a reference that repeats another has an existing one to keep.
SKIP_DUPLICATE = "Keep the existing one (don't add)"
METHODS = {"paste": "Paste BibTeX", "upload": "Upload a .bib or .ris file", "doi": "Look up a DOI",
           "form": "Fill in a form"}
LAST_METHOD = "add_method_last"  # the add method last chosen, kept while the review replaces the picker
EDIT = "edit_state"  # {"key", "version", "base": ReferenceForm, "rows": [row ids], "next": int}: the form shown
# Every reference's edit in progress, by key: opening another reference's form (or going back to
# search and choosing another) keeps what was typed in the first, until it is saved or left.
EDITS = "edit_states"
EDIT_CONFLICT = "edit_conflict"
RESTORE = "restore_pending"  # the trashed key whose restore awaits confirmation
ACTIONS = {"add": "Added", "replace": "Replaced", "merge": "Merged", "edit": "Edited", "delete": "Moved to the trash",
           "restore": "Restored", "vocabulary": "Changed the vocabulary"}

lib = ui.library()
vocabulary = lib.vocabulary

st.title("Add and edit references")
who = ui.librarian_sign_in()  # the sign-in choices, and the page stopped, for anyone not a librarian

left, right = st.columns([4, 1], vertical_alignment="center")
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
    """The add form's plain text as an entry: every value encoded so that it reads back as typed."""
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


def remember_method() -> None:
    st.session_state[LAST_METHOD] = st.session_state.get("add_method", "paste")


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


def saved_message(added: int, skipped: int) -> str:
    """'Saved 1 reference. It can be found in search now.' and the like."""
    if added:
        text = f"Saved {added} reference{'s' if added != 1 else ''}"
    else:
        text = "Nothing was saved"
    if skipped:
        text += f"; left out {skipped} already in the collection"
    text += "."
    if added:
        text += " It can be found in search now." if added == 1 else " They can be found in search now."
    return text


def problem_list(problems: list[Problem]) -> None:
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    if errors:
        st.error(f"{len(errors)} entr{'y' if len(errors) == 1 else 'ies'} could not be read and will not be saved:\n\n"
                 + "\n".join(f"- {ui.escape_markdown(p.describe())}" for p in errors[:50]))
    if warnings:
        with st.expander(f"{len(warnings)} warning{'s' if len(warnings) != 1 else ''}"):
            st.markdown("\n".join(f"- {ui.escape_markdown(p.describe())}" for p in warnings[:200]))


def review_item(batch: ReviewBatch, index: int, item: ReviewItem) -> None:
    entry = item.entry
    record = Record.from_entry(entry)
    issues = item_issues(item, vocabulary)
    label = f"{ui.escape_markdown(record.title or entry.key)} ({record.year or 'n.d.'})"
    if any(issue.blocking for issue in issues):
        label = "⛔ cannot be saved as it is · " + label
    elif issues:
        label = "⚠ needs attention · " + label
    if item.duplicates:
        label = "⚠ possible duplicate · " + label
    with st.expander(label, expanded=bool(item.duplicates) or bool(issues) or len(batch.items) == 1):
        st.markdown(f"{ui.code(entry.key)} · {ui.escape_markdown(record.author_line())} · "
                    f"{ui.escape_markdown(record.venue)}"
                    + (f" · {ui.escape_markdown(record.doi_url)}" if record.doi else ""))
        for issue in issues:
            (st.error if issue.blocking else st.warning)(ui.escape_markdown(issue.message))
        match = item.primary
        if match is not None:
            existing_col, new_col = st.columns(2)
            where = "Already in the collection" if match.in_batch is None else "Earlier in what you are adding"
            existing_col.markdown(f"**{where}** ({ui.code(match.key)}, it "
                                  f"{ui.escape_markdown(match.reason)})\n\n"
                                  f"{ui.escape_markdown(match.title)} ({match.year or 'n.d.'})  \n"
                                  f"{ui.escape_markdown(match.authors)}")
            new_col.markdown(f"**New**\n\n{ui.escape_markdown(record.title)} ({record.year or 'n.d.'})  \n"
                             f"{ui.escape_markdown(record.author_line(10))}")
        options = list(item.options())
        _show(f"decision-{index}", item.decision if item.decision in options else options[0])
        labels = {**DECISIONS, "skip": SKIP_DUPLICATE if match is not None else DECISIONS["skip"]}
        st.radio("What to do", options, format_func=labels.get, key=f"decision-{index}", horizontal=True,
                 on_change=_store, args=(index, f"decision-{index}", "decision"))
        _show(f"themes-{index}", [t for t in (item.themes or ()) if t in vocabulary.theme_by_slug])
        _show(f"type-{index}", item.evidence_type if item.evidence_type in vocabulary.evidence_type_by_slug else "")
        _show(f"setting-{index}", [s for s in (item.settings or ()) if s in vocabulary.setting_by_slug])
        _show(f"finding-{index}", item.key_finding or "")
        st.multiselect("Themes", [t.slug for t, _ in vocabulary.walk()], format_func=vocabulary.label,
                       key=f"themes-{index}", max_selections=MAX_THEMES, on_change=_store,
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
# The form starts from one version of the reference (`library.forms.ReferenceForm`); only the
# fields the librarian changed are sent, with that version, so a change someone else made
# meanwhile is never overwritten unseen.  The authors are rows with their own ids, so that moving
# or removing one keeps each row's text with it.


def _widget(key: str, name: str) -> str:
    return f"edit-{key}-{name}"


def start_editing(record: Record) -> dict:
    assert record.entry is not None
    base = form_from_entry(record.entry, vocabulary)
    state = {"key": record.key, "version": record.version, "base": base,
             "rows": list(range(len(base.authors))), "next": len(base.authors)}
    st.session_state[EDIT] = state
    st.session_state.setdefault(EDITS, {})[record.key] = state
    st.session_state.pop(EDIT_CONFLICT, None)
    for name in [n for n in st.session_state if isinstance(n, str) and n.startswith(f"edit-{record.key}-")]:
        del st.session_state[name]
    values = {"key": base.key, "entry_type": base.entry_type, "themes": list(base.themes),
              "evidence_type": base.evidence_type, "settings": list(base.settings),
              "finding_checked": base.finding_checked}
    values.update({attribute: getattr(base, attribute) for attribute in TEXT_FIELDS})
    for name, value in values.items():
        st.session_state[_widget(record.key, name)] = value
    for row, author in enumerate(base.authors):
        st.session_state[_widget(record.key, f"author-{row}-family")] = author.family
        st.session_state[_widget(record.key, f"author-{row}-given")] = author.given
    return state


def _form_values(state: dict) -> dict[str, object]:
    """Each of the form's widget names (without the prefix), with the saved version's value."""
    base: ReferenceForm = state["base"]
    values: dict[str, object] = {"key": base.key, "entry_type": base.entry_type, "themes": list(base.themes),
                                 "evidence_type": base.evidence_type, "settings": list(base.settings),
                                 "finding_checked": base.finding_checked}
    values.update({attribute: getattr(base, attribute) for attribute in TEXT_FIELDS})
    originals = dict(zip(range(len(base.authors)), base.authors))
    for row in state["rows"]:
        original = originals.get(row)
        values[f"author-{row}-family"] = original.family if original else ""
        values[f"author-{row}-given"] = original.given if original else ""
    return values


def keep_typed(state: dict) -> None:
    """Streamlit forgets a widget's value while another page is open; the form would come back
    empty and saving it would remove every field.  So what the librarian has typed is kept in
    the edit's own state at every run, and any widget Streamlit forgot is filled from it (or
    from the saved version for a field not yet touched)."""
    typed = state.setdefault("typed", {})
    key = state["key"]
    for name, saved in _form_values(state).items():
        widget = _widget(key, name)
        if widget in st.session_state:
            typed[name] = st.session_state[widget]
        else:
            st.session_state[widget] = typed.get(name, saved)


def edited_form(state: dict) -> ReferenceForm:
    """The form as the librarian has left it, read from its widgets."""
    base: ReferenceForm = state["base"]
    key = state["key"]
    s = st.session_state
    originals = dict(zip(range(len(base.authors)), base.authors))
    authors = []
    for row in state["rows"]:
        family = s.get(_widget(key, f"author-{row}-family"), "")
        given = s.get(_widget(key, f"author-{row}-given"), "")
        original = originals.get(row)
        if original is not None and (family, given) == (original.family, original.given):
            authors.append(original)  # untouched: an organisation stays one, a suffix stays
        else:
            authors.append(AuthorRow(family, given, suffix=original.suffix if original else ""))
    values = {attribute: s.get(_widget(key, attribute), getattr(base, attribute)) for attribute in TEXT_FIELDS}
    return dc_replace(base, key=s.get(_widget(key, "key"), base.key),
                      entry_type=s.get(_widget(key, "entry_type"), base.entry_type), authors=tuple(authors),
                      themes=tuple(s.get(_widget(key, "themes"), base.themes)),
                      evidence_type=s.get(_widget(key, "evidence_type"), base.evidence_type),
                      settings=tuple(s.get(_widget(key, "settings"), base.settings)),
                      finding_checked=bool(s.get(_widget(key, "finding_checked"), base.finding_checked)), **values)


def forget_edit(key: str) -> None:
    """The edit of `key` is over (saved, deleted, or left for the new version)."""
    st.session_state.pop(EDIT, None)
    st.session_state.get(EDITS, {}).pop(key, None)


def move_author(position: int, step: int) -> None:
    rows = st.session_state[EDIT]["rows"]
    target = position + step
    if 0 <= target < len(rows):
        rows[position], rows[target] = rows[target], rows[position]


def remove_author(position: int) -> None:
    st.session_state[EDIT]["rows"].pop(position)


def add_author() -> None:
    state = st.session_state[EDIT]
    state["rows"].append(state["next"])
    state["next"] += 1


def save_edit(state: dict, author: str, *, version: str) -> None:
    try:
        changes = form_changes(state["base"], edited_form(state))
    except InvalidValue as error:
        st.session_state["edit_error"] = str(error)
        return
    if not changes:
        st.session_state["edit_saved"] = ("You have not changed anything, so nothing was saved.", [], state["key"])
        return
    try:
        result = lib.edit(state["key"], changes.changes, base_version=version, who=author,
                          new_key=changes.new_key, entry_type=changes.entry_type)
    except EditConflict as conflict:
        st.session_state[EDIT_CONFLICT] = {
            "key": state["key"], "version": conflict.current_version, "message": str(conflict),
            "changes": [{"who": c.who, "when": readable(c.when, st.context.timezone), "field": field_label(name),
                         "before": old, "after": new}
                        for c in conflict.changes for name, (old, new) in c.changes.items()]}
        return
    except (EntryProblems, InvalidValue) as error:
        st.session_state["edit_error"] = str(error)
        return
    message = (f"Saved. {saved_fields(result.changes, result.kinds)}. Search shows the change now." if result.changed
               else "Nothing had changed, so nothing was saved.")
    st.session_state["edit_saved"] = (message, list(result.notices), result.key)
    forget_edit(state["key"])
    st.session_state.pop(EDIT_CONFLICT, None)
    if result.key != state["key"]:
        st.query_params["edit"] = result.key


def saved_fields(changes: Iterable[str], kinds: Mapping[str, str]) -> str:
    """'Changed: Title, Pages; Added: DOI; Removed: Volume': what a save did to each field, so
    that a removal is never hidden behind "Saved"."""
    groups: dict[str, list[str]] = {"changed": [], "added": [], "removed": []}
    for name in changes:
        groups[kinds.get(name, "changed")].append(field_label(name))
    return "; ".join(f"{kind.capitalize()}: {', '.join(labels)}" for kind, labels in groups.items() if labels)


def authors_editor(state: dict) -> None:
    key = state["key"]
    st.markdown("**Authors**, in the order the work gives them")
    rows = state["rows"]
    if not rows:
        st.caption("No authors yet.")
    for position, row in enumerate(rows):
        with st.container(border=True):
            family_col, given_col = st.columns(2)
            family_col.text_input(f"Family name, or organisation (author {position + 1})",
                                  key=_widget(key, f"author-{row}-family"),
                                  help="With particles, such as van der Berg. Type others (with no given names) "
                                       "where the work lists more authors than are given: it is cited as et al.")
            given_col.text_input(f"Given names (author {position + 1})", key=_widget(key, f"author-{row}-given"),
                                 help="Leave empty for an organisation, such as World Health Organization.")
            up, down, remove = st.columns(3)
            up.button("Move up", key=_widget(key, f"author-{row}-up"), disabled=position == 0,
                      on_click=move_author, args=(position, -1), icon=":material/arrow_upward:", width="stretch")
            down.button("Move down", key=_widget(key, f"author-{row}-down"), disabled=position == len(rows) - 1,
                        on_click=move_author, args=(position, 1), icon=":material/arrow_downward:", width="stretch")
            remove.button("Remove", key=_widget(key, f"author-{row}-remove"), on_click=remove_author,
                          args=(position,), icon=":material/close:", width="stretch")
    st.button("Add an author", key=_widget(key, "author-add"), on_click=add_author, icon=":material/person_add:")


def edit_form(record: Record) -> None:
    state = st.session_state.get(EDITS, {}).get(record.key)
    if state is None:
        state = start_editing(record)
    st.session_state[EDIT] = state
    keep_typed(state)
    base: ReferenceForm = state["base"]
    key = record.key
    error = st.session_state.pop("edit_error", None)
    if error:
        st.error(ui.escape_markdown(error), icon=":material/error:")
    conflict = st.session_state.get(EDIT_CONFLICT)
    if conflict and conflict["key"] == key:
        st.error(ui.escape_markdown(conflict["message"]), icon=":material/sync_problem:")
        if conflict["changes"]:
            st.dataframe(conflict["changes"], hide_index=True, width="stretch")
        c1, c2 = st.columns(2)
        if c1.button("Apply my changes to the new version", key="edit-reapply", type="primary"):
            save_edit(state, who, version=conflict["version"])
            st.rerun()
        if c2.button("Leave my changes and load the new version", key="edit-discard"):
            forget_edit(key)
            st.session_state.pop(EDIT_CONFLICT, None)
            st.rerun()
    if base.unknown_tags:
        st.warning("This reference has tags the vocabulary does not know: "
                   + ui.escape_markdown(", ".join(base.unknown_tags))
                   + ". They stay in the file until you change that field here; choose from the lists below.")

    st.subheader("Bibliographic details")
    c1, c2 = st.columns(2)
    c1.selectbox("Type", entry_types_for(base.entry_type), key=_widget(key, "entry_type"), format_func=type_label)
    c2.text_input("Citation key", key=_widget(key, "key"),
                  help="Changing it renames the file; the old file goes to the trash.")
    st.text_area("Title", key=_widget(key, "title"), height=80)
    authors_editor(state)
    c1, c2 = st.columns([1, 3])
    c1.text_input("Year", key=_widget(key, "year"), max_chars=4)
    c2.text_input(f"Published in ({field_label(base.venue_field).lower()})", key=_widget(key, "venue"))
    c1, c2, c3 = st.columns(3)
    c1.text_input("Volume", key=_widget(key, "volume"))
    c2.text_input("Issue", key=_widget(key, "number"))
    c3.text_input("Pages", key=_widget(key, "pages"), help="For example 245–258, or e1234.")
    c1, c2 = st.columns(2)
    c1.text_input("DOI", key=_widget(key, "doi"), help="For example 10.1016/S0749-3797(98)00017-8.")
    c2.text_input("Web address", key=_widget(key, "url"), help="Starting with https:// or http://.")
    st.text_area("Publisher's abstract", key=_widget(key, "abstract"), height=120,
                 help="As published with the work; the key finding below is the library's own summary.")

    st.subheader("The library's own fields")
    st.multiselect("Themes", [t.slug for t, _ in vocabulary.walk()], format_func=vocabulary.label,
                   key=_widget(key, "themes"), max_selections=MAX_THEMES,
                   help=f"One to {MAX_THEMES}, the most specific that apply.")
    c1, c2 = st.columns(2)
    c1.selectbox("Evidence type", ["", *vocabulary.evidence_type_by_slug],
                 format_func=lambda s: vocabulary.label(s) if s else "(not set)", key=_widget(key, "evidence_type"))
    c2.multiselect("Setting", list(vocabulary.setting_by_slug), format_func=vocabulary.label,
                   key=_widget(key, "settings"))
    st.text_input("Country or region", key=_widget(key, "country"), help="Where the work was done, such as England.")
    st.text_area("Key finding", key=_widget(key, "key_finding"), height=110,
                 help="One to three plain sentences in your own words: what the work reports, and what it can "
                      "and cannot support.")
    st.checkbox("The key finding has been checked against the full text", key=_widget(key, "finding_checked"))
    if st.button("Save changes", type="primary", key="edit-save", icon=":material/save:"):
        save_edit(state, who, version=state["version"])
        st.rerun()


def edit_view(edit_key: str) -> None:
    """`/librarian?edit=KEY`: the whole reference in one form, then deleting it."""
    st.button("Back to the librarian page", key="edit-close", icon=":material/arrow_back:",
              on_click=lambda: st.query_params.pop("edit", None))
    saved = st.session_state.pop("edit_saved", None)
    if saved:
        st.success(saved[0], icon=":material/check_circle:")  # our words and field labels only
        for notice in saved[1]:
            st.warning(ui.escape_markdown(notice))
    try:
        record = lib.get(edit_key)
    except (ReferenceNotFound, LibraryError) as error:
        st.warning(ui.escape_markdown(str(error)))
        return
    st.header(f"Edit: {ui.escape_markdown(record.title or record.key)}")
    st.page_link("views/reference.py", label="See how the reference page shows it", icon=":material/article:",
                 query_params={"key": record.key})
    edit_form(record)
    st.divider()
    st.subheader("Delete")
    confirm = st.checkbox(f"Yes, move {ui.code(record.key)} to the trash (it can be restored)", key="confirm-delete")
    if st.button("Delete", disabled=not confirm, key="delete-ref", icon=":material/delete:"):
        state = st.session_state.get(EDIT) or {}
        try:
            result = lib.delete(record.key, who=who, base_version=state.get("version") or record.version)
        except EditConflict as conflict:
            st.error(ui.escape_markdown(str(conflict).replace(
                "Your changes were not saved; they are still in the form, so you can apply them to the new "
                "version or leave them.", "It was not deleted; look at the new version first.")))
        else:
            forget_edit(record.key)
            st.session_state["deleted_message"] = (f"Moved '{record.key}' to the trash. You can restore it below.",
                                                   list(result.notices))
            st.query_params.pop("edit", None)
            st.rerun()


# ------------------------------------------------------------------ the trash and the change log


def ask_restore(key: str) -> None:
    st.session_state[RESTORE] = key


def trash_list() -> None:
    trashed = lib.collection.trashed()
    st.subheader("Trash")
    if not trashed:
        st.caption("The trash is empty.")
        return
    pending = st.session_state.get(RESTORE)
    zone = st.context.timezone
    for index, (trashed_key, path) in enumerate(trashed[:50]):
        with st.container(border=True):
            text_col, button_col = st.columns([3, 1], vertical_alignment="center")
            deleted = readable(path.name.rsplit("--", 1)[1].removesuffix(".bib"), zone)
            text_col.markdown(f"{ui.code(trashed_key)} · deleted {deleted}")
            if pending == trashed_key:
                st.markdown(f"Bring '{ui.escape_markdown(trashed_key)}' back into the collection?")
                yes, no = st.columns(2)
                if yes.button("Yes, restore it", key=f"restore-yes-{index}", type="primary", width="stretch"):
                    st.session_state.pop(RESTORE, None)
                    try:
                        result = lib.restore(trashed_key, who=who)
                    except LibraryError as error:
                        st.session_state["restore_message"] = ("error", str(error), [])
                    else:
                        st.session_state["restore_message"] = (
                            "success", f"Restored '{trashed_key}'. It is back in search now.", list(result.notices))
                    st.rerun()
                if no.button("Cancel", key=f"restore-no-{index}", width="stretch"):
                    st.session_state.pop(RESTORE, None)
                    st.rerun()
            else:
                button_col.button("Restore", key=f"restore-{index}", on_click=ask_restore, args=(trashed_key,),
                                  width="stretch")


def change_log() -> None:
    for notice in lib.notices:  # what opening the library did, such as finishing an interrupted change
        st.info(ui.escape_markdown(notice))
    # The change log's index in the shared database (library/changelog.py), in step with changes.jsonl.
    c1, c2 = st.columns(2)
    # None stands for everyone, so that a librarian who signed in as "Everyone" can still be chosen.
    lib.changes.sync()  # once for the whole view: the people and the changes below read the same index
    person = c1.selectbox("Changes made by", [None, *lib.changes.people(catch_up=False)], key="log_who",
                          format_func=lambda who: "Everyone" if who is None else who)
    log_key = c2.text_input("Reference key", key="log_key", max_chars=200, placeholder="All references").strip()
    shown = int(st.session_state.get("log_shown", LOG_PAGE))
    changes = lib.changes.recent(shown + 1, who=person, key=log_key or None, catch_up=False)
    if not changes:
        st.info("No changes match." if person is not None or log_key else "No changes have been recorded yet.")
        return
    zone = st.context.timezone
    for change in changes[:shown]:
        with st.container(border=True):
            action = ACTIONS.get(change.action, change.action)
            st.markdown(f"**{readable(change.when, zone)}** · {ui.escape_markdown(action)} "
                        f"{ui.code(change.key)} · by {ui.escape_markdown(change.who)}")
            lines = [f"{field_label(name)}: “{old}” → “{new}”" for name, (old, new) in change.changes.items()]
            if lines:
                st.markdown("\n".join(f"- {ui.escape_markdown(line)}" for line in lines))
            elif change.detail:
                st.caption(ui.escape_markdown(change.detail))
    if len(changes) > shown:
        st.button("Show older changes", key="log-more",
                  on_click=lambda: st.session_state.update(log_shown=shown + LOG_PAGE))


def open_editor(key: str) -> None:
    st.query_params["edit"] = key


def find_to_edit() -> None:
    st.text_input("Find the reference to change", key="edit_find",
                  placeholder="Words from its title or authors",
                  help="Or use the Edit link on a reference's page or in search results.")
    words = st.session_state.get("edit_find", "").strip()
    if not words:
        return
    result = lib.search(SearchRequest(text=words, per_page=10))
    if not result.hits:
        st.info("Nothing matches those words.")
    for hit in result.hits:
        text_col, link_col = st.columns([4, 1], vertical_alignment="center")
        text_col.markdown(f"{ui.escape_markdown(hit.title)} ({hit.year or 'n.d.'}) · "
                          f"{ui.escape_markdown(hit.authors)}")
        # A button, not a link: Streamlit's link to the page already open drops its ?edit= from the
        # address, so the form vanished at the first keystroke.
        link_col.button("Edit", key=f"find-edit-{hit.key}", icon=":material/edit:", on_click=open_editor,
                        args=(hit.key,))


# ------------------------------------------------------------------ the page

edit_key = st.query_params.get("edit", "")
if edit_key:
    with ui.friendly_errors():
        edit_view(edit_key)
    st.stop()

add_tab, edit_tab, themes_tab, log_tab, discover_tab = st.tabs(
    ["Add references", "Edit, delete or restore", "Themes", "Change log", discover.tab_label(lib)])

with add_tab, ui.friendly_errors():
    summary = st.session_state.pop("save_summary", None)
    if summary:
        added, skipped, notices = summary
        st.success(saved_message(added, skipped))
        for notice in notices:
            st.warning(ui.escape_markdown(notice))
    save_error = st.session_state.pop("save_error", None)
    if save_error:
        st.error(ui.escape_markdown(save_error))
    review = current_review()
    if review is None:
        if "add_method" not in st.session_state:
            st.session_state["add_method"] = st.session_state.get(LAST_METHOD, "paste")
        method = st.radio("How would you like to add references?", list(METHODS), horizontal=True,
                          key="add_method", format_func=METHODS.get, on_change=remember_method)
        if method == "paste":
            st.text_area("BibTeX", key="paste_text", height=220,
                         placeholder="@article{smith2020, author = {Smith, Jane}, title = {...}, ...}")
        elif method == "upload":
            st.file_uploader("BibTeX or RIS file", type=["bib", "ris", "bibtex", "txt"], key="upload_file",
                             max_upload_size=max(1, math.ceil(lib.settings.max_upload_mb)),
                             help=f"Up to {lib.settings.max_upload_mb:g} MB, exported from Zotero, JabRef, "
                                  "Mendeley, EndNote…")
        elif method == "doi":
            st.text_input("DOI", key="doi_text", placeholder="10.1016/S0749-3797(98)00017-8",
                          help="We look the DOI up with Crossref. We never guess a DOI from a title.")
        else:
            c1, c2 = st.columns(2)
            c1.selectbox("Type", ["article", "book", "incollection", "techreport", "phdthesis", "misc"],
                         key="form_type", format_func=type_label)
            c2.text_input("Citation key (leave empty to make one)", key="form_key")
            st.text_input("Title", key="form_title")
            st.text_area("Authors, one per line: 'Family, Given' for a person, or an organisation's full name",
                         key="form_authors", height=90)
            c1, c2, c3 = st.columns(3)
            c1.text_input("Year", key="form_year")
            c2.selectbox("Published in (field)", ["journal", "booktitle", "publisher", "school", "institution"],
                         key="form_container_field", format_func=field_label)
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
            count = len(items)
            st.subheader(f"Review {count} reference{'s' if count != 1 else ''} before saving")
            inside = sum(1 for item in items if item.primary is not None and item.primary.in_batch is not None)
            if inside:
                st.warning(f"{inside} of these repeat{'s' if inside == 1 else ''} another entry in what you are "
                           "adding; choose what to do with each, as for references already in the collection.")
            flagged = [(item, item_issues(item, vocabulary)) for item in items]
            blocked = sum(1 for _, issues in flagged if any(i.blocking for i in issues))
            attention = sum(1 for _, issues in flagged if issues)
            if blocked:
                st.error(f"{blocked} of these cannot be saved as {'it is' if blocked == 1 else 'they are'} (marked ⛔ "
                         "below, with what to fix). Fix them and read the input again, or choose “Don't add it”.")
            elif attention:
                st.warning(f"{attention} of these need{'s' if attention == 1 else ''} attention (marked ⚠ below, "
                           "with what to fix). You can still save them as they are.")
            with st.expander("Tag them all at once", expanded=len(items) > 5):
                st.multiselect("Themes for every reference", [t.slug for t, _ in vocabulary.walk()],
                               format_func=vocabulary.label, key="bulk_themes", max_selections=MAX_THEMES)
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
            save_col, cancel_col = st.columns(2)
            if save_col.button("Save", type="primary", key="save-review", width="stretch"):
                save_review(review.id, who)
                st.rerun()
            if cancel_col.button("Cancel", key="cancel-review", width="stretch"):
                end_review()
                st.rerun()

with edit_tab, ui.friendly_errors():
    deleted = st.session_state.pop("deleted_message", None)
    if deleted:
        st.success(ui.escape_markdown(deleted[0]))
        for notice in deleted[1]:
            st.warning(ui.escape_markdown(notice))
    restored = st.session_state.pop("restore_message", None)
    if restored:
        (st.success if restored[0] == "success" else st.error)(ui.escape_markdown(restored[1]))
        for notice in restored[2]:
            st.warning(ui.escape_markdown(notice))
    find_to_edit()
    trash_list()

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
    change_log()

with discover_tab, ui.friendly_errors():
    discover.render(lib, who)
