/*
 * mtcrypt native core: the one public header.
 *
 * The region between the CDEF markers is fed verbatim to cffi's cdef(), so it
 * may only hold plain declarations (no preprocessor lines, no attributes).
 * Every function validates nothing it cannot trust the Python layer to have
 * checked already, but none of them crashes on a zero length, and every
 * function that can fail returns a status code (MTC_OK == 0).
 */
#ifndef MTCRYPT_H
#define MTCRYPT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* BEGIN CDEF */

enum {
    MTC_OK = 0,
    MTC_ERR_ARG = -1,          /* a length or argument the caller should have rejected */
    MTC_ERR_DECRYPT = -2,      /* the one opaque decryption failure */
    MTC_ERR_UNAVAILABLE = -3,  /* the requested backend is not supported by this CPU */
    MTC_ERR_NOMEM = -4         /* scratch memory could not be allocated */
};

/* CPU feature bits reported by mtc_cpu_features(). */
enum {
    MTC_CPU_AESNI = 1,
    MTC_CPU_PCLMUL = 2,    /* carry-less multiply: PCLMULQDQ, or PMULL on aarch64 */
    MTC_CPU_AVX2 = 4,
    MTC_CPU_AVX512 = 8,    /* AVX-512 F + VL + BW usable (OS saves ZMM state) */
    MTC_CPU_VAES = 16,     /* VAES usable with AVX2 (256-bit); 512-bit too if MTC_CPU_AVX512 */
    MTC_CPU_SHANI = 32,
    MTC_CPU_SSSE3 = 64,
    MTC_CPU_SSE41 = 128,
    MTC_CPU_NEON = 256,        /* aarch64 Advanced SIMD (HWCAP_ASIMD) */
    MTC_CPU_ARMV8_AES = 512,   /* ARMv8 AESE/AESD/AESMC/AESIMC (HWCAP_AES) */
    MTC_CPU_ARMV8_SHA = 1024,  /* ARMv8 SHA-1 and SHA-256 (HWCAP_SHA1 and HWCAP_SHA2) */
    MTC_CPU_ADX = 2048         /* x86-64 BMI2 (MULX) and ADX (ADCX/ADOX), for bn.c */
};

/* AES backends. */
enum {
    MTC_BACKEND_AUTO = 0,
    MTC_BACKEND_PORTABLE = 1,  /* bitsliced, constant time, plain C */
    MTC_BACKEND_AESNI = 2,     /* AES-NI on 128-bit registers */
    MTC_BACKEND_VAES = 3,      /* AES-NI for serial chains, VAES (512- or 256-bit) for parallel work */
    MTC_BACKEND_VPAES = 4,     /* vector permutes (SSSE3 or NEON byte shuffles), constant time */
    MTC_BACKEND_ARMV8 = 5      /* ARMv8 Cryptography Extensions (aarch64) */
};

int mtc_cpu_features(void);
/* Select the AES and SHA implementations; AUTO picks the best available.
 * Returns the backend now in use, or MTC_ERR_UNAVAILABLE. */
int mtc_select_backend(int backend);
int mtc_backend(void);
/* 1 when SHA-1/SHA-256 use the CPU's SHA instructions (SHA-NI on x86, the
 * ARMv8 SHA extensions on aarch64), 0 for portable code. */
int mtc_sha_accelerated(void);

/* An expanded AES-256 key, opaque to callers. The layout depends on the
 * backend that expanded it; every function checks `backend` first. */
typedef struct mtc_aes256 {
    uint64_t enc[120];
    uint64_t dec[120];
    int backend;
    int ready;
} mtc_aes256;

int mtc_aes256_init(mtc_aes256 *ctx, const uint8_t *key32);
void mtc_aes256_wipe(mtc_aes256 *ctx);

/* IGE (Telegram/OpenSSL convention: iv[0:16] = previous ciphertext block,
 * iv[16:32] = previous plaintext block).  len must be a multiple of 16.
 * in == out is allowed.  iv32 is updated to the chaining state after the
 * last block, so consecutive calls continue one stream. */
int mtc_ige256_encrypt(const mtc_aes256 *ctx, uint8_t *iv32,
                       const uint8_t *in, uint8_t *out, size_t len);
int mtc_ige256_decrypt(const mtc_aes256 *ctx, uint8_t *iv32,
                       const uint8_t *in, uint8_t *out, size_t len);
/* One-shot forms with a raw key; the IV is not modified. */
int mtc_ige256_encrypt_key(const uint8_t *key32, const uint8_t *iv32,
                           const uint8_t *in, uint8_t *out, size_t len);
int mtc_ige256_decrypt_key(const uint8_t *key32, const uint8_t *iv32,
                           const uint8_t *in, uint8_t *out, size_t len);

/* Many independent IGE messages in one call, interleaved across the AES
 * pipelines.  keys: n*32 bytes, ivs: n*32 bytes, lens: n lengths (each a
 * multiple of 16), in/out: the messages back to back (in == out allowed). */
int mtc_ige256_batch(int decrypt, size_t n, const uint8_t *keys,
                     const uint8_t *ivs, const uint64_t *lens,
                     const uint8_t *in, uint8_t *out);

/* The same with one pointer per message, for messages that are not packed
 * (the list-in, list-out batch): keys[i] and ivs[i] point at 32 bytes,
 * ins[i] and outs[i] at lens[i] bytes (a multiple of 16; ins[i] == outs[i]
 * allowed, other overlaps not). */
int mtc_ige256_batch_ptrs(int decrypt, size_t n, const uint8_t *const *keys,
                          const uint8_t *const *ivs, const uint64_t *lens,
                          const uint8_t *const *ins, uint8_t *const *outs);

/* CBC; len a multiple of 16; iv16 is updated for chaining. */
int mtc_cbc256_encrypt(const mtc_aes256 *ctx, uint8_t *iv16,
                       const uint8_t *in, uint8_t *out, size_t len);
int mtc_cbc256_decrypt(const mtc_aes256 *ctx, uint8_t *iv16,
                       const uint8_t *in, uint8_t *out, size_t len);

/* CTR with a 128-bit big-endian counter that wraps modulo 2^128.
 * counter16 is the next counter block, keystream16 the keystream of the
 * previous counter block, *offset (0..15) how much of it is used; 16 or
 * more means none is buffered.  Any chunk sizes. */
int mtc_ctr256(const mtc_aes256 *ctx, uint8_t *counter16, uint8_t *keystream16,
               unsigned int *offset, const uint8_t *in, uint8_t *out, size_t len);

/* Hashes. */
typedef struct mtc_sha256_ctx {
    uint32_t h[8];
    uint64_t total;
    uint8_t buf[64];
    uint32_t buflen;
} mtc_sha256_ctx;

typedef struct mtc_sha1_ctx {
    uint32_t h[5];
    uint64_t total;
    uint8_t buf[64];
    uint32_t buflen;
} mtc_sha1_ctx;

void mtc_sha256_init(mtc_sha256_ctx *ctx);
void mtc_sha256_update(mtc_sha256_ctx *ctx, const uint8_t *in, size_t len);
void mtc_sha256_final(mtc_sha256_ctx *ctx, uint8_t *out32);
void mtc_sha256(const uint8_t *in, size_t len, uint8_t *out32);

void mtc_sha1_init(mtc_sha1_ctx *ctx);
void mtc_sha1_update(mtc_sha1_ctx *ctx, const uint8_t *in, size_t len);
void mtc_sha1_final(mtc_sha1_ctx *ctx, uint8_t *out20);
void mtc_sha1(const uint8_t *in, size_t len, uint8_t *out20);

/* ---- MTProto 2.0 messages (message.c) ----
 * x = 0 for client-to-server messages, 8 for server-to-client.
 *
 * seal: out = auth_key_id(8) | msg_key(16) | IGE(plain | padding).
 * plain = salt | session_id | msg_id | seq_no | length | body, with the
 * length field equal to plain_len - 32 (a multiple of 4); pad_len in
 * 12..1024 and plain_len + pad_len a multiple of 16 (else MTC_ERR_ARG).
 * out holds 24 + plain_len + pad_len bytes.  msg_key_large (32 bytes, may be
 * NULL) receives the full SHA-256 for the quick-ack token. */
int mtc_msg_seal(const uint8_t *auth_key256, const uint8_t *key_id8, int x,
                 const uint8_t *plain, size_t plain_len,
                 const uint8_t *padding, size_t pad_len,
                 uint8_t *out, uint8_t *msg_key_large);

/* seal with random padding from the native generator (drbg.c): pad_len is
 * 12..27 to a multiple of 16 plus 16 * extra_blocks (at most 1024). */
int mtc_msg_seal_random(const uint8_t *auth_key256, const uint8_t *key_id8, int x,
                        const uint8_t *plain, size_t plain_len, size_t extra_blocks,
                        uint8_t *out);

/* The same for a plaintext in two pieces, head | tail (head holds at least
 * the 32-byte header): no caller-side concatenation of a large body.  out
 * holds 24 + head_len + tail_len + pad_len bytes and must not overlap the
 * pieces.  (mtc_msg_seal and mtc_msg_seal_random also accept plain ==
 * out + 24: the plaintext laid out in place.) */
int mtc_msg_seal_random_parts(const uint8_t *auth_key256, const uint8_t *key_id8, int x,
                              const uint8_t *head, size_t head_len, const uint8_t *tail,
                              size_t tail_len, size_t extra_blocks, uint8_t *out);

/* open: packet = auth_key_id | msg_key | encrypted.  A packet whose size or
 * key id is wrong (public facts) fails at once; otherwise everything is
 * decrypted into plain (len - 24 bytes), msg_key is checked in constant time
 * and then the length field and the padding (12..1024), without an early
 * exit.  Returns message_data_length (>= 0) on success; MTC_ERR_DECRYPT for
 * any failure (plain zeroed); MTC_ERR_ARG for a malformed call. */
int mtc_msg_open(const uint8_t *auth_key256, const uint8_t *key_id8, int x,
                 const uint8_t *packet, size_t len, uint8_t *plain);

/* Secret chats (end-to-end): the same construction with a 4-byte header,
 * plain = int32 length | payload (length == plain_len - 4, a multiple of 4),
 * the key fingerprint in place of the auth_key_id, and x = 0 for messages
 * from the chat's creator, 8 for the other direction.  Same argument rules,
 * output size and failure behaviour as mtc_msg_seal / mtc_msg_open; open
 * returns the payload length, the payload being plain[4 .. 4 + length). */
int mtc_e2e_seal(const uint8_t *auth_key256, const uint8_t *key_fingerprint8, int x,
                 const uint8_t *plain, size_t plain_len,
                 const uint8_t *padding, size_t pad_len, uint8_t *out);
int mtc_e2e_open(const uint8_t *auth_key256, const uint8_t *key_fingerprint8, int x,
                 const uint8_t *packet, size_t len, uint8_t *plain);

/* The MTProto 2.0 KDF alone (also used by secret chats): aes_key and aes_iv
 * (32 bytes each) from the auth key and a 16-byte msg_key. */
int mtc_kdf2(const uint8_t *auth_key256, int x, const uint8_t *msg_key16,
             uint8_t *aes_key32, uint8_t *aes_iv32);

/* Batches: n messages with one auth key and direction, interleaved on the
 * AES pipelines.  seal: plains back to back (lengths plain_lens), paddings
 * back to back (pad_lens), outs back to back (24 + plain + pad each).
 * open: packets back to back (packet_lens); plains has packet_len - 24 bytes
 * per packet of at least 24 bytes; results[i] is the data length or
 * MTC_ERR_DECRYPT.  Both return MTC_OK when the call itself was well formed. */
int mtc_msg_seal_batch(const uint8_t *auth_key256, const uint8_t *key_id8, int x, size_t n,
                       const uint8_t *plains, const uint64_t *plain_lens,
                       const uint8_t *paddings, const uint64_t *pad_lens,
                       uint8_t *outs);
int mtc_msg_open_batch(const uint8_t *auth_key256, const uint8_t *key_id8, int x, size_t n,
                       const uint8_t *packets, const uint64_t *packet_lens,
                       uint8_t *plains, int *results);
/* The same with a buffer per message (what the Python entries hand over).
 * seal: outs[i] holds 24 + plain_lens[i] + the least padding (12..27 bytes,
 * from the core's generator, mtc_random_bytes); a refusal leaves no
 * plaintext in them.  open: plains[i] holds packet_lens[i] - 24 bytes for a
 * packet of at least 24 bytes (NULL allowed below that). */
int mtc_msg_seal_random_batch(const uint8_t *auth_key256, const uint8_t *key_id8, int x, size_t n,
                              const uint8_t *const *plains, const uint64_t *plain_lens,
                              uint8_t *const *outs);
int mtc_msg_open_batch_ptrs(const uint8_t *auth_key256, const uint8_t *key_id8, int x, size_t n,
                            const uint8_t *const *packets, const uint64_t *packet_lens,
                            uint8_t *const *plains, int *results);

/* Zero memory in a way the compiler cannot elide (cpu.c). */
void mtc_wipe(void *p, size_t n);

/* ---- randomness (drbg.c) ----
 * n bytes from a per-thread AES-256-CTR generator with fast key erasure,
 * seeded from the kernel CSPRNG and reseeded after fork. */
int mtc_random_bytes(uint8_t *out, size_t n);

/* ---- AES-CTR stream state in one object (fewer arguments per call) ---- */
typedef struct mtc_ctr256_state {
    mtc_aes256 aes;
    uint8_t counter[16];
    uint8_t keystream[16];
    unsigned int offset;
} mtc_ctr256_state;
int mtc_ctr256_stream(mtc_ctr256_state *st, const uint8_t *in, uint8_t *out, size_t len);

/* ---- handshake helpers (pq.c); pq is public ---- */
/* Split pq into p <= q with p * q == pq, both > 1.  MTC_ERR_ARG when pq is
 * below 4, prime, or resists factoring. */
int mtc_factorize_pq(uint64_t pq, uint64_t *p, uint64_t *q);
/* 1 when n is prime (deterministic for every 64-bit n). */
int mtc_is_prime_u64(uint64_t n);

/* ---- legacy RSA padding, server side (rsa_legacy.c) ----
 * block256 is a decrypted req_DH_params block, 00 | SHA1(data) | data | random.
 * data is checked against n (1..4) candidate templates: template k is
 * expect[k*235 .. k*235+lens[k]) with mask likewise (bits set where data must
 * equal expect; mask bytes at or past lens[k] are ignored), lens[k] in 1..235.
 * Accept iff block[0] == 0, SHA1(block[21:21+lens[k]]) == block[1:21] and the
 * masked bytes match, for some k.  Constant time in the block: every candidate
 * is hashed and compared, no branch or memory index depends on the block.
 * Returns MTC_OK with *index the first matching k, or MTC_ERR_DECRYPT with
 * *index = -1; MTC_ERR_ARG (nothing read) for a malformed call. */
enum {
    MTC_RSA_LEGACY_MAX_DATA = 235,     /* 256 - 1 - 20 */
    MTC_RSA_LEGACY_MAX_CANDIDATES = 4
};
int mtc_rsa_legacy_check(const uint8_t *block256, size_t n, const uint8_t *expect,
                         const uint8_t *mask, const uint32_t *lens, int *index);

/* ---- modular exponentiation (bn.c) ----
 * Odd moduli of 1..MTC_BN_MAX_BYTES big-endian bytes (value at least 3);
 * every number is big-endian and mod_len bytes long except the exponent,
 * whose length exp_len (0..MTC_BN_MAX_BYTES) the caller fixes: it is public,
 * the exponent's bits are not.  Constant time in the exponent, the base and
 * the modulus' value (Montgomery multiplication, a fixed number of windows,
 * table entries selected by reading them all, masked final subtraction).
 * The base may be any mod_len-byte value, also one >= mod.  MTC_ERR_ARG for
 * an even modulus, one below 3, one with a leading zero byte (mod_len is its
 * minimal length), or a bad length. */
enum {
    MTC_BN_MAX_BYTES = 512     /* 4096 bits */
};
int mtc_modexp(const uint8_t *base, const uint8_t *exp, size_t exp_len, const uint8_t *mod,
               size_t mod_len, uint8_t *out);

/* Fixed base: a table for one (base, mod) pair and exponents of exactly
 * exp_len bytes (1..MTC_BN_MAX_BYTES), then one multiplication per 4-bit
 * window and no squaring.  mtc_modexp_fixed_words is the table's size in
 * 64-bit words (0 for impossible lengths); init fills it (the table holds
 * only values derived from base and mod); mtc_modexp_fixed refuses a table
 * of another size or for other lengths. */
size_t mtc_modexp_fixed_words(size_t mod_len, size_t exp_len);
int mtc_modexp_fixed_init(uint64_t *table, size_t words, const uint8_t *base, const uint8_t *mod,
                          size_t mod_len, size_t exp_len);
int mtc_modexp_fixed(const uint64_t *table, size_t words, const uint8_t *exp, size_t exp_len,
                     uint8_t *out, size_t mod_len);

/* END CDEF */

#ifdef __cplusplus
}
#endif

#endif /* MTCRYPT_H */
