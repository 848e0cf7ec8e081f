/* One quantitative map, streamed: read the count maps, quantify band by band (kr_mapq_stream), encode
 * each band's chunks in the thread that computed it and write them in order, then PNGs and region
 * statistics from the written maps read back one at a time (DOMAIN.md §2.4). Peak memory: the count
 * maps (16-bit when the counts are integers) plus a few bands, not the quantified layers. */
#include "map_run.h"

#include "error.h"
#include "map_read.h"
#include "png_map.h"
#include "text.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* ---------------------------------------------------------------- the map itself */

typedef struct {
    int cations, oxygens;
    double oxide_factor; /* oxide mass / cation mass = (n A + m A_O)/(n A) */
    double o_per_cation; /* oxygen mass / cation mass = m A_O/(n A) */
    char oxide[40];
} ox_info;

static void oxide_of(const kr_atomic *at, const kr_epma_elem *e, ox_info *o)
{
    memset(o, 0, sizeof *o);
    o->cations = e->ox_cations ? e->ox_cations : at->ox_cations[e->z];
    o->oxygens = e->ox_cations ? e->ox_oxygens : at->ox_oxygens[e->z];
    if (o->cations <= 0 || e->z == 8) {
        o->cations = 0;
        o->oxide_factor = NAN;
        o->o_per_cation = 0;
        return;
    }
    double a = at->weight[e->z], ao = at->weight[8];
    /* oxide wt% = C (n A + m A_O)/(n A); O = C m A_O/(n A) (DOMAIN.md §2.3, Oxides) */
    o->oxide_factor = (o->cations * a + o->oxygens * ao) / (o->cations * a);
    o->o_per_cation = o->oxygens * ao / (o->cations * a);
    char n[12] = "", m[12] = "";
    if (o->cations > 1) snprintf(n, sizeof n, "%d", o->cations);
    if (o->oxygens > 1) snprintf(m, sizeof m, "%d", o->oxygens);
    snprintf(o->oxide, sizeof o->oxide, "%s%s%s%s", at->symbol[e->z], n, o->oxygens ? "O" : "", m);
}

/* "SiO2" or "Si" -> Z and element mass fraction from wt%. oxide_out: the oxide formula when given. */
static int species_to_element(const kr_atomic *at, const kr_map_species *s, int *z, double *mass_frac, int *is_oxide)
{
    int zz = kr_atomic_z(at, s->species);
    if (zz > 0) {
        *z = zz;
        *mass_frac = s->wt_pct / 100.0;
        *is_oxide = 0;
        return KR_OK;
    }
    int nc, no;
    if (kr_oxide_parse(at, s->species, &zz, &nc, &no) != 0) {
        kr_err_clear();
        return kr_err(KR_EINPUT, "\"%s\" is neither an element nor an oxide formula", s->species);
    }
    double a = at->weight[zz], ao = at->weight[8];
    *z = zz;
    *mass_frac = s->wt_pct / 100.0 * nc * a / (nc * a + no * ao);
    *is_oxide = 1;
    return KR_OK;
}

static int setup_index(const kr_epma_setup *s, int z)
{
    for (int i = 0; i < s->n; i++)
        if (s->el[i].z == z) return i;
    return -1;
}

/* Composition of a spot for the forward model: its species, then fixed values, O by stoichiometry. */
static int spot_composition(const kr_atomic *at, const kr_epma_setup *s, const kr_map_job_spot *sp, int spot_no,
                            double *c)
{
    int given[KR_EPMA_MAX_EL] = {0};
    for (int i = 0; i < s->n; i++) c[i] = s->el[i].role == KR_EPMA_FIXED ? s->el[i].fixed_mass_frac : 0;
    for (int q = 0; q < sp->n; q++) {
        int z, ox;
        double f;
        int rc = species_to_element(at, &sp->sp[q], &z, &f, &ox);
        if (rc) return kr_err(rc, "spot %d", spot_no);
        int i = setup_index(s, z);
        if (i < 0) continue; /* an element the map's setup does not hold: irrelevant to the forward model */
        c[i] = f;
        given[i] = 1;
    }
    double o = 0;
    int io = -1;
    for (int i = 0; i < s->n; i++) {
        if (s->el[i].role == KR_EPMA_STOICH_O) {
            io = i;
            continue;
        }
        if (s->el[i].role == KR_EPMA_MEASURED && !given[i])
            return kr_err(KR_EINPUT, "spot %d gives no value for mapped element %s", spot_no, at->symbol[s->el[i].z]);
        ox_info oi;
        oxide_of(at, &s->el[i], &oi);
        o += c[i] * oi.o_per_cation;
    }
    if (io >= 0) c[io] = o;
    return KR_OK;
}

static size_t file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int want_png(const kr_map_job *job, const char *name)
{
    if (job->npng == 0) return -1; /* default set */
    for (int i = 0; i < job->npng; i++)
        if (!strcmp(job->png[i], name)) return 1;
    return 0;
}


/* Rows per band of the streamed quantification, and per HDF5 chunk of every map. */
#define BAND_ROWS 8

/* ---------------------------------------------------------------- count maps */

/* A count map as read: exact 16-bit counts when every value is an integer in 0..65535, else float. */
typedef struct {
    float *f32;
    uint16_t *u16;
} plane;

static int read_plane(const char *path, long nx, long ny, double declared_max, float *tmp, plane *pl)
{
    size_t npx = (size_t)nx * (size_t)ny, p;
    int rc = kr_map_read_any(path, nx, ny, declared_max, tmp);
    if (rc) return rc;
    for (p = 0; p < npx; p++)
        if (!(tmp[p] >= 0.0f && tmp[p] <= 65535.0f && tmp[p] == (float)(uint16_t)tmp[p])) break;
    if (p == npx) {
        if (!(pl->u16 = malloc(sizeof(uint16_t) * npx))) return kr_err(KR_ENOMEM, "out of memory");
        for (p = 0; p < npx; p++) pl->u16[p] = (uint16_t)tmp[p];
    } else {
        if (!(pl->f32 = malloc(sizeof(float) * npx))) return kr_err(KR_ENOMEM, "out of memory");
        memcpy(pl->f32, tmp, sizeof(float) * npx);
    }
    return KR_OK;
}

static void plane_free(plane *pl)
{
    free(pl->f32);
    free(pl->u16);
    pl->f32 = NULL;
    pl->u16 = NULL;
}

/* ---------------------------------------------------------------- the job's state */

typedef enum { OUT_COUNTS, OUT_MASS, OUT_SIGMA, OUT_TOTAL } out_kind;

/* One map signal of the product. */
typedef struct {
    char name[48]; /* "TiO2_wt", "Ti_counts", ... */
    out_kind kind;
    int el;        /* setup index (not for OUT_TOTAL) */
    double scale;  /* oxide per element, else 1 */
    kr_map_ds *ds;
} out_spec;

/* A named quantity masks may test: element (scale 1) or oxide of setup element `el`, or the total. */
typedef struct {
    char name[48];
    int el; /* -1: total */
    double scale;
    int stat; /* has a row in the region table */
} layer_spec;

#define MAX_OUT (4 * KR_EPMA_MAX_EL + 2)
#define MAX_LAYERS (2 * KR_EPMA_MAX_EL + 1)
#define MAX_THREADS 16

typedef struct {
    float *total, *vals;   /* one band each */
    unsigned char *shuf, *enc;
} thread_scratch;

typedef struct {
    unsigned char *data[MAX_OUT];
    size_t bytes[MAX_OUT];
} band_slot;

typedef struct {
    const kr_map_job *job;
    const kr_epma_setup *setup;
    size_t nx, ny;
    size_t band_rows, band_values; /* rows per band = per chunk (BAND_ROWS, or ny if fewer); values per chunk */
    double fixed_pct;           /* wt% of the fixed elements (part of every total) */
    plane counts[KR_EPMA_MAX_EL];
    int nout;
    out_spec out[MAX_OUT];
    int nlayers;
    layer_spec layer[MAX_LAYERS];
    unsigned char *mask[KR_MAP_MAX_RULES]; /* whole map, one per region rule */
    thread_scratch th[MAX_THREADS];
    size_t ahead;
    band_slot *slot; /* `ahead` of them: band b uses slot b % ahead */
    int write;       /* 0: no product (quantification and masks only) */
} job_state;

/* ---------------------------------------------------------------- per band (worker threads) */

static void band_values(const job_state *js, const kr_mapq_band *b, const thread_scratch *ts, const out_spec *o,
                        float *v)
{
    size_t n = b->nrows * js->nx, off = b->row0 * js->nx;
    const plane *pl = &js->counts[o->el < 0 ? 0 : o->el];
    for (size_t q = 0; q < n; q++) {
        switch (o->kind) {
        case OUT_COUNTS: v[q] = pl->u16 ? (float)pl->u16[off + q] : pl->f32[off + q]; break;
        case OUT_MASS: v[q] = o->scale == 1.0 ? b->mass_pct[o->el][q] : (float)((double)b->mass_pct[o->el][q] * o->scale); break;
        case OUT_SIGMA: v[q] = b->sigma_pct[o->el][q]; break;
        case OUT_TOTAL: v[q] = ts->total[q]; break;
        }
    }
    for (size_t q = n; q < js->band_values; q++) v[q] = 0.0f; /* the last chunk is stored whole */
}

static int band_done(void *user, const kr_mapq_band *b, int thread)
{
    job_state *js = user;
    thread_scratch *ts = &js->th[thread];
    size_t n = b->nrows * js->nx, off = b->row0 * js->nx;
    /* total: every element, fixed ones included */
    for (size_t q = 0; q < n; q++) {
        double t = js->fixed_pct;
        for (int i = 0; i < js->setup->n; i++)
            if (b->mass_pct[i]) t += b->mass_pct[i][q];
        ts->total[q] = (float)t;
    }
    /* the region masks of these rows */
    kr_map_layer layers[MAX_LAYERS];
    for (int l = 0; l < js->nlayers; l++) {
        const layer_spec *ls = &js->layer[l];
        layers[l] = (kr_map_layer){ls->name, "wt%", ls->el < 0 ? ts->total : b->mass_pct[ls->el], ls->scale};
    }
    for (int k = 0; k < js->job->nrules; k++) {
        int rc = kr_map_mask(&js->job->rules[k], layers, js->nlayers, n, js->mask[k] + off, NULL);
        if (rc) return kr_err(rc, "map %s", js->job->name);
    }
    if (!js->write) return KR_OK;
    band_slot *sl = &js->slot[b->index % js->ahead];
    for (int o = 0; o < js->nout; o++) {
        size_t bytes;
        band_values(js, b, ts, &js->out[o], ts->vals);
        int rc = kr_map_chunk_encode(ts->vals, js->band_values, ts->shuf, ts->enc, kr_map_chunk_bound(js->band_values),
                                     &bytes);
        if (rc) return kr_err(rc, "map %s: %s", js->job->name, js->out[o].name);
        if (!(sl->data[o] = malloc(bytes))) return kr_err(KR_ENOMEM, "out of memory");
        memcpy(sl->data[o], ts->enc, bytes);
        sl->bytes[o] = bytes;
    }
    return KR_OK;
}

static int band_commit(void *user, size_t index)
{
    job_state *js = user;
    if (!js->write) return KR_OK;
    band_slot *sl = &js->slot[index % js->ahead];
    int rc = KR_OK;
    for (int o = 0; o < js->nout; o++) {
        if (!rc) rc = kr_product_map_put(js->out[o].ds, index, sl->data[o], sl->bytes[o]);
        free(sl->data[o]);
        sl->data[o] = NULL;
    }
    return rc;
}

/* ---------------------------------------------------------------- setup */

/* fixed_from: every oxide of the sample's EPMA point mean whose element is neither mapped nor fixed in
 * the config becomes a fixed element (the bead's own composition as the matrix of a partial map). */
static int add_fixed_from(const kr_map_job *job, const kr_atomic *at, const kr_maps_opts *opts, double kv,
                          kr_epma_setup *setup)
{
    int found = 0;
    for (size_t r = 0; r < opts->points.nmeans; r++) {
        const kr_epma_sample_row *m = &opts->points.means[r];
        if (strcmp(m->sample_id, job->fixed_from) || !strcmp(m->component, "Total")) continue;
        found = 1;
        kr_map_species sp;
        snprintf(sp.species, sizeof sp.species, "%s", m->component);
        sp.wt_pct = m->mean_wt;
        int z, ox;
        double c;
        int rc = species_to_element(at, &sp, &z, &c, &ox);
        if (rc) return kr_err(rc, "map %s: fixed_from %s: component %s", job->name, job->fixed_from, m->component);
        if (setup_index(setup, z) >= 0 || (z == 8 && job->oxygen_stoich)) continue; /* mapped, or given */
        if (!(c > 0)) continue;
        int idx = kr_epma_setup_add(setup, at, at->symbol[z], KR_EPMA_FIXED, KR_LINE_KA, kv, opts->takeoff_deg, NULL);
        if (idx < 0) return kr_err(KR_EINPUT, "map %s: fixed_from %s: %s", job->name, job->fixed_from, m->component);
        setup->el[idx].fixed_mass_frac = c;
        if (ox && (rc = kr_epma_setup_set_oxide(setup, at, idx, m->component))) return rc;
    }
    if (!found)
        return kr_err(KR_EINPUT, "map %s (%s): fixed_from %s: no EPMA point analyses of sample %s in this run", job->name,
                      job->where, job->fixed_from, job->fixed_from);
    return KR_OK;
}

/* std_cps_na: session - for each such element the run's standard measured at the map's kV (and crystal, when
 * both are recorded), named by `standard` when several qualify; sess[j] for job element j (NULL: the config's
 * std_cps_na and standard formula). */
static int session_standards(const kr_map_job *job, const kr_maps_opts *opts, const kr_map_cnd *cnd, double kv,
                             const kr_epma_std_row **sess)
{
    for (int j = 0; j < job->nel; j++) {
        const kr_map_job_elem *e = &job->el[j];
        sess[j] = NULL;
        if (!e->std_from_session) continue;
        int ch = kr_map_cnd_find(cnd, e->element);
        const char *crystal = ch >= 0 ? cnd->chan[ch].crystal : "";
        int elsewhere = 0;
        for (size_t r = 0; r < opts->points.nstds; r++) {
            const kr_epma_std_row *sr = &opts->points.stds[r];
            if (!kr_streq_ci(sr->element, e->element) || !kr_streq_ci(sr->xray_line, e->line)) continue;
            if (e->standard[0] && !kr_streq_ci(sr->standard, e->standard)) continue;
            if (fabs(sr->kv - kv) >= 0.005 || (crystal[0] && sr->crystal[0] && !kr_streq_ci(crystal, sr->crystal))) {
                elsewhere++;
                continue;
            }
            if (sess[j])
                return kr_err(KR_EINPUT, "map %s: element %s: several standards of this run qualify ('%s', '%s'): name one "
                                         "with standard:", job->name, e->element, sess[j]->standard, sr->standard);
            sess[j] = sr;
        }
        if (!sess[j])
            return kr_err(KR_EINPUT,
                          "map %s (%s): element %s: std_cps_na: session, but this run measured no standard%s%s of %s %s "
                          "at %g kV%s%s (%d at other conditions)",
                          job->name, job->where, e->element, e->standard[0] ? " " : "", e->standard, e->element, e->line,
                          kv, crystal[0] ? " on " : "", crystal, elsewhere);
    }
    return KR_OK;
}

/* The matrix-correction setup of a job: mapped elements (jel: setup index -> job element, -1), fixed
 * ones, stoichiometric O. */
static int build_setup(const kr_map_job *job, const kr_atomic *at, const kr_maps_opts *opts, double kv,
                       const kr_epma_std_row *const *sess, kr_epma_setup *setup, int *jel)
{
    int rc;
    kr_epma_setup_init(setup);
    setup->model = opts->model;
    setup->mac = opts->mac;
    setup->fluorescence = opts->fluorescence;
    setup->tol_rel = opts->tol_rel;
    setup->max_iter = opts->max_iter;
    for (int i = 0; i < KR_EPMA_MAX_EL; i++) jel[i] = -1;
    for (int j = 0; j < job->nel; j++) {
        const kr_map_job_elem *e = &job->el[j];
        kr_xray_line line;
        if (kr_xray_line_parse(e->line, &line))
            return kr_err(KR_EINPUT, "map %s: element %s: unknown line \"%s\"", job->name, e->element, e->line);
        int idx = kr_epma_setup_add(setup, at, e->element, KR_EPMA_MEASURED, line, kv, opts->takeoff_deg,
                                    sess[j] ? sess[j]->formula : e->standard);
        if (idx < 0) return kr_err(KR_EINPUT, "map %s: element %s", job->name, e->element);
        jel[idx] = j;
        if (e->oxide[0] && (rc = kr_epma_setup_set_oxide(setup, at, idx, e->oxide)))
            return kr_err(rc, "map %s: element %s", job->name, e->element);
    }
    for (int f = 0; f < job->nfixed; f++) {
        int z, ox;
        double c;
        if ((rc = species_to_element(at, &job->fixed[f], &z, &c, &ox))) return kr_err(rc, "map %s: fixed composition", job->name);
        if (setup_index(setup, z) >= 0)
            return kr_err(KR_EINPUT, "map %s: %s is both mapped (or listed twice) and fixed", job->name, job->fixed[f].species);
        if (z == 8 && job->oxygen_stoich)
            return kr_err(KR_EINPUT, "map %s: O is fixed but oxygen is by stoichiometry", job->name);
        int idx = kr_epma_setup_add(setup, at, at->symbol[z], KR_EPMA_FIXED, KR_LINE_KA, kv, opts->takeoff_deg, NULL);
        if (idx < 0) return kr_err(KR_EINPUT, "map %s: fixed %s", job->name, job->fixed[f].species);
        setup->el[idx].fixed_mass_frac = c;
        if (ox && (rc = kr_epma_setup_set_oxide(setup, at, idx, job->fixed[f].species))) return rc;
    }
    if (job->fixed_from[0] && (rc = add_fixed_from(job, at, opts, kv, setup))) return rc;
    if (job->oxygen_stoich && kr_epma_setup_add(setup, at, "O", KR_EPMA_STOICH_O, KR_LINE_KA, kv, opts->takeoff_deg, NULL) < 0)
        return kr_err(KR_EINPUT, "map %s: oxygen", job->name);
    return KR_OK;
}

/* Read every count map (peak and off-peak) and wire it into `in`. */
static int read_counts(const kr_map_job *job, const kr_map_cnd *cnd, const int *jel, int nsetup,
                       const kr_epma_std_row *const *sess, kr_product *out,
                       job_state *js, plane *bgm, plane *bgp, kr_mapq_in *in, size_t *raw_bytes)
{
    size_t npx = (size_t)cnd->nx * (size_t)cnd->ny;
    float *tmp = malloc(sizeof(float) * npx);
    int rc = KR_OK;
    if (!tmp) return kr_err(KR_ENOMEM, "map %s: out of memory", job->name);
    for (int i = 0; i < nsetup && !rc; i++) {
        if (jel[i] < 0) continue;
        const kr_map_job_elem *e = &job->el[jel[i]];
        int ch = kr_map_cnd_find(cnd, e->element);
        double declared_max = ch >= 0 ? cnd->chan[ch].max_value : NAN;
        if (cnd->style == KR_CND_KEYVALUE && cnd->nchan != 1) declared_max = NAN;
        const char *dot = strrchr(e->file, '.');
        int is_csv = dot && (kr_streq_ci(dot, ".csv") || kr_streq_ci(dot, ".txt"));
        size_t fsz = file_size(e->file);
        if (!is_csv && cnd->data_bytes && fsz != npx * (size_t)cnd->data_bytes && fsz > 0) {
            rc = kr_err(KR_EINPUT, "map %s: %s has %zu bytes but %s declares %d-byte pixels (%zu x %d = %zu bytes)",
                        job->name, e->file, fsz, job->cnd, cnd->data_bytes, npx, cnd->data_bytes,
                        npx * (size_t)cnd->data_bytes);
            break;
        }
        if ((rc = read_plane(e->file, cnd->nx, cnd->ny, declared_max, tmp, &js->counts[i]))) {
            kr_err(rc, "map %s: element %s", job->name, e->element);
            break;
        }
        *raw_bytes += fsz;
        if (out && (rc = kr_product_add_input(out, "epma_map", e->file))) break;
        kr_mapq_elem *m = &in->el[i];
        m->counts = js->counts[i].f32;
        m->counts_u16 = js->counts[i].u16;
        m->dead_time_us = e->dead_time_us;
        m->bg = e->bg;
        m->bg_cps_na = e->bg_cps_na;
        m->std_cps_na = sess[jel[i]] ? sess[jel[i]]->net_cps_na : e->std_cps_na;
        if (e->bg != KR_MAPBG_MAPS) continue;
        if ((rc = read_plane(e->bg_minus_file, cnd->nx, cnd->ny, NAN, tmp, &bgm[i])) ||
            (rc = read_plane(e->bg_plus_file, cnd->nx, cnd->ny, NAN, tmp, &bgp[i]))) {
            kr_err(rc, "map %s: off-peak maps of %s", job->name, e->element);
            break;
        }
        *raw_bytes += file_size(e->bg_minus_file) + file_size(e->bg_plus_file);
        m->bg_minus = bgm[i].f32;
        m->bg_minus_u16 = bgm[i].u16;
        m->bg_plus = bgp[i].f32;
        m->bg_plus_u16 = bgp[i].u16;
        m->off_minus_mm = e->off_minus_mm;
        m->off_plus_mm = e->off_plus_mm;
        m->bg_dwell_ms = e->bg_dwell_ms;
    }
    free(tmp);
    if (!rc && out) rc = kr_product_add_input(out, "epma_map_cnd", job->cnd);
    return rc;
}

/* The point analyses of this run that lie inside the map, as calibration spots (their element mass %). */
static int spots_from_points(const kr_map_job *job, const kr_atomic *at, const kr_epma_setup *setup,
                             const kr_maps_opts *opts, const kr_map_cnd *cnd, kr_map_spot *spots, size_t cap,
                             size_t *n)
{
    if (!isfinite(cnd->stage_mm[0][0]) || !isfinite(cnd->stage_mm[0][1]) || !(cnd->pixel_x_um > 0) ||
        !(cnd->pixel_y_um > 0))
        return kr_err(KR_EINPUT, "map %s: spots_from_points needs the stage centre and pixel size in %s", job->name,
                      job->cnd);
    double *x_um = malloc(sizeof(double) * ((size_t)cnd->nx + (size_t)cnd->ny)), *y_um;
    if (!x_um) return kr_err(KR_ENOMEM, "out of memory");
    y_um = x_um + cnd->nx;
    kr_map_axes(cnd, x_um, y_um); /* pixel i is centred on x_um[i] = x_um[0] + i px */
    double x0_um = x_um[0], y0_um = y_um[0];
    free(x_um);
    size_t first = *n;
    for (size_t r = 0; r < opts->points.npoints;) {
        size_t e = r; /* the rows of one point are consecutive */
        while (e < opts->points.npoints && !strcmp(opts->points.points[e].point, opts->points.points[r].point)) e++;
        const kr_epma_point_row *p0 = &opts->points.points[r];
        double x = (1000.0 * p0->x_mm - x0_um) / cnd->pixel_x_um, y = (1000.0 * p0->y_mm - y0_um) / cnd->pixel_y_um;
        int inside = x >= -0.5 && y >= -0.5 && x < (double)cnd->nx - 0.5 && y < (double)cnd->ny - 0.5; /* NaN: out */
        kr_map_job_spot js = {x, y, job->points_radius_px, 0, {{"", 0}}};
        for (size_t k = r; k < e && inside; k++) {
            if ((opts->points.points[k].flags & 16) || !isfinite(opts->points.points[k].mass_pct)) inside = 0; /* failed point */
            else if (js.n < KR_EPMA_MAX_EL) {
                snprintf(js.sp[js.n].species, sizeof js.sp[js.n].species, "%s", opts->points.points[k].element);
                js.sp[js.n++].wt_pct = opts->points.points[k].mass_pct;
            }
        }
        if (inside) {
            if (*n == cap) return kr_err(KR_EINPUT, "map %s: more than %zu calibration spots", job->name, cap);
            kr_map_spot *sp = &spots[(*n)++];
            sp->x_px = x;
            sp->y_px = y;
            sp->radius_px = job->points_radius_px;
            int rc = spot_composition(at, setup, &js, (int)*n, sp->mass_frac);
            if (rc) return kr_err(rc, "map %s: point %s", job->name, p0->point);
        }
        r = e;
    }
    if (*n == first)
        return kr_err(KR_EINPUT, "map %s: spots_from_points: no point analysis of this run lies inside the map", job->name);
    return KR_OK;
}

/* Calibration lines against the spots (XMapTools style) for the elements that ask for one: the spots of
 * the config, then (spots_from_points) this run's point analyses inside the map. */
static int calibrate_lines(const kr_map_job *job, const kr_atomic *at, const kr_epma_setup *setup, const int *jel,
                           const kr_maps_opts *opts, const kr_map_cnd *cnd, kr_mapq_in *in)
{
    int need = 0;
    for (int i = 0; i < setup->n; i++) need |= jel[i] >= 0 && job->el[jel[i]].bg == KR_MAPBG_CALIB;
    if (!need) return KR_OK;
    size_t cap = (size_t)job->nspots + (job->spots_from_points ? opts->points.npoints : 0) + 1, n = 0;
    kr_map_spot *spots = calloc(cap, sizeof *spots);
    if (!spots) return kr_err(KR_ENOMEM, "out of memory");
    int rc = KR_OK;
    for (int s = 0; s < job->nspots && !rc; s++, n++) {
        spots[n].x_px = job->spots[s].x_px;
        spots[n].y_px = job->spots[s].y_px;
        spots[n].radius_px = job->spots[s].radius_px;
        rc = spot_composition(at, setup, &job->spots[s], s + 1, spots[n].mass_frac);
    }
    if (!rc && job->spots_from_points) rc = spots_from_points(job, at, setup, opts, cnd, spots, cap, &n);
    for (int i = 0; i < setup->n && !rc; i++) {
        if (jel[i] < 0 || job->el[jel[i]].bg != KR_MAPBG_CALIB) continue;
        double sb;
        if ((rc = kr_mapq_calibrate(in, i, spots, n, job->el[jel[i]].calib_fit_slope, &sb)))
            kr_err(rc, "map %s: calibration line of %s", job->name, job->el[jel[i]].element);
    }
    free(spots);
    return rc;
}

/* o->name = base + suffix (base may live in the same job state) */
static void out_name(out_spec *o, const char *base, const char *suffix)
{
    char buf[sizeof o->name];
    snprintf(buf, sizeof buf, "%s%s", base, suffix);
    memcpy(o->name, buf, sizeof buf);
}

/* The quantities masks test (element, oxide, total) and the product's signals, in writing order: the
 * NXdata `signal` first (the first png quantity, e.g. TiO2_wt, else the first mapped oxide), then per
 * element its counts, wt%, oxide wt% and sigma, then the total. */
static void plan_outputs(const kr_map_job *job, const kr_atomic *at, const kr_epma_setup *setup, job_state *js)
{
    ox_info oxi;
    js->nlayers = js->nout = 0;
    for (int i = 0; i < setup->n; i++) {
        if (setup->el[i].role == KR_EPMA_FIXED) continue;
        oxide_of(at, &setup->el[i], &oxi);
        layer_spec *ls = &js->layer[js->nlayers++];
        *ls = (layer_spec){.el = i, .scale = 1.0, .stat = oxi.cations == 0};
        snprintf(ls->name, sizeof ls->name, "%s", at->symbol[setup->el[i].z]);
        if (oxi.cations > 0) {
            ls = &js->layer[js->nlayers++];
            *ls = (layer_spec){.el = i, .scale = oxi.oxide_factor, .stat = 1};
            snprintf(ls->name, sizeof ls->name, "%s", oxi.oxide);
        }
    }
    js->layer[js->nlayers++] = (layer_spec){"total", -1, 1.0, 1};
    int primary = -1;
    for (int l = 0; l < js->nlayers - 1 && primary < 0; l++) {
        char qn[56];
        snprintf(qn, sizeof qn, "%s_wt", js->layer[l].name);
        if (job->npng ? !strcmp(job->png[0], qn) : js->layer[l].scale != 1.0) primary = l;
    }
    if (primary >= 0) {
        out_spec *o = &js->out[js->nout++];
        *o = (out_spec){.kind = OUT_MASS, .el = js->layer[primary].el, .scale = js->layer[primary].scale};
        out_name(o, js->layer[primary].name, "_wt");
    }
    for (int i = 0; i < setup->n; i++) {
        const char *sym = at->symbol[setup->el[i].z];
        if (setup->el[i].role == KR_EPMA_FIXED) continue;
        out_spec *o;
        if (setup->el[i].role == KR_EPMA_MEASURED) {
            o = &js->out[js->nout++];
            *o = (out_spec){.kind = OUT_COUNTS, .el = i, .scale = 1.0};
            snprintf(o->name, sizeof o->name, "%s_counts", sym);
        }
        for (int l = 0; l < js->nlayers; l++) {
            if (js->layer[l].el != i || l == primary) continue;
            o = &js->out[js->nout++];
            *o = (out_spec){.kind = OUT_MASS, .el = i, .scale = js->layer[l].scale};
            out_name(o, js->layer[l].name, "_wt");
        }
        if (setup->el[i].role == KR_EPMA_MEASURED) {
            o = &js->out[js->nout++];
            *o = (out_spec){.kind = OUT_SIGMA, .el = i, .scale = 1.0};
            snprintf(o->name, sizeof o->name, "%s_sigma_wt", sym);
        }
    }
    js->out[js->nout++] = (out_spec){"total_wt", OUT_TOTAL, -1, 1.0, NULL};
}

/* ---------------------------------------------------------------- the product */

static int open_outputs(const kr_map_job *job, const kr_map_cnd *cnd, kr_product *out, job_state *js)
{
    char group[96], path[200];
    double *x_um = malloc(sizeof(double) * js->nx), *y_um = malloc(sizeof(double) * js->ny);
    int rc = KR_OK;
    if (!x_um || !y_um) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    kr_map_axes(cnd, x_um, y_um);
    snprintf(group, sizeof group, "epma/maps/%s", job->name);
    for (int o = 0; o < js->nout && !rc; o++) {
        out_spec *os = &js->out[o];
        rc = kr_product_map_open(out, group, os->name, os->kind == OUT_COUNTS ? "counts" : "wt%", js->ny, js->nx,
                                 js->band_rows, y_um, x_um, &os->ds);
        if (!rc && os->kind == OUT_MASS && os->scale != 1.0) { /* an oxide: its sigma is the element's times this */
            snprintf(path, sizeof path, "/%s/%s", group, os->name);
            rc = kr_product_attr_double(out, path, "oxide_per_element", os->scale);
        }
    }
cleanup:
    free(x_um);
    free(y_um);
    return rc;
}

static int close_outputs(job_state *js)
{
    int rc = KR_OK;
    for (int o = 0; o < js->nout; o++) {
        int r = kr_product_map_close(js->out[o].ds);
        js->out[o].ds = NULL;
        if (r && !rc) rc = r;
    }
    return rc;
}

static int write_group_attrs(const kr_map_job *job, const kr_maps_opts *opts, const kr_map_cnd *cnd, double current_na,
                             double kv, const kr_mapq_stats *st, kr_product *out)
{
    char gpath[112];
    snprintf(gpath, sizeof gpath, "/epma/maps/%s", job->name);
    double attrs[8] = {cnd->dwell_ms,           current_na,          kv, opts->takeoff_deg, (double)st->n_failed,
                       (double)st->n_outside, st->mean_iterations, opts->min_total_wt};
    static const char *const anames[8] = {"dwell_ms",        "current_na",      "accel_kv",    "takeoff_deg",
                                          "failed_pixels",   "outside_pixels",  "mean_iterations", "min_total_wt"};
    int rc = KR_OK;
    for (int a = 0; a < 8 && !rc; a++) rc = kr_product_attr_double(out, gpath, anames[a], attrs[a]);
    if (!rc) rc = kr_product_attr_string(out, gpath, "model", kr_epma_model_name(opts->model));
    return rc;
}

/* The standard each mapped element was quantified against, as attributes of its counts: its name (a
 * standard of this run) or formula (config), and its net intensity. */
static int write_standard_attrs(const kr_map_job *job, const int *jel, const kr_epma_std_row *const *sess,
                                const kr_mapq_in *in, const kr_atomic *at, kr_product *out)
{
    const kr_epma_setup *setup = kr_epma_ctx_setup(in->ctx);
    int rc = KR_OK;
    for (int i = 0; i < setup->n && !rc; i++) {
        if (jel[i] < 0) continue;
        const kr_epma_std_row *sr = sess[jel[i]];
        char path[200], what[160];
        snprintf(path, sizeof path, "/epma/maps/%s/%s_counts", job->name, at->symbol[setup->el[i].z]);
        if (sr) snprintf(what, sizeof what, "%s (%s), measured in this run at %g kV", sr->standard, sr->formula, sr->kv);
        else snprintf(what, sizeof what, "%s (from the config)", setup->el[i].standard[0] ? setup->el[i].standard : "pure element");
        if (!(rc = kr_product_attr_string(out, path, "standard", what)))
            rc = kr_product_attr_double(out, path, "std_cps_na", in->el[i].std_cps_na);
    }
    return rc;
}

/* PNGs and region statistics, from each written map read back in turn (one map in memory at a time). */
static int images_and_regions(const kr_map_job *job, const kr_maps_opts *opts, const char *png_dir, double px_um,
                              kr_product *out, job_state *js, kr_map_region_row **rows, size_t *nrows)
{
    size_t npx = js->nx * js->ny, base = *nrows;
    int nstat = 0, rc = KR_OK;
    for (int l = 0; l < js->nlayers; l++) nstat += js->layer[l].stat;
    if (job->nrules > 0) {
        kr_map_region_row *r = realloc(*rows, (base + (size_t)job->nrules * (size_t)nstat) * sizeof *r);
        if (!r) return kr_err(KR_ENOMEM, "out of memory");
        *rows = r;
        *nrows = base + (size_t)job->nrules * (size_t)nstat;
    }
    float *v = malloc(sizeof(float) * npx), *scratch = malloc(sizeof(float) * npx);
    char group[96], path[KR_MAP_PATH + 128];
    snprintf(group, sizeof group, "epma/maps/%s", job->name);
    if (!v || !scratch) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    const unsigned char *range_mask = job->nrules > 0 ? js->mask[0] : NULL; /* the first region sets the colours */
    for (int l = 0, si = 0; l < js->nlayers; l++) {
        const layer_spec *ls = &js->layer[l];
        char qname[56];
        snprintf(qname, sizeof qname, "%s_wt", ls->name);
        int w = want_png(job, qname);
        /* default images: every oxide, element without an oxide, and the total */
        int png = png_dir && opts->png && (w > 0 || (w < 0 && (ls->el < 0 || ls->scale != 1.0 || ls->stat)));
        int stat = ls->stat && job->nrules > 0;
        if (!png && !stat) continue;
        if ((rc = kr_product_read_map_f32(out, group, qname, v, npx))) goto cleanup;
        if (png) {
            snprintf(path, sizeof path, "%s/%s_%s_wt.png", png_dir, job->name, ls->name);
            kr_png_map_opts po = {"wt%", NAN, NAN, px_um, range_mask};
            if ((rc = kr_png_write_map(path, v, js->ny, js->nx, &po))) goto cleanup;
        }
        if (!stat) continue;
        kr_map_layer layer = {ls->name, "wt%", v, 1.0};
        for (int k = 0; k < job->nrules; k++) {
            kr_map_region_row *row = &(*rows)[base + (size_t)k * (size_t)nstat + (size_t)si];
            memset(row, 0, sizeof *row);
            snprintf(row->map, sizeof row->map, "%s", job->name);
            snprintf(row->region, sizeof row->region, "%s", job->rules[k].name);
            kr_map_region_stats(&layer, js->mask[k], npx, scratch, row);
        }
        si++;
    }
    for (int k = 0; k < job->nrules && png_dir && opts->png; k++) {
        snprintf(path, sizeof path, "%s/%s_%s_mask.png", png_dir, job->name, job->rules[k].name);
        if ((rc = kr_png_write_mask(path, js->mask[k], js->ny, js->nx, px_um))) goto cleanup;
    }
cleanup:
    free(v);
    free(scratch);
    return rc;
}

/* ---------------------------------------------------------------- the job */

static int alloc_state(const kr_map_job *job, int nthreads, job_state *js)
{
    size_t npx = js->nx * js->ny;
    js->band_rows = js->ny < BAND_ROWS ? js->ny : BAND_ROWS;
    js->band_values = js->band_rows * js->nx;
    js->ahead = (size_t)nthreads + 1;
    if (!(js->slot = calloc(js->ahead, sizeof *js->slot))) return kr_err(KR_ENOMEM, "out of memory");
    for (int k = 0; k < job->nrules; k++)
        if (!(js->mask[k] = calloc(npx, 1))) return kr_err(KR_ENOMEM, "out of memory");
    for (int t = 0; t < nthreads; t++) {
        thread_scratch *ts = &js->th[t];
        if (!(ts->total = malloc(sizeof(float) * js->band_values)) || !(ts->vals = malloc(sizeof(float) * js->band_values)) ||
            !(ts->shuf = malloc(sizeof(float) * js->band_values)) || !(ts->enc = malloc(kr_map_chunk_bound(js->band_values))))
            return kr_err(KR_ENOMEM, "out of memory");
    }
    return KR_OK;
}

static void free_state(job_state *js)
{
    for (int i = 0; i < KR_EPMA_MAX_EL; i++) plane_free(&js->counts[i]);
    for (int k = 0; k < KR_MAP_MAX_RULES; k++) free(js->mask[k]);
    for (int t = 0; t < MAX_THREADS; t++) {
        free(js->th[t].total);
        free(js->th[t].vals);
        free(js->th[t].shuf);
        free(js->th[t].enc);
    }
    for (size_t s = 0; js->slot && s < js->ahead; s++)
        for (int o = 0; o < MAX_OUT; o++) free(js->slot[s].data[o]);
    free(js->slot);
    close_outputs(js);
}

int kr_map_job_run(const kr_map_job *job, const kr_atomic *at, const kr_maps_opts *opts, const char *png_dir,
                   kr_product *out, kr_map_region_row **rows, size_t *nrows, kr_map_summary *summary)
{
    int rc = KR_OK, jel[KR_EPMA_MAX_EL];
    const kr_epma_std_row *sess[KR_EPMA_MAX_EL] = {0}; /* per job element: the run's standard, or NULL */
    kr_map_cnd cnd;
    kr_epma_setup setup;
    kr_epma_ctx *ctx = NULL;
    kr_mapq_in in;
    kr_mapq_stats st;
    plane bgm[KR_EPMA_MAX_EL], bgp[KR_EPMA_MAX_EL];
    job_state *js = calloc(1, sizeof *js);
    kr_map_summary sum;
    memset(&in, 0, sizeof in);
    memset(&st, 0, sizeof st);
    memset(&sum, 0, sizeof sum);
    memset(bgm, 0, sizeof bgm);
    memset(bgp, 0, sizeof bgp);
    double t_start = now_s();
    if (!js) return kr_err(KR_ENOMEM, "out of memory");

    if ((rc = kr_map_cnd_read(job->cnd, &cnd))) {
        kr_err(rc, "map %s (%s)", job->name, job->where);
        goto cleanup;
    }
    js->job = job;
    js->setup = &setup;
    js->nx = (size_t)cnd.nx;
    js->ny = (size_t)cnd.ny;
    js->write = out != NULL;
    double current_na = isfinite(job->current_na) ? job->current_na : cnd.current_a * 1e9;
    double kv = isfinite(job->kv) ? job->kv : cnd.accel_kv;
    if (!(current_na > 0)) {
        rc = kr_err(KR_EINPUT, "map %s: no probe current in %s and no current_na in the config", job->name, job->cnd);
        goto cleanup;
    }
    if (!(kv > 0)) {
        rc = kr_err(KR_EINPUT, "map %s: no accelerating voltage in %s and no kv in the config", job->name, job->cnd);
        goto cleanup;
    }
    if ((rc = session_standards(job, opts, &cnd, kv, sess)) || (rc = build_setup(job, at, opts, kv, sess, &setup, jel)))
        goto cleanup;
    if ((rc = kr_epma_ctx_new(&setup, at, &ctx))) {
        kr_err(rc, "map %s: matrix-correction setup", job->name);
        goto cleanup;
    }
    in.nx = js->nx;
    in.ny = js->ny;
    in.dwell_ms = cnd.dwell_ms;
    in.current_na = current_na;
    in.ctx = ctx;
    in.nthreads = opts->threads < 1 ? 1 : opts->threads > MAX_THREADS ? MAX_THREADS : opts->threads;
    in.min_total_frac = opts->min_total_wt / 100.0;
    for (int i = 0; i < KR_EPMA_MAX_EL; i++) in.el[i].dt_form = opts->dt_form;
    if ((rc = read_counts(job, &cnd, jel, setup.n, sess, out, js, bgm, bgp, &in, &sum.raw_bytes))) goto cleanup;
    if ((rc = calibrate_lines(job, at, &setup, jel, opts, &cnd, &in))) goto cleanup;
    for (int i = 0; i < setup.n; i++)
        if (setup.el[i].role == KR_EPMA_FIXED) js->fixed_pct += 100.0 * setup.el[i].fixed_mass_frac;
    plan_outputs(job, at, &setup, js);
    if ((rc = alloc_state(job, in.nthreads, js))) goto cleanup;

    double t0 = now_s();
    sum.read_s = t0 - t_start;
    if (out && (rc = open_outputs(job, &cnd, out, js))) goto cleanup;
    double t1 = now_s();
    kr_mapq_sink sink = {js, band_done, band_commit, js->ahead};
    if ((rc = kr_mapq_stream(&in, js->band_rows, &sink, &st))) {
        kr_err(rc, "map %s", job->name);
        goto cleanup;
    }
    double t2 = now_s();
    sum.quant_s = t2 - t1;
    for (int i = 0; i < KR_EPMA_MAX_EL; i++) { /* the counts are written: free them before the images */
        plane_free(&js->counts[i]);
        plane_free(&bgm[i]);
        plane_free(&bgp[i]);
    }
    if (out && ((rc = close_outputs(js)) || (rc = write_group_attrs(job, opts, &cnd, current_na, kv, &st, out)) ||
                (rc = write_standard_attrs(job, jel, sess, &in, at, out))))
        goto cleanup;
    double t3 = now_s();
    sum.write_s = (t1 - t0) + (t3 - t2);
    double px_um = isfinite(cnd.pixel_x_um) ? cnd.pixel_x_um : NAN;
    if (out && (rc = images_and_regions(job, opts, png_dir, px_um, out, js, rows, nrows))) goto cleanup;
    sum.stats_s = now_s() - t3;
    sum.nx = js->nx;
    sum.ny = js->ny;
    sum.n_failed = st.n_failed;
    sum.n_outside = st.n_outside;
    sum.mean_iterations = st.mean_iterations;
cleanup:
    if (summary) *summary = sum;
    for (int i = 0; i < KR_EPMA_MAX_EL; i++) {
        plane_free(&bgm[i]);
        plane_free(&bgp[i]);
    }
    free_state(js);
    free(js);
    kr_epma_ctx_free(ctx);
    return rc;
}
