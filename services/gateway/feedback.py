"""Ratings of answers: thumbs up or down, with an optional comment, on the ``chat.feedback`` topic.

When an answer ends (its FINAL event), the gateway that streamed it keeps what a rating needs — the
question, the answer, its citations and the index version that produced them — in Redis for
``ttl_s`` (a week by default), under the deployment's prefix. A ``feedback`` message from the
answer's owner, on any gateway instance and after any restart, then becomes one self-contained
``AnswerFeedback`` record: `ragstream eval --from-feedback` needs nothing else to turn it into a
golden-set candidate. Rating again sends a new record; the latest counts (at most
``max_ratings`` per answer, so one socket cannot flood the topic).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from redis.asyncio import Redis

from services.common.messages import AnswerFeedback, Citation, ReplyEvent
from services.gateway.auth import Principal
from services.gateway.protocol import ErrorCode, Feedback, ProtocolError

log = structlog.get_logger("gateway")

WEEK_S = 7 * 24 * 3600


@dataclass(frozen=True, slots=True)
class Answered:
    """What the gateway keeps of one finished answer so that it can be rated later."""

    request_id: str
    principal: Principal
    session_id: str
    question: str
    final: ReplyEvent

    def dumps(self) -> str:
        return json.dumps(
            {
                "tenant": self.principal.tenant,
                "user": self.principal.user,
                "session_id": self.session_id,
                "question": self.question,
                "final": self.final.model_dump(mode="json"),
            }
        )

    @classmethod
    def loads(cls, request_id: str, raw: str | bytes) -> Answered:
        value = json.loads(raw)
        return cls(
            request_id,
            Principal(tenant=value["tenant"], user=value["user"]),
            value["session_id"],
            value["question"],
            ReplyEvent.model_validate(value["final"]),
        )


def record_of(
    answered: Answered, msg: Feedback, gateway_id: str, now: datetime | None = None
) -> AnswerFeedback:
    """The record a rating publishes: the rating plus everything about the answer it rates."""
    final = answered.final
    return AnswerFeedback(
        feedback_id=uuid.uuid4().hex,
        request_id=answered.request_id,
        tenant=answered.principal.tenant,
        user=answered.principal.user,
        session_id=answered.session_id,
        rating="UP" if msg.rating == "up" else "DOWN",
        comment=msg.comment.strip(),
        question=answered.question,
        answer=final.text,
        citations=[Citation.model_validate(c.model_dump()) for c in final.citations],
        index_version=final.index_version or "",
        gateway_id=gateway_id,
        given_at=now or datetime.now(UTC),
    )


class FeedbackBook:
    """Answers kept for rating, in Redis (``<prefix>ans:<request_id>``), and the rating budget."""

    def __init__(self, redis: Redis, prefix: str, ttl_s: int = WEEK_S, max_ratings: int = 10) -> None:
        self.redis = redis
        self.prefix = prefix
        self.ttl_s = ttl_s
        self.max_ratings = max_ratings

    def _key(self, rid: str) -> str:
        return f"{self.prefix}ans:{rid}"

    async def remember(self, answered: Answered) -> None:
        """Best effort: without it the answer cannot be rated, and it is still answered."""
        try:
            await self.redis.set(self._key(answered.request_id), answered.dumps(), ex=self.ttl_s)
        except Exception as exc:
            log.warning("feedback store unavailable", error=repr(exc), request_id=answered.request_id)

    async def rate(
        self, principal: Principal, msg: Feedback, gateway_id: str, local: Answered | None = None
    ) -> AnswerFeedback:
        """The record for ``msg``, or a ProtocolError saying why the answer cannot be rated.
        ``local``: the answer as this instance holds it (its ``remember`` may still be on its way)."""
        try:
            raw = None if local is not None else await self.redis.get(self._key(msg.request_id))
            if local is None and raw is None:
                raise ProtocolError(
                    ErrorCode.NOT_FOUND,
                    f"no answer {msg.request_id} to rate (unknown, or older than {self.ttl_s // 86400} days)",
                )
            answered = local if local is not None else Answered.loads(msg.request_id, raw or b"")
            if answered.principal != principal:
                raise ProtocolError(ErrorCode.FORBIDDEN, "not your answer")
            count_key = self._key(msg.request_id) + ":ratings"
            count = int(await self.redis.incr(count_key))
            if count == 1:
                await self.redis.expire(count_key, self.ttl_s)
        except ProtocolError:
            raise
        except Exception as exc:  # Redis down or a corrupt entry: the client may try again
            log.warning("feedback store unavailable", error=repr(exc), request_id=msg.request_id)
            raise ProtocolError(ErrorCode.UNAVAILABLE, "feedback cannot be recorded right now") from None
        if count > self.max_ratings:
            raise ProtocolError(
                ErrorCode.TOO_MANY_RATINGS, f"this answer was already rated {self.max_ratings} times"
            )
        return record_of(answered, msg, gateway_id)
