// One decode step's attention for one (slot, kv head) -- scores [G, L] = Q K^T, then out [G, D]
// = P V, G query heads of the group, L cached positions, head D = 64 -- timed on one thread
// three ways (docs/PERFORMANCE.md, "bf16", the KV cache):
//   fp32   sgemm on an fp32 cache, in CachedAttention's chunks of keys (OpenBLAS's small path);
//   plain  oneDNN bf16 matmul on a plain bf16 cache (K read transposed, V as it is): brgemm
//          copies B into its own layout on every call;
//   blocked  oneDNN bf16 matmul on a cache kept in that layout (BA16a64b2a, `BlockedBF16`),
//          which brgemm reads in place: what dft-mpi's bf16 decoding does.
// L is rounded up to 64 for the bf16 products (the padding the cache keeps). The caches of 512
// (slot, kv head) pairs are cycled, so that they are read from memory as in a step of batch 32.
// Best of five passes, microseconds per pair. The values are constants: only time is measured.
//
//   cc -O2 scripts/bench/decode_attention.c -o /tmp/decode_attention
//      -I/usr/include/x86_64-linux-gnu/openblas-pthread -lopenblas -ldnnl      (one line)
//   OMP_NUM_THREADS=1 /tmp/decode_attention 128 4      # L G; OPENBLAS_CORETYPE=Haswell for AVX2
#include <cblas.h>
#include <dnnl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define CHECK(x) do { dnnl_status_t s_ = (x); if (s_ != dnnl_success) { fprintf(stderr, "%s: %d\n", #x, s_); exit(1); } } while (0)
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static dnnl_engine_t engine;
static dnnl_stream_t stream;

// C[m, n] (fp32, dense) = A[m, k] (bf16, dense) B[k, n] (bf16: `tag`, or strides sb0, sb1 when tag is 0).
typedef struct { dnnl_primitive_t primitive; dnnl_memory_t a, b, c; } Product;
static Product product(int m, int n, int k, dnnl_format_tag_t tag, long sb0, long sb1, const char *name) {
    dnnl_memory_desc_t a, b, c;
    dnnl_dims_t ad = {m, k}, bd = {k, n}, cd = {m, n}, bs = {sb0, sb1};
    CHECK(dnnl_memory_desc_init_by_tag(&a, 2, ad, dnnl_bf16, dnnl_ab));
    if (tag) CHECK(dnnl_memory_desc_init_by_tag(&b, 2, bd, dnnl_bf16, tag));
    else CHECK(dnnl_memory_desc_init_by_strides(&b, 2, bd, dnnl_bf16, bs));
    CHECK(dnnl_memory_desc_init_by_tag(&c, 2, cd, dnnl_f32, dnnl_ab));
    dnnl_matmul_desc_t desc;
    CHECK(dnnl_matmul_desc_init(&desc, &a, &b, NULL, &c));
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_primitive_desc_create(&pd, &desc, NULL, engine, NULL));
    const char *impl;
    CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));
    fprintf(stderr, "%s %d x %d x %d: %s\n", name, m, k, n, impl);
    Product p;
    CHECK(dnnl_primitive_create(&p.primitive, pd));
    CHECK(dnnl_memory_create(&p.a, &a, engine, DNNL_MEMORY_NONE));
    CHECK(dnnl_memory_create(&p.b, &b, engine, DNNL_MEMORY_NONE));
    CHECK(dnnl_memory_create(&p.c, &c, engine, DNNL_MEMORY_NONE));
    dnnl_primitive_desc_destroy(pd);
    return p;
}
static void run(Product *p, const void *a, const void *b, float *c) {
    dnnl_memory_set_data_handle(p->a, (void *)a);
    dnnl_memory_set_data_handle(p->b, (void *)b);
    dnnl_memory_set_data_handle(p->c, c);
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, p->a}, {DNNL_ARG_WEIGHTS, p->b}, {DNNL_ARG_DST, p->c}};
    CHECK(dnnl_primitive_execute(p->primitive, stream, 3, args));
}

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s L G\n", argv[0]); return 2; }
    const int L = atoi(argv[1]), G = atoi(argv[2]), D = 64, pairs = 512, keyChunk = 1200 / G, valueChunk = 1000000 / (G * D);
    const int P = (L + 63) / 64 * 64;  // positions a bf16 product reads
    const long per = (long)P * D;      // elements of one pair's keys (or values)
    float *k32 = aligned_alloc(64, pairs * per * 4), *v32 = aligned_alloc(64, pairs * per * 4);
    uint16_t *k16 = aligned_alloc(64, pairs * per * 2), *v16 = aligned_alloc(64, pairs * per * 2);
    for (long i = 0; i < pairs * per; i++) { k32[i] = v32[i] = 0.5f; k16[i] = v16[i] = 0x3f00; }
    float *q = calloc(G * D, 4), *scores = calloc((size_t)G * P, 4), *out = calloc(G * D, 4);
    uint16_t *q16 = calloc(G * D, 2), *p16 = calloc((size_t)G * P, 2);
    CHECK(dnnl_engine_create(&engine, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, engine, dnnl_stream_default_flags));
    Product plainScores = product(G, P, D, 0, 1, D, "plain Q K^T"), plainValues = product(G, D, P, dnnl_ab, 0, 0, "plain P V");
    Product blockedScores = product(G, P, D, dnnl_BA16a64b2a, 0, 0, "blocked Q K^T");
    Product blockedValues = product(G, D, P, dnnl_BA16a64b2a, 0, 0, "blocked P V");
    double best[3] = {1e9, 1e9, 1e9};
    for (int pass = 0; pass < 5; pass++) {
        for (int way = 0; way < 3; way++) {
            double start = now();
            for (int i = 0; i < pairs; i++) {
                if (way == 0) {
                    const float *k = k32 + i * per, *v = v32 + i * per;
                    for (int c0 = 0; c0 < L; c0 += keyChunk) {
                        int n = L - c0 < keyChunk ? L - c0 : keyChunk;
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, G, n, D, 0.125f, q, D, k + c0 * D, D, 0, scores + c0, L);
                    }
                    for (int c0 = 0; c0 < L; c0 += valueChunk) {
                        int n = L - c0 < valueChunk ? L - c0 : valueChunk;
                        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, G, D, n, 1, scores + c0, L, v + c0 * D, D,
                                    c0 ? 1 : 0, out, D);
                    }
                } else {
                    run(way == 1 ? &plainScores : &blockedScores, q16, k16 + i * per, scores);
                    run(way == 1 ? &plainValues : &blockedValues, p16, v16 + i * per, out);
                }
            }
            double us = (now() - start) / pairs * 1e6;
            if (us < best[way]) best[way] = us;
        }
    }
    printf("L %d, group %d, head %d, %d pairs (fp32 cache %.1f MB): fp32 sgemm %.2f us, bf16 plain %.2f us, "
           "bf16 blocked %.2f us per pair\n", L, G, D, pairs, pairs * 2.0 * L * D * 4 / 1e6, best[0], best[1], best[2]);
    return 0;
}
