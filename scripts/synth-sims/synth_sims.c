/* synth_sims: forward model that writes a synthetic CAMECA IMS-1280 Pb-Pb session in `.asc` format.
 *
 *   synth_sims --out DIR [--seed N] [--age-ma 2807] [--spots 30] [--rm-spots 12]
 *
 * Basalt fragments (group CE6B, files CE6B@NN.asc): radiogenic Pb of one age (207Pb* / 206Pb* from the
 * age equation with calib/'s Jaffey constants and U = 137.818) mixed with a lunar common-Pb component
 * (206/204 = 14.0, 207/204 = 14.5, 208/204 = 34.0; a synthetic choice, stated in expected.txt), with a
 * common fraction f206 spread from 0.5 to 25 % so the inverse isochron is well defined. A reference
 * zircon (group Tem, files Tem@NN.asc) at the Temora reference age from calib/ with Stacey-Kramers
 * common Pb at f206 = 0.02 %. Every spot: 10 cycles of 204Pb (10 s), 206Pb (4 s), 207Pb (6 s),
 * 208Pb (2 s) peak hopping on the EM; instrumental mass fractionation -0.2 %/amu (linear law: measured
 * = true x (1 + delta x dm), dm relative to 206); EM background 0.05 c/s added; non-paralyzable dead time
 * 44 ns applied in reverse (observed rate = rate / (1 + rate tau)); Poisson counts; written as
 * uncorrected cps (counts / count time) in the layout of the real IGG files, CRLF line endings.
 * Writes DIR/exports/ *.asc and DIR/expected.txt (the true values). */
#include "calib.h"
#include "error.h"
#include "pbpb.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

enum { NISO = 4, NCYC = 10 };
static const char *const ISO[NISO] = {"204Pb", "206Pb", "207Pb", "208Pb"};
static const double MASS[NISO] = {203.973037, 205.974455, 206.975885, 207.976641}; /* as in the IGG files */
static const double CTIME_S[NISO] = {10.0, 4.0, 6.0, 2.0};
static const double DM[NISO] = {-2, 0, 1, 2}; /* amu relative to 206Pb */

/* model parameters of the synthetic session (not physical constants: stated in expected.txt) */
typedef struct {
    double lunar64, lunar74, lunar84;
    double imf_per_amu;
    double em_bkg_cps, em_dt_ns;
    double rad86; /* radiogenic 208/206 */
} model;

static void put(FILE *f, const char *s)
{
    fputs(s, f);
    fputs("\r\n", f);
}

static int write_asc(const char *path, const char *sample, const model *m, const double rate[NISO], gsl_rng *rng,
                     double *sum_counts)
{
    FILE *f = fopen(path, "wb");
    if (!f) return kr_err(KR_EIO, "cannot write %s", path);
    char line[1024];
    put(f, "CAMECA                                              \t1/15/2025");
    put(f, "                                                    \t10:00 AM");
    put(f, "");
    put(f, "ACQUISITION FILE NAME:\tsynthetic (kreep scripts/synth-sims)");
    put(f, "CONDITION FILE NAME  :\tPb_10cycles.dis");
    put(f, "");
    put(f, "File Description : ");
    put(f, "\"\"");
    put(f, "================================================================================");
    snprintf(line, sizeof line, "SAMPLE NAME:\t%-42s\t", sample);
    put(f, line);
    put(f, "");
    put(f, "X POSITION:\t0\tY POSITION:\t0");
    put(f, "");
    put(f, "ACQUISITION PARAMETERS:=========================================================");
    put(f, "");
    fputs("          \t", f);
    for (int k = 0; k < NISO; k++) fprintf(f, "%-10s\t", ISO[k]);
    put(f, "");
    put(f, "");
    fputs("MASSES    \t", f);
    for (int k = 0; k < NISO; k++) fprintf(f, "%.6f\t", MASS[k]);
    put(f, "");
    fputs("C.TIME(s) \t", f);
    for (int k = 0; k < NISO; k++) fprintf(f, "%-10.2f\t", CTIME_S[k]);
    put(f, "");
    fputs("DETECTOR  \t", f);
    for (int k = 0; k < NISO; k++) fprintf(f, "%-10s\t", "EM");
    put(f, "");
    fputs("TYPE      \t", f);
    for (int k = 0; k < NISO; k++) fprintf(f, "%-10s\t", "Em");
    put(f, "");
    put(f, "");
    put(f, "");
    put(f, "DETECTOR PARAMETERS:============================================================");
    put(f, "");
    put(f, "          \tYield     \tBkg(c/s)  \tDT(ns)    \tSlit Size(um)\tEM HV     \t");
    put(f, "");
    put(f, "FC1       \t1.000000  \t-57243    \t0.0       \t150       \t0         \t");
    snprintf(line, sizeof line, "EM        \t1.000000  \t%-10.2f\t%-10.1f\t150       \t2648      \t", m->em_bkg_cps,
             m->em_dt_ns);
    put(f, line);
    put(f, "FC2       \t0.999685  \t2147483647\t0.0       \t150       \t0         \t");
    put(f, "");
    put(f, "");
    put(f, "ISOTOPICS RATIO=================================================================");
    put(f, "");
    put(f, "R0=1.000000 *207Pb [EM] / 1.000000 *206Pb [EM]");
    put(f, "");
    put(f, "R1=1.000000 *204Pb [EM] / 1.000000 *206Pb [EM]");
    put(f, "");
    put(f, "");
    put(f, "RAW DATA:=======================================================================");
    put(f, "");
    put(f, "#block\t#cycle");
    put(f, "");
    fputs("                \t", f);
    for (int k = 0; k < NISO; k++) fprintf(f, "%-12s\t", ISO[k]);
    put(f, "");
    put(f, "");
    double tau = m->em_dt_ns * 1e-9;
    for (int c = 0; c < NCYC; c++) {
        fprintf(f, "%d\t%-14d\t", c / 2, c % 2);
        for (int k = 0; k < NISO; k++) {
            double lam =
                (rate[k] + m->em_bkg_cps) / (1 + (rate[k] + m->em_bkg_cps) * tau); /* Knoll 2010, eq. 4-7 inverted */
            unsigned int n = gsl_ran_poisson(rng, lam * CTIME_S[k]);
            sum_counts[k] += n;
            fprintf(f, "%.6E\t", n / CTIME_S[k]);
        }
        put(f, "");
    }
    put(f, "");
    put(f, "PRIMARY INTENSITY DATA : ///////////////////////////////////////////////////////");
    put(f, "");
    put(f, "TIMING  DATA : /////////////////////////////////////////////////////////////////");
    put(f, "");
    if (fclose(f)) return kr_err(KR_EIO, "cannot write %s", path);
    return KR_OK;
}

/* rates (cps) of a spot: radiogenic 206 rate r6, common fraction f206, radiogenic ratio rstar,
 * common composition (c64, c74, c84), mass fractionation delta per amu */
static void spot_rates(double r6, double f206, double rstar, double rad86, double c64, double c74, double c84,
                       double delta, double rate[NISO])
{
    double c206 = r6 * f206 / (1 - f206); /* f206 = common 206 / total 206 */
    double pb204 = c206 / c64;
    rate[0] = pb204;
    rate[1] = r6 + c206;
    rate[2] = r6 * rstar + pb204 * c74;
    rate[3] = r6 * rad86 + pb204 * c84;
    for (int k = 0; k < NISO; k++) rate[k] *= 1 + delta * DM[k]; /* linear fractionation law */
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    unsigned long seed = 6;
    double age = 2807.0;
    int nspots = 30, nrm = 12;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--seed") && i + 1 < argc)
            seed = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--age-ma") && i + 1 < argc)
            age = atof(argv[++i]);
        else if (!strcmp(argv[i], "--spots") && i + 1 < argc)
            nspots = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--rm-spots") && i + 1 < argc)
            nrm = atoi(argv[++i]);
        else {
            fprintf(stderr, "usage: synth_sims --out DIR [--seed N] [--age-ma T] [--spots N] [--rm-spots N]\n");
            return 2;
        }
    }
    if (!out || nspots < 3 || nspots > 99 || nrm < 0 || nrm > 99) {
        fprintf(stderr, "usage: synth_sims --out DIR [--seed N] [--age-ma T] [--spots 3..99] [--rm-spots 0..99]\n");
        return 2;
    }
    kr_pbpb_consts c;
    kr_sk_model sk;
    kr_constants rm;
    double tem_age, tem_err;
    if (kr_pbpb_consts_load(&c, NULL) || kr_sk_load(&sk) || kr_constants_load("sims_reference_materials.csv", &rm)) {
        kr_err_print(stderr);
        return 1;
    }
    if (kr_constant_get(&rm, "temora", &tem_age, &tem_err)) {
        kr_err_print(stderr);
        kr_constants_free(&rm);
        return 1;
    }
    kr_constants_free(&rm);
    model m = {14.0, 14.5, 34.0, -0.002, 0.05, 44.0, 0.35};
    char path[4096];
    snprintf(path, sizeof path, "%s/exports", out);
    mkdir(out, 0777);
    mkdir(path, 0777);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, seed);
    double rstar = kr_pbpb_ratio(&c, age);
    snprintf(path, sizeof path, "%s/expected.txt", out);
    FILE *ex = fopen(path, "w");
    if (!ex) {
        fprintf(stderr, "synth_sims: cannot write %s\n", path);
        gsl_rng_free(rng);
        return 1;
    }
    fprintf(ex, "# Synthetic CAMECA IMS-1280 Pb-Pb session written by scripts/synth-sims (seed %lu).\n", seed);
    fprintf(ex, "# True values used by the forward model (kreep should recover them within its 2 sigma).\n");
    fprintf(ex, "basalt_group = CE6B\nbasalt_spots = %d\nbasalt_age_ma = %.3f\nbasalt_pb207_pb206_rad = %.8f\n", nspots,
            age, rstar);
    fprintf(ex, "lunar_common_pb206_pb204 = %.3f\nlunar_common_pb207_pb204 = %.3f\nlunar_common_pb208_pb204 = %.3f\n",
            m.lunar64, m.lunar74, m.lunar84);
    fprintf(ex, "reference_group = Tem\nreference_spots = %d\nreference_age_ma = %.3f\n", nrm, tem_age);
    fprintf(ex, "reference_pb207_pb206_rad = %.8f\n", kr_pbpb_ratio(&c, tem_age));
    fprintf(ex, "reference_common_pb = Stacey-Kramers 1975 at the reference age, f206 = 0.02 %%\n");
    fprintf(ex, "mass_fractionation_per_amu = %.4f   # measured = true x (1 + delta x (m - m206))\n", m.imf_per_amu);
    fprintf(ex, "em_background_cps = %.3f\nem_dead_time_ns = %.1f\ncycles = %d\n", m.em_bkg_cps, m.em_dt_ns, NCYC);
    fprintf(ex, "count_times_s = 204Pb %.0f, 206Pb %.0f, 207Pb %.0f, 208Pb %.0f\n", CTIME_S[0], CTIME_S[1], CTIME_S[2],
            CTIME_S[3]);
    fprintf(ex, "# spot, radiogenic 206Pb cps, f206 (%%), counts 204Pb 206Pb 207Pb 208Pb\n");
    int rc = 0;
    for (int i = 0; i < nspots + nrm && !rc; i++) {
        int is_rm = i >= nspots;
        char name[32], sample[64];
        double rate[NISO], sum[NISO] = {0, 0, 0, 0};
        double r6, f206;
        if (!is_rm) {
            snprintf(name, sizeof name, "CE6B@%02d", i + 1);
            snprintf(sample, sizeof sample, "CE6 basalt fragment %02d", i + 1);
            r6 = 800.0 * exp(gsl_ran_gaussian(rng, 0.5));
            f206 = 0.005 + (0.25 - 0.005) * (double)i / (nspots - 1); /* spread for the isochron */
            spot_rates(r6, f206, rstar, m.rad86, m.lunar64, m.lunar74, m.lunar84, m.imf_per_amu, rate);
        } else {
            snprintf(name, sizeof name, "Tem@%02d", i - nspots + 1);
            snprintf(sample, sizeof sample, "Temora reference zircon");
            double c64, c74, c84;
            kr_sk_at(&sk, &c, tem_age, &c64, &c74, &c84);
            r6 = 15000.0 * exp(gsl_ran_gaussian(rng, 0.2)); /* Pb-rich reference zircon */
            f206 = 0.0002;
            spot_rates(r6, f206, kr_pbpb_ratio(&c, tem_age), 0.12, c64, c74, c84, m.imf_per_amu, rate);
        }
        snprintf(path, sizeof path, "%s/exports/%s.asc", out, name);
        rc = write_asc(path, sample, &m, rate, rng, sum);
        fprintf(ex, "%s, %.1f, %.3f, %.0f %.0f %.0f %.0f\n", name, r6, 100 * f206, sum[0], sum[1], sum[2], sum[3]);
    }
    fclose(ex);
    gsl_rng_free(rng);
    if (rc) {
        kr_err_print(stderr);
        return 1;
    }
    return 0;
}
