/* libyaml event stream -> kr_node tree with positions. */
#include "yaml_tree.h"

#include "error.h"
#include "text.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

enum { KR_YAML_MAX_DEPTH = 64 };

void kr_buf_put(kr_buf *b, const char *s, size_t n)
{
    if (b->failed) return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1) cap *= 2;
        char *p = realloc(b->data, cap);
        if (!p) {
            b->failed = 1;
            return;
        }
        b->data = p;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void kr_buf_printf(kr_buf *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof small) {
        kr_buf_put(b, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    if (!big) {
        b->failed = 1;
        return;
    }
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    kr_buf_put(b, big, (size_t)n);
    free(big);
}

static kr_node *node_new(kr_node_kind kind, const char *file, long line, long col)
{
    kr_node *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->kind = kind;
    n->file = file;
    n->line = line;
    n->col = col;
    return n;
}

kr_node *kr_node_new_scalar(const char *text, const char *file, long line, long col)
{
    kr_node *n = node_new(KR_NODE_SCALAR, file, line, col);
    if (!n) return NULL;
    n->scalar = strdup(text ? text : "");
    n->plain = 1;
    if (!n->scalar) {
        free(n);
        return NULL;
    }
    return n;
}

void kr_node_free(kr_node *n)
{
    if (!n) return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys) kr_node_free(n->keys[i]);
        kr_node_free(n->items[i]);
    }
    free(n->keys);
    free(n->items);
    free(n->scalar);
    free(n);
}

static int node_append(kr_node *parent, kr_node *key, kr_node *value)
{
    if (parent->n == parent->cap) {
        size_t cap = parent->cap ? 2 * parent->cap : 8;
        kr_node **items = realloc(parent->items, cap * sizeof *items);
        if (!items) return kr_err(KR_ENOMEM, "out of memory reading YAML");
        parent->items = items;
        if (parent->kind == KR_NODE_MAP) {
            kr_node **keys = realloc(parent->keys, cap * sizeof *keys);
            if (!keys) return kr_err(KR_ENOMEM, "out of memory reading YAML");
            parent->keys = keys;
        }
        parent->cap = cap;
    }
    if (parent->kind == KR_NODE_MAP) parent->keys[parent->n] = key;
    parent->items[parent->n++] = value;
    return KR_OK;
}

const char *kr_node_where(const kr_node *n, char *buf, size_t len)
{
    if (!n) {
        snprintf(buf, len, "?");
    } else if (n->line > 0) {
        snprintf(buf, len, "%s:%ld:%ld", n->file ? n->file : "?", n->line, n->col);
    } else {
        snprintf(buf, len, "%s", n->file ? n->file : "?");
    }
    return buf;
}

int kr_node_is_null(const kr_node *n)
{
    if (!n || n->kind != KR_NODE_SCALAR || !n->plain) return 0;
    const char *s = n->scalar;
    return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static const char *event_name(yaml_event_type_t t)
{
    switch (t) {
    case YAML_SCALAR_EVENT: return "a scalar";
    case YAML_SEQUENCE_START_EVENT: return "a list";
    case YAML_MAPPING_START_EVENT: return "a mapping";
    case YAML_ALIAS_EVENT: return "an alias";
    default: return "an unexpected YAML event";
    }
}

typedef struct {
    yaml_parser_t parser;
    const char *file;
    const char *buf;
    size_t len;
} parse_state;

static int next_event(parse_state *st, yaml_event_t *ev)
{
    if (yaml_parser_parse(&st->parser, ev)) return KR_OK;
    if (st->parser.error == YAML_READER_ERROR) {
        /* encoding errors carry a byte offset, not a mark: count lines up to it */
        size_t off = st->parser.problem_offset < st->len ? st->parser.problem_offset : st->len;
        unsigned long line = 1, col = 1;
        for (size_t i = 0; i < off; i++) {
            if (st->buf[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return kr_err(KR_EINPUT, "%s:%lu:%lu: bad YAML: %s (byte 0x%02x; the file must be UTF-8 text)", st->file,
                      line, col, st->parser.problem ? st->parser.problem : "unreadable text",
                      (unsigned)(st->parser.problem_value & 0xff));
    }
    const yaml_mark_t *m = &st->parser.problem_mark;
    const char *problem = st->parser.problem ? st->parser.problem : "malformed YAML";
    if (st->parser.context) {
        const yaml_mark_t *c = &st->parser.context_mark;
        return kr_err(KR_EINPUT, "%s:%lu:%lu: bad YAML: %s %s (which starts at line %lu, column %lu)", st->file,
                      (unsigned long)m->line + 1, (unsigned long)m->column + 1, problem, st->parser.context,
                      (unsigned long)c->line + 1, (unsigned long)c->column + 1);
    }
    return kr_err(KR_EINPUT, "%s:%lu:%lu: bad YAML: %s", st->file, (unsigned long)m->line + 1,
                  (unsigned long)m->column + 1, problem);
}

/* Build the node that starts with `ev` (consumed here). */
static int parse_node(parse_state *st, yaml_event_t *ev, int depth, kr_node **out)
{
    int rc = KR_OK;
    kr_node *n = NULL;
    long line = (long)ev->start_mark.line + 1, col = (long)ev->start_mark.column + 1;
    *out = NULL;
    if (depth > KR_YAML_MAX_DEPTH) {
        rc = kr_err(KR_EINPUT, "%s:%ld:%ld: YAML nested deeper than %d levels", st->file, line, col,
                    KR_YAML_MAX_DEPTH);
        goto cleanup;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n = node_new(KR_NODE_SCALAR, st->file, line, col);
        if (!n || !(n->scalar = malloc(ev->data.scalar.length + 1))) {
            rc = kr_err(KR_ENOMEM, "out of memory reading YAML");
            goto cleanup;
        }
        memcpy(n->scalar, ev->data.scalar.value, ev->data.scalar.length);
        n->scalar[ev->data.scalar.length] = '\0';
        if (strlen(n->scalar) != ev->data.scalar.length) {
            rc = kr_err(KR_EINPUT, "%s:%ld:%ld: NUL character inside a scalar", st->file, line, col);
            goto cleanup;
        }
        n->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_map = ev->type == YAML_MAPPING_START_EVENT;
        yaml_event_type_t end = is_map ? YAML_MAPPING_END_EVENT : YAML_SEQUENCE_END_EVENT;
        n = node_new(is_map ? KR_NODE_MAP : KR_NODE_SEQ, st->file, line, col);
        if (!n) {
            rc = kr_err(KR_ENOMEM, "out of memory reading YAML");
            goto cleanup;
        }
        for (;;) {
            yaml_event_t e;
            if ((rc = next_event(st, &e))) goto cleanup;
            if (e.type == end) {
                yaml_event_delete(&e);
                break;
            }
            kr_node *key = NULL, *value = NULL;
            if (is_map) {
                if (e.type != YAML_SCALAR_EVENT) {
                    rc = kr_err(KR_EINPUT, "%s:%lu:%lu: a key must be a plain name, found %s", st->file,
                                (unsigned long)e.start_mark.line + 1, (unsigned long)e.start_mark.column + 1,
                                event_name(e.type));
                    yaml_event_delete(&e);
                    goto cleanup;
                }
                if ((rc = parse_node(st, &e, depth + 1, &key))) goto cleanup;
                for (size_t i = 0; i < n->n; i++)
                    if (!strcmp(n->keys[i]->scalar, key->scalar)) {
                        rc = kr_err(KR_EINPUT, "%s:%ld:%ld: duplicate key '%s' (first at line %ld, column %ld)",
                                    st->file, key->line, key->col, key->scalar, n->keys[i]->line,
                                    n->keys[i]->col);
                        kr_node_free(key);
                        goto cleanup;
                    }
                if ((rc = next_event(st, &e))) {
                    kr_node_free(key);
                    goto cleanup;
                }
            }
            rc = parse_node(st, &e, depth + 1, &value);
            if (!rc) rc = node_append(n, key, value);
            if (rc) {
                kr_node_free(key);
                kr_node_free(value);
                goto cleanup;
            }
        }
        break;
    }
    case YAML_ALIAS_EVENT:
        rc = kr_err(KR_EINPUT, "%s:%ld:%ld: YAML aliases (*name) are not supported in kreep configs",
                    st->file, line, col);
        goto cleanup;
    default:
        rc = kr_err(KR_EINPUT, "%s:%ld:%ld: unexpected YAML structure", st->file, line, col);
        goto cleanup;
    }
cleanup:
    yaml_event_delete(ev);
    if (rc) {
        kr_node_free(n);
        n = NULL;
    }
    *out = n;
    return rc;
}

int kr_yaml_parse(const char *file, const char *buf, size_t len, kr_node **out)
{
    parse_state st;
    int rc = KR_OK;
    kr_node *root = NULL;
    *out = NULL;
    st.file = file;
    st.buf = buf;
    st.len = len;
    if (!yaml_parser_initialize(&st.parser)) return kr_err(KR_ENOMEM, "out of memory (YAML parser)");
    yaml_parser_set_input_string(&st.parser, (const unsigned char *)buf, len);
    yaml_parser_set_encoding(&st.parser, YAML_UTF8_ENCODING);
    int in_doc = 0, ndocs = 0;
    for (;;) {
        yaml_event_t ev;
        if ((rc = next_event(&st, &ev))) goto cleanup;
        yaml_event_type_t t = ev.type;
        if (t == YAML_STREAM_END_EVENT) {
            yaml_event_delete(&ev);
            break;
        }
        if (t == YAML_STREAM_START_EVENT || t == YAML_DOCUMENT_END_EVENT) {
            if (t == YAML_DOCUMENT_END_EVENT) in_doc = 0;
            yaml_event_delete(&ev);
            continue;
        }
        if (t == YAML_DOCUMENT_START_EVENT) {
            if (++ndocs > 1) {
                rc = kr_err(KR_EINPUT, "%s:%lu:%lu: more than one YAML document (---) in the file", file,
                            (unsigned long)ev.start_mark.line + 1, (unsigned long)ev.start_mark.column + 1);
                yaml_event_delete(&ev);
                goto cleanup;
            }
            in_doc = 1;
            yaml_event_delete(&ev);
            continue;
        }
        if (!in_doc || root) {
            yaml_event_delete(&ev);
            rc = kr_err(KR_EINPUT, "%s: unexpected YAML structure", file);
            goto cleanup;
        }
        if ((rc = parse_node(&st, &ev, 0, &root))) goto cleanup;
    }
cleanup:
    yaml_parser_delete(&st.parser);
    if (rc) {
        kr_node_free(root);
        root = NULL;
    }
    *out = root;
    return rc;
}

/* Public read-only API (config.h). */
kr_node_kind kr_node_kind_of(const kr_node *n) { return n->kind; }
const char *kr_node_scalar(const kr_node *n) { return n && n->kind == KR_NODE_SCALAR ? n->scalar : NULL; }
size_t kr_node_len(const kr_node *n) { return n && n->kind != KR_NODE_SCALAR ? n->n : 0; }
const kr_node *kr_node_item(const kr_node *n, size_t i) { return n && i < kr_node_len(n) ? n->items[i] : NULL; }
const char *kr_node_key(const kr_node *n, size_t i)
{
    return n && n->kind == KR_NODE_MAP && i < n->n ? n->keys[i]->scalar : NULL;
}
const kr_node *kr_node_get(const kr_node *map, const char *key)
{
    if (!map || map->kind != KR_NODE_MAP) return NULL;
    for (size_t i = 0; i < map->n; i++)
        if (!strcmp(map->keys[i]->scalar, key)) return map->items[i];
    return NULL;
}
const char *kr_node_file(const kr_node *n) { return n ? n->file : NULL; }
long kr_node_line(const kr_node *n) { return n ? n->line : 0; }
long kr_node_col(const kr_node *n) { return n ? n->col : 0; }

static int scalar_or_error(const kr_node *n, const char *what)
{
    char where[512];
    if (!n) return kr_err(KR_EINPUT, "missing value: expected %s", what);
    if (n->kind != KR_NODE_SCALAR)
        return kr_err(KR_EINPUT, "%s: expected %s, found a %s", kr_node_where(n, where, sizeof where), what,
                      n->kind == KR_NODE_MAP ? "mapping" : "list");
    if (kr_node_is_null(n))
        return kr_err(KR_EINPUT, "%s: expected %s, found no value", kr_node_where(n, where, sizeof where), what);
    return KR_OK;
}

int kr_node_double(const kr_node *n, double *out)
{
    char where[512];
    int rc = scalar_or_error(n, "a number");
    if (rc) return rc;
    double v;
    if (kr_parse_double_finite(n->scalar, &v))
        return kr_err(KR_EINPUT, "%s: expected a number, found '%s'", kr_node_where(n, where, sizeof where),
                      n->scalar);
    *out = v;
    return KR_OK;
}

int kr_node_long(const kr_node *n, long *out)
{
    char where[512];
    int rc = scalar_or_error(n, "an integer");
    if (rc) return rc;
    long v;
    if (kr_parse_long(n->scalar, &v))
        return kr_err(KR_EINPUT, "%s: expected an integer, found '%s'", kr_node_where(n, where, sizeof where),
                      n->scalar);
    *out = v;
    return KR_OK;
}

int kr_parse_double_finite(const char *s, double *out)
{
    double v;
    if (kr_parse_double(s, &v) || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int kr_parse_bool_text(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (kr_streq_ci(s, yes[i])) {
            *out = 1;
            return 0;
        }
        if (kr_streq_ci(s, no[i])) {
            *out = 0;
            return 0;
        }
    }
    return -1;
}

int kr_node_bool(const kr_node *n, int *out)
{
    char where[512];
    int rc = scalar_or_error(n, "true or false");
    if (rc) return rc;
    if (kr_parse_bool_text(n->scalar, out))
        return kr_err(KR_EINPUT, "%s: expected true or false, found '%s'", kr_node_where(n, where, sizeof where),
                      n->scalar);
    return KR_OK;
}
