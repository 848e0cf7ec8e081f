/* libFuzzer: JEOL map conditions reader (stages/epma/map_read.h, both .cnd styles) and the axes. */
#include "fuzz_util.h"
#include "map_read.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kr_map_cnd c;
    if (kr_map_cnd_parse("fuzz.cnd", (const char *)data, size, &c) == KR_OK) {
        (void)kr_map_cnd_find(&c, "Ti");
        (void)kr_map_cnd_find(&c, "fe");
        /* axes of a plausible size only (a real reader caller bounds nx, ny before allocating) */
        if (c.nx > 0 && c.ny > 0 && c.nx <= 4096 && c.ny <= 4096) {
            double *x = malloc((size_t)c.nx * sizeof *x), *y = malloc((size_t)c.ny * sizeof *y);
            if (x && y) kr_map_axes(&c, x, y);
            free(x);
            free(y);
        }
    }
    kr_fuzz_drain_errors();
    return 0;
}
