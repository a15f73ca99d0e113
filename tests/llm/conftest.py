"""Real model-server processes for the openai proposer's tests.

* ``tiny_model``: the tiny random-weight llama GGUF (``experiments.bench.llm_server.write_tiny_llama``, shared
  with ``cryo bench llm``), written once per session.
* ``llama_server`` (per module) / ``fresh_llama_server`` (per test, may be killed by the test): llama-cpp-python's
  OpenAI-compatible server (``python -m llama_cpp.server``) on a free 127.0.0.1 port, ready when
  ``/v1/models`` answers; killed and reaped by pid at the end.  A server that cannot start FAILS the test
  (llama-cpp-python is the ``llm`` extra that ``make setup`` installs; it is never skipped).
* ``stub_server``: a factory for :mod:`stub_server` processes (stall, flaky, garbage, auth, batch, script).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from experiments.bench.llm_server import (
    MODEL_ALIAS,  # noqa: F401 (tests import it from here)
    LlamaServer,
    LlmServerError,
    free_port,  # noqa: F401 (tests import it from here)
    write_tiny_llama,
)
from experiments.bench.llm_server import start_llama_server as _start

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        return write_tiny_llama(tmp_path_factory.mktemp("llm") / "tiny.gguf")
    except LlmServerError as e:
        pytest.fail(str(e), pytrace=False)


def start_llama_server(model: Path, log: Path) -> LlamaServer:
    """The server, or a test failure (never a skip) saying what is missing or what it printed."""
    try:
        return _start(model, log)
    except LlmServerError as e:
        pytest.fail(str(e), pytrace=False)


@pytest.fixture(scope="module")
def llama_server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaServer]:
    # per module, not per session: later test packages check that no child process of the session is alive
    server = start_llama_server(tiny_model, tmp_path_factory.mktemp("llm-log") / "server.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_llama_server(tiny_model: Path, tmp_path: Path) -> Iterator[LlamaServer]:
    server = start_llama_server(tiny_model, tmp_path / "server.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def stub_server() -> Iterator:
    started: list[LlamaServer] = []

    def start(mode: str, *args: str) -> LlamaServer:
        proc = subprocess.Popen([sys.executable, str(HERE / "stub_server.py"), mode, *args], stdout=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True)
        server = LlamaServer(proc, "", "stub-model", 0.0)
        started.append(server)
        line = proc.stdout.readline().strip()
        if not line.isdigit():
            server.stop()
            pytest.fail(f"stub server {mode!r} did not start (printed {line!r})", pytrace=False)
        server.url = f"http://127.0.0.1:{line}/v1"
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
