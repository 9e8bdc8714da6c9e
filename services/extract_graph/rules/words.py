"""Word classes of the rule extractor: tokens, name words, numbers, and the gazetteer sets it reads."""

from __future__ import annotations

import re
from functools import lru_cache

from services.extract_graph import gazetteer as gz

_TOKEN_RE = re.compile(r"\w+(?:[-'’.&]\w+)*['’]?|[^\w\s]")
_NUMBER_RE = re.compile(r"\d{1,4}(?:\.\d+)*[A-Za-z]{0,3}")
_YEAR_RE = re.compile(r"(?:1[89]|20)\d\d")
_WORDLIKE_RE = re.compile(r"[A-Za-z][A-Za-z-]*")
_CAMEL_RE = re.compile(r"[a-z][A-Z][a-z]")
# An item code: capitals, a hyphen, three or more digits ("KX-022", "ZX-2000", "AB-1234X").
_ITEM_CODE_RE = re.compile(r"([A-Z]{1,5})-\d{3,}[A-Z0-9]*")

_CONNECTORS = frozenset({"of", "de", "&", "van", "von", "der", "den", "del", "da", "di", "du"})
_SENT_END = frozenset({".", "!", "?"})
_CLOSERS = frozenset({'"', "'", "”", "’", ")", "]"})
_OPENERS = frozenset({'"', "“", "‘", "("})
_BULLETS = frozenset({"-", "*", "•", "▪", "◦", "–", "—"})
_NO_SPLIT_AFTER = frozenset(
    {t.lower() for t in gz.TITLES}
    | {"st", "mt", "ft", "no", "nos", "vol", "fig", "figs", "vs", "approx"}
    | {"gen", "sen", "rep", "gov", "lt", "col", "sgt", "capt", "hon", "e.g", "i.e", "cf", "al"}
)
_SOFT_SPLIT_AFTER = frozenset(
    {"inc", "corp", "ltd", "co", "llc", "plc", "jr", "sr", "bros", "u.s", "u.k", "etc", "d.c", "s.a"}
)
_JOIN_DOT = frozenset({"St", "Mt", "Ft", "Jr", "Sr"})
_ABBREV_DOT = frozenset({"Inc", "Corp", "Ltd", "Co", "Jr", "Sr", "Bros", "Mfg", "Intl"})
_LOCATION_SPLIT_SUFFIXES = frozenset({"based", "headquartered"})
_ARTICLES = frozenset({"a", "an", "the"})
_STOP_BREAK = gz.STOPWORDS - gz.NAME_INNER_WORDS
_BREAK_EXACT = gz.ROLE_WORDS | gz.MONTHS | gz.WEEKDAYS | gz.TITLES
_PERSON_STARTS = gz.GIVEN_NAMES | gz.FAMILY_FIRST
_NOT_PERSON_LAST = gz.ORG_SUFFIXES | gz.NON_PERSON_LAST | gz.PLACE_SUFFIXES | gz.ROLE_WORDS
_ORG_WORDS = gz.ORG_SUFFIXES | gz.ORG_HEADS
_CONTAINER_SUFFIXES = frozenset({"County", "Province", "Prefecture"})
_CONCEPT_CUES = gz.CONCEPT_NOUNS | gz.PART_NOUNS | gz.KIND_NOUNS

_MAX_NAME_WORDS = 6
_WRAP_WIDTH = 40  # a line at least this long, broken without punctuation, is a wrapped paragraph
_MAX_RELATES_PER_SENTENCE = 3


def _is_cap(tok: str) -> bool:
    first = tok[0]
    return first.isupper() or (first.islower() and _CAMEL_RE.match(tok) is not None)


def _breaks(tok: str) -> bool:
    """A capitalised token that never sits inside a name (stopword, month, job title...)."""
    if tok in _BREAK_EXACT:
        return True
    return tok.lower() in _STOP_BREAK and not (len(tok) > 1 and tok.isupper())


@lru_cache(maxsize=131072)
def _name_word(tok: str) -> bool:
    """A capitalised word that may be part of a name."""
    return _is_cap(tok) and not _breaks(tok)


def _item_code(tok: str) -> bool:
    """A product's item code ("KX-022"), not a standard's or a vulnerability's ("ISO-9001", "CVE-...")."""
    found = _ITEM_CODE_RE.fullmatch(tok)
    if found is None:
        return False
    prefix = found.group(1)
    return prefix not in gz.NON_PRODUCT_HEADS and prefix not in gz.NON_PRODUCT_CODES


def _is_possessive(tok: str) -> bool:
    return tok.endswith(("'s", "’s", "'", "’"))


def _strip_possessive(tok: str) -> str:
    if tok.endswith(("'s", "’s")):
        return tok[:-2]
    return tok.rstrip("'’")


def _is_number(tok: str) -> bool:
    return _NUMBER_RE.fullmatch(tok) is not None and _YEAR_RE.fullmatch(tok) is None


def _personish(words: list[str]) -> bool:
    """Shape of a person's name: 2-4 capitalised words, no digits, no organisation/place ending."""
    if not 2 <= len(words) <= 4 or words[-1] in _NOT_PERSON_LAST:
        return False
    for k, w in enumerate(words):
        if not w[0].isupper() or any(c.isdigit() for c in w):
            return False
        if len(w) > 1 and w.isupper() and (len(w) > 2 or k == len(words) - 1):
            return False  # an acronym, though "RJ Scaringe" has initials first
        if w in _BREAK_EXACT or w in _ORG_WORDS:
            return False
    return gz.key(" ".join(words)) not in gz.PLACES
