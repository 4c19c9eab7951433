/* AES-256 by vector permutes: every S-box, MixColumns and change of basis is
 * a 16-entry table lookup indexed by nibbles, done 16 bytes at a time by a
 * byte shuffle (SSSE3 pshufb on x86-64, NEON tbl on aarch64).  The method is
 * M. Hamburg's ("Accelerating AES with vector permute instructions", CHES
 * 2009); the tables in aes_vpaes_tables.h are derived, and checked against
 * the AES S-box and FIPS-197, by tools/vpaes_tables.py, whose docstring has
 * the mathematics.
 *
 * Constant time by construction: no memory address depends on key or data
 * (each table is one vector, indexed inside the shuffle instruction), and
 * nothing branches on them; tests/ct/ct_aes_vpaes.c checks this under
 * valgrind.
 *
 * The state between rounds is kept in the "B basis" (a tower field
 * GF((2^4)^2) the nibble formulas work in): round keys are stored there too,
 * with the S-box's affine constant folded into them, so a middle round is
 *
 *     nibbles -> inversion (5 lookups) -> B(1, 2, 3 x S) (6 lookups)
 *             -> ShiftRows + MixColumns (4 shuffles) -> xor round key.
 *
 * Schedules (15 x 16 bytes each, in mtc_aes256.enc / .dec):
 *   enc[0] = B(k0), enc[r] = ISR(B(k_r) ^ B(0x63)) (r = 1..13), enc[14] = k14 ^ 0x63;
 *   dec[0] = D(k14) ^ D(0x63), dec[r] = SR(D(InvMixColumns(k_14-r)) ^ D(0x63)),
 *   dec[14] = k0, where D(y) = B(L^-1(y)), L is the S-box's linear part, and
 *   the middle keys are stored with (Inv)ShiftRows undone because a round adds
 *   them before its (Inv)ShiftRows shuffle, off the critical path.
 */
#include "internal.h"

#if defined(__x86_64__) || defined(__aarch64__)

#include "aes_vpaes_tables.h"

#if defined(__x86_64__)
/* Compiled for SSSE3 alone; cpu.c checks the CPU before anything here runs. */
#include <tmmintrin.h>
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("ssse3"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("ssse3")
#endif
typedef __m128i V;
#define VLOAD(p) _mm_loadu_si128((const __m128i *)(const void *)(p))
#define VSTORE(p, v) _mm_storeu_si128((__m128i *)(void *)(p), (v))
#define VXOR(a, b) _mm_xor_si128((a), (b))
/* Bytes of t picked by idx; an index with the top bit set gives 0. */
#define VTBL(t, idx) _mm_shuffle_epi8((t), (idx))
#define VLO(v) _mm_and_si128((v), TAB(VP_LO_MASK))
#define VHI(v) _mm_and_si128(_mm_srli_epi16((v), 4), TAB(VP_LO_MASK))
#define VZERO() _mm_setzero_si128()
#define VSPLAT(c) _mm_set1_epi8((char)(c))
#define VADD(a, b) _mm_add_epi8((a), (b))
#define VAND(a, b) _mm_and_si128((a), (b))
#define VTOPMASK(v) _mm_cmplt_epi8((v), _mm_setzero_si128()) /* 0xff where bit 7 is set */
#define VSHL4(v) _mm_slli_si128((v), 4) /* bytes up by 4 (towards higher addresses) */
#define VSHL8(v) _mm_slli_si128((v), 8)
#else
/* AArch64: Advanced SIMD is part of the base architecture. */
#include <arm_neon.h>
typedef uint8x16_t V;
#define VLOAD(p) vld1q_u8((const uint8_t *)(const void *)(p))
#define VSTORE(p, v) vst1q_u8((uint8_t *)(void *)(p), (v))
#define VXOR(a, b) veorq_u8((a), (b))
/* Bytes of t picked by idx; an index of 16 or more gives 0. */
#define VTBL(t, idx) vqtbl1q_u8((t), (idx))
#define VLO(v) vandq_u8((v), TAB(VP_LO_MASK))
#define VHI(v) vshrq_n_u8((v), 4)
#define VZERO() vdupq_n_u8(0)
#define VSPLAT(c) vdupq_n_u8((uint8_t)(c))
#define VADD(a, b) vaddq_u8((a), (b))
#define VAND(a, b) vandq_u8((a), (b))
#define VTOPMASK(v) vreinterpretq_u8_s8(vshrq_n_s8(vreinterpretq_s8_u8(v), 7))
#define VSHL4(v) vextq_u8(vdupq_n_u8(0), (v), 12)
#define VSHL8(v) vextq_u8(vdupq_n_u8(0), (v), 8)
#endif

#define TAB(n) VLOAD(vp_tables[n])
#define INLINE static inline __attribute__((always_inline))

/* The lanes processed together by the parallel modes: enough independent
 * blocks to keep the shuffle units busy while one chain waits. */
#define VP_LANES 4

/* ---- the S-box core ----------------------------------------------------- */

/* Inversion in GF(256) on the B basis: the io and jo nibbles whose table
 * images add up to the inverse (see tools/vpaes_tables.py). */
INLINE void vp_invert(V z, V *io, V *jo)
{
    V inv = TAB(VP_INV);
    V i = VHI(z), k = VLO(z);
    V j = VXOR(i, k);
    V ak = VTBL(TAB(VP_INVA), k);
    V iak = VXOR(VTBL(inv, i), ak);
    V jak = VXOR(VTBL(inv, j), ak);
    *io = VXOR(VTBL(inv, iak), j);
    *jo = VXOR(VTBL(inv, jak), i);
}

INLINE V vp_out(V io, V jo, int u, int t)
{
    return VXOR(VTBL(TAB(u), io), VTBL(TAB(t), jo));
}

/* A GF(2)-linear map of every byte, as two nibble lookups. */
INLINE V vp_linear(V v, int lo, int hi)
{
    return VXOR(VTBL(TAB(lo), VLO(v)), VTBL(TAB(hi), VHI(v)));
}

/* One middle encryption round on the B basis, round key added. */
INLINE V vp_enc_round(V s, V rk)
{
    V io, jo;
    vp_invert(s, &io, &jo);
    V a1 = vp_out(io, jo, VP_SB1_U, VP_SB1_T);
    /* The key (stored un-ShiftRowed) joins the io half, ready a step early. */
    V a2 = VXOR(VXOR(VTBL(TAB(VP_SB2_U), io), rk), VTBL(TAB(VP_SB2_T), jo));
    V a3 = vp_out(io, jo, VP_SB3_U, VP_SB3_T);
    /* Per column: 2 s[r] + 3 s[r+1] + s[r+2] + s[r+3], ShiftRows folded in. */
    V x = VXOR(VTBL(a2, TAB(VP_SR0)), VTBL(a3, TAB(VP_SR1)));
    V y = VXOR(VTBL(a1, TAB(VP_SR2)), VTBL(a1, TAB(VP_SR3)));
    return VXOR(x, y);
}

INLINE V vp_dec_round(V s, V rk)
{
    V io, jo;
    vp_invert(s, &io, &jo);
    V e = VXOR(VXOR(VTBL(TAB(VP_DE_U), io), rk), VTBL(TAB(VP_DE_T), jo));
    V b = vp_out(io, jo, VP_DB11_U, VP_DB11_T);
    V d = vp_out(io, jo, VP_DD_U, VP_DD_T);
    V n = vp_out(io, jo, VP_D9_U, VP_D9_T);
    /* Per column: 14 s[r] + 11 s[r+1] + 13 s[r+2] + 9 s[r+3], InvShiftRows folded in. */
    V x = VXOR(VTBL(e, TAB(VP_ISR0)), VTBL(b, TAB(VP_ISR1)));
    V y = VXOR(VTBL(d, TAB(VP_ISR2)), VTBL(n, TAB(VP_ISR3)));
    return VXOR(x, y);
}

/* Encrypt n independent blocks (n a constant at every call site), lane b
 * with the schedule ks[b]; the output of lane b is xored with last[b] (a
 * chaining value, or zero).  Input and output in the AES basis. */
INLINE void vp_encrypt_lanes(const uint8_t *const *ks, V *s, const V *last, int n)
{
    for (int b = 0; b < n; b++)
        s[b] = VXOR(vp_linear(s[b], VP_B_LO, VP_B_HI), VLOAD(ks[b]));
    for (int r = 1; r < 14; r++)
        for (int b = 0; b < n; b++)
            s[b] = vp_enc_round(s[b], VLOAD(ks[b] + 16 * r));
    for (int b = 0; b < n; b++) {
        V io, jo;
        vp_invert(s[b], &io, &jo);
        V o = VTBL(vp_out(io, jo, VP_SBO_U, VP_SBO_T), TAB(VP_SR0));
        s[b] = VXOR(o, VXOR(VLOAD(ks[b] + 16 * 14), last[b]));
    }
}

INLINE void vp_decrypt_lanes(const uint8_t *const *ks, V *s, const V *last, int n)
{
    for (int b = 0; b < n; b++)
        s[b] = VXOR(vp_linear(s[b], VP_DB_LO, VP_DB_HI), VLOAD(ks[b]));
    for (int r = 1; r < 14; r++)
        for (int b = 0; b < n; b++)
            s[b] = vp_dec_round(s[b], VLOAD(ks[b] + 16 * r));
    for (int b = 0; b < n; b++) {
        V io, jo;
        vp_invert(s[b], &io, &jo);
        V o = VTBL(vp_out(io, jo, VP_DO_U, VP_DO_T), TAB(VP_ISR0));
        s[b] = VXOR(o, VXOR(VLOAD(ks[b] + 16 * 14), last[b]));
    }
}

INLINE V vp_encrypt1(const uint8_t *ks, V s, V last)
{
    vp_encrypt_lanes(&ks, &s, &last, 1);
    return s;
}

INLINE V vp_decrypt1(const uint8_t *ks, V s, V last)
{
    vp_decrypt_lanes(&ks, &s, &last, 1);
    return s;
}

/* ---- key schedule ------------------------------------------------------- */

/* S(y) on every byte (the key schedule's SubWord). */
INLINE V vp_sub_bytes(V v)
{
    V io, jo;
    vp_invert(vp_linear(v, VP_B_LO, VP_B_HI), &io, &jo);
    return VXOR(vp_out(io, jo, VP_SBO_U, VP_SBO_T), VSPLAT(0x63));
}

/* Every byte times x in GF(256), without a branch: the carry is a mask. */
INLINE V vp_xtime(V v)
{
    return VXOR(VADD(v, v), VAND(VTOPMASK(v), VSPLAT(0x1b)));
}

INLINE V vp_inv_mix_columns(V k)
{
    V k2 = vp_xtime(k), k4 = vp_xtime(k2), k8 = vp_xtime(k4);
    V m9 = VXOR(k8, k), m11 = VXOR(m9, k2), m13 = VXOR(m9, k4), m14 = VXOR(k8, VXOR(k4, k2));
    V x = VXOR(m14, VTBL(m11, TAB(VP_ROT1)));
    return VXOR(x, VXOR(VTBL(m13, TAB(VP_ROT2)), VTBL(m9, TAB(VP_ROT3))));
}

/* The byte-shuffle indexes of the schedule's word operations: the last word
 * rotated by one byte (RotWord), and the last word as it is, each copied
 * into all four words. */
static const uint8_t vp_rot_last[16] __attribute__((aligned(16))) = {
    13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12};
static const uint8_t vp_last[16] __attribute__((aligned(16))) = {
    12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15, 12, 13, 14, 15};

/* w0..w3 of a round key from the one two back (prev) and the broadcast word t:
 * w_i = prev_i ^ prev_i-1 ^ ... ^ prev_0 ^ t. */
INLINE V vp_next_key(V prev, V t)
{
    prev = VXOR(prev, VSHL4(prev));
    prev = VXOR(prev, VSHL8(prev));
    return VXOR(prev, t);
}

/* The FIPS-197 AES-256 key expansion, 16 bytes at a time: rk[0..14]. */
INLINE void vp_round_keys(V *rk, const uint8_t *key32)
{
    uint8_t rcon[16] = {0};
    rk[0] = VLOAD(key32);
    rk[1] = VLOAD(key32 + 16);
    for (int i = 2; i < 15; i++) {
        V t;
        if (i % 2 == 0) {  /* public: the round number */
            uint8_t rc = (uint8_t)(1u << (i / 2 - 1));
            rcon[0] = rcon[4] = rcon[8] = rcon[12] = rc;
            t = VXOR(vp_sub_bytes(VTBL(rk[i - 1], VLOAD(vp_rot_last))), VLOAD(rcon));
        } else {
            t = vp_sub_bytes(VTBL(rk[i - 1], VLOAD(vp_last)));
        }
        rk[i] = vp_next_key(rk[i - 2], t);
    }
}

void mtc_vp_expand(uint64_t *enc, uint64_t *dec, const uint8_t *key32)
{
    V rk[15];
    vp_round_keys(rk, key32);
    if (enc) {
        uint8_t *e = (uint8_t *)enc;
        V ec = VSPLAT(VP_ENC_CONST);
        VSTORE(e, vp_linear(rk[0], VP_B_LO, VP_B_HI));
        for (int r = 1; r < 14; r++) {
            V k = VXOR(vp_linear(rk[r], VP_B_LO, VP_B_HI), ec);
            VSTORE(e + 16 * r, VTBL(k, TAB(VP_ISR0)));
        }
        VSTORE(e + 16 * 14, VXOR(rk[14], VSPLAT(0x63)));
    }
    if (dec) {
        uint8_t *d = (uint8_t *)dec;
        V dc = VSPLAT(VP_DEC_CONST);
        VSTORE(d, VXOR(vp_linear(rk[14], VP_DB_LO, VP_DB_HI), dc));
        for (int r = 1; r < 14; r++) {
            V k = VXOR(vp_linear(vp_inv_mix_columns(rk[14 - r]), VP_DB_LO, VP_DB_HI), dc);
            VSTORE(d + 16 * r, VTBL(k, TAB(VP_SR0)));
        }
        VSTORE(d + 16 * 14, rk[0]);
    }
    mtc_wipe(rk, sizeof rk);
}

/* ---- block functions (for tests and the constant-time check) ------------ */

void mtc_vp_encrypt_blocks(const uint64_t *enc, const uint8_t *in, uint8_t *out, size_t nblocks)
{
    const uint8_t *ek = (const uint8_t *)enc;
    for (size_t i = 0; i < nblocks; i++)
        VSTORE(out + 16 * i, vp_encrypt1(ek, VLOAD(in + 16 * i), VZERO()));
}

void mtc_vp_decrypt_blocks(const uint64_t *dec, const uint8_t *in, uint8_t *out, size_t nblocks)
{
    const uint8_t *dk = (const uint8_t *)dec;
    for (size_t i = 0; i < nblocks; i++)
        VSTORE(out + 16 * i, vp_decrypt1(dk, VLOAD(in + 16 * i), VZERO()));
}

/* ---- serial modes: IGE and CBC encryption -------------------------------- */

/* y_i = E(x_i ^ y_i-1) ^ x_i-1; the last xor rides on the final round key. */
void mtc_vp_ige_encrypt(const uint64_t *enc, uint8_t *iv32, const uint8_t *in,
                        uint8_t *out, size_t nblocks)
{
    const uint8_t *ek = (const uint8_t *)enc;
    V y = VLOAD(iv32), xp = VLOAD(iv32 + 16);
    for (size_t i = 0; i < nblocks; i++) {
        V x = VLOAD(in + 16 * i);
        y = vp_encrypt1(ek, VXOR(x, y), xp);
        VSTORE(out + 16 * i, y);
        xp = x;
    }
    VSTORE(iv32, y);
    VSTORE(iv32 + 16, xp);
}

/* x_i = D(y_i ^ x_i-1) ^ y_i-1. */
void mtc_vp_ige_decrypt(const uint64_t *dec, uint8_t *iv32, const uint8_t *in,
                        uint8_t *out, size_t nblocks)
{
    const uint8_t *dk = (const uint8_t *)dec;
    V yp = VLOAD(iv32), x = VLOAD(iv32 + 16);
    for (size_t i = 0; i < nblocks; i++) {
        V y = VLOAD(in + 16 * i);
        x = vp_decrypt1(dk, VXOR(y, x), yp);
        VSTORE(out + 16 * i, x);
        yp = y;
    }
    VSTORE(iv32, yp);
    VSTORE(iv32 + 16, x);
}

void mtc_vp_cbc_encrypt(const uint64_t *enc, uint8_t *iv16, const uint8_t *in,
                        uint8_t *out, size_t nblocks)
{
    const uint8_t *ek = (const uint8_t *)enc;
    V c = VLOAD(iv16);
    for (size_t i = 0; i < nblocks; i++) {
        c = vp_encrypt1(ek, VXOR(VLOAD(in + 16 * i), c), VZERO());
        VSTORE(out + 16 * i, c);
    }
    VSTORE(iv16, c);
}

/* ---- parallel modes: CBC decryption and CTR, VP_LANES blocks at once ----- */

void mtc_vp_cbc_decrypt(const uint64_t *dec, uint8_t *iv16, const uint8_t *in,
                        uint8_t *out, size_t nblocks)
{
    const uint8_t *dk = (const uint8_t *)dec;
    const uint8_t *ks[VP_LANES];
    for (int b = 0; b < VP_LANES; b++) ks[b] = dk;
    V prev = VLOAD(iv16);
    size_t i = 0;
    for (; i + VP_LANES <= nblocks; i += VP_LANES) {
        V s[VP_LANES], last[VP_LANES];
        for (int b = 0; b < VP_LANES; b++) {
            s[b] = VLOAD(in + 16 * (i + b));
            last[b] = b ? VLOAD(in + 16 * (i + b - 1)) : prev;
        }
        prev = s[VP_LANES - 1];
        vp_decrypt_lanes(ks, s, last, VP_LANES);
        for (int b = 0; b < VP_LANES; b++) VSTORE(out + 16 * (i + b), s[b]);
    }
    for (; i < nblocks; i++) {
        V c = VLOAD(in + 16 * i);
        VSTORE(out + 16 * i, vp_decrypt1(dk, c, prev));
        prev = c;
    }
    VSTORE(iv16, prev);
}

/* The big-endian 128-bit counter as two words, incremented without a branch. */
static void ctr_get(const uint8_t *ctr, uint64_t *hi, uint64_t *lo)
{
    uint64_t h = 0, l = 0;
    for (int i = 0; i < 8; i++) {
        h = (h << 8) | ctr[i];
        l = (l << 8) | ctr[8 + i];
    }
    *hi = h;
    *lo = l;
}

static void ctr_put(uint8_t *ctr, uint64_t hi, uint64_t lo)
{
    for (int i = 7; i >= 0; i--) {
        ctr[i] = (uint8_t)hi;
        ctr[8 + i] = (uint8_t)lo;
        hi >>= 8;
        lo >>= 8;
    }
}

static void ctr_next(uint64_t *hi, uint64_t *lo)
{
    uint64_t l = *lo + 1;
    /* Opaque to the optimizer: otherwise it may derive the (public) block
     * index from the (secret) counter and branch or address memory with it. */
    __asm__("" : "+r"(l));
    *lo = l;
    *hi += (uint64_t)(l == 0);
}

void mtc_vp_ctr_blocks(const uint64_t *enc, uint8_t *ctr16, const uint8_t *in,
                       uint8_t *out, size_t nblocks)
{
    const uint8_t *ek = (const uint8_t *)enc;
    const uint8_t *ks[VP_LANES];
    for (int b = 0; b < VP_LANES; b++) ks[b] = ek;
    uint64_t hi, lo;
    ctr_get(ctr16, &hi, &lo);
    uint8_t blk[VP_LANES][16];
    size_t i = 0;
    for (; i + VP_LANES <= nblocks; i += VP_LANES) {
        V s[VP_LANES], last[VP_LANES];
        for (int b = 0; b < VP_LANES; b++) {
            ctr_put(blk[b], hi, lo);
            ctr_next(&hi, &lo);
            s[b] = VLOAD(blk[b]);
            last[b] = VLOAD(in + 16 * (i + b));
        }
        vp_encrypt_lanes(ks, s, last, VP_LANES);
        for (int b = 0; b < VP_LANES; b++) VSTORE(out + 16 * (i + b), s[b]);
    }
    for (; i < nblocks; i++) {
        ctr_put(blk[0], hi, lo);
        ctr_next(&hi, &lo);
        VSTORE(out + 16 * i, vp_encrypt1(ek, VLOAD(blk[0]), VLOAD(in + 16 * i)));
    }
    ctr_put(ctr16, hi, lo);
    mtc_wipe(blk, sizeof blk);
}

/* ---- multi-message IGE: independent chains side by side ------------------- */

struct vp_chain {
    V a, b;              /* encrypt: y_prev, x_prev; decrypt: x_prev, y_prev */
    const uint8_t *in;
    uint8_t *out;
    size_t left;
    uint8_t ks[15 * 16];
};

static void vp_chain_start(struct vp_chain *c, int decrypt, const struct mtc_ige_job *job)
{
    uint64_t sched[30];
    if (decrypt) {
        mtc_vp_expand(NULL, sched, job->key);
        c->a = VLOAD(job->iv + 16);
        c->b = VLOAD(job->iv);
    } else {
        mtc_vp_expand(sched, NULL, job->key);
        c->a = VLOAD(job->iv);
        c->b = VLOAD(job->iv + 16);
    }
    memcpy(c->ks, sched, sizeof c->ks);
    mtc_wipe(sched, sizeof sched);
    c->in = job->in;
    c->out = job->out;
    c->left = job->nblocks;
}

/* `steps` blocks of each of the first n chains (n a constant at every call
 * site).  In both directions a step is out = F(in ^ a) ^ b, then b = in,
 * a = out. */
INLINE void vp_chains_run(struct vp_chain *c, int decrypt, size_t steps, int n)
{
    const uint8_t *ks[VP_LANES];
    for (int l = 0; l < n; l++) ks[l] = c[l].ks;
    for (size_t t = 0; t < steps; t++) {
        V s[VP_LANES], last[VP_LANES], x[VP_LANES];
        for (int l = 0; l < n; l++) {
            x[l] = VLOAD(c[l].in + 16 * t);
            s[l] = VXOR(x[l], c[l].a);
            last[l] = c[l].b;
        }
        if (decrypt)
            vp_decrypt_lanes(ks, s, last, n);
        else
            vp_encrypt_lanes(ks, s, last, n);
        for (int l = 0; l < n; l++) {
            VSTORE(c[l].out + 16 * t, s[l]);
            c[l].a = s[l];
            c[l].b = x[l];
        }
    }
    for (int l = 0; l < n; l++) {
        c[l].in += 16 * steps;
        c[l].out += 16 * steps;
        c[l].left -= steps;
    }
}

static void vp_run4(struct vp_chain *c, int decrypt, size_t steps)
{
    vp_chains_run(c, decrypt, steps, VP_LANES);
}

static void vp_run2(struct vp_chain *c, int decrypt, size_t steps)
{
    vp_chains_run(c, decrypt, steps, 2);
}

/* The rest of one chain alone. */
static void vp_chain_finish(struct vp_chain *c, int decrypt)
{
    uint8_t iv[32];
    if (decrypt) {
        VSTORE(iv, c->b);
        VSTORE(iv + 16, c->a);
        mtc_vp_ige_decrypt((const uint64_t *)(const void *)c->ks, iv, c->in, c->out, c->left);
    } else {
        VSTORE(iv, c->a);
        VSTORE(iv + 16, c->b);
        mtc_vp_ige_encrypt((const uint64_t *)(const void *)c->ks, iv, c->in, c->out, c->left);
    }
    c->left = 0;
    mtc_wipe(iv, sizeof iv);
}

static size_t vp_min_left(const struct vp_chain *c, int n)
{
    size_t m = c[0].left;
    for (int l = 1; l < n; l++)
        if (c[l].left < m) m = c[l].left;
    return m;
}

/* Independent messages VP_LANES at a time; when the jobs run out, the chains
 * left go two at a time, then one. */
int mtc_vp_ige_batch(int decrypt, size_t n, const struct mtc_ige_job *jobs)
{
    struct vp_chain c[VP_LANES];
    size_t next = 0;
    memset(c, 0, sizeof c);
    for (;;) {
        /* Every lane that ran dry takes the next job with blocks in it. */
        for (int l = 0; l < VP_LANES; l++) {
            if (c[l].left) continue;
            while (next < n && jobs[next].nblocks == 0) next++;
            if (next < n) vp_chain_start(&c[l], decrypt, &jobs[next++]);
        }
        /* The busy chains to the front (this happens only once the jobs ran out). */
        int busy = 0;
        for (int l = 0; l < VP_LANES; l++) {
            if (!c[l].left) continue;
            if (l != busy) {
                c[busy] = c[l];
                c[l].left = 0;
            }
            busy++;
        }
        if (busy == VP_LANES)
            vp_run4(c, decrypt, vp_min_left(c, VP_LANES));
        else if (busy >= 2)
            vp_run2(c, decrypt, vp_min_left(c, 2));
        else if (busy == 1)
            vp_chain_finish(&c[0], decrypt);
        else
            break;
    }
    mtc_wipe(c, sizeof c);
    return MTC_OK;
}

#if defined(__x86_64__)
#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
#endif

#endif /* x86-64 or aarch64 */
