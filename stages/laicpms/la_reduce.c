/* LA-ICP-MS reduction: windows, spikes, blanks, calibration with drift, quantification, LODs. */
#include "la_reduce.h"
#include "robust.h"

#include "calib.h"
#include "error.h"

#include <ctype.h>
#include <errno.h>
#include <gsl/gsl_multifit.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

/* ---- reference values ------------------------------------------------------------------------------ */

static const char *const SYM[] = {
    "",   "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",  "S",  "Cl",
    "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se", "Br",
    "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",
    "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu",
    "Hf", "Ta", "W",  "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac",
    "Th", "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr"};

int kr_la_z_of(const char *symbol)
{
    for (int z = 1; z < 104; z++)
        if (!strcmp(SYM[z], symbol)) return z;
    return 0;
}

static void norm_name(const char *in, char *out, size_t len)
{
    size_t n = 0;
    for (const char *p = in; *p && n + 1 < len; p++)
        if (isalnum((unsigned char)*p)) out[n++] = (char)toupper((unsigned char)*p);
    out[n] = 0;
    if (!strncmp(out, "NISTSRM", 7)) memmove(out + 4, out + 7, strlen(out + 7) + 1);
    else if (!strncmp(out, "SRM", 3)) {
        char tmp[KR_LA_NAME];
        snprintf(tmp, sizeof tmp, "NIST%s", out + 3);
        snprintf(out, len, "%s", tmp);
    }
}

int kr_la_refs_material(const kr_la_refs *r, const char *name)
{
    char a[KR_LA_NAME], b[KR_LA_NAME];
    norm_name(name, a, sizeof a);
    if (!*a) return -1;
    for (size_t i = 0; i < r->nmat; i++) {
        norm_name(r->materials[i], b, sizeof b);
        if (!strcmp(a, b)) return (int)i;
    }
    return -1;
}

void kr_la_refs_free(kr_la_refs *r)
{
    free(r->v);
    free(r->materials);
    memset(r, 0, sizeof *r);
}

static int load_csv_rows(const char *name, int (*row)(kr_la_refs *, char **, int, long, const char *), kr_la_refs *r)
{
    kr_text t;
    int rc = kr_calib_text(name, &t);
    if (rc) return rc;
    kr_lines it;
    kr_lines_init(&it, &t);
    char *line, *f[16];
    int header = 0;
    while ((line = kr_lines_next(&it))) {
        if (!*line || line[0] == '#') continue;
        if (!header) {
            header = 1;
            continue;
        }
        int m = kr_split(line, ',', f, 16);
        if ((rc = row(r, f, m, it.lineno, name))) break;
    }
    kr_text_free(&t);
    return rc;
}

static int row_aw(kr_la_refs *r, char **f, int m, long line, const char *name)
{
    long z;
    double w;
    if (m < 3 || kr_parse_long(f[0], &z) || z < 1 || z > 103) return kr_err_at(KR_EINPUT, name, line, "bad atomic weight row");
    if (!kr_parse_double(f[2], &w)) r->aw[z] = w;
    return KR_OK;
}

static int row_ox(kr_la_refs *r, char **f, int m, long line, const char *name)
{
    long c, o;
    int z = m >= 3 ? kr_la_z_of(f[0]) : 0;
    if (!z || kr_parse_long(f[1], &c) || kr_parse_long(f[2], &o)) return kr_err_at(KR_EINPUT, name, line, "bad oxide row");
    if (!r->ox_cat[z]) { /* first listed oxide is the default */
        r->ox_cat[z] = (int)c;
        r->ox_o[z] = (int)o;
    }
    return KR_OK;
}

static int row_ci(kr_la_refs *r, char **f, int m, long line, const char *name)
{
    int z = m >= 2 ? kr_la_z_of(f[0]) : 0;
    if (!z || kr_parse_double(f[1], &r->ci_ugg[z])) return kr_err_at(KR_EINPUT, name, line, "bad CI chondrite row");
    return KR_OK;
}

static int row_rm(kr_la_refs *r, char **f, int m, long line, const char *name)
{
    if (m != 7) return kr_err_at(KR_EINPUT, name, line, "expected 7 fields (material,analyte,value,...), found %d", m);
    kr_la_refval *v = &r->v[r->n];
    memset(v, 0, sizeof *v);
    snprintf(v->material, sizeof v->material, "%s", f[0]);
    snprintf(v->analyte, sizeof v->analyte, "%s", f[1]);
    snprintf(v->unit, sizeof v->unit, "%s", f[4]);
    snprintf(v->u_type, sizeof v->u_type, "%s", f[5]);
    if (kr_parse_double(f[2], &v->value)) return kr_err_at(KR_EINPUT, name, line, "value '%s' is not a number", f[2]);
    double u = NAN;
    if (*f[3] && kr_parse_double(f[3], &u)) return kr_err_at(KR_EINPUT, name, line, "uncertainty '%s' is not a number", f[3]);
    if (!strcmp(v->u_type, "95%CL")) v->u_1s = u / r->k95; /* GUM: U(95 %) = 1.96 u for a normal distribution */
    else if (!strcmp(v->u_type, "2s")) v->u_1s = u / 2;
    else if (!strcmp(v->u_type, "1s")) v->u_1s = u;
    else v->u_1s = NAN;
    size_t i;
    for (i = 0; i < r->nmat; i++)
        if (!strcmp(r->materials[i], v->material)) break;
    if (i == r->nmat) snprintf(r->materials[r->nmat++], KR_LA_NAME, "%s", v->material);
    r->n++;
    return KR_OK;
}

int kr_la_refs_load(kr_la_refs *r)
{
    memset(r, 0, sizeof *r);
    for (int z = 0; z < 104; z++) r->aw[z] = r->ci_ugg[z] = NAN;
    kr_constants k;
    int rc = kr_constants_load("laicpms_constants.csv", &k);
    if (rc) return rc;
    if (!rc) rc = kr_constant_get(&k, "lod_longerich_k", &r->k_longerich, NULL);
    if (!rc) rc = kr_constant_get(&k, "currie_lc_k", &r->currie_lc, NULL);
    if (!rc) rc = kr_constant_get(&k, "currie_ld_const_counts", &r->currie_ld_counts, NULL);
    if (!rc) rc = kr_constant_get(&k, "coverage_95cl_to_1s", &r->k95, NULL);
    kr_constants_free(&k);
    if (rc) return rc;
    kr_text t;
    if ((rc = kr_calib_text("laicpms_reference_materials.csv", &t))) return rc;
    size_t lines = 1;
    for (size_t i = 0; i < t.len; i++) lines += t.data[i] == '\n';
    kr_text_free(&t);
    r->v = calloc(lines, sizeof *r->v);
    r->materials = calloc(lines, sizeof *r->materials);
    if (!r->v || !r->materials) {
        kr_la_refs_free(r);
        return kr_err(KR_ENOMEM, "out of memory");
    }
    if ((rc = load_csv_rows("laicpms_reference_materials.csv", row_rm, r)) ||
        (rc = load_csv_rows("atomic_weights.csv", row_aw, r)) || (rc = load_csv_rows("epma_oxides.csv", row_ox, r)) ||
        (rc = load_csv_rows("laicpms_ci_chondrite.csv", row_ci, r))) {
        kr_la_refs_free(r);
        return rc;
    }
    return KR_OK;
}

double kr_la_element_in_oxide(const kr_la_refs *r, int z)
{
    if (z < 1 || z > 103 || !r->ox_cat[z] || isnan(r->aw[z]) || isnan(r->aw[8])) return 0;
    /* stoichiometry: m(E) / m(E_c O_o) */
    double me = r->ox_cat[z] * r->aw[z];
    return me / (me + r->ox_o[z] * r->aw[8]);
}

/* Parse an oxide formula "Al2O3" -> element z, cations, oxygens. */
static int oxide_formula(const char *s, int *z, int *c, int *o)
{
    char sym[3] = {0};
    size_t i = 0;
    if (!isupper((unsigned char)s[0])) return 0;
    sym[0] = s[0];
    i = 1;
    if (islower((unsigned char)s[1])) sym[1] = s[i++];
    *c = 1;
    if (isdigit((unsigned char)s[i])) *c = s[i++] - '0';
    if (s[i] != 'O') return 0;
    i++;
    *o = 1;
    if (isdigit((unsigned char)s[i])) *o = s[i++] - '0';
    if (s[i]) return 0;
    *z = kr_la_z_of(sym);
    return *z > 0 && *z != 8;
}

int kr_la_refs_element(const kr_la_refs *r, int mat, const char *element, double *ugg, double *u_1s, char *u_type,
                       size_t u_type_len)
{
    if (mat < 0 || (size_t)mat >= r->nmat) return 0;
    const char *mname = r->materials[mat];
    int ze = kr_la_z_of(element);
    for (size_t i = 0; i < r->n; i++) {
        const kr_la_refval *v = &r->v[i];
        if (strcmp(v->material, mname)) continue;
        if (!strcmp(v->analyte, element) && !strcmp(v->unit, "ug/g")) {
            *ugg = v->value;
            *u_1s = v->u_1s;
            if (u_type) snprintf(u_type, u_type_len, "%s", v->u_type);
            return 1;
        }
    }
    for (size_t i = 0; i < r->n; i++) {
        const kr_la_refval *v = &r->v[i];
        int z, c, o;
        if (strcmp(v->material, mname) || strcmp(v->unit, "wt%") || !oxide_formula(v->analyte, &z, &c, &o) || z != ze)
            continue;
        if (isnan(r->aw[z]) || isnan(r->aw[8])) return 0;
        double f = c * r->aw[z] / (c * r->aw[z] + o * r->aw[8]); /* stoichiometry */
        *ugg = v->value * 1e4 * f;                               /* wt% -> ug/g */
        *u_1s = v->u_1s * 1e4 * f;
        if (u_type) snprintf(u_type, u_type_len, "%s", v->u_type);
        return 1;
    }
    return 0;
}

/* ---- small statistics -------------------------------------------------------------------------- */

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* k-th smallest of v[0..n) (0-based), v reordered so that v[i] <= v[k] <= v[j] for i < k < j: Hoare's
 * selection (Hoare 1961, CACM 4 321, "FIND") in Wirth's form (Wirth 1976, Algorithms + Data Structures =
 * Programs, 2.3.4). The same value as v[k] after a full sort, in O(n) on average instead of O(n log n). */
static double kth_smallest(double *v, size_t n, size_t kk)
{
    ptrdiff_t l = 0, m = (ptrdiff_t)n - 1, k = (ptrdiff_t)kk;
    while (l < m) {
        double x = v[k], t;
        ptrdiff_t i = l, j = m;
        do {
            while (v[i] < x) i++;
            while (x < v[j]) j--;
            if (i <= j) {
                t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                j--;
            }
        } while (i <= j);
        if (j < k) l = i;
        if (k < i) m = j;
    }
    return v[k];
}

static double median_small(double *v, size_t n) /* reorders v */
{
    if (!n) return NAN;
    if (n < 16) {
        for (size_t i = 1; i < n; i++) {
            double x = v[i];
            size_t j = i;
            while (j && v[j - 1] > x) {
                v[j] = v[j - 1];
                j--;
            }
            v[j] = x;
        }
        return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    }
    double hi = kth_smallest(v, n, n / 2);
    if (n % 2) return hi;
    double lo = v[0]; /* the largest of the lower half v[0 .. n/2) */
    for (size_t i = 1; i < n / 2; i++)
        if (v[i] > lo) lo = v[i];
    return 0.5 * (lo + hi);
}

void kr_la_opts_default(kr_la_opts *o)
{
    o->threshold_frac = 0.25;
    o->min_rise_sd = 10;
    o->blank_skip_s = 1;
    o->blank_guard_s = 2;
    o->signal_guard_start_s = 3;
    o->signal_guard_end_s = 2;
    o->min_signal_s = 5;
    o->min_blank_s = 5;
    o->washout_s = 10;
    o->spike_k = 5;
    o->spike_halfwidth = 3;
    o->spike_max_iter = 5;
}

void kr_la_settings_default(kr_la_settings *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->calibrant, sizeof s->calibrant, "NIST610");
    snprintf(s->is_element, sizeof s->is_element, "Si");
    s->drift = 1;
    s->smooth_degree = 2;
    s->fe3_fraction = 0;
}

/* ---- windows ------------------------------------------------------------------------------------- */

static size_t idx_at_or_after(const kr_la_acq *a, double t)
{
    size_t i = 0;
    while (i < a->n && a->time_s[i] < t) i++;
    return i;
}

static void set_window_times(const kr_la_acq *a, kr_la_window *w)
{
    w->blank_start_s = a->time_s[w->b0];
    w->blank_end_s = a->time_s[w->b1 - 1];
    w->signal_start_s = a->time_s[w->s0];
    w->signal_end_s = a->time_s[w->s1 - 1];
}

int kr_la_window_from_times(const kr_la_acq *a, double blank0_s, double blank1_s, double sig0_s, double sig1_s,
                            kr_la_window *w)
{
    memset(w, 0, sizeof *w);
    w->b0 = idx_at_or_after(a, blank0_s);
    w->b1 = idx_at_or_after(a, blank1_s);
    w->s0 = idx_at_or_after(a, sig0_s);
    w->s1 = idx_at_or_after(a, sig1_s);
    if (w->b1 < w->b0 + 2 || w->s1 < w->s0 + 2)
        return kr_err(KR_EINPUT, "%s: override windows blank %g-%g s, signal %g-%g s hold fewer than 2 sweeps each",
                      a->name, blank0_s, blank1_s, sig0_s, sig1_s);
    w->seg0 = 0;
    w->seg1 = a->n;
    set_window_times(a, w);
    return KR_OK;
}

int kr_la_find_windows(const kr_la_acq *a, const kr_la_opts *o, kr_la_window *w, size_t maxw, size_t *nw)
{
    int rc = KR_OK;
    size_t n = a->n;
    *nw = 0;
    if (n < 4) return kr_err(KR_EINPUT, "%s (%s): only %zu sweeps", a->name, a->source, n);
    double *tot = malloc(sizeof(double) * n * 2), *srt = tot + n;
    if (!tot) return kr_err(KR_ENOMEM, "out of memory");
    /* total signal as a sum of per-isotope excesses over their low level in counting-noise units, so that
     * an isotope with a large plasma background (55Mn: ArN) does not hide the laser-on step */
    for (size_t t = 0; t < n; t++) tot[t] = 0;
    for (int k = 0; k < a->niso; k++) {
        const double *c = kr_la_col(a, k);
        double dw = isfinite(a->iso[k].dwell_s) && a->iso[k].dwell_s > 0 ? a->iso[k].dwell_s : 0.01;
        memcpy(srt, c, sizeof(double) * n);
        double lk = kth_smallest(srt, n, n / 10) * dw, sk = sqrt(fmax(lk, 0) + 1);
        for (size_t t = 0; t < n; t++) tot[t] += (c[t] * dw - lk) / sk;
    }
    memcpy(srt, tot, sizeof(double) * n);
    qsort(srt, n, sizeof *srt, cmp_d);
    double lo = srt[n / 10], hi = srt[(n * 95) / 100];
    /* blank noise: robust sd of the lowest 30 % of the total */
    size_t nl = n * 3 / 10 < 3 ? 3 : n * 3 / 10;
    double med = srt[nl / 2];
    for (size_t i = 0; i < nl; i++) srt[i] = fabs(srt[i] - med);
    double noise = KR_MAD_TO_SD * median_small(srt, nl);
    if (noise < sqrt(lo > 1 ? lo : 1) * 0.1) noise = sqrt(lo > 1 ? lo : 1) * 0.1;
    if (hi - lo < o->min_rise_sd * noise) {
        rc = kr_err(KR_EINPUT,
                    "%s (%s): the signal never rises: total %.4g cps (95th percentile) vs blank %.4g +- %.3g cps, "
                    "need %.0f sd",
                    a->name, a->source, hi, lo, noise, o->min_rise_sd);
        goto cleanup;
    }
    double thr = lo + o->threshold_frac * (hi - lo);
    size_t t = 0, free_from = idx_at_or_after(a, a->time_s[0] + o->blank_skip_s), excursion = SIZE_MAX;
    while (t < n) {
        if (tot[t] <= thr) {
            t++;
            continue;
        }
        size_t e = t;
        while (e < n && tot[e] > thr) e++;
        if (excursion == SIZE_MAX) excursion = t;
        double dur = a->time_s[e - 1] - a->time_s[t];
        if (dur >= o->min_signal_s) {
            if (*nw >= maxw) {
                rc = kr_err(KR_EINPUT, "%s: more than %zu ablations", a->name, maxw);
                goto cleanup;
            }
            kr_la_window *x = &w[*nw];
            memset(x, 0, sizeof *x);
            x->b0 = free_from;
            x->b1 = idx_at_or_after(a, a->time_s[excursion] - o->blank_guard_s);
            if (x->b1 <= x->b0 || a->time_s[x->b1 - 1] - a->time_s[x->b0] < o->min_blank_s) {
                rc = kr_err(KR_EINPUT,
                            "%s (%s): no blank window before the signal at %.2f s (%.2f s of gas blank after the "
                            "guards, need laicpms.min_blank_s = %g s)",
                            a->name, a->source, a->time_s[t],
                            x->b1 > x->b0 ? a->time_s[x->b1 - 1] - a->time_s[x->b0] : 0.0, o->min_blank_s);
                goto cleanup;
            }
            x->s0 = idx_at_or_after(a, a->time_s[t] + o->signal_guard_start_s);
            x->s1 = idx_at_or_after(a, a->time_s[e - 1] - o->signal_guard_end_s + 1e-9);
            if (x->s1 < x->s0 + 2) {
                rc = kr_err(KR_EINPUT, "%s: the signal %.2f-%.2f s is too short for the guards", a->name, a->time_s[t],
                            a->time_s[e - 1]);
                goto cleanup;
            }
            x->seg0 = x->b0;
            x->seg1 = n;
            if (*nw) w[*nw - 1].seg1 = x->b0;
            set_window_times(a, x);
            (*nw)++;
            free_from = idx_at_or_after(a, a->time_s[e - 1] + o->washout_s);
            excursion = SIZE_MAX;
        }
        t = e;
    }
    if (*nw == 0)
        rc = kr_err(KR_EINPUT, "%s (%s): the signal never rises for %g s above %.4g cps (blank %.4g cps)", a->name,
                    a->source, o->min_signal_s, thr, lo);
cleanup:
    free(tot);
    return rc;
}

/* Hampel filter on counts (Hampel 1974; Pearson 2002 IEEE Trans. Control Syst. Technol.): rolling median,
 * scale = max(1.4826 MAD of the residuals, sqrt(median) for counting statistics); iterated. */
int kr_la_despike(const double *cps, double dwell_s, size_t s0, size_t s1, const kr_la_opts *o, unsigned char *keep)
{
    size_t n = s1 - s0;
    int removed = 0, h = o->spike_halfwidth;
    double win[64];
    if (h > 31) h = 31;
    for (size_t i = 0; i < n; i++) keep[i] = 1;
    if (n < (size_t)(2 * h + 1) || !(o->spike_k > 0)) return 0;
    double *med = malloc(sizeof(double) * n * 2);
    if (!med) return 0;
    double *r = med + n;
    for (int it = 0; it < o->spike_max_iter; it++) {
        size_t nr = 0;
        for (size_t i = 0; i < n; i++) {
            med[i] = NAN;
            if (!keep[i]) continue;
            size_t nw = 0;
            for (size_t j = i >= (size_t)h ? i - (size_t)h : 0; j < n && j <= i + (size_t)h; j++)
                if (keep[j]) win[nw++] = cps[s0 + j] * dwell_s;
            med[i] = median_small(win, nw);
        }
        for (size_t i = 0; i < n; i++)
            if (keep[i]) r[nr++] = fabs(cps[s0 + i] * dwell_s - med[i]);
        double scale = KR_MAD_TO_SD * median_small(r, nr);
        int now = 0;
        for (size_t i = 0; i < n; i++) {
            if (!keep[i]) continue;
            double sc = fmax(scale, sqrt(fmax(med[i], 1.0)));
            if (fabs(cps[s0 + i] * dwell_s - med[i]) > o->spike_k * sc) {
                keep[i] = 0;
                now++;
            }
        }
        removed += now;
        if (!now) break;
    }
    free(med);
    return removed;
}

/* ---- session ----------------------------------------------------------------------------------------- */

int kr_la_session_init(kr_la_session *s, const kr_la_settings *set, const kr_la_opts *o, const kr_la_refs *refs)
{
    memset(s, 0, sizeof *s);
    s->set = *set;
    s->opts = *o;
    s->refs = refs;
    s->is_ana = -1;
    s->is_default_ugg = s->is_default_u_ugg = NAN;
    s->cal_rm = kr_la_refs_material(refs, set->calibrant);
    if (s->cal_rm < 0)
        return kr_err(KR_EINPUT, "calibrant '%s' is not a material of calib/laicpms_reference_materials.csv", set->calibrant);
    return KR_OK;
}

void kr_la_session_free(kr_la_session *s)
{
    for (size_t i = 0; i < s->nspots; i++) {
        free(s->spots[i].m);
        free(s->spots[i].msg);
    }
    if (s->spill) fclose(s->spill); /* tmpfile: removed on close */
    free(s->spots);
    free(s->cal);
    free(s->rsf);
    free(s->fit);
    free(s->fitcov);
    memset(s, 0, sizeof *s);
}

static int ana_index(kr_la_session *s, const kr_la_isotope *iso)
{
    for (int i = 0; i < s->nana; i++)
        if (!strcmp(s->ana[i].label, iso->label)) return i;
    if (s->nana >= KR_LA_MAXANA) return -1;
    s->ana[s->nana] = *iso;
    if (s->is_ana < 0 && *s->set.is_element &&
        (*s->set.is_label ? !strcmp(iso->label, s->set.is_label) : !strcmp(iso->element, s->set.is_element)))
        s->is_ana = s->nana;
    return s->nana++;
}

static kr_la_spot *new_spot(kr_la_session *s, const kr_la_acq *a, const char *name, const char *sample)
{
    if (s->nspots == s->capspots) {
        size_t nc = s->capspots ? 2 * s->capspots : 64;
        kr_la_spot *v = realloc(s->spots, nc * sizeof *v);
        if (!v) return NULL;
        s->spots = v;
        s->capspots = nc;
    }
    kr_la_spot *p = &s->spots[s->nspots++];
    memset(p, 0, sizeof *p);
    snprintf(p->spot, sizeof p->spot, "%s", name);
    snprintf(p->sample, sizeof p->sample, "%s", sample ? sample : a->sample);
    p->acq_start_s = a->start_s;
    p->spill_off = -1;
    p->rm = kr_la_refs_material(s->refs, p->sample);
    return p;
}

int kr_la_session_add_failed(kr_la_session *s, const kr_la_acq *a, const char *spot_name, const char *msg)
{
    kr_la_spot *p = new_spot(s, a, spot_name, NULL);
    if (!p) return kr_err(KR_ENOMEM, "out of memory");
    p->failed = 1;
    p->time_s = a->start_s;
    if (!(p->msg = strndup(msg ? msg : "", KR_LA_SPOT_MSG - 1))) return kr_err(KR_ENOMEM, "out of memory");
    return KR_OK;
}

/* ---- spill: one spot's measurements in memory at a time ------------------------------------------------ */

/* Move p's measurements to the spill file (created on first use) and free them. */
static int spot_spill(kr_la_session *s, kr_la_spot *p)
{
    if (!p->m) return KR_OK;
    if (!s->spill && !(s->spill = tmpfile()))
        return kr_err(KR_EIO, "cannot create the scratch file for the spot summaries: %s", strerror(errno));
    size_t n = (size_t)p->nm;
    if (p->spill_off < 0) {
        p->spill_off = s->spill_end;
        s->spill_end += (long long)(n * sizeof *p->m);
    }
    if (fseeko(s->spill, (off_t)p->spill_off, SEEK_SET) || fwrite(p->m, sizeof *p->m, n, s->spill) != n)
        return kr_err(KR_EIO, "cannot write the scratch file for the spot summaries (spot %s): %s", p->spot,
                      strerror(errno));
    free(p->m);
    p->m = NULL;
    return KR_OK;
}

/* Read p's measurements back (no-op when resident or when it has none). */
static int spot_load(kr_la_session *s, kr_la_spot *p)
{
    if (p->m || p->spill_off < 0 || !p->nm) return KR_OK;
    size_t n = (size_t)p->nm;
    if (!(p->m = malloc(n * sizeof *p->m))) return kr_err(KR_ENOMEM, "out of memory");
    if (fseeko(s->spill, (off_t)p->spill_off, SEEK_SET) || fread(p->m, sizeof *p->m, n, s->spill) != n) {
        free(p->m);
        p->m = NULL;
        return kr_err(KR_EIO, "cannot read back the summary of spot %s from the scratch file", p->spot);
    }
    return KR_OK;
}

/* Done with p: write back when modified, else just drop the copy. */
static int spot_unload(kr_la_session *s, kr_la_spot *p, int dirty)
{
    if (!p->m || p->spill_off < 0) return KR_OK; /* never spilled: stays resident */
    if (dirty) return spot_spill(s, p);
    free(p->m);
    p->m = NULL;
    return KR_OK;
}

int kr_la_session_add_spot(kr_la_session *s, const kr_la_acq *a, const kr_la_window *w, const char *spot_name,
                           const char *sample)
{
    int map[KR_LA_MAXANA];
    if (a->niso > KR_LA_MAXANA) return kr_err(KR_EINPUT, "%s: more than %d isotopes", a->source, KR_LA_MAXANA);
    for (int k = 0; k < a->niso; k++)
        if ((map[k] = ana_index(s, &a->iso[k])) < 0) return kr_err(KR_EINPUT, "more than %d isotopes in the session", KR_LA_MAXANA);
    kr_la_spot *p = new_spot(s, a, spot_name, sample);
    if (!p) return kr_err(KR_ENOMEM, "out of memory");
    p->w = *w;
    p->time_s = a->start_s + 0.5 * (w->signal_start_s + w->signal_end_s);
    p->nm = s->nana;
    p->m = calloc((size_t)s->nana, sizeof *p->m);
    size_t ns = w->s1 - w->s0, nb = w->b1 - w->b0;
    unsigned char *keep = malloc(ns * (size_t)(a->niso + 1));
    if (!p->m || !keep) {
        free(keep);
        return kr_err(KR_ENOMEM, "out of memory");
    }
    int kis = -1;
    for (int k = 0; k < a->niso; k++)
        if (map[k] == s->is_ana) kis = k;
    for (int k = 0; k < a->niso; k++) {
        const double *c = kr_la_col(a, k);
        kr_la_meas *m = &p->m[map[k]];
        m->present = 1;
        m->dwell_s = a->iso[k].dwell_s;
        double sb = 0, sbb = 0;
        for (size_t t = w->b0; t < w->b1; t++) sb += c[t];
        m->blank_cps = sb / (double)nb;
        for (size_t t = w->b0; t < w->b1; t++) sbb += (c[t] - m->blank_cps) * (c[t] - m->blank_cps);
        m->blank_sd_cps = nb > 1 ? sqrt(sbb / (double)(nb - 1)) : NAN;
        m->n_blank = (int)nb;
        m->n_spikes = kr_la_despike(c, m->dwell_s, w->s0, w->s1, &s->opts, keep + (size_t)k * ns);
    }
    for (int k = 0; k < a->niso; k++) {
        const double *c = kr_la_col(a, k);
        const unsigned char *kp = keep + (size_t)k * ns;
        kr_la_meas *m = &p->m[map[k]];
        double sum = 0, ss = 0;
        int n = 0;
        for (size_t t = 0; t < ns; t++)
            if (kp[t]) {
                sum += c[w->s0 + t];
                n++;
            }
        m->n_signal = n;
        m->gross_cps = n ? sum / n : NAN;
        for (size_t t = 0; t < ns; t++)
            if (kp[t]) ss += (c[w->s0 + t] - m->gross_cps) * (c[w->s0 + t] - m->gross_cps);
        m->var_mean = n > 1 ? ss / (n - 1) / n : NAN;
        m->net_cps = m->gross_cps - m->blank_cps;
        m->cov_is = 0;
        if (kis >= 0) { /* covariance of the means over sweeps kept in both */
            const double *ci = kr_la_col(a, kis);
            const unsigned char *ki = keep + (size_t)kis * ns;
            double mx = 0, my = 0, sxy = 0;
            int nc = 0;
            for (size_t t = 0; t < ns; t++)
                if (kp[t] && ki[t]) {
                    mx += c[w->s0 + t];
                    my += ci[w->s0 + t];
                    nc++;
                }
            if (nc > 1) {
                mx /= nc;
                my /= nc;
                for (size_t t = 0; t < ns; t++)
                    if (kp[t] && ki[t]) sxy += (c[w->s0 + t] - mx) * (ci[w->s0 + t] - my);
                m->cov_is = sxy / (nc - 1) / nc;
            }
        }
    }
    free(keep);
    return spot_spill(s, p);
}

/* ---- calibration --------------------------------------------------------------------------------------- */

static const kr_la_meas *meas(const kr_la_spot *p, int a)
{
    return a >= 0 && a < p->nm && p->m && p->m[a].present ? &p->m[a] : NULL;
}

/* Variance of the ratio of mean signals x/y (delta method with the sweep covariance), and of the blank
 * part, both relative (squared). */
static void ratio_rel_var(const kr_la_meas *x, const kr_la_meas *y, int same, double *rel_sig, double *rel_blank)
{
    double X = x->net_cps, Y = y->net_cps;
    if (same) {
        *rel_sig = *rel_blank = 0;
        return;
    }
    /* u^2(X/Y)/(X/Y)^2 = var X/X^2 + var Y/Y^2 - 2 cov/(XY) (GUM 1995 eq. 16, first order) */
    double v = x->var_mean / (X * X) + y->var_mean / (Y * Y) - 2 * x->cov_is / (X * Y);
    *rel_sig = v > 0 ? v : x->var_mean / (X * X);
    double bx = x->blank_sd_cps * x->blank_sd_cps / x->n_blank, by = y->blank_sd_cps * y->blank_sd_cps / y->n_blank;
    *rel_blank = bx / (X * X) + by / (Y * Y);
}

/* Blank interpolated in time: between this spot's gas blank and the next spot's, at mid-signal. */
static int interpolate_blanks(kr_la_session *s)
{
    size_t n = s->nspots, *ord = malloc(sizeof(size_t) * (n + 1)), m = 0;
    if (!ord) return kr_err(KR_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (s->spots[i].failed) continue;
        size_t j = m++;
        while (j && s->spots[ord[j - 1]].time_s > s->spots[i].time_s) {
            ord[j] = ord[j - 1];
            j--;
        }
        ord[j] = i;
    }
    int rc = KR_OK;
    for (size_t k = 0; k + 1 < m && !rc; k++) {
        kr_la_spot *p = &s->spots[ord[k]];
        kr_la_spot *q = &s->spots[ord[k + 1]];
        double tb1 = p->acq_start_s + 0.5 * (p->w.blank_start_s + p->w.blank_end_s);
        double tb2 = q->acq_start_s + 0.5 * (q->w.blank_start_s + q->w.blank_end_s);
        if (!(tb2 > tb1)) continue;
        double f = (p->time_s - tb1) / (tb2 - tb1);
        if ((rc = spot_load(s, p)) || (rc = spot_load(s, q))) break;
        for (int a = 0; a < p->nm && p->m; a++) {
            kr_la_meas *x = &p->m[a];
            const kr_la_meas *y = meas(q, a);
            if (!x->present || !y) continue;
            x->blank_cps += f * (y->blank_cps - x->blank_cps); /* linear interpolation in time */
            x->net_cps = x->gross_cps - x->blank_cps;
        }
        rc = spot_unload(s, p, 1);
        int rq = spot_unload(s, q, 0);
        if (!rc) rc = rq;
    }
    free(ord);
    return rc;
}

int kr_la_session_calibrate(kr_la_session *s)
{
    int nana = s->nana;
    size_t ncal = 0;
    if (s->set.blank_interp) {
        int rc = interpolate_blanks(s);
        if (rc) return rc;
    }
    if (*s->set.is_element && s->is_ana < 0)
        return kr_err(KR_EINPUT, "internal standard %s%s: no such isotope was measured", s->set.is_element,
                      *s->set.is_label ? s->set.is_label : "");
    for (size_t i = 0; i < s->nspots; i++) {
        kr_la_spot *p = &s->spots[i];
        p->role = p->rm < 0 ? KR_LA_UNKNOWN : p->rm == s->cal_rm ? KR_LA_CALIBRANT : KR_LA_SECONDARY;
        if (p->role == KR_LA_CALIBRANT && !p->failed) ncal++;
    }
    if (!ncal)
        return kr_err(KR_EINPUT, "missing calibrant: no analysis of %s among the %zu spots (sample names must match it)",
                      s->set.calibrant, s->nspots);
    if (s->set.drift == 1 && ncal < 2)
        return kr_err(KR_EINPUT,
                      "calibrant %s analysed only once: linear drift needs calibrant analyses bracketing the "
                      "unknowns (set laicpms.drift: none to use a single analysis)",
                      s->set.calibrant);
    free(s->cal);
    free(s->rsf);
    s->cal = malloc(sizeof *s->cal * ncal);
    s->rsf = malloc(sizeof(double) * ((size_t)ncal * nana * 4 + nana));
    if (!s->cal || !s->rsf) return kr_err(KR_ENOMEM, "out of memory");
    s->rsf_u = s->rsf + ncal * nana;
    s->sens = s->rsf_u + ncal * nana;
    s->sens_u = s->sens + ncal * nana;
    s->rsf_mean = s->sens_u + ncal * nana;
    s->ncal = 0;
    for (size_t i = 0; i < s->nspots; i++)
        if (s->spots[i].role == KR_LA_CALIBRANT && !s->spots[i].failed) s->cal[s->ncal++] = i;
    /* time order (insertion sort; calibrants are few) */
    for (size_t i = 1; i < ncal; i++) {
        size_t x = s->cal[i], j = i;
        while (j && s->spots[s->cal[j - 1]].time_s > s->spots[x].time_s) {
            s->cal[j] = s->cal[j - 1];
            j--;
        }
        s->cal[j] = x;
    }
    double cis = NAN, uis;
    if (s->is_ana >= 0 && !kr_la_refs_element(s->refs, s->cal_rm, s->ana[s->is_ana].element, &cis, &uis, NULL, 0))
        return kr_err(KR_EINPUT, "calibrant %s has no reference value for the internal standard %s", s->set.calibrant,
                      s->ana[s->is_ana].element);
    /* calibrant by calibrant (one spot's measurements in memory at a time); the sums per analyte still add
     * the calibrants in time order */
    double ca[KR_LA_MAXANA], sum[KR_LA_MAXANA];
    int has[KR_LA_MAXANA], nsum[KR_LA_MAXANA];
    for (int a = 0; a < nana; a++) {
        double ua;
        has[a] = kr_la_refs_element(s->refs, s->cal_rm, s->ana[a].element, &ca[a], &ua, NULL, 0);
        sum[a] = 0;
        nsum[a] = 0;
    }
    for (size_t c = 0; c < ncal; c++) {
        kr_la_spot *p = &s->spots[s->cal[c]];
        int rc = spot_load(s, p);
        if (rc) return rc;
        for (int a = 0; a < nana; a++) {
            const kr_la_meas *x = meas(p, a), *y = meas(p, s->is_ana);
            double *R = &s->rsf[c * nana + a], *uR = &s->rsf_u[c * nana + a];
            double *S = &s->sens[c * nana + a], *uS = &s->sens_u[c * nana + a];
            *R = *uR = *S = *uS = NAN;
            if (!has[a] || !x || !(x->net_cps > 0)) continue;
            *S = x->net_cps / ca[a]; /* sensitivity, cps per ug/g */
            *uS = *S * sqrt(x->var_mean + x->blank_sd_cps * x->blank_sd_cps / x->n_blank) / x->net_cps;
            if (y && y->net_cps > 0) {
                /* relative sensitivity factor (Longerich et al. 1996): (I_i/I_IS)_RM / (C_i/C_IS)_RM */
                *R = (x->net_cps / y->net_cps) / (ca[a] / cis);
                double rs, rb;
                ratio_rel_var(x, y, a == s->is_ana, &rs, &rb);
                *uR = *R * sqrt(rs + rb);
                sum[a] += *R;
                nsum[a]++;
            }
        }
        if ((rc = spot_unload(s, p, 0))) return rc;
    }
    for (int a = 0; a < nana; a++) s->rsf_mean[a] = nsum[a] ? sum[a] / nsum[a] : NAN;
    if (s->set.drift == 2) { /* smooth: weighted polynomial in time (least squares, GSL) */
        int p = s->set.smooth_degree + 1;
        free(s->fit);
        free(s->fitcov);
        s->fit = calloc((size_t)nana * p, sizeof(double));
        s->fitcov = calloc((size_t)nana * p * p, sizeof(double));
        if (!s->fit || !s->fitcov) return kr_err(KR_ENOMEM, "out of memory");
        double t0 = s->spots[s->cal[0]].time_s;
        for (int a = 0; a < nana; a++) {
            size_t m = 0;
            for (size_t c = 0; c < ncal; c++) m += isfinite(s->rsf[c * nana + a]) && s->rsf_u[c * nana + a] > 0;
            for (int q = 0; q < p; q++) s->fit[a * p + q] = NAN;
            if (m < (size_t)p + 1) continue;
            gsl_matrix *X = gsl_matrix_alloc(m, p), *cov = gsl_matrix_alloc(p, p);
            gsl_vector *y = gsl_vector_alloc(m), *wt = gsl_vector_alloc(m), *cf = gsl_vector_alloc(p);
            gsl_multifit_linear_workspace *ws = gsl_multifit_linear_alloc(m, p);
            if (X && cov && y && wt && cf && ws) {
                size_t r = 0;
                for (size_t c = 0; c < ncal; c++) {
                    double R = s->rsf[c * nana + a], u = s->rsf_u[c * nana + a];
                    if (!isfinite(R) || !(u > 0)) continue;
                    double th = (s->spots[s->cal[c]].time_s - t0) / 3600.0, pw = 1;
                    for (int q = 0; q < p; q++, pw *= th) gsl_matrix_set(X, r, q, pw);
                    gsl_vector_set(y, r, R);
                    gsl_vector_set(wt, r, 1 / (u * u));
                    r++;
                }
                double chi2;
                if (!gsl_multifit_wlinear(X, wt, y, cf, cov, &chi2, ws)) {
                    double scale = m > (size_t)p ? fmax(1.0, chi2 / (double)(m - p)) : 1.0; /* over-dispersion */
                    for (int q = 0; q < p; q++) {
                        s->fit[a * p + q] = gsl_vector_get(cf, q);
                        for (int q2 = 0; q2 < p; q2++) s->fitcov[(a * p + q) * p + q2] = gsl_matrix_get(cov, q, q2) * scale;
                    }
                }
            }
            gsl_matrix_free(X);
            gsl_matrix_free(cov);
            gsl_vector_free(y);
            gsl_vector_free(wt);
            gsl_vector_free(cf);
            gsl_multifit_linear_free(ws);
        }
    }
    return KR_OK;
}

/* Value of a per-calibrant quantity at time t: linear between the bracketing analyses, flat outside
 * (drift 1); session mean (drift 0). Returns the value, its 1 sigma in *u and whether t is outside. */
static double interp_cal(const kr_la_session *s, const double *v, const double *vu, int a, double t, double *u,
                         int *outside)
{
    int nana = s->nana;
    size_t prev = SIZE_MAX, next = SIZE_MAX;
    *outside = 0;
    if (s->set.drift == 2 && s->fit && v == s->rsf && isfinite(s->fit[a * (s->set.smooth_degree + 1)])) {
        int p = s->set.smooth_degree + 1;
        double th = (t - s->spots[s->cal[0]].time_s) / 3600.0, x[8], r = 0, var = 0, pw = 1;
        for (int q = 0; q < p; q++, pw *= th) x[q] = pw;
        for (int q = 0; q < p; q++) r += s->fit[a * p + q] * x[q];
        for (int q = 0; q < p; q++)
            for (int q2 = 0; q2 < p; q2++) var += x[q] * s->fitcov[(a * p + q) * p + q2] * x[q2];
        *u = sqrt(var);
        *outside = t < s->spots[s->cal[0]].time_s || t > s->spots[s->cal[s->ncal - 1]].time_s;
        return r;
    }
    if (s->set.drift == 0) {
        double sum = 0, su = 0;
        int n = 0;
        for (size_t c = 0; c < s->ncal; c++)
            if (isfinite(v[c * nana + a])) {
                sum += v[c * nana + a];
                su += vu[c * nana + a] * vu[c * nana + a];
                n++;
            }
        *u = n ? sqrt(su) / n : NAN;
        return n ? sum / n : NAN;
    }
    for (size_t c = 0; c < s->ncal; c++) {
        if (!isfinite(v[c * nana + a])) continue;
        if (s->spots[s->cal[c]].time_s <= t) prev = c;
        else if (next == SIZE_MAX) next = c;
    }
    if (prev == SIZE_MAX && next == SIZE_MAX) {
        *u = NAN;
        return NAN;
    }
    if (prev == SIZE_MAX || next == SIZE_MAX) { /* flat outside the brackets */
        size_t c = prev == SIZE_MAX ? next : prev;
        *outside = 1;
        *u = vu[c * nana + a];
        return v[c * nana + a];
    }
    double t1 = s->spots[s->cal[prev]].time_s, t2 = s->spots[s->cal[next]].time_s;
    double w2 = t2 > t1 ? (t - t1) / (t2 - t1) : 0.5, w1 = 1 - w2; /* linear interpolation in time */
    double u1 = vu[prev * nana + a], u2 = vu[next * nana + a];
    *u = sqrt(w1 * w1 * u1 * u1 + w2 * w2 * u2 * u2);
    return w1 * v[prev * nana + a] + w2 * v[next * nana + a];
}

/* ---- equations ----------------------------------------------------------------------------------------- */

double kr_la_longerich(double c_is_sam, double i_sam, double i_is_sam, double c_rm, double c_is_rm, double i_rm,
                       double i_is_rm)
{
    /* Longerich, Jackson & Guenther 1996 JAAS 11 899, eq. 2-3:
     * C_sam = C_IS,sam (I_sam/I_IS,sam) (C_RM/C_IS,RM) / (I_RM/I_IS,RM) */
    return c_is_sam * (i_sam / i_is_sam) * (c_rm / c_is_rm) / (i_rm / i_is_rm);
}

double kr_la_lod_longerich(double k, double sd_blank_cps, int n_b, int n_s, double sens)
{
    /* Longerich et al. 1996 JAAS 11 899, eq. 6: LOD = 3 sigma_b sqrt(1/n_b + 1/n_s) / S */
    return k * sd_blank_cps * sqrt(1.0 / n_b + 1.0 / n_s) / sens;
}

double kr_la_lod_pettke(double lc, double ld_counts, double blank_cps, double dwell_s, int n_b, int n_s, double sens)
{
    /* Pettke et al. 2012 Ore Geol. Rev. 44 10, eq. 6 (Currie 1968):
     * LOD = (3.29 sqrt(N_b t_s n_s (1 + n_s/n_b)) + 2.71) / (n_s t_s S) */
    double b = blank_cps > 0 ? blank_cps : 0;
    return (lc * sqrt(b * dwell_s * n_s * (1.0 + (double)n_s / n_b)) + ld_counts) / (n_s * dwell_s) / sens;
}

/* ---- quantification ------------------------------------------------------------------------------------- */

static void row_init(const kr_la_session *s, const kr_la_spot *p, int a, kr_la_result *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->spot, sizeof r->spot, "%s", p->spot);
    snprintf(r->sample, sizeof r->sample, "%s", p->sample);
    snprintf(r->analyte, sizeof r->analyte, "%s", s->ana[a].label);
    snprintf(r->element, sizeof r->element, "%s", s->ana[a].element);
    snprintf(r->role, sizeof r->role, "%s",
             p->role == KR_LA_CALIBRANT ? "calibrant" : p->role == KR_LA_SECONDARY ? "secondary" : "unknown");
    r->time_s = p->time_s;
    r->conc_ugg = r->u_total_ugg = r->u_signal_ugg = r->u_blank_ugg = r->u_rm_ugg = r->u_calib_ugg = r->u_is_ugg = NAN;
    r->lod_longerich_ugg = r->lod_pettke_ugg = r->blank_cps = r->blank_sd_cps = r->net_cps = NAN;
    r->drift_factor = r->is_ugg = r->is_u_ugg = NAN;
    r->blank_start_s = p->w.blank_start_s;
    r->blank_end_s = p->w.blank_end_s;
    r->signal_start_s = p->w.signal_start_s;
    r->signal_end_s = p->w.signal_end_s;
    const kr_la_meas *m = meas(p, a);
    if (m) {
        r->blank_cps = m->blank_cps;
        r->blank_sd_cps = m->blank_sd_cps;
        r->net_cps = m->net_cps;
        r->n_blank = m->n_blank;
        r->n_signal = m->n_signal;
        r->spikes_removed = m->n_spikes;
    }
}

/* Internal-standard concentration of a spot: reference value (RMs), EPMA oxide, config, default. */
static int spot_is(const kr_la_session *s, const kr_la_spot *p, double *c, double *u, char *src, size_t srclen)
{
    const char *el = s->ana[s->is_ana].element;
    if (p->rm >= 0 && kr_la_refs_element(s->refs, p->rm, el, c, u, NULL, 0)) {
        snprintf(src, srclen, "reference");
        return 1;
    }
    double ox, sd;
    int z = kr_la_z_of(el);
    double f = kr_la_element_in_oxide(s->refs, z);
    if (s->is_oxide && f > 0 && s->is_oxide(s->is_user, p->sample, &ox, &sd)) {
        *c = ox * 1e4 * f; /* oxide wt% -> element ug/g by stoichiometry (e.g. SiO2 x 4674.3 for Si) */
        *u = isnan(sd) ? 0 : sd * 1e4 * f;
        snprintf(src, srclen, "epma");
        return 1;
    }
    for (size_t i = 0; i < s->n_is_values; i++)
        if (!strcmp(s->is_values[i].sample, p->sample)) {
            *c = s->is_values[i].ugg;
            *u = isnan(s->is_values[i].u_ugg) ? 0 : s->is_values[i].u_ugg;
            snprintf(src, srclen, "config");
            return 1;
        }
    if (isfinite(s->is_default_ugg)) {
        *c = s->is_default_ugg;
        *u = isnan(s->is_default_u_ugg) ? 0 : s->is_default_u_ugg;
        snprintf(src, srclen, "config_default");
        return 1;
    }
    return 0;
}

static void fail_rows(const kr_la_session *s, const kr_la_spot *p, kr_la_result *rows, const char *msg)
{
    for (int a = 0; a < s->nana; a++) {
        row_init(s, p, a, &rows[a]);
        snprintf(rows[a].status, sizeof rows[a].status, "failed");
        snprintf(rows[a].message, sizeof rows[a].message, "%s", msg);
    }
}

/* Liu et al. 2008 Chem. Geol. 257 34 (eq. 3-4): concentrations from absolute sensitivities, scaled so
 * that the sum of the major-element oxides is 100 wt%. */
static int oxide_normalise(kr_la_session *s, const kr_la_spot *p, kr_la_result *rows)
{
    double sum_ox = 0;
    double app[KR_LA_MAXANA];
    int used_el[104] = {0};
    for (int a = 0; a < s->nana; a++) {
        int out;
        double u;
        const kr_la_meas *m = meas(p, a);
        app[a] = NAN;
        if (!m) continue;
        double S = interp_cal(s, s->sens, s->sens_u, a, p->time_s, &u, &out);
        if (!(S > 0)) continue;
        app[a] = m->net_cps / S; /* apparent concentration, ug/g (arbitrary yield) */
        int z = kr_la_z_of(s->ana[a].element);
        double f = kr_la_element_in_oxide(s->refs, z);
        if (z == 26 && s->set.fe3_fraction > 0 && !isnan(s->refs->aw[26])) {
            /* FeO and Fe2O3 split by Fe3+/Fe_total */
            double ffeo = s->refs->aw[26] / (s->refs->aw[26] + s->refs->aw[8]);
            double ffe2o3 = 2 * s->refs->aw[26] / (2 * s->refs->aw[26] + 3 * s->refs->aw[8]);
            f = 1.0 / ((1 - s->set.fe3_fraction) / ffeo + s->set.fe3_fraction / ffe2o3);
        }
        if (f > 0 && !used_el[z] && app[a] > 0) { /* first isotope of each element enters the sum */
            used_el[z] = 1;
            sum_ox += app[a] / f;
        }
    }
    if (!(sum_ox > 0)) return kr_err(KR_EINPUT, "spot %s: no major element measured for the oxide normalisation", p->spot);
    double scale = 1e6 / sum_ox; /* 100 wt% = 1e6 ug/g */
    for (int a = 0; a < s->nana; a++) {
        kr_la_result *r = &rows[a];
        row_init(s, p, a, r);
        snprintf(r->is_source, sizeof r->is_source, "oxide_sum");
        if (!isfinite(app[a])) {
            snprintf(r->status, sizeof r->status, meas(p, a) ? "no_ref" : "not_measured");
            continue;
        }
        snprintf(r->status, sizeof r->status, "ok");
        r->conc_ugg = app[a] * scale;
        const kr_la_meas *m = meas(p, a);
        double rs = m->var_mean / (m->net_cps * m->net_cps), rb = m->blank_sd_cps * m->blank_sd_cps / m->n_blank /
                                                                   (m->net_cps * m->net_cps);
        r->u_signal_ugg = fabs(r->conc_ugg) * sqrt(rs);
        r->u_blank_ugg = fabs(r->conc_ugg) * sqrt(rb);
        r->u_total_ugg = hypot(r->u_signal_ugg, r->u_blank_ugg);
        double sens_sam = m->net_cps / r->conc_ugg;
        r->lod_longerich_ugg = kr_la_lod_longerich(s->refs->k_longerich, m->blank_sd_cps, m->n_blank, m->n_signal, sens_sam);
        r->lod_pettke_ugg = kr_la_lod_pettke(s->refs->currie_lc, s->refs->currie_ld_counts, m->blank_cps, m->dwell_s,
                                             m->n_blank, m->n_signal, sens_sam);
        double lod = s->set.lod_flag_pettke ? r->lod_pettke_ugg : r->lod_longerich_ugg;
        r->below_lod = !(r->conc_ugg >= lod);
    }
    return KR_OK;
}

static int quantify(kr_la_session *s, size_t i, kr_la_result *rows);

int kr_la_quantify_spot(kr_la_session *s, size_t i, kr_la_result *rows)
{
    kr_la_spot *p = &s->spots[i];
    int rc = spot_load(s, p);
    if (rc) {
        char msg[KR_LA_SPOT_MSG];
        kr_err_format(msg, sizeof msg);
        fail_rows(s, p, rows, msg);
        return rc;
    }
    rc = quantify(s, i, rows);
    int ru = spot_unload(s, p, 0);
    return rc ? rc : ru;
}

static int quantify(kr_la_session *s, size_t i, kr_la_result *rows)
{
    kr_la_spot *p = &s->spots[i];
    char msg[480];
    if (p->failed) {
        fail_rows(s, p, rows, p->msg);
        return kr_err(KR_EINPUT, "%s", p->msg);
    }
    double cis = NAN, uis = NAN;
    char src[24] = "";
    int have_is = s->is_ana >= 0 && meas(p, s->is_ana) && spot_is(s, p, &cis, &uis, src, sizeof src);
    if (s->is_ana >= 0 && !meas(p, s->is_ana)) {
        snprintf(msg, sizeof msg, "spot %s: the internal-standard isotope %s was not measured", p->spot,
                 s->ana[s->is_ana].label);
        fail_rows(s, p, rows, msg);
        return kr_err(KR_EINPUT, "%s", msg);
    }
    if (!have_is) {
        if (s->is_ana < 0 || s->set.is_fallback_oxide) return oxide_normalise(s, p, rows);
        snprintf(msg, sizeof msg,
                 "spot %s: sample '%s' has no internal standard: no EPMA mean %s for it (unlinked sample), no "
                 "laicpms.internal_standard_ugg entry and no default; link the sample id or set laicpms.is_fallback: "
                 "oxide_sum",
                 p->spot, p->sample, s->ana[s->is_ana].element);
        fail_rows(s, p, rows, msg);
        return kr_err(KR_EINPUT, "%s", msg);
    }
    const kr_la_meas *y = meas(p, s->is_ana);
    if (!(y->net_cps > 0)) {
        snprintf(msg, sizeof msg, "spot %s: internal-standard signal %s is not above its blank (%.4g cps net)", p->spot,
                 s->ana[s->is_ana].label, y->net_cps);
        fail_rows(s, p, rows, msg);
        return kr_err(KR_EINPUT, "%s", msg);
    }
    double cis_rm, uis_rm;
    kr_la_refs_element(s->refs, s->cal_rm, s->ana[s->is_ana].element, &cis_rm, &uis_rm, NULL, 0);
    int any_outside = 0;
    for (int a = 0; a < s->nana; a++) {
        kr_la_result *r = &rows[a];
        row_init(s, p, a, r);
        snprintf(r->is_analyte, sizeof r->is_analyte, "%s", s->ana[s->is_ana].label);
        snprintf(r->is_source, sizeof r->is_source, "%s", src);
        r->is_ugg = cis;
        r->is_u_ugg = uis;
        const kr_la_meas *x = meas(p, a);
        if (!x) {
            snprintf(r->status, sizeof r->status, "not_measured");
            continue;
        }
        double ca, ua;
        if (!kr_la_refs_element(s->refs, s->cal_rm, s->ana[a].element, &ca, &ua, NULL, 0)) {
            snprintf(r->status, sizeof r->status, "no_ref");
            snprintf(r->message, sizeof r->message, "no %s value for %s in the calibrant %s", s->ana[a].element,
                     s->ana[a].label, s->set.calibrant);
            continue;
        }
        int outside;
        double uR, R = interp_cal(s, s->rsf, s->rsf_u, a, p->time_s, &uR, &outside);
        if (!(R > 0)) {
            snprintf(r->status, sizeof r->status, "no_ref");
            snprintf(r->message, sizeof r->message, "%s: no usable calibrant signal", s->ana[a].label);
            continue;
        }
        r->outside_bracket = outside;
        any_outside |= outside && p->role != KR_LA_CALIBRANT;
        r->drift_factor = R / s->rsf_mean[a];
        /* Longerich et al. 1996 with the drift-interpolated RSF R = (I_i/I_IS)_RM / (C_i/C_IS)_RM */
        r->conc_ugg = cis * (x->net_cps / y->net_cps) / R;
        double rs, rb;
        ratio_rel_var(x, y, a == s->is_ana, &rs, &rb);
        double C = fabs(r->conc_ugg);
        r->u_signal_ugg = C * sqrt(rs);
        r->u_blank_ugg = C * sqrt(rb);
        double rrm = (isnan(ua) ? 0 : ua / ca), rism = (isnan(uis_rm) ? 0 : uis_rm / cis_rm);
        r->u_rm_ugg = a == s->is_ana ? 0 : C * hypot(rrm, rism);
        r->u_calib_ugg = a == s->is_ana ? 0 : C * (isfinite(uR) ? uR / R : 0);
        r->u_is_ugg = C * (cis > 0 ? uis / cis : 0);
        r->u_total_ugg = sqrt(r->u_signal_ugg * r->u_signal_ugg + r->u_blank_ugg * r->u_blank_ugg +
                              r->u_rm_ugg * r->u_rm_ugg + r->u_calib_ugg * r->u_calib_ugg + r->u_is_ugg * r->u_is_ugg);
        double sens_sam = (y->net_cps / cis) * R; /* cps per ug/g of analyte in this spot */
        r->lod_longerich_ugg = kr_la_lod_longerich(s->refs->k_longerich, x->blank_sd_cps, x->n_blank, x->n_signal, sens_sam);
        r->lod_pettke_ugg = kr_la_lod_pettke(s->refs->currie_lc, s->refs->currie_ld_counts, x->blank_cps, x->dwell_s,
                                             x->n_blank, x->n_signal, sens_sam);
        double lod = s->set.lod_flag_pettke ? r->lod_pettke_ugg : r->lod_longerich_ugg;
        r->below_lod = !(r->conc_ugg >= lod);
        snprintf(r->status, sizeof r->status, "ok");
    }
    if (any_outside && s->set.require_bracket) {
        snprintf(msg, sizeof msg, "spot %s lies outside the calibrant brackets (no %s analysis before or after it)", p->spot,
                 s->set.calibrant);
        fail_rows(s, p, rows, msg);
        return kr_err(KR_EINPUT, "%s", msg);
    }
    return KR_OK;
}
