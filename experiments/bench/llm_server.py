"""A local OpenAI-compatible model server for tests and `cryo bench llm`: a tiny random-weight llama model
served by llama-cpp-python (the `llm` extra).

* :func:`write_tiny_llama` writes the model as GGUF with the ``gguf`` package (~0.5 MB, a few ms): 64
  dimensions, 2 layers, 4 heads, a byte-fallback SentencePiece ("llama") vocabulary -- ``<unk> <s> </s>`` and
  the 256 byte tokens ``<0x00>``..``<0xFF>`` -- so any text tokenizes and any byte can be generated.  The
  output projection is small, so the next-token distribution is nearly flat: sampling is diverse, and a GBNF
  grammar decides what text comes out.
* :func:`start_llama_server` starts ``python -m llama_cpp.server`` on a free 127.0.0.1 port and returns once
  ``/v1/models`` answers; :class:`LlamaServer` ``.stop()`` kills and reaps it by pid (also a context manager).

Both raise :class:`LlmServerError` with what is missing or what the server printed; the tests turn it into a
failure, never a skip.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

__all__ = ["LlmServerError", "LlamaServer", "MODEL_ALIAS", "START_TIMEOUT", "free_port", "start_llama_server",
           "write_tiny_llama"]

MODEL_ALIAS = "cryo-tiny"
START_TIMEOUT = 60.0  # seconds until /v1/models must answer

N_EMBD = 64
N_LAYER = 2
N_HEAD = 4
N_FF = 128
N_CTX = 1024


class LlmServerError(RuntimeError):
    """The local model server cannot be built or started; the message says what is missing or what it printed."""


def _need(module: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise LlmServerError(f"the Python package {module!r} is missing: install the llm extra "
                             "(`make setup` does: pip install -e '.[llm]')")


def write_tiny_llama(path: Path, *, seed: int = 0) -> Path:
    """Write the tiny random llama model to ``path`` (GGUF) and return it."""
    _need("gguf")
    import gguf
    import numpy as np

    rng = np.random.default_rng(seed)
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL] + [gguf.TokenType.BYTE] * 256
    n_vocab = len(tokens)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("cryo-tiny-random")
    w.add_context_length(N_CTX)
    w.add_embedding_length(N_EMBD)
    w.add_block_count(N_LAYER)
    w.add_feed_forward_length(N_FF)
    w.add_head_count(N_HEAD)
    w.add_head_count_kv(N_HEAD)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(N_EMBD // N_HEAD)
    w.add_vocab_size(n_vocab)
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    w.add_tokenizer_model("llama")
    w.add_token_list(tokens)
    w.add_token_scores([0.0] * n_vocab)
    w.add_token_types(types)
    w.add_bos_token_id(1)
    w.add_eos_token_id(2)
    w.add_unk_token_id(0)
    w.add_add_bos_token(True)
    w.add_add_eos_token(False)

    def normal(name: str, *shape: int, scale: float) -> None:
        w.add_tensor(name, (rng.standard_normal(shape) * scale).astype(np.float32))

    normal("token_embd.weight", n_vocab, N_EMBD, scale=1.0)  # numpy (rows, cols) = GGUF (ne1, ne0)
    w.add_tensor("output_norm.weight", np.ones(N_EMBD, np.float32))
    normal("output.weight", n_vocab, N_EMBD, scale=0.05)     # logits ~ N(0, 0.4): a nearly flat distribution
    for i in range(N_LAYER):
        w.add_tensor(f"blk.{i}.attn_norm.weight", np.ones(N_EMBD, np.float32))
        w.add_tensor(f"blk.{i}.ffn_norm.weight", np.ones(N_EMBD, np.float32))
        for name in ("attn_q", "attn_k", "attn_v", "attn_output"):
            normal(f"blk.{i}.{name}.weight", N_EMBD, N_EMBD, scale=0.02)
        normal(f"blk.{i}.ffn_gate.weight", N_FF, N_EMBD, scale=0.02)
        normal(f"blk.{i}.ffn_up.weight", N_FF, N_EMBD, scale=0.02)
        normal(f"blk.{i}.ffn_down.weight", N_EMBD, N_FF, scale=0.02)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclasses.dataclass
class LlamaServer:
    """A running server process: ``url`` is the API root (with ``/v1``), ``model`` the name it serves."""

    proc: subprocess.Popen
    url: str
    model: str
    start_seconds: float = 0.0
    log: Path | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        """Terminate and reap the process (SIGKILL after 5 s); idempotent."""
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

    def log_tail(self, limit: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-limit:] if self.log is not None and self.log.exists() else ""

    def __enter__(self) -> LlamaServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def start_llama_server(model: Path, log: Path, *, alias: str = MODEL_ALIAS, threads: int = 1,
                       n_ctx: int = 1024, timeout: float = START_TIMEOUT, port: int | None = None) -> LlamaServer:
    """Start llama-cpp-python's OpenAI-compatible server for ``model`` on 127.0.0.1 (``port``; default: a free
    one), its output in ``log``; returns once ``GET /v1/models`` answers 200.  Raises :class:`LlmServerError`
    (the process killed and reaped) when it exits or does not answer within ``timeout`` seconds."""
    _need("llama_cpp")
    import httpx

    port = port or free_port()
    argv = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--model_alias", alias,
            "--host", "127.0.0.1", "--port", str(port), "--logits_all", "true", "--n_ctx", str(n_ctx),
            "--n_threads", str(threads), "--n_batch", "64", "--verbose", "false"]
    t0 = time.monotonic()
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    server = LlamaServer(proc, f"http://127.0.0.1:{port}/v1", alias, 0.0, log)
    try:
        while True:
            if proc.poll() is not None:
                raise LlmServerError(f"llama_cpp.server exited with {proc.returncode} before answering:\n"
                                     f"{server.log_tail()}")
            try:
                if httpx.get(f"{server.url}/models", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() - t0 > timeout:
                raise LlmServerError(f"llama_cpp.server did not answer /v1/models within {timeout:g} s:\n"
                                     f"{server.log_tail()}")
            time.sleep(0.05)
    except BaseException:
        server.stop()
        raise
    server.start_seconds = time.monotonic() - t0
    return server


def main(argv: list[str] | None = None) -> int:
    """``python -m experiments.bench.llm_server``: serve the tiny random model (or ``--model`` GGUF) until Ctrl-C."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m experiments.bench.llm_server", description=(
        "Serve a GGUF model with llama-cpp-python's OpenAI-compatible server on 127.0.0.1 (default: the tiny random "
        "test model, written to a temporary file), for a dry run of experiments/configs/openai-llamacpp.toml."))
    parser.add_argument("--model", type=Path, help="a GGUF file (default: the tiny random llama model)")
    parser.add_argument("--alias", default=MODEL_ALIAS, help=f"the model name the server lists (default {MODEL_ALIAS})")
    parser.add_argument("--port", type=int, default=8080, help="port on 127.0.0.1 (default 8080)")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads (default 1)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cryo-llm-server-") as tmp:
        model = args.model or write_tiny_llama(Path(tmp) / "tiny.gguf")
        try:
            server = start_llama_server(model, Path(tmp) / "server.log", alias=args.alias, threads=args.threads,
                                        port=args.port)
        except LlmServerError as e:
            print(f"llm_server: {e}", file=sys.stderr)
            return 1
        with server:
            print(f"serving {args.alias!r} at {server.url} (pid {server.pid}); Ctrl-C stops it", flush=True)
            try:
                server.proc.wait()
            except KeyboardInterrupt:
                pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
