/* JEOL key/value parser (stages/epma/jeol.c) on the real JXA condition files in ../shared/data/epma/jeol_cnd
 * and on constructed edge cases (Shift-JIS comments, invalid bytes, bad suffixes, truncation). */
#include "error.h"
#include "jeol.h"
#include "jeol_points.h"
#include "kr_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void test_real_jxa8530_cnd(void)
{
    char path[1024];
    if (!kr_test_shared_path(path, sizeof path, "data/epma/jeol_cnd/data003.cnd", "real JXA-8530 .cnd")) return;
    kr_jeol_file f;
    CU_ASSERT_EQUAL_FATAL(kr_jeol_read(path, &f), KR_OK);
    CU_ASSERT_FALSE(f.old_style);
    CU_ASSERT_TRUE(f.ends_with_newline);
    /* values as printed in the file (CRLF stripped) */
    const kr_jeol_entry *e = kr_jeol_find(&f, "XM_ELEM_NAME", 0, -1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_STRING_EQUAL(e->value, "Ti");
    double v[3];
    CU_ASSERT_EQUAL(kr_jeol_get_double(&f, "XM_DATA_PROBE_CURRENT", -1, -1, v), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(v[0], 1.201e-8, 1e-20);
    CU_ASSERT_EQUAL(kr_jeol_get_double(&f, "XM_EC_ACCEL_VOLT", -1, -1, v), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(v[0], 15.0, 0);
    CU_ASSERT_EQUAL(kr_jeol_get_double(&f, "XM_ELEM_WDS_PEAK", 0, -1, v), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(v[0], 87.784, 1e-12);
    /* %N_M sub-index: the map's corner stage positions */
    e = kr_jeol_find(&f, "XM_AP_SA_STAGE_POS", 0, 4);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_EQUAL(kr_jeol_numbers(&f, e, v, 3, 0), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(v[0], 16.9907, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(v[2], 11.0355, 1e-12);
    e = kr_jeol_find(&f, "XM_AP_SA_PIXELS", 0, -1);
    CU_ASSERT_EQUAL(kr_jeol_numbers(&f, e, v, 2, 0), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(v[0], 1800, 0);
    CU_ASSERT_DOUBLE_EQUAL(v[1], 1600, 0);
    /* the same key with and without a suffix are different keys */
    e = kr_jeol_find(&f, "XM_AP_COMMENT", 0, -1);
    CU_ASSERT_STRING_EQUAL(e->value, "ref-mag-kam5");
    e = kr_jeol_find(&f, "XM_AP_COMMENT", -1, -1);
    CU_ASSERT_STRING_EQUAL(e->value, "");
    CU_ASSERT_EQUAL(kr_jeol_max_index(&f, "XM_ELEM_NAME"), 0);
    /* a path with a backslash and spaces stays whole */
    e = kr_jeol_find(&f, "XM_CP_SAVE_PATH", -1, -1);
    CU_ASSERT_STRING_EQUAL(e->value, "C:\\EPMA User\\ref\\mount-magnetites");
    /* wrong count of numbers names file:line */
    e = kr_jeol_find(&f, "XM_AP_SA_PIXELS", 0, -1);
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_jeol_numbers(&f, e, v, 3, 0), KR_EINPUT);
    char want[64];
    snprintf(want, sizeof want, "data003.cnd:%ld", e->line);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), want));
    kr_err_clear();
    /* a missing key names the file */
    CU_ASSERT_EQUAL(kr_jeol_get_double(&f, "XM_QNT_DATA_WD_DEAD_TIME", 0, -1, v), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "missing required key $XM_QNT_DATA_WD_DEAD_TIME%0"));
    kr_err_clear();
    kr_jeol_free(&f);
}

static void test_every_real_cnd_parses(void)
{
    static const char *const names[] = {"data003.cnd", "data006.cnd", "OK10VM-a.cnd", "ProbeScan.cnd", "0.cnd"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char rel[128], path[1024];
        snprintf(rel, sizeof rel, "data/epma/jeol_cnd/%s", names[i]);
        if (!kr_test_shared_path(path, sizeof path, rel, "real .cnd files")) return;
        kr_jeol_file f;
        int rc = kr_jeol_read(path, &f);
        if (rc) kr_err_print(stdout);
        CU_ASSERT_EQUAL(rc, KR_OK);
        CU_ASSERT(f.n > 50);
        kr_jeol_free(&f);
    }
}

static void test_old_jxa8800_style(void)
{
    char path[1024];
    if (!kr_test_shared_path(path, sizeof path, "data/epma/jeol_cnd/0.cnd", "old JXA-8800 .cnd")) return;
    kr_jeol_file f;
    CU_ASSERT_EQUAL_FATAL(kr_jeol_read(path, &f), KR_OK);
    CU_ASSERT_TRUE(f.old_style);
    /* "15.0<TAB><TAB><TAB>EOS Acc. Voltage [kV]" */
    const kr_jeol_entry *e = kr_jeol_find(&f, "EOS Acc. Voltage [kV]", -1, -1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_STRING_EQUAL(e->value, "15.0");
    /* no tab: leading numbers are the value "1.988e-07  1.989e-07  1.987e-07  Probe Current Avg, Before After [A]" */
    e = kr_jeol_find(&f, "Probe Current Avg, Before After [A]", -1, -1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    double v[3];
    CU_ASSERT_EQUAL(kr_jeol_numbers(&f, e, v, 3, 0), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(v[0], 1.988e-7, 1e-19);
    CU_ASSERT_DOUBLE_EQUAL(v[2], 1.987e-7, 1e-19);
    /* value with trailing spaces before the tabs: "10.7432      \t\tMeasurement Center Position Z [mm]" */
    e = kr_jeol_find(&f, "Measurement Center Position Z [mm]", -1, -1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(e);
    CU_ASSERT_STRING_EQUAL(e->value, "10.7432");
    kr_jeol_free(&f);
}

/* Old style: a line with no leading value keeps its whole text as the description (regression:
 * its first character was lost). */
static void test_old_style_line_without_value(void)
{
    static const char buf[] = "920  X-axis Step Number [1~1024]\r\nGuide 1-1 OK8-1\r\n";
    kr_jeol_file f;
    CU_ASSERT_EQUAL_FATAL(kr_jeol_parse_mem("mem.cnd", buf, sizeof buf - 1, &f), KR_OK);
    CU_ASSERT_TRUE(f.old_style);
    const kr_jeol_entry *e = kr_jeol_find(&f, "Guide 1-1 OK8-1", -1, -1);
    CU_ASSERT_PTR_NOT_NULL(e);
    if (e) CU_ASSERT_STRING_EQUAL(e->value, "");
    e = kr_jeol_find(&f, "X-axis Step Number [1~1024]", -1, -1);
    CU_ASSERT_PTR_NOT_NULL(e);
    if (e) CU_ASSERT_STRING_EQUAL(e->value, "920");
    kr_jeol_free(&f);
}

static void test_shift_jis_and_invalid_bytes(void)
{
    /* "テスト" in Shift-JIS (0x83 0x65 0x83 0x58 0x83 0x67), an unknown key, LF-only and CRLF lines mixed */
    static const char buf[] = "$XM_AP_COMMENT%0 \x83\x65\x83\x58\x83\x67_3\r\n"
                              "$XM_SOMETHING_NEW%2_7 whatever 1 2 3\n"
                              "$XM_CP_COMMENT bad \xff\xfe bytes\r\n"
                              "$XM_EC_ACCEL_VOLT 25.0\r\n";
    kr_jeol_file f;
    CU_ASSERT_EQUAL_FATAL(kr_jeol_parse_mem("mem.cnd", buf, sizeof buf - 1, &f), KR_OK);
    CU_ASSERT_EQUAL(f.n, 4);
    char out[64];
    kr_jeol_to_utf8(kr_jeol_find(&f, "XM_AP_COMMENT", 0, -1)->value, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "\xe3\x83\x86\xe3\x82\xb9\xe3\x83\x88_3"); /* テスト_3 in UTF-8 */
    kr_jeol_to_utf8(kr_jeol_find(&f, "XM_CP_COMMENT", -1, -1)->value, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "bad ?? bytes");
    const kr_jeol_entry *e = kr_jeol_find(&f, "XM_SOMETHING_NEW", 2, 7);
    CU_ASSERT_PTR_NOT_NULL(e);
    char tok[16];
    CU_ASSERT_TRUE(kr_jeol_token(e->value, 3, tok, sizeof tok));
    CU_ASSERT_STRING_EQUAL(tok, "3");
    CU_ASSERT_FALSE(kr_jeol_token(e->value, 4, tok, sizeof tok));
    /* UTF-8 already: unchanged; truncation stays on a character boundary */
    kr_jeol_to_utf8("\xe3\x83\x86\xe3\x82\xb9", out, 5);
    CU_ASSERT_STRING_EQUAL(out, "\xe3\x83\x86");
    kr_jeol_free(&f);
}

static void test_parse_errors(void)
{
    kr_jeol_file f;
    kr_err_clear();
    static const char bad_suffix[] = "$XM_EC_ACCEL_VOLT 25.0\r\n$XM_ELEM_NAME%1x Si\r\n";
    CU_ASSERT_EQUAL(kr_jeol_parse_mem("a.cnd", bad_suffix, sizeof bad_suffix - 1, &f), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "a.cnd:2:"));
    kr_jeol_free(&f);
    kr_err_clear();
    static const char not_num[] = "$XM_EC_ACCEL_VOLT 2x5.0\r\n";
    CU_ASSERT_EQUAL_FATAL(kr_jeol_parse_mem("b.cnd", not_num, sizeof not_num - 1, &f), KR_OK);
    double v;
    CU_ASSERT_EQUAL(kr_jeol_get_double(&f, "XM_EC_ACCEL_VOLT", -1, -1, &v), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "b.cnd:1:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "2x5.0"));
    kr_jeol_free(&f);
    kr_err_clear();
    static const char truncated[] = "$XM_EC_ACCEL_VOLT 25.0\r\n$XM_QNT_DATA_WD_XRAY_CNT%0 270179.0 13";
    CU_ASSERT_EQUAL_FATAL(kr_jeol_parse_mem("c.qnt", truncated, sizeof truncated - 1, &f), KR_OK);
    CU_ASSERT_FALSE(f.ends_with_newline);
    double c[3];
    CU_ASSERT_EQUAL(kr_jeol_numbers(&f, kr_jeol_find(&f, "XM_QNT_DATA_WD_XRAY_CNT", 0, -1), c, 3, 1), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "c.qnt:2:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "truncated"));
    kr_jeol_free(&f);
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_jeol_parse_mem("d.cnd", "\r\n  \r\n", 6, &f), KR_EINPUT);
    kr_jeol_free(&f);
    kr_err_clear();
}

/* A point folder of the sample run: the reader fills the model from .cnd + .qnt. */
static void test_point_folder(void)
{
    char dir[1024];
    kr_test_source_path(dir, sizeof dir, "sample_runs/ce5-glass-beads/exports/beads_QNT/Pos_0001");
    kr_atomic *at = malloc(sizeof *at);
    CU_ASSERT_EQUAL_FATAL(kr_atomic_load(at), KR_OK);
    kr_epma_point *p = malloc(sizeof *p);
    int rc = kr_jeol_read_point_dir(dir, at, p);
    if (rc) kr_err_print(stdout);
    CU_ASSERT_EQUAL_FATAL(rc, KR_OK);
    CU_ASSERT_STRING_EQUAL(p->label, "Pos_0001");
    CU_ASSERT_STRING_EQUAL(p->comment, "G107_01");
    CU_ASSERT_EQUAL(p->nch, 10);
    CU_ASSERT_DOUBLE_EQUAL(p->kv, 25.0, 0);
    CU_ASSERT(p->current_na > 19 && p->current_na < 21);
    CU_ASSERT_FALSE(p->is_standard);
    CU_ASSERT_STRING_EQUAL(p->ch[0].element, "Si");
    CU_ASSERT_STRING_EQUAL(p->ch[0].line, "Ka");
    CU_ASSERT_STRING_EQUAL(p->ch[0].crystal, "TAP");
    CU_ASSERT_STRING_EQUAL(p->ch[0].oxide, "SiO2");
    CU_ASSERT_DOUBLE_EQUAL(p->ch[0].counts.off_minus_mm, 2.7, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(p->ch[0].counts.dead_time_us, 1.1, 1e-12);
    CU_ASSERT_TRUE(p->ch[0].has_vendor_net);
    kr_test_source_path(dir, sizeof dir, "sample_runs/ce5-glass-beads/exports/beads_STD/Pos_0001");
    CU_ASSERT_EQUAL_FATAL(kr_jeol_read_point_dir(dir, at, p), KR_OK);
    CU_ASSERT_TRUE(p->is_standard);
    CU_ASSERT_STRING_EQUAL(p->std_name, "Wollastonite");
    CU_ASSERT_EQUAL(p->ncomp, 3);
    double sum = 0;
    for (int i = 0; i < p->ncomp; i++) sum += p->comp_wt[i];
    CU_ASSERT_DOUBLE_EQUAL(sum, 100.0, 1e-3);
    free(p);
    free(at);
}

/* $XM_ANALYSIS_ACQ_DATE: read back from the sample run; a malformed date names file:line. */
static void test_acq_date(void)
{
    char dir[1024];
    kr_test_source_path(dir, sizeof dir, "sample_runs/ce5-glass-beads/exports/beads_QNT/Pos_0001");
    kr_atomic *at = malloc(sizeof *at);
    CU_ASSERT_EQUAL_FATAL(kr_atomic_load(at), KR_OK);
    kr_epma_point *p = malloc(sizeof *p);
    CU_ASSERT_EQUAL_FATAL(kr_jeol_read_point_dir(dir, at, p), KR_OK);
    /* "$XM_ANALYSIS_ACQ_DATE 2024/05/10 09:00:00" = 1715331600 s since the epoch (Python calendar.timegm) */
    CU_ASSERT_DOUBLE_EQUAL(p->acq_time_s, 1715331600.0, 0);
    kr_test_source_path(dir, sizeof dir, "sample_runs/ce5-glass-beads/exports/beads_STD/Pos_0002");
    CU_ASSERT_EQUAL_FATAL(kr_jeol_read_point_dir(dir, at, p), KR_OK);
    /* "$XM_ANALYSIS_ACQ_DATE 2024/05/09 14:22:00" = 1715264520 s (Python calendar.timegm) */
    CU_ASSERT_DOUBLE_EQUAL(p->acq_time_s, 1715264520.0, 0);

    /* a copy of Pos_0001 with month 13 in its date, and one without the key */
    static const char *const names[2] = {"data001.cnd", "data001.qnt"};
    static const char *const cases[2] = {"$XM_ANALYSIS_ACQ_DATE 2024/13/10 09:00:00", NULL};
    for (int c = 0; c < 2; c++) {
        char out_dir[1100];
        snprintf(out_dir, sizeof out_dir, "%s/acq_%d", kr_test_tmpdir(), c);
        CU_ASSERT_EQUAL_FATAL(mkdir(out_dir, 0700), 0);
        long date_line = 0;
        for (int i = 0; i < 2; i++) {
            char src[1200], dst[1200];
            kr_test_source_path(src, sizeof src, "sample_runs/ce5-glass-beads/exports/beads_QNT/Pos_0001");
            snprintf(src + strlen(src), sizeof src - strlen(src), "/%s", names[i]);
            snprintf(dst, sizeof dst, "%s/%s", out_dir, names[i]);
            kr_text t;
            CU_ASSERT_EQUAL_FATAL(kr_text_read(src, &t), KR_OK);
            FILE *f = fopen(dst, "w");
            CU_ASSERT_PTR_NOT_NULL_FATAL(f);
            kr_lines it;
            kr_lines_init(&it, &t);
            char *line;
            while ((line = kr_lines_next(&it))) {
                if (!strncmp(line, "$XM_ANALYSIS_ACQ_DATE", 21)) {
                    date_line = it.lineno;
                    if (cases[c]) fprintf(f, "%s\r\n", cases[c]);
                    continue;
                }
                fprintf(f, "%s\r\n", line);
            }
            fclose(f);
            kr_text_free(&t);
        }
        CU_ASSERT_FATAL(date_line > 0);
        kr_err_clear();
        int rc = kr_jeol_read_point_dir(out_dir, at, p);
        if (c == 0) {
            CU_ASSERT_EQUAL(rc, KR_EINPUT);
            char want[64];
            snprintf(want, sizeof want, "data001.cnd:%ld", date_line);
            char msg[2048];
            kr_err_format(msg, sizeof msg);
            printf("\n  %s", msg);
            CU_ASSERT_PTR_NOT_NULL(strstr(msg, want));
            CU_ASSERT_PTR_NOT_NULL(strstr(msg, "$XM_ANALYSIS_ACQ_DATE"));
            CU_ASSERT_PTR_NOT_NULL(strstr(msg, "2024/13/10 09:00:00"));
        } else {
            CU_ASSERT_EQUAL(rc, KR_OK);
            CU_ASSERT(isnan(p->acq_time_s));
        }
        kr_err_clear();
    }
    free(p);
    free(at);
}

int main(void)
{
    static const kr_test_case tests[] = {
        {"real JXA-8530 .cnd: keys, %N, %N_M, CRLF", test_real_jxa8530_cnd},
        {"every real .cnd parses", test_every_real_cnd_parses},
        {"old JXA-8800 value/description style", test_old_jxa8800_style},
        {"old style line without a value", test_old_style_line_without_value},
        {"Shift-JIS, invalid bytes, unknown keys", test_shift_jis_and_invalid_bytes},
        {"errors name file:line", test_parse_errors},
        {"point and standard folders", test_point_folder},
        {"acquisition date: read, absent, malformed", test_acq_date},
        {NULL, NULL},
    };
    return kr_test_run("epma_jeol", tests);
}
