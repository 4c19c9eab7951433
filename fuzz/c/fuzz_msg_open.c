/*
 * mtc_msg_open / mtc_msg_open_batch with a fixed auth key.
 *
 * Input: one flag byte, then the rest.
 *   bit 0     direction: x = 8 (server to client) if set, else 0
 *   bit 1     0: the rest is a packet (raw mode)
 *             1: the rest is a plaintext, which the harness encrypts with a
 *                valid msg_key (forge mode), so that the length and padding
 *                checks behind the MAC are reached
 *   bit 2     raw mode: prepend the key's auth_key_id to the rest
 *   bit 3     forge mode: the next 2 bytes pick a padding length and the
 *             length field is set to match it (mostly valid messages)
 *
 * Oracles, on every AES backend the CPU has:
 *   - every backend returns the same status and the same plaintext;
 *   - a failure is MTC_ERR_DECRYPT and leaves the output untouched (public
 *     rejection) or all zero;
 *   - a success has a length field equal to the result, a multiple of 4,
 *     and 12..1024 bytes of padding, and re-sealing the plaintext with the
 *     same padding gives back the same packet byte for byte;
 *   - the wrong direction never opens a packet the right one opens;
 *   - forge mode: the packet opens exactly when the length field and the
 *     padding satisfy the spec (checked here independently);
 *   - mtc_msg_open_batch agrees with mtc_msg_open, with a short junk packet
 *     between two copies.
 */
#include "fuzz_common.h"

static uint8_t auth_key[256], key_id[8];

static int all_equal(const uint8_t *p, size_t n, uint8_t v)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != v) return 0;
    return 1;
}

/* Opens `packet` on every backend; returns the common status and leaves the
 * plaintext (len - 24 bytes) in *plain_out (caller frees). */
static int open_everywhere(const uint8_t *packet, size_t len, int x, uint8_t **plain_out)
{
    size_t room = len >= 24 ? len - 24 : 0;
    uint8_t *ref = NULL;
    int ref_rc = 0;
    for (int b = 0; b < fz_nbackends; b++) {
        fz_use(fz_backends[b]);
        uint8_t *plain = fz_alloc(room, 0xAA);
        int rc = mtc_msg_open(auth_key, key_id, x, packet, len, plain);
        if (rc < 0) {
            FUZZ_CHECK(rc == MTC_ERR_DECRYPT, "open returned %d", rc);
            FUZZ_CHECK(all_equal(plain, room, 0xAA) || all_equal(plain, room, 0),
                       "failed open left partial plaintext (%s)", fz_name(fz_backends[b]));
        }
        if (b == 0) {
            ref = plain;
            ref_rc = rc;
            continue;
        }
        FUZZ_CHECK(rc == ref_rc, "open: %s says %d, portable says %d", fz_name(fz_backends[b]),
                   rc, ref_rc);
        FUZZ_CHECK(room == 0 || memcmp(plain, ref, room) == 0,
                   "open: %s plaintext differs from portable", fz_name(fz_backends[b]));
        free(plain);
    }
    *plain_out = ref;
    return ref_rc;
}

static void check_success(const uint8_t *packet, size_t len, int x, int rc, const uint8_t *plain)
{
    size_t total = len - 24;
    FUZZ_CHECK(rc % 4 == 0, "data length %d not a multiple of 4", rc);
    FUZZ_CHECK((size_t)rc + 32 + 12 <= total, "padding under 12 bytes accepted");
    FUZZ_CHECK(total - 32 - (size_t)rc <= 1024, "padding over 1024 bytes accepted");
    FUZZ_CHECK(fz_le32(plain + 28) == (uint32_t)rc, "result differs from the length field");

    /* Re-seal with the padding that came out: same packet (all backends). */
    uint8_t *out = fz_alloc(len, 0);
    for (int b = 0; b < fz_nbackends; b++) {
        fz_use(fz_backends[b]);
        memset(out, 0, len);
        int src = mtc_msg_seal(auth_key, key_id, x, plain, 32 + (size_t)rc, plain + 32 + rc,
                               total - 32 - (size_t)rc, out, NULL);
        FUZZ_CHECK(src == MTC_OK, "re-seal refused an opened message (%d)", src);
        FUZZ_CHECK(memcmp(out, packet, len) == 0, "re-seal differs from the packet (%s)",
                   fz_name(fz_backends[b]));
    }
    free(out);

    /* The other direction must not open it (C6). */
    uint8_t *other = fz_alloc(total, 0);
    fz_use(MTC_BACKEND_PORTABLE);
    FUZZ_CHECK(mtc_msg_open(auth_key, key_id, x ^ 8, packet, len, other) == MTC_ERR_DECRYPT,
               "packet opened in both directions");
    free(other);
}

static void check_batch(const uint8_t *packet, size_t len, int x, int rc, const uint8_t *plain)
{
    static const uint8_t junk[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    size_t room = len >= 24 ? len - 24 : 0;
    size_t blob_len = 2 * len + sizeof junk;
    uint8_t *blob = fz_alloc(blob_len, 0);
    memcpy(blob, packet, len);
    memcpy(blob + len, junk, sizeof junk);
    memcpy(blob + len + sizeof junk, packet, len);
    uint64_t lens[3] = {len, sizeof junk, len};
    for (int b = 0; b < fz_nbackends; b++) {
        fz_use(fz_backends[b]);
        uint8_t *plains = fz_alloc(2 * room, 0xAA);
        int results[3] = {99, 99, 99};
        int brc = mtc_msg_open_batch(auth_key, key_id, x, 3, blob, lens, plains, results);
        FUZZ_CHECK(brc == MTC_OK, "batch open returned %d", brc);
        FUZZ_CHECK(results[0] == rc && results[2] == rc, "batch (%s) says %d/%d, single says %d",
                   fz_name(fz_backends[b]), results[0], results[2], rc);
        FUZZ_CHECK(results[1] == MTC_ERR_DECRYPT, "batch accepted a 10-byte packet");
        if (rc >= 0) {
            FUZZ_CHECK(memcmp(plains, plain, room) == 0 && memcmp(plains + room, plain, room) == 0,
                       "batch plaintext differs (%s)", fz_name(fz_backends[b]));
        } else {
            FUZZ_CHECK(all_equal(plains, 2 * room, 0), "batch left plaintext of a failure");
        }
        free(plains);
    }
    free(blob);
}

static int check_packet(const uint8_t *packet, size_t len, int x, uint8_t **plain_out)
{
    uint8_t *plain;
    int rc = open_everywhere(packet, len, x, &plain);
    if (rc >= 0) check_success(packet, len, x, rc, plain);
    check_batch(packet, len, x, rc, plain);
    *plain_out = plain;
    return rc;
}

/* Encrypt `plain` (total bytes, a multiple of 16, at least 32) with a valid
 * msg_key, whatever its length field says. */
static uint8_t *forge(const uint8_t *plain, size_t total, int x)
{
    uint8_t large[32], aes_key[32], aes_iv[32];
    uint8_t *packet = fz_alloc(24 + total, 0);
    mtc_sha256_ctx h;
    mtc_sha256_init(&h);
    mtc_sha256_update(&h, auth_key + 88 + x, 32);
    mtc_sha256_update(&h, plain, total);
    mtc_sha256_final(&h, large);
    memcpy(packet, key_id, 8);
    memcpy(packet + 8, large + 8, 16);
    FUZZ_CHECK(mtc_kdf2(auth_key, x, packet + 8, aes_key, aes_iv) == MTC_OK, "kdf2 refused");
    fz_use(MTC_BACKEND_PORTABLE);
    FUZZ_CHECK(mtc_ige256_encrypt_key(aes_key, aes_iv, plain, packet + 24, total) == MTC_OK,
               "IGE refused");
    return packet;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        fz_init_backends();
        fz_auth_key(auth_key, key_id);
        ready = 1;
    }
    struct fuzz_in in = {data, size};
    uint8_t flags = fz_u8(&in);
    int x = (flags & 1) ? 8 : 0;

    if (!(flags & 2)) {
        size_t len = in.n + ((flags & 4) ? 8 : 0);
        uint8_t *packet = fz_alloc(len, 0);
        if (flags & 4) memcpy(packet, key_id, 8);
        if (in.n) memcpy(packet + len - in.n, in.p, in.n);
        uint8_t *plain;
        check_packet(packet, len, x, &plain);
        free(plain);
        free(packet);
        return 0;
    }

    uint32_t pad_pick = (flags & 8) ? fz_u16(&in) : 0;
    size_t total = in.n & ~(size_t)15;
    if (total < 32) total = 32;
    uint8_t *plain = fz_alloc(total, 0);
    fz_fill(&in, plain, total);
    if (flags & 8) {
        /* A padding length in 0..1039 (so also just outside 12..1024). */
        uint32_t pad = pad_pick % 1040;
        fz_put_le32(plain + 28, (uint32_t)(total - 32) - pad);
    }
    uint32_t length = fz_le32(plain + 28);
    int expect_ok = (length & 3) == 0 && (uint64_t)length <= total - 32 &&
                    total - 32 - length >= 12 && total - 32 - length <= 1024;
    uint8_t *packet = forge(plain, total, x);
    uint8_t *opened;
    int rc = check_packet(packet, 24 + total, x, &opened);
    if (expect_ok) {
        FUZZ_CHECK(rc == (int)length, "valid message (length %u, total %zu) refused: %d", length,
                   total, rc);
        FUZZ_CHECK(memcmp(opened, plain, total) == 0, "opened plaintext differs");
    } else {
        FUZZ_CHECK(rc == MTC_ERR_DECRYPT, "invalid length %u (total %zu) accepted", length, total);
    }
    free(opened);
    free(packet);
    free(plain);
    return 0;
}
