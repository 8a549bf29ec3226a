#!/usr/bin/python3
"""Compares two training runs by their --debug-dump files (per-step metrics and the final flat
parameters) with the tolerance of the Swift suite's rank-count equivalence tests
(Tests/IntegrationTests/Support/DebugDump.swift): the same trained tokens per step, the
objective, nll and mean_p within 1e-5 relative, the final parameters within 1e-5 x the
reference's largest |parameter|.

    compare-runs.py REFERENCE.json RUN.json [--label TEXT] [--identical]

A resumed run's dump holds only the steps it ran: they are compared with the reference's last
steps. --identical asks for bit-identical metrics and parameters instead. Exit code 0 when the
runs agree, 1 otherwise; one line either way.
"""
import argparse
import json
import sys

METRIC_TOLERANCE = 1e-5
PARAMETER_TOLERANCE = 1e-5


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("reference")
    parser.add_argument("run")
    parser.add_argument("--label", default="")
    parser.add_argument("--identical", action="store_true")
    args = parser.parse_args()
    with open(args.reference) as f:
        ref = json.load(f)
    with open(args.run) as f:
        run = json.load(f)
    label = args.label or args.run
    problems = []
    steps = len(run["objective"])
    if steps == 0 or steps > len(ref["objective"]):
        problems.append(f"{steps} steps against the reference's {len(ref['objective'])}")
    tail = slice(len(ref["objective"]) - steps, None)
    if run["tokens"] != ref["tokens"][tail]:
        problems.append("trained tokens per step differ")
    worst_metric = 0.0
    for key in ("objective", "nll", "mean_p"):
        for a, b in zip(run[key], ref[key][tail]):
            if a is None or b is None:
                problems.append(f"{key} not finite")
                continue
            rel = abs(a - b) / abs(b) if b != 0 else abs(a)
            worst_metric = max(worst_metric, rel)
            if (args.identical and a != b) or rel > METRIC_TOLERANCE:
                problems.append(f"{key} {a} vs {b}")
                break
    a, b = run["parameters"], ref["parameters"]
    if len(a) != len(b):
        problems.append(f"{len(a)} parameters against {len(b)}")
        worst, allowed = float("inf"), 0.0
    else:
        worst = max(abs(x - y) for x, y in zip(a, b))
        scale = max(abs(y) for y in b)
        allowed = 0.0 if args.identical else PARAMETER_TOLERANCE * scale
        if worst > allowed:
            problems.append(f"parameters differ by up to {worst:.3g}, allowed {allowed:.3g}")
    verdict = "identical" if worst == 0 and worst_metric == 0 else "equivalent"
    if problems:
        print(f"{label}: differs from the reference: {'; '.join(problems)}")
        return 1
    print(f"{label}: {verdict} to the reference over {steps} steps "
          f"(metrics within {worst_metric:.2g} relative, parameters within {worst:.2g}, allowed {allowed:.2g})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
