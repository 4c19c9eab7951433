/* MTProto 2.0 message seal/open in one native call: msg_key, KDF and IGE. */
#include "internal.h"
#include <stdlib.h>

/* aes_key/aes_iv from auth_key and msg_key (the MTProto 2.0 KDF). */
static void kdf2(const uint8_t *ak, int x, const uint8_t *msg_key,
                 uint8_t *aes_key, uint8_t *aes_iv)
{
    uint8_t a[32], b[32], buf[52];
    memcpy(buf, msg_key, 16);
    memcpy(buf + 16, ak + x, 36);
    mtc_sha256(buf, 52, a);
    memcpy(buf, ak + 40 + x, 36);
    memcpy(buf + 36, msg_key, 16);
    mtc_sha256(buf, 52, b);
    memcpy(aes_key, a, 8);
    memcpy(aes_key + 8, b + 8, 16);
    memcpy(aes_key + 24, a + 24, 8);
    memcpy(aes_iv, b, 8);
    memcpy(aes_iv + 8, a + 8, 16);
    memcpy(aes_iv + 24, b + 24, 8);
    mtc_wipe(a, sizeof a);
    mtc_wipe(b, sizeof b);
    mtc_wipe(buf, sizeof buf);
}

/* msg_key_large for two messages at once: SHA-256(auth_key[88+x:120+x] | p)
 * with the two hash chains interleaved (batch paths).  Both lengths >= 32. */
static void msg_hash_two(const uint8_t *ak, int x, const uint8_t *pa, size_t la,
                         uint8_t *large_a, const uint8_t *pb, size_t lb, uint8_t *large_b)
{
    mtc_sha256_ctx ha, hb;
    mtc_sha256_init(&ha);
    mtc_sha256_init(&hb);
    mtc_sha256_update(&ha, ak + 88 + x, 32);
    mtc_sha256_update(&hb, ak + 88 + x, 32);
    /* 32 key bytes + 32 message bytes complete the first block exactly, so
     * the rest of each message is block-aligned and can go two at a time. */
    mtc_sha256_update(&ha, pa, 32);
    mtc_sha256_update(&hb, pb, 32);
    size_t ra = la - 32, rb = lb - 32;
    size_t common = (ra < rb ? ra : rb) / 64;
    mtc_sha256_blocks_x2(ha.h, pa + 32, hb.h, pb + 32, common);
    ha.total += 64 * (uint64_t)common;
    hb.total += 64 * (uint64_t)common;
    mtc_sha256_update(&ha, pa + 32 + 64 * common, ra - 64 * common);
    mtc_sha256_update(&hb, pb + 32 + 64 * common, rb - 64 * common);
    mtc_sha256_final(&ha, large_a);
    mtc_sha256_final(&hb, large_b);
}

static void msg_hash_one(const uint8_t *ak, int x, const uint8_t *p, size_t len, uint8_t *large)
{
    mtc_sha256_ctx h;
    mtc_sha256_init(&h);
    mtc_sha256_update(&h, ak + 88 + x, 32);
    mtc_sha256_update(&h, p, len);
    mtc_sha256_final(&h, large);
}

int mtc_kdf2(const uint8_t *auth_key256, int x, const uint8_t *msg_key16,
             uint8_t *aes_key32, uint8_t *aes_iv32)
{
    if (!auth_key256 || !msg_key16 || !aes_key32 || !aes_iv32 || (x != 0 && x != 8))
        return MTC_ERR_ARG;
    kdf2(auth_key256, x, msg_key16, aes_key32, aes_iv32);
    return MTC_OK;
}

static inline uint32_t load_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* Two layouts share the construction (msg_key, KDF, IGE, checks); they differ
 * only in the header in front of the data, whose last 4 bytes are the data
 * length:
 *   MTProto 2.0: salt | session_id | msg_id | seq_no | length  (32 bytes)
 *   secret chat: length                                         (4 bytes) */
#define MTPROTO_HEADER 32
#define E2E_HEADER 4

/* The sender's plaintext must carry a length field equal to its data size
 * (a multiple of 4); this is the sender's own data, so a plain check. */
static int seal_args_ok(size_t header, int x, const uint8_t *plain, size_t plain_len,
                        size_t pad_len)
{
    return (x == 0 || x == 8) && pad_len >= 12 && pad_len <= 1024 &&
           ((plain_len + pad_len) & 15) == 0 && plain_len >= header &&
           plain_len < 0x7fffffff && load_le32(plain + header - 4) == plain_len - header &&
           (plain_len & 3) == 0;
}

/* Hash and lay out one message; leaves the plaintext in out+24 and the IGE
 * key material in aes_key/aes_iv for the caller to encrypt. */
static void seal_prepare(const uint8_t *ak, const uint8_t *key_id8, int x,
                         const uint8_t *plain, size_t plain_len,
                         const uint8_t *padding, size_t pad_len, uint8_t *out,
                         uint8_t *msg_key_large, uint8_t *aes_key, uint8_t *aes_iv)
{
    uint8_t large[32];
    uint8_t *body = out + 24;
    if (plain != body) memmove(body, plain, plain_len); /* == body: laid out in place */
    memmove(body + plain_len, padding, pad_len);
    mtc_sha256_ctx h;
    mtc_sha256_init(&h);
    mtc_sha256_update(&h, ak + 88 + x, 32);
    mtc_sha256_update(&h, body, plain_len + pad_len);
    mtc_sha256_final(&h, large);
    memcpy(out, key_id8, 8);
    memcpy(out + 8, large + 8, 16);
    if (msg_key_large) memcpy(msg_key_large, large, 32);
    kdf2(ak, x, out + 8, aes_key, aes_iv);
    mtc_wipe(large, sizeof large);
}

static int seal_one(size_t header, const uint8_t *auth_key256, const uint8_t *key_id8, int x,
                    const uint8_t *plain, size_t plain_len, const uint8_t *padding,
                    size_t pad_len, uint8_t *out, uint8_t *msg_key_large)
{
    if (!auth_key256 || !key_id8 || !plain || !padding || !out ||
        !seal_args_ok(header, x, plain, plain_len, pad_len))
        return MTC_ERR_ARG;
    uint8_t key[32], iv[32];
    seal_prepare(auth_key256, key_id8, x, plain, plain_len, padding, pad_len, out,
                 msg_key_large, key, iv);
    int rc = mtc_ige256_encrypt_key(key, iv, out + 24, out + 24, plain_len + pad_len);
    mtc_wipe(key, sizeof key);
    mtc_wipe(iv, sizeof iv);
    return rc;
}

int mtc_msg_seal(const uint8_t *auth_key256, const uint8_t *key_id8, int x,
                 const uint8_t *plain, size_t plain_len, const uint8_t *padding,
                 size_t pad_len, uint8_t *out, uint8_t *msg_key_large)
{
    return seal_one(MTPROTO_HEADER, auth_key256, key_id8, x, plain, plain_len, padding,
                    pad_len, out, msg_key_large);
}

int mtc_e2e_seal(const uint8_t *auth_key256, const uint8_t *key_fingerprint8, int x,
                 const uint8_t *plain, size_t plain_len, const uint8_t *padding,
                 size_t pad_len, uint8_t *out)
{
    return seal_one(E2E_HEADER, auth_key256, key_fingerprint8, x, plain, plain_len, padding,
                    pad_len, out, NULL);
}

int mtc_msg_seal_random(const uint8_t *auth_key256, const uint8_t *key_id8, int x,
                        const uint8_t *plain, size_t plain_len, size_t extra_blocks,
                        uint8_t *out)
{
    uint8_t padding[1024];
    size_t pad_len = 12 + ((0 - (plain_len + 12)) & 15) + 16 * extra_blocks;
    if (extra_blocks > 63 || pad_len > 1024) return MTC_ERR_ARG;
    int rc = mtc_random_bytes(padding, pad_len);
    if (rc != MTC_OK) return rc;
    rc = mtc_msg_seal(auth_key256, key_id8, x, plain, plain_len, padding, pad_len, out, NULL);
    mtc_wipe(padding, pad_len);
    return rc;
}

int mtc_msg_seal_random_parts(const uint8_t *auth_key256, const uint8_t *key_id8, int x,
                              const uint8_t *head, size_t head_len, const uint8_t *tail,
                              size_t tail_len, size_t extra_blocks, uint8_t *out)
{
    if (!out || !head || (tail_len && !tail) || head_len < MTPROTO_HEADER ||
        tail_len > 0x7fffffff || head_len > 0x7fffffff)
        return MTC_ERR_ARG;
    /* Lay the plaintext out where the seal would copy it, then seal in place. */
    memmove(out + 24, head, head_len);
    if (tail_len) memmove(out + 24 + head_len, tail, tail_len);
    int rc = mtc_msg_seal_random(auth_key256, key_id8, x, out + 24, head_len + tail_len,
                                 extra_blocks, out);
    if (rc != MTC_OK) mtc_wipe(out + 24, head_len + tail_len); /* refused: no plaintext left */
    return rc;
}

/* All-ones when a <= b, without a branch.  Both operands are below 2^62
 * here (lengths of at most 2^32 + 2^32), so the sign bit of b - a is the
 * borrow. */
static inline uint64_t le_mask(uint64_t a, uint64_t b)
{
    return ((b - a) >> 63) - 1;
}

/* MAC and field checks after decryption, no early exit; 1 when valid.
 * `large` is SHA-256(auth_key[88+x:120+x] | plain). */
static int open_check(size_t header, const uint8_t *msg_key, uint8_t *large,
                      const uint8_t *plain, size_t total, uint32_t *data_len)
{
    uint32_t diff = 0;
    for (int i = 0; i < 16; i++) diff |= (uint32_t)(large[8 + i] ^ msg_key[i]);
    mtc_wipe(large, 32);
    uint64_t mac_ok = ((uint64_t)diff - 1) >> 63; /* 1 iff diff == 0 */

    /* total >= header is public (checked before), so this read is in bounds. */
    uint64_t length = load_le32(plain + header - 4);
    uint64_t room = (uint64_t)total - header;
    uint64_t ok = le_mask(length, room);              /* covers "negative" too */
    ok &= 0 - (((length & 3) - 1) >> 63);             /* length % 4 == 0 */
    uint64_t pad = room - length;                     /* only meaningful if ok */
    ok &= le_mask(12, pad) & le_mask(pad, 1024);
    uint64_t valid = (ok & 1) & mac_ok;
    *data_len = (uint32_t)(length & (0 - valid));
    return (int)valid;
}

/* Decrypt and hash in small interleaved steps: IGE and SHA-256 are both
 * latency-bound serial chains, so the out-of-order core overlaps the hash of
 * one chunk with the decryption of the next (about 30% faster on large
 * messages than decrypting first and hashing after). */
#define OPEN_CHUNK_BLOCKS 4
static int open_decrypt_hash(const uint8_t *ak, int x, const uint8_t *packet, size_t total,
                             uint8_t *plain, uint8_t *large)
{
    mtc_aes256 ctx;
    uint8_t key[32], iv[32];
    kdf2(ak, x, packet + 8, key, iv);
    int rc = mtc_aes256_init(&ctx, key);
    mtc_wipe(key, sizeof key);
    if (rc != MTC_OK) return rc;
    mtc_sha256_ctx h;
    mtc_sha256_init(&h);
    mtc_sha256_update(&h, ak + 88 + x, 32);
    const uint8_t *in = packet + 24;
    for (size_t off = 0; off < total; off += 16 * OPEN_CHUNK_BLOCKS) {
        size_t n = total - off < 16 * OPEN_CHUNK_BLOCKS ? total - off : 16 * OPEN_CHUNK_BLOCKS;
        rc = mtc_ige256_decrypt(&ctx, iv, in + off, plain + off, n);
        if (rc != MTC_OK) break;
        mtc_sha256_update(&h, plain + off, n);
    }
    mtc_sha256_final(&h, large);
    mtc_aes256_wipe(&ctx);
    mtc_wipe(iv, sizeof iv);
    return rc;
}

static int open_public_ok(size_t header, const uint8_t *key_id8, const uint8_t *packet,
                          size_t len)
{
    /* Public information only: the sizes and the key id the sender chose.
     * At least the header and at least one block. */
    size_t least = header < 16 ? 16 : header;
    return len >= 24 + least && ((len - 24) & 15) == 0 && len <= 0x7fffffff &&
           memcmp(packet, key_id8, 8) == 0;
}

static int open_one(size_t header, const uint8_t *auth_key256, const uint8_t *key_id8, int x,
                    const uint8_t *packet, size_t len, uint8_t *plain)
{
    if (!auth_key256 || !key_id8 || !packet || !plain || (x != 0 && x != 8))
        return MTC_ERR_ARG;
    if (!open_public_ok(header, key_id8, packet, len)) return MTC_ERR_DECRYPT;
    size_t total = len - 24;
    uint32_t data_len = 0;
    uint8_t large[32];
    int rc = open_decrypt_hash(auth_key256, x, packet, total, plain, large);
    if (rc != MTC_OK) return rc;
    int valid = open_check(header, packet + 8, large, plain, total, &data_len);
    mtc_wipe(large, sizeof large);
    if (!valid) {
        mtc_wipe(plain, total);
        return MTC_ERR_DECRYPT;
    }
    return (int)data_len;
}

int mtc_msg_open(const uint8_t *auth_key256, const uint8_t *key_id8, int x,
                 const uint8_t *packet, size_t len, uint8_t *plain)
{
    return open_one(MTPROTO_HEADER, auth_key256, key_id8, x, packet, len, plain);
}

int mtc_e2e_open(const uint8_t *auth_key256, const uint8_t *key_fingerprint8, int x,
                 const uint8_t *packet, size_t len, uint8_t *plain)
{
    return open_one(E2E_HEADER, auth_key256, key_fingerprint8, x, packet, len, plain);
}

/* ---- batches ------------------------------------------------------------
 * One pass of interleaved IGE for many messages under one key.  The packed
 * forms (one buffer in, one out) and the pointer forms (a buffer per message,
 * what the Python entries hand over) share the work below. */

/* Laid-out messages (jobs[i].in == jobs[i].out: plaintext and padding in
 * place, the 24-byte header before them) sealed: msg_key two messages at a
 * time, the header and the KDF per message, then one interleaved IGE pass. */
static int seal_laid_out(const uint8_t *ak, const uint8_t *key_id8, int x, size_t n,
                         struct mtc_ige_job *jobs, uint8_t *keys)
{
    for (size_t i = 0; i < n; i += 2) {
        uint8_t large[2][32];
        if (i + 1 < n)
            msg_hash_two(ak, x, jobs[i].in, 16 * jobs[i].nblocks, large[0], jobs[i + 1].in,
                         16 * jobs[i + 1].nblocks, large[1]);
        else
            msg_hash_one(ak, x, jobs[i].in, 16 * jobs[i].nblocks, large[0]);
        for (size_t j = i; j < n && j < i + 2; j++) {
            uint8_t *head = (uint8_t *)jobs[j].out - 24;
            memcpy(head, key_id8, 8);
            memcpy(head + 8, large[j - i] + 8, 16);
            kdf2(ak, x, head + 8, keys + 64 * j, keys + 64 * j + 32);
            jobs[j].key = keys + 64 * j;
            jobs[j].iv = keys + 64 * j + 32;
        }
        mtc_wipe(large, sizeof large);
    }
    int rc = mtc_ige_batch_jobs(0, n, jobs);
    mtc_wipe(keys, 64 * n);
    return rc;
}

/* The per-message arrays of a batch, in one allocation. */
static int batch_alloc(size_t n, uint8_t **keys, struct mtc_ige_job **jobs)
{
    if (n > SIZE_MAX / (64 + sizeof **jobs)) return MTC_ERR_NOMEM;
    *keys = malloc(64 * n);
    *jobs = malloc(n * sizeof **jobs);
    if (*keys && *jobs) return MTC_OK;
    free(*keys);
    free(*jobs);
    return MTC_ERR_NOMEM;
}

int mtc_msg_seal_batch(const uint8_t *auth_key256, const uint8_t *key_id8, int x, size_t n,
                       const uint8_t *plains, const uint64_t *plain_lens,
                       const uint8_t *paddings, const uint64_t *pad_lens, uint8_t *outs)
{
    if (n == 0) return MTC_OK;
    if (!auth_key256 || !key_id8 || !plains || !plain_lens || !paddings || !pad_lens || !outs)
        return MTC_ERR_ARG;
    size_t in_off = 0;
    for (size_t i = 0; i < n; i++) {
        if (!seal_args_ok(MTPROTO_HEADER, x, plains + in_off, (size_t)plain_lens[i], (size_t)pad_lens[i]))
            return MTC_ERR_ARG;
        in_off += (size_t)plain_lens[i];
    }
    uint8_t *keys;
    struct mtc_ige_job *jobs;
    if (batch_alloc(n, &keys, &jobs) != MTC_OK) return MTC_ERR_NOMEM;
    /* Lay out every plaintext with its padding where its ciphertext goes. */
    size_t pad_off = 0, out_off = 0;
    in_off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t pl = (size_t)plain_lens[i], pd = (size_t)pad_lens[i];
        uint8_t *body = outs + out_off + 24;
        memmove(body, plains + in_off, pl);
        memmove(body + pl, paddings + pad_off, pd);
        jobs[i].in = body;
        jobs[i].out = body;
        jobs[i].nblocks = (pl + pd) / 16;
        in_off += pl;
        pad_off += pd;
        out_off += 24 + pl + pd;
    }
    int rc = seal_laid_out(auth_key256, key_id8, x, n, jobs, keys);
    free(keys);
    free(jobs);
    return rc;
}

/* The random padding of a sealed message: the least (12..27 bytes) that
 * makes plaintext and padding whole blocks. */
static size_t least_padding(size_t plain_len)
{
    return 12 + ((0 - (plain_len + 12)) & 15);
}

int mtc_msg_seal_random_batch(const uint8_t *auth_key256, const uint8_t *key_id8, int x, size_t n,
                              const uint8_t *const *plains, const uint64_t *plain_lens,
                              uint8_t *const *outs)
{
    if (n == 0) return MTC_OK;
    if (!auth_key256 || !key_id8 || !plains || !plain_lens || !outs) return MTC_ERR_ARG;
    for (size_t i = 0; i < n; i++) {
        size_t pl = (size_t)plain_lens[i];
        if (!plains[i] || !outs[i] || pl >= 0x7fffffff ||
            !seal_args_ok(MTPROTO_HEADER, x, plains[i], pl, least_padding(pl)))
            return MTC_ERR_ARG;
    }
    uint8_t *keys, *padding = NULL;
    struct mtc_ige_job *jobs;
    if (batch_alloc(n, &keys, &jobs) != MTC_OK) return MTC_ERR_NOMEM;
    int rc = (padding = malloc(27 * n)) ? mtc_random_bytes(padding, 27 * n) : MTC_ERR_NOMEM;
    if (rc == MTC_OK) {
        for (size_t i = 0; i < n; i++) {
            size_t pl = (size_t)plain_lens[i], pd = least_padding(pl);
            uint8_t *body = outs[i] + 24;
            memmove(body, plains[i], pl);
            memcpy(body + pl, padding + 27 * i, pd);
            jobs[i].in = body;
            jobs[i].out = body;
            jobs[i].nblocks = (pl + pd) / 16;
        }
        rc = seal_laid_out(auth_key256, key_id8, x, n, jobs, keys);
        if (rc != MTC_OK) /* refused: no plaintext left in the outputs */
            for (size_t i = 0; i < n; i++) mtc_wipe(outs[i] + 24, 16 * jobs[i].nblocks);
    }
    if (padding) mtc_wipe(padding, 27 * n);
    free(padding);
    free(keys);
    free(jobs);
    return rc;
}

int mtc_msg_open_batch_ptrs(const uint8_t *auth_key256, const uint8_t *key_id8, int x, size_t n,
                            const uint8_t *const *packets, const uint64_t *packet_lens,
                            uint8_t *const *plains, int *results)
{
    if (n == 0) return MTC_OK;
    if (!auth_key256 || !key_id8 || !packets || !packet_lens || !plains || !results ||
        (x != 0 && x != 8))
        return MTC_ERR_ARG;
    for (size_t i = 0; i < n; i++)
        if (!packets[i] || (packet_lens[i] >= 24 && !plains[i])) return MTC_ERR_ARG;
    uint8_t *keys;
    struct mtc_ige_job *jobs;
    if (batch_alloc(n, &keys, &jobs) != MTC_OK) return MTC_ERR_NOMEM;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = (size_t)packet_lens[i];
        results[i] = MTC_ERR_DECRYPT;
        if (len < 24) continue;
        if (!open_public_ok(MTPROTO_HEADER, key_id8, packets[i], len)) {
            memset(plains[i], 0, len - 24); /* a rejected packet's slot holds nothing */
            continue;
        }
        kdf2(auth_key256, x, packets[i] + 8, keys + 64 * m, keys + 64 * m + 32);
        jobs[m].key = keys + 64 * m;
        jobs[m].iv = keys + 64 * m + 32;
        jobs[m].in = packets[i] + 24;
        jobs[m].out = plains[i];
        jobs[m].nblocks = (len - 24) / 16;
        results[i] = 0; /* provisional: decrypt, then verify */
        m++;
    }
    int rc = mtc_ige_batch_jobs(1, m, jobs);
    mtc_wipe(keys, 64 * n);
    free(keys);
    free(jobs);
    if (rc != MTC_OK) { /* refused: no unverified plaintext left behind */
        for (size_t i = 0; i < n; i++) {
            if (packet_lens[i] >= 24) mtc_wipe(plains[i], (size_t)packet_lens[i] - 24);
            results[i] = MTC_ERR_DECRYPT;
        }
        return rc;
    }
    /* Verify: msg_key two messages at a time, then the field checks. */
    size_t pending = SIZE_MAX; /* a decrypted packet waiting for a partner */
    for (size_t i = 0; i <= n; i++) {
        int ready = i < n && packet_lens[i] >= 24 && results[i] == 0;
        if (ready && pending == SIZE_MAX) {
            pending = i;
            continue;
        }
        if (pending == SIZE_MAX || !(ready || i == n)) continue;
        size_t both[2] = {pending, i};
        uint8_t large[2][32];
        size_t plen = (size_t)packet_lens[pending] - 24;
        if (ready)
            msg_hash_two(auth_key256, x, plains[pending], plen, large[0], plains[i],
                         (size_t)packet_lens[i] - 24, large[1]);
        else
            msg_hash_one(auth_key256, x, plains[pending], plen, large[0]);
        for (int k = 0; k < 1 + ready; k++) {
            size_t j = both[k], total = (size_t)packet_lens[j] - 24;
            uint32_t data_len = 0;
            if (open_check(MTPROTO_HEADER, packets[j] + 8, large[k], plains[j], total, &data_len)) {
                results[j] = (int)data_len;
            } else {
                results[j] = MTC_ERR_DECRYPT;
                mtc_wipe(plains[j], total);
            }
        }
        mtc_wipe(large, sizeof large);
        pending = SIZE_MAX;
    }
    return MTC_OK;
}

int mtc_msg_open_batch(const uint8_t *auth_key256, const uint8_t *key_id8, int x, size_t n,
                       const uint8_t *packets, const uint64_t *packet_lens, uint8_t *plains,
                       int *results)
{
    if (n == 0) return MTC_OK;
    if (!packets || !packet_lens || !plains) return MTC_ERR_ARG;
    if (n > SIZE_MAX / (2 * sizeof(void *))) return MTC_ERR_NOMEM;
    const uint8_t **ins = malloc(n * sizeof *ins);
    uint8_t **outs = malloc(n * sizeof *outs);
    int rc = MTC_ERR_NOMEM;
    if (ins && outs) {
        /* Plaintext slot i starts after the (len - 24) bytes of the packets of
         * at least 24 bytes before it. */
        size_t in_off = 0, out_off = 0;
        for (size_t i = 0; i < n; i++) {
            ins[i] = packets + in_off;
            outs[i] = plains + out_off;
            in_off += (size_t)packet_lens[i];
            if (packet_lens[i] >= 24) out_off += (size_t)packet_lens[i] - 24;
        }
        rc = mtc_msg_open_batch_ptrs(auth_key256, key_id8, x, n, ins, packet_lens, outs, results);
    }
    free(ins);
    free(outs);
    return rc;
}
