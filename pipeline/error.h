/* kreep error stack: per-thread, fixed-size, no allocation.
 * Functions return a status (KR_OK or a kr_status code); on failure they push a message naming the
 * place in the input (file, line) and what was expected and found. The command prints the chain. */
#ifndef KR_ERROR_H
#define KR_ERROR_H
#include <stdio.h>

/* Status codes double as process exit codes (kreep's contract). */
typedef enum {
    KR_OK = 0,
    KR_EINPUT = 1,   /* bad input file or config */
    KR_EUSAGE = 2,   /* bad command line */
    KR_EPARTIAL = 3, /* run finished but some samples failed */
    KR_EIO = 4,      /* cannot read or write a file (reported as exit 1) */
    KR_ENOMEM = 5,   /* out of memory (reported as exit 1) */
    KR_ENUMERIC = 6  /* a computation did not converge or left its domain */
} kr_status;

/* Push a message; returns code so callers can write `return kr_err(KR_EINPUT, ...)`. */
int kr_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Same, prefixed with "path:line: " (line <= 0 omits it). */
int kr_err_at(int code, const char *path, long line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

int kr_err_count(void);           /* messages on this thread's stack */
int kr_err_code(void);            /* code of the first (innermost) message, KR_OK if none */
const char *kr_err_msg(int i);    /* i-th message, 0 = innermost */
void kr_err_clear(void);
void kr_err_print(FILE *out);     /* "kreep: error: outer\n  caused by: inner" */
/* Copy the whole chain into buf as one line ("outer: inner"). */
void kr_err_format(char *buf, size_t len);

/* Map a status to the process exit code (EIO/ENOMEM/ENUMERIC -> 1). */
int kr_exit_code(int status);

/* Route GSL errors and HDF5's error stack into this stack, and turn off their default printing. */
void kr_err_install_handlers(void);
/* Append HDF5's current error stack (if any) to ours. */
void kr_err_from_hdf5(void);

#endif
