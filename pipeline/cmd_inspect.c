/* kreep inspect: what is in a product (root attributes, provenance summary, every group and dataset). */
#include "commands.h"
#include "error.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: kreep inspect [--inputs] PRODUCT.h5\n"
                 "\n"
                 "Print the root attributes, a provenance summary (config hash, inputs, calibration files,\n"
                 "failed samples) and every group and dataset with its shape, columns and units.\n"
                 "  --inputs    list every input file (default: the first 10)\n");
}

/* Read a string attribute (fixed or variable length) into buf; returns 0 on success. */
static int attr_str(hid_t obj, const char *name, char *buf, size_t len)
{
    buf[0] = '\0';
    if (H5Aexists(obj, name) <= 0) return -1;
    int rc = -1;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), t = -1, sp = -1, mt = -1;
    if (a < 0) return -1;
    t = H5Aget_type(a);
    sp = H5Aget_space(a);
    if (t < 0 || sp < 0 || H5Tget_class(t) != H5T_STRING || H5Sget_simple_extent_npoints(sp) != 1) goto cleanup;
    if (H5Tis_variable_str(t) > 0) {
        char *s = NULL;
        mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t));
        if (H5Aread(a, mt, &s) >= 0 && s) {
            snprintf(buf, len, "%s", s);
            rc = 0;
        }
        if (s) H5free_memory(s);
    } else {
        size_t sz = H5Tget_size(t);
        char *tmp = calloc(sz + 1, 1);
        mt = H5Tcopy(t);
        if (tmp && H5Aread(a, mt, tmp) >= 0) {
            snprintf(buf, len, "%s", tmp);
            rc = 0;
        }
        free(tmp);
    }
cleanup:
    if (mt >= 0) H5Tclose(mt);
    if (sp >= 0) H5Sclose(sp);
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    return rc;
}

/* i-th string of a 1-D string-array attribute (variable length), or "" */
static void attr_str_item(hid_t obj, const char *name, size_t i, char *buf, size_t len)
{
    buf[0] = '\0';
    if (H5Aexists(obj, name) <= 0) return;
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT), t = H5Aget_type(a), sp = H5Aget_space(a);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    if (t >= 0 && H5Tget_class(t) == H5T_STRING && H5Tis_variable_str(t) > 0 && n > 0 && (size_t)n > i) {
        char **v = calloc((size_t)n, sizeof *v);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t));
        if (v && H5Aread(a, mt, v) >= 0) {
            snprintf(buf, len, "%s", v[i] ? v[i] : "");
            H5Dvlen_reclaim(mt, sp, H5P_DEFAULT, v);
        }
        free(v);
        H5Tclose(mt);
    }
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
}

static const char *type_word(hid_t t, char *buf, size_t len)
{
    switch (H5Tget_class(t)) {
    case H5T_FLOAT: snprintf(buf, len, "float%zu", 8 * H5Tget_size(t)); break;
    case H5T_INTEGER: snprintf(buf, len, "%sint%zu", H5Tget_sign(t) == H5T_SGN_NONE ? "u" : "", 8 * H5Tget_size(t)); break;
    case H5T_STRING:
        if (H5Tis_variable_str(t) > 0) snprintf(buf, len, "string");
        else snprintf(buf, len, "string[%zu]", H5Tget_size(t));
        break;
    case H5T_COMPOUND: snprintf(buf, len, "table"); break;
    default: snprintf(buf, len, "other"); break;
    }
    return buf;
}

static void print_dataset(hid_t file, const char *name)
{
    hid_t d = H5Dopen2(file, name, H5P_DEFAULT);
    if (d < 0) return;
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(sp);
    hsize_t dims[8] = {0};
    if (rank > 0 && rank <= 8) H5Sget_simple_extent_dims(sp, dims, NULL);
    char tw[32], shape[128] = "", units[64];
    size_t n = 0;
    if (rank == 0) snprintf(shape, sizeof shape, "scalar");
    for (int i = 0; i < rank && i < 8; i++)
        n += (size_t)snprintf(shape + n, sizeof shape - n < n ? 0 : sizeof shape - n, "%s%llu", i ? " x " : "",
                              (unsigned long long)dims[i]);
    attr_str(d, "units", units, sizeof units);
    if (H5Tget_class(t) == H5T_COMPOUND) {
        int nm = H5Tget_nmembers(t);
        printf("  /%s  table, %s rows, %d columns\n", name, shape, nm);
        for (int i = 0; i < nm; i++) {
            char *mname = H5Tget_member_name(t, (unsigned)i);
            hid_t mt = H5Tget_member_type(t, (unsigned)i);
            char u[64], desc[256];
            attr_str_item(d, "column_units", (size_t)i, u, sizeof u);
            attr_str_item(d, "column_desc", (size_t)i, desc, sizeof desc);
            printf("      %-22s %-12s %-10s %s\n", mname ? mname : "?", type_word(mt, tw, sizeof tw),
                   *u ? u : "-", desc);
            H5free_memory(mname);
            H5Tclose(mt);
        }
    } else {
        printf("  /%s  %s %s%s%s%s\n", name, type_word(t, tw, sizeof tw), shape, *units ? " [" : "", units,
               *units ? "]" : "");
    }
    H5Sclose(sp);
    H5Tclose(t);
    H5Dclose(d);
}

static herr_t visit(hid_t obj, const char *name, const H5O_info_t *info, void *data)
{
    (void)data;
    if (!strcmp(name, ".")) return 0;
    if (info->type == H5O_TYPE_GROUP) {
        hid_t g = H5Gopen2(obj, name, H5P_DEFAULT);
        char cls[64] = "", sig[128] = "";
        if (g >= 0) {
            attr_str(g, "NX_class", cls, sizeof cls);
            attr_str(g, "signal", sig, sizeof sig);
            H5Gclose(g);
        }
        printf("  /%s/%s%s%s%s%s\n", name, *cls ? "  (" : "", cls, *sig ? ", signal " : "", sig, *cls ? ")" : "");
    } else if (info->type == H5O_TYPE_DATASET) {
        print_dataset(obj, name);
    }
    return 0;
}

static long long table_rows(hid_t file, const char *path)
{
    if (H5Lexists(file, "provenance", H5P_DEFAULT) <= 0 || H5Lexists(file, path, H5P_DEFAULT) <= 0) return -1;
    hid_t d = H5Dopen2(file, path, H5P_DEFAULT);
    if (d < 0) return -1;
    hid_t sp = H5Dget_space(d);
    long long n = (long long)H5Sget_simple_extent_npoints(sp);
    H5Sclose(sp);
    H5Dclose(d);
    return n;
}

int cmd_inspect(int argc, char **argv)
{
    const char *path = NULL;
    int all_inputs = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--inputs")) {
            all_inputs = 1;
            continue;
        }
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return KR_OK;
        }
        if (argv[i][0] == '-' && argv[i][1]) return kr_err(KR_EUSAGE, "inspect: unknown option '%s'", argv[i]);
        if (path) return kr_err(KR_EUSAGE, "inspect: one file at a time");
        path = argv[i];
    }
    if (!path) {
        usage(stderr);
        return kr_err(KR_EUSAGE, "inspect: missing PRODUCT.h5");
    }
    if (access(path, R_OK) != 0) return kr_err(KR_EIO, "%s: cannot read: %s", path, strerror(errno));
    htri_t is = H5Fis_hdf5(path);
    H5Eclear2(H5E_DEFAULT);
    if (is <= 0) return kr_err(KR_EINPUT, "%s: not an HDF5 file (a kreep product is HDF5)", path);
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) {
        kr_err_from_hdf5();
        H5Eclear2(H5E_DEFAULT);
        return kr_err(KR_EINPUT, "%s: cannot open as HDF5", path);
    }
    int rc = KR_OK;
    char schema[64];
    hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
    if (attr_str(root, "schema", schema, sizeof schema) != 0 || strcmp(schema, "kreep") != 0) {
        rc = kr_err(KR_EINPUT, "%s: an HDF5 file but not a kreep product (root attribute schema is %s%s%s)", path,
                    *schema ? "'" : "absent", schema, *schema ? "'" : "");
        goto cleanup;
    }
    printf("%s\n", path);
    static const char *const ROOT_ATTRS[] = {"schema", "schema_version", "software_version", "created_utc",
                                             "config_sha256", "run_name"};
    for (size_t i = 0; i < sizeof ROOT_ATTRS / sizeof ROOT_ATTRS[0]; i++) {
        char v[256];
        if (attr_str(root, ROOT_ATTRS[i], v, sizeof v) == 0) printf("  %-17s %s\n", ROOT_ATTRS[i], v);
    }
    long long nin = table_rows(f, "provenance/inputs"), ncal = table_rows(f, "provenance/calibration"),
              npar = table_rows(f, "provenance/parameters"), nfail = table_rows(f, "provenance/failures");
    printf("provenance:\n  %lld input file(s), %lld calibration file(s), %lld parameter(s), %lld failed sample(s)\n",
           nin < 0 ? 0 : nin, ncal < 0 ? 0 : ncal, npar < 0 ? 0 : npar, nfail < 0 ? 0 : nfail);
    if (nin > 0) {
        typedef struct {
            char role[64], path[2048], sha[72];
            long long size;
        } in_row;
        hid_t d = H5Dopen2(f, "provenance/inputs", H5P_DEFAULT);
        hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(in_row));
        hid_t st[3];
        size_t sizes[3] = {sizeof(((in_row *)0)->role), sizeof(((in_row *)0)->path), sizeof(((in_row *)0)->sha)};
        for (int k = 0; k < 3; k++) {
            st[k] = H5Tcopy(H5T_C_S1);
            H5Tset_size(st[k], sizes[k]);
            H5Tset_cset(st[k], H5T_CSET_UTF8);
        }
        H5Tinsert(mt, "role", offsetof(in_row, role), st[0]);
        H5Tinsert(mt, "path", offsetof(in_row, path), st[1]);
        H5Tinsert(mt, "sha256", offsetof(in_row, sha), st[2]);
        H5Tinsert(mt, "size_bytes", offsetof(in_row, size), H5T_NATIVE_LLONG);
        in_row *rows = calloc((size_t)nin, sizeof *rows);
        if (rows && H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0) {
            long long shown = all_inputs || nin <= 12 ? nin : 10;
            for (long long i = 0; i < shown; i++)
                printf("  %-12s %s (%lld B, sha256 %.16s...)\n", rows[i].role, rows[i].path, rows[i].size,
                       rows[i].sha);
            if (shown < nin) printf("  ... and %lld more (kreep inspect --inputs lists them all)\n", nin - shown);
        } else {
            H5Eclear2(H5E_DEFAULT);
            printf("  (the inputs table has an unexpected layout)\n");
        }
        free(rows);
        for (int k = 0; k < 3; k++) H5Tclose(st[k]);
        H5Tclose(mt);
        H5Dclose(d);
    }
    printf("contents:\n");
    if (H5Ovisit(f, H5_INDEX_NAME, H5_ITER_INC, visit, NULL) < 0) {
        kr_err_from_hdf5();
        rc = kr_err(KR_EINPUT, "%s: cannot list the contents", path);
    }
cleanup:
    H5Eclear2(H5E_DEFAULT);
    H5Gclose(root);
    H5Fclose(f);
    return rc;
}
