/*
 * AES-256 IGE / CBC / CTR / batch IGE: every backend against the portable
 * one, with random lengths and random chunkings (a differential oracle).
 *
 * Input: flags(1) | key(32) | iv(32) | nchunks(1) | nchunks x chunk(2) | data
 *   flags bit 0: also run every operation in place (in == out)
 *
 * Oracles:
 *   - one-shot IGE (mtc_ige256_*_key) on every backend equals portable;
 *   - IGE, CBC and CTR through an expanded key, split into the given chunks
 *     (the chaining state carried between calls), equal the one-shot portable
 *     result, and leave the same chaining state on every backend;
 *   - decrypt(encrypt(x)) == x for IGE and CBC;
 *   - mtc_ige256_batch over up to 5 messages with different keys equals one
 *     call per message;
 *   - lengths that are not a multiple of 16 are refused with MTC_ERR_ARG.
 */
#include "fuzz_common.h"

#define MAX_CHUNKS 8

struct plan {
    size_t chunks[MAX_CHUNKS];
    int nchunks;
};

/* Split n bytes per the plan; `unit` is 16 for the block modes, 1 for CTR.
 * The last piece takes whatever is left. */
static size_t piece(const struct plan *pl, int i, size_t left, size_t unit)
{
    if (i >= pl->nchunks) return left;
    size_t c = (pl->chunks[i] % (left / unit + 1)) * unit;
    return c;
}

typedef int (*ctx_fn)(const mtc_aes256 *, uint8_t *, const uint8_t *, uint8_t *, size_t);

/* Run fn over data in the plan's chunks; iv_len bytes of chaining state. */
static void chunked(ctx_fn fn, const uint8_t *key, const uint8_t *iv, size_t iv_len,
                    const uint8_t *data, uint8_t *out, size_t n, const struct plan *pl,
                    uint8_t *iv_after)
{
    mtc_aes256 ctx;
    uint8_t chain[32];
    FUZZ_CHECK(mtc_aes256_init(&ctx, key) == MTC_OK, "aes init refused");
    memcpy(chain, iv, iv_len);
    size_t off = 0;
    for (int i = 0; off < n || i == 0; i++) {
        size_t c = piece(pl, i, n - off, 16);
        if (i > MAX_CHUNKS) c = n - off;
        FUZZ_CHECK(fn(&ctx, chain, data + off, out + off, c) == MTC_OK, "chunk refused");
        off += c;
        if (i > MAX_CHUNKS) break;
    }
    FUZZ_CHECK(off == n, "chunking lost bytes");
    if (n >= 16) {
        /* A misaligned length must be refused, not half-processed. */
        uint8_t probe[32];
        memcpy(probe, chain, sizeof probe);
        FUZZ_CHECK(fn(&ctx, probe, data, out, 15) == MTC_ERR_ARG, "15-byte chunk accepted");
    }
    memcpy(iv_after, chain, iv_len);
    mtc_aes256_wipe(&ctx);
}

static void ctr_chunked(const uint8_t *key, const uint8_t *iv, const uint8_t *data, uint8_t *out,
                        size_t n, const struct plan *pl, uint8_t *state_after)
{
    mtc_ctr256_state st;
    memset(&st, 0, sizeof st);
    FUZZ_CHECK(mtc_aes256_init(&st.aes, key) == MTC_OK, "aes init refused");
    memcpy(st.counter, iv, 16);
    st.offset = 16;
    size_t off = 0;
    for (int i = 0; off < n || i == 0; i++) {
        size_t c = i > MAX_CHUNKS ? n - off : piece(pl, i, n - off, 1);
        FUZZ_CHECK(mtc_ctr256_stream(&st, data + off, out + off, c) == MTC_OK, "ctr refused");
        off += c;
        if (i > MAX_CHUNKS) break;
    }
    memcpy(state_after, st.counter, 16);
    state_after[16] = (uint8_t)st.offset;
    mtc_aes256_wipe(&st.aes);
}

static void check_same(const uint8_t *a, const uint8_t *b, size_t n, const char *what, int backend)
{
    FUZZ_CHECK(n == 0 || memcmp(a, b, n) == 0, "%s: %s differs from portable", what,
               fz_name(backend));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init_backends();
    struct fuzz_in in = {data, size};
    uint8_t flags = fz_u8(&in);
    uint8_t key[32], iv[32];
    fz_fill(&in, key, 32);
    fz_fill(&in, iv, 32);
    struct plan pl;
    pl.nchunks = fz_u8(&in) % (MAX_CHUNKS + 1);
    for (int i = 0; i < pl.nchunks; i++) pl.chunks[i] = fz_u16(&in);

    size_t n = in.n;           /* CTR: any length */
    size_t nb = n & ~(size_t)15; /* block modes */
    uint8_t *msg = fz_dup(in.p, n);

    uint8_t *ref_ige_e = fz_alloc(nb, 0), *ref_ige_d = fz_alloc(nb, 0);
    uint8_t *ref_cbc_e = fz_alloc(nb, 0), *ref_cbc_d = fz_alloc(nb, 0);
    uint8_t *ref_ctr = fz_alloc(n, 0);
    uint8_t *out = fz_alloc(n, 0), *back = fz_alloc(n, 0);
    uint8_t ref_iv[4][32], iv_after[32], ref_ctr_state[17], ctr_state[17];

    for (int b = 0; b < fz_nbackends; b++) {
        int be = fz_backends[b];
        fz_use(be);

        /* IGE one-shot. */
        uint8_t *e = b == 0 ? ref_ige_e : out;
        FUZZ_CHECK(mtc_ige256_encrypt_key(key, iv, msg, e, nb) == MTC_OK, "ige enc refused");
        check_same(e, ref_ige_e, nb, "ige encrypt (one-shot)", be);
        FUZZ_CHECK(mtc_ige256_decrypt_key(key, iv, e, back, nb) == MTC_OK, "ige dec refused");
        check_same(back, msg, nb, "ige round trip", be);
        uint8_t *d = b == 0 ? ref_ige_d : out;
        FUZZ_CHECK(mtc_ige256_decrypt_key(key, iv, msg, d, nb) == MTC_OK, "ige dec refused");
        check_same(d, ref_ige_d, nb, "ige decrypt (one-shot)", be);
        if (nb % 16 == 0 && n % 16 != 0)
            FUZZ_CHECK(mtc_ige256_encrypt_key(key, iv, msg, out, n) == MTC_ERR_ARG,
                       "ige accepted %zu bytes", n);

        /* IGE, CBC through an expanded key, chunked. */
        chunked(mtc_ige256_encrypt, key, iv, 32, msg, out, nb, &pl, iv_after);
        check_same(out, ref_ige_e, nb, "ige encrypt (chunked)", be);
        if (b == 0) memcpy(ref_iv[0], iv_after, 32);
        check_same(iv_after, ref_iv[0], 32, "ige encrypt chaining state", be);

        chunked(mtc_ige256_decrypt, key, iv, 32, msg, out, nb, &pl, iv_after);
        check_same(out, ref_ige_d, nb, "ige decrypt (chunked)", be);
        if (b == 0) memcpy(ref_iv[1], iv_after, 32);
        check_same(iv_after, ref_iv[1], 32, "ige decrypt chaining state", be);

        e = b == 0 ? ref_cbc_e : out;
        chunked(mtc_cbc256_encrypt, key, iv, 16, msg, e, nb, &pl, iv_after);
        check_same(e, ref_cbc_e, nb, "cbc encrypt", be);
        if (b == 0) memcpy(ref_iv[2], iv_after, 16);
        check_same(iv_after, ref_iv[2], 16, "cbc encrypt chaining state", be);
        chunked(mtc_cbc256_decrypt, key, iv, 16, e, back, nb, &pl, iv_after);
        check_same(back, msg, nb, "cbc round trip", be);

        d = b == 0 ? ref_cbc_d : out;
        chunked(mtc_cbc256_decrypt, key, iv, 16, msg, d, nb, &pl, iv_after);
        check_same(d, ref_cbc_d, nb, "cbc decrypt", be);
        if (b == 0) memcpy(ref_iv[3], iv_after, 16);
        check_same(iv_after, ref_iv[3], 16, "cbc decrypt chaining state", be);

        /* CTR: the reference is one call; every backend also runs chunked. */
        if (b == 0) {
            struct plan whole = {{0}, 0};
            ctr_chunked(key, iv, msg, ref_ctr, n, &whole, ref_ctr_state);
        }
        ctr_chunked(key, iv, msg, out, n, &pl, ctr_state);
        check_same(out, ref_ctr, n, "ctr", be);
        check_same(ctr_state, ref_ctr_state, 17, "ctr counter/offset", be);

        /* In place. */
        if (flags & 1) {
            memcpy(out, msg, n);
            FUZZ_CHECK(mtc_ige256_encrypt_key(key, iv, out, out, nb) == MTC_OK, "ige refused");
            check_same(out, ref_ige_e, nb, "ige encrypt in place", be);
            memcpy(out, msg, n);
            chunked(mtc_cbc256_decrypt, key, iv, 16, out, out, nb, &pl, iv_after);
            check_same(out, ref_cbc_d, nb, "cbc decrypt in place", be);
            memcpy(out, msg, n);
            ctr_chunked(key, iv, out, out, n, &pl, ctr_state);
            check_same(out, ref_ctr, n, "ctr in place", be);
        }
    }

    /* Batch IGE: messages cut from msg per the plan, key i = key ^ i. */
    {
        size_t count = 1 + (size_t)(flags >> 1) % 5;
        uint8_t keys[5 * 32], ivs[5 * 32];
        uint64_t lens[5];
        size_t off = 0;
        for (size_t i = 0; i < count; i++) {
            size_t c = i + 1 == count ? nb - off : piece(&pl, (int)i, nb - off, 16);
            lens[i] = c;
            off += c;
            for (int j = 0; j < 32; j++) {
                keys[32 * i + j] = (uint8_t)(key[j] ^ i);
                ivs[32 * i + j] = (uint8_t)(iv[j] + i);
            }
        }
        for (int dec = 0; dec < 2; dec++) {
            uint8_t *want = fz_alloc(nb, 0);
            fz_use(MTC_BACKEND_PORTABLE);
            off = 0;
            for (size_t i = 0; i < count; i++) {
                int rc = dec ? mtc_ige256_decrypt_key(keys + 32 * i, ivs + 32 * i, msg + off,
                                                      want + off, lens[i])
                             : mtc_ige256_encrypt_key(keys + 32 * i, ivs + 32 * i, msg + off,
                                                      want + off, lens[i]);
                FUZZ_CHECK(rc == MTC_OK, "ige refused");
                off += lens[i];
            }
            for (int b = 0; b < fz_nbackends; b++) {
                fz_use(fz_backends[b]);
                memcpy(out, msg, n);
                uint8_t *dst = (flags & 1) ? out : back;
                int rc = mtc_ige256_batch(dec, count, keys, ivs, lens, out, dst);
                FUZZ_CHECK(rc == MTC_OK, "batch refused: %d", rc);
                check_same(dst, want, nb, dec ? "batch ige decrypt" : "batch ige encrypt",
                           fz_backends[b]);
            }
            free(want);
        }
    }

    free(msg);
    free(ref_ige_e);
    free(ref_ige_d);
    free(ref_cbc_e);
    free(ref_cbc_d);
    free(ref_ctr);
    free(out);
    free(back);
    return 0;
}
