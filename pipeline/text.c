#include "text.h"

#include "error.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>

int kr_text_read(const char *path, kr_text *out)
{
    memset(out, 0, sizeof *out);
    FILE *f = fopen(path, "rb");
    if (!f) return kr_err(KR_EIO, "%s: cannot open: %s", path, strerror(errno));
    int rc = KR_OK;
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) { /* a folder "opens" but is not text */
        rc = kr_err(KR_EIO, "%s: not a regular file", path);
        goto cleanup;
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        rc = kr_err(KR_EIO, "%s: cannot seek: %s", path, strerror(errno));
        goto cleanup;
    }
    long size = ftell(f);
    if (size < 0) {
        rc = kr_err(KR_EIO, "%s: not a regular file", path);
        goto cleanup;
    }
    rewind(f);
    out->data = malloc((size_t)size + 1);
    if (!out->data) {
        rc = kr_err(KR_ENOMEM, "%s: out of memory for %ld bytes", path, size);
        goto cleanup;
    }
    if (fread(out->data, 1, (size_t)size, f) != (size_t)size) {
        rc = kr_err(KR_EIO, "%s: read failed", path);
        free(out->data);
        out->data = NULL;
        goto cleanup;
    }
    out->data[size] = '\0';
    out->len = (size_t)size;
    out->path = path;
cleanup:
    fclose(f);
    return rc;
}

int kr_text_from_mem(const char *name, const char *buf, size_t len, kr_text *out)
{
    memset(out, 0, sizeof *out);
    out->data = malloc(len + 1);
    if (!out->data) return kr_err(KR_ENOMEM, "%s: out of memory", name);
    memcpy(out->data, buf, len);
    out->data[len] = '\0';
    out->len = len;
    out->path = name;
    return KR_OK;
}

void kr_text_free(kr_text *t)
{
    if (!t) return;
    free(t->data);
    t->data = NULL;
    t->len = 0;
}

void kr_lines_init(kr_lines *it, kr_text *t)
{
    it->text = t;
    it->pos = 0;
    it->lineno = 0;
}

char *kr_lines_next(kr_lines *it)
{
    kr_text *t = it->text;
    if (it->pos >= t->len) return NULL;
    char *start = t->data + it->pos;
    char *end = memchr(start, '\n', t->len - it->pos);
    if (!end) end = t->data + t->len;
    it->pos = (size_t)(end - t->data) + 1;
    if (end > start && end[-1] == '\r') end[-1] = '\0';
    *end = '\0';
    it->lineno++;
    return start;
}

void kr_rows_init(kr_rows *r, kr_text *t, char sep)
{
    kr_lines_init(&r->lines, t);
    r->sep = sep;
    r->nf = 0;
    r->lineno = 0;
}

int kr_rows_next(kr_rows *r)
{
    char *line;
    while ((line = kr_lines_next(&r->lines))) {
        line = kr_trim(line);
        if (!*line || *line == '#') continue;
        r->lineno = r->lines.lineno;
        r->nf = kr_split(line, r->sep, r->f, KR_ROWS_MAX_FIELDS);
        if (r->nf < 0)
            return -kr_err_at(KR_EINPUT, r->lines.text->path, r->lineno, "more than %d fields",
                              KR_ROWS_MAX_FIELDS);
        return 1;
    }
    return 0;
}

char *kr_trim(char *s)
{
    while (*s && isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) s[--n] = '\0';
    return s;
}

int kr_split(char *line, char sep, char **fields, int max)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n >= max) return -1;
        while (*p == ' ' || *p == '\t') {
            if (*p == sep) break;
            p++;
        }
        char *field = p, *w = p;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0') break;
                if (*p == '"' && p[1] == '"') {
                    *w++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *w++ = *p++;
                }
            }
            while (*p && *p != sep) p++;
        } else {
            while (*p && *p != sep) *w++ = *p++;
        }
        char at = *p;
        *w = '\0';
        if (w == p) *p = '\0';
        fields[n++] = kr_trim(field);
        if (at != sep) break;
        p++;
    }
    return n;
}

int kr_parse_double(const char *s, double *out)
{
    if (!s) return -1;
    while (isspace((unsigned char)*s)) s++;
    if (!*s) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE) return -1;
    while (isspace((unsigned char)*end)) end++;
    if (*end) return -1;
    *out = v;
    return 0;
}

int kr_parse_long(const char *s, long *out)
{
    if (!s) return -1;
    while (isspace((unsigned char)*s)) s++;
    if (!*s) return -1;
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || errno == ERANGE) return -1;
    while (isspace((unsigned char)*end)) end++;
    if (*end) return -1;
    *out = v;
    return 0;
}

int kr_streq_ci(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b)) return 0;
    return *a == *b;
}

int kr_utc_seconds(long year, long month, long day, long hour, long minute, double second, double *out_s)
{
    static const int MDAYS[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; /* Gregorian calendar */
    if (month < 1 || month > 12 || day < 1 || day > MDAYS[month - 1] + (month == 2 && leap) || hour < 0 || hour > 23 ||
        minute < 0 || minute > 59 || !(second >= 0 && second < 60) || year < 1 || year > 9999)
        return KR_EINPUT;
    struct tm tm = {0};
    tm.tm_year = (int)year - 1900;
    tm.tm_mon = (int)month - 1;
    tm.tm_mday = (int)day;
    tm.tm_hour = (int)hour;
    tm.tm_min = (int)minute;
    double whole = floor(second);
    tm.tm_sec = (int)whole;
    *out_s = (double)timegm(&tm) + (second - whole);
    return KR_OK;
}
