/* JEOL JXA key/value files (.cnd, .qnt, .std, map .cnd): one general parser (DOMAIN.md §2.1).
 *
 * Modern files (JXA-8230/8530): one `$KEY value...` per line; `KEY%N` = channel (element) index N,
 * `KEY%N_M` = sub-index M. Every line is kept; callers look up the keys they need, so unknown keys are
 * ignored by construction. CRLF and LF both work. Values are raw bytes (old files are Shift-JIS):
 * nothing here assumes UTF-8; kr_jeol_to_utf8 converts a value for output.
 *
 * Old JXA-8800 files are "value<TAB>description" lines (`920\t\t\tX-axis Step Number [1~1024]`, or
 * leading numbers separated by spaces when there is no tab): they parse into entries whose `key` is the
 * description and whose index/sub are -1 (kr_jeol_file.old_style = 1). */
#ifndef KR_EPMA_JEOL_H
#define KR_EPMA_JEOL_H
#include "text.h"

#include <stddef.h>

typedef struct {
    const char *key;   /* without '$' and without the %suffix; points into the file buffer */
    int index;         /* N of %N, -1 if none */
    int sub;           /* M of %N_M, -1 if none */
    const char *value; /* rest of the line, trimmed (may be ""); points into the buffer */
    long line;         /* 1-based line number */
} kr_jeol_entry;

typedef struct {
    kr_text text;          /* owned buffer the entries point into */
    kr_jeol_entry *entries;
    size_t n;
    char *path;            /* owned copy, used in every error message */
    int old_style;         /* 1: JXA-8800 "value description" file */
    int ends_with_newline; /* 0 suggests a truncated file */
} kr_jeol_file;

/* Read and parse a file. Owner: caller (kr_jeol_free), also on failure it is safe to call free. */
int kr_jeol_read(const char *path, kr_jeol_file *out);
/* Parse an in-memory buffer (copied); `name` is used in messages. */
int kr_jeol_parse_mem(const char *name, const char *buf, size_t len, kr_jeol_file *out);
void kr_jeol_free(kr_jeol_file *f);

/* Look-ups (index/sub -1 = no suffix). The last occurrence wins if a key repeats. NULL if absent. */
const kr_jeol_entry *kr_jeol_find(const kr_jeol_file *f, const char *key, int index, int sub);
/* Like find, but a missing key is an error naming the file (and "truncated?" when the file does not end
 * with a newline). */
int kr_jeol_require(const kr_jeol_file *f, const char *key, int index, int sub, const kr_jeol_entry **out);
/* Parse exactly `n` whitespace-separated numbers from the value (more are allowed when `at_least`);
 * errors name file:line, the key, and what was found. */
int kr_jeol_numbers(const kr_jeol_file *f, const kr_jeol_entry *e, double *vals, int n, int at_least);
/* Required single number. */
int kr_jeol_get_double(const kr_jeol_file *f, const char *key, int index, int sub, double *out);
/* Largest index N seen with `key` (-1 if none). */
int kr_jeol_max_index(const kr_jeol_file *f, const char *key);
/* Copy the i-th whitespace-separated token of a value into buf (0 if absent). */
int kr_jeol_token(const char *value, int i, char *buf, size_t len);
/* Copy a value into buf as valid UTF-8: unchanged if already UTF-8, else converted from Shift-JIS
 * (CP932) with iconv, else invalid bytes replaced by '?'. Always NUL-terminates; truncates on a
 * character boundary. */
void kr_jeol_to_utf8(const char *in, char *buf, size_t len);

#endif
