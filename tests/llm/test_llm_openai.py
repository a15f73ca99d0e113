"""The openai proposer against real server processes: llama-cpp-python serving a tiny random llama model, and
tiny local stub servers (stall, 429/503, garbage, auth) -- all on 127.0.0.1."""

from __future__ import annotations

import math
import time

import anyio
import httpx
import numpy as np
import pytest

from experiments.bench.llm_server import free_port
from policies import load_policy
from policies.errors import PolicyLoadError, StatsError
from policies.openai_compat import (
    TEMPLATES,
    ModelServerError,
    OpenAIProposer,
    PreflightError,
    render_prompt,
    tactic_grammar,
)
from policies.seam import BatchWindow, ProposalContext, ProposalError

TACTICS = ["intro h", "exact h", "trivial", "assumption", "constructor", "left", "right", "contradiction"]
GRAMMAR = tactic_grammar(TACTICS)
CTX = ProposalContext(theorem_name="imp_self", statement="theorem imp_self (p : Prop) : p → p",
                      goals=["p : Prop\n⊢ p → p"])


def rng() -> np.random.Generator:
    return np.random.default_rng(0)


def proposer(server, **kw) -> OpenAIProposer:
    settings = dict(model=server.model, base_url=server.url, template="reprover", max_tokens=48,
                    extra_body={"grammar": GRAMMAR}, stop=None, timeout=30.0)
    settings.update(kw)
    return OpenAIProposer(**settings)


def run(fn, *args):
    return anyio.run(fn, *args)


# ------------------------------------------------------------------ llama.cpp server
def test_server_fixture_starts_fast_and_answers(llama_server):
    assert llama_server.start_seconds < 30.0
    ids = [m["id"] for m in httpx.get(f"{llama_server.url}/models").json()["data"]]
    assert ids == [llama_server.model]


def test_k_distinct_tactics_with_finite_negative_logprobs(llama_server):
    async def main():
        async with proposer(llama_server, n=16, cache=False) as p:
            samples = await p.sample(CTX, 16, rng=rng())
            proposals = await p.propose(CTX, 4, rng=rng())
            return samples, proposals, p.stats()

    samples, proposals, stats = run(main)
    assert len(samples) == 16
    assert all(s.logprob is not None and math.isfinite(s.logprob) and s.logprob < 0 for s in samples)
    assert all(s.tokens >= len(s.text.encode()) for s in samples)  # byte vocabulary: a token per byte
    assert len(proposals) == 4 and len({p.tactic for p in proposals}) == 4
    assert all(p.tactic in TACTICS for p in proposals)
    assert sum(p.prior for p in proposals) == pytest.approx(1.0)
    assert [p.prior for p in proposals] == sorted((p.prior for p in proposals), reverse=True)
    assert stats["errors"] == 0 and stats["completion_tokens"] > 0 and stats["prompt_tokens"] > 0


def test_priors_are_the_softmax_of_summed_logprobs_over_unique_tactics(llama_server):
    async def main():
        async with proposer(llama_server, n=8) as p:
            samples = await p.sample(CTX, 8, rng=rng())
            proposals = await p.propose(CTX, 8, rng=rng())  # the same requests: served from the cache
            return p, samples, proposals

    p, samples, proposals = run(main)
    best: dict[str, float] = {}
    for s in samples:
        best[s.text] = max(best.get(s.text, -math.inf), s.logprob)
    z = sum(math.exp(v) for v in best.values())
    want = sorted(((t, math.exp(v) / z) for t, v in best.items()), key=lambda tp: -tp[1])
    assert [(q.tactic, q.prior) for q in proposals] == [(t, pytest.approx(w)) for t, w in want]


def test_fewer_choices_than_asked_get_concurrent_requests_with_distinct_seeds(llama_server):
    async def main():
        async with proposer(llama_server, n=6, cache=False) as p:
            samples = await p.sample(CTX, 6, rng=rng())
            return samples, p.take_records()

    samples, records = run(main)
    assert len(samples) == 6
    assert records[0].n_asked == 6 and records[0].n_returned == 1  # llama.cpp returns one choice
    assert [(r.n_asked, r.n_returned) for r in records[1:]] == [(1, 1)] * 5
    assert len({r.seed for r in records}) == 6


def test_stop_sequences_cut_the_completion(llama_server):
    grammar = tactic_grammar(TACTICS, suffix="\nsorry\n")

    async def main():
        async with proposer(llama_server, n=4, stop=["\n"], extra_body={"grammar": grammar}, cache=False) as p:
            stopped = await p.sample(CTX, 4, rng=rng())
        async with proposer(llama_server, n=4, stop=[], extra_body={"grammar": grammar}, cache=False) as p:
            unstopped = await p.sample(CTX, 4, rng=rng())
        return stopped, unstopped

    stopped, unstopped = run(main)
    assert all(s.text in TACTICS for s in stopped), [s.text for s in stopped]
    assert all(s.text.endswith("\nsorry\n") and s.text[: -len("\nsorry\n")] in TACTICS for s in unstopped)


def test_determinism_by_seed(llama_server):
    contexts = [CTX, ProposalContext(theorem_name="t2", goals=["p q : Prop\nh : p ∧ q\n⊢ q ∧ p"],
                                     path=("intro h",))]

    async def texts(seed):
        async with proposer(llama_server, n=6, seed=seed, cache=False, n_per_request=1) as p:
            out = []
            for ctx in contexts:
                out.append([s.text for s in await p.sample(ctx, 6, rng=rng())])
            return out

    a, b = run(texts, 7), run(texts, 7)
    assert a == b
    others = [run(texts, s) for s in (8, 9, 10)]
    assert any(o != a for o in others)


def test_grammar_restricts_output_to_the_tactic_list(llama_server):
    tricky = ['exact "quoted"', "rcases h with ⟨h1, h2⟩", "simp [foo\\bar]", "exact absurd h1 h2", "omega"]

    async def main():
        async with proposer(llama_server, n=12, extra_body={"grammar": tactic_grammar(tricky)}, cache=False) as p:
            return await p.sample(CTX, 12, rng=rng())

    samples = run(main)
    assert {s.text for s in samples} <= set(tricky)
    assert len({s.text for s in samples}) >= 3


def test_chat_endpoint_with_the_internlm_template(llama_server):
    async def main():
        async with proposer(llama_server, template="internlm-stepprover", n=3, cache=False, n_per_request=1) as p:
            assert p.endpoint == "chat/completions"
            info = await p.preflight()
            return info, await p.sample(CTX, 3, rng=rng()), await p.propose(CTX, 3, rng=rng())

    info, samples, proposals = run(main)
    assert info["logprobs"] is True and info["models"] == [llama_server.model]
    assert all(s.text in TACTICS and s.logprob is not None and s.logprob < 0 for s in samples)
    assert proposals and sum(p.prior for p in proposals) == pytest.approx(1.0)


def test_cache_on_disk_makes_a_rerun_free_and_identical(llama_server, tmp_path):
    async def once():
        async with proposer(llama_server, n=5, cache_dir=tmp_path / "cache") as p:
            out = [await p.propose(CTX, 3, rng=rng())]
            return out, p.stats()

    first, s1 = run(once)
    second, s2 = run(once)  # a new proposer (a new process would do the same): only the disk cache is shared
    assert first == second
    assert s1["model_calls"] >= 1 and s1["cached"] == 0
    assert s2["model_calls"] == 0 and s2["cached"] == s1["calls"]
    assert list((tmp_path / "cache").rglob("*.json"))


def test_preflight_names_the_url_and_the_problem(llama_server):
    async def main(**kw):
        async with proposer(llama_server, **kw) as p:
            return await p.preflight()

    info = run(main)
    assert info["model"] == llama_server.model and info["logprobs"] is True
    with pytest.raises(PreflightError) as e:
        run(lambda: main(model="deepseek-ai/DeepSeek-Prover-V2-7B"))
    msg = str(e.value)
    assert f"{llama_server.url}/models" in msg and "unknown model 'deepseek-ai/DeepSeek-Prover-V2-7B'" in msg
    assert repr(llama_server.model) in msg and "\n" not in msg

    with pytest.raises(PreflightError,
                       match=r"/completions: probe request failed: HTTP 500 .*does this server take a list"):
        run(lambda: main(batch_prompts=True, max_retries=0))  # llama-cpp-python refuses a list of prompts

    dead = f"http://127.0.0.1:{free_port()}/v1"
    with pytest.raises(PreflightError, match=r"model server http://127\.0\.0\.1:\d+/v1/models: cannot connect"):
        run(lambda: main(base_url=dead))


def test_batch_window_over_the_proposer_serves_concurrent_states(llama_server):
    contexts = [ProposalContext(theorem_name=f"t{i}", goals=[f"p{i} : Prop\n⊢ p{i} → p{i}"]) for i in range(6)]

    async def main():
        async with proposer(llama_server, n=2, n_per_request=1, cache=False) as p:
            async with BatchWindow(p, max_batch=6, max_wait=0.2) as window:
                out = [None] * 6

                async def one(i):
                    out[i] = await window.propose(contexts[i], 2, rng=rng())

                async with anyio.create_task_group() as tg:
                    for i in range(6):
                        tg.start_soon(one, i)
                return out, window.stats(), p.stats()

    out, wstats, pstats = run(main)
    assert all(o and all(q.tactic in TACTICS for q in o) for o in out)
    assert wstats["batches"] == 1 and wstats["largest_batch"] == 6
    assert pstats["model_calls"] == 12


def test_batch_prompts_serve_several_states_in_one_request(stub_server):
    server = stub_server("batch")
    contexts = [ProposalContext(theorem_name=f"t{i}", goals=[f"⊢ p{i}"]) for i in range(5)]

    async def main():
        async with OpenAIProposer(model="stub-model", base_url=server.url, batch_prompts=True, n=3) as p:
            async with BatchWindow(p, max_batch=8, max_wait=0.2) as window:
                out = [None] * 5

                async def one(i):
                    out[i] = await window.propose(contexts[i], 2, rng=rng())

                async with anyio.create_task_group() as tg:
                    for i in range(5):
                        tg.start_soon(one, i)
            return out, p.take_records()

    out, records = run(main)
    for i, proposals in enumerate(out):
        assert [q.tactic for q in proposals] == [f"echo ⊢ p{i}"] and proposals[0].prior == pytest.approx(1.0)
    assert len(records) == 1 and records[0].prompts == 5 and records[0].n_asked == 15
    assert records[0].n_returned == 15 and records[0].completion_tokens == 15
    assert httpx.get(server.url.replace("/v1", "/count")).json() == {"post": 1}

    async def preflight():
        async with OpenAIProposer(model="stub-model", base_url=server.url, batch_prompts=True) as p:
            return await p.preflight()

    assert run(preflight)["logprobs"] is True
    with pytest.raises(StatsError, match="batch_prompts needs the completions endpoint"):
        OpenAIProposer(model="m", template="internlm-stepprover", batch_prompts=True)


# ------------------------------------------------------------------ failures
def test_server_killed_mid_run_fails_those_calls_with_a_reason_and_the_run_goes_on(fresh_llama_server):
    results: list[object] = []

    async def main():
        async with proposer(fresh_llama_server, n=2, n_per_request=1, cache=False, max_retries=2,
                            backoff=0.05) as p:
            for i in range(6):
                if i == 3:
                    fresh_llama_server.kill()  # SIGKILL: a crash, connections reset
                ctx = ProposalContext(theorem_name=f"t{i}", goals=[f"⊢ p{i}"])
                (res,) = await p.propose_many([ctx], 2, rng=rng())
                results.append(res)
            return p.stats(), p.take_records()

    stats, records = run(main)
    assert all(isinstance(r, list) and r for r in results[:3])
    for r in results[3:]:
        assert isinstance(r, ModelServerError) and isinstance(r, ProposalError)
        assert fresh_llama_server.url + "/completions" in str(r)
        assert "connection failed" in r.reason and "after 3 attempts" in r.reason
    # n_per_request = 1 is known, so both requests of a state go at once: each fails after its retries
    assert stats["errors"] == 6 and stats["retries"] == 12
    assert [r.error is not None for r in records[-6:]] == [True] * 6


def test_a_slow_server_hits_the_timeout_without_retrying(stub_server):
    stall = stub_server("stall")

    async def main():
        async with OpenAIProposer(model="stub-model", base_url=stall.url, timeout=0.5, max_retries=3) as p:
            t0 = time.monotonic()
            with pytest.raises(ModelServerError) as e:
                await p.propose(CTX, 2, rng=rng())
            took = time.monotonic() - t0
            with pytest.raises(PreflightError, match="no answer within 0.5 s"):
                await p.preflight()
            return e.value, took, p.take_records()

    err, took, records = run(main)
    assert "no reply within the 0.5 s timeout" in err.reason and stall.url in str(err)
    assert 0.45 <= took < 2.0, took
    assert records[0].retries == 0 and records[0].error == err.reason


def test_retries_with_backoff_on_429_and_503(stub_server):
    flaky = stub_server("flaky:3")

    async def main(max_retries):
        async with OpenAIProposer(model="stub-model", base_url=flaky.url, backoff=0.01, max_retries=max_retries,
                                  cache=False, n_per_request=1) as p:
            return await p.propose_many([CTX], 1, rng=rng()), p.take_records()

    (res,), records = run(main, 3)  # 429, 503, 429, then 200
    assert [q.tactic for q in res] == ["intro h"] and res[0].prior == pytest.approx(1.0)
    assert records[0].retries == 3 and records[0].error is None
    assert records[0].prompt_tokens == 7 and records[0].completion_tokens == 2
    assert httpx.get(flaky.url.replace("/v1", "/count")).json() == {"post": 4}

    flaky2 = stub_server("flaky:5")

    async def fail():
        async with OpenAIProposer(model="stub-model", base_url=flaky2.url, backoff=0.01, max_retries=1) as p:
            with pytest.raises(ModelServerError) as e:
                await p.propose(CTX, 1, rng=rng())
            return e.value

    err = run(fail)
    assert "HTTP 503" in err.reason and "(after 2 attempts)" in err.reason


def test_a_malformed_reply_fails_the_call_and_preflight_says_so(stub_server):
    garbage = stub_server("garbage")

    async def main():
        async with OpenAIProposer(model="stub-model", base_url=garbage.url) as p:
            (res,) = await p.propose_many([CTX], 2, rng=rng())
            with pytest.raises(PreflightError, match="malformed reply, not an OpenAI model list"):
                await p.preflight()
            return res

    res = run(main)
    assert isinstance(res, ModelServerError) and "malformed reply, not JSON: <html>not json" in res.reason


def test_a_bad_or_missing_api_key_is_one_clear_preflight_error(stub_server, monkeypatch):
    auth = stub_server("auth:sk-right")

    async def main():
        async with OpenAIProposer(model="stub-model", base_url=auth.url, api_key_env="CRYO_TEST_KEY") as p:
            return await p.preflight(probe=False)

    monkeypatch.delenv("CRYO_TEST_KEY", raising=False)
    with pytest.raises(PreflightError, match=r"\$CRYO_TEST_KEY \(api_key_env\) is not set"):
        run(main)
    monkeypatch.setenv("CRYO_TEST_KEY", "sk-wrong")
    with pytest.raises(PreflightError, match=r"HTTP 401: the API key was refused \(\$CRYO_TEST_KEY\)"):
        run(main)
    monkeypatch.setenv("CRYO_TEST_KEY", "sk-right")
    assert run(main)["models"] == ["stub-model"]


# ------------------------------------------------------------------ settings, templates, grammar
def test_registry_builds_it_and_bad_settings_are_one_clear_error():
    p = load_policy("proposer", "openai", model="m", base_url="http://127.0.0.1:1/v1", template="bfs-prover", n=4)
    assert isinstance(p, OpenAIProposer) and p.endpoint == "completions"
    with pytest.raises(StatsError) as e:
        load_policy("proposer", "openai", model="", base_url="ftp://x", n=0, top_p=2)
    msg = str(e.value)
    for part in ("model must be", "base_url must be", "n must be", "top_p must be"):
        assert part in msg
    with pytest.raises(StatsError, match=r"unknown field\(s\) \['goal'\]"):
        OpenAIProposer(model="m", template="[GOAL]{goal}[PROOFSTEP]")
    with pytest.raises(StatsError, match="neither a builtin"):
        OpenAIProposer(model="m", template="llemma")
    with pytest.raises(PolicyLoadError, match="cannot build it"):
        load_policy("proposer", "openai", modle="m")


def test_templates_render_the_published_formats():
    ctx = ProposalContext(theorem_name="and_swap", statement="theorem and_swap (p q : Prop) : p ∧ q → q ∧ p",
                          header="import Mathlib", path=("intro h",), goals=["p q : Prop\nh : p ∧ q\n⊢ q ∧ p"])
    assert render_prompt(TEMPLATES["reprover"].text, ctx) == (
        "[GOAL]\np q : Prop\nh : p ∧ q\n⊢ q ∧ p\n[PROOFSTEP]\n")
    assert render_prompt(TEMPLATES["bfs-prover"].text, ctx) == "p q : Prop\nh : p ∧ q\n⊢ q ∧ p:::"
    assert render_prompt(TEMPLATES["internlm-stepprover"].text, ctx) == (
        "---\nNAME: and_swap\n\n---\nPROOF_BEFORE: intro h\n\n---\nSTATE_BEFORE: p q : Prop\nh : p ∧ q\n⊢ q ∧ p"
        "\n\n---\nTACTIC: ")
    assert render_prompt(TEMPLATES["deepseek-prover"].text, ctx).endswith(
        "```lean4\nimport Mathlib\n\ntheorem and_swap (p q : Prop) : p ∧ q → q ∧ p := by\n  intro h\n")
    assert render_prompt("{name} {{literal}} {depth}", ctx) == "and_swap {literal} 1"


def test_tactic_grammar_escapes():
    g = tactic_grammar(['exact "a"', "simp [x\\y]", "a\nb", "⟨h1, h2⟩", "exact \"a\""], suffix="\n")
    assert g == ('root ::= tactic "\\n"\n'
                 'tactic ::= "exact \\"a\\"" | "simp [x\\\\y]" | "a\\nb" | "⟨h1, h2⟩"\n')
    with pytest.raises(StatsError):
        tactic_grammar([])
