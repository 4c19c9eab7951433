/*
 * Constant-time check for the portable AES (run under valgrind memcheck).
 *
 * The key and the blocks are marked undefined; memcheck then reports any
 * branch on them ("Conditional jump or move depends on uninitialised
 * value") and any memory access indexed by them ("Use of uninitialised
 * value"), which is exactly what a timing leak through branches or cache
 * lines needs.  Built with -DCT_SELFTEST_LEAK it makes one deliberate
 * secret-indexed lookup and one secret-dependent branch, which memcheck
 * must flag: proof that the check can fail.
 *
 * Exit status: 0, or 1 if the known-answer check failed (run natively too).
 */
#include <stdio.h>
#include <valgrind/memcheck.h>
#include "../../csrc/internal.h"

static const uint8_t fips_ct[16] = {
    0x8e, 0xa2, 0xb7, 0xca, 0x51, 0x67, 0x45, 0xbf,
    0xea, 0xfc, 0x49, 0x90, 0x4b, 0x49, 0x60, 0x89
};

#ifdef CT_SELFTEST_LEAK
static const uint8_t leak_table[256] = { 1 };
#endif

int main(void)
{
    uint64_t sk[120];
    uint8_t key[32], blocks[64];
    volatile uint8_t sink = 0;
    size_t i, n;

    /* FIPS-197 C.3 with defined data, so a broken build cannot pass. */
    for (i = 0; i < 32; i++)
        key[i] = (uint8_t)i;
    for (i = 0; i < 16; i++)
        blocks[i] = (uint8_t)(i * 0x11);
    mtc_aesp_expand(sk, key);
    mtc_aesp_encrypt(sk, blocks, 1);
    if (memcmp(blocks, fips_ct, 16) != 0) {
        fprintf(stderr, "known-answer test failed\n");
        return 1;
    }

    for (i = 0; i < 32; i++)
        key[i] = (uint8_t)(i * 37 + 5);
    for (i = 0; i < 64; i++)
        blocks[i] = (uint8_t)(i * 91 + 3);
    VALGRIND_MAKE_MEM_UNDEFINED(key, sizeof key);
    mtc_aesp_expand(sk, key);
    for (n = 1; n <= 4; n++) {
        VALGRIND_MAKE_MEM_UNDEFINED(blocks, sizeof blocks);
        mtc_aesp_encrypt(sk, blocks, n);
        VALGRIND_MAKE_MEM_UNDEFINED(blocks, sizeof blocks);
        mtc_aesp_decrypt(sk, blocks, n);
    }
#ifdef CT_SELFTEST_LEAK
    sink = leak_table[blocks[0]];
    if (blocks[1] & 1)
        sink = 7;
#endif
    (void)sink;
    mtc_wipe(sk, sizeof sk);
    return 0;
}
