/* Factorization of the handshake's pq (a product of two primes below 2^32,
 * at most 2^64 - 1 in general).  pq is public, so nothing here needs to be
 * constant time.
 *
 * The method, in order:
 *   1. trial division by 2 and the odd primes below 1024 (pq_tables.h), by
 *      multiplication with their inverses mod 2^64 rather than division;
 *   2. a deterministic Miller-Rabin test: primes are refused;
 *   3. an exact square root test (p == q);
 *   4. below 2^40, Pollard-Brent (the smallest factor is below 2^20, so its
 *      walk is short, some 10^3 steps);
 *   5. otherwise micro-ECM: the elliptic curve method on Suyama curves with
 *      sigma = 6, 7, ..., stage 1 to B1 = 165 and a baby-step giant-step
 *      stage 2 to B2 = 4305, up to ECM_CURVES curves;
 *   6. Pollard-Brent, as before, for whatever ECM did not split.
 *
 * Why ECM is fast here.  Pollard-Brent needs about sqrt(p) ~ 2^16 steps for a
 * 32-bit p, each waiting on the previous product: a chain of ~10^5 dependent
 * Montgomery multiplications (0.4-0.6 ms).  ECM works in the group of an
 * elliptic curve modulo p, whose order is a random-looking number within
 * 2 sqrt(p) of p + 1.  When that order divides k = (the prime powers up to
 * B1) times one prime up to B2, k * P is the point at infinity modulo p (its
 * Z coordinate is 0 mod p) but almost never modulo the cofactor, and
 * gcd(Z, n) is p.  Suyama's curves have orders divisible by 12, which leaves
 * a ~2^28 cofactor for a 32-bit p, smooth enough that a 63-bit pq needs
 * about 6 curves on average, each some 3700 multiplications (stage 1: a
 * Montgomery ladder over the 227-bit k, 10 products per bit; stage 2: two
 * products per pair of candidate primes).  The X and Z halves of each step
 * are independent, so the core overlaps their multiplications instead of
 * waiting on one chain: about 9 us a curve, 40-60 us a pq, against ~500 us.
 *
 * Why it is correct.  Every answer is a divisor d of n with 1 < d < n (a
 * trial prime below n that divides it, the square root of a square, or a gcd
 * with n that is neither 1 nor n), and q is computed as n / d, so p * q == pq
 * always holds, whichever path found d.  ECM is only an accelerator: when no
 * curve splits n, or ECM_BOTH curves find every factor at once (gcd == n:
 * typical when all factors are small, which Brent then handles quickly),
 * the Pollard-Brent loop of the previous version runs unchanged, so every
 * composite it split before is still split.  Primes are refused up front by
 * Miller-Rabin with the first 12 primes as bases, deterministic below 2^64.
 * The curves are fixed, so the same pq always gives the same answer.
 *
 * Arithmetic is Montgomery multiplication modulo the odd n (R = 2^64); every
 * value stays below n, so any odd n < 2^64 works, including n > 2^63.  The
 * curve points use x-only (X : Z) coordinates on By^2 = x^3 + Ax^2 + x.  All
 * shifts are by less than 64 and all arithmetic is unsigned, except the
 * inverse's cofactors, which stay within (-n, n) in 128-bit signed integers. */
#include "internal.h"
#include "pq_tables.h"

typedef unsigned __int128 u128;
typedef __int128 i128;

/* -- Montgomery arithmetic modulo an odd n ------------------------------------ */

struct mont {
    uint64_t n;
    uint64_t ninv; /* n^-1 mod 2^64 */
    uint64_t one;  /* R mod n: 1 in Montgomery form */
    uint64_t r2;   /* R^2 mod n, to convert into Montgomery form */
};

static struct mont mont_init(uint64_t n)
{
    uint64_t inv = n; /* correct to 3 bits for odd n; each step doubles that */
    for (int i = 0; i < 5; i++) inv *= 2 - n * inv;
    struct mont m;
    m.n = n;
    m.ninv = inv;
    m.one = (0 - n) % n; /* 2^64 - n, reduced */
    m.r2 = (uint64_t)((u128)m.one * m.one % n);
    return m;
}

/* t * R^-1 mod n for t < n * 2^64.  With q = t * n^-1 mod 2^64, t - q*n is a
 * multiple of 2^64 with the same low word, and (t - q*n) / 2^64 is in (-n, n). */
static inline uint64_t mont_redc(const struct mont *m, u128 t)
{
    uint64_t lo = (uint64_t)t, hi = (uint64_t)(t >> 64);
    uint64_t q = lo * m->ninv;
    uint64_t qh = (uint64_t)(((u128)q * m->n) >> 64);
    uint64_t r = hi - qh;
    return hi < qh ? r + m->n : r;
}

static inline uint64_t mont_mul(const struct mont *m, uint64_t a, uint64_t b)
{
    return mont_redc(m, (u128)a * b);
}

/* a + b mod n as a - (n - b): no carry out of 64 bits even for n > 2^63. */
static inline uint64_t mont_add(const struct mont *m, uint64_t a, uint64_t b)
{
    uint64_t t = m->n - b, r = a - t;
    return a < t ? r + m->n : r;
}

static inline uint64_t mont_sub(const struct mont *m, uint64_t a, uint64_t b)
{
    uint64_t r = a - b;
    return a < b ? r + m->n : r;
}

/* Small integer x < n into Montgomery form. */
static inline uint64_t mont_in(const struct mont *m, uint64_t x)
{
    return mont_mul(m, x, m->r2);
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

/* -- primality ---------------------------------------------------------------- */

/* Deterministic Miller-Rabin for all 64-bit n with the first 12 primes as
 * bases (enough below 3.3 * 10^24).  A composite almost always fails the
 * first base, so the usual cost is one exponentiation. */
int mtc_is_prime_u64(uint64_t n)
{
    static const uint64_t bases[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37};
    if (n < 2) return 0;
    for (int i = 0; i < 12; i++) {
        if (n == bases[i]) return 1;
        if (n % bases[i] == 0) return 0;
    }
    /* n is odd and > 37 from here. */
    struct mont m = mont_init(n);
    uint64_t d = n - 1;
    int s = 0;
    while (!(d & 1)) {
        d >>= 1;
        s++;
    }
    uint64_t minus_one = m.n - m.one;
    for (int i = 0; i < 12; i++) {
        uint64_t a = mont_in(&m, bases[i]), x = m.one;
        for (int bit = 63 - __builtin_clzll(d); bit >= 0; bit--) {
            x = mont_mul(&m, x, x);
            if ((d >> bit) & 1) x = mont_mul(&m, x, a);
        }
        if (x == m.one || x == minus_one) continue;
        int composite = 1;
        for (int r = 1; r < s; r++) {
            x = mont_mul(&m, x, x);
            if (x == minus_one) {
                composite = 0;
                break;
            }
        }
        if (composite) return 0;
    }
    return 1;
}

/* -- Pollard-Brent -------------------------------------------------------------- */

/* One Brent cycle-finding run with f(y) = y^2 + c; 0 or n on failure. */
static uint64_t brent(uint64_t n, uint64_t c, uint64_t y0)
{
    const uint64_t batch = 128;
    struct mont m = mont_init(n);
    uint64_t cm = c % n, y = y0 % n, x = y, ys = y, q = 1, g = 1;
    for (uint64_t r = 1; g == 1; r <<= 1) {
        x = y;
        for (uint64_t i = 0; i < r; i++) y = mont_add(&m, mont_mul(&m, y, y), cm);
        for (uint64_t k = 0; k < r && g == 1; k += batch) {
            ys = y;
            uint64_t lim = r - k < batch ? r - k : batch;
            for (uint64_t i = 0; i < lim; i++) {
                y = mont_add(&m, mont_mul(&m, y, y), cm);
                q = mont_mul(&m, q, x > y ? x - y : y - x);
            }
            g = gcd64(q, n);
        }
        if (r > ((uint64_t)1 << 40)) return 0;
    }
    if (g == n) {
        /* The batch overshot: step one at a time from the saved point. */
        do {
            ys = mont_add(&m, mont_mul(&m, ys, ys), cm);
            g = gcd64(x > ys ? x - ys : ys - x, n);
        } while (g == 1);
    }
    return g;
}

/* A nontrivial factor of the odd composite n, or 0. */
static uint64_t brent_factor(uint64_t n)
{
    uint64_t d = 0;
    for (uint64_t c = 1; c < 64 && (d == 0 || d == n); c++) d = brent(n, c, 2 + c);
    return d == n ? 0 : d;
}

/* -- micro-ECM ------------------------------------------------------------------ */

#define ECM_B1 165    /* stage 1 bound */
#define ECM_D 210     /* stage 2 giant step: 2 * 3 * 5 * 7 */
#define ECM_GIANT 20  /* giant steps: stage 2 reaches ECM_D * ECM_GIANT + ECM_D / 2 = B2 */
#define ECM_CURVES 48 /* curves before falling back to Pollard-Brent */
#define ECM_BOTH 3    /* curves that find every factor at once before that */
#define ECM_BABY 24   /* odd j < ECM_D / 2 coprime to ECM_D */

struct pt {
    uint64_t x, z;
};

/* 2P: X' = (X+Z)^2 (X-Z)^2, Z' = 4XZ ((X-Z)^2 + a24 * 4XZ), a24 = (A+2)/4. */
static inline struct pt ec_dbl(const struct mont *m, struct pt p, uint64_t a24)
{
    uint64_t s = mont_add(m, p.x, p.z), d = mont_sub(m, p.x, p.z);
    s = mont_mul(m, s, s);
    d = mont_mul(m, d, d);
    uint64_t t = mont_sub(m, s, d);
    struct pt r = {mont_mul(m, s, d), mont_mul(m, t, mont_add(m, d, mont_mul(m, a24, t)))};
    return r;
}

/* P + Q from P, Q and P - Q:
 * X' = Zd ((Xp-Zp)(Xq+Zq) + (Xp+Zp)(Xq-Zq))^2, Z' = Xd (... - ...)^2. */
static inline struct pt ec_add(const struct mont *m, struct pt p, struct pt q, struct pt d)
{
    uint64_t u = mont_mul(m, mont_sub(m, p.x, p.z), mont_add(m, q.x, q.z));
    uint64_t v = mont_mul(m, mont_add(m, p.x, p.z), mont_sub(m, q.x, q.z));
    uint64_t s = mont_add(m, u, v), t = mont_sub(m, u, v);
    struct pt r = {mont_mul(m, d.z, mont_mul(m, s, s)), mont_mul(m, d.x, mont_mul(m, t, t))};
    return r;
}

/* The same with Zd == 1 (the base point of the stage 1 ladder). */
static inline struct pt ec_add1(const struct mont *m, struct pt p, struct pt q, uint64_t xd)
{
    uint64_t u = mont_mul(m, mont_sub(m, p.x, p.z), mont_add(m, q.x, q.z));
    uint64_t v = mont_mul(m, mont_add(m, p.x, p.z), mont_sub(m, q.x, q.z));
    uint64_t s = mont_add(m, u, v), t = mont_sub(m, u, v);
    struct pt r = {mont_mul(m, s, s), mont_mul(m, xd, mont_mul(m, t, t))};
    return r;
}

/* a^-1 mod n (a < n) by the extended Euclidean algorithm; returns
 * gcd(a, n), and the inverse in *inv when that is 1.  The cofactors stay
 * within (-n, n), so 128-bit signed arithmetic cannot overflow. */
static uint64_t inverse(uint64_t a, uint64_t n, uint64_t *inv)
{
    uint64_t r0 = n, r1 = a;
    i128 t0 = 0, t1 = 1;
    while (r1) {
        uint64_t q = r0 / r1, r = r0 - q * r1;
        i128 t = t0 - (i128)q * t1;
        r0 = r1;
        r1 = r;
        t0 = t1;
        t1 = t;
    }
    if (r0 == 1) *inv = (uint64_t)(t0 < 0 ? t0 + (i128)n : t0);
    return r0;
}

/* The stage 1 multiplier: the product of the largest power of each odd
 * prime up to ECM_B1, as little-endian words in k; returns the word count.
 * (The power of 2 is applied by doublings.) */
static int stage1_scalar(uint64_t k[8])
{
    int len = 1;
    k[0] = 1;
    for (uint64_t p = 3; p <= ECM_B1; p += 2) {
        int prime = 1;
        for (uint64_t f = 3; f * f <= p; f += 2)
            if (p % f == 0) prime = 0;
        if (!prime) continue;
        uint64_t pe = p;
        while (pe * p <= ECM_B1) pe *= p;
        uint64_t carry = 0;
        for (int i = 0; i < len; i++) {
            u128 t = (u128)k[i] * pe + carry;
            k[i] = (uint64_t)t;
            carry = (uint64_t)(t >> 64);
        }
        if (carry) k[len++] = carry;
    }
    return len;
}

/* One curve, Suyama's parametrization with parameter sigma:
 * u = sigma^2 - 5, v = 4 sigma, x0 = u^3 / v^3,
 * (A + 2) / 4 = (v - u)^3 (3u + v) / (16 u^3 v).
 * Returns a factor found (possibly n itself) or 1. */
static uint64_t ecm_curve(const struct mont *m, uint64_t sigma, const uint64_t *k, int klen)
{
    uint64_t s = mont_in(m, sigma);
    uint64_t u = mont_sub(m, mont_mul(m, s, s), mont_in(m, 5));
    uint64_t v = mont_add(m, mont_add(m, s, s), mont_add(m, s, s));
    uint64_t u3 = mont_mul(m, mont_mul(m, u, u), u), v3 = mont_mul(m, mont_mul(m, v, v), v);
    uint64_t sixteen = mont_in(m, 16);
    /* One inversion for both fractions: w = 1 / (16 u^3 v^4). */
    uint64_t den = mont_mul(m, mont_mul(m, mont_mul(m, sixteen, u3), v3), v);
    uint64_t inv, g = inverse(mont_mul(m, den, 1), m->n, &inv);
    if (g != 1) return g; /* a degenerate curve modulo a factor: the factor */
    uint64_t w = mont_in(m, inv);
    uint64_t vmu = mont_sub(m, v, u);
    uint64_t num = mont_mul(m, mont_mul(m, mont_mul(m, vmu, vmu), vmu),
                            mont_add(m, mont_add(m, mont_add(m, u, u), u), v));
    uint64_t a24 = mont_mul(m, num, mont_mul(m, w, v3));
    uint64_t x0 = mont_mul(m, mont_mul(m, u3, u3), mont_mul(m, mont_mul(m, sixteen, v), w));

    /* Stage 1: the Montgomery ladder over the odd part of k, from P = (x0 : 1);
     * R1 - R0 == P throughout. */
    struct pt p = {x0, m->one}, r0 = p, r1 = ec_dbl(m, p, a24);
    int top = 63 - __builtin_clzll(k[klen - 1]);
    for (int w_i = klen - 1; w_i >= 0; w_i--) {
        for (int bit = (w_i == klen - 1 ? top - 1 : 63); bit >= 0; bit--) {
            if ((k[w_i] >> bit) & 1) {
                r0 = ec_add1(m, r0, r1, x0);
                r1 = ec_dbl(m, r1, a24);
            } else {
                r1 = ec_add1(m, r0, r1, x0);
                r0 = ec_dbl(m, r0, a24);
            }
        }
    }
    for (uint64_t pe = 2; pe <= ECM_B1; pe *= 2) r0 = ec_dbl(m, r0, a24);
    g = gcd64(r0.z, m->n);
    if (g != 1) return g;

    /* Stage 2: for the giant steps G = iD*Q and the baby steps B = jQ
     * (Q = r0), X_G Z_B - X_B Z_G is 0 mod p when (iD - j) Q or (iD + j) Q is
     * the point at infinity mod p.  The product of these terms over all
     * i <= ECM_GIANT and odd j < D/2 coprime to D catches every prime
     * (and more) between B1 and D * ECM_GIANT. It is computed as
     * (X_G - X_B)(Z_G + Z_B) - X_G Z_G + X_B Z_B: one product per term. */
    struct pt q = r0, q2 = ec_dbl(m, q, a24);
    struct pt baby[ECM_BABY];
    uint64_t baby_xz[ECM_BABY];
    int nb = 0;
    struct pt prev = q, cur = ec_add(m, q2, q, q); /* 1Q, 3Q */
    baby[nb] = q;
    baby_xz[nb++] = mont_mul(m, q.x, q.z);
    for (uint64_t j = 3; j < ECM_D / 2; j += 2) {
        if (j % 3 && j % 5 && j % 7) {
            baby[nb] = cur;
            baby_xz[nb++] = mont_mul(m, cur.x, cur.z);
        }
        struct pt next = ec_add(m, cur, q2, prev); /* (j + 2) Q */
        prev = cur;
        cur = next;
    }
    /* cur == (D/2) Q: the giant step is its double. */
    struct pt giant = ec_dbl(m, cur, a24), gprev = giant, gcur = giant;
    /* Four accumulators, so that the products do not wait on each other. */
    uint64_t acc[4] = {r0.z, m->one, m->one, m->one};
    for (int i = 1; i <= ECM_GIANT; i++) {
        uint64_t gxz = mont_mul(m, gcur.x, gcur.z);
        for (int b = 0; b < nb; b++) {
            uint64_t t = mont_mul(m, mont_sub(m, gcur.x, baby[b].x), mont_add(m, gcur.z, baby[b].z));
            t = mont_add(m, mont_sub(m, t, gxz), baby_xz[b]);
            acc[b & 3] = mont_mul(m, acc[b & 3], t);
        }
        struct pt gnext = i == 1 ? ec_dbl(m, giant, a24) : ec_add(m, gcur, giant, gprev);
        gprev = gcur;
        gcur = gnext;
    }
    return gcd64(mont_mul(m, mont_mul(m, acc[0], acc[1]), mont_mul(m, acc[2], acc[3])), m->n);
}

/* A nontrivial factor of the odd composite n (no factor below PQ_TRIAL_BOUND, not a
 * square), or 0 when no curve split it. */
static uint64_t ecm_factor(uint64_t n)
{
    struct mont m = mont_init(n);
    uint64_t k[8];
    int klen = stage1_scalar(k);
    int both = 0;
    for (uint64_t c = 0; c < ECM_CURVES && both < ECM_BOTH; c++) {
        uint64_t g = ecm_curve(&m, 6 + c, k, klen);
        both += g == n;
        if (g != 1 && g != n) return g;
    }
    return 0;
}

/* floor(sqrt(n)) for n > 0, by Newton's iteration from above. */
static uint64_t isqrt64(uint64_t n)
{
    int bits = 64 - __builtin_clzll(n);
    uint64_t x = (uint64_t)1 << ((bits + 1) / 2), y = (x + n / x) / 2; /* x > sqrt(n) */
    while (y < x) {
        x = y;
        y = (x + n / x) / 2;
    }
    return x;
}

int mtc_factorize_pq(uint64_t pq, uint64_t *p, uint64_t *q)
{
    if (!p || !q || pq < 4) return MTC_ERR_ARG;
    uint64_t d = 0;
    /* Small factors first: cheap, and both ECM's curves and Brent's walk
     * degenerate on tiny moduli such as 9 or 25.  Without a division: for
     * odd p, x = pq * p^-1 mod 2^64 is pq / p exactly when x * p < 2^64
     * (otherwise x * p is congruent to pq but larger); x > 1 keeps p < pq. */
    if (pq % 2 == 0) d = 2;
    for (size_t i = 0; d == 0 && i < sizeof pq_odd_primes / sizeof *pq_odd_primes; i++) {
        uint64_t x = pq * pq_odd_primes[i].inv;
        if (x > 1 && (uint64_t)(((u128)x * pq_odd_primes[i].p) >> 64) == 0) d = pq_odd_primes[i].p;
    }
    if (d == 0) {
        if (mtc_is_prime_u64(pq)) return MTC_ERR_ARG;
        uint64_t r = isqrt64(pq);
        if (r * r == pq) d = r;
        else if (pq >= (uint64_t)1 << 40) d = ecm_factor(pq);
        if (d == 0) d = brent_factor(pq);
        if (d == 0) return MTC_ERR_ARG;
    }
    uint64_t e = pq / d;
    *p = d < e ? d : e;
    *q = d < e ? e : d;
    return MTC_OK;
}
