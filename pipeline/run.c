/* Run orchestration: config -> stages in dependency order -> one product (see stage.h). */
#include "stage.h"

#include "error.h"
#include "provenance.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const kr_param RUN_PARAMS[] = {
    {"run.name", KR_PT_STRING, NULL, "", 1, 0, NULL, "name of the run (session, batch); written as the root attribute run_name"},
    {"run.operator", KR_PT_STRING, NULL, "", 1, 0, NULL, "who acquired or reduced the data"},
    {"run.lab", KR_PT_STRING, NULL, "", 1, 0, NULL, "laboratory and instrument"},
    {"run.date", KR_PT_STRING, NULL, "", 1, 0, NULL, "date of the analytical session (ISO 8601, e.g. 2026-03-14)"},
    {"run.notes", KR_PT_STRING, NULL, "", 1, 0, NULL, "free text kept in the provenance"},
    {"run.max_failed_samples", KR_PT_INT, "-1", "", -1, 1e9, NULL,
     "more failed samples than this fail the whole run (exit 1, no product); -1: no limit (exit 3)"},
};
const kr_param_table kr_run_params = {"run", RUN_PARAMS, sizeof RUN_PARAMS / sizeof RUN_PARAMS[0]};

typedef struct {
    char *sample, *quantity;
    double value, sd;
} sample_value;

typedef struct {
    char *stage, *sample, *message;
} failure;

struct kr_run_ctx {
    kr_log *log;
    kr_log quiet;
    sample_value *vals;
    size_t nvals, capvals;
    failure *fails;
    size_t nfails, capfails;
};

int kr_run_ctx_new(kr_log *log, kr_run_ctx **out)
{
    kr_run_ctx *c = calloc(1, sizeof *c);
    *out = c;
    if (!c) return kr_err(KR_ENOMEM, "out of memory");
    kr_log_init(&c->quiet, stderr, KR_LOG_QUIET);
    c->log = log ? log : &c->quiet;
    return KR_OK;
}

void kr_run_ctx_free(kr_run_ctx *ctx)
{
    if (!ctx) return;
    for (size_t i = 0; i < ctx->nvals; i++) {
        free(ctx->vals[i].sample);
        free(ctx->vals[i].quantity);
    }
    for (size_t i = 0; i < ctx->nfails; i++) {
        free(ctx->fails[i].stage);
        free(ctx->fails[i].sample);
        free(ctx->fails[i].message);
    }
    free(ctx->vals);
    free(ctx->fails);
    free(ctx);
}

kr_log *kr_run_log(kr_run_ctx *ctx) { return ctx->log; }

int kr_run_set_sample_value(kr_run_ctx *ctx, const char *sample, const char *quantity, double value, double sd)
{
    for (size_t i = 0; i < ctx->nvals; i++)
        if (!strcmp(ctx->vals[i].sample, sample) && !strcmp(ctx->vals[i].quantity, quantity)) {
            ctx->vals[i].value = value;
            ctx->vals[i].sd = sd;
            return KR_OK;
        }
    if (ctx->nvals == ctx->capvals) {
        size_t cap = ctx->capvals ? 2 * ctx->capvals : 64;
        sample_value *v = realloc(ctx->vals, cap * sizeof *v);
        if (!v) return kr_err(KR_ENOMEM, "out of memory");
        ctx->vals = v;
        ctx->capvals = cap;
    }
    sample_value *v = &ctx->vals[ctx->nvals];
    v->sample = strdup(sample);
    v->quantity = strdup(quantity);
    if (!v->sample || !v->quantity) {
        free(v->sample);
        free(v->quantity);
        return kr_err(KR_ENOMEM, "out of memory");
    }
    v->value = value;
    v->sd = sd;
    ctx->nvals++;
    return KR_OK;
}

int kr_run_get_sample_value(const kr_run_ctx *ctx, const char *sample, const char *quantity, double *value,
                            double *sd)
{
    for (size_t i = 0; i < ctx->nvals; i++)
        if (!strcmp(ctx->vals[i].sample, sample) && !strcmp(ctx->vals[i].quantity, quantity)) {
            if (value) *value = ctx->vals[i].value;
            if (sd) *sd = ctx->vals[i].sd;
            return 1;
        }
    return 0;
}

int kr_run_sample_failed(kr_run_ctx *ctx, const char *stage, const char *sample, const char *message)
{
    if (ctx->nfails == ctx->capfails) {
        size_t cap = ctx->capfails ? 2 * ctx->capfails : 16;
        failure *f = realloc(ctx->fails, cap * sizeof *f);
        if (!f) return kr_err(KR_ENOMEM, "out of memory");
        ctx->fails = f;
        ctx->capfails = cap;
    }
    failure *f = &ctx->fails[ctx->nfails];
    f->stage = strdup(stage ? stage : "");
    f->sample = strdup(sample ? sample : "");
    f->message = strdup(message ? message : "");
    if (!f->stage || !f->sample || !f->message) {
        free(f->stage);
        free(f->sample);
        free(f->message);
        return kr_err(KR_ENOMEM, "out of memory");
    }
    ctx->nfails++;
    kr_log_warn(ctx->log, stage, "sample %s failed: %s", f->sample, f->message);
    return KR_OK;
}

size_t kr_run_nfailures(const kr_run_ctx *ctx) { return ctx->nfails; }

int kr_run_failure(const kr_run_ctx *ctx, size_t i, const char **stage, const char **sample, const char **message)
{
    if (i >= ctx->nfails) return 0;
    if (stage) *stage = ctx->fails[i].stage;
    if (sample) *sample = ctx->fails[i].sample;
    if (message) *message = ctx->fails[i].message;
    return 1;
}

static int write_failures(const kr_run_ctx *ctx, kr_product *prod)
{
    kr_failure_row *rows = calloc(ctx->nfails ? ctx->nfails : 1, sizeof *rows);
    if (!rows) return kr_err(KR_ENOMEM, "out of memory");
    for (size_t i = 0; i < ctx->nfails; i++) {
        snprintf(rows[i].stage, sizeof rows[i].stage, "%s", ctx->fails[i].stage);
        snprintf(rows[i].sample, sizeof rows[i].sample, "%s", ctx->fails[i].sample);
        snprintf(rows[i].message, sizeof rows[i].message, "%s", ctx->fails[i].message);
    }
    int rc = kr_product_write_table(prod, "provenance/failures", &kr_failure_desc, rows, ctx->nfails);
    free(rows);
    return rc;
}

int kr_run_pipeline(const char *config_path, const char *out_path, char *const *overrides, size_t noverrides,
                    const kr_stage *const *stages, size_t nstages, kr_log *log)
{
    int rc = KR_OK;
    kr_param_table *tables = NULL;
    kr_config *cfg = NULL;
    kr_run_ctx *ctx = NULL;
    kr_product *prod = NULL;
    size_t nrun = 0;
    tables = calloc(nstages + 1, sizeof *tables);
    if (!tables) return kr_err(KR_ENOMEM, "out of memory");
    tables[0] = kr_run_params;
    for (size_t i = 0; i < nstages; i++) {
        if (!stages[i] || !stages[i]->params || strcmp(stages[i]->params->stage, stages[i]->name)) {
            rc = kr_err(KR_EINPUT, "internal: stage %zu has no parameter table named after it", i);
            goto cleanup;
        }
        tables[i + 1] = *stages[i]->params;
    }
    if ((rc = kr_config_load(config_path, tables, nstages + 1, overrides, noverrides, &cfg))) goto cleanup;
    for (size_t i = 0; i < nstages; i++) nrun += (size_t)kr_config_has_section(cfg, stages[i]->name);
    if (nrun == 0) {
        char names[256] = "";
        for (size_t i = 0; i < nstages; i++)
            snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", stages[i]->name);
        rc = kr_err(KR_EINPUT, "%s: no stage to run: the config has none of the sections %s", config_path, names);
        goto cleanup;
    }
    if ((rc = kr_run_ctx_new(log, &ctx))) goto cleanup;
    if ((rc = kr_product_open(out_path, &prod))) goto cleanup;
    if ((rc = kr_product_set_config_from(prod, cfg)) || (rc = kr_product_add_input(prod, "config", config_path)) ||
        (rc = kr_provenance_add_calib_files(prod)))
        goto cleanup;
    const char *name = kr_config_string(cfg, "run.name");
    if (name && (rc = kr_product_attr_string(prod, "/", "run_name", name))) goto cleanup;
    int partial = 0;
    for (size_t i = 0; i < nstages; i++) {
        if (!kr_config_has_section(cfg, stages[i]->name)) continue;
        kr_log_info(kr_run_log(ctx), stages[i]->name, "reducing");
        int src = stages[i]->run(cfg, ctx, prod);
        kr_log_progress_end(kr_run_log(ctx));
        if (src == KR_EPARTIAL) {
            partial = 1;
        } else if (src != KR_OK) {
            const char *fst = "", *fsa = "", *fmsg = "";
            if (kr_run_failure(ctx, 0, &fst, &fsa, &fmsg)) /* the sample failures that led here, if any */
                rc = kr_err(src, "stage %s failed; %s not written (%zu sample(s) had failed; first: %s sample %s: %s)",
                            stages[i]->name, out_path, kr_run_nfailures(ctx), fst, fsa, fmsg);
            else
                rc = kr_err(src, "stage %s failed; %s not written (any previous file there is unchanged)",
                            stages[i]->name, out_path);
            goto cleanup;
        }
    }
    size_t nfail = kr_run_nfailures(ctx);
    long maxfail = kr_config_long(cfg, "run.max_failed_samples");
    if (maxfail >= 0 && nfail > (size_t)maxfail) {
        const char *st = "", *sa = "", *msg = "";
        kr_run_failure(ctx, 0, &st, &sa, &msg);
        rc = kr_err(KR_EINPUT, "%zu sample(s) failed, more than run.max_failed_samples = %ld; %s not written "
                               "(first: %s sample %s: %s)", nfail, maxfail, out_path, st, sa, msg);
        goto cleanup;
    }
    if (nfail && (rc = write_failures(ctx, prod))) goto cleanup;
    rc = kr_product_commit(prod);
    prod = NULL;
    if (rc) goto cleanup;
    kr_log_info(kr_run_log(ctx), NULL, "wrote %s", out_path);
    if (nfail || partial) {
        const char *st = "", *sa = "", *msg = "";
        kr_run_failure(ctx, 0, &st, &sa, &msg);
        if (nfail)
            rc = kr_err(KR_EPARTIAL, "%s written, but %zu sample(s) failed (listed in /provenance/failures); first: "
                                     "%s sample %s: %s", out_path, nfail, st, sa, msg);
        else
            rc = kr_err(KR_EPARTIAL, "%s written, but some samples failed", out_path);
    }
cleanup:
    if (prod) kr_product_abort(prod);
    kr_run_ctx_free(ctx);
    kr_config_free(cfg);
    free(tables);
    return rc;
}
