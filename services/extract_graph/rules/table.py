"""The rule table: context cues that type an untyped mention, and the relation rules, each a skeleton
pattern (``services/extract_graph/rules/patterns.py`` has the macros they are written in), indexed by
the words that must occur for a rule to be tried."""

from __future__ import annotations

from services.extract_graph.rules.patterns import (
    _ANY,
    _BE_T,
    _L,
    _LAUNCH_T,
    _O,
    _P,
    _PR,
    _PRODUCT_T,
    _ROLE_T,
    _Rule,
    _rule,
)

# Context cues that type an untyped mention (no relation).
_TYPING_RULES: tuple[_Rule, ...] = (
    _rule(
        r"(?:the|its|their|our|his|her|a|an|new|latest) {PMOD}{S} {PRODUCT}(?= |$)",
        _PRODUCT_T,
        None,
        _PR,
        _PR,
    ),
    _rule(
        r"(?:launched|launches|released|releases|unveiled|unveils|introduced|introduces|debuted|debuts|"
        r"shipped|ships|rolled out|rolls out) {DET}{PMOD}{S}",
        _LAUNCH_T,
        None,
        _PR,
        _PR,
    ),
    _rule(
        r"{S} {BE} (?:a|an|the) {ADJ}{PRODUCT}(?=$| [,.;:!?)]| (?:for|that|which|from|by|of|"
        r"made|developed|built|designed|used|with|to|and|available|sold|launched|released|aimed|"
        r"targeted|created|powered|running|written|based)\b)",
        _BE_T,
        None,
        _PR,
        _PR,
    ),
    _rule(
        r"(?:{ROLES}|minister|prime minister|governor|mayor|senator|chancellor|ambassador|commissioner|"
        r"author|writer|novelist|actor|actress|singer|artist|player|coach|journalist|dr|mr|mrs|ms) "
        r"(?:, )?{S}",
        _ROLE_T,
        None,
        _P,
        _P,
    ),
    _rule(r"{S} , {DET}(?:(?:{E}|[a-z]+) 's )?{ROLES}(?= |$)", _ROLE_T, None, _P, _P),
    _rule(
        r"(?:(?:based|headquartered|located|situated|born|raised|incorporated) (?:in|at|out of)"
        r"|(?:lives|lived|resides|resided|living|settled|grew up) in|emigrated to"
        r"|(?:offices?|campus|headquarters|hq|plant|factory|facility|branch|stores?|warehouse) (?:in|at)"
        r"|(?:city|town|village|state|province|capital|region) of) (?:the )?{S}{MORE}",
        "based headquartered located situated born raised incorporated lives lived resides resided living "
        "settled grew emigrated office offices campus headquarters hq plant factory facility branch store "
        "stores warehouse city town village state province capital region",
        None,
        _L,
        _L,
    ),
    _rule(r"{S} -(?:based|headquartered) {ADJ}{ORGNOUN}", "-based -headquartered", None, _L, _L),
    _rule(
        r"(?:held|took place|takes place|arrived|landed|stationed|stayed|met|died|opened (?:a|an|its|their) "
        r"(?:new |first |second )?(?:office|store|factory|plant|campus|branch|hub|headquarters|facility)) "
        r"(?:here )?in (?:the )?{S}{MORE}",
        "held took takes arrived landed stationed stayed met died opened",
        None,
        _L,
        _L,
    ),
)

_RELATION_RULES: tuple[_Rule, ...] = (
    # WORKS_FOR
    _rule(
        r"{S} {APPOS}(?:, |\( )?(?:who |which )?{ADV}(?:works|worked|working|work|has worked|had worked|"
        r"is working|was working|has been working|will work) (?:full-time |part-time |remotely |closely "
        r"|mainly |primarily )?(?:for|at) (?:the )?{T}",
        "works worked working work",
        "WORKS_FOR",
        _P,
        _P,
        _O,
        _O,
        True,
    ),
    _rule(
        r"{S} (?:, |{BE} |, who is |, who was |(?:serves|served|serving|works|worked|working|acts|acted) "
        r"as |joined as ){DET}{ROLES}(?: (?:of|for|in) (?:[a-z]+|{E})(?: [a-z]+)?)?(?: ,)? "
        r"(?:of|at|for|with) (?:the )?{T}",
        _ROLE_T,
        "WORKS_FOR",
        _P,
        _P,
        _O,
        _O,
    ),
    _rule(r"{T} (?:'s )?{ROLES} (?:, )?{S}", _ROLE_T, "WORKS_FOR", _P, _P, _O, _O),
    _rule(r"{S} (?:, )?of (?:the )?{T}", "of", "WORKS_FOR", _P, None, _O, None),
    _rule(r"{S} , {T} (?:'s )?{ROLES}(?= |$)", _ROLE_T, "WORKS_FOR", _P, _P, _O, _O),
    _rule(
        r"{S} {APPOS}(?:has |had |have |recently |officially |later )?(?:joined|joins|join|rejoined) "
        r"(?:the )?{T}",
        "joined joins join rejoined",
        "WORKS_FOR",
        _P,
        _P,
        _O,
        _O,
        True,
    ),
    _rule(
        r"{T} {APPOS}(?:has |had |have |recently )?(?:hired|hires|appointed|appoints|named|names|recruited|"
        r"recruits|employs|employed|promoted|promotes|poached|taps|tapped) (?:{DET}{ROLES} |former "
        r"{ROLES} )?{S}{MORE}",
        "hired hires appointed appoints named names recruited recruits employs employed promoted promotes "
        "poached taps tapped",
        "WORKS_FOR",
        _P,
        _P,
        _O,
        _O,
    ),
    _rule(
        r"{S} {BE} {ADV}(?:employed|hired|appointed|recruited|named|promoted|poached|tapped) "
        r"(?:as {DET}{ROLES} )?by (?:the )?{T}",
        "by",
        "WORKS_FOR",
        _P,
        _P,
        _O,
        _O,
    ),
    _rule(
        r"^(?:co-?founded|cofounded|founded|started|established|created|led|run|headed) by "
        r"{S}{MORE}(?: (?:in|during) \d+)? , {T}",
        "by",
        "WORKS_FOR",
        _P,
        _P,
        _O,
        _O,
    ),
    _rule(
        r"{T} (?:, )?(?:which |that )?(?:{BE} |, )?{ADV}(?:co-?founded|cofounded|founded|started|"
        r"established|created|led|run|headed) by {S}{MORE}",
        "by",
        "WORKS_FOR",
        _P,
        _P,
        _O,
        _O,
    ),
    _rule(
        r"{S} {APPOS}(?:co-?founded|cofounded|founded|leads|led|runs|ran|heads|headed|manages|managed|chairs|"
        r"chaired|directs|directed) (?:the )?{T}",
        "co-founded cofounded founded leads led runs ran heads headed manages managed chairs chaired "
        "directs directed",
        "WORKS_FOR",
        _P,
        _P,
        _O,
        _O,
        True,
    ),
    # LOCATED_IN
    _rule(
        r"{S} {APPOS}(?:, (?:(?:which|that|who) {BE} )?|\( |{BE} )?{ADV}(?:based|headquartered|"
        r"incorporated|registered|domiciled|founded|established|set up) (?:in \d+ (?:, )?)?(?:in|at|out of) "
        r"(?:the )?(?:city of |town of |state of |province of )?{T}",
        "based headquartered incorporated registered domiciled founded established set",
        "LOCATED_IN",
        "Organization Person Location Product",
        _O,
        _L,
        _L,
        True,
    ),
    _rule(
        r"{S} {APPOS}(?:, (?:(?:which|that|who) {BE} )?|\( |{BE} )?{ADV}(?:located|situated|found|sited) "
        r"(?:in|at|on|near) (?:the )?(?:city of |town of |state of |province of )?{T}",
        "located situated found sited",
        "LOCATED_IN",
        "Organization Person Location Product",
        _L,
        _L,
        _L,
        True,
    ),
    _rule(
        r"{S} {BE} (?:a|an|the|one of the) {ADJ}{ORGNOUN}s? (?:(?:based|headquartered|"
        r"located) )?(?:in|from) (?:the )?{T}",
        _BE_T,
        "LOCATED_IN",
        _O,
        _O,
        _L,
        _L,
    ),
    _rule(
        r"{S} {APPOS}{ADV}(?:has |have |had )?(?:lives|lived|resides|resided|is living|was living|settled|"
        r"grew up|emigrated|has lived) (?:back )?(?:in|to) (?:the )?{T}",
        "lives lived resides resided living settled grew emigrated",
        "LOCATED_IN",
        "Person Organization",
        _P,
        _L,
        _L,
        True,
    ),
    _rule(
        r"{S} {APPOS}{ADV}(?:has |have |had )?(?:relocated|moved|is moving|was moving) (?:back )?(?:in|to) "
        r"(?:the )?{T}",
        "relocated moved moving",
        "LOCATED_IN",
        "Person Organization",
        None,
        _L,
        None,
        True,
    ),
    _rule(
        r"{S} {BE} (?:a|an|the|one of the) {ADJ}{PLACENOUN} (?:[a-z-]+ ){0,2}?(?:in|of|on) "
        r"(?:the )?{T}",
        _BE_T,
        "LOCATED_IN",
        _L,
        _L,
        _L,
        _L,
    ),
    _rule(r"{T} -headquartered (?:[a-z-]+ ){0,2}?{S}", "-headquartered", "LOCATED_IN", _O, _O, _L, _L),
    _rule(r"{T} -based (?:[a-z-]+ ){0,2}?{S}", "-based", "LOCATED_IN", _O, _O, _L, None),
    _rule(r"{S} , (?:a|an|the) {T} -headquartered", "-headquartered", "LOCATED_IN", _O, _O, _L, _L),
    _rule(r"{S} , (?:a|an|the) {T} -based", "-based", "LOCATED_IN", _O, _O, _L, None),
    # PART_OF
    _rule(
        r"{S} (?:, )?(?:which |that )?{BE} (?:now |also |still |officially )?(?:a |an |the )?"
        r"(?:[a-z-]+ ){0,2}?part of (?:the )?{T}",
        "part",
        "PART_OF",
        _ANY,
        "same",
        _ANY,
        "same",
    ),
    _rule(
        r"{S} (?:, |\( )?(?:which |that )?(?:{BE} |operates as |, )?(?:now |also |still |officially )?"
        r"(?:a|an|the) (?:[a-z-]+ ){0,2}?(?:division|subsidiary|unit|arm|branch|department|affiliate|"
        r"spin-off|spinoff|spin-out|business unit|sister company|imprint|label|lab|laboratory|"
        r"research lab|research arm|subdivision|entity|agency|office) of (?:the )?{T}",
        "of",
        "PART_OF",
        "Organization Product",
        _O,
        _O,
        _O,
    ),
    _rule(
        r"{S} (?:, )?(?:{BE} )?(?:a|an|the) (?:[a-z-]+ ){0,2}?(?:product|brand|offering) (?:of|from|by|"
        r"made by|developed by|built by) (?:the )?{T}",
        "product brand offering",
        "PART_OF",
        _PR,
        _PR,
        _O,
        _O,
    ),
    _rule(
        r"{T} (?:has |had |have |recently |officially |quietly )?(?:launched|launches|released|releases|"
        r"unveiled|unveils|introduced|introduces|debuted|debuts|shipped|ships|rolled out|rolls out) "
        r"{DET}{PMOD}{S}",
        _LAUNCH_T,
        "PART_OF",
        _PR,
        _PR,
        _O,
        _O,
    ),
    _rule(
        r"{T} (?:has |had |have |recently |officially )?(?:announced|announces) {DET}{PMOD}{S}",
        "announced announces",
        "PART_OF",
        _PR,
        None,
        _O,
        _O,
    ),
    _rule(
        r"{S} {BE} {ADV}(?:made|developed|built|manufactured|produced|created|designed|sold|marketed|"
        r"offered|published|maintained|launched|released) by (?:the )?{T}",
        "by",
        "PART_OF",
        _PR,
        _PR,
        _O,
        _O,
    ),
    _rule(
        r"{S} {BE} (?:a|an|the) {ADJ}{PRODUCT} (?:(?:that|which) (?:is|was) )?{ADV}(?:made|developed|"
        r"built|manufactured|produced|created|designed|sold|offered|published|maintained) by (?:the )?{T}",
        "by",
        "PART_OF",
        _PR,
        _PR,
        _O,
        _O,
    ),
    _rule(
        r"{S} {BE} {ADV}(?:owned|operated|run|controlled) by (?:the )?{T}",
        "by",
        "PART_OF",
        "Organization Product",
        _O,
        _O,
        _O,
    ),
    _rule(
        r"{T} (?:has |had |have |recently |officially )?(?:(?:agreed|agrees|plans|is set|was set|moved|"
        r"moves|offered|offers) to |will )?(?:acquired|acquires|acquire|bought|buys|buy|purchased|"
        r"purchases|purchase|took over|takes over|take over|absorbed|absorbs) (?:the )?(?:[a-z-]+ ){0,2}?{S}",
        "acquired acquires acquire bought buys buy purchased purchases purchase took takes take absorbed "
        "absorbs",
        "PART_OF",
        _O,
        _O,
        _O,
        _O,
    ),
    _rule(
        r"{S} {BE} {ADV}(?:acquired|bought|purchased|taken over|absorbed) by (?:the )?{T}",
        "by",
        "PART_OF",
        _O,
        _O,
        _O,
        _O,
    ),
)

_RULES_BY_WORD: dict[str, tuple[int, ...]] = {}
for _k, _r in enumerate(_RELATION_RULES):
    for _w in _r.gate:
        _RULES_BY_WORD[_w] = (*_RULES_BY_WORD.get(_w, ()), _k)
