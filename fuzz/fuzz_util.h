/* Shared helpers of the libFuzzer harnesses (fuzz/fuzz_*.c). Readers that only take a path get the
 * input through a per-process temporary file (TMPDIR, else /tmp); nothing here keeps state. */
#ifndef KR_FUZZ_UTIL_H
#define KR_FUZZ_UTIL_H
#include "error.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Write data to "<tmp>/kreep-fuzz-<tag>-<pid><ext>" and put the path in buf. Returns 0 on success. */
static inline int kr_fuzz_tmpfile(const uint8_t *data, size_t size, const char *tag, const char *ext,
                                  char *buf, size_t len)
{
    const char *dir = getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    snprintf(buf, len, "%s/kreep-fuzz-%s-%ld%s", dir, tag, (long)getpid(), ext);
    FILE *f = fopen(buf, "wb");
    if (!f) return -1;
    size_t w = size ? fwrite(data, 1, size, f) : 0;
    int bad = fclose(f) != 0 || w != size;
    return bad ? -1 : 0;
}

/* The error stack must stay usable across iterations: formatting exercises every pushed message. */
static inline void kr_fuzz_drain_errors(void)
{
    char msg[2048];
    if (kr_err_count() > 0) kr_err_format(msg, sizeof msg);
    kr_err_clear();
}

#endif
