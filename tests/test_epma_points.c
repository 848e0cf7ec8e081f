/* The EPMA point reduction (stages/epma/points.c) on the sample run's JEOL exports and generic CSV:
 * recovery of the true compositions within the counting uncertainty, JEOL's own net/bg/sigma
 * reproduced on every channel, sample means, and the bad-input corpus (tests/bad_inputs/epma/). */
#include "error.h"
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

int main(void)
{
    static const kr_test_case tests[] = {
        {"sample run (JEOL): truth within counting error, JEOL fields reproduced", test_jeol_sample_run},
        {"generic CSV gives the same numbers", test_generic_csv_same_numbers},
        {"log dead time, exp background, PAP", test_options},
        {"JEOL field mismatch: flag or error", test_vendor_mismatch},
        {"sample-id rules", test_sample_id_rules},
        {"bad inputs name the place", test_bad_inputs},
        {NULL, NULL},
    };
    return kr_test_run("epma_points", tests);
}
