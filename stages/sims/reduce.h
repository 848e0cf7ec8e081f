/* SIMS Pb-Pb reduction: one .asc spot -> cycle table rows + one spot row; a group of spots -> one ages
 * row (weighted mean of 207Pb/206Pb ages and York isochrons in inverse and normal form). */
#ifndef KR_SIMS_REDUCE_H
#define KR_SIMS_REDUCE_H
#include "asc.h"
#include "pbpb.h"
#include "table.h"

#include <stddef.h>
#include <stdint.h>

typedef enum { KR_RATIO_CYCLE_MEANS = 0, KR_RATIO_MEAN_OF_RATIOS = 1 } kr_ratio_mode;
typedef enum { KR_CPB_NONE = 0, KR_CPB_STACEY_KRAMERS = 1, KR_CPB_FIXED = 2 } kr_cpb_model;

typedef struct {
    kr_ratio_mode ratio_mode;
    /* Cycle outlier rule: a cycle is rejected when its 207Pb/206Pb lies more than cycle_outlier_k robust
     * standard deviations (1.4826 x MAD) from the median of the spot's cycles; single pass, at most
     * a third of the cycles, none when MAD = 0. <= 0 disables the rule. */
    double cycle_outlier_k;
    kr_cpb_model cpb;
    double c64, c74;           /* common 206/204, 207/204 for KR_CPB_FIXED (Canyon Diablo or user) */
    double frac_per_amu;       /* linear mass-fractionation correction per amu (0 = none) */
    double frac_per_amu_err;   /* its 1 sigma */
    double poisson_zero_upper; /* 1-sigma Poisson upper limit for zero counts (calib) */
    const kr_pbpb_consts *consts;
    const kr_sk_model *sk; /* for KR_CPB_STACEY_KRAMERS */
} kr_sims_opts;

enum {
    KR_SIMS_F_PB204_ZERO = 1,      /* no 204Pb counted: 204/206 is 0 with a Poisson upper-limit sigma */
    KR_SIMS_F_CYCLES_REJECTED = 2, /* the cycle outlier rule removed cycles */
    KR_SIMS_F_BELOW_ZERO_AGE = 4,  /* r* at or below lambda235/(lambda238 U): no age */
    KR_SIMS_F_NEGATIVE_COUNTS = 8, /* mean 204Pb <= 0 after background (kept as is), or 206/207 <= 0 (fails) */
    KR_SIMS_F_FAILED = 16,         /* the spot has no age (see message) */
    KR_SIMS_F_HIGH_COMMON_PB = 32  /* f206 > 1 % */
};

enum { KR_SIMS_NAME = 48, KR_SIMS_FILE = 96, KR_SIMS_MSG = 160, KR_SIMS_LIST = 256 };

typedef struct { /* /sims/cycles */
    char spot[KR_SIMS_NAME];
    char group[KR_SIMS_NAME];
    int32_t block, cycle, rejected;
    double pb204_cps, pb206_cps, pb207_cps, pb208_cps; /* dead time, background, yield corrected */
    double pb204_counts, pb206_counts, pb207_counts;   /* raw counts (cps x count time) */
} kr_sims_cycle_row;

typedef struct { /* /sims/spots */
    char spot[KR_SIMS_NAME];
    char group[KR_SIMS_NAME];
    char file[KR_SIMS_FILE];
    int32_t n_cycles, n_rejected, flags;
    double pb204_pb206, pb204_pb206_err, pb207_pb206, pb207_pb206_err, pb208_pb206, pb208_pb206_err;
    double rho_46_76;
    double common_pb206_pb204, common_pb207_pb204;
    double f206_pct;
    double pb207_pb206_rad, pb207_pb206_rad_err;
    double age_ma, age_err_int_ma, age_err_ext_ma;
    double age_err_frac_ma; /* systematic from the mass-fractionation factor (0 if none) */
    char message[KR_SIMS_MSG];
} kr_sims_spot_row;

typedef struct { /* /sims/ages */
    char group[KR_SIMS_NAME];
    int32_t n_spots, n_used;
    double wmean_age_ma, wmean_err_ma, wmean_err_ext_ma, wmean_err_frac_ma, wmean_err_inflated_ma, wmean_mswd, wmean_p;
    char rejected[KR_SIMS_LIST];
    int32_t inv_n;
    double inv_intercept, inv_intercept_err, inv_slope, inv_slope_err, inv_cov_ab, inv_mswd, inv_p;
    double inv_age_ma, inv_age_err_ma, inv_age_err_ext_ma, inv_age_err_frac_ma, inv_age_err_inflated_ma;
    int32_t nrm_n;
    double nrm_intercept, nrm_intercept_err, nrm_slope, nrm_slope_err, nrm_cov_ab, nrm_mswd, nrm_p;
    double nrm_age_ma, nrm_age_err_ma, nrm_age_err_ext_ma, nrm_age_err_frac_ma, nrm_age_err_inflated_ma;
    char message[KR_SIMS_MSG];
} kr_sims_age_row;

extern const kr_table_desc kr_sims_cycles_desc;
extern const kr_table_desc kr_sims_spots_desc;
extern const kr_table_desc kr_sims_ages_desc;

/* Reduce one spot. `cycles` receives a->ncycles rows. The spot row is always filled as far as the
 * reduction got (flags, message); the return is KR_OK or the reason the spot has no age (the error is
 * also on the stack) so the caller can carry on with the other spots. */
int kr_sims_reduce_spot(const kr_asc *a, const char *spot, const char *group, const kr_sims_opts *o,
                        kr_sims_spot_row *row, kr_sims_cycle_row *cycles);

/* Group statistics over spots[0..n) (spots flagged FAILED are left out). `wmean_outliers` switches
 * IsoplotR's Chauvenet rule; `frac_per_amu_err` (0 if none) is the sigma of the applied fractionation
 * factor, propagated as a systematic into the *_ext_ma and *_frac_ma columns. Isochrons need >= 3
 * spots (normal form: >= 3 with 204Pb > 0); otherwise their columns are NaN and the message says why. */
int kr_sims_group(const char *group, const kr_sims_spot_row *spots, size_t n, const kr_pbpb_consts *c,
                  int wmean_outliers, double frac_per_amu_err, kr_sims_age_row *out);

#endif
