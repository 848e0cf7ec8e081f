/* synth_epma: forward model that writes realistic JEOL JXA point exports from known compositions.
 *
 *   synth_epma --setup spectrometers.csv --beads beads.csv --out DIR [--seed N] [--csv]
 *
 * For each bead of beads.csv (mean oxide wt%, number of points) it draws per-point compositions
 * (1 % relative heterogeneity per oxide, renormalised to 100 wt%), computes the k-ratios with the
 * matrix correction's FORWARD model (stages/epma/matrix.h, XPP, Heinrich 1986 MACs, fluorescence on),
 * turns them into count rates with the set-up's pure-element sensitivities at 25 kV and ~20 nA, adds a
 * background linear in spectrometer position, applies the non-paralyzable dead time in reverse, and
 * draws Poisson counts. It writes
 *   DIR/exports/beads_QNT/Pos_NNNN/data001.cnd + data001.qnt      (the unknowns)
 *   DIR/exports/beads_STD/Pos_NNNN/data001.cnd + data001.std      (one per standard)
 *   DIR/truth.csv                                                  (true oxide wt% of every point)
 *   DIR/exports/beads_generic.csv (with --csv)                     (the same counts as generic CSV)
 * in JEOL's key style (DOMAIN.md §2.1) with CRLF line endings; JEOL's own net/bg/sigma fields are computed
 * as JEOL does (non-paralyzable dead time, linear background). */
#include "atomic.h"
#include "counts.h"
#include "error.h"
#include "matrix.h"
#include "text.h"

#include <errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAXEL 16
#define MAXBEAD 16
#define MAXSTD 16
#define KV 25.0
#define TAKEOFF_DEG 40.0
#define CURRENT_NA 20.0

typedef struct {
    char el[4], line[4], crystal[8], std[32], std_formula[32];
    int channel;
    double peak_mm, offm, offp, pure_cps_na, bg_cps_na, slope, tp, tb, tau_us;
} spec;

typedef struct {
    char name[32];
    int npoints;
    double oxide_wt[MAXEL]; /* in the order of the header's oxides */
} bead;

typedef struct {
    int nspec;
    spec s[MAXEL];
    int nox;
    char oxide[MAXEL][16];
    int ox_spec[MAXEL]; /* spectrometer row of each oxide's cation */
    int nbead;
    bead b[MAXBEAD];
} model;

static int read_setup(const char *path, model *m)
{
    kr_text t;
    int rc = kr_text_read(path, &t);
    if (rc) return rc;
    kr_rows it;
    kr_rows_init(&it, &t, ',');
    int header = 0;
    while (kr_rows_next(&it) > 0) {
        char **f = it.f;
        if (!header++) continue;
        if (it.nf != 15 || m->nspec == MAXEL) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "expected 15 fields");
            break;
        }
        spec *s = &m->s[m->nspec++];
        snprintf(s->el, sizeof s->el, "%s", f[0]);
        snprintf(s->line, sizeof s->line, "%s", f[1]);
        s->channel = atoi(f[2]);
        snprintf(s->crystal, sizeof s->crystal, "%s", f[3]);
        double *d[] = {&s->peak_mm, &s->offm, &s->offp, &s->pure_cps_na, &s->bg_cps_na, &s->slope, &s->tp, &s->tb,
                       &s->tau_us};
        for (int i = 0; i < 9; i++)
            if (kr_parse_double(f[4 + i], d[i])) {
                rc = kr_err_at(KR_EINPUT, path, it.lineno, "field %d not a number", 5 + i);
                goto done;
            }
        snprintf(s->std, sizeof s->std, "%s", f[13]);
        snprintf(s->std_formula, sizeof s->std_formula, "%s", f[14]);
    }
done:
    kr_text_free(&t);
    return rc;
}

static int read_beads(const char *path, const kr_atomic *at, model *m)
{
    kr_text t;
    int rc = kr_text_read(path, &t);
    if (rc) return rc;
    kr_rows it;
    kr_rows_init(&it, &t, ',');
    int header = 0;
    while (kr_rows_next(&it) > 0) {
        char **f = it.f;
        int nf = it.nf;
        if (!header) {
            header = 1;
            m->nox = nf - 2;
            for (int i = 0; i < m->nox; i++) {
                snprintf(m->oxide[i], sizeof m->oxide[i], "%s", f[2 + i]);
                int z, c, o;
                if (kr_oxide_parse(at, f[2 + i], &z, &c, &o)) {
                    rc = kr_err_at(KR_EINPUT, path, it.lineno, "bad oxide %s", f[2 + i]);
                    goto done;
                }
                m->ox_spec[i] = -1;
                for (int s = 0; s < m->nspec; s++)
                    if (kr_atomic_z(at, m->s[s].el) == z) m->ox_spec[i] = s;
                if (m->ox_spec[i] < 0) {
                    rc = kr_err_at(KR_EINPUT, path, it.lineno, "no spectrometer row measures %s", f[2 + i]);
                    goto done;
                }
            }
            continue;
        }
        if (nf != m->nox + 2 || m->nbead == MAXBEAD) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "expected %d fields", m->nox + 2);
            goto done;
        }
        bead *b = &m->b[m->nbead++];
        snprintf(b->name, sizeof b->name, "%s", f[0]);
        b->npoints = atoi(f[1]);
        double sum = 0;
        for (int i = 0; i < m->nox; i++) {
            if (kr_parse_double(f[2 + i], &b->oxide_wt[i])) {
                rc = kr_err_at(KR_EINPUT, path, it.lineno, "not a number: %s", f[2 + i]);
                goto done;
            }
            sum += b->oxide_wt[i];
        }
        for (int i = 0; i < m->nox; i++) b->oxide_wt[i] *= 100.0 / sum;
    }
done:
    kr_text_free(&t);
    return rc;
}

/* ---- CRLF key/value writing ---- */

static void kv(FILE *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void kv(FILE *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(f, fmt, ap);
    va_end(ap);
    fputs("\r\n", f);
}

/* JEOL writes amperes as 1.993e-008 (three exponent digits). */
static void jeol_amps(char *buf, size_t len, double amps)
{
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%.3e", amps);
    char *e = strchr(tmp, 'e');
    if (e && strlen(e) == 4)
        snprintf(buf, len, "%.*s%c0%s", (int)(e - tmp + 1), tmp, e[1], e + 2);
    else
        snprintf(buf, len, "%s", tmp);
}

static int mkdirs(const char *path)
{
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) && errno != EEXIST) return kr_err(KR_EIO, "mkdir %s: %s", buf, strerror(errno));
        *p = '/';
    }
    if (mkdir(buf, 0755) && errno != EEXIST) return kr_err(KR_EIO, "mkdir %s: %s", buf, strerror(errno));
    return KR_OK;
}

typedef struct {
    int ns;
    int idx[MAXEL];        /* spectrometer rows measured in this point */
    double counts[MAXEL][3];
    double current_na;
} meas;

static void write_cnd(FILE *f, const model *m, const meas *ms, const char *comment, double x, double y, double z,
                      const char *date)
{
    char amps[32];
    jeol_amps(amps, sizeof amps, CURRENT_NA * 1e-9);
    kv(f, "$SEM_DATA_VERSION 1");
    kv(f, "$XM_DATA_ACCUM 1");
    kv(f, "$XM_DATA_SAVE_DATE %s", date);
    kv(f, "$XM_ANALYSIS_ACQ_OPERATOR User");
    kv(f, "$XM_ANALYSIS_ACQ_DATE %s", date);
    kv(f, "$XM_ANALYSIS_INSTRUMENT JXA8230");
    kv(f, "$XM_AC_TYPE 1");
    kv(f, "$XM_CP_PROJECT_NAME CE5C0600");
    kv(f, "$XM_CP_COMMENT high-Ti glass beads (synthetic, kreep scripts/synth-epma)");
    kv(f, "$XM_EC_ACCEL_VOLT %.1f", KV);
    kv(f, "$XM_EC_TARGET_PROBE_CURRENT %s", amps);
    kv(f, "$XM_EC_PROBE_DIAMETER 2");
    kv(f, "$XM_EC_WD 11.000");
    kv(f, "$XM_ELEM_NUMBER_OF_DATA %d", ms->ns);
    for (int c = 0; c < ms->ns; c++) {
        const spec *s = &m->s[ms->idx[c]];
        kv(f, "$XM_ELEM_COND_ID%%%d %d", c, c);
        kv(f, "$XM_ELEM_NAME%%%d %s", c, s->el);
        kv(f, "$XM_ELEM_SEQ_NO%%%d 1", c);
        kv(f, "$XM_ELEM_WDS_COND_NAME%%%d %s_CH%d_%s_%s", c, s->el, s->channel, s->crystal, s->line);
        kv(f, "$XM_ELEM_WDS_CHANNEL_NO%%%d %d", c, s->channel - 1);
        kv(f, "$XM_ELEM_WDS_CRYSTAL_NAME%%%d %s", c, s->crystal);
        kv(f, "$XM_ELEM_WDS_XRAY%%%d %s", c, s->line);
        kv(f, "$XM_ELEM_WDS_ORDER%%%d 1", c);
        kv(f, "$XM_ELEM_WDS_PEAK%%%d %.3f", c, s->peak_mm);
        kv(f, "$XM_ELEM_WDS_BACK_MINUS%%%d %.3f", c, s->offm);
        kv(f, "$XM_ELEM_WDS_BACK_PLUS%%%d %.3f", c, s->offp);
        kv(f, "$XM_ELEM_WDS_QNT_PEAK_TIME%%%d %.3f", c, s->tp);
        kv(f, "$XM_ELEM_WDS_QNT_BACK_TIME%%%d %.3f", c, s->tb);
        kv(f, "$XM_ELEM_WDS_PHA_GAIN%%%d 64", c);
        kv(f, "$XM_ELEM_WDS_PHA_MODE%%%d Int", c);
    }
    kv(f, "$XM_AP_TYPE 1");
    kv(f, "$XM_AP_COMMENT ");
    kv(f, "$XM_AP_NUMBER_OF_DATA 1");
    kv(f, "$XM_AP_COMMENT%%0 %s", comment);
    kv(f, "$XM_AP_ACM_STAGE_POS%%0_0 %.4f %.4f %.4f", x, y, z);
}

static int write_qnt_data(FILE *f, const model *m, const meas *ms, const kr_atomic *at, int with_valence)
{
    char amps[32];
    double pre = ms->current_na * (1 + 0.0005), post = ms->current_na * (1 - 0.0005);
    jeol_amps(amps, sizeof amps, ms->current_na * 1e-9);
    kv(f, "$XM_DATA_PROBE_CURRENT %s", amps);
    jeol_amps(amps, sizeof amps, pre * 1e-9);
    kv(f, "$XM_DATA_PROBE_CURRENT_PRE %s", amps);
    jeol_amps(amps, sizeof amps, post * 1e-9);
    kv(f, "$XM_DATA_PROBE_CURRENT_POST %s", amps);
    kv(f, "$XM_QNT_NUMBER_OF_ELEM %d", ms->ns);
    for (int c = 0; c < ms->ns; c++) {
        const spec *s = &m->s[ms->idx[c]];
        kr_wds_counts k = {0};
        k.peak_counts = ms->counts[c][0];
        k.bgm_counts = ms->counts[c][1];
        k.bgp_counts = ms->counts[c][2];
        k.peak_time_s = s->tp;
        k.bgm_time_s = k.bgp_time_s = s->tb;
        k.off_minus_mm = s->offm;
        k.off_plus_mm = s->offp;
        k.dead_time_us = s->tau_us;
        k.current_na = ms->current_na;
        kr_wds_net n;
        /* JEOL's own fields: non-paralyzable dead time, linear background */
        int rc = kr_wds_net_compute(&k, KR_DT_NONPARALYZABLE, KR_BG_LINEAR, s->el, &n);
        if (rc) return rc;
        if (with_valence) {
            int z = kr_atomic_z(at, s->el);
            int cat = at->ox_cations[z], oxy = at->ox_oxygens[z];
            char ox[16];
            if (!strcmp(s->el, "Fe")) { cat = 1; oxy = 1; }
            if (cat == 1 && oxy == 1) snprintf(ox, sizeof ox, "%sO", s->el);
            else if (cat == 1) snprintf(ox, sizeof ox, "%sO%d", s->el, oxy);
            else if (oxy == 1) snprintf(ox, sizeof ox, "%s%dO", s->el, cat);
            else snprintf(ox, sizeof ox, "%s%dO%d", s->el, cat, oxy);
            kv(f, "$XM_QNT_ATOMIC_VALENCE%%%d %s %d %s", c, s->el, 2 * oxy / cat, ox);
        }
        kv(f, "$XM_QNT_DATA_WD_ELM%%%d %s", c, s->el);
        kv(f, "$XM_QNT_DATA_WD_MES_TIME%%%d %.3f %.3f %.3f", c, s->tp, s->tb, s->tb);
        kv(f, "$XM_QNT_DATA_WD_XRAY_CNT%%%d %.1f %.1f %.1f %.1f %.1f %.1f", c, k.peak_counts, k.bgm_counts,
           k.bgp_counts, n.net_cps, n.bg_cps, n.sigma_cps);
        kv(f, "$XM_QNT_DATA_WD_DEAD_TIME%%%d %.3f", c, s->tau_us);
    }
    return KR_OK;
}

/* Poisson counts of one spectrometer for a true net rate (cps, before dead time). */
static void draw_counts(gsl_rng *r, const spec *s, double net_cps, double current_na, double *counts)
{
    double b0 = s->bg_cps_na * current_na;
    double pos[3] = {0.0, -s->offm, s->offp};
    double t[3] = {s->tp, s->tb, s->tb};
    for (int j = 0; j < 3; j++) {
        /* continuum linear in spectrometer position */
        double rate = b0 * (1.0 - s->slope * pos[j]) + (j == 0 ? net_cps : 0.0);
        /* inverse of the non-paralyzable dead time: r' = r/(1 + tau r) (Knoll 2010, eq. 4.7) */
        double obs = rate / (1.0 + s->tau_us * 1e-6 * rate);
        counts[j] = (double)gsl_ran_poisson(r, obs * t[j]);
    }
}

static int el_frac_from_oxides(const kr_atomic *at, const model *m, const double *ox_wt, const kr_epma_setup *su,
                               double *c)
{
    for (int i = 0; i < su->n; i++) c[i] = 0;
    int io = -1;
    for (int i = 0; i < su->n; i++)
        if (su->el[i].role == KR_EPMA_STOICH_O) io = i;
    for (int k = 0; k < m->nox; k++) {
        int z, cat, oxy;
        if (kr_oxide_parse(at, m->oxide[k], &z, &cat, &oxy)) return kr_err(KR_EINPUT, "oxide %s", m->oxide[k]);
        double wc = cat * at->weight[z], wo = oxy * at->weight[8];
        for (int i = 0; i < su->n; i++)
            if (su->el[i].z == z) c[i] += ox_wt[k] / 100.0 * wc / (wc + wo);
        c[io] += ox_wt[k] / 100.0 * wo / (wc + wo);
    }
    return KR_OK;
}

static int run(const char *setup, const char *beads, const char *out, unsigned long seed, int csv)
{
    model *m = calloc(1, sizeof *m);
    kr_atomic *at = malloc(sizeof *at);
    kr_epma_ctx *ctx = NULL;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    FILE *truth = NULL, *gen = NULL;
    int rc = KR_OK;
    if (!m || !at || !r) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    gsl_rng_set(r, seed);
    if ((rc = kr_atomic_load(at)) || (rc = read_setup(setup, m)) || (rc = read_beads(beads, at, m))) goto cleanup;

    kr_epma_setup su;
    memset(&su, 0, sizeof su);
    kr_epma_setup_init(&su);
    for (int s = 0; s < m->nspec; s++) {
        kr_xray_line xl;
        kr_xray_line_parse(m->s[s].line, &xl);
        if (kr_epma_setup_add(&su, at, m->s[s].el, KR_EPMA_MEASURED, xl, KV, TAKEOFF_DEG, m->s[s].std_formula) < 0) {
            rc = KR_EINPUT;
            goto cleanup;
        }
        if (!strcmp(m->s[s].el, "Fe") && (rc = kr_epma_setup_set_oxide(&su, at, s, "FeO"))) goto cleanup;
    }
    if (kr_epma_setup_add(&su, at, "O", KR_EPMA_STOICH_O, KR_LINE_KA, 0, 0, NULL) < 0) {
        rc = KR_EINPUT;
        goto cleanup;
    }
    if ((rc = kr_epma_ctx_new(&su, at, &ctx))) goto cleanup;

    char path[1200];
    snprintf(path, sizeof path, "%s/truth.csv", out);
    if ((rc = mkdirs(out))) goto cleanup;
    truth = fopen(path, "w");
    if (!truth) {
        rc = kr_err(KR_EIO, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    fprintf(truth, "# true compositions of the synthetic points (oxide wt%%), written by scripts/synth-epma\n");
    fprintf(truth, "sample,point,comment");
    for (int k = 0; k < m->nox; k++) fprintf(truth, ",%s", m->oxide[k]);
    fprintf(truth, "\n");
    if (csv) {
        snprintf(path, sizeof path, "%s/exports", out);
        if ((rc = mkdirs(path))) goto cleanup;
        snprintf(path, sizeof path, "%s/exports/beads_generic.csv", out);
        gen = fopen(path, "w");
        if (!gen) {
            rc = kr_err(KR_EIO, "%s: %s", path, strerror(errno));
            goto cleanup;
        }
        fprintf(gen, "# generic EPMA CSV (stages/epma/generic_csv.h) with the same counts as beads_QNT/beads_STD\n"
                     "type,point,comment,standard,composition,element,line,crystal,kv,current_na,peak_counts,"
                     "bgm_counts,bgp_counts,peak_time_s,bg_time_s,off_minus_mm,off_plus_mm,dead_time_us\n");
    }

    /* unknowns */
    int pos = 0;
    for (int b = 0; b < m->nbead; b++) {
        const bead *bd = &m->b[b];
        double cx = 18.0 + 2.5 * b, cy = 26.0 + 1.5 * b;
        for (int p = 0; p < bd->npoints; p++) {
            pos++;
            double ox[MAXEL], sum = 0;
            for (int k = 0; k < m->nox; k++) {
                ox[k] = bd->oxide_wt[k] * (1.0 + gsl_ran_gaussian(r, 0.01));
                sum += ox[k];
            }
            for (int k = 0; k < m->nox; k++) ox[k] *= 100.0 / sum;
            double c[KR_EPMA_MAX_EL], kp[KR_EPMA_MAX_EL];
            if ((rc = el_frac_from_oxides(at, m, ox, &su, c))) goto cleanup;
            kr_epma_work w;
            if ((rc = kr_epma_forward(ctx, c, &w, kp, NULL))) goto cleanup;
            meas ms;
            memset(&ms, 0, sizeof ms);
            ms.current_na = CURRENT_NA * (1.0 + gsl_ran_gaussian(r, 0.002));
            ms.ns = m->nspec;
            for (int s = 0; s < m->nspec; s++) {
                ms.idx[s] = s;
                draw_counts(r, &m->s[s], kp[s] * m->s[s].pure_cps_na * ms.current_na, ms.current_na, ms.counts[s]);
            }
            char comment[64], dir[1024], date[48];
            snprintf(comment, sizeof comment, "%s_%02d", bd->name, p + 1);
            snprintf(date, sizeof date, "2024/05/%02d %02d:%02d:%02d", 10 + b, 9 + p / 6, (p * 7) % 60, (p * 13) % 60);
            snprintf(dir, sizeof dir, "%s/exports/beads_QNT/Pos_%04d", out, pos);
            if ((rc = mkdirs(dir))) goto cleanup;
            double x = cx + 0.004 * p, y = cy + 0.003 * (p % 5), z = 11.02;
            snprintf(path, sizeof path, "%s/data001.cnd", dir);
            FILE *f = fopen(path, "wb");
            if (!f) {
                rc = kr_err(KR_EIO, "%s: %s", path, strerror(errno));
                goto cleanup;
            }
            write_cnd(f, m, &ms, comment, x, y, z, date);
            fclose(f);
            snprintf(path, sizeof path, "%s/data001.qnt", dir);
            f = fopen(path, "wb");
            if (!f) {
                rc = kr_err(KR_EIO, "%s: %s", path, strerror(errno));
                goto cleanup;
            }
            kv(f, "$SEM_DATA_VERSION 1");
            kv(f, "$XM_DATA_SAVE_DATE %s", date);
            kv(f, "$XM_AP_COMMENT%%0 %s", comment);
            rc = write_qnt_data(f, m, &ms, at, 1);
            fclose(f);
            if (rc) goto cleanup;
            fprintf(truth, "%s,Pos_%04d,%s", bd->name, pos, comment);
            for (int k = 0; k < m->nox; k++) fprintf(truth, ",%.4f", ox[k]);
            fprintf(truth, "\n");
            if (gen)
                for (int s = 0; s < m->nspec; s++) {
                    const spec *sp = &m->s[s];
                    fprintf(gen, "unknown,Pos_%04d,%s,,,%s,%s,%s,%.1f,%.4f,%.0f,%.0f,%.0f,%.3f,%.3f,%.3f,%.3f,%.3f\n", pos,
                            comment, sp->el, sp->line, sp->crystal, KV, ms.current_na, ms.counts[s][0], ms.counts[s][1],
                            ms.counts[s][2], sp->tp, sp->tb, sp->offm, sp->offp, sp->tau_us);
                }
        }
    }

    /* standards: one point per standard, measuring every element that uses it */
    char done[MAXSTD][32];
    int ndone = 0;
    for (int s0 = 0; s0 < m->nspec; s0++) {
        int seen = 0;
        for (int d = 0; d < ndone; d++)
            if (!strcmp(done[d], m->s[s0].std)) seen = 1;
        if (seen) continue;
        snprintf(done[ndone++], sizeof done[0], "%s", m->s[s0].std);
        kr_formula fo;
        if ((rc = kr_formula_parse(at, m->s[s0].std_formula, &fo))) goto cleanup;
        meas ms;
        memset(&ms, 0, sizeof ms);
        ms.current_na = CURRENT_NA * (1.0 + gsl_ran_gaussian(r, 0.002));
        for (int s = 0; s < m->nspec; s++) {
            if (strcmp(m->s[s].std, m->s[s0].std)) continue;
            ms.idx[ms.ns] = s;
            /* k of the standard against the pure element */
            double kstd = kr_epma_ctx_std_factor(ctx, s);
            draw_counts(r, &m->s[s], kstd * m->s[s].pure_cps_na * ms.current_na, ms.current_na, ms.counts[ms.ns]);
            ms.ns++;
        }
        char dir[1024], date[48];
        snprintf(date, sizeof date, "2024/05/09 %02d:%02d:00", 14 + ndone / 4, (ndone * 11) % 60);
        snprintf(dir, sizeof dir, "%s/exports/beads_STD/Pos_%04d", out, ndone);
        if ((rc = mkdirs(dir))) goto cleanup;
        snprintf(path, sizeof path, "%s/data001.cnd", dir);
        FILE *f = fopen(path, "wb");
        if (!f) {
            rc = kr_err(KR_EIO, "%s: %s", path, strerror(errno));
            goto cleanup;
        }
        write_cnd(f, m, &ms, m->s[s0].std, 5.0 + ndone, 5.0, 11.0, date);
        fclose(f);
        snprintf(path, sizeof path, "%s/data001.std", dir);
        f = fopen(path, "wb");
        if (!f) {
            rc = kr_err(KR_EIO, "%s: %s", path, strerror(errno));
            goto cleanup;
        }
        kv(f, "$SEM_DATA_VERSION 1");
        kv(f, "$XM_DATA_SAVE_DATE %s", date);
        kv(f, "$XM_CMP_STD_SAMPLE_NAME%%0 %s", m->s[s0].std);
        kv(f, "$XM_CMP_STD_FORMULA%%0 %s", m->s[s0].std_formula);
        for (int i = 0; i < fo.n; i++)
            kv(f, "$XM_CMP_COMPOSITION%%0_%d %s %.4f", i + 1, kr_atomic_symbol(at, fo.z[i]), 100.0 * fo.mass_frac[i]);
        rc = write_qnt_data(f, m, &ms, at, 0);
        fclose(f);
        if (rc) goto cleanup;
        if (gen) {
            char comp[256];
            size_t o = 0;
            comp[0] = '\0';
            for (int i = 0; i < fo.n; i++)
                o += (size_t)snprintf(comp + o, sizeof comp - o, "%s%s=%.4f", i ? " " : "", kr_atomic_symbol(at, fo.z[i]),
                                      100.0 * fo.mass_frac[i]);
            for (int c = 0; c < ms.ns; c++) {
                const spec *sp = &m->s[ms.idx[c]];
                fprintf(gen, "standard,STD_%04d,%s,%s,%s,%s,%s,%s,%.1f,%.4f,%.0f,%.0f,%.0f,%.3f,%.3f,%.3f,%.3f,%.3f\n",
                        ndone, sp->std, sp->std, comp, sp->el, sp->line, sp->crystal, KV, ms.current_na, ms.counts[c][0],
                        ms.counts[c][1], ms.counts[c][2], sp->tp, sp->tb, sp->offm, sp->offp, sp->tau_us);
            }
        }
    }
cleanup:
    if (truth) fclose(truth);
    if (gen) fclose(gen);
    kr_epma_ctx_free(ctx);
    gsl_rng_free(r);
    free(at);
    free(m);
    return rc;
}

int main(int argc, char **argv)
{
    const char *setup = NULL, *beads = NULL, *out = NULL;
    unsigned long seed = 3;
    int csv = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--setup") && i + 1 < argc) setup = argv[++i];
        else if (!strcmp(argv[i], "--beads") && i + 1 < argc) beads = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc) seed = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--csv")) csv = 1;
        else {
            fprintf(stderr, "usage: synth_epma --setup spectrometers.csv --beads beads.csv --out DIR [--seed N] [--csv]\n");
            return 2;
        }
    }
    if (!setup || !beads || !out) {
        fprintf(stderr, "usage: synth_epma --setup spectrometers.csv --beads beads.csv --out DIR [--seed N] [--csv]\n");
        return 2;
    }
    kr_err_install_handlers();
    int rc = run(setup, beads, out, seed, csv);
    if (rc) kr_err_print(stderr);
    return rc ? 1 : 0;
}
