"""Follow-up questions made to stand alone: a pronoun replaced by what it refers to.

"How much does it cost?" after "What does the KX-012 measure?" asks about the KX-012, and "Which
product does her team own?" after "Who leads the Insight team?" (answered "Priya Venkataraman leads
the Insight team") asks about Priya Venkataraman's team. The referent is looked for in the
conversation, latest turn first and, within a turn, in the user's question before the answer: the
question names what the user is asking about, the answer names much else besides. A personal pronoun
(he, she, her, his) takes a person; it, its, they and their take anything else. Referents are the
entity extractor's names and the identifiers a text holds (``KX-012``, ``compress_checkpoints``,
``fernlight.configure``), which no name list knows. A possessive becomes "X's".

Without an LLM this is the whole of rewriting; with one, the planner's rewrite replaces it.
"""

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Referent:
    name: str
    person: bool = False


Referents = Callable[[str], list[Referent]]

PRONOUN = re.compile(r"\b(it|its|they|them|their|he|she|him|her|his)\b", re.IGNORECASE)
PERSONAL = frozenset({"he", "she", "him", "her", "his"})
POSSESSIVE = frozenset({"its", "their", "his"})
# "her" is possessive when a noun follows it ("her team"), an object otherwise ("ask her about it").
NOT_A_NOUN = frozenset(
    {"about", "after", "and", "as", "at", "before", "but", "by", "for", "from", "in", "into", "of", "on"}
    | {"or", "than", "that", "to", "when", "where", "with"}
)
# An identifier names one thing: it holds a letter and a digit, or joins words with "_" or "." (not a
# version or a year: those are what a question asks, not what it is about).
IDENTIFIER = re.compile(
    r"(?<![\w.-])(?=[\w.-]*[A-Za-z])(?=[\w.-]*(?:\d|[A-Za-z][._][A-Za-z]))[A-Za-z0-9][\w.-]*[A-Za-z0-9]"
)
CITATION = re.compile(r"\s*\[\d{1,2}\]")


def referents(text: str, named: Sequence[tuple[str, bool]]) -> list[Referent]:
    """What ``text`` names, in the order it names them: ``named`` as (name, is a person) from the
    entity extractor, and the identifiers it holds."""
    found: dict[str, tuple[int, Referent]] = {}
    for name, person in named:
        at = text.find(name)
        if name and name not in found:
            found[name] = (at if at >= 0 else len(text), Referent(name, person))
    for match in IDENTIFIER.finditer(text):
        name = match.group(0)
        if not any(name in other for other in found):
            found[name] = (match.start(), Referent(name))
    return [referent for _, referent in sorted(found.values(), key=lambda pair: pair[0])]


def latest_first(history: Sequence[tuple[str, str]]) -> Iterator[str]:
    """The conversation's texts, latest turn first; within a turn the question, then the answer
    (its citation marks dropped)."""
    turns: list[list[tuple[str, str]]] = []
    for role, content in history:
        if role == "user" or not turns:
            turns.append([])
        turns[-1].append((role, content))
    for turn in reversed(turns):
        for _, content in sorted(turn, key=lambda message: message[0] != "user"):
            yield CITATION.sub("", content)


def rewrite(question: str, history: Sequence[tuple[str, str]], referents_in: Referents) -> str:
    """``question`` with its first pronoun replaced by the referent the conversation gives it;
    unchanged when the question names its own (a person for "she", anything else for "it")."""
    match = PRONOUN.search(question)
    if match is None:
        return question
    pronoun = match.group(1).lower()
    person = pronoun in PERSONAL
    if any(r.person == person for r in referents_in(question)):
        return question
    for text in latest_first(history):
        found = [r for r in referents_in(text) if r.person == person]
        if found:
            return _replace(question, match, found[0].name)
    return question


def _replace(question: str, match: re.Match[str], name: str) -> str:
    pronoun = match.group(1).lower()
    following = re.match(r"\s+([A-Za-z]+)", question[match.end() :])
    possessive = pronoun in POSSESSIVE or (
        pronoun == "her" and following is not None and following.group(1).lower() not in NOT_A_NOUN
    )
    return question[: match.start()] + (f"{name}'s" if possessive else name) + question[match.end() :]


# Words that stand for something said before: a question holding one after a conversation asks
# about whatever it refers to, which the same words in another conversation do not.
_REFERRING = "it its this that these those they them their theirs he him his she her hers there here"
_REFERS = frozenset(_REFERRING.split())


def stands_alone(question: str, follows_a_conversation: bool) -> bool:
    """Whether ``question`` means the same whoever asks it: asked first, or with every pronoun
    resolved. "How much does that cost?" after the KX-012 and after the KX-013 are two questions."""
    return not follows_a_conversation or not _REFERS & {w.lower() for w in re.findall(r"[A-Za-z]+", question)}
