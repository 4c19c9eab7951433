#!/usr/bin/env python3
"""Derive the constant tables of the vector-permute AES (csrc/aes_vpaes.c).

The technique is M. Hamburg's, "Accelerating AES with vector permute
instructions" (CHES 2009): every byte of the state is kept in a tower-field
representation of GF(2^8) over GF(2^4), and the S-box inversion and the
linear layers are computed with 16-entry table lookups indexed by nibbles,
which a byte shuffle (SSSE3 pshufb, NEON tbl) performs on 16 bytes at once:
no table is ever indexed from memory, and nothing branches on data.

This script derives every table from the field arithmetic, checks the
resulting lookup program against the AES S-box (computed here from its
definition: inversion in GF(2^8) mod x^8+x^4+x^3+x+1 followed by the affine
map) on all 256 inputs, runs a whole AES-256 encryption and decryption built
from the tables against the FIPS-197 C.3 vector, and prints the C header
csrc/aes_vpaes_tables.h.  tests/test_vpaes_tables.py runs it and compares the
output with the committed header.

The mathematics, as used here
-----------------------------
F = GF(16) = GF(2)[w]/(w^4+w+1), nibbles as polynomial-basis coordinates.
E = F[t]/(t^2 + t + 1/A) for a constant A in F chosen below so that the
polynomial is irreducible; E is GF(256).  An AES byte y maps to E by the field
isomorphism phi (sending the AES generator x to a root r of the AES modulus),
and phi(y) = (A*i) t + k is stored as the byte (i << 4) | k: the "B basis".
With j = i + k, the lookups

    ak  = A/k          iak = 1/i + ak         io = 1/iak + j
                       jak = 1/j + ak         jo = 1/jak + i

give io = N/(A i + k) and jo = N/(A i + (1+A) k), N the norm of phi(y), so
that 1/phi(y) = H t + L with L = 1/io and H = (1/jo)/A + ((1+A)/A)/io: the
inverse is a sum of one function of io and one of jo, each a 16-entry table
that can also apply any GF(2)-linear map after the inversion (the S-box's
affine part, the MixColumns multiples, the change of basis).  "1/0" is a
table entry with the top bit set: it survives an XOR with a nibble, and a
shuffle indexed by it yields 0, which is what the projective formulas need
at the zero divisors; the exhaustive check below confirms every case.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

AES_POLY = 0x11B
F_POLY = 0x13  # w^4 + w + 1
INF = 0x80  # "1/0": shuffles return 0 for an index with the top bit set


# ---- GF(256), AES polynomial basis ------------------------------------------


def gmul(a: int, b: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        if a & 0x100:
            a ^= AES_POLY
        b >>= 1
    return r


# Powers of the generator 0x03 give every nonzero element once: a^-1 = 3^(255 - log a).
EXP = [1]
for _ in range(254):
    EXP.append(gmul(EXP[-1], 3))
LOG = {v: k for k, v in enumerate(EXP)}
assert len(LOG) == 255


def ginv(a: int) -> int:
    return 0 if a == 0 else EXP[(255 - LOG[a]) % 255]


def rotl8(v: int, n: int) -> int:
    return ((v << n) | (v >> (8 - n))) & 0xFF


def affine_linear(v: int) -> int:
    """The linear part of the S-box's affine map (without the 0x63)."""
    return v ^ rotl8(v, 1) ^ rotl8(v, 2) ^ rotl8(v, 3) ^ rotl8(v, 4)


assert all(gmul(a, ginv(a)) == 1 for a in range(1, 256))
SBOX = [affine_linear(ginv(v)) ^ 0x63 for v in range(256)]
INV_SBOX = [0] * 256
for _v, _s in enumerate(SBOX):
    INV_SBOX[_s] = _v
# Spot values from FIPS-197 figure 7, so the definition above is anchored.
assert (SBOX[0x00], SBOX[0x01], SBOX[0x53], SBOX[0xFF]) == (0x63, 0x7C, 0xED, 0x16)
assert sorted(SBOX) == list(range(256))


# ---- F = GF(16) and E = F[t]/(t^2+t+lam) -------------------------------------


def fmul(a: int, b: int) -> int:
    r = 0
    while b:
        if b & 1:
            r ^= a
        a <<= 1
        if a & 0x10:
            a ^= F_POLY
        b >>= 1
    return r


def finv(a: int) -> int:
    for b in range(1, 16):
        if fmul(a, b) == 1:
            return b
    raise ZeroDivisionError


def ftrace(a: int) -> int:
    s, p = 0, a
    for _ in range(4):
        s ^= p
        p = fmul(p, p)
    return s


def choose_a() -> int:
    """The smallest A != 1 with t^2 + t + 1/A irreducible (trace 1)."""
    for a in range(2, 16):
        if ftrace(finv(a)) == 1:
            return a
    raise AssertionError("no constant")


A = choose_a()
LAM = finv(A)


def emul(x: tuple[int, int], y: tuple[int, int]) -> tuple[int, int]:
    h1, l1 = x
    h2, l2 = y
    hh = fmul(h1, h2)
    return (hh ^ fmul(h1, l2) ^ fmul(l1, h2), fmul(hh, LAM) ^ fmul(l1, l2))


def epow(x: tuple[int, int], n: int) -> tuple[int, int]:
    r = (0, 1)
    for _ in range(n):
        r = emul(r, x)
    return r


def find_root() -> tuple[int, int]:
    """An element r of E with r^8 + r^4 + r^3 + r + 1 = 0."""
    for h in range(16):
        for lo in range(16):
            r = (h, lo)
            acc = (0, 1)
            for e in (8, 4, 3, 1):
                p = epow(r, e)
                acc = (acc[0] ^ p[0], acc[1] ^ p[1])
            if acc == (0, 0):
                return r
    raise AssertionError("no root")


ROOT = find_root()
POWERS = [epow(ROOT, k) for k in range(8)]


def phi(y: int) -> tuple[int, int]:
    h = lo = 0
    for k in range(8):
        if (y >> k) & 1:
            h ^= POWERS[k][0]
            lo ^= POWERS[k][1]
    return (h, lo)


PHI_INV = {phi(y): y for y in range(256)}
assert len(PHI_INV) == 256
for _a in range(256):  # phi is a field isomorphism
    for _b in (1, 2, 3, 0x53, 0xCA, 0xFF):
        assert phi(gmul(_a, _b)) == emul(phi(_a), phi(_b))


def to_b(y: int) -> int:
    """AES byte -> B basis byte (i << 4) | k with phi(y) = (A i) t + k."""
    h, lo = phi(y)
    return (fmul(h, LAM) << 4) | lo


def lin_table(f: Callable[[int], int]) -> tuple[list[int], list[int]]:
    """A GF(2)-linear byte map as two 16-entry nibble tables (lo, hi)."""
    return [f(n) for n in range(16)], [f(n << 4) for n in range(16)]


# ---- the inversion program ---------------------------------------------------

INV_T = [INF] + [finv(n) for n in range(1, 16)]
INVA_T = [INF] + [fmul(A, finv(n)) for n in range(1, 16)]


def look(table: list[int], idx: int) -> int:
    """A shuffle lookup: pshufb and NEON tbl agree on these indexes."""
    assert idx < 16 or idx >= 0x80, idx
    return 0 if idx & 0x80 else table[idx]


def core(z: int) -> tuple[int, int]:
    i, k = z >> 4, z & 15
    j = i ^ k
    ak = look(INVA_T, k)
    iak = look(INV_T, i) ^ ak
    jak = look(INV_T, j) ^ ak
    io = look(INV_T, iak) ^ j
    jo = look(INV_T, jak) ^ i
    return io, jo


def part_u(io: int) -> int:
    """The io part of the inverse, as an AES byte."""
    if io == 0:
        return 0  # never reached with io unmarked and zero (checked below)
    inv_io = finv(io)
    return PHI_INV[(fmul(fmul(1 ^ A, LAM), inv_io), inv_io)]


def part_t(jo: int) -> int:
    if jo == 0:
        return 0
    return PHI_INV[(fmul(LAM, finv(jo)), 0)]


U_AES = [part_u(n) for n in range(16)]
T_AES = [part_t(n) for n in range(16)]


def inverse_via_tables(z: int) -> int:
    io, jo = core(z)
    return look(U_AES, io) ^ look(T_AES, jo)


for _y in range(256):
    assert inverse_via_tables(to_b(_y)) == ginv(_y), hex(_y)


def out_pair(f: Callable[[int], int]) -> tuple[list[int], list[int]]:
    """Output tables (u, t): f applied to each part of the inverse."""
    return [f(v) for v in U_AES], [f(v) for v in T_AES]


B_LO, B_HI = lin_table(to_b)
# The S-box input in decryption is the inverse affine map of the state:
# to_b(L^-1(y) ^ L^-1(0x63)); the constant goes into the round keys.
AFF_LIN_INV = [0] * 256
for _v in range(256):
    AFF_LIN_INV[affine_linear(_v)] = _v
DB_LO, DB_HI = lin_table(lambda y: to_b(AFF_LIN_INV[y]))
DEC_CONST = to_b(AFF_LIN_INV[0x63])  # B(L^-1(0x63))
ENC_CONST = to_b(0x63)

SB1 = out_pair(lambda v: to_b(affine_linear(v)))  # B(S(y)) less B(0x63)
SB2 = out_pair(lambda v: to_b(gmul(2, affine_linear(v))))  # B(2 S(y)) likewise
SB3 = out_pair(lambda v: to_b(gmul(3, affine_linear(v))))  # B(3 S(y)) likewise
SBO = out_pair(affine_linear)  # S(y) less 0x63, AES basis (last round)


def dec_times(c: int) -> Callable[[int], int]:
    """v -> DB(c v): a multiple of InvS(y) on the decryption basis."""
    return lambda v: to_b(AFF_LIN_INV[gmul(c, v)])


DSB = {c: out_pair(dec_times(c)) for c in (9, 11, 13, 14)}
DSBO = out_pair(lambda v: v)  # InvS(y), AES basis (last round)

# Byte permutations of a column-major state (byte 4c + r is row r, column c).
SHIFT_ROWS = [4 * ((p // 4 + p % 4) % 4) + p % 4 for p in range(16)]
INV_SHIFT_ROWS = [4 * ((p // 4 - p % 4) % 4) + p % 4 for p in range(16)]
ROT_COL = [4 * (p // 4) + (p % 4 + 1) % 4 for p in range(16)]


def then(first: list[int], second: list[int], times: int = 1) -> list[int]:
    """The index vector of shuffling by `first`, then `times` times by `second`."""
    idx = list(first)
    for _ in range(times):
        idx = [idx[q] for q in second]
    return idx


# ShiftRows (or its inverse) followed by 0..3 column rotations: MixColumns
# and InvMixColumns of a shifted state as four shuffles of unshifted values.
ROTS = [then(list(range(16)), ROT_COL, n) for n in range(4)]
SR_ROT = [then(SHIFT_ROWS, ROT_COL, n) for n in range(4)]
ISR_ROT = [then(INV_SHIFT_ROWS, ROT_COL, n) for n in range(4)]


# ---- the whole cipher from the tables (a model of the C code) -----------------


def shuffle(v: list[int], idx: list[int]) -> list[int]:
    return [v[i] for i in idx]


def xor(a: list[int], b: list[int]) -> list[int]:
    return [x ^ y for x, y in zip(a, b, strict=True)]


def lin(v: list[int], lo: list[int], hi: list[int]) -> list[int]:
    return [lo[b & 15] ^ hi[b >> 4] for b in v]


def sub_parts(v: list[int], pair: tuple[list[int], list[int]]) -> list[int]:
    out = []
    for b in v:
        io, jo = core(b)
        out.append(look(pair[0], io) ^ look(pair[1], jo))
    return out


def key_expand(key: bytes) -> list[list[int]]:
    w = [list(key[4 * i : 4 * i + 4]) for i in range(8)]
    rcon = 1
    for i in range(8, 60):
        t = list(w[i - 1])
        if i % 8 == 0:
            t = [SBOX[b] for b in t[1:] + t[:1]]
            t[0] ^= rcon
            rcon = gmul(rcon, 2)
        elif i % 8 == 4:
            t = [SBOX[b] for b in t]
        w.append([a ^ b for a, b in zip(w[i - 8], t, strict=True)])
    return [[b for word in w[4 * r : 4 * r + 4] for b in word] for r in range(15)]


def inv_mix(v: list[int]) -> list[int]:
    """InvMixColumns as the C key schedule does it: multiples, then rotations."""
    m = {c: [gmul(c, b) for b in v] for c in (9, 11, 13, 14)}
    out = xor(m[14], shuffle(m[11], ROTS[1]))
    return xor(out, xor(shuffle(m[13], ROTS[2]), shuffle(m[9], ROTS[3])))


def model_encrypt(key: bytes, block: bytes) -> bytes:
    rk = key_expand(key)
    ek = [lin(rk[0], B_LO, B_HI)]
    # Middle-round keys are stored un-ShiftRowed: the C code adds them to the
    # 2 S(y) term before its ShiftRows shuffle, off the round's critical path.
    ek += [
        shuffle(xor(lin(rk[r], B_LO, B_HI), [ENC_CONST] * 16), INV_SHIFT_ROWS) for r in range(1, 14)
    ]
    ek.append(xor(rk[14], [0x63] * 16))
    s = xor(lin(list(block), B_LO, B_HI), ek[0])
    for r in range(1, 14):
        # MixColumns(ShiftRows(S(s))): 2 s[r] + 3 s[r+1] + s[r+2] + s[r+3] per column.
        a1, a2, a3 = (sub_parts(s, pair) for pair in (SB1, SB2, SB3))
        s = xor(shuffle(xor(a2, ek[r]), SR_ROT[0]), shuffle(a3, SR_ROT[1]))
        s = xor(s, xor(shuffle(a1, SR_ROT[2]), shuffle(a1, SR_ROT[3])))
    s = shuffle(sub_parts(s, SBO), SHIFT_ROWS)
    return bytes(xor(s, ek[14]))


def model_decrypt(key: bytes, block: bytes) -> bytes:
    rk = key_expand(key)
    dk = [xor(lin(rk[14], DB_LO, DB_HI), [DEC_CONST] * 16)]
    dk += [
        shuffle(xor(lin(inv_mix(rk[14 - r]), DB_LO, DB_HI), [DEC_CONST] * 16), SHIFT_ROWS)
        for r in range(1, 14)
    ]
    dk.append(rk[0])
    s = xor(lin(list(block), DB_LO, DB_HI), dk[0])
    for r in range(1, 14):
        # InvMixColumns(InvShiftRows(InvS(s))): 14, 11, 13, 9 along each column.
        ne, nb, nd, n9 = (sub_parts(s, DSB[c]) for c in (14, 11, 13, 9))
        s = xor(shuffle(xor(ne, dk[r]), ISR_ROT[0]), shuffle(nb, ISR_ROT[1]))
        s = xor(s, xor(shuffle(nd, ISR_ROT[2]), shuffle(n9, ISR_ROT[3])))
    s = shuffle(sub_parts(s, DSBO), INV_SHIFT_ROWS)
    return bytes(xor(s, dk[14]))


FIPS_KEY = bytes(range(32))
FIPS_PT = bytes.fromhex("00112233445566778899aabbccddeeff")
FIPS_CT = bytes.fromhex("8ea2b7ca516745bfeafc49904b496089")  # FIPS-197 C.3
assert model_encrypt(FIPS_KEY, FIPS_PT) == FIPS_CT
assert model_decrypt(FIPS_KEY, FIPS_CT) == FIPS_PT
for _y in range(256):  # every S-box entry through the lookup program
    assert sub_parts([to_b(_y)], SBO)[0] ^ 0x63 == SBOX[_y]
    assert sub_parts([to_b(AFF_LIN_INV[_y ^ 0x63])], DSBO)[0] == INV_SBOX[_y]


# ---- the C header ---------------------------------------------------------------

TABLES: list[tuple[str, list[int], str]] = [
    ("VP_LO_MASK", [0x0F] * 16, "low-nibble mask"),
    ("VP_INV", INV_T, "1/n in GF(16), 1/0 marked (top bit)"),
    ("VP_INVA", INVA_T, f"A/n, A = {A:#x}, A/0 marked"),
    ("VP_B_LO", B_LO, "AES basis -> B basis, low nibble"),
    ("VP_B_HI", B_HI, "AES basis -> B basis, high nibble"),
    ("VP_SB1_U", SB1[0], "B(S(y)) less B(0x63), io part"),
    ("VP_SB1_T", SB1[1], "B(S(y)) less B(0x63), jo part"),
    ("VP_SB2_U", SB2[0], "B(2 S(y)) less B(0xc6), io part"),
    ("VP_SB2_T", SB2[1], "B(2 S(y)) less B(0xc6), jo part"),
    ("VP_SB3_U", SB3[0], "B(3 S(y)) less B(0xa5), io part"),
    ("VP_SB3_T", SB3[1], "B(3 S(y)) less B(0xa5), jo part"),
    ("VP_SBO_U", SBO[0], "S(y) less 0x63 in the AES basis, io part"),
    ("VP_SBO_T", SBO[1], "S(y) less 0x63 in the AES basis, jo part"),
    ("VP_DB_LO", DB_LO, "AES basis -> B basis after the inverse affine map, low"),
    ("VP_DB_HI", DB_HI, "AES basis -> B basis after the inverse affine map, high"),
    ("VP_D9_U", DSB[9][0], "DB(9 InvS(y)), io part"),
    ("VP_D9_T", DSB[9][1], "DB(9 InvS(y)), jo part"),
    ("VP_DB11_U", DSB[11][0], "DB(11 InvS(y)), io part"),
    ("VP_DB11_T", DSB[11][1], "DB(11 InvS(y)), jo part"),
    ("VP_DD_U", DSB[13][0], "DB(13 InvS(y)), io part"),
    ("VP_DD_T", DSB[13][1], "DB(13 InvS(y)), jo part"),
    ("VP_DE_U", DSB[14][0], "DB(14 InvS(y)), io part"),
    ("VP_DE_T", DSB[14][1], "DB(14 InvS(y)), jo part"),
    ("VP_DO_U", DSBO[0], "InvS(y) in the AES basis, io part"),
    ("VP_DO_T", DSBO[1], "InvS(y) in the AES basis, jo part"),
    ("VP_SR0", SR_ROT[0], "ShiftRows as a byte shuffle"),
    ("VP_SR1", SR_ROT[1], "ShiftRows, then each column rotated up one row"),
    ("VP_SR2", SR_ROT[2], "ShiftRows, then each column rotated up two rows"),
    ("VP_SR3", SR_ROT[3], "ShiftRows, then each column rotated up three rows"),
    ("VP_ISR0", ISR_ROT[0], "InvShiftRows as a byte shuffle"),
    ("VP_ISR1", ISR_ROT[1], "InvShiftRows, then each column rotated up one row"),
    ("VP_ISR2", ISR_ROT[2], "InvShiftRows, then each column rotated up two rows"),
    ("VP_ISR3", ISR_ROT[3], "InvShiftRows, then each column rotated up three rows"),
    ("VP_ROT1", ROTS[1], "each column rotated up one row (key schedule)"),
    ("VP_ROT2", ROTS[2], "each column rotated up two rows (key schedule)"),
    ("VP_ROT3", ROTS[3], "each column rotated up three rows (key schedule)"),
]


def header() -> str:
    lines = [
        "/* Generated by tools/vpaes_tables.py; do not edit (tests/test_vpaes_tables.py",
        " * checks that this file is the script's output).  Constants of the",
        " * vector-permute AES in csrc/aes_vpaes.c; the script derives and checks them. */",
        "#ifndef MTCRYPT_AES_VPAES_TABLES_H",
        "#define MTCRYPT_AES_VPAES_TABLES_H",
        "",
        "enum {",
    ]
    for n, (name, _, _) in enumerate(TABLES):
        lines.append(f"    {name} = {n},")
    lines += [f"    VP_NTABLES = {len(TABLES)}", "};", ""]
    lines.append(f"#define VP_ENC_CONST 0x{ENC_CONST:02x} /* B(0x63): middle-round key offset */")
    lines.append(f"#define VP_DEC_CONST 0x{DEC_CONST:02x} /* B(L^-1(0x63)): decryption offset */")
    lines += ["", "static const uint8_t vp_tables[VP_NTABLES][16] __attribute__((aligned(16))) = {"]
    for name, values, comment in TABLES:
        assert len(values) == 16 and all(0 <= v < 256 for v in values)
        body = ", ".join(f"0x{v:02x}" for v in values)
        lines.append(f"    /* {name}: {comment} */")
        lines.append(f"    {{{body}}},")
    lines += ["};", "", "#endif", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(header())
