/*
 * Portable constant-time AES-256, bitsliced on 64-bit words.
 *
 * State: 4 block slots in 8 words, word p = bit p of every byte; the byte
 * at row r, column c of slot b sits at bit 16*r + 4*b + c.  Rows are the
 * top-level field, so MixColumns' row rotation is one 64-bit rotate.  A
 * single block is held in all four slots, which turns column rotations
 * into plain shifts (see rot1s); that is the latency path IGE uses.
 *
 * ShiftRows is never applied inside the rounds ("fixslicing", Adomnicai &
 * Peyrin 2020): after round i the stored state is SR^-i of the true state,
 * MixColumns is conjugated to match (it then also rotates columns inside
 * each row, by i mod 4), and round key i is stored as SR^-i of itself.
 * Only SR^14 = SR^2 is left, applied in the byte domain on output.
 *
 * S-box: the Boyar-Peralta GF(2^4)-tower circuit (ePrint 2011/332, the
 * depth-16 one): its nonlinear middle is used as published; the linear top
 * and bottom layers were re-derived (greedy SLP search) for the forward
 * S-box and for the inverse (forward circuit conjugated by the affine map).
 * The S-box constant 0x63 is folded into round keys 1..14, which makes
 * both circuits purely linear+AND and lets encryption and decryption share
 * one key schedule.
 *
 * No table lookups and no branches depend on key or data, and no
 * multiplications are used.
 */
/* The package builds with -O3; this file measured faster at -O2 (-O3's
 * extra unrolling adds spills to the bitsliced rounds). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O2")
#endif
#include "internal.h"

#if defined(__GNUC__) || defined(__clang__)
#define MTC_INLINE static inline __attribute__((always_inline))
#else
#define MTC_INLINE static inline
#endif

#define ROTR(x, n) (((x) >> (n)) | ((x) << (64 - (n))))

/* Boyar-Peralta nonlinear middle: t0..t21 (the T signals, order below)
 * to the 18 products p0..p17; GF(2^4) inversion and two multiplications. */
#define SBOX_MIDDLE \
    const uint64_t m1 = t8 & t4; const uint64_t m2 = t16 & t5; \
    const uint64_t m3 = t9 ^ m1; const uint64_t m4 = t13 & t21; \
    const uint64_t m5 = m4 ^ m1; const uint64_t m6 = t2 & t11; \
    const uint64_t m7 = t15 & t6; const uint64_t m8 = t19 ^ m6; \
    const uint64_t m9 = t14 & t12; const uint64_t m10 = m9 ^ m6; \
    const uint64_t m11 = t0 & t10; const uint64_t m12 = t3 & t20; \
    const uint64_t m13 = m12 ^ m11; const uint64_t m14 = t1 & t7; \
    const uint64_t m15 = m14 ^ m11; const uint64_t m16 = m3 ^ m2; \
    const uint64_t m17 = m5 ^ t17; const uint64_t m18 = m8 ^ m7; \
    const uint64_t m19 = m10 ^ m15; const uint64_t m20 = m16 ^ m13; \
    const uint64_t m21 = m17 ^ m15; const uint64_t m22 = m18 ^ m13; \
    const uint64_t m23 = m19 ^ t18; const uint64_t m24 = m22 ^ m23; \
    const uint64_t m25 = m22 & m20; const uint64_t m26 = m21 ^ m25; \
    const uint64_t m27 = m20 ^ m21; const uint64_t m28 = m23 ^ m25; \
    const uint64_t m29 = m28 & m27; const uint64_t m30 = m26 & m24; \
    const uint64_t m31 = m20 & m23; const uint64_t m32 = m27 & m31; \
    const uint64_t m33 = m27 ^ m25; const uint64_t m34 = m21 & m22; \
    const uint64_t m35 = m24 & m34; const uint64_t m36 = m24 ^ m25; \
    const uint64_t m37 = m21 ^ m29; const uint64_t m38 = m32 ^ m33; \
    const uint64_t m39 = m23 ^ m30; const uint64_t m40 = m35 ^ m36; \
    const uint64_t m41 = m38 ^ m40; const uint64_t m42 = m37 ^ m39; \
    const uint64_t m43 = m37 ^ m38; const uint64_t m44 = m39 ^ m40; \
    const uint64_t m45 = m42 ^ m41; const uint64_t p0 = m44 & t4; \
    const uint64_t p1 = m40 & t5; const uint64_t p2 = m39 & t21; \
    const uint64_t p3 = m43 & t11; const uint64_t p4 = m38 & t6; \
    const uint64_t p5 = m37 & t12; const uint64_t p6 = m42 & t10; \
    const uint64_t p7 = m45 & t20; const uint64_t p8 = m41 & t7; \
    const uint64_t p9 = m44 & t8; const uint64_t p10 = m40 & t16; \
    const uint64_t p11 = m39 & t13; const uint64_t p12 = m43 & t2; \
    const uint64_t p13 = m38 & t15; const uint64_t p14 = m37 & t14; \
    const uint64_t p15 = m42 & t0; const uint64_t p16 = m45 & t3; \
    const uint64_t p17 = m41 & t1

MTC_INLINE void sbox_fwd(uint64_t *q)
{
    const uint64_t x0 = q[0], x1 = q[1], x2 = q[2], x3 = q[3];
    const uint64_t x4 = q[4], x5 = q[5], x6 = q[6], x7 = q[7];
    const uint64_t a8 = x1 ^ x7;
    const uint64_t a9 = x2 ^ x4;
    const uint64_t a10 = x2 ^ x7;
    const uint64_t a11 = x4 ^ x7;
    const uint64_t a12 = a8 ^ a9;
    const uint64_t a13 = x3 ^ a12;
    const uint64_t a14 = x2 ^ a13;
    const uint64_t a15 = x0 ^ a14;
    const uint64_t a16 = x6 ^ a13;
    const uint64_t a17 = a11 ^ a16;
    const uint64_t a18 = x0 ^ a17;
    const uint64_t a19 = x5 ^ x6;
    const uint64_t a20 = x0 ^ a19;
    const uint64_t a21 = x1 ^ a20;
    const uint64_t a22 = x4 ^ a20;
    const uint64_t a23 = x7 ^ a20;
    const uint64_t a24 = a10 ^ a21;
    const uint64_t a25 = a14 ^ a19;
    const uint64_t a26 = a10 ^ a25;
    const uint64_t a27 = a17 ^ a19;
    const uint64_t a28 = x7 ^ a27;
    const uint64_t a29 = x1 ^ a28;
    const uint64_t a30 = a14 ^ a27;
    const uint64_t t0 = a11; /* T1 */
    const uint64_t t1 = a10; /* T2 */
    const uint64_t t2 = a8; /* T3 */
    const uint64_t t3 = a9; /* T4 */
    const uint64_t t4 = a14; /* T6 */
    const uint64_t t5 = a15; /* T8 */
    const uint64_t t6 = a20; /* T9 */
    const uint64_t t7 = a25; /* T10 */
    const uint64_t t8 = a12; /* T13 */
    const uint64_t t9 = a16; /* T14 */
    const uint64_t t10 = a17; /* T15 */
    const uint64_t t11 = a27; /* T16 */
    const uint64_t t12 = a18; /* T17 */
    const uint64_t t13 = a22; /* T19 */
    const uint64_t t14 = a23; /* T20 */
    const uint64_t t15 = a21; /* T22 */
    const uint64_t t16 = a24; /* T23 */
    const uint64_t t17 = a26; /* T24 */
    const uint64_t t18 = a28; /* T25 */
    const uint64_t t19 = a29; /* T26 */
    const uint64_t t20 = a30; /* T27 */
    const uint64_t t21 = x0; /* U7 */
    SBOX_MIDDLE;
    const uint64_t b18 = p15 ^ p16;
    const uint64_t b19 = p10 ^ b18;
    const uint64_t b20 = p4 ^ b19;
    const uint64_t b21 = p0 ^ p2;
    const uint64_t b22 = p8 ^ p12;
    const uint64_t b23 = p1 ^ p9;
    const uint64_t b24 = p3 ^ b20;
    const uint64_t b25 = p6 ^ p7;
    const uint64_t b26 = p5 ^ p13;
    const uint64_t b27 = p7 ^ b22;
    const uint64_t b28 = b18 ^ b26;
    const uint64_t b29 = p14 ^ b21;
    const uint64_t b30 = p0 ^ b23;
    const uint64_t b31 = p6 ^ p17;
    const uint64_t b32 = p2 ^ p5;
    const uint64_t b33 = p3 ^ p12;
    const uint64_t b34 = b23 ^ b32;
    const uint64_t b35 = p9 ^ b25;
    const uint64_t b36 = b21 ^ b33;
    const uint64_t b37 = b20 ^ b34;
    const uint64_t b38 = p11 ^ b29;
    const uint64_t b39 = b27 ^ b38;
    const uint64_t b40 = p15 ^ b22;
    const uint64_t b41 = p4 ^ b27;
    const uint64_t b42 = b31 ^ b40;
    const uint64_t b43 = b19 ^ b25;
    const uint64_t b44 = b24 ^ b30;
    const uint64_t b45 = b28 ^ b36;
    const uint64_t b46 = b29 ^ b42;
    const uint64_t b47 = b30 ^ b43;
    const uint64_t b48 = b28 ^ b41;
    const uint64_t b49 = b24 ^ b35;
    const uint64_t b50 = b24 ^ b39;
    q[0] = b45;
    q[1] = b48;
    q[2] = b50;
    q[3] = b37;
    q[4] = b44;
    q[5] = b46;
    q[6] = b47;
    q[7] = b49;
}


MTC_INLINE void sbox_inv(uint64_t *q)
{
    const uint64_t x0 = q[0], x1 = q[1], x2 = q[2], x3 = q[3];
    const uint64_t x4 = q[4], x5 = q[5], x6 = q[6], x7 = q[7];
    const uint64_t a8 = x0 ^ x3;
    const uint64_t a9 = x3 ^ x4;
    const uint64_t a10 = x0 ^ a9;
    const uint64_t a11 = x1 ^ a10;
    const uint64_t a12 = x4 ^ x6;
    const uint64_t a13 = x4 ^ x7;
    const uint64_t a14 = x5 ^ a9;
    const uint64_t a15 = x6 ^ x7;
    const uint64_t a16 = x4 ^ a15;
    const uint64_t a17 = x3 ^ a16;
    const uint64_t a18 = a8 ^ a15;
    const uint64_t a19 = a11 ^ a12;
    const uint64_t a20 = a9 ^ a19;
    const uint64_t a21 = x5 ^ a20;
    const uint64_t a22 = x1 ^ a21;
    const uint64_t a23 = a10 ^ a21;
    const uint64_t a24 = a11 ^ a17;
    const uint64_t a25 = x2 ^ x7;
    const uint64_t a26 = x5 ^ a25;
    const uint64_t a27 = a16 ^ a26;
    const uint64_t a28 = a19 ^ a25;
    const uint64_t a29 = a9 ^ a28;
    const uint64_t a30 = a18 ^ a29;
    const uint64_t t0 = a9; /* T1 */
    const uint64_t t1 = a15; /* T2 */
    const uint64_t t2 = a11; /* T3 */
    const uint64_t t3 = a17; /* T4 */
    const uint64_t t4 = a27; /* T6 */
    const uint64_t t5 = a16; /* T8 */
    const uint64_t t6 = a10; /* T9 */
    const uint64_t t7 = a18; /* T10 */
    const uint64_t t8 = a24; /* T13 */
    const uint64_t t9 = a28; /* T14 */
    const uint64_t t10 = a29; /* T15 */
    const uint64_t t11 = a23; /* T16 */
    const uint64_t t12 = a21; /* T17 */
    const uint64_t t13 = a20; /* T19 */
    const uint64_t t14 = a19; /* T20 */
    const uint64_t t15 = a12; /* T22 */
    const uint64_t t16 = a13; /* T23 */
    const uint64_t t17 = a8; /* T24 */
    const uint64_t t18 = a14; /* T25 */
    const uint64_t t19 = a22; /* T26 */
    const uint64_t t20 = a30; /* T27 */
    const uint64_t t21 = a26; /* U7 */
    SBOX_MIDDLE;
    const uint64_t b18 = p6 ^ p15;
    const uint64_t b19 = p12 ^ b18;
    const uint64_t b20 = p16 ^ b19;
    const uint64_t b21 = p8 ^ p13;
    const uint64_t b22 = p2 ^ p10;
    const uint64_t b23 = p3 ^ p4;
    const uint64_t b24 = b20 ^ b21;
    const uint64_t b25 = p0 ^ p5;
    const uint64_t b26 = p9 ^ p17;
    const uint64_t b27 = p7 ^ p13;
    const uint64_t b28 = p1 ^ p14;
    const uint64_t b29 = b22 ^ b28;
    const uint64_t b30 = b23 ^ b29;
    const uint64_t b31 = p4 ^ b25;
    const uint64_t b32 = p11 ^ b27;
    const uint64_t b33 = p0 ^ p2;
    const uint64_t b34 = p11 ^ p15;
    const uint64_t b35 = b20 ^ b30;
    const uint64_t b36 = b26 ^ b34;
    const uint64_t b37 = b22 ^ b32;
    const uint64_t b38 = b24 ^ b33;
    const uint64_t b39 = p3 ^ p5;
    const uint64_t b40 = p8 ^ p11;
    const uint64_t b41 = b18 ^ b30;
    const uint64_t b42 = b23 ^ b27;
    const uint64_t b43 = b20 ^ b42;
    const uint64_t b44 = b21 ^ b26;
    const uint64_t b45 = b19 ^ b31;
    const uint64_t b46 = p1 ^ b31;
    const uint64_t b47 = b37 ^ b45;
    const uint64_t b48 = b41 ^ b44;
    const uint64_t b49 = b35 ^ b40;
    const uint64_t b50 = b24 ^ b46;
    const uint64_t b51 = p17 ^ b47;
    const uint64_t b52 = b24 ^ b39;
    q[0] = b36;
    q[1] = b43;
    q[2] = b50;
    q[3] = b51;
    q[4] = b38;
    q[5] = b49;
    q[6] = b48;
    q[7] = b52;
}

/* Multi-block linear layer.  rot1: X[r+1][c+k], the next row with columns
 * rotated by k = round mod 4; rot2: X[r+2][c+2k].  A column rotation is a
 * rotation inside each nibble, hence the two-piece blends. */
MTC_INLINE uint64_t rot1(uint64_t x, int k)
{
    switch (k & 3) {
    case 0: return ROTR(x, 16);
    case 1: return (ROTR(x, 17) & 0x7777777777777777ull) | (ROTR(x, 13) & 0x8888888888888888ull);
    case 2: return (ROTR(x, 18) & 0x3333333333333333ull) | (ROTR(x, 14) & 0xCCCCCCCCCCCCCCCCull);
    default: return (ROTR(x, 19) & 0x1111111111111111ull) | (ROTR(x, 15) & 0xEEEEEEEEEEEEEEEEull);
    }
}

MTC_INLINE uint64_t rot2(uint64_t x, int k)
{
    if (!(k & 1))
        return ROTR(x, 32);
    return (ROTR(x, 34) & 0x3333333333333333ull) | (ROTR(x, 30) & 0xCCCCCCCCCCCCCCCCull);
}

/* One-block linear layer.  The block is held in all four slots, so each
 * row lane repeats its 4 columns with period 4 and a column rotation is a
 * plain shift: rot1 = ROTR(x, 16 + k), rot2 = ROTR(x, 32 + 2k mod 4).  The
 * bits shifted in across a lane edge are wrong, shrinking the window of
 * correct low bits of each lane by up to 7 per round.  restore4/restore8
 * copy the low nibble/byte of each lane over the rest while it is right. */
MTC_INLINE uint64_t rot1s(uint64_t x, int k)
{
    return ROTR(x, 16 + (k & 3));
}

MTC_INLINE uint64_t rot2s(uint64_t x, int k)
{
    return ROTR(x, 32 + 2 * (k & 1));
}

MTC_INLINE uint64_t rep4(uint64_t x)
{
    x &= 0x000F000F000F000Full;
    x |= x << 4;
    return x | (x << 8);
}

MTC_INLINE uint64_t rep8(uint64_t x)
{
    x &= 0x00FF00FF00FF00FFull;
    return x | (x << 8);
}

MTC_INLINE void restore4(uint64_t *q)
{
    q[0] = rep4(q[0]); q[1] = rep4(q[1]); q[2] = rep4(q[2]); q[3] = rep4(q[3]);
    q[4] = rep4(q[4]); q[5] = rep4(q[5]); q[6] = rep4(q[6]); q[7] = rep4(q[7]);
}

MTC_INLINE void restore8(uint64_t *q)
{
    q[0] = rep8(q[0]); q[1] = rep8(q[1]); q[2] = rep8(q[2]); q[3] = rep8(q[3]);
    q[4] = rep8(q[4]); q[5] = rep8(q[5]); q[6] = rep8(q[6]); q[7] = rep8(q[7]);
}

/* MixColumns as 2*(a^a1) ^ a1 ^ (a2^a3), conjugated by SR^k. */
#define MIXCOL(q, k, R1, R2) do { \
        const uint64_t a0 = R1(q[0], k), a1 = R1(q[1], k), a2 = R1(q[2], k), a3 = R1(q[3], k); \
        const uint64_t a4 = R1(q[4], k), a5 = R1(q[5], k), a6 = R1(q[6], k), a7 = R1(q[7], k); \
        const uint64_t t0 = q[0] ^ a0, t1 = q[1] ^ a1, t2 = q[2] ^ a2, t3 = q[3] ^ a3; \
        const uint64_t t4 = q[4] ^ a4, t5 = q[5] ^ a5, t6 = q[6] ^ a6, t7 = q[7] ^ a7; \
        q[0] = t7 ^ a0 ^ R2(t0, k); \
        q[1] = t0 ^ t7 ^ a1 ^ R2(t1, k); \
        q[2] = t1 ^ a2 ^ R2(t2, k); \
        q[3] = t2 ^ t7 ^ a3 ^ R2(t3, k); \
        q[4] = t3 ^ t7 ^ a4 ^ R2(t4, k); \
        q[5] = t4 ^ a5 ^ R2(t5, k); \
        q[6] = t5 ^ a6 ^ R2(t6, k); \
        q[7] = t6 ^ a7 ^ R2(t7, k); \
    } while (0)

/* InvMixColumns = MixColumns o (05 + 04*x^2). */
#define INVMIXCOL(q, k, R1, R2) do { \
        const uint64_t u0 = q[0] ^ R2(q[0], k), u1 = q[1] ^ R2(q[1], k); \
        const uint64_t u2 = q[2] ^ R2(q[2], k), u3 = q[3] ^ R2(q[3], k); \
        const uint64_t u4 = q[4] ^ R2(q[4], k), u5 = q[5] ^ R2(q[5], k); \
        const uint64_t u6 = q[6] ^ R2(q[6], k), u7 = q[7] ^ R2(q[7], k); \
        const uint64_t u67 = u6 ^ u7; \
        q[0] ^= u6; q[1] ^= u67; q[2] ^= u7 ^ u0; q[3] ^= u6 ^ u1; \
        q[4] ^= u67 ^ u2; q[5] ^= u7 ^ u3; q[6] ^= u4; q[7] ^= u5; \
        MIXCOL(q, k, R1, R2); \
    } while (0)

MTC_INLINE void mixcol(uint64_t *q, int k) { MIXCOL(q, k, rot1, rot2); }
MTC_INLINE void invmixcol(uint64_t *q, int k) { INVMIXCOL(q, k, rot1, rot2); }
MTC_INLINE void mixcol1(uint64_t *q, int k) { MIXCOL(q, k, rot1s, rot2s); }
MTC_INLINE void invmixcol1(uint64_t *q, int k) { INVMIXCOL(q, k, rot1s, rot2s); }

MTC_INLINE void addkey(uint64_t *q, const uint64_t *k)
{
    q[0] ^= k[0]; q[1] ^= k[1]; q[2] ^= k[2]; q[3] ^= k[3];
    q[4] ^= k[4]; q[5] ^= k[5]; q[6] ^= k[6]; q[7] ^= k[7];
}

#define SWAPMOVE(a, b, m, n) do { \
        uint64_t t_ = (((a) >> (n)) ^ (b)) & (m); \
        (b) ^= t_; (a) ^= t_ << (n); \
    } while (0)

/* 8x8 bit transpose across words: word j byte k bit i <-> word i byte k bit j.
 * An involution. */
MTC_INLINE void transpose(uint64_t *q)
{
    SWAPMOVE(q[0], q[1], 0x5555555555555555ull, 1);
    SWAPMOVE(q[2], q[3], 0x5555555555555555ull, 1);
    SWAPMOVE(q[4], q[5], 0x5555555555555555ull, 1);
    SWAPMOVE(q[6], q[7], 0x5555555555555555ull, 1);
    SWAPMOVE(q[0], q[2], 0x3333333333333333ull, 2);
    SWAPMOVE(q[1], q[3], 0x3333333333333333ull, 2);
    SWAPMOVE(q[4], q[6], 0x3333333333333333ull, 2);
    SWAPMOVE(q[5], q[7], 0x3333333333333333ull, 2);
    SWAPMOVE(q[0], q[4], 0x0F0F0F0F0F0F0F0Full, 4);
    SWAPMOVE(q[1], q[5], 0x0F0F0F0F0F0F0F0Full, 4);
    SWAPMOVE(q[2], q[6], 0x0F0F0F0F0F0F0F0Full, 4);
    SWAPMOVE(q[3], q[7], 0x0F0F0F0F0F0F0F0Full, 4);
}

/* A loaded word holds one column of two blocks b and b+2 (low, high half),
 * so byte (h,r) is at 4h+r; the transpose needs it at 2r+h.  Word
 * 4*b + c then ends up at bits 16*r + 4*(b + 2h) + c of the planes. */
MTC_INLINE uint64_t shuffle(uint64_t x)
{
    uint64_t t;
    t = ((x >> 16) ^ x) & 0x00000000FFFF0000ull;
    x ^= t ^ (t << 16);
    t = ((x >> 8) ^ x) & 0x0000FF000000FF00ull;
    x ^= t ^ (t << 8);
    return x;
}

MTC_INLINE uint64_t unshuffle(uint64_t x)
{
    uint64_t t;
    t = ((x >> 8) ^ x) & 0x0000FF000000FF00ull;
    x ^= t ^ (t << 8);
    t = ((x >> 16) ^ x) & 0x00000000FFFF0000ull;
    x ^= t ^ (t << 16);
    return x;
}

MTC_INLINE uint32_t ld32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

MTC_INLINE uint64_t ld64(const uint8_t *p)
{
    return (uint64_t)p[0] | ((uint64_t)p[1] << 8) | ((uint64_t)p[2] << 16) | ((uint64_t)p[3] << 24)
        | ((uint64_t)p[4] << 32) | ((uint64_t)p[5] << 40) | ((uint64_t)p[6] << 48) | ((uint64_t)p[7] << 56);
}

MTC_INLINE void st64(uint8_t *p, uint64_t v)
{
    p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); p[2] = (uint8_t)(v >> 16); p[3] = (uint8_t)(v >> 24);
    p[4] = (uint8_t)(v >> 32); p[5] = (uint8_t)(v >> 40); p[6] = (uint8_t)(v >> 48); p[7] = (uint8_t)(v >> 56);
}

#define LO32 0x00000000FFFFFFFFull
#define HI32 0xFFFFFFFF00000000ull

#define SR2PAIR(a, b) do { \
        uint64_t t_ = ((a) ^ (b)) & 0xFF00FF00FF00FF00ull; \
        (a) ^= t_; (b) ^= t_; \
    } while (0)

/* One block into all four slots: columns go to words 0..3 (slot 0 and,
 * via the high half, slot 2); the shift by 4 then fills slots 1 and 3. */
MTC_INLINE void load1(uint64_t *q, const uint8_t *in, int presr2)
{
    uint64_t w0 = ld64(in), w2 = ld64(in + 8);     /* columns 0,1 and 2,3 */
    if (presr2)
        SR2PAIR(w0, w2);
    q[0] = shuffle((w0 & LO32) | (w0 << 32));
    q[1] = shuffle((w0 >> 32) | (w0 & HI32));
    q[2] = shuffle((w2 & LO32) | (w2 << 32));
    q[3] = shuffle((w2 >> 32) | (w2 & HI32));
    q[4] = q[5] = q[6] = q[7] = 0;
    transpose(q);
    q[0] |= q[0] << 4; q[1] |= q[1] << 4; q[2] |= q[2] << 4; q[3] |= q[3] << 4;
    q[4] |= q[4] << 4; q[5] |= q[5] << 4; q[6] |= q[6] << 4; q[7] |= q[7] << 4;
}

/* Slot 0 of each lane (its low nibble) back to bytes. */
MTC_INLINE void store1(uint64_t *q, uint8_t *out, int postsr2)
{
    uint64_t w0, w2;
    transpose(q);
    w0 = (unshuffle(q[0]) & LO32) | (unshuffle(q[1]) << 32);
    w2 = (unshuffle(q[2]) & LO32) | (unshuffle(q[3]) << 32);
    if (postsr2)
        SR2PAIR(w0, w2);
    st64(out, w0);
    st64(out + 8, w2);
}

/* Word 4*b + c holds column c of blocks b (low half) and b + 2 (high);
 * blocks from n on read as zero and are not written. */
MTC_INLINE void loadn(uint64_t *q, const uint8_t *in, size_t n, int presr2)
{
    uint64_t x0 = ld64(in), x1 = ld64(in + 8), x2 = ld64(in + 16), x3 = ld64(in + 24);
    uint64_t y0 = 0, y1 = 0, y2 = 0, y3 = 0;
    if (n > 2) {
        y0 = ld64(in + 32); y1 = ld64(in + 40);
    }
    if (n > 3) {
        y2 = ld64(in + 48); y3 = ld64(in + 56);
    }
    if (presr2) {
        SR2PAIR(x0, x1); SR2PAIR(x2, x3);
        SR2PAIR(y0, y1); SR2PAIR(y2, y3);
    }
    q[0] = shuffle((x0 & LO32) | (y0 << 32));
    q[1] = shuffle((x0 >> 32) | (y0 & HI32));
    q[2] = shuffle((x1 & LO32) | (y1 << 32));
    q[3] = shuffle((x1 >> 32) | (y1 & HI32));
    q[4] = shuffle((x2 & LO32) | (y2 << 32));
    q[5] = shuffle((x2 >> 32) | (y2 & HI32));
    q[6] = shuffle((x3 & LO32) | (y3 << 32));
    q[7] = shuffle((x3 >> 32) | (y3 & HI32));
    transpose(q);
}

MTC_INLINE void storen(uint64_t *q, uint8_t *out, size_t n, int postsr2)
{
    uint64_t x0, x1, x2, x3, y0, y1, y2, y3;
    transpose(q);
    q[0] = unshuffle(q[0]); q[1] = unshuffle(q[1]); q[2] = unshuffle(q[2]); q[3] = unshuffle(q[3]);
    q[4] = unshuffle(q[4]); q[5] = unshuffle(q[5]); q[6] = unshuffle(q[6]); q[7] = unshuffle(q[7]);
    x0 = (q[0] & LO32) | (q[1] << 32); y0 = (q[0] >> 32) | (q[1] & HI32);
    x1 = (q[2] & LO32) | (q[3] << 32); y1 = (q[2] >> 32) | (q[3] & HI32);
    x2 = (q[4] & LO32) | (q[5] << 32); y2 = (q[4] >> 32) | (q[5] & HI32);
    x3 = (q[6] & LO32) | (q[7] << 32); y3 = (q[6] >> 32) | (q[7] & HI32);
    if (postsr2) {
        SR2PAIR(x0, x1); SR2PAIR(x2, x3);
        SR2PAIR(y0, y1); SR2PAIR(y2, y3);
    }
    st64(out, x0); st64(out + 8, x1); st64(out + 16, x2); st64(out + 24, x3);
    if (n > 2) {
        st64(out + 32, y0); st64(out + 40, y1);
    }
    if (n > 3) {
        st64(out + 48, y2); st64(out + 56, y3);
    }
}

MTC_INLINE void enc4(const uint64_t *sk, uint64_t *q)
{
    int r;
    addkey(q, sk);
    for (r = 1; r < 13; r += 4) {
        sbox_fwd(q); mixcol(q, 1); addkey(q, sk + 8 * r);
        sbox_fwd(q); mixcol(q, 2); addkey(q, sk + 8 * (r + 1));
        sbox_fwd(q); mixcol(q, 3); addkey(q, sk + 8 * (r + 2));
        sbox_fwd(q); mixcol(q, 0); addkey(q, sk + 8 * (r + 3));
    }
    sbox_fwd(q); mixcol(q, 1); addkey(q, sk + 8 * 13);
    sbox_fwd(q); addkey(q, sk + 8 * 14);
}

/* Correct low bits per lane: 16, then 13, 11, 6, 6 over rounds k = 1,2,3,0,
 * back to 16 by restore4; 13 after round 13, of which the store needs 4. */
MTC_INLINE void enc1(const uint64_t *sk, uint64_t *q)
{
    int r;
    addkey(q, sk);
    for (r = 1; r < 13; r += 4) {
        sbox_fwd(q); mixcol1(q, 1); addkey(q, sk + 8 * r);
        sbox_fwd(q); mixcol1(q, 2); addkey(q, sk + 8 * (r + 1));
        sbox_fwd(q); mixcol1(q, 3); addkey(q, sk + 8 * (r + 2));
        sbox_fwd(q); mixcol1(q, 0); addkey(q, sk + 8 * (r + 3));
        restore4(q);
    }
    sbox_fwd(q); mixcol1(q, 1); addkey(q, sk + 8 * 13);
    sbox_fwd(q); addkey(q, sk + 8 * 14);
}

MTC_INLINE void dec4(const uint64_t *sk, uint64_t *q)
{
    int r;
    addkey(q, sk + 8 * 14);
    sbox_inv(q); addkey(q, sk + 8 * 13); invmixcol(q, 1);
    for (r = 12; r > 0; r -= 4) {
        sbox_inv(q); addkey(q, sk + 8 * r); invmixcol(q, 0);
        sbox_inv(q); addkey(q, sk + 8 * (r - 1)); invmixcol(q, 3);
        sbox_inv(q); addkey(q, sk + 8 * (r - 2)); invmixcol(q, 2);
        sbox_inv(q); addkey(q, sk + 8 * (r - 3)); invmixcol(q, 1);
    }
    sbox_inv(q); addkey(q, sk);
}

/* Correct low bits per lane: 11 after round 13, then 16, 16, 9, 16, 14, 9
 * over restore8, rounds k = 0,3, restore8, rounds k = 2,1. */
MTC_INLINE void dec1(const uint64_t *sk, uint64_t *q)
{
    int r;
    addkey(q, sk + 8 * 14);
    sbox_inv(q); addkey(q, sk + 8 * 13); invmixcol1(q, 1);
    for (r = 12; r > 0; r -= 4) {
        restore8(q);
        sbox_inv(q); addkey(q, sk + 8 * r); invmixcol1(q, 0);
        sbox_inv(q); addkey(q, sk + 8 * (r - 1)); invmixcol1(q, 3);
        restore8(q);
        sbox_inv(q); addkey(q, sk + 8 * (r - 2)); invmixcol1(q, 2);
        sbox_inv(q); addkey(q, sk + 8 * (r - 3)); invmixcol1(q, 1);
    }
    sbox_inv(q); addkey(q, sk);
}

void mtc_aesp_encrypt(const uint64_t *sk, uint8_t *blocks, size_t nblocks)
{
    uint64_t q[8];
    if (nblocks == 1) {
        load1(q, blocks, 0);
        enc1(sk, q);
        store1(q, blocks, 1);
    } else if (nblocks > 1) {
        if (nblocks > 4)
            nblocks = 4;
        loadn(q, blocks, nblocks, 0);
        enc4(sk, q);
        storen(q, blocks, nblocks, 1);
    }
}

void mtc_aesp_decrypt(const uint64_t *sk, uint8_t *blocks, size_t nblocks)
{
    uint64_t q[8];
    if (nblocks == 1) {
        load1(q, blocks, 1);
        dec1(sk, q);
        store1(q, blocks, 0);
    } else if (nblocks > 1) {
        if (nblocks > 4)
            nblocks = 4;
        loadn(q, blocks, nblocks, 1);
        dec4(sk, q);
        storen(q, blocks, nblocks, 0);
    }
}

/* SubWord via the circuit: bit p of each byte goes to word p. */
static uint32_t subword(uint32_t w)
{
    uint64_t q[8];
    uint32_t r = 0;
    int p;
    for (p = 0; p < 8; p++)
        q[p] = (w >> p) & 0x01010101u;
    sbox_fwd(q);
    for (p = 0; p < 8; p++)
        r |= ((uint32_t)q[p] & 0x01010101u) << p;
    return r ^ 0x63636363u;   /* the circuit leaves out the constant */
}

void mtc_aesp_expand(uint64_t *sk, const uint8_t *key32)
{
    uint32_t w[60];
    uint8_t rk[64];
    uint32_t rcon = 1;
    int i, r, row, c, b;
    unsigned k;

    for (i = 0; i < 8; i++)
        w[i] = ld32(key32 + 4 * i);
    for (i = 8; i < 60; i++) {
        uint32_t t = w[i - 1];
        if (i % 8 == 0) {
            t = subword((t >> 8) | (t << 24)) ^ rcon;
            rcon <<= 1;
        } else if (i % 8 == 4) {
            t = subword(t);
        }
        w[i] = w[i - 8] ^ t;
    }
    for (r = 0; r < 15; r++) {
        /* Byte (row, c) of stored key r is byte (row, c - k*row) of round
         * key r, k = r mod 4; copied into all 4 block slots. */
        k = (unsigned)r & 3;
        for (row = 0; row < 4; row++)
            for (c = 0; c < 4; c++) {
                uint8_t v = (uint8_t)(w[4 * r + (int)(((unsigned)c - k * (unsigned)row) & 3)] >> (8 * row));
                if (r > 0)
                    v ^= 0x63;
                for (b = 0; b < 4; b++)
                    rk[16 * b + 4 * c + row] = v;
            }
        loadn(sk + 8 * r, rk, 4, 0);
    }
    mtc_wipe(w, sizeof w);
    mtc_wipe(rk, sizeof rk);
}
