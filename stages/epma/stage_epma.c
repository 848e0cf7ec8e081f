#include "stage_epma.h"

#include "error.h"
#include "generic_csv.h"
#include "jeol_points.h"
#include "map_run.h"
#include "text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const kr_param EPMA_PARAMS[] = {
    {"epma.inputs", KR_PT_NODE, NULL, "", 1, 0, NULL,
     "list of inputs: JEOL point folders (*_QNT, *_STD, Pos_NNNN) or generic CSV files, relative to run.yaml"},
    {"epma.model", KR_PT_CHOICE, "xpp", "", 1, 0, "xpp|pap|zaf", "matrix correction"},
    {"epma.mac", KR_PT_CHOICE, "heinrich86", "", 1, 0, "heinrich86|xraylib", "mass absorption coefficients"},
    {"epma.fluorescence", KR_PT_BOOL, "true", "", 1, 0, NULL, "Reed characteristic fluorescence correction"},
    {"epma.dead_time", KR_PT_CHOICE, "nonparalyzable", "", 1, 0, "nonparalyzable|logarithmic",
     "dead-time correction: JEOL's non-paralyzable or Donovan et al. 2023 logarithmic"},
    {"epma.background", KR_PT_CHOICE, "linear", "", 1, 0, "linear|exponential",
     "background interpolation in spectrometer position"},
    {"epma.fe_oxide", KR_PT_CHOICE, "FeO", "", 1, 0, "FeO|Fe2O3", "iron valence for stoichiometric oxygen"},
    {"epma.oxygen", KR_PT_CHOICE, "stoichiometry", "", 1, 0, "stoichiometry|none",
     "oxygen by stoichiometry from the cations' oxides (when O is not measured)"},
    {"epma.by_difference", KR_PT_STRING, NULL, "", 1, 0, NULL,
     "element computed by difference from 100 wt% (unset: none)"},
    {"epma.sample_id", KR_PT_STRING, "last_underscore", "", 1, 0, NULL,
     "sample id from the point comment: last_underscore (strip the last _suffix), whole, or regex:<ERE> "
     "(first group)"},
    {"epma.takeoff_deg", KR_PT_DOUBLE, "40", "deg", 1, 90, NULL,
     "spectrometer take-off angle when the input does not give it (JXA-8230: 40)"},
    {"epma.vendor_mismatch", KR_PT_CHOICE, "flag", "", 1, 0, "flag|error",
     "when JEOL's own net/bg/sigma disagree with kreep's: flag the row, or stop"},
    {"epma.std_drift", KR_PT_CHOICE, "linear", "", 1, 0, "linear|mean",
     "standards measured more than once in a session: interpolated linearly in acquisition time for each "
     "unknown (held at the first/last measurement outside them; flag 256), or one session mean (flag 128); "
     "points without a time get the mean"},
    {"epma.standards", KR_PT_NODE, NULL, "", 1, 0, NULL,
     "map element -> standard name, when several standards measured one element"},
    {"epma.mac_overrides", KR_PT_NODE, NULL, "cm2/g", 1, 0, NULL,
     "list of {emitter, line, absorber, mac_cm2_g} replacing tabulated MACs"},
#ifdef KR_EPMA_MAPS_PARAM_ROWS
    /* the epma.maps.* parameters of stages/epma/map_run.h, as initializer rows */
    KR_EPMA_MAPS_PARAM_ROWS
#endif
};

const kr_param_table kr_epma_params = {"epma", EPMA_PARAMS, sizeof EPMA_PARAMS / sizeof EPMA_PARAMS[0]};
const kr_stage kr_epma_stage = {"epma", &kr_epma_params, kr_epma_run};

static int node_err(const kr_node *n, const char *fmt, const char *what)
{
    return kr_err_at(KR_EINPUT, kr_node_file(n), kr_node_line(n), fmt, what);
}

int kr_epma_opts_from_config(const kr_config *cfg, kr_epma_opts *o)
{
    kr_epma_opts_default(o);
    int rc;
    if ((rc = kr_epma_model_parse(kr_config_string(cfg, "epma.model"), &o->model))) return rc;
    if ((rc = kr_mac_source_parse(kr_config_string(cfg, "epma.mac"), &o->mac))) return rc;
    o->fluorescence = kr_config_bool(cfg, "epma.fluorescence");
    if ((rc = kr_deadtime_form_parse(kr_config_string(cfg, "epma.dead_time"), &o->dead_time))) return rc;
    if ((rc = kr_bg_form_parse(kr_config_string(cfg, "epma.background"), &o->background))) return rc;
    snprintf(o->fe_oxide, sizeof o->fe_oxide, "%s", kr_config_string(cfg, "epma.fe_oxide"));
    o->oxygen_stoich = !strcmp(kr_config_string(cfg, "epma.oxygen"), "stoichiometry");
    const char *d = kr_config_string(cfg, "epma.by_difference");
    if (d && *d) snprintf(o->by_difference, sizeof o->by_difference, "%s", d);
    snprintf(o->sample_rule, sizeof o->sample_rule, "%s", kr_config_string(cfg, "epma.sample_id"));
    o->takeoff_deg = kr_config_double(cfg, "epma.takeoff_deg");
    o->vendor_mismatch_error = !strcmp(kr_config_string(cfg, "epma.vendor_mismatch"), "error");
    if ((rc = kr_epma_std_drift_parse(kr_config_string(cfg, "epma.std_drift"), &o->std_drift))) return rc;
    const kr_node *st = kr_config_node(cfg, "epma.standards");
    if (st) {
        if (kr_node_kind_of(st) != KR_NODE_MAP)
            return node_err(st, "epma.standards: expected a map element -> standard name%s", "");
        for (size_t i = 0; i < kr_node_len(st); i++) {
            const kr_node *v = kr_node_item(st, i);
            if (o->nstd_override == KR_EPMA_MAX_CH) return node_err(v, "epma.standards: too many entries%s", "");
            if (!kr_node_scalar(v)) return node_err(v, "epma.standards.%s: expected a standard name", kr_node_key(st, i));
            snprintf(o->std_el[o->nstd_override], sizeof o->std_el[0], "%s", kr_node_key(st, i));
            snprintf(o->std_name[o->nstd_override], sizeof o->std_name[0], "%s", kr_node_scalar(v));
            o->nstd_override++;
        }
    }
    const kr_node *mo = kr_config_node(cfg, "epma.mac_overrides");
    if (mo) {
        if (kr_node_kind_of(mo) != KR_NODE_SEQ)
            return node_err(mo, "epma.mac_overrides: expected a list of {emitter, line, absorber, mac_cm2_g}%s", "");
        kr_atomic *at = malloc(sizeof *at);
        if (!at) return kr_err(KR_ENOMEM, "out of memory");
        if ((rc = kr_atomic_load(at))) {
            free(at);
            return rc;
        }
        for (size_t i = 0; i < kr_node_len(mo) && !rc; i++) {
            const kr_node *it = kr_node_item(mo, i);
            const kr_node *em = kr_node_get(it, "emitter"), *ln = kr_node_get(it, "line"),
                          *ab = kr_node_get(it, "absorber"), *mc = kr_node_get(it, "mac_cm2_g");
            kr_mac_override *x = &o->mac_override[o->n_mac_override];
            if (o->n_mac_override == KR_EPMA_MAX_MAC_OVR) {
                rc = node_err(it, "epma.mac_overrides: more than %s entries", "32");
                break;
            }
            if (!em || !ln || !ab || !mc || !kr_node_scalar(em) || !kr_node_scalar(ln) || !kr_node_scalar(ab)) {
                rc = node_err(it, "epma.mac_overrides: each item needs emitter, line, absorber and mac_cm2_g%s", "");
                break;
            }
            x->emitter_z = kr_atomic_z(at, kr_node_scalar(em));
            x->absorber_z = kr_atomic_z(at, kr_node_scalar(ab));
            if (!x->emitter_z || !x->absorber_z) {
                rc = node_err(it, "epma.mac_overrides: unknown element%s", "");
                break;
            }
            if (kr_xray_line_parse(kr_node_scalar(ln), &x->line)) {
                rc = node_err(ln, "epma.mac_overrides: unknown line '%s'", kr_node_scalar(ln));
                break;
            }
            if ((rc = kr_node_double(mc, &x->mac_cm2_g))) break;
            if (!(x->mac_cm2_g > 0)) {
                rc = node_err(mc, "epma.mac_overrides: mac_cm2_g must be > 0%s", "");
                break;
            }
            o->n_mac_override++;
        }
        free(at);
        if (rc) return rc;
    }
    return KR_OK;
}

static int has_suffix_ci(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && kr_streq_ci(s + a - b, suf);
}

/* Record every file a point came from in /provenance. */
static int add_provenance(kr_product *out, const kr_epma_points *l, const char *role)
{
    const char *last = "";
    for (size_t i = 0; i < l->n; i++) {
        const kr_epma_point *p = &l->items[i];
        if (!strcmp(p->source, last)) continue;
        last = p->source;
        if (has_suffix_ci(p->source, ".csv")) {
            int rc = kr_product_add_input(out, role, p->source);
            if (rc) return rc;
            continue;
        }
        char dir[512], path[600];
        snprintf(dir, sizeof dir, "%s", p->source);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = '\0';
        static const char *const names[] = {"data001.cnd", "data001.qnt", "data001.std"};
        for (int k = 0; k < 3; k++) {
            snprintf(path, sizeof path, "%s/%s", slash ? dir : ".", names[k]);
            struct stat st;
            if (stat(path, &st) != 0) continue;
            int rc = kr_product_add_input(out, role, path);
            if (rc) return rc;
        }
    }
    return KR_OK;
}

int kr_epma_run(const kr_config *cfg, kr_run_ctx *ctx, kr_product *out)
{
    kr_epma_opts o;
    kr_epma_points unk, std;
    kr_epma_out res;
    memset(&unk, 0, sizeof unk);
    memset(&std, 0, sizeof std);
    memset(&res, 0, sizeof res);
    char **paths = NULL;
    size_t npaths = 0;
    kr_atomic *at = NULL;
    int rc;
    kr_log *lg = ctx ? kr_run_log(ctx) : NULL;
    if ((rc = kr_epma_opts_from_config(cfg, &o))) goto cleanup;
    const kr_node *inputs = kr_config_node(cfg, "epma.inputs");
#ifdef KR_EPMA_MAPS_PARAM_ROWS
    const kr_node *maps = kr_config_node(cfg, "epma.maps.inputs");
#else
    const kr_node *maps = NULL; /* the epma.maps.* parameters are not part of this build's table */
#endif
    if (!inputs && !maps) {
        rc = kr_err_at(KR_EINPUT, kr_config_path(cfg), 0, "epma: no epma.inputs (point analyses) and no epma.maps.inputs");
        goto cleanup;
    }
    if (inputs) {
        if (kr_node_kind_of(inputs) != KR_NODE_SEQ || kr_node_len(inputs) == 0) {
            rc = node_err(inputs, "epma.inputs: expected a non-empty list of paths%s", "");
            goto cleanup;
        }
        npaths = kr_node_len(inputs);
        paths = calloc(npaths, sizeof *paths);
        at = malloc(sizeof *at);
        if (!paths || !at) {
            rc = kr_err(KR_ENOMEM, "out of memory");
            goto cleanup;
        }
        for (size_t i = 0; i < npaths; i++) {
            const kr_node *it = kr_node_item(inputs, i);
            if (!kr_node_scalar(it)) {
                rc = node_err(it, "epma.inputs: item %s is not a path", "");
                goto cleanup;
            }
            /* resolves against the config's folder; a missing input is named with its config line */
            if ((rc = kr_config_input_path(cfg, it, &paths[i]))) goto cleanup;
        }
        if ((rc = kr_atomic_load(at))) goto cleanup;
        if ((rc = kr_epma_read_inputs((const char *const *)paths, npaths, at, &unk, &std))) goto cleanup;
        if (lg) kr_log_info(lg, "epma", "%zu points, %zu standard measurements", unk.n, std.n);
        if ((rc = kr_epma_reduce(&o, at, &unk, &std, &res))) goto cleanup;
        if ((rc = add_provenance(out, &unk, "epma/points")) || (rc = add_provenance(out, &std, "epma/standards")))
            goto cleanup;
        if ((rc = kr_product_write_table(out, "epma/points", &kr_epma_points_desc, res.points, res.npoints)) ||
            (rc = kr_product_write_table(out, "epma/samples", &kr_epma_samples_desc, res.samples, res.nsamples)) ||
            (res.nstandards &&
             (rc = kr_product_write_table(out, "epma/standards", &kr_epma_standards_desc, res.standards, res.nstandards))))
            goto cleanup;
        if (lg && res.vendor_mismatches)
            kr_log_warn(lg, "epma", "%d of %d channels disagree with JEOL's own net/bg/sigma (flag 4 in /epma/points)",
                        res.vendor_mismatches, res.vendor_checked);
        if (ctx) {
            for (size_t i = 0; i < res.nsamples; i++) {
                const kr_epma_sample_row *s = &res.samples[i];
                if (strcmp(s->component, "SiO2")) continue;
                if ((rc = kr_run_set_sample_value(ctx, s->sample_id, "sio2_wt", s->mean_wt, s->sd_wt))) goto cleanup;
            }
            const char *last = "";
            for (size_t i = 0; i < res.npoints; i++) {
                const kr_epma_point_row *r = &res.points[i];
                if (!(r->flags & KR_EPMA_FLAG_FAILED) || !strcmp(last, r->point)) continue;
                last = r->point;
                char msg[256];
                snprintf(msg, sizeof msg, "point %s: %s", r->point, r->status);
                if ((rc = kr_run_sample_failed(ctx, "epma", r->sample_id, msg))) goto cleanup;
            }
        }
    }
    kr_maps_points pts = {res.samples, res.nsamples, res.standards, res.nstandards, res.points, res.npoints};
    if (maps && (rc = kr_epma_maps_run(cfg, maps, NULL, &pts, out))) goto cleanup;
cleanup:
    for (size_t i = 0; paths && i < npaths; i++) free(paths[i]);
    free(paths);
    free(at);
    kr_epma_points_free(&unk);
    kr_epma_points_free(&std);
    kr_epma_out_free(&res);
    if (rc) kr_err(rc, "epma stage");
    return rc;
}
