"""The request bodies the server accepts, as OpenAI's API defines them, and its error JSON.

    POST /v1/completions        {"model", "prompt", "max_tokens", "temperature", "top_p",
                                 "top_k" (an extension), "seed", "stop", "stream", "logprobs"}
    POST /v1/chat/completions   {"model", "messages": [{"role", "content"}], the same knobs,
                                 "logprobs": true/false, "top_logprobs": n}

A body that breaks a rule is answered with status 400 and OpenAI's error object, which every
OpenAI client already knows how to raise:

    {"error": {"message": "temperature: must be >= 0, got -1", "type": "invalid_request_error",
               "param": "temperature", "code": null}}
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_TOP_LOGPROBS = 20


class ApiError(Exception):
    """An error to answer with OpenAI's error JSON and `status`."""

    def __init__(
        self,
        status: int,
        message: str,
        param: str | None = None,
        kind: str = "invalid_request_error",
        code: str | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.kind, self.code = (
            status,
            message,
            param,
            kind,
            code,
        )

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": self.kind,
                "param": self.param,
                "code": self.code,
            }
        }


class Knobs(BaseModel):
    """What both endpoints share: the model, the sampling settings, streaming."""

    model_config = ConfigDict(extra="ignore", strict=True)

    model: str | None = None
    max_tokens: int = Field(default=64, ge=1)
    temperature: float = Field(default=1.0, ge=0.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    top_k: int | None = Field(default=None, ge=1)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    stop: str | list[str] | None = None
    stream: bool = False
    n: int = Field(default=1, ge=1, le=1)

    @field_validator("temperature", "top_p", mode="before")
    @classmethod
    def _numbers(cls, value: Any) -> Any:
        """JSON has one number type: 1 is as good a temperature as 1.0 (but true is not)."""
        if isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        return value

    @field_validator("stop")
    @classmethod
    def _stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        stops = [value] if isinstance(value, str) else (value or [])
        if len(stops) > 4 or not all(stops):
            raise ValueError("up to 4 non-empty strings")
        return value

    def stops(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])


class CompletionRequest(Knobs):
    prompt: str
    logprobs: int | None = Field(default=None, ge=0, le=MAX_TOP_LOGPROBS)


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True)

    role: Literal["system", "user", "assistant"]
    content: str


class ChatRequest(Knobs):
    messages: list[ChatMessage] = Field(min_length=1)
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=MAX_TOP_LOGPROBS)


def validation_error(errors: list[dict[str, Any]]) -> ApiError:
    """FastAPI's validation errors as one OpenAI error: the first one, naming its field."""
    first = errors[0]
    where = [str(part) for part in first.get("loc", ()) if part != "body"]
    param = ".".join(where) or None
    message = str(first.get("msg", "invalid request"))
    if first.get("type") == "json_invalid":
        return ApiError(400, "the body is not valid JSON", None)
    if first.get("type") == "missing":
        return ApiError(400, f"{param}: a required field is missing", param)
    return ApiError(400, f"{param}: {message}" if param else message, param)
