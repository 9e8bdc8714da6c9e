"""The gateway's JSON protocol over one websocket: client and server messages as pydantic models.

Every text (or UTF-8 binary) frame holds one JSON object with a ``type``. ``parse_client`` turns a
frame into a client message or raises ``ProtocolError`` with the ``code`` of the ``error`` reply; it
never lets another exception out. See docs/gateway-protocol.md.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from services.common.messages import Citation, ReplyEvent

MAX_QUESTION_CHARS = 4000
_UNSAFE = re.compile("[\x00\ud800-\udfff]")  # NUL, and surrogates that JSON escapes can smuggle in
MAX_HISTORY_TURNS = 50
MAX_ID_CHARS = 128
MAX_COMMENT_CHARS = 2000


class ErrorCode:
    BAD_JSON = "bad_json"  # the frame is not a JSON object
    UNKNOWN_TYPE = "unknown_type"  # no or unknown "type"
    BAD_MESSAGE = "bad_message"  # a known type with missing or invalid fields
    QUESTION_EMPTY = "question_empty"
    QUESTION_TOO_LONG = "question_too_long"
    RATE_LIMITED = "rate_limited"  # comes with retry_after_s
    NOT_FOUND = "not_found"  # resume of a request this gateway does not hold (or no longer)
    FORBIDDEN = "forbidden"  # resume of another tenant's or user's request
    GAP = "gap"  # resume asked for events the gateway no longer keeps
    UNAVAILABLE = "unavailable"  # the question could not be published; safe to ask again
    AGENT_ERROR = "agent_error"  # the agent failed the request (an ERROR reply event)
    AGENT_TIMEOUT = "agent_timeout"  # the agent sent nothing for request_timeout_s; the request is closed
    NOT_ANSWERED = "not_answered"  # feedback on a request that has no final answer (yet)
    TOO_MANY_RATINGS = "too_many_ratings"  # this answer was rated FeedbackBook.max_ratings times already


class ProtocolError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class _Msg(BaseModel):
    model_config = ConfigDict(extra="forbid")


# ---------------------------------------------------------------- client → server


class Ask(_Msg):
    type: Literal["ask"]
    question: str
    session_id: str = Field(default="", max_length=MAX_ID_CHARS)
    # [[role, text], ...], oldest first
    history: list[tuple[Literal["user", "assistant", "system"], str]] = Field(
        default_factory=list, max_length=MAX_HISTORY_TURNS
    )


class Resume(_Msg):
    type: Literal["resume"]
    request_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    after_seq: int = Field(default=-1, ge=-1)  # -1: replay from the first event


class Ping(_Msg):
    type: Literal["ping"]


class Feedback(_Msg):
    """A rating of an answered request; rating again replaces the earlier one (the latest counts)."""

    type: Literal["feedback"]
    request_id: str = Field(min_length=1, max_length=MAX_ID_CHARS)
    rating: Literal["up", "down"]
    comment: str = Field(default="", max_length=MAX_COMMENT_CHARS)


ClientMessage = Annotated[Ask | Resume | Ping | Feedback, Field(discriminator="type")]
_client_adapter: TypeAdapter[Ask | Resume | Ping | Feedback] = TypeAdapter(ClientMessage)
CLIENT_TYPES = ("ask", "resume", "ping", "feedback")


def parse_client(
    frame: str | bytes, max_question_chars: int = MAX_QUESTION_CHARS
) -> Ask | Resume | Ping | Feedback:
    try:
        data = json.loads(frame)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(ErrorCode.BAD_JSON, f"not JSON: {exc}") from None
    except RecursionError:  # a frame of thousands of nested arrays: the decoder's stack, not ours
        raise ProtocolError(ErrorCode.BAD_JSON, "not JSON we accept: nested too deeply") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_JSON, "a message must be a JSON object")
    kind = data.get("type")
    if kind not in CLIENT_TYPES:
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE,
            f"unknown message type {str(kind)[:40]!r}; known: {', '.join(CLIENT_TYPES)}",
        )
    try:
        msg = _client_adapter.validate_python(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:3])
        raise ProtocolError(ErrorCode.BAD_MESSAGE, f"invalid {kind}: {problems}") from None
    if isinstance(msg, Feedback) and _UNSAFE.search(msg.comment + msg.request_id):
        raise ProtocolError(
            ErrorCode.BAD_MESSAGE, "text holds a NUL or a lone surrogate (not valid Unicode text)"
        )
    if isinstance(msg, Ask):
        texts = [msg.question, msg.session_id, *(text for _, text in msg.history)]
        if any(_UNSAFE.search(t) for t in texts):
            raise ProtocolError(
                ErrorCode.BAD_MESSAGE, "text holds a NUL or a lone surrogate (not valid Unicode text)"
            )
        if not msg.question.strip():
            raise ProtocolError(ErrorCode.QUESTION_EMPTY, "the question is empty")
        if len(msg.question) > max_question_chars:
            raise ProtocolError(
                ErrorCode.QUESTION_TOO_LONG, f"the question exceeds {max_question_chars} characters"
            )
    return msg


# ---------------------------------------------------------------- server → client


class Accepted(_Msg):
    type: Literal["accepted"] = "accepted"
    request_id: str


class Resumed(_Msg):
    type: Literal["resumed"] = "resumed"
    request_id: str
    after_seq: int


class Status(_Msg):
    type: Literal["status"] = "status"
    request_id: str
    seq: int
    step: str


class Token(_Msg):
    type: Literal["token"] = "token"
    request_id: str
    seq: int
    text: str


class Citations(_Msg):
    type: Literal["citations"] = "citations"
    request_id: str
    seq: int
    citations: list[Citation]


class Final(_Msg):
    type: Literal["final"] = "final"
    request_id: str
    seq: int
    text: str


class Error(_Msg):
    type: Literal["error"] = "error"
    request_id: str | None = None
    seq: int | None = None  # set when the agent ended the request with an ERROR event
    code: str
    message: str
    retry_after_s: float | None = None


class Pong(_Msg):
    type: Literal["pong"] = "pong"


class FeedbackRecorded(_Msg):
    """The rating is on the feedback topic."""

    type: Literal["feedback_recorded"] = "feedback_recorded"
    request_id: str
    feedback_id: str
    rating: Literal["up", "down"]


ServerMessage = Accepted | Resumed | Status | Token | Citations | Final | Error | Pong | FeedbackRecorded


def from_reply(event: ReplyEvent) -> ServerMessage:
    """The client message for one reply event of the agent."""
    rid, seq = event.request_id, event.seq
    match event.type:
        case "STATUS":
            return Status(request_id=rid, seq=seq, step=event.step or event.text)
        case "TOKEN":
            return Token(request_id=rid, seq=seq, text=event.text)
        case "CITATIONS":
            return Citations(request_id=rid, seq=seq, citations=event.citations)
        case "FINAL":
            return Final(request_id=rid, seq=seq, text=event.text)
        case _:
            code = ErrorCode.UNAVAILABLE if event.code == "unavailable" else ErrorCode.AGENT_ERROR
            return Error(request_id=rid, seq=seq, code=code, message=event.text or "failed")


def dump(msg: ServerMessage) -> str:
    return msg.model_dump_json(exclude_none=True)


def load_server(frame: str | bytes) -> dict[str, Any]:
    """For clients and tests: a server frame as a dict."""
    data = json.loads(frame)
    if not isinstance(data, dict):
        raise ValueError(f"not a protocol message: {frame!r:.80}")
    return data
