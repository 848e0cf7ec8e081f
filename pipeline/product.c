/* The HDF5 product writer (see product.h and DESIGN.md "HDF5 product rules"). */
#include "product.h"

#include "config.h"
#include "error.h"
#include "hash.h"
#include "product_rows.h"
#include "text.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define KR_SCHEMA "kreep"
#define KR_SCHEMA_VERSION "1.0"

/* deflate level of streamed maps: noisy float32 maps gain little from higher levels, which cost time */
enum { KR_DEFLATE_LEVEL = 4, KR_MAP_STREAM_DEFLATE = 1, KR_MAP_CHUNK = 256, KR_MDC_MAX_BYTES = 2 << 20 };

typedef struct {
    char role[32];
    char path[1024];
    char sha256[KR_SHA256_HEX];
    int64_t size_bytes;
} input_row;

typedef struct {
    char name[128];
    char sha256[KR_SHA256_HEX];
    int64_t size_bytes;
} calib_row;

typedef struct {
    char stage[24];
    char name[96];
    char type[12];
    char value[256];
    char default_value[256];
    char unit[24];
    double min, max;
    char choices[160];
    char source[12];
    char help[256];
} param_row;

struct kr_product {
    char *final_path;
    char *tmp_path;
    char *dir;
    hid_t file;
    input_row *inputs;
    size_t ninputs, capinputs;
    calib_row *calibs;
    size_t ncalibs, capcalibs;
    char *config_yaml;
    char config_sha256[KR_SHA256_HEX];
    char *side_final, *side_staging; /* a folder of side files (PNGs) swapped in at commit */
};

static const kr_column INPUT_COLS[] = {
    KR_COL_S(input_row, role, "what the file is (config, epma points, ...)"),
    KR_COL_S(input_row, path, "path as read by the run"),
    KR_COL_S(input_row, sha256, "SHA-256 of the contents (hex)"),
    KR_COL_INT64(input_row, size_bytes, "B", "size of the file"),
};
static const kr_table_desc INPUT_DESC = KR_TABLE(INPUT_COLS, input_row);

static const kr_column CALIB_COLS[] = {
    KR_COL_S(calib_row, name, "calibration file (calib/)"),
    KR_COL_S(calib_row, sha256, "SHA-256 of the contents (hex)"),
    KR_COL_INT64(calib_row, size_bytes, "B", "size of the contents"),
};
static const kr_table_desc CALIB_DESC = KR_TABLE(CALIB_COLS, calib_row);

static const kr_column PARAM_COLS[] = {
    KR_COL_S(param_row, stage, "stage (section of run.yaml)"),
    KR_COL_S(param_row, name, "dotted parameter name"),
    KR_COL_S(param_row, type, "bool, int, number, text, choice or structure"),
    KR_COL_S(param_row, value, "effective value (as YAML text)"),
    KR_COL_S(param_row, default_value, "declared default"),
    KR_COL_S(param_row, unit, "unit of the value"),
    KR_COL_D(param_row, min, "", "lower bound (NaN: none)"),
    KR_COL_D(param_row, max, "", "upper bound (NaN: none)"),
    KR_COL_S(param_row, choices, "allowed values ('|'-separated)"),
    KR_COL_S(param_row, source, "yaml, --set, default or unset"),
    KR_COL_S(param_row, help, "one line of help"),
};
static const kr_table_desc PARAM_DESC = KR_TABLE(PARAM_COLS, param_row);

/* ---- small HDF5 helpers ------------------------------------------------------------------------- */

/* ---- open / commit / abort ---------------------------------------------------------------------- */

/* HDF5's metadata cache grows to 32 MiB by default as a night's groups and datasets pile up; a product
 * writes every object once, so 2 MiB is as fast and keeps memory flat (HDF5 User's Guide, "Metadata
 * Caching in HDF5": H5Pset_mdc_config). */
static int cap_metadata_cache(hid_t fapl, const char *path)
{
    H5AC_cache_config_t mc;
    memset(&mc, 0, sizeof mc);
    mc.version = H5AC__CURR_CACHE_CONFIG_VERSION;
    if (H5Pget_mdc_config(fapl, &mc) < 0) return kr_h5_fail("read the metadata cache settings of", path);
    mc.max_size = KR_MDC_MAX_BYTES;
    mc.min_size = mc.min_size < mc.max_size ? mc.min_size : mc.max_size / 2;
    mc.set_initial_size = 1;
    mc.initial_size = mc.min_size;
    if (H5Pset_mdc_config(fapl, &mc) < 0) return kr_h5_fail("cap the metadata cache of", path);
    return KR_OK;
}

int kr_product_open(const char *final_path, kr_product **out)
{
    int rc = KR_OK;
    hid_t fapl = -1, fcpl = -1;
    *out = NULL;
    kr_product *p = calloc(1, sizeof *p);
    if (!p) return kr_err(KR_ENOMEM, "out of memory");
    p->file = -1;
    /* HDF5 keeps freed blocks on free lists for reuse (unbounded by default): cap them at 1 MB each so a
     * streamed map or a long night does not hold memory it no longer uses (HDF5 Reference Manual,
     * H5set_free_list_limits) */
    H5set_free_list_limits(1 << 20, 1 << 18, 1 << 20, 1 << 18, 1 << 20, 1 << 18);
    p->final_path = strdup(final_path);
    const char *slash = strrchr(final_path, '/');
    p->dir = slash ? strndup(final_path, (size_t)(slash - final_path) + (slash == final_path)) : strdup(".");
    size_t tlen = strlen(final_path) + 32;
    p->tmp_path = malloc(tlen);
    if (!p->final_path || !p->dir || !p->tmp_path) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    snprintf(p->tmp_path, tlen, "%s.tmp.%ld", final_path, (long)getpid());
    struct stat st;
    if (stat(p->dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        rc = kr_err(KR_EIO, "cannot write %s: folder '%s' does not exist", final_path, p->dir);
        goto cleanup;
    }
    if (access(p->dir, W_OK) != 0) {
        rc = kr_err(KR_EIO, "cannot write %s: folder '%s' is not writable (%s)", final_path, p->dir, strerror(errno));
        goto cleanup;
    }
    if (stat(final_path, &st) == 0 && S_ISDIR(st.st_mode)) {
        rc = kr_err(KR_EIO, "cannot write %s: it is a folder", final_path);
        goto cleanup;
    }
    fapl = H5Pcreate(H5P_FILE_ACCESS);
    fcpl = H5Pcreate(H5P_FILE_CREATE);
    /* no timestamp on the root group either: a run repeats bit for bit */
    if (fapl < 0 || fcpl < 0 || H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V18) < 0 ||
        H5Pset_obj_track_times(fcpl, 0) < 0) {
        rc = kr_h5_fail("set up", p->tmp_path);
        goto cleanup;
    }
    if ((rc = cap_metadata_cache(fapl, p->tmp_path))) goto cleanup;
    errno = 0;
    p->file = H5Fcreate(p->tmp_path, H5F_ACC_TRUNC, fcpl, fapl);
    if (p->file < 0) {
        int e = errno;
        kr_err_from_hdf5();
        H5Eclear2(H5E_DEFAULT);
        rc = kr_err(KR_EIO, "cannot create %s%s%s", p->tmp_path, e ? ": " : "", e ? strerror(e) : "");
        goto cleanup;
    }
cleanup:
    if (fapl >= 0) H5Pclose(fapl);
    if (fcpl >= 0) H5Pclose(fcpl);
    if (rc) {
        kr_product_abort(p);
        return rc;
    }
    *out = p;
    return KR_OK;
}

hid_t kr_product_file(const kr_product *p) { return p->file; }

const char *kr_product_path(const kr_product *p) { return p->final_path; }

/* Remove a staging folder of side files and what it holds (plain files only). */
static void remove_folder(const char *dir)
{
    DIR *d = opendir(dir);
    if (d) {
        struct dirent *de;
        char path[4096];
        while ((de = readdir(d)))
            if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
                snprintf(path, sizeof path, "%s/%s", dir, de->d_name) < (int)sizeof path)
                unlink(path);
        closedir(d);
    }
    rmdir(dir);
}

int kr_product_side_dir(kr_product *p, const char *final_dir, const char **staging)
{
    *staging = NULL;
    if (p->side_final) return kr_err(KR_EINPUT, "product %s already has a side folder (%s)", p->final_path, p->side_final);
    size_t n = strlen(final_dir) + 40;
    p->side_final = strdup(final_dir);
    p->side_staging = malloc(n);
    if (!p->side_final || !p->side_staging) return kr_err(KR_ENOMEM, "out of memory");
    snprintf(p->side_staging, n, "%s.tmp.%ld", final_dir, (long)getpid());
    remove_folder(p->side_staging); /* left by a killed run of this pid number */
    if (mkdir(p->side_staging, 0777) != 0) {
        int e = errno;
        free(p->side_staging);
        p->side_staging = NULL;
        return kr_err(KR_EIO, "cannot create the folder %s.tmp.*: %s", final_dir, strerror(e));
    }
    *staging = p->side_staging;
    return KR_OK;
}

/* After the product's rename: the staged side folder takes the final name (exchanged atomically with an
 * old one, which is then removed). */
static int commit_side_dir(kr_product *p)
{
    if (!p->side_staging) return KR_OK;
    struct stat st;
    int exists = stat(p->side_final, &st) == 0;
    if (exists && !S_ISDIR(st.st_mode))
        return kr_err(KR_EIO, "%s exists and is not a folder: the images stay in %s", p->side_final, p->side_staging);
    if (exists ? renameat2(AT_FDCWD, p->side_staging, AT_FDCWD, p->side_final, RENAME_EXCHANGE) != 0
               : rename(p->side_staging, p->side_final) != 0)
        return kr_err(KR_EIO, "cannot move %s to %s: %s", p->side_staging, p->side_final, strerror(errno));
    if (exists) remove_folder(p->side_staging); /* now the old images */
    free(p->side_staging);
    p->side_staging = NULL;
    return KR_OK;
}

static void product_free(kr_product *p)
{
    if (p->side_staging) remove_folder(p->side_staging);
    free(p->side_staging);
    free(p->side_final);
    free(p->final_path);
    free(p->tmp_path);
    free(p->dir);
    free(p->inputs);
    free(p->calibs);
    free(p->config_yaml);
    free(p);
}

void kr_product_abort(kr_product *p)
{
    if (!p) return;
    if (p->file >= 0) {
        H5Fclose(p->file);
        H5Eclear2(H5E_DEFAULT);
        p->file = -1;
    }
    if (p->tmp_path) unlink(p->tmp_path); /* the temp only: a previous product stays as it was */
    product_free(p);
}

static void utc_now(char *buf, size_t len)
{
    time_t t = time(NULL);
    const char *sde = getenv("SOURCE_DATE_EPOCH"); /* reproducible builds convention */
    long v;
    if (sde && !kr_parse_long(sde, &v)) t = (time_t)v;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int write_provenance(kr_product *p)
{
    int rc = KR_OK;
    hid_t g = kr_product_group(p, "provenance"), sp = -1, t = -1, d = -1;
    if (g < 0) return KR_EIO;
    if ((rc = kr_h5_attr_string(g, "description", "effective config, parameters, inputs and calibration files")))
        goto cleanup;
    if (p->config_yaml) {
        const char *text[1] = {p->config_yaml};
        sp = H5Screate(H5S_SCALAR);
        t = kr_h5_vlen_str_type();
        hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
        H5Pset_obj_track_times(dcpl, 0);
        d = H5Dcreate2(g, "config_yaml", t, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
        H5Pclose(dcpl);
        if (d < 0 || H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, text) < 0) {
            rc = kr_h5_fail("write", "/provenance/config_yaml");
            goto cleanup;
        }
        if ((rc = kr_h5_attr_string(d, "sha256", p->config_sha256))) goto cleanup;
    }
    if ((rc = kr_product_write_table(p, "provenance/inputs", &INPUT_DESC, p->inputs, p->ninputs))) goto cleanup;
    rc = kr_product_write_table(p, "provenance/calibration", &CALIB_DESC, p->calibs, p->ncalibs);
cleanup:
    if (d >= 0) H5Dclose(d);
    if (t >= 0) H5Tclose(t);
    if (sp >= 0) H5Sclose(sp);
    H5Gclose(g);
    return rc;
}

static int write_root_attrs(kr_product *p)
{
    char now[32];
    utc_now(now, sizeof now);
    hid_t root = H5Gopen2(p->file, "/", H5P_DEFAULT);
    if (root < 0) return kr_h5_fail("open", "/");
    int rc = kr_h5_attr_string(root, "schema", KR_SCHEMA);
    if (!rc) rc = kr_h5_attr_string(root, "schema_version", KR_SCHEMA_VERSION);
    if (!rc) rc = kr_h5_attr_string(root, "software_version", KREEP_VERSION);
    if (!rc) rc = kr_h5_attr_string(root, "created_utc", now);
    if (!rc) rc = kr_h5_attr_string(root, "config_sha256", p->config_sha256);
    H5Gclose(root);
    return rc;
}

static int fsync_path(const char *path, int dir)
{
    int fd = open(path, O_RDONLY | (dir ? O_DIRECTORY : 0));
    if (fd < 0) return kr_err(KR_EIO, "cannot open %s for fsync: %s", path, strerror(errno));
    int rc = KR_OK;
    if (fsync(fd) != 0 && !(dir && (errno == EINVAL || errno == EROFS)))
        rc = kr_err(KR_EIO, "fsync %s: %s", path, strerror(errno));
    close(fd);
    return rc;
}

int kr_product_commit(kr_product *p)
{
    int rc = write_provenance(p);
    if (!rc) rc = write_root_attrs(p);
    if (rc) goto cleanup;
    errno = 0;
    herr_t st = H5Fclose(p->file);
    int e = errno;
    p->file = -1;
    if (st < 0) {
        kr_err_from_hdf5();
        H5Eclear2(H5E_DEFAULT);
        rc = kr_err(KR_EIO, "cannot finish writing %s%s%s", p->tmp_path, e ? ": " : "", e ? strerror(e) : "");
        goto cleanup;
    }
    if ((rc = fsync_path(p->tmp_path, 0))) goto cleanup;
    if (rename(p->tmp_path, p->final_path) != 0) {
        rc = kr_err(KR_EIO, "cannot rename %s to %s: %s", p->tmp_path, p->final_path, strerror(errno));
        goto cleanup;
    }
    free(p->tmp_path); /* renamed: nothing left to remove */
    p->tmp_path = NULL;
    rc = fsync_path(p->dir, 1);
    if (!rc && (rc = commit_side_dir(p))) { /* the product is in place; only its images failed */
        kr_err(rc, "product %s written, its side folder not", p->final_path);
        product_free(p);
        return rc;
    }
cleanup:
    if (rc) {
        rc = kr_err(rc, "product %s not written (any previous file at that path is unchanged)", p->final_path);
        kr_product_abort(p);
        return rc;
    }
    product_free(p);
    return KR_OK;
}

/* ---- provenance records ------------------------------------------------------------------------- */

int kr_product_add_input(kr_product *p, const char *role, const char *path)
{
    if (p->ninputs == p->capinputs) {
        size_t cap = p->capinputs ? 2 * p->capinputs : 16;
        input_row *r = realloc(p->inputs, cap * sizeof *r);
        if (!r) return kr_err(KR_ENOMEM, "out of memory");
        p->inputs = r;
        p->capinputs = cap;
    }
    input_row *r = &p->inputs[p->ninputs];
    memset(r, 0, sizeof *r);
    long long size = 0;
    int rc = kr_sha256_file(path, r->sha256, &size);
    if (rc) return kr_err(rc, "cannot record input %s in the provenance", path);
    if (strlen(path) >= sizeof r->path) return kr_err(KR_EINPUT, "input path longer than %zu bytes: %s", sizeof r->path - 1, path);
    snprintf(r->role, sizeof r->role, "%s", role ? role : "");
    snprintf(r->path, sizeof r->path, "%s", path);
    r->size_bytes = size;
    p->ninputs++;
    return KR_OK;
}

int kr_product_add_calib(kr_product *p, const char *name, const char *data, size_t size)
{
    if (p->ncalibs == p->capcalibs) {
        size_t cap = p->capcalibs ? 2 * p->capcalibs : 16;
        calib_row *r = realloc(p->calibs, cap * sizeof *r);
        if (!r) return kr_err(KR_ENOMEM, "out of memory");
        p->calibs = r;
        p->capcalibs = cap;
    }
    calib_row *r = &p->calibs[p->ncalibs];
    memset(r, 0, sizeof *r);
    int rc = kr_sha256_mem(data, size, r->sha256);
    if (rc) return rc;
    snprintf(r->name, sizeof r->name, "%s", name);
    r->size_bytes = (int64_t)size;
    p->ncalibs++;
    return KR_OK;
}

static const char *ptype_name(kr_param_type t)
{
    switch (t) {
    case KR_PT_BOOL: return "bool";
    case KR_PT_INT: return "int";
    case KR_PT_DOUBLE: return "number";
    case KR_PT_STRING: return "text";
    case KR_PT_CHOICE: return "choice";
    case KR_PT_NODE: return "structure";
    }
    return "?";
}

int kr_product_set_config_from(kr_product *p, const kr_config *cfg)
{
    int rc = KR_OK;
    param_row *rows = NULL;
    size_t nrows = 0, n = kr_config_nparams(cfg);
    char *yaml = kr_config_effective_yaml(cfg);
    if (!yaml) return kr_err(KR_ENOMEM, "cannot build the effective config");
    free(p->config_yaml);
    p->config_yaml = yaml;
    if ((rc = kr_sha256_mem(yaml, strlen(yaml), p->config_sha256))) return rc;
    rows = calloc(n ? n : 1, sizeof *rows);
    if (!rows) return kr_err(KR_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const kr_param *par;
        const char *value, *source, *stage = kr_config_param_stage(cfg, i);
        kr_config_param(cfg, i, &par, &value, &source);
        if (!stage || !kr_config_has_section(cfg, stage)) continue; /* stages not in this run */
        param_row *r = &rows[nrows++];
        snprintf(r->stage, sizeof r->stage, "%s", stage);
        snprintf(r->name, sizeof r->name, "%s", par->name);
        snprintf(r->type, sizeof r->type, "%s", ptype_name(par->type));
        snprintf(r->value, sizeof r->value, "%s", value);
        snprintf(r->default_value, sizeof r->default_value, "%s", par->def ? par->def : "");
        snprintf(r->unit, sizeof r->unit, "%s", par->unit ? par->unit : "");
        int ranged = (par->type == KR_PT_INT || par->type == KR_PT_DOUBLE) && par->min <= par->max;
        r->min = ranged ? par->min : NAN;
        r->max = ranged ? par->max : NAN;
        snprintf(r->choices, sizeof r->choices, "%s", par->choices ? par->choices : "");
        snprintf(r->source, sizeof r->source, "%s", source);
        snprintf(r->help, sizeof r->help, "%s", par->help ? par->help : "");
    }
    rc = kr_product_write_table(p, "provenance/parameters", &PARAM_DESC, rows, nrows);
    free(rows);
    return rc;
}

int kr_product_set_config(kr_product *p, const char *effective_yaml, const void *tables, size_t ntables)
{
    kr_config *cfg = NULL;
    int rc = kr_config_load_string("effective config", effective_yaml, strlen(effective_yaml),
                                   (const kr_param_table *)tables, ntables, NULL, 0, &cfg);
    if (rc) return kr_err(rc, "the effective config does not validate against the parameter tables");
    rc = kr_product_set_config_from(p, cfg);
    kr_config_free(cfg);
    return rc;
}

int kr_product_attr_string(kr_product *p, const char *obj_path, const char *name, const char *value)
{
    hid_t o = H5Oopen(p->file, obj_path && *obj_path ? obj_path : "/", H5P_DEFAULT);
    if (o < 0) return kr_h5_fail("open", obj_path);
    int rc = kr_h5_attr_string(o, name, value);
    H5Oclose(o);
    return rc;
}

int kr_product_attr_double(kr_product *p, const char *obj_path, const char *name, double value)
{
    hid_t o = H5Oopen(p->file, obj_path && *obj_path ? obj_path : "/", H5P_DEFAULT);
    if (o < 0) return kr_h5_fail("open", obj_path);
    int rc = kr_h5_attr_numeric(o, name, H5T_NATIVE_DOUBLE, &value);
    H5Oclose(o);
    return rc;
}

/* ---- tables ------------------------------------------------------------------------------------- */

int kr_product_write_table(kr_product *p, const char *path, const kr_table_desc *desc, const void *rows,
                           size_t nrows)
{
    if (!desc || desc->ncols <= 0 || (!rows && nrows)) return kr_err(KR_EINPUT, "table %s: no columns or rows", path);
    kr_rows_writer *w = NULL;
    int rc = kr_rows_open(p, path, desc, &w);
    if (!rc && nrows) rc = kr_rows_append(w, rows, nrows);
    int rc2 = w ? kr_rows_close(w) : KR_OK;
    if (!rc) rc = rc2;
    if (rc) return kr_err(rc, "cannot write table %s", path);
    return KR_OK;
}

/* ---- NXdata: maps and time series --------------------------------------------------------------- */

/* 1-D float64 axis dataset made a dimension scale; if it exists, check its length. */
static hid_t axis_dataset(hid_t g, const char *name, const double *values, size_t n, const char *units)
{
    hid_t d = -1, sp = -1, dcpl = -1;
    if (H5Lexists(g, name, H5P_DEFAULT) > 0) {
        d = H5Dopen2(g, name, H5P_DEFAULT);
        if (d < 0) return -1;
        sp = H5Dget_space(d);
        hsize_t dims[1] = {0};
        if (sp < 0 || H5Sget_simple_extent_ndims(sp) != 1 || H5Sget_simple_extent_dims(sp, dims, NULL) < 0 ||
            dims[0] != n) {
            kr_err(KR_EINPUT, "axis %s already holds %llu values, the new signal has %zu", name,
                   (unsigned long long)dims[0], n);
            if (sp >= 0) H5Sclose(sp);
            H5Dclose(d);
            return -1;
        }
        H5Sclose(sp);
        return d;
    }
    hsize_t dims[1] = {n};
    sp = H5Screate_simple(1, dims, NULL);
    dcpl = H5Pcreate(H5P_DATASET_CREATE);
    H5Pset_obj_track_times(dcpl, 0);
    d = H5Dcreate2(g, name, H5T_IEEE_F64LE, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (d < 0 || H5Dwrite(d, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0 ||
        H5DSset_scale(d, name) < 0 || kr_h5_attr_string(d, "units", units)) {
        if (d >= 0) H5Dclose(d);
        d = -1;
        kr_h5_fail("write axis", name);
    }
    H5Pclose(dcpl);
    H5Sclose(sp);
    return d;
}

/* A chunked, shuffled, deflated float64 dataset of rank 1 or 2. */
/* values are in `memtype` (native double or float), stored as the matching little-endian IEEE type */
static hid_t signal_dataset(hid_t g, const char *name, int rank, const hsize_t *dims, const hsize_t *chunk,
                            const void *values, hid_t memtype, const char *units, int deflate_level)
{
    hid_t filetype = H5Tequal(memtype, H5T_NATIVE_FLOAT) > 0 ? H5T_IEEE_F32LE : H5T_IEEE_F64LE;
    if (H5Lexists(g, name, H5P_DEFAULT) > 0) {
        kr_err(KR_EINPUT, "signal %s already exists", name);
        return -1;
    }
    hid_t sp = H5Screate_simple(rank, dims, NULL), dcpl = H5Pcreate(H5P_DATASET_CREATE), d = -1;
    H5Pset_obj_track_times(dcpl, 0);
    if (sp >= 0 && dcpl >= 0 && H5Pset_chunk(dcpl, rank, chunk) >= 0 && H5Pset_shuffle(dcpl) >= 0 &&
        H5Pset_deflate(dcpl, (unsigned)deflate_level) >= 0)
        d = H5Dcreate2(g, name, filetype, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (d >= 0 && ((values && H5Dwrite(d, memtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, values) < 0) ||
                   kr_h5_attr_string(d, "units", units ? units : ""))) {
        H5Dclose(d);
        d = -1;
    }
    if (d < 0) kr_h5_fail("write signal", name);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (sp >= 0) H5Sclose(sp);
    return d;
}

static int check_name(const char *what, const char *name)
{
    if (!name || !*name || strchr(name, '/') || !strcmp(name, ".") )
        return kr_err(KR_EINPUT, "%s name '%s' is empty or holds '/'", what, name ? name : "");
    return KR_OK;
}

/* A map signal in its NXdata group (group, axes and attributes made on first use). values NULL: the
 * dataset is left open in *keep for chunk writes (chunk_rows x nx chunks); else written and closed. */
static int write_map(kr_product *p, const char *group, const char *signal, const char *units, const void *values,
                     hid_t memtype, size_t ny, size_t nx, const double *y_um, const double *x_um, size_t chunk_rows,
                     hid_t *keep)
{
    int rc = KR_OK;
    hid_t g = -1, dy = -1, dx = -1, ds = -1;
    if ((rc = check_name("signal", signal))) return rc;
    if ((!values && !keep) || !y_um || !x_um || ny == 0 || nx == 0)
        return kr_err(KR_EINPUT, "map %s/%s: empty map or missing axes", group, signal);
    if (!strcmp(signal, "x_um") || !strcmp(signal, "y_um"))
        return kr_err(KR_EINPUT, "map %s: a signal may not be named like an axis (%s)", group, signal);
    g = kr_product_group(p, group);
    if (g < 0) return kr_err(KR_EIO, "cannot create map group %s", group);
    if (H5Aexists(g, "NX_class") <= 0) {
        const char *axes[2] = {"y_um", "x_um"};
        int32_t iy = 0, ix = 1;
        if ((rc = kr_h5_attr_string(g, "NX_class", "NXdata")) || (rc = kr_h5_attr_string(g, "signal", signal)) ||
            (rc = kr_h5_attr_strings(g, "axes", axes, 2)) ||
            (rc = kr_h5_attr_numeric(g, "y_um_indices", H5T_NATIVE_INT32, &iy)) ||
            (rc = kr_h5_attr_numeric(g, "x_um_indices", H5T_NATIVE_INT32, &ix)))
            goto cleanup;
    }
    dy = axis_dataset(g, "y_um", y_um, ny, "um");
    dx = axis_dataset(g, "x_um", x_um, nx, "um");
    if (dy < 0 || dx < 0) {
        rc = KR_EINPUT;
        goto cleanup;
    }
    hsize_t dims[2] = {ny, nx};
    hsize_t chunk[2] = {ny < KR_MAP_CHUNK ? ny : KR_MAP_CHUNK, nx < KR_MAP_CHUNK ? nx : KR_MAP_CHUNK};
    if (keep) {
        chunk[0] = chunk_rows < ny ? chunk_rows : ny;
        chunk[1] = nx;
    }
    ds = signal_dataset(g, signal, 2, dims, chunk, values, memtype, units,
                        keep ? KR_MAP_STREAM_DEFLATE : KR_DEFLATE_LEVEL);
    if (ds < 0 || H5DSattach_scale(ds, dy, 0) < 0 || H5DSattach_scale(ds, dx, 1) < 0) {
        if (ds >= 0) kr_h5_fail("attach axes to", signal);
        rc = KR_EIO;
        goto cleanup;
    }
    if (keep) {
        *keep = ds;
        ds = -1;
    }
cleanup:
    if (ds >= 0) H5Dclose(ds);
    if (dy >= 0) H5Dclose(dy);
    if (dx >= 0) H5Dclose(dx);
    H5Gclose(g);
    if (rc) return kr_err(rc, "cannot write map %s/%s", group, signal);
    return KR_OK;
}

int kr_product_write_map(kr_product *p, const char *group, const char *signal, const char *units,
                         const double *values, size_t ny, size_t nx, const double *y_um, const double *x_um)
{
    return write_map(p, group, signal, units, values, H5T_NATIVE_DOUBLE, ny, nx, y_um, x_um, 0, NULL);
}


/* ---- streamed float32 maps: chunks of whole rows, encoded anywhere, written in order -------------- */

struct kr_map_ds {
    hid_t ds;
    size_t ny, nx, chunk_rows;
    char name[160];
};

int kr_product_map_open(kr_product *p, const char *group, const char *signal, const char *units, size_t ny,
                        size_t nx, size_t chunk_rows, const double *y_um, const double *x_um, kr_map_ds **out)
{
    *out = NULL;
    if (chunk_rows == 0) return kr_err(KR_EINPUT, "map %s/%s: chunk of 0 rows", group, signal);
    kr_map_ds *m = calloc(1, sizeof *m);
    if (!m) return kr_err(KR_ENOMEM, "out of memory");
    m->ny = ny;
    m->nx = nx;
    m->chunk_rows = chunk_rows < ny ? chunk_rows : ny;
    snprintf(m->name, sizeof m->name, "%s/%s", group, signal);
    int rc = write_map(p, group, signal, units, NULL, H5T_NATIVE_FLOAT, ny, nx, y_um, x_um, m->chunk_rows, &m->ds);
    if (rc) {
        free(m);
        return rc;
    }
    *out = m;
    return KR_OK;
}

size_t kr_map_chunk_bound(size_t nvalues) { return (size_t)compressBound((uLong)(nvalues * sizeof(float))); }

int kr_map_chunk_encode(const float *values, size_t nvalues, unsigned char *scratch, unsigned char *out,
                        size_t out_cap, size_t *out_bytes)
{
    /* HDF5's shuffle filter: byte j of every value stored together (byte planes), then the deflate
     * filter's zlib stream (HDF5 User's Guide, "Filters": H5Z_FILTER_SHUFFLE, H5Z_FILTER_DEFLATE) */
    const unsigned char *in = (const unsigned char *)values;
    const uint32_t one = 1;
    const int host_le = *(const unsigned char *)&one == 1; /* the file type is little-endian float32 */
    for (size_t v = 0; v < nvalues; v++)
        for (size_t b = 0; b < sizeof(float); b++)
            scratch[b * nvalues + v] = in[v * sizeof(float) + (host_le ? b : sizeof(float) - 1 - b)];
    uLongf n = (uLongf)out_cap;
    int z = compress2(out, &n, scratch, (uLong)(nvalues * sizeof(float)), KR_MAP_STREAM_DEFLATE);
    if (z != Z_OK) return kr_err(z == Z_MEM_ERROR ? KR_ENOMEM : KR_EIO, "map chunk: deflate failed (zlib %d)", z);
    *out_bytes = (size_t)n;
    return KR_OK;
}

int kr_product_map_put(kr_map_ds *m, size_t chunk_index, const void *data, size_t nbytes)
{
    hsize_t off[2] = {(hsize_t)(chunk_index * m->chunk_rows), 0};
    if (off[0] >= m->ny) return kr_err(KR_EINPUT, "map %s: chunk %zu beyond its %zu rows", m->name, chunk_index, m->ny);
    if (H5Dwrite_chunk(m->ds, H5P_DEFAULT, 0, off, nbytes, data) < 0) return kr_h5_fail("write a chunk of", m->name);
    return KR_OK;
}

int kr_product_map_close(kr_map_ds *m)
{
    if (!m) return KR_OK;
    int rc = H5Dclose(m->ds) < 0 ? kr_h5_fail("close", m->name) : KR_OK;
    free(m);
    return rc;
}

int kr_product_read_map_f32(kr_product *p, const char *group, const char *signal, float *out, size_t npx)
{
    char path[512];
    snprintf(path, sizeof path, "/%s/%s", group, signal);
    hid_t d = H5Dopen2(p->file, path, H5P_DEFAULT);
    if (d < 0) return kr_h5_fail("open", path);
    hid_t sp = H5Dget_space(d);
    hssize_t n = sp >= 0 ? H5Sget_simple_extent_npoints(sp) : -1;
    int rc = KR_OK;
    if (n != (hssize_t)npx) rc = kr_err(KR_EINPUT, "%s holds %lld values, expected %zu", path, (long long)n, npx);
    else if (H5Dread(d, H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, out) < 0) rc = kr_h5_fail("read", path);
    if (sp >= 0) H5Sclose(sp);
    H5Dclose(d);
    return rc;
}

