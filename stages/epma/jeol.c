#include "jeol.h"

#include "error.h"

#include <ctype.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_blank_line(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s)) return 0;
    return 1;
}

/* Parse "N" or "N_M" (digits only). Returns 0 on success. */
static int parse_suffix(const char *s, int *index, int *sub)
{
    char *end;
    if (!isdigit((unsigned char)*s)) return -1;
    long n = strtol(s, &end, 10);
    if (n > 100000) return -1;
    *index = (int)n;
    *sub = -1;
    if (*end == '\0') return 0;
    if (*end != '_' || !isdigit((unsigned char)end[1])) return -1;
    long m = strtol(end + 1, &end, 10);
    if (*end != '\0' || m > 100000) return -1;
    *sub = (int)m;
    return 0;
}

static int parse_modern_line(kr_jeol_file *f, char *line, long lineno, kr_jeol_entry *e)
{
    char *p = line + 1; /* skip '$' */
    char *key = p;
    while (*p && !isspace((unsigned char)*p)) p++;
    if (*p) *p++ = '\0';
    char *value = kr_trim(p);
    char *pct = strchr(key, '%');
    e->index = -1;
    e->sub = -1;
    if (pct) {
        *pct = '\0';
        if (parse_suffix(pct + 1, &e->index, &e->sub))
            return kr_err_at(KR_EINPUT, f->path, lineno,
                             "key $%s: channel suffix '%%%s' is not %%N or %%N_M with N, M integers", key, pct + 1);
    }
    if (!*key) return kr_err_at(KR_EINPUT, f->path, lineno, "empty key after '$'");
    e->key = key;
    e->value = value;
    e->line = lineno;
    return KR_OK;
}

static int is_number_token(const char *s, size_t n)
{
    char buf[64];
    if (n == 0 || n >= sizeof buf) return 0;
    memcpy(buf, s, n);
    buf[n] = '\0';
    double v;
    return kr_parse_double(buf, &v) == 0;
}

static void parse_old_line(char *line, long lineno, kr_jeol_entry *e)
{
    e->index = -1;
    e->sub = -1;
    e->line = lineno;
    char *tab = strchr(line, '\t');
    if (tab) {
        *tab = '\0';
        e->value = kr_trim(line);
        e->key = kr_trim(tab + 1);
        return;
    }
    /* no tab: leading numeric tokens are the value, the rest the description */
    char *p = line, *vend = line;
    for (;;) {
        while (*p == ' ') p++;
        char *tok = p;
        while (*p && *p != ' ') p++;
        if (p == tok || !is_number_token(tok, (size_t)(p - tok))) break;
        vend = p;
    }
    if (vend == line) { /* a line without a value: all of it is the description */
        e->value = line + strlen(line);
        e->key = kr_trim(line);
        return;
    }
    char *desc = vend;
    if (*desc) *desc++ = '\0';
    e->value = kr_trim(line);
    e->key = kr_trim(desc);
}

static int parse_buffer(kr_jeol_file *f)
{
    size_t cap = 0;
    for (size_t i = 0; i < f->text.len; i++)
        if (f->text.data[i] == '\n') cap++;
    cap += 1;
    f->entries = calloc(cap, sizeof *f->entries);
    if (!f->entries) return kr_err(KR_ENOMEM, "%s: out of memory for %zu lines", f->path, cap);
    f->ends_with_newline = f->text.len > 0 && f->text.data[f->text.len - 1] == '\n';
    if (memchr(f->text.data, '\0', f->text.len))
        return kr_err_at(KR_EINPUT, f->path, 0, "contains NUL bytes: not a JEOL text file");
    kr_lines it;
    kr_lines_init(&it, &f->text);
    char *line;
    int style_known = 0;
    while ((line = kr_lines_next(&it))) {
        if (is_blank_line(line)) continue;
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (!style_known) {
            f->old_style = *s != '$';
            style_known = 1;
        }
        kr_jeol_entry *e = &f->entries[f->n];
        if (f->old_style) {
            parse_old_line(s, it.lineno, e);
        } else {
            if (*s != '$') continue; /* stray text in a key/value file: not a key, ignored */
            int rc = parse_modern_line(f, s, it.lineno, e);
            if (rc) return rc;
        }
        f->n++;
    }
    if (!style_known) return kr_err_at(KR_EINPUT, f->path, 0, "empty file: no JEOL keys");
    return KR_OK;
}

int kr_jeol_read(const char *path, kr_jeol_file *out)
{
    memset(out, 0, sizeof *out);
    out->path = strdup(path);
    if (!out->path) return kr_err(KR_ENOMEM, "out of memory");
    int rc = kr_text_read(path, &out->text);
    if (rc) return rc;
    out->text.path = out->path;
    return parse_buffer(out);
}

int kr_jeol_parse_mem(const char *name, const char *buf, size_t len, kr_jeol_file *out)
{
    memset(out, 0, sizeof *out);
    out->path = strdup(name);
    if (!out->path) return kr_err(KR_ENOMEM, "out of memory");
    int rc = kr_text_from_mem(out->path, buf, len, &out->text);
    if (rc) return rc;
    return parse_buffer(out);
}

void kr_jeol_free(kr_jeol_file *f)
{
    if (!f) return;
    kr_text_free(&f->text);
    free(f->entries);
    free(f->path);
    memset(f, 0, sizeof *f);
}

const kr_jeol_entry *kr_jeol_find(const kr_jeol_file *f, const char *key, int index, int sub)
{
    for (size_t i = f->n; i-- > 0;) {
        const kr_jeol_entry *e = &f->entries[i];
        if (e->index == index && e->sub == sub && strcmp(e->key, key) == 0) return e;
    }
    return NULL;
}

static void key_name(char *buf, size_t len, const char *key, int index, int sub)
{
    if (index < 0)
        snprintf(buf, len, "$%s", key);
    else if (sub < 0)
        snprintf(buf, len, "$%s%%%d", key, index);
    else
        snprintf(buf, len, "$%s%%%d_%d", key, index, sub);
}

int kr_jeol_require(const kr_jeol_file *f, const char *key, int index, int sub, const kr_jeol_entry **out)
{
    *out = kr_jeol_find(f, key, index, sub);
    if (*out) return KR_OK;
    char name[160];
    key_name(name, sizeof name, key, index, sub);
    long last = f->n ? f->entries[f->n - 1].line : 0;
    return kr_err_at(KR_EINPUT, f->path, 0, "missing required key %s (the file has %ld lines%s)", name, last,
                     f->ends_with_newline ? "" : " and does not end with a newline: truncated?");
}

int kr_jeol_numbers(const kr_jeol_file *f, const kr_jeol_entry *e, double *vals, int n, int at_least)
{
    char name[160];
    key_name(name, sizeof name, e->key, e->index, e->sub);
    const char *p = e->value;
    int found = 0;
    for (;;) {
        while (*p && isspace((unsigned char)*p)) p++;
        if (!*p) break;
        const char *tok = p;
        while (*p && !isspace((unsigned char)*p)) p++;
        char buf[64];
        size_t tl = (size_t)(p - tok);
        if (found >= n) {
            if (at_least) break;
            return kr_err_at(KR_EINPUT, f->path, e->line, "%s: expected %d number%s, found more: '%s'", name, n,
                             n == 1 ? "" : "s", e->value);
        }
        if (tl >= sizeof buf) tl = sizeof buf - 1;
        memcpy(buf, tok, tl);
        buf[tl] = '\0';
        if (kr_parse_double(buf, &vals[found]))
            return kr_err_at(KR_EINPUT, f->path, e->line, "%s: field %d is not a number: '%s'", name, found + 1, buf);
        found++;
    }
    if (found < n) {
        int last = (size_t)(e - f->entries) + 1 == f->n;
        return kr_err_at(KR_EINPUT, f->path, e->line, "%s: expected %d number%s, found %d%s", name, n,
                         n == 1 ? "" : "s", found,
                         last && !f->ends_with_newline ? " (last line, no newline: truncated file?)" : "");
    }
    return KR_OK;
}

int kr_jeol_get_double(const kr_jeol_file *f, const char *key, int index, int sub, double *out)
{
    const kr_jeol_entry *e;
    int rc = kr_jeol_require(f, key, index, sub, &e);
    if (rc) return rc;
    return kr_jeol_numbers(f, e, out, 1, 0);
}

int kr_jeol_max_index(const kr_jeol_file *f, const char *key)
{
    int m = -1;
    for (size_t i = 0; i < f->n; i++)
        if (f->entries[i].index > m && strcmp(f->entries[i].key, key) == 0) m = f->entries[i].index;
    return m;
}

int kr_jeol_token(const char *value, int i, char *buf, size_t len)
{
    const char *p = value;
    for (int k = 0;; k++) {
        while (*p && isspace((unsigned char)*p)) p++;
        if (!*p) break;
        const char *tok = p;
        while (*p && !isspace((unsigned char)*p)) p++;
        if (k == i) {
            size_t tl = (size_t)(p - tok);
            if (tl >= len) tl = len - 1;
            memcpy(buf, tok, tl);
            buf[tl] = '\0';
            return 1;
        }
    }
    if (len) buf[0] = '\0';
    return 0;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *s)
{
    if (s[0] < 0x80) return 1;
    size_t n;
    unsigned min;
    unsigned c;
    if ((s[0] & 0xE0) == 0xC0) { n = 2; min = 0x80; c = s[0] & 0x1F; }
    else if ((s[0] & 0xF0) == 0xE0) { n = 3; min = 0x800; c = s[0] & 0x0F; }
    else if ((s[0] & 0xF8) == 0xF0) { n = 4; min = 0x10000; c = s[0] & 0x07; }
    else return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    return n;
}

static int valid_utf8(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_seq(p);
        if (!n) return 0;
        p += n;
    }
    return 1;
}

/* Copy valid UTF-8 from in into buf, replacing invalid bytes with '?' and truncating on a boundary. */
static void copy_utf8(const char *in, char *buf, size_t len)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;
    while (*p) {
        size_t n = utf8_seq(p);
        if (!n) {
            if (o + 1 >= len) break;
            buf[o++] = '?';
            p++;
            continue;
        }
        if (o + n >= len) break;
        memcpy(buf + o, p, n);
        o += n;
        p += n;
    }
    buf[o] = '\0';
}

void kr_jeol_to_utf8(const char *in, char *buf, size_t len)
{
    if (!len) return;
    buf[0] = '\0';
    if (!in) return;
    if (valid_utf8(in)) {
        copy_utf8(in, buf, len);
        return;
    }
    /* Shift-JIS (Windows code page 932) is what JEOL's Japanese-locale software writes */
    iconv_t cd = iconv_open("UTF-8", "CP932");
    if (cd != (iconv_t)-1) {
        size_t inl = strlen(in), outl = len - 1;
        char *ip = (char *)(uintptr_t)in, *op = buf; /* iconv's API is not const-correct */
        size_t r = iconv(cd, &ip, &inl, &op, &outl);
        iconv_close(cd);
        if (r != (size_t)-1) {
            *op = '\0';
            /* the output may have been cut mid-character only if outl ran out; re-validate */
            char tmp[512];
            if (strlen(buf) < sizeof tmp) {
                memcpy(tmp, buf, strlen(buf) + 1);
                copy_utf8(tmp, buf, len);
            }
            return;
        }
    }
    copy_utf8(in, buf, len);
}
