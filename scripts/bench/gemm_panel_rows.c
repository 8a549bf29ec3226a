// A prefill product Y[M, N] = X[M, K] Wt[K, N] (many rows) by weights stored in column panels
// of W outputs ([N / W][K][W], what DecodeLayout stores on AVX-512 kernels), timed on one thread
// four ways (docs/PERFORMANCE-HISTORY.md, the decoding sections): one sgemm over the plain [K, N] matrix ("whole");
// one sgemm per panel over all M rows ("panels"); per panel, one sgemm per block of rows small
// enough for OpenBLAS's small-matrix path, M x W x K <= 10^6 ("panels x row blocks", what
// BLAS.gemmPanels does); and the same calls with the row blocks outside ("row blocks x panels").
// Best of 5; the weights fit in cache after the first round, as a prefill's panel does.
//
//   cc -O2 scripts/bench/gemm_panel_rows.c -o /tmp/gemm_panel_rows
//      -I/usr/include/x86_64-linux-gnu/openblas-pthread -lopenblas     (one line)
//   /tmp/gemm_panel_rows 1024 2816 512 32        # M N K W; W must divide N
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static void product(int m, int n, int k, const float *x, const float *w, int ldw, float *y, int ldy) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, x, k, w, ldw, 0, y, ldy);
}
int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: %s M N K W\n", argv[0]);
        return 2;
    }
    const int M = atoi(argv[1]), N = atoi(argv[2]), K = atoi(argv[3]), W = atoi(argv[4]);
    if (M < 1 || N < 1 || K < 1 || W < 1 || N % W) {
        fprintf(stderr, "M, N, K, W must be positive and W must divide N\n");
        return 2;
    }
    int rows = 1000000 / (W * K);  // rows per block within the small-matrix path
    if (rows < 1) rows = M;
    openblas_set_num_threads(1);
    float *x = malloc(sizeof(float) * M * K), *y = malloc(sizeof(float) * M * N);
    float *plain = malloc(sizeof(float) * N * K), *panels = malloc(sizeof(float) * N * K);
    if (!x || !y || !plain || !panels) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (long i = 0; i < (long)M * K; i++) x[i] = (float)(i % 7) * 0.1f;
    for (long r = 0; r < K; r++)
        for (long j = 0; j < N; j++) {
            plain[r * N + j] = (float)((r * N + j) % 13) * 0.01f;
            panels[(j / W) * W * K + r * W + j % W] = plain[r * N + j];
        }
    double best[4] = {1e30, 1e30, 1e30, 1e30};
    for (int round = 0; round < 5; round++) {
        double t[5];
        t[0] = now();
        product(M, N, K, x, plain, N, y, N);
        t[1] = now();
        for (int j = 0; j < N; j += W) product(M, W, K, x, panels + (long)j * K, W, y + j, N);
        t[2] = now();
        for (int j = 0; j < N; j += W)
            for (int i = 0; i < M; i += rows)
                product(M - i < rows ? M - i : rows, W, K, x + (long)i * K, panels + (long)j * K, W, y + (long)i * N + j, N);
        t[3] = now();
        for (int i = 0; i < M; i += rows)
            for (int j = 0; j < N; j += W)
                product(M - i < rows ? M - i : rows, W, K, x + (long)i * K, panels + (long)j * K, W, y + (long)i * N + j, N);
        t[4] = now();
        for (int v = 0; v < 4; v++)
            if (t[v + 1] - t[v] < best[v]) best[v] = t[v + 1] - t[v];
    }
    const double gflop = 2.0 * M * N * K / 1e9;
    printf("M=%d N=%d K=%d W=%d (%s), row blocks of %d: whole %.2f ms (%.0f GFLOP/s) | panels %.2f ms (%.0f) | "
           "panels x row blocks %.2f ms (%.0f) | row blocks x panels %.2f ms (%.0f)\n",
           M, N, K, W, openblas_get_corename(), rows, best[0] * 1e3, gflop / best[0], best[1] * 1e3, gflop / best[1],
           best[2] * 1e3, gflop / best[2], best[3] * 1e3, gflop / best[3]);
    return 0;
}
