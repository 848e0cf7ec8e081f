/* synth_la_session: one generated LA-ICP-MS session of N spots for the nightly benchmark
 * (scripts/bench-nightly): Thermo Qtegra 2.7 per-spot CSV files (one file per spot, CRLF), as an inbox
 * entry of `kreep nightly`.
 *
 *   synth_la_session --isotopes scripts/synth-laicpms/isotopes.csv --out DIR [--spots 250] [--seed 1]
 *                    [--max-isotopes N]   (default: every isotope of the file, 29 for the lab's method)
 *
 * Run order: cycles of 10 spots, a NIST 610 pair (drift brackets) then 8 others, and a closing NIST 610
 * pair; of the others, every 25th spot of the session is NIST 612 (a QC glass), the rest unknowns
 * "GLASS-<k>" (4 spots each) of the BCR-2G composition, so the template sets
 * laicpms.internal_standard_default_ugg to BCR-2G's Si (from its SiO2 in calib/). Reference
 * concentrations from calib/laicpms_reference_materials.csv (kr_la_refs).
 * Forward model per spot and isotope (the lab's method: sweep 0.3 s, 20 s gas blank, 45 s ablation, 20 s
 * washout):
 *   cps(t) = blank + Y shape(t) sens (1 - 0.08 s) C, counts per sweep Poisson with mean cps x dwell,
 *   Y the spot's ablation yield (5 % sd), shape a 0.4 s rise and a 1.5 s washout, s the fraction of the
 *   session elapsed. Isotope settings (dwell, sensitivity, blank) from the isotopes file (label,dwell_ms,
 *   sens_cps_per_ugg,blank_cps,rel_drift_pct), its first --max-isotopes rows. */
#include "error.h"
#include "la_reduce.h"
#include "text.h"

#include <errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAXISO 48
#define SWEEP_S 0.3
#define BLANK_END_S 20.0
#define ABL_END_S 65.0
#define ACQ_S 85.0
#define SPOT_EVERY_S 100.0

typedef struct {
    kr_la_isotope iso;
    double dwell_s, sens, blank_cps;
} iso_setup;


static int load_isotopes(const char *path, int max, iso_setup *iso, int *niso)
{
    kr_text t;
    int rc = kr_text_read(path, &t);
    if (rc) return rc;
    kr_rows it;
    kr_rows_init(&it, &t, ',');
    int header = 0;
    *niso = 0;
    while (*niso < max && kr_rows_next(&it) > 0) {
        if (!header++) continue;
        char **f = it.f;
        iso_setup *s = &iso[*niso];
        if (it.nf < 4 || !kr_la_isotope_parse(f[0], &s->iso) || kr_parse_double(f[1], &s->dwell_s) ||
            kr_parse_double(f[2], &s->sens) || kr_parse_double(f[3], &s->blank_cps) || !(s->dwell_s > 0) ||
            !(s->sens > 0) || !(s->blank_cps >= 0)) {
            kr_err_clear();
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "expected isotope,dwell_ms,sens_cps_per_ugg,blank_cps,... "
                                                        "(positive numbers)");
            goto cleanup;
        }
        s->dwell_s /= 1000;
        (*niso)++;
    }
    if (!*niso) rc = kr_err(KR_EINPUT, "%s: no isotopes", path);
cleanup:
    kr_text_free(&t);
    return rc;
}

static int write_spot(const char *path, const char *sample, double start_s, const iso_setup *iso, int niso,
                      const double *conc_ugg, double yield, double frac, gsl_rng *rng)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) return kr_err(KR_EIO, "%s: cannot create (%s)", path, strerror(errno));
    long sec = 19 * 3600L + (long)start_s; /* the session starts 07:00 PM on 11-22-2026 */
    long day = 22 + sec / 86400;
    sec %= 86400;
    int hh = (int)(sec / 3600), mm = (int)(sec / 60 % 60), ss = (int)(sec % 60);
    fprintf(fp, "%s:11-%02ld-2026 %02d:%02d:%02d %s;\r\n", sample, day, hh % 12 == 0 ? 12 : hh % 12, mm, ss,
            hh < 12 ? "AM" : "PM");
    fprintf(fp, "Software:Name=Qtegra;Version=2.7.2425.65;File Version=1;\r\nConfiguration:Machine=iCAP RQ;\r\n\r\n"
                "Time,");
    for (int k = 0; k < niso; k++) fprintf(fp, "%d%s,", iso[k].iso.mass, iso[k].iso.element);
    fprintf(fp, "\r\n,");
    for (int k = 0; k < niso; k++) fprintf(fp, "dwell time=%g;xcal factor=60000,", iso[k].dwell_s);
    fprintf(fp, "\r\n");
    int nsweeps = (int)(ACQ_S / SWEEP_S);
    for (int t = 0; t < nsweeps; t++) {
        double ts = 0.15 + SWEEP_S * t, shape = 0;
        if (ts >= BLANK_END_S && ts < ABL_END_S) shape = 1 - exp(-(ts - BLANK_END_S) / 0.4);
        else if (ts >= ABL_END_S) shape = exp(-(ts - ABL_END_S) / 1.5);
        fprintf(fp, "%.5f,", ts);
        for (int k = 0; k < niso; k++) {
            double cps = iso[k].blank_cps + yield * shape * iso[k].sens * (1 - 0.08 * frac) * conc_ugg[k];
            double mu = cps * iso[k].dwell_s;
            fprintf(fp, "%.10g,", (double)gsl_ran_poisson(rng, mu) / iso[k].dwell_s);
        }
        fprintf(fp, "\r\n");
    }
    if (fclose(fp)) return kr_err(KR_EIO, "%s: write failed", path);
    return KR_OK;
}

int main(int argc, char **argv)
{
    const char *isop = NULL, *out = NULL;
    unsigned long long seed = 1;
    long nspots = 250, maxiso = MAXISO;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--isotopes")) isop = argv[i + 1];
        else if (!strcmp(argv[i], "--out")) out = argv[i + 1];
        else if (!strcmp(argv[i], "--seed")) seed = strtoull(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--spots")) nspots = strtol(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--max-isotopes")) maxiso = strtol(argv[i + 1], NULL, 10);
        else isop = out = NULL, i = argc;
    }
    if (!isop || !out || nspots < 4 || nspots > 100000 || maxiso < 1 || maxiso > MAXISO) {
        fprintf(stderr, "usage: synth_la_session --isotopes isotopes.csv --out DIR [--spots 4..100000] [--seed N] "
                        "[--max-isotopes 1..%d]\n",
                MAXISO);
        return 2;
    }
    kr_err_install_handlers();
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    iso_setup *iso = calloc(MAXISO, sizeof *iso);
    kr_la_refs refs;
    memset(&refs, 0, sizeof refs);
    int niso = 0, rc = KR_OK;
    if (!iso || !rng) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    gsl_rng_set(rng, (unsigned long)seed);
    if ((rc = load_isotopes(isop, (int)maxiso, iso, &niso))) goto cleanup;
    if ((rc = kr_la_refs_load(&refs))) goto cleanup;
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        rc = kr_err(KR_EIO, "%s: cannot create the folder (%s)", out, strerror(errno));
        goto cleanup;
    }
    const char *mats[3] = {"NIST610", "NIST612", "BCR-2G"};
    double conc[3][MAXISO];
    for (int m = 0; m < 3; m++) {
        int mat = kr_la_refs_material(&refs, mats[m]);
        if (mat < 0) {
            rc = kr_err(KR_EINPUT, "calib: no reference values for %s", mats[m]);
            goto cleanup;
        }
        for (int k = 0; k < niso; k++) {
            double u;
            if (!kr_la_refs_element(&refs, mat, iso[k].iso.element, &conc[m][k], &u, NULL, 0)) conc[m][k] = 0;
        }
    }
    /* the sequence: cycles of 10 spots, a 610 pair then 8 others; the session ends with a 610 pair */
    long written = 0, unknowns = 0;
    for (long q = 0; q < nspots; q++) {
        int m = (q % 10 < 2 || nspots - q <= 2) ? 0 : (q % 25 == 0) ? 1 : 2;
        char sample[KR_LA_NAME], path[2048];
        if (m == 2) snprintf(sample, sizeof sample, "GLASS-%ld", 1 + (unknowns++ / 4));
        else snprintf(sample, sizeof sample, "%s", mats[m]);
        snprintf(path, sizeof path, "%s/%05ld_%s.csv", out, q + 1, sample);
        double yield = (m == 0 ? 1.0 : 0.85) * (1 + gsl_ran_gaussian(rng, 0.05));
        if ((rc = write_spot(path, sample, SPOT_EVERY_S * (double)q, iso, niso, conc[m], yield,
                             (double)q / (double)(nspots - 1), rng)))
            goto cleanup;
        written++;
    }
    printf("synth_la_session: %ld spots x %d isotopes in %s\n", written, niso, out);
cleanup:
    if (rc) kr_err_print(stderr);
    kr_la_refs_free(&refs);
    free(iso);
    if (rng) gsl_rng_free(rng);
    return rc ? 1 : 0;
}
