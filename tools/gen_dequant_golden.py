#!/usr/bin/env python3
"""Writes the dequantisation golden data for tests/io from an independent reference: the PyPI
`gguf` package (gguf.GGUFReader to read tensors, gguf.quants.dequantize to decode them).

Outputs (see tests/data/README.md):
  tests/data/dequant_synthetic.json  seeded random blocks of every decodable type + expected values
  tests/data/dequant_models.json     sampled values and row checksums of tensors of real models

Expected floats are stored as their IEEE float32 bit patterns so comparisons are exact and NaNs
survive JSON. Usage:
  tools/gen_dequant_golden.py [--stories PATH] [--smollm PATH] [--out DIR]
"""
import argparse
import json
import math
import os
from pathlib import Path

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFReader
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize

SEED = 20240229
SYNTHETIC_BLOCKS = {"per_legacy_type": 4, "per_k_type": 2, "per_scalar_type": 96}

# Byte offsets of f16 fields inside one block: the scales/mins that must be finite so the expected
# values are ordinary numbers (non-finite scales are covered by the C++ f16 edge-case tests).
F16_FIELDS = {
    T.Q4_0: [0],
    T.Q4_1: [0, 2],
    T.Q5_0: [0],
    T.Q5_1: [0, 2],
    T.Q8_0: [0],
    T.Q4_K: [0, 2],
    T.Q5_K: [0, 2],
    T.Q6_K: [208],
}

MODEL_TENSORS = {
    "stories260K": [
        "token_embd.weight",
        "output_norm.weight",
        "output.weight",
        "blk.0.attn_q.weight",
        "blk.4.ffn_down.weight",
    ],
    "smollm2": [
        "token_embd.weight",  # Q8_0
        "blk.0.attn_q.weight",  # Q4_1
        "blk.29.ffn_down.weight",  # Q4_1
        "blk.0.attn_norm.weight",  # F32
        "output_norm.weight",  # F32
    ],
}


def float_bits(values: np.ndarray) -> list[int]:
    return [int(b) for b in np.asarray(values, dtype=np.float32).view(np.uint32).ravel()]


def random_finite_f16(rng: np.random.Generator, count: int) -> np.ndarray:
    """Uniform random half-precision bit patterns with the inf/NaN exponent excluded."""
    bits = rng.integers(0, 1 << 16, size=count, dtype=np.uint32).astype(np.uint16)
    exponent_all_ones = (bits & 0x7C00) == 0x7C00
    bits[exponent_all_ones] &= 0xBFFF  # clear the top exponent bit: still random, now finite
    return bits


def synthetic_case(rng: np.random.Generator, qtype: T) -> dict:
    block_size, block_bytes = GGML_QUANT_SIZES[qtype]
    if block_size == 1:
        blocks = SYNTHETIC_BLOCKS["per_scalar_type"]
    elif block_size == 256:
        blocks = SYNTHETIC_BLOCKS["per_k_type"]
    else:
        blocks = SYNTHETIC_BLOCKS["per_legacy_type"]
    raw = rng.integers(0, 256, size=(blocks, block_bytes), dtype=np.uint8)
    if qtype == T.F16:
        raw = random_finite_f16(rng, blocks).view(np.uint8).reshape(blocks, 2)
    for offset in F16_FIELDS.get(qtype, []):
        raw[:, offset:offset + 2] = random_finite_f16(rng, blocks).view(np.uint8).reshape(blocks, 2)
    values = dequantize(raw.reshape(1, -1), qtype).ravel()
    assert values.size == blocks * block_size
    return {
        "type": qtype.name,
        "elements": int(values.size),
        "bytes": raw.tobytes().hex(),
        "expected_bits": float_bits(values),
    }


def write_synthetic(out_dir: Path) -> Path:
    rng = np.random.default_rng(SEED)
    types = [T.F32, T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1, T.Q8_0, T.Q4_K, T.Q5_K, T.Q6_K]
    cases = [synthetic_case(rng, qtype) for qtype in types]
    path = out_dir / "dequant_synthetic.json"
    write_json(path, {"generator": "tools/gen_dequant_golden.py", "seed": SEED, "cases": cases})
    return path


def sample_indices(rng: np.random.Generator, count: int) -> list[int]:
    fixed = [0, 1, 2, 31, 32, 33, 255, 256, 1000, count // 2, count - 1]
    random = rng.integers(0, count, size=6).tolist()
    return sorted({i for i in fixed + random if 0 <= i < count})


def row_checksum(values: np.ndarray, row: int, row_length: int) -> dict:
    chunk = values[row * row_length:(row + 1) * row_length].astype(np.float64)
    return {
        "row": row,
        "sum": math.fsum(chunk),  # correctly rounded, so only the C++ side's error matters
        "sum_abs": math.fsum(np.abs(chunk)),
        "sum_squares": math.fsum(chunk * chunk),  # squares of floats are exact in double
    }


def tensor_golden(rng: np.random.Generator, tensor) -> dict:
    qtype = T(tensor.tensor_type)
    values = dequantize(tensor.data, qtype).astype(np.float32).ravel()
    dims = [int(d) for d in tensor.shape]  # gguf order: dims[0] is the contiguous one
    assert values.size == math.prod(dims)
    row_length = dims[0]
    rows = values.size // row_length
    indices = sample_indices(rng, values.size)
    checked_rows = sorted({0, min(1, rows - 1), rows // 2, rows - 1})
    return {
        "name": tensor.name,
        "type": qtype.name,
        "dims": dims,
        "indices": indices,
        "expected_bits": float_bits(values[indices]),
        "rows": [row_checksum(values, r, row_length) for r in checked_rows],
    }


def model_golden(rng: np.random.Generator, path: Path, names: list[str]) -> dict:
    reader = GGUFReader(path)
    by_name = {t.name: t for t in reader.tensors}
    return {"file": path.name, "tensors": [tensor_golden(rng, by_name[name]) for name in names]}


def write_models(out_dir: Path, stories: Path, smollm: Path) -> Path:
    rng = np.random.default_rng(SEED + 1)
    models = {
        "stories260K": model_golden(rng, stories, MODEL_TENSORS["stories260K"]),
        "smollm2": model_golden(rng, smollm, MODEL_TENSORS["smollm2"]),
    }
    path = out_dir / "dequant_models.json"
    write_json(path, {"generator": "tools/gen_dequant_golden.py", "models": models})
    return path


def write_json(path: Path, document: dict) -> None:
    path.write_text(json.dumps(document, separators=(",", ":")) + "\n")


def main() -> None:
    repo = Path(__file__).resolve().parent.parent
    cache = Path(os.environ.get("ACT_CACHE_DIR", Path.home() / ".cache" / "act"))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--stories", type=Path, default=repo.parent / "shared" / "models" / "stories260K.gguf")
    parser.add_argument(
        "--smollm", type=Path, default=cache / "SmolLM2-135M-Instruct.Q4_1.gguf")
    parser.add_argument("--out", type=Path, default=repo / "tests" / "data")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for path in (write_synthetic(args.out), write_models(args.out, args.stories, args.smollm)):
        print(f"{path} ({path.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
