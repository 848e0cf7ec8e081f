/* libFuzzer: JEOL key/value parser (stages/epma/jeol.h) and every look-up on what it parsed. */
#include "fuzz_util.h"
#include "jeol.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    kr_jeol_file f = {0};
    if (kr_jeol_parse_mem("fuzz.cnd", (const char *)data, size, &f) == KR_OK) {
        static const char *const keys[] = {"XM_AP_COMMENT", "XM_ELEM_NAME", "XM_DATA_COUNT_MAX", "CM_TITLE",
                                           "XM_AP_SA_STAGE_POS", "XM_ELEM_IMS_ACCEL_VOLT"};
        for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
            const kr_jeol_entry *e = NULL;
            double v;
            (void)kr_jeol_find(&f, keys[k], 0, -1);
            (void)kr_jeol_require(&f, keys[k], -1, -1, &e);
            (void)kr_jeol_get_double(&f, keys[k], 1, 0, &v);
            (void)kr_jeol_max_index(&f, keys[k]);
        }
        for (size_t i = 0; i < f.n; i++) {
            double vals[4];
            char tok[32], utf8[64];
            (void)kr_jeol_numbers(&f, &f.entries[i], vals, 1 + (int)(i % 4), (int)(i & 1));
            (void)kr_jeol_token(f.entries[i].value, (int)(i % 3), tok, sizeof tok);
            kr_jeol_to_utf8(f.entries[i].value, utf8, sizeof utf8);
            kr_jeol_to_utf8(f.entries[i].key, utf8, 7);
        }
    }
    kr_jeol_free(&f);
    kr_fuzz_drain_errors();
    return 0;
}
