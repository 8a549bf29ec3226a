#!/usr/bin/env python3
"""PyTorch CPU eager training on the shapes of `dft-mpi bench`: the reference that dft-mpi's
training tokens/s is compared with (shared/BASELINES.md, "What a user would pick instead"), in
fp32 and under PyTorch's standard CPU mixed precision, torch.autocast("cpu", dtype=torch.bfloat16).

What it measures: the wall time of whole optimizer steps (zero_grad, forward, DFT loss,
backward, gradient clipping, AdamW step) of a randomly initialised Qwen2ForCausalLM on random
tokens, after untimed warm-up steps, and from it tokens/s, seconds per step and achieved GFLOP/s.

How it matches dft-mpi's benchmark (Sources/DFTJobs/Bench/Benchmark.swift; keep in step with it):
  shapes     the tiny, small and qwen05b presets of Sources/DFTModel/ModelPresets.swift
             (hidden / layers / heads / kv heads / ffn / vocabulary, head_dim = hidden / heads,
             q/k/v bias, no o_proj bias, head tied to the embedding, rope_theta 1e6,
             rms_norm_eps 1e-6, initializer_range 0.02, max positions 4096, 32768 for qwen05b),
             fp32 weights, and Benchmark.shapes' batches: tiny 4 x 256, small 2 x 512,
             qwen05b 1 x 512 (--length replaces the row length, as `dft-mpi bench --length`).
  data       RandomTokens (Sources/DFTJobs/Bench/RandomTokens.swift) ported exactly: example i
             draws its ids from SplitMix64(seed + i * 0x9E3779B9) as next() % vocab, data seed 7
             as Benchmark.prepare uses; every row is full (no padding); the loss mask is 0 on
             the first length // 4 tokens and 1 on the rest. Masks follow the Hugging Face
             labels convention (Sources/DFTData/Example.swift): position t predicts token t + 1
             when mask[t + 1] is 1, so length - length // 4 predictions per row are trained
             (192 of 256, 384 of 512). Rows are taken in example order (dft-mpi's loader may
             order them otherwise; the ids are random either way).
  loss       DFT: mean over the step's trained tokens of -p.detach() * log p, log p from
             log_softmax in fp32 of the logits cast to fp32 (dft-mpi's default objective and
             its `global` normalisation; one micro-batch, one rank).
  optimizer  torch.optim.AdamW, lr 1e-5 (the benchmark's lr; kept constant here, where dft-mpi
             follows its cosine schedule from 1e-5: no effect on time), betas 0.9 / 0.95,
             eps 1e-8, weight decay 0.01 on the 2-D weights only (dft-mpi's
             ParameterLayout.Entry.decays, as Hugging Face's Trainer: no decay on biases and
             norms), torch's default implementation for CPU tensors (the per-tensor loop: not
             foreach, not fused, which is what a user gets without asking); one step per batch
             after torch.nn.utils.clip_grad_norm_(..., 1.0) (dft-mpi's default clip).
  precision  fp32: everything fp32. bf16: forward and loss under
             torch.autocast("cpu", dtype=torch.bfloat16) with fp32 master weights, fp32
             gradients and fp32 AdamW (autocast runs the linears, the LM head included, in bf16
             and the attention in bf16 too: scaled_dot_product_attention whole under sdpa, the
             two bmm's under eager; the embedding, norms, RoPE and the residual stream stay fp32;
             the bf16 logits are cast to fp32 before log_softmax). dft-mpi's --precision bf16
             likewise computes only the products in bf16 (oneDNN) and keeps the rest fp32.
  attention  attn_implementation left to transformers: it picks "sdpa"
             (torch.nn.functional.scaled_dot_product_attention) for Qwen2 on CPU, which is what
             a user's training script runs; the line printed names it. --attention eager forces
             the explicit matmul-softmax-matmul path for a comparison.
  tokens     tokens/s counts every input token of the batch (rows x length per step), as
             dft-mpi counts StepMetrics.inputTokens (every slot with a segment, here all), not
             the 3/4 that are trained; tokens/s = timed tokens / timed seconds, i.e.
             rows x length / the mean step time, as Benchmark.result computes it.
  FLOPs      Benchmark.flopsPerToken ported exactly: 6 x matmul parameters (every 2-D weight,
             the tied head counted once: layers x (h x (heads + 2 kv heads) x head_dim +
             heads x head_dim x h + 3 h ffn) + vocab x h) + 6 x layers x heads x head_dim x length;
             achieved GFLOP/s = tokens/s x that. Biases, norms, RoPE, softmax and the loss are
             not counted, in either program.
  memory     peak RSS from resource.getrusage(RUSAGE_SELF).ru_maxrss, read after the warm-up
             steps, as dft-mpi reads its own (and again at the end).
  not here   dft-mpi's sgemm / bf16-matmul rate and MFU: compare the GFLOP/s with the rate
             `dft-mpi bench` prints in the same period on the same host.

Run it in a venv with torch and transformers (scripts/fixtures/requirements.txt lists the
versions; a CPU-only torch wheel is enough; on the reference machine /tmp/fixtures-venv has
torch 2.13.0+cpu and transformers 5.24.0), on a quiet machine, with the thread count that
dft-mpi's run used:

    /tmp/fixtures-venv/bin/python scripts/bench/pytorch_train.py --shape small --precision fp32 \\
        [--steps 5] [--warmup 1] [--threads 2] [--seed 1] [--data-seed 7] [--length N] \\
        [--attention sdpa|eager]

CI does not run this script (it needs Python, torch and transformers; dft-mpi does not).
"""

import argparse
import platform
import resource
import statistics
import time

import torch
import torch.nn.functional as F
import transformers
from transformers import Qwen2Config, Qwen2ForCausalLM

# The presets of Sources/DFTModel/ModelPresets.swift (ModelPresets.qwen2 fills the rest:
# rms_norm_eps 1e-6, rope_theta 1e6, attention bias, tied embeddings, initializer_range 0.02,
# max positions 4096 unless given). Keep in step with it.
PRESETS = {
    "tiny": dict(hidden=256, layers=4, heads=4, kv_heads=2, ffn=688, vocab=8192, max_positions=4096),
    "small": dict(hidden=512, layers=8, heads=8, kv_heads=2, ffn=1408, vocab=32000, max_positions=4096),
    "qwen05b": dict(hidden=896, layers=24, heads=14, kv_heads=2, ffn=4864, vocab=151_936, max_positions=32768),
}

# Benchmark.shapes of Sources/DFTJobs/Bench/Benchmark.swift: rows x tokens per row.
SHAPES = {"tiny": (4, 256), "small": (2, 512), "qwen05b": (1, 512)}

LR, BETAS, EPS, WEIGHT_DECAY, CLIP = 1e-5, (0.9, 0.95), 1e-8, 0.01, 1.0
MASK64 = (1 << 64) - 1


def qwen2_config(p):
    return Qwen2Config(hidden_size=p["hidden"], num_hidden_layers=p["layers"], num_attention_heads=p["heads"],
                       num_key_value_heads=p["kv_heads"], intermediate_size=p["ffn"], vocab_size=p["vocab"],
                       max_position_embeddings=p["max_positions"], rms_norm_eps=1e-6, rope_theta=1_000_000.0,
                       tie_word_embeddings=True, initializer_range=0.02, attention_dropout=0.0,
                       use_sliding_window=False, use_cache=False)


def matmul_parameters(p):
    """ModelConfig.matmulParameters: every 2-D weight, the LM head counted once even when tied."""
    h, d = p["hidden"], p["hidden"] // p["heads"]
    attention = h * (p["heads"] + 2 * p["kv_heads"]) * d + p["heads"] * d * h
    mlp = 3 * h * p["ffn"]
    return p["layers"] * (attention + mlp) + p["vocab"] * h


def flops_per_token(p, length):
    """Benchmark.flopsPerToken: 6 x matmul parameters plus causal attention,
    6 x layers x heads x head_dim x length."""
    d = p["hidden"] // p["heads"]
    return 6.0 * matmul_parameters(p) + 6.0 * (p["layers"] * p["heads"] * d * length)


class SplitMix64:
    """Sources/DFTCore/SplitMix64.swift."""

    def __init__(self, seed):
        self.state = seed & MASK64

    def next(self):
        self.state = (self.state + 0x9E3779B97F4A7C15) & MASK64
        z = self.state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)


def random_tokens(index, vocab, length, seed):
    """RandomTokens.example(at:): the ids and the loss mask of example `index`."""
    rng = SplitMix64((seed + ((index * 0x9E3779B9) & MASK64)) & MASK64)
    tokens = [rng.next() % vocab for _ in range(length)]
    prompt = length // 4
    return tokens, [1 if t >= prompt else 0 for t in range(length)]


def batches(count, rows, vocab, length, seed):
    """`count` batches of `rows` consecutive examples: input ids [rows, length], and the targets
    and the trained flags of positions 0..<length-1 (position t predicts token t + 1)."""
    out = []
    for b in range(count):
        examples = [random_tokens(b * rows + r, vocab, length, seed) for r in range(rows)]
        ids = torch.tensor([e[0] for e in examples], dtype=torch.long)
        mask = torch.tensor([e[1] for e in examples], dtype=torch.bool)
        out.append((ids, ids[:, 1:].contiguous(), mask[:, 1:].contiguous()))
    return out


def dft_loss(logits, targets, trained):
    """Mean over the trained tokens of -p.detach() * log p, in fp32."""
    logp = F.log_softmax(logits[:, :-1].float(), dim=-1, dtype=torch.float32)
    target_logp = logp.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    assert target_logp.dtype == torch.float32, target_logp.dtype
    weight = target_logp.detach().exp()
    per_token = -weight * target_logp
    return per_token.masked_select(trained).sum() / trained.sum()


def train_step(model, optimizer, parameters, batch, bf16):
    """One optimizer step; returns its wall seconds and the loss."""
    ids, targets, trained = batch
    start = time.perf_counter()
    optimizer.zero_grad(set_to_none=True)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(input_ids=ids, use_cache=False).logits
        loss = dft_loss(logits, targets, trained)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(parameters, CLIP)
    optimizer.step()
    return time.perf_counter() - start, loss.item()


def adamw_kernel(parameters):
    """Which AdamW implementation torch's defaults (foreach=None, fused=None) pick for these tensors."""
    import torch.optim.optimizer as optimizer_module  # noqa: PLC0415 - private helper, looked up lazily

    choose = getattr(optimizer_module, "_default_to_fused_or_foreach", None)
    if choose is None:
        return "torch default"
    fused, foreach = choose(parameters, differentiable=False, use_fused=False)
    return "fused" if fused else "foreach" if foreach else "per-tensor loop (torch default)"


def peak_rss_bytes():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB


def cpu_bf16_description():
    """What the CPU and torch report about bf16 (private torch.cpu probes where they exist)."""
    parts = []
    get_capability = getattr(torch.backends.cpu, "get_cpu_capability", None)
    parts.append(f"cpu capability {get_capability() if get_capability else 'n/a'}")
    for label, name in (("avx512_bf16", "_is_avx512_bf16_supported"), ("amx", "_is_amx_tile_supported")):
        probe = getattr(torch.cpu, name, None)
        parts.append(f"{label} {probe() if probe else 'n/a'}")
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    try:
        parts.append(f"mkldnn bf16 {probe() if probe else 'n/a'}")
    except Exception:  # noqa: BLE001 - an absent op raises on call in some builds
        parts.append("mkldnn bf16 n/a")
    return ", ".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shape", choices=sorted(SHAPES), default="tiny")
    parser.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    parser.add_argument("--steps", type=int, default=5, help="timed steps")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps before them")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--seed", type=int, default=1, help="weights (dft-mpi's RandomInitialization uses 1)")
    parser.add_argument("--data-seed", type=int, default=7, help="RandomTokens' seed (Benchmark uses 7)")
    parser.add_argument("--length", type=int, default=None, help="tokens per row instead of the shape's")
    parser.add_argument("--attention", choices=["sdpa", "eager"], default=None,
                        help="attn_implementation (default: what transformers picks, sdpa)")
    args = parser.parse_args()
    if args.steps < 1 or args.warmup < 0 or args.threads < 1:
        parser.error("--steps and --threads must be at least 1, --warmup non-negative")

    torch.set_num_threads(args.threads)
    preset = PRESETS[args.shape]
    rows, length = SHAPES[args.shape]
    length = args.length or length
    if length < 2:
        parser.error("--length must be at least 2")
    bf16 = args.precision == "bf16"

    torch.manual_seed(args.seed)
    config = qwen2_config(preset)
    if args.attention:
        config._attn_implementation = args.attention
    model = Qwen2ForCausalLM(config).to(torch.float32).train()
    parameters = [p for p in model.parameters() if p.requires_grad]  # the tied weight once
    two_d = sum(p.numel() for p in parameters if p.ndim >= 2)
    assert two_d == matmul_parameters(preset), (two_d, matmul_parameters(preset))
    optimizer = torch.optim.AdamW(
        [{"params": [p for p in parameters if p.ndim >= 2], "weight_decay": WEIGHT_DECAY},
         {"params": [p for p in parameters if p.ndim < 2], "weight_decay": 0.0}],
        lr=LR, betas=BETAS, eps=EPS)

    data = batches(args.warmup + args.steps, rows, preset["vocab"], length, args.data_seed)
    for batch in data[:args.warmup]:
        train_step(model, optimizer, parameters, batch, bf16)
    rss_ready = peak_rss_bytes()
    seconds, losses = [], []
    for batch in data[args.warmup:]:
        s, loss = train_step(model, optimizer, parameters, batch, bf16)
        seconds.append(s)
        losses.append(loss)
    rss_end = peak_rss_bytes()

    tokens = rows * length * args.steps                 # every input token, as dft-mpi counts
    trained = rows * (length - length // 4)             # per step
    total = sum(seconds)
    rate = tokens / total
    per_token = flops_per_token(preset, length)
    print(f"pytorch bench {args.shape}: {rows} x {length} | {torch.get_num_threads()} thread(s) | {args.precision} "
          f"| {rate:.1f} tokens/s | {total / args.steps:.3f} s/step (median {statistics.median(seconds):.3f}) "
          f"| {rate * per_token / 1e9:.1f} GFLOP/s achieved ({per_token / 1e9:.3f} GFLOP/token) "
          f"| peak RSS {rss_ready / 1e9:.2f} GB after warm-up, {rss_end / 1e9:.2f} GB at the end "
          f"| {trained} trained tokens/step | loss {losses[0]:.6g} -> {losses[-1]:.6g}")
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, python {platform.python_version()} "
          f"| attention {model.config._attn_implementation} | AdamW {adamw_kernel(parameters)} "
          f"| mkldnn available {torch.backends.mkldnn.is_available()} | {cpu_bf16_description()} "
          f"| {args.warmup} warm-up + {args.steps} timed steps, step seconds "
          + " ".join(f"{s:.3f}" for s in seconds))


if __name__ == "__main__":
    main()
