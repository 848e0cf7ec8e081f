/* Quantitative maps: counts per pixel -> wt% with the full matrix correction of matrix.h (the same
 * kr_epma_solve the point analyses use), DOMAIN.md §2.4.
 *
 * Per pixel: rate = counts / dwell -> dead time -> per nA -> minus background (constant, off-peak maps,
 * or a calibration line against spot analyses inside the map, XMapTools style) -> k against the
 * standard -> kr_epma_solve (warm start from the neighbouring pixel) -> mass fractions, oxygen by
 * stoichiometry, elements not mapped fixed from the setup. Per-element constants are computed once per
 * map (kr_epma_ctx + the factors below); rows are split across threads, each with its own workspace.
 * Per-pixel sigma: counting statistics of the peak (and off-peak maps) propagated to wt% through the
 * converged correction factors. */
#ifndef KR_MAP_QUANT_H
#define KR_MAP_QUANT_H
#include "counts.h"
#include "matrix.h"

#include <stddef.h>
#include <stdint.h>

typedef enum {
    KR_MAPBG_CONST = 0, /* bg_cps_na under the peak for every pixel */
    KR_MAPBG_MAPS = 1,  /* off-peak count maps bg_minus/bg_plus, interpolated linearly in position */
    KR_MAPBG_CALIB = 2  /* bg_cps_na (and std_cps_na) fitted by kr_mapq_calibrate */
} kr_mapbg_kind;

/* One mapped element (index = its element index in the kr_epma_ctx setup; role MEASURED). */
typedef struct {
    const float *counts;              /* peak counts per pixel, ny*nx row-major (borrowed) */
    double dead_time_us;
    kr_deadtime_form dt_form;
    kr_mapbg_kind bg;
    double bg_cps_na;                 /* CONST / CALIB: background under the peak, cps/nA */
    const float *bg_minus, *bg_plus;  /* MAPS: off-peak counts per pixel (borrowed) */
    double bg_dwell_ms;               /* MAPS: dwell of the off-peak maps, ms */
    double off_minus_mm, off_plus_mm; /* MAPS: background offsets from the peak, mm */
    double std_cps_na;                /* net intensity of the standard, cps/nA */
    /* the same maps held as exact 16-bit counts (set instead of the float pointers above) */
    const uint16_t *counts_u16, *bg_minus_u16, *bg_plus_u16;
} kr_mapq_elem;

typedef struct {
    size_t nx, ny;
    double dwell_ms;
    double current_na;
    const kr_epma_ctx *ctx;           /* the setup: MEASURED elements are the mapped ones */
    kr_mapq_elem el[KR_EPMA_MAX_EL];  /* indexed like the setup; only MEASURED entries are used */
    int nthreads;                     /* 1 or 2 (more allowed) */
    int want_iterations;              /* 1: fill kr_mapq_out.iterations */
    /* a pixel whose analytical total before correction (kr_epma_first_order_total) is below this mass
     * fraction holds none of the analysed material (epoxy, a hole, a crack): it is not corrected, its
     * results are NaN and it is counted as outside. 0: every pixel is corrected. */
    double min_total_frac;
} kr_mapq_in;

/* Per-pixel results, float (ny*nx each) to keep a map's memory near the raw data's.
 * mass_pct[i]: MEASURED, STOICH_O and DIFFERENCE elements (NULL for FIXED: see the setup);
 * sigma_pct[i]: MEASURED elements only. Unconverged pixels are NaN everywhere. */
typedef struct {
    size_t nx, ny;
    int n;
    float *mass_pct[KR_EPMA_MAX_EL];
    float *sigma_pct[KR_EPMA_MAX_EL];
    unsigned char *iterations; /* per pixel, when asked for (capped at 255; 0 = failed) */
    size_t n_failed;        /* pixels where the correction did not converge */
    size_t n_outside;       /* pixels below min_total_frac (NaN, not corrected) */
    double mean_iterations; /* over converged pixels */
} kr_mapq_out;

/* Quantify every pixel. Owner of out's arrays: caller (kr_mapq_out_free, also after a failure).
 * Fails (message) on a bad setup, tau*rate >= 1 in a pixel, or out of memory; a pixel whose correction
 * does not converge is NaN and counted in n_failed, not an error. */
int kr_mapq_run(const kr_mapq_in *in, kr_mapq_out *out);
void kr_mapq_out_free(kr_mapq_out *out);

/* Streaming: the map in bands of band_rows rows. Each band starts afresh (its first pixel from k, then
 * each pixel from its neighbour's solution), so results do not depend on the number of threads. */
typedef struct {
    size_t index, row0, nrows, nx;
    float *mass_pct[KR_EPMA_MAX_EL];  /* nrows*nx each, as in kr_mapq_out */
    float *sigma_pct[KR_EPMA_MAX_EL];
    unsigned char *iterations;        /* when want_iterations */
    size_t n_failed, n_outside, n_ok;
    double iter_sum;
} kr_mapq_band;
typedef struct {
    void *user;
    /* in the thread that computed band b, right after it (bands of different threads run at once);
     * `thread` is 0..nthreads-1 (per-thread scratch). A non-zero status stops the run. */
    int (*done)(void *user, const kr_mapq_band *b, int thread);
    /* on the calling thread, in band order 0, 1, 2, ... (e.g. writing); at most `ahead` bands are
     * computed beyond the last committed one. NULL: nothing to commit. */
    int (*commit)(void *user, size_t band_index);
    size_t ahead;
} kr_mapq_sink;
typedef struct {
    size_t n_failed, n_outside;
    double mean_iterations; /* over converged pixels */
} kr_mapq_stats;
/* Number of bands of a map. */
size_t kr_mapq_nbands(size_t ny, size_t band_rows);
/* Quantify every pixel band by band into the sink. Fails like kr_mapq_run, or with the sink's status. */
int kr_mapq_stream(const kr_mapq_in *in, size_t band_rows, const kr_mapq_sink *sink, kr_mapq_stats *stats);

/* The per-pixel arithmetic of kr_mapq_run for one pixel (exposed for tests): net cps/nA, its sigma and
 * the k-ratio against the standard of element i at pixel p. */
int kr_mapq_pixel_k(const kr_mapq_in *in, int i, size_t p, double *net_cps_na, double *sigma_cps_na, double *k);

/* A spot analysis located inside the map (XMapTools-style calibration). */
typedef struct {
    double x_px, y_px;                /* pixel coordinates (column, row), may be fractional */
    double radius_px;                 /* pixels within this radius are averaged (0 = the nearest pixel) */
    double mass_frac[KR_EPMA_MAX_EL]; /* composition of every setup element (O included) */
} kr_map_spot;

/* Fit the calibration line  I(cps/nA, dead-time corrected, at the spots) = B + S k_std  for measured
 * element i, where k_std is the forward model's k-ratio (kr_epma_forward) of each spot's composition:
 * B is the background under the peak, S the standard's net intensity. fit_slope = 0 keeps S =
 * in->el[i].std_cps_na and fits B only (needs >= 1 spot); fit_slope = 1 fits both (needs >= 2 spots
 * with different k). Results are stored into el[i] (bg = CALIB); sigma of B is returned (NaN with
 * one spot). */
int kr_mapq_calibrate(kr_mapq_in *in, int i, const kr_map_spot *spots, size_t nspots, int fit_slope,
                      double *sigma_bg_cps_na);

#endif
