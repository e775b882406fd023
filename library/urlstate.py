"""A search as URL parameters and back, so that a search can be bookmarked and shared.

URL parameters can hold anything anyone types; every value is checked and
anything unusable is dropped rather than trusted.
"""

from __future__ import annotations

from typing import Mapping, Sequence

from .search import MAX_PER_PAGE, MAX_QUERY_LENGTH, SORTS, SearchRequest
from .taxonomy import UnknownSlug, Vocabulary, unknown_slugs

PARAM_TEXT, PARAM_THEME, PARAM_MODE, PARAM_TYPE, PARAM_SETTING = "q", "theme", "mode", "type", "setting"
PARAM_FROM, PARAM_TO, PARAM_SORT, PARAM_PAGE, PARAM_KEY = "from", "to", "sort", "page", "key"
MAX_VALUES = 50


def _values(params: Mapping[str, Sequence[str] | str], name: str) -> list[str]:
    value = params.get(name)
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    out = []
    for item in items[:MAX_VALUES]:
        if not isinstance(item, str):
            continue
        # Several values may also arrive comma-separated in one parameter.
        out.extend(part.strip() for part in item.split(",") if part.strip())
    return out[:MAX_VALUES]


def _year(params: Mapping[str, Sequence[str] | str], name: str) -> int | None:
    values = _values(params, name)
    if not values:
        return None
    try:
        year = int(values[0])
    except ValueError:
        return None
    return year if 1000 <= year <= 2999 else None


def unknown_in_params(params: Mapping[str, Sequence[str] | str], vocabulary: Vocabulary) -> tuple[UnknownSlug, ...]:
    """The themes, evidence types and settings a link names that the vocabulary does not hold (which
    `request_from_params` drops), so that a page can say so; each quoted at most 60 characters long."""

    def asked(name: str) -> list[str]:
        return [v if len(v) <= 60 else v[:59] + "…" for v in _values(params, name)]

    return unknown_slugs(vocabulary, themes=asked(PARAM_THEME), evidence_types=asked(PARAM_TYPE),
                         settings=asked(PARAM_SETTING))


def request_from_params(params: Mapping[str, Sequence[str] | str], vocabulary: Vocabulary) -> SearchRequest:
    """A safe `SearchRequest` from URL parameters; unknown themes, types and settings are dropped."""
    texts = _values_raw(params, PARAM_TEXT)
    text = texts[0][:MAX_QUERY_LENGTH] if texts else ""
    themes = tuple(dict.fromkeys(t for t in _values(params, PARAM_THEME) if t in vocabulary.theme_by_slug))
    types = tuple(dict.fromkeys(t for t in _values(params, PARAM_TYPE) if t in vocabulary.evidence_type_by_slug))
    settings = tuple(dict.fromkeys(s for s in _values(params, PARAM_SETTING) if s in vocabulary.setting_by_slug))
    mode_values = _values(params, PARAM_MODE)
    sort_values = _values(params, PARAM_SORT)
    page = 1
    for value in _values(params, PARAM_PAGE)[:1]:
        if value.isdigit() and len(value) < 7:
            page = max(1, int(value))
    return SearchRequest(
        text=text,
        themes=themes,
        theme_mode="all" if mode_values[:1] == ["all"] else "any",
        evidence_types=types,
        settings=settings,
        year_from=_year(params, PARAM_FROM),
        year_to=_year(params, PARAM_TO),
        sort=sort_values[0] if sort_values[:1] and sort_values[0] in SORTS else "relevance",  # type: ignore[arg-type]
        page=page,
        per_page=min(20, MAX_PER_PAGE),
    ).normalised()


def _values_raw(params: Mapping[str, Sequence[str] | str], name: str) -> list[str]:
    value = params.get(name)
    if value is None:
        return []
    items = [value] if isinstance(value, str) else list(value)
    return [i.replace("\x00", "") for i in items if isinstance(i, str)]


def params_from_request(request: SearchRequest) -> dict[str, str | list[str]]:
    """URL parameters for a request, leaving out everything at its default."""
    params: dict[str, str | list[str]] = {}
    if request.text:
        params[PARAM_TEXT] = request.text
    if request.themes:
        params[PARAM_THEME] = list(request.themes)
        if request.theme_mode == "all":
            params[PARAM_MODE] = "all"
    if request.evidence_types:
        params[PARAM_TYPE] = list(request.evidence_types)
    if request.settings:
        params[PARAM_SETTING] = list(request.settings)
    if request.year_from is not None:
        params[PARAM_FROM] = str(request.year_from)
    if request.year_to is not None:
        params[PARAM_TO] = str(request.year_to)
    if request.sort != "relevance":
        params[PARAM_SORT] = request.sort
    if request.page > 1:
        params[PARAM_PAGE] = str(request.page)
    return params
