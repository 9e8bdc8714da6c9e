"""Skeleton patterns: each sentence rendered as ``«3» is headquartered in «4»`` and matched by cue
rules (typing phrases by context) and relation rules."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from services.extract_graph import gazetteer as gz
from services.extract_graph.rules.mentions import _Mention
from services.stores.ports import (
    EntityLabel,
    RelationType,
)


def _alt(words: Iterable[str]) -> str:
    return "(?:" + "|".join(re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w))) + ")"


_MACROS = {
    "{S}": r"«(?P<s>\d+)»",
    "{T}": r"«(?P<t>\d+)»",
    "{E}": r"«\d+»",
    "{MORE}": r"(?P<more>(?: (?:,|and|, and|&|or) «\d+»)*)",
    # an appositive between a subject and its verb: "Jane Doe, the CEO of Acme, lives in ..."
    "{APPOS}": r"(?:, [^,;]{1,80}? , )?",
    "{BE}": r"(?:is|was|are|were|has been|had been|have been|will be|became|becomes|has become|"
    r"remains|remained)",
    "{ADV}": r"(?:(?:currently|now|still|also|previously|formerly|recently|later|then|once|already|"
    r"reportedly|officially|originally) )?",
    "{DET}": r"(?:(?:the|a|an|its|their|his|her|our) )?",
    # up to three lower-case modifiers, commas allowed: "a high-level , general-purpose"
    "{ADJ}": r"(?:(?:[a-z][a-z-]*|«\d+» -based) (?:, )?){0,3}?",
    "{ROLES}": r"{MOD}{ROLE}(?: (?:and|&|,) {MOD}{ROLE})*",
    "{MOD}": r"(?:(?:senior|junior|lead|chief|principal|staff|former|current|new|founding|managing|"
    r"executive|general|deputy|assistant|associate|vice|interim|acting|regional|global|technical|"
    r"software|research|data|product|marketing|sales|engineering|finance|financial|operating|"
    r"technology|security|design|hardware|legal|communications|policy|program|project|investment|"
    r"commercial|medical|scientific|creative|editorial|digital|information|ai|ml|head|first|longtime|"
    r"long-time|veteran|top) )*",
    "{ROLE}": r"(?:co-?founder|cofounder|founder|ceo|cto|cfo|coo|cio|cmo|cso|cpo|ciso|vp|svp|evp|"
    r"vice president|president|chairman|chairwoman|chairperson|chair|director|head|manager|engineer|"
    r"scientist|researcher|analyst|developer|designer|architect|consultant|partner|employee|"
    r"professor|lecturer|economist|lawyer|attorney|counsel|editor|reporter|correspondent|"
    r"spokesperson|spokesman|spokeswoman|officer|executive|lead|owner|intern|strategist|advisor|"
    r"adviser|treasurer|secretary|fellow|staffer|chief [a-z]+ officer|general manager|"
    r"managing director|managing partner|board member|programmer|technician|specialist|"
    r"coordinator|administrator|accountant|auditor|trader|banker|recruiter|physician|surgeon)",
    "{PMOD}": r"(?:(?:new|latest|next-generation|next-gen|updated|first|flagship|upcoming|"
    r"long-awaited|redesigned|open-source|free|second|third|own|popular|original) )*",
    "{PRODUCT}": _alt(gz.PRODUCT_NOUNS),
    "{ORGNOUN}": r"(?:company|firm|startup|start-up|organization|organisation|business|bank|university|"
    r"college|lab|laboratory|manufacturer|maker|provider|vendor|developer|group|agency|nonprofit|"
    r"non-profit|charity|retailer|institute|school|hospital|publisher|studio|conglomerate|"
    r"consultancy|insurer|airline|carrier|operator|supplier|distributor|club|ministry|foundation|"
    r"society|association|unicorn|lender|chain|museum|corporation|enterprise)",
    "{PLACENOUN}": r"(?:city|cities|town|village|capital|region|province|state|country|suburb|district|"
    r"municipality|port|island|county|neighbourhood|neighborhood|borough|area|commune|prefecture|"
    r"metropolis|hub|territory|emirate|canton)",
}


def _rx(pattern: str) -> re.Pattern[str]:
    for _ in range(3):  # macros may contain macros
        for name, body in _MACROS.items():
            pattern = pattern.replace(name, body)
    return re.compile(pattern)


@dataclass(frozen=True, slots=True)
class _Rule:
    """A skeleton pattern with slots ``s`` (source) and, for relations, ``t`` (target).

    A slot accepts mentions already typed with one of its labels, or an untyped mention that can
    take ``default`` (``None``: untyped mentions never fit; ``"same"``: take the other slot's label).
    """

    rx: re.Pattern[str]
    gate: frozenset[str]  # cheap pre-check: skeleton words the pattern cannot match without
    rel: RelationType | None
    src: tuple[EntityLabel, ...]
    src_default: str | None
    tgt: tuple[EntityLabel, ...] = ()
    tgt_default: str | None = None
    coordinated: bool = False  # "A and B work at C": A gets the relation too


def _rule(
    pattern: str,
    needs: str,
    rel: RelationType | None,
    src: str,
    src_default: str | None,
    tgt: str = "",
    tgt_default: str | None = None,
    coordinated: bool = False,
) -> _Rule:
    return _Rule(
        _rx(pattern),
        frozenset(needs.split()),
        rel,
        tuple(src.split()),  # type: ignore[arg-type]
        src_default,
        tuple(tgt.split()),  # type: ignore[arg-type]
        tgt_default,
        coordinated,
    )


_P, _O, _L, _PR = "Person", "Organization", "Location", "Product"
_BE_T = "is was are were be been became becomes become remains remained"
_LAUNCH_T = (
    "launched launches released releases unveiled unveils introduced introduces debuted debuts shipped "
    "ships rolled rolls"
)
_PRODUCT_T = " ".join(w.split()[-1] for w in gz.PRODUCT_NOUNS)
_ROLE_T = (
    "ceo cto cfo coo cio cmo cso cpo ciso vp svp evp president chairman chairwoman chairperson chair "
    "director head manager engineer scientist researcher analyst developer designer architect "
    "consultant partner employee professor lecturer economist lawyer attorney counsel editor reporter "
    "correspondent spokesperson spokesman spokeswoman officer executive lead owner intern strategist "
    "advisor adviser treasurer secretary fellow staffer member programmer technician specialist "
    "coordinator administrator accountant auditor trader banker recruiter physician surgeon founder "
    "co-founder cofounder minister governor mayor senator chancellor ambassador commissioner author "
    "writer novelist actor actress singer artist player coach journalist dr mr mrs ms"
)
_ANY = "Organization Product Location Concept"


def _assign(m: _Mention, label: EntityLabel | None) -> None:
    """Type a mention by context; a place typed this way counts as a city."""
    if label is not None and m.label is None:
        m.label = label
        if label == "Location" and m.kind is None:
            m.kind = "city"


# "in Springfield, Illinois": a city (or untyped name after a place preposition) then a region.
_PLACE_PAIR_RX = re.compile(
    r"(?:(?P<p>in|from|near|at|outside|to|of|across|around|throughout) )?«(?P<s>\d+)» , «(?P<t>\d+)»"
)
_COORD_TAIL_RX = re.compile(r"(?:«\d+» (?:, and |, |and |& ))+$")
_PLACEHOLDER_RX = re.compile(r"«(\d+)»")
_ACRONYM_RX = re.compile(r"«(\d+)» \( «(\d+)» \)")
