/*
 * The server's check of the legacy RSA padding of p_q_inner_data, in
 * constant time.
 *
 * Telethon and Pyrogram still encrypt p_q_inner_data as
 *     block = 00 | SHA1(data) | data | random        (256 bytes)
 * and a server recovers `block` with its private key.  Albrecht, Mareková,
 * Paterson and Stepanovs ("Four Attacks and a Proof for Telegram", IEEE S&P
 * 2022) turned the time Telegram's servers spent on such a block (branching on
 * its first byte, parsing TL out of it to find the data length, then hashing)
 * into an oracle on RSA plaintexts that are mauled versions of a victim's
 * ciphertext.  So nothing here branches on the block or indexes memory with
 * it: the server knows every field of the data it expects except new_nonce
 * (and the dc / expires_in ints), hence the constructor, the length and most
 * bytes of each of the (at most four) candidates in advance.  Every candidate
 * is hashed at its own, public, length and compared in full; the verdicts are
 * combined with masks into one status and one index.  The only secret-
 * dependent decision is the caller's, on the returned status.
 */
#include "internal.h"

/* 1 when x == 0, else 0, without a branch (x < 2^32, so x - 1 borrows into
 * bit 63 exactly when x is zero). */
static inline uint32_t is_zero32(uint32_t x)
{
    return (uint32_t)(((uint64_t)x - 1) >> 63);
}

int mtc_rsa_legacy_check(const uint8_t *block256, size_t n, const uint8_t *expect,
                         const uint8_t *mask, const uint32_t *lens, int *index)
{
    if (!block256 || !expect || !mask || !lens || !index) return MTC_ERR_ARG;
    if (n == 0 || n > MTC_RSA_LEGACY_MAX_CANDIDATES) return MTC_ERR_ARG;
    /* Template lengths are public (the server chose them): checking them with
     * branches leaks nothing, and they bound every read below. */
    for (size_t k = 0; k < n; k++)
        if (lens[k] == 0 || lens[k] > MTC_RSA_LEGACY_MAX_DATA) return MTC_ERR_ARG;

    const uint8_t *data = block256 + 21;
    uint32_t accept = 0; /* all-ones once a candidate matched */
    uint32_t chosen = 0; /* the first matching candidate, valid where accept */
    uint8_t digest[20];
    for (size_t k = 0; k < n; k++) {
        const uint8_t *e = expect + k * MTC_RSA_LEGACY_MAX_DATA;
        const uint8_t *m = mask + k * MTC_RSA_LEGACY_MAX_DATA;
        size_t len = lens[k];
        /* SHA-1 over the candidate's length of the block: its running time
         * depends on len only, never on the bytes. */
        mtc_sha1(data, len, digest);
        uint32_t diff = block256[0];
        for (size_t i = 0; i < 20; i++) diff |= (uint32_t)(digest[i] ^ block256[1 + i]);
        for (size_t i = 0; i < len; i++) diff |= (uint32_t)((data[i] ^ e[i]) & m[i]);
        uint32_t match = 0u - is_zero32(diff);
        /* Keep the first match: later ones only count where none came before. */
        chosen |= (uint32_t)k & match & ~accept;
        accept |= match;
    }
    mtc_wipe(digest, sizeof digest);
    /* -1 on reject; MTC_ERR_DECRYPT & ~accept is MTC_OK (0) on accept. */
    *index = (int)(int32_t)((chosen & accept) | ~accept);
    return MTC_ERR_DECRYPT & (int)(int32_t)~accept;
}
