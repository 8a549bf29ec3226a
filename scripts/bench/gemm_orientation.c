// The decode products' orientations (docs/PERFORMANCE-HISTORY.md, the decoding sections): Y[M, N] = X[M, K] W^T
// with W [N, K] as Hugging Face stores it, timed on one thread four ways, interleaved, best of
// 40, the weights cycled through copies so that every call reads them from memory:
//   a  Y = X W^T        W as sgemm's transposed B (what the decoder does)
//   b  Y^T = W X^T      W as A
//   c  Y = X Wt         a transposed copy Wt [K, N] as B
//   d  Y^T = Wt^T X^T   the copy as a transposed A, X^T stored [K, M]
// and for M = 1 (one sequence: the decoder calls sgemv there) sgemv on W and on Wt.
//
//   cc -O2 scripts/bench/gemm_orientation.c -o /tmp/gemm_orientation
//      -I/usr/include/x86_64-linux-gnu/openblas-pthread -lopenblas     (one line)
//   /tmp/gemm_orientation 16 32000 512        # M N K; OPENBLAS_CORETYPE=Haswell for AVX2
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s M N K\n", argv[0]);
        return 2;
    }
    const int M = atoi(argv[1]), N = atoi(argv[2]), K = atoi(argv[3]), reps = 40, copies = 6;
    const long size = (long)N * K;
    openblas_set_num_threads(1);
    float *x = malloc(sizeof(float) * M * K), *xT = malloc(sizeof(float) * M * K);  // [M, K], [K, M]
    float *y = malloc(sizeof(float) * M * N);                                       // [M, N] or [N, M]
    float *w = malloc(sizeof(float) * size * copies), *wT = malloc(sizeof(float) * size * copies);
    if (!x || !xT || !y || !w || !wT) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    for (long i = 0; i < (long)M * K; i++) x[i] = (float)(i % 7) * 0.1f;
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) xT[(long)k * M + m] = x[(long)m * K + k];
    for (long i = 0; i < size * copies; i++) w[i] = (float)(i % 13) * 0.01f;
    for (int c = 0; c < copies; c++)
        for (long n = 0; n < N; n++)
            for (long k = 0; k < K; k++) wT[c * size + k * N + n] = w[c * size + n * K + k];
    double best[4] = {1e9, 1e9, 1e9, 1e9};
    for (int r = 0; r < reps; r++) {
        for (int way = 0; way < 4; way++) {
            const long o = (long)((r + way) % copies) * size;  // another copy for each call
            double t = now();
            switch (way) {
            case 0: cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1, x, K, w + o, K, 0, y, N); break;
            case 1: cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, M, K, 1, w + o, K, x, K, 0, y, M); break;
            case 2: cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, M, N, K, 1, x, K, wT + o, N, 0, y, N); break;
            default: cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, M, K, 1, wT + o, N, xT, M, 0, y, M); break;
            }
            t = now() - t;
            if (t < best[way]) best[way] = t;
        }
    }
    double gemv[2] = {1e9, 1e9};
    for (int r = 0; M == 1 && r < reps; r++) {
        for (int way = 0; way < 2; way++) {
            const long o = (long)((r + way) % copies) * size;
            double t = now();
            if (way == 0) cblas_sgemv(CblasRowMajor, CblasNoTrans, N, K, 1, w + o, K, x, 1, 0, y, 1);
            else cblas_sgemv(CblasRowMajor, CblasTrans, K, N, 1, wT + o, N, x, 1, 0, y, 1);
            t = now() - t;
            if (t < gemv[way]) gemv[way] = t;
        }
    }
    if (M == 1)
        printf("M=1 N=%d K=%d (%s): sgemv on W %.3f ms (%.1f GB/s)  on Wt %.3f ms (%.1f GB/s)\n", N, K,
               openblas_get_corename(), gemv[0] * 1e3, 4.0 * size / gemv[0] / 1e9, gemv[1] * 1e3,
               4.0 * size / gemv[1] / 1e9);
    const double flops = 2.0 * M * N * K;
    printf("M=%d N=%d K=%d (%s): a %.3f ms  b %.3f ms  c %.3f ms  d %.3f ms  (a %.1f GFLOP/s)\n", M, N, K,
           openblas_get_corename(), best[0] * 1e3, best[1] * 1e3, best[2] * 1e3, best[3] * 1e3, flops / best[0] / 1e9);
    return 0;
}
