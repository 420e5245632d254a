#!/usr/bin/python3
"""kldiv's benchmark report: build bench/ in Release, run a selection of it briefly, print a table.

    tools/bench_report.py                  # build-bench/, then bench/results/{bench.json,report.md,throughput.png}
    tools/bench_report.py --no-build --min-time 0.2 --repetitions 5
    tools/bench_report.py --logits-only    # the logits section alone: bench/results/{logits.json,logits.md}

Every number is the median of --repetitions runs of wall-clock time.  Ratios compare cases of the same
dtype, size and thread count measured back to back in one process, so they survive a noisy machine
better than absolute throughput does.  Standard library only (Debian's python3), plus gnuplot for the plot.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAME = re.compile(r"^(?P<impl>[^/]+)/(?P<dtype>f32|f64|bf16|f16)/(?P<red>[^/]+)/(?P<target>[^/]+)/"
                  r"(?P<rows>\d+)x(?P<cols>\d+)/threads:(?P<threads>\d+)")
TIME_UNIT = {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench"))
    p.add_argument("--out-dir", default=os.path.join(ROOT, "bench", "results"))
    p.add_argument("--min-time", default="0.1", help="seconds per repetition (default 0.1)")
    p.add_argument("--repetitions", type=int, default=3)
    p.add_argument("--filter", help="a --benchmark_filter of your own instead of the report's selection")
    p.add_argument("--no-build", action="store_true", help="use the existing build")
    p.add_argument("--from-json", metavar="PATH", help="only report on a saved run (e.g. bench/results/bench.json)")
    p.add_argument("--accuracy-step", type=int, default=7,
                   help="kldiv_peer_accuracy measures the logs on every STEP-th float (default 7; 1: all)")


    p.add_argument("--logits-only", action="store_true",
                   help="run and report only the logits section (issue 10; about a minute), to logits.{json,md}")
    p.add_argument("--eval-pair-mb", type=int, default=1024, help="size of kldiv-eval's file pair (default 1024)")
    return p.parse_args()


def run(cmd, **kw):
    print("+", " ".join(cmd), file=sys.stderr)
    return subprocess.run(cmd, check=True, **kw)


def build(build_dir):
    run(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release", "-DKLDIV_BUILD_BENCHMARKS=ON",
         "-DKLDIV_BUILD_TESTS=OFF", "-DKLDIV_BUILD_EXAMPLES=OFF"], stdout=subprocess.DEVNULL)
    run(["cmake", "--build", build_dir, "--target", "kldiv_bench", "kldiv_peer_accuracy", "kldiv_eval_bench", "kldiv-eval",
         "-j", str(os.cpu_count() or 2)], stdout=subprocess.DEVNULL)


# Multiplies and FMAs per 16 floats in the f32 batchmean pass (docs/performance.md counts them): they share
# the FMA pipes, so the machine's FMA rate over this count bounds the pass.
FMA_OPS_PER_16 = 10


def machine_ceiling(build_dir):
    """This machine's clock and 512-bit FMA rate, measured by tools/peak_fma.c (the best of 3 runs of each,
    in CPU time), and the compute ceiling of the f32 pass per core; None without AVX-512."""
    flags = open("/proc/cpuinfo").read() if os.path.exists("/proc/cpuinfo") else ""
    cc = shutil.which("gcc") or shutil.which("cc")
    if " avx512f" not in flags or not cc:
        return None
    exe = os.path.join(build_dir, "peak_fma")
    run([cc, "-O2", "-mavx512f", os.path.join(ROOT, "tools", "peak_fma.c"), "-o", exe])
    best = {"ghz": 0, "fma_per_ns": 0}
    for _ in range(3):
        out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
        m = re.search(r"clock ([\d.]+) GHz; ([\d.]+) 512-bit FMAs per ns", out)
        best = {"ghz": max(best["ghz"], float(m[1])), "fma_per_ns": max(best["fma_per_ns"], float(m[2]))}
    best["fma_per_cycle"] = best["fma_per_ns"] / best["ghz"]
    best["gelem"] = best["fma_per_ns"] * 16 / FMA_OPS_PER_16
    model = re.search(r"^model name\s*:\s*(.+)$", flags, re.M)
    best["cpu"] = model[1].strip() if model else "unknown CPU"
    return best


def peer_accuracy(build_dir, step):
    """{name: (max ulp, mean signed ulp over [2^-126, 1])} from kldiv_peer_accuracy (kldiv's log included)."""
    exe = os.path.join(build_dir, "bench", "kldiv_peer_accuracy")
    if not os.path.exists(exe):
        return {}
    out = subprocess.run([exe, str(step)], check=True, capture_output=True, text=True).stdout
    return {m[1]: (float(m[2]), float(m[3])) for m in re.finditer(r"^(\S+) max ([\d.]+) mean (\S+)$", out, re.M)}


def selection(exe):
    """The report's cases: f32 and f64 batchmean with probability targets on the best ISA, the other ISAs
    in f32, bf16 and f16 on the best ISA and in libtorch, and the baselines; the best ISA is the first one registered (available_isas() is best first).
    Gradients (issue 3's sizes and 1x2^20): forward_backward and PyTorch's forward+backward in f32 and
    f64 against the read-two-write-one roofline; in f32 also backward (batchmean and none) and
    backward_both (batchmean) on the best ISA, and forward_backward on the other ISAs on one thread.
    About 2 minutes with the defaults."""
    names = subprocess.run([exe, "--benchmark_list_tests"], check=True, capture_output=True, text=True).stdout
    best = re.search(r"^kldiv:([^/]+)/", names, re.M).group(1)
    b = re.escape(best)
    return best, (r"^(roofline/f(32|64)/read/|(kldiv:%s|scalar|torch)/f(32|64)/batchmean/prob/|peer:[^/]+/f32/"
                  r"|kldiv:[^/]+/f32/batchmean/prob/|(kldiv:%s|torch)/(bf16|f16)/batchmean/prob/"
                  r"|roofline/f(32|64)/readwrite/-/(8x4000|1x1048576|64x32000|256x32000)/"
                  r"|(kldiv\.forward_backward:%s|torch\.forward_backward)/f(32|64)/batchmean/prob/"
                  r"|kldiv\.(backward|backward_both):%s/f32/batchmean/prob/|kldiv\.backward:%s/f32/none/prob/"
                  r"|kldiv\.forward_backward:[^/]+/f32/batchmean/prob/[^/]+/threads:1/)" % (b, b, b, b, b))


def run_suite(exe, pattern, args, json_path):
    log = os.path.join(args.build_dir, "bench_console.txt")  # Google Benchmark's own output, for reference
    with open(log, "w") as console:
        try:
            run([exe, "--benchmark_filter=" + pattern, "--benchmark_min_time=" + args.min_time,
                 "--benchmark_repetitions=%d" % args.repetitions, "--benchmark_report_aggregates_only=true",
                 "--benchmark_out=" + json_path, "--benchmark_out_format=json"], stdout=console, stderr=subprocess.STDOUT)
        except subprocess.CalledProcessError:
            sys.exit(open(log).read()[-3000:])


def load(path):
    """{(impl, dtype, reduction, target, rows, cols, threads): median case} from Google Benchmark's JSON."""
    with open(path) as f:
        doc = json.load(f)
    cases, errors = {}, []
    for b in doc["benchmarks"]:
        if b.get("error_occurred"):
            errors.append("%s: %s" % (b["run_name"], b.get("error_message")))
            continue
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            if b.get("aggregate_name") == "cv":  # the spread, to flag noisy rows
                m = NAME.match(b["run_name"])
                if m:  # not the logits cases, which logits_section reads itself
                    cases.setdefault(key(m), {})["cv"] = b["real_time"]
            continue
        m = NAME.match(b["run_name"])
        if not m:
            continue
        c = cases.setdefault(key(m), {})
        c.update(m.groupdict())
        c["numel"] = int(m["rows"]) * int(m["cols"])
        c["threads"] = int(m["threads"])
        c["seconds"] = b["real_time"] * TIME_UNIT[b["time_unit"]]
        c["cpu_seconds"] = b["cpu_time"] * TIME_UNIT[b["time_unit"]]
        c["gelem"] = c["numel"] / c["seconds"] / 1e9
        c["gbps"] = b.get("bytes/s", 0) / 1e9
    doc["context"]["repetitions"] = max([b.get("repetitions", 1) for b in doc["benchmarks"]] or [1])
    return doc["context"], {k: v for k, v in cases.items() if "seconds" in v}, sorted(set(errors))


def key(m):
    return (m["impl"], m["dtype"], m["red"], m["target"], int(m["rows"]), int(m["cols"]), int(m["threads"]))


def split_impl(impl):
    """'kldiv.forward_backward:avx512' -> ('kldiv', 'forward_backward', 'avx512'); 'kldiv:avx2' ->
    ('kldiv', 'forward', 'avx2'); 'torch' -> ('torch', 'forward', '')."""
    lib, _, isa = impl.partition(":")
    lib, _, op = lib.partition(".")
    return lib, op or "forward", isa


def contended(cases, k):
    """Whether a multi-thread case ran while another process held a core: the roofline pass of its size,
    which only gains from more threads, was slower on all threads than on one."""
    impl, dtype, red, target, rows, cols, threads = k
    if threads == 1 or rows * cols < 2 * 32768:  # below that, every implementation runs on one thread
        return False
    one, all_ = (cases.get(("roofline", dtype, "read", "-", rows, cols, n)) for n in (1, threads))
    return bool(one and all_ and all_["seconds"] > 1.25 * one["seconds"])


def ratios(cases):
    """% of roofline (same dtype, size, threads; read-write roofline for reduction none) and speedups over
    PyTorch and the scalar loop (same case otherwise), for every non-roofline case.

    Gradient cases are measured against the read-two-write-one roofline: "roof" is the share of its
    bandwidth (bytes/s; for forward_backward, which moves the same bytes, this is its time over ours),
    "over_rw" our time over its time, and "x_torch" PyTorch's forward+backward time over forward_backward's."""
    for (impl, dtype, red, target, rows, cols, threads), c in cases.items():
        if impl == "roofline":
            continue
        lib, op, isa = split_impl(impl)
        if op != "forward":
            rw = cases.get(("roofline", dtype, "readwrite", "-", rows, cols, threads))
            c["roof"] = 100 * c["gbps"] / rw["gbps"] if rw and rw["gbps"] else None
            c["over_rw"] = c["seconds"] / rw["seconds"] if rw else None
            t = cases.get(("torch.forward_backward", dtype, red, target, rows, cols, threads))
            c["x_torch"] = t["seconds"] / c["seconds"] if t and op == "forward_backward" and lib == "kldiv" else None
            c["x_scalar"] = None
            continue
        roof = cases.get(("roofline", dtype, "readwrite" if red == "none" else "read", "-", rows, cols, threads))
        c["roof"] = 100 * roof["seconds"] / c["seconds"] if roof else None
        for base in ("torch", "scalar"):
            b = cases.get((base, dtype, red, target, rows, cols, threads))
            c["x_" + base] = b["seconds"] / c["seconds"] if b else None


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def markdown_table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" if i else ":---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return lines


def plain_table(header, rows):
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    line = lambda r: "  ".join(x.ljust(w) if i == 0 else x.rjust(w) for i, (x, w) in enumerate(zip(r, widths)))
    return [line(header)] + [line(r) for r in rows]


def size_name(c):
    return "%sx%s" % (c["rows"], c["cols"])


def main():
    args = parse_args()
    if not (args.no_build or args.from_json):
        build(args.build_dir)
    exe = os.path.join(args.build_dir, "bench", "kldiv_bench")
    os.makedirs(args.out_dir, exist_ok=True)
    # --logits-only writes files of its own, so that it never overwrites the full report.
    stem = "logits" if args.logits_only else "bench"
    json_path = args.from_json or os.path.join(args.out_dir, stem + ".json")
    if not args.from_json:
        best, pattern = selection(exe)
        pattern = logits_pattern(pattern, args)
        run_suite(exe, args.filter or pattern, args, json_path)
    context, cases, errors = load(json_path)
    ceiling = None if args.from_json else machine_ceiling(args.build_dir)
    logits_plain, logits_md = logits_section(json_path, ceiling, context)
    if args.logits_only:
        return logits_only_report(args, json_path, context, ceiling, logits_plain, logits_md, errors)
    accuracy = {} if args.from_json else peer_accuracy(args.build_dir, args.accuracy_step)
    best = context["kldiv_best_isa"]
    load_before = context.get("load_avg", [0])[0]  # Google Benchmark's reading as the run started
    ratios(cases)
    cores = int(context.get("cores", 1))

    # The main table: the best ISA, every size and thread count.
    header = ["case", "µs", "Gelem/s", "GB/s", "% roofline", "% compute", "× PyTorch", "× scalar"]
    rows, noisy, busy = [], False, False
    order = lambda k: (k[1], k[4] * k[5], k[6], k[0])
    for k in sorted(cases, key=order):
        c = cases[k]
        if not (k[0].startswith("kldiv:") if args.filter else k[0] == "kldiv:" + best and k[2] == "batchmean"
                and k[1] in ("f32", "f64")):
            continue  # with a filter of one's own: every kldiv case it selected
        mark = ""
        if c.get("cv", 0) > 0.10:  # over 10 % spread between repetitions
            mark, noisy = " ~", True
        if contended(cases, k):
            mark, busy = mark + " ?", True
        rows.append(["%s/%s/%s/%s/threads:%d%s" % (c["impl"], c["dtype"], c["red"], size_name(c), c["threads"], mark),
                     "%.1f" % (c["seconds"] * 1e6), "%.2f" % c["gelem"], "%.1f" % c["gbps"], fmt(c["roof"], ".0f"),
                     fmt(compute_share(c, ceiling, best), ".0f"), fmt(c["x_torch"], ".1f"), fmt(c["x_scalar"], ".1f")])

    # Every implementation side by side, f32 batchmean: Gelem/s.
    impls = sorted({k[0] for k in cases if k[1] == "f32" and k[2] in ("batchmean", "read") and split_impl(k[0])[1] == "forward"},
                   key=lambda i: (not i.startswith("kldiv"), i != "kldiv:" + best, i))
    points = sorted({(k[4], k[5], k[6]) for k in cases if k[1] == "f32"}, key=lambda p: (p[2], p[0] * p[1]))
    side_header = ["f32 batchmean"] + [i.replace("roofline", "roofline (read)") for i in impls]
    side = []
    for rows_, cols_, threads in points:
        red = lambda i: "read" if i == "roofline" else "batchmean"
        tgt = lambda i: "-" if i == "roofline" else "prob"
        side.append(["%dx%d/threads:%d" % (rows_, cols_, threads)] +
                    [fmt(cases.get((i, "f32", red(i), tgt(i), rows_, cols_, threads), {}).get("gelem"), ".2f")
                     for i in impls])

    # Gradients: the best ISA (every kldiv gradient case with a filter of one's own), then by implementation.
    grad_header = ["gradients", "µs", "Gelem/s", "GB/s", "% roofline", "÷ roofline", "× PyTorch"]
    grad_rows = []
    gorder = lambda k: (k[1], k[4] * k[5], k[6], ["forward_backward", "backward", "backward_both"].index(split_impl(k[0])[1])
                        if split_impl(k[0])[1] in ("forward_backward", "backward", "backward_both") else 9, k[2], k[3], k[0])
    for k in sorted(cases, key=gorder):
        c = cases[k]
        lib, op, isa = split_impl(k[0])
        if lib != "kldiv" or op == "forward" or not (args.filter or isa == best):
            continue
        mark = (" ~" if c.get("cv", 0) > 0.10 else "") + (" ?" if contended(cases, k) else "")
        noisy, busy = noisy or "~" in mark, busy or "?" in mark
        parts = [op + (":" + isa if args.filter else ""), c["dtype"], c["red"]]
        parts += [] if c["target"] == "prob" else [c["target"]]
        grad_rows.append(["/".join(parts + [size_name(c), "threads:%d" % c["threads"]]) + mark,
                          "%.1f" % (c["seconds"] * 1e6), "%.2f" % c["gelem"], "%.1f" % c["gbps"],
                          fmt(c.get("roof"), ".0f"), fmt(c.get("over_rw"), ".2f"), fmt(c.get("x_torch"), ".1f")])
    fb_impls = sorted({k[0] for k in cases if k[1] == "f32" and k[2] == "batchmean" and k[3] == "prob"
                       and split_impl(k[0])[1] == "forward_backward"},
                      key=lambda i: (not i.startswith("kldiv"), i != "kldiv.forward_backward:" + best, i))
    fb_impls.append("roofline")
    fb_points = sorted({(k[4], k[5], k[6]) for k in cases if k[1] == "f32" and split_impl(k[0])[1] == "forward_backward"},
                       key=lambda p: (p[2], p[0] * p[1]))
    fb_header = ["f32 batchmean forward+grad"] + [
        "roofline (read 2, write 1)" if i == "roofline" else i.replace(".forward_backward", "") for i in fb_impls]
    fb_side = []
    for rows_, cols_, threads in fb_points:
        k = lambda i: (i, "f32", "readwrite" if i == "roofline" else "batchmean", "-" if i == "roofline" else "prob",
                       rows_, cols_, threads)
        fb_side.append(["%dx%d/threads:%d" % (rows_, cols_, threads)] +
                       [fmt(cases.get(k(i), {}).get("gelem"), ".2f") for i in fb_impls])

    peer_header, peer_rows, peer_targets, peer_notes = peer_table(cases, best, accuracy, context, args.accuracy_step)
    targets = check_targets(cases, context, best, cores)
    half_header, half_rows, half_targets = half_section(cases, context, best)
    grad_target_rows, grad_targets = check_gradient_targets(cases, best)
    head = ("kldiv %s · best ISA %s · %d cores · PyTorch %s · f32/f64 batchmean, probability targets · "
            "medians of %d runs · load average %.1f before the run"
            % (context.get("kldiv_version"), best, cores, context.get("torch_version", "not built"),
               context["repetitions"], load_before))
    notes = ["%% roofline: time of the roofline pass (reads x and t once, -march=native) over kldiv's time, "
             "same size and threads; %% compute: kldiv's Gelem/s over this machine's compute ceiling (f32, best "
             "ISA AVX-512: the measured FMA rate × 16 / %d multiplies or FMAs per 16 floats, per thread); "
             "× PyTorch / × scalar: their time over kldiv's." % FMA_OPS_PER_16,
             "Gradients: % roofline is the share of the read-two-write-one pass's bandwidth (GB/s; bytes = the arrays "
             "the pass must read and write once), ÷ roofline is kldiv's time over that pass's time, × PyTorch is "
             "libtorch's forward + loss.backward() (x.grad set to none before each) over forward_backward's time."]
    if busy:
        notes.append("?: the roofline itself ran slower on all cores than on one: another process held a core, "
                     "so this multi-thread row measures the scheduler, not kldiv.")
    if noisy:
        notes.append("~: the repetitions spread over 10 % (noisy machine); trust the ratio columns more.")
    if load_before >= 1.0:  # the 1-minute average: our own build and earlier runs count for a while
        notes.append("Other processes were running (load %.1f): absolute numbers are low, ratios less so." % load_before)

    print("\n" + head + "\n")
    print("\n".join(plain_table(header, rows)))
    print("\nGelem/s by implementation\n")
    print("\n".join(plain_table(side_header, side)))
    print("\nTargets (issue 4)\n" + "\n".join(targets))
    print_half_section(half_header, half_rows, half_targets)
    print("\n" + ceiling_line(ceiling))
    print("\nPeers: hand-written loops over other libraries' vectorized logs, f32 batchmean, 1 thread, CPU time\n")
    print("\n".join(plain_table(peer_header, peer_rows)))
    print("\nTargets (issue 12)\n" + "\n".join(peer_targets + peer_notes))
    print("\nGradients, kldiv:%s\n" % best)
    print("\n".join(plain_table(grad_header, grad_rows)))
    print("\nGelem/s by implementation, forward + input gradient\n")
    print("\n".join(plain_table(fb_header, fb_side)))
    print("\nTargets (issue 3: gradients), forward_backward f32 batchmean, 1 thread\n")
    print("\n".join(plain_table(GRAD_TARGET_HEADER, grad_target_rows)))
    print("\n" + "\n".join(grad_targets))
    print("\n" + "\n".join(notes))
    for e in errors:
        print("ERROR", e)

    print("\n".join(logits_plain))

    eval_header, eval_rows, eval_lines = eval_section(args) if not args.from_json else ([], [], [])
    if eval_rows:
        print("\nkldiv-eval (issue 13) against llama.cpp's scalar loop\n")
        print("\n".join(plain_table(eval_header, eval_rows)))
        print("\n" + "\n".join(eval_lines))

    png = plot(cases, best, args.out_dir, cores)
    md = ["<!-- generated by tools/bench_report.py -->", head, ""] + markdown_table(header, rows)
    md += ["", "Gelem/s by implementation:", ""] + markdown_table(side_header, side)
    md += ["", "Targets:", ""] + ["- " + t for t in targets]
    md += markdown_half_section(half_header, half_rows, half_targets)
    md += ["", ceiling_line(ceiling)]
    md += ["", "Peers: hand-written loops over other libraries' vectorized logs, f32 batchmean, 1 thread, CPU time:", ""]
    md += markdown_table(peer_header, peer_rows) + [""] + ["- " + t for t in peer_targets + peer_notes]
    md += ["", "Gradients (kldiv:%s):" % best, ""] + markdown_table(grad_header, grad_rows)
    md += ["", "Gelem/s by implementation, forward + input gradient:", ""] + markdown_table(fb_header, fb_side)
    md += ["", "Targets (issue 3: gradients), forward_backward f32 batchmean, 1 thread:", ""]
    md += markdown_table(GRAD_TARGET_HEADER, grad_target_rows) + [""] + ["- " + t for t in grad_targets]
    if eval_rows:
        md += ["", "kldiv-eval (issue 13) against llama.cpp's scalar loop:", ""] + markdown_table(eval_header, eval_rows)
        md += [""] + ["- " + l for l in eval_lines]
    md += logits_md
    md += [""] + notes
    if png:
        md += ["", "![throughput](%s)" % os.path.basename(png)]
    with open(os.path.join(args.out_dir, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\nwrote %s, report.md%s in %s" % (os.path.basename(json_path), ", " + os.path.basename(png) if png else "",
                                             args.out_dir))
    return 1 if errors else 0


def logits_only_report(args, json_path, context, ceiling, plain, md, errors):
    """--logits-only: the logits section alone, printed and written as logits.md."""
    head = ("kldiv %s · best ISA %s · %s cores · libtorch %s · medians of %d runs · load average %.1f before the run"
            % (context.get("kldiv_version"), context.get("kldiv_best_isa"), context.get("cores"),
               context.get("torch_version", "not built"), context["repetitions"], context.get("load_avg", [0])[0]))
    print("\n" + head + "\n" + "\n".join(plain) + "\n\n" + ceiling_line(ceiling))
    for e in errors:
        print("ERROR", e)
    with open(os.path.join(args.out_dir, "logits.md"), "w") as f:
        f.write("\n".join(["<!-- generated by tools/bench_report.py --logits-only -->", head] + md +
                           ["", ceiling_line(ceiling)]) + "\n")
    print("\nwrote %s, logits.md in %s" % (os.path.basename(json_path), args.out_dir))
    return 1 if errors else 0


def compute_share(c, ceiling, best):
    """% of this machine's compute ceiling reached by an f32 kldiv case of the best ISA (AVX-512)."""
    if not ceiling or best != "avx512" or c["dtype"] != "f32":
        return None
    threads = min(c["threads"], max(1, c["numel"] // 32768))  # kldiv's own thread rule (bench/scalar.cpp)
    return 100 * c["gelem"] / (ceiling["gelem"] * threads)


def ceiling_line(ceiling):
    if not ceiling:
        return "Compute ceiling: not measured (needs AVX-512 and gcc; tools/peak_fma.c)."
    return ("Compute ceiling on this machine (%s, tools/peak_fma.c, best of 3): clock %.2f GHz, %.2f 512-bit FMAs per "
            "cycle, so %.2f Gelem/s per core for the f32 pass at %d multiplies or FMAs per 16 floats."
            % (ceiling["cpu"], ceiling["ghz"], ceiling["fma_per_cycle"], ceiling["gelem"], FMA_OPS_PER_16))


def peer_table(cases, best, accuracy, context, step):
    """kldiv against the peers (bench/peers/), f32 batchmean, one thread, by CPU time (the peers and kldiv
    of one size run back to back): Gelem/s, kldiv's advantage (the peer's time over kldiv's), and each log's
    measured maximum and mean signed error.  Issue 12's targets: >= 6.5 Gelem/s in cache, >= 1.5x Highway,
    >= 1.1x SLEEF u35 at every size."""
    kl = "kldiv:" + best
    peers = sorted({k[0] for k in cases if k[0].startswith("peer:")})
    sizes = sorted({(k[4], k[5]) for k in cases if k[0] in peers and k[6] == 1}, key=lambda s: s[0] * s[1])
    get = lambda impl, s: cases.get((impl, "f32", "batchmean", "prob", s[0], s[1], 1))
    gelem = lambda c: c["numel"] / c["cpu_seconds"] / 1e9
    header = ["f32 batchmean, 1 thread", "kldiv"] + [p[5:] + " (kldiv ×)" for p in peers]
    rows, adv = [], {p: [] for p in peers}
    for s in sizes:
        k = get(kl, s)
        row = ["%dx%d" % s, fmt(k and gelem(k), ".2f")]
        for p in peers:
            c = get(p, s)
            x = k["cpu_seconds"] and c and c["cpu_seconds"] / k["cpu_seconds"] if k else None
            adv[p].append((s, x))
            row.append("%s (%s)" % (fmt(c and gelem(c), ".2f"), fmt(x, ".2f")))
        rows.append(row)
    err = lambda name, i: fmt(accuracy[name][i], ".2f" if i == 0 else ".4f") if name in accuracy else "—"
    rows.append(["max log error (ulp)", err("kldiv", 0)] + [err(p[5:], 0) for p in peers])
    rows.append(["mean log error (ulp, [2^-126, 1])", err("kldiv", 1)] + [err(p[5:], 1) for p in peers])

    def verdict(pairs, bound):
        have = [x for _, x in pairs if x is not None]
        return "n/a" if not have or len(have) < len(pairs) else ("PASS" if all(x >= bound for x in have) else "MISS")

    cached = [(s, get(kl, s)) for s in sizes if get(kl, s) and 2 * 4 * s[0] * s[1] <= 1 << 20]
    targets = ["%s  ≥ 6.5 Gelem/s in cache (f32 batchmean, 1 thread, CPU time): %s" % (
        verdict([(s, gelem(c)) for s, c in cached], 6.5) if best == "avx512" else "n/a",
        ", ".join("%dx%d %.2f" % (s[0], s[1], gelem(c)) for s, c in cached) or "no in-cache size")]
    for p, bound in (("peer:highway", 1.5), ("peer:sleef_u35", 1.1)):
        if p in adv:
            targets.append("%s  ≥ %.1f× the %s loop at every size: %s" % (
                verdict(adv[p], bound), bound, p[5:], ", ".join("%dx%d %s×" % (s[0], s[1], fmt(x, ".2f")) for s, x in adv[p])))
        else:
            targets.append("n/a  ≥ %.1f× the %s loop: that peer is not built" % (bound, p[5:]))
    notes = ["Each log's error: kldiv_peer_accuracy on every %d-th positive normal float against std::log in "
             "double (kldiv's own, exhaustively: tests/test_math.cpp)." % step]
    if context.get("peers_missing"):
        notes.append("Peers not built (install the package to add them): " + context["peers_missing"])
    return header, rows, targets, notes


EVAL_NAME = re.compile(r"^BM_eval_(?P<impl>kldiv|llama_scalar)/vocab:(?P<vocab>\d+)/threads:(?P<threads>\d+)/"
                       r"llama_candidate:(?P<cand>\d)")


def eval_section(args):
    """kldiv-eval (issue 13): kldiv_eval_bench's tokens/s against llama.cpp's scalar loop, and the command on a
    pair of llama.cpp files of --eval-pair-mb in all from the page cache, on every core.  Returns the lines."""
    exe = os.path.join(args.build_dir, "bench", "kldiv_eval_bench")
    out = os.path.join(args.out_dir, "bench_eval.json")
    run([exe, "--benchmark_min_time=" + args.min_time, "--benchmark_repetitions=%d" % args.repetitions,
         "--benchmark_report_aggregates_only=true", "--benchmark_out=" + out, "--benchmark_out_format=json"],
        stdout=subprocess.DEVNULL)
    cases = {}
    for b in json.load(open(out))["benchmarks"]:
        m = EVAL_NAME.match(b["name"])
        if m and b.get("aggregate_name") == "median":
            cases[(m["impl"], int(m["vocab"]), int(m["threads"]), int(m["cand"]))] = b
    header = ["kldiv-eval", "tokens/s", "GB/s", "scalar tokens/s", "× scalar", "× 1 thread"]
    rows, lines = [], []
    for (impl, vocab, threads, cand), b in sorted(cases.items()):
        if impl != "kldiv":
            continue
        scalar = cases.get(("llama_scalar", vocab, threads, cand), {}).get("tokens/s")
        one = cases.get(("kldiv", vocab, 1, cand), {}).get("tokens/s")
        rows.append(["%s candidate, n_vocab %d, threads:%d" % ("llama.cpp" if cand else "logits", vocab, threads),
                     "%.0f" % b["tokens/s"], "%.2f" % (b["bytes/s"] / 1e9), fmt(scalar, ".0f"),
                     fmt(b["tokens/s"] / scalar if scalar else None, ".1f"),
                     fmt(b["tokens/s"] / one if one and threads > 1 else None, ".2f")])
    with tempfile.TemporaryDirectory() as d:
        vocab = 32000
        rows_ = args.eval_pair_mb * (1 << 20) // 2 // (2 * (vocab + 4))
        run([exe, "--write-pair", d, str(rows_), str(vocab)])
        files = [os.path.join(d, "base.logits"), os.path.join(d, "cand.logits")]
        for f in files:  # into the page cache
            with open(f, "rb") as h:
                while h.read(1 << 24):
                    pass
        size = sum(os.path.getsize(f) for f in files)
        cmd = [os.path.join(args.build_dir, "app", "kldiv-eval")] + files + ["--no-progress"]
        before = os.times()
        start = time.monotonic()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        wall = time.monotonic() - start
        after = os.times()
        cpu = (after.children_user - before.children_user) + (after.children_system - before.children_system)
    lines.append("kldiv-eval on two llama.cpp files of %.2f GB in all (n_vocab %d, page cache, every core): "
                 "%.2f s wall, %.2f s CPU (target < 2 s on two cores)" % (size / 1e9, vocab, wall, cpu))
    return header, rows, lines


def check_targets(cases, context, best, cores):
    """The issue's targets, each with the figures it rests on."""
    get = lambda impl, size, threads, dtype="f32", red="batchmean", tgt="prob": \
        cases.get((impl, dtype, red, tgt, size[0], size[1], threads))
    sizes = sorted({(k[4], k[5]) for k in cases}, key=lambda s: s[0] * s[1])
    kl = "kldiv:" + best
    out = []

    def verdict(ok):
        return "n/a" if ok is None else ("PASS" if ok else "MISS")

    xs = [(s, get(kl, s, 1)) for s in sizes if get(kl, s, 1) and get(kl, s, 1)["x_torch"]]
    out.append("%s  forward ≥ 20× PyTorch at every size (f32, 1 thread): %s" % (
        verdict(all(c["x_torch"] >= 20 for _, c in xs) if xs else None),
        ", ".join("%dx%d %.1f×" % (s[0], s[1], c["x_torch"]) for s, c in xs) or "no PyTorch baseline in this build"))

    l2 = max([c["size"] for c in context.get("caches", []) if c["level"] == 2] or [0])
    in_cache = [(s, get(kl, s, 1)) for s in sizes if get(kl, s, 1) and 2 * 4 * s[0] * s[1] <= l2]
    ok = all(c["gelem"] >= 4 for _, c in in_cache) if in_cache and best == "avx512" else None
    out.append("%s  ≥ 4 Gelem/s per core in cache with AVX-512 (f32, working set ≤ L2): %s" % (
        verdict(ok), ", ".join("%dx%d %.2f" % (s[0], s[1], c["gelem"]) for s, c in in_cache)))

    c = get(kl, (256, 32000), cores)
    busy = " (? a process held a core: rerun)" if contended(cases, (kl, "f32", "batchmean", "prob", 256, 32000, cores)) else ""
    out.append("%s  ≥ 90 %% of roofline at 256x32000 with all %d cores: %s%s" % (
        verdict(c["roof"] >= 90 if c and c["roof"] else None), cores, fmt(c and c["roof"], ".0f") + " %", busy))

    # Compute-bound: one thread reaches under half the roofline, and the size is large enough for kldiv
    # to use more than one thread (32768 elements per thread).
    scal = []
    for s in sizes:
        one, all_ = get(kl, s, 1), get(kl, s, cores)
        if cores > 1 and one and all_ and s[0] * s[1] >= 2 * 32768 and one["roof"] and one["roof"] < 50:
            scal.append((s, all_["gelem"] / one["gelem"], contended(cases, (kl, "f32", "batchmean", "prob", s[0], s[1], cores))))
    out.append("%s  thread scaling 1→%d ≥ 1.8× where compute-bound: %s" % (
        verdict(all(r >= 1.8 for _, r, _ in scal) if scal else None), cores,
        ", ".join("%dx%d %.2f×%s" % (s[0], s[1], r, " ?" if b else "") for s, r, b in scal)
        or "no compute-bound multi-thread size"))
    return out


HALF_SIZES = ((8, 4000), (64, 32000), (256, 32000))  # issue 11's


def half_section(cases, context, best):
    """bf16 and f16 next to f32 (issue 11): kldiv's forward (batchmean, probability targets, best ISA) at the
    issue's three sizes and every thread count, the ratio of each half's Gelem/s to f32's, and libtorch's
    kl_div in the same dtype.  Issue 11's targets, for bf16, at every thread count: at DRAM sizes (f32's x and
    t beyond the last-level cache) ≥ 1.6× f32's Gelem/s; in cache (f32's x and t within L2) within 10 % of f32
    (≥ 0.9×); ≥ 20× libtorch's bf16.  Returns the table's header and rows and the PASS/MISS lines."""
    kl = "kldiv:" + best
    get = lambda impl, dtype, s, threads: cases.get((impl, dtype, "batchmean", "prob", s[0], s[1], threads))
    gelem = lambda c: c["gelem"] if c else None
    ratio = lambda a, b: a["gelem"] / b["gelem"] if a and b else None
    points = sorted({(k[4], k[5], k[6]) for k in cases if k[0] == kl and k[1] == "bf16" and (k[4], k[5]) in HALF_SIZES},
                    key=lambda p: (p[2], p[0] * p[1]))
    header = ["batchmean, Gelem/s", "f32", "bf16", "bf16 ÷ f32", "torch bf16", "× torch bf16", "f16", "f16 ÷ f32",
              "torch f16", "× torch f16"]
    rows = []
    for r, c, threads in points:
        s = (r, c)
        f32, row = get(kl, "f32", s, threads), ["%dx%d/threads:%d" % (r, c, threads)]
        row.append(fmt(gelem(f32), ".2f"))
        for dtype in ("bf16", "f16"):
            h, t = get(kl, dtype, s, threads), get("torch", dtype, s, threads)
            row += [fmt(gelem(h), ".2f"), fmt(ratio(h, f32), ".2f"), fmt(gelem(t), ".3f"), fmt(ratio(h, t), ".0f")]
        rows.append(row)

    caches = context.get("caches", [])
    l2 = max([c["size"] for c in caches if c["level"] == 2] or [0])
    llc = max([c["size"] for c in caches] or [0])
    f32_bytes = lambda p: 2 * 4 * p[0] * p[1]

    def target(what, baseline, pts, bound):
        """bf16's Gelem/s over the baseline's (kldiv's f32, or libtorch's bf16) at each point, against bound."""
        base = (lambda s, n: get(kl, "f32", s, n)) if baseline == "f32" else (lambda s, n: get("torch", "bf16", s, n))
        pairs = [("%dx%d/threads:%d" % p, ratio(get(kl, "bf16", p[:2], p[2]), base(p[:2], p[2]))) for p in pts]
        have = [x for _, x in pairs if x is not None]
        verdict = "n/a" if not pairs or len(have) < len(pairs) else ("PASS" if all(x >= bound for x in have) else "MISS")
        return "%s  %s: %s" % (verdict, what, ", ".join("%s %s×" % (n, fmt(x, ".2f")) for n, x in pairs)
                               or "no such size measured")

    if l2 and llc:
        dram, cached = [p for p in points if f32_bytes(p) > llc], [p for p in points if f32_bytes(p) <= l2]
        dram_why, cached_why = "f32's x and t > the %.0f MB last-level cache" % (llc / 1e6), \
            "f32's x and t ≤ the %.0f KB L2" % (l2 / 1e3)
    else:  # Google Benchmark found no cache sizes (some VMs): the issue's own split
        dram, cached = [p for p in points if p[:2] == (256, 32000)], [p for p in points if p[:2] == (8, 4000)]
        dram_why, cached_why = "256x32000; cache sizes not reported", "8x4000; cache sizes not reported"
    return header, rows, [
        target("bf16 ≥ 1.6× f32's Gelem/s at DRAM sizes (%s)" % dram_why, "f32", dram, 1.6),
        target("bf16 within 10 %% of f32 in cache (≥ 0.9×; %s)" % cached_why, "f32", cached, 0.9),
        target("bf16 ≥ 20× libtorch's bf16 kl_div", "torch", points, 20)]


def print_half_section(header, rows, targets):
    print("\nbf16 and f16 (issue 11): kldiv's forward next to f32 and to libtorch in the same dtype\n")
    print("\n".join(plain_table(header, rows)))
    print("\nTargets (issue 11)\n" + "\n".join(targets))


def markdown_half_section(header, rows, targets):
    return (["", "bf16 and f16 (issue 11): kldiv's forward next to f32 and to libtorch in the same dtype:", ""] +
            markdown_table(header, rows) + ["", "Targets (issue 11):", ""] + ["- " + t for t in targets])


GRAD_TARGET_HEADER = ["f32 batchmean, 1 thread", "kldiv µs", "PyTorch fwd+bwd µs", "× PyTorch",
                      "read-2-write-1 µs", "÷ roofline"]


def check_gradient_targets(cases, best):
    """Issue 3's targets for forward + input gradient (forward_backward), f32, one thread, at its three
    shapes: (a) at least 20× faster than PyTorch's forward + backward, (b) at most 1.5× the time of the
    read-two-write-one roofline pass.  Returns the table rows and the PASS/MISS lines."""
    kl = "kldiv.forward_backward:" + best
    rows, xs, rws = [], [], []
    for size in ((8, 4000), (64, 32000), (256, 32000)):
        get = lambda impl, red="batchmean", tgt="prob": cases.get((impl, "f32", red, tgt, size[0], size[1], 1))
        c, t, rw = get(kl), get("torch.forward_backward"), get("roofline", "readwrite", "-")
        us = lambda x: fmt(x and x["seconds"] * 1e6, ".1f")
        name = "%dx%d" % size
        rows.append([name + (" ~" if any(x and x.get("cv", 0) > 0.10 for x in (c, t, rw)) else ""),
                     us(c), us(t), fmt(c and c.get("x_torch"), ".1f"), us(rw), fmt(c and c.get("over_rw"), ".2f")])
        xs.append((name, c and c.get("x_torch")))
        rws.append((name, c and c.get("over_rw")))

    def line(pairs, ok, what, spec):
        have = [v for _, v in pairs if v is not None]
        verdict = "n/a" if len(have) < len(pairs) else ("PASS" if all(ok(v) for v in have) else "MISS")
        return "%s  %s: %s" % (verdict, what, ", ".join("%s %s" % (n, fmt(v, spec) + "×" if v is not None else "—")
                                                          for n, v in pairs))

    return rows, [
        line(xs, lambda v: v >= 20, "forward + input gradient ≥ 20× PyTorch forward+backward (f32, 1 thread)", ".1f"),
        line(rws, lambda v: v <= 1.5, "forward + input gradient ≤ 1.5× the read-two-write-one pass (f32, 1 thread)",
             ".2f")]


# Issue 10: KL and JSD straight from logits (bench/bench_logits.cpp).
LOGITS_NAME = re.compile(r"^logits/(?P<impl>kldiv|torch|scalar|roofline)/(?P<div>[^/]+)/(?P<pass>[^/]+)/"
                         r"(?P<dtype>f32|bf16)/(?P<rows>\d+)x(?P<cols>\d+)/threads:(?P<threads>\d+)")
# Every logits case on one thread (kldiv f32 and bf16, libtorch's composition, the scalar loop, the roofline
# passes), and kldiv f32 with the roofline on every core at the two largest sizes.  About a minute.
LOGITS_SELECTION = (r"^logits/[^/]+/[^/]+/[^/]+/[^/]+/[^/]+/threads:1/"
                    r"|^logits/(kldiv|roofline)/[^/]+/[^/]+/f32/(256x32000|16x128256)/threads:([2-9]|[1-9][0-9]+)/")
LOGITS_SIZES = ((8, 32000), (64, 32000), (256, 32000), (16, 128256))
LOGITS_PASSES = (("kl", "forward"), ("kl", "forward_backward"), ("jsd", "forward"), ("jsd", "forward_backward"))
# Multiplies and FMAs per 16 elements of each pass over a row (docs/performance.md counts them in the
# compiled avx512 loops, where every lane takes the near path): stats (KL's one read), JSD's second
# pass, and the gradient passes.  A call is its passes: the FMA rate over their sum bounds it.
LOGITS_FMA_OPS_PER_16 = {"stats": 23, "jsd": 41, "gradient:kl": 24, "gradient:jsd": 39}
LOGITS_CALL_PASSES = {("kl", "forward"): ("stats",), ("kl", "forward_backward"): ("stats", "gradient:kl"),
                      ("jsd", "forward"): ("stats", "jsd"), ("jsd", "forward_backward"): ("stats", "jsd", "gradient:jsd")}


def logits_pattern(pattern, args):
    """The suite's selection with the logits cases added (only them with --logits-only)."""
    return LOGITS_SELECTION if args.logits_only else pattern + "|" + LOGITS_SELECTION


def load_logits(path):
    """{(impl, divergence, pass, dtype, rows, cols, threads): median case} of the logits cases in a saved run."""
    with open(path) as f:
        doc = json.load(f)
    cases = {}
    for b in doc["benchmarks"]:
        m = LOGITS_NAME.match(b["run_name"])
        if not m or b.get("error_occurred") or b.get("aggregate_name", "median") not in ("median", "cv"):
            continue
        c = cases.setdefault((m["impl"], m["div"], m["pass"], m["dtype"], int(m["rows"]), int(m["cols"]),
                              int(m["threads"])), {})
        if b.get("aggregate_name") == "cv":
            c["cv"] = b["real_time"]
            continue
        c["seconds"] = b["real_time"] * TIME_UNIT[b["time_unit"]]
        c["gelem"] = int(m["rows"]) * int(m["cols"]) / c["seconds"] / 1e9
        c["bytes_per_s"] = b.get("bytes/s", 0)
    return {k: v for k, v in cases.items() if "seconds" in v}


def logits_ceilings(cases, k, ceiling, best):
    """(compute, memory) ceilings in Gelem/s of kldiv's case k, or None where not measured.  Compute: the
    FMA rate × 16 over the call's multiplies and FMAs per 16 elements, per thread (AVX-512 only).  Memory:
    the roofline pass of the same size and threads moving the same arrays (read: p, q; readwrite: p, q and
    the gradient), its bytes/s over the case's bytes per element (bf16 moves half of f32's)."""
    _, div, pss, dtype, rows, cols, threads = k
    ops = sum(LOGITS_FMA_OPS_PER_16[p] for p in LOGITS_CALL_PASSES[(div, pss)])
    compute = ceiling["fma_per_ns"] * 16 / ops * threads if ceiling and best == "avx512" else None
    roof = cases.get(("roofline", "read" if pss == "forward" else "readwrite", "-", "f32", rows, cols, threads))
    arrays = 2 if pss == "forward" else 3
    memory = roof["bytes_per_s"] / (arrays * (4 if dtype == "f32" else 2)) / 1e9 if roof and roof["bytes_per_s"] else None
    return compute, memory


def logits_section(json_path, ceiling, context):
    """Issue 10's table and targets: kldiv's logits kernels against libtorch's composition and the scalar
    loop, same process, real time.  Returns (plain lines, markdown lines)."""
    cases = load_logits(json_path)
    best = context.get("kldiv_best_isa")
    have_torch = "torch_version" in context
    if not any(k[0] == "kldiv" for k in cases):
        line = "Logits (issue 10): no logits case in this run."
        return [line], [line]
    get = lambda impl, div, pss, size, threads=1, dtype="f32": cases.get((impl, div, pss, dtype, size[0], size[1], threads))
    secs = lambda c: c["seconds"] if c else None
    ratio = lambda a, b: a["seconds"] / b["seconds"] if a and b else None

    def busy(size, threads):  # the roofline ran slower on more threads: another process held a core
        one, more = (get("roofline", "read", "-", size, n) for n in (1, threads))
        return threads > 1 and one and more and more["seconds"] > 1.25 * one["seconds"]

    header = ["logits (kldiv)", "µs", "Gelem/s", "× libtorch", "× scalar", "× 1 thread", "% compute", "% roofline"]
    rows = []
    for div, pss in LOGITS_PASSES:
        for size in LOGITS_SIZES:
            for k in sorted((k for k in cases if k[:3] == ("kldiv", div, pss) and k[4:6] == size),
                            key=lambda k: (k[6], k[3] != "f32")):
                c, dtype, threads = cases[k], k[3], k[6]
                compute, memory = logits_ceilings(cases, k, ceiling, best)
                mark = (" ~" if c.get("cv", 0) > 0.10 else "") + (" ?" if busy(size, threads) else "")
                rows.append(["%s/%s/%s/%dx%d/threads:%d%s" % (div, pss, dtype, size[0], size[1], threads, mark),
                             "%.0f" % (c["seconds"] * 1e6), "%.3f" % c["gelem"],
                             fmt(ratio(get("torch", div, pss, size, threads), c), ".1f"),
                             fmt(ratio(get("scalar", div, pss, size, threads), c), ".1f"),
                             fmt(ratio(get("kldiv", div, pss, size, 1, dtype), c) if threads > 1 else None, ".2f"),
                             fmt(compute and 100 * c["gelem"] / compute, ".0f"), fmt(memory and 100 * c["gelem"] / memory, ".0f")])
    base_header = ["logits baselines, f32, 1 thread"] + ["%dx%d" % s for s in LOGITS_SIZES]
    base_rows = []
    for impl, div, pss in [("torch", d, p) for d, p in LOGITS_PASSES] + [("scalar", "kl", "forward"),
                                                                     ("roofline", "read", "-"), ("roofline", "readwrite", "-")]:
        if any(get(impl, div, pss, s) for s in LOGITS_SIZES):
            base_rows.append(["%s %s/%s Gelem/s" % ({"torch": "libtorch"}.get(impl, impl), div, pss)] +
                             [fmt((get(impl, div, pss, s) or {}).get("gelem"), ".3f") for s in LOGITS_SIZES])

    def verdict(values, ok):
        have = [v for _, v in values if v is not None]
        return "n/a" if not have or len(have) < len(values) else ("PASS" if all(ok(v) for v in have) else "MISS")

    def line(values, ok, what, spec="%.1f×"):
        figures = ", ".join("%s %s" % (n, "—" if v is None else spec % v) for n, v in values)
        return "%s  %s: %s" % (verdict(values, ok), what, figures or "not measured")

    name = lambda s: "%dx%d" % s
    mid, big = (64, 32000), (256, 32000)
    no_torch = "" if have_torch else " (libtorch not built: install libtorch-dev; skipped)"
    targets = [
        line([(name(mid), ratio(get("torch", "kl", "forward", mid), get("kldiv", "kl", "forward", mid)))], lambda v: v >= 8,
             "forward KL ≥ 8× libtorch's composition at 64x32000 (f32, 1 thread)" + no_torch),
        line([(name(mid), ratio(get("scalar", "kl", "forward", mid), get("kldiv", "kl", "forward", mid)))], lambda v: v >= 10,
             "forward KL ≥ 10× the scalar loop at 64x32000"),
        line([(name(s), ratio(get("torch", "kl", "forward_backward", s), get("kldiv", "kl", "forward_backward", s)))
              for s in LOGITS_SIZES], lambda v: v >= 15, "forward+backward KL ≥ 15× libtorch's (every size)" + no_torch),
        line([(name(s), ratio(get("torch", "jsd", "forward", s), get("kldiv", "jsd", "forward", s))) for s in LOGITS_SIZES],
             lambda v: v >= 15, "JSD forward ≥ 15× libtorch's (every size)" + no_torch),
        line([("%s/%s" % (d, p), ratio(get("kldiv", d, p, big), get("kldiv", d, p, big, 1, "bf16"))) for d, p in LOGITS_PASSES],
             lambda v: v >= 1, "bf16 at 256x32000 at least f32's Gelem/s (bf16 ÷ f32 time⁻¹)", "%.2f×"),
    ]
    cores = int(context.get("cores", 1))
    two = [(name(big) + (" ?" if busy(big, cores) else ""), ratio(get("kldiv", "kl", "forward", big),
                                                                  get("kldiv", "kl", "forward", big, cores)))]
    targets.append(line(two, lambda v: v >= 1.8, "%d threads ≥ 1.8× one at 256x32000 (KL forward, f32)" % cores, "%.2f×")
                   if cores > 1 else "n/a  2 threads ≥ 1.8× one: this machine has one core")
    targets.append(line([(name(s), ratio(get("kldiv", "kl", "forward_backward", s), get("kldiv", "kl", "forward", s)))
                         for s in LOGITS_SIZES], lambda v: v <= 2, "KL forward+backward ≤ 2× KL forward's time", "%.2f×"))
    jsd_fb = [(name(s), ratio(get("kldiv", "jsd", "forward_backward", s), get("kldiv", "kl", "forward", s))) for s in LOGITS_SIZES]
    targets.append(line(jsd_fb, lambda v: v <= 3, "JSD forward+backward ≤ 3× the one-read forward's time (KL forward)", "%.2f×")
                   + "; ÷ JSD forward: " + ", ".join("%s %s" % (name(s), fmt(ratio(get("kldiv", "jsd", "forward_backward", s),
                                                                                  get("kldiv", "jsd", "forward", s)), ".2f"))
                                                     for s in LOGITS_SIZES))
    notes = ["Logits: p = 2 N(0, 1), q = p + 0.3 N(0, 1), T = 2, JSD β = 0.5, batchmean; Gelem/s = rows·cols per second, "
             "medians of real time, every implementation in this process. × libtorch / × scalar: their time (f32) over "
             "kldiv's; %% compute: of the FMA rate × 16 / (multiplies and FMAs per 16 elements of the call's passes: %s; "
             "docs/performance.md), per thread; %% roofline: of the roofline pass moving the same arrays (forward reads p "
             "and q, forward_backward writes the gradient too), at the dtype's bytes."
             % ", ".join("%s %d" % kv for kv in LOGITS_FMA_OPS_PER_16.items())]
    if ceiling and best == "avx512":
        notes.append("Compute ceilings of the logits calls on this machine (%.2f 512-bit FMAs per ns): %s Gelem/s per core."
                     % (ceiling["fma_per_ns"], ", ".join(
                         "%s %s %.2f" % (d, p, ceiling["fma_per_ns"] * 16 / sum(LOGITS_FMA_OPS_PER_16[x] for x in LOGITS_CALL_PASSES[(d, p)]))
                         for d, p in LOGITS_PASSES)))
    if not have_torch:
        notes.append("libtorch's composition was not measured: kldiv_bench was built without libtorch (Debian: "
                     "libtorch-dev), so its columns and targets are skipped.")
    title = "Logits (issue 10): KL and JSD straight from logits, kldiv:%s" % best
    plain = ["", title, ""] + plain_table(header, rows) + ["", "Baselines and roofline passes", ""]
    plain += plain_table(base_header, base_rows) + ["", "Targets (issue 10)"] + targets + [""] + notes
    md = ["", title + ":", ""] + markdown_table(header, rows) + ["", "Baselines and roofline passes:", ""]
    md += markdown_table(base_header, base_rows) + ["", "Targets (issue 10):", ""] + ["- " + t for t in targets]
    md += [""] + notes
    return plain, md


def plot(cases, best, out_dir, cores):
    """throughput.png: Gelem/s against size, f32 batchmean, one panel per thread count."""
    gnuplot = shutil.which("gnuplot")
    if not gnuplot:
        print("gnuplot not found (Debian: gnuplot-nox); no plot", file=sys.stderr)
        return None
    lines = [("kldiv:" + best, "batchmean", "prob", "kldiv (%s)" % best), ("scalar", "batchmean", "prob", "scalar loop"),
             ("torch", "batchmean", "prob", "PyTorch"), ("roofline", "read", "-", "roofline (read x, t)")]
    sizes = sorted({(k[4], k[5]) for k in cases if k[1] == "f32"}, key=lambda s: s[0] * s[1])
    with tempfile.NamedTemporaryFile("w", suffix=".dat", delete=False) as f:
        dat = f.name  # one block per thread count: numel, label, then one column per line
        for threads in sorted({1, cores}):
            for s in sizes:
                vals = [cases.get((i, "f32", r, t, s[0], s[1], threads), {}).get("gelem") for i, r, t, _ in lines]
                f.write("%d %dx%d %s\n" % (s[0] * s[1], s[0], s[1], " ".join("NaN" if v is None else "%g" % v for v in vals)))
            f.write("\n\n")
    png = os.path.join(out_dir, "throughput.png")
    panels = sorted({1, cores})
    script = ["set terminal pngcairo size %d,520 font 'sans,11'" % (560 * len(panels)), "set output '%s'" % png,
              "set multiplot layout 1,%d title 'kl\\_div forward, f32, batchmean: throughput (higher is better)'" % len(panels),
              "set logscale xy", "set grid", "set key bottom right font ',9'", "set xlabel 'elements (rows x cols)'",
              "set ylabel 'Gelem/s'", "set xtics rotate by -30 font ',9'", "set yrange [0.01:*]",
              "set xrange [%g:%g]" % (sizes[0][0] * sizes[0][1] / 2, sizes[-1][0] * sizes[-1][1] * 3),
              "set format y '%g'"]
    for idx, threads in enumerate(panels):
        script.append("set title '%d thread%s'" % (threads, "" if threads == 1 else "s"))
        script.append("plot " + ", ".join(
            "'%s' index %d using 1:%d:xtic(2) with linespoints lw 2 pt 7 title '%s'" % (dat, idx, 3 + j, title)
            for j, (_, _, _, title) in enumerate(lines)))
    script.append("unset multiplot")
    try:
        subprocess.run([gnuplot], input="\n".join(script), text=True, check=True)
    finally:
        os.unlink(dat)
    return png


if __name__ == "__main__":
    sys.exit(main())
