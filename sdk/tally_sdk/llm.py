"""Turn LLM provider usage blocks into Tally usage events, one per token direction.

The providers count cache hits differently, and getting it wrong double-bills:

* OpenAI (Chat Completions ``prompt_tokens``, Responses ``input_tokens``) INCLUDES cached
  tokens in the input count, so uncached input = input - cached.
* Anthropic ``input_tokens`` EXCLUDES ``cache_read_input_tokens`` and
  ``cache_creation_input_tokens``; each is its own direction.

Directions are ``input`` (uncached), ``cached_input``, ``cache_write`` and ``output``;
their sum is the number of tokens the provider billed. Zero counts produce no event.
Every helper accepts a usage block or the whole response, as an SDK object or a dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

DEFAULT_METER = "llm_tokens"
Style = Literal["openai", "anthropic"]


def _get(obj: Any, name: str) -> Any:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj.get(name)
    return getattr(obj, name, None)


def _count(obj: Any, name: str) -> int:
    value = _get(obj, name)
    if value is None:
        return 0
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


def _unwrap(response_or_usage: Any) -> tuple[Any, str | None]:
    """Return (usage block, model named by the response if a whole response was given)."""
    usage = _get(response_or_usage, "usage")
    if usage is not None and not isinstance(usage, (int, float)):
        model = _get(response_or_usage, "model")
        return usage, model if isinstance(model, str) else None
    return response_or_usage, None


def _events(
    counts: list[tuple[str, int]],
    *,
    model: str | None,
    customer: str | None,
    task_id: str | None,
    meter: str,
    properties: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    if not model:
        raise ValueError("model is required (pass model=..., or a response that names it)")
    events = []
    for direction, quantity in counts:
        if quantity == 0:
            continue
        # model and direction come last so caller properties cannot mislabel the tokens.
        kwargs: dict[str, Any] = {
            "meter": meter,
            "quantity": quantity,
            "properties": {**(properties or {}), "model": model, "direction": direction},
        }
        if customer is not None:
            kwargs["customer"] = customer
        if task_id is not None:
            kwargs["task_id"] = task_id
        events.append(kwargs)
    return events


def usage_from_openai(
    usage: Any,
    *,
    model: str | None = None,
    customer: str | None = None,
    task_id: str | None = None,
    meter: str = DEFAULT_METER,
    properties: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Usage-event kwargs from an OpenAI Chat Completions or Responses usage block.

    Reasoning tokens are already part of the output count and are not split out.
    """
    usage, response_model = _unwrap(usage)
    if _get(usage, "prompt_tokens") is not None or _get(usage, "completion_tokens") is not None:
        total_input = _count(usage, "prompt_tokens")
        output = _count(usage, "completion_tokens")
        cached = _count(_get(usage, "prompt_tokens_details"), "cached_tokens")
    elif _get(usage, "input_tokens") is not None or _get(usage, "output_tokens") is not None:
        total_input = _count(usage, "input_tokens")
        output = _count(usage, "output_tokens")
        cached = _count(_get(usage, "input_tokens_details"), "cached_tokens")
    else:
        raise ValueError("not an OpenAI usage block: no prompt_tokens or input_tokens")
    if cached > total_input:
        raise ValueError(f"cached_tokens ({cached}) exceeds input tokens ({total_input})")
    counts = [("input", total_input - cached), ("cached_input", cached), ("output", output)]
    return _events(
        counts,
        model=model or response_model,
        customer=customer,
        task_id=task_id,
        meter=meter,
        properties=properties,
    )


def usage_from_anthropic(
    usage: Any,
    *,
    model: str | None = None,
    customer: str | None = None,
    task_id: str | None = None,
    meter: str = DEFAULT_METER,
    properties: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Usage-event kwargs from an Anthropic Messages usage block."""
    usage, response_model = _unwrap(usage)
    if _get(usage, "input_tokens") is None and _get(usage, "output_tokens") is None:
        raise ValueError("not an Anthropic usage block: no input_tokens or output_tokens")
    counts = [
        ("input", _count(usage, "input_tokens")),
        ("cached_input", _count(usage, "cache_read_input_tokens")),
        ("cache_write", _count(usage, "cache_creation_input_tokens")),
        ("output", _count(usage, "output_tokens")),
    ]
    return _events(
        counts,
        model=model or response_model,
        customer=customer,
        task_id=task_id,
        meter=meter,
        properties=properties,
    )


def detect_style(response_or_usage: Any) -> Style:
    """Guess the provider from the fields present.

    ``prompt_tokens`` wins first: OpenAI-compatible proxies may add Anthropic-style cache
    fields next to it, and ``prompt_tokens`` still includes the cached tokens there.
    """
    usage, _ = _unwrap(response_or_usage)
    if _get(usage, "prompt_tokens") is not None or _get(usage, "completion_tokens") is not None:
        return "openai"
    if (
        _get(usage, "cache_read_input_tokens") is not None
        or _get(usage, "cache_creation_input_tokens") is not None
    ):
        return "anthropic"
    if _get(usage, "input_tokens_details") is not None or _get(usage, "output_tokens_details") is not None:
        return "openai"
    if _get(response_or_usage, "type") == "message":
        return "anthropic"
    if _get(usage, "input_tokens") is not None or _get(usage, "output_tokens") is not None:
        # Without cache fields both conventions give the same split.
        return "openai"
    raise ValueError("cannot recognise an LLM usage block (OpenAI or Anthropic style)")


def usage_from_response(
    response_or_usage: Any,
    *,
    model: str | None = None,
    customer: str | None = None,
    task_id: str | None = None,
    meter: str = DEFAULT_METER,
    properties: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Usage-event kwargs from either provider's response or usage, style auto-detected."""
    helper = usage_from_anthropic if detect_style(response_or_usage) == "anthropic" else usage_from_openai
    return helper(
        response_or_usage,
        model=model,
        customer=customer,
        task_id=task_id,
        meter=meter,
        properties=properties,
    )
