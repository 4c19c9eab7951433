/*
 * Constant-time check of mtc_rsa_legacy_check (run under valgrind memcheck).
 *
 * Portable backend, portable SHA (mtc_select_backend(MTC_BACKEND_PORTABLE)).
 * The four candidate templates have the layout of the server's expected
 * p_q_inner_data, _dc, _temp and _temp_dc (96, 100, 100 and 104 bytes:
 * constructor, pq, p, q, nonce and server_nonce fixed; new_nonce, dc and
 * expires_in free).  For every case the whole 256-byte decrypted block is
 * marked undefined before the call, so memcheck reports every branch and
 * every memory index that depends on it.
 *
 * mtc_rsa_legacy_check itself has no such branch: it returns its status
 * through masks.  The harness then branches on that status, still marked,
 * in final_status(): that one report is expected (it is the caller's single
 * accept/reject decision), and tests/test_constant_time.py requires it to be
 * present, proof that the marking reached the status through the hashing and
 * the comparisons, so that a clean run cannot be vacuous.  Nothing else may
 * be reported.  After the branch the harness marks the status and the index
 * defined again before it checks them.
 *
 * Cases, for each candidate k = 0..3 (so that each is the accepted one once):
 * a valid block (accepted, index k); the first byte 0x01 or 0x80; one bit of
 * the hash flipped; a wrong constructor, pq, nonce or server_nonce byte with a
 * hash that covers the changed data; the data hashed at another candidate's
 * length; plus random blocks, and calls with 1 or 2 templates.
 *
 * -DCT_SELFTEST_LEAK adds what the check must catch: the unpadding done the
 * old way (branch on the first byte, read the length out of the block, hash
 * that much) and a table lookup indexed by a block byte.  Both must be
 * reported as disallowed: proof that the check can fail.
 *
 * Exit status: 0, or 1 if a functional check failed (run natively too).
 */
#include <stdio.h>
#include <string.h>
#include <valgrind/memcheck.h>
#include "../../csrc/mtcrypt.h"
#include "ct_expect.h"

#define MAXD MTC_RSA_LEGACY_MAX_DATA

static uint8_t expect[4 * MAXD], mask[4 * MAXD];
static uint32_t lens[4];

/* The caller's one decision on the block: the branch memcheck must report.
 * The two arms touch different volatile counters so that the compiler keeps
 * a real conditional jump (a setcc would be data flow, not a branch). */
static volatile unsigned accepted_count, rejected_count;
__attribute__((noipa)) static int final_status(int rc)
{
    if (rc == MTC_OK) {
        accepted_count++;
        return 1;
    }
    rejected_count++;
    return 0;
}

#ifdef CT_SELFTEST_LEAK
static const uint8_t leak_table[256] = {1};
static volatile uint8_t sink;

/* How not to do it: the pre-fix server.  Reject on the first byte, then
 * "parse" the data to find its length (here: the pq string's length byte
 * picks the candidate), then hash that much. */
static int leaky_unpad(const uint8_t *block)
{
    if (block[0] != 0) return MTC_ERR_DECRYPT;
    uint32_t len = block[21 + 4] == 8 ? 96 : 104;
    uint8_t digest[20];
    mtc_sha1(block + 21, len, digest);
    return memcmp(digest, block + 1, 20) == 0 ? MTC_OK : MTC_ERR_DECRYPT;
}
#endif

/* Run the check with the block marked; returns the (defined) status and
 * stores the (defined) index. */
static int check_marked(const uint8_t *block, size_t n, int *index)
{
    uint8_t b[256];
    memcpy(b, block, sizeof b);
    VALGRIND_MAKE_MEM_UNDEFINED(b, sizeof b);
    int rc = mtc_rsa_legacy_check(b, n, expect, mask, lens, index);
    int accepted = final_status(rc);
#ifdef CT_SELFTEST_LEAK
    sink = leak_table[b[40]];
    int leaky = leaky_unpad(b);
    VALGRIND_MAKE_MEM_DEFINED(&leaky, sizeof leaky);
    sink = (uint8_t)leaky;
#endif
    VALGRIND_MAKE_MEM_DEFINED(&rc, sizeof rc);
    VALGRIND_MAKE_MEM_DEFINED(&accepted, sizeof accepted);
    VALGRIND_MAKE_MEM_DEFINED(index, sizeof *index);
    expect_true(accepted == (rc == MTC_OK), "final_status");
    return rc;
}

static uint32_t rng_state = 0x12345678u;
static uint8_t next_byte(void)
{
    rng_state = rng_state * 1103515245u + 12345u;
    return (uint8_t)(rng_state >> 16);
}

/* Fill template k: ctor(4) | pq (1+8+3) | p (1+4+3) | q (1+4+3) | nonce(16) |
 * server_nonce(16) | new_nonce(32, free) | dc / expires_in (4 each, free). */
static void make_template(int k, const uint8_t *ctor)
{
    static const uint32_t sizes[4] = {96, 100, 100, 104};
    uint8_t *e = expect + k * MAXD, *m = mask + k * MAXD;
    lens[k] = sizes[k];
    memset(e, 0, MAXD);
    memset(m, 0, MAXD);
    memcpy(e, ctor, 4);
    e[4] = 8;
    for (int i = 0; i < 8; i++) e[5 + i] = (uint8_t)(0x40 + i);
    e[16] = 4;
    for (int i = 0; i < 4; i++) e[17 + i] = (uint8_t)(0x50 + i);
    e[24] = 4;
    for (int i = 0; i < 4; i++) e[25 + i] = (uint8_t)(0x60 + i);
    for (int i = 0; i < 32; i++) e[32 + i] = (uint8_t)(0x70 + i); /* nonces */
    memset(m, 0xff, 64);                                            /* all above fixed */
}

/* A block that carries `data` (len bytes) with a correct hash. */
static void make_block(uint8_t *block, const uint8_t *data, size_t len)
{
    for (int i = 0; i < 256; i++) block[i] = next_byte();
    block[0] = 0;
    memcpy(block + 21, data, len);
    mtc_sha1(block + 21, len, block + 1);
}

/* Valid data for template k, with random free bytes. */
static void make_data(int k, uint8_t *data)
{
    const uint8_t *e = expect + k * MAXD, *m = mask + k * MAXD;
    for (uint32_t i = 0; i < lens[k]; i++)
        data[i] = (uint8_t)((e[i] & m[i]) | (next_byte() & (uint8_t)~m[i]));
}

static void check(const uint8_t *block, size_t n, int want_index, const char *what)
{
    int index = 99;
    int rc = check_marked(block, n, &index);
    if (want_index < 0) {
        expect_true(rc == MTC_ERR_DECRYPT, what);
        expect_true(index == -1, what);
    } else {
        expect_true(rc == MTC_OK, what);
        expect_true(index == want_index, what);
    }
}

int main(void)
{
    if (mtc_select_backend(MTC_BACKEND_PORTABLE) != MTC_BACKEND_PORTABLE || mtc_sha_accelerated()) {
        fprintf(stderr, "could not force the portable backend\n");
        return 1;
    }
    static const uint8_t ctors[4][4] = {
        {0xec, 0x5a, 0xc9, 0x83}, /* p_q_inner_data#83c95aec */
        {0x95, 0x5f, 0xf5, 0xa9}, /* p_q_inner_data_dc#a9f55f95 */
        {0xd4, 0x84, 0x6a, 0x3c}, /* p_q_inner_data_temp#3c6a84d4 */
        {0x88, 0xdf, 0xfd, 0x56}, /* p_q_inner_data_temp_dc#56fddf88 */
    };
    for (int k = 0; k < 4; k++) make_template(k, ctors[k]);

    uint8_t data[MAXD], bad[MAXD], block[256];
    for (int round = 0; round < 2; round++) {
        for (int k = 0; k < 4; k++) {
            size_t len = lens[k];
            make_data(k, data);
            make_block(block, data, len);
            check(block, 4, k, "valid block");

            uint8_t b2[256];
            memcpy(b2, block, 256);
            b2[0] = 0x01;
            check(b2, 4, -1, "first byte 0x01");
            b2[0] = 0x80;
            check(b2, 4, -1, "first byte 0x80");

            memcpy(b2, block, 256);
            b2[1 + (k * 7 + round) % 20] ^= (uint8_t)(1u << (k + round));
            check(b2, 4, -1, "hash bit flipped");

            /* A wrong fixed byte (constructor, pq, nonce, server_nonce), with
             * the hash recomputed over the changed data. */
            static const int offsets[] = {0, 3, 6, 18, 33, 63};
            for (size_t o = 0; o < sizeof offsets / sizeof *offsets; o++) {
                memcpy(bad, data, len);
                bad[offsets[o]] ^= 0x01;
                make_block(b2, bad, len);
                check(b2, 4, -1, "fixed byte wrong");
            }
            /* Right fields, hash over another candidate's length. */
            memcpy(b2, block, 256);
            mtc_sha1(b2 + 21, k == 3 ? 96 : len + 4, b2 + 1);
            check(b2, 4, -1, "hash over another length");

            /* A free byte changed is still accepted. */
            memcpy(bad, data, len);
            bad[70] ^= 0xff;
            bad[len - 1] ^= 0x55;
            make_block(b2, bad, len);
            check(b2, 4, k, "free byte changed");

            /* Fewer templates: only the first ones can be chosen. */
            check(block, 1, k == 0 ? 0 : -1, "one template");
            check(block, 2, k < 2 ? k : -1, "two templates");
        }
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 256; j++) block[j] = next_byte();
            check(block, 4, -1, "random block");
            block[0] = 0;
            check(block, 4, -1, "random block, first byte zero");
        }
    }

    /* Malformed calls (nothing secret in them): rejected before any read. */
    int index = 0;
    uint32_t saved = lens[2];
    expect_true(mtc_rsa_legacy_check(block, 0, expect, mask, lens, &index) == MTC_ERR_ARG, "n=0");
    expect_true(mtc_rsa_legacy_check(block, 5, expect, mask, lens, &index) == MTC_ERR_ARG, "n=5");
    expect_true(mtc_rsa_legacy_check(NULL, 4, expect, mask, lens, &index) == MTC_ERR_ARG, "NULL");
    lens[2] = 0;
    expect_true(mtc_rsa_legacy_check(block, 4, expect, mask, lens, &index) == MTC_ERR_ARG, "len 0");
    lens[2] = MAXD + 1;
    expect_true(mtc_rsa_legacy_check(block, 4, expect, mask, lens, &index) == MTC_ERR_ARG,
                "len 236");
    lens[2] = saved;

    if (failures) return 1;
    return 0;
}
