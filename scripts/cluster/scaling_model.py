#!/usr/bin/python3
"""The step-time model of docs/SCALING.md: checked against the namespace cluster, then used to
plan Qwen2.5-Math jobs.

    scaling_model.py check DIR     DIR from scripts/cluster/scaling-check.sh: per (nodes, rate)
                                   the bench --allreduce sweep and overlap, and bench training;
                                   prints the model's step time against the measured one
    scaling_model.py project       Qwen2.5-Math-1.5B and 7B on 32- and 64-core nodes, fp32 and
                                   bf16: nodes, memory per rank, bandwidth for 90% scaling
                                   efficiency, time for the paper's 390 steps

The model, per optimizer step on N nodes of one rank each (data parallel, weak scaling: each
rank its share of the global batch):
    compute      C = tokens per rank / the rank's training rate (bench, one rank)
    allreduce    A = 2 (N - 1) alpha + 2 (N - 1) / N x G / B   (ring; G gradient bytes, B the
                 bus bandwidth of large messages, alpha the latency of one ring hop)
    plain DP     buckets start as the backward pass finishes them, but Open MPI moves a
                 non-blocking allreduce over TCP forward only inside MPI calls, which the
                 backward pass makes between layers: the hidden share h is measured (bench
                 --allreduce's overlap line), not derived; exposed = (1 - h) A
    ZeRO-1       reduce-scatter after the backward pass, allgather after AdamW: exposed = A
    step         T = C + exposed; scaling efficiency C / T
"""
import glob
import json
import os
import re
import sys

# The share of the allreduce the backward pass hid on the namespace cluster (2 nodes, small:
# 15% at 1 Gbit/s, 34% at 10 Gbit/s); the projections plan with 25%.
PLANNING_HIDDEN = 0.25


def ring_seconds(n, gradient_bytes, bus_bytes_per_s, alpha):
    if n <= 1:
        return 0.0
    return 2 * (n - 1) * alpha + 2 * (n - 1) / n * gradient_bytes / bus_bytes_per_s


def exposed_seconds(allreduce, hidden, zero):
    return allreduce if zero else (1 - hidden) * allreduce


# ---- check ---------------------------------------------------------------------------------

def parse_sweep(text):
    rows = []
    for line in text.splitlines():
        m = re.match(r"\s*(\d+)\s+([\d.]+) us\s+([\d.]+)\s+([\d.]+)\s+(\d+)\s*$", line)
        if m:
            rows.append((int(m.group(1)), float(m.group(2)) * 1e-6, float(m.group(4)) * 1e9))
    return rows


def parse_overlap(text):
    m = re.search(r"(\d+) buckets? of the ([\d.]+) MB gradient \| step ([\d.]+) s \(median\) \| waited for after the "
                  r"backward pass ([\d.]+) s per step \| the buckets' allreduces alone ([\d.]+) s", text)
    if not m:
        return None
    return dict(buckets=int(m.group(1)), gradient=float(m.group(2)) * 1e6, step=float(m.group(3)),
                exposed=float(m.group(4)), alone=float(m.group(5)))


def check(directory):
    results = {}
    for path in sorted(glob.glob(os.path.join(directory, "allreduce-*.log"))):
        m = re.search(r"allreduce-(\d+)n-(\w+)\.log$", path)
        nodes, rate = int(m.group(1)), m.group(2)
        with open(path) as f:
            text = f.read()
        results[(nodes, rate)] = (parse_sweep(text), parse_overlap(text))
    if not results:
        sys.exit(f"no allreduce-*.log in {directory}")
    print("| nodes | link | alpha (4 KB / hops) | bus bandwidth | allreduce of G: measured / model | hidden (measured) "
          "| step: measured / model |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for (nodes, rate), (sweep, overlap) in sorted(results.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        small_t = sweep[0][1]
        big_bytes, big_t, busbw = sweep[-1]
        alpha = small_t / (2 * (nodes - 1))
        # The model's inputs come from the 2-node run at the same rate: alpha, B, and the
        # hidden share h. The compute time C is this run's own (step - waited), because the
        # emulated nodes share this machine's two cores: 4 ranks compute at half speed.
        two = results.get((2, rate))
        if not two or not overlap or not two[1]:
            continue
        a2, b2 = two[0][0][1] / 2, two[0][-1][2]
        h2 = max(0.0, min(1.0, 1 - two[1]["exposed"] / two[1]["alone"]))
        model_allreduce = ring_seconds(nodes, big_bytes, b2, a2)
        compute = overlap["step"] - overlap["exposed"]
        model_step = compute + exposed_seconds(model_allreduce, h2, zero=False)
        hidden = max(0.0, 1 - overlap["exposed"] / overlap["alone"])
        print(f"| {nodes} | {rate} | {alpha * 1e6:.0f} us | {busbw / 1e9:.3f} GB/s | {big_t:.3f} s / "
              f"{model_allreduce:.3f} s | {100 * hidden:.0f}% | {overlap['step']:.2f} s / {model_step:.2f} s |")


# ---- project -------------------------------------------------------------------------------

MODELS = {
    # hidden, layers, heads, kv heads, ffn, vocab, tied embeddings (config.json of the Hub)
    "Qwen2.5-Math-1.5B": dict(hidden=1536, layers=28, heads=12, kv=2, ffn=8960, vocab=151936, tied=True),
    "Qwen2.5-Math-7B": dict(hidden=3584, layers=28, heads=28, kv=4, ffn=18944, vocab=152064, tied=False),
}
# Measured on this machine class (docs/PERFORMANCE.md, qwen05b, 2 threads, AVX-512 host):
# achieved training GFLOP/s per core. fp32 90% of a ~200 GFLOP/s sgemm; bf16 65% of a ~430
# GFLOP/s bf16 matmul. A node is assumed to reach the same per core (an upper bound).
PER_CORE_FLOPS = {"fp32": 91e9, "bf16": 140e9}
STEPS, SEQUENCES, LENGTH = 390, 256, 2048   # the paper's recipe (PAPER.md), rows packed full


def counts(m):
    h, hd = m["hidden"], m["hidden"] // m["heads"]
    kv = m["kv"] * hd
    per_layer = h * h + 2 * h * kv + h * h + 3 * h * m["ffn"]           # q, k, v, o, gate/up/down
    biases = h + 2 * kv                                                 # Qwen2's q/k/v biases
    norms = 2 * h
    embedding = m["vocab"] * h
    head = 0 if m["tied"] else m["vocab"] * h
    params = m["layers"] * (per_layer + biases + norms) + h + embedding + head
    matmul = m["layers"] * per_layer + m["vocab"] * h                   # the LM head is a product
    return params, matmul, hd


def project():
    print(f"Paper recipe: {STEPS} steps x {SEQUENCES} rows x {LENGTH} tokens (packed), AdamW; one rank per node,")
    print("all its cores; --recompute full. Per-core rates measured here (fp32 91, bf16 140 GFLOP/s).")
    print()
    print("| model | node | precision | nodes | step compute | allreduce at 10 / 100 Gbit/s | memory per rank (ZeRO-1 off / on) "
          "| bandwidth for 90% | 390 steps |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, m in MODELS.items():
        params, matmul, hd = counts(m)
        flops_per_token = 6 * matmul + 6 * m["layers"] * m["heads"] * hd * LENGTH
        gradient = 4 * params
        for cores in (32, 64):
            for precision in ("fp32", "bf16"):
                node_rate = cores * PER_CORE_FLOPS[precision]
                for nodes in (8, 16, 32, 64):
                    tokens = SEQUENCES * LENGTH / nodes
                    compute = tokens * flops_per_token / node_rate
                    a10 = ring_seconds(nodes, gradient, 10e9 / 8 * 0.9, 25e-6)
                    a100 = ring_seconds(nodes, gradient, 100e9 / 8 * 0.9, 5e-6)
                    # fp32 masters and gradients (8 B), AdamW moments (8 B, / nodes with ZeRO-1),
                    # bf16 copies of the products' weights (2 B x matmul parameters),
                    # activations with full recomputation: each layer's input for one row of
                    # LENGTH tokens plus one layer's working set and the logits of a chunk.
                    bf16_copy = 2 * matmul if precision == "bf16" else 0
                    activations = 4 * LENGTH * (m["layers"] * m["hidden"] + 12 * m["hidden"] + 4 * m["ffn"]) \
                        + 4 * 512 * m["vocab"]
                    plain = 8 * params + 8 * params + bf16_copy + activations
                    zero = 8 * params + 8 * params / nodes + bf16_copy + activations
                    # 90% efficiency: exposed <= C / 9, so the allreduce may take C / (9 (1 - h)).
                    allowed = compute / (9 * (1 - PLANNING_HIDDEN))
                    need = 2 * (nodes - 1) / nodes * gradient / allowed * 8 / 0.9   # bit/s of link
                    step = compute + exposed_seconds(a10, PLANNING_HIDDEN, zero=False)
                    print(f"| {name} | {cores} cores | {precision} | {nodes} | {compute:.0f} s | {a10:.1f} / {a100:.2f} s "
                          f"| {plain / 1e9:.0f} / {zero / 1e9:.0f} GB | {need / 1e9:.1f} Gbit/s | "
                          f"{STEPS * step / 3600:.1f} h at 10 Gbit/s |")


if __name__ == "__main__":
    if len(sys.argv) >= 2 and sys.argv[1] == "check" and len(sys.argv) == 3:
        check(sys.argv[2])
    elif len(sys.argv) == 2 and sys.argv[1] == "project":
        project()
    else:
        sys.exit(__doc__)
