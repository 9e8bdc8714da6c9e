"""The extractive answer on real passages: the two kinds of miss the word-overlap answer made (a
paraphrased question refused although the top passage answers it; the neighbour of the answering
sentence quoted), tables, chains, neighbours and what a question asks for. What the answer must be
about is in ``test_gate``."""

from __future__ import annotations

from services.agent.answer import DONT_KNOW, SentenceAnswerer, lexical_answer
from services.agent.sentences import candidates, stems
from tests.unit.answers.support import CATALOGUE, OPTIONS, TRAVEL, Counting, answer, passage


async def test_a_question_in_the_users_own_words_is_answered(answerer: SentenceAnswerer) -> None:
    passages = [passage(TRAVEL, "Travel and expenses policy", "1. Before you travel")]
    question = "How far in advance do I have to book plane tickets for a work trip?"
    assert lexical_answer(question, passages)[0] == DONT_KNOW  # the first miss: refused
    text = await answer(answerer, question, passages)
    assert "14 days" in text
    # the sentence after it leans on it ("Bookings made later than that"), so it is quoted too
    assert "customer emergencies" in text


async def test_the_sentence_that_answers_is_quoted_not_its_neighbour(answerer: SentenceAnswerer) -> None:
    passages = [passage(OPTIONS, "fernlight.configure", "Buffering and delivery")]
    question = "Which option turns on transactional commits to the sink?"
    text = await answer(answerer, question, passages)
    assert text.startswith("The exactly_once option turns on transactional commits")
    assert "spill_to_disk" not in text


async def test_a_table_row_is_read_with_its_header(answerer: SentenceAnswerer) -> None:
    passages = [passage(CATALOGUE, "Tessel sensor catalogue", "Prices")]
    found = candidates(passages, 5)
    # the header is no candidate; each row says what its cells are
    assert [c.text for c in found] == [
        "Item code: KX-011; Name: Tessel Thermo; Type: sensor; List price: EUR 49",
        "Item code: KX-013; Name: Tessel Vibe; Type: sensor; List price: EUR 95",
        "Item code: KX-021; Name: Tessel Hub; Type: gateway; List price: EUR 180",
    ]
    text = await answer(answerer, "What is the list price of the KX-013?", passages)
    assert text.startswith("Item code: KX-013; Name: Tessel Vibe; Type: sensor; List price: EUR 95")


def test_a_row_whose_cells_do_not_line_up_keeps_the_header_as_context() -> None:
    ragged = "Item code | Name | List price\nKX-011 | Thermo | sensor | EUR 49\nKX-013 | Tessel Vibe | EUR 95"
    found = candidates([passage(ragged, "Tessel sensor catalogue", "Prices")], 5)
    assert found[0].text == "KX-011 | Thermo | sensor | EUR 49"
    assert "List price" in found[0].context
    assert found[1].text == "Item code: KX-013; Name: Tessel Vibe; List price: EUR 95"


async def test_who_is_answered_by_a_sentence_naming_a_person(answerer: SentenceAnswerer) -> None:
    about = (
        "This page introduces the people who run Hollowquay Technologies. Hollowquay Technologies is a "
        "software and sensor company that builds tools for moving, measuring and billing data."
    )
    passages = [passage(about, "Leadership")]
    assert await answer(answerer, "Who leads the Data Science team at Hollowquay?", passages) == DONT_KNOW
    teams = [*passages, passage("Priya Venkataraman leads the Insight team.", "Teams", n=1)]
    assert "Priya Venkataraman" in await answer(answerer, "Who leads the Insight team?", teams)
    # a person the extractor's name lists do not know is still a person
    archive = [passage("The Quillfeather archive was catalogued by Orla Brennan in 2031.", "Late arrival")]
    assert "Orla Brennan" in await answer(answerer, "Who catalogued the Quillfeather archive?", archive)


async def test_a_chained_question_quotes_the_link_and_the_answer(answerer: SentenceAnswerer) -> None:
    passages = [
        passage("Marrowgate is owned by the Insight team. It is sold as a hosted service.", "Products"),
        passage("Priya Venkataraman leads the Insight team. Oskar Lindqvist leads Billing.", "Teams", n=1),
    ]
    text = await answer(answerer, "Who leads the team that owns Marrowgate?", passages)
    assert "owned by the Insight team" in text
    assert "Priya Venkataraman" in text
    assert "Oskar" not in text


async def test_sentences_seen_before_are_not_embedded_again(answerer: SentenceAnswerer) -> None:
    passages = [passage(TRAVEL, "Travel and expenses policy", "1. Before you travel")]
    counting = answerer.embed
    assert isinstance(counting, Counting)
    await answerer("How far in advance must flights be booked?", passages)
    first = counting.texts
    await answerer("Which trips need the approval of a head of department?", passages)
    assert counting.texts == first + 1  # only the new question


async def test_a_when_question_is_answered_by_a_time_without_a_number(answerer: SentenceAnswerer) -> None:
    """A time need not be a number ("at dusk on Fridays"): a "when" question is not refused for want of
    a digit (it was, found by hand on the example stack)."""
    passages = [passage("# Probe\n\nThe Wrenfield observatory opens at dusk on Fridays.", "Probe")]
    text = await answer(answerer, "When does the Wrenfield observatory open?", passages)
    assert "at dusk on Fridays" in text


async def test_what_a_question_asks_is_new_and_may_sit_in_the_heading(answerer: SentenceAnswerer) -> None:
    """ "Which version dropped Python 3.7?" is not answered by the 3.7 it names: the version is the
    heading the sentence sits under, and is quoted with it."""
    changes = (
        "- **Breaking:** support for Python 3.7 was dropped.\n- The metrics endpoint speaks OpenMetrics."
    )
    passages = [passage(changes, "Fernlight changelog", "3.0.0 — 2021-05-10")]
    text = await answer(answerer, "In which Fernlight version was support for Python 3.7 dropped?", passages)
    assert text.startswith("3.0.0 — 2021-05-10: **Breaking:** support for Python 3.7 was dropped.")


async def test_a_default_is_answered_by_what_the_page_calls_the_default(answerer: SentenceAnswerer) -> None:
    """An example that sets the option (128) resembles the question more than the default (64) does."""
    reference = (
        "Example:\n\nimport fernlight fernlight.configure(buffer_limit_mb=128, exactly_once=True)\n\n"
        "buffer_limit_mb (int, default 64)\n\nThe buffer limit of each stage, in MiB."
    )
    passages = [passage(reference, "fernlight.configure", "Options")]
    text = await answer(
        answerer, "What is the default value of the Fernlight buffer_limit_mb option?", passages
    )
    assert "default 64" in text
    assert "128" not in text


async def test_a_price_question_is_answered_by_a_price(answerer: SentenceAnswerer) -> None:
    """The KX-013 named in the question is no quantity, and "5 years" is no price: the sentence about
    the sensor's battery is not what "how much does it cost" asks for; the row with its price is."""
    about = passage("The KX-013 measures vibration and has a battery life of 5 years.", "Tessel sensors", n=1)
    passages = [about, passage(CATALOGUE, "Tessel sensor catalogue", "Prices")]
    ranked = await answerer.score("How much does the KX-013 cost?", passages)
    shaped = [c.text for c in ranked if c.shaped]
    assert shaped[0] == "Item code: KX-013; Name: Tessel Vibe; Type: sensor; List price: EUR 95"
    assert about.text not in shaped
    text = await answer(answerer, "What is the price of the KX-013?", passages)
    assert "EUR 95" in text
    assert "battery" not in text


async def test_a_chain_follows_the_link_to_what_the_question_still_asks(answerer: SentenceAnswerer) -> None:
    """The directory row names the team too, but only the product sentence holds what is asked."""
    passages = [
        passage("Priya Venkataraman leads the Insight team.", "Teams"),
        passage("Team | Lead | Office\nInsight | Priya Venkataraman | Montreal", "Teams", "Directory", n=1),
        passage(
            "Marrowgate is an observability product. Marrowgate is owned by the Insight team.",
            "Products",
            n=2,
        ),
    ]
    assert stems("Which product does Priya Venkataraman's team own?") >= {"product", "own"}
    text = await answer(answerer, "Which product does Priya Venkataraman's team own?", passages)
    assert "Marrowgate is owned by the Insight team" in text
    assert "Montreal" not in text


async def test_a_sentence_that_leans_on_the_one_before_is_quoted_with_it(answerer: SentenceAnswerer) -> None:
    history = (
        "In 2018 Hollowquay acquired Pellucid Sensors, a startup in Porto. After the acquisition its staff "
        "became the Edge Devices team. The office in Tallinn closed in 2019."
    )
    passages = [passage(history, "Company history")]
    text = await answer(answerer, "Which team did the staff of the acquired startup become?", passages)
    assert text.startswith("In 2018 Hollowquay acquired Pellucid Sensors")
    assert "Edge Devices team" in text
    assert "Tallinn" not in text


async def test_the_next_sentence_joins_when_it_completes_the_answer(answerer: SentenceAnswerer) -> None:
    """It takes up the answer's words ("carried over") and scores near it: the second half of the
    question (until when) is in it."""
    leave = (
        "Up to 5 days of unused annual leave may be carried over into the next year. Carried-over days "
        "must be taken by 31 March, after which they expire. Sick leave is recorded in the HR system."
    )
    passages = [passage(leave, "Leave policy", "Annual leave")]
    text = await answer(
        answerer, "Can I keep vacation days I didn't use for next year, and until when?", passages
    )
    assert "5 days" in text
    assert "31 March" in text
    assert "Sick leave" not in text


async def test_a_chain_the_passages_do_not_finish_asks_for_a_second_search(
    answerer: SentenceAnswerer,
) -> None:
    question = "Who leads the team that owns the Tessel sensor line?"
    products = [passage("The Tessel sensor line is owned by the Edge Devices team.", "Products")]
    follow = await answerer.next_hop(question, products)
    assert follow is not None
    assert "Edge Devices" in follow
    assert "leads" in follow
    teams = [*products, passage("Rafael Quintanar leads the Edge Devices team.", "Teams", n=1)]
    assert await answerer.next_hop(question, teams) is None  # the chain is complete
    assert await answerer.next_hop("Who leads the Edge Devices team?", products) is None  # no chain
    assert "Rafael Quintanar" in await answer(answerer, question, teams)
