/* JEOL JXA point-analysis exports -> kr_epma_point (DOMAIN.md §2.1).
 *
 *   <run>_QNT/Pos_0001/data001.cnd   conditions: $XM_EC_ACCEL_VOLT, $XM_ELEM_NAME%N, $XM_ELEM_WDS_XRAY%N,
 *                                    $XM_ELEM_WDS_CRYSTAL_NAME%N, $XM_ELEM_WDS_PEAK%N,
 *                                    $XM_ELEM_WDS_BACK_MINUS%N / _PLUS%N, $XM_AP_COMMENT%0,
 *                                    $XM_AP_ACM_STAGE_POS%0_0,
 *                                    $XM_ANALYSIS_ACQ_DATE (YYYY/MM/DD hh:mm:ss, taken as UTC; optional)
 *   <run>_QNT/Pos_0001/data001.qnt   measured: $XM_DATA_PROBE_CURRENT (A), $XM_QNT_DATA_WD_ELM%N,
 *                                    $XM_QNT_DATA_WD_MES_TIME%N (peak, bg-, bg+ s),
 *                                    $XM_QNT_DATA_WD_XRAY_CNT%N (3 counts + JEOL's net, bg, sigma cps),
 *                                    $XM_QNT_DATA_WD_DEAD_TIME%N (µs), $XM_QNT_ATOMIC_VALENCE%N (Si 4 SiO2)
 *   <run>_STD/Pos_0001/data001.std   a standard: the same keys (in .std, or .cnd/.qnt beside it) plus
 *                                    $XM_CMP_STD_SAMPLE_NAME%0 name and $XM_CMP_COMPOSITION%0_M entries
 *                                    "<El> <element mass %>" or "<Oxide> <oxide mass %>" (e.g. "SiO2 51.72")
 * Keys are looked up in .qnt, then .std, then .cnd; unknown keys are ignored. */
#ifndef KR_EPMA_JEOL_POINTS_H
#define KR_EPMA_JEOL_POINTS_H
#include "atomic.h"
#include "points_input.h"

/* Read one Pos_NNNN folder. `at` validates element symbols and converts oxide compositions. */
int kr_jeol_read_point_dir(const char *dir, const kr_atomic *at, kr_epma_point *out);

/* Read every Pos_* folder under `dir` (sorted by name) into `points`. If `dir` itself holds data001.*,
 * it is read as one point. A folder whose points carry .std files yields standards (is_standard = 1).
 * If `dir` has no Pos_* folders but has *_QNT / *_STD subfolders, those are read. */
int kr_jeol_read_tree(const char *dir, const kr_atomic *at, kr_epma_points *points);

#endif
