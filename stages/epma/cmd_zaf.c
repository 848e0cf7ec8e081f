/* kreep zaf analyses.csv [--model xpp|pap|zaf] [--mac heinrich86|xraylib]: k-ratios -> composition.
 * The input/output contract is in the help text below (issue 2, "kreep zaf: the contract"). */
#include "atomic.h"
#include "commands.h"
#include "error.h"
#include "matrix.h"
#include "text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void zaf_usage(FILE *out)
{
    fprintf(out,
            "usage: kreep zaf analyses.csv [--model xpp|pap|zaf] [--mac heinrich86|xraylib]\n"
            "\n"
            "Matrix correction of EPMA k-ratios (XPP default, PAP, classic ZAF; Reed fluorescence in all;\n"
            "Heinrich 1986 MACs by default). Input: CSV with a header row, columns in any order:\n"
            "  sample       rows with the same value form one analysis\n"
            "  element      symbol (Fe, Si, ...)\n"
            "  line         Ka, Kb, La, Lb, Ma, Mb\n"
            "  kv           beam energy, kV\n"
            "  takeoff_deg  take-off angle, degrees\n"
            "  k            k-ratio against the standard; empty for the one element by difference\n"
            "  standard     chemical formula of the standard (Fe, Al2O3, CaSiO3, ...); empty = pure element\n"
            "  oxide        optional (SiO2, FeO, ...): if any row of an analysis has one, oxygen is computed\n"
            "               by stoichiometry for that analysis (default oxides for the other elements)\n"
            "Output on stdout: CSV, one row per analysis and element (oxygen included when computed):\n"
            "  sample,element,role,mass_pct,oxide,oxide_pct,k_pure,z,a,f,total_pct,oxide_total_pct,\n"
            "  iterations,model,error\n"
            "with k_pure = C z a f (k against the pure element). An analysis that cannot be computed gets\n"
            "one row with its message in `error` and the exit status is 3.\n"
            "Exit status: 0 success, 1 bad input file, 2 usage, 3 some analyses failed.\n");
}

enum { COL_SAMPLE, COL_ELEMENT, COL_LINE, COL_KV, COL_TAKEOFF, COL_K, COL_STANDARD, COL_OXIDE, NCOL };
static const char *const col_names[NCOL] = {"sample", "element", "line", "kv", "takeoff_deg", "k", "standard", "oxide"};

typedef struct {
    long lineno;
    const char *sample;
    int z;
    kr_xray_line line;
    double kv, takeoff_deg, k;
    int has_k;
    const char *standard;
    const char *oxide;
    int group;
} zaf_row;

/* Print a CSV field, quoted when needed. */
static void put_field(const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        fputs(s, stdout);
        return;
    }
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s == '\n' || *s == '\r' ? ' ' : *s);
    }
    putchar('"');
}

static void put_num(double v, const char *fmt)
{
    putchar(',');
    if (isfinite(v)) printf(fmt, v);
}

static int parse_rows(const char *path, kr_text *t, const kr_atomic *at, zaf_row **rows_out, size_t *n_out)
{
    int rc = KR_OK;
    zaf_row *rows = NULL;
    size_t n = 0, cap = 0;
    int col[NCOL];
    for (int c = 0; c < NCOL; c++) col[c] = -1;
    kr_lines it;
    kr_lines_init(&it, t);
    char *line;
    int header = 0, ncols = 0;
    enum { MAXF = 64 };
    char *f[MAXF];
    while ((line = kr_lines_next(&it))) {
        if (!*kr_trim(line) || line[0] == '#') continue;
        int nf = kr_split(line, ',', f, MAXF);
        if (nf < 0) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "more than %d columns", MAXF);
            goto cleanup;
        }
        if (!header) {
            header = 1;
            if (nf > 0 && !strncmp(f[0], "\xEF\xBB\xBF", 3)) f[0] += 3; /* UTF-8 byte-order mark */
            ncols = nf;
            for (int i = 0; i < nf; i++)
                for (int c = 0; c < NCOL; c++)
                    if (kr_streq_ci(f[i], col_names[c])) {
                        if (col[c] >= 0) {
                            rc = kr_err_at(KR_EINPUT, path, it.lineno, "column '%s' appears twice", col_names[c]);
                            goto cleanup;
                        }
                        col[c] = i;
                    }
            for (int c = 0; c < NCOL; c++)
                if (col[c] < 0 && c != COL_OXIDE) {
                    rc = kr_err_at(KR_EINPUT, path, it.lineno,
                                   "header lacks column '%s' (need sample,element,line,kv,takeoff_deg,k,standard)",
                                   col_names[c]);
                    goto cleanup;
                }
            continue;
        }
        if (nf != ncols) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "expected %d fields as in the header, found %d", ncols, nf);
            goto cleanup;
        }
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            zaf_row *nr = realloc(rows, cap * sizeof *rows);
            if (!nr) {
                rc = kr_err(KR_ENOMEM, "out of memory");
                goto cleanup;
            }
            rows = nr;
        }
        zaf_row *r = &rows[n];
        memset(r, 0, sizeof *r);
        r->lineno = it.lineno;
        r->sample = f[col[COL_SAMPLE]];
        r->standard = f[col[COL_STANDARD]];
        r->oxide = col[COL_OXIDE] >= 0 ? f[col[COL_OXIDE]] : "";
        const char *el = f[col[COL_ELEMENT]];
        r->z = kr_atomic_z(at, el);
        if (!r->z) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "unknown element '%s'", el);
            goto cleanup;
        }
        const char *ks = f[col[COL_K]];
        r->has_k = *ks != 0;
        if (r->has_k) {
            if (kr_parse_double(ks, &r->k) || !isfinite(r->k)) {
                rc = kr_err_at(KR_EINPUT, path, it.lineno, "k is not a number: '%s'", ks);
                goto cleanup;
            }
            if (kr_xray_line_parse(f[col[COL_LINE]], &r->line)) {
                rc = kr_err_at(KR_EINPUT, path, it.lineno, "line must be Ka, Kb, La, Lb, Ma or Mb, got '%s'",
                               f[col[COL_LINE]]);
                goto cleanup;
            }
            if (kr_parse_double(f[col[COL_KV]], &r->kv) || !(r->kv > 0) || !isfinite(r->kv)) {
                rc = kr_err_at(KR_EINPUT, path, it.lineno, "kv must be a number > 0, got '%s'", f[col[COL_KV]]);
                goto cleanup;
            }
            if (kr_parse_double(f[col[COL_TAKEOFF]], &r->takeoff_deg) || !(r->takeoff_deg > 0 && r->takeoff_deg < 90)) {
                rc = kr_err_at(KR_EINPUT, path, it.lineno, "takeoff_deg must be a number in (0, 90), got '%s'",
                               f[col[COL_TAKEOFF]]);
                goto cleanup;
            }
            if (*r->standard) {
                kr_formula fm;
                if (kr_formula_parse(at, r->standard, &fm)) {
                    rc = kr_err_at(KR_EINPUT, path, it.lineno, "bad standard formula '%s'", r->standard);
                    goto cleanup;
                }
                int has = 0;
                for (int i = 0; i < fm.n; i++) has |= fm.z[i] == r->z;
                if (!has) {
                    rc = kr_err_at(KR_EINPUT, path, it.lineno, "standard %s does not contain %s", r->standard,
                                   kr_atomic_symbol(at, r->z));
                    goto cleanup;
                }
            }
        }
        if (*r->oxide) {
            int oz, nc, no;
            if (kr_oxide_parse(at, r->oxide, &oz, &nc, &no)) {
                rc = kr_err_at(KR_EINPUT, path, it.lineno, "bad oxide '%s'", r->oxide);
                goto cleanup;
            }
            if (oz != r->z) {
                rc = kr_err_at(KR_EINPUT, path, it.lineno, "oxide %s does not belong to element %s", r->oxide,
                               kr_atomic_symbol(at, r->z));
                goto cleanup;
            }
        }
        n++;
    }
    if (!header) {
        rc = kr_err_at(KR_EINPUT, path, 1, "empty file: expected a header row");
        goto cleanup;
    }
    *rows_out = rows;
    *n_out = n;
    return KR_OK;
cleanup:
    free(rows);
    return rc;
}

/* Set up and solve one analysis (rows idx[0..m-1]); prints its rows. Returns KR_OK or the status of
 * the failure (message on the error stack). */
static int run_analysis(const kr_atomic *at, const zaf_row *rows, const size_t *idx, size_t m, kr_epma_model model,
                        kr_mac_source mac)
{
    kr_epma_setup s;
    kr_epma_setup_init(&s);
    s.model = model;
    s.mac = mac;
    int oxides = 0, ndiff = 0, o_row = -1;
    for (size_t j = 0; j < m; j++) oxides |= *rows[idx[j]].oxide != 0;
    double k[KR_EPMA_MAX_EL];
    for (size_t j = 0; j < m; j++) {
        const zaf_row *r = &rows[idx[j]];
        kr_epma_role role = KR_EPMA_MEASURED;
        if (!r->has_k) {
            if (r->z == 8 && oxides) {
                role = KR_EPMA_STOICH_O;
            } else {
                role = KR_EPMA_DIFFERENCE;
                if (++ndiff > 1) return kr_err(KR_EINPUT, "line %ld: a second element without k (only one by difference)", r->lineno);
            }
        } else if (r->z == 8 && oxides) {
            return kr_err(KR_EINPUT, "line %ld: oxygen has a k-ratio but the analysis asks for oxygen by stoichiometry (oxide column)", r->lineno);
        }
        int i = kr_epma_setup_add(&s, at, kr_atomic_symbol(at, r->z), role, r->line, r->kv, r->takeoff_deg, r->standard);
        if (i < 0) return kr_err(-i, "line %ld", r->lineno);
        if (*r->oxide) {
            int rc = kr_epma_setup_set_oxide(&s, at, i, r->oxide);
            if (rc) return kr_err(rc, "line %ld", r->lineno);
        }
        if (r->z == 8) o_row = i;
        k[i] = r->has_k ? r->k : NAN;
    }
    if (oxides && o_row < 0) {
        int i = kr_epma_setup_add(&s, at, "O", KR_EPMA_STOICH_O, KR_LINE_KA, 0, 0, NULL);
        if (i < 0) return -i;
        k[i] = NAN;
    }
    kr_epma_ctx *ctx = NULL;
    int rc = kr_epma_ctx_new(&s, at, &ctx);
    if (rc) return rc;
    kr_epma_work w;
    kr_epma_result res;
    rc = kr_epma_solve(ctx, k, NULL, &w, &res);
    kr_epma_ctx_free(ctx);
    if (rc) return rc;
    static const char *const role_names[] = {"measured", "difference", "stoichiometry", "fixed"};
    const int ao = kr_atomic_z(at, "O");
    for (int i = 0; i < s.n; i++) {
        const kr_epma_elem *e = &s.el[i];
        put_field(rows[idx[0]].sample);
        printf(",%s,%s", kr_atomic_symbol(at, e->z), role_names[e->role]);
        put_num(100.0 * res.mass_frac[i], "%.4f");
        putchar(',');
        if (oxides && e->ox_cations > 0 && e->z != ao) {
            printf("%s", kr_atomic_symbol(at, e->z));
            if (e->ox_cations > 1) printf("%d", e->ox_cations);
            printf("O");
            if (e->ox_oxygens > 1) printf("%d", e->ox_oxygens);
        }
        put_num(oxides ? 100.0 * res.oxide_frac[i] : NAN, "%.4f");
        put_num(res.k_pure[i], "%.6g");
        put_num(res.z[i], "%.6f");
        put_num(res.a[i], "%.6f");
        put_num(res.f[i], "%.6f");
        put_num(100.0 * res.total, "%.4f");
        put_num(oxides ? 100.0 * res.oxide_total : NAN, "%.4f");
        printf(",%d,%s,\n", res.iterations, kr_epma_model_name(model));
    }
    return KR_OK;
}

int cmd_zaf(int argc, char **argv)
{
    const char *path = NULL;
    kr_epma_model model = KR_EPMA_XPP;
    kr_mac_source mac = KR_MAC_HEINRICH86;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            zaf_usage(stdout);
            return KR_OK;
        } else if (!strcmp(argv[i], "--model") || !strncmp(argv[i], "--model=", 8)) {
            const char *v = argv[i][7] == '=' ? argv[i] + 8 : (i + 1 < argc ? argv[++i] : NULL);
            if (kr_epma_model_parse(v, &model)) {
                zaf_usage(stderr);
                return kr_err(KR_EUSAGE, "--model must be xpp, pap or zaf, got '%s'", v ? v : "");
            }
        } else if (!strcmp(argv[i], "--mac") || !strncmp(argv[i], "--mac=", 6)) {
            const char *v = argv[i][5] == '=' ? argv[i] + 6 : (i + 1 < argc ? argv[++i] : NULL);
            if (kr_mac_source_parse(v, &mac)) {
                zaf_usage(stderr);
                return kr_err(KR_EUSAGE, "--mac must be heinrich86 or xraylib, got '%s'", v ? v : "");
            }
        } else if (argv[i][0] == '-' && argv[i][1]) {
            zaf_usage(stderr);
            return kr_err(KR_EUSAGE, "zaf: unknown option '%s'", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return kr_err(KR_EUSAGE, "zaf takes one input file, got '%s' and '%s'", path, argv[i]);
        }
    }
    if (!path) {
        zaf_usage(stderr);
        return kr_err(KR_EUSAGE, "zaf: missing input file");
    }
    kr_atomic *at = malloc(sizeof *at);
    if (!at) return kr_err(KR_ENOMEM, "out of memory");
    kr_text t = {0};
    zaf_row *rows = NULL;
    size_t n = 0, *idx = NULL, nfail = 0, ngroups = 0;
    int rc = kr_atomic_load(at);
    if (rc) goto cleanup;
    rc = kr_text_read(path, &t);
    if (rc) goto cleanup;
    rc = parse_rows(path, &t, at, &rows, &n);
    if (rc) goto cleanup;
    if (n == 0) {
        rc = kr_err_at(KR_EINPUT, path, 0, "no analyses (only a header)");
        goto cleanup;
    }
    idx = malloc(n * sizeof *idx);
    if (!idx) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    /* groups in order of first appearance */
    for (size_t i = 0; i < n; i++) rows[i].group = -1;
    printf("sample,element,role,mass_pct,oxide,oxide_pct,k_pure,z,a,f,total_pct,oxide_total_pct,iterations,model,error\n");
    for (size_t i = 0; i < n; i++) {
        if (rows[i].group >= 0) continue;
        size_t m = 0;
        for (size_t j = i; j < n; j++)
            if (rows[j].group < 0 && strcmp(rows[j].sample, rows[i].sample) == 0) {
                rows[j].group = (int)ngroups;
                idx[m++] = j;
            }
        ngroups++;
        if (m > KR_EPMA_MAX_EL) {
            kr_err(KR_EINPUT, "analysis has %zu elements (max %d)", m, KR_EPMA_MAX_EL);
        } else if (run_analysis(at, rows, idx, m, model, mac) == KR_OK) {
            continue;
        }
        char msg[1024];
        kr_err_format(msg, sizeof msg);
        kr_err_clear();
        char full[1100];
        snprintf(full, sizeof full, "%s:%ld: %s", path, rows[i].lineno, msg);
        put_field(rows[i].sample);
        printf(",,,,,,,,,,,,,%s,", kr_epma_model_name(model));
        put_field(full);
        putchar('\n');
        nfail++;
    }
    if (nfail) rc = kr_err(KR_EPARTIAL, "%zu of %zu analyses in %s could not be computed (see the error column)",
                           nfail, ngroups, path);
cleanup:
    fflush(stdout);
    free(idx);
    free(rows);
    kr_text_free(&t);
    free(at);
    return rc;
}
