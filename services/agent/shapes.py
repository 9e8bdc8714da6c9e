"""What a question asks for, and what a sentence holding it looks like: a quantity for "how long",
a price for "how much does it cost", a stated default, code for "which option", a person for "who";
and whether a question chains ("who leads the team that owns X?")."""

from __future__ import annotations

import re

from services.agent.sentences import NAME

# What kind of answer a question wants, and what a sentence holding one looks like: a sentence without
# it is an unlikely answer ("How quickly must a page be acknowledged?" wants a duration).
QUANTITY = re.compile(
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty|thirty|"
    r"hundred|once|twice|half|quarter|daily|weekly|monthly|yearly|annually|hourly|first|last)\b",
    re.I,
)
CODE = re.compile(r"`|\w_\w|\w\.\w|\(\)|--\w")
WHO = re.compile(r"^\s*(?:and |but )?who\b", re.I)
# A time is not always a number: "at dusk on Fridays", "every spring", "before noon".
WHEN = re.compile(
    QUANTITY.pattern + r"|\b(?:(?:mon|tues|wednes|thurs|fri|satur|sun)days?|weekdays?|weekends?|"
    r"january|february|march|april|june|july|august|september|october|november|december|"
    r"spring|summer|autumn|winter|morning|afternoon|evening|night|dawn|dusk|noon|midnight|sunrise|"
    r"sunset|today|tomorrow|yesterday)\b",
    re.I,
)
MONEY = re.compile(
    r"[$€£¥]\s?\d|\b(?:EUR|USD|GBP|CHF|SEK|NOK|DKK|PLN|JPY|CAD|AUD)\s?\d|\d\s?(?:(?:thousand|million|"
    r"billion|bn|m|k)\s)?(?:EUR|USD|GBP|CHF|euros?|dollars?|pounds?|cents?)\b|\bfree\b",
    re.I,
)
# What is counted in money whatever the question's words ("what was X's revenue in 2022?"): a year or
# a headcount is no answer. Not "how long ... on full salary?", which asks for a duration.
_AMOUNT = r"(?:revenue|turnover|profit|earnings|income|salary|salaries|wage|budget|funding|valuation)s?\b"
# A weight or a temperature is given in its units: a list price is no weight.
WEIGHT = re.compile(
    r"\d\s?(?:mg|g|kg|t|grams?|kilo(?:gram)?s?|tonnes?|tons?|lbs?|pounds?|oz|ounces?)\b", re.I
)
TEMPERATURE = re.compile(r"°|\bdegrees?\b|\b(?:celsius|fahrenheit|kelvin)\b", re.I)
# Values with a form of their own: a phone number, an e-mail address, a percentage, a year, a clock
# time. "By phone" is no phone number; "discounts start at 100 units" is no percentage.
PHONE = re.compile(r"(?<![\w.])\+?\d[\d ().-]{6,}\d(?![\w.])")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.\w[\w.-]*")
PERCENT = re.compile(r"\d\s?%|\bper ?cent\b", re.I)
YEAR = re.compile(r"\b(?:1[89]|20)\d\d\b")
CLOCK = re.compile(
    r"\b\d{1,2}[:.]\d{2}\b|\b\d{1,2}\s?(?:am|pm|a\.m\.|p\.m\.)|\bnoon\b|\bmidnight\b|\b24/7\b|"
    r"\baround the clock\b",
    re.I,
)
DEFAULT = re.compile(r"\bdefaults?\b|\bunless\b|\bwhen (?:omitted|not set|unset)\b", re.I)
EXPECTS: tuple[tuple[re.Pattern[str], re.Pattern[str]], ...] = (
    # the asked-for value is stated as a default ("buffer_limit_mb (int, default 64)"), not an example
    (re.compile(r"\bdefault\b", re.I), DEFAULT),
    (
        re.compile(
            rf"\bhow much\b.*\b(?:cost|charge|pay|price|{_AMOUNT})|\bwhat (?:is|are) the (?:price|cost|fee)|"
            rf"\bwhat(?:'s| is| was| are| were)\b[\w' -]*?\b{_AMOUNT}",
            re.I,
        ),
        MONEY,
    ),
    (re.compile(r"\b(?:tele)?phone number\b|\bnumber to call\b|\bfax number\b", re.I), PHONE),
    (re.compile(r"\be-?mail address\b|\bwhat(?:'s| is| are)\b.*\be-?mail\b", re.I), EMAIL),
    (re.compile(r"\bpercent(?:age)?\b|\bhow many per ?cent\b", re.I), PERCENT),
    (
        re.compile(
            r"\bopening (?:hours|times)\b|\bopen (?:until|till)\b|\bwhat time does\b.*\b(?:open|close)", re.I
        ),
        CLOCK,
    ),
    (re.compile(r"\b(?:what|which) year\b", re.I), YEAR),
    (re.compile(r"\bhow (?:much|heavy)\b.*\bweigh|\bwhat (?:\w+ )?weight\b|\bweight of\b", re.I), WEIGHT),
    (
        re.compile(
            r"\btemperature (?:range|limits?)\b|\b(?:what|which) (?:\w+ )?temperature\b|"
            r"\bhow (?:hot|cold|warm)\b",
            re.I,
        ),
        TEMPERATURE,
    ),
    (re.compile(r"\b(?:when|what (?:date|time|day))\b", re.I), WHEN),
    (
        re.compile(
            r"\b(?:how (?:many|much|long|often|quickly|far|old|big|large|soon|fast)|"
            r"(?:which|what)(?: \w+)? (?:version|release)|"
            r"(?:the )?(?:default|minimum|maximum|limit|price|cost|length|size|number)\b)",
            re.I,
        ),
        QUANTITY,
    ),
    (
        re.compile(
            r"\b(?:which|what) (?:option|setting|flag|parameter|argument|command|function|method)\b", re.I
        ),
        CODE,
    ),
    (WHO, NAME),
)

# A question that asks about something named through something else: "the team that owns X".
CHAIN = re.compile(
    r"\b(?:team|office|company|person|product|city|group|department|library|service|one)\s+"
    r"(?:that|which|where|who|whose)\b|\w's\s+(?:team|office|company|manager|lead|product|department)\b",
    re.I,
)


# A yes/no question about whether something is there or given ("Is there car parking at the office?",
# "Does Hollowquay give employees a company car?"): what it asks about, up to a preposition or the end.
_THING_END = r"\s*(?:\b(?:at|in|on|for|near|inside|outside|during|with|by|from|to|when|if)\b|[?.!,]|$)"
_ARTICLE = r"(?:(?:a|an|any|some|free|the)\s+)?"
THING = (
    re.compile(rf"^\s*(?:is|are)\s+there\s+{_ARTICLE}(?P<thing>[\w -]+?){_THING_END}", re.I),
    re.compile(
        r"^\s*(?:does|do|will|can)\s+.+?\s+(?:give|offer|provide|have|get|include|supply|cover|pay for)\s+"
        r"(?:(?:its|their|our|my|the)\s+)?(?:(?:employees|staff|workers|customers|users|people|us|me|you)\s+)?"
        rf"{_ARTICLE}(?P<thing>[\w -]+?){_THING_END}",
        re.I,
    ),
)


def asked_thing(query: str) -> str | None:
    """The word naming what a yes/no question asks is there or given ("parking" of "car parking",
    "car" of "a company car"); an answer must name it, or a word that means it. None for other
    questions, and for a name or an identifier, which the identifier gate already checks."""
    for pattern in THING:
        match = pattern.search(query)
        if match:
            head = match.group("thing").split()[-1]
            if head[:1].isupper() or any(ch.isdigit() for ch in head):
                return None
            return head.lower()
    return None


def expected(query: str) -> re.Pattern[str] | None:
    """What an answering sentence holds for this question (a quantity, code, a name), if it says."""
    return next((shape for asks, shape in EXPECTS if asks.search(query)), None)
