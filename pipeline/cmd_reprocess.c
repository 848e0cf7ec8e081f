/* kreep reprocess: rerun past nightly runs from the ledger with a new config (--set), writing new
 * products beside the old ones and recording each run (kind "reprocess") with its new config hash. */
#include "commands.h"
#include "error.h"
#include "ledger.h"
#include "log.h"
#include "nightly.h"
#include "stage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kreep reprocess --ledger kreep.db [--since YYYY-MM-DD] [--set name=value ...]\n"
            "                       [--instrument NAME] [-o DIR] [--dry-run]\n"
            "\n"
            "Rerun the latest successful nightly run of every ledger entry reduced since the date, from the same\n"
            "template and inputs plus the --set overrides (a --set applies to the runs whose config has its\n"
            "section; run.* applies to all; a run no --set applies to is skipped). Each new product goes to\n"
            "DIR/<instrument>/<entry>.<config hash>.h5 (default DIR: a reprocess/ folder beside the ledger),\n"
            "never over an existing product; every run is recorded in the ledger (kind reprocess, new config\n"
            "hash). A run whose hash (inputs, calibration, effective config, version) was already reprocessed\n"
            "is skipped. Nightly state is not changed: edit the nightly template to make a change permanent.\n"
            "\n"
            "  --ledger FILE       the nightly ledger (SQLite)\n"
            "  --since DATE        runs finished on or after DATE (ISO 8601); default: all\n"
            "  --set name=value    override a parameter; repeatable\n"
            "  --instrument NAME   only this instrument's runs\n"
            "  -o, --output DIR    where the new products go\n"
            "  --dry-run           print what would run\n"
            "exit status: 0 all rerun (or nothing to do), 1 bad ledger or usage, 3 some reruns failed\n");
}

/* The --set strings that apply to a config with these sections. */
static int applies(const char *set, const char *template_path, char *const *ov, size_t nov,
                   const kr_stage *const *stages, size_t nstages, int *yes)
{
    *yes = 0;
    const char *dot = strchr(set, '.');
    if (!dot) return kr_err(KR_EUSAGE, "reprocess: --set %s: expected section.name=value", set);
    size_t ls = (size_t)(dot - set);
    if (ls == 3 && !strncmp(set, "run", 3)) {
        *yes = 1;
        return KR_OK;
    }
    kr_param_table *t = calloc(nstages + 1, sizeof *t);
    kr_config *cfg = NULL;
    if (!t) return kr_err(KR_ENOMEM, "out of memory");
    t[0] = kr_run_params;
    for (size_t i = 0; i < nstages; i++) t[i + 1] = *stages[i]->params;
    int rc = kr_config_load(template_path, t, nstages + 1, ov, nov, &cfg);
    if (!rc) {
        char sec[64];
        snprintf(sec, sizeof sec, "%.*s", (int)(ls < 63 ? ls : 63), set);
        *yes = kr_config_has_section(cfg, sec);
    }
    kr_config_free(cfg);
    free(t);
    return rc;
}

static int split_lines(const char *text, char ***out, size_t *n, size_t *cap)
{
    const char *s = text ? text : "";
    while (*s) {
        const char *e = strchr(s, '\n');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (*n == *cap) {
            size_t nc = *cap ? 2 * *cap : 8;
            char **nv = realloc(*out, nc * sizeof *nv);
            if (!nv) return kr_err(KR_ENOMEM, "out of memory");
            *out = nv;
            *cap = nc;
        }
        if (!((*out)[*n] = strndup(s, l))) return kr_err(KR_ENOMEM, "out of memory");
        (*n)++;
        s += l + (e != NULL);
    }
    return KR_OK;
}

static int mkdirs(const char *path)
{
    char *p = strdup(path);
    if (!p) return kr_err(KR_ENOMEM, "out of memory");
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s) continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            int rc = kr_err(KR_EIO, "%s: cannot create the folder: %s", p, strerror(errno));
            free(p);
            return rc;
        }
        *s = c;
        if (!c) break;
    }
    free(p);
    return KR_OK;
}

/* Rerun one ledger run. *outcome: "done", "partial", "failed", "skipped" (or "would run" when dry). */
static int reprocess_one(kr_ledger *lg, const kr_ledger_run *old, char *const *sets, size_t nsets, const char *outdir,
                         int dry, const kr_stage *const *stages, size_t nstages, kr_log *log, const char *calib_hex,
                         const char **outcome, char *msg, size_t msglen)
{
    int rc = KR_OK;
    char **ov = NULL;
    size_t nov = 0, cap = 0;
    char *product = NULL, *dir = NULL, *prev = NULL;
    char cfg_hex[KR_SHA256_HEX], in_hex[KR_SHA256_HEX];
    kr_ledger_run r = {0};
    *outcome = "failed";
    msg[0] = '\0';
    if ((rc = split_lines(old->overrides, &ov, &nov, &cap))) goto cleanup;
    size_t nbase = nov;
    for (size_t i = 0; i < nsets; i++) {
        int yes = 0;
        if ((rc = applies(sets[i], old->template_path, ov, nbase, stages, nstages, &yes))) goto cleanup;
        if (!yes) continue;
        if (nov == cap) {
            size_t nc = cap ? 2 * cap : 8;
            char **nv = realloc(ov, nc * sizeof *nv);
            if (!nv) {
                rc = kr_err(KR_ENOMEM, "out of memory");
                goto cleanup;
            }
            ov = nv;
            cap = nc;
        }
        if (!(ov[nov++] = strdup(sets[i]))) {
            rc = kr_err(KR_ENOMEM, "out of memory");
            goto cleanup;
        }
    }
    if (nsets && nov == nbase) {
        *outcome = "skipped";
        snprintf(msg, msglen, "no --set applies to this run's sections");
        goto cleanup;
    }
    if ((rc = kr_nightly_config_hash(old->template_path, ov, nov, stages, nstages, cfg_hex))) goto cleanup;
    if ((rc = kr_nightly_hash_entry(lg, old->path, in_hex))) goto cleanup;
    if ((rc = kr_nightly_run_hash(calib_hex, cfg_hex, in_hex, r.run_hash))) goto cleanup;
    memcpy(r.config_hash, cfg_hex, sizeof r.config_hash);
    const char *slash = strrchr(old->path, '/');
    const char *name = slash ? slash + 1 : old->path;
    size_t n = strlen(outdir) + strlen(old->instrument) + strlen(name) + 40;
    if (!(dir = malloc(n)) || !(product = malloc(n))) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    snprintf(dir, n, "%s/%s", outdir, old->instrument);
    snprintf(product, n, "%s/%s.%.12s.h5", dir, name, cfg_hex);
    int found = 0;
    if ((rc = kr_ledger_run_exists(lg, old->instrument, old->path, "reprocess", r.run_hash, &found, &prev)))
        goto cleanup;
    if (found && prev && access(prev, F_OK) == 0) {
        *outcome = "skipped";
        snprintf(msg, msglen, "already reprocessed with this config: %s", prev);
        goto cleanup;
    }
    if (dry) {
        *outcome = "would run";
        snprintf(msg, msglen, "-> %s", product);
        goto cleanup;
    }
    if ((rc = mkdirs(dir))) goto cleanup;
    if (access(product, F_OK) == 0) {
        /* same config hash but other inputs or software: keep the old file, number the new one */
        for (int k = 2; k < 1000 && access(product, F_OK) == 0; k++)
            snprintf(product, n, "%s/%s.%.12s.%d.h5", dir, name, cfg_hex, k);
    }
    r.instrument = old->instrument;
    r.path = old->path;
    r.kind = "reprocess";
    r.template_path = old->template_path;
    r.product = product;
    r.software_version = KREEP_VERSION;
    kr_ledger_run tmp = r;
    char *joined = NULL;
    {
        size_t total = 1;
        for (size_t i = 0; i < nov; i++) total += strlen(ov[i]) + 1;
        if (!(joined = calloc(total, 1))) {
            rc = kr_err(KR_ENOMEM, "out of memory");
            goto cleanup;
        }
        for (size_t i = 0; i < nov; i++) {
            if (i) strcat(joined, "\n");
            strcat(joined, ov[i]);
        }
    }
    tmp.overrides = joined;
    rc = kr_ledger_run_start(lg, &tmp);
    free(joined);
    if (rc) goto cleanup;
    int rr = kr_run_pipeline(old->template_path, product, ov, nov, stages, nstages, log);
    if (rr) {
        kr_err_format(msg, msglen);
        kr_err_clear();
    } else {
        snprintf(msg, msglen, "-> %s", product);
    }
    *outcome = rr == KR_OK ? "done" : rr == KR_EPARTIAL ? "partial" : "failed";
    rc = kr_ledger_run_finish(lg, tmp.id, *outcome, rr ? msg : NULL, (rr == KR_OK || rr == KR_EPARTIAL) ? product : NULL,
                              NULL, NULL, 0, 0);
    if (rr == KR_EPARTIAL) {
        char m2[1024];
        snprintf(m2, sizeof m2, "-> %s", product);
        size_t l = strlen(m2);
        snprintf(m2 + l, sizeof m2 - l, " (some samples failed)");
        snprintf(msg, msglen, "%s", m2);
    }
cleanup:
    for (size_t i = 0; i < nov; i++) free(ov[i]);
    free(ov);
    free(product);
    free(dir);
    free(prev);
    return rc;
}

int cmd_reprocess(int argc, char **argv)
{
    int rc = KR_OK, dry = 0;
    const char *ledger = NULL, *since = "", *only = NULL, *outdir = NULL;
    char **sets = calloc((size_t)argc + 1, sizeof *sets);
    size_t nsets = 0;
    kr_ledger *lg = NULL;
    kr_ledger_run *runs = NULL;
    size_t nruns = 0;
    char *defdir = NULL;
    if (!sets) return kr_err(KR_ENOMEM, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            goto cleanup;
        } else if (!strcmp(a, "--ledger") && more) {
            ledger = argv[++i];
        } else if (!strcmp(a, "--since") && more) {
            since = argv[++i];
        } else if (!strcmp(a, "--set") && more) {
            sets[nsets++] = argv[++i];
        } else if (!strncmp(a, "--set=", 6)) {
            sets[nsets++] = argv[i] + 6;
        } else if (!strcmp(a, "--instrument") && more) {
            only = argv[++i];
        } else if ((!strcmp(a, "-o") || !strcmp(a, "--output")) && more) {
            outdir = argv[++i];
        } else if (!strcmp(a, "--dry-run")) {
            dry = 1;
        } else {
            rc = kr_err(KR_EUSAGE, "reprocess: unknown option '%s' or missing value (see kreep reprocess --help)", a);
            goto cleanup;
        }
    }
    if (!ledger) {
        usage(stderr);
        rc = kr_err(KR_EUSAGE, "reprocess: missing --ledger FILE");
        goto cleanup;
    }
    if (access(ledger, R_OK) != 0) {
        rc = kr_err(KR_EINPUT, "reprocess: %s: no such ledger", ledger);
        goto cleanup;
    }
    if (!outdir) {
        const char *s = strrchr(ledger, '/');
        size_t n = (s ? (size_t)(s - ledger) : 1) + 16;
        if (!(defdir = malloc(n))) {
            rc = kr_err(KR_ENOMEM, "out of memory");
            goto cleanup;
        }
        snprintf(defdir, n, "%.*s/reprocess", s ? (int)(s - ledger) : 1, s ? ledger : ".");
        outdir = defdir;
    }
    kr_log log;
    kr_log_init(&log, stderr, KR_LOG_AUTO);
    size_t nstages;
    const kr_stage *const *stages = kr_stage_registry(&nstages);
    char calib_hex[KR_SHA256_HEX];
    if ((rc = kr_nightly_calib_hash(calib_hex))) goto cleanup;
    if ((rc = kr_ledger_open(ledger, &lg))) goto cleanup;
    if ((rc = kr_ledger_runs_since(lg, "nightly", since, &runs, &nruns))) goto cleanup;
    size_t ndone = 0, nfail = 0, nskip = 0, nconsidered = 0;
    for (size_t i = 0; i < nruns; i++) {
        if (only && strcmp(runs[i].instrument, only)) continue;
        nconsidered++;
        const char *outcome;
        char msg[2048];
        if ((rc = reprocess_one(lg, &runs[i], sets, nsets, outdir, dry, stages, nstages, &log, calib_hex, &outcome, msg,
                                sizeof msg))) {
            /* the entry itself is the problem (moved, unreadable): report it, go on */
            kr_err_format(msg, sizeof msg);
            kr_err_clear();
            rc = KR_OK;
            outcome = "failed";
        }
        if (!strcmp(outcome, "failed")) nfail++;
        else if (!strcmp(outcome, "skipped")) nskip++;
        else ndone++;
        printf("%-10s %s/%s: %s\n", outcome, runs[i].instrument,
               strrchr(runs[i].path, '/') ? strrchr(runs[i].path, '/') + 1 : runs[i].path, msg);
    }
    printf("reprocess: %zu run(s) since '%s': %zu %s, %zu skipped (already done or not affected), %zu failed\n",
           nconsidered, since, ndone,
           dry ? "would run" : "rerun", nskip, nfail);
    if (nfail) rc = kr_err(KR_EPARTIAL, "reprocess: %zu rerun(s) failed (recorded in %s)", nfail, ledger);
cleanup:
    kr_ledger_runs_free(runs, nruns);
    kr_ledger_close(lg);
    free(defdir);
    free(sets);
    return rc;
}
