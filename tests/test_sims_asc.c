/* CAMECA .asc reader (stages/sims/asc.c) on the real IGG IMS-1280 Temora files (DOMAIN.md 4.1) and on
 * damaged copies of them. */
#include "asc.h"
#include "error.h"
#include "kr_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_tem1(void)
{
    char p[4096];
    if (!kr_test_shared_path(p, sizeof p, "data/sims/cameca_ims1280_temora/Tem@1.asc", "asc_tem1")) return;
    kr_asc a;
    int rc = kr_asc_read(p, &a);
    if (rc) kr_err_print(stderr);
    CU_ASSERT_EQUAL_FATAL(rc, KR_OK);
    CU_ASSERT_EQUAL(a.nspecies, 11);
    CU_ASSERT_EQUAL(a.ncycles, 7);
    CU_ASSERT_EQUAL(a.ndet, 3);
    CU_ASSERT_STRING_EQUAL(a.sample_name, "4/glass_disk");
    int i6 = kr_asc_find(&a, "206Pb");
    CU_ASSERT_EQUAL_FATAL(i6, 5);
    CU_ASSERT_DOUBLE_EQUAL(a.species[i6].count_time_s, 2.96, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(a.species[i6].mass_amu, 205.974455, 1e-9);
    CU_ASSERT_STRING_EQUAL(a.species[i6].detector, "EM");
    CU_ASSERT_DOUBLE_EQUAL(a.det[a.species[i6].det].dead_time_ns, 36.0, 1e-12);
    /* DOMAIN.md 4.1: 206Pb cycle 0, raw 3213.514 cps, 36 ns -> 3213.8858032128 cps */
    CU_ASSERT_DOUBLE_EQUAL(a.cps[0 * a.nspecies + i6], 3213.514, 1e-9);
    double c = kr_asc_cps_corrected(&a, 0, (size_t)i6);
    printf("\n  Tem@1 206Pb cycle 0: %.10f cps\n", c);
    CU_ASSERT_DOUBLE_EQUAL(c, 3213.8858032128, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(kr_asc_counts(&a, 0, (size_t)i6), 3213.514 * 2.96, 1e-9);
    int i4;
    CU_ASSERT_EQUAL(kr_asc_require(&a, "204Pb", &i4), KR_OK);
    CU_ASSERT_EQUAL(a.block[6], 3);
    CU_ASSERT_EQUAL(a.cycle[6], 0);
    /* the FC2 detector background 177846 is set, FC1 -57243 too */
    CU_ASSERT(a.det[2].bkg_set);
    kr_asc_free(&a);
}

/* Copy the real file with a modification: cut at `cut_at` (substring, file ends just before it) or
 * replace the first occurrence of `from` by `to`. */
static int make_variant(const char *src, const char *dst, const char *cut_at, const char *from, const char *to)
{
    FILE *f = fopen(src, "rb");
    if (!f) return -1;
    static const size_t cap = 1 << 20;
    char *buf = malloc(cap);
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = 0;
    FILE *o = fopen(dst, "wb");
    if (cut_at) {
        char *c = strstr(buf, cut_at);
        fwrite(buf, 1, c ? (size_t)(c - buf) : n, o);
    } else {
        char *c = strstr(buf, from);
        if (!c) {
            fwrite(buf, 1, n, o);
        } else {
            fwrite(buf, 1, (size_t)(c - buf), o);
            fputs(to, o);
            fputs(c + strlen(from), o);
        }
    }
    fclose(o);
    free(buf);
    return 0;
}

static void expect_error(const char *path, const char *needle)
{
    kr_asc a;
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_asc_read(path, &a), KR_EINPUT);
    char msg[2048];
    kr_err_format(msg, sizeof msg);
    if (!strstr(msg, needle)) printf("\n  message '%s' lacks '%s'\n", msg, needle);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, needle));
    kr_err_clear();
}

static void test_damaged(void)
{
    char p[4096], q[600];
    if (!kr_test_shared_path(p, sizeof p, "data/sims/cameca_ims1280_temora/Tem@1.asc", "asc_damaged")) return;
    snprintf(q, sizeof q, "%s/bad.asc", kr_test_tmpdir());
    /* truncated inside RAW DATA: the last row is cut mid-way (line 197 of the real file) */
    CU_ASSERT_EQUAL_FATAL(make_variant(p, q, "5.755541E+4", NULL, NULL), 0);
    expect_error(q, "bad.asc:197: RAW DATA row");
    /* truncated before RAW DATA */
    CU_ASSERT_EQUAL_FATAL(make_variant(p, q, "RAW DATA:", NULL, NULL), 0);
    expect_error(q, "no RAW DATA section");
    /* zero count time for 204Pb (C.TIME row is line 21) */
    CU_ASSERT_EQUAL_FATAL(make_variant(p, q, NULL, "0.32      \t4.96", "0.32      \t0.00"), 0);
    expect_error(q, "bad.asc:21: count time of 204Pb");
    /* 204Pb renamed in both tables: the reader is fine, requiring it names the species row */
    kr_asc a;
    CU_ASSERT_EQUAL_FATAL(make_variant(p, q, NULL, "\t204Pb     \t", "\t203Tl     \t"), 0);
    expect_error(q, "RAW DATA: column 7 is '204Pb', expected species '203Tl'");
    /* unknown detector */
    CU_ASSERT_EQUAL_FATAL(make_variant(p, q, NULL, "DETECTOR  \tEM        ", "DETECTOR  \tH9        "), 0);
    expect_error(q, "uses detector 'H9'");
    (void)a;
}

/* A multicollector layout (species on L2, C, H1, H2 as in IMS-1280 multicollection files, detector table
 * with yields, a set background and the 2147483647 "not set" sentinel), written here by hand with CRLF. */
static void test_multicollector(void)
{
    char q[600];
    snprintf(q, sizeof q, "%s/mc.asc", kr_test_tmpdir());
    FILE *f = fopen(q, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("CAMECA                                              \t12/10/2018\r\n\r\n"
          "SAMPLE NAME:\tMC test                                   \t\r\n\r\n"
          "ACQUISITION PARAMETERS:=========================================================\r\n\r\n"
          "          \t204Pb     \t206Pb     \t207Pb     \t208Pb     \t\r\n\r\n"
          "MASSES    \t203.973037\t205.974455\t206.975885\t207.976641\t\r\n"
          "C.TIME(s) \t4.00      \t4.00      \t4.00      \t4.00      \t\r\n"
          "DETECTOR  \tL2        \tC         \tH1        \tH2        \t\r\n"
          "TYPE      \tEm        \tEm        \tEm        \tEm        \t\r\n\r\n\r\n"
          "DETECTOR PARAMETERS:============================================================\r\n\r\n"
          "          \tYield     \tBkg(c/s)  \tDT(ns)    \tSlit Size(um)\t\r\n\r\n"
          "L2        \t0.950000  \t2147483647\t20.0      \t500       \t\r\n"
          "C         \t1.000000  \t0.5       \t60.0      \t500       \t\r\n"
          "H1        \t1.020000  \t0         \t60.0      \t500       \t\r\n"
          "H2        \t1.000000  \t0         \t0.0       \t500       \t\r\n\r\n\r\n"
          "RAW DATA:=======================================================================\r\n\r\n"
          "#block\t#cycle\r\n\r\n"
          "                \t204Pb       \t206Pb       \t207Pb       \t208Pb       \t\r\n\r\n"
          "0\t0             \t1.000000E+1 \t1.000000E+5 \t2.000000E+4 \t3.000000E+4 \t\r\n"
          "0\t1             \t1.200000E+1 \t1.010000E+5 \t2.010000E+4 \t3.010000E+4 \t\r\n\r\n"
          "PRIMARY INTENSITY DATA : ///////////////////////////////////////////////////////\r\n",
          f);
    fclose(f);
    kr_asc a;
    int rc = kr_asc_read(q, &a);
    if (rc) kr_err_print(stdout);
    CU_ASSERT_EQUAL_FATAL(rc, KR_OK);
    CU_ASSERT_EQUAL(a.nspecies, 4);
    CU_ASSERT_EQUAL(a.ndet, 4);
    CU_ASSERT_EQUAL(a.ncycles, 2);
    CU_ASSERT_FALSE(a.det[0].bkg_set);
    CU_ASSERT(a.det[1].bkg_set);
    /* L2: 10 cps, 20 ns, background not set, yield 0.95 */
    CU_ASSERT_DOUBLE_EQUAL(kr_asc_cps_corrected(&a, 0, 0), 10.0 / (1 - 10.0 * 20e-9) / 0.95, 1e-12);
    /* C: 1e5 cps, 60 ns, background 0.5 c/s, yield 1 */
    CU_ASSERT_DOUBLE_EQUAL(kr_asc_cps_corrected(&a, 0, 1), 1e5 / (1 - 1e5 * 60e-9) - 0.5, 1e-9);
    /* H1: yield 1.02 */
    CU_ASSERT_DOUBLE_EQUAL(kr_asc_cps_corrected(&a, 1, 2), 2.01e4 / (1 - 2.01e4 * 60e-9) / 1.02, 1e-9);
    kr_asc_free(&a);
}

int main(void)
{
    const kr_test_case tests[] = {{"Tem@1.asc layout and dead-time check", test_tem1},
                                  {"damaged files name file:line", test_damaged},
                                  {"multicollector layout, yields, background sentinel", test_multicollector},
                                  {NULL, NULL}};
    return kr_test_run("sims_asc", tests);
}
