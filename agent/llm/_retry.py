"""The one retry layer of the SDK backends, and the mapping of SDK errors to ours.

The SDK clients are built with ``max_retries=0`` and every call goes through
:func:`call_with_retries`, so a call makes at most ``1 + settings.max_retries`` HTTP attempts.
(Retries in two layers multiply: SDK retries x graph-node retries gave 9 attempts where 3 were
meant.) The openai and anthropic SDKs share one exception layout (``APIStatusError`` with
``status_code``/``response``/``body``, ``APITimeoutError`` below ``APIConnectionError``,
``APIResponseValidationError``), so one classifier serves both.
"""

from __future__ import annotations

import email.utils
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal, TypeVar

from policywright.agent.llm._settings import LLMSettings
from policywright.errors import (
    ModelAuthError,
    ModelError,
    ModelReplyError,
    ModelRequestError,
    ModelUnavailableError,
)

__all__ = ["Target", "Transient", "call_with_retries", "classify_sdk_error", "parse_retry_after"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: HTTP statuses worth another attempt: request timeout, conflict (lock timeouts), rate limit,
#: and every server error (500, 502, 503, Anthropic's 529 "overloaded").
_RETRY_STATUSES = frozenset({408, 409, 429})


@dataclass(frozen=True)
class Target:
    """What a call talks to, for error messages.

    Attributes:
        label: The model id, e.g. "openai:gpt-4o".
        model: The provider's model name.
        base_url: The server's base URL.
        timeout_s: The read timeout of one attempt.
    """

    label: str
    model: str
    base_url: str
    timeout_s: float


@dataclass(frozen=True)
class Transient:
    """A failure that another attempt may fix.

    Attributes:
        kind: What went wrong.
        status: The HTTP status, when there was a response.
        detail: The provider's message or the transport error.
        retry_after: Seconds the server asked us to wait, if it said.
    """

    kind: Literal["status", "timeout", "connection"]
    status: int | None
    detail: str
    retry_after: float | None = None

    def give_up(self, target: Target, attempts: int) -> ModelUnavailableError:
        """The error raised when the retry budget is spent."""
        tries = f"{attempts} attempt{'s' if attempts != 1 else ''}"
        if self.kind == "connection":
            return ModelUnavailableError(
                f"{target.label}: could not connect to {target.base_url} after {tries} "
                f"({self.detail}); is the server running and the URL right?"
            )
        if self.kind == "timeout":
            return ModelUnavailableError(
                f"{target.label}: no answer from {target.base_url} within "
                f"{target.timeout_s:g} s ({tries}); "
                "raise llm_settings.timeout_s or check the server"
            )
        what = "rate limited" if self.status == 429 else "server error"
        return ModelUnavailableError(
            f"{target.label}: gave up after {tries}; the last answer was HTTP {self.status} "
            f"({what}): {self.detail}. Wait and retry, or raise llm_settings.max_retries"
        )


def parse_retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``retry-after`` (seconds or an HTTP date).

    Args:
        headers: A response's headers (any mapping with ``get``).

    Returns:
        The wait in seconds, or None when the headers do not say (or say nonsense).
    """
    if headers is None:
        return None
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            value = float(raw_ms) / 1000.0
        except ValueError:
            value = -1.0
        if value >= 0.0:
            return value
    raw = headers.get("retry-after")
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError):
            return None
        value = when.timestamp() - time.time()
    return max(value, 0.0) if value == value else None  # NaN -> None


def _provider_message(exc: Any) -> str:
    """The human message inside an SDK error (OpenAI and Anthropic envelopes differ)."""
    body = getattr(exc, "body", None)
    message: object = None
    if isinstance(body, dict):
        inner = body.get("error")
        if isinstance(inner, dict):
            message = inner.get("message")
        elif isinstance(inner, str):
            message = inner
        if message is None:
            message = body.get("message")
    if not message:
        message = getattr(exc, "message", None) or str(exc)
    text = " ".join(str(message).split())
    return text[:500] + ("..." if len(text) > 500 else "")


def _error_code(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if not isinstance(body, dict):
        return ""
    inner = body.get("error")
    scope: dict[str, Any] = inner if isinstance(inner, dict) else body
    return str(scope.get("code") or scope.get("type") or "")


def classify_sdk_error(
    exc: BaseException, sdk: ModuleType, target: Target
) -> ModelError | Transient | None:
    """Map an openai/anthropic SDK exception to our error, or to a retryable failure.

    Args:
        exc: What the SDK raised.
        sdk: The ``openai`` or ``anthropic`` module (for its exception classes).
        target: What was called, for the messages.

    Returns:
        A :class:`ModelError` to raise at once, a :class:`Transient` to retry, or None when
        ``exc`` is not an SDK error (a bug; the caller re-raises it).
    """
    if isinstance(exc, sdk.APITimeoutError):  # a subclass of APIConnectionError: check first
        return Transient(kind="timeout", status=None, detail="timed out")
    if isinstance(exc, sdk.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        detail = " ".join(str(cause or exc).split()) or type(cause or exc).__name__
        return Transient(kind="connection", status=None, detail=detail)
    if isinstance(exc, sdk.APIResponseValidationError):
        return ModelReplyError(f"{target.label}: the reply did not match the API's schema: {exc}")
    if isinstance(exc, sdk.APIStatusError):
        status = int(exc.status_code)
        message = _provider_message(exc)
        if status in (401, 403):
            return ModelAuthError(
                f"{target.label}: the key was rejected (HTTP {status}: {message}); "
                "is it a key for this provider?"
            )
        if status == 404:
            return ModelRequestError(
                f"{target.label}: model {target.model!r} was not found at {target.base_url} "
                f"(HTTP 404: {message}); check the model name"
            )
        if status == 429 and _error_code(exc) == "insufficient_quota":
            # Out of credit: waiting does not help, so do not spend the retry budget.
            return ModelUnavailableError(
                f"{target.label}: the account's quota is exhausted (HTTP 429: {message}); "
                "check the provider's billing page"
            )
        if status in _RETRY_STATUSES or status >= 500:
            retry_after = parse_retry_after(getattr(exc.response, "headers", None))
            return Transient(kind="status", status=status, detail=message, retry_after=retry_after)
        return ModelRequestError(
            f"{target.label}: the provider refused the request (HTTP {status}): {message}"
        )
    return None


def backoff_s(retry_index: int, failure: Transient, settings: LLMSettings) -> float:
    """How long to wait before retry number ``retry_index`` (0-based)."""
    if failure.retry_after is not None:
        return min(failure.retry_after, settings.retry_after_max_s)
    return min(settings.backoff_max_s, settings.backoff_initial_s * (2.0**retry_index))


def call_with_retries(
    attempt: Callable[[], T],
    classify: Callable[[BaseException], ModelError | Transient | None],
    *,
    target: Target,
    settings: LLMSettings,
    sleep: Callable[[float], None],
) -> T:
    """Run ``attempt`` until it succeeds, fails for good, or the retry budget is spent.

    Args:
        attempt: One HTTP attempt (an SDK call with the SDK's own retries off).
        classify: Maps an exception to an error to raise now, a transient failure, or None.
        target: What is called, for messages.
        settings: ``max_retries`` and the backoff.
        sleep: Waits; tests inject a recorder so that nothing really sleeps.

    Returns:
        What ``attempt`` returned.

    Raises:
        ModelError: A permanent failure, or :class:`ModelUnavailableError` after
            ``1 + settings.max_retries`` transient failures.
    """
    attempts = 1 + settings.max_retries
    for index in range(attempts):
        try:
            return attempt()
        except ModelError:
            raise
        except Exception as exc:
            outcome = classify(exc)
            if outcome is None:
                raise
            if isinstance(outcome, ModelError):
                raise outcome from exc
            if index + 1 >= attempts:
                raise outcome.give_up(target, attempts) from exc
            wait = backoff_s(index, outcome, settings)
            log.warning(
                "%s: attempt %d/%d failed (%s%s); retrying in %.2f s",
                target.label,
                index + 1,
                attempts,
                outcome.kind if outcome.status is None else f"HTTP {outcome.status}",
                f": {outcome.detail}" if outcome.detail else "",
                wait,
            )
            sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises
