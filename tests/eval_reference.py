#!/usr/bin/env python3
"""kldiv-eval against an independent numpy (float64) evaluation of llama-perplexity's definitions.

usage: eval_reference.py KLDIV_EVAL EVAL_MAKE_LLAMA WORKDIR

Writes synthetic logits (.npy), turns them into llama.cpp files with the library's writer
(eval_make_llama), hand-builds a file with every quirk, then checks every JSON field of kldiv-eval
against the reference (1e-5 relative, 1e-9 absolute), identical inputs (exactly 0 and 1), the same bytes
for 1, 2 and 7 threads and for each FMA ISA, the text layout, and that every bad file or argument exits
with status 2, a message naming the file, and no output.
"""
import json
import math
import os
import struct
import subprocess
import sys

import numpy as np

EVAL, MAKE, WORK = sys.argv[1], sys.argv[2], sys.argv[3]
os.makedirs(WORK, exist_ok=True)
failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL:", what)


def path(name):
    return os.path.join(WORK, name)


def run(args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([EVAL] + args + ["--no-progress"], capture_output=True, text=True, env=e)


# ---- inputs -------------------------------------------------------------------------------------------

def read_llama(name):
    """(n_ctx, n_vocab, n_chunk, tokens, stored log p [rows, vocab]) of a llama.cpp file."""
    with open(name, "rb") as f:
        data = f.read()
    assert data[:8] == b"_logits_"
    n_ctx, n_vocab, n_chunk = struct.unpack_from("<3i", data, 8)
    tokens = np.frombuffer(data, "<i4", n_ctx * n_chunk, 20)
    nv = 2 * ((n_vocab + 1) // 2) + 4
    rows = (n_ctx - 1 - n_ctx // 2) * n_chunk
    raw = np.frombuffer(data, "<u2", rows * nv, 20 + 4 * n_ctx * n_chunk).reshape(rows, nv)
    header = raw[:, :4].copy().view("<f4").astype(np.float64)
    codes = raw[:, 4:4 + n_vocab].astype(np.float64)
    return n_ctx, n_vocab, n_chunk, tokens, header[:, :1] * codes + header[:, 1:2]


def targets(n_ctx, n_chunk, tokens):
    first = n_ctx // 2
    t = tokens.reshape(n_chunk, n_ctx)[:, first + 1:]
    return t.reshape(-1).astype(np.int64)


def lse(x):
    m = np.max(x, axis=1, keepdims=True)
    return m + np.log(np.sum(np.exp(x - m), axis=1, keepdims=True))


class Side:
    """One input as float64: its stored values, and whether they are llama.cpp's log-probabilities."""

    def __init__(self, name):
        if name.endswith(".npy"):
            self.values = np.load(name).astype(np.float64)
            self.llama = False
            self.tokens = None
        else:
            n_ctx, _, n_chunk, tokens, self.values = read_llama(name)
            self.llama = True
            self.tokens = targets(n_ctx, n_chunk, tokens)

    def log_probs(self, t):
        if self.llama and t == 1:
            return self.values  # as stored
        v = self.values / t
        return v - lse(v)

    def log_prob_token(self, tok):
        lp = self.values if self.llama else self.values - lse(self.values)
        return lp[np.arange(len(tok)), tok]


def reference(base, cand, divergence="kl", beta=0.5, t=1.0, tokens=None):
    p, q = Side(base), Side(cand)
    lp, lq = p.log_probs(t), q.log_probs(t)
    with np.errstate(divide="ignore", invalid="ignore"):
        if divergence == "kl":
            pp = np.exp(lp)
            keep = pp > 0
            if p.llama:
                keep &= p.values > -16
            d = np.where(keep, pp * (lp - lq), 0).sum(axis=1)
        elif divergence == "reverse-kl":
            qq = np.exp(lq)
            d = np.where(qq > 0, qq * (lq - lp), 0).sum(axis=1)
        else:
            pp, qq = np.exp(lp), np.exp(lq)
            lm = np.log(beta * pp + (1 - beta) * qq)
            d = (np.where(pp > 0, beta * pp * (lp - lm), 0) + np.where(qq > 0, (1 - beta) * qq * (lq - lm), 0)).sum(axis=1)
    same = np.argmax(p.values, axis=1) == np.argmax(q.values, axis=1)
    if tokens is None:
        tokens = p.tokens if p.tokens is not None else q.tokens
    return statistics(d, same, None if tokens is None else (p.log_prob_token(tokens), q.log_prob_token(tokens)))


def mean_se(s, s2, n):
    f = s / n
    v = s2 / n - f * f
    return f, math.sqrt(v / (n - 1)) if v > 0 and n > 10 else 0.0


def pct(values, fields):
    fr = {"max": 1, "p99_9": 0.999, "p99": 0.99, "p95": 0.95, "p90": 0.9, "p75": 0.75, "median": 0.5, "p25": 0.25,
          "p10": 0.1, "p5": 0.05, "p1": 0.01, "p0_1": 0.001, "min": 0}
    return {k: float(np.quantile(values, fr[k], method="linear")) for k in fields}


def statistics(d, same, logp):
    n = len(d)
    out = {"tokens": n}
    m, se = mean_se(d.sum(), (d * d).sum(), n)
    out["divergence"] = dict(mean=m, se=se, **pct(d, ["max", "p99_9", "p99", "p95", "p90", "median", "p10", "p5", "p1",
                                                      "p0_1", "min"]))
    if logp is not None:
        lp, lq = logp
        dp = np.exp(lq) - np.exp(lp)
        m, se = mean_se(dp.sum(), (dp ** 2).sum(), n)
        mse, mse_se = mean_se((dp ** 2).sum(), (dp ** 4).sum(), n)
        rms = math.sqrt(mse)
        rms_se = 0.5 / rms * mse_se if rms > 0 else math.nan
        out["delta_p"] = dict(mean=m, se=se, rms=rms, rms_se=rms_se,
                              **pct(dp, ["max", "p99_9", "p99", "p95", "p90", "p75", "median", "p25", "p10", "p5", "p1",
                                         "p0_1", "min"]))
    s = same.mean()
    out["same_top"] = {"mean": s, "se": math.sqrt(s * (1 - s) / (n - 1)) if n > 10 else 0.0}
    if logp is not None:
        nq, nb = -lq, -lp
        mq, sq = mean_se(nq.sum(), (nq * nq).sum(), n)
        mb, sb = mean_se(nb.sum(), (nb * nb).sum(), n)
        cov = ((nq * nb).sum() / n - nq.sum() / n * nb.sum() / n) / (n - 1) if n > 10 else 0.0
        q, b = math.exp(mq), math.exp(mb)
        with np.errstate(divide="ignore", invalid="ignore"):
            cor = float(np.float64(cov) / np.float64(sq * sb))
        lr_se = math.sqrt(max(0.0, sq * sq + sb * sb - 2 * cov))
        ratio = math.exp(mq - mb)
        out["ppl"] = dict(q=q, q_se=q * sq, base=b, base_se=b * sb, cor_ln=cor, ln_ratio=mq - mb, ln_ratio_se=lr_se,
                          ratio=ratio, ratio_se=ratio * lr_se, diff=q - b,
                          diff_se=math.sqrt(max(0.0, (q * sq) ** 2 + (b * sb) ** 2 - 2 * q * b * cov)))
    return out


def close(a, b):
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return (a is None or math.isnan(a)) and (b is None or math.isnan(b))
    return abs(a - b) <= 1e-9 + 1e-5 * abs(b)


def compare(name, got, want):
    check(set(got) == set(want), f"{name}: keys {sorted(got)} vs {sorted(want)}")
    for k, v in want.items():
        if isinstance(v, dict):
            check(set(got.get(k, {})) == set(v), f"{name}: {k} keys {sorted(got.get(k, {}))} vs {sorted(v)}")
            for f, x in v.items():
                g = got.get(k, {}).get(f)
                check(close(g, x), f"{name}: {k}.{f} = {g}, reference {x}")
        else:
            check(got.get(k) == v, f"{name}: {k} = {got.get(k)}, reference {v}")


def eval_json(args, env=None):
    r = run(args + ["--json", "-"], env)
    check(r.returncode == 0, f"{args}: exit {r.returncode}: {r.stderr}")
    return r.stdout


# ---- synthetic files ----------------------------------------------------------------------------------

rng = np.random.default_rng(13)
N_CTX, N_CHUNK, V = 64, 3, 1001
ROWS = (N_CTX - 1 - N_CTX // 2) * N_CHUNK
tokens = rng.integers(0, V, N_CTX * N_CHUNK).astype(np.int32)
base = (3 * rng.standard_normal((ROWS, V))).astype(np.float32)
cand = (base + 0.3 * rng.standard_normal((ROWS, V))).astype(np.float32)
near = (base + 1e-3 * rng.standard_normal((ROWS, V))).astype(np.float32)
np.save(path("tokens_all.npy"), tokens)
np.save(path("base.npy"), base)
np.save(path("cand.npy"), cand)
np.save(path("near.npy"), near)
np.save(path("cand16.npy"), cand.astype(np.float16))
np.save(path("base16.npy"), base.astype(np.float16))
np.save(path("near16.npy"), near.astype(np.float16))
tgt = targets(N_CTX, N_CHUNK, tokens)
np.save(path("targets.npy"), tgt)
np.save(path("targets32.npy"), tgt.astype(np.int32))
for name in ["base", "cand", "near"]:
    r = subprocess.run([MAKE, path(name + ".logits"), str(N_CTX), path("tokens_all.npy"), path(name + ".npy")],
                       capture_output=True, text=True)
    check(r.returncode == 0, f"eval_make_llama {name}: {r.stderr}")
with open(path("base.logits"), "rb") as f:
    base_bytes = f.read()
with open(path("copy.logits"), "wb") as f:
    f.write(base_bytes)

# The writer follows llama.cpp's quantization: the reader's log p are within half a step of the true ones.
_, _, _, _, stored = read_llama(path("base.logits"))
true_lp = base.astype(np.float64) - lse(base.astype(np.float64))
window = true_lp > true_lp.max(axis=1, keepdims=True) - 15.99
check(np.all(np.abs(stored - true_lp)[window] < 2e-4), "writer: dequantized log p within a step of log-softmax")

cases = [
    ("llama vs llama", ["base.logits", "cand.logits"], {}),
    ("llama vs near llama", ["base.logits", "near.logits"], {}),
    ("llama vs npy", ["base.logits", "cand.npy"], {}),
    ("npy vs llama", ["base.npy", "cand.logits"], {}),
    ("llama vs f16 npy", ["base.logits", "cand16.npy"], {}),
    ("f16 npy vs llama, JSD", ["base16.npy", "cand.logits", "--divergence", "jsd"], {"divergence": "jsd"}),
    ("f16 npy vs f16 npy", ["base16.npy", "cand16.npy", "--tokens", "targets.npy"], {"tokens": "targets.npy"}),
    ("f16 npy vs near f16 npy, T=2", ["base16.npy", "near16.npy", "--temperature", "2", "--tokens", "targets.npy"],
     {"t": 2.0, "tokens": "targets.npy"}),
    ("npy vs f16 npy, reverse KL", ["base.npy", "cand16.npy", "--divergence", "reverse-kl", "--tokens", "targets.npy"],
     {"divergence": "reverse-kl", "tokens": "targets.npy"}),
    ("f16 npy vs near npy, JSD", ["base16.npy", "near.npy", "--divergence", "jsd", "--beta", "0.2", "--tokens", "targets.npy"],
     {"divergence": "jsd", "beta": 0.2, "tokens": "targets.npy"}),
    ("npy vs npy, tokens", ["base.npy", "cand.npy", "--tokens", "targets.npy"], {"tokens": "targets.npy"}),
    ("npy vs near npy, int32 tokens", ["base.npy", "near.npy", "--tokens", "targets32.npy"], {"tokens": "targets32.npy"}),
    ("npy vs npy, no tokens", ["base.npy", "cand.npy"], {"tokens": None}),
    ("reverse KL", ["base.logits", "cand.logits", "--divergence", "reverse-kl"], {"divergence": "reverse-kl"}),
    ("JSD beta 0.3", ["base.logits", "cand.npy", "--divergence", "jsd", "--beta", "0.3"], {"divergence": "jsd", "beta": 0.3}),
    ("JSD npy", ["base.npy", "cand.npy", "--divergence", "jsd"], {"divergence": "jsd", "tokens": None}),
    ("KL T=2", ["base.logits", "cand.npy", "--temperature", "2"], {"t": 2.0}),
    ("RKL T=0.5 llama", ["base.logits", "cand.logits", "--divergence", "reverse-kl", "--temperature", "0.5"],
     {"divergence": "reverse-kl", "t": 0.5}),
    ("KL T=2 npy", ["base.npy", "near.npy", "--temperature", "2", "--tokens", "targets.npy"], {"t": 2.0, "tokens": "targets.npy"}),
]

for name, args, kw in cases:
    kw = dict(kw)
    tok = kw.pop("tokens", "files")  # the files' own, none, or a --tokens file
    tokens_arg = np.load(path(tok)).astype(np.int64) if tok not in ("files", None) else None
    want = reference(path(args[0]), path(args[1]), tokens=tokens_arg, **kw)
    got = json.loads(eval_json([path(a) if a.endswith(("npy", "logits")) else a for a in args]))
    compare(name, got, want)

# Identical inputs: exactly 0 and exactly 1, for every divergence and a temperature.
for extra in [[], ["--divergence", "reverse-kl"], ["--divergence", "jsd", "--beta", "0.7"], ["--temperature", "3"]]:
    for pair in [["base.logits", "copy.logits"], ["base.npy", "base.npy"], ["base16.npy", "base16.npy"]]:
        got = json.loads(eval_json([path(pair[0]), path(pair[1])] + extra))
        d = got["divergence"]
        check(all(d[k] == 0 for k in d), f"identical {pair} {extra}: divergence {d}")
        check(got["same_top"]["mean"] == 1 and got["same_top"]["se"] == 0, f"identical {pair} {extra}: {got['same_top']}")
        if "delta_p" in got:
            check(got["delta_p"]["mean"] == 0 and got["delta_p"]["rms"] == 0 and got["delta_p"]["rms_se"] is None,
                  f"identical {pair} {extra}: delta_p {got['delta_p']}")
            check(got["ppl"]["ln_ratio"] == 0 and got["ppl"]["ln_ratio_se"] == 0, f"identical {pair}: ppl {got['ppl']}")

# Bits: the same bytes for 1, 2 and 7 threads and every FMA ISA of this CPU.
flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
isas = ["scalar", "auto"] + (["avx2"] if " avx2" in flags and " fma" in flags else [])
for args in [["base.logits", "cand.logits"], ["base.logits", "cand.npy", "--divergence", "jsd"],
             ["base.npy", "near.npy", "--temperature", "2"], ["base16.npy", "cand.npy", "--tokens", "targets.npy"],
             ["cand16.npy", "base.logits", "--divergence", "reverse-kl", "--temperature", "0.5"]]:
    a = [path(x) if x.endswith(("npy", "logits")) else x for x in args]
    outs = {(t, isa): eval_json(a + ["--threads", str(t)], {"KLDIV_ISA": isa}) for t in (1, 2, 7) for isa in isas}
    first = next(iter(outs.values()))
    check(all(o == first for o in outs.values()), f"bits differ across threads/ISAs for {args}: {set(outs.values())}")

# ---- the quirk file: odd n_vocab, a row with scale 0, codes 0, entries at the -16 cut, two chunks -------


def llama_bytes(n_ctx, n_vocab, n_chunk, toks, rows, pad=0):
    """rows: (scale, min_log_prob, codes) per scored row."""
    b = b"_logits_" + struct.pack("<3i", n_ctx, n_vocab, n_chunk) + np.asarray(toks, "<i4").tobytes()
    for scale, mn, codes in rows:
        c = list(codes) + ([pad] if n_vocab % 2 else [])
        b += struct.pack("<2f", scale, mn) + np.asarray(c, "<u2").tobytes()
    return b


QV, QCTX, QCHUNK = 7, 6, 2  # 2 scored rows per chunk
qtok = [0, 1, 2, 3, 4, 5, 6, 5, 4, 3, 2, 1]
step = 16 / 65535
quirk_base = [
    (0.0, -math.log(7), [0] * 7),                                # scale 0: uniform, every code 0
    (step, -16.5, [65535, 0, 0, 2000, 2048, 40000, 65535]),      # codes 0 below the cut, ties at the top
    (step, -17.0, [0, 4096, 4097, 65535, 1, 30000, 12]),         # entries just around log p = -16
    (2 * step, -30.0, [60000, 50000, 0, 0, 65535, 20000, 64000]),  # after the chunk boundary
]
quirk_cand = [
    (step, -16.2, [65000, 65535, 0, 1, 2, 3, 64000]),
    (0.0, -math.log(7), [0] * 7),
    (step, -16.9, [10, 4000, 4000, 65535, 0, 30001, 13]),
    (2 * step, -30.1, [60000, 50010, 5, 0, 65535, 20000, 63000]),
]
with open(path("quirk_base.logits"), "wb") as f:
    f.write(llama_bytes(QCTX, QV, QCHUNK, qtok, quirk_base, pad=0xBEEF))
with open(path("quirk_cand.logits"), "wb") as f:
    f.write(llama_bytes(QCTX, QV, QCHUNK, qtok, quirk_cand))
np.save(path("quirk_cand.npy"), rng.standard_normal((4, QV)).astype(np.float32))
for name, args, kw in [("quirk", ["quirk_base.logits", "quirk_cand.logits"], {}),
                       ("quirk RKL", ["quirk_base.logits", "quirk_cand.logits", "--divergence", "reverse-kl"],
                        {"divergence": "reverse-kl"}),
                       ("quirk vs npy", ["quirk_base.logits", "quirk_cand.npy"], {})]:
    got = json.loads(eval_json([path(a) if a.endswith(("npy", "logits")) else a for a in args]))
    compare(name, got, reference(path(args[0]), path(args[1]), **kw))

# ---- the text layout (llama-perplexity's printf formats) ----------------------------------------------
r = run([path("base.logits"), path("cand.logits")])
lines = r.stdout.splitlines()
got = json.loads(eval_json([path("base.logits"), path("cand.logits")]))
check(f"Mean    KLD: {got['divergence']['mean']:10.6f} ± {got['divergence']['se']:10.6f}" in lines, "text: Mean KLD line")
check(f"Maximum KLD: {got['divergence']['max']:10.6f}" in lines, "text: Maximum KLD line")
check(f"99.9%   KLD: {got['divergence']['p99_9']:10.6f}" in lines, "text: 99.9% KLD line")
check(f"Same top p: {100 * got['same_top']['mean']:6.3f} ± {100 * got['same_top']['se']:5.3f} %" in lines, "text: Same top p line")
check(f"Mean PPL(Q)                   : {got['ppl']['q']:10.6f} ± {got['ppl']['q_se']:10.6f}" in lines, "text: PPL(Q) line")
check(f"RMS Δp    : {100 * got['delta_p']['rms']:6.3f} ± {100 * got['delta_p']['rms_se']:5.3f} %" in lines, "text: RMS line")
check(r.stderr == "", f"text: stderr {r.stderr!r}")
r = run([path("base.logits"), path("cand.logits"), "--divergence", "jsd"])
check(any(l.startswith("Mean    JSD: ") for l in r.stdout.splitlines()), "text: JSD label")
r = run([path("quirk_base.logits"), path("quirk_base.logits")])
check("Cor(ln(PPL(Q)), ln(PPL(base))):    nan%" in r.stdout.splitlines(), "text: an undefined value prints nan")
r = run([path("base.logits"), path("cand.logits"), "--json", path("out.json")])
check(r.returncode == 0 and "Mean    KLD:" in r.stdout and json.load(open(path("out.json")))["tokens"] == ROWS,
      "--json FILE keeps the text on stdout")

# ---- bad files and arguments: status 2, a message naming the file, no output ---------------------------


def bad(name, args, needle, data=None):
    if data is not None:
        with open(path(name), "wb") as f:
            f.write(data)
    out = path("bad_out.json")
    if os.path.exists(out):
        os.remove(out)
    r = run([path(a) if a.endswith(("npy", "logits")) else a for a in args] + ["--json", out])
    check(r.returncode == 2, f"bad {name}: exit {r.returncode}")
    check(needle in r.stderr, f"bad {name}: {needle!r} not in {r.stderr!r}")
    check(r.stdout == "" and not os.path.exists(out), f"bad {name}: output written")


hdr = struct.pack("<3i", N_CTX, V, N_CHUNK)
body = base_bytes[20:]
bad("magic.logits", ["magic.logits", "cand.logits"], "magic.logits: not a llama.cpp logits file", b"_logitz_" + base_bytes[8:])
bad("short.logits", ["short.logits", "cand.logits"], "short.logits: 10 bytes, too short", base_bytes[:10])
bad("ctx0.logits", ["ctx0.logits", "cand.logits"], "ctx0.logits: n_ctx 0 is not in", b"_logits_" + struct.pack("<3i", 0, V, N_CHUNK) + body)
bad("ctxneg.logits", ["ctxneg.logits", "cand.logits"], "ctxneg.logits: n_ctx -64", b"_logits_" + struct.pack("<3i", -64, V, N_CHUNK) + body)
bad("ctxhuge.logits", ["ctxhuge.logits", "cand.logits"], "ctxhuge.logits: n_ctx 1073741824", b"_logits_" + struct.pack("<3i", 1 << 30, V, N_CHUNK) + body)
bad("vocab0.logits", ["vocab0.logits", "cand.logits"], "vocab0.logits: n_vocab 0", b"_logits_" + struct.pack("<3i", N_CTX, 0, N_CHUNK) + body)
bad("chunk0.logits", ["chunk0.logits", "cand.logits"], "chunk0.logits: n_chunk 0", b"_logits_" + struct.pack("<3i", N_CTX, V, 0) + body)
bad("trunc.logits", ["trunc.logits", "cand.logits"], "trunc.logits: truncated", base_bytes[:-2])
bad("trail.logits", ["trail.logits", "cand.logits"], "trail.logits: 3 trailing bytes", base_bytes + b"abc")
# Dimensions whose size, taken mod 2^64, would be this file's 2822956 bytes.
bad("wrap.logits", ["wrap.logits", "cand.logits"], "wrap.logits: truncated: 2822956 bytes, but n_ctx 236455, n_vocab 9818533 and "
    "n_chunk 1755975001 need 2^64 or more", b"_logits_" + struct.pack("<3i", 236455, 9818533, 1755975001) + bytes(2822956 - 20))
bad("missing.logits", ["missing.logits", "cand.logits"], "missing.logits: cannot open")
tok_bad = bytearray(base_bytes)
struct.pack_into("<i", tok_bad, 20 + 4 * 5, V)
bad("tokrange.logits", ["tokrange.logits", "cand.logits"], "tokrange.logits: token 1001 at position 5 is not in [0, 1001)", bytes(tok_bad))
tok_diff = bytearray(base_bytes)
struct.pack_into("<i", tok_diff, 20 + 4 * 7, (tokens[7] + 1) % V)
bad("tokdiff.logits", ["tokdiff.logits", "cand.logits"], "the tokens differ first at position 7", bytes(tok_diff))
row_bad = bytearray(base_bytes)
nv = 2 * ((V + 1) // 2) + 4
struct.pack_into("<f", row_bad, 20 + 4 * N_CTX * N_CHUNK + 2 * nv * 40, float("nan"))
bad("rownan.logits", ["rownan.logits", "cand.logits"], "rownan.logits: row 40 (chunk 1, row 9): scale nan", bytes(row_bad))
# other dimensions: files of their own, from the writer
small = rng.standard_normal(((32 - 1 - 16) * N_CHUNK, V)).astype(np.float32)
np.save(path("tok32.npy"), rng.integers(0, V, 32 * N_CHUNK).astype(np.int32))
np.save(path("small.npy"), small)
subprocess.run([MAKE, path("ctx32.logits"), "32", path("tok32.npy"), path("small.npy")], check=True)
bad("ctx32", ["base.logits", "ctx32.logits"], "n_ctx 64 vs 32")
np.save(path("v999.npy"), base[:, :999].copy())
subprocess.run([MAKE, path("v999.logits"), str(N_CTX), path("tokens_all.npy"), path("v999.npy")], check=True)
bad("v999", ["base.logits", "v999.logits"], "n_vocab 1001 vs 999")
np.save(path("tok2.npy"), tokens[:2 * N_CTX].copy())
np.save(path("two.npy"), base[:2 * (N_CTX - 1 - N_CTX // 2)].copy())
subprocess.run([MAKE, path("chunks2.logits"), str(N_CTX), path("tok2.npy"), path("two.npy")], check=True)
bad("chunks2", ["base.logits", "chunks2.logits"], "n_chunk 3 vs 2")
# .npy inputs
np.save(path("f64.npy"), base.astype(np.float64))
bad("f64", ["base.logits", "f64.npy"], "f64.npy: dtype '<f8' is not float32")
np.save(path("oned.npy"), base[0])
bad("oned", ["base.logits", "oned.npy"], "oned.npy: logits must be a 2-D")
np.save(path("fortran.npy"), np.asfortranarray(base))
bad("fortran", ["base.logits", "fortran.npy"], "fortran.npy: not in C order")
np.save(path("fewer.npy"), base[:-1])
bad("shape", ["base.logits", "fewer.npy"], "shapes [93, 1001] and [92, 1001] differ")
with open(path("base.npy"), "rb") as f:
    npy_bytes = f.read()
bad("trunc.npy", ["trunc.npy", "cand.npy"], "trunc.npy: truncated", npy_bytes[:-4])
bad("trail.npy", ["trail.npy", "cand.npy"], "trail.npy: 4 trailing bytes", npy_bytes + b"1234")
nan_logits = cand.copy()
nan_logits[5, 17] = np.nan
np.save(path("nan.npy"), nan_logits)
bad("nan logit", ["base.logits", "nan.npy"], "nan.npy: row 5: a logit is NaN or +inf, or every logit is -inf")
inf16 = cand.astype(np.float16)
inf16[7, 3] = np.inf
np.save(path("inf16.npy"), inf16)
bad("inf logit", ["base.npy", "inf16.npy"], "inf16.npy: row 7: a logit is NaN or +inf")
ninf = base.copy()
ninf[2, :] = -np.inf
np.save(path("ninf.npy"), ninf)
bad("all -inf", ["ninf.npy", "cand.npy"], "ninf.npy: row 2: a logit is NaN or +inf, or every logit is -inf")
# tokens files
np.save(path("tok2d.npy"), tgt.reshape(3, -1))
bad("tokens 2-D", ["base.npy", "cand.npy", "--tokens", "tok2d.npy"], "tok2d.npy: tokens must be a 1-D int32 or int64")
np.save(path("tokf.npy"), tgt.astype(np.float32))
bad("tokens float", ["base.npy", "cand.npy", "--tokens", "tokf.npy"], "tokf.npy: tokens must be a 1-D int32 or int64")
np.save(path("tokshort.npy"), tgt[:-1])
bad("tokens length", ["base.npy", "cand.npy", "--tokens", "tokshort.npy"], "tokshort.npy: 92 tokens for 93 rows")
t_out = tgt.copy()
t_out[3] = -1
np.save(path("tokneg.npy"), t_out)
bad("tokens range", ["base.npy", "cand.npy", "--tokens", "tokneg.npy"], "tokneg.npy: token -1 of row 3 is not in [0, 1001)")
bad("tokens with llama", ["base.logits", "cand.npy", "--tokens", "targets.npy"], "--tokens: the tokens come from")
# arguments
bad("beta without jsd", ["base.logits", "cand.logits", "--beta", "0.3"], "--beta needs --divergence jsd")
bad("beta range", ["base.logits", "cand.logits", "--divergence", "jsd", "--beta", "1"], "is not in (0, 1)")
bad("divergence", ["base.logits", "cand.logits", "--divergence", "kld"], "'kld' is not kl, reverse-kl or jsd")
bad("temperature", ["base.logits", "cand.logits", "--temperature", "0"], "--temperature: must be finite and > 0")
bad("threads", ["base.logits", "cand.logits", "--threads", "-1"], "--threads: '-1'")
bad("one file", ["base.logits"], "expected BASE and CANDIDATE, got 1")
bad("option", ["base.logits", "cand.logits", "--bogus"], "unknown option --bogus")

if failures:
    print(f"{len(failures)} failure(s)")
    sys.exit(1)
print("eval_reference: all checks passed")
