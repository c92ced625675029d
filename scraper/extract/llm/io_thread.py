"""An asyncio event loop in its own thread for LLM I/O.

Crawl stages such as HTML cleaning run synchronously on the crawl's event loop;
while one page is being cleaned, replies from the LLM server wait unread and
the slots of the concurrency limit sit idle. Running the LLM calls on a loop of
their own keeps them flowing (Python switches threads every few milliseconds).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class IOThread:
    """Runs coroutines on a private event loop in a daemon thread."""

    def __init__(self, name: str = "llm-io") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)
        self._thread.start()

    async def run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Await ``coroutine`` running on the I/O thread's loop."""
        future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
        return await asyncio.wrap_future(future)

    def stop(self) -> None:
        """Stop the loop and wait for the thread (call after the last :meth:`run`)."""
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()
