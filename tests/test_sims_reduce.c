/* Spot and group reduction (stages/sims/reduce.c) on the real IGG IMS-1280 Temora files: the ratios
 * against CAMECA's own STATISTICS RESULTS in each file, and the Temora 207Pb/206Pb age against its
 * reference age (calib/sims_reference_materials.csv). */
#include "asc.h"
#include "calib.h"
#include "error.h"
#include "kr_test.h"
#include "reduce.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static kr_sims_opts opts(kr_pbpb_consts *c, kr_sk_model *sk)
{
    CU_ASSERT_EQUAL_FATAL(kr_pbpb_consts_load(c, NULL), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_sk_load(sk), KR_OK);
    kr_constants k;
    CU_ASSERT_EQUAL_FATAL(kr_constants_load("sims_constants.csv", &k), KR_OK);
    kr_sims_opts o;
    memset(&o, 0, sizeof o);
    CU_ASSERT_EQUAL(kr_constant_get(&k, "poisson_upper_1s_zero_counts", &o.poisson_zero_upper, NULL), KR_OK);
    kr_constants_free(&k);
    o.consts = c;
    o.sk = sk;
    o.cpb = KR_CPB_STACEY_KRAMERS;
    o.ratio_mode = KR_RATIO_CYCLE_MEANS;
    o.cycle_outlier_k = 0;
    return o;
}

/* CAMECA's STATISTICS RESULTS in Tem@1.asc: R0 = 207Pb/206Pb, mean of cycle ratios 5.527235E-2 with
 * standard error of the mean 1.592387 %, integrated mean (ratio of summed counts) 5.529414E-2;
 * R2 = 204Pb/206Pb mean 1.775148E-5. Printed to 7 digits. */
static void test_tem1_against_cameca(void)
{
    char p[4096];
    if (!kr_test_shared_path(p, sizeof p, "data/sims/cameca_ims1280_temora/Tem@1.asc", "reduce_tem1")) return;
    kr_pbpb_consts c;
    kr_sk_model sk;
    kr_sims_opts o = opts(&c, &sk);
    kr_asc a;
    CU_ASSERT_EQUAL_FATAL(kr_asc_read(p, &a), KR_OK);
    kr_sims_cycle_row cyc[16];
    kr_sims_spot_row s;
    o.ratio_mode = KR_RATIO_MEAN_OF_RATIOS;
    CU_ASSERT_EQUAL_FATAL(kr_sims_reduce_spot(&a, "Tem@1", "Tem", &o, &s, cyc), KR_OK);
    printf("\n  Tem@1 mean of ratios: 207/206 %.7g +- %.5g %%, 204/206 %.7g\n", s.pb207_pb206,
           100 * s.pb207_pb206_err / s.pb207_pb206, s.pb204_pb206);
    KR_ASSERT_REL(s.pb207_pb206, 5.527235e-2, 1e-6);
    KR_ASSERT_REL(100 * s.pb207_pb206_err / s.pb207_pb206, 1.592387, 1e-5);
    KR_ASSERT_REL(s.pb204_pb206, 1.775148e-5, 1e-6);
    o.ratio_mode = KR_RATIO_CYCLE_MEANS;
    CU_ASSERT_EQUAL_FATAL(kr_sims_reduce_spot(&a, "Tem@1", "Tem", &o, &s, cyc), KR_OK);
    printf("  Tem@1 cycle means: 207/206 %.7g, age %.1f +- %.1f Ma, f206 %.3f %%\n", s.pb207_pb206, s.age_ma,
           s.age_err_int_ma, s.f206_pct);
    /* CAMECA's integrated mean is a count-weighted ratio; with equal count times per cycle it equals
     * the ratio of the mean count rates */
    KR_ASSERT_REL(s.pb207_pb206, 5.529414e-2, 2e-6);
    CU_ASSERT_EQUAL(s.n_cycles, 7);
    CU_ASSERT_DOUBLE_EQUAL(cyc[0].pb206_cps, 3213.8858032128, 1e-9);
    kr_asc_free(&a);
}

static void test_temora_session(void)
{
    char p[4096];
    if (!kr_test_shared_path(p, sizeof p, "data/sims/cameca_ims1280_temora/Tem@1.asc", "temora_session")) return;
    kr_pbpb_consts c;
    kr_sk_model sk;
    kr_sims_opts o = opts(&c, &sk);
    o.cycle_outlier_k = 3.5;
    kr_sims_spot_row spots[12];
    kr_sims_cycle_row cyc[64];
    for (int i = 0; i < 12; i++) {
        char f[4200], name[16];
        snprintf(name, sizeof name, "Tem@%d", i + 1);
        snprintf(f, sizeof f, "%.*s/Tem@%d.asc", (int)(strrchr(p, '/') - p), p, i + 1);
        kr_asc a;
        CU_ASSERT_EQUAL_FATAL(kr_asc_read(f, &a), KR_OK);
        int rc = kr_sims_reduce_spot(&a, name, "Tem", &o, &spots[i], cyc);
        if (rc) kr_err_print(stdout);
        kr_err_clear();
        CU_ASSERT_EQUAL(rc, KR_OK);
        printf("%s  %-7s 207/206 %.5f +- %.5f  204/206 %.2e  f206 %6.3f %%  age %6.1f +- %5.1f Ma  rej %d flags %d\n",
               i ? "" : "\n", name, spots[i].pb207_pb206, spots[i].pb207_pb206_err, spots[i].pb204_pb206,
               spots[i].f206_pct, spots[i].age_ma, spots[i].age_err_int_ma, spots[i].n_rejected, spots[i].flags);
        kr_asc_free(&a);
    }
    kr_sims_age_row g;
    CU_ASSERT_EQUAL_FATAL(kr_sims_group("Tem", spots, 12, &c, 1, 0.0, &g), KR_OK);
    kr_constants k;
    double ref, sref;
    CU_ASSERT_EQUAL_FATAL(kr_constants_load("sims_reference_materials.csv", &k), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_constant_get(&k, "temora", &ref, &sref), KR_OK);
    kr_constants_free(&k);
    printf("  Temora weighted mean 207/206 age %.1f +- %.1f Ma (1s; inflated %.1f; ext %.1f), MSWD %.2f, p %.3f, "
           "%d of %d; reference %.2f Ma\n",
           g.wmean_age_ma, g.wmean_err_ma, g.wmean_err_inflated_ma, g.wmean_err_ext_ma, g.wmean_mswd, g.wmean_p,
           g.n_used, g.n_spots, ref);
    printf("  inverse isochron: n %d, r* %.5f, age %.1f +- %.1f Ma, MSWD %.2f [%s]\n", g.inv_n, g.inv_intercept,
           g.inv_age_ma, g.inv_age_err_ma, g.inv_mswd, g.message);
    CU_ASSERT_EQUAL(g.n_spots, 12);
    /* the reference age must lie within 2 sigma (inflated, with the decay-constant part) of the mean */
    double s2 = 2 * sqrt(pow(g.wmean_err_inflated_ma, 2) + pow(g.wmean_err_ext_ma, 2) - pow(g.wmean_err_ma, 2));
    CU_ASSERT(fabs(g.wmean_age_ma - ref) <= s2);
}

/* Copy Tem@1.asc with every occurrence of `from` replaced by `to` (same length not required). */
static int variant(const char *src, const char *dst, const char *from, const char *to)
{
    FILE *f = fopen(src, "rb");
    if (!f) return -1;
    char *buf = malloc(1 << 20);
    size_t n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = 0;
    FILE *o = fopen(dst, "wb");
    char *p = buf, *q;
    while ((q = strstr(p, from))) {
        fwrite(p, 1, (size_t)(q - p), o);
        fputs(to, o);
        p = q + strlen(from);
    }
    fputs(p, o);
    fclose(o);
    free(buf);
    return 0;
}

/* One bad spot fails alone, with a message naming the file and what is wrong. */
static void test_bad_spots(void)
{
    char p[4096], q[600], msg[512];
    if (!kr_test_shared_path(p, sizeof p, "data/sims/cameca_ims1280_temora/Tem@1.asc", "bad_spots")) return;
    kr_pbpb_consts c;
    kr_sk_model sk;
    kr_sims_opts o = opts(&c, &sk);
    kr_sims_cycle_row cyc[16];
    kr_sims_spot_row s;
    kr_asc a;
    snprintf(q, sizeof q, "%s/nopb204.asc", kr_test_tmpdir());
    /* no 204Pb: renamed in the species table and the RAW DATA header */
    CU_ASSERT_EQUAL_FATAL(variant(p, q, "204Pb     ", "203Tl     "), 0);
    CU_ASSERT_EQUAL_FATAL(variant(q, q, "204Pb       ", "203Tl       "), 0);
    CU_ASSERT_EQUAL_FATAL(kr_asc_read(q, &a), KR_OK);
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_sims_reduce_spot(&a, "x", "x", &o, &s, cyc), KR_EINPUT);
    kr_err_format(msg, sizeof msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "nopb204.asc:16: species 204Pb is not measured"));
    CU_ASSERT(s.flags & KR_SIMS_F_FAILED);
    kr_err_clear();
    kr_asc_free(&a);
    /* EM background larger than the 206Pb signal: negative corrected counts */
    snprintf(q, sizeof q, "%s/bkg.asc", kr_test_tmpdir());
    CU_ASSERT_EQUAL_FATAL(variant(p, q, "EM        \t1.000000  \t0         ", "EM        \t1.000000  \t5000      "), 0);
    CU_ASSERT_EQUAL_FATAL(kr_asc_read(q, &a), KR_OK);
    CU_ASSERT_EQUAL(kr_sims_reduce_spot(&a, "x", "x", &o, &s, cyc), KR_EINPUT);
    kr_err_format(msg, sizeof msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "bkg.asc:191: corrected 206Pb or 207Pb is not positive"));
    CU_ASSERT(s.flags & KR_SIMS_F_NEGATIVE_COUNTS);
    kr_err_clear();
    kr_asc_free(&a);
    /* a common-Pb composition that leaves r* below the zero-age limit */
    CU_ASSERT_EQUAL_FATAL(kr_asc_read(p, &a), KR_OK);
    o.cpb = KR_CPB_FIXED;
    o.c64 = 9.3;
    o.c74 = 2000;
    CU_ASSERT_EQUAL(kr_sims_reduce_spot(&a, "x", "x", &o, &s, cyc), KR_EINPUT);
    CU_ASSERT(s.flags & KR_SIMS_F_BELOW_ZERO_AGE);
    CU_ASSERT_PTR_NOT_NULL(strstr(s.message, "zero-age limit"));
    printf("\n  below the limit: %s\n", s.message);
    kr_err_clear();
    kr_asc_free(&a);
}

int main(void)
{
    const kr_test_case tests[] = {{"Tem@1 ratios against CAMECA's statistics", test_tem1_against_cameca},
                                  {"Temora session age", test_temora_session},
                                  {"bad spots fail alone with messages", test_bad_spots},
                                  {NULL, NULL}};
    return kr_test_run("sims_reduce", tests);
}
