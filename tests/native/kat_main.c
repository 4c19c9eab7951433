/*
 * C-level checks of the native core, for every backend the CPU offers
 * (backends 1..5; the ones mtc_select_backend refuses are skipped):
 *
 *   1. known answers: the JSON files in tests/vectors/, compiled into kat_vectors.h by
 *      tests/native/gen_kat_vectors.py (AES-256 ECB/CBC/CTR/IGE including
 *      tdlib's CRC-32 vectors, SHA-1/SHA-256, the MTProto 2.0 KDF and the
 *      secret-chat message vectors);
 *   2. differential: random keys, IVs, lengths and chunkings for IGE (single
 *      calls, chained calls, one-shot, packed and pointer batches), CBC, CTR,
 *      SHA-1/SHA-256 and MTProto message seal/open (single and batch), each
 *      backend against MTC_BACKEND_PORTABLE.
 *
 * Built and run by tools/arm64_check.sh: natively, and cross-compiled for
 * aarch64 under qemu with and without the crypto extensions.
 *
 *   kat_main [--iterations N] [--seed S] [--expect-backend B]... [--expect-no-backend B]...
 *            [--expect-sha 0|1]
 *
 * --expect-* make the run fail unless detection saw what the caller (who
 * chose the emulated CPU, or hid HWCAP bits, see below) knows is there.  Exit status 0 when every check
 * passed.
 */
#include "mtcrypt.h"
#include "kat_vectors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef KAT_WRAP_GETAUXVAL
/* Linked with -Wl,--wrap=getauxval (tools/arm64_check.sh): the HWCAP bits in
 * KAT_HWCAP_CLEAR are hidden from cpu.c, standing in for a CPU without them
 * (qemu-user 7.2 offers no aarch64 model without AES/SHA, nor a property to
 * turn them off).  The bits themselves are the kernel's. */
#include <sys/auxv.h>
unsigned long __real_getauxval(unsigned long type);
unsigned long __wrap_getauxval(unsigned long type);
unsigned long __wrap_getauxval(unsigned long type)
{
    unsigned long v = __real_getauxval(type);
    const char *clear = getenv("KAT_HWCAP_CLEAR");
    if (type == AT_HWCAP && clear) v &= ~strtoul(clear, NULL, 0);
    return v;
}
#endif

static const char *backend_name(int b)
{
    switch (b) {
    case MTC_BACKEND_PORTABLE: return "portable";
    case MTC_BACKEND_AESNI: return "aesni";
    case MTC_BACKEND_VAES: return "vaes";
    case 4: return "vpaes";
    case MTC_BACKEND_ARMV8: return "armv8";
    default: return "?";
    }
}

static int backend_by_name(const char *name)
{
    for (int b = 1; b <= 5; b++)
        if (strcmp(name, backend_name(b)) == 0) return b;
    fprintf(stderr, "unknown backend %s\n", name);
    exit(2);
}

static long failures;
static long checks;
static const char *current = "?";

static void check(int ok, const char *what, const char *name)
{
    checks++;
    if (!ok) {
        failures++;
        if (failures <= 40) printf("FAIL [%s] %s: %s\n", current, what, name);
    }
}

static int eq(const uint8_t *a, const uint8_t *b, size_t n)
{
    return n == 0 || memcmp(a, b, n) == 0;
}

static void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(2);
    }
    return p;
}

/* ---- CRC-32 and tdlib's generator (for the length-only vectors) -------- */

static uint32_t crc32(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return ~c;
}

static void tdlib_lcg(uint8_t *out, size_t n)
{
    uint32_t seed = (uint32_t)n;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 123457567u + 987651241u;
        out[i] = (uint8_t)(seed >> 23);
    }
}

/* ---- known answers ----------------------------------------------------- */

/* The vector's plaintext (generated for length-only vectors). */
static uint8_t *kat_plain(const struct kat_cipher *v)
{
    uint8_t *pt = xmalloc(v->len);
    if (v->pt) memcpy(pt, v->pt, v->len);
    else tdlib_lcg(pt, v->len);
    return pt;
}

static int kat_matches(const struct kat_cipher *v, const uint8_t *ct)
{
    return v->crc_only ? crc32(ct, v->len) == v->crc : eq(ct, v->ct, v->len);
}

static void kat_ecb_cbc(const struct kat_cipher *v, int cbc)
{
    mtc_aes256 ctx;
    uint8_t iv[16] = {0};
    uint8_t *pt = kat_plain(v), *buf = xmalloc(v->len);
    check(mtc_aes256_init(&ctx, v->key) == MTC_OK, "init", v->name);
    if (cbc) {
        memcpy(iv, v->iv, 16);
        check(mtc_cbc256_encrypt(&ctx, iv, pt, buf, v->len) == MTC_OK, "cbc rc", v->name);
    } else { /* ECB: CBC with a zero IV, one block at a time */
        for (size_t i = 0; i < v->len; i += 16) {
            memset(iv, 0, 16);
            mtc_cbc256_encrypt(&ctx, iv, pt + i, buf + i, 16);
        }
    }
    check(kat_matches(v, buf), cbc ? "cbc encrypt" : "ecb encrypt", v->name);
    if (!v->crc_only) {
        if (cbc) {
            memcpy(iv, v->iv, 16);
            mtc_cbc256_decrypt(&ctx, iv, v->ct, buf, v->len);
        } else {
            for (size_t i = 0; i < v->len; i += 16) {
                memset(iv, 0, 16);
                mtc_cbc256_decrypt(&ctx, iv, v->ct + i, buf + i, 16);
            }
        }
        check(eq(buf, pt, v->len), cbc ? "cbc decrypt" : "ecb decrypt", v->name);
    }
    mtc_aes256_wipe(&ctx);
    free(pt);
    free(buf);
}

static void kat_ctr(const struct kat_cipher *v)
{
    mtc_aes256 ctx;
    uint8_t ctr[16], ks[16];
    unsigned int off = 16;
    uint8_t *pt = kat_plain(v), *buf = xmalloc(v->len);
    mtc_aes256_init(&ctx, v->key);
    memcpy(ctr, v->iv, 16);
    check(mtc_ctr256(&ctx, ctr, ks, &off, pt, buf, v->len) == MTC_OK, "ctr rc", v->name);
    check(kat_matches(v, buf), "ctr", v->name);
    /* Again in uneven chunks through the stream state. */
    mtc_ctr256_state st;
    mtc_aes256_init(&st.aes, v->key);
    memcpy(st.counter, v->iv, 16);
    st.offset = 16;
    size_t pos = 0, step = 1;
    while (pos < v->len) {
        size_t n = v->len - pos < step ? v->len - pos : step;
        mtc_ctr256_stream(&st, pt + pos, buf + pos, n);
        pos += n;
        step = step * 3 + 5;
    }
    check(kat_matches(v, buf), "ctr chunked", v->name);
    mtc_aes256_wipe(&ctx);
    mtc_aes256_wipe(&st.aes);
    free(pt);
    free(buf);
}

static void kat_ige(const struct kat_cipher *v)
{
    mtc_aes256 ctx;
    uint8_t iv[32];
    uint8_t *pt = kat_plain(v), *buf = xmalloc(v->len);
    mtc_aes256_init(&ctx, v->key);
    memcpy(iv, v->iv, 32);
    check(mtc_ige256_encrypt(&ctx, iv, pt, buf, v->len) == MTC_OK, "ige rc", v->name);
    check(kat_matches(v, buf), "ige encrypt", v->name);
    check(mtc_ige256_encrypt_key(v->key, v->iv, pt, buf, v->len) == MTC_OK &&
              kat_matches(v, buf), "ige encrypt (one-shot)", v->name);
    /* decrypt what we produced (covers the length-only vectors too) */
    uint8_t *back = xmalloc(v->len);
    memcpy(iv, v->iv, 32);
    mtc_ige256_decrypt(&ctx, iv, buf, back, v->len);
    check(eq(back, pt, v->len), "ige decrypt", v->name);
    mtc_ige256_decrypt_key(v->key, v->iv, buf, back, v->len);
    check(eq(back, pt, v->len), "ige decrypt (one-shot)", v->name);
    mtc_aes256_wipe(&ctx);
    free(pt);
    free(buf);
    free(back);
}

static void kat_sha(const struct kat_sha *v)
{
    uint8_t out[32];
    if (v->bits == 1) {
        mtc_sha1_ctx c;
        mtc_sha1_init(&c);
        for (size_t i = 0; i < v->repeat; i++) mtc_sha1_update(&c, v->msg, v->msg_len);
        mtc_sha1_final(&c, out);
        check(eq(out, v->digest, 20), "sha1", v->name);
    } else {
        mtc_sha256_ctx c;
        mtc_sha256_init(&c);
        for (size_t i = 0; i < v->repeat; i++) mtc_sha256_update(&c, v->msg, v->msg_len);
        mtc_sha256_final(&c, out);
        check(eq(out, v->digest, 32), "sha256", v->name);
    }
    if (v->repeat == 1) { /* the one-call forms */
        if (v->bits == 1) {
            mtc_sha1(v->msg, v->msg_len, out);
            check(eq(out, v->digest, 20), "sha1 one-call", v->name);
        } else {
            mtc_sha256(v->msg, v->msg_len, out);
            check(eq(out, v->digest, 32), "sha256 one-call", v->name);
        }
    }
}

static void kat_kdf(const struct kat_kdf *v)
{
    uint8_t key[32], iv[32];
    check(mtc_kdf2(v->auth_key, v->x, v->msg_key, key, iv) == MTC_OK && eq(key, v->aes_key, 32) &&
              eq(iv, v->aes_iv, 32), "kdf2", v->name);
}

static void kat_e2e(const struct kat_e2e *v)
{
    uint8_t *out = xmalloc(v->packet_len), *plain = xmalloc(v->packet_len);
    int rc = mtc_e2e_seal(v->key, v->fingerprint, v->x, v->plain, v->plain_len, v->padding,
                          v->pad_len, out);
    check(rc == MTC_OK && 24 + v->plain_len + v->pad_len == v->packet_len &&
              eq(out, v->packet, v->packet_len), "e2e seal", v->name);
    rc = mtc_e2e_open(v->key, v->fingerprint, v->x, v->packet, v->packet_len, plain);
    check(rc == (int)v->plain_len - 4 && eq(plain, v->plain, v->plain_len), "e2e open", v->name);
    free(out);
    free(plain);
}

static void run_kats(void)
{
    for (size_t i = 0; i < VEC_ECB_N; i++) kat_ecb_cbc(&vec_ecb[i], 0);
    for (size_t i = 0; i < VEC_CBC_N; i++) kat_ecb_cbc(&vec_cbc[i], 1);
    for (size_t i = 0; i < VEC_CTR_N; i++) kat_ctr(&vec_ctr[i]);
    for (size_t i = 0; i < VEC_IGE_N; i++) kat_ige(&vec_ige[i]);
    for (size_t i = 0; i < VEC_SHA_N; i++) kat_sha(&vec_sha[i]);
    for (size_t i = 0; i < VEC_KDF_N; i++) kat_kdf(&vec_kdf[i]);
    for (size_t i = 0; i < VEC_E2E_N; i++) kat_e2e(&vec_e2e[i]);
}

/* ---- differential ------------------------------------------------------ */

static uint64_t rng_state;

static uint64_t rnd(void) /* splitmix64: reproducible from --seed */
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static size_t below(size_t n) { return (size_t)(rnd() % n); }

static void fill(uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)rnd();
}

/* A length in blocks: mostly short, sometimes past the 8-wide loops. */
static size_t rnd_blocks(void)
{
    switch (below(4)) {
    case 0: return below(4);
    case 1: return below(20);
    case 2: return below(70);
    default: return below(300);
    }
}

#define MAXB 300

/* One random case, computed by the backend in use into *out; run twice (once
 * on the backend under test, once on portable) with the same seed. */
struct diff_out {
    uint8_t ige[6][16 * MAXB];
    uint8_t ige_iv[4][32];
    uint8_t cbc[3][16 * MAXB];
    uint8_t cbc_iv[2][16];
    uint8_t ctr[16 * MAXB + 15];
    uint8_t ctr_state[33];
    uint8_t batch[2][16 * MAXB * 2];
    uint8_t sha1[20], sha256[32];
    uint8_t seal[24 + 16 * MAXB];
    int open_rc;
    uint8_t seal_batch[4 * (24 + 16 * 64)];
    int open_batch_rc[4];
    int rc_or;
};

static void diff_case(uint64_t seed, struct diff_out *o)
{
    rng_state = seed;
    memset(o, 0, sizeof *o);
    uint8_t key[32], iv[32], data[16 * MAXB + 15];
    fill(key, 32);
    fill(iv, 32);
    fill(data, sizeof data);
    size_t nb = rnd_blocks(), split = nb ? below(nb + 1) : 0, len = 16 * nb;
    mtc_aes256 ctx;
    int rc = mtc_aes256_init(&ctx, key);

    /* IGE: one call, two chained calls, in place, one-shot, and decrypt */
    uint8_t v[32];
    memcpy(v, iv, 32);
    rc |= mtc_ige256_encrypt(&ctx, v, data, o->ige[0], len);
    memcpy(o->ige_iv[0], v, 32);
    memcpy(v, iv, 32);
    rc |= mtc_ige256_encrypt(&ctx, v, data, o->ige[1], 16 * split);
    rc |= mtc_ige256_encrypt(&ctx, v, data + 16 * split, o->ige[1] + 16 * split, len - 16 * split);
    memcpy(o->ige_iv[1], v, 32);
    memcpy(o->ige[2], data, len);
    rc |= mtc_ige256_encrypt_key(key, iv, o->ige[2], o->ige[2], len);
    memcpy(v, iv, 32);
    rc |= mtc_ige256_decrypt(&ctx, v, data, o->ige[3], len);
    memcpy(o->ige_iv[2], v, 32);
    memcpy(v, iv, 32);
    memcpy(o->ige[4], data, len);
    rc |= mtc_ige256_decrypt(&ctx, v, o->ige[4], o->ige[4], 16 * split);
    rc |= mtc_ige256_decrypt(&ctx, v, o->ige[4] + 16 * split, o->ige[4] + 16 * split,
                             len - 16 * split);
    memcpy(o->ige_iv[3], v, 32);
    rc |= mtc_ige256_decrypt_key(key, iv, data, o->ige[5], len);

    /* CBC: chained encrypt, decrypt, in-place decrypt */
    memcpy(v, iv, 16);
    rc |= mtc_cbc256_encrypt(&ctx, v, data, o->cbc[0], 16 * split);
    rc |= mtc_cbc256_encrypt(&ctx, v, data + 16 * split, o->cbc[0] + 16 * split, len - 16 * split);
    memcpy(o->cbc_iv[0], v, 16);
    memcpy(v, iv, 16);
    rc |= mtc_cbc256_decrypt(&ctx, v, data, o->cbc[1], len);
    memcpy(o->cbc_iv[1], v, 16);
    memcpy(v, iv, 16);
    memcpy(o->cbc[2], data, len);
    rc |= mtc_cbc256_decrypt(&ctx, v, o->cbc[2], o->cbc[2], 16 * split);
    rc |= mtc_cbc256_decrypt(&ctx, v, o->cbc[2] + 16 * split, o->cbc[2] + 16 * split,
                             len - 16 * split);

    /* CTR: any byte length in random chunks; counters near the wrap */
    {
        uint8_t ctr[16], ks[16];
        unsigned int off = 16;
        memcpy(ctr, iv, 16);
        if (below(3) == 0) memset(ctr + (below(2) ? 0 : 8), 0xff, 8);
        if (below(4) == 0) memset(ctr, 0xff, 16);
        /* the low word 1..40 blocks short of its carry, so that the carry falls
         * at, inside or just after a wide backend's chunk of 16 blocks */
        if (below(3) == 0) {
            memset(ctr + 8, 0xff, 8);
            ctr[15] = (uint8_t)(0xff - below(40));
        }
        size_t clen = len + below(16), pos = 0;
        while (pos < clen) {
            size_t n = below(4) ? below(clen - pos + 1) : clen - pos;
            rc |= mtc_ctr256(&ctx, ctr, ks, &off, data + pos, o->ctr + pos, n);
            pos += n;
        }
        memcpy(o->ctr_state, ctr, 16);
        memcpy(o->ctr_state + 16, ks, 16);
        o->ctr_state[32] = (uint8_t)off;
        if (off >= 16) memset(o->ctr_state + 16, 0, 16); /* nothing buffered: not compared */
    }

    /* Batch IGE, packed and with pointers: 0..27 messages (more than the
     * widest backend's lanes, so lanes refill), lengths 0..MAXB/6 blocks, or
     * 0..MAXB/14 for more than 12 messages (the buffers hold 2 * MAXB blocks) */
    {
        size_t n = below(28), off = 0;
        size_t cap = n > 12 ? MAXB / 14 : MAXB / 6;
        uint8_t keys[28 * 32], ivs[28 * 32];
        uint64_t lens[28];
        const uint8_t *kp[28], *ip[28], *inp[28];
        uint8_t *outp[28];
        fill(keys, sizeof keys);
        fill(ivs, sizeof ivs);
        for (size_t i = 0; i < n; i++) {
            lens[i] = 16 * (uint64_t)below(cap);
            kp[i] = keys + 32 * i;
            ip[i] = ivs + 32 * i;
            inp[i] = data;
            outp[i] = o->batch[1] + off; /* the pointer form writes after the packed one */
            off += (size_t)lens[i];
        }
        int dec = (int)below(2);
        /* packed: in == out, each message a copy of the start of data */
        off = 0;
        for (size_t i = 0; i < n; i++) {
            memcpy(o->batch[0] + off, data, (size_t)lens[i]);
            off += (size_t)lens[i];
        }
        rc |= mtc_ige256_batch(dec, n, keys, ivs, lens, o->batch[0], o->batch[0]);
        rc |= mtc_ige256_batch_ptrs(dec, n, kp, ip, lens, inp, outp);
    }

    /* SHA: random length in random chunks */
    {
        size_t slen = below(4) ? below(300) : below(sizeof data), pos = 0;
        mtc_sha1_ctx s1;
        mtc_sha256_ctx s2;
        mtc_sha1_init(&s1);
        mtc_sha256_init(&s2);
        while (pos < slen) {
            size_t n = below(slen - pos + 1);
            mtc_sha1_update(&s1, data + pos, n);
            mtc_sha256_update(&s2, data + pos, n);
            pos += n;
        }
        mtc_sha1_final(&s1, o->sha1);
        mtc_sha256_final(&s2, o->sha256);
    }

    /* MTProto 2.0 seal/open, single and batch */
    {
        uint8_t ak[256], kid[8], plain[16 * MAXB], pad[1024], back[16 * MAXB + 1024];
        fill(ak, 256);
        fill(kid, 8);
        int x = below(2) ? 8 : 0;
        size_t body = 4 * below(MAXB * 2), plen = 32 + body;
        size_t padlen = 12 + (16 - (plen + 12) % 16) % 16 + 16 * below(4);
        fill(plain, plen);
        plain[28] = (uint8_t)body;
        plain[29] = (uint8_t)(body >> 8);
        plain[30] = plain[31] = 0;
        fill(pad, padlen);
        if (24 + plen + padlen <= sizeof o->seal) {
            rc |= mtc_msg_seal(ak, kid, x, plain, plen, pad, padlen, o->seal, NULL);
            o->open_rc = mtc_msg_open(ak, kid, x, o->seal, 24 + plen + padlen, back);
            check(o->open_rc == (int)body && eq(back, plain, plen), "msg open(seal)", "random");
        }
        /* batch of 4 with the same key */
        uint8_t plains[4 * 16 * 64], pads[4 * 64];
        uint64_t plens[4], padlens[4], pktlens[4];
        size_t poff = 0, padoff = 0, total = 0;
        for (int i = 0; i < 4; i++) {
            size_t b = 4 * below(200);
            plens[i] = 32 + b;
            padlens[i] = 12 + (16 - (plens[i] + 12) % 16) % 16 + 16 * below(2);
            fill(plains + poff, (size_t)plens[i]);
            plains[poff + 28] = (uint8_t)b;
            plains[poff + 29] = (uint8_t)(b >> 8);
            plains[poff + 30] = plains[poff + 31] = 0;
            fill(pads + padoff, (size_t)padlens[i]);
            pktlens[i] = 24 + plens[i] + padlens[i];
            poff += (size_t)plens[i];
            padoff += (size_t)padlens[i];
            total += (size_t)pktlens[i];
        }
        rc |= mtc_msg_seal_batch(ak, kid, x, 4, plains, plens, pads, padlens, o->seal_batch);
        if (below(2)) o->seal_batch[24 + below(16)] ^= 1; /* one packet corrupted */
        uint8_t *opened = xmalloc(total);
        rc |= mtc_msg_open_batch(ak, kid, x, 4, o->seal_batch, pktlens, opened, o->open_batch_rc);
        free(opened);
    }
    mtc_aes256_wipe(&ctx);
    o->rc_or = rc;
}

static void compare(const struct diff_out *a, const struct diff_out *b, const char *what)
{
    check(a->rc_or == MTC_OK && b->rc_or == MTC_OK, "status codes", what);
    check(eq(a->ige[0], b->ige[0], sizeof a->ige), "ige", what);
    check(eq(a->ige_iv[0], b->ige_iv[0], sizeof a->ige_iv), "ige chaining state", what);
    check(eq(a->cbc[0], b->cbc[0], sizeof a->cbc + sizeof a->cbc_iv), "cbc", what);
    check(eq(a->ctr, b->ctr, sizeof a->ctr + sizeof a->ctr_state), "ctr", what);
    check(eq(a->batch[0], b->batch[0], sizeof a->batch), "ige batch", what);
    check(eq(a->sha1, b->sha1, 20) && eq(a->sha256, b->sha256, 32), "sha", what);
    check(eq(a->seal, b->seal, sizeof a->seal) && a->open_rc == b->open_rc, "msg seal/open", what);
    check(eq(a->seal_batch, b->seal_batch, sizeof a->seal_batch) &&
              memcmp(a->open_batch_rc, b->open_batch_rc, sizeof a->open_batch_rc) == 0,
          "msg batch", what);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void run_diff(int backend, long iterations, uint64_t seed)
{
    struct diff_out *a = xmalloc(sizeof *a), *p = xmalloc(sizeof *p);
    char what[64];
    for (long i = 0; i < iterations; i++) {
        uint64_t s = seed + (uint64_t)i * 0x1000193ull;
        snprintf(what, sizeof what, "case %ld (seed %llu)", i, (unsigned long long)s);
        mtc_select_backend(backend);
        diff_case(s, a);
        mtc_select_backend(MTC_BACKEND_PORTABLE);
        diff_case(s, p);
        compare(a, p, what);
    }
    free(a);
    free(p);
}

int main(int argc, char **argv)
{
    long iterations = 300;
    uint64_t seed = (uint64_t)time(NULL);
    int expect[6] = {0}, expect_sha = -1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--iterations") && i + 1 < argc) iterations = atol(argv[++i]);
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoull(argv[++i], NULL, 0);
        else if (!strcmp(argv[i], "--expect-backend") && i + 1 < argc)
            expect[backend_by_name(argv[++i])] = 1;
        else if (!strcmp(argv[i], "--expect-no-backend") && i + 1 < argc)
            expect[backend_by_name(argv[++i])] = -1;
        else if (!strcmp(argv[i], "--expect-sha") && i + 1 < argc) expect_sha = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--iterations N] [--seed S] [--expect-backend B]... "
                            "[--expect-no-backend B]... [--expect-sha 0|1]\n", argv[0]);
            return 2;
        }
    }
    int f = mtc_cpu_features();
    printf("cpu features 0x%x:", f);
    static const struct { int bit; const char *name; } names[] = {
        {MTC_CPU_AESNI, "aesni"}, {MTC_CPU_PCLMUL, "pclmul"}, {MTC_CPU_AVX2, "avx2"},
        {MTC_CPU_AVX512, "avx512"}, {MTC_CPU_VAES, "vaes"}, {MTC_CPU_SHANI, "sha_ni"},
        {MTC_CPU_SSSE3, "ssse3"}, {MTC_CPU_SSE41, "sse4.1"}, {MTC_CPU_NEON, "neon"},
        {MTC_CPU_ARMV8_AES, "armv8_aes"}, {MTC_CPU_ARMV8_SHA, "armv8_sha"}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (f & names[i].bit) printf(" %s", names[i].name);
    int autob = mtc_select_backend(MTC_BACKEND_AUTO);
    printf("\nauto-selected backend: %s, accelerated SHA: %d\nseed %llu, %ld differential cases per backend\n",
           backend_name(autob), mtc_sha_accelerated(), (unsigned long long)seed, iterations);
    int ran = 0;
    for (int b = 1; b <= 5; b++) {
        int rc = mtc_select_backend(b);
        if (expect[b] == 1 && rc != b) {
            printf("FAIL: backend %s expected on this CPU, refused (%d)\n", backend_name(b), rc);
            failures++;
        }
        if (expect[b] == -1 && rc == b) {
            printf("FAIL: backend %s accepted on a CPU that lacks it\n", backend_name(b));
            failures++;
        }
        if (rc != b) {
            if (rc == MTC_ERR_UNAVAILABLE) printf("backend %-8s not offered by this CPU\n", backend_name(b));
            continue;
        }
        if (expect_sha >= 0 && b != MTC_BACKEND_PORTABLE && mtc_sha_accelerated() != expect_sha) {
            printf("FAIL: backend %s: accelerated SHA %d, expected %d\n", backend_name(b),
                   mtc_sha_accelerated(), expect_sha);
            failures++;
        }
        double t0 = now();
        long before_f = failures, before_c = checks;
        current = backend_name(b);
        run_kats();
        long kat_checks = checks - before_c;
        if (b != MTC_BACKEND_PORTABLE) run_diff(b, iterations, seed);
        printf("backend %-8s sha=%d  %ld known-answer checks, %ld differential checks vs portable: %s (%.2f s)\n",
               backend_name(b), (mtc_select_backend(b), mtc_sha_accelerated()), kat_checks,
               checks - before_c - kat_checks, failures == before_f ? "ok" : "FAILED",
               now() - t0);
        ran++;
    }
    printf("%d backends, %ld checks, %ld failures\n", ran, checks, failures);
    return failures ? 1 : 0;
}
