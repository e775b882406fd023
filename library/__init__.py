"""An evidence library for trauma-informed services.

A BibTeX collection (one file per reference) tagged with a theme vocabulary,
searched through a self-maintaining Whoosh index, and turned into one-page
evidence packs.  Usable from Python, from `python -m library` and from the
Streamlit app; this package never imports Streamlit.
"""

from .api import AddResult, Library, open_library
from .config import SETTINGS, Settings
from .errors import LibraryError, Problem
from .records import Name, Record
from .search import Facets, Hit, SearchRequest, SearchResult

__all__ = [
    "AddResult", "Facets", "Hit", "Library", "LibraryError", "Name", "Problem", "Record",
    "SETTINGS", "SearchRequest", "SearchResult", "Settings", "open_library",
]
