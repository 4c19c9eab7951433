/*
 * Constant-time check of the modular exponentiation (csrc/bn.c) under
 * valgrind memcheck.
 *
 * Backend CT_BACKEND (MTC_BACKEND_PORTABLE: the plain C multiplication; any
 * other backend on a CPU with BMI2 and ADX: the MULX/ADCX/ADOX rows).  For
 * primes of 64, 520 (an odd limb count), 1024 and 2048 bits (Telegram's DH
 * prime) the exponent and the base are marked undefined, and so is the
 * modulus except its first and last byte (whose checks, leading byte not
 * zero and odd, are the public form of the modulus: its length), as the
 * RSA primes are secret.  mtc_modexp and mtc_modexp_fixed (the table built
 * from a public base, then a marked exponent) must run without a report:
 * no branch and no memory index depends on what is marked.
 *
 * The results are marked defined again before they are checked: Fermat
 * (b^(p-1) = 1, and for b^(p-1-e) too), (b^e)^2 = b^(2e), x^1 = x, and the
 * fixed-base results equal to the variable-base ones.  (tests/test_bignum.py
 * compares with Python's pow.)
 *
 * -DCT_SELFTEST_LEAK adds a square-and-multiply that branches on the
 * exponent bits and a table lookup indexed by an exponent byte: both must be
 * reported, proof that the check can fail.
 *
 * Exit status: 0, or 1 if a functional check failed (run natively too).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <valgrind/memcheck.h>
#include "../../csrc/internal.h"
#include "ct_expect.h"

#ifndef CT_BACKEND
#define CT_BACKEND MTC_BACKEND_PORTABLE
#endif


static const char *const PRIMES[] = {
    "85093159cf4233bb",
    "fd5786eb7f4f0419b671a4d83946e67499d1fc21219d69083145451b7fb4295daed7ba6c556c6664d1ef51cd"
    "324538e7518243c4ba313710f80cecc94600549639",
    "84fcd5dd650c5b5bac7b5fa59fd6fda6a271e19fbeca58389a03434def08df12e4082781ad9f467242d81c05"
    "09213cf6072458dad70d5632a7830386c3e82fd6075b57904b9e3e4d90e7f5184a8787aeff44c7fc7ce7ab65"
    "031e45a650d7e0631fad30c445e9da03b0ab0542266b1dd16451e7c3854ad8fcd5eacafdaae47de5",
    "c71caeb9c6b1c9048e6c522f70f13f73980d40238e3e21c14934d037563d930f48198a0aa7c14058229493d2"
    "2530f4dbfa336f6e0ac925139543aed44cce7c3720fd51f69458705ac68cd4fe6b6b13abdc97465129693284"
    "54f18faf8c595f642477fe96bb2a941d5bcd1d4ac8cc49880708fa9b378e3c4f3a9060bee67cf9a4a4a69581"
    "1051907e162753b56b0f6b410dba74d8a84b2a14b3144e0ef1284754fd17ed950d5965b4b9dd46582db1178d"
    "169c6bc465b0d6ff9ca3928fef5b9ae4e418fc15e83ebea0f87fa9ff5eed70050ded2849f47bf959d956850c"
    "e929851f0d8115f635b105ee2e4e15d04b2454bf6f4fadf034b10403119cd8e3b92fcc5b",
};

static size_t from_hex(uint8_t *out, const char *hex)
{
    size_t n = strlen(hex) / 2;
    for (size_t i = 0; i < n; i++) {
        unsigned v;
        sscanf(hex + 2 * i, "%2x", &v);
        out[i] = (uint8_t)v;
    }
    return n;
}

/* p - 1 - e for big-endian p, e of len bytes (e < p - 1). */
static void complement(uint8_t *out, const uint8_t *p, const uint8_t *e, size_t len)
{
    int borrow = 1; /* the "- 1" */
    for (size_t i = len; i-- > 0;) {
        int v = (int)p[i] - e[i] - borrow;
        borrow = v < 0;
        out[i] = (uint8_t)(v + (borrow ? 256 : 0));
    }
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static uint8_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint8_t)rng_state;
}

static int is_one(const uint8_t *x, size_t len)
{
    int ok = x[len - 1] == 1;
    for (size_t i = 0; i + 1 < len; i++) ok &= x[i] == 0;
    return ok;
}

/* Secret: the exponent, the base, the modulus' inner bytes. */
static void mark(uint8_t *base, uint8_t *exp, size_t elen, uint8_t *mod, size_t len)
{
    VALGRIND_MAKE_MEM_UNDEFINED(base, len);
    VALGRIND_MAKE_MEM_UNDEFINED(exp, elen);
    if (len > 2) VALGRIND_MAKE_MEM_UNDEFINED(mod + 1, len - 2);
}

static void unmark(uint8_t *base, uint8_t *exp, size_t elen, uint8_t *mod, size_t len)
{
    VALGRIND_MAKE_MEM_DEFINED(base, len);
    VALGRIND_MAKE_MEM_DEFINED(exp, elen);
    VALGRIND_MAKE_MEM_DEFINED(mod, len);
}

#ifdef CT_SELFTEST_LEAK
static volatile unsigned sink;
static const uint8_t leak_table[256] = {1};

/* How not to do it: branch on every exponent bit, index by exponent bytes. */
__attribute__((noipa)) static void leaky_exponent_walk(const uint8_t *exp, size_t elen)
{
    for (size_t i = 0; i < elen; i++) {
        for (int b = 7; b >= 0; b--)
            if ((exp[i] >> b) & 1) sink++;
        sink += leak_table[exp[i]];
    }
}
#endif

static void check_prime(const char *hex)
{
    uint8_t p[MTC_BN_MAX_BYTES], base[MTC_BN_MAX_BYTES], e[MTC_BN_MAX_BYTES];
    uint8_t pm1[MTC_BN_MAX_BYTES], rest[MTC_BN_MAX_BYTES];
    uint8_t x[MTC_BN_MAX_BYTES], y[MTC_BN_MAX_BYTES], z[MTC_BN_MAX_BYTES], f[MTC_BN_MAX_BYTES];
    size_t len = from_hex(p, hex);
    if (len < 2 || len > MTC_BN_MAX_BYTES) {
        failures++;
        return;
    }
    memcpy(pm1, p, len);
    pm1[len - 1] -= 1; /* p is odd */

    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < len; i++) base[i] = rnd();
        base[0] &= 0x7f; /* below p (p's top bit is set) */
        base[len - 1] |= 2; /* not 0 or 1 */
        for (size_t i = 0; i < len; i++) e[i] = rnd();
        e[0] &= 0x3f; /* below p - 1 */
        if (round == 1) memset(e, 0xff, len / 2); /* long runs of ones, then of zeros */
        if (round == 2) memset(e, 0, len - 1);
        if (round == 1) e[0] &= 0x3f;
        complement(rest, p, e, len);

        /* Fermat, with the exponent p - 1 marked. */
        mark(base, pm1, len, p, len);
        int rc = mtc_modexp(base, pm1, len, p, len, x);
        unmark(base, pm1, len, p, len);
        VALGRIND_MAKE_MEM_DEFINED(x, len);
        expect_true(rc == MTC_OK && is_one(x, len), "b^(p-1) = 1");

        /* b^e and b^(p-1-e), then their product to the first power. */
        mark(base, e, len, p, len);
        rc = mtc_modexp(base, e, len, p, len, x);
        unmark(base, e, len, p, len);
        mark(base, rest, len, p, len);
        rc |= mtc_modexp(base, rest, len, p, len, y);
        unmark(base, rest, len, p, len);
        VALGRIND_MAKE_MEM_DEFINED(x, len);
        VALGRIND_MAKE_MEM_DEFINED(y, len);
        expect_true(rc == MTC_OK, "modexp status");
        /* (b^e)^2 = b^(2e) (e < p / 4, so 2e still fits), and x^1 = x. */
        uint8_t two[1] = {2}, one[1] = {1}, e2[MTC_BN_MAX_BYTES];
        unsigned carry = 0;
        for (size_t i = len; i-- > 0;) {
            e2[i] = (uint8_t)((e[i] << 1) | carry);
            carry = e[i] >> 7;
        }
        rc = mtc_modexp(x, two, 1, p, len, z);
        rc |= mtc_modexp(base, e2, len, p, len, f);
        expect_true(rc == MTC_OK && memcmp(z, f, len) == 0, "(b^e)^2 = b^(2e)");
        rc = mtc_modexp(x, one, 1, p, len, z);
        expect_true(rc == MTC_OK && memcmp(x, z, len) == 0, "x^1 = x");
        /* The fixed-base table for this (public) base, then the marked exponent. */
        size_t words = mtc_modexp_fixed_words(len, len);
        uint64_t *table = malloc(words * sizeof *table);
        expect_true(table && mtc_modexp_fixed_init(table, words, base, p, len, len) == MTC_OK,
                    "fixed-base table");
        VALGRIND_MAKE_MEM_UNDEFINED(e, len);
        rc = mtc_modexp_fixed(table, words, e, len, f, len);
        VALGRIND_MAKE_MEM_DEFINED(e, len);
        VALGRIND_MAKE_MEM_DEFINED(f, len);
        expect_true(rc == MTC_OK && memcmp(f, x, len) == 0, "fixed base = variable base");
        VALGRIND_MAKE_MEM_UNDEFINED(rest, len);
        rc = mtc_modexp_fixed(table, words, rest, len, f, len);
        VALGRIND_MAKE_MEM_DEFINED(rest, len);
        VALGRIND_MAKE_MEM_DEFINED(f, len);
        expect_true(rc == MTC_OK && memcmp(f, y, len) == 0, "fixed base = variable base (rest)");
        free(table);
        rc = mtc_modexp(y, pm1, len, p, len, z);
        expect_true(rc == MTC_OK && is_one(z, len), "y^(p-1) = 1");
#ifdef CT_SELFTEST_LEAK
        VALGRIND_MAKE_MEM_UNDEFINED(e, len);
        leaky_exponent_walk(e, len);
        VALGRIND_MAKE_MEM_DEFINED(e, len);
#endif
    }
}

int main(void)
{
    if (mtc_select_backend(CT_BACKEND) != CT_BACKEND) {
        fprintf(stderr, "backend %d unavailable\n", CT_BACKEND);
        return 2;
    }
#ifdef CT_FORCE_ADX
    /* valgrind's CPUID hides ADX, so mtc_select_backend() never picks the
     * MULX/ADX rows under memcheck: switch them on by hand (valgrind itself
     * executes the instructions). */
    mtc_rt.bn_adx = 1;
#endif
    for (size_t i = 0; i < sizeof PRIMES / sizeof *PRIMES; i++) check_prime(PRIMES[i]);
    /* Lengths and forms the C side refuses on its own. */
    uint8_t b[2] = {1, 1}, out[2];
    expect_true(mtc_modexp(b, b, 1, (const uint8_t *)"\x0a", 1, out) == MTC_ERR_ARG, "even");
    expect_true(mtc_modexp(b, b, 1, (const uint8_t *)"\x00\x0b", 2, out) == MTC_ERR_ARG,
                "leading zero byte");
    if (failures) return 1;
    return 0;
}
