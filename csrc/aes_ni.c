/* AES-256 with AES-NI on 128-bit registers: key schedule, IGE, CBC, CTR and
 * the interleaved multi-message IGE.  Compiled for every x86-64 build; only
 * called after cpu.c has confirmed AES-NI, SSSE3 and SSE4.1. */
#include "internal.h"

#if defined(__x86_64__)

/* Only the functions of this file are compiled for these instructions;
 * cpu.c decides at run time whether they may be called.  gcc and clang spell
 * "target for a region" differently. */
#include <immintrin.h>
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("aes,sse4.1,ssse3"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("aes,sse4.1,ssse3")
#endif

#define LOAD(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define STORE(p, v) _mm_storeu_si128((__m128i *)(void *)(p), (v))

static inline __m128i expand_even(__m128i k, __m128i assist)
{
    assist = _mm_shuffle_epi32(assist, 0xff);
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    return _mm_xor_si128(k, assist);
}

static inline __m128i expand_odd(__m128i k, __m128i assist)
{
    assist = _mm_shuffle_epi32(assist, 0xaa);
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    k = _mm_xor_si128(k, _mm_slli_si128(k, 4));
    return _mm_xor_si128(k, assist);
}

#define EXPAND_PAIR(i, rcon)                                                     \
    rk[i] = expand_even(rk[i - 2], _mm_aeskeygenassist_si128(rk[i - 1], rcon)); \
    rk[i + 1] = expand_odd(rk[i - 1], _mm_aeskeygenassist_si128(rk[i], 0x00))

void mtc_ni_expand_enc(uint64_t *enc, const uint8_t *key32)
{
    __m128i rk[15];
    rk[0] = LOAD(key32);
    rk[1] = LOAD(key32 + 16);
    EXPAND_PAIR(2, 0x01);
    EXPAND_PAIR(4, 0x02);
    EXPAND_PAIR(6, 0x04);
    EXPAND_PAIR(8, 0x08);
    EXPAND_PAIR(10, 0x10);
    EXPAND_PAIR(12, 0x20);
    rk[14] = expand_even(rk[12], _mm_aeskeygenassist_si128(rk[13], 0x40));
    for (int i = 0; i < 15; i++)
        STORE((uint8_t *)enc + 16 * i, rk[i]);
}

/* Decryption schedule for the equivalent inverse cipher, stored in the order
 * it is used (dec[0] is the last encryption round key). */
void mtc_ni_expand_dec(uint64_t *dec, const uint64_t *enc)
{
    const uint8_t *e = (const uint8_t *)enc;
    uint8_t *d = (uint8_t *)dec;
    STORE(d, LOAD(e + 16 * 14));
    for (int i = 1; i < 14; i++)
        STORE(d + 16 * i, _mm_aesimc_si128(LOAD(e + 16 * (14 - i))));
    STORE(d + 16 * 14, LOAD(e));
}

#define LOAD_KEYS(ks, src)                           \
    __m128i ks[15];                                  \
    for (int i_ = 0; i_ < 15; i_++)                  \
        ks[i_] = LOAD((const uint8_t *)(src) + 16 * i_)

#define ENC_MIDDLE(s, k)                             \
    s = _mm_aesenc_si128(s, k[1]);                   \
    s = _mm_aesenc_si128(s, k[2]);                   \
    s = _mm_aesenc_si128(s, k[3]);                   \
    s = _mm_aesenc_si128(s, k[4]);                   \
    s = _mm_aesenc_si128(s, k[5]);                   \
    s = _mm_aesenc_si128(s, k[6]);                   \
    s = _mm_aesenc_si128(s, k[7]);                   \
    s = _mm_aesenc_si128(s, k[8]);                   \
    s = _mm_aesenc_si128(s, k[9]);                   \
    s = _mm_aesenc_si128(s, k[10]);                  \
    s = _mm_aesenc_si128(s, k[11]);                  \
    s = _mm_aesenc_si128(s, k[12]);                  \
    s = _mm_aesenc_si128(s, k[13])

#define DEC_MIDDLE(s, k)                             \
    s = _mm_aesdec_si128(s, k[1]);                   \
    s = _mm_aesdec_si128(s, k[2]);                   \
    s = _mm_aesdec_si128(s, k[3]);                   \
    s = _mm_aesdec_si128(s, k[4]);                   \
    s = _mm_aesdec_si128(s, k[5]);                   \
    s = _mm_aesdec_si128(s, k[6]);                   \
    s = _mm_aesdec_si128(s, k[7]);                   \
    s = _mm_aesdec_si128(s, k[8]);                   \
    s = _mm_aesdec_si128(s, k[9]);                   \
    s = _mm_aesdec_si128(s, k[10]);                  \
    s = _mm_aesdec_si128(s, k[11]);                  \
    s = _mm_aesdec_si128(s, k[12]);                  \
    s = _mm_aesdec_si128(s, k[13])

/* IGE encryption: y_i = E(x_i ^ y_{i-1}) ^ x_{i-1}.  The serial chain is kept
 * to exactly 14 AES instructions per block: the final xor with x_{i-1} and
 * the next block's whitening with x_{i+1} ^ rk0 are folded into the key of
 * aesenclast, and the output y_i is recovered off the chain. */
void mtc_ni_ige_encrypt(const uint64_t *enc, uint8_t *iv32,
                        const uint8_t *in, uint8_t *out, size_t nblocks)
{
    if (nblocks == 0) return;
    LOAD_KEYS(k, enc);
    __m128i y_prev = LOAD(iv32);
    __m128i x_prev = LOAD(iv32 + 16);
    __m128i x = LOAD(in);
    __m128i s = _mm_xor_si128(_mm_xor_si128(x, y_prev), k[0]);
    for (size_t i = 0; i < nblocks; i++) {
        ENC_MIDDLE(s, k);
        __m128i last = _mm_xor_si128(k[14], x_prev);
        if (i + 1 < nblocks) {
            __m128i x_next = LOAD(in + 16 * (i + 1));
            __m128i fold = _mm_xor_si128(x_next, k[0]);
            s = _mm_aesenclast_si128(s, _mm_xor_si128(last, fold));
            __m128i y = _mm_xor_si128(s, fold);
            STORE(out + 16 * i, y);
            x_prev = x;
            x = x_next;
            y_prev = y;
        } else {
            y_prev = _mm_aesenclast_si128(s, last);
            STORE(out + 16 * i, y_prev);
            x_prev = x;
        }
    }
    STORE(iv32, y_prev);
    STORE(iv32 + 16, x_prev);
}

/* IGE decryption: x_i = D(y_i ^ x_{i-1}) ^ y_{i-1}, with the same folding. */
void mtc_ni_ige_decrypt(const uint64_t *dec, uint8_t *iv32,
                        const uint8_t *in, uint8_t *out, size_t nblocks)
{
    if (nblocks == 0) return;
    LOAD_KEYS(k, dec);
    __m128i y_prev = LOAD(iv32);
    __m128i x_prev = LOAD(iv32 + 16);
    __m128i y = LOAD(in);
    __m128i s = _mm_xor_si128(_mm_xor_si128(y, x_prev), k[0]);
    for (size_t i = 0; i < nblocks; i++) {
        DEC_MIDDLE(s, k);
        __m128i last = _mm_xor_si128(k[14], y_prev);
        if (i + 1 < nblocks) {
            __m128i y_next = LOAD(in + 16 * (i + 1));
            __m128i fold = _mm_xor_si128(y_next, k[0]);
            s = _mm_aesdeclast_si128(s, _mm_xor_si128(last, fold));
            __m128i x = _mm_xor_si128(s, fold);
            STORE(out + 16 * i, x);
            y_prev = y;
            y = y_next;
            x_prev = x;
        } else {
            x_prev = _mm_aesdeclast_si128(s, last);
            STORE(out + 16 * i, x_prev);
            y_prev = y;
        }
    }
    STORE(iv32, y_prev);
    STORE(iv32 + 16, x_prev);
}

void mtc_ni_cbc_encrypt(const uint64_t *enc, uint8_t *iv16,
                        const uint8_t *in, uint8_t *out, size_t nblocks)
{
    LOAD_KEYS(k, enc);
    __m128i c = LOAD(iv16);
    for (size_t i = 0; i < nblocks; i++) {
        __m128i s = _mm_xor_si128(_mm_xor_si128(LOAD(in + 16 * i), c), k[0]);
        ENC_MIDDLE(s, k);
        c = _mm_aesenclast_si128(s, k[14]);
        STORE(out + 16 * i, c);
    }
    STORE(iv16, c);
}

/* CBC decryption is parallel: eight blocks in flight hide aesdec latency. */
void mtc_ni_cbc_decrypt(const uint64_t *dec, uint8_t *iv16,
                        const uint8_t *in, uint8_t *out, size_t nblocks)
{
    LOAD_KEYS(k, dec);
    __m128i prev = LOAD(iv16);
    size_t i = 0;
    for (; i + 8 <= nblocks; i += 8) {
        __m128i c[8], s[8];
        for (int j = 0; j < 8; j++) {
            c[j] = LOAD(in + 16 * (i + j));
            s[j] = _mm_xor_si128(c[j], k[0]);
        }
        for (int r = 1; r < 14; r++)
            for (int j = 0; j < 8; j++)
                s[j] = _mm_aesdec_si128(s[j], k[r]);
        for (int j = 0; j < 8; j++) {
            __m128i p = _mm_aesdeclast_si128(s[j], k[14]);
            STORE(out + 16 * (i + j), _mm_xor_si128(p, j ? c[j - 1] : prev));
        }
        prev = c[7];
    }
    for (; i < nblocks; i++) {
        __m128i c = LOAD(in + 16 * i);
        __m128i s = _mm_xor_si128(c, k[0]);
        DEC_MIDDLE(s, k);
        s = _mm_aesdeclast_si128(s, k[14]);
        STORE(out + 16 * i, _mm_xor_si128(s, prev));
        prev = c;
    }
    STORE(iv16, prev);
}

static inline __m128i ctr_block(uint64_t hi, uint64_t lo, __m128i bswap)
{
    return _mm_shuffle_epi8(_mm_set_epi64x((long long)hi, (long long)lo), bswap);
}

/* XOR nblocks of keystream into in -> out and advance the counter. */
void mtc_ni_ctr_blocks(const uint64_t *enc, uint8_t *ctr16,
                       const uint8_t *in, uint8_t *out, size_t nblocks)
{
    LOAD_KEYS(k, enc);
    const __m128i bswap = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
    uint64_t hi, lo;
    mtc_ctr_load(ctr16, &hi, &lo);
    size_t i = 0;
    for (; i + 8 <= nblocks; i += 8) {
        __m128i s[8];
        for (int j = 0; j < 8; j++) {
            uint64_t l = lo + (uint64_t)j;
            uint64_t h = hi + (l < lo);
            s[j] = _mm_xor_si128(ctr_block(h, l, bswap), k[0]);
        }
        uint64_t nlo = lo + 8;
        hi += (nlo < lo);
        lo = nlo;
        for (int r = 1; r < 14; r++)
            for (int j = 0; j < 8; j++)
                s[j] = _mm_aesenc_si128(s[j], k[r]);
        for (int j = 0; j < 8; j++) {
            __m128i ks = _mm_aesenclast_si128(s[j], k[14]);
            STORE(out + 16 * (i + j), _mm_xor_si128(ks, LOAD(in + 16 * (i + j))));
        }
    }
    for (; i < nblocks; i++) {
        __m128i s = _mm_xor_si128(ctr_block(hi, lo, bswap), k[0]);
        lo++;
        hi += (lo == 0);
        ENC_MIDDLE(s, k);
        s = _mm_aesenclast_si128(s, k[14]);
        STORE(out + 16 * i, _mm_xor_si128(s, LOAD(in + 16 * i)));
    }
    mtc_ctr_store(ctr16, hi, lo);
}

/* ---- multi-message IGE: eight independent chains interleaved ----------- */

/* Runs `steps` blocks on every lane (modes.c schedules the lanes). */
static void ni_batch_steps(struct mtc_ige_lane *lanes, int decrypt, size_t steps, uint8_t *state)
{
    (void)state; /* the schedules are read in place */
    for (size_t t = 0; t < steps; t++) {
        __m128i s[MTC_IGE_LANES], a[MTC_IGE_LANES];
        for (int j = 0; j < MTC_IGE_LANES; j++) {
            a[j] = LOAD(lanes[j].in);
            __m128i prev = LOAD(decrypt ? lanes[j].x_prev : lanes[j].y_prev);
            s[j] = _mm_xor_si128(_mm_xor_si128(a[j], prev), LOAD(lanes[j].rk));
        }
        if (decrypt) {
            for (int r = 1; r < 14; r++)
                for (int j = 0; j < MTC_IGE_LANES; j++)
                    s[j] = _mm_aesdec_si128(s[j], LOAD(lanes[j].rk + 2 * r));
            for (int j = 0; j < MTC_IGE_LANES; j++) {
                __m128i x = _mm_aesdeclast_si128(
                    s[j], _mm_xor_si128(LOAD(lanes[j].rk + 28), LOAD(lanes[j].y_prev)));
                STORE(lanes[j].out, x);
                STORE(lanes[j].y_prev, a[j]);
                STORE(lanes[j].x_prev, x);
            }
        } else {
            for (int r = 1; r < 14; r++)
                for (int j = 0; j < MTC_IGE_LANES; j++)
                    s[j] = _mm_aesenc_si128(s[j], LOAD(lanes[j].rk + 2 * r));
            for (int j = 0; j < MTC_IGE_LANES; j++) {
                __m128i y = _mm_aesenclast_si128(
                    s[j], _mm_xor_si128(LOAD(lanes[j].rk + 28), LOAD(lanes[j].x_prev)));
                STORE(lanes[j].out, y);
                STORE(lanes[j].x_prev, a[j]);
                STORE(lanes[j].y_prev, y);
            }
        }
        mtc_ige_lanes_advance(lanes);
    }
}

static const struct mtc_ige_lane_impl ni_lanes = {
    mtc_ni_expand_enc, mtc_ni_expand_dec, mtc_ni_ige_encrypt, mtc_ni_ige_decrypt, ni_batch_steps,
    MTC_IGE_LANES,
};

int mtc_ni_ige_batch(int decrypt, size_t n, const struct mtc_ige_job *jobs)
{
    return mtc_ige_batch_lanes(decrypt, n, jobs, &ni_lanes);
}

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif /* x86 */
