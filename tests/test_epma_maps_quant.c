/* Quantitative maps: per-pixel arithmetic, agreement with the point solver, counting statistics.
 * Truths: hand arithmetic of DOMAIN.md §2.2 for one pixel; the point solver (kr_epma_solve, validated
 * on Pouchou & Pichoir's k-ratio database in the matrix suite) for the same k-ratios; Poisson
 * statistics (var N = N) for the pixel scatter. Synthetic counts come from the matrix engineer's
 * forward model (kr_epma_forward) plus Poisson sampling (GSL). */
#include "kr_test.h"

#include "error.h"
#include "map_quant.h"
#include "map_stats.h"
#include "map_synth.h"
#include "png_map.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <png.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>

/* A high-Ti lunar glass (oxide wt%), in the spirit of Apollo/Chang'e-5 picritic glasses. */
typedef struct {
    const char *sym, *std, *oxide;
    int mapped;
    double oxide_wt, std_cps_na, bg_cps_na;
} comp_row;
static const comp_row GLASS[] = {
    {"Si", "SiO2", "SiO2", 1, 41.0, 180.0, 0.50}, {"Ti", "TiO2", "TiO2", 1, 5.0, 420.0, 0.40},
    {"Fe", "Fe", "FeO", 1, 22.0, 260.0, 0.60},    {"Mg", "MgO", "MgO", 1, 9.0, 210.0, 0.45},
    {"Ca", "CaSiO3", "CaO", 1, 11.0, 230.0, 0.35}, {"Al", "", "Al2O3", 0, 11.0, 0, 0},
    {"Na", "", "Na2O", 0, 0.4, 0, 0},             {"K", "", "K2O", 0, 0.1, 0, 0},
};
#define NGLASS (sizeof GLASS / sizeof GLASS[0])

typedef struct {
    kr_atomic at;
    kr_epma_setup s;
    kr_epma_ctx *ctx;
    double c[KR_EPMA_MAX_EL]; /* true mass fractions */
    kr_map_synth_elem se[KR_EPMA_MAX_EL];
} fixture;

static double oxide_to_element(const kr_atomic *at, const char *oxide, double wt)
{
    int z, n, m;
    CU_ASSERT_EQUAL_FATAL(kr_oxide_parse(at, oxide, &z, &n, &m), 0);
    return wt * n * at->weight[z] / (n * at->weight[z] + m * at->weight[8]) / 100.0;
}

/* mapped: how many of GLASS's mapped rows are mapped (the rest fixed) */
static int fixture_init(fixture *f, int only_ti)
{
    memset(f, 0, sizeof *f);
    if (kr_atomic_load(&f->at) != KR_OK) return -1;
    kr_epma_setup_init(&f->s);
    double o = 0;
    for (size_t r = 0; r < NGLASS; r++) {
        const comp_row *g = &GLASS[r];
        int mapped = g->mapped && (!only_ti || !strcmp(g->sym, "Ti"));
        int i = kr_epma_setup_add(&f->s, &f->at, g->sym, mapped ? KR_EPMA_MEASURED : KR_EPMA_FIXED, KR_LINE_KA, 15.0,
                                  40.0, mapped ? g->std : NULL);
        if (i < 0) return -1;
        if (kr_epma_setup_set_oxide(&f->s, &f->at, i, g->oxide)) return -1;
        f->c[i] = oxide_to_element(&f->at, g->oxide, g->oxide_wt);
        o += g->oxide_wt / 100.0 - f->c[i];
        if (!mapped) f->s.el[i].fixed_mass_frac = f->c[i];
        f->se[i] = (kr_map_synth_elem){g->std_cps_na, g->bg_cps_na, 1.1};
    }
    int io = kr_epma_setup_add(&f->s, &f->at, "O", KR_EPMA_STOICH_O, KR_LINE_KA, 15.0, 40.0, NULL);
    if (io < 0) return -1;
    f->c[io] = o;
    return kr_epma_ctx_new(&f->s, &f->at, &f->ctx);
}

static int find_el(const fixture *f, const char *sym)
{
    int z = kr_atomic_z(&f->at, sym);
    for (int i = 0; i < f->s.n; i++)
        if (f->s.el[i].z == z) return i;
    return -1;
}

/* One pixel by hand (DOMAIN.md §2.2): N = 1000 counts in 60 ms at 100 nA, tau 1.1 µs, bg 0.4 cps/nA,
 * standard 420 cps/nA. r' = 1000/0.06; r = r'/(1 - tau r'); net = r/100 - 0.4; k = net/420. */
static void test_pixel_arithmetic(void)
{
    fixture f;
    CU_ASSERT_EQUAL_FATAL(fixture_init(&f, 1), KR_OK);
    int ti = find_el(&f, "Ti");
    float counts[1] = {1000.0f};
    kr_mapq_in in;
    memset(&in, 0, sizeof in);
    in.nx = in.ny = 1;
    in.dwell_ms = 60.0;
    in.current_na = 100.0;
    in.ctx = f.ctx;
    in.nthreads = 1;
    in.el[ti] = (kr_mapq_elem){counts, 1.1, KR_DT_NONPARALYZABLE, KR_MAPBG_CONST, 0.4, NULL, NULL, NAN, NAN, NAN, 420.0, NULL, NULL, NULL};
    double net, sig, k;
    CU_ASSERT_EQUAL_FATAL(kr_mapq_pixel_k(&in, ti, 0, &net, &sig, &k), KR_OK);
    double rp = 1000.0 / 0.06, r = rp / (1.0 - 1.1e-6 * rp);
    CU_ASSERT_DOUBLE_EQUAL(net, r / 100.0 - 0.4, 1e-9);
    CU_ASSERT_DOUBLE_EQUAL(k, (r / 100.0 - 0.4) / 420.0, 1e-12);
    /* sigma: sqrt(N)/t scaled by dr/dr' = 1/(1 - tau r')^2, per nA */
    CU_ASSERT_DOUBLE_EQUAL(sig, sqrt(1000.0) / 0.06 / pow(1.0 - 1.1e-6 * rp, 2) / 100.0, 1e-9);
    /* the quantified pixel equals the point solver on that k */
    kr_mapq_out q;
    CU_ASSERT_EQUAL_FATAL(kr_mapq_run(&in, &q), KR_OK);
    double kk[KR_EPMA_MAX_EL];
    for (int i = 0; i < KR_EPMA_MAX_EL; i++) kk[i] = NAN;
    kk[ti] = k;
    kr_epma_work w;
    kr_epma_result res;
    CU_ASSERT_EQUAL_FATAL(kr_epma_solve(f.ctx, kk, NULL, &w, &res), KR_OK);
    KR_ASSERT_REL(q.mass_pct[ti][0], 100.0 * res.mass_frac[ti], 1e-6);
    kr_mapq_out_free(&q);
    kr_epma_ctx_free(f.ctx);
}

typedef struct {
    size_t nx, ny;
    float *cnt[KR_EPMA_MAX_EL];
} synth_map;

static void synth_free(synth_map *m)
{
    for (int i = 0; i < KR_EPMA_MAX_EL; i++) free(m->cnt[i]);
}

/* Uniform map of the fixture's composition (rng NULL: expected counts). */
static int synth_uniform(const fixture *f, size_t nx, size_t ny, gsl_rng *rng, synth_map *m)
{
    memset(m, 0, sizeof *m);
    m->nx = nx;
    m->ny = ny;
    kr_epma_work w;
    double counts[KR_EPMA_MAX_EL];
    for (int i = 0; i < f->s.n; i++)
        if (f->s.el[i].role == KR_EPMA_MEASURED) m->cnt[i] = malloc(sizeof(float) * nx * ny);
    for (size_t p = 0; p < nx * ny; p++) {
        if (kr_map_synth_pixel(f->ctx, f->c, f->se, 60.0, 100.0, rng, &w, counts)) return -1;
        for (int i = 0; i < f->s.n; i++)
            if (m->cnt[i]) m->cnt[i][p] = (float)counts[i];
    }
    return 0;
}

static void fill_in(const fixture *f, const synth_map *m, kr_mapq_in *in, int nthreads)
{
    memset(in, 0, sizeof *in);
    in->nx = m->nx;
    in->ny = m->ny;
    in->dwell_ms = 60.0;
    in->current_na = 100.0;
    in->ctx = f->ctx;
    in->nthreads = nthreads;
    for (int i = 0; i < f->s.n; i++)
        if (m->cnt[i])
            in->el[i] = (kr_mapq_elem){m->cnt[i], 1.1, KR_DT_NONPARALYZABLE, KR_MAPBG_CONST, f->se[i].bg_cps_na,
                                       NULL, NULL, NAN, NAN, NAN, f->se[i].std_cps_na, NULL, NULL, NULL};
}

/* Noise-free uniform map: every pixel returns the true composition, and the map's mean equals the
 * point solver on the same k-ratios to 1e-6 relative. */
static void test_uniform_exact(void)
{
    fixture f;
    CU_ASSERT_EQUAL_FATAL(fixture_init(&f, 0), KR_OK);
    synth_map m;
    CU_ASSERT_EQUAL_FATAL(synth_uniform(&f, 60, 50, NULL, &m), 0);
    kr_mapq_in in;
    fill_in(&f, &m, &in, 2);
    kr_mapq_out q;
    CU_ASSERT_EQUAL_FATAL(kr_mapq_run(&in, &q), KR_OK);
    CU_ASSERT_EQUAL(q.n_failed, 0);
    /* point solver on the k-ratios of pixel 0 (all pixels have the same) */
    double k[KR_EPMA_MAX_EL];
    for (int i = 0; i < f.s.n; i++) {
        k[i] = NAN;
        double net, sig;
        if (m.cnt[i]) CU_ASSERT_EQUAL(kr_mapq_pixel_k(&in, i, 0, &net, &sig, &k[i]), KR_OK);
    }
    kr_epma_work w;
    kr_epma_result res;
    CU_ASSERT_EQUAL_FATAL(kr_epma_solve(f.ctx, k, NULL, &w, &res), KR_OK);
    double worst_pt = 0, worst_true = 0;
    for (int i = 0; i < f.s.n; i++) {
        if (!q.mass_pct[i]) continue;
        double mean = 0;
        for (size_t p = 0; p < m.nx * m.ny; p++) mean += q.mass_pct[i][p];
        mean /= (double)(m.nx * m.ny);
        double d_pt = fabs(mean / (100.0 * res.mass_frac[i]) - 1), d_true = fabs(mean / (100.0 * f.c[i]) - 1);
        worst_pt = d_pt > worst_pt ? d_pt : worst_pt;
        worst_true = d_true > worst_true ? d_true : worst_true;
        KR_ASSERT_REL(mean, 100.0 * res.mass_frac[i], 1e-6);
        KR_ASSERT_REL(mean, 100.0 * f.c[i], 1e-5); /* converged to tol_rel 1e-6 per iteration step */
    }
    printf("\n    uniform exact: max |map mean / point solver - 1| = %.2e, max |map mean / truth - 1| = %.2e, "
           "mean iterations %.2f\n", worst_pt, worst_true, q.mean_iterations);
    kr_mapq_out_free(&q);
    synth_free(&m);
    kr_epma_ctx_free(f.ctx);
}

/* Streaming: the same map on 1 and 2 threads gives identical bits (each band starts afresh), and the
 * counts held as 16-bit integers give what the float counts give. */
static void test_threads_and_u16(void)
{
    fixture f;
    CU_ASSERT_EQUAL_FATAL(fixture_init(&f, 0), KR_OK);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    synth_map m;
    CU_ASSERT_EQUAL_FATAL(synth_uniform(&f, 70, 67, rng, &m), 0);
    size_t n = m.nx * m.ny;
    uint16_t *u16[KR_EPMA_MAX_EL] = {0};
    kr_mapq_in in1, in2, in3;
    fill_in(&f, &m, &in1, 1);
    fill_in(&f, &m, &in2, 2);
    fill_in(&f, &m, &in3, 2);
    for (int i = 0; i < f.s.n; i++) {
        if (!m.cnt[i]) continue;
        u16[i] = malloc(sizeof(uint16_t) * n);
        for (size_t p = 0; p < n; p++) u16[i][p] = (uint16_t)m.cnt[i][p]; /* Poisson counts are integers */
        in3.el[i].counts = NULL;
        in3.el[i].counts_u16 = u16[i];
    }
    kr_mapq_out q1, q2, q3;
    CU_ASSERT_EQUAL_FATAL(kr_mapq_run(&in1, &q1), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_mapq_run(&in2, &q2), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_mapq_run(&in3, &q3), KR_OK);
    for (int i = 0; i < f.s.n; i++) {
        if (!q1.mass_pct[i]) continue;
        CU_ASSERT_EQUAL(memcmp(q1.mass_pct[i], q2.mass_pct[i], sizeof(float) * n), 0);
        CU_ASSERT_EQUAL(memcmp(q1.mass_pct[i], q3.mass_pct[i], sizeof(float) * n), 0);
        if (q1.sigma_pct[i]) CU_ASSERT_EQUAL(memcmp(q1.sigma_pct[i], q2.sigma_pct[i], sizeof(float) * n), 0);
    }
    CU_ASSERT_EQUAL(q1.mean_iterations, q2.mean_iterations);
    kr_mapq_out_free(&q1);
    kr_mapq_out_free(&q2);
    kr_mapq_out_free(&q3);
    for (int i = 0; i < KR_EPMA_MAX_EL; i++) free(u16[i]);
    synth_free(&m);
    gsl_rng_free(rng);
    kr_epma_ctx_free(f.ctx);
}

/* Pixels holding none of the analysed material (epoxy: background counts only) are outside when their
 * uncorrected total is below min_total_frac: NaN and counted; the material's pixels are unchanged. */
static void test_outside_pixels(void)
{
    fixture f;
    CU_ASSERT_EQUAL_FATAL(fixture_init(&f, 0), KR_OK);
    synth_map m;
    CU_ASSERT_EQUAL_FATAL(synth_uniform(&f, 40, 30, NULL, &m), 0);
    size_t n = m.nx * m.ny, n_epoxy = 0;
    for (size_t y = 0; y < m.ny; y++)
        for (size_t x = 0; x < 10; x++, n_epoxy++) /* the left 10 columns: background under each peak only */
            for (int i = 0; i < f.s.n; i++)
                if (m.cnt[i]) m.cnt[i][y * m.nx + x] = (float)round(f.se[i].bg_cps_na * 100.0 * 0.060);
    kr_mapq_in in;
    fill_in(&f, &m, &in, 2);
    kr_mapq_out all, cut;
    CU_ASSERT_EQUAL_FATAL(kr_mapq_run(&in, &all), KR_OK);
    in.min_total_frac = 0.20; /* the fixed Al2O3, Na2O, K2O (and their O) alone are 11.5 wt% of every pixel */
    CU_ASSERT_EQUAL_FATAL(kr_mapq_run(&in, &cut), KR_OK);
    CU_ASSERT_EQUAL(all.n_outside, 0);
    CU_ASSERT_EQUAL(cut.n_outside, n_epoxy);
    for (int i = 0; i < f.s.n; i++) {
        if (!cut.mass_pct[i]) continue;
        for (size_t p = 0; p < n; p++) {
            if (p % m.nx < 10) {
                CU_ASSERT(isnan(cut.mass_pct[i][p]));
            } else {
                KR_ASSERT_REL(cut.mass_pct[i][p], 100.0 * f.c[i], 1e-5);
                KR_ASSERT_REL(cut.mass_pct[i][p], all.mass_pct[i][p], 1e-5);
            }
        }
    }
    kr_mapq_out_free(&all);
    kr_mapq_out_free(&cut);
    synth_free(&m);
    kr_epma_ctx_free(f.ctx);
}

/* Poisson map: the scatter of each element matches the propagated counting sigma. */
static void test_uniform_poisson(void)
{
    fixture f;
    CU_ASSERT_EQUAL_FATAL(fixture_init(&f, 0), KR_OK);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 20261123);
    synth_map m;
    CU_ASSERT_EQUAL_FATAL(synth_uniform(&f, 120, 100, rng, &m), 0);
    kr_mapq_in in;
    fill_in(&f, &m, &in, 2);
    kr_mapq_out q;
    CU_ASSERT_EQUAL_FATAL(kr_mapq_run(&in, &q), KR_OK);
    CU_ASSERT_EQUAL(q.n_failed, 0);
    size_t n = m.nx * m.ny;
    /* point solver on the mean k-ratios */
    double kmean[KR_EPMA_MAX_EL];
    for (int i = 0; i < f.s.n; i++) {
        kmean[i] = NAN;
        if (!m.cnt[i]) continue;
        double s = 0;
        for (size_t p = 0; p < n; p++) {
            double net, sig, k;
            kr_mapq_pixel_k(&in, i, p, &net, &sig, &k);
            s += k;
        }
        kmean[i] = s / (double)n;
    }
    kr_epma_work w;
    kr_epma_result res;
    CU_ASSERT_EQUAL_FATAL(kr_epma_solve(f.ctx, kmean, NULL, &w, &res), KR_OK);
    printf("\n");
    for (int i = 0; i < f.s.n; i++) {
        if (!m.cnt[i]) continue;
        double mean = 0, ss = 0, msig = 0;
        for (size_t p = 0; p < n; p++) {
            mean += q.mass_pct[i][p];
            msig += q.sigma_pct[i][p];
        }
        mean /= (double)n;
        msig /= (double)n;
        for (size_t p = 0; p < n; p++) ss += (q.mass_pct[i][p] - mean) * (q.mass_pct[i][p] - mean);
        double sd = sqrt(ss / (double)(n - 1));
        double ratio = sd / msig, se = sd / sqrt((double)n);
        printf("    %s: true %.4f wt%%, map mean %.4f (se %.4f), sd %.4f, mean sigma %.4f, sd/sigma %.3f, "
               "mean/point(mean k) - 1 = %.1e\n",
               f.at.symbol[f.s.el[i].z], 100 * f.c[i], mean, se, sd, msig, ratio, mean / (100 * res.mass_frac[i]) - 1);
        CU_ASSERT(fabs(mean - 100 * f.c[i]) < 4 * se);
        /* sd of the sample sd for n = 12000 is ~0.65 %: 5 % is a wide, not a loosened, margin */
        CU_ASSERT(fabs(ratio - 1) < 0.05);
        /* mean of C vs C(mean k): C(k) is slightly concave (matrix self-dilution), so Jensen's inequality
         * puts the mean of C a little below C(mean k); the exact 1e-6 agreement is the noise-free test */
    }
    kr_mapq_out_free(&q);
    synth_free(&m);
    gsl_rng_free(rng);
    kr_epma_ctx_free(f.ctx);
}

/* A truth field for TiO2 (wt%): a smooth gradient plus two Gaussian Ti-rich blobs. */
static double tio2_truth(size_t x, size_t y, size_t nx, size_t ny)
{
    double u = (double)x / (double)nx, v = (double)y / (double)ny;
    double t = 3.0 + 2.5 * u;
    t += 4.0 * exp(-((u - 0.3) * (u - 0.3) + (v - 0.6) * (v - 0.6)) / (2 * 0.06 * 0.06));
    t += 2.0 * exp(-((u - 0.7) * (u - 0.7) + (v - 0.3) * (v - 0.3)) / (2 * 0.1 * 0.1));
    return t;
}

/* 425 x 400 heterogeneous Ti map (15 kV, 100 nA, 60 ms): (found - true)/sigma ~ N(0, 1). */
static void test_heterogeneous_ti(void)
{
    fixture f;
    CU_ASSERT_EQUAL_FATAL(fixture_init(&f, 1), KR_OK);
    int ti = find_el(&f, "Ti"), io = find_el(&f, "O");
    size_t nx = 425, ny = 400, n = nx * ny;
    float *cnt = malloc(sizeof(float) * n), *truth = malloc(sizeof(float) * n);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 3);
    kr_epma_work w;
    double c[KR_EPMA_MAX_EL], counts[KR_EPMA_MAX_EL];
    int zt = kr_atomic_z(&f.at, "Ti");
    double ti_per_tio2 = f.at.weight[zt] / (f.at.weight[zt] + 2 * f.at.weight[8]);
    for (size_t y = 0; y < ny; y++)
        for (size_t x = 0; x < nx; x++) {
            memcpy(c, f.c, sizeof c);
            double tio2 = tio2_truth(x, y, nx, ny);
            c[ti] = tio2 / 100.0 * ti_per_tio2;
            c[io] = f.c[io] + (c[ti] - f.c[ti]) * (1 - ti_per_tio2) / ti_per_tio2;
            CU_ASSERT_EQUAL_FATAL(kr_map_synth_pixel(f.ctx, c, f.se, 60.0, 100.0, rng, &w, counts), KR_OK);
            cnt[y * nx + x] = (float)counts[ti];
            truth[y * nx + x] = (float)(100.0 * c[ti]);
        }
    kr_mapq_in in;
    memset(&in, 0, sizeof in);
    in.nx = nx;
    in.ny = ny;
    in.dwell_ms = 60.0;
    in.current_na = 100.0;
    in.ctx = f.ctx;
    in.nthreads = 2;
    in.el[ti] = (kr_mapq_elem){cnt, 1.1, KR_DT_NONPARALYZABLE, KR_MAPBG_CONST, f.se[ti].bg_cps_na, NULL, NULL, NAN,
                               NAN, NAN, f.se[ti].std_cps_na, NULL, NULL, NULL};
    kr_mapq_out q;
    CU_ASSERT_EQUAL_FATAL(kr_mapq_run(&in, &q), KR_OK);
    CU_ASSERT_EQUAL(q.n_failed, 0);
    double sz = 0, szz = 0, bias = 0;
    size_t within1 = 0, within2 = 0;
    for (size_t p = 0; p < n; p++) {
        bias += -0.5 / sqrt(cnt[p] > 1 ? cnt[p] : 1);
        double z = (q.mass_pct[ti][p] - truth[p]) / q.sigma_pct[ti][p];
        sz += z;
        szz += z * z;
        within1 += fabs(z) < 1;
        within2 += fabs(z) < 2;
    }
    double mz = sz / (double)n, sdz = sqrt(szz / (double)n - mz * mz);
    bias /= (double)n;
    printf("\n    425x400 Ti map: (found - true)/sigma mean %.4f (expected %.4f), sd %.4f, |z|<1 %.4f, |z|<2 %.4f, "
           "iterations %.2f\n", mz, bias, sdz, (double)within1 / (double)n, (double)within2 / (double)n,
           q.mean_iterations);
    /* sigma from the observed counts N biases z = (N - mu)/sqrt(N) by E ~ -1/(2 sqrt(mu)) (second-order
     * Taylor expansion of 1/sqrt(N) about mu); the standard error of the mean of 170000 z is 0.0024 */
    CU_ASSERT(fabs(mz - bias) < 0.01);
    CU_ASSERT(fabs(sdz - 1) < 0.03);

    /* regions: the Ti-rich blob by a threshold; the stats of the truth-rich region are sensible */
    kr_map_layer lay[2] = {{"Ti", "wt%", q.mass_pct[ti], 1.0}, {"truth", "wt%", truth, 1.0}};
    kr_map_rule rule;
    memset(&rule, 0, sizeof rule);
    snprintf(rule.name, sizeof rule.name, "background_glass");
    CU_ASSERT_EQUAL(kr_map_cond_parse("truth < 3.9", "test", &rule.cond[0]), KR_OK);
    rule.ncond = 1;
    unsigned char *mask = malloc(n);
    float *scratch = malloc(sizeof(float) * n);
    size_t nin;
    CU_ASSERT_EQUAL_FATAL(kr_map_mask(&rule, lay, 2, n, mask, &nin), KR_OK);
    kr_map_region_row row_found, row_true;
    kr_map_region_stats(&lay[0], mask, n, scratch, &row_found);
    kr_map_region_stats(&lay[1], mask, n, scratch, &row_true);
    CU_ASSERT_EQUAL(row_found.n_pixels, (int)nin);
    CU_ASSERT(fabs(row_found.mean - row_true.mean) < 5 * row_found.sd / sqrt((double)nin));
    CU_ASSERT(row_found.p05 <= row_found.p50 && row_found.p50 <= row_found.p95);
    printf("    region (true Ti < 3.9 wt%%): %d px, Ti found %.4f +- %.4f (true mean %.4f)\n", row_found.n_pixels,
           row_found.mean, row_found.sd, row_true.mean);

    /* the PNG of the map: valid, larger than the map (colour bar, scale bar) */
    char path[512];
    snprintf(path, sizeof path, "%s/ti.png", kr_test_tmpdir());
    kr_png_map_opts po = {"wt%", NAN, NAN, 0.20, NULL};
    CU_ASSERT_EQUAL(kr_png_write_map(path, q.mass_pct[ti], ny, nx, &po), KR_OK);
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    CU_ASSERT(png_image_begin_read_from_file(&img, path) != 0);
    CU_ASSERT(img.width > nx + 20 && img.height > ny + 20);
    png_image_free(&img);
    snprintf(path, sizeof path, "%s/mask.png", kr_test_tmpdir());
    CU_ASSERT_EQUAL(kr_png_write_mask(path, mask, ny, nx, 0.20), KR_OK);

    free(mask);
    free(scratch);
    kr_mapq_out_free(&q);
    free(cnt);
    free(truth);
    gsl_rng_free(rng);
    kr_epma_ctx_free(f.ctx);
}

/* Backgrounds from off-peak maps and from a calibration line against spots inside the map. */
static void test_backgrounds(void)
{
    fixture f;
    CU_ASSERT_EQUAL_FATAL(fixture_init(&f, 1), KR_OK);
    int ti = find_el(&f, "Ti");
    size_t nx = 150, ny = 120, n = nx * ny;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    synth_map m;
    CU_ASSERT_EQUAL_FATAL(synth_uniform(&f, nx, ny, rng, &m), 0);
    float *bm = malloc(sizeof(float) * n), *bp = malloc(sizeof(float) * n);
    /* off-peak: true bg under the peak 0.4 cps/nA, -side 0.5, +side 0.3 at equal offsets (linear: mean 0.4) */
    for (size_t p = 0; p < n; p++) {
        bm[p] = (float)kr_map_synth_bg(0.5, 1.1, 60.0, 100.0, rng);
        bp[p] = (float)kr_map_synth_bg(0.3, 1.1, 60.0, 100.0, rng);
    }
    kr_mapq_in in;
    fill_in(&f, &m, &in, 2);
    in.el[ti].bg = KR_MAPBG_MAPS;
    in.el[ti].bg_minus = bm;
    in.el[ti].bg_plus = bp;
    in.el[ti].off_minus_mm = 5.0;
    in.el[ti].off_plus_mm = 5.0;
    in.el[ti].bg_dwell_ms = 60.0;
    kr_mapq_out q;
    CU_ASSERT_EQUAL_FATAL(kr_mapq_run(&in, &q), KR_OK);
    double sz = 0, szz = 0, bias = 0;
    for (size_t p = 0; p < n; p++) {
        bias += -0.5 / sqrt(m.cnt[ti][p] > 1 ? m.cnt[ti][p] : 1);
        double z = (q.mass_pct[ti][p] - 100 * f.c[ti]) / q.sigma_pct[ti][p];
        sz += z;
        szz += z * z;
    }
    double mz = sz / (double)n, sdz = sqrt(szz / (double)n - mz * mz);
    bias /= (double)n;
    printf("\n    off-peak maps: z mean %.4f (expected %.4f) sd %.4f\n", mz, bias, sdz);
    CU_ASSERT(fabs(mz - bias) < 0.02);
    CU_ASSERT(fabs(sdz - 1) < 0.03);
    kr_mapq_out_free(&q);

    /* calibration line: 5 spots of the true composition; the fitted background recovers 0.4 cps/nA
     * within its own standard error, and with a fitted slope too when spot compositions differ */
    kr_map_spot spots[5];
    for (int s = 0; s < 5; s++) {
        spots[s].x_px = 20 + 25 * s;
        spots[s].y_px = 15 + 20 * s;
        spots[s].radius_px = 4;
        memcpy(spots[s].mass_frac, f.c, sizeof f.c);
    }
    fill_in(&f, &m, &in, 2);
    in.el[ti].bg_cps_na = NAN;
    double sb;
    CU_ASSERT_EQUAL_FATAL(kr_mapq_calibrate(&in, ti, spots, 5, 0, &sb), KR_OK);
    printf("    calibration intercept: bg %.4f +- %.4f cps/nA (true 0.4)\n", in.el[ti].bg_cps_na, sb);
    CU_ASSERT(fabs(in.el[ti].bg_cps_na - 0.4) < 4 * sb);
    CU_ASSERT_EQUAL(kr_mapq_calibrate(&in, ti, spots, 5, 1, &sb), KR_EINPUT); /* equal k: no slope */
    kr_err_clear();
    /* spot outside the map */
    spots[0].x_px = 1000;
    CU_ASSERT_EQUAL(kr_mapq_calibrate(&in, ti, spots, 5, 0, &sb), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "outside"));
    kr_err_clear();
    synth_free(&m);
    free(bm);
    free(bp);
    gsl_rng_free(rng);
    kr_epma_ctx_free(f.ctx);
}

static void test_bad_setup(void)
{
    fixture f;
    CU_ASSERT_EQUAL_FATAL(fixture_init(&f, 1), KR_OK);
    int ti = find_el(&f, "Ti");
    float counts[4] = {1, 2, 3, 4};
    kr_mapq_in in;
    memset(&in, 0, sizeof in);
    in.nx = 2;
    in.ny = 2;
    in.dwell_ms = 60;
    in.current_na = 100;
    in.ctx = f.ctx;
    kr_mapq_out q;
    /* missing element map */
    CU_ASSERT_EQUAL(kr_mapq_run(&in, &q), KR_EINPUT);
    kr_mapq_out_free(&q);
    kr_err_clear();
    /* tau * rate >= 1: an error naming the pixel, not a NaN */
    float hot[4] = {1, 2, 3, 1e6f};
    in.el[ti] = (kr_mapq_elem){hot, 1.1, KR_DT_NONPARALYZABLE, KR_MAPBG_CONST, 0.4, NULL, NULL, NAN, NAN, NAN, 420, NULL, NULL, NULL};
    CU_ASSERT_NOT_EQUAL(kr_mapq_run(&in, &q), KR_OK);
    CU_ASSERT(kr_err_count() > 0);
    char buf[512];
    kr_err_format(buf, sizeof buf);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "pixel x 1, y 1"));
    kr_mapq_out_free(&q);
    kr_err_clear();
    (void)counts;
    kr_epma_ctx_free(f.ctx);
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Region statistics against a brute-force sort: Hyndman & Fan (1996) definition 7 is what R's
 * quantile() and numpy's default percentile compute, e.g. for 1..10 the 25th percentile is 3.25. */
static void test_region_stats(void)
{
    float v[10] = {7, 1, 10, 3, 5, 2, 9, 4, 8, 6};
    kr_map_layer lay = {"x", "wt%", v, 1.0};
    float scratch[10];
    kr_map_region_row row;
    kr_map_region_stats(&lay, NULL, 10, scratch, &row);
    CU_ASSERT_EQUAL(row.n_pixels, 10);
    CU_ASSERT_DOUBLE_EQUAL(row.mean, 5.5, 1e-12);
    CU_ASSERT_DOUBLE_EQUAL(row.sd, sqrt(55.0 / 6.0), 1e-12); /* var of 1..10 with n - 1: 82.5/9 */
    CU_ASSERT_DOUBLE_EQUAL(row.p25, 3.25, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(row.p50, 5.5, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(row.p05, 1.45, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(row.p95, 9.55, 1e-6);
    CU_ASSERT_DOUBLE_EQUAL(row.min, 1, 0);
    CU_ASSERT_DOUBLE_EQUAL(row.max, 10, 0);
    /* random data with ties, a mask, NaNs, and an oxide scale: against sorting */
    size_t n = 5001;
    float *x = malloc(sizeof(float) * n), *sc = malloc(sizeof(float) * n);
    double *ref = malloc(sizeof(double) * n);
    unsigned char *mask = malloc(n);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = (float)floor(gsl_rng_uniform(rng) * 200);
        if (i % 97 == 0) x[i] = NAN;
        mask[i] = gsl_rng_uniform(rng) < 0.7;
        if (mask[i] && isfinite(x[i])) ref[m++] = (double)(float)(x[i] * 1.5);
    }
    qsort(ref, m, sizeof(double), cmp_d);
    kr_map_layer l2 = {"y", "wt%", x, 1.5};
    kr_map_region_stats(&l2, mask, n, sc, &row);
    CU_ASSERT_EQUAL(row.n_pixels, (int)m);
    const double ps[5] = {0.05, 0.25, 0.5, 0.75, 0.95};
    const double got[5] = {row.p05, row.p25, row.p50, row.p75, row.p95};
    for (int k = 0; k < 5; k++) {
        double h = (double)(m - 1) * ps[k];
        size_t lo = (size_t)floor(h);
        double want = ref[lo] + (h - (double)lo) * (ref[lo + 1] - ref[lo]);
        CU_ASSERT_DOUBLE_EQUAL(got[k], want, 1e-9);
    }
    CU_ASSERT_DOUBLE_EQUAL(row.min, ref[0], 0);
    CU_ASSERT_DOUBLE_EQUAL(row.max, ref[m - 1], 0);
    /* masks: rule parsing and an unknown quantity */
    kr_map_rule rule;
    memset(&rule, 0, sizeof rule);
    snprintf(rule.name, sizeof rule.name, "r");
    CU_ASSERT_EQUAL(kr_map_cond_parse("y >= 150", "t", &rule.cond[0]), KR_OK);
    CU_ASSERT_EQUAL(kr_map_cond_parse("z < 3", "t", &rule.cond[1]), KR_OK);
    rule.ncond = 2;
    CU_ASSERT_EQUAL(kr_map_mask(&rule, &l2, 1, n, mask, NULL), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "\"z\""));
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_map_cond_parse("y = 3", "run.yaml:12", &rule.cond[1]), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "run.yaml:12"));
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_map_cond_parse("y < abc", "t", &rule.cond[1]), KR_EINPUT);
    kr_err_clear();
    rule.ncond = 1;
    size_t nin;
    CU_ASSERT_EQUAL(kr_map_mask(&rule, &l2, 1, n, mask, &nin), KR_OK);
    size_t want_in = 0;
    for (size_t i = 0; i < n; i++) want_in += isfinite(x[i]) && x[i] * 1.5 >= 150;
    CU_ASSERT_EQUAL(nin, want_in);
    gsl_rng_free(rng);
    free(x);
    free(sc);
    free(ref);
    free(mask);
}

int main(void)
{
    static const kr_test_case tests[] = {
        {"one pixel by hand", test_pixel_arithmetic},
        {"uniform map, exact counts = point solver", test_uniform_exact},
        {"1 and 2 threads, float and 16-bit counts: identical bits", test_threads_and_u16},
        {"epoxy pixels below the minimum total are outside (NaN)", test_outside_pixels},
        {"uniform map, Poisson scatter", test_uniform_poisson},
        {"425x400 heterogeneous Ti map", test_heterogeneous_ti},
        {"off-peak maps and calibration line", test_backgrounds},
        {"bad setups", test_bad_setup},
        {"region statistics and masks", test_region_stats},
        {NULL, NULL},
    };
    return kr_test_run("epma_maps_quant", tests);
}
