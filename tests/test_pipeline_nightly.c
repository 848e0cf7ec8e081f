/* Nightly operation with a tiny test stage: first night reduces the good entries and quarantines the bad
 * one (status 3), the second does nothing, an edited input reruns only its entry, a config change reruns
 * the entries it affects, entries still being copied wait, a held lock stops a second nightly, a run
 * killed with SIGKILL during its product write leaves the old product and a consistent ledger, an
 * unreadable export is quarantined, --dry-run changes nothing; merge links products; the Slurm script. */
#include "calib.h"
#include "error.h"
#include "kr_test.h"
#include "ledger.h"
#include "lock.h"
#include "merge.h"
#include "nightly.h"
#include "slurm.h"
#include "stage.h"
#include "text.h"
#include "yaml_tree.h"

#include <fcntl.h>
#include <hdf5.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char input[64];
    double value;
} val_row;
static const kr_column VAL_COLS[] = {
    KR_COL_S(val_row, input, "input file name"),
    KR_COL_D(val_row, value, "", "number in the file times alpha.scale"),
};
static const kr_table_desc VAL_DESC = KR_TABLE(VAL_COLS, val_row);

/* alpha: every input is a text file holding a number. "BAD" in a file fails the run (bad input);
 * "KILL" kills the process with SIGKILL half-way through the product write while alpha.killswitch exists. */
static const kr_param ALPHA_P[] = {
    {"alpha.inputs", KR_PT_NODE, NULL, "", 1, 0, NULL, "input files"},
    {"alpha.scale", KR_PT_DOUBLE, "1", "", 0, 100, NULL, "scale"},
    {"alpha.killswitch", KR_PT_STRING, NULL, "", 1, 0, NULL, "file whose presence arms KILL"},
    {"alpha.offset_file", KR_PT_STRING, NULL, "", 1, 0, NULL, "file (relative to the config) with a number added"},
};
static const kr_param_table ALPHA_T = {"alpha", ALPHA_P, 4};

static int alpha_run(const kr_config *cfg, kr_run_ctx *ctx, kr_product *out)
{
    (void)ctx;
    const kr_node *in = kr_config_node(cfg, "alpha.inputs");
    val_row rows[16];
    size_t n = 0;
    int kill_now = 0;
    for (size_t i = 0; i < kr_node_len(in) && n < 16; i++) {
        char *p = NULL;
        kr_text t = {0};
        int rc = kr_config_input_path(cfg, kr_node_item(in, i), &p);
        if (!rc) rc = kr_text_read(p, &t);
        if (!rc) rc = kr_product_add_input(out, "alpha", p);
        if (!rc && strstr(t.data, "BAD")) rc = kr_err_at(KR_EINPUT, p, 1, "expected a number, found BAD");
        if (!rc) {
            const char *ks = kr_config_string(cfg, "alpha.killswitch");
            kill_now |= strstr(t.data, "KILL") && ks && access(ks, F_OK) == 0;
            const char *slash = strrchr(p, '/');
            snprintf(rows[n].input, sizeof rows[n].input, "%s", slash ? slash + 1 : p);
            rows[n++].value = atof(t.data) * kr_config_double(cfg, "alpha.scale");
        }
        kr_text_free(&t);
        free(p);
        if (rc) return rc;
    }
    const char *off = kr_config_string(cfg, "alpha.offset_file");
    if (off) { /* a file named by the template, outside the inbox entry */
        char *op = kr_config_resolve_path(cfg, off);
        kr_text t = {0};
        int orc = op ? kr_text_read(op, &t) : kr_err(KR_ENOMEM, "out of memory");
        if (!orc) orc = kr_product_add_input(out, "alpha offset", op);
        for (size_t i = 0; !orc && i < n; i++) rows[i].value += atof(t.data);
        kr_text_free(&t);
        free(op);
        if (orc) return orc;
    }
    int rc = kr_product_write_table(out, "alpha/values", &VAL_DESC, rows, n);
    if (kill_now) {
        H5Fflush(kr_product_file(out), H5F_SCOPE_GLOBAL); /* the temp file is on disk, half written */
        raise(SIGKILL);
    }
    return rc;
}
static const kr_stage ALPHA = {"alpha", &ALPHA_T, alpha_run};
static const kr_stage *const STAGES[] = {&ALPHA};

/* ---- fixtures ------------------------------------------------------------------------------------ */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs(text, f);
    fclose(f);
}

static void pathf(char *buf, size_t len, const char *root, const char *rel)
{
    snprintf(buf, len, "%s/%s", root, rel);
}

/* A fresh lab under tmpdir/<name>: inbox/alpha with sessions s1 (1.5, 2), s2 (4) and a bad file. */
static void make_lab(char *root, size_t len, const char *name, double scan_s)
{
    char p[1024];
    snprintf(root, len, "%s/%s", kr_test_tmpdir(), name);
    const char *dirs[] = {"", "/inbox", "/inbox/alpha", "/inbox/alpha/s1", "/inbox/alpha/s2", "/tmpl"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(p, sizeof p, "%s%s", root, dirs[i]);
        mkdir(p, 0755);
    }
    pathf(p, sizeof p, root, "inbox/alpha/s1/a.txt");
    write_file(p, "1.5\n");
    pathf(p, sizeof p, root, "inbox/alpha/s1/b.txt");
    write_file(p, "2\n");
    pathf(p, sizeof p, root, "inbox/alpha/s1/notes.log"); /* not an input (glob *.txt), still hashed */
    write_file(p, "operator notes\n");
    pathf(p, sizeof p, root, "inbox/alpha/s2/c.txt");
    write_file(p, "4\n");
    pathf(p, sizeof p, root, "inbox/alpha/bad.txt"); /* a single-file entry */
    write_file(p, "BAD\n");
    pathf(p, sizeof p, root, "inbox/alpha/README"); /* matches no input glob: not an entry */
    write_file(p, "drop exports here\n");
    pathf(p, sizeof p, root, "tmpl/alpha.yaml");
    write_file(p, "alpha:\n  scale: 2\n");
    char y[2048];
    snprintf(y, sizeof y,
             "nightly:\n  products: products\n  scan_interval_s: %g\n  max_attempts: 2\n"
             "instruments:\n  alpha:\n    inbox: inbox/alpha\n    template: tmpl/alpha.yaml\n"
             "    inputs_key: alpha.inputs\n    inputs: ['*.txt']\n    set: ['alpha.killswitch=%s/armed']\n",
             scan_s, root);
    pathf(p, sizeof p, root, "nightly.yaml");
    write_file(p, y);
}

static int night(const char *root, int dry, kr_nightly_summary *sum, char *report, size_t rlen)
{
    char p[1024];
    pathf(p, sizeof p, root, "nightly.yaml");
    FILE *rep = fmemopen(report, rlen, "w");
    kr_nightly_opts o = {dry, rep, NULL, 0};
    int rc = kr_nightly_run(p, &o, STAGES, 1, sum);
    fclose(rep);
    report[rlen - 1] = '\0';
    return rc;
}

static void item(const char *root, const char *rel, kr_ledger_item *it, int *found)
{
    char db[1024], p[1024];
    pathf(db, sizeof db, root, "products/kreep.db");
    pathf(p, sizeof p, root, rel);
    kr_ledger *lg = NULL;
    CU_ASSERT_EQUAL_FATAL(kr_ledger_open(db, &lg), KR_OK);
    CU_ASSERT_EQUAL(kr_ledger_get_item(lg, "alpha", p, it, found), KR_OK);
    kr_ledger_close(lg);
}

static double read_value(const char *h5, size_t row)
{
    hid_t f = H5Fopen(h5, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (f < 0) return -1;
    hid_t d = H5Dopen2(f, "alpha/values", H5P_DEFAULT);
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(double));
    H5Tinsert(t, "value", 0, H5T_NATIVE_DOUBLE);
    double v[16] = {0};
    H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
    H5Tclose(t);
    H5Dclose(d);
    H5Fclose(f);
    return v[row];
}

/* ---- tests --------------------------------------------------------------------------------------- */

static void test_first_second_edit(void)
{
    char root[512], rep[8192], p[1024];
    kr_nightly_summary s;
    make_lab(root, sizeof root, "lab1", 0);
    /* night 1: s1 and s2 reduced, bad.txt quarantined with its error, status 3 */
    CU_ASSERT_EQUAL(night(root, 0, &s, rep, sizeof rep), KR_EPARTIAL);
    kr_err_clear();
    CU_ASSERT_EQUAL(s.done, 2);
    CU_ASSERT_EQUAL(s.quarantined, 1);
    CU_ASSERT_EQUAL(s.skipped, 0); /* README is not an entry */
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "QUARANTINED  alpha/bad.txt"));
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "expected a number, found BAD"));
    pathf(p, sizeof p, root, "products/alpha/s1.h5");
    CU_ASSERT_DOUBLE_EQUAL(read_value(p, 0), 3.0, 1e-12); /* 1.5 x scale 2 */
    CU_ASSERT_DOUBLE_EQUAL(read_value(p, 1), 4.0, 1e-12);
    pathf(p, sizeof p, root, "inbox/alpha/bad.txt");
    CU_ASSERT_EQUAL(access(p, F_OK), 0); /* marked, not moved or deleted */
    kr_ledger_item it = {0};
    int found = 0;
    item(root, "inbox/alpha/bad.txt", &it, &found);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_STRING_EQUAL(it.status, "quarantined");
    CU_ASSERT_PTR_NOT_NULL(it.error && strstr(it.error, "BAD"));
    item(root, "inbox/alpha/s1", &it, &found);
    CU_ASSERT_STRING_EQUAL(it.status, "done");
    CU_ASSERT_EQUAL(it.size, 4 + 2 + 15);
    char run1[KR_SHA256_HEX];
    memcpy(run1, it.run_hash, sizeof run1);
    /* night 2: nothing to do, and it says so */
    CU_ASSERT_EQUAL(night(root, 0, &s, rep, sizeof rep), KR_OK);
    CU_ASSERT_EQUAL(s.ran, 0);
    CU_ASSERT_EQUAL(s.skipped, 3);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "nothing to do: 3 entries unchanged"));
    /* touch without a change of content: an explicit request to rerun that entry only (rerun_on_touch,
     * default true); the night after, nothing again */
    pathf(p, sizeof p, root, "inbox/alpha/s2/c.txt");
    struct timespec ts[2] = {{0, UTIME_NOW}, {1800000000, 0}};
    utimensat(AT_FDCWD, p, ts, 0);
    CU_ASSERT_EQUAL(night(root, 0, &s, rep, sizeof rep), KR_OK);
    CU_ASSERT_EQUAL(s.ran, 1);
    CU_ASSERT_EQUAL(s.done, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "reduced      alpha/s2 (touched: content unchanged, rerun requested)"));
    item(root, "inbox/alpha/s1", &it, &found);
    CU_ASSERT_STRING_EQUAL(it.run_hash, run1);
    item(root, "inbox/alpha/s2", &it, &found);
    CU_ASSERT_EQUAL(it.mtime_ns, 1800000000LL * 1000000000LL);
    CU_ASSERT_EQUAL(night(root, 0, &s, rep, sizeof rep), KR_OK);
    CU_ASSERT_EQUAL(s.ran, 0);
    /* an older mtime (restored from a backup) is no request */
    struct timespec old_ts[2] = {{0, UTIME_NOW}, {1700000000, 0}};
    utimensat(AT_FDCWD, p, old_ts, 0);
    CU_ASSERT_EQUAL(night(root, 0, &s, rep, sizeof rep), KR_OK);
    CU_ASSERT_EQUAL(s.ran, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "content identical"));
    /* rerun_on_touch: false: the content hash alone decides */
    pathf(p, sizeof p, root, "nightly.yaml");
    kr_text y = {0};
    CU_ASSERT_EQUAL_FATAL(kr_text_read(p, &y), KR_OK);
    char y2[4096];
    snprintf(y2, sizeof y2, "nightly:\n  rerun_on_touch: false\n%s", y.data + strlen("nightly:\n"));
    kr_text_free(&y);
    write_file(p, y2);
    pathf(p, sizeof p, root, "inbox/alpha/s2/c.txt");
    struct timespec new_ts[2] = {{0, UTIME_NOW}, {1900000000, 0}};
    utimensat(AT_FDCWD, p, new_ts, 0);
    CU_ASSERT_EQUAL(night(root, 0, &s, rep, sizeof rep), KR_OK);
    CU_ASSERT_EQUAL(s.ran, 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "content identical"));
    /* edit one input: only its entry runs, because its inputs changed */
    pathf(p, sizeof p, root, "inbox/alpha/s2/c.txt");
    write_file(p, "5\n");
    CU_ASSERT_EQUAL(night(root, 0, &s, rep, sizeof rep), KR_OK);
    CU_ASSERT_EQUAL(s.ran, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "reduced      alpha/s2 (inputs changed)"));
    pathf(p, sizeof p, root, "products/alpha/s2.h5");
    CU_ASSERT_DOUBLE_EQUAL(read_value(p, 0), 10.0, 1e-12);
    item(root, "inbox/alpha/s1", &it, &found);
    CU_ASSERT_STRING_EQUAL(it.run_hash, run1); /* s1 untouched */
    /* a config change reruns every entry it affects; the quarantined one is retried and stays bad */
    pathf(p, sizeof p, root, "tmpl/alpha.yaml");
    write_file(p, "alpha:\n  scale: 3\n");
    CU_ASSERT_EQUAL(night(root, 0, &s, rep, sizeof rep), KR_EPARTIAL);
    kr_err_clear();
    CU_ASSERT_EQUAL(s.done, 2);
    CU_ASSERT_EQUAL(s.quarantined, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "alpha/s1 (config changed)"));
    pathf(p, sizeof p, root, "products/alpha/s1.h5");
    CU_ASSERT_DOUBLE_EQUAL(read_value(p, 0), 4.5, 1e-12);
    item(root, "inbox/alpha/s1", &it, &found);
    CU_ASSERT_STRING_NOT_EQUAL(it.run_hash, run1);
    /* fixing the bad export reruns it */
    pathf(p, sizeof p, root, "inbox/alpha/bad.txt");
    write_file(p, "7\n");
    CU_ASSERT_EQUAL(night(root, 0, &s, rep, sizeof rep), KR_OK);
    CU_ASSERT_EQUAL(s.done, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "alpha/bad.txt (inputs changed)"));
    kr_ledger_item_clear(&it);
}

static void test_dry_run(void)
{
    char root[512], rep[8192], p[1024];
    kr_nightly_summary s;
    make_lab(root, sizeof root, "lab2", 0);
    CU_ASSERT_EQUAL(night(root, 1, &s, rep, sizeof rep), KR_OK);
    CU_ASSERT_EQUAL(s.ran, 3); /* bad.txt too: a dry run cannot know it is bad */
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "would run    alpha/s1: new"));
    pathf(p, sizeof p, root, "products");
    CU_ASSERT_NOT_EQUAL(access(p, F_OK), 0); /* nothing created, not even the ledger */
}

static void test_not_ready_and_marker(void)
{
    char root[512], rep[8192], p[1024];
    kr_nightly_summary s;
    make_lab(root, sizeof root, "lab3", 0.4);
    pathf(p, sizeof p, root, "inbox/alpha/s2/c.txt");
    /* a child keeps writing s2 while the nightly waits between its two scans */
    pid_t child = fork();
    if (child == 0) {
        for (int i = 0; i < 8; i++) {
            struct timespec d = {0, 100000000};
            nanosleep(&d, NULL);
            FILE *f = fopen(p, "a");
            if (f) {
                fputs("\n", f);
                fclose(f);
            }
        }
        _exit(0);
    }
    int rc = night(root, 0, &s, rep, sizeof rep);
    waitpid(child, NULL, 0);
    CU_ASSERT_EQUAL(rc, KR_EPARTIAL); /* bad.txt */
    kr_err_clear();
    CU_ASSERT_EQUAL(s.not_ready, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "not ready    alpha/s2: still changing"));
    CU_ASSERT_EQUAL(s.done, 1);
    /* a marker makes an entry ready at once */
    pathf(p, sizeof p, root, "inbox/alpha/s2/.ready");
    write_file(p, "");
    CU_ASSERT_EQUAL(night(root, 0, &s, rep, sizeof rep), KR_OK);
    CU_ASSERT_EQUAL(s.done, 1);
    CU_ASSERT_EQUAL(s.not_ready, 0);
}

static void test_lock_held(void)
{
    char root[512], rep[8192], p[1024];
    kr_nightly_summary s;
    make_lab(root, sizeof root, "lab4", 0);
    pathf(p, sizeof p, root, "products");
    mkdir(p, 0755);
    pathf(p, sizeof p, root, "products/kreep-nightly.lock");
    kr_lock *lk = NULL;
    CU_ASSERT_EQUAL_FATAL(kr_lock_acquire(p, &lk, NULL), KR_OK);
    CU_ASSERT_EQUAL(night(root, 0, &s, rep, sizeof rep), KR_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "another kreep nightly is running"));
    kr_err_clear();
    kr_lock_release(lk);
    /* a nightly killed while holding the lock: the next one recovers it and says so */
    pid_t child = fork();
    if (child == 0) {
        kr_lock *c = NULL;
        if (kr_lock_acquire(p, &c, NULL)) _exit(1);
        raise(SIGKILL);
    }
    waitpid(child, NULL, 0);
    CU_ASSERT_EQUAL(night(root, 0, &s, rep, sizeof rep), KR_EPARTIAL);
    kr_err_clear();
    char want[64];
    snprintf(want, sizeof want, "stale lock left by pid %ld", (long)child);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, want));
    CU_ASSERT_EQUAL(s.done, 2);
}

static void test_kill_during_write(void)
{
    char root[512], rep[8192], p[1024], prod[1024], db[1024];
    kr_nightly_summary s;
    make_lab(root, sizeof root, "lab5", 0);
    CU_ASSERT_EQUAL(night(root, 0, &s, rep, sizeof rep), KR_EPARTIAL);
    kr_err_clear();
    pathf(prod, sizeof prod, root, "products/alpha/s2.h5");
    char before[KR_SHA256_HEX], after[KR_SHA256_HEX];
    CU_ASSERT_EQUAL_FATAL(kr_sha256_file(prod, before, NULL), KR_OK);
    kr_ledger_item it = {0};
    int found = 0;
    item(root, "inbox/alpha/s2", &it, &found);
    char run_before[KR_SHA256_HEX];
    memcpy(run_before, it.run_hash, sizeof run_before);
    /* arm the kill and change s2: the rerun dies by SIGKILL half-way through its product */
    pathf(p, sizeof p, root, "armed");
    write_file(p, "");
    pathf(p, sizeof p, root, "inbox/alpha/s2/c.txt");
    write_file(p, "6 KILL\n");
    pid_t child = fork();
    if (child == 0) {
        kr_nightly_summary cs;
        char crep[4096];
        night(root, 0, &cs, crep, sizeof crep);
        _exit(0);
    }
    int st = 0;
    waitpid(child, &st, 0);
    CU_ASSERT(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
    /* the old product is intact, a temp file is left, the ledger still describes the old product */
    CU_ASSERT_EQUAL(kr_sha256_file(prod, after, NULL), KR_OK);
    CU_ASSERT_STRING_EQUAL(after, before);
    char tmp[1100];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", prod, (long)child);
    CU_ASSERT_EQUAL(access(tmp, F_OK), 0);
    item(root, "inbox/alpha/s2", &it, &found);
    CU_ASSERT_STRING_EQUAL(it.status, "done");
    CU_ASSERT_STRING_EQUAL(it.run_hash, run_before);
    pathf(db, sizeof db, root, "products/kreep.db");
    sqlite3 *sq = NULL;
    sqlite3_stmt *q = NULL;
    CU_ASSERT_EQUAL_FATAL(sqlite3_open(db, &sq), SQLITE_OK);
    sqlite3_prepare_v2(sq, "PRAGMA integrity_check", -1, &q, NULL);
    CU_ASSERT_EQUAL(sqlite3_step(q), SQLITE_ROW);
    CU_ASSERT_STRING_EQUAL((const char *)sqlite3_column_text(q, 0), "ok");
    sqlite3_finalize(q);
    sqlite3_prepare_v2(sq, "SELECT count(*) FROM runs WHERE status='running'", -1, &q, NULL);
    CU_ASSERT_EQUAL(sqlite3_step(q), SQLITE_ROW);
    CU_ASSERT_EQUAL(sqlite3_column_int(q, 0), 1);
    sqlite3_finalize(q);
    sqlite3_close(sq);
    /* the next night: the interrupted run is noted, the stale lock and temp file are cleaned, s2 redone */
    pathf(p, sizeof p, root, "armed");
    unlink(p);
    CU_ASSERT_EQUAL(night(root, 0, &s, rep, sizeof rep), KR_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "1 run(s) of an earlier nightly were interrupted"));
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "stale lock"));
    CU_ASSERT_EQUAL(s.done, 1);
    CU_ASSERT_NOT_EQUAL(access(tmp, F_OK), 0);
    CU_ASSERT_DOUBLE_EQUAL(read_value(prod, 0), 12.0, 1e-12);
    kr_ledger_item_clear(&it);
}

static void test_unreadable_and_quarantine_dir(void)
{
    char root[512], rep[8192], p[1024], y[2048];
    kr_nightly_summary s;
    make_lab(root, sizeof root, "lab6", 0);
    /* a file nobody can read (chmod 000 unless we are root, who reads anything: then a dangling link) */
    pathf(p, sizeof p, root, "inbox/alpha/s1/b.txt");
    if (geteuid() != 0) {
        chmod(p, 0);
    } else {
        unlink(p);
        CU_ASSERT_EQUAL(symlink("/nonexistent/kreep-test/b.txt", p), 0);
    }
    pathf(p, sizeof p, root, "nightly.yaml");
    snprintf(y, sizeof y,
             "nightly:\n  products: products\n  scan_interval_s: 0\n  quarantine_dir: quarantine\n"
             "instruments:\n  alpha:\n    inbox: inbox/alpha\n    template: tmpl/alpha.yaml\n"
             "    inputs_key: alpha.inputs\n    inputs: ['*.txt']\n");
    write_file(p, y);
    CU_ASSERT_EQUAL(night(root, 0, &s, rep, sizeof rep), KR_EPARTIAL);
    kr_err_clear();
    CU_ASSERT_EQUAL(s.quarantined, 2);
    CU_ASSERT_EQUAL(s.done, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "QUARANTINED  alpha/s1"));
    /* moved to the quarantine folder with its data, recorded in the ledger */
    pathf(p, sizeof p, root, "quarantine/alpha/bad.txt");
    CU_ASSERT_EQUAL(access(p, F_OK), 0);
    pathf(p, sizeof p, root, "quarantine/alpha/s1/a.txt");
    CU_ASSERT_EQUAL(access(p, F_OK), 0);
    pathf(p, sizeof p, root, "inbox/alpha/s1");
    CU_ASSERT_NOT_EQUAL(access(p, F_OK), 0);
    kr_ledger_item it = {0};
    int found = 0;
    item(root, "inbox/alpha/s1", &it, &found);
    CU_ASSERT_EQUAL(found, 1);
    CU_ASSERT_STRING_EQUAL(it.status, "quarantined");
    CU_ASSERT_PTR_NOT_NULL(it.quarantine_path && strstr(it.quarantine_path, "quarantine/alpha/s1"));
    kr_ledger_item_clear(&it);
    pathf(p, sizeof p, root, "quarantine/alpha/s1/b.txt");
    if (geteuid() != 0) chmod(p, 0644);
}

static void test_bad_nightly_yaml(void)
{
    char p[1024];
    kr_nightly *nc = NULL;
    snprintf(p, sizeof p, "%s/bad-nightly.yaml", kr_test_tmpdir());
    write_file(p, "nightly:\n  products: out\n  scan_intervall_s: 3\ninstruments:\n  epma: {inbox: a, template: b, "
                  "inputs_key: epma.inputs}\n");
    CU_ASSERT_EQUAL(kr_nightly_load(p, &nc), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), ":3:3: nightly: unknown key 'scan_intervall_s'"));
    kr_err_clear();
    write_file(p, "nightly:\n  products: out\ninstruments:\n  epma: {inbox: a, template: b}\n");
    CU_ASSERT_EQUAL(kr_nightly_load(p, &nc), KR_EINPUT);
    CU_ASSERT_PTR_NOT_NULL(strstr(kr_err_msg(0), "'inputs_key' is required"));
    kr_err_clear();
    CU_ASSERT_PTR_NULL(nc);
}

static void test_merge(void)
{
    char root[512], rep[8192], a[1024], b[1024], idx[1024], junk[1024];
    kr_nightly_summary s;
    make_lab(root, sizeof root, "lab7", 0);
    night(root, 0, &s, rep, sizeof rep);
    kr_err_clear();
    pathf(a, sizeof a, root, "products/alpha/s1.h5");
    pathf(b, sizeof b, root, "products/alpha/s2.h5");
    pathf(idx, sizeof idx, root, "products/night.h5");
    const char *prods[] = {a, b};
    CU_ASSERT_EQUAL_FATAL(kr_merge_products(idx, prods, 2), KR_OK);
    /* through the external links: the values of s2 (4 x 2) and the index table */
    hid_t f = H5Fopen(idx, H5F_ACC_RDONLY, H5P_DEFAULT);
    CU_ASSERT_FATAL(f >= 0);
    H5L_info_t li;
    CU_ASSERT(H5Lget_info(f, "/runs/s2/alpha", &li, H5P_DEFAULT) >= 0 && li.type == H5L_TYPE_EXTERNAL);
    hid_t d = H5Dopen2(f, "/runs/s2/alpha/values", H5P_DEFAULT);
    CU_ASSERT_FATAL(d >= 0);
    hid_t t = H5Tcreate(H5T_COMPOUND, sizeof(double));
    H5Tinsert(t, "value", 0, H5T_NATIVE_DOUBLE);
    double v = 0;
    H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, &v);
    CU_ASSERT_DOUBLE_EQUAL(v, 8.0, 1e-12);
    H5Tclose(t);
    H5Dclose(d);
    d = H5Dopen2(f, "/index", H5P_DEFAULT);
    hid_t sp = H5Dget_space(d);
    CU_ASSERT_EQUAL(H5Sget_simple_extent_npoints(sp), 2);
    kr_merge_row rows[2];
    memset(rows, 0, sizeof rows);
    t = H5Tcreate(H5T_COMPOUND, sizeof rows[0]);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, sizeof rows[0].product);
    H5Tset_cset(st, H5T_CSET_UTF8);
    H5Tinsert(t, "product", offsetof(kr_merge_row, product), st);
    H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, rows);
    CU_ASSERT_STRING_EQUAL(rows[0].product, "alpha/s1.h5");
    if (strcmp(rows[0].product, "alpha/s1.h5")) printf("stored: %s\n", rows[0].product); /* relative to the index's folder */
    H5Tclose(st);
    H5Tclose(t);
    H5Sclose(sp);
    H5Dclose(d);
    H5Fclose(f);
    /* a file that is not a product: nothing written */
    pathf(junk, sizeof junk, root, "junk.h5");
    write_file(junk, "not hdf5");
    pathf(idx, sizeof idx, root, "products/night2.h5");
    const char *bad[] = {a, junk};
    CU_ASSERT_EQUAL(kr_merge_products(idx, bad, 2), KR_EINPUT);
    kr_err_clear();
    CU_ASSERT_NOT_EQUAL(access(idx, F_OK), 0);
}

static void test_slurm_script(void)
{
    char root[512], p[1024], script[1024];
    make_lab(root, sizeof root, "lab8", 0);
    kr_nightly *nc = NULL;
    kr_ledger *lg = NULL;
    kr_nightly_plan plan = {0};
    pathf(p, sizeof p, root, "nightly.yaml");
    CU_ASSERT_EQUAL_FATAL(kr_nightly_load(p, &nc), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_ledger_open(":memory:", &lg), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_nightly_make_plan(nc, lg, STAGES, 1, 1, NULL, &plan), KR_OK);
    pathf(script, sizeof script, root, "jobs.sh");
    FILE *f = fopen(script, "w");
    kr_slurm_opts o = {"/opt/kreep's bin/kreep", p, "/x/night.h5", "/x/kreep.db", "/x/logs", NULL, "01:00:00", 2000};
    size_t n = 0;
    CU_ASSERT_EQUAL(kr_slurm_write(f, &plan, &o, &n), KR_OK);
    fclose(f);
    CU_ASSERT_EQUAL(n, 3); /* s1, s2, bad.txt (bad only shows when it runs) */
    kr_text t = {0};
    CU_ASSERT_EQUAL_FATAL(kr_text_read(script, &t), KR_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "#SBATCH --array=0-2\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "#SBATCH --time=01:00:00\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "KREEP=${KREEP:-'/opt/kreep'\\''s bin/kreep'}"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "--dependency=afterany:"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "nightly \"$NIGHTLY\" --adopt"));
    kr_text_free(&t);
    /* the script is valid bash */
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "bash -n '%s'", script);
    CU_ASSERT_EQUAL(system(cmd), 0);
    kr_nightly_plan_free(&plan);
    kr_ledger_close(lg);
    kr_nightly_free(nc);
}

static void test_parallel_jobs(void)
{
    char root[512], rep[8192], p[1024];
    kr_nightly_summary s;
    kr_nightly *nc = NULL;
    make_lab(root, sizeof root, "lab9", 0);
    pathf(p, sizeof p, root, "nightly.yaml");
    CU_ASSERT_EQUAL_FATAL(kr_nightly_load(p, &nc), KR_OK);
    kr_nightly_set_jobs(nc, 2);
    FILE *f = fmemopen(rep, sizeof rep, "w");
    kr_nightly_opts o = {0, f, NULL, 0};
    /* two runs at once: same outcome as one at a time */
    CU_ASSERT_EQUAL(kr_nightly_run_loaded(nc, &o, STAGES, 1, &s), KR_EPARTIAL);
    fclose(f);
    kr_err_clear();
    CU_ASSERT_EQUAL(s.done, 2);
    CU_ASSERT_EQUAL(s.quarantined, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "expected a number, found BAD"));
    pathf(p, sizeof p, root, "products/alpha/s2.h5");
    CU_ASSERT_DOUBLE_EQUAL(read_value(p, 0), 8.0, 1e-12);
    /* a run process killed by SIGKILL: failed (not the data's fault), retried the next night */
    pathf(p, sizeof p, root, "armed");
    write_file(p, "");
    pathf(p, sizeof p, root, "inbox/alpha/s2/c.txt");
    write_file(p, "6 KILL\n");
    f = fmemopen(rep, sizeof rep, "w");
    o.report = f;
    CU_ASSERT_EQUAL(kr_nightly_run_loaded(nc, &o, STAGES, 1, &s), KR_EPARTIAL);
    fclose(f);
    kr_err_clear();
    CU_ASSERT_EQUAL(s.failed, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "killed by signal 9"));
    kr_ledger_item it = {0};
    int found = 0;
    item(root, "inbox/alpha/s2", &it, &found);
    CU_ASSERT_STRING_EQUAL(it.status, "failed");
    CU_ASSERT_PTR_NOT_NULL(it.product && strstr(it.product, "products/alpha/s2.h5")); /* the old product */
    pathf(p, sizeof p, root, "armed");
    unlink(p);
    f = fmemopen(rep, sizeof rep, "w");
    o.report = f;
    CU_ASSERT_EQUAL(kr_nightly_run_loaded(nc, &o, STAGES, 1, &s), KR_OK);
    fclose(f);
    CU_ASSERT_EQUAL(s.done, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "retry after a failure"));
    pathf(p, sizeof p, root, "products/alpha/s2.h5");
    CU_ASSERT_DOUBLE_EQUAL(read_value(p, 0), 12.0, 1e-12);
    kr_ledger_item_clear(&it);
    kr_nightly_free(nc);
}

/* What a Slurm array task does for entry s1 of a lab: kreep run TEMPLATE -o products/alpha/s1.h5 --set
 * inputs...; the template's path into tmpl. */
static int slurm_task_s1(const char *root, const char *real, char *tmpl, size_t tlen)
{
    char p[1024], prod[1024], ov[2400], ks[1100];
    pathf(p, sizeof p, root, "products");
    mkdir(p, 0755);
    pathf(p, sizeof p, root, "products/alpha");
    mkdir(p, 0755);
    pathf(prod, sizeof prod, root, "products/alpha/s1.h5");
    pathf(tmpl, tlen, root, "tmpl/alpha.yaml");
    snprintf(ov, sizeof ov, "alpha.inputs=[\"%s/inbox/alpha/s1/a.txt\", \"%s/inbox/alpha/s1/b.txt\"]", real, real);
    snprintf(ks, sizeof ks, "alpha.killswitch=%s/armed", root);
    char *sets[] = {ov, "run.name=s1", ks};
    return kr_run_pipeline(tmpl, prod, sets, 3, STAGES, 1, NULL);
}

static void test_adopt(void)
{
    char root[512], rep[8192], p[1024], tmpl[1024], ov[2400];
    kr_nightly_summary s;
    kr_nightly *nc = NULL;
    make_lab(root, sizeof root, "lab10", 0);
    char real[1024];
    CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(root, real));
    CU_ASSERT_EQUAL_FATAL(slurm_task_s1(root, real, tmpl, sizeof tmpl), KR_OK);
    /* a product for s2 made with another config is not adopted */
    pathf(p, sizeof p, root, "products/alpha/s2.h5");
    snprintf(ov, sizeof ov, "alpha.inputs=[\"%s/inbox/alpha/s2/c.txt\"]", real);
    char *sets2[] = {ov, "alpha.scale=5"};
    CU_ASSERT_EQUAL_FATAL(kr_run_pipeline(tmpl, p, sets2, 2, STAGES, 1, NULL), KR_OK);
    pathf(p, sizeof p, root, "nightly.yaml");
    CU_ASSERT_EQUAL_FATAL(kr_nightly_load(p, &nc), KR_OK);
    FILE *f = fmemopen(rep, sizeof rep, "w");
    kr_nightly_opts o = {0, f, NULL, 1};
    CU_ASSERT_EQUAL(kr_nightly_run_loaded(nc, &o, STAGES, 1, &s), KR_OK);
    fclose(f);
    CU_ASSERT_EQUAL(s.done, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "adopted      alpha/s1 (new)"));
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "alpha/s2: not adopted: the product was made with another config"));
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "alpha/bad.txt: not adopted: no product"));
    /* a normal night then runs only what was not adopted */
    f = fmemopen(rep, sizeof rep, "w");
    o.report = f;
    o.adopt = 0;
    CU_ASSERT_EQUAL(kr_nightly_run_loaded(nc, &o, STAGES, 1, &s), KR_EPARTIAL);
    fclose(f);
    kr_err_clear();
    CU_ASSERT_EQUAL(s.done, 1);
    CU_ASSERT_EQUAL(s.quarantined, 1);
    CU_ASSERT_EQUAL(s.skipped, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "unchanged    alpha/s1"));
    kr_nightly_free(nc);
}

/* --adopt notices a calibration file that changed between the Slurm task and the adoption */
static void test_adopt_calib_change(void)
{
    char root[512], rep[8192], p[1400], tmpl[1024], real[1024], cdir[1024];
    kr_nightly_summary s;
    kr_nightly *nc = NULL;
    make_lab(root, sizeof root, "lab13", 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(root, real));
    CU_ASSERT_EQUAL_FATAL(slurm_task_s1(root, real, tmpl, sizeof tmpl), KR_OK);
    /* the calibration files as a folder, the first one edited */
    pathf(cdir, sizeof cdir, root, "calib");
    mkdir(cdir, 0755);
    const char *first = kr_calib_name(0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(first);
    for (size_t i = 0; kr_calib_name(i); i++) {
        kr_text t = {0};
        CU_ASSERT_EQUAL_FATAL(kr_calib_text(kr_calib_name(i), &t), KR_OK);
        snprintf(p, sizeof p, "%s/%s", cdir, kr_calib_name(i));
        FILE *f = fopen(p, "wb");
        CU_ASSERT_PTR_NOT_NULL_FATAL(f);
        fwrite(t.data, 1, t.len, f);
        if (i == 0) fputs("# edited\n", f);
        fclose(f);
        kr_text_free(&t);
    }
    setenv("KREEP_CALIB_DIR", cdir, 1);
    pathf(p, sizeof p, root, "nightly.yaml");
    CU_ASSERT_EQUAL_FATAL(kr_nightly_load(p, &nc), KR_OK);
    FILE *f = fmemopen(rep, sizeof rep, "w");
    kr_nightly_opts o = {0, f, NULL, 1};
    CU_ASSERT_EQUAL(kr_nightly_run_loaded(nc, &o, STAGES, 1, &s), KR_OK);
    fclose(f);
    CU_ASSERT_EQUAL(s.done, 0);
    char want[300];
    snprintf(want, sizeof want, "alpha/s1: not adopted: a calibration file changed since the product was made (%s)",
             first);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, want));
    /* the same calibration as the task's: adopted */
    unsetenv("KREEP_CALIB_DIR");
    f = fmemopen(rep, sizeof rep, "w");
    o.report = f;
    CU_ASSERT_EQUAL(kr_nightly_run_loaded(nc, &o, STAGES, 1, &s), KR_OK);
    fclose(f);
    CU_ASSERT_EQUAL(s.done, 1);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "adopted      alpha/s1 (new)"));
    kr_nightly_free(nc);
}

static void test_yaml_quote(void)
{
    /* quoted file names read back unchanged by libyaml (the --set lists that carry the inputs) */
    const char *names[] = {"plain/path.asc", "with space/and, comma [1].asc", "quote\"back\\slash", "tab\there\nnewline",
                           "colon: hash # amp & star *", "unicode-\xc3\xa9.asc"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *q = NULL;
        CU_ASSERT_EQUAL_FATAL(kr_nightly_yaml_quote(names[i], &q), KR_OK);
        kr_node *n = NULL;
        CU_ASSERT_EQUAL(kr_yaml_parse("quote", q, strlen(q), &n), KR_OK);
        CU_ASSERT_PTR_NOT_NULL_FATAL(n);
        CU_ASSERT_EQUAL(n->kind, KR_NODE_SCALAR);
        CU_ASSERT_STRING_EQUAL(n->scalar, names[i]);
        kr_node_free(n);
        free(q);
    }
}

static void test_outside_inputs(void)
{
    char root[512], rep[8192], p[1024];
    kr_nightly_summary s;
    make_lab(root, sizeof root, "lab11", 0);
    pathf(p, sizeof p, root, "tmpl/alpha.yaml");
    write_file(p, "alpha:\n  scale: 2\n  offset_file: offset.txt\n");
    pathf(p, sizeof p, root, "tmpl/offset.txt");
    write_file(p, "100\n");
    pathf(p, sizeof p, root, "inbox/alpha/bad.txt");
    unlink(p);
    CU_ASSERT_EQUAL(night(root, 0, &s, rep, sizeof rep), KR_OK);
    CU_ASSERT_EQUAL(s.done, 2);
    pathf(p, sizeof p, root, "products/alpha/s2.h5");
    CU_ASSERT_DOUBLE_EQUAL(read_value(p, 0), 108.0, 1e-12);
    /* the template's file is touched, content the same: nothing to do */
    pathf(p, sizeof p, root, "tmpl/offset.txt");
    struct timespec ts[2] = {{0, UTIME_NOW}, {1900000000, 0}};
    utimensat(AT_FDCWD, p, ts, 0);
    CU_ASSERT_EQUAL(night(root, 0, &s, rep, sizeof rep), KR_OK);
    CU_ASSERT_EQUAL(s.ran, 0);
    /* its content changes: every entry that read it reruns, saying why */
    write_file(p, "200\n");
    CU_ASSERT_EQUAL(night(root, 0, &s, rep, sizeof rep), KR_OK);
    CU_ASSERT_EQUAL(s.done, 2);
    CU_ASSERT_PTR_NOT_NULL(strstr(rep, "an input outside the entry changed"));
    pathf(p, sizeof p, root, "products/alpha/s2.h5");
    CU_ASSERT_DOUBLE_EQUAL(read_value(p, 0), 208.0, 1e-12);
    CU_ASSERT_EQUAL(night(root, 0, &s, rep, sizeof rep), KR_OK);
    CU_ASSERT_EQUAL(s.ran, 0);
}

/* entry: map - every entry is a map folder; the template's single item of a node list is the prototype,
 * nightly fills in name, cnd and each element's file from the folder. A stage "mapx" with such a list. */
static const kr_param MAPX_P[] = {
    {"mapx.inputs", KR_PT_NODE, NULL, "", 1, 0, NULL, "map items"},
};
static const kr_param_table MAPX_T = {"mapx", MAPX_P, 1};
static int mapx_run(const kr_config *cfg, kr_run_ctx *ctx, kr_product *out)
{
    (void)cfg;
    (void)ctx;
    (void)out;
    return KR_OK;
}
static const kr_stage MAPX = {"mapx", &MAPX_T, mapx_run};

static const kr_nightly_job *find_job(const kr_nightly_plan *plan, const char *name)
{
    for (size_t i = 0; i < plan->n; i++)
        if (!strcmp(plan->jobs[i].name, name)) return &plan->jobs[i];
    return NULL;
}

static void test_map_entries(void)
{
    char root[512], p[1024], real[1024];
    const kr_stage *const stages[] = {&MAPX};
    snprintf(root, sizeof root, "%s/lab12", kr_test_tmpdir());
    const char *dirs[] = {"", "/inbox", "/inbox/m", "/inbox/m/bead1", "/inbox/m/bead1/sub", "/inbox/m/no-fe",
                          "/inbox/m/two-cnd", "/tmpl"};
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(p, sizeof p, "%s%s", root, dirs[i]);
        mkdir(p, 0755);
    }
    const char *files[] = {"bead1/b1.cnd",     "bead1/b1_Ti.map",  "bead1/b1_Fe.csv",  "bead1/Ti_bgm.csv",
                           "bead1/sub/x_Fe.map", "no-fe/a.cnd",    "no-fe/a_Ti.map",   "no-fe/Ti_bgm.csv",
                           "two-cnd/a.cnd",    "two-cnd/b.cnd",    "two-cnd/a_Ti.map",
                           "two-cnd/a_Fe.map", "loose.map"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(p, sizeof p, "%s/inbox/m/%s", root, files[i]);
        write_file(p, "1\n");
    }
    pathf(p, sizeof p, root, "tmpl/t.yaml");
    write_file(p, "mapx:\n  inputs:\n    - name: ignored\n      oxygen: stoichiometry\n      fixed: {K2O: 0.14}\n"
                  "      note: \"total >= 90, #1\"\n      empty: ~\n"
                  "      elements:\n"
                  "        - {element: Ti, std_cps_na: 420, background: {minus: 'Ti_bgm*', dwell_ms: 60}}\n"
                  "        - {element: Fe, standard: Fe2SiO4}\n");
    pathf(p, sizeof p, root, "nightly.yaml");
    write_file(p, "nightly:\n  products: products\n  scan_interval_s: 0\ninstruments:\n  maps:\n    inbox: inbox/m\n"
                  "    template: tmpl/t.yaml\n    inputs_key: mapx.inputs\n    entry: map\n");
    kr_nightly *nc = NULL;
    kr_ledger *lg = NULL;
    kr_nightly_plan plan = {0};
    CU_ASSERT_EQUAL_FATAL(kr_nightly_load(p, &nc), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_ledger_open(":memory:", &lg), KR_OK);
    CU_ASSERT_EQUAL_FATAL(kr_nightly_make_plan(nc, lg, stages, 1, 1, NULL, &plan), KR_OK);
    CU_ASSERT_PTR_NOT_NULL_FATAL(realpath(root, real));
    /* bead1: runs; its item read back through the config (as kreep run reads the --set) */
    const kr_nightly_job *j = find_job(&plan, "bead1");
    CU_ASSERT_PTR_NOT_NULL_FATAL(j);
    CU_ASSERT_EQUAL(j->action, KR_JOB_RUN);
    CU_ASSERT_PTR_NOT_NULL_FATAL(j->overrides);
    kr_param_table tables[] = {kr_run_params, MAPX_T};
    kr_config *cfg = NULL;
    pathf(p, sizeof p, root, "tmpl/t.yaml");
    CU_ASSERT_EQUAL_FATAL(kr_config_load(p, tables, 2, j->overrides, j->noverrides, &cfg), KR_OK);
    const kr_node *l = kr_config_node(cfg, "mapx.inputs");
    CU_ASSERT_EQUAL_FATAL(kr_node_len(l), 1);
    const kr_node *it = kr_node_item(l, 0);
    char want[1200];
    CU_ASSERT_STRING_EQUAL(kr_node_scalar(kr_node_get(it, "name")), "bead1");
    snprintf(want, sizeof want, "%s/inbox/m/bead1/b1.cnd", real);
    CU_ASSERT_STRING_EQUAL(kr_node_scalar(kr_node_get(it, "cnd")), want);
    CU_ASSERT_STRING_EQUAL(kr_node_scalar(kr_node_get(it, "note")), "total >= 90, #1");
    CU_ASSERT_TRUE(kr_node_is_null(kr_node_get(it, "empty")));
    double v = 0;
    CU_ASSERT_EQUAL(kr_node_double(kr_node_get(kr_node_get(it, "fixed"), "K2O"), &v), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(v, 0.14, 0);
    const kr_node *els = kr_node_get(it, "elements");
    CU_ASSERT_EQUAL_FATAL(kr_node_len(els), 2);
    const kr_node *ti = kr_node_item(els, 0), *fe = kr_node_item(els, 1);
    snprintf(want, sizeof want, "%s/inbox/m/bead1/b1_Ti.map", real); /* default pattern *_Ti.map */
    CU_ASSERT_STRING_EQUAL(kr_node_scalar(kr_node_get(ti, "file")), want);
    snprintf(want, sizeof want, "%s/inbox/m/bead1/Ti_bgm.csv", real); /* the prototype's pattern */
    CU_ASSERT_STRING_EQUAL(kr_node_scalar(kr_node_get(kr_node_get(ti, "background"), "minus")), want);
    CU_ASSERT_EQUAL(kr_node_double(kr_node_get(kr_node_get(ti, "background"), "dwell_ms"), &v), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(v, 60, 0);
    CU_ASSERT_EQUAL(kr_node_double(kr_node_get(ti, "std_cps_na"), &v), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(v, 420, 0);
    /* *_Fe.csv (sub/x_Fe.map is in a subfolder: '*' does not match '/') */
    snprintf(want, sizeof want, "%s/inbox/m/bead1/b1_Fe.csv", real);
    CU_ASSERT_STRING_EQUAL(kr_node_scalar(kr_node_get(fe, "file")), want);
    CU_ASSERT_STRING_EQUAL(kr_node_scalar(kr_node_get(fe, "standard")), "Fe2SiO4");
    kr_config_free(cfg);
    /* folders that cannot make an item are quarantined, saying why; a loose file is no map folder */
    j = find_job(&plan, "no-fe");
    CU_ASSERT_EQUAL(j->action, KR_JOB_QUARANTINE);
    CU_ASSERT_PTR_NOT_NULL(strstr(j->reason, "no count map for Fe (tried *_Fe.map, *_Fe.csv, Fe.map, Fe.csv)"));
    j = find_job(&plan, "two-cnd");
    CU_ASSERT_EQUAL(j->action, KR_JOB_QUARANTINE);
    CU_ASSERT_PTR_NOT_NULL(strstr(j->reason, "2 files match '*.cnd' (a.cnd, b.cnd): expected one"));
    j = find_job(&plan, "loose.map");
    CU_ASSERT_EQUAL(j->action, KR_JOB_QUARANTINE);
    CU_ASSERT_PTR_NOT_NULL(strstr(j->reason, "not a folder"));
    kr_nightly_plan_free(&plan);
    /* a template whose list holds two items is the template's fault: an ERROR, nothing quarantined */
    pathf(p, sizeof p, root, "tmpl/t.yaml");
    write_file(p, "mapx:\n  inputs:\n    - {elements: [{element: Ti}]}\n    - {elements: [{element: Fe}]}\n");
    CU_ASSERT_EQUAL_FATAL(kr_nightly_make_plan(nc, lg, stages, 1, 1, NULL, &plan), KR_OK);
    CU_ASSERT_EQUAL_FATAL(plan.n, 1);
    CU_ASSERT_EQUAL(plan.jobs[0].action, KR_JOB_ERROR);
    CU_ASSERT_PTR_NOT_NULL(strstr(plan.jobs[0].reason, "must hold exactly one item"));
    kr_nightly_plan_free(&plan);
    /* 'inputs' globs make no sense for a map instrument */
    pathf(p, sizeof p, root, "nightly2.yaml");
    write_file(p, "nightly:\n  products: products\ninstruments:\n  maps:\n    inbox: inbox/m\n"
                  "    template: tmpl/t.yaml\n"
                  "    inputs_key: mapx.inputs\n    entry: map\n    inputs: ['*.map']\n");
    kr_nightly *nc2 = NULL;
    CU_ASSERT_EQUAL(kr_nightly_load(p, &nc2), KR_EINPUT);
    kr_err_clear();
    kr_ledger_close(lg);
    kr_nightly_free(nc);
}

int main(void)
{
    static const kr_test_case tests[] = {
        {"first night, second night, touch, edit, config change, fix", test_first_second_edit},
        {"dry run changes nothing", test_dry_run},
        {"entries still copying wait; a marker makes them ready", test_not_ready_and_marker},
        {"a held lock stops a second nightly; a killed one's is recovered", test_lock_held},
        {"SIGKILL during a product write: old product and ledger intact", test_kill_during_write},
        {"unreadable export quarantined; quarantine_dir moves entries", test_unreadable_and_quarantine_dir},
        {"bad nightly.yaml named by line and column", test_bad_nightly_yaml},
        {"merge: external links and index table", test_merge},
        {"Slurm job-array script", test_slurm_script},
        {"jobs: 2 runs at once; a killed run process is retried", test_parallel_jobs},
        {"--adopt records products written by Slurm tasks", test_adopt},
        {"--adopt: a calibration file changed since the task", test_adopt_calib_change},
        {"input paths quoted for YAML read back unchanged", test_yaml_quote},
        {"a file the template names, outside the entry, is watched", test_outside_inputs},
        {"entry: map - map folders become items built from the template's prototype", test_map_entries},
        {NULL, NULL},
    };
    return kr_test_run("pipeline_nightly", tests);
}
