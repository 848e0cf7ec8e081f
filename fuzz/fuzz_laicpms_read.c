/* libFuzzer: LA-ICP-MS readers (stages/laicpms/la_read.h): format detection and the Qtegra per-spot,
 * Qtegra batch and Agilent parsers through kr_la_read_file, and the laser-log parser on the same bytes. */
#include "fuzz_util.h"
#include "la_read.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    if (kr_fuzz_tmpfile(data, size, "la", ".csv", path, sizeof path)) return 0;
    kr_la_acq *acq = NULL;
    size_t n = 0;
    if (kr_la_read_file(path, 0.01, &acq, &n) == KR_OK) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
            for (int k = 0; k < acq[i].niso; k++)
                for (size_t t = 0; t < acq[i].n; t++) s += kr_la_col(&acq[i], k)[t] + acq[i].time_s[t];
        (void)s;
    }
    kr_fuzz_drain_errors();
    kr_text t = {0};
    kr_la_log log = {0};
    if (kr_text_from_mem("fuzz.log", (const char *)data, size, &t) == KR_OK && kr_la_log_parse(&t, &log) == KR_OK &&
        n > 0) {
        kr_la_acq *parts = NULL;
        size_t np = 0;
        if (kr_la_split_by_log(&acq[0], &log, &parts, &np) == KR_OK) kr_la_acqs_free(parts, np);
    }
    kr_la_log_free(&log);
    kr_text_free(&t);
    kr_la_acqs_free(acq, n);
    remove(path);
    kr_fuzz_drain_errors();
    return 0;
}
