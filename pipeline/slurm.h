/* `kreep plan`: the nightly work as a Slurm job-array script. Each run is a pure function of its inputs
 * and config that writes one file, so Slurm schedules them (no home-made scheduler): one array task per
 * run (`kreep run TEMPLATE -o PRODUCT --set inputs...`), and a merge-and-QA task that depends on the
 * array (`kreep nightly --adopt` records the products in the ledger, `kreep merge` links them, then
 * `kreep qa` when the build has it). */
#ifndef KR_SLURM_H
#define KR_SLURM_H
#include "nightly.h"

#include <stdio.h>

typedef struct {
    const char *kreep;        /* absolute path of the kreep executable used by the tasks */
    const char *nightly_yaml; /* absolute: the merge task records the products with `kreep nightly --adopt` */
    const char *index_path;   /* merge output */
    const char *ledger_path;  /* for the QA step */
    const char *log_dir;      /* Slurm --output folder */
    const char *partition;    /* NULL: cluster default */
    const char *time_limit;   /* "HH:MM:SS" or NULL */
    long mem_mb;              /* 0: cluster default */
} kr_slurm_opts;

/* Write the script for the KR_JOB_RUN jobs of `plan` to `out`; *nruns receives their number. */
int kr_slurm_write(FILE *out, const kr_nightly_plan *plan, const kr_slurm_opts *o, size_t *nruns);
/* Single-quote `s` for bash into a new string. */
char *kr_shell_quote(const char *s);

#endif
