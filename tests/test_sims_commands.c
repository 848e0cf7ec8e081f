/* `kreep isochron` and `kreep wmean` (stages/sims/cmd_*.c): the CSV contract on IsoplotR's example files
 * and error messages naming file:line. Output is captured by redirecting stdout to a temp file. */
#include "commands.h"
#include "error.h"
#include "kr_test.h"
#include "ratio_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Run a command with stdout captured into buf. Returns its status. */
static int run_capture(int (*fn)(int, char **), char **argv, int argc, char *buf, size_t len)
{
    char path[512];
    snprintf(path, sizeof path, "%s/out.txt", kr_test_tmpdir());
    fflush(stdout);
    int saved = dup(fileno(stdout));
    FILE *f = freopen(path, "w", stdout);
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    int rc = fn(argc, argv);
    fflush(stdout);
    dup2(saved, fileno(stdout));
    close(saved);
    FILE *in = fopen(path, "r");
    size_t n = in ? fread(buf, 1, len - 1, in) : 0;
    buf[n] = 0;
    if (in) fclose(in);
    return rc;
}

/* Value of column `name` in a two-line CSV (header, row). */
static int csv_get(const char *csv, const char *name, char *val, size_t len)
{
    char copy[4096];
    snprintf(copy, sizeof copy, "%s", csv);
    char *nl = strchr(copy, '\n');
    if (!nl) return -1;
    *nl = 0;
    char *row = nl + 1;
    char *e = strchr(row, '\n');
    if (e) *e = 0;
    char *hs, *rs;
    char *h = strtok_r(copy, ",", &hs);
    /* fields may be empty: walk the row by hand */
    char *r = row;
    while (h) {
        char *comma = strchr(r, ',');
        size_t flen = comma ? (size_t)(comma - r) : strlen(r);
        if (!strcmp(h, name)) {
            snprintf(val, len, "%.*s", (int)flen, r);
            return 0;
        }
        if (!comma) return -1;
        r = comma + 1;
        h = strtok_r(NULL, ",", &hs);
    }
    (void)rs;
    return -1;
}

static double csv_num(const char *csv, const char *name)
{
    char v[128];
    if (csv_get(csv, name, v, sizeof v)) return NAN;
    return atof(v);
}

static void test_isochron_pbpb1(void)
{
    char p[4096], out[4096];
    if (!kr_test_shared_path(p, sizeof p, "data/sims/isoplotr/PbPb1.csv", "isochron_pbpb1")) return;
    char *argv[] = {"isochron", p, "--form", "inverse", NULL};
    CU_ASSERT_EQUAL_FATAL(run_capture(cmd_isochron, argv, 4, out, sizeof out), KR_OK);
    const char *need[] = {"n",    "intercept", "intercept_err", "slope",      "slope_err",     "cov_ab",
                          "mswd", "p",         "age_ma",        "age_err_ma", "age_err_ext_ma"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) CU_ASSERT(!isnan(csv_num(out, need[i])));
    CU_ASSERT_EQUAL(csv_num(out, "n"), 18);
    KR_ASSERT_REL(csv_num(out, "intercept"), 0.6246175362, 1e-6); /* IsoplotR, DOMAIN.md 4.2.8 */
    KR_ASSERT_REL(csv_num(out, "slope"), 4.233896976, 1e-6);
    KR_ASSERT_REL(csv_num(out, "mswd"), 302.069, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(csv_num(out, "age_ma"), 4565.682649, 1e-4);
    CU_ASSERT_DOUBLE_EQUAL(csv_num(out, "age_err_ma"), 0.075623, 1e-6);
    /* default form is inverse */
    char out2[4096];
    char *argv2[] = {"isochron", p, NULL};
    CU_ASSERT_EQUAL_FATAL(run_capture(cmd_isochron, argv2, 2, out2, sizeof out2), KR_OK);
    CU_ASSERT_STRING_EQUAL(out, out2);
}

/* The inverse-form header is read as is: PbPb1 converted to 204/206, 207/206 gives the same fit. */
static void test_isochron_inverse_header(void)
{
    char p[4096], q[600], out[4096];
    if (!kr_test_shared_path(p, sizeof p, "data/sims/isoplotr/PbPb1.csv", "isochron_inverse_header")) return;
    kr_pbpb_data raw, inv;
    CU_ASSERT_EQUAL_FATAL(kr_pbpb_data_read(p, &raw), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_pbpb_data_to_form(&raw, KR_ISO_INVERSE, &inv), KR_OK);
    snprintf(q, sizeof q, "%s/inverse.csv", kr_test_tmpdir());
    FILE *f = fopen(q, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "Pb204Pb206,errPb204Pb206,Pb207Pb206,errPb207Pb206,rho\n");
    for (size_t i = 0; i < inv.n; i++)
        fprintf(f, "%.17g,%.17g,%.17g,%.17g,%.17g\n", inv.x[i], inv.sx[i], inv.y[i], inv.sy[i], inv.rxy[i]);
    fclose(f);
    kr_pbpb_data_free(&raw);
    kr_pbpb_data_free(&inv);
    char *argv[] = {"isochron", q, NULL};
    CU_ASSERT_EQUAL_FATAL(run_capture(cmd_isochron, argv, 2, out, sizeof out), KR_OK);
    KR_ASSERT_REL(csv_num(out, "intercept"), 0.6246175362, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(csv_num(out, "age_ma"), 4565.682649, 1e-4);
}

static void test_wmean_ludwig(void)
{
    char p[4096], out[4096], v[64];
    if (!kr_test_shared_path(p, sizeof p, "data/sims/isoplotr/LudwigMean.csv", "wmean_ludwig")) return;
    char *argv[] = {"wmean", p, NULL};
    CU_ASSERT_EQUAL_FATAL(run_capture(cmd_wmean, argv, 2, out, sizeof out), KR_OK);
    CU_ASSERT_EQUAL(csv_num(out, "n"), 28);
    CU_ASSERT_EQUAL(csv_num(out, "n_used"), 27);
    KR_ASSERT_REL(csv_num(out, "mean"), 250.1505676, 1e-6);
    KR_ASSERT_REL(csv_num(out, "err"), 0.3378715, 1e-6);
    KR_ASSERT_REL(csv_num(out, "mswd"), 1.045295, 1e-6);
    CU_ASSERT_EQUAL(csv_get(out, "rejected", v, sizeof v), 0);
    CU_ASSERT_STRING_EQUAL(v, "4");
    char *argv2[] = {"wmean", p, "--no-outliers", NULL};
    CU_ASSERT_EQUAL_FATAL(run_capture(cmd_wmean, argv2, 3, out, sizeof out), KR_OK);
    CU_ASSERT_EQUAL(csv_num(out, "n_used"), 28);
    CU_ASSERT_EQUAL(csv_get(out, "rejected", v, sizeof v), 0);
    CU_ASSERT_STRING_EQUAL(v, "");
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static void test_bad_inputs(void)
{
    char p[512], out[4096], msg[1024];
    snprintf(p, sizeof p, "%s/bad.csv", kr_test_tmpdir());
    write_file(p, "Pb206Pb204,errPb206Pb204,Pb207Pb204,errPb207Pb204,rho\n115,0.4,76.11,0.25,0.9994\n"
                  "140.57,abc,92.07,0.85,0.9999\n");
    char *argv[] = {"isochron", p, NULL};
    kr_err_clear();
    CU_ASSERT_EQUAL(run_capture(cmd_isochron, argv, 2, out, sizeof out), KR_EINPUT);
    kr_err_format(msg, sizeof msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "bad.csv:3"));
    kr_err_clear();
    write_file(p, "X,errX\n1,0.1\n2,-1\n");
    char *argw[] = {"wmean", p, NULL};
    CU_ASSERT_EQUAL(run_capture(cmd_wmean, argw, 2, out, sizeof out), KR_EINPUT);
    kr_err_format(msg, sizeof msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "bad.csv:3"));
    kr_err_clear();
    char *argu[] = {"wmean", NULL};
    CU_ASSERT_EQUAL(run_capture(cmd_wmean, argu, 1, out, sizeof out), KR_EUSAGE);
    kr_err_clear();
    char *argf[] = {"isochron", p, "--form", "sideways", NULL};
    CU_ASSERT_EQUAL(run_capture(cmd_isochron, argf, 4, out, sizeof out), KR_EUSAGE);
    kr_err_clear();
    char *argh[] = {"isochron", "--help", NULL};
    CU_ASSERT_EQUAL(run_capture(cmd_isochron, argh, 2, out, sizeof out), KR_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(out, "usage"));
}

int main(void)
{
    const kr_test_case tests[] = {{"isochron on IsoplotR PbPb1", test_isochron_pbpb1},
                                  {"isochron reads the inverse-form header", test_isochron_inverse_header},
                                  {"wmean on IsoplotR LudwigMean", test_wmean_ludwig},
                                  {"bad inputs and usage", test_bad_inputs},
                                  {NULL, NULL}};
    return kr_test_run("sims_commands", tests);
}
