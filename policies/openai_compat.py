"""A tactic proposer for any model server that speaks the OpenAI-compatible API (vLLM, SGLang, llama.cpp's
server, llama-cpp-python, hosted endpoints).

``load_policy("proposer", "openai", base_url=..., model=..., template="internlm-stepprover")`` gives an
:class:`OpenAIProposer`, an :class:`~policies.seam.AsyncProposer`: ``await p.propose(context, k, rng=rng)``.

For each proof state it renders a prompt from a template (:data:`TEMPLATES`, or a template string), samples
``n`` completions from ``/v1/completions`` or ``/v1/chat/completions``, turns each into a tactic (or, in
``mode="proof"``, a whole proof; DeepSeek-Prover style), and gives priors:

* with log-probabilities (the server returns them): the softmax over the *unique* tactics of each sample's
  summed token log-probability (divided by its token count with ``length_normalize=True``);
* without: the frequency of each tactic among the samples.

A server that returns fewer choices than ``n`` (llama.cpp's returns one) gets further concurrent requests
with distinct seeds until ``n`` samples are in.  Requests are retried with exponential backoff on HTTP 429,
5xx and connection errors (not on a timeout); replies are cached by request (in memory, and on disk with
``cache_dir``), so a re-run with the same ``seed`` is reproducible and makes no model call.  Every model call
is recorded (:class:`CallRecord`: tokens, latency, cached, retries) for the results rows; :meth:`stats`
sums them.  :meth:`OpenAIProposer.preflight` checks the server before a run: one
:class:`PreflightError` naming the URL and what is wrong.  During a run a failed or malformed reply raises
:class:`ModelServerError` (a :class:`~policies.seam.ProposalError`) for that state only.

HTTP client: ``httpx`` (async, maintained, already the transport under the official ``openai`` package).
We use it directly rather than the ``openai`` client because (1) we must see each attempt to record retries
and honour ``Retry-After`` ourselves, (2) servers' extensions (``grammar``, ``top_k``, ``min_p``,
``guided_*``) are plain JSON fields here, (3) the exact request body is the cache key, and (4) it avoids a
dependency on pydantic models that lag behind what non-OpenAI servers return.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import math
import os
import random
import ssl
import string
import textwrap
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import anyio
import httpx
import numpy as np

from policies.base import TacticProposal
from policies.errors import StatsError
from policies.seam import ProposalContext, ProposalError, ProposalResult, _propose_one, each_state, finalize

__all__ = [
    "OpenAIProposer",
    "PromptTemplate",
    "TEMPLATES",
    "TEMPLATE_FIELDS",
    "CallRecord",
    "Sample",
    "ModelServerError",
    "PreflightError",
    "tactic_grammar",
    "render_prompt",
]


class ModelServerError(ProposalError):
    """A model call failed (unreachable, HTTP error after retries, timeout, malformed reply).

    Attributes: ``url`` (the URL called), ``reason`` (what was wrong, one line).
    """

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"model server {url}: {reason}")
        self.url = url
        self.reason = reason
        self.retries = 0  # retries made before giving up


class PreflightError(ModelServerError):
    """The model server is not usable for this run (checked before anything starts)."""


# ---------------------------------------------------------------------------------------------- templates
#: Fields a prompt template may use (``{state}`` etc.; write ``{{`` and ``}}`` for literal braces).
TEMPLATE_FIELDS: Mapping[str, str] = {
    "state": "the goals as Lean prints them, separated by a blank line",
    "goals": "same as state",
    "name": "the theorem's name",
    "statement": "the theorem's statement, without ':= by ...'",
    "header": "the header (imports, opens) sent before the theorem",
    "proof_before": "the tactics from the root so far, one per line",
    "proof_indented": "the tactics so far, each on its own line indented by two spaces, each line ending in a newline",
    "depth": "the number of tactics so far",
}


@dataclasses.dataclass(frozen=True, slots=True)
class PromptTemplate:
    """How to ask a model for the next step.

    Attributes:
        text: the prompt, a ``str.format`` template over :data:`TEMPLATE_FIELDS`.
        chat: send ``text`` as one user turn to ``/v1/chat/completions`` (else ``/v1/completions``).
        stop: default stop sequences (the ``stop`` setting overrides them).
        mode: ``"tactic"`` (a completion is one tactic, stripped) or ``"proof"`` (a completion is the rest of
            the proof, a tactic block, dedented).
        max_tokens: default completion length.
    """

    text: str
    chat: bool = False
    stop: tuple[str, ...] = ()
    mode: str = "tactic"
    max_tokens: int = 64


#: Built-in prompt templates for published step provers.
TEMPLATES: Mapping[str, PromptTemplate] = {
    # ReProver / llmstep: goal in, one tactic out.
    "reprover": PromptTemplate("[GOAL]\n{state}\n[PROOFSTEP]\n", stop=("\n",)),
    # InternLM2.5-StepProver's chat turn (model card of internlm/internlm2_5-step-prover).
    "internlm-stepprover": PromptTemplate(
        "---\nNAME: {name}\n\n---\nPROOF_BEFORE: {proof_before}\n\n---\nSTATE_BEFORE: {state}\n\n---\nTACTIC: ",
        chat=True,
    ),
    # BFS-Prover: the state followed by ':::'.
    "bfs-prover": PromptTemplate("{state}:::", stop=("\n",)),
    # DeepSeek-Prover (V1.5 base/RL, non-CoT): whole-proof completion from the statement and the steps so far.
    "deepseek-prover": PromptTemplate(
        "Complete the following Lean 4 code:\n\n```lean4\n{header}\n\n{statement} := by\n{proof_indented}",
        stop=("```",),
        mode="proof",
        max_tokens=512,
    ),
}

_MODES = ("tactic", "proof")


def _template_fields(text: str) -> list[str]:
    try:
        return [field for _lit, field, _spec, _conv in string.Formatter().parse(text) if field is not None]
    except ValueError as e:
        raise StatsError(f"prompt template {text!r} is not a valid format string: {e}") from e


def _check_template(text: str) -> None:
    fields = _template_fields(text)
    unknown = sorted({f for f in fields if f not in TEMPLATE_FIELDS})
    if unknown or "" in fields:
        raise StatsError(
            f"prompt template {text!r} uses unknown field(s) {unknown or ['{}']}; allowed: "
            + ", ".join("{" + f + "}" for f in TEMPLATE_FIELDS)
        )


def render_prompt(text: str, context: ProposalContext) -> str:
    """The prompt for ``context`` from the template ``text`` (see :data:`TEMPLATE_FIELDS`)."""
    return text.format(
        state=context.state,
        goals=context.state,
        name=context.theorem_name,
        statement=context.statement,
        header=context.header,
        proof_before=context.proof_before,
        proof_indented="".join(f"  {t}\n" for t in context.path),
        depth=context.depth,
    )


def _gbnf_literal(s: str) -> str:
    out = ['"']
    for ch in s:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02X}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def tactic_grammar(tactics: Sequence[str], *, suffix: str = "") -> str:
    """A GBNF grammar (llama.cpp's ``grammar`` field) whose strings are exactly ``tactic + suffix`` for each
    tactic in ``tactics``.  Quotes, backslashes and control characters are escaped; any Unicode is kept."""
    if isinstance(tactics, str) or not tactics:
        raise StatsError(f"tactic_grammar needs a non-empty list of tactics, got {tactics!r}")
    alts = []
    for t in dict.fromkeys(tactics):
        if not isinstance(t, str) or not t:
            raise StatsError(f"tactic_grammar: every tactic must be a non-empty string, got {t!r}")
        alts.append(_gbnf_literal(t))
    root = "root ::= tactic" + (f" {_gbnf_literal(suffix)}" if suffix else "")
    return root + "\ntactic ::= " + " | ".join(alts) + "\n"


# ---------------------------------------------------------------------------------------------- records
@dataclasses.dataclass(frozen=True, slots=True)
class CallRecord:
    """One model request (or cache hit).

    Attributes: ``endpoint`` (``completions``/``chat/completions``), ``theorem``/``depth`` of the state,
    ``n_asked``/``n_returned`` choices, ``prompt_tokens``/``completion_tokens`` (``usage``; 0 when the
    server gives none), ``latency`` seconds (wall, retries and backoff included; ~0 for a cache hit),
    ``cached``, ``retries`` (attempts after the first), ``seed``, ``error`` (the reason, or ``None``),
    ``prompts`` (states served by the call: > 1 with ``batch_prompts``; ``n_asked`` counts all their choices).
    """

    endpoint: str
    theorem: str
    depth: int
    n_asked: int
    n_returned: int
    prompt_tokens: int
    completion_tokens: int
    latency: float
    cached: bool
    retries: int
    seed: int | None
    error: str | None = None
    prompts: int = 1

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True, slots=True)
class Sample:
    """One completion: its ``text`` as returned, ``logprob`` (the sum of its token log-probabilities, the
    stop token included when the server reports it; ``None`` when the server gave none) and ``tokens``
    (how many log-probabilities were summed)."""

    text: str
    logprob: float | None
    tokens: int


class _Failed(Exception):
    """One attempt failed; ``retry`` says whether another may succeed."""

    def __init__(self, reason: str, *, retry: bool, after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry
        self.after = after


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context per process, made the way httpx makes its default (certifi's CA bundle when installed).

    Building it loads every CA certificate (0.15-0.25 s here); httpx would do so for every new client, i.e. for
    every search, since a search closes its proposer's client when it stops."""
    try:
        import certifi
    except ImportError:  # httpx depends on certifi; without it, the system's CA store
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def _count(value: Any) -> int:
    """A token count from a reply's ``usage`` (0 when absent or not a count)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


# ---------------------------------------------------------------------------------------------- proposer
class OpenAIProposer:
    """Tactics from an OpenAI-compatible model server (see the module docstring).

    Settings (all keyword-only; the ``[policy]`` config will pass them as they are):

    * ``base_url`` -- the API root including ``/v1`` (``"http://127.0.0.1:8000/v1"``).
    * ``model`` -- the model name the server serves (checked by :meth:`preflight`).
    * ``api_key_env`` -- name of the environment variable holding the API key (``None``: no key sent).
    * ``template`` -- a builtin name from :data:`TEMPLATES` (``"reprover"``, ``"internlm-stepprover"``,
      ``"bfs-prover"``, ``"deepseek-prover"``) or a template string over :data:`TEMPLATE_FIELDS`.
    * ``chat`` -- use ``/v1/chat/completions`` (default: the template's); ``system`` -- a system turn for chat.
    * ``mode`` -- ``"tactic"`` or ``"proof"`` (default: the template's).
    * ``n`` -- samples per state (default ``None``: the number of tactics wanted, ``k``).
    * ``temperature`` (1.0), ``top_p`` (``None``: server default), ``max_tokens`` (default: the template's),
      ``stop`` (default: the template's), ``seed`` (0; ``None``: drawn from the search's ``rng``, not
      reproducible).  The seed of a request is derived from ``seed`` and the prompt, so a state gets the same
      samples whatever order the search reaches it in.
    * ``logprobs`` (True: ask for token log-probabilities; priors fall back to frequencies without them),
      ``length_normalize`` (False: sum of token log-probabilities; True: their mean).
    * ``n_per_request`` -- choices asked per request (``None``: ``n`` at first, then as many as the server
      was seen to return; 1 for llama.cpp's server saves one probe).
    * ``timeout`` -- seconds per HTTP request (60); ``max_concurrency`` -- requests in flight at once (8).
    * ``max_retries`` (3), ``backoff`` (0.5 s, doubled per retry, full jitter), ``max_backoff`` (8 s):
      retries on HTTP 429, 5xx and connection errors; ``Retry-After`` is honoured up to ``max_backoff``.
    * ``cache`` (True: replies kept in memory by request), ``cache_dir`` (a directory for an on-disk cache
      that outlives the process; ``None``: none).
    * ``extra_body`` -- more JSON fields for every request (``{"grammar": ...}`` for llama.cpp,
      ``{"top_k": 20}``, vLLM's ``guided_*``...).
    * ``batch_prompts`` -- (completions only) serve all the states of one ``propose_many`` call with one
      request whose ``prompt`` is the list of their prompts (vLLM, SGLang and OpenAI take a list; llama.cpp's
      servers do not).  Its cache entry is keyed by the whole batch, so a re-run hits the cache only where
      the batches come out the same (use ``batch_prompts=False`` for exact replay).
    """

    def __init__(
        self,
        *,
        model: str,
        base_url: str = "http://127.0.0.1:8000/v1",
        api_key_env: str | None = None,
        template: str = "reprover",
        chat: bool | None = None,
        system: str | None = None,
        mode: str | None = None,
        n: int | None = None,
        temperature: float = 1.0,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop: Sequence[str] | None = None,
        seed: int | None = 0,
        logprobs: bool = True,
        length_normalize: bool = False,
        n_per_request: int | None = None,
        timeout: float = 60.0,
        max_concurrency: int = 8,
        max_retries: int = 3,
        backoff: float = 0.5,
        max_backoff: float = 8.0,
        cache: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
        extra_body: Mapping[str, Any] | None = None,
        batch_prompts: bool = False,
    ) -> None:
        problems: list[str] = []
        if not isinstance(model, str) or not model.strip():
            problems.append(f"model must be a non-empty string, got {model!r}")
        url = httpx.URL(base_url) if isinstance(base_url, str) else None
        if url is None or url.scheme not in ("http", "https") or not url.host:
            problems.append(f"base_url must be an http(s) URL like 'http://127.0.0.1:8000/v1', got {base_url!r}")
        if isinstance(template, str) and template in TEMPLATES:
            tpl = TEMPLATES[template]
        elif isinstance(template, str) and "{" in template:
            _check_template(template)
            tpl = PromptTemplate(template)
        else:
            raise StatsError(
                f"template {template!r} is neither a builtin ({', '.join(TEMPLATES)}) nor a template string "
                "with fields like {state}"
            )
        mode = tpl.mode if mode is None else mode
        if mode not in _MODES:
            problems.append(f"mode must be one of {_MODES}, got {mode!r}")
        for name, value, low in (("n", n, 1), ("n_per_request", n_per_request, 1), ("max_tokens", max_tokens, 1)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
                problems.append(f"{name} must be an int >= {low} or None, got {value!r}")
        for name, value, low in (("max_concurrency", max_concurrency, 1), ("max_retries", max_retries, 0)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                problems.append(f"{name} must be an int >= {low}, got {value!r}")
        for name, value in (("timeout", timeout), ("backoff", backoff), ("max_backoff", max_backoff),
                            ("temperature", temperature)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
                problems.append(f"{name} must be a finite number >= 0, got {value!r}")
        if timeout is not None and isinstance(timeout, (int, float)) and timeout <= 0:
            problems.append(f"timeout must be > 0 seconds, got {timeout!r}")
        if top_p is not None and not (isinstance(top_p, (int, float)) and 0 < top_p <= 1):
            problems.append(f"top_p must be in (0, 1] or None, got {top_p!r}")
        if stop is not None and (isinstance(stop, str) or not all(isinstance(s, str) and s for s in stop)):
            problems.append(f"stop must be a list of non-empty strings, got {stop!r}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            problems.append(f"seed must be an int or None, got {seed!r}")
        if api_key_env is not None and (not isinstance(api_key_env, str) or not api_key_env):
            problems.append(f"api_key_env must name an environment variable, got {api_key_env!r}")
        if extra_body is not None and not isinstance(extra_body, Mapping):
            problems.append(f"extra_body must be a table of JSON fields, got {extra_body!r}")
        if batch_prompts and (chat if chat is not None else tpl.chat):
            problems.append("batch_prompts needs the completions endpoint (chat requests take one conversation)")
        if problems:
            raise StatsError("openai proposer: " + "; ".join(problems))

        self.model = model
        self.base_url = str(base_url).rstrip("/")
        self.api_key_env = api_key_env
        self.template = tpl
        self.chat = tpl.chat if chat is None else bool(chat)
        self.system = system
        self.mode = mode
        self.n = n
        self.temperature = float(temperature)
        self.top_p = top_p
        self.max_tokens = tpl.max_tokens if max_tokens is None else max_tokens
        self.stop = tuple(tpl.stop if stop is None else stop)
        self.seed = seed
        self.logprobs = bool(logprobs)
        self.length_normalize = bool(length_normalize)
        self.n_per_request = n_per_request
        self.timeout = float(timeout)
        self.max_concurrency = max_concurrency
        self.max_retries = max_retries
        self.backoff = float(backoff)
        self.max_backoff = float(max_backoff)
        self.use_cache = bool(cache)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        if self.cache_dir is not None and self.use_cache:
            try:
                self.cache_dir.mkdir(parents=True, exist_ok=True)
            except OSError as e:
                raise StatsError(f"openai proposer: cannot create cache_dir {str(self.cache_dir)!r}: {e}") from e
        self.extra_body = dict(extra_body or {})
        self.batch_prompts = bool(batch_prompts)
        self.records: list[CallRecord] = []
        self._taken = 0
        self._cache: dict[str, dict[str, Any]] = {}
        self._choices_seen: int | None = n_per_request  # the most choices one reply was seen to hold
        self._client: httpx.AsyncClient | None = None
        self._limiter: anyio.CapacityLimiter | None = None
        self._jitter = random.Random(0 if seed is None else seed)

    # ------------------------------------------------------------------ lifecycle
    @property
    def endpoint(self) -> str:
        """``"chat/completions"`` or ``"completions"``."""
        return "chat/completions" if self.chat else "completions"

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def _headers(self, error: type[ModelServerError]) -> dict[str, str]:
        if self.api_key_env is None:
            return {}
        key = os.environ.get(self.api_key_env)
        if not key:
            raise error(self.base_url, f"the API key variable ${self.api_key_env} (api_key_env) is not set or empty")
        return {"Authorization": f"Bearer {key}"}

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            secure = self.base_url.startswith("https:")
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout),
                verify=_tls_context() if secure else False,  # plain http: no CA bundle to load
                limits=httpx.Limits(max_connections=self.max_concurrency,
                                    max_keepalive_connections=self.max_concurrency),
            )
            self._limiter = anyio.CapacityLimiter(self.max_concurrency)
        return self._client

    async def aclose(self) -> None:
        """Close the HTTP connections (a later call opens new ones). Call it before its event loop ends."""
        client, self._client = self._client, None
        if client is not None:
            with anyio.CancelScope(shield=True):
                await client.aclose()

    async def __aenter__(self) -> OpenAIProposer:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ preflight
    async def preflight(self, *, probe: bool = True) -> dict[str, Any]:
        """Check the server before a run; returns what it found, raises one :class:`PreflightError`.

        ``GET {base_url}/models`` must answer 200 with the OpenAI list format and name ``model``.  With
        ``probe``, one 1-token request to the configured endpoint must parse (it is not cached and is not
        recorded; with ``batch_prompts`` it sends two prompts in one request and needs a choice for each).
        Returns ``{"url", "model", "models", "logprobs"}`` (``logprobs``: the probe's reply had them; ``None``
        without a probe).
        """
        url = self._url("models")
        headers = self._headers(PreflightError)
        try:
            resp = await self._http().get(url, headers=headers)
        except httpx.TimeoutException as e:
            raise PreflightError(url, f"no answer within {self.timeout:g} s (timeout)") from e
        except httpx.TransportError as e:
            raise PreflightError(url, f"cannot connect: {type(e).__name__}: {e or 'connection failed'}") from e
        if resp.status_code in (401, 403):
            var = f"${self.api_key_env}" if self.api_key_env else "no key (api_key_env is not set)"
            raise PreflightError(url, f"HTTP {resp.status_code}: the API key was refused ({var}): "
                                      f"{_excerpt(resp.text)}")
        if resp.status_code != 200:
            raise PreflightError(url, f"HTTP {resp.status_code} {resp.reason_phrase}: {_excerpt(resp.text)}")
        try:
            data = resp.json()
            models = [m["id"] for m in data["data"]]
            if not all(isinstance(m, str) for m in models):
                raise TypeError("a model id is not a string")
        except (ValueError, KeyError, TypeError) as e:
            raise PreflightError(url, f"malformed reply, not an OpenAI model list: {_excerpt(resp.text)}") from e
        if self.model not in models:
            raise PreflightError(url, f"unknown model {self.model!r}; the server serves: "
                                      + (", ".join(repr(m) for m in models) or "nothing"))
        info: dict[str, Any] = {"url": self.base_url, "model": self.model, "models": models, "logprobs": None}
        if probe:
            body = self._body("", 1, self.seed if self.seed is not None else 0)
            body["max_tokens"] = 1
            if self.chat:
                body["messages"] = [{"role": "user", "content": "theorem"}]
            else:
                body["prompt"] = ["theorem", "lemma"] if self.batch_prompts else "theorem"
            body.pop("stop", None)
            hint = " (batch_prompts is set: does this server take a list of prompts?)" if self.batch_prompts else ""
            try:
                reply, _r = await self._post(body, headers, error=PreflightError)
                samples = self._samples(reply, self._url(self.endpoint))
                if self.batch_prompts and (not samples or len(samples) % 2):
                    raise ModelServerError(self._url(self.endpoint),
                                           f"{len(samples)} choices for a list of 2 prompts")
            except ModelServerError as e:
                raise PreflightError(e.url, f"probe request failed: {e.reason}{hint}") from e
            info["logprobs"] = bool(samples) and all(s.logprob is not None for s in samples)
        return info

    # ------------------------------------------------------------------ requests
    def _body(self, prompt: str | list[str], n: int, seed: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "max_tokens": self.max_tokens,
                                "temperature": self.temperature, "n": n}
        if self.chat:
            messages = [{"role": "system", "content": self.system}] if self.system else []
            body["messages"] = messages + [{"role": "user", "content": prompt}]
            if self.logprobs:  # top_logprobs too: llama-cpp-python returns none without it
                body["logprobs"] = True
                body["top_logprobs"] = 1
        else:
            body["prompt"] = prompt
            if self.logprobs:
                body["logprobs"] = 1
        if self.top_p is not None:
            body["top_p"] = self.top_p
        if self.stop:
            body["stop"] = list(self.stop)
        if seed is not None:
            body["seed"] = seed
        body.update(self.extra_body)
        return body

    def _cache_key(self, body: Mapping[str, Any]) -> str:
        blob = json.dumps({"url": self._url(self.endpoint), "body": body}, sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def _cache_get(self, key: str) -> dict[str, Any] | None:
        if not self.use_cache:
            return None
        hit = self._cache.get(key)
        if hit is None and self.cache_dir is not None:
            path = self.cache_dir / key[:2] / f"{key}.json"
            try:
                hit = json.loads(path.read_text(encoding="utf-8"))
            except FileNotFoundError:
                return None
            except (OSError, ValueError):
                return None  # an unreadable entry is a miss; the fresh reply overwrites it
            self._cache[key] = hit
        return hit

    def _cache_put(self, key: str, reply: dict[str, Any]) -> None:
        if not self.use_cache:
            return
        self._cache[key] = reply
        if self.cache_dir is not None:
            folder = self.cache_dir / key[:2]
            tmp = folder / f".{key}.{os.getpid()}.tmp"
            try:
                folder.mkdir(parents=True, exist_ok=True)
                tmp.write_text(json.dumps(reply, ensure_ascii=False), encoding="utf-8")
                os.replace(tmp, folder / f"{key}.json")  # atomic: readers see the old entry or the whole new one
            except OSError as e:
                raise ProposalError(f"openai proposer: cannot write the response cache under {folder}: {e}") from e

    async def _attempt(self, body: Mapping[str, Any], headers: Mapping[str, str]) -> dict[str, Any]:
        url = self._url(self.endpoint)
        try:
            async with self._limiter:  # type: ignore[union-attr]
                with anyio.fail_after(self.timeout):  # a total bound: httpx's timeout is per read/write
                    resp = await self._http().post(url, json=body, headers=headers)
        except (httpx.TimeoutException, TimeoutError) as e:
            raise _Failed(f"no reply within the {self.timeout:g} s timeout", retry=False) from e
        except httpx.TransportError as e:
            raise _Failed(f"connection failed: {type(e).__name__}: {e or 'no detail'}", retry=True) from e
        if resp.status_code == 429 or resp.status_code >= 500:
            after = None
            try:
                after = float(resp.headers.get("retry-after", ""))
            except ValueError:
                pass
            raise _Failed(f"HTTP {resp.status_code} {resp.reason_phrase}: {_excerpt(resp.text)}",
                          retry=True, after=after)
        if resp.status_code != 200:
            raise _Failed(f"HTTP {resp.status_code} {resp.reason_phrase}: {_excerpt(resp.text)}", retry=False)
        try:
            reply = resp.json()
        except ValueError as e:
            raise _Failed(f"malformed reply, not JSON: {_excerpt(resp.text)}", retry=False) from e
        if not isinstance(reply, dict):
            raise _Failed(f"malformed reply, not a JSON object: {_excerpt(resp.text)}", retry=False)
        return reply

    async def _post(
        self, body: Mapping[str, Any], headers: Mapping[str, str], *, error: type[ModelServerError] = ModelServerError
    ) -> tuple[dict[str, Any], int]:
        """The reply to ``body`` and the number of retries it took; raises ``error`` after the last attempt."""
        url = self._url(self.endpoint)
        retries = 0
        while True:
            try:
                return await self._attempt(body, headers), retries
            except _Failed as e:
                if not e.retry or retries >= self.max_retries:
                    tries = f" (after {retries + 1} attempts)" if retries else ""
                    failed = error(url, e.reason + tries)
                    failed.retries = retries
                    raise failed from e
                delay = min(self.max_backoff, self.backoff * 2**retries) * self._jitter.random()
                if e.after is not None:
                    delay = min(self.max_backoff, max(delay, e.after))
                retries += 1
                await anyio.sleep(delay)

    def _samples(self, reply: Mapping[str, Any], url: str) -> list[Sample]:
        try:
            choices = reply["choices"]
            if not isinstance(choices, list):
                raise TypeError("'choices' is not a list")
            if all(isinstance(c, dict) and isinstance(c.get("index"), int) for c in choices):
                choices = sorted(choices, key=lambda c: c["index"])  # prompt-major with batched prompts
            out = []
            for c in choices:
                if self.chat:
                    text = c["message"]["content"]
                    lp = c.get("logprobs") or {}
                    entries = lp.get("content") or []
                    token_lps = [e.get("logprob") for e in entries]
                else:
                    text = c["text"]
                    lp = c.get("logprobs") or {}
                    token_lps = list(lp.get("token_logprobs") or [])
                if not isinstance(text, str):
                    raise TypeError(f"a choice's text is {type(text).__name__}, not a string")
                vals = [float(v) for v in token_lps if v is not None]
                if vals and all(math.isfinite(v) or v == -math.inf for v in vals):
                    out.append(Sample(text, math.fsum(vals), len(vals)))
                else:
                    out.append(Sample(text, None, 0))
            return out
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ModelServerError(url, f"malformed reply ({e}): {_excerpt(json.dumps(reply))}") from e

    async def _call(self, context: ProposalContext, prompt: str, n: int, seed: int | None) -> list[Sample]:
        samples = await self._request(self._body(prompt, n, seed), context, n, seed)
        if len(samples) < n:  # cached replies teach it too, so a re-run asks the same requests
            self._choices_seen = min(self._choices_seen or len(samples), len(samples))
        return samples

    async def _request(
        self, body: dict[str, Any], context: ProposalContext, n: int, seed: int | None, prompts: int = 1
    ) -> list[Sample]:
        url = self._url(self.endpoint)
        key = self._cache_key(body)
        t0 = time.monotonic()
        reply = self._cache_get(key)
        cached = reply is not None
        retries = 0
        try:
            if reply is None:
                reply, retries = await self._post(body, self._headers(ModelServerError))
            samples = self._samples(reply, url)
            if not samples:
                raise ModelServerError(url, f"the reply holds no choices (asked for {n})")
        except ModelServerError as e:
            self.records.append(CallRecord(self.endpoint, context.theorem_name, int(context.depth or 0), n, 0, 0, 0,
                                           time.monotonic() - t0, cached, e.retries, seed, e.reason, prompts))
            raise
        if not cached:
            self._cache_put(key, reply)
        usage = reply.get("usage") if isinstance(reply.get("usage"), dict) else {}
        self.records.append(CallRecord(
            self.endpoint, context.theorem_name, int(context.depth or 0), n, len(samples),
            _count(usage.get("prompt_tokens")), _count(usage.get("completion_tokens")),
            time.monotonic() - t0, cached, retries, seed, None, prompts,
        ))
        return samples

    def _base_seed(self, prompt: str, rng: np.random.Generator) -> int | None:
        if self.seed is None:
            return int(rng.integers(0, 2**31 - 1))
        digest = hashlib.sha256(f"{self.seed}\0{prompt}".encode()).digest()
        return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF

    async def _sample_context(self, context: ProposalContext, n: int, rng: np.random.Generator) -> list[Sample]:
        prompt = render_prompt(self.template.text, context)
        base = self._base_seed(prompt, rng)
        per = min(n, self._choices_seen or n)
        if self._choices_seen is None or per >= n:
            return await self._top_up(context, prompt, await self._call(context, prompt, per, base), n, base)
        # How many choices a reply holds is known (``n_per_request``, or seen before): every request at once.
        # The requests (and their seeds) are the ones the sequential path sends, so replies and cache keys agree.
        first: list[Sample] = []
        failed: list[ModelServerError] = []

        async def lead() -> None:
            nonlocal first
            try:
                first = await self._call(context, prompt, per, base)
            except ModelServerError as e:
                failed.append(e)

        async with anyio.create_task_group() as tg:
            tg.start_soon(lead)
            try:
                extra = await self._more(context, prompt, per, n, base)
            except ModelServerError as e:
                failed.append(e)
                extra = []
        if failed:
            raise failed[0]
        if len(first) < per:  # the server returned fewer than it did before: fill in, one more round
            return await self._top_up(context, prompt, first + extra, n, base)
        return (first + extra)[:n]

    async def _top_up(
        self, context: ProposalContext, prompt: str, samples: list[Sample], n: int, base: int | None
    ) -> list[Sample]:
        """``samples`` completed to ``n`` with more requests, concurrently, each with its own seed."""
        if len(samples) >= n:
            return samples[:n]
        return samples + await self._more(context, prompt, len(samples), n, base)

    async def _more(self, context: ProposalContext, prompt: str, have: int, n: int, base: int | None) -> list[Sample]:
        """The samples from ``have`` to ``n``: concurrent requests of as many choices as a reply holds, the
        ``i``-th seeded ``base + 1 + i``; raises the first :class:`ModelServerError`."""
        per = min(n, self._choices_seen or have or 1)
        missing = n - have
        sizes = [per] * (missing // per) + ([missing % per] if missing % per else [])
        extra: list[list[Sample]] = [[] for _ in sizes]
        errors: list[ModelServerError] = []

        async def one(i: int, size: int) -> None:
            try:
                extra[i] = await self._call(context, prompt, size, None if base is None else base + 1 + i)
            except ModelServerError as e:
                errors.append(e)

        async with anyio.create_task_group() as tg:
            for i, size in enumerate(sizes):
                tg.start_soon(one, i, size)
        if errors:
            raise errors[0]
        return [s for chunk in extra for s in chunk]

    def _tactic(self, text: str) -> str:
        body = text
        stripped = body.strip()
        if stripped.startswith("```"):  # chat models like to fence code
            lines = stripped.splitlines()[1:]
            if lines and lines[-1].strip().startswith("```"):
                lines = lines[:-1]
            body = "\n".join(lines)
        if self.mode == "proof":
            return textwrap.dedent(body.rstrip()).strip("\n")
        return body.strip()

    def _priors(self, samples: Sequence[Sample], k: int) -> list[TacticProposal]:
        tactics = [(self._tactic(s.text), s) for s in samples]
        tactics = [(t, s) for t, s in tactics if t.strip()]
        if not tactics:
            return []
        if all(s.logprob is not None for _t, s in tactics):
            best: dict[str, tuple[str, float]] = {}
            for t, s in tactics:
                score = s.logprob / max(1, s.tokens) if self.length_normalize else s.logprob
                key = " ".join(t.split())
                if key not in best or score > best[key][1]:
                    best[key] = (best.get(key, (t, 0.0))[0], score)
            names = [t for t, _s in best.values()]
            scores = np.array([s for _t, s in best.values()], dtype=float)
            top = scores.max()
            weights = np.exp(scores - top) if math.isfinite(top) else np.ones_like(scores)
            weights = weights / weights.sum()
            proposals = [TacticProposal(t, float(w)) for t, w in zip(names, weights)]
        else:
            proposals = [TacticProposal(t, 1.0 / len(tactics)) for t, _s in tactics]  # finalize adds duplicates
        return finalize(proposals, k)

    async def sample(self, context: ProposalContext, n: int, *, rng: np.random.Generator) -> list[Sample]:
        """``n`` raw completions for one state (what the priors are computed from); raises
        :class:`ModelServerError`."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise StatsError(f"the number of samples must be an int >= 1, got {n!r}")
        self._http()
        return await self._sample_context(context, n, rng)

    def tactic_of(self, sample: Sample) -> str:
        """The tactic (``mode="tactic"``) or proof block (``mode="proof"``) a sample proposes; ``""`` if none."""
        return self._tactic(sample.text)

    # ------------------------------------------------------------------ the seam
    async def propose_many(
        self, contexts: Sequence[ProposalContext], k: int, *, rng: np.random.Generator
    ) -> list[ProposalResult]:
        """One item per context: up to ``k`` tactics with priors, or the :class:`ModelServerError` that failed
        that state.  Contexts are served concurrently (at most ``max_concurrency`` requests in flight)."""
        if isinstance(k, bool) or not isinstance(k, int) or k < 1:
            raise StatsError(f"the number of tactics wanted must be an int >= 1, got {k!r}")
        n = self.n or k
        self._http()
        if self.batch_prompts and len(contexts) > 1:
            return await self._propose_batch(contexts, n, k, rng)

        async def one(ctx: ProposalContext) -> list[TacticProposal]:
            return self._priors(await self._sample_context(ctx, n, rng), k)

        return await each_state(contexts, one, catch=ProposalError)

    async def _propose_batch(
        self, contexts: Sequence[ProposalContext], n: int, k: int, rng: np.random.Generator
    ) -> list[ProposalResult]:
        """``batch_prompts``: one request for every state, then per-state top-ups if it returned too few."""
        prompts = [render_prompt(self.template.text, c) for c in contexts]
        bases = [self._base_seed(p, rng) for p in prompts]
        seed = self._base_seed("\0".join(prompts), rng)
        per = min(n, self._choices_seen or n)
        try:
            flat = await self._request(self._body(prompts, per, seed), contexts[0], per * len(prompts), seed,
                                       prompts=len(prompts))
            if len(flat) % len(prompts):
                raise ModelServerError(self._url(self.endpoint), f"the reply holds {len(flat)} choices for "
                                       f"{len(prompts)} prompts (asked {per} each)")
        except ModelServerError as e:
            return [e for _ in contexts]
        got = len(flat) // len(prompts)
        if got < per:
            self._choices_seen = min(self._choices_seen or got, got)
        out: list[ProposalResult] = [[] for _ in contexts]

        async def one(i: int) -> None:
            try:
                samples = await self._top_up(contexts[i], prompts[i], flat[i * got:(i + 1) * got], n, bases[i])
                out[i] = self._priors(samples, k)
            except ProposalError as e:
                out[i] = e

        async with anyio.create_task_group() as tg:
            for i in range(len(contexts)):
                tg.start_soon(one, i)
        return out

    async def propose(self, context: ProposalContext, k: int, *, rng: np.random.Generator) -> list[TacticProposal]:
        """Up to ``k`` tactics for one state; raises :class:`ModelServerError` when the model call failed."""
        return await _propose_one(self, context, k, rng)

    # ------------------------------------------------------------------ records
    def take_records(self) -> list[CallRecord]:
        """The call records made since the last ``take_records()`` (for the results rows)."""
        new = self.records[self._taken:]
        self._taken = len(self.records)
        return new

    def stats(self) -> dict[str, Any]:
        """Totals over every call so far: calls, cached, errors, retries, tokens, latency (sum, mean, max)."""
        live = [r for r in self.records if not r.cached]
        lat = [r.latency for r in live]
        return {
            "calls": len(self.records),
            "model_calls": len(live),
            "cached": sum(r.cached for r in self.records),
            "errors": sum(r.error is not None for r in self.records),
            "retries": sum(r.retries for r in self.records),
            "choices": sum(r.n_returned for r in self.records),
            "prompt_tokens": sum(r.prompt_tokens for r in live),
            "completion_tokens": sum(r.completion_tokens for r in live),
            "latency_sum": math.fsum(lat),
            "latency_mean": math.fsum(lat) / len(lat) if lat else 0.0,
            "latency_max": max(lat, default=0.0),
        }

    def __repr__(self) -> str:
        return f"OpenAIProposer(model={self.model!r}, base_url={self.base_url!r}, endpoint={self.endpoint!r})"
