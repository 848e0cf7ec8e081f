#include "generic_csv.h"

#include "error.h"
#include "text.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

enum {
    C_POINT, C_ELEMENT, C_LINE, C_KV, C_CURRENT, C_PEAK, C_BGM, C_BGP, C_TPEAK, C_TBG, C_TBGM, C_TBGP, C_OFFM,
    C_OFFP, C_DEAD, C_COMMENT, C_TYPE, C_STANDARD, C_COMPOSITION, C_CRYSTAL, C_OXIDE, C_TAKEOFF, C_X, C_Y,
    C_NET, C_BG, C_SIGMA, C_TIME, C_N
};
static const char *const COLS[C_N] = {
    "point", "element", "line", "kv", "current_na", "peak_counts", "bgm_counts", "bgp_counts", "peak_time_s",
    "bg_time_s", "bgm_time_s", "bgp_time_s", "off_minus_mm", "off_plus_mm", "dead_time_us", "comment", "type",
    "standard", "composition", "crystal", "oxide", "takeoff_deg", "x_mm", "y_mm", "net_cps", "bg_cps", "sigma_cps", "time",
};
static const int REQUIRED[] = {C_POINT, C_ELEMENT, C_LINE, C_KV, C_CURRENT, C_PEAK, C_BGM, C_BGP, C_TPEAK,
                               C_OFFM, C_OFFP, C_DEAD};

#define MAXF 64

static int num(const char *path, long line, char **f, const int *col, int c, double *out)
{
    /* an optional column may be absent (bg_time_s empty and no bgm_time_s: found by fuzz_epma_csv) */
    if (col[c] < 0) return kr_err_at(KR_EINPUT, path, line, "column %s: needed on this row but absent", COLS[c]);
    const char *s = f[col[c]];
    if (kr_parse_double(s, out) || !isfinite(*out))
        return kr_err_at(KR_EINPUT, path, line, "column %s: not a number: '%s'", COLS[c], s);
    return KR_OK;
}

static const char *opt(char **f, const int *col, int c) { return col[c] >= 0 ? f[col[c]] : ""; }

static int parse_composition(const char *path, long line, const kr_atomic *at, const char *s, kr_epma_point *p)
{
    char buf[512];
    snprintf(buf, sizeof buf, "%s", s);
    char *save = NULL;
    p->ncomp = 0;
    for (char *tok = strtok_r(buf, " ;", &save); tok; tok = strtok_r(NULL, " ;", &save)) {
        char *eq = strchr(tok, '=');
        double wt;
        if (!eq || kr_parse_double(eq + 1, &wt) || !(wt >= 0) || wt > 100)
            return kr_err_at(KR_EINPUT, path, line, "column composition: expected X=mass%% items, found '%s'", tok);
        *eq = '\0';
        kr_formula fo;
        if (kr_formula_parse(at, tok, &fo))
            return kr_err_at(KR_EINPUT, path, line, "column composition: unknown element or oxide '%s'", tok);
        for (int i = 0; i < fo.n; i++) {
            const char *sym = kr_atomic_symbol(at, fo.z[i]);
            int j = 0;
            while (j < p->ncomp && strcmp(p->comp_el[j], sym)) j++;
            if (j == p->ncomp) {
                if (p->ncomp == KR_EPMA_MAX_COMP)
                    return kr_err_at(KR_EINPUT, path, line, "composition: more than %d elements", KR_EPMA_MAX_COMP);
                snprintf(p->comp_el[j], sizeof p->comp_el[j], "%s", sym);
                p->comp_wt[j] = 0;
                p->ncomp++;
            }
            p->comp_wt[j] += wt * fo.mass_frac[i];
        }
    }
    if (p->ncomp == 0) return kr_err_at(KR_EINPUT, path, line, "column composition is empty");
    return KR_OK;
}

int kr_epma_csv_read(const char *path, const kr_atomic *at, kr_epma_points *points)
{
    kr_text t;
    int rc = kr_text_read(path, &t);
    if (rc) return rc;
    size_t first = points->n;
    kr_lines it;
    kr_lines_init(&it, &t);
    int col[C_N];
    for (int c = 0; c < C_N; c++) col[c] = -1;
    int header = 0, nhead = 0;
    char *line;
    char *f[MAXF];
    while ((line = kr_lines_next(&it))) {
        char *s = kr_trim(line);
        if (!*s || *s == '#') continue;
        int nf = kr_split(s, ',', f, MAXF);
        if (nf < 0) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "more than %d columns", MAXF);
            goto cleanup;
        }
        if (!header) {
            header = 1;
            nhead = nf;
            for (int i = 0; i < nf; i++)
                for (int c = 0; c < C_N; c++)
                    if (kr_streq_ci(f[i], COLS[c])) col[c] = i;
            for (size_t r = 0; r < sizeof REQUIRED / sizeof REQUIRED[0]; r++)
                if (col[REQUIRED[r]] < 0) {
                    rc = kr_err_at(KR_EINPUT, path, it.lineno, "header: required column '%s' missing",
                                   COLS[REQUIRED[r]]);
                    goto cleanup;
                }
            if (col[C_TBG] < 0 && (col[C_TBGM] < 0 || col[C_TBGP] < 0)) {
                rc = kr_err_at(KR_EINPUT, path, it.lineno,
                               "header: give bg_time_s, or bgm_time_s and bgp_time_s");
                goto cleanup;
            }
            continue;
        }
        if (nf != nhead) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "expected %d fields (as the header), found %d%s", nhead, nf,
                           nf < nhead && it.pos >= t.len ? " (truncated file?)" : "");
            goto cleanup;
        }
        int is_std = 0;
        const char *type = opt(f, col, C_TYPE);
        if (*type && kr_streq_ci(type, "standard"))
            is_std = 1;
        else if (*type && !kr_streq_ci(type, "unknown")) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "column type: expected unknown or standard, found '%s'", type);
            goto cleanup;
        }
        const char *label = f[col[C_POINT]];
        if (!*label) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "column point is empty");
            goto cleanup;
        }
        kr_epma_point *p = NULL;
        for (size_t i = points->n; i-- > first;)
            if (points->items[i].is_standard == is_std && !strcmp(points->items[i].label, label)) {
                p = &points->items[i];
                break;
            }
        double v;
        if (!p) {
            if ((rc = kr_epma_points_push(points, &p))) goto cleanup;
            snprintf(p->source, sizeof p->source, "%s", path);
            snprintf(p->label, sizeof p->label, "%s", label);
            const char *cm = opt(f, col, C_COMMENT);
            snprintf(p->comment, sizeof p->comment, "%s", *cm ? cm : label);
            p->is_standard = is_std;
            if ((rc = num(path, it.lineno, f, col, C_KV, &p->kv))) goto cleanup;
            if ((rc = num(path, it.lineno, f, col, C_CURRENT, &p->current_na))) goto cleanup;
            p->takeoff_deg = p->x_mm = p->y_mm = p->z_mm = NAN;
            if (*opt(f, col, C_TAKEOFF) && (rc = num(path, it.lineno, f, col, C_TAKEOFF, &p->takeoff_deg))) goto cleanup;
            if (*opt(f, col, C_X) && (rc = num(path, it.lineno, f, col, C_X, &p->x_mm))) goto cleanup;
            if (*opt(f, col, C_Y) && (rc = num(path, it.lineno, f, col, C_Y, &p->y_mm))) goto cleanup;
            if (is_std) {
                snprintf(p->std_name, sizeof p->std_name, "%s", opt(f, col, C_STANDARD));
                if (!p->std_name[0]) {
                    rc = kr_err_at(KR_EINPUT, path, it.lineno, "standard row without a 'standard' name");
                    goto cleanup;
                }
            }
        }
        if (*opt(f, col, C_TIME)) {
            double ts;
            if (kr_epma_parse_time(opt(f, col, C_TIME), &ts)) {
                rc = kr_err_at(KR_EINPUT, path, it.lineno,
                               "column time: expected an ISO 8601 date and time 'YYYY-MM-DDThh:mm:ss' "
                               "(or with a space), found '%s'", opt(f, col, C_TIME));
                goto cleanup;
            }
            /* a point's time is the earliest given on its rows */
            if (!(ts >= p->acq_time_s)) p->acq_time_s = ts;
        }
        if (!(p->kv > 0)) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "column kv must be > 0, found %g", p->kv);
            goto cleanup;
        }
        if (is_std && *opt(f, col, C_COMPOSITION) &&
            (rc = parse_composition(path, it.lineno, at, opt(f, col, C_COMPOSITION), p)))
            goto cleanup;
        if (p->nch == KR_EPMA_MAX_CH) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "point %s: more than %d elements", label, KR_EPMA_MAX_CH);
            goto cleanup;
        }
        kr_epma_channel *c = &p->ch[p->nch];
        memset(c, 0, sizeof *c);
        snprintf(c->element, sizeof c->element, "%s", f[col[C_ELEMENT]]);
        if (kr_atomic_z(at, c->element) == 0) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "column element: unknown element '%s'", f[col[C_ELEMENT]]);
            goto cleanup;
        }
        snprintf(c->line, sizeof c->line, "%s", f[col[C_LINE]]);
        kr_xray_line xl;
        if (kr_xray_line_parse(f[col[C_LINE]], &xl)) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "column line: unknown X-ray line '%s' (Ka, Kb, La, Lb, Ma, Mb)",
                           f[col[C_LINE]]);
            goto cleanup;
        }
        snprintf(c->crystal, sizeof c->crystal, "%s", opt(f, col, C_CRYSTAL));
        snprintf(c->oxide, sizeof c->oxide, "%s", opt(f, col, C_OXIDE));
        c->peak_mm = NAN;
        kr_wds_counts *k = &c->counts;
        if ((rc = num(path, it.lineno, f, col, C_PEAK, &k->peak_counts)) ||
            (rc = num(path, it.lineno, f, col, C_BGM, &k->bgm_counts)) ||
            (rc = num(path, it.lineno, f, col, C_BGP, &k->bgp_counts)) ||
            (rc = num(path, it.lineno, f, col, C_TPEAK, &k->peak_time_s)) ||
            (rc = num(path, it.lineno, f, col, C_OFFM, &k->off_minus_mm)) ||
            (rc = num(path, it.lineno, f, col, C_OFFP, &k->off_plus_mm)) ||
            (rc = num(path, it.lineno, f, col, C_DEAD, &k->dead_time_us)) ||
            (rc = num(path, it.lineno, f, col, C_CURRENT, &k->current_na)))
            goto cleanup;
        if (col[C_TBG] >= 0 && *f[col[C_TBG]]) {
            if ((rc = num(path, it.lineno, f, col, C_TBG, &v))) goto cleanup;
            k->bgm_time_s = k->bgp_time_s = v;
        } else if ((rc = num(path, it.lineno, f, col, C_TBGM, &k->bgm_time_s)) ||
                   (rc = num(path, it.lineno, f, col, C_TBGP, &k->bgp_time_s))) {
            goto cleanup;
        }
        if (!(k->current_na > 0)) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "column current_na must be > 0 nA, found %g", k->current_na);
            goto cleanup;
        }
        if (*opt(f, col, C_NET) && *opt(f, col, C_BG) && *opt(f, col, C_SIGMA)) {
            c->has_vendor_net = 1;
            snprintf(c->vendor_net, sizeof c->vendor_net, "%s", opt(f, col, C_NET));
            snprintf(c->vendor_bg, sizeof c->vendor_bg, "%s", opt(f, col, C_BG));
            snprintf(c->vendor_sigma, sizeof c->vendor_sigma, "%s", opt(f, col, C_SIGMA));
        }
        snprintf(c->where, sizeof c->where, "%s:%ld (%s %s)", path, it.lineno, f[col[C_ELEMENT]], f[col[C_LINE]]);
        p->nch++;
    }
    if (!header) {
        rc = kr_err_at(KR_EINPUT, path, 0, "empty file: no header row");
        goto cleanup;
    }
    for (size_t i = first; i < points->n; i++)
        if (points->items[i].is_standard && points->items[i].ncomp == 0) {
            rc = kr_err_at(KR_EINPUT, path, 0, "standard point '%s' (%s) has no composition on any row",
                           points->items[i].label, points->items[i].std_name);
            goto cleanup;
        }
cleanup:
    kr_text_free(&t);
    return rc;
}
