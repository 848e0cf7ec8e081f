/* A stage of the run (epma, laicpms, sims): one parameter table and one run function (ESO CPL recipe
 * style). The registry (which stages exist, in dependency order) lives in the executable
 * (pipeline/cmd_run.c), so that kr_pipeline does not depend on the stages.
 *
 * A stage reads its parameters from the config, its inputs through its readers, writes its tables and
 * maps into the product, and shares results with later stages through the run context:
 *   - per-sample values (e.g. EPMA mean SiO2 that LA-ICP-MS uses as internal standard),
 *   - per-sample failures (the run goes on; the exit status becomes 3),
 *   - the log (progress on a terminal, JSON lines with --log-json). */
#ifndef KR_STAGE_H
#define KR_STAGE_H
#include "config.h"
#include "log.h"
#include "product.h"

#include <stddef.h>

typedef struct kr_run_ctx kr_run_ctx;

typedef struct {
    const char *name;              /* section name in run.yaml and group in the product: "epma" */
    const kr_param_table *params;  /* its parameters (names start with "<name>.") */
    /* Reduce the stage. Return KR_OK (per-sample failures are recorded with kr_run_sample_failed and
     * do not fail the stage), or an error status for a failure that stops the run. */
    int (*run)(const kr_config *cfg, kr_run_ctx *ctx, kr_product *out);
} kr_stage;

/* The run.* parameters (name, operator, notes, ...) every run.yaml may carry under `run:`. */
extern const kr_param_table kr_run_params;

/* Run context. Owner: caller (kr_run_ctx_free). `log` is borrowed and may be NULL (quiet). */
int kr_run_ctx_new(kr_log *log, kr_run_ctx **out);
void kr_run_ctx_free(kr_run_ctx *ctx);
kr_log *kr_run_log(kr_run_ctx *ctx); /* never NULL (a quiet log when none was given) */

/* Shared per-sample values, keyed by (sample, quantity), e.g. ("CE5-B1", "sio2_wt"). Setting a key
 * again replaces it. `sd` may be NaN. */
int kr_run_set_sample_value(kr_run_ctx *ctx, const char *sample, const char *quantity, double value,
                            double sd);
/* Returns 1 and fills value/sd (either may be NULL) when present, 0 when absent (no error pushed). */
int kr_run_get_sample_value(const kr_run_ctx *ctx, const char *sample, const char *quantity,
                            double *value, double *sd);

/* Record that one sample failed in `stage` (message copied). The run continues; `kreep run` then
 * writes /provenance/failures and exits with status 3. Pass the error chain with kr_err_format. */
int kr_run_sample_failed(kr_run_ctx *ctx, const char *stage, const char *sample, const char *message);
size_t kr_run_nfailures(const kr_run_ctx *ctx);
/* i-th failure; any out pointer may be NULL. Returns 0 if i is out of range. */
int kr_run_failure(const kr_run_ctx *ctx, size_t i, const char **stage, const char **sample,
                   const char **message);

/* Orchestration (used by `kreep run`, testable with any stages):
 * load and validate `config_path` against kr_run_params plus every stage's table (and the --set
 * `overrides`), run the stages whose section is present in the YAML in the order given (the
 * dependency order), and write the product atomically to `out_path`. A bad config writes nothing;
 * a failing stage leaves no file (an old product stays untouched). Returns KR_OK, KR_EPARTIAL when
 * samples failed (the product is written), or the error status. `log` may be NULL. */
int kr_run_pipeline(const char *config_path, const char *out_path, char *const *overrides,
                    size_t noverrides, const kr_stage *const *stages, size_t nstages, kr_log *log);

/* The stage registry, in dependency order (epma -> laicpms -> sims). Defined in the executable
 * (pipeline/cmd_run.c), not in kr_pipeline. */
const kr_stage *const *kr_stage_registry(size_t *n);

#endif
