/* kreep run: one run.yaml -> one HDF5 product. Holds the stage registry (executable only). */
#include "commands.h"
#include "error.h"
#include "log.h"
#include "stage.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Defined by the stages (stages/<name>/). */
extern const kr_stage kr_epma_stage;
extern const kr_stage kr_laicpms_stage;
extern const kr_stage kr_sims_stage;

/* Dependency order: LA-ICP-MS uses EPMA's per-sample means as internal standard. */
static const kr_stage *const STAGES[] = {&kr_epma_stage, &kr_laicpms_stage, &kr_sims_stage};

const kr_stage *const *kr_stage_registry(size_t *n)
{
    *n = sizeof STAGES / sizeof STAGES[0];
    return STAGES;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: kreep run RUN.yaml -o OUT.h5 [--set name=value ...] [--log-json]\n"
            "\n"
            "Reduce one run: validate RUN.yaml against every stage's parameters, run the stages whose\n"
            "section is present (epma -> laicpms -> sims) and write one HDF5 product atomically.\n"
            "\n"
            "  -o, --output OUT.h5   the product (written as OUT.h5.tmp.PID, then renamed)\n"
            "  --set name=value      override a parameter (e.g. --set epma.model=pap); repeatable\n"
            "  --log-json            log events as JSON lines on stderr\n"
            "  -h, --help            this help\n"
            "\n"
            "Paths in RUN.yaml are relative to its folder. `kreep config --defaults` lists every parameter.\n"
            "exit status: 0 success, 1 bad input or config (nothing written), 2 usage,\n"
            "             3 product written but some samples failed (see /provenance/failures)\n");
}

int cmd_run(int argc, char **argv)
{
    int rc = KR_OK;
    const char *config = NULL, *out = NULL;
    int json = 0;
    char **sets = calloc((size_t)argc + 1, sizeof *sets);
    size_t nsets = 0;
    if (!sets) return kr_err(KR_ENOMEM, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            goto cleanup;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (++i >= argc) {
                rc = kr_err(KR_EUSAGE, "run: %s needs a file name", a);
                goto cleanup;
            }
            out = argv[i];
        } else if (!strncmp(a, "--output=", 9)) {
            out = a + 9;
        } else if (!strcmp(a, "--set")) {
            if (++i >= argc) {
                rc = kr_err(KR_EUSAGE, "run: --set needs name=value");
                goto cleanup;
            }
            sets[nsets++] = argv[i];
        } else if (!strncmp(a, "--set=", 6)) {
            sets[nsets++] = argv[i] + 6;
        } else if (!strcmp(a, "--log-json")) {
            json = 1;
        } else if (a[0] == '-' && a[1]) {
            rc = kr_err(KR_EUSAGE, "run: unknown option '%s' (see kreep run --help)", a);
            goto cleanup;
        } else if (!config) {
            config = a;
        } else {
            rc = kr_err(KR_EUSAGE, "run: one config only (got '%s' and '%s')", config, a);
            goto cleanup;
        }
    }
    if (!config || !out) {
        usage(stderr);
        rc = kr_err(KR_EUSAGE, "run: %s", !config ? "missing RUN.yaml" : "missing -o OUT.h5");
        goto cleanup;
    }
    kr_log log;
    kr_log_init(&log, stderr, json ? KR_LOG_JSON : KR_LOG_AUTO);
    size_t nstages;
    const kr_stage *const *stages = kr_stage_registry(&nstages);
    rc = kr_run_pipeline(config, out, sets, nsets, stages, nstages, &log);
    kr_log_error_chain(&log, rc);
cleanup:
    free(sets);
    return rc;
}
