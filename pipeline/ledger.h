/* The nightly ledger (SQLite): what has been seen in the inboxes and what became of it.
 *
 *   items  one row per (instrument, path) of an inbox entry (a file or a session folder): size, mtime,
 *          SHA-256 of its content, status (done, failed, quarantined), attempts, error, product,
 *          run hash, config hash, software version, timestamps.
 *   runs   the history: one row per attempted run (nightly or reprocess), with how to repeat it (the
 *          template config and the --set overrides that put the inputs in) and what it produced.
 *   files  a cache of file SHA-256 by (path, size, mtime) so that unchanged exports are not re-read.
 *
 * The database runs in WAL mode with synchronous=FULL; every change that must stay consistent (the end
 * of a run: its history row and its item) is one BEGIN IMMEDIATE transaction, so a crash leaves either
 * the old or the new state. A run that was killed stays in `runs` with status "running" until the next
 * nightly (holding the lock) marks it "interrupted". */
#ifndef KR_LEDGER_H
#define KR_LEDGER_H
#include "hash.h"

#include <stddef.h>

typedef struct kr_ledger kr_ledger;

/* One inbox entry. Strings are owned by the struct (kr_ledger_item_clear); NULL when unset. */
typedef struct {
    char *instrument, *path;
    long long size, mtime_ns;       /* folder: total bytes and newest mtime of its files */
    char sha256[KR_SHA256_HEX];     /* content (folder: over its files' relative paths and hashes) */
    char *status;                   /* "done", "failed", "quarantined" */
    long attempts;                  /* runs tried since the content or config last changed */
    char *error;                    /* last error chain ("" or NULL when none) */
    char *product;                  /* last product written */
    char run_hash[KR_SHA256_HEX];   /* hash of (inputs, calibration, effective config, version) */
    char config_hash[KR_SHA256_HEX];/* SHA-256 of the effective config (as in the product) */
    char *software_version;
    char *quarantine_path;          /* where a quarantined entry was moved (NULL: marked only) */
    char *updated_utc;              /* set by kr_ledger_put_item */
} kr_ledger_item;

/* One run (history row). Strings owned by the struct (kr_ledger_run_clear). */
typedef struct {
    long long id;
    char *instrument, *path;
    char *kind;                     /* "nightly" or "reprocess" */
    char *status;                   /* "running", "done", "partial", "failed", "quarantined", "interrupted" */
    char *started_utc, *finished_utc;
    char *template_path;            /* the run.yaml template the run was loaded from */
    char *overrides;                /* --set strings, one per line (the inputs, then the user's) */
    char *product, *error;
    char run_hash[KR_SHA256_HEX];
    char config_hash[KR_SHA256_HEX];
    char *software_version;
} kr_ledger_run;

/* A file a run read from outside its inbox entry (named by the template: maps, standards, ...), with the
 * SHA-256 the run saw (from the product's /provenance/inputs). A change reruns the entry. */
typedef struct {
    char *file;
    char sha256[KR_SHA256_HEX];
} kr_ledger_file;

void kr_ledger_item_clear(kr_ledger_item *it);
void kr_ledger_files_free(kr_ledger_file *f, size_t n);
void kr_ledger_run_clear(kr_ledger_run *r);

/* Open (creating the file and schema when absent). Owner: caller (kr_ledger_close). */
int kr_ledger_open(const char *path, kr_ledger **out);
void kr_ledger_close(kr_ledger *lg);
const char *kr_ledger_path(const kr_ledger *lg);

/* Transactions (BEGIN IMMEDIATE ... COMMIT). kr_ledger_rollback is safe when none is open. */
int kr_ledger_begin(kr_ledger *lg);
int kr_ledger_commit(kr_ledger *lg);
void kr_ledger_rollback(kr_ledger *lg);

/* Read an item: *found = 0 and `out` zeroed when absent. `out` must be zeroed or cleared before. */
int kr_ledger_get_item(kr_ledger *lg, const char *instrument, const char *path, kr_ledger_item *out, int *found);
/* Insert or replace an item (stamps updated_utc). */
int kr_ledger_put_item(kr_ledger *lg, const kr_ledger_item *it);
/* Number of items, optionally with one status (NULL: all). */
int kr_ledger_count_items(kr_ledger *lg, const char *status, long *n);

/* File-hash cache: *found = 1 and hex filled when (path, size, mtime_ns) is known. */
int kr_ledger_file_hash(kr_ledger *lg, const char *path, long long size, long long mtime_ns,
                        char hex[KR_SHA256_HEX], int *found);
int kr_ledger_put_file_hash(kr_ledger *lg, const char *path, long long size, long long mtime_ns,
                            const char hex[KR_SHA256_HEX]);

/* Start a run: inserts `r` with status "running" and started_utc now; r->id receives the row id
 * (one transaction of its own). */
int kr_ledger_run_start(kr_ledger *lg, kr_ledger_run *r);
/* Finish run `id` (status, error, product, finished_utc now) and, when `item` is not NULL, store the
 * item in the same transaction, with its outside inputs `extra` (replacing the old list) when
 * extra_valid is nonzero. */
int kr_ledger_run_finish(kr_ledger *lg, long long id, const char *status, const char *error, const char *product,
                         const kr_ledger_item *item, const kr_ledger_file *extra, size_t nextra, int extra_valid);
/* The outside inputs recorded for an entry. Owner: caller (kr_ledger_files_free). */
int kr_ledger_extra_inputs(kr_ledger *lg, const char *instrument, const char *path, kr_ledger_file **out, size_t *n);
/* Mark runs still "running" as "interrupted" (call while holding the nightly lock). */
int kr_ledger_mark_interrupted(kr_ledger *lg, long *n);
/* The latest successful ("done" or "partial") run of `kind` per (instrument, path) that finished at or
 * after `since_utc` (ISO 8601 prefix such as "2026-01-01"; NULL or "" = all), ordered by instrument and
 * path. Owner: caller (kr_ledger_runs_free). */
int kr_ledger_runs_since(kr_ledger *lg, const char *kind, const char *since_utc, kr_ledger_run **out, size_t *n);
void kr_ledger_runs_free(kr_ledger_run *runs, size_t n);
/* A run of the same (instrument, path, kind, run_hash) already done? */
int kr_ledger_run_exists(kr_ledger *lg, const char *instrument, const char *path, const char *kind,
                         const char *run_hash, int *found, char **product);

/* Current UTC time as ISO 8601 ("2026-03-14T02:00:00Z") into buf (>= 21 bytes). */
void kr_ledger_now_utc(char *buf, size_t len);

#endif
