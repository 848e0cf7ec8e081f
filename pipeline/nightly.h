/* Nightly operation: scan an inbox per instrument, decide what to reduce from the ledger, run it.
 *
 * nightly.yaml (paths relative to its folder; config/nightly.example.yaml documents every key):
 *   nightly:
 *     products: products          # products go to <products>/<instrument>/<entry>.h5
 *     ledger: products/kreep.db   # default <products>/kreep.db
 *     lock: ...                   # default <products>/kreep-nightly.lock
 *     scan_interval_s: 60         # an entry is ready when size and mtime are stable across two scans
 *     ready_marker: .ready        # ... or when this marker exists (inside a folder / <file>.ready beside a file)
 *     max_attempts: 3             # runs failing for I/O reasons are retried up to this, then quarantined
 *     quarantine_dir: quarantine  # optional: move quarantined entries here (default: marked in the ledger only)
 *     jobs: 2                     # runs at once (forked processes; the parent alone writes the ledger)
 *     rerun_on_touch: true        # a newer mtime than the ledger's is a rerun request (false: content only)
 *   instruments:
 *     epma:
 *       inbox: inbox/epma         # every entry (file or session folder) is one run
 *       template: epma.yaml       # run.yaml with the stage settings
 *       inputs_key: epma.inputs   # the list parameter that receives the entry's exports
 *       inputs: ["*_QNT", "*_STD"]# globs inside a session folder (default: the entry itself)
 *       set: ["epma.model=xpp"]   # optional --set overrides
 *     maps:
 *       inbox: inbox/maps         # every entry is a JEOL map folder (a .cnd, one count map per element)
 *       template: maps.yaml       # its epma.maps.inputs holds ONE item: the settings of every map
 *       inputs_key: epma.maps.inputs
 *       entry: map                # (default: exports)
 *
 * An entry is run when the hash of (its content, the calibration files, the effective config, the
 * software version) differs from the ledger's; a bad entry is quarantined (ledger status, optional move)
 * and the night goes on. Touching an entry's file (content unchanged, mtime newer than the ledger's) is
 * an explicit request to rerun that entry ("touched: content unchanged, rerun requested"; attempts start
 * again) unless nightly.rerun_on_touch is false; an older mtime (a restore) only updates the ledger.
 *
 * entry: map. The template's list at inputs_key (a KR_PT_NODE list such as epma.maps.inputs) holds
 * exactly one mapping, the prototype; for each folder nightly writes one item as a flow-YAML --set
 * (`epma.maps.inputs=[{...}]`, which the config parses like YAML, so the effective config and its hash
 * hold the real paths): `name` = the entry's name; `cnd` = the folder's one file matching the prototype's
 * `cnd` (an fnmatch pattern relative to the folder; default *.cnd); per element, `file` = the one file
 * matching its `file` pattern (default: the first of *_<El>.map, *_<El>.csv, <El>.map, <El>.csv that
 * matches), and background `minus`/`plus` patterns likewise; every other key is copied from the
 * prototype. A folder where a pattern matches no file or several (or a loose file) is quarantined saying
 * which; a template without exactly one item is an ERROR of the instrument (nothing quarantined).
 * A quarantine decided before any run is repeated only when the entry's content, the template (or its
 * `set`) or, with rerun_on_touch, its mtime moves. LA-ICP-MS session folders need nothing special:
 * inputs_key laicpms.inputs with inputs ["*.csv"] (or none: the folder itself). */
#ifndef KR_NIGHTLY_H
#define KR_NIGHTLY_H
#include "hash.h"
#include "ledger.h"
#include "log.h"
#include "stage.h"

#include <stdio.h>

typedef struct kr_nightly kr_nightly;

/* Load and validate nightly.yaml (errors name file:line:col). Owner: caller (kr_nightly_free). */
int kr_nightly_load(const char *path, kr_nightly **out);
void kr_nightly_free(kr_nightly *nc);
const char *kr_nightly_products_dir(const kr_nightly *nc); /* absolute */
const char *kr_nightly_ledger_path(const kr_nightly *nc);  /* absolute */
const char *kr_nightly_lock_path(const kr_nightly *nc);    /* absolute */
/* Override the scan interval (tests, --scan-interval). */
void kr_nightly_set_scan_interval(kr_nightly *nc, double seconds);
/* Override the number of runs at once (nightly.jobs; each run is a forked process). */
void kr_nightly_set_jobs(kr_nightly *nc, long jobs);

typedef enum {
    KR_JOB_RUN,        /* reduce it (reason says why: new, inputs changed, config changed, retry) */
    KR_JOB_SKIP,       /* unchanged since its last run (or quarantined and unchanged) */
    KR_JOB_NOT_READY,  /* still changing (export still copying) */
    KR_JOB_QUARANTINE, /* unreadable or without exports: quarantine without running */
    KR_JOB_ERROR       /* the instrument's template does not load: not the data's fault, nothing recorded */
} kr_job_action;

/* One inbox entry and what to do with it. Strings owned by the plan. */
typedef struct {
    kr_job_action action;
    char *instrument;
    char *path;          /* absolute path of the entry (ledger key) */
    char *name;          /* its file name */
    char *template_path; /* absolute */
    char **overrides;    /* --set strings: the inputs, then the instrument's `set` */
    size_t noverrides;
    char *product;       /* absolute output path */
    char *reason;        /* human-readable why (or the error) */
    long long size, mtime_ns;
    char sha256[KR_SHA256_HEX], run_hash[KR_SHA256_HEX], config_hash[KR_SHA256_HEX];
    long attempts;       /* attempts already made with this run hash */
} kr_nightly_job;

typedef struct {
    kr_nightly_job *jobs;
    size_t n, cap;
} kr_nightly_plan;

/* Scan the inboxes (two scans scan_interval_s apart unless markers or the ledger show an entry is
 * stable), hash the exports (cached in the ledger by size and mtime; the cache is written unless
 * `readonly`) and decide per entry. Owner of the plan: caller (kr_nightly_plan_free). */
int kr_nightly_make_plan(const kr_nightly *nc, kr_ledger *lg, const kr_stage *const *stages, size_t nstages,
                         int readonly, kr_log *log, kr_nightly_plan *plan);
void kr_nightly_plan_free(kr_nightly_plan *plan);
const char *kr_nightly_action_name(kr_job_action a);

typedef struct {
    size_t ran, done, partial, skipped, quarantined, failed, not_ready, errors;
    double wall_s;
} kr_nightly_summary;

typedef struct {
    int dry_run;   /* print what would run and why; change nothing */
    FILE *report;  /* one line per entry and a summary (stdout); NULL: none */
    kr_log *log;   /* may be NULL */
    int adopt;     /* record products that `kreep plan`'s Slurm tasks wrote instead of running (see below) */
} kr_nightly_opts;

/* adopt: for every entry that would run, a product already at its path is recorded as done, without
 * running, when its root attributes config_sha256 and software_version are this run's, every calibration
 * file in its /provenance/calibration has the contents this kreep uses now, and it is newer than every
 * file of the entry (the Slurm tasks of `kreep plan` ran it). Entries without such a product are reported
 * ("not adopted: ..." with the reason, e.g. the calibration file that changed) and left for the next
 * night. */
/* The whole night: lock, ledger, plan, runs, summary. Returns KR_OK, KR_EPARTIAL (exit 3) when
 * something was quarantined, failed or only partly reduced, or an error (lock held, bad nightly.yaml). */
int kr_nightly_run(const char *nightly_yaml, const kr_nightly_opts *opts, const kr_stage *const *stages,
                   size_t nstages, kr_nightly_summary *sum);

/* Same for a loaded config (tests use this to set the scan interval). */
int kr_nightly_run_loaded(const kr_nightly *nc, const kr_nightly_opts *opts, const kr_stage *const *stages,
                          size_t nstages, kr_nightly_summary *sum);

/* Run one planned job and record it (runs row + item, one transaction at the end). `kind` is
 * "nightly" or "reprocess". Returns KR_OK when the run was recorded, whatever its outcome; *outcome
 * receives "done", "partial", "failed" or "quarantined". */
int kr_nightly_execute(const kr_nightly *nc, kr_ledger *lg, kr_nightly_job *job, const kr_stage *const *stages,
                       size_t nstages, kr_log *log, const char **outcome, char *errbuf, size_t errlen);

/* Content hash of one inbox entry (file or folder) as the plan computes it (cache read, not written). */
int kr_nightly_hash_entry(kr_ledger *lg, const char *path, char hex[KR_SHA256_HEX]);
/* SHA-256 of every calibration file the build uses (names and contents), for run hashes. */
int kr_nightly_calib_hash(char hex[KR_SHA256_HEX]);
/* Run hash of (software version, calibration hash, effective-config hash, inputs hash). */
int kr_nightly_run_hash(const char *calib_hex, const char *config_hex, const char *inputs_hex,
                        char hex[KR_SHA256_HEX]);
/* Effective-config hash of `template_path` with `ov` (loads it against run + stage tables). */
int kr_nightly_config_hash(const char *template_path, char *const *ov, size_t nov, const kr_stage *const *stages,
                           size_t nstages, char hex[KR_SHA256_HEX]);
/* Quote `s` as a YAML double-quoted scalar into buf (for --set lists). */
int kr_nightly_yaml_quote(const char *s, char **out);

#endif
