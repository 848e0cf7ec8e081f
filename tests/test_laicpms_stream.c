/* LA-ICP-MS speed and memory work: the exact number parser against glibc strtod (correctly rounded),
 * the append-rows table writer against kr_product_write_table (same type, bytes and attributes), the
 * 2-D time-series layout against the export's own text, and the spot-by-spot results on the real iCAP Q
 * session against the whole-array path and against per-sample means recomputed here from /laicpms/spots. */
#include "error.h"
#include "kr_test.h"
#include "la_read.h"
#include "la_reduce.h"
#include "la_stage.h"
#include "text.h"
#include "product.h"
#include "product_rows.h"

#include <dirent.h>
#include <hdf5.h>
#include <hdf5_hl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- number parser ---------------------------------------------------------------------------------- */

static int same_bits(double a, double b) { return !memcmp(&a, &b, sizeof a); }

static void check_number(const char *txt)
{
    double ours = 12345, ref = 12345;
    int rc_ours = kr_la_parse_number(txt, &ours), rc_ref = kr_parse_double(txt, &ref);
    CU_ASSERT_EQUAL(rc_ours, rc_ref);
    if (!rc_ref && !same_bits(ours, ref)) {
        printf("\n  '%s': %.17g vs strtod %.17g", txt, ours, ref);
        CU_FAIL("not the bits of strtod");
    }
}

static void test_parse_number(void)
{
    static const char *const cases[] = {
        "0", "-0", "+0.0", "0.1", "0.3", "1e22", "1e23", "-1e-22", "1e-23", "9007199254740992", "9007199254740993",
        "123456.789", ".5", "5.", "  12.5 ", "\t7\t", "1.7976931348623157e308", "4.9e-324", "2.2250738585072014e-308",
        "1180422.90807949", "620.015376381334", "40.0000640001024", "0.05284", "1234567890123456789",
        "12345678901234567890", "0.000000000000000000000000001", "1E5", "1e+05", "1e-0005", "0x1p3", "nan", "inf",
        /* bad: kr_parse_double rejects them, so must we */
        "", " ", "abc", "1.2.3", "1e", "1e+", "--1", "+-1", "1 2", "e5", ".", "+", "-", "1,5", "12a", "1e400",
        "1e-400", "0.5\r", "5e0000000000001"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) check_number(cases[i]);
    /* 200000 random decimals as an export writes them: up to 17 significant digits, exponents +-30 */
    uint64_t x = 88172645463325252ULL;
    char buf[64];
    int fast = 0;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int nd = 1 + (int)(x % 17), dot = (int)((x >> 8) % (uint64_t)(nd + 1)), ex = (int)((x >> 16) % 61) - 30;
        uint64_t y = x;
        size_t l = 0;
        if ((x >> 24) & 1) buf[l++] = '-';
        for (int d = 0; d < nd; d++) {
            if (d == dot) buf[l++] = '.';
            buf[l++] = (char)('0' + (y % 10));
            y /= 10;
        }
        if ((x >> 25) & 1) l += (size_t)snprintf(buf + l, sizeof buf - l, "e%d", ex);
        buf[l] = 0;
        double a, b;
        int ra = kr_la_parse_number(buf, &a), rb = kr_parse_double(buf, &b);
        if (ra != rb || (!rb && !same_bits(a, b))) {
            printf("\n  '%s': %.17g vs strtod %.17g", buf, a, b);
            CU_FAIL("random decimal differs from strtod");
            break;
        }
        fast += nd <= 15;
    }
    CU_ASSERT(fast > 1000);
}

/* ---- append-rows table writer ----------------------------------------------------------------------- */

typedef struct {
    char name[20];
    double value_ugg;
    int32_t n;
    int64_t big;
    char note[9];
} t_row;
static const kr_column T_COLS[] = {
    KR_COL_S(t_row, name, "a name"),
    KR_COL_D(t_row, value_ugg, "ug/g", "a value"),
    KR_COL_INT(t_row, n, "", "a count"),
    KR_COL_INT64(t_row, big, "B", "a 64-bit count"),
    KR_COL_S(t_row, note, "a short note"),
};
static const kr_table_desc T_DESC = KR_TABLE(T_COLS, t_row);

static void fill_rows(t_row *r, size_t n)
{
    memset(r, 0xAB, n * sizeof *r); /* garbage after every string's NUL: the writers must clear it */
    for (size_t i = 0; i < n; i++) {
        snprintf(r[i].name, sizeof r[i].name, "row %zu", i);
        r[i].value_ugg = i % 7 ? 1.0 / (double)(i + 1) : NAN;
        r[i].n = (int32_t)i - 50;
        r[i].big = (int64_t)i << 40;
        snprintf(r[i].note, sizeof r[i].note, "%s", i % 3 ? "n" : "exactly8");
    }
}

static char *read_bytes(hid_t f, const char *path, size_t *size, hid_t *type)
{
    hid_t d = H5Dopen2(f, path, H5P_DEFAULT);
    if (d < 0) return NULL;
    *type = H5Dget_type(d);
    hid_t sp = H5Dget_space(d);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    *size = (size_t)n * H5Tget_size(*type);
    char *buf = calloc(*size + 1, 1);
    if (n > 0) H5Dread(d, *type, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf);
    H5Sclose(sp);
    H5Dclose(d);
    return buf;
}

static void attr_text(hid_t f, const char *path, const char *name, char *out, size_t len)
{
    out[0] = 0;
    hid_t a = H5Aopen_by_name(f, path, name, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0) return;
    hid_t sp = H5Aget_space(a), t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hssize_t n = H5Sget_simple_extent_npoints(sp);
    char **v = calloc((size_t)n, sizeof *v);
    if (H5Aread(a, t, v) >= 0) {
        size_t l = 0;
        for (hssize_t i = 0; i < n; i++) l += (size_t)snprintf(out + l, l < len ? len - l : 0, "%s|", v[i]);
        H5Dvlen_reclaim(t, sp, H5P_DEFAULT, v);
    }
    free(v);
    H5Tclose(t);
    H5Sclose(sp);
    H5Aclose(a);
}

static void test_rows_writer(void)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/rows.h5", kr_test_tmpdir());
    size_t n = 2000; /* 65536 / 56-byte rows = 1170 per chunk: one full chunk and a partial one */
    t_row *rows = calloc(n, sizeof *rows), back[40];
    fill_rows(rows, n);
    kr_product *p = NULL;
    kr_rows_writer *w = NULL;
    CU_ASSERT_EQUAL_FATAL(kr_product_open(path, &p), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_product_write_table(p, "whole/t", &T_DESC, rows, n), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_rows_open(p, "appended/t", &T_DESC, &w), KR_OK);
    size_t blocks[] = {1, 7, 1100, 40, 852}, at = 0;
    for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++) {
        CU_ASSERT_EQUAL(kr_rows_append(w, rows + at, blocks[b]), KR_OK);
        at += blocks[b];
    }
    CU_ASSERT_EQUAL(at, n);
    CU_ASSERT_EQUAL(kr_rows_count(w), n);
    /* read back across the written chunk and the buffered rows */
    CU_ASSERT_EQUAL(kr_rows_read(w, 1150, 40, back), KR_OK);
    for (int i = 0; i < 40; i++) {
        CU_ASSERT_STRING_EQUAL(back[i].name, rows[1150 + i].name);
        CU_ASSERT_EQUAL(back[i].big, rows[1150 + i].big);
    }
    CU_ASSERT_NOT_EQUAL(kr_rows_read(w, n - 5, 10, back), KR_OK); /* beyond the end: an error */
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_rows_close(w), KR_OK);
    /* an empty table and a duplicate */
    CU_ASSERT_EQUAL(kr_rows_open(p, "appended/empty", &T_DESC, &w), KR_OK);
    CU_ASSERT_EQUAL(kr_rows_close(w), KR_OK);
    CU_ASSERT_NOT_EQUAL(kr_rows_open(p, "appended/t", &T_DESC, &w), KR_OK);
    kr_err_clear();
    CU_ASSERT_EQUAL_FATAL(kr_product_commit(p), KR_OK);

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    size_t sa = 0, sb = 0, se = 0;
    hid_t ta = -1, tb = -1, te = -1;
    char *a = read_bytes(f, "whole/t", &sa, &ta), *b = read_bytes(f, "appended/t", &sb, &tb);
    char *e = read_bytes(f, "appended/empty", &se, &te);
    CU_ASSERT_FATAL(a && b && e);
    CU_ASSERT(H5Tequal(ta, tb) > 0); /* the same packed compound type on disk */
    CU_ASSERT(H5Tequal(ta, te) > 0);
    CU_ASSERT_EQUAL(sa, sb);
    CU_ASSERT_EQUAL(se, 0);
    CU_ASSERT(sa == sb && !memcmp(a, b, sa)); /* same bytes, NUL padding included */
    static const char *const attrs[] = {"CLASS", "VERSION", "TITLE", "column_units", "column_desc"};
    for (int i = 0; i < 5; i++) {
        char x[512], y[512];
        attr_text(f, "whole/t", attrs[i], x, sizeof x);
        attr_text(f, "appended/t", attrs[i], y, sizeof y);
        CU_ASSERT_STRING_EQUAL(x, y);
        CU_ASSERT(*x != 0);
    }
    char units[256];
    attr_text(f, "appended/t", "column_units", units, sizeof units);
    CU_ASSERT_STRING_EQUAL(units, "|ug/g||B||");
    H5Tclose(ta);
    H5Tclose(tb);
    H5Tclose(te);
    free(a);
    free(b);
    free(e);
    H5Fclose(f);
    free(rows);
}

/* ---- time-series layout ----------------------------------------------------------------------------- */

static void test_series_layout(void)
{
    char p[1024], out[1024];
    if (!kr_test_shared_path(p, sizeof p, "data/laicpms/thermo_icapq_latools/1308H_1.csv", __func__)) return;
    snprintf(out, sizeof out, "%s/series.h5", kr_test_tmpdir());
    kr_la_acq *a = NULL;
    size_t na = 0, nw = 0;
    kr_la_opts o;
    kr_la_window w[4];
    kr_la_opts_default(&o);
    CU_ASSERT_EQUAL_FATAL(kr_la_read_file(p, 0.01, &a, &na), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_la_find_windows(a, &o, w, 4, &nw), KR_OK);
    kr_product *prod = NULL;
    CU_ASSERT_EQUAL_FATAL(kr_product_open(out, &prod), KR_OK);
    H5AC_cache_config_t now;
    now.version = H5AC__CURR_CACHE_CONFIG_VERSION;
    H5Fget_mdc_config(kr_product_file(prod), &now);
    CU_ASSERT_EQUAL(now.max_size, 2 << 20); /* the product caps HDF5's metadata cache (32 MiB by default) */
    CU_ASSERT_EQUAL(kr_la_write_series(prod, a, &w[0], "1308H_1"), KR_OK);
    CU_ASSERT_NOT_EQUAL(kr_la_write_series(prod, a, &w[0], "1308H_1"), KR_OK); /* twice: an error */
    kr_err_clear();
    CU_ASSERT_EQUAL_FATAL(kr_product_commit(prod), KR_OK);
    size_t n = w[0].seg1 - w[0].seg0;

    hid_t f = H5Fopen(out, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    const char *g = "laicpms/timeseries/1308H_1";
    char txt[512];
    attr_text(f, g, "NX_class", txt, sizeof txt);
    CU_ASSERT_STRING_EQUAL(txt, "NXdata|");
    attr_text(f, g, "signal", txt, sizeof txt);
    CU_ASSERT_STRING_EQUAL(txt, "cps|");
    attr_text(f, g, "axes", txt, sizeof txt);
    CU_ASSERT_STRING_EQUAL(txt, "time_s|isotope|");
    hid_t dc = H5Dopen2(f, "laicpms/timeseries/1308H_1/cps", H5P_DEFAULT);
    hid_t dt = H5Dopen2(f, "laicpms/timeseries/1308H_1/time_s", H5P_DEFAULT);
    hid_t di = H5Dopen2(f, "laicpms/timeseries/1308H_1/isotope", H5P_DEFAULT);
    CU_ASSERT_FATAL(dc >= 0 && dt >= 0 && di >= 0);
    hid_t sp = H5Dget_space(dc);
    hsize_t dims[2] = {0, 0};
    CU_ASSERT_EQUAL(H5Sget_simple_extent_ndims(sp), 2);
    H5Sget_simple_extent_dims(sp, dims, NULL);
    H5Sclose(sp);
    CU_ASSERT_EQUAL(dims[0], n);
    CU_ASSERT_EQUAL(dims[1], 10);
    CU_ASSERT(H5DSis_scale(dt) > 0 && H5DSis_scale(di) > 0);
    CU_ASSERT(H5DSis_attached(dc, dt, 0) > 0);
    CU_ASSERT(H5DSis_attached(dc, di, 1) > 0);
    attr_text(f, "laicpms/timeseries/1308H_1/cps", "units", txt, sizeof txt);
    CU_ASSERT_STRING_EQUAL(txt, "cps|");
    double *cps = malloc(sizeof(double) * n * 10), *t = malloc(sizeof(double) * n);
    CU_ASSERT_FATAL(H5Dread(dc, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, cps) >= 0);
    CU_ASSERT_FATAL(H5Dread(dt, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, t) >= 0);
    char *lab[10] = {0};
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, H5T_VARIABLE);
    H5Tset_cset(st, H5T_CSET_UTF8);
    CU_ASSERT_FATAL(H5Dread(di, st, H5S_ALL, H5S_ALL, H5P_DEFAULT, lab) >= 0);
    CU_ASSERT_STRING_EQUAL(lab[0], "B11");
    CU_ASSERT_STRING_EQUAL(lab[4], "Ca43");
    CU_ASSERT_STRING_EQUAL(lab[9], "Sr88");
    /* the export's own text: sweep t is on line 16 + t of 1308H_1.csv (line 16 starts "0.05284,620.015376381334");
     * the series starts at the spot's first sweep seg0 (its blank window) */
    kr_text txt_file;
    CU_ASSERT_EQUAL_FATAL(kr_text_read(p, &txt_file), KR_OK);
    char *line = txt_file.data;
    for (size_t l = 1; l < 16 + w[0].seg0 && line; l++) line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL;
    CU_ASSERT_FATAL(line != NULL);
    char *end = line;
    CU_ASSERT(same_bits(t[0], strtod(line, &end)));
    for (int k = 0; k < 10; k++) {
        CU_ASSERT_EQUAL(*end, ',');
        CU_ASSERT(same_bits(cps[k], strtod(end + 1, &end)));
    }
    kr_text_free(&txt_file);
    for (size_t i = 0; i < n; i++) /* every value: the sweep x isotope layout of the parsed columns */
        for (int k = 0; k < 10; k++)
            if (!same_bits(cps[i * 10 + (size_t)k], kr_la_col(a, k)[w[0].seg0 + i])) {
                CU_FAIL("cps[sweep][isotope] differs from the parsed column");
                i = n;
                break;
            }
    hid_t msp = H5Screate_simple(1, (hsize_t[]){10}, NULL);
    H5Dvlen_reclaim(st, msp, H5P_DEFAULT, lab);
    H5Sclose(msp);
    H5Tclose(st);
    free(cps);
    free(t);
    H5Dclose(dc);
    H5Dclose(dt);
    H5Dclose(di);
    H5Fclose(f);
    kr_la_acqs_free(a, na);
}

/* ---- spot by spot on the real session ----------------------------------------------------------------- */

static int load_session(kr_la_session *s, kr_la_refs *refs, const char *dir)
{
    kr_la_settings set;
    kr_la_opts o;
    if (kr_la_refs_load(refs)) return -1;
    kr_la_settings_default(&set);
    snprintf(set.is_element, sizeof set.is_element, "Ca");
    kr_la_opts_default(&o);
    if (kr_la_session_init(s, &set, &o, refs)) return -1;
    s->is_default_ugg = 400000;
    DIR *d = opendir(dir);
    struct dirent *e;
    char **names = NULL;
    size_t nn = 0;
    while (d && (e = readdir(d))) {
        if (!strstr(e->d_name, ".csv")) continue;
        names = realloc(names, (nn + 1) * sizeof *names);
        names[nn++] = strdup(e->d_name);
    }
    if (d) closedir(d);
    /* a fixed order (readdir order is the file system's) */
    for (size_t i = 1; i < nn; i++)
        for (size_t j = i; j && strcmp(names[j - 1], names[j]) > 0; j--) {
            char *x = names[j];
            names[j] = names[j - 1];
            names[j - 1] = x;
        }
    for (size_t i = 0; i < nn; i++) {
        char p[2048];
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        kr_la_acq *a = NULL;
        size_t n = 0;
        if (!kr_la_read_file(p, 0.01, &a, &n)) {
            kr_la_process_acq(s, NULL, a, NULL, NULL, 0);
            kr_la_acqs_free(a, n);
        }
        free(names[i]);
    }
    free(names);
    kr_err_clear();
    return kr_la_session_calibrate(s);
}

static void test_stream_results(void)
{
    char dir[1024], pa[1024], pb[1024];
    if (!kr_test_shared_path(dir, sizeof dir, "data/laicpms/thermo_icapq_latools", __func__)) return;
    snprintf(pa, sizeof pa, "%s/array.h5", kr_test_tmpdir());
    snprintf(pb, sizeof pb, "%s/stream.h5", kr_test_tmpdir());
    kr_la_refs refs;
    kr_la_session s;
    CU_ASSERT_EQUAL_FATAL(load_session(&s, &refs, dir), KR_OK);
    CU_ASSERT_EQUAL(s.nspots, 225);
    /* the spots' measurements live in the scratch file, not in memory, between uses */
    size_t resident = 0, spilled = 0;
    for (size_t i = 0; i < s.nspots; i++) {
        resident += s.spots[i].m != NULL;
        spilled += s.spots[i].spill_off >= 0;
    }
    CU_ASSERT(s.spill != NULL);
    CU_ASSERT_EQUAL(resident, 0);
    CU_ASSERT_EQUAL(spilled, 224); /* 1308H_33 failed before it had measurements */
    size_t nr = s.nspots * (size_t)s.nana;
    kr_la_result *rows = calloc(nr, sizeof *rows);
    for (size_t i = 0; i < s.nspots; i++)
        if (kr_la_quantify_spot(&s, i, rows + i * (size_t)s.nana)) kr_err_clear();
    kr_product *p = NULL;
    CU_ASSERT_EQUAL_FATAL(kr_product_open(pa, &p), KR_OK);
    CU_ASSERT_EQUAL(kr_la_write_results(&s, rows, 5, p, NULL), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_product_commit(p), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_product_open(pb, &p), KR_OK);
    CU_ASSERT_EQUAL(kr_la_quantify_write(&s, 5, p, NULL), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_product_commit(p), KR_OK);

    hid_t fa = H5Fopen(pa, H5F_ACC_RDONLY, H5P_DEFAULT), fb = H5Fopen(pb, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(fa >= 0 && fb >= 0);
    static const char *const tables[] = {"laicpms/spots", "laicpms/calibration", "laicpms/samples",
                                         "qa/reference_materials"};
    for (int i = 0; i < 4; i++) {
        size_t sa = 0, sb = 0;
        hid_t ta = -1, tb = -1;
        char *a = read_bytes(fa, tables[i], &sa, &ta), *b = read_bytes(fb, tables[i], &sb, &tb);
        CU_ASSERT(a && b && sa == sb && sa > 0 && !memcmp(a, b, sa));
        if (ta >= 0) H5Tclose(ta);
        if (tb >= 0) H5Tclose(tb);
        free(a);
        free(b);
    }
    /* the per-sample table against means and sds recomputed here from the spots rows (two-pass) */
    typedef struct {
        char sample[64];
        char analyte[24];
        int32_t n;
        double mean_ugg, sd_ugg;
    } srow;
    hid_t mt = H5Tcreate(H5T_COMPOUND, sizeof(srow));
    hid_t s64 = H5Tcopy(H5T_C_S1), s24 = H5Tcopy(H5T_C_S1);
    H5Tset_size(s64, 64);
    H5Tset_size(s24, 24);
    H5Tset_cset(s64, H5T_CSET_UTF8); /* HDF5 converts no strings between character sets */
    H5Tset_cset(s24, H5T_CSET_UTF8);
    H5Tinsert(mt, "sample", offsetof(srow, sample), s64);
    H5Tinsert(mt, "analyte", offsetof(srow, analyte), s24);
    H5Tinsert(mt, "n", offsetof(srow, n), H5T_NATIVE_INT32);
    H5Tinsert(mt, "mean_ugg", offsetof(srow, mean_ugg), H5T_NATIVE_DOUBLE);
    H5Tinsert(mt, "sd_ugg", offsetof(srow, sd_ugg), H5T_NATIVE_DOUBLE);
    hid_t ds = H5Dopen2(fb, "laicpms/samples", H5P_DEFAULT), dsp = H5Dget_space(ds);
    size_t ns = (size_t)H5Sget_simple_extent_npoints(dsp);
    srow *sr = calloc(ns + 1, sizeof *sr);
    CU_ASSERT_FATAL(H5Dread(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, sr) >= 0);
    int checked = 0, one = 0;
    for (size_t q = 0; q < ns; q++) {
        double sum = 0, ss = 0;
        int cnt = 0;
        for (size_t r = 0; r < nr; r++)
            if (!strcmp(rows[r].sample, sr[q].sample) && !strcmp(rows[r].analyte, sr[q].analyte) &&
                !strcmp(rows[r].status, "ok") && !rows[r].below_lod) {
                sum += rows[r].conc_ugg;
                cnt++;
            }
        double mean = sum / cnt;
        for (size_t r = 0; r < nr; r++)
            if (!strcmp(rows[r].sample, sr[q].sample) && !strcmp(rows[r].analyte, sr[q].analyte) &&
                !strcmp(rows[r].status, "ok") && !rows[r].below_lod)
                ss += (rows[r].conc_ugg - mean) * (rows[r].conc_ugg - mean);
        CU_ASSERT_EQUAL(sr[q].n, cnt);
        if (cnt) CU_ASSERT(same_bits(sr[q].mean_ugg, mean));
        if (cnt > 1) CU_ASSERT(same_bits(sr[q].sd_ugg, sqrt(ss / (cnt - 1))));
        checked += cnt > 1;
        one += cnt == 1;
    }
    CU_ASSERT(ns >= 10 && one >= 100); /* the session's samples are mostly single spots */
    /* the QA table (secondary glass NIST612, many spots) recomputed the same way */
    typedef struct {
        char material[64];
        char analyte[24];
        int32_t n;
        double mean, sd;
    } qrow;
    hid_t qt = H5Tcreate(H5T_COMPOUND, sizeof(qrow));
    H5Tinsert(qt, "material", offsetof(qrow, material), s64);
    H5Tinsert(qt, "analyte", offsetof(qrow, analyte), s24);
    H5Tinsert(qt, "n", offsetof(qrow, n), H5T_NATIVE_INT32);
    H5Tinsert(qt, "mean", offsetof(qrow, mean), H5T_NATIVE_DOUBLE);
    H5Tinsert(qt, "sd", offsetof(qrow, sd), H5T_NATIVE_DOUBLE);
    hid_t dq = H5Dopen2(fb, "qa/reference_materials", H5P_DEFAULT), dqs = H5Dget_space(dq);
    size_t nq = (size_t)H5Sget_simple_extent_npoints(dqs);
    qrow *qr = calloc(nq + 1, sizeof *qr);
    int qa_checked = 0;
    CU_ASSERT_FATAL(H5Dread(dq, qt, H5S_ALL, H5S_ALL, H5P_DEFAULT, qr) >= 0);
    for (size_t q = 0; q < nq; q++) {
        int mat = kr_la_refs_material(&refs, qr[q].material);
        double sum = 0, ss = 0;
        int cnt = 0;
        for (int pass = 0; pass < 2; pass++)
            for (size_t i = 0; i < s.nspots; i++) {
                const kr_la_result *r = NULL;
                for (int a = 0; a < s.nana; a++)
                    if (!strcmp(rows[i * (size_t)s.nana + a].analyte, qr[q].analyte)) r = &rows[i * (size_t)s.nana + a];
                if (!r || s.spots[i].rm != mat || strcmp(r->status, "ok") || r->below_lod) continue;
                if (!pass) {
                    sum += r->conc_ugg;
                    cnt++;
                } else {
                    ss += (r->conc_ugg - sum / cnt) * (r->conc_ugg - sum / cnt);
                }
            }
        CU_ASSERT_EQUAL(qr[q].n, cnt);
        CU_ASSERT(same_bits(qr[q].mean, sum / cnt));
        if (cnt > 1) CU_ASSERT(same_bits(qr[q].sd, sqrt(ss / (cnt - 1))));
        qa_checked += cnt > 1;
    }
    CU_ASSERT(nq >= 8 && qa_checked >= 8);
    printf("\n  recomputed from the spots rows: %zu per-sample rows (%d of one spot, %d of more) and %zu QA rows "
           "(%d of more than one spot)\n", ns, one, checked, nq, qa_checked);
    free(qr);
    H5Sclose(dqs);
    H5Dclose(dq);
    H5Tclose(qt);
    free(sr);
    H5Sclose(dsp);
    H5Dclose(ds);
    H5Tclose(s64);
    H5Tclose(s24);
    H5Tclose(mt);
    H5Fclose(fa);
    H5Fclose(fb);
    free(rows);
    kr_la_session_free(&s);
    kr_la_refs_free(&refs);
}

int main(void)
{
    kr_err_install_handlers();
    static const kr_test_case tests[] = {
        {"number parser = strtod bits", test_parse_number},
        {"append-rows table = kr_product_write_table", test_rows_writer},
        {"time series: cps(time_s, isotope) layout", test_series_layout},
        {"spot by spot results = whole-array results (real session)", test_stream_results},
        {NULL, NULL},
    };
    return kr_test_run("laicpms_stream", tests);
}
