/* Forward model of map counts. */
#include "map_synth.h"

#include "error.h"

#include <gsl/gsl_randist.h>
#include <math.h>

static double observe(double rate_cps, double dead_time_us, double t_s, gsl_rng *rng)
{
    /* observed rate of a non-paralyzable counter: r' = r/(1 + tau r) (inverse of r = r'/(1 - tau r')) */
    double rp = rate_cps / (1.0 + dead_time_us * 1e-6 * rate_cps);
    double mu = rp * t_s;
    if (mu < 0) mu = 0;
    return rng ? (double)gsl_ran_poisson(rng, mu) : mu;
}

int kr_map_synth_pixel(const kr_epma_ctx *ctx, const double *c, const kr_map_synth_elem *el, double dwell_ms,
                       double current_na, gsl_rng *rng, kr_epma_work *w, double *counts)
{
    double kstd[KR_EPMA_MAX_EL];
    int rc = kr_epma_forward(ctx, c, w, NULL, kstd);
    if (rc) return kr_err(rc, "synthetic map pixel");
    const kr_epma_setup *s = kr_epma_ctx_setup(ctx);
    for (int i = 0; i < s->n; i++) {
        if (s->el[i].role != KR_EPMA_MEASURED) continue;
        double r = (kstd[i] * el[i].std_cps_na + el[i].bg_cps_na) * current_na;
        counts[i] = observe(r, el[i].dead_time_us, dwell_ms * 1e-3, rng);
    }
    return KR_OK;
}

double kr_map_synth_bg(double bg_cps_na, double dead_time_us, double dwell_ms, double current_na, gsl_rng *rng)
{
    return observe(bg_cps_na * current_na, dead_time_us, dwell_ms * 1e-3, rng);
}
