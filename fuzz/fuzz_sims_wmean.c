/* libFuzzer: value/sigma CSV reader (stages/sims/ratio_io.h, `kreep wmean` input). */
#include "fuzz_util.h"
#include "ratio_io.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    if (kr_fuzz_tmpfile(data, size, "wmean", ".csv", path, sizeof path)) return 0;
    double *x = NULL, *sx = NULL;
    long *line = NULL;
    size_t n = 0;
    if (kr_value_sigma_read(path, &x, &sx, &line, &n) == KR_OK) {
        double s = 0;
        for (size_t i = 0; i < n; i++) s += x[i] + sx[i] + (double)line[i];
        (void)s;
    }
    free(x);
    free(sx);
    free(line);
    remove(path);
    kr_fuzz_drain_errors();
    return 0;
}
