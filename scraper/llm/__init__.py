"""The LLM layer: an async OpenAI-compatible client wrapper, result cache, cost and audit log."""

from scraper.llm.answers import DroppedItem, ParsedAnswer, parse_answer
from scraper.llm.audit import AuditLog, redact
from scraper.llm.breaker import Outage
from scraper.llm.cache import LLMCache, cache_key
from scraper.llm.client import (
    BudgetExceeded,
    LLMError,
    LLMSettings,
    LLMUnavailable,
    StructuredLLM,
    TruncatedError,
    llm_configured,
    make_openai_client,
)
from scraper.llm.cost import CostMeter, Usage, call_cost, price_table
from scraper.llm.formats import ResponseFormat, parse_mode
from scraper.llm.io_thread import IOThread

__all__ = [
    "AuditLog",
    "BudgetExceeded",
    "CostMeter",
    "DroppedItem",
    "IOThread",
    "LLMCache",
    "LLMError",
    "LLMSettings",
    "LLMUnavailable",
    "Outage",
    "ParsedAnswer",
    "ResponseFormat",
    "StructuredLLM",
    "TruncatedError",
    "Usage",
    "cache_key",
    "call_cost",
    "llm_configured",
    "make_openai_client",
    "parse_answer",
    "parse_mode",
    "price_table",
    "redact",
]
