/* Map readers against the real JEOL files in ../shared/data/epma/jeol_cnd/ (misasa/jxmap test files)
 * and against bad inputs. Expected figures are read off the files themselves (their own keys). */
#include "kr_test.h"

#include "error.h"
#include "map_read.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *shared(char *buf, size_t n, const char *rel, const char *test)
{
    return kr_test_shared_path(buf, n, rel, test);
}

static void test_cnd_data003(void)
{
    char p[4096];
    if (!shared(p, sizeof p, "data/epma/jeol_cnd/data003.cnd", "data003")) return;
    kr_map_cnd c;
    CU_ASSERT_EQUAL_FATAL(kr_map_cnd_read(p, &c), KR_OK);
    CU_ASSERT_EQUAL(c.style, KR_CND_KEYVALUE);
    CU_ASSERT_EQUAL(c.nx, 1800);
    CU_ASSERT_EQUAL(c.ny, 1600);
    CU_ASSERT_DOUBLE_EQUAL(c.pixel_x_um, 0.50, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(c.pixel_y_um, 0.50, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(c.dwell_ms, 5.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(c.accel_kv, 15.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(c.current_a, 1.201e-8, 1e-20);
    CU_ASSERT_EQUAL(c.beam_scan, 0);
    CU_ASSERT_DOUBLE_EQUAL(c.stage_mm[0][0], 16.5407, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(c.stage_mm[4][1], 20.3220, 1e-12);
    /* the corners span exactly the pixels x pixel size: 1800 x 0.5 µm = 0.9 mm, 1600 x 0.5 µm = 0.8 mm */
    CU_ASSERT_DOUBLE_EQUAL(c.stage_mm[1][0] - c.stage_mm[2][0], 0.9, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(c.stage_mm[3][1] - c.stage_mm[1][1], 0.8, 1e-9);
    CU_ASSERT_EQUAL_FATAL(c.nchan, 1);
    CU_ASSERT_STRING_EQUAL(c.chan[0].element, "Ti");
    CU_ASSERT_STRING_EQUAL(c.chan[0].xray, "Ka");
    CU_ASSERT_STRING_EQUAL(c.chan[0].crystal, "PETH");
    CU_ASSERT_DOUBLE_EQUAL(c.chan[0].peak_mm, 87.784, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(c.chan[0].max_value, 67.0, 0);
    CU_ASSERT_STRING_EQUAL(c.comment, "ref-mag-kam5");
    double *x = malloc(sizeof(double) * (size_t)c.nx), *y = malloc(sizeof(double) * (size_t)c.ny);
    kr_map_axes(&c, x, y);
    CU_ASSERT_DOUBLE_EQUAL(x[c.nx - 1] - x[0], 1799 * 0.5, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(0.5 * (x[0] + x[c.nx - 1]), 16540.7, 1e-6);
    free(x);
    free(y);
}

static void test_cnd_others(void)
{
    char p[4096];
    kr_map_cnd c;
    if (!shared(p, sizeof p, "data/epma/jeol_cnd/OK10VM-a.cnd", "OK10VM-a")) return;
    CU_ASSERT_EQUAL_FATAL(kr_map_cnd_read(p, &c), KR_OK);
    CU_ASSERT_EQUAL(c.nx, 2000);
    CU_ASSERT_EQUAL(c.ny, 2000);
    CU_ASSERT_DOUBLE_EQUAL(c.pixel_x_um, 0.50, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(c.dwell_ms, 12.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(c.current_a, 4.994e-7, 1e-19);
    CU_ASSERT_EQUAL_FATAL(c.nchan, 1);
    CU_ASSERT_STRING_EQUAL(c.chan[0].element, "Si");

    if (!shared(p, sizeof p, "data/epma/jeol_cnd/data006.cnd", "data006")) return;
    CU_ASSERT_EQUAL_FATAL(kr_map_cnd_read(p, &c), KR_OK);
    CU_ASSERT_EQUAL(c.nx, 1800);
    CU_ASSERT_EQUAL(c.ny, 1600);
    CU_ASSERT_DOUBLE_EQUAL(c.dwell_ms, 5.0, 1e-12);
    CU_ASSERT_EQUAL(c.nchan, 0); /* "$XM_ELEM_NAME%0 " is empty: a signal map (no element) */

    /* beam scan: pixels and dwell under $XM_AP_BSA_*, no pixel size in the file */
    if (!shared(p, sizeof p, "data/epma/jeol_cnd/ProbeScan.cnd", "ProbeScan")) return;
    CU_ASSERT_EQUAL_FATAL(kr_map_cnd_read(p, &c), KR_OK);
    CU_ASSERT_EQUAL(c.nx, 2000);
    CU_ASSERT_EQUAL(c.ny, 1500);
    CU_ASSERT_EQUAL(c.beam_scan, 1);
    CU_ASSERT_DOUBLE_EQUAL(c.dwell_ms, 2.0, 1e-12);
    CU_ASSERT(isnan(c.pixel_x_um));
    CU_ASSERT_DOUBLE_EQUAL(c.stage_mm[0][0], -19.2155, 1e-12);
    CU_ASSERT_STRING_EQUAL(c.chan[0].element, "Si");
}

static void test_cnd_jxa8800_and_map(void)
{
    char p[4096], m[4096];
    if (!shared(p, sizeof p, "data/epma/jeol_cnd/0.cnd", "0.cnd")) return;
    kr_map_cnd c;
    CU_ASSERT_EQUAL_FATAL(kr_map_cnd_read(p, &c), KR_OK);
    CU_ASSERT_EQUAL(c.style, KR_CND_JXA8800);
    CU_ASSERT_EQUAL(c.nx, 920);
    CU_ASSERT_EQUAL(c.ny, 1000);
    CU_ASSERT_DOUBLE_EQUAL(c.pixel_x_um, 4.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(c.pixel_y_um, 4.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(c.dwell_ms, 8.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(c.accel_kv, 15.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(c.current_a, 1.988e-7, 1e-19);
    CU_ASSERT_DOUBLE_EQUAL(c.current_post_a, 1.987e-7, 1e-19);
    CU_ASSERT_EQUAL(c.data_bytes, 2);
    CU_ASSERT_EQUAL(c.beam_scan, 0);
    CU_ASSERT_DOUBLE_EQUAL(c.stage_mm[0][0], 20.8380, 1e-12);
    CU_ASSERT_EQUAL_FATAL(c.nchan, 15);
    static const char *const el[15] = {"F", "Na", "Cr", "K", "S", "Mg", "Si", "Cl", "Ca", "Fe",
                                       "Al", "P", "Mn", "Ti", "Ni"};
    for (int i = 0; i < 15; i++) CU_ASSERT_STRING_EQUAL(c.chan[i].element, el[i]);
    CU_ASSERT_STRING_EQUAL(c.chan[6].xray, "Ka");
    CU_ASSERT_STRING_EQUAL(c.chan[6].crystal, "TAP");
    CU_ASSERT_DOUBLE_EQUAL(c.chan[6].peak_mm, 77.374, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(c.chan[6].max_value, 1005, 0);
    CU_ASSERT_DOUBLE_EQUAL(c.chan[6].ave_value, 182, 0);

    /* 7.map is channel 7 (Si): 920 x 1000 16-bit, big-endian; its maximum is the declared 1005 and its
     * mean rounds down to the declared "Ave Value" 182 */
    if (!shared(m, sizeof m, "data/epma/jeol_cnd/7.map", "7.map")) return;
    float *v = malloc(sizeof(float) * 920 * 1000);
    kr_mapbin_info info;
    CU_ASSERT_EQUAL_FATAL(kr_map_read_bin(m, c.nx, c.ny, KR_MAPBIN_AUTO, KR_ORDER_AUTO, c.chan[6].max_value, v, &info),
                          KR_OK);
    CU_ASSERT_EQUAL(info.bytes_per_pixel, 2);
    CU_ASSERT_EQUAL(info.order, KR_ORDER_BIG);
    CU_ASSERT_DOUBLE_EQUAL(info.vmin, 0, 0);
    CU_ASSERT_DOUBLE_EQUAL(info.vmax, 1005, 0);
    CU_ASSERT_EQUAL(floor(info.vmean), 182);
    /* the same without the declared maximum: detection alone finds big-endian */
    CU_ASSERT_EQUAL(kr_map_read_bin(m, c.nx, c.ny, KR_MAPBIN_AUTO, KR_ORDER_AUTO, NAN, v, &info), KR_OK);
    CU_ASSERT_EQUAL(info.order, KR_ORDER_BIG);
    /* forcing little-endian contradicts the declared maximum: an error, not a guess */
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_map_read_bin(m, c.nx, c.ny, KR_MAPBIN_AUTO, KR_ORDER_LITTLE, 1005, v, &info), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "1005"));
    /* a pixel count that does not match the file size */
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_map_read_bin(m, 921, 1000, KR_MAPBIN_AUTO, KR_ORDER_AUTO, NAN, v, NULL), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "7.map"));
    kr_err_clear();
    free(v);
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(fwrite(data, 1, n, f), n);
    fclose(f);
}

/* 32-bit maps: int32 and float32, both byte orders, are told apart by plausibility and smoothness. */
static void test_bin32_detection(void)
{
    char p[512];
    const long nx = 50, ny = 40;
    size_t n = (size_t)(nx * ny);
    unsigned char *b = malloc(n * 4);
    float *v = malloc(sizeof(float) * n);
    for (int type = 0; type < 2; type++)
        for (int big = 0; big < 2; big++) {
            for (size_t i = 0; i < n; i++) {
                double val = 150 + 60 * sin((double)i / 37.0) + (double)(i % 7); /* smooth counts, integers */
                uint32_t u;
                if (type == 0) {
                    int32_t iv = (int32_t)val;
                    memcpy(&u, &iv, 4);
                } else {
                    float fv = (float)(val + 0.25);
                    memcpy(&u, &fv, 4);
                }
                for (int k = 0; k < 4; k++) b[i * 4 + (size_t)k] = (unsigned char)(u >> (big ? 24 - 8 * k : 8 * k));
            }
            snprintf(p, sizeof p, "%s/m32_%d_%d.map", kr_test_tmpdir(), type, big);
            FILE *f = fopen(p, "wb");
            fwrite(b, 4, n, f);
            fclose(f);
            kr_mapbin_info info;
            CU_ASSERT_EQUAL_FATAL(kr_map_read_bin(p, nx, ny, KR_MAPBIN_AUTO, KR_ORDER_AUTO, NAN, v, &info), KR_OK);
            CU_ASSERT_EQUAL(info.type, type == 0 ? KR_MAPBIN_I32 : KR_MAPBIN_F32);
            CU_ASSERT_EQUAL(info.order, big ? KR_ORDER_BIG : KR_ORDER_LITTLE);
            CU_ASSERT_DOUBLE_EQUAL(v[0], type == 0 ? 150 : 150.25, 1e-6);
        }
    free(b);
    free(v);
}

static void test_bad_inputs(void)
{
    char p[512];
    float v[12];
    const char *dir = kr_test_tmpdir();
    /* truncated binary: 4 x 3 16-bit = 24 bytes, file has 23 */
    unsigned char b[24] = {0};
    snprintf(p, sizeof p, "%s/trunc.map", dir);
    write_file(p, b, 23);
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_map_read_bin(p, 4, 3, KR_MAPBIN_AUTO, KR_ORDER_AUTO, NAN, v, NULL), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "trunc.map"));
    /* 16-bit data claimed as 32-bit */
    write_file(p, b, 24);
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_map_read_bin(p, 4, 3, KR_MAPBIN_F32, KR_ORDER_AUTO, NAN, v, NULL), KR_EINPUT);
    /* missing element map */
    snprintf(p, sizeof p, "%s/absent.csv", dir);
    kr_err_clear();
    CU_ASSERT_NOT_EQUAL(kr_map_read_csv(p, 4, 3, v), KR_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "absent.csv"));
    /* NaN cell, named by line and column */
    snprintf(p, sizeof p, "%s/nan.csv", dir);
    const char *nan_csv = "1,2,3,4\r\n5,6,NaN,8\r\n9,10,11,12\r\n";
    write_file(p, nan_csv, strlen(nan_csv));
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_map_read_csv(p, 4, 3, v), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "nan.csv:2:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "column 3"));
    /* non-numeric cell */
    const char *txt_csv = "1,2,3,4\n5,6,7,8\n9,x10,11,12\n";
    write_file(p, txt_csv, strlen(txt_csv));
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_map_read_csv(p, 4, 3, v), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), ":3:"));
    /* wrong row count and column count */
    const char *short_csv = "1,2,3,4\n5,6,7,8\n";
    write_file(p, short_csv, strlen(short_csv));
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_map_read_csv(p, 4, 3, v), KR_EINPUT);
    const char *wide_csv = "1,2,3,4,\n5,6,7,8,9\n9,10,11,12\n";
    write_file(p, wide_csv, strlen(wide_csv));
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_map_read_csv(p, 4, 3, v), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), ":2:"));
    /* a good one, trailing separators and CRLF */
    const char *ok_csv = "1,2,3,4,\r\n5;6;7;8\r\n9\t10\t11\t12\r\n";
    write_file(p, ok_csv, strlen(ok_csv));
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_map_read_csv(p, 4, 3, v), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(v[11], 12, 0);
    CU_ASSERT_DOUBLE_EQUAL(v[4], 5, 0);
    /* .cnd without pixels */
    kr_map_cnd c;
    const char *nopix = "$XM_AP_SA_DWELL_TIME%0 60.0\r\n";
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_map_cnd_parse("nopix.cnd", nopix, strlen(nopix), &c), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "nopix.cnd"));
    const char *badpix = "$XM_AP_SA_PIXELS%0 425 abc\r\n$XM_AP_SA_DWELL_TIME%0 60.0\r\n";
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_map_cnd_parse("badpix.cnd", badpix, strlen(badpix), &c), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "badpix.cnd:1:"));
    kr_err_clear();
}

int main(void)
{
    static const kr_test_case tests[] = {
        {"cnd key/value data003", test_cnd_data003},
        {"cnd key/value others", test_cnd_others},
        {"cnd JXA-8800 0.cnd + 7.map", test_cnd_jxa8800_and_map},
        {"32-bit int/float and byte order detection", test_bin32_detection},
        {"bad map inputs", test_bad_inputs},
        {NULL, NULL},
    };
    return kr_test_run("epma_maps_read", tests);
}
