#!/bin/bash -eu
# Build mtcrypt's fuzz targets into $OUT.
#
# Two ways to run it:
#
#  * OSS-Fuzz / ClusterFuzzLite, inside the builder image (see Dockerfile and
#    project.yaml next to this file): the builder sets CC, CXX, CFLAGS,
#    LIB_FUZZING_ENGINE, SANITIZER, SRC, WORK and OUT.  C targets are
#    compiled with its flags; the atheris targets are packaged with
#    pyinstaller over a native core compiled with the same flags.
#
#  * Locally (fuzz/run.py calls it): LIB_FUZZING_ENGINE unset, so clang with
#    -fsanitize=fuzzer,address,undefined builds the C targets into build/fuzz/.
#    The atheris targets run straight from fuzz/python/ with the installed
#    package, so nothing is built for them here.
#
# Either way: seed corpora ($OUT/<target>_seed_corpus.zip), dictionaries and
# .options files come from fuzz/gen_corpus.py when mtcrypt is importable.

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(dirname "$HERE")"

if [ -z "${LIB_FUZZING_ENGINE:-}" ]; then
    MODE=local
    CC=clang
    CXX=clang++
    CFLAGS="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined"
    CFLAGS="$CFLAGS -fno-sanitize-recover=undefined -fsanitize=fuzzer-no-link"
    LIB_FUZZING_ENGINE="-fsanitize=fuzzer"
    OUT="${OUT:-$ROOT/build/fuzz}"
    WORK="$OUT/work"
    PYTHON="${PYTHON:-python3}"
else
    MODE=oss-fuzz
    WORK="${WORK:-/tmp/mtcrypt-fuzz-work}"
    PYTHON="${PYTHON:-python3}"
fi
mkdir -p "$OUT" "$WORK/obj"

# ---- the C core, once ------------------------------------------------------
OBJS=()
for src in "$ROOT"/csrc/*.c; do
    obj="$WORK/obj/core_$(basename "$src" .c).o"
    $CC $CFLAGS -std=gnu11 -pthread -I"$ROOT/csrc" -c "$src" -o "$obj"
    OBJS+=("$obj")
done

# ---- libFuzzer targets -------------------------------------------------------
C_TARGETS=()
for harness in "$HERE"/c/fuzz_*.c; do
    name="$(basename "$harness" .c)"
    $CC $CFLAGS -std=gnu11 -I"$ROOT/csrc" -I"$HERE/c" -c "$harness" -o "$WORK/obj/$name.o"
    $CXX $CFLAGS $LIB_FUZZING_ENGINE -pthread "$WORK/obj/$name.o" "${OBJS[@]}" -o "$OUT/$name"
    C_TARGETS+=("$name")
done

# ---- atheris targets (OSS-Fuzz only) -----------------------------------------
PY_TARGETS=()
if [ "$MODE" = oss-fuzz ]; then
    # The native core with the builder's sanitizer flags, in an overlay copy
    # of the package that pyinstaller bundles.
    $PYTHON -m pip install -q "cffi>=1.16" "pycryptodome>=3.19"
    $PYTHON "$HERE/python/build_native.py" --overlay "$WORK/pyroot"
    for harness in "$HERE"/python/fuzz_*.py; do
        name="$(basename "$harness" .py)"
        # The schema file, the cffi extension and the cffi backend it imports
        # from C are invisible to pyinstaller's import analysis: named here.
        pyinstaller --distpath "$OUT" --workpath "$WORK/pyinstaller" --specpath "$WORK" \
            --onefile --name "$name.pkg" --paths "$WORK/pyroot" --paths "$HERE/python" \
            --collect-submodules mtcrypt --hidden-import _cffi_backend \
            --add-data "$WORK/pyroot/mtcrypt/tl/schema.tl:mtcrypt/tl" \
            --add-binary "$(ls "$WORK"/pyroot/mtcrypt/_native/_mtcrypt*.so):mtcrypt/_native" \
            "$harness"
        # The wrapper OSS-Fuzz runs; the name LLVMFuzzerTestOneInput in this
        # file is how it recognises a fuzz target.
        cat > "$OUT/$name" <<EOF
#!/bin/sh
# LLVMFuzzerTestOneInput for fuzzer detection.
this_dir=\$(dirname "\$0")
LD_PRELOAD=\$this_dir/sanitizer_with_fuzzer.so \\
ASAN_OPTIONS=\$ASAN_OPTIONS:symbolize=1:external_symbolizer_path=\$this_dir/llvm-symbolizer:detect_leaks=0 \\
\$this_dir/$name.pkg "\$@"
EOF
        chmod +x "$OUT/$name"
        PY_TARGETS+=("$name")
    done
    # The instrumented core needs a sanitizer runtime loaded first: the one
    # atheris ships for this sanitizer (the builder may provide its own copy).
    case "${SANITIZER:-address}" in
        undefined) RUNTIME=ubsan_with_fuzzer.so ;;
        *) RUNTIME=asan_with_fuzzer.so ;;
    esac
    ATHERIS_DIR="$($PYTHON -c "import atheris; print(atheris.path())")"
    [ -f "$OUT/sanitizer_with_fuzzer.so" ] || cp "$ATHERIS_DIR/$RUNTIME" "$OUT/sanitizer_with_fuzzer.so"
    SEED_ENV=(env PYTHONPATH="$WORK/pyroot" LD_PRELOAD="$OUT/sanitizer_with_fuzzer.so"
              ASAN_OPTIONS=detect_leaks=0 PYCRYPTODOME_DISABLE_DEEPBIND=1)
else
    SEED_ENV=(env)
fi

# ---- seeds, dictionaries, options ----------------------------------------------
if "${SEED_ENV[@]}" $PYTHON -c "import mtcrypt.crypto" 2>/dev/null; then
    rm -rf "$WORK/seeds"
    "${SEED_ENV[@]}" $PYTHON "$HERE/gen_corpus.py" --out "$WORK/seeds" >/dev/null
    for name in "${C_TARGETS[@]}" "${PY_TARGETS[@]}"; do
        if [ -d "$WORK/seeds/$name" ]; then
            rm -f "$OUT/${name}_seed_corpus.zip"
            (cd "$WORK/seeds/$name" && $PYTHON -m zipfile -c "$OUT/${name}_seed_corpus.zip" .)
        fi
        [ -f "$WORK/seeds/$name.dict" ] && cp "$WORK/seeds/$name.dict" "$OUT/$name.dict"
    done
else
    echo "build.sh: mtcrypt is not importable; no seed corpora" >&2
fi
for name in "${C_TARGETS[@]}" "${PY_TARGETS[@]}"; do
    opts="[libfuzzer]\nmax_len = 8192\ntimeout = 10\n"
    [ -f "$OUT/$name.dict" ] && opts="${opts}dict = $name.dict\n"
    printf "$opts" > "$OUT/$name.options"
done

echo "built (${MODE}): ${C_TARGETS[*]} ${PY_TARGETS[*]:-}"
