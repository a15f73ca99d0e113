"""A tiny random-weight llama model in GGUF, written with the ``gguf`` package (~0.5 MB, a few ms).

64 dimensions, 2 layers, 4 heads, a byte-fallback SentencePiece ("llama") vocabulary: ``<unk> <s> </s>`` and
the 256 byte tokens ``<0x00>``..``<0xFF>``, so any text tokenizes and any byte can be generated.  The output
projection is small, so the next-token distribution is nearly flat: sampling is diverse, and a GBNF grammar
decides what text comes out.
"""

from __future__ import annotations

from pathlib import Path

import gguf
import numpy as np

N_EMBD = 64
N_LAYER = 2
N_HEAD = 4
N_FF = 128
N_CTX = 1024


def write_tiny_llama(path: Path, *, seed: int = 0) -> Path:
    """Write the model to ``path`` and return it."""
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
