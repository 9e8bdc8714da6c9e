"""The gateway's frame decoder answers every frame with a message or a ProtocolError (an error
frame, the socket stays open): deep nesting, NUL, lone surrogates, non-UTF-8 bytes and anything
Hypothesis makes up included."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.gateway.protocol import Ask, ErrorCode, ProtocolError, parse_client


def code_of(frame: str | bytes) -> str:
    with pytest.raises(ProtocolError) as info:
        parse_client(frame)
    return info.value.code


def test_deeply_nested_json_is_bad_json_not_a_crash() -> None:
    """60k nested arrays (the decoder's recursion limit) answer bad_json."""
    assert code_of("[" * 60_000 + "]" * 60_000) == ErrorCode.BAD_JSON
    assert code_of('{"type":"ask","question":' + "[" * 60_000 + "]" * 60_000 + "}") == ErrorCode.BAD_JSON


@pytest.mark.parametrize(
    "frame",
    [
        '{"type":"ask","question":"what is\\u0000 this"}',
        '{"type":"ask","question":"lone \\ud800 surrogate"}',
        '{"type":"ask","question":"ok","session_id":"s\\udfff"}',
        '{"type":"ask","question":"ok","history":[["user","hi\\u0000"]]}',
    ],
)
def test_nul_and_lone_surrogates_are_refused_as_bad_message(frame: str) -> None:
    """Text that is not valid Unicode never reaches the agent (it used to fail there)."""
    assert code_of(frame) == ErrorCode.BAD_MESSAGE


def test_non_utf8_bytes_are_bad_json() -> None:
    assert code_of(b'{"type":"ask","question":"\xff\xfe"}') == ErrorCode.BAD_JSON


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.binary(max_size=300), st.text(max_size=300)))
def test_any_frame_gives_a_message_or_a_protocol_error(frame: str | bytes) -> None:
    """Random bytes and text: never another exception."""
    with contextlib.suppress(ProtocolError):
        parse_client(frame)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["ask", "resume", "ping", "other"])},
        optional={
            "question": json_values,
            "session_id": json_values,
            "history": json_values,
            "request_id": json_values,
            "after_seq": json_values,
            "extra": json_values,
        },
    )
)
def test_any_json_object_gives_a_message_or_a_protocol_error(obj: dict[str, object]) -> None:
    """Well-formed JSON with any fields and values: a valid Ask holds only valid, non-empty text."""
    try:
        msg = parse_client(json.dumps(obj))
    except ProtocolError:
        return
    if isinstance(msg, Ask):
        assert msg.question.strip()
        assert "\x00" not in msg.question


def test_an_agent_outage_reaches_the_client_as_unavailable() -> None:
    """ERROR events carry their code: `unavailable` (ask again) or, without one, agent_error."""
    from datetime import UTC, datetime

    from services.common.messages import ReplyEvent
    from services.gateway.protocol import from_reply

    now = datetime.now(UTC)
    down = ReplyEvent(request_id="r", seq=3, type="ERROR", text="down", emitted_at=now, code="unavailable")
    failed = ReplyEvent(request_id="r", seq=3, type="ERROR", text="boom", emitted_at=now)
    assert from_reply(down).model_dump()["code"] == ErrorCode.UNAVAILABLE
    assert from_reply(failed).model_dump()["code"] == ErrorCode.AGENT_ERROR
