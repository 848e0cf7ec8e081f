/* synth-maps: writes a JEOL-style quantitative-map export of a heterogeneous high-Ti glass bead with
 * known truth, from kreep's forward model (kr_epma_forward + dead time + Poisson counts).
 *
 *   synth-maps --out DIR [--name bead] [--nx 425 --ny 400] [--pixel-um 0.20] [--dwell-ms 60]
 *              [--current-na 100] [--kv 15] [--seed 3] [--elements FILE] [--ti-only] [--format map16|csv]
 *
 * Writes into DIR: <name>.cnd (JXA-8230 key/value map conditions), <name>_<El>.map (16-bit big-endian
 * counts, as JEOL's binary maps) or .csv (CSV matrix, rows = y), truth_TiO2_wt.f32 (float32
 * little-endian, NaN outside the glass), truth_phase.u8 (0 epoxy, 1 glass, 2 olivine fragment,
 * 3 hole), <name>.maps.yaml (the epma.maps.inputs entry for run.yaml) and README.txt.
 *
 * The scene (85 x 80 µm at the defaults): a bead of radius 36 µm in epoxy; the glass has a TiO2
 * gradient and a Ti-rich patch (TiO2 17.5-23 wt%, the other oxides diluted accordingly), one olivine
 * fragment and one polishing hole. Instrument settings: scripts/synth-maps/elements.csv (synthetic).
 * The glass composition (G107-like by default, --composition) is normalised to 100 wt%. */
#include "atomic.h"
#include "error.h"
#include "map_synth.h"
#include "matrix.h"
#include "text.h"

#include <errno.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct {
    char element[4], line[4], crystal[8], standard[24], oxide[12];
    int channel;
    double peak_mm, std_cps_na, bg_cps_na, dead_time_us;
} el_row;

/* Base glass (oxide wt%, normalised to 100 by the generator): a synthetic Chang'e-5-like high-Ti bead
 * inside the seed's ranges (the same numbers as bead G107 of scripts/synth-epma/beads.csv, so that the
 * map and the point analyses of the sample run describe one bead). --composition replaces them. */
typedef struct {
    const char *oxide;
    double wt;
} oxide_wt;
static const oxide_wt GLASS_DEFAULT[] = {{"SiO2", 28.10}, {"TiO2", 20.35}, {"Al2O3", 6.20}, {"FeO", 30.40},
                                         {"MnO", 0.38},   {"MgO", 4.60},   {"CaO", 7.10},   {"Na2O", 0.35},
                                         {"K2O", 0.14},   {"Cr2O3", 0.32}};
/* Olivine fragment, Fo ~71 (oxide wt%). */
static const oxide_wt OLIVINE[] = {{"SiO2", 37.6}, {"TiO2", 0.05}, {"Al2O3", 0.05}, {"FeO", 25.8}, {"MnO", 0.30}, {"MgO", 35.6},
               {"CaO", 0.25},  {"Na2O", 0.0}};
#define NGLASS (sizeof GLASS_DEFAULT / sizeof GLASS_DEFAULT[0])
#define NOLIV (sizeof OLIVINE / sizeof OLIVINE[0])

static int usage(void)
{
    fprintf(stderr, "usage: synth-maps --out DIR [--name bead] [--nx 425] [--ny 400] [--pixel-um 0.20] [--dwell-ms 60]\n"
                    "                  [--current-na 100] [--kv 15] [--seed 3] [--elements FILE] [--ti-only]\n"
                    "                  [--format map16|csv] [--composition SiO2=28.1,TiO2=20.35,...]\n");
    return 2;
}

static int read_elements(const char *path, el_row *rows, int *n, int ti_only)
{
    kr_text t;
    int rc = kr_text_read(path, &t);
    if (rc) return rc;
    kr_rows it;
    kr_rows_init(&it, &t, ',');
    int header = 0;
    *n = 0;
    while (kr_rows_next(&it) > 0) {
        if (!header++) continue;
        char **f = it.f;
        if (it.nf != 10) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "expected 10 fields");
            break;
        }
        if (ti_only && strcmp(f[0], "Ti") != 0) continue;
        el_row *r = &rows[(*n)++];
        snprintf(r->element, sizeof r->element, "%s", f[0]);
        snprintf(r->line, sizeof r->line, "%s", f[1]);
        r->channel = atoi(f[2]);
        snprintf(r->crystal, sizeof r->crystal, "%s", f[3]);
        if (kr_parse_double(f[4], &r->peak_mm) || kr_parse_double(f[6], &r->std_cps_na) ||
            kr_parse_double(f[7], &r->bg_cps_na) || kr_parse_double(f[8], &r->dead_time_us)) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "bad number");
            break;
        }
        snprintf(r->standard, sizeof r->standard, "%s", f[5]);
        snprintf(r->oxide, sizeof r->oxide, "%s", f[9]);
        if (*n >= 16) break;
    }
    kr_text_free(&t);
    return rc;
}

static double ox_to_el(const kr_atomic *at, const char *oxide, double wt, int *z)
{
    int nc, no;
    if (kr_oxide_parse(at, oxide, z, &nc, &no)) return NAN;
    return wt / 100.0 * nc * at->weight[*z] / (nc * at->weight[*z] + no * at->weight[8]);
}

int main(int argc, char **argv)
{
    const char *out = NULL, *name = "bead", *elements = NULL, *format = "map16";
    long nx = 425, ny = 400, seed = 3;
    double px = 0.20, dwell = 60, cur = 100, kv = 15;
    int ti_only = 0;
    const char *composition = NULL;
    oxide_wt GLASS[NGLASS];
    memcpy(GLASS, GLASS_DEFAULT, sizeof GLASS);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--ti-only")) ti_only = 1;
        else if (!v) return usage();
        else if (!strcmp(a, "--out")) out = v, i++;
        else if (!strcmp(a, "--name")) name = v, i++;
        else if (!strcmp(a, "--elements")) elements = v, i++;
        else if (!strcmp(a, "--format")) format = v, i++;
        else if (!strcmp(a, "--composition")) composition = v, i++;
        else if (!strcmp(a, "--nx")) nx = atol(v), i++;
        else if (!strcmp(a, "--ny")) ny = atol(v), i++;
        else if (!strcmp(a, "--seed")) seed = atol(v), i++;
        else if (!strcmp(a, "--pixel-um")) px = atof(v), i++;
        else if (!strcmp(a, "--dwell-ms")) dwell = atof(v), i++;
        else if (!strcmp(a, "--current-na")) cur = atof(v), i++;
        else if (!strcmp(a, "--kv")) kv = atof(v), i++;
        else return usage();
    }
    if (!out || nx < 8 || ny < 8 || !(px > 0) || (strcmp(format, "map16") && strcmp(format, "csv"))) return usage();
    kr_err_install_handlers();
    if (composition) { /* "Ox=wt,Ox=wt": replaces the listed oxides of the default glass */
        char buf[512];
        snprintf(buf, sizeof buf, "%s", composition);
        for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
            char *eq = strchr(tok, '=');
            size_t g = 0;
            if (eq) {
                *eq = '\0';
                while (g < NGLASS && strcmp(GLASS[g].oxide, tok)) g++;
            }
            if (!eq || g == NGLASS || kr_parse_double(eq + 1, &GLASS[g].wt)) {
                fprintf(stderr, "synth-maps: --composition: \"%s\" is not Ox=wt%% of one of the glass oxides\n", tok);
                return 2;
            }
        }
    }
    double norm = 0;
    for (size_t g = 0; g < NGLASS; g++) norm += GLASS[g].wt;
    for (size_t g = 0; g < NGLASS; g++) GLASS[g].wt *= 100.0 / norm;
    double tio2_base = 0;
    for (size_t g = 0; g < NGLASS; g++)
        if (!strcmp(GLASS[g].oxide, "TiO2")) tio2_base = GLASS[g].wt;
    char elpath[4096];
    if (!elements) {
        snprintf(elpath, sizeof elpath, "%s/scripts/synth-maps/elements.csv", KREEP_SOURCE_DIR);
        elements = elpath;
    }
    int rc = KR_OK;
    el_row rows[16];
    int nel = 0;
    kr_atomic *at = malloc(sizeof *at);
    kr_epma_ctx *ctx = NULL;
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    size_t npx = (size_t)nx * (size_t)ny;
    double *counts = malloc(sizeof(double) * npx * 16);
    float *truth = malloc(sizeof(float) * npx);
    unsigned char *phase = malloc(npx);
    FILE *f = NULL;
    if (!at || !rng || !counts || !truth || !phase) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    gsl_rng_set(rng, (unsigned long)seed);
    if ((rc = read_elements(elements, rows, &nel, ti_only)) || (rc = kr_atomic_load(at))) goto cleanup;
    mkdir(out, 0777);

    /* the forward model's setup: the mapped elements, the unmapped glass oxides fixed, O by stoichiometry */
    kr_epma_setup s;
    kr_epma_setup_init(&s);
    int idx_of_row[16];
    for (int r = 0; r < nel; r++) {
        kr_xray_line line;
        if (kr_xray_line_parse(rows[r].line, &line)) {
            rc = kr_err(KR_EINPUT, "%s: line %s", elements, rows[r].line);
            goto cleanup;
        }
        idx_of_row[r] = kr_epma_setup_add(&s, at, rows[r].element, KR_EPMA_MEASURED, line, kv, 40.0, rows[r].standard);
        if (idx_of_row[r] < 0 || kr_epma_setup_set_oxide(&s, at, idx_of_row[r], rows[r].oxide)) {
            rc = kr_err(KR_EINPUT, "%s: element %s", elements, rows[r].element);
            goto cleanup;
        }
    }
    char fixed_yaml[512] = "";
    for (size_t g = 0; g < NGLASS; g++) {
        int z;
        double c = ox_to_el(at, GLASS[g].oxide, GLASS[g].wt, &z);
        int mapped = 0;
        for (int i = 0; i < s.n; i++) mapped |= s.el[i].z == z;
        if (mapped) continue;
        int i = kr_epma_setup_add(&s, at, at->symbol[z], KR_EPMA_FIXED, KR_LINE_KA, kv, 40.0, NULL);
        if (i < 0 || kr_epma_setup_set_oxide(&s, at, i, GLASS[g].oxide)) {
            rc = kr_err(KR_EINPUT, "fixed %s", GLASS[g].oxide);
            goto cleanup;
        }
        s.el[i].fixed_mass_frac = c;
        size_t l = strlen(fixed_yaml);
        snprintf(fixed_yaml + l, sizeof fixed_yaml - l, "%s%s: %.4f", l ? ", " : "", GLASS[g].oxide, GLASS[g].wt);
    }
    int io = kr_epma_setup_add(&s, at, "O", KR_EPMA_STOICH_O, KR_LINE_KA, kv, 40.0, NULL);
    if (io < 0 || (rc = kr_epma_ctx_new(&s, at, &ctx))) {
        rc = rc ? rc : KR_EINPUT;
        goto cleanup;
    }
    kr_map_synth_elem se[KR_EPMA_MAX_EL];
    memset(se, 0, sizeof se);
    for (int r = 0; r < nel; r++)
        se[idx_of_row[r]] = (kr_map_synth_elem){rows[r].std_cps_na, rows[r].bg_cps_na, rows[r].dead_time_us};

    /* the scene, in µm from the top-left corner */
    double w_um = (double)nx * px, h_um = (double)ny * px;
    double bx = 0.5 * w_um, by = 0.5 * h_um, br = 0.45 * (w_um < h_um ? w_um : h_um);
    double ox = bx - 0.45 * br, oy = by + 0.40 * br, ora = 0.17 * br, orb = 0.11 * br; /* olivine ellipse */
    double hx = bx + 0.50 * br, hy = by - 0.42 * br, hr = 0.08 * br;                  /* hole */
    kr_epma_work w;
    double sum_base = 0;
    for (size_t g = 0; g < NGLASS; g++) sum_base += GLASS[g].wt;
    for (long y = 0; y < ny; y++)
        for (long x = 0; x < nx; x++) {
            size_t p = (size_t)y * (size_t)nx + (size_t)x;
            double ux = ((double)x + 0.5) * px, uy = ((double)y + 0.5) * px;
            double dr = hypot(ux - bx, uy - by);
            int ph = dr <= br ? 1 : 0;
            if (ph && ((ux - ox) * (ux - ox) / (ora * ora) + (uy - oy) * (uy - oy) / (orb * orb)) <= 1) ph = 2;
            if (ph && hypot(ux - hx, uy - hy) <= hr) ph = 3;
            phase[p] = (unsigned char)ph;
            double c[KR_EPMA_MAX_EL], k[KR_EPMA_MAX_EL];
            for (int i = 0; i < s.n; i++) c[i] = s.el[i].role == KR_EPMA_FIXED ? s.el[i].fixed_mass_frac : 0;
            truth[p] = NAN;
            if (ph == 1 || ph == 2) {
                double tio2 = 0;
                if (ph == 1) {
                    /* TiO2: gradient across the bead plus a Ti-rich patch; the rest diluted to the same sum */
                    double gx = (ux - bx) / br, gy = (uy - by) / br;
                    tio2 = tio2_base + 1.6 * gx +
                           2.2 * exp(-((gx - 0.25) * (gx - 0.25) + (gy + 0.3) * (gy + 0.3)) / (2 * 0.12 * 0.12));
                }
                for (size_t g = 0; g < (ph == 1 ? NGLASS : NOLIV); g++) {
                    const char *oxn = ph == 1 ? GLASS[g].oxide : OLIVINE[g].oxide;
                    double wt = ph == 1 ? GLASS[g].wt : OLIVINE[g].wt;
                    if (ph == 1) wt = !strcmp(oxn, "TiO2") ? tio2 : wt * (sum_base - tio2) / (sum_base - tio2_base);
                    int z;
                    double ce = ox_to_el(at, oxn, wt, &z);
                    for (int i = 0; i < s.n; i++)
                        if (s.el[i].z == z && s.el[i].role == KR_EPMA_MEASURED) c[i] = ce;
                    if (!strcmp(oxn, "TiO2")) truth[p] = ph == 1 ? (float)wt : NAN;
                }
                /* oxygen by stoichiometry from the cations */
                double o = 0;
                for (int i = 0; i < s.n; i++) {
                    if (i == io) continue;
                    int nc = s.el[i].ox_cations ? s.el[i].ox_cations : at->ox_cations[s.el[i].z];
                    int no = s.el[i].ox_cations ? s.el[i].ox_oxygens : at->ox_oxygens[s.el[i].z];
                    if (nc > 0) o += c[i] * no * at->weight[8] / (nc * at->weight[s.el[i].z]);
                }
                c[io] = o;
                if ((rc = kr_map_synth_pixel(ctx, c, se, dwell, cur, rng, &w, k))) goto cleanup;
                for (int r = 0; r < nel; r++) counts[(size_t)r * npx + p] = k[idx_of_row[r]];
            } else {
                /* epoxy and the hole: continuum only (the hole at a third of it) */
                for (int r = 0; r < nel; r++)
                    counts[(size_t)r * npx + p] =
                        kr_map_synth_bg(rows[r].bg_cps_na * (ph == 3 ? 0.33 : 1.0), rows[r].dead_time_us, dwell, cur, rng);
            }
        }

    /* the .cnd (JXA-8230 key/value style, CRLF) */
    char path[4600];
    snprintf(path, sizeof path, "%s/%s.cnd", out, name);
    if (!(f = fopen(path, "wb"))) {
        rc = kr_err(KR_EIO, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    double sx = 20.5000, sy = 18.2500, sz = 11.0150; /* stage centre, mm */
    fprintf(f, "$SEM_DATA_VERSION 1\r\n$XM_DATA_PROBE_CURRENT %.3e\r\n$XM_DATA_PROBE_CURRENT_PRE %.3e\r\n"
               "$XM_DATA_PROBE_CURRENT_POST %.3e\r\n$XM_ANALYSIS_INSTRUMENT JXA8230\r\n$XM_CP_COMMENT synthetic bead map "
               "(kreep scripts/synth-maps, seed %ld)\r\n$XM_EC_ACCEL_VOLT %.1f\r\n$XM_ELEM_NUMBER_OF_DATA %d\r\n",
            cur * 1e-9, cur * 1e-9, cur * 1e-9, seed, kv, nel);
    for (int r = 0; r < nel; r++)
        fprintf(f, "$XM_ELEM_NAME%%%d %s\r\n$XM_ELEM_WDS_CHANNEL_NO%%%d %d\r\n$XM_ELEM_WDS_CRYSTAL_NAME%%%d %s\r\n"
                   "$XM_ELEM_WDS_XRAY%%%d %s\r\n$XM_ELEM_WDS_PEAK%%%d %.3f\r\n",
                r, rows[r].element, r, rows[r].channel, r, rows[r].crystal, r, rows[r].line, r, rows[r].peak_mm);
    fprintf(f, "$XM_AP_NUMBER_OF_DATA 1\r\n$XM_AP_TYPE%%0 1\r\n$XM_AP_COMMENT%%0 %s\r\n$XM_AP_SA_PIXELS%%0 %ld %ld\r\n"
               "$XM_AP_SA_PIXEL_SIZE%%0 %.2f %.2f 50.00\r\n$XM_AP_SA_DWELL_TIME%%0 %.1f\r\n$XM_AP_SA_SCAN_MODE%%0 1\r\n",
            name, nx, ny, px, px, dwell);
    double hw = 0.5e-3 * w_um, hh = 0.5e-3 * h_um;
    double cx[5] = {sx, sx + hw, sx - hw, sx - hw, sx + hw}, cy[5] = {sy, sy - hh, sy - hh, sy + hh, sy + hh};
    for (int i = 0; i < 5; i++) fprintf(f, "$XM_AP_SA_STAGE_POS%%0_%d %.4f %.4f %.4f\r\n", i, cx[i], cy[i], sz);
    if (fclose(f) != 0) {
        f = NULL;
        rc = kr_err(KR_EIO, "%s: write failed", path);
        goto cleanup;
    }
    f = NULL;

    /* the count maps */
    for (int r = 0; r < nel; r++) {
        int csv = !strcmp(format, "csv");
        snprintf(path, sizeof path, "%s/%s_%s.%s", out, name, rows[r].element, csv ? "csv" : "map");
        if (!(f = fopen(path, "wb"))) {
            rc = kr_err(KR_EIO, "%s: %s", path, strerror(errno));
            goto cleanup;
        }
        for (size_t p = 0; p < npx; p++) {
            double v = counts[(size_t)r * npx + p];
            if (v > 65535) {
                rc = kr_err(KR_EINPUT, "%s: %g counts do not fit 16 bits", path, v);
                goto cleanup;
            }
            if (csv) {
                fprintf(f, "%.0f%s", v, (p + 1) % (size_t)nx ? "," : "\r\n");
            } else {
                unsigned u = (unsigned)v;
                unsigned char b[2] = {(unsigned char)(u >> 8), (unsigned char)(u & 0xff)}; /* big-endian */
                fwrite(b, 1, 2, f);
            }
        }
        if (fclose(f) != 0) {
            f = NULL;
            rc = kr_err(KR_EIO, "%s: write failed", path);
            goto cleanup;
        }
        f = NULL;
    }
    snprintf(path, sizeof path, "%s/truth_TiO2_wt.f32", out);
    if (!(f = fopen(path, "wb")) || fwrite(truth, sizeof(float), npx, f) != npx) {
        rc = kr_err(KR_EIO, "%s: cannot write", path);
        goto cleanup;
    }
    fclose(f);
    snprintf(path, sizeof path, "%s/truth_phase.u8", out);
    if (!(f = fopen(path, "wb")) || fwrite(phase, 1, npx, f) != npx) {
        rc = kr_err(KR_EIO, "%s: cannot write", path);
        goto cleanup;
    }
    fclose(f);

    /* the run.yaml fragment */
    snprintf(path, sizeof path, "%s/%s.maps.yaml", out, name);
    if (!(f = fopen(path, "w"))) {
        rc = kr_err(KR_EIO, "%s: %s", path, strerror(errno));
        goto cleanup;
    }
    fprintf(f, "# epma.maps.inputs entry for %s (written by scripts/synth-maps; paths relative to run.yaml's folder\n"
               "# when this folder is maps/)\n- name: %s\n  cnd: maps/%s.cnd\n  oxygen: stoichiometry\n  fixed: {%s}\n"
               "  elements:\n", name, name, name, fixed_yaml);
    for (int r = 0; r < nel; r++)
        fprintf(f, "    - {element: %s, line: %s, file: maps/%s_%s.%s, dead_time_us: %.2f, standard: %s, std_cps_na: %g,\n"
                   "       oxide: %s, background: {cps_na: %g}}\n",
                rows[r].element, rows[r].line, name, rows[r].element, strcmp(format, "csv") ? "map" : "csv",
                rows[r].dead_time_us, rows[r].standard, rows[r].std_cps_na, rows[r].oxide, rows[r].bg_cps_na);
    fprintf(f, "  regions:\n    - {name: glass, where: [\"total >= 90\", \"total <= 110\"%s]}\n"
               "    - {name: whole_map, where: []}\n  png: [TiO2_wt, total_wt]\n",
            ti_only ? "" : ", \"SiO2 < 34\", \"MgO < 10\"");
    fclose(f);
    f = NULL;
    snprintf(path, sizeof path, "%s/README.txt", out);
    if ((f = fopen(path, "w"))) {
        fprintf(f, "Synthetic JEOL-style map export written by kreep's scripts/synth-maps (seed %ld); not real data.\n"
                   "%s.cnd: map conditions (%ld x %ld px, %.2f um, %.0f ms, %.0f nA, %.0f kV).\n"
                   "%s_<El>.%s: peak counts per pixel (%s), rows = y.\n"
                   "truth_TiO2_wt.f32: true TiO2 wt%% per pixel, float32 little-endian, NaN outside the glass.\n"
                   "truth_phase.u8: 0 epoxy, 1 glass, 2 olivine fragment, 3 polishing hole (one byte per pixel).\n"
                   "%s.maps.yaml: the epma.maps.inputs entry quantifying it.\n",
                seed, name, nx, ny, px, dwell, cur, kv, name, strcmp(format, "csv") ? "map" : "csv",
                strcmp(format, "csv") ? "16-bit big-endian" : "CSV matrix", name);
        fclose(f);
        f = NULL;
    }
cleanup:
    if (f) fclose(f);
    if (rc) kr_err_print(stderr);
    kr_epma_ctx_free(ctx);
    gsl_rng_free(rng);
    free(at);
    free(counts);
    free(truth);
    free(phase);
    return rc ? kr_exit_code(rc) : 0;
}
