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
    o->model = KR_EPMA_XPP;
    o->mac = KR_MAC_HEINRICH86;
    o->fluorescence = 1;
    o->tol_rel = 1e-6;
    o->max_iter = 100;
    o->takeoff_deg = 40.0;
    o->threads = 2;
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
    if ((v = kr_node_get(n, "std_cps_na")) && (rc = kr_node_double(v, &e->std_cps_na))) return rc;
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
    static const char *const KEYS[] = {"name", "cnd", "current_na", "kv", "oxygen", "fixed", "elements",
                                       "spots", "regions", "png", NULL};
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
    const kr_node *els = kr_node_get(n, "elements");
    if (!els || kr_node_kind_of(els) != KR_NODE_SEQ || kr_node_len(els) == 0)
        return node_err(els ? els : n, "map %s: \"elements\" must be a non-empty list%s", job->name, "");
    if (kr_node_len(els) > KR_EPMA_MAX_EL) return node_err(els, "map %s: more than 24 elements%s", job->name, "");
    for (size_t i = 0; i < kr_node_len(els); i++)
        if ((rc = job_elem_from_node(kr_node_item(els, i), base, &job->el[job->nel++]))) return rc;
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

/* ---------------------------------------------------------------- the map itself */

typedef struct {
    int cations, oxygens;
    double oxide_factor; /* oxide mass / cation mass = (n A + m A_O)/(n A) */
    double o_per_cation; /* oxygen mass / cation mass = m A_O/(n A) */
    char oxide[40];
} ox_info;

static void oxide_of(const kr_atomic *at, const kr_epma_elem *e, ox_info *o)
{
    memset(o, 0, sizeof *o);
    o->cations = e->ox_cations ? e->ox_cations : at->ox_cations[e->z];
    o->oxygens = e->ox_cations ? e->ox_oxygens : at->ox_oxygens[e->z];
    if (o->cations <= 0 || e->z == 8) {
        o->cations = 0;
        o->oxide_factor = NAN;
        o->o_per_cation = 0;
        return;
    }
    double a = at->weight[e->z], ao = at->weight[8];
    /* oxide wt% = C (n A + m A_O)/(n A); O = C m A_O/(n A) (DOMAIN.md §2.3, Oxides) */
    o->oxide_factor = (o->cations * a + o->oxygens * ao) / (o->cations * a);
    o->o_per_cation = o->oxygens * ao / (o->cations * a);
    char n[12] = "", m[12] = "";
    if (o->cations > 1) snprintf(n, sizeof n, "%d", o->cations);
    if (o->oxygens > 1) snprintf(m, sizeof m, "%d", o->oxygens);
    snprintf(o->oxide, sizeof o->oxide, "%s%s%s%s", at->symbol[e->z], n, o->oxygens ? "O" : "", m);
}

/* "SiO2" or "Si" -> Z and element mass fraction from wt%. oxide_out: the oxide formula when given. */
static int species_to_element(const kr_atomic *at, const kr_map_species *s, int *z, double *mass_frac, int *is_oxide)
{
    int zz = kr_atomic_z(at, s->species);
    if (zz > 0) {
        *z = zz;
        *mass_frac = s->wt_pct / 100.0;
        *is_oxide = 0;
        return KR_OK;
    }
    int nc, no;
    if (kr_oxide_parse(at, s->species, &zz, &nc, &no) != 0) {
        kr_err_clear();
        return kr_err(KR_EINPUT, "\"%s\" is neither an element nor an oxide formula", s->species);
    }
    double a = at->weight[zz], ao = at->weight[8];
    *z = zz;
    *mass_frac = s->wt_pct / 100.0 * nc * a / (nc * a + no * ao);
    *is_oxide = 1;
    return KR_OK;
}

static int setup_index(const kr_epma_setup *s, int z)
{
    for (int i = 0; i < s->n; i++)
        if (s->el[i].z == z) return i;
    return -1;
}

/* Composition of a spot for the forward model: its species, then fixed values, O by stoichiometry. */
static int spot_composition(const kr_atomic *at, const kr_epma_setup *s, const kr_map_job_spot *sp, int spot_no,
                            double *c)
{
    int given[KR_EPMA_MAX_EL] = {0};
    for (int i = 0; i < s->n; i++) c[i] = s->el[i].role == KR_EPMA_FIXED ? s->el[i].fixed_mass_frac : 0;
    for (int q = 0; q < sp->n; q++) {
        int z, ox;
        double f;
        int rc = species_to_element(at, &sp->sp[q], &z, &f, &ox);
        if (rc) return kr_err(rc, "spot %d", spot_no);
        int i = setup_index(s, z);
        if (i < 0) continue; /* an element the map's setup does not hold: irrelevant to the forward model */
        c[i] = f;
        given[i] = 1;
    }
    double o = 0;
    int io = -1;
    for (int i = 0; i < s->n; i++) {
        if (s->el[i].role == KR_EPMA_STOICH_O) {
            io = i;
            continue;
        }
        if (s->el[i].role == KR_EPMA_MEASURED && !given[i])
            return kr_err(KR_EINPUT, "spot %d gives no value for mapped element %s", spot_no, at->symbol[s->el[i].z]);
        ox_info oi;
        oxide_of(at, &s->el[i], &oi);
        o += c[i] * oi.o_per_cation;
    }
    if (io >= 0) c[io] = o;
    return KR_OK;
}

static size_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int want_png(const kr_map_job *job, const char *name)
{
    if (job->npng == 0) return -1; /* default set */
    for (int i = 0; i < job->npng; i++)
        if (!strcmp(job->png[i], name)) return 1;
    return 0;
}

/* Stored as float32: the maps are held as float32, and 7 significant digits are far below counting noise.
 * scratch (npx floats) is used only when the layer needs scaling (element -> oxide). */
static int write_signal(kr_product *out, const char *group, const char *sig, const char *units, const float *v,
                        double scale, float *scratch, size_t ny, size_t nx, const double *y_um, const double *x_um)
{
    size_t n = nx * ny;
    const float *vals = v;
    if (scale != 1.0) {
        for (size_t p = 0; p < n; p++) scratch[p] = (float)((double)v[p] * scale);
        vals = scratch;
    }
    int rc = kr_product_write_map_f32(out, group, sig, units, vals, ny, nx, y_um, x_um);
    if (rc) kr_err(rc, "%s: writing %s", group, sig);
    return rc;
}

int kr_map_job_run(const kr_map_job *job, const kr_atomic *at, const kr_maps_opts *opts, const char *png_dir,
                   kr_product *out, kr_map_region_row **rows, size_t *nrows, kr_map_summary *summary)
{
    int rc = KR_OK;
    kr_map_cnd cnd;
    kr_epma_setup setup;
    kr_epma_ctx *ctx = NULL;
    kr_mapq_in in;
    kr_mapq_out q;
    float *counts[KR_EPMA_MAX_EL] = {0}, *bgm[KR_EPMA_MAX_EL] = {0}, *bgp[KR_EPMA_MAX_EL] = {0};
    float *total = NULL, *oxygen = NULL;
    double *x_um = NULL, *y_um = NULL;
    float *scratch = NULL;
    unsigned char *mask = NULL;
    int jel[KR_EPMA_MAX_EL]; /* setup index -> job element, -1 */
    memset(&q, 0, sizeof q);
    memset(&in, 0, sizeof in);
    kr_map_summary sum;
    memset(&sum, 0, sizeof sum);
    for (int i = 0; i < KR_EPMA_MAX_EL; i++) jel[i] = -1;
    double t_start = now_s();

    if ((rc = kr_map_cnd_read(job->cnd, &cnd))) {
        kr_err(rc, "map %s (%s)", job->name, job->where);
        goto cleanup;
    }
    size_t nx = (size_t)cnd.nx, ny = (size_t)cnd.ny, npx = nx * ny;
    double current_na = isfinite(job->current_na) ? job->current_na : cnd.current_a * 1e9;
    double kv = isfinite(job->kv) ? job->kv : cnd.accel_kv;
    if (!(current_na > 0)) {
        rc = kr_err(KR_EINPUT, "map %s: no probe current in %s and no current_na in the config", job->name, job->cnd);
        goto cleanup;
    }
    if (!(kv > 0)) {
        rc = kr_err(KR_EINPUT, "map %s: no accelerating voltage in %s and no kv in the config", job->name, job->cnd);
        goto cleanup;
    }

    /* the matrix-correction setup: mapped elements, fixed ones, stoichiometric O */
    kr_epma_setup_init(&setup);
    setup.model = opts->model;
    setup.mac = opts->mac;
    setup.fluorescence = opts->fluorescence;
    setup.tol_rel = opts->tol_rel;
    setup.max_iter = opts->max_iter;
    for (int j = 0; j < job->nel; j++) {
        const kr_map_job_elem *e = &job->el[j];
        kr_xray_line line;
        if (kr_xray_line_parse(e->line, &line)) {
            rc = kr_err(KR_EINPUT, "map %s: element %s: unknown line \"%s\"", job->name, e->element, e->line);
            goto cleanup;
        }
        int idx = kr_epma_setup_add(&setup, at, e->element, KR_EPMA_MEASURED, line, kv, opts->takeoff_deg, e->standard);
        if (idx < 0) {
            rc = kr_err(KR_EINPUT, "map %s: element %s", job->name, e->element);
            goto cleanup;
        }
        jel[idx] = j;
        if (e->oxide[0] && (rc = kr_epma_setup_set_oxide(&setup, at, idx, e->oxide))) {
            kr_err(rc, "map %s: element %s", job->name, e->element);
            goto cleanup;
        }
    }
    for (int f = 0; f < job->nfixed; f++) {
        int z, ox;
        double c;
        if ((rc = species_to_element(at, &job->fixed[f], &z, &c, &ox))) {
            kr_err(rc, "map %s: fixed composition", job->name);
            goto cleanup;
        }
        if (setup_index(&setup, z) >= 0) {
            rc = kr_err(KR_EINPUT, "map %s: %s is both mapped (or listed twice) and fixed", job->name, job->fixed[f].species);
            goto cleanup;
        }
        if (z == 8 && job->oxygen_stoich) {
            rc = kr_err(KR_EINPUT, "map %s: O is fixed but oxygen is by stoichiometry", job->name);
            goto cleanup;
        }
        int idx = kr_epma_setup_add(&setup, at, at->symbol[z], KR_EPMA_FIXED, KR_LINE_KA, kv, opts->takeoff_deg, NULL);
        if (idx < 0) {
            rc = kr_err(KR_EINPUT, "map %s: fixed %s", job->name, job->fixed[f].species);
            goto cleanup;
        }
        setup.el[idx].fixed_mass_frac = c;
        if (ox && (rc = kr_epma_setup_set_oxide(&setup, at, idx, job->fixed[f].species))) goto cleanup;
    }
    if (job->oxygen_stoich &&
        kr_epma_setup_add(&setup, at, "O", KR_EPMA_STOICH_O, KR_LINE_KA, kv, opts->takeoff_deg, NULL) < 0) {
        rc = kr_err(KR_EINPUT, "map %s: oxygen", job->name);
        goto cleanup;
    }
    if ((rc = kr_epma_ctx_new(&setup, at, &ctx))) {
        kr_err(rc, "map %s: matrix-correction setup", job->name);
        goto cleanup;
    }

    /* the count maps */
    in.nx = nx;
    in.ny = ny;
    in.dwell_ms = cnd.dwell_ms;
    in.current_na = current_na;
    in.ctx = ctx;
    in.nthreads = opts->threads;
    for (int i = 0; i < setup.n; i++) {
        if (jel[i] < 0) continue;
        const kr_map_job_elem *e = &job->el[jel[i]];
        int ch = kr_map_cnd_find(&cnd, e->element);
        double declared_max = ch >= 0 ? cnd.chan[ch].max_value : NAN;
        if (cnd.style == KR_CND_KEYVALUE && cnd.nchan != 1) declared_max = NAN;
        if (!(counts[i] = malloc(sizeof(float) * npx))) goto nomem;
        const char *dot = strrchr(e->file, '.');
        int is_csv = dot && (kr_streq_ci(dot, ".csv") || kr_streq_ci(dot, ".txt"));
        if (!is_csv && cnd.data_bytes && file_size(e->file) != npx * (size_t)cnd.data_bytes && file_size(e->file) > 0) {
            rc = kr_err(KR_EINPUT, "map %s: %s has %zu bytes but %s declares %d-byte pixels (%zu x %d = %zu bytes)",
                        job->name, e->file, file_size(e->file), job->cnd, cnd.data_bytes, npx, cnd.data_bytes,
                        npx * (size_t)cnd.data_bytes);
            goto cleanup;
        }
        if ((rc = kr_map_read_any(e->file, cnd.nx, cnd.ny, declared_max, counts[i]))) {
            kr_err(rc, "map %s: element %s", job->name, e->element);
            goto cleanup;
        }
        sum.raw_bytes += file_size(e->file);
        if (out && (rc = kr_product_add_input(out, "epma_map", e->file))) goto cleanup;
        kr_mapq_elem *m = &in.el[i];
        m->counts = counts[i];
        m->dead_time_us = e->dead_time_us;
        m->dt_form = opts->dt_form;
        m->bg = e->bg;
        m->bg_cps_na = e->bg_cps_na;
        m->std_cps_na = e->std_cps_na;
        if (e->bg == KR_MAPBG_MAPS) {
            if (!(bgm[i] = malloc(sizeof(float) * npx)) || !(bgp[i] = malloc(sizeof(float) * npx))) goto nomem;
            if ((rc = kr_map_read_any(e->bg_minus_file, cnd.nx, cnd.ny, NAN, bgm[i])) ||
                (rc = kr_map_read_any(e->bg_plus_file, cnd.nx, cnd.ny, NAN, bgp[i]))) {
                kr_err(rc, "map %s: off-peak maps of %s", job->name, e->element);
                goto cleanup;
            }
            sum.raw_bytes += file_size(e->bg_minus_file) + file_size(e->bg_plus_file);
            m->bg_minus = bgm[i];
            m->bg_plus = bgp[i];
            m->off_minus_mm = e->off_minus_mm;
            m->off_plus_mm = e->off_plus_mm;
            m->bg_dwell_ms = e->bg_dwell_ms;
        }
    }
    if (out && (rc = kr_product_add_input(out, "epma_map_cnd", job->cnd))) goto cleanup;
    /* calibration lines against the spots (XMapTools style) */
    for (int i = 0; i < setup.n; i++) {
        if (jel[i] < 0 || job->el[jel[i]].bg != KR_MAPBG_CALIB) continue;
        kr_map_spot *spots = calloc((size_t)(job->nspots ? job->nspots : 1), sizeof *spots);
        if (!spots) goto nomem;
        for (int s = 0; s < job->nspots && !rc; s++) {
            spots[s].x_px = job->spots[s].x_px;
            spots[s].y_px = job->spots[s].y_px;
            spots[s].radius_px = job->spots[s].radius_px;
            rc = spot_composition(at, &setup, &job->spots[s], s + 1, spots[s].mass_frac);
        }
        double sb;
        if (!rc) rc = kr_mapq_calibrate(&in, i, spots, (size_t)job->nspots, job->el[jel[i]].calib_fit_slope, &sb);
        free(spots);
        if (rc) {
            kr_err(rc, "map %s: calibration line of %s", job->name, job->el[jel[i]].element);
            goto cleanup;
        }
    }

    double t0 = now_s();
    sum.read_s = t0 - t_start;
    if ((rc = kr_mapq_run(&in, &q))) {
        kr_err(rc, "map %s", job->name);
        goto cleanup;
    }
    sum.quant_s = now_s() - t0;
    sum.nx = nx;
    sum.ny = ny;
    sum.n_failed = q.n_failed;
    sum.mean_iterations = q.mean_iterations;

    /* derived layers: total (all elements, fixed included) */
    if (!(total = malloc(sizeof(float) * npx))) goto nomem;
    double fixed_pct = 0;
    for (int i = 0; i < setup.n; i++)
        if (setup.el[i].role == KR_EPMA_FIXED) fixed_pct += 100.0 * setup.el[i].fixed_mass_frac;
    for (size_t p = 0; p < npx; p++) {
        double t = fixed_pct;
        for (int i = 0; i < setup.n; i++)
            if (q.mass_pct[i]) t += q.mass_pct[i][p];
        total[p] = (float)t;
    }

    /* layers by name (masks may test any): element wt%, oxide wt%, total; statistics of each oxide
     * (or element without an oxide) and of the total */
    kr_map_layer layers[3 * KR_EPMA_MAX_EL + 2];
    char names[3 * KR_EPMA_MAX_EL + 2][48]; /* wide enough for any oxide name (oxide_of: 40) */
    int stat_layer[3 * KR_EPMA_MAX_EL + 2];
    int nl = 0;
    ox_info oxi[KR_EPMA_MAX_EL];
    for (int i = 0; i < setup.n; i++) {
        oxide_of(at, &setup.el[i], &oxi[i]);
        if (!q.mass_pct[i]) continue;
        const char *sym = at->symbol[setup.el[i].z];
        snprintf(names[nl], sizeof names[nl], "%s", sym);
        layers[nl] = (kr_map_layer){names[nl], "wt%", q.mass_pct[i], 1.0};
        stat_layer[nl] = oxi[i].cations == 0;
        nl++;
        if (oxi[i].cations > 0) {
            snprintf(names[nl], sizeof names[nl], "%s", oxi[i].oxide);
            layers[nl] = (kr_map_layer){names[nl], "wt%", q.mass_pct[i], oxi[i].oxide_factor};
            stat_layer[nl] = 1;
            nl++;
        }
    }
    snprintf(names[nl], sizeof names[nl], "total");
    layers[nl] = (kr_map_layer){names[nl], "wt%", total, 1.0};
    stat_layer[nl] = 1;
    nl++;
    int nl_stats = 0;
    for (int l = 0; l < nl; l++) nl_stats += stat_layer[l];

    double px_um = isfinite(cnd.pixel_x_um) ? cnd.pixel_x_um : NAN;
    double t1 = now_s();
    if (out) {
        char group[96];
        snprintf(group, sizeof group, "epma/maps/%s", job->name);
        if (!(x_um = malloc(sizeof(double) * nx)) || !(y_um = malloc(sizeof(double) * ny))) goto nomem;
        kr_map_axes(&cnd, x_um, y_um);
        /* the count arrays are no longer needed after the solve: write them, then reuse nothing else */
        if (!(scratch = malloc(sizeof(float) * npx))) goto nomem;
        /* the NXdata group's `signal` is the first map written: the first png quantity (e.g. TiO2_wt),
         * else the first mapped element's oxide */
        char primary[48] = "";
        for (int l = 0; l < nl && !primary[0]; l++) {
            char qn[48];
            snprintf(qn, sizeof qn, "%s_wt", layers[l].name);
            if (layers[l].v != total && (job->npng ? !strcmp(job->png[0], qn) : layers[l].scale != 1.0)) {
                snprintf(primary, sizeof primary, "%s", qn);
                if ((rc = write_signal(out, group, qn, "wt%", layers[l].v, layers[l].scale, scratch, ny, nx, y_um, x_um)))
                    goto cleanup;
            }
        }
        for (int i = 0; i < setup.n; i++) {
            const char *sym = at->symbol[setup.el[i].z];
            char sig[48];
            if (counts[i]) {
                snprintf(sig, sizeof sig, "%s_counts", sym);
                if ((rc = write_signal(out, group, sig, "counts", counts[i], 1.0, scratch, ny, nx, y_um, x_um))) goto cleanup;
                free(counts[i]);
                counts[i] = NULL;
            }
            if (q.mass_pct[i]) {
                snprintf(sig, sizeof sig, "%s_wt", sym);
                if (strcmp(sig, primary) &&
                    (rc = write_signal(out, group, sig, "wt%", q.mass_pct[i], 1.0, scratch, ny, nx, y_um, x_um)))
                    goto cleanup;
                if (oxi[i].cations > 0) {
                    snprintf(sig, sizeof sig, "%s_wt", oxi[i].oxide);
                    if (strcmp(sig, primary) && (rc = write_signal(out, group, sig, "wt%", q.mass_pct[i], oxi[i].oxide_factor,
                                                                   scratch, ny, nx, y_um, x_um)))
                        goto cleanup;
                    char dpath[200];
                    snprintf(dpath, sizeof dpath, "/%s/%s", group, sig);
                    if ((rc = kr_product_attr_double(out, dpath, "oxide_per_element", oxi[i].oxide_factor))) goto cleanup;
                }
            }
            if (q.sigma_pct[i]) {
                snprintf(sig, sizeof sig, "%s_sigma_wt", sym);
                if ((rc = write_signal(out, group, sig, "wt%", q.sigma_pct[i], 1.0, scratch, ny, nx, y_um, x_um))) goto cleanup;
                /* the oxide's sigma is the element's times the oxide factor (attribute on the oxide map) */
            }
        }
        if ((rc = write_signal(out, group, "total_wt", "wt%", total, 1.0, scratch, ny, nx, y_um, x_um))) goto cleanup;
        /* conditions as attributes of the group */
        char gpath[112];
        snprintf(gpath, sizeof gpath, "/%s", group);
        double attrs[6] = {cnd.dwell_ms, current_na, kv, opts->takeoff_deg, (double)q.n_failed, q.mean_iterations};
        static const char *const anames[6] = {"dwell_ms", "current_na", "accel_kv", "takeoff_deg", "failed_pixels",
                                              "mean_iterations"};
        for (int a = 0; a < 6; a++)
            if ((rc = kr_product_attr_double(out, gpath, anames[a], attrs[a]))) goto cleanup;
        if ((rc = kr_product_attr_string(out, gpath, "model", kr_epma_model_name(opts->model)))) goto cleanup;
    }

    double t2 = now_s();
    sum.write_s = t2 - t1;
    /* the first region (e.g. the clean glass) sets the colour range of the images */
    unsigned char *range_mask = NULL;
    if (job->nrules > 0) {
        if (!(mask = malloc(npx))) goto nomem;
        if ((rc = kr_map_mask(&job->rules[0], layers, nl, npx, mask, NULL))) {
            kr_err(rc, "map %s", job->name);
            goto cleanup;
        }
        range_mask = mask;
    }
    /* PNG images */
    if (png_dir && opts->png) {
        for (int l = 0; l < nl; l++) {
            int is_oxide_or_total = !strcmp(layers[l].name, "total") || layers[l].scale != 1.0 ||
                                    (setup_index(&setup, kr_atomic_z(at, layers[l].name)) >= 0 &&
                                     oxi[setup_index(&setup, kr_atomic_z(at, layers[l].name))].cations == 0);
            char qname[40];
            snprintf(qname, sizeof qname, "%s_wt", layers[l].name);
            int w = want_png(job, qname);
            if (w == 0 || (w < 0 && !is_oxide_or_total)) continue;
            if (!scratch && !(scratch = malloc(sizeof(float) * npx))) goto nomem;
            for (size_t p = 0; p < npx; p++) scratch[p] = (float)((double)layers[l].v[p] * layers[l].scale);
            char path[KR_MAP_PATH + 128];
            snprintf(path, sizeof path, "%s/%s_%s_wt.png", png_dir, job->name, layers[l].name);
            kr_png_map_opts po = {"wt%", NAN, NAN, px_um, range_mask};
            if ((rc = kr_png_write_map(path, scratch, ny, nx, &po))) goto cleanup;
        }
    }

    /* regions: masks and statistics */
    if (job->nrules > 0) {
        if (!scratch && !(scratch = malloc(sizeof(float) * npx))) goto nomem;
        size_t need = *nrows + (size_t)job->nrules * (size_t)nl_stats;
        kr_map_region_row *r = realloc(*rows, need * sizeof *r);
        if (!r) goto nomem;
        *rows = r;
        for (int k = 0; k < job->nrules; k++) {
            size_t nin;
            if ((rc = kr_map_mask(&job->rules[k], layers, nl, npx, mask, &nin))) {
                kr_err(rc, "map %s", job->name);
                goto cleanup;
            }
            for (int l = 0; l < nl; l++) {
                if (!stat_layer[l]) continue;
                kr_map_region_row *row = &(*rows)[(*nrows)++];
                memset(row, 0, sizeof *row);
                snprintf(row->map, sizeof row->map, "%s", job->name);
                snprintf(row->region, sizeof row->region, "%s", job->rules[k].name);
                kr_map_region_stats(&layers[l], mask, npx, scratch, row);
            }
            if (png_dir && opts->png) {
                char path[KR_MAP_PATH + 128];
                snprintf(path, sizeof path, "%s/%s_%s_mask.png", png_dir, job->name, job->rules[k].name);
                if ((rc = kr_png_write_mask(path, mask, ny, nx, px_um))) goto cleanup;
            }
        }
    }
    sum.stats_s = now_s() - t2;
    goto cleanup;
nomem:
    rc = kr_err(KR_ENOMEM, "map %s: out of memory", job->name);
cleanup:
    if (summary) *summary = sum;
    for (int i = 0; i < KR_EPMA_MAX_EL; i++) {
        free(counts[i]);
        free(bgm[i]);
        free(bgp[i]);
    }
    kr_mapq_out_free(&q);
    free(total);
    free(oxygen);
    free(scratch);
    free(x_um);
    free(y_um);
    free(mask);
    kr_epma_ctx_free(ctx);
    return rc;
}

int kr_epma_maps_run(const kr_config *cfg, const kr_node *inputs, const char *png_dir, kr_product *out)
{
    if (!inputs || kr_node_len(inputs) == 0) return KR_OK;
    if (kr_node_kind_of(inputs) != KR_NODE_SEQ)
        return kr_err_at(KR_EINPUT, kr_node_file(inputs), kr_node_line(inputs), "epma.maps.inputs: expected a list of maps");
    kr_maps_opts opts;
    int rc = kr_maps_opts_from_config(cfg, &opts);
    if (rc) return rc;
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
    if (png_dir && opts.png) mkdir(png_dir, 0777); /* an existing folder is fine; a failure shows at the write */
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
