/*
 * Constant-time modular exponentiation for odd moduli of up to 4096 bits:
 * the handshake's Diffie-Hellman (2048-bit, secret exponents) and the
 * server's RSA private operation (two 1024-bit CRT halves, secret moduli and
 * exponents).
 *
 * Numbers are little-endian arrays of n 64-bit limbs; the interface takes
 * big-endian bytes.  Products go through unsigned __int128.
 *
 * What is public: the byte lengths of the modulus and of the exponent (the
 * caller fixes the exponent's length, e.g. 256 bytes for a DH exponent,
 * whatever its value).  What is not: the exponent's bits, the base, and the
 * modulus' value (an RSA prime).  So:
 *
 *  - Montgomery multiplication (interleaved operand scanning and reduction)
 *    has no branch; its final subtraction is selected with a mask.
 *  - R^2 mod m is computed by 128n modular doublings, each with a masked
 *    subtraction (no division, whose latency depends on its operands).
 *  - Exponentiation is a left-to-right fixed window over a fixed number of
 *    windows (from the exponent's byte length); each table entry used is
 *    taken by reading every entry and keeping one with masks.
 *  - The fixed-base form precomputes, per base and modulus, base^(d*2^(w*i))
 *    for every window i and digit d, and then needs one multiplication per
 *    window and no squaring; the entry is again selected by a full scan.
 */
#include "internal.h"
#include <stdlib.h>

typedef unsigned __int128 u128;

#define BN_MAX_LIMBS (MTC_BN_MAX_BYTES / 8)
#define FIXED_WINDOW 4
#define FIXED_MAGIC 0x6d7463626e667864ull /* "mtcbnfxd" */
#define FIXED_HEADER 4                     /* magic, mod_len, exp_len, m0inv */

static size_t limbs_for(size_t bytes)
{
    return (bytes + 7) / 8;
}

/* Big-endian bytes (len <= 8 * n) into n little-endian limbs. */
static void from_bytes(uint64_t *r, size_t n, const uint8_t *in, size_t len)
{
    memset(r, 0, n * sizeof *r);
    for (size_t i = 0; i < len; i++) {
        size_t bit = 8 * (len - 1 - i);
        r[bit / 64] |= (uint64_t)in[i] << (bit % 64);
    }
}

static void to_bytes(uint8_t *out, size_t len, const uint64_t *a)
{
    for (size_t i = 0; i < len; i++) {
        size_t bit = 8 * (len - 1 - i);
        out[i] = (uint8_t)(a[bit / 64] >> (bit % 64));
    }
}

/* -m^-1 mod 2^64 for odd m0 (Newton; each step doubles the correct bits). */
static uint64_t neg_inverse(uint64_t m0)
{
    uint64_t inv = m0; /* correct to 3 bits */
    for (int i = 0; i < 5; i++) inv *= 2 - m0 * inv;
    return 0 - inv;
}

/* r = a - m where mask is all ones, else r = a (n limbs each); carry_in is
 * a's limb above the n (0 or 1), known to make a < 2m. */
static inline void reduce_once(uint64_t *r, const uint64_t *a, uint64_t top, const uint64_t *m,
                               size_t n)
{
    uint64_t d[BN_MAX_LIMBS];
    uint64_t borrow = 0;
    for (size_t j = 0; j < n; j++) {
        u128 s = (u128)a[j] - m[j] - borrow;
        d[j] = (uint64_t)s;
        borrow = (uint64_t)(s >> 64) & 1;
    }
    /* a >= m iff the subtraction did not borrow out of the top limb. */
    uint64_t keep_diff = 0 - ((top | (borrow ^ 1)) & 1);
    for (size_t j = 0; j < n; j++) r[j] = (d[j] & keep_diff) | (a[j] & ~keep_diff);
}

/* t[i..] += x * y (n limbs); returns the carry out of the top limb. */
static inline __attribute__((always_inline)) uint64_t mul_add_row(uint64_t *t, uint64_t x,
                                                                  const uint64_t *y, size_t n)
{
    uint64_t c = 0;
    for (size_t j = 0; j < n; j++) {
        u128 p = (u128)x * y[j] + t[j] + c;
        t[j] = (uint64_t)p;
        c = (uint64_t)(p >> 64);
    }
    return c;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define MTC_BN_ADX 1
/* The same row (n = 8, 16, 24 or 32) with MULX and the two carry chains of ADCX (CF: adding t[j])
 * and ADOX (OF: adding the previous high half), unrolled over the limb
 * offsets given; used when the CPU has BMI2 and ADX (mtc_rt.bn_adx).  No
 * instruction between the first ADCX/ADOX and the last touches the flags. */
#define ADX_ROW(offsets)                                                                       \
    "xorl %%r10d, %%r10d\n\t" /* CF = OF = 0; r10 = previous high half = 0 */              \
    ".irp off," offsets "\n\t"                                                             \
    "mulx \\off(%[y]), %%r8, %%r9\n\t"                                                     \
    "adox %%r10, %%r8\n\t"                                                                 \
    "adcx \\off(%[t]), %%r8\n\t"                                                           \
    "movq %%r8, \\off(%[t])\n\t"                                                           \
    "movq %%r9, %%r10\n\t"                                                                 \
    ".endr\n\t"                                                                            \
    "movl $0, %%r8d\n\t"                                                                   \
    "adox %%r8, %%r10\n\t"                                                                 \
    "adcx %%r8, %%r10\n\t"

#define ADX_ROW_ASM(offsets)                                                                  \
    __asm__ volatile(ADX_ROW(offsets) "movq %%r10, %[c]\n\t"                                  \
                     : [c] "=r"(c)                                                             \
                     : [t] "r"(t), [y] "r"(y), "d"(x)                                          \
                     : "r8", "r9", "r10", "cc", "memory")

static inline __attribute__((always_inline)) uint64_t mul_add_row_adx(uint64_t *t, uint64_t x,
                                                                      const uint64_t *y,
                                                                      size_t n)
{
    uint64_t c;
    switch (n) {
    case 32:
        ADX_ROW_ASM("0,8,16,24,32,40,48,56,64,72,80,88,96,104,112,120,128,136,144,152,160,168,176,184,192,200,208,216,224,232,240,248");
        break;
    case 24:
        ADX_ROW_ASM("0,8,16,24,32,40,48,56,64,72,80,88,96,104,112,120,128,136,144,152,160,168,176,184");
        break;
    case 16:
        ADX_ROW_ASM("0,8,16,24,32,40,48,56,64,72,80,88,96,104,112,120");
        break;
    default: /* 8 */
        ADX_ROW_ASM("0,8,16,24,32,40,48,56");
        break;
    }
    return c;
}
#else
#define MTC_BN_ADX 0
#endif

/* t[0..n+1] += (x0 + x1 * 2^64) * y (n limbs) + carry * 2^(64(n+1)): two rows
 * in one pass, so that the two carry chains overlap.  Returns the carry out
 * of t[n + 1] (0..2). */
static inline __attribute__((always_inline)) uint64_t mul_add_2rows(uint64_t *t, uint64_t x0,
                                                                    uint64_t x1,
                                                                    const uint64_t *y, size_t n,
                                                                    uint64_t carry)
{
    uint64_t c1 = 0, c2 = 0, prev = 0;
    for (size_t j = 0; j < n; j++) {
        u128 p = (u128)x0 * y[j] + t[j] + c1;
        c1 = (uint64_t)(p >> 64);
        u128 q = (u128)x1 * prev + (uint64_t)p + c2;
        c2 = (uint64_t)(q >> 64);
        t[j] = (uint64_t)q;
        prev = y[j];
    }
    u128 q = (u128)x1 * prev + t[n] + c1;
    u128 q2 = (u128)(uint64_t)q + c2;
    t[n] = (uint64_t)q2;
    u128 s = (u128)t[n + 1] + (uint64_t)(q >> 64) + (uint64_t)(q2 >> 64) + carry;
    t[n + 1] = (uint64_t)s;
    return (uint64_t)(s >> 64);
}

/* Montgomery reduction of t (2n + 2 limbs, the top two zero, value below
 * m * 2^(64n)): r = t / 2^(64n) mod m, r < m.  t is overwritten. */
static inline __attribute__((always_inline)) void redc_n(uint64_t *r, uint64_t *t,
                                                         const uint64_t *m, uint64_t m0inv,
                                                         size_t n)
{
    uint64_t top = 0;
    size_t i = 0;
    for (; i + 1 < n; i += 2) {
        /* u0 clears t[i]; u1 clears t[i + 1] once u0 * m has been added. */
        uint64_t u0 = t[i] * m0inv;
        u128 p0 = (u128)u0 * m[0] + t[i];
        u128 p1 = (u128)u0 * m[1] + t[i + 1] + (uint64_t)(p0 >> 64);
        uint64_t u1 = (uint64_t)p1 * m0inv;
        /* top: the carry out of t[i + n] left by the previous pair */
        uint64_t c = mul_add_2rows(t + i, u0, u1, m, n, top);
        u128 s = (u128)t[i + n + 2] + c;
        t[i + n + 2] = (uint64_t)s;
        top = (uint64_t)(s >> 64);
    }
    if (i < n) { /* odd n: the last row alone */
        uint64_t c = mul_add_row(t + i, t[i] * m0inv, m, n);
        u128 s = (u128)t[i + n] + c;
        t[i + n] = (uint64_t)s;
        s = (u128)t[i + n + 1] + (uint64_t)(s >> 64) + top;
        t[i + n + 1] = (uint64_t)s;
        top = (uint64_t)(s >> 64);
    }
    /* t < 2m < 2^(64n + 1): t[2n] is the top bit and nothing carried past it. */
    reduce_once(r, t + n, t[2 * n] | top, m, n);
}

/* r = a * b / 2^(64n) mod m for a * b < m * 2^(64n); r < m.  r may alias a or b. */
static inline __attribute__((always_inline)) void mont_mul_n(uint64_t *r, const uint64_t *a,
                                                             const uint64_t *b, const uint64_t *m,
                                                             uint64_t m0inv, size_t n)
{
    uint64_t t[2 * BN_MAX_LIMBS + 2];
    memset(t, 0, (2 * n + 2) * sizeof *t);
    size_t i = 0;
    for (; i + 1 < n; i += 2) mul_add_2rows(t + i, a[i], a[i + 1], b, n, 0);
    if (i < n) t[i + n] = mul_add_row(t + i, a[i], b, n);
    redc_n(r, t, m, m0inv, n);
}

/* r = a^2 / 2^(64n) mod m: the cross products once, doubled, plus the squares. */
static inline __attribute__((always_inline)) void mont_sqr_n(uint64_t *r, const uint64_t *a,
                                                             const uint64_t *m, uint64_t m0inv,
                                                             size_t n)
{
    uint64_t t[2 * BN_MAX_LIMBS + 2];
    memset(t, 0, (2 * n + 2) * sizeof *t);
    for (size_t i = 0; i + 1 < n; i++) t[i + n] = mul_add_row(t + 2 * i + 1, a[i], a + i + 1, n - 1 - i);
    uint64_t hi = 0;
    for (size_t k = 0; k < 2 * n; k++) {
        uint64_t v = t[k];
        t[k] = (v << 1) | hi;
        hi = v >> 63;
    }
    uint64_t c = 0;
    for (size_t i = 0; i < n; i++) {
        u128 sq = (u128)a[i] * a[i];
        u128 lo = (u128)t[2 * i] + (uint64_t)sq + c;
        t[2 * i] = (uint64_t)lo;
        u128 up = (u128)t[2 * i + 1] + (uint64_t)(sq >> 64) + (uint64_t)(lo >> 64);
        t[2 * i + 1] = (uint64_t)up;
        c = (uint64_t)(up >> 64);
    }
    redc_n(r, t, m, m0inv, n);
}

#if MTC_BN_ADX
/* Montgomery reduction of the 2n-limb t (below m * 2^(64n)) with the MULX/ADX
 * rows: r = t / 2^(64n) mod m, r < m.  t is overwritten. */
static inline __attribute__((always_inline)) void redc_adx_n(uint64_t *r, uint64_t *t,
                                                             const uint64_t *m, uint64_t m0inv,
                                                             size_t n)
{
    uint64_t top = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t c = mul_add_row_adx(t + i, t[i] * m0inv, m, n);
        u128 s = (u128)t[i + n] + c + top;
        t[i + n] = (uint64_t)s;
        top = (uint64_t)(s >> 64);
    }
    reduce_once(r, t + n, top, m, n);
}

/* Montgomery multiplication with the MULX/ADX rows (n = 16 or 32). */
static inline __attribute__((always_inline)) void mont_mul_adx_n(uint64_t *r, const uint64_t *a,
                                                                 const uint64_t *b,
                                                                 const uint64_t *m,
                                                                 uint64_t m0inv, size_t n)
{
    uint64_t t[2 * BN_MAX_LIMBS + 2];
    memset(t, 0, 2 * n * sizeof *t);
    for (size_t i = 0; i < n; i++) t[i + n] = mul_add_row_adx(t + i, a[i], b, n);
    redc_adx_n(r, t, m, m0inv, n);
}

/* Montgomery squaring with the MULX/ADX rows (n = 16 or 32), in chunks of 8
 * limbs: the products of limbs in different chunks once, by rows over the
 * later chunks (lengths 8, 16, 24), doubled; each chunk's own square by a
 * plain 8 x 8 multiplication, all four landing side by side.  640 products
 * instead of 1024 for n = 32 (192 for 256 for n = 16). */
static inline __attribute__((always_inline)) void mont_sqr_adx_n(uint64_t *r, const uint64_t *a,
                                                                 const uint64_t *m,
                                                                 uint64_t m0inv, size_t n)
{
    uint64_t t[2 * BN_MAX_LIMBS + 2], x[2 * BN_MAX_LIMBS];
    size_t chunks = n / 8;
    memset(x, 0, 2 * n * sizeof *x);
    for (size_t i = 0; i + 1 < chunks; i++) {
        const uint64_t *later = a + 8 * (i + 1);
        size_t len = n - 8 * (i + 1);
        for (size_t k = 0; k < 8; k++) {
            size_t row = 8 * i + k;
            x[row + n] = mul_add_row_adx(x + row + 8 * (i + 1), a[row], later, len);
        }
    }
    for (size_t i = 0; i < chunks; i++) {
        uint64_t *sq = t + 16 * i;
        memset(sq, 0, 8 * sizeof *sq);
        for (size_t k = 0; k < 8; k++) sq[k + 8] = mul_add_row_adx(sq + k, a[8 * i + k], a + 8 * i, 8);
    }
    uint64_t c = 0, hi = 0;
    for (size_t j = 0; j < 2 * n; j++) {
        uint64_t d = (x[j] << 1) | hi;
        hi = x[j] >> 63;
        u128 s = (u128)t[j] + d + c;
        t[j] = (uint64_t)s;
        c = (uint64_t)(s >> 64);
    }
    redc_adx_n(r, t, m, m0inv, n);
}

static void mont_mul_adx_16(uint64_t *r, const uint64_t *a, const uint64_t *b, const uint64_t *m,
                            uint64_t m0inv)
{
    mont_mul_adx_n(r, a, b, m, m0inv, 16);
}

static void mont_sqr_adx_16(uint64_t *r, const uint64_t *a, const uint64_t *m, uint64_t m0inv)
{
    mont_sqr_adx_n(r, a, m, m0inv, 16);
}

static void mont_sqr_adx_32(uint64_t *r, const uint64_t *a, const uint64_t *m, uint64_t m0inv)
{
    mont_sqr_adx_n(r, a, m, m0inv, 32);
}

static void mont_mul_adx_32(uint64_t *r, const uint64_t *a, const uint64_t *b, const uint64_t *m,
                            uint64_t m0inv)
{
    mont_mul_adx_n(r, a, b, m, m0inv, 32);
}
#endif

/* Copies specialized for the handshake's sizes (the compiler unrolls them). */
#define MONT_SIZED(n)                                                                          \
    static void mont_mul_##n(uint64_t *r, const uint64_t *a, const uint64_t *b,                \
                             const uint64_t *m, uint64_t m0inv)                                \
    {                                                                                          \
        mont_mul_n(r, a, b, m, m0inv, n);                                                      \
    }                                                                                          \
    static void mont_sqr_##n(uint64_t *r, const uint64_t *a, const uint64_t *m, uint64_t m0inv) \
    {                                                                                          \
        mont_sqr_n(r, a, m, m0inv, n);                                                         \
    }
MONT_SIZED(16)
MONT_SIZED(32)

static void mont_mul_any(uint64_t *r, const uint64_t *a, const uint64_t *b, const uint64_t *m,
                         uint64_t m0inv, size_t n)
{
    mont_mul_n(r, a, b, m, m0inv, n);
}

static void mont_sqr_any(uint64_t *r, const uint64_t *a, const uint64_t *m, uint64_t m0inv,
                         size_t n)
{
    mont_mul_n(r, a, a, m, m0inv, n);
}

struct mont {
    const uint64_t *m;
    uint64_t m0inv;
    size_t n;
};

static void mont_mul(const struct mont *ctx, uint64_t *r, const uint64_t *a, const uint64_t *b)
{
#if MTC_BN_ADX
    if (mtc_rt.bn_adx && ctx->n == 32) {
        mont_mul_adx_32(r, a, b, ctx->m, ctx->m0inv);
        return;
    }
    if (mtc_rt.bn_adx && ctx->n == 16) {
        mont_mul_adx_16(r, a, b, ctx->m, ctx->m0inv);
        return;
    }
#endif
    if (ctx->n == 32)
        mont_mul_32(r, a, b, ctx->m, ctx->m0inv);
    else if (ctx->n == 16)
        mont_mul_16(r, a, b, ctx->m, ctx->m0inv);
    else
        mont_mul_any(r, a, b, ctx->m, ctx->m0inv, ctx->n);
}

static void mont_sqr(const struct mont *ctx, uint64_t *r, const uint64_t *a)
{
#if MTC_BN_ADX
    if (mtc_rt.bn_adx && ctx->n == 32) {
        mont_sqr_adx_32(r, a, ctx->m, ctx->m0inv);
        return;
    }
    if (mtc_rt.bn_adx && ctx->n == 16) {
        mont_sqr_adx_16(r, a, ctx->m, ctx->m0inv);
        return;
    }
#endif
    if (ctx->n == 32)
        mont_sqr_32(r, a, ctx->m, ctx->m0inv);
    else if (ctx->n == 16)
        mont_sqr_16(r, a, ctx->m, ctx->m0inv);
    else
        mont_sqr_any(r, a, ctx->m, ctx->m0inv, ctx->n);
}

/* r = 2^(128n) mod m (R^2, for converting into Montgomery form), with no
 * division and the same instructions whatever m's value: from 2^(8 mod_len
 * - 8), below m since m's top byte is not zero, modular doublings (masked
 * subtraction) up to 2^(64n + s), then k Montgomery squarings, each taking
 * 2^(64n + x) to 2^(64n + 2x), where s * 2^k = 64n. */
static void r_squared(const struct mont *ctx, uint64_t *r, size_t mod_len)
{
    size_t n = ctx->n, k = 0, s = 64 * n, from = 8 * mod_len - 8;
    while (!(s & 1)) {
        s >>= 1;
        k++;
    }
    memset(r, 0, n * sizeof *r);
    r[from / 64] = (uint64_t)1 << (from % 64);
    for (size_t e = from; e < 64 * n + s; e++) {
        uint64_t top = r[n - 1] >> 63;
        for (size_t j = n - 1; j > 0; j--) r[j] = (r[j] << 1) | (r[j - 1] >> 63);
        r[0] <<= 1;
        reduce_once(r, r, top, ctx->m, n);
    }
    for (size_t i = 0; i < k; i++) mont_sqr(ctx, r, r);
}

/* The w exponent bits at bit position pos (bits past the top read as zero);
 * e has at least pos / 64 + 2 limbs.  pos and w are public. */
static inline uint64_t window_at(const uint64_t *e, size_t pos, unsigned w)
{
    size_t limb = pos / 64, shift = pos % 64;
    uint64_t v = e[limb] >> shift;
    if (shift + w > 64) v |= e[limb + 1] << (64 - shift);
    return v & ((1u << w) - 1);
}

/* r = table[index] out of count entries of n limbs, reading them all. */
static inline void ct_select(uint64_t *r, const uint64_t *table, size_t count, uint64_t index,
                             size_t n)
{
    memset(r, 0, n * sizeof *r);
    for (size_t k = 0; k < count; k++) {
        uint64_t x = (uint64_t)k ^ index;
        uint64_t mask = ((x | (0 - x)) >> 63) - 1; /* all ones iff x == 0 */
        const uint64_t *entry = table + k * n;
        for (size_t j = 0; j < n; j++) r[j] |= entry[j] & mask;
    }
}

static int modulus_ok(const uint8_t *mod, size_t mod_len)
{
    if (!mod || mod_len == 0 || mod_len > MTC_BN_MAX_BYTES) return 0;
    /* Odd, and as long as said: the first byte is not zero (the length is
     * public; this also rules out 1). */
    return (mod[mod_len - 1] & 1) && mod[0] != 0 && (mod_len > 1 || mod[0] > 1);
}

/* The modulus m (n limbs) from its bytes, R^2 mod m and the number 1, and
 * the context that multiplies modulo m. */
static struct mont mont_setup(uint64_t *m, uint64_t *r2, uint64_t *one, const uint8_t *mod,
                              size_t mod_len)
{
    size_t n = limbs_for(mod_len);
    from_bytes(m, n, mod, mod_len);
    struct mont ctx = {m, neg_inverse(m[0]), n};
    r_squared(&ctx, r2, mod_len);
    memset(one, 0, n * sizeof *one);
    one[0] = 1;
    return ctx;
}

/* out = acc out of Montgomery form; the scratch memory (words) wiped and freed. */
static int finish(const struct mont *ctx, uint64_t *acc, const uint64_t *one, uint8_t *out,
                  size_t mod_len, uint64_t *mem, size_t words)
{
    mont_mul(ctx, acc, acc, one);
    to_bytes(out, mod_len, acc);
    mtc_wipe(mem, words * sizeof *mem);
    free(mem);
    return MTC_OK;
}

/* Window width for a variable-base exponent of `bits` bits (public). */
static unsigned window_for(size_t bits)
{
    unsigned best = 1;
    size_t best_cost = (size_t)-1;
    for (unsigned w = 1; w <= 6; w++) {
        size_t cost = ((size_t)1 << w) + (bits + w - 1) / w;
        if (cost < best_cost) {
            best_cost = cost;
            best = w;
        }
    }
    return best;
}

/* The stack a finished exponentiation leaves behind: the Montgomery
 * temporaries (products of values derived from the secret exponent and base)
 * live in the frames of the inlined multiplications.  Zeroed after each call
 * by a frame of at least that size at the same depth. */
#define BURN_BYTES 16384

static __attribute__((noinline)) void burn_stack(void)
{
    uint8_t area[BURN_BYTES];
    mtc_wipe(area, sizeof area);
}

static __attribute__((noinline)) int modexp_var(const uint8_t *base, const uint8_t *exp,
                                                size_t exp_len, const uint8_t *mod,
                                                size_t mod_len, uint8_t *out);
static __attribute__((noinline)) int modexp_fixed(const uint64_t *table, size_t words,
                                                  const uint8_t *exp, size_t exp_len,
                                                  uint8_t *out, size_t mod_len);

int mtc_modexp(const uint8_t *base, const uint8_t *exp, size_t exp_len, const uint8_t *mod,
               size_t mod_len, uint8_t *out)
{
    int rc = modexp_var(base, exp, exp_len, mod, mod_len, out);
    burn_stack();
    return rc;
}

int mtc_modexp_fixed(const uint64_t *table, size_t words, const uint8_t *exp, size_t exp_len,
                     uint8_t *out, size_t mod_len)
{
    int rc = modexp_fixed(table, words, exp, exp_len, out, mod_len);
    burn_stack();
    return rc;
}

static int modexp_var(const uint8_t *base, const uint8_t *exp, size_t exp_len,
                      const uint8_t *mod, size_t mod_len, uint8_t *out)
{
    if (!base || !out || !modulus_ok(mod, mod_len)) return MTC_ERR_ARG;
    if (exp_len > MTC_BN_MAX_BYTES || (exp_len && !exp)) return MTC_ERR_ARG;
    size_t n = limbs_for(mod_len);
    size_t bits = 8 * exp_len;
    unsigned w = window_for(bits);
    size_t count = (size_t)1 << w;
    size_t elimbs = limbs_for(exp_len) + 2;
    /* m, r2, acc, tmp, one, exponent limbs, table */
    size_t words = 5 * n + elimbs + count * n;
    uint64_t *mem = malloc(words * sizeof *mem);
    if (!mem) return MTC_ERR_NOMEM;
    uint64_t *m = mem, *r2 = m + n, *acc = r2 + n, *tmp = acc + n, *one = tmp + n;
    uint64_t *e = one + n, *table = e + elimbs;

    from_bytes(e, elimbs, exp, exp_len);
    struct mont ctx = mont_setup(m, r2, one, mod, mod_len);

    /* table[k] = base^k * R mod m; the base may be >= m (any n limbs). */
    from_bytes(tmp, n, base, mod_len);
    mont_mul(&ctx, table, one, r2);              /* R */
    mont_mul(&ctx, table + n, tmp, r2);          /* base * R */
    for (size_t k = 2; k < count; k++) mont_mul(&ctx, table + k * n, table + (k - 1) * n, table + n);

    size_t windows = (bits + w - 1) / w;
    if (windows == 0) {
        memcpy(acc, table, n * sizeof *acc);
    } else {
        ct_select(acc, table, count, window_at(e, (windows - 1) * w, w), n);
        for (size_t i = windows - 1; i-- > 0;) {
            for (unsigned s = 0; s < w; s++) mont_sqr(&ctx, acc, acc);
            ct_select(tmp, table, count, window_at(e, i * w, w), n);
            mont_mul(&ctx, acc, acc, tmp);
        }
    }
    return finish(&ctx, acc, one, out, mod_len, mem, words);
}

size_t mtc_modexp_fixed_words(size_t mod_len, size_t exp_len)
{
    if (mod_len == 0 || mod_len > MTC_BN_MAX_BYTES || exp_len == 0 || exp_len > MTC_BN_MAX_BYTES)
        return 0;
    size_t n = limbs_for(mod_len);
    size_t windows = (8 * exp_len + FIXED_WINDOW - 1) / FIXED_WINDOW;
    return FIXED_HEADER + n + windows * ((size_t)1 << FIXED_WINDOW) * n;
}

int mtc_modexp_fixed_init(uint64_t *table, size_t words, const uint8_t *base, const uint8_t *mod,
                          size_t mod_len, size_t exp_len)
{
    if (!table || !base || !modulus_ok(mod, mod_len)) return MTC_ERR_ARG;
    if (words == 0 || words != mtc_modexp_fixed_words(mod_len, exp_len)) return MTC_ERR_ARG;
    size_t n = limbs_for(mod_len);
    size_t windows = (8 * exp_len + FIXED_WINDOW - 1) / FIXED_WINDOW;
    size_t count = (size_t)1 << FIXED_WINDOW;
    uint64_t *scratch = malloc(3 * n * sizeof *scratch);
    if (!scratch) return MTC_ERR_NOMEM;
    uint64_t *r2 = scratch, *one = r2 + n, *b = one + n;
    uint64_t *m = table + FIXED_HEADER, *entries = m + n;
    struct mont ctx = mont_setup(m, r2, one, mod, mod_len);
    from_bytes(b, n, base, mod_len);
    mont_mul(&ctx, b, b, r2); /* base^(2^(w*i)) * R for the window being filled */
    for (size_t i = 0; i < windows; i++) {
        uint64_t *row = entries + i * count * n;
        mont_mul(&ctx, row, one, r2);
        memcpy(row + n, b, n * sizeof *b);
        for (size_t d = 2; d < count; d++) mont_mul(&ctx, row + d * n, row + (d - 1) * n, b);
        mont_mul(&ctx, b, row + (count - 1) * n, b);
    }
    table[0] = FIXED_MAGIC;
    table[1] = mod_len;
    table[2] = exp_len;
    table[3] = ctx.m0inv;
    mtc_wipe(scratch, 3 * n * sizeof *scratch);
    free(scratch);
    return MTC_OK;
}

static int modexp_fixed(const uint64_t *table, size_t words, const uint8_t *exp,
                        size_t exp_len, uint8_t *out, size_t mod_len)
{
    if (!table || !exp || !out || words < FIXED_HEADER) return MTC_ERR_ARG;
    if (table[0] != FIXED_MAGIC || table[1] != mod_len || table[2] != exp_len) return MTC_ERR_ARG;
    if (words != mtc_modexp_fixed_words(mod_len, exp_len)) return MTC_ERR_ARG;
    size_t n = limbs_for(mod_len);
    size_t windows = (8 * exp_len + FIXED_WINDOW - 1) / FIXED_WINDOW;
    size_t count = (size_t)1 << FIXED_WINDOW;
    size_t elimbs = limbs_for(exp_len) + 2;
    size_t scratch_words = 3 * n + elimbs;
    uint64_t *mem = malloc(scratch_words * sizeof *mem);
    if (!mem) return MTC_ERR_NOMEM;
    uint64_t *acc = mem, *tmp = acc + n, *one = tmp + n, *e = one + n;
    const uint64_t *m = table + FIXED_HEADER, *entries = m + n;
    struct mont ctx = {m, table[3], n};
    from_bytes(e, elimbs, exp, exp_len);
    memset(one, 0, n * sizeof *one);
    one[0] = 1;
    ct_select(acc, entries, count, window_at(e, 0, FIXED_WINDOW), n);
    for (size_t i = 1; i < windows; i++) {
        ct_select(tmp, entries + i * count * n, count, window_at(e, i * FIXED_WINDOW, FIXED_WINDOW),
                  n);
        mont_mul(&ctx, acc, acc, tmp);
    }
    return finish(&ctx, acc, one, out, mod_len, mem, scratch_words);
}
