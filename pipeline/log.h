/* Logging and progress. Human messages go to stderr when it is a terminal (progress as one updating
 * line); nothing but warnings when it is not; with --log-json every event is one JSON object per
 * line on stderr ({"time_utc":..., "level":..., "stage":..., "msg":..., "done":..., "total":...}).
 * The kr_log lives on the caller's stack (no global state). */
#ifndef KR_LOG_H
#define KR_LOG_H
#include <stddef.h>
#include <stdio.h>

/* AUTO resolves to HUMAN on a terminal and WARN otherwise; QUIET prints nothing at all. */
typedef enum { KR_LOG_AUTO = 0, KR_LOG_JSON = 1, KR_LOG_QUIET = 2, KR_LOG_HUMAN = 3, KR_LOG_WARN = 4 } kr_log_mode;

typedef struct {
    FILE *out;      /* stderr by default */
    int mode;       /* kr_log_mode after resolution of AUTO: JSON, QUIET or HUMAN */
    int last_pct;   /* progress throttling */
    int progress_open; /* a progress line is on screen (needs a newline before the next message) */
} kr_log;

/* AUTO: HUMAN when `out` is a terminal, WARN (warnings only) otherwise. out NULL = stderr. */
void kr_log_init(kr_log *lg, FILE *out, kr_log_mode mode);
/* Informational message (HUMAN or JSON only). stage may be NULL. */
void kr_log_info(kr_log *lg, const char *stage, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Warning: shown unless QUIET (plain text unless JSON). */
void kr_log_warn(kr_log *lg, const char *stage, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Progress of long work: `done` of `total` items of `what`. Throttled to whole percents. */
void kr_log_progress(kr_log *lg, const char *stage, const char *what, size_t done, size_t total);
/* JSON mode only: the current error chain as one {"level":"error","exit_status":N,"msg":...} line
 * (the command still prints the readable chain). */
void kr_log_error_chain(kr_log *lg, int status);
/* End a progress line (prints the newline on a terminal). */
void kr_log_progress_end(kr_log *lg);

#endif
