/* One step's pass over the logits, in C: the part of the inspection that reads the whole
 * vocabulary (see engine_stages.py, which loads this file with ctypes).
 *
 * Between two llama_decode calls the caches are cold, and every numpy call pays for it; this
 * does the whole-vocabulary work in one call:
 *   pass 1: the largest logit and the need-th largest (a small min-heap);
 *   pass 2: sum(exp(x - max)) and sum(exp(x - max) * x) through ggml's own vectorised softmax
 *           kernel, chunk by chunk into a buffer that stays in L1, and every token at or above
 *           the need-th largest logit, which it writes sorted (best first, lower id first on
 *           equal logits, as llama.cpp sorts) into the llama_token_data array the samplers read.
 * It is an optional extension: without it the engine computes the same numbers with numpy.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>

#if defined(__SSE2__) || defined(_M_X64) || (defined(_M_IX86_FP) && _M_IX86_FP >= 2)
#include <emmintrin.h>
#define TW_SSE2 1
#endif

#ifdef _WIN32
#define TW_EXPORT __declspec(dllexport)
#else
#define TW_EXPORT __attribute__((visibility("default")))
#endif

/* llama_token_data: the candidates go straight into the array llama.cpp's samplers read */
typedef struct {
    int32_t id;
    float logit;
    float p;
} tw_token;

/* ggml_vec_soft_max_f32: y = exp(x - max), returns the sum */
typedef double (*tw_softmax_fn)(int n, float *y, const float *x, float max);

#define TW_CHUNK 2048
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

/* Returns how many candidates were written to cands (sorted, best first); out receives
 * max, sum(exp(x - max)), sum(exp(x - max) * x). -1: more than `cap` tokens tie at the
 * threshold; -2: bad arguments. */
TW_EXPORT int tw_scan(const float *x, int n, int need, tw_softmax_fn softmax,
                      tw_token *cands, int cap, double *out) {
    float heap[TW_MAX_NEED];
    float chunk[TW_CHUNK];
    if (need < 1 || need > TW_MAX_NEED || need > n || cap < need || softmax == NULL) return -2;

    /* pass 1 */
    int i;
    float m = x[0];
    for (i = 0; i < need; i++) {
        heap[i] = x[i];
        if (x[i] > m) m = x[i];
    }
    for (int k = need / 2 - 1; k >= 0; k--) sift_down(heap, need, k);
    float low = heap[0];
#ifdef TW_SSE2
    for (; i + 4 <= n; i += 4) {
        __m128 v = _mm_loadu_ps(x + i);
        if (!_mm_movemask_ps(_mm_cmpgt_ps(v, _mm_set1_ps(low)))) continue;
        for (int j = i; j < i + 4; j++) {
            if (x[j] > low) {
                if (x[j] > m) m = x[j];
                low = heap_take(heap, need, x[j]);
            }
        }
    }
#endif
    for (; i < n; i++) {
        if (x[i] > low) {
            if (x[i] > m) m = x[i];
            low = heap_take(heap, need, x[i]);
        }
    }

    /* pass 2 */
    double z = 0.0, s = 0.0;
    int count = 0;
    for (int a = 0; a < n; a += TW_CHUNK) {
        const int len = n - a < TW_CHUNK ? n - a : TW_CHUNK;
        const float *xc = x + a;
        z += softmax(len, chunk, xc, m);
        int j = 0;
        float dot = 0.0f;
#ifdef TW_SSE2
        __m128 acc0 = _mm_setzero_ps(), acc1 = _mm_setzero_ps();
        const __m128 t = _mm_set1_ps(low), zero = _mm_setzero_ps();
        for (; j + 8 <= len; j += 8) {
            const __m128 x0 = _mm_loadu_ps(xc + j), x1 = _mm_loadu_ps(xc + j + 4);
            const __m128 e0 = _mm_loadu_ps(chunk + j), e1 = _mm_loadu_ps(chunk + j + 4);
            /* exp(-inf) * -inf is NaN: a masked token (probability 0) adds nothing */
            acc0 = _mm_add_ps(acc0, _mm_and_ps(_mm_cmpgt_ps(e0, zero), _mm_mul_ps(e0, x0)));
            acc1 = _mm_add_ps(acc1, _mm_and_ps(_mm_cmpgt_ps(e1, zero), _mm_mul_ps(e1, x1)));
            if (!(_mm_movemask_ps(_mm_cmpge_ps(x0, t)) | _mm_movemask_ps(_mm_cmpge_ps(x1, t))))
                continue;
            for (int q = j; q < j + 8; q++) {
                if (xc[q] >= low) {
                    if (count < cap) {
                        cands[count].id = a + q;
                        cands[count].logit = xc[q];
                        cands[count].p = 0.0f;
                    }
                    count++;
                }
            }
        }
        float lanes[4];
        _mm_storeu_ps(lanes, _mm_add_ps(acc0, acc1));
        dot = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
#endif
        for (; j < len; j++) {
            if (chunk[j] > 0.0f) dot += chunk[j] * xc[j];
            if (xc[j] >= low) {
                if (count < cap) {
                    cands[count].id = a + j;
                    cands[count].logit = xc[j];
                    cands[count].p = 0.0f;
                }
                count++;
            }
        }
        s += dot;
    }
    out[0] = m;
    out[1] = z;
    out[2] = s;
    if (count > cap) return -1;

    /* best first; the ids arrived ascending, and insertion sort is stable */
    for (int p = 1; p < count; p++) {
        const tw_token t = cands[p];
        int q = p - 1;
        while (q >= 0 && cands[q].logit < t.logit) {
            cands[q + 1] = cands[q];
            q--;
        }
        cands[q + 1] = t;
    }
    return count;
}

static struct PyModuleDef tw_module = {
    PyModuleDef_HEAD_INIT, "_scan", "The inspection's pass over the logits (used via ctypes).",
    -1, NULL, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__scan(void) { return PyModule_Create(&tw_module); }
