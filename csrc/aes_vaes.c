/* VAES: several AES blocks per instruction, for the work that is parallel
 * (CTR, CBC decryption, many IGE messages at once); a single IGE chain stays
 * on the 128-bit AES-NI code because it is latency bound.  Two register
 * widths: 512 bits (four blocks per instruction) where AVX-512 is usable, and
 * 256 bits (two blocks, VEX-encoded with AVX2) on the CPUs that have VAES but
 * no AVX-512, such as AMD Zen 3 or Intel's client cores since Alder Lake.  The
 * entry points at the end pick the width from the features cpu.c found. */
#include "internal.h"

#if defined(__x86_64__)

/* Only the functions of each region below are compiled for its instructions;
 * cpu.c decides at run time whether they may be called.  gcc and clang spell
 * "target for a region" differently.  The 256-bit region must not enable
 * AVX-512: the compiler could then pick EVEX encodings, or ymm16-31, which
 * fault on a CPU without it. */
#include <immintrin.h>

#define LOAD(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define STORE(p, v) _mm_storeu_si128((__m128i *)(void *)(p), (v))

/* ---- 256-bit registers: VAES + AVX2 ------------------------------------- */

/* duplicates: deliberate -- the 256-bit kernels below and the 512-bit ones
 * further down have the same shape (a mode's loop over vectors of blocks) but
 * different types, intrinsics and target regions, which C cannot share without
 * macros that would hide exactly what each region is allowed to emit. */

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("aes,sse4.1,ssse3,avx,avx2,vaes"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("aes,sse4.1,ssse3,avx,avx2,vaes")
#endif

#define LOADY(p) _mm256_loadu_si256((const __m256i *)(const void *)(p))
#define STOREY(p, v) _mm256_storeu_si256((__m256i *)(void *)(p), (v))

static inline void broadcast_keys_y(__m256i *k, const uint64_t *sched)
{
    for (int i = 0; i < 15; i++)
        k[i] = _mm256_broadcastsi128_si256(LOAD((const uint8_t *)sched + 16 * i));
}

/* Sixteen blocks (eight registers) per round, as the 512-bit code: the
 * counter's low word is added in the vector, which is exact because the
 * chunk whose low word would carry is left to the 128-bit code (as is the
 * tail of fewer than sixteen blocks). */
static void vaes256_ctr_blocks(const uint64_t *enc, uint8_t *ctr16, const uint8_t *in,
                               uint8_t *out, size_t nblocks)
{
    __m256i k[15];
    broadcast_keys_y(k, enc);
    const __m256i bswap = _mm256_broadcastsi128_si256(
        _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
    const __m256i two = _mm256_set_epi64x(0, 2, 0, 2);
    const __m256i sixteen = _mm256_set_epi64x(0, 16, 0, 16);
    uint64_t hi, lo;
    mtc_ctr_load(ctr16, &hi, &lo);
    /* counter blocks lo and lo + 1, as (low word, high word) pairs */
    __m256i base = _mm256_set_epi64x((long long)hi, (long long)(lo + 1), (long long)hi,
                                     (long long)lo);
    size_t i = 0;
    while (i + 16 <= nblocks && lo <= UINT64_MAX - 16) {
        __m256i s[8];
        __m256i c = base;
        for (int g = 0; g < 8; g++) {
            s[g] = _mm256_xor_si256(_mm256_shuffle_epi8(c, bswap), k[0]);
            c = _mm256_add_epi64(c, two);
        }
        for (int r = 1; r < 14; r++)
            for (int g = 0; g < 8; g++)
                s[g] = _mm256_aesenc_epi128(s[g], k[r]);
        /* the last round's key absorbs the input: E(c) ^ in in one step */
        for (int g = 0; g < 8; g++) {
            __m256i last = _mm256_xor_si256(k[14], LOADY(in + 16 * i + 32 * g));
            STOREY(out + 16 * i + 32 * g, _mm256_aesenclast_epi128(s[g], last));
        }
        base = _mm256_add_epi64(base, sixteen);
        lo += 16;
        i += 16;
    }
    mtc_ctr_store(ctr16, hi, lo);
    if (i < nblocks)
        mtc_ni_ctr_blocks(enc, ctr16, in + 16 * i, out + 16 * i, nblocks - i);
}

static void vaes256_cbc_decrypt(const uint64_t *dec, uint8_t *iv16, const uint8_t *in,
                                uint8_t *out, size_t nblocks)
{
    __m256i k[15];
    broadcast_keys_y(k, dec);
    /* `last` keeps the previous ciphertext block in its upper 128-bit lane, so
     * a cross-lane permute builds each register's "previous blocks" without
     * re-reading input that an in-place call has already overwritten. */
    __m256i last = _mm256_broadcastsi128_si256(LOAD(iv16));
    size_t i = 0;
    for (; i + 16 <= nblocks; i += 16) {
        __m256i c[8], s[8];
        for (int g = 0; g < 8; g++) {
            c[g] = LOADY(in + 16 * i + 32 * g);
            s[g] = _mm256_xor_si256(c[g], k[0]);
        }
        for (int r = 1; r < 14; r++)
            for (int g = 0; g < 8; g++)
                s[g] = _mm256_aesdec_epi128(s[g], k[r]);
        for (int g = 0; g < 8; g++) {
            /* (upper block of the register before, lower block of this one) */
            __m256i prev = _mm256_permute2x128_si256(g ? c[g - 1] : last, c[g], 0x21);
            __m256i key = _mm256_xor_si256(k[14], prev);
            STOREY(out + 16 * i + 32 * g, _mm256_aesdeclast_epi128(s[g], key));
        }
        last = c[7];
    }
    uint8_t chain[16];
    STORE(chain, _mm256_extracti128_si256(last, 1));
    if (i < nblocks)
        mtc_ni_cbc_decrypt(dec, chain, in + 16 * i, out + 16 * i, nblocks - i);
    memcpy(iv16, chain, 16);
}

/* Multi-message IGE: twelve chains, two per register, six registers in
 * flight.  Measured on a Zen 3 (192 messages of 4 KiB): 12 lanes 5.0 GB/s,
 * 14 lanes 4.9, 16 lanes 4.1 (the chaining state no longer fits the sixteen
 * ymm registers), 8 lanes 2.9.  modes.c schedules the lanes
 * (mtc_ige_batch_lanes); `steps` copies the lanes' round keys pairwise into
 * contiguous memory once per call, so that each round is one 256-bit load
 * per register, and keeps the chaining blocks in registers. */
#define V256_LANES 12
#define V256_GROUPS (V256_LANES / 2)
_Static_assert(V256_LANES <= MTC_IGE_LANES_MAX && V256_LANES % 2 == 0, "two lanes per register, within the scheduler's bound");
_Static_assert(V256_GROUPS * 15 * 32 <= MTC_IGE_KERNEL_STATE, "the pairwise schedules fit the kernel state");

static inline __m256i gather2(const uint8_t *lo, const uint8_t *hi)
{
    return _mm256_inserti128_si256(_mm256_castsi128_si256(LOAD(lo)), LOAD(hi), 1);
}

static inline void scatter2(uint8_t *lo, uint8_t *hi, __m256i v)
{
    STORE(lo, _mm256_castsi256_si128(v));
    STORE(hi, _mm256_extracti128_si256(v, 1));
}

static void vaes256_ige_steps(struct mtc_ige_lane *lanes, int decrypt, size_t steps,
                              uint8_t *state)
{
    /* The pairwise schedules live in the scheduler's state across calls: a
     * lane's are copied only when it takes a new job, so that a call of a
     * few steps (staggered lanes refill one at a time) costs little more. */
    uint8_t (*keys)[15][32] = (uint8_t (*)[15][32])state;
    const uint8_t *in[V256_LANES];
    uint8_t *out[V256_LANES];
    size_t stride[V256_LANES];
    __m256i yp[V256_GROUPS], xp[V256_GROUPS];
    for (int j = 0; j < V256_LANES; j++) {
        if (lanes[j].fresh) {
            for (int r = 0; r < 15; r++)
                memcpy(keys[j / 2][r] + 16 * (j % 2), (const uint8_t *)lanes[j].rk + 16 * r, 16);
            lanes[j].fresh = 0;
        }
        in[j] = lanes[j].in;
        out[j] = lanes[j].out;
        stride[j] = lanes[j].left ? 16 : 0;
    }
    for (int g = 0; g < V256_GROUPS; g++) {
        yp[g] = gather2(lanes[2 * g].y_prev, lanes[2 * g + 1].y_prev);
        xp[g] = gather2(lanes[2 * g].x_prev, lanes[2 * g + 1].x_prev);
    }
    for (size_t t = 0; t < steps; t++) {
        __m256i a[V256_GROUPS], s[V256_GROUPS];
        for (int g = 0; g < V256_GROUPS; g++) {
            a[g] = gather2(in[2 * g], in[2 * g + 1]);
            s[g] = _mm256_xor_si256(_mm256_xor_si256(a[g], decrypt ? xp[g] : yp[g]),
                                    LOADY(keys[g][0]));
        }
        if (decrypt) {
            for (int r = 1; r < 14; r++)
                for (int g = 0; g < V256_GROUPS; g++)
                    s[g] = _mm256_aesdec_epi128(s[g], LOADY(keys[g][r]));
            for (int g = 0; g < V256_GROUPS; g++) {
                __m256i x = _mm256_aesdeclast_epi128(
                    s[g], _mm256_xor_si256(LOADY(keys[g][14]), yp[g]));
                scatter2(out[2 * g], out[2 * g + 1], x);
                yp[g] = a[g];
                xp[g] = x;
            }
        } else {
            for (int r = 1; r < 14; r++)
                for (int g = 0; g < V256_GROUPS; g++)
                    s[g] = _mm256_aesenc_epi128(s[g], LOADY(keys[g][r]));
            for (int g = 0; g < V256_GROUPS; g++) {
                __m256i y = _mm256_aesenclast_epi128(
                    s[g], _mm256_xor_si256(LOADY(keys[g][14]), xp[g]));
                scatter2(out[2 * g], out[2 * g + 1], y);
                xp[g] = a[g];
                yp[g] = y;
            }
        }
        for (int j = 0; j < V256_LANES; j++) {
            in[j] += stride[j];
            out[j] += stride[j];
        }
    }
    for (int g = 0; g < V256_GROUPS; g++) {
        scatter2(lanes[2 * g].y_prev, lanes[2 * g + 1].y_prev, yp[g]);
        scatter2(lanes[2 * g].x_prev, lanes[2 * g + 1].x_prev, xp[g]);
    }
    for (int j = 0; j < V256_LANES; j++) {
        lanes[j].in = in[j];
        lanes[j].out = out[j];
        if (lanes[j].left) lanes[j].left -= steps;
    }
    /* The schedules stay in `state` for the next call; the scheduler wipes it. */
}

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

/* ---- 512-bit registers: VAES + AVX-512 ---------------------------------- */

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("aes,sse4.1,ssse3,avx2,avx512f,avx512vl,avx512bw,vaes"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("aes,sse4.1,ssse3,avx2,avx512f,avx512vl,avx512bw,vaes")
#endif

#define LOADZ(p) _mm512_loadu_si512((const void *)(p))
#define STOREZ(p, v) _mm512_storeu_si512((void *)(p), (v))

static inline void broadcast_keys(__m512i *k, const uint64_t *sched)
{
    for (int i = 0; i < 15; i++)
        k[i] = _mm512_broadcast_i32x4(LOAD((const uint8_t *)sched + 16 * i));
}

static void vaes512_ctr_blocks(const uint64_t *enc, uint8_t *ctr16, const uint8_t *in,
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

static void vaes512_cbc_decrypt(const uint64_t *dec, uint8_t *iv16, const uint8_t *in,
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

static int vaes512_ige_batch(int decrypt, size_t n, const struct mtc_ige_job *jobs)
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

/* ---- entry points: the width the CPU allows --------------------------- */

/* cpu.c sets MTC_CPU_VAES for the 256-bit forms; the 512-bit kernels also
 * need MTC_CPU_AVX512 (mtc_rt.cpu is filled in by mtc_select_backend, which
 * has run whenever the vaes backend is in use). */
static int zmm_usable(void)
{
    return (mtc_rt.cpu & MTC_CPU_AVX512) != 0;
}

void mtc_vaes_ctr_blocks(const uint64_t *enc, uint8_t *ctr16, const uint8_t *in,
                         uint8_t *out, size_t nblocks)
{
    if (zmm_usable())
        vaes512_ctr_blocks(enc, ctr16, in, out, nblocks);
    else
        vaes256_ctr_blocks(enc, ctr16, in, out, nblocks);
}

void mtc_vaes_cbc_decrypt(const uint64_t *dec, uint8_t *iv16, const uint8_t *in,
                          uint8_t *out, size_t nblocks)
{
    if (zmm_usable())
        vaes512_cbc_decrypt(dec, iv16, in, out, nblocks);
    else
        vaes256_cbc_decrypt(dec, iv16, in, out, nblocks);
}

static const struct mtc_ige_lane_impl vaes256_lanes = {
    mtc_ni_expand_enc, mtc_ni_expand_dec, mtc_ni_ige_encrypt, mtc_ni_ige_decrypt,
    vaes256_ige_steps, V256_LANES,
};

int mtc_vaes_ige_batch(int decrypt, size_t n, const struct mtc_ige_job *jobs)
{
    if (zmm_usable())
        return vaes512_ige_batch(decrypt, n, jobs);
    /* Up to eight messages the AES-NI code's eight lanes hold them all (and
     * measure as fast). */
    if (n <= MTC_IGE_LANES)
        return mtc_ni_ige_batch(decrypt, n, jobs);
    return mtc_ige_batch_lanes(decrypt, n, jobs, &vaes256_lanes);
}

#endif /* x86-64 */
