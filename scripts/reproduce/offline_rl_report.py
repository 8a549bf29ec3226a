#!/usr/bin/env python3
"""Draws the pictures of scripts/reproduce-offline-rl.sh: offline_rl_report.py OUT --out DIR

Writes to DIR:

  rounds.png      accuracy by round: held-out and hard held-out, avg@n and greedy, for RFT and
                  DFT as offline RL (round 0 is the base), mean over seeds with 95% intervals;
                  SFT and DFT on the demonstrations as dashed levels;
  histograms.png  the target-token probabilities of the held-out demonstrations (arith-heldout's
                  responses) under each method's final model of the first seed (solid) and
                  under the base (dashed): DIR/scores-NAME.h5 from `dft-mpi score`.

Needs Debian's python3-h5py, python3-numpy and python3-matplotlib (scripts/setup.sh installs them).
"""
import argparse
import glob
import json
import math
import os
import re
import statistics

import h5py
import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571}
SETS = [("heldout", "held-out"), ("heldout-hard", "hard held-out")]
METHODS = [("rft", "RFT (SFT on kept answers)", "tab:blue"), ("dft-rl", "DFT on kept answers", "tab:red")]
REFERENCES = [("sft-demos", "SFT on demonstrations", "tab:cyan"), ("dft-demos", "DFT on demonstrations", "tab:orange")]


def accuracy(path, set_name):
    with open(path, encoding="utf-8") as f:
        summary = json.load(f)
    for entry in summary["files"]:
        if os.path.splitext(os.path.basename(entry["file"]))[0] == set_name:
            return 100 * entry["avg_at_n"]
    return None


def runs(out, name):
    """{seed: directory} of the evaluated runs OUT/NAME-lrLR-seedS."""
    found = {}
    for directory in glob.glob(os.path.join(out, f"{name}-lr*-seed*")):
        match = re.search(r"-seed(\d+)$", directory)
        if match:
            found[int(match.group(1))] = directory
    return found


def mean_interval(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    if len(values) < 2:
        return values[0], 0.0
    return statistics.fmean(values), T95.get(len(values) - 1, 1.96) * statistics.stdev(values) / math.sqrt(len(values))


def rounds_plot(out, path):
    figure, axes = plt.subplots(1, 4, figsize=(18, 4.2), sharex=True)
    panels = [(s, label, kind) for s, label in SETS for kind in ("sampled", "greedy")]
    for axis, (set_name, label, kind) in zip(axes, panels):
        base = os.path.join(out, "base", f"eval-{kind}", "summary.json")
        base_score = accuracy(base, set_name) if os.path.exists(base) else None
        for name, legend, color in METHODS:
            xs, ys, errors = [], [], []
            for round_ in (0, 1, 2):
                if round_ == 0:
                    m, h = base_score, 0.0
                else:
                    scores = [accuracy(os.path.join(d, f"eval-{kind}", "summary.json"), set_name)
                              for d in runs(out, f"{name}-round{round_}").values()
                              if os.path.exists(os.path.join(d, f"eval-{kind}", "summary.json"))]
                    m, h = mean_interval(scores)
                if m is not None:
                    xs.append(round_)
                    ys.append(m)
                    errors.append(h or 0.0)
            axis.errorbar(xs, ys, yerr=errors, marker="o", capsize=4, color=color, label=legend)
        for name, legend, color in REFERENCES:
            scores = [accuracy(os.path.join(d, f"eval-{kind}", "summary.json"), set_name) for d in runs(out, name).values()
                      if os.path.exists(os.path.join(d, f"eval-{kind}", "summary.json"))]
            m, _ = mean_interval(scores)
            if m is not None:
                axis.axhline(m, linestyle="--", color=color, label=legend)
        axis.set_title(f"{label}, {'avg@n (temperature 1)' if kind == 'sampled' else 'greedy'}")
        axis.set_xlabel("round (0: the base)")
        axis.set_xticks([0, 1, 2])
        axis.set_ylabel("accuracy %")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def probabilities(path):
    with h5py.File(path, "r") as f:
        return np.exp(np.asarray(f["logprobs"], dtype=np.float64))


def histograms_plot(directory, path):
    base_path = os.path.join(directory, "scores-base.h5")
    names = [(n, legend) for n, legend, _ in METHODS + REFERENCES if os.path.exists(os.path.join(directory, f"scores-{n}.h5"))]
    if not names or not os.path.exists(base_path):
        return False
    base = probabilities(base_path)
    bins = np.linspace(0, 1, 21)
    figure, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), sharey=True)
    axes = np.atleast_1d(axes)
    for axis, (name, legend) in zip(axes, names):
        after = probabilities(os.path.join(directory, f"scores-{name}.h5"))
        axis.hist(base, bins=bins, histtype="step", linestyle="--", color="gray", label="base", density=True)
        axis.hist(after, bins=bins, histtype="step", color="black", label="after", density=True)
        low = 100 * np.mean(after < 0.05)
        axis.set_title(f"{legend}\n{low:.1f}% of tokens below p = 0.05 (base {100 * np.mean(base < 0.05):.1f}%)", fontsize=9)
        axis.set_yscale("log")
        axis.set_xlabel("p(target token)")
    axes[0].set_ylabel("density (log scale)")
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out")
    parser.add_argument("--out", dest="directory", required=True)
    args = parser.parse_args()
    os.makedirs(args.directory, exist_ok=True)
    rounds_plot(args.out, os.path.join(args.directory, "rounds.png"))
    drew = histograms_plot(args.directory, os.path.join(args.directory, "histograms.png"))
    print(f"offline_rl_report.py: {args.directory}/rounds.png" + (", histograms.png" if drew else ""))


if __name__ == "__main__":
    main()
