/* The LA-ICP-MS stage: config, inputs, reduction, product tables (/laicpms/spots, /laicpms/timeseries/<spot>,
 * /laicpms/calibration, /laicpms/samples, /laicpms/eu_anomaly, /qa/reference_materials). */
#include "la_stage.h"

#include "error.h"
#include "product_rows.h"

#include <ctype.h>
#include <dirent.h>
#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const kr_param LA_PARAMS[] = {
    {"laicpms.inputs", KR_PT_NODE, NULL, "", 1, 0, NULL,
     "list of exports: files, folders (all *.csv inside) or globs relative to run.yaml; an item "
     "{file: long.csv, log: laser.csv} splits a long acquisition by a laser log"},
    {"laicpms.calibrant", KR_PT_STRING, "NIST610", "", 1, 0, NULL,
     "calibrant glass (a material of calib/laicpms_reference_materials.csv)"},
    {"laicpms.internal_standard", KR_PT_STRING, "Si", "", 1, 0, NULL,
     "internal-standard element (none: 100 % oxide normalisation, Liu et al. 2008)"},
    {"laicpms.is_isotope", KR_PT_STRING, NULL, "", 1, 0, NULL, "internal-standard isotope (default: first of the element)"},
    {"laicpms.internal_standard_ugg", KR_PT_NODE, NULL, "ug/g", 1, 0, NULL,
     "map sample -> IS element concentration (value or [value, sd]) when EPMA gives none"},
    {"laicpms.internal_standard_default_ugg", KR_PT_DOUBLE, NULL, "ug/g", 0, 1e6, NULL,
     "IS concentration of every sample without an EPMA or per-sample value"},
    {"laicpms.is_fallback", KR_PT_CHOICE, "fail", "", 1, 0, "fail|oxide_sum",
     "spot without an internal-standard value: fail (reported) or 100 % oxide normalisation"},
    {"laicpms.fe3_fraction", KR_PT_DOUBLE, "0", "", 0, 1, NULL, "Fe3+/Fe_total for the oxide normalisation"},
    {"laicpms.drift", KR_PT_CHOICE, "linear", "", 1, 0, "linear|smooth|none",
     "calibrant drift: linear between brackets (flat outside), smooth polynomial, or session mean"},
    {"laicpms.smooth_degree", KR_PT_INT, "2", "", 1, 5, NULL, "degree of the smooth drift polynomial"},
    {"laicpms.require_bracket", KR_PT_BOOL, "false", "", 1, 0, NULL,
     "an unknown before the first or after the last calibrant fails (else held flat)"},
    {"laicpms.blank", KR_PT_CHOICE, "spot", "", 1, 0, "spot|interpolated",
     "gas blank: mean of the spot's blank, or interpolated in time between this and the next spot's blank"},
    {"laicpms.lod_flag", KR_PT_CHOICE, "longerich", "", 1, 0, "longerich|pettke", "LOD used for the below_lod flag"},
    {"laicpms.dwell_ms", KR_PT_DOUBLE, "10", "ms", 1e-3, 1e4, NULL,
     "dwell time for exports that carry none (Agilent, Qtegra batch)"},
    {"laicpms.threshold_frac", KR_PT_DOUBLE, "0.25", "", 0.01, 0.99, NULL,
     "laser-on threshold: blank + frac x (signal - blank) of the total cps"},
    {"laicpms.min_rise_sd", KR_PT_DOUBLE, "10", "", 1, 1e6, NULL, "signal must exceed the blank by this many sd"},
    {"laicpms.blank_skip_s", KR_PT_DOUBLE, "1", "s", 0, 1e4, NULL, "dropped at the start of an acquisition"},
    {"laicpms.blank_guard_s", KR_PT_DOUBLE, "2", "s", 0, 1e4, NULL, "dropped before the laser-on step"},
    {"laicpms.signal_guard_start_s", KR_PT_DOUBLE, "3", "s", 0, 1e4, NULL, "dropped after the laser-on step"},
    {"laicpms.signal_guard_end_s", KR_PT_DOUBLE, "2", "s", 0, 1e4, NULL, "dropped before the laser-off step"},
    {"laicpms.min_signal_s", KR_PT_DOUBLE, "5", "s", 0, 1e4, NULL, "shortest ablation (shorter: cleaning shot)"},
    {"laicpms.min_blank_s", KR_PT_DOUBLE, "5", "s", 0, 1e4, NULL, "shortest usable gas blank"},
    {"laicpms.washout_s", KR_PT_DOUBLE, "10", "s", 0, 1e4, NULL, "after an ablation before the next blank"},
    {"laicpms.spike_k", KR_PT_DOUBLE, "5", "", 0, 1e3, NULL, "spike threshold in robust sd (0: off)"},
    {"laicpms.spike_halfwidth", KR_PT_INT, "3", "", 1, 31, NULL, "rolling-median half width (sweeps)"},
    {"laicpms.spike_max_iter", KR_PT_INT, "5", "", 1, 100, NULL, "spike-rejection iterations"},
    {"laicpms.windows", KR_PT_NODE, NULL, "s", 1, 0, NULL,
     "per-spot windows: map spot -> {blank_s: [a, b], signal_s: [c, d]} (s from the acquisition start)"},
    {"laicpms.spot_samples", KR_PT_NODE, NULL, "", 1, 0, NULL, "map spot -> sample id (overrides the export's name)"},
    {"laicpms.qa_target_rsd_pct", KR_PT_DOUBLE, "5", "%", 0, 100, NULL,
     "target sd of the QA z-score: max(preferred 1 sd, this % of the preferred value)"},
    {"laicpms.timeseries", KR_PT_BOOL, "true", "", 1, 0, NULL, "write /laicpms/timeseries/<spot>"},
};
const kr_param_table kr_laicpms_params = {"laicpms", LA_PARAMS, sizeof LA_PARAMS / sizeof LA_PARAMS[0]};

static const kr_column SPOT_COLS[] = {
    KR_COL_S(kr_la_result, spot, "spot name"),
    KR_COL_S(kr_la_result, sample, "sample id"),
    KR_COL_S(kr_la_result, analyte, "isotope (element+mass)"),
    KR_COL_S(kr_la_result, element, "element"),
    KR_COL_S(kr_la_result, role, "calibrant, secondary (reference glass as unknown) or unknown"),
    KR_COL_S(kr_la_result, status, "ok, failed, no_ref, not_measured"),
    KR_COL_D(kr_la_result, time_s, "s", "mid-signal time, s since 1970 on the instrument clock"),
    KR_COL_D(kr_la_result, conc_ugg, "ug/g", "concentration"),
    KR_COL_D(kr_la_result, u_total_ugg, "ug/g", "combined 1 sd (quadrature of the terms)"),
    KR_COL_D(kr_la_result, u_signal_ugg, "ug/g", "1 sd from the signal sweeps (counting and ablation noise)"),
    KR_COL_D(kr_la_result, u_blank_ugg, "ug/g", "1 sd from the gas blank"),
    KR_COL_D(kr_la_result, u_rm_ugg, "ug/g", "1 sd from the calibrant's preferred values"),
    KR_COL_D(kr_la_result, u_calib_ugg, "ug/g", "1 sd of the drift-interpolated calibration"),
    KR_COL_D(kr_la_result, u_is_ugg, "ug/g", "1 sd from the internal-standard value"),
    KR_COL_D(kr_la_result, lod_longerich_ugg, "ug/g", "LOD, Longerich et al. 1996"),
    KR_COL_D(kr_la_result, lod_pettke_ugg, "ug/g", "LOD, Pettke et al. 2012 eq. 6"),
    KR_COL_INT(kr_la_result, below_lod, "", "1 when below the LOD (flag, value kept)"),
    KR_COL_D(kr_la_result, blank_cps, "cps", "mean gas blank"),
    KR_COL_D(kr_la_result, blank_sd_cps, "cps", "sd of the gas blank sweeps"),
    KR_COL_D(kr_la_result, net_cps, "cps", "blank-subtracted mean signal"),
    KR_COL_D(kr_la_result, blank_start_s, "s", "blank window start (from acquisition start)"),
    KR_COL_D(kr_la_result, blank_end_s, "s", "blank window end"),
    KR_COL_D(kr_la_result, signal_start_s, "s", "signal window start"),
    KR_COL_D(kr_la_result, signal_end_s, "s", "signal window end"),
    KR_COL_INT(kr_la_result, n_blank, "", "blank sweeps"),
    KR_COL_INT(kr_la_result, n_signal, "", "signal sweeps kept"),
    KR_COL_INT(kr_la_result, spikes_removed, "", "signal sweeps removed as spikes"),
    KR_COL_D(kr_la_result, drift_factor, "", "relative sensitivity at this time / session mean"),
    KR_COL_INT(kr_la_result, outside_bracket, "", "1 when no calibrant before or after (held flat)"),
    KR_COL_S(kr_la_result, is_analyte, "internal-standard isotope"),
    KR_COL_D(kr_la_result, is_ugg, "ug/g", "internal-standard concentration"),
    KR_COL_D(kr_la_result, is_u_ugg, "ug/g", "its 1 sd"),
    KR_COL_S(kr_la_result, is_source, "reference, epma, config, config_default, oxide_sum"),
    KR_COL_S(kr_la_result, message, "why a value is missing"),
};
const kr_table_desc kr_la_spots_desc = KR_TABLE(SPOT_COLS, kr_la_result);

typedef struct {
    char spot[KR_LA_NAME];
    char analyte[KR_LA_LABEL];
    double time_s, sensitivity_cps_per_ugg, sensitivity_u_cps_per_ugg, rsf, rsf_u, drift_factor;
} cal_row;
static const kr_column CAL_COLS[] = {
    KR_COL_S(cal_row, spot, "calibrant spot"),
    KR_COL_S(cal_row, analyte, "isotope"),
    KR_COL_D(cal_row, time_s, "s", "mid-signal time, s since 1970"),
    KR_COL_D(cal_row, sensitivity_cps_per_ugg, "cps/(ug/g)", "net cps per ug/g in the calibrant"),
    KR_COL_D(cal_row, sensitivity_u_cps_per_ugg, "cps/(ug/g)", "its 1 sd (signal and blank)"),
    KR_COL_D(cal_row, rsf, "", "relative sensitivity (I_i/I_IS)/(C_i/C_IS)"),
    KR_COL_D(cal_row, rsf_u, "", "its 1 sd"),
    KR_COL_D(cal_row, drift_factor, "", "rsf / session mean"),
};

typedef struct {
    char sample[KR_LA_NAME];
    char analyte[KR_LA_LABEL];
    int32_t n, n_below_lod;
    double mean_ugg, sd_ugg, se_ugg, ci_normalised;
} sample_row;
static const kr_column SAMPLE_COLS[] = {
    KR_COL_S(sample_row, sample, "sample id"),
    KR_COL_S(sample_row, analyte, "isotope"),
    KR_COL_INT(sample_row, n, "", "spots above LOD in the mean"),
    KR_COL_INT(sample_row, n_below_lod, "", "spots below LOD (left out)"),
    KR_COL_D(sample_row, mean_ugg, "ug/g", "mean of the spots"),
    KR_COL_D(sample_row, sd_ugg, "ug/g", "sd of the spots"),
    KR_COL_D(sample_row, se_ugg, "ug/g", "sd/sqrt(n), or the spot's u_total when n = 1"),
    KR_COL_D(sample_row, ci_normalised, "", "mean / CI chondrite (McDonough & Sun 1995), REE only"),
};

typedef struct {
    char sample[KR_LA_NAME];
    double la_n, sm_n, eu_n, gd_n, yb_n, eu_eu_star;
} eu_row;
static const kr_column EU_COLS[] = {
    KR_COL_S(eu_row, sample, "sample id"),
    KR_COL_D(eu_row, la_n, "", "La / CI"),
    KR_COL_D(eu_row, sm_n, "", "Sm / CI"),
    KR_COL_D(eu_row, eu_n, "", "Eu / CI"),
    KR_COL_D(eu_row, gd_n, "", "Gd / CI"),
    KR_COL_D(eu_row, yb_n, "", "Yb / CI"),
    KR_COL_D(eu_row, eu_eu_star, "", "Eu_N / sqrt(Sm_N Gd_N) (Taylor & McLennan 1985)"),
};

static const kr_column QA_COLS[] = {
    KR_COL_S(kr_la_qa_row, stage, "stage"),
    KR_COL_S(kr_la_qa_row, material, "reference material"),
    KR_COL_S(kr_la_qa_row, analyte, "isotope"),
    KR_COL_INT(kr_la_qa_row, n, "", "spots"),
    KR_COL_D(kr_la_qa_row, mean, "ug/g", "mean of the spots"),
    KR_COL_D(kr_la_qa_row, sd, "ug/g", "sd of the spots"),
    KR_COL_D(kr_la_qa_row, rsd_pct, "%", "relative sd"),
    KR_COL_D(kr_la_qa_row, preferred, "ug/g", "preferred value"),
    KR_COL_D(kr_la_qa_row, preferred_u_1s, "ug/g", "its 1 sd"),
    KR_COL_S(kr_la_qa_row, preferred_u_type, "uncertainty type as published (95%CL, 1s)"),
    KR_COL_D(kr_la_qa_row, bias_pct, "%", "(mean - preferred)/preferred"),
    KR_COL_D(kr_la_qa_row, z, "", "(mean - X)/sigma, sigma = max(preferred 1 sd, target RSD x X)"),
    KR_COL_D(kr_la_qa_row, zeta, "", "(mean - X)/sqrt(u_mean^2 + u_X^2)"),
    KR_COL_INT(kr_la_qa_row, within_uncertainty, "", "1 when |mean - X| <= the preferred value's stated uncertainty"),
    KR_COL_S(kr_la_qa_row, status, "ok (|z| <= 2), warning (2-3), fail (>= 3)"),
};
const kr_table_desc kr_la_qa_desc = KR_TABLE(QA_COLS, kr_la_qa_row);

/* ---- settings from config ------------------------------------------------------------------------- */

int kr_la_config_settings(const kr_config *cfg, kr_la_settings *set, kr_la_opts *o, double *dwell_s)
{
    kr_la_settings_default(set);
    kr_la_opts_default(o);
    const char *v = kr_config_string(cfg, "laicpms.calibrant");
    if (v) snprintf(set->calibrant, sizeof set->calibrant, "%s", v);
    v = kr_config_string(cfg, "laicpms.internal_standard");
    if (v) {
        if (kr_streq_ci(v, "none")) set->is_element[0] = 0;
        else if (!kr_la_z_of(v)) return kr_err(KR_EINPUT, "laicpms.internal_standard: '%s' is not an element symbol", v);
        else snprintf(set->is_element, sizeof set->is_element, "%s", v);
    }
    v = kr_config_string(cfg, "laicpms.is_isotope");
    if (v) {
        kr_la_isotope iso;
        kr_la_isotope_parse(v, &iso);
        snprintf(set->is_label, sizeof set->is_label, "%s", iso.label);
    }
    v = kr_config_string(cfg, "laicpms.drift");
    set->drift = !v || !strcmp(v, "linear") ? 1 : !strcmp(v, "smooth") ? 2 : 0;
    set->smooth_degree = (int)kr_config_long(cfg, "laicpms.smooth_degree");
    set->require_bracket = kr_config_bool(cfg, "laicpms.require_bracket");
    v = kr_config_string(cfg, "laicpms.blank");
    set->blank_interp = v && !strcmp(v, "interpolated");
    v = kr_config_string(cfg, "laicpms.is_fallback");
    set->is_fallback_oxide = v && !strcmp(v, "oxide_sum");
    set->fe3_fraction = kr_config_double(cfg, "laicpms.fe3_fraction");
    v = kr_config_string(cfg, "laicpms.lod_flag");
    set->lod_flag_pettke = v && !strcmp(v, "pettke");
    *dwell_s = kr_config_double(cfg, "laicpms.dwell_ms") / 1000.0;
    o->threshold_frac = kr_config_double(cfg, "laicpms.threshold_frac");
    o->min_rise_sd = kr_config_double(cfg, "laicpms.min_rise_sd");
    o->blank_skip_s = kr_config_double(cfg, "laicpms.blank_skip_s");
    o->blank_guard_s = kr_config_double(cfg, "laicpms.blank_guard_s");
    o->signal_guard_start_s = kr_config_double(cfg, "laicpms.signal_guard_start_s");
    o->signal_guard_end_s = kr_config_double(cfg, "laicpms.signal_guard_end_s");
    o->min_signal_s = kr_config_double(cfg, "laicpms.min_signal_s");
    o->min_blank_s = kr_config_double(cfg, "laicpms.min_blank_s");
    o->washout_s = kr_config_double(cfg, "laicpms.washout_s");
    o->spike_k = kr_config_double(cfg, "laicpms.spike_k");
    o->spike_halfwidth = (int)kr_config_long(cfg, "laicpms.spike_halfwidth");
    o->spike_max_iter = (int)kr_config_long(cfg, "laicpms.spike_max_iter");
    return KR_OK;
}

/* ---- inputs ------------------------------------------------------------------------------------------ */

typedef struct {
    char **files;
    char **logs;
    size_t n, cap;
} file_list;

static int fl_add(file_list *fl, const char *path, const char *log)
{
    if (fl->n == fl->cap) {
        size_t nc = fl->cap ? fl->cap * 2 : 64;
        char **a = realloc(fl->files, nc * sizeof *a), **b;
        if (!a) return kr_err(KR_ENOMEM, "out of memory");
        fl->files = a;
        b = realloc(fl->logs, nc * sizeof *b);
        if (!b) return kr_err(KR_ENOMEM, "out of memory");
        fl->logs = b;
        fl->cap = nc;
    }
    fl->files[fl->n] = strdup(path);
    fl->logs[fl->n] = log ? strdup(log) : NULL;
    if (!fl->files[fl->n] || (log && !fl->logs[fl->n])) return kr_err(KR_ENOMEM, "out of memory");
    fl->n++;
    return KR_OK;
}

static void fl_free(file_list *fl)
{
    for (size_t i = 0; i < fl->n; i++) {
        free(fl->files[i]);
        free(fl->logs[i]);
    }
    free(fl->files);
    free(fl->logs);
}

/* natural order: 1308H_2 before 1308H_10 */
static int natcmp(const void *pa, const void *pb)
{
    const char *a = *(const char *const *)pa, *b = *(const char *const *)pb;
    while (*a && *b) {
        if (isdigit((unsigned char)*a) && isdigit((unsigned char)*b)) {
            char *ea, *eb;
            unsigned long x = strtoul(a, &ea, 10), y = strtoul(b, &eb, 10);
            if (x != y) return x < y ? -1 : 1;
            a = ea;
            b = eb;
            continue;
        }
        if (*a != *b) return (unsigned char)*a - (unsigned char)*b;
        a++;
        b++;
    }
    return (unsigned char)*a - (unsigned char)*b;
}

static int expand_input(const kr_config *cfg, const kr_node *n, file_list *fl)
{
    int rc = KR_OK;
    char *path = NULL, *log = NULL;
    if (kr_node_kind_of(n) == KR_NODE_MAP) {
        const kr_node *f = kr_node_get(n, "file"), *l = kr_node_get(n, "log");
        if (!f || !l)
            return kr_err_at(KR_EINPUT, kr_node_file(n), kr_node_line(n), "laicpms.inputs item: expected {file: ..., log: ...}");
        if ((rc = kr_config_input_path(cfg, f, &path)) || (rc = kr_config_input_path(cfg, l, &log))) goto cleanup;
        rc = fl_add(fl, path, log);
        goto cleanup;
    }
    const char *sc = kr_node_scalar(n);
    if (!sc) return kr_err_at(KR_EINPUT, kr_node_file(n), kr_node_line(n), "laicpms.inputs: expected a path");
    if (strpbrk(sc, "*?[")) {
        char *pat = kr_config_resolve_path(cfg, sc);
        glob_t g;
        if (!pat) return kr_err(KR_ENOMEM, "out of memory");
        int gr = glob(pat, 0, NULL, &g);
        free(pat);
        if (gr) return kr_err_at(KR_EINPUT, kr_node_file(n), kr_node_line(n), "laicpms.inputs: '%s' matches no file", sc);
        qsort(g.gl_pathv, g.gl_pathc, sizeof *g.gl_pathv, natcmp);
        for (size_t i = 0; i < g.gl_pathc && !rc; i++) rc = fl_add(fl, g.gl_pathv[i], NULL);
        globfree(&g);
        return rc;
    }
    if ((rc = kr_config_input_path(cfg, n, &path))) return rc;
    struct stat st;
    if (!stat(path, &st) && S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        struct dirent *e;
        size_t first = fl->n;
        if (!d) {
            rc = kr_err(KR_EIO, "cannot open folder %s", path);
            goto cleanup;
        }
        while (!rc && (e = readdir(d))) {
            size_t l = strlen(e->d_name);
            if (l < 5 || strcasecmp(e->d_name + l - 4, ".csv")) continue;
            char buf[4096];
            snprintf(buf, sizeof buf, "%s/%s", path, e->d_name);
            rc = fl_add(fl, buf, NULL);
        }
        closedir(d);
        if (!rc) qsort(fl->files + first, fl->n - first, sizeof *fl->files, natcmp);
    } else {
        rc = fl_add(fl, path, NULL);
    }
cleanup:
    free(path);
    free(log);
    return rc;
}

/* ---- the run ------------------------------------------------------------------------------------------- */

typedef struct {
    kr_run_ctx *ctx;
    char quantity[24];
} is_user;

static int is_from_ctx(void *user, const char *sample, double *ox, double *sd)
{
    is_user *u = user;
    return u->ctx && kr_run_get_sample_value(u->ctx, sample, u->quantity, ox, sd);
}

static int spot_override(const kr_config *cfg, const kr_la_acq *a, const char *spot, kr_la_window *w, int *has)
{
    *has = 0;
    const kr_node *m = kr_config_node(cfg, "laicpms.windows");
    const kr_node *e = m ? kr_node_get(m, spot) : NULL;
    if (!e) return KR_OK;
    const kr_node *b = kr_node_get(e, "blank_s"), *sg = kr_node_get(e, "signal_s");
    double v[4];
    if (!b || !sg || kr_node_len(b) != 2 || kr_node_len(sg) != 2)
        return kr_err_at(KR_EINPUT, kr_node_file(e), kr_node_line(e),
                         "laicpms.windows.%s: expected {blank_s: [start, end], signal_s: [start, end]}", spot);
    for (int i = 0; i < 4; i++) {
        int rc = kr_node_double(kr_node_item(i < 2 ? b : sg, (size_t)(i % 2)), &v[i]);
        if (rc) return rc;
    }
    *has = 1;
    return kr_la_window_from_times(a, v[0], v[1], v[2], v[3], w);
}

static void unique_name(const kr_la_session *s, char *name, size_t len)
{
    char base[KR_LA_NAME];
    snprintf(base, sizeof base, "%s", name);
    for (int k = 2;; k++) {
        int dup = 0;
        for (size_t i = 0; i < s->nspots && !dup; i++) dup = !strcmp(s->spots[i].spot, name);
        if (!dup) return;
        snprintf(name, len, "%.50s~%d", base, k);
    }
}

int kr_la_process_acq(kr_la_session *s, const kr_config *cfg, const kr_la_acq *a, kr_product *out, kr_run_ctx *ctx,
                      int write_series)
{
    kr_la_window w[64];
    size_t nw = 0;
    int rc, has = 0;
    char name[KR_LA_NAME];
    snprintf(name, sizeof name, "%s", a->name);
    unique_name(s, name, sizeof name);
    if (cfg && (rc = spot_override(cfg, a, name, &w[0], &has))) return rc;
    if (has) nw = 1;
    else if ((rc = kr_la_find_windows(a, &s->opts, w, 64, &nw))) {
        char msg[320];
        kr_err_format(msg, sizeof msg);
        kr_err_clear();
        if (ctx) kr_run_sample_failed(ctx, "laicpms", name, msg);

        return kr_la_session_add_failed(s, a, name, msg);
    }
    for (size_t k = 0; k < nw; k++) {
        char sp[KR_LA_NAME];
        if (nw == 1) snprintf(sp, sizeof sp, "%s", name);
        else snprintf(sp, sizeof sp, "%.50s_%d", name, (int)(k + 1) % 100000);
        if (nw > 1) unique_name(s, sp, sizeof sp);
        const char *sample = NULL;
        const kr_node *m = cfg ? kr_config_node(cfg, "laicpms.spot_samples") : NULL;
        const kr_node *e = m ? kr_node_get(m, sp) : NULL;
        if (e) sample = kr_node_scalar(e);
        if ((rc = kr_la_session_add_spot(s, a, &w[k], sp, sample))) return rc;
        if (write_series && out && (rc = kr_la_write_series(out, a, &w[k], sp))) return rc;
    }
    return KR_OK;
}

/* ---- results: /laicpms/spots streamed, per-sample means, Eu anomaly, QA ------------------------------- */

/* Running sums of one (sample or material, analyte): pass 1 adds the values in spot order, pass 2 the
 * squared deviations from the pass-1 mean, so the figures are the same bits as a two-pass computation
 * over an array of all values, without holding that array. */
typedef struct {
    int32_t n, nb;         /* values above LOD in the sums; below-LOD values left out (samples) */
    double sum, usum, ss;  /* sum of conc_ugg, sum of u_total_ugg, sum of squared deviations */
    double u1;             /* u_total_ugg of the last value (the sample's se when n = 1) */
} la_acc;

typedef struct {
    const kr_la_session *s;
    la_acc *qa;                /* nmat x nana: secondary reference glasses */
    char (*smp)[KR_LA_NAME];   /* samples (not the calibrant) in order of first appearance */
    la_acc *sa;                /* nsmp x nana */
    size_t nsmp, capsmp, last;
} la_stats;

static int stats_init(la_stats *st, const kr_la_session *s)
{
    memset(st, 0, sizeof *st);
    st->s = s;
    st->qa = calloc(s->refs->nmat * (size_t)s->nana + 1, sizeof *st->qa);
    return st->qa ? KR_OK : kr_err(KR_ENOMEM, "out of memory");
}

static void stats_free(la_stats *st)
{
    free(st->qa);
    free(st->smp);
    free(st->sa);
    memset(st, 0, sizeof *st);
}

/* *k = index of spot i's sample among the samples (added at its first appearance); SIZE_MAX for the
 * calibrant, which has no per-sample row. */
static int stats_sample(la_stats *st, size_t i, size_t *k)
{
    const kr_la_spot *p = &st->s->spots[i];
    size_t nana = (size_t)st->s->nana;
    *k = SIZE_MAX;
    if (p->role == KR_LA_CALIBRANT) return KR_OK;
    if (st->nsmp && !strcmp(st->smp[st->last], p->sample)) { /* spots of a sample usually follow each other */
        *k = st->last;
        return 0;
    }
    for (size_t j = 0; j < st->nsmp; j++)
        if (!strcmp(st->smp[j], p->sample)) {
            *k = st->last = j;
            return 0;
        }
    if (st->nsmp == st->capsmp) {
        size_t nc = st->capsmp ? 2 * st->capsmp : 16;
        char(*v)[KR_LA_NAME] = realloc(st->smp, nc * sizeof *v);
        if (!v) return kr_err(KR_ENOMEM, "out of memory");
        st->smp = v;
        la_acc *w = realloc(st->sa, nc * nana * sizeof *w);
        if (!w) return kr_err(KR_ENOMEM, "out of memory");
        st->sa = w;
        st->capsmp = nc;
    }
    snprintf(st->smp[st->nsmp], KR_LA_NAME, "%s", p->sample);
    memset(st->sa + st->nsmp * nana, 0, nana * sizeof *st->sa);
    *k = st->last = st->nsmp++;
    return 0;
}

/* Add the rows of spot i (one per analyte) to the sums: pass 1 values, pass 2 squared deviations. */
static int stats_add(la_stats *st, size_t i, const kr_la_result *rows, int pass)
{
    const kr_la_session *s = st->s;
    const kr_la_spot *p = &s->spots[i];
    size_t k;
    int rc = stats_sample(st, i, &k);
    if (rc) return rc;
    int has_sample = k != SIZE_MAX;
    la_acc *qa = p->rm >= 0 && p->rm != s->cal_rm ? st->qa + (size_t)p->rm * (size_t)s->nana : NULL;
    for (int a = 0; a < s->nana; a++) {
        const kr_la_result *r = &rows[a];
        if (strcmp(r->status, "ok")) continue;
        if (has_sample) {
            la_acc *x = &st->sa[k * (size_t)s->nana + (size_t)a];
            if (pass == 1) {
                if (r->below_lod) x->nb++;
                else {
                    x->sum += r->conc_ugg;
                    x->n++;
                    x->u1 = r->u_total_ugg;
                }
            } else if (!r->below_lod) {
                double mean = x->sum / x->n;
                x->ss += (r->conc_ugg - mean) * (r->conc_ugg - mean);
            }
        }
        if (qa && !r->below_lod) {
            la_acc *x = &qa[a];
            if (pass == 1) {
                x->sum += r->conc_ugg;
                x->usum += r->u_total_ugg;
                x->n++;
            } else {
                double mean = x->sum / x->n;
                x->ss += (r->conc_ugg - mean) * (r->conc_ugg - mean);
            }
        }
    }
    return KR_OK;
}

static int stats_qa_rows(const la_stats *st, double target_rsd_pct, kr_la_qa_row **out, size_t *nout)
{
    const kr_la_session *s = st->s;
    size_t cap = s->refs->nmat * (size_t)s->nana, n = 0;
    kr_la_qa_row *q = calloc(cap ? cap : 1, sizeof *q);
    if (!q) return kr_err(KR_ENOMEM, "out of memory");
    for (size_t mat = 0; mat < s->refs->nmat; mat++) {
        if ((int)mat == s->cal_rm) continue;
        for (int a = 0; a < s->nana; a++) {
            double X, uX;
            char ut[16];
            const la_acc *x = &st->qa[mat * (size_t)s->nana + (size_t)a];
            int cnt = x->n;
            if (!kr_la_refs_element(s->refs, (int)mat, s->ana[a].element, &X, &uX, ut, sizeof ut)) continue;
            if (!cnt) continue;
            double mean = x->sum / cnt, usum = x->usum;
            kr_la_qa_row *w = &q[n++];
            snprintf(w->stage, sizeof w->stage, "laicpms");
            snprintf(w->material, sizeof w->material, "%s", s->refs->materials[mat]);
            snprintf(w->analyte, sizeof w->analyte, "%s", s->ana[a].label);
            snprintf(w->preferred_u_type, sizeof w->preferred_u_type, "%s", ut);
            w->n = cnt;
            w->mean = mean;
            w->sd = cnt > 1 ? sqrt(x->ss / (cnt - 1)) : NAN;
            w->rsd_pct = 100 * w->sd / mean;
            w->preferred = X;
            w->preferred_u_1s = uX;
            w->bias_pct = 100 * (mean - X) / X;
            double sig = fmax(isnan(uX) ? 0 : uX, target_rsd_pct / 100 * X);
            w->z = (mean - X) / sig; /* z-score against a target sd (ISO 13528) */
            double um = cnt > 1 ? w->sd / sqrt(cnt) : usum;
            w->zeta = (mean - X) / sqrt(um * um + (isnan(uX) ? 0 : uX * uX)); /* zeta score (ISO 13528) */
            /* stated uncertainty back in its published form (95%CL x 1.96, 1s as is) */
            double stated = isnan(uX) ? 0 : !strcmp(ut, "95%CL") ? uX * s->refs->k95 : uX;
            w->within_uncertainty = fabs(mean - X) <= stated;
            double az = fabs(w->z);
            snprintf(w->status, sizeof w->status, "%s", az <= 2 ? "ok" : az < 3 ? "warning" : "fail");
        }
    }
    *out = q;
    *nout = n;
    return KR_OK;
}

int kr_la_qa(const kr_la_session *s, const kr_la_result *rows, double target_rsd_pct, kr_la_qa_row **out, size_t *nout)
{
    la_stats st;
    int rc = stats_init(&st, s);
    for (int pass = 1; pass <= 2 && !rc; pass++)
        for (size_t i = 0; i < s->nspots && !rc; i++) rc = stats_add(&st, i, rows + i * (size_t)s->nana, pass);
    if (!rc) rc = stats_qa_rows(&st, target_rsd_pct, out, nout);
    stats_free(&st);
    return rc;
}

static const kr_table_desc CAL_DESC = KR_TABLE(CAL_COLS, cal_row);

/* /laicpms/calibration, appended row by row (grows with the calibrant analyses, so not held whole). */
static int write_calibration(const kr_la_session *s, kr_product *out)
{
    kr_rows_writer *w = NULL;
    int rc = kr_rows_open(out, "laicpms/calibration", &CAL_DESC, &w);
    for (size_t c = 0; c < s->ncal && !rc; c++)
        for (int a = 0; a < s->nana && !rc; a++) {
            size_t k = c * (size_t)s->nana + a;
            if (!isfinite(s->sens[k])) continue;
            cal_row r;
            memset(&r, 0, sizeof r);
            snprintf(r.spot, sizeof r.spot, "%s", s->spots[s->cal[c]].spot);
            snprintf(r.analyte, sizeof r.analyte, "%s", s->ana[a].label);
            r.time_s = s->spots[s->cal[c]].time_s;
            r.sensitivity_cps_per_ugg = s->sens[k];
            r.sensitivity_u_cps_per_ugg = s->sens_u[k];
            r.rsf = s->rsf[k];
            r.rsf_u = s->rsf_u[k];
            r.drift_factor = s->rsf[k] / s->rsf_mean[a];
            rc = kr_rows_append(w, &r, 1);
        }
    if (!w) return rc;
    int rc2 = kr_rows_close(w);
    return rc ? rc : rc2;
}

/* /laicpms/samples and /laicpms/eu_anomaly from the per-sample sums; shares the means through ctx. */
static int write_samples(const la_stats *st, kr_product *out, kr_run_ctx *ctx)
{
    const kr_la_session *s = st->s;
    int rc = KR_OK;
    size_t nsr = 0, ner = 0;
    sample_row *sr = calloc(st->nsmp * (size_t)s->nana + 1, sizeof *sr);
    eu_row *er = calloc(st->nsmp + 1, sizeof *er);
    if (!sr || !er) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t k = 0; k < st->nsmp; k++) {
        const char *smp = st->smp[k];
        double ce[104];
        for (int z = 0; z < 104; z++) ce[z] = NAN;
        for (int a = 0; a < s->nana; a++) {
            const la_acc *x = &st->sa[k * (size_t)s->nana + (size_t)a];
            int n = x->n, nb = x->nb;
            if (!n && !nb) continue;
            sample_row *w = &sr[nsr++];
            snprintf(w->sample, sizeof w->sample, "%s", smp);
            snprintf(w->analyte, sizeof w->analyte, "%s", s->ana[a].label);
            w->n = n;
            w->n_below_lod = nb;
            w->mean_ugg = n ? x->sum / n : NAN;
            w->sd_ugg = n > 1 ? sqrt(x->ss / (n - 1)) : NAN;
            w->se_ugg = n > 1 ? w->sd_ugg / sqrt(n) : n ? x->u1 : NAN;
            int z = kr_la_z_of(s->ana[a].element);
            w->ci_normalised = z >= 57 && z <= 71 ? w->mean_ugg / s->refs->ci_ugg[z] : NAN;
            if (z && isnan(ce[z])) ce[z] = w->ci_normalised;
            if (ctx && n) {
                char q[48];
                snprintf(q, sizeof q, "laicpms_%s_ugg", s->ana[a].label);
                kr_run_set_sample_value(ctx, smp, q, w->mean_ugg, w->sd_ugg);
            }
        }
        eu_row *e = &er[ner];
        snprintf(e->sample, sizeof e->sample, "%s", smp);
        e->la_n = ce[57];
        e->sm_n = ce[62];
        e->eu_n = ce[63];
        e->gd_n = ce[64];
        e->yb_n = ce[70];
        e->eu_eu_star = e->eu_n / sqrt(e->sm_n * e->gd_n); /* Taylor & McLennan 1985: Eu/Eu* = Eu_N/sqrt(Sm_N Gd_N) */
        if (isfinite(e->eu_n) || isfinite(e->la_n)) {
            if (ctx && isfinite(e->eu_eu_star)) kr_run_set_sample_value(ctx, smp, "eu_eu_star", e->eu_eu_star, NAN);
            ner++;
        }
    }
    kr_table_desc sd = KR_TABLE(SAMPLE_COLS, sample_row);
    kr_table_desc ed = KR_TABLE(EU_COLS, eu_row);
    if ((rc = kr_product_write_table(out, "laicpms/samples", &sd, sr, nsr))) goto cleanup;
    if (ner && (rc = kr_product_write_table(out, "laicpms/eu_anomaly", &ed, er, ner))) goto cleanup;
cleanup:
    free(sr);
    free(er);
    return rc;
}

/* Rows of spot i: from `rows` when given, else quantified now into buf (a failure is reported to ctx
 * when `report`, except for spots whose windows already failed when read). */
static const kr_la_result *spot_rows(kr_la_session *s, const kr_la_result *rows, size_t i, kr_la_result *buf,
                                     kr_run_ctx *ctx, int report)
{
    if (rows) return rows + i * (size_t)s->nana;
    if (kr_la_quantify_spot(s, i, buf)) {
        char msg[480];
        kr_err_format(msg, sizeof msg);
        kr_err_clear();
        if (report && ctx && !s->spots[i].failed) kr_run_sample_failed(ctx, "laicpms", s->spots[i].spot, msg);
    }
    return buf;
}

static int write_results(kr_la_session *s, const kr_la_result *rows, double target_rsd_pct, kr_product *out,
                         kr_run_ctx *ctx)
{
    int rc = KR_OK;
    la_stats st;
    kr_rows_writer *w = NULL;
    kr_la_qa_row *qa = NULL;
    size_t nqa = 0;
    kr_la_result *buf = rows ? NULL : calloc((size_t)s->nana + 1, sizeof *buf);
    if ((rc = stats_init(&st, s))) {
        free(buf);
        return rc;
    }
    if (!rows && !buf) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    /* pass 1: quantify, append to /laicpms/spots, sums; pass 2: squared deviations */
    if ((rc = kr_rows_open(out, "laicpms/spots", &kr_la_spots_desc, &w))) goto cleanup;
    for (size_t i = 0; i < s->nspots && !rc; i++) {
        const kr_la_result *r = spot_rows(s, rows, i, buf, ctx, 1);
        if (!(rc = kr_rows_append(w, r, (size_t)s->nana))) rc = stats_add(&st, i, r, 1);
    }
    if (!rc) rc = kr_rows_close(w);
    else kr_rows_close(w);
    w = NULL;
    for (size_t i = 0; i < s->nspots && !rc; i++) rc = stats_add(&st, i, spot_rows(s, rows, i, buf, ctx, 0), 2);
    if (rc) goto cleanup;
    if ((rc = write_calibration(s, out)) || (rc = write_samples(&st, out, ctx))) goto cleanup;
    if ((rc = stats_qa_rows(&st, target_rsd_pct, &qa, &nqa))) goto cleanup;
    rc = kr_product_write_table(out, "qa/reference_materials", &kr_la_qa_desc, qa, nqa);
cleanup:
    free(qa);
    free(buf);
    stats_free(&st);
    return rc;
}

int kr_la_write_results(kr_la_session *s, const kr_la_result *rows, double target_rsd_pct, kr_product *out,
                        kr_run_ctx *ctx)
{
    if (!rows) return kr_err(KR_EINPUT, "kr_la_write_results: no rows (kr_la_quantify_write quantifies itself)");
    return write_results(s, rows, target_rsd_pct, out, ctx);
}

int kr_la_quantify_write(kr_la_session *s, double target_rsd_pct, kr_product *out, kr_run_ctx *ctx)
{
    return write_results(s, NULL, target_rsd_pct, out, ctx);
}

static int la_run(const kr_config *cfg, kr_run_ctx *ctx, kr_product *out)
{
    int rc = KR_OK;
    kr_la_refs refs;
    kr_la_session s;
    kr_la_settings set;
    kr_la_opts o;
    file_list fl = {0};
    kr_la_is_value *isv = NULL;
    double dwell_s;
    int have_refs = 0, have_s = 0;
    is_user isu = {ctx, ""};
    kr_log *lg = kr_run_log(ctx);
    if ((rc = kr_la_config_settings(cfg, &set, &o, &dwell_s))) goto cleanup;
    if ((rc = kr_la_refs_load(&refs))) goto cleanup;
    have_refs = 1;
    if ((rc = kr_la_session_init(&s, &set, &o, &refs))) goto cleanup;
    have_s = 1;
    /* IS sources: EPMA per-sample oxide means from the run context, config values */
    if (*set.is_element) {
        int z = kr_la_z_of(set.is_element), c = refs.ox_cat[z], ox = refs.ox_o[z];
        char q[16];
        size_t l = 0;
        for (const char *p = set.is_element; *p; p++) q[l++] = (char)tolower((unsigned char)*p);
        if (c > 1) q[l++] = (char)('0' + c);
        q[l++] = 'o';
        if (ox > 1) q[l++] = (char)('0' + ox);
        q[l] = 0;
        snprintf(isu.quantity, sizeof isu.quantity, "%.16s_wt", q);
        s.is_oxide = is_from_ctx;
        s.is_user = &isu;
    }
    const kr_node *im = kr_config_node(cfg, "laicpms.internal_standard_ugg");
    if (im) {
        size_t n = kr_node_len(im);
        isv = calloc(n + 1, sizeof *isv);
        if (!isv) {
            rc = kr_err(KR_ENOMEM, "out of memory");
            goto cleanup;
        }
        for (size_t i = 0; i < n; i++) {
            const kr_node *v = kr_node_item(im, i);
            snprintf(isv[i].sample, sizeof isv[i].sample, "%s", kr_node_key(im, i));
            isv[i].u_ugg = NAN;
            if (kr_node_kind_of(v) == KR_NODE_SEQ && kr_node_len(v) == 2) {
                if ((rc = kr_node_double(kr_node_item(v, 0), &isv[i].ugg)) ||
                    (rc = kr_node_double(kr_node_item(v, 1), &isv[i].u_ugg)))
                    goto cleanup;
            } else if ((rc = kr_node_double(v, &isv[i].ugg))) {
                goto cleanup;
            }
        }
        s.is_values = isv;
        s.n_is_values = n;
    }
    if (kr_config_has(cfg, "laicpms.internal_standard_default_ugg"))
        s.is_default_ugg = kr_config_double(cfg, "laicpms.internal_standard_default_ugg");
    const kr_node *in = kr_config_node(cfg, "laicpms.inputs");
    if (!in || kr_node_kind_of(in) != KR_NODE_SEQ || !kr_node_len(in)) {
        rc = kr_err(KR_EINPUT, "laicpms.inputs: expected a list of exports");
        goto cleanup;
    }
    for (size_t i = 0; i < kr_node_len(in); i++)
        if ((rc = expand_input(cfg, kr_node_item(in, i), &fl))) goto cleanup;
    int series = kr_config_bool(cfg, "laicpms.timeseries");
    for (size_t f = 0; f < fl.n; f++) {
        kr_la_acq *acqs = NULL;
        size_t na = 0;
        if ((rc = kr_product_add_input(out, "laicpms", fl.files[f]))) goto cleanup;
        if ((rc = kr_la_read_file(fl.files[f], dwell_s, &acqs, &na))) {
            /* a bad file fails alone: its spot is reported, the rest goes on */
            char msg[400], stem[KR_LA_NAME];
            kr_err_format(msg, sizeof msg);
            kr_err_clear();
            const char *b = strrchr(fl.files[f], '/');
            snprintf(stem, sizeof stem, "%s", b ? b + 1 : fl.files[f]);
            kr_run_sample_failed(ctx, "laicpms", stem, msg);

            rc = KR_OK;
            continue;
        }
        if (fl.logs[f]) {
            kr_la_log log;
            kr_la_acq *parts = NULL;
            size_t np = 0;
            if ((rc = kr_product_add_input(out, "laicpms_log", fl.logs[f])) || (rc = kr_la_log_read(fl.logs[f], &log))) {
                kr_la_acqs_free(acqs, na);
                goto cleanup;
            }
            rc = kr_la_split_by_log(&acqs[0], &log, &parts, &np);
            kr_la_log_free(&log);
            kr_la_acqs_free(acqs, na);
            if (rc) goto cleanup;
            acqs = parts;
            na = np;
        }
        for (size_t k = 0; k < na && !rc; k++) rc = kr_la_process_acq(&s, cfg, &acqs[k], out, ctx, series);
        kr_la_acqs_free(acqs, na);
        if (rc) goto cleanup;
        kr_log_progress(lg, "laicpms", "exports", f + 1, fl.n);
    }
    kr_log_progress_end(lg);
    if ((rc = kr_la_session_calibrate(&s))) goto cleanup;
    /* spot by spot: quantify, append to /laicpms/spots, running sums for the per-sample and QA tables */
    rc = kr_la_quantify_write(&s, kr_config_double(cfg, "laicpms.qa_target_rsd_pct"), out, ctx);
cleanup:
    free(isv);
    fl_free(&fl);
    if (have_s) kr_la_session_free(&s);
    if (have_refs) kr_la_refs_free(&refs);
    return rc;
}

const kr_stage kr_laicpms_stage = {"laicpms", &kr_laicpms_params, la_run};
