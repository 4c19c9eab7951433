/*
 * Constant-time check of the vector-permute AES (csrc/aes_vpaes.c; run under
 * valgrind memcheck): key expansion (both schedules), the block functions,
 * IGE and CBC in both directions, CTR and the interleaved multi-message IGE,
 * called directly so the check sees this backend whatever the CPU would
 * pick.  Keys, IVs, counters and data are marked undefined; block counts are
 * public.  Memcheck must report nothing: no branch on, and no memory address
 * computed from, a secret.
 *
 * Before that, with defined data: FIPS-197 C.3 both ways, and every mode
 * against a plain composition of the block functions, so that a broken build
 * cannot pass.  -DCT_SELFTEST_LEAK adds a secret-indexed load and a
 * secret-dependent branch, which memcheck must report.
 *
 * Exit status: 0, or 1 if a functional check failed (run natively too).
 */
#include <stdio.h>
#include <valgrind/memcheck.h>
#include "../../csrc/internal.h"

#define SECRET(p, n) VALGRIND_MAKE_MEM_UNDEFINED((p), (n))
#define PUBLIC(p, n) VALGRIND_MAKE_MEM_DEFINED((p), (n))

static const uint8_t fips_pt[16] = {
    0x00, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77,
    0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff
};
static const uint8_t fips_ct[16] = {
    0x8e, 0xa2, 0xb7, 0xca, 0x51, 0x67, 0x45, 0xbf,
    0xea, 0xfc, 0x49, 0x90, 0x4b, 0x49, 0x60, 0x89
};

enum { NB = 11, NJOBS = 5 };  /* NB blocks: the 4-lane loops and their tails */

static int failures;

static void expect(int cond, const char *what)
{
    if (!cond) {
        fprintf(stderr, "functional check failed: %s\n", what);
        failures++;
    }
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
    for (size_t i = 0; i < n; i++) p[i] = (uint8_t)(i * 29 + seed * 13 + 7);
}

static void xor16(uint8_t *d, const uint8_t *a, const uint8_t *b)
{
    for (int i = 0; i < 16; i++) d[i] = (uint8_t)(a[i] ^ b[i]);
}

/* IGE from the block functions, for the functional check: out_i =
 * F(in_i ^ a) ^ b, then a = out_i and b = in_i (encryption: a = y_prev,
 * b = x_prev; decryption: a = x_prev, b = y_prev). */
static void ige_model(int decrypt, const uint64_t *sched, const uint8_t *iv,
                      const uint8_t *in, uint8_t *out, size_t nb)
{
    uint8_t a[16], b[16], t[16], x[16];
    memcpy(a, decrypt ? iv + 16 : iv, 16);
    memcpy(b, decrypt ? iv : iv + 16, 16);
    for (size_t i = 0; i < nb; i++) {
        memcpy(x, in + 16 * i, 16);
        xor16(t, x, a);
        if (decrypt)
            mtc_vp_decrypt_blocks(sched, t, t, 1);
        else
            mtc_vp_encrypt_blocks(sched, t, t, 1);
        xor16(out + 16 * i, t, b);
        memcpy(b, x, 16);
        memcpy(a, out + 16 * i, 16);
    }
}

static void run_modes(int check)
{
    uint64_t enc[30], dec[30];
    uint8_t key[32], iv[32], data[16 * NB], out[16 * NB], back[16 * NB], ref[16 * NB], chain[32];

    fill(key, 32, 1), fill(iv, 32, 2), fill(data, sizeof data, 3);
    if (!check) SECRET(key, 32), SECRET(iv, 32), SECRET(data, sizeof data);
    mtc_vp_expand(enc, dec, key);

    for (size_t nb = 0; nb <= NB; nb++) {
        memcpy(chain, iv, 32);
        mtc_vp_ige_encrypt(enc, chain, data, out, nb);
        memcpy(chain, iv, 32);
        mtc_vp_ige_decrypt(dec, chain, out, back, nb);
        if (check) {
            ige_model(0, enc, iv, data, ref, nb);
            expect(memcmp(out, ref, 16 * nb) == 0, "ige encrypt");
            ige_model(1, dec, iv, out, ref, nb);
            expect(memcmp(back, ref, 16 * nb) == 0, "ige decrypt");
            expect(memcmp(back, data, 16 * nb) == 0, "ige round trip");
        }
        memcpy(chain, iv, 16);
        mtc_vp_cbc_encrypt(enc, chain, data, out, nb);
        memcpy(chain, iv, 16);
        mtc_vp_cbc_decrypt(dec, chain, out, back, nb);
        if (check) expect(memcmp(back, data, 16 * nb) == 0, "cbc round trip");
        memcpy(chain, iv, 16);
        mtc_vp_ctr_blocks(enc, chain, data, out, nb);
        if (check) {
            uint8_t ctr[16];
            memcpy(ctr, iv, 16);
            for (size_t i = 0; i < nb; i++) {
                mtc_vp_encrypt_blocks(enc, ctr, ref + 16 * i, 1);
                xor16(ref + 16 * i, ref + 16 * i, data + 16 * i);
                for (int j = 15; j >= 0 && ++ctr[j] == 0; j--) {}
            }
            expect(memcmp(out, ref, 16 * nb) == 0, "ctr");
        }
    }

    /* NJOBS messages of unequal lengths with their own keys: four lanes,
     * a refill, and the tail run one chain at a time. */
    uint8_t keys[32 * NJOBS], ivs[32 * NJOBS];
    uint8_t msgs[NJOBS][16 * NB], outs[NJOBS][16 * NB], backs[NJOBS][16 * NB];
    struct mtc_ige_job jobs[NJOBS];
    fill(keys, sizeof keys, 4), fill(ivs, sizeof ivs, 5), fill(&msgs[0][0], sizeof msgs, 6);
    if (!check) SECRET(keys, sizeof keys), SECRET(ivs, sizeof ivs), SECRET(msgs, sizeof msgs);
    for (int d = 0; d < 2; d++) {
        for (int j = 0; j < NJOBS; j++) {
            jobs[j].key = keys + 32 * j;
            jobs[j].iv = ivs + 32 * j;
            jobs[j].in = d ? outs[j] : msgs[j];
            jobs[j].out = d ? backs[j] : outs[j];
            jobs[j].nblocks = (size_t)(NB - 2 * j);
        }
        expect(mtc_vp_ige_batch(d, NJOBS, jobs) == MTC_OK, "batch");
    }
    if (check) {
        for (int j = 0; j < NJOBS; j++) {
            uint64_t e[30];
            mtc_vp_expand(e, NULL, keys + 32 * j);
            ige_model(0, e, ivs + 32 * j, msgs[j], ref, (size_t)(NB - 2 * j));
            expect(memcmp(outs[j], ref, 16 * (size_t)(NB - 2 * j)) == 0, "batch encrypt");
            expect(memcmp(backs[j], msgs[j], 16 * (size_t)(NB - 2 * j)) == 0, "batch round trip");
        }
    }
}

int main(void)
{
    uint64_t enc[30], dec[30];
    uint8_t key[32], block[16];

    for (int i = 0; i < 32; i++) key[i] = (uint8_t)i;
    mtc_vp_expand(enc, dec, key);
    mtc_vp_encrypt_blocks(enc, fips_pt, block, 1);
    expect(memcmp(block, fips_ct, 16) == 0, "FIPS-197 C.3 encrypt");
    mtc_vp_decrypt_blocks(dec, fips_ct, block, 1);
    expect(memcmp(block, fips_pt, 16) == 0, "FIPS-197 C.3 decrypt");

    run_modes(1);
    if (failures) return 1;
    run_modes(0);

#ifdef CT_SELFTEST_LEAK
    {
        static const uint8_t table[256] = {1};
        SECRET(key, 32);
        mtc_vp_expand(enc, NULL, key);
        memcpy(block, enc, 16);
        volatile uint8_t sink = table[block[3]];
        if (block[5] & 1) sink = 2;
        (void)sink;
    }
#endif
    mtc_wipe(enc, sizeof enc);
    mtc_wipe(dec, sizeof dec);
    return failures ? 1 : 0;
}
