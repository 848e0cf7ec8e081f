/* The EPMA point reduction (stages/epma/points.c) on the sample run's JEOL exports and generic CSV:
 * recovery of the true compositions within the counting uncertainty, JEOL's own net/bg/sigma
 * reproduced on every channel, sample means, and the bad-input corpus (tests/bad_inputs/epma/). */
#include "error.h"
#include "generic_csv.h"
#include "kr_test.h"
#include "points.h"
#include "text.h"

#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NOX 10
static const char *const OXIDES[NOX] = {"SiO2", "TiO2", "Al2O3", "FeO", "MnO", "MgO", "CaO", "Na2O", "K2O", "Cr2O3"};

typedef struct {
    char point[16];
    char sample[16];
    double ox[NOX];
} truth_row;

static int load_truth(truth_row *rows, int max)
{
    char path[1024];
    kr_test_source_path(path, sizeof path, "sample_runs/ce5-glass-beads/truth.csv");
    kr_text t;
    if (kr_text_read(path, &t)) return -1;
    kr_lines it;
    kr_lines_init(&it, &t);
    char *line, *f[16];
    int n = 0, header = 0, col[NOX];
    while ((line = kr_lines_next(&it)) && n < max) {
        if (!*line || *line == '#') continue;
        int nf = kr_split(line, ',', f, 16);
        if (!header) {
            header = 1;
            for (int k = 0; k < NOX; k++) {
                col[k] = -1;
                for (int i = 0; i < nf; i++)
                    if (!strcmp(f[i], OXIDES[k])) col[k] = i;
            }
            continue;
        }
        snprintf(rows[n].sample, sizeof rows[n].sample, "%s", f[0]);
        snprintf(rows[n].point, sizeof rows[n].point, "%s", f[1]);
        for (int k = 0; k < NOX; k++) rows[n].ox[k] = col[k] >= 0 ? atof(f[col[k]]) : NAN;
        n++;
    }
    kr_text_free(&t);
    return n;
}

static int reduce_paths(const char *const *rel, size_t n, kr_epma_opts *o, kr_epma_out *out)
{
    char paths[4][1024];
    const char *pp[4];
    for (size_t i = 0; i < n; i++) {
        kr_test_source_path(paths[i], sizeof paths[i], rel[i]);
        pp[i] = paths[i];
    }
    kr_atomic *at = malloc(sizeof *at);
    kr_epma_points unk = {0}, std = {0};
    int rc = kr_atomic_load(at);
    if (!rc) rc = kr_epma_read_inputs(pp, n, at, &unk, &std);
    if (!rc) rc = kr_epma_reduce(o, at, &unk, &std, out);
    kr_epma_points_free(&unk);
    kr_epma_points_free(&std);
    free(at);
    return rc;
}

static void check_recovery(const kr_epma_out *out, const char *label)
{
    truth_row truth[200];
    int nt = load_truth(truth, 200);
    CU_ASSERT_FATAL(nt >= 68);
    int nres = 0, out4 = 0;
    double s1 = 0, s2 = 0;
    for (size_t i = 0; i < out->npoints; i++) {
        const kr_epma_point_row *r = &out->points[i];
        if (r->flags & KR_EPMA_FLAG_STOICH_O) continue;
        CU_ASSERT_EQUAL(r->flags & KR_EPMA_FLAG_FAILED, 0);
        const truth_row *t = NULL;
        for (int j = 0; j < nt; j++)
            if (!strcmp(truth[j].point, r->point)) t = &truth[j];
        CU_ASSERT_PTR_NOT_NULL_FATAL(t);
        CU_ASSERT_STRING_EQUAL(r->sample_id, t->sample);
        int k = 0;
        while (k < NOX && strcmp(OXIDES[k], r->oxide)) k++;
        CU_ASSERT_FATAL(k < NOX);
        double sigma_ox = r->oxide_pct * r->sigma_k / r->k;
        double z = (r->oxide_pct - t->ox[k]) / sigma_ox;
        s1 += z;
        s2 += z * z;
        nres++;
        if (fabs(z) > 4.0) {
            out4++;
            printf("\n  %s %s %s: %.4f vs true %.4f (%.1f sigma)", label, r->point, r->oxide, r->oxide_pct, t->ox[k], z);
        }
    }
    double mean = s1 / nres, sd = sqrt(s2 / nres - mean * mean);
    printf("\n  %s: %d oxide values, normalised residual mean %.3f sd %.3f, beyond 4 sigma: %d\n", label, nres, mean,
           sd, out4);
    CU_ASSERT_EQUAL(nres, nt * NOX);
    /* counting statistics explain the scatter: residual/sigma ~ N(0, 1) */
    CU_ASSERT(fabs(mean) < 0.15);
    CU_ASSERT(sd > 0.85 && sd < 1.15);
    CU_ASSERT(out4 <= 1);
}

static void test_jeol_sample_run(void)
{
    kr_epma_opts o;
    kr_epma_opts_default(&o);
    kr_epma_out out;
    static const char *const in[] = {"sample_runs/ce5-glass-beads/exports/beads_QNT",
                                     "sample_runs/ce5-glass-beads/exports/beads_STD"};
    int rc = reduce_paths(in, 2, &o, &out);
    if (rc) kr_err_print(stdout);
    CU_ASSERT_EQUAL_FATAL(rc, KR_OK);
    /* JEOL's own net/bg/sigma reproduced on every channel (unknowns and standards) */
    printf("\n  JEOL net/bg/sigma fields checked: %d, mismatches: %d", out.vendor_checked, out.vendor_mismatches);
    CU_ASSERT(out.vendor_checked >= 740);
    CU_ASSERT_EQUAL(out.vendor_mismatches, 0);
    CU_ASSERT_EQUAL(out.failed_points, 0);
    check_recovery(&out, "JEOL");
    /* sample means: 4 beads, SiO2 published to the LA-ICP-MS stage */
    double m, sd;
    int n;
    CU_ASSERT_EQUAL(kr_epma_sample_mean(&out, "G107", "SiO2", &m, &sd, &n), KR_OK);
    CU_ASSERT_EQUAL(n, 19);
    CU_ASSERT(m > 27 && m < 29.5);
    CU_ASSERT_EQUAL(kr_epma_sample_mean(&out, "G108", "Total", &m, &sd, &n), KR_OK);
    CU_ASSERT(m > 98.5 && m < 101.5);
    CU_ASSERT_EQUAL(kr_epma_sample_mean(&out, "G999", "SiO2", &m, &sd, &n), KR_EINPUT);
    /* detection limits in the published range for minor elements (0.01-0.03 wt%, seed 003) */
    for (size_t i = 0; i < out.npoints; i++)
        if (!strcmp(out.points[i].element, "Mn") || !strcmp(out.points[i].element, "Cr"))
            CU_ASSERT(out.points[i].dl_oxide_pct > 0.005 && out.points[i].dl_oxide_pct < 0.06);
    kr_epma_out_free(&out);
}

static void test_generic_csv_same_numbers(void)
{
    kr_epma_opts o;
    kr_epma_opts_default(&o);
    kr_epma_out a, b;
    static const char *const jeol[] = {"sample_runs/ce5-glass-beads/exports/beads_QNT",
                                       "sample_runs/ce5-glass-beads/exports/beads_STD"};
    static const char *const csv[] = {"sample_runs/ce5-glass-beads/exports/beads_generic.csv"};
    CU_ASSERT_EQUAL_FATAL(reduce_paths(jeol, 2, &o, &a), KR_OK);
    int rc = reduce_paths(csv, 1, &o, &b);
    if (rc) kr_err_print(stdout);
    CU_ASSERT_EQUAL_FATAL(rc, KR_OK);
    CU_ASSERT_EQUAL_FATAL(a.npoints, b.npoints);
    /* the CSV carries the current to 4 decimals (JEOL: 4 significant digits): same results to 1e-3 relative */
    for (size_t i = 0; i < a.npoints; i++) {
        CU_ASSERT_STRING_EQUAL(a.points[i].element, b.points[i].element);
        CU_ASSERT_STRING_EQUAL(a.points[i].sample_id, b.points[i].sample_id);
        KR_ASSERT_REL(b.points[i].mass_pct, a.points[i].mass_pct, 2e-3);
    }
    check_recovery(&b, "CSV");
    kr_epma_out_free(&a);
    kr_epma_out_free(&b);
}

static void test_options(void)
{
    kr_epma_opts o;
    kr_epma_opts_default(&o);
    o.dead_time = KR_DT_LOG;
    o.background = KR_BG_EXP;
    o.model = KR_EPMA_PAP;
    kr_epma_out out;
    static const char *const in[] = {"sample_runs/ce5-glass-beads/exports/beads_QNT",
                                     "sample_runs/ce5-glass-beads/exports/beads_STD"};
    CU_ASSERT_EQUAL_FATAL(reduce_paths(in, 2, &o, &out), KR_OK);
    /* other forms still reproduce JEOL's own fields (that check always uses JEOL's forms) */
    CU_ASSERT_EQUAL(out.vendor_mismatches, 0);
    double m;
    CU_ASSERT_EQUAL(kr_epma_sample_mean(&out, "G114", "TiO2", &m, NULL, NULL), KR_OK);
    CU_ASSERT(m > 15.5 && m < 18.5);
    kr_epma_out_free(&out);
}

/* A JEOL net/bg/sigma triplet that disagrees with the counts is flagged (or, on request, an error). */
static void test_vendor_mismatch(void)
{
    char q[1024], st[1024];
    kr_test_source_path(q, sizeof q, "sample_runs/ce5-glass-beads/exports/beads_QNT");
    kr_test_source_path(st, sizeof st, "sample_runs/ce5-glass-beads/exports/beads_STD");
    const char *pp[2] = {q, st};
    kr_atomic *at = malloc(sizeof *at);
    kr_epma_points unk = {0}, std = {0};
    CU_ASSERT_EQUAL_FATAL(kr_atomic_load(at), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_epma_read_inputs(pp, 2, at, &unk, &std), KR_OK);
    /* one printed digit off on the first channel of the third point */
    kr_epma_channel *c = &unk.items[2].ch[0];
    double net = atof(c->vendor_net);
    snprintf(c->vendor_net, sizeof c->vendor_net, "%.1f", net + 0.2);
    kr_epma_opts o;
    kr_epma_opts_default(&o);
    kr_epma_out out;
    CU_ASSERT_EQUAL_FATAL(kr_epma_reduce(&o, at, &unk, &std, &out), KR_OK);
    CU_ASSERT_EQUAL(out.vendor_mismatches, 1);
    int flagged = 0;
    for (size_t i = 0; i < out.npoints; i++)
        if (out.points[i].flags & KR_WDS_FLAG_JEOL_MISMATCH) {
            flagged++;
            CU_ASSERT_EQUAL(out.points[i].point_index, 3);
        }
    CU_ASSERT_EQUAL(flagged, 1);
    kr_epma_out_free(&out);
    o.vendor_mismatch_error = 1;
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_epma_reduce(&o, at, &unk, &std, &out), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "Pos_0003/data001.qnt:11 (Si Ka)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "disagree"));
    kr_err_clear();
    kr_epma_points_free(&unk);
    kr_epma_points_free(&std);
    free(at);
}

static void test_sample_id_rules(void)
{
    char buf[48];
    CU_ASSERT_EQUAL(kr_epma_sample_id("last_underscore", "D2983_qnt_v2_1", buf, sizeof buf), KR_OK);
    CU_ASSERT_STRING_EQUAL(buf, "D2983_qnt_v2");
    CU_ASSERT_EQUAL(kr_epma_sample_id("whole", "G107_01", buf, sizeof buf), KR_OK);
    CU_ASSERT_STRING_EQUAL(buf, "G107_01");
    CU_ASSERT_EQUAL(kr_epma_sample_id("regex:^(D[0-9]+)_", "D2983_qnt_v2_1", buf, sizeof buf), KR_OK);
    CU_ASSERT_STRING_EQUAL(buf, "D2983");
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_epma_sample_id("regex:^X", "D2983", buf, sizeof buf), KR_EINPUT);
    CU_ASSERT_EQUAL(kr_epma_sample_id("regex:(", "D2983", buf, sizeof buf), KR_EINPUT);
    CU_ASSERT_EQUAL(kr_epma_sample_id("middle", "D2983", buf, sizeof buf), KR_EINPUT);
    kr_err_clear();
}

/* Every case under tests/bad_inputs/epma/<case>/ is a run folder (beads_QNT + beads_STD, or *.csv);
 * its file `expect` holds lines the error chain must each contain (the place: file and line, and what). */
static void test_bad_inputs(void)
{
    char dir[1024];
    kr_test_source_path(dir, sizeof dir, "tests/bad_inputs/epma");
    DIR *d = opendir(dir);
    CU_ASSERT_PTR_NOT_NULL_FATAL(d);
    struct dirent *de;
    int ncases = 0;
    kr_atomic *at = malloc(sizeof *at);
    CU_ASSERT_EQUAL_FATAL(kr_atomic_load(at), KR_OK);
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        char cdir[1400], expect_path[1500], paths[3][1600];
        snprintf(cdir, sizeof cdir, "%s/%s", dir, de->d_name);
        snprintf(expect_path, sizeof expect_path, "%s/expect", cdir);
        kr_text ex;
        if (kr_text_read(expect_path, &ex)) {
            kr_err_clear();
            continue;
        }
        const char *pp[3];
        size_t n = 0;
        static const char *const parts[] = {"beads_QNT", "beads_STD", "points.csv"};
        for (int i = 0; i < 3; i++) {
            snprintf(paths[n], sizeof paths[n], "%s/%s", cdir, parts[i]);
            FILE *f = fopen(paths[n], "r");
            if (!f) continue;
            fclose(f);
            pp[n] = paths[n];
            n++;
        }
        kr_epma_opts o;
        kr_epma_opts_default(&o);
        kr_epma_points unk = {0}, std = {0};
        kr_epma_out out = {0};
        kr_err_clear();
        int rc = kr_epma_read_inputs(pp, n, at, &unk, &std);
        if (!rc) rc = kr_epma_reduce(&o, at, &unk, &std, &out);
        char msg[2048];
        kr_err_format(msg, sizeof msg);
        printf("\n  %s -> %s", de->d_name, msg);
        CU_ASSERT_EQUAL(rc, KR_EINPUT);
        /* every line of `expect` must appear in the error chain */
        kr_lines li;
        kr_lines_init(&li, &ex);
        char *want;
        while ((want = kr_lines_next(&li))) {
            want = kr_trim(want);
            if (!*want) continue;
            if (!strstr(msg, want)) {
                printf("\n  MISSING '%s'", want);
                CU_FAIL("error message does not name the place");
            }
        }
        kr_err_clear();
        kr_epma_points_free(&unk);
        kr_epma_points_free(&std);
        kr_epma_out_free(&out);
        kr_text_free(&ex);
        ncases++;
    }
    closedir(d);
    free(at);
    printf("\n  %d bad-input cases\n", ncases);
    CU_ASSERT(ncases >= 8);
}

/* ---- drift of a standard within a session (DOMAIN §2.2 step 5) ---- */

#define DR_I_NA 20.0  /* beam current, nA */
#define DR_TP_S 10.0  /* peak counting time, s */
#define DR_TB_S 5.0   /* counting time per background position, s */
#define DR_BG_CPS 100.0

/* A point with one Si Ka channel whose net intensity is net_cps_na (zero dead time, flat 100 cps background). */
static void drift_point(kr_epma_points *l, const kr_atomic *at, int is_std, const char *label, double t_s,
                        double net_cps_na)
{
    kr_epma_point *p;
    CU_ASSERT_EQUAL_FATAL(kr_epma_points_push(l, &p), KR_OK);
    snprintf(p->source, sizeof p->source, "constructed/%s", label);
    snprintf(p->label, sizeof p->label, "%s", label);
    snprintf(p->comment, sizeof p->comment, "%s", is_std ? "quartz" : "Q1_x");
    p->kv = 15.0;
    p->current_na = DR_I_NA;
    p->takeoff_deg = 40.0;
    p->x_mm = p->y_mm = p->z_mm = NAN;
    p->acq_time_s = t_s;
    p->is_standard = is_std;
    if (is_std) {
        /* quartz, SiO2: element mass % from the atomic weights */
        double a_si = at->weight[14], a_o = at->weight[8];
        snprintf(p->std_name, sizeof p->std_name, "Quartz");
        p->ncomp = 2;
        snprintf(p->comp_el[0], sizeof p->comp_el[0], "Si");
        snprintf(p->comp_el[1], sizeof p->comp_el[1], "O");
        p->comp_wt[0] = 100.0 * a_si / (a_si + 2 * a_o);
        p->comp_wt[1] = 100.0 - p->comp_wt[0];
    }
    p->nch = 1;
    kr_epma_channel *c = &p->ch[0];
    snprintf(c->element, sizeof c->element, "Si");
    snprintf(c->line, sizeof c->line, "Ka");
    snprintf(c->crystal, sizeof c->crystal, "TAP");
    snprintf(c->oxide, sizeof c->oxide, "SiO2");
    snprintf(c->where, sizeof c->where, "constructed/%s:1 (Si Ka)", label);
    c->peak_mm = NAN;
    c->counts.peak_counts = (net_cps_na * DR_I_NA + DR_BG_CPS) * DR_TP_S;
    c->counts.bgm_counts = c->counts.bgp_counts = DR_BG_CPS * DR_TB_S;
    c->counts.peak_time_s = DR_TP_S;
    c->counts.bgm_time_s = c->counts.bgp_time_s = DR_TB_S;
    c->counts.off_minus_mm = c->counts.off_plus_mm = 3.0;
    c->counts.dead_time_us = 0.0;
    c->counts.current_na = DR_I_NA;
}

/* sigma of a net intensity per nA: sqrt(P/t_p + w-^2 B-/t_b + w+^2 B+/t_b)/i with w = 1/2 (DOMAIN §2.2 step 4) */
static double drift_sigma(double net_cps_na)
{
    double peak = net_cps_na * DR_I_NA + DR_BG_CPS;
    return sqrt(peak / DR_TP_S + 2 * 0.25 * DR_BG_CPS / DR_TB_S) / DR_I_NA;
}

static const kr_epma_point_row *drift_row(const kr_epma_out *out, const char *label)
{
    for (size_t i = 0; i < out->npoints; i++)
        if (!strcmp(out->points[i].point, label) && !strcmp(out->points[i].element, "Si")) return &out->points[i];
    return NULL;
}

static void test_std_drift(void)
{
    kr_atomic *at = malloc(sizeof *at);
    CU_ASSERT_EQUAL_FATAL(kr_atomic_load(at), KR_OK);
    kr_epma_points unk = {0}, std = {0};
    /* one standard at t = 0 and t = 3600 s, its net intensity 10 % higher at the end */
    const double i0 = 500.0, i1 = 550.0, iu = 525.0;
    drift_point(&std, at, 1, "std_start", 0.0, i0);
    drift_point(&std, at, 1, "std_end", 3600.0, i1);
    static const char *const labels[4] = {"u_before", "u_quarter", "u_middle", "u_after"};
    const double t[4] = {-600.0, 900.0, 1800.0, 4000.0};
    for (int i = 0; i < 4; i++) drift_point(&unk, at, 0, labels[i], t[i], iu);
    /* hand interpolation: w = t/3600 inside [0, 3600], held flat outside */
    const double w[4] = {0.0, 0.25, 0.5, 1.0};
    const double s0 = drift_sigma(i0), s1 = drift_sigma(i1), su = drift_sigma(iu);
    kr_epma_opts o;
    kr_epma_opts_default(&o);
    CU_ASSERT_EQUAL(o.std_drift, KR_EPMA_STD_DRIFT_LINEAR);
    kr_epma_out lin, mean;
    int rc = kr_epma_reduce(&o, at, &unk, &std, &lin);
    if (rc) kr_err_print(stdout);
    CU_ASSERT_EQUAL_FATAL(rc, KR_OK);
    double k_lin[4];
    printf("\n  linear drift: ");
    for (int i = 0; i < 4; i++) {
        const kr_epma_point_row *r = drift_row(&lin, labels[i]);
        CU_ASSERT_PTR_NOT_NULL_FATAL(r);
        double istd = (1 - w[i]) * i0 + w[i] * i1;
        double sstd = sqrt((1 - w[i]) * (1 - w[i]) * s0 * s0 + w[i] * w[i] * s1 * s1);
        double k = iu / istd;
        double sk = k * sqrt((su / iu) * (su / iu) + (sstd / istd) * (sstd / istd));
        printf("t=%.0f s std %.3f cps/nA k %.6f; ", t[i], r->std_net_cps_na, r->k);
        KR_ASSERT_REL(r->std_net_cps_na, istd, 1e-12);
        KR_ASSERT_REL(r->net_cps_na, iu, 1e-12);
        KR_ASSERT_REL(r->k, k, 1e-12);
        KR_ASSERT_REL(r->sigma_k, sk, 1e-9);
        CU_ASSERT(r->flags & KR_EPMA_FLAG_STD_INTERP);
        CU_ASSERT_FALSE(r->flags & KR_EPMA_FLAG_DRIFT_STD);
        CU_ASSERT_FALSE(r->flags & KR_EPMA_FLAG_FAILED);
        k_lin[i] = r->k;
    }
    /* k = 1 at mid-session: quartz measured as an unknown returns its own Si content */
    KR_ASSERT_REL(drift_row(&lin, "u_middle")->mass_pct, std.items[0].comp_wt[0], 1e-5);
    /* k below 1 after the standard drifted up, above 1 before */
    CU_ASSERT(k_lin[0] > 1.04 && k_lin[3] < 0.96);

    /* epma.std_drift = mean: the old behaviour, one mean for every unknown, flag 128 */
    o.std_drift = KR_EPMA_STD_DRIFT_MEAN;
    CU_ASSERT_EQUAL_FATAL(kr_epma_reduce(&o, at, &unk, &std, &mean), KR_OK);
    for (int i = 0; i < 4; i++) {
        const kr_epma_point_row *r = drift_row(&mean, labels[i]);
        KR_ASSERT_REL(r->std_net_cps_na, 0.5 * (i0 + i1), 1e-12);
        KR_ASSERT_REL(r->k, iu / (0.5 * (i0 + i1)), 1e-12);
        /* sigma of the mean of the two measurements */
        double sm = 0.5 * sqrt(s0 * s0 + s1 * s1), k = iu / (0.5 * (i0 + i1));
        KR_ASSERT_REL(r->sigma_k, k * sqrt((su / iu) * (su / iu) + (sm * 2 / (i0 + i1)) * (sm * 2 / (i0 + i1))), 1e-9);
        CU_ASSERT(r->flags & KR_EPMA_FLAG_DRIFT_STD);
        CU_ASSERT_FALSE(r->flags & KR_EPMA_FLAG_STD_INTERP);
    }
    kr_epma_out_free(&mean);

    /* mass % follows k: unknowns rescaled so that the mean-standard run sees the same k give the same mass % */
    kr_epma_points unk2 = {0};
    for (int i = 0; i < 4; i++) drift_point(&unk2, at, 0, labels[i], t[i], k_lin[i] * 0.5 * (i0 + i1));
    CU_ASSERT_EQUAL_FATAL(kr_epma_reduce(&o, at, &unk2, &std, &mean), KR_OK);
    for (int i = 0; i < 4; i++) {
        const kr_epma_point_row *a = drift_row(&lin, labels[i]), *b = drift_row(&mean, labels[i]);
        KR_ASSERT_REL(b->k, a->k, 1e-12);
        KR_ASSERT_REL(a->mass_pct, b->mass_pct, 1e-9);
        KR_ASSERT_REL(a->oxide_pct, b->oxide_pct, 1e-9);
    }
    printf("\n  SiO2 wt%% at t = -600, 900, 1800, 4000 s: %.3f %.3f %.3f %.3f", drift_row(&lin, labels[0])->oxide_pct,
           drift_row(&lin, labels[1])->oxide_pct, drift_row(&lin, labels[2])->oxide_pct,
           drift_row(&lin, labels[3])->oxide_pct);
    kr_epma_out_free(&mean);
    kr_epma_points_free(&unk2);
    kr_epma_out_free(&lin);

    /* repeats at one time are averaged first: 540 and 560 at 3600 s act as one 550 with the sigma of the mean */
    o.std_drift = KR_EPMA_STD_DRIFT_LINEAR;
    kr_epma_points std3 = {0};
    drift_point(&std3, at, 1, "std_start", 0.0, i0);
    drift_point(&std3, at, 1, "std_end_a", 3600.0, 540.0);
    drift_point(&std3, at, 1, "std_end_b", 3600.0, 560.0);
    CU_ASSERT_EQUAL_FATAL(kr_epma_reduce(&o, at, &unk, &std3, &lin), KR_OK);
    {
        const kr_epma_point_row *r = drift_row(&lin, "u_quarter");
        double sa = drift_sigma(540.0), sb = drift_sigma(560.0);
        double s_end2 = (sa * sa + sb * sb) / 4;
        double istd = 0.75 * i0 + 0.25 * 550.0;
        double sstd = sqrt(0.75 * 0.75 * s0 * s0 + 0.25 * 0.25 * s_end2);
        double k = iu / istd;
        KR_ASSERT_REL(r->std_net_cps_na, istd, 1e-12);
        KR_ASSERT_REL(r->sigma_k, k * sqrt((su / iu) * (su / iu) + (sstd / istd) * (sstd / istd)), 1e-9);
        KR_ASSERT_REL(drift_row(&lin, "u_after")->std_net_cps_na, 550.0, 1e-12);
    }
    kr_epma_out_free(&lin);

    /* an unknown without a time, or a standard measurement without one: the session mean (flag 128) */
    unk.items[1].acq_time_s = NAN;
    CU_ASSERT_EQUAL_FATAL(kr_epma_reduce(&o, at, &unk, &std, &lin), KR_OK);
    KR_ASSERT_REL(drift_row(&lin, "u_quarter")->std_net_cps_na, 0.5 * (i0 + i1), 1e-12);
    CU_ASSERT_EQUAL(drift_row(&lin, "u_quarter")->flags & (KR_EPMA_FLAG_DRIFT_STD | KR_EPMA_FLAG_STD_INTERP),
                    KR_EPMA_FLAG_DRIFT_STD);
    KR_ASSERT_REL(drift_row(&lin, "u_before")->std_net_cps_na, i0, 1e-12);
    kr_epma_out_free(&lin);
    std.items[1].acq_time_s = NAN;
    CU_ASSERT_EQUAL_FATAL(kr_epma_reduce(&o, at, &unk, &std, &lin), KR_OK);
    for (int i = 0; i < 4; i++) {
        KR_ASSERT_REL(drift_row(&lin, labels[i])->std_net_cps_na, 0.5 * (i0 + i1), 1e-12);
        CU_ASSERT_FALSE(drift_row(&lin, labels[i])->flags & KR_EPMA_FLAG_STD_INTERP);
    }
    kr_epma_out_free(&lin);
    /* a single measurement time (both at t = 0): the mean */
    std.items[1].acq_time_s = 0.0;
    CU_ASSERT_EQUAL_FATAL(kr_epma_reduce(&o, at, &unk, &std, &lin), KR_OK);
    KR_ASSERT_REL(drift_row(&lin, "u_after")->std_net_cps_na, 0.5 * (i0 + i1), 1e-12);
    CU_ASSERT(drift_row(&lin, "u_after")->flags & KR_EPMA_FLAG_DRIFT_STD);
    kr_epma_out_free(&lin);
    kr_epma_points_free(&std3);
    kr_epma_points_free(&unk);
    kr_epma_points_free(&std);
    free(at);
}

/* A standard's intensity depends on the beam energy and the crystal: each unknown takes the standard measured
 * at its own kV on its crystal (never a mean over them); otherwise an error names both. */
static void test_std_kv(void)
{
    kr_atomic *at = malloc(sizeof *at);
    CU_ASSERT_EQUAL_FATAL(kr_atomic_load(at), KR_OK);
    kr_epma_points unk = {0}, std = {0}, unk25 = {0};
    drift_point(&std, at, 1, "std_15kv", NAN, 500.0);
    drift_point(&std, at, 1, "std_20kv", NAN, 700.0);
    std.items[1].kv = 20.0;
    drift_point(&unk, at, 0, "u_15kv", NAN, 500.0);
    drift_point(&unk, at, 0, "u_20kv", NAN, 350.0);
    unk.items[1].kv = 20.0;
    kr_epma_opts o;
    kr_epma_opts_default(&o);
    kr_epma_out out;
    int rc = kr_epma_reduce(&o, at, &unk, &std, &out);
    if (rc) kr_err_print(stdout);
    CU_ASSERT_EQUAL_FATAL(rc, KR_OK);
    const kr_epma_point_row *r15 = drift_row(&out, "u_15kv"), *r20 = drift_row(&out, "u_20kv");
    CU_ASSERT_PTR_NOT_NULL_FATAL(r15);
    CU_ASSERT_PTR_NOT_NULL_FATAL(r20);
    KR_ASSERT_REL(r15->std_net_cps_na, 500.0, 1e-12);
    KR_ASSERT_REL(r20->std_net_cps_na, 700.0, 1e-12);
    KR_ASSERT_REL(r15->k, 1.0, 1e-12);
    KR_ASSERT_REL(r20->k, 0.5, 1e-12);
    CU_ASSERT_EQUAL(r15->flags & 128, 0); /* one measurement at each energy: nothing averaged */
    kr_epma_out_free(&out);
    drift_point(&unk25, at, 0, "u_25kv", NAN, 500.0);
    unk25.items[0].kv = 25.0;
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_epma_reduce(&o, at, &unk25, &std, &out), KR_EINPUT);
    char msg[1024];
    kr_err_format(msg, sizeof msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "no standard measured for Si Ka at 25 kV"));
    kr_err_clear();
    kr_epma_out_free(&out);
    /* the same energy on another crystal is another intensity: no standard either */
    unk25.items[0].kv = 15.0;
    snprintf(unk25.items[0].ch[0].crystal, sizeof unk25.items[0].ch[0].crystal, "PETJ");
    CU_ASSERT_EQUAL(kr_epma_reduce(&o, at, &unk25, &std, &out), KR_EINPUT);
    kr_err_format(msg, sizeof msg);
    CU_ASSERT_PTR_NOT_NULL(strstr(msg, "no standard measured for Si Ka at 15 kV on PETJ"));
    kr_err_clear();
    kr_epma_out_free(&out);
    kr_epma_points_free(&unk);
    kr_epma_points_free(&unk25);
    kr_epma_points_free(&std);
    free(at);
}

/* The sample run's standards are each measured once: no row is drift-interpolated, and the times are read. */
static void test_sample_run_times(void)
{
    char q[1024], st[1024];
    kr_test_source_path(q, sizeof q, "sample_runs/ce5-glass-beads/exports/beads_QNT");
    kr_test_source_path(st, sizeof st, "sample_runs/ce5-glass-beads/exports/beads_STD");
    const char *pp[2] = {q, st};
    kr_atomic *at = malloc(sizeof *at);
    kr_epma_points unk = {0}, std = {0};
    CU_ASSERT_EQUAL_FATAL(kr_atomic_load(at), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_epma_read_inputs(pp, 2, at, &unk, &std), KR_OK);
    for (size_t i = 0; i < unk.n; i++) CU_ASSERT(isfinite(unk.items[i].acq_time_s));
    for (size_t i = 0; i < std.n; i++) CU_ASSERT(isfinite(std.items[i].acq_time_s));
    /* beads_STD/Pos_0001: $XM_ANALYSIS_ACQ_DATE 2024/05/09 14:11:00 = 1715263860 s (Python calendar.timegm) */
    CU_ASSERT_DOUBLE_EQUAL(std.items[0].acq_time_s, 1715263860.0, 0);
    kr_epma_opts o;
    kr_epma_opts_default(&o);
    kr_epma_out out;
    CU_ASSERT_EQUAL_FATAL(kr_epma_reduce(&o, at, &unk, &std, &out), KR_OK);
    for (size_t i = 0; i < out.npoints; i++)
        CU_ASSERT_EQUAL(out.points[i].flags & (KR_EPMA_FLAG_STD_INTERP | KR_EPMA_FLAG_DRIFT_STD), 0);
    kr_epma_out_free(&out);
    kr_epma_points_free(&unk);
    kr_epma_points_free(&std);
    free(at);
}

/* The generic CSV's optional `time` column: ISO 8601 with T or a space; a bad one names file:line. */
static void test_csv_time(void)
{
    kr_atomic *at = malloc(sizeof *at);
    CU_ASSERT_EQUAL_FATAL(kr_atomic_load(at), KR_OK);
    static const char *const head =
        "point,element,line,kv,current_na,peak_counts,bgm_counts,bgp_counts,peak_time_s,bg_time_s,off_minus_mm,"
        "off_plus_mm,dead_time_us,time\n";
    char path[1200];
    snprintf(path, sizeof path, "%s/times.csv", kr_test_tmpdir());
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "%sp1,Si,Ka,15,20,1000,50,50,10,5,3,3,1.1,2024-05-09T14:11:00\n"
               "p1,Al,Ka,15,20,1000,50,50,10,5,3,3,1.1,2024-05-09 14:10:30\n"
               "p2,Si,Ka,15,20,1000,50,50,10,5,3,3,1.1,\n",
            head);
    fclose(f);
    kr_epma_points l = {0};
    int rc = kr_epma_csv_read(path, at, &l);
    if (rc) kr_err_print(stdout);
    CU_ASSERT_EQUAL_FATAL(rc, KR_OK);
    CU_ASSERT_EQUAL_FATAL(l.n, 2);
    /* the earliest of the point's rows; 2024-05-09T14:10:30Z = 1715263830 s (Python calendar.timegm) */
    CU_ASSERT_DOUBLE_EQUAL(l.items[0].acq_time_s, 1715263830.0, 0);
    CU_ASSERT(isnan(l.items[1].acq_time_s));
    kr_epma_points_free(&l);
    f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "%sp1,Si,Ka,15,20,1000,50,50,10,5,3,3,1.1,2024-05-09T14:11:00\n"
               "p2,Si,Ka,15,20,1000,50,50,10,5,3,3,1.1,09/05/2024 14:11\n",
            head);
    fclose(f);
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_epma_csv_read(path, at, &l), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "times.csv:3"));
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "column time"));
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "09/05/2024 14:11"));
    kr_err_clear();
    kr_epma_points_free(&l);
    free(at);
}

/* Date parsing against Python's calendar.timegm. */
static void test_parse_time(void)
{
    double t;
    CU_ASSERT_EQUAL(kr_epma_parse_time("1970-01-01T00:00:00", &t), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(t, 0.0, 0);
    CU_ASSERT_EQUAL(kr_epma_parse_time("2024/05/10 09:00:00", &t), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(t, 1715331600.0, 0);
    CU_ASSERT_EQUAL(kr_epma_parse_time("2024-02-29 23:59:59Z", &t), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(t, 1709251199.0, 0);
    CU_ASSERT_EQUAL(kr_epma_parse_time("2000-03-01T00:00", &t), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(t, 951868800.0, 0);
    CU_ASSERT_EQUAL(kr_epma_parse_time("2000-03-01T00:00:01.25", &t), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(t, 951868801.25, 1e-6);
    static const char *const bad[] = {"2023-02-29 00:00:00", "2024-13-01 00:00:00", "2024-05-09", "2024-05-09T24:00:00",
                                      "2024-05/09 14:11:00", "2024-05-09T14:11:00+08:00", "", "tomorrow",
                                      "2024-05-09T14:60:00"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) CU_ASSERT_EQUAL(kr_epma_parse_time(bad[i], &t), KR_EINPUT);
}

int main(void)
{
    static const kr_test_case tests[] = {
        {"sample run (JEOL): truth within counting error, JEOL fields reproduced", test_jeol_sample_run},
        {"generic CSV gives the same numbers", test_generic_csv_same_numbers},
        {"log dead time, exp background, PAP", test_options},
        {"JEOL field mismatch: flag or error", test_vendor_mismatch},
        {"sample-id rules", test_sample_id_rules},
        {"bad inputs name the place", test_bad_inputs},
        {"standard drift: linear in time, held flat outside, mean on request", test_std_drift},
        {"standards matched by beam energy", test_std_kv},
        {"sample run: times read, nothing drift-interpolated", test_sample_run_times},
        {"generic CSV time column", test_csv_time},
        {"date parsing", test_parse_time},
        {NULL, NULL},
    };
    return kr_test_run("epma_points", tests);
}
