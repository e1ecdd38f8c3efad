/* One step's pass over the logits, in C: the part of the inspection that reads the whole
 * vocabulary (see engine_stages.py, which loads this file with ctypes).
 *
 * Between two llama_decode calls the caches are cold, and every numpy call pays for it; this
 * does the whole-vocabulary work in one call and one pass, chunk by chunk while the chunk is
 * in L1: the best `need` logits so far (a small min-heap), every token at or above the heap's
 * smallest (which only rises), and sum(exp(x - max)) and sum(exp(x - max) * x) relative to
 * the running max, in this file's own AVX-512 or AVX2 loop (ggml's exp polynomial) where the
 * CPU has one, else through ggml's own vectorised softmax kernel. The candidates are written
 * sorted (best first, lower id first on equal logits, as llama.cpp sorts) into the
 * llama_token_data array the samplers read.
 * With no truncating stage, tw_tempered and tw_pick draw from softmax(x / T) over the
 * unsorted vocabulary (see draw.py). tw_scan without a softmax kernel only selects; tw_moments
 * then adds the rest, with the same arithmetic (a step split around the next decode).
 * tw_penalise applies the penalties to the few tokens of the window and joins them to the
 * candidates, in one call instead of a few dozen small numpy ones.
 * tw_nucleus finds top-p's nucleus over the whole vocabulary (top-k off) in the same pass,
 * collecting every token within a depth of the best and sorting only what can hold it.
 * The pass runs in two halves of the vocabulary, on two threads where ggml's decode runs
 * its own with OpenMP (its pool, awake just after the decode, takes one half), on one where
 * it does not, with the same results to the bit either way.
 * It is an optional extension: without it the engine computes the same numbers with numpy.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* TW_PLAIN: plain C alone, as on a CPU without SSE2 (the tests build it so) */
#if !defined(TW_PLAIN) && \
    (defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2))
#include <emmintrin.h>
#define TW_SSE2 1
#endif

#ifdef _WIN32
#define TW_EXPORT __declspec(dllexport)
#else
#define TW_EXPORT __attribute__((visibility("default")))
#endif

/* With GCC or clang on x86 (not clang-cl, whose runtime may lack the CPU check), the loops
 * that read the whole vocabulary also come in AVX2 (32 or 64 floats a step instead of 16),
 * taken where the CPU has it. Their results are the same to the bit as the SSE2 ones, except
 * chunk_dot's, whose sum is folded in another order: one CPU always takes the same one, so
 * its passes still agree with each other. */
#if defined(TW_SSE2) && (defined(__GNUC__) || defined(__clang__)) && !defined(_MSC_VER) && \
    (defined(__x86_64__) || defined(__i386__))
#include <immintrin.h>
#define TW_AVX2 1
#define TW_AVX2_FN __attribute__((target("avx2")))
static int tw_avx2_on = -1;  /* -1: not asked yet (a race writes the same value) */
static int tw_cpu_avx2(void) {
    __builtin_cpu_init();  /* a library loaded late: not done for it by then */
    return __builtin_cpu_supports("avx2") ? 1 : 0;
}
static int tw_avx2(void) {
    if (tw_avx2_on < 0) tw_avx2_on = tw_cpu_avx2();
    return tw_avx2_on;
}
#endif

/* Whether the AVX2 loops run: `allow` 0 keeps to SSE2 (the tests compare the two), 1 takes
 * AVX2 where the CPU has it. Returns whether they run. */
TW_EXPORT int tw_simd_avx2(int allow) {
#ifdef TW_AVX2
    tw_avx2_on = allow ? tw_cpu_avx2() : 0;
    return tw_avx2_on;
#else
    (void)allow;
    return 0;
#endif
}


/* llama_token_data: the candidates go straight into the array llama.cpp's samplers read */
typedef struct {
    int32_t id;
    float logit;
    float p;
} tw_token;

/* what chunk_exps computes of one chunk (see it): its sums, and the weights themselves */
#define TW_EXP_MOMENTS 1
#define TW_EXP_TEMPERED 2
#define TW_EXP_WEIGHTS 4

typedef struct {
    double z, s, t;
} tw_exp_sums;

/* ggml_vec_soft_max_f32: y = exp(x - max), returns the sum */
typedef double (*tw_softmax_fn)(int n, float *y, const float *x, float max);

#define TW_CHUNK 2048
#define TW_BLOCK 128 /* the prepass's blocks */
#define TW_MAX_NEED 1024

static void sift_down(float *heap, int size, int i) {
    float v = heap[i];
    for (;;) {
        int child = 2 * i + 1;
        if (child >= size) break;
        if (child + 1 < size && heap[child + 1] < heap[child]) child++;
        if (heap[child] >= v) break;
        heap[i] = heap[child];
        i = child;
    }
    heap[i] = v;
}

/* a value above the heap's smallest: it takes the smallest one's place */
static float heap_take(float *heap, int size, float v) {
    heap[0] = v;
    sift_down(heap, size, 0);
    return heap[0];
}

/* the k-th largest (k from 1) of v[0..n), which it reorders; n >= k >= 1, no NaN */
static float kth_largest(float *v, int n, int k) {
    int lo = 0, hi = n - 1;
    const int want = k - 1;  /* its place, largest first */
    while (lo < hi) {
        /* the median of three as the pivot, then a three-way partition around it */
        const int mid = lo + (hi - lo) / 2;
        float a = v[lo], b = v[mid], c = v[hi];
        const float pivot = a > b ? (b > c ? b : (a > c ? c : a)) : (a > c ? a : (b > c ? c : b));
        int lt = lo, i = lo, gt = hi;  /* [lo, lt) above it, [lt, i) equal, (gt, hi] below */
        while (i <= gt) {
            const float x = v[i];
            if (x > pivot) {
                v[i++] = v[lt];
                v[lt++] = x;
            } else if (x < pivot) {
                v[i] = v[gt];
                v[gt--] = x;
            } else {
                i++;
            }
        }
        if (want < lt) hi = lt - 1;
        else if (want > gt) lo = gt + 1;
        else return pivot;
    }
    return v[want];
}

/* best first, lower id first on equal logits: llama.cpp's order */
static int tw_token_order(const void *pa, const void *pb) {
    const tw_token *a = (const tw_token *)pa, *b = (const tw_token *)pb;
    if (a->logit != b->logit) return a->logit > b->logit ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* sum(e * x) over one chunk, e = exp(x - max) from the softmax kernel; a masked token
 * (e = 0, x = -inf: NaN) adds nothing. The same arithmetic in tw_scan and tw_moments. */
static float chunk_dot_sse(const float *e, const float *xc, int len) {
    int j = 0;
    float dot = 0.0f;
#ifdef TW_SSE2
    /* four independent sums: the adds overlap instead of waiting on each other */
    __m128 acc0 = _mm_setzero_ps(), acc1 = _mm_setzero_ps();
    __m128 acc2 = _mm_setzero_ps(), acc3 = _mm_setzero_ps();
    const __m128 zero = _mm_setzero_ps();
    for (; j + 16 <= len; j += 16) {
        const __m128 e0 = _mm_loadu_ps(e + j), e1 = _mm_loadu_ps(e + j + 4);
        const __m128 e2 = _mm_loadu_ps(e + j + 8), e3 = _mm_loadu_ps(e + j + 12);
        acc0 = _mm_add_ps(acc0, _mm_and_ps(_mm_cmpgt_ps(e0, zero),
                                           _mm_mul_ps(e0, _mm_loadu_ps(xc + j))));
        acc1 = _mm_add_ps(acc1, _mm_and_ps(_mm_cmpgt_ps(e1, zero),
                                           _mm_mul_ps(e1, _mm_loadu_ps(xc + j + 4))));
        acc2 = _mm_add_ps(acc2, _mm_and_ps(_mm_cmpgt_ps(e2, zero),
                                           _mm_mul_ps(e2, _mm_loadu_ps(xc + j + 8))));
        acc3 = _mm_add_ps(acc3, _mm_and_ps(_mm_cmpgt_ps(e3, zero),
                                           _mm_mul_ps(e3, _mm_loadu_ps(xc + j + 12))));
    }
    for (; j + 4 <= len; j += 4) {
        const __m128 e0 = _mm_loadu_ps(e + j);
        acc0 = _mm_add_ps(acc0, _mm_and_ps(_mm_cmpgt_ps(e0, zero),
                                           _mm_mul_ps(e0, _mm_loadu_ps(xc + j))));
    }
    float lanes[4];
    _mm_storeu_ps(lanes, _mm_add_ps(_mm_add_ps(acc0, acc1), _mm_add_ps(acc2, acc3)));
    dot = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; j < len; j++)
        if (e[j] > 0.0f) dot += e[j] * xc[j];
    return dot;
#else
    /* plain C: one running sum, in double (in float it drifts over a chunk) */
    double sum = 0.0;
    for (; j < len; j++)
        if (e[j] > 0.0f) sum += (double)e[j] * xc[j];
    (void)dot;
    return (float)sum;
#endif
}

#ifdef TW_AVX2
TW_AVX2_FN static float chunk_dot_avx2(const float *e, const float *xc, int len) {
    int j = 0;
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
    const __m256 zero = _mm256_setzero_ps();
#define TW_DOT8(acc, o) \
    do { \
        const __m256 e8 = _mm256_loadu_ps(e + j + (o)); \
        acc = _mm256_add_ps(acc, _mm256_and_ps(_mm256_cmp_ps(e8, zero, _CMP_GT_OQ), \
                                               _mm256_mul_ps(e8, _mm256_loadu_ps(xc + j + (o))))); \
    } while (0)
    for (; j + 32 <= len; j += 32) {
        TW_DOT8(acc0, 0);
        TW_DOT8(acc1, 8);
        TW_DOT8(acc2, 16);
        TW_DOT8(acc3, 24);
    }
    for (; j + 8 <= len; j += 8) TW_DOT8(acc0, 0);
#undef TW_DOT8
    float lanes[8];
    _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3)));
    float dot = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
                ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    for (; j < len; j++)
        if (e[j] > 0.0f) dot += e[j] * xc[j];
    return dot;
}
#endif

static float chunk_dot(const float *e, const float *xc, int len) {
#ifdef TW_AVX2
    if (tw_avx2()) return chunk_dot_avx2(e, xc, len);
#endif
    return chunk_dot_sse(e, xc, len);
}

#ifdef TW_SSE2
/* whether any of the 16 floats at p is above t (at or above, with `or_equal`): one branch
 * for 16, since almost every block holds nothing near the best */
static inline int any16(const float *p, float t, int or_equal) {
    const __m128 v = _mm_set1_ps(t);
    __m128 a, b, c, d;
    if (or_equal) {
        a = _mm_cmpge_ps(_mm_loadu_ps(p), v);
        b = _mm_cmpge_ps(_mm_loadu_ps(p + 4), v);
        c = _mm_cmpge_ps(_mm_loadu_ps(p + 8), v);
        d = _mm_cmpge_ps(_mm_loadu_ps(p + 12), v);
    } else {
        a = _mm_cmpgt_ps(_mm_loadu_ps(p), v);
        b = _mm_cmpgt_ps(_mm_loadu_ps(p + 4), v);
        c = _mm_cmpgt_ps(_mm_loadu_ps(p + 8), v);
        d = _mm_cmpgt_ps(_mm_loadu_ps(p + 12), v);
    }
    return _mm_movemask_ps(_mm_or_ps(_mm_or_ps(a, b), _mm_or_ps(c, d)));
}
#endif

#ifdef TW_AVX2
/* skip16 in AVX2: 64 floats a branch */
TW_AVX2_FN static int skip16_avx2(const float *x, int i, int end, float t, int or_equal) {
    const __m256 v = _mm256_set1_ps(t);
#define TW_HIT(o) (or_equal ? _mm256_cmp_ps(_mm256_loadu_ps(x + i + (o)), v, _CMP_GE_OQ) \
                            : _mm256_cmp_ps(_mm256_loadu_ps(x + i + (o)), v, _CMP_GT_OQ))
    for (; i + 64 <= end; i += 64) {
        const __m256 a = _mm256_or_ps(_mm256_or_ps(TW_HIT(0), TW_HIT(8)),
                                      _mm256_or_ps(TW_HIT(16), TW_HIT(24)));
        const __m256 b = _mm256_or_ps(_mm256_or_ps(TW_HIT(32), TW_HIT(40)),
                                      _mm256_or_ps(TW_HIT(48), TW_HIT(56)));
        if (_mm256_movemask_ps(_mm256_or_ps(a, b))) break;  /* in one of these four blocks */
    }
    for (; i + 16 <= end; i += 16)
        if (_mm256_movemask_ps(_mm256_or_ps(TW_HIT(0), TW_HIT(8)))) return i;
#undef TW_HIT
    return i;
}
#endif

/* The first of the 16-float blocks at i, i + 16, ... that holds a value above t (at or
 * above, with `or_equal`; NaN never is), or the first that would end past `end`, which the
 * caller reads float by float. Almost every block holds nothing near the best. */
static int skip16(const float *x, int i, int end, float t, int or_equal) {
#ifdef TW_AVX2
    if (tw_avx2()) return skip16_avx2(x, i, end, t, or_equal);
#endif
#ifdef TW_SSE2
    for (; i + 16 <= end; i += 16)
        if (any16(x + i, t, or_equal)) return i;
#else
    (void)x;
    (void)end;
    (void)t;
    (void)or_equal;
#endif
    return i;
}

/* keep only the candidates at or above `low` (it has risen since they were taken) */
static int compact(tw_token *cands, int count, float low) {
    int kept = 0;
    for (int q = 0; q < count; q++)
        if (cands[q].logit >= low) cands[kept++] = cands[q];
    return kept;
}

/* every token of one chunk at or above `low`, ids ascending, after the `count` found so far;
 * a full buffer is compacted first; past `cap` after that, only counted (the caller fails).
 * bm: the chunk's blocks' largest logits (NULL: not known), to pass over the blocks whose
 * largest is below `low` */
static int collect(const float *xc, int a, int len, float low, const float *bm,
                   tw_token *cands, int cap, int count) {
    int j = 0;
    for (;;) {
        int end = len;  /* where this look ends: the chunk's end, or its block's */
        if (bm != NULL) {
            while (j < len && !(bm[j / TW_BLOCK] >= low)) j = (j / TW_BLOCK + 1) * TW_BLOCK;
            if (j >= len) return count;
            end = (j / TW_BLOCK + 1) * TW_BLOCK;
            if (end > len) end = len;
        }
        j = skip16(xc, j, end, low, 1);
        const int stop = j + 16 <= end ? j + 16 : end;  /* a block, or the tail */
        for (; j < stop; j++) {
            if (xc[j] >= low) {
                if (count == cap) count = compact(cands, count, low);
                if (count < cap) {
                    cands[count].id = a + j;
                    cands[count].logit = xc[j];
                    cands[count].p = 0.0f;
                }
                count++;
            }
        }
        if (j >= len) return count;
    }
}

/* The moments of the vocabulary so far, relative to the running max `m`: one chunk's share
 * (chunk_exps) folded in, after rescaling what came before when the max rose. tw_scan and
 * tw_moments both use it, with the same running max, so their results are the same to the
 * bit. */
static void fold_chunk(int c0, int c, float m, float *m_prev, double *z, double *s,
                       double *chunk_sums, const tw_exp_sums *e) {
    if (m == -INFINITY) {  /* nothing but masked tokens so far */
        if (chunk_sums != NULL) chunk_sums[c] = 0.0;
        return;
    }
    if (m != *m_prev) {
        const double f = *m_prev == -INFINITY ? 0.0 : exp((double)*m_prev - (double)m);
        *z *= f;
        *s *= f;
        if (chunk_sums != NULL)
            for (int q = c0; q < c; q++) chunk_sums[q] *= f;
        *m_prev = m;
    }
    *z += e->z;
    *s += e->s;
    if (chunk_sums != NULL) chunk_sums[c] = e->z;
}

/* the largest of one chunk's logits above m (NaN never wins, as in `x > m`) */
#ifdef TW_AVX2
TW_AVX2_FN static int chunk_max_avx2(const float *xc, int len, float *m) {
    int j = 0;
    __m256 acc = _mm256_set1_ps(*m), acc1 = acc, acc2 = acc, acc3 = acc;
    for (; j + 32 <= len; j += 32) {
        acc = _mm256_max_ps(_mm256_loadu_ps(xc + j), acc);
        acc1 = _mm256_max_ps(_mm256_loadu_ps(xc + j + 8), acc1);
        acc2 = _mm256_max_ps(_mm256_loadu_ps(xc + j + 16), acc2);
        acc3 = _mm256_max_ps(_mm256_loadu_ps(xc + j + 24), acc3);
    }
    acc = _mm256_max_ps(_mm256_max_ps(acc, acc1), _mm256_max_ps(acc2, acc3));
    float lanes[8];
    _mm256_storeu_ps(lanes, acc);
    for (int q = 0; q < 8; q++)
        if (lanes[q] > *m) *m = lanes[q];
    return j;
}
#endif

static float chunk_max(const float *xc, int len, float m) {
    int j = 0;
#ifdef TW_AVX2
    if (tw_avx2()) j = chunk_max_avx2(xc, len, &m);
#endif
#ifdef TW_SSE2
    __m128 acc = _mm_set1_ps(m), acc1 = acc, acc2 = acc, acc3 = acc;
    for (; j + 16 <= len; j += 16) {
        acc = _mm_max_ps(_mm_loadu_ps(xc + j), acc);
        acc1 = _mm_max_ps(_mm_loadu_ps(xc + j + 4), acc1);
        acc2 = _mm_max_ps(_mm_loadu_ps(xc + j + 8), acc2);
        acc3 = _mm_max_ps(_mm_loadu_ps(xc + j + 12), acc3);
    }
    for (; j + 4 <= len; j += 4) acc = _mm_max_ps(_mm_loadu_ps(xc + j), acc);
    acc = _mm_max_ps(_mm_max_ps(acc, acc1), _mm_max_ps(acc2, acc3));
    float lanes[4];
    _mm_storeu_ps(lanes, acc);
    for (int q = 0; q < 4; q++)
        if (lanes[q] > m) m = lanes[q];
#endif
    for (; j < len; j++)
        if (xc[j] > m) m = xc[j];
    return m;
}

/* Returns how many candidates were written to cands (sorted, best first); out receives
 * max, sum(exp(x - max)), sum(exp(x - max) * x). chunk_sums (NULL: not wanted) receives
 * sum(exp(x - max)) of each TW_CHUNK tokens, for tw_pick. softmax NULL: the candidates and
 * the max only (what decides a greedy or top-k token; tw_moments adds the rest). -1: more
 * than `cap` tokens tie at the threshold; -2: bad arguments.
 *
 * One pass, chunk by chunk while the chunk is in L1: the best `need` so far (a min-heap),
 * every token at or above the heap's smallest (it only rises: the final set is a subset),
 * and the moments relative to the running max. */
/* The float's bits as an unsigned key that orders like the float, descending: best first
 * (-0 taken as +0, as the comparison does) */
static inline uint32_t desc_key(float v) {
    uint32_t u;
    memcpy(&u, &v, sizeof u);
    if (u == 0x80000000u) u = 0;
    u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
    return ~u;
}

/* best first, lower id first on equal logits (the ids arrive ascending): a stable radix sort
 * by the logit's bits, 8 bits a pass, for many candidates; insertion sort for a few */
static int sort_cands(tw_token *cands, int count) {
    if (count <= 64) {
        for (int p = 1; p < count; p++) {
            const tw_token t = cands[p];
            int q = p - 1;
            while (q >= 0 && cands[q].logit < t.logit) {
                cands[q + 1] = cands[q];
                q--;
            }
            cands[q + 1] = t;
        }
        return 0;
    }
    tw_token *tmp = (tw_token *)malloc(sizeof(tw_token) * (size_t)count);
    if (tmp == NULL) {
        qsort(cands, (size_t)count, sizeof(tw_token), tw_token_order);
        return 0;
    }
    tw_token *src = cands, *dst = tmp;
    for (int shift = 0; shift < 32; shift += 8) {
        int hist[256] = {0};
        for (int q = 0; q < count; q++) hist[(desc_key(src[q].logit) >> shift) & 255]++;
        if (hist[(desc_key(src[0].logit) >> shift) & 255] == count) continue;  /* one digit */
        int at = 0;
        for (int b = 0; b < 256; b++) {
            const int c = hist[b];
            hist[b] = at;
            at += c;
        }
        for (int q = 0; q < count; q++)
            dst[hist[(desc_key(src[q].logit) >> shift) & 255]++] = src[q];
        tw_token *t = src;
        src = dst;
        dst = t;
    }
    if (src != cands) memcpy(cands, src, sizeof(tw_token) * (size_t)count);
    free(tmp);
    return 0;
}

/* the collection's floor: the heap's smallest, or `depth` below the max if that is lower
 * (both only rise, so the floor does). Masked tokens (-inf) are never collected: a floor
 * still at -inf collects the finite ones, and one left there at the end is refused (fewer
 * finite tokens than wanted: the caller's numpy path takes the step). */
static inline float floor_of(float low, float m, float depth) {
    const float f = depth > 0.0f && m - depth < low ? m - depth : low;
    return f == -INFINITY ? -FLT_MAX : f;
}

#ifdef TW_AVX2
/* tmp = x * s, but the last len % 8 */
TW_AVX2_FN static int scale_avx2(const float *x, int len, float s, float *tmp) {
    const __m256 v = _mm256_set1_ps(s);
    int j = 0;
    for (; j + 8 <= len; j += 8)
        _mm256_storeu_ps(tmp + j, _mm256_mul_ps(_mm256_loadu_ps(x + j), v));
    return j;
}
#endif

/* ------------------------------------------------------------------ the exponentials
 *
 * Each chunk's exponentials, in one loop over it: any of
 *   the moments: sum(e) and sum(e * x) over e > 0, where e = exp(x - m);
 *   the tempered sum: sum(w), where w = exp(x * inv_t - m * inv_t) (e itself at inv_t 1);
 *   the tempered weights w themselves, into y (tw_pick's walk through one chunk).
 * With AVX-512 or AVX2 and FMA, a loop of this file's own computes them together, with ggml's
 * own polynomial for exp (the same as ggml_vec_soft_max_f32's); the sums of e and w are
 * carried in double, sum(e * x) in float as chunk_dot does. It reads each logit once and
 * writes nothing, where ggml's softmax kernel (taken elsewhere) writes e to a buffer that
 * chunk_dot reads again, and sums each vector across its lanes before the next.
 * Every caller of one CPU takes the same loop, with the same arithmetic for each sum whatever
 * else it computes with it: the moments of tw_scan and of tw_moments agree to the bit, as do
 * the tempered sums of tw_scan_tempered with or without the moments, and tw_pick walks
 * through the weights its chunk's sum was made of. */
#ifdef TW_AVX2
/* which loop: 0 ggml's softmax kernel and chunk_dot, 1 AVX2 and FMA, 2 AVX-512 */
static int tw_exp_level = -1;  /* -1: not asked yet (a race writes the same value) */
#define TW_FMA_FN __attribute__((target("avx2,fma")))
#define TW_AVX512_FN __attribute__((target("avx512f,avx2,fma")))
#define TW_INLINE inline __attribute__((always_inline))

static int tw_cpu_exp_level(void) {
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return 2;
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? 1 : 0;
}

static int exp_level(void) {
    if (tw_exp_level < 0) tw_exp_level = tw_cpu_exp_level();
    return tw_exp_level;
}

/* body(...) with `what` a constant in each case: a loop of its own for each combination,
 * computing only what it asks for */
#define TW_EXP_LOOPS(body)                                                                  \
    switch (what) {                                                                         \
    case TW_EXP_MOMENTS: body(xc, len, m, inv_t, TW_EXP_MOMENTS, y, out); break;            \
    case TW_EXP_TEMPERED: body(xc, len, m, inv_t, TW_EXP_TEMPERED, y, out); break;          \
    case TW_EXP_MOMENTS | TW_EXP_TEMPERED:                                                  \
        body(xc, len, m, inv_t, TW_EXP_MOMENTS | TW_EXP_TEMPERED, y, out);                  \
        break;                                                                              \
    default: body(xc, len, m, inv_t, TW_EXP_WEIGHTS, y, out);                               \
    }

/* ggml's exp (vec.h, ggml_v_expf for AVX-512), as it is there */
TW_AVX512_FN static TW_INLINE __m512 exp16(__m512 x) {
    const __m512 r = _mm512_set1_ps(0x1.8p23f);
    const __m512 z = _mm512_fmadd_ps(x, _mm512_set1_ps(0x1.715476p+0f), r);
    const __m512 n = _mm512_sub_ps(z, r);
    const __m512 b = _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.7f7d1cp-20f),
                                      _mm512_fnmadd_ps(n, _mm512_set1_ps(0x1.62e4p-1f), x));
    const __mmask16 d = _mm512_cmp_ps_mask(_mm512_abs_ps(n), _mm512_set1_ps(192), _CMP_GT_OQ);
    const __m512 u = _mm512_mul_ps(b, b);
    const __m512 j = _mm512_fmadd_ps(
        _mm512_fmadd_ps(_mm512_fmadd_ps(_mm512_set1_ps(0x1.0e4020p-7f), b,
                                        _mm512_set1_ps(0x1.573e2ep-5f)),
                        u,
                        _mm512_fmadd_ps(_mm512_set1_ps(0x1.555e66p-3f), b,
                                        _mm512_set1_ps(0x1.fffdb6p-2f))),
        u, _mm512_fmadd_ps(_mm512_set1_ps(0x1.ffffecp-1f), b, _mm512_set1_ps(1.0f)));
    const __m512 res = _mm512_scalef_ps(j, n);
    if (_mm512_kortestz(d, d)) return res;
    const __m512 zero = _mm512_setzero_ps();
    const __m512 alt = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(n, zero, _CMP_LE_OQ),
                                            _mm512_set1_ps(INFINITY), zero);
    return _mm512_mask_blend_ps(d, res, alt);
}

/* a float vector's 16 lanes, added into two double vectors of 8 */
TW_AVX512_FN static TW_INLINE void add_wide16(__m512d *lo, __m512d *hi, __m512 v) {
    *lo = _mm512_add_pd(*lo, _mm512_cvtps_pd(_mm512_castps512_ps256(v)));
    *hi = _mm512_add_pd(*hi, _mm512_cvtps_pd(_mm256_castpd_ps(
                                 _mm512_extractf64x4_pd(_mm512_castps_pd(v), 1))));
}

/* 16 logits' weights: e = exp(x - m) (the moments'), w = exp(x * inv_t - m * inv_t) (the
 * tempered ones; e itself at inv_t 1) */
TW_AVX512_FN static TW_INLINE __m512 weights16(__m512 v, __m512 vm, __m512 vit, __m512 vmt,
                                               int unit) {
    return exp16(unit ? _mm512_sub_ps(v, vm) : _mm512_fmsub_ps(v, vit, vmt));
}

/* 64 logits' share (4 vectors, or 1, the lanes past the chunk -inf, a weight of 0): their e
 * and w added pairwise, then to z and t; their e * x to two float sums */
TW_AVX512_FN static TW_INLINE void exps64(const __m512 *v, int nv, __m512 vm, __m512 vit,
                                          __m512 vmt, int unit, int what, __m512 *z,
                                          __m512 *s0, __m512 *s1, __m512 *t, __m512 *w_out) {
    const __m512 zero = _mm512_setzero_ps();
    __m512 e[4], w[4];
    for (int q = 0; q < nv; q++) {
        if (what & TW_EXP_MOMENTS) e[q] = exp16(_mm512_sub_ps(v[q], vm));
        if (what & (TW_EXP_TEMPERED | TW_EXP_WEIGHTS))
            w[q] = unit && (what & TW_EXP_MOMENTS) ? e[q] : weights16(v[q], vm, vit, vmt, unit);
    }
    if (what & TW_EXP_MOMENTS) {
        *z = _mm512_add_ps(*z, nv == 4 ? _mm512_add_ps(_mm512_add_ps(e[0], e[1]),
                                                       _mm512_add_ps(e[2], e[3])) : e[0]);
        for (int q = 0; q < nv; q++) {
            const __mmask16 pos = _mm512_cmp_ps_mask(e[q], zero, _CMP_GT_OQ);
            if (q & 1) *s1 = _mm512_mask3_fmadd_ps(e[q], v[q], *s1, pos);
            else *s0 = _mm512_mask3_fmadd_ps(e[q], v[q], *s0, pos);
        }
    }
    if (what & TW_EXP_TEMPERED) {
        *t = _mm512_add_ps(*t, nv == 4 ? _mm512_add_ps(_mm512_add_ps(w[0], w[1]),
                                                       _mm512_add_ps(w[2], w[3])) : w[0]);
    }
    if (what & TW_EXP_WEIGHTS)
        for (int q = 0; q < nv; q++) w_out[q] = w[q];
}

TW_AVX512_FN static TW_INLINE void exps_avx512_body(const float *xc, int len, float m,
                                                    float inv_t, int what, float *y,
                                                    tw_exp_sums *out) {
    const __m512 vm = _mm512_set1_ps(m), vit = _mm512_set1_ps(inv_t);
    const __m512 vmt = _mm512_set1_ps(m * inv_t);
    const int unit = inv_t == 1.0f;
    __m512d zl = _mm512_setzero_pd(), zh = zl, tl = zl, th = zl;
    __m512 s0 = _mm512_setzero_ps(), s1 = s0;
    __m512 v[4], w[4];
    int j = 0;
    /* 256 logits' sums in float, then in double */
    while (j < len) {
        __m512 z = _mm512_setzero_ps(), t = z;
        const int stop = len - j < 256 ? len : j + 256;
        for (; j + 64 <= stop; j += 64) {
            for (int q = 0; q < 4; q++) v[q] = _mm512_loadu_ps(xc + j + 16 * q);
            exps64(v, 4, vm, vit, vmt, unit, what, &z, &s0, &s1, &t, w);
            if (what & TW_EXP_WEIGHTS)
                for (int q = 0; q < 4; q++) _mm512_storeu_ps(y + j + 16 * q, w[q]);
        }
        for (; j < stop; j += 16) {  /* the chunk's last 64 or fewer, a vector at a time */
            const int left = stop - j < 16 ? stop - j : 16;
            const __mmask16 k = (__mmask16)((1u << left) - 1u);
            v[0] = _mm512_mask_loadu_ps(_mm512_set1_ps(-INFINITY), k, xc + j);
            exps64(v, 1, vm, vit, vmt, unit, what, &z, &s0, &s1, &t, w);
            if (what & TW_EXP_WEIGHTS) _mm512_mask_storeu_ps(y + j, k, w[0]);
        }
        if (what & TW_EXP_MOMENTS) add_wide16(&zl, &zh, z);
        if (what & TW_EXP_TEMPERED) add_wide16(&tl, &th, t);
    }
    out->z = _mm512_reduce_add_pd(_mm512_add_pd(zl, zh));
    out->s = _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
    out->t = _mm512_reduce_add_pd(_mm512_add_pd(tl, th));
}

TW_AVX512_FN static void exps_avx512(const float *xc, int len, float m, float inv_t,
                                     int what, float *y, tw_exp_sums *out) {
    TW_EXP_LOOPS(exps_avx512_body);
}

/* ggml's exp (vec.h, ggml_v_expf for AVX2), as it is there */
TW_FMA_FN static TW_INLINE __m256 exp8(__m256 x) {
    const __m256 r = _mm256_set1_ps(0x1.8p23f);
    const __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), r);
    const __m256 n = _mm256_sub_ps(z, r);
    const __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                      _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    const __m256i e = _mm256_slli_epi32(_mm256_castps_si256(z), 23);
    const __m256 k = _mm256_castsi256_ps(
        _mm256_add_epi32(e, _mm256_castps_si256(_mm256_set1_ps(1))));
    const __m256i c = _mm256_castps_si256(
        _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.f), n), _mm256_set1_ps(126),
                      _CMP_GT_OQ));
    const __m256 u = _mm256_mul_ps(b, b);
    const __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b,
                                        _mm256_set1_ps(0x1.573e2ep-5f)),
                        u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b,
                                        _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_mul_ps(_mm256_set1_ps(0x1.ffffecp-1f), b));
    if (!_mm256_movemask_ps(_mm256_castsi256_ps(c))) return _mm256_fmadd_ps(j, k, k);
    const __m256i g = _mm256_and_si256(
        _mm256_castps_si256(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ)),
        _mm256_set1_epi32((int)0x82000000u));
    const __m256 s1 =
        _mm256_castsi256_ps(_mm256_add_epi32(g, _mm256_set1_epi32(0x7f000000)));
    const __m256 s2 = _mm256_castsi256_ps(_mm256_sub_epi32(e, g));
    const __m256i d = _mm256_castps_si256(
        _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.f), n), _mm256_set1_ps(192),
                      _CMP_GT_OQ));
    return _mm256_or_ps(
        _mm256_and_ps(_mm256_castsi256_ps(d), _mm256_mul_ps(s1, s1)),
        _mm256_andnot_ps(
            _mm256_castsi256_ps(d),
            _mm256_or_ps(
                _mm256_and_ps(_mm256_castsi256_ps(c),
                              _mm256_mul_ps(_mm256_fmadd_ps(s2, j, s2), s1)),
                _mm256_andnot_ps(_mm256_castsi256_ps(c), _mm256_fmadd_ps(k, j, k)))));
}

TW_FMA_FN static TW_INLINE void add_wide8(__m256d *lo, __m256d *hi, __m256 v) {
    *lo = _mm256_add_pd(*lo, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    *hi = _mm256_add_pd(*hi, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
}

TW_FMA_FN static TW_INLINE __m256 weights8(__m256 v, __m256 vm, __m256 vit, __m256 vmt,
                                           int unit) {
    return exp8(unit ? _mm256_sub_ps(v, vm) : _mm256_fmsub_ps(v, vit, vmt));
}

/* exps64 in AVX2: 32 logits (4 vectors, or 1) */
TW_FMA_FN static TW_INLINE void exps32(const __m256 *v, int nv, __m256 vm, __m256 vit,
                                       __m256 vmt, int unit, int what, __m256 *z,
                                       __m256 *s0, __m256 *s1, __m256 *t, __m256 *w_out) {
    const __m256 zero = _mm256_setzero_ps();
    __m256 e[4], w[4];
    for (int q = 0; q < nv; q++) {
        if (what & TW_EXP_MOMENTS) e[q] = exp8(_mm256_sub_ps(v[q], vm));
        if (what & (TW_EXP_TEMPERED | TW_EXP_WEIGHTS))
            w[q] = unit && (what & TW_EXP_MOMENTS) ? e[q] : weights8(v[q], vm, vit, vmt, unit);
    }
    if (what & TW_EXP_MOMENTS) {
        *z = _mm256_add_ps(*z, nv == 4 ? _mm256_add_ps(_mm256_add_ps(e[0], e[1]),
                                                       _mm256_add_ps(e[2], e[3])) : e[0]);
        for (int q = 0; q < nv; q++) {
            const __m256 ex = _mm256_and_ps(_mm256_cmp_ps(e[q], zero, _CMP_GT_OQ),
                                            _mm256_mul_ps(e[q], v[q]));
            if (q & 1) *s1 = _mm256_add_ps(*s1, ex);
            else *s0 = _mm256_add_ps(*s0, ex);
        }
    }
    if (what & TW_EXP_TEMPERED) {
        *t = _mm256_add_ps(*t, nv == 4 ? _mm256_add_ps(_mm256_add_ps(w[0], w[1]),
                                                       _mm256_add_ps(w[2], w[3])) : w[0]);
    }
    if (what & TW_EXP_WEIGHTS)
        for (int q = 0; q < nv; q++) w_out[q] = w[q];
}

TW_FMA_FN static TW_INLINE void exps_avx2_body(const float *xc, int len, float m, float inv_t,
                                               int what, float *y, tw_exp_sums *out) {
    const __m256 vm = _mm256_set1_ps(m), vit = _mm256_set1_ps(inv_t);
    const __m256 vmt = _mm256_set1_ps(m * inv_t);
    const int unit = inv_t == 1.0f;
    __m256d zl = _mm256_setzero_pd(), zh = zl, tl = zl, th = zl;
    __m256 s0 = _mm256_setzero_ps(), s1 = s0;
    __m256 v[4], w[4];
    int j = 0;
    /* 128 logits' sums in float, then in double */
    while (j < len) {
        __m256 z = _mm256_setzero_ps(), t = z;
        const int stop = len - j < 128 ? len : j + 128;
        for (; j + 32 <= stop; j += 32) {
            for (int q = 0; q < 4; q++) v[q] = _mm256_loadu_ps(xc + j + 8 * q);
            exps32(v, 4, vm, vit, vmt, unit, what, &z, &s0, &s1, &t, w);
            if (what & TW_EXP_WEIGHTS)
                for (int q = 0; q < 4; q++) _mm256_storeu_ps(y + j + 8 * q, w[q]);
        }
        for (; j < stop; j += 8) {  /* the chunk's last 32 or fewer, a vector at a time */
            const int left = stop - j < 8 ? stop - j : 8;
            float lanes[8];
            for (int q = 0; q < 8; q++) lanes[q] = q < left ? xc[j + q] : -INFINITY;
            v[0] = _mm256_loadu_ps(lanes);
            exps32(v, 1, vm, vit, vmt, unit, what, &z, &s0, &s1, &t, w);
            if (what & TW_EXP_WEIGHTS) {
                _mm256_storeu_ps(lanes, w[0]);
                memcpy(y + j, lanes, sizeof(float) * (size_t)left);
            }
        }
        if (what & TW_EXP_MOMENTS) add_wide8(&zl, &zh, z);
        if (what & TW_EXP_TEMPERED) add_wide8(&tl, &th, t);
    }
    double d[4];
    _mm256_storeu_pd(d, _mm256_add_pd(zl, zh));
    out->z = (d[0] + d[1]) + (d[2] + d[3]);
    _mm256_storeu_pd(d, _mm256_add_pd(tl, th));
    out->t = (d[0] + d[1]) + (d[2] + d[3]);
    float f[8];
    _mm256_storeu_ps(f, _mm256_add_ps(s0, s1));
    out->s = ((f[0] + f[1]) + (f[2] + f[3])) + ((f[4] + f[5]) + (f[6] + f[7]));
}

TW_FMA_FN static void exps_avx2(const float *xc, int len, float m, float inv_t, int what,
                                float *y, tw_exp_sums *out) {
    TW_EXP_LOOPS(exps_avx2_body);
}
#endif


/* Which loop computes the exponentials: at most `level` (0 ggml's softmax kernel, 1 AVX2,
 * 2 AVX-512), as far as the CPU goes; the tests compare them. Returns the level taken. */
TW_EXPORT int tw_simd_exps(int level) {
#ifdef TW_AVX2
    const int cpu = tw_cpu_exp_level();
    tw_exp_level = level < cpu ? (level > 0 ? level : 0) : cpu;
    return tw_exp_level;
#else
    (void)level;
    return 0;
#endif
}

/* One chunk's exponentials (see above): what `what` asks for into out (y: the weights, with
 * TW_EXP_WEIGHTS; else scratch), through ggml's kernel `softmax` where no loop of this file's
 * own runs (tmp: scratch). */
static void chunk_exps(const float *xc, int len, float m, float inv_t, int what,
                       tw_softmax_fn softmax, float *y, float *tmp, tw_exp_sums *out) {
    out->z = out->s = out->t = 0.0;
#ifdef TW_AVX2
    const int level = exp_level();
    if (level == 2) {
        exps_avx512(xc, len, m, inv_t, what, y, out);
        return;
    }
    if (level == 1) {
        exps_avx2(xc, len, m, inv_t, what, y, out);
        return;
    }
#endif
    if (what & TW_EXP_MOMENTS) {
        out->z = softmax(len, y, xc, m);
        out->s = chunk_dot(y, xc, len);
    }
    if (what & (TW_EXP_TEMPERED | TW_EXP_WEIGHTS)) {
        if (inv_t == 1.0f) {
            out->t = (what & TW_EXP_MOMENTS) ? out->z : softmax(len, y, xc, m);
            return;
        }
        int j = 0;
#ifdef TW_AVX2
        if (tw_avx2()) j = scale_avx2(xc, len, inv_t, tmp);
#endif
#ifdef TW_SSE2
        const __m128 sc = _mm_set1_ps(inv_t);
        for (; j + 4 <= len; j += 4) _mm_storeu_ps(tmp + j, _mm_mul_ps(_mm_loadu_ps(xc + j), sc));
#endif
        for (; j < len; j++) tmp[j] = xc[j] * inv_t;
        out->t = softmax(len, y, tmp, m * inv_t);
    }
}

/* The pass runs in two parts, the two halves of the vocabulary (at a chunk boundary), each
 * with its own heap, running max and moments, combined afterwards in a fixed order: on two
 * threads where ggml's decode uses OpenMP (its thread pool, still awake just after the
 * decode, takes the second half), on one otherwise, with the same arithmetic either way. */
typedef void (*tw_parallel_fn)(void (*fn)(void *), void *data, unsigned threads,
                               unsigned flags);
#if defined(_MSC_VER)
#define TW_THREAD_LOCAL __declspec(thread)
#else
#define TW_THREAD_LOCAL __thread
#endif
static TW_THREAD_LOCAL tw_parallel_fn tw_parallel = NULL;

/* GOMP_parallel of the OpenMP runtime ggml's CPU library uses; NULL: one thread. For the
 * calling thread only (its decode's thread count decides: see Engine._use_threads). */
TW_EXPORT void tw_use_parallel(void *gomp_parallel) {
    tw_parallel = (tw_parallel_fn)gomp_parallel;
}

TW_EXPORT int tw_parallel_in_use(void) { return tw_parallel != NULL; }

typedef struct {
    /* in */
    const float *x;
    int a, b;  /* the part: tokens [a, b) */
    int need;
    tw_softmax_fn softmax;
    tw_token *cands;  /* its own region of the candidates */
    int cap;
    double *chunk_sums;
    float *copy;
    float depth;
    float inv_t;  /* tw_tempered: 1 / T, and the max it is relative to in m */
    double *t_sums;  /* tw_scan_tempered: each chunk's tempered sum (NULL: not wanted) */
    int moments;  /* with softmax: fold the moments too (0: the tempered sums alone) */
    /* out */
    float m, low;
    double z, s;
    double tz;  /* the tempered sum, relative to m */
    int count;
    float heap[TW_MAX_NEED];
} tw_part;

/* where the second part starts (n: the vocabulary is too small to cut; each part holds at
 * least TW_MAX_NEED tokens) */
static int second_part(int n) {
    const int chunks = (n + TW_CHUNK - 1) / TW_CHUNK;
    return chunks >= 4 ? (chunks / 2) * TW_CHUNK : n;
}

/* The tempered sum of the vocabulary so far, sum(exp((x - m) / T)) relative to the running
 * max: one chunk's share (chunk_exps) folded in, as fold_chunk folds the moments. */
static void fold_tempered(int c0, int c, float m, float inv_t, float *m_prev, double *tz,
                          double *t_sums, const tw_exp_sums *e) {
    if (m == -INFINITY) {
        t_sums[c] = 0.0;
        return;
    }
    if (m != *m_prev) {
        const double f = *m_prev == -INFINITY ? 0.0
                                              : exp(((double)*m_prev - (double)m) * inv_t);
        *tz *= f;
        for (int q = c0; q < c; q++) t_sums[q] *= f;
        *m_prev = m;
    }
    t_sums[c] = e->t;
    *tz += e->t;
}

#define TW_PART_CHUNKS 256 /* the prepass's reach: a part's first 512k tokens */
#define TW_CHUNK_BLOCKS (TW_CHUNK / TW_BLOCK)

/* each TW_BLOCK floats' largest (NaN never; -inf for none) into bm; how many */
static int block_maxima_c(const float *x, int len, float *bm) {
    int q = 0;
    for (int a = 0; a < len; a += TW_BLOCK, q++) {
        const int end = len - a < TW_BLOCK ? len : a + TW_BLOCK;
        float m = -INFINITY;
        for (int j = a; j < end; j++)
            if (x[j] > m) m = x[j];
        bm[q] = m;
    }
    return q;
}

#ifdef TW_AVX2
TW_AVX2_FN static int block_maxima_avx2(const float *x, int len, float *bm) {
    int q = 0, a = 0;
    const __m256 none = _mm256_set1_ps(-INFINITY);
    for (; a + TW_BLOCK <= len; a += TW_BLOCK, q++) {
        /* max(load, acc): a NaN loaded leaves acc as it was, as `x > m` does */
        __m256 m0 = none, m1 = none, m2 = none, m3 = none;
        for (int j = a; j < a + TW_BLOCK; j += 32) {
            m0 = _mm256_max_ps(_mm256_loadu_ps(x + j), m0);
            m1 = _mm256_max_ps(_mm256_loadu_ps(x + j + 8), m1);
            m2 = _mm256_max_ps(_mm256_loadu_ps(x + j + 16), m2);
            m3 = _mm256_max_ps(_mm256_loadu_ps(x + j + 24), m3);
        }
        const __m256 m = _mm256_max_ps(_mm256_max_ps(m0, m1), _mm256_max_ps(m2, m3));
        __m128 h = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        h = _mm_max_ps(h, _mm_movehl_ps(h, h));
        h = _mm_max_ss(h, _mm_shuffle_ps(h, h, 1));
        bm[q] = _mm_cvtss_f32(h);
    }
    if (a < len) q += block_maxima_c(x + a, len - a, bm + q);
    return q;
}
#endif

/* Whether scan_part takes the prepass below (1, the default) or starts its heap from the
 * part's first logits (0): the same results either way (the tests compare them). */
static int tw_prepass_on = 1;

TW_EXPORT int tw_scan_prepass(int on) {
    tw_prepass_on = on != 0;
    return tw_prepass_on;
}

static int block_maxima(const float *x, int len, float *bm) {
#ifdef TW_AVX2
    if (tw_avx2()) return block_maxima_avx2(x, len, bm);
#endif
    return block_maxima_c(x, len, bm);
}

/* A bound for the part's need-th largest logit: the need-th largest of its blocks' largest
 * (bm, n of them; need <= n), at or below it since `need` logits are at or above it. Counted
 * into bins of 1/8 nat below the part's max m first, so that only the bin it falls in is
 * selected from; all of them where the bins do not reach (a max that is not finite, or `need`
 * of them spread over more than 32 nats). scratch: room for n floats. */
#define TW_BOUND_BINS 256
#define TW_BOUND_PER_NAT 8.0f

static float block_bound(const float *bm, int n, int need, float m, float *scratch) {
    if (isfinite(m)) {
        int counts[TW_BOUND_BINS];
        memset(counts, 0, sizeof counts);
        for (int q = 0; q < n; q++) {
            const float d = (m - bm[q]) * TW_BOUND_PER_NAT;  /* -inf: +inf, the last bin */
            counts[d < (float)(TW_BOUND_BINS - 1) ? (int)d : TW_BOUND_BINS - 1]++;
        }
        int held = 0;
        for (int b = 0; b < TW_BOUND_BINS - 1; b++) {
            if (held + counts[b] < need) {
                held += counts[b];
                continue;
            }
            /* the one it ends in: the (need - held)-th largest of that bin's */
            int k = 0;
            for (int q = 0; q < n; q++) {
                const float d = (m - bm[q]) * TW_BOUND_PER_NAT;
                if (d < (float)(TW_BOUND_BINS - 1) && (int)d == b) scratch[k++] = bm[q];
            }
            return kth_largest(scratch, k, need - held);
        }
    }
    memcpy(scratch, bm, sizeof(float) * (size_t)n);
    return kth_largest(scratch, n, need);
}

/* a part's sums so far, relative to its running max (fold_exps) */
typedef struct {
    double z, s, tz;
    float m_prev, mt_prev;
} tw_folded;

/* one chunk's exponentials (`what`, as chunk_exps takes it; none: nothing) folded into f,
 * relative to the running max m: the moments by fold_chunk, the tempered sum by
 * fold_tempered, into the part's chunk sums (chunk, tmp: scratch) */
static void fold_exps(const tw_part *p, tw_folded *f, int c, const float *xc, int len, float m,
                      float inv_t, int what, float *chunk, float *tmp) {
    if (!what) return;
    const int c0 = p->a / TW_CHUNK;
    tw_exp_sums e = {0.0, 0.0, 0.0};
    if (m != -INFINITY) chunk_exps(xc, len, m, inv_t, what, p->softmax, chunk, tmp, &e);
    if (what & TW_EXP_MOMENTS)
        fold_chunk(c0, c, m, &f->m_prev, &f->z, &f->s, p->chunk_sums, &e);
    if (what & TW_EXP_TEMPERED)
        fold_tempered(c0, c, m, inv_t, &f->mt_prev, &f->tz, p->t_sums, &e);
}

/* scan_part without the prepass (the tests compare the two; a part past its reach): the
 * heap starts from the part's first logits and takes in every logit above its smallest */
static void scan_part_heap(tw_part *p, int what) {
    const float *x = p->x;
    float *heap = p->heap;
    const int need = p->need;
    float chunk[TW_CHUNK];
    float tmp[TW_CHUNK];
    for (int k = 0; k < need; k++) heap[k] = -INFINITY;
    float low = -INFINITY;
    float m = -INFINITY;
    int i = p->a;
    tw_folded f = {0.0, 0.0, 0.0, -INFINITY, -INFINITY};
    int count = 0;
    for (int a = p->a; a < p->b; a += TW_CHUNK) {
        const int len = p->b - a < TW_CHUNK ? p->b - a : TW_CHUNK;
        const int end = a + len;
        m = chunk_max(x + a, len, m);  /* the running max, to the chunk's end */
        /* whether the chunk may hold a token at or above low: a block found so; if not,
         * collect finds nothing */
        int seen = 0;
        for (;;) {
            i = skip16(x, i, end, low, 1);
            if (i + 16 > end) break;
            seen = 1;
            for (int j = i; j < i + 16; j++)
                if (x[j] > low) low = heap_take(heap, need, x[j]);
            i += 16;
        }
        if (i < end) seen = 1;
        for (; i < end; i++)
            if (x[i] > low) low = heap_take(heap, need, x[i]);
        fold_exps(p, &f, a / TW_CHUNK, x + a, len, m, p->inv_t, what, chunk, tmp);
        const float floor = floor_of(low, m, p->depth);
        if (seen || floor != low)
            count = collect(x + a, a, len, floor, NULL, p->cands, p->cap, count);
        if (p->copy != NULL) memcpy(p->copy + a, x + a, sizeof(float) * (size_t)len);
    }
    if (count <= p->cap) count = compact(p->cands, count, floor_of(low, m, p->depth));
    p->m = m;
    p->low = low;
    p->z = f.z;
    p->s = f.s;
    p->tz = f.tz;
    p->count = count;
}

/* One part of the pass: the best `need`, the moments, the candidates (see scan_collect).
 *
 * A prepass over the part (it brings the part into the core's second-level cache, which the
 * main pass then reads) takes each 128-logit block's largest: each chunk's largest, for the
 * running max the moments are relative to, and the bound (block_bound), at or below the
 * part's need-th largest. The main pass collects every token at or above the bound, reading
 * only the blocks whose largest reaches it (a few hundred tokens, where a heap fed in the
 * vocabulary's order takes in need * ln(tokens / need) of them, a sift each); one selection
 * among them gives the part's exact need-th largest, and the candidates are kept down to it.
 * Returns 0 where it cannot: fewer blocks than `need`, or more tokens at the bound than the
 * candidates hold (a crowd just below the best); scan_part_heap then takes the part, with
 * the same numbers. */
typedef char tw_scratch_fits[2 * TW_CHUNK <= TW_PART_CHUNKS * TW_CHUNK_BLOCKS ? 1 : -1];

static int scan_part_bound(tw_part *p, int what) {
    const float *x = p->x;
    float *heap = p->heap;
    const int need = p->need;
    /* the bound's room first, then the chunk's exponentials' (chunk, tmp) */
    float scratch[TW_PART_CHUNKS * TW_CHUNK_BLOCKS];
    float *const chunk = scratch, *const tmp = scratch + TW_CHUNK;
    const int c0 = p->a / TW_CHUNK;
    const int chunks = (p->b - p->a + TW_CHUNK - 1) / TW_CHUNK;
    tw_folded f = {0.0, 0.0, 0.0, -INFINITY, -INFINITY};
    float m = -INFINITY;
    int count = 0;
    float cmax[TW_PART_CHUNKS];
    float bmax[TW_PART_CHUNKS * TW_CHUNK_BLOCKS];
    /* the prepass: each block's largest, each chunk's, and the bound */
    int blocks = 0;
    for (int a = p->a, c = 0; a < p->b; a += TW_CHUNK, c++) {
        const int len = p->b - a < TW_CHUNK ? p->b - a : TW_CHUNK;
        float *bm = bmax + blocks;
        const int nb = block_maxima(x + a, len, bm);
        float cm = -INFINITY;
        for (int q = 0; q < nb; q++)
            if (bm[q] > cm) cm = bm[q];
        cmax[c] = cm;
        blocks += nb;
    }
    if (blocks < need) return 0;  /* no bound: fewer blocks than logits wanted */
    float part_max = -INFINITY;
    for (int c = 0; c < chunks; c++)
        if (cmax[c] > part_max) part_max = cmax[c];
    const float bound = block_bound(bmax, blocks, need, part_max, scratch);
    /* the main pass: every token at or above the bound's floor, read only in the blocks
     * whose largest reaches it, and the exponentials */
    for (int a = p->a, c = 0; a < p->b; a += TW_CHUNK, c++) {
        const int len = p->b - a < TW_CHUNK ? p->b - a : TW_CHUNK;
        if (cmax[c] > m) m = cmax[c];  /* the running max, to the chunk's end */
        fold_exps(p, &f, c0 + c, x + a, len, m, p->inv_t, what, chunk, tmp);
        count = collect(x + a, a, len, floor_of(bound, m, p->depth),
                        bmax + c * TW_CHUNK_BLOCKS, p->cands, p->cap, count);
        if (p->copy != NULL) memcpy(p->copy + a, x + a, sizeof(float) * (size_t)len);
    }
    /* More tokens at or above the bound than the candidates hold (ties, or a crowd just
     * below the best): the heap, whose threshold rises as it reads, takes the part again.
     * Rare; the same numbers either way. */
    if (count > p->cap) return 0;
    /* the part's best `need`: among the candidates, which hold every token at or above the
     * bound, and at least `need` of them (each block's largest at or above it); fewer where
     * the bound is -inf (masked tokens are never candidates): the finite ones, and the rest
     * -inf, as a heap of them would hold */
    float low = -INFINITY;
    for (int k = 0; k < need; k++) heap[k] = -INFINITY;
    float *order = count <= TW_CHUNK ? tmp : (float *)malloc(sizeof(float) * (size_t)count);
    if (order == NULL) return 0;
    for (int q = 0; q < count; q++) order[q] = p->cands[q].logit;
    if (count >= need) {
        low = kth_largest(order, count, need);
        memcpy(heap, order, sizeof(float) * (size_t)need);  /* the best `need` */
    } else {
        memcpy(heap, order, sizeof(float) * (size_t)count);
    }
    if (order != tmp) free(order);
    count = compact(p->cands, count, floor_of(low, m, p->depth));
    p->m = m;
    p->low = low;
    p->z = f.z;
    p->s = f.s;
    p->tz = f.tz;
    p->count = count;
    return 1;
}

/* one part of the pass, as the prepass allows (see scan_part_bound) */
static void scan_part(tw_part *p) {
    /* the exponentials each chunk folds in (none without a softmax kernel: selection alone) */
    const int what = p->softmax == NULL ? 0
        : (p->moments ? TW_EXP_MOMENTS : 0) | (p->t_sums != NULL ? TW_EXP_TEMPERED : 0);
    const int chunks = (p->b - p->a + TW_CHUNK - 1) / TW_CHUNK;
    if (!tw_prepass_on || chunks > TW_PART_CHUNKS || !scan_part_bound(p, what))
        scan_part_heap(p, what);
}

/* one part of tw_moments: the running max and the moments alone, as scan_part folds them */
static void moments_part(tw_part *p) {
    float chunk[TW_CHUNK];
    tw_folded f = {0.0, 0.0, 0.0, -INFINITY, -INFINITY};
    float m = -INFINITY;
    for (int a = p->a; a < p->b; a += TW_CHUNK) {
        const int len = p->b - a < TW_CHUNK ? p->b - a : TW_CHUNK;
        m = chunk_max(p->x + a, len, m);
        fold_exps(p, &f, a / TW_CHUNK, p->x + a, len, m, 1.0f, TW_EXP_MOMENTS, chunk, NULL);
    }
    p->m = m;
    p->z = f.z;
    p->s = f.s;
}

/* one part of tw_tempered: each chunk's sum of exp((x - m) / T), and theirs */
static void tempered_part(tw_part *p) {
    float y[TW_CHUNK], tmp[TW_CHUNK];
    double z = 0.0;
    for (int a = p->a; a < p->b; a += TW_CHUNK) {
        const int len = p->b - a < TW_CHUNK ? p->b - a : TW_CHUNK;
        tw_exp_sums e;
        chunk_exps(p->x + a, len, p->m, p->inv_t, TW_EXP_TEMPERED, p->softmax, y, tmp, &e);
        p->chunk_sums[a / TW_CHUNK] = e.t;
        z += e.t;
    }
    p->z = z;
}

enum { TW_SCAN_PART, TW_MOMENTS_PART, TW_TEMPERED_PART };

typedef struct {
    tw_part *parts;
    int count;
    int next;
    int kind;
} tw_job;

static void run_parts(void *data) {
    tw_job *job = (tw_job *)data;
    for (;;) {
#if defined(__GNUC__) || defined(__clang__)
        const int i = __atomic_fetch_add(&job->next, 1, __ATOMIC_RELAXED);
#else
        const int i = job->next++;  /* no OpenMP runtime to share here: one thread */
#endif
        if (i >= job->count) break;
        if (job->kind == TW_MOMENTS_PART) moments_part(&job->parts[i]);
        else if (job->kind == TW_TEMPERED_PART) tempered_part(&job->parts[i]);
        else scan_part(&job->parts[i]);
    }
}

/* the parts of [0, n) for one pass; returns how many */
static int cut(tw_part *parts, const float *x, int n, tw_softmax_fn softmax,
               double *chunk_sums) {
    const int h = second_part(n);
    parts[0].x = parts[1].x = x;
    parts[0].a = 0;
    parts[0].b = h;
    parts[1].a = h;
    parts[1].b = n;
    for (int q = 0; q < 2; q++) {
        parts[q].softmax = softmax;
        parts[q].chunk_sums = chunk_sums;
        parts[q].t_sums = NULL;
        parts[q].moments = 1;
    }
    return h < n ? 2 : 1;
}

static void run(tw_part *parts, int count, int kind, int threads) {
    tw_job job = {parts, count, 0, kind};
    if (count > 1 && threads > 1 && tw_parallel != NULL) tw_parallel(run_parts, &job, 2, 0);
    else run_parts(&job);
}

/* the parts' moments, relative to the overall max, in a fixed order (and their chunk sums) */
static float overall_max(const tw_part *parts, int count) {
    float m = parts[0].m;
    for (int q = 1; q < count; q++)
        if (parts[q].m > m) m = parts[q].m;
    return m;
}

/* what takes a part's sums of exp((x - its max) / T) to the overall max m; its chunk sums
 * (NULL: none) are rescaled with it */
static double to_overall(const tw_part *p, float m, float inv_t, double *chunk_sums) {
    const double f = p->m == m ? 1.0
        : (p->m == -INFINITY ? 0.0 : exp(((double)p->m - (double)m) * inv_t));
    if (chunk_sums != NULL && f != 1.0)
        for (int c = p->a / TW_CHUNK; c < (p->b + TW_CHUNK - 1) / TW_CHUNK; c++)
            chunk_sums[c] *= f;
    return f;
}

static void combine(tw_part *parts, int count, double *chunk_sums, float *m_out, double *z_out,
                    double *s_out) {
    const float m = overall_max(parts, count);
    double z = 0.0, s = 0.0;
    for (int q = 0; q < count; q++) {
        const double f = to_overall(&parts[q], m, 1.0f, chunk_sums);
        z += parts[q].z * f;
        s += parts[q].s * f;
    }
    *m_out = m;
    *z_out = z;
    *s_out = s;
}

/* The moments tw_scan computes, alone: out receives sum(exp(x - max)) and
 * sum(exp(x - max) * x) (the display's half of a split step), on this thread. */
TW_EXPORT void tw_moments(const float *x, int n, float m_known, tw_softmax_fn softmax,
                          double *out, double *chunk_sums) {
    tw_part parts[2];
    float m;
    (void)m_known;
    const int count = cut(parts, x, n, softmax, chunk_sums);
    run(parts, count, TW_MOMENTS_PART, 1);
    combine(parts, count, chunk_sums, &m, &out[0], &out[1]);
}

/* The pass itself: candidates unsorted (ids ascending), every token at or above the final
 * floor; *low_out receives the heap's smallest. -1: more than cap; -2: bad arguments. */
static int scan_collect(const float *x, int n, int need, tw_softmax_fn softmax,
                        tw_token *cands, int cap, double *out, double *chunk_sums, float *copy,
                        float depth, float *low_out, float inv_t, double *t_sums,
                        double *t_out, int moments) {
    tw_part parts[2];
    if (need < 1 || need > TW_MAX_NEED || need > n || cap < need) return -2;
    const int count = cut(parts, x, n, softmax, chunk_sums);
    /* each part its own region of the candidates: all it could hold, where cap allows */
    const int whole = cap >= n || count == 1;
    if (!whole && cap / 2 < need) return -2;
    for (int q = 0; q < count; q++) {
        parts[q].need = need;
        parts[q].cands = cands + (whole ? (count > 1 ? parts[q].a : 0) : q * (cap / 2));
        parts[q].cap = whole ? (count > 1 ? parts[q].b - parts[q].a : cap) : cap / 2;
        parts[q].copy = copy;
        parts[q].depth = depth;
        parts[q].inv_t = inv_t;
        parts[q].t_sums = softmax != NULL ? t_sums : NULL;
        parts[q].moments = moments;
    }
    run(parts, count, TW_SCAN_PART, 2);
    float m;
    double z, s;
    if (softmax != NULL && moments) {
        combine(parts, count, chunk_sums, &m, &z, &s);
    } else {
        m = overall_max(parts, count);
        z = s = 0.0;
    }
    if (softmax != NULL && t_sums != NULL) {  /* the tempered sums, relative to the overall max */
        double tz = 0.0;
        for (int q = 0; q < count; q++)
            tz += parts[q].tz * to_overall(&parts[q], m, inv_t, t_sums);
        *t_out = tz;
    }
    /* the best `need` overall: the need-th largest of the parts' best `need` */
    float best[2 * TW_MAX_NEED];
    for (int q = 0; q < count; q++)
        memcpy(best + q * need, parts[q].heap, sizeof(float) * (size_t)need);
    const float low = kth_largest(best, count * need, need);
    out[0] = m;
    out[1] = z;
    out[2] = s;
    *low_out = low;
    const float floor = floor_of(low, m, depth);
    if (floor == -FLT_MAX) return -1;  /* a floor at -inf: masked tokens tie at it */
    int total = 0;
    for (int q = 0; q < count; q++) {
        if (parts[q].count > parts[q].cap) return -1;
        const int kept = compact(parts[q].cands, parts[q].count, floor);
        if (q > 0) memmove(cands + total, parts[q].cands, sizeof(tw_token) * (size_t)kept);
        total += kept;
    }
    return total;
}

static int scan(const float *x, int n, int need, tw_softmax_fn softmax, tw_token *cands,
                int cap, double *out, double *chunk_sums, float *copy) {
    float low;
    const int count = scan_collect(x, n, need, softmax, cands, cap, out, chunk_sums, copy,
                                   0.0f, &low, 1.0f, NULL, NULL, 1);
    if (count > 0) sort_cands(cands, count);
    return count;
}

/* tw_scan that also gives the untruncated draw's normaliser at temperature T, in the same
 * pass: t_out receives sum(exp((x - max) / T)), t_sums each chunk's share (see tw_tempered;
 * relative to the running max and rescaled as it rose, as the moments are). moments 0: the
 * tempered sums alone (out[1] and out[2] are 0; a split step's display half has tw_moments
 * compute them), the same bits either way; copy: as tw_scan_copy (NULL: none). */
TW_EXPORT int tw_scan_tempered(const float *x, int n, int need, tw_softmax_fn softmax,
                               tw_token *cands, int cap, double *out, double *chunk_sums,
                               float inv_t, double *t_sums, double *t_out, float *copy,
                               int moments) {
    float low;
    if (softmax == NULL || t_sums == NULL || t_out == NULL) return -2;
    const int count = scan_collect(x, n, need, softmax, cands, cap, out,
                                   moments ? chunk_sums : NULL, copy, 0.0f, &low, inv_t,
                                   t_sums, t_out, moments);
    if (count > 0) sort_cands(cands, count);
    return count;
}

TW_EXPORT int tw_scan(const float *x, int n, int need, tw_softmax_fn softmax,
                      tw_token *cands, int cap, double *out, double *chunk_sums) {
    return scan(x, n, need, softmax, cands, cap, out, chunk_sums, NULL);
}

/* tw_scan that also copies the logits to `copy` chunk by chunk, while each is in L1 (a split
 * step's display half reads the copy while the next decode overwrites the logits) */
TW_EXPORT int tw_scan_copy(const float *x, int n, int need, tw_softmax_fn softmax,
                           tw_token *cands, int cap, double *out, double *chunk_sums,
                           float *copy) {
    return scan(x, n, need, softmax, cands, cap, out, chunk_sums, copy);
}

/* The nucleus of top-p over the whole vocabulary (top-k off), in one call: the pass of
 * tw_scan (the best `need` for the display, the moments), collecting also every token within
 * `depth` nats of the best; from them, sorted, the smallest prefix whose probability
 * exp(x - log Z) (log Z = max + log sum, in double, summed in order as numpy's cumsum does)
 * reaches top_p. Where the tokens collected hold less, it collects again, deeper.
 * Only the part of the collection that can hold the nucleus is sorted: bins of 1/16 nat below
 * the best give each a lower bound of its mass, and the nucleus ends in or before the bin where
 * the bounds reach top_p.
 * Returns how many candidates were written, sorted (the nucleus and at least `need`); out
 * receives max, sum, sum(e * x), the nucleus's size, its probability and its depth (the best
 * logit less its last). 0 in out[3]: invalid numbers (the caller reports them); -1: more than
 * cap tokens to collect; -2: bad arguments. */
#define TW_BINS_PER_NAT 16.0f
#define TW_BINS 1024

static inline int bin_of(float m, float v) {
    const float d = (m - v) * TW_BINS_PER_NAT;
    return d < (float)(TW_BINS - 1) ? (int)d : TW_BINS - 1;
}

/* Moves to the front (in order) the candidates that can hold the nucleus and the display's
 * best: a prefix of them once sorted. All of a bin's tokens lie within 1/16 nat, which bounds
 * its mass from below; the nucleus ends in or before the bin where the bounds reach top_p
 * (one more is kept for rounding). Returns how many; all of them if the bounds fall short. */
static int nucleus_part(tw_token *cands, int count, float m, double log_z, double top_p,
                        float low) {
    int counts[TW_BINS];
    memset(counts, 0, sizeof counts);
    for (int q = 0; q < count; q++) counts[bin_of(m, cands[q].logit)]++;
    int last_bin = -1;
    double lower = 0.0;
    for (int b = 0; b < TW_BINS - 1; b++) {
        if (!counts[b]) continue;
        lower += counts[b] * exp((double)m - (double)(b + 1) / TW_BINS_PER_NAT - log_z);
        if (lower >= top_p) {
            last_bin = b + 1;
            break;
        }
    }
    if (last_bin < 0) return count;
    int kept = 0;
    for (int q = 0; q < count; q++)
        if (bin_of(m, cands[q].logit) <= last_bin || cands[q].logit >= low)
            cands[kept++] = cands[q];
    return kept;
}

/* every token at or above `floor`, ids ascending; -1: more than cap */
static int collect_all(const float *x, int n, float floor, tw_token *cands, int cap) {
    int count = 0;
    for (int a = 0; a < n; a += TW_CHUNK) {
        const int len = n - a < TW_CHUNK ? n - a : TW_CHUNK;
        count = collect(x + a, a, len, floor, NULL, cands, cap, count);
    }
    if (count <= cap) count = compact(cands, count, floor);
    return count > cap ? -1 : count;
}

TW_EXPORT int tw_nucleus(const float *x, int n, int need, tw_softmax_fn softmax,
                         tw_token *cands, int cap, double *out, double top_p, float depth) {
    float low;
    if (!(depth > 0.0f)) depth = 1.0f;
    int count = scan_collect(x, n, need, softmax, cands, cap, out, NULL, NULL, depth, &low,
                             1.0f, NULL, NULL, 1);
    out[3] = out[4] = out[5] = 0.0;
    if (count <= 0) return count;
    const float m = (float)out[0];
    const double z = out[1];
    if (!(isfinite(m) && isfinite(z) && z > 0.0)) {
        sort_cands(cands, count);
        return count;
    }
    const double log_z = (double)m + log(z);
    int bin_cut = 1;
    for (;;) {
        const int kept = bin_cut ? nucleus_part(cands, count, m, log_z, top_p, low) : count;
        sort_cands(cands, kept);
        double cum = 0.0;
        int keep = 0;
        for (int q = 0; q < kept; q++) {
            cum += exp((double)cands[q].logit - log_z);
            if (cum >= top_p) {
                keep = q + 1;
                break;
            }
        }
        if (keep == 0 && kept == count && depth >= 256.0f) keep = kept;  /* all, by rounding */
        if (keep > 0) {
            out[3] = (double)keep;
            out[4] = cum;
            out[5] = (double)m - (double)cands[keep - 1].logit;
            return kept;
        }
        if (kept < count) bin_cut = 0;  /* rounding at a bin's edge: all of them, sorted */
        else depth = depth * 2.0f + 2.0f;  /* what was collected holds less: deeper */
        count = collect_all(x, n, floor_of(low, m, depth), cands, cap);
        if (count <= 0) return count;
    }
}

/* The untruncated distribution softmax(x / T)'s normaliser relative to max: the sum of
 * exp((x - max) / T), and each TW_CHUNK tokens' share of it in chunk_sums (in the pass's two
 * halves, on two threads where it has them). */
TW_EXPORT double tw_tempered(const float *x, int n, float m, float inv_t,
                             tw_softmax_fn softmax, double *chunk_sums) {
    tw_part parts[2];
    const int count = cut(parts, x, n, softmax, chunk_sums);
    for (int q = 0; q < count; q++) {
        parts[q].m = m;
        parts[q].inv_t = inv_t;
    }
    run(parts, count, TW_TEMPERED_PART, 2);
    return count > 1 ? parts[0].z + parts[1].z : parts[0].z;
}

/* Inverse CDF over the unsorted vocabulary: the token where the running sum of the weights
 * exp((x - m) / T) first exceeds target. chunk_sums (from tw_scan or tw_tempered, the
 * skipped tokens' weights taken out) finds the chunk; the chunk's weights are computed again
 * exactly as they were summed, with the `skip` tokens (ascending ids) weighing nothing.
 * A chunk found short of the target adds only what it really holds: a rounding error in a
 * chunk sum moves the draw by no more than that error.
 * A target at or past the total (rounding) gives the last token of positive weight. */
static int pick(const float *x, int n, float m, float inv_t, tw_softmax_fn softmax,
                const double *chunk_sums, double target, const int32_t *skip, int n_skip) {
    float y[TW_CHUNK], tmp[TW_CHUNK];
    int last = -1, s = 0;
    double acc = 0.0;
    for (int a = 0; a < n; a += TW_CHUNK) {
        const int len = n - a < TW_CHUNK ? n - a : TW_CHUNK;
        while (s < n_skip && skip[s] < a) s++;
        /* the last chunk is always computed: a rounding shortfall ends in it */
        if (acc + chunk_sums[a / TW_CHUNK] <= target && a + len < n) {
            acc += chunk_sums[a / TW_CHUNK];
            continue;
        }
        tw_exp_sums e;
        chunk_exps(x + a, len, m, inv_t, TW_EXP_WEIGHTS, softmax, y, tmp, &e);
        for (int q = s; q < n_skip && skip[q] < a + len; q++) y[skip[q] - a] = 0.0f;
        for (int j = 0; j < len; j++) {
            if (y[j] <= 0.0f) continue;
            acc += y[j];
            last = a + j;
            if (acc > target) return last;
        }
    }
    return last;
}

TW_EXPORT int tw_pick(const float *x, int n, float m, float inv_t, tw_softmax_fn softmax,
                      const double *chunk_sums, double target, const int32_t *skip,
                      int n_skip) {
    return pick(x, n, m, inv_t, softmax, chunk_sums, target, skip, n_skip);
}

static int tw_int_order(const void *pa, const void *pb) {
    const int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    return (a > b) - (a < b);
}

/* tw_pick with penalties: the n_pen penalised tokens (w_old / w_new: their tempered weights
 * before and after) are a bucket of their own, drawn from first, in the order given; past it,
 * their old weights are taken out of their chunks' sums and they are skipped. sorted: the
 * same ids ascending (NULL: sorted here). -1: bad arguments. */
static int pick_penalised(const float *x, int n, float m, float inv_t, tw_softmax_fn softmax,
                          const double *chunk_sums, double target, const int32_t *pen_ids,
                          const double *w_old, const double *w_new, int n_pen,
                          const int32_t *sorted) {
    int32_t skip[TW_MAX_NEED];
    double on_stack[2048];
    const int chunks = (n + TW_CHUNK - 1) / TW_CHUNK;
    if (n < 1 || n_pen < 0 || n_pen > TW_MAX_NEED) return -1;
    double bucket = 0.0;
    for (int i = 0; i < n_pen; i++) {
        bucket += w_new[i];
        if (bucket > target) return pen_ids[i];
    }
    target -= bucket;
    double *sums = chunks <= 2048 ? on_stack
                                  : (double *)malloc(sizeof(double) * (size_t)chunks);
    if (sums == NULL) return -1;
    for (int c = 0; c < chunks; c++) sums[c] = chunk_sums[c];
    for (int i = 0; i < n_pen; i++) sums[pen_ids[i] / TW_CHUNK] -= w_old[i];
    if (sorted == NULL) {
        memcpy(skip, pen_ids, sizeof(int32_t) * (size_t)n_pen);
        qsort(skip, (size_t)n_pen, sizeof(int32_t), tw_int_order);
        sorted = skip;
    }
    const int token = pick(x, n, m, inv_t, softmax, sums, target, sorted, n_pen);
    if (sums != on_stack) free(sums);
    return token;
}

TW_EXPORT int tw_pick_penalised(const float *x, int n, float m, float inv_t,
                                tw_softmax_fn softmax, const double *chunk_sums, double target,
                                const int32_t *pen_ids, const double *w_old,
                                const double *w_new, int n_pen) {
    return pick_penalised(x, n, m, inv_t, softmax, chunk_sums, target, pen_ids, w_old, w_new,
                          n_pen, NULL);
}

/* one candidate of the union tw_penalise writes: raw and penalised logits */
typedef struct {
    int32_t id;
    float raw;
    float pen;
} tw_union;

static int tw_union_order(const void *pa, const void *pb) {
    const tw_union *a = (const tw_union *)pa, *b = (const tw_union *)pb;
    if (a->pen != b->pen) return a->pen > b->pen ? -1 : 1;
    if (a->raw != b->raw) return a->raw > b->raw ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

typedef struct {
    int32_t id;
    int32_t at;
} tw_slot;

static int tw_slot_order(const void *pa, const void *pb) {
    const int32_t a = ((const tw_slot *)pa)->id, b = ((const tw_slot *)pb)->id;
    return (a > b) - (a < b);
}

/* The penalties stage for the n_pen distinct tokens of the window, in llama.cpp's arithmetic
 * (a logit at or below 0 multiplied by `repeat`, above it divided; then count * freq, then
 * presence, taken off; all in float), and what the rest of the step needs of it, in one call:
 * old[i] / new_[i]: the logits before and after; w_old[i] / w_new[i]: exp((logit - m) * inv_t);
 * sums: sum exp(old - m), sum exp(new - m), sum w_old, sum w_new;
 * u: the union of the scan's n_cands candidates and the penalised tokens, with both logits,
 * best penalised logit first, equal ones by raw logit (descending), then the lower id.
 * Returns the union's size; -1: more penalised tokens than TW_MAX_NEED. */
static int penalise(const float *x, const int32_t *ids, const int32_t *counts, int n_pen,
                    float repeat, float freq, float presence, double m, double inv_t,
                    float *old, float *new_, double *w_old, double *w_new, double *sums,
                    const tw_token *cands, int n_cands, tw_union *u, int32_t *sorted_ids) {
    tw_slot slots[TW_MAX_NEED];
    tw_union pen[TW_MAX_NEED];
    if (n_pen < 0 || n_pen > TW_MAX_NEED || n_cands < 0) return -1;
    double s_old = 0.0, s_new = 0.0, t_old = 0.0, t_new = 0.0;
    for (int i = 0; i < n_pen; i++) {
        const float v = x[ids[i]];
        float w = v <= 0.0f ? v * repeat : v / repeat;
        w = (w - (float)counts[i] * freq) - presence;
        old[i] = v;
        new_[i] = w;
        s_old += exp((double)v - m);
        s_new += exp((double)w - m);
        w_old[i] = exp(((double)v - m) * inv_t);
        w_new[i] = exp(((double)w - m) * inv_t);
        t_old += w_old[i];
        t_new += w_new[i];
        slots[i].id = ids[i];
        slots[i].at = i;
        pen[i].id = ids[i];
        pen[i].raw = v;
        pen[i].pen = w;
    }
    sums[0] = s_old;
    sums[1] = s_new;
    sums[2] = t_old;
    sums[3] = t_new;
    qsort(slots, (size_t)n_pen, sizeof(tw_slot), tw_slot_order);
    if (sorted_ids != NULL)
        for (int i = 0; i < n_pen; i++) sorted_ids[i] = slots[i].id;
    /* the union in order: the candidates the window leaves alone keep the order they came
     * in (best logit first, the lower id first on equal ones: this order, with pen = raw),
     * merged with the penalised tokens, sorted among themselves */
    qsort(pen, (size_t)n_pen, sizeof(tw_union), tw_union_order);
    int size = 0, p = 0;
    for (int q = 0; q < n_cands; q++) {
        const int32_t id = cands[q].id;
        int lo = 0, hi = n_pen - 1, hit = 0;
        while (lo <= hi) {
            const int mid = (lo + hi) / 2;
            if (slots[mid].id < id) lo = mid + 1;
            else if (slots[mid].id > id) hi = mid - 1;
            else {
                hit = 1;
                break;
            }
        }
        if (hit) continue;  /* among the penalised */
        const tw_union c = {id, cands[q].logit, cands[q].logit};
        while (p < n_pen && tw_union_order(&pen[p], &c) < 0) u[size++] = pen[p++];
        u[size++] = c;
    }
    while (p < n_pen) u[size++] = pen[p++];
    return size;
}

TW_EXPORT int tw_penalise(const float *x, const int32_t *ids, const int32_t *counts, int n_pen,
                          float repeat, float freq, float presence, double m, double inv_t,
                          float *old, float *new_, double *w_old, double *w_new,
                          double *sums, const tw_token *cands, int n_cands, tw_union *u) {
    return penalise(x, ids, counts, n_pen, repeat, freq, presence, m, inv_t, old, new_, w_old,
                    w_new, sums, cands, n_cands, u, NULL);
}

/* The untruncated draw's decision in one call (no truncating stage; see draw.py): the pass of
 * tw_scan_tempered (at T = 1: of tw_scan, whose normaliser is the draw's), the penalties of
 * tw_penalise (pen: the n_pen ids, pen_counts how often each occurs; none: n_pen 0), then
 * the draw of tw_pick / tw_pick_penalised at target uniform * total, where total is the
 * tempered normaliser after penalties. forced >= 0: that token, not drawn. draw_out
 * receives total, the token, its probability exp((logit - max) / T) / total (its penalised
 * logit where it has one) and the union's size (0 without penalties); then, for the caller
 * to read in one go, what the step shows of it (`shown` of each at most): out's max, sum
 * and sum(e * x), what the penalties change in the sum (pen_sums[1] - pen_sums[0]; 0
 * without), how many candidates are shown and how many after penalties, the candidates' ids
 * and raw logits, then the best after penalties: their ids and penalised logits (only with
 * penalties; without, they are the candidates), `shown` places each. Returns the candidates' count as
 * tw_scan does (<= 0: the caller's other path takes the step); -3: the penalties or the draw
 * could not run. A total that is not a positive number (invalid logits) comes back with the
 * token -1. */
TW_EXPORT int tw_untruncated(const float *x, int n, int need, tw_softmax_fn softmax,
                             tw_token *cands, int cap, double *out, double *chunk_sums,
                             float inv_t, double *t_sums, double *t_out, float *copy,
                             int moments, const int32_t *pen, const int32_t *pen_counts,
                             int n_pen, float repeat, float freq, float presence, float *old,
                             float *new_, double *w_old, double *w_new, double *pen_sums,
                             tw_union *u, double uniform, int forced, int shown,
                             double *draw_out) {
    float low;
    int32_t sorted_pen[TW_MAX_NEED];  /* the penalised ids ascending */
    const int tempered = inv_t != 1.0f;
    if (softmax == NULL || t_sums == NULL || t_out == NULL || draw_out == NULL) return -2;
    if (!tempered && !moments) return -2;  /* at T = 1 the normaliser is the moments' */
    const int count = scan_collect(x, n, need, softmax, cands, cap, out,
                                   moments ? chunk_sums : NULL, copy, 0.0f, &low, inv_t,
                                   tempered ? t_sums : NULL, tempered ? t_out : NULL, moments);
    if (count <= 0) return count;
    sort_cands(cands, count);
    const double m = out[0];
    double total = tempered ? *t_out : out[1];
    const double *sums = tempered ? t_sums : chunk_sums;
    int size = 0;
    if (n_pen > 0) {
        size = penalise(x, pen, pen_counts, n_pen, repeat, freq, presence, m, inv_t, old,
                        new_, w_old, w_new, pen_sums, cands, count, u, sorted_pen);
        if (size < 0) return -3;
        total += pen_sums[3] - pen_sums[2];
    }
    draw_out[0] = total;
    draw_out[1] = -1.0;
    draw_out[2] = 0.0;
    draw_out[3] = size;
    if (!(isfinite(total) && total > 0.0)) return count;
    int token = forced;
    if (token < 0) {
        const double target = uniform * total;
        token = n_pen > 0 ? pick_penalised(x, n, (float)m, inv_t, softmax, sums, target, pen,
                                           w_old, w_new, n_pen, sorted_pen)
                          : pick(x, n, (float)m, inv_t, softmax, sums, target, NULL, 0);
        if (token < 0) return -3;
    }
    float logit = x[token];
    for (int i = 0; i < n_pen; i++)
        if (pen[i] == token) {
            logit = new_[i];
            break;
        }
    draw_out[1] = token;
    draw_out[2] = exp(((double)logit - m) * (double)inv_t) * (1.0 / total);
    /* what the step shows */
    const int n_shown = count < shown ? count : shown;
    const int n_head = n_pen > 0 ? (size < shown ? size : shown) : n_shown;
    double *lists = draw_out + 10;
    draw_out[4] = out[0];
    draw_out[5] = out[1];
    draw_out[6] = out[2];
    draw_out[7] = n_pen > 0 ? pen_sums[1] - pen_sums[0] : 0.0;
    draw_out[8] = n_shown;
    draw_out[9] = n_head;
    for (int q = 0; q < n_shown; q++) {
        lists[q] = cands[q].id;
        lists[shown + q] = cands[q].logit;
    }
    for (int q = 0; q < n_head && n_pen > 0; q++) {
        lists[2 * shown + q] = u[q].id;
        lists[3 * shown + q] = u[q].pen;
    }
    return count;
}

/* llama_token_data_array, as llama.h lays it out */
typedef struct {
    tw_token *data;
    size_t size;
    int64_t selected;
    unsigned char sorted;
} tw_token_array;

typedef void (*tw_apply_fn)(void *sampler, tw_token_array *array);

/* llama.cpp's samplers applied in order to the array with its own llama_sampler_apply (NULL:
 * skipped), the array's size after each written to sizes: a step's five stages in one call
 * from Python instead of five */
TW_EXPORT void tw_apply_stages(tw_apply_fn apply, void *const *samplers, int n,
                               tw_token_array *array, int64_t *sizes) {
    for (int i = 0; i < n; i++) {
        if (samplers[i] != NULL) apply(samplers[i], array);
        sizes[i] = (int64_t)array->size;
    }
}

/* What a decision reads before the samplers change the array (temperature scales the
 * logits): the first `shown` candidates' ids and logits, and the first `prefix` candidates'
 * weights exp(logit - best) with their running sums in double (what the stage records are
 * made of); then the array set to its first n_in candidates, sorted, and the samplers
 * applied as tw_apply_stages does; sizes[n_samplers] receives the selected index. */
static void read_then_apply(const tw_token *cands, int n_in, int prefix, double *weights,
                            double *cum, int shown, int32_t *shown_ids, float *shown_logits,
                            tw_apply_fn apply, void *const *samplers, int n_samplers,
                            tw_token_array *array, int64_t *sizes) {
    for (int i = 0; i < shown; i++) {
        shown_ids[i] = cands[i].id;
        shown_logits[i] = cands[i].logit;
    }
    const double first = cands[0].logit;
    double acc = 0.0;
    for (int i = 0; i < prefix; i++) {
        const double w = exp((double)cands[i].logit - first);
        weights[i] = w;
        acc += w;
        cum[i] = acc;
    }
    array->size = (size_t)n_in;
    array->selected = -1;
    array->sorted = 1;
    tw_apply_stages(apply, samplers, n_samplers, array, sizes);
    sizes[n_samplers] = array->selected;
}

/* The stage records' probabilities, as StepSampler._records makes them: for the top-k,
 * top-p and min-p stages (of `survivors[s]` tokens; totals[s] their weights' sum, or NaN
 * for the running sum at the survivors), the first min(rec, survivors, prefix) weights over
 * the total, at recs[s * rec]; the final distribution's first probabilities at
 * recs[3 * rec]; the selected token and its probability at recs[4 * rec] and
 * recs[4 * rec + 1] (none selected: left as they were). */
static void stage_records(const double *weights, const double *cum, int prefix, int rec,
                          const int64_t *survivors, const double *totals,
                          const tw_token_array *array, double *recs) {
    for (int st = 0; st < 3; st++) {
        const int64_t upto = survivors[st] < prefix ? survivors[st] : prefix;
        if (upto <= 0) continue;
        const int64_t len = upto < rec ? upto : rec;
        const double total = isnan(totals[st]) ? cum[upto - 1] : totals[st];
        const double inv = 1.0 / total;
        for (int64_t i = 0; i < len; i++) recs[st * rec + i] = weights[i] * inv;
    }
    const int64_t kept = (int64_t)array->size < rec ? (int64_t)array->size : rec;
    for (int64_t i = 0; i < kept; i++) recs[3 * rec + i] = (double)array->data[i].p;
    if (array->selected >= 0 && (size_t)array->selected < array->size) {
        recs[4 * rec] = (double)array->data[array->selected].id;
        recs[4 * rec + 1] = (double)array->data[array->selected].p;
    }
}

/* A top-k step's decision in one call (top-k on, no penalties; see StepSampler._sample): the
 * pass of tw_scan (softmax NULL: the candidates and the max alone; copy: as tw_scan_copy),
 * then read_then_apply, then the stage records' probabilities (stage_records; the top-k,
 * top-p and min-p stages' sizes at sizes[stage_of[0..2]]; a stage that keeps the whole
 * vocabulary is left to the caller). Returns the candidates' count as tw_scan does (<= 0:
 * the caller's other path takes the step). */
TW_EXPORT int tw_truncated(const float *x, int n, int need, tw_softmax_fn softmax,
                           tw_token *cands, int cap, double *out, double *chunk_sums,
                           float *copy, int n_in, int prefix, double *weights, double *cum,
                           int shown, int32_t *shown_ids, float *shown_logits,
                           tw_apply_fn apply, void *const *samplers, int n_samplers,
                           tw_token_array *array, int64_t *sizes, const int32_t *stage_of,
                           double *recs) {
    const int count = scan(x, n, need, softmax, cands, cap, out, chunk_sums, copy);
    if (count <= 0) return count;
    const int rec = shown;
    if (n_in > count) n_in = count;
    if (prefix > count) prefix = count;
    if (shown > count) shown = count;
    read_then_apply(cands, n_in, prefix, weights, cum, shown, shown_ids, shown_logits, apply,
                    samplers, n_samplers, array, sizes);
    int64_t survivors[3];
    double totals[3];
    for (int st = 0; st < 3; st++) {
        survivors[st] = sizes[stage_of[st]];
        totals[st] = NAN;
        if (survivors[st] >= n) survivors[st] = 0;  /* the caller's */
    }
    stage_records(weights, cum, prefix, rec, survivors, totals, array, recs);
    return count;
}

/* Top-p's decision without top-k, in one call (no penalties, no min-p; see
 * StepSampler._sample): tw_nucleus (out: as it writes it), then read_then_apply on the
 * nucleus, then the stage records' probabilities: top-k keeps the whole vocabulary (its
 * total exp(log Z - best)), top-p and min-p the nucleus (the nucleus's mass times that).
 * Then the selected token's rank in the raw distribution and its raw logit, at
 * recs[4 * shown + 2] and recs[4 * shown + 3], as StepSampler.finish gives them: its place
 * among the candidates shown, else one more than the tokens above it (the nucleus is sorted:
 * the first of its run of equal logits), so that the display half needs no logits.
 * Returns the candidates' count as tw_nucleus does; 0 as well where it found no nucleus
 * (invalid numbers: the caller's other path reports them), before any sampler ran. */
TW_EXPORT int tw_nucleus_draw(const float *x, int n, int need, tw_softmax_fn softmax,
                              tw_token *cands, int cap, double *out, double top_p,
                              float depth, int prefix, double *weights, double *cum,
                              int shown, int32_t *shown_ids, float *shown_logits,
                              tw_apply_fn apply, void *const *samplers, int n_samplers,
                              tw_token_array *array, int64_t *sizes, double *recs) {
    const int count = tw_nucleus(x, n, need, softmax, cands, cap, out, top_p, depth);
    if (count <= 0) return count;
    const double m = out[0], z = out[1];
    const int keep = (int)out[3];
    if (keep <= 0 || keep > count || !(isfinite(m) && isfinite(z) && z > 0.0)) return 0;
    const int rec = shown;
    if (prefix > count) prefix = count;
    if (shown > count) shown = count;
    read_then_apply(cands, keep, prefix, weights, cum, shown, shown_ids, shown_logits, apply,
                    samplers, n_samplers, array, sizes);
    /* as _log_z and _records: log Z = max + log(sum), the whole vocabulary's total
     * relative to the best, the nucleus's its mass times that */
    const double log_z = m + log(z > 1e-300 ? z : 1e-300);
    const double whole = exp(log_z - (double)shown_logits[0]);
    const int64_t survivors[3] = {n, keep, keep};
    const double totals[3] = {whole, out[4] * whole, out[4] * whole};
    stage_records(weights, cum, prefix, rec, survivors, totals, array, recs);
    const int64_t sel = array->selected;
    if (sel >= 0 && (size_t)sel < array->size) {  /* the samplers keep the nucleus's order */
        const float v = x[array->data[sel].id];
        int64_t first = sel;
        if (sel >= shown)
            while (first > 0 && x[array->data[first - 1].id] == v) first--;
        recs[4 * rec + 2] = (double)(first + 1);
        recs[4 * rec + 3] = (double)v;
    }
    return count;
}

/* How many of the n logits are above v (NaN never is, as in numpy's x > v): the rank of a
 * drawn token outside the candidates shown is one more. One pass, no array made. */
#ifdef TW_AVX2
TW_AVX2_FN static int count_above_avx2(const float *x, int n, float v, int64_t *count) {
    const __m256 t = _mm256_set1_ps(v);
    int j = 0;
    for (; j + 16 <= n; j += 16) {
        *count += __builtin_popcount((unsigned)_mm256_movemask_ps(
            _mm256_cmp_ps(_mm256_loadu_ps(x + j), t, _CMP_GT_OQ)));
        *count += __builtin_popcount((unsigned)_mm256_movemask_ps(
            _mm256_cmp_ps(_mm256_loadu_ps(x + j + 8), t, _CMP_GT_OQ)));
    }
    return j;
}
#endif

TW_EXPORT int64_t tw_count_above(const float *x, int n, float v) {
    int64_t count = 0;
    int j = 0;
#ifdef TW_AVX2
    if (tw_avx2()) j = count_above_avx2(x, n, v, &count);
#endif
#ifdef TW_SSE2
    static const unsigned char bits[16] = {0, 1, 1, 2, 1, 2, 2, 3, 1, 2, 2, 3, 2, 3, 3, 4};
    const __m128 t = _mm_set1_ps(v);
    for (; j + 8 <= n; j += 8) {
        count += bits[_mm_movemask_ps(_mm_cmpgt_ps(_mm_loadu_ps(x + j), t))];
        count += bits[_mm_movemask_ps(_mm_cmpgt_ps(_mm_loadu_ps(x + j + 4), t))];
    }
#endif
    for (; j < n; j++) count += x[j] > v;
    return count;
}

/* candidates(cls, ids, pieces, logits, probs): the tuple of cls(id, pieces[id], logit,
 * prob) for the lists ids, logits and probs of one length (cls: a tuple subclass of four
 * fields, the Candidate record; pieces: any mapping, a dict's __missing__ included).
 * What the step record holds, without a Python call per candidate: built just after a
 * decode, on cold caches, that is what costs. */
static PyObject *candidates_tuple(PyTypeObject *cls, PyObject *ids, PyObject *pieces,
                                  PyObject *logits, PyObject *probs);

static PyObject *tw_candidates(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 5 || !PyType_Check(args[0]) ||
        !PyType_IsSubtype((PyTypeObject *)args[0], &PyTuple_Type) || !PyList_Check(args[1]) ||
        !PyList_Check(args[3]) || !PyList_Check(args[4])) {
        PyErr_SetString(PyExc_TypeError,
                        "candidates(cls, ids, pieces, logits, probs): a tuple type, lists");
        return NULL;
    }
    return candidates_tuple((PyTypeObject *)args[0], args[1], args[2], args[3], args[4]);
}

/* the Candidate records of tw_candidates (ids, logits, probs: lists of one length) */
static PyObject *candidates_tuple(PyTypeObject *cls, PyObject *ids, PyObject *pieces,
                                  PyObject *logits, PyObject *probs) {
    const Py_ssize_t n = PyList_GET_SIZE(ids);
    if (PyList_GET_SIZE(logits) != n || PyList_GET_SIZE(probs) != n) {
        PyErr_SetString(PyExc_ValueError, "candidates: ids, logits and probs differ in length");
        return NULL;
    }
    PyObject *out = PyTuple_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *id = PyList_GET_ITEM(ids, i);
        PyObject *piece = PyObject_GetItem(pieces, id);  /* a new reference */
        if (piece == NULL) goto fail;
        PyObject *c = cls->tp_alloc(cls, 4);
        if (c == NULL) {
            Py_DECREF(piece);
            goto fail;
        }
        PyObject *items[3] = {id, PyList_GET_ITEM(logits, i), PyList_GET_ITEM(probs, i)};
        for (int q = 0; q < 3; q++) Py_INCREF(items[q]);
        PyTuple_SET_ITEM(c, 0, items[0]);
        PyTuple_SET_ITEM(c, 1, piece);
        PyTuple_SET_ITEM(c, 2, items[1]);
        PyTuple_SET_ITEM(c, 3, items[2]);
        /* a record of numbers and bytes can be in no reference cycle: the cycle collector
         * need not visit it (it untracks plain tuples so itself, never a subclass's), which
         * keeps a full collection short with a long reply's records in memory */
        if (!PyObject_GC_IsTracked(items[0]) && !PyObject_GC_IsTracked(piece) &&
            !PyObject_GC_IsTracked(items[1]) && !PyObject_GC_IsTracked(items[2]))
            PyObject_GC_UnTrack(c);
        PyTuple_SET_ITEM(out, i, c);
    }
    return out;
fail:
    Py_DECREF(out);
    return NULL;
}

/* exp_scaled(values, offset, scale, factor): [exp((v - offset) * scale) * factor for v in
 * values] for a list of floats, in the same double arithmetic as that Python line (a step's
 * few dozen probabilities, without a bytecode loop on cold caches). */
/* [exp((v - offset) * scale) * factor for v in values], values a list of floats */
static PyObject *exp_list(PyObject *values, double offset, double scale, double factor) {
    const Py_ssize_t n = PyList_GET_SIZE(values);
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        const double v = PyFloat_AsDouble(PyList_GET_ITEM(values, i));
        if (v == -1.0 && PyErr_Occurred()) {
            Py_DECREF(out);
            return NULL;
        }
        PyObject *f = PyFloat_FromDouble(exp((v - offset) * scale) * factor);
        if (f == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, f);
    }
    return out;
}

static PyObject *tw_exp_scaled(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 4 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError,
                        "exp_scaled(values, offset, scale, factor): a list and three floats");
        return NULL;
    }
    const double offset = PyFloat_AsDouble(args[1]);
    const double scale = PyFloat_AsDouble(args[2]);
    const double factor = PyFloat_AsDouble(args[3]);
    if (PyErr_Occurred()) return NULL;
    return exp_list(args[0], offset, scale, factor);
}

/* a Stage record (a tuple type of five) straight from its items; steals none */
static PyObject *stage_new(PyTypeObject *cls, PyObject *name, PyObject *label,
                           PyObject *survivors, PyObject *ids, PyObject *probs) {
    PyObject *st = cls->tp_alloc(cls, 5);
    if (st == NULL) return NULL;
    PyObject *items[5] = {name, label, survivors, ids, probs};
    for (int q = 0; q < 5; q++) {
        Py_INCREF(items[q]);
        PyTuple_SET_ITEM(st, q, items[q]);
    }
    return st;
}

/* step_record(consts, index, text, reason, forced, token, rank, logit, m, z, sum_ex,
 *             cand_ids, cand_logits, head, pen_head, pen_delta, later, total, final_prob)
 *
 * A step's Step record from its decision, in one call: what StepSampler.finish computes
 * (the log-normaliser, the entropy, the candidates' probabilities, the penalties stage, the
 * untruncated draw's stage records) and the Step the engine makes of it, in the same double
 * arithmetic as those Python lines (the tests compare the two). The caller has the moments
 * (z, sum_ex, checked) and the token's rank and raw logit already.
 * consts (one generation's): (Step, Candidate, Stage, pieces, the penalties stage's name and
 * label, the vocabulary's size, untruncated), untruncated None or (1 / T, ((name, label) of
 * top-k, top-p, min-p and temperature))); pen_head None: no penalties; later: the stages
 * after the penalties (the untruncated draw's are made here where total is not None).
 * elapsed_ms is left at 0 for the caller. */
static PyObject *tw_step_record(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    if (nargs != 19 || !PyTuple_Check(args[0]) || PyTuple_GET_SIZE(args[0]) != 8 ||
        !PyList_Check(args[11]) || !PyList_Check(args[12]) || !PyList_Check(args[13]) ||
        !(args[14] == Py_None || PyList_Check(args[14])) || !PyList_Check(args[16])) {
        PyErr_SetString(PyExc_TypeError, "step_record: see its comment for the arguments");
        return NULL;
    }
    PyObject *consts = args[0];
    PyObject *step_cls = PyTuple_GET_ITEM(consts, 0);
    PyObject *cand_cls = PyTuple_GET_ITEM(consts, 1);
    PyObject *stage_cls = PyTuple_GET_ITEM(consts, 2);
    PyObject *pieces = PyTuple_GET_ITEM(consts, 3);
    PyObject *pen_name = PyTuple_GET_ITEM(consts, 4), *pen_label = PyTuple_GET_ITEM(consts, 5);
    PyObject *n_vocab = PyTuple_GET_ITEM(consts, 6), *untruncated = PyTuple_GET_ITEM(consts, 7);
    if (!PyType_Check(cand_cls) || !PyType_Check(stage_cls) ||
        !PyType_IsSubtype((PyTypeObject *)cand_cls, &PyTuple_Type) ||
        !PyType_IsSubtype((PyTypeObject *)stage_cls, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "step_record: Candidate and Stage are tuple types");
        return NULL;
    }
    PyObject *token = args[5], *rank = args[6], *logit_o = args[7];
    PyObject *cand_ids = args[11], *cand_logits = args[12], *head = args[13];
    PyObject *pen_head = args[14], *later = args[16], *total_o = args[17];
    const double logit = PyFloat_AsDouble(logit_o), m = PyFloat_AsDouble(args[8]);
    const double z = PyFloat_AsDouble(args[9]), sum_ex = PyFloat_AsDouble(args[10]);
    const double pen_delta = PyFloat_AsDouble(args[15]);
    const double total = total_o == Py_None ? 0.0 : PyFloat_AsDouble(total_o);
    if (PyErr_Occurred()) return NULL;
    PyObject *probs = NULL, *pen_probs = NULL, *stages = NULL, *cands = NULL, *piece = NULL;
    PyObject *prob = NULL, *log_z_o = NULL, *entropy_o = NULL, *step = NULL;
    PyObject *head_t = NULL, *pen_probs_t = NULL;
    /* log_z = m + log(z); H = log_z - sum_ex / z, not below 0 */
    const double log_z = m + log(z);
    double entropy = log_z - sum_ex / z;
    if (entropy < 0.0) entropy = 0.0;
    probs = exp_list(cand_logits, log_z, 1.0, 1.0);
    if (probs == NULL) goto done;
    PyObject *pen_logits = cand_logits;
    if (pen_head == Py_None) {
        pen_probs = probs;
        Py_INCREF(pen_probs);
    } else {
        /* _log_z: m + log(max(z + pen_delta, 1e-300)), as Python's max takes it */
        const double sum = z + pen_delta;
        pen_probs = exp_list(pen_head, m + log(1e-300 > sum ? 1e-300 : sum), 1.0, 1.0);
        pen_logits = pen_head;
        if (pen_probs == NULL) goto done;
    }
    head_t = PyList_AsTuple(head);
    pen_probs_t = PyList_AsTuple(pen_probs);
    if (head_t == NULL || pen_probs_t == NULL) goto done;
    const int records = total_o != Py_None && untruncated != Py_None;
    const Py_ssize_t n_later = records ? 4 : PyList_GET_SIZE(later);
    stages = PyTuple_New(1 + n_later);
    if (stages == NULL) goto done;
    PyObject *first = stage_new((PyTypeObject *)stage_cls, pen_name, pen_label, n_vocab, head_t,
                                pen_probs_t);
    if (first == NULL) goto done;
    PyTuple_SET_ITEM(stages, 0, first);
    if (records) {  /* UntruncatedDraw.records: the three stages keep the whole vocabulary */
        if (!PyTuple_Check(untruncated) || PyTuple_GET_SIZE(untruncated) != 2 ||
            !PyTuple_Check(PyTuple_GET_ITEM(untruncated, 1)) ||
            PyTuple_GET_SIZE(PyTuple_GET_ITEM(untruncated, 1)) != 4) {
            PyErr_SetString(PyExc_TypeError, "step_record: untruncated is (1 / T, labels)");
            goto done;
        }
        const double inv_t = PyFloat_AsDouble(PyTuple_GET_ITEM(untruncated, 0));
        if (PyErr_Occurred()) goto done;
        PyObject *names = PyTuple_GET_ITEM(untruncated, 1);
        PyObject *shown_ids = PyList_AsTuple(head);
        if (shown_ids == NULL) goto done;
        for (int q = 0; q < 4; q++) {
            PyObject *pair = PyTuple_GET_ITEM(names, q);
            PyObject *st_probs = pen_probs_t;
            Py_INCREF(st_probs);
            if (q == 3) {  /* temperature: the draw's own weights over its normaliser */
                PyObject *tp = exp_list(pen_logits, m, inv_t, 1.0 / total);
                Py_DECREF(st_probs);
                st_probs = tp == NULL ? NULL : PyList_AsTuple(tp);
                Py_XDECREF(tp);
            }
            PyObject *st = NULL;
            if (st_probs != NULL && PyTuple_Check(pair) && PyTuple_GET_SIZE(pair) == 2)
                st = stage_new((PyTypeObject *)stage_cls, PyTuple_GET_ITEM(pair, 0),
                               PyTuple_GET_ITEM(pair, 1), n_vocab, shown_ids, st_probs);
            else if (st_probs != NULL)
                PyErr_SetString(PyExc_TypeError, "step_record: (name, label) pairs");
            Py_XDECREF(st_probs);
            if (st == NULL) {
                Py_DECREF(shown_ids);
                goto done;
            }
            PyTuple_SET_ITEM(stages, 1 + q, st);
        }
        Py_DECREF(shown_ids);
    } else {
        for (Py_ssize_t q = 0; q < n_later; q++) {
            PyObject *st = PyList_GET_ITEM(later, q);
            Py_INCREF(st);
            PyTuple_SET_ITEM(stages, 1 + q, st);
        }
    }
    cands = candidates_tuple((PyTypeObject *)cand_cls, cand_ids, pieces, cand_logits, probs);
    piece = PyObject_GetItem(pieces, token);
    prob = PyFloat_FromDouble(exp(logit - log_z));
    log_z_o = PyFloat_FromDouble(log_z);
    entropy_o = PyFloat_FromDouble(entropy);
    if (cands == NULL || piece == NULL || prob == NULL || log_z_o == NULL || entropy_o == NULL)
        goto done;
    {
        PyObject *zero = PyFloat_FromDouble(0.0);
        if (zero == NULL) goto done;
        /* Step(index, token_id, piece, text, prob, rank, logit, log_z, entropy, candidates,
         *      stages, final_prob, forced, stop_reason, elapsed_ms) */
        PyObject *call[15] = {args[1], token, piece, args[2], prob, rank, logit_o, log_z_o,
                              entropy_o, cands, stages, args[18], args[4], args[3], zero};
        step = PyObject_Vectorcall(step_cls, call, 15, NULL);
        Py_DECREF(zero);
    }
done:
    Py_XDECREF(probs);
    Py_XDECREF(pen_probs);
    Py_XDECREF(head_t);
    Py_XDECREF(pen_probs_t);
    Py_XDECREF(stages);
    Py_XDECREF(cands);
    Py_XDECREF(piece);
    Py_XDECREF(prob);
    Py_XDECREF(log_z_o);
    Py_XDECREF(entropy_o);
    return step;
}

/* ------------------------------------------------------------------ one-call decisions
 *
 * tw_untruncated, tw_truncated and tw_nucleus_draw take two dozen arguments. Through ctypes
 * each call converts every one of them and prepares a foreign call, which just after a decode,
 * on cold caches, costs about 12 us; these take the same arguments, in the same order, as the
 * ctypes bindings do (addresses as ints, None for NULL), converted here, and let the GIL go
 * for the call as ctypes does. */
typedef union {
    void *p;
    long long i;
    double d;
} tw_arg;

/* args by `kinds`: p an address (an int, or None), i an int, d a float (f: one passed as a C
 * float); 0 with an exception set where one does not convert */
static int parse_args(const char *name, PyObject *const *args, Py_ssize_t nargs,
                      const char *kinds, tw_arg *out) {
    const Py_ssize_t want = (Py_ssize_t)strlen(kinds);
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "%s takes %zd arguments (%zd given)", name, want, nargs);
        return 0;
    }
    for (Py_ssize_t q = 0; q < nargs; q++) {
        PyObject *o = args[q];
        switch (kinds[q]) {
        case 'p':
            out[q].p = o == Py_None ? NULL : PyLong_AsVoidPtr(o);
            break;
        case 'i':
            out[q].i = PyLong_AsLongLong(o);
            break;
        default:
            out[q].d = PyFloat_AsDouble(o);
        }
        if (PyErr_Occurred()) {
            PyErr_Format(PyExc_TypeError, "%s: argument %zd does not convert", name, q + 1);
            return 0;
        }
    }
    return 1;
}

static PyObject *tw_untruncated_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    tw_arg a[29];
    if (!parse_args("untruncated", args, nargs, "piippippfpppippifffppppppdiip", a)) return NULL;
    int r;
    Py_BEGIN_ALLOW_THREADS
    r = tw_untruncated((const float *)a[0].p, (int)a[1].i, (int)a[2].i, (tw_softmax_fn)a[3].p,
                       (tw_token *)a[4].p, (int)a[5].i, (double *)a[6].p, (double *)a[7].p,
                       (float)a[8].d, (double *)a[9].p, (double *)a[10].p, (float *)a[11].p,
                       (int)a[12].i, (const int32_t *)a[13].p, (const int32_t *)a[14].p,
                       (int)a[15].i, (float)a[16].d, (float)a[17].d, (float)a[18].d,
                       (float *)a[19].p, (float *)a[20].p, (double *)a[21].p,
                       (double *)a[22].p, (double *)a[23].p, (tw_union *)a[24].p, a[25].d,
                       (int)a[26].i, (int)a[27].i, (double *)a[28].p);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(r);
}
static PyObject *tw_truncated_call(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    tw_arg a[23];
    if (!parse_args("truncated", args, nargs, "piippipppiippippppipppp", a)) return NULL;
    int r;
    Py_BEGIN_ALLOW_THREADS
    r = tw_truncated((const float *)a[0].p, (int)a[1].i, (int)a[2].i, (tw_softmax_fn)a[3].p,
                     (tw_token *)a[4].p, (int)a[5].i, (double *)a[6].p, (double *)a[7].p,
                     (float *)a[8].p, (int)a[9].i, (int)a[10].i, (double *)a[11].p,
                     (double *)a[12].p, (int)a[13].i, (int32_t *)a[14].p, (float *)a[15].p,
                     (tw_apply_fn)a[16].p, (void *const *)a[17].p, (int)a[18].i,
                     (tw_token_array *)a[19].p, (int64_t *)a[20].p, (const int32_t *)a[21].p,
                     (double *)a[22].p);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(r);
}

static PyObject *tw_nucleus_draw_call(PyObject *self, PyObject *const *args,
                                      Py_ssize_t nargs) {
    (void)self;
    tw_arg a[21];
    if (!parse_args("nucleus_draw", args, nargs, "piippipdfippippppippp", a)) return NULL;
    int r;
    Py_BEGIN_ALLOW_THREADS
    r = tw_nucleus_draw((const float *)a[0].p, (int)a[1].i, (int)a[2].i, (tw_softmax_fn)a[3].p,
                        (tw_token *)a[4].p, (int)a[5].i, (double *)a[6].p, a[7].d,
                        (float)a[8].d, (int)a[9].i, (double *)a[10].p, (double *)a[11].p,
                        (int)a[12].i, (int32_t *)a[13].p, (float *)a[14].p,
                        (tw_apply_fn)a[15].p, (void *const *)a[16].p, (int)a[17].i,
                        (tw_token_array *)a[18].p, (int64_t *)a[19].p, (double *)a[20].p);
    Py_END_ALLOW_THREADS
    return PyLong_FromLong(r);
}

/* logits_row(fn, ctx, i): fn(ctx, i) for llama_get_logits_ith's address and a context's, the
 * address it returns as an int (0: none), with the GIL let go as ctypes does (it waits for a
 * GPU's decode to end); the loop asks for it each step, just after the decode */
typedef void *(*tw_row_fn)(void *ctx, int32_t i);

static PyObject *tw_logits_row(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    (void)self;
    tw_arg a[3];
    if (!parse_args("logits_row", args, nargs, "ppi", a)) return NULL;
    if (a[0].p == NULL || a[1].p == NULL) {
        PyErr_SetString(PyExc_ValueError, "logits_row: no function or no context");
        return NULL;
    }
    void *row;
    Py_BEGIN_ALLOW_THREADS
    row = ((tw_row_fn)a[0].p)(a[1].p, (int32_t)a[2].i);
    Py_END_ALLOW_THREADS
    return PyLong_FromVoidPtr(row);
}

/* a list of the n doubles at v, as ints (whole) or floats */
static PyObject *doubles_list(const double *v, Py_ssize_t n, int as_ints) {
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *o = as_ints ? PyLong_FromDouble(v[i]) : PyFloat_FromDouble(v[i]);
        if (o == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, o);
    }
    return out;
}

/* untruncated_numbers(draw_out, shown, moments, penalties): what tw_untruncated wrote to
 * draw_out (see it), as the step's decision reads it: (valid, total, token, its probability,
 * max, z, sum(e * x), the penalties' change in z, the candidates' ids, their logits, the
 * best after penalties and their penalised logits). valid: the max finite, and z a positive
 * number where the moments were computed (moments 0: z and sum(e * x) None); without
 * penalties the best after them are the candidates' list itself, their logits None. */
static PyObject *tw_untruncated_numbers(PyObject *self, PyObject *const *args,
                                        Py_ssize_t nargs) {
    (void)self;
    tw_arg a[4];
    if (!parse_args("untruncated_numbers", args, nargs, "piii", a)) return NULL;
    const double *d = (const double *)a[0].p;
    const Py_ssize_t k = (Py_ssize_t)a[1].i;
    if (d == NULL || k < 0) {
        PyErr_SetString(PyExc_ValueError, "untruncated_numbers: no numbers");
        return NULL;
    }
    const int moments = a[2].i != 0, penalties = a[3].i != 0;
    const double m = d[4], z = d[5];
    const int valid = isfinite(m) && (!moments || (isfinite(z) && z > 0.0));
    const Py_ssize_t shown = (Py_ssize_t)d[8], head_n = (Py_ssize_t)d[9];
    if (shown < 0 || shown > k || head_n < 0 || head_n > k) {
        PyErr_SetString(PyExc_ValueError, "untruncated_numbers: counts past `shown`");
        return NULL;
    }
    PyObject *ids = doubles_list(d + 10, shown, 1);
    PyObject *logits = doubles_list(d + 10 + k, shown, 0);
    PyObject *head = penalties ? doubles_list(d + 10 + 2 * k, head_n, 1) : ids;
    PyObject *pen = penalties ? doubles_list(d + 10 + 3 * k, head_n, 0) : Py_None;
    PyObject *out = NULL;
    if (ids != NULL && logits != NULL && head != NULL && pen != NULL) {
        if (!penalties) {
            Py_INCREF(head);
            Py_INCREF(pen);
        }
        PyObject *zo = moments ? PyFloat_FromDouble(z) : Py_NewRef(Py_None);
        PyObject *so = moments ? PyFloat_FromDouble(d[6]) : Py_NewRef(Py_None);
        /* every N: its reference handed to the tuple (released with it on failure) */
        out = Py_BuildValue("(NddddNNdNNNN)", PyBool_FromLong(valid), d[0], d[1], d[2], m, zo,
                            so, d[7], ids, logits, head, pen);
        return out;
    }
    Py_XDECREF(ids);
    Py_XDECREF(logits);
    if (penalties) {
        Py_XDECREF(head);
        Py_XDECREF(pen);
    }
    return NULL;
}

static PyMethodDef tw_methods[] = {
    {"exp_scaled", (PyCFunction)(void (*)(void))tw_exp_scaled, METH_FASTCALL,
     "exp_scaled(values, offset, scale, factor): [exp((v - offset) * scale) * factor]"},
    {"candidates", (PyCFunction)(void (*)(void))tw_candidates, METH_FASTCALL,
     "candidates(cls, ids, pieces, logits, probs): the step's Candidate records"},
    {"untruncated", (PyCFunction)(void (*)(void))tw_untruncated_call, METH_FASTCALL,
     "untruncated(...): tw_untruncated, its arguments as its ctypes binding takes them"},
    {"truncated", (PyCFunction)(void (*)(void))tw_truncated_call, METH_FASTCALL,
     "truncated(...): tw_truncated, its arguments as its ctypes binding takes them"},
    {"nucleus_draw", (PyCFunction)(void (*)(void))tw_nucleus_draw_call, METH_FASTCALL,
     "nucleus_draw(...): tw_nucleus_draw, its arguments as its ctypes binding takes them"},
    {"logits_row", (PyCFunction)(void (*)(void))tw_logits_row, METH_FASTCALL,
     "logits_row(fn, ctx, i): llama_get_logits_ith(ctx, i) through its address"},
    {"untruncated_numbers", (PyCFunction)(void (*)(void))tw_untruncated_numbers,
     METH_FASTCALL, "untruncated_numbers(draw_out, shown, moments, penalties): the decision"},
    {"step_record", (PyCFunction)(void (*)(void))tw_step_record, METH_FASTCALL,
     "step_record(consts, index, text, reason, forced, token, rank, logit, m, z, sum_ex, "
     "cand_ids, cand_logits, head, pen_head, pen_delta, later, total, final_prob): a Step"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef tw_module = {
    PyModuleDef_HEAD_INIT, "_scan",
    "The inspection's pass over the logits (used via ctypes), and the step's candidates.",
    -1, tw_methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__scan(void) { return PyModule_Create(&tw_module); }
