/*
 * Constant-time check of the modes and hashes on the portable backend, or on
 * the one named by -DCT_BACKEND=MTC_BACKEND_... (the vector-permute one) (run
 * under valgrind memcheck): IGE (one-shot and through an expanded key, both
 * directions, and the multi-message batch), CBC, CTR at chunk sizes that
 * leave partial keystream blocks, SHA-256 and SHA-1 (one-shot and
 * streaming), the MTProto 2.0 KDF, and the sending side, mtc_msg_seal.
 *
 * Keys, IVs, counters and data are marked undefined; lengths are public.
 * Nothing here may branch on or index by secret data at all, so memcheck
 * must report nothing.  For mtc_msg_seal the length field of the plaintext
 * stays defined: it equals the body size, which the packet's length shows,
 * and the sender checks it against the size it was given.
 *
 * -DCT_SELFTEST_LEAK adds a secret-indexed load and a secret-dependent
 * branch, which memcheck must report.
 *
 * Exit status: 0, or 1 if a functional check failed (run natively too).
 */
#include <stdio.h>
#include <string.h>
#include <valgrind/memcheck.h>
#include "../../csrc/mtcrypt.h"

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

static int failures;

static void expect(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "functional check failed: %s\n", what);
        failures++;
    }
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 31 + seed * 17 + 3);
}

#ifndef CT_BACKEND
#define CT_BACKEND MTC_BACKEND_PORTABLE
#endif

int main(void)
{
    if (mtc_select_backend(CT_BACKEND) != CT_BACKEND ||
        (CT_BACKEND == MTC_BACKEND_PORTABLE && mtc_sha_accelerated())) {
        fprintf(stderr, "could not force the backend under test\n");
        return 1;
    }
    static const size_t lens[] = {0, 16, 48, 64, 80, 256};
    uint8_t key[32], iv[32], data[512], out[512], back[512], digest[32];
    mtc_aes256 ctx;

    for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
        size_t n = lens[li];
        fill(key, 32, (unsigned)li);
        fill(iv, 32, (unsigned)li + 100);
        fill(data, n, (unsigned)li + 200);

        /* IGE one-shot, both directions. */
        SECRET(key, 32), SECRET(iv, 32), SECRET(data, n);
        expect(mtc_ige256_encrypt_key(key, iv, data, out, n) == MTC_OK, "ige enc");
        expect(mtc_ige256_decrypt_key(key, iv, out, back, n) == MTC_OK, "ige dec");
        PUBLIC(back, n), PUBLIC(data, n);
        expect(memcmp(back, data, n) == 0, "ige round trip");

        /* IGE and CBC through an expanded key, in two calls. */
        uint8_t chain[32];
        SECRET(key, 32), SECRET(iv, 32), SECRET(data, n);
        expect(mtc_aes256_init(&ctx, key) == MTC_OK, "init");
        memcpy(chain, iv, 32);
        size_t half = (n / 32) * 16;
        expect(mtc_ige256_encrypt(&ctx, chain, data, out, half) == MTC_OK, "ige ctx");
        expect(mtc_ige256_encrypt(&ctx, chain, data + half, out + half, n - half) == MTC_OK,
               "ige ctx");
        memcpy(chain, iv, 32);
        expect(mtc_ige256_decrypt(&ctx, chain, out, back, n) == MTC_OK, "ige ctx dec");
        memcpy(chain, iv, 16);
        expect(mtc_cbc256_encrypt(&ctx, chain, data, out, n) == MTC_OK, "cbc enc");
        memcpy(chain, iv, 16);
        expect(mtc_cbc256_decrypt(&ctx, chain, out, back, n) == MTC_OK, "cbc dec");
        PUBLIC(back, n), PUBLIC(data, n);
        expect(memcmp(back, data, n) == 0, "cbc round trip");
        mtc_aes256_wipe(&ctx);

        /* CTR in uneven chunks (partial keystream blocks carried over). */
        mtc_ctr256_state st;
        memset(&st, 0, sizeof st);
        SECRET(key, 32), SECRET(iv, 16), SECRET(data, n + 7);
        expect(mtc_aes256_init(&st.aes, key) == MTC_OK, "ctr init");
        memcpy(st.counter, iv, 16);
        st.offset = 16;
        size_t steps[] = {1, 15, 17, 3, 40, 512};
        size_t off = 0;
        for (size_t s = 0; s < sizeof steps / sizeof *steps && off < n + 7; s++) {
            size_t c = steps[s] < n + 7 - off ? steps[s] : n + 7 - off;
            expect(mtc_ctr256_stream(&st, data + off, out + off, c) == MTC_OK, "ctr");
            off += c;
        }
        mtc_aes256_wipe(&st.aes);

        /* Batch IGE: two messages with different keys. */
        uint8_t keys[64], ivs[64];
        uint64_t blens[2] = {half, n - half};
        fill(keys, 64, 7);
        fill(ivs, 64, 8);
        SECRET(keys, 64), SECRET(ivs, 64), SECRET(data, n);
        expect(mtc_ige256_batch(0, 2, keys, ivs, blens, data, out) == MTC_OK, "batch");
        expect(mtc_ige256_batch(1, 2, keys, ivs, blens, out, back) == MTC_OK, "batch dec");
        PUBLIC(back, n), PUBLIC(data, n);
        expect(memcmp(back, data, n) == 0, "batch round trip");

        /* Hashes: one-shot and streaming in uneven pieces. */
        SECRET(data, n + 7);
        mtc_sha256(data, n + 7, digest);
        mtc_sha1(data, n + 7, digest);
        mtc_sha256_ctx h256;
        mtc_sha1_ctx h1;
        mtc_sha256_init(&h256);
        mtc_sha1_init(&h1);
        for (size_t p = 0; p < n + 7; p += 29) {
            size_t c = n + 7 - p < 29 ? n + 7 - p : 29;
            mtc_sha256_update(&h256, data + p, c);
            mtc_sha1_update(&h1, data + p, c);
        }
        mtc_sha256_final(&h256, digest);
        mtc_sha1_final(&h1, digest);
    }

    /* The KDF and the sending side. */
    uint8_t auth_key[256], key_id[8], msg_key[16], plain[320], padding[64], packet[24 + 384];
    fill(auth_key, 256, 1);
    fill(key_id, 8, 2);
    fill(msg_key, 16, 3);
    SECRET(auth_key, 256), SECRET(msg_key, 16);
    expect(mtc_kdf2(auth_key, 8, msg_key, key, iv) == MTC_OK, "kdf2");
    for (int x = 0; x <= 8; x += 8) {
        size_t plain_len = 32 + 288, pad_len = 64; /* 384 bytes in all */
        fill(plain, plain_len, 4);
        plain[28] = (uint8_t)(plain_len - 32);
        plain[29] = (uint8_t)((plain_len - 32) >> 8);
        plain[30] = plain[31] = 0;
        fill(padding, pad_len, 5);
        SECRET(auth_key, 256), SECRET(plain, 28), SECRET(plain + 32, plain_len - 32);
        SECRET(padding, pad_len);
        int rc = mtc_msg_seal(auth_key, key_id, x, plain, plain_len, padding, pad_len, packet,
                              digest);
        PUBLIC(&rc, sizeof rc);
        expect(rc == MTC_OK, "seal");
    }
#ifdef CT_SELFTEST_LEAK
    {
        static const uint8_t table[256] = {1};
        volatile uint8_t sink = table[packet[30]];
        if (packet[40] & 1) sink = 2;
        (void)sink;
    }
#endif
    return failures ? 1 : 0;
}
