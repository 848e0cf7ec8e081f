/* Whole-file text buffers, line iteration, CSV splitting and strict number parsing.
 * One allocation per file; fields point into the buffer (no per-value allocation). */
#ifndef KR_TEXT_H
#define KR_TEXT_H
#include <stddef.h>

typedef struct {
    char *data;       /* NUL-terminated contents; owned */
    size_t len;
    const char *path; /* borrowed name used in error messages */
} kr_text;

/* Read a whole file; on failure pushes an error naming the path. Free with kr_text_free. */
int kr_text_read(const char *path, kr_text *out);
/* Wrap a copy of an in-memory buffer (e.g. an embedded calib file). */
int kr_text_from_mem(const char *name, const char *buf, size_t len, kr_text *out);
void kr_text_free(kr_text *t);

/* Line cursor over a kr_text: yields lines with CR/LF stripped, counts line numbers from 1.
 * kr_lines_next modifies the buffer in place (writes NUL at line ends). */
typedef struct {
    kr_text *text;
    size_t pos;
    long lineno;
} kr_lines;
void kr_lines_init(kr_lines *it, kr_text *t);
char *kr_lines_next(kr_lines *it); /* NULL at end */

/* Split one line in place into at most max fields at `sep` (quotes "..." honoured, "" inside quotes
 * unescaped, surrounding spaces trimmed). Returns the number of fields, or -1 if more than max. */
int kr_split(char *line, char sep, char **fields, int max);

/* Row cursor for simple data tables (calib/ files and the like): skips blank lines and '#' comment
 * lines, splits each remaining line at `sep`. The first row returned is the header. */
enum { KR_ROWS_MAX_FIELDS = 64 };
typedef struct {
    kr_lines lines;
    char sep;
    char *f[KR_ROWS_MAX_FIELDS];
    int nf;      /* fields in the current row */
    long lineno; /* its line number */
} kr_rows;
void kr_rows_init(kr_rows *r, kr_text *t, char sep);
/* 1: a row is in r->f/r->nf; 0: end; negative: a line with more than KR_ROWS_MAX_FIELDS fields
 * (error pushed, naming the file and line). */
int kr_rows_next(kr_rows *r);

/* Trim leading/trailing whitespace in place; returns s. */
char *kr_trim(char *s);

/* Strict parses: whole string must be a number (surrounding spaces allowed). Return 0 on success. */
int kr_parse_double(const char *s, double *out);
int kr_parse_long(const char *s, long *out);
/* Seconds since 1970-01-01T00:00:00Z of a UTC calendar time (glibc timegm); KR_EINPUT (no message) for an
 * impossible date or time: month 1-12, day within its month (leap years), hour 0-23, minute and second 0-59. */
int kr_utc_seconds(long year, long month, long day, long hour, long minute, double second, double *out_s);

/* Case-insensitive equality. */
int kr_streq_ci(const char *a, const char *b);

#endif
