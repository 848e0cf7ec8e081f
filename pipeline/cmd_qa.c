/* kreep qa: the QA report over time, from the nightly ledger or from products (stages/qa/qa.h). */
#include "commands.h"
#include "error.h"
#include "qa.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void qa_usage(FILE *out)
{
    fprintf(out,
            "usage: kreep qa --ledger kreep.db -o qa.html [--since 2026-01-01] [--title TEXT]\n"
            "       kreep qa -o qa.html product.h5|folder ...\n"
            "       kreep qa --synth DIR [--sessions N] [--bad K] [--seed S]\n"
            "\n"
            "One self-contained HTML file (inline SVG and CSS, no script, no network): a summary (what ran, what\n"
            "failed, what is out of control), control charts of the LA-ICP-MS reference glasses per element\n"
            "(+-2 sigma warning, +-3 sigma action lines, Westgard 1-3s 2-2s R-4s 4-1s 10-x rules), z and zeta\n"
            "tables, RSD per session, EPMA standard intensities (drift), SIMS reference-material ages against\n"
            "their values. Sessions come from the ledger (latest run per inbox entry; failed runs listed) or\n"
            "from the products given (a folder: its *.h5 files by name). Written atomically.\n"
            "--synth writes N generated sessions (default 24; session K, 1-based, default 17, out of control)\n"
            "as DIR/qa_session_NN.h5 and the ledger DIR/kreep.db, for tests and scripts/render-qa.\n"
            "Exit status: 0 report written, 1 bad input, 2 usage.\n");
}

static int parse_int(const char *opt, const char *v, long *out)
{
    char *end;
    if (!v || !*v) return kr_err(KR_EUSAGE, "%s needs a value", opt);
    *out = strtol(v, &end, 10);
    if (*end) return kr_err(KR_EUSAGE, "%s: '%s' is not an integer", opt, v);
    return KR_OK;
}

int cmd_qa(int argc, char **argv)
{
    const char *ledger = NULL, *out = NULL, *since = NULL, *title = NULL, *synth = NULL;
    long nsessions = 24, bad = 17, seed = 20260101;
    const char **paths = calloc((size_t)argc + 1, sizeof *paths);
    size_t npaths = 0;
    kr_qa_data d = {0};
    int rc = KR_OK;
    if (!paths) return kr_err(KR_ENOMEM, "out of memory");
    for (int i = 1; i < argc && !rc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            qa_usage(stdout);
            goto cleanup;
        } else if (!strcmp(a, "--ledger") || !strcmp(a, "-o") || !strcmp(a, "--since") || !strcmp(a, "--title") ||
                   !strcmp(a, "--synth")) {
            if (!v) {
                rc = kr_err(KR_EUSAGE, "qa: %s needs a value", a);
                break;
            }
            i++;
            if (!strcmp(a, "--ledger")) ledger = v;
            if (!strcmp(a, "-o")) out = v;
            if (!strcmp(a, "--since")) since = v;
            if (!strcmp(a, "--title")) title = v;
            if (!strcmp(a, "--synth")) synth = v;
        } else if (!strcmp(a, "--sessions")) {
            rc = parse_int(a, v, &nsessions);
            i++;
        } else if (!strcmp(a, "--bad")) {
            rc = parse_int(a, v, &bad);
            i++;
        } else if (!strcmp(a, "--seed")) {
            rc = parse_int(a, v, &seed);
            i++;
        } else if (a[0] == '-' && a[1]) {
            rc = kr_err(KR_EUSAGE, "qa: unknown option '%s' (see kreep qa --help)", a);
        } else {
            paths[npaths++] = a;
        }
    }
    if (rc) goto cleanup;
    if (synth) {
        if (nsessions < 1 || nsessions > 999) {
            rc = kr_err(KR_EUSAGE, "qa: --sessions must be 1..999, got %ld", nsessions);
            goto cleanup;
        }
        char db[4096];
        snprintf(db, sizeof db, "%s/kreep.db", synth);
        rc = kr_qa_synth(synth, db, (int)nsessions, (int)bad - 1, (unsigned long)seed);
        if (!rc) printf("%ld sessions in %s (session %ld out of control), ledger %s\n", nsessions, synth, bad, db);
        goto cleanup;
    }
    if (!out || (!ledger && npaths == 0)) {
        qa_usage(stderr);
        rc = kr_err(KR_EUSAGE, "qa: needs -o OUT and --ledger DB or products");
        goto cleanup;
    }
    if (ledger && (rc = kr_qa_from_ledger(&d, ledger, since))) goto cleanup;
    for (size_t i = 0; i < npaths && !rc; i++) rc = kr_qa_from_path(&d, paths[i]);
    if (rc) goto cleanup;
    if (d.nsessions == 0) {
        rc = kr_err(KR_EINPUT, "qa: no sessions%s%s", since ? " since " : "", since ? since : "");
        goto cleanup;
    }
    rc = kr_qa_write_html(&d, out, title);
    if (!rc) printf("QA report %s: %zu sessions\n", out, d.nsessions);
cleanup:
    kr_qa_data_free(&d);
    free(paths);
    return rc;
}
