"""Build script: the C core is compiled by cffi (see mtcrypt/_native/build.py)."""

from setuptools import setup

setup(
    cffi_modules=["mtcrypt/_native/build.py:ffibuilder"],
    # Tag wheels abi3 (cp311-abi3-*): the cffi module uses only the limited C API, so one
    # wheel serves CPython 3.11 and later.  setuptools' own bdist_wheel (>= 70.1) reads it.
    options={"bdist_wheel": {"py_limited_api": "cp311"}},
)
