/* Night benchmark: N generated spots x M isotopes (NIST610 every 10th spot, NIST612 every 25th, the rest
 * an unknown glass) reduced end to end; each acquisition is generated, summarised and freed before the
 * next, so the raw sweeps never accumulate. Prints wall time and peak RSS. Forward model: blank Poisson
 * counts, laser on 20-65 s with a flat signal proportional to the reference concentration, 0.4 s sweeps. */
#include "error.h"
#include "la_reduce.h"
#include "la_stage.h"
#include "product.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

static const char *const ISO[] = {"Li7",   "Be9",   "B11",   "Na23",  "Mg24",  "Al27",  "Si29",  "P31",
                                  "K39",   "Ca43",  "Sc45",  "Ti47",  "V51",   "Cr53",  "Mn55",  "Fe57",
                                  "Co59",  "Ni60",  "Cu63",  "Zn66",  "Ga71",  "Rb85",  "Sr88",  "Y89",
                                  "Zr90",  "Nb93",  "Cs133", "Ba137", "La139", "Ce140", "Pr141", "Nd146",
                                  "Sm147", "Eu153", "Gd157", "Tb159", "Dy163", "Ho165", "Er166", "Yb172"};

static unsigned long long rng_next(unsigned long long *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}
static double unif(unsigned long long *s) { return ((double)(rng_next(s) >> 11) + 0.5) / 9007199254740992.0; }
static double poisson(unsigned long long *s, double mu)
{
    if (mu > 30) return fmax(0, mu + sqrt(mu) * sqrt(-2 * log(unif(s))) * cos(6.283185307179586 * unif(s)));
    double l = exp(-mu), p = 1;
    int k = 0;
    do {
        k++;
        p *= unif(s);
    } while (p > l);
    return k - 1;
}

int main(int argc, char **argv)
{
    size_t nspots = 5000;
    int niso = 40;
    const char *out = "night.h5";
    int series = 1;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--spots")) nspots = strtoul(argv[i + 1], NULL, 10);
        else if (!strcmp(argv[i], "--isotopes")) niso = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--out")) out = argv[i + 1];
        else if (!strcmp(argv[i], "--timeseries")) series = atoi(argv[i + 1]);
    }
    if (niso < 1 || niso > 40) niso = 40;
    kr_err_install_handlers();
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    kr_la_refs refs;
    kr_la_session s;
    kr_la_settings set;
    kr_la_opts o;
    kr_product *p = NULL;
    int rc = kr_la_refs_load(&refs);
    if (rc) goto fail;
    kr_la_settings_default(&set);
    kr_la_opts_default(&o);
    if ((rc = kr_la_session_init(&s, &set, &o, &refs))) goto fail;
    s.is_default_ugg = 220000;
    int m610 = kr_la_refs_material(&refs, "NIST610"), m612 = kr_la_refs_material(&refs, "NIST612");
    unsigned long long seed = 88172645463325252ULL;
    kr_la_acq a;
    memset(&a, 0, sizeof a);
    a.niso = niso;
    a.n = a.cap = 212; /* 85 s at 0.4 s */
    a.iso = calloc((size_t)niso, sizeof *a.iso);
    a.time_s = malloc(sizeof(double) * a.cap * (size_t)(niso + 1));
    a.cps = a.time_s + a.cap;
    for (int k = 0; k < niso; k++) {
        kr_la_isotope_parse(ISO[k], &a.iso[k]);
        a.iso[k].dwell_s = 0.01;
    }
    for (size_t t = 0; t < a.n; t++) a.time_s[t] = 0.4 * (double)t;
    if ((rc = kr_product_open(out, &p))) goto fail;
    for (size_t i = 0; i < nspots; i++) {
        int mat = i % 10 == 0 || i + 1 == nspots ? m610 : i % 25 == 3 ? m612 : -1;
        snprintf(a.name, sizeof a.name, "S%05zu", i);
        snprintf(a.sample, sizeof a.sample, "%s", mat == m610 ? "NIST610" : mat == m612 ? "NIST612" : "BEAD");
        a.start_s = 1.7e9 + 90.0 * (double)i;
        double drift = 1 + 0.1 * (double)i / (double)nspots;
        for (int k = 0; k < niso; k++) {
            double c = 50, u;
            if (mat >= 0) kr_la_refs_element(&refs, mat, a.iso[k].element, &c, &u, NULL, 0);
            double sens = 2000 * drift, blank = 50 + 10 * k;
            double *col = kr_la_col(&a, k);
            for (size_t t = 0; t < a.n; t++) {
                double on = a.time_s[t] >= 20 && a.time_s[t] < 65 ? 1 : 0;
                col[t] = poisson(&seed, (blank + on * sens * c) * 0.01) / 0.01;
            }
        }
        if ((rc = kr_la_process_acq(&s, NULL, &a, p, NULL, series))) goto fail;
    }
    if ((rc = kr_la_session_calibrate(&s))) goto fail;
    if ((rc = kr_la_quantify_write(&s, 5, p, NULL))) goto fail; /* spot by spot, rows appended in blocks */
    if ((rc = kr_product_commit(p))) goto fail;
    p = NULL;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("night: %zu spots x %d isotopes: %.2f s wall, peak RSS %ld KB, results %zu rows\n", nspots, niso,
           (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec), ru.ru_maxrss,
           s.nspots * (size_t)s.nana);
    kr_la_acq_free(&a);
    kr_la_session_free(&s);
    kr_la_refs_free(&refs);
    return 0;
fail:
    kr_err_print(stderr);
    if (p) kr_product_abort(p);
    return 1;
}
