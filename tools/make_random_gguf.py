#!/usr/bin/env python3
"""Writes a tiny randomly initialised qwen2 GGUF (f32) that llama.cpp loads and runs.

ACT through llama.cpp's graph callback works for every architecture llama.cpp runs; the check
tools/check_llama_cpp_arch.sh proves it on this file, an architecture the library's own model code
does not have (qwen2: biased q/k/v projections, grouped-query attention). The weights are random
(numpy, fixed seed, so the file is byte-identical from run to run) and mean nothing; the query and
key projections are scaled up so the attention maps are peaked and ACT finds sinks in them.

The tokenizer is a small byte-level BPE (gpt2 style): the 256 byte symbols,
merges built from a fixed word list, and one control token used as BOS and EOS; pre-tokenizer
"default". Both llama.cpp and
the library's tokenizer read it, so prompts can be given as text.

Needs the PyPI packages gguf and numpy (tools/install_deps.sh installs them).

    python3 tools/make_random_gguf.py OUT.gguf [--name NAME] [--seed N]
"""
import argparse
import os
import sys

import gguf
import numpy as np

ARCH = "qwen2"
LAYERS = 2
DIM = 64
HEADS = 4
KV_HEADS = 2
FFN_DIM = 128
CONTEXT = 512
QK_GAIN = 4.0  # scales the q/k projections: sharper softmax rows, so columns with sinks exist

MERGE_WORDS = ["the", "and", "was", "there", "little", "girl", "play", "park", "with", "her", "dog",
               "once", "upon", "time", "good", "bad", "movie", "great", "news", "sports"]
SPECIAL = "<|endoftext|>"


def byte_symbols():
    """The printable stand-in of each byte, as gpt2-style byte-level BPE writes tokens."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    symbols = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in symbols:
            symbols[b] = chr(256 + extra)
            extra += 1
    return [symbols[b] for b in range(256)]


def vocabulary():
    """Tokens, token types and merges: bytes, then each merge's result, then the control token."""
    symbols = byte_symbols()
    tokens = list(symbols)
    merges = []
    space = symbols[ord(" ")]
    for word in MERGE_WORDS:
        for spelled in (word, space + word):
            current = spelled[0]
            for ch in spelled[1:]:
                merged = current + ch
                if merged not in tokens:
                    merges.append(f"{current} {ch}")
                    tokens.append(merged)
                current = merged
    types = [gguf.TokenType.NORMAL] * len(tokens) + [gguf.TokenType.CONTROL]
    tokens.append(SPECIAL)
    return tokens, types, merges


def add_metadata(writer, name, vocab_size):
    writer.add_name(name)
    writer.add_context_length(CONTEXT)
    writer.add_embedding_length(DIM)
    writer.add_block_count(LAYERS)
    writer.add_feed_forward_length(FFN_DIM)
    writer.add_head_count(HEADS)
    writer.add_head_count_kv(KV_HEADS)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-6)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    writer.add_vocab_size(vocab_size)


def add_tokenizer(writer, tokens, types, merges):
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")  # both llama.cpp and the library know it (gpt2 rules)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_bos_token_id(len(tokens) - 1)
    writer.add_eos_token_id(len(tokens) - 1)
    writer.add_add_bos_token(True)


def add_tensors(writer, rng, vocab_size):
    """numpy shapes are [out, in]: GGUF lists dimensions innermost first, so ne = [in, out]."""
    def weight(rows, cols, gain=1.0):
        return (rng.standard_normal((rows, cols)) * gain / np.sqrt(cols)).astype(np.float32)

    def vector(n, scale):
        return (rng.standard_normal(n) * scale).astype(np.float32)

    kv_dim = DIM // HEADS * KV_HEADS
    writer.add_tensor("token_embd.weight", weight(vocab_size, DIM, np.sqrt(DIM)))
    for layer in range(LAYERS):
        blk = f"blk.{layer}."
        writer.add_tensor(blk + "attn_norm.weight", np.ones(DIM, np.float32))
        writer.add_tensor(blk + "attn_q.weight", weight(DIM, DIM, QK_GAIN))
        writer.add_tensor(blk + "attn_q.bias", vector(DIM, 0.5))
        writer.add_tensor(blk + "attn_k.weight", weight(kv_dim, DIM, QK_GAIN))
        writer.add_tensor(blk + "attn_k.bias", vector(kv_dim, 0.5))
        writer.add_tensor(blk + "attn_v.weight", weight(kv_dim, DIM))
        writer.add_tensor(blk + "attn_v.bias", vector(kv_dim, 0.1))
        writer.add_tensor(blk + "attn_output.weight", weight(DIM, DIM))
        writer.add_tensor(blk + "ffn_norm.weight", np.ones(DIM, np.float32))
        writer.add_tensor(blk + "ffn_gate.weight", weight(FFN_DIM, DIM))
        writer.add_tensor(blk + "ffn_up.weight", weight(FFN_DIM, DIM))
        writer.add_tensor(blk + "ffn_down.weight", weight(DIM, FFN_DIM))
    writer.add_tensor("output_norm.weight", np.ones(DIM, np.float32))
    writer.add_tensor("output.weight", weight(vocab_size, DIM))


def write_model(path, name, seed):
    tokens, types, merges = vocabulary()
    rng = np.random.default_rng(seed)
    # Written beside the target and renamed: a reader never sees a half-written model.
    partial = path + ".partial"
    writer = gguf.GGUFWriter(partial, ARCH)
    add_metadata(writer, name, len(tokens))
    add_tokenizer(writer, tokens, types, merges)
    add_tensors(writer, rng, len(tokens))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    os.replace(partial, path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="GGUF file to write")
    parser.add_argument("--name", default="qwen2-random-tiny", help="general.name (head sets name the model)")
    parser.add_argument("--seed", type=int, default=1, help="numpy seed of the weights")
    args = parser.parse_args()
    write_model(args.out, args.name, args.seed)
    print(f"{args.out}: {ARCH}, {LAYERS} layers, {HEADS} heads ({KV_HEADS} kv), dim {DIM}", file=sys.stderr)


if __name__ == "__main__":
    main()
