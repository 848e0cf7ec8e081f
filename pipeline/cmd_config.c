/* kreep config: every parameter of every stage (--defaults), or check a run.yaml (--check). */
#include "commands.h"
#include "config.h"
#include "error.h"
#include "stage.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: kreep config --defaults [--write FILE]\n"
                 "       kreep config --check RUN.yaml [--set name=value ...]\n"
                 "\n"
                 "  --defaults      print every parameter of every stage as commented YAML: name, default,\n"
                 "                  unit, range or choices, one line of help\n"
                 "  --write FILE    write that YAML to FILE instead (e.g. config/defaults.yaml)\n"
                 "  --check FILE    validate a run config and print the effective config (defaults filled)\n"
                 "  -h, --help      this help\n");
}

static int tables_all(kr_param_table **out, size_t *n)
{
    size_t ns;
    const kr_stage *const *stages = kr_stage_registry(&ns);
    kr_param_table *t = calloc(ns + 1, sizeof *t);
    if (!t) return kr_err(KR_ENOMEM, "out of memory");
    t[0] = kr_run_params;
    for (size_t i = 0; i < ns; i++) t[i + 1] = *stages[i]->params;
    *out = t;
    *n = ns + 1;
    return KR_OK;
}

static int write_defaults(const char *path, const kr_param_table *t, size_t n)
{
    if (!path) return kr_config_print_defaults(stdout, t, n);
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return kr_err(KR_EIO, "cannot write %s: %s", tmp, strerror(errno));
    int rc = kr_config_print_defaults(f, t, n);
    if (fclose(f) != 0 && !rc) rc = kr_err(KR_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, path) != 0) rc = kr_err(KR_EIO, "cannot rename %s to %s: %s", tmp, path, strerror(errno));
    if (rc) unlink(tmp);
    return rc;
}

int cmd_config(int argc, char **argv)
{
    int rc = KR_OK, defaults = 0;
    const char *write = NULL, *check = NULL;
    kr_param_table *tables = NULL;
    size_t ntables = 0;
    kr_config *cfg = NULL;
    char **sets = calloc((size_t)argc + 1, sizeof *sets);
    size_t nsets = 0;
    if (!sets) return kr_err(KR_ENOMEM, "out of memory");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            goto cleanup;
        } else if (!strcmp(a, "--defaults")) {
            defaults = 1;
        } else if (!strcmp(a, "--write") || !strcmp(a, "--check") || !strcmp(a, "--set")) {
            if (++i >= argc) {
                rc = kr_err(KR_EUSAGE, "config: %s needs an argument", a);
                goto cleanup;
            }
            if (!strcmp(a, "--write")) write = argv[i];
            else if (!strcmp(a, "--check")) check = argv[i];
            else sets[nsets++] = argv[i];
        } else {
            rc = kr_err(KR_EUSAGE, "config: unknown argument '%s' (see kreep config --help)", a);
            goto cleanup;
        }
    }
    if (write) defaults = 1;
    if (defaults == !!check) {
        usage(stderr);
        rc = kr_err(KR_EUSAGE, "config: give --defaults or --check RUN.yaml");
        goto cleanup;
    }
    if ((rc = tables_all(&tables, &ntables))) goto cleanup;
    if (defaults) {
        rc = write_defaults(write, tables, ntables);
        goto cleanup;
    }
    if ((rc = kr_config_load(check, tables, ntables, sets, nsets, &cfg))) goto cleanup;
    char *yaml = kr_config_effective_yaml(cfg);
    if (!yaml) {
        rc = KR_ENOMEM;
        goto cleanup;
    }
    fputs(yaml, stdout);
    free(yaml);
cleanup:
    kr_config_free(cfg);
    free(tables);
    free(sets);
    return rc;
}
