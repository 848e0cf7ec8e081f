/* Nightly operation (see nightly.h). */
#include "nightly.h"

#include "product_rows.h"

#include "calib.h"
#include "error.h"
#include "lock.h"
#include "merge.h"
#include "text.h"
#include "yaml_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <glob.h>
#include <hdf5.h>
#include <signal.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

typedef struct {
    char *name, *inbox, *template_path, *inputs_key;
    char **inputs;
    size_t ninputs;
    char **sets;
    size_t nsets;
    int map_entry; /* entry: map - every entry is a JEOL map folder, one item of inputs_key built per entry */
} instrument;

struct kr_nightly {
    char *path, *dir;
    char *products, *ledger, *lock, *quarantine_dir, *marker;
    double scan_interval_s;
    long max_attempts;
    long jobs; /* runs at once (forked processes) */
    int rerun_on_touch; /* a newer mtime than the ledger's (content unchanged) reruns the entry */
    instrument *inst;
    size_t ninst;
};

/* ---- small helpers ------------------------------------------------------------------------------- */

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *p = malloc(la + lb + 2);
    if (!p) return NULL;
    memcpy(p, a, la);
    size_t k = la;
    if (la && a[la - 1] != '/') p[k++] = '/';
    memcpy(p + k, b, lb + 1);
    return p;
}

static char *resolve(const char *dir, const char *rel) { return rel[0] == '/' ? strdup(rel) : join(dir, rel); }

static int mkdir_p(const char *path)
{
    char *p = strdup(path);
    if (!p) return kr_err(KR_ENOMEM, "out of memory");
    int rc = KR_OK;
    for (char *s = p + 1;; s++) {
        if (*s != '/' && *s != '\0') continue;
        char c = *s;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            rc = kr_err(KR_EIO, "%s: cannot create the folder: %s", p, strerror(errno));
            break;
        }
        *s = c;
        if (!c) break;
    }
    free(p);
    return rc;
}

static char *dir_of(const char *path)
{
    const char *s = strrchr(path, '/');
    if (!s) return strdup(".");
    if (s == path) return strdup("/");
    return strndup(path, (size_t)(s - path));
}

static long long mtime_ns_of(const struct stat *st)
{
    return (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
}

static void strv_free(char **v, size_t n)
{
    if (!v) return;
    for (size_t i = 0; i < n; i++) free(v[i]);
    free(v);
}

static int strv_push(char ***v, size_t *n, size_t *cap, char *s)
{
    if (!s) return kr_err(KR_ENOMEM, "out of memory");
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 8;
        char **nv = realloc(*v, nc * sizeof *nv);
        if (!nv) {
            free(s);
            return kr_err(KR_ENOMEM, "out of memory");
        }
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = s;
    return KR_OK;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int kr_nightly_yaml_quote(const char *s, char **out)
{
    kr_buf b = {0};
    kr_buf_put(&b, "\"", 1);
    for (const char *c = s; *c; c++) {
        unsigned char u = (unsigned char)*c;
        if (u < 0x20 || u == 0x7f) { /* control characters in a file name: YAML escapes */
            kr_buf_printf(&b, "\\x%02x", u);
            continue;
        }
        if (*c == '"' || *c == '\\') kr_buf_put(&b, "\\", 1);
        kr_buf_put(&b, c, 1);
    }
    kr_buf_put(&b, "\"", 1);
    kr_buf_put(&b, "", 1);
    if (b.failed) {
        free(b.data);
        *out = NULL;
        return kr_err(KR_ENOMEM, "out of memory");
    }
    *out = b.data;
    return KR_OK;
}

int kr_nightly_calib_hash(char hex[KR_SHA256_HEX])
{
    kr_buf b = {0};
    int rc = KR_OK;
    for (size_t i = 0;; i++) {
        const char *name = kr_calib_name(i);
        if (!name) break;
        kr_text t;
        if ((rc = kr_calib_text(name, &t))) {
            rc = kr_err(rc, "cannot read calibration file %s for the run hash", name);
            goto cleanup;
        }
        char h[KR_SHA256_HEX];
        rc = kr_sha256_mem(t.data, t.len, h);
        kr_text_free(&t);
        if (rc) goto cleanup;
        kr_buf_printf(&b, "%s\t%s\n", name, h);
    }
    kr_buf_put(&b, "", 1);
    if (b.failed) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = kr_sha256_mem(b.data, b.len, hex);
cleanup:
    free(b.data);
    return rc;
}

/* ---- nightly.yaml --------------------------------------------------------------------------------- */

static void inst_free(instrument *in)
{
    free(in->name);
    free(in->inbox);
    free(in->template_path);
    free(in->inputs_key);
    strv_free(in->inputs, in->ninputs);
    strv_free(in->sets, in->nsets);
}

void kr_nightly_free(kr_nightly *nc)
{
    if (!nc) return;
    for (size_t i = 0; i < nc->ninst; i++) inst_free(&nc->inst[i]);
    free(nc->inst);
    free(nc->path);
    free(nc->dir);
    free(nc->products);
    free(nc->ledger);
    free(nc->lock);
    free(nc->quarantine_dir);
    free(nc->marker);
    free(nc);
}

const char *kr_nightly_products_dir(const kr_nightly *nc) { return nc->products; }
const char *kr_nightly_ledger_path(const kr_nightly *nc) { return nc->ledger; }
const char *kr_nightly_lock_path(const kr_nightly *nc) { return nc->lock; }
void kr_nightly_set_scan_interval(kr_nightly *nc, double seconds) { nc->scan_interval_s = seconds; }
void kr_nightly_set_jobs(kr_nightly *nc, long jobs) { nc->jobs = jobs < 1 ? 1 : jobs; }

static int want_scalar(const kr_node *n, const char *what, const char **out)
{
    char where[512];
    if (!n || n->kind != KR_NODE_SCALAR || kr_node_is_null(n))
        return kr_err(KR_EINPUT, "%s: %s: expected a value", n ? kr_node_where(n, where, sizeof where) : "?", what);
    *out = n->scalar;
    return KR_OK;
}

static int want_strlist(const kr_node *n, const char *what, char ***out, size_t *nout)
{
    char where[512];
    size_t cap = 0;
    if (n->kind == KR_NODE_SCALAR) return strv_push(out, nout, &cap, strdup(n->scalar));
    if (n->kind != KR_NODE_SEQ)
        return kr_err(KR_EINPUT, "%s: %s: expected a list of strings", kr_node_where(n, where, sizeof where), what);
    for (size_t i = 0; i < n->n; i++) {
        const char *s;
        int rc = want_scalar(n->items[i], what, &s);
        if (!rc) rc = strv_push(out, nout, &cap, strdup(s));
        if (rc) return rc;
    }
    return KR_OK;
}

static int load_instrument(kr_nightly *nc, const char *name, const kr_node *m, instrument *in)
{
    char where[512];
    int rc;
    if (!(in->name = strdup(name))) return kr_err(KR_ENOMEM, "out of memory");
    for (const char *c = name; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-'))
            return kr_err(KR_EINPUT, "%s: instrument name '%s': use a-z, 0-9, _ and - only",
                          kr_node_where(m, where, sizeof where), name);
    if (m->kind != KR_NODE_MAP)
        return kr_err(KR_EINPUT, "%s: instruments.%s: expected a mapping (inbox:, template:, ...)",
                      kr_node_where(m, where, sizeof where), name);
    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->keys[i]->scalar;
        const kr_node *v = m->items[i];
        const char *s = NULL;
        if (!strcmp(k, "inbox") || !strcmp(k, "template") || !strcmp(k, "inputs_key")) {
            if ((rc = want_scalar(v, k, &s))) return rc;
            char **dst = !strcmp(k, "inbox") ? &in->inbox : !strcmp(k, "template") ? &in->template_path
                                                                                   : &in->inputs_key;
            *dst = !strcmp(k, "inputs_key") ? strdup(s) : resolve(nc->dir, s);
            if (!*dst) return kr_err(KR_ENOMEM, "out of memory");
        } else if (!strcmp(k, "inputs")) {
            if ((rc = want_strlist(v, k, &in->inputs, &in->ninputs))) return rc;
        } else if (!strcmp(k, "set")) {
            if ((rc = want_strlist(v, k, &in->sets, &in->nsets))) return rc;
        } else if (!strcmp(k, "entry")) {
            if ((rc = want_scalar(v, k, &s))) return rc;
            if (strcmp(s, "exports") && strcmp(s, "map"))
                return kr_err(KR_EINPUT, "%s: instruments.%s.entry: expected 'exports' or 'map', found '%s'",
                              kr_node_where(v, where, sizeof where), name, s);
            in->map_entry = !strcmp(s, "map");
        } else {
            return kr_err(KR_EINPUT, "%s: instruments.%s: unknown key '%s' (expected inbox, template, inputs_key, "
                                     "inputs, set, entry)",
                          kr_node_where(m->keys[i], where, sizeof where), name, k);
        }
    }
    const char *missing = !in->inbox ? "inbox" : !in->template_path ? "template" : !in->inputs_key ? "inputs_key" : NULL;
    if (missing)
        return kr_err(KR_EINPUT, "%s: instruments.%s: '%s' is required", kr_node_where(m, where, sizeof where), name,
                      missing);
    if (in->map_entry && in->ninputs)
        return kr_err(KR_EINPUT, "%s: instruments.%s: 'inputs' is not used with 'entry: map' (the template's item "
                                 "names the files of a map folder: cnd, elements[].file)",
                      kr_node_where(m, where, sizeof where), name);
    return KR_OK;
}

static int load_settings(kr_nightly *nc, const kr_node *m)
{
    char where[512];
    int rc;
    if (m->kind != KR_NODE_MAP)
        return kr_err(KR_EINPUT, "%s: nightly: expected a mapping (products:, ledger:, ...)",
                      kr_node_where(m, where, sizeof where));
    for (size_t i = 0; i < m->n; i++) {
        const char *k = m->keys[i]->scalar;
        const char *s = NULL;
        if ((rc = want_scalar(m->items[i], k, &s))) return rc;
        char **dst = NULL;
        if (!strcmp(k, "products")) dst = &nc->products;
        else if (!strcmp(k, "ledger")) dst = &nc->ledger;
        else if (!strcmp(k, "lock")) dst = &nc->lock;
        else if (!strcmp(k, "quarantine_dir")) dst = &nc->quarantine_dir;
        if (dst) {
            free(*dst);
            if (!(*dst = resolve(nc->dir, s))) return kr_err(KR_ENOMEM, "out of memory");
        } else if (!strcmp(k, "ready_marker")) {
            if (strchr(s, '/'))
                return kr_err(KR_EINPUT, "%s: ready_marker: a file name, not a path ('%s')",
                              kr_node_where(m->items[i], where, sizeof where), s);
            free(nc->marker);
            if (!(nc->marker = strdup(s))) return kr_err(KR_ENOMEM, "out of memory");
        } else if (!strcmp(k, "scan_interval_s")) {
            if ((rc = kr_node_double(m->items[i], &nc->scan_interval_s))) return rc;
            if (nc->scan_interval_s < 0 || nc->scan_interval_s > 86400)
                return kr_err(KR_EINPUT, "%s: scan_interval_s: expected 0 to 86400 s, found %s",
                              kr_node_where(m->items[i], where, sizeof where), s);
        } else if (!strcmp(k, "jobs")) {
            if ((rc = kr_node_long(m->items[i], &nc->jobs))) return rc;
            if (nc->jobs < 1 || nc->jobs > 256)
                return kr_err(KR_EINPUT, "%s: jobs: expected 1 to 256 runs at once, found %s",
                              kr_node_where(m->items[i], where, sizeof where), s);
        } else if (!strcmp(k, "rerun_on_touch")) {
            if ((rc = kr_node_bool(m->items[i], &nc->rerun_on_touch))) return rc;
        } else if (!strcmp(k, "max_attempts")) {
            if ((rc = kr_node_long(m->items[i], &nc->max_attempts))) return rc;
            if (nc->max_attempts < 1 || nc->max_attempts > 1000)
                return kr_err(KR_EINPUT, "%s: max_attempts: expected 1 to 1000, found %s",
                              kr_node_where(m->items[i], where, sizeof where), s);
        } else {
            return kr_err(KR_EINPUT, "%s: nightly: unknown key '%s' (expected products, ledger, lock, "
                                     "scan_interval_s, ready_marker, max_attempts, quarantine_dir, jobs, "
                                     "rerun_on_touch)",
                          kr_node_where(m->keys[i], where, sizeof where), k);
        }
    }
    return KR_OK;
}

int kr_nightly_load(const char *path, kr_nightly **out)
{
    int rc = KR_OK;
    kr_text t = {0};
    kr_node *root = NULL;
    char where[512];
    char real[PATH_MAX];
    *out = NULL;
    kr_nightly *nc = calloc(1, sizeof *nc);
    if (!nc) return kr_err(KR_ENOMEM, "out of memory");
    nc->scan_interval_s = 60;
    nc->max_attempts = 3;
    nc->jobs = 1;
    nc->rerun_on_touch = 1;
    if (!realpath(path, real)) {
        rc = kr_err(KR_EINPUT, "%s: cannot open the nightly config: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!(nc->path = strdup(real)) || !(nc->dir = dir_of(real)) || !(nc->marker = strdup(".ready"))) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    if ((rc = kr_text_read(path, &t))) goto cleanup;
    if ((rc = kr_yaml_parse(nc->path, t.data, t.len, &root))) goto cleanup;
    if (!root || root->kind != KR_NODE_MAP) {
        rc = kr_err(KR_EINPUT, "%s: expected a mapping with 'nightly:' and 'instruments:'", path);
        goto cleanup;
    }
    const kr_node *settings = NULL, *insts = NULL;
    for (size_t i = 0; i < root->n; i++) {
        const char *k = root->keys[i]->scalar;
        if (!strcmp(k, "nightly")) settings = root->items[i];
        else if (!strcmp(k, "instruments")) insts = root->items[i];
        else {
            rc = kr_err(KR_EINPUT, "%s: unknown section '%s' (expected nightly, instruments)",
                        kr_node_where(root->keys[i], where, sizeof where), k);
            goto cleanup;
        }
    }
    if (settings && (rc = load_settings(nc, settings))) goto cleanup;
    if (!nc->products) {
        rc = kr_err(KR_EINPUT, "%s: nightly.products (the folder for products) is required", path);
        goto cleanup;
    }
    if ((!nc->ledger && !(nc->ledger = join(nc->products, "kreep.db"))) ||
        (!nc->lock && !(nc->lock = join(nc->products, "kreep-nightly.lock")))) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    if (!insts || insts->kind != KR_NODE_MAP || insts->n == 0) {
        rc = kr_err(KR_EINPUT, "%s: 'instruments:' must map at least one instrument name to its inbox and template",
                    path);
        goto cleanup;
    }
    if (!(nc->inst = calloc(insts->n, sizeof *nc->inst))) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < insts->n; i++) {
        nc->ninst++;
        if ((rc = load_instrument(nc, insts->keys[i]->scalar, insts->items[i], &nc->inst[i]))) goto cleanup;
    }
    *out = nc;
    nc = NULL;
cleanup:
    if (rc) kr_err(rc, "%s: invalid nightly config", path);
    kr_node_free(root);
    kr_text_free(&t);
    kr_nightly_free(nc);
    return rc;
}

/* ---- scanning ------------------------------------------------------------------------------------- */

typedef struct {
    char *rel;
    long long size, mtime_ns;
} fentry;

typedef struct {
    fentry *f;
    size_t n, cap;
    long long size, mtime_ns; /* total and newest */
    int is_dir, has_marker;
} flist;

static void flist_free(flist *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->f[i].rel);
    free(l->f);
    memset(l, 0, sizeof *l);
}

static int flist_add(flist *l, const char *rel, const struct stat *st)
{
    if (l->n == l->cap) {
        size_t nc = l->cap ? 2 * l->cap : 32;
        fentry *nf = realloc(l->f, nc * sizeof *nf);
        if (!nf) return kr_err(KR_ENOMEM, "out of memory");
        l->f = nf;
        l->cap = nc;
    }
    if (!(l->f[l->n].rel = strdup(rel))) return kr_err(KR_ENOMEM, "out of memory");
    l->f[l->n].size = st->st_size;
    l->f[l->n].mtime_ns = mtime_ns_of(st);
    l->n++;
    l->size += st->st_size;
    if (mtime_ns_of(st) > l->mtime_ns) l->mtime_ns = mtime_ns_of(st);
    return KR_OK;
}

static int cmp_fentry(const void *a, const void *b) { return strcmp(((const fentry *)a)->rel, ((const fentry *)b)->rel); }

/* Regular files under `root` (recursive, hidden names skipped), relative paths. */
static int walk(const char *root, const char *rel, flist *l, int depth)
{
    int rc = KR_OK;
    char *dirpath = rel[0] ? join(root, rel) : strdup(root);
    DIR *d = NULL;
    if (!dirpath) return kr_err(KR_ENOMEM, "out of memory");
    if (depth > 32) {
        rc = kr_err(KR_EINPUT, "%s: folders nested too deep", dirpath);
        goto cleanup;
    }
    if (!(d = opendir(dirpath))) {
        rc = kr_err(KR_EIO, "%s: cannot read the folder: %s", dirpath, strerror(errno));
        goto cleanup;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char *r = rel[0] ? join(rel, e->d_name) : strdup(e->d_name);
        char *full = r ? join(root, r) : NULL;
        struct stat st;
        if (!r || !full) rc = kr_err(KR_ENOMEM, "out of memory");
        else if (stat(full, &st) != 0) rc = kr_err(KR_EIO, "%s: cannot read: %s", full, strerror(errno));
        else if (S_ISDIR(st.st_mode)) rc = walk(root, r, l, depth + 1);
        else if (S_ISREG(st.st_mode)) rc = flist_add(l, r, &st);
        free(r);
        free(full);
        if (rc) goto cleanup;
    }
cleanup:
    if (d) closedir(d);
    free(dirpath);
    return rc;
}

/* List one inbox entry (file or folder). */
static int scan_entry(const char *path, const char *name, const char *marker, flist *l)
{
    struct stat st;
    flist_free(l);
    if (stat(path, &st) != 0) return kr_err(KR_EIO, "%s: cannot read: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        l->is_dir = 1;
        char *m = join(path, marker);
        if (!m) return kr_err(KR_ENOMEM, "out of memory");
        l->has_marker = access(m, F_OK) == 0;
        free(m);
        int rc = walk(path, "", l, 0);
        if (rc) return rc;
        qsort(l->f, l->n, sizeof *l->f, cmp_fentry);
        return KR_OK;
    }
    if (!S_ISREG(st.st_mode)) return kr_err(KR_EINPUT, "%s: neither a file nor a folder", path);
    size_t n = strlen(path) + strlen(marker) + 1;
    char *m = malloc(n);
    if (!m) return kr_err(KR_ENOMEM, "out of memory");
    snprintf(m, n, "%s%s", path, marker);
    l->has_marker = access(m, F_OK) == 0;
    free(m);
    return flist_add(l, name, &st);
}

/* ---- the plan ------------------------------------------------------------------------------------- */

static void job_free(kr_nightly_job *j)
{
    free(j->instrument);
    free(j->path);
    free(j->name);
    free(j->template_path);
    strv_free(j->overrides, j->noverrides);
    free(j->product);
    free(j->reason);
}

void kr_nightly_plan_free(kr_nightly_plan *plan)
{
    for (size_t i = 0; i < plan->n; i++) job_free(&plan->jobs[i]);
    free(plan->jobs);
    memset(plan, 0, sizeof *plan);
}

const char *kr_nightly_action_name(kr_job_action a)
{
    switch (a) {
    case KR_JOB_RUN: return "run";
    case KR_JOB_SKIP: return "skip";
    case KR_JOB_NOT_READY: return "not ready";
    case KR_JOB_QUARANTINE: return "quarantine";
    case KR_JOB_ERROR: return "error";
    }
    return "?";
}

static kr_nightly_job *plan_add(kr_nightly_plan *p, const instrument *in, const char *name)
{
    if (p->n == p->cap) {
        size_t nc = p->cap ? 2 * p->cap : 16;
        kr_nightly_job *nj = realloc(p->jobs, nc * sizeof *nj);
        if (!nj) return NULL;
        p->jobs = nj;
        p->cap = nc;
    }
    kr_nightly_job *j = &p->jobs[p->n++];
    memset(j, 0, sizeof *j);
    j->instrument = strdup(in->name);
    j->name = strdup(name);
    j->path = join(in->inbox, name);
    j->template_path = strdup(in->template_path);
    if (!j->instrument || !j->name || !j->path || !j->template_path) return NULL;
    return j;
}

static int set_reason(kr_nightly_job *j, kr_job_action a, const char *fmt, const char *arg)
{
    j->action = a;
    free(j->reason);
    size_t n = strlen(fmt) + (arg ? strlen(arg) : 0) + 1;
    j->reason = malloc(n);
    if (!j->reason) return kr_err(KR_ENOMEM, "out of memory");
    snprintf(j->reason, n, fmt, arg ? arg : "");
    return KR_OK;
}

/* The current error chain as the job's reason (and clear the stack). */
static int reason_from_errors(kr_nightly_job *j, kr_job_action a)
{
    char buf[2048];
    kr_err_format(buf, sizeof buf);
    kr_err_clear();
    return set_reason(j, a, "%s", buf);
}

static int matches_any(const char *name, char *const *pats, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (fnmatch(pats[i], name, 0) == 0) return 1;
    return 0;
}

/* Inbox entries of one instrument, sorted; hidden names and ready markers are not entries. */
static int list_inbox(const instrument *in, const char *marker, char ***names, size_t *n)
{
    size_t cap = 0;
    int rc = KR_OK;
    DIR *d = opendir(in->inbox);
    *names = NULL;
    *n = 0;
    if (!d) return kr_err(KR_EIO, "%s: cannot read the %s inbox: %s", in->inbox, in->name, strerror(errno));
    struct dirent *e;
    size_t lm = strlen(marker);
    while ((e = readdir(d))) {
        size_t ln = strlen(e->d_name);
        if (e->d_name[0] == '.') continue;
        if (ln > lm && !strcmp(e->d_name + ln - lm, marker)) continue;
        if ((rc = strv_push(names, n, &cap, strdup(e->d_name)))) break;
    }
    closedir(d);
    if (!rc && *n) qsort(*names, *n, sizeof **names, cmp_str);
    return rc;
}

static int hash_entry(kr_ledger *lg, int readonly, const kr_nightly_job *j, const flist *l, char hex[KR_SHA256_HEX])
{
    kr_buf b = {0};
    int rc = KR_OK;
    for (size_t i = 0; i < l->n; i++) {
        char *full = l->is_dir ? join(j->path, l->f[i].rel) : strdup(j->path);
        char h[KR_SHA256_HEX];
        int found = 0;
        if (!full) {
            rc = kr_err(KR_ENOMEM, "out of memory");
            goto cleanup;
        }
        rc = kr_ledger_file_hash(lg, full, l->f[i].size, l->f[i].mtime_ns, h, &found);
        if (!rc && !found) {
            long long size = 0;
            rc = kr_sha256_file(full, h, &size);
            if (!rc && !readonly) rc = kr_ledger_put_file_hash(lg, full, l->f[i].size, l->f[i].mtime_ns, h);
        }
        free(full);
        if (rc) goto cleanup;
        kr_buf_printf(&b, "%s\t%s\n", l->f[i].rel, h);
    }
    kr_buf_put(&b, "", 1);
    if (b.failed) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = kr_sha256_mem(b.data, b.len, hex);
cleanup:
    free(b.data);
    return rc;
}

/* ---- map folders as entries (entry: map) ------------------------------------------------------------ */

/* A plain scalar that reads back as the same text without quotes inside a flow collection. */
static int plain_safe(const char *s)
{
    if (!*s) return 0;
    for (const char *c = s; *c; c++)
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '.' ||
              *c == '_' || *c == '+' || *c == '-'))
            return 0;
    return 1;
}

static int emit_text(kr_buf *b, const char *s, int plain)
{
    if (plain && plain_safe(s)) {
        kr_buf_printf(b, "%s", s);
        return KR_OK;
    }
    char *q = NULL;
    int rc = kr_nightly_yaml_quote(s, &q);
    if (!rc) kr_buf_printf(b, "%s", q);
    free(q);
    return rc;
}

/* A node as flow YAML (what --set parses back into the same tree: plain scalars stay plain when they can,
 * nulls stay null, everything else is double-quoted). */
static int emit_flow(kr_buf *b, const kr_node *n, int depth)
{
    int rc = KR_OK;
    char where[512];
    if (depth > 32) return kr_err(KR_EINPUT, "%s: nested too deep", kr_node_where(n, where, sizeof where));
    switch (n->kind) {
    case KR_NODE_SCALAR:
        if (kr_node_is_null(n)) {
            kr_buf_printf(b, "~");
            return KR_OK;
        }
        return emit_text(b, n->scalar, n->plain);
    case KR_NODE_SEQ:
        kr_buf_put(b, "[", 1);
        for (size_t i = 0; i < n->n && !rc; i++) {
            if (i) kr_buf_put(b, ", ", 2);
            rc = emit_flow(b, n->items[i], depth + 1);
        }
        kr_buf_put(b, "]", 1);
        return rc;
    case KR_NODE_MAP:
        kr_buf_put(b, "{", 1);
        for (size_t i = 0; i < n->n && !rc; i++) {
            if (i) kr_buf_put(b, ", ", 2);
            if (!(rc = emit_text(b, n->keys[i]->scalar, n->keys[i]->plain))) {
                kr_buf_put(b, ": ", 2);
                rc = emit_flow(b, n->items[i], depth + 1);
            }
        }
        kr_buf_put(b, "}", 1);
        return rc;
    }
    return KR_OK;
}

static const kr_node *map_get(const kr_node *m, const char *key)
{
    for (size_t i = 0; m->kind == KR_NODE_MAP && i < m->n; i++)
        if (!strcmp(m->keys[i]->scalar, key)) return m->items[i];
    return NULL;
}

/* The template's item of inputs_key for a map instrument: a list of exactly one mapping (the prototype of
 * every entry's item) whose `elements` list names each element. */
static int map_prototype(const instrument *in, const kr_config *cfg, const kr_node **out)
{
    char where[512];
    const kr_node *l = kr_config_node(cfg, in->inputs_key);
    *out = NULL;
    if (!l || l->kind != KR_NODE_SEQ || l->n != 1 || l->items[0]->kind != KR_NODE_MAP)
        return kr_err(KR_EINPUT, "%s: %s: with 'entry: map' the template's list must hold exactly one item, the "
                                 "settings of every map (elements with standard, std_cps_na, background, ...)",
                      l ? kr_node_where(l, where, sizeof where) : in->template_path, in->inputs_key);
    const kr_node *p = l->items[0], *el = map_get(p, "elements");
    if (!el || el->kind != KR_NODE_SEQ || el->n == 0)
        return kr_err(KR_EINPUT, "%s: %s[0]: expected 'elements:', a list with one mapping per mapped element",
                      kr_node_where(p, where, sizeof where), in->inputs_key);
    for (size_t i = 0; i < el->n; i++) {
        const kr_node *e = el->items[i], *sym = map_get(e, "element");
        if (e->kind != KR_NODE_MAP || !sym || sym->kind != KR_NODE_SCALAR || !plain_safe(sym->scalar))
            return kr_err(KR_EINPUT, "%s: %s[0].elements[%zu]: expected a mapping with 'element: <symbol>'",
                          kr_node_where(e, where, sizeof where), in->inputs_key, i);
    }
    *out = p;
    return KR_OK;
}

/* The one file of the entry folder matching `pattern` (fnmatch, relative to the folder): *out receives its
 * absolute path, or NULL when none matches; more than one is an error. */
static int folder_match(const kr_nightly_job *j, const flist *l, const char *pattern, char **out)
{
    size_t n = 0, first = 0, second = 0;
    *out = NULL;
    for (size_t i = 0; i < l->n; i++) {
        if (fnmatch(pattern, l->f[i].rel, FNM_PATHNAME) != 0) continue;
        if (n == 0) first = i;
        else if (n == 1) second = i;
        n++;
    }
    if (n > 1)
        return kr_err(KR_EINPUT, "%s: %zu files match '%s' (%s, %s%s): expected one", j->path, n, pattern,
                      l->f[first].rel, l->f[second].rel, n > 2 ? ", ..." : "");
    if (n == 1 && !(*out = join(j->path, l->f[first].rel))) return kr_err(KR_ENOMEM, "out of memory");
    return KR_OK;
}

/* Emit `key: "<the folder's file matching pattern>"`; what names the file in the error. */
static int emit_matched(kr_buf *b, const kr_nightly_job *j, const flist *l, const char *key, const char *pattern,
                        const char *what)
{
    char *f = NULL;
    int rc = folder_match(j, l, pattern, &f);
    if (!rc && !f) rc = kr_err(KR_EINPUT, "%s: no file matching '%s' (%s)", j->path, pattern, what);
    if (!rc) {
        kr_buf_printf(b, "%s: ", key);
        rc = emit_text(b, f, 0);
    }
    free(f);
    return rc;
}

/* One element of the entry's item: the prototype's settings, `file` (and background minus/plus maps)
 * resolved inside the folder. Patterns: the prototype's values; file by default *_<El>.map, *_<El>.csv,
 * <El>.map, <El>.csv (the first that matches). */
static int emit_map_element(kr_buf *b, const kr_node *e, const kr_nightly_job *j, const flist *l)
{
    int rc = KR_OK;
    const char *sym = map_get(e, "element")->scalar;
    char what[64];
    snprintf(what, sizeof what, "the count map of %s", sym);
    kr_buf_put(b, "{", 1);
    int has_file = 0;
    for (size_t i = 0; i < e->n && !rc; i++) {
        const char *k = e->keys[i]->scalar;
        const kr_node *v = e->items[i];
        if (i) kr_buf_put(b, ", ", 2);
        if (!strcmp(k, "file") && v->kind == KR_NODE_SCALAR) {
            has_file = 1;
            rc = emit_matched(b, j, l, "file", v->scalar, what);
        } else if (!strcmp(k, "background") && v->kind == KR_NODE_MAP) {
            kr_buf_printf(b, "background: {");
            for (size_t q = 0; q < v->n && !rc; q++) {
                const char *bk = v->keys[q]->scalar;
                if (q) kr_buf_put(b, ", ", 2);
                if ((!strcmp(bk, "minus") || !strcmp(bk, "plus")) && v->items[q]->kind == KR_NODE_SCALAR) {
                    char bw[80];
                    snprintf(bw, sizeof bw, "the %s off-peak map of %s", bk, sym);
                    rc = emit_matched(b, j, l, bk, v->items[q]->scalar, bw);
                } else if (!(rc = emit_text(b, bk, v->keys[q]->plain))) {
                    kr_buf_put(b, ": ", 2);
                    rc = emit_flow(b, v->items[q], 1);
                }
            }
            kr_buf_put(b, "}", 1);
        } else if (!(rc = emit_text(b, k, e->keys[i]->plain))) {
            kr_buf_put(b, ": ", 2);
            rc = emit_flow(b, v, 1);
        }
    }
    if (!rc && !has_file) {
        static const char *const DEF[] = {"*_%s.map", "*_%s.csv", "%s.map", "%s.csv"};
        char pat[4][32];
        char *f = NULL;
        for (size_t d = 0; d < 4 && !rc && !f; d++) {
            snprintf(pat[d], sizeof pat[d], DEF[d], sym);
            rc = folder_match(j, l, pat[d], &f);
        }
        if (!rc && !f)
            rc = kr_err(KR_EINPUT, "%s: no count map for %s (tried %s, %s, %s, %s)", j->path, sym, pat[0], pat[1],
                        pat[2], pat[3]);
        if (!rc) {
            kr_buf_printf(b, "%sfile: ", e->n ? ", " : "");
            rc = emit_text(b, f, 0);
        }
        free(f);
    }
    kr_buf_put(b, "}", 1);
    return rc;
}

/* The entry's item of epma.maps.inputs from the prototype: name = the entry's name, cnd = the folder's
 * .cnd (the prototype's `cnd` pattern, default *.cnd), each element's files from the folder, every other
 * setting as in the template. */
static int emit_map_item(kr_buf *b, const kr_node *proto, const kr_nightly_job *j, const flist *l)
{
    int rc = KR_OK;
    const kr_node *cnd = map_get(proto, "cnd");
    kr_buf_printf(b, "{name: ");
    if ((rc = emit_text(b, j->name, 0))) return rc;
    kr_buf_put(b, ", ", 2);
    rc = emit_matched(b, j, l, "cnd", cnd && cnd->kind == KR_NODE_SCALAR ? cnd->scalar : "*.cnd",
                      "the map conditions, .cnd");
    for (size_t i = 0; i < proto->n && !rc; i++) {
        const char *k = proto->keys[i]->scalar;
        const kr_node *v = proto->items[i];
        if (!strcmp(k, "name") || !strcmp(k, "cnd")) continue;
        kr_buf_put(b, ", ", 2);
        if (!strcmp(k, "elements")) {
            kr_buf_printf(b, "elements: [");
            for (size_t e = 0; e < v->n && !rc; e++) {
                if (e) kr_buf_put(b, ", ", 2);
                rc = emit_map_element(b, v->items[e], j, l);
            }
            kr_buf_put(b, "]", 1);
        } else if (!(rc = emit_text(b, k, proto->keys[i]->plain))) {
            kr_buf_put(b, ": ", 2);
            rc = emit_flow(b, v, 1);
        }
    }
    kr_buf_put(b, "}", 1);
    return rc;
}

/* The --set list for one entry: inputs_key=[...] then the instrument's own --set strings. */
static int build_overrides(const instrument *in, const kr_node *proto, kr_nightly_job *j, const flist *l, int *none)
{
    kr_buf b = {0};
    int rc = KR_OK;
    size_t cap = 0, nin = 0;
    *none = 0;
    kr_buf_printf(&b, "%s=[", in->inputs_key);
    if (in->map_entry) {
        /* a bad map folder is the data's fault: *none = 2 with the error on the stack */
        if (!l->is_dir)
            kr_err(KR_EINPUT, "%s: not a folder: a map entry is a folder holding the map's .cnd and one count map "
                              "per element", j->path);
        else if (!(rc = emit_map_item(&b, proto, j, l)))
            nin = 1;
        if (rc == KR_ENOMEM) goto cleanup;
        rc = KR_OK;
        if (!nin) {
            *none = 2;
            goto cleanup;
        }
    } else if (l->is_dir && in->ninputs) {
        for (size_t p = 0; p < in->ninputs; p++) {
            char *pat = join(j->path, in->inputs[p]);
            glob_t g;
            if (!pat) {
                rc = kr_err(KR_ENOMEM, "out of memory");
                goto cleanup;
            }
            int gr = glob(pat, 0, NULL, &g);
            free(pat);
            if (gr == GLOB_NOMATCH) continue;
            if (gr != 0) {
                rc = kr_err(KR_EIO, "%s: cannot list '%s'", j->path, in->inputs[p]);
                goto cleanup;
            }
            for (size_t k = 0; k < g.gl_pathc; k++) {
                char *q = NULL;
                if ((rc = kr_nightly_yaml_quote(g.gl_pathv[k], &q))) break;
                kr_buf_printf(&b, "%s%s", nin++ ? ", " : "", q);
                free(q);
            }
            globfree(&g);
            if (rc) goto cleanup;
        }
    } else {
        char *q = NULL;
        if ((rc = kr_nightly_yaml_quote(j->path, &q))) goto cleanup;
        kr_buf_printf(&b, "%s", q);
        free(q);
        nin = 1;
    }
    kr_buf_put(&b, "]", 2);
    if (b.failed) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    if (nin == 0) {
        *none = 1;
        goto cleanup;
    }
    if ((rc = strv_push(&j->overrides, &j->noverrides, &cap, b.data))) {
        b.data = NULL;
        goto cleanup;
    }
    b.data = NULL;
    /* run.name = the entry's name, unless the instrument sets it */
    int named = 0;
    for (size_t i = 0; i < in->nsets; i++) named |= !strncmp(in->sets[i], "run.name=", 9);
    if (!named) {
        size_t n = strlen(j->name) + 16;
        char *s = malloc(n);
        if (s) snprintf(s, n, "run.name=%s", j->name);
        if ((rc = strv_push(&j->overrides, &j->noverrides, &cap, s))) goto cleanup;
    }
    for (size_t i = 0; i < in->nsets; i++)
        if ((rc = strv_push(&j->overrides, &j->noverrides, &cap, strdup(in->sets[i])))) goto cleanup;
cleanup:
    free(b.data);
    return rc;
}

static int stage_tables(const kr_stage *const *stages, size_t nstages, kr_param_table **out)
{
    kr_param_table *t = calloc(nstages + 1, sizeof *t);
    *out = t;
    if (!t) return kr_err(KR_ENOMEM, "out of memory");
    t[0] = kr_run_params;
    for (size_t i = 0; i < nstages; i++) t[i + 1] = *stages[i]->params;
    return KR_OK;
}

/* Effective config hash of template + overrides (the same load kr_run_pipeline does). */
static int config_hash(const char *template_path, char *const *ov, size_t nov, const kr_param_table *tables,
                       size_t ntables, char hex[KR_SHA256_HEX])
{
    kr_config *cfg = NULL;
    char *yaml = NULL;
    int rc = kr_config_load(template_path, tables, ntables, ov, nov, &cfg);
    if (rc) goto cleanup;
    if (!(yaml = kr_config_effective_yaml(cfg))) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    rc = kr_sha256_mem(yaml, strlen(yaml), hex);
cleanup:
    free(yaml);
    kr_config_free(cfg);
    return rc;
}

int kr_nightly_run_hash(const char *calib_hex, const char *config_hex, const char *inputs_hex,
                        char hex[KR_SHA256_HEX])
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "kreep run hash v1\nsoftware_version=%s\ncalibration=%s\nconfig=%s\ninputs=%s\n",
                     KREEP_VERSION, calib_hex, config_hex, inputs_hex);
    return kr_sha256_mem(buf, (size_t)n, hex);
}

static int compute_run_hash(const char *calib_hex, const kr_nightly_job *j, char hex[KR_SHA256_HEX])
{
    return kr_nightly_run_hash(calib_hex, j->config_hash, j->sha256, hex);
}

int kr_nightly_config_hash(const char *template_path, char *const *ov, size_t nov, const kr_stage *const *stages,
                           size_t nstages, char hex[KR_SHA256_HEX])
{
    kr_param_table *tables = NULL;
    int rc = stage_tables(stages, nstages, &tables);
    if (!rc) rc = config_hash(template_path, ov, nov, tables, nstages + 1, hex);
    free(tables);
    return rc;
}

/* The files a run read from outside its entry, from its product's /provenance/inputs (the template
 * itself excluded: its content is in the effective config). */
static int read_extra_inputs(const char *product, const char *entry, kr_ledger_file **out, size_t *n)
{
    typedef struct {
        char role[32];
        char path[1024];
        char sha256[KR_SHA256_HEX];
    } row;
    static const kr_column cols[] = {
        KR_COL_S(row, role, ""),
        KR_COL_S(row, path, ""),
        KR_COL_S(row, sha256, ""),
    };
    static const kr_table_desc desc = KR_TABLE(cols, row);
    row *rows = NULL;
    kr_ledger_file *v = NULL;
    size_t nr = 0, nv = 0;
    *out = NULL;
    *n = 0;
    int rc = kr_table_read_file(product, "provenance/inputs", &desc, (void **)&rows, &nr);
    if (rc) return rc;
    if (!(v = calloc(nr + 1, sizeof *v))) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    size_t le = strlen(entry);
    for (size_t i = 0; i < nr; i++) {
        const row *r = &rows[i];
        if (!strcmp(r->role, "config") || r->path[0] != '/') continue;
        if (!strncmp(r->path, entry, le) && (r->path[le] == '/' || r->path[le] == '\0')) continue;
        int dup = 0;
        for (size_t k = 0; k < nv; k++) dup |= !strcmp(v[k].file, r->path);
        if (dup) continue;
        if (!(v[nv].file = strdup(r->path))) {
            rc = kr_err(KR_ENOMEM, "out of memory");
            goto cleanup;
        }
        memcpy(v[nv].sha256, r->sha256, KR_SHA256_HEX);
        nv++;
    }
    *out = v;
    *n = nv;
    v = NULL;
    nv = 0;
cleanup:
    free(rows);
    kr_ledger_files_free(v, nv);
    return rc;
}

/* One of the files the last run read from outside the entry changed (or is gone)? *what names it. */
static int extras_changed(kr_ledger *lg, int readonly, const kr_nightly_job *j, int *changed, char **what)
{
    kr_ledger_file *x = NULL;
    size_t nx = 0;
    *changed = 0;
    *what = NULL;
    int rc = kr_ledger_extra_inputs(lg, j->instrument, j->path, &x, &nx);
    for (size_t i = 0; !rc && i < nx && !*changed; i++) {
        struct stat st;
        char h[KR_SHA256_HEX];
        int found = 0;
        if (stat(x[i].file, &st) != 0) {
            *changed = 1;
        } else {
            rc = kr_ledger_file_hash(lg, x[i].file, st.st_size, mtime_ns_of(&st), h, &found);
            if (!rc && !found) {
                if (kr_sha256_file(x[i].file, h, NULL)) {
                    kr_err_clear();
                    h[0] = '\0';
                } else if (!readonly) {
                    rc = kr_ledger_put_file_hash(lg, x[i].file, st.st_size, mtime_ns_of(&st), h);
                }
            }
            if (!rc && strcmp(h, x[i].sha256)) *changed = 1;
        }
        if (*changed && !(*what = strdup(x[i].file))) rc = kr_err(KR_ENOMEM, "out of memory");
    }
    kr_ledger_files_free(x, nx);
    return rc;
}

/* Decide for one ready entry given its ledger row. */
static int decide(const kr_nightly *nc, kr_nightly_job *j, const kr_ledger_item *prev, int found)
{
    if (!found) return set_reason(j, KR_JOB_RUN, "new", NULL);
    int same = !strcmp(prev->run_hash, j->run_hash);
    /* touched: same content, but an input is newer than the ledger recorded: an explicit rerun request
     * (attempts start again from 0) */
    if (same && nc->rerun_on_touch && j->mtime_ns > prev->mtime_ns)
        return set_reason(j, KR_JOB_RUN, "touched: content unchanged, rerun requested", NULL);
    if (same && !strcmp(prev->status, "done")) {
        if (prev->product && access(prev->product, F_OK) == 0)
            return set_reason(j, KR_JOB_SKIP, "unchanged since %s", prev->updated_utc);
        return set_reason(j, KR_JOB_RUN, "its product %s is missing", prev->product ? prev->product : "(none)");
    }
    if (same && !strcmp(prev->status, "quarantined"))
        return set_reason(j, KR_JOB_SKIP, "quarantined and unchanged (replace the export to retry): %s",
                          prev->error ? prev->error : "");
    if (same && !strcmp(prev->status, "failed")) {
        j->attempts = prev->attempts;
        if (prev->attempts >= nc->max_attempts)
            return set_reason(j, KR_JOB_SKIP, "failed max_attempts times and unchanged: %s",
                              prev->error ? prev->error : "");
        return set_reason(j, KR_JOB_RUN, "retry after a failure: %s", prev->error ? prev->error : "");
    }
    if (strcmp(prev->sha256, j->sha256)) return set_reason(j, KR_JOB_RUN, "inputs changed", NULL);
    if (strcmp(prev->config_hash, j->config_hash)) return set_reason(j, KR_JOB_RUN, "config changed", NULL);
    return set_reason(j, KR_JOB_RUN, "software version or calibration changed (was %s)", prev->software_version);
}

int kr_nightly_make_plan(const kr_nightly *nc, kr_ledger *lg, const kr_stage *const *stages, size_t nstages,
                         int readonly, kr_log *log, kr_nightly_plan *plan)
{
    int rc = KR_OK;
    kr_param_table *tables = NULL;
    flist *lists = NULL;
    size_t nlists = 0;
    kr_ledger_item prev = {0};
    char calib_hex[KR_SHA256_HEX];
    int in_tx = 0;
    kr_config **proto_cfg = NULL;           /* per instrument: the loaded template (entry: map) */
    const kr_node **proto = NULL;           /* per instrument: the template's map item */
    char (*tmpl_hexes)[KR_SHA256_HEX] = NULL; /* per instrument: template + set */
    memset(plan, 0, sizeof *plan);
    if (!(proto_cfg = calloc(nc->ninst, sizeof *proto_cfg)) || !(proto = calloc(nc->ninst, sizeof *proto)) ||
        !(tmpl_hexes = calloc(nc->ninst, sizeof *tmpl_hexes))) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    if ((rc = stage_tables(stages, nstages, &tables))) goto cleanup;
    if ((rc = kr_nightly_calib_hash(calib_hex))) goto cleanup;
    /* first scan: every entry of every inbox */
    for (size_t i = 0; i < nc->ninst; i++) {
        const instrument *in = &nc->inst[i];
        char **names = NULL;
        size_t nn = 0;
        int lr = list_inbox(in, nc->marker, &names, &nn);
        if (!lr) lr = config_hash(in->template_path, in->sets, in->nsets, tables, nstages + 1, tmpl_hexes[i]);
        if (!lr && in->map_entry) {
            lr = kr_config_load(in->template_path, tables, nstages + 1, in->sets, in->nsets, &proto_cfg[i]);
            if (!lr) lr = map_prototype(in, proto_cfg[i], &proto[i]);
        }
        if (lr) {
            kr_nightly_job *j = plan_add(plan, in, "");
            if (!j || (rc = reason_from_errors(j, KR_JOB_ERROR))) {
                strv_free(names, nn);
                rc = rc ? rc : kr_err(KR_ENOMEM, "out of memory");
                goto cleanup;
            }
            strv_free(names, nn);
            continue;
        }
        for (size_t k = 0; k < nn; k++) {
            kr_nightly_job *j = plan_add(plan, in, names[k]);
            if (!j) {
                strv_free(names, nn);
                rc = kr_err(KR_ENOMEM, "out of memory");
                goto cleanup;
            }
            j->action = KR_JOB_RUN;
        }
        strv_free(names, nn);
    }
    if (!(lists = calloc(plan->n ? plan->n : 1, sizeof *lists))) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    nlists = plan->n;
    int need_second = 0;
    for (size_t i = 0; i < plan->n; i++) {
        kr_nightly_job *j = &plan->jobs[i];
        if (j->action == KR_JOB_ERROR) continue;
        if (scan_entry(j->path, j->name, nc->marker, &lists[i])) {
            if ((rc = reason_from_errors(j, KR_JOB_QUARANTINE))) goto cleanup;
            continue;
        }
        const instrument *in = NULL;
        for (size_t k = 0; k < nc->ninst; k++)
            if (!strcmp(nc->inst[k].name, j->instrument)) in = &nc->inst[k];
        /* a single file that matches none of the input globs is not an export (notes, logs) */
        if (!lists[i].is_dir && in->ninputs && !matches_any(j->name, in->inputs, in->ninputs)) {
            j->action = KR_JOB_SKIP;
            free(j->reason);
            j->reason = NULL; /* ignored: not reported */
            continue;
        }
        j->size = lists[i].size;
        j->mtime_ns = lists[i].mtime_ns;
        if (lists[i].has_marker) continue;
        int found = 0;
        if ((rc = kr_ledger_get_item(lg, j->instrument, j->path, &prev, &found))) goto cleanup;
        if (found && prev.size == j->size && prev.mtime_ns == j->mtime_ns) continue; /* seen as is before */
        j->action = KR_JOB_NOT_READY; /* provisional: needs the second scan */
        need_second = 1;
    }
    if (need_second) {
        if (nc->scan_interval_s > 0) {
            kr_log_info(log, "nightly", "waiting %.0f s to see which exports are still changing", nc->scan_interval_s);
            struct timespec ts = {(time_t)nc->scan_interval_s,
                                  (long)((nc->scan_interval_s - (double)(time_t)nc->scan_interval_s) * 1e9)};
            while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
            }
        }
        for (size_t i = 0; i < plan->n; i++) {
            kr_nightly_job *j = &plan->jobs[i];
            if (j->action != KR_JOB_NOT_READY) continue;
            flist again = {0};
            int sr = scan_entry(j->path, j->name, nc->marker, &again);
            if (sr) {
                flist_free(&again);
                if ((rc = reason_from_errors(j, KR_JOB_QUARANTINE))) goto cleanup;
                continue;
            }
            if (again.size == lists[i].size && again.mtime_ns == lists[i].mtime_ns && again.n == lists[i].n)
                j->action = KR_JOB_RUN;
            else if ((rc = set_reason(j, KR_JOB_NOT_READY, "still changing (size or mtime moved between scans)", NULL)))
                goto cleanup;
            flist_free(&again);
        }
    }
    if (!readonly) {
        if ((rc = kr_ledger_begin(lg))) goto cleanup; /* one transaction for the hash cache */
        in_tx = 1;
    }
    for (size_t i = 0; i < plan->n; i++) {
        kr_nightly_job *j = &plan->jobs[i];
        const instrument *in = NULL;
        size_t ii = 0;
        for (size_t k = 0; k < nc->ninst; k++)
            if (!strcmp(nc->inst[k].name, j->instrument)) in = &nc->inst[ii = k];
        int found = 0;
        if (j->action != KR_JOB_RUN && j->action != KR_JOB_QUARANTINE) continue;
        if ((rc = kr_ledger_get_item(lg, j->instrument, j->path, &prev, &found))) goto cleanup;
        if (j->action == KR_JOB_QUARANTINE) {
            if (found && !strcmp(prev.status, "quarantined") && !prev.sha256[0] && prev.size == j->size &&
                prev.mtime_ns == j->mtime_ns && (rc = set_reason(j, KR_JOB_SKIP, "quarantined and unchanged: %s",
                                                                  prev.error ? prev.error : "")))
                goto cleanup;
            continue;
        }
        size_t nb = strlen(nc->products) + strlen(j->instrument) + strlen(j->name) + 8;
        if (!(j->product = malloc(nb))) {
            rc = kr_err(KR_ENOMEM, "out of memory");
            goto cleanup;
        }
        snprintf(j->product, nb, "%s/%s/%s.h5", nc->products, j->instrument, j->name);
        if (hash_entry(lg, readonly, j, &lists[i], j->sha256)) {
            if ((rc = reason_from_errors(j, KR_JOB_QUARANTINE))) goto cleanup;
            continue;
        }
        int none = 0;
        if ((rc = build_overrides(in, proto[ii], j, &lists[i], &none))) goto cleanup;
        if (none == 2) {
            if ((rc = reason_from_errors(j, KR_JOB_QUARANTINE))) goto cleanup;
        } else if (none) {
            char pats[512] = "";
            for (size_t p = 0; p < in->ninputs; p++)
                snprintf(pats + strlen(pats), sizeof pats - strlen(pats), "%s%s", p ? ", " : "", in->inputs[p]);
            if ((rc = set_reason(j, KR_JOB_QUARANTINE, "no export matching %s in the folder", pats))) goto cleanup;
        }
        if (none) {
            /* quarantined before any run: again only when its content, the template or its mtime (touch) moves */
            memcpy(j->config_hash, tmpl_hexes[ii], sizeof j->config_hash);
            if (found && !strcmp(prev.status, "quarantined") && !prev.run_hash[0] && !strcmp(prev.sha256, j->sha256) &&
                !strcmp(prev.config_hash, j->config_hash) && !(nc->rerun_on_touch && j->mtime_ns > prev.mtime_ns) &&
                (rc = set_reason(j, KR_JOB_SKIP, "quarantined and unchanged: %s", prev.error ? prev.error : "")))
                goto cleanup;
            continue;
        }
        if (config_hash(j->template_path, j->overrides, j->noverrides, tables, nstages + 1, j->config_hash)) {
            if ((rc = reason_from_errors(j, KR_JOB_ERROR))) goto cleanup;
            continue;
        }
        if ((rc = compute_run_hash(calib_hex, j, j->run_hash))) goto cleanup;
        if ((rc = decide(nc, j, &prev, found))) goto cleanup;
        if (j->action == KR_JOB_SKIP && found && !strcmp(prev.status, "done")) {
            int changed = 0;
            char *what = NULL;
            rc = extras_changed(lg, readonly, j, &changed, &what);
            if (!rc && changed) rc = set_reason(j, KR_JOB_RUN, "an input outside the entry changed: %s", what);
            free(what);
            if (rc) goto cleanup;
        }
        /* same content, new mtime (touched, copied again): remember the new size and mtime so that the
         * entry counts as stable next time without waiting for a second scan */
        if (!readonly && found && j->action == KR_JOB_SKIP && (prev.size != j->size || prev.mtime_ns != j->mtime_ns)) {
            prev.size = j->size;
            prev.mtime_ns = j->mtime_ns;
            if ((rc = kr_ledger_put_item(lg, &prev))) goto cleanup;
            char *r = NULL;
            size_t n = strlen(j->reason) + 64;
            if ((r = malloc(n))) snprintf(r, n, "%s (mtime changed, content identical)", j->reason);
            if (!r) {
                rc = kr_err(KR_ENOMEM, "out of memory");
                goto cleanup;
            }
            free(j->reason);
            j->reason = r;
        }
    }
    if (in_tx) {
        in_tx = 0;
        if ((rc = kr_ledger_commit(lg))) goto cleanup;
    }
cleanup:
    if (in_tx) kr_ledger_rollback(lg);
    for (size_t i = 0; i < nlists; i++) flist_free(&lists[i]);
    free(lists);
    kr_ledger_item_clear(&prev);
    free(tables);
    for (size_t i = 0; proto_cfg && i < nc->ninst; i++) kr_config_free(proto_cfg[i]);
    free(proto_cfg);
    free(proto);
    free(tmpl_hexes);
    if (rc) kr_nightly_plan_free(plan);
    return rc;
}

/* ---- running ------------------------------------------------------------------------------------- */

static int move_to_quarantine(const kr_nightly *nc, const kr_nightly_job *j, char **dest)
{
    *dest = NULL;
    char *dir = join(nc->quarantine_dir, j->instrument);
    if (!dir) return kr_err(KR_ENOMEM, "out of memory");
    int rc = mkdir_p(dir);
    if (rc) {
        free(dir);
        return rc;
    }
    size_t n = strlen(dir) + strlen(j->name) + 32;
    char *p = malloc(n);
    if (!p) {
        free(dir);
        return kr_err(KR_ENOMEM, "out of memory");
    }
    snprintf(p, n, "%s/%s", dir, j->name);
    for (int k = 1; access(p, F_OK) == 0 && k < 1000; k++) snprintf(p, n, "%s/%s.%d", dir, j->name, k);
    free(dir);
    if (rename(j->path, p) != 0) {
        rc = kr_err(KR_EIO, "cannot move %s to %s: %s (left in place, marked in the ledger)", j->path, p,
                    strerror(errno));
        free(p);
        return rc;
    }
    *dest = p;
    return KR_OK;
}

static int join_lines(char *const *v, size_t n, char **out)
{
    kr_buf b = {0};
    for (size_t i = 0; i < n; i++) kr_buf_printf(&b, "%s%s", i ? "\n" : "", v[i]);
    kr_buf_put(&b, "", 1);
    if (b.failed) {
        free(b.data);
        return kr_err(KR_ENOMEM, "out of memory");
    }
    *out = b.data;
    return KR_OK;
}

/* Record a quarantine decided without a run (unreadable entry, no exports). */
static int record_quarantine(const kr_nightly *nc, kr_ledger *lg, kr_nightly_job *j, kr_log *log)
{
    kr_ledger_item it = {0};
    char *moved = NULL;
    int rc = KR_OK;
    if (nc->quarantine_dir && move_to_quarantine(nc, j, &moved)) {
        char buf[1024];
        kr_err_format(buf, sizeof buf);
        kr_err_clear();
        kr_log_warn(log, "nightly", "%s", buf);
    }
    it.instrument = j->instrument;
    it.path = j->path;
    it.size = j->size;
    it.mtime_ns = j->mtime_ns;
    snprintf(it.sha256, sizeof it.sha256, "%s", j->sha256);
    snprintf(it.config_hash, sizeof it.config_hash, "%s", j->config_hash);
    it.status = "quarantined";
    it.attempts = j->attempts + 1;
    it.error = j->reason;
    it.software_version = KREEP_VERSION;
    it.quarantine_path = moved;
    if ((rc = kr_ledger_begin(lg))) goto cleanup;
    if ((rc = kr_ledger_put_item(lg, &it))) {
        kr_ledger_rollback(lg);
        goto cleanup;
    }
    rc = kr_ledger_commit(lg);
cleanup:
    free(moved);
    return rc;
}

/* Remove NAME.h5.tmp.PID files left beside `product` by runs that were killed (their pid is gone). */
static void remove_stale_tmp(const char *product, kr_log *log)
{
    char *dir = dir_of(product);
    const char *base = strrchr(product, '/');
    base = base ? base + 1 : product;
    DIR *d = dir ? opendir(dir) : NULL;
    size_t lb = strlen(base);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (strncmp(e->d_name, base, lb) || strncmp(e->d_name + lb, ".tmp.", 5)) continue;
        char *end = NULL;
        long pid = strtol(e->d_name + lb + 5, &end, 10);
        if (pid <= 0 || *end || (kill((pid_t)pid, 0) == 0 || errno == EPERM)) continue; /* alive: not ours to touch */
        char *full = join(dir, e->d_name);
        if (full && unlink(full) == 0) kr_log_warn(log, "nightly", "removed %s, left by a killed run (pid %ld)", full, pid);
        free(full);
    }
    if (d) closedir(d);
    free(dir);
}

/* Before a run: product folder, stale temp files, the "running" row. *run_id receives its id. */
static int exec_begin(kr_ledger *lg, kr_nightly_job *job, kr_log *log, long long *run_id)
{
    int rc = KR_OK;
    kr_ledger_run run = {0};
    char *dir = dir_of(job->product);
    if (!dir) return kr_err(KR_ENOMEM, "out of memory");
    if ((rc = mkdir_p(dir))) goto cleanup;
    remove_stale_tmp(job->product, log);
    run.instrument = job->instrument;
    run.path = job->path;
    run.kind = "nightly";
    run.template_path = job->template_path;
    run.product = job->product;
    snprintf(run.run_hash, sizeof run.run_hash, "%s", job->run_hash);
    snprintf(run.config_hash, sizeof run.config_hash, "%s", job->config_hash);
    run.software_version = KREEP_VERSION;
    if ((rc = join_lines(job->overrides, job->noverrides, &run.overrides))) goto cleanup;
    if ((rc = kr_ledger_run_start(lg, &run))) goto cleanup;
    *run_id = run.id;
cleanup:
    free(run.overrides);
    free(dir);
    return rc;
}

/* After a run that returned `rr` (error chain in errbuf): classify, quarantine, record run + item in one
 * transaction. */
static int exec_finish(const kr_nightly *nc, kr_ledger *lg, kr_nightly_job *job, long long run_id, int rr,
                       char *errbuf, kr_log *log, const char **outcome)
{
    int rc = KR_OK;
    kr_ledger_item prev = {0}, it = {0};
    char *moved = NULL;
    int found = 0;
    *outcome = "failed";
    if ((rc = kr_ledger_get_item(lg, job->instrument, job->path, &prev, &found))) goto cleanup;
    it.instrument = job->instrument;
    it.path = job->path;
    it.size = job->size;
    it.mtime_ns = job->mtime_ns;
    memcpy(it.sha256, job->sha256, sizeof it.sha256);
    memcpy(it.run_hash, job->run_hash, sizeof it.run_hash);
    memcpy(it.config_hash, job->config_hash, sizeof it.config_hash);
    it.software_version = KREEP_VERSION;
    it.attempts = job->attempts + 1;
    it.error = rr ? errbuf : NULL;
    const char *run_status;
    if (rr == KR_OK || rr == KR_EPARTIAL) {
        it.status = "done";
        it.product = job->product;
        run_status = rr ? "partial" : "done";
    } else {
        /* the previous product (if any) is untouched: the ledger keeps pointing to it */
        it.product = found ? prev.product : NULL;
        int transient = rr == KR_EIO || rr == KR_ENOMEM;
        it.status = (transient && it.attempts < nc->max_attempts) ? "failed" : "quarantined";
        run_status = it.status;
        if (!strcmp(it.status, "quarantined") && nc->quarantine_dir) {
            if (move_to_quarantine(nc, job, &moved)) {
                char buf[1024];
                kr_err_format(buf, sizeof buf);
                kr_err_clear();
                kr_log_warn(log, "nightly", "%s", buf);
            }
            it.quarantine_path = moved;
        }
    }
    *outcome = run_status;
    kr_ledger_file *extra = NULL;
    size_t nextra = 0;
    int extra_valid = 0;
    if (rr == KR_OK || rr == KR_EPARTIAL) {
        if (read_extra_inputs(job->product, job->path, &extra, &nextra)) {
            char buf[1024];
            kr_err_format(buf, sizeof buf);
            kr_err_clear();
            kr_log_warn(log, "nightly", "%s (files outside the entry will not be watched)", buf);
        } else {
            extra_valid = 1;
        }
    }
    rc = kr_ledger_run_finish(lg, run_id, run_status, it.error, (rr == KR_OK || rr == KR_EPARTIAL) ? job->product : NULL,
                              &it, extra, nextra, extra_valid);
    kr_ledger_files_free(extra, nextra);
cleanup:
    free(moved);
    kr_ledger_item_clear(&prev);
    return rc;
}

int kr_nightly_execute(const kr_nightly *nc, kr_ledger *lg, kr_nightly_job *job, const kr_stage *const *stages,
                       size_t nstages, kr_log *log, const char **outcome, char *errbuf, size_t errlen)
{
    long long id = 0;
    *outcome = "failed";
    errbuf[0] = '\0';
    int rc = exec_begin(lg, job, log, &id);
    if (rc) return rc;
    int rr = kr_run_pipeline(job->template_path, job->product, job->overrides, job->noverrides, stages, nstages, log);
    if (rr != KR_OK) {
        kr_err_format(errbuf, errlen);
        kr_err_clear();
    }
    return exec_finish(nc, lg, job, id, rr, errbuf, log, outcome);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The first calibration file recorded in `product`'s /provenance/calibration whose contents differ from
 * the one this kreep uses now (or is gone): its name into `what` (empty when all are the same). */
static int calib_changed(const char *product, char *what, size_t len)
{
    typedef struct {
        char name[128];
        char sha256[KR_SHA256_HEX];
    } row;
    static const kr_column cols[] = {
        KR_COL_S(row, name, ""),
        KR_COL_S(row, sha256, ""),
    };
    static const kr_table_desc desc = KR_TABLE(cols, row);
    row *rows = NULL;
    size_t nr = 0;
    what[0] = '\0';
    int rc = kr_table_read_file(product, "provenance/calibration", &desc, (void **)&rows, &nr);
    for (size_t i = 0; i < nr && !rc && !what[0]; i++) {
        kr_text txt;
        char h[KR_SHA256_HEX] = "";
        if (kr_calib_text(rows[i].name, &txt)) {
            kr_err_clear(); /* gone from this build: changed */
        } else {
            rc = kr_sha256_mem(txt.data, txt.len, h);
            kr_text_free(&txt);
        }
        if (!rc && strcmp(h, rows[i].sha256)) snprintf(what, len, "%s", rows[i].name);
    }
    free(rows);
    return rc;
}

/* A product written for this very run (by a Slurm task): same config hash, version and calibration
 * files, newer than the entry's files. */
static int adoptable(const kr_nightly_job *j, const char **why, char *buf, size_t len)
{
    struct stat st;
    char cfg[KR_SHA256_HEX + 8], ver[64];
    if (stat(j->product, &st) != 0) {
        *why = "no product";
        return 0;
    }
    if (kr_merge_root_attr(j->product, "config_sha256", cfg, sizeof cfg) ||
        kr_merge_root_attr(j->product, "software_version", ver, sizeof ver)) {
        kr_err_clear();
        *why = "the product is not HDF5";
        return 0;
    }
    if (strcmp(cfg, j->config_hash)) {
        *why = "the product was made with another config";
        return 0;
    }
    if (strcmp(ver, KREEP_VERSION)) {
        *why = "the product was made by another kreep version";
        return 0;
    }
    if (mtime_ns_of(&st) <= j->mtime_ns) {
        *why = "the product is older than the entry's files";
        return 0;
    }
    char what[128];
    if (calib_changed(j->product, what, sizeof what)) {
        kr_err_clear();
        *why = "its calibration record cannot be read";
        return 0;
    }
    if (what[0]) {
        snprintf(buf, len, "a calibration file changed since the product was made (%s)", what);
        *why = buf;
        return 0;
    }
    return 1;
}

static void report_run(FILE *rep, kr_nightly_summary *sum, const kr_nightly_job *j, const char *outcome,
                       const char *errbuf, double secs)
{
    const char *what = j->name[0] ? j->name : "(inbox)";
    sum->ran++;
    if (!strcmp(outcome, "done")) sum->done++;
    else if (!strcmp(outcome, "partial")) sum->partial++;
    else if (!strcmp(outcome, "quarantined")) sum->quarantined++;
    else sum->failed++;
    if (!rep) return;
    if (!strcmp(outcome, "done"))
        fprintf(rep, "%-12s %s/%s (%s) -> %s [%.2f s]\n", "reduced", j->instrument, what, j->reason, j->product, secs);
    else if (!strcmp(outcome, "partial"))
        fprintf(rep, "%-12s %s/%s (%s) -> %s, some samples failed: %s\n", "PARTIAL", j->instrument, what, j->reason,
                j->product, errbuf);
    else
        fprintf(rep, "%-12s %s/%s (%s): %s\n", !strcmp(outcome, "quarantined") ? "QUARANTINED" : "FAILED",
                j->instrument, what, j->reason, errbuf);
    fflush(rep);
}

typedef struct {
    pid_t pid;
    int fd;
    size_t job;
    long long run_id;
    double t0;
} worker;

/* Run the RUN jobs listed in `idx` with up to nc->jobs forked processes. Each child only runs
 * kr_run_pipeline (which writes its product atomically) and sends back its status and error chain
 * through a pipe; the parent alone writes the ledger. A child that dies (OOM killer, kill -9) counts as
 * a failed run, retried next night. */
static int run_pool(const kr_nightly *nc, kr_ledger *lg, kr_nightly_plan *plan, const size_t *idx, size_t n,
                    const kr_stage *const *stages, size_t nstages, kr_log *log, FILE *rep, kr_nightly_summary *sum)
{
    int rc = KR_OK;
    size_t nw = (size_t)nc->jobs, next = 0, nrunning = 0;
    worker *w = calloc(nw, sizeof *w);
    char errbuf[4096];
    if (!w) return kr_err(KR_ENOMEM, "out of memory");
    while (next < n || nrunning) {
        while (next < n && nrunning < nw && !rc) {
            kr_nightly_job *j = &plan->jobs[idx[next]];
            size_t slot = 0;
            while (w[slot].pid) slot++;
            long long id = 0;
            if ((rc = exec_begin(lg, j, log, &id))) break;
            kr_log_info(log, "nightly", "%s/%s: %s", j->instrument, j->name, j->reason);
            int pfd[2];
            if (pipe(pfd) != 0) {
                rc = kr_err(KR_EIO, "cannot create a pipe for a run: %s", strerror(errno));
                break;
            }
            fflush(NULL);
            pid_t pid = fork();
            if (pid < 0) {
                close(pfd[0]);
                close(pfd[1]);
                rc = kr_err(KR_EIO, "cannot start a run process: %s", strerror(errno));
                break;
            }
            if (pid == 0) {
                close(pfd[0]);
                kr_err_clear();
                char buf[4096] = "";
                int rr = kr_run_pipeline(j->template_path, j->product, j->overrides, j->noverrides, stages, nstages, log);
                if (rr) kr_err_format(buf, sizeof buf);
                ssize_t wr = write(pfd[1], &rr, sizeof rr);
                if (wr == (ssize_t)sizeof rr) wr = write(pfd[1], buf, strlen(buf) + 1);
                _exit(wr > 0 ? 0 : 1);
            }
            close(pfd[1]);
            w[slot] = (worker){pid, pfd[0], idx[next], id, now_s()};
            next++;
            nrunning++;
        }
        if (!nrunning) break;
        int st = 0;
        pid_t pid = waitpid(-1, &st, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            rc = kr_err(KR_EIO, "waiting for run processes: %s", strerror(errno));
            break;
        }
        size_t slot = 0;
        while (slot < nw && w[slot].pid != pid) slot++;
        if (slot == nw) continue; /* not one of ours */
        int rr = KR_EIO;
        errbuf[0] = '\0';
        ssize_t got = read(w[slot].fd, &rr, sizeof rr);
        if (got == (ssize_t)sizeof rr) {
            size_t len = 0;
            ssize_t k;
            while (len < sizeof errbuf - 1 && (k = read(w[slot].fd, errbuf + len, sizeof errbuf - 1 - len)) > 0)
                len += (size_t)k;
            errbuf[len] = '\0';
        } else {
            rr = KR_EIO;
            if (WIFSIGNALED(st))
                snprintf(errbuf, sizeof errbuf, "the run process was killed by signal %d (out of memory?)", WTERMSIG(st));
            else
                snprintf(errbuf, sizeof errbuf, "the run process ended without a result (exit %d)", WEXITSTATUS(st));
        }
        close(w[slot].fd);
        kr_nightly_job *j = &plan->jobs[w[slot].job];
        const char *outcome = NULL;
        int frc = exec_finish(nc, lg, j, w[slot].run_id, rr, errbuf, log, &outcome);
        if (!frc) report_run(rep, sum, j, outcome, errbuf, now_s() - w[slot].t0);
        if (frc && !rc) rc = frc;
        w[slot].pid = 0;
        nrunning--;
    }
    free(w);
    return rc;
}

int kr_nightly_run_loaded(const kr_nightly *nc, const kr_nightly_opts *opts, const kr_stage *const *stages,
                          size_t nstages, kr_nightly_summary *sum)
{
    int rc = KR_OK;
    kr_lock *lock = NULL;
    kr_ledger *lg = NULL;
    kr_nightly_plan plan = {0};
    FILE *rep = opts->report;
    kr_log quiet;
    kr_log *log = opts->log;
    char errbuf[4096];
    size_t *pool_idx = NULL, npool = 0;
    double t0 = now_s();
    memset(sum, 0, sizeof *sum);
    if (!log) {
        kr_log_init(&quiet, stderr, KR_LOG_QUIET);
        log = &quiet;
    }
    if (!opts->dry_run) {
        long stale = 0;
        if ((rc = mkdir_p(nc->products))) goto cleanup;
        if ((rc = kr_lock_acquire(nc->lock, &lock, &stale))) goto cleanup;
        if (stale && rep)
            fprintf(rep, "recovered a stale lock left by pid %ld (a nightly that did not finish)\n", stale);
        if ((rc = kr_ledger_open(nc->ledger, &lg))) goto cleanup;
        long nint = 0;
        if ((rc = kr_ledger_mark_interrupted(lg, &nint))) goto cleanup;
        if (nint && rep) fprintf(rep, "%ld run(s) of an earlier nightly were interrupted; their entries are redone\n", nint);
    } else {
        /* read-only: an absent ledger is an empty one, and nothing is created */
        if ((rc = kr_ledger_open(access(nc->ledger, F_OK) == 0 ? nc->ledger : ":memory:", &lg))) goto cleanup;
    }
    if ((rc = kr_nightly_make_plan(nc, lg, stages, nstages, opts->dry_run, log, &plan))) goto cleanup;
    if (!(pool_idx = calloc(plan.n ? plan.n : 1, sizeof *pool_idx))) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < plan.n; i++) {
        kr_nightly_job *j = &plan.jobs[i];
        const char *what = j->name[0] ? j->name : "(inbox)";
        switch (j->action) {
        case KR_JOB_SKIP:
            if (!j->reason) break; /* not an export */
            sum->skipped++;
            if (rep) fprintf(rep, "%-12s %s/%s: %s\n", "unchanged", j->instrument, what, j->reason);
            break;
        case KR_JOB_NOT_READY:
            sum->not_ready++;
            if (rep) fprintf(rep, "%-12s %s/%s: %s\n", "not ready", j->instrument, what, j->reason);
            break;
        case KR_JOB_ERROR:
            sum->errors++;
            if (rep) fprintf(rep, "%-12s %s/%s: %s\n", "ERROR", j->instrument, what, j->reason);
            break;
        case KR_JOB_QUARANTINE:
            sum->quarantined++;
            if (opts->dry_run) {
                if (rep) fprintf(rep, "%-12s %s/%s: %s\n", "would quar.", j->instrument, what, j->reason);
                break;
            }
            if ((rc = record_quarantine(nc, lg, j, log))) goto cleanup;
            if (rep) fprintf(rep, "%-12s %s/%s: %s\n", "QUARANTINED", j->instrument, what, j->reason);
            break;
        case KR_JOB_RUN: {
            if (opts->dry_run) {
                sum->ran++;
                if (rep) fprintf(rep, "%-12s %s/%s: %s -> %s\n", "would run", j->instrument, what, j->reason, j->product);
                break;
            }
            if (opts->adopt) {
                const char *why = NULL;
                char whybuf[256];
                if (!adoptable(j, &why, whybuf, sizeof whybuf)) {
                    sum->not_ready++;
                    if (rep) fprintf(rep, "%-12s %s/%s: not adopted: %s\n", "left", j->instrument, what, why);
                    break;
                }
                long long id = 0;
                const char *outcome = NULL;
                char note[] = "";
                if ((rc = exec_begin(lg, j, log, &id)) || (rc = exec_finish(nc, lg, j, id, KR_OK, note, log, &outcome)))
                    goto cleanup;
                sum->ran++;
                sum->done++;
                if (rep) fprintf(rep, "%-12s %s/%s (%s) -> %s\n", "adopted", j->instrument, what, j->reason, j->product);
                break;
            }
            if (nc->jobs > 1) { /* run below, in parallel */
                pool_idx[npool++] = i;
                break;
            }
            const char *outcome = NULL;
            double t1 = now_s();
            kr_log_info(log, "nightly", "%s/%s: %s", j->instrument, what, j->reason);
            if ((rc = kr_nightly_execute(nc, lg, j, stages, nstages, log, &outcome, errbuf, sizeof errbuf)))
                goto cleanup;
            report_run(rep, sum, j, outcome, errbuf, now_s() - t1);
            break;
        }
        }
    }
    if (npool && (rc = run_pool(nc, lg, &plan, pool_idx, npool, stages, nstages, log, rep, sum))) goto cleanup;
    sum->wall_s = now_s() - t0;
    if (rep) {
        if (opts->dry_run)
            fprintf(rep, "dry run: %zu would run, %zu unchanged, %zu would be quarantined, %zu not ready, %zu errors "
                         "(nothing was changed)\n",
                    sum->ran, sum->skipped, sum->quarantined, sum->not_ready, sum->errors);
        else if (sum->ran == 0 && sum->quarantined == 0 && sum->errors == 0)
            fprintf(rep, "nothing to do: %zu entr%s unchanged, %zu not ready (%.2f s)\n", sum->skipped,
                    sum->skipped == 1 ? "y" : "ies", sum->not_ready, sum->wall_s);
        else
            fprintf(rep, "nightly: %zu reduced, %zu partly (samples failed), %zu quarantined, %zu failed (will retry), "
                         "%zu errors, %zu unchanged, %zu not ready (%.2f s)\n",
                    sum->done, sum->partial, sum->quarantined, sum->failed, sum->errors, sum->skipped, sum->not_ready,
                    sum->wall_s);
    }
    if (opts->dry_run && sum->errors)
        rc = kr_err(KR_EPARTIAL, "nightly --dry-run: %zu instrument(s) or entries cannot be planned (see ERROR lines)",
                    sum->errors);
    else if (!opts->dry_run && (sum->partial || sum->quarantined || sum->failed || sum->errors))
        rc = kr_err(KR_EPARTIAL, "nightly: %zu quarantined, %zu failed, %zu partly reduced, %zu errors (see the report "
                                 "above and the ledger %s)",
                    sum->quarantined, sum->failed, sum->partial, sum->errors, nc->ledger);
cleanup:
    free(pool_idx);
    kr_nightly_plan_free(&plan);
    kr_ledger_close(lg);
    kr_lock_release(lock);
    return rc;
}

int kr_nightly_run(const char *nightly_yaml, const kr_nightly_opts *opts, const kr_stage *const *stages,
                   size_t nstages, kr_nightly_summary *sum)
{
    kr_nightly *nc = NULL;
    memset(sum, 0, sizeof *sum);
    int rc = kr_nightly_load(nightly_yaml, &nc);
    if (!rc) rc = kr_nightly_run_loaded(nc, opts, stages, nstages, sum);
    kr_nightly_free(nc);
    return rc;
}

int kr_nightly_hash_entry(kr_ledger *lg, const char *path, char hex[KR_SHA256_HEX])
{
    flist l = {0};
    kr_nightly_job j = {0};
    const char *slash = strrchr(path, '/');
    j.path = (char *)path; /* borrowed: hash_entry only reads it */
    int rc = scan_entry(path, slash ? slash + 1 : path, ".ready", &l);
    if (!rc) rc = hash_entry(lg, 1, &j, &l, hex);
    flist_free(&l);
    return rc;
}
