#!/usr/bin/python3
"""Regenerates tests/data/golden_logits.txt: PyTorch's results for KL, reverse KL and TRL's generalized
JSD computed from logits by composition (log_softmax twice, then kl_div with log_target), with autograd
gradients with respect to q's logits.

Run with Debian's Python, which has python3-torch (1.13.1):

    /usr/bin/python3 tools/gen_golden_logits.py [output path]

Inputs are not stored: both this script and tests/test_logits_golden.cpp generate them with SplitMix64
(see logits()), exactly: each value is k / 2^20 - 8 for a 24-bit k, exact in float32, float64, and
rounded once by torch for bfloat16 and float16.  Masked entries (-inf in both p and q, probability
mask/128) come from the low bits of p's k.  PyTorch computes in float32 for float32 and half inputs
(upcast first: the library computes halves in f32 arithmetic) and in float64 for float64, on one thread.

File format (line based, tokens separated by spaces):
    # ...                                        comments
    kldiv-golden-logits 1
    torch <version>
    cases <N>
    case <name>
    input <dtype_p> <dtype_q> <rows> <cols> <seed_p> <seed_q> <mask>     dtypes: f32 f64 bf16 f16
    options <divergence> <beta> <temperature> <temperature_squared> <labels>
        divergence: kl reverse_kl jsd; labels 1: row r's label is -100 when r % 3 == 1, else r
    none <rows values>
    reduced <mean> <sum> <batchmean>
    grad full <rows*cols values>       the gradient of the batchmean loss (upstream 1), row-major
      or: grad summary <sum> <sum of squares> <k> <index value> * k   (large cases)
    end
Values are float.hex() of doubles (float32 results widened exactly) without trailing zero digits, or
inf, -inf, nan.
"""

import math
import os
import sys

import torch
import torch.nn.functional as F

M64 = (1 << 64) - 1
DTYPES = {"f32": torch.float32, "f64": torch.float64, "bf16": torch.bfloat16, "f16": torch.float16}


def splitmix(seed):
    state = seed & M64
    while True:
        state = (state + 0x9E3779B97F4A7C15) & M64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
        yield z ^ (z >> 31)


def logits(rows, cols, seed_p, seed_q, mask):
    """p and q as lists of floats: k / 2^20 - 8, k = next() >> 40; -inf in both where (k_p & 127) < mask."""
    gp, gq = splitmix(seed_p), splitmix(seed_q)
    p, q = [], []
    for _ in range(rows * cols):
        kp, kq = next(gp) >> 40, next(gq) >> 40
        if (kp & 127) < mask:
            p.append(-math.inf)
            q.append(-math.inf)
        else:
            p.append(kp / 2.0**20 - 8)
            q.append(kq / 2.0**20 - 8)
    return p, q


def divergence_rows(lp, lq, divergence, beta):
    """Per-row values from log-probabilities, in torch ops (TRL's generalized_jsd_loss for jsd).  kl_div's
    terms where the target's probability is 0 (masked, -inf logits) are NaN there (-inf - -inf); they are
    replaced by 0, the convention 0 log 0 = 0 that the library implements (and kept away from kl_div, so
    that its backward sees no NaN there)."""

    def kl(x, target):
        masked = target == -math.inf
        zero = torch.zeros_like(target)
        terms = F.kl_div(torch.where(masked, zero, x), torch.where(masked, zero, target), reduction="none",
                         log_target=True)
        return torch.where(masked, zero, terms)

    if divergence == "kl":
        terms = kl(lq, lp)
    elif divergence == "reverse_kl":
        terms = kl(lp, lq)
    else:
        b = torch.tensor(beta, dtype=lp.dtype)
        # Entries masked in both are kept out of logsumexp, whose backward is NaN at (-inf, -inf).
        both = (lp == -math.inf) & (lq == -math.inf)
        lps, lqs = (torch.where(both, torch.zeros_like(x), x) for x in (lp, lq))
        lm = torch.logsumexp(torch.stack([lqs + torch.log(1 - b), lps + torch.log(b)]), dim=0)
        terms = b * kl(lm, lp) + (1 - b) * kl(lm, lq)
    return terms.sum(-1)


def hexs(values):
    out = []
    for v in values:
        v = float(v)
        if math.isnan(v) or math.isinf(v):
            out.append("nan" if math.isnan(v) else "inf" if v > 0 else "-inf")
        else:
            mantissa, exponent = v.hex().split("p")
            out.append(mantissa.rstrip("0").rstrip(".") + "p" + exponent)
    return " ".join(out)


def case(f, name, dp, dq, rows, cols, seed_p, seed_q, mask, divergence, beta, t, tsq, labels):
    p, q = logits(rows, cols, seed_p, seed_q, mask)
    compute = torch.float64 if dp == "f64" else torch.float32
    pt = torch.tensor(p, dtype=torch.float64).reshape(rows, cols).to(DTYPES[dp]).to(compute)
    qt = torch.tensor(q, dtype=torch.float64).reshape(rows, cols).to(DTYPES[dq]).to(compute)
    qt.requires_grad_(True)
    lp = F.log_softmax(pt / t, dim=-1)
    lq = F.log_softmax(qt / t, dim=-1)
    per_row = divergence_rows(lp, lq, divergence, beta)
    if tsq:
        per_row = per_row * (t * t)
    keep = torch.ones(rows, dtype=torch.bool)
    if labels:
        keep = torch.tensor([r % 3 != 1 for r in range(rows)])
    per_row = torch.where(keep, per_row, torch.zeros_like(per_row))
    kept = int(keep.sum())
    total = per_row.sum()
    batchmean = total / max(kept, 1)
    mean = total / max(kept * cols, 1)
    batchmean.backward()
    grad = qt.grad.detach().to(torch.float64).flatten().tolist()
    f.write(f"case {name}\n")
    f.write(f"input {dp} {dq} {rows} {cols} {seed_p} {seed_q} {mask}\n")
    f.write(f"options {divergence} {float(beta).hex()} {float(t).hex()} {int(tsq)} {int(labels)}\n")
    f.write(f"none {hexs(per_row.detach().tolist())}\n")
    f.write(f"reduced {hexs([mean.item(), total.item(), batchmean.item()])}\n")
    if rows * cols <= 2048:
        f.write(f"grad full {hexs(grad)}\n")
    else:
        g = torch.tensor(grad, dtype=torch.float64)
        samples = [i * (rows * cols) // 17 + 3 for i in range(17)]
        f.write(f"grad summary {hexs([g.sum().item(), (g * g).sum().item()])} {len(samples)} " +
                " ".join(f"{i} {hexs([grad[i]])}" for i in samples) + "\n")
    f.write("end\n")


def main():
    torch.set_num_threads(1)
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data",
                                                                "golden_logits.txt")
    cases = []
    seed = 1
    shapes = [(1, 1), (1, 7), (3, 33), (2, 257), (5, 100), (4, 1000)]
    for divergence in ("kl", "reverse_kl", "jsd"):
        for t in (0.5, 1.0, 2.0, 4.0):
            for tsq in (False, True):
                rows, cols = shapes[(seed * 7) % len(shapes)]
                beta = (0.5, 0.1, 0.9)[seed % 3]
                labels = seed % 4 == 0 and rows >= 3
                mask = 13 if seed % 2 else 0
                dp = ("f32", "f64")[seed % 5 == 0]
                cases.append((f"{divergence}_T{t}_sq{int(tsq)}_{rows}x{cols}", dp, dp, rows, cols, seed, seed + 1000,
                              mask, divergence, beta, t, tsq, labels))
                seed += 1
    # Half precision and mixed pairs (an f32 teacher against a bf16 student, ...).
    for i, (dp, dq) in enumerate((("bf16", "bf16"), ("f16", "f16"), ("f32", "bf16"), ("bf16", "f16"), ("f16", "f32"))):
        for divergence in ("kl", "reverse_kl", "jsd"):
            rows, cols = ((3, 33), (2, 257), (1, 1000))[(i + len(divergence)) % 3]
            cases.append((f"{divergence}_{dp}_{dq}_{rows}x{cols}", dp, dq, rows, cols, 200 + 3 * i, 300 + 3 * i, 13 * (i % 2),
                          divergence, 0.3, (1.0, 2.0, 0.5)[i % 3], i % 2 == 1, i == 2))
    for divergence in ("kl", "jsd"):
        cases.append((f"{divergence}_4x128256", "f32", "f32", 4, 128256, 77, 78, 5, divergence, 0.5, 2.0, True, False))
        cases.append((f"{divergence}_labels_6x4097", "f32", "f32", 6, 4097, 79, 80, 13, divergence, 0.25, 1.0, False,
                      True))
    with open(path, "w") as f:
        f.write(__doc__.replace("\n", "\n# ").join(["# ", "\n"]))
        f.write("kldiv-golden-logits 1\n")
        f.write(f"torch {torch.__version__}\n")
        f.write(f"cases {len(cases)}\n")
        for c in cases:
            case(f, *c)


if __name__ == "__main__":
    main()
