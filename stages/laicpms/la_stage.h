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
/* QA of the secondary reference glasses (owner of *out: caller, free()). */
int kr_la_qa(const kr_la_session *s, const kr_la_result *rows, double target_rsd_pct, kr_la_qa_row **out,
             size_t *nout);
/* Write /laicpms/spots, /laicpms/calibration, /laicpms/samples, /laicpms/eu_anomaly, /qa/reference_materials.
 * rows: nspots x nana from kr_la_quantify_spot. ctx may be NULL. */
int kr_la_write_results(kr_la_session *s, const kr_la_result *rows, double target_rsd_pct, kr_product *out,
                        kr_run_ctx *ctx);

#endif
