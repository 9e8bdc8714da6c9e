"""What a question names, and whether a text names the same: the acronyms, names and codes that
must appear in what answers it ("the Data Science team" is not answered by pages about other teams,
"the Tessel Vibe" not by a sentence about the KX-011, "the chief marketing officer" not by the chief
technology officer). Pure text functions, no model; ``answer.SentenceAnswerer`` applies them."""

from __future__ import annotations

import re

from services.agent.sentences import STOPWORDS, WORD, identifiers, proper_names, stem

ACRONYM = re.compile(r"(?<![\w.-])[A-Z]{2,6}(?=s?(?![\w.-]))")
_JOINERS = frozenset({"of", "and", "for", "the", "a", "an", "to", "in", "on", "&"})


def acronyms(text: str) -> set[str]:
    """The acronyms a text names ("GPU", "SSO"), not the letters of an identifier (the "KX" of KX-014);
    none in a text written in capitals ("WHAT IS THE BATTERY LIFE?"), whose words are no acronyms."""
    found = ACRONYM.findall(text)
    if len(found) * 2 > len(WORD.findall(text)):
        return set()
    return set(found)


# A capitalised word, its possessive dropped; where it starts a sentence it is no name ("Which", "Does").
_CAPITALISED = re.compile(r"(?<![\w.'-])([A-Z][a-z][\w-]*)(?:'s)?(?![\w.-])")
_STARTS = re.compile(r"(?:^|[.!?:;]\s+|\s[\"'(]|^[\"'(])$")


def names_asked(text: str) -> set[str]:
    """The names a question uses: its capitalised words, lower-cased, but for the first word of a
    sentence ("Who leads the Data Science team?": data, science). None in a text written in title case
    ("What Is The Battery Life Of ..."), whose capitals name nothing; words in capitals never match."""
    found = set()
    for match in _CAPITALISED.finditer(text):
        if not _STARTS.search(text[: match.start()]):
            found.add(match.group(1).lower())
    return set() if found & STOPWORDS else found


def names_held(names: set[str], text: str) -> bool:
    """Whether ``text`` uses every one of ``names``, or a word that starts like it (its first six
    letters: "Estonian" is held by "Estonia", "Hollowquay's" by "Hollowquay")."""
    held = {w[:6] for w in WORD.findall(text.lower())}
    return all(name[:6] in held for name in names)


# A code: letters, then digits somewhere ("KX-011", "v2"); not a number with a unit ("45-minute").
_CODE = re.compile(r"^[a-z](?=.*\d)")


_BREAK = re.compile(r"[^\w\s'-]|\s-+\s")  # punctuation, a dash between words


def _content_runs(text: str) -> list[tuple[str, str, str]]:
    """Three content words in a row, no punctuation between them, each stemmed ("joined" and "join"
    meet); none in capitals, which are placeholders and acronyms ("inspect CHECKPOINT prints"), not
    words of a phrase."""
    runs = []
    for part in _BREAK.split(text):
        words = WORD.findall(part)
        runs += [
            (_key(a), _key(x), _key(b))
            for a, x, b in zip(words, words[1:], words[2:], strict=False)
            if not any(w.isupper() or w.lower() in STOPWORDS or len(w) < 3 for w in (a, x, b))
        ]
    return runs


def _key(word: str) -> str:
    return stem(word.lower())


class Asked:
    """What a question names, read once for all its candidates (a question has dozens)."""

    def __init__(self, query: str) -> None:
        runs = [run.lower() for run in proper_names(query)]
        single = {n for n in names_asked(query) if not any(n in run.split() for run in runs)}
        self.codes = identifiers(query)
        self.names = [*runs, *single, *self.codes]
        self.runs = {(a[:6], b[:6]): x for a, x, b in _content_runs(query)}
        self.words = {_key(w) for w in WORD.findall(query)}

    def about_another(self, text: str) -> bool:
        """Whether ``text`` is about something other than what the question names: it names a code
        the question does not ("KX-011", letters and digits) and none of the names and codes the
        question uses, a name of several words whole ("the Tessel Vibe", not "the Tessel Thermo"). A
        sentence naming no code is about what its passage is about."""
        if not self.names or not any(_CODE.search(i) for i in identifiers(text) - self.codes):
            return False
        lowered = text.lower()
        held = {w[:6] for w in WORD.findall(lowered)}  # what names_held reads, once for every name
        return not any(
            bool(re.search(rf"\b{re.escape(name)}\b", lowered)) if " " in name else name[:6] in held
            for name in self.names
        )

    def swaps_a_word(self, text: str) -> bool:
        """Whether ``text`` says what the question says with its middle word swapped: "chief
        technology officer" for the "chief marketing officer" asked about: three content words in a
        row, the outer two the same by their first six letters ("financial" and "finance"), the
        middle ones not, and neither middle word anywhere in the other text."""
        if not self.runs:
            return False
        in_text = {_key(w) for w in WORD.findall(text)}
        return any(
            (x := self.runs.get((a[:6], b[:6]))) is not None
            and x[:6] != y[:6]
            and x not in in_text
            and y not in self.words
            for a, y, b in _content_runs(text)
        )


def about_another(query: str, text: str) -> bool:
    """``Asked.about_another`` for one text."""
    return Asked(query).about_another(text)


def swaps_a_word(query: str, text: str) -> bool:
    """``Asked.swaps_a_word`` for one text."""
    return Asked(query).swaps_a_word(text)


def spelled_out(acronym: str, text: str) -> bool:
    """Whether ``text`` names the acronym as itself or by its words' initials ("graphics processing
    unit", "multi-factor authentication"; "of", "and" and the like may sit between)."""
    if re.search(rf"(?<![\w-]){re.escape(acronym)}s?(?![\w-])", text, re.I):
        return True
    letters = acronym.lower()
    words = [w.lower() for w in re.findall(r"[A-Za-z]+|&", text)]
    for start, word in enumerate(words):
        if word[0] != letters[0]:
            continue
        matched, i = 1, start + 1
        while matched < len(letters) and i < len(words):
            if words[i][0] == letters[matched]:
                matched += 1
            elif words[i] not in _JOINERS:
                break
            i += 1
        if matched == len(letters):
            return True
    return False
