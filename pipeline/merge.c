/* kreep merge: an index file of HDF5 external links (see merge.h). */
#include "merge.h"

#include "error.h"
#include "hash.h"
#include "product.h"

#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const kr_column INDEX_COLS[] = {
    KR_COL_S(kr_merge_row, name, "group under /runs holding the external links"),
    KR_COL_S(kr_merge_row, product, "product file (relative to this file's folder when inside it)"),
    KR_COL_S(kr_merge_row, run_name, "root attribute run_name of the product"),
    KR_COL_S(kr_merge_row, created_utc, "root attribute created_utc of the product"),
    KR_COL_S(kr_merge_row, software_version, "kreep version that wrote the product"),
    KR_COL_S(kr_merge_row, config_sha256, "SHA-256 of the product's effective config"),
    KR_COL_S(kr_merge_row, product_sha256, "SHA-256 of the product file when merged"),
    KR_COL_S(kr_merge_row, groups, "top-level groups linked, comma-separated"),
};
static const kr_table_desc INDEX_DESC = KR_TABLE(INDEX_COLS, kr_merge_row);

/* Root string attribute `name` into buf ("" when absent). */
static void read_attr(hid_t f, const char *name, char *buf, size_t len)
{
    buf[0] = '\0';
    if (H5Aexists(f, name) <= 0) return;
    hid_t a = H5Aopen(f, name, H5P_DEFAULT);
    hid_t t = a >= 0 ? H5Aget_type(a) : -1;
    if (t >= 0 && H5Tget_class(t) == H5T_STRING) {
        if (H5Tis_variable_str(t) > 0) {
            char *s = NULL;
            hid_t mt = H5Tcopy(H5T_C_S1);
            H5Tset_size(mt, H5T_VARIABLE);
            H5Tset_cset(mt, H5Tget_cset(t));
            if (H5Aread(a, mt, &s) >= 0 && s) {
                snprintf(buf, len, "%s", s);
                H5free_memory(s);
            }
            H5Tclose(mt);
        } else {
            size_t n = H5Tget_size(t);
            char *s = calloc(n + 1, 1);
            hid_t mt = H5Tcopy(t);
            if (s && H5Aread(a, mt, s) >= 0) snprintf(buf, len, "%s", s);
            H5Tclose(mt);
            free(s);
        }
    }
    if (t >= 0) H5Tclose(t);
    if (a >= 0) H5Aclose(a);
}

int kr_merge_root_attr(const char *path, const char *name, char *buf, size_t len)
{
    buf[0] = '\0';
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        H5Eclear2(H5E_DEFAULT);
        return kr_err(KR_EINPUT, "%s: cannot open as HDF5", path);
    }
    read_attr(f, name, buf, len);
    H5Fclose(f);
    return KR_OK;
}

typedef struct {
    char names[16][64];
    int n;
} group_list;

static herr_t collect(hid_t g, const char *name, const H5L_info_t *info, void *data)
{
    group_list *gl = data;
    if (info->type != H5L_TYPE_HARD || gl->n >= 16 || strlen(name) >= 64) return 0;
    hid_t o = H5Oopen(g, name, H5P_DEFAULT);
    if (o < 0) return 0;
    int is_group = H5Iget_type(o) == H5I_GROUP;
    H5Oclose(o);
    if (!is_group) return 0;
    snprintf(gl->names[gl->n++], 64, "%s", name);
    return 0;
}

/* Path of `product` as stored in the links: relative to `dir` when inside it, else absolute. */
static int link_path(const char *dir, const char *product, char *buf, size_t len)
{
    char real[PATH_MAX];
    if (!realpath(product, real)) return kr_err(KR_EINPUT, "merge: %s: cannot resolve the path", product);
    size_t ld = strlen(dir);
    const char *s = (!strncmp(real, dir, ld) && real[ld] == '/') ? real + ld + 1 : real;
    if ((size_t)snprintf(buf, len, "%s", s) >= len)
        return kr_err(KR_EINPUT, "merge: %s: path longer than %zu characters", product, len - 1);
    return KR_OK;
}

int kr_merge_products(const char *out_path, const char *const *products, size_t n)
{
    int rc = KR_OK;
    kr_product *p = NULL;
    kr_merge_row *rows = NULL;
    hid_t lcpl = -1;
    char dir[PATH_MAX];
    if (n == 0) return kr_err(KR_EUSAGE, "merge: no products given");
    {
        char *tmp = strdup(out_path);
        if (!tmp) return kr_err(KR_ENOMEM, "out of memory");
        char *slash = strrchr(tmp, '/');
        const char *d = slash ? (slash == tmp ? "/" : (*slash = '\0', tmp)) : ".";
        if (!realpath(d, dir)) {
            free(tmp);
            return kr_err(KR_EIO, "merge: cannot write %s: its folder does not exist", out_path);
        }
        free(tmp);
    }
    if (!(rows = calloc(n, sizeof *rows))) return kr_err(KR_ENOMEM, "out of memory");
    if ((rc = kr_product_open(out_path, &p))) goto cleanup;
    hid_t file = kr_product_file(p);
    lcpl = H5Pcreate(H5P_LINK_CREATE);
    if (lcpl < 0 || H5Pset_create_intermediate_group(lcpl, 1) < 0) {
        rc = kr_err(KR_EIO, "merge: HDF5 set-up failed");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        kr_merge_row *r = &rows[i];
        group_list gl = {0};
        char schema[32];
        hid_t f = H5Fopen(products[i], H5F_ACC_RDONLY, H5P_DEFAULT);
        if (f < 0) {
            H5Eclear2(H5E_DEFAULT);
            rc = kr_err(KR_EINPUT, "merge: %s: cannot open as HDF5 (missing or not a product)", products[i]);
            goto cleanup;
        }
        read_attr(f, "schema", schema, sizeof schema);
        read_attr(f, "run_name", r->run_name, sizeof r->run_name);
        read_attr(f, "created_utc", r->created_utc, sizeof r->created_utc);
        read_attr(f, "software_version", r->software_version, sizeof r->software_version);
        read_attr(f, "config_sha256", r->config_sha256, sizeof r->config_sha256);
        H5Literate(f, H5_INDEX_NAME, H5_ITER_INC, NULL, collect, &gl);
        H5Fclose(f);
        if (strcmp(schema, "kreep")) {
            rc = kr_err(KR_EINPUT, "merge: %s: not a kreep product (root attribute schema is '%s', expected 'kreep')",
                        products[i], schema);
            goto cleanup;
        }
        if ((rc = kr_sha256_file(products[i], r->product_sha256, NULL))) goto cleanup;
        /* the name under /runs: run_name, else the file name without .h5; made unique */
        const char *base = strrchr(products[i], '/');
        base = base ? base + 1 : products[i];
        snprintf(r->name, sizeof r->name, "%s", r->run_name[0] ? r->run_name : base);
        size_t ln = strlen(r->name);
        if (!r->run_name[0] && ln > 3 && !strcmp(r->name + ln - 3, ".h5")) r->name[ln - 3] = '\0';
        for (char *c = r->name; *c; c++)
            if (*c == '/' || *c == '.') *c = '_';
        for (int k = 2;; k++) {
            int dup = 0;
            for (size_t j = 0; j < i; j++) dup |= !strcmp(rows[j].name, r->name);
            if (!dup) break;
            char stem[48]; /* shorter than name, leaving room for "~k" */
            snprintf(stem, sizeof stem, "%.*s", (int)sizeof stem - 1, r->name);
            char *us = strrchr(stem, '~');
            if (us && k > 2) *us = '\0';
            snprintf(r->name, sizeof r->name, "%s~%d", stem, k);
        }
        if ((rc = link_path(dir, products[i], r->product, sizeof r->product))) goto cleanup;
        for (int g = 0; g < gl.n; g++) {
            char where[160];
            snprintf(where, sizeof where, "/runs/%s/%s", r->name, gl.names[g]);
            char target[70];
            snprintf(target, sizeof target, "/%s", gl.names[g]);
            if (H5Lcreate_external(r->product, target, file, where, lcpl, H5P_DEFAULT) < 0) {
                kr_err_from_hdf5();
                H5Eclear2(H5E_DEFAULT);
                rc = kr_err(KR_EIO, "merge: cannot link %s:%s as %s", products[i], target, where);
                goto cleanup;
            }
            snprintf(r->groups + strlen(r->groups), sizeof r->groups - strlen(r->groups), "%s%s", g ? "," : "",
                     gl.names[g]);
        }
        if ((rc = kr_product_add_input(p, "product", products[i]))) goto cleanup;
    }
    if ((rc = kr_product_write_table(p, "index", &INDEX_DESC, rows, n))) goto cleanup;
    if ((rc = kr_product_attr_string(p, "/", "kind", "merge index: /runs/<name>/<group> are external links"))) goto cleanup;
    rc = kr_product_commit(p);
    p = NULL;
cleanup:
    if (lcpl >= 0) H5Pclose(lcpl);
    if (p) kr_product_abort(p);
    free(rows);
    return rc;
}
