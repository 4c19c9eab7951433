"""Build script: the C core is compiled by cffi (see mtcrypt/_native/build.py)."""

from setuptools import setup

try:
    from wheel.bdist_wheel import bdist_wheel as _bdist_wheel
except ImportError:  # pragma: no cover - wheel missing: plain installs still work
    _bdist_wheel = None

cmdclass = {}
if _bdist_wheel is not None:

    class bdist_wheel_abi3(_bdist_wheel):  # type: ignore[misc, valid-type]
        """Tag wheels abi3: the cffi module uses only the limited C API."""

        def finalize_options(self) -> None:
            super().finalize_options()
            self.py_limited_api = "cp311"

    cmdclass["bdist_wheel"] = bdist_wheel_abi3

setup(
    cffi_modules=["mtcrypt/_native/build.py:ffibuilder"],
    cmdclass=cmdclass,
)
