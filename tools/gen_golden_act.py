#!/usr/bin/env python3
"""Golden vectors for ACT: an independent float64 numpy transcription of ACT-SPEC.md section 2.

Writes tests/data/act_golden.json: small attention problems (float32-representable inputs) and the
calibrated outputs, sink sets and column means that steps 1-8 of the spec give. Written from the
spec, not from the C++ code; tests/kernels/test_golden.cpp checks both C++ kernels against it.

Usage: python3 tools/gen_golden_act.py [output.json]
"""
import json
import pathlib
import sys

import numpy as np

# The library's r = 0 rule (a row with no non-sink mass is left unchanged) is kept out of these
# cases: every calibrated row must have at least this much non-sink mass.
MIN_REST_MASS = 1e-3


def softmax_map(q, k, scale, causal):
    """Post-softmax map A [n, n] of one head; causal row i sees columns 0..i."""
    scores = (q.astype(np.float64) @ k.astype(np.float64).T) * scale
    n = scores.shape[0]
    if causal:
        scores = np.where(np.tril(np.ones((n, n), dtype=bool)), scores, -np.inf)
    scores -= scores.max(axis=1, keepdims=True)
    weights = np.exp(scores)
    return weights / weights.sum(axis=1, keepdims=True)


def calibrate_head(a, causal, beta, tau, first_entry_to_one):
    """Steps 1-7 on one head's map; returns (calibrated map, sink set S, column means)."""
    n = a.shape[0]
    seen_by = (n - np.arange(n)) if causal else np.full(n, n)   # step 1: queries that see column j
    means = a.sum(axis=0) / seen_by
    candidates = [j for j in range(n) if means[j] > tau]        # step 2: strictly above tau
    sinks = candidates[1:]                                       # step 3: drop the first candidate
    calibrated = a.copy()
    if sinks:
        is_sink = np.zeros(n, dtype=bool)
        is_sink[sinks] = True
        for i in range(n):
            m = a[i, is_sink].sum()                              # step 4
            r = a[i, ~is_sink].sum()
            assert r > MIN_REST_MASS, "case would hit the r = 0 rule; change the seed"
            calibrated[i, is_sink] = beta * a[i, is_sink]        # step 5
            calibrated[i, ~is_sink] = a[i, ~is_sink] + (1.0 - beta) * m * a[i, ~is_sink] / r  # step 6
    if first_entry_to_one:
        calibrated[0, 0] = 1.0                                   # step 7 (reference quirk)
    return calibrated, sinks, means


def float32_normal(rng, shape, scale=1.0):
    return (rng.standard_normal(shape) * scale).astype(np.float32)


def make_case(name, seed, q_heads, kv_heads, n, d, causal, beta, tau, quirk, planted):
    beta, tau = float(np.float32(beta)), float(np.float32(tau))  # the float32 values the library receives
    rng = np.random.default_rng(seed)
    q = float32_normal(rng, (q_heads, n, d))
    k = float32_normal(rng, (kv_heads, n, d))
    v = float32_normal(rng, (kv_heads, n, d))
    # Planted sinks: keys along the first axis, which every query leans towards.
    q[:, :, 0] = np.abs(q[:, :, 0]) + 1.0
    for j, strength in planted:
        k[:, j, 0] = strength
    scale = float(np.float32(1.0) / np.sqrt(np.float32(d)))    # the library's default, in float32
    group = q_heads // kv_heads
    out = np.zeros((q_heads, n, d))
    sinks, means = [], []
    for h in range(q_heads):
        kv = h // group
        a = softmax_map(q[h], k[kv], scale, causal)
        calibrated, head_sinks, head_means = calibrate_head(a, causal, beta, tau, quirk)
        out[h] = calibrated @ v[kv].astype(np.float64)           # step 8
        sinks.append(head_sinks)
        means.append(head_means.tolist())
    return {
        "name": name, "q_heads": q_heads, "kv_heads": kv_heads, "n": n, "dim": d,
        "causal": causal, "scale": scale, "beta": beta, "tau": tau, "first_entry_to_one": quirk,
        "q": q.astype(np.float64).ravel().tolist(), "k": k.astype(np.float64).ravel().tolist(),
        "v": v.astype(np.float64).ravel().tolist(),
        "out": out.ravel().tolist(), "sinks": sinks, "column_means": means,
    }


def main():
    default = pathlib.Path(__file__).resolve().parent.parent / "tests" / "data" / "act_golden.json"
    path = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else default
    cases = [
        make_case("causal, 2 heads", 1, 2, 2, 16, 4, True, 0.4, 0.1, False, [(3, 2.5), (9, 2.0)]),
        make_case("causal, GQA 4:2", 2, 4, 2, 24, 8, True, 0.4, 0.1, False, [(5, 3.0), (14, 3.0)]),
        make_case("non-causal, GQA 3:1", 3, 3, 1, 12, 5, False, 0.4, 0.15, False, [(0, 3.0), (7, 3.0)]),
        make_case("causal, step 7 quirk", 1, 2, 2, 16, 4, True, 0.4, 0.1, True, [(3, 2.5), (9, 2.0)]),
        make_case("non-causal, step 7 quirk", 4, 2, 1, 10, 3, False, 0.5, 0.12, True, [(2, 3.0), (6, 2.5)]),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"generator": "tools/gen_golden_act.py", "cases": cases}, indent=None) + "\n")
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
