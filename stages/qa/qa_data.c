/* Gathering QA numbers from products (HDF5 tables read by column name) and from the nightly ledger. */
#include "qa.h"

#include "calib.h"
#include "error.h"
#include "ledger.h"

#include <ctype.h>
#include <sqlite3.h>
#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void kr_qa_data_free(kr_qa_data *d)
{
    free(d->sessions);
    free(d->rm);
    free(d->epma);
    free(d->ages);
    memset(d, 0, sizeof *d);
}

/* Grow an array to hold one more item. */
static int grow(void **items, size_t *cap, size_t n, size_t size)
{
    if (n < *cap) return KR_OK;
    size_t nc = *cap ? *cap * 2 : 16;
    void *p = realloc(*items, nc * size);
    if (!p) return kr_err(KR_ENOMEM, "out of memory");
    *items = p;
    *cap = nc;
    return KR_OK;
}

/* Member of a compound type whose name equals one of `names` ('*' at the end: prefix). -1 if none. */
static int find_member(hid_t ftype, const char *const *names, size_t nnames)
{
    int nm = H5Tget_nmembers(ftype);
    for (size_t k = 0; k < nnames; k++) {
        size_t len = strlen(names[k]);
        int prefix = len > 0 && names[k][len - 1] == '*';
        for (int i = 0; i < nm; i++) {
            char *m = H5Tget_member_name(ftype, (unsigned)i);
            if (!m) continue;
            int hit = prefix ? strncmp(m, names[k], len - 1) == 0 : strcmp(m, names[k]) == 0;
            H5free_memory(m);
            if (hit) return i;
        }
    }
    return -1;
}

/* Read column `member` of a compound dataset as doubles (n values) or as strings (n x slen bytes). */
static int read_member(hid_t dset, hid_t ftype, int member, double *dvals, char *svals, size_t slen)
{
    char *name = H5Tget_member_name(ftype, (unsigned)member);
    if (!name) return kr_err(KR_EINPUT, "cannot read a column name");
    hid_t mt = -1, st = -1;
    int rc = KR_OK;
    if (dvals) {
        mt = H5Tcreate(H5T_COMPOUND, sizeof(double));
        if (mt < 0 || H5Tinsert(mt, name, 0, H5T_NATIVE_DOUBLE) < 0) rc = kr_err(KR_EINPUT, "column %s", name);
    } else {
        /* same character set as the file's (HDF5 converts no ASCII <-> UTF-8) */
        hid_t fm = H5Tget_member_type(ftype, (unsigned)member);
        H5T_cset_t cset = fm >= 0 && H5Tget_class(fm) == H5T_STRING ? H5Tget_cset(fm) : H5T_CSET_ASCII;
        if (fm >= 0) H5Tclose(fm);
        st = H5Tcopy(H5T_C_S1);
        mt = H5Tcreate(H5T_COMPOUND, slen);
        if (st < 0 || mt < 0 || H5Tset_size(st, slen) < 0 || H5Tset_strpad(st, H5T_STR_NULLTERM) < 0 ||
            H5Tset_cset(st, cset) < 0 ||
            H5Tinsert(mt, name, 0, st) < 0)
            rc = kr_err(KR_EINPUT, "column %s", name);
    }
    if (!rc && H5Dread(dset, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, dvals ? (void *)dvals : (void *)svals) < 0) {
        kr_err_from_hdf5();
        rc = kr_err(KR_EINPUT, "cannot read column %s (not a number or string?)", name);
    }
    if (mt >= 0) H5Tclose(mt);
    if (st >= 0) H5Tclose(st);
    H5free_memory(name);
    return rc;
}

/* A table's columns by name: doubles (NaN when the column is absent) and strings ("" when absent). */
typedef struct {
    const char *const *names; /* candidate names */
    size_t nnames;
    int is_string;
    int required;
} col_spec;

enum { SLEN = 64, MAXCOLS = 8 };

typedef struct {
    size_t n;
    double *d[MAXCOLS];
    char *s[MAXCOLS];
} col_data;

static void col_data_free(col_data *c)
{
    for (int i = 0; i < MAXCOLS; i++) {
        free(c->d[i]);
        free(c->s[i]);
    }
    memset(c, 0, sizeof *c);
}

/* Read `table` from the open file; *present = 0 (and KR_OK) when the table does not exist. */
static int read_table(hid_t file, const char *product, const char *table, const col_spec *spec, int ncols,
                      col_data *out, int *present)
{
    memset(out, 0, sizeof *out);
    *present = 0;
    /* H5Lexists needs each level of the path to exist: check the group first */
    char grp[64];
    const char *slash = strchr(table + 1, '/');
    if (slash) {
        snprintf(grp, sizeof grp, "%.*s", (int)(slash - table), table);
        if (H5Lexists(file, grp, H5P_DEFAULT) <= 0) return KR_OK;
    }
    if (H5Lexists(file, table, H5P_DEFAULT) <= 0) return KR_OK;
    hid_t dset = H5Dopen2(file, table, H5P_DEFAULT), ftype = -1, space = -1;
    int rc = KR_OK;
    if (dset < 0) {
        kr_err_from_hdf5();
        return kr_err(KR_EINPUT, "%s: cannot open %s", product, table);
    }
    ftype = H5Dget_type(dset);
    space = H5Dget_space(dset);
    if (ftype < 0 || space < 0 || H5Tget_class(ftype) != H5T_COMPOUND || H5Sget_simple_extent_ndims(space) != 1) {
        rc = kr_err(KR_EINPUT, "%s: %s is not a 1-D table", product, table);
        goto cleanup;
    }
    hsize_t n = 0;
    H5Sget_simple_extent_dims(space, &n, NULL);
    out->n = (size_t)n;
    *present = 1;
    for (int c = 0; c < ncols && c < MAXCOLS; c++) {
        int m = find_member(ftype, spec[c].names, spec[c].nnames);
        if (m < 0 && spec[c].required) {
            rc = kr_err(KR_EINPUT, "%s: %s has no column %s", product, table, spec[c].names[0]);
            goto cleanup;
        }
        size_t cnt = out->n ? out->n : 1;
        if (spec[c].is_string) {
            out->s[c] = calloc(cnt, SLEN);
            if (!out->s[c]) {
                rc = kr_err(KR_ENOMEM, "out of memory");
                goto cleanup;
            }
            if (m >= 0 && out->n && (rc = read_member(dset, ftype, m, NULL, out->s[c], SLEN))) goto cleanup;
        } else {
            out->d[c] = malloc(cnt * sizeof(double));
            if (!out->d[c]) {
                rc = kr_err(KR_ENOMEM, "out of memory");
                goto cleanup;
            }
            for (size_t i = 0; i < cnt; i++) out->d[c][i] = NAN;
            if (m >= 0 && out->n && (rc = read_member(dset, ftype, m, out->d[c], NULL, 0))) goto cleanup;
        }
    }
cleanup:
    if (rc) {
        rc = kr_err(rc, "%s: reading %s", product, table);
        col_data_free(out);
        *present = 0;
    }
    if (space >= 0) H5Sclose(space);
    if (ftype >= 0) H5Tclose(ftype);
    H5Dclose(dset);
    return rc;
}

#define NAMES(...) (const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *)

static int read_rm(kr_qa_data *d, size_t s, hid_t file, const char *product)
{
    const col_spec spec[] = {
        {NAMES("material", "glass", "reference", "rm", "name"), 1, 1},
        {NAMES("element", "analyte", "isotope"), 1, 1},
        {NAMES("mean", "mean*"), 0, 1},
        {NAMES("rsd_pct", "rsd*"), 0, 0},
        {NAMES("bias_pct", "bias*"), 0, 0},
        {NAMES("z", "z_score"), 0, 0},
        {NAMES("zeta", "zeta_score"), 0, 0},
    };
    col_data c;
    int present, rc = read_table(file, product, "/qa/reference_materials", spec, 7, &c, &present);
    if (rc || !present) return rc;
    for (size_t i = 0; i < c.n; i++) {
        if ((rc = grow((void **)&d->rm, &d->cap_rm, d->nrm, sizeof *d->rm))) break;
        kr_qa_rm *r = &d->rm[d->nrm++];
        r->session = s;
        snprintf(r->material, sizeof r->material, "%s", c.s[0] + i * SLEN);
        snprintf(r->element, sizeof r->element, "%s", c.s[1] + i * SLEN);
        r->mean = c.d[2][i];
        r->rsd_pct = c.d[3][i];
        r->bias_pct = c.d[4][i];
        r->z = c.d[5][i];
        r->zeta = c.d[6][i];
    }
    col_data_free(&c);
    return rc;
}

static int read_epma(kr_qa_data *d, size_t s, hid_t file, const char *product)
{
    const col_spec spec[] = {
        {NAMES("element"), 1, 1},
        {NAMES("point_index"), 0, 0},
        {NAMES("std_net_cps_na"), 0, 1},
    };
    col_data c;
    int present, rc = read_table(file, product, "/epma/points", spec, 3, &c, &present);
    if (rc || !present) return rc;
    size_t first = d->nepma;
    for (size_t i = 0; i < c.n && !rc; i++) {
        const char *el = c.s[0] + i * SLEN;
        double v = c.d[2][i], idx = c.d[1][i];
        if (!isfinite(v) || !*el) continue;
        kr_qa_epma *e = NULL;
        for (size_t k = first; k < d->nepma; k++)
            if (!strcmp(d->epma[k].element, el)) e = &d->epma[k];
        if (!e) {
            if ((rc = grow((void **)&d->epma, &d->cap_epma, d->nepma, sizeof *d->epma))) break;
            e = &d->epma[d->nepma++];
            memset(e, 0, sizeof *e);
            e->session = s;
            snprintf(e->element, sizeof e->element, "%s", el);
            e->first_cps_na = v;
        }
        e->std_cps_na += v;
        e->n_points++;
        e->last_cps_na = v;
        (void)idx; /* rows are in point order (point_index ascending) */
    }
    for (size_t k = first; k < d->nepma; k++) d->epma[k].std_cps_na /= d->epma[k].n_points;
    col_data_free(&c);
    return rc;
}

/* Reference value of a SIMS group from calib/sims_reference_materials.csv (names compared
 * case-insensitively; a group matches when one name starts with the other, at least 3 letters). */
static const kr_constant *sims_ref(const kr_constants *refs, const char *group)
{
    char g[KR_QA_NAME];
    size_t n = 0;
    for (; group[n] && n + 1 < sizeof g; n++) g[n] = (char)tolower((unsigned char)group[n]);
    g[n] = '\0';
    if (n < 3) return NULL;
    for (size_t i = 0; i < refs->n; i++) {
        size_t m = strlen(refs->items[i].name);
        if (!strncmp(g, refs->items[i].name, n < m ? n : m)) return &refs->items[i];
    }
    return NULL;
}

static int read_ages(kr_qa_data *d, size_t s, hid_t file, const char *product)
{
    const col_spec spec[] = {
        {NAMES("group"), 1, 1},
        {NAMES("wmean_age_ma"), 0, 1},
        {NAMES("wmean_err_ma"), 0, 0},
    };
    col_data c;
    int present, rc = read_table(file, product, "/sims/ages", spec, 3, &c, &present);
    if (rc || !present) return rc;
    kr_constants refs = {0};
    if ((rc = kr_constants_load("sims_reference_materials.csv", &refs))) goto cleanup;
    for (size_t i = 0; i < c.n; i++) {
        const kr_constant *ref = sims_ref(&refs, c.s[0] + i * SLEN);
        if (!ref) continue; /* an unknown, not a reference material */
        if ((rc = grow((void **)&d->ages, &d->cap_ages, d->nages, sizeof *d->ages))) break;
        kr_qa_age *a = &d->ages[d->nages++];
        a->session = s;
        snprintf(a->material, sizeof a->material, "%s", ref->name);
        a->age_ma = c.d[1][i];
        a->err_ma = c.d[2][i];
        a->ref_ma = ref->value;
        a->ref_err_ma = ref->uncertainty;
        snprintf(a->ref_err_type, sizeof a->ref_err_type, "%s", ref->uncertainty_type);
    }
cleanup:
    kr_constants_free(&refs);
    col_data_free(&c);
    return rc;
}

static int read_product(kr_qa_data *d, size_t s, const char *product)
{
    hid_t file = H5Fopen(product, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (file < 0) {
        kr_err_from_hdf5();
        return kr_err(KR_EINPUT, "cannot open product %s", product);
    }
    kr_qa_session *ss = &d->sessions[s];
    if (!ss->time_utc[0] && H5Aexists(file, "created_utc") > 0) {
        hid_t a = H5Aopen(file, "created_utc", H5P_DEFAULT), t = a >= 0 ? H5Aget_type(a) : -1;
        if (t >= 0 && H5Tget_class(t) == H5T_STRING && !H5Tis_variable_str(t) && H5Tget_size(t) < sizeof ss->time_utc) {
            char buf[sizeof ss->time_utc] = {0};
            if (H5Aread(a, t, buf) >= 0) snprintf(ss->time_utc, sizeof ss->time_utc, "%s", buf);
        }
        if (t >= 0) H5Tclose(t);
        if (a >= 0) H5Aclose(a);
    }
    int rc = read_rm(d, s, file, product);
    if (!rc) rc = read_epma(d, s, file, product);
    if (!rc) rc = read_ages(d, s, file, product);
    H5Fclose(file);
    return rc;
}

int kr_qa_add_session(kr_qa_data *d, const char *name, const char *instrument, const char *time_utc,
                      const char *status, const char *error, const char *product)
{
    int rc = grow((void **)&d->sessions, &d->cap_sessions, d->nsessions, sizeof *d->sessions);
    if (rc) return rc;
    size_t s = d->nsessions++;
    kr_qa_session *ss = &d->sessions[s];
    memset(ss, 0, sizeof *ss);
    snprintf(ss->name, sizeof ss->name, "%s", name ? name : "");
    snprintf(ss->instrument, sizeof ss->instrument, "%s", instrument ? instrument : "");
    snprintf(ss->time_utc, sizeof ss->time_utc, "%s", time_utc ? time_utc : "");
    snprintf(ss->status, sizeof ss->status, "%s", status ? status : "done");
    snprintf(ss->error, sizeof ss->error, "%s", error ? error : "");
    snprintf(ss->product, sizeof ss->product, "%s", product ? product : "");
    int ok = !strcmp(ss->status, "done") || !strcmp(ss->status, "partial");
    if (!ok || !product || !*product) return KR_OK;
    if (read_product(d, s, product)) {
        /* the report goes on: the session shows as unreadable with the reason */
        snprintf(d->sessions[s].status, sizeof d->sessions[s].status, "unreadable");
        kr_err_format(d->sessions[s].error, sizeof d->sessions[s].error);
        kr_err_clear();
    }
    return KR_OK;
}

/* One line of the session list, before sorting (strings borrowed from the ledger runs or the query). */
typedef struct {
    const char *time, *path, *instrument, *status, *error, *product;
} entry;

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;
    int c = strcmp(x->time ? x->time : "", y->time ? y->time : "");
    return c ? c : strcmp(x->path ? x->path : "", y->path ? y->path : "");
}

/* Failed/quarantined runs (read-only query on the ledger's runs table: kr_ledger_runs_since lists only the
 * successful ones) whose entry has no later successful run. Strings are strdup'ed into *owned. */
static int failed_runs(const char *ledger_path, const char *since, entry **out, size_t *n, char ***owned,
                       size_t *nowned)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int rc = KR_OK;
    size_t cap = 0, ocap = 0;
    if (sqlite3_open_v2(ledger_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        rc = kr_err(KR_EIO, "%s: cannot open ledger read-only: %s", ledger_path, db ? sqlite3_errmsg(db) : "?");
        goto cleanup;
    }
    const char *sql = "SELECT finished_utc, path, instrument, status, error FROM runs r"
                      " WHERE status IN ('failed','quarantined') AND finished_utc >= ?1"
                      " AND NOT EXISTS (SELECT 1 FROM runs s WHERE s.instrument = r.instrument AND s.path = r.path"
                      "  AND s.status IN ('done','partial') AND s.id > r.id)"
                      " AND NOT EXISTS (SELECT 1 FROM runs s WHERE s.instrument = r.instrument AND s.path = r.path"
                      "  AND s.status IN ('failed','quarantined') AND s.id > r.id)";
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = kr_err(KR_EINPUT, "%s: not a kreep ledger (%s)", ledger_path, sqlite3_errmsg(db));
        goto cleanup;
    }
    sqlite3_bind_text(st, 1, since ? since : "", -1, SQLITE_TRANSIENT);
    int step;
    while ((step = sqlite3_step(st)) == SQLITE_ROW) {
        if ((rc = grow((void **)out, &cap, *n, sizeof **out))) goto cleanup;
        entry *e = &(*out)[(*n)++];
        const char **fields[5] = {&e->time, &e->path, &e->instrument, &e->status, &e->error};
        e->product = NULL;
        for (int c = 0; c < 5; c++) {
            const unsigned char *t = sqlite3_column_text(st, c);
            if ((rc = grow((void **)owned, &ocap, *nowned, sizeof **owned))) goto cleanup;
            char *dup = strdup(t ? (const char *)t : "");
            if (!dup) {
                rc = kr_err(KR_ENOMEM, "out of memory");
                goto cleanup;
            }
            (*owned)[(*nowned)++] = dup;
            *fields[c] = dup;
        }
    }
    if (step != SQLITE_DONE) rc = kr_err(KR_EIO, "%s: reading runs: %s", ledger_path, sqlite3_errmsg(db));
cleanup:
    sqlite3_finalize(st);
    sqlite3_close(db);
    return rc;
}

int kr_qa_from_ledger(kr_qa_data *d, const char *ledger_path, const char *since_utc)
{
    kr_ledger *lg = NULL;
    kr_ledger_run *runs[2] = {NULL, NULL};
    size_t n[2] = {0, 0}, nall = 0, nowned = 0;
    entry *all = NULL;
    char **owned = NULL;
    int rc = kr_ledger_open(ledger_path, &lg);
    if (rc) return kr_err(rc, "QA report: cannot open ledger %s", ledger_path);
    static const char *const kinds[2] = {"nightly", "reprocess"};
    for (int k = 0; k < 2 && !rc; k++) rc = kr_ledger_runs_since(lg, kinds[k], since_utc, &runs[k], &n[k]);
    if (!rc) rc = failed_runs(ledger_path, since_utc, &all, &nall, &owned, &nowned);
    if (rc) goto cleanup;
    entry *p = realloc(all, (nall + n[0] + n[1] + 1) * sizeof *all);
    if (!p) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    all = p;
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; i < n[k]; i++)
            all[nall++] = (entry){runs[k][i].finished_utc, runs[k][i].path, runs[k][i].instrument, runs[k][i].status,
                                  runs[k][i].error, runs[k][i].product};
    qsort(all, nall, sizeof *all, cmp_entry);
    for (size_t i = 0; i < nall && !rc; i++) {
        const char *path = all[i].path ? all[i].path : "";
        const char *base = strrchr(path, '/');
        rc = kr_qa_add_session(d, base && base[1] ? base + 1 : path, all[i].instrument, all[i].time, all[i].status,
                               all[i].error, all[i].product);
    }
cleanup:
    free(all);
    for (size_t i = 0; i < nowned; i++) free(owned[i]);
    free(owned);
    for (int k = 0; k < 2; k++) kr_ledger_runs_free(runs[k], n[k]);
    kr_ledger_close(lg);
    if (rc) rc = kr_err(rc, "QA report: reading ledger %s", ledger_path);
    return rc;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int kr_qa_from_path(kr_qa_data *d, const char *path)
{
    DIR *dir = opendir(path);
    if (!dir) {
        const char *base = strrchr(path, '/');
        return kr_qa_add_session(d, base ? base + 1 : path, "", "", "done", "", path);
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = KR_OK;
    struct dirent *e;
    while ((e = readdir(dir))) {
        size_t len = strlen(e->d_name);
        if (len < 4 || strcmp(e->d_name + len - 3, ".h5")) continue;
        if ((rc = grow((void **)&names, &cap, n, sizeof *names))) goto cleanup;
        if (!(names[n] = strdup(e->d_name))) {
            rc = kr_err(KR_ENOMEM, "out of memory");
            goto cleanup;
        }
        n++;
    }
    if (n == 0) {
        rc = kr_err(KR_EINPUT, "QA report: no *.h5 product in folder %s", path);
        goto cleanup;
    }
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n && !rc; i++) {
        char full[1024];
        snprintf(full, sizeof full, "%s/%s", path, names[i]);
        rc = kr_qa_add_session(d, names[i], "", "", "done", "", full);
    }
cleanup:
    for (size_t i = 0; i < n; i++) free(names[i]);
    free(names);
    closedir(dir);
    return rc;
}
