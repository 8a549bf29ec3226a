// A decode product Y[M, N] = X[M, K] Wt[K, N] (Wt: the weights transposed to [in, out]) timed
// on one thread three ways (docs/PERFORMANCE-HISTORY.md, the decoding sections): one call over the whole matrix
// ("whole"); one call per block of nb columns addressed inside Wt (ldb N); and one call per
// block from a panel-major copy, panel b a [K, w] block with w = nb but for a narrower last
// one ("panel", what DecodeLayout stores). A call is sgemm, or for one row of a block wider
// than 64 sgemv, as BLAS.gemmPanels does. Best of 30, the weights cycled through six copies so
// that calls read them from memory.
//
//   cc -O2 scripts/bench/gemm_panels.c -o /tmp/gemm_panels
//      -I/usr/include/x86_64-linux-gnu/openblas-pthread -lopenblas     (one line)
//   /tmp/gemm_panels 16 32000 512        # M N K; OPENBLAS_CORETYPE=Haswell for AVX2
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
// Y[m, n] (leading dimension ldy) = X[m, k] W[k, n] (leading dimension ldw).
static void product(int m, int n, int k, const float *x, const float *w, int ldw, float *y, int ldy) {
    if (m == 1 && n > 64)
        cblas_sgemv(CblasRowMajor, CblasTrans, k, n, 1, w, ldw, x, 1, 0, y, 1);
    else
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, n, k, 1, x, k, w, ldw, 0, y, ldy);
}
int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s M N K\n", argv[0]);
        return 2;
    }
    const int M = atoi(argv[1]), N = atoi(argv[2]), K = atoi(argv[3]), reps = 30, copies = 6;
    const long size = (long)N * K;
    openblas_set_num_threads(1);
    float *x = malloc(sizeof(float) * M * K), *y = malloc(sizeof(float) * M * N);
    float *wT = malloc(sizeof(float) * size * copies), *panel = malloc(sizeof(float) * size * copies);
    if (!x || !y || !wT || !panel) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (long i = 0; i < (long)M * K; i++) x[i] = (float)(i % 7) * 0.1f;
    for (long i = 0; i < size * copies; i++) wT[i] = (float)(i % 13) * 0.01f;
    int widths[] = {0, 16, 32, 48, 64, 96, 128, 256, 512, 1024, 2048, 4096, 8192};
    printf("M=%d N=%d K=%d (%s):", M, N, K, openblas_get_corename());
    for (int wi = 0; wi < (int)(sizeof widths / sizeof widths[0]); wi++) {
        const int nb = widths[wi];
        if (nb >= N) continue;
        if (nb > 0)  // panel starting at column j0 (width w) at offset j0 * K
            for (int c = 0; c < copies; c++)
                for (int j0 = 0; j0 < N; j0 += nb) {
                    const int w = N - j0 < nb ? N - j0 : nb;
                    for (long k = 0; k < K; k++)
                        for (int j = 0; j < w; j++)
                            panel[c * size + (long)j0 * K + k * w + j] = wT[c * size + k * N + j0 + j];
                }
        double best = 1e9, bestP = 1e9;
        for (int r = 0; r < reps; r++) {
            const long o = (long)(r % copies) * size;
            double t = now();
            if (nb == 0) product(M, N, K, x, wT + o, N, y, N);
            else for (int j0 = 0; j0 < N; j0 += nb)
                product(M, N - j0 < nb ? N - j0 : nb, K, x, wT + o + j0, N, y + j0, N);
            t = now() - t; if (t < best) best = t;
            if (nb == 0) continue;
            t = now();
            for (int j0 = 0; j0 < N; j0 += nb) {
                const int w = N - j0 < nb ? N - j0 : nb;
                product(M, w, K, x, panel + o + (long)j0 * K, w, y + j0, N);
            }
            t = now() - t; if (t < bestP) bestP = t;
        }
        if (nb == 0) printf(" whole %.2f ms |", best * 1e3);
        else printf(" nb %d: %.2f / panel %.2f |", nb, best * 1e3, bestP * 1e3);
        fflush(stdout);
    }
    printf("\n");
    return 0;
}
