/* The synthetic Chang'e-6 session of the sample run (sample_runs/ce6-basalt-pbpb, written by
 * scripts/synth-sims): kreep must recover the true age of expected.txt within its 2 sigma, by weighted
 * mean and by isochron, after the mass-fractionation correction from the reference zircon. This is a
 * consistency check of the whole chain; the numerics are pinned to published values in
 * test_sims_numerics.c and the reader to the real IGG files in test_sims_asc.c / test_sims_reduce.c. */
#include "error.h"
#include "kr_test.h"
#include "sims_stage.h"

#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* value of "key = value" in expected.txt */
static double expected(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f) return NAN;
    char line[512];
    double v = NAN;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl) && line[kl] == ' ') v = atof(strchr(line, '=') + 1);
    fclose(f);
    return v;
}

static void test_session(void)
{
    char dir[4096], pat[4200], exp_path[4200];
    kr_test_source_path(dir, sizeof dir, "sample_runs/ce6-basalt-pbpb");
    snprintf(pat, sizeof pat, "%s/exports/*.asc", dir);
    snprintf(exp_path, sizeof exp_path, "%s/expected.txt", dir);
    double age = expected(exp_path, "basalt_age_ma");
    CU_ASSERT_FATAL(isfinite(age));
    glob_t g;
    CU_ASSERT_EQUAL_FATAL(glob(pat, 0, NULL, &g), 0);
    kr_sims_settings s;
    CU_ASSERT_EQUAL_FATAL(kr_sims_settings_default(&s, NULL), KR_OK);
    s.cpb = KR_CPB_FIXED;
    s.c64 = expected(exp_path, "lunar_common_pb206_pb204");
    s.c74 = expected(exp_path, "lunar_common_pb207_pb204");
    CU_ASSERT_EQUAL_FATAL(kr_sims_settings_add_rm(&s, "Tem", "temora"), KR_OK);
    s.fractionation_rm = 0;
    kr_sims_result r;
    int rc = kr_sims_reduce_files((const char *const *)g.gl_pathv, g.gl_pathc, &s, &r);
    if (rc) kr_err_print(stdout);
    CU_ASSERT_EQUAL_FATAL(rc, KR_OK);
    printf("\n  %zu spots, %zu without age, fractionation %.5f +- %.5f per amu (true %.4f)\n", r.nspots, r.nfailed,
           r.frac_per_amu, r.frac_per_amu_err, expected(exp_path, "mass_fractionation_per_amu"));
    CU_ASSERT_EQUAL(r.nfailed, 0);
    const kr_sims_age_row *b = NULL;
    for (size_t i = 0; i < r.nages; i++) {
        const kr_sims_age_row *a = &r.ages[i];
        printf("  %-5s wmean %.1f +- %.1f Ma (MSWD %.2f, p %.2f, %d/%d, rejected '%s'); inverse isochron %.1f +- %.1f "
               "Ma (MSWD %.2f, n %d); normal %.1f +- %.1f Ma\n",
               a->group, a->wmean_age_ma, a->wmean_err_ma, a->wmean_mswd, a->wmean_p, a->n_used, a->n_spots,
               a->rejected, a->inv_age_ma, a->inv_age_err_ma, a->inv_mswd, a->inv_n, a->nrm_age_ma, a->nrm_age_err_ma);
        if (!strcmp(a->group, "CE6B")) b = a;
    }
    CU_ASSERT_PTR_NOT_NULL_FATAL(b);
    CU_ASSERT_EQUAL(b->n_spots, 30);
    /* 2 sigma: analytical (sqrt(MSWD)-inflated when p < 0.05) and the fractionation systematic; the
     * decay constants are the same in the generator and the reduction, so they do not enter */
    printf("  CE6B: |wmean - true| = %.1f Ma vs 2 sigma %.1f; |inverse - true| = %.1f vs %.1f; |normal - true| = %.1f "
           "vs %.1f\n",
           fabs(b->wmean_age_ma - age), 2 * hypot(b->wmean_err_inflated_ma, b->wmean_err_frac_ma),
           fabs(b->inv_age_ma - age), 2 * hypot(b->inv_age_err_inflated_ma, b->inv_age_err_frac_ma),
           fabs(b->nrm_age_ma - age), 2 * hypot(b->nrm_age_err_inflated_ma, b->nrm_age_err_frac_ma));
    CU_ASSERT(fabs(b->wmean_age_ma - age) <= 2 * hypot(b->wmean_err_inflated_ma, b->wmean_err_frac_ma));
    CU_ASSERT(fabs(b->inv_age_ma - age) <= 2 * hypot(b->inv_age_err_inflated_ma, b->inv_age_err_frac_ma));
    CU_ASSERT(fabs(b->nrm_age_ma - age) <= 2 * hypot(b->nrm_age_err_inflated_ma, b->nrm_age_err_frac_ma));
    kr_sims_result_free(&r);
    globfree(&g);
}

int main(void)
{
    const kr_test_case tests[] = {{"synthetic CE6 session recovers the true age", test_session}, {NULL, NULL}};
    return kr_test_run("sims_session", tests);
}
