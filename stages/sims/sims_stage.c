/* The SIMS Pb-Pb stage: config, file list, two-pass reduction (mass fractionation from a reference
 * material), group statistics, product tables. */
#include "sims_stage.h"

#include "calib.h"
#include "error.h"
#include "stage.h"

#include <glob.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const kr_param SIMS_PARAMS[] = {
    {"sims.exports", KR_PT_NODE, NULL, "", 1, 0, NULL,
     "list of CAMECA .asc files, folders (all *.asc inside) or globs, relative to run.yaml"},
    {"sims.group_rule", KR_PT_CHOICE, "prefix", "", 1, 0, "prefix|sample_name|file",
     "group (sample) of a spot: file stem before the last '@' (Tem@3.asc -> Tem), the SAMPLE NAME field, "
     "or one group per file"},
    {"sims.ratio_mode", KR_PT_CHOICE, "cycle_means", "", 1, 0, "cycle_means|mean_of_ratios",
     "spot ratios from the mean count rates or as the mean of the cycle ratios"},
    {"sims.cycle_outlier_k", KR_PT_DOUBLE, "3.5", "", 0, 100, NULL,
     "reject cycles whose 207/206 is more than k x 1.4826 MAD from the median (single pass, at most a "
     "third of the cycles; 0 disables)"},
    {"sims.common_pb", KR_PT_CHOICE, "stacey_kramers", "", 1, 0, "stacey_kramers|canyon_diablo|user|none",
     "common-Pb composition for the 204Pb correction"},
    {"sims.common_pb206_pb204", KR_PT_DOUBLE, NULL, "", 0, 1000, NULL, "common 206Pb/204Pb when common_pb: user"},
    {"sims.common_pb207_pb204", KR_PT_DOUBLE, NULL, "", 0, 1000, NULL, "common 207Pb/204Pb when common_pb: user"},
    {"sims.u238_u235", KR_PT_CHOICE, "hiess2012", "", 1, 0, "hiess2012|sj77",
     "238U/235U: 137.818 (Hiess et al. 2012) or 137.88 (Steiger & Jaeger 1977)"},
    {"sims.wmean_outliers", KR_PT_BOOL, "true", "", 1, 0, NULL,
     "reject outliers from group weighted means (IsoplotR's modified Chauvenet criterion)"},
    {"sims.reference_materials", KR_PT_NODE, NULL, "", 1, 0, NULL,
     "map group -> reference material in calib/sims_reference_materials.csv (e.g. Tem: temora)"},
    {"sims.fractionation_group", KR_PT_STRING, NULL, "", 1, 0, NULL,
     "reference-material group whose known age sets the 207Pb/206Pb mass fractionation (unset: none)"},
};
const kr_param_table kr_sims_params = {"sims", SIMS_PARAMS, sizeof SIMS_PARAMS / sizeof SIMS_PARAMS[0]};

int kr_sims_settings_default(kr_sims_settings *s, const char *u_name)
{
    memset(s, 0, sizeof *s);
    s->group_rule = KR_GROUP_PREFIX;
    s->ratio_mode = KR_RATIO_CYCLE_MEANS;
    s->cycle_outlier_k = 3.5;
    s->cpb = KR_CPB_STACEY_KRAMERS;
    s->wmean_outliers = 1;
    s->fractionation_rm = -1;
    int rc = kr_pbpb_consts_load(&s->consts, u_name);
    if (!rc) rc = kr_sk_load(&s->sk);
    if (rc) return rc;
    kr_constants k;
    rc = kr_constants_load("sims_constants.csv", &k);
    if (rc) return rc;
    rc = kr_constant_get(&k, "poisson_upper_1s_zero_counts", &s->poisson_zero_upper, NULL);
    kr_constants_free(&k);
    return rc;
}

int kr_sims_settings_add_rm(kr_sims_settings *s, const char *group, const char *material)
{
    if (s->n_rm >= KR_SIMS_MAX_RM) return kr_err(KR_EINPUT, "more than %d reference materials", KR_SIMS_MAX_RM);
    kr_constants k;
    int rc = kr_constants_load("sims_reference_materials.csv", &k);
    if (rc) return rc;
    const kr_constant *c = NULL;
    for (size_t i = 0; i < k.n; i++)
        if (kr_streq_ci(k.items[i].name, material)) c = &k.items[i];
    if (!c) {
        kr_constants_free(&k);
        return kr_err(KR_EINPUT, "reference material '%s' is not in sims_reference_materials.csv", material);
    }
    size_t i = s->n_rm++;
    snprintf(s->rm_group[i], KR_SIMS_NAME, "%s", group);
    snprintf(s->rm_name[i], KR_SIMS_NAME, "%s", c->name);
    s->rm_age_ma[i] = c->value;
    /* store 1 sigma: 95 % intervals / 1.96, 2s / 2 */
    double div = !strcmp(c->uncertainty_type, "95%CL") ? 1.96 : !strcmp(c->uncertainty_type, "2s") ? 2.0 : 1.0;
    s->rm_age_err_ma[i] = c->uncertainty / div;
    kr_constants_free(&k);
    return KR_OK;
}

void kr_sims_result_free(kr_sims_result *res)
{
    free(res->cycles);
    free(res->spots);
    free(res->ages);
    memset(res, 0, sizeof *res);
}

static void spot_names(const char *path, const kr_asc *a, kr_group_rule rule, char *spot, char *group)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t len = strlen(base);
    if (len > 4 && kr_streq_ci(base + len - 4, ".asc")) len -= 4;
    if (len >= KR_SIMS_NAME) len = KR_SIMS_NAME - 1;
    memcpy(spot, base, len);
    spot[len] = 0;
    if (rule == KR_GROUP_SAMPLE_NAME && a && a->sample_name[0]) {
        snprintf(group, KR_SIMS_NAME, "%.*s", KR_SIMS_NAME - 1, a->sample_name);
    } else if (rule == KR_GROUP_PREFIX && strrchr(spot, '@')) {
        size_t g = (size_t)(strrchr(spot, '@') - spot);
        memcpy(group, spot, g);
        group[g] = 0;
    } else {
        snprintf(group, KR_SIMS_NAME, "%s", spot);
    }
}

/* One pass over the files with the given fractionation. */
static int reduce_pass(const char *const *paths, size_t npaths, const kr_sims_settings *s, double eps, double seps,
                       kr_sims_result *res)
{
    kr_sims_opts o;
    memset(&o, 0, sizeof o);
    o.ratio_mode = s->ratio_mode;
    o.cycle_outlier_k = s->cycle_outlier_k;
    o.cpb = s->cpb;
    o.c64 = s->c64;
    o.c74 = s->c74;
    o.frac_per_amu = eps;
    o.frac_per_amu_err = seps;
    o.poisson_zero_upper = s->poisson_zero_upper;
    o.consts = &s->consts;
    o.sk = &s->sk;
    size_t cap = 0;
    res->spots = calloc(npaths ? npaths : 1, sizeof *res->spots);
    if (!res->spots) return kr_err(KR_ENOMEM, "out of memory");
    for (size_t f = 0; f < npaths; f++) {
        kr_asc a;
        kr_sims_spot_row *row = &res->spots[res->nspots++];
        char spot[KR_SIMS_NAME], group[KR_SIMS_NAME];
        int rc = kr_asc_read(paths[f], &a);
        if (rc) {
            spot_names(paths[f], NULL, s->group_rule, spot, group);
            memset(row, 0, sizeof *row);
            snprintf(row->spot, sizeof row->spot, "%s", spot);
            snprintf(row->group, sizeof row->group, "%s", group);
            const char *base = strrchr(paths[f], '/');
            snprintf(row->file, sizeof row->file, "%.*s", (int)sizeof row->file - 1, base ? base + 1 : paths[f]);
            row->flags = KR_SIMS_F_FAILED;
            row->age_ma = row->age_err_int_ma = row->age_err_ext_ma = NAN;
            kr_err_format(row->message, sizeof row->message);
            kr_err_clear();
            res->nfailed++;
            if (rc == KR_ENOMEM) return kr_err(rc, "out of memory");
            continue;
        }
        spot_names(paths[f], &a, s->group_rule, spot, group);
        if (res->ncycles + a.ncycles > cap) {
            size_t ncap = (cap ? 2 * cap : 256) + a.ncycles;
            kr_sims_cycle_row *p = realloc(res->cycles, ncap * sizeof *p);
            if (!p) {
                kr_asc_free(&a);
                return kr_err(KR_ENOMEM, "out of memory");
            }
            res->cycles = p;
            cap = ncap;
        }
        rc = kr_sims_reduce_spot(&a, spot, group, &o, row, res->cycles + res->ncycles);
        res->ncycles += a.ncycles;
        kr_asc_free(&a);
        if (rc) {
            if (!row->message[0]) kr_err_format(row->message, sizeof row->message);
            row->flags |= KR_SIMS_F_FAILED;
            kr_err_clear();
            res->nfailed++;
            if (rc == KR_ENOMEM) return kr_err(rc, "out of memory");
        }
    }
    return KR_OK;
}

static int group_all(const kr_sims_settings *s, double frac_err, kr_sims_result *res)
{
    size_t n = res->nspots;
    res->ages = calloc(n ? n : 1, sizeof *res->ages);
    kr_sims_spot_row *tmp = calloc(n ? n : 1, sizeof *tmp);
    int rc = KR_OK;
    if (!res->ages || !tmp) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) seen = !strcmp(res->spots[j].group, res->spots[i].group);
        if (seen) continue;
        size_t m = 0;
        for (size_t j = i; j < n; j++)
            if (!strcmp(res->spots[j].group, res->spots[i].group)) tmp[m++] = res->spots[j];
        rc =
            kr_sims_group(res->spots[i].group, tmp, m, &s->consts, s->wmean_outliers, frac_err, &res->ages[res->nages]);
        if (rc) goto cleanup;
        res->nages++;
    }
cleanup:
    free(tmp);
    return rc;
}

int kr_sims_reduce_files(const char *const *paths, size_t npaths, const kr_sims_settings *s, kr_sims_result *res)
{
    memset(res, 0, sizeof *res);
    int rc = reduce_pass(paths, npaths, s, 0.0, 0.0, res);
    if (rc) goto cleanup;
    if (s->fractionation_rm >= 0) {
        /* mass fractionation from the reference material: eps = r_true / r_measured - 1 per amu (207/206 is
         * 1 amu apart), with r_measured the weighted mean 207Pb* / 206Pb* of its spots */
        const char *g = s->rm_group[s->fractionation_rm];
        size_t m = 0;
        double *r = malloc((res->nspots + 1) * 2 * sizeof *r);
        if (!r) {
            rc = kr_err(KR_ENOMEM, "out of memory");
            goto cleanup;
        }
        for (size_t i = 0; i < res->nspots; i++)
            if (!strcmp(res->spots[i].group, g) && !(res->spots[i].flags & KR_SIMS_F_FAILED) &&
                res->spots[i].pb207_pb206_rad_err > 0) {
                r[m] = res->spots[i].pb207_pb206_rad;
                r[res->nspots + 1 + m] = res->spots[i].pb207_pb206_rad_err;
                m++;
            }
        kr_wmean_result w;
        rc = m ? kr_wmean(r, r + res->nspots + 1, m, s->wmean_outliers, NULL, &w)
               : kr_err(KR_EINPUT, "fractionation group '%s' has no spot with an age", g);
        free(r);
        if (rc) goto cleanup;
        double t = s->rm_age_ma[s->fractionation_rm], st = s->rm_age_err_ma[s->fractionation_rm];
        double rt = kr_pbpb_ratio(&s->consts, t);
        kr_pbpb_age d;
        if ((rc = kr_pbpb_age_solve(&s->consts, rt, 0, &d))) goto cleanup;
        double srt = d.dr_dt * st;
        double eps = rt / w.mean - 1;
        double seps = (rt / w.mean) * sqrt(pow(w.err_inflated / w.mean, 2) + pow(srt / rt, 2));
        kr_sims_result_free(res);
        if ((rc = reduce_pass(paths, npaths, s, eps, seps, res))) goto cleanup;
        res->frac_per_amu = eps;
        res->frac_per_amu_err = seps;
    }
    rc = group_all(s, res->frac_per_amu_err, res);
cleanup:
    if (rc) kr_sims_result_free(res);
    return rc;
}

/* ---- config ---- */

static int add_path(char ***list, size_t *n, size_t *cap, const char *p)
{
    if (*n == *cap) {
        size_t nc = *cap ? 2 * *cap : 64;
        char **q = realloc(*list, nc * sizeof *q);
        if (!q) return kr_err(KR_ENOMEM, "out of memory");
        *list = q;
        *cap = nc;
    }
    (*list)[*n] = strdup(p);
    if (!(*list)[*n]) return kr_err(KR_ENOMEM, "out of memory");
    (*n)++;
    return KR_OK;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void free_list(char **l, size_t n)
{
    for (size_t i = 0; i < n; i++) free(l[i]);
    free(l);
}

/* Expand sims.exports into a sorted list of .asc paths. */
static int export_list(const kr_config *cfg, char ***out, size_t *nout)
{
    *out = NULL;
    *nout = 0;
    size_t cap = 0;
    const kr_node *ex = kr_config_node(cfg, "sims.exports");
    if (!ex) return kr_err_at(KR_EINPUT, kr_config_path(cfg), 0, "sims: 'exports' (list of .asc files) is missing");
    size_t ni = kr_node_kind_of(ex) == KR_NODE_SEQ ? kr_node_len(ex) : 1;
    int rc = KR_OK;
    for (size_t i = 0; i < ni && !rc; i++) {
        const kr_node *it = kr_node_kind_of(ex) == KR_NODE_SEQ ? kr_node_item(ex, i) : ex;
        const char *v = kr_node_scalar(it);
        if (!v) {
            rc = kr_err_at(KR_EINPUT, kr_node_file(it), kr_node_line(it), "sims.exports: expected a path or glob");
            break;
        }
        char *full = kr_config_resolve_path(cfg, v);
        if (!full) {
            rc = kr_err(KR_ENOMEM, "out of memory");
            break;
        }
        struct stat st;
        char pattern[4200];
        if (strpbrk(v, "*?["))
            snprintf(pattern, sizeof pattern, "%s", full);
        else if (stat(full, &st) == 0 && S_ISDIR(st.st_mode))
            snprintf(pattern, sizeof pattern, "%s/*.asc", full);
        else
            pattern[0] = 0;
        if (!pattern[0]) {
            if (stat(full, &st) != 0)
                rc = kr_err_at(KR_EINPUT, kr_node_file(it), kr_node_line(it), "sims.exports: '%s' does not exist", v);
            else
                rc = add_path(out, nout, &cap, full);
        } else {
            glob_t g;
            int gr = glob(pattern, 0, NULL, &g);
            if (gr == GLOB_NOMATCH)
                rc = kr_err_at(KR_EINPUT, kr_node_file(it), kr_node_line(it), "sims.exports: '%s' matches no file", v);
            else if (gr != 0)
                rc = kr_err_at(KR_EINPUT, kr_node_file(it), kr_node_line(it), "sims.exports: cannot expand '%s'", v);
            else
                for (size_t k = 0; k < g.gl_pathc && !rc; k++) rc = add_path(out, nout, &cap, g.gl_pathv[k]);
            if (gr == 0 || gr == GLOB_NOMATCH) globfree(&g);
        }
        free(full);
    }
    if (rc) {
        free_list(*out, *nout);
        *out = NULL;
        *nout = 0;
        return rc;
    }
    qsort(*out, *nout, sizeof **out, cmp_str);
    return KR_OK;
}

static int settings_from_config(const kr_config *cfg, kr_sims_settings *s)
{
    const char *u = kr_config_string(cfg, "sims.u238_u235");
    int rc = kr_sims_settings_default(s, u && !strcmp(u, "sj77") ? "u238_u235_sj77" : "u238_u235");
    if (rc) return rc;
    const char *g = kr_config_string(cfg, "sims.group_rule");
    s->group_rule = !strcmp(g, "sample_name") ? KR_GROUP_SAMPLE_NAME
                    : !strcmp(g, "file")      ? KR_GROUP_FILE
                                              : KR_GROUP_PREFIX;
    s->ratio_mode = !strcmp(kr_config_string(cfg, "sims.ratio_mode"), "mean_of_ratios") ? KR_RATIO_MEAN_OF_RATIOS
                                                                                        : KR_RATIO_CYCLE_MEANS;
    s->cycle_outlier_k = kr_config_double(cfg, "sims.cycle_outlier_k");
    s->wmean_outliers = kr_config_bool(cfg, "sims.wmean_outliers");
    const char *cp = kr_config_string(cfg, "sims.common_pb");
    if (!strcmp(cp, "none")) {
        s->cpb = KR_CPB_NONE;
    } else if (!strcmp(cp, "canyon_diablo")) {
        kr_constants k;
        if ((rc = kr_constants_load("sims_constants.csv", &k))) return rc;
        s->cpb = KR_CPB_FIXED;
        rc = kr_constant_get(&k, "cd_pb206_pb204", &s->c64, NULL);
        if (!rc) rc = kr_constant_get(&k, "cd_pb207_pb204", &s->c74, NULL);
        kr_constants_free(&k);
        if (rc) return rc;
    } else if (!strcmp(cp, "user")) {
        if (!kr_config_has(cfg, "sims.common_pb206_pb204") || !kr_config_has(cfg, "sims.common_pb207_pb204"))
            return kr_err_at(KR_EINPUT, kr_config_path(cfg), 0,
                             "sims.common_pb: user needs sims.common_pb206_pb204 and sims.common_pb207_pb204");
        s->cpb = KR_CPB_FIXED;
        s->c64 = kr_config_double(cfg, "sims.common_pb206_pb204");
        s->c74 = kr_config_double(cfg, "sims.common_pb207_pb204");
    } else {
        s->cpb = KR_CPB_STACEY_KRAMERS;
    }
    const kr_node *rm = kr_config_node(cfg, "sims.reference_materials");
    if (rm) {
        if (kr_node_kind_of(rm) != KR_NODE_MAP)
            return kr_err_at(KR_EINPUT, kr_node_file(rm), kr_node_line(rm),
                             "sims.reference_materials: expected a map group -> material (Tem: temora)");
        for (size_t i = 0; i < kr_node_len(rm); i++) {
            const char *mat = kr_node_scalar(kr_node_item(rm, i));
            if (!mat || (rc = kr_sims_settings_add_rm(s, kr_node_key(rm, i), mat)))
                return kr_err_at(KR_EINPUT, kr_node_file(kr_node_item(rm, i)), kr_node_line(kr_node_item(rm, i)),
                                 "sims.reference_materials: bad entry for group '%s'", kr_node_key(rm, i));
        }
    }
    const char *fg = kr_config_string(cfg, "sims.fractionation_group");
    if (fg) {
        for (size_t i = 0; i < s->n_rm; i++)
            if (!strcmp(s->rm_group[i], fg)) s->fractionation_rm = (int)i;
        if (s->fractionation_rm < 0)
            return kr_err_at(KR_EINPUT, kr_config_path(cfg), 0,
                             "sims.fractionation_group '%s' is not a group in sims.reference_materials", fg);
    }
    return KR_OK;
}

/* Shared by kr_sims_run and the stage entry point; ctx may be NULL. */
static int run_common(const kr_config *cfg, kr_run_ctx *ctx, kr_product *out, kr_sims_summary *summary)
{
    memset(summary, 0, sizeof *summary);
    kr_sims_settings s;
    int rc = settings_from_config(cfg, &s);
    if (rc) return kr_err(rc, "sims: bad configuration");
    char **paths = NULL;
    size_t n = 0;
    kr_sims_result res;
    memset(&res, 0, sizeof res);
    if ((rc = export_list(cfg, &paths, &n))) return rc;
    if ((rc = kr_sims_reduce_files((const char *const *)paths, n, &s, &res))) goto cleanup;
    summary->n_files = n;
    summary->n_spots = res.nspots;
    summary->n_failed = res.nfailed;
    summary->n_groups = res.nages;
    if (out) {
        for (size_t i = 0; i < n && !rc; i++) rc = kr_product_add_input(out, "sims_asc", paths[i]);
        if (!rc) rc = kr_product_write_table(out, "sims/cycles", &kr_sims_cycles_desc, res.cycles, res.ncycles);
        if (!rc) rc = kr_product_write_table(out, "sims/spots", &kr_sims_spots_desc, res.spots, res.nspots);
        if (!rc) rc = kr_product_write_table(out, "sims/ages", &kr_sims_ages_desc, res.ages, res.nages);
        if (!rc) rc = kr_product_attr_double(out, "sims/spots", "mass_fractionation_per_amu", res.frac_per_amu);
        if (!rc) rc = kr_product_attr_double(out, "sims/spots", "mass_fractionation_per_amu_err", res.frac_per_amu_err);
    }
    if (ctx) {
        for (size_t i = 0; i < res.nspots && !rc; i++)
            if (res.spots[i].flags & KR_SIMS_F_FAILED)
                rc = kr_run_sample_failed(ctx, "sims", res.spots[i].spot, res.spots[i].message);
        kr_log_info(kr_run_log(ctx), "sims", "%zu files, %zu spots (%zu without age), %zu groups", n, res.nspots,
                    res.nfailed, res.nages);
    }
cleanup:
    kr_sims_result_free(&res);
    free_list(paths, n);
    return rc;
}

int kr_sims_run(const kr_config *cfg, kr_product *out, kr_sims_summary *summary)
{
    return run_common(cfg, NULL, out, summary);
}

/* The stage entry point of `kreep run`: per-spot failures go to the run context. */
static int sims_stage_run(const kr_config *cfg, kr_run_ctx *ctx, kr_product *out)
{
    kr_sims_summary summary;
    return run_common(cfg, ctx, out, &summary);
}

const kr_stage kr_sims_stage = {"sims", &kr_sims_params, sims_stage_run};
