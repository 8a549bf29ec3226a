// A decode product Y[M, N] = X[M, K] Wt[K, N] (Wt: the weights transposed to [in, out]) timed
// on one thread three ways (docs/PERFORMANCE.md, "Decoding"): one sgemm over the whole matrix
// ("whole"); one sgemm per block of nb columns addressed inside Wt (ldb N); and one sgemm per
// block from a panel-major copy [N / nb][K][nb] ("panel", what DecodeLayout stores on AVX-512
// kernels). Best of 30, the weights cycled through six copies so that calls read them from
// memory. Widths that do not divide N are skipped.
//
//   cc -O2 scripts/bench/gemm_panels.c -o /tmp/gemm_panels
//      -I/usr/include/x86_64-linux-gnu/openblas-pthread -lopenblas     (one line)
//   /tmp/gemm_panels 16 32000 512        # M N K; OPENBLAS_CORETYPE=Haswell for AVX2
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
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
    int widths[] = {0, 16, 32, 48, 64, 96, 128, 256, 512, 1024};
    printf("M=%d N=%d K=%d (%s):", M, N, K, openblas_get_corename());
    for (int wi = 0; wi < 10; wi++) {
        int nb = widths[wi];
        if (nb > 0 && N % nb) continue;
        if (nb > 0)
            for (int c = 0; c < copies; c++)
                for (int b = 0; b < N / nb; b++)
                    for (long k = 0; k < K; k++)
                        for (int j = 0; j < nb; j++)
                            panel[c * size + (long)b * K * nb + k * nb + j] = wT[c * size + k * N + b * nb + j];
        double best = 1e9, bestP = 1e9;
        for (int r = 0; r < reps; r++) {
            const long o = (long)(r % copies) * size;
            double t = now();
            if (nb == 0) cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, x, K, wT + o, N, 0, y, N);
            else for (int c0 = 0; c0 < N; c0 += nb)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, nb, K, 1, x, K, wT + o + c0, N, 0, y + c0, N);
            t = now() - t; if (t < best) best = t;
            if (nb == 0) continue;
            t = now();
            for (int b = 0; b < N / nb; b++)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, nb, K, 1, x, K, panel + o + (long)b * K * nb, nb, 0, y + b * nb, N);
            t = now() - t; if (t < bestP) bestP = t;
        }
        if (nb == 0) printf(" whole %.2f ms |", best * 1e3);
        else printf(" nb %d: %.2f / panel %.2f |", nb, best * 1e3, bestP * 1e3);
        fflush(stdout);
    }
    printf("\n");
    return 0;
}
