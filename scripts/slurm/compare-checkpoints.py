#!/usr/bin/python3
"""Compares the /model datasets of two dft-mpi checkpoints (and optionally the per-step rows
of two metrics files) and prints the largest differences.

    /usr/bin/python3 scripts/slurm/compare-checkpoints.py A.h5 B.h5 [--rtol R] [--metrics MA.h5 MB.h5]

Exit code 0 when every tensor is bit-identical, or, with --rtol, when every value is within
R relative to the larger magnitude of the pair (plus R absolute for values near zero);
1 otherwise. Needs h5py and numpy (Debian: python3-h5py python3-numpy, hence /usr/bin/python3).
"""
import argparse
import sys

import h5py
import numpy as np


def compare_arrays(a, b, rtol):
    """Returns (bitwise equal, max abs difference, max relative difference, within rtol)."""
    if a.shape != b.shape:
        return False, float("inf"), float("inf"), False
    x = a.astype(np.float64)
    y = b.astype(np.float64)
    diff = np.abs(x - y)
    scale = np.maximum(np.abs(x), np.abs(y))
    rel = np.where(scale > 0, diff / np.where(scale > 0, scale, 1), 0.0)
    bitwise = a.dtype == b.dtype and a.tobytes() == b.tobytes()
    max_abs = float(diff.max()) if diff.size else 0.0
    max_rel = float(rel.max()) if rel.size else 0.0
    within = bool(np.all(diff <= rtol * scale + rtol)) if rtol is not None else bitwise
    return bitwise, max_abs, max_rel, within


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--rtol", type=float, default=None,
                        help="accept values within this relative tolerance (default: bitwise)")
    parser.add_argument("--metrics", nargs=2, metavar=("MA", "MB"),
                        help="also compare the objective, nll and mean_p rows of two metrics.h5 files")
    args = parser.parse_args()

    ok = True
    with h5py.File(args.a, "r") as fa, h5py.File(args.b, "r") as fb:
        keys_a, keys_b = sorted(fa["model"].keys()), sorted(fb["model"].keys())
        if keys_a != keys_b:
            print(f"different tensors: {sorted(set(keys_a) ^ set(keys_b))}")
            return 1
        worst_abs, worst_rel, worst_key, values, all_bitwise, shown = 0.0, 0.0, "", 0, True, 0
        for key in keys_a:
            a, b = fa["model"][key][()], fb["model"][key][()]
            bitwise, max_abs, max_rel, within = compare_arrays(a, b, args.rtol)
            values += a.size
            all_bitwise &= bitwise
            ok &= within
            if max_abs > worst_abs or not worst_key:
                worst_abs, worst_key = max_abs, key
            worst_rel = max(worst_rel, max_rel)
            if not within:
                shown += 1
                if shown <= 5:
                    print(f"  {key}: max abs diff {max_abs:.3g}, max rel diff {max_rel:.3g}")
        steps = (fa.attrs.get("step"), fb.attrs.get("step"))
        print(f"parameters: {len(keys_a)} tensors, {values} values, steps {steps[0]} and {steps[1]}: "
              f"max abs diff {worst_abs:.3g} ({worst_key}), max rel diff {worst_rel:.3g}, "
              f"{'bit-identical' if all_bitwise else 'not bit-identical'}")
        if steps[0] != steps[1]:
            ok = False

    if args.metrics:
        with h5py.File(args.metrics[0], "r") as ma, h5py.File(args.metrics[1], "r") as mb:
            for name in ("objective", "nll", "mean_p"):
                a, b = ma[name][()], mb[name][()]
                bitwise, max_abs, _, within = compare_arrays(a, b, args.rtol)
                ok &= within
                print(f"metrics {name}: {a.size} and {b.size} steps, max abs diff {max_abs:.3g}, "
                      f"{'bit-identical' if bitwise else 'not bit-identical'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
