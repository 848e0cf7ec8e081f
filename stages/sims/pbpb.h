/* Pb-Pb geochronology numerics (pure functions, no I/O except kr_pbpb_consts_load which reads calib/):
 * 207Pb* / 206Pb* <-> age, Stacey-Kramers common Pb, common-Pb correction, weighted mean with IsoplotR's
 * outlier rule, York (2004) regression and Pb-Pb isochrons. Ages are in Ma throughout. */
#ifndef KR_SIMS_PBPB_H
#define KR_SIMS_PBPB_H
#include <stddef.h>

/* Decay constants (per Ma) and 238U/235U with 1 sigma uncertainties (calib/sims_constants.csv). */
typedef struct {
    double l238_per_ma, sl238_per_ma;
    double l235_per_ma, sl235_per_ma;
    double l232_per_ma, sl232_per_ma;
    double u85, su85; /* 238U/235U */
} kr_pbpb_consts;

/* Load from calib/sims_constants.csv; `u_name` picks the U ratio ("u238_u235" or "u238_u235_sj77",
 * NULL = "u238_u235"). */
int kr_pbpb_consts_load(kr_pbpb_consts *c, const char *u_name);

/* Radiogenic 207Pb* / 206Pb* at age t_ma (Ma). */
double kr_pbpb_ratio(const kr_pbpb_consts *c, double t_ma);
/* The zero-age limit lambda235/(lambda238 U): r* at or below it has no positive age. */
double kr_pbpb_ratio_limit(const kr_pbpb_consts *c);

typedef struct {
    double t_ma;      /* age */
    double st_int_ma; /* 1 sigma from the ratio only */
    double st_ext_ma; /* 1 sigma with decay-constant and U-ratio uncertainties */
    double dr_dt;     /* d r* / d t (per Ma) at the solution */
} kr_pbpb_age;

/* Solve r* = ratio(t) for t by safeguarded Newton; `sr` is the 1 sigma of r*. KR_ENUMERIC (with a
 * message) if r is at or below the zero-age limit or not finite. */
int kr_pbpb_age_solve(const kr_pbpb_consts *c, double r, double sr, kr_pbpb_age *out);

/* Stacey & Kramers (1975) two-stage model (calib/sims_stacey_kramers.csv). */
typedef struct {
    double t0_ma, t1_ma;
    double a0, b0, c0, mu1, w1; /* stage 1: 206/204, 207/204, 208/204, 238/204, 232/204 */
    double a1, b1, c1, mu2, w2; /* stage 2 */
} kr_sk_model;
int kr_sk_load(kr_sk_model *m);
/* Common-Pb 206/204, 207/204, 208/204 at model age t_ma. */
void kr_sk_at(const kr_sk_model *m, const kr_pbpb_consts *c, double t_ma, double *pb64, double *pb74, double *pb84);

/* Common-Pb correction (e.g. Williams 1998, Rev. Econ. Geol. 7, eq. for 204 correction):
 * r* = (Y - c74 X)/(1 - c64 X), X = 204/206, Y = 207/206, c64 = 206/204c, c74 = 207/204c.
 * Propagates sX, sY and their correlation rXY; f206 = fraction of 206 that is common = c64 X.
 * KR_ENUMERIC when 1 - c64 X <= 0 (all 206 common). */
typedef struct {
    double rstar, srstar, f206;
} kr_pbpb_corr;
int kr_pbpb_correct(double X, double sX, double Y, double sY, double rXY, double c64, double c74, kr_pbpb_corr *out);
/* Same with Stacey-Kramers common Pb at the model age, iterated until the age changes < 1e-6 Ma. */
int kr_pbpb_correct_sk(const kr_pbpb_consts *c, const kr_sk_model *m, double X, double sX, double Y, double sY,
                       double rXY, kr_pbpb_corr *out, kr_pbpb_age *age);

/* ---- Statistics ---- */

/* Weighted mean as IsoplotR's weightedmean(..., random.effects=FALSE): mean, 1/sqrt(sum w), MSWD,
 * p = 1 - Pchisq(SS, n-1), err_inflated = sqrt(MSWD) err when p < alpha (0.05). With detect_outliers,
 * IsoplotR's iterated modified Chauvenet criterion (R/weightedmean.R, chauvenet()). */
typedef struct {
    size_t n, n_used;
    double mean, err, mswd, p, err_inflated;
    int inflated;
} kr_wmean_result;
/* `valid` (n bytes, may be NULL) receives 1 for kept and 0 for rejected rows. Values with a NaN
 * value or a non-positive sigma are an error (KR_EINPUT naming the 1-based row). */
int kr_wmean(const double *x, const double *sx, size_t n, int detect_outliers, unsigned char *valid,
             kr_wmean_result *out);

/* York et al. (2004, Am. J. Phys. 72, 367) straight-line fit y = a + b x with correlated errors. */
typedef struct {
    size_t n;
    double a, sa, b, sb, cov_ab, mswd, p;
    int df;
    int iterations;
} kr_york_result;
int kr_york(const double *x, const double *sx, const double *y, const double *sy, const double *rxy, size_t n,
            kr_york_result *out);

/* Normal (206/204, 207/204) to inverse (204/206, 207/206) Pb-Pb ratios with first-order error
 * propagation, as IsoplotR's normal2inverse(). */
void kr_pbpb_normal_to_inverse(double x64, double sx64, double y74, double sy74, double rho, double *X, double *sX,
                               double *Y, double *sY, double *rXY);

typedef enum { KR_ISO_INVERSE = 0, KR_ISO_NORMAL = 1 } kr_iso_form;
typedef struct {
    kr_iso_form form;
    kr_york_result fit;
    double rstar, srstar;  /* 207Pb* / 206Pb*: intercept (inverse) or slope (normal) */
    kr_pbpb_age age;       /* from rstar */
    double st_inflated_ma; /* sqrt(MSWD)-inflated internal sigma when p < 0.05, else st_int */
} kr_pbpb_isochron;
/* x, y, sx, sy, rxy already in the requested form's coordinates. */
int kr_pbpb_isochron_fit(const kr_pbpb_consts *c, kr_iso_form form, const double *x, const double *sx, const double *y,
                         const double *sy, const double *rxy, size_t n, kr_pbpb_isochron *out);

#endif
