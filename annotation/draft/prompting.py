"""The drafting prompt (versioned files in annotation/draft/prompts/), reply parsing and validation."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ValidationError, field_validator

from empathyqa.coe import build_prompt
from empathyqa.schema import LAYERS

PROMPTS_DIR = Path(__file__).parent / "prompts"
DEFAULT_PROMPT = "coe_v1"
Mode = Literal["json_schema", "json_object", "text"]
MODES: tuple[Mode, ...] = ("json_schema", "json_object", "text")

MIN_LAYER_CHARS = 10
MAX_LAYER_CHARS = 800
MIN_CHINESE_SHARE = 0.6

COE_JSON_SCHEMA = {
    "name": "chain_of_empathy",
    "strict": True,
    "schema": {
        "type": "object",
        "properties": {name: {"type": "string"} for name in LAYERS},
        "required": list(LAYERS),
        "additionalProperties": False,
    },
}


@dataclass(frozen=True)
class PromptSpec:
    version: str
    system: str
    user: str
    format_json: str
    format_text: str
    repair: str

    def messages(self, title: str, question: str, answer: str, mode: Mode) -> list[dict[str, str]]:
        instructions = self.format_text if mode == "text" else self.format_json
        user = self.user.format(prompt=build_prompt(title, question), answer=answer.strip())
        return [
            {"role": "system", "content": self.system.strip()},
            {"role": "user", "content": f"{user.strip()}\n\n{instructions.strip()}"},
        ]

    def repair_messages(self, messages: list[dict[str, str]], reply: str, error: str) -> list[dict[str, str]]:
        return [
            *messages,
            {"role": "assistant", "content": reply},
            {"role": "user", "content": self.repair.format(error=error).strip()},
        ]


@lru_cache(maxsize=8)
def load_prompt(name: str = DEFAULT_PROMPT) -> PromptSpec:
    """A prompt by file stem (`coe_v1`) or path to a YAML file of the same shape."""
    path = Path(name) if name.endswith((".yaml", ".yml")) else PROMPTS_DIR / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in PROMPTS_DIR.glob("*.yaml")))
        raise SystemExit(f"prompt {name!r} not found (known: {known})")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        return PromptSpec(
            version=str(data["version"]),
            system=data["system"],
            user=data["user"],
            format_json=data["format"]["json"],
            format_text=data["format"]["text"],
            repair=data["repair"],
        )
    except (KeyError, TypeError) as exc:
        raise SystemExit(f"prompt file {path} lacks {exc}") from exc


def response_format(mode: Mode) -> dict[str, Any] | None:
    if mode == "json_schema":
        return {"type": "json_schema", "json_schema": COE_JSON_SCHEMA}
    if mode == "json_object":
        return {"type": "json_object"}
    return None


_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")
_COE_TAG = re.compile(r"</?(?:empathy_think|answer|L[1-4])>", re.I)


def chinese_share(text: str) -> float:
    cjk = len(_CJK.findall(text))
    latin_words = len(_LATIN.findall(text)) / 4  # a Latin word is ~4 letters; compare word-ish units
    return cjk / (cjk + latin_words) if cjk + latin_words else 0.0


class CoeDraft(BaseModel):
    l1: str
    l2: str
    l3: str
    l4: str

    @field_validator(*LAYERS)
    @classmethod
    def _layer(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("is empty")
        if len(value) < MIN_LAYER_CHARS:
            raise ValueError(f"is too short ({len(value)} chars, need at least {MIN_LAYER_CHARS})")
        if len(value) > MAX_LAYER_CHARS:
            raise ValueError(f"is too long ({len(value)} chars, at most {MAX_LAYER_CHARS})")
        if chinese_share(value) < MIN_CHINESE_SHARE:
            raise ValueError("is not mostly Chinese (write it in Simplified Chinese)")
        if _COE_TAG.search(value):
            raise ValueError("holds a CoE tag such as <L1>; write plain text")
        return value

    def layers(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in LAYERS}


class ReplyError(ValueError):
    """A reply that is not a valid draft; the message is shown to the model in the repair request."""


_TAG_LAYER = {name: re.compile(rf"<{name}>(.*?)</{name}>", re.S | re.I) for name in LAYERS}
_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.S)


def _json_payload(text: str) -> dict[str, Any]:
    fenced = _FENCE.search(text)
    candidate = fenced.group(1) if fenced else text
    start = candidate.find("{")
    if start < 0:
        raise ReplyError("the reply holds no JSON object")
    obj, error = _first_object(candidate, start)
    if obj is None:
        if candidate.rfind("}") <= start:
            raise ReplyError("the reply is not valid JSON (the object is cut off before its closing brace)")
        raise ReplyError(f"the reply is not valid JSON ({error.msg} at column {error.colno})")
    return _layer_keys(obj)


def _first_object(text: str, start: int) -> tuple[dict | None, json.JSONDecodeError | None]:
    """The first JSON object holding layers (else the first object), ignoring prose and braces around it."""
    decoder, first_error, first_obj = json.JSONDecoder(), None, None
    while start >= 0:
        try:
            obj, end = decoder.raw_decode(text, start)
        except json.JSONDecodeError as exc:
            first_error = first_error or exc
            start = text.find("{", start + 1)
            continue
        if isinstance(obj, dict):
            if any(name in _layer_keys(obj) for name in LAYERS):
                return obj, None
            first_obj = first_obj or obj
        start = text.find("{", end)
    return first_obj, first_error


def _layer_keys(obj: dict[str, Any]) -> dict[str, Any]:
    """Keys lower-cased; a single wrapper such as {"layers": {...}} or {"chain_of_empathy": {...}} unwrapped."""
    lowered = {str(k).strip().lower(): v for k, v in obj.items()}
    if not any(name in lowered for name in LAYERS):
        nested = [v for v in lowered.values() if isinstance(v, dict)]
        if len(nested) == 1:
            return _layer_keys(nested[0])
    return lowered


def json_object_in(text: str | None) -> dict[str, Any] | None:
    """The reply's JSON object with layer keys normalised, or None (used by the endpoint probe)."""
    try:
        return _json_payload(_THINK.sub("", text or ""))
    except ReplyError:
        return None


def _tag_payload(text: str) -> dict[str, Any]:
    found = {}
    for name, pattern in _TAG_LAYER.items():
        match = pattern.search(text)
        if match:
            found[name] = match.group(1)
    if not found:
        raise ReplyError("the reply holds none of the tags <L1>…</L1> to <L4>…</L4>")
    return found


def parse_reply(text: str | None, mode: Mode) -> CoeDraft:
    """Validated draft from a reply, or ReplyError saying what is wrong (in words a model can act on)."""
    if text:
        text = _THINK.sub("", text)  # reasoning models may put their thinking before the answer
    if not text or not text.strip():
        raise ReplyError("the reply is empty")
    if mode == "text":
        payload = _tag_payload(text)
    else:
        try:
            payload = _json_payload(text)
        except ReplyError:
            if "<L1>" not in text:
                raise
            payload = _tag_payload(text)  # a model that ignored JSON mode but followed the layers
    missing = [name for name in LAYERS if not isinstance(payload.get(name), str)]
    if missing:
        raise ReplyError(f"missing or non-string field(s): {', '.join(missing)}")
    try:
        return CoeDraft(**{name: payload[name] for name in LAYERS})
    except ValidationError as exc:
        problems = "; ".join(
            f"{err['loc'][0]} {err['msg'].removeprefix('Value error, ')}" for err in exc.errors()
        )
        raise ReplyError(problems) from exc
