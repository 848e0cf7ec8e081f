/* The nightly ledger on SQLite (see ledger.h). */
#include "ledger.h"

#include "error.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct kr_ledger {
    sqlite3 *db;
    char *path;
    int in_tx;
};

static const char SCHEMA[] =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "INSERT OR IGNORE INTO meta(key, value) VALUES('schema_version', '1');"
    "CREATE TABLE IF NOT EXISTS items("
    " instrument TEXT NOT NULL, path TEXT NOT NULL,"
    " size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL,"
    " status TEXT NOT NULL CHECK(status IN ('done','failed','quarantined')),"
    " attempts INTEGER NOT NULL DEFAULT 0, error TEXT, product TEXT,"
    " run_hash TEXT, config_hash TEXT, software_version TEXT, quarantine_path TEXT,"
    " updated_utc TEXT NOT NULL,"
    " PRIMARY KEY(instrument, path));"
    "CREATE TABLE IF NOT EXISTS runs("
    " id INTEGER PRIMARY KEY AUTOINCREMENT, instrument TEXT NOT NULL, path TEXT NOT NULL,"
    " kind TEXT NOT NULL CHECK(kind IN ('nightly','reprocess')),"
    " status TEXT NOT NULL CHECK(status IN ('running','done','partial','failed','quarantined','interrupted')),"
    " started_utc TEXT NOT NULL, finished_utc TEXT, template_path TEXT, overrides TEXT,"
    " product TEXT, error TEXT, run_hash TEXT, config_hash TEXT, software_version TEXT);"
    "CREATE INDEX IF NOT EXISTS runs_item ON runs(instrument, path, kind);"
    "CREATE TABLE IF NOT EXISTS extra_inputs("
    " instrument TEXT NOT NULL, path TEXT NOT NULL, file TEXT NOT NULL, sha256 TEXT NOT NULL,"
    " PRIMARY KEY(instrument, path, file));"
    "CREATE TABLE IF NOT EXISTS files("
    " path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL, sha256 TEXT NOT NULL);";

void kr_ledger_now_utc(char *buf, size_t len)
{
    time_t t = time(NULL);
    struct tm tmv;
    gmtime_r(&t, &tmv);
    strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tmv);
}

static int db_err(kr_ledger *lg, int code, const char *what)
{
    return kr_err(code, "%s: ledger %s failed: %s", lg->path, what, sqlite3_errmsg(lg->db));
}

static char *dup_col(sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    return s ? strdup((const char *)s) : NULL;
}

static void copy_hex(char dst[KR_SHA256_HEX], sqlite3_stmt *st, int i)
{
    const unsigned char *s = sqlite3_column_text(st, i);
    snprintf(dst, KR_SHA256_HEX, "%s", s ? (const char *)s : "");
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s) sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

void kr_ledger_item_clear(kr_ledger_item *it)
{
    if (!it) return;
    free(it->instrument);
    free(it->path);
    free(it->status);
    free(it->error);
    free(it->product);
    free(it->software_version);
    free(it->quarantine_path);
    free(it->updated_utc);
    memset(it, 0, sizeof *it);
}

void kr_ledger_files_free(kr_ledger_file *f, size_t n)
{
    for (size_t i = 0; i < n; i++) free(f[i].file);
    free(f);
}

void kr_ledger_run_clear(kr_ledger_run *r)
{
    if (!r) return;
    free(r->instrument);
    free(r->path);
    free(r->kind);
    free(r->status);
    free(r->started_utc);
    free(r->finished_utc);
    free(r->template_path);
    free(r->overrides);
    free(r->product);
    free(r->error);
    free(r->software_version);
    memset(r, 0, sizeof *r);
}

int kr_ledger_open(const char *path, kr_ledger **out)
{
    int rc = KR_OK;
    char *msg = NULL;
    kr_ledger *lg = calloc(1, sizeof *lg);
    *out = NULL;
    if (!lg || !(lg->path = strdup(path))) {
        free(lg);
        return kr_err(KR_ENOMEM, "out of memory");
    }
    if (sqlite3_open_v2(path, &lg->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) !=
        SQLITE_OK) {
        rc = kr_err(KR_EIO, "%s: cannot open the ledger: %s", path, lg->db ? sqlite3_errmsg(lg->db) : "no memory");
        goto cleanup;
    }
    sqlite3_busy_timeout(lg->db, 10000);
    /* WAL: readers never block the writer; FULL: a committed run survives a power cut */
    if (sqlite3_exec(lg->db, "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;", NULL,
                     NULL, &msg) != SQLITE_OK ||
        sqlite3_exec(lg->db, SCHEMA, NULL, NULL, &msg) != SQLITE_OK) {
        rc = kr_err(KR_EIO, "%s: cannot set up the ledger (is it a kreep ledger?): %s", path, msg ? msg : "?");
        goto cleanup;
    }
    *out = lg;
    lg = NULL;
cleanup:
    sqlite3_free(msg);
    kr_ledger_close(lg);
    return rc;
}

void kr_ledger_close(kr_ledger *lg)
{
    if (!lg) return;
    if (lg->in_tx) kr_ledger_rollback(lg);
    sqlite3_close(lg->db);
    free(lg->path);
    free(lg);
}

const char *kr_ledger_path(const kr_ledger *lg) { return lg->path; }

int kr_ledger_begin(kr_ledger *lg)
{
    if (sqlite3_exec(lg->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return db_err(lg, KR_EIO, "BEGIN IMMEDIATE");
    lg->in_tx = 1;
    return KR_OK;
}

int kr_ledger_commit(kr_ledger *lg)
{
    if (sqlite3_exec(lg->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = db_err(lg, KR_EIO, "COMMIT");
        kr_ledger_rollback(lg);
        return rc;
    }
    lg->in_tx = 0;
    return KR_OK;
}

void kr_ledger_rollback(kr_ledger *lg)
{
    if (!lg->in_tx) return;
    sqlite3_exec(lg->db, "ROLLBACK", NULL, NULL, NULL);
    lg->in_tx = 0;
}

static int prepare(kr_ledger *lg, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(lg->db, sql, -1, st, NULL) != SQLITE_OK) return db_err(lg, KR_EIO, "query");
    return KR_OK;
}

int kr_ledger_get_item(kr_ledger *lg, const char *instrument, const char *path, kr_ledger_item *out, int *found)
{
    sqlite3_stmt *st = NULL;
    int rc = KR_OK;
    *found = 0;
    kr_ledger_item_clear(out);
    if ((rc = prepare(lg, "SELECT size, mtime_ns, sha256, status, attempts, error, product, run_hash, config_hash,"
                          " software_version, quarantine_path, updated_utc FROM items WHERE instrument=? AND path=?",
                      &st)))
        return rc;
    bind_text(st, 1, instrument);
    bind_text(st, 2, path);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        out->instrument = strdup(instrument);
        out->path = strdup(path);
        out->size = sqlite3_column_int64(st, 0);
        out->mtime_ns = sqlite3_column_int64(st, 1);
        copy_hex(out->sha256, st, 2);
        out->status = dup_col(st, 3);
        out->attempts = (long)sqlite3_column_int64(st, 4);
        out->error = dup_col(st, 5);
        out->product = dup_col(st, 6);
        copy_hex(out->run_hash, st, 7);
        copy_hex(out->config_hash, st, 8);
        out->software_version = dup_col(st, 9);
        out->quarantine_path = dup_col(st, 10);
        out->updated_utc = dup_col(st, 11);
        if (!out->instrument || !out->path || !out->status) rc = kr_err(KR_ENOMEM, "out of memory");
        *found = 1;
    } else if (s != SQLITE_DONE) {
        rc = db_err(lg, KR_EIO, "read of an item");
    }
    sqlite3_finalize(st);
    return rc;
}

int kr_ledger_put_item(kr_ledger *lg, const kr_ledger_item *it)
{
    sqlite3_stmt *st = NULL;
    int rc;
    char now[32];
    kr_ledger_now_utc(now, sizeof now);
    if ((rc = prepare(lg, "INSERT OR REPLACE INTO items(instrument, path, size, mtime_ns, sha256, status, attempts,"
                          " error, product, run_hash, config_hash, software_version, quarantine_path, updated_utc)"
                          " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                      &st)))
        return rc;
    bind_text(st, 1, it->instrument);
    bind_text(st, 2, it->path);
    sqlite3_bind_int64(st, 3, it->size);
    sqlite3_bind_int64(st, 4, it->mtime_ns);
    bind_text(st, 5, it->sha256);
    bind_text(st, 6, it->status);
    sqlite3_bind_int64(st, 7, it->attempts);
    bind_text(st, 8, it->error);
    bind_text(st, 9, it->product);
    bind_text(st, 10, it->run_hash);
    bind_text(st, 11, it->config_hash);
    bind_text(st, 12, it->software_version);
    bind_text(st, 13, it->quarantine_path);
    bind_text(st, 14, now);
    if (sqlite3_step(st) != SQLITE_DONE) rc = db_err(lg, KR_EIO, "write of an item");
    sqlite3_finalize(st);
    return rc;
}

int kr_ledger_count_items(kr_ledger *lg, const char *status, long *n)
{
    sqlite3_stmt *st = NULL;
    int rc;
    *n = 0;
    if ((rc = prepare(lg, status ? "SELECT count(*) FROM items WHERE status=?" : "SELECT count(*) FROM items", &st)))
        return rc;
    if (status) bind_text(st, 1, status);
    if (sqlite3_step(st) == SQLITE_ROW) *n = (long)sqlite3_column_int64(st, 0);
    else rc = db_err(lg, KR_EIO, "count of items");
    sqlite3_finalize(st);
    return rc;
}

int kr_ledger_file_hash(kr_ledger *lg, const char *path, long long size, long long mtime_ns, char hex[KR_SHA256_HEX],
                        int *found)
{
    sqlite3_stmt *st = NULL;
    int rc;
    *found = 0;
    if ((rc = prepare(lg, "SELECT sha256 FROM files WHERE path=? AND size=? AND mtime_ns=?", &st))) return rc;
    bind_text(st, 1, path);
    sqlite3_bind_int64(st, 2, size);
    sqlite3_bind_int64(st, 3, mtime_ns);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        copy_hex(hex, st, 0);
        *found = strlen(hex) == KR_SHA256_HEX - 1;
    } else if (s != SQLITE_DONE) {
        rc = db_err(lg, KR_EIO, "read of the file-hash cache");
    }
    sqlite3_finalize(st);
    return rc;
}

int kr_ledger_put_file_hash(kr_ledger *lg, const char *path, long long size, long long mtime_ns,
                            const char hex[KR_SHA256_HEX])
{
    sqlite3_stmt *st = NULL;
    int rc;
    if ((rc = prepare(lg, "INSERT OR REPLACE INTO files(path, size, mtime_ns, sha256) VALUES(?,?,?,?)", &st)))
        return rc;
    bind_text(st, 1, path);
    sqlite3_bind_int64(st, 2, size);
    sqlite3_bind_int64(st, 3, mtime_ns);
    bind_text(st, 4, hex);
    if (sqlite3_step(st) != SQLITE_DONE) rc = db_err(lg, KR_EIO, "write of the file-hash cache");
    sqlite3_finalize(st);
    return rc;
}

int kr_ledger_run_start(kr_ledger *lg, kr_ledger_run *r)
{
    sqlite3_stmt *st = NULL;
    int rc;
    char now[32];
    kr_ledger_now_utc(now, sizeof now);
    if ((rc = kr_ledger_begin(lg))) return rc;
    if ((rc = prepare(lg, "INSERT INTO runs(instrument, path, kind, status, started_utc, template_path, overrides,"
                          " product, run_hash, config_hash, software_version) VALUES(?,?,?,'running',?,?,?,?,?,?,?)",
                      &st)))
        goto cleanup;
    bind_text(st, 1, r->instrument);
    bind_text(st, 2, r->path);
    bind_text(st, 3, r->kind);
    bind_text(st, 4, now);
    bind_text(st, 5, r->template_path);
    bind_text(st, 6, r->overrides);
    bind_text(st, 7, r->product);
    bind_text(st, 8, r->run_hash);
    bind_text(st, 9, r->config_hash);
    bind_text(st, 10, r->software_version);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = db_err(lg, KR_EIO, "start of a run");
        goto cleanup;
    }
    r->id = sqlite3_last_insert_rowid(lg->db);
    rc = kr_ledger_commit(lg);
cleanup:
    sqlite3_finalize(st);
    if (rc) kr_ledger_rollback(lg);
    return rc;
}

static int put_extra(kr_ledger *lg, const kr_ledger_item *item, const kr_ledger_file *extra, size_t n)
{
    sqlite3_stmt *st = NULL;
    int rc;
    if ((rc = prepare(lg, "DELETE FROM extra_inputs WHERE instrument=? AND path=?", &st))) return rc;
    bind_text(st, 1, item->instrument);
    bind_text(st, 2, item->path);
    if (sqlite3_step(st) != SQLITE_DONE) rc = db_err(lg, KR_EIO, "update of outside inputs");
    sqlite3_finalize(st);
    if (rc) return rc;
    if ((rc = prepare(lg, "INSERT OR REPLACE INTO extra_inputs(instrument, path, file, sha256) VALUES(?,?,?,?)", &st)))
        return rc;
    for (size_t i = 0; i < n && !rc; i++) {
        sqlite3_reset(st);
        bind_text(st, 1, item->instrument);
        bind_text(st, 2, item->path);
        bind_text(st, 3, extra[i].file);
        bind_text(st, 4, extra[i].sha256);
        if (sqlite3_step(st) != SQLITE_DONE) rc = db_err(lg, KR_EIO, "update of outside inputs");
    }
    sqlite3_finalize(st);
    return rc;
}

int kr_ledger_extra_inputs(kr_ledger *lg, const char *instrument, const char *path, kr_ledger_file **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    int rc, s;
    kr_ledger_file *v = NULL;
    size_t nv = 0, cap = 0;
    *out = NULL;
    *n = 0;
    if ((rc = prepare(lg, "SELECT file, sha256 FROM extra_inputs WHERE instrument=? AND path=? ORDER BY file", &st)))
        return rc;
    bind_text(st, 1, instrument);
    bind_text(st, 2, path);
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (nv == cap) {
            size_t nc = cap ? 2 * cap : 8;
            kr_ledger_file *nf = realloc(v, nc * sizeof *nf);
            if (!nf) {
                rc = kr_err(KR_ENOMEM, "out of memory");
                goto cleanup;
            }
            v = nf;
            cap = nc;
        }
        copy_hex(v[nv].sha256, st, 1);
        if (!(v[nv].file = dup_col(st, 0))) {
            rc = kr_err(KR_ENOMEM, "out of memory");
            goto cleanup;
        }
        nv++;
    }
    if (s != SQLITE_DONE) {
        rc = db_err(lg, KR_EIO, "read of outside inputs");
        goto cleanup;
    }
    *out = v;
    *n = nv;
    v = NULL;
    nv = 0;
cleanup:
    sqlite3_finalize(st);
    kr_ledger_files_free(v, nv);
    return rc;
}

int kr_ledger_run_finish(kr_ledger *lg, long long id, const char *status, const char *error, const char *product,
                         const kr_ledger_item *item, const kr_ledger_file *extra, size_t nextra, int extra_valid)
{
    sqlite3_stmt *st = NULL;
    int rc;
    char now[32];
    kr_ledger_now_utc(now, sizeof now);
    if ((rc = kr_ledger_begin(lg))) return rc;
    if ((rc = prepare(lg, "UPDATE runs SET status=?, error=?, product=?, finished_utc=? WHERE id=?", &st)))
        goto cleanup;
    bind_text(st, 1, status);
    bind_text(st, 2, error);
    bind_text(st, 3, product);
    bind_text(st, 4, now);
    sqlite3_bind_int64(st, 5, id);
    if (sqlite3_step(st) != SQLITE_DONE) {
        rc = db_err(lg, KR_EIO, "end of a run");
        goto cleanup;
    }
    if (sqlite3_changes(lg->db) != 1) {
        rc = kr_err(KR_EIO, "%s: ledger has no run %lld to finish", lg->path, id);
        goto cleanup;
    }
    if (item && (rc = kr_ledger_put_item(lg, item))) goto cleanup;
    if (item && extra_valid && (rc = put_extra(lg, item, extra, nextra))) goto cleanup;
    rc = kr_ledger_commit(lg);
cleanup:
    sqlite3_finalize(st);
    if (rc) kr_ledger_rollback(lg);
    return rc;
}

int kr_ledger_mark_interrupted(kr_ledger *lg, long *n)
{
    char now[32];
    char sql[160];
    kr_ledger_now_utc(now, sizeof now);
    snprintf(sql, sizeof sql, "UPDATE runs SET status='interrupted', finished_utc='%s' WHERE status='running'", now);
    if (sqlite3_exec(lg->db, sql, NULL, NULL, NULL) != SQLITE_OK) return db_err(lg, KR_EIO, "cleanup of runs");
    if (n) *n = (long)sqlite3_changes(lg->db);
    return KR_OK;
}

static int read_run(sqlite3_stmt *st, kr_ledger_run *r)
{
    r->id = sqlite3_column_int64(st, 0);
    r->instrument = dup_col(st, 1);
    r->path = dup_col(st, 2);
    r->kind = dup_col(st, 3);
    r->status = dup_col(st, 4);
    r->started_utc = dup_col(st, 5);
    r->finished_utc = dup_col(st, 6);
    r->template_path = dup_col(st, 7);
    r->overrides = dup_col(st, 8);
    r->product = dup_col(st, 9);
    r->error = dup_col(st, 10);
    copy_hex(r->run_hash, st, 11);
    copy_hex(r->config_hash, st, 12);
    r->software_version = dup_col(st, 13);
    if (!r->instrument || !r->path || !r->kind || !r->status) return kr_err(KR_ENOMEM, "out of memory");
    return KR_OK;
}

void kr_ledger_runs_free(kr_ledger_run *runs, size_t n)
{
    for (size_t i = 0; i < n; i++) kr_ledger_run_clear(&runs[i]);
    free(runs);
}

int kr_ledger_runs_since(kr_ledger *lg, const char *kind, const char *since_utc, kr_ledger_run **out, size_t *n)
{
    sqlite3_stmt *st = NULL;
    int rc;
    kr_ledger_run *v = NULL;
    size_t nv = 0, cap = 0;
    *out = NULL;
    *n = 0;
    /* the newest successful run per entry (max id), finished since the date */
    if ((rc = prepare(lg, "SELECT id, instrument, path, kind, status, started_utc, finished_utc, template_path,"
                          " overrides, product, error, run_hash, config_hash, software_version FROM runs"
                          " WHERE id IN (SELECT max(id) FROM runs WHERE kind=? AND status IN ('done','partial')"
                          " GROUP BY instrument, path) AND finished_utc >= ? ORDER BY instrument, path",
                      &st)))
        return rc;
    bind_text(st, 1, kind);
    bind_text(st, 2, since_utc ? since_utc : "");
    int s;
    while ((s = sqlite3_step(st)) == SQLITE_ROW) {
        if (nv == cap) {
            size_t nc = cap ? 2 * cap : 16;
            kr_ledger_run *nr = realloc(v, nc * sizeof *nr);
            if (!nr) {
                rc = kr_err(KR_ENOMEM, "out of memory");
                goto cleanup;
            }
            v = nr;
            cap = nc;
        }
        memset(&v[nv], 0, sizeof v[nv]);
        nv++;
        if ((rc = read_run(st, &v[nv - 1]))) goto cleanup;
    }
    if (s != SQLITE_DONE) {
        rc = db_err(lg, KR_EIO, "list of runs");
        goto cleanup;
    }
    *out = v;
    *n = nv;
    v = NULL;
    nv = 0;
cleanup:
    sqlite3_finalize(st);
    kr_ledger_runs_free(v, nv);
    return rc;
}

int kr_ledger_run_exists(kr_ledger *lg, const char *instrument, const char *path, const char *kind,
                         const char *run_hash, int *found, char **product)
{
    sqlite3_stmt *st = NULL;
    int rc;
    *found = 0;
    if (product) *product = NULL;
    if ((rc = prepare(lg, "SELECT product FROM runs WHERE instrument=? AND path=? AND kind=? AND run_hash=?"
                          " AND status IN ('done','partial') ORDER BY id DESC LIMIT 1",
                      &st)))
        return rc;
    bind_text(st, 1, instrument);
    bind_text(st, 2, path);
    bind_text(st, 3, kind);
    bind_text(st, 4, run_hash);
    int s = sqlite3_step(st);
    if (s == SQLITE_ROW) {
        *found = 1;
        if (product) *product = dup_col(st, 0);
    } else if (s != SQLITE_DONE) {
        rc = db_err(lg, KR_EIO, "lookup of a run");
    }
    sqlite3_finalize(st);
    return rc;
}
