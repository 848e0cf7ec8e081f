/* Weighted mean with IsoplotR's outlier rule, York (2004) regression, Pb-Pb isochrons. */
#include "error.h"
#include "pbpb.h"

#include <gsl/gsl_cdf.h>
#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { WMEAN_ALPHA_PERMILLE = 50 }; /* IsoplotR settings('alpha') = 0.05 */
#define KR_ALPHA (WMEAN_ALPHA_PERMILLE / 1000.0)

/* Chi-squared upper tail, as IsoplotR getMSWD: p = 1 - pchisq(X2, df); df <= 0 gives MSWD 1, p 1. */
static void mswd_p(double x2, int df, double *mswd, double *p)
{
    if (df > 0) {
        *mswd = x2 / df;
        *p = gsl_cdf_chisq_Q(x2, (double)df);
    } else {
        *mswd = 1.0;
        *p = 1.0;
    }
}

/* Error-weighted mean of the valid rows (Ludwig's Isoplot approach, IsoplotR get_weightedmean). */
static void wmean_fit(const double *x, const double *sx, size_t n, const unsigned char *valid, kr_wmean_result *r)
{
    double sw = 0, swx = 0;
    size_t m = 0, last = 0;
    for (size_t i = 0; i < n; i++) {
        if (!valid[i]) continue;
        double w = 1.0 / (sx[i] * sx[i]);
        sw += w;
        swx += w * x[i];
        m++;
        last = i;
    }
    r->n = n;
    r->n_used = m;
    r->inflated = 0;
    if (m <= 1) { /* IsoplotR: a single value is its own mean, MSWD 0, p 1 */
        r->mean = m ? x[last] : NAN;
        r->err = m ? sx[last] : NAN;
        r->mswd = 0;
        r->p = 1;
        r->err_inflated = r->err;
        return;
    }
    r->mean = swx / sw;      /* mean = sum(w x)/sum(w), w = 1/s^2 */
    r->err = 1.0 / sqrt(sw); /* s[mean] = 1/sqrt(sum w) */
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        if (valid[i]) ss += pow((x[i] - r->mean) / sx[i], 2); /* SS = sum((x - mean)/s)^2 */
    mswd_p(ss, (int)m - 1, &r->mswd, &r->p);
    r->inflated = r->p < KR_ALPHA;
    r->err_inflated = r->inflated ? sqrt(r->mswd) * r->err : r->err;
}

/* One pass of IsoplotR's modified Chauvenet criterion (R/weightedmean.R, chauvenet(), model 1):
 * sigma_i = sqrt(s[mean]^2 + max(1, MSWD) s_i^2), p_i = 2 (1 - Phi(|x_i - mean|/sigma_i));
 * the worst valid point is rejected when n_valid * p_min < 0.5. Returns 1 if one was rejected. */
static int chauvenet_pass(const double *x, const double *sx, size_t n, unsigned char *valid)
{
    kr_wmean_result f;
    wmean_fit(x, sx, n, valid, &f);
    if (f.n_used < 2) return 0;
    double worst = -1;
    size_t iworst = 0;
    for (size_t i = 0; i < n; i++) {
        if (!valid[i]) continue;
        double sigma = sqrt(f.err * f.err + fmax(1.0, f.mswd) * sx[i] * sx[i]);
        double misfit = fabs(x[i] - f.mean) / sigma;
        if (misfit > worst) {
            worst = misfit;
            iworst = i;
        }
    }
    double pmin = 2.0 * gsl_cdf_ugaussian_Q(worst);
    if ((double)f.n_used * pmin < 0.5) {
        valid[iworst] = 0;
        return 1;
    }
    return 0;
}

int kr_wmean(const double *x, const double *sx, size_t n, int detect_outliers, unsigned char *valid,
             kr_wmean_result *out)
{
    memset(out, 0, sizeof *out);
    if (n == 0) return kr_err(KR_EINPUT, "weighted mean of no values");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]) || !isfinite(sx[i]) || !(sx[i] > 0))
            return kr_err(KR_EINPUT, "row %zu: value %g with sigma %g (need finite value and sigma > 0)", i + 1, x[i],
                          sx[i]);
    unsigned char *v = valid ? valid : malloc(n);
    if (!v) return kr_err(KR_ENOMEM, "out of memory");
    memset(v, 1, n);
    if (detect_outliers) {
        size_t nvalid = n;
        /* IsoplotR weightedmean.default: repeat while more than 2 values remain and one was rejected */
        while (nvalid > 2 && chauvenet_pass(x, sx, n, v)) nvalid--;
    }
    wmean_fit(x, sx, n, v, out);
    if (!valid) free(v);
    return KR_OK;
}

int kr_york(const double *x, const double *sx, const double *y, const double *sy, const double *rxy, size_t n,
            kr_york_result *out)
{
    memset(out, 0, sizeof *out);
    if (n < 2) return kr_err(KR_EINPUT, "York regression needs at least 2 points, got %zu", n);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(x[i]) || !isfinite(y[i]) || !(sx[i] > 0) || !(sy[i] > 0) || !(fabs(rxy[i]) <= 1))
            return kr_err(KR_EINPUT, "row %zu: x %g +- %g, y %g +- %g, rho %g (need sigmas > 0 and |rho| <= 1)", i + 1,
                          x[i], sx[i], y[i], sy[i], rxy[i]);
    }
    /* initial slope: ordinary least squares (as IsoplotR yorkhelper) */
    double mx = 0, my = 0;
    for (size_t i = 0; i < n; i++) {
        mx += x[i];
        my += y[i];
    }
    mx /= n;
    my /= n;
    double sxx = 0, sxy = 0;
    for (size_t i = 0; i < n; i++) {
        sxx += (x[i] - mx) * (x[i] - mx);
        sxy += (x[i] - mx) * (y[i] - my);
    }
    if (!(sxx > 0)) return kr_err(KR_EINPUT, "York regression: all x values are equal");
    double b = sxy / sxx;
    double Xbar = 0, Ybar = 0, sumW = 0;
    int it, converged = 0;
    for (it = 1; it <= 1000; it++) {
        double bold = b;
        double sW = 0, sWX = 0, sWY = 0;
        for (size_t i = 0; i < n; i++) {
            double wX = 1 / (sx[i] * sx[i]), wY = 1 / (sy[i] * sy[i]);
            double A = sqrt(wX * wY);
            double W = wX * wY / (wX + b * b * wY - 2 * b * rxy[i] * A); /* York 2004, eq. 13 */
            sW += W;
            sWX += W * x[i];
            sWY += W * y[i];
        }
        Xbar = sWX / sW; /* York 2004, eq. 11 */
        Ybar = sWY / sW;
        double num = 0, den = 0;
        for (size_t i = 0; i < n; i++) {
            double wX = 1 / (sx[i] * sx[i]), wY = 1 / (sy[i] * sy[i]);
            double A = sqrt(wX * wY);
            double W = wX * wY / (wX + b * b * wY - 2 * b * rxy[i] * A);
            double U = x[i] - Xbar, V = y[i] - Ybar;
            double beta = W * (U / wY + b * V / wX - (b * U + V) * rxy[i] / A); /* York 2004, eq. 13 */
            num += W * beta * V;
            den += W * beta * U;
        }
        b = num / den; /* York 2004, eq. 13 (slope update) */
        sumW = sW;
        if (!isfinite(b)) return kr_err(KR_ENUMERIC, "York regression: slope became %g", b);
        /* relative change 1e-12: above the round-off floor (~1e-14), far below IsoplotR's 3e-8 */
        if (fabs(bold - b) <= 1e-12 * fabs(b) || (b == 0 && bold == 0)) {
            converged = 1;
            break;
        }
    }
    if (!converged) return kr_err(KR_ENUMERIC, "York regression did not converge in 1000 iterations");
    /* final quantities at the converged slope (York 2004, eqs. 13-15) */
    double sW = 0, sWX = 0, sWY = 0;
    double *W = malloc(n * sizeof *W), *beta = malloc(n * sizeof *beta);
    if (!W || !beta) {
        free(W);
        free(beta);
        return kr_err(KR_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        double wX = 1 / (sx[i] * sx[i]), wY = 1 / (sy[i] * sy[i]);
        double A = sqrt(wX * wY);
        W[i] = wX * wY / (wX + b * b * wY - 2 * b * rxy[i] * A);
        sW += W[i];
        sWX += W[i] * x[i];
        sWY += W[i] * y[i];
    }
    Xbar = sWX / sW;
    Ybar = sWY / sW;
    sumW = sW;
    double sWxadj = 0;
    for (size_t i = 0; i < n; i++) {
        double wX = 1 / (sx[i] * sx[i]), wY = 1 / (sy[i] * sy[i]);
        double A = sqrt(wX * wY);
        double U = x[i] - Xbar, V = y[i] - Ybar;
        beta[i] = W[i] * (U / wY + b * V / wX - (b * U + V) * rxy[i] / A);
        sWxadj += W[i] * (Xbar + beta[i]); /* York 2004, eq. 15: adjusted x_i = Xbar + beta_i */
    }
    double a = Ybar - b * Xbar; /* York 2004, eq. 12 */
    double xbar = sWxadj / sumW;
    double su2 = 0, x2 = 0;
    for (size_t i = 0; i < n; i++) {
        double u = Xbar + beta[i] - xbar;
        su2 += W[i] * u * u;
        x2 += W[i] * pow(y[i] - b * x[i] - a, 2); /* York 2004, S (eq. 2 at the minimum) */
    }
    free(W);
    free(beta);
    out->n = n;
    out->a = a;
    out->b = b;
    out->sb = sqrt(1.0 / su2);                                    /* York 2004, eq. 13 sigma_b */
    out->sa = sqrt(1.0 / sumW + xbar * xbar * out->sb * out->sb); /* York 2004, eq. 13 sigma_a */
    out->cov_ab = -xbar * out->sb * out->sb;                      /* York 2004 (cov of a and b) */
    out->df = (int)n - 2;
    out->iterations = it;
    mswd_p(x2, out->df, &out->mswd, &out->p);
    return KR_OK;
}

void kr_pbpb_normal_to_inverse(double x64, double sx64, double y74, double sy74, double rho, double *X, double *sX,
                               double *Y, double *sY, double *rXY)
{
    /* X = 204/206 = 1/x64, Y = 207/206 = y74/x64; first-order propagation of the 2x2 covariance
     * (IsoplotR R/york.R normal2inverse(type='p') applied to the swapped Pb-Pb columns) */
    double e11 = sx64 * sx64, e22 = sy74 * sy74, e12 = rho * sx64 * sy74;
    *X = 1.0 / x64;
    *Y = y74 / x64;
    double j11 = -*X / x64, j12 = 0;         /* dX/dx64, dX/dy74 */
    double j21 = -*Y / x64, j22 = 1.0 / x64; /* dY/dx64, dY/dy74 */
    double vX = j11 * j11 * e11 + 2 * j11 * j12 * e12 + j12 * j12 * e22;
    double vY = j21 * j21 * e11 + 2 * j21 * j22 * e12 + j22 * j22 * e22;
    double cXY = j11 * j21 * e11 + (j11 * j22 + j12 * j21) * e12 + j12 * j22 * e22;
    *sX = sqrt(vX);
    *sY = sqrt(vY);
    *rXY = cXY / (*sX * *sY);
}

int kr_pbpb_isochron_fit(const kr_pbpb_consts *c, kr_iso_form form, const double *x, const double *sx, const double *y,
                         const double *sy, const double *rxy, size_t n, kr_pbpb_isochron *out)
{
    memset(out, 0, sizeof *out);
    out->form = form;
    int rc = kr_york(x, sx, y, sy, rxy, n, &out->fit);
    if (rc) return rc;
    /* inverse: 207/206 = r* + b 204/206, so the intercept is r*; normal: 207/204 = a + r* 206/204 */
    out->rstar = form == KR_ISO_INVERSE ? out->fit.a : out->fit.b;
    out->srstar = form == KR_ISO_INVERSE ? out->fit.sa : out->fit.sb;
    rc = kr_pbpb_age_solve(c, out->rstar, out->srstar, &out->age);
    if (rc) return kr_err(rc, "isochron 207Pb* / 206Pb* gives no age");
    /* IsoplotR ab2y0t.PbPb: sqrt(MSWD) inflation of the ratio error when p < alpha */
    out->st_inflated_ma = out->fit.p < KR_ALPHA ? sqrt(out->fit.mswd) * out->age.st_int_ma : out->age.st_int_ma;
    return KR_OK;
}
