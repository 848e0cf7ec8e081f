/* Quantitative maps in a run: config -> jobs -> read, quantify, write (DOMAIN.md §2.4). */
#include "map_run.h"

#include "error.h"
#include "map_read.h"
#include "png_map.h"
#include "text.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static const kr_param MAPS_PARAMS[] = {KR_EPMA_MAPS_PARAM_ROWS};

const kr_param *kr_epma_maps_params(size_t *n)
{
    *n = sizeof MAPS_PARAMS / sizeof MAPS_PARAMS[0];
    return MAPS_PARAMS;
}

void kr_maps_opts_default(kr_maps_opts *o)
{
    memset(o, 0, sizeof *o); /* no point results until a run hands them over */
    o->model = KR_EPMA_XPP;
    o->mac = KR_MAC_HEINRICH86;
    o->fluorescence = 1;
    o->tol_rel = 1e-6;
    o->max_iter = 100;
    o->takeoff_deg = 40.0;
    o->threads = 2;
    o->min_total_wt = 10.0;
    o->dt_form = KR_DT_NONPARALYZABLE;
    o->png = 1;
}

int kr_maps_opts_from_config(const kr_config *cfg, kr_maps_opts *o)
{
    kr_maps_opts_default(o);
    const char *s = kr_config_string(cfg, "epma.maps.model");
    if (s && kr_epma_model_parse(s, &o->model)) return kr_err(KR_EINPUT, "epma.maps.model: unknown model \"%s\"", s);
    s = kr_config_string(cfg, "epma.maps.mac");
    if (s && kr_mac_source_parse(s, &o->mac)) return kr_err(KR_EINPUT, "epma.maps.mac: unknown source \"%s\"", s);
    s = kr_config_string(cfg, "epma.maps.dead_time");
    if (s && kr_deadtime_form_parse(s, &o->dt_form)) return kr_err(KR_EINPUT, "epma.maps.dead_time: \"%s\"", s);
    o->fluorescence = kr_config_bool(cfg, "epma.maps.fluorescence");
    o->tol_rel = kr_config_double(cfg, "epma.maps.tol_rel");
    o->max_iter = (int)kr_config_long(cfg, "epma.maps.max_iter");
    o->takeoff_deg = kr_config_double(cfg, "epma.maps.takeoff_deg");
    o->threads = (int)kr_config_long(cfg, "epma.maps.threads");
    o->min_total_wt = kr_config_double(cfg, "epma.maps.min_total_wt");
    o->png = kr_config_bool(cfg, "epma.maps.png");
    return KR_OK;
}

/* ---------------------------------------------------------------- config -> job */

static int node_err(const kr_node *n, const char *fmt, const char *a, const char *b)
{
    return kr_err_at(KR_EINPUT, kr_node_file(n), kr_node_line(n), fmt, a, b);
}

static int get_str(const kr_node *n, const char *key, char *buf, size_t len)
{
    const char *s = kr_node_scalar(n);
    if (!s) return node_err(n, "%s: expected a single value%s", key, "");
    if (strlen(s) >= len) return node_err(n, "%s: \"%s\" is too long", key, s);
    snprintf(buf, len, "%s", s);
    return KR_OK;
}

static int get_path(const kr_node *n, const char *key, const char *base, char *buf, size_t len)
{
    char rel[KR_MAP_PATH];
    int rc = get_str(n, key, rel, sizeof rel);
    if (rc) return rc;
    int w = rel[0] == '/' || !base || !base[0] ? snprintf(buf, len, "%s", rel) : snprintf(buf, len, "%s/%s", base, rel);
    if (w < 0 || (size_t)w >= len) return node_err(n, "%s: path \"%s\" is too long", key, rel);
    return KR_OK;
}

/* Check that every key of map `n` is in the NULL-terminated list `known`. */
static int check_keys(const kr_node *n, const char *what, const char *const *known)
{
    if (kr_node_kind_of(n) != KR_NODE_MAP) return node_err(n, "%s: expected a mapping%s", what, "");
    for (size_t i = 0; i < kr_node_len(n); i++) {
        const char *k = kr_node_key(n, i);
        int ok = 0;
        for (const char *const *q = known; *q; q++) ok |= !strcmp(*q, k);
        if (!ok) {
            char list[400] = "";
            for (const char *const *q = known; *q; q++) {
                size_t l = strlen(list);
                snprintf(list + l, sizeof list - l, "%s%s", q == known ? "" : ", ", *q);
            }
            return kr_err_at(KR_EINPUT, kr_node_file(kr_node_item(n, i)), kr_node_line(kr_node_item(n, i)),
                             "%s: unknown key \"%s\" (known: %s)", what, k, list);
        }
    }
    return KR_OK;
}

static int get_species(const kr_node *n, const char *what, kr_map_species *sp, int *nsp)
{
    if (kr_node_kind_of(n) != KR_NODE_MAP) return node_err(n, "%s: expected {species: wt%%, ...}%s", what, "");
    *nsp = 0;
    for (size_t i = 0; i < kr_node_len(n); i++) {
        if (*nsp >= KR_EPMA_MAX_EL) return node_err(n, "%s: more than 24 species%s", what, "");
        kr_map_species *s = &sp[(*nsp)++];
        const char *k = kr_node_key(n, i);
        if (strlen(k) >= sizeof s->species) return node_err(n, "%s: species name \"%s\" too long", what, k);
        snprintf(s->species, sizeof s->species, "%s", k);
        int rc = kr_node_double(kr_node_item(n, i), &s->wt_pct);
        if (rc) return rc;
        if (!(s->wt_pct >= 0 && s->wt_pct <= 100))
            return node_err(kr_node_item(n, i), "%s: %s wt%% must be within 0..100", what, k);
    }
    return KR_OK;
}

static int job_elem_from_node(const kr_node *n, const char *base, kr_map_job_elem *e)
{
    static const char *const KEYS[] = {"element", "line", "file", "dead_time_us", "standard", "std_cps_na",
                                       "oxide", "background", NULL};
    static const char *const BG_KEYS[] = {"cps_na", "minus", "plus", "off_minus_mm", "off_plus_mm", "dwell_ms",
                                          "calibration", NULL};
    int rc = check_keys(n, "map element", KEYS);
    if (rc) return rc;
    memset(e, 0, sizeof *e);
    snprintf(e->line, sizeof e->line, "Ka");
    e->std_cps_na = e->bg_cps_na = e->bg_dwell_ms = NAN;
    e->off_minus_mm = e->off_plus_mm = NAN;
    const kr_node *v;
    if (!(v = kr_node_get(n, "element"))) return node_err(n, "map element: \"element\" is required%s%s", "", "");
    if ((rc = get_str(v, "element", e->element, sizeof e->element))) return rc;
    if (!(v = kr_node_get(n, "file"))) return node_err(n, "map element %s: \"file\" is required%s", e->element, "");
    if ((rc = get_path(v, "file", base, e->file, sizeof e->file))) return rc;
    if ((v = kr_node_get(n, "line")) && (rc = get_str(v, "line", e->line, sizeof e->line))) return rc;
    if (!(v = kr_node_get(n, "dead_time_us")))
        return node_err(n, "map element %s: \"dead_time_us\" is required (0 if already corrected)%s", e->element, "");
    if ((rc = kr_node_double(v, &e->dead_time_us))) return rc;
    if ((v = kr_node_get(n, "standard")) && (rc = get_str(v, "standard", e->standard, sizeof e->standard))) return rc;
    if ((v = kr_node_get(n, "std_cps_na"))) {
        const char *sv = kr_node_scalar(v);
        if (sv && !strcmp(sv, "session")) e->std_from_session = 1; /* this run's standards at the map's kV */
        else if ((rc = kr_node_double(v, &e->std_cps_na))) return rc;
    }
    if ((v = kr_node_get(n, "oxide")) && (rc = get_str(v, "oxide", e->oxide, sizeof e->oxide))) return rc;
    const kr_node *bg = kr_node_get(n, "background");
    if (!bg) return node_err(n, "map element %s: \"background\" is required%s", e->element, "");
    if ((rc = check_keys(bg, "background", BG_KEYS))) return rc;
    if ((v = kr_node_get(bg, "cps_na"))) {
        e->bg = KR_MAPBG_CONST;
        if ((rc = kr_node_double(v, &e->bg_cps_na))) return rc;
    } else if ((v = kr_node_get(bg, "calibration"))) {
        e->bg = KR_MAPBG_CALIB;
        const char *s = kr_node_scalar(v);
        if (s && !strcmp(s, "line")) e->calib_fit_slope = 1;
        else if (s && !strcmp(s, "intercept")) e->calib_fit_slope = 0;
        else return node_err(v, "background.calibration: expected \"line\" or \"intercept\", found \"%s\"%s", s ? s : "", "");
    } else if (kr_node_get(bg, "minus") || kr_node_get(bg, "plus")) {
        e->bg = KR_MAPBG_MAPS;
        const kr_node *m = kr_node_get(bg, "minus"), *p = kr_node_get(bg, "plus");
        if (!m || !p) return node_err(bg, "background of %s: both \"minus\" and \"plus\" maps are needed%s", e->element, "");
        if ((rc = get_path(m, "minus", base, e->bg_minus_file, sizeof e->bg_minus_file))) return rc;
        if ((rc = get_path(p, "plus", base, e->bg_plus_file, sizeof e->bg_plus_file))) return rc;
        if (!(v = kr_node_get(bg, "off_minus_mm")) || (rc = kr_node_double(v, &e->off_minus_mm)))
            return rc ? rc : node_err(bg, "background of %s: \"off_minus_mm\" is required%s", e->element, "");
        if (!(v = kr_node_get(bg, "off_plus_mm")) || (rc = kr_node_double(v, &e->off_plus_mm)))
            return rc ? rc : node_err(bg, "background of %s: \"off_plus_mm\" is required%s", e->element, "");
        if ((v = kr_node_get(bg, "dwell_ms")) && (rc = kr_node_double(v, &e->bg_dwell_ms))) return rc;
    } else {
        return node_err(bg, "background of %s: give cps_na, minus/plus maps, or calibration%s", e->element, "");
    }
    return KR_OK;
}

int kr_map_job_from_node(const kr_node *n, const char *base, kr_map_job *job)
{
    static const char *const KEYS[] = {"name",     "cnd",   "current_na", "kv",  "oxygen", "fixed", "fixed_from",
                                       "elements", "spots", "spots_from_points", "regions", "png", NULL};
    memset(job, 0, sizeof *job);
    job->current_na = job->kv = NAN;
    job->oxygen_stoich = 1;
    snprintf(job->where, sizeof job->where, "%s:%ld", kr_node_file(n) ? kr_node_file(n) : "?", kr_node_line(n));
    int rc = check_keys(n, "map", KEYS);
    if (rc) return rc;
    const kr_node *v;
    if (!(v = kr_node_get(n, "name"))) return node_err(n, "map: \"name\" is required%s%s", "", "");
    if ((rc = get_str(v, "name", job->name, sizeof job->name))) return rc;
    for (const char *c = job->name; *c; c++)
        if (!(isalnum((unsigned char)*c) || *c == '_' || *c == '-' || *c == '.'))
            return node_err(v, "map name \"%s\": use letters, digits, '_', '-', '.'%s", job->name, "");
    if (!(v = kr_node_get(n, "cnd"))) return node_err(n, "map %s: \"cnd\" is required%s", job->name, "");
    if ((rc = get_path(v, "cnd", base, job->cnd, sizeof job->cnd))) return rc;
    if ((v = kr_node_get(n, "current_na")) && (rc = kr_node_double(v, &job->current_na))) return rc;
    if ((v = kr_node_get(n, "kv")) && (rc = kr_node_double(v, &job->kv))) return rc;
    if ((v = kr_node_get(n, "oxygen"))) {
        const char *s = kr_node_scalar(v);
        if (s && !strcmp(s, "stoichiometry")) job->oxygen_stoich = 1;
        else if (s && !strcmp(s, "none")) job->oxygen_stoich = 0;
        else return node_err(v, "oxygen: expected \"stoichiometry\" or \"none\", found \"%s\"%s", s ? s : "", "");
    }
    if ((v = kr_node_get(n, "fixed")) && (rc = get_species(v, "fixed", job->fixed, &job->nfixed))) return rc;
    if ((v = kr_node_get(n, "fixed_from")) && (rc = get_str(v, "fixed_from", job->fixed_from, sizeof job->fixed_from)))
        return rc;
    const kr_node *els = kr_node_get(n, "elements");
    if (!els || kr_node_kind_of(els) != KR_NODE_SEQ || kr_node_len(els) == 0)
        return node_err(els ? els : n, "map %s: \"elements\" must be a non-empty list%s", job->name, "");
    if (kr_node_len(els) > KR_EPMA_MAX_EL) return node_err(els, "map %s: more than 24 elements%s", job->name, "");
    for (size_t i = 0; i < kr_node_len(els); i++)
        if ((rc = job_elem_from_node(kr_node_item(els, i), base, &job->el[job->nel++]))) return rc;
    if ((v = kr_node_get(n, "spots_from_points"))) {
        static const char *const PKEYS[] = {"radius_px", NULL};
        if ((rc = check_keys(v, "spots_from_points", PKEYS))) return rc;
        const kr_node *r = kr_node_get(v, "radius_px");
        if (r && (rc = kr_node_double(r, &job->points_radius_px))) return rc;
        if (!(job->points_radius_px >= 0 && job->points_radius_px <= 100))
            return node_err(r, "spots_from_points: radius_px must be 0-100 pixels%s%s", "", "");
        job->spots_from_points = 1;
    }
    if ((v = kr_node_get(n, "spots"))) {
        if (kr_node_kind_of(v) != KR_NODE_SEQ) return node_err(v, "spots: expected a list%s%s", "", "");
        if (kr_node_len(v) > KR_MAP_MAX_SPOTS) return node_err(v, "spots: more than 64%s%s", "", "");
        for (size_t i = 0; i < kr_node_len(v); i++) {
            static const char *const SKEYS[] = {"x_px", "y_px", "radius_px", "wt", NULL};
            const kr_node *s = kr_node_item(v, i);
            kr_map_job_spot *sp = &job->spots[job->nspots++];
            if ((rc = check_keys(s, "spot", SKEYS))) return rc;
            const kr_node *x = kr_node_get(s, "x_px"), *y = kr_node_get(s, "y_px"), *r = kr_node_get(s, "radius_px"),
                          *w = kr_node_get(s, "wt");
            if (!x || !y || !w) return node_err(s, "spot: x_px, y_px and wt are required%s%s", "", "");
            if ((rc = kr_node_double(x, &sp->x_px)) || (rc = kr_node_double(y, &sp->y_px))) return rc;
            sp->radius_px = 0;
            if (r && (rc = kr_node_double(r, &sp->radius_px))) return rc;
            if ((rc = get_species(w, "spot wt", sp->sp, &sp->n))) return rc;
        }
    }
    if ((v = kr_node_get(n, "regions"))) {
        if (kr_node_kind_of(v) != KR_NODE_SEQ) return node_err(v, "regions: expected a list%s%s", "", "");
        if (kr_node_len(v) > KR_MAP_MAX_RULES) return node_err(v, "regions: more than 8%s%s", "", "");
        for (size_t i = 0; i < kr_node_len(v); i++) {
            static const char *const RKEYS[] = {"name", "where", NULL};
            const kr_node *r = kr_node_item(v, i);
            kr_map_rule *rule = &job->rules[job->nrules++];
            if ((rc = check_keys(r, "region", RKEYS))) return rc;
            const kr_node *nm = kr_node_get(r, "name"), *wh = kr_node_get(r, "where");
            if (!nm) return node_err(r, "region: \"name\" is required%s%s", "", "");
            if ((rc = get_str(nm, "name", rule->name, sizeof rule->name))) return rc;
            if (wh) {
                if (kr_node_kind_of(wh) != KR_NODE_SEQ || kr_node_len(wh) > KR_MAP_RULE_MAX)
                    return node_err(wh, "region %s: \"where\" must be a list of up to 8 conditions%s", rule->name, "");
                for (size_t c = 0; c < kr_node_len(wh); c++) {
                    const kr_node *cn = kr_node_item(wh, c);
                    char at[200];
                    snprintf(at, sizeof at, "%s:%ld", kr_node_file(cn), kr_node_line(cn));
                    const char *txt = kr_node_scalar(cn);
                    if (!txt) return node_err(cn, "region %s: a condition must be text%s", rule->name, "");
                    if ((rc = kr_map_cond_parse(txt, at, &rule->cond[rule->ncond++]))) return rc;
                }
            }
        }
    }
    if ((v = kr_node_get(n, "png"))) {
        if (kr_node_kind_of(v) != KR_NODE_SEQ || kr_node_len(v) > KR_MAP_MAX_PNG)
            return node_err(v, "png: expected a list of up to 24 quantity names%s%s", "", "");
        for (size_t i = 0; i < kr_node_len(v); i++)
            if ((rc = get_str(kr_node_item(v, i), "png", job->png[job->npng++], sizeof job->png[0]))) return rc;
    }
    return KR_OK;
}

int kr_epma_maps_run(const kr_config *cfg, const kr_node *inputs, const char *png_dir, const kr_maps_points *pts,
                     kr_product *out)
{
    if (!inputs || kr_node_len(inputs) == 0) return KR_OK;
    if (kr_node_kind_of(inputs) != KR_NODE_SEQ)
        return kr_err_at(KR_EINPUT, kr_node_file(inputs), kr_node_line(inputs), "epma.maps.inputs: expected a list of maps");
    kr_maps_opts opts;
    int rc = kr_maps_opts_from_config(cfg, &opts);
    if (rc) return rc;
    if (pts) opts.points = *pts;
    kr_atomic *at = malloc(sizeof *at);
    kr_map_job *job = malloc(sizeof *job);
    kr_map_region_row *rows = NULL;
    size_t nrows = 0;
    char *base = NULL, *png_cfg = NULL;
    if (!at || !job) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    if ((rc = kr_atomic_load(at))) goto cleanup;
    base = kr_config_resolve_path(cfg, ".");
    if (!png_dir && kr_config_string(cfg, "epma.maps.png_dir")) {
        png_cfg = kr_config_resolve_path(cfg, kr_config_string(cfg, "epma.maps.png_dir"));
        png_dir = png_cfg;
    } else if (!png_dir && out) { /* default: a folder beside the product, "<product stem>_png" */
        const char *final = kr_product_path(out);
        size_t n = strlen(final);
        if (n > 3 && !strcmp(final + n - 3, ".h5")) n -= 3;
        png_cfg = malloc(n + 5);
        if (!png_cfg) {
            rc = kr_err(KR_ENOMEM, "out of memory");
            goto cleanup;
        }
        snprintf(png_cfg, n + 5, "%.*s_png", (int)n, final);
        png_dir = png_cfg;
    }
    if (png_dir && opts.png) {
        if (out) { /* images staged with the product: in place only when it commits, old ones kept until then */
            if ((rc = kr_product_side_dir(out, png_dir, &png_dir))) goto cleanup;
        } else {
            mkdir(png_dir, 0777); /* an existing folder is fine; a failure shows at the write */
        }
    }
    for (size_t i = 0; i < kr_node_len(inputs); i++) {
        if ((rc = kr_map_job_from_node(kr_node_item(inputs, i), base, job))) goto cleanup;
        for (size_t j = 0; j < i; j++) {
            const kr_node *nm = kr_node_get(kr_node_item(inputs, j), "name");
            if (nm && kr_node_scalar(nm) && !strcmp(kr_node_scalar(nm), job->name)) {
                rc = kr_err(KR_EINPUT, "%s: map name \"%s\" used twice", job->where, job->name);
                goto cleanup;
            }
        }
        if ((rc = kr_map_job_run(job, at, &opts, png_dir, out, &rows, &nrows, NULL))) goto cleanup;
    }
    if (nrows && (rc = kr_product_write_table(out, "epma/map_regions", kr_map_region_table(), rows, nrows))) goto cleanup;
cleanup:
    free(base);
    free(png_cfg);
    free(rows);
    free(job);
    free(at);
    return rc;
}
