"""Translate provider SDK exceptions into retry.Failure without importing any SDK.

The anthropic and openai SDKs share one exception shape (APIStatusError with
status_code/response/body, APITimeoutError under APIConnectionError); google-genai raises
errors.APIError with code/message/response, and lets httpx timeouts through. Matching by
class names along the MRO keeps this module import-free and cheap.
"""

from __future__ import annotations

from typing import Any

from amatelier.backends.retry import Failure, classify_status, parse_retry_after, parse_should_retry


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _headers(response: Any) -> dict[str, str]:
    headers = getattr(response, "headers", None)
    if headers is None:
        return {}
    try:
        return {str(k).lower(): str(v) for k, v in headers.items()}
    except Exception:
        return {}


def body_message(body: Any) -> str:
    """The human message inside a provider error body, whatever its nesting."""
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            message = error.get("message")
            if isinstance(message, str) and message:
                return message
        elif isinstance(error, str):
            return error
        message = body.get("message")
        if isinstance(message, str):
            return message
    if isinstance(body, str):
        return body
    return ""


def _transport_failure(exc: BaseException, names: set[str]) -> Failure | None:
    if names & {"APITimeoutError", "TimeoutException", "ReadTimeout", "ConnectTimeout",
                "WriteTimeout", "PoolTimeout", "TimeoutError"}:
        return Failure("timeout", "no response before the timeout")
    if names & {"APIConnectionError", "ConnectError", "TransportError", "RemoteProtocolError",
                "NetworkError", "ConnectionError"}:
        reason = str(exc) or exc.__class__.__name__
        return Failure("connection", reason)
    return None


def translate_stainless(exc: BaseException) -> Failure | None:
    """anthropic / openai SDK exceptions -> Failure; None for anything else."""
    names = _class_names(exc)
    if "APIStatusError" in names:
        status = getattr(exc, "status_code", None)
        headers = _headers(getattr(exc, "response", None))
        detail = body_message(getattr(exc, "body", None)) or getattr(exc, "message", "") or str(exc)
        return Failure(classify_status(status), detail, status=status,
                       retry_after_s=parse_retry_after(headers),
                       should_retry=parse_should_retry(headers))
    if "APIResponseValidationError" in names:
        return Failure("other", f"unexpected response shape: {exc}")
    return _transport_failure(exc, names)


def translate_genai(exc: BaseException) -> Failure | None:
    """google-genai exceptions (errors.APIError and raw httpx transport errors) -> Failure."""
    names = _class_names(exc)
    if "APIError" in names and hasattr(exc, "code"):
        status = getattr(exc, "code", None)
        status = status if isinstance(status, int) else None
        headers = _headers(getattr(exc, "response", None))
        detail = getattr(exc, "message", None) or body_message(getattr(exc, "details", None)) or str(exc)
        label = getattr(exc, "status", None)
        if isinstance(label, str) and label and label not in str(detail):
            detail = f"{label}: {detail}"
        return Failure(classify_status(status), str(detail), status=status,
                       retry_after_s=parse_retry_after(headers))
    return _transport_failure(exc, names)
