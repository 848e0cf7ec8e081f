/* The EPMA point reduction: measured points + standards -> /epma/points and /epma/samples rows.
 * Pure: no config, no HDF5 (stage_epma.c wires it to the run). DOMAIN.md §2.2-2.3. */
#ifndef KR_EPMA_POINTS_H
#define KR_EPMA_POINTS_H
#include "atomic.h"
#include "counts.h"
#include "matrix.h"
#include "points_input.h"
#include "table.h"

#include <stdint.h>

/* Row flags of /epma/points (bit set); the low bits are the KR_WDS_FLAG_* of counts.h. */
enum {
    KR_EPMA_FLAG_BELOW_DL = 1 << 3,     /* mass % below the detection limit */
    KR_EPMA_FLAG_FAILED = 1 << 4,       /* the point's matrix correction failed (see status) */
    KR_EPMA_FLAG_DIFFERENCE = 1 << 5,   /* element computed by difference */
    KR_EPMA_FLAG_STOICH_O = 1 << 6,     /* oxygen computed by stoichiometry */
    KR_EPMA_FLAG_DRIFT_STD = 1 << 7,    /* the standard was measured more than once: mean used */
    KR_EPMA_FLAG_STD_INTERP = 1 << 8    /* standard intensity interpolated in time (epma.std_drift linear) */
};

/* How repeated measurements of a standard within a session are used (DOMAIN.md §2.2 step 5). */
typedef enum {
    KR_EPMA_STD_DRIFT_LINEAR = 0, /* linear in acquisition time between the bracketing measurements */
    KR_EPMA_STD_DRIFT_MEAN = 1    /* one mean intensity for the whole session */
} kr_epma_std_drift;

/* Parse "linear" | "mean". */
int kr_epma_std_drift_parse(const char *s, kr_epma_std_drift *out);

typedef struct {
    kr_epma_model model;
    kr_mac_source mac;
    int fluorescence;            /* 1: Reed fluorescence on */
    kr_deadtime_form dead_time;
    kr_bg_form background;
    char fe_oxide[8];            /* "FeO" (default) or "Fe2O3" */
    char by_difference[4];       /* element symbol, "" = none */
    int oxygen_stoich;           /* 1: O by stoichiometry when O is not measured */
    char sample_rule[128];       /* "last_underscore" | "whole" | "regex:<POSIX ERE with one group>" */
    double takeoff_deg;          /* used when the input does not give it */
    int vendor_mismatch_error;   /* 1: a JEOL net/bg/sigma disagreement is an error, 0: a flag */
    kr_epma_std_drift std_drift; /* repeated standards: interpolated in time (default) or averaged */
    int nstd_override;           /* element -> standard name */
    char std_el[KR_EPMA_MAX_CH][4];
    char std_name[KR_EPMA_MAX_CH][64];
    int n_mac_override;
    kr_mac_override mac_override[KR_EPMA_MAX_MAC_OVR];
} kr_epma_opts;

void kr_epma_opts_default(kr_epma_opts *o);

/* /epma/points: one row per point and element (measured, O by stoichiometry, difference). */
typedef struct {
    char sample_id[48];
    char point[64];
    char comment[96];
    char element[4];
    char xray_line[4];
    char crystal[12];
    char standard[64];
    char oxide[16];
    char status[160]; /* "ok" or why the point failed */
    int32_t point_index;
    int32_t iterations;
    int32_t flags;
    double kv, current_na, x_mm, y_mm;
    double peak_counts, bgm_counts, bgp_counts, peak_time_s, bg_time_s, dead_time_us;
    double peak_cps, bg_cps, net_cps, sigma_net_cps, net_cps_na, std_net_cps_na;
    double jeol_net_cps, jeol_bg_cps, jeol_sigma_cps;
    double k, sigma_k, z_factor, a_factor, f_factor;
    double mass_pct, sigma_mass_pct, oxide_pct, dl_mass_pct, dl_oxide_pct, total_oxide_pct;
} kr_epma_point_row;

/* /epma/samples: one row per sample id and component (oxide, element, or "Total"). */
typedef struct {
    char sample_id[48];
    char component[16];
    int32_t n_points;
    double mean_wt, sd_wt, sem_wt, min_wt, max_wt;
} kr_epma_sample_row;

/* /epma/standards: one row per standard, element, line, crystal and beam energy of the session. */
typedef struct {
    char standard[64];
    char element[4];
    char xray_line[4];
    char crystal[12];
    char formula[48];    /* atom proportions, for the matrix correction ("Ca0.2Si0.2O0.6") */
    int32_t n_measurements;
    double kv;
    double net_cps_na;   /* mean of its measurements */
    double sigma_cps_na; /* of that mean, counting statistics */
    double bg_cps_na;
    double first_time_s, last_time_s; /* acquisition times, s since 1970 (NaN: not recorded) */
    double c_std_pct;    /* the element's mass % in the standard */
} kr_epma_std_row;

extern const kr_table_desc kr_epma_points_desc;
extern const kr_table_desc kr_epma_samples_desc;
extern const kr_table_desc kr_epma_standards_desc;

/* Result of a reduction. Owner: caller (kr_epma_out_free). */
typedef struct {
    kr_epma_point_row *points;
    size_t npoints;
    kr_epma_sample_row *samples;
    size_t nsamples;
    kr_epma_std_row *standards;
    size_t nstandards;
    int failed_points;     /* points whose matrix correction failed (rows flagged, excluded from means) */
    int vendor_checked;    /* channels compared with JEOL's own net/bg/sigma */
    int vendor_mismatches; /* of which disagreed */
} kr_epma_out;

void kr_epma_out_free(kr_epma_out *o);

/* Reduce unknowns against standards. A standard (element, line, name) measured at two or more distinct
 * times is, under KR_EPMA_STD_DRIFT_LINEAR, interpolated linearly in acq_time_s for each unknown with a
 * time (held at the first/last value outside the measured span; repeats at one time averaged first;
 * rows flagged KR_EPMA_FLAG_STD_INTERP); otherwise, and when the unknown or any measurement of that
 * standard has no time, the mean of its measurements is used (KR_EPMA_FLAG_DRIFT_STD if more than one).
 * Input errors (tau*rate >= 1, zero current, no standard for an
 * element, ...) fail the whole reduction with a message naming file:line; a point whose matrix
 * correction does not converge is flagged and counted in failed_points. */
int kr_epma_reduce(const kr_epma_opts *o, const kr_atomic *at, const kr_epma_points *unknowns,
                   const kr_epma_points *standards, kr_epma_out *out);

/* Sample id of a point's comment under a rule (see kr_epma_opts.sample_rule). */
int kr_epma_sample_id(const char *rule, const char *comment, char *buf, size_t len);

/* Per-sample mean of a component (e.g. "SiO2") for the LA-ICP-MS internal standard.
 * Returns 0 and fills mean/sd/n, or KR_EINPUT (no message pushed) when the sample or component is absent. */
int kr_epma_sample_mean(const kr_epma_out *o, const char *sample_id, const char *component, double *mean_wt,
                        double *sd_wt, int *n_points);

#endif
