/*
 * SHA-1 and SHA-256 (FIPS 180-4).
 *
 * Two compression-function implementations per hash:
 *   - portable C99, endian-neutral byte loads, no branches on data;
 *   - Intel SHA extensions (SHA-NI) via intrinsics, compiled with a
 *     per-function target attribute so the file itself needs no -m flags;
 *   - on aarch64, the ARMv8 SHA1/SHA2 extensions, likewise.
 * mtc_sha256_blocks()/mtc_sha1_blocks() pick one at run time from
 * mtc_rt.sha_ni (set by cpu.c only when the CPU reports SHA, SSSE3, SSE4.1 on
 * x86, or HWCAP_SHA1 and HWCAP_SHA2 on aarch64).
 *
 * The streaming update functions hash whole blocks straight from the caller's
 * buffer and only copy a partial block into ctx->buf.
 */
#include "internal.h"

#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__)
#define MTC_SHA_X86 1
#include <immintrin.h>
#else
#define MTC_SHA_X86 0
#endif

#if MTC_ARMV8
#include <arm_neon.h>
#endif

/* ------------------------------------------------------------------------ */
/* Helpers                                                                  */
/* ------------------------------------------------------------------------ */

static inline uint32_t load_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
           ((uint32_t)p[2] << 8) | (uint32_t)p[3];
}

static inline void store_be32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static inline void store_be64(uint8_t *p, uint64_t v)
{
    store_be32(p, (uint32_t)(v >> 32));
    store_be32(p + 4, (uint32_t)v);
}

static inline uint32_t rotr32(uint32_t x, unsigned n)
{
    return (x >> n) | (x << (32 - n));
}

static inline uint32_t rotl32(uint32_t x, unsigned n)
{
    return (x << n) | (x >> (32 - n));
}

/* ------------------------------------------------------------------------ */
/* SHA-256, portable                                                        */
/* ------------------------------------------------------------------------ */

static const uint32_t K256[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1,
    0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3,
    0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
    0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
    0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
    0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
    0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
    0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
    0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
};

#define S256_BSIG0(x) (rotr32((x), 2) ^ rotr32((x), 13) ^ rotr32((x), 22))
#define S256_BSIG1(x) (rotr32((x), 6) ^ rotr32((x), 11) ^ rotr32((x), 25))
#define S256_SSIG0(x) (rotr32((x), 7) ^ rotr32((x), 18) ^ ((x) >> 3))
#define S256_SSIG1(x) (rotr32((x), 17) ^ rotr32((x), 19) ^ ((x) >> 10))
#define S256_CH(x, y, z) ((z) ^ ((x) & ((y) ^ (z))))
#define S256_MAJ(x, y, z) (((x) & (y)) | ((z) & ((x) | (y))))

/* W[i & 15] <- W[t-16] + s0(W[t-15]) + W[t-7] + s1(W[t-2]) */
#define S256_SCHED(i)                                                        \
    (w[(i) & 15] += S256_SSIG1(w[((i) + 14) & 15]) + w[((i) + 9) & 15] +      \
                    S256_SSIG0(w[((i) + 1) & 15]))

/* One round; the register roles rotate instead of the values moving. */
#define S256_ROUND(a, b, c, d, e, f, g, h, wi, ki)                           \
    do {                                                                     \
        uint32_t t1_ = (h) + S256_BSIG1(e) + S256_CH(e, f, g) + (ki) + (wi); \
        uint32_t t2_ = S256_BSIG0(a) + S256_MAJ(a, b, c);                     \
        (d) += t1_;                                                          \
        (h) = t1_ + t2_;                                                     \
    } while (0)

#define S256_8ROUNDS_LOAD(j)                                                  \
    do {                                                                      \
        S256_ROUND(a, b, c, d, e, f, g, h, w[(j) + 0], K256[(j) + 0]);        \
        S256_ROUND(h, a, b, c, d, e, f, g, w[(j) + 1], K256[(j) + 1]);        \
        S256_ROUND(g, h, a, b, c, d, e, f, w[(j) + 2], K256[(j) + 2]);        \
        S256_ROUND(f, g, h, a, b, c, d, e, w[(j) + 3], K256[(j) + 3]);        \
        S256_ROUND(e, f, g, h, a, b, c, d, w[(j) + 4], K256[(j) + 4]);        \
        S256_ROUND(d, e, f, g, h, a, b, c, w[(j) + 5], K256[(j) + 5]);        \
        S256_ROUND(c, d, e, f, g, h, a, b, w[(j) + 6], K256[(j) + 6]);        \
        S256_ROUND(b, c, d, e, f, g, h, a, w[(j) + 7], K256[(j) + 7]);        \
    } while (0)

#define S256_16ROUNDS_SCHED(t)                                                \
    do {                                                                      \
        S256_ROUND(a, b, c, d, e, f, g, h, S256_SCHED(0), K256[(t) + 0]);     \
        S256_ROUND(h, a, b, c, d, e, f, g, S256_SCHED(1), K256[(t) + 1]);     \
        S256_ROUND(g, h, a, b, c, d, e, f, S256_SCHED(2), K256[(t) + 2]);     \
        S256_ROUND(f, g, h, a, b, c, d, e, S256_SCHED(3), K256[(t) + 3]);     \
        S256_ROUND(e, f, g, h, a, b, c, d, S256_SCHED(4), K256[(t) + 4]);     \
        S256_ROUND(d, e, f, g, h, a, b, c, S256_SCHED(5), K256[(t) + 5]);     \
        S256_ROUND(c, d, e, f, g, h, a, b, S256_SCHED(6), K256[(t) + 6]);     \
        S256_ROUND(b, c, d, e, f, g, h, a, S256_SCHED(7), K256[(t) + 7]);     \
        S256_ROUND(a, b, c, d, e, f, g, h, S256_SCHED(8), K256[(t) + 8]);     \
        S256_ROUND(h, a, b, c, d, e, f, g, S256_SCHED(9), K256[(t) + 9]);     \
        S256_ROUND(g, h, a, b, c, d, e, f, S256_SCHED(10), K256[(t) + 10]);   \
        S256_ROUND(f, g, h, a, b, c, d, e, S256_SCHED(11), K256[(t) + 11]);   \
        S256_ROUND(e, f, g, h, a, b, c, d, S256_SCHED(12), K256[(t) + 12]);   \
        S256_ROUND(d, e, f, g, h, a, b, c, S256_SCHED(13), K256[(t) + 13]);   \
        S256_ROUND(c, d, e, f, g, h, a, b, S256_SCHED(14), K256[(t) + 14]);   \
        S256_ROUND(b, c, d, e, f, g, h, a, S256_SCHED(15), K256[(t) + 15]);   \
    } while (0)

static void sha256_blocks_portable(uint32_t *st, const uint8_t *in,
                                   size_t nblocks)
{
    uint32_t w[16];
    int i;

    while (nblocks--) {
        uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
        uint32_t e = st[4], f = st[5], g = st[6], h = st[7];

        for (i = 0; i < 16; i++)
            w[i] = load_be32(in + 4 * i);

        S256_8ROUNDS_LOAD(0);
        S256_8ROUNDS_LOAD(8);
        S256_16ROUNDS_SCHED(16);
        S256_16ROUNDS_SCHED(32);
        S256_16ROUNDS_SCHED(48);

        st[0] += a; st[1] += b; st[2] += c; st[3] += d;
        st[4] += e; st[5] += f; st[6] += g; st[7] += h;
        in += 64;
    }
}

/* ------------------------------------------------------------------------ */
/* SHA-1, portable                                                          */
/* ------------------------------------------------------------------------ */

#define S1_F0(b, c, d) ((d) ^ ((b) & ((c) ^ (d))))            /* Ch */
#define S1_F1(b, c, d) ((b) ^ (c) ^ (d))                      /* Parity */
#define S1_F2(b, c, d) (((b) & (c)) | ((d) & ((b) | (c))))    /* Maj */
#define S1_K0 0x5a827999u
#define S1_K1 0x6ed9eba1u
#define S1_K2 0x8f1bbcdcu
#define S1_K3 0xca62c1d6u

#define S1_SCHED(i)                                                           \
    (w[(i) & 15] = rotl32(w[((i) + 13) & 15] ^ w[((i) + 8) & 15] ^            \
                          w[((i) + 2) & 15] ^ w[(i) & 15], 1))

/* One round with the roles rotating: afterwards the new "a" lives in e's
 * variable and b has been rotated in place. */
#define S1_ROUND(a, b, c, d, e, F, K, wi)                                     \
    do {                                                                      \
        (e) += rotl32((a), 5) + F((b), (c), (d)) + (K) + (wi);                \
        (b) = rotl32((b), 30);                                                \
    } while (0)

#define S1_5ROUNDS(F, K, W0, W1, W2, W3, W4)                                  \
    do {                                                                      \
        S1_ROUND(a, b, c, d, e, F, K, W0);                                    \
        S1_ROUND(e, a, b, c, d, F, K, W1);                                    \
        S1_ROUND(d, e, a, b, c, F, K, W2);                                    \
        S1_ROUND(c, d, e, a, b, F, K, W3);                                    \
        S1_ROUND(b, c, d, e, a, F, K, W4);                                    \
    } while (0)

#define S1_5LOAD(F, K, t)                                                     \
    S1_5ROUNDS(F, K, w[(t)], w[(t) + 1], w[(t) + 2], w[(t) + 3], w[(t) + 4])
#define S1_5SCHED(F, K, t)                                                    \
    S1_5ROUNDS(F, K, S1_SCHED(t), S1_SCHED((t) + 1), S1_SCHED((t) + 2),       \
               S1_SCHED((t) + 3), S1_SCHED((t) + 4))

static void sha1_blocks_portable(uint32_t *st, const uint8_t *in,
                                 size_t nblocks)
{
    uint32_t w[16];
    int i;

    while (nblocks--) {
        uint32_t a = st[0], b = st[1], c = st[2], d = st[3], e = st[4];

        for (i = 0; i < 16; i++)
            w[i] = load_be32(in + 4 * i);

        /* rounds 0..19: 0..15 straight from the block, then scheduled */
        S1_5LOAD(S1_F0, S1_K0, 0);
        S1_5LOAD(S1_F0, S1_K0, 5);
        S1_5LOAD(S1_F0, S1_K0, 10);
        S1_5ROUNDS(S1_F0, S1_K0, w[15], S1_SCHED(16), S1_SCHED(17),
                   S1_SCHED(18), S1_SCHED(19));
        /* rounds 20..39 */
        S1_5SCHED(S1_F1, S1_K1, 20);
        S1_5SCHED(S1_F1, S1_K1, 25);
        S1_5SCHED(S1_F1, S1_K1, 30);
        S1_5SCHED(S1_F1, S1_K1, 35);
        /* rounds 40..59 */
        S1_5SCHED(S1_F2, S1_K2, 40);
        S1_5SCHED(S1_F2, S1_K2, 45);
        S1_5SCHED(S1_F2, S1_K2, 50);
        S1_5SCHED(S1_F2, S1_K2, 55);
        /* rounds 60..79 */
        S1_5SCHED(S1_F1, S1_K3, 60);
        S1_5SCHED(S1_F1, S1_K3, 65);
        S1_5SCHED(S1_F1, S1_K3, 70);
        S1_5SCHED(S1_F1, S1_K3, 75);

        st[0] += a; st[1] += b; st[2] += c; st[3] += d; st[4] += e;
        in += 64;
    }
}

/* ------------------------------------------------------------------------ */
/* SHA-NI                                                                   */
/* ------------------------------------------------------------------------ */

#if MTC_SHA_X86

#define MTC_SHANI_TARGET __attribute__((target("sha,sse4.1,ssse3")))

/*
 * SHA-256.  The state lives in two registers, as the instructions expect:
 *   abef = {f, e, b, a}   (lane 0 .. lane 3)
 *   cdgh = {h, g, d, c}
 * sha256rnds2(cdgh, abef, wk) performs two rounds using the low two lanes of
 * wk (W[t] + K[t]) and returns the new abef; the old abef is then the new
 * cdgh.  Message words W[t..t+3] sit in lanes 0..3 of one register.
 */

/* Four rounds on W group wv (t = 4*grp). */
#define SHANI256_4ROUNDS(wv, grp)                                             \
    do {                                                                      \
        __m128i wk_ = _mm_add_epi32((wv),                                     \
            _mm_loadu_si128((const __m128i *)(K256 + 4 * (grp))));            \
        cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk_);                        \
        wk_ = _mm_shuffle_epi32(wk_, 0x0e);                                   \
        abef = _mm_sha256rnds2_epu32(abef, cdgh, wk_);                        \
    } while (0)

/* W group g from groups g-4 (w0), g-3 (w1), g-2 (unused directly), g-1 (w3):
 *   W[t] = s1(W[t-2]) + W[t-7] + s0(W[t-15]) + W[t-16]
 * msg1 adds s0 of the following word; alignr supplies W[t-7..t-4]; msg2
 * finishes the s1 terms, two of which depend on the words being produced. */
#define SHANI256_SCHED(w0, w1, w2, w3)                                        \
    (w0) = _mm_sha256msg2_epu32(                                              \
        _mm_add_epi32(_mm_sha256msg1_epu32((w0), (w1)),                       \
                      _mm_alignr_epi8((w3), (w2), 4)),                        \
        (w3))

MTC_SHANI_TARGET
static void sha256_blocks_shani(uint32_t *st, const uint8_t *in,
                                size_t nblocks)
{
    const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11,
                                       4, 5, 6, 7, 0, 1, 2, 3);
    __m128i abcd, efgh, abef, cdgh, t;

    abcd = _mm_loadu_si128((const __m128i *)st);        /* {a,b,c,d} */
    efgh = _mm_loadu_si128((const __m128i *)(st + 4));  /* {e,f,g,h} */
    t = _mm_shuffle_epi32(abcd, 0xb1);                  /* {b,a,d,c} */
    efgh = _mm_shuffle_epi32(efgh, 0x1b);               /* {h,g,f,e} */
    abef = _mm_alignr_epi8(t, efgh, 8);                 /* {f,e,b,a} */
    cdgh = _mm_blend_epi16(efgh, t, 0xf0);              /* {h,g,d,c} */

    while (nblocks--) {
        const __m128i abef0 = abef, cdgh0 = cdgh;
        __m128i m0, m1, m2, m3;

        m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)in), bswap);
        m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in + 16)), bswap);
        m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in + 32)), bswap);
        m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in + 48)), bswap);

        SHANI256_4ROUNDS(m0, 0);
        SHANI256_4ROUNDS(m1, 1);
        SHANI256_4ROUNDS(m2, 2);
        SHANI256_4ROUNDS(m3, 3);

        SHANI256_SCHED(m0, m1, m2, m3); SHANI256_4ROUNDS(m0, 4);
        SHANI256_SCHED(m1, m2, m3, m0); SHANI256_4ROUNDS(m1, 5);
        SHANI256_SCHED(m2, m3, m0, m1); SHANI256_4ROUNDS(m2, 6);
        SHANI256_SCHED(m3, m0, m1, m2); SHANI256_4ROUNDS(m3, 7);

        SHANI256_SCHED(m0, m1, m2, m3); SHANI256_4ROUNDS(m0, 8);
        SHANI256_SCHED(m1, m2, m3, m0); SHANI256_4ROUNDS(m1, 9);
        SHANI256_SCHED(m2, m3, m0, m1); SHANI256_4ROUNDS(m2, 10);
        SHANI256_SCHED(m3, m0, m1, m2); SHANI256_4ROUNDS(m3, 11);

        SHANI256_SCHED(m0, m1, m2, m3); SHANI256_4ROUNDS(m0, 12);
        SHANI256_SCHED(m1, m2, m3, m0); SHANI256_4ROUNDS(m1, 13);
        SHANI256_SCHED(m2, m3, m0, m1); SHANI256_4ROUNDS(m2, 14);
        SHANI256_SCHED(m3, m0, m1, m2); SHANI256_4ROUNDS(m3, 15);

        abef = _mm_add_epi32(abef, abef0);
        cdgh = _mm_add_epi32(cdgh, cdgh0);
        in += 64;
    }

    t = _mm_shuffle_epi32(abef, 0x1b);                  /* {a,b,e,f} */
    cdgh = _mm_shuffle_epi32(cdgh, 0xb1);               /* {g,h,c,d} */
    abcd = _mm_blend_epi16(t, cdgh, 0xf0);              /* {a,b,c,d} */
    efgh = _mm_alignr_epi8(cdgh, t, 8);                 /* {e,f,g,h} */
    _mm_storeu_si128((__m128i *)st, abcd);
    _mm_storeu_si128((__m128i *)(st + 4), efgh);
}

/* Two independent SHA-256 streams in lockstep.  sha256rnds2 is a serial
 * chain (latency-bound), so a second chain fills the idle issue slots:
 * batch sealing and opening hash two messages at a time this way. */
#define SHANI256_X2_4ROUNDS(wa, wb, grp)                                      \
    do {                                                                      \
        const __m128i k_ = _mm_loadu_si128((const __m128i *)(K256 + 4 * (grp))); \
        __m128i wka_ = _mm_add_epi32((wa), k_), wkb_ = _mm_add_epi32((wb), k_); \
        cdgh_a = _mm_sha256rnds2_epu32(cdgh_a, abef_a, wka_);                 \
        cdgh_b = _mm_sha256rnds2_epu32(cdgh_b, abef_b, wkb_);                 \
        wka_ = _mm_shuffle_epi32(wka_, 0x0e);                                 \
        wkb_ = _mm_shuffle_epi32(wkb_, 0x0e);                                 \
        abef_a = _mm_sha256rnds2_epu32(abef_a, cdgh_a, wka_);                 \
        abef_b = _mm_sha256rnds2_epu32(abef_b, cdgh_b, wkb_);                 \
    } while (0)

#define SHANI256_X2_STEP(a0, a1, a2, a3, b0, b1, b2, b3, grp)                 \
    do {                                                                      \
        SHANI256_SCHED(a0, a1, a2, a3);                                       \
        SHANI256_SCHED(b0, b1, b2, b3);                                       \
        SHANI256_X2_4ROUNDS(a0, b0, grp);                                     \
    } while (0)

MTC_SHANI_TARGET
static void sha256_load_state(const uint32_t *st, __m128i *abef, __m128i *cdgh)
{
    __m128i abcd = _mm_loadu_si128((const __m128i *)st);
    __m128i efgh = _mm_loadu_si128((const __m128i *)(st + 4));
    __m128i t = _mm_shuffle_epi32(abcd, 0xb1);
    efgh = _mm_shuffle_epi32(efgh, 0x1b);
    *abef = _mm_alignr_epi8(t, efgh, 8);
    *cdgh = _mm_blend_epi16(efgh, t, 0xf0);
}

MTC_SHANI_TARGET
static void sha256_store_state(uint32_t *st, __m128i abef, __m128i cdgh)
{
    __m128i t = _mm_shuffle_epi32(abef, 0x1b);
    cdgh = _mm_shuffle_epi32(cdgh, 0xb1);
    _mm_storeu_si128((__m128i *)st, _mm_blend_epi16(t, cdgh, 0xf0));
    _mm_storeu_si128((__m128i *)(st + 4), _mm_alignr_epi8(cdgh, t, 8));
}

MTC_SHANI_TARGET
static void sha256_blocks_shani_x2(uint32_t *st_a, const uint8_t *in_a, uint32_t *st_b,
                                   const uint8_t *in_b, size_t nblocks)
{
    const __m128i bswap = _mm_set_epi8(12, 13, 14, 15, 8, 9, 10, 11,
                                       4, 5, 6, 7, 0, 1, 2, 3);
    __m128i abef_a, cdgh_a, abef_b, cdgh_b;
    sha256_load_state(st_a, &abef_a, &cdgh_a);
    sha256_load_state(st_b, &abef_b, &cdgh_b);
    while (nblocks--) {
        const __m128i abef_a0 = abef_a, cdgh_a0 = cdgh_a;
        const __m128i abef_b0 = abef_b, cdgh_b0 = cdgh_b;
        __m128i a0, a1, a2, a3, b0, b1, b2, b3;
        a0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)in_a), bswap);
        a1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in_a + 16)), bswap);
        a2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in_a + 32)), bswap);
        a3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in_a + 48)), bswap);
        b0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)in_b), bswap);
        b1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in_b + 16)), bswap);
        b2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in_b + 32)), bswap);
        b3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in_b + 48)), bswap);

        SHANI256_X2_4ROUNDS(a0, b0, 0);
        SHANI256_X2_4ROUNDS(a1, b1, 1);
        SHANI256_X2_4ROUNDS(a2, b2, 2);
        SHANI256_X2_4ROUNDS(a3, b3, 3);
        for (int g = 4; g < 16; g += 4) {
            SHANI256_X2_STEP(a0, a1, a2, a3, b0, b1, b2, b3, g);
            SHANI256_X2_STEP(a1, a2, a3, a0, b1, b2, b3, b0, g + 1);
            SHANI256_X2_STEP(a2, a3, a0, a1, b2, b3, b0, b1, g + 2);
            SHANI256_X2_STEP(a3, a0, a1, a2, b3, b0, b1, b2, g + 3);
        }
        abef_a = _mm_add_epi32(abef_a, abef_a0);
        cdgh_a = _mm_add_epi32(cdgh_a, cdgh_a0);
        abef_b = _mm_add_epi32(abef_b, abef_b0);
        cdgh_b = _mm_add_epi32(cdgh_b, cdgh_b0);
        in_a += 64;
        in_b += 64;
    }
    sha256_store_state(st_a, abef_a, cdgh_a);
    sha256_store_state(st_b, abef_b, cdgh_b);
}

/*
 * SHA-1.  abcd = {d, c, b, a} (lane 0 .. lane 3); E and the message words
 * sit in lane 3 downwards (W[t] in lane 3, W[t+3] in lane 0), so a block
 * load just needs a full 16-byte reversal.  sha1rnds4(abcd, e_plus_w, f)
 * does four rounds with round function/constant f; sha1nexte(prev_abcd, w)
 * derives the next E (rol(prev a, 30)) and adds it to lane 3 of w.
 */

/* Four rounds: ev is E + W for this group (evaluated before prev is
 * replaced, since it may read prev); prev keeps abcd from before them. */
#define SHANI1_RNDS(ev, f)                                                    \
    do {                                                                      \
        const __m128i ev_ = (ev);                                             \
        prev = abcd;                                                          \
        abcd = _mm_sha1rnds4_epu32(abcd, ev_, (f));                           \
    } while (0)

/* W group g from groups g-4 (w0), g-3 (w1), g-2 (w2), g-1 (w3):
 *   W[t] = rol1(W[t-3] ^ W[t-8] ^ W[t-14] ^ W[t-16]) */
#define SHANI1_SCHED(w0, w1, w2, w3)                                          \
    (w0) = _mm_sha1msg2_epu32(                                                \
        _mm_xor_si128(_mm_sha1msg1_epu32((w0), (w1)), (w2)), (w3))

/* Group using message register wv, after the first. */
#define SHANI1_GROUP(wv, f) SHANI1_RNDS(_mm_sha1nexte_epu32(prev, (wv)), (f))

MTC_SHANI_TARGET
static void sha1_blocks_shani(uint32_t *st, const uint8_t *in,
                              size_t nblocks)
{
    const __m128i bswap = _mm_set_epi8(0, 1, 2, 3, 4, 5, 6, 7,
                                       8, 9, 10, 11, 12, 13, 14, 15);
    __m128i abcd, e, prev;

    abcd = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)st), 0x1b);
    e = _mm_set_epi32((int)st[4], 0, 0, 0);

    while (nblocks--) {
        const __m128i abcd0 = abcd, e0 = e;
        __m128i m0, m1, m2, m3;

        m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)in), bswap);
        m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in + 16)), bswap);
        m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in + 32)), bswap);
        m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(in + 48)), bswap);

        /* rounds 0..19 */
        SHANI1_RNDS(_mm_add_epi32(e, m0), 0);
        SHANI1_GROUP(m1, 0);
        SHANI1_GROUP(m2, 0);
        SHANI1_GROUP(m3, 0);
        SHANI1_SCHED(m0, m1, m2, m3); SHANI1_GROUP(m0, 0);
        /* rounds 20..39 */
        SHANI1_SCHED(m1, m2, m3, m0); SHANI1_GROUP(m1, 1);
        SHANI1_SCHED(m2, m3, m0, m1); SHANI1_GROUP(m2, 1);
        SHANI1_SCHED(m3, m0, m1, m2); SHANI1_GROUP(m3, 1);
        SHANI1_SCHED(m0, m1, m2, m3); SHANI1_GROUP(m0, 1);
        SHANI1_SCHED(m1, m2, m3, m0); SHANI1_GROUP(m1, 1);
        /* rounds 40..59 */
        SHANI1_SCHED(m2, m3, m0, m1); SHANI1_GROUP(m2, 2);
        SHANI1_SCHED(m3, m0, m1, m2); SHANI1_GROUP(m3, 2);
        SHANI1_SCHED(m0, m1, m2, m3); SHANI1_GROUP(m0, 2);
        SHANI1_SCHED(m1, m2, m3, m0); SHANI1_GROUP(m1, 2);
        SHANI1_SCHED(m2, m3, m0, m1); SHANI1_GROUP(m2, 2);
        /* rounds 60..79 */
        SHANI1_SCHED(m3, m0, m1, m2); SHANI1_GROUP(m3, 3);
        SHANI1_SCHED(m0, m1, m2, m3); SHANI1_GROUP(m0, 3);
        SHANI1_SCHED(m1, m2, m3, m0); SHANI1_GROUP(m1, 3);
        SHANI1_SCHED(m2, m3, m0, m1); SHANI1_GROUP(m2, 3);
        SHANI1_SCHED(m3, m0, m1, m2); SHANI1_GROUP(m3, 3);

        /* E of the next block = e0 + rol(a after round 75, 30). */
        e = _mm_sha1nexte_epu32(prev, e0);
        abcd = _mm_add_epi32(abcd, abcd0);
        in += 64;
    }

    _mm_storeu_si128((__m128i *)st, _mm_shuffle_epi32(abcd, 0x1b));
    st[4] = (uint32_t)_mm_extract_epi32(e, 3);
}

#endif /* MTC_SHA_X86 */

/* ------------------------------------------------------------------------ */
/* ARMv8 SHA extensions                                                     */
/* ------------------------------------------------------------------------ */

#if MTC_ARMV8

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("sha2"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("+crypto")
#endif

/* Message words: big-endian 32-bit words, four to a register. */
static inline uint32x4_t arm_load_be(const uint8_t *p)
{
    return vreinterpretq_u32_u8(vrev32q_u8(vld1q_u8(p)));
}

/*
 * SHA-256.  The state is {a,b,c,d} and {e,f,g,h} in two registers, the
 * order the instructions take.  Four rounds: SHA256H gives the new abcd,
 * SHA256H2 the new efgh from the old abcd.  W group g (words 4g..4g+3) from
 * groups g-4..g-1: SHA256SU0 adds s0 of the following words, SHA256SU1 adds
 * W[t-7] and s1(W[t-2]).
 */
#define ARM256_4ROUNDS(wv, grp)                                               \
    do {                                                                      \
        const uint32x4_t wk_ = vaddq_u32((wv), vld1q_u32(K256 + 4 * (grp)));  \
        const uint32x4_t abcd_ = abcd;                                        \
        abcd = vsha256hq_u32(abcd, efgh, wk_);                                \
        efgh = vsha256h2q_u32(efgh, abcd_, wk_);                              \
    } while (0)

#define ARM256_SCHED(w0, w1, w2, w3)                                          \
    (w0) = vsha256su1q_u32(vsha256su0q_u32((w0), (w1)), (w2), (w3))

static void sha256_blocks_arm(uint32_t *st, const uint8_t *in, size_t nblocks)
{
    uint32x4_t abcd = vld1q_u32(st);
    uint32x4_t efgh = vld1q_u32(st + 4);

    while (nblocks--) {
        const uint32x4_t abcd0 = abcd, efgh0 = efgh;
        uint32x4_t m0 = arm_load_be(in);
        uint32x4_t m1 = arm_load_be(in + 16);
        uint32x4_t m2 = arm_load_be(in + 32);
        uint32x4_t m3 = arm_load_be(in + 48);

        ARM256_4ROUNDS(m0, 0);
        ARM256_4ROUNDS(m1, 1);
        ARM256_4ROUNDS(m2, 2);
        ARM256_4ROUNDS(m3, 3);
        for (int g = 4; g < 16; g += 4) {
            ARM256_SCHED(m0, m1, m2, m3); ARM256_4ROUNDS(m0, g);
            ARM256_SCHED(m1, m2, m3, m0); ARM256_4ROUNDS(m1, g + 1);
            ARM256_SCHED(m2, m3, m0, m1); ARM256_4ROUNDS(m2, g + 2);
            ARM256_SCHED(m3, m0, m1, m2); ARM256_4ROUNDS(m3, g + 3);
        }
        abcd = vaddq_u32(abcd, abcd0);
        efgh = vaddq_u32(efgh, efgh0);
        in += 64;
    }
    vst1q_u32(st, abcd);
    vst1q_u32(st + 4, efgh);
}

/*
 * SHA-1.  abcd in one register (a in lane 0), e a scalar.  SHA1C/SHA1P/SHA1M
 * run four rounds with Ch, Parity or Maj; the e of the next four rounds is
 * rol(a, 30) of the a before them (SHA1H).  W group g from groups g-4..g-1:
 * SHA1SU0 XORs W[t-16], W[t-14] and W[t-8], SHA1SU1 adds W[t-3] and rotates.
 */
#define ARM1_SCHED(w0, w1, w2, w3)                                            \
    (w0) = vsha1su1q_u32(vsha1su0q_u32((w0), (w1), (w2)), (w3))

#define ARM1_4ROUNDS(op, wv, k)                                               \
    do {                                                                      \
        const uint32x4_t wk_ = vaddq_u32((wv), vdupq_n_u32(k));               \
        const uint32_t e_next_ = vsha1h_u32(vgetq_lane_u32(abcd, 0));         \
        abcd = op(abcd, e, wk_);                                              \
        e = e_next_;                                                          \
    } while (0)

static void sha1_blocks_arm(uint32_t *st, const uint8_t *in, size_t nblocks)
{
    uint32x4_t abcd = vld1q_u32(st);
    uint32_t e = st[4];

    while (nblocks--) {
        const uint32x4_t abcd0 = abcd;
        const uint32_t e0 = e;
        uint32x4_t m0 = arm_load_be(in);
        uint32x4_t m1 = arm_load_be(in + 16);
        uint32x4_t m2 = arm_load_be(in + 32);
        uint32x4_t m3 = arm_load_be(in + 48);

        /* rounds 0..19 */
        ARM1_4ROUNDS(vsha1cq_u32, m0, S1_K0);
        ARM1_4ROUNDS(vsha1cq_u32, m1, S1_K0);
        ARM1_4ROUNDS(vsha1cq_u32, m2, S1_K0);
        ARM1_4ROUNDS(vsha1cq_u32, m3, S1_K0);
        ARM1_SCHED(m0, m1, m2, m3); ARM1_4ROUNDS(vsha1cq_u32, m0, S1_K0);
        /* rounds 20..39 */
        ARM1_SCHED(m1, m2, m3, m0); ARM1_4ROUNDS(vsha1pq_u32, m1, S1_K1);
        ARM1_SCHED(m2, m3, m0, m1); ARM1_4ROUNDS(vsha1pq_u32, m2, S1_K1);
        ARM1_SCHED(m3, m0, m1, m2); ARM1_4ROUNDS(vsha1pq_u32, m3, S1_K1);
        ARM1_SCHED(m0, m1, m2, m3); ARM1_4ROUNDS(vsha1pq_u32, m0, S1_K1);
        ARM1_SCHED(m1, m2, m3, m0); ARM1_4ROUNDS(vsha1pq_u32, m1, S1_K1);
        /* rounds 40..59 */
        ARM1_SCHED(m2, m3, m0, m1); ARM1_4ROUNDS(vsha1mq_u32, m2, S1_K2);
        ARM1_SCHED(m3, m0, m1, m2); ARM1_4ROUNDS(vsha1mq_u32, m3, S1_K2);
        ARM1_SCHED(m0, m1, m2, m3); ARM1_4ROUNDS(vsha1mq_u32, m0, S1_K2);
        ARM1_SCHED(m1, m2, m3, m0); ARM1_4ROUNDS(vsha1mq_u32, m1, S1_K2);
        ARM1_SCHED(m2, m3, m0, m1); ARM1_4ROUNDS(vsha1mq_u32, m2, S1_K2);
        /* rounds 60..79 */
        ARM1_SCHED(m3, m0, m1, m2); ARM1_4ROUNDS(vsha1pq_u32, m3, S1_K3);
        ARM1_SCHED(m0, m1, m2, m3); ARM1_4ROUNDS(vsha1pq_u32, m0, S1_K3);
        ARM1_SCHED(m1, m2, m3, m0); ARM1_4ROUNDS(vsha1pq_u32, m1, S1_K3);
        ARM1_SCHED(m2, m3, m0, m1); ARM1_4ROUNDS(vsha1pq_u32, m2, S1_K3);
        ARM1_SCHED(m3, m0, m1, m2); ARM1_4ROUNDS(vsha1pq_u32, m3, S1_K3);

        abcd = vaddq_u32(abcd, abcd0);
        e += e0;
        in += 64;
    }
    vst1q_u32(st, abcd);
    st[4] = e;
}

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif /* MTC_ARMV8 */

/* ------------------------------------------------------------------------ */
/* Dispatch                                                                 */
/* ------------------------------------------------------------------------ */

void mtc_sha256_blocks(uint32_t *h, const uint8_t *in, size_t nblocks)
{
    if (nblocks == 0)
        return;
#if MTC_SHA_X86
    if (mtc_rt.sha_ni) {
        sha256_blocks_shani(h, in, nblocks);
        return;
    }
#endif
#if MTC_ARMV8
    if (mtc_rt.sha_ni) {
        sha256_blocks_arm(h, in, nblocks);
        return;
    }
#endif
    sha256_blocks_portable(h, in, nblocks);
}

void mtc_sha256_blocks_x2(uint32_t *h_a, const uint8_t *in_a, uint32_t *h_b,
                          const uint8_t *in_b, size_t nblocks)
{
    if (nblocks == 0) return;
#if MTC_SHA_X86
    if (mtc_rt.sha_ni) {
        sha256_blocks_shani_x2(h_a, in_a, h_b, in_b, nblocks);
        return;
    }
#endif
    mtc_sha256_blocks(h_a, in_a, nblocks);
    mtc_sha256_blocks(h_b, in_b, nblocks);
}

void mtc_sha1_blocks(uint32_t *h, const uint8_t *in, size_t nblocks)
{
    if (nblocks == 0)
        return;
#if MTC_SHA_X86
    if (mtc_rt.sha_ni) {
        sha1_blocks_shani(h, in, nblocks);
        return;
    }
#endif
#if MTC_ARMV8
    if (mtc_rt.sha_ni) {
        sha1_blocks_arm(h, in, nblocks);
        return;
    }
#endif
    sha1_blocks_portable(h, in, nblocks);
}

/* ------------------------------------------------------------------------ */
/* Streaming interface (shared Merkle-Damgard framing)                      */
/* ------------------------------------------------------------------------ */

typedef void (*blocks_fn)(uint32_t *h, const uint8_t *in, size_t nblocks);

static void md_update(uint32_t *h, uint64_t *total, uint8_t *buf,
                      uint32_t *buflen, blocks_fn blocks,
                      const uint8_t *in, size_t len)
{
    size_t n;

    if (len == 0)
        return;
    *total += (uint64_t)len;

    if (*buflen) {
        n = 64 - *buflen;
        if (n > len)
            n = len;
        memcpy(buf + *buflen, in, n);
        *buflen += (uint32_t)n;
        in += n;
        len -= n;
        if (*buflen < 64)
            return;
        blocks(h, buf, 1);
        *buflen = 0;
    }

    n = len / 64;
    if (n) {
        blocks(h, in, n);
        in += n * 64;
        len -= n * 64;
    }

    if (len) {
        memcpy(buf, in, len);
        *buflen = (uint32_t)len;
    }
}

/* Pad (0x80, zeros, 64-bit big-endian bit length) and run the last block(s). */
static void md_final(uint32_t *h, uint64_t total, uint8_t *buf,
                     uint32_t buflen, blocks_fn blocks)
{
    buf[buflen++] = 0x80;
    if (buflen > 56) {
        memset(buf + buflen, 0, 64 - buflen);
        blocks(h, buf, 1);
        buflen = 0;
    }
    memset(buf + buflen, 0, 56 - buflen);
    store_be64(buf + 56, total << 3);
    blocks(h, buf, 1);
}

/* SHA-256 */

void mtc_sha256_init(mtc_sha256_ctx *ctx)
{
    ctx->h[0] = 0x6a09e667; ctx->h[1] = 0xbb67ae85;
    ctx->h[2] = 0x3c6ef372; ctx->h[3] = 0xa54ff53a;
    ctx->h[4] = 0x510e527f; ctx->h[5] = 0x9b05688c;
    ctx->h[6] = 0x1f83d9ab; ctx->h[7] = 0x5be0cd19;
    ctx->total = 0;
    ctx->buflen = 0;
}

void mtc_sha256_update(mtc_sha256_ctx *ctx, const uint8_t *in, size_t len)
{
    md_update(ctx->h, &ctx->total, ctx->buf, &ctx->buflen,
              mtc_sha256_blocks, in, len);
}

void mtc_sha256_final(mtc_sha256_ctx *ctx, uint8_t *out32)
{
    int i;

    md_final(ctx->h, ctx->total, ctx->buf, ctx->buflen, mtc_sha256_blocks);
    for (i = 0; i < 8; i++)
        store_be32(out32 + 4 * i, ctx->h[i]);
    mtc_wipe(ctx, sizeof(*ctx));
}

void mtc_sha256(const uint8_t *in, size_t len, uint8_t *out32)
{
    mtc_sha256_ctx ctx;

    mtc_sha256_init(&ctx);
    mtc_sha256_update(&ctx, in, len);
    mtc_sha256_final(&ctx, out32);
}

/* SHA-1 */

void mtc_sha1_init(mtc_sha1_ctx *ctx)
{
    ctx->h[0] = 0x67452301; ctx->h[1] = 0xefcdab89;
    ctx->h[2] = 0x98badcfe; ctx->h[3] = 0x10325476;
    ctx->h[4] = 0xc3d2e1f0;
    ctx->total = 0;
    ctx->buflen = 0;
}

void mtc_sha1_update(mtc_sha1_ctx *ctx, const uint8_t *in, size_t len)
{
    md_update(ctx->h, &ctx->total, ctx->buf, &ctx->buflen,
              mtc_sha1_blocks, in, len);
}

void mtc_sha1_final(mtc_sha1_ctx *ctx, uint8_t *out20)
{
    int i;

    md_final(ctx->h, ctx->total, ctx->buf, ctx->buflen, mtc_sha1_blocks);
    for (i = 0; i < 5; i++)
        store_be32(out20 + 4 * i, ctx->h[i]);
    mtc_wipe(ctx, sizeof(*ctx));
}

void mtc_sha1(const uint8_t *in, size_t len, uint8_t *out20)
{
    mtc_sha1_ctx ctx;

    mtc_sha1_init(&ctx);
    mtc_sha1_update(&ctx, in, len);
    mtc_sha1_final(&ctx, out20);
}
