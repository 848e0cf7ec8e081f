/* Appended tables and group/attribute helpers for the HDF5 product (see product_rows.h). */
#include "product_rows.h"

#include "error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { KR_ROWS_DEFLATE_LEVEL = 4, KR_ROWS_CHUNK_BYTES = 65536 }; /* as kr_product_write_table */

struct kr_rows_writer {
    char path[1024];
    const kr_table_desc *desc;
    hid_t mem, d;
    size_t chunk_rows;      /* rows per chunk = rows buffered before a write */
    unsigned char *buf;     /* chunk_rows x row_size */
    size_t nbuf, nflushed;  /* rows in buf; rows already in the dataset */
    int has_str;
};

int kr_h5_fail(const char *what, const char *path)
{
    kr_err_from_hdf5();
    H5Eclear2(H5E_DEFAULT);
    return kr_err(KR_EIO, "HDF5: cannot %s '%s'", what, path);
}

/* ---- groups and attributes ------------------------------------------------------------------------ */

hid_t kr_product_group(kr_product *p, const char *path)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        kr_err(KR_EINPUT, "HDF5 path too long: %s", path);
        return -1;
    }
    hid_t cur = H5Gopen2(kr_product_file(p), "/", H5P_DEFAULT);
    char *save = NULL;
    for (char *tok = strtok_r(buf, "/", &save); tok && cur >= 0; tok = strtok_r(NULL, "/", &save)) {
        hid_t next;
        if (H5Lexists(cur, tok, H5P_DEFAULT) > 0) {
            next = H5Gopen2(cur, tok, H5P_DEFAULT);
        } else {
            hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
            H5Pset_obj_track_times(gcpl, 0); /* no timestamps: a run repeats bit for bit */
            next = H5Gcreate2(cur, tok, H5P_DEFAULT, gcpl, H5P_DEFAULT);
            H5Pclose(gcpl);
        }
        H5Gclose(cur);
        cur = next;
    }
    if (cur < 0) kr_h5_fail("create group", path);
    return cur;
}

hid_t kr_h5_vlen_str_type(void)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    if (t >= 0 && (H5Tset_size(t, H5T_VARIABLE) < 0 || H5Tset_cset(t, H5T_CSET_UTF8) < 0)) {
        H5Tclose(t);
        t = -1;
    }
    return t;
}

static int attr_strings(hid_t obj, const char *name, const char *const *values, size_t n, int scalar)
{
    int rc = KR_OK;
    hid_t t = kr_h5_vlen_str_type(), sp = -1, a = -1;
    hsize_t dims[1] = {n};
    sp = scalar ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, dims, NULL);
    if (t < 0 || sp < 0) {
        rc = kr_h5_fail("create attribute", name);
        goto cleanup;
    }
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, t, values) < 0) rc = kr_h5_fail("write attribute", name);
cleanup:
    if (a >= 0) H5Aclose(a);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    return rc;
}

int kr_h5_attr_string(hid_t obj, const char *name, const char *value)
{
    const char *v[1] = {value ? value : ""};
    return attr_strings(obj, name, v, 1, 1);
}

int kr_h5_attr_strings(hid_t obj, const char *name, const char *const *values, size_t n)
{
    return attr_strings(obj, name, values, n, 0);
}

int kr_h5_attr_numeric(hid_t obj, const char *name, hid_t type, const void *value)
{
    int rc = KR_OK;
    hid_t sp = H5Screate(H5S_SCALAR), a = -1;
    if (sp < 0) return kr_h5_fail("create attribute", name);
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    a = H5Acreate2(obj, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, type, value) < 0) rc = kr_h5_fail("write attribute", name);
    if (a >= 0) H5Aclose(a);
    H5Sclose(sp);
    return rc;
}

int kr_h5_attr_int32(hid_t obj, const char *name, int32_t value)
{
    return kr_h5_attr_numeric(obj, name, H5T_NATIVE_INT32, &value);
}

/* ---- appended tables ------------------------------------------------------------------------------ */

/* The compound type of kr_product_write_table: native numbers, fixed-length NUL-terminated UTF-8. */
static hid_t compound_type(const kr_table_desc *desc)
{
    hid_t t = H5Tcreate(H5T_COMPOUND, desc->row_size);
    if (t < 0) return -1;
    for (int i = 0; i < desc->ncols; i++) {
        const kr_column *c = &desc->cols[i];
        hid_t ft = -1;
        herr_t st = -1;
        switch (c->type) {
        case KR_COL_F64: st = H5Tinsert(t, c->name, c->offset, H5T_NATIVE_DOUBLE); break;
        case KR_COL_I32: st = H5Tinsert(t, c->name, c->offset, H5T_NATIVE_INT32); break;
        case KR_COL_I64: st = H5Tinsert(t, c->name, c->offset, H5T_NATIVE_INT64); break;
        case KR_COL_STR:
            ft = H5Tcopy(H5T_C_S1);
            if (ft >= 0 && c->str_len > 0 && H5Tset_size(ft, c->str_len) >= 0 &&
                H5Tset_strpad(ft, H5T_STR_NULLTERM) >= 0 && H5Tset_cset(ft, H5T_CSET_UTF8) >= 0)
                st = H5Tinsert(t, c->name, c->offset, ft);
            break;
        }
        if (ft >= 0) H5Tclose(ft);
        if (st < 0) {
            H5Tclose(t);
            kr_err(KR_EINPUT, "table column '%s': bad description (type, offset or string length)", c->name);
            return -1;
        }
    }
    return t;
}

static void free_writer(kr_rows_writer *w)
{
    if (w->d >= 0) H5Dclose(w->d);
    if (w->mem >= 0) H5Tclose(w->mem);
    free(w->buf);
    free(w);
}

int kr_rows_open(kr_product *p, const char *path, const kr_table_desc *desc, kr_rows_writer **out)
{
    int rc = KR_OK;
    hid_t parent = -1, ftype = -1, sp = -1, dcpl = -1;
    const char **units = NULL, **descs = NULL;
    *out = NULL;
    if (!desc || desc->ncols <= 0 || !desc->row_size) return kr_err(KR_EINPUT, "table %s: no columns", path);
    kr_rows_writer *w = calloc(1, sizeof *w);
    if (!w) return kr_err(KR_ENOMEM, "out of memory");
    w->d = w->mem = -1;
    w->desc = desc;
    snprintf(w->path, sizeof w->path, "%s", path);
    for (int i = 0; i < desc->ncols; i++) w->has_str |= desc->cols[i].type == KR_COL_STR;
    w->chunk_rows = KR_ROWS_CHUNK_BYTES / desc->row_size ? KR_ROWS_CHUNK_BYTES / desc->row_size : 1;
    w->buf = calloc(w->chunk_rows, desc->row_size);
    if (!w->buf) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    const char *slash = strrchr(path, '/');
    const char *leaf = slash ? slash + 1 : path;
    char parent_path[1024];
    snprintf(parent_path, sizeof parent_path, "%.*s", slash ? (int)(slash - path) : 0, path);
    if (!*leaf) {
        rc = kr_err(KR_EINPUT, "HDF5 path '%s' ends with '/'", path);
        goto cleanup;
    }
    if ((parent = kr_product_group(p, parent_path)) < 0) {
        rc = kr_err(KR_EIO, "cannot create the groups of %s", path);
        goto cleanup;
    }
    if (H5Lexists(parent, leaf, H5P_DEFAULT) > 0) {
        rc = kr_err(KR_EINPUT, "table %s already exists in the product", path);
        goto cleanup;
    }
    if ((w->mem = compound_type(desc)) < 0) {
        rc = kr_err(KR_EINPUT, "table %s: cannot build its HDF5 type", path);
        goto cleanup;
    }
    ftype = H5Tcopy(w->mem);
    if (ftype < 0 || H5Tpack(ftype) < 0) { /* no padding on disk */
        rc = kr_h5_fail("pack the type of", path);
        goto cleanup;
    }
    hsize_t dims[1] = {0}, maxdims[1] = {H5S_UNLIMITED}, chunk[1] = {w->chunk_rows};
    sp = H5Screate_simple(1, dims, maxdims);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (sp < 0 || dcpl < 0 || H5Pset_obj_track_times(dcpl, 0) < 0 || H5Pset_chunk(dcpl, 1, chunk) < 0 ||
        H5Pset_shuffle(dcpl) < 0 || H5Pset_deflate(dcpl, KR_ROWS_DEFLATE_LEVEL) < 0) {
        rc = kr_h5_fail("set the storage of", path);
        goto cleanup;
    }
    w->d = H5Dcreate2(parent, leaf, ftype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (w->d < 0) {
        rc = kr_h5_fail("create table", path);
        goto cleanup;
    }
    units = calloc((size_t)desc->ncols, sizeof *units);
    descs = calloc((size_t)desc->ncols, sizeof *descs);
    if (!units || !descs) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (int i = 0; i < desc->ncols; i++) {
        units[i] = desc->cols[i].unit ? desc->cols[i].unit : "";
        descs[i] = desc->cols[i].desc ? desc->cols[i].desc : "";
    }
    /* CLASS/VERSION/TITLE: the PyTables table convention (pandas.read_hdf), as kr_product_write_table */
    if ((rc = kr_h5_attr_string(w->d, "CLASS", "TABLE")) || (rc = kr_h5_attr_string(w->d, "VERSION", "2.7")) ||
        (rc = kr_h5_attr_string(w->d, "TITLE", leaf)) ||
        (rc = kr_h5_attr_strings(w->d, "column_units", units, (size_t)desc->ncols)) ||
        (rc = kr_h5_attr_strings(w->d, "column_desc", descs, (size_t)desc->ncols)))
        goto cleanup;
cleanup:
    free(units);
    free(descs);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (sp >= 0) H5Sclose(sp);
    if (ftype >= 0) H5Tclose(ftype);
    if (parent >= 0) H5Gclose(parent);
    if (rc) {
        free_writer(w);
        return kr_err(rc, "cannot create table %s", path);
    }
    *out = w;
    return KR_OK;
}

static int flush(kr_rows_writer *w)
{
    if (!w->nbuf) return KR_OK;
    int rc = KR_OK;
    hsize_t size[1] = {w->nflushed + w->nbuf}, start[1] = {w->nflushed}, count[1] = {w->nbuf};
    hid_t fs = -1, ms = -1;
    if (H5Dset_extent(w->d, size) < 0 || (fs = H5Dget_space(w->d)) < 0 ||
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        (ms = H5Screate_simple(1, count, NULL)) < 0 || H5Dwrite(w->d, w->mem, ms, fs, H5P_DEFAULT, w->buf) < 0)
        rc = kr_h5_fail("append rows to", w->path);
    if (ms >= 0) H5Sclose(ms);
    if (fs >= 0) H5Sclose(fs);
    if (!rc) {
        w->nflushed += w->nbuf;
        w->nbuf = 0;
    }
    return rc;
}

int kr_rows_append(kr_rows_writer *w, const void *rows, size_t n)
{
    size_t rs = w->desc->row_size;
    const unsigned char *src = rows;
    while (n) {
        size_t take = w->chunk_rows - w->nbuf < n ? w->chunk_rows - w->nbuf : n;
        unsigned char *dst = w->buf + w->nbuf * rs;
        memcpy(dst, src, take * rs);
        /* nothing after a string's NUL: HDF5 stores the whole field, stale bytes would make runs differ */
        if (w->has_str)
            for (size_t r = 0; r < take; r++)
                for (int i = 0; i < w->desc->ncols; i++) {
                    const kr_column *c = &w->desc->cols[i];
                    if (c->type != KR_COL_STR || !c->str_len) continue;
                    char *field = (char *)dst + r * rs + c->offset;
                    size_t used = strnlen(field, c->str_len);
                    memset(field + used, 0, c->str_len - used);
                    field[c->str_len - 1] = '\0';
                }
        w->nbuf += take;
        src += take * rs;
        n -= take;
        if (w->nbuf == w->chunk_rows) {
            int rc = flush(w);
            if (rc) return rc;
        }
    }
    return KR_OK;
}

size_t kr_rows_count(const kr_rows_writer *w) { return w->nflushed + w->nbuf; }

int kr_rows_read(kr_rows_writer *w, size_t first, size_t n, void *rows)
{
    size_t rs = w->desc->row_size;
    if (first + n > w->nflushed + w->nbuf || first + n < first)
        return kr_err(KR_EINPUT, "table %s: rows %zu-%zu requested, %zu written", w->path, first, first + n,
                      w->nflushed + w->nbuf);
    unsigned char *dst = rows;
    if (first < w->nflushed) {
        size_t k = w->nflushed - first < n ? w->nflushed - first : n;
        hsize_t start[1] = {first}, count[1] = {k};
        hid_t fs = H5Dget_space(w->d), ms = H5Screate_simple(1, count, NULL);
        int bad = fs < 0 || ms < 0 || H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
                  H5Dread(w->d, w->mem, ms, fs, H5P_DEFAULT, dst) < 0;
        if (ms >= 0) H5Sclose(ms);
        if (fs >= 0) H5Sclose(fs);
        if (bad) return kr_h5_fail("read back rows of", w->path);
        dst += k * rs;
        first += k;
        n -= k;
    }
    if (n) memcpy(dst, w->buf + (first - w->nflushed) * rs, n * rs);
    return KR_OK;
}

int kr_rows_close(kr_rows_writer *w)
{
    if (!w) return KR_OK;
    int rc = flush(w);
    if (rc) rc = kr_err(rc, "cannot write table %s", w->path);
    free_writer(w);
    return rc;
}

int kr_table_read_file(const char *file, const char *path, const kr_table_desc *desc, void **rows, size_t *nrows)
{
    *rows = NULL;
    *nrows = 0;
    int rc = KR_OK;
    hid_t f = H5Fopen(file, H5F_ACC_RDONLY, H5P_DEFAULT), d = -1, sp = -1, t = -1;
    if (f < 0 || (d = H5Dopen2(f, path, H5P_DEFAULT)) < 0) {
        H5Eclear2(H5E_DEFAULT);
        rc = kr_err(KR_EIO, "%s: cannot read /%s", file, path);
        goto cleanup;
    }
    hssize_t n = (sp = H5Dget_space(d)) >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    if (n < 0 || (t = compound_type(desc)) < 0) {
        rc = kr_h5_fail("read", path);
        goto cleanup;
    }
    unsigned char *r = calloc((size_t)n + 1, desc->row_size);
    if (!r) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    if (n > 0 && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, r) < 0) { /* members matched by name */
        free(r);
        H5Eclear2(H5E_DEFAULT);
        rc = kr_err(KR_EIO, "%s: cannot read /%s", file, path);
        goto cleanup;
    }
    for (hssize_t i = 0; i < n; i++) /* strings NUL-terminated whatever the file held */
        for (int c = 0; c < desc->ncols; c++)
            if (desc->cols[c].type == KR_COL_STR && desc->cols[c].str_len)
                r[(size_t)i * desc->row_size + desc->cols[c].offset + desc->cols[c].str_len - 1] = '\0';
    *rows = r;
    *nrows = (size_t)n;
cleanup:
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    if (d >= 0) H5Dclose(d);
    if (f >= 0) H5Fclose(f);
    return rc;
}
