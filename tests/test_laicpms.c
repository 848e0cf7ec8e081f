/* LA-ICP-MS stage: readers on every shared export variant, the Longerich equation and both LODs on
 * hand-computed cases, the real iCAP Q session (NIST612 against Jochum et al. 2011) and bad inputs. */
#include "error.h"
#include "kr_test.h"
#include "la_read.h"
#include "la_reduce.h"
#include "la_stage.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_isotope_labels(void)
{
    kr_la_isotope i;
    CU_ASSERT_EQUAL(kr_la_isotope_parse("43Ca", &i), 1);
    CU_ASSERT_STRING_EQUAL(i.label, "Ca43");
    CU_ASSERT_EQUAL(i.mass, 43);
    CU_ASSERT_EQUAL(kr_la_isotope_parse("Ca43", &i), 1);
    CU_ASSERT_STRING_EQUAL(i.label, "Ca43");
    CU_ASSERT_EQUAL(kr_la_isotope_parse("11B", &i), 1);
    CU_ASSERT_STRING_EQUAL(i.element, "B");
    CU_ASSERT_EQUAL(kr_la_isotope_parse("238 U", &i), 1);
    CU_ASSERT_STRING_EQUAL(i.label, "U238");
    CU_ASSERT_EQUAL(kr_la_isotope_parse("ThO248", &i), 0); /* unknown: kept verbatim */
    CU_ASSERT_STRING_EQUAL(i.label, "ThO248");
    CU_ASSERT_STRING_EQUAL(i.element, "");
}

static void test_dates(void)
{
    double a, b;
    /* 2015-01-28 16:27:26 = 1422462446 s since 1970 (date -u -d '2015-01-28 16:27:26' +%s) */
    CU_ASSERT_EQUAL(kr_la_parse_datetime("01/28/2015 04:27:26 PM", &a), 0);
    CU_ASSERT_DOUBLE_EQUAL(a, 1422462446.0, 1e-6);
    CU_ASSERT_EQUAL(kr_la_parse_datetime("2015-01-28T16:27:26", &b), 0);
    CU_ASSERT_DOUBLE_EQUAL(a, b, 1e-6);
    CU_ASSERT_EQUAL(kr_la_parse_datetime("28.01.2015 16:27:26", &b), 0);
    CU_ASSERT_DOUBLE_EQUAL(a, b, 1e-6);
    CU_ASSERT_EQUAL(kr_la_parse_datetime("11-18-2020 04:26:15 AM", &a), 0);
    CU_ASSERT_DOUBLE_EQUAL(a, 1605673575.0, 1e-6); /* 2020-11-18 04:26:15 */
    CU_ASSERT_EQUAL(kr_la_parse_datetime("Oct 29 2015  03:06:01 pm", &a), 0);
    CU_ASSERT_DOUBLE_EQUAL(a, 1446131161.0, 1e-6); /* 2015-10-29 15:06:01 */
    CU_ASSERT_EQUAL(kr_la_parse_datetime("12:00 on Tuesday", &a), -1);
    CU_ASSERT_EQUAL(kr_la_parse_datetime("2015/28/28 10:00", &a), -1);
    CU_ASSERT_EQUAL(kr_la_parse_datetime("02/29/2015 10:00:00 AM", &a), -1); /* 2015 is no leap year */
    CU_ASSERT_EQUAL(kr_la_parse_datetime("02/29/2016 10:00:00 AM", &a), 0);
    CU_ASSERT_EQUAL(kr_la_parse_datetime("2016-03-01T10:00:00", &b), 0);
    CU_ASSERT_DOUBLE_EQUAL(b - a, 86400.0, 1e-9);
}

static void test_read_qtegra24(void)
{
    char p[1024];
    if (!kr_test_shared_path(p, sizeof p, "data/laicpms/thermo_icapq_latools/1308H_1.csv", __func__)) return;
    kr_la_acq *a = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(kr_la_read_file(p, 0.01, &a, &n), KR_OK);
    CU_ASSERT_EQUAL(n, 1);
    CU_ASSERT_STRING_EQUAL(a->sample, "NCC");
    CU_ASSERT_STRING_EQUAL(a->name, "1308H_1");
    CU_ASSERT_EQUAL(a->niso, 10);
    CU_ASSERT_EQUAL(a->n, 193); /* lines 16-208 (CRLF file, blank last line) */
    CU_ASSERT_STRING_EQUAL(a->iso[0].label, "B11");
    CU_ASSERT_STRING_EQUAL(a->iso[9].label, "Sr88");
    CU_ASSERT_DOUBLE_EQUAL(a->iso[0].dwell_s, 0.05, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(a->time_s[0], 0.05284, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(kr_la_col(a, 0)[0], 620.015376381334, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(a->time_s[a->n - 1], 81.589, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(kr_la_col(a, 9)[a->n - 1], 40.0000640001024, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(a->start_s, 1422462446.0, 1e-6);
    CU_ASSERT_STRING_EQUAL(a->software, "Qtegra 2.4.1800.96");
    kr_la_acqs_free(a, n);
}

static void test_read_qtegra27(void)
{
    char p[1024];
    if (!kr_test_shared_path(p, sizeof p, "data/laicpms/thermo_icaprq_pewlib/test_icap_ldr_1.csv", __func__)) return;
    kr_la_acq *a = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(kr_la_read_file(p, 0.01, &a, &n), KR_OK);
    CU_ASSERT_STRING_EQUAL(a->sample, "<Identifier>");
    CU_ASSERT_EQUAL(a->niso, 3);
    CU_ASSERT_EQUAL(a->n, 5);
    CU_ASSERT_STRING_EQUAL(a->iso[0].label, "P31");
    CU_ASSERT_STRING_EQUAL(a->iso[1].label, "Eu153");
    CU_ASSERT_STRING_EQUAL(a->iso[2].label, "W182");
    CU_ASSERT_DOUBLE_EQUAL(a->iso[1].dwell_s, 0.4, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(kr_la_col(a, 0)[0], 2010.16161699401, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(kr_la_col(a, 0)[4], 1910.14593514945, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(a->start_s, 1605673575.0, 1e-6);
    CU_ASSERT_STRING_EQUAL(a->software, "Qtegra 2.7.2425.65");
    kr_la_acqs_free(a, n);
}

static void test_read_batch(void)
{
    char p[1024];
    const char *files[2] = {"data/laicpms/thermo_icaprq_pewlib/icap_rows.csv",
                            "data/laicpms/thermo_icaprq_pewlib/icap_columns.csv"};
    for (int f = 0; f < 2; f++) {
        if (!kr_test_shared_path(p, sizeof p, files[f], __func__)) return;
        kr_la_acq *a = NULL;
        size_t n = 0;
        CU_ASSERT_EQUAL_FATAL(kr_la_read_file(p, 0.01, &a, &n), KR_OK);
        CU_ASSERT_EQUAL(n, 5);
        CU_ASSERT_EQUAL(a[0].niso, 3);
        CU_ASSERT_EQUAL(a[0].n, 5);
        CU_ASSERT_STRING_EQUAL(a[0].iso[2].label, "W182");
        /* the same first sample as the per-sample export test_icap_ldr_1.csv */
        CU_ASSERT_DOUBLE_EQUAL(kr_la_col(&a[0], 0)[0], 2010.1616169940062, 1e-9);
        CU_ASSERT_DOUBLE_EQUAL(a[0].time_s[0], 0.20229, 1e-12);
        CU_ASSERT_DOUBLE_EQUAL(kr_la_col(&a[4], 2)[4], 0, 1e-12);
        CU_ASSERT_DOUBLE_EQUAL(a[4].time_s[4], 4.22197, 1e-12);
        kr_la_acqs_free(a, n);
    }
}

static void test_read_agilent(void)
{
    char p[1024];
    if (!kr_test_shared_path(p, sizeof p, "data/laicpms/agilent_latools/STD-1.csv", __func__)) return;
    kr_la_acq *a = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL_FATAL(kr_la_read_file(p, 0.01, &a, &n), KR_OK);
    CU_ASSERT_STRING_EQUAL(a->sample, "STD-3");
    CU_ASSERT_EQUAL(a->niso, 9);
    CU_ASSERT_EQUAL(a->n, 699);
    CU_ASSERT_STRING_EQUAL(a->iso[0].label, "Mg24");
    CU_ASSERT_DOUBLE_EQUAL(kr_la_col(a, 0)[0], 200.0, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(kr_la_col(a, 5)[a->n - 1], 7601.66, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(a->time_s[a->n - 1], 249.571, 1e-12);
    /* three ablations (NIST 610, 612, 614) in one file */
    kr_la_opts o;
    kr_la_opts_default(&o);
    kr_la_window w[8];
    size_t nw = 0;
    CU_ASSERT_EQUAL(kr_la_find_windows(a, &o, w, 8, &nw), KR_OK);
    printf("\n  Agilent STD-1: %zu ablations:", nw);
    for (size_t k = 0; k < nw; k++)
        printf(" [blank %.1f-%.1f s, signal %.1f-%.1f s]", w[k].blank_start_s, w[k].blank_end_s, w[k].signal_start_s,
               w[k].signal_end_s);
    printf("\n");
    CU_ASSERT(nw >= 2);
    kr_la_acqs_free(a, n);
    kr_err_clear();
}

/* Counts export with the Printed: footer (constructed in the documented MassHunter layout) */
static void test_read_agilent_counts_footer(void)
{
    const char *txt = "D:\\DATA\\X.b\\S1.D\n"
                      "Intensity Vs Time,Counts\n"
                      "Acquired      : Oct 29 2015  03:06:01 pm using AcqMethod A.m\n"
                      "Time [Sec],Mg24,Ca43\n"
                      "0.1,2,30\n"
                      "0.2,4,40\n"
                      "\n"
                      "Printed:Thu Oct 29 15:40:05 2015\n";
    kr_text t;
    kr_la_acq a;
    CU_ASSERT_EQUAL_FATAL(kr_text_from_mem("S1.csv", txt, strlen(txt), &t), KR_OK);
    CU_ASSERT_EQUAL(kr_la_parse_agilent(&t, 0.01, &a), KR_OK);
    CU_ASSERT_EQUAL(a.n, 2);
    CU_ASSERT(a.counts_input);
    CU_ASSERT_DOUBLE_EQUAL(kr_la_col(&a, 1)[1], 4000.0, 1e-9); /* 40 counts / 10 ms */
    CU_ASSERT_STRING_EQUAL(a.sample, "S1");
    kr_la_acq_free(&a);
    kr_text_free(&t);
}

static void test_laser_log_split(void)
{
    const char *txt = "Long:2020-11-18 10:00:00;\nSoftware:Name=Qtegra;Version=2.7;\n\nTime,29Si,\n,dwell time=0.01,\n"
                      "0,1,\n1,2,\n2,3,\n3,4,\n4,5,\n5,6,\n";
    const char *logtxt = "# laser log\nspot,sample,start_s,end_s\nA1,G107,0,2.5\nA2,G108,3,\n";
    kr_text t, lt;
    kr_la_acq a, *parts = NULL;
    kr_la_log log;
    size_t np = 0;
    CU_ASSERT_EQUAL_FATAL(kr_text_from_mem("long.csv", txt, strlen(txt), &t), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_la_parse_qtegra(&t, &a), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_text_from_mem("log.csv", logtxt, strlen(logtxt), &lt), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_la_log_parse(&lt, &log), KR_OK);
    CU_ASSERT_EQUAL(kr_la_split_by_log(&a, &log, &parts, &np), KR_OK);
    CU_ASSERT_EQUAL(np, 2);
    CU_ASSERT_EQUAL(parts[0].n, 3);
    CU_ASSERT_EQUAL(parts[1].n, 3);
    CU_ASSERT_STRING_EQUAL(parts[1].sample, "G108");
    CU_ASSERT_DOUBLE_EQUAL(kr_la_col(&parts[1], 0)[0], 4.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(parts[1].start_s - a.start_s, 3.0, 1e-9);
    kr_la_acqs_free(parts, np);
    kr_la_log_free(&log);
    kr_la_acq_free(&a);
    kr_text_free(&t);
    kr_text_free(&lt);
}

/* Longerich et al. 1996: a hand-computed case.
 * C_IS,sam 1000 ug/g, I_sam 5000 cps, I_IS,sam 20000 cps; RM: C 500, C_IS 2000 ug/g, I 10000, I_IS 10000 cps:
 * C = 1000 x (5000/20000) x (500/2000) / (10000/10000) = 62.5 ug/g. */
static void test_longerich(void)
{
    CU_ASSERT_DOUBLE_EQUAL(kr_la_longerich(1000, 5000, 20000, 500, 2000, 10000, 10000), 62.5, 1e-12);
    /* the same with a drifted sensitivity: both RM intensities doubled -> unchanged */
    CU_ASSERT_DOUBLE_EQUAL(kr_la_longerich(1000, 5000, 20000, 500, 2000, 20000, 20000), 62.5, 1e-12);
}

/* LODs on a constructed case: blank 100 cps with sd 10 cps, 40 blank and 100 signal sweeps, dwell 10 ms,
 * sensitivity 1000 cps per ug/g.
 * Longerich 1996: 3 x 10 x sqrt(1/40 + 1/100) / 1000 = 0.0056125 ug/g.
 * Pettke 2012 eq. 6: B t n_s = 100 counts; x (1 + 100/40) = 350; 3.29 sqrt(350) + 2.71 = 64.2604 counts in
 * n_s t = 1 s -> 64.2604 cps -> 0.0642604 ug/g. */
static void test_lods(void)
{
    CU_ASSERT_DOUBLE_EQUAL(kr_la_lod_longerich(3, 10, 40, 100, 1000), 0.00561249, 1e-7);
    CU_ASSERT_DOUBLE_EQUAL(kr_la_lod_pettke(3.29, 2.71, 100, 0.01, 40, 100, 1000), 0.0642604, 1e-6);
    /* zero blank: Pettke reduces to Currie's 2.71 counts */
    CU_ASSERT_DOUBLE_EQUAL(kr_la_lod_pettke(3.29, 2.71, 0, 0.01, 40, 100, 1000), 2.71 / 1.0 / 1000, 1e-12);
}

/* The real iCAP Q session: Ca43 internal standard, NIST610 calibrant with linear drift, NIST612 as unknown. */
static void test_real_session(void)
{
    char dir[1024];
    if (!kr_test_shared_path(dir, sizeof dir, "data/laicpms/thermo_icapq_latools", __func__)) return;
    kr_la_refs refs;
    kr_la_session s;
    kr_la_settings set;
    kr_la_opts o;
    CU_ASSERT_EQUAL_FATAL(kr_la_refs_load(&refs), KR_OK);
    kr_la_settings_default(&set);
    snprintf(set.is_element, sizeof set.is_element, "Ca");
    kr_la_opts_default(&o);
    CU_ASSERT_EQUAL_FATAL(kr_la_session_init(&s, &set, &o, &refs), KR_OK);
    s.is_default_ugg = 400000; /* foraminifera: CaCO3 (not part of the NIST612 check) */
    DIR *d = opendir(dir);
    struct dirent *e;
    int nfiles = 0;
    while ((e = readdir(d))) {
        if (!strstr(e->d_name, ".csv")) continue;
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        kr_la_acq *a = NULL;
        size_t n = 0;
        CU_ASSERT_EQUAL_FATAL(kr_la_read_file(p, 0.01, &a, &n), KR_OK);
        CU_ASSERT_EQUAL(kr_la_process_acq(&s, NULL, a, NULL, NULL, 0), KR_OK);
        kr_la_acqs_free(a, n);
        nfiles++;
    }
    closedir(d);
    CU_ASSERT_EQUAL(nfiles, 225);
    size_t nfail = 0;
    for (size_t i = 0; i < s.nspots; i++)
        if (s.spots[i].failed) {
            nfail++;
            printf("\n  failed: %s", s.spots[i].msg);
        }
    printf("\n  real session: %zu spots, %zu without windows, %d isotopes\n", s.nspots, nfail, s.nana);
    CU_ASSERT_EQUAL(s.nspots, 225);
    CU_ASSERT_EQUAL_FATAL(kr_la_session_calibrate(&s), KR_OK);
    CU_ASSERT_EQUAL(s.ncal, 15);
    kr_la_result *rows = calloc(s.nspots * (size_t)s.nana, sizeof *rows);
    for (size_t i = 0; i < s.nspots; i++)
        if (kr_la_quantify_spot(&s, i, rows + i * (size_t)s.nana)) kr_err_clear();
    kr_la_qa_row *qa = NULL;
    size_t nqa = 0;
    CU_ASSERT_EQUAL_FATAL(kr_la_qa(&s, rows, 5, &qa, &nqa), KR_OK);
    int nwithin = 0, nan = 0;
    printf("  NIST612 (n spots) vs Jochum et al. 2011:\n  analyte   mean ug/g   RSD %%   preferred +- U(95%%)   bias %%   z     zeta  within\n");
    for (size_t q = 0; q < nqa; q++) {
        if (strcmp(qa[q].material, "NIST612")) continue;
        nan++;
        nwithin += qa[q].within_uncertainty;
        printf("  %-8s %10.3f %7.2f %10.3f +- %-7.3g %7.2f %6.2f %6.2f  %d (n=%d)\n", qa[q].analyte, qa[q].mean,
               qa[q].rsd_pct, qa[q].preferred, qa[q].preferred_u_1s * refs.k95, qa[q].bias_pct, qa[q].z, qa[q].zeta,
               qa[q].within_uncertainty, qa[q].n);
        /* Against Jochum et al. 2011, within 5 %: the analytes whose signals this session measures cleanly.
         * Not asserted, printed only: Mn55 and Mg24. Mn55 rides on ~1.15e6 cps of ArNH+ (the NIST612 net is
         * ~4 % of the gross) and reaches 2.36e6 cps in NIST610, next to the detector's 2.5e6 cps pulse/analog
         * threshold; Mg24 is -9 % because NIST610 Mg here behaves like the in-house 465.3 ug/g of the shared
         * GeoReM file rather than Jochum's 432. An independent plain-mean reduction of the same files gives
         * Mg24 -9.1 %, Mn55 -36.8 %, Sr88 +3.8 %, Al27 +3.4 %: the biases are in the data. Ba is not measured. */
        if (!strcmp(qa[q].analyte, "Sr88") || !strcmp(qa[q].analyte, "Al27") || !strcmp(qa[q].analyte, "Cu63")) {
            if (fabs(qa[q].bias_pct) > 5.0) printf("  ** %s outside 5 %%\n", qa[q].analyte);
            CU_ASSERT(fabs(qa[q].bias_pct) <= 5.0);
        }
    }
    printf("  NIST612: %d of %d analytes within the certified uncertainty; Ba not measured in this session\n",
           nwithin, nan);
    CU_ASSERT(nan >= 8);
    free(qa);
    free(rows);
    kr_la_session_free(&s);
    kr_la_refs_free(&refs);
}

/* ---- bad inputs ------------------------------------------------------------------------------------ */

static int parse_q(const char *txt, kr_la_acq *a)
{
    kr_text t;
    kr_text_from_mem("bad.csv", txt, strlen(txt), &t);
    int rc = kr_la_parse_qtegra(&t, a);
    kr_text_free(&t);
    return rc;
}

static int msg_has(const char *needle)
{
    char buf[1024];
    kr_err_format(buf, sizeof buf);
    int ok = strstr(buf, needle) != NULL;
    if (!ok) printf("\n  message was: %s\n", buf);
    kr_err_clear();
    return ok;
}

static void test_bad_date_and_cell(void)
{
    kr_la_acq a;
    CU_ASSERT_EQUAL(parse_q("S1:Tuesday noon;\n\nTime,29Si,\n0,1,\n", &a), KR_EINPUT);
    CU_ASSERT(msg_has("bad.csv:1: unknown date format"));
    CU_ASSERT_EQUAL(parse_q("S1:01/28/2015 04:27:26 PM;\n\nTime,29Si,43Ca,\n,dwell time=0.01,dwell time=0.01,\n0,1,2,\n"
                            "0.5,1,x2,\n",
                            &a),
                    KR_EINPUT);
    CU_ASSERT(msg_has("bad.csv:6: column 3 (Ca43): 'x2' is not a number"));
}

/* a synthetic spot: blank level b for t < t_on, signal level h from t_on to t_off */
static void make_spot(kr_la_acq *a, double t_on, double t_off, double b, double h)
{
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "X1");
    snprintf(a->sample, sizeof a->sample, "G107");
    snprintf(a->source, sizeof a->source, "x.csv");
    a->niso = 1;
    a->n = a->cap = 200;
    a->iso = calloc(1, sizeof *a->iso);
    kr_la_isotope_parse("29Si", a->iso);
    a->iso->dwell_s = 0.01;
    a->time_s = malloc(sizeof(double) * 400);
    a->cps = a->time_s + 200;
    for (size_t t = 0; t < 200; t++) {
        a->time_s[t] = 0.5 * (double)t;
        a->cps[t] = (a->time_s[t] >= t_on && a->time_s[t] < t_off ? h : b) + (double)(t % 3); /* a little noise */
    }
}

static void test_bad_windows(void)
{
    kr_la_opts o;
    kr_la_opts_default(&o);
    kr_la_window w[4];
    size_t nw;
    kr_la_acq a;
    make_spot(&a, 2, 80, 100, 1e5); /* laser on at 2 s: no room for a gas blank */
    CU_ASSERT_EQUAL(kr_la_find_windows(&a, &o, w, 4, &nw), KR_EINPUT);
    CU_ASSERT(msg_has("no blank window before the signal"));
    kr_la_acq_free(&a);
    make_spot(&a, 20, 80, 100, 100); /* flat */
    CU_ASSERT_EQUAL(kr_la_find_windows(&a, &o, w, 4, &nw), KR_EINPUT);
    CU_ASSERT(msg_has("the signal never rises"));
    kr_la_acq_free(&a);
    make_spot(&a, 20, 80, 100, 1e5);
    CU_ASSERT_EQUAL(kr_la_find_windows(&a, &o, w, 4, &nw), KR_OK);
    CU_ASSERT_EQUAL(nw, 1);
    CU_ASSERT(w[0].blank_start_s >= 1 && w[0].blank_end_s <= 18);
    CU_ASSERT(w[0].signal_start_s >= 23 && w[0].signal_end_s <= 78);
    kr_la_acq_free(&a);
}

static void test_bad_calibration(void)
{
    kr_la_refs refs;
    kr_la_session s;
    kr_la_settings set;
    kr_la_opts o;
    kr_la_acq a;
    kr_la_window w[4];
    size_t nw;
    CU_ASSERT_EQUAL_FATAL(kr_la_refs_load(&refs), KR_OK);
    kr_la_settings_default(&set);
    kr_la_opts_default(&o);
    /* missing calibrant: only an unknown */
    CU_ASSERT_EQUAL_FATAL(kr_la_session_init(&s, &set, &o, &refs), KR_OK);
    make_spot(&a, 20, 80, 100, 1e5);
    CU_ASSERT_EQUAL(kr_la_find_windows(&a, &o, w, 4, &nw), KR_OK);
    CU_ASSERT_EQUAL(kr_la_session_add_spot(&s, &a, &w[0], "X1", NULL), KR_OK);
    CU_ASSERT_EQUAL(kr_la_session_calibrate(&s), KR_EINPUT);
    CU_ASSERT(msg_has("missing calibrant: no analysis of NIST610"));
    /* calibrant without bracket: one NIST610 analysis with linear drift */
    CU_ASSERT_EQUAL(kr_la_session_add_spot(&s, &a, &w[0], "STD1", "NIST610"), KR_OK);
    CU_ASSERT_EQUAL(kr_la_session_calibrate(&s), KR_EINPUT);
    CU_ASSERT(msg_has("analysed only once"));
    /* a second NIST610: calibrates; the unknown G107 has no SiO2 link -> clear message */
    CU_ASSERT_EQUAL(kr_la_session_add_spot(&s, &a, &w[0], "STD2", "NIST610"), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_la_session_calibrate(&s), KR_OK);
    kr_la_result *rows = calloc((size_t)s.nana, sizeof *rows);
    CU_ASSERT_EQUAL(kr_la_quantify_spot(&s, 0, rows), KR_EINPUT);
    CU_ASSERT(msg_has("sample 'G107' has no internal standard: no EPMA mean Si"));
    CU_ASSERT_STRING_EQUAL(rows[0].status, "failed");
    /* the calibrant itself reproduces its own Si */
    CU_ASSERT_EQUAL(kr_la_quantify_spot(&s, 1, rows), KR_OK);
    CU_ASSERT_STRING_EQUAL(rows[0].is_source, "reference");
    KR_ASSERT_REL(rows[0].conc_ugg, rows[0].is_ugg, 1e-12);
    free(rows);
    kr_la_acq_free(&a);
    kr_la_session_free(&s);
    kr_la_refs_free(&refs);
}

static void test_refs(void)
{
    kr_la_refs r;
    CU_ASSERT_EQUAL_FATAL(kr_la_refs_load(&r), KR_OK);
    int m = kr_la_refs_material(&r, "NIST SRM 610");
    CU_ASSERT(m >= 0);
    double v, u;
    char ut[16];
    CU_ASSERT(kr_la_refs_element(&r, m, "Ti", &v, &u, ut, sizeof ut));
    CU_ASSERT_DOUBLE_EQUAL(v, 452, 1e-9); /* Jochum et al. 2011 */
    CU_ASSERT_DOUBLE_EQUAL(u * 1.96, 10, 1e-9);
    CU_ASSERT_STRING_EQUAL(ut, "95%CL");
    /* Si from SiO2 69.7 wt%: 69.7 x 4674.3 (DOMAIN.md 3.2) */
    CU_ASSERT(kr_la_refs_element(&r, m, "Si", &v, &u, NULL, 0));
    KR_ASSERT_REL(v, 69.7 * 4674.3, 2e-5);
    CU_ASSERT(kr_la_refs_material(&r, "BCR-2G") >= 0);
    CU_ASSERT(kr_la_refs_material(&r, "BIR-1G") >= 0);
    CU_ASSERT_DOUBLE_EQUAL(r.ci_ugg[63], 0.0563, 1e-12);
    kr_la_refs_free(&r);
}

int main(void)
{
    const kr_test_case tests[] = {
        {"isotope labels", test_isotope_labels},
        {"dates", test_dates},
        {"reference values", test_refs},
        {"read Qtegra 2.4 (iCAP Q)", test_read_qtegra24},
        {"read Qtegra 2.7 (iCAP RQ)", test_read_qtegra27},
        {"read Qtegra batch rows/columns", test_read_batch},
        {"read Agilent (multi-ablation)", test_read_agilent},
        {"read Agilent counts + footer", test_read_agilent_counts_footer},
        {"laser log split", test_laser_log_split},
        {"Longerich 1996 hand example", test_longerich},
        {"LODs Longerich 1996 / Pettke 2012", test_lods},
        {"bad date and non-numeric cell", test_bad_date_and_cell},
        {"bad windows", test_bad_windows},
        {"bad calibration and unlinked sample", test_bad_calibration},
        {"real iCAP Q session, NIST612 vs Jochum 2011", test_real_session},
        {NULL, NULL},
    };
    return kr_test_run("laicpms", tests);
}
