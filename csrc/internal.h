/* Declarations shared between the C sources; never seen by cffi. */
#ifndef MTCRYPT_INTERNAL_H
#define MTCRYPT_INTERNAL_H

#include "mtcrypt.h"
#include <string.h>

/* Runtime choices made by mtc_select_backend() (cpu.c). */
struct mtc_runtime {
    int cpu;      /* MTC_CPU_* bits detected */
    int aes;      /* MTC_BACKEND_* in use */
    int sha_ni;   /* 1: SHA extensions in use (SHA-NI on x86, ARMv8 SHA1/SHA2) */
    int bn_adx;   /* 1: bn.c multiplies with MULX/ADCX/ADOX (x86-64 with BMI2 and ADX) */
};
extern struct mtc_runtime mtc_rt;

/* Portable constant-time AES-256 (aes_portable.c).  sk holds the bitsliced
 * round keys (120 words), shared by encryption and decryption.  The block
 * functions work in place on nblocks (1..4) consecutive 16-byte blocks. */
void mtc_aesp_expand(uint64_t *sk, const uint8_t *key32);
void mtc_aesp_encrypt(const uint64_t *sk, uint8_t *blocks, size_t nblocks);
void mtc_aesp_decrypt(const uint64_t *sk, uint8_t *blocks, size_t nblocks);

/* Portable and SHA-NI compression functions (sha.c): process nblocks
 * consecutive 64-byte blocks. */
void mtc_sha256_blocks(uint32_t *h, const uint8_t *in, size_t nblocks);
void mtc_sha1_blocks(uint32_t *h, const uint8_t *in, size_t nblocks);
/* Two independent SHA-256 states over nblocks each, interleaved. */
void mtc_sha256_blocks_x2(uint32_t *h_a, const uint8_t *in_a, uint32_t *h_b,
                          const uint8_t *in_b, size_t nblocks);

/* One message of a multi-message IGE call (modes.c builds these). */
struct mtc_ige_job {
    const uint8_t *key;   /* 32 bytes */
    const uint8_t *iv;    /* 32 bytes */
    const uint8_t *in;
    uint8_t *out;         /* == in allowed */
    size_t nblocks;
};
int mtc_ige_batch_jobs(int decrypt, size_t n, const struct mtc_ige_job *jobs);

/* The big-endian 128-bit CTR counter as two 64-bit halves, for the backends
 * that count in registers. */
static inline void mtc_ctr_load(const uint8_t *ctr, uint64_t *hi, uint64_t *lo)
{
    uint64_t h = 0, l = 0;
    for (int i = 0; i < 8; i++) {
        h = (h << 8) | ctr[i];
        l = (l << 8) | ctr[8 + i];
    }
    *hi = h;
    *lo = l;
}

static inline void mtc_ctr_store(uint8_t *ctr, uint64_t hi, uint64_t lo)
{
    for (int i = 7; i >= 0; i--) {
        ctr[i] = (uint8_t)hi;
        ctr[8 + i] = (uint8_t)lo;
        hi >>= 8;
        lo >>= 8;
    }
}

/* Lane-interleaved IGE for the backends with 15-round-key schedules (AES-NI,
 * ARMv8, VAES on 256-bit registers): modes.c keeps the lanes busy
 * (mtc_ige_batch_lanes), the backend supplies its key expansion, its
 * one-chain IGE for short tails, its lane count (eight for the 128-bit code,
 * twelve for VAES with two blocks per register), and `steps`, which runs
 * `steps` blocks on every lane (idle lanes point at a scratch block, so it
 * needs no per-lane branch) and advances in, out and left for the lanes with
 * blocks left. */
#define MTC_IGE_LANES 8
#define MTC_IGE_LANES_MAX 12
struct mtc_ige_lane {
    uint8_t y_prev[16], x_prev[16];   /* previous ciphertext, plaintext block */
    const uint8_t *in;
    uint8_t *out;
    size_t left;                      /* blocks left in the current job */
    int fresh;                        /* set when a job is loaded; a kernel that keeps
                                         its own copy of the schedule clears it */
    uint64_t rk[30];                  /* the enc or dec schedule, 15 x 16 bytes */
};
/* Per-call state a lanes kernel may keep across `steps` calls of one batch
 * (the VAES-256 kernel's pairwise round keys); the scheduler wipes it. */
#define MTC_IGE_KERNEL_STATE 3072
struct mtc_ige_lane_impl {
    void (*expand_enc)(uint64_t *enc, const uint8_t *key32);
    void (*expand_dec)(uint64_t *dec, const uint64_t *enc);
    void (*ige_encrypt)(const uint64_t *enc, uint8_t *iv32, const uint8_t *in, uint8_t *out,
                        size_t nblocks);
    void (*ige_decrypt)(const uint64_t *dec, uint8_t *iv32, const uint8_t *in, uint8_t *out,
                        size_t nblocks);
    void (*steps)(struct mtc_ige_lane *lanes, int decrypt, size_t steps, uint8_t *state);
    int lanes;                        /* MTC_IGE_LANES, or up to MTC_IGE_LANES_MAX */
};
int mtc_ige_batch_lanes(int decrypt, size_t n, const struct mtc_ige_job *jobs,
                        const struct mtc_ige_lane_impl *impl);
/* After one block on every lane: move the busy lanes on. */
static inline void mtc_ige_lanes_advance(struct mtc_ige_lane *lanes)
{
    for (int j = 0; j < MTC_IGE_LANES; j++) {
        if (lanes[j].left) {
            lanes[j].in += 16;
            lanes[j].out += 16;
            lanes[j].left--;
        }
    }
}

#if defined(__x86_64__)
/* AES-NI (aes_ni.c).  Schedules are 15 round keys of 16 bytes. */
void mtc_ni_expand_enc(uint64_t *enc, const uint8_t *key32);
void mtc_ni_expand_dec(uint64_t *dec, const uint64_t *enc);
void mtc_ni_ige_encrypt(const uint64_t *enc, uint8_t *iv32, const uint8_t *in,
                        uint8_t *out, size_t nblocks);
void mtc_ni_ige_decrypt(const uint64_t *dec, uint8_t *iv32, const uint8_t *in,
                        uint8_t *out, size_t nblocks);
void mtc_ni_cbc_encrypt(const uint64_t *enc, uint8_t *iv16, const uint8_t *in,
                        uint8_t *out, size_t nblocks);
void mtc_ni_cbc_decrypt(const uint64_t *dec, uint8_t *iv16, const uint8_t *in,
                        uint8_t *out, size_t nblocks);
void mtc_ni_ctr_blocks(const uint64_t *enc, uint8_t *ctr16, const uint8_t *in,
                       uint8_t *out, size_t nblocks);
int mtc_ni_ige_batch(int decrypt, size_t n, const struct mtc_ige_job *jobs);

/* VAES (aes_vaes.c), same key schedules as AES-NI: 512-bit registers where
 * AVX-512 is usable (MTC_CPU_AVX512), 256-bit ones (AVX2) elsewhere. */
void mtc_vaes_ctr_blocks(const uint64_t *enc, uint8_t *ctr16, const uint8_t *in,
                         uint8_t *out, size_t nblocks);
void mtc_vaes_cbc_decrypt(const uint64_t *dec, uint8_t *iv16, const uint8_t *in,
                          uint8_t *out, size_t nblocks);
int mtc_vaes_ige_batch(int decrypt, size_t n, const struct mtc_ige_job *jobs);
#endif

#if defined(__x86_64__) || defined(__aarch64__)
#define MTC_HAVE_VPAES 1
/* Vector-permute AES (aes_vpaes.c): SSSE3 on x86-64, NEON on aarch64.
 * Schedules are 15 round keys of 16 bytes in the code's own basis; expand
 * fills either schedule (or both; NULL skips one). */
void mtc_vp_expand(uint64_t *enc, uint64_t *dec, const uint8_t *key32);
void mtc_vp_encrypt_blocks(const uint64_t *enc, const uint8_t *in, uint8_t *out, size_t nblocks);
void mtc_vp_decrypt_blocks(const uint64_t *dec, const uint8_t *in, uint8_t *out, size_t nblocks);
void mtc_vp_ige_encrypt(const uint64_t *enc, uint8_t *iv32, const uint8_t *in,
                        uint8_t *out, size_t nblocks);
void mtc_vp_ige_decrypt(const uint64_t *dec, uint8_t *iv32, const uint8_t *in,
                        uint8_t *out, size_t nblocks);
void mtc_vp_cbc_encrypt(const uint64_t *enc, uint8_t *iv16, const uint8_t *in,
                        uint8_t *out, size_t nblocks);
void mtc_vp_cbc_decrypt(const uint64_t *dec, uint8_t *iv16, const uint8_t *in,
                        uint8_t *out, size_t nblocks);
void mtc_vp_ctr_blocks(const uint64_t *enc, uint8_t *ctr16, const uint8_t *in,
                       uint8_t *out, size_t nblocks);
int mtc_vp_ige_batch(int decrypt, size_t n, const struct mtc_ige_job *jobs);
#endif

/* ARMv8 Cryptography Extensions (aes_armv8.c, and the SHA code in sha.c),
 * little-endian aarch64 only; same schedule layout as AES-NI.  Clang before 16
 * declares the crypto intrinsics only when the whole file is compiled for them
 * (e.g. Apple's default arm64 target); without that it builds the portable
 * path alone rather than fail. */
#if defined(__aarch64__) && !defined(__AARCH64EB__) && defined(__GNUC__) &&         \
    (!defined(__clang__) || __clang_major__ >= 16 ||                                 \
     (defined(__ARM_FEATURE_AES) && defined(__ARM_FEATURE_SHA2)))
#define MTC_ARMV8 1
void mtc_a8_expand_enc(uint64_t *enc, const uint8_t *key32);
void mtc_a8_expand_dec(uint64_t *dec, const uint64_t *enc);
void mtc_a8_ige_encrypt(const uint64_t *enc, uint8_t *iv32, const uint8_t *in,
                        uint8_t *out, size_t nblocks);
void mtc_a8_ige_decrypt(const uint64_t *dec, uint8_t *iv32, const uint8_t *in,
                        uint8_t *out, size_t nblocks);
void mtc_a8_cbc_encrypt(const uint64_t *enc, uint8_t *iv16, const uint8_t *in,
                        uint8_t *out, size_t nblocks);
void mtc_a8_cbc_decrypt(const uint64_t *dec, uint8_t *iv16, const uint8_t *in,
                        uint8_t *out, size_t nblocks);
void mtc_a8_ctr_blocks(const uint64_t *enc, uint8_t *ctr16, const uint8_t *in,
                       uint8_t *out, size_t nblocks);
int mtc_a8_ige_batch(int decrypt, size_t n, const struct mtc_ige_job *jobs);
#else
#define MTC_ARMV8 0
#endif

/* Overwrite memory in a way the compiler may not elide. */
void mtc_wipe(void *p, size_t n);

#endif
