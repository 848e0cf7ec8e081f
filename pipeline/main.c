/* kreep: the command table (git style). One static table drives dispatch and `kreep --help`. */
#include "commands.h"
#include "error.h"

#include <hdf5.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} kr_command;

static int cmd_version(int argc, char **argv);

static const kr_command COMMANDS[] = {
    {"run", cmd_run, "reduce one run (run.yaml) into an HDF5 product"},
    {"inspect", cmd_inspect, "show what is in a product"},
    {"config", cmd_config, "print every parameter with default, unit and help (--defaults)"},
    {"zaf", cmd_zaf, "k-ratios to composition (XPP, PAP or ZAF matrix correction)"},
    {"isochron", cmd_isochron, "York regression and Pb-Pb isochron age from ratio CSV"},
    {"wmean", cmd_wmean, "weighted mean with MSWD and outlier rejection"},
    {"nightly", cmd_nightly, "scan the inboxes and reduce what is new or changed (ledger, quarantine)"},
    {"reprocess", cmd_reprocess, "rerun past runs from the ledger with a new config"},
    {"plan", cmd_plan, "write the nightly work as a Slurm job-array script"},
    {"merge", cmd_merge, "one index file linking many products (HDF5 external links)"},
    {"qa", cmd_qa, "QA report over time (control charts, z/zeta, drift) as one HTML file"},
    {"version", cmd_version, "print the version"},
};
enum { N_COMMANDS = sizeof COMMANDS / sizeof COMMANDS[0] };

static void usage(FILE *out)
{
    fprintf(out, "usage: kreep <command> [options]\n       kreep <command> --help\n\ncommands:\n");
    for (int i = 0; i < N_COMMANDS; i++) fprintf(out, "  %-10s %s\n", COMMANDS[i].name, COMMANDS[i].summary);
    fprintf(out, "\nexit status: 0 success, 1 bad input or config, 2 usage, 3 run finished but some "
                 "samples failed\n");
}

static int cmd_version(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    printf("kreep %s\n", KREEP_VERSION);
    return KR_OK;
}

int main(int argc, char **argv)
{
    /* a file-size limit (ulimit -f) must fail the write with EFBIG, reported and cleaned up, rather than
     * kill the process and leave a partial temp file; and HDF5's exit-time shutdown must not walk a file
     * whose close failed (disk full: HDF5 1.10 crashes there), so it is not registered: every file is
     * closed explicitly before exit anyway */
    signal(SIGXFSZ, SIG_IGN);
    H5dont_atexit();
    kr_err_install_handlers();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) return cmd_version(0, NULL);
    for (int i = 0; i < N_COMMANDS; i++) {
        if (strcmp(argv[1], COMMANDS[i].name) != 0) continue;
        int status = COMMANDS[i].fn(argc - 1, argv + 1);
        if (status != KR_OK) kr_err_print(stderr);
        return kr_exit_code(status);
    }
    fprintf(stderr, "kreep: '%s' is not a command (see kreep --help)\n", argv[1]);
    return 2;
}
