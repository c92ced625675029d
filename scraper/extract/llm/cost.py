"""Token usage and its price in US dollars."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Protocol

# USD per million tokens (input, output), list prices of common OpenAI models.
# Dated snapshots (gpt-4o-mini-2024-07-18) use the price of their longest prefix.
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-5": (1.25, 10.00),
    "gpt-5-mini": (0.25, 2.00),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.00),
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o4-mini": (1.10, 4.40),
    "o3": (2.00, 8.00),
    "o3-mini": (1.10, 4.40),
    "o1": (15.00, 60.00),
}


def price_table(overrides: Mapping[str, object] | None = None) -> dict[str, tuple[float, float]]:
    """:data:`DEFAULT_PRICES` updated with ``overrides`` ({model: [input, output]} per 1M)."""
    table = dict(DEFAULT_PRICES)
    for model, price in (overrides or {}).items():
        if not isinstance(price, list | tuple) or len(price) != 2:
            raise ValueError(
                f"LLM_PRICES[{model!r}] must be [input, output] USD per 1M tokens, not {price!r}"
            )
        table[model] = (float(price[0]), float(price[1]))
    return table


def model_price(
    model: str, prices: Mapping[str, tuple[float, float]]
) -> tuple[float, float] | None:
    """(input, output) USD per 1M tokens of ``model``, None when unknown."""
    if model in prices:
        return prices[model]
    prefixes = [known for known in prices if model.startswith(known + "-")]
    return prices[max(prefixes, key=len)] if prefixes else None


@dataclass
class Usage:
    """What LLM work cost: attempts made, cache hits, tokens and dollars."""

    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = 0.0  # None once any priced call had an unknown price

    def add(self, other: Usage) -> None:
        self.calls += other.calls
        self.cache_hits += other.cache_hits
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        if self.cost_usd is None or other.cost_usd is None:
            self.cost_usd = None
        else:
            self.cost_usd += other.cost_usd

    def as_dict(self) -> dict[str, object]:
        data = asdict(self)
        if self.cost_usd is not None:
            data["cost_usd"] = round(self.cost_usd, 8)
        return data


def call_cost(
    model: str,
    prompt_tokens: int,
    completion_tokens: int,
    prices: Mapping[str, tuple[float, float]],
) -> float | None:
    """Dollars for one call, None when the model has no price."""
    price = model_price(model, prices)
    if price is None:
        return None
    return (prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000


def paid_stats(attempt: Usage) -> dict[str, float]:
    """The stats one LLM attempt adds: calls, tokens, and its cost or, when its model has no
    price, an unpriced call."""
    stats: dict[str, float] = {
        "llm/calls": attempt.calls,
        "llm/prompt_tokens": attempt.prompt_tokens,
        "llm/completion_tokens": attempt.completion_tokens,
    }
    if attempt.cost_usd is None:
        stats["llm/unpriced_calls"] = attempt.calls
    elif attempt.cost_usd:
        stats["llm/cost_usd"] = attempt.cost_usd
    return stats


# Stats named by paid_stats: what a fleet counts in Redis when each call is paid.
PAID_STATS = (
    "llm/calls",
    "llm/prompt_tokens",
    "llm/completion_tokens",
    "llm/unpriced_calls",
    "llm/cost_usd",
)


class SharedSpend(Protocol):
    """What a crawl spread over many workers paid in all (a fleet's Redis account): every
    attempt is added as it is paid, so the account is exact even for a worker killed
    right after a call."""

    def add_usage(self, attempt: Usage) -> None: ...
    def spent(self) -> float: ...


class CostMeter:
    """Running total of a crawl's LLM usage, checked against an optional budget.

    With ``shared`` (the crawl's account when many workers run it), the budget bounds what
    every worker spent together.
    """

    def __init__(self, budget_usd: float | None = None, shared: SharedSpend | None = None) -> None:
        self.budget_usd = budget_usd
        self.shared = shared
        self.total = Usage()

    def add(self, usage: Usage) -> None:
        self.total.add(usage)
        if self.shared is not None:
            self.shared.add_usage(usage)

    @property
    def spent_usd(self) -> float | None:
        """Known dollars spent: by the whole crawl when shared, else by this process."""
        if self.shared is not None and self.total.cost_usd is not None:
            return self.shared.spent()
        return self.total.cost_usd

    @property
    def exhausted(self) -> bool:
        """True once the known spend reached the budget."""
        if self.budget_usd is None:
            return False
        spent = self.spent_usd
        return spent is not None and spent >= self.budget_usd
