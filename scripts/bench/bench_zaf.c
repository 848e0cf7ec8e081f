/* Benchmark of the EPMA matrix correction (scripts/bench-zaf): 10-element lunar-basalt-like silicate
 * (Si Ti Al Cr Fe Mn Mg Ca Na K, Ka lines vs compound standards, 15 kV, 40 deg) with oxygen by
 * stoichiometry and Reed fluorescence; one thread. Reports analyses per second per core, cold start
 * (from the k-ratios) and warm start (from a neighbouring analysis, as in a map). */
#include "atomic.h"
#include "error.h"
#include "matrix.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

int main(int argc, char **argv)
{
    const char *model_name = argc > 1 ? argv[1] : "xpp";
    const double min_s = argc > 2 ? atof(argv[2]) : 2.0;
    kr_atomic at;
    int rc = kr_atomic_load(&at);
    kr_epma_ctx *ctx = NULL;
    if (rc) goto fail;
    kr_epma_setup s;
    kr_epma_setup_init(&s);
    if (kr_epma_model_parse(model_name, &s.model)) {
        fprintf(stderr, "bench_zaf: model must be xpp, pap or zaf\n");
        return 2;
    }
    const char *el[] = {"Si", "Ti", "Al", "Cr", "Fe", "Mn", "Mg", "Ca", "Na", "K"};
    const char *std[] = {"CaSiO3", "TiO2", "Al2O3", "Cr2O3", "Fe2SiO4", "MnTiO3", "MgO", "CaSiO3", "NaAlSi3O8", "KAlSi3O8"};
    const double ox_wt[] = {40.0, 12.0, 9.0, 0.4, 20.0, 0.3, 8.0, 10.0, 0.4, 0.1}; /* oxide wt% */
    for (int i = 0; i < 10; i++)
        if (kr_epma_setup_add(&s, &at, el[i], KR_EPMA_MEASURED, KR_LINE_KA, 15.0, 40.0, std[i]) < 0) goto fail;
    if (kr_epma_setup_add(&s, &at, "O", KR_EPMA_STOICH_O, KR_LINE_KA, 0, 0, NULL) < 0) goto fail;
    double t0 = now_s();
    rc = kr_epma_ctx_new(&s, &at, &ctx);
    if (rc) goto fail;
    const double setup_s = now_s() - t0;
    double c[KR_EPMA_MAX_EL], o = 0;
    for (int i = 0; i < 10; i++) {
        const int z = s.el[i].z;
        const double nc = at.ox_cations[z], no = at.ox_oxygens[z], a = at.weight[z], ao = at.weight[8];
        c[i] = ox_wt[i] / 100.0 * nc * a / (nc * a + no * ao);
        o += c[i] * no * ao / (nc * a);
    }
    c[10] = o;
    kr_epma_work w;
    double k0[KR_EPMA_MAX_EL];
    rc = kr_epma_forward(ctx, c, &w, NULL, k0);
    if (rc) goto fail;
    /* k-ratios varied by a few % per analysis (counting noise / zoning), deterministic */
    enum { NVAR = 1024 };
    double (*kv)[KR_EPMA_MAX_EL] = malloc(NVAR * sizeof *kv);
    if (!kv) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto fail;
    }
    for (int v = 0; v < NVAR; v++)
        for (int i = 0; i < 11; i++) kv[v][i] = k0[i] * (1.0 + 0.03 * sin(0.37 * v + 1.3 * i));
    kr_epma_result r;
    for (int warm = 0; warm < 2; warm++) {
        long n = 0, iters = 0;
        double sink = 0, prev[KR_EPMA_MAX_EL];
        memcpy(prev, c, sizeof prev);
        t0 = now_s();
        double el_s = 0;
        while (el_s < min_s) {
            for (int v = 0; v < NVAR; v++) {
                rc = kr_epma_solve(ctx, kv[v], warm ? prev : NULL, &w, &r);
                if (rc) {
                    free(kv);
                    goto fail;
                }
                if (warm) memcpy(prev, r.mass_frac, sizeof prev);
                iters += r.iterations;
                sink += r.mass_frac[0];
            }
            n += NVAR;
            el_s = now_s() - t0;
        }
        printf("%s %s start: %.0f analyses/s per core (%ld analyses in %.2f s, mean %.2f iterations; check %.6f)\n",
               model_name, warm ? "warm" : "cold", n / el_s, n, el_s, (double)iters / n, sink / n);
    }
    printf("context setup (once per analysis setup): %.3f ms\n", 1e3 * setup_s);
    free(kv);
    kr_epma_ctx_free(ctx);
    return 0;
fail:
    kr_err_print(stderr);
    kr_epma_ctx_free(ctx);
    return 1;
}
