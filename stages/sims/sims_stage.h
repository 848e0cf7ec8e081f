/* The SIMS Pb-Pb stage: the `sims:` section of run.yaml -> /sims/cycles, /sims/spots, /sims/ages. */
#ifndef KR_SIMS_STAGE_H
#define KR_SIMS_STAGE_H
#include "config.h"
#include "product.h"
#include "reduce.h"

#include <stddef.h>

extern const kr_param_table kr_sims_params; /* parameters "sims.*" */

typedef enum { KR_GROUP_PREFIX = 0, KR_GROUP_SAMPLE_NAME = 1, KR_GROUP_FILE = 2 } kr_group_rule;

enum { KR_SIMS_MAX_RM = 8 };

typedef struct {
    kr_group_rule group_rule; /* prefix: file stem before the last '@' ("Tem@3.asc" -> "Tem") */
    kr_ratio_mode ratio_mode;
    double cycle_outlier_k;
    kr_cpb_model cpb;
    double c64, c74; /* for KR_CPB_FIXED */
    int wmean_outliers;
    /* reference materials: group -> expected 207Pb/206Pb age (Ma, 1 sigma) */
    size_t n_rm;
    char rm_group[KR_SIMS_MAX_RM][KR_SIMS_NAME];
    char rm_name[KR_SIMS_MAX_RM][KR_SIMS_NAME];
    double rm_age_ma[KR_SIMS_MAX_RM], rm_age_err_ma[KR_SIMS_MAX_RM];
    int fractionation_rm; /* index into rm_* whose group sets mass fractionation, -1: none */
    kr_pbpb_consts consts;
    kr_sk_model sk;
    double poisson_zero_upper;
} kr_sims_settings;

/* Defaults (cycle means, k = 3.5, Stacey-Kramers, outliers on, no fractionation) with constants from
 * calib/ (`u_name` as kr_pbpb_consts_load). */
int kr_sims_settings_default(kr_sims_settings *s, const char *u_name);
/* Add a reference material: `material` is a name in calib/sims_reference_materials.csv. */
int kr_sims_settings_add_rm(kr_sims_settings *s, const char *group, const char *material);

typedef struct {
    kr_sims_cycle_row *cycles;
    size_t ncycles;
    kr_sims_spot_row *spots;
    size_t nspots;
    kr_sims_age_row *ages;
    size_t nages;
    size_t nfailed;                        /* spots without an age (their rows carry the message) */
    double frac_per_amu, frac_per_amu_err; /* applied mass fractionation (0 if none) */
} kr_sims_result;

/* Reduce a list of .asc files. A file that cannot be read or a spot that cannot be reduced fails alone:
 * it gets a spot row with FAILED and the message (and the error is cleared). Owner: caller
 * (kr_sims_result_free). */
int kr_sims_reduce_files(const char *const *paths, size_t npaths, const kr_sims_settings *s, kr_sims_result *res);
void kr_sims_result_free(kr_sims_result *res);

typedef struct {
    size_t n_files, n_spots, n_failed, n_groups;
} kr_sims_summary;

/* Read the `sims:` section, reduce, write /sims/cycles, /sims/spots, /sims/ages into `out` (may be NULL
 * for a dry run) and record the inputs. */
int kr_sims_run(const kr_config *cfg, kr_product *out, kr_sims_summary *summary);

#endif
