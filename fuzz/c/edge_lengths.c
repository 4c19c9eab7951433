/*
 * Every C entry point at the edges of its lengths, on every backend, with
 * exactly sized heap buffers: a standalone program for sanitizer builds
 * (tests/test_sanitizer.py compiles it with gcc -fsanitize=address,undefined
 * and runs it).  AddressSanitizer sees a read or write one byte outside any
 * buffer; UndefinedBehaviorSanitizer sees overflowing shifts, misaligned
 * loads and the like; the checks below see wrong status codes.
 *
 * Covered: zero lengths (also with NULL pointers where the header allows
 * them), lengths around the block size and the 4-block bitsliced batch,
 * misaligned lengths (refused), in-place operation, CTR at every offset,
 * SHA-1/SHA-256 around the 55/56/64-byte padding edges, message sizes around
 * 24 + 32 + 16k, padding 11/12/1024/1025, batches with short and empty
 * packets, random padding at the 1024-byte cap, pq at the edges of 64 bits,
 * backend selection with bad values.
 *
 * Exit status 0, or 1 with a message for every failed check.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

static int failures;
static long checks;

#define EXPECT(cond, ...)                                                       \
    do {                                                                        \
        checks++;                                                               \
        if (!(cond)) {                                                          \
            fprintf(stderr, "%s:%d: ", __FILE__, __LINE__);                     \
            fprintf(stderr, __VA_ARGS__);                                       \
            fputc('\n', stderr);                                                \
            failures++;                                                         \
        }                                                                       \
    } while (0)

static uint8_t *pattern(size_t n, unsigned seed)
{
    uint8_t *p = fz_alloc(n, 0);
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 131 + seed * 7 + 1);
    return p;
}

static void block_modes(int backend)
{
    uint8_t key[32], iv[32];
    memset(key, 0x42, sizeof key);
    memset(iv, 0x24, sizeof iv);
    mtc_aes256 ctx;
    EXPECT(mtc_aes256_init(&ctx, key) == MTC_OK, "init");
    EXPECT(mtc_aes256_init(NULL, key) == MTC_ERR_ARG, "init NULL");
    EXPECT(mtc_aes256_init(&ctx, NULL) == MTC_ERR_ARG, "init NULL key");
    EXPECT(mtc_aes256_init(&ctx, key) == MTC_OK, "init");

    /* Zero length with NULL data is allowed everywhere. */
    EXPECT(mtc_ige256_encrypt_key(key, iv, NULL, NULL, 0) == MTC_OK, "ige 0");
    EXPECT(mtc_ige256_decrypt_key(key, iv, NULL, NULL, 0) == MTC_OK, "ige 0");
    EXPECT(mtc_ige256_encrypt(&ctx, iv, NULL, NULL, 0) == MTC_OK, "ige ctx 0");
    EXPECT(mtc_cbc256_decrypt(&ctx, iv, NULL, NULL, 0) == MTC_OK, "cbc 0");

    for (size_t n = 0; n <= 16 * 20 + 1; n++) {
        uint8_t *in = pattern(n, (unsigned)n), *out = fz_alloc(n, 0), *back = fz_alloc(n, 0);
        uint8_t chain[32];
        int want = n % 16 ? MTC_ERR_ARG : MTC_OK;
        EXPECT(mtc_ige256_encrypt_key(key, iv, in, out, n) == want, "ige %zu (%s)", n,
               fz_name(backend));
        EXPECT(mtc_ige256_decrypt_key(key, iv, in, out, n) == want, "ige dec %zu", n);
        memcpy(chain, iv, 32);
        EXPECT(mtc_ige256_encrypt(&ctx, chain, in, out, n) == want, "ige ctx %zu", n);
        memcpy(chain, iv, 32);
        EXPECT(mtc_ige256_decrypt(&ctx, chain, out, back, n) == want, "ige ctx dec %zu", n);
        if (want == MTC_OK) EXPECT(memcmp(in, back, n) == 0, "ige round trip %zu", n);
        memcpy(chain, iv, 16);
        EXPECT(mtc_cbc256_encrypt(&ctx, chain, in, out, n) == want, "cbc %zu", n);
        memcpy(chain, iv, 16);
        EXPECT(mtc_cbc256_decrypt(&ctx, chain, out, back, n) == want, "cbc dec %zu", n);
        if (want == MTC_OK) EXPECT(memcmp(in, back, n) == 0, "cbc round trip %zu", n);
        /* in place */
        memcpy(back, in, n);
        EXPECT(mtc_ige256_encrypt_key(key, iv, back, back, n) == want, "ige in place %zu", n);
        memcpy(chain, iv, 16);
        memcpy(back, in, n);
        EXPECT(mtc_cbc256_decrypt(&ctx, chain, back, back, n) == want, "cbc in place %zu", n);
        free(in);
        free(out);
        free(back);
    }

    /* CTR: every length up to 80 from every starting offset. */
    for (unsigned start = 0; start <= 17; start++) {
        for (size_t n = 0; n <= 80; n++) {
            uint8_t *in = pattern(n, start), *out = fz_alloc(n, 0);
            uint8_t counter[16], ks[16];
            unsigned int offset = start;
            memset(counter, 0xff, sizeof counter); /* wraps at once */
            memset(ks, 0x11, sizeof ks);
            EXPECT(mtc_ctr256(&ctx, counter, ks, &offset, in, out, n) == MTC_OK, "ctr %zu", n);
            EXPECT(offset <= 16, "ctr offset %u", offset);
            free(in);
            free(out);
        }
    }
    unsigned int off = 16;
    uint8_t counter[16] = {0}, ks[16] = {0};
    EXPECT(mtc_ctr256(&ctx, counter, ks, &off, NULL, NULL, 0) == MTC_OK, "ctr 0");
    EXPECT(mtc_ctr256(&ctx, NULL, ks, &off, NULL, NULL, 0) == MTC_ERR_ARG, "ctr NULL counter");
    EXPECT(mtc_ctr256_stream(NULL, NULL, NULL, 0) == MTC_ERR_ARG, "ctr stream NULL");

    /* Batch IGE: none, an empty message, mixed sizes. */
    EXPECT(mtc_ige256_batch(0, 0, NULL, NULL, NULL, NULL, NULL) == MTC_OK, "batch n=0");
    uint64_t lens[6] = {0, 16, 48, 64, 80, 0};
    size_t total = 0;
    for (int i = 0; i < 6; i++) total += lens[i];
    uint8_t *keys = pattern(6 * 32, 1), *ivs = pattern(6 * 32, 2);
    uint8_t *in = pattern(total, 3), *out = fz_alloc(total, 0);
    for (size_t n = 1; n <= 6; n++) {
        size_t t = 0;
        for (size_t i = 0; i < n; i++) t += lens[i];
        EXPECT(mtc_ige256_batch(1, n, keys, ivs, lens, in, out) == MTC_OK, "batch %zu", n);
        EXPECT(mtc_ige256_batch(0, n, keys, ivs, lens, out, out) == MTC_OK, "batch in place");
        (void)t;
    }
    uint64_t bad[2] = {16, 17};
    EXPECT(mtc_ige256_batch(0, 2, keys, ivs, bad, in, out) == MTC_ERR_ARG, "batch misaligned");
    free(keys);
    free(ivs);
    free(in);
    free(out);
    mtc_aes256_wipe(&ctx);
    mtc_aes256_wipe(NULL);
    EXPECT(mtc_ige256_encrypt(&ctx, iv, NULL, NULL, 0) == MTC_ERR_ARG, "wiped context used");
}

static void hashes(void)
{
    uint8_t d[32];
    mtc_sha256(NULL, 0, d);
    mtc_sha1(NULL, 0, d);
    for (size_t n = 0; n <= 300; n++) {
        uint8_t *in = pattern(n, 9);
        uint8_t a[32], b[32];
        mtc_sha256(in, n, a);
        mtc_sha256_ctx h;
        mtc_sha256_init(&h);
        for (size_t i = 0; i < n; i += 7) mtc_sha256_update(&h, in + i, n - i < 7 ? n - i : 7);
        mtc_sha256_update(&h, in + n, 0);
        mtc_sha256_final(&h, b);
        EXPECT(memcmp(a, b, 32) == 0, "sha256 streaming %zu", n);
        mtc_sha1(in, n, a);
        mtc_sha1_ctx h1;
        mtc_sha1_init(&h1);
        mtc_sha1_update(&h1, in, n);
        mtc_sha1_final(&h1, b);
        EXPECT(memcmp(a, b, 20) == 0, "sha1 streaming %zu", n);
        free(in);
    }
}

static void messages(int backend)
{
    uint8_t auth_key[256], key_id[8];
    fz_auth_key(auth_key, key_id);
    uint8_t aes_key[32], aes_iv[32], msg_key[16] = {0};
    EXPECT(mtc_kdf2(auth_key, 0, msg_key, aes_key, aes_iv) == MTC_OK, "kdf2");
    EXPECT(mtc_kdf2(auth_key, 4, msg_key, aes_key, aes_iv) == MTC_ERR_ARG, "kdf2 x=4");
    EXPECT(mtc_kdf2(NULL, 0, msg_key, aes_key, aes_iv) == MTC_ERR_ARG, "kdf2 NULL");

    /* seal: body sizes, padding at and around the limits. */
    static const size_t pads[] = {0, 11, 12, 13, 16, 27, 28, 1020, 1024, 1025, 1036};
    for (size_t body = 0; body <= 72; body += 4) {
        size_t plain_len = 32 + body;
        uint8_t *plain = pattern(plain_len, 4);
        fz_put_le32(plain + 28, (uint32_t)body);
        for (size_t p = 0; p < sizeof pads / sizeof *pads; p++) {
            size_t pad = pads[p] + ((0 - (plain_len + pads[p])) & 15) * (pads[p] % 2 == 0);
            uint8_t *padding = pattern(pad, 5);
            size_t len = 24 + plain_len + pad;
            uint8_t *out = fz_alloc(len, 0);
            int ok = pad >= 12 && pad <= 1024 && (plain_len + pad) % 16 == 0;
            int rc = mtc_msg_seal(auth_key, key_id, 8, plain, plain_len, padding, pad, out, NULL);
            EXPECT(rc == (ok ? MTC_OK : MTC_ERR_ARG), "seal body %zu pad %zu: %d", body, pad, rc);
            if (rc == MTC_OK) {
                uint8_t *opened = fz_alloc(len - 24, 0);
                EXPECT(mtc_msg_open(auth_key, key_id, 8, out, len, opened) == (int)body,
                       "open body %zu pad %zu (%s)", body, pad, fz_name(backend));
                free(opened);
            }
            free(out);
            free(padding);
        }
        free(plain);
    }

    /* open: every length up to 24 + 32 + 16 * 4 + 1, exactly sized output. */
    for (size_t len = 0; len <= 24 + 32 + 65; len++) {
        uint8_t *packet = pattern(len, 6);
        if (len >= 8) memcpy(packet, key_id, 8);
        uint8_t *plain = fz_alloc(len >= 24 ? len - 24 : 0, 0);
        int rc = mtc_msg_open(auth_key, key_id, 0, packet, len, plain);
        EXPECT(rc == MTC_ERR_DECRYPT, "open junk %zu: %d", len, rc);
        free(packet);
        free(plain);
    }
    uint8_t one[1];
    EXPECT(mtc_msg_open(auth_key, key_id, 3, one, 0, one) == MTC_ERR_ARG, "open x=3");
    EXPECT(mtc_msg_open(NULL, key_id, 0, one, 0, one) == MTC_ERR_ARG, "open NULL");

    /* open_batch: short, empty and well-sized junk, and a real message. */
    {
        uint8_t body[36];
        memset(body, 0, sizeof body);
        fz_put_le32(body + 28, 4);
        uint8_t padding[12] = {0};
        uint8_t good[24 + 48];
        EXPECT(mtc_msg_seal(auth_key, key_id, 0, body, 36, padding, 12, good, NULL) == MTC_OK,
               "seal good");
        uint64_t lens[7] = {0, 23, 24, 72, 56, 57, 72};
        size_t total = 0, room = 0;
        for (int i = 0; i < 7; i++) {
            total += lens[i];
            room += lens[i] >= 24 ? lens[i] - 24 : 0;
        }
        uint8_t *blob = pattern(total, 7);
        memcpy(blob + total - 72, good, 72);
        uint8_t *plains = fz_alloc(room, 0);
        int results[7];
        EXPECT(mtc_msg_open_batch(auth_key, key_id, 0, 7, blob, lens, plains, results) == MTC_OK,
               "open batch");
        for (int i = 0; i < 6; i++)
            EXPECT(results[i] == MTC_ERR_DECRYPT, "batch junk %d: %d", i, results[i]);
        EXPECT(results[6] == 4, "batch good: %d", results[6]);
        EXPECT(mtc_msg_open_batch(auth_key, key_id, 0, 0, NULL, NULL, NULL, NULL) == MTC_OK,
               "batch n=0");
        free(blob);
        free(plains);

        /* seal_batch: two messages, then none. */
        uint8_t plains2[72], pads2[24], outs[2 * 72];
        memcpy(plains2, body, 36);
        memcpy(plains2 + 36, body, 36);
        memset(pads2, 0, sizeof pads2);
        uint64_t plens[2] = {36, 36}, dlens[2] = {12, 12};
        EXPECT(mtc_msg_seal_batch(auth_key, key_id, 8, 2, plains2, plens, pads2, dlens, outs) ==
                   MTC_OK,
               "seal batch");
        EXPECT(mtc_msg_seal_batch(auth_key, key_id, 8, 0, NULL, NULL, NULL, NULL, NULL) == MTC_OK,
               "seal batch n=0");
    }

    /* seal_random up to and beyond the padding cap. */
    for (size_t extra = 0; extra <= 64; extra++) {
        uint8_t plain[32] = {0};
        size_t pad = 12 + ((0 - (32 + 12)) & 15) + 16 * extra;
        size_t len = 24 + 32 + pad;
        uint8_t *out = fz_alloc(len, 0);
        int rc = mtc_msg_seal_random(auth_key, key_id, 0, plain, 32, extra, out);
        EXPECT(rc == (pad <= 1024 ? MTC_OK : MTC_ERR_ARG), "seal_random %zu: %d", extra, rc);
        free(out);
    }
}

static void misc(void)
{
    uint64_t p, q;
    for (uint64_t n = 0; n < 2000; n++) {
        int rc = mtc_factorize_pq(n, &p, &q);
        if (rc == MTC_OK) EXPECT(p * q == n && 1 < p && p <= q, "pq %llu", (unsigned long long)n);
        else EXPECT(n < 4 || mtc_is_prime_u64(n), "pq %llu refused", (unsigned long long)n);
    }
    /* The largest values, squares, a 61-bit Carmichael number with factors
     * above the trial division bound (ECM), factors just above that bound
     * (every ECM curve finds all of them at once: Brent), below 2^40 (Brent). */
    static const uint64_t edges[] = {UINT64_MAX, UINT64_MAX - 1, 18446744073709551557u,
                                     4294967291ull * 4294967291ull, 1ull << 63,
                                     0x17ED48941A08F981ull, 4294967279ull * 4294967291ull,
                                     601747ull * 1203493ull * 1805239ull,
                                     1031ull * 1033ull * 1039ull * 1049ull * 1051ull * 1061ull,
                                     1031ull * 17179869143ull, 1048573ull * 1048583ull};
    for (size_t i = 0; i < sizeof edges / sizeof *edges; i++) {
        int rc = mtc_factorize_pq(edges[i], &p, &q);
        if (rc == MTC_OK) EXPECT((unsigned __int128)p * q == edges[i], "pq edge %zu", i);
        else EXPECT(mtc_is_prime_u64(edges[i]), "pq edge %zu refused", i);
    }
    EXPECT(mtc_factorize_pq(15, NULL, &q) == MTC_ERR_ARG, "pq NULL");

    uint8_t buf[200];
    EXPECT(mtc_random_bytes(NULL, 0) == MTC_OK, "random 0");
    for (size_t n = 0; n <= 200; n += 13) {
        uint8_t *r = fz_alloc(n, 0);
        EXPECT(mtc_random_bytes(r, n) == MTC_OK, "random %zu", n);
        free(r);
    }
    (void)buf;
    EXPECT(mtc_select_backend(-1) == MTC_ERR_ARG, "backend -1");
    EXPECT(mtc_select_backend(99) == MTC_ERR_ARG, "backend 99");
    EXPECT(mtc_cpu_features() >= 0, "cpu features");
}

int main(void)
{
    fz_init_backends();
    for (int b = 0; b < fz_nbackends; b++) {
        fz_use(fz_backends[b]);
        block_modes(fz_backends[b]);
        hashes();
        messages(fz_backends[b]);
    }
    misc();
    if (failures) fprintf(stderr, "%d checks failed\n", failures);
    else fprintf(stderr, "edge lengths: %ld checks passed on %d backends\n", checks, fz_nbackends);
    return failures ? 1 : 0;
}
