/*
 * mtc_msg_seal / mtc_msg_seal_batch / mtc_msg_seal_random round trips.
 *
 * Input: flags(1) | body_len(2) | pad_len(2) | header(28: salt, session_id,
 * msg_id, seq_no) | extra(1) | body... | padding...
 *   flags bit 0: x = 8, else 0
 *   flags bit 1: corrupt the length field (the call must be refused)
 *   body_len is taken modulo 2048 and may be any value (not only multiples
 *   of 4: the call must then be refused); pad_len modulo 1100 (so also just
 *   outside 12..1024, and often not aligning the total to 16).
 *
 * Oracles:
 *   - mtc_msg_seal succeeds exactly when the arguments satisfy the header's
 *     contract (checked here independently), else returns MTC_ERR_ARG and
 *     writes nothing;
 *   - every backend produces the same packet; msg_key_large is SHA-256 of
 *     auth_key[88+x:120+x] | plaintext | padding and the packet carries its
 *     middle 16 bytes;
 *   - mtc_msg_open gives back the plaintext and its length, and refuses the
 *     other direction and a packet with one bit flipped;
 *   - mtc_msg_seal_batch of the message twice equals two single seals;
 *   - mtc_msg_seal_random with `extra` blocks opens to the same plaintext.
 */
#include "fuzz_common.h"

static uint8_t auth_key[256], key_id[8];

static void check_opens(const uint8_t *packet, size_t len, int x, const uint8_t *plain,
                        size_t plain_len)
{
    uint8_t *out = fz_alloc(len - 24, 0);
    for (int b = 0; b < fz_nbackends; b++) {
        fz_use(fz_backends[b]);
        int rc = mtc_msg_open(auth_key, key_id, x, packet, len, out);
        FUZZ_CHECK(rc == (int)plain_len - 32, "sealed message did not open (%d, %s)", rc,
                   fz_name(fz_backends[b]));
        FUZZ_CHECK(memcmp(out, plain, plain_len) == 0, "round trip changed the plaintext");
    }
    fz_use(MTC_BACKEND_PORTABLE);
    FUZZ_CHECK(mtc_msg_open(auth_key, key_id, x ^ 8, packet, len, out) == MTC_ERR_DECRYPT,
               "sealed message opened in the wrong direction");
    uint8_t *bad = fz_dup(packet, len);
    size_t bit = (plain_len * 7 + len) % (8 * (len - 8)); /* anywhere after the key id */
    bad[8 + bit / 8] ^= (uint8_t)(1u << (bit % 8));
    FUZZ_CHECK(mtc_msg_open(auth_key, key_id, x, bad, len, out) == MTC_ERR_DECRYPT,
               "a flipped bit went unnoticed");
    free(bad);
    free(out);
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
    size_t body_len = fz_u16(&in) % 2048;
    size_t pad_len = fz_u16(&in) % 1100;
    size_t plain_len = 32 + body_len;
    uint8_t *plain = fz_alloc(plain_len, 0);
    fz_fill(&in, plain, 28);
    uint8_t extra = fz_u8(&in);
    fz_put_le32(plain + 28, (uint32_t)body_len ^ ((flags & 2) ? 0x80000000u : 0));
    fz_fill(&in, plain + 32, body_len);
    uint8_t *padding = fz_alloc(pad_len, 0);
    fz_fill(&in, padding, pad_len);

    int args_ok = !(flags & 2) && body_len % 4 == 0 && pad_len >= 12 && pad_len <= 1024 &&
                  (plain_len + pad_len) % 16 == 0;
    size_t len = 24 + plain_len + pad_len;
    uint8_t *ref = fz_alloc(len, 0x55);
    uint8_t *out = fz_alloc(len, 0x55);
    uint8_t large[32], want[32];

    for (int b = 0; b < fz_nbackends; b++) {
        fz_use(fz_backends[b]);
        uint8_t *dst = b == 0 ? ref : out;
        memset(dst, 0x55, len);
        int rc = mtc_msg_seal(auth_key, key_id, x, plain, plain_len, padding, pad_len, dst,
                              large);
        if (!args_ok) {
            FUZZ_CHECK(rc == MTC_ERR_ARG, "bad arguments accepted (body %zu, pad %zu): %d",
                       body_len, pad_len, rc);
            for (size_t i = 0; i < len; i++)
                FUZZ_CHECK(dst[i] == 0x55, "a refused seal wrote output");
            continue;
        }
        FUZZ_CHECK(rc == MTC_OK, "good arguments refused (body %zu, pad %zu): %d", body_len,
                   pad_len, rc);
        if (b > 0)
            FUZZ_CHECK(memcmp(ref, out, len) == 0, "%s seals differently from portable",
                       fz_name(fz_backends[b]));
    }
    if (!args_ok) goto done;

    /* msg_key_large = SHA-256(auth_key[88+x:120+x] | plain | padding). */
    mtc_sha256_ctx h;
    mtc_sha256_init(&h);
    mtc_sha256_update(&h, auth_key + 88 + x, 32);
    mtc_sha256_update(&h, plain, plain_len);
    mtc_sha256_update(&h, padding, pad_len);
    mtc_sha256_final(&h, want);
    FUZZ_CHECK(memcmp(large, want, 32) == 0, "msg_key_large is not the SHA-256 it should be");
    FUZZ_CHECK(memcmp(ref, key_id, 8) == 0, "packet does not start with the key id");
    FUZZ_CHECK(memcmp(ref + 8, want + 8, 16) == 0, "msg_key is not msg_key_large[8:24]");

    check_opens(ref, len, x, plain, plain_len);

    /* The batch of the same message twice. */
    {
        uint8_t *plains = fz_alloc(2 * plain_len, 0);
        uint8_t *pads = fz_alloc(2 * pad_len, 0);
        uint8_t *outs = fz_alloc(2 * len, 0);
        memcpy(plains, plain, plain_len);
        memcpy(plains + plain_len, plain, plain_len);
        memcpy(pads, padding, pad_len);
        memcpy(pads + pad_len, padding, pad_len);
        uint64_t plens[2] = {plain_len, plain_len}, dlens[2] = {pad_len, pad_len};
        for (int b = 0; b < fz_nbackends; b++) {
            fz_use(fz_backends[b]);
            int rc = mtc_msg_seal_batch(auth_key, key_id, x, 2, plains, plens, pads, dlens, outs);
            FUZZ_CHECK(rc == MTC_OK, "batch seal refused: %d", rc);
            FUZZ_CHECK(memcmp(outs, ref, len) == 0 && memcmp(outs + len, ref, len) == 0,
                       "batch seal differs from single (%s)", fz_name(fz_backends[b]));
        }
        free(plains);
        free(pads);
        free(outs);
    }

    /* Random padding from the native generator. */
    {
        size_t extra_blocks = extra % 70; /* sometimes over the 1024-byte cap */
        size_t rpad = 12 + ((0 - (plain_len + 12)) & 15) + 16 * extra_blocks;
        size_t rlen = 24 + plain_len + rpad;
        uint8_t *rout = fz_alloc(rlen, 0);
        fz_use(fz_backends[extra % fz_nbackends]);
        int rc = mtc_msg_seal_random(auth_key, key_id, x, plain, plain_len, extra_blocks, rout);
        if (rpad > 1024) {
            FUZZ_CHECK(rc == MTC_ERR_ARG, "seal_random accepted %zu bytes of padding", rpad);
        } else {
            FUZZ_CHECK(rc == MTC_OK, "seal_random refused (%d)", rc);
            check_opens(rout, rlen, x, plain, plain_len);
        }
        free(rout);
    }

done:
    free(ref);
    free(out);
    free(plain);
    free(padding);
    return 0;
}
