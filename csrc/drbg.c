/* Padding randomness: a per-thread AES-256-CTR generator with fast key
 * erasure, seeded from the kernel CSPRNG (getrandom).  Each refill produces a
 * keystream block whose first 32 bytes immediately replace the key, so the
 * bytes already handed out cannot be recomputed from a later state.  A forked
 * child discards the state and reseeds, so parent and child never share
 * output. */
#include "internal.h"

#include <errno.h>
#include <pthread.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/random.h>
#endif
#include <fcntl.h>

#define DRBG_BUF 1024

struct drbg {
    mtc_aes256 aes;
    uint8_t counter[16];
    uint8_t buf[DRBG_BUF];
    size_t pos;           /* bytes of buf already used; DRBG_BUF when empty */
    int seeded;
    int generation;       /* fork generation the state belongs to */
};

static __thread struct drbg tls_drbg;
static volatile int fork_generation;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void on_fork_child(void) { fork_generation++; }
static void install_atfork(void) { pthread_atfork(NULL, NULL, on_fork_child); }

static int os_random(uint8_t *out, size_t n)
{
    size_t got = 0;
#if defined(__linux__)
    while (got < n) {
        ssize_t r = getrandom(out + got, n - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            break;
        }
        got += (size_t)r;
    }
    if (got == n) return MTC_OK;
#endif
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return MTC_ERR_UNAVAILABLE;
    while (got < n) {
        ssize_t r = read(fd, out + got, n - got);
        if (r <= 0) {
            if (r < 0 && errno == EINTR) continue;
            close(fd);
            return MTC_ERR_UNAVAILABLE;
        }
        got += (size_t)r;
    }
    close(fd);
    return MTC_OK;
}

static int drbg_reseed(struct drbg *d)
{
    uint8_t seed[48];
    int rc = os_random(seed, sizeof seed);
    if (rc != MTC_OK) return rc;
    mtc_aes256_init(&d->aes, seed);
    memcpy(d->counter, seed + 32, 16);
    mtc_wipe(seed, sizeof seed);
    d->pos = DRBG_BUF;
    d->seeded = 1;
    d->generation = fork_generation;
    return MTC_OK;
}

static int drbg_refill(struct drbg *d)
{
    uint8_t zero[DRBG_BUF + 32];
    uint8_t ks[16];
    unsigned int off = 16;
    memset(zero, 0, sizeof zero);
    uint8_t stream[DRBG_BUF + 32];
    int rc = mtc_ctr256(&d->aes, d->counter, ks, &off, zero, stream, sizeof stream);
    if (rc != MTC_OK) return rc;
    /* Fast key erasure: the first 32 bytes become the next key. */
    mtc_aes256_init(&d->aes, stream);
    memcpy(d->buf, stream + 32, DRBG_BUF);
    mtc_wipe(stream, sizeof stream);
    d->pos = 0;
    return MTC_OK;
}

int mtc_random_bytes(uint8_t *out, size_t n)
{
    if (n && !out) return MTC_ERR_ARG;
    pthread_once(&atfork_once, install_atfork);
    struct drbg *d = &tls_drbg;
    /* Reseed on first use, after a fork, and whenever the backend changed
     * (the expanded key's layout belongs to one backend family). */
    if (!d->seeded || d->generation != fork_generation || d->aes.backend != mtc_rt.aes) {
        int rc = drbg_reseed(d);
        if (rc != MTC_OK) return rc;
    }
    while (n) {
        if (d->pos == DRBG_BUF) {
            int rc = drbg_refill(d);
            if (rc != MTC_OK) return rc;
        }
        size_t take = DRBG_BUF - d->pos < n ? DRBG_BUF - d->pos : n;
        memcpy(out, d->buf + d->pos, take);
        mtc_wipe(d->buf + d->pos, take); /* handed out once, then forgotten */
        d->pos += take;
        out += take;
        n -= take;
    }
    return MTC_OK;
}
