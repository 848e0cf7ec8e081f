/* libFuzzer: generic EPMA point CSV reader (stages/epma/generic_csv.h). The atomic tables are loaded once
 * in LLVMFuzzerInitialize (read-only afterwards, as in the stage). */
#include "atomic.h"
#include "fuzz_util.h"
#include "generic_csv.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static kr_atomic *fuzz_atomic(void)
{
    static kr_atomic at; /* loaded once, read-only afterwards */
    return &at;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (kr_atomic_load(fuzz_atomic()) != KR_OK) {
        kr_err_print(stderr);
        abort();
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    if (kr_fuzz_tmpfile(data, size, "epmacsv", ".csv", path, sizeof path)) return 0;
    kr_epma_points pts = {0};
    (void)kr_epma_csv_read(path, fuzz_atomic(), &pts);
    kr_epma_points_free(&pts);
    remove(path);
    kr_fuzz_drain_errors();
    return 0;
}
