/* The EPMA stage of `kreep run`: parameters epma.* and the run function (pipeline/stage.h).
 *
 * run.yaml:
 *   epma:
 *     inputs:                    # JEOL folders (a *_QNT or *_STD folder, a folder holding them, or one
 *       - exports/beads_QNT      # Pos_NNNN folder) and/or generic CSV files (stages/epma/generic_csv.h)
 *       - exports/beads_STD
 *     model: xpp                 # xpp | pap | zaf
 *     standards: {Si: Wollastonite}          # optional: which standard when several measured an element
 *     mac_overrides:                         # optional, cm2/g
 *       - {emitter: Si, line: Ka, absorber: Fe, mac_cm2_g: 1234}
 *     ... scalars: see kr_epma_params (`kreep config --defaults`)
 *
 * Writes /epma/points and /epma/samples; publishes every sample's mean SiO2 to the run context as
 * ("<sample>", "sio2_wt") for the LA-ICP-MS internal standard; a point whose matrix correction fails is
 * recorded with kr_run_sample_failed (exit status 3), bad input fails the run (exit 1). */
#ifndef KR_EPMA_STAGE_H
#define KR_EPMA_STAGE_H
#include "atomic.h"
#include "config.h"
#include "points.h"
#include "product.h"
#include "stage.h"

extern const kr_param_table kr_epma_params;
extern const kr_stage kr_epma_stage; /* {"epma", &kr_epma_params, kr_epma_run} */

int kr_epma_run(const kr_config *cfg, kr_run_ctx *ctx, kr_product *out);

/* Options from a loaded config (also used by tests). */
int kr_epma_opts_from_config(const kr_config *cfg, kr_epma_opts *o);


#endif
