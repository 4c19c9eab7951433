/*
 * Constant-time check of the message open path (run under valgrind memcheck).
 *
 * Portable backend, portable SHA (mtc_select_backend(MTC_BACKEND_PORTABLE)), or
 * the backend named by -DCT_BACKEND=MTC_BACKEND_... (the vector-permute one).
 * For every packet the auth key and everything after the public auth_key_id
 * (msg_key and the encrypted data) are marked undefined before
 * mtc_msg_open / mtc_msg_open_batch run.  Memcheck then reports every branch
 * and every memory index that depends on them.
 *
 * A correct open path branches on secret data exactly once: on its final
 * status, when it decides between returning the length and wiping the
 * output (`if (!valid)` in mtc_msg_open, the per-message status branches of
 * mtc_msg_open_batch).  That report is expected; tests/test_constant_time.py
 * accepts a "Conditional jump" whose innermost frame is one of those lines
 * and nothing else, and requires that report to be present (proof that the
 * marking reached the status through decryption and hashing, so that a
 * clean run cannot be vacuous).  After each call the harness marks the
 * status and the plaintext defined again before it looks at them.
 *
 * Cases, for x = 0 and 8 and several sizes (one to several 64-byte chunks):
 * a valid packet; msg_key flipped; a ciphertext byte flipped; and packets
 * with a valid msg_key but a bad length field (not a multiple of 4, larger
 * than the data, padding under 12 or over 1024) or a good one at the edges.
 * The same cases for secret-chat packets (mtc_e2e_open, the 4-byte header).
 *
 * -DCT_SELFTEST_LEAK adds what the check must catch: an open routine that
 * reads the length field before the MAC (the pattern of the 2022 timing
 * attack on Telegram clients), and a table lookup indexed by plaintext.
 * Both must be reported as disallowed: proof that the check can fail.
 *
 * Exit status: 0, or 1 if a functional check failed (run natively too).
 */
#include <stdio.h>
#include <string.h>
#include <valgrind/memcheck.h>
#include "../../csrc/mtcrypt.h"

static uint8_t auth_key[256], key_id[8];
static int failures;

#ifdef CT_SELFTEST_LEAK
static const uint8_t leak_table[256] = {1};
static volatile uint8_t sink;

/* How not to do it: decrypt, then reject a bad length before the MAC. */
static int leaky_open(const uint8_t *ak, int x, const uint8_t *packet, size_t len, uint8_t *plain)
{
    uint8_t key[32], iv[32];
    size_t total = len - 24;
    mtc_kdf2(ak, x, packet + 8, key, iv);
    mtc_ige256_decrypt_key(key, iv, packet + 24, plain, total);
    uint32_t length = (uint32_t)plain[28] | ((uint32_t)plain[29] << 8) |
                      ((uint32_t)plain[30] << 16) | ((uint32_t)plain[31] << 24);
    if (length > total - 32) /* the early exit: skips the hash below */
        return MTC_ERR_DECRYPT;
    uint8_t large[32];
    mtc_sha256_ctx h;
    mtc_sha256_init(&h);
    mtc_sha256_update(&h, ak + 88 + x, 32);
    mtc_sha256_update(&h, plain, total);
    mtc_sha256_final(&h, large);
    return memcmp(large + 8, packet + 8, 16) == 0 ? (int)length : MTC_ERR_DECRYPT;
}
#endif

#define expect(cond, what) expect_at((cond), (what), __LINE__)
static void expect_at(int cond, const char *what, int line)
{
    if (!cond) {
        fprintf(stderr, "functional check failed: %s (line %d)\n", what, line);
        failures++;
    }
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* A packet with a valid msg_key for `plain` (total bytes), whatever its
 * length field says: SHA-256, the KDF and IGE by hand. */
static void forge(const uint8_t *plain, size_t total, int x, uint8_t *packet)
{
    uint8_t large[32], key[32], iv[32];
    mtc_sha256_ctx h;
    mtc_sha256_init(&h);
    mtc_sha256_update(&h, auth_key + 88 + x, 32);
    mtc_sha256_update(&h, plain, total);
    mtc_sha256_final(&h, large);
    memcpy(packet, key_id, 8);
    memcpy(packet + 8, large + 8, 16);
    mtc_kdf2(auth_key, x, packet + 8, key, iv);
    mtc_ige256_encrypt_key(key, iv, plain, packet + 24, total);
}

/* Open one packet with the secrets marked; returns the (defined) status.
 * e2e: the secret-chat layout (mtc_e2e_open) instead of MTProto's. */
static int open_marked(const uint8_t *packet, size_t len, int x, uint8_t *plain, int e2e)
{
    uint8_t ak[256], pk[2048];
    memcpy(ak, auth_key, sizeof ak);
    memcpy(pk, packet, len);
    VALGRIND_MAKE_MEM_UNDEFINED(ak, sizeof ak);
    VALGRIND_MAKE_MEM_UNDEFINED(pk + 8, len - 8);
    int rc = e2e ? mtc_e2e_open(ak, key_id, x, pk, len, plain)
                 : mtc_msg_open(ak, key_id, x, pk, len, plain);
#ifdef CT_SELFTEST_LEAK
    VALGRIND_MAKE_MEM_DEFINED(&rc, sizeof rc);
    sink = leak_table[plain[1]];
    int leaky = leaky_open(ak, x, pk, len, plain);
    VALGRIND_MAKE_MEM_DEFINED(&leaky, sizeof leaky);
    sink = (uint8_t)leaky;
#endif
    VALGRIND_MAKE_MEM_DEFINED(&rc, sizeof rc);
    VALGRIND_MAKE_MEM_DEFINED(plain, len - 24);
    return rc;
}

struct sample {
    uint8_t packet[2048];
    size_t len;
    int expect; /* data length, or MTC_ERR_DECRYPT */
};

/* The two layouts share the construction; the length field is the last 4
 * bytes of the header: MTProto 2.0 (32-byte header), secret chats (4 bytes). */
#define MTPROTO_HEADER 32
#define E2E_HEADER 4

/* A packet with a valid msg_key whose length field says `field`, whatever
 * the data: the rest of the header is taken from `plain`. */
static void add_forged(struct sample *s, const uint8_t *plain_in, size_t header, size_t total,
                       uint32_t field, int x)
{
    uint8_t plain[2048];
    for (size_t i = 0; i < total; i++) plain[i] = (uint8_t)(i * 13 + 1);
    memcpy(plain, plain_in, header - 4);
    plain[header - 4] = (uint8_t)field;
    plain[header - 3] = (uint8_t)(field >> 8);
    plain[header - 2] = (uint8_t)(field >> 16);
    plain[header - 1] = (uint8_t)(field >> 24);
    forge(plain, total, x, s->packet);
    s->len = 24 + total;
    uint64_t pad = (uint64_t)total - header - field;
    int ok = field % 4 == 0 && field <= total - header && pad >= 12 && pad <= 1024;
    s->expect = ok ? (int)field : MTC_ERR_DECRYPT;
}

/* The cases for one message of `body` data bytes (b-th size): sealed, msg_key
 * flipped, a ciphertext byte flipped, and valid msg_keys over length fields
 * good at the edges or bad.  Returns how many samples were written. */
static int build_samples(size_t header, size_t body, size_t b, int x, struct sample *samples)
{
    uint8_t plain[2048], padding[1024];
    size_t plain_len = header + body;
    size_t pad = 12 + ((0 - (plain_len + 12)) & 15) + 16 * b;
    size_t total = plain_len + pad;
    for (size_t i = 0; i < plain_len; i++) plain[i] = (uint8_t)(i * 7 + b);
    plain[header - 4] = (uint8_t)body;
    plain[header - 3] = (uint8_t)(body >> 8);
    plain[header - 2] = plain[header - 1] = 0;
    for (size_t i = 0; i < pad; i++) padding[i] = (uint8_t)(i * 3 + 5);

    int n = 0;
    struct sample *s = &samples[n++];
    s->len = 24 + total;
    int rc = header == E2E_HEADER
                 ? mtc_e2e_seal(auth_key, key_id, x, plain, plain_len, padding, pad, s->packet)
                 : mtc_msg_seal(auth_key, key_id, x, plain, plain_len, padding, pad, s->packet,
                                NULL);
    expect(rc == MTC_OK, "seal");
    s->expect = (int)body;
    samples[n] = *s; /* msg_key flipped */
    samples[n].packet[8] ^= 1;
    samples[n++].expect = MTC_ERR_DECRYPT;
    samples[n] = *s; /* ciphertext flipped */
    samples[n].packet[24 + total / 2] ^= 0x80;
    samples[n++].expect = MTC_ERR_DECRYPT;
    uint32_t room = (uint32_t)(total - header);
    uint32_t fields[] = {room - 12, room - 11, room - 8, room - 16, room, room + 4,
                         0x7ffffffcu, 0xfffffffcu, room > 1024 ? room - 1028 : 2};
    for (size_t f = 0; f < sizeof fields / sizeof *fields; f++)
        add_forged(&samples[n++], plain, header, total, fields[f], x);
    return n;
}

/* All samples in one mtc_msg_open_batch call, with the secrets marked. */
static void check_batch(const struct sample *samples, int n, int x, size_t body)
{
    static uint8_t blob[16 * 2048], plains[16 * 2048];
    uint64_t lens[16];
    int results[16];
    size_t off = 0;
    for (int i = 0; i < n; i++) {
        memcpy(blob + off, samples[i].packet, samples[i].len);
        lens[i] = samples[i].len;
        VALGRIND_MAKE_MEM_UNDEFINED(blob + off + 8, samples[i].len - 8);
        off += samples[i].len;
    }
    uint8_t ak[256];
    memcpy(ak, auth_key, sizeof ak);
    VALGRIND_MAKE_MEM_UNDEFINED(ak, sizeof ak);
    int rc = mtc_msg_open_batch(ak, key_id, x, (size_t)n, blob, lens, plains, results);
    VALGRIND_MAKE_MEM_DEFINED(&rc, sizeof rc);
    VALGRIND_MAKE_MEM_DEFINED(results, sizeof results);
    VALGRIND_MAKE_MEM_DEFINED(plains, sizeof plains);
    expect(rc == MTC_OK, "batch call");
    for (int i = 0; i < n; i++) expect(results[i] == samples[i].expect, "batch result");
    expect(le32(plains + 28) == (uint32_t)body, "batch plaintext");
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
    uint8_t digest[20];
    for (int i = 0; i < 256; i++) auth_key[i] = (uint8_t)(i * 29 + 7);
    mtc_sha1(auth_key, 256, digest);
    memcpy(key_id, digest + 12, 8);

    static const size_t bodies[] = {0, 8, 52, 1200};
    static const size_t headers[] = {MTPROTO_HEADER, E2E_HEADER};
    static struct sample samples[16];
    uint8_t plain[2048];
    for (int xi = 0; xi < 2; xi++) {
        int x = 8 * xi;
        for (size_t h = 0; h < 2; h++) {
            int e2e = headers[h] == E2E_HEADER;
            for (size_t b = 0; b < sizeof bodies / sizeof *bodies; b++) {
                int n = build_samples(headers[h], bodies[b], b, x, samples);
                for (int i = 0; i < n; i++) {
                    int rc = open_marked(samples[i].packet, samples[i].len, x, plain, e2e);
                    expect(rc == samples[i].expect, "open result");
                }
                if (!e2e) check_batch(samples, n, x, bodies[b]);
            }
        }
    }
    if (failures) return 1;
    return 0;
}
