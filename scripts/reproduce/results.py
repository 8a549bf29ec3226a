#!/usr/bin/env python3
"""Writes the table of a reproduction grid: OUT/results.md from the runs under OUT.

    results.py OUT [--command "..."]

OUT holds base/ (the base model's evaluations) and one directory per fine-tuning run (or round) named
OBJECTIVE-lrLR-seedSEED (or OBJECTIVE-lrLR for a single seed), each with config.yaml and the evaluations eval-sampled/summary.json
(avg@n at temperature 1) and eval-greedy/summary.json (greedy accuracy), as
scripts/reproduce.sh and jobs/reproduce.sbatch write them. For every objective and learning
rate, each score is the mean over seeds with a 95% interval (Student's t over the seeds; no
interval for one seed). Standard library only.
"""
import argparse
import glob
import json
import math
import os
import re
import statistics
import sys

# Two-sided 95% quantiles of Student's t by degrees of freedom (n - 1 seeds).
T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228}
RUN = re.compile(r"^(?P<objective>[a-z][a-z0-9-]*)-lr(?P<lr>[0-9.e+-]+?)(-seed(?P<seed>\d+))?$")
SETS = [("heldout", "held-out (fine-tuning distribution)"), ("heldout-hard", "harder held-out (3 steps, unseen phrasings)")]


def read_summary(path):
    """{set name: scores} of one eval summary.json, keyed by the file's base name."""
    with open(path, encoding="utf-8") as f:
        summary = json.load(f)
    scores = {}
    for entry in summary["files"]:
        name = os.path.splitext(os.path.basename(entry["file"]))[0]
        scores[name] = entry
    return summary, scores


def interval(values):
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, None
    half = T95.get(len(values) - 1, 1.96) * statistics.stdev(values) / math.sqrt(len(values))
    return mean, half


def cell(values, percent=True):
    if not values:
        return "-"
    scale = 100 if percent else 1
    mean, half = interval([v * scale for v in values])
    digits = 1
    return f"{mean:.{digits}f}" + ("" if half is None else f" ± {half:.{digits}f}")


def collect(out):
    runs = {}
    for directory in sorted(glob.glob(os.path.join(out, "*"))):
        name = os.path.basename(directory)
        match = RUN.match(name)
        if name == "base":
            key = ("base", "-")
        elif match:
            key = (match["objective"], match["lr"])
        else:
            continue
        entry = {}
        for kind in ("sampled", "greedy"):
            path = os.path.join(directory, f"eval-{kind}", "summary.json")
            if os.path.exists(path):
                entry[kind] = read_summary(path)
        if entry:
            runs.setdefault(key, []).append((name, entry))
    return runs


def table(runs, objectives_order):
    header = ["objective", "lr", "seeds"]
    for _, label in SETS:
        short = "held-out" if label.startswith("held-out") else "hard"
        header += [f"{short} avg@n", f"{short} greedy", f"{short} length", f"{short} no stop %"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]

    def order(key):
        objective, lr = key
        rank = objectives_order.index(objective) if objective in objectives_order else len(objectives_order)
        return (rank, -float(lr) if lr != "-" else 0)

    for key in sorted(runs, key=order):
        objective, lr = key
        entries = runs[key]
        row = [objective, lr, str(len(entries))]
        for set_name, _ in SETS:
            sampled = [e["sampled"][1][set_name] for _, e in entries if "sampled" in e and set_name in e["sampled"][1]]
            greedy = [e["greedy"][1][set_name] for _, e in entries if "greedy" in e and set_name in e["greedy"][1]]
            row.append(cell([s["avg_at_n"] for s in sampled]))
            row.append(cell([g["avg_at_n"] for g in greedy]))
            row.append(cell([s["mean_completion_tokens"] for s in sampled], percent=False))
            row.append(cell([s["length_limited_fraction"] for s in sampled]))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def settings(out):
    """The fine-tuning settings of the first run and the sampling of its evaluation."""
    for directory in sorted(glob.glob(os.path.join(out, "*-lr*"))):
        config = os.path.join(directory, "config.yaml")
        summary = os.path.join(directory, "eval-sampled", "summary.json")
        if os.path.exists(config) and os.path.exists(summary):
            keys = {}
            with open(config, encoding="utf-8") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    keys[key.strip()] = value.strip()
            with open(summary, encoding="utf-8") as f:
                sampling = json.load(f)
            return keys, sampling
    return None, None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--command", default="", help="the command that made OUT, quoted in the page")
    parser.add_argument("--objectives", default="base sft dft dft-clamp asft", help="row order")
    args = parser.parse_args()
    runs = collect(args.out)
    if not runs:
        sys.exit(f"results.py: no evaluated run under {args.out} (expected base/ and OBJECTIVE-lrLR-seedSEED/ "
                 "directories with eval-sampled/summary.json)")
    keys, sampling = settings(args.out)
    parts = ["# Results", ""]
    if args.command:
        parts += ["Command:", "", "```sh", args.command, "```", ""]
    if keys:
        parts += [
            "Fine-tuning: " + ", ".join(f"{k} {keys[k]}" for k in
                                       ["global_batch", "max_length", "packing", "epochs", "steps", "schedule",
                                        "warmup_ratio", "weight_decay", "clip", "beta2", "clamp_floor", "asft_lambda"]
                                       if k in keys) + "; every run the same data order for a given seed.",
            f"Evaluation: avg@{sampling['samples']} at temperature {sampling['temperature']}, top-p {sampling['top_p']}, "
            f"top-k {sampling['top_k']}, up to {sampling['max_new_tokens']} new tokens, template {sampling['template']}; "
            "greedy: one answer at temperature 0. Scores in %, mean over seeds ± the half-width of a 95% interval "
            "(Student's t); length: mean completion tokens; no stop: the share of sampled answers cut at the token limit.",
            "",
        ]
    parts += [table(runs, args.objectives.split()), ""]
    path = os.path.join(args.out, "results.md")
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        f.write("\n".join(parts))
    os.replace(path + ".tmp", path)
    print(f"results.py: {sum(len(v) for v in runs.values())} runs -> {path}")


if __name__ == "__main__":
    main()
