#include "counts.h"

#include "error.h"
#include "text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define US_TO_S 1e-6 /* unit conversion µs -> s */

static const char *wh(const char *where) { return where ? where : "measurement"; }

int kr_deadtime_correct(double rate_cps, double dead_time_us, kr_deadtime_form form, const char *where,
                        double *out_cps)
{
    if (!(rate_cps >= 0.0) || !isfinite(rate_cps))
        return kr_err(KR_EINPUT, "%s: count rate must be >= 0, found %g cps", wh(where), rate_cps);
    if (!(dead_time_us >= 0.0) || !isfinite(dead_time_us))
        return kr_err(KR_EINPUT, "%s: dead time must be >= 0, found %g µs", wh(where), dead_time_us);
    double x = dead_time_us * US_TO_S * rate_cps; /* tau r' */
    if (x >= 1.0)
        return kr_err(KR_EINPUT,
                      "%s: dead time x rate = %.4g >= 1 (tau %g µs, rate %.6g cps): the detector is "
                      "saturated, no dead-time correction exists",
                      wh(where), x, dead_time_us, rate_cps);
    if (form == KR_DT_NONPARALYZABLE) {
        /* Non-paralyzable dead time: r = r'/(1 - tau r') (Knoll 2010, Radiation Detection, eq. 4.7) */
        *out_cps = rate_cps / (1.0 - x);
        return KR_OK;
    }
    /* Logarithmic form: r = r'/(1 + ln(1 - tau r')) (Donovan et al. 2023, Microsc. Microanal. 29,
     * "a new expression for correction of WDS intensities") */
    double d = 1.0 + log1p(-x);
    if (d <= 0.0)
        return kr_err(KR_EINPUT,
                      "%s: logarithmic dead-time correction undefined: 1 + ln(1 - tau r') = %.4g <= 0 "
                      "(tau r' = %.4g)",
                      wh(where), d, x);
    *out_cps = rate_cps / d;
    return KR_OK;
}

int kr_wds_net_compute(const kr_wds_counts *c, kr_deadtime_form dt, kr_bg_form bg, const char *where,
                       kr_wds_net *out)
{
    memset(out, 0, sizeof *out);
    const char *w = wh(where);
    if (!(c->peak_time_s > 0) || !(c->bgm_time_s > 0) || !(c->bgp_time_s > 0))
        return kr_err(KR_EINPUT, "%s: counting times must be > 0 s, found peak %g, bg- %g, bg+ %g", w,
                      c->peak_time_s, c->bgm_time_s, c->bgp_time_s);
    if (!(c->current_na > 0) || !isfinite(c->current_na))
        return kr_err(KR_EINPUT, "%s: beam current must be > 0 nA, found %g nA", w, c->current_na);
    if (!(c->peak_counts >= 0) || !(c->bgm_counts >= 0) || !(c->bgp_counts >= 0))
        return kr_err(KR_EINPUT, "%s: counts must be >= 0, found peak %g, bg- %g, bg+ %g", w, c->peak_counts,
                      c->bgm_counts, c->bgp_counts);
    if (!(c->off_minus_mm >= 0) || !(c->off_plus_mm >= 0) || !(c->off_minus_mm + c->off_plus_mm > 0))
        return kr_err(KR_EINPUT, "%s: background offsets must be >= 0 mm with a positive sum, found %g, %g", w,
                      c->off_minus_mm, c->off_plus_mm);
    int rc;
    char wpos[256];
    /* rate r' = N/t (DOMAIN §2.2 step 1) */
    snprintf(wpos, sizeof wpos, "%s, peak position", w);
    if ((rc = kr_deadtime_correct(c->peak_counts / c->peak_time_s, c->dead_time_us, dt, wpos, &out->peak_cps)))
        return rc;
    snprintf(wpos, sizeof wpos, "%s, background- position", w);
    if ((rc = kr_deadtime_correct(c->bgm_counts / c->bgm_time_s, c->dead_time_us, dt, wpos, &out->bgm_cps)))
        return rc;
    snprintf(wpos, sizeof wpos, "%s, background+ position", w);
    if ((rc = kr_deadtime_correct(c->bgp_counts / c->bgp_time_s, c->dead_time_us, dt, wpos, &out->bgp_cps)))
        return rc;

    /* weights of the two backgrounds: w- = d+/(d- + d+), w+ = d-/(d- + d+) (linear interpolation in position) */
    double dsum = c->off_minus_mm + c->off_plus_mm;
    double wm = c->off_plus_mm / dsum, wp = c->off_minus_mm / dsum;
    /* rate variances from Poisson counts, scaled by the dead-time correction: var(r) = r / t */
    double vm = out->bgm_cps / c->bgm_time_s, vp = out->bgp_cps / c->bgp_time_s;
    double var_bg;
    if (bg == KR_BG_EXP && out->bgm_cps > 0 && out->bgp_cps > 0) {
        /* exponential background: ln B = w- ln B- + w+ ln B+ (log-linear interpolation, Donovan et al.
         * Probe for EPMA "exponential" background model; DOMAIN §2.2 step 3) */
        out->bg_cps = exp(wm * log(out->bgm_cps) + wp * log(out->bgp_cps));
        double gm = wm * out->bg_cps / out->bgm_cps, gp = wp * out->bg_cps / out->bgp_cps;
        var_bg = gm * gm * vm + gp * gp * vp; /* first-order error propagation */
    } else {
        if (bg == KR_BG_EXP) out->flags |= KR_WDS_FLAG_EXP_FALLBACK;
        /* linear background: B = (B- d+ + B+ d-)/(d- + d+) (DOMAIN §2.2 step 3; Reed 2005, EPMA & SEM in
         * Geology, ch. 9) */
        out->bg_cps = wm * out->bgm_cps + wp * out->bgp_cps;
        var_bg = wm * wm * vm + wp * wp * vp;
    }
    /* net P - B; sigma_net = sqrt(P/t_p + w-^2 B-/t_b + w+^2 B+/t_b) (DOMAIN §2.2 step 4, JEOL's form) */
    out->net_cps = out->peak_cps - out->bg_cps;
    out->sigma_cps = sqrt(out->peak_cps / c->peak_time_s + var_bg);
    if (out->net_cps < 0) out->flags |= KR_WDS_FLAG_NEG_NET;
    /* beam-current normalisation: I = r / i (DOMAIN §2.2 step 5) */
    out->net_cps_na = out->net_cps / c->current_na;
    out->sigma_cps_na = out->sigma_cps / c->current_na;
    out->bg_cps_na = out->bg_cps / c->current_na;
    return KR_OK;
}

/* Half a unit of the last printed digit of a number written as text; -1 if not a number. */
static double printed_half_ulp(const char *s, double *value)
{
    if (kr_parse_double(s, value)) return -1.0;
    const char *p = s;
    while (*p == ' ' || *p == '\t') p++;
    int decimals = 0;
    const char *dot = NULL;
    for (; *p && *p != 'e' && *p != 'E' && *p != ' '; p++) {
        if (*p == '.') dot = p;
        else if (dot) decimals++;
    }
    long ex = 0;
    if (*p == 'e' || *p == 'E') ex = strtol(p + 1, NULL, 10);
    return 0.5 * pow(10.0, (double)(ex - decimals));
}

static int agrees(double ours, const char *txt)
{
    double v;
    double h = printed_half_ulp(txt, &v);
    if (h < 0) return 0;
    /* a relative 1e-9 slack absorbs the binary representation of the printed decimal */
    return fabs(ours - v) <= h * (1.0 + 1e-9) + 1e-12 * fabs(v);
}

int kr_wds_matches_printed(const kr_wds_net *n, const char *net_txt, const char *bg_txt, const char *sigma_txt)
{
    return agrees(n->net_cps, net_txt) && agrees(n->bg_cps, bg_txt) && agrees(n->sigma_cps, sigma_txt);
}

int kr_kratio(const kr_wds_net *unk, const kr_wds_net *std, const char *where, double *k, double *sigma_k)
{
    if (!(std->net_cps_na > 0))
        return kr_err(KR_EINPUT, "%s: the standard's net intensity is %g cps/nA (must be > 0)", wh(where),
                      std->net_cps_na);
    /* k = (Net_unk/I_unk)/(Net_std/I_std) (DOMAIN §2.2 step 6) */
    *k = unk->net_cps_na / std->net_cps_na;
    /* first-order propagation of both counting errors */
    double a = unk->sigma_cps_na / std->net_cps_na;
    double b = unk->net_cps_na * std->sigma_cps_na / (std->net_cps_na * std->net_cps_na);
    *sigma_k = sqrt(a * a + b * b);
    return KR_OK;
}

double kr_detection_limit(double bg_cps_na, double peak_time_s, double current_na, double c_std,
                          double std_net_cps_na)
{
    if (!(std_net_cps_na > 0) || !(peak_time_s > 0) || !(current_na > 0) || !(bg_cps_na >= 0)) return NAN;
    /* C_DL = 3 sqrt(I_B t i) C_std / (t i I_std) (Donovan, CalcZAF/Probe for EPMA detection limit; after
     * Ziebold 1967, Anal. Chem. 39, 858) */
    double ti = peak_time_s * current_na;
    return 3.0 * sqrt(bg_cps_na * ti) * c_std / (ti * std_net_cps_na);
}

int kr_deadtime_form_parse(const char *s, kr_deadtime_form *out)
{
    if (!s) return kr_err(KR_EINPUT, "dead-time form missing");
    if (kr_streq_ci(s, "nonparalyzable") || kr_streq_ci(s, "non-paralyzable") || kr_streq_ci(s, "jeol") ||
        kr_streq_ci(s, "linear")) {
        *out = KR_DT_NONPARALYZABLE;
        return KR_OK;
    }
    if (kr_streq_ci(s, "log") || kr_streq_ci(s, "logarithmic")) {
        *out = KR_DT_LOG;
        return KR_OK;
    }
    return kr_err(KR_EINPUT, "unknown dead-time form '%s' (expected nonparalyzable or logarithmic)", s);
}

int kr_bg_form_parse(const char *s, kr_bg_form *out)
{
    if (!s) return kr_err(KR_EINPUT, "background form missing");
    if (kr_streq_ci(s, "linear")) {
        *out = KR_BG_LINEAR;
        return KR_OK;
    }
    if (kr_streq_ci(s, "exponential") || kr_streq_ci(s, "exp")) {
        *out = KR_BG_EXP;
        return KR_OK;
    }
    return kr_err(KR_EINPUT, "unknown background form '%s' (expected linear or exponential)", s);
}
