/* Run orchestration with two tiny test stages: dependency order, shared per-sample values, per-sample
 * failures (status 3), a bad config or a failing stage writes nothing and leaves an old product. */
#include "error.h"
#include "kr_test.h"
#include "stage.h"
#include "text.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    char sample[16];
    double value;
} val_row;
static const kr_column VAL_COLS[] = {
    KR_COL_S(val_row, sample, "sample id"),
    KR_COL_D(val_row, value, "wt%", "a value"),
};
static const kr_table_desc VAL_DESC = KR_TABLE(VAL_COLS, val_row);

/* alpha: publishes sio2_wt = scale * (1, 2) for samples A and B; fails if alpha.fail is true */
static const kr_param ALPHA_P[] = {
    {"alpha.scale", KR_PT_DOUBLE, "10", "", 0, 100, NULL, "scale"},
    {"alpha.fail", KR_PT_BOOL, "false", "", 1, 0, NULL, "fail the stage"},
    {"alpha.inputs", KR_PT_NODE, NULL, "", 1, 0, NULL, "input files"},
};
static const kr_param_table ALPHA_T = {"alpha", ALPHA_P, 3};

static int alpha_run(const kr_config *cfg, kr_run_ctx *ctx, kr_product *out)
{
    if (kr_config_bool(cfg, "alpha.fail")) return kr_err(KR_EINPUT, "alpha: asked to fail");
    const kr_node *in = kr_config_node(cfg, "alpha.inputs");
    for (size_t i = 0; i < kr_node_len(in); i++) {
        char *p = NULL;
        int rc = kr_config_input_path(cfg, kr_node_item(in, i), &p);
        if (!rc) rc = kr_product_add_input(out, "alpha", p);
        free(p);
        if (rc) return rc;
    }
    double s = kr_config_double(cfg, "alpha.scale");
    kr_run_set_sample_value(ctx, "A", "sio2_wt", s * 1, 0.1);
    kr_run_set_sample_value(ctx, "B", "sio2_wt", s * 2, NAN);
    val_row rows[2] = {{"A", s}, {"B", 2 * s}};
    return kr_product_write_table(out, "alpha/samples", &VAL_DESC, rows, 2);
}
static const kr_stage ALPHA = {"alpha", &ALPHA_T, alpha_run};

/* beta: needs alpha's value for each of its samples; a sample without it fails (the run goes on) */
static const kr_param BETA_P[] = {
    {"beta.samples", KR_PT_NODE, "[A, B]", "", 1, 0, NULL, "samples"},
};
static const kr_param_table BETA_T = {"beta", BETA_P, 1};

static int beta_run(const kr_config *cfg, kr_run_ctx *ctx, kr_product *out)
{
    const kr_node *s = kr_config_node(cfg, "beta.samples");
    val_row rows[8];
    size_t n = 0;
    for (size_t i = 0; i < kr_node_len(s) && n < 8; i++) {
        const char *name = kr_node_scalar(kr_node_item(s, i));
        double v;
        if (!kr_run_get_sample_value(ctx, name, "sio2_wt", &v, NULL)) {
            kr_run_sample_failed(ctx, "beta", name, "no EPMA SiO2 for this sample");
            continue;
        }
        snprintf(rows[n].sample, sizeof rows[n].sample, "%s", name);
        rows[n++].value = v / 2;
    }
    return kr_product_write_table(out, "beta/samples", &VAL_DESC, rows, n);
}
static const kr_stage BETA = {"beta", &BETA_T, beta_run};

static const kr_stage *const STAGES[] = {&ALPHA, &BETA};

static void tmp_path(char *buf, size_t len, const char *name) { snprintf(buf, len, "%s/%s", kr_test_tmpdir(), name); }

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static int same_text(const char *path, const char *text)
{
    kr_text t;
    if (kr_text_read(path, &t)) {
        kr_err_clear();
        return 0;
    }
    int eq = t.len == strlen(text) && !memcmp(t.data, text, t.len);
    kr_text_free(&t);
    return eq;
}

static long long rows_of(const char *file, const char *table)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return -1;
    long long n = -1;
    hid_t d = H5Dopen2(f, table, H5P_DEFAULT);
    if (d >= 0) {
        hid_t sp = H5Dget_space(d);
        n = (long long)H5Sget_simple_extent_npoints(sp);
        H5Sclose(sp);
        H5Dclose(d);
    }
    H5Fclose(f);
    H5Eclear2(H5E_DEFAULT);
    return n;
}

static double value_of(const char *file, const char *table, size_t row)
{
    double v = NAN;
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT), d = H5Dopen2(f, table, H5P_DEFAULT);
    hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(double));
    H5Tinsert(mt, "value", 0, H5T_NATIVE_DOUBLE);
    double all[8];
    if (H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, all) >= 0 && row < 8) v = all[row];
    H5Tclose(mt);
    H5Dclose(d);
    H5Fclose(f);
    return v;
}

static void test_order_and_sharing(void)
{
    char cfgp[600], out[600], in[600];
    tmp_path(cfgp, sizeof cfgp, "ok.yaml");
    tmp_path(out, sizeof out, "ok.h5");
    tmp_path(in, sizeof in, "in.csv");
    write_text(in, "a,b\n1,2\n");
    /* beta written first in the YAML: alpha still runs first (registry order) */
    write_text(cfgp, "beta:\n  samples: [A, B]\nalpha:\n  scale: 4\n  inputs: [in.csv]\nrun:\n  name: t1\n");
    kr_err_clear();
    char *sets[] = {"alpha.scale=6"};
    int rc = kr_run_pipeline(cfgp, out, sets, 1, STAGES, 2, NULL);
    if (rc) kr_err_print(stdout);
    CU_ASSERT_EQUAL_FATAL(rc, KR_OK);
    CU_ASSERT_EQUAL(rows_of(out, "alpha/samples"), 2);
    CU_ASSERT_EQUAL(rows_of(out, "beta/samples"), 2);
    CU_ASSERT_DOUBLE_EQUAL(value_of(out, "beta/samples", 1), 6.0, 1e-12); /* (6*2)/2 */
    CU_ASSERT_EQUAL(rows_of(out, "provenance/inputs"), 2);                 /* run.yaml + in.csv */
    CU_ASSERT_EQUAL(rows_of(out, "provenance/failures"), -1);
    CU_ASSERT(rows_of(out, "provenance/calibration") >= 1);
}

static void test_only_present_stages(void)
{
    char cfgp[600], out[600];
    tmp_path(cfgp, sizeof cfgp, "alpha_only.yaml");
    tmp_path(out, sizeof out, "alpha_only.h5");
    write_text(cfgp, "alpha: {}\n");
    kr_err_clear();
    CU_ASSERT_EQUAL_FATAL(kr_run_pipeline(cfgp, out, NULL, 0, STAGES, 2, NULL), KR_OK);
    CU_ASSERT_EQUAL(rows_of(out, "alpha/samples"), 2);
    CU_ASSERT_EQUAL(rows_of(out, "beta/samples"), -1);
    /* no stage at all */
    write_text(cfgp, "run:\n  name: x\n");
    CU_ASSERT_EQUAL(kr_run_pipeline(cfgp, out, NULL, 0, STAGES, 2, NULL), KR_EINPUT);
    kr_err_clear();
}

static void test_partial_failures(void)
{
    char cfgp[600], out[600];
    tmp_path(cfgp, sizeof cfgp, "partial.yaml");
    tmp_path(out, sizeof out, "partial.h5");
    write_text(cfgp, "alpha: {}\nbeta:\n  samples: [A, Z, B]\n");
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_run_pipeline(cfgp, out, NULL, 0, STAGES, 2, NULL), KR_EPARTIAL);
    char buf[1024];
    kr_err_format(buf, sizeof buf);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "1 sample(s) failed"));
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "beta sample Z: no EPMA SiO2"));
    kr_err_clear();
    CU_ASSERT_EQUAL(rows_of(out, "provenance/failures"), 1);
    CU_ASSERT_EQUAL(rows_of(out, "beta/samples"), 2);
    /* with a limit of 0 failed samples the run fails and writes nothing */
    write_text(out, "old");
    write_text(cfgp, "alpha: {}\nbeta:\n  samples: [A, Z, B]\nrun: {max_failed_samples: 0}\n");
    CU_ASSERT_EQUAL(kr_run_pipeline(cfgp, out, NULL, 0, STAGES, 2, NULL), KR_EINPUT);
    kr_err_clear();
    CU_ASSERT(same_text(out, "old"));
}

static void test_nothing_written_on_errors(void)
{
    char cfgp[600], out[600], tmp[700];
    tmp_path(cfgp, sizeof cfgp, "bad.yaml");
    tmp_path(out, sizeof out, "bad.h5");
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    const char *bad[] = {
        "alpha:\n  scael: 3\n",           /* unknown key */
        "alpha:\n  scale: big\n",         /* wrong type */
        "alpha:\n  scale: 101\n",         /* out of range */
        "alpha:\n  scale: [1\n",          /* bad YAML */
        "alpha:\n  fail: true\n",         /* the stage fails */
        "alpha:\n  inputs: [absent.csv]\n", /* missing input */
    };
    const char *where[] = {"bad.yaml:2:3: unknown key 'alpha.scael' (did you mean 'alpha.scale'?)",
                           "bad.yaml:2:10: 'alpha.scale' must be a number",
                           "bad.yaml:2:10: 'alpha.scale' = 101 is out of range",
                           "bad.yaml:3:1: bad YAML",
                           "alpha: asked to fail",
                           "bad.yaml:2:12: input 'absent.csv' does not exist"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(cfgp, bad[i]);
        write_text(out, "old product");
        kr_err_clear();
        int rc = kr_run_pipeline(cfgp, out, NULL, 0, STAGES, 2, NULL);
        CU_ASSERT_EQUAL(rc, KR_EINPUT);
        char buf[2048];
        kr_err_format(buf, sizeof buf);
        if (!strstr(buf, where[i])) printf("\n  case %zu: expected '%s' in '%s'\n", i, where[i], buf);
        CU_ASSERT_PTR_NOT_NULL(strstr(buf, where[i]));
        CU_ASSERT(same_text(out, "old product"));
        CU_ASSERT_EQUAL(access(tmp, F_OK), -1);
    }
    /* a fresh target: no file at all */
    unlink(out);
    write_text(cfgp, bad[0]);
    CU_ASSERT_EQUAL(kr_run_pipeline(cfgp, out, NULL, 0, STAGES, 2, NULL), KR_EINPUT);
    CU_ASSERT_EQUAL(access(out, F_OK), -1);
    kr_err_clear();
}

static void test_log_json(void)
{
    char path[600];
    tmp_path(path, sizeof path, "log.jsonl");
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    kr_log lg;
    kr_log_init(&lg, f, KR_LOG_JSON);
    kr_log_info(&lg, "epma", "read \"%s\"", "a\\b");
    kr_log_progress(&lg, NULL, "points", 5, 10);
    kr_log_progress(&lg, NULL, "points", 5, 10); /* same percent: throttled */
    fclose(f);
    kr_text t;
    CU_ASSERT_EQUAL_FATAL(kr_text_read(path, &t), KR_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "\"level\":\"info\",\"stage\":\"epma\",\"msg\":\"read \\\"a\\\\b\\\"\"}\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "\"stage\":null,\"msg\":\"points\",\"done\":5,\"total\":10}\n"));
    int lines = 0;
    for (const char *c = t.data; *c; c++) lines += *c == '\n';
    CU_ASSERT_EQUAL(lines, 2);
    kr_text_free(&t);
    /* the error chain as one JSON line */
    f = fopen(path, "w");
    kr_log_init(&lg, f, KR_LOG_JSON);
    kr_err_clear();
    kr_err(KR_EINPUT, "inner");
    kr_err(KR_EINPUT, "outer");
    kr_log_error_chain(&lg, KR_EINPUT);
    kr_err_clear();
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(kr_text_read(path, &t), KR_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "\"level\":\"error\",\"stage\":null,\"exit_status\":1,\"msg\":\"outer: inner\"}\n"));
    kr_text_free(&t);
    /* a terminal: one updating progress line, closed by a newline at 100 % */
    f = fopen(path, "w");
    kr_log_init(&lg, f, KR_LOG_HUMAN);
    for (size_t i = 1; i <= 400; i++) kr_log_progress(&lg, "epma", "points", i, 400);
    kr_log_info(&lg, NULL, "done");
    fclose(f);
    CU_ASSERT_EQUAL_FATAL(kr_text_read(path, &t), KR_OK);
    int updates = 0;
    for (const char *c = t.data; *c; c++) updates += *c == '\r';
    CU_ASSERT_EQUAL(updates, 101); /* throttled to whole percents (0..100) */
    CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "100% (400/400)\nkreep: done\n"));
    kr_text_free(&t);
    /* AUTO on a file (not a terminal) is quiet */
    f = fopen(path, "w");
    kr_log_init(&lg, f, KR_LOG_AUTO);
    kr_log_info(&lg, NULL, "hidden");
    kr_log_progress(&lg, NULL, "x", 1, 2);
    fclose(f);
    CU_ASSERT(same_text(path, ""));
}

int main(void)
{
    static const kr_test_case tests[] = {
        {"stages run in dependency order and share values", test_order_and_sharing},
        {"only the sections present run", test_only_present_stages},
        {"failed samples: status 3 and /provenance/failures", test_partial_failures},
        {"bad config or failing stage: nothing written", test_nothing_written_on_errors},
        {"JSON log lines; quiet when not a terminal", test_log_json},
        {NULL, NULL},
    };
    return kr_test_run("pipeline_run", tests);
}
