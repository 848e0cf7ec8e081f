#include "points.h"

#include "error.h"
#include "text.h"

#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FRAC_TO_PCT 100.0 /* unit conversion mass fraction -> % */

#define PT kr_epma_point_row
static const kr_column POINT_COLS[] = {
    KR_COL_S(PT, sample_id, "sample id from the point's comment (epma.sample_id rule)"),
    KR_COL_S(PT, point, "point folder or CSV point name"),
    KR_COL_S(PT, comment, "operator's comment ($XM_AP_COMMENT%0), UTF-8"),
    KR_COL_S(PT, element, "element symbol"),
    KR_COL_S(PT, xray_line, "X-ray line (Ka, La, ...); empty for O by stoichiometry / by difference"),
    KR_COL_S(PT, crystal, "analysing crystal"),
    KR_COL_S(PT, standard, "standard the k-ratio is relative to"),
    KR_COL_S(PT, oxide, "oxide used for stoichiometry and oxide wt%"),
    KR_COL_S(PT, status, "ok, or why the point's matrix correction failed"),
    KR_COL_INT(PT, point_index, "", "1-based order of the point in the run"),
    KR_COL_INT(PT, iterations, "", "matrix-correction iterations"),
    KR_COL_INT(PT, flags, "", "bits: 1 exp-bg fallback, 2 negative net, 4 JEOL net/bg/sigma mismatch, 8 below DL, "
                              "16 failed, 32 by difference, 64 O by stoichiometry, 128 standard averaged, "
                              "256 standard drift-interpolated (linear in time between its bracketing "
                              "measurements, held at the first/last outside them)"),
    KR_COL_D(PT, kv, "kV", "accelerating voltage"),
    KR_COL_D(PT, current_na, "nA", "beam current"),
    KR_COL_D(PT, x_mm, "mm", "stage x"),
    KR_COL_D(PT, y_mm, "mm", "stage y"),
    KR_COL_D(PT, peak_counts, "counts", "counts on peak"),
    KR_COL_D(PT, bgm_counts, "counts", "counts at the lower background position"),
    KR_COL_D(PT, bgp_counts, "counts", "counts at the upper background position"),
    KR_COL_D(PT, peak_time_s, "s", "peak counting time"),
    KR_COL_D(PT, bg_time_s, "s", "counting time per background position"),
    KR_COL_D(PT, dead_time_us, "us", "detector dead time"),
    KR_COL_D(PT, peak_cps, "cps", "dead-time corrected peak rate"),
    KR_COL_D(PT, bg_cps, "cps", "interpolated background under the peak"),
    KR_COL_D(PT, net_cps, "cps", "net peak rate"),
    KR_COL_D(PT, sigma_net_cps, "cps", "1 sigma of the net rate (counting statistics)"),
    KR_COL_D(PT, net_cps_na, "cps/nA", "net rate per nA"),
    KR_COL_D(PT, std_net_cps_na, "cps/nA", "net rate per nA of the standard used for this point (interpolated to "
                                           "its time when flag 256 is set, else the session mean)"),
    KR_COL_D(PT, jeol_net_cps, "cps", "JEOL's own net rate from the .qnt (NaN if absent)"),
    KR_COL_D(PT, jeol_bg_cps, "cps", "JEOL's own background rate from the .qnt"),
    KR_COL_D(PT, jeol_sigma_cps, "cps", "JEOL's own sigma from the .qnt"),
    KR_COL_D(PT, k, "", "k-ratio against the standard"),
    KR_COL_D(PT, sigma_k, "", "1 sigma of k (counting statistics of unknown and standard)"),
    KR_COL_D(PT, z_factor, "", "atomic-number factor (k_pure = C z a f)"),
    KR_COL_D(PT, a_factor, "", "absorption factor"),
    KR_COL_D(PT, f_factor, "", "fluorescence factor"),
    KR_COL_D(PT, mass_pct, "wt%", "element mass %"),
    KR_COL_D(PT, sigma_mass_pct, "wt%", "1 sigma of the mass % from counting statistics"),
    KR_COL_D(PT, oxide_pct, "wt%", "oxide mass %"),
    KR_COL_D(PT, dl_mass_pct, "wt%", "detection limit, element (3 sigma of background)"),
    KR_COL_D(PT, dl_oxide_pct, "wt%", "detection limit as oxide"),
    KR_COL_D(PT, total_oxide_pct, "wt%", "the point's total (oxides when O is by stoichiometry)"),
};
#undef PT
const kr_table_desc kr_epma_points_desc = KR_TABLE(POINT_COLS, kr_epma_point_row);

#define ST kr_epma_sample_row
static const kr_column SAMPLE_COLS[] = {
    KR_COL_S(ST, sample_id, "sample id"),
    KR_COL_S(ST, component, "oxide (SiO2), element, or Total"),
    KR_COL_INT(ST, n_points, "", "points averaged (failed points excluded)"),
    KR_COL_D(ST, mean_wt, "wt%", "mean"),
    KR_COL_D(ST, sd_wt, "wt%", "standard deviation of the points (n-1); NaN if n < 2"),
    KR_COL_D(ST, sem_wt, "wt%", "standard error of the mean"),
    KR_COL_D(ST, min_wt, "wt%", "smallest point value"),
    KR_COL_D(ST, max_wt, "wt%", "largest point value"),
};
#undef ST
const kr_table_desc kr_epma_samples_desc = KR_TABLE(SAMPLE_COLS, kr_epma_sample_row);

#define SD kr_epma_std_row
static const kr_column STD_COLS[] = {
    KR_COL_S(SD, standard, "standard's name"),
    KR_COL_S(SD, element, "element"),
    KR_COL_S(SD, xray_line, "X-ray line"),
    KR_COL_S(SD, crystal, "analysing crystal (empty: not recorded)"),
    KR_COL_S(SD, formula, "composition as atom proportions, used by the matrix correction"),
    KR_COL_INT(SD, n_measurements, "", "measurements of this standard channel"),
    KR_COL_D(SD, kv, "kV", "accelerating voltage"),
    KR_COL_D(SD, net_cps_na, "cps/nA", "mean net intensity per nA"),
    KR_COL_D(SD, sigma_cps_na, "cps/nA", "counting sigma of that mean"),
    KR_COL_D(SD, bg_cps_na, "cps/nA", "mean background under the peak per nA"),
    KR_COL_D(SD, first_time_s, "s", "first acquisition, seconds since 1970 (NaN: not recorded)"),
    KR_COL_D(SD, last_time_s, "s", "last acquisition"),
    KR_COL_D(SD, c_std_pct, "wt%", "mass % of the element in the standard"),
};
#undef SD
const kr_table_desc kr_epma_standards_desc = KR_TABLE(STD_COLS, kr_epma_std_row);

void kr_epma_opts_default(kr_epma_opts *o)
{
    memset(o, 0, sizeof *o);
    o->model = KR_EPMA_XPP;
    o->mac = KR_MAC_HEINRICH86;
    o->fluorescence = 1;
    o->dead_time = KR_DT_NONPARALYZABLE;
    o->background = KR_BG_LINEAR;
    snprintf(o->fe_oxide, sizeof o->fe_oxide, "FeO");
    o->oxygen_stoich = 1;
    snprintf(o->sample_rule, sizeof o->sample_rule, "last_underscore");
    o->takeoff_deg = 40.0; /* JEOL JXA-8230 take-off angle (JEOL JXA-8230 specifications) */
    o->std_drift = KR_EPMA_STD_DRIFT_LINEAR;
}

int kr_epma_std_drift_parse(const char *s, kr_epma_std_drift *out)
{
    if (s && kr_streq_ci(s, "linear")) *out = KR_EPMA_STD_DRIFT_LINEAR;
    else if (s && kr_streq_ci(s, "mean")) *out = KR_EPMA_STD_DRIFT_MEAN;
    else return kr_err(KR_EINPUT, "epma.std_drift: expected linear or mean, found '%s'", s ? s : "");
    return KR_OK;
}

void kr_epma_out_free(kr_epma_out *o)
{
    if (!o) return;
    free(o->points);
    free(o->samples);
    free(o->standards);
    memset(o, 0, sizeof *o);
}

int kr_epma_sample_id(const char *rule, const char *comment, char *buf, size_t len)
{
    if (!rule || !*rule || !strcmp(rule, "whole")) {
        snprintf(buf, len, "%s", comment);
        return KR_OK;
    }
    if (!strcmp(rule, "last_underscore")) {
        const char *u = strrchr(comment, '_');
        size_t n = u ? (size_t)(u - comment) : strlen(comment);
        if (n >= len) n = len - 1;
        memcpy(buf, comment, n);
        buf[n] = '\0';
        return KR_OK;
    }
    if (!strncmp(rule, "regex:", 6)) {
        regex_t re;
        int e = regcomp(&re, rule + 6, REG_EXTENDED);
        if (e) {
            char msg[128];
            regerror(e, &re, msg, sizeof msg);
            return kr_err(KR_EINPUT, "epma.sample_id: bad regular expression '%s': %s", rule + 6, msg);
        }
        regmatch_t m[2];
        int rc = KR_OK;
        if (regexec(&re, comment, 2, m, 0) != 0) {
            rc = kr_err(KR_EINPUT, "comment '%s' does not match the epma.sample_id rule '%s'", comment, rule);
        } else {
            int g = (re.re_nsub >= 1 && m[1].rm_so >= 0) ? 1 : 0;
            size_t n = (size_t)(m[g].rm_eo - m[g].rm_so);
            if (n >= len) n = len - 1;
            memcpy(buf, comment + m[g].rm_so, n);
            buf[n] = '\0';
        }
        regfree(&re);
        return rc;
    }
    return kr_err(KR_EINPUT, "epma.sample_id: unknown rule '%s' (expected last_underscore, whole or regex:<ERE>)", rule);
}

/* ---- standards ---- */

/* One measurement of a standard channel; after collapsing, one distinct time (repeats averaged). */
typedef struct {
    int entry;                /* index of its std_entry */
    double t_s;               /* acquisition time (NaN: none) */
    double cps_na, var, bg_cps_na;
    int n;                    /* measurements averaged into this node */
} std_node;

typedef struct {
    char el[4], line[4], name[64];
    char crystal[12];         /* analysing crystal ("" unknown): intensities on different crystals differ */
    double kv;                /* beam energy of its measurements (a standard's intensity depends on it) */
    const kr_epma_point *pt;  /* first measurement (composition) */
    double sum_cps_na, sum_var, sum_bg_cps_na;
    int n;
    int untimed;              /* measurements without an acquisition time */
    kr_wds_net net;           /* averaged: net_cps_na, sigma_cps_na */
    const std_node *nodes;    /* distinct times in increasing order, >= 2; NULL: the mean applies */
    int nnodes;
    double c_std_pct;         /* element mass % in the standard */
    char formula[48];         /* atom-proportion formula for the matrix correction */
} std_entry;

typedef struct {
    std_entry *e;
    int n;
    std_node *nodes; /* storage of every entry's nodes */
} std_set;

static void std_set_free(std_set *s)
{
    free(s->e);
    free(s->nodes);
    memset(s, 0, sizeof *s);
}

/* by entry, then time (no time last) */
static int cmp_node(const void *a, const void *b)
{
    const std_node *x = a, *y = b;
    if (x->entry != y->entry) return x->entry < y->entry ? -1 : 1;
    int nx = isnan(x->t_s), ny = isnan(y->t_s);
    if (nx || ny) return nx - ny;
    return (x->t_s > y->t_s) - (x->t_s < y->t_s);
}

/* Atom-proportion formula ("Ca0.2Si0.2O0.6") from an element-mass-% composition. */
static int composition_formula(const kr_atomic *at, const kr_epma_point *p, char *buf, size_t len)
{
    double atoms[KR_EPMA_MAX_COMP], sum = 0;
    for (int i = 0; i < p->ncomp; i++) {
        int z = kr_atomic_z(at, p->comp_el[i]);
        if (!z || !(at->weight[z] > 0))
            return kr_err(KR_EINPUT, "standard %s: unknown element %s", p->std_name, p->comp_el[i]);
        atoms[i] = p->comp_wt[i] / at->weight[z];
        sum += atoms[i];
    }
    if (!(sum > 0)) return kr_err(KR_EINPUT, "standard %s: composition sums to zero", p->std_name);
    for (int digits = 6; digits >= 3; digits--) {
        size_t o = 0;
        int ok = 1;
        for (int i = 0; i < p->ncomp && ok; i++) {
            if (p->comp_wt[i] <= 0) continue;
            int w = snprintf(buf + o, len - o, "%s%.*g", p->comp_el[i], digits, atoms[i] / sum);
            if (w < 0 || (size_t)w >= len - o) ok = 0;
            else o += (size_t)w;
        }
        if (ok) return KR_OK;
    }
    return kr_err(KR_EINPUT, "standard %s: composition too long for a formula", p->std_name);
}

static int vendor_check(const kr_epma_opts *o, const kr_epma_channel *c, kr_epma_out *out, int *flags)
{
    if (!c->has_vendor_net) return KR_OK;
    kr_wds_net j;
    /* JEOL's own reduction: non-paralyzable dead time and linear background (DOMAIN §2.2 step 4) */
    int rc = kr_wds_net_compute(&c->counts, KR_DT_NONPARALYZABLE, KR_BG_LINEAR, c->where, &j);
    if (rc) return rc;
    out->vendor_checked++;
    if (kr_wds_matches_printed(&j, c->vendor_net, c->vendor_bg, c->vendor_sigma)) return KR_OK;
    out->vendor_mismatches++;
    *flags |= KR_WDS_FLAG_JEOL_MISMATCH;
    if (o->vendor_mismatch_error)
        return kr_err(KR_EINPUT,
                      "%s: JEOL's net/bg/sigma %s/%s/%s cps disagree with the recomputed %.3f/%.3f/%.3f cps",
                      c->where, c->vendor_net, c->vendor_bg, c->vendor_sigma, j.net_cps, j.bg_cps, j.sigma_cps);
    return KR_OK;
}

static const char *override_for(const kr_epma_opts *o, const char *el)
{
    for (int i = 0; i < o->nstd_override; i++)
        if (kr_streq_ci(o->std_el[i], el)) return o->std_name[i];
    return NULL;
}

/* Beam energies equal to the precision exports give them (0.01 kV). */
static int same_kv(double a, double b) { return fabs(a - b) < 0.005; }

/* Crystals compatible: the same, or one of them not recorded. */
static int same_crystal(const char *a, const char *b) { return !*a || !*b || kr_streq_ci(a, b); }

static int build_standards(const kr_epma_opts *o, const kr_atomic *at, const kr_epma_points *stds, std_set *out,
                           kr_epma_out *res)
{
    memset(out, 0, sizeof *out);
    size_t cap = 0, nmeas = 0;
    for (size_t s = 0; s < stds->n; s++) cap += (size_t)stds->items[s].nch;
    if (cap == 0) return KR_OK;
    std_entry *e = calloc(cap, sizeof *e);
    std_node *meas = calloc(cap, sizeof *meas);
    int n = 0, rc = KR_OK;
    if (!e || !meas) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t s = 0; s < stds->n; s++) {
        const kr_epma_point *p = &stds->items[s];
        for (int c = 0; c < p->nch; c++) {
            const kr_epma_channel *ch = &p->ch[c];
            kr_wds_net net;
            int flags = 0;
            if ((rc = kr_wds_net_compute(&ch->counts, o->dead_time, o->background, ch->where, &net))) goto fail;
            if ((rc = vendor_check(o, ch, res, &flags))) goto fail;
            int k = 0;
            while (k < n && !(kr_streq_ci(e[k].el, ch->element) && kr_streq_ci(e[k].line, ch->line) &&
                              !strcmp(e[k].name, p->std_name) && same_kv(e[k].kv, p->kv) &&
                              kr_streq_ci(e[k].crystal, ch->crystal)))
                k++;
            if (k == n) {
                e[k].kv = p->kv;
                snprintf(e[k].crystal, sizeof e[k].crystal, "%s", ch->crystal);
                snprintf(e[k].el, sizeof e[k].el, "%s", ch->element);
                snprintf(e[k].line, sizeof e[k].line, "%s", ch->line);
                snprintf(e[k].name, sizeof e[k].name, "%s", p->std_name);
                e[k].pt = p;
                e[k].c_std_pct = NAN;
                for (int i = 0; i < p->ncomp; i++)
                    if (kr_streq_ci(p->comp_el[i], ch->element)) e[k].c_std_pct = p->comp_wt[i];
                if (!(e[k].c_std_pct > 0)) {
                    rc = kr_err(KR_EINPUT, "%s: standard '%s' is measured for %s but its composition has no %s",
                                p->source, p->std_name, ch->element, ch->element);
                    goto fail;
                }
                if ((rc = composition_formula(at, p, e[k].formula, sizeof e[k].formula))) {
                    kr_err(rc, "%s", p->source);
                    goto fail;
                }
                n++;
            }
            e[k].sum_cps_na += net.net_cps_na;
            e[k].sum_var += net.sigma_cps_na * net.sigma_cps_na;
            e[k].sum_bg_cps_na += net.bg_cps_na;
            e[k].n++;
            if (!isfinite(p->acq_time_s)) e[k].untimed++;
            std_node *m = &meas[nmeas++];
            m->entry = k;
            m->t_s = isfinite(p->acq_time_s) ? p->acq_time_s : NAN;
            m->cps_na = net.net_cps_na;
            m->var = net.sigma_cps_na * net.sigma_cps_na;
            m->bg_cps_na = net.bg_cps_na;
            m->n = 1;
        }
    }
    for (int k = 0; k < n; k++) {
        /* mean of repeated standard measurements; sigma of the mean from counting statistics */
        e[k].net.net_cps_na = e[k].sum_cps_na / e[k].n;
        e[k].net.sigma_cps_na = sqrt(e[k].sum_var) / e[k].n;
        e[k].net.bg_cps_na = e[k].sum_bg_cps_na / e[k].n;
    }
    /* drift: per entry, its measurements in time order with repeats at one time merged into one node */
    qsort(meas, nmeas, sizeof *meas, cmp_node);
    size_t nn = 0;
    for (size_t i = 0; i < nmeas;) {
        size_t j = i, first = nn;
        int k = meas[i].entry;
        while (j < nmeas && meas[j].entry == k) {
            std_node *d = &meas[nn++];
            *d = meas[j++];
            while (j < nmeas && meas[j].entry == k && meas[j].t_s == d->t_s) {
                d->cps_na += meas[j].cps_na;
                d->var += meas[j].var;
                d->bg_cps_na += meas[j].bg_cps_na;
                d->n++;
                j++;
            }
            /* mean of the repeats; sigma of the mean from counting statistics */
            d->cps_na /= d->n;
            d->var /= (double)d->n * d->n;
            d->bg_cps_na /= d->n;
        }
        i = j;
        if (o->std_drift == KR_EPMA_STD_DRIFT_LINEAR && !e[k].untimed && nn - first >= 2) {
            e[k].nodes = meas + first; /* meas is not reallocated from here on */
            e[k].nnodes = (int)(nn - first);
        }
    }
    out->e = e;
    out->n = n;
    out->nodes = meas;
    return KR_OK;
fail:
    free(e);
    free(meas);
    return rc;
}

/* The standard's intensity for an unknown measured at t_s (NaN: no time), and the row flag it earns. */
static void standard_at(const std_entry *se, double t_s, kr_wds_net *net, int *flags)
{
    *net = se->net;
    if (!se->nodes || !isfinite(t_s)) {
        if (se->n > 1) *flags |= KR_EPMA_FLAG_DRIFT_STD;
        return;
    }
    *flags |= KR_EPMA_FLAG_STD_INTERP;
    const std_node *a = &se->nodes[0], *b = &se->nodes[se->nnodes - 1];
    double wb; /* weight of b; a gets 1 - wb */
    if (t_s <= a->t_s) {
        b = a; /* before the first measurement: held at it */
        wb = 0;
    } else if (t_s >= b->t_s) {
        a = b; /* after the last: held at it */
        wb = 1;
    } else {
        int i = 0;
        while (se->nodes[i + 1].t_s <= t_s) i++;
        a = &se->nodes[i];
        b = &se->nodes[i + 1];
        /* linear standard drift between the bracketing measurements (Probe for EPMA standard drift
         * correction, Donovan et al., Probe Software user's guide; DOMAIN §2.2 step 5) */
        wb = (t_s - a->t_s) / (b->t_s - a->t_s);
    }
    double wa = 1.0 - wb;
    net->net_cps_na = wa * a->cps_na + wb * b->cps_na;
    net->bg_cps_na = wa * a->bg_cps_na + wb * b->bg_cps_na;
    /* variance of a weighted sum of independent measurements (Bevington & Robinson 2003, ch. 3) */
    net->sigma_cps_na = sqrt(wa * wa * a->var + wb * wb * b->var);
}

/* The standard of a channel measured at beam energy kv: same element, line, kV and crystal (and the name
 * chosen in epma.standards when several were measured). */
static int find_standard(const kr_epma_opts *o, const std_entry *e, int n, const kr_epma_channel *ch, double kv,
                         const std_entry **out)
{
    const char *want = override_for(o, ch->element);
    const std_entry *other_kv = NULL;
    *out = NULL;
    for (int k = 0; k < n; k++) {
        if (!kr_streq_ci(e[k].el, ch->element) || !kr_streq_ci(e[k].line, ch->line)) continue;
        if (want && !kr_streq_ci(want, e[k].name)) continue;
        if (!same_kv(e[k].kv, kv) || !same_crystal(e[k].crystal, ch->crystal)) {
            other_kv = &e[k];
            continue;
        }
        if (*out)
            return kr_err(KR_EINPUT,
                          "%s: several standards measured for %s %s ('%s', '%s'): choose one with "
                          "epma.standards: {%s: <name>}",
                          ch->where, ch->element, ch->line, (*out)->name, e[k].name, ch->element);
        *out = &e[k];
    }
    if (!*out) {
        if (other_kv)
            return kr_err(KR_EINPUT,
                          "%s: no standard measured for %s %s at %g kV on %s (standard '%s' was measured at %g kV on %s)",
                          ch->where, ch->element, ch->line, kv, *ch->crystal ? ch->crystal : "any crystal",
                          other_kv->name, other_kv->kv, *other_kv->crystal ? other_kv->crystal : "an unrecorded crystal");
        if (want)
            return kr_err(KR_EINPUT, "%s: standard '%s' (epma.standards) has no measurement of %s %s", ch->where, want,
                          ch->element, ch->line);
        return kr_err(KR_EINPUT, "%s: no standard measured for %s %s", ch->where, ch->element, ch->line);
    }
    return KR_OK;
}

/* ---- matrix contexts, reused across points with the same setup ---- */

enum { CTX_CACHE = 8 };
typedef struct {
    kr_epma_setup setup[CTX_CACHE];
    kr_epma_ctx *ctx[CTX_CACHE];
    int n;
} ctx_cache;

static int same_setup(const kr_epma_setup *a, const kr_epma_setup *b)
{
    if (a->model != b->model || a->mac != b->mac || a->fluorescence != b->fluorescence || a->n != b->n ||
        a->n_mac_override != b->n_mac_override)
        return 0;
    for (int i = 0; i < a->n; i++) {
        const kr_epma_elem *x = &a->el[i], *y = &b->el[i];
        if (x->z != y->z || x->role != y->role || x->line != y->line || x->kv != y->kv ||
            x->takeoff_deg != y->takeoff_deg || strcmp(x->standard, y->standard) ||
            x->ox_cations != y->ox_cations || x->ox_oxygens != y->ox_oxygens)
            return 0;
    }
    for (int i = 0; i < a->n_mac_override; i++)
        if (memcmp(&a->mac_override[i], &b->mac_override[i], sizeof a->mac_override[i])) return 0;
    return 1;
}

static int cache_get(ctx_cache *c, const kr_epma_setup *s, const kr_atomic *at, const kr_epma_ctx **out)
{
    for (int i = 0; i < c->n; i++)
        if (same_setup(&c->setup[i], s)) {
            *out = c->ctx[i];
            return KR_OK;
        }
    int slot = c->n < CTX_CACHE ? c->n++ : CTX_CACHE - 1;
    if (c->ctx[slot]) kr_epma_ctx_free(c->ctx[slot]);
    c->ctx[slot] = NULL;
    int rc = kr_epma_ctx_new(s, at, &c->ctx[slot]);
    if (rc) {
        c->n = slot; /* drop the failed slot */
        return rc;
    }
    c->setup[slot] = *s;
    *out = c->ctx[slot];
    return KR_OK;
}

static void cache_free(ctx_cache *c)
{
    for (int i = 0; i < CTX_CACHE; i++)
        if (c->ctx[i]) kr_epma_ctx_free(c->ctx[i]);
}

/* (n A_cat + m A_O)/(n A_cat): element -> oxide mass conversion */
static double oxide_factor(const kr_atomic *at, int z, int cat, int oxy)
{
    if (cat <= 0) {
        cat = at->ox_cations[z];
        oxy = at->ox_oxygens[z];
    }
    if (cat <= 0) return NAN;
    return (cat * at->weight[z] + oxy * at->weight[8]) / (cat * at->weight[z]);
}

static int grow_rows(kr_epma_out *out, size_t *cap, size_t need)
{
    if (out->npoints + need <= *cap) return KR_OK;
    size_t c = *cap ? *cap : 256;
    while (c < out->npoints + need) c *= 2;
    kr_epma_point_row *p = realloc(out->points, c * sizeof *p);
    if (!p) return kr_err(KR_ENOMEM, "out of memory for %zu rows", c);
    out->points = p;
    *cap = c;
    return KR_OK;
}

static void row_nan(kr_epma_point_row *r)
{
    double *d[] = {&r->x_mm, &r->y_mm, &r->peak_counts, &r->bgm_counts, &r->bgp_counts, &r->peak_time_s,
                   &r->bg_time_s, &r->dead_time_us, &r->peak_cps, &r->bg_cps, &r->net_cps, &r->sigma_net_cps,
                   &r->net_cps_na, &r->std_net_cps_na, &r->jeol_net_cps, &r->jeol_bg_cps, &r->jeol_sigma_cps,
                   &r->k, &r->sigma_k, &r->z_factor, &r->a_factor, &r->f_factor, &r->mass_pct,
                   &r->sigma_mass_pct, &r->oxide_pct, &r->dl_mass_pct, &r->dl_oxide_pct, &r->total_oxide_pct};
    for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) *d[i] = NAN;
}

static double parse_or_nan(const char *s)
{
    double v;
    return kr_parse_double(s, &v) ? NAN : v;
}

/* Reduce one unknown point into rows appended to out. */
static int reduce_point(const kr_epma_opts *o, const kr_atomic *at, const kr_epma_point *p, int index,
                        const std_entry *stds, int nstd, ctx_cache *cache, kr_epma_out *out, size_t *cap)
{
    int rc;
    char sample[48];
    if ((rc = kr_epma_sample_id(o->sample_rule, p->comment[0] ? p->comment : p->label, sample, sizeof sample)))
        return kr_err(rc, "%s: point %s", p->source, p->label);
    if ((rc = grow_rows(out, cap, (size_t)p->nch + 2))) return rc;
    kr_epma_point_row *rows = out->points + out->npoints;
    kr_epma_setup setup;
    memset(&setup, 0, sizeof setup);
    kr_epma_setup_init(&setup);
    setup.model = o->model;
    setup.mac = o->mac;
    setup.fluorescence = o->fluorescence;
    setup.n_mac_override = o->n_mac_override;
    memcpy(setup.mac_override, o->mac_override, sizeof o->mac_override);
    double k[KR_EPMA_MAX_EL];
    int have_o = 0;
    double takeoff = isfinite(p->takeoff_deg) ? p->takeoff_deg : o->takeoff_deg;
    int nrow = 0;
    for (int c = 0; c < p->nch; c++) {
        const kr_epma_channel *ch = &p->ch[c];
        kr_epma_point_row *r = &rows[nrow++];
        memset(r, 0, sizeof *r);
        row_nan(r);
        snprintf(r->sample_id, sizeof r->sample_id, "%s", sample);
        snprintf(r->point, sizeof r->point, "%s", p->label);
        snprintf(r->comment, sizeof r->comment, "%s", p->comment);
        snprintf(r->element, sizeof r->element, "%s", ch->element);
        snprintf(r->xray_line, sizeof r->xray_line, "%s", ch->line);
        snprintf(r->crystal, sizeof r->crystal, "%s", ch->crystal);
        snprintf(r->status, sizeof r->status, "ok");
        r->point_index = index;
        r->kv = p->kv;
        r->current_na = ch->counts.current_na;
        r->x_mm = p->x_mm;
        r->y_mm = p->y_mm;
        r->peak_counts = ch->counts.peak_counts;
        r->bgm_counts = ch->counts.bgm_counts;
        r->bgp_counts = ch->counts.bgp_counts;
        r->peak_time_s = ch->counts.peak_time_s;
        r->bg_time_s = 0.5 * (ch->counts.bgm_time_s + ch->counts.bgp_time_s);
        r->dead_time_us = ch->counts.dead_time_us;
        if (ch->has_vendor_net) {
            r->jeol_net_cps = parse_or_nan(ch->vendor_net);
            r->jeol_bg_cps = parse_or_nan(ch->vendor_bg);
            r->jeol_sigma_cps = parse_or_nan(ch->vendor_sigma);
        }
        kr_wds_net net;
        if ((rc = kr_wds_net_compute(&ch->counts, o->dead_time, o->background, ch->where, &net))) return rc;
        r->flags |= net.flags;
        if ((rc = vendor_check(o, ch, out, &r->flags))) return rc;
        r->peak_cps = net.peak_cps;
        r->bg_cps = net.bg_cps;
        r->net_cps = net.net_cps;
        r->sigma_net_cps = net.sigma_cps;
        r->net_cps_na = net.net_cps_na;
        const std_entry *se;
        if ((rc = find_standard(o, stds, nstd, ch, p->kv, &se))) return rc;
        snprintf(r->standard, sizeof r->standard, "%s", se->name);
        kr_wds_net snet;
        standard_at(se, p->acq_time_s, &snet, &r->flags);
        r->std_net_cps_na = snet.net_cps_na;
        double kk, sk;
        if ((rc = kr_kratio(&net, &snet, ch->where, &kk, &sk))) return rc;
        r->k = kk;
        r->sigma_k = sk;
        /* detection limit in element mass % (DOMAIN §2.3) */
        r->dl_mass_pct = kr_detection_limit(net.bg_cps_na, ch->counts.peak_time_s, ch->counts.current_na,
                                            se->c_std_pct, snet.net_cps_na);
        kr_xray_line xl;
        if (kr_xray_line_parse(ch->line, &xl))
            return kr_err(KR_EINPUT, "%s: unknown X-ray line '%s'", ch->where, ch->line);
        int idx = kr_epma_setup_add(&setup, at, ch->element, KR_EPMA_MEASURED, xl, p->kv, takeoff, se->formula);
        if (idx < 0) return kr_err(KR_EINPUT, "%s: cannot add %s to the matrix correction", ch->where, ch->element);
        if (idx != c) return kr_err(KR_EINPUT, "%s: element %s measured twice in one point", ch->where, ch->element);
        k[idx] = kk;
        /* the run's Fe valence (epma.fe_oxide) wins over the file's; other oxides come from the file or the
         * default table */
        const char *ox = kr_streq_ci(ch->element, "Fe") ? o->fe_oxide : (ch->oxide[0] ? ch->oxide : NULL);
        if (ox && (rc = kr_epma_setup_set_oxide(&setup, at, idx, ox)))
            return kr_err(rc, "%s: oxide '%s' of %s", ch->where, ox, ch->element);
        if (kr_streq_ci(ch->element, "O")) have_o = 1;
    }
    int i_o = -1, i_diff = -1;
    if (o->by_difference[0]) {
        int measured = 0;
        for (int c = 0; c < p->nch; c++)
            if (kr_streq_ci(p->ch[c].element, o->by_difference)) measured = 1;
        if (!measured) {
            i_diff = kr_epma_setup_add(&setup, at, o->by_difference, KR_EPMA_DIFFERENCE, KR_LINE_KA, 0, 0, NULL);
            if (i_diff < 0) return kr_err(KR_EINPUT, "epma.by_difference: cannot use '%s'", o->by_difference);
            if (kr_streq_ci(o->by_difference, "Fe") && (rc = kr_epma_setup_set_oxide(&setup, at, i_diff, o->fe_oxide)))
                return rc;
            if (kr_streq_ci(o->by_difference, "O")) have_o = 1;
        }
    }
    if (o->oxygen_stoich && !have_o) {
        i_o = kr_epma_setup_add(&setup, at, "O", KR_EPMA_STOICH_O, KR_LINE_KA, 0, 0, NULL);
        if (i_o < 0) return kr_err(KR_EINPUT, "%s: cannot add stoichiometric oxygen", p->source);
    }
    const kr_epma_ctx *ctx;
    if ((rc = cache_get(cache, &setup, at, &ctx))) return kr_err(rc, "%s: point %s: matrix correction setup", p->source, p->label);
    const kr_epma_setup *cs = kr_epma_ctx_setup(ctx);
    kr_epma_work w;
    kr_epma_result res;
    int src = kr_epma_solve(ctx, k, NULL, &w, &res);
    if (src) {
        char msg[160];
        kr_err_format(msg, sizeof msg);
        kr_err_clear();
        out->failed_points++;
        for (int r = 0; r < nrow; r++) {
            rows[r].flags |= KR_EPMA_FLAG_FAILED;
            snprintf(rows[r].status, sizeof rows[r].status, "%s", msg);
        }
        out->npoints += (size_t)nrow;
        return KR_OK;
    }
    double total = (o->oxygen_stoich ? res.oxide_total : res.total) * FRAC_TO_PCT;
    for (int c = 0; c < p->nch; c++) {
        kr_epma_point_row *r = &rows[c];
        const kr_epma_elem *el = &cs->el[c];
        r->iterations = res.iterations;
        r->z_factor = res.z[c];
        r->a_factor = res.a[c];
        r->f_factor = res.f[c];
        r->mass_pct = res.mass_frac[c] * FRAC_TO_PCT;
        r->sigma_mass_pct = r->k != 0 ? fabs(r->mass_pct * r->sigma_k / r->k) : NAN;
        double of = oxide_factor(at, el->z, el->ox_cations, el->ox_oxygens);
        if (o->oxygen_stoich && isfinite(of)) {
            r->oxide_pct = isfinite(res.oxide_frac[c]) ? res.oxide_frac[c] * FRAC_TO_PCT : r->mass_pct * of;
            r->dl_oxide_pct = r->dl_mass_pct * of;
            int cat = el->ox_cations > 0 ? el->ox_cations : at->ox_cations[el->z];
            int oxy = el->ox_cations > 0 ? el->ox_oxygens : at->ox_oxygens[el->z];
            if (cat == 1 && oxy == 1)
                snprintf(r->oxide, sizeof r->oxide, "%sO", r->element);
            else if (cat == 1)
                snprintf(r->oxide, sizeof r->oxide, "%sO%d", r->element, oxy);
            else if (oxy == 1)
                snprintf(r->oxide, sizeof r->oxide, "%s%dO", r->element, cat);
            else
                snprintf(r->oxide, sizeof r->oxide, "%s%dO%d", r->element, cat, oxy);
        }
        if (r->mass_pct < r->dl_mass_pct) r->flags |= KR_EPMA_FLAG_BELOW_DL;
        r->total_oxide_pct = total;
    }
    int extra[2] = {i_diff, i_o};
    for (int e = 0; e < 2; e++) {
        int i = extra[e];
        if (i < 0) continue;
        kr_epma_point_row *r = &rows[nrow++];
        memset(r, 0, sizeof *r);
        row_nan(r);
        snprintf(r->sample_id, sizeof r->sample_id, "%s", sample);
        snprintf(r->point, sizeof r->point, "%s", p->label);
        snprintf(r->comment, sizeof r->comment, "%s", p->comment);
        snprintf(r->element, sizeof r->element, "%s", kr_atomic_symbol(at, cs->el[i].z));
        snprintf(r->status, sizeof r->status, "ok");
        r->point_index = index;
        r->kv = p->kv;
        r->current_na = p->current_na;
        r->x_mm = p->x_mm;
        r->y_mm = p->y_mm;
        r->iterations = res.iterations;
        r->flags = e == 0 ? KR_EPMA_FLAG_DIFFERENCE : KR_EPMA_FLAG_STOICH_O;
        r->mass_pct = res.mass_frac[i] * FRAC_TO_PCT;
        if (e == 0 && o->oxygen_stoich && isfinite(res.oxide_frac[i])) r->oxide_pct = res.oxide_frac[i] * FRAC_TO_PCT;
        r->total_oxide_pct = total;
    }
    out->npoints += (size_t)nrow;
    return KR_OK;
}

/* ---- per-sample statistics ---- */

typedef struct {
    double sum, sumsq, min, max;
    int n;
} acc;

static int index_of(char (*names)[48], int n, const char *s)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], s)) return i;
    return -1;
}

static int build_samples(kr_epma_out *out)
{
    int rc = KR_OK;
    size_t np = out->npoints;
    char (*sids)[48] = calloc(np + 1, sizeof *sids);
    char (*comps)[48] = calloc(KR_EPMA_MAX_EL * 2 + 1, sizeof *comps);
    acc *a = NULL;
    int ns = 0, nc = 0;
    if (!sids || !comps) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    /* components in order of first appearance; "Total" last */
    for (size_t i = 0; i < np; i++) {
        const kr_epma_point_row *r = &out->points[i];
        if (index_of(sids, ns, r->sample_id) < 0) snprintf(sids[ns++], 48, "%s", r->sample_id);
        if (r->flags & KR_EPMA_FLAG_STOICH_O) continue;
        const char *name = r->oxide[0] ? r->oxide : r->element;
        if (index_of(comps, nc, name) < 0 && nc < KR_EPMA_MAX_EL * 2) snprintf(comps[nc++], 48, "%s", name);
    }
    snprintf(comps[nc++], 48, "Total");
    a = calloc((size_t)(ns * nc) + 1, sizeof *a);
    if (!a) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    int last_index = -1;
    for (size_t i = 0; i < np; i++) {
        const kr_epma_point_row *r = &out->points[i];
        if (r->flags & KR_EPMA_FLAG_FAILED) continue;
        int s = index_of(sids, ns, r->sample_id);
        double v = NAN;
        int c = -1;
        if (!(r->flags & KR_EPMA_FLAG_STOICH_O)) {
            const char *name = r->oxide[0] ? r->oxide : r->element;
            c = index_of(comps, nc, name);
            v = r->oxide[0] ? r->oxide_pct : r->mass_pct;
        }
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 1) {
                if (r->point_index == last_index) break;
                c = nc - 1;
                v = r->total_oxide_pct;
            }
            if (c >= 0 && isfinite(v)) {
                acc *x = &a[s * nc + c];
                if (x->n == 0 || v < x->min) x->min = v;
                if (x->n == 0 || v > x->max) x->max = v;
                x->sum += v;
                x->sumsq += v * v;
                x->n++;
            }
        }
        last_index = r->point_index;
    }
    out->samples = calloc((size_t)(ns * nc) + 1, sizeof *out->samples);
    if (!out->samples) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (int s = 0; s < ns; s++)
        for (int c = 0; c < nc; c++) {
            const acc *x = &a[s * nc + c];
            if (x->n == 0) continue;
            kr_epma_sample_row *o = &out->samples[out->nsamples++];
            snprintf(o->sample_id, sizeof o->sample_id, "%s", sids[s]);
            snprintf(o->component, sizeof o->component, "%s", comps[c]);
            o->n_points = x->n;
            o->mean_wt = x->sum / x->n;
            /* sample standard deviation (n-1) */
            double var = x->n > 1 ? (x->sumsq - x->sum * x->sum / x->n) / (x->n - 1) : NAN;
            o->sd_wt = x->n > 1 ? sqrt(var > 0 ? var : 0) : NAN;
            o->sem_wt = x->n > 1 ? o->sd_wt / sqrt((double)x->n) : NAN;
            o->min_wt = x->min;
            o->max_wt = x->max;
        }
cleanup:
    free(sids);
    free(comps);
    free(a);
    return rc;
}

/* /epma/standards from the session's standard entries (mean intensities; first and last times). */
static int standards_table(const std_set *stds, const kr_epma_points *standards, kr_epma_out *out)
{
    if (stds->n == 0) return KR_OK;
    if (!(out->standards = calloc((size_t)stds->n, sizeof *out->standards))) return kr_err(KR_ENOMEM, "out of memory");
    for (int k = 0; k < stds->n; k++) {
        const std_entry *e = &stds->e[k];
        kr_epma_std_row *r = &out->standards[k];
        snprintf(r->standard, sizeof r->standard, "%s", e->name);
        snprintf(r->element, sizeof r->element, "%s", e->el);
        snprintf(r->xray_line, sizeof r->xray_line, "%s", e->line);
        snprintf(r->crystal, sizeof r->crystal, "%s", e->crystal);
        snprintf(r->formula, sizeof r->formula, "%s", e->formula);
        r->n_measurements = e->n;
        r->kv = e->kv;
        r->net_cps_na = e->net.net_cps_na;
        r->sigma_cps_na = e->net.sigma_cps_na;
        r->bg_cps_na = e->net.bg_cps_na;
        r->c_std_pct = e->c_std_pct;
        r->first_time_s = r->last_time_s = NAN;
        for (size_t s = 0; s < standards->n; s++) { /* the times of this entry's measurements */
            const kr_epma_point *p = &standards->items[s];
            if (strcmp(p->std_name, e->name) || !same_kv(p->kv, e->kv) || !isfinite(p->acq_time_s)) continue;
            for (int c = 0; c < p->nch; c++) {
                const kr_epma_channel *ch = &p->ch[c];
                if (!kr_streq_ci(ch->element, e->el) || !kr_streq_ci(ch->line, e->line) ||
                    !kr_streq_ci(ch->crystal, e->crystal))
                    continue;
                r->first_time_s = isnan(r->first_time_s) ? p->acq_time_s : fmin(r->first_time_s, p->acq_time_s);
                r->last_time_s = isnan(r->last_time_s) ? p->acq_time_s : fmax(r->last_time_s, p->acq_time_s);
            }
        }
    }
    out->nstandards = (size_t)stds->n;
    return KR_OK;
}

int kr_epma_reduce(const kr_epma_opts *o, const kr_atomic *at, const kr_epma_points *unknowns,
                   const kr_epma_points *standards, kr_epma_out *out)
{
    memset(out, 0, sizeof *out);
    std_set stds;
    memset(&stds, 0, sizeof stds);
    int rc;
    ctx_cache cache;
    memset(&cache, 0, sizeof cache);
    size_t cap = 0;
    if ((rc = build_standards(o, at, standards, &stds, out)) || (rc = standards_table(&stds, standards, out)))
        goto cleanup;
    if (unknowns->n == 0) {
        rc = kr_err(KR_EINPUT, "no unknown points to reduce");
        goto cleanup;
    }
    for (size_t i = 0; i < unknowns->n; i++)
        if ((rc = reduce_point(o, at, &unknowns->items[i], (int)i + 1, stds.e, stds.n, &cache, out, &cap)))
            goto cleanup;
    rc = build_samples(out);
cleanup:
    std_set_free(&stds);
    cache_free(&cache);
    if (rc) kr_epma_out_free(out);
    return rc;
}

int kr_epma_sample_mean(const kr_epma_out *o, const char *sample_id, const char *component, double *mean_wt,
                        double *sd_wt, int *n_points)
{
    for (size_t i = 0; i < o->nsamples; i++) {
        const kr_epma_sample_row *r = &o->samples[i];
        if (strcmp(r->sample_id, sample_id) || !kr_streq_ci(r->component, component)) continue;
        if (mean_wt) *mean_wt = r->mean_wt;
        if (sd_wt) *sd_wt = r->sd_wt;
        if (n_points) *n_points = r->n_points;
        return KR_OK;
    }
    return KR_EINPUT;
}
