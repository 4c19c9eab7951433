/* CPU feature detection and backend selection. */
#include "internal.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define MTC_X86 1
#endif

/* aarch64: the kernel reports the crypto extensions in the ELF auxiliary
 * vector (the instructions trap at EL0 otherwise); other aarch64 systems get
 * no feature bits, so the portable path. */
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#define MTC_ARM_HWCAP 1
/* arch/arm64/include/uapi/asm/hwcap.h; defined here for old libc headers. */
#ifndef HWCAP_ASIMD
#define HWCAP_ASIMD (1UL << 1)
#endif
#ifndef HWCAP_AES
#define HWCAP_AES (1UL << 3)
#endif
#ifndef HWCAP_PMULL
#define HWCAP_PMULL (1UL << 4)
#endif
#ifndef HWCAP_SHA1
#define HWCAP_SHA1 (1UL << 5)
#endif
#ifndef HWCAP_SHA2
#define HWCAP_SHA2 (1UL << 6)
#endif
#endif

struct mtc_runtime mtc_rt = {0, MTC_BACKEND_PORTABLE, 0, 0};

#ifdef MTC_X86
static uint64_t read_xcr0(void)
{
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}
#endif

int mtc_cpu_features(void)
{
    int f = 0;
#ifdef MTC_X86
    unsigned int a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d))
        return 0;
    int osxsave = (c >> 27) & 1;
    if (c & (1u << 25)) f |= MTC_CPU_AESNI;
    if (c & (1u << 1)) f |= MTC_CPU_PCLMUL;
    if (c & (1u << 9)) f |= MTC_CPU_SSSE3;
    if (c & (1u << 19)) f |= MTC_CPU_SSE41;
    int avx = (c >> 28) & 1;
    uint64_t xcr0 = osxsave ? read_xcr0() : 0;
    int ymm_ok = avx && (xcr0 & 0x6) == 0x6;
    int zmm_ok = ymm_ok && (xcr0 & 0xe6) == 0xe6;
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b, c, d);
        if (ymm_ok && (b & (1u << 5))) f |= MTC_CPU_AVX2;
        if (b & (1u << 29)) f |= MTC_CPU_SHANI;
        if ((b & (1u << 8)) && (b & (1u << 19))) f |= MTC_CPU_ADX; /* BMI2 (MULX) and ADX */
        /* AVX-512 F (b16), BW (b30), VL (b31) */
        if (zmm_ok && (b & (1u << 16)) && (b & (1u << 30)) && (b & (1u << 31)))
            f |= MTC_CPU_AVX512;
        /* VAES (c9) in its VEX-encoded 256-bit form needs AVX2 for the integer
         * work around it and the OS saving YMM state (both in MTC_CPU_AVX2); the
         * vaes backend adds its 512-bit kernels where MTC_CPU_AVX512 is set too. */
        if ((f & MTC_CPU_AVX2) && (c & (1u << 9)) && (f & MTC_CPU_AESNI))
            f |= MTC_CPU_VAES;
    }
    /* SHA-NI code also needs SSSE3 and SSE4.1 shuffles and blends. */
    if ((f & MTC_CPU_SHANI) && !((f & MTC_CPU_SSSE3) && (f & MTC_CPU_SSE41)))
        f &= ~MTC_CPU_SHANI;
    /* The AES-NI code uses SSSE3 byte shuffles and SSE4.1 for CTR. */
    if ((f & MTC_CPU_AESNI) && !((f & MTC_CPU_SSSE3) && (f & MTC_CPU_SSE41)))
        f &= ~(MTC_CPU_AESNI | MTC_CPU_VAES);
#endif
#ifdef MTC_ARM_HWCAP
    unsigned long hw = getauxval(AT_HWCAP);
    if (hw & HWCAP_ASIMD) f |= MTC_CPU_NEON;
    if (hw & HWCAP_PMULL) f |= MTC_CPU_PCLMUL;
    if ((hw & HWCAP_AES) && (hw & HWCAP_ASIMD)) f |= MTC_CPU_ARMV8_AES;
    if ((hw & HWCAP_SHA1) && (hw & HWCAP_SHA2) && (hw & HWCAP_ASIMD)) f |= MTC_CPU_ARMV8_SHA;
#endif
#if !MTC_ARMV8
    /* Seen, but no code for it in this build (big-endian aarch64). */
    f &= ~(MTC_CPU_ARMV8_AES | MTC_CPU_ARMV8_SHA);
#endif
    return f;
}

/* The vector-permute AES needs SSSE3 on x86-64; on aarch64 NEON is part of
 * the base architecture. */
static int vpaes_usable(int f)
{
#if defined(MTC_HAVE_VPAES) && defined(__x86_64__)
    return (f & MTC_CPU_SSSE3) != 0;
#elif defined(MTC_HAVE_VPAES)
    return (f & MTC_CPU_NEON) != 0; /* aarch64: Advanced SIMD, as detected (cpu.c) */
#else
    (void)f;
    return 0;
#endif
}

int mtc_select_backend(int backend)
{
    int f = mtc_cpu_features();
    mtc_rt.cpu = f;
    switch (backend) {
    case MTC_BACKEND_AUTO:
        if (f & MTC_CPU_VAES) backend = MTC_BACKEND_VAES;
        else if (f & MTC_CPU_AESNI) backend = MTC_BACKEND_AESNI;
        else if (f & MTC_CPU_ARMV8_AES) backend = MTC_BACKEND_ARMV8;
        else if (vpaes_usable(f)) backend = MTC_BACKEND_VPAES;
        else backend = MTC_BACKEND_PORTABLE;
        break;
    case MTC_BACKEND_PORTABLE:
        break;
    case MTC_BACKEND_AESNI:
        if (!(f & MTC_CPU_AESNI)) return MTC_ERR_UNAVAILABLE;
        break;
    case MTC_BACKEND_VAES:
        if (!(f & MTC_CPU_VAES)) return MTC_ERR_UNAVAILABLE;
        break;
    case MTC_BACKEND_VPAES:
        if (!vpaes_usable(f)) return MTC_ERR_UNAVAILABLE;
        break;
    case MTC_BACKEND_ARMV8:
        if (!(f & MTC_CPU_ARMV8_AES)) return MTC_ERR_UNAVAILABLE;
        break;
    default:
        return MTC_ERR_ARG;
    }
    mtc_rt.aes = backend;
    /* Forcing the portable backend forces portable hashing too, so that one
     * switch exercises every fallback. */
    mtc_rt.sha_ni = (backend != MTC_BACKEND_PORTABLE) && (f & (MTC_CPU_SHANI | MTC_CPU_ARMV8_SHA));
    /* Likewise the big-number code (bn.c): portable C there, MULX/ADX otherwise. */
    mtc_rt.bn_adx = (backend != MTC_BACKEND_PORTABLE) && (f & MTC_CPU_ADX);
    return backend;
}

int mtc_backend(void) { return mtc_rt.aes; }

int mtc_sha_accelerated(void) { return mtc_rt.sha_ni; }

void mtc_wipe(void *p, size_t n)
{
    if (!p || !n) return;
    memset(p, 0, n);
    /* The empty asm "uses" the memory, so the memset cannot be elided as a
     * dead store (the explicit_bzero idiom, portable to any GNU C compiler). */
    __asm__ __volatile__("" : : "r"(p) : "memory");
}
