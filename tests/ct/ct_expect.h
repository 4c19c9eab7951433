/* The functional checks the constant-time harnesses make on their results
 * (with the results marked defined again): count the failures, say which. */
#ifndef CT_EXPECT_H
#define CT_EXPECT_H

#include <stdio.h>

static int failures;

#define expect_true(cond, what) expect_at((cond), (what), __LINE__)
static void expect_at(int cond, const char *what, int line)
{
    if (!cond) {
        fprintf(stderr, "functional check failed: %s (line %d)\n", what, line);
        failures++;
    }
}

#endif
