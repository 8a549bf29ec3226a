#ifndef DFT_CPU_BASELINE_H
#define DFT_CPU_BASELINE_H

/// The x86-64 features the Swift code was compiled for (Package.swift's `-target-cpu`), as a
/// space-separated list, or "" when the build targets the generic baseline.
const char *dft_cpu_baseline_required(void);

/// The first required feature this CPU lacks, or NULL when it has them all.
const char *dft_cpu_baseline_missing(void);

#endif
