"""Real model-server processes for the openai proposer's tests.

* ``tiny_model``: the tiny random-weight llama GGUF (:mod:`tiny_model`), written once per session.
* ``llama_server`` (session) / ``fresh_llama_server`` (per test, may be killed by the test): llama-cpp-python's
  OpenAI-compatible server (``python -m llama_cpp.server``) on a free 127.0.0.1 port, ready when
  ``/v1/models`` answers; killed and reaped by pid at the end.  A server that cannot start FAILS the test
  (llama-cpp-python is the ``llm`` extra that ``make setup`` installs; it is never skipped).
* ``stub_server``: a factory for :mod:`stub_server` processes (stall, flaky, garbage, auth).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from tiny_model import write_tiny_llama  # noqa: E402

MODEL_ALIAS = "cryo-tiny"
START_TIMEOUT = 60.0


@dataclasses.dataclass
class Server:
    proc: subprocess.Popen
    url: str  # API root, with /v1
    model: str
    start_seconds: float
    log: Path | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        """Kill and reap the process (SIGTERM, then SIGKILL after 5 s); idempotent."""
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()

    def kill(self) -> None:
        """SIGKILL now (a crash, not a shutdown) and reap."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(5)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if importlib.util.find_spec("gguf") is None:
        pytest.fail("the gguf package is missing: install the llm extra (`make setup` does)", pytrace=False)
    return write_tiny_llama(tmp_path_factory.mktemp("llm") / "tiny.gguf")


def start_llama_server(model: Path, log: Path) -> Server:
    if importlib.util.find_spec("llama_cpp") is None:
        pytest.fail("llama-cpp-python is missing: install the llm extra (`make setup` does)", pytrace=False)
    port = free_port()
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1", "--port", str(port), "--logits_all", "true", "--n_ctx", "1024",
            "--n_threads", "1", "--n_batch", "64", "--verbose", "false"]
    t0 = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = Server(proc, f"http://127.0.0.1:{port}/v1", MODEL_ALIAS, 0.0, log)
    while True:
        if proc.poll() is not None:
            pytest.fail(f"llama_cpp.server exited with {proc.returncode} before answering:\n"
                        f"{log.read_text(errors='replace')[-3000:]}", pytrace=False)
        try:
            if httpx.get(f"{server.url}/models", timeout=1.0).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() - t0 > START_TIMEOUT:
            server.stop()
            pytest.fail(f"llama_cpp.server did not answer /v1/models within {START_TIMEOUT:g} s:\n"
                        f"{log.read_text(errors='replace')[-3000:]}", pytrace=False)
        time.sleep(0.05)
    server.start_seconds = time.monotonic() - t0
    return server


@pytest.fixture(scope="session")
def llama_server(tiny_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    server = start_llama_server(tiny_model, tmp_path_factory.mktemp("llm-log") / "server.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fresh_llama_server(tiny_model: Path, tmp_path: Path) -> Iterator[Server]:
    server = start_llama_server(tiny_model, tmp_path / "server.log")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def stub_server() -> Iterator:
    started: list[Server] = []

    def start(mode: str) -> Server:
        proc = subprocess.Popen([sys.executable, str(HERE / "stub_server.py"), mode], stdout=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, text=True)
        server = Server(proc, "", "stub-model", 0.0)
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
