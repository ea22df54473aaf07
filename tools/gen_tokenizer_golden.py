#!/usr/bin/env python3
"""Golden token ids for tests/text, from tokenizers independent of act that load the same GGUF.

SmolLM2 (byte-level BPE, pre-tokenizer "smollm"):
  reference    transformers' GGUF loader (AutoTokenizer.from_pretrained(dir, gguf_file=...)), whose
               Rust `tokenizers` backend is given SmolLM2's own pre-tokenizer from its tokenizer.json,
               Sequence[Digits(individual_digits=True), ByteLevel(add_prefix_space=False)]; the GGUF
               loader would otherwise install plain GPT-2 ByteLevel, which keeps digit runs whole.
  cross-checks llama-cpp-python (tokenize(special=True)), and the unmodified GGUF loader.
stories260K (SentencePiece-style llama vocabulary):
  reference    llama-cpp-python, Llama(vocab_only=True).tokenize(text, add_bos, special=True).
  cross-check  sentencepiece itself, with a BPE model rebuilt from the GGUF vocabulary (pieces,
               scores, types; identity normalisation, dummy prefix, byte fallback), on the texts
               without special tokens (SentencePiece does not parse them). transformers cannot
               load this file (it indexes the vocabulary with the "no token" padding id).

Usage: tools/gen_tokenizer_golden.py [--smollm PATH] [--stories PATH]
Writes tests/data/tokenizer_golden_smollm.json and tests/data/tokenizer_golden_stories.json.
"""
import argparse
import ctypes
import importlib.metadata
import json
import os
import pathlib
import random

ROOT = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_SMOLLM = pathlib.Path.home() / ".cache" / "act" / "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_STORIES = ROOT.parent / "shared" / "models" / "stories260K.gguf"

CHAT = ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face"
        "<|im_end|>\n<|im_start|>user\nWhat is 12*34? Answer briefly.<|im_end|>\n"
        "<|im_start|>assistant\n")

TEXTS = [
    "",
    " ",
    "a",
    "Hello world",
    " Hello world",
    "  Hello  world  ",
    "The quick brown fox jumps over the lazy dog.",
    "Once upon a time, there was a little girl named Lily. She loved to play outside.",
    "I'm sure you'll see they've done it; isn't it? We'd agree, he's right.",
    "DON'T SHOUT 'quoted' ''s 'S 'x",
    "héllo wörld, café naïve façade Ærøskøbing",
    "e\u0301 combining accent vs \u00e9",
    "日本語のテキストです。",
    "中文分词测试，标点符号！",
    "한국어 문장",
    "Ελληνικά και русский текст",
    "مرحبا بالعالم",
    "🙂🚀 emoji 👨\u200d👩\u200d👧 family 🏳️\u200d🌈",
    "ﬁ ligature, ½ ² Ⅻ ③ numbers",
    "12345",
    "3.14159 and 2024-01-15, 1,000,000 and 0x1F",
    "123456789012345678901234567890",
    "x1y22z333 a1 b 2 c  3",
    "٣٤٥ and ४५६ digits",
    "\t tab\tseparated\t\tcolumns",
    "line1\nline2\r\n\nline4\n",
    "\n\n\n",
    "   ",
    "trailing spaces   ",
    "a  b   c    d",
    "\u00a0nbsp and\u3000ideographic\u2003em space",
    "\x0b\x0c vertical tab and form feed \x85 NEL \x1c file separator",
    "\x00\x01\x1f control characters \x7f",
    "bytes SmolLM2 cannot spell: a\x04b !\x04! ==\x13== \x06\x14\x16\x1d \U00040000",
    "def square(x):\n    return x ** 2  # comment\n",
    "for (int i = 0; i < n; ++i) { sum += a[i]; }",
    '<div class="note">&amp; &lt;tag&gt;</div>',
    '{"key": [1, 2.5, null], "nested": {"a": "b"}}',
    "https://example.com/path?query=1&x=y#frag",
    "snake_case camelCase PascalCase kebab-case CONSTANT_CASE",
    "....!!!???---___***",
    "U+2581 \u2581 lower one eighth block",
]

SMOLLM_TEXTS = [
    CHAT,
    "<|im_start|>user\nHi<|im_end|>",
    "<|im_start|><|im_end|>",
    "text<|endoftext|>more text",
    " <|im_start|> spaced <|im_end|> ",
    "<|im_start|assistant incomplete <|im_end",
    "<repo_name>act<file_sep>main.cpp<filename>",
]

STORIES_TEXTS = [
    "<s>Hello</s>",
    "Hello<s> world",
    "<unk> unknown",
]

# Characters the random texts are drawn from: letters, digits, spaces of several kinds,
# punctuation, accents, CJK, emoji, and pieces of special tokens.
ALPHABET = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
            + [" "] * 12 + ["  ", "\n", "\t", "\r\n", "\u00a0", "\u3000"]
            + list(".,;:!?'\"()[]{}<>|/\\-_=+*&^%$#@~`")
            + ["'s", "'ll", "é", "ü", "ß", "ñ", "ø", "日", "本", "語", "中", "文", "한", "ж", "λ",
               "١", "½", "Ⅻ", "🙂", "🚀", "👍🏽", "\u2581", "<|im_start|>", "<|im_end|>", "<s>"])


def random_texts(count, seed):
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 40))) for _ in range(count)]


def version(package):
    return importlib.metadata.version(package)


class LlamaCpp:
    def __init__(self, path):
        import llama_cpp
        self.lib = llama_cpp
        self.model = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)

    def encode(self, text, add_bos=False):
        return self.model.tokenize(text.encode("utf-8"), add_bos=add_bos, special=True)

    def piece(self, token):
        buffer = ctypes.create_string_buffer(256)
        length = self.lib.llama_token_to_piece(self.model._model.vocab, token, buffer, 256, 0, True)
        return buffer.raw[:length]


def smollm_tokenizers(path):
    os.environ["HF_HUB_OFFLINE"] = "1"
    from tokenizers import pre_tokenizers
    from transformers import AutoTokenizer

    plain = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    smollm = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    smollm.backend_tokenizer.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True),
    ])
    return smollm, plain


def sentencepiece_from_gguf(path):
    import gguf
    import sentencepiece
    from sentencepiece import sentencepiece_model_pb2 as model_pb2

    reader = gguf.GGUFReader(str(path))

    def array(key):
        field = reader.fields[key]
        return [field.contents(i) for i in range(len(field.data))]

    proto = model_pb2.ModelProto()
    for piece, score, kind in zip(array("tokenizer.ggml.tokens"), array("tokenizer.ggml.scores"),
                                  array("tokenizer.ggml.token_type")):
        entry = proto.pieces.add()
        entry.piece, entry.score, entry.type = piece, score, kind  # GGUF uses SentencePiece's types
    proto.trainer_spec.model_type = model_pb2.TrainerSpec.BPE
    proto.trainer_spec.vocab_size = len(proto.pieces)
    proto.trainer_spec.byte_fallback = True
    proto.trainer_spec.unk_id, proto.trainer_spec.bos_id, proto.trainer_spec.eos_id = 0, 1, 2
    proto.trainer_spec.pad_id = -1
    proto.normalizer_spec.name = "identity"
    proto.normalizer_spec.add_dummy_prefix = True
    proto.normalizer_spec.remove_extra_whitespaces = False
    proto.normalizer_spec.escape_whitespaces = True
    processor = sentencepiece.SentencePieceProcessor()
    processor.LoadFromSerializedProto(proto.SerializeToString())
    return processor


def cross_check(name, cases, encode):
    results = [(c, encode(c["text"])) for c in cases]
    disagreements = [{"text": c["text"], "ids": ids} for c, ids in results if ids != c["ids"]]
    print(f"  {name}: {len(cases) - len(disagreements)}/{len(cases)} agree")
    return {"tool": name, "compared": len(cases), "agreed": len(cases) - len(disagreements),
            "disagreements": disagreements}


def sampled_pieces(reference, size, step):
    ids = sorted(set(range(0, size, step)) | set(range(min(size, 300))))
    return [[i, reference.piece(i).hex()] for i in ids]


def write(path, golden):
    """One line per top-level entry and per list element, so diffs stay readable."""
    def dump(value):
        return json.dumps(value, ensure_ascii=True, separators=(",", ":"))
    lines = []
    for key, value in golden.items():
        if isinstance(value, list):
            items = ",\n".join("  " + dump(item) for item in value)
            lines.append(f" {dump(key)}: [\n{items}\n ]")
        else:
            lines.append(f" {dump(key)}: {dump(value)}")
    path.write_text("{\n" + ",\n".join(lines) + "\n}\n")
    print(f"wrote {path}")


def smollm_golden(path):
    reference, plain = smollm_tokenizers(path)
    llama = LlamaCpp(path)
    texts = TEXTS + SMOLLM_TEXTS + random_texts(150, seed=1)
    cases = [{"text": t, "ids": reference.encode(t, add_special_tokens=False)} for t in texts]
    print(f"{path.name}: {len(cases)} cases")
    checks = [
        cross_check(f"llama-cpp-python {version('llama_cpp_python')}", cases, llama.encode),
        cross_check(f"transformers {version('transformers')} GGUF loader with its default "
                    "ByteLevel pre-tokenizer (no digit split)", cases,
                    lambda t: plain.encode(t, add_special_tokens=False)),
    ]
    write(ROOT / "tests" / "data" / "tokenizer_golden_smollm.json", {
        "model": path.name,
        "generator": "tools/gen_tokenizer_golden.py",
        "reference": f"transformers {version('transformers')} (tokenizers {version('tokenizers')}) "
                     "GGUF loader with SmolLM2's pre-tokenizer Sequence[Digits(individual_digits), "
                     "ByteLevel]; encode(text, add_special_tokens=False)",
        "cross_checks": checks,
        "cases": cases,
        "pieces_reference": f"llama-cpp-python {version('llama_cpp_python')} "
                            "llama_token_to_piece(special=True), hex",
        "pieces": sampled_pieces(llama, 49152, 97),
    })


def stories_golden(path):
    llama = LlamaCpp(path)
    sentencepiece = sentencepiece_from_gguf(path)
    texts = TEXTS + STORIES_TEXTS + random_texts(60, seed=2)
    cases = [{"text": t, "ids": llama.encode(t), "ids_with_bos": llama.encode(t, add_bos=True)}
             for t in texts]
    print(f"{path.name}: {len(cases)} cases")
    specials = ("<s>", "</s>", "<unk>")
    plain_cases = [c for c in cases if not any(s in c["text"] for s in specials)]
    checks = [cross_check(f"sentencepiece {version('sentencepiece')}, BPE model rebuilt from the "
                          "GGUF vocabulary, texts without special tokens", plain_cases,
                          sentencepiece.encode)]
    write(ROOT / "tests" / "data" / "tokenizer_golden_stories.json", {
        "model": path.name,
        "generator": "tools/gen_tokenizer_golden.py",
        "reference": f"llama-cpp-python {version('llama_cpp_python')}: "
                     "Llama(vocab_only=True).tokenize(text, add_bos, special=True)",
        "cross_checks": checks,
        "cases": cases,
        "pieces_reference": f"llama-cpp-python {version('llama_cpp_python')} "
                            "llama_token_to_piece(special=True), hex",
        "pieces": sampled_pieces(llama, 512, 1),
    })


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smollm", type=pathlib.Path,
                        default=pathlib.Path(os.environ.get("ACT_MODEL", DEFAULT_SMOLLM)))
    parser.add_argument("--stories", type=pathlib.Path, default=DEFAULT_STORIES)
    args = parser.parse_args()
    smollm_golden(args.smollm)
    stories_golden(args.stories)


if __name__ == "__main__":
    main()
