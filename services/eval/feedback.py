"""Golden-set candidates from users' ratings (`ragstream eval --from-feedback`).

``read`` takes every ``AnswerFeedback`` on the feedback topic; ``candidates`` turns them into lines in
the golden set's format, for a person to review before they join a set: a question rated up proposes
the documents its answer cited as the expected sources, a question rated down proposes nothing (its
answer was wrong or unhelpful), and both carry what the user saw and said under ``review``. Expected
facts are left for the reviewer to write: an answer rated up may still be incomplete, and a fact
copied from the answer would only test that the product repeats itself.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from services.agent.followup import stands_alone
from services.common.codec import Codec, CodecError
from services.common.messages import AnswerFeedback
from services.eval.runner import source_of
from services.stores.cache import normalise
from topics import FEEDBACK, TopicNames


def read(bootstrap: str, names: TopicNames, codec: Codec) -> tuple[list[AnswerFeedback], int]:
    """Every rating on the feedback topic (and how many records could not be read)."""
    from confluent_kafka import Consumer, TopicPartition

    from services.common import kafka_conf
    from services.ops import READ_TO_END, drain

    topic = names(FEEDBACK)
    consumer = Consumer(
        kafka_conf.client(bootstrap) | READ_TO_END | {"group.id": names.prefix + "feedback-reader"}
    )
    try:
        metadata = consumer.list_topics(timeout=10).topics.get(topic)
        if metadata is None:
            return [], 0
        consumer.assign([TopicPartition(topic, p, 0) for p in metadata.partitions])
        records, unreadable = [], 0
        for msg in drain(consumer):
            try:
                records.append(codec.decode(msg.value() or b"", AnswerFeedback, topic))
            except CodecError:
                unreadable += 1
        return records, unreadable
    finally:
        consumer.close()


def latest(records: Iterable[AnswerFeedback]) -> list[AnswerFeedback]:
    """One rating per answer (the latest), then one per question as typed (the latest answer's), newest
    first. A redelivered record (same feedback_id) counts once."""
    by_request: dict[str, AnswerFeedback] = {}
    for record in {r.feedback_id: r for r in records}.values():
        kept = by_request.get(record.request_id)
        if kept is None or (record.given_at, record.feedback_id) > (kept.given_at, kept.feedback_id):
            by_request[record.request_id] = record
    by_question: dict[tuple[str, str, str], AnswerFeedback] = {}
    for record in sorted(by_request.values(), key=lambda r: (r.given_at, r.feedback_id)):
        # "Where was it founded?" asks something else in every conversation: one each
        conversation = "" if stands_alone(record.question, True) else record.session_id
        by_question[(record.tenant, conversation, normalise(record.question))] = record
    return sorted(by_question.values(), key=lambda r: (r.given_at, r.feedback_id), reverse=True)


def candidate(record: AnswerFeedback) -> dict[str, Any]:
    """One golden-set line (``services/eval/golden/README.md``) plus ``review``: what to check."""
    follow_up = not stands_alone(record.question, True)
    conversation = record.session_id if follow_up else ""
    key = f"{record.tenant}\0{conversation}\0{normalise(record.question)}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    cited = list(dict.fromkeys(source_of(c.source_uri) for c in record.citations))
    todo = "write the expected facts; set kind (named, paraphrase, graph, followup, unanswerable) and sources"
    if follow_up:
        todo += "; it refers to an earlier turn: write that turn before it (same conversation, turn 1)"
    return {
        "id": f"fb-{digest}",
        "question": record.question,
        "kind": "followup" if follow_up else "named",
        "sources": cited if record.rating == "UP" else [],
        "facts": [],
        # a follow-up is the second turn of a conversation of its own, whose first the reviewer writes
        "conversation": f"fb-{digest}" if follow_up else None,
        "turn": 2 if follow_up else 1,
        "review": {
            "rating": record.rating.lower(),
            "comment": record.comment,
            "answer": record.answer,
            "cited": cited,
            "index_version": record.index_version,
            "tenant": record.tenant,
            "request_id": record.request_id,
            "given_at": record.given_at.isoformat(),
            "session_id": record.session_id,
            "todo": todo + "; drop this key",
        },
    }


def candidates(records: Iterable[AnswerFeedback], tenant: str | None = None) -> list[dict[str, Any]]:
    """Golden-set candidates, one per distinct question (of ``tenant`` when given), newest first."""
    kept = [r for r in latest(records) if tenant is None or r.tenant == tenant]
    return [candidate(r) for r in kept]
