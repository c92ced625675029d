"""The LLM layer: an async OpenAI-compatible client wrapper, result cache, cost and audit log."""

from scraper.extract.llm.answers import DroppedItem, ParsedAnswer, parse_answer
from scraper.extract.llm.audit import AuditLog
from scraper.extract.llm.breaker import Outage
from scraper.extract.llm.cache import AnswerCache, LLMCache, cache_key
from scraper.extract.llm.client import (
    BudgetExceeded,
    LLMError,
    LLMSettings,
    LLMUnavailable,
    StructuredLLM,
    TruncatedError,
    llm_configured,
    make_openai_client,
)
from scraper.extract.llm.cost import CostMeter, Usage, call_cost, price_table
from scraper.extract.llm.formats import ResponseFormat, parse_mode
from scraper.extract.llm.io_thread import IOThread

__all__ = [
    "AnswerCache",
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
]
