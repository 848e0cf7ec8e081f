#include "error.h"

#include <gsl/gsl_errno.h>
#include <hdf5.h>
#include <stdarg.h>
#include <string.h>

enum { KR_ERR_DEPTH = 24, KR_ERR_LEN = 512 };

typedef struct {
    int code;
    char msg[KR_ERR_LEN];
} kr_err_entry;

static _Thread_local kr_err_entry err_stack[KR_ERR_DEPTH];
static _Thread_local int err_depth;

static int push(int code, const char *prefix, const char *fmt, va_list ap)
{
    if (err_depth >= KR_ERR_DEPTH) return code; /* keep the innermost causes */
    kr_err_entry *e = &err_stack[err_depth++];
    e->code = code;
    size_t n = prefix ? (size_t)snprintf(e->msg, sizeof e->msg, "%s", prefix) : 0;
    if (n >= sizeof e->msg) n = sizeof e->msg - 1;
    vsnprintf(e->msg + n, sizeof e->msg - n, fmt, ap);
    return code;
}

int kr_err(int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    push(code, NULL, fmt, ap);
    va_end(ap);
    return code;
}

int kr_err_at(int code, const char *path, long line, const char *fmt, ...)
{
    char prefix[KR_ERR_LEN];
    if (line > 0)
        snprintf(prefix, sizeof prefix, "%s:%ld: ", path ? path : "?", line);
    else
        snprintf(prefix, sizeof prefix, "%s: ", path ? path : "?");
    va_list ap;
    va_start(ap, fmt);
    push(code, prefix, fmt, ap);
    va_end(ap);
    return code;
}

int kr_err_count(void) { return err_depth; }
int kr_err_code(void) { return err_depth ? err_stack[0].code : KR_OK; }
const char *kr_err_msg(int i) { return (i >= 0 && i < err_depth) ? err_stack[i].msg : ""; }
void kr_err_clear(void) { err_depth = 0; }

void kr_err_print(FILE *out)
{
    if (!err_depth) return;
    fprintf(out, "kreep: error: %s\n", err_stack[err_depth - 1].msg);
    for (int i = err_depth - 2; i >= 0; i--) fprintf(out, "  caused by: %s\n", err_stack[i].msg);
}

void kr_err_format(char *buf, size_t len)
{
    size_t n = 0;
    if (len == 0) return;
    buf[0] = '\0';
    for (int i = err_depth - 1; i >= 0 && n + 1 < len; i--) {
        int w = snprintf(buf + n, len - n, "%s%s", n ? ": " : "", err_stack[i].msg);
        if (w < 0) break;
        n += (size_t)w;
    }
}

int kr_exit_code(int status)
{
    switch (status) {
    case KR_OK: return 0;
    case KR_EUSAGE: return 2;
    case KR_EPARTIAL: return 3;
    default: return 1;
    }
}

static void gsl_to_stack(const char *reason, const char *file, int line, int gsl_errno)
{
    (void)file;
    (void)line;
    kr_err(KR_ENUMERIC, "GSL: %s (%s)", reason, gsl_strerror(gsl_errno));
}

/* Push only the innermost HDF5 message (the cause); the library's call chain above it means nothing
 * to a user. A system error inside it ("error message = 'No space left on device'") is quoted. */
static herr_t hdf5_walk(unsigned n, const H5E_error2_t *e, void *data)
{
    int *done = data;
    if (*done) return 0;
    *done = 1;
    (void)n;
    const char *desc = e->desc ? e->desc : "";
    const char *sys = strstr(desc, "error message = '");
    if (sys) {
        sys += strlen("error message = '");
        const char *end = strchr(sys, '\'');
        int len = end ? (int)(end - sys) : (int)strlen(sys);
        const char *colon = strchr(desc, ':');
        int dlen = colon ? (int)(colon - desc) : (int)strlen(desc);
        kr_err(KR_EIO, "HDF5: %.*s: %.*s", dlen, desc, len, sys);
    } else {
        kr_err(KR_EIO, "HDF5: %s%s%s", e->func_name ? e->func_name : "", *desc ? ": " : "", desc);
    }
    return 0;
}

void kr_err_from_hdf5(void)
{
    int done = 0;
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, hdf5_walk, &done);
}

void kr_err_install_handlers(void)
{
    gsl_set_error_handler(gsl_to_stack);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}
