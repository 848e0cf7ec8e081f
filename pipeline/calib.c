#include "calib.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct {
    const char *name;
    const char *data;
    size_t size;
} kr_calib_embedded[];

static char *calib_dir; /* set once at start-up by the command, before any threads */

int kr_calib_set_dir(const char *dir)
{
    free(calib_dir);
    calib_dir = NULL;
    if (!dir) return KR_OK;
    calib_dir = strdup(dir);
    return calib_dir ? KR_OK : kr_err(KR_ENOMEM, "out of memory");
}

const char *kr_calib_name(size_t i)
{
    for (size_t k = 0; k <= i; k++)
        if (!kr_calib_embedded[k].name) return NULL;
    return kr_calib_embedded[i].name;
}

int kr_calib_text(const char *name, kr_text *out)
{
    const char *dir = calib_dir ? calib_dir : getenv("KREEP_CALIB_DIR");
    if (dir && *dir) {
        /* the path must outlive the text for error messages: keep it in a per-name static pool */
        static _Thread_local char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        int rc = kr_text_read(path, out);
        if (rc) return kr_err(rc, "calibration file %s not found in %s", name, dir);
        return KR_OK;
    }
    for (size_t i = 0; kr_calib_embedded[i].name; i++)
        if (strcmp(kr_calib_embedded[i].name, name) == 0)
            return kr_text_from_mem(kr_calib_embedded[i].name, kr_calib_embedded[i].data,
                                    kr_calib_embedded[i].size, out);
    return kr_err(KR_EINPUT, "calibration file %s is not part of this build", name);
}

static int parse_constant(char **f, int nf, const char *file, long line, kr_constant *c)
{
    if (nf < 6) return kr_err_at(KR_EINPUT, file, line, "expected 6 columns, found %d", nf);
    memset(c, 0, sizeof *c);
    snprintf(c->name, sizeof c->name, "%s", f[0]);
    if (kr_parse_double(f[1], &c->value))
        return kr_err_at(KR_EINPUT, file, line, "value of %s is not a number: '%s'", f[0], f[1]);
    if (!*f[2])
        c->uncertainty = 0.0; /* exact by definition */
    else if (kr_parse_double(f[2], &c->uncertainty))
        return kr_err_at(KR_EINPUT, file, line, "uncertainty of %s is not a number: '%s'", f[0], f[2]);
    snprintf(c->unit, sizeof c->unit, "%s", f[3]);
    snprintf(c->uncertainty_type, sizeof c->uncertainty_type, "%s", f[4]);
    snprintf(c->source, sizeof c->source, "%s", f[5]);
    return KR_OK;
}

int kr_constants_load(const char *calib_name, kr_constants *out)
{
    memset(out, 0, sizeof *out);
    snprintf(out->file, sizeof out->file, "%s", calib_name);
    kr_text t;
    int rc = kr_calib_text(calib_name, &t);
    if (rc) return rc;
    kr_rows rows;
    kr_rows_init(&rows, &t, ',');
    size_t cap = 0;
    int header_seen = 0, got;
    while ((got = kr_rows_next(&rows)) > 0) {
        char **f = rows.f;
        if (!header_seen) {
            header_seen = 1;
            if (strcmp(f[0], "name") != 0) {
                rc = kr_err_at(KR_EINPUT, calib_name, rows.lineno, "expected header 'name,value,...'");
                goto cleanup;
            }
            continue;
        }
        if (out->n == cap) {
            cap = cap ? 2 * cap : 32;
            kr_constant *p = realloc(out->items, cap * sizeof *p);
            if (!p) {
                rc = kr_err(KR_ENOMEM, "out of memory");
                goto cleanup;
            }
            out->items = p;
        }
        rc = parse_constant(f, rows.nf, calib_name, rows.lineno, &out->items[out->n]);
        if (rc) goto cleanup;
        out->n++;
    }
    if (got < 0) rc = KR_EINPUT;
cleanup:
    kr_text_free(&t);
    if (rc) kr_constants_free(out);
    return rc;
}

void kr_constants_free(kr_constants *c)
{
    free(c->items);
    c->items = NULL;
    c->n = 0;
}

int kr_constant_get(const kr_constants *c, const char *name, double *value, double *uncertainty)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->items[i].name, name) == 0) {
            if (value) *value = c->items[i].value;
            if (uncertainty) *uncertainty = c->items[i].uncertainty;
            return KR_OK;
        }
    return kr_err(KR_EINPUT, "calibration constant '%s' missing from %s", name, c->file);
}
