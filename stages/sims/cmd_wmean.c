/* kreep wmean ages.csv [--no-outliers]: weighted mean, MSWD, p, IsoplotR's outlier rule. */
#include "commands.h"
#include "error.h"
#include "pbpb.h"
#include "ratio_io.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void wmean_usage(FILE *out)
{
    fprintf(out, "usage: kreep wmean values.csv [--no-outliers]\n"
                 "\n"
                 "Error-weighted mean of a CSV with a header row and two columns: value, 1 sigma.\n"
                 "Outliers are rejected by IsoplotR's iterated modified Chauvenet criterion unless\n"
                 "--no-outliers. Prints one CSV row: err is 1/sqrt(sum w); err_inflated is sqrt(MSWD) x err\n"
                 "when p < 0.05; rejected lists the 1-based data rows left out, joined by ';'.\n");
}

int cmd_wmean(int argc, char **argv)
{
    const char *path = NULL;
    int outliers = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            wmean_usage(stdout);
            return KR_OK;
        } else if (!strcmp(argv[i], "--no-outliers")) {
            outliers = 0;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            wmean_usage(stderr);
            return kr_err(KR_EUSAGE, "unknown option '%s'", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return kr_err(KR_EUSAGE, "wmean takes one input file, got '%s' and '%s'", path, argv[i]);
        }
    }
    if (!path) {
        wmean_usage(stderr);
        return kr_err(KR_EUSAGE, "wmean: missing input file");
    }
    double *x = NULL, *sx = NULL;
    long *line = NULL;
    size_t n = 0;
    unsigned char *valid = NULL;
    int rc = kr_value_sigma_read(path, &x, &sx, &line, &n);
    if (rc) return rc;
    valid = malloc(n);
    if (!valid) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    kr_wmean_result r;
    rc = kr_wmean(x, sx, n, outliers, valid, &r);
    if (rc) {
        rc = kr_err(KR_EINPUT, "%s: weighted mean failed", path);
        goto cleanup;
    }
    printf("n,n_used,mean,err,mswd,p,err_inflated,inflated,rejected\n");
    printf("%zu,%zu,%.12g,%.12g,%.12g,%.12g,%.12g,%d,", r.n, r.n_used, r.mean, r.err, r.mswd, r.p, r.err_inflated,
           r.inflated);
    int first = 1;
    for (size_t i = 0; i < n; i++)
        if (!valid[i]) {
            printf("%s%zu", first ? "" : ";", i + 1);
            first = 0;
        }
    printf("\n");
cleanup:
    free(x);
    free(sx);
    free(line);
    free(valid);
    return rc;
}
