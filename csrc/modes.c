/* Public AES entry points: dispatch to the accelerated code or run the modes
 * on top of the portable bitsliced block functions. */
#include "internal.h"
#include <stdlib.h>

#if defined(__x86_64__)
static int accelerated(int backend)
{
    return backend == MTC_BACKEND_AESNI || backend == MTC_BACKEND_VAES;
}
#endif

/* The vector-permute backend (aes_vpaes.c), where this build has it. */
#ifdef MTC_HAVE_VPAES
#define VPAES(backend) ((backend) == MTC_BACKEND_VPAES)
#else
#define VPAES(backend) 0
#endif

static inline void xor16(uint8_t *dst, const uint8_t *a, const uint8_t *b)
{
    for (int i = 0; i < 16; i++) dst[i] = (uint8_t)(a[i] ^ b[i]);
}

int mtc_aes256_init(mtc_aes256 *ctx, const uint8_t *key32)
{
    if (!ctx || !key32) return MTC_ERR_ARG;
    ctx->backend = mtc_rt.aes;
    ctx->ready = 0;
#if defined(__x86_64__)
    if (accelerated(ctx->backend)) {
        mtc_ni_expand_enc(ctx->enc, key32);
        mtc_ni_expand_dec(ctx->dec, ctx->enc);
        ctx->ready = 1;
        return MTC_OK;
    }
#endif
#if MTC_ARMV8
    if (ctx->backend == MTC_BACKEND_ARMV8) {
        mtc_a8_expand_enc(ctx->enc, key32);
        mtc_a8_expand_dec(ctx->dec, ctx->enc);
        ctx->ready = 1;
        return MTC_OK;
    }
#endif
#ifdef MTC_HAVE_VPAES
    if (VPAES(ctx->backend)) {
        mtc_vp_expand(ctx->enc, ctx->dec, key32);
        ctx->ready = 1;
        return MTC_OK;
    }
#endif
    mtc_aesp_expand(ctx->enc, key32);
    ctx->ready = 1;
    return MTC_OK;
}

void mtc_aes256_wipe(mtc_aes256 *ctx)
{
    if (ctx) mtc_wipe(ctx, sizeof *ctx);
}

/* Dispatch follows the backend that expanded the context (its key layout),
 * so a context stays valid if the process switches backends later. */
static int ctx_ok(const mtc_aes256 *ctx)
{
    return ctx && ctx->ready == 1;
}

/* ---- portable modes --------------------------------------------------- */

static void p_ige_encrypt(const uint64_t *sk, uint8_t *iv32, const uint8_t *in,
                          uint8_t *out, size_t nblocks)
{
    uint8_t y_prev[16], x_prev[16], x[16], t[16];
    memcpy(y_prev, iv32, 16);
    memcpy(x_prev, iv32 + 16, 16);
    for (size_t i = 0; i < nblocks; i++) {
        memcpy(x, in + 16 * i, 16);
        xor16(t, x, y_prev);
        mtc_aesp_encrypt(sk, t, 1);
        xor16(y_prev, t, x_prev);
        memcpy(out + 16 * i, y_prev, 16);
        memcpy(x_prev, x, 16);
    }
    memcpy(iv32, y_prev, 16);
    memcpy(iv32 + 16, x_prev, 16);
    mtc_wipe(x, 16);
    mtc_wipe(t, 16);
    mtc_wipe(x_prev, 16);
}

static void p_ige_decrypt(const uint64_t *sk, uint8_t *iv32, const uint8_t *in,
                          uint8_t *out, size_t nblocks)
{
    uint8_t y_prev[16], x_prev[16], y[16], t[16];
    memcpy(y_prev, iv32, 16);
    memcpy(x_prev, iv32 + 16, 16);
    for (size_t i = 0; i < nblocks; i++) {
        memcpy(y, in + 16 * i, 16);
        xor16(t, y, x_prev);
        mtc_aesp_decrypt(sk, t, 1);
        xor16(x_prev, t, y_prev);
        memcpy(out + 16 * i, x_prev, 16);
        memcpy(y_prev, y, 16);
    }
    memcpy(iv32, y_prev, 16);
    memcpy(iv32 + 16, x_prev, 16);
    mtc_wipe(t, 16);
    mtc_wipe(x_prev, 16);
}

static void p_cbc_encrypt(const uint64_t *sk, uint8_t *iv16, const uint8_t *in,
                          uint8_t *out, size_t nblocks)
{
    uint8_t c[16];
    memcpy(c, iv16, 16);
    for (size_t i = 0; i < nblocks; i++) {
        xor16(c, c, in + 16 * i);
        mtc_aesp_encrypt(sk, c, 1);
        memcpy(out + 16 * i, c, 16);
    }
    memcpy(iv16, c, 16);
}

static void p_cbc_decrypt(const uint64_t *sk, uint8_t *iv16, const uint8_t *in,
                          uint8_t *out, size_t nblocks)
{
    uint8_t prev[16], c[64], p[64];
    memcpy(prev, iv16, 16);
    for (size_t i = 0; i < nblocks; i += 4) {
        size_t nb = nblocks - i < 4 ? nblocks - i : 4;
        memcpy(c, in + 16 * i, 16 * nb);
        memcpy(p, c, 16 * nb);
        mtc_aesp_decrypt(sk, p, nb);
        for (size_t j = 0; j < nb; j++)
            xor16(out + 16 * (i + j), p + 16 * j, j ? c + 16 * (j - 1) : prev);
        memcpy(prev, c + 16 * (nb - 1), 16);
    }
    memcpy(iv16, prev, 16);
    mtc_wipe(p, sizeof p);
}

static void ctr_increment(uint8_t *ctr)
{
    unsigned carry = 1;
    for (int i = 15; i >= 0; i--) {
        unsigned v = ctr[i] + carry;
        ctr[i] = (uint8_t)v;
        carry = v >> 8;
    }
}

static void p_ctr_blocks(const uint64_t *sk, uint8_t *ctr16, const uint8_t *in,
                         uint8_t *out, size_t nblocks)
{
    uint8_t ks[64];
    for (size_t i = 0; i < nblocks; i += 4) {
        size_t nb = nblocks - i < 4 ? nblocks - i : 4;
        for (size_t j = 0; j < nb; j++) {
            memcpy(ks + 16 * j, ctr16, 16);
            ctr_increment(ctr16);
        }
        mtc_aesp_encrypt(sk, ks, nb);
        for (size_t j = 0; j < 16 * nb; j++)
            out[16 * i + j] = (uint8_t)(in[16 * i + j] ^ ks[j]);
    }
    mtc_wipe(ks, sizeof ks);
}

/* ---- dispatch ---------------------------------------------------------- */

int mtc_ige256_encrypt(const mtc_aes256 *ctx, uint8_t *iv32, const uint8_t *in,
                       uint8_t *out, size_t len)
{
    if (!ctx_ok(ctx) || (len & 15) || !iv32 || (len && (!in || !out))) return MTC_ERR_ARG;
#if defined(__x86_64__)
    if (accelerated(ctx->backend)) {
        mtc_ni_ige_encrypt(ctx->enc, iv32, in, out, len / 16);
        return MTC_OK;
    }
#endif
#if MTC_ARMV8
    if (ctx->backend == MTC_BACKEND_ARMV8) {
        mtc_a8_ige_encrypt(ctx->enc, iv32, in, out, len / 16);
        return MTC_OK;
    }
#endif
#ifdef MTC_HAVE_VPAES
    if (VPAES(ctx->backend)) {
        mtc_vp_ige_encrypt(ctx->enc, iv32, in, out, len / 16);
        return MTC_OK;
    }
#endif
    p_ige_encrypt(ctx->enc, iv32, in, out, len / 16);
    return MTC_OK;
}

int mtc_ige256_decrypt(const mtc_aes256 *ctx, uint8_t *iv32, const uint8_t *in,
                       uint8_t *out, size_t len)
{
    if (!ctx_ok(ctx) || (len & 15) || !iv32 || (len && (!in || !out))) return MTC_ERR_ARG;
#if defined(__x86_64__)
    if (accelerated(ctx->backend)) {
        mtc_ni_ige_decrypt(ctx->dec, iv32, in, out, len / 16);
        return MTC_OK;
    }
#endif
#if MTC_ARMV8
    if (ctx->backend == MTC_BACKEND_ARMV8) {
        mtc_a8_ige_decrypt(ctx->dec, iv32, in, out, len / 16);
        return MTC_OK;
    }
#endif
#ifdef MTC_HAVE_VPAES
    if (VPAES(ctx->backend)) {
        mtc_vp_ige_decrypt(ctx->dec, iv32, in, out, len / 16);
        return MTC_OK;
    }
#endif
    p_ige_decrypt(ctx->enc, iv32, in, out, len / 16);
    return MTC_OK;
}

/* One-shot forms expand only the schedule they need, on the stack. */
int mtc_ige256_encrypt_key(const uint8_t *key32, const uint8_t *iv32, const uint8_t *in,
                           uint8_t *out, size_t len)
{
    if (!key32 || !iv32 || (len & 15) || (len && (!in || !out))) return MTC_ERR_ARG;
    uint64_t sk[120];
    uint8_t iv[32];
    memcpy(iv, iv32, 32);
#if defined(__x86_64__)
    if (accelerated(mtc_rt.aes)) {
        mtc_ni_expand_enc(sk, key32);
        mtc_ni_ige_encrypt(sk, iv, in, out, len / 16);
        mtc_wipe(sk, 30 * sizeof(uint64_t));
        return MTC_OK;
    }
#endif
#if MTC_ARMV8
    if (mtc_rt.aes == MTC_BACKEND_ARMV8) {
        mtc_a8_expand_enc(sk, key32);
        mtc_a8_ige_encrypt(sk, iv, in, out, len / 16);
        mtc_wipe(sk, 30 * sizeof(uint64_t));
        return MTC_OK;
    }
#endif
#ifdef MTC_HAVE_VPAES
    if (VPAES(mtc_rt.aes)) {
        mtc_vp_expand(sk, NULL, key32);
        mtc_vp_ige_encrypt(sk, iv, in, out, len / 16);
        mtc_wipe(sk, 30 * sizeof(uint64_t));
        return MTC_OK;
    }
#endif
    mtc_aesp_expand(sk, key32);
    p_ige_encrypt(sk, iv, in, out, len / 16);
    mtc_wipe(sk, sizeof sk);
    return MTC_OK;
}

int mtc_ige256_decrypt_key(const uint8_t *key32, const uint8_t *iv32, const uint8_t *in,
                           uint8_t *out, size_t len)
{
    if (!key32 || !iv32 || (len & 15) || (len && (!in || !out))) return MTC_ERR_ARG;
    uint64_t sk[120];
    uint8_t iv[32];
    memcpy(iv, iv32, 32);
#if defined(__x86_64__)
    if (accelerated(mtc_rt.aes)) {
        uint64_t dk[30];
        mtc_ni_expand_enc(sk, key32);
        mtc_ni_expand_dec(dk, sk);
        mtc_ni_ige_decrypt(dk, iv, in, out, len / 16);
        mtc_wipe(sk, 30 * sizeof(uint64_t));
        mtc_wipe(dk, sizeof dk);
        return MTC_OK;
    }
#endif
#if MTC_ARMV8
    if (mtc_rt.aes == MTC_BACKEND_ARMV8) {
        uint64_t dk[30];
        mtc_a8_expand_enc(sk, key32);
        mtc_a8_expand_dec(dk, sk);
        mtc_a8_ige_decrypt(dk, iv, in, out, len / 16);
        mtc_wipe(sk, 30 * sizeof(uint64_t));
        mtc_wipe(dk, sizeof dk);
        return MTC_OK;
    }
#endif
#ifdef MTC_HAVE_VPAES
    if (VPAES(mtc_rt.aes)) {
        mtc_vp_expand(NULL, sk, key32);
        mtc_vp_ige_decrypt(sk, iv, in, out, len / 16);
        mtc_wipe(sk, 30 * sizeof(uint64_t));
        return MTC_OK;
    }
#endif
    mtc_aesp_expand(sk, key32);
    p_ige_decrypt(sk, iv, in, out, len / 16);
    mtc_wipe(sk, sizeof sk);
    return MTC_OK;
}

int mtc_ige_batch_jobs(int decrypt, size_t n, const struct mtc_ige_job *jobs)
{
#if defined(__x86_64__)
    /* One or two chains gain nothing from the lanes' setup: run them alone. */
    if (n >= 3 && mtc_rt.aes == MTC_BACKEND_VAES) return mtc_vaes_ige_batch(decrypt, n, jobs);
    if (n >= 3 && mtc_rt.aes == MTC_BACKEND_AESNI) return mtc_ni_ige_batch(decrypt, n, jobs);
#endif
#if MTC_ARMV8
    if (n >= 3 && mtc_rt.aes == MTC_BACKEND_ARMV8) return mtc_a8_ige_batch(decrypt, n, jobs);
#endif
#ifdef MTC_HAVE_VPAES
    if (n >= 2 && VPAES(mtc_rt.aes)) return mtc_vp_ige_batch(decrypt, n, jobs);
#endif
    /* Portable: the bitsliced core shares one key across its four lanes, so
     * independent messages run one after another. */
    for (size_t i = 0; i < n; i++) {
        const struct mtc_ige_job *job = &jobs[i];
        size_t len = 16 * job->nblocks;
        int rc = decrypt ? mtc_ige256_decrypt_key(job->key, job->iv, job->in, job->out, len)
                         : mtc_ige256_encrypt_key(job->key, job->iv, job->in, job->out, len);
        if (rc != MTC_OK) return rc;
    }
    return MTC_OK;
}

static void lane_load(struct mtc_ige_lane *l, int decrypt, const struct mtc_ige_job *job,
                      const struct mtc_ige_lane_impl *impl)
{
    uint64_t enc[30];
    impl->expand_enc(enc, job->key);
    if (decrypt)
        impl->expand_dec(l->rk, enc);
    else
        memcpy(l->rk, enc, sizeof l->rk);
    mtc_wipe(enc, sizeof enc);
    memcpy(l->y_prev, job->iv, 16);
    memcpy(l->x_prev, job->iv + 16, 16);
    l->in = job->in;
    l->out = job->out;
    l->left = job->nblocks;
    l->fresh = 1;
}

/* The L1 data cache set (64-byte lines, 64 sets) that address p maps to. */
static unsigned l1_set(const uint8_t *p)
{
    return (unsigned)((uintptr_t)p >> 6) & 63;
}

/* Whether the first jobs' buffers crowd into a few L1 sets: more lines in one
 * set than its 8 ways hold.  Lanes move in lockstep, so buffers that sit a
 * multiple of 4 KiB apart (one packed buffer of 4 KiB messages, say) keep
 * every lane's input and output line in the same set: 24 lines for 8 ways,
 * and every load misses.  Measured on a Zen 3 (VAES-256, 12 lanes), 256
 * packed messages: 3.5 GB/s at 4 KiB and 8 KiB without the stagger, 5.6-6.3
 * with it, against 6.4 for 4160-byte messages; 1 KiB messages (six lines a
 * set) run at 5.2 without it and lose a third with it, hence the threshold. */
static int lanes_crowd(size_t n, const struct mtc_ige_job *jobs, int count)
{
    uint8_t per_set[64] = {0};
    int seen = 0;
    for (size_t i = 0; i < n && seen < count; i++) {
        if (!jobs[i].nblocks) continue;
        if (++per_set[l1_set(jobs[i].in)] > 8) return 1;
        if (jobs[i].out != jobs[i].in && ++per_set[l1_set(jobs[i].out)] > 8) return 1;
        seen++;
    }
    return 0;
}

int mtc_ige_batch_lanes(int decrypt, size_t n, const struct mtc_ige_job *jobs,
                        const struct mtc_ige_lane_impl *impl)
{
    struct mtc_ige_lane lanes[MTC_IGE_LANES_MAX];
    uint8_t scratch[MTC_IGE_LANES_MAX][16];
    _Alignas(64) uint8_t state[MTC_IGE_KERNEL_STATE];
    /* Blocks a lane waits before its first job: staggered by one cache line
     * (4 blocks) per lane when the buffers crowd (see lanes_crowd), so that
     * each lane works in its own set.  Equal-length jobs then keep the
     * stagger as lanes are refilled.  The cost is 4 * (lanes - 1) steps once. */
    size_t hold[MTC_IGE_LANES_MAX] = {0};
    const int count = impl->lanes;
    size_t next = 0;
    int active = 0, holding = 0;
    memset(lanes, 0, sizeof lanes);
    memset(scratch, 0, sizeof scratch);
    memset(state, 0, sizeof state);

    for (int j = 0; j < count; j++) {
        lanes[j].in = scratch[j];
        lanes[j].out = scratch[j];
        lanes[j].fresh = 1;
    }
    if (n >= (size_t)count && lanes_crowd(n, jobs, count)) {
        for (int j = 1; j < count; j++) hold[j] = 4 * (size_t)j;
        holding = count - 1;
    }
    for (;;) {
        /* Refill idle lanes with the next non-empty jobs. */
        for (int j = 0; j < count; j++) {
            if (lanes[j].left || hold[j]) continue;
            if (lanes[j].in != scratch[j]) {
                active--;
                lanes[j].in = scratch[j];
                lanes[j].out = scratch[j];
            }
            while (next < n && jobs[next].nblocks == 0) next++;
            if (next < n) {
                lane_load(&lanes[j], decrypt, &jobs[next], impl);
                next++;
                active++;
            }
        }
        if (active == 0) break;
        if (active < 3 && !holding) {
            /* Too few chains to interleave: finish them one at a time. */
            for (int j = 0; j < count; j++) {
                if (!lanes[j].left) continue;
                uint8_t iv[32];
                memcpy(iv, lanes[j].y_prev, 16);
                memcpy(iv + 16, lanes[j].x_prev, 16);
                if (decrypt)
                    impl->ige_decrypt(lanes[j].rk, iv, lanes[j].in, lanes[j].out, lanes[j].left);
                else
                    impl->ige_encrypt(lanes[j].rk, iv, lanes[j].in, lanes[j].out, lanes[j].left);
                lanes[j].left = 0;
            }
            continue;
        }
        size_t steps = SIZE_MAX;
        for (int j = 0; j < count; j++) {
            if (lanes[j].left && lanes[j].left < steps) steps = lanes[j].left;
            if (hold[j] && hold[j] < steps) steps = hold[j];
        }
        impl->steps(lanes, decrypt, steps, state);
        for (int j = 0; j < count; j++) {
            if (!hold[j]) continue;
            hold[j] -= steps;
            holding -= hold[j] == 0;
        }
    }
    mtc_wipe(lanes, sizeof lanes);
    mtc_wipe(state, sizeof state);
    return MTC_OK;
}

int mtc_ige256_batch(int decrypt, size_t n, const uint8_t *keys, const uint8_t *ivs,
                     const uint64_t *lens, const uint8_t *in, uint8_t *out)
{
    if (n == 0) return MTC_OK;
    if (!keys || !ivs || !lens) return MTC_ERR_ARG;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (lens[i] & 15) return MTC_ERR_ARG;
        total += (size_t)lens[i];
    }
    if (total && (!in || !out)) return MTC_ERR_ARG;
    struct mtc_ige_job *jobs = malloc(n * sizeof *jobs);
    if (!jobs) return MTC_ERR_NOMEM;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        jobs[i].key = keys + 32 * i;
        jobs[i].iv = ivs + 32 * i;
        jobs[i].in = in + off;
        jobs[i].out = out + off;
        jobs[i].nblocks = (size_t)lens[i] / 16;
        off += (size_t)lens[i];
    }
    int rc = mtc_ige_batch_jobs(decrypt, n, jobs);
    free(jobs);
    return rc;
}

int mtc_ige256_batch_ptrs(int decrypt, size_t n, const uint8_t *const *keys,
                          const uint8_t *const *ivs, const uint64_t *lens,
                          const uint8_t *const *ins, uint8_t *const *outs)
{
    if (n == 0) return MTC_OK;
    if (!keys || !ivs || !lens || !ins || !outs) return MTC_ERR_ARG;
    for (size_t i = 0; i < n; i++) {
        if ((lens[i] & 15) || !keys[i] || !ivs[i]) return MTC_ERR_ARG;
        if (lens[i] && (!ins[i] || !outs[i])) return MTC_ERR_ARG;
    }
    struct mtc_ige_job *jobs = malloc(n * sizeof *jobs);
    if (!jobs) return MTC_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
        jobs[i].key = keys[i];
        jobs[i].iv = ivs[i];
        jobs[i].in = ins[i];
        jobs[i].out = outs[i];
        jobs[i].nblocks = (size_t)lens[i] / 16;
    }
    int rc = mtc_ige_batch_jobs(decrypt, n, jobs);
    free(jobs);
    return rc;
}

int mtc_cbc256_encrypt(const mtc_aes256 *ctx, uint8_t *iv16, const uint8_t *in,
                       uint8_t *out, size_t len)
{
    if (!ctx_ok(ctx) || (len & 15) || !iv16 || (len && (!in || !out))) return MTC_ERR_ARG;
#if defined(__x86_64__)
    if (accelerated(ctx->backend)) {
        mtc_ni_cbc_encrypt(ctx->enc, iv16, in, out, len / 16);
        return MTC_OK;
    }
#endif
#if MTC_ARMV8
    if (ctx->backend == MTC_BACKEND_ARMV8) {
        mtc_a8_cbc_encrypt(ctx->enc, iv16, in, out, len / 16);
        return MTC_OK;
    }
#endif
#ifdef MTC_HAVE_VPAES
    if (VPAES(ctx->backend)) {
        mtc_vp_cbc_encrypt(ctx->enc, iv16, in, out, len / 16);
        return MTC_OK;
    }
#endif
    p_cbc_encrypt(ctx->enc, iv16, in, out, len / 16);
    return MTC_OK;
}

int mtc_cbc256_decrypt(const mtc_aes256 *ctx, uint8_t *iv16, const uint8_t *in,
                       uint8_t *out, size_t len)
{
    if (!ctx_ok(ctx) || (len & 15) || !iv16 || (len && (!in || !out))) return MTC_ERR_ARG;
#if defined(__x86_64__)
    if (mtc_rt.aes == MTC_BACKEND_VAES && ctx->backend == MTC_BACKEND_VAES) {
        mtc_vaes_cbc_decrypt(ctx->dec, iv16, in, out, len / 16);
        return MTC_OK;
    }
    if (accelerated(ctx->backend)) {
        mtc_ni_cbc_decrypt(ctx->dec, iv16, in, out, len / 16);
        return MTC_OK;
    }
#endif
#if MTC_ARMV8
    if (ctx->backend == MTC_BACKEND_ARMV8) {
        mtc_a8_cbc_decrypt(ctx->dec, iv16, in, out, len / 16);
        return MTC_OK;
    }
#endif
#ifdef MTC_HAVE_VPAES
    if (VPAES(ctx->backend)) {
        mtc_vp_cbc_decrypt(ctx->dec, iv16, in, out, len / 16);
        return MTC_OK;
    }
#endif
    p_cbc_decrypt(ctx->enc, iv16, in, out, len / 16);
    return MTC_OK;
}

static void ctr_blocks(const mtc_aes256 *ctx, uint8_t *ctr16, const uint8_t *in,
                       uint8_t *out, size_t nblocks)
{
#if defined(__x86_64__)
    if (mtc_rt.aes == MTC_BACKEND_VAES && ctx->backend == MTC_BACKEND_VAES && nblocks >= 16) {
        mtc_vaes_ctr_blocks(ctx->enc, ctr16, in, out, nblocks);
        return;
    }
    if (accelerated(ctx->backend)) {
        mtc_ni_ctr_blocks(ctx->enc, ctr16, in, out, nblocks);
        return;
    }
#endif
#if MTC_ARMV8
    if (ctx->backend == MTC_BACKEND_ARMV8) {
        mtc_a8_ctr_blocks(ctx->enc, ctr16, in, out, nblocks);
        return;
    }
#endif
#ifdef MTC_HAVE_VPAES
    if (VPAES(ctx->backend)) {
        mtc_vp_ctr_blocks(ctx->enc, ctr16, in, out, nblocks);
        return;
    }
#endif
    p_ctr_blocks(ctx->enc, ctr16, in, out, nblocks);
}

int mtc_ctr256(const mtc_aes256 *ctx, uint8_t *counter16, uint8_t *keystream16,
               unsigned int *offset, const uint8_t *in, uint8_t *out, size_t len)
{
    if (!ctx_ok(ctx) || !counter16 || !keystream16 || !offset || (len && (!in || !out)))
        return MTC_ERR_ARG;
    unsigned int used = *offset >= 16 ? 16 : *offset;
    size_t pos = 0;
    /* Drain what is left of the buffered keystream block. */
    while (used < 16 && pos < len) {
        out[pos] = (uint8_t)(in[pos] ^ keystream16[used]);
        pos++;
        used++;
    }
    size_t whole = (len - pos) / 16;
    if (whole) {
        ctr_blocks(ctx, counter16, in + pos, out + pos, whole);
        pos += 16 * whole;
    }
    if (pos < len) {
        uint8_t zero[16] = {0};
        ctr_blocks(ctx, counter16, zero, keystream16, 1);
        used = 0;
        while (pos < len) {
            out[pos] = (uint8_t)(in[pos] ^ keystream16[used]);
            pos++;
            used++;
        }
    }
    *offset = used;
    return MTC_OK;
}

int mtc_ctr256_stream(mtc_ctr256_state *st, const uint8_t *in, uint8_t *out, size_t len)
{
    if (!st) return MTC_ERR_ARG;
    return mtc_ctr256(&st->aes, st->counter, st->keystream, &st->offset, in, out, len);
}
