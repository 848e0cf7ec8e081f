/* libFuzzer: IsoplotR Pb-Pb ratio CSV reader (stages/sims/ratio_io.h, `kreep isochron` input) and the
 * normal/inverse conversion of what it read. */
#include "fuzz_util.h"
#include "ratio_io.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    if (kr_fuzz_tmpfile(data, size, "pbpb", ".csv", path, sizeof path)) return 0;
    kr_pbpb_data d = {0}, inv = {0}, back = {0};
    if (kr_pbpb_data_read(path, &d) == KR_OK) {
        kr_iso_form other = d.form == KR_ISO_NORMAL ? KR_ISO_INVERSE : KR_ISO_NORMAL;
        if (kr_pbpb_data_to_form(&d, other, &inv) == KR_OK) (void)kr_pbpb_data_to_form(&inv, d.form, &back);
    }
    kr_pbpb_data_free(&back);
    kr_pbpb_data_free(&inv);
    kr_pbpb_data_free(&d);
    remove(path);
    kr_fuzz_drain_errors();
    return 0;
}
