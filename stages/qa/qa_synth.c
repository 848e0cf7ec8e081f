/* Generated QA sessions (tests, scripts/render-qa): products with the three QA tables plus a ledger.
 * Reference values come from calib/ (LA-ICP-MS glasses, SIMS Temora); the session-to-session scatter,
 * the standard intensities and the out-of-control shift are the generator's own choices. */
#include "qa.h"

#include "calib.h"
#include "error.h"
#include "ledger.h"
#include "product.h"
#include "table.h"
#include "text.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char material[32], element[16];
    double mean_ug_g, rsd_pct, bias_pct, z, zeta;
} rm_row;
static const kr_column RM_COLS[] = {
    KR_COL_S(rm_row, material, "reference glass"),
    KR_COL_S(rm_row, element, "analyte"),
    KR_COL_D(rm_row, mean_ug_g, "ug/g", "session mean"),
    KR_COL_D(rm_row, rsd_pct, "%", "relative standard deviation of the spots"),
    KR_COL_D(rm_row, bias_pct, "%", "(mean - reference) / reference"),
    KR_COL_D(rm_row, z, "", "z score"),
    KR_COL_D(rm_row, zeta, "", "zeta score"),
};
static const kr_table_desc RM_DESC = KR_TABLE(RM_COLS, rm_row);

typedef struct {
    char element[4];
    int point_index;
    double std_net_cps_na;
} ep_row;
static const kr_column EP_COLS[] = {
    KR_COL_S(ep_row, element, "element"),
    KR_COL_INT(ep_row, point_index, "", "1-based point order"),
    KR_COL_D(ep_row, std_net_cps_na, "cps/nA", "net rate per nA of the standard"),
};
static const kr_table_desc EP_DESC = KR_TABLE(EP_COLS, ep_row);

typedef struct {
    char group[32];
    double wmean_age_ma, wmean_err_ma;
} age_row;
static const kr_column AGE_COLS[] = {
    KR_COL_S(age_row, group, "group"),
    KR_COL_D(age_row, wmean_age_ma, "Ma", "weighted mean 207Pb/206Pb age"),
    KR_COL_D(age_row, wmean_err_ma, "Ma", "1 sigma"),
};
static const kr_table_desc AGE_DESC = KR_TABLE(AGE_COLS, age_row);

/* Glasses and analytes of the generated sessions (values and 1s looked up in calib/). */
static const char *const GLASSES[2] = {"BCR-2G", "BHVO-2G"};
static const char *const ANALYTES[4] = {"Sr", "Ba", "La", "Pb"};
/* Generator choices: session-to-session scatter (1s, %), spot RSD (%), EPMA standard rates (cps/nA). */
enum { N_EP = 4, N_EP_POINTS = 12 };
static const char *const EP_EL[N_EP] = {"Si", "Ca", "Fe", "Mg"};
static const double EP_RATE[N_EP] = {310.0, 145.0, 88.0, 205.0};
static const double SCATTER_PCT = 2.0, SPOT_RSD_PCT = 3.0;

static int glass_ref(const kr_text *t, const char *material, const char *analyte, double *value, double *unc)
{
    kr_text copy;
    int rc = kr_text_from_mem("laicpms_reference_materials.csv", t->data, t->len, &copy);
    if (rc) return rc;
    kr_lines it;
    kr_lines_init(&it, &copy);
    char *line, *f[8];
    rc = kr_err(KR_EINPUT, "calib/laicpms_reference_materials.csv: no %s %s", material, analyte);
    while ((line = kr_lines_next(&it))) {
        if (line[0] == '#' || kr_split(line, ',', f, 8) < 4) continue;
        if (strcmp(f[0], material) || strcmp(f[1], analyte)) continue;
        if (!kr_parse_double(f[2], value) && !kr_parse_double(f[3], unc)) {
            kr_err_clear();
            rc = KR_OK;
        }
        break;
    }
    kr_text_free(&copy);
    return rc;
}

static int write_session(const char *path, const kr_text *refs, const kr_constants *sims, gsl_rng *r, int bad)
{
    kr_product *p = NULL;
    rm_row rm[8];
    ep_row ep[N_EP * N_EP_POINTS];
    age_row age[2];
    int rc = kr_product_open(path, &p);
    if (rc) return rc;
    double shift = bad ? 6.0 * SCATTER_PCT : 0.0; /* out of control: +6 sigma on every glass */
    for (int g = 0; g < 2; g++)
        for (int a = 0; a < 4; a++) {
            rm_row *w = &rm[g * 4 + a];
            double ref, unc;
            if ((rc = glass_ref(refs, GLASSES[g], ANALYTES[a], &ref, &unc))) goto cleanup;
            memset(w, 0, sizeof *w);
            snprintf(w->material, sizeof w->material, "%s", GLASSES[g]);
            snprintf(w->element, sizeof w->element, "%s", ANALYTES[a]);
            double bias = shift + gsl_ran_gaussian(r, SCATTER_PCT);
            w->mean_ug_g = ref * (1 + bias / 100);
            w->rsd_pct = SPOT_RSD_PCT * (1 + 0.2 * gsl_ran_gaussian(r, 1.0));
            w->bias_pct = bias;
            w->z = bias / SCATTER_PCT;                      /* z = (x - ref) / sigma_target (ISO 13528 eq. 19) */
            double u = ref * SCATTER_PCT / 100; /* uncertainty of a session mean: the long-term reproducibility */
            w->zeta = (w->mean_ug_g - ref) / sqrt(u * u + unc * unc); /* ISO 13528:2015 eq. 21 */
        }
    for (int e = 0; e < N_EP; e++) {
        double level = EP_RATE[e] * (1 + gsl_ran_gaussian(r, 0.004)) * (bad ? 0.94 : 1.0);
        for (int k = 0; k < N_EP_POINTS; k++) {
            ep_row *w = &ep[e * N_EP_POINTS + k];
            memset(w, 0, sizeof *w);
            snprintf(w->element, sizeof w->element, "%s", EP_EL[e]);
            w->point_index = k + 1;
            /* slow within-session drift of -0.05 % per point plus counting noise */
            w->std_net_cps_na = level * (1 - 0.0005 * k) * (1 + gsl_ran_gaussian(r, 0.002));
        }
    }
    double tem, tem_unc;
    if ((rc = kr_constant_get(sims, "temora", &tem, &tem_unc))) goto cleanup;
    memset(age, 0, sizeof age);
    snprintf(age[0].group, sizeof age[0].group, "Temora");
    age[0].wmean_err_ma = 2.0;
    age[0].wmean_age_ma = tem + gsl_ran_gaussian(r, 2.0) + (bad ? 14.0 : 0.0);
    snprintf(age[1].group, sizeof age[1].group, "CE6B");
    age[1].wmean_age_ma = 3100.0 + gsl_ran_gaussian(r, 5.0);
    age[1].wmean_err_ma = 5.0;
    if ((rc = kr_product_write_table(p, "qa/reference_materials", &RM_DESC, rm, 8)) ||
        (rc = kr_product_write_table(p, "epma/points", &EP_DESC, ep, N_EP * N_EP_POINTS)) ||
        (rc = kr_product_write_table(p, "sims/ages", &AGE_DESC, age, 2)))
        goto cleanup;
    rc = kr_product_commit(p);
    p = NULL;
cleanup:
    if (p) kr_product_abort(p);
    return rc;
}

int kr_qa_synth(const char *dir, const char *ledger_path, int nsessions, int bad, unsigned long seed)
{
    kr_text refs = {0};
    kr_constants sims = {0};
    kr_ledger *lg = NULL;
    gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
    if (!r) return kr_err(KR_ENOMEM, "out of memory");
    gsl_rng_set(r, seed);
    int rc = kr_calib_text("laicpms_reference_materials.csv", &refs);
    if (!rc) rc = kr_constants_load("sims_reference_materials.csv", &sims);
    if (!rc) rc = kr_ledger_open(ledger_path, &lg);
    for (int s = 0; s < nsessions && !rc; s++) {
        char path[1024], inbox[64], product[1100];
        snprintf(inbox, sizeof inbox, "inbox/session_%02d", s + 1);
        snprintf(path, sizeof path, "%s/qa_session_%02d.h5", dir, s + 1);
        snprintf(product, sizeof product, "%s", path);
        char instrument[] = "laicpms", kind[] = "nightly";
        kr_ledger_run run = {0};
        run.instrument = instrument;
        run.path = inbox;
        run.kind = kind;
        run.product = product;
        if ((rc = write_session(path, &refs, &sims, r, s == bad))) break;
        if ((rc = kr_ledger_run_start(lg, &run))) break;
        rc = kr_ledger_run_finish(lg, run.id, "done", NULL, product, NULL, NULL, 0, 0);
    }
    if (!rc) {
        /* one failed run (a corrupt export): the report must list it */
        char instrument[] = "epma", kind[] = "nightly", inbox[] = "inbox/session_corrupt";
        kr_ledger_run run = {0};
        run.instrument = instrument;
        run.path = inbox;
        run.kind = kind;
        if (!(rc = kr_ledger_run_start(lg, &run)))
            rc = kr_ledger_run_finish(lg, run.id, "failed", "data001.qnt:12: expected a number, found 'x!'", NULL, NULL, NULL, 0, 0);
    }
    kr_ledger_close(lg);
    kr_constants_free(&sims);
    kr_text_free(&refs);
    gsl_rng_free(r);
    return rc;
}
