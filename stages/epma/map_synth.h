/* Forward model of map counts (for tests, the benchmark and scripts/synth-maps): composition of a
 * pixel -> k-ratios (kr_epma_forward, the matrix engineer's model) -> rates -> dead time -> counts,
 * exact (expected values) or Poisson-sampled. */
#ifndef KR_MAP_SYNTH_H
#define KR_MAP_SYNTH_H
#include "matrix.h"

#include <gsl/gsl_rng.h>

typedef struct {
    double std_cps_na;   /* net intensity of the standard, cps/nA */
    double bg_cps_na;    /* background under the peak, cps/nA (true, dead-time free) */
    double dead_time_us; /* non-paralyzable dead time applied to the true total rate */
} kr_map_synth_elem;

/* Peak counts of every MEASURED element of ctx for a pixel of composition c (mass fractions of every
 * setup element, O included), dwell and current. counts[i] for measured i (others untouched).
 * rng NULL: expected counts (not integers); else Poisson samples. Observed rate from the true rate r:
 * r' = r/(1 + tau r) (the inverse of the non-paralyzable correction). */
int kr_map_synth_pixel(const kr_epma_ctx *ctx, const double *c, const kr_map_synth_elem *el, double dwell_ms,
                       double current_na, gsl_rng *rng, kr_epma_work *w, double *counts);

/* Counts of a background measured off-peak: true rate bg_cps_na * current, dead time, Poisson (rng). */
double kr_map_synth_bg(double bg_cps_na, double dead_time_us, double dwell_ms, double current_na, gsl_rng *rng);

#endif
