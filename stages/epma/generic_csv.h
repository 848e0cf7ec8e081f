/* Generic EPMA point CSV, for CAMECA (Peaksight), Probe for EPMA and other exports (DOMAIN.md §2.1).
 *
 * One row per point and element; a header row names the columns, in any order; '#' lines are comments.
 * Rows with the same `type` and `point` form one point (the rows of a point need not be adjacent).
 *
 *   column          required  unit    meaning
 *   point           yes               point name (unique per point within the file)
 *   element         yes               element symbol (Si)
 *   line            yes               X-ray line: Ka, Kb, La, Lb, Ma, Mb
 *   kv              yes       kV      accelerating voltage
 *   current_na      yes       nA      beam current (> 0)
 *   peak_counts     yes       counts  raw counts on peak (not rates)
 *   bgm_counts      yes       counts  raw counts at the lower background position
 *   bgp_counts      yes       counts  raw counts at the upper background position
 *   peak_time_s     yes       s       peak counting time
 *   bg_time_s       *         s       counting time at EACH background position, or give
 *   bgm_time_s, bgp_time_s    *  s    the two times separately
 *   off_minus_mm    yes       mm      distance of the lower background from the peak (>= 0)
 *   off_plus_mm     yes       mm      distance of the upper background from the peak (>= 0)
 *   dead_time_us    yes       µs      detector dead time
 *   comment         no                operator's label; the sample id is derived from it (epma.sample_id);
 *                                     default: the point name
 *   type            no                "unknown" (default) or "standard"
 *   standard        standards         the standard's name (Wollastonite)
 *   composition     standards         on at least one row of a standard point: its composition as
 *                                     space-separated "X=value" items, X an element (element mass %) or an
 *                                     oxide (oxide mass %): "Ca=34.50 Si=24.18 O=41.32" or "CaO=48.28 SiO2=51.72"
 *   crystal         no                analysing crystal
 *   oxide           no                oxide for stoichiometry (SiO2); default from calib/epma_oxides.csv
 *   takeoff_deg     no        deg     take-off angle (default: epma.takeoff_deg)
 *   x_mm, y_mm      no        mm      stage position
 *   time            no                acquisition date and time, ISO 8601 "2024-05-09T14:11:00" or
 *                                     "2024-05-09 14:11:00" (":ss" optional, may carry a fraction; a trailing
 *                                     Z allowed; no offsets), taken as UTC; used for the drift of standards
 *                                     (epma.std_drift); if the rows of a point differ, the earliest is used
 *   net_cps, bg_cps, sigma_cps  no  cps  the vendor's own net, background and sigma: if present they are
 *                                     checked against kreep's (non-paralyzable dead time, linear
 *                                     background) to their printed precision, as for JEOL files
 */
#ifndef KR_EPMA_GENERIC_CSV_H
#define KR_EPMA_GENERIC_CSV_H
#include "atomic.h"
#include "points_input.h"

/* Append the points of one CSV file to `points` (standards have is_standard = 1). Errors name
 * file:line and the column. */
int kr_epma_csv_read(const char *path, const kr_atomic *at, kr_epma_points *points);

#endif
