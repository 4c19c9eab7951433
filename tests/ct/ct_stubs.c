/* Definitions the constant-time harness needs from the rest of csrc/. */
#include "../../csrc/internal.h"

struct mtc_runtime mtc_rt;

void mtc_wipe(void *p, size_t n)
{
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n--)
        *v++ = 0;
}
