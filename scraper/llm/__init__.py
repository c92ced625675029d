"""The LLM layer: an async OpenAI-compatible client wrapper, result cache, cost and audit log."""

from scraper.llm.audit import AuditLog, redact
from scraper.llm.cache import LLMCache, cache_key
from scraper.llm.client import (
    BudgetExceeded,
    LLMError,
    LLMSettings,
    StructuredLLM,
    TruncatedError,
    llm_configured,
    make_openai_client,
)
from scraper.llm.cost import CostMeter, Usage, call_cost, price_table
from scraper.llm.io_thread import IOThread

__all__ = [
    "AuditLog",
    "BudgetExceeded",
    "CostMeter",
    "IOThread",
    "LLMCache",
    "LLMError",
    "LLMSettings",
    "StructuredLLM",
    "TruncatedError",
    "Usage",
    "cache_key",
    "call_cost",
    "llm_configured",
    "make_openai_client",
    "price_table",
    "redact",
]
