/* Pb-Pb numerics (stages/sims/pbpb.c, stats.c) against published numbers: IsoplotR on its own example
 * data (DOMAIN.md 4.2.8), York et al. 2004 on Pearson's data with York's weights (DOMAIN.md 4.2.7) and
 * the age test vectors of DOMAIN.md 4.2.5. */
#include "error.h"
#include "kr_test.h"
#include "pbpb.h"
#include "ratio_io.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static kr_pbpb_consts consts(void)
{
    kr_pbpb_consts c;
    int rc = kr_pbpb_consts_load(&c, NULL);
    if (rc) kr_err_print(stderr);
    CU_ASSERT_EQUAL_FATAL(rc, KR_OK);
    return c;
}

/* DOMAIN.md 4.2.5: 2807 Ma <-> 0.19775234, 4203 Ma <-> 0.48743864 (U = 137.818, Jaffey). */
static void test_age_vectors(void)
{
    kr_pbpb_consts c = consts();
    KR_ASSERT_REL(kr_pbpb_ratio(&c, 2807.0), 0.19775234, 1e-7);
    KR_ASSERT_REL(kr_pbpb_ratio(&c, 4203.0), 0.48743864, 1e-7);
    kr_pbpb_age a;
    CU_ASSERT_EQUAL_FATAL(kr_pbpb_age_solve(&c, 0.19775234, 0, &a), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(a.t_ma, 2807.0, 1e-3); /* 8 digits of r* pin the age to ~1e-3 Ma */
    CU_ASSERT_EQUAL_FATAL(kr_pbpb_age_solve(&c, 0.48743864, 0, &a), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(a.t_ma, 4203.0, 1e-3);
    /* r* = 0.19788 +- 0.1 % -> 2808.055 Ma, sigma_int 1.6348, sigma_ext 3.8316 */
    CU_ASSERT_EQUAL_FATAL(kr_pbpb_age_solve(&c, 0.19788, 0.19788e-3, &a), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(a.t_ma, 2808.055, 1e-3);
    CU_ASSERT_DOUBLE_EQUAL(a.st_int_ma, 1.6348, 1e-4);
    CU_ASSERT_DOUBLE_EQUAL(a.st_ext_ma, 3.8316, 1e-4);
    /* round trip at many ages to Newton precision */
    for (double t = 1.0; t < 4600; t += 97.3) {
        CU_ASSERT_EQUAL_FATAL(kr_pbpb_age_solve(&c, kr_pbpb_ratio(&c, t), 0, &a), KR_OK);
        CU_ASSERT_DOUBLE_EQUAL(a.t_ma, t, 1e-8);
    }
    /* zero-age limit lambda235/(lambda238 U) = 0.0460662 */
    CU_ASSERT_DOUBLE_EQUAL(kr_pbpb_ratio_limit(&c), 0.0460662, 1e-7);
    CU_ASSERT_EQUAL(kr_pbpb_age_solve(&c, 0.046, 0.001, &a), KR_ENUMERIC);
    CU_ASSERT(kr_err_count() > 0);
    kr_err_clear();
}

/* York et al. 2004, Table: Pearson's data with York's weights (DOMAIN.md 4.2.7). */
static void test_york_pearson(void)
{
    const double x[] = {0.0, 0.9, 1.8, 2.6, 3.3, 4.4, 5.2, 6.1, 6.5, 7.4};
    const double wx[] = {1000, 1000, 500, 800, 200, 80, 60, 20, 1.8, 1};
    const double y[] = {5.9, 5.4, 4.4, 4.6, 3.5, 3.7, 2.8, 2.8, 2.4, 1.5};
    const double wy[] = {1, 1.8, 4, 8, 20, 20, 70, 70, 100, 500};
    double sx[10], sy[10], r[10];
    for (int i = 0; i < 10; i++) {
        sx[i] = 1 / sqrt(wx[i]);
        sy[i] = 1 / sqrt(wy[i]);
        r[i] = 0;
    }
    kr_york_result f;
    CU_ASSERT_EQUAL_FATAL(kr_york(x, sx, y, sy, r, 10, &f), KR_OK);
    printf("\n  York/Pearson: a = %.8f +- %.8f, b = %.8f +- %.8f, MSWD %.6f\n", f.a, f.sa, f.b, f.sb, f.mswd);
    KR_ASSERT_REL(f.a, 5.4799102, 1e-6);
    KR_ASSERT_REL(f.sa, 0.2949707, 1e-6);
    KR_ASSERT_REL(f.b, -0.4805334, 1e-6);
    KR_ASSERT_REL(f.sb, 0.0579850, 1e-6);
    KR_ASSERT_REL(f.mswd, 1.48329, 1e-5); /* published to 6 digits */
    CU_ASSERT_EQUAL(f.df, 8);
}

/* IsoplotR on inst/PbPb1.csv: inverse isochron, model 1 (DOMAIN.md 4.2.8). */
static void test_isoplotr_pbpb1(void)
{
    char buf[4096];
    const char *p = kr_test_shared_path(buf, sizeof buf, "data/sims/isoplotr/PbPb1.csv", "isoplotr_pbpb1");
    if (!p) return;
    kr_pbpb_consts c = consts();
    kr_pbpb_data raw, d;
    CU_ASSERT_EQUAL_FATAL(kr_pbpb_data_read(p, &raw), KR_OK);
    CU_ASSERT_EQUAL(raw.form, KR_ISO_NORMAL);
    CU_ASSERT_EQUAL(raw.n, 18);
    CU_ASSERT_EQUAL_FATAL(kr_pbpb_data_to_form(&raw, KR_ISO_INVERSE, &d), KR_OK);
    kr_pbpb_isochron iso;
    CU_ASSERT_EQUAL_FATAL(kr_pbpb_isochron_fit(&c, KR_ISO_INVERSE, d.x, d.sx, d.y, d.sy, d.rxy, d.n, &iso), KR_OK);
    printf("\n  PbPb1 inverse: r* = %.10f +- %.6g, slope %.9f, age %.6f +- %.6f Ma (ext %.6f), MSWD %.6f\n", iso.rstar,
           iso.srstar, iso.fit.b, iso.age.t_ma, iso.age.st_int_ma, iso.age.st_ext_ma, iso.fit.mswd);
    KR_ASSERT_REL(iso.rstar, 0.6246175362, 1e-6);
    KR_ASSERT_REL(iso.srstar, 3.26e-5, 1e-2); /* published to 3 digits */
    KR_ASSERT_REL(iso.fit.b, 4.233896976, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(iso.age.t_ma, 4565.682649, 1e-4);
    CU_ASSERT_DOUBLE_EQUAL(iso.age.st_int_ma, 0.075623, 1e-6);
    KR_ASSERT_REL(iso.fit.mswd, 302.069, 1e-6);
    /* normal form on the same data: slope = r*; York is not invariant under the inversion, so the
     * two forms agree only approximately */
    kr_pbpb_isochron nrm;
    CU_ASSERT_EQUAL_FATAL(kr_pbpb_isochron_fit(&c, KR_ISO_NORMAL, raw.x, raw.sx, raw.y, raw.sy, raw.rxy, raw.n, &nrm),
                          KR_OK);
    printf("  PbPb1 normal: r* = %.10f, age %.4f Ma, MSWD %.4f\n", nrm.rstar, nrm.age.t_ma, nrm.fit.mswd);
    CU_ASSERT_DOUBLE_EQUAL(nrm.age.t_ma, iso.age.t_ma, 5 * iso.st_inflated_ma);
    kr_pbpb_data_free(&raw);
    kr_pbpb_data_free(&d);
}

/* IsoplotR on inst/LudwigMean.csv: weighted mean with outlier detection (DOMAIN.md 4.2.8). */
static void test_isoplotr_ludwig_mean(void)
{
    char buf[4096];
    const char *p = kr_test_shared_path(buf, sizeof buf, "data/sims/isoplotr/LudwigMean.csv", "ludwig_mean");
    if (!p) return;
    double *x, *sx;
    long *line;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(kr_value_sigma_read(p, &x, &sx, &line, &n), KR_OK);
    CU_ASSERT_EQUAL(n, 28);
    unsigned char valid[28];
    kr_wmean_result r;
    CU_ASSERT_EQUAL_FATAL(kr_wmean(x, sx, n, 1, valid, &r), KR_OK);
    printf("\n  LudwigMean: %.7f +- %.7f, MSWD %.6f, p %.4f, kept %zu of %zu\n", r.mean, r.err, r.mswd, r.p, r.n_used,
           r.n);
    KR_ASSERT_REL(r.mean, 250.1505676, 1e-6);
    KR_ASSERT_REL(r.err, 0.3378715, 1e-6);
    KR_ASSERT_REL(r.mswd, 1.045295, 1e-6);
    CU_ASSERT_EQUAL(r.n_used, 27);
    CU_ASSERT_EQUAL(valid[3], 0); /* 245.4 +- 1.5 (row 4), the only value rejected */
    for (size_t i = 0; i < n; i++) CU_ASSERT_EQUAL(valid[i], i != 3);
    free(x);
    free(sx);
    free(line);
}

/* Hand algebra for the weighted mean and the common-Pb correction. */
static void test_small_cases(void)
{
    const double x[] = {10, 12}, sx[] = {1, 1};
    kr_wmean_result r;
    CU_ASSERT_EQUAL_FATAL(kr_wmean(x, sx, 2, 0, NULL, &r), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(r.mean, 11, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.err, sqrt(0.5), 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(r.mswd, 2.0, 1e-12);
    /* r* = (Y - c74 X)/(1 - c64 X) */
    kr_pbpb_corr cc;
    CU_ASSERT_EQUAL_FATAL(kr_pbpb_correct(0.01, 0, 0.3, 0, 0, 10, 12, &cc), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(cc.rstar, (0.3 - 0.12) / 0.9, 1e-14);
    CU_ASSERT_DOUBLE_EQUAL(cc.f206, 0.1, 1e-14);
    CU_ASSERT_EQUAL(kr_pbpb_correct(0.2, 0, 0.3, 0, 0, 10, 12, &cc), KR_ENUMERIC);
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_wmean(x, (const double[]){1, 0}, 2, 0, NULL, &r), KR_EINPUT);
    kr_err_clear();
}

/* Stacey & Kramers 1975: today's model Pb (t = 0) is a1 + mu2 (e^{l238 3.7 Ga} - 1) = 18.70 (their
 * Table 1, present-day 206/204 18.700, 207/204 15.628); at 3.7 Ga it is the stage-2 start values. */
static void test_stacey_kramers(void)
{
    kr_pbpb_consts c = consts();
    kr_sk_model m;
    CU_ASSERT_EQUAL_FATAL(kr_sk_load(&m), KR_OK);
    double a, b, d;
    kr_sk_at(&m, &c, 0.0, &a, &b, &d);
    printf("\n  SK(0): 206/204 %.4f 207/204 %.4f 208/204 %.4f\n", a, b, d);
    CU_ASSERT_DOUBLE_EQUAL(a, 18.700, 0.01);
    CU_ASSERT_DOUBLE_EQUAL(b, 15.628, 0.01);
    kr_sk_at(&m, &c, 3699.999999, &a, &b, &d);
    CU_ASSERT_DOUBLE_EQUAL(a, 11.152, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(b, 12.998, 1e-6);
}

int main(void)
{
    const kr_test_case tests[] = {{"age test vectors (DOMAIN 4.2.5)", test_age_vectors},
                                  {"York 2004 Pearson/York data", test_york_pearson},
                                  {"IsoplotR PbPb1 inverse isochron", test_isoplotr_pbpb1},
                                  {"IsoplotR LudwigMean weighted mean", test_isoplotr_ludwig_mean},
                                  {"weighted mean and correction by hand", test_small_cases},
                                  {"Stacey-Kramers model", test_stacey_kramers},
                                  {NULL, NULL}};
    return kr_test_run("sims_numerics", tests);
}
