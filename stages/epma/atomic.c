/* Atomic data: symbols, IUPAC weights, oxide valences (calib/), xraylib line data, formula parsing. */
#include "atomic.h"

#include "calib.h"
#include "error.h"
#include "mac.h"
#include "text.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xraylib/xraylib.h>

static int load_weights(kr_atomic *at)
{
    kr_text t;
    int rc = kr_calib_text("atomic_weights.csv", &t);
    if (rc) return rc;
    kr_rows rows;
    kr_rows_init(&rows, &t, ',');
    int header = 0, count = 0;
    int got;
    while ((got = kr_rows_next(&rows)) > 0) {
        char **f = rows.f;
        int nf = rows.nf;
        if (!header) {
            header = 1;
            if (nf < 4 || strcmp(f[0], "z") || strcmp(f[1], "symbol") || strcmp(f[2], "weight")) {
                rc = kr_err_at(KR_EINPUT, t.path, rows.lineno, "expected header z,symbol,weight,uncertainty,...");
                goto cleanup;
            }
            continue;
        }
        long z;
        double w, u = NAN;
        if (nf < 4 || kr_parse_long(f[0], &z) || z < 1 || z >= KR_Z_MAX || strlen(f[1]) < 1 ||
            strlen(f[1]) > 2 || kr_parse_double(f[2], &w) || !(w > 0) ||
            (*f[3] && kr_parse_double(f[3], &u))) {
            rc = kr_err_at(KR_EINPUT, t.path, rows.lineno, "expected z (1..%d),symbol,weight>0,uncertainty",
                           KR_Z_MAX - 1);
            goto cleanup;
        }
        snprintf(at->symbol[z], sizeof at->symbol[z], "%s", f[1]);
        at->weight[z] = w;
        at->weight_unc[z] = u;
        count++;
    }
    if (got < 0) {
        rc = KR_EINPUT;
        goto cleanup;
    }
    if (count == 0) rc = kr_err_at(KR_EINPUT, t.path, 0, "no atomic weights found");
cleanup:
    kr_text_free(&t);
    return rc;
}

static int load_oxides(kr_atomic *at)
{
    kr_text t;
    int rc = kr_calib_text("epma_oxides.csv", &t);
    if (rc) return rc;
    kr_rows rows;
    kr_rows_init(&rows, &t, ',');
    int header = 0;
    int got;
    while ((got = kr_rows_next(&rows)) > 0) {
        char **f = rows.f;
        int nf = rows.nf;
        if (!header) {
            header = 1;
            continue;
        }
        long nc, no;
        int z = nf >= 3 ? kr_atomic_z(at, f[0]) : 0;
        if (nf < 3 || !z || kr_parse_long(f[1], &nc) || kr_parse_long(f[2], &no) || nc < 1 || no < 0) {
            rc = kr_err_at(KR_EINPUT, t.path, rows.lineno, "expected symbol,cations>=1,oxygens>=0,...");
            goto cleanup;
        }
        at->ox_cations[z] = (int)nc;
        at->ox_oxygens[z] = (int)no;
    }
    if (got < 0) {
        rc = KR_EINPUT;
        goto cleanup;
    }
cleanup:
    kr_text_free(&t);
    return rc;
}

static int load_constants(kr_atomic *at)
{
    kr_constants c;
    int rc = kr_constants_load("epma_constants.csv", &c);
    if (rc) return rc;
    struct {
        const char *name;
        double *dst;
    } want[] = {{"reed_p_k_by_l", &at->reed_p_k_by_l},   {"reed_p_l_by_k", &at->reed_p_l_by_k},
                {"reed_p_m_by_kl", &at->reed_p_m_by_kl}, {"reed_depth_exponent", &at->reed_depth_exp},
                {"lenard_sigma_const", &at->lenard_const}, {"lenard_sigma_exp", &at->lenard_exp},
                {"philibert_h_const", &at->philibert_h}};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        rc = kr_constant_get(&c, want[i].name, want[i].dst, NULL);
        if (rc) break;
    }
    kr_constants_free(&c);
    return rc;
}

static int load_duncumb_reed(kr_atomic *at)
{
    kr_text t;
    int rc = kr_calib_text("epma_duncumb_reed.csv", &t);
    if (rc) return rc;
    kr_rows rows;
    kr_rows_init(&rows, &t, ',');
    int header = 0, seen = 0;
    int got;
    while ((got = kr_rows_next(&rows)) > 0) {
        char **f = rows.f;
        int nf = rows.nf;
        if (!header) {
            header = 1;
            continue;
        }
        long p;
        if (nf != 7 || kr_parse_long(f[0], &p) || p < 1 || p > 5) {
            rc = kr_err_at(KR_EINPUT, t.path, rows.lineno, "expected zpow (1..5) and 6 coefficients");
            goto cleanup;
        }
        for (int q = 0; q < 6; q++)
            if (kr_parse_double(f[1 + q], &at->duncumb_reed[p - 1][q])) {
                rc = kr_err_at(KR_EINPUT, t.path, rows.lineno, "coefficient %d is not a number", q);
                goto cleanup;
            }
        seen |= 1 << (p - 1);
    }
    if (got < 0) {
        rc = KR_EINPUT;
        goto cleanup;
    }
    if (seen != 31) rc = kr_err_at(KR_EINPUT, t.path, 0, "expected rows zpow 1..5");
cleanup:
    kr_text_free(&t);
    return rc;
}

int kr_atomic_load(kr_atomic *at)
{
    memset(at, 0, sizeof *at);
    for (int z = 0; z < KR_Z_MAX; z++) at->weight[z] = at->weight_unc[z] = NAN;
    int rc = load_weights(at);
    if (!rc) rc = load_oxides(at);
    if (!rc) rc = kr_mac_h86_load(at);
    if (!rc) rc = load_constants(at);
    if (!rc) rc = load_duncumb_reed(at);
    if (rc) return kr_err(rc, "cannot load EPMA atomic data");
    return KR_OK;
}

int kr_atomic_z(const kr_atomic *at, const char *symbol)
{
    if (!symbol) return 0;
    char s[4] = {0};
    size_t n = strlen(symbol);
    if (n < 1 || n > 2) return 0;
    s[0] = (char)toupper((unsigned char)symbol[0]);
    if (n == 2) s[1] = (char)tolower((unsigned char)symbol[1]);
    for (int z = 1; z < KR_Z_MAX; z++)
        if (strcmp(at->symbol[z], s) == 0) return z;
    return 0;
}

const char *kr_atomic_symbol(const kr_atomic *at, int z)
{
    return (z > 0 && z < KR_Z_MAX && at->symbol[z][0]) ? at->symbol[z] : "?";
}

static const char *const line_names[KR_LINE_COUNT] = {"Ka", "Kb", "La", "Lb", "Ma", "Mb"};

int kr_xray_line_parse(const char *s, kr_xray_line *out)
{
    for (int i = 0; i < KR_LINE_COUNT; i++)
        if (s && kr_streq_ci(s, line_names[i])) {
            *out = (kr_xray_line)i;
            return 0;
        }
    return -1;
}

const char *kr_xray_line_name(kr_xray_line line)
{
    return (line >= 0 && line < KR_LINE_COUNT) ? line_names[line] : "?";
}

kr_shell_family kr_xray_line_family(kr_xray_line line)
{
    if (line <= KR_LINE_KB) return KR_FAMILY_K;
    if (line <= KR_LINE_LB) return KR_FAMILY_L;
    return KR_FAMILY_M;
}

/* xraylib call that reports failure as NaN (and frees xraylib's error). */
static double xrl_val(double v, xrl_error *e)
{
    if (e) {
        xrl_error_free(e);
        return NAN;
    }
    return v;
}

double kr_edge_kev(int z, int shell)
{
    xrl_error *e = NULL;
    double v = EdgeEnergy(z, shell, &e);
    v = xrl_val(v, e);
    return v > 0 ? v : NAN;
}

int kr_line_data_get(int z, kr_xray_line line, kr_line_data *out)
{
    if (kr_line_data_probe(z, line, out))
        return kr_err(KR_EINPUT, "xraylib has no data for the %s line of Z=%d", kr_xray_line_name(line), z);
    return KR_OK;
}

int kr_line_data_probe(int z, kr_xray_line line, kr_line_data *out)
{
    /* line -> (xraylib line macro for the energy, initial shell, xraylib lines summed for the rate) */
    int xline, shell;
    int parts[4] = {0, 0, 0, 0};
    int nparts = 0;
    switch (line) {
    case KR_LINE_KA: xline = KA_LINE; shell = K_SHELL; parts[0] = KL2_LINE; parts[1] = KL3_LINE; nparts = 2; break;
    case KR_LINE_KB: xline = KB_LINE; shell = K_SHELL; parts[0] = KM2_LINE; parts[1] = KM3_LINE; nparts = 2; break;
    case KR_LINE_LA: xline = LA_LINE; shell = L3_SHELL; parts[0] = L3M4_LINE; parts[1] = L3M5_LINE; nparts = 2; break;
    case KR_LINE_LB: xline = LB1_LINE; shell = L2_SHELL; parts[0] = L2M4_LINE; nparts = 1; break;
    case KR_LINE_MA: xline = MA1_LINE; shell = M5_SHELL; parts[0] = M5N6_LINE; parts[1] = M5N7_LINE; nparts = 2; break;
    case KR_LINE_MB: xline = MB_LINE; shell = M4_SHELL; parts[0] = M4N6_LINE; nparts = 1; break;
    default: return -1;
    }
    /* each call in its own statement: the error pointer must be read after the call has set it */
    xrl_error *e = NULL;
    double en = LineEnergy(z, xline, &e);
    en = xrl_val(en, e);
    e = NULL;
    double ed = EdgeEnergy(z, shell, &e);
    ed = xrl_val(ed, e);
    e = NULL;
    double om = FluorYield(z, shell, &e);
    om = xrl_val(om, e);
    double frac = 0;
    for (int i = 0; i < nparts; i++) {
        e = NULL;
        double r = RadRate(z, parts[i], &e);
        r = xrl_val(r, e);
        if (r > 0) frac += r;
    }
    if (!(en > 0) || !(ed > 0) || !(om > 0) || !(frac > 0)) return -1;
    out->line_kev = en;
    out->edge_kev = ed;
    out->shell = shell;
    out->omega = om;
    out->line_fraction = frac;
    return KR_OK;
}

/* Parse a formula group recursively; mult applies to the whole group. */
static int formula_group(const kr_atomic *at, const char **pp, double mult, kr_formula *f, int depth,
                         const char *whole)
{
    const char *p = *pp;
    while (*p && *p != ')') {
        if (*p == '(') {
            if (depth > 4) return kr_err(KR_EINPUT, "formula '%s': parentheses nested too deep", whole);
            const char *q = p + 1;
            /* find the multiplier after the matching ')' first */
            int lvl = 1;
            const char *r = q;
            while (*r && lvl) {
                if (*r == '(') lvl++;
                if (*r == ')') lvl--;
                r++;
            }
            if (lvl) return kr_err(KR_EINPUT, "formula '%s': unbalanced '('", whole);
            char *end;
            double m = 1.0;
            if (isdigit((unsigned char)*r) || *r == '.') {
                m = strtod(r, &end);
                r = end;
            }
            int rc = formula_group(at, &q, mult * m, f, depth + 1, whole);
            if (rc) return rc;
            p = r;
            continue;
        }
        if (!isupper((unsigned char)*p)) return kr_err(KR_EINPUT, "formula '%s': unexpected '%c'", whole, *p);
        char sym[3] = {*p++, 0, 0};
        if (islower((unsigned char)*p)) sym[1] = *p++;
        int z = kr_atomic_z(at, sym);
        if (!z) return kr_err(KR_EINPUT, "formula '%s': unknown element '%s'", whole, sym);
        double cnt = 1.0;
        if (isdigit((unsigned char)*p) || *p == '.') {
            char *end;
            cnt = strtod(p, &end);
            if (end == p || !(cnt > 0)) return kr_err(KR_EINPUT, "formula '%s': bad count after %s", whole, sym);
            p = end;
        }
        int j;
        for (j = 0; j < f->n; j++)
            if (f->z[j] == z) break;
        if (j == f->n) {
            if (f->n >= KR_FORMULA_MAX) return kr_err(KR_EINPUT, "formula '%s': too many elements", whole);
            f->z[j] = z;
            f->atoms[j] = 0;
            f->n++;
        }
        f->atoms[j] += cnt * mult;
    }
    *pp = p;
    return KR_OK;
}

int kr_formula_parse(const kr_atomic *at, const char *formula, kr_formula *out)
{
    memset(out, 0, sizeof *out);
    if (!formula || !*formula) return kr_err(KR_EINPUT, "empty chemical formula");
    const char *p = formula;
    int rc = formula_group(at, &p, 1.0, out, 0, formula);
    if (rc) return rc;
    if (*p) return kr_err(KR_EINPUT, "formula '%s': unbalanced ')'", formula);
    double tot = 0;
    for (int i = 0; i < out->n; i++) {
        double w = at->weight[out->z[i]];
        if (!(w > 0)) return kr_err(KR_EINPUT, "formula '%s': no atomic weight for Z=%d", formula, out->z[i]);
        out->mass_frac[i] = out->atoms[i] * w;
        tot += out->mass_frac[i];
    }
    for (int i = 0; i < out->n; i++) out->mass_frac[i] /= tot;
    return KR_OK;
}

int kr_oxide_parse(const kr_atomic *at, const char *oxide, int *z, int *cations, int *oxygens)
{
    kr_formula f;
    int rc = kr_formula_parse(at, oxide, &f);
    if (rc) return rc;
    int zo = kr_atomic_z(at, "O");
    if (f.n != 2 || (f.z[0] != zo && f.z[1] != zo))
        return kr_err(KR_EINPUT, "oxide '%s': expected one cation and oxygen (e.g. SiO2, Fe2O3)", oxide);
    int ic = f.z[0] == zo ? 1 : 0;
    double nc = f.atoms[ic], no = f.atoms[1 - ic];
    if (nc != floor(nc) || no != floor(no))
        return kr_err(KR_EINPUT, "oxide '%s': counts must be whole numbers", oxide);
    *z = f.z[ic];
    *cations = (int)nc;
    *oxygens = (int)no;
    return KR_OK;
}
