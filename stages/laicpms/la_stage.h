/* The LA-ICP-MS stage (run.yaml section `laicpms:`). */
#ifndef KR_LA_STAGE_H
#define KR_LA_STAGE_H
#include "config.h"
#include "la_reduce.h"
#include "product.h"
#include "stage.h"

extern const kr_param_table kr_laicpms_params;
extern const kr_stage kr_laicpms_stage;
extern const kr_table_desc kr_la_spots_desc;
extern const kr_table_desc kr_la_qa_desc;

/* One row of /qa/reference_materials (a secondary glass reduced as an unknown, per analyte). */
typedef struct {
    char stage[12];
    char material[KR_LA_NAME];
    char analyte[KR_LA_LABEL];
    int32_t n;
    double mean, sd, rsd_pct, preferred, preferred_u_1s;
    char preferred_u_type[16];
    double bias_pct, z, zeta;
    int32_t within_uncertainty;
    char status[12];
} kr_la_qa_row;

/* Settings and window options from the laicpms.* parameters; dwell_s for exports without dwell times. */
int kr_la_config_settings(const kr_config *cfg, kr_la_settings *set, kr_la_opts *o, double *dwell_s);
/* Windows (config overrides when cfg != NULL), spot summaries and (write_series) time series of one
 * acquisition. A spot whose windows cannot be found is reported (ctx) and kept as failed. */
int kr_la_process_acq(kr_la_session *s, const kr_config *cfg, const kr_la_acq *a, kr_product *out, kr_run_ctx *ctx,
                      int write_series);
/* /laicpms/timeseries/<spot> of window w of `a` (sweeps seg0..seg1): NXdata group with `cps` (sweeps x
 * isotopes, float64) and dimension scales `time_s` and `isotope` (layout: stages/laicpms/README.md). */
int kr_la_write_series(kr_product *out, const kr_la_acq *a, const kr_la_window *w, const char *spot);
/* QA of the secondary reference glasses (owner of *out: caller, free()). */
int kr_la_qa(const kr_la_session *s, const kr_la_result *rows, double target_rsd_pct, kr_la_qa_row **out,
             size_t *nout);
/* Write /laicpms/spots, /laicpms/calibration, /laicpms/samples, /laicpms/eu_anomaly, /qa/reference_materials.
 * rows: nspots x nana from kr_la_quantify_spot. ctx may be NULL. */
int kr_la_write_results(kr_la_session *s, const kr_la_result *rows, double target_rsd_pct, kr_product *out,
                        kr_run_ctx *ctx);
/* The same without the nspots x nana rows array: quantifies spot by spot (after kr_la_session_calibrate),
 * appends each spot's rows to /laicpms/spots in blocks (pipeline/product_rows.h) and keeps running sums
 * for the per-sample and QA tables (a second pass re-quantifies for the squared deviations), so memory
 * grows with the samples, not with the spots. Spots that fail to quantify are reported to ctx (may be
 * NULL), except those already reported when their windows failed. Same table contents, bit for bit. */
int kr_la_quantify_write(kr_la_session *s, double target_rsd_pct, kr_product *out, kr_run_ctx *ctx);

#endif
