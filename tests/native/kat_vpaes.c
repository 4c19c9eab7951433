/*
 * Known-answer and differential test of the vector-permute AES alone
 * (csrc/aes_vpaes.c): on x86-64 it runs the SSSE3 code, on aarch64 the NEON
 * code.  Self-contained: build it with that one source, natively or with a
 * cross compiler, and run it (under qemu-user for another architecture):
 *
 *   gcc -O2 -std=gnu11 -Icsrc tests/native/kat_vpaes.c csrc/aes_vpaes.c -o kat && ./kat
 *   aarch64-linux-gnu-gcc -O2 -std=gnu11 -Icsrc tests/native/kat_vpaes.c csrc/aes_vpaes.c \
 *       -o kat-arm64 && qemu-aarch64 -L /usr/aarch64-linux-gnu ./kat-arm64
 *
 * What it checks:
 *  - published vectors, copied from tests/vectors/ (tests/test_vpaes_native.py
 *    checks that each one is there under the same name): FIPS-197 C.3,
 *    AESAVS, SP 800-38A CBC and CTR, grammers' and tdlib's IGE, in both
 *    directions where the mode has two;
 *  - the multi-message IGE on those vectors, several at once, in place;
 *  - a differential run against the plain FIPS-197 byte-oriented AES-256
 *    below (S-box computed from its definition) on pseudo-random keys and
 *    blocks, both directions.
 * Exit status 0 and a last line "N passed, 0 failed", or 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include "internal.h"

void mtc_wipe(void *p, size_t n)
{
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n--) *v++ = 0;
}

enum { MODE_ECB, MODE_CBC, MODE_CTR, MODE_IGE };

struct vector {
    int mode;
    const char *name, *key, *iv, *plaintext, *ciphertext;
};

static const struct vector vectors[] = {
    {MODE_ECB, "FIPS-197 C.3 AES-256",
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "",
     "00112233445566778899aabbccddeeff",
     "8ea2b7ca516745bfeafc49904b496089"},
    {MODE_ECB, "AESAVS ECBKeySbox256 COUNT=0",
     "c47b0294dbbbee0fec4757f22ffeee3587ca4730c3d33b691df38bab076bc558",
     "",
     "00000000000000000000000000000000",
     "46f2fb342d6f0ab477476fc501242c5f"},
    {MODE_ECB, "AESAVS ECBGFSbox256 COUNT=0",
     "0000000000000000000000000000000000000000000000000000000000000000",
     "",
     "014730f80ac625fe84f026c60bfd547d",
     "5c9d844ed46f9885085e5d6a4f94c7d7"},
    {MODE_CBC, "SP800-38A F.2.5/F.2.6 CBC-AES256",
     "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
     "000102030405060708090a0b0c0d0e0f",
     "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
     "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b"},
    {MODE_CTR, "SP800-38A F.5.5/F.5.6 CTR-AES256",
     "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
     "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
     "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
     "601ec313775789a5b7a7f504bbf3d228f443e3ca4d62b59aca84e990cacaf5c52b0930daa23de94ce87017ba2d84988ddfc9c58db67aada613c2dd08457941a6"},
    {MODE_IGE, "grammers verify_ige_encryption (key=iv=plaintext=00..1f)",
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "e28112a53e5c89c7b1ea8071c133699fd4e86b26c4bac9fc5af1ab8ce27a44a4"},
    {MODE_IGE, "grammers verify_ige_decryption (key=iv=ciphertext=00..1f)",
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
     "e5777afacd7b2c16f7ac40cae61ef603fee6098fb8a8860ab9ee672cd7e5bacc",
     "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"},
    {MODE_IGE, "tdlib AesIgeState length 16",
     "d48738a34a08cf4f4675a41f19d7cf52a7a7fc9962cf66174ea7d85bfdf8ad67",
     "92fcd0adc15bbb0dcb3079d88402a5d04ecc6b261ef6847a74593cdf653f6ed4",
     "6153cb81c0c03e6ffa5422dc1f595247",
     "11f422b6abcd37a927c1a8ebdbccdd5f"},
};

static int passed, failed;

static void check(int ok, const char *what, const char *name)
{
    if (ok) {
        passed++;
    } else {
        failed++;
        printf("FAIL %s: %s\n", what, name);
    }
}

static size_t unhex(const char *s, uint8_t *out)
{
    size_t n = 0;
    for (; s[0] && s[1]; s += 2) {
        char b[3] = {s[0], s[1], 0};
        out[n++] = (uint8_t)strtoul(b, NULL, 16);
    }
    return n;
}

/* ---- a plain reference AES-256 (FIPS-197 as written; not constant time) ---- */

static uint8_t sbox[256], inv_sbox[256];

static uint8_t gmul(uint8_t a, uint8_t b)
{
    uint8_t r = 0;
    while (b) {
        if (b & 1) r ^= a;
        a = (uint8_t)((a << 1) ^ ((a & 0x80) ? 0x1b : 0));
        b >>= 1;
    }
    return r;
}

static void ref_init(void)
{
    for (int x = 0; x < 256; x++) {
        uint8_t inv = 0;
        for (int y = 1; y < 256 && x; y++)
            if (gmul((uint8_t)x, (uint8_t)y) == 1) inv = (uint8_t)y;
        uint8_t s = inv;
        for (int k = 1; k < 5; k++) s ^= (uint8_t)((inv << k) | (inv >> (8 - k)));
        sbox[x] = (uint8_t)(s ^ 0x63);
        inv_sbox[sbox[x]] = (uint8_t)x;
    }
}

static void ref_expand(uint8_t rk[240], const uint8_t key[32])
{
    uint8_t rcon = 1;
    memcpy(rk, key, 32);
    for (int i = 8; i < 60; i++) {
        uint8_t t[4];
        memcpy(t, rk + 4 * (i - 1), 4);
        if (i % 8 == 0) {
            uint8_t r = t[0];
            t[0] = (uint8_t)(sbox[t[1]] ^ rcon);
            t[1] = sbox[t[2]];
            t[2] = sbox[t[3]];
            t[3] = sbox[r];
            rcon = gmul(rcon, 2);
        } else if (i % 8 == 4) {
            for (int j = 0; j < 4; j++) t[j] = sbox[t[j]];
        }
        for (int j = 0; j < 4; j++) rk[4 * i + j] = (uint8_t)(rk[4 * (i - 8) + j] ^ t[j]);
    }
}

static void ref_block(const uint8_t rk[240], uint8_t s[16], int decrypt)
{
    uint8_t t[16];
    int first = decrypt ? 14 : 0;
    for (int i = 0; i < 16; i++) s[i] ^= rk[16 * first + i];
    for (int round = 1; round <= 14; round++) {
        int r = decrypt ? 14 - round : round;
        if (!decrypt) {
            for (int i = 0; i < 16; i++) t[i] = sbox[s[(i + 4 * (i % 4)) % 16]];
            if (round < 14)
                for (int c = 0; c < 4; c++) {
                    uint8_t *q = t + 4 * c, a0 = q[0], a1 = q[1], a2 = q[2], a3 = q[3];
                    q[0] = (uint8_t)(gmul(a0, 2) ^ gmul(a1, 3) ^ a2 ^ a3);
                    q[1] = (uint8_t)(a0 ^ gmul(a1, 2) ^ gmul(a2, 3) ^ a3);
                    q[2] = (uint8_t)(a0 ^ a1 ^ gmul(a2, 2) ^ gmul(a3, 3));
                    q[3] = (uint8_t)(gmul(a0, 3) ^ a1 ^ a2 ^ gmul(a3, 2));
                }
            for (int i = 0; i < 16; i++) s[i] = (uint8_t)(t[i] ^ rk[16 * r + i]);
        } else {
            for (int i = 0; i < 16; i++) t[(i + 4 * (i % 4)) % 16] = inv_sbox[s[i]];
            for (int i = 0; i < 16; i++) t[i] ^= rk[16 * r + i];
            if (round < 14)
                for (int c = 0; c < 4; c++) {
                    uint8_t *q = t + 4 * c, a0 = q[0], a1 = q[1], a2 = q[2], a3 = q[3];
                    q[0] = (uint8_t)(gmul(a0, 14) ^ gmul(a1, 11) ^ gmul(a2, 13) ^ gmul(a3, 9));
                    q[1] = (uint8_t)(gmul(a0, 9) ^ gmul(a1, 14) ^ gmul(a2, 11) ^ gmul(a3, 13));
                    q[2] = (uint8_t)(gmul(a0, 13) ^ gmul(a1, 9) ^ gmul(a2, 14) ^ gmul(a3, 11));
                    q[3] = (uint8_t)(gmul(a0, 11) ^ gmul(a1, 13) ^ gmul(a2, 9) ^ gmul(a3, 14));
                }
            memcpy(s, t, 16);
        }
    }
}

/* ---- the checks ------------------------------------------------------------ */

static void run_vector(const struct vector *v)
{
    uint8_t key[32], iv[32], pt[2048], ct[2048], out[2048], chain[32];
    uint64_t enc[30], dec[30];
    unhex(v->key, key);
    size_t ivn = unhex(v->iv, iv);
    size_t n = unhex(v->plaintext, pt);
    if (unhex(v->ciphertext, ct) != n || n % 16) {
        check(0, "vector lengths", v->name);
        return;
    }
    mtc_vp_expand(enc, dec, key);
    switch (v->mode) {
    case MODE_ECB:
        mtc_vp_encrypt_blocks(enc, pt, out, n / 16);
        check(memcmp(out, ct, n) == 0, "ECB encrypt", v->name);
        mtc_vp_decrypt_blocks(dec, ct, out, n / 16);
        check(memcmp(out, pt, n) == 0, "ECB decrypt", v->name);
        break;
    case MODE_CBC:
        memcpy(chain, iv, ivn);
        mtc_vp_cbc_encrypt(enc, chain, pt, out, n / 16);
        check(memcmp(out, ct, n) == 0 && memcmp(chain, ct + n - 16, 16) == 0, "CBC encrypt",
              v->name);
        memcpy(chain, iv, ivn);
        mtc_vp_cbc_decrypt(dec, chain, ct, out, n / 16);
        check(memcmp(out, pt, n) == 0 && memcmp(chain, ct + n - 16, 16) == 0, "CBC decrypt",
              v->name);
        break;
    case MODE_CTR:
        memcpy(chain, iv, ivn);
        mtc_vp_ctr_blocks(enc, chain, pt, out, n / 16);
        check(memcmp(out, ct, n) == 0, "CTR", v->name);
        break;
    case MODE_IGE:
        memcpy(chain, iv, 32);
        mtc_vp_ige_encrypt(enc, chain, pt, out, n / 16);
        check(memcmp(out, ct, n) == 0, "IGE encrypt", v->name);
        memcpy(chain, iv, 32);
        mtc_vp_ige_decrypt(dec, chain, ct, out, n / 16);
        check(memcmp(out, pt, n) == 0, "IGE decrypt", v->name);
        break;
    default:
        check(0, "mode", v->name);
    }
}

/* Every IGE vector three times over, as one multi-message call, in place. */
static void run_batch(int decrypt)
{
    enum { MAXJ = 32 };
    static uint8_t keys[MAXJ][32], ivs[MAXJ][32], bufs[MAXJ][2048], want[MAXJ][2048];
    struct mtc_ige_job jobs[MAXJ];
    size_t nj = 0;
    for (int rep = 0; rep < 3; rep++)
        for (size_t i = 0; i < sizeof vectors / sizeof *vectors && nj < MAXJ; i++) {
            const struct vector *v = &vectors[i];
            if (v->mode != MODE_IGE) continue;
            unhex(v->key, keys[nj]);
            unhex(v->iv, ivs[nj]);
            size_t n = unhex(decrypt ? v->ciphertext : v->plaintext, bufs[nj]);
            unhex(decrypt ? v->plaintext : v->ciphertext, want[nj]);
            jobs[nj] = (struct mtc_ige_job){keys[nj], ivs[nj], bufs[nj], bufs[nj], n / 16};
            nj++;
        }
    int rc = mtc_vp_ige_batch(decrypt, nj, jobs);
    int ok = rc == MTC_OK;
    for (size_t j = 0; j < nj; j++) ok &= memcmp(bufs[j], want[j], 16 * jobs[j].nblocks) == 0;
    check(ok, decrypt ? "batch IGE decrypt" : "batch IGE encrypt", "the IGE vectors x3");
}

/* vpaes against the reference on pseudo-random keys and blocks. */
static void run_differential(unsigned rounds)
{
    uint32_t x = 0x9e3779b9u;
    int ok = 1;
    for (unsigned t = 0; t < rounds; t++) {
        uint8_t key[32], blk[64], a[64], b[64], rk[240];
        uint64_t enc[30], dec[30];
        for (int i = 0; i < 32; i++) key[i] = (uint8_t)((x = x * 1664525u + 1013904223u) >> 24);
        for (int i = 0; i < 64; i++) blk[i] = (uint8_t)((x = x * 1664525u + 1013904223u) >> 24);
        mtc_vp_expand(enc, dec, key);
        ref_expand(rk, key);
        mtc_vp_encrypt_blocks(enc, blk, a, 4);
        memcpy(b, blk, 64);
        for (int j = 0; j < 4; j++) ref_block(rk, b + 16 * j, 0);
        ok &= memcmp(a, b, 64) == 0;
        mtc_vp_decrypt_blocks(dec, blk, a, 4);
        memcpy(b, blk, 64);
        for (int j = 0; j < 4; j++) ref_block(rk, b + 16 * j, 1);
        ok &= memcmp(a, b, 64) == 0;
    }
    check(ok, "differential against the reference AES", "pseudo-random keys and blocks");
}

int main(void)
{
    ref_init();
    for (size_t i = 0; i < sizeof vectors / sizeof *vectors; i++) run_vector(&vectors[i]);
    run_batch(0);
    run_batch(1);
    run_differential(300);
#if defined(__aarch64__)
    printf("vpaes (NEON) known answers: ");
#else
    printf("vpaes (SSSE3) known answers: ");
#endif
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
