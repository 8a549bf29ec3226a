#!/usr/bin/env python3
"""Draws the pictures of one or more training runs: report.py RUN_DIR... --out DIR

Reads each run's OUT/metrics.h5 (and OUT/config.yaml for its objective) and writes to DIR:

  curves.png      the objective, NLL and mean target probability against the step, one line
                  per run (the per-step rows of metrics.h5);
  heldout.png     held-out NLL and generation accuracy (avg@n, eval_generate) against the
                  steps done, when the runs evaluated held-out data;
  histograms.png  the paper's diagnostic: the histogram of target-token probabilities before
                  and after fine-tuning, one panel per run side by side (SFT beside DFT shows
                  DFT's bimodal shape). From the held-out evaluations (first and last
                  eval_p_histogram row) when there are any, else from the training tokens of
                  the first and last log interval (p_histogram);
  index.html      one page showing the three with a table of the runs.

Needs Debian's python3-h5py, python3-numpy and python3-matplotlib (scripts/setup.sh
installs them). metrics.h5 is opened in HDF5's SWMR mode, so a running job can be drawn.
"""
import argparse
import html
import math
import os
import sys

import h5py
import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


class Run:
    """One run directory: its label, objective and the columns of its metrics.h5."""

    def __init__(self, directory):
        self.directory = directory
        path = os.path.join(directory, "metrics.h5")
        if not os.path.isfile(path):
            sys.exit(f"report: {directory}: no metrics.h5 (expected a dft-mpi train --out directory)")
        self.objective = "?"
        config = os.path.join(directory, "config.yaml")
        if os.path.isfile(config):
            for line in open(config, encoding="utf-8"):
                if line.startswith("objective:"):
                    self.objective = line.split(":", 1)[1].strip()
        name = os.path.basename(os.path.normpath(directory))
        self.label = name if name == self.objective else f"{name} ({self.objective})"
        with h5py.File(path, "r", swmr=True) as f:
            def column(name):
                return np.array(f[name][...], dtype=float) if name in f else np.array([])
            self.step = column("step")
            self.values = {name: column(name) for name in ["objective", "nll", "mean_p"]}
            self.eval_step = column("eval_step")
            self.eval_nll = column("eval_nll")
            self.eval_accuracy = column("eval_accuracy")
            self.histogram = np.array(f["p_histogram"][...]) if "p_histogram" in f else np.zeros((0, 0))
            self.histogram_step = column("p_histogram_step")
            self.eval_histogram = np.array(f["eval_p_histogram"][...]) if "eval_p_histogram" in f else np.zeros((0, 0))
        if self.step.size == 0:
            sys.exit(f"report: {path}: no training rows yet")

    def has_accuracy(self):
        return self.eval_accuracy.size > 0 and not np.all(np.isnan(self.eval_accuracy))

    def before_after(self):
        """(before, after, what) target-probability counts, or None."""
        if self.eval_histogram.shape[0] >= 2:
            return (self.eval_histogram[0], self.eval_histogram[-1],
                    f"held-out tokens, before training and after step {int(self.eval_step[-1])}")
        if self.histogram.shape[0] >= 2:
            return (self.histogram[0], self.histogram[-1],
                    f"training tokens, steps 1-{int(self.histogram_step[0])} and up to step {int(self.histogram_step[-1])}")
        return None


def curves(runs, out):
    figure, axes = plt.subplots(1, 3, figsize=(15, 4))
    for axis, (name, title) in zip(axes, [("objective", "objective"), ("nll", "NLL (mean -log p)"),
                                          ("mean_p", "mean target probability")]):
        for run in runs:
            axis.plot(run.step + 1, run.values[name], label=run.label, linewidth=1.2)
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(os.path.join(out, "curves.png"), dpi=110)
    plt.close(figure)


def heldout(runs, out):
    evaluated = [r for r in runs if r.eval_step.size > 0]
    if not evaluated:
        return False
    with_accuracy = any(r.has_accuracy() for r in evaluated)
    figure, axes = plt.subplots(1, 2 if with_accuracy else 1, figsize=(11 if with_accuracy else 6, 4), squeeze=False)
    for run in evaluated:
        axes[0][0].plot(run.eval_step, run.eval_nll, marker="o", label=run.label)
        if with_accuracy and run.has_accuracy():
            axes[0][1].plot(run.eval_step, 100 * run.eval_accuracy, marker="o", label=run.label)
    axes[0][0].set_title("held-out NLL")
    axes[0][0].set_xlabel("steps done")
    axes[0][0].grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    if with_accuracy:
        axes[0][1].set_title("held-out accuracy (avg@n, %)")
        axes[0][1].set_xlabel("steps done")
        axes[0][1].grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(os.path.join(out, "heldout.png"), dpi=110)
    plt.close(figure)
    return True


def histograms(runs, out):
    drawn = [(r, r.before_after()) for r in runs]
    drawn = [(r, h) for r, h in drawn if h is not None]
    if not drawn:
        return False
    figure, axes = plt.subplots(1, len(drawn), figsize=(5 * len(drawn), 4), squeeze=False)
    for axis, (run, (before, after, what)) in zip(axes[0], drawn):
        bins = before.size
        edges = np.linspace(0, 1, bins + 1)
        for counts, label, style in [(before, "before", "--"), (after, "after", "-")]:
            total = max(1, counts.sum())
            axis.stairs(counts / total, edges, label=label, linestyle=style, linewidth=1.5)
        axis.set_yscale("log")
        axis.set_title(f"{run.label}\n{what}", fontsize=9)
        axis.set_xlabel("target-token probability p")
        axis.set_ylabel("fraction of tokens")
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(os.path.join(out, "histograms.png"), dpi=110)
    plt.close(figure)
    return True


def number(x, digits=4):
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def page(runs, out, pictures):
    rows = []
    for r in runs:
        accuracy = "-"
        if r.has_accuracy():
            accuracy = f"{100 * r.eval_accuracy[0]:.1f}% &rarr; {100 * r.eval_accuracy[-1]:.1f}%"
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in [
            html.escape(r.directory), html.escape(r.objective), str(int(r.step[-1]) + 1),
            f"{number(r.values['nll'][0])} &rarr; {number(r.values['nll'][-1])}",
            f"{number(r.values['mean_p'][0])} &rarr; {number(r.values['mean_p'][-1])}", accuracy]) + "</tr>")
    images = "\n".join(f'<h2>{html.escape(title)}</h2>\n<img src="{name}" alt="{html.escape(title)}">'
                       for name, title in pictures)
    text = f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>dft-mpi report</title>
<style>body {{ font-family: sans-serif; margin: 2em; }} table {{ border-collapse: collapse; }}
td, th {{ border: 1px solid #ccc; padding: 4px 8px; }} img {{ max-width: 100%; }}</style></head>
<body><h1>dft-mpi report</h1>
<table><tr><th>run</th><th>objective</th><th>steps</th><th>NLL (first &rarr; last step)</th>
<th>mean p</th><th>held-out accuracy (first &rarr; last evaluation)</th></tr>
{chr(10).join(rows)}
</table>
{images}
</body></html>
"""
    with open(os.path.join(out, "index.html"), "w", encoding="utf-8") as f:
        f.write(text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", help="dft-mpi train --out directories")
    parser.add_argument("--out", required=True, help="directory for the PNG files and index.html")
    args = parser.parse_args()
    runs = [Run(d) for d in args.runs]
    os.makedirs(args.out, exist_ok=True)
    pictures = [("curves.png", "Training curves")]
    curves(runs, args.out)
    if heldout(runs, args.out):
        pictures.append(("heldout.png", "Held-out NLL and accuracy"))
    if histograms(runs, args.out):
        pictures.append(("histograms.png", "Target-token probabilities before and after fine-tuning"))
    page(runs, args.out, pictures)
    print(f"report: {len(runs)} run(s) -> {os.path.join(args.out, 'index.html')} "
          f"({', '.join(name for name, _ in pictures)})")


if __name__ == "__main__":
    main()
