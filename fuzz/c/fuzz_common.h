/*
 * Shared helpers for the libFuzzer harnesses of the C core.
 *
 * Every harness is a plain LLVMFuzzerTestOneInput, built by fuzz/build.sh
 * with clang -fsanitize=fuzzer,address,undefined, or by
 * tests/test_sanitizer.py with gcc -fsanitize=address,undefined and
 * replay_main.c (which feeds files to the same function).
 *
 * A broken oracle calls FUZZ_FAIL, which prints what disagreed and aborts:
 * libFuzzer then saves the input as a crash, exactly like a sanitizer report.
 */
#ifndef MTCRYPT_FUZZ_COMMON_H
#define MTCRYPT_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mtcrypt.h"

#define FUZZ_FAIL(...)                                                          \
    do {                                                                        \
        fprintf(stderr, "ORACLE FAILURE %s:%d: ", __FILE__, __LINE__);          \
        fprintf(stderr, __VA_ARGS__);                                           \
        fputc('\n', stderr);                                                    \
        abort();                                                                \
    } while (0)

#define FUZZ_CHECK(cond, ...)                                                   \
    do {                                                                        \
        if (!(cond)) FUZZ_FAIL(__VA_ARGS__);                                    \
    } while (0)

/* A cursor over the fuzzer's bytes.  Reads past the end yield zeros, so a
 * harness never has to special-case short inputs. */
struct fuzz_in {
    const uint8_t *p;
    size_t n;
};

static inline uint8_t fz_u8(struct fuzz_in *in)
{
    if (!in->n) return 0;
    in->n--;
    return *in->p++;
}

static inline uint32_t fz_u16(struct fuzz_in *in)
{
    uint32_t lo = fz_u8(in);
    return lo | ((uint32_t)fz_u8(in) << 8);
}

static inline uint64_t fz_u64(struct fuzz_in *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v |= (uint64_t)fz_u8(in) << (8 * i);
    return v;
}

/* Copy up to n bytes into dst, zero-filling what the input lacks. */
static inline void fz_fill(struct fuzz_in *in, uint8_t *dst, size_t n)
{
    size_t k = in->n < n ? in->n : n;
    if (k) memcpy(dst, in->p, k);
    if (n > k) memset(dst + k, 0, n - k);
    in->p += k;
    in->n -= k;
}

/* An exactly sized heap copy (never NULL, even for n == 0), so that
 * AddressSanitizer sees any read or write one byte past the end. */
static inline uint8_t *fz_dup(const uint8_t *src, size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    if (!p) abort();
    if (n) memcpy(p, src, n);
    return p;
}

static inline uint8_t *fz_alloc(size_t n, uint8_t fill)
{
    uint8_t *p = malloc(n ? n : 1);
    if (!p) abort();
    memset(p, fill, n);
    return p;
}

/* The AES backends this CPU runs, portable first (the reference). */
static int fz_backends[3];
static int fz_nbackends;

static inline void fz_init_backends(void)
{
    if (fz_nbackends) return;
    static const int all[3] = {MTC_BACKEND_PORTABLE, MTC_BACKEND_AESNI, MTC_BACKEND_VAES};
    for (int i = 0; i < 3; i++)
        if (mtc_select_backend(all[i]) == all[i]) fz_backends[fz_nbackends++] = all[i];
    mtc_select_backend(MTC_BACKEND_PORTABLE);
}

static inline void fz_use(int backend)
{
    if (mtc_select_backend(backend) != backend) FUZZ_FAIL("backend %d vanished", backend);
}

static inline const char *fz_name(int backend)
{
    switch (backend) {
    case MTC_BACKEND_PORTABLE: return "portable";
    case MTC_BACKEND_AESNI: return "aesni";
    case MTC_BACKEND_VAES: return "vaes";
    default: return "?";
    }
}

/* The fixed auth key of the message harnesses; fuzz/gen_corpus.py and the
 * Python harnesses use the same formula, so seeds are valid packets. */
static inline void fz_auth_key(uint8_t key[256], uint8_t key_id[8])
{
    uint8_t digest[20];
    for (int i = 0; i < 256; i++) key[i] = (uint8_t)(i * 29 + 7);
    mtc_sha1(key, 256, digest);
    memcpy(key_id, digest + 12, 8);
}

static inline uint32_t fz_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

static inline void fz_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

#endif
