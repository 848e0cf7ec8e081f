/* IsoplotR-style ratio tables. */
#include "ratio_io.h"

#include "error.h"
#include "text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int kr_pbpb_data_alloc(kr_pbpb_data *d, size_t n)
{
    memset(d, 0, sizeof *d);
    size_t m = n ? n : 1;
    d->x = calloc(m, sizeof(double));
    d->sx = calloc(m, sizeof(double));
    d->y = calloc(m, sizeof(double));
    d->sy = calloc(m, sizeof(double));
    d->rxy = calloc(m, sizeof(double));
    d->line = calloc(m, sizeof(long));
    if (!d->x || !d->sx || !d->y || !d->sy || !d->rxy || !d->line) {
        kr_pbpb_data_free(d);
        return kr_err(KR_ENOMEM, "out of memory");
    }
    d->n = n;
    return KR_OK;
}

void kr_pbpb_data_free(kr_pbpb_data *d)
{
    free(d->x);
    free(d->sx);
    free(d->y);
    free(d->sy);
    free(d->rxy);
    free(d->line);
    memset(d, 0, sizeof *d);
}

static const char *const NORMAL_HDR[] = {"Pb206Pb204", "errPb206Pb204", "Pb207Pb204", "errPb207Pb204", "rho"};
static const char *const INVERSE_HDR[] = {"Pb204Pb206", "errPb204Pb206", "Pb207Pb206", "errPb207Pb206", "rho"};

static int header_is(char **f, int nf, const char *const *hdr)
{
    if (nf != 4 && nf != 5) return 0;
    for (int i = 0; i < nf; i++)
        if (!kr_streq_ci(f[i], hdr[i])) return 0;
    return 1;
}

/* count non-blank lines (upper bound on rows) */
static size_t count_lines(const kr_text *t)
{
    size_t n = 1;
    for (size_t i = 0; i < t->len; i++)
        if (t->data[i] == '\n') n++;
    return n;
}

int kr_pbpb_data_read(const char *path, kr_pbpb_data *out)
{
    memset(out, 0, sizeof *out);
    kr_text t;
    int rc = kr_text_read(path, &t);
    if (rc) return rc;
    rc = kr_pbpb_data_alloc(out, count_lines(&t));
    if (rc) goto cleanup;
    out->n = 0;
    kr_lines it;
    kr_lines_init(&it, &t);
    char *line;
    int ncol = 0;
    while ((line = kr_lines_next(&it))) {
        if (!*kr_trim(line)) continue;
        char *f[8];
        int nf = kr_split(line, ',', f, 8);
        if (!ncol) {
            if (header_is(f, nf, NORMAL_HDR))
                out->form = KR_ISO_NORMAL;
            else if (header_is(f, nf, INVERSE_HDR))
                out->form = KR_ISO_INVERSE;
            else {
                rc = kr_err_at(KR_EINPUT, path, it.lineno,
                               "expected header 'Pb206Pb204,errPb206Pb204,Pb207Pb204,errPb207Pb204,rho' or "
                               "'Pb204Pb206,errPb204Pb206,Pb207Pb206,errPb207Pb206,rho'");
                goto cleanup;
            }
            ncol = nf;
            continue;
        }
        if (nf != ncol) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "expected %d columns, found %d", ncol, nf < 0 ? 9 : nf);
            goto cleanup;
        }
        double v[5] = {0, 0, 0, 0, 0};
        for (int k = 0; k < nf; k++)
            if (kr_parse_double(f[k], &v[k]) || !isfinite(v[k])) {
                rc = kr_err_at(KR_EINPUT, path, it.lineno, "column %d (%s): '%s' is not a number", k + 1,
                               (out->form == KR_ISO_NORMAL ? NORMAL_HDR : INVERSE_HDR)[k], f[k]);
                goto cleanup;
            }
        if (!(v[0] > 0) || !(v[2] > 0) || !(v[1] > 0) || !(v[3] > 0) || fabs(v[4]) > 1) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno,
                           "need positive ratios and errors and |rho| <= 1, found %g,%g,%g,%g,%g", v[0], v[1], v[2],
                           v[3], v[4]);
            goto cleanup;
        }
        size_t i = out->n++;
        out->x[i] = v[0];
        out->sx[i] = v[1];
        out->y[i] = v[2];
        out->sy[i] = v[3];
        out->rxy[i] = v[4];
        out->line[i] = it.lineno;
    }
    if (!ncol) {
        rc = kr_err_at(KR_EINPUT, path, 1, "empty file: expected a Pb-Pb header row");
        goto cleanup;
    }
    if (out->n < 2) {
        rc = kr_err_at(KR_EINPUT, path, it.lineno, "need at least 2 data rows, found %zu", out->n);
        goto cleanup;
    }
cleanup:
    kr_text_free(&t);
    if (rc) kr_pbpb_data_free(out);
    return rc;
}

int kr_pbpb_data_to_form(const kr_pbpb_data *in, kr_iso_form form, kr_pbpb_data *out)
{
    int rc = kr_pbpb_data_alloc(out, in->n);
    if (rc) return rc;
    out->form = form;
    for (size_t i = 0; i < in->n; i++) {
        out->line[i] = in->line[i];
        if (in->form == form) {
            out->x[i] = in->x[i];
            out->sx[i] = in->sx[i];
            out->y[i] = in->y[i];
            out->sy[i] = in->sy[i];
            out->rxy[i] = in->rxy[i];
        } else {
            /* the map (a, b) -> (1/a, b/a) is its own inverse, so one function serves both ways */
            kr_pbpb_normal_to_inverse(in->x[i], in->sx[i], in->y[i], in->sy[i], in->rxy[i], &out->x[i], &out->sx[i],
                                      &out->y[i], &out->sy[i], &out->rxy[i]);
        }
    }
    return KR_OK;
}

int kr_value_sigma_read(const char *path, double **x, double **sx, long **line, size_t *n)
{
    *x = NULL;
    *sx = NULL;
    *line = NULL;
    *n = 0;
    kr_text t;
    int rc = kr_text_read(path, &t);
    if (rc) return rc;
    size_t cap = count_lines(&t);
    double *vx = calloc(cap, sizeof *vx), *vs = calloc(cap, sizeof *vs);
    long *vl = calloc(cap, sizeof *vl);
    size_t m = 0;
    int header = 0;
    if (!vx || !vs || !vl) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    kr_lines it;
    kr_lines_init(&it, &t);
    char *l;
    while ((l = kr_lines_next(&it))) {
        if (!*kr_trim(l)) continue;
        char *f[4];
        int nf = kr_split(l, ',', f, 4);
        if (!header) {
            header = 1;
            if (nf != 2) {
                rc = kr_err_at(KR_EINPUT, path, it.lineno,
                               "expected a header row with 2 columns (value, sigma), found %s",
                               nf < 0    ? "more than 3"
                               : nf == 1 ? "1"
                                         : "3");
                goto cleanup;
            }
            double dummy;
            if (!kr_parse_double(f[0], &dummy)) {
                rc = kr_err_at(KR_EINPUT, path, it.lineno, "expected a header row, found numbers");
                goto cleanup;
            }
            continue;
        }
        if (nf != 2) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "expected 2 columns (value, sigma), found %d", nf < 0 ? 5 : nf);
            goto cleanup;
        }
        if (kr_parse_double(f[0], &vx[m]) || !isfinite(vx[m])) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "value '%s' is not a number", f[0]);
            goto cleanup;
        }
        if (kr_parse_double(f[1], &vs[m]) || !(vs[m] > 0) || !isfinite(vs[m])) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "sigma '%s' is not a positive number", f[1]);
            goto cleanup;
        }
        vl[m++] = it.lineno;
    }
    if (!header) {
        rc = kr_err_at(KR_EINPUT, path, 1, "empty file: expected a header row");
        goto cleanup;
    }
    if (!m) {
        rc = kr_err_at(KR_EINPUT, path, it.lineno, "no data rows");
        goto cleanup;
    }
cleanup:
    kr_text_free(&t);
    if (rc) {
        free(vx);
        free(vs);
        free(vl);
        return rc;
    }
    *x = vx;
    *sx = vs;
    *line = vl;
    *n = m;
    return KR_OK;
}
