/* kreep plan: the nightly work as a Slurm job-array script. */
#include "commands.h"
#include "error.h"
#include "ledger.h"
#include "nightly.h"
#include "slurm.h"
#include "stage.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kreep plan NIGHTLY.yaml --slurm JOBS.sh [--scan-interval S] [--index NIGHT.h5]\n"
            "                  [--partition P] [--time HH:MM:SS] [--mem-mb N]\n"
            "\n"
            "Decide what tonight's `kreep nightly` would run (same scan, ledger and hashes) and write it as a\n"
            "Slurm job-array script: one array task per run (kreep run ... -o PRODUCT), and, with --submit,\n"
            "a merge-and-QA task that depends on the array (kreep nightly --adopt records the products in the\n"
            "ledger, kreep merge -o NIGHT.h5 links them, kreep qa if built).\n"
            "Run it with `bash JOBS.sh --submit`; test a task with `SLURM_ARRAY_TASK_ID=0 bash JOBS.sh`.\n"

            "\n"
            "  --slurm JOBS.sh        the script to write\n"
            "  --index NIGHT.h5       the merge output (default <products>/night-YYYYMMDD.h5)\n"
            "  --scan-interval S      seconds between the readiness scans (default: nightly.scan_interval_s)\n"
            "  --partition, --time, --mem-mb   #SBATCH settings (default: the cluster's)\n"
            "  -h, --help             this help\n");
}

int cmd_plan(int argc, char **argv)
{
    int rc = KR_OK;
    const char *config = NULL, *script = NULL, *index = NULL, *partition = NULL, *tlimit = NULL;
    long mem = 0;
    double interval = -1;
    kr_nightly *nc = NULL;
    kr_ledger *lg = NULL;
    kr_nightly_plan plan = {0};
    FILE *out = NULL;
    char *tmp = NULL, *defidx = NULL, *logdir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int more = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return KR_OK;
        } else if (!strcmp(a, "--slurm") && more) {
            script = argv[++i];
        } else if (!strcmp(a, "--index") && more) {
            index = argv[++i];
        } else if (!strcmp(a, "--partition") && more) {
            partition = argv[++i];
        } else if (!strcmp(a, "--time") && more) {
            tlimit = argv[++i];
        } else if (!strcmp(a, "--mem-mb") && more) {
            mem = strtol(argv[++i], NULL, 10);
        } else if (!strcmp(a, "--scan-interval") && more) {
            interval = strtod(argv[++i], NULL);
        } else if (a[0] == '-' && a[1]) {
            return kr_err(KR_EUSAGE, "plan: unknown option '%s' or missing value (see kreep plan --help)", a);
        } else if (!config) {
            config = a;
        } else {
            return kr_err(KR_EUSAGE, "plan: one NIGHTLY.yaml only");
        }
    }
    if (!config || !script) {
        usage(stderr);
        return kr_err(KR_EUSAGE, "plan: %s", !config ? "missing NIGHTLY.yaml" : "missing --slurm JOBS.sh");
    }
    kr_log log;
    kr_log_init(&log, stderr, KR_LOG_AUTO);
    if ((rc = kr_nightly_load(config, &nc))) goto cleanup;
    if (interval >= 0) kr_nightly_set_scan_interval(nc, interval);
    const char *lp = kr_nightly_ledger_path(nc);
    if ((rc = kr_ledger_open(access(lp, F_OK) == 0 ? lp : ":memory:", &lg))) goto cleanup;
    size_t nstages;
    const kr_stage *const *stages = kr_stage_registry(&nstages);
    if ((rc = kr_nightly_make_plan(nc, lg, stages, nstages, 1, &log, &plan))) goto cleanup;
    char self[PATH_MAX];
    ssize_t ns = readlink("/proc/self/exe", self, sizeof self - 1);
    if (ns <= 0) {
        rc = kr_err(KR_EIO, "plan: cannot find the kreep executable's path");
        goto cleanup;
    }
    self[ns] = '\0';
    const char *prod = kr_nightly_products_dir(nc);
    char day[32];
    kr_ledger_now_utc(day, sizeof day);
    size_t n = strlen(prod) + 64;
    if (!(defidx = malloc(n)) || !(logdir = malloc(n)) || !(tmp = malloc(strlen(script) + 32))) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    snprintf(defidx, n, "%s/night-%.4s%.2s%.2s.h5", prod, day, day + 5, day + 8);
    snprintf(logdir, n, "%s/slurm-logs", prod);
    char cfgabs[PATH_MAX];
    if (!realpath(config, cfgabs)) {
        rc = kr_err(KR_EIO, "plan: %s: cannot resolve the path", config);
        goto cleanup;
    }
    kr_slurm_opts o = {self, cfgabs, index ? index : defidx, lp, logdir, partition, tlimit, mem};
    snprintf(tmp, strlen(script) + 32, "%s.tmp.%ld", script, (long)getpid());
    if (!(out = fopen(tmp, "w"))) {
        rc = kr_err(KR_EIO, "plan: cannot write %s", tmp);
        goto cleanup;
    }
    size_t nruns = 0;
    rc = kr_slurm_write(out, &plan, &o, &nruns);
    if (fclose(out) != 0 && !rc) rc = kr_err(KR_EIO, "plan: cannot write %s", tmp);
    out = NULL;
    if (rc) goto cleanup;
    chmod(tmp, 0755);
    if (rename(tmp, script) != 0) {
        rc = kr_err(KR_EIO, "plan: cannot rename %s to %s", tmp, script);
        goto cleanup;
    }
    size_t nskip = 0, nq = 0, nnr = 0;
    for (size_t i = 0; i < plan.n; i++) {
        const kr_nightly_job *j = &plan.jobs[i];
        if (j->action == KR_JOB_SKIP && j->reason) nskip++;
        if (j->action == KR_JOB_QUARANTINE || j->action == KR_JOB_ERROR) {
            nq++;
            printf("not planned  %s/%s: %s\n", j->instrument, j->name, j->reason);
        }
        if (j->action == KR_JOB_NOT_READY) nnr++;
    }
    printf("wrote %s: %zu array task(s) and a merge-and-QA task; %zu unchanged, %zu not ready, %zu bad (not "
           "planned)\n",
           script, nruns, nskip, nnr, nq);
cleanup:
    if (out) fclose(out);
    if (rc && tmp) unlink(tmp);
    free(tmp);
    free(defidx);
    free(logdir);
    kr_nightly_plan_free(&plan);
    kr_ledger_close(lg);
    kr_nightly_free(nc);
    return rc;
}
