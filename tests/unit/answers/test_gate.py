"""The "I don't know" gate on real passages: what the question names (identifiers, acronyms, names,
the thing a yes/no question asks about) must be what the answer is about, and what it asks for (money,
a weight, a phone number, a year ...) must be in it. Each test is a question a golden or held-out set
got wrong, with the passages it was answered from."""

from __future__ import annotations

from services.agent.answer import DONT_KNOW, SentenceAnswerer
from services.agent.naming import about_another, acronyms, names_asked, spelled_out, swaps_a_word
from services.agent.sentences import identifiers
from services.agent.shapes import MONEY, QUANTITY, asked_thing, expected
from tests.unit.answers.support import CONFIGURE, HISTORY, OPTIONS, answer, passage


async def test_an_identifier_the_passages_never_name_is_not_answered(answerer: SentenceAnswerer) -> None:
    releases = "Fernlight 4.1 was released in March 2024. Fernlight 4.0 was released in September 2023."
    passages = [passage(releases, "Fernlight changelog")]
    assert identifiers("When will Fernlight 5.0 be released?") == {"5.0"}
    assert await answer(answerer, "When will Fernlight 5.0 be released?", passages) == DONT_KNOW
    assert "March 2024" in await answer(answerer, "When was Fernlight 4.1 released?", passages)


async def test_a_word_before_a_full_stop_is_no_identifier(answerer: SentenceAnswerer) -> None:
    """A question of two sentences asked the passages for the last word of its first ("caregiver.",
    read as a dotted name) and was refused (held-out 3: r002, session 14)."""
    question = (
        "My partner is having a baby and I'm not the main caregiver. How much fully paid time off do I get?"
    )
    assert identifiers(question) == set()
    assert identifiers("Drop Python 3.7 support. Use fernlight.configure() and KX-014.") == {
        "3.7",
        "fernlight.configure",
        "kx-014",
    }
    parental = (
        "The primary carer of a new child, by birth or adoption, receives 20 weeks of parental leave at full "
        "pay. The secondary carer receives 6 weeks at full pay, which may be taken in up to three blocks "
        "within the first year. Parents may request a further period of unpaid leave of up to six months."
    )
    found = await answer(answerer, question, [passage(parental, "Leave policy", "Parental leave")])
    assert "6 weeks" in found


async def test_an_acronym_the_passages_never_name_is_not_answered(answerer: SentenceAnswerer) -> None:
    """The page's introduction was quoted for "GPU acceleration", which the page never mentions
    (session 12: the bundled set's q065)."""
    question = "Which fernlight.configure option enables GPU acceleration?"
    assert acronyms(question) == {"GPU"}
    assert acronyms("What is the battery life of the KX-014?") == set()  # an identifier's letters
    assert acronyms("WHICH OPTION ENABLES GPU ACCELERATION?") == set()  # written in capitals
    passages = [
        passage(CONFIGURE, "Fernlight configuration reference", "Configuration options"),
        passage(OPTIONS, "Fernlight configuration reference", "Buffering and delivery", n=1),
    ]
    assert await answer(answerer, question, passages) == DONT_KNOW
    # named by its words is named
    assert spelled_out("MFA", "turn on multi-factor authentication")
    assert not spelled_out("GPU", CONFIGURE + OPTIONS)
    gpu = "The use_accelerator option turns on graphics processing unit acceleration for the embed stage."
    found = [passage(gpu, "Fernlight configuration reference", "Options", n=2), *passages]
    assert "use_accelerator" in await answer(answerer, question, found)


async def test_a_documents_file_name_names_what_it_is_about(answerer: SentenceAnswerer) -> None:
    """The fernlight CLI's page says "command-line tool", never "CLI": its file name, fernlight-cli.txt,
    does (held-out 2: n006, refused by the acronym rule until session 14)."""
    question = (
        "If a Fernlight pipeline does not name a store, where does the fernlight CLI keep checkpoints "
        "by default (FERNLIGHT_HOME)?"
    )
    environment = (
        "ENVIRONMENT\n    FERNLIGHT_HOME   where checkpoints are kept when a pipeline does not name a store\n"
        "                     (default: ~/.fernlight)\n"
        "    FERNLIGHT_LOG    the log level: debug, info, warning or error (default: info)"
    )
    cli = passage(environment, "FERNLIGHT COMMAND-LINE TOOL")
    assert await answer(answerer, question, [cli]) == DONT_KNOW  # file:///docs/FERNLIGHT COMMAND-LINE TOOL.md
    named = cli.model_copy(update={"source_uri": "golden://fernlight-cli.txt"})
    assert "~/.fernlight" in await answer(answerer, question, [named])


async def test_a_yes_no_question_is_answered_only_by_what_names_its_thing(answerer: SentenceAnswerer) -> None:
    """ "Is there car parking at the Rotterdam office?" was answered with the office's manager, and "Does
    Hollowquay give employees a company car?" with the travel policy's scope (session 12: q066, q063).
    The thing asked about must be named, by its word or one that means it (a gym is a fitness room)."""
    assert asked_thing("Is there car parking at the Rotterdam office?") == "parking"
    assert asked_thing("Does Hollowquay give employees a company car?") == "car"
    assert asked_thing("Does Fernlight support Python 3.12?") is None  # a name: the identifier gate's
    assert asked_thing("How long can I stay?") is None
    office = (
        "The office manager in Rotterdam is Joris Mertens. The Rotterdam office is on Lekhavenweg 212, "
        "a ten-minute walk from Rotterdam Zuid station."
    )
    travel = (
        "Applies to all Hollowquay Technologies employees and contractors travelling on company business."
    )
    passages = [passage(office, "Offices"), passage(travel, "Travel policy", n=1)]
    assert await answer(answerer, "Is there car parking at the Rotterdam office?", passages) == DONT_KNOW
    assert await answer(answerer, "Does Hollowquay give employees a company car?", passages) == DONT_KNOW
    facilities = passage(
        "The Rotterdam office has a fitness room with showers on the ground floor.", "Offices", n=2
    )
    assert "fitness room" in await answer(answerer, "Is there a gym at the Rotterdam office?", [facilities])
    bikes = passage("Bicycle parking is in the courtyard behind the Rotterdam office.", "Offices", n=3)
    assert "courtyard" in await answer(answerer, "Is there bike parking at the Rotterdam office?", [bikes])


async def test_a_name_the_passages_never_use_is_not_answered(answerer: SentenceAnswerer) -> None:
    """ "Who leads the Data Science team at Hollowquay?" scored 0.44 against "Anneliese Brandvold leads
    the Platform Runtime team", just under the gate: a name the passages never use is no longer left to
    the score (session 13)."""
    assert names_asked("Who leads the Data Science team at Hollowquay?") == {"data", "science", "hollowquay"}
    assert names_asked("Does Fernlight need Python?") == {"fernlight", "python"}  # not "Does"
    assert names_asked("WHO LEADS THE DATA SCIENCE TEAM?") == set()  # written in capitals
    teams = [
        passage("Anneliese Brandvold leads the Platform Runtime team at Hollowquay.", "Teams"),
        passage("Priya Venkataraman leads the Insight team, which works on data pipelines.", "Teams", n=1),
    ]
    assert await answer(answerer, "Who leads the Data Science team at Hollowquay?", teams) == DONT_KNOW
    assert "Anneliese Brandvold" in await answer(answerer, "Who leads the Platform Runtime team?", teams)
    # a possessive is dropped; a name is held by a word starting with its first six letters
    assert names_asked("Who leads Hollowquay's Insight team?") == {"hollowquay", "insight"}
    estonia = [passage("The Tallinn office, in Estonia, has a sauna bookable in 45-minute slots.", "Offices")]
    assert "45-minute" in await answer(answerer, "How long is a sauna slot in the Estonian office?", estonia)


THERMO = """The KX-011 measures temperature only, from -40 °C to +85 °C with an accuracy of 0.2 °C. It
reports every five minutes by default. The KX-011 has a battery life of 5 years on its two AA lithium
cells. Its housing is rated IP67, so it can be hosed down in food-processing areas."""

VIBE = """The KX-013 is a three-axis vibration sensor for motors, pumps and conveyors. It is fixed with a
magnetic base or an M6 stud and samples at up to 3.2 kHz. The KX-013 has a battery life of 18 months
at the default sampling plan."""


async def test_a_sentence_about_another_product_does_not_answer(answerer: SentenceAnswerer) -> None:
    """ "What is the operating temperature range of the Tessel Vibe?" was answered with the KX-011's
    range (the held-out set's h114): a sentence naming another code, and not what the question names,
    is about something else, its heading's "Tessel" notwithstanding."""
    question = "What is the operating temperature range of the Tessel Vibe?"
    catalogue = "Tessel sensor catalogue"
    passages = [
        passage(THERMO, catalogue, "KX-011 Tessel Thermo"),
        passage(VIBE, catalogue, "KX-013 Tessel Vibe", n=1),
    ]
    assert about_another(question, f"KX-011 Tessel Thermo {THERMO}")
    assert not about_another(question, f"KX-013 Tessel Vibe {VIBE}")
    assert not about_another(
        "How long is a sauna slot in the Estonian office?", "bookable in 45-minute slots"
    )
    assert await answer(answerer, question, passages) == DONT_KNOW
    assert "-40 °C" in await answer(answerer, "What is the temperature range of the Tessel Thermo?", passages)
    # asked for a weight, a price is no answer
    row = "Item code: KX-022; Name: Tessel Gateway Pro; Type: gateway; List price: EUR 610"
    gateway = [passage(row, catalogue)]
    assert await answer(answerer, "How much does the Tessel Gateway Pro weigh?", gateway) == DONT_KNOW
    assert "EUR 610" in await answer(answerer, "How much does the Tessel Gateway Pro cost?", gateway)


async def test_a_title_with_one_word_swapped_does_not_answer(answerer: SentenceAnswerer) -> None:
    """ "Who is the chief marketing officer of Hollowquay Technologies?" was answered with the chief
    technology officer (the held-out set's h116)."""
    cto = (
        "Ingrid Solheim is the chief technology officer of Hollowquay Technologies. She joined from a "
        "Norwegian energy company in 2017 as head of engineering and took over as CTO in 2021."
    )
    passages = [passage(cto, "Leadership", "Ingrid Solheim — Chief Technology Officer")]
    assert swaps_a_word("Who is the chief marketing officer?", "the chief technology officer of Hollowquay")
    assert not swaps_a_word("Who is the chief technology officer?", "the chief technology officer of it")
    question = "Who is the chief marketing officer of Hollowquay Technologies?"
    assert await answer(answerer, question, passages) == DONT_KNOW
    who = "Who is the chief technology officer of Hollowquay Technologies?"
    assert "Ingrid Solheim" in await answer(answerer, who, passages)


async def test_a_value_with_a_form_of_its_own_is_answered_in_that_form(answerer: SentenceAnswerer) -> None:
    """A phone number, an e-mail address, a percentage, a year and opening hours have forms of their
    own; the held-out sets' unanswerable questions were answered by "by phone", "Grete Kask leads People
    Operations", "discounts start at 100 units", "Oskar Lindqvist leads the Billing Systems team" and
    the office manager's name (session 13). The same passages with the value in them answer."""
    security = (
        "If a laptop or phone is lost or stolen, report it within 1 hour to the security desk through the "
        "`#security-desk` channel or by phone, so that it can be wiped remotely."
    )
    people = "Grete Kask leads People Operations, which looks after hiring, onboarding, leave and payroll."
    catalogue = "Volume discounts start at 100 units; ask your account manager."
    billing = "Oskar Lindqvist leads the Billing Systems team."
    office = "The office manager in Rotterdam is Joris Mertens. The office is on Lekhavenweg 212."
    cases = [
        ("What is the phone number of the security desk?", security,
         "The security desk's number is +31 10 555 0199."),
        ("What is Grete Kask's email address?", people,
         "Grete Kask's address is grete.kask@hollowquay.example."),
        ("What percentage discount do customers get on 100 sensors?", catalogue,
         "Customers ordering 100 sensors get a discount of 8%."),
        ("In which year did Oskar Lindqvist join Hollowquay?", billing,
         "Oskar Lindqvist joined Hollowquay in 2018."),
        ("What are the reception opening hours at the Rotterdam office?", office,
         "Rotterdam reception is open 08:30-17:30."),
    ]  # fmt: skip
    for question, without, value in cases:
        assert await answer(answerer, question, [passage(without, "Handbook")]) == DONT_KNOW, question
        found = await answer(
            answerer, question, [passage(without, "Handbook"), passage(value, "Handbook", n=1)]
        )
        assert value in found, question


async def test_a_swapped_word_is_read_within_a_sentence(answerer: SentenceAnswerer) -> None:
    """ "Bartholomew Eze run finance" is no swap of "Bartholomew Eze — Chief Financial Officer": a heading's
    dash breaks the run (the held-out set's m008 was refused)."""
    question = "What kind of company did Bartholomew Eze run finance for before he joined Hollowquay?"
    assert not swaps_a_word(question, "Bartholomew Eze — Chief Financial Officer")
    text = "Bartholomew Eze joined in 2019 as chief financial officer. He previously ran finance for a " \
        "container-terminal operator."  # fmt: skip
    history = "Hollowquay Technologies was founded on 14 March 2011 in Tallinn, Estonia."
    passages = [
        passage(text, "Leadership", "Bartholomew Eze — Chief Financial Officer"),
        passage(history, "Company history", n=1),
    ]
    assert "container-terminal operator" in await answer(answerer, question, passages)


async def test_revenue_is_answered_by_an_amount_of_money(answerer: SentenceAnswerer) -> None:
    """ "What was Hollowquay's revenue in 2022?" was answered by "Quayside Billing followed in 2022."
    (session 12: q064): revenue is counted in money; a year is not an amount."""
    question = "What was Hollowquay's revenue in 2022?"
    assert expected(question) is MONEY
    assert expected("How long can a carer stay home on full salary?") is QUANTITY  # a duration
    history = [
        passage(HISTORY, "Hollowquay Technologies company history", "Billing and the present day"),
        passage(
            "Hollowquay Technologies is a software and sensor company that builds tools for moving, "
            "measuring and billing data. Hollowquay moved its headquarters to Rotterdam in 2016.",
            "Hollowquay Technologies company history",
            n=1,
        ),
    ]
    assert await answer(answerer, question, history) == DONT_KNOW
    report = "In 2022 Hollowquay's revenue reached EUR 41 million, up from EUR 33 million."
    found = [passage(report, "Annual report", n=2), *history]
    assert "EUR 41 million" in await answer(answerer, question, found)
