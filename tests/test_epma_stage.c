/* The EPMA stage inside a run (stages/epma/stage_epma.c): config -> product tables, SiO2 published to the
 * run context, and bad inputs leave no product (an old product untouched). */
#include "error.h"
#include "kr_test.h"
#include "stage.h"
#include "stage_epma.h"

#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

static hssize_t table_rows(const char *file, const char *dset)
{
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return -1;
    hid_t d = H5Dopen2(f, dset, H5P_DEFAULT);
    hssize_t n = -1;
    if (d >= 0) {
        hid_t s = H5Dget_space(d);
        n = H5Sget_simple_extent_npoints(s);
        H5Sclose(s);
        H5Dclose(d);
    }
    H5Fclose(f);
    return n;
}

static void write_yaml(const char *path, const char *qnt, const char *std, const char *extra)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "run:\n  name: test\nepma:\n  inputs:\n    - %s\n    - %s\n%s", qnt, std, extra ? extra : "");
    fclose(f);
}

/* The sample run.yaml also holds the LA-ICP-MS section; this suite runs the EPMA stage alone, so the LA
 * keys are declared here as opaque nodes and their stage does nothing. */
static const kr_param LA_KEYS[] = {
    {"laicpms.inputs", KR_PT_NODE, NULL, "", 1, 0, NULL, "not run in this suite"},
    {"laicpms.calibrant", KR_PT_NODE, NULL, "", 1, 0, NULL, "not run in this suite"},
    {"laicpms.internal_standard", KR_PT_NODE, NULL, "", 1, 0, NULL, "not run in this suite"},
    {"laicpms.drift", KR_PT_NODE, NULL, "", 1, 0, NULL, "not run in this suite"},
    {"laicpms.blank", KR_PT_NODE, NULL, "", 1, 0, NULL, "not run in this suite"},
};
static const kr_param_table LA_TABLE = {"laicpms", LA_KEYS, sizeof LA_KEYS / sizeof LA_KEYS[0]};
static int la_not_run(const kr_config *cfg, kr_run_ctx *ctx, kr_product *out)
{
    (void)cfg;
    (void)ctx;
    (void)out;
    return KR_OK;
}
static const kr_stage LA_NOT_RUN = {"laicpms", &LA_TABLE, la_not_run};

static void test_sample_run_product(void)
{
    char yaml[1024], out[1024];
    kr_test_source_path(yaml, sizeof yaml, "sample_runs/ce5-glass-beads/run.yaml");
    snprintf(out, sizeof out, "%s/beads.h5", kr_test_tmpdir());
    const kr_stage *st[] = {&kr_epma_stage, &LA_NOT_RUN};
    int rc = kr_run_pipeline(yaml, out, NULL, 0, st, 2, NULL);
    if (rc) kr_err_print(stdout);
    CU_ASSERT_EQUAL_FATAL(rc, KR_OK);
    /* 74 points x (10 measured + O by stoichiometry); 4 beads x (10 oxides + Total) */
    CU_ASSERT_EQUAL(table_rows(out, "/epma/points"), 74 * 11);
    CU_ASSERT_EQUAL(table_rows(out, "/epma/samples"), 4 * 11);

    /* the same run, stage by stage: the per-sample SiO2 reaches the run context */
    kr_config *cfg = NULL;
    kr_run_ctx *ctx = NULL;
    kr_product *prod = NULL;
    const kr_param_table tables[] = {kr_run_params, kr_epma_params, LA_TABLE};
    CU_ASSERT_EQUAL_FATAL(kr_config_load(yaml, tables, 3, NULL, 0, &cfg), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_run_ctx_new(NULL, &ctx), KR_OK);
    char out2[1024];
    snprintf(out2, sizeof out2, "%s/beads2.h5", kr_test_tmpdir());
    CU_ASSERT_EQUAL_FATAL(kr_product_open(out2, &prod), KR_OK);
    rc = kr_epma_run(cfg, ctx, prod);
    if (rc) kr_err_print(stdout);
    CU_ASSERT_EQUAL(rc, KR_OK);
    double v = NAN, sd = NAN;
    CU_ASSERT_TRUE(kr_run_get_sample_value(ctx, "G114", "sio2_wt", &v, &sd));
    CU_ASSERT(v > 30.5 && v < 33.0);
    CU_ASSERT(sd > 0 && sd < 1.5);
    CU_ASSERT_FALSE(kr_run_get_sample_value(ctx, "G114_01", "sio2_wt", &v, &sd));
    CU_ASSERT_EQUAL(kr_run_nfailures(ctx), 0);
    kr_product_abort(prod);
    kr_run_ctx_free(ctx);
    kr_config_free(cfg);
}

static void test_bad_input_leaves_old_product(void)
{
    char qnt[1024], std[1024], bad[1024], yaml[1024], out[1024];
    kr_test_source_path(qnt, sizeof qnt, "sample_runs/ce5-glass-beads/exports/beads_QNT");
    kr_test_source_path(std, sizeof std, "sample_runs/ce5-glass-beads/exports/beads_STD");
    kr_test_source_path(bad, sizeof bad, "tests/bad_inputs/epma/tau_rate_ge_1/beads_QNT");
    snprintf(yaml, sizeof yaml, "%s/run.yaml", kr_test_tmpdir());
    snprintf(out, sizeof out, "%s/old.h5", kr_test_tmpdir());
    const kr_stage *st[] = {&kr_epma_stage};
    write_yaml(yaml, qnt, std, NULL);
    CU_ASSERT_EQUAL_FATAL(kr_run_pipeline(yaml, out, NULL, 0, st, 1, NULL), KR_OK);
    struct stat before, after;
    CU_ASSERT_EQUAL_FATAL(stat(out, &before), 0);
    write_yaml(yaml, bad, std, NULL);
    kr_err_clear();
    int rc = kr_run_pipeline(yaml, out, NULL, 0, st, 1, NULL);
    CU_ASSERT_EQUAL(rc, KR_EINPUT);
    char msg[2048];
    kr_err_format(msg, sizeof msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "data001.qnt:11 (Si Ka)"));
    kr_err_clear();
    CU_ASSERT_EQUAL_FATAL(stat(out, &after), 0);
    CU_ASSERT_EQUAL(before.st_size, after.st_size);
    CU_ASSERT_EQUAL(before.st_mtim.tv_sec, after.st_mtim.tv_sec);
    CU_ASSERT_EQUAL(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
    /* a config error names file:line */
    write_yaml(yaml, qnt, std, "  model: xpq\n");
    rc = kr_run_pipeline(yaml, out, NULL, 0, st, 1, NULL);
    CU_ASSERT_EQUAL(rc, KR_EINPUT);
    kr_err_format(msg, sizeof msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "run.yaml:7"));
    kr_err_clear();
    /* an --set override reaches the stage */
    write_yaml(yaml, qnt, std, NULL);
    char *set[] = {"epma.model=zaf", "epma.sample_id=whole"};
    CU_ASSERT_EQUAL(kr_run_pipeline(yaml, out, set, 2, st, 1, NULL), KR_OK);
    CU_ASSERT_EQUAL(table_rows(out, "/epma/samples"), 74 * 11);
}

int main(void)
{
    static const kr_test_case tests[] = {
        {"sample run -> /epma/points, /epma/samples, SiO2 to the run context", test_sample_run_product},
        {"bad input: no product, old product untouched", test_bad_input_leaves_old_product},
        {NULL, NULL},
    };
    return kr_test_run("epma_stage", tests);
}
