/* Factorization of the handshake's pq (a product of two primes below 2^32,
 * at most 2^64 - 1 in general) by Pollard-Brent with 128-bit products.
 * pq is public, so nothing here needs to be constant time. */
#include "internal.h"

typedef unsigned __int128 u128;

static inline uint64_t mulmod(uint64_t a, uint64_t b, uint64_t m)
{
    return (uint64_t)((u128)a * b % m);
}

static uint64_t powmod(uint64_t a, uint64_t e, uint64_t m)
{
    uint64_t r = 1 % m;
    a %= m;
    while (e) {
        if (e & 1) r = mulmod(r, a, m);
        a = mulmod(a, a, m);
        e >>= 1;
    }
    return r;
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
    while (b) {
        uint64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

/* Deterministic Miller-Rabin for all 64-bit n with the first 12 primes. */
int mtc_is_prime_u64(uint64_t n)
{
    static const uint64_t bases[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
    if (n < 2) return 0;
    for (int i = 0; i < 12; i++) {
        if (n == bases[i]) return 1;
        if (n % bases[i] == 0) return 0;
    }
    uint64_t d = n - 1;
    int s = 0;
    while (!(d & 1)) {
        d >>= 1;
        s++;
    }
    for (int i = 0; i < 12; i++) {
        uint64_t x = powmod(bases[i], d, n);
        if (x == 1 || x == n - 1) continue;
        int composite = 1;
        for (int r = 1; r < s; r++) {
            x = mulmod(x, x, n);
            if (x == n - 1) {
                composite = 0;
                break;
            }
        }
        if (composite) return 0;
    }
    return 1;
}

/* Montgomery arithmetic modulo an odd n: the Brent loop multiplies about
 * 10^5 times, and a 128-by-64 division per product costs several times more
 * than two multiplications.  Values stay in Montgomery form (x * 2^64 mod n);
 * gcds are unaffected because 2^64 is coprime to odd n. */
struct mont {
    uint64_t n;
    uint64_t ninv; /* -n^-1 mod 2^64 */
};

static struct mont mont_init(uint64_t n)
{
    uint64_t inv = n; /* correct to 3 bits for odd n; each step doubles that */
    for (int i = 0; i < 5; i++) inv *= 2 - n * inv;
    struct mont m = {n, 0 - inv};
    return m;
}

static inline uint64_t mont_mul(struct mont m, uint64_t a, uint64_t b)
{
    u128 t = (u128)a * b;
    uint64_t lo = (uint64_t)t, hi = (uint64_t)(t >> 64);
    uint64_t q = lo * m.ninv;
    u128 qn = (u128)q * m.n;
    /* lo + low(qn) is 0 mod 2^64; it carries exactly when lo != 0. */
    u128 sum = (u128)hi + (uint64_t)(qn >> 64) + (lo != 0);
    if (sum >= m.n) sum -= m.n;
    return (uint64_t)sum;
}

static inline uint64_t mont_add(struct mont m, uint64_t a, uint64_t b)
{
    u128 s = (u128)a + b;
    if (s >= m.n) s -= m.n;
    return (uint64_t)s;
}

/* One Brent cycle-finding run with f(y) = y^2 + c; 0 or n on failure. */
static uint64_t brent(uint64_t n, uint64_t c, uint64_t y0)
{
    const uint64_t batch = 128;
    struct mont m = mont_init(n);
    uint64_t cm = c % n, y = y0 % n, x = y, ys = y, q = 1, g = 1;
    for (uint64_t r = 1; g == 1; r <<= 1) {
        x = y;
        for (uint64_t i = 0; i < r; i++) y = mont_add(m, mont_mul(m, y, y), cm);
        for (uint64_t k = 0; k < r && g == 1; k += batch) {
            ys = y;
            uint64_t lim = r - k < batch ? r - k : batch;
            for (uint64_t i = 0; i < lim; i++) {
                y = mont_add(m, mont_mul(m, y, y), cm);
                q = mont_mul(m, q, x > y ? x - y : y - x);
            }
            g = gcd64(q, n);
        }
        if (r > ((uint64_t)1 << 40)) return 0;
    }
    if (g == n) {
        /* The batch overshot: step one at a time from the saved point. */
        do {
            ys = mont_add(m, mont_mul(m, ys, ys), cm);
            g = gcd64(x > ys ? x - ys : ys - x, n);
        } while (g == 1);
    }
    return g;
}

int mtc_factorize_pq(uint64_t pq, uint64_t *p, uint64_t *q)
{
    if (!p || !q || pq < 4) return MTC_ERR_ARG;
    uint64_t d = 0;
    /* Small factors first: cheap, and Brent's walk degenerates on tiny
     * moduli such as 9 or 25. */
    for (uint64_t f = 2; f < 1024 && f * f <= pq; f += (f == 2 ? 1 : 2)) {
        if (pq % f == 0) {
            d = f;
            break;
        }
    }
    if (d == 0) {
        if (mtc_is_prime_u64(pq)) return MTC_ERR_ARG;
        for (uint64_t c = 1; c < 64 && (d == 0 || d == pq); c++)
            d = brent(pq, c, 2 + c);
        if (d == 0 || d == pq) return MTC_ERR_ARG;
    }
    uint64_t e = pq / d;
    *p = d < e ? d : e;
    *q = d < e ? e : d;
    return MTC_OK;
}
