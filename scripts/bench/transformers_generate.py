#!/usr/bin/env python3
"""Measures transformers' CPU `generate` on the `small` benchmark shape: the reference that
`dft-mpi bench --shape small --decode` is compared with (shared/BASELINES.md, "Decoding
references").

A Qwen2ForCausalLM of the `small` shape of Sources/DFTModel/ModelPresets.swift (hidden 512,
8 layers, 8 heads, 2 kv heads, intermediate 1408, vocabulary 32000, q/k/v bias, head tied to
the embedding, rope_theta 1e6, rms_norm_eps 1e-6) is built from a config with random weights,
fp32. For each batch, prompts of random ids are decoded greedily with the KV cache
(do_sample=False, use_cache=True) for exactly --new-tokens tokens: EOS is disabled
(eos_token_id=None, min_new_tokens = max_new_tokens), every prompt has the same length, so no
padding. One untimed warm-up generate precedes the measurements.

Prints per batch:
  generate   new tokens of the batch / seconds of the whole generate call (prefill included),
             the figure shared/BASELINES.md quotes;
  prefill    batch x prompt tokens / seconds of a generate of one new token;
  decode     batch x (new tokens - 1) / (generate seconds - prefill seconds): the decode
             steps alone, comparable with `bench --decode`'s decode tokens/s.

    /root/venv-fx/bin/python scripts/bench/transformers_generate.py [--batches 1 16] [--threads 2]
"""

import argparse
import time

import torch
import transformers
from transformers import Qwen2Config, Qwen2ForCausalLM

# The `small` preset of Sources/DFTModel/ModelPresets.swift; keep in step with it.
SMALL = dict(hidden_size=512, num_hidden_layers=8, num_attention_heads=8, num_key_value_heads=2,
             intermediate_size=1408, vocab_size=32000, tie_word_embeddings=True, rope_theta=1_000_000.0,
             rms_norm_eps=1e-6, max_position_embeddings=4096, initializer_range=0.02)


def generate_seconds(model, prompts, new_tokens):
    """Seconds of one greedy generate of exactly new_tokens tokens per prompt."""
    start = time.perf_counter()
    out = model.generate(prompts, attention_mask=torch.ones_like(prompts), do_sample=False, use_cache=True,
                         max_new_tokens=new_tokens, min_new_tokens=new_tokens, eos_token_id=None, pad_token_id=0)
    seconds = time.perf_counter() - start
    assert out.shape == (prompts.shape[0], prompts.shape[1] + new_tokens), out.shape
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--prompt-length", type=int, default=64)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    config = Qwen2Config(**SMALL)
    model = Qwen2ForCausalLM(config).to(torch.float32).eval()
    parameters = sum(p.numel() for p in model.parameters())  # tied head counted once
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, {torch.get_num_threads()} threads, "
          f"attention {model.config._attn_implementation}, {parameters / 1e6:.2f}M parameters "
          f"({4 * parameters / 1e6:.1f} MB fp32)")

    with torch.inference_mode():
        warm = torch.randint(0, config.vocab_size, (1, args.prompt_length))
        generate_seconds(model, warm, 8)
        for batch in args.batches:
            prompts = torch.randint(0, config.vocab_size, (batch, args.prompt_length))
            prefill = generate_seconds(model, prompts, 1)
            total = generate_seconds(model, prompts, args.new_tokens)
            print(f"transformers generate small: batch {batch} | prompt {args.prompt_length} + {args.new_tokens} new "
                  f"| generate {batch * args.new_tokens / total:.1f} tokens/s ({total:.2f} s) "
                  f"| prefill {batch * args.prompt_length / prefill:.1f} tokens/s "
                  f"| decode {batch * (args.new_tokens - 1) / (total - prefill):.1f} tokens/s")


if __name__ == "__main__":
    main()
