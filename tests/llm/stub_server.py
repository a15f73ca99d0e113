"""A tiny local HTTP server process for failure tests of the openai proposer (127.0.0.1 only).

    python stub_server.py MODE      # prints its port on stdout once listening, serves until killed

MODE:
  stall      accepts connections, reads the request, never answers
  flaky:N    answers the first N POSTs with 429 (Retry-After: 0) then 503 alternately, then a valid completion
  garbage    answers every request with 200 and a body that is not JSON
  auth:KEY   /v1/models answers 401 unless the header is ``Authorization: Bearer KEY``
  batch      completions for a list of prompts (as vLLM serves them): n choices per prompt, prompt-major,
             listed in reverse order (the ``index`` field orders them); choice j of a prompt is
             ``echo LINE`` (LINE: the prompt's second line, or empty) with token log-probabilities [-(j+1)]
  script     (with a JSON argument {"tactics": [...], "break_on": TEXT}) every completion request gets one choice
             per tactic (choice j: log-probability -(j+1)), except a request whose prompt contains TEXT: that one
             gets a 200 reply that is not JSON (a reply broken mid-run)
It counts POSTs; ``GET /count`` returns the number.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODE = sys.argv[1]
SCRIPT = json.loads(sys.argv[2]) if MODE == "script" else {}
COUNT = {"post": 0}
LOCK = threading.Lock()

COMPLETION = {
    "id": "stub", "object": "text_completion", "model": "stub-model",
    "choices": [{"index": 0, "text": "intro h", "finish_reason": "stop",
                 "logprobs": {"tokens": ["intro", " h"], "token_logprobs": [-0.5, -0.25]}}],
    "usage": {"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9},
}
MODELS = {"object": "list", "data": [{"id": "stub-model", "object": "model"}]}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    def _send(self, code, body, headers=()):
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/count":
            return self._send(200, {"post": COUNT["post"]})
        if MODE == "stall":
            time.sleep(3600)
        if MODE == "garbage":
            return self._send(200, b"<html>not json")
        if MODE.startswith("auth:"):
            if self.headers.get("Authorization") != f"Bearer {MODE[5:]}":
                return self._send(401, {"error": {"message": "Incorrect API key provided"}})
        return self._send(200, MODELS)

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        with LOCK:
            COUNT["post"] += 1
            seen = COUNT["post"]
        if MODE == "stall":
            time.sleep(3600)
        if MODE == "garbage":
            return self._send(200, b"<html>not json")
        if MODE.startswith("flaky:") and seen <= int(MODE[6:]):
            if seen % 2:
                return self._send(429, {"error": {"message": "rate limited"}}, [("Retry-After", "0")])
            return self._send(503, {"error": {"message": "overloaded"}})
        if MODE == "batch":
            prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
            n = body.get("n", 1)
            choices = [{"index": i * n + j, "text": "echo " + (p.splitlines() + [""])[1], "finish_reason": "stop",
                        "logprobs": {"token_logprobs": [-(j + 1.0)]}}
                       for i, p in enumerate(prompts) for j in range(n)]
            return self._send(200, {"object": "text_completion", "choices": choices[::-1],
                                    "usage": {"prompt_tokens": 5 * len(prompts), "completion_tokens": len(choices)}})
        if MODE == "script":
            prompt = body["prompt"] if isinstance(body.get("prompt"), str) else json.dumps(body.get("messages"))
            if SCRIPT["break_on"] in prompt:
                return self._send(200, b"<html>proxy error: upstream reset")
            choices = [{"index": j, "text": t, "finish_reason": "stop", "logprobs": {"token_logprobs": [-(j + 1.0)]}}
                       for j, t in enumerate(SCRIPT["tactics"])]
            return self._send(200, {"object": "text_completion", "choices": choices,
                                    "usage": {"prompt_tokens": len(prompt), "completion_tokens": len(choices)}})
        return self._send(200, COMPLETION)


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
