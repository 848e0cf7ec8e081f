#include "jeol_points.h"

#include "error.h"
#include "jeol.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define A_TO_NA 1e9 /* unit conversion A -> nA */

static int exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

enum { F_QNT, F_STD, F_CND, F_N };

typedef struct {
    kr_jeol_file f[F_N];
    int have[F_N];
} jeol_set;

/* First file (qnt, std, cnd) holding the key. */
static const kr_jeol_entry *set_find(const jeol_set *s, const char *key, int index, int sub, const kr_jeol_file **file)
{
    for (int i = 0; i < F_N; i++) {
        if (!s->have[i]) continue;
        const kr_jeol_entry *e = kr_jeol_find(&s->f[i], key, index, sub);
        if (e) {
            if (file) *file = &s->f[i];
            return e;
        }
    }
    return NULL;
}

/* The file a missing key is reported against: the one where it belongs. */
static const kr_jeol_file *home_file(const jeol_set *s, int pref)
{
    if (s->have[pref]) return &s->f[pref];
    for (int i = 0; i < F_N; i++)
        if (s->have[i]) return &s->f[i];
    return NULL;
}

static int set_require(const jeol_set *s, int pref, const char *key, int index, int sub, const kr_jeol_entry **e,
                       const kr_jeol_file **file)
{
    *e = set_find(s, key, index, sub, file);
    if (*e) return KR_OK;
    return kr_jeol_require(home_file(s, pref), key, index, sub, e);
}

static int set_numbers(const jeol_set *s, int pref, const char *key, int index, int sub, double *vals, int n,
                       int at_least, long *line, const kr_jeol_file **file)
{
    const kr_jeol_entry *e;
    const kr_jeol_file *f = NULL;
    int rc = set_require(s, pref, key, index, sub, &e, &f);
    if (rc) return rc;
    if (line) *line = e->line;
    if (file) *file = f;
    return kr_jeol_numbers(f, e, vals, n, at_least);
}

static int read_composition(const jeol_set *s, const kr_atomic *at, kr_epma_point *p)
{
    const kr_jeol_file *f = NULL;
    const kr_jeol_entry *e = set_find(s, "XM_CMP_STD_SAMPLE_NAME", 0, -1, &f);
    if (!e) return kr_jeol_require(home_file(s, F_STD), "XM_CMP_STD_SAMPLE_NAME", 0, -1, &e);
    kr_jeol_to_utf8(e->value, p->std_name, sizeof p->std_name);
    if (!p->std_name[0]) return kr_err_at(KR_EINPUT, f->path, e->line, "$XM_CMP_STD_SAMPLE_NAME%%0 is empty");
    for (int m = 0; m < 1000; m++) {
        const kr_jeol_file *cf = NULL;
        const kr_jeol_entry *c = set_find(s, "XM_CMP_COMPOSITION", 0, m, &cf);
        if (!c) {
            if (m == 0) continue; /* entries may start at _0 or _1 */
            break;
        }
        char tok[32], val[64];
        kr_jeol_token(c->value, 0, tok, sizeof tok);
        kr_jeol_token(c->value, 1, val, sizeof val);
        double wt;
        if (!tok[0] || kr_parse_double(val, &wt) || !(wt >= 0) || wt > 100)
            return kr_err_at(KR_EINPUT, cf->path, c->line,
                             "$XM_CMP_COMPOSITION%%0_%d: expected '<element or oxide> <mass %% 0-100>', found '%s'",
                             m, c->value);
        kr_formula fo;
        if (kr_formula_parse(at, tok, &fo))
            return kr_err_at(KR_EINPUT, cf->path, c->line, "$XM_CMP_COMPOSITION%%0_%d: unknown element or oxide '%s'",
                             m, tok);
        for (int i = 0; i < fo.n; i++) {
            const char *sym = kr_atomic_symbol(at, fo.z[i]);
            int j = 0;
            while (j < p->ncomp && strcmp(p->comp_el[j], sym) != 0) j++;
            if (j == p->ncomp) {
                if (p->ncomp == KR_EPMA_MAX_COMP)
                    return kr_err_at(KR_EINPUT, cf->path, c->line, "more than %d elements in the standard",
                                     KR_EPMA_MAX_COMP);
                snprintf(p->comp_el[j], sizeof p->comp_el[j], "%s", sym);
                p->comp_wt[j] = 0;
                p->ncomp++;
            }
            p->comp_wt[j] += wt * fo.mass_frac[i];
        }
    }
    if (p->ncomp == 0)
        return kr_err_at(KR_EINPUT, f->path, e->line, "standard '%s' has no $XM_CMP_COMPOSITION%%0_M entries",
                         p->std_name);
    return KR_OK;
}

static int read_channel(const jeol_set *s, const kr_atomic *at, int n, kr_epma_point *p)
{
    kr_epma_channel *c = &p->ch[p->nch];
    memset(c, 0, sizeof *c);
    const kr_jeol_file *f = NULL;
    const kr_jeol_entry *e;
    int rc;
    /* element: the .qnt's own name for the channel, else the condition's */
    e = set_find(s, "XM_QNT_DATA_WD_ELM", n, -1, &f);
    if (!e) e = set_find(s, "XM_ELEM_NAME", n, -1, &f);
    if (!e) return KR_OK; /* no channel n */
    kr_jeol_token(e->value, 0, c->element, sizeof c->element);
    if (!c->element[0] || kr_atomic_z(at, c->element) == 0)
        return kr_err_at(KR_EINPUT, f->path, e->line, "channel %d: unknown element '%s'", n, e->value);
    if ((rc = set_require(s, F_CND, "XM_ELEM_WDS_XRAY", n, -1, &e, &f))) return rc;
    kr_jeol_token(e->value, 0, c->line, sizeof c->line);
    kr_xray_line xl;
    if (kr_xray_line_parse(c->line, &xl))
        return kr_err_at(KR_EINPUT, f->path, e->line, "channel %d (%s): unknown X-ray line '%s' (expected Ka, Kb, La, "
                         "Lb, Ma, Mb)", n, c->element, e->value);
    e = set_find(s, "XM_ELEM_WDS_CRYSTAL_NAME", n, -1, &f);
    if (e) kr_jeol_token(e->value, 0, c->crystal, sizeof c->crystal);
    double v[6];
    c->peak_mm = NAN;
    if (set_find(s, "XM_ELEM_WDS_PEAK", n, -1, NULL)) {
        if ((rc = set_numbers(s, F_CND, "XM_ELEM_WDS_PEAK", n, -1, v, 1, 0, NULL, NULL))) return rc;
        c->peak_mm = v[0];
    }
    if ((rc = set_numbers(s, F_CND, "XM_ELEM_WDS_BACK_MINUS", n, -1, v, 1, 0, NULL, NULL))) return rc;
    c->counts.off_minus_mm = fabs(v[0]);
    if ((rc = set_numbers(s, F_CND, "XM_ELEM_WDS_BACK_PLUS", n, -1, v, 1, 0, NULL, NULL))) return rc;
    c->counts.off_plus_mm = fabs(v[0]);
    long line;
    if ((rc = set_numbers(s, F_QNT, "XM_QNT_DATA_WD_MES_TIME", n, -1, v, 3, 1, NULL, NULL))) return rc;
    c->counts.peak_time_s = v[0];
    c->counts.bgm_time_s = v[1];
    c->counts.bgp_time_s = v[2];
    if ((rc = set_numbers(s, F_QNT, "XM_QNT_DATA_WD_XRAY_CNT", n, -1, v, 3, 1, &line, &f))) return rc;
    {
        char el[4], ln[4];
        memcpy(el, c->element, sizeof el);
        memcpy(ln, c->line, sizeof ln);
        snprintf(c->where, sizeof c->where, "%s:%ld (%s %s)", f->path, line, el, ln);
    }
    c->counts.peak_counts = v[0];
    c->counts.bgm_counts = v[1];
    c->counts.bgp_counts = v[2];
    e = kr_jeol_find(f, "XM_QNT_DATA_WD_XRAY_CNT", n, -1);
    if (kr_jeol_token(e->value, 5, c->vendor_sigma, sizeof c->vendor_sigma)) {
        kr_jeol_token(e->value, 3, c->vendor_net, sizeof c->vendor_net);
        kr_jeol_token(e->value, 4, c->vendor_bg, sizeof c->vendor_bg);
        if ((rc = kr_jeol_numbers(f, e, v, 6, 1))) return rc;
        c->has_vendor_net = 1;
    }
    if ((rc = set_numbers(s, F_QNT, "XM_QNT_DATA_WD_DEAD_TIME", n, -1, v, 1, 1, NULL, NULL))) return rc;
    c->counts.dead_time_us = v[0];
    c->counts.current_na = p->current_na;
    e = set_find(s, "XM_QNT_ATOMIC_VALENCE", n, -1, &f);
    if (e) kr_jeol_token(e->value, 2, c->oxide, sizeof c->oxide);
    p->nch++;
    return KR_OK;
}

static int join(char *buf, size_t len, const char *dir, const char *name)
{
    int n = snprintf(buf, len, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= len) return kr_err(KR_EINPUT, "path too long: %s/%s", dir, name);
    return KR_OK;
}

int kr_jeol_read_point_dir(const char *dir, const kr_atomic *at, kr_epma_point *out)
{
    memset(out, 0, sizeof *out);
    jeol_set s;
    memset(&s, 0, sizeof s);
    static const char *const names[F_N] = {"data001.qnt", "data001.std", "data001.cnd"};
    int rc = KR_OK;
    for (int i = 0; i < F_N; i++) {
        char path[4096];
        if ((rc = join(path, sizeof path, dir, names[i]))) goto cleanup;
        if (!exists(path)) continue;
        s.have[i] = 1;
        if ((rc = kr_jeol_read(path, &s.f[i]))) goto cleanup;
    }
    if (!s.have[F_QNT] && !s.have[F_STD]) {
        rc = kr_err(KR_EINPUT, "%s: no data001.qnt or data001.std in this point folder", dir);
        goto cleanup;
    }
    const kr_jeol_file *src = s.have[F_QNT] ? &s.f[F_QNT] : &s.f[F_STD];
    snprintf(out->source, sizeof out->source, "%s", src->path);
    const char *base = strrchr(dir, '/');
    snprintf(out->label, sizeof out->label, "%s", base && base[1] ? base + 1 : dir);
    out->is_standard = s.have[F_STD];
    out->takeoff_deg = NAN;
    out->x_mm = out->y_mm = out->z_mm = NAN;

    double v[3];
    long line;
    const kr_jeol_file *f;
    if ((rc = set_numbers(&s, F_CND, "XM_EC_ACCEL_VOLT", -1, -1, v, 1, 0, &line, &f))) goto cleanup;
    out->kv = v[0];
    if (!(out->kv > 0)) {
        rc = kr_err_at(KR_EINPUT, f->path, line, "$XM_EC_ACCEL_VOLT must be > 0 kV, found %g", out->kv);
        goto cleanup;
    }
    if ((rc = set_numbers(&s, F_QNT, "XM_DATA_PROBE_CURRENT", -1, -1, v, 1, 0, &line, &f))) goto cleanup;
    out->current_na = v[0] * A_TO_NA;
    if (!(out->current_na > 0)) {
        rc = kr_err_at(KR_EINPUT, f->path, line, "$XM_DATA_PROBE_CURRENT must be > 0 A, found %g A", v[0]);
        goto cleanup;
    }
    const kr_jeol_entry *e = set_find(&s, "XM_AP_COMMENT", 0, -1, NULL);
    if (e) kr_jeol_to_utf8(e->value, out->comment, sizeof out->comment);
    out->acq_time_s = NAN;
    e = set_find(&s, "XM_ANALYSIS_ACQ_DATE", -1, -1, &f);
    if (e && kr_epma_parse_time(e->value, &out->acq_time_s)) {
        rc = kr_err_at(KR_EINPUT, f->path, e->line,
                       "$XM_ANALYSIS_ACQ_DATE: expected a date and time 'YYYY/MM/DD hh:mm:ss', found '%s'", e->value);
        goto cleanup;
    }
    if (set_find(&s, "XM_AP_ACM_STAGE_POS", 0, 0, NULL)) {
        if ((rc = set_numbers(&s, F_CND, "XM_AP_ACM_STAGE_POS", 0, 0, v, 3, 1, NULL, NULL))) goto cleanup;
        out->x_mm = v[0];
        out->y_mm = v[1];
        out->z_mm = v[2];
    }
    int nmax = -1;
    for (int i = 0; i < F_N; i++) {
        if (!s.have[i]) continue;
        int a = kr_jeol_max_index(&s.f[i], "XM_QNT_DATA_WD_ELM");
        int b = kr_jeol_max_index(&s.f[i], "XM_ELEM_NAME");
        if (a > nmax) nmax = a;
        if (b > nmax) nmax = b;
    }
    for (int n = 0; n <= nmax; n++) {
        if (out->nch == KR_EPMA_MAX_CH) {
            rc = kr_err(KR_EINPUT, "%s: more than %d element channels", src->path, KR_EPMA_MAX_CH);
            goto cleanup;
        }
        if ((rc = read_channel(&s, at, n, out))) goto cleanup;
    }
    if (out->nch == 0) {
        rc = kr_err_at(KR_EINPUT, src->path, 0, "no element channels ($XM_QNT_DATA_WD_ELM%%N or $XM_ELEM_NAME%%N)");
        goto cleanup;
    }
    if (out->is_standard && (rc = read_composition(&s, at, out))) goto cleanup;
cleanup:
    for (int i = 0; i < F_N; i++) kr_jeol_free(&s.f[i]);
    if (rc) kr_err(rc, "reading JEOL point folder %s", dir);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Sorted names of subfolders of dir matching a predicate. Caller frees names and array. */
static int list_subdirs(const char *dir, int (*want)(const char *), char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return kr_err(KR_EIO, "%s: cannot open folder: %s", dir, strerror(errno));
    int rc = KR_OK;
    size_t cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || !want(de->d_name)) continue;
        char path[4096];
        if (join(path, sizeof path, dir, de->d_name)) continue;
        if (!is_dir(path)) continue;
        if (*n == cap) {
            cap = cap ? cap * 2 : 64;
            char **p = realloc(*names, cap * sizeof *p);
            if (!p) {
                rc = kr_err(KR_ENOMEM, "out of memory");
                goto cleanup;
            }
            *names = p;
        }
        (*names)[*n] = strdup(de->d_name);
        if (!(*names)[*n]) {
            rc = kr_err(KR_ENOMEM, "out of memory");
            goto cleanup;
        }
        (*n)++;
    }
    if (*n) qsort(*names, *n, sizeof **names, cmp_str);
cleanup:
    closedir(d);
    return rc;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
}

static int want_pos(const char *name) { return strncmp(name, "Pos_", 4) == 0; }
static int want_run(const char *name)
{
    size_t l = strlen(name);
    return l > 4 && (strcmp(name + l - 4, "_QNT") == 0 || strcmp(name + l - 4, "_STD") == 0);
}

int kr_jeol_read_tree(const char *dir, const kr_atomic *at, kr_epma_points *points)
{
    char path[4096];
    int rc;
    if ((rc = join(path, sizeof path, dir, "data001.qnt"))) return rc;
    int single = exists(path);
    if (!single) {
        if ((rc = join(path, sizeof path, dir, "data001.std"))) return rc;
        single = exists(path);
    }
    if (single) {
        kr_epma_point *p;
        if ((rc = kr_epma_points_push(points, &p))) return rc;
        return kr_jeol_read_point_dir(dir, at, p);
    }
    char **names = NULL;
    size_t n = 0;
    if ((rc = list_subdirs(dir, want_pos, &names, &n))) goto cleanup;
    if (n == 0) {
        free_names(names, n);
        names = NULL;
        if ((rc = list_subdirs(dir, want_run, &names, &n))) goto cleanup;
        if (n == 0) {
            rc = kr_err(KR_EINPUT, "%s: no JEOL point folders (Pos_NNNN/ or *_QNT/, *_STD/) found", dir);
            goto cleanup;
        }
        for (size_t i = 0; i < n; i++) {
            if ((rc = join(path, sizeof path, dir, names[i]))) goto cleanup;
            if ((rc = kr_jeol_read_tree(path, at, points))) goto cleanup;
        }
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        if ((rc = join(path, sizeof path, dir, names[i]))) goto cleanup;
        kr_epma_point *p;
        if ((rc = kr_epma_points_push(points, &p))) goto cleanup;
        if ((rc = kr_jeol_read_point_dir(path, at, p))) goto cleanup;
    }
cleanup:
    free_names(names, n);
    return rc;
}
