/* libFuzzer: CAMECA .asc reader (stages/sims/asc.h) and the per-cycle corrections on what it read. */
#include "asc.h"
#include "fuzz_util.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    if (kr_fuzz_tmpfile(data, size, "asc", ".asc", path, sizeof path)) return 0;
    kr_asc a = {0};
    if (kr_asc_read(path, &a) == KR_OK) {
        int idx;
        (void)kr_asc_find(&a, "206Pb");
        (void)kr_asc_require(&a, "204Pb", &idx);
        double sum = 0;
        for (size_t i = 0; i < a.ncycles; i++)
            for (size_t s = 0; s < a.nspecies; s++) sum += kr_asc_cps_corrected(&a, i, s) + kr_asc_counts(&a, i, s);
        (void)sum;
    }
    kr_asc_free(&a);
    remove(path);
    kr_fuzz_drain_errors();
    return 0;
}
