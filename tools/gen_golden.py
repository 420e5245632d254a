#!/usr/bin/python3
"""Regenerates tests/data/golden_forward.txt and tests/data/golden_backward.txt: PyTorch's own
torch.nn.functional.kl_div forward results, and its autograd gradients.

Run with Debian's Python, which has python3-torch (1.13.1):

    /usr/bin/python3 tools/gen_golden.py [forward output path [backward output path]]

The default outputs are tests/data/golden_forward.txt and tests/data/golden_backward.txt next to this
script.  Everything is deterministic: data comes from torch.Generator objects with fixed seeds, and
PyTorch runs on one thread (its float sums depend on the thread count).  tests/test_golden.cpp checks
kldiv::forward against the first file, tests/test_golden_backward.cpp kldiv::backward and
kldiv::forward_backward against the second.  Their formats, which also head the files, are FILE_FORMAT
below followed by FORWARD_FORMAT or BACKWARD_FORMAT.
"""

import math
import os
import sys
import warnings

import torch
import torch.nn.functional as F

REDUCTIONS = ("none", "mean", "sum", "batchmean")
DTYPES = {"float32": torch.float32, "float64": torch.float64}

# How both files begin (with each one's magic word) and how each of their cases begins: what write_golden
# writes.  FORWARD_FORMAT and BACKWARD_FORMAT continue it.
FILE_FORMAT = """\
FILE FORMAT (line based, tokens separated by single spaces; the same text heads the file itself)

    # ...                               comment lines, anywhere
    {magic:<35} magic and format version, the first non-comment line
    torch <version>                     the PyTorch that produced the results
    cases <N>                           the number of case blocks that follow
    case <index> <name>                 index counts 0, 1, ... N-1; the name has no spaces
    dtype float32|float64
    log_target 0|1
    shape <ndim> <size 0> ... <size ndim-1>          ndim 0 is a 0-dim (scalar) tensor
"""

FORWARD_FORMAT = """\
    input <numel> <value> ...           or: input same <index>   (the input values of an earlier case)
    target <numel> <value> ...          or: target same <index>
    none <numel> <value> ...            kl_div(..., reduction='none'), flattened row-major
                                        or: none omitted   (three of the (3, 1000) cases, for size)
    mean <value>                        kl_div(..., reduction='mean')
    sum <value>                         kl_div(..., reduction='sum')
    batchmean <value>                   kl_div(..., reduction='batchmean')
    end

Every case has all four reductions, computed by PyTorch on the same input and target.  Every value is
exact: Python's float.hex() of the value (a float32 value is first widened to a double, which is
exact), with trailing zero hex digits of the fraction dropped, e.g. -0x1.6a09e6p-1, 0x0p+0, -0x0p+0;
inf, -inf and nan stand for the special values (a NaN's sign and payload are not recorded).  C's
strtod and Python's float.fromhex both read every value back exactly.  "same <index>" lets the
(3, 1000) cases share their data and keeps the file small: the float64 (3, 1000) cases use the
float32 data widened to double (exactly), and PyTorch computed their results in float64.  Only the
float32 probability (3, 1000) case records its 'none' output; 'none' is covered in all four dtype and
log_target combinations by the other shapes.
"""


def hexf(v):
    """Exact text of a float (float.hex with trailing zero fraction digits dropped)."""
    v = float(v)
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    h = v.hex()  # e.g. '-0x1.6a09e60000000p-1'
    mant, exp = h.split("p")
    if "." in mant:
        mant = mant.rstrip("0").rstrip(".")
    out = mant + "p" + exp
    assert float.fromhex(out) == v and math.copysign(1, float.fromhex(out)) == math.copysign(1, v)
    return out


def values(t):
    return [hexf(v) for v in t.reshape(-1).tolist()]


class Case:
    def __init__(self, name, dtype, log_target, x, t, input_ref=None, target_ref=None, keep_none=True):
        self.name = name
        self.dtype = dtype
        self.log_target = log_target
        self.x = x
        self.t = t
        self.input_ref = input_ref
        self.target_ref = target_ref
        self.keep_none = keep_none
        assert x.dtype == DTYPES[dtype] and t.dtype == DTYPES[dtype] and x.shape == t.shape


def realistic(gen, shape, dtype, log_target, scale=3.0):
    """input = log_softmax of random logits; target = softmax (or log_softmax) of other logits."""
    dt = DTYPES[dtype]
    if len(shape) == 0:  # a 0-dim tensor: one probability and one log-probability
        p = torch.rand((), generator=gen, dtype=dt) * 0.9 + 0.05
        q = torch.rand((), generator=gen, dtype=dt) * 0.9 + 0.05
        return torch.log(q), (torch.log(p) if log_target else p)
    zl = torch.randn(shape, generator=gen, dtype=dt) * scale
    tl = torch.randn(shape, generator=gen, dtype=dt) * scale
    x = F.log_softmax(zl, dim=-1) if shape[-1] > 0 else zl
    if log_target:
        t = F.log_softmax(tl, dim=-1) if shape[-1] > 0 else tl
    else:
        t = F.softmax(tl, dim=-1) if shape[-1] > 0 else tl
    return x, t


def edge_pairs(dtype, log_target):
    """(name, x, t) of the edge-value cases (pytorch-semantics.md and beyond)."""
    inf, nan = math.inf, math.nan
    big = 3.0e38 if dtype == "float32" else 1.0e308  # t*log(t) overflows
    if not log_target:
        pairs = [
            ("t0_xm1", -1.0, 0.0), ("t0_xminf", -inf, 0.0), ("t0_xinf", inf, 0.0), ("t0_xnan", nan, 0.0),
            ("tneg_half", -1.0, -0.5), ("tnegzero", -1.0, -0.0), ("tnan", -1.0, nan), ("xnan", nan, 0.5),
            ("tinf_xm1", -1.0, inf), ("tinf_x0", 0.0, inf), ("xminf_thalf", -inf, 0.5),
            ("xinf_thalf", inf, 0.5), ("t1_x0", 0.0, 1.0), ("t_tiny_neg", -1.0, -1e-30),
            ("tbig_xm1", -1.0, big), ("tbig_xm10", -10.0, big), ("tbig_x10", 10.0, big),
            ("t0_xmbig", -big, 0.0),
        ]
        if dtype == "float64":
            pairs += [("tsub_x0", 0.0, 1e-310), ("tsub_xm1", -1.0, 1e-310), ("tsub_min", -5.0, 5e-324)]
        else:
            pairs += [("tsub_x0", 0.0, 1e-40), ("tsub_xm1", -1.0, 1e-40), ("tsub_min", -5.0, 2.0 ** -149)]
        return pairs
    pairs = [
        ("tminf", -1.0, -inf), ("tminf_xminf", -inf, -inf), ("tinf", -1.0, inf), ("tinf_xinf", inf, inf),
        ("tnan", -1.0, nan), ("xnan", nan, -1.0), ("xminf", -inf, -1.0), ("xinf", inf, -1.0),
        ("t0", -1.0, 0.0), ("tnegzero", -1.0, -0.0), ("tm1000", 0.0, -1000.0), ("tm1000_xm1", -1.0, -1000.0),
        ("t100", 0.0, 100.0), ("t100_x100", 100.0, 100.0), ("t1000", 0.0, 1000.0),
        ("t1000_xm1", -1.0, 1000.0),
        # float exp: overflow above log(FLT_MAX) = 88.7228; the smallest normal result at -87.3365;
        # underflow to 0 below -103.9721 (the result rounds to 2^-149 just above it).
        ("t88_72", 88.0, 88.72), ("t88_72_x1", 1.0, 88.72), ("t88_72_same", 88.72, 88.72),
        ("t88_73", 88.0, 88.73), ("t88_8", 88.0, 88.8), ("tm87_3", 0.0, -87.3), ("tm87_4", 0.0, -87.4),
        ("tm103_9", 0.0, -103.9), ("tm103_97", 0.0, -103.97), ("tm103_98", 0.0, -103.98),
        ("tm104", 0.0, -104.0), ("tm103_9_xm1", -1.0, -103.9),
        # double exp: overflow above 709.7827, underflow to 0 below -745.1332
        ("t709_7", 709.0, 709.7), ("t709_8", 709.0, 709.8), ("tm745_1", 0.0, -745.1),
        ("tm745_2", 0.0, -745.2), ("tm708_5", 0.0, -708.5),
    ]
    return pairs


def build_cases():
    cases = []
    warnings.simplefilter("ignore")  # 'mean' warns on every call
    seed = 1000
    for dtype in DTYPES:
        dt = DTYPES[dtype]
        for lt in (False, True):
            tag = "%s_%s" % ("f32" if dtype == "float32" else "f64", "log" if lt else "prob")
            # 1. Edge values: each pair is element 0 of a (1, 2) case whose element 1 is ordinary, so
            # that the reductions mix an edge value with a finite one (and mean != batchmean).
            ordinary = (-1.25, -0.75) if lt else (-1.25, 0.375)
            for name, x, t in edge_pairs(dtype, lt):
                X = torch.tensor([[x, ordinary[0]]], dtype=dt)
                T = torch.tensor([[t, ordinary[1]]], dtype=dt)
                cases.append(Case("edge_%s_%s" % (tag, name), dtype, lt, X, T))
            # The edge values again, all of them in one row (the reductions are NaN; 'none' is not).
            xs = [p[1] for p in edge_pairs(dtype, lt)]
            ts = [p[2] for p in edge_pairs(dtype, lt)]
            cases.append(Case("edge_%s_all" % tag, dtype, lt, torch.tensor(xs, dtype=dt), torch.tensor(ts, dtype=dt)))
            # 2. Shapes with realistic data.  (3, 1000) is added below, sharing its data.
            for shape in [(), (0,), (0, 5), (3, 0), (1,), (7,), (17,), (4, 33), (2, 3, 4, 5)]:
                seed += 1
                gen = torch.Generator().manual_seed(seed)
                x, t = realistic(gen, shape, dtype, lt)
                name = "shape_%s_%s" % (tag, "x".join(str(s) for s in shape) if shape else "scalar")
                cases.append(Case(name, dtype, lt, x, t))
            # 3. Nearly equal distributions: input = log(target) + tiny noise, so that the terms of the
            # sum nearly cancel (the KL divergence is ~1e-10 of the sum of magnitudes).
            seed += 1
            gen = torch.Generator().manual_seed(seed)
            logits = torch.randn((2, 40), generator=gen, dtype=dt) * 2.0
            noise = torch.randn((2, 40), generator=gen, dtype=dt) * (1e-5 if dtype == "float32" else 1e-12)
            logt = F.log_softmax(logits, dim=-1)
            t = logt if lt else torch.exp(logt)
            x = (torch.log(t) if not lt else t) + noise
            cases.append(Case("near_equal_%s_2x40" % tag, dtype, lt, x, t))
            # 4. Random data with exact zeros in the target (30% and 60% of the elements).
            for shape, frac in [((4, 15), 0.3), ((24,), 0.6)]:
                seed += 1
                gen = torch.Generator().manual_seed(seed)
                x, t = realistic(gen, shape, dtype, lt)
                mask = torch.rand(shape, generator=gen, dtype=dt) < frac
                t = torch.where(mask, torch.zeros_like(t), t)
                name = "zeros_%s_%s" % (tag, "x".join(str(s) for s in shape))
                cases.append(Case(name, dtype, lt, x, t))
    # 5. (3, 1000), realistic.  The float32 probability case holds input and both targets' data; the
    # others refer to it ("same"), the float64 ones widened exactly to double.
    gen = torch.Generator().manual_seed(4242)
    zl = torch.randn((3, 1000), generator=gen, dtype=torch.float32) * 3.0
    tl = torch.randn((3, 1000), generator=gen, dtype=torch.float32) * 3.0
    x32 = F.log_softmax(zl, dim=-1)
    logt32 = F.log_softmax(tl, dim=-1)
    t32 = F.softmax(tl, dim=-1)
    base = len(cases)
    cases.append(Case("shape_f32_prob_3x1000", "float32", False, x32, t32))
    cases.append(Case("shape_f32_log_3x1000", "float32", True, x32, logt32, input_ref=base, keep_none=False))
    cases.append(Case("shape_f64_prob_3x1000", "float64", False, x32.double(), t32.double(),
                      input_ref=base, target_ref=base, keep_none=False))
    cases.append(Case("shape_f64_log_3x1000", "float64", True, x32.double(), logt32.double(),
                      input_ref=base, target_ref=base + 1, keep_none=False))
    return cases


def write_golden(path, title, magic, own_format, cases, case_lines):
    """Writes a golden file: title, FILE_FORMAT and own_format as comments, then the file's lines; each
    case has those FILE_FORMAT describes, then case_lines(c), then 'end'."""
    text = FILE_FORMAT.format(magic=magic + " 1") + own_format
    lines = ["# " + title]
    lines += ["# " + l if l else "#" for l in text.rstrip("\n").splitlines()]
    lines += ["%s 1" % magic, "torch %s" % torch.__version__, "cases %d" % len(cases)]
    for i, c in enumerate(cases):
        shape = list(c.x.shape)
        lines.append("case %d %s" % (i, c.name))
        lines.append("dtype %s" % c.dtype)
        lines.append("log_target %d" % int(c.log_target))
        lines.append(" ".join(["shape", str(len(shape))] + [str(s) for s in shape]))
        lines += case_lines(c)
        lines.append("end")
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("wrote %d cases to %s" % (len(cases), path))


def write_forward(path):
    cases = build_cases()

    def case_lines(c):
        lines = []
        for key, data, ref in (("input", c.x, c.input_ref), ("target", c.t, c.target_ref)):
            if ref is not None:
                src = cases[ref]
                other = src.x if key == "input" else src.t
                assert torch.equal(other.double(), data.double()), (c.name, key)
                lines.append("%s same %d" % (key, ref))
            else:
                lines.append(" ".join([key, str(data.numel())] + values(data)))
        for red in REDUCTIONS:
            out = F.kl_div(c.x, c.t, reduction=red, log_target=c.log_target)
            assert out.dtype == c.x.dtype
            if red == "none":
                assert out.shape == c.x.shape
                if c.keep_none:
                    lines.append(" ".join(["none", str(out.numel())] + values(out)))
                else:
                    lines.append("none omitted")
            else:
                assert out.dim() == 0
                lines.append("%s %s" % (red, hexf(out.item())))
        return lines

    write_golden(path, "kldiv golden forward results, generated by tools/gen_golden.py; do not edit.",
                 "kldiv-golden-forward", FORWARD_FORMAT, cases, case_lines)


# ---- gradients: tests/data/golden_backward.txt -------------------------------------------------------

BACKWARD_FORMAT = """\
    input <numel> <value> ...           x, flattened row-major
    target <numel> <value> ...          t
    grad <reduction>                    one gradient block: none, mean, sum or batchmean; then
    grad_output <count> <value> ...       the upstream gradient: numel values for none, else 1
    scaled <value>                        (not for none) the upstream gradient as autograd applies it to
                                          each element: grad_output / numel (mean), / shape[0]
                                          (batchmean, not for 0-dim), itself (sum), rounded in the dtype
    loss <value>                          (not for none) kl_div(input, target, reduction=<reduction>)
    grad_input <numel> <value> ...        d/d input of sum(grad_output * kl_div(...)), by autograd
    grad_target <numel> <value> ...       d/d target, likewise
    end

Each case has a grad block for none (a random grad_output in [-1, 1), fixed seed), then reduced ones:
for mean, sum and batchmean with grad_output 1, and again with grad_output -0.37, in that order; but
only one of those six in each (4, 33) and (2, 3, 4, 5) case, to keep the file small (the eight such
cases take turns, so that each reduction with each grad_output is among them).  The gradients are
torch.autograd.grad(kl_div(input, target, reduction, log_target), (input, target), grad_output) with
requires_grad on both, PyTorch on one thread.  Values are written exactly as in golden_forward.txt:
float.hex() with trailing zero fraction digits dropped, inf, -inf and nan (NaN sign and payload not
recorded).  The edge_* cases have shape (P, 3): row i holds edge pair i (x, t) in columns 0 and 1 (for
none, with a positive upstream gradient in column 0 and a negative one in column 1) and ordinary values
in column 2.  The generator checks scaled against autograd: -grad_input where t = 1 is exactly scaled.
"""

BACKWARD_SHAPES = [(), (0,), (0, 5), (3, 0), (7,), (4, 33), (2, 3, 4, 5)]
BACKWARD_SCALARS = (1.0, -0.37)
# Every reduced (reduction, grad_output) block, in file order.
BACKWARD_BLOCKS = [(red, g) for g in BACKWARD_SCALARS for red in REDUCTIONS[1:]]


def backward_edge_pairs(dtype, log_target):
    """The forward edge pairs, and a few combinations that matter for the gradients only."""
    inf, nan = math.inf, math.nan
    extra = [("tinf_xinf", inf, inf), ("tinf_xminf", -inf, inf), ("tinf_xnan", nan, inf),
             ("tneg_xnan", nan, -0.5), ("tneg_xinf", inf, -2.0), ("t1_xinf", inf, 1.0), ("t1_xminf", -inf, 1.0),
             ("tnegzero_xminf", -inf, -0.0)]
    if log_target:
        extra = [("tminf_xnan", nan, -inf), ("tminf_xinf", inf, -inf), ("tinf_xnan", nan, inf),
                 ("tinf_xminf", -inf, inf), ("tm1000_xminf", -inf, -1000.0), ("t100_xm100", -100.0, 100.0),
                 ("t0_xinf", inf, 0.0), ("t0_xnan", nan, 0.0), ("tm50_xm50", -50.0, -50.0)]
    return edge_pairs(dtype, log_target) + extra


class BackwardCase:
    def __init__(self, name, dtype, log_target, x, t, g_none, blocks=BACKWARD_BLOCKS):
        self.name, self.dtype, self.log_target, self.x, self.t, self.g_none = name, dtype, log_target, x, t, g_none
        self.blocks = blocks  # the reduced (reduction, grad_output) blocks
        assert x.dtype == t.dtype == g_none.dtype == DTYPES[dtype] and x.shape == t.shape == g_none.shape


def build_backward_cases():
    """Edge values in a (P, 3) case, the listed shapes with realistic data, and exact zeros in t."""
    cases = []
    seed = 7000
    turn = 0  # which reduced block the next large case gets
    for dtype in DTYPES:
        dt = DTYPES[dtype]
        for lt in (False, True):
            tag = "%s_%s" % ("f32" if dtype == "float32" else "f64", "log" if lt else "prob")
            # 1. Edge values: columns 0 and 1 hold the pair (with upstream gradients of both signs), column 2
            # an ordinary pair.
            seed += 1
            gen = torch.Generator().manual_seed(seed)
            pairs = backward_edge_pairs(dtype, lt)
            ordinary = (-1.25, -0.75) if lt else (-1.25, 0.375)
            X = torch.tensor([[x, x, ordinary[0]] for _, x, _ in pairs], dtype=dt)
            T = torch.tensor([[t, t, ordinary[1]] for _, _, t in pairs], dtype=dt)
            mag = torch.rand((len(pairs), 2), generator=gen, dtype=dt) * 0.75 + 0.25  # [0.25, 1)
            G = torch.cat([mag[:, :1], -mag[:, 1:], torch.rand((len(pairs), 1), generator=gen, dtype=dt) * 2 - 1], 1)
            cases.append(BackwardCase("edge_%s_%dx3" % (tag, len(pairs)), dtype, lt, X, T, G))
            # 2. The listed shapes, realistic data (log_softmax input, softmax or log_softmax target).
            for shape in BACKWARD_SHAPES:
                seed += 1
                gen = torch.Generator().manual_seed(seed)
                x, t = realistic(gen, shape, dtype, lt)
                G = torch.rand(shape, generator=gen, dtype=dt) * 2 - 1
                name = "shape_%s_%s" % (tag, "x".join(str(s) for s in shape) if shape else "scalar")
                blocks = BACKWARD_BLOCKS
                if x.numel() > 100:
                    blocks = [BACKWARD_BLOCKS[turn % len(BACKWARD_BLOCKS)]]
                    turn += 1
                cases.append(BackwardCase(name, dtype, lt, x, t, G, blocks))
            # 3. Realistic data with exact zeros in the target (40% of the elements): NaN d/dt among
            # ordinary lanes.
            seed += 1
            gen = torch.Generator().manual_seed(seed)
            x, t = realistic(gen, (2, 12), dtype, lt)
            t = torch.where(torch.rand((2, 12), generator=gen, dtype=dt) < 0.4, torch.zeros_like(t), t)
            G = torch.rand((2, 12), generator=gen, dtype=dt) * 2 - 1
            cases.append(BackwardCase("zeros_%s_2x12" % tag, dtype, lt, x, t, G))
    return cases


def autograd_kl_div(c, reduction, grad_output):
    """(loss, d/d input, d/d target) by autograd, for kl_div(c.x, c.t, ...) and upstream grad_output."""
    X = c.x.clone().requires_grad_(True)
    T = c.t.clone().requires_grad_(True)
    out = F.kl_div(X, T, reduction=reduction, log_target=c.log_target)
    assert out.dtype == X.dtype and out.shape == (X.shape if reduction == "none" else ())
    gx, gt = torch.autograd.grad(out, (X, T), grad_output)
    assert gx.shape == X.shape and gt.shape == T.shape and gx.dtype == gt.dtype == X.dtype
    return out.detach(), gx, gt


def scaled_grad_output(c, reduction, g):
    """grad_output as autograd applies it to each element, computed as PyTorch does (in the dtype) and,
    where the case is not empty, measured: -d/d input of kl_div(anything, ones) is exactly that value."""
    dt = DTYPES[c.dtype]
    G = torch.tensor(g, dtype=dt)
    if reduction == "mean":
        s = G / c.x.numel()
    elif reduction == "batchmean" and c.x.dim() > 0:
        s = G / c.x.shape[0]
    else:
        s = G
    if c.x.numel() > 0:
        X = torch.zeros(c.x.shape, dtype=dt, requires_grad=True)
        out = F.kl_div(X, torch.ones(c.x.shape, dtype=dt), reduction=reduction)
        (gx,) = torch.autograd.grad(out, (X,), G)
        assert torch.all(-gx == s), (c.name, reduction, g)
    return s.item()


def write_backward(path):
    def case_lines(c):
        lines = [" ".join(["input", str(c.x.numel())] + values(c.x)),
                 " ".join(["target", str(c.t.numel())] + values(c.t))]
        _, gx, gt = autograd_kl_div(c, "none", c.g_none)
        lines.append("grad none")
        lines.append(" ".join(["grad_output", str(c.g_none.numel())] + values(c.g_none)))
        lines.append(" ".join(["grad_input", str(gx.numel())] + values(gx)))
        lines.append(" ".join(["grad_target", str(gt.numel())] + values(gt)))
        for red, g in c.blocks:
            G = torch.tensor(g, dtype=DTYPES[c.dtype])
            loss, gx, gt = autograd_kl_div(c, red, G)
            expected = F.kl_div(c.x, c.t, reduction=red, log_target=c.log_target)
            assert torch.equal(loss, expected) or (torch.isnan(loss) and torch.isnan(expected))
            lines.append("grad %s" % red)
            lines.append("grad_output 1 %s" % hexf(G.item()))
            lines.append("scaled %s" % hexf(scaled_grad_output(c, red, g)))
            lines.append("loss %s" % hexf(loss.item()))
            lines.append(" ".join(["grad_input", str(gx.numel())] + values(gx)))
            lines.append(" ".join(["grad_target", str(gt.numel())] + values(gt)))
        return lines

    write_golden(path,
                 "kldiv golden backward results (autograd gradients), generated by tools/gen_golden.py; do not edit.",
                 "kldiv-golden-backward", BACKWARD_FORMAT, build_backward_cases(), case_lines)


def main():
    torch.set_num_threads(1)
    here = os.path.dirname(os.path.abspath(__file__))
    data = os.path.join(here, "..", "tests", "data")
    write_forward(sys.argv[1] if len(sys.argv) > 1 else os.path.join(data, "golden_forward.txt"))
    write_backward(sys.argv[2] if len(sys.argv) > 2 else os.path.join(data, "golden_backward.txt"))


if __name__ == "__main__":
    main()
