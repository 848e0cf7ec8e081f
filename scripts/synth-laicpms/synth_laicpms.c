/* Synthetic LA-ICP-MS session for the sample run sample_runs/ce5-glass-beads: Thermo Qtegra 2.7 per-spot CSV
 * files (iCAP RQ, dash-separated US dates, CRLF) of the same glass beads as the EPMA exports, NIST 610
 * brackets, NIST 612 / BCR-2G / BIR-1G as QC unknowns, and truth_trace.csv with the true concentrations.
 *
 * Forward model per spot and isotope i (sweep every 0.3 s, 20 s gas blank, 45 s ablation, 20 s washout):
 *   cps_i(t) = blank_i + Y x shape(t) x f(t) x sens_i x (1 - 0.10 s) x (1 + d_i s) x C_i
 *   Y the ablation yield of the spot (matrix and spot dependent, common to all isotopes), shape a 0.4 s rise,
 *   a 15 % decline over the ablation and a 1.5 s washout, f a 1.5 % sweep-to-sweep flicker common to all
 *   isotopes, s the fraction of the session elapsed (10 % common sensitivity loss, d_i the isotope's drift
 *   relative to Si29 from isotopes.csv), C_i the concentration (ug/g). Counts per sweep are Poisson with mean
 *   cps x dwell; about 0.2 % of the ablation sweeps of each isotope get a spike of 0.5-3 x the signal.
 *   Concentrations: the beads from beads_trace.csv with 2 % spot-to-spot heterogeneity, Si from the true
 *   per-bead mean SiO2 (expected_samples.csv); reference glasses their preferred values (calib/).
 *
 *   synth_laicpms --isotopes scripts/synth-laicpms/isotopes.csv --beads scripts/synth-laicpms/beads_trace.csv \
 *       --expected sample_runs/ce5-glass-beads/expected_samples.csv --out sample_runs/ce5-glass-beads/laicpms \
 *       --seed 5
 */
#include "error.h"
#include "la_reduce.h"
#include "text.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAXISO 48
#define MAXBEAD 16
#define MAXEL 40

typedef struct {
    kr_la_isotope iso;
    double dwell_s, sens, blank_cps, rel_drift;
} iso_setup;

typedef struct {
    char name[KR_LA_NAME];
    double sio2_wt;
    int nel;
    char el[MAXEL][4];
    double ugg[MAXEL];
} bead;

static unsigned long long rng_next(unsigned long long *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}
static double unif(unsigned long long *s) { return ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0; }
static double gauss(unsigned long long *s)
{
    return sqrt(-2 * log(unif(s))) * cos(6.283185307179586 * unif(s)); /* Box & Muller 1958 */
}
static double poisson(unsigned long long *s, double mu)
{
    if (mu > 50) return fmax(0, floor(mu + sqrt(mu) * gauss(s) + 0.5)); /* normal approximation for large mu */
    double l = exp(-mu), p = 1;
    int k = 0;
    do { /* Knuth's multiplication method */
        k++;
        p *= unif(s);
    } while (p > l);
    return k - 1;
}

/* Split a CSV line in place (no quoting in these inputs). */
static int read_isotopes(const char *path, iso_setup *iso, int *niso)
{
    kr_text t;
    int rc = kr_text_read(path, &t);
    if (rc) return rc;
    kr_rows it;
    kr_rows_init(&it, &t, ',');
    int header = 0, got;
    *niso = 0;
    while ((got = kr_rows_next(&it)) > 0) {
        char **f = it.f;
        if (!header++) continue;
        if (it.nf < 5 || *niso >= MAXISO) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "expected label,dwell_ms,sens_cps_per_ugg,blank_cps,rel_drift_pct");
            goto cleanup;
        }
        iso_setup *s = &iso[(*niso)++];
        if (!kr_la_isotope_parse(f[0], &s->iso)) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "'%s' is not an isotope", f[0]);
            goto cleanup;
        }
        s->dwell_s = atof(f[1]) / 1000;
        s->sens = atof(f[2]);
        s->blank_cps = atof(f[3]);
        s->rel_drift = atof(f[4]) / 100;
        if (!(s->dwell_s > 0) || !(s->sens > 0) || !(s->blank_cps >= 0)) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "dwell, sensitivity and blank must be positive");
            goto cleanup;
        }
    }
    if (got < 0) rc = KR_EINPUT;
cleanup:
    kr_text_free(&t);
    return rc;
}

static bead *find_bead(bead *b, int *nb, const char *name, int create)
{
    for (int i = 0; i < *nb; i++)
        if (!strcmp(b[i].name, name)) return &b[i];
    if (!create || *nb >= MAXBEAD) return NULL;
    bead *n = &b[(*nb)++];
    memset(n, 0, sizeof *n);
    snprintf(n->name, sizeof n->name, "%s", name);
    n->sio2_wt = NAN;
    return n;
}

static int read_beads(const char *trace, const char *expected, bead *b, int *nb)
{
    kr_text t;
    int rc = kr_text_read(trace, &t);
    if (rc) return rc;
    kr_rows it;
    kr_rows_init(&it, &t, ',');
    int header = 0;
    while (kr_rows_next(&it) > 0) {
        char **f = it.f;
        if (!header++) continue;
        bead *x = it.nf == 3 ? find_bead(b, nb, f[0], 1) : NULL;
        if (!x || x->nel >= MAXEL) {
            rc = kr_err_at(KR_EINPUT, trace, it.lineno, "expected sample,element,ugg (at most %d beads)", MAXBEAD);
            goto cleanup;
        }
        snprintf(x->el[x->nel], sizeof x->el[0], "%s", f[1]);
        x->ugg[x->nel++] = atof(f[2]);
    }
    kr_text_free(&t);
    if ((rc = kr_text_read(expected, &t))) return rc;
    kr_rows_init(&it, &t, ',');
    while (kr_rows_next(&it) > 0) {
        char **f = it.f;
        bead *x = it.nf >= 4 && !strcmp(f[1], "SiO2") ? find_bead(b, nb, f[0], 0) : NULL;
        if (x) x->sio2_wt = atof(f[3]);
    }
    for (int i = 0; i < *nb; i++)
        if (!isfinite(b[i].sio2_wt)) {
            rc = kr_err(KR_EINPUT, "%s: no SiO2 mean for bead %s", expected, b[i].name);
            goto cleanup;
        }
cleanup:
    kr_text_free(&t);
    return rc;
}

/* The run order: NIST 610 pairs bracketing blocks of <= 9 unknowns. */
static const char *const SEQUENCE[] = {
    "NIST610",  "NIST610", "G107", "G107", "G108",   "G108",    "NIST612", "G114",    "G114",    "G230", "G230",
    "NIST610",  "NIST610", "BCR-2G", "G107", "G107", "G108",    "G108",    "BIR-1G",  "G114",    "G114", "G230",
    "NIST610",  "NIST610", "G230", "G107", "G108",   "NIST612", "G114",    "G230",    "BCR-2G",  "BIR-1G",
    "NIST610",  "NIST610"};
#define NSEQ (sizeof SEQUENCE / sizeof SEQUENCE[0])

#define SWEEP_S 0.3
#define T0_S 0.15
#define BLANK_END_S 20.0
#define ABL_END_S 65.0
#define ACQ_S 85.0
#define SPOT_EVERY_S 100.0

static int write_spot(const char *dir, const char *spot, const char *sample, double start_abs, const iso_setup *iso,
                      int niso, const double *conc, double yield, double frac, unsigned long long *seed)
{
    char path[1024];
    if (snprintf(path, sizeof path, "%s/%s.csv", dir, spot) >= (int)sizeof path)
        return kr_err(KR_EINPUT, "%s: path too long", dir);
    FILE *fp = fopen(path, "wb");
    if (!fp) return kr_err(KR_EIO, "%s: cannot create (%s)", path, strerror(errno));
    /* 2024-05-10 13:30:00 + start_abs seconds, written as Qtegra 2.7 does: MM-DD-YYYY hh:mm:ss AM/PM */
    long sec = 13 * 3600 + 30 * 60 + (long)start_abs;
    int hh = (int)(sec / 3600) % 24, mm = (int)(sec / 60) % 60, ss = (int)(sec % 60);
    fprintf(fp, "%s:05-10-2024 %02d:%02d:%02d %s;\r\n", sample, hh % 12 == 0 ? 12 : hh % 12, mm, ss, hh < 12 ? "AM" : "PM");
    fprintf(fp, "Software:Name=Qtegra;Version=2.7.2425.65;File Version=1;\r\n");
    fprintf(fp, "Configuration:Machine=iCAP RQ;\r\n");
    fprintf(fp, "STD:Cool Flow=14;Auxilliary Flow=0.8;Sampling Depth=5;Plasma Power=1550;Nebulizer Flow=0.95;\r\n");
    fprintf(fp, "RF Generator:RF Plasma Lit Readback=1;Plasma Power Readback=%.4f;\r\n", 1549 + unif(seed));
    fprintf(fp, "Vacuum:Analyzer Vacuum Ok Readback=1;Interface Pressure Readback=%.5f;\r\n", 1.69 + 0.01 * unif(seed));
    fprintf(fp, "Detector:Detector Voltage (Counting) Readback=1380.25;Detector Voltage (Analog) Readback=-2037.15;\r\n");
    fprintf(fp, "Pulse Counting:Threshold=2500000;\r\n\r\nTime,");
    for (int k = 0; k < niso; k++) fprintf(fp, "%d%s,", iso[k].iso.mass, iso[k].iso.element);
    fprintf(fp, "\r\n,");
    for (int k = 0; k < niso; k++)
        fprintf(fp, "dwell time=%g;xcal factor=%.5f,", iso[k].dwell_s, 60000 + 1234.56789 * k);
    fprintf(fp, "\r\n");
    int nsw = (int)((ACQ_S - T0_S) / SWEEP_S) + 1;
    for (int t = 0; t < nsw; t++) {
        double ts = T0_S + SWEEP_S * t;
        double shape = 0;
        if (ts >= BLANK_END_S && ts < ABL_END_S)
            shape = (1 - exp(-(ts - BLANK_END_S) / 0.4)) * (1 - 0.15 * (ts - BLANK_END_S) / (ABL_END_S - BLANK_END_S));
        else if (ts >= ABL_END_S)
            shape = (1 - 0.15) * exp(-(ts - ABL_END_S) / 1.5);
        double flicker = 1 + 0.015 * gauss(seed);
        fprintf(fp, "%.5f,", ts + 0.0001 * unif(seed));
        for (int k = 0; k < niso; k++) {
            double sens = iso[k].sens * (1 - 0.10 * frac) * (1 + iso[k].rel_drift * frac);
            double mu = (iso[k].blank_cps + yield * shape * flicker * sens * conc[k]) * iso[k].dwell_s;
            double counts = poisson(seed, mu);
            if (ts >= BLANK_END_S + 1 && ts < ABL_END_S && unif(seed) < 0.002)
                counts += floor((0.5 + 2.5 * unif(seed)) * mu + 20);
            fprintf(fp, "%.10g,", counts / iso[k].dwell_s);
        }
        fprintf(fp, "\r\n");
    }
    if (fclose(fp)) return kr_err(KR_EIO, "%s: write failed", path);
    return KR_OK;
}

int main(int argc, char **argv)
{
    const char *isop = NULL, *beadp = NULL, *expp = NULL, *out = NULL;
    unsigned long long seed = 5;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--isotopes")) isop = argv[i + 1];
        else if (!strcmp(argv[i], "--beads")) beadp = argv[i + 1];
        else if (!strcmp(argv[i], "--expected")) expp = argv[i + 1];
        else if (!strcmp(argv[i], "--out")) out = argv[i + 1];
        else if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[i + 1], NULL, 10);
    }
    if (!isop || !beadp || !expp || !out) {
        fprintf(stderr, "usage: synth_laicpms --isotopes isotopes.csv --beads beads_trace.csv --expected "
                        "expected_samples.csv --out DIR [--seed N]\n");
        return 2;
    }
    kr_err_install_handlers();
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    if (!seed) seed = 88172645463325252ULL;
    iso_setup *iso = calloc(MAXISO, sizeof *iso);
    bead *beads = calloc(MAXBEAD, sizeof *beads);
    kr_la_refs refs;
    memset(&refs, 0, sizeof refs);
    FILE *truth = NULL;
    int niso = 0, nb = 0, rc = KR_ENOMEM;
    if (!iso || !beads) goto cleanup;
    if ((rc = read_isotopes(isop, iso, &niso))) goto cleanup;
    if ((rc = read_beads(beadp, expp, beads, &nb))) goto cleanup;
    if ((rc = kr_la_refs_load(&refs))) goto cleanup;
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/spots", out);
    mkdir(out, 0777);
    mkdir(dir, 0777);
    char tpath[1024];
    snprintf(tpath, sizeof tpath, "%s/truth_trace.csv", out);
    if (!(truth = fopen(tpath, "w"))) {
        rc = kr_err(KR_EIO, "%s: cannot create (%s)", tpath, strerror(errno));
        goto cleanup;
    }
    fprintf(truth, "# True concentrations (ug/g) of every non-calibrant spot of the synthetic LA-ICP-MS session "
                   "(scripts/synth-laicpms/synth_laicpms.c).\n# Beads: beads_trace.csv with 2 %% spot heterogeneity; "
                   "reference glasses: their preferred values (calib/laicpms_reference_materials.csv).\n"
                   "# Si29 is the internal standard (beads: Si of the true mean SiO2 of expected_samples.csv).\n");
    fprintf(truth, "spot,sample,analyte,element,true_ugg\n");
    int nspot[MAXBEAD + 8] = {0};
    const char *names[MAXBEAD + 8];
    int nnames = 0;
    double conc[MAXISO];
    for (size_t q = 0; q < NSEQ; q++) {
        const char *smp = SEQUENCE[q];
        int ni = 0;
        while (ni < nnames && strcmp(names[ni], smp)) ni++;
        if (ni == nnames) names[nnames++] = smp;
        char spot[KR_LA_NAME];
        snprintf(spot, sizeof spot, "%s-%02d", smp, ++nspot[ni]);
        int mat = kr_la_refs_material(&refs, smp);
        bead *b = mat < 0 ? find_bead(beads, &nb, smp, 0) : NULL;
        if (mat < 0 && !b) {
            rc = kr_err(KR_EINPUT, "sample %s is neither a reference glass nor a bead of %s", smp, beadp);
            goto cleanup;
        }
        double yield = (mat < 0 ? 0.8 : strncmp(smp, "NIST", 4) ? 0.9 : 1.0) * (1 + 0.05 * gauss(&seed));
        for (int k = 0; k < niso; k++) {
            double c = 0, u;
            const char *el = iso[k].iso.element;
            int known = 0;
            if (mat >= 0) known = kr_la_refs_element(&refs, mat, el, &c, &u, NULL, 0);
            else if (!strcmp(el, "Si")) {
                c = b->sio2_wt * 1e4 * kr_la_element_in_oxide(&refs, kr_la_z_of("Si"));
                known = 1;
            } else
                for (int e = 0; e < b->nel; e++)
                    if (!strcmp(b->el[e], el)) {
                        c = b->ugg[e] * (1 + 0.02 * gauss(&seed));
                        known = 1;
                    }
            if (!known) c = 0;
            conc[k] = c;
            if (known && strcmp(smp, "NIST610") && strcmp(el, "Si"))
                fprintf(truth, "%s,%s,%s,%s,%.6g\n", spot, smp, iso[k].iso.label, el, c);
        }
        double start = SPOT_EVERY_S * (double)q;
        double frac = (double)q / (double)(NSEQ - 1);
        if ((rc = write_spot(dir, spot, smp, start, iso, niso, conc, yield, frac, &seed))) goto cleanup;
    }
    printf("synth_laicpms: %zu spots x %d isotopes in %s, truth in %s\n", NSEQ, niso, dir, tpath);
cleanup:
    if (truth && fclose(truth) && !rc) rc = kr_err(KR_EIO, "%s: write failed", tpath);
    if (rc) kr_err_print(stderr);
    kr_la_refs_free(&refs);
    free(iso);
    free(beads);
    return rc ? 1 : 0;
}
