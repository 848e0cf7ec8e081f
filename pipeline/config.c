/* Run configuration: YAML tree validated against the parameter tables (see config.h). */
#include "config.h"

#include "error.h"
#include "text.h"
#include "yaml_tree.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

enum { KR_NAME_MAX = 256 };

typedef enum { SRC_NONE = 0, SRC_DEFAULT, SRC_YAML, SRC_SET } value_source;

typedef struct {
    const kr_param *p;
    const kr_node *node; /* where the value came from (YAML or --set node; default node) */
    value_source src;
    double d;
    long l;
    int b;
    const char *text;    /* scalar text (canonical choice for KR_PT_CHOICE) */
} kr_value;

struct kr_config {
    char *path;         /* config file name as given ("<string>" for in-memory configs) */
    char *dir;          /* its folder, for relative paths */
    kr_node *root;
    kr_node **extra;    /* trees owned besides root: --set values, node defaults */
    size_t nextra, capextra;
    char **extra_names; /* file names of --set nodes ("--set a.b=v"), owned */
    size_t nnames, capnames;
    const kr_param_table *tables; /* borrowed (static tables) */
    size_t ntables;
    kr_value *vals;     /* one per parameter of every table, in table order */
    size_t nvals;
    int *present;       /* per table: section present in the YAML or --set */
};

/* ---- helpers ------------------------------------------------------------------------------------ */

static int keep_tree(kr_config *cfg, kr_node *n)
{
    if (cfg->nextra == cfg->capextra) {
        size_t cap = cfg->capextra ? 2 * cfg->capextra : 8;
        kr_node **p = realloc(cfg->extra, cap * sizeof *p);
        if (!p) {
            kr_node_free(n);
            return kr_err(KR_ENOMEM, "out of memory");
        }
        cfg->extra = p;
        cfg->capextra = cap;
    }
    cfg->extra[cfg->nextra++] = n;
    return KR_OK;
}

static const char *keep_name(kr_config *cfg, const char *s)
{
    if (cfg->nnames == cfg->capnames) {
        size_t cap = cfg->capnames ? 2 * cfg->capnames : 8;
        char **p = realloc(cfg->extra_names, cap * sizeof *p);
        if (!p) return NULL;
        cfg->extra_names = p;
        cfg->capnames = cap;
    }
    char *c = strdup(s);
    if (!c) return NULL;
    cfg->extra_names[cfg->nnames++] = c;
    return c;
}

/* Levenshtein distance (Levenshtein 1966), two-row dynamic programme; names longer than KR_NAME_MAX
 * are compared on their first KR_NAME_MAX bytes. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > KR_NAME_MAX) la = KR_NAME_MAX;
    if (lb > KR_NAME_MAX) lb = KR_NAME_MAX;
    size_t prev[KR_NAME_MAX + 1], cur[KR_NAME_MAX + 1];
    for (size_t j = 0; j <= lb; j++) prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
            size_t del = prev[j] + 1, ins = cur[j - 1] + 1;
            cur[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
        }
        memcpy(prev, cur, (lb + 1) * sizeof prev[0]);
    }
    return prev[lb];
}

/* Nearest parameter or section name to `name`, or NULL when nothing is close. */
static const char *nearest_name(const kr_config *cfg, const char *name)
{
    const char *best = NULL;
    size_t bestd = (size_t)-1;
    for (size_t t = 0; t < cfg->ntables; t++) {
        size_t d = edit_distance(name, cfg->tables[t].stage);
        if (d < bestd) {
            bestd = d;
            best = cfg->tables[t].stage;
        }
        for (size_t i = 0; i < cfg->tables[t].n; i++) {
            d = edit_distance(name, cfg->tables[t].params[i].name);
            if (d < bestd) {
                bestd = d;
                best = cfg->tables[t].params[i].name;
            }
        }
    }
    size_t len = strlen(name);
    size_t limit = len / 3 > 2 ? len / 3 : 2;
    return bestd <= limit ? best : NULL;
}

static kr_value *find_value(const kr_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->nvals; i++)
        if (!strcmp(cfg->vals[i].p->name, name)) return &cfg->vals[i];
    return NULL;
}

static int table_of_section(const kr_config *cfg, const char *section, size_t len)
{
    for (size_t t = 0; t < cfg->ntables; t++)
        if (strlen(cfg->tables[t].stage) == len && !strncmp(cfg->tables[t].stage, section, len)) return (int)t;
    return -1;
}

/* Some parameter lives under `prefix.` (a group such as "epma" or "epma.background"). */
static int is_group(const kr_config *cfg, const char *prefix)
{
    size_t len = strlen(prefix);
    if (table_of_section(cfg, prefix, len) >= 0) return 1;
    for (size_t i = 0; i < cfg->nvals; i++)
        if (!strncmp(cfg->vals[i].p->name, prefix, len) && cfg->vals[i].p->name[len] == '.') return 1;
    return 0;
}

static void mark_present(kr_config *cfg, const char *name)
{
    const char *dot = strchr(name, '.');
    size_t len = dot ? (size_t)(dot - name) : strlen(name);
    for (size_t t = 0; t < cfg->ntables; t++)
        if (strlen(cfg->tables[t].stage) == len && !strncmp(cfg->tables[t].stage, name, len)) cfg->present[t] = 1;
}

static const char *type_name(kr_param_type t)
{
    switch (t) {
    case KR_PT_BOOL: return "true or false";
    case KR_PT_INT: return "an integer";
    case KR_PT_DOUBLE: return "a number";
    case KR_PT_STRING: return "a text";
    case KR_PT_CHOICE: return "one of the choices";
    case KR_PT_NODE: return "a YAML structure";
    }
    return "?";
}

/* Is `s` one of the '|'-separated `choices`? Returns a pointer into choices (its canonical spelling,
 * length in *len) or NULL. */
static const char *match_choice(const char *choices, const char *s, size_t *len)
{
    size_t ls = strlen(s);
    const char *c = choices;
    while (c && *c) {
        const char *bar = strchr(c, '|');
        size_t lc = bar ? (size_t)(bar - c) : strlen(c);
        if (lc == ls && !strncmp(c, s, lc)) {
            *len = lc;
            return c;
        }
        c = bar ? bar + 1 : NULL;
    }
    return NULL;
}

/* Convert and range-check a scalar for parameter v->p; errors name `where`. */
static int convert(kr_value *v, const kr_node *n, const char *where)
{
    const kr_param *p = v->p;
    const char *s = n->scalar;
    int null = kr_node_is_null(n);
    if (null && p->type != KR_PT_STRING)
        return kr_err(KR_EINPUT, "%s: '%s' needs a value (%s)", where, p->name, type_name(p->type));
    v->text = null ? "" : s;
    switch (p->type) {
    case KR_PT_BOOL:
        if (kr_parse_bool_text(s, &v->b))
            return kr_err(KR_EINPUT, "%s: '%s' must be true or false, found '%s'", where, p->name, s);
        v->text = v->b ? "true" : "false";
        break;
    case KR_PT_INT:
        if (kr_parse_long(s, &v->l))
            return kr_err(KR_EINPUT, "%s: '%s' must be an integer, found '%s'", where, p->name, s);
        if (p->min <= p->max && ((double)v->l < p->min || (double)v->l > p->max))
            return kr_err(KR_EINPUT, "%s: '%s' = %ld is out of range [%g, %g]%s%s", where, p->name, v->l, p->min,
                          p->max, p->unit && *p->unit ? " " : "", p->unit ? p->unit : "");
        v->d = (double)v->l;
        break;
    case KR_PT_DOUBLE:
        if (kr_parse_double_finite(s, &v->d))
            return kr_err(KR_EINPUT, "%s: '%s' must be a number, found '%s'", where, p->name, s);
        if (p->min <= p->max && (v->d < p->min || v->d > p->max))
            return kr_err(KR_EINPUT, "%s: '%s' = %s is out of range [%g, %g]%s%s", where, p->name, s, p->min,
                          p->max, p->unit && *p->unit ? " " : "", p->unit ? p->unit : "");
        v->l = (long)v->d;
        break;
    case KR_PT_STRING: break;
    case KR_PT_CHOICE: {
        size_t len = 0;
        if (!match_choice(p->choices, s, &len)) {
            /* suggest the nearest choice */
            const char *c = p->choices, *best = NULL;
            size_t bestd = (size_t)-1, bestlen = 0;
            while (c && *c) {
                const char *bar = strchr(c, '|');
                size_t lc = bar ? (size_t)(bar - c) : strlen(c);
                char one[KR_NAME_MAX + 1];
                snprintf(one, sizeof one, "%.*s", (int)lc, c);
                size_t d = edit_distance(s, one);
                if (d < bestd) {
                    bestd = d;
                    best = c;
                    bestlen = lc;
                }
                c = bar ? bar + 1 : NULL;
            }
            if (best && bestd <= 2)
                return kr_err(KR_EINPUT, "%s: '%s' must be one of %s, found '%s' (did you mean '%.*s'?)", where,
                              p->name, p->choices, s, (int)bestlen, best);
            return kr_err(KR_EINPUT, "%s: '%s' must be one of %s, found '%s'", where, p->name, p->choices, s);
        }
        break;
    }
    case KR_PT_NODE: break;
    }
    return KR_OK;
}

/* Give parameter `v` the value `n` from `src`. */
static int assign(kr_config *cfg, kr_value *v, const kr_node *n, value_source src)
{
    char where[512];
    kr_node_where(n, where, sizeof where);
    if (v->src == SRC_YAML && src == SRC_YAML) {
        char first[512];
        return kr_err(KR_EINPUT, "%s: '%s' is set twice (first at %s)", where, v->p->name,
                      kr_node_where(v->node, first, sizeof first));
    }
    if (v->p->type != KR_PT_NODE && n->kind != KR_NODE_SCALAR) {
        if (v->p->type == KR_PT_CHOICE)
            return kr_err(KR_EINPUT, "%s: '%s' must be one of %s, found a %s", where, v->p->name, v->p->choices,
                          n->kind == KR_NODE_MAP ? "mapping" : "list");
        return kr_err(KR_EINPUT, "%s: '%s' must be %s, found a %s", where, v->p->name, type_name(v->p->type),
                      n->kind == KR_NODE_MAP ? "mapping" : "list");
    }
    kr_value nv = *v;
    nv.node = n;
    nv.src = src;
    if (v->p->type != KR_PT_NODE) {
        int rc = convert(&nv, n, where);
        if (rc) return rc;
    }
    *v = nv;
    mark_present(cfg, v->p->name);
    return KR_OK;
}

static int unknown_key(const kr_config *cfg, const kr_node *key, const char *name)
{
    char where[512];
    kr_node_where(key, where, sizeof where);
    const char *near = nearest_name(cfg, name);
    if (near) return kr_err(KR_EINPUT, "%s: unknown key '%s' (did you mean '%s'?)", where, name, near);
    return kr_err(KR_EINPUT, "%s: unknown key '%s' (see kreep config --defaults)", where, name);
}

/* Walk a mapping whose keys extend `prefix` ("" at the root). */
static int walk_map(kr_config *cfg, const char *prefix, const kr_node *map, int depth)
{
    for (size_t i = 0; i < map->n; i++) {
        const kr_node *key = map->keys[i], *val = map->items[i];
        char name[KR_NAME_MAX];
        char where[512];
        int w = snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", key->scalar);
        if (w < 0 || (size_t)w >= sizeof name || !*key->scalar) return unknown_key(cfg, key, key->scalar);
        kr_value *v = find_value(cfg, name);
        if (v) {
            int rc = assign(cfg, v, val, SRC_YAML);
            if (rc) return rc;
            continue;
        }
        if (!is_group(cfg, name) || depth > 8) return unknown_key(cfg, key, name);
        mark_present(cfg, name);
        if (val->kind == KR_NODE_MAP) {
            int rc = walk_map(cfg, name, val, depth + 1);
            if (rc) return rc;
        } else if (!kr_node_is_null(val)) {
            return kr_err(KR_EINPUT, "%s: '%s' is a section of parameters: expected a mapping (key: value lines), "
                                     "found %s",
                          kr_node_where(val, where, sizeof where), name,
                          val->kind == KR_NODE_SEQ ? "a list" : "a single value");
        }
    }
    return KR_OK;
}

static int apply_override(kr_config *cfg, const char *ov)
{
    const char *eq = strchr(ov, '=');
    if (!eq || eq == ov)
        return kr_err(KR_EUSAGE, "--set expects name=value (e.g. --set epma.model=pap), found '%s'", ov);
    char name[KR_NAME_MAX];
    size_t nlen = (size_t)(eq - ov);
    if (nlen >= sizeof name) return kr_err(KR_EINPUT, "--set %s: name too long", ov);
    memcpy(name, ov, nlen);
    name[nlen] = '\0';
    char label[KR_NAME_MAX + 16];
    snprintf(label, sizeof label, "--set %s", name);
    const char *file = keep_name(cfg, label);
    if (!file) return kr_err(KR_ENOMEM, "out of memory");
    kr_value *v = find_value(cfg, name);
    if (!v) {
        const char *near = nearest_name(cfg, name);
        if (near) return kr_err(KR_EINPUT, "--set %s: unknown parameter '%s' (did you mean '%s'?)", ov, name, near);
        return kr_err(KR_EINPUT, "--set %s: unknown parameter '%s' (see kreep config --defaults)", ov, name);
    }
    kr_node *n = NULL;
    const char *value = eq + 1;
    int rc;
    if (v->p->type == KR_PT_NODE) {
        rc = kr_yaml_parse(file, value, strlen(value), &n);
        if (rc) return rc;
        if (!n) n = kr_node_new_scalar("", file, 0, 0);
    } else {
        n = kr_node_new_scalar(value, file, 0, 0); /* the text as typed, no YAML quoting needed */
    }
    if (!n) return kr_err(KR_ENOMEM, "out of memory");
    /* positions inside a --set value mean nothing to the user: report the option itself */
    if ((rc = keep_tree(cfg, n))) return rc;
    return assign(cfg, v, n, SRC_SET);
}

static int fill_defaults(kr_config *cfg)
{
    for (size_t i = 0; i < cfg->nvals; i++) {
        kr_value *v = &cfg->vals[i];
        if (v->src != SRC_NONE || !v->p->def) continue;
        kr_node *n = NULL;
        int rc;
        if (v->p->type == KR_PT_NODE) {
            rc = kr_yaml_parse("(default)", v->p->def, strlen(v->p->def), &n);
            if (rc) return kr_err(rc, "internal: default of '%s' is not valid YAML", v->p->name);
            if (!n) n = kr_node_new_scalar("", "(default)", 0, 0);
        } else {
            n = kr_node_new_scalar(v->p->def, "(default)", 0, 0);
        }
        if (!n) return kr_err(KR_ENOMEM, "out of memory");
        if ((rc = keep_tree(cfg, n))) return rc;
        kr_value nv = *v;
        nv.node = n;
        nv.src = SRC_DEFAULT;
        if (v->p->type != KR_PT_NODE && (rc = convert(&nv, n, "(default)")))
            return kr_err(rc, "internal: the default of '%s' is invalid", v->p->name);
        *v = nv;
    }
    return KR_OK;
}

static int config_new(const char *path, const kr_param_table *tables, size_t ntables, kr_config **out)
{
    kr_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) return kr_err(KR_ENOMEM, "out of memory");
    *out = cfg;
    cfg->tables = tables;
    cfg->ntables = ntables;
    cfg->path = strdup(path);
    const char *slash = strrchr(path, '/');
    cfg->dir = slash ? strndup(path, (size_t)(slash - path) + (slash == path)) : strdup(".");
    cfg->present = calloc(ntables ? ntables : 1, sizeof *cfg->present);
    size_t n = 0;
    for (size_t t = 0; t < ntables; t++) n += tables[t].n;
    cfg->vals = calloc(n ? n : 1, sizeof *cfg->vals);
    if (!cfg->path || !cfg->dir || !cfg->present || !cfg->vals) return kr_err(KR_ENOMEM, "out of memory");
    for (size_t t = 0; t < ntables; t++)
        for (size_t i = 0; i < tables[t].n; i++) {
            const kr_param *p = &tables[t].params[i];
            if (find_value(cfg, p->name)) return kr_err(KR_EINPUT, "internal: parameter '%s' declared twice", p->name);
            cfg->vals[cfg->nvals++].p = p;
        }
    return KR_OK;
}

static int config_finish(kr_config *cfg, const char *buf, size_t len, char *const *overrides, size_t noverrides)
{
    int rc = kr_yaml_parse(cfg->path, buf, len, &cfg->root);
    if (rc) return rc;
    if (cfg->root && cfg->root->kind != KR_NODE_MAP) {
        char where[512];
        return kr_err(KR_EINPUT, "%s: a run config is a mapping of sections (epma:, laicpms:, ...), found a %s",
                      kr_node_where(cfg->root, where, sizeof where),
                      cfg->root->kind == KR_NODE_SEQ ? "list" : "single value");
    }
    if (cfg->root && (rc = walk_map(cfg, "", cfg->root, 0))) return rc;
    for (size_t i = 0; i < noverrides; i++)
        if ((rc = apply_override(cfg, overrides[i]))) return rc;
    return fill_defaults(cfg);
}

int kr_config_load(const char *path, const kr_param_table *tables, size_t ntables, char *const *overrides,
                   size_t noverrides, kr_config **out)
{
    kr_text t = {0};
    kr_config *cfg = NULL;
    *out = NULL;
    int rc = config_new(path, tables, ntables, &cfg);
    if (rc) goto cleanup;
    if ((rc = kr_text_read(path, &t))) goto cleanup;
    rc = config_finish(cfg, t.data, t.len, overrides, noverrides);
cleanup:
    kr_text_free(&t);
    if (rc) {
        kr_config_free(cfg);
        return kr_err(rc, "invalid run config %s", path);
    }
    *out = cfg;
    return KR_OK;
}

int kr_config_load_string(const char *name, const char *yaml, size_t len, const kr_param_table *tables,
                          size_t ntables, char *const *overrides, size_t noverrides, kr_config **out)
{
    kr_config *cfg = NULL;
    *out = NULL;
    int rc = config_new(name, tables, ntables, &cfg);
    if (!rc) rc = config_finish(cfg, yaml, len, overrides, noverrides);
    if (rc) {
        kr_config_free(cfg);
        return kr_err(rc, "invalid run config %s", name);
    }
    *out = cfg;
    return KR_OK;
}

void kr_config_free(kr_config *cfg)
{
    if (!cfg) return;
    kr_node_free(cfg->root);
    for (size_t i = 0; i < cfg->nextra; i++) kr_node_free(cfg->extra[i]);
    for (size_t i = 0; i < cfg->nnames; i++) free(cfg->extra_names[i]);
    free(cfg->extra);
    free(cfg->extra_names);
    free(cfg->vals);
    free(cfg->present);
    free(cfg->path);
    free(cfg->dir);
    free(cfg);
}

/* ---- typed reads -------------------------------------------------------------------------------- */

static const kr_value *lookup(const kr_config *cfg, const char *name)
{
    const kr_value *v = cfg ? find_value(cfg, name) : NULL;
    if (!v) fprintf(stderr, "kreep: internal: parameter '%s' is not declared in any table\n", name);
    return v;
}

double kr_config_double(const kr_config *cfg, const char *name)
{
    const kr_value *v = lookup(cfg, name);
    if (!v || v->src == SRC_NONE || (v->p->type != KR_PT_DOUBLE && v->p->type != KR_PT_INT)) return NAN;
    return v->d;
}

long kr_config_long(const kr_config *cfg, const char *name)
{
    const kr_value *v = lookup(cfg, name);
    if (!v || v->src == SRC_NONE) return 0;
    if (v->p->type == KR_PT_INT || v->p->type == KR_PT_DOUBLE) return v->l;
    if (v->p->type == KR_PT_BOOL) return v->b;
    return 0;
}

int kr_config_bool(const kr_config *cfg, const char *name)
{
    const kr_value *v = lookup(cfg, name);
    if (!v || v->src == SRC_NONE || v->p->type != KR_PT_BOOL) return 0;
    return v->b;
}

const char *kr_config_string(const kr_config *cfg, const char *name)
{
    const kr_value *v = lookup(cfg, name);
    if (!v || v->src == SRC_NONE || v->p->type == KR_PT_NODE) return NULL;
    return v->text;
}

const kr_node *kr_config_node(const kr_config *cfg, const char *name)
{
    const kr_value *v = lookup(cfg, name);
    if (!v || v->src == SRC_NONE) return NULL;
    return v->node;
}

int kr_config_has(const kr_config *cfg, const char *name)
{
    const kr_value *v = cfg ? find_value(cfg, name) : NULL;
    return v && (v->src == SRC_YAML || v->src == SRC_SET);
}

int kr_config_has_section(const kr_config *cfg, const char *section)
{
    int t = table_of_section(cfg, section, strlen(section));
    return t >= 0 && cfg->present[t];
}

const char *kr_config_path(const kr_config *cfg) { return cfg->path; }

const char *kr_config_source(const kr_config *cfg, const char *name)
{
    const kr_value *v = cfg ? find_value(cfg, name) : NULL;
    if (!v) return NULL;
    switch (v->src) {
    case SRC_YAML: return "yaml";
    case SRC_SET: return "--set";
    case SRC_DEFAULT: return "default";
    case SRC_NONE: return "unset";
    }
    return NULL;
}

char *kr_config_resolve_path(const kr_config *cfg, const char *rel)
{
    if (!rel) return NULL;
    if (rel[0] == '/' || !strcmp(cfg->dir, ".")) return strdup(rel);
    size_t n = strlen(cfg->dir) + strlen(rel) + 2;
    char *p = malloc(n);
    if (p) snprintf(p, n, "%s%s%s", cfg->dir, cfg->dir[strlen(cfg->dir) - 1] == '/' ? "" : "/", rel);
    return p;
}

int kr_config_input_path(const kr_config *cfg, const kr_node *n, char **out)
{
    char where[512];
    *out = NULL;
    if (!n || n->kind != KR_NODE_SCALAR || kr_node_is_null(n))
        return kr_err(KR_EINPUT, "%s: expected a file or folder name", kr_node_where(n, where, sizeof where));
    char *p = kr_config_resolve_path(cfg, n->scalar);
    if (!p) return kr_err(KR_ENOMEM, "out of memory");
    FILE *f = fopen(p, "rb");
    if (!f) {
        if (strcmp(p, n->scalar))
            kr_err(KR_EINPUT, "%s: input '%s' does not exist or cannot be read (looked for %s)",
                   kr_node_where(n, where, sizeof where), n->scalar, p);
        else
            kr_err(KR_EINPUT, "%s: input '%s' does not exist or cannot be read", kr_node_where(n, where, sizeof where),
                   n->scalar);
        free(p);
        return KR_EINPUT;
    }
    fclose(f);
    *out = p;
    return KR_OK;
}

/* ---- effective YAML ------------------------------------------------------------------------------ */

static int emit_write(void *data, unsigned char *buffer, size_t size)
{
    kr_buf *b = data;
    kr_buf_put(b, (const char *)buffer, size);
    return !b->failed;
}

static int emit_scalar(yaml_emitter_t *em, const char *s, int plain)
{
    yaml_event_t ev;
    yaml_scalar_style_t style = plain ? YAML_ANY_SCALAR_STYLE : YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)(uintptr_t)s, (int)strlen(s), 1, 1, style))
        return -1;
    return yaml_emitter_emit(em, &ev) ? 0 : -1;
}

static int emit_simple(yaml_emitter_t *em, int start_map, int end_map, int start_seq, int end_seq)
{
    yaml_event_t ev;
    int ok = 1;
    if (start_map) ok = yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_MAPPING_STYLE);
    else if (end_map) ok = yaml_mapping_end_event_initialize(&ev);
    else if (start_seq) ok = yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1, YAML_BLOCK_SEQUENCE_STYLE);
    else if (end_seq) ok = yaml_sequence_end_event_initialize(&ev);
    if (!ok) return -1;
    return yaml_emitter_emit(em, &ev) ? 0 : -1;
}

static int emit_node(yaml_emitter_t *em, const kr_node *n, int depth)
{
    if (depth > 80) return -1;
    switch (n->kind) {
    case KR_NODE_SCALAR: return emit_scalar(em, n->scalar, n->plain);
    case KR_NODE_SEQ:
        if (emit_simple(em, 0, 0, 1, 0)) return -1;
        for (size_t i = 0; i < n->n; i++)
            if (emit_node(em, n->items[i], depth + 1)) return -1;
        return emit_simple(em, 0, 0, 0, 1);
    case KR_NODE_MAP:
        if (emit_simple(em, 1, 0, 0, 0)) return -1;
        for (size_t i = 0; i < n->n; i++)
            if (emit_scalar(em, n->keys[i]->scalar, n->keys[i]->plain) || emit_node(em, n->items[i], depth + 1))
                return -1;
        return emit_simple(em, 0, 1, 0, 0);
    }
    return -1;
}

static int emit_value(yaml_emitter_t *em, const kr_value *v)
{
    if (v->p->type == KR_PT_NODE) return emit_node(em, v->node, 0);
    if (v->p->type == KR_PT_STRING) return emit_scalar(em, v->text, 0); /* always a string on reload */
    return emit_scalar(em, v->text, 1);
}

/* Emit the parameters under `prefix` (e.g. "epma" or "epma.background"), grouping dotted names into
 * nested mappings in declaration order of first appearance (across every table of that section). */
static int emit_group(yaml_emitter_t *em, const kr_config *cfg, const char *prefix)
{
    size_t plen = strlen(prefix);
    if (emit_simple(em, 1, 0, 0, 0)) return -1;
    for (size_t i = 0; i < cfg->nvals; i++) {
        const kr_value *v = &cfg->vals[i];
        const char *name = v->p->name;
        if (strncmp(name, prefix, plen) || name[plen] != '.') continue;
        const char *rest = name + plen + 1;
        const char *dot = strchr(rest, '.');
        if (v->src == SRC_NONE) continue;
        if (!dot) {
            if (emit_scalar(em, rest, 1) || emit_value(em, v)) return -1;
            continue;
        }
        /* a sub-group: emitted at its first parameter that has a value */
        size_t glen = (size_t)(dot - name);
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) {
            const char *o = cfg->vals[j].p->name;
            seen = !strncmp(o, name, glen) && o[glen] == '.' && cfg->vals[j].src != SRC_NONE;
        }
        if (seen) continue;
        char sub[KR_NAME_MAX], key[KR_NAME_MAX];
        snprintf(sub, sizeof sub, "%.*s", (int)glen, name);
        snprintf(key, sizeof key, "%.*s", (int)(dot - rest), rest);
        if (emit_scalar(em, key, 1) || emit_group(em, cfg, sub)) return -1;
    }
    return emit_simple(em, 0, 1, 0, 0);
}

char *kr_config_effective_yaml(const kr_config *cfg)
{
    yaml_emitter_t em;
    yaml_event_t ev;
    kr_buf b = {0};
    int ok = 0;
    if (!yaml_emitter_initialize(&em)) return NULL;
    yaml_emitter_set_output(&em, emit_write, &b);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, 100);
    if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) || !yaml_emitter_emit(&em, &ev)) goto cleanup;
    if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) || !yaml_emitter_emit(&em, &ev))
        goto cleanup;
    if (emit_simple(&em, 1, 0, 0, 0)) goto cleanup;
    for (size_t t = 0; t < cfg->ntables; t++) {
        if (!cfg->present[t] || table_of_section(cfg, cfg->tables[t].stage, strlen(cfg->tables[t].stage)) != (int)t)
            continue; /* absent, or a further table of a section already written */
        if (emit_scalar(&em, cfg->tables[t].stage, 1) || emit_group(&em, cfg, cfg->tables[t].stage)) goto cleanup;
    }
    if (emit_simple(&em, 0, 1, 0, 0)) goto cleanup;
    if (!yaml_document_end_event_initialize(&ev, 1) || !yaml_emitter_emit(&em, &ev)) goto cleanup;
    if (!yaml_stream_end_event_initialize(&ev) || !yaml_emitter_emit(&em, &ev)) goto cleanup;
    ok = !b.failed;
cleanup:
    yaml_emitter_delete(&em);
    if (!ok) {
        free(b.data);
        kr_err(KR_ENOMEM, "cannot write the effective config as YAML");
        return NULL;
    }
    return b.data;
}

/* ---- iteration and --defaults ------------------------------------------------------------------- */

size_t kr_config_nparams(const kr_config *cfg) { return cfg->nvals; }

int kr_config_param(const kr_config *cfg, size_t i, const kr_param **param, const char **value,
                    const char **source)
{
    if (i >= cfg->nvals) return 0;
    const kr_value *v = &cfg->vals[i];
    if (param) *param = v->p;
    if (value) *value = v->src == SRC_NONE ? "" : v->p->type == KR_PT_NODE ? "<structure>" : v->text;
    if (source) *source = kr_config_source(cfg, v->p->name);
    return 1;
}

const char *kr_config_param_stage(const kr_config *cfg, size_t i)
{
    if (i >= cfg->nvals) return NULL;
    const char *name = cfg->vals[i].p->name;
    const char *dot = strchr(name, '.');
    int t = table_of_section(cfg, name, dot ? (size_t)(dot - name) : strlen(name));
    return t >= 0 ? cfg->tables[t].stage : NULL;
}

static const char *ptype_word(kr_param_type t)
{
    switch (t) {
    case KR_PT_BOOL: return "bool";
    case KR_PT_INT: return "int";
    case KR_PT_DOUBLE: return "number";
    case KR_PT_STRING: return "text";
    case KR_PT_CHOICE: return "choice";
    case KR_PT_NODE: return "structure";
    }
    return "?";
}

/* One parameter: a comment line with type, unit, range and help, then `key: default` (commented out
 * when there is no default). Nested names are written as dotted keys, which kreep reads back. */
static void print_param(FILE *out, const kr_param *p, const char *key, int indent)
{
    fprintf(out, "%*s# %s", indent, "", p->help ? p->help : "");
    fprintf(out, " [%s", ptype_word(p->type));
    if (p->unit && *p->unit) fprintf(out, ", unit %s", p->unit);
    if (p->type == KR_PT_CHOICE && p->choices) fprintf(out, ", one of %s", p->choices);
    if ((p->type == KR_PT_INT || p->type == KR_PT_DOUBLE) && p->min <= p->max)
        fprintf(out, ", range %g..%g", p->min, p->max);
    fprintf(out, "]\n");
    if (!p->def) {
        fprintf(out, "%*s# %s:   (no default: optional)\n", indent, "", key);
    } else if (p->type == KR_PT_NODE && (strchr(p->def, '\n'))) {
        fprintf(out, "%*s%s:\n", indent, "", key);
        const char *s = p->def;
        while (*s) {
            const char *nl = strchr(s, '\n');
            size_t len = nl ? (size_t)(nl - s) : strlen(s);
            if (len) fprintf(out, "%*s%.*s\n", indent + 2, "", (int)len, s);
            s += len + (nl != NULL);
        }
    } else {
        fprintf(out, "%*s%s: %s\n", indent, "", key, p->def);
    }
}

int kr_config_print_defaults(FILE *out, const kr_param_table *tables, size_t ntables)
{
    fprintf(out, "# kreep: every parameter of every stage, with its default.\n"
                 "# Generated by `kreep config --defaults`; do not edit (edit the stage's parameter table).\n"
                 "# A run.yaml needs only the sections of the stages it runs and the values it changes.\n");
    for (size_t t = 0; t < ntables; t++) {
        const kr_param_table *tb = &tables[t];
        size_t slen = strlen(tb->stage);
        fprintf(out, "\n%s:\n", tb->stage);
        if (tb->n == 0) fprintf(out, "  # (no parameters)\n");
        for (size_t i = 0; i < tb->n; i++) {
            const kr_param *p = &tb->params[i];
            const char *key = p->name;
            if (!strncmp(key, tb->stage, slen) && key[slen] == '.') key += slen + 1;
            print_param(out, p, key, 2);
        }
    }
    return ferror(out) ? kr_err(KR_EIO, "cannot write the defaults") : KR_OK;
}
