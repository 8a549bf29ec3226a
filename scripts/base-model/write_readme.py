#!/usr/bin/env python3
"""Writes the README.md of the built-in base model from what build.sh measured.

    write_readme.py --model DIR --train-log LOG --sampled SUMMARY --greedy SUMMARY --minutes M --kernel K --command C

The accuracy table's rows are `| SET | DECODING | ACCURACY | ...`: the integration test reads
the greedy arith-heldout row back and checks the committed model against it.
"""
import argparse
import hashlib
import json
import os
import re


def scores(path):
    with open(path, encoding="utf-8") as f:
        summary = json.load(f)
    return summary, {os.path.splitext(os.path.basename(e["file"]))[0]: e for e in summary["files"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name in ("--model", "--train-log", "--sampled", "--greedy", "--minutes", "--kernel", "--command"):
        parser.add_argument(name, required=True)
    parser.add_argument("--rebuild-check", default="not yet checked by a second build",
                        help="what a second build of the same command gave")
    parser.add_argument("--time-note", default="", help="said after the build time (e.g. what else ran on the host)")
    parser.add_argument("--other-kernel", default="whose figures below may differ by a few points",
                        help="what a build with the other OpenBLAS kernel gave (ends the reproducibility item)")
    args = parser.parse_args()
    with open(os.path.join(args.model, "config.json"), encoding="utf-8") as f:
        config = json.load(f)
    with open(args.train_log, encoding="utf-8") as f:
        log = f.read()
    steps = re.findall(r"^step +(\d+)/(\d+) \| sft ([0-9.]+) .*?\| ([0-9]+) tok/s", log, re.M)
    last = steps[-1] if steps else ("?", "?", "?", "?")
    parameters = re.search(r"([0-9.]+M) parameters", log)
    corpus = re.search(r"pretrain\.jsonl: (\d+) examples \(text\), (\d+) tokens", log)
    with open(os.path.join(args.model, "model.safetensors"), "rb") as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    sampled, sampled_sets = scores(args.sampled)
    _, greedy_sets = scores(args.greedy)

    rows = []
    for name in ("heldout", "heldout-hard"):
        for label, entry in ((f"avg@{sampled['samples']}, temperature {sampled['temperature']:g}", sampled_sets[name]),
                             ("greedy", greedy_sets[name])):
            rows.append(f"| arith-{name} | {label} | {100 * entry['avg_at_n']:.1f}% | "
                        f"{entry['mean_completion_tokens']:.1f} | {100 * entry['length_limited_fraction']:.1f}% |")

    text = f"""# arith-base: the built-in base model of dft-mpi

A Qwen2-shaped decoder pretrained from scratch on a procedurally generated arithmetic corpus,
so that `dft-mpi train` has a base model with real priors to fine-tune on one machine in
minutes (the DFT paper's claim in miniature: docs/REPRODUCTION.md). It is an ordinary Hugging
Face directory: `transformers` loads it with `AutoModelForCausalLM.from_pretrained`.

- Shape: {config['num_hidden_layers']} layers, hidden {config['hidden_size']}, {config['num_attention_heads']} heads
  ({config['num_key_value_heads']} key/value heads), SwiGLU {config['intermediate_size']}, q/k/v bias, tied
  embeddings, vocabulary {config['vocab_size']}, {parameters.group(1) if parameters else '?'} parameters, stored
  in bf16; `<|endoftext|>` (id {config['eos_token_id']}) ends a text and pads.
- Tokenizer: a byte-level BPE with Qwen2's pre-tokenizer pattern (digits one by one), its
  merges learned from the corpus.
- model.safetensors sha256 `{digest}`.

## How it was made

`{args.command}` (scripts/base-model/): `make_corpus.py --seed 1` writes the corpus and the
tokenizer; `dft-mpi train --objective sft` trains every token of every document; `export`
writes this directory; `dft-mpi eval` measures the table below; `write_readme.py` writes
this page.

- Corpus: {corpus.group(1) if corpus else '?'} documents, {corpus.group(2) if corpus else '?'} tokens: arithmetic facts in
  four surface styles and number ranges (30%), and word problems of 1 to 3 steps under the
  fine-tuning prompt's framing (70%), three in four solved "a + b = c. ... The answer is N.",
  one in four step by step into `\\boxed{{N}}` as the fine-tuning data is: the base gives that
  format some probability without keeping to it. No held-out problem is in the corpus.
- Training: {last[1]} steps of 32 rows x 256 tokens (packed), 1.5 epochs, AdamW, lr 2e-3 cosine to
  2e-4, weight decay 0.1, seed 1; the last log interval's NLL {last[2]}.
- Time: {args.minutes} minutes for the whole build on 2 cores, 2 threads, OpenBLAS kernel
  {args.kernel} ({last[3]} tokens/s at the end).{(" " + args.time_note) if args.time_note else ""}
- Reproducibility: the corpus follows from the seed alone and the trainer is bit-deterministic
  for a given OpenBLAS kernel and thread count (tested), so the same command on a host with the
  same kernel should rebuild model.safetensors to the bit (the sha256 above; {args.rebuild_check}).
  Another kernel (AVX2 against AVX-512) rounds differently and gives a nearby model,
  {args.other_kernel}.

## What it scores

Prompts "Question: ...\\nAnswer:" (template `plain`; the answer starts with its own space), at most 96 new tokens, graded as
`dft-mpi eval` grades (the last `\\boxed{{}}`, else "the answer is", else the last number).
The fine-tuning data `arith-cot` (4000 demonstrations "Step 1: ... So the answer is
\\boxed{{N}}.") and both held-out sets are in `../arith-data/`; arith-heldout has 200 problems of
the fine-tuning distribution, arith-heldout-hard 200 problems of 3 steps each (the most any
training problem has), about two in three with a phrasing that appears nowhere in pretraining
or fine-tuning.

| set | decoding | accuracy | mean completion tokens | cut at 96 tokens |
| --- | --- | --- | --- | --- |
{chr(10).join(rows)}

Reproduce: `dft-mpi eval --model arith-base --data arith-heldout,arith-heldout-hard --template plain
--max-new-tokens 96 --samples 16 --temperature 1 --out DIR` (and `--samples 1 --temperature 0`).
"""
    path = os.path.join(args.model, "README.md")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"write_readme.py: {path}")


if __name__ == "__main__":
    main()
