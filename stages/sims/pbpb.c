/* Pb-Pb age equation, Stacey-Kramers common Pb and the common-Pb correction. */
#include "pbpb.h"

#include "calib.h"
#include "error.h"

#include <math.h>
#include <string.h>

enum { PER_YR_TO_PER_MA = 1000000 };

int kr_pbpb_consts_load(kr_pbpb_consts *c, const char *u_name)
{
    memset(c, 0, sizeof *c);
    kr_constants k;
    int rc = kr_constants_load("sims_constants.csv", &k);
    if (rc) return rc;
    double l8, s8, l5, s5, l2, s2;
    rc = kr_constant_get(&k, "lambda_u238", &l8, &s8);
    if (!rc) rc = kr_constant_get(&k, "lambda_u235", &l5, &s5);
    if (!rc) rc = kr_constant_get(&k, "lambda_th232", &l2, &s2);
    if (!rc) rc = kr_constant_get(&k, u_name ? u_name : "u238_u235", &c->u85, &c->su85);
    kr_constants_free(&k);
    if (rc) return rc;
    c->l238_per_ma = l8 * PER_YR_TO_PER_MA;
    c->sl238_per_ma = s8 * PER_YR_TO_PER_MA;
    c->l235_per_ma = l5 * PER_YR_TO_PER_MA;
    c->sl235_per_ma = s5 * PER_YR_TO_PER_MA;
    c->l232_per_ma = l2 * PER_YR_TO_PER_MA;
    c->sl232_per_ma = s2 * PER_YR_TO_PER_MA;
    return KR_OK;
}

double kr_pbpb_ratio(const kr_pbpb_consts *c, double t_ma)
{
    /* r* = (exp(l235 t) - 1) / (U (exp(l238 t) - 1))  (e.g. Faure & Mensing 2005, eq. 10.29) */
    return expm1(c->l235_per_ma * t_ma) / (c->u85 * expm1(c->l238_per_ma * t_ma));
}

double kr_pbpb_ratio_limit(const kr_pbpb_consts *c)
{
    /* limit of r*(t) as t -> 0 (l'Hopital on Faure & Mensing 2005, eq. 10.29) */
    return c->l235_per_ma / (c->l238_per_ma * c->u85);
}

/* Partial derivatives of r*(t; l238, l235, U) at t (derivatives of Faure & Mensing 2005, eq. 10.29). */
static void ratio_derivs(const kr_pbpb_consts *c, double t, double *dt, double *dl8, double *dl5, double *du)
{
    double e5 = exp(c->l235_per_ma * t), e8 = exp(c->l238_per_ma * t);
    double n = expm1(c->l235_per_ma * t), d = expm1(c->l238_per_ma * t);
    double U = c->u85;
    *dt = (c->l235_per_ma * e5 * d - c->l238_per_ma * e8 * n) / (U * d * d);
    *dl5 = t * e5 / (U * d);
    *dl8 = -n * t * e8 / (U * d * d);
    *du = -n / (U * U * d);
}

int kr_pbpb_age_solve(const kr_pbpb_consts *c, double r, double sr, kr_pbpb_age *out)
{
    memset(out, 0, sizeof *out);
    double lim = kr_pbpb_ratio_limit(c);
    if (!isfinite(r)) return kr_err(KR_ENUMERIC, "207Pb* / 206Pb* is not a number");
    if (r <= lim)
        return kr_err(KR_ENUMERIC, "207Pb* / 206Pb* = %.8g is at or below the zero-age limit %.8g: no positive age", r,
                      lim);
    /* r*(t) increases monotonically: Newton safeguarded by a bracket [lo, hi] (Ma). */
    double lo = 0.0, hi = 1.0e4;
    while (kr_pbpb_ratio(c, hi) < r) {
        lo = hi;
        hi *= 2;
        if (hi > 1e6) return kr_err(KR_ENUMERIC, "207Pb* / 206Pb* = %.8g gives an age above 1e6 Ma", r);
    }
    double t = 0.5 * (lo + hi);
    int converged = 0;
    for (int it = 0; it < 200; it++) {
        double f = kr_pbpb_ratio(c, t) - r;
        if (f > 0)
            hi = t;
        else
            lo = t;
        double dt, dl8, dl5, du;
        ratio_derivs(c, t, &dt, &dl8, &dl5, &du);
        double tn = t - f / dt;
        if (!(tn > lo && tn < hi)) tn = 0.5 * (lo + hi);
        double step = fabs(tn - t);
        t = tn;
        if (step <= 1e-12 * (1.0 + fabs(t)) || hi - lo <= 1e-12 * (1.0 + fabs(t))) {
            converged = 1;
            break;
        }
    }
    if (!converged) return kr_err(KR_ENUMERIC, "age for 207Pb* / 206Pb* = %.8g did not converge", r);
    double dt, dl8, dl5, du;
    ratio_derivs(c, t, &dt, &dl8, &dl5, &du);
    out->t_ma = t;
    out->dr_dt = dt;
    /* first-order error propagation through the implicit function t(r, l238, l235, U)
     * (as IsoplotR R/UPb.R get_Pb207Pb206_age: J = -(dr/dp)/(dr/dt)) */
    out->st_int_ma = fabs(sr / dt);
    double v = sr * sr + pow(dl8 * c->sl238_per_ma, 2) + pow(dl5 * c->sl235_per_ma, 2) + pow(du * c->su85, 2);
    out->st_ext_ma = sqrt(v) / fabs(dt);
    return KR_OK;
}

int kr_sk_load(kr_sk_model *m)
{
    memset(m, 0, sizeof *m);
    kr_constants k;
    int rc = kr_constants_load("sims_stacey_kramers.csv", &k);
    if (rc) return rc;
    struct {
        const char *name;
        double *dst;
    } map[] = {{"sk_t0_ma", &m->t0_ma},           {"sk_t1_ma", &m->t1_ma},           {"sk_stage1_pb206_pb204", &m->a0},
               {"sk_stage1_pb207_pb204", &m->b0}, {"sk_stage1_pb208_pb204", &m->c0}, {"sk_stage1_u238_pb204", &m->mu1},
               {"sk_stage1_th232_pb204", &m->w1}, {"sk_stage2_pb206_pb204", &m->a1}, {"sk_stage2_pb207_pb204", &m->b1},
               {"sk_stage2_pb208_pb204", &m->c1}, {"sk_stage2_u238_pb204", &m->mu2}, {"sk_stage2_th232_pb204", &m->w2}};
    for (size_t i = 0; i < sizeof map / sizeof map[0] && !rc; i++)
        rc = kr_constant_get(&k, map[i].name, map[i].dst, NULL);
    kr_constants_free(&k);
    return rc;
}

void kr_sk_at(const kr_sk_model *m, const kr_pbpb_consts *c, double t_ma, double *pb64, double *pb74, double *pb84)
{
    int young = t_ma < m->t1_ma;
    double ti = young ? m->t1_ma : m->t0_ma;
    double a = young ? m->a1 : m->a0, b = young ? m->b1 : m->b0, cc = young ? m->c1 : m->c0;
    double mu = young ? m->mu2 : m->mu1, w = young ? m->w2 : m->w1;
    /* Stacey & Kramers 1975, eqs. 1-3: growth from ti to t in a reservoir with 238U/204Pb = mu */
    *pb64 = a + mu * (exp(c->l238_per_ma * ti) - exp(c->l238_per_ma * t_ma));
    *pb74 = b + mu / c->u85 * (exp(c->l235_per_ma * ti) - exp(c->l235_per_ma * t_ma));
    *pb84 = cc + w * (exp(c->l232_per_ma * ti) - exp(c->l232_per_ma * t_ma));
}

int kr_pbpb_correct(double X, double sX, double Y, double sY, double rXY, double c64, double c74, kr_pbpb_corr *out)
{
    memset(out, 0, sizeof *out);
    double den = 1.0 - c64 * X;
    if (!(den > 0))
        return kr_err(KR_ENUMERIC,
                      "common-Pb correction: 204/206 = %.6g with common 206/204 = %.6g leaves no radiogenic 206Pb", X,
                      c64);
    /* r* = (Y - c74 X)/(1 - c64 X)  (Williams 1998, Rev. Econ. Geol. 7, 204Pb correction) */
    out->rstar = (Y - c74 * X) / den;
    double dY = 1.0 / den;
    double dX = (c64 * Y - c74) / (den * den);
    double v = dX * dX * sX * sX + dY * dY * sY * sY + 2 * dX * dY * rXY * sX * sY;
    out->srstar = sqrt(v > 0 ? v : 0);
    out->f206 = c64 * X; /* fraction of 206Pb that is common (Williams 1998) */
    return KR_OK;
}

int kr_pbpb_correct_sk(const kr_pbpb_consts *c, const kr_sk_model *m, double X, double sX, double Y, double sY,
                       double rXY, kr_pbpb_corr *out, kr_pbpb_age *age)
{
    /* start from the uncorrected 207/206 age, then iterate model age <-> common Pb */
    double t = 0.0;
    int rc = kr_pbpb_age_solve(c, Y, sY, age);
    if (rc) return rc;
    t = age->t_ma;
    for (int it = 0; it < 100; it++) {
        double c64, c74, c84;
        kr_sk_at(m, c, t, &c64, &c74, &c84);
        rc = kr_pbpb_correct(X, sX, Y, sY, rXY, c64, c74, out);
        if (rc) return rc;
        rc = kr_pbpb_age_solve(c, out->rstar, out->srstar, age);
        if (rc) return rc;
        if (fabs(age->t_ma - t) < 1e-6) return KR_OK;
        t = age->t_ma;
    }
    return kr_err(KR_ENUMERIC, "Stacey-Kramers common-Pb iteration did not converge (age %.3f Ma)", t);
}
