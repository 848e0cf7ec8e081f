/* Logging and progress (see log.h). */
#include "log.h"

#include "error.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

void kr_log_init(kr_log *lg, FILE *out, kr_log_mode mode)
{
    memset(lg, 0, sizeof *lg);
    lg->out = out ? out : stderr;
    lg->last_pct = -1;
    if (mode == KR_LOG_AUTO) mode = isatty(fileno(lg->out)) ? KR_LOG_HUMAN : KR_LOG_WARN;
    lg->mode = mode;
}

/* JSON string body with the escapes of RFC 8259 section 7. */
static void json_str(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\') fprintf(out, "\\%c", *p);
        else if (*p == '\n') fputs("\\n", out);
        else if (*p == '\t') fputs("\\t", out);
        else if (*p == '\r') fputs("\\r", out);
        else if (*p < 0x20) fprintf(out, "\\u%04x", *p);
        else fputc(*p, out);
    }
    fputc('"', out);
}

static void json_head(kr_log *lg, const char *level, const char *stage)
{
    char ts[32];
    struct timespec now;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(lg->out, "{\"time_utc\":\"%s.%03ldZ\",\"level\":", ts, now.tv_nsec / 1000000);
    json_str(lg->out, level);
    fputs(",\"stage\":", lg->out);
    if (stage) json_str(lg->out, stage);
    else fputs("null", lg->out);
}

static void vlog(kr_log *lg, const char *level, const char *stage, const char *fmt, va_list ap)
{
    char msg[1024];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (lg->mode == KR_LOG_JSON) {
        json_head(lg, level, stage);
        fputs(",\"msg\":", lg->out);
        json_str(lg->out, msg);
        fputs("}\n", lg->out);
    } else {
        if (lg->progress_open) {
            fputc('\n', lg->out);
            lg->progress_open = 0;
        }
        fprintf(lg->out, "kreep%s%s%s: %s%s\n", stage ? " [" : "", stage ? stage : "", stage ? "]" : "",
                strcmp(level, "warning") ? "" : "warning: ", msg);
    }
    fflush(lg->out);
}

void kr_log_info(kr_log *lg, const char *stage, const char *fmt, ...)
{
    if (!lg || (lg->mode != KR_LOG_HUMAN && lg->mode != KR_LOG_JSON)) return;
    va_list ap;
    va_start(ap, fmt);
    vlog(lg, "info", stage, fmt, ap);
    va_end(ap);
}

void kr_log_warn(kr_log *lg, const char *stage, const char *fmt, ...)
{
    if (!lg || lg->mode == KR_LOG_QUIET) return;
    va_list ap;
    va_start(ap, fmt);
    vlog(lg, "warning", stage, fmt, ap);
    va_end(ap);
}

void kr_log_progress(kr_log *lg, const char *stage, const char *what, size_t done, size_t total)
{
    if (!lg || (lg->mode != KR_LOG_HUMAN && lg->mode != KR_LOG_JSON) || total == 0) return;
    int pct = (int)(100.0 * (double)done / (double)total);
    if (pct == lg->last_pct && done != total) return;
    lg->last_pct = pct;
    if (lg->mode == KR_LOG_JSON) {
        json_head(lg, "progress", stage);
        fputs(",\"msg\":", lg->out);
        json_str(lg->out, what);
        fprintf(lg->out, ",\"done\":%zu,\"total\":%zu}\n", done, total);
    } else {
        int bar = pct / 5;
        fprintf(lg->out, "\r\033[Kkreep%s%s%s: %s [%.*s%*s] %3d%% (%zu/%zu)", stage ? " [" : "", stage ? stage : "",
                stage ? "]" : "", what, bar, "####################", 20 - bar, "", pct, done, total);
        lg->progress_open = 1;
        if (done == total) kr_log_progress_end(lg);
    }
    fflush(lg->out);
}

void kr_log_progress_end(kr_log *lg)
{
    if (!lg) return;
    lg->last_pct = -1;
    if (lg->mode == KR_LOG_HUMAN && lg->progress_open) {
        fputc('\n', lg->out);
        lg->progress_open = 0;
        fflush(lg->out);
    }
}

void kr_log_error_chain(kr_log *lg, int status)
{
    if (!lg || lg->mode != KR_LOG_JSON || status == KR_OK) return;
    char chain[8192];
    kr_err_format(chain, sizeof chain);
    json_head(lg, status == KR_EPARTIAL ? "warning" : "error", NULL);
    fprintf(lg->out, ",\"exit_status\":%d,\"msg\":", kr_exit_code(status));
    json_str(lg->out, chain);
    fputs("}\n", lg->out);
    fflush(lg->out);
}
