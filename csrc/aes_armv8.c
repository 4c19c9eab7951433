/* AES-256 with the ARMv8 Cryptography Extensions (AESE/AESMC/AESD/AESIMC):
 * key schedule, IGE, CBC, CTR and the interleaved multi-message IGE, laid out
 * like aes_ni.c.  Compiled for every little-endian aarch64 build; only called
 * after cpu.c has seen HWCAP_AES at run time.
 *
 * The instructions split an AES round differently from AES-NI:
 *   AESE(s, k) = SubBytes(ShiftRows(s ^ k))      AESMC = MixColumns
 *   AESD(s, k) = InvSubBytes(InvShiftRows(s ^ k)) AESIMC = InvMixColumns
 * so encryption is 13 x (AESE k[r], AESMC) for r = 0..12, AESE k[13], then an
 * XOR with k[14]; the round key comes in before the S-box, not after.  The
 * schedules are byte for byte the AES-NI ones (15 round keys of 16 bytes;
 * the decryption schedule is k[14], InvMixColumns(k[13..1]), k[0]). */
#include "internal.h"

#if MTC_ARMV8

#include <arm_neon.h>

/* Only this file's functions are compiled for the crypto extensions; the
 * rest of the build stays plain armv8-a.  gcc and clang spell it differently. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("aes"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("+crypto")
#endif

#define LOAD(p) vld1q_u8((const uint8_t *)(const void *)(p))
#define STORE(p, v) vst1q_u8((uint8_t *)(void *)(p), (v))
#define XOR(a, b) veorq_u8((a), (b))

/* SubWord of a 32-bit word: with the word in all four columns, ShiftRows
 * moves nothing, and AESE with a zero key is SubBytes alone. */
static inline uint32_t sub_word(uint32_t w)
{
    uint8x16_t v = vreinterpretq_u8_u32(vdupq_n_u32(w));
    v = vaeseq_u8(v, vdupq_n_u8(0));
    return vgetq_lane_u32(vreinterpretq_u32_u8(v), 0);
}

static inline uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline void store_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* FIPS-197 key expansion for Nk = 8: 60 words, the first byte of each word
 * in its low bits, so RotWord is a right rotation by 8. */
void mtc_a8_expand_enc(uint64_t *enc, const uint8_t *key32)
{
    static const uint8_t rcon[7] = {0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40};
    uint32_t w[60];
    for (int i = 0; i < 8; i++)
        w[i] = load_le32(key32 + 4 * i);
    for (int i = 8; i < 60; i++) {
        uint32_t t = w[i - 1];
        if (i % 8 == 0)
            t = sub_word((t >> 8) | (t << 24)) ^ rcon[i / 8 - 1];
        else if (i % 8 == 4)
            t = sub_word(t);
        w[i] = w[i - 8] ^ t;
    }
    uint8_t *e = (uint8_t *)enc;
    for (int i = 0; i < 60; i++)
        store_le32(e + 4 * i, w[i]);
    mtc_wipe(w, sizeof w);
}

/* Decryption schedule for the equivalent inverse cipher, in the order it is
 * used (dec[0] is the last encryption round key). */
void mtc_a8_expand_dec(uint64_t *dec, const uint64_t *enc)
{
    const uint8_t *e = (const uint8_t *)enc;
    uint8_t *d = (uint8_t *)dec;
    STORE(d, LOAD(e + 16 * 14));
    for (int i = 1; i < 14; i++)
        STORE(d + 16 * i, vaesimcq_u8(LOAD(e + 16 * (14 - i))));
    STORE(d + 16 * 14, LOAD(e));
}

#define LOAD_KEYS(ks, src)                           \
    uint8x16_t ks[15];                               \
    for (int i_ = 0; i_ < 15; i_++)                  \
        ks[i_] = LOAD((const uint8_t *)(src) + 16 * i_)

#define ER(s, k) s = vaesmcq_u8(vaeseq_u8(s, k))
#define DR(s, k) s = vaesimcq_u8(vaesdq_u8(s, k))

/* Rounds 1..12 (the round with k[0] and the last two stay with the caller,
 * which folds the chaining values into them). */
#define ENC_MIDDLE(s, k)                                                      \
    ER(s, k[1]); ER(s, k[2]); ER(s, k[3]); ER(s, k[4]); ER(s, k[5]);          \
    ER(s, k[6]); ER(s, k[7]); ER(s, k[8]); ER(s, k[9]); ER(s, k[10]);         \
    ER(s, k[11]); ER(s, k[12])

#define DEC_MIDDLE(s, k)                                                      \
    DR(s, k[1]); DR(s, k[2]); DR(s, k[3]); DR(s, k[4]); DR(s, k[5]);          \
    DR(s, k[6]); DR(s, k[7]); DR(s, k[8]); DR(s, k[9]); DR(s, k[10]);         \
    DR(s, k[11]); DR(s, k[12])

/* One whole block: AESE/AESMC x 13, AESE, XOR. */
static inline uint8x16_t enc_block(uint8x16_t s, const uint8x16_t *k)
{
    ER(s, k[0]);
    ENC_MIDDLE(s, k);
    return XOR(vaeseq_u8(s, k[13]), k[14]);
}

/* IGE encryption: y_i = E(x_i ^ y_{i-1}) ^ x_{i-1}.  Since AESE XORs its two
 * operands first, the first round of block i is AESE(u, r0) with u the
 * previous block's last AESE output and r0 = k[14] ^ x_{i-2} ^ x_i ^ k[0],
 * all known off the chain: the serial chain is exactly 14 AESE and 13 AESMC
 * per block, and y_i = u ^ k[14] ^ x_{i-1} is recovered beside it. */
void mtc_a8_ige_encrypt(const uint64_t *enc, uint8_t *iv32, const uint8_t *in,
                        uint8_t *out, size_t nblocks)
{
    if (nblocks == 0) return;
    LOAD_KEYS(k, enc);
    uint8x16_t y = LOAD(iv32);
    uint8x16_t x_prev = LOAD(iv32 + 16);
    uint8x16_t x = LOAD(in);
    uint8x16_t s = y;                 /* AESE(y_{-1}, x_0 ^ k0) */
    uint8x16_t r0 = XOR(x, k[0]);
    for (size_t i = 0; i < nblocks; i++) {
        ER(s, r0);
        ENC_MIDDLE(s, k);
        uint8x16_t u = vaeseq_u8(s, k[13]);
        uint8x16_t last = XOR(k[14], x_prev);
        y = XOR(u, last);
        x_prev = x;
        if (i + 1 < nblocks) {
            x = LOAD(in + 16 * (i + 1));
            r0 = XOR(last, XOR(x, k[0]));
            s = u;
        }
        STORE(out + 16 * i, y);       /* after the load: in == out allowed */
    }
    STORE(iv32, y);
    STORE(iv32 + 16, x_prev);
}

/* IGE decryption: x_i = D(y_i ^ x_{i-1}) ^ y_{i-1}, with the same folding. */
void mtc_a8_ige_decrypt(const uint64_t *dec, uint8_t *iv32, const uint8_t *in,
                        uint8_t *out, size_t nblocks)
{
    if (nblocks == 0) return;
    LOAD_KEYS(k, dec);
    uint8x16_t y_prev = LOAD(iv32);
    uint8x16_t x = LOAD(iv32 + 16);
    uint8x16_t y = LOAD(in);
    uint8x16_t s = x;
    uint8x16_t r0 = XOR(y, k[0]);
    for (size_t i = 0; i < nblocks; i++) {
        DR(s, r0);
        DEC_MIDDLE(s, k);
        uint8x16_t u = vaesdq_u8(s, k[13]);
        uint8x16_t last = XOR(k[14], y_prev);
        x = XOR(u, last);
        y_prev = y;
        if (i + 1 < nblocks) {
            y = LOAD(in + 16 * (i + 1));
            r0 = XOR(last, XOR(y, k[0]));
            s = u;
        }
        STORE(out + 16 * i, x);
    }
    STORE(iv32, y_prev);
    STORE(iv32 + 16, x);
}

void mtc_a8_cbc_encrypt(const uint64_t *enc, uint8_t *iv16, const uint8_t *in,
                        uint8_t *out, size_t nblocks)
{
    LOAD_KEYS(k, enc);
    uint8x16_t c = LOAD(iv16);
    for (size_t i = 0; i < nblocks; i++) {
        c = enc_block(XOR(LOAD(in + 16 * i), c), k);
        STORE(out + 16 * i, c);
    }
    STORE(iv16, c);
}

#define A8_WIDE 8

/* CBC decryption is parallel: eight blocks in flight hide AESD latency. */
void mtc_a8_cbc_decrypt(const uint64_t *dec, uint8_t *iv16, const uint8_t *in,
                        uint8_t *out, size_t nblocks)
{
    LOAD_KEYS(k, dec);
    uint8x16_t prev = LOAD(iv16);
    size_t i = 0;
    for (; i + A8_WIDE <= nblocks; i += A8_WIDE) {
        uint8x16_t c[A8_WIDE], s[A8_WIDE];
        for (int j = 0; j < A8_WIDE; j++)
            s[j] = c[j] = LOAD(in + 16 * (i + j));
        for (int r = 0; r < 13; r++)
            for (int j = 0; j < A8_WIDE; j++)
                DR(s[j], k[r]);
        for (int j = 0; j < A8_WIDE; j++) {
            uint8x16_t p = XOR(vaesdq_u8(s[j], k[13]), k[14]);
            STORE(out + 16 * (i + j), XOR(p, j ? c[j - 1] : prev));
        }
        prev = c[A8_WIDE - 1];
    }
    for (; i < nblocks; i++) {
        uint8x16_t c = LOAD(in + 16 * i);
        uint8x16_t s = c;
        DR(s, k[0]);
        DEC_MIDDLE(s, k);
        s = XOR(vaesdq_u8(s, k[13]), k[14]);
        STORE(out + 16 * i, XOR(s, prev));
        prev = c;
    }
    STORE(iv16, prev);
}

/* The counter in two 64-bit halves (mtc_ctr_load), turned into a block by
 * one byte reversal within each half. */
static inline uint8x16_t ctr_block(uint64_t hi, uint64_t lo)
{
    return vrev64q_u8(vreinterpretq_u8_u64(vcombine_u64(vcreate_u64(hi), vcreate_u64(lo))));
}

/* XOR nblocks of keystream into in -> out and advance the counter. */
void mtc_a8_ctr_blocks(const uint64_t *enc, uint8_t *ctr16, const uint8_t *in,
                       uint8_t *out, size_t nblocks)
{
    LOAD_KEYS(k, enc);
    uint64_t hi, lo;
    mtc_ctr_load(ctr16, &hi, &lo);
    size_t i = 0;
    for (; i + A8_WIDE <= nblocks; i += A8_WIDE) {
        uint8x16_t s[A8_WIDE];
        for (int j = 0; j < A8_WIDE; j++) {
            uint64_t l = lo + (uint64_t)j;
            s[j] = ctr_block(hi + (l < lo), l);
        }
        uint64_t nlo = lo + A8_WIDE;
        hi += (nlo < lo);
        lo = nlo;
        for (int r = 0; r < 13; r++)
            for (int j = 0; j < A8_WIDE; j++)
                ER(s[j], k[r]);
        for (int j = 0; j < A8_WIDE; j++) {
            uint8x16_t ks = XOR(vaeseq_u8(s[j], k[13]), k[14]);
            STORE(out + 16 * (i + j), XOR(ks, LOAD(in + 16 * (i + j))));
        }
    }
    for (; i < nblocks; i++) {
        uint8x16_t ks = enc_block(ctr_block(hi, lo), k);
        lo++;
        hi += (lo == 0);
        STORE(out + 16 * i, XOR(ks, LOAD(in + 16 * i)));
    }
    mtc_ctr_store(ctr16, hi, lo);
}

/* ---- multi-message IGE: eight independent chains interleaved ----------- */

#define LANE_KEY(l, r) LOAD((const uint8_t *)(l).rk + 16 * (r))

/* Runs `steps` blocks on every lane (modes.c schedules the lanes).  Per
 * block and lane the first round is AESE(chain value, data ^ k0), the last
 * an XOR with k14 ^ chain value, as in the single-stream code. */
static void a8_batch_steps(struct mtc_ige_lane *lanes, int decrypt, size_t steps, uint8_t *state)
{
    (void)state; /* the schedules are read in place */
    for (size_t t = 0; t < steps; t++) {
        uint8x16_t s[MTC_IGE_LANES], a[MTC_IGE_LANES];
        for (int j = 0; j < MTC_IGE_LANES; j++) {
            a[j] = LOAD(lanes[j].in);
            s[j] = LOAD(decrypt ? lanes[j].x_prev : lanes[j].y_prev);
        }
        if (decrypt) {
            for (int j = 0; j < MTC_IGE_LANES; j++)
                DR(s[j], XOR(a[j], LANE_KEY(lanes[j], 0)));
            for (int r = 1; r < 13; r++)
                for (int j = 0; j < MTC_IGE_LANES; j++)
                    DR(s[j], LANE_KEY(lanes[j], r));
            for (int j = 0; j < MTC_IGE_LANES; j++) {
                uint8x16_t u = vaesdq_u8(s[j], LANE_KEY(lanes[j], 13));
                uint8x16_t x = XOR(u, XOR(LANE_KEY(lanes[j], 14), LOAD(lanes[j].y_prev)));
                STORE(lanes[j].out, x);
                STORE(lanes[j].y_prev, a[j]);
                STORE(lanes[j].x_prev, x);
            }
        } else {
            for (int j = 0; j < MTC_IGE_LANES; j++)
                ER(s[j], XOR(a[j], LANE_KEY(lanes[j], 0)));
            for (int r = 1; r < 13; r++)
                for (int j = 0; j < MTC_IGE_LANES; j++)
                    ER(s[j], LANE_KEY(lanes[j], r));
            for (int j = 0; j < MTC_IGE_LANES; j++) {
                uint8x16_t u = vaeseq_u8(s[j], LANE_KEY(lanes[j], 13));
                uint8x16_t y = XOR(u, XOR(LANE_KEY(lanes[j], 14), LOAD(lanes[j].x_prev)));
                STORE(lanes[j].out, y);
                STORE(lanes[j].x_prev, a[j]);
                STORE(lanes[j].y_prev, y);
            }
        }
        mtc_ige_lanes_advance(lanes);
    }
}

static const struct mtc_ige_lane_impl a8_lanes = {
    mtc_a8_expand_enc, mtc_a8_expand_dec, mtc_a8_ige_encrypt, mtc_a8_ige_decrypt, a8_batch_steps,
    MTC_IGE_LANES,
};

int mtc_a8_ige_batch(int decrypt, size_t n, const struct mtc_ige_job *jobs)
{
    return mtc_ige_batch_lanes(decrypt, n, jobs, &a8_lanes);
}

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif

#endif /* MTC_ARMV8 */
