/*
 * Textbook SHA-1 and SHA-256 (FIPS 180-4 section 6), written for clarity
 * and independently of csrc/sha.c: the second computation the SHA harness
 * compares against.  Whole message in, digest out; no streaming, no speed.
 */
#ifndef MTCRYPT_FUZZ_REF_SHA_H
#define MTCRYPT_FUZZ_REF_SHA_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define REF_ROTR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define REF_ROTL(x, n) (((x) << (n)) | ((x) >> (32 - (n))))

/* The padded message: data | 0x80 | zeros | 64-bit big-endian bit length. */
static uint8_t *ref_pad(const uint8_t *data, size_t len, size_t *padded_len)
{
    size_t n = ((len + 8) / 64 + 1) * 64;
    uint8_t *m = calloc(n, 1);
    if (!m) abort();
    if (len) memcpy(m, data, len);
    m[len] = 0x80;
    uint64_t bits = (uint64_t)len * 8;
    for (int i = 0; i < 8; i++) m[n - 1 - i] = (uint8_t)(bits >> (8 * i));
    *padded_len = n;
    return m;
}

static uint32_t ref_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static void ref_sha256(const uint8_t *data, size_t len, uint8_t out[32])
{
    static const uint32_t k[64] = {
        0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
        0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
        0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
        0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
        0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
        0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
        0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
        0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
        0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
        0xc67178f2};
    uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                     0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
    size_t n;
    uint8_t *m = ref_pad(data, len, &n);
    for (size_t blk = 0; blk < n; blk += 64) {
        uint32_t w[64];
        for (int t = 0; t < 16; t++) w[t] = ref_be32(m + blk + 4 * t);
        for (int t = 16; t < 64; t++) {
            uint32_t s0 = REF_ROTR(w[t - 15], 7) ^ REF_ROTR(w[t - 15], 18) ^ (w[t - 15] >> 3);
            uint32_t s1 = REF_ROTR(w[t - 2], 17) ^ REF_ROTR(w[t - 2], 19) ^ (w[t - 2] >> 10);
            w[t] = w[t - 16] + s0 + w[t - 7] + s1;
        }
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
        for (int t = 0; t < 64; t++) {
            uint32_t t1 = hh + (REF_ROTR(e, 6) ^ REF_ROTR(e, 11) ^ REF_ROTR(e, 25)) +
                          ((e & f) ^ (~e & g)) + k[t] + w[t];
            uint32_t t2 = (REF_ROTR(a, 2) ^ REF_ROTR(a, 13) ^ REF_ROTR(a, 22)) +
                          ((a & b) ^ (a & c) ^ (b & c));
            hh = g;
            g = f;
            f = e;
            e = d + t1;
            d = c;
            c = b;
            b = a;
            a = t1 + t2;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
    }
    free(m);
    for (int i = 0; i < 8; i++)
        for (int j = 0; j < 4; j++) out[4 * i + j] = (uint8_t)(h[i] >> (24 - 8 * j));
}

static void ref_sha1(const uint8_t *data, size_t len, uint8_t out[20])
{
    uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    size_t n;
    uint8_t *m = ref_pad(data, len, &n);
    for (size_t blk = 0; blk < n; blk += 64) {
        uint32_t w[80];
        for (int t = 0; t < 16; t++) w[t] = ref_be32(m + blk + 4 * t);
        for (int t = 16; t < 80; t++) w[t] = REF_ROTL(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
        uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];
        for (int t = 0; t < 80; t++) {
            uint32_t f, k;
            if (t < 20) f = (b & c) | (~b & d), k = 0x5a827999;
            else if (t < 40) f = b ^ c ^ d, k = 0x6ed9eba1;
            else if (t < 60) f = (b & c) | (b & d) | (c & d), k = 0x8f1bbcdc;
            else f = b ^ c ^ d, k = 0xca62c1d6;
            uint32_t tmp = REF_ROTL(a, 5) + f + e + k + w[t];
            e = d;
            d = c;
            c = REF_ROTL(b, 30);
            b = a;
            a = tmp;
        }
        h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e;
    }
    free(m);
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 4; j++) out[4 * i + j] = (uint8_t)(h[i] >> (24 - 8 * j));
}

#endif
