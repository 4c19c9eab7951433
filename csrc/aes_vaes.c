/* VAES on 512-bit registers: four AES blocks per instruction.  Used where the
 * work is parallel (CTR, CBC decryption, many IGE messages at once); a single
 * IGE chain stays on the 128-bit AES-NI code because it is latency bound. */
#include "internal.h"

#if defined(__x86_64__)

/* Only the functions of this file are compiled for these instructions;
 * cpu.c decides at run time whether they may be called.  gcc and clang spell
 * "target for a region" differently. */
#include <immintrin.h>
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("aes,sse4.1,ssse3,avx2,avx512f,avx512vl,avx512bw,vaes"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("aes,sse4.1,ssse3,avx2,avx512f,avx512vl,avx512bw,vaes")
#endif

#define LOAD(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define STORE(p, v) _mm_storeu_si128((__m128i *)(void *)(p), (v))
#define LOADZ(p) _mm512_loadu_si512((const void *)(p))
#define STOREZ(p, v) _mm512_storeu_si512((void *)(p), (v))

static inline void broadcast_keys(__m512i *k, const uint64_t *sched)
{
    for (int i = 0; i < 15; i++)
        k[i] = _mm512_broadcast_i32x4(LOAD((const uint8_t *)sched + 16 * i));
}

void mtc_vaes_ctr_blocks(const uint64_t *enc, uint8_t *ctr16, const uint8_t *in,
                         uint8_t *out, size_t nblocks)
{
    __m512i k[15];
    broadcast_keys(k, enc);
    const __m512i bswap = _mm512_broadcast_i32x4(
        _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    uint64_t hi = 0, lo = 0;
    for (int i = 0; i < 8; i++) {
        hi = (hi << 8) | ctr16[i];
        lo = (lo << 8) | ctr16[8 + i];
    }
    size_t i = 0;
    /* Sixteen blocks per round; the rare chunk whose low word would carry is
     * left to the 128-bit code below. */
    while (i + 16 <= nblocks && lo <= UINT64_MAX - 16) {
        __m512i s[4];
        for (int g = 0; g < 4; g++) {
            uint64_t b = lo + 4 * (uint64_t)g;
            __m512i c = _mm512_set_epi64((long long)hi, (long long)(b + 3), (long long)hi,
                                         (long long)(b + 2), (long long)hi, (long long)(b + 1),
                                         (long long)hi, (long long)b);
            s[g] = _mm512_xor_si512(_mm512_shuffle_epi8(c, bswap), k[0]);
        }
        for (int r = 1; r < 14; r++)
            for (int g = 0; g < 4; g++)
                s[g] = _mm512_aesenc_epi128(s[g], k[r]);
        for (int g = 0; g < 4; g++) {
            __m512i ks = _mm512_aesenclast_epi128(s[g], k[14]);
            STOREZ(out + 16 * i + 64 * g, _mm512_xor_si512(ks, LOADZ(in + 16 * i + 64 * g)));
        }
        lo += 16;
        i += 16;
    }
    for (int j = 7; j >= 0; j--) {
        ctr16[j] = (uint8_t)hi;
        ctr16[8 + j] = (uint8_t)lo;
        hi >>= 8;
        lo >>= 8;
    }
    if (i < nblocks)
        mtc_ni_ctr_blocks(enc, ctr16, in + 16 * i, out + 16 * i, nblocks - i);
}

void mtc_vaes_cbc_decrypt(const uint64_t *dec, uint8_t *iv16, const uint8_t *in,
                          uint8_t *out, size_t nblocks)
{
    __m512i k[15];
    broadcast_keys(k, dec);
    /* `last` keeps the previous ciphertext block in its top 128-bit lane, so
     * alignr can build each vector's "previous blocks" without re-reading
     * input that an in-place call has already overwritten. */
    __m512i last = _mm512_broadcast_i32x4(LOAD(iv16));
    size_t i = 0;
    for (; i + 16 <= nblocks; i += 16) {
        __m512i c[4], s[4];
        for (int g = 0; g < 4; g++) {
            c[g] = LOADZ(in + 16 * i + 64 * g);
            s[g] = _mm512_xor_si512(c[g], k[0]);
        }
        for (int r = 1; r < 14; r++)
            for (int g = 0; g < 4; g++)
                s[g] = _mm512_aesdec_epi128(s[g], k[r]);
        for (int g = 0; g < 4; g++) {
            __m512i prev = _mm512_alignr_epi64(c[g], g ? c[g - 1] : last, 6);
            __m512i p = _mm512_aesdeclast_epi128(s[g], k[14]);
            STOREZ(out + 16 * i + 64 * g, _mm512_xor_si512(p, prev));
        }
        last = c[3];
    }
    uint8_t chain[16];
    STORE(chain, _mm512_extracti32x4_epi32(last, 3));
    if (i < nblocks) {
        mtc_ni_cbc_decrypt(dec, chain, in + 16 * i, out + 16 * i, nblocks - i);
    }
    memcpy(iv16, chain, 16);
}

/* ---- multi-message IGE: eight chains, four per 512-bit register --------- */

#define GROUPS 2   /* more groups spill registers and run slower (measured) */
#define LANES (4 * GROUPS)

struct vaes_batch {
    uint8_t keys[GROUPS][15][64];   /* round r of the four lanes of a group */
    uint8_t y_prev[LANES][16];
    uint8_t x_prev[LANES][16];
    const uint8_t *in[LANES];
    uint8_t *out[LANES];
    size_t left[LANES];
    uint8_t scratch[LANES][16];
};

static void vaes_lane_load(struct vaes_batch *b, int lane, int decrypt,
                           const uint8_t *key, const uint8_t *iv,
                           const uint8_t *in, uint8_t *out, size_t nblocks)
{
    uint64_t enc[30], dec[30];
    mtc_ni_expand_enc(enc, key);
    const uint8_t *sched = (const uint8_t *)enc;
    if (decrypt) {
        mtc_ni_expand_dec(dec, enc);
        sched = (const uint8_t *)dec;
    }
    for (int r = 0; r < 15; r++)
        memcpy(b->keys[lane / 4][r] + 16 * (lane % 4), sched + 16 * r, 16);
    mtc_wipe(enc, sizeof enc);
    mtc_wipe(dec, sizeof dec);
    memcpy(b->y_prev[lane], iv, 16);
    memcpy(b->x_prev[lane], iv + 16, 16);
    b->in[lane] = in;
    b->out[lane] = out;
    b->left[lane] = nblocks;
}

static inline __m512i gather4(const uint8_t *const *p)
{
    __m512i v = _mm512_castsi128_si512(LOAD(p[0]));
    v = _mm512_inserti32x4(v, LOAD(p[1]), 1);
    v = _mm512_inserti32x4(v, LOAD(p[2]), 2);
    return _mm512_inserti32x4(v, LOAD(p[3]), 3);
}

static inline void scatter4(uint8_t *const *p, __m512i v)
{
    STORE(p[0], _mm512_castsi512_si128(v));
    STORE(p[1], _mm512_extracti32x4_epi32(v, 1));
    STORE(p[2], _mm512_extracti32x4_epi32(v, 2));
    STORE(p[3], _mm512_extracti32x4_epi32(v, 3));
}

static void vaes_steps(struct vaes_batch *b, int decrypt, size_t steps)
{
    const uint8_t *in[LANES];
    uint8_t *out[LANES];
    size_t stride[LANES];
    __m512i yp[GROUPS], xp[GROUPS];
    for (int j = 0; j < LANES; j++) {
        in[j] = b->in[j];
        out[j] = b->out[j];
        stride[j] = b->left[j] ? 16 : 0;
    }
    for (int g = 0; g < GROUPS; g++) {
        yp[g] = LOADZ(b->y_prev[4 * g]);
        xp[g] = LOADZ(b->x_prev[4 * g]);
    }
    for (size_t t = 0; t < steps; t++) {
        __m512i a[GROUPS], s[GROUPS];
        for (int g = 0; g < GROUPS; g++) {
            a[g] = gather4(in + 4 * g);
            s[g] = _mm512_xor_si512(_mm512_xor_si512(a[g], decrypt ? xp[g] : yp[g]),
                                    LOADZ(b->keys[g][0]));
        }
        if (decrypt) {
            for (int r = 1; r < 14; r++)
                for (int g = 0; g < GROUPS; g++)
                    s[g] = _mm512_aesdec_epi128(s[g], LOADZ(b->keys[g][r]));
            for (int g = 0; g < GROUPS; g++) {
                __m512i x = _mm512_aesdeclast_epi128(
                    s[g], _mm512_xor_si512(LOADZ(b->keys[g][14]), yp[g]));
                scatter4(out + 4 * g, x);
                yp[g] = a[g];
                xp[g] = x;
            }
        } else {
            for (int r = 1; r < 14; r++)
                for (int g = 0; g < GROUPS; g++)
                    s[g] = _mm512_aesenc_epi128(s[g], LOADZ(b->keys[g][r]));
            for (int g = 0; g < GROUPS; g++) {
                __m512i y = _mm512_aesenclast_epi128(
                    s[g], _mm512_xor_si512(LOADZ(b->keys[g][14]), xp[g]));
                scatter4(out + 4 * g, y);
                xp[g] = a[g];
                yp[g] = y;
            }
        }
        for (int j = 0; j < LANES; j++) {
            in[j] += stride[j];
            out[j] += stride[j];
        }
    }
    for (int g = 0; g < GROUPS; g++) {
        STOREZ(b->y_prev[4 * g], yp[g]);
        STOREZ(b->x_prev[4 * g], xp[g]);
    }
    for (int j = 0; j < LANES; j++) {
        b->in[j] = in[j];
        b->out[j] = out[j];
        if (b->left[j]) b->left[j] -= steps;
    }
}

int mtc_vaes_ige_batch(int decrypt, size_t n, const struct mtc_ige_job *jobs)
{
    /* With fewer than six messages the 128-bit code is as fast. */
    if (n < 6)
        return mtc_ni_ige_batch(decrypt, n, jobs);
    _Alignas(64) struct vaes_batch state;
    struct vaes_batch *b = &state;
    memset(b, 0, sizeof *b);
    int busy[LANES] = {0};
    size_t next = 0;
    int active = 0;
    for (int j = 0; j < LANES; j++) {
        b->in[j] = b->scratch[j];
        b->out[j] = b->scratch[j];
    }
    for (;;) {
        for (int j = 0; j < LANES; j++) {
            if (b->left[j]) continue;
            if (busy[j]) {
                busy[j] = 0;
                active--;
                b->in[j] = b->scratch[j];
                b->out[j] = b->scratch[j];
            }
            while (next < n && jobs[next].nblocks == 0) next++;
            if (next < n) {
                const struct mtc_ige_job *job = &jobs[next];
                vaes_lane_load(b, j, decrypt, job->key, job->iv, job->in, job->out,
                               job->nblocks);
                next++;
                busy[j] = 1;
                active++;
            }
        }
        if (active == 0) break;
        if (active < 3) {
            /* A short tail: finish the stragglers one chain at a time. */
            for (int j = 0; j < LANES; j++) {
                if (!b->left[j]) continue;
                uint64_t sched[30];
                for (int r = 0; r < 15; r++)
                    memcpy((uint8_t *)sched + 16 * r, b->keys[j / 4][r] + 16 * (j % 4), 16);
                uint8_t iv[32];
                memcpy(iv, b->y_prev[j], 16);
                memcpy(iv + 16, b->x_prev[j], 16);
                if (decrypt)
                    mtc_ni_ige_decrypt(sched, iv, b->in[j], b->out[j], b->left[j]);
                else
                    mtc_ni_ige_encrypt(sched, iv, b->in[j], b->out[j], b->left[j]);
                mtc_wipe(sched, sizeof sched);
                b->left[j] = 0;
            }
            continue;
        }
        size_t steps = SIZE_MAX;
        for (int j = 0; j < LANES; j++)
            if (b->left[j] && b->left[j] < steps) steps = b->left[j];
        vaes_steps(b, decrypt, steps);
    }
    mtc_wipe(b, sizeof *b);
    return MTC_OK;
}

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif /* x86-64 */
