/* Run configuration: strict YAML (libyaml) validated against the stages' parameter tables.
 * Every scalar parameter is declared once in a kr_param table (name, type, default, unit, range, help);
 * the same table validates the YAML, prints `kreep config --defaults` and goes into provenance.
 * Structured sections (lists of inputs, per-element settings) are KR_PT_NODE parameters read through
 * the kr_node API, with file/line/column on every node for error messages. */
#ifndef KR_CONFIG_H
#define KR_CONFIG_H
#include <stddef.h>
#include <stdio.h>

typedef enum {
    KR_PT_BOOL,
    KR_PT_INT,
    KR_PT_DOUBLE,
    KR_PT_STRING,
    KR_PT_CHOICE, /* one of `choices` ("xpp|pap|zaf") */
    KR_PT_NODE    /* any YAML structure; the stage validates it (lists, maps) */
} kr_param_type;

typedef struct {
    const char *name;    /* dotted path: "epma.model" */
    kr_param_type type;
    const char *def;     /* default as YAML text ("xpp", "1.1", "true"); NULL: no default (optional) */
    const char *unit;    /* "µs", "kV", "" */
    double min, max;     /* numeric range, inclusive; ignored when min > max */
    const char *choices; /* KR_PT_CHOICE: '|'-separated */
    const char *help;    /* one line */
} kr_param;

typedef struct {
    const char *stage;     /* "epma" */
    const kr_param *params;
    size_t n;
} kr_param_table;

/* YAML node tree (read-only for stages). */
typedef enum { KR_NODE_SCALAR, KR_NODE_SEQ, KR_NODE_MAP } kr_node_kind;
typedef struct kr_node kr_node;
kr_node_kind kr_node_kind_of(const kr_node *n);
const char *kr_node_scalar(const kr_node *n);              /* NULL unless scalar */
size_t kr_node_len(const kr_node *n);                       /* items of seq or pairs of map */
const kr_node *kr_node_item(const kr_node *n, size_t i);    /* seq item / map value */
const char *kr_node_key(const kr_node *n, size_t i);        /* map key */
const kr_node *kr_node_get(const kr_node *map, const char *key); /* NULL if absent */
const char *kr_node_file(const kr_node *n);
long kr_node_line(const kr_node *n);
long kr_node_col(const kr_node *n);
/* Typed scalar reads with errors naming file:line:col. */
int kr_node_double(const kr_node *n, double *out);
int kr_node_long(const kr_node *n, long *out);
int kr_node_bool(const kr_node *n, int *out);

typedef struct kr_config kr_config;

/* Load `path` and validate it against the tables (unknown key -> error naming file:line:col and the
 * nearest valid key). `overrides` are "a.b=value" strings from --set. Owner: caller (kr_config_free). */
int kr_config_load(const char *path, const kr_param_table *tables, size_t ntables,
                   char *const *overrides, size_t noverrides, kr_config **out);
void kr_config_free(kr_config *cfg);

/* Typed reads of declared parameters (value from YAML, --set, or the default). */
double kr_config_double(const kr_config *cfg, const char *name);
long kr_config_long(const kr_config *cfg, const char *name);
int kr_config_bool(const kr_config *cfg, const char *name);
const char *kr_config_string(const kr_config *cfg, const char *name); /* NULL if unset, no default */
const kr_node *kr_config_node(const kr_config *cfg, const char *name); /* NULL if absent */
int kr_config_has(const kr_config *cfg, const char *name);            /* set in YAML or --set */
const char *kr_config_path(const kr_config *cfg);                     /* the run.yaml path */
/* Resolve a path written in the config relative to the config file's folder. Caller frees. */
char *kr_config_resolve_path(const kr_config *cfg, const char *rel);
/* The effective config as YAML text (defaults filled in), for provenance. Caller frees. */
char *kr_config_effective_yaml(const kr_config *cfg);

/* ---- Additions (engine): ---------------------------------------------------------------------------
 * Same as kr_config_load for YAML text in memory; `name` stands for the file in messages. */
int kr_config_load_string(const char *name, const char *yaml, size_t len, const kr_param_table *tables,
                          size_t ntables, char *const *overrides, size_t noverrides, kr_config **out);
/* The section (table stage name, e.g. "epma") appears in the YAML or in a --set. */
int kr_config_has_section(const kr_config *cfg, const char *section);
/* Where a parameter's value came from: "yaml", "--set", "default", "unset"; NULL if undeclared. */
const char *kr_config_source(const kr_config *cfg, const char *name);
/* Resolve the file/folder named by scalar node `n` relative to the config's folder and check that it
 * can be opened; the error names file:line:col. Caller frees *out. */
int kr_config_input_path(const kr_config *cfg, const kr_node *n, char **out);
/* Iterate over every declared parameter (all tables, table order): its declaration, its value as text
 * ("" if unset; "<structure>" for KR_PT_NODE) and its source. Returns 0 past the end. */
size_t kr_config_nparams(const kr_config *cfg);
int kr_config_param(const kr_config *cfg, size_t i, const kr_param **param, const char **value,
                    const char **source);
/* Stage name (table) of the i-th parameter. */
const char *kr_config_param_stage(const kr_config *cfg, size_t i);
/* Print every parameter of the tables as commented YAML (`kreep config --defaults`). */
int kr_config_print_defaults(FILE *out, const kr_param_table *tables, size_t ntables);

#endif
