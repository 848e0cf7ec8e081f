/* Counts -> net intensities -> k (stages/epma/counts.c) against JEOL's own numbers and hand algebra. */
#include "counts.h"
#include "error.h"
#include "kr_test.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* The real JEOL JXA line quoted in DOMAIN.md §2.1 (Si Ka, TAP, peak 77.370 mm, offsets 2.700/3.500 mm):
 *   $XM_QNT_DATA_WD_MES_TIME%0 30.000 15.000 15.000
 *   $XM_QNT_DATA_WD_XRAY_CNT%0 270179.0 1385.0 772.0 9021.5 74.5 17.5
 *   $XM_QNT_DATA_WD_DEAD_TIME%0 1.100
 * JEOL's own net 9021.5 cps, background 74.5 cps, sigma 17.5 cps must come out to the printed digit. */
static kr_wds_counts real_si(void)
{
    kr_wds_counts c = {0};
    c.peak_counts = 270179.0;
    c.bgm_counts = 1385.0;
    c.bgp_counts = 772.0;
    c.peak_time_s = 30.0;
    c.bgm_time_s = 15.0;
    c.bgp_time_s = 15.0;
    c.off_minus_mm = 2.700;
    c.off_plus_mm = 3.500;
    c.dead_time_us = 1.100;
    c.current_na = 20.0;
    return c;
}

static void test_real_jeol_line(void)
{
    kr_wds_counts c = real_si();
    kr_wds_net n;
    CU_ASSERT_EQUAL_FATAL(kr_wds_net_compute(&c, KR_DT_NONPARALYZABLE, KR_BG_LINEAR, "real", &n), KR_OK);
    char buf[32];
    snprintf(buf, sizeof buf, "%.1f", n.net_cps);
    CU_ASSERT_STRING_EQUAL(buf, "9021.5");
    snprintf(buf, sizeof buf, "%.1f", n.bg_cps);
    CU_ASSERT_STRING_EQUAL(buf, "74.5");
    snprintf(buf, sizeof buf, "%.1f", n.sigma_cps);
    CU_ASSERT_STRING_EQUAL(buf, "17.5");
    CU_ASSERT_TRUE(kr_wds_matches_printed(&n, "9021.5", "74.5", "17.5"));
    /* a one-digit disagreement is caught */
    CU_ASSERT_FALSE(kr_wds_matches_printed(&n, "9021.7", "74.5", "17.5"));
    CU_ASSERT_FALSE(kr_wds_matches_printed(&n, "9021.5", "74.5", "17.4"));
    /* without the dead-time correction the sigma would print 17.4 and the net 8931.4: the test is sharp */
    c.dead_time_us = 0.0;
    CU_ASSERT_EQUAL_FATAL(kr_wds_net_compute(&c, KR_DT_NONPARALYZABLE, KR_BG_LINEAR, "real", &n), KR_OK);
    CU_ASSERT_FALSE(kr_wds_matches_printed(&n, "9021.5", "74.5", "17.5"));
}

static void test_deadtime_forms(void)
{
    double r;
    /* tau r' = 0.1: non-paralyzable 1/(1-0.1), logarithmic 1/(1+ln 0.9) */
    CU_ASSERT_EQUAL(kr_deadtime_correct(1e5, 1.0, KR_DT_NONPARALYZABLE, "t", &r), KR_OK);
    KR_ASSERT_REL(r, 1e5 / 0.9, 1e-14);
    CU_ASSERT_EQUAL(kr_deadtime_correct(1e5, 1.0, KR_DT_LOG, "t", &r), KR_OK);
    KR_ASSERT_REL(r, 1e5 / (1.0 + log(0.9)), 1e-14);
    /* the two forms agree to second order at low rates: r'(1 + x + x^2) vs r'(1 + x + 3x^2/2) */
    double a, b;
    kr_deadtime_correct(1000.0, 1.0, KR_DT_NONPARALYZABLE, "t", &a);
    kr_deadtime_correct(1000.0, 1.0, KR_DT_LOG, "t", &b);
    CU_ASSERT_DOUBLE_EQUAL(b - a, 1000.0 * 0.5e-6, 1e-5);
    /* tau r' >= 1 is an error, not a NaN */
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_deadtime_correct(1e6, 1.0, KR_DT_NONPARALYZABLE, "Pos_0001 Si", &r), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "Pos_0001 Si"));
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), ">= 1"));
    kr_err_clear();
    /* log form is undefined already at 1 + ln(1-x) <= 0, i.e. x >= 1 - 1/e */
    CU_ASSERT_EQUAL(kr_deadtime_correct(7e5, 1.0, KR_DT_LOG, "t", &r), KR_EINPUT);
    kr_err_clear();
}

static void test_backgrounds(void)
{
    kr_wds_counts c = {0};
    c.peak_counts = 30000;
    c.bgm_counts = 400;
    c.bgp_counts = 100;
    c.peak_time_s = 10;
    c.bgm_time_s = 10;
    c.bgp_time_s = 10;
    c.off_minus_mm = 1.0;
    c.off_plus_mm = 3.0;
    c.current_na = 10;
    kr_wds_net n;
    /* linear: B = (40*3 + 10*1)/4 = 32.5 */
    CU_ASSERT_EQUAL_FATAL(kr_wds_net_compute(&c, KR_DT_NONPARALYZABLE, KR_BG_LINEAR, "t", &n), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(n.bg_cps, 32.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(n.net_cps, 3000 - 32.5, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(n.net_cps_na, (3000 - 32.5) / 10, 1e-10);
    /* sigma = sqrt(3000/10 + (3/4)^2 40/10 + (1/4)^2 10/10) */
    CU_ASSERT_DOUBLE_EQUAL(n.sigma_cps, sqrt(300 + 0.5625 * 4 + 0.0625 * 1), 1e-12);
    /* exponential: B = 40^(3/4) 10^(1/4) */
    CU_ASSERT_EQUAL_FATAL(kr_wds_net_compute(&c, KR_DT_NONPARALYZABLE, KR_BG_EXP, "t", &n), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(n.bg_cps, pow(40, 0.75) * pow(10, 0.25), 1e-10);
    CU_ASSERT_EQUAL(n.flags & KR_WDS_FLAG_EXP_FALLBACK, 0);
    /* equal backgrounds: both forms give the same */
    c.bgp_counts = 400;
    CU_ASSERT_EQUAL_FATAL(kr_wds_net_compute(&c, KR_DT_NONPARALYZABLE, KR_BG_EXP, "t", &n), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(n.bg_cps, 40.0, 1e-10);
    /* zero counts on one side: exponential impossible, linear used and flagged */
    c.bgp_counts = 0;
    CU_ASSERT_EQUAL_FATAL(kr_wds_net_compute(&c, KR_DT_NONPARALYZABLE, KR_BG_EXP, "t", &n), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(n.bg_cps, 30.0, 1e-12);
    CU_ASSERT_NOT_EQUAL(n.flags & KR_WDS_FLAG_EXP_FALLBACK, 0);
}

static void test_errors(void)
{
    kr_wds_counts c = real_si();
    kr_wds_net n;
    kr_err_clear();
    c.current_na = 0.0;
    CU_ASSERT_EQUAL(kr_wds_net_compute(&c, KR_DT_NONPARALYZABLE, KR_BG_LINEAR, "x.qnt:12", &n), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "x.qnt:12"));
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "current"));
    kr_err_clear();
    c = real_si();
    c.current_na = -3.0;
    CU_ASSERT_EQUAL(kr_wds_net_compute(&c, KR_DT_NONPARALYZABLE, KR_BG_LINEAR, "x", &n), KR_EINPUT);
    kr_err_clear();
    c = real_si();
    c.peak_time_s = 0.0;
    CU_ASSERT_EQUAL(kr_wds_net_compute(&c, KR_DT_NONPARALYZABLE, KR_BG_LINEAR, "x", &n), KR_EINPUT);
    kr_err_clear();
    c = real_si();
    c.dead_time_us = 200.0; /* tau r' = 1.8 */
    CU_ASSERT_EQUAL(kr_wds_net_compute(&c, KR_DT_NONPARALYZABLE, KR_BG_LINEAR, "x", &n), KR_EINPUT);
    kr_err_clear();
}

static void test_kratio_and_dl(void)
{
    kr_wds_net u = {0}, s = {0};
    u.net_cps_na = 50.0;
    u.sigma_cps_na = 1.0;
    s.net_cps_na = 200.0;
    s.sigma_cps_na = 2.0;
    double k, sk;
    CU_ASSERT_EQUAL(kr_kratio(&u, &s, "t", &k, &sk), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(k, 0.25, 1e-15);
    CU_ASSERT_DOUBLE_EQUAL(sk, 0.25 * sqrt(0.02 * 0.02 + 0.01 * 0.01), 1e-14);
    s.net_cps_na = 0.0;
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_kratio(&u, &s, "t", &k, &sk), KR_EINPUT);
    kr_err_clear();
    /* DL: I_B = 1 cps/nA, t = 10 s, i = 20 nA -> 3 sqrt(200) C_std / (200 I_std) */
    double dl = kr_detection_limit(1.0, 10.0, 20.0, 40.0, 100.0);
    CU_ASSERT_DOUBLE_EQUAL(dl, 3.0 * sqrt(200.0) * 40.0 / (200.0 * 100.0), 1e-15);
    CU_ASSERT_TRUE(isnan(kr_detection_limit(1.0, 10.0, 20.0, 40.0, 0.0)));
}

static void test_form_names(void)
{
    kr_deadtime_form d;
    kr_bg_form b;
    CU_ASSERT_EQUAL(kr_deadtime_form_parse("logarithmic", &d), KR_OK);
    CU_ASSERT_EQUAL(d, KR_DT_LOG);
    CU_ASSERT_EQUAL(kr_bg_form_parse("exponential", &b), KR_OK);
    CU_ASSERT_EQUAL(b, KR_BG_EXP);
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_bg_form_parse("cubic", &b), KR_EINPUT);
    kr_err_clear();
}

int main(void)
{
    static const kr_test_case tests[] = {
        {"real JEOL line: net 9021.5, bg 74.5, sigma 17.5", test_real_jeol_line},
        {"dead-time forms", test_deadtime_forms},
        {"linear and exponential backgrounds", test_backgrounds},
        {"errors name the place", test_errors},
        {"k-ratio and detection limit", test_kratio_and_dl},
        {"form names", test_form_names},
        {NULL, NULL},
    };
    return kr_test_run("epma_counts", tests);
}
