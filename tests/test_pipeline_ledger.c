/* The nightly ledger (SQLite) and the lock: schema and WAL mode, item and run records, transactions that
 * roll back as a whole, the file-hash cache, interrupted runs, and a lock that a killed owner leaves
 * recoverable. */
#include "error.h"
#include "kr_test.h"
#include "ledger.h"
#include "lock.h"

#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void tmp_path(char *buf, size_t len, const char *name) { snprintf(buf, len, "%s/%s", kr_test_tmpdir(), name); }

static kr_ledger_item make_item(const char *path, const char *status, const char *hash)
{
    kr_ledger_item it = {0};
    it.instrument = "epma";
    it.path = (char *)path;
    it.size = 1234;
    it.mtime_ns = 1700000000123456789LL;
    snprintf(it.sha256, sizeof it.sha256, "%s", hash);
    snprintf(it.run_hash, sizeof it.run_hash, "%s", hash);
    snprintf(it.config_hash, sizeof it.config_hash, "%s", hash);
    it.status = (char *)status;
    it.attempts = 1;
    it.product = "/p/x.h5";
    it.software_version = "0.1.0";
    return it;
}

static void test_schema_and_wal(void)
{
    char db[512];
    tmp_path(db, sizeof db, "schema.db");
    kr_ledger *lg = NULL;
    CU_ASSERT_EQUAL_FATAL(kr_ledger_open(db, &lg), KR_OK);
    kr_ledger_close(lg);
    /* read back with plain SQLite: WAL journal, the three tables, schema version 1 */
    sqlite3 *s = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(db, &s), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    sqlite3_prepare_v2(s, "PRAGMA journal_mode", -1, &st, NULL);
    CU_ASSERT_EQUAL(sqlite3_step(st), SQLITE_ROW);
    CU_ASSERT_STRING_EQUAL((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    sqlite3_prepare_v2(s, "SELECT count(*) FROM sqlite_master WHERE type='table' AND name IN ('items','runs','files')",
                       -1, &st, NULL);
    CU_ASSERT_EQUAL(sqlite3_step(st), SQLITE_ROW);
    CU_ASSERT_EQUAL(sqlite3_column_int(st, 0), 3);
    sqlite3_finalize(st);
    sqlite3_prepare_v2(s, "SELECT value FROM meta WHERE key='schema_version'", -1, &st, NULL);
    CU_ASSERT_EQUAL(sqlite3_step(st), SQLITE_ROW);
    CU_ASSERT_STRING_EQUAL((const char *)sqlite3_column_text(st, 0), "1");
    sqlite3_finalize(st);
    sqlite3_close(s);
    /* opening again keeps it (idempotent schema) */
    CU_ASSERT_EQUAL(kr_ledger_open(db, &lg), KR_OK);
    kr_ledger_close(lg);
    /* not a ledger: a text file */
    char bad[512];
    tmp_path(bad, sizeof bad, "notadb.db");
    FILE *f = fopen(bad, "w");
    fputs("this is not SQLite, just text that is long enough to be a header of something else entirely\n", f);
    fclose(f);
    CU_ASSERT_NOT_EQUAL(kr_ledger_open(bad, &lg), KR_OK);
    CU_ASSERT_PTR_NULL(lg);
    kr_err_clear();
}

static void test_items_and_rollback(void)
{
    char db[512];
    tmp_path(db, sizeof db, "items.db");
    kr_ledger *lg = NULL;
    CU_ASSERT_EQUAL_FATAL(kr_ledger_open(db, &lg), KR_OK);
    const char *h1 = "1111111111111111111111111111111111111111111111111111111111111111";
    const char *h2 = "2222222222222222222222222222222222222222222222222222222222222222";
    kr_ledger_item a = make_item("/inbox/a", "done", h1);
    CU_ASSERT_EQUAL(kr_ledger_put_item(lg, &a), KR_OK);
    kr_ledger_item got = {0};
    int found = 0;
    CU_ASSERT_EQUAL(kr_ledger_get_item(lg, "epma", "/inbox/a", &got, &found), KR_OK);
    CU_ASSERT_EQUAL_FATAL(found, 1);
    CU_ASSERT_EQUAL(got.size, 1234);
    CU_ASSERT_EQUAL(got.mtime_ns, 1700000000123456789LL); /* 64-bit nanoseconds survive */
    CU_ASSERT_STRING_EQUAL(got.status, "done");
    CU_ASSERT_STRING_EQUAL(got.run_hash, h1);
    CU_ASSERT_PTR_NOT_NULL(got.updated_utc);
    /* the same path under another instrument is another entry */
    CU_ASSERT_EQUAL(kr_ledger_get_item(lg, "sims", "/inbox/a", &got, &found), KR_OK);
    CU_ASSERT_EQUAL(found, 0);
    /* a transaction that is rolled back leaves the old row */
    CU_ASSERT_EQUAL(kr_ledger_begin(lg), KR_OK);
    kr_ledger_item b = make_item("/inbox/a", "failed", h2);
    CU_ASSERT_EQUAL(kr_ledger_put_item(lg, &b), KR_OK);
    kr_ledger_rollback(lg);
    CU_ASSERT_EQUAL(kr_ledger_get_item(lg, "epma", "/inbox/a", &got, &found), KR_OK);
    CU_ASSERT_STRING_EQUAL(got.status, "done");
    CU_ASSERT_STRING_EQUAL(got.run_hash, h1);
    /* an invalid status is refused by the schema, and the run_finish transaction takes nothing */
    kr_ledger_run r = {0};
    r.instrument = "epma";
    r.path = "/inbox/a";
    r.kind = "nightly";
    CU_ASSERT_EQUAL(kr_ledger_run_start(lg, &r), KR_OK);
    CU_ASSERT(r.id > 0);
    kr_ledger_item c = make_item("/inbox/a", "weird", h2);
    CU_ASSERT_NOT_EQUAL(kr_ledger_run_finish(lg, r.id, "done", NULL, "/p/x.h5", &c, NULL, 0, 0), KR_OK);
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_ledger_get_item(lg, "epma", "/inbox/a", &got, &found), KR_OK);
    CU_ASSERT_STRING_EQUAL(got.run_hash, h1);
    long n = 0;
    CU_ASSERT_EQUAL(kr_ledger_mark_interrupted(lg, &n), KR_OK);
    CU_ASSERT_EQUAL(n, 1); /* the run whose finish was rolled back is still "running": now interrupted */
    /* a good finish stores run, item and its outside inputs together */
    kr_ledger_file ex[2] = {{"/maps/b.map", ""}, {"/maps/a.map", ""}};
    snprintf(ex[0].sha256, sizeof ex[0].sha256, "%s", h1);
    snprintf(ex[1].sha256, sizeof ex[1].sha256, "%s", h2);
    CU_ASSERT_EQUAL(kr_ledger_run_start(lg, &r), KR_OK);
    CU_ASSERT_EQUAL(kr_ledger_run_finish(lg, r.id, "done", NULL, "/p/x.h5", &b, ex, 2, 1), KR_OK);
    CU_ASSERT_EQUAL(kr_ledger_get_item(lg, "epma", "/inbox/a", &got, &found), KR_OK);
    CU_ASSERT_STRING_EQUAL(got.status, "failed");
    kr_ledger_file *xf = NULL;
    size_t nx = 0;
    CU_ASSERT_EQUAL(kr_ledger_extra_inputs(lg, "epma", "/inbox/a", &xf, &nx), KR_OK);
    CU_ASSERT_EQUAL_FATAL(nx, 2);
    CU_ASSERT_STRING_EQUAL(xf[0].file, "/maps/a.map"); /* sorted */
    CU_ASSERT_STRING_EQUAL(xf[0].sha256, h2);
    kr_ledger_files_free(xf, nx);
    CU_ASSERT_EQUAL(kr_ledger_count_items(lg, NULL, &n), KR_OK);
    CU_ASSERT_EQUAL(n, 1);
    /* finishing a run that does not exist is an error */
    CU_ASSERT_NOT_EQUAL(kr_ledger_run_finish(lg, 9999, "done", NULL, NULL, NULL, NULL, 0, 0), KR_OK);
    kr_err_clear();
    kr_ledger_item_clear(&got);
    kr_ledger_close(lg);
}

static void test_runs_since_and_cache(void)
{
    char db[512];
    tmp_path(db, sizeof db, "runs.db");
    kr_ledger *lg = NULL;
    CU_ASSERT_EQUAL_FATAL(kr_ledger_open(db, &lg), KR_OK);
    const char *paths[] = {"/in/a", "/in/a", "/in/b", "/in/c"};
    const char *status[] = {"done", "done", "failed", "partial"};
    for (int i = 0; i < 4; i++) {
        kr_ledger_run r = {0};
        r.instrument = "sims";
        r.path = (char *)paths[i];
        r.kind = "nightly";
        r.overrides = "sims.exports=[\"x\"]";
        snprintf(r.run_hash, sizeof r.run_hash, "%064d", i);
        CU_ASSERT_EQUAL(kr_ledger_run_start(lg, &r), KR_OK);
        CU_ASSERT_EQUAL(kr_ledger_run_finish(lg, r.id, status[i], NULL, "/p.h5", NULL, NULL, 0, 0), KR_OK);
    }
    kr_ledger_run *runs = NULL;
    size_t n = 0;
    CU_ASSERT_EQUAL(kr_ledger_runs_since(lg, "nightly", "2000-01-01", &runs, &n), KR_OK);
    /* latest successful per entry: a (second run), c (partial); b failed */
    CU_ASSERT_EQUAL_FATAL(n, 2);
    CU_ASSERT_STRING_EQUAL(runs[0].path, "/in/a");
    CU_ASSERT_STRING_EQUAL(runs[0].run_hash, "0000000000000000000000000000000000000000000000000000000000000001");
    CU_ASSERT_STRING_EQUAL(runs[1].path, "/in/c");
    CU_ASSERT_STRING_EQUAL(runs[0].overrides, "sims.exports=[\"x\"]");
    kr_ledger_runs_free(runs, n);
    CU_ASSERT_EQUAL(kr_ledger_runs_since(lg, "nightly", "2999-01-01", &runs, &n), KR_OK);
    CU_ASSERT_EQUAL(n, 0);
    kr_ledger_runs_free(runs, n);
    int found = 0;
    char *prod = NULL;
    CU_ASSERT_EQUAL(kr_ledger_run_exists(lg, "sims", "/in/a", "nightly",
                                         "0000000000000000000000000000000000000000000000000000000000000000", &found,
                                         &prod),
                    KR_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_STRING_EQUAL(prod, "/p.h5");
    free(prod);
    /* file-hash cache: hit only for the same size and mtime */
    const char *h = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    CU_ASSERT_EQUAL(kr_ledger_put_file_hash(lg, "/in/a/f", 3, 42, h), KR_OK);
    char got[KR_SHA256_HEX];
    CU_ASSERT_EQUAL(kr_ledger_file_hash(lg, "/in/a/f", 3, 42, got, &found), KR_OK);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_STRING_EQUAL(got, h);
    CU_ASSERT_EQUAL(kr_ledger_file_hash(lg, "/in/a/f", 3, 43, got, &found), KR_OK);
    CU_ASSERT_EQUAL(found, 0);
    kr_ledger_close(lg);
}

static void test_lock(void)
{
    char path[512];
    tmp_path(path, sizeof path, "nightly.lock");
    kr_lock *a = NULL, *b = NULL;
    long stale = -1;
    CU_ASSERT_EQUAL_FATAL(kr_lock_acquire(path, &a, &stale), KR_OK);
    CU_ASSERT_EQUAL(stale, 0);
    /* a second taker (another open file description, as another process has) is refused, naming our pid */
    CU_ASSERT_EQUAL(kr_lock_acquire(path, &b, NULL), KR_EIO);
    CU_ASSERT_PTR_NULL(b);
    char pid[32];
    snprintf(pid, sizeof pid, "pid %ld", (long)getpid());
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), pid));
    kr_err_clear();
    kr_lock_release(a);
    /* a child takes the lock and is killed with SIGKILL: the lock is free and reports the dead pid */
    pid_t child = fork();
    if (child == 0) {
        kr_lock *c = NULL;
        if (kr_lock_acquire(path, &c, NULL) != KR_OK) _exit(1);
        raise(SIGKILL);
        _exit(2);
    }
    int st = 0;
    waitpid(child, &st, 0);
    CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    CU_ASSERT_EQUAL(kr_lock_acquire(path, &a, &stale), KR_OK);
    CU_ASSERT_EQUAL(stale, (long)child);
    kr_lock_release(a);
    /* after a clean release there is nothing stale */
    CU_ASSERT_EQUAL(kr_lock_acquire(path, &a, &stale), KR_OK);
    CU_ASSERT_EQUAL(stale, 0);
    kr_lock_release(a);
}

int main(void)
{
    static const kr_test_case tests[] = {
        {"schema, WAL mode, refuses a non-ledger", test_schema_and_wal},
        {"items, rollback, run + item in one transaction", test_items_and_rollback},
        {"runs since a date, file-hash cache", test_runs_since_and_cache},
        {"lock: second taker refused, killed owner recovered", test_lock},
        {NULL, NULL},
    };
    return kr_test_run("pipeline_ledger", tests);
}
