/* libFuzzer: map pixel readers (stages/epma/map_read.h): CSV matrix and raw binary .map.
 * The first byte picks nx (1..16), the second ny (1..16), the third the reader and forced type/order. */
#include "fuzz_util.h"
#include "map_read.h"

#include <math.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3) return 0;
    long nx = 1 + data[0] % 16, ny = 1 + data[1] % 16;
    int mode = data[2];
    float out[16 * 16];
    char path[512];
    if (mode & 1) {
        if (kr_fuzz_tmpfile(data + 3, size - 3, "mapcsv", ".csv", path, sizeof path)) return 0;
        (void)kr_map_read_csv(path, nx, ny, out);
    } else {
        if (kr_fuzz_tmpfile(data + 3, size - 3, "mapbin", ".map", path, sizeof path)) return 0;
        kr_mapbin_info info;
        kr_mapbin_type type = (kr_mapbin_type)((mode >> 1) % 6);
        kr_byte_order order = (kr_byte_order)((mode >> 4) % 3);
        double declared = (mode & 0x80) ? NAN : 1000.0;
        (void)kr_map_read_bin(path, nx, ny, type, order, declared, out, &info);
    }
    remove(path);
    kr_fuzz_drain_errors();
    return 0;
}
