/* Internal to kr_pipeline: libyaml -> kr_node tree (file/line/column on every node) and back to YAML
 * text. The public read-only node API is in config.h. */
#ifndef KR_YAML_TREE_H
#define KR_YAML_TREE_H
#include "config.h"

#include <stddef.h>

struct kr_node {
    kr_node_kind kind;
    char *scalar;     /* owned; SCALAR only */
    int plain;        /* scalar written without quotes (so "~", "null" and "" mean null) */
    kr_node **keys;   /* MAP: key nodes (scalars) */
    kr_node **items;  /* SEQ items or MAP values */
    size_t n, cap;
    const char *file; /* borrowed: outlives the tree (owned by the config) */
    long line, col;   /* 1-based; 0 = no position (--set, defaults) */
};

/* Parse one YAML document from `buf` (len bytes). `file` names it in errors and on the nodes (borrowed:
 * must outlive the tree). An empty document gives a NULL tree and KR_OK. Aliases are rejected;
 * duplicate keys in a mapping are an error naming both places. Owner: caller (kr_node_free). */
int kr_yaml_parse(const char *file, const char *buf, size_t len, kr_node **out);
void kr_node_free(kr_node *n);
/* A scalar node (copy of text), for defaults. Owner: caller. */
kr_node *kr_node_new_scalar(const char *text, const char *file, long line, long col);
/* Plain scalar meaning null: "", "~", "null", "Null", "NULL". */
int kr_node_is_null(const kr_node *n);
/* "file:line:col" (or just "file" without position) into buf. */
const char *kr_node_where(const kr_node *n, char *buf, size_t len);

/* Strict scalar parses (0 = ok): true/yes/on/false/no/off (any case); a finite number. */
int kr_parse_bool_text(const char *s, int *out);
int kr_parse_double_finite(const char *s, double *out);

/* Growable text buffer used by the emitters. */
typedef struct {
    char *data;
    size_t len, cap;
    int failed;
} kr_buf;
void kr_buf_put(kr_buf *b, const char *s, size_t n);
void kr_buf_printf(kr_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
