"""The librarian page's Discover tab: search public services for new research, screen what they find
(include, exclude with a reason, maybe), follow saved searches, and download the screening record.

Thin: every verb is `library.discovery.Discovery`'s.  Decisions are saved at once in the shared
database, and so is the list a search found with the work on screen (`library.screening_session`),
under an id kept in the address (`?discover=ID`): a reload, a new tab or a restarted server reopens
the same list at the same place.  Session state holds only which list this browser shows.
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Callable

import streamlit as st

from library import Library
from library.discovery import WATCH_MAX_AGE, Discovery, DiscoveryResult, Found
from library.errors import LibraryError
from library.screening_session import MAX_WORKS, ScreeningSession, ScreeningSessionNotFound
from library.sources.model import (DEFAULT_LIMIT, FIRST_YEAR, SORTS, SOURCE_LABELS, TYPE_LABELS, TYPES, Candidate,
                                   Query)
from views import ui

PARAM = "discover"  # the address's ?discover=ID: the screening list on screen
SESSION = "discover_session"  # the id of the list this browser session shows, its form and widgets set from it
OPEN = "discover_open"  # a list to open on the next run (set by buttons' callbacks)
CLOSE = "discover_close"  # "New search" was pressed: show no list on the next run
MESSAGE = "discover_message"
STATUS_LABELS = {"new": "New", "in collection": "Already in the collection", "included": "Included",
                 "excluded": "Excluded", "maybe": "Maybe"}
SHORTCUTS = {"include": "I", "exclude": "E", "maybe": "M", "next": "N", "previous": "P"}
TAG_KEYS = ("discover_themes", "discover_type", "discover_setting")
FORM_KEYS = ("discover_query", "discover_source", "discover_since", "discover_type_filter", "discover_limit",
             "discover_sort", "discover_save_name")
LIMITS = [25, 50, 100, 200]


def tab_label(lib: Library) -> str:
    """'Discover', or 'Discover (5 new)' when the saved searches' last checks found new works."""
    try:
        searches = Discovery(lib).store.saved_searches()
    except LibraryError:
        return "Discover"
    new = sum(s.new_count or 0 for s in searches)
    return f"Discover ({new} new)" if new else "Discover"


def render(lib: Library, who: str) -> None:
    discovery = Discovery(lib)
    message = st.session_state.pop(MESSAGE, None)
    if message:
        kind, text = message
        (st.success if kind == "success" else st.error)(ui.escape_markdown(text))
    st.markdown("Search OpenAlex, Europe PMC, PubMed or Crossref for new research, screen what they find, "
                "and follow searches to hear when something new is published. Works already in the collection "
                "are marked; works you exclude do not come back.")
    _saved_searches(discovery, who)
    session = _open_session(discovery, who)
    session = _search_form(discovery, who) or session
    if session is not None:
        _results(discovery, session, who)
    _recent_lists(discovery, session, who)
    _record(discovery)


# ------------------------------------------------------------------ which screening list is on screen


def _open_session(discovery: Discovery, who: str) -> ScreeningSession | None:
    """The list to show: one a button asked for, else the address's, else this browser session's."""
    s = st.session_state
    if s.pop(CLOSE, False):
        s.pop(SESSION, None)
        st.query_params.pop(PARAM, None)
        return None
    wanted = s.pop(OPEN, None) or st.query_params.get(PARAM) or s.get(SESSION)
    if not wanted:
        return None
    try:
        session = discovery.sessions.load(str(wanted), owner=who)
    except ScreeningSessionNotFound as error:
        s.pop(SESSION, None)
        st.query_params.pop(PARAM, None)
        st.info(ui.escape_markdown(str(error)))
        return None
    if s.get(SESSION) != session.id:  # newly on screen here (a reload, a link, another list)
        _fill_form(session)
        _clear_tags()
    _keep(session)
    return session


def _keep(session: ScreeningSession) -> None:
    st.session_state[SESSION] = session.id
    if st.query_params.get(PARAM) != session.id:
        st.query_params[PARAM] = session.id


def _fill_form(session: ScreeningSession) -> None:
    """The search form as the list's search was made (widgets not yet drawn on this run)."""
    q, s = session.query, st.session_state
    s["discover_query"] = q.text
    s["discover_source"] = q.source
    s["discover_since"] = q.since
    s["discover_type_filter"] = q.type
    if q.limit in LIMITS:
        s["discover_limit"] = q.limit
    s["discover_sort"] = q.sort
    s.pop("discover_save_name", None)


def _new_search() -> None:
    st.session_state[CLOSE] = True
    for key in FORM_KEYS:
        st.session_state.pop(key, None)
    _clear_tags()


def _open_list(session_id: str) -> None:
    st.session_state[OPEN] = session_id


def _recent_lists(discovery: Discovery, session: ScreeningSession | None, who: str) -> None:
    """This librarian's other screening lists, to go back to (as Rayyan lists a reviewer's reviews)."""
    others = [r for r in discovery.sessions.recent(owner=who) if session is None or r.id != session.id]
    if not others:
        return
    with st.expander(f"Your other screening lists ({len(others)})"):
        st.caption("Each search you run keeps its list and your place in it, so you can come back to it "
                   "(here, or by reloading its address). Lists unused for 30 days are removed.")
        for index, summary in enumerate(others):
            left, right = st.columns([5, 1])
            what = (f"Saved search “{summary.saved_search}”" if summary.saved_search
                    else summary.query.describe())
            where = (f"{summary.work_count} work{'s' if summary.work_count != 1 else ''}, "
                     f"at work {summary.position + 1}" if summary.work_count else "nothing found")
            left.markdown(ui.escape_markdown(f"{what} · {where} · used {_ago(summary.updated)}"))
            right.button("Open", key=f"discover-open-{index}", on_click=_open_list, args=(summary.id,))


# ------------------------------------------------------------------ saved searches


def _saved_searches(discovery: Discovery, who: str) -> None:
    stale = discovery.stale_searches(WATCH_MAX_AGE)
    if stale:
        # At most once a day per saved search, so page loads do not keep asking the services.
        with st.spinner(f"Checking {len(stale)} saved search(es) for new research…"):
            discovery.check_saved(max_age=WATCH_MAX_AGE)
    searches = discovery.store.saved_searches()
    new = sum(s.new_count or 0 for s in searches)
    title = f"Saved searches ({new} new work{'s' if new != 1 else ''})" if searches else "Saved searches"
    with st.expander(title, expanded=bool(new)):
        if not searches:
            st.caption("Run a search below and save it with a name to follow it.")
            return
        st.caption("Each saved search is checked for new works once a day when this page is opened, "
                   "or now with “Check now”.")
        for index, saved in enumerate(searches):
            left, middle, right = st.columns([4, 1.3, 1])
            if saved.checked_at is None:
                count = "not checked yet"
            else:
                count = f"{saved.new_count if saved.new_count is not None else '?'} new, checked {_ago(saved.checked_at)}"
            left.markdown(f"**{ui.escape_markdown(saved.name)}** · {ui.escape_markdown(count)}  \n"
                          f"{ui.escape_markdown(saved.query.describe())}")
            if saved.check_message:
                left.caption(ui.escape_markdown(f"The last check failed: {saved.check_message}"))
            if middle.button("Show what is new", key=f"discover-run-{index}"):
                result = discovery.run_saved(saved.name)
                if result.items:
                    st.session_state[OPEN] = discovery.sessions.start(result, owner=who).id
                else:  # the list on screen, if any, stays
                    st.session_state[MESSAGE] = ("success", f"Nothing new for “{saved.name}” since it last ran.")
                st.rerun()
            if right.button("Delete", key=f"discover-delete-{index}"):
                discovery.store.delete_search(saved.name)
                st.session_state[MESSAGE] = ("success", f"Deleted the saved search “{saved.name}”.")
                st.rerun()
        if st.button("Check now", key="discover-check", icon=":material/refresh:"):
            with st.spinner("Asking the services for new research…"):
                discovery.check_saved()
            st.rerun()


def _ago(when: dt.datetime) -> str:
    minutes = int((dt.datetime.now(dt.timezone.utc) - when).total_seconds() // 60)
    if minutes < 1:
        return "just now"
    if minutes < 60:
        return f"{minutes} min ago"
    if minutes < 48 * 60:
        return f"{minutes // 60} h ago"
    return when.strftime("%d %b %Y")


# ------------------------------------------------------------------ searching


def _search_form(discovery: Discovery, who: str) -> ScreeningSession | None:
    """The search form; a search run now starts a new screening list, returned."""
    with st.form("discover-form"):
        st.text_input("Search for", key="discover_query", max_chars=500,
                      placeholder="trauma-informed care staff burnout",
                      help="Each service reads its own search syntax: quotes for phrases, AND, OR, NOT.")
        c1, c2, c3, c4 = st.columns(4)
        c1.selectbox("Where", list(SOURCE_LABELS), format_func=SOURCE_LABELS.get, key="discover_source")
        c2.number_input("Published from (year)", min_value=FIRST_YEAR, max_value=dt.date.today().year + 1,
                        value=None, step=1, key="discover_since", placeholder="any year")
        c3.selectbox("Kind of work", TYPES, format_func=lambda t: TYPE_LABELS[t].capitalize(), key="discover_type_filter")
        c4.selectbox("How many", LIMITS, index=LIMITS.index(DEFAULT_LIMIT), key="discover_limit")
        st.radio("Order", SORTS, horizontal=True, key="discover_sort",
                 format_func={"relevance": "Best match first", "newest": "Newest first"}.get)
        submitted = st.form_submit_button("Search", type="primary")
    if submitted:
        s = st.session_state
        since = s.get("discover_since")
        query = Query(text=s.get("discover_query", ""), source=s.get("discover_source", "openalex"),
                      since=int(since) if since else None, type=s.get("discover_type_filter", "any"),
                      limit=int(s.get("discover_limit", DEFAULT_LIMIT)), sort=s.get("discover_sort", "relevance"))
        with st.spinner(f"Searching {SOURCE_LABELS.get(query.source, query.source)}…"):
            session = discovery.sessions.start(discovery.search(query), owner=who)
        _keep(session)
        _clear_tags()
        return session
    return None


def _listed(result: DiscoveryResult, session: ScreeningSession) -> list[Found]:
    return list(result.items + result.hidden) if session.show_excluded else list(result.items)


def _clear_tags() -> None:
    for key in TAG_KEYS:
        st.session_state.pop(key, None)


# ------------------------------------------------------------------ results and screening


def _results(discovery: Discovery, session: ScreeningSession, who: str) -> None:
    result = discovery.result_of(session)  # each work's status as it is now
    counts = result.counts()
    if result.saved_search:
        summary = (f"Saved search “{result.saved_search}”: {len(result.items)} work(s) it has not shown before"
                   + (f"; {result.already_shown} shown before left out" if result.already_shown else "") + ".")
    else:
        summary = f"{result.query.describe()}: {result.total:,} found; showing {len(result.items)}."
    details = [f"{counts[s]} {STATUS_LABELS[s].lower()}" for s in ("new", "in collection", "maybe", "included")
               if counts[s]]
    head, new = st.columns([4, 1], vertical_alignment="bottom")
    head.subheader("What the search found")
    new.button("New search", key="discover-new", on_click=_new_search, icon=":material/search:",
               help="Put this list aside (it is kept, with your place, under “Your other screening lists”) "
                    "and start again with an empty search form.")
    st.markdown(ui.escape_markdown(summary + (f" ({', '.join(details)})" if details else "")))
    if result.notice:
        st.info(ui.escape_markdown(result.notice))
    if result.hidden:
        st.session_state["discover_show_excluded"] = session.show_excluded  # the list's, not the widget's
        st.checkbox(f"Show the {len(result.hidden)} work(s) excluded earlier", key="discover_show_excluded",
                    on_change=_show_excluded, args=(session.id, who))
    items = _listed(result, session)
    c1, c2 = st.columns([3, 1])
    if not result.saved_search:
        c1.text_input("Save this search as", key="discover_save_name", placeholder="e.g. Staff burnout reviews",
                      max_chars=100)
        if c2.button("Save search", key="discover-save"):
            try:
                saved = discovery.save_search(st.session_state.get("discover_save_name", ""), result, who=who)
            except LibraryError as error:
                st.error(ui.escape_markdown(str(error)))
            else:
                st.session_state[MESSAGE] = ("success", f"Saved as “{saved.name}”. Its new works will show "
                                                        "under Saved searches.")
                st.rerun()
    if not items:
        st.info("Nothing to screen here.")
        return
    _screen(discovery, session, items, session.current, who)
    with st.expander(f"All {len(items)} works in this list"):
        st.dataframe([{"No.": n, "Status": STATUS_LABELS[f.status], "Title": f.candidate.title,
                       "Year": f.candidate.year, "Published in": f.candidate.venue}
                      for n, f in enumerate(items, 1)], hide_index=True, width="stretch")
    if session.can_extend:
        if st.button("Show more results", key="discover-more"):
            with st.spinner("Asking for more…"):
                more = discovery.search(session.query, cursor=session.next_cursor)
            discovery.sessions.update(session.id, lambda s: s.extended(more), owner=who)
            st.rerun()
    elif session.next_cursor and not session.saved_search:
        st.caption(f"A list holds at most {MAX_WORKS:,} works. To see others, narrow the search "
                   "(a year to search from, or reviews only) and search again.")


def _screen(discovery: Discovery, session: ScreeningSession, items: list[Found], position: int, who: str) -> None:
    found = items[position]
    c = found.candidate
    vocabulary = discovery.library.vocabulary
    keys = st.toggle("Screen with the keyboard: I include, E exclude, M maybe, N next, P previous",
                     key="discover_keyboard",
                     help="While this is on, those keys act on the work shown here, whichever tab is open.")
    with st.container(border=True):
        status = STATUS_LABELS[found.status]
        if found.status == "in collection":
            status += f" as {found.reference_key} ({found.matched_by})"
        elif found.status == "excluded" and found.reason:
            status += f": {found.reason}"
        elif found.status == "included" and found.reference_key:
            status += f" as {found.reference_key}"
        st.caption(ui.escape_markdown(f"Work {position + 1} of {len(items)} · {status}"))
        st.markdown(f"#### {ui.escape_markdown(c.title)}")
        st.markdown(_meta_html(found), unsafe_allow_html=True)
        st.markdown("**Abstract** (the publisher's)")
        if c.abstract:
            paragraphs = c.abstract.split("\n\n")
            with st.container(height=320 if len(c.abstract) > 1500 else "content", border=False):
                for paragraph in paragraphs:
                    st.markdown(ui.escape_markdown(paragraph))
        else:
            st.caption("The service gave no abstract for this work.")
    in_collection = found.status == "in collection"
    if not in_collection:
        c1, c2, c3 = st.columns(3)
        c1.multiselect("Themes (for including)", [t.slug for t, _ in vocabulary.walk()],
                       format_func=vocabulary.label, key="discover_themes", max_selections=5)
        c2.selectbox("Evidence type (for including)", ["", *vocabulary.evidence_type_by_slug],
                     format_func=lambda s: vocabulary.label(s) if s else "(choose later)", key="discover_type")
        c3.multiselect("Setting (for including)", list(vocabulary.setting_by_slug), format_func=vocabulary.label,
                       key="discover_setting")
        st.selectbox("Reason (for excluding)", discovery.store.reasons(), key="discover_reason")
    b1, b2, b3, b4, b5 = st.columns(5)
    args = (session.id, found.candidate.id, who)
    b1.button("Include", key="discover-include", type="primary", disabled=in_collection, on_click=_decide,
              args=("included", *args), shortcut=SHORTCUTS["include"] if keys else None, icon=":material/add:",
              help="Adds it to the collection now (its key finding is then written and checked as usual).")
    b2.button("Exclude", key="discover-exclude", disabled=in_collection, on_click=_decide, args=("excluded", *args),
              shortcut=SHORTCUTS["exclude"] if keys else None, icon=":material/block:")
    b3.button("Maybe", key="discover-maybe", disabled=in_collection, on_click=_decide, args=("maybe", *args),
              shortcut=SHORTCUTS["maybe"] if keys else None, icon=":material/help:")
    b4.button("Previous", key="discover-previous", disabled=position == 0, on_click=_move, args=(session.id, -1, who),
              shortcut=SHORTCUTS["previous"] if keys else None)
    b5.button("Next", key="discover-next", disabled=position >= len(items) - 1, on_click=_move,
              args=(session.id, 1, who),
              shortcut=SHORTCUTS["next"] if keys else None)
    if found.decision is not None and not in_collection:
        st.button("Forget this decision", key="discover-undo", on_click=_undo, args=args)


def _meta_html(found: Found) -> str:
    """Authors, year, venue, identifiers and links; every value escaped, links http(s) only."""
    e = html.escape
    c = found.candidate
    authors = ", ".join(c.author_names) if c.authors else "Authors not given"
    meta = " · ".join(x for x in (e(authors), e(str(c.year or "n.d.")), f"<i>{e(c.venue)}</i>" if c.venue else "") if x)
    links = []
    for label, url in (("DOI " + c.doi if c.doi else "", c.doi_url), ("PubMed " + c.pmid if c.pmid else "", c.pubmed_url),
                       (f"{SOURCE_LABELS.get(c.source, c.source)} record", c.url)):
        if label and url.startswith(("https://", "http://")):
            links.append(f'<a href="{e(url, quote=True)}" target="_blank" rel="noopener">{e(label)}</a>')
    access = (f'<a href="{e(c.oa_url, quote=True)}" target="_blank" rel="noopener">free to read</a>'
              if c.oa_url.startswith(("https://", "http://")) else "not known to be free to read")
    extra = [access] + ([f"cited by {c.cited_by:,}"] if c.cited_by is not None else [])
    if c.publication_type:
        extra.append(e(c.publication_type))
    return (f'<p class="evl-meta">{meta}</p><p>{" · ".join(links)}</p>'
            f'<p>{" · ".join(extra)}</p>')


# ------------------------------------------------------------------ callbacks (run before the page)
# Each reads the list from the database, so two tabs on one list never undo each other's place.


def _current(discovery: Discovery, session_id: str, candidate_id: str,
             who: str) -> tuple[ScreeningSession, Candidate] | None:
    try:
        session = discovery.sessions.load(session_id, owner=who)
    except ScreeningSessionNotFound as error:
        st.session_state[MESSAGE] = ("error", str(error))
        return None
    candidate = next((c for c in session.works + session.hidden if c.id == candidate_id), None)
    return (session, candidate) if candidate is not None else None


def _decide(decision: str, session_id: str, candidate_id: str, who: str) -> None:
    discovery = Discovery(ui.library())
    current = _current(discovery, session_id, candidate_id, who)
    if current is None:
        return
    session, candidate = current
    s = st.session_state
    try:
        outcome = discovery.decide(
            candidate, decision, who=who, reason=s.get("discover_reason", "") if decision == "excluded" else "",
            themes=tuple(s.get("discover_themes") or ()), evidence_type=s.get("discover_type") or "",
            settings=tuple(s.get("discover_setting") or ()), query=session.query, saved_search=session.saved_search)
    except LibraryError as error:
        s[MESSAGE] = ("error", str(error))
        return
    if outcome.reference_key:
        s[MESSAGE] = ("success", f"Included “{candidate.title}” and added it to the collection as "
                                 f"{outcome.reference_key}. Write its key finding under “Edit or delete”.")
    else:
        s[MESSAGE] = ("success", f"{outcome.decision.label}: “{candidate.title}”"
                                 + (f" ({outcome.decision.reason})." if outcome.decision.reason else "."))
    _advance(discovery, session, who)


def _undo(session_id: str, candidate_id: str, who: str) -> None:
    discovery = Discovery(ui.library())
    current = _current(discovery, session_id, candidate_id, who)
    if current is not None:
        discovery.undo(current[1])


def _advance(discovery: Discovery, session: ScreeningSession, who: str) -> None:
    """On to the next work still to screen (new, or a maybe), else simply the next one."""
    items = _listed(discovery.result_of(session), session)
    position = session.current
    later = [i for i in range(position + 1, len(items)) if items[i].status in ("new", "maybe")]
    _update(session.id, lambda s: s.at(later[0] if later else position + 1), who)


def _move(session_id: str, step: int, who: str) -> None:
    _update(session_id, lambda s: s.at(s.current + step), who)


def _show_excluded(session_id: str, who: str) -> None:
    show = bool(st.session_state.get("discover_show_excluded"))
    _update(session_id, lambda s: s.showing_excluded(show), who)


def _update(session_id: str, change: Callable[[ScreeningSession], ScreeningSession], who: str) -> None:
    try:
        Discovery(ui.library()).sessions.update(session_id, change, owner=who)
    except ScreeningSessionNotFound as error:
        st.session_state[MESSAGE] = ("error", str(error))
    _clear_tags()


# ------------------------------------------------------------------ the screening record


def _record(discovery: Discovery) -> None:
    store = discovery.store
    counts = store.counts()
    total = sum(counts.values())
    with st.expander(f"Screening record ({total} decision{'s' if total != 1 else ''}) and exclusion reasons"):
        st.markdown(f"Included {counts['included']} · excluded {counts['excluded']} · maybe {counts['maybe']}")
        st.download_button("Download the screening record (CSV)", store.export_csv(),
                           file_name=f"screening-record-{dt.date.today().isoformat()}.csv", mime="text/csv",
                           key="discover-export", disabled=not total, icon=":material/download:",
                           help="Every decision with its reason, who made it and when, and the search that "
                                "found the work: a PRISMA-style record of how references were chosen.")
        st.markdown("**Exclusion reasons**")
        reasons = store.reasons()
        for reason in reasons:
            st.text(f"• {reason}")
        with st.form("discover-add-reason", clear_on_submit=True):
            new_reason = st.text_input("Add a reason", max_chars=200, key="discover_new_reason")
            if st.form_submit_button("Add reason"):
                try:
                    store.add_reason(new_reason)
                except LibraryError as error:
                    st.error(ui.escape_markdown(str(error)))
                else:
                    st.rerun()
        if reasons:
            c1, c2 = st.columns([3, 1])
            doomed = c1.selectbox("Remove a reason (decisions that gave it keep it)", reasons,
                                  key="discover_doomed_reason")
            if c2.button("Remove", key="discover-remove-reason"):
                store.remove_reason(doomed)
                st.rerun()
