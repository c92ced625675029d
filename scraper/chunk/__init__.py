"""The chunk stage: Markdown split into token-bounded chunks with real tokens (o200k, offline)."""

from scraper.chunk.chunker import Chunk, chunk_markdown
from scraper.chunk.tokens import count_tokens

__all__ = ["Chunk", "chunk_markdown", "count_tokens"]
