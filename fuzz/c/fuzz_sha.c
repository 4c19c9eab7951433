/*
 * SHA-256 and SHA-1: the core's one-shot and streaming forms, on SHA-NI and
 * portable code, against a textbook implementation (ref_sha.h).
 *
 * Input: nchunks(1) | nchunks x chunk(2) | data
 *
 * Oracles: for both hashes, on both compression functions (SHA-NI where the
 * CPU has it, portable otherwise and always), the one-shot digest and the
 * digest of the data fed in the given chunks (including empty updates)
 * equal ref_sha256/ref_sha1.
 */
#include "fuzz_common.h"
#include "ref_sha.h"

#define MAX_CHUNKS 12

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_init_backends();
    struct fuzz_in in = {data, size};
    size_t chunks[MAX_CHUNKS];
    int nchunks = fz_u8(&in) % (MAX_CHUNKS + 1);
    for (int i = 0; i < nchunks; i++) chunks[i] = fz_u16(&in);
    uint8_t *msg = fz_dup(in.p, in.n);
    size_t n = in.n;

    uint8_t want256[32], want1[20], got[32];
    ref_sha256(msg, n, want256);
    ref_sha1(msg, n, want1);

    /* The last backend in the list uses SHA-NI when the CPU has it; the
     * portable backend always uses portable hashing. */
    int sha_modes[2] = {MTC_BACKEND_PORTABLE, fz_backends[fz_nbackends - 1]};
    for (int s = 0; s < 2; s++) {
        fz_use(sha_modes[s]);
        const char *impl = mtc_sha_accelerated() ? "sha-ni" : "portable";

        mtc_sha256(msg, n, got);
        FUZZ_CHECK(memcmp(got, want256, 32) == 0, "sha256 one-shot (%s) wrong, len %zu", impl, n);
        mtc_sha1(msg, n, got);
        FUZZ_CHECK(memcmp(got, want1, 20) == 0, "sha1 one-shot (%s) wrong, len %zu", impl, n);

        mtc_sha256_ctx c256;
        mtc_sha1_ctx c1;
        mtc_sha256_init(&c256);
        mtc_sha1_init(&c1);
        size_t off = 0;
        for (int i = 0; i < nchunks && off < n; i++) {
            size_t c = chunks[i] % (n - off + 1);
            mtc_sha256_update(&c256, msg + off, c);
            mtc_sha1_update(&c1, msg + off, c);
            off += c;
        }
        mtc_sha256_update(&c256, msg + off, n - off);
        mtc_sha1_update(&c1, msg + off, n - off);
        mtc_sha256_final(&c256, got);
        FUZZ_CHECK(memcmp(got, want256, 32) == 0, "sha256 streaming (%s) wrong", impl);
        mtc_sha1_final(&c1, got);
        FUZZ_CHECK(memcmp(got, want1, 20) == 0, "sha1 streaming (%s) wrong", impl);
    }
    free(msg);
    return 0;
}
