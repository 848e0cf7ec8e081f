/* CAMECA `.asc` reader. */
#include "asc.h"

#include "error.h"
#include "text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_FIELDS = 96, BKG_NOT_SET = 2147483647 };

void kr_asc_free(kr_asc *a)
{
    free(a->species);
    free(a->det);
    free(a->block);
    free(a->cycle);
    free(a->line);
    free(a->cps);
    memset(a, 0, sizeof *a);
}

int kr_asc_find(const kr_asc *a, const char *name)
{
    for (size_t i = 0; i < a->nspecies; i++)
        if (!strcmp(a->species[i].name, name)) return (int)i;
    return -1;
}

int kr_asc_require(const kr_asc *a, const char *name, int *index)
{
    *index = kr_asc_find(a, name);
    if (*index < 0)
        return kr_err_at(KR_EINPUT, a->path, a->species_line, "species %s is not measured in this file (%zu species)",
                         name, a->nspecies);
    return KR_OK;
}

double kr_asc_cps_corrected(const kr_asc *a, size_t i, size_t s)
{
    double raw = a->cps[i * a->nspecies + s];
    int d = a->species[s].det;
    double tau_s = d >= 0 ? a->det[d].dead_time_ns * 1e-9 : 0.0;
    double cps = raw / (1.0 - raw * tau_s); /* non-extending dead time (Knoll 2010, eq. 4-7) */
    if (d >= 0 && a->det[d].bkg_set) cps -= a->det[d].bkg_cps;
    if (d >= 0 && a->det[d].yield > 0) cps /= a->det[d].yield;
    return cps;
}

double kr_asc_counts(const kr_asc *a, size_t i, size_t s)
{
    return a->cps[i * a->nspecies + s] * a->species[s].count_time_s;
}

/* Split a tab line and drop trailing empty fields (the files end rows with a tab). */
static int split_tabs(char *line, char **f)
{
    int nf = kr_split(line, '\t', f, MAX_FIELDS);
    if (nf < 0) return -1;
    while (nf > 0 && !*f[nf - 1]) nf--;
    return nf;
}

static int is_section(const char *line)
{
    /* section headings: "NAME:=====", "NAME=====", "NAME : /////" */
    return strstr(line, "=====") != NULL || strstr(line, "/////") != NULL;
}

static int starts(const char *line, const char *prefix)
{
    return strncmp(line, prefix, strlen(prefix)) == 0;
}

static int parse_species(kr_asc *a, kr_lines *it, char *header_line)
{
    const char *path = a->path;
    char *f[MAX_FIELDS];
    /* header_line is the "ACQUISITION PARAMETERS:" line; the next non-blank line names the species */
    (void)header_line;
    char *line;
    while ((line = kr_lines_next(it)) && !*kr_trim(line)) {
    }
    if (!line || is_section(line))
        return kr_err_at(KR_EINPUT, path, it->lineno, "ACQUISITION PARAMETERS: truncated, expected the species row");
    int nf = split_tabs(line, f);
    if (nf < 2 || *f[0])
        return kr_err_at(KR_EINPUT, path, it->lineno, "ACQUISITION PARAMETERS: expected a row of species names");
    a->nspecies = (size_t)(nf - 1);
    a->species_line = it->lineno;
    a->species = calloc(a->nspecies, sizeof *a->species);
    if (!a->species) return kr_err(KR_ENOMEM, "out of memory");
    for (size_t s = 0; s < a->nspecies; s++) {
        snprintf(a->species[s].name, KR_ASC_NAME, "%s", f[s + 1]);
        a->species[s].det = -1;
        a->species[s].count_time_s = NAN;
        a->species[s].mass_amu = NAN;
    }
    int have_ctime = 0, have_det = 0;
    long ctime_line = 0;
    while ((line = kr_lines_next(it))) {
        char *t = kr_trim(line);
        if (!*t) {
            if (have_ctime && have_det) break;
            continue;
        }
        if (is_section(t)) break;
        nf = split_tabs(line, f);
        if (nf < 1) continue;
        const char *key = f[0];
        int numeric = !strcmp(key, "MASSES") || !strcmp(key, "C.TIME(s)");
        int text = !strcmp(key, "DETECTOR") || !strcmp(key, "TYPE");
        if (!numeric && !text) continue;
        if ((size_t)(nf - 1) < a->nspecies)
            return kr_err_at(KR_EINPUT, path, it->lineno, "%s row: expected %zu values, found %d (truncated?)", key,
                             a->nspecies, nf - 1);
        for (size_t s = 0; s < a->nspecies; s++) {
            const char *v = f[s + 1];
            if (numeric) {
                double d;
                if (kr_parse_double(v, &d))
                    return kr_err_at(KR_EINPUT, path, it->lineno, "%s of %s: '%s' is not a number", key,
                                     a->species[s].name, v);
                if (!strcmp(key, "MASSES"))
                    a->species[s].mass_amu = d;
                else
                    a->species[s].count_time_s = d;
            } else if (!strcmp(key, "DETECTOR")) {
                snprintf(a->species[s].detector, KR_ASC_NAME, "%s", v);
            } else {
                snprintf(a->species[s].type, KR_ASC_NAME, "%s", v);
            }
        }
        if (!strcmp(key, "C.TIME(s)")) {
            have_ctime = 1;
            ctime_line = it->lineno;
        }
        if (!strcmp(key, "DETECTOR")) have_det = 1;
    }
    if (!have_ctime)
        return kr_err_at(KR_EINPUT, path, it->lineno, "ACQUISITION PARAMETERS: no C.TIME(s) row (truncated section?)");
    if (!have_det)
        return kr_err_at(KR_EINPUT, path, it->lineno, "ACQUISITION PARAMETERS: no DETECTOR row (truncated section?)");
    for (size_t s = 0; s < a->nspecies; s++)
        if (!(a->species[s].count_time_s > 0))
            return kr_err_at(KR_EINPUT, path, ctime_line, "count time of %s is %g s: must be > 0", a->species[s].name,
                             a->species[s].count_time_s);
    return KR_OK;
}

static int parse_detectors(kr_asc *a, kr_lines *it)
{
    const char *path = a->path;
    char *f[MAX_FIELDS];
    char *line;
    while ((line = kr_lines_next(it)) && !*kr_trim(line)) {
    }
    if (!line || is_section(line))
        return kr_err_at(KR_EINPUT, path, it->lineno, "DETECTOR PARAMETERS: truncated, expected the column row");
    int nf = split_tabs(line, f);
    int iy = -1, ib = -1, idt = -1;
    for (int k = 1; k < nf; k++) {
        if (!strcmp(f[k], "Yield"))
            iy = k;
        else if (!strcmp(f[k], "Bkg(c/s)"))
            ib = k;
        else if (!strcmp(f[k], "DT(ns)"))
            idt = k;
    }
    if (iy < 0 || ib < 0 || idt < 0)
        return kr_err_at(KR_EINPUT, path, it->lineno, "DETECTOR PARAMETERS: expected columns Yield, Bkg(c/s), DT(ns)");
    size_t cap = 16;
    a->det = calloc(cap, sizeof *a->det);
    if (!a->det) return kr_err(KR_ENOMEM, "out of memory");
    int blank_after = 0;
    while ((line = kr_lines_next(it))) {
        char *t = kr_trim(line);
        if (!*t) {
            if (a->ndet) blank_after = 1;
            if (blank_after) break;
            continue;
        }
        if (is_section(t)) break;
        nf = split_tabs(line, f);
        if (nf <= idt || nf <= ib || nf <= iy)
            return kr_err_at(KR_EINPUT, path, it->lineno, "detector row '%s': expected at least %d columns, found %d",
                             f[0], idt + 1, nf);
        if (a->ndet == cap) {
            cap *= 2;
            kr_asc_detector *p = realloc(a->det, cap * sizeof *p);
            if (!p) return kr_err(KR_ENOMEM, "out of memory");
            a->det = p;
        }
        kr_asc_detector *d = &a->det[a->ndet];
        memset(d, 0, sizeof *d);
        snprintf(d->name, KR_ASC_NAME, "%s", f[0]);
        double bkg;
        if (kr_parse_double(f[iy], &d->yield) || kr_parse_double(f[ib], &bkg) ||
            kr_parse_double(f[idt], &d->dead_time_ns))
            return kr_err_at(KR_EINPUT, path, it->lineno, "detector %s: Yield '%s', Bkg '%s', DT '%s' must be numbers",
                             f[0], f[iy], f[ib], f[idt]);
        d->bkg_set = bkg != BKG_NOT_SET;
        d->bkg_cps = d->bkg_set ? bkg : 0.0;
        a->ndet++;
    }
    if (!a->ndet) return kr_err_at(KR_EINPUT, path, it->lineno, "DETECTOR PARAMETERS: no detector rows (truncated?)");
    return KR_OK;
}

static int parse_raw(kr_asc *a, kr_lines *it, size_t max_rows)
{
    const char *path = a->path;
    char *f[MAX_FIELDS];
    char *line;
    long start = it->lineno;
    if (!a->nspecies) return kr_err_at(KR_EINPUT, path, start, "RAW DATA before ACQUISITION PARAMETERS");
    /* "#block #cycle", blank, species header, blank, rows */
    int header_seen = 0;
    while ((line = kr_lines_next(it))) {
        char *t = kr_trim(line);
        if (!*t) continue;
        if (t[0] == '#') continue;
        if (is_section(t))
            return kr_err_at(KR_EINPUT, path, it->lineno, "RAW DATA: section ends before any data row (truncated)");
        int nf = split_tabs(line, f);
        if (!header_seen) {
            /* the header row: empty first field then the species names in acquisition order */
            if ((size_t)(nf - 1) != a->nspecies || *f[0])
                return kr_err_at(KR_EINPUT, path, it->lineno,
                                 "RAW DATA: expected a header of %zu species, found %d fields", a->nspecies, nf - 1);
            for (size_t s = 0; s < a->nspecies; s++)
                if (strcmp(f[s + 1], a->species[s].name))
                    return kr_err_at(KR_EINPUT, path, it->lineno, "RAW DATA: column %zu is '%s', expected species '%s'",
                                     s + 3, f[s + 1], a->species[s].name);
            header_seen = 1;
            break;
        }
    }
    if (!header_seen) return kr_err_at(KR_EINPUT, path, it->lineno, "RAW DATA: truncated before the species header");
    a->block = calloc(max_rows, sizeof *a->block);
    a->cycle = calloc(max_rows, sizeof *a->cycle);
    a->line = calloc(max_rows, sizeof *a->line);
    a->cps = calloc(max_rows * a->nspecies, sizeof *a->cps);
    if (!a->block || !a->cycle || !a->line || !a->cps) return kr_err(KR_ENOMEM, "out of memory");
    int rows_started = 0;
    while ((line = kr_lines_next(it))) {
        char *t = kr_trim(line);
        if (!*t) {
            if (rows_started) break;
            continue;
        }
        if (is_section(t)) break;
        rows_started = 1;
        int nf = split_tabs(line, f);
        if (nf < 0 || (size_t)nf != a->nspecies + 2)
            return kr_err_at(KR_EINPUT, path, it->lineno,
                             "RAW DATA row: expected block, cycle and %zu values, found %d fields", a->nspecies,
                             nf < 0 ? MAX_FIELDS : nf);
        long b, c;
        if (kr_parse_long(f[0], &b) || kr_parse_long(f[1], &c))
            return kr_err_at(KR_EINPUT, path, it->lineno, "RAW DATA row: block '%s' and cycle '%s' must be integers",
                             f[0], f[1]);
        size_t i = a->ncycles;
        a->block[i] = (int)b;
        a->cycle[i] = (int)c;
        a->line[i] = it->lineno;
        for (size_t s = 0; s < a->nspecies; s++) {
            double v;
            if (kr_parse_double(f[s + 2], &v) || !isfinite(v))
                return kr_err_at(KR_EINPUT, path, it->lineno, "RAW DATA %s: '%s' is not a number", a->species[s].name,
                                 f[s + 2]);
            a->cps[i * a->nspecies + s] = v;
        }
        a->ncycles++;
    }
    if (!a->ncycles) return kr_err_at(KR_EINPUT, path, it->lineno, "RAW DATA: no cycles (truncated section)");
    return KR_OK;
}

int kr_asc_read(const char *path, kr_asc *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", path);
    kr_text t;
    int rc = kr_text_read(path, &t);
    if (rc) return rc;
    size_t nlines = 1;
    for (size_t i = 0; i < t.len; i++)
        if (t.data[i] == '\n') nlines++;
    kr_lines it;
    kr_lines_init(&it, &t);
    char *line;
    int saw_cameca = 0, saw_acq = 0, saw_det = 0, saw_raw = 0;
    while ((line = kr_lines_next(&it))) {
        char *s = kr_trim(line);
        if (!saw_cameca) {
            if (!*s) continue;
            if (!starts(s, "CAMECA")) {
                rc = kr_err_at(KR_EINPUT, path, it.lineno,
                               "not a CAMECA .asc export (first line does not start with CAMECA)");
                goto cleanup;
            }
            saw_cameca = 1;
            continue;
        }
        if (starts(s, "SAMPLE NAME:")) {
            char *f[MAX_FIELDS]; /* split_tabs fills up to MAX_FIELDS (was 4: overflow found by fuzz_sims_asc) */
            int nf = split_tabs(s, f);
            if (nf >= 2) snprintf(out->sample_name, sizeof out->sample_name, "%s", f[1]);
        } else if (starts(s, "ACQUISITION PARAMETERS:")) {
            /* a repeated section is an error, not a silent replacement (found by fuzz_sims_asc) */
            rc = saw_acq ? kr_err_at(KR_EINPUT, path, it.lineno, "ACQUISITION PARAMETERS appears twice")
                         : parse_species(out, &it, s);
            saw_acq = 1;
        } else if (starts(s, "DETECTOR PARAMETERS:")) {
            rc = saw_det ? kr_err_at(KR_EINPUT, path, it.lineno, "DETECTOR PARAMETERS appears twice")
                         : parse_detectors(out, &it);
            saw_det = 1;
        } else if (starts(s, "RAW DATA:")) {
            rc = parse_raw(out, &it, nlines);
            saw_raw = 1;
        }
        if (rc) goto cleanup;
        if (saw_raw) break;
    }
    if (!saw_cameca)
        rc = kr_err_at(KR_EINPUT, path, 1, "empty file");
    else if (!saw_acq)
        rc = kr_err_at(KR_EINPUT, path, it.lineno, "no ACQUISITION PARAMETERS section (truncated file?)");
    else if (!saw_det)
        rc = kr_err_at(KR_EINPUT, path, it.lineno, "no DETECTOR PARAMETERS section (truncated file?)");
    else if (!saw_raw)
        rc = kr_err_at(KR_EINPUT, path, it.lineno, "no RAW DATA section (truncated file?)");
    if (rc) goto cleanup;
    for (size_t s = 0; s < out->nspecies; s++) {
        for (size_t d = 0; d < out->ndet; d++)
            if (!strcmp(out->species[s].detector, out->det[d].name)) out->species[s].det = (int)d;
        if (out->species[s].det < 0) {
            rc = kr_err_at(KR_EINPUT, path, out->species_line,
                           "species %s uses detector '%s', absent from DETECTOR PARAMETERS", out->species[s].name,
                           out->species[s].detector);
            goto cleanup;
        }
    }
cleanup:
    kr_text_free(&t);
    if (rc) kr_asc_free(out);
    return rc;
}
