"""The vector-permute AES constants (csrc/aes_vpaes_tables.h) are the output of
their generator, tools/vpaes_tables.py, which derives them from the GF(2^8) /
GF(2^4) tower-field arithmetic and, before printing, checks them: every AES
S-box and inverse S-box entry through the lookup program, and a whole AES-256
encryption and decryption modelled on the C code against FIPS-197 C.3."""

from __future__ import annotations

from conftest import assert_generated_file


def test_header_is_the_generators_checked_output() -> None:
    assert_generated_file("tools/vpaes_tables.py", "csrc/aes_vpaes_tables.h")
