/* Quantitative maps: per-pixel counts -> k -> kr_epma_solve, split over threads (DOMAIN.md §2.4). */
#include "map_quant.h"

#include "error.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Per-element constants, computed once per map. */
typedef struct {
    int measured;
    double inv_t_s;      /* 1 / dwell (s) */
    double inv_tb_s;     /* 1 / off-peak dwell (s) */
    double inv_i_na;     /* 1 / beam current (nA) */
    double wm, wp;       /* off-peak weights: w- = d+/(d- + d+), w+ = d-/(d- + d+) */
    double inv_std;      /* 1 / standard net intensity (cps/nA) */
} elem_const;

typedef struct {
    int n;
    elem_const e[KR_EPMA_MAX_EL];
} map_const;

static int make_consts(const kr_mapq_in *in, map_const *mc)
{
    const kr_epma_setup *s = kr_epma_ctx_setup(in->ctx);
    memset(mc, 0, sizeof *mc);
    mc->n = s->n;
    if (!(in->dwell_ms > 0)) return kr_err(KR_EINPUT, "map dwell time %g ms: must be > 0", in->dwell_ms);
    if (!(in->current_na > 0)) return kr_err(KR_EINPUT, "map beam current %g nA: must be > 0", in->current_na);
    for (int i = 0; i < s->n; i++) {
        if (s->el[i].role != KR_EPMA_MEASURED) continue;
        const kr_mapq_elem *m = &in->el[i];
        elem_const *c = &mc->e[i];
        const char *sym = "?";
        char buf[8];
        snprintf(buf, sizeof buf, "Z=%d", s->el[i].z);
        sym = buf;
        if (!m->counts && !m->counts_u16) return kr_err(KR_EINPUT, "mapped element %s has no count map", sym);
        if (!(m->std_cps_na > 0))
            return kr_err(KR_EINPUT, "mapped element %s: standard intensity %g cps/nA must be > 0", sym, m->std_cps_na);
        c->measured = 1;
        c->inv_t_s = 1000.0 / in->dwell_ms;
        c->inv_i_na = 1.0 / in->current_na;
        c->inv_std = 1.0 / m->std_cps_na;
        if (m->bg == KR_MAPBG_MAPS) {
            double dm = m->off_minus_mm, dp = m->off_plus_mm;
            if ((!m->bg_minus && !m->bg_minus_u16) || (!m->bg_plus && !m->bg_plus_u16))
                return kr_err(KR_EINPUT, "mapped element %s: background from maps needs both off-peak maps", sym);
            if (!(dm >= 0 && dp >= 0 && dm + dp > 0))
                return kr_err(KR_EINPUT, "mapped element %s: background offsets %g, %g mm must be >= 0 with a positive sum",
                              sym, dm, dp);
            double tb = isfinite(m->bg_dwell_ms) && m->bg_dwell_ms > 0 ? m->bg_dwell_ms : in->dwell_ms;
            c->inv_tb_s = 1000.0 / tb;
            /* linear interpolation in spectrometer position: B = (B- d+ + B+ d-)/(d- + d+) (DOMAIN.md §2.2 step 3) */
            c->wm = dp / (dm + dp);
            c->wp = dm / (dm + dp);
        } else if (!isfinite(m->bg_cps_na)) {
            return kr_err(KR_EINPUT, "mapped element %s: no background (constant, maps or calibration)", sym);
        }
    }
    return KR_OK;
}

/* Dead-time corrected rate and d(rate)/d(counts) for the sigma (non-paralyzable: d r/d r' = 1/(1-tau r')^2;
 * log form: d r/d r' = (1 + ln(1-x) + x/(1-x)) / (1 + ln(1-x))^2 with x = tau r'). */
static int rate_dt(double counts, double inv_t, double tau_us, kr_deadtime_form form, double *r, double *drdn)
{
    double rp = counts * inv_t;
    if (tau_us <= 0) {
        *r = rp;
        *drdn = inv_t;
        return KR_OK;
    }
    int rc = kr_deadtime_correct(rp, tau_us, form, "map pixel", r);
    if (rc) return rc;
    double x = tau_us * 1e-6 * rp;
    if (form == KR_DT_LOG) {
        double d = 1.0 + log1p(-x);
        /* derivative of r'/(1 + ln(1 - tau r')) (Donovan et al. 2023, logarithmic dead time) */
        *drdn = inv_t * (d + x / (1.0 - x)) / (d * d);
    } else {
        /* derivative of r'/(1 - tau r') (non-paralyzable dead time) */
        *drdn = inv_t / ((1.0 - x) * (1.0 - x));
    }
    return KR_OK;
}

/* value of a map held as float or as exact 16-bit counts */
static inline double plane_at(const float *f32, const uint16_t *u16, size_t p) { return u16 ? u16[p] : f32[p]; }

static int pixel_k(const kr_mapq_in *in, const elem_const *c, int i, size_t p, double *net, double *sig, double *k)
{
    const kr_mapq_elem *m = &in->el[i];
    double n = plane_at(m->counts, m->counts_u16, p), r, d;
    int rc = rate_dt(n, c->inv_t_s, m->dead_time_us, m->dt_form, &r, &d);
    if (rc) return rc;
    double var = (n > 0 ? n : 0) * d * d; /* Poisson: var(N) = N */
    double bg;
    if (m->bg == KR_MAPBG_MAPS) {
        double nm = plane_at(m->bg_minus, m->bg_minus_u16, p), np = plane_at(m->bg_plus, m->bg_plus_u16, p), rm, rpl,
               dm, dp;
        if ((rc = rate_dt(nm, c->inv_tb_s, m->dead_time_us, m->dt_form, &rm, &dm))) return rc;
        if ((rc = rate_dt(np, c->inv_tb_s, m->dead_time_us, m->dt_form, &rpl, &dp))) return rc;
        bg = (c->wm * rm + c->wp * rpl) * c->inv_i_na;
        /* sigma_net^2 = P/t_p + w-^2 B-/t_b + w+^2 B+/t_b (DOMAIN.md §2.2 step 4) */
        var += c->wm * c->wm * (nm > 0 ? nm : 0) * dm * dm + c->wp * c->wp * (np > 0 ? np : 0) * dp * dp;
    } else {
        bg = m->bg_cps_na;
    }
    *net = r * c->inv_i_na - bg;
    *sig = sqrt(var) * c->inv_i_na;
    /* k = (N_unk/I_unk)/(N_std/I_std) (DOMAIN.md §2.2 step 6) */
    *k = *net * c->inv_std;
    return KR_OK;
}

int kr_mapq_pixel_k(const kr_mapq_in *in, int i, size_t p, double *net_cps_na, double *sigma_cps_na, double *k)
{
    map_const mc;
    int rc = make_consts(in, &mc);
    if (rc) return rc;
    if (i < 0 || i >= mc.n || !mc.e[i].measured) return kr_err(KR_EINPUT, "element %d is not a mapped element", i);
    return pixel_k(in, &mc.e[i], i, p, net_cps_na, sigma_cps_na, k);
}

/* Sensitivity of the composition to the k-ratios at a converged reference pixel, by forward differences
 * of the same solver (kr_epma_solve, warm-started at the solution): jac[i][j] = dC_i/dk_j for measured
 * i, j; rho_i = J_ii relative to the first-order value s_i/(z a f) at that pixel. It is recomputed every
 * SENS_EVERY pixels and whenever the composition has moved away from the reference (a phase boundary). */
typedef struct {
    int valid;
    double rho[KR_EPMA_MAX_EL];
    double jac[KR_EPMA_MAX_EL][KR_EPMA_MAX_EL];
    double c_ref[KR_EPMA_MAX_EL];
} sensitivity;

/* Sum of |C - C_ref| over the measured elements (mass fraction) above which the reference is too far. */
#define SENS_MAX_MOVE 0.10

static void compute_sensitivity(const kr_epma_ctx *ctx, const map_const *mc, const double *k,
                                const kr_epma_result *res, kr_epma_work *w, sensitivity *sv)
{
    const kr_epma_setup *s = kr_epma_ctx_setup(ctx);
    double kk[KR_EPMA_MAX_EL];
    kr_epma_result r2;
    memcpy(kk, k, sizeof kk);
    sv->valid = 0;
    for (int j = 0; j < s->n; j++) {
        if (!mc->e[j].measured) continue;
        double h = 1e-3 * (fabs(k[j]) > 1e-3 ? fabs(k[j]) : 1e-3);
        kk[j] = k[j] + h;
        int rc = kr_epma_solve(ctx, kk, res->mass_frac, w, &r2);
        kk[j] = k[j];
        if (rc) {
            kr_err_clear();
            return; /* keep the previous sensitivity (or the first-order one) */
        }
        for (int i = 0; i < s->n; i++) {
            if (!mc->e[i].measured) continue;
            double jij = (r2.mass_frac[i] - res->mass_frac[i]) / h;
            sv->jac[i][j] = jij;
            if (i == j) {
                double first = kr_epma_ctx_std_factor(ctx, i) / (res->z[i] * res->a[i] * res->f[i]);
                sv->rho[i] = isfinite(jij / first) ? jij / first : 1.0;
            }
        }
    }
    memcpy(sv->c_ref, res->mass_frac, sizeof sv->c_ref);
    sv->valid = 1;
}

/* Pixels between updates of the sensitivity along a band's path. */
#define SENS_EVERY 64

static void set_nan(const kr_epma_setup *s, kr_mapq_band *b, size_t q)
{
    for (int i = 0; i < s->n; i++) {
        if (b->mass_pct[i]) b->mass_pct[i][q] = NAN;
        if (b->sigma_pct[i]) b->sigma_pct[i][q] = NAN;
    }
    if (b->iterations) b->iterations[q] = 0;
}

/* sigma_C_i^2 = sum_j (dC_i/dk_j sigma_k_j)^2 (first-order propagation, counting errors independent
 * between elements); dC_i/dk_i = rho_i s_i/(z a f) at this pixel's matrix (k_pure = C z a f, k_pure =
 * k_std s_i; matrix.h), dC_i/dk_j (j != i) from the reference */
static double pixel_sigma(const kr_epma_ctx *ctx, const map_const *mc, const sensitivity *sv, const kr_epma_result *res,
                          const double *sig_k, int i)
{
    const kr_epma_setup *s = kr_epma_ctx_setup(ctx);
    double first = kr_epma_ctx_std_factor(ctx, i) / (res->z[i] * res->a[i] * res->f[i]);
    double jii = first * (sv->valid ? sv->rho[i] : 1.0);
    double var = jii * jii * sig_k[i] * sig_k[i];
    for (int m = 0; m < s->n && sv->valid; m++) {
        if (m == i || !mc->e[m].measured) continue;
        var += sv->jac[i][m] * sv->jac[i][m] * sig_k[m] * sig_k[m];
    }
    return sqrt(var);
}

/* Quantify the rows of band b (serpentine path, each pixel warm-started from its neighbour). */
static int quant_band(const kr_mapq_in *in, const map_const *mc, kr_mapq_band *b)
{
    const kr_epma_setup *s = kr_epma_ctx_setup(in->ctx);
    kr_epma_work w; /* this thread's workspace */
    kr_epma_result res;
    double k[KR_EPMA_MAX_EL], sig_k[KR_EPMA_MAX_EL], prev[KR_EPMA_MAX_EL], prev_k[KR_EPMA_MAX_EL],
        start[KR_EPMA_MAX_EL];
    int have_prev = 0;
    size_t nx = in->nx, since_sens = SENS_EVERY;
    sensitivity sv;
    memset(&sv, 0, sizeof sv);
    b->n_failed = b->n_outside = b->n_ok = 0;
    b->iter_sum = 0;
    for (int i = 0; i < s->n; i++) k[i] = sig_k[i] = NAN;
    for (size_t r = 0; r < b->nrows; r++) {
        size_t row = b->row0 + r;
        int fwd = (r & 1) == 0; /* serpentine: each pixel follows its neighbour */
        for (size_t j = 0; j < nx; j++) {
            size_t x = fwd ? j : nx - 1 - j, p = row * nx + x, q = r * nx + x;
            for (int i = 0; i < s->n; i++) {
                if (!mc->e[i].measured) continue;
                double net, sig;
                int rc = pixel_k(in, &mc->e[i], i, p, &net, &sig, &k[i]);
                if (rc) return kr_err(rc, "pixel x %zu, y %zu, element Z=%d", x, row, s->el[i].z);
                sig_k[i] = sig * mc->e[i].inv_std;
            }
            if (in->min_total_frac > 0) {
                double first_total;
                int rc = kr_epma_first_order_total(in->ctx, k, &first_total);
                if (rc) return kr_err(rc, "pixel x %zu, y %zu", x, row);
                if (!(first_total >= in->min_total_frac)) { /* epoxy, hole: nothing of the analysed material */
                    b->n_outside++;
                    set_nan(s, b, q);
                    continue;
                }
            }
            /* warm start from the neighbour's solution, moved to this pixel's k-ratios by a first-order step
             * with the sensitivity dC/dk of the same solver (C = C_prev + J (k - k_prev)); without a
             * sensitivity yet, the neighbour's correction factors applied to this pixel's k */
            if (have_prev)
                for (int i = 0; i < s->n; i++) {
                    start[i] = prev[i];
                    if (!mc->e[i].measured) continue;
                    if (sv.valid) {
                        for (int m = 0; m < s->n; m++)
                            if (mc->e[m].measured) start[i] += sv.jac[i][m] * (k[m] - prev_k[m]);
                    } else if (prev_k[i] > 0 && k[i] > 0) {
                        start[i] = prev[i] * (k[i] / prev_k[i]);
                    }
                }
            int rc = have_prev && sv.valid
                         ? kr_epma_solve_jac(in->ctx, k, start, (const double(*)[KR_EPMA_MAX_EL])sv.jac, &w, &res)
                         : kr_epma_solve(in->ctx, k, have_prev ? start : NULL, &w, &res);
            if (rc) {
                kr_err_clear(); /* a pixel that does not converge is NaN, counted, not fatal */
                b->n_failed++;
                set_nan(s, b, q);
                continue;
            }
            b->iter_sum += res.iterations;
            b->n_ok++;
            if (b->iterations) b->iterations[q] = (unsigned char)(res.iterations < 255 ? res.iterations : 255);
            for (int i = 0; i < s->n; i++)
                if (b->mass_pct[i]) b->mass_pct[i][q] = (float)(100.0 * res.mass_frac[i]);
            double move = 0;
            for (int i = 0; i < s->n && sv.valid; i++)
                if (mc->e[i].measured) move += fabs(res.mass_frac[i] - sv.c_ref[i]);
            if (++since_sens >= SENS_EVERY || !sv.valid || move > SENS_MAX_MOVE) {
                compute_sensitivity(in->ctx, mc, k, &res, &w, &sv);
                since_sens = 0;
            }
            for (int i = 0; i < s->n; i++) {
                if (b->sigma_pct[i]) b->sigma_pct[i][q] = (float)(100.0 * pixel_sigma(in->ctx, mc, &sv, &res, sig_k, i));
                prev[i] = res.mass_frac[i];
                prev_k[i] = k[i];
            }
            have_prev = 1;
        }
    }
    return KR_OK;
}

size_t kr_mapq_nbands(size_t ny, size_t band_rows) { return band_rows ? (ny + band_rows - 1) / band_rows : 0; }

/* The shared state of a streamed run: bands are handed out in order; the calling thread commits them
 * in order; a thread waits when it is `ahead` bands beyond the last commit. */
typedef struct {
    const kr_mapq_in *in;
    const map_const *mc;
    const kr_mapq_sink *sink;
    size_t band_rows, nbands, ahead;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t next_band, next_commit;
    unsigned char *ready; /* per band: computed and handed to the sink */
    int rc;               /* first failure (stops everybody) */
    char err[512];
    size_t n_failed, n_outside, n_ok;
    double iter_sum;
} stream_state;

typedef struct {
    stream_state *st;
    int thread;
    kr_mapq_band band; /* this thread's band buffers */
} stream_worker;

static void stream_fail(stream_state *st, int rc)
{
    if (!st->rc) {
        st->rc = rc;
        kr_err_format(st->err, sizeof st->err);
    }
    kr_err_clear();
    pthread_cond_broadcast(&st->cv);
}

static void *stream_loop(void *arg)
{
    stream_worker *wk = arg;
    stream_state *st = wk->st;
    const int committer = wk->thread == 0;
    pthread_mutex_lock(&st->mu);
    while (!st->rc) {
        if (committer && st->next_commit < st->nbands && st->ready[st->next_commit]) {
            size_t b = st->next_commit;
            pthread_mutex_unlock(&st->mu);
            int rc = st->sink->commit ? st->sink->commit(st->sink->user, b) : KR_OK;
            pthread_mutex_lock(&st->mu);
            if (rc) stream_fail(st, rc);
            st->next_commit++;
            pthread_cond_broadcast(&st->cv);
            continue;
        }
        if (st->next_band < st->nbands && st->next_band < st->next_commit + st->ahead) {
            kr_mapq_band *bd = &wk->band;
            bd->index = st->next_band++;
            bd->row0 = bd->index * st->band_rows;
            bd->nrows = st->in->ny - bd->row0 < st->band_rows ? st->in->ny - bd->row0 : st->band_rows;
            pthread_mutex_unlock(&st->mu);
            int rc = quant_band(st->in, st->mc, bd);
            if (!rc && st->sink->done) rc = st->sink->done(st->sink->user, bd, wk->thread);
            if (rc) kr_err(rc, "map rows %zu-%zu", bd->row0, bd->row0 + bd->nrows - 1);
            pthread_mutex_lock(&st->mu);
            if (rc) {
                stream_fail(st, rc);
                break;
            }
            st->ready[bd->index] = 1;
            st->n_failed += bd->n_failed;
            st->n_outside += bd->n_outside;
            st->n_ok += bd->n_ok;
            st->iter_sum += bd->iter_sum;
            pthread_cond_broadcast(&st->cv);
            continue;
        }
        if (st->next_band >= st->nbands && (!committer || st->next_commit >= st->nbands)) break;
        pthread_cond_wait(&st->cv, &st->mu);
    }
    pthread_mutex_unlock(&st->mu);
    return NULL;
}

static void band_free(kr_mapq_band *b)
{
    for (int i = 0; i < KR_EPMA_MAX_EL; i++) {
        free(b->mass_pct[i]);
        free(b->sigma_pct[i]);
    }
    free(b->iterations);
    memset(b, 0, sizeof *b);
}

static int band_alloc(const kr_mapq_in *in, size_t band_rows, kr_mapq_band *b)
{
    const kr_epma_setup *s = kr_epma_ctx_setup(in->ctx);
    size_t n = band_rows * in->nx;
    memset(b, 0, sizeof *b);
    b->nx = in->nx;
    for (int i = 0; i < s->n; i++) {
        kr_epma_role r = s->el[i].role;
        if (r == KR_EPMA_FIXED) continue;
        if (!(b->mass_pct[i] = malloc(sizeof(float) * n))) return kr_err(KR_ENOMEM, "out of memory");
        if (r == KR_EPMA_MEASURED && !(b->sigma_pct[i] = malloc(sizeof(float) * n)))
            return kr_err(KR_ENOMEM, "out of memory");
    }
    if (in->want_iterations && !(b->iterations = malloc(n))) return kr_err(KR_ENOMEM, "out of memory");
    return KR_OK;
}

int kr_mapq_stream(const kr_mapq_in *in, size_t band_rows, const kr_mapq_sink *sink, kr_mapq_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    map_const mc;
    int rc = make_consts(in, &mc);
    if (rc) return rc;
    if (in->nx == 0 || in->ny == 0) return kr_err(KR_EINPUT, "map has no pixels");
    if (band_rows == 0) return kr_err(KR_EINPUT, "map bands of 0 rows");
    int nt = in->nthreads < 1 ? 1 : in->nthreads > 16 ? 16 : in->nthreads;
    stream_state st;
    memset(&st, 0, sizeof st);
    st.in = in;
    st.mc = &mc;
    st.sink = sink;
    st.band_rows = band_rows;
    st.nbands = kr_mapq_nbands(in->ny, band_rows);
    st.ahead = sink->ahead ? sink->ahead : (size_t)nt + 1;
    if ((size_t)nt > st.nbands) nt = (int)st.nbands;
    stream_worker wk[16];
    pthread_t th[16];
    int started[16] = {0};
    memset(wk, 0, sizeof wk);
    if (!(st.ready = calloc(st.nbands, 1))) return kr_err(KR_ENOMEM, "out of memory");
    for (int t = 0; t < nt && !rc; t++) {
        wk[t].st = &st;
        wk[t].thread = t;
        rc = band_alloc(in, band_rows, &wk[t].band);
    }
    if (rc) goto cleanup;
    pthread_mutex_init(&st.mu, NULL);
    pthread_cond_init(&st.cv, NULL);
    for (int t = 1; t < nt; t++) started[t] = pthread_create(&th[t], NULL, stream_loop, &wk[t]) == 0;
    stream_loop(&wk[0]); /* the calling thread computes and commits; a thread that did not start is not needed */
    for (int t = 1; t < nt; t++)
        if (started[t]) pthread_join(th[t], NULL);
    pthread_cond_destroy(&st.cv);
    pthread_mutex_destroy(&st.mu);
    if (st.rc) {
        rc = kr_err(st.rc, "%s", st.err);
        goto cleanup;
    }
    stats->n_failed = st.n_failed;
    stats->n_outside = st.n_outside;
    stats->mean_iterations = st.n_ok ? st.iter_sum / (double)st.n_ok : NAN;
cleanup:
    for (int t = 0; t < 16; t++) band_free(&wk[t].band);
    free(st.ready);
    return rc;
}

/* kr_mapq_run: the streamed bands copied into whole-map arrays. */
static int copy_band(void *user, const kr_mapq_band *b, int thread)
{
    kr_mapq_out *out = user;
    size_t off = b->row0 * b->nx, n = b->nrows * b->nx;
    (void)thread;
    for (int i = 0; i < out->n; i++) {
        if (out->mass_pct[i]) memcpy(out->mass_pct[i] + off, b->mass_pct[i], sizeof(float) * n);
        if (out->sigma_pct[i]) memcpy(out->sigma_pct[i] + off, b->sigma_pct[i], sizeof(float) * n);
    }
    if (out->iterations) memcpy(out->iterations + off, b->iterations, n);
    return KR_OK;
}

/* Rows per band of kr_mapq_run (whole-map arrays: any size works; this keeps warm starts long). */
#define RUN_BAND_ROWS 32

void kr_mapq_out_free(kr_mapq_out *out)
{
    if (!out) return;
    for (int i = 0; i < KR_EPMA_MAX_EL; i++) {
        free(out->mass_pct[i]);
        free(out->sigma_pct[i]);
        out->mass_pct[i] = out->sigma_pct[i] = NULL;
    }
    free(out->iterations);
    out->iterations = NULL;
}

int kr_mapq_run(const kr_mapq_in *in, kr_mapq_out *out)
{
    memset(out, 0, sizeof *out);
    const kr_epma_setup *s = kr_epma_ctx_setup(in->ctx);
    size_t npx = in->nx * in->ny;
    out->nx = in->nx;
    out->ny = in->ny;
    out->n = s->n;
    if (npx == 0) return kr_err(KR_EINPUT, "map has no pixels");
    for (int i = 0; i < s->n; i++) {
        kr_epma_role r = s->el[i].role;
        if (r == KR_EPMA_FIXED) continue;
        if (!(out->mass_pct[i] = malloc(sizeof(float) * npx))) goto nomem;
        if (r == KR_EPMA_MEASURED && !(out->sigma_pct[i] = malloc(sizeof(float) * npx))) goto nomem;
    }
    if (in->want_iterations && !(out->iterations = malloc(npx))) goto nomem;
    kr_mapq_sink sink = {out, copy_band, NULL, 0};
    kr_mapq_stats st;
    int rc = kr_mapq_stream(in, RUN_BAND_ROWS, &sink, &st);
    out->n_failed = st.n_failed;
    out->n_outside = st.n_outside;
    out->mean_iterations = st.mean_iterations;
    return rc;
nomem:
    return kr_err(KR_ENOMEM, "out of memory for a %zu x %zu map", in->nx, in->ny);
}

int kr_mapq_calibrate(kr_mapq_in *in, int i, const kr_map_spot *spots, size_t nspots, int fit_slope,
                      double *sigma_bg_cps_na)
{
    const kr_epma_setup *s = kr_epma_ctx_setup(in->ctx);
    if (i < 0 || i >= s->n || s->el[i].role != KR_EPMA_MEASURED)
        return kr_err(KR_EINPUT, "calibration: element %d is not a mapped element", i);
    kr_mapq_elem *m = &in->el[i];
    if (!m->counts && !m->counts_u16) return kr_err(KR_EINPUT, "calibration: element %d has no count map", i);
    if (nspots < (size_t)(fit_slope ? 2 : 1))
        return kr_err(KR_EINPUT, "calibration line of element Z=%d needs at least %d spot analyses inside the map, found %zu",
                      s->el[i].z, fit_slope ? 2 : 1, nspots);
    if (!fit_slope && !(m->std_cps_na > 0))
        return kr_err(KR_EINPUT, "calibration with a fixed slope needs the standard intensity (std_cps_na)");
    kr_epma_work w;
    double sx = 0, sy = 0, sxx = 0, sxy = 0, syy = 0;
    double *xs = malloc(sizeof(double) * nspots * 2);
    if (!xs) return kr_err(KR_ENOMEM, "out of memory");
    double *ys = xs + nspots;
    int rc = KR_OK;
    for (size_t q = 0; q < nspots; q++) {
        const kr_map_spot *sp = &spots[q];
        if (!(sp->x_px >= -0.5 && sp->y_px >= -0.5 && sp->x_px < (double)in->nx - 0.5 && sp->y_px < (double)in->ny - 0.5)) {
            rc = kr_err(KR_EINPUT, "calibration spot %zu at pixel (%g, %g) lies outside the %zu x %zu map", q + 1,
                        sp->x_px, sp->y_px, in->nx, in->ny);
            goto cleanup;
        }
        double kstd[KR_EPMA_MAX_EL];
        if ((rc = kr_epma_forward(in->ctx, sp->mass_frac, &w, NULL, kstd))) {
            kr_err(rc, "calibration spot %zu: forward model", q + 1);
            goto cleanup;
        }
        /* mean dead-time corrected rate (cps/nA) of the pixels within radius_px */
        double rad = sp->radius_px > 0 ? sp->radius_px : 0;
        long x0 = (long)floor(sp->x_px - rad + 0.5), x1 = (long)floor(sp->x_px + rad + 0.5);
        long y0 = (long)floor(sp->y_px - rad + 0.5), y1 = (long)floor(sp->y_px + rad + 0.5);
        double sum = 0;
        long cnt = 0;
        for (long y = y0; y <= y1; y++)
            for (long x = x0; x <= x1; x++) {
                if (x < 0 || y < 0 || x >= (long)in->nx || y >= (long)in->ny) continue;
                if (rad > 0 && (x - sp->x_px) * (x - sp->x_px) + (y - sp->y_px) * (y - sp->y_px) > rad * rad + 1e-9) continue;
                double r, d;
                if ((rc = rate_dt(plane_at(m->counts, m->counts_u16, (size_t)y * in->nx + (size_t)x), 1000.0 / in->dwell_ms, m->dead_time_us,
                                  m->dt_form, &r, &d))) {
                    kr_err(rc, "calibration spot %zu", q + 1);
                    goto cleanup;
                }
                sum += r / in->current_na;
                cnt++;
            }
        if (cnt == 0) {
            rc = kr_err(KR_EINPUT, "calibration spot %zu: no pixel within %g px of (%g, %g)", q + 1, rad, sp->x_px, sp->y_px);
            goto cleanup;
        }
        xs[q] = kstd[i];
        ys[q] = sum / (double)cnt;
        sx += xs[q];
        sy += ys[q];
        sxx += xs[q] * xs[q];
        sxy += xs[q] * ys[q];
        syy += ys[q] * ys[q];
    }
    double nq = (double)nspots, B, S, sb = NAN;
    if (fit_slope) {
        double det = nq * sxx - sx * sx;
        if (!(det > 1e-12 * nq * sxx)) {
            rc = kr_err(KR_EINPUT, "calibration line: the spots' k-ratios do not differ enough to fit a slope");
            goto cleanup;
        }
        /* ordinary least squares y = B + S x (e.g. Press et al. 2007, Numerical Recipes §15.2, eq. 15.2.6) */
        S = (nq * sxy - sx * sy) / det;
        B = (sy - S * sx) / nq;
        if (nspots > 2) {
            double ss = 0;
            for (size_t q = 0; q < nspots; q++) ss += (ys[q] - B - S * xs[q]) * (ys[q] - B - S * xs[q]);
            sb = sqrt(ss / (nq - 2) * sxx / det); /* Numerical Recipes eq. 15.2.9 */
        }
        if (!(S > 0)) {
            rc = kr_err(KR_EINPUT, "calibration line: fitted standard intensity %g cps/nA is not positive", S);
            goto cleanup;
        }
    } else {
        S = m->std_cps_na;
        double ss = 0;
        for (size_t q = 0; q < nspots; q++) ss += ys[q] - S * xs[q];
        B = ss / nq;
        if (nspots > 1) {
            double v = 0;
            for (size_t q = 0; q < nspots; q++) v += (ys[q] - S * xs[q] - B) * (ys[q] - S * xs[q] - B);
            sb = sqrt(v / (nq - 1) / nq);
        }
    }
    (void)syy;
    m->bg = KR_MAPBG_CALIB;
    m->bg_cps_na = B;
    m->std_cps_na = S;
    if (sigma_bg_cps_na) *sigma_bg_cps_na = sb;
cleanup:
    free(xs);
    return rc;
}
