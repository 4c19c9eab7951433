/* The fast entry: a few of the hottest calls as METH_FASTCALL functions.
 *
 * Why this exists: a cffi call costs about 0.3 us before any work is done
 * (argument conversion, releasing and retaking the GIL), which is more than
 * a 64-byte IGE call or a 256-byte message seal costs in C.  These functions
 * take Python objects directly, so a small call costs what a native
 * extension's does.  They do no cryptography of their own: they call the one
 * C core (csrc/) through function pointers that mtcrypt/_native/__init__.py
 * hands over from the cffi module at import (bind()), so both entries share
 * one core, one backend choice and one random generator.
 *
 * The contract, for every function: it handles only the plain case (exact
 * `bytes` arguments of valid lengths) and returns None for anything else, so
 * the Python wrapper falls back to the cffi path, which validates fully and
 * raises the documented error.  Lengths are checked here before C sees them.
 * MTCRYPT_ENTRY=cffi skips this module; CI runs the suite both ways.
 *
 * Only the limited API (abi3) is used, like the cffi module.
 */
#ifndef Py_LIMITED_API
#define Py_LIMITED_API 0x030B0000
#endif
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>

#include "mtcrypt.h"

/* Release the GIL only when the work outweighs the cost of releasing it.
 * `call` may touch only immutable exact bytes and fresh objects nobody else
 * can reach while the GIL is released. */
#define GIL_RELEASE_BYTES 4096
#define CALL_CORE(nbytes, call)                                                     \
    do {                                                                            \
        if ((nbytes) >= GIL_RELEASE_BYTES) {                                        \
            Py_BEGIN_ALLOW_THREADS call;                                            \
            Py_END_ALLOW_THREADS                                                    \
        } else {                                                                    \
            call;                                                                   \
        }                                                                           \
    } while (0)

/* The core functions this module calls, in the order bind() receives them. */
static const char *const NEEDS[] = {
    "mtc_ige256_encrypt_key",
    "mtc_ige256_decrypt_key",
    "mtc_ige256_batch_ptrs",
    "mtc_ige256_batch",
    "mtc_msg_seal_random_parts",
    "mtc_msg_open",
    "mtc_wipe",
    "mtc_msg_seal_random_batch",
    "mtc_msg_open_batch_ptrs",
};
#define N_NEEDS (sizeof NEEDS / sizeof NEEDS[0])

static __typeof__(mtc_ige256_encrypt_key) *core_ige_encrypt;
static __typeof__(mtc_ige256_decrypt_key) *core_ige_decrypt;
static __typeof__(mtc_ige256_batch_ptrs) *core_ige_batch_ptrs;
static __typeof__(mtc_ige256_batch) *core_ige_batch_packed;
static __typeof__(mtc_msg_seal_random_parts) *core_msg_seal_parts;
static __typeof__(mtc_msg_open) *core_msg_open;
static __typeof__(mtc_wipe) *core_wipe;
static __typeof__(mtc_msg_seal_random_batch) *core_msg_seal_batch;
static __typeof__(mtc_msg_open_batch_ptrs) *core_msg_open_batch;
static void *bound_to[N_NEEDS]; /* the addresses bind() took, to recognise the same core */
static int bound;

/* The data pointer and length of an exact bytes object, or NULL. */
static const uint8_t *bytes_data(PyObject *obj, Py_ssize_t *len)
{
    if (!PyBytes_CheckExact(obj)) return NULL;
    *len = PyBytes_Size(obj);
    return (const uint8_t *)PyBytes_AsString(obj);
}

/* A bytes object of exactly `want` bytes, or NULL. */
static const uint8_t *bytes_of(PyObject *obj, Py_ssize_t want)
{
    Py_ssize_t len;
    const uint8_t *p = bytes_data(obj, &len);
    return (p && len == want) ? p : NULL;
}

/* An uninitialised bytes object of n bytes (the core fills every byte). */
static PyObject *fresh_bytes(Py_ssize_t n, uint8_t **data)
{
    PyObject *out = PyBytes_FromStringAndSize(NULL, n);
    if (out) *data = (uint8_t *)PyBytes_AsString(out);
    return out;
}

/* A refused call: the arguments were checked here, so the core refusing one
 * means something only the slow path can explain (or memory ran out in the
 * core); None sends the caller there, which maps the status to its error. */
static PyObject *refused(PyObject *partial)
{
    Py_XDECREF(partial);
    Py_RETURN_NONE;
}

/* The same for a fresh output the core may have written into (plaintext, or
 * a laid-out message): wiped before it is freed. */
static PyObject *refused_wiped(PyObject *partial)
{
    if (partial) core_wipe(PyBytes_AsString(partial), (size_t)PyBytes_Size(partial));
    return refused(partial);
}

/* bind(addresses: tuple[int, ...]) -> None; once per process. */
static PyObject *fc_bind(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 1 || !PyTuple_Check(args[0]) || PyTuple_Size(args[0]) != (Py_ssize_t)N_NEEDS) {
        PyErr_SetString(PyExc_TypeError, "bind() takes one tuple of function addresses");
        return NULL;
    }
    void *fn[N_NEEDS];
    for (size_t i = 0; i < N_NEEDS; i++) {
        fn[i] = PyLong_AsVoidPtr(PyTuple_GetItem(args[0], (Py_ssize_t)i));
        if (fn[i] == NULL) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "null function address");
            return NULL;
        }
    }
    if (bound) {
        for (size_t i = 0; i < N_NEEDS; i++) {
            if (fn[i] != bound_to[i]) {
                PyErr_SetString(PyExc_RuntimeError,
                                "the fast entry is already bound to another core");
                return NULL;
            }
        }
        Py_RETURN_NONE; /* the same core again: a re-import, a subinterpreter */
    }
    core_ige_encrypt = (__typeof__(core_ige_encrypt))fn[0];
    core_ige_decrypt = (__typeof__(core_ige_decrypt))fn[1];
    core_ige_batch_ptrs = (__typeof__(core_ige_batch_ptrs))fn[2];
    core_ige_batch_packed = (__typeof__(core_ige_batch_packed))fn[3];
    core_msg_seal_parts = (__typeof__(core_msg_seal_parts))fn[4];
    core_msg_open = (__typeof__(core_msg_open))fn[5];
    core_wipe = (__typeof__(core_wipe))fn[6];
    core_msg_seal_batch = (__typeof__(core_msg_seal_batch))fn[7];
    core_msg_open_batch = (__typeof__(core_msg_open_batch))fn[8];
    for (size_t i = 0; i < N_NEEDS; i++) bound_to[i] = fn[i];
    bound = 1;
    Py_RETURN_NONE;
}

/* ige256(decrypt, data, key, iv) -> bytes | None */
static PyObject *fc_ige256(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (!bound || nargs != 4) Py_RETURN_NONE;
    int decrypt = PyObject_IsTrue(args[0]);
    Py_ssize_t n;
    const uint8_t *data = bytes_data(args[1], &n);
    const uint8_t *key = bytes_of(args[2], 32);
    const uint8_t *iv = bytes_of(args[3], 32);
    if (decrypt < 0 || !data || !key || !iv || n == 0 || (n & 15)) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    uint8_t *dst;
    PyObject *out = fresh_bytes(n, &dst);
    if (!out) return NULL;
    int rc;
    CALL_CORE(n, rc = (decrypt ? core_ige_decrypt : core_ige_encrypt)(key, iv, data, dst,
                                                                       (size_t)n));
    return rc == MTC_OK ? out : refused_wiped(out);
}

/* One item of a batch: a (data, key, iv) tuple of exact bytes, data a
 * non-empty multiple of 16.  0 when it is one, else -1 (no exception). */
static int batch_item(PyObject *item, const uint8_t **data, const uint8_t **key,
                      const uint8_t **iv, Py_ssize_t *len)
{
    if (!PyTuple_CheckExact(item) || PyTuple_Size(item) != 3) return -1;
    *data = bytes_data(PyTuple_GetItem(item, 0), len);
    *key = bytes_of(PyTuple_GetItem(item, 1), 32);
    *iv = bytes_of(PyTuple_GetItem(item, 2), 32);
    if (!*data || !*key || !*iv || *len == 0 || (*len & 15)) return -1;
    return 0;
}

static void release_items(PyObject **held, size_t n)
{
    for (size_t i = 0; i < n; i++) Py_DECREF(held[i]);
}

/* ige256_batch(decrypt, items: list) -> list[bytes] | None */
static PyObject *fc_ige256_batch(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (!bound || nargs != 2 || !PyList_CheckExact(args[1])) Py_RETURN_NONE;
    int decrypt = PyObject_IsTrue(args[0]);
    if (decrypt < 0) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    PyObject *items = args[1];
    Py_ssize_t count = PyList_Size(items);
    if (count <= 0) Py_RETURN_NONE;
    size_t n = (size_t)count;
    /* One allocation for the per-message arrays (malloc: no Python allocation,
     * so the garbage collector cannot run before `held` owns the items). */
    void **slots = malloc(n * (6 * sizeof(void *) + sizeof(uint64_t)));
    if (!slots) return refused(NULL);
    PyObject **held = (PyObject **)slots;
    const uint8_t **keys = (const uint8_t **)(held + n);
    const uint8_t **ivs = keys + n;
    const uint8_t **ins = ivs + n;
    uint8_t **outs = (uint8_t **)(ins + n);
    PyObject **made = (PyObject **)(outs + n);
    uint64_t *lens = (uint64_t *)(made + n);

    /* Nothing in this loop allocates Python objects or runs Python code, so
     * the list cannot change under it.  Each item is held by a reference of
     * our own: allocating the outputs below may run the collector, whose
     * finalizers could change the caller's list.  Tuples and bytes are
     * immutable, so the pointers stay valid while the items are held. */
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        PyObject *item = PyList_GetItem(items, (Py_ssize_t)i);
        Py_ssize_t len;
        if (!item || batch_item(item, &ins[i], &keys[i], &ivs[i], &len)) {
            PyErr_Clear();
            release_items(held, i);
            free(slots);
            Py_RETURN_NONE;
        }
        Py_INCREF(item);
        held[i] = item;
        lens[i] = (uint64_t)len;
        total += (size_t)len;
    }
    PyObject *result = NULL;
    size_t nmade = 0;
    for (; nmade < n; nmade++) {
        made[nmade] = fresh_bytes((Py_ssize_t)lens[nmade], &outs[nmade]);
        if (!made[nmade]) goto fail;
    }
    int rc;
    CALL_CORE(total, rc = core_ige_batch_ptrs(decrypt, n, keys, ivs, lens, ins, outs));
    release_items(held, n);
    if (rc == MTC_OK && (result = PyList_New(count)) != NULL) {
        for (size_t i = 0; i < n; i++) PyList_SetItem(result, (Py_ssize_t)i, made[i]);
        free(slots);
        return result;
    }
    for (size_t i = 0; i < n; i++) core_wipe(outs[i], (size_t)lens[i]); /* refused */
    release_items(made, n);
    free(slots);
    return rc == MTC_OK ? NULL : refused(NULL);

fail:
    release_items(held, n);
    release_items(made, nmade);
    free(slots);
    return NULL;
}

/* ige256_batch_into(decrypt, data, keys, ivs, lengths, out) -> True | None
 * The packed batch: data, keys and ivs exact bytes, lengths an exact list or
 * tuple of exact ints (each a multiple of 16), out any writable contiguous
 * buffer of sum(lengths) bytes.  Returns True when done.  `out` is held as an
 * exported buffer for the call, so it cannot be resized while the GIL is
 * released; bytes inputs cannot overlap a writable buffer. */
static PyObject *fc_ige256_batch_into(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (!bound || nargs != 6) Py_RETURN_NONE;
    int decrypt = PyObject_IsTrue(args[0]);
    Py_ssize_t n, nk, ni;
    const uint8_t *data = bytes_data(args[1], &n);
    const uint8_t *keys = bytes_data(args[2], &nk);
    const uint8_t *ivs = bytes_data(args[3], &ni);
    PyObject *lengths = args[4];
    int is_list = PyList_CheckExact(lengths);
    if (decrypt < 0 || !data || !keys || !ivs || (!is_list && !PyTuple_CheckExact(lengths))) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    Py_ssize_t count = is_list ? PyList_Size(lengths) : PyTuple_Size(lengths);
    if (count <= 0 || nk != 32 * count || ni != 32 * count) Py_RETURN_NONE;
    Py_buffer view;
    if (PyObject_GetBuffer(args[5], &view, PyBUF_WRITABLE) < 0) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    uint64_t *lens = malloc((size_t)count * sizeof *lens);
    if (!lens) {
        PyBuffer_Release(&view);
        return refused(NULL);
    }
    /* Nothing here runs Python code, so the sequence cannot change under us. */
    uint64_t total = 0;
    int plain = 1;
    for (Py_ssize_t i = 0; i < count && plain; i++) {
        PyObject *item = is_list ? PyList_GetItem(lengths, i) : PyTuple_GetItem(lengths, i);
        unsigned long long len = (item && PyLong_CheckExact(item)) ? PyLong_AsUnsignedLongLong(item)
                                                                    : (unsigned long long)-1;
        if (len == (unsigned long long)-1 || (len & 15) || len > (uint64_t)n - total) {
            plain = 0;
            break;
        }
        lens[i] = (uint64_t)len;
        total += (uint64_t)len;
    }
    PyErr_Clear();
    /* A writable view of a bytes object's storage (ctypes can make one) must
     * be exactly in place, as the slow path allows; a shifted one it refuses. */
    uintptr_t a = (uintptr_t)data, b = (uintptr_t)view.buf;
    int shifted = n && a != b && a < b + (uintptr_t)n && b < a + (uintptr_t)n;
    if (!plain || total != (uint64_t)n || view.len != n || shifted) {
        free(lens);
        PyBuffer_Release(&view);
        Py_RETURN_NONE;
    }
    int rc;
    CALL_CORE(n, rc = core_ige_batch_packed(decrypt, (size_t)count, keys, ivs, lens, data,
                                            (uint8_t *)view.buf));
    free(lens);
    PyBuffer_Release(&view);
    if (rc != MTC_OK) return refused(NULL);
    Py_RETURN_TRUE;
}

/* The arguments seal and open share: auth_key (256 bytes), key_id (8), x
 * (exactly 0 or 8) and the data; 0 when they are the plain case, else -1
 * (no exception set). */
static int message_args(PyObject *const *args, const uint8_t **auth_key, const uint8_t **key_id,
                        int *x, const uint8_t **data, Py_ssize_t *n)
{
    *auth_key = bytes_of(args[0], 256);
    *key_id = bytes_of(args[1], 8);
    long xv = PyLong_CheckExact(args[2]) ? PyLong_AsLong(args[2]) : -1;
    *data = bytes_data(args[3], n);
    if (xv == -1) PyErr_Clear();
    *x = (int)xv;
    return (*auth_key && *key_id && *data && (xv == 0 || xv == 8)) ? 0 : -1;
}

/* msg_seal_random(auth_key256, key_id8, x, plain, extra_blocks[, tail]) -> bytes | None
 * The plaintext is plain, or plain | tail: a large body passed as the tail is
 * copied once, into the packet, instead of first being joined to its header. */
static PyObject *fc_msg_seal_random(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (!bound || (nargs != 5 && nargs != 6)) Py_RETURN_NONE;
    const uint8_t *auth_key, *key_id, *head, *tail = NULL;
    int x;
    Py_ssize_t head_len, tail_len = 0;
    long extra = PyLong_CheckExact(args[4]) ? PyLong_AsLong(args[4]) : -1;
    if (extra == -1) PyErr_Clear();
    if (nargs == 6 && !(tail = bytes_data(args[5], &tail_len))) Py_RETURN_NONE;
    if (message_args(args, &auth_key, &key_id, &x, &head, &head_len) || extra < 0 || extra > 64) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    /* The header (32 bytes, in the head) and a length field that matches the
     * body are checked by the core; here only what sizes the output. */
    Py_ssize_t n = head_len + tail_len;
    if (head_len < 32 || (n & 3) || n > 0x7fffffff) Py_RETURN_NONE;
    size_t pad_len = 12 + ((size_t)(-(n + 12)) & 15) + 16 * (size_t)extra;
    if (pad_len > 1024) Py_RETURN_NONE;
    uint8_t *dst;
    PyObject *out = fresh_bytes((Py_ssize_t)(24 + (size_t)n + pad_len), &dst);
    if (!out) return NULL;
    int rc;
    CALL_CORE(n, rc = core_msg_seal_parts(auth_key, key_id, x, head, (size_t)head_len, tail,
                                          (size_t)tail_len, (size_t)extra, dst));
    return rc == MTC_OK ? out : refused_wiped(out); /* e.g. a bad header: explained there */
}

/* Opens args' packet straight into a fresh bytes object of len - 24 bytes.
 * Returns that object and sets *data_len, or returns Py_False (the one
 * decryption failure; the core zeroed the buffer, which is freed), None (not
 * the plain case), or NULL with an exception (no memory). */
static PyObject *open_fresh(PyObject *const *args, Py_ssize_t nargs, int *data_len)
{
    if (!bound || nargs != 4) Py_RETURN_NONE;
    const uint8_t *auth_key, *key_id, *packet;
    int x;
    Py_ssize_t n;
    if (message_args(args, &auth_key, &key_id, &x, &packet, &n)) Py_RETURN_NONE;
    if (n < 24 + 32 + 16) Py_RETURN_FALSE; /* shorter than any valid packet */
    uint8_t *dst;
    PyObject *plain = fresh_bytes(n - 24, &dst);
    if (!plain) return NULL;
    int rc;
    CALL_CORE(n, rc = core_msg_open(auth_key, key_id, x, packet, (size_t)n, dst));
    if (rc >= 0) {
        *data_len = rc;
        return plain;
    }
    Py_DECREF(plain);
    if (rc == MTC_ERR_DECRYPT) Py_RETURN_FALSE;
    return refused(NULL);
}

/* msg_open(auth_key256, key_id8, x, packet) -> bytes | False | None
 * bytes: the plaintext without padding; False: the one opaque decryption
 * failure; None: not the plain case (the wrapper takes the slow path). */
static PyObject *fc_msg_open(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    int data_len = 0;
    PyObject *padded = open_fresh(args, nargs, &data_len);
    if (!padded || !PyBytes_CheckExact(padded)) return padded;
    Py_ssize_t size = PyBytes_Size(padded);
    uint8_t *p = (uint8_t *)PyBytes_AsString(padded);
    PyObject *out = PyBytes_FromStringAndSize((const char *)p, 32 + (Py_ssize_t)data_len);
    core_wipe(p, (size_t)size); /* our own object, seen by nobody: no plaintext left behind */
    Py_DECREF(padded);
    return out;
}

/* The per-message arrays of a message batch, in one malloc (no Python
 * allocation, so the collector cannot run before `held` owns the items). */
struct msg_batch {
    void *block;
    PyObject **held, **made;
    const uint8_t **ins;
    uint8_t **outs;
    uint64_t *lens;
    int *results;
};

static int msg_batch_alloc(struct msg_batch *b, size_t n)
{
    b->block = malloc(n * (4 * sizeof(void *) + sizeof(uint64_t) + sizeof(int)));
    if (!b->block) return -1;
    b->held = (PyObject **)b->block;
    b->made = b->held + n;
    b->ins = (const uint8_t **)(b->made + n);
    b->outs = (uint8_t **)(b->ins + n);
    b->lens = (uint64_t *)(b->outs + n);
    b->results = (int *)(b->lens + n);
    return 0;
}

/* The arguments both message batches take: (auth_key256, key_id8, x, list);
 * -1 (no exception) when not the plain case, else 0 with the arrays
 * allocated (b->block NULL when memory ran out). */
static int msg_batch_args(PyObject *const *args, Py_ssize_t nargs, const uint8_t **auth_key,
                          const uint8_t **key_id, int *x, size_t *n, struct msg_batch *b)
{
    if (!bound || nargs != 4 || !PyList_CheckExact(args[3])) return -1;
    *auth_key = bytes_of(args[0], 256);
    *key_id = bytes_of(args[1], 8);
    long xv = PyLong_CheckExact(args[2]) ? PyLong_AsLong(args[2]) : -1;
    Py_ssize_t count = PyList_Size(args[3]);
    PyErr_Clear();
    if (!*auth_key || !*key_id || (xv != 0 && xv != 8) || count <= 0) return -1;
    *x = (int)xv;
    *n = (size_t)count;
    if (msg_batch_alloc(b, *n)) b->block = NULL;
    return 0;
}

/* Holds the list's items (exact bytes, each accepted by `ok`) and records
 * their data; -1 (nothing held, no exception) when one is not the plain case.
 * Nothing here runs Python code, so the list cannot change under it. */
static int msg_batch_hold(struct msg_batch *b, PyObject *items, size_t n, size_t *total,
                          int (*ok)(Py_ssize_t len))
{
    *total = 0;
    for (size_t i = 0; i < n; i++) {
        Py_ssize_t len;
        PyObject *item = PyList_GetItem(items, (Py_ssize_t)i);
        b->ins[i] = item ? bytes_data(item, &len) : NULL;
        if (!b->ins[i] || !ok(len)) {
            PyErr_Clear();
            release_items(b->held, i);
            return -1;
        }
        Py_INCREF(item);
        b->held[i] = item;
        b->lens[i] = (uint64_t)len;
        *total += (size_t)len;
    }
    return 0;
}

/* A plaintext the batch seal takes: a header, whole 4-byte words, and
 * within the core's bound. */
static int sealable(Py_ssize_t len)
{
    return len >= 32 && !(len & 3) && len < 0x7fffffff;
}

/* Any packet: the core rejects the malformed ones one by one. */
static int any_packet(Py_ssize_t len)
{
    return len <= 0x7fffffff;
}

/* msg_seal_batch(auth_key256, key_id8, x, plains: list) -> list[bytes] | None
 * Each plaintext sealed with the least random padding, into its own bytes
 * object, all in one interleaved pass. */
static PyObject *fc_msg_seal_batch(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    const uint8_t *auth_key, *key_id;
    int x;
    size_t n, total, nmade = 0;
    struct msg_batch b;
    if (msg_batch_args(args, nargs, &auth_key, &key_id, &x, &n, &b)) Py_RETURN_NONE;
    if (!b.block) return refused(NULL);
    Py_ssize_t count = (Py_ssize_t)n;
    if (msg_batch_hold(&b, args[3], n, &total, sealable)) {
        free(b.block);
        Py_RETURN_NONE;
    }
    for (; nmade < n; nmade++) {
        size_t len = (size_t)b.lens[nmade];
        size_t size = 24 + len + 12 + ((0 - (len + 12)) & 15);
        if (!(b.made[nmade] = fresh_bytes((Py_ssize_t)size, &b.outs[nmade]))) break;
    }
    PyObject *result = NULL;
    int rc = MTC_ERR_NOMEM;
    if (nmade == n) {
        CALL_CORE(total, rc = core_msg_seal_batch(auth_key, key_id, x, n, b.ins, b.lens,
                                                  b.outs));
        if (rc == MTC_OK && (result = PyList_New(count)) != NULL) {
            for (size_t i = 0; i < n; i++) PyList_SetItem(result, (Py_ssize_t)i, b.made[i]);
            nmade = 0; /* the list owns them now */
        }
    }
    release_items(b.held, n);
    release_items(b.made, nmade); /* a refusal left no plaintext in them (the core wiped) */
    free(b.block);
    if (result) return result;
    if (PyErr_Occurred()) return NULL; /* no memory for an output or the list */
    return refused(NULL);              /* e.g. a length field that does not match */
}

/* Padded plaintexts of at most this many bytes in all are opened on the stack. */
#define OPEN_BATCH_STACK 16384

/* msg_open_batch(auth_key256, key_id8, x, packets: list, scratch | None)
 *     -> list[bytes | False] | int | None
 * Each plaintext (without padding, as msg_open) or False for the one opaque
 * decryption failure; a bad packet does not stop the others.  The padded
 * plaintexts go to a stack buffer when they are small, else to `scratch`,
 * the caller's reused writable buffer (fresh buffers cost a page fault per
 * 4 KiB); either is wiped after.  An int: the scratch bytes needed (none was
 * given, or a smaller one); call again with one that large. */
static PyObject *fc_msg_open_batch(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    const uint8_t *auth_key, *key_id;
    int x;
    size_t n, total;
    struct msg_batch b;
    if (nargs != 5 || msg_batch_args(args, 4, &auth_key, &key_id, &x, &n, &b)) Py_RETURN_NONE;
    if (!b.block) return refused(NULL);
    Py_buffer scratch = {0};
    int have_scratch = args[4] != Py_None;
    if (have_scratch && PyObject_GetBuffer(args[4], &scratch, PyBUF_WRITABLE) < 0) {
        PyErr_Clear();
        free(b.block);
        Py_RETURN_NONE;
    }
    if (msg_batch_hold(&b, args[3], n, &total, any_packet)) {
        if (have_scratch) PyBuffer_Release(&scratch);
        free(b.block);
        Py_RETURN_NONE;
    }
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
        if (b.lens[i] >= 24) used += (size_t)b.lens[i] - 24;
    uint8_t local[OPEN_BATCH_STACK];
    uint8_t *room = have_scratch ? (uint8_t *)scratch.buf : local;
    size_t room_len = have_scratch ? (size_t)scratch.len : sizeof local;
    PyObject *result = NULL;
    if (used <= room_len) {
        size_t at = 0;
        for (size_t i = 0; i < n; i++) { /* a padded plaintext per packet of 24 bytes or more */
            b.outs[i] = b.lens[i] >= 24 ? room + at : NULL;
            if (b.lens[i] >= 24) at += (size_t)b.lens[i] - 24;
        }
        int rc;
        CALL_CORE(total, rc = core_msg_open_batch(auth_key, key_id, x, n, b.ins, b.lens, b.outs,
                                                  b.results));
        if (rc == MTC_OK) result = PyList_New((Py_ssize_t)n);
        for (size_t i = 0; result && i < n; i++) {
            PyObject *item = Py_False;
            if (b.results[i] >= 0)
                item = PyBytes_FromStringAndSize((const char *)b.outs[i], 32 + b.results[i]);
            else
                Py_INCREF(item);
            if (!item)
                Py_CLEAR(result);
            else
                PyList_SetItem(result, (Py_ssize_t)i, item);
        }
        core_wipe(room, used); /* no plaintext left */
        if (!result && !PyErr_Occurred()) result = Py_NewRef(Py_None); /* refused */
    } else {
        result = PyLong_FromSize_t(used); /* the scratch it takes */
    }
    if (have_scratch) PyBuffer_Release(&scratch);
    release_items(b.held, n);
    free(b.block);
    return result;
}

/* msg_open_padded(auth_key256, key_id8, x, packet) -> (bytes, int) | False | None
 * The whole decrypted plaintext, padding included, and the data length: the
 * core decrypts straight into the returned object, with no copy (what a
 * session wants for large messages). */
static PyObject *fc_msg_open_padded(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    int data_len = 0;
    PyObject *padded = open_fresh(args, nargs, &data_len);
    if (!padded || !PyBytes_CheckExact(padded)) return padded;
    return Py_BuildValue("(Ni)", padded, data_len); /* N: the tuple takes our reference */
}

static PyObject *fc_needs(PyObject *self, PyObject *unused)
{
    (void)self;
    (void)unused;
    PyObject *names = PyTuple_New((Py_ssize_t)N_NEEDS);
    if (!names) return NULL;
    for (size_t i = 0; i < N_NEEDS; i++) {
        PyObject *name = PyUnicode_FromString(NEEDS[i]);
        if (!name) {
            Py_DECREF(names);
            return NULL;
        }
        PyTuple_SetItem(names, (Py_ssize_t)i, name);
    }
    return names;
}

/* duplicates: deliberate -- the method table, one entry per fast entry point (CPython's
   required form). */
static PyMethodDef methods[] = {
    {"needs", fc_needs, METH_NOARGS, "The core functions bind() wants, in order."},
    {"bind", (PyCFunction)(void (*)(void))fc_bind, METH_FASTCALL,
     "Hand over the core's function addresses (once)."},
    {"ige256", (PyCFunction)(void (*)(void))fc_ige256, METH_FASTCALL,
     "ige256(decrypt, data, key, iv) -> bytes | None"},
    {"ige256_batch", (PyCFunction)(void (*)(void))fc_ige256_batch, METH_FASTCALL,
     "ige256_batch(decrypt, items) -> list[bytes] | None"},
    {"ige256_batch_into", (PyCFunction)(void (*)(void))fc_ige256_batch_into, METH_FASTCALL,
     "ige256_batch_into(decrypt, data, keys, ivs, lengths, out) -> True | None"},
    {"msg_seal_random", (PyCFunction)(void (*)(void))fc_msg_seal_random, METH_FASTCALL,
     "msg_seal_random(auth_key, key_id, x, plain, extra_blocks[, tail]) -> bytes | None"},
    {"msg_seal_batch", (PyCFunction)(void (*)(void))fc_msg_seal_batch, METH_FASTCALL,
     "msg_seal_batch(auth_key, key_id, x, plains) -> list[bytes] | None"},
    {"msg_open_batch", (PyCFunction)(void (*)(void))fc_msg_open_batch, METH_FASTCALL,
     "msg_open_batch(auth_key, key_id, x, packets, scratch) -> list[bytes | False] | int | None"},
    {"msg_open", (PyCFunction)(void (*)(void))fc_msg_open, METH_FASTCALL,
     "msg_open(auth_key, key_id, x, packet) -> bytes | False | None"},
    {"msg_open_padded", (PyCFunction)(void (*)(void))fc_msg_open_padded, METH_FASTCALL,
     "msg_open_padded(auth_key, key_id, x, packet) -> (bytes, int) | False | None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "mtcrypt._native._fastcall",
    "mtcrypt's fast entry to the C core (private; see _fastcall.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fastcall(void)
{
    return PyModule_Create(&module);
}
