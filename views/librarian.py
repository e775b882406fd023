"""Librarian: sign in, add references (paste, upload, DOI, form), review and de-duplicate, tag, edit,
delete and restore, look after the vocabulary, and see the change log."""

from __future__ import annotations

import datetime as dt

import streamlit as st

from library.auth import Throttle, is_configured
from library.bibtex import Entry, ParseResult, make_key, parse_bytes, parse_text
from library.duplicates import merge_entries
from library.errors import AccessDenied, EntryProblems, LibraryError, Problem
from library.latex import encode
from library.records import Record
from library.taxonomy import Theme
from library.validation import check_entry
from views import ui

REVIEW = "librarian_review"
PAGE_SIZE = 20
DECISIONS = {"new": "Add it", "skip": "Keep the existing one (don't add)", "replace": "Replace the existing one",
             "both": "Keep both", "merge": "Merge new details into the existing one"}

lib = ui.library()
vocabulary = lib.vocabulary


@st.cache_resource
def _throttle() -> Throttle:
    # One per server process, so that guessing is slowed across every browser session.
    return Throttle()


def _secret(name: str) -> str:
    try:
        return str(st.secrets.get(name, "") or "")
    except Exception:  # no secrets file at all is the normal, unconfigured case
        return ""


def _password_hash() -> str:
    return lib.settings.librarian_password_hash or _secret("librarian_password_hash")


def _oidc_librarians() -> set[str]:
    try:
        emails = st.secrets.get("librarian_emails", [])
        has_auth = "auth" in st.secrets
    except Exception:
        return set()
    return {e.lower() for e in emails} if has_auth else set()


def signed_in_as() -> str | None:
    if st.session_state.get("librarian"):
        return st.session_state["librarian"]
    allowed = _oidc_librarians()
    if allowed and getattr(st.user, "is_logged_in", False):
        email = str(st.user.get("email", "")).lower()
        if email in allowed:
            return email
    return None


st.title("Add and edit references")
who = signed_in_as()

if who is None:
    configured = is_configured(_password_hash())
    if not configured and not _oidc_librarians():
        st.info("Editing is switched off, so the collection can only be searched. To let librarians add and "
                "edit references, whoever runs this app sets a password hash: run "
                "`python -m library hash-password` and put the result in the environment variable "
                "`LIBRARY_LIBRARIAN_PASSWORD_HASH` (or `librarian_password_hash` in "
                "`.streamlit/secrets.toml`), then restart the app.", icon=":material/lock:")
        st.stop()
    st.markdown("Searching and building packs are open to everyone. Changing the collection needs the "
                "librarian password.")
    if configured:
        with st.form("sign-in"):
            password = st.text_input("Librarian password", type="password", key="password")
            if st.form_submit_button("Sign in", type="primary"):
                try:
                    _throttle().sign_in(password, _password_hash())
                except AccessDenied as error:
                    st.error(str(error))
                else:
                    st.session_state["librarian"] = "librarian (app)"
                    st.rerun()
    if _oidc_librarians():
        st.button("Sign in with your organisation's account", on_click=st.login)
    st.stop()

left, right = st.columns([4, 1])
left.caption(f"Signed in as {ui.escape_markdown(who)}.")
if right.button("Sign out", key="sign-out"):
    st.session_state.pop("librarian", None)
    st.rerun()


# ------------------------------------------------------------------ helpers


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
        if upload.name.lower().endswith(".ris"):
            from library.ris import parse_ris

            return parse_ris(data.decode("utf-8-sig", errors="replace"), upload.name)
        return parse_bytes(data, upload.name)
    if method == "doi":
        from library.crossref import CrossrefClient

        with CrossrefClient(lib.settings) as client:
            entry = client.lookup(st.session_state.get("doi_text", ""))
        return ParseResult((entry,), ())
    return None


def entry_from_form() -> ParseResult:
    s = st.session_state
    fields = {"title": encode(s.get("form_title", "").strip()), "year": s.get("form_year", "").strip(),
              s.get("form_container_field", "journal"): encode(s.get("form_container", "").strip()),
              "volume": s.get("form_volume", "").strip(), "number": s.get("form_number", "").strip(),
              "pages": s.get("form_pages", "").strip().replace("-", "--").replace("––", "--"),
              "doi": s.get("form_doi", "").strip(), "url": s.get("form_url", "").strip()}
    fields = {k: v for k, v in fields.items() if v}
    authors = tuple(encode(a.strip()) for a in s.get("form_authors", "").splitlines() if a.strip())
    persons = {"author": authors} if authors else {}
    key = s.get("form_key", "").strip() or make_key(persons, fields)
    return ParseResult((Entry(key, s.get("form_type", "article"), fields, persons, "form", None),), ())


def start_review(result: ParseResult) -> None:
    items = []
    for entry in result.entries:
        items.append({"entry": entry, "decision": "new", "duplicates": lib.duplicates_of(entry)})
        if items[-1]["duplicates"]:
            items[-1]["decision"] = "skip" if items[-1]["duplicates"][0].certainty != "possible" else "new"
    st.session_state[REVIEW] = {"items": items, "problems": list(result.problems), "page": 1}


def tagged(item: dict, index: int) -> Entry:
    entry: Entry = item["entry"]
    s = st.session_state
    updates = {
        "themes": ", ".join(s.get(f"themes-{index}", [])) or None,
        "evidence_type": s.get(f"type-{index}") or None,
        "setting": ", ".join(s.get(f"setting-{index}", [])) or None,
        "key_finding": encode(s.get(f"finding-{index}", "").strip()) or None,
    }
    if updates["key_finding"] and not entry.fields.get("finding-checked"):
        updates["finding_checked"] = "no"
    return entry.with_fields(**updates)


def save_review(review: dict, author: str) -> None:
    items = review["items"]
    bar = st.progress(0.0, text="Saving…")
    added, skipped, failed = 0, 0, []
    for number, item in enumerate(items, 1):
        bar.progress(number / len(items), text=f"Saving {number} of {len(items)}")
        decision = item["decision"]
        if decision == "skip":
            skipped += 1
            continue
        entry = tagged(item, number - 1)
        try:
            if decision == "merge" and item["duplicates"]:
                existing = lib.collection.read(item["duplicates"][0].key)
                lib.update(merge_entries(existing, entry), who=author)
            elif decision == "replace" and item["duplicates"]:
                target = item["duplicates"][0].key
                lib.update(entry.with_key(target), who=author)
            else:
                if decision == "both" and lib.collection.path_for(entry.key).exists():
                    entry = entry.with_key(_free_key(entry.key))
                lib.add_entries([entry], who=author, allow_similar=decision == "both")
            added += 1
        except LibraryError as error:
            failed.append(f"{entry.key}: {error}")
    bar.empty()
    st.session_state.pop(REVIEW, None)
    st.session_state["save_summary"] = (added, skipped, failed)


def _free_key(key: str) -> str:
    for suffix in "bcdefghijklmnopqrstuvwxyz":
        if not lib.collection.path_for(key + suffix).exists():
            return key + suffix
    return key + dt.datetime.now().strftime("%H%M%S")


def problem_list(problems: list[Problem]) -> None:
    errors = [p for p in problems if p.severity == "error"]
    warnings = [p for p in problems if p.severity == "warning"]
    if errors:
        st.error(f"{len(errors)} entr{'y' if len(errors) == 1 else 'ies'} could not be read and will not be saved:\n\n"
                 + "\n".join(f"- {ui.escape_markdown(p.describe())}" for p in errors[:50]))
    if warnings:
        with st.expander(f"{len(warnings)} warning(s)"):
            st.markdown("\n".join(f"- {ui.escape_markdown(p.describe())}" for p in warnings[:200]))


# ------------------------------------------------------------------ the page

add_tab, edit_tab, themes_tab, log_tab = st.tabs(["Add references", "Edit or delete", "Themes", "Change log"])

with add_tab, ui.friendly_errors():
    summary = st.session_state.pop("save_summary", None)
    if summary:
        added, skipped, failed = summary
        saved_text = f"Saved {added} reference{'s' if added != 1 else ''}" if added else "Nothing was saved"
        skipped_text = f"; left out {skipped} already in the collection" if skipped else ""
        st.success(f"{saved_text}{skipped_text}." + (" They can be found in search at once." if added else ""))
        for line in failed:
            st.error(ui.plain(line))
    review = st.session_state.get(REVIEW)
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
            st.text_area("Authors, one per line as 'Family, Given'", key="form_authors", height=90)
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
            elif not result.entries and not result.errors:
                st.warning("No references were found in that input.")
                problem_list(list(result.problems))
            else:
                start_review(result)
                st.rerun()
    else:
        items = review["items"]
        problem_list(review["problems"])
        if not items:
            st.warning("None of the entries could be read, so there is nothing to save.")
        else:
            st.subheader(f"Review {len(items)} reference(s) before saving")
            with st.expander("Tag them all at once", expanded=len(items) > 5):
                bulk_themes = st.multiselect("Themes for every reference", [t.slug for t, _ in vocabulary.walk()],
                                             format_func=vocabulary.label, key="bulk_themes")
                bulk_type = st.selectbox("Evidence type for every reference", ["", *vocabulary.evidence_type_by_slug],
                                         format_func=lambda s: vocabulary.label(s) if s else "(leave as is)",
                                         key="bulk_type")
                bulk_skip = st.checkbox("Skip every reference that is already in the collection", key="bulk_skip")
                if st.button("Apply to all", key="bulk_apply"):
                    for index, item in enumerate(items):
                        if bulk_themes:
                            st.session_state[f"themes-{index}"] = list(bulk_themes)
                        if bulk_type:
                            st.session_state[f"type-{index}"] = bulk_type
                        if bulk_skip and item["duplicates"]:
                            item["decision"] = "skip"
                    st.rerun()
            pages = max(1, -(-len(items) // PAGE_SIZE))
            page = min(review.get("page", 1), pages)
            if pages > 1:
                page = st.number_input("Page", 1, pages, page, key="review_page")
                review["page"] = page
            for index in range((page - 1) * PAGE_SIZE, min(len(items), page * PAGE_SIZE)):
                item = items[index]
                entry: Entry = item["entry"]
                record = Record.from_entry(entry)
                problems = [p for p in check_entry(entry.with_fields(themes=None), vocabulary) if p.severity == "error"]
                label = f"{ui.escape_markdown(record.title or entry.key)} ({record.year or 'n.d.'})"
                if item["duplicates"]:
                    label = "⚠ possible duplicate · " + label
                with st.expander(label, expanded=bool(item["duplicates"]) or len(items) == 1):
                    st.markdown(f"`{entry.key}` · {ui.escape_markdown(record.author_line())} · "
                                f"{ui.escape_markdown(record.venue)}"
                                + (f" · {ui.escape_markdown(record.doi_url)}" if record.doi else ""))
                    for problem in problems:
                        st.error(ui.plain(problem.describe()))
                    options = ["new", "skip"]
                    if item["duplicates"]:
                        # The same DOI is the same work: "keep both" would only be refused.
                        same_doi = item["duplicates"][0].certainty == "same DOI"
                        options = ["skip", "replace", "merge"] if same_doi else ["new", "skip", "replace", "both", "merge"]
                    if item["duplicates"]:
                        match = item["duplicates"][0]
                        existing_col, new_col = st.columns(2)
                        existing_col.markdown(f"**Already in the collection** (`{match.key}`, it {match.reason})\n\n"
                                              f"{ui.escape_markdown(match.title)} ({match.year or 'n.d.'})  \n"
                                              f"{ui.escape_markdown(match.authors)}")
                        new_col.markdown(f"**New**\n\n{ui.escape_markdown(record.title)} ({record.year or 'n.d.'})  \n"
                                         f"{ui.escape_markdown(record.author_line(10))}")
                    item["decision"] = st.radio("What to do", options, index=options.index(item["decision"])
                                                if item["decision"] in options else 0,
                                                format_func=DECISIONS.get, key=f"decision-{index}", horizontal=True)
                    st.session_state.setdefault(f"themes-{index}", [t for t in record.themes
                                                                    if t in vocabulary.theme_by_slug])
                    st.session_state.setdefault(f"type-{index}", record.evidence_type
                                                if record.evidence_type in vocabulary.evidence_type_by_slug else "")
                    st.session_state.setdefault(f"setting-{index}", [s for s in record.settings
                                                                     if s in vocabulary.setting_by_slug])
                    st.session_state.setdefault(f"finding-{index}", record.key_finding)
                    st.multiselect("Themes", [t.slug for t, _ in vocabulary.walk()], format_func=vocabulary.label,
                                   key=f"themes-{index}", max_selections=5)
                    c1, c2 = st.columns(2)
                    c1.selectbox("Evidence type", ["", *vocabulary.evidence_type_by_slug],
                                 format_func=lambda s: vocabulary.label(s) if s else "(not set)", key=f"type-{index}")
                    c2.multiselect("Setting", list(vocabulary.setting_by_slug), format_func=vocabulary.label,
                                   key=f"setting-{index}")
                    st.text_area("Key finding (plain words, your own; what it shows and what it cannot)",
                                 key=f"finding-{index}", height=90)
            save_col, cancel_col, _ = st.columns([1, 1, 3])
            if save_col.button("Save", type="primary", key="save-review"):
                save_review(review, who)
                st.rerun()
            if cancel_col.button("Cancel", key="cancel-review"):
                st.session_state.pop(REVIEW, None)
                st.rerun()

with edit_tab, ui.friendly_errors():
    key = st.text_input("Citation key of the reference to change", key="edit_key",
                        help="Find the key on the reference's details page or in search results.")
    if key:
        try:
            record = lib.get(key.strip())
        except LibraryError as error:
            st.warning(ui.plain(str(error)))  # it quotes the key as typed
        else:
            entry = record.entry
            assert entry is not None
            with st.form(f"edit-{record.key}"):
                title = st.text_input("Title", entry.fields.get("title", ""))
                year = st.text_input("Year", entry.fields.get("year", ""))
                themes = st.multiselect("Themes", [t.slug for t, _ in vocabulary.walk()], format_func=vocabulary.label,
                                        default=[t for t in record.themes if t in vocabulary.theme_by_slug],
                                        max_selections=5)
                evidence = st.selectbox("Evidence type", ["", *vocabulary.evidence_type_by_slug],
                                        index=(["", *vocabulary.evidence_type_by_slug].index(record.evidence_type)
                                               if record.evidence_type in vocabulary.evidence_type_by_slug else 0),
                                        format_func=lambda s: vocabulary.label(s) if s else "(not set)")
                settings = st.multiselect("Setting", list(vocabulary.setting_by_slug), format_func=vocabulary.label,
                                          default=[s for s in record.settings if s in vocabulary.setting_by_slug])
                country = st.text_input("Country", entry.fields.get("country", ""))
                finding = st.text_area("Key finding", entry.fields.get("key-finding", ""), height=110)
                checked = st.checkbox("The key finding has been checked against the full text",
                                      value=record.finding_checked)
                doi = st.text_input("DOI", entry.fields.get("doi", ""))
                if st.form_submit_button("Save changes", type="primary"):
                    changed = entry.with_fields(title=title, year=year, themes=", ".join(themes) or None,
                                                evidence_type=evidence or None, setting=", ".join(settings) or None,
                                                country=country, key_finding=finding,
                                                finding_checked="yes" if checked else "no", doi=doi)
                    try:
                        lib.update(changed, who=who)
                        st.success("Saved. Search shows the change at once.")
                    except EntryProblems as error:
                        st.error(ui.plain(str(error)))
            confirm = st.checkbox(f"Yes, move '{record.key}' to the trash", key="confirm-delete")
            if st.button("Delete", disabled=not confirm, key="delete-ref"):
                lib.delete(record.key, who=who)
                st.success(f"Moved {ui.escape_markdown(record.key)} to the trash. You can restore it below.")
    trashed = lib.collection.trashed()
    if trashed:
        st.subheader("Trash")
        for index, (trashed_key, path) in enumerate(trashed[:50]):
            c1, c2 = st.columns([4, 1])
            c1.markdown(f"`{trashed_key}` · deleted {path.name.rsplit('--', 1)[1][:15]}")
            if c2.button("Restore", key=f"restore-{index}"):
                try:
                    lib.restore(trashed_key, who=who)
                    st.rerun()
                except LibraryError as error:
                    st.error(ui.plain(str(error)))

with themes_tab, ui.friendly_errors():
    st.markdown("The themes are the library's vocabulary. A theme in use is never deleted; rename it instead, "
                "and every reference that uses it is updated.")
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
            lib.rename_theme(old, new_slug.strip() or old, label=new_label.strip() or None, who=who)
            st.success("Renamed; the references that use it were updated.")
    with st.form("delete-theme"):
        st.markdown("**Delete an unused theme**")
        doomed = st.selectbox("Theme", [t.slug for t, _ in vocabulary.walk()], format_func=vocabulary.label,
                              key="doomed")
        if st.form_submit_button("Delete theme"):
            lib.delete_theme(doomed, who=who)
            st.success("Deleted.")

with log_tab, ui.friendly_errors():
    changes = lib.collection.changes()
    if not changes:
        st.info("No changes have been recorded yet.")
    else:
        st.dataframe([c.__dict__ for c in changes], width="stretch", hide_index=True)
