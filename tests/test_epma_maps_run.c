/* Quantitative maps through the run's path: run.yaml (epma.maps.*) -> readers -> quantification ->
 * HDF5 product (/epma/maps/<map>/, /epma/map_regions) and PNGs; bad inputs give clear errors and no
 * product. Also the real JEOL 0.cnd + 7.map (../shared) end to end: its counts land unchanged. */
#include "kr_test.h"

#include "error.h"
#include "map_run.h"
#include "map_synth.h"
#include "product.h"
#include "text.h"

#include <gsl/gsl_rng.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define NX 40
#define NY 30

static void write_text(const char *path, const char *s)
{
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(s, f);
    fclose(f);
}

/* A 40 x 30 Ti map of a uniform glass (TiO2 5 wt%, the rest fixed) as JEOL CSV + .cnd in dir/maps. */
static void make_export(const char *dir, double *tio2_true)
{
    char p[512];
    snprintf(p, sizeof p, "%s/maps", dir);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/maps/t.cnd", dir);
    write_text(p, "$XM_DATA_PROBE_CURRENT 1.000e-007\r\n$XM_EC_ACCEL_VOLT 15.0\r\n$XM_ELEM_NAME%0 Ti\r\n"
                  "$XM_ELEM_WDS_XRAY%0 Ka\r\n$XM_AP_SA_PIXELS%0 40 30\r\n$XM_AP_SA_PIXEL_SIZE%0 0.20 0.20 50.00\r\n"
                  "$XM_AP_SA_DWELL_TIME%0 60.0\r\n$XM_AP_SA_STAGE_POS%0_0 20.0000 18.0000 11.0000\r\n");
    kr_atomic at;
    CU_ASSERT_EQUAL_FATAL(kr_atomic_load(&at), KR_OK);
    kr_epma_setup s;
    kr_epma_setup_init(&s);
    int ti = kr_epma_setup_add(&s, &at, "Ti", KR_EPMA_MEASURED, KR_LINE_KA, 15, 40, "TiO2");
    int si = kr_epma_setup_add(&s, &at, "Si", KR_EPMA_FIXED, KR_LINE_KA, 15, 40, NULL);
    int fe = kr_epma_setup_add(&s, &at, "Fe", KR_EPMA_FIXED, KR_LINE_KA, 15, 40, NULL);
    int o = kr_epma_setup_add(&s, &at, "O", KR_EPMA_STOICH_O, KR_LINE_KA, 15, 40, NULL);
    CU_ASSERT_FATAL(ti >= 0 && si >= 0 && fe >= 0 && o >= 0);
    double wti = at.weight[22], wsi = at.weight[14], wfe = at.weight[26], wo = at.weight[8];
    double c[KR_EPMA_MAX_EL] = {0};
    c[ti] = 0.05 * wti / (wti + 2 * wo);
    c[si] = 0.45 * wsi / (wsi + 2 * wo);
    c[fe] = 0.45 * wfe / (wfe + wo);
    c[o] = 0.05 - c[ti] + 0.45 - c[si] + 0.45 - c[fe];
    s.el[si].fixed_mass_frac = c[si];
    s.el[fe].fixed_mass_frac = c[fe];
    kr_epma_ctx *ctx;
    CU_ASSERT_EQUAL_FATAL(kr_epma_ctx_new(&s, &at, &ctx), KR_OK);
    kr_map_synth_elem se[KR_EPMA_MAX_EL] = {{0}};
    se[ti] = (kr_map_synth_elem){420, 0.4, 1.2};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 11);
    snprintf(p, sizeof p, "%s/maps/t_Ti.csv", dir);
    FILE *f = fopen(p, "wb");
    kr_epma_work w;
    for (int y = 0; y < NY; y++)
        for (int x = 0; x < NX; x++) {
            double k[KR_EPMA_MAX_EL];
            CU_ASSERT_EQUAL(kr_map_synth_pixel(ctx, c, se, 60, 100, rng, &w, k), KR_OK);
            fprintf(f, "%.0f%s", k[ti], x + 1 < NX ? "," : "\r\n");
        }
    fclose(f);
    gsl_rng_free(rng);
    kr_epma_ctx_free(ctx);
    *tio2_true = 5.0;
}

static const char *YAML_FMT =
    "epma:\n"
    "  maps:\n"
    "    threads: 2\n"
    "    inputs:\n"
    "      - name: t1\n"
    "        cnd: maps/t.cnd\n"
    "        fixed: {SiO2: 45.0, FeO: 45.0}\n"
    "        elements:\n"
    "          - {element: Ti, file: %s, dead_time_us: 1.2, standard: TiO2, std_cps_na: 420, background: {cps_na: 0.4}}\n"
    "        regions:\n"
    "          - {name: glass, where: [\"total > 90\"]}\n"
    "          - {name: none, where: [\"TiO2 > 50\"]}\n";

/* run_yaml with this run's standards and points (as the EPMA stage passes its /epma/standards and
 * /epma/points rows) */
static int run_yaml_pts(const char *dir, const char *yaml, const char *h5, const kr_maps_points *pts)
{
    size_t np;
    const kr_param *params = kr_epma_maps_params(&np);
    kr_param_table table = {"epma", params, np};
    char cfgname[512], png[512];
    snprintf(cfgname, sizeof cfgname, "%s/run.yaml", dir);
    snprintf(png, sizeof png, "%s/png", dir);
    kr_config *cfg = NULL;
    int rc = kr_config_load_string(cfgname, yaml, strlen(yaml), &table, 1, NULL, 0, &cfg);
    if (rc) return rc;
    kr_product *prod = NULL;
    if ((rc = kr_product_open(h5, &prod))) goto cleanup;
    rc = kr_epma_maps_run(cfg, kr_config_node(cfg, "epma.maps.inputs"), png, pts, prod);
    if (rc) kr_product_abort(prod);
    else rc = kr_product_commit(prod);
cleanup:
    kr_config_free(cfg);
    return rc;
}

static int run_yaml(const char *dir, const char *yaml, const char *h5) { return run_yaml_pts(dir, yaml, h5, NULL); }

static int run_yaml_stds(const char *dir, const char *yaml, const char *h5, const kr_epma_std_row *stds, size_t nstds)
{
    kr_maps_points pts = {NULL, 0, stds, nstds, NULL, 0};
    return run_yaml_pts(dir, yaml, h5, &pts);
}

static void test_run_product(void)
{
    const char *dir = kr_test_tmpdir();
    double tio2;
    make_export(dir, &tio2);
    char yaml[2048], h5[512];
    snprintf(yaml, sizeof yaml, YAML_FMT, "maps/t_Ti.csv");
    snprintf(h5, sizeof h5, "%s/out.h5", dir);
    int rc = run_yaml(dir, yaml, h5);
    if (rc) kr_err_print(stdout);
    CU_ASSERT_EQUAL_FATAL(rc, KR_OK);
    hid_t f = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    static const char *const sigs[] = {"Ti_counts", "Ti_wt", "TiO2_wt", "Ti_sigma_wt", "total_wt", "x_um", "y_um"};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        char p[128];
        snprintf(p, sizeof p, "/epma/maps/t1/%s", sigs[i]);
        CU_ASSERT(H5Lexists(f, p, H5P_DEFAULT) > 0);
    }
    double *v = malloc(sizeof(double) * NX * NY), x[NX];
    CU_ASSERT_FATAL(H5LTread_dataset_double(f, "/epma/maps/t1/TiO2_wt", v) >= 0);
    double mean = 0;
    for (int i = 0; i < NX * NY; i++) mean += v[i];
    mean /= NX * NY;
    CU_ASSERT_FATAL(H5LTread_dataset_double(f, "/epma/maps/t1/Ti_sigma_wt", v) >= 0);
    double sig = v[0] * 1.668; /* TiO2/Ti mass ratio, roughly: the check below is loose on purpose */
    printf("\n    run product: TiO2 mean %.4f wt%% (true %.1f), pixel sigma ~%.3f\n", mean, tio2, sig);
    CU_ASSERT(fabs(mean - tio2) < 5 * sig / sqrt(NX * NY));
    CU_ASSERT_FATAL(H5LTread_dataset_double(f, "/epma/maps/t1/x_um", x) >= 0);
    CU_ASSERT_DOUBLE_EQUAL(x[1] - x[0], 0.20, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(0.5 * (x[0] + x[NX - 1]), 20000.0, 1e-6); /* centred on the stage position */
    double dwell;
    CU_ASSERT(H5LTget_attribute_double(f, "/epma/maps/t1", "dwell_ms", &dwell) >= 0);
    CU_ASSERT_DOUBLE_EQUAL(dwell, 60.0, 0);
    CU_ASSERT(H5Aexists_by_name(f, "/epma/maps/t1", "NX_class", H5P_DEFAULT) > 0);
    hsize_t nrec = 0;
    hid_t d = H5Dopen2(f, "/epma/map_regions", H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    hid_t sp = H5Dget_space(d);
    H5Sget_simple_extent_dims(sp, &nrec, NULL);
    CU_ASSERT_EQUAL(nrec, 6); /* 2 regions x (TiO2, O, total) */
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    free(v);
    char p[512];
    snprintf(p, sizeof p, "%s/png/t1_TiO2_wt.png", dir);
    CU_ASSERT_EQUAL(access(p, R_OK), 0);
    snprintf(p, sizeof p, "%s/png/t1_glass_mask.png", dir);
    CU_ASSERT_EQUAL(access(p, R_OK), 0);
    /* xarray reads the group with coordinates (when some python3 on PATH, or Debian's, has xarray) */
    char cmd[1400];
    snprintf(cmd, sizeof cmd,
             "for py in python3 /usr/bin/python3; do $py -c 'import xarray' 2>/dev/null || continue; "
             "$py -c \"import xarray as xr; "
             "d = xr.open_dataset('%s', group='epma/maps/t1'); "
             "assert d['TiO2_wt'].dims == ('y_um', 'x_um'), d['TiO2_wt'].dims; "
             "assert abs(float(d['x_um'][1] - d['x_um'][0]) - 0.2) < 1e-9; print('    xarray: ok')\"; exit $?; done; "
             "echo '    xarray: not installed, skipped'",
             h5);
    CU_ASSERT_EQUAL(system(cmd), 0);
}

/* std_cps_na: session - the map takes the run's standard measured at its kV (Rutile at 15 kV, not the 25 kV
 * one) and gives what the same intensity and standard written in the config give. */
static void test_session_standard(void)
{
    const char *dir = kr_test_tmpdir();
    double tio2;
    make_export(dir, &tio2);
    kr_epma_std_row stds[2];
    memset(stds, 0, sizeof stds);
    for (int k = 0; k < 2; k++) {
        snprintf(stds[k].standard, sizeof stds[k].standard, "Rutile");
        snprintf(stds[k].element, sizeof stds[k].element, "Ti");
        snprintf(stds[k].xray_line, sizeof stds[k].xray_line, "Ka");
        snprintf(stds[k].formula, sizeof stds[k].formula, "TiO2");
        stds[k].n_measurements = 1;
    }
    stds[0].kv = 25.0;
    stds[0].net_cps_na = 610.0;
    stds[1].kv = 15.0;
    stds[1].net_cps_na = 420.0; /* the intensity make_export's forward model used */
    char cfg_yaml[2048], sess_yaml[2048], h5a[512], h5b[512];
    snprintf(cfg_yaml, sizeof cfg_yaml, YAML_FMT, "maps/t_Ti.csv");
    snprintf(sess_yaml, sizeof sess_yaml, "%s", cfg_yaml);
    char *at = strstr(sess_yaml, "standard: TiO2, std_cps_na: 420");
    CU_ASSERT_PTR_NOT_NULL_FATAL(at);
    const char *repl = "standard: Rutile, std_cps_na: session";
    char tail[1024];
    snprintf(tail, sizeof tail, "%s", at + strlen("standard: TiO2, std_cps_na: 420"));
    snprintf(at, sizeof sess_yaml - (size_t)(at - sess_yaml), "%s%s", repl, tail);
    snprintf(h5a, sizeof h5a, "%s/cfg.h5", dir);
    snprintf(h5b, sizeof h5b, "%s/sess.h5", dir);
    int rc = run_yaml(dir, cfg_yaml, h5a);
    if (!rc) rc = run_yaml_stds(dir, sess_yaml, h5b, stds, 2);
    if (rc) kr_err_print(stdout);
    CU_ASSERT_EQUAL_FATAL(rc, KR_OK);
    double *a = malloc(sizeof(double) * NX * NY), *b = malloc(sizeof(double) * NX * NY), std_b = NAN;
    hid_t fa = H5Fopen(h5a, H5F_ACC_RDONLY, H5P_DEFAULT), fb = H5Fopen(h5b, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT(H5LTread_dataset_double(fa, "/epma/maps/t1/TiO2_wt", a) >= 0);
    CU_ASSERT(H5LTread_dataset_double(fb, "/epma/maps/t1/TiO2_wt", b) >= 0);
    CU_ASSERT(H5LTget_attribute_double(fb, "/epma/maps/t1/Ti_counts", "std_cps_na", &std_b) >= 0);
    char *what = NULL; /* a variable-length UTF-8 string attribute */
    hid_t an = H5Aopen_by_name(fb, "/epma/maps/t1/Ti_counts", "standard", H5P_DEFAULT, H5P_DEFAULT);
    hid_t vt = H5Tcopy(H5T_C_S1);
    H5Tset_size(vt, H5T_VARIABLE);
    H5Tset_cset(vt, H5T_CSET_UTF8);
    CU_ASSERT(an >= 0 && H5Aread(an, vt, &what) >= 0);
    CU_ASSERT_PTR_NOT_NULL(what && strstr(what, "Rutile") ? what : NULL);
    if (what) H5free_memory(what);
    H5Tclose(vt);
    if (an >= 0) H5Aclose(an);
    H5Fclose(fa);
    H5Fclose(fb);
    CU_ASSERT_EQUAL(std_b, 420.0);
    for (int q = 0; q < NX * NY; q++) CU_ASSERT_EQUAL(a[q], b[q]);
    free(a);
    free(b);
    /* only the 25 kV standard in this run: an error naming the map, element and energy; no product */
    kr_err_clear();
    CU_ASSERT_NOT_EQUAL(run_yaml_stds(dir, sess_yaml, h5b, stds, 1), KR_OK);
    char msg[2048];
    kr_err_format(msg, sizeof msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "element Ti: std_cps_na: session, but this run measured no standard Rutile of Ti Ka at 15 kV"));
    kr_err_clear();
}

/* spots_from_points: the run's point analyses whose stage positions fall inside the map calibrate its
 * background as the same spots written in the config do; points outside or failed are left out. */
static void test_spots_from_points(void)
{
    const char *dir = kr_test_tmpdir();
    double tio2;
    make_export(dir, &tio2);
    kr_atomic at;
    CU_ASSERT_EQUAL_FATAL(kr_atomic_load(&at), KR_OK);
    double wo = at.weight[8];
    const double ti_pct = 5.0 * at.weight[22] / (at.weight[22] + 2 * wo), si_pct = 45.0 * at.weight[14] / (at.weight[14] + 2 * wo),
                 fe_pct = 45.0 * at.weight[26] / (at.weight[26] + wo);
    /* stage centre 20.000, 18.000 mm, 40 x 30 px of 0.2 um: pixel i at x = 19996.1 + 0.2 i um, y = 17997.1 + 0.2 j um */
    static const char *const labels[4] = {"P1", "P2", "P_out", "P_failed"};
    const double xmm[4] = {19.9981, 20.0021, 20.0300, 20.0001}, ymm[4] = {17.9995, 18.0011, 18.0000, 18.0001};
    const char *els[3] = {"Ti", "Si", "Fe"};
    const double pct[3] = {ti_pct, si_pct, fe_pct};
    kr_epma_point_row rows[12];
    memset(rows, 0, sizeof rows);
    for (int q = 0; q < 4; q++)
        for (int e = 0; e < 3; e++) {
            kr_epma_point_row *r = &rows[3 * q + e];
            snprintf(r->point, sizeof r->point, "%s", labels[q]);
            snprintf(r->element, sizeof r->element, "%s", els[e]);
            r->mass_pct = pct[e];
            r->x_mm = xmm[q];
            r->y_mm = ymm[q];
            r->flags = q == 3 ? 16 : 0;
        }
    char wt[200], cfg_spots[600], yaml_a[2600], yaml_b[2600], h5a[512], h5b[512];
    snprintf(wt, sizeof wt, "{Ti: %.17g, Si: %.17g, Fe: %.17g}", ti_pct, si_pct, fe_pct);
    snprintf(cfg_spots, sizeof cfg_spots,
             "        spots:\n          - {x_px: 10, y_px: 12, radius_px: 2, wt: %s}\n"
             "          - {x_px: 30, y_px: 20, radius_px: 2, wt: %s}\n", wt, wt);
    const char *fmt = "epma:\n  maps:\n    png: false\n    inputs:\n      - name: t1\n        cnd: maps/t.cnd\n"
                      "        fixed: {SiO2: 45.0, FeO: 45.0}\n        elements:\n"
                      "          - {element: Ti, file: maps/t_Ti.csv, dead_time_us: 1.2, standard: TiO2, std_cps_na: 420, "
                      "background: {calibration: intercept}}\n%s";
    snprintf(yaml_a, sizeof yaml_a, fmt, cfg_spots);
    snprintf(yaml_b, sizeof yaml_b, fmt, "        spots_from_points: {radius_px: 2}\n");
    snprintf(h5a, sizeof h5a, "%s/spots_cfg.h5", dir);
    snprintf(h5b, sizeof h5b, "%s/spots_pts.h5", dir);
    kr_maps_points pts = {NULL, 0, NULL, 0, rows, 12};
    int rc = run_yaml(dir, yaml_a, h5a);
    if (!rc) rc = run_yaml_pts(dir, yaml_b, h5b, &pts);
    if (rc) kr_err_print(stdout);
    CU_ASSERT_EQUAL_FATAL(rc, KR_OK);
    double *a = malloc(sizeof(double) * NX * NY), *b = malloc(sizeof(double) * NX * NY);
    hid_t fa = H5Fopen(h5a, H5F_ACC_RDONLY, H5P_DEFAULT), fb = H5Fopen(h5b, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT(H5LTread_dataset_double(fa, "/epma/maps/t1/TiO2_wt", a) >= 0);
    CU_ASSERT(H5LTread_dataset_double(fb, "/epma/maps/t1/TiO2_wt", b) >= 0);
    H5Fclose(fa);
    H5Fclose(fb);
    double mean = 0;
    for (int q = 0; q < NX * NY; q++) {
        KR_ASSERT_REL(b[q], a[q], 1e-6); /* float32 maps of the same calibration */
        mean += b[q] / (NX * NY);
    }
    printf("\n    spots from points: mean TiO2 %.3f wt%% (true %.1f)\n", mean, tio2);
    free(a);
    free(b);
    /* no point inside the map: an error, no product */
    pts.npoints = 9; /* P1, P2, P_out... */
    for (int k = 0; k < 6; k++) rows[k].x_mm = 21.0;
    kr_err_clear();
    CU_ASSERT_NOT_EQUAL(run_yaml_pts(dir, yaml_b, h5b, &pts), KR_OK);
    char msg[2048];
    kr_err_format(msg, sizeof msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "spots_from_points: no point analysis of this run lies inside the map"));
    kr_err_clear();
}

static void expect_fail(const char *dir, const char *file, const char *needle)
{
    char yaml[2048], h5[512];
    snprintf(yaml, sizeof yaml, YAML_FMT, file);
    snprintf(h5, sizeof h5, "%s/bad.h5", dir);
    kr_err_clear();
    int rc = run_yaml(dir, yaml, h5);
    CU_ASSERT_NOT_EQUAL(rc, KR_OK);
    char msg[2048];
    kr_err_format(msg, sizeof msg);
    int found = strstr(msg, needle) != NULL;
    if (!found) printf("\n    expected \"%s\" in: %s\n", needle, msg);
    CU_ASSERT(found);
    CU_ASSERT_NOT_EQUAL(access(h5, F_OK), 0); /* no partial product */
    kr_err_clear();
}

/* A map of fewer rows than a band (3 x 7 px): its one chunk is the whole map; counts read back as written
 * and every pixel quantified. */
static void test_tiny_map(void)
{
    char dir[600], p[700], yaml[2048], h5[700];
    snprintf(dir, sizeof dir, "%s/tiny", kr_test_tmpdir());
    mkdir(dir, 0777);
    snprintf(p, sizeof p, "%s/maps", dir);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/maps/t.cnd", dir);
    write_text(p, "$XM_DATA_PROBE_CURRENT 1.000e-007\r\n$XM_EC_ACCEL_VOLT 15.0\r\n$XM_ELEM_NAME%0 Ti\r\n"
                  "$XM_ELEM_WDS_XRAY%0 Ka\r\n$XM_AP_SA_PIXELS%0 7 3\r\n$XM_AP_SA_PIXEL_SIZE%0 0.20 0.20 50.00\r\n"
                  "$XM_AP_SA_DWELL_TIME%0 60.0\r\n");
    snprintf(p, sizeof p, "%s/maps/t_Ti.csv", dir);
    char csv[512] = "";
    for (int y = 0; y < 3; y++)
        for (int x = 0; x < 7; x++)
            snprintf(csv + strlen(csv), sizeof csv - strlen(csv), "%d%s", 1200 + 10 * y + x, x < 6 ? "," : "\r\n");
    write_text(p, csv);
    snprintf(yaml, sizeof yaml, YAML_FMT, "maps/t_Ti.csv");
    snprintf(h5, sizeof h5, "%s/out.h5", dir);
    int rc = run_yaml(dir, yaml, h5);
    if (rc) kr_err_print(stdout);
    CU_ASSERT_EQUAL_FATAL(rc, KR_OK);
    hid_t f = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    double cnt[21], tio2[21];
    CU_ASSERT(H5LTread_dataset_double(f, "/epma/maps/t1/Ti_counts", cnt) >= 0);
    CU_ASSERT(H5LTread_dataset_double(f, "/epma/maps/t1/TiO2_wt", tio2) >= 0);
    H5Fclose(f);
    for (int q = 0; q < 21; q++) {
        CU_ASSERT_EQUAL(cnt[q], 1200 + 10 * (q / 7) + q % 7);
        CU_ASSERT(isfinite(tio2[q]) && tio2[q] > 0);
    }
}

static void test_bad_inputs(void)
{
    const char *dir = kr_test_tmpdir();
    double tio2;
    make_export(dir, &tio2);
    char p[512];
    /* pixel count mismatch: a CSV with 29 rows */
    snprintf(p, sizeof p, "%s/maps/short.csv", dir);
    FILE *f = fopen(p, "wb");
    for (int y = 0; y < NY - 1; y++)
        for (int x = 0; x < NX; x++) fprintf(f, "100%s", x + 1 < NX ? "," : "\n");
    fclose(f);
    expect_fail(dir, "maps/short.csv", "short.csv");
    /* NaN in a CSV: names file and line */
    snprintf(p, sizeof p, "%s/maps/nan.csv", dir);
    f = fopen(p, "wb");
    for (int y = 0; y < NY; y++)
        for (int x = 0; x < NX; x++) fprintf(f, "%s%s", y == 7 && x == 3 ? "NaN" : "100", x + 1 < NX ? "," : "\n");
    fclose(f);
    expect_fail(dir, "maps/nan.csv", "nan.csv:8:");
    /* truncated binary */
    snprintf(p, sizeof p, "%s/maps/trunc.map", dir);
    f = fopen(p, "wb");
    for (int i = 0; i < NX * NY * 2 - 3; i++) fputc(1, f);
    fclose(f);
    expect_fail(dir, "maps/trunc.map", "trunc.map");
    /* missing element map */
    expect_fail(dir, "maps/absent.csv", "absent.csv");
    /* an unknown key in a map entry: named with its file and line */
    char yaml[2048], h5[512];
    snprintf(yaml, sizeof yaml, YAML_FMT, "maps/t_Ti.csv");
    char *at = strstr(yaml, "        fixed:");
    memcpy(at, "        fixd: ", 14);
    snprintf(h5, sizeof h5, "%s/bad.h5", dir);
    kr_err_clear();
    CU_ASSERT_NOT_EQUAL(run_yaml(dir, yaml, h5), KR_OK);
    char msg[2048];
    kr_err_format(msg, sizeof msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "run.yaml:7"));
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "fixd"));
    CU_ASSERT_NOT_EQUAL(access(h5, F_OK), 0);
    kr_err_clear();
}

/* The real JXA-8800 export: 0.cnd (Shift-JIS) + 7.map (Si, 920 x 1000, 16-bit big-endian). */
static void test_real_jeol(void)
{
    char cnd[4096], map[4096];
    if (!kr_test_shared_path(cnd, sizeof cnd, "data/epma/jeol_cnd/0.cnd", "real 0.cnd")) return;
    if (!kr_test_shared_path(map, sizeof map, "data/epma/jeol_cnd/7.map", "real 7.map")) return;
    const char *dir = kr_test_tmpdir();
    char yaml[10240], h5[512];
    snprintf(yaml, sizeof yaml,
             "epma:\n  maps:\n    png: false\n    inputs:\n      - name: real\n        cnd: %s\n        fixed: {MgO: 40, FeO: 10}\n"
             "        elements:\n          - {element: Si, file: %s, dead_time_us: 0, standard: SiO2, std_cps_na: 50,"
             " background: {cps_na: 0.1}}\n",
             cnd, map);
    snprintf(h5, sizeof h5, "%s/real.h5", dir);
    int rc = run_yaml(dir, yaml, h5);
    if (rc) kr_err_print(stdout);
    CU_ASSERT_EQUAL_FATAL(rc, KR_OK);
    hid_t f = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    double *v = malloc(sizeof(double) * 920 * 1000);
    CU_ASSERT_FATAL(H5LTread_dataset_double(f, "/epma/maps/real/Si_counts", v) >= 0);
    double mx = 0, sum = 0;
    for (int i = 0; i < 920 * 1000; i++) {
        mx = v[i] > mx ? v[i] : mx;
        sum += v[i];
    }
    CU_ASSERT_DOUBLE_EQUAL(mx, 1005, 0); /* "Max Value" of channel 7 (Si) in 0.cnd */
    CU_ASSERT_EQUAL((long)floor(sum / (920.0 * 1000.0)), 182); /* its "Ave Value" */
    double cur;
    CU_ASSERT(H5LTget_attribute_double(f, "/epma/maps/real", "current_na", &cur) >= 0);
    CU_ASSERT_DOUBLE_EQUAL(cur, 198.8, 1e-9);
    H5Fclose(f);
    free(v);
}

static int read_raw(const char *path, void *buf, size_t n)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t got = fread(buf, 1, n, f);
    fclose(f);
    return got == n ? 0 : -1;
}

/* The sample run's 425 x 400 bead map (scripts/synth-maps, seed 3) against its known truth. */
static void test_sample_run_map(void)
{
    char dir[1024], frag_path[1200], truth_path[1200], phase_path[1200];
    kr_test_source_path(dir, sizeof dir, "sample_runs/ce5-glass-beads");
    snprintf(frag_path, sizeof frag_path, "%s/maps/G107.maps.yaml", dir);
    snprintf(truth_path, sizeof truth_path, "%s/maps/truth_TiO2_wt.f32", dir);
    snprintf(phase_path, sizeof phase_path, "%s/maps/truth_phase.u8", dir);
    if (access(frag_path, R_OK) != 0) {
        printf("\nSKIP: %s is absent\n", frag_path);
        return;
    }
    kr_text frag;
    CU_ASSERT_EQUAL_FATAL(kr_text_read(frag_path, &frag), KR_OK);
    size_t cap = frag.len * 2 + 256, n = 0;
    char *yaml = malloc(cap);
    n += (size_t)snprintf(yaml, cap, "epma:\n  maps:\n    png: false\n    inputs:\n");
    for (const char *p = frag.data; *p;) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        n += (size_t)snprintf(yaml + n, cap - n, "      %.*s\n", (int)l, p);
        p += l + (e ? 1 : 0);
    }
    kr_text_free(&frag);
    size_t np;
    const kr_param *params = kr_epma_maps_params(&np);
    kr_param_table table = {"epma", params, np};
    char cfgname[1200], h5[512];
    snprintf(cfgname, sizeof cfgname, "%s/run.yaml", dir);
    snprintf(h5, sizeof h5, "%s/sample.h5", kr_test_tmpdir());
    kr_config *cfg = NULL;
    kr_product *prod = NULL;
    int rc = kr_config_load_string(cfgname, yaml, n, &table, 1, NULL, 0, &cfg);
    if (!rc) rc = kr_product_open(h5, &prod);
    if (!rc) {
        rc = kr_epma_maps_run(cfg, kr_config_node(cfg, "epma.maps.inputs"), NULL, NULL, prod);
        rc = rc ? (kr_product_abort(prod), rc) : kr_product_commit(prod);
    }
    if (rc) kr_err_print(stdout);
    kr_config_free(cfg);
    free(yaml);
    CU_ASSERT_EQUAL_FATAL(rc, KR_OK);
    size_t npx = 425 * 400;
    float *truth = malloc(sizeof(float) * npx);
    unsigned char *phase = malloc(npx);
    double *tio2 = malloc(sizeof(double) * npx), *sig = malloc(sizeof(double) * npx), *cnt = malloc(sizeof(double) * npx);
    CU_ASSERT_EQUAL_FATAL(read_raw(truth_path, truth, sizeof(float) * npx), 0);
    CU_ASSERT_EQUAL_FATAL(read_raw(phase_path, phase, npx), 0);
    hid_t f = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    double factor = NAN;
    CU_ASSERT_FATAL(H5LTread_dataset_double(f, "/epma/maps/G107/TiO2_wt", tio2) >= 0);
    CU_ASSERT_FATAL(H5LTread_dataset_double(f, "/epma/maps/G107/Ti_sigma_wt", sig) >= 0);
    CU_ASSERT_FATAL(H5LTread_dataset_double(f, "/epma/maps/G107/Ti_counts", cnt) >= 0);
    CU_ASSERT(H5LTget_attribute_double(f, "/epma/maps/G107/TiO2_wt", "oxide_per_element", &factor) >= 0);
    H5Fclose(f);
    double sz = 0, szz = 0, bias = 0;
    size_t ng = 0, w1 = 0, w2 = 0, w3 = 0;
    for (size_t p = 0; p < npx; p++) {
        if (phase[p] != 1) continue; /* the glass: truth defined */
        double z = (tio2[p] - truth[p]) / (sig[p] * factor);
        sz += z;
        szz += z * z;
        bias += -0.5 / sqrt(cnt[p]);
        w1 += fabs(z) < 1;
        w2 += fabs(z) < 2;
        w3 += fabs(z) < 3;
        ng++;
    }
    double mz = sz / (double)ng, sdz = sqrt(szz / (double)ng - mz * mz);
    bias /= (double)ng;
    printf("\n    sample run G107 map, %zu glass pixels: (TiO2 found - true)/sigma mean %.4f (expected %.4f from "
           "sigma on observed counts), sd %.4f; |z|<1 %.4f, <2 %.4f, <3 %.4f (normal: 0.6827, 0.9545, 0.9973)\n",
           ng, mz, bias, sdz, (double)w1 / (double)ng, (double)w2 / (double)ng, (double)w3 / (double)ng);
    CU_ASSERT(fabs(mz - bias) < 0.01);
    CU_ASSERT(fabs(sdz - 1) < 0.03);
    free(truth);
    free(phase);
    free(tio2);
    free(sig);
    free(cnt);
}

int main(void)
{
    static const kr_test_case tests[] = {
        {"run.yaml -> product and PNGs", test_run_product},
        {"bad map inputs: clear errors, no product", test_bad_inputs},
        {"a map of fewer rows than a band", test_tiny_map},
        {"std_cps_na: session takes the run's standard at the map's kV", test_session_standard},
        {"spots_from_points: the run's points inside the map calibrate it", test_spots_from_points},
        {"real JEOL 0.cnd + 7.map end to end", test_real_jeol},
        {"sample run G107 map vs truth", test_sample_run_map},
        {NULL, NULL},
    };
    return kr_test_run("epma_maps_run", tests);
}
