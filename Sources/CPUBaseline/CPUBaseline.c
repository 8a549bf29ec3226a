// The Swift code of dft-mpi is compiled for x86-64 with AVX2 and FMA (Package.swift), which every
// host of the supported machine class has. On an older CPU its first vector instruction would
// kill the process with SIGILL and no message. This constructor runs before any Swift code (the
// Swift runtime registers our types lazily and runs no user code before main), and this file
// itself is compiled for the generic baseline, so it can say what is missing and exit instead.
#include "CPUBaseline.h"

#include <stdio.h>
#include <stdlib.h>

#if defined(__x86_64__) && defined(DFT_CPU_BASELINE_HASWELL)
const char *dft_cpu_baseline_required(void) { return "avx avx2 fma f16c bmi bmi2 popcnt"; }

// __builtin_cpu_supports takes a string literal only, hence a macro rather than a loop.
#define DFT_REQUIRE(feature) \
    if (!__builtin_cpu_supports(feature)) return feature

const char *dft_cpu_baseline_missing(void) {
    __builtin_cpu_init();
    DFT_REQUIRE("avx");
    DFT_REQUIRE("avx2");
    DFT_REQUIRE("fma");
    DFT_REQUIRE("f16c");
    DFT_REQUIRE("bmi");
    DFT_REQUIRE("bmi2");
    DFT_REQUIRE("popcnt");
    return NULL;
}

__attribute__((constructor)) static void dft_cpu_baseline_check(void) {
    const char *missing = dft_cpu_baseline_missing();
    if (missing == NULL) return;
    fprintf(stderr,
            "dft-mpi: this build's code uses AVX2 and FMA instructions (x86-64-v3), but this CPU has no '%s'.\n"
            "Rebuild for the generic x86-64 baseline: DFT_MPI_TARGET_CPU=generic swift build -c release\n"
            "(slower element-wise kernels, same results).\n",
            missing);
    exit(1);
}
#else
const char *dft_cpu_baseline_required(void) { return ""; }
const char *dft_cpu_baseline_missing(void) { return NULL; }
#endif
