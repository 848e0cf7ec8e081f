/* Product writer: atomic write, root attributes, provenance, tables, NXdata; SHA-256 against the
 * FIPS 180-2 test vectors; readers (h5py, pandas, xarray) open what we write. */
#include "config.h"
#include "error.h"
#include "hash.h"
#include "kr_test.h"
#include "product.h"
#include "text.h"

#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct {
    char sample[24];
    char element[4];
    double k_ratio;
    double sio2_wt;
    int n_points;
} point_row;

static const kr_column POINT_COLS[] = {
    KR_COL_S(point_row, sample, "sample id"),
    KR_COL_S(point_row, element, "element symbol"),
    KR_COL_D(point_row, k_ratio, "", "k-ratio against the standard"),
    KR_COL_D(point_row, sio2_wt, "wt%", "SiO2 mass fraction"),
    KR_COL_INT(point_row, n_points, "", "points averaged"),
};
static const kr_table_desc POINT_DESC = KR_TABLE(POINT_COLS, point_row);

static const point_row ROWS[] = {
    {"CE5-B1", "Si", 0.2931, 45.21, 17},
    {"CE5-B1", "Ti", 0.1203, NAN, 17},
    {"µ-bead é", "Fe", 0.2510, 39.5, 1},
};

static const kr_param P[] = {
    {"epma.model", KR_PT_CHOICE, "xpp", "", 1, 0, "xpp|pap|zaf", "matrix correction"},
    {"epma.dead_time_us", KR_PT_DOUBLE, "1.1", "µs", 0, 10, NULL, "counter dead time"},
};
static const kr_param_table TABLES[] = {{"epma", P, 2}};

static void path_in_tmp(char *buf, size_t len, const char *name)
{
    snprintf(buf, len, "%s/%s", kr_test_tmpdir(), name);
}

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

/* Number of entries in the temp dir whose name contains ".tmp." */
static int count_temps(void)
{
    DIR *d = opendir(kr_test_tmpdir());
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (strstr(e->d_name, ".tmp.")) n++;
    if (d) closedir(d);
    return n;
}

static int file_equals(const char *path, const char *text)
{
    kr_text t;
    if (kr_text_read(path, &t)) {
        kr_err_clear();
        return 0;
    }
    int eq = t.len == strlen(text) && !memcmp(t.data, text, t.len);
    kr_text_free(&t);
    return eq;
}

static void test_sha256_vectors(void)
{
    /* FIPS 180-2, Appendix B.1 and B.2; the empty message from NIST's SHA examples */
    char hex[KR_SHA256_HEX];
    CU_ASSERT_EQUAL(kr_sha256_mem("abc", 3, hex), KR_OK);
    CU_ASSERT_STRING_EQUAL(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
    CU_ASSERT_EQUAL(kr_sha256_mem(two, strlen(two), hex), KR_OK);
    CU_ASSERT_STRING_EQUAL(hex, "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    CU_ASSERT_EQUAL(kr_sha256_mem("", 0, hex), KR_OK);
    CU_ASSERT_STRING_EQUAL(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* a file of one million 'a' (FIPS 180-2 B.3), streamed in blocks */
    char path[600];
    path_in_tmp(path, sizeof path, "million_a");
    FILE *f = fopen(path, "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    for (int i = 0; i < 1000000; i++) fputc('a', f);
    fclose(f);
    long long size = 0;
    CU_ASSERT_EQUAL(kr_sha256_file(path, hex, &size), KR_OK);
    CU_ASSERT_STRING_EQUAL(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    CU_ASSERT_EQUAL(size, 1000000);
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_sha256_file("no/such/file", hex, NULL), KR_EIO);
    kr_err_clear();
}

static char *read_attr(hid_t obj, const char *name)
{
    hid_t a = H5Aopen(obj, name, H5P_DEFAULT);
    if (a < 0) return NULL;
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    char *s = NULL, *out = NULL;
    if (H5Aread(a, t, &s) >= 0 && s) out = strdup(s);
    if (s) H5free_memory(s);
    H5Tclose(t);
    H5Aclose(a);
    return out;
}

/* A product with everything: table, map, series, provenance. */
static int write_full(const char *out, const char *input)
{
    kr_product *p = NULL;
    int rc = kr_product_open(out, &p);
    if (rc) return rc;
    kr_config *cfg = NULL;
    const char *y = "epma:\n  model: pap\n";
    if ((rc = kr_config_load_string("run.yaml", y, strlen(y), TABLES, 1, NULL, 0, &cfg))) goto fail;
    rc = kr_product_set_config_from(p, cfg);
    kr_config_free(cfg);
    if (rc) goto fail;
    if ((rc = kr_product_add_input(p, "epma", input))) goto fail;
    if ((rc = kr_product_add_calib(p, "abc.csv", "abc", 3))) goto fail;
    if ((rc = kr_product_write_table(p, "epma/points", &POINT_DESC, ROWS, 3))) goto fail;
    if ((rc = kr_product_write_table(p, "epma/empty", &POINT_DESC, NULL, 0))) goto fail;
    double m[6] = {1, 2, 3, 4, 5, NAN}, yv[2] = {0.5, 1.5}, xv[3] = {0, 2, 4};
    if ((rc = kr_product_write_map(p, "epma/maps/m1", "tio2_wt", "wt%", m, 2, 3, yv, xv))) goto fail;
    if ((rc = kr_product_write_map(p, "epma/maps/m1", "feo_wt", "wt%", m, 2, 3, yv, xv))) goto fail;
    return kr_product_commit(p);
fail:
    kr_product_abort(p);
    return rc;
}

static void test_product_contents(void)
{
    char out[600], input[600];
    path_in_tmp(out, sizeof out, "full.h5");
    path_in_tmp(input, sizeof input, "input.txt");
    CU_ASSERT_EQUAL_FATAL(write_file(input, "abc"), 0);
    kr_err_clear();
    int rc = write_full(out, input);
    if (rc) kr_err_print(stdout);
    CU_ASSERT_EQUAL_FATAL(rc, KR_OK);
    CU_ASSERT_EQUAL(count_temps(), 0);
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    H5F_info2_t info;
    CU_ASSERT(H5Fget_info2(f, &info) >= 0);
    CU_ASSERT_EQUAL(info.super.version, 2); /* superblock v2: the v18 format (HDF5 1.8 readers) */
    hid_t root = H5Gopen2(f, "/", H5P_DEFAULT);
    char *s = read_attr(root, "schema");
    CU_ASSERT_STRING_EQUAL(s ? s : "", "kreep");
    free(s);
    s = read_attr(root, "schema_version");
    CU_ASSERT_PTR_NOT_NULL(s);
    free(s);
    s = read_attr(root, "software_version");
    CU_ASSERT_STRING_EQUAL(s ? s : "", KREEP_VERSION);
    free(s);
    s = read_attr(root, "created_utc"); /* ISO 8601: 2026-03-14T09:26:53Z */
    CU_ASSERT(s && strlen(s) == 20 && s[4] == '-' && s[10] == 'T' && s[19] == 'Z');
    free(s);
    char *sha = read_attr(root, "config_sha256");
    CU_ASSERT(sha && strlen(sha) == 64);
    H5Gclose(root);
    /* config_sha256 is the SHA-256 of the stored effective config */
    hid_t d = H5Dopen2(f, "provenance/config_yaml", H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    char *yaml = NULL;
    CU_ASSERT(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &yaml) >= 0);
    char hex[KR_SHA256_HEX];
    kr_sha256_mem(yaml, strlen(yaml), hex);
    CU_ASSERT_STRING_EQUAL(hex, sha ? sha : "");
    CU_ASSERT_STRING_EQUAL(yaml, "epma:\n  model: pap\n  dead_time_us: 1.1\n");
    H5free_memory(yaml);
    free(sha);
    H5Tclose(t);
    H5Dclose(d);
    /* table: column_units attribute, rows */
    d = H5Dopen2(f, "epma/points", H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    hid_t a = H5Aopen(d, "column_units", H5P_DEFAULT);
    hid_t sp = H5Aget_space(a);
    CU_ASSERT_EQUAL(H5Sget_simple_extent_npoints(sp), 5);
    H5Sclose(sp);
    H5Aclose(a);
    CU_ASSERT(H5Aexists(d, "column_desc") > 0);
    sp = H5Dget_space(d);
    CU_ASSERT_EQUAL(H5Sget_simple_extent_npoints(sp), 3);
    H5Sclose(sp);
    H5Dclose(d);
    /* map: NXdata group with a chunked, deflated signal and dimension scales */
    hid_t g = H5Gopen2(f, "epma/maps/m1", H5P_DEFAULT);
    s = read_attr(g, "NX_class");
    CU_ASSERT_STRING_EQUAL(s ? s : "", "NXdata");
    free(s);
    s = read_attr(g, "signal");
    CU_ASSERT_STRING_EQUAL(s ? s : "", "tio2_wt");
    free(s);
    d = H5Dopen2(g, "tio2_wt", H5P_DEFAULT);
    hid_t dcpl = H5Dget_create_plist(d);
    CU_ASSERT_EQUAL(H5Pget_layout(dcpl), H5D_CHUNKED);
    CU_ASSERT_EQUAL(H5Pget_nfilters(dcpl), 2);
    unsigned flags, cd[4];
    size_t ncd = 4;
    CU_ASSERT_EQUAL(H5Pget_filter2(dcpl, 0, &flags, &ncd, cd, 0, NULL, NULL), H5Z_FILTER_SHUFFLE);
    ncd = 4;
    CU_ASSERT_EQUAL(H5Pget_filter2(dcpl, 1, &flags, &ncd, cd, 0, NULL, NULL), H5Z_FILTER_DEFLATE);
    CU_ASSERT_EQUAL(cd[0], 4);
    H5Pclose(dcpl);
    CU_ASSERT(H5Aexists(d, "DIMENSION_LIST") > 0);
    H5Dclose(d);
    H5Gclose(g);
    /* provenance inputs: the SHA-256 of "abc" */
    typedef struct {
        char role[32], path[1024], sha[65];
        long long size;
    } in_row;
    d = H5Dopen2(f, "provenance/inputs", H5P_DEFAULT);
    hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(in_row)), st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 65);
    H5Tset_cset(st, H5T_CSET_UTF8);
    H5Tinsert(mt, "sha256", offsetof(in_row, sha), st);
    H5Tinsert(mt, "size_bytes", offsetof(in_row, size), H5T_NATIVE_LLONG);
    in_row r;
    memset(&r, 0, sizeof r);
    CU_ASSERT(H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, &r) >= 0);
    CU_ASSERT_STRING_EQUAL(r.sha, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    CU_ASSERT_EQUAL(r.size, 3);
    H5Tclose(st);
    H5Tclose(mt);
    H5Dclose(d);
    CU_ASSERT(H5Lexists(f, "provenance/parameters", H5P_DEFAULT) > 0);
    CU_ASSERT(H5Lexists(f, "provenance/calibration", H5P_DEFAULT) > 0);
    H5Fclose(f);
}

static void test_atomic_replace_and_abort(void)
{
    char out[600];
    path_in_tmp(out, sizeof out, "atomic.h5");
    CU_ASSERT_EQUAL_FATAL(write_file(out, "old product"), 0);
    kr_product *p = NULL;
    kr_err_clear();
    CU_ASSERT_EQUAL_FATAL(kr_product_open(out, &p), KR_OK);
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out, (long)getpid());
    CU_ASSERT_EQUAL(access(tmp, F_OK), 0);      /* the temp sits next to the target */
    CU_ASSERT(file_equals(out, "old product")); /* the old product untouched while writing */
    kr_product_write_table(p, "epma/points", &POINT_DESC, ROWS, 3);
    kr_product_abort(p);
    CU_ASSERT(file_equals(out, "old product"));
    CU_ASSERT_EQUAL(count_temps(), 0);
    /* commit replaces it */
    CU_ASSERT_EQUAL_FATAL(kr_product_open(out, &p), KR_OK);
    kr_product_write_table(p, "epma/points", &POINT_DESC, ROWS, 3);
    CU_ASSERT_EQUAL(kr_product_commit(p), KR_OK);
    CU_ASSERT(H5Fis_hdf5(out) > 0);
    CU_ASSERT_EQUAL(count_temps(), 0);
}

/* Side files (images): staged while the product is written; a failed run leaves the old images as they
 * were; a commit swaps the new folder in and removes the old one. */
static void test_side_folder(void)
{
    char out[600], imgs[600], old_png[700], new_png[700];
    path_in_tmp(out, sizeof out, "side.h5");
    path_in_tmp(imgs, sizeof imgs, "side_png");
    snprintf(old_png, sizeof old_png, "%s/old.png", imgs);
    snprintf(new_png, sizeof new_png, "%s/new.png", imgs);
    mkdir(imgs, 0777);
    CU_ASSERT_EQUAL_FATAL(write_file(old_png, "old image"), 0);
    for (int commit = 0; commit <= 1; commit++) {
        kr_product *p = NULL;
        const char *staging = NULL;
        char f[800];
        CU_ASSERT_EQUAL_FATAL(kr_product_open(out, &p), KR_OK);
        CU_ASSERT_EQUAL_FATAL(kr_product_side_dir(p, imgs, &staging), KR_OK);
        snprintf(f, sizeof f, "%s/new.png", staging);
        CU_ASSERT_EQUAL(write_file(f, "new image"), 0);
        CU_ASSERT(file_equals(old_png, "old image")); /* nothing visible while the run writes */
        CU_ASSERT_NOT_EQUAL(access(new_png, F_OK), 0);
        if (commit) {
            kr_product_write_table(p, "epma/points", &POINT_DESC, ROWS, 3);
            CU_ASSERT_EQUAL(kr_product_commit(p), KR_OK);
            CU_ASSERT(file_equals(new_png, "new image"));
            CU_ASSERT_NOT_EQUAL(access(old_png, F_OK), 0);
        } else {
            kr_product_abort(p);
            CU_ASSERT(file_equals(old_png, "old image"));
            CU_ASSERT_NOT_EQUAL(access(new_png, F_OK), 0);
        }
        CU_ASSERT_NOT_EQUAL(access(f, F_OK), 0); /* no staging folder left */
    }
}

static void test_bad_destination(void)
{
    kr_product *p = NULL;
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_product_open("no/such/folder/out.h5", &p), KR_EIO);
    char buf[1024];
    kr_err_format(buf, sizeof buf);
    CU_ASSERT_PTR_NOT_NULL(strstr(buf, "folder 'no/such/folder' does not exist"));
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_product_open(kr_test_tmpdir(), &p), KR_EIO); /* a folder */
    kr_err_clear();
    /* writing a table twice, bad names */
    char out[600];
    path_in_tmp(out, sizeof out, "dup.h5");
    CU_ASSERT_EQUAL_FATAL(kr_product_open(out, &p), KR_OK);
    CU_ASSERT_EQUAL(kr_product_write_table(p, "epma/points", &POINT_DESC, ROWS, 3), KR_OK);
    CU_ASSERT_NOT_EQUAL(kr_product_write_table(p, "epma/points", &POINT_DESC, ROWS, 3), KR_OK);
    double v = 1, ax = 0;
    CU_ASSERT_NOT_EQUAL(kr_product_write_map(p, "m", "a/b", "", &v, 1, 1, &ax, &ax), KR_OK);
    kr_product_abort(p);
    kr_err_clear();
    CU_ASSERT_EQUAL(access(out, F_OK), -1);
}

static void test_set_config_from_text(void)
{
    char out[600];
    path_in_tmp(out, sizeof out, "setcfg.h5");
    kr_product *p = NULL;
    kr_err_clear();
    CU_ASSERT_EQUAL_FATAL(kr_product_open(out, &p), KR_OK);
    CU_ASSERT_EQUAL(kr_product_set_config(p, "epma:\n  model: zaf\n", TABLES, 1), KR_OK);
    CU_ASSERT_EQUAL(kr_product_set_config(p, "epma:\n  model: zzz\n", TABLES, 1), KR_EINPUT); /* validated */
    kr_err_clear();
    CU_ASSERT_EQUAL_FATAL(kr_product_commit(p), KR_OK);
    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, "provenance/parameters", H5P_DEFAULT);
    typedef struct {
        char name[96], value[256];
    } prow;
    hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(prow)), s96 = H5Tcopy(H5T_C_S1), s256 = H5Tcopy(H5T_C_S1);
    H5Tset_size(s96, 96);
    H5Tset_size(s256, 256);
    H5Tset_cset(s96, H5T_CSET_UTF8);
    H5Tset_cset(s256, H5T_CSET_UTF8);
    H5Tinsert(mt, "name", offsetof(prow, name), s96);
    H5Tinsert(mt, "value", offsetof(prow, value), s256);
    prow rows[2];
    CU_ASSERT(H5Dread(d, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows) >= 0);
    CU_ASSERT_STRING_EQUAL(rows[0].name, "epma.model");
    CU_ASSERT_STRING_EQUAL(rows[0].value, "zaf");
    CU_ASSERT_STRING_EQUAL(rows[1].value, "1.1");
    H5Tclose(s96);
    H5Tclose(s256);
    H5Tclose(mt);
    H5Dclose(d);
    H5Fclose(f);
}

/* A full disk: the child writes a large incompressible map under a 256 KiB file-size limit (write
 * fails with EFBIG as it would with ENOSPC). The old product must stay, and no temp remain. */
static void test_full_disk(void)
{
    char out[600];
    path_in_tmp(out, sizeof out, "full_disk.h5");
    CU_ASSERT_EQUAL_FATAL(write_file(out, "previous run"), 0);
    fflush(stdout);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {256 * 1024, 256 * 1024};
        setrlimit(RLIMIT_FSIZE, &rl);
        size_t ny = 600, nx = 600;
        double *m = malloc(ny * nx * sizeof *m), *ax = malloc(nx * sizeof *ax);
        if (!m || !ax) _exit(90);
        unsigned long long s = 88172645463325252ULL; /* xorshift64 (Marsaglia 2003) */
        for (size_t i = 0; i < ny * nx; i++) {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            m[i] = (double)(s >> 11) / 9007199254740992.0;
        }
        for (size_t i = 0; i < nx; i++) ax[i] = (double)i;
        kr_product *p = NULL;
        int rc = kr_product_open(out, &p);
        if (rc) _exit(91);
        rc = kr_product_write_map(p, "epma/maps/big", "noise", "", m, ny, nx, ax, ax);
        if (!rc) rc = kr_product_commit(p);
        else kr_product_abort(p);
        free(m);
        free(ax);
        char buf[2048];
        kr_err_format(buf, sizeof buf);
        printf("\n  full disk error: %s\n", buf);
        _exit(rc == KR_OK ? 0 : 1);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CU_ASSERT(WIFEXITED(status));
    CU_ASSERT_EQUAL(WEXITSTATUS(status), 1);
    CU_ASSERT(file_equals(out, "previous run"));
    CU_ASSERT_EQUAL(count_temps(), 0);
}

/* Run a python snippet with the first interpreter that has h5py, pandas (PyTables) and xarray. */
static const char *find_python(void)
{
    static const char *const cands[] = {"python3", "/usr/bin/python3"};
    const char *env = getenv("KREEP_PYTHON");
    char cmd[512];
    if (env && *env) return env;
    for (size_t i = 0; i < 2; i++) {
        snprintf(cmd, sizeof cmd, "%s -c 'import h5py, pandas, tables, xarray, netCDF4' >/dev/null 2>&1", cands[i]);
        if (system(cmd) == 0) return cands[i];
    }
    return NULL;
}

static void test_python_readers(void)
{
    const char *py = find_python();
    if (!py) {
        printf("\nSKIP: python readers: no python3 with h5py, pandas, tables, xarray and netCDF4\n");
        return;
    }
    char out[600], input[600], script[700], cmd[2048];
    path_in_tmp(out, sizeof out, "readers.h5");
    path_in_tmp(input, sizeof input, "readers_input.txt");
    CU_ASSERT_EQUAL_FATAL(write_file(input, "abc"), 0);
    kr_err_clear();
    CU_ASSERT_EQUAL_FATAL(write_full(out, input), KR_OK);
    path_in_tmp(script, sizeof script, "readers.py");
    CU_ASSERT_EQUAL_FATAL(
        write_file(script,
                   "import sys, math, warnings\n"
                   "warnings.simplefilter('ignore')\n"
                   "import h5py, pandas, xarray\n"
                   "p = sys.argv[1]\n"
                   "a = h5py.File(p)['epma/points'][()]\n"
                   "assert len(a) == 3, a\n"
                   "assert a['sample'][0] == b'CE5-B1' and a['element'][2] == b'Fe'\n"
                   "assert a['sample'][2].decode('utf-8') == '\\u00b5-bead \\u00e9'\n"
                   "assert math.isnan(a['sio2_wt'][1]) and a['n_points'][0] == 17\n"
                   "units = list(h5py.File(p)['epma/points'].attrs['column_units'])\n"
                   "assert units == ['', '', '', 'wt%', ''], units\n"
                   "df = pandas.read_hdf(p, 'epma/points')\n"
                   "assert list(df.columns) == ['sample', 'element', 'k_ratio', 'sio2_wt', 'n_points'], df.columns\n"
                   "assert len(df) == 3 and abs(df['k_ratio'][0] - 0.2931) < 1e-15 and df['sio2_wt'].isna()[1]\n"
                   "assert len(h5py.File(p)['epma/empty'][()]) == 0 and len(pandas.read_hdf(p, 'epma/empty')) == 0\n"
                   "for key in ('provenance/parameters', 'provenance/inputs', 'provenance/calibration'):\n"
                   "    assert len(pandas.read_hdf(p, key)) >= 1, key\n"
                   "ds = xarray.open_dataset(p, group='epma/maps/m1')\n"
                   "assert ds['tio2_wt'].dims == ('y_um', 'x_um'), ds\n"
                   "assert list(ds['x_um'].values) == [0, 2, 4] and float(ds['tio2_wt'][1, 0]) == 4\n"
                   "print('readers ok: h5py, pandas.read_hdf, xarray (map)')\n"),
        0);
    snprintf(cmd, sizeof cmd, "%s '%s' '%s'", py, script, out);
    fflush(stdout);
    int rc = system(cmd);
    CU_ASSERT_EQUAL(rc, 0);
}

int main(void)
{
    static const kr_test_case tests[] = {
        {"SHA-256 against FIPS 180-2 vectors", test_sha256_vectors},
        {"product contents and attributes", test_product_contents},
        {"atomic replace; abort leaves the old file", test_atomic_replace_and_abort},
        {"bad destination and misuse", test_bad_destination},
        {"side folder of images: staged, swapped in at commit", test_side_folder},
        {"full disk leaves the old file, no temp", test_full_disk},
        {"config from effective YAML text", test_set_config_from_text},
        {"h5py, pandas and xarray read the product", test_python_readers},
        {NULL, NULL},
    };
    return kr_test_run("pipeline_product", tests);
}
