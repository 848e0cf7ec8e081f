/* LA-ICP-MS readers: Qtegra per-spot and batch CSV, Agilent MassHunter CSV, laser-log splitting. */
#include "la_read.h"

#include "error.h"
#include "text.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Element symbols Z = 1..103 (used only to recognise isotope labels). */
static const char *const SYMBOLS[] = {
    "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",  "S",  "Cl", "Ar",
    "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn", "Ga", "Ge", "As", "Se", "Br", "Kr",
    "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh", "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",  "Xe",
    "Cs", "Ba", "La", "Ce", "Pr", "Nd", "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf",
    "Ta", "W",  "Re", "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th",
    "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr"};

static const char *symbol_match(const char *s, size_t len)
{
    if (len < 1 || len > 2) return NULL;
    for (size_t i = 0; i < sizeof SYMBOLS / sizeof SYMBOLS[0]; i++)
        if (strlen(SYMBOLS[i]) == len && tolower((unsigned char)SYMBOLS[i][0]) == tolower((unsigned char)s[0]) &&
            (len == 1 || tolower((unsigned char)SYMBOLS[i][1]) == tolower((unsigned char)s[1])))
            return SYMBOLS[i];
    return NULL;
}

int kr_la_isotope_parse(const char *label, kr_la_isotope *out)
{
    memset(out, 0, sizeof *out);
    out->dwell_s = NAN;
    snprintf(out->label, sizeof out->label, "%s", label);
    char buf[KR_LA_LABEL];
    size_t n = 0;
    for (const char *p = label; *p && n + 1 < sizeof buf; p++)
        if (!isspace((unsigned char)*p)) buf[n++] = *p;
    buf[n] = 0;
    size_t nd = 0, na = 0;
    const char *digits, *alpha;
    if (n && isdigit((unsigned char)buf[0])) { /* 43Ca */
        while (nd < n && isdigit((unsigned char)buf[nd])) nd++;
        na = n - nd;
        digits = buf;
        alpha = buf + nd;
        for (size_t i = nd; i < n; i++)
            if (!isalpha((unsigned char)buf[i])) return 0;
    } else { /* Ca43 */
        while (na < n && isalpha((unsigned char)buf[na])) na++;
        nd = n - na;
        alpha = buf;
        digits = buf + na;
        for (size_t i = na; i < n; i++)
            if (!isdigit((unsigned char)buf[i])) return 0;
    }
    if (nd == 0 || nd > 3) return 0;
    const char *sym = symbol_match(alpha, na);
    if (!sym) return 0;
    int mass = atoi(digits);
    if (mass < 1 || mass > 260) return 0;
    snprintf(out->element, sizeof out->element, "%s", sym);
    out->mass = mass;
    snprintf(out->label, sizeof out->label, "%s%d", sym, mass);
    return 1;
}

/* ---- dates ------------------------------------------------------------------------------------ */

static int read_uint(const char **p, int maxdig, long *v)
{
    int n = 0;
    long x = 0;
    while (isdigit((unsigned char)**p) && n < maxdig) {
        x = x * 10 + (**p - '0');
        (*p)++;
        n++;
    }
    if (isdigit((unsigned char)**p)) return -1;
    *v = x;
    return n;
}

static const char *const MONTHS[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec"};

int kr_la_parse_datetime(const char *s, double *out_s)
{
    const char *p = s;
    while (isspace((unsigned char)*p)) p++;
    long y = 0, mo = 0, d = 0, a, b, c;
    if (isalpha((unsigned char)*p)) { /* Agilent: Oct 29 2015 */
        int found = 0;
        for (int i = 0; i < 12; i++)
            if (!strncasecmp(p, MONTHS[i], 3)) {
                mo = i + 1;
                found = 1;
            }
        if (!found) return -1;
        while (isalpha((unsigned char)*p)) p++;
        while (*p == ' ' || *p == ',') p++;
        if (read_uint(&p, 2, &d) < 1) return -1;
        while (*p == ' ' || *p == ',') p++;
        if (read_uint(&p, 4, &y) != 4) return -1;
    } else {
        int na = read_uint(&p, 4, &a);
        char sep = *p;
        if (na < 1 || (sep != '/' && sep != '-' && sep != '.')) return -1;
        p++;
        if (read_uint(&p, 2, &b) < 1 || *p != sep) return -1;
        p++;
        int nc = read_uint(&p, 4, &c);
        if (nc < 1) return -1;
        if (na == 4) { /* ISO Y-M-D */
            y = a, mo = b, d = c;
        } else if (nc != 4) {
            return -1;
        } else if (sep == '.' || a > 12) { /* day first */
            d = a, mo = b, y = c;
        } else { /* US month first (Qtegra) */
            mo = a, d = b, y = c;
        }
    }
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || y < 1900 || y > 2200) return -1;
    if (*p != ' ' && *p != 'T') return -1;
    while (*p == ' ' || *p == 'T') p++;
    long hh, mm, ss = 0;
    double frac = 0;
    if (read_uint(&p, 2, &hh) < 1 || *p != ':') return -1;
    p++;
    if (read_uint(&p, 2, &mm) != 2) return -1;
    if (*p == ':') {
        p++;
        if (read_uint(&p, 2, &ss) != 2) return -1;
        if (*p == '.') {
            double f = 0.1;
            p++;
            while (isdigit((unsigned char)*p)) {
                frac += f * (*p - '0');
                f /= 10;
                p++;
            }
        }
    }
    while (*p == ' ') p++;
    if (!strncasecmp(p, "am", 2) || !strncasecmp(p, "pm", 2)) {
        if (hh < 1 || hh > 12) return -1;
        int pm = tolower((unsigned char)*p) == 'p';
        hh = hh % 12 + (pm ? 12 : 0);
        p += 2;
    }
    while (isspace((unsigned char)*p) || *p == ';') p++;
    if (*p) return -1;
    return kr_utc_seconds(y, mo, d, hh, mm, (double)ss + frac, out_s) ? -1 : 0; /* checks the calendar too */
}

/* ---- acquisitions --------------------------------------------------------------------------- */

void kr_la_acq_free(kr_la_acq *a)
{
    if (!a) return;
    free(a->iso);
    free(a->time_s);
    memset(a, 0, sizeof *a);
}

void kr_la_acqs_free(kr_la_acq *a, size_t n)
{
    if (!a) return;
    for (size_t i = 0; i < n; i++) kr_la_acq_free(&a[i]);
    free(a);
}

/* One allocation: time_s then niso columns of cap values (cps points into it). */
static int acq_alloc(kr_la_acq *a, int niso, size_t cap)
{
    if (cap == 0) cap = 1;
    a->iso = calloc((size_t)(niso > 0 ? niso : 1), sizeof *a->iso);
    a->time_s = malloc(sizeof(double) * cap * (size_t)(niso + 1));
    if (!a->iso || !a->time_s) {
        free(a->iso);
        free(a->time_s);
        a->iso = NULL;
        a->time_s = NULL;
        return kr_err(KR_ENOMEM, "%s: out of memory for %d isotopes x %zu sweeps", a->source, niso, cap);
    }
    a->niso = niso;
    a->cap = cap;
    a->n = 0;
    a->cps = a->time_s + cap;
    return KR_OK;
}

static size_t count_lines_from(const kr_text *t, size_t pos)
{
    size_t n = 1;
    const char *p = t->data + pos, *end = t->data + t->len;
    while (p < end && (p = memchr(p, '\n', (size_t)(end - p)))) {
        n++;
        p++;
    }
    return n;
}

static int count_fields(const char *line, char sep)
{
    int n = 1;
    for (const char *p = line; *p; p++) n += *p == sep;
    return n;
}

static void skip_bom(kr_lines *it)
{
    if (it->text->len >= 3 && !memcmp(it->text->data, "\xEF\xBB\xBF", 3)) it->pos = 3;
}

static void stem_of(const char *path, char *out, size_t len)
{
    const char *b = path;
    for (const char *p = path; *p; p++)
        if (*p == '/' || *p == '\\') b = p + 1;
    snprintf(out, len, "%s", b);
    char *dot = strrchr(out, '.');
    if (dot && dot != out) *dot = 0;
}

/* Exact fast path for plain decimals ("12345.678", "-1.5e3"): up to 19 digits whose integer value m is at
 * most 2^53 and a decimal exponent e with |e| <= 22; then m and 10^|e| are exact doubles and one IEEE
 * multiplication or division gives the correctly rounded value, the same bits as strtod (Clinger 1990,
 * PLDI '90 "How to read floating point numbers accurately", the fast path). Anything else (more digits,
 * hex, inf/nan, bad text) goes to kr_parse_double, which is strict. */
static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

int kr_la_parse_number(const char *s, double *out)
{
    const char *p = s;
    uint64_t m = 0;
    int nd = 0, e = 0, neg = 0;
    while (*p == ' ' || *p == '\t') p++;
    if (*p == '-' || *p == '+') neg = *p++ == '-';
    const char *d0 = p;
    for (; *p >= '0' && *p <= '9'; p++, nd++) m = m * 10 + (uint64_t)(*p - '0');
    int nint = (int)(p - d0);
    if (*p == '.') {
        p++;
        for (; *p >= '0' && *p <= '9'; p++, nd++, e--) m = m * 10 + (uint64_t)(*p - '0');
    }
    if (nd == 0 || nd > 19 || (nint == 0 && e == 0)) return kr_parse_double(s, out);
    if (*p == 'e' || *p == 'E') {
        int en = 0, eneg = 0, ed = 0;
        p++;
        if (*p == '-' || *p == '+') eneg = *p++ == '-';
        for (; *p >= '0' && *p <= '9' && ed < 4; p++, ed++) en = en * 10 + (*p - '0');
        if (!ed || (*p >= '0' && *p <= '9')) return kr_parse_double(s, out);
        e += eneg ? -en : en;
    }
    while (*p == ' ' || *p == '\t') p++;
    if (*p || m > (UINT64_C(1) << 53) || e < -22 || e > 22) return kr_parse_double(s, out);
    double v = (double)m;
    v = e < 0 ? v / POW10[-e] : v * POW10[e];
    *out = neg ? -v : v;
    return 0;
}

static int parse_cell(const kr_text *t, long line, const char *cell, const char *what, double *v)
{
    if (kr_la_parse_number(cell, v))
        return kr_err_at(KR_EINPUT, t->path, line, "%s: '%s' is not a number", what, cell);
    return KR_OK;
}

/* One sweep row "time,v1,...,vN" (trailing empty fields ignored) into sweep out->n; counts per sweep are
 * turned into cps with dwell_s when the export holds counts. f has room for nf + 1 fields. */
static int parse_sweep_row(const kr_text *t, long lineno, char *line, char **f, int nf, const char *time_label,
                           double dwell_s, kr_la_acq *out)
{
    int niso = out->niso;
    int m = kr_split(line, ',', f, nf + 1);
    while (m > 1 && !*f[m - 1]) m--;
    if (m != niso + 1)
        return kr_err_at(KR_EINPUT, t->path, lineno, "expected %d values (time and %d isotopes), found %d", niso + 1,
                         niso, m < 0 ? nf + 1 : m);
    size_t r = out->n;
    int rc = parse_cell(t, lineno, f[0], time_label, &out->time_s[r]);
    for (int k = 0; k < niso && !rc; k++) {
        double *col = kr_la_col(out, k);
        if (kr_la_parse_number(f[k + 1], &col[r])) { /* the message is built only for a bad cell */
            char what[64];
            snprintf(what, sizeof what, "column %d (%s)", k + 2, out->iso[k].label);
            return parse_cell(t, lineno, f[k + 1], what, &col[r]);
        }
        if (out->counts_input) col[r] /= dwell_s; /* counts per sweep -> cps */
    }
    return rc;
}

int kr_la_parse_qtegra(kr_text *t, kr_la_acq *out)
{
    int rc = KR_OK;
    char **f = NULL;
    memset(out, 0, sizeof *out);
    snprintf(out->source, sizeof out->source, "%s", t->path);
    snprintf(out->format, sizeof out->format, "qtegra");
    stem_of(t->path, out->name, sizeof out->name);
    kr_lines it;
    kr_lines_init(&it, t);
    skip_bom(&it);
    char *line = kr_lines_next(&it);
    if (!line) return kr_err_at(KR_EINPUT, t->path, 1, "empty file (expected Qtegra '<sample>:<date time>;')");
    /* line 1: <sample>:<date>; the sample may itself hold ':' so try each split */
    int ok = 0;
    for (char *c = strchr(line, ':'); c && !ok; c = strchr(c + 1, ':')) {
        if (!kr_la_parse_datetime(c + 1, &out->start_s)) {
            size_t ln = (size_t)(c - line);
            if (ln >= sizeof out->sample) ln = sizeof out->sample - 1;
            memcpy(out->sample, line, ln);
            out->sample[ln] = 0;
            ok = 1;
        }
    }
    if (!ok) {
        const char *c = strchr(line, ':');
        return kr_err_at(KR_EINPUT, t->path, it.lineno,
                         "unknown date format '%s' (expected '<sample>:<date time>;' with a date such as "
                         "01/28/2015 04:27:26 PM, 11-18-2020 04:26:15 AM or 2020-11-18 16:26:15)",
                         c ? c + 1 : line);
    }
    kr_trim(out->sample);
    /* header sections until the blank line, then the Time header */
    char *hdr = NULL;
    while ((line = kr_lines_next(&it))) {
        if (!strncmp(line, "Software:", 9)) {
            const char *v = strstr(line, "Version=");
            if (v) {
                snprintf(out->software, sizeof out->software, "Qtegra %.*s", (int)strcspn(v + 8, ";"), v + 8);
            }
        }
        if (!strncmp(line, "Time,", 5)) {
            hdr = line;
            break;
        }
    }
    if (!hdr) return kr_err_at(KR_EINPUT, t->path, it.lineno, "no 'Time,<isotopes>' header line in the Qtegra file");
    long hdr_line = it.lineno;
    int nf = count_fields(hdr, ',');
    f = malloc(sizeof *f * (size_t)(nf + 2));
    if (!f) return kr_err(KR_ENOMEM, "out of memory");
    int n = kr_split(hdr, ',', f, nf + 1);
    while (n > 1 && !*f[n - 1]) n--; /* trailing comma */
    int niso = n - 1;
    if (niso < 1) {
        rc = kr_err_at(KR_EINPUT, t->path, hdr_line, "the Time header names no isotope");
        goto cleanup;
    }
    size_t cap = count_lines_from(t, it.pos);
    if ((rc = acq_alloc(out, niso, cap))) goto cleanup;
    for (int k = 0; k < niso; k++) {
        kr_la_isotope_parse(f[k + 1], &out->iso[k]);
        if (!*f[k + 1]) {
            rc = kr_err_at(KR_EINPUT, t->path, hdr_line, "isotope %d of the header is empty", k + 1);
            goto cleanup;
        }
    }
    int have_dwell = 0;
    while ((line = kr_lines_next(&it))) {
        if (!*line) continue;
        if (line[0] == ',' && !have_dwell) { /* ,dwell time=0.05;xcal factor=...,... */
            int m = kr_split(line, ',', f, nf + 1);
            for (int k = 0; k < niso && k + 1 < m; k++) {
                const char *d = strstr(f[k + 1], "dwell time=");
                if (!d) continue;
                char tmp[48];
                snprintf(tmp, sizeof tmp, "%.*s", (int)strcspn(d + 11, ";"), d + 11);
                double v;
                if (kr_parse_double(tmp, &v) || !(v > 0)) {
                    rc = kr_err_at(KR_EINPUT, t->path, it.lineno, "isotope %s: dwell time '%s' is not a positive number",
                                   out->iso[k].label, tmp);
                    goto cleanup;
                }
                out->iso[k].dwell_s = v;
            }
            have_dwell = 1;
            continue;
        }
        if ((rc = parse_sweep_row(t, it.lineno, line, f, nf, "Time", 0.0, out))) goto cleanup;
        out->n++;
    }
    if (out->n == 0) rc = kr_err_at(KR_EINPUT, t->path, it.lineno, "no data rows after the header");
cleanup:
    free(f);
    if (rc) kr_la_acq_free(out);
    return rc;
}

int kr_la_parse_agilent(kr_text *t, double dwell_s, kr_la_acq *out)
{
    int rc = KR_OK;
    char **f = NULL;
    memset(out, 0, sizeof *out);
    snprintf(out->source, sizeof out->source, "%s", t->path);
    snprintf(out->format, sizeof out->format, "agilent");
    snprintf(out->software, sizeof out->software, "MassHunter");
    kr_lines it;
    kr_lines_init(&it, t);
    skip_bom(&it);
    char *line = kr_lines_next(&it);
    if (!line) return kr_err_at(KR_EINPUT, t->path, 1, "empty file");
    char tmp[256];
    snprintf(tmp, sizeof tmp, "%s", kr_trim(line));
    size_t tl = strlen(tmp);
    if (tl && (tmp[tl - 1] == '\\' || tmp[tl - 1] == '/')) tmp[tl - 1] = 0;
    stem_of(tmp, out->sample, sizeof out->sample);
    stem_of(t->path, out->name, sizeof out->name);
    line = kr_lines_next(&it);
    if (!line || strncmp(line, "Intensity Vs Time", 17))
        return kr_err_at(KR_EINPUT, t->path, it.lineno, "expected 'Intensity Vs Time,CPS|Counts'");
    const char *unit = strchr(line, ',');
    if (unit && kr_streq_ci(kr_trim((char *)unit + 1), "Counts")) out->counts_input = 1;
    else if (!unit || !kr_streq_ci(kr_trim((char *)unit + 1), "CPS"))
        return kr_err_at(KR_EINPUT, t->path, it.lineno, "unknown intensity unit '%s' (expected CPS or Counts)",
                         unit ? unit + 1 : "");
    if (!(dwell_s > 0)) return kr_err(KR_EINPUT, "%s: Agilent exports hold no dwell time: give a positive one", t->path);
    line = kr_lines_next(&it);
    if (!line || strncmp(line, "Acquired", 8) || !strchr(line, ':'))
        return kr_err_at(KR_EINPUT, t->path, it.lineno, "expected 'Acquired : <date> using ...'");
    char *d = strchr(line, ':') + 1;
    char *u = strstr(d, " using ");
    if (u) *u = 0;
    if (kr_la_parse_datetime(d, &out->start_s))
        return kr_err_at(KR_EINPUT, t->path, it.lineno, "unknown date format '%s' (expected e.g. 'Oct 29 2015  03:06:01 pm')",
                         kr_trim(d));
    char *hdr = kr_lines_next(&it);
    if (!hdr || strncmp(hdr, "Time", 4))
        return kr_err_at(KR_EINPUT, t->path, it.lineno, "expected the 'Time [Sec],<isotopes>' header");
    long hdr_line = it.lineno;
    int nf = count_fields(hdr, ',');
    f = malloc(sizeof *f * (size_t)(nf + 2));
    if (!f) return kr_err(KR_ENOMEM, "out of memory");
    int n = kr_split(hdr, ',', f, nf + 1);
    while (n > 1 && !*f[n - 1]) n--;
    int niso = n - 1;
    if (niso < 1) {
        rc = kr_err_at(KR_EINPUT, t->path, hdr_line, "the Time header names no isotope");
        goto cleanup;
    }
    size_t cap = count_lines_from(t, it.pos);
    if ((rc = acq_alloc(out, niso, cap))) goto cleanup;
    for (int k = 0; k < niso; k++) {
        kr_la_isotope_parse(f[k + 1], &out->iso[k]);
        out->iso[k].dwell_s = dwell_s;
    }
    int footer = 0;
    while ((line = kr_lines_next(&it))) {
        if (!*kr_trim(line)) continue;
        if (!strncmp(line, "Printed", 7)) {
            footer = 1;
            continue;
        }
        if (footer) continue; /* the footer may span lines */
        if ((rc = parse_sweep_row(t, it.lineno, line, f, nf, "Time [Sec]", dwell_s, out))) goto cleanup;
        out->n++;
    }
    if (out->n == 0) rc = kr_err_at(KR_EINPUT, t->path, it.lineno, "no data rows after the header");
cleanup:
    free(f);
    if (rc) kr_la_acq_free(out);
    return rc;
}

/* ---- Qtegra batch exports ------------------------------------------------------------------------ */

#define KR_LA_BATCH_MAXISO 256

static int iso_index(char (*names)[KR_LA_LABEL], int *n, const char *label)
{
    for (int i = 0; i < *n; i++)
        if (!strcmp(names[i], label)) return i;
    if (*n >= KR_LA_BATCH_MAXISO) return -1;
    snprintf(names[*n], KR_LA_LABEL, "%s", label);
    return (*n)++;
}

/* rows layout: line 1 ",,MainRuns,...", 2 sweep index, 3 isotope, 4 quantity, then one row per sample */
static int parse_batch_rows(kr_text *t, kr_lines *it, char *l1, double dwell_s, kr_la_acq **out, size_t *nout)
{
    int rc = KR_OK;
    char **f = NULL;
    int *cidx = NULL, *ciso = NULL, *cq = NULL; /* per column: sweep, isotope, quantity (0 other, 1 Y, 2 Time) */
    char(*names)[KR_LA_LABEL] = NULL;
    kr_la_acq *acqs = NULL;
    size_t nacq = 0;
    int nf = count_fields(l1, ',');
    f = malloc(sizeof *f * (size_t)(nf + 2));
    cidx = calloc((size_t)nf + 1, sizeof *cidx);
    ciso = calloc((size_t)nf + 1, sizeof *ciso);
    cq = calloc((size_t)nf + 1, sizeof *cq);
    names = calloc(KR_LA_BATCH_MAXISO, sizeof *names);
    if (!f || !cidx || !ciso || !cq || !names) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    char *l2 = kr_lines_next(it), *l3, *l4;
    long ln2 = it->lineno;
    int m = l2 ? kr_split(l2, ',', f, nf + 1) : -1;
    if (m < 3) {
        rc = kr_err_at(KR_EINPUT, t->path, ln2, "batch rows export: expected the sweep-index line");
        goto cleanup;
    }
    long maxidx = -1;
    for (int c = 2; c < m; c++) {
        long v = -1;
        if (*f[c] && (kr_parse_long(f[c], &v) || v < 0)) {
            rc = kr_err_at(KR_EINPUT, t->path, ln2, "column %d: sweep index '%s' is not a non-negative integer", c + 1, f[c]);
            goto cleanup;
        }
        cidx[c] = (int)v;
        if (v > maxidx) maxidx = v;
    }
    l3 = kr_lines_next(it);
    long ln3 = it->lineno;
    int m3 = l3 ? kr_split(l3, ',', f, nf + 1) : -1;
    if (m3 != m) {
        rc = kr_err_at(KR_EINPUT, t->path, ln3, "batch rows export: expected %d isotope fields, found %d", m, m3);
        goto cleanup;
    }
    int niso = 0;
    for (int c = 2; c < m; c++) {
        ciso[c] = -1;
        if (!*f[c]) continue;
        kr_la_isotope tmp;
        kr_la_isotope_parse(f[c], &tmp);
        ciso[c] = iso_index(names, &niso, tmp.label);
        if (ciso[c] < 0) {
            rc = kr_err_at(KR_EINPUT, t->path, ln3, "more than %d isotopes", KR_LA_BATCH_MAXISO);
            goto cleanup;
        }
    }
    l4 = kr_lines_next(it);
    long ln4 = it->lineno;
    int m4 = l4 ? kr_split(l4, ',', f, nf + 1) : -1;
    if (m4 != m) {
        rc = kr_err_at(KR_EINPUT, t->path, ln4, "batch rows export: expected %d quantity fields, found %d", m, m4);
        goto cleanup;
    }
    for (int c = 2; c < m; c++) cq[c] = !strcmp(f[c], "Y") ? 1 : !strcmp(f[c], "Time") ? 2 : 0;
    if (niso == 0 || maxidx < 0) {
        rc = kr_err_at(KR_EINPUT, t->path, ln3, "batch rows export names no isotope or sweep");
        goto cleanup;
    }
    size_t cap = count_lines_from(t, it->pos);
    acqs = calloc(cap, sizeof *acqs);
    if (!acqs) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    char *line;
    while ((line = kr_lines_next(it))) {
        if (!*line) continue;
        int k = kr_split(line, ',', f, nf + 1);
        if (k != m) {
            rc = kr_err_at(KR_EINPUT, t->path, it->lineno, "expected %d fields, found %d", m, k < 0 ? nf + 1 : k);
            goto cleanup;
        }
        kr_la_acq *a = &acqs[nacq];
        snprintf(a->source, sizeof a->source, "%s", t->path);
        snprintf(a->format, sizeof a->format, "qtegra_rows");
        snprintf(a->name, sizeof a->name, "%s", f[0]);
        snprintf(a->sample, sizeof a->sample, "%s", f[1]);
        a->start_s = NAN;
        if ((rc = acq_alloc(a, niso, (size_t)maxidx + 1))) goto cleanup;
        nacq++;
        a->n = (size_t)maxidx + 1;
        for (int i = 0; i < niso; i++) {
            kr_la_isotope_parse(names[i], &a->iso[i]);
            a->iso[i].dwell_s = dwell_s;
        }
        for (size_t s = 0; s < a->n * (size_t)(niso + 1); s++) a->time_s[s] = NAN;
        for (int c = 2; c < m; c++) {
            if (!cq[c] || ciso[c] < 0) continue;
            double v;
            char what[80];
            snprintf(what, sizeof what, "column %d (%s %s)", c + 1, names[ciso[c]], cq[c] == 1 ? "Y" : "Time");
            if ((rc = parse_cell(t, it->lineno, f[c], what, &v))) goto cleanup;
            if (cq[c] == 1) kr_la_col(a, ciso[c])[cidx[c]] = v;
            else if (ciso[c] == 0) a->time_s[cidx[c]] = v; /* sweep time: that of the first isotope */
        }
        for (size_t s = 0; s < a->n; s++)
            if (isnan(a->time_s[s])) {
                rc = kr_err_at(KR_EINPUT, t->path, it->lineno, "sweep %zu has no Time value", s);
                goto cleanup;
            }
    }
    if (nacq == 0) rc = kr_err_at(KR_EINPUT, t->path, it->lineno, "batch rows export holds no sample row");
cleanup:
    free(f);
    free(cidx);
    free(ciso);
    free(cq);
    free(names);
    if (rc) {
        kr_la_acqs_free(acqs, nacq);
        return rc;
    }
    *out = acqs;
    *nout = nacq;
    return KR_OK;
}

/* columns layout: line 1 ",,,,Sample 1,...", line 2 ",,,,<Identifier>,...", then
 * "MainRuns,<sweep>,<isotope>,<quantity>,v1,...,vS" */
static int parse_batch_columns(kr_text *t, kr_lines *it, char *l1, double dwell_s, kr_la_acq **out, size_t *nout)
{
    int rc = KR_OK;
    char **f = NULL;
    char(*names)[KR_LA_LABEL] = NULL;
    kr_la_acq *acqs = NULL;
    size_t nacq = 0;
    int ns = 0;
    int nf = count_fields(l1, ',');
    f = malloc(sizeof *f * (size_t)(nf + 2));
    names = calloc(KR_LA_BATCH_MAXISO, sizeof *names);
    if (!f || !names) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    int m = kr_split(l1, ',', f, nf + 1);
    while (m > 4 && !*f[m - 1]) m--;
    ns = m - 4;
    if (ns < 1) {
        rc = kr_err_at(KR_EINPUT, t->path, 1, "batch columns export names no sample");
        goto cleanup;
    }
    acqs = calloc((size_t)ns, sizeof *acqs);
    if (!acqs) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (int s = 0; s < ns; s++) {
        snprintf(acqs[s].name, sizeof acqs[s].name, "%s", f[4 + s]);
        snprintf(acqs[s].source, sizeof acqs[s].source, "%s", t->path);
        snprintf(acqs[s].format, sizeof acqs[s].format, "qtegra_columns");
        acqs[s].start_s = NAN;
    }
    char *l2 = kr_lines_next(it);
    int m2 = l2 ? kr_split(l2, ',', f, nf + 1) : -1;
    for (int s = 0; s < ns && 4 + s < m2; s++) snprintf(acqs[s].sample, sizeof acqs[s].sample, "%s", f[4 + s]);
    /* first look (without modifying the buffer) for the isotopes and the number of sweeps */
    int niso = 0;
    long maxidx = -1;
    size_t nrows = 0;
    /* after a last line without a newline the cursor sits one past the terminating NUL */
    for (const char *p = it->pos < t->len ? t->data + it->pos : NULL; p && *p;) {
        const char *e = strpbrk(p, "\r\n");
        size_t len = e ? (size_t)(e - p) : strlen(p);
        char buf[160];
        snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf - 1 ? len : sizeof buf - 1), p);
        char *g[4];
        char *c1 = strchr(buf, ',');
        if (c1) {
            *c1 = 0;
            g[1] = c1 + 1;
            char *c2 = strchr(g[1], ',');
            if (c2) {
                *c2 = 0;
                g[2] = c2 + 1;
                char *c3 = strchr(g[2], ',');
                if (c3) {
                    *c3 = 0;
                    long v;
                    if (!kr_parse_long(g[1], &v) && v > maxidx) maxidx = v;
                    nrows++;
                    kr_la_isotope tmp;
                    kr_la_isotope_parse(g[2], &tmp);
                    if (iso_index(names, &niso, tmp.label) < 0) {
                        rc = kr_err_at(KR_EINPUT, t->path, 0, "more than %d isotopes", KR_LA_BATCH_MAXISO);
                        goto cleanup;
                    }
                }
            }
        }
        if (!e) break;
        p = e + 1;
    }
    if (niso == 0 || maxidx < 0) {
        rc = kr_err_at(KR_EINPUT, t->path, 3, "batch columns export: no 'MainRuns,<sweep>,<isotope>,<quantity>' rows");
        goto cleanup;
    }
    /* one row per (sweep, isotope, quantity): a sweep number above the row count is a damaged file, and
     * sizing the arrays by it would ask for any amount of memory */
    if ((size_t)maxidx >= nrows) {
        rc = kr_err_at(KR_EINPUT, t->path, 0, "batch columns export: sweep %ld but only %zu data rows", maxidx, nrows);
        goto cleanup;
    }
    for (int s = 0; s < ns; s++) {
        if ((rc = acq_alloc(&acqs[s], niso, (size_t)maxidx + 1))) goto cleanup;
        nacq++;
        acqs[s].n = (size_t)maxidx + 1;
        for (int i = 0; i < niso; i++) {
            kr_la_isotope_parse(names[i], &acqs[s].iso[i]);
            acqs[s].iso[i].dwell_s = dwell_s;
        }
        for (size_t q = 0; q < acqs[s].n * (size_t)(niso + 1); q++) acqs[s].time_s[q] = NAN;
    }
    char *line;
    while ((line = kr_lines_next(it))) {
        if (!*line) continue;
        int k = kr_split(line, ',', f, nf + 1);
        while (k > 4 && !*f[k - 1]) k--;
        if (k != m) {
            rc = kr_err_at(KR_EINPUT, t->path, it->lineno, "expected %d fields, found %d", m, k < 0 ? nf + 1 : k);
            goto cleanup;
        }
        long idx;
        if (kr_parse_long(f[1], &idx) || idx < 0 || idx > maxidx) {
            rc = kr_err_at(KR_EINPUT, t->path, it->lineno, "sweep index '%s' is not an integer in 0..%ld", f[1], maxidx);
            goto cleanup;
        }
        kr_la_isotope tmp;
        kr_la_isotope_parse(f[2], &tmp);
        int ii = iso_index(names, &niso, tmp.label);
        int q = !strcmp(f[3], "Y") ? 1 : !strcmp(f[3], "Time") ? 2 : 0;
        if (!q || (q == 2 && ii != 0)) continue;
        for (int s = 0; s < ns; s++) {
            double v;
            char what[192]; /* room for the longest label, sample name and number */
            snprintf(what, sizeof what, "column %d (%s %s, %s)", s + 5, tmp.label, f[3], acqs[s].name);
            if ((rc = parse_cell(t, it->lineno, f[4 + s], what, &v))) goto cleanup;
            if (q == 1) kr_la_col(&acqs[s], ii)[idx] = v;
            else acqs[s].time_s[idx] = v;
        }
    }
    for (int s = 0; s < ns; s++)
        for (size_t q = 0; q < acqs[s].n; q++)
            if (isnan(acqs[s].time_s[q])) {
                rc = kr_err_at(KR_EINPUT, t->path, it->lineno, "%s: sweep %zu has no Time value", acqs[s].name, q);
                goto cleanup;
            }
cleanup:
    free(f);
    free(names);
    if (rc) {
        kr_la_acqs_free(acqs, (size_t)ns > nacq ? (size_t)ns : nacq);
        return rc;
    }
    *out = acqs;
    *nout = (size_t)ns;
    return KR_OK;
}

int kr_la_parse_qtegra_batch(kr_text *t, double dwell_s, kr_la_acq **out, size_t *nout)
{
    kr_lines it;
    kr_lines_init(&it, t);
    skip_bom(&it);
    char *l1 = kr_lines_next(&it);
    if (!l1) return kr_err_at(KR_EINPUT, t->path, 1, "empty file");
    if (strstr(l1, "MainRuns")) return parse_batch_rows(t, &it, l1, dwell_s, out, nout);
    if (!strncmp(l1, ",,,,", 4)) return parse_batch_columns(t, &it, l1, dwell_s, out, nout);
    return kr_err_at(KR_EINPUT, t->path, 1, "not a Qtegra batch export (expected ',,MainRuns,...' or ',,,,<sample>,...')");
}

int kr_la_read_file(const char *path, double default_dwell_s, kr_la_acq **out, size_t *nout)
{
    kr_text t;
    kr_la_acq *a = NULL;
    int rc = kr_text_read(path, &t);
    if (rc) return rc;
    const char *d = t.data;
    if (t.len >= 3 && !memcmp(d, "\xEF\xBB\xBF", 3)) d += 3;
    const char *nl = strchr(d, '\n');
    if (nl && !strncmp(nl + 1, "Intensity Vs Time", 17)) {
        a = calloc(1, sizeof *a);
        if (!a) rc = kr_err(KR_ENOMEM, "out of memory");
        else if (!(rc = kr_la_parse_agilent(&t, default_dwell_s, a))) *nout = 1;
    } else if (!strncmp(d, ",,", 2)) {
        rc = kr_la_parse_qtegra_batch(&t, default_dwell_s, &a, nout);
    } else if (nl && nl > d && strchr(d, ':') && strchr(d, ':') < nl) {
        a = calloc(1, sizeof *a);
        if (!a) rc = kr_err(KR_ENOMEM, "out of memory");
        else if (!(rc = kr_la_parse_qtegra(&t, a))) {
            *nout = 1;
            for (int k = 0; k < a->niso; k++)
                if (isnan(a->iso[k].dwell_s)) a->iso[k].dwell_s = default_dwell_s;
        }
    } else {
        rc = kr_err_at(KR_EINPUT, path, 1,
                       "unknown export format (expected Qtegra '<sample>:<date>;', a Qtegra batch export or Agilent "
                       "'Intensity Vs Time' on line 2)");
    }
    kr_text_free(&t);
    if (rc) {
        free(a);
        return rc;
    }
    *out = a;
    return KR_OK;
}

/* ---- laser log ------------------------------------------------------------------------------------ */

void kr_la_log_free(kr_la_log *log)
{
    if (!log) return;
    free(log->e);
    log->e = NULL;
    log->n = 0;
}

int kr_la_log_parse(kr_text *t, kr_la_log *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", t->path);
    size_t cap = count_lines_from(t, 0);
    out->e = calloc(cap, sizeof *out->e);
    if (!out->e) return kr_err(KR_ENOMEM, "out of memory");
    kr_lines it;
    kr_lines_init(&it, t);
    skip_bom(&it);
    char *line, *f[8];
    int header = 0, c_end = -1;
    while ((line = kr_lines_next(&it))) {
        char *s = kr_trim(line);
        if (!*s || *s == '#') continue;
        int m = kr_split(s, ',', f, 8);
        if (!header) {
            if (m < 3 || strcmp(f[0], "spot") || strcmp(f[1], "sample") || strcmp(f[2], "start_s") ||
                (m == 4 && strcmp(f[3], "end_s")) || m > 4) {
                kr_la_log_free(out);
                return kr_err_at(KR_EINPUT, t->path, it.lineno, "expected the header 'spot,sample,start_s[,end_s]'");
            }
            c_end = m == 4 ? 3 : -1;
            header = 1;
            continue;
        }
        if (m < 3 || (c_end < 0 && m != 3) || (c_end >= 0 && m != 4)) {
            kr_la_log_free(out);
            return kr_err_at(KR_EINPUT, t->path, it.lineno, "expected %d fields, found %d", c_end >= 0 ? 4 : 3, m);
        }
        kr_la_log_entry *e = &out->e[out->n];
        snprintf(e->spot, sizeof e->spot, "%s", f[0]);
        snprintf(e->sample, sizeof e->sample, "%s", f[1]);
        e->line = it.lineno;
        e->end_s = NAN;
        if (!*f[0] || kr_parse_double(f[2], &e->start_s) ||
            (c_end >= 0 && *f[3] && (kr_parse_double(f[3], &e->end_s) || !(e->end_s > e->start_s)))) {
            kr_la_log_free(out);
            return kr_err_at(KR_EINPUT, t->path, it.lineno,
                             "spot '%s': start_s '%s'%s%s must be numbers (seconds from the acquisition start), end > start",
                             f[0], f[2], c_end >= 0 ? ", end_s " : "", c_end >= 0 ? f[3] : "");
        }
        if (out->n && e->start_s <= out->e[out->n - 1].start_s) {
            kr_la_log_free(out);
            return kr_err_at(KR_EINPUT, t->path, it.lineno, "spot '%s' starts at %g s, not after the previous spot (%g s)",
                             e->spot, e->start_s, out->e[out->n - 1].start_s);
        }
        out->n++;
    }
    if (!out->n) {
        kr_la_log_free(out);
        return kr_err_at(KR_EINPUT, t->path, it.lineno, "the laser log lists no spot");
    }
    return KR_OK;
}

int kr_la_log_read(const char *path, kr_la_log *out)
{
    kr_text t;
    int rc = kr_text_read(path, &t);
    if (rc) return rc;
    rc = kr_la_log_parse(&t, out);
    kr_text_free(&t);
    return rc;
}

int kr_la_split_by_log(const kr_la_acq *a, const kr_la_log *log, kr_la_acq **out, size_t *nout)
{
    int rc = KR_OK;
    kr_la_acq *v = calloc(log->n, sizeof *v);
    size_t nv = 0;
    if (!v) return kr_err(KR_ENOMEM, "out of memory");
    for (size_t i = 0; i < log->n; i++) {
        const kr_la_log_entry *e = &log->e[i];
        double t1 = !isnan(e->end_s) ? e->end_s : i + 1 < log->n ? log->e[i + 1].start_s : INFINITY;
        size_t s0 = 0, s1;
        while (s0 < a->n && a->time_s[s0] < e->start_s) s0++;
        s1 = s0;
        while (s1 < a->n && a->time_s[s1] < t1) s1++;
        if (s1 - s0 < 2) {
            rc = kr_err_at(KR_EINPUT, log->path, e->line, "spot '%s' (%g s to %g s) holds no sweeps of %s (0 to %g s)",
                           e->spot, e->start_s, t1, a->source, a->n ? a->time_s[a->n - 1] : 0.0);
            goto cleanup;
        }
        kr_la_acq *b = &v[nv];
        *b = (kr_la_acq){0};
        snprintf(b->name, sizeof b->name, "%s", e->spot);
        snprintf(b->sample, sizeof b->sample, "%s", e->sample);
        snprintf(b->source, sizeof b->source, "%s", a->source);
        snprintf(b->format, sizeof b->format, "%.19s+log", a->format);
        snprintf(b->software, sizeof b->software, "%s", a->software);
        b->counts_input = a->counts_input;
        if ((rc = acq_alloc(b, a->niso, s1 - s0))) goto cleanup;
        nv++;
        b->start_s = a->start_s + a->time_s[s0];
        b->n = s1 - s0;
        memcpy(b->iso, a->iso, sizeof *a->iso * (size_t)a->niso);
        for (size_t s = 0; s < b->n; s++) b->time_s[s] = a->time_s[s0 + s] - a->time_s[s0];
        for (int k = 0; k < a->niso; k++) memcpy(kr_la_col(b, k), kr_la_col(a, k) + s0, sizeof(double) * b->n);
    }
cleanup:
    if (rc) {
        kr_la_acqs_free(v, nv);
        return rc;
    }
    *out = v;
    *nout = nv;
    return KR_OK;
}
