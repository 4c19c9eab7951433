/*
 * mtc_factorize_pq and mtc_is_prime_u64 (the handshake's pq is attacker
 * supplied: a server can send any 64-bit value).
 *
 * Input: mode(1) | a(8) | b(8)
 *   mode 0: pq = a
 *   mode 1: pq = (a mod 2^32) * (b mod 2^32), a product of two factors the
 *           way Telegram builds it (the factors are not necessarily prime)
 *   mode 2: pq = a mod 2^32 (small values, checked against trial division)
 *
 * Oracles:
 *   - success: p * q == pq exactly (128-bit), 1 < p <= q;
 *   - failure: MTC_ERR_ARG, and pq < 4 or pq prime;
 *   - a constructed product of two factors > 1 is never called prime;
 *   - below 2^32, mtc_is_prime_u64 agrees with trial division.
 * The run script gives each input 10 seconds: a slow factorization (a
 * denial of service in the handshake) is a finding too.
 */
#include "fuzz_common.h"

static int trial_prime(uint64_t n)
{
    if (n < 2) return 0;
    if (n % 2 == 0) return n == 2;
    for (uint64_t d = 3; d * d <= n; d += 2)
        if (n % d == 0) return 0;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_in in = {data, size};
    uint8_t mode = fz_u8(&in) % 3;
    uint64_t a = fz_u64(&in), b = fz_u64(&in);
    uint64_t pq;
    int composite = 0;
    if (mode == 1) {
        a &= 0xffffffffu;
        b &= 0xffffffffu;
        pq = a * b;
        composite = a > 1 && b > 1;
    } else if (mode == 2) {
        pq = a & 0xffffffffu;
    } else {
        pq = a;
    }

    int prime = mtc_is_prime_u64(pq);
    FUZZ_CHECK(prime == 0 || prime == 1, "is_prime returned %d", prime);
    if (composite) FUZZ_CHECK(!prime, "%llu called prime", (unsigned long long)pq);
    if (pq <= 0xffffffffu)
        FUZZ_CHECK(prime == trial_prime(pq), "is_prime(%llu) = %d, trial division says %d",
                   (unsigned long long)pq, prime, trial_prime(pq));

    uint64_t p = 0, q = 0;
    int rc = mtc_factorize_pq(pq, &p, &q);
    if (rc == MTC_OK) {
        FUZZ_CHECK((unsigned __int128)p * q == pq, "%llu != %llu * %llu", (unsigned long long)pq,
                   (unsigned long long)p, (unsigned long long)q);
        FUZZ_CHECK(1 < p && p <= q, "bad split %llu, %llu", (unsigned long long)p,
                   (unsigned long long)q);
    } else {
        FUZZ_CHECK(rc == MTC_ERR_ARG, "factorize returned %d", rc);
        FUZZ_CHECK(pq < 4 || prime, "composite %llu not factored", (unsigned long long)pq);
    }
    FUZZ_CHECK(mtc_factorize_pq(pq, NULL, &q) == MTC_ERR_ARG, "NULL output accepted");
    return 0;
}
