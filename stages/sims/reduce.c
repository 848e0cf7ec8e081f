/* SIMS Pb-Pb spot and group reduction. */
#include "reduce.h"
#include "robust.h"

#include "error.h"

#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CYC(f, u, d) KR_COL_D(kr_sims_cycle_row, f, u, d)
static const kr_column CYCLE_COLS[] = {
    KR_COL_S(kr_sims_cycle_row, spot, "spot name (file name without .asc)"),
    KR_COL_S(kr_sims_cycle_row, group, "group (sample) the spot belongs to"),
    KR_COL_INT(kr_sims_cycle_row, block, "", "block number in the file"),
    KR_COL_INT(kr_sims_cycle_row, cycle, "", "cycle number within the block"),
    KR_COL_INT(kr_sims_cycle_row, rejected, "", "1 if the cycle outlier rule rejected this cycle"),
    CYC(pb204_cps, "cps", "204Pb, dead-time, background and yield corrected"),
    CYC(pb206_cps, "cps", "206Pb, dead-time, background and yield corrected"),
    CYC(pb207_cps, "cps", "207Pb, dead-time, background and yield corrected"),
    CYC(pb208_cps, "cps", "208Pb, dead-time, background and yield corrected (NaN if not measured)"),
    CYC(pb204_counts, "counts", "204Pb raw counts (cps x count time)"),
    CYC(pb206_counts, "counts", "206Pb raw counts"),
    CYC(pb207_counts, "counts", "207Pb raw counts"),
};
const kr_table_desc kr_sims_cycles_desc = KR_TABLE(CYCLE_COLS, kr_sims_cycle_row);

#define SPD(f, u, d) KR_COL_D(kr_sims_spot_row, f, u, d)
static const kr_column SPOT_COLS[] = {
    KR_COL_S(kr_sims_spot_row, spot, "spot name"),
    KR_COL_S(kr_sims_spot_row, group, "group (sample)"),
    KR_COL_S(kr_sims_spot_row, file, "source .asc file name"),
    KR_COL_INT(kr_sims_spot_row, n_cycles, "", "cycles in the file"),
    KR_COL_INT(kr_sims_spot_row, n_rejected, "", "cycles rejected by the outlier rule"),
    KR_COL_INT(kr_sims_spot_row, flags, "",
               "bits: 1 zero 204Pb (Poisson limit), 2 cycles rejected, 4 r* below zero-age limit, "
               "8 negative background-corrected counts, 16 failed, 32 f206 > 1 %"),
    SPD(pb204_pb206, "", "measured 204Pb/206Pb"),
    SPD(pb204_pb206_err, "", "1 sigma of 204Pb/206Pb"),
    SPD(pb207_pb206, "", "measured 207Pb/206Pb (mass-fractionation corrected if configured)"),
    SPD(pb207_pb206_err, "", "1 sigma of 207Pb/206Pb"),
    SPD(pb208_pb206, "", "measured 208Pb/206Pb"),
    SPD(pb208_pb206_err, "", "1 sigma of 208Pb/206Pb"),
    SPD(rho_46_76, "", "error correlation of 204Pb/206Pb and 207Pb/206Pb"),
    SPD(common_pb206_pb204, "", "common-Pb 206Pb/204Pb used"),
    SPD(common_pb207_pb204, "", "common-Pb 207Pb/204Pb used"),
    SPD(f206_pct, "%", "percentage of 206Pb that is common Pb"),
    SPD(pb207_pb206_rad, "", "radiogenic 207Pb*/206Pb*"),
    SPD(pb207_pb206_rad_err, "", "1 sigma of 207Pb*/206Pb*"),
    SPD(age_ma, "Ma", "207Pb/206Pb age"),
    SPD(age_err_int_ma, "Ma", "1 sigma, analytical only"),
    SPD(age_err_ext_ma, "Ma", "1 sigma with decay-constant and 238U/235U uncertainties"),
    SPD(age_err_frac_ma, "Ma", "1 sigma from the mass-fractionation factor (systematic, common to all spots)"),
    KR_COL_S(kr_sims_spot_row, message, "why the spot has no age, or empty"),
};
const kr_table_desc kr_sims_spots_desc = KR_TABLE(SPOT_COLS, kr_sims_spot_row);

#define AGD(f, u, d) KR_COL_D(kr_sims_age_row, f, u, d)
static const kr_column AGE_COLS[] = {
    KR_COL_S(kr_sims_age_row, group, "group (sample)"),
    KR_COL_INT(kr_sims_age_row, n_spots, "", "spots with an age"),
    KR_COL_INT(kr_sims_age_row, n_used, "", "spots kept by the outlier rule"),
    AGD(wmean_age_ma, "Ma", "weighted mean 207Pb/206Pb age"),
    AGD(wmean_err_ma, "Ma", "1 sigma, 1/sqrt(sum w)"),
    AGD(wmean_err_ext_ma, "Ma", "1 sigma with decay-constant, 238U/235U and mass-fractionation uncertainties"),
    AGD(wmean_err_frac_ma, "Ma", "1 sigma from the mass-fractionation factor alone (systematic)"),
    AGD(wmean_err_inflated_ma, "Ma", "sqrt(MSWD) x wmean_err_ma when p < 0.05, else wmean_err_ma"),
    AGD(wmean_mswd, "", "MSWD of the weighted mean"),
    AGD(wmean_p, "", "p-value of the chi-squared test"),
    KR_COL_S(kr_sims_age_row, rejected, "spots rejected (IsoplotR modified Chauvenet), ';'-joined"),
    KR_COL_INT(kr_sims_age_row, inv_n, "", "spots in the inverse isochron"),
    AGD(inv_intercept, "", "inverse isochron (204/206 vs 207/206) intercept = 207Pb*/206Pb*"),
    AGD(inv_intercept_err, "", "1 sigma"),
    AGD(inv_slope, "", "inverse isochron slope"),
    AGD(inv_slope_err, "", "1 sigma"),
    AGD(inv_cov_ab, "", "covariance of intercept and slope"),
    AGD(inv_mswd, "", "MSWD"),
    AGD(inv_p, "", "p-value"),
    AGD(inv_age_ma, "Ma", "inverse isochron age"),
    AGD(inv_age_err_ma, "Ma", "1 sigma internal"),
    AGD(inv_age_err_ext_ma, "Ma", "1 sigma with decay constants, 238U/235U and mass fractionation"),
    AGD(inv_age_err_frac_ma, "Ma", "1 sigma from the mass-fractionation factor alone (systematic)"),
    AGD(inv_age_err_inflated_ma, "Ma", "sqrt(MSWD)-inflated internal sigma when p < 0.05"),
    KR_COL_INT(kr_sims_age_row, nrm_n, "", "spots in the normal isochron (204Pb > 0)"),
    AGD(nrm_intercept, "", "normal isochron (206/204 vs 207/204) intercept"),
    AGD(nrm_intercept_err, "", "1 sigma"),
    AGD(nrm_slope, "", "normal isochron slope = 207Pb*/206Pb*"),
    AGD(nrm_slope_err, "", "1 sigma"),
    AGD(nrm_cov_ab, "", "covariance of intercept and slope"),
    AGD(nrm_mswd, "", "MSWD"),
    AGD(nrm_p, "", "p-value"),
    AGD(nrm_age_ma, "Ma", "normal isochron age"),
    AGD(nrm_age_err_ma, "Ma", "1 sigma internal"),
    AGD(nrm_age_err_ext_ma, "Ma", "1 sigma with decay constants, 238U/235U and mass fractionation"),
    AGD(nrm_age_err_frac_ma, "Ma", "1 sigma from the mass-fractionation factor alone (systematic)"),
    AGD(nrm_age_err_inflated_ma, "Ma", "sqrt(MSWD)-inflated internal sigma when p < 0.05"),
    KR_COL_S(kr_sims_age_row, message, "notes (isochron not computed, ...)"),
};
const kr_table_desc kr_sims_ages_desc = KR_TABLE(AGE_COLS, kr_sims_age_row);

enum { I4 = 0, I6 = 1, I7 = 2, I8 = 3, NISO = 4 };

static int fail(kr_sims_spot_row *row, int flag, int code, const char *fmt, const char *a, long line, double v)
{
    row->flags |= flag | KR_SIMS_F_FAILED;
    char msg[KR_SIMS_MSG];
    snprintf(msg, sizeof msg, fmt, v);
    snprintf(row->message, sizeof row->message, "%s", msg);
    return kr_err_at(code, a, line, "%s", msg);
}

/* Cycle outlier rule on the 207/206 cycle ratios (documented in reduce.h): robust z > k. */
static int reject_cycles(const double *r76, size_t n, double k, unsigned char *keep)
{
    int nrej = 0;
    if (k <= 0 || n < 4) return 0;
    double *tmp = malloc(n * sizeof *tmp);
    if (!tmp) return -1;
    memcpy(tmp, r76, n * sizeof *tmp);
    gsl_sort(tmp, 1, n);
    double med = gsl_stats_median_from_sorted_data(tmp, 1, n);
    for (size_t i = 0; i < n; i++) tmp[i] = fabs(r76[i] - med);
    gsl_sort(tmp, 1, n);
    double mad =
        KR_MAD_TO_SD * gsl_stats_median_from_sorted_data(tmp, 1, n); /* MAD scaled to sigma */
    free(tmp);
    if (!(mad > 0)) return 0;
    int max_rej = (int)(n / 3);
    for (size_t i = 0; i < n; i++)
        if (fabs(r76[i] - med) / mad > k && nrej < max_rej) {
            keep[i] = 0;
            nrej++;
        }
    return nrej;
}

/* Common-Pb correction and age for one spot's ratios. */
static int correct_and_date(const kr_sims_opts *o, double X, double sX, double Y, double sY, double rho,
                            kr_pbpb_corr *corr, kr_pbpb_age *age, double *c64_used, double *c74_used)
{
    int rc;
    if (o->cpb == KR_CPB_STACEY_KRAMERS) {
        rc = kr_pbpb_correct_sk(o->consts, o->sk, X, sX, Y, sY, rho, corr, age);
        if (!rc) {
            double c84;
            kr_sk_at(o->sk, o->consts, age->t_ma, c64_used, c74_used, &c84);
        }
        return rc;
    }
    double c64 = o->cpb == KR_CPB_FIXED ? o->c64 : 0, c74 = o->cpb == KR_CPB_FIXED ? o->c74 : 0;
    *c64_used = o->cpb == KR_CPB_FIXED ? c64 : NAN;
    *c74_used = o->cpb == KR_CPB_FIXED ? c74 : NAN;
    rc = kr_pbpb_correct(X, sX, Y, sY, rho, c64, c74, corr);
    if (!rc) rc = kr_pbpb_age_solve(o->consts, corr->rstar, corr->srstar, age);
    return rc;
}

int kr_sims_reduce_spot(const kr_asc *a, const char *spot, const char *group, const kr_sims_opts *o,
                        kr_sims_spot_row *row, kr_sims_cycle_row *cycles)
{
    memset(row, 0, sizeof *row);
    snprintf(row->spot, sizeof row->spot, "%s", spot);
    snprintf(row->group, sizeof row->group, "%s", group);
    const char *base = strrchr(a->path, '/');
    snprintf(row->file, sizeof row->file, "%.*s", (int)sizeof row->file - 1, base ? base + 1 : a->path);
    row->n_cycles = (int32_t)a->ncycles;
    row->age_ma = row->age_err_int_ma = row->age_err_ext_ma = NAN;
    row->pb207_pb206_rad = row->pb207_pb206_rad_err = row->f206_pct = NAN;
    int idx[NISO];
    static const char *const NAMES[NISO] = {"204Pb", "206Pb", "207Pb", "208Pb"};
    for (int k = 0; k < 3; k++)
        if (kr_asc_require(a, NAMES[k], &idx[k])) {
            row->flags |= KR_SIMS_F_FAILED;
            snprintf(row->message, sizeof row->message, "species %s is not measured", NAMES[k]);
            return KR_EINPUT;
        }
    idx[I8] = kr_asc_find(a, NAMES[I8]);
    size_t n = a->ncycles;
    double *v = malloc(n * NISO * sizeof *v);
    double *r76 = malloc(n * sizeof *r76);
    unsigned char *keep = malloc(n);
    int rc = KR_OK;
    if (!v || !r76 || !keep) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        for (int k = 0; k < NISO; k++) v[i * NISO + k] = idx[k] >= 0 ? kr_asc_cps_corrected(a, i, (size_t)idx[k]) : NAN;
        kr_sims_cycle_row *c = &cycles[i];
        memset(c, 0, sizeof *c);
        snprintf(c->spot, sizeof c->spot, "%s", spot);
        snprintf(c->group, sizeof c->group, "%s", group);
        c->block = a->block[i];
        c->cycle = a->cycle[i];
        c->pb204_cps = v[i * NISO + I4];
        c->pb206_cps = v[i * NISO + I6];
        c->pb207_cps = v[i * NISO + I7];
        c->pb208_cps = v[i * NISO + I8];
        c->pb204_counts = kr_asc_counts(a, i, (size_t)idx[I4]);
        c->pb206_counts = kr_asc_counts(a, i, (size_t)idx[I6]);
        c->pb207_counts = kr_asc_counts(a, i, (size_t)idx[I7]);
        if (!(v[i * NISO + I6] > 0) || !(v[i * NISO + I7] > 0)) {
            rc = fail(row, KR_SIMS_F_NEGATIVE_COUNTS, KR_EINPUT,
                      "corrected 206Pb or 207Pb is not positive (206Pb %.6g cps) after background", a->path, a->line[i],
                      v[i * NISO + I6]);
            goto cleanup;
        }
        r76[i] = v[i * NISO + I7] / v[i * NISO + I6];
        keep[i] = 1;
    }
    int nrej = reject_cycles(r76, n, o->cycle_outlier_k, keep);
    if (nrej < 0) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    row->n_rejected = nrej;
    if (nrej) row->flags |= KR_SIMS_F_CYCLES_REJECTED;
    for (size_t i = 0; i < n; i++) cycles[i].rejected = !keep[i];
    size_t m = n - (size_t)nrej;
    if (m < 2) {
        rc = fail(row, 0, KR_EINPUT, "only %.0f usable cycle(s): need 2", a->path, a->species_line, (double)m);
        goto cleanup;
    }
    /* 204Pb counted at all? */
    double n4_total = 0, t4_total = 0;
    for (size_t i = 0; i < n; i++)
        if (keep[i]) {
            n4_total += kr_asc_counts(a, i, (size_t)idx[I4]);
            t4_total += a->species[idx[I4]].count_time_s;
        }
    int zero204 = n4_total <= 0;
    double X, Y, Z, vX, vY, vZ, cXY;
    if (o->ratio_mode == KR_RATIO_CYCLE_MEANS) {
        double mean[NISO] = {0}, cov[NISO][NISO] = {{0}};
        for (size_t i = 0; i < n; i++)
            if (keep[i])
                for (int k = 0; k < NISO; k++) mean[k] += v[i * NISO + k] / (double)m;
        for (size_t i = 0; i < n; i++)
            if (keep[i])
                for (int j = 0; j < NISO; j++)
                    for (int k = 0; k < NISO; k++)
                        cov[j][k] += (v[i * NISO + j] - mean[j]) * (v[i * NISO + k] - mean[k]) / ((double)(m - 1) * m);
        /* Poisson floor: the variance of a mean count rate is at least rate/(count time x cycles) */
        double scale[NISO];
        for (int k = 0; k < NISO; k++) {
            scale[k] = 1.0;
            if (idx[k] < 0) continue;
            double pois = fabs(mean[k]) / (a->species[idx[k]].count_time_s * (double)m);
            if (cov[k][k] <= 0) {
                for (int j = 0; j < NISO; j++) cov[k][j] = cov[j][k] = 0;
                cov[k][k] = pois;
            } else if (cov[k][k] < pois) {
                scale[k] = sqrt(pois / cov[k][k]);
            }
        }
        for (int j = 0; j < NISO; j++)
            for (int k = 0; k < NISO; k++) cov[j][k] *= scale[j] * scale[k];
        /* a mean 204Pb at or below zero after background subtraction is kept (not truncated: that
         * would bias r*) and flagged */
        if (!zero204 && !(mean[I4] > 0)) row->flags |= KR_SIMS_F_NEGATIVE_COUNTS;
        double m6 = mean[I6];
        X = mean[I4] / m6;
        Y = mean[I7] / m6;
        Z = mean[I8] / m6;
        /* delta method for ratios of means, written without dividing by the numerators
         * (e.g. Ku 1966, J. Res. NBS 70C, 263, eq. 2.11): var(a/b) = (Vaa - 2R Vab + R^2 Vbb)/b^2 */
        vX = (cov[I4][I4] - 2 * X * cov[I4][I6] + X * X * cov[I6][I6]) / (m6 * m6);
        vY = (cov[I7][I7] - 2 * Y * cov[I7][I6] + Y * Y * cov[I6][I6]) / (m6 * m6);
        vZ = (cov[I8][I8] - 2 * Z * cov[I8][I6] + Z * Z * cov[I6][I6]) / (m6 * m6);
        cXY = (cov[I4][I7] - X * cov[I7][I6] - Y * cov[I4][I6] + X * Y * cov[I6][I6]) / (m6 * m6);
        if (zero204) {
            X = 0;
            /* Poisson upper limit for zero counts (Gehrels 1986, Table 1) as the 1-sigma of 204/206 */
            vX = pow(o->poisson_zero_upper / t4_total / m6, 2);
            cXY = 0;
        }
    } else {
        double mx = 0, my = 0, mz = 0;
        for (size_t i = 0; i < n; i++)
            if (keep[i]) {
                mx += v[i * NISO + I4] / v[i * NISO + I6] / (double)m;
                my += r76[i] / (double)m;
                mz += v[i * NISO + I8] / v[i * NISO + I6] / (double)m;
            }
        double sxx = 0, syy = 0, szz = 0, sxy = 0;
        for (size_t i = 0; i < n; i++)
            if (keep[i]) {
                double dx = v[i * NISO + I4] / v[i * NISO + I6] - mx, dy = r76[i] - my;
                double dz = v[i * NISO + I8] / v[i * NISO + I6] - mz;
                sxx += dx * dx;
                syy += dy * dy;
                szz += dz * dz;
                sxy += dx * dy;
            }
        double f = 1.0 / ((double)(m - 1) * m); /* standard error of the mean of the cycle ratios */
        X = mx;
        Y = my;
        Z = mz;
        vX = sxx * f;
        vY = syy * f;
        vZ = szz * f;
        cXY = sxy * f;
        if (zero204) {
            X = 0;
            double m6 = 0;
            for (size_t i = 0; i < n; i++)
                if (keep[i]) m6 += v[i * NISO + I6] / (double)m;
            vX = pow(o->poisson_zero_upper / t4_total / m6, 2); /* Gehrels 1986, Table 1 */
            cXY = 0;
        }
    }
    if (zero204) row->flags |= KR_SIMS_F_PB204_ZERO;
    /* linear mass-fractionation law (e.g. Hart & Zindler 1989, Chem. Geol. 79, 1): R_true = R (1 + eps dm) */
    double e = o->frac_per_amu;
    X *= 1 - 2 * e;
    vX *= pow(1 - 2 * e, 2);
    Y *= 1 + e;
    vY *= pow(1 + e, 2);
    Z *= 1 + 2 * e;
    vZ *= pow(1 + 2 * e, 2);
    cXY *= (1 - 2 * e) * (1 + e);
    row->pb204_pb206 = X;
    row->pb204_pb206_err = sqrt(fmax(vX, 0));
    row->pb207_pb206 = Y;
    row->pb207_pb206_err = sqrt(fmax(vY, 0));
    row->pb208_pb206 = idx[I8] >= 0 ? Z : NAN;
    row->pb208_pb206_err = idx[I8] >= 0 ? sqrt(fmax(vZ, 0)) : NAN;
    double den = row->pb204_pb206_err * row->pb207_pb206_err;
    row->rho_46_76 = den > 0 ? fmax(-1.0, fmin(1.0, cXY / den)) : 0.0;
    kr_pbpb_corr corr = {NAN, NAN, NAN};
    kr_pbpb_age age;
    rc = correct_and_date(o, X, row->pb204_pb206_err, Y, row->pb207_pb206_err, row->rho_46_76, &corr, &age,
                          &row->common_pb206_pb204, &row->common_pb207_pb204);
    if (rc) {
        double lim = kr_pbpb_ratio_limit(o->consts);
        int below = corr.rstar <= lim || Y <= lim;
        row->flags |= KR_SIMS_F_FAILED | (below ? KR_SIMS_F_BELOW_ZERO_AGE : 0);
        kr_err_format(row->message, sizeof row->message);
        rc = kr_err_at(KR_EINPUT, a->path, 0, "spot %s has no age", spot);
        goto cleanup;
    }
    row->f206_pct = 100 * corr.f206;
    if (corr.f206 > 0.01) row->flags |= KR_SIMS_F_HIGH_COMMON_PB;
    row->pb207_pb206_rad = corr.rstar;
    row->pb207_pb206_rad_err = corr.srstar;
    row->age_ma = age.t_ma;
    row->age_err_int_ma = age.st_int_ma;
    row->age_err_ext_ma = age.st_ext_ma;
    row->age_err_frac_ma = 0;
    if (o->frac_per_amu_err > 0) {
        /* systematic from the fractionation factor (shared by all spots): age at eps + sigma_eps */
        double k = o->frac_per_amu_err;
        double X2 = X * (1 - 2 * (e + k)) / (1 - 2 * e), Y2 = Y * (1 + e + k) / (1 + e);
        kr_pbpb_corr c2;
        kr_pbpb_age a2;
        double u1, u2;
        if (correct_and_date(o, X2, row->pb204_pb206_err, Y2, row->pb207_pb206_err, row->rho_46_76, &c2, &a2, &u1,
                             &u2) == KR_OK)
            row->age_err_frac_ma = fabs(a2.t_ma - age.t_ma);
        else
            kr_err_clear();
    }
cleanup:
    free(v);
    free(r76);
    free(keep);
    return rc;
}

static void set_nan_iso(kr_sims_age_row *o)
{
    o->inv_intercept = o->inv_intercept_err = o->inv_slope = o->inv_slope_err = o->inv_cov_ab = NAN;
    o->inv_mswd = o->inv_p = o->inv_age_ma = o->inv_age_err_ma = o->inv_age_err_ext_ma = NAN;
    o->inv_age_err_inflated_ma = o->inv_age_err_frac_ma = NAN;
    o->nrm_intercept = o->nrm_intercept_err = o->nrm_slope = o->nrm_slope_err = o->nrm_cov_ab = NAN;
    o->nrm_mswd = o->nrm_p = o->nrm_age_ma = o->nrm_age_err_ma = o->nrm_age_err_ext_ma = NAN;
    o->nrm_age_err_inflated_ma = o->nrm_age_err_frac_ma = NAN;
}

static void append(char *buf, size_t len, const char *s)
{
    size_t l = strlen(buf);
    if (l + strlen(s) + 2 >= len) return;
    snprintf(buf + l, len - l, "%s%s", l ? ";" : "", s);
}

/* The columns of one isochron fit (prefix inv_ or nrm_) in a group row. Fractionation scales r* by
 * (1 + eps), so its age error is r* sigma_eps / (dr/dt), added to the external error in quadrature. */
#define PUT_ISOCHRON(row, pfx, iso, frac_err)                                                          \
    do {                                                                                               \
        (row)->pfx##_intercept = (iso).fit.a;                                                          \
        (row)->pfx##_intercept_err = (iso).fit.sa;                                                     \
        (row)->pfx##_slope = (iso).fit.b;                                                              \
        (row)->pfx##_slope_err = (iso).fit.sb;                                                         \
        (row)->pfx##_cov_ab = (iso).fit.cov_ab;                                                        \
        (row)->pfx##_mswd = (iso).fit.mswd;                                                            \
        (row)->pfx##_p = (iso).fit.p;                                                                  \
        (row)->pfx##_age_ma = (iso).age.t_ma;                                                          \
        (row)->pfx##_age_err_ma = (iso).age.st_int_ma;                                                 \
        (row)->pfx##_age_err_frac_ma = fabs((iso).rstar * (frac_err) / (iso).age.dr_dt);              \
        (row)->pfx##_age_err_ext_ma = hypot((iso).age.st_ext_ma, (row)->pfx##_age_err_frac_ma);       \
        (row)->pfx##_age_err_inflated_ma = (iso).st_inflated_ma;                                       \
    } while (0)

int kr_sims_group(const char *group, const kr_sims_spot_row *spots, size_t n, const kr_pbpb_consts *c,
                  int wmean_outliers, double frac_per_amu_err, kr_sims_age_row *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->group, sizeof out->group, "%s", group);
    out->wmean_age_ma = out->wmean_err_ma = out->wmean_err_ext_ma = out->wmean_err_inflated_ma = NAN;
    out->wmean_mswd = out->wmean_p = out->wmean_err_frac_ma = NAN;
    set_nan_iso(out);
    size_t m = 0;
    double *t = malloc((n ? n : 1) * 8 * sizeof *t);
    size_t *map = malloc((n ? n : 1) * sizeof *map);
    unsigned char *valid = malloc(n ? n : 1);
    int rc = KR_OK;
    if (!t || !map || !valid) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    double *st = t + n, *x = t + 2 * n, *sx = t + 3 * n, *y = t + 4 * n, *sy = t + 5 * n, *r = t + 6 * n;
    for (size_t i = 0; i < n; i++)
        if (!(spots[i].flags & KR_SIMS_F_FAILED) && isfinite(spots[i].age_ma) && spots[i].age_err_int_ma > 0) {
            t[m] = spots[i].age_ma;
            st[m] = spots[i].age_err_int_ma;
            map[m++] = i;
        }
    out->n_spots = (int32_t)m;
    if (m == 0) {
        snprintf(out->message, sizeof out->message, "no spot with an age");
        goto cleanup;
    }
    kr_wmean_result w;
    rc = kr_wmean(t, st, m, wmean_outliers, valid, &w);
    if (rc) goto cleanup;
    out->n_used = (int32_t)w.n_used;
    out->wmean_age_ma = w.mean;
    out->wmean_err_ma = w.err;
    out->wmean_err_inflated_ma = w.err_inflated;
    out->wmean_mswd = w.mswd;
    out->wmean_p = w.p;
    for (size_t i = 0; i < m; i++)
        if (!valid[i]) append(out->rejected, sizeof out->rejected, spots[map[i]].spot);
    /* systematic parts added in quadrature: decay constants and U ratio at the mean age; the
     * fractionation factor, fully correlated between spots, so its weighted mean */
    double sw = 0, swf = 0;
    for (size_t i = 0; i < m; i++)
        if (valid[i]) {
            sw += 1 / (st[i] * st[i]);
            swf += spots[map[i]].age_err_frac_ma / (st[i] * st[i]);
        }
    out->wmean_err_frac_ma = swf / sw;
    kr_pbpb_age sys;
    if (kr_pbpb_age_solve(c, kr_pbpb_ratio(c, w.mean), 0.0, &sys) == KR_OK)
        out->wmean_err_ext_ma = sqrt(w.err * w.err + sys.st_ext_ma * sys.st_ext_ma + swf / sw * swf / sw);
    else
        kr_err_clear();
    /* isochrons on the measured ratios of the spots with an age */
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        const kr_sims_spot_row *s = &spots[map[i]];
        x[k] = s->pb204_pb206;
        sx[k] = s->pb204_pb206_err;
        y[k] = s->pb207_pb206;
        sy[k] = s->pb207_pb206_err;
        r[k] = s->rho_46_76;
        k++;
    }
    out->inv_n = (int32_t)k;
    kr_pbpb_isochron iso;
    if (k >= 3 && kr_pbpb_isochron_fit(c, KR_ISO_INVERSE, x, sx, y, sy, r, k, &iso) == KR_OK) {
        PUT_ISOCHRON(out, inv, iso, frac_per_amu_err);
    } else {
        char why[KR_SIMS_MSG] = "";
        kr_err_format(why, sizeof why);
        kr_err_clear();
        append(out->message, sizeof out->message, k < 3 ? "inverse isochron: < 3 spots" : "inverse isochron failed: ");
        if (k >= 3) {
            size_t l = strlen(out->message);
            snprintf(out->message + l, sizeof out->message - l, "%.*s", (int)(sizeof out->message - l - 1), why);
        }
    }
    /* normal form: only spots with 204Pb counted (206/204 finite) */
    size_t kn = 0;
    for (size_t i = 0; i < k; i++) {
        if (!(x[i] > 0)) continue;
        kr_pbpb_normal_to_inverse(x[i], sx[i], y[i], sy[i], r[i], &x[kn], &sx[kn], &y[kn], &sy[kn], &r[kn]);
        kn++;
    }
    out->nrm_n = (int32_t)kn;
    if (kn >= 3 && kr_pbpb_isochron_fit(c, KR_ISO_NORMAL, x, sx, y, sy, r, kn, &iso) == KR_OK) {
        PUT_ISOCHRON(out, nrm, iso, frac_per_amu_err);
    } else {
        kr_err_clear();
        append(out->message, sizeof out->message, "normal isochron not computed (< 3 spots with 204Pb or no fit)");
    }
cleanup:
    free(t);
    free(map);
    free(valid);
    return rc;
}
