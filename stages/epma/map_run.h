/* Quantitative maps in a run: the `epma.maps.*` parameters, one job per map (from run.yaml's
 * epma.maps.inputs list), reading -> quantification -> product groups /epma/maps/<map>/, the region
 * table /epma/map_regions, PNG images. DOMAIN.md §2.4.
 *
 * run.yaml:
 *   epma:
 *     maps:
 *       model: xpp            # xpp|pap|zaf          (other scalars: see kr_epma_maps_params)
 *       inputs:
 *         - name: bead07                       # group /epma/maps/bead07
 *           cnd: maps/bead07/map.cnd           # pixels, pixel size, dwell, current, kV, stage positions
 *           current_na: 100                    # optional, overrides the .cnd probe current
 *           kv: 15                             # optional, overrides the .cnd accelerating voltage
 *           oxygen: stoichiometry              # or "none"
 *           fixed: {SiO2: 45.1, FeO: 21.0}     # unmapped elements, oxide or element wt%
 *           fixed_from: G107                   # ...or every other oxide from this run's EPMA point mean of a
 *                                              # sample (/epma/samples); `fixed` entries take precedence
 *           elements:
 *             - element: Ti
 *               line: Ka                       # default Ka
 *               file: maps/bead07/Ti.csv       # CSV matrix (rows = y) or raw binary .map
 *               dead_time_us: 1.1
 *               standard: TiO2                 # formula of the standard ("" or absent: pure element)
 *               std_cps_na: 250.0              # net intensity of the standard, cps/nA; or "session": the
 *                                              # standard measured as points in this run at the map's kV
 *                                              # (and crystal), `standard` then naming it (e.g. Rutile)
 *               oxide: TiO2                    # optional, default from calib/epma_oxides.csv
 *               background: {cps_na: 0.30}     # constant under the peak, cps/nA; or
 *               # background: {minus: Ti_bgm.csv, plus: Ti_bgp.csv, off_minus_mm: 5, off_plus_mm: 5, dwell_ms: 60}
 *               # background: {calibration: intercept}   (or "line": slope and intercept) against `spots`
 *           spots:                             # spot analyses inside the map (calibration lines)
 *             - {x_px: 120, y_px: 88, radius_px: 2, wt: {TiO2: 3.1, SiO2: 45.0, FeO: 21.0}}
 *           spots_from_points: {radius_px: 2}  # ...and/or this run's point analyses whose stage position
 *                                              # lies inside the map (their element mass %)
 *           regions:
 *             - name: clean_glass
 *               where: ["total >= 97", "total <= 102", "SiO2 < 55"]
 *           png: [TiO2_wt, total_wt]           # optional; default: every oxide and the total
 */
#ifndef KR_MAP_RUN_H
#define KR_MAP_RUN_H
#include "atomic.h"
#include "config.h"
#include "map_quant.h"
#include "map_stats.h"
#include "points.h"
#include "product.h"

#include <stddef.h>

/* The epma.maps.* parameters as initializer rows, for the EPMA stage's static table (stage_epma.c puts
 * KR_EPMA_MAPS_PARAM_ROWS inside its kr_param array); kr_epma_maps_params returns the same rows. */
#define KR_EPMA_MAPS_PARAM_ROWS                                                                                   \
    {"epma.maps.inputs", KR_PT_NODE, NULL, "", 1, 0, NULL,                                                        \
     "list of JEOL map exports to quantify (name, cnd, elements, fixed, spots, regions, png)"},                  \
    {"epma.maps.model", KR_PT_CHOICE, "xpp", "", 1, 0, "xpp|pap|zaf", "matrix correction of every map pixel"},  \
    {"epma.maps.mac", KR_PT_CHOICE, "heinrich86", "", 1, 0, "heinrich86|xraylib",                                \
     "mass absorption coefficients of the map correction"},                                                       \
    {"epma.maps.fluorescence", KR_PT_BOOL, "true", "", 1, 0, NULL,                                               \
     "characteristic fluorescence correction of the maps (Reed 1965)"},                                           \
    {"epma.maps.tol_rel", KR_PT_DOUBLE, "1e-6", "", 1e-12, 1e-2, NULL,                                           \
     "a pixel's iteration stops when every relative change of its composition is below this"},                   \
    {"epma.maps.max_iter", KR_PT_INT, "100", "", 1, 1000, NULL,                                                  \
     "iterations per pixel before the pixel is marked failed (NaN)"},                                             \
    {"epma.maps.takeoff_deg", KR_PT_DOUBLE, "40", "deg", 1, 90, NULL, "spectrometer take-off angle (JXA: 40)"},  \
    {"epma.maps.min_total_wt", KR_PT_DOUBLE, "10", "wt%", 0, 100, NULL,                                           \
     "pixels whose total before matrix correction (k-ratios, fixed composition, O) is below this hold no "    \
     "analysed material (epoxy, holes): NaN, counted as outside_pixels; 0 corrects every pixel"},                                    \
    {"epma.maps.threads", KR_PT_INT, "2", "", 1, 16, NULL,                                                       \
     "threads sharing the map's rows (each with its own workspace)"},                                             \
    {"epma.maps.dead_time", KR_PT_CHOICE, "nonparalyzable", "", 1, 0, "nonparalyzable|logarithmic",             \
     "dead-time correction of each pixel's rates"},                                                               \
    {"epma.maps.png", KR_PT_BOOL, "true", "", 1, 0, NULL, "render a PNG per quantified map and per region mask"}, \
    {"epma.maps.png_dir", KR_PT_STRING, NULL, "", 1, 0, NULL,                                                     \
     "folder for the PNGs, relative to run.yaml (unset: <product stem>_png/ beside the product)"}

const kr_param *kr_epma_maps_params(size_t *n);

/* The run's EPMA point results the maps may use (fixed_from, std_cps_na: session, spots_from_points);
 * borrowed; every member may be NULL/0. */
typedef struct {
    const kr_epma_sample_row *means;
    size_t nmeans;
    const kr_epma_std_row *stds;
    size_t nstds;
    const kr_epma_point_row *points;
    size_t npoints;
} kr_maps_points;

typedef struct {
    kr_epma_model model;
    kr_mac_source mac;
    int fluorescence;
    double tol_rel;
    int max_iter;
    double takeoff_deg;
    int threads;
    double min_total_wt;
    kr_deadtime_form dt_form;
    int png;
    kr_maps_points points; /* the run's EPMA point results (all empty without them) */
} kr_maps_opts;

/* Defaults of the table above. */
void kr_maps_opts_default(kr_maps_opts *o);
/* Read them from a loaded config. */
int kr_maps_opts_from_config(const kr_config *cfg, kr_maps_opts *o);

#define KR_MAP_PATH 1024
#define KR_MAP_MAX_SPOTS 64
#define KR_MAP_MAX_RULES 8
#define KR_MAP_MAX_PNG 24

typedef struct {
    char element[4];
    char line[4];
    char file[KR_MAP_PATH];
    double dead_time_us;
    char standard[48];
    double std_cps_na;
    int std_from_session; /* std_cps_na: session - the run's standard of this element at the map's kV */
    char oxide[16];
    kr_mapbg_kind bg;
    double bg_cps_na;
    char bg_minus_file[KR_MAP_PATH], bg_plus_file[KR_MAP_PATH];
    double off_minus_mm, off_plus_mm, bg_dwell_ms;
    int calib_fit_slope; /* CALIB: 1 fit slope and intercept, 0 the intercept only */
} kr_map_job_elem;

typedef struct {
    char species[16]; /* "SiO2" (oxide wt%) or "Si" (element wt%) */
    double wt_pct;
} kr_map_species;

typedef struct {
    double x_px, y_px, radius_px;
    int n;
    kr_map_species sp[KR_EPMA_MAX_EL];
} kr_map_job_spot;

/* One map to quantify (plain value; paths already resolved). */
typedef struct {
    char name[48];
    char cnd[KR_MAP_PATH];
    double current_na; /* NaN: from the .cnd */
    double kv;         /* NaN: from the .cnd */
    int oxygen_stoich;
    int nel;
    kr_map_job_elem el[KR_EPMA_MAX_EL];
    int nfixed;
    kr_map_species fixed[KR_EPMA_MAX_EL];
    char fixed_from[48]; /* sample id: unmapped, unlisted oxides from this run's EPMA point mean ("" none) */
    int nspots;
    kr_map_job_spot spots[KR_MAP_MAX_SPOTS];
    int spots_from_points;   /* also this run's point analyses inside the map (stage positions) */
    double points_radius_px; /* their pixels averaged within this radius */
    int nrules;
    kr_map_rule rules[KR_MAP_MAX_RULES];
    int npng;
    char png[KR_MAP_MAX_PNG][24];
    char where[160]; /* config file:line of the entry, for messages */
} kr_map_job;

/* Fill a job from one item of epma.maps.inputs (relative paths resolved against base_dir, which may
 * be NULL). Unknown keys are errors naming file:line. */
int kr_map_job_from_node(const kr_node *item, const char *base_dir, kr_map_job *job);

/* What a map run did (for the log and the tests). */
typedef struct {
    size_t nx, ny, n_failed, n_outside;
    double mean_iterations;
    double read_s;           /* wall time: .cnd, setup and count maps */
    double quant_s;          /* wall time of the streamed pass: per-pixel quantification, masks, encoding and
                              * writing of every map chunk (they overlap) */
    double write_s;          /* wall time of creating and closing the map datasets (0 without a product) */
    double stats_s;          /* wall time of PNGs and region statistics (from the maps read back) */
    size_t raw_bytes;        /* size of the map data files read */
} kr_map_summary;

/* Quantify one map and (product non-NULL) write /epma/maps/<name>/ and its region rows (appended to
 * *rows / *nrows, caller frees *rows); PNGs into png_dir when non-NULL and opts->png. Without a product
 * only the quantification and the masks run (benchmarks). map_job.c. */
int kr_map_job_run(const kr_map_job *job, const kr_atomic *at, const kr_maps_opts *opts, const char *png_dir,
                   kr_product *out, kr_map_region_row **rows, size_t *nrows, kr_map_summary *summary);

/* The EPMA stage's entry point: every map of `inputs` (the epma.maps.inputs node; NULL or empty: nothing
 * to do), then the /epma/map_regions table. png_dir: folder for the PNGs; NULL: epma.maps.png_dir when
 * set (relative to run.yaml), else <product stem>_png/ beside the product. */
int kr_epma_maps_run(const kr_config *cfg, const kr_node *inputs, const char *png_dir, const kr_maps_points *pts,
                     kr_product *out);

#endif
