/* kreep nightly: scan the inboxes, reduce what is new or changed, quarantine what is bad, report. */
#include "commands.h"
#include "error.h"
#include "log.h"
#include "nightly.h"
#include "stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kreep nightly NIGHTLY.yaml [--dry-run] [--scan-interval S] [--jobs N] [--adopt] [--log-json]\n"
            "\n"
            "Scan each instrument's inbox (every file or session folder is one run), reduce the entries whose\n"
            "inputs, calibration, effective config or software version changed since the ledger last saw them,\n"
            "quarantine bad entries (the night goes on) and print one line per entry and a summary.\n"
            "An entry is ready when its size and mtime are stable across two scans S seconds apart, or when\n"
            "its ready marker exists. A lock keeps a second nightly from starting while one runs.\n"
            "\n"
            "  --dry-run            print what would run and why; change nothing\n"
            "  --scan-interval S    seconds between the two readiness scans (overrides nightly.scan_interval_s)\n"
            "  -j, --jobs N         runs at once, each in its own process (overrides nightly.jobs; default 1)\n"
            "  --adopt              record the products that `kreep plan`'s Slurm tasks wrote (same config hash and\n"
            "                       version, newer than the entry) instead of running; leave the rest\n"
            "  --log-json           log events as JSON lines on stderr\n"
            "  -h, --help           this help\n"
            "\n"
            "config/nightly.example.yaml documents NIGHTLY.yaml.\n"
            "exit status: 0 all good (or nothing to do), 1 bad config or lock held, 2 usage,\n"
            "             3 something was quarantined, failed or only partly reduced\n");
}

int cmd_nightly(int argc, char **argv)
{
    int rc = KR_OK, json = 0, dry = 0, adopt = 0;
    double interval = -1;
    long jobs = 0;
    const char *config = NULL;
    kr_nightly *nc = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return KR_OK;
        } else if (!strcmp(a, "--dry-run")) {
            dry = 1;
        } else if (!strcmp(a, "--adopt")) {
            adopt = 1;
        } else if (!strcmp(a, "--log-json")) {
            json = 1;
        } else if (!strcmp(a, "--scan-interval")) {
            char *end = NULL;
            if (++i >= argc || (interval = strtod(argv[i], &end)) < 0 || !end || *end)
                return kr_err(KR_EUSAGE, "nightly: --scan-interval needs a number of seconds >= 0");
        } else if (!strcmp(a, "--jobs") || !strcmp(a, "-j")) {
            char *end = NULL;
            if (++i >= argc || (jobs = strtol(argv[i], &end, 10)) < 1 || jobs > 256 || !end || *end)
                return kr_err(KR_EUSAGE, "nightly: --jobs needs a number of runs at once, 1 to 256");
        } else if (a[0] == '-' && a[1]) {
            return kr_err(KR_EUSAGE, "nightly: unknown option '%s' (see kreep nightly --help)", a);
        } else if (!config) {
            config = a;
        } else {
            return kr_err(KR_EUSAGE, "nightly: one NIGHTLY.yaml only (got '%s' and '%s')", config, a);
        }
    }
    if (!config) {
        usage(stderr);
        return kr_err(KR_EUSAGE, "nightly: missing NIGHTLY.yaml");
    }
    kr_log log;
    kr_log_init(&log, stderr, json ? KR_LOG_JSON : KR_LOG_AUTO);
    if ((rc = kr_nightly_load(config, &nc))) goto cleanup;
    if (interval >= 0) kr_nightly_set_scan_interval(nc, interval);
    if (jobs > 0) kr_nightly_set_jobs(nc, jobs);
    size_t nstages;
    const kr_stage *const *stages = kr_stage_registry(&nstages);
    kr_nightly_opts opts = {dry, stdout, &log, adopt};
    kr_nightly_summary sum;
    rc = kr_nightly_run_loaded(nc, &opts, stages, nstages, &sum);
    fflush(stdout);
cleanup:
    kr_log_error_chain(&log, rc);
    kr_nightly_free(nc);
    return rc;
}
