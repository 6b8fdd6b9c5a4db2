"""LLM usage helpers: every token billed exactly once, whatever the provider's convention."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from tally_sdk.llm import detect_style, usage_from_anthropic, usage_from_openai, usage_from_response

pytestmark: list[Any] = []


def by_direction(events: list[dict[str, Any]]) -> dict[str, int]:
    return {e["properties"]["direction"]: e["quantity"] for e in events}


def test_openai_chat_usage_splits_cached_tokens_out_of_prompt_tokens() -> None:
    usage = {
        "prompt_tokens": 1200,
        "completion_tokens": 300,
        "total_tokens": 1500,
        "prompt_tokens_details": {"cached_tokens": 1000},
    }
    events = usage_from_openai(usage, model="gpt-4o")
    assert by_direction(events) == {"input": 200, "cached_input": 1000, "output": 300}
    assert sum(e["quantity"] for e in events) == usage["total_tokens"]


def test_openai_event_shape_is_ready_for_client_usage() -> None:
    events = usage_from_openai(
        {"prompt_tokens": 10, "completion_tokens": 5}, model="gpt-4o", customer="acme", task_id="t-1"
    )
    assert events[0] == {
        "meter": "llm_tokens",
        "quantity": 10,
        "properties": {"model": "gpt-4o", "direction": "input"},
        "customer": "acme",
        "task_id": "t-1",
    }


def test_customer_and_task_are_left_out_when_not_given_so_task_scope_can_fill_them() -> None:
    events = usage_from_openai({"prompt_tokens": 10, "completion_tokens": 5}, model="m")
    assert all("customer" not in e and "task_id" not in e for e in events)


def test_openai_responses_api_usage_object() -> None:
    usage = SimpleNamespace(
        input_tokens=500,
        output_tokens=80,
        total_tokens=580,
        input_tokens_details=SimpleNamespace(cached_tokens=128),
        output_tokens_details=SimpleNamespace(reasoning_tokens=40),
    )
    events = usage_from_openai(usage, model="o4-mini")
    # Reasoning tokens are inside output_tokens already: not billed a second time.
    assert by_direction(events) == {"input": 372, "cached_input": 128, "output": 80}


def test_openai_details_may_be_missing_or_null() -> None:
    assert by_direction(usage_from_openai({"prompt_tokens": 7, "completion_tokens": 3}, model="m")) == {
        "input": 7,
        "output": 3,
    }
    as_object = SimpleNamespace(prompt_tokens=7, completion_tokens=3, prompt_tokens_details=None)
    assert by_direction(usage_from_openai(as_object, model="m")) == {"input": 7, "output": 3}
    usage = {"prompt_tokens": 7, "completion_tokens": 3, "prompt_tokens_details": {"cached_tokens": None}}
    assert by_direction(usage_from_openai(usage, model="m")) == {"input": 7, "output": 3}


def test_zero_quantities_are_skipped() -> None:
    usage = {"prompt_tokens": 50, "completion_tokens": 0, "prompt_tokens_details": {"cached_tokens": 50}}
    assert by_direction(usage_from_openai(usage, model="m")) == {"cached_input": 50}
    assert usage_from_openai({"prompt_tokens": 0, "completion_tokens": 0}, model="m") == []


def test_whole_openai_response_supplies_the_model() -> None:
    response = SimpleNamespace(
        id="chatcmpl-1",
        model="gpt-4o-2024-08-06",
        usage=SimpleNamespace(prompt_tokens=3, completion_tokens=4, prompt_tokens_details=None),
    )
    events = usage_from_openai(response)
    assert {e["properties"]["model"] for e in events} == {"gpt-4o-2024-08-06"}


def test_explicit_model_wins_over_response_model() -> None:
    response = {"model": "gpt-4o-2024-08-06", "usage": {"prompt_tokens": 3, "completion_tokens": 4}}
    assert usage_from_openai(response, model="gpt-4o")[0]["properties"]["model"] == "gpt-4o"


def test_model_is_required() -> None:
    with pytest.raises(ValueError, match="model"):
        usage_from_openai({"prompt_tokens": 3, "completion_tokens": 4})


def test_cached_tokens_above_prompt_tokens_is_refused() -> None:
    with pytest.raises(ValueError, match="cached_tokens"):
        usage_from_openai({"prompt_tokens": 3, "prompt_tokens_details": {"cached_tokens": 4}}, model="m")


@pytest.mark.parametrize("bad", [-1, 1.5, "10", True])
def test_bad_token_counts_are_refused(bad: Any) -> None:
    with pytest.raises(ValueError):
        usage_from_openai({"prompt_tokens": bad, "completion_tokens": 1}, model="m")


def test_integral_floats_from_json_are_accepted() -> None:
    events = usage_from_anthropic({"input_tokens": 10.0, "output_tokens": 2.0}, model="m")
    assert by_direction(events) == {"input": 10, "output": 2}


def test_not_an_openai_usage_block() -> None:
    with pytest.raises(ValueError, match="OpenAI"):
        usage_from_openai({"foo": 1}, model="m")


def test_anthropic_cache_reads_and_writes_are_separate_from_input() -> None:
    usage = {
        "input_tokens": 25,
        "output_tokens": 400,
        "cache_read_input_tokens": 3000,
        "cache_creation_input_tokens": 1200,
    }
    events = usage_from_anthropic(usage, model="claude-sonnet-4-5")
    # Anthropic's input_tokens excludes both cache counts, so nothing is subtracted.
    assert by_direction(events) == {
        "input": 25,
        "cached_input": 3000,
        "cache_write": 1200,
        "output": 400,
    }


def test_anthropic_sdk_like_object_with_null_cache_fields() -> None:
    usage = SimpleNamespace(
        input_tokens=12,
        output_tokens=6,
        cache_read_input_tokens=None,
        cache_creation_input_tokens=None,
        server_tool_use=None,
    )
    assert by_direction(usage_from_anthropic(usage, model="claude")) == {"input": 12, "output": 6}


def test_whole_anthropic_message_supplies_the_model() -> None:
    message = {
        "id": "msg_1",
        "type": "message",
        "model": "claude-opus-4-1",
        "usage": {"input_tokens": 5, "output_tokens": 9, "cache_read_input_tokens": 100},
    }
    events = usage_from_anthropic(message)
    assert by_direction(events) == {"input": 5, "cached_input": 100, "output": 9}
    assert {e["properties"]["model"] for e in events} == {"claude-opus-4-1"}


def test_not_an_anthropic_usage_block() -> None:
    with pytest.raises(ValueError, match="Anthropic"):
        usage_from_anthropic({"prompt_tokens": 1}, model="m")


def test_meter_name_and_extra_properties_are_configurable_but_cannot_mislabel() -> None:
    events = usage_from_anthropic(
        {"input_tokens": 1, "output_tokens": 1},
        model="claude",
        meter="claude_tokens",
        properties={"region": "eu", "direction": "sideways", "model": "other"},
    )
    assert {e["meter"] for e in events} == {"claude_tokens"}
    assert events[0]["properties"] == {"region": "eu", "model": "claude", "direction": "input"}


@pytest.mark.parametrize(
    ("payload", "style"),
    [
        ({"prompt_tokens": 1, "completion_tokens": 1}, "openai"),
        ({"usage": {"prompt_tokens": 1, "completion_tokens": 1}, "model": "m"}, "openai"),
        ({"input_tokens": 1, "output_tokens": 1, "input_tokens_details": {"cached_tokens": 0}}, "openai"),
        ({"object": "response", "usage": {"input_tokens": 1, "output_tokens": 1}}, "openai"),
        ({"input_tokens": 1, "output_tokens": 1, "cache_read_input_tokens": 0}, "anthropic"),
        ({"input_tokens": 1, "output_tokens": 1, "cache_creation_input_tokens": 2}, "anthropic"),
        ({"type": "message", "usage": {"input_tokens": 1, "output_tokens": 1}}, "anthropic"),
        # An OpenAI-compatible proxy adding cache fields: prompt_tokens still includes them.
        ({"prompt_tokens": 10, "completion_tokens": 1, "cache_read_input_tokens": 4}, "openai"),
    ],
)
def test_detect_style(payload: dict[str, Any], style: str) -> None:
    assert detect_style(payload) == style


def test_detect_style_refuses_unknown_shapes() -> None:
    with pytest.raises(ValueError):
        detect_style({"tokens": 3})


def test_usage_from_response_dispatches_to_the_right_convention() -> None:
    openai = {"input_tokens": 100, "output_tokens": 1, "input_tokens_details": {"cached_tokens": 60}}
    anthropic = {"input_tokens": 100, "output_tokens": 1, "cache_read_input_tokens": 60}
    assert by_direction(usage_from_response(openai, model="m")) == {
        "input": 40,
        "cached_input": 60,
        "output": 1,
    }
    assert by_direction(usage_from_response(anthropic, model="m")) == {
        "input": 100,
        "cached_input": 60,
        "output": 1,
    }


def test_pydantic_models_as_the_official_sdks_return_them() -> None:
    pydantic: Any = pytest.importorskip("pydantic")

    class Details(pydantic.BaseModel):
        cached_tokens: int | None = None

    class CompletionUsage(pydantic.BaseModel):
        prompt_tokens: int
        completion_tokens: int
        total_tokens: int
        prompt_tokens_details: Details | None = None

    usage = CompletionUsage(
        prompt_tokens=90,
        completion_tokens=10,
        total_tokens=100,
        prompt_tokens_details=Details(cached_tokens=30),
    )
    assert by_direction(usage_from_response(usage, model="gpt")) == {
        "input": 60,
        "cached_input": 30,
        "output": 10,
    }
