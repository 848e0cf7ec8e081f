/* EPMA matrix correction (stages/epma/matrix.h, atomic.h): tests against independent truths.
 *  - Pouchou & Pichoir's database of 826 measured k-ratios on binary specimens (../shared/data/epma/
 *    PandPdb.csv): XPP mean C_calc/C_true within 0.995-1.005, relative sd <= 2.0 % (DOMAIN §2.5;
 *    published XPP 0.9997 / 1.8-1.9 %, PAP 0.998-1.001 / 1.9 %).
 *  - pure element -> exactly 1; a standard reduced as an unknown -> its own composition;
 *  - stoichiometric oxygen and oxide totals against hand computation;
 *  - Heinrich 1986 MACs against published tabulated values. */
#include "atomic.h"
#include "commands.h"
#include "error.h"
#include "kr_test.h"
#include "matrix.h"
#include "text.h"

#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Atomic data for one test (a plain value on the caller's stack: no globals). */
static const kr_atomic *load_atomic(kr_atomic *buf)
{
    int rc = kr_atomic_load(buf);
    if (rc) kr_err_print(stderr);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    return buf;
}

/* ---- PandPdb ---- */

typedef struct {
    int n, failed;
    double mean, sd, max_dev;
    /* rows where characteristic fluorescence matters (f > 1.02): mean C_calc/C_true with and without it */
    int n_fl;
    double mean_fl_on, mean_fl_off;
} pp_stats;

static int line_from_code(long code, kr_xray_line *l)
{
    switch (code) {
    case 0: *l = KR_LINE_KA; return 0;
    case 2: *l = KR_LINE_KB; return 0;
    case 12: *l = KR_LINE_LA; return 0;
    case 31: *l = KR_LINE_LB; return 0;
    case 72: *l = KR_LINE_MA; return 0;
    case 69: *l = KR_LINE_MB; return 0;
    default: return -1;
    }
}

static int run_pandp(const kr_atomic *at, kr_epma_model model, kr_mac_source mac, pp_stats *st)
{
    char path[4096];
    memset(st, 0, sizeof *st);
    if (!kr_test_shared_path(path, sizeof path, "data/epma/PandPdb.csv", "PandPdb")) return -1;
    kr_text t;
    if (kr_text_read(path, &t)) {
        kr_err_print(stderr);
        return -2;
    }
    kr_lines it;
    kr_lines_init(&it, &t);
    char *line;
    double sum = 0, sum2 = 0;
    while ((line = kr_lines_next(&it))) {
        if (!*kr_trim(line) || line[0] == '/' || line[0] == '#') continue;
        char *f[8];
        if (kr_split(line, ',', f, 8) != 7) continue;
        long za, code, zb;
        double kv, ca, ka, to;
        if (kr_parse_long(f[0], &za) || kr_parse_long(f[1], &code) || kr_parse_long(f[2], &zb) ||
            kr_parse_double(f[3], &kv) || kr_parse_double(f[4], &ca) || kr_parse_double(f[5], &ka) ||
            kr_parse_double(f[6], &to))
            continue; /* header-like line */
        kr_xray_line l;
        if (line_from_code(code, &l)) {
            printf("\nPandPdb line %ld: unknown line code %ld\n", it.lineno, code);
            st->failed++;
            continue;
        }
        kr_epma_setup s;
        kr_epma_setup_init(&s);
        s.model = model;
        s.mac = mac;
        kr_epma_setup_add(&s, at, kr_atomic_symbol(at, (int)za), KR_EPMA_MEASURED, l, kv, to, NULL);
        kr_epma_setup_add(&s, at, kr_atomic_symbol(at, (int)zb), KR_EPMA_DIFFERENCE, l, 0, 0, NULL);
        kr_epma_ctx *ctx = NULL;
        kr_epma_work w;
        kr_epma_result r;
        double k[2] = {ka, NAN};
        int rc = kr_epma_ctx_new(&s, at, &ctx);
        if (!rc) rc = kr_epma_solve(ctx, k, NULL, &w, &r);
        if (!rc && r.f[0] > 1.02) { /* the same row without fluorescence */
            kr_epma_setup s0 = s;
            s0.fluorescence = 0;
            kr_epma_ctx *c0 = NULL;
            kr_epma_result r0;
            if (kr_epma_ctx_new(&s0, at, &c0) == 0 && kr_epma_solve(c0, k, NULL, &w, &r0) == 0) {
                st->n_fl++;
                st->mean_fl_on += r.mass_frac[0] / ca;
                st->mean_fl_off += r0.mass_frac[0] / ca;
            }
            kr_epma_ctx_free(c0);
        }
        kr_epma_ctx_free(ctx);
        if (rc) {
            char msg[512];
            kr_err_format(msg, sizeof msg);
            kr_err_clear();
            printf("\nPandPdb line %ld (%ld %ld %ld %g kV): %s\n", it.lineno, za, code, zb, kv, msg);
            st->failed++;
            continue;
        }
        const double ratio = r.mass_frac[0] / ca;
        if (getenv("KREEP_PANDP_VERBOSE") && fabs(ratio - 1) > atof(getenv("KREEP_PANDP_VERBOSE")))
            printf("PandPdb line %ld: %s %s in %s %g kV C=%g k=%g -> %.4f (%d it)\n", it.lineno,
                   kr_atomic_symbol(at, (int)za), kr_xray_line_name(l), kr_atomic_symbol(at, (int)zb), kv, ca, ka,
                   ratio, r.iterations);
        sum += ratio;
        sum2 += ratio * ratio;
        if (fabs(ratio - 1) > st->max_dev) st->max_dev = fabs(ratio - 1);
        st->n++;
    }
    kr_text_free(&t);
    if (st->n_fl) {
        st->mean_fl_on /= st->n_fl;
        st->mean_fl_off /= st->n_fl;
    }
    st->mean = sum / st->n;
    st->sd = sqrt((sum2 - st->n * st->mean * st->mean) / (st->n - 1)) / st->mean;
    return 0;
}

static void test_pandp_xpp(void)
{
    kr_atomic at_data;
    const kr_atomic *at = load_atomic(&at_data);
    pp_stats st;
    if (run_pandp(at, KR_EPMA_XPP, KR_MAC_HEINRICH86, &st) == -1) return;
    printf("\nPandPdb XPP: n=%d failed=%d mean C_calc/C_true=%.4f rel sd=%.2f %% max |dev|=%.1f %%\n", st.n,
           st.failed, st.mean, 100 * st.sd, 100 * st.max_dev);
    CU_ASSERT_EQUAL(st.n, 826);
    CU_ASSERT_EQUAL(st.failed, 0);
    CU_ASSERT(st.mean >= 0.995 && st.mean <= 1.005);
    CU_ASSERT(st.sd <= 0.020);
    /* Reed fluorescence against the measurements: on the rows where it matters (mostly Cu Ka in Au, K
     * excited by L radiation) the correction removes at least half of the bias of the uncorrected
     * result (measured: 43 rows, 0.9878 with, 1.0492 without: Reed's K-by-L factor over-corrects a little) */
    printf("PandPdb XPP, %d rows with f > 1.02: mean C_calc/C_true %.4f with fluorescence, %.4f without\n",
           st.n_fl, st.mean_fl_on, st.mean_fl_off);
    CU_ASSERT(st.n_fl >= 20);
    CU_ASSERT(st.mean_fl_off > 1.03); /* uncorrected fluorescence: C overestimated */
    CU_ASSERT(fabs(st.mean_fl_on - 1) < 0.5 * fabs(st.mean_fl_off - 1));
}

static void test_pandp_pap_zaf(void)
{
    kr_atomic at_data;
    const kr_atomic *at = load_atomic(&at_data);
    pp_stats st;
    if (run_pandp(at, KR_EPMA_PAP, KR_MAC_HEINRICH86, &st) == -1) return;
    printf("\nPandPdb PAP: n=%d failed=%d mean C_calc/C_true=%.4f rel sd=%.2f %% max |dev|=%.1f %%\n", st.n,
           st.failed, st.mean, 100 * st.sd, 100 * st.max_dev);
    CU_ASSERT_EQUAL(st.n, 826);
    /* regression guard (published PAP: 0.998-1.001, 1.9 %; kreep measured 1.0015, 2.04 % with Heinrich MACs) */
    CU_ASSERT(st.mean >= 0.995 && st.mean <= 1.005);
    CU_ASSERT(st.sd <= 0.025);
    run_pandp(at, KR_EPMA_ZAF, KR_MAC_HEINRICH86, &st);
    printf("PandPdb ZAF: n=%d failed=%d mean C_calc/C_true=%.4f rel sd=%.2f %% max |dev|=%.1f %%\n", st.n,
           st.failed, st.mean, 100 * st.sd, 100 * st.max_dev);
    CU_ASSERT_EQUAL(st.n + st.failed, 826);
    run_pandp(at, KR_EPMA_XPP, KR_MAC_XRAYLIB, &st);
    printf("PandPdb XPP with xraylib MACs: n=%d failed=%d mean C_calc/C_true=%.4f rel sd=%.2f %% max |dev|=%.1f %%\n",
           st.n, st.failed, st.mean, 100 * st.sd, 100 * st.max_dev);
    CU_ASSERT_EQUAL(st.n + st.failed, 826);
}

/* ---- invariants ---- */

static void test_pure_element_exactly_one(void)
{
    kr_atomic at_data;
    const kr_atomic *at = load_atomic(&at_data);
    const kr_epma_model models[] = {KR_EPMA_XPP, KR_EPMA_PAP, KR_EPMA_ZAF};
    const char *el[] = {"Fe", "Si", "Ti", "O", "Au"};
    const kr_xray_line ln[] = {KR_LINE_KA, KR_LINE_KA, KR_LINE_KA, KR_LINE_KA, KR_LINE_MA};
    for (int m = 0; m < 3; m++)
        for (int i = 0; i < 5; i++) {
            kr_epma_setup s;
            kr_epma_setup_init(&s);
            s.model = models[m];
            kr_epma_setup_add(&s, at, el[i], KR_EPMA_MEASURED, ln[i], 15.0, 40.0, NULL);
            kr_epma_ctx *ctx = NULL;
            int rc = kr_epma_ctx_new(&s, at, &ctx);
            CU_ASSERT_EQUAL_FATAL(rc, 0);
            kr_epma_work w;
            kr_epma_result r;
            const double k = 1.0;
            rc = kr_epma_solve(ctx, &k, NULL, &w, &r);
            CU_ASSERT_EQUAL(rc, 0);
            CU_ASSERT_EQUAL(r.mass_frac[0], 1.0);
            CU_ASSERT_EQUAL(r.z[0] * r.a[0] * r.f[0], 1.0);
            kr_epma_ctx_free(ctx);
        }
}

/* A standard measured as an unknown (k = 1 against itself for every element) returns its composition. */
static void check_standard(const kr_atomic *at, const char *formula, kr_epma_model model, int o_by_stoich)
{
    kr_formula f;
    CU_ASSERT_EQUAL_FATAL(kr_formula_parse(at, formula, &f), 0);
    kr_epma_setup s;
    kr_epma_setup_init(&s);
    s.model = model;
    double k[KR_EPMA_MAX_EL];
    for (int i = 0; i < f.n; i++) {
        const char *sym = kr_atomic_symbol(at, f.z[i]);
        const int is_o = f.z[i] == 8;
        const kr_xray_line l = f.z[i] > 40 ? KR_LINE_LA : KR_LINE_KA;
        if (is_o && o_by_stoich)
            kr_epma_setup_add(&s, at, sym, KR_EPMA_STOICH_O, l, 0, 0, NULL);
        else
            kr_epma_setup_add(&s, at, sym, KR_EPMA_MEASURED, l, 15.0, 40.0, formula);
        k[i] = 1.0;
    }
    kr_epma_ctx *ctx = NULL;
    int rc = kr_epma_ctx_new(&s, at, &ctx);
    if (rc) kr_err_print(stderr);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    kr_epma_work w;
    kr_epma_result r;
    rc = kr_epma_solve(ctx, k, NULL, &w, &r);
    if (rc) kr_err_print(stderr);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    for (int i = 0; i < f.n; i++) KR_ASSERT_REL(r.mass_frac[i], f.mass_frac[i], 1e-3);
    kr_epma_ctx_free(ctx);
}

static void test_standard_as_unknown(void)
{
    kr_atomic at_data;
    const kr_atomic *at = load_atomic(&at_data);
    const char *stds[] = {"Al2O3", "CaSiO3", "KAlSi3O8", "Fe2SiO4", "MgO", "TiO2", "NaAlSi3O8", "CaMgSi2O6"};
    for (int m = 0; m < 3; m++)
        for (size_t i = 0; i < sizeof stds / sizeof stds[0]; i++) {
            check_standard(at, stds[i], (kr_epma_model)m, 0);
            check_standard(at, stds[i], (kr_epma_model)m, 1);
        }
}

/* Hydroxyapatite as an unknown against itself: Ca and P measured (k = 1), O and H fixed; H takes
 * xraylib's MAC (outside Heinrich 1986's range). */
static void test_hydrous_standard(void)
{
    kr_atomic at_data;
    const kr_atomic *at = load_atomic(&at_data);
    kr_formula f;
    CU_ASSERT_EQUAL_FATAL(kr_formula_parse(at, "Ca5(PO4)3(OH)", &f), 0);
    CU_ASSERT_EQUAL_FATAL(f.n, 4); /* Ca P O H */
    kr_epma_setup s;
    kr_epma_setup_init(&s);
    kr_epma_setup_add(&s, at, "Ca", KR_EPMA_MEASURED, KR_LINE_KA, 15.0, 40.0, "Ca5(PO4)3(OH)");
    kr_epma_setup_add(&s, at, "P", KR_EPMA_MEASURED, KR_LINE_KA, 15.0, 40.0, "Ca5(PO4)3(OH)");
    int io = kr_epma_setup_add(&s, at, "O", KR_EPMA_FIXED, KR_LINE_KA, 0, 0, NULL);
    int ih = kr_epma_setup_add(&s, at, "H", KR_EPMA_FIXED, KR_LINE_KA, 0, 0, NULL);
    s.el[io].fixed_mass_frac = f.mass_frac[2];
    s.el[ih].fixed_mass_frac = f.mass_frac[3];
    kr_epma_ctx *ctx = NULL;
    int rc = kr_epma_ctx_new(&s, at, &ctx);
    if (rc) kr_err_print(stderr);
    CU_ASSERT_EQUAL_FATAL(rc, 0);
    kr_epma_work w;
    kr_epma_result r;
    const double k[4] = {1.0, 1.0, NAN, NAN};
    CU_ASSERT_EQUAL_FATAL(kr_epma_solve(ctx, k, NULL, &w, &r), 0);
    KR_ASSERT_REL(r.mass_frac[0], f.mass_frac[0], 1e-3);
    KR_ASSERT_REL(r.mass_frac[1], f.mass_frac[1], 1e-3);
    KR_ASSERT_REL(r.total, 1.0, 1e-3);
    kr_epma_ctx_free(ctx);
}

/* 10-element lunar-basalt-like glass (mass fractions, O by stoichiometry): forward then inverse. */
static const char *const SIL_EL[] = {"Si", "Ti", "Al", "Cr", "Fe", "Mn", "Mg", "Ca", "Na", "K", "O"};
static const char *const SIL_STD[] = {"CaSiO3", "TiO2", "Al2O3", "Cr2O3", "Fe2SiO4", "MnTiO3", "MgO", "CaSiO3",
                                      "NaAlSi3O8", "KAlSi3O8", ""};
/* oxide wt%: SiO2 40.0, TiO2 12.0, Al2O3 9.0, Cr2O3 0.4, FeO 20.0, MnO 0.3, MgO 8.0, CaO 10.0, Na2O 0.4, K2O 0.1 */
static void silicate_setup(const kr_atomic *at, kr_epma_setup *s, kr_epma_model model, double *c_true)
{
    const double ox_wt[] = {40.0, 12.0, 9.0, 0.4, 20.0, 0.3, 8.0, 10.0, 0.4, 0.1};
    kr_epma_setup_init(s);
    s->model = model;
    for (int i = 0; i < 10; i++)
        kr_epma_setup_add(s, at, SIL_EL[i], KR_EPMA_MEASURED, KR_LINE_KA, 15.0, 40.0, SIL_STD[i]);
    kr_epma_setup_add(s, at, "O", KR_EPMA_STOICH_O, KR_LINE_KA, 0, 0, NULL);
    double o = 0;
    for (int i = 0; i < 10; i++) {
        const int z = s->el[i].z;
        const double nc = at->ox_cations[z], no = at->ox_oxygens[z], a = at->weight[z], ao = at->weight[8];
        c_true[i] = ox_wt[i] / 100.0 * nc * a / (nc * a + no * ao);
        o += c_true[i] * no * ao / (nc * a);
    }
    c_true[10] = o;
}

static void test_forward_inverse_silicate(void)
{
    kr_atomic at_data;
    const kr_atomic *at = load_atomic(&at_data);
    for (int m = 0; m < 3; m++) {
        kr_epma_setup s;
        double c[KR_EPMA_MAX_EL];
        silicate_setup(at, &s, (kr_epma_model)m, c);
        kr_epma_ctx *ctx = NULL;
        int rc = kr_epma_ctx_new(&s, at, &ctx);
        if (rc) kr_err_print(stderr);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        kr_epma_work w;
        double kstd[KR_EPMA_MAX_EL], kpure[KR_EPMA_MAX_EL];
        CU_ASSERT_EQUAL_FATAL(kr_epma_forward(ctx, c, &w, kpure, kstd), 0);
        kr_epma_result r;
        rc = kr_epma_solve(ctx, kstd, NULL, &w, &r);
        CU_ASSERT_EQUAL_FATAL(rc, 0);
        for (int i = 0; i < 11; i++) KR_ASSERT_REL(r.mass_frac[i], c[i], 1e-5);
        CU_ASSERT(r.iterations > 0 && r.iterations < 30);
        KR_ASSERT_REL(r.oxide_total, 1.002, 1e-4); /* the oxide wt% above sum to 100.2 */
        /* warm start from the answer converges at once */
        rc = kr_epma_solve(ctx, kstd, c, &w, &r);
        CU_ASSERT_EQUAL(rc, 0);
        CU_ASSERT(r.iterations <= 3);
        kr_epma_ctx_free(ctx);
    }
}

/* O = sum C_i n_O A_O/(n_cat A_i): 20 % Si (SiO2), 10 % Mg (MgO), 10 % Fe (FeO), with IUPAC weights
 * O 15.999, Si 28.085, Mg 24.305, Fe 55.845 (by hand: 0.22786 + 0.06583 + 0.02865 = 0.32234);
 * oxides SiO2 0.427865, MgO 0.165826, FeO 0.128649. */
static void test_stoichiometric_oxygen(void)
{
    kr_atomic at_data;
    const kr_atomic *at = load_atomic(&at_data);
    kr_epma_setup s;
    kr_epma_setup_init(&s);
    const char *el[] = {"Si", "Mg", "Fe"};
    const double c[] = {0.2, 0.1, 0.1};
    for (int i = 0; i < 3; i++) {
        int idx = kr_epma_setup_add(&s, at, el[i], KR_EPMA_FIXED, KR_LINE_KA, 0, 0, NULL);
        s.el[idx].fixed_mass_frac = c[i];
    }
    kr_epma_setup_add(&s, at, "O", KR_EPMA_STOICH_O, KR_LINE_KA, 0, 0, NULL);
    kr_epma_ctx *ctx = NULL;
    CU_ASSERT_EQUAL_FATAL(kr_epma_ctx_new(&s, at, &ctx), 0);
    kr_epma_work w;
    kr_epma_result r;
    CU_ASSERT_EQUAL_FATAL(kr_epma_solve(ctx, c, NULL, &w, &r), 0);
    KR_ASSERT_REL(r.mass_frac[3], 0.3223403, 1e-6);
    KR_ASSERT_REL(r.oxide_frac[0], 0.4278654, 1e-6);
    KR_ASSERT_REL(r.oxide_frac[1], 0.1658260, 1e-6);
    KR_ASSERT_REL(r.oxide_frac[2], 0.1286489, 1e-6);
    KR_ASSERT_REL(r.oxide_total, 0.4278654 + 0.1658260 + 0.1286489, 1e-6);
    CU_ASSERT(isnan(r.oxide_frac[3]));
    kr_epma_ctx_free(ctx);
    /* Fe2O3 instead of FeO: 0.1 * 1.5 * 15.999/55.845 = 0.042973 of O */
    kr_epma_setup s2 = s;
    CU_ASSERT_EQUAL(kr_epma_setup_set_oxide(&s2, at, 2, "Fe2O3"), 0);
    CU_ASSERT_EQUAL_FATAL(kr_epma_ctx_new(&s2, at, &ctx), 0);
    CU_ASSERT_EQUAL_FATAL(kr_epma_solve(ctx, c, NULL, &w, &r), 0);
    KR_ASSERT_REL(r.mass_frac[3], 0.22786 + 0.065826 + 0.042973, 1e-4);
    kr_epma_ctx_free(ctx);
    CU_ASSERT_NOT_EQUAL(kr_epma_setup_set_oxide(&s2, at, 2, "SiO2"), 0); /* not Fe's oxide */
    kr_err_clear();
}

/* Difference element together with stoichiometric oxygen: Si measured vs SiO2... plus Mg by difference
 * as MgO: total oxide must be exactly 1. */
static void test_difference_with_oxygen(void)
{
    kr_atomic at_data;
    const kr_atomic *at = load_atomic(&at_data);
    kr_epma_setup s;
    kr_epma_setup_init(&s);
    kr_epma_setup_add(&s, at, "Si", KR_EPMA_MEASURED, KR_LINE_KA, 15.0, 40.0, "SiO2");
    kr_epma_setup_add(&s, at, "Mg", KR_EPMA_DIFFERENCE, KR_LINE_KA, 0, 0, NULL);
    kr_epma_setup_add(&s, at, "O", KR_EPMA_STOICH_O, KR_LINE_KA, 0, 0, NULL);
    kr_epma_ctx *ctx = NULL;
    CU_ASSERT_EQUAL_FATAL(kr_epma_ctx_new(&s, at, &ctx), 0);
    kr_epma_work w;
    kr_epma_result r;
    const double k[3] = {0.45, NAN, NAN};
    CU_ASSERT_EQUAL_FATAL(kr_epma_solve(ctx, k, NULL, &w, &r), 0);
    KR_ASSERT_REL(r.total, 1.0, 1e-12);
    KR_ASSERT_REL(r.oxide_total, 1.0, 1e-12);
    CU_ASSERT(r.mass_frac[0] > 0.15 && r.mass_frac[0] < 0.30);
    kr_epma_ctx_free(ctx);
}

/* Heinrich 1986 values as tabulated by Farthing & Walker (the check values of NIST EPQ's
 * MassAbsorptionCoefficientTest), cm2/g: photon energy (eV), absorber, mu/rho. */
static void test_heinrich_mac(void)
{
    kr_atomic at_data;
    const kr_atomic *at = load_atomic(&at_data);
    const struct {
        const char *el;
        double e_ev, mu;
    } ref[] = {{"Ti", 8639, 166.05}, {"Al", 7478, 61.31},   {"Ca", 14958, 29.86}, {"Ti", 4932, 84.12},
               {"Cr", 11727, 90.25}, {"Fe", 1872, 2019.45}, {"B", 677, 3906.0},   {"Nb", 2308, 613.69},
               {"Ga", 1282, 6684.0}, {"Ca", 392, 36579.0}};
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        const double mu = kr_mac_cm2_g(at, KR_MAC_HEINRICH86, kr_atomic_z(at, ref[i].el), ref[i].e_ev / 1000.0);
        if (fabs(mu / ref[i].mu - 1) > 0.01)
            printf("\nHeinrich86 %s %.0f eV: %.2f vs published %.2f\n", ref[i].el, ref[i].e_ev, mu, ref[i].mu);
        KR_ASSERT_REL(mu, ref[i].mu, 0.01);
    }
    /* xraylib option gives the same order of magnitude (Fe Ka in Fe) */
    const double x = kr_mac_cm2_g(at, KR_MAC_XRAYLIB, 26, 6.40);
    const double h = kr_mac_cm2_g(at, KR_MAC_HEINRICH86, 26, 6.40);
    KR_ASSERT_REL(x, h, 0.1);
}

static void test_mac_override(void)
{
    kr_atomic at_data;
    const kr_atomic *at = load_atomic(&at_data);
    kr_epma_setup s;
    kr_epma_setup_init(&s);
    kr_epma_setup_add(&s, at, "Si", KR_EPMA_MEASURED, KR_LINE_KA, 15.0, 40.0, NULL);
    kr_epma_setup_add(&s, at, "Fe", KR_EPMA_DIFFERENCE, KR_LINE_KA, 0, 0, NULL);
    CU_ASSERT_EQUAL(kr_epma_setup_add_mac(&s, 14, KR_LINE_KA, 26, 3000.0), 0);
    kr_epma_ctx *ctx = NULL;
    CU_ASSERT_EQUAL_FATAL(kr_epma_ctx_new(&s, at, &ctx), 0);
    CU_ASSERT_EQUAL(kr_epma_ctx_mac(ctx, 0, 26), 3000.0);
    CU_ASSERT(kr_epma_ctx_mac(ctx, 0, 14) > 100);
    kr_epma_ctx_free(ctx);
}

static void test_formula(void)
{
    kr_atomic at_data;
    const kr_atomic *at = load_atomic(&at_data);
    kr_formula f;
    CU_ASSERT_EQUAL_FATAL(kr_formula_parse(at, "KAlSi3O8", &f), 0);
    CU_ASSERT_EQUAL(f.n, 4);
    /* by hand from IUPAC weights: M = 278.32684 g/mol */
    KR_ASSERT_REL(f.mass_frac[0], 0.1404762, 1e-6);
    KR_ASSERT_REL(f.mass_frac[1], 0.0969419, 1e-6);
    KR_ASSERT_REL(f.mass_frac[2], 0.3027196, 1e-6);
    KR_ASSERT_REL(f.mass_frac[3], 0.4598622, 1e-6);
    CU_ASSERT_EQUAL_FATAL(kr_formula_parse(at, "Ca(OH)2", &f), 0);
    CU_ASSERT_EQUAL(f.n, 3);
    CU_ASSERT_DOUBLE_EQUAL(f.atoms[1], 2.0, 0);
    CU_ASSERT_DOUBLE_EQUAL(f.atoms[2], 2.0, 0);
    CU_ASSERT_EQUAL_FATAL(kr_formula_parse(at, "Fe", &f), 0);
    CU_ASSERT_EQUAL(f.mass_frac[0], 1.0);
    CU_ASSERT_NOT_EQUAL(kr_formula_parse(at, "Xx2O", &f), 0);
    CU_ASSERT_NOT_EQUAL(kr_formula_parse(at, "Ca(OH", &f), 0);
    CU_ASSERT_NOT_EQUAL(kr_formula_parse(at, "sio2", &f), 0);
    kr_err_clear();
    int z, nc, no;
    CU_ASSERT_EQUAL(kr_oxide_parse(at, "Fe2O3", &z, &nc, &no), 0);
    CU_ASSERT(z == 26 && nc == 2 && no == 3);
    CU_ASSERT_EQUAL(kr_atomic_z(at, "Ti"), 22);
    CU_ASSERT_STRING_EQUAL(kr_atomic_symbol(at, 8), "O");
    KR_ASSERT_REL(at->weight[22], 47.867, 1e-9); /* IUPAC, not xraylib's 47.9 */
}

static void test_errors(void)
{
    kr_atomic at_data;
    const kr_atomic *at = load_atomic(&at_data);
    kr_epma_setup s;
    kr_epma_setup_init(&s);
    CU_ASSERT(kr_epma_setup_add(&s, at, "Qq", KR_EPMA_MEASURED, KR_LINE_KA, 15, 40, NULL) < 0);
    kr_err_clear();
    /* overvoltage below 1: Fe Ka at 5 kV */
    kr_epma_setup_add(&s, at, "Fe", KR_EPMA_MEASURED, KR_LINE_KA, 5.0, 40.0, NULL);
    kr_epma_ctx *ctx = NULL;
    CU_ASSERT_NOT_EQUAL(kr_epma_ctx_new(&s, at, &ctx), 0);
    CU_ASSERT_PTR_NULL(ctx);
    kr_err_clear();
    /* standard without the element */
    kr_epma_setup_init(&s);
    kr_epma_setup_add(&s, at, "Fe", KR_EPMA_MEASURED, KR_LINE_KA, 15.0, 40.0, "SiO2");
    CU_ASSERT_NOT_EQUAL(kr_epma_ctx_new(&s, at, &ctx), 0);
    kr_err_clear();
    /* iteration cap reached -> error, not a silent answer */
    silicate_setup(at, &s, KR_EPMA_XPP, (double[KR_EPMA_MAX_EL]){0});
    s.max_iter = 2;
    CU_ASSERT_EQUAL_FATAL(kr_epma_ctx_new(&s, at, &ctx), 0);
    double k[KR_EPMA_MAX_EL];
    for (int i = 0; i < 11; i++) k[i] = 0.1;
    kr_epma_work w;
    kr_epma_result r;
    CU_ASSERT_EQUAL(kr_epma_solve(ctx, k, NULL, &w, &r), KR_ENUMERIC);
    kr_err_clear();
    kr_epma_ctx_free(ctx);
    /* all k-ratios zero: an error, not NaN; a successful solve leaves the caller's error stack alone */
    silicate_setup(at, &s, KR_EPMA_XPP, (double[KR_EPMA_MAX_EL]){0});
    CU_ASSERT_EQUAL_FATAL(kr_epma_ctx_new(&s, at, &ctx), 0);
    for (int i = 0; i < 11; i++) k[i] = 0.0;
    CU_ASSERT_EQUAL(kr_epma_solve(ctx, k, NULL, &w, &r), KR_ENUMERIC);
    CU_ASSERT_EQUAL(kr_err_count(), 1);
    kr_err_clear();
    kr_err(KR_EINPUT, "an unrelated earlier message");
    for (int i = 0; i < 11; i++) k[i] = 0.1;
    CU_ASSERT_EQUAL(kr_epma_solve(ctx, k, NULL, &w, &r), 0);
    CU_ASSERT_EQUAL(kr_err_count(), 1);
    kr_err_clear();
    kr_epma_ctx_free(ctx);
}


/* ---- kreep zaf (the command) ---- */

/* Run cmd_zaf with stdout captured into out_path; returns its status. */
static int run_cmd_zaf(const char *out_path, int argc, char **argv)
{
    fflush(stdout);
    int saved = dup(1);
    int fd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (saved < 0 || fd < 0) return -1;
    dup2(fd, 1);
    close(fd);
    int rc = cmd_zaf(argc, argv);
    fflush(stdout);
    dup2(saved, 1);
    close(saved);
    return rc;
}

/* PandPdb through `kreep zaf`: convert to the command's CSV (A measured vs pure A, B by difference),
 * run it, read mass_pct of A back. */
static void zaf_cmd_pandp(const kr_atomic *at, const char *model, pp_stats *st)
{
    char src[4096], in[4200], out[4200];
    memset(st, 0, sizeof *st);
    if (!kr_test_shared_path(src, sizeof src, "data/epma/PandPdb.csv", "kreep zaf PandPdb")) {
        st->n = -1;
        return;
    }
    snprintf(in, sizeof in, "%s/pandp_zaf.csv", kr_test_tmpdir());
    snprintf(out, sizeof out, "%s/pandp_zaf_%s.out", kr_test_tmpdir(), model);
    kr_text t;
    CU_ASSERT_EQUAL_FATAL(kr_text_read(src, &t), 0);
    FILE *f = fopen(in, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fprintf(f, "sample,element,line,kv,takeoff_deg,k,standard\n");
    static const char *const names[] = {"Ka", "Kb", "La", "Lb", "Ma", "Mb"};
    double truth[1000];
    int nrow = 0;
    kr_lines it;
    kr_lines_init(&it, &t);
    char *line;
    while ((line = kr_lines_next(&it)) && nrow < 1000) {
        if (!*kr_trim(line) || line[0] == '/') continue;
        char *fl[8];
        long za, code, zb;
        double kv, ca, ka, to;
        kr_xray_line l;
        if (kr_split(line, ',', fl, 8) != 7 || kr_parse_long(fl[0], &za) || kr_parse_long(fl[1], &code) ||
            kr_parse_long(fl[2], &zb) || kr_parse_double(fl[3], &kv) || kr_parse_double(fl[4], &ca) ||
            kr_parse_double(fl[5], &ka) || kr_parse_double(fl[6], &to) || line_from_code(code, &l))
            continue;
        fprintf(f, "r%d,%s,%s,%g,%g,%.17g,\n", nrow, kr_atomic_symbol(at, (int)za), names[l], kv, to, ka);
        fprintf(f, "r%d,%s,,,,,\n", nrow, kr_atomic_symbol(at, (int)zb));
        truth[nrow++] = ca;
    }
    fclose(f);
    kr_text_free(&t);
    char *argv[] = {"zaf", in, "--model", (char *)model, NULL};
    int rc = run_cmd_zaf(out, 4, argv);
    CU_ASSERT_EQUAL(rc, 0);
    kr_err_clear();
    kr_text o;
    CU_ASSERT_EQUAL_FATAL(kr_text_read(out, &o), 0);
    kr_lines_init(&it, &o);
    double sum = 0, sum2 = 0;
    int header = 1;
    while ((line = kr_lines_next(&it))) {
        char *fl[32];
        int nf = kr_split(line, ',', fl, 32);
        if (header) {
            header = 0;
            CU_ASSERT(nf >= 15 && !strcmp(fl[0], "sample") && !strcmp(fl[1], "element") && !strcmp(fl[3], "mass_pct"));
            continue;
        }
        if (nf < 15 || strcmp(fl[2], "measured")) continue;
        long r;
        double pct;
        if (fl[0][0] != 'r' || kr_parse_long(fl[0] + 1, &r) || r < 0 || r >= nrow || kr_parse_double(fl[3], &pct)) {
            st->failed++;
            continue;
        }
        const double ratio = pct / 100.0 / truth[r];
        sum += ratio;
        sum2 += ratio * ratio;
        if (fabs(ratio - 1) > st->max_dev) st->max_dev = fabs(ratio - 1);
        st->n++;
    }
    kr_text_free(&o);
    st->failed += nrow - st->n;
    st->mean = sum / st->n;
    st->sd = sqrt((sum2 - st->n * st->mean * st->mean) / (st->n - 1)) / st->mean;
}

static void test_cmd_zaf_pandp(void)
{
    kr_atomic at_data;
    const kr_atomic *at = load_atomic(&at_data);
    const char *models[] = {"xpp", "pap", "zaf"};
    for (int m = 0; m < 3; m++) {
        pp_stats st;
        zaf_cmd_pandp(at, models[m], &st);
        if (st.n < 0) return;
        printf("\nkreep zaf --model %s on PandPdb: n=%d failed=%d mean C_calc/C_true=%.4f rel sd=%.2f %%", models[m],
               st.n, st.failed, st.mean, 100 * st.sd);
        CU_ASSERT_EQUAL(st.n, 826);
        if (m == 0) {
            CU_ASSERT(st.mean >= 0.995 && st.mean <= 1.005);
            CU_ASSERT(st.sd <= 0.020);
        }
    }
    printf("\n");
}

/* The command's contract on a small input: oxygen row, error row and exit status 3, bad file -> 1. */
static void test_cmd_zaf_contract(void)
{
    kr_atomic at_data;
    const kr_atomic *at = load_atomic(&at_data);
    char in[4200], out[4200];
    snprintf(in, sizeof in, "%s/zaf_in.csv", kr_test_tmpdir());
    snprintf(out, sizeof out, "%s/zaf_out.csv", kr_test_tmpdir());
    FILE *f = fopen(in, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    /* columns in a different order; "mix" is wollastonite reduced as an unknown against itself */
    fprintf(f, "k,element,sample,standard,line,takeoff_deg,kv,oxide\n"
               "1,Si,woll,CaSiO3,Ka,40,15,SiO2\n"
               "1,Ca,woll,CaSiO3,Ka,40,15,\n"
               "0.5,Fe,bad,,Ka,40,5,\n"
               ",Ni,bad,,,,,\n");
    fclose(f);
    char *argv[] = {"zaf", in, NULL};
    int rc = run_cmd_zaf(out, 2, argv);
    CU_ASSERT_EQUAL(rc, KR_EPARTIAL);
    kr_err_clear();
    kr_text o;
    CU_ASSERT_EQUAL_FATAL(kr_text_read(out, &o), 0);
    kr_lines it;
    kr_lines_init(&it, &o);
    char *line;
    int n = 0, got_o = 0, got_err = 0;
    kr_formula w;
    kr_formula_parse(at, "CaSiO3", &w); /* Ca, Si, O */
    while ((line = kr_lines_next(&it))) {
        char *fl[32];
        int nf = kr_split(line, ',', fl, 32);
        if (n++ == 0) continue;
        CU_ASSERT_EQUAL(nf, 15);
        if (nf != 15) continue;
        double pct;
        if (!strcmp(fl[0], "woll") && !kr_parse_double(fl[3], &pct)) {
            const int z = kr_atomic_z(at, fl[1]);
            for (int i = 0; i < w.n; i++)
                if (w.z[i] == z) KR_ASSERT_REL(pct / 100.0, w.mass_frac[i], 1e-3);
            if (z == 8) got_o = 1;
        }
        if (!strcmp(fl[0], "bad")) {
            got_err = 1;
            CU_ASSERT(strstr(fl[14], "overvoltage") != NULL);
        }
    }
    kr_text_free(&o);
    CU_ASSERT(got_o && got_err);
    /* bad file: unknown element -> status 1 naming file:line */
    f = fopen(in, "w");
    fprintf(f, "sample,element,line,kv,takeoff_deg,k,standard\na,Xq,Ka,15,40,0.5,\n");
    fclose(f);
    rc = run_cmd_zaf(out, 2, argv);
    CU_ASSERT_EQUAL(rc, KR_EINPUT);
    char msg[512];
    kr_err_format(msg, sizeof msg);
    CU_ASSERT(strstr(msg, "zaf_in.csv:2") != NULL);
    kr_err_clear();
    /* missing column -> status 1; bad option -> usage (2) */
    f = fopen(in, "w");
    fprintf(f, "sample,element,line,kv,k,standard\n");
    fclose(f);
    CU_ASSERT_EQUAL(run_cmd_zaf(out, 2, argv), KR_EINPUT);
    kr_err_clear();
    char *argv2[] = {"zaf", in, "--model", "nope", NULL};
    CU_ASSERT_EQUAL(run_cmd_zaf(out, 4, argv2), KR_EUSAGE);
    kr_err_clear();
}

int main(void)
{
    const kr_test_case tests[] = {{"formula and atomic data", test_formula},
                                  {"Heinrich 1986 MACs vs published", test_heinrich_mac},
                                  {"MAC override", test_mac_override},
                                  {"pure element gives exactly 1", test_pure_element_exactly_one},
                                  {"standard reduced as unknown", test_standard_as_unknown},
                                  {"hydrous standard (H via xraylib MAC)", test_hydrous_standard},
                                  {"stoichiometric oxygen by hand", test_stoichiometric_oxygen},
                                  {"difference with oxygen", test_difference_with_oxygen},
                                  {"forward-inverse 10-element silicate", test_forward_inverse_silicate},
                                  {"errors", test_errors},
                                  {"PandPdb XPP (826 k-ratios)", test_pandp_xpp},
                                  {"PandPdb PAP and ZAF figures", test_pandp_pap_zaf},
                                  {"kreep zaf contract", test_cmd_zaf_contract},
                                  {"kreep zaf on PandPdb (XPP, PAP, ZAF)", test_cmd_zaf_pandp},
                                  {NULL, NULL}};
    return kr_test_run("epma_matrix", tests);
}
