"""GRPO reward functions: `f(prompts, completions, **kwargs) -> list[float]` as TRL calls them.

TRL logs each one as `rewards/<name>/mean` and `/std`; the recipe's weights combine them.
"""

from __future__ import annotations

from typing import Any

from empathyqa.coe import parse_completion


def completion_text(completion: Any) -> str:
    """TRL passes plain strings, or for conversational data a list of message dicts."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, list):
        return "".join(
            m.get("content") or "" for m in completion if m.get("role", "assistant") == "assistant"
        )
    return ""


def answer_of(completion: Any) -> str | None:
    parsed = parse_completion(completion_text(completion))
    return parsed.answer if parsed else None


def format_reward(completions: list[Any], **kwargs) -> list[float]:
    """1.0 when the strict CoE parser accepts the completion (four non-empty layers in order, then a
    non-empty answer, each tag once, nothing outside), else 0.0."""
    return [1.0 if answer_of(c) is not None else 0.0 for c in completions]


class AnswerQualityReward:
    """The reward model's score of the `<answer>` part against the question; malformed gets 0.

    Keeps `records`, one (step, answer characters, score) per parsed answer, so that a run can tell a
    quality rise from a length drift; under TRL it also logs `answer_chars` (mean per step)."""

    __name__ = "answer_quality_reward"

    def __init__(self, scorer):
        self.scorer = scorer
        self.records: list[dict[str, float]] = []

    def __call__(self, completions: list[Any], query: list[str] | None = None, **kwargs) -> list[float]:
        if query is None:
            raise ValueError("answer_quality_reward needs the dataset's `query` column")
        answers = [answer_of(c) for c in completions]
        scored = [i for i, a in enumerate(answers) if a is not None]
        rewards = [0.0] * len(completions)
        if scored:
            values = self.scorer.score_batch([query[i] for i in scored], [answers[i] for i in scored])
            for i, value in zip(scored, values, strict=True):
                rewards[i] = float(value)
            state = kwargs.get("trainer_state")
            step = state.global_step + 1 if state is not None else len(self.records)
            self.records += [{"step": step, "chars": len(answers[i]), "score": rewards[i]} for i in scored]
            if kwargs.get("log_metric") is not None:
                kwargs["log_metric"]("answer_chars", sum(len(answers[i]) for i in scored) / len(scored))
        return rewards


class LengthPenalty:
    """0 when the answer's length (characters) lies in [min_chars, max_chars], falling linearly to -1
    at 0 characters or at twice max_chars. Malformed completions get 0: the format reward already
    scores them 0, and a length has no meaning without an answer."""

    __name__ = "length_penalty"

    def __init__(self, min_chars: int, max_chars: int):
        if not 0 <= min_chars < max_chars:
            raise ValueError(f"need 0 <= min_chars < max_chars, got {min_chars}, {max_chars}")
        self.min_chars = min_chars
        self.max_chars = max_chars

    def penalty(self, answer: str | None) -> float:
        if answer is None:
            return 0.0
        n = len(answer)
        if n < self.min_chars:
            return -(self.min_chars - n) / self.min_chars
        if n > self.max_chars:
            return -min(1.0, (n - self.max_chars) / self.max_chars)
        return 0.0

    def __call__(self, completions: list[Any], **kwargs) -> list[float]:
        return [self.penalty(answer_of(c)) for c in completions]
