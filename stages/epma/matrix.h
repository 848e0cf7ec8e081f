/* EPMA matrix correction: k-ratios <-> composition. DOMAIN.md §2.3.
 *
 * Models: XPP (default) and PAP (Pouchou & Pichoir 1991, in Heinrich & Newbury (eds), Electron Probe
 * Quantitation, Plenum), classic ZAF (Duncumb-Reed Z, Philibert-Heinrich A); Reed (1965) characteristic
 * fluorescence in all of them. MACs: Heinrich 1986 (IXCOM-11) by default, xraylib CS_Total as an option,
 * per emitter-absorber overrides.
 *
 * Use:
 *   kr_atomic at;  kr_atomic_load(&at);                       once per process
 *   kr_epma_setup s; kr_epma_setup_init(&s);                   describe the analysis setup
 *   kr_epma_setup_add(&s, &at, "Si", KR_EPMA_MEASURED, ...);   one call per element
 *   kr_epma_ctx *ctx; kr_epma_ctx_new(&s, &at, &ctx);          precompute ONCE (read-only afterwards,
 *                                                              shareable by any number of threads)
 *   kr_epma_work w;                                            per thread (plain struct, no allocation)
 *   kr_epma_solve(ctx, k, c_start_or_NULL, &w, &res);          per analysis / pixel
 *   kr_epma_forward(ctx, c, &w, k_pure, k_std);                composition -> k-ratios
 *   kr_epma_ctx_free(ctx);
 *
 * Conventions: mass fractions (not %) everywhere; element order = order of kr_epma_setup_add calls.
 * Factors are reported so that  k_pure = C * z * a * f  (k against the pure element), i.e. z = generated
 * intensity ratio unknown/pure per unit mass fraction, a = absorption ratio, f = (1 + fluorescence of the
 * unknown)/(1 + fluorescence of the pure element).
 */
#ifndef KR_EPMA_MATRIX_H
#define KR_EPMA_MATRIX_H
#include "atomic.h"

#include <stddef.h>

#define KR_EPMA_MAX_EL 24      /* elements per setup (measured + O + difference + fixed) */
#define KR_EPMA_MAX_MAC_OVR 32 /* MAC overrides per setup */

typedef enum { KR_EPMA_XPP = 0, KR_EPMA_PAP = 1, KR_EPMA_ZAF = 2 } kr_epma_model;
typedef enum { KR_MAC_HEINRICH86 = 0, KR_MAC_XRAYLIB = 1 } kr_mac_source;

/* Role of an element in the analysis. */
typedef enum {
    KR_EPMA_MEASURED = 0,   /* has a k-ratio vs its standard */
    KR_EPMA_DIFFERENCE = 1, /* 1 - sum(others); at most one per setup */
    KR_EPMA_STOICH_O = 2,   /* oxygen by stoichiometry from the cations' oxide formulas; at most one */
    KR_EPMA_FIXED = 3       /* mass fraction given (fixed_mass_frac), not measured */
} kr_epma_role;

/* Parse "xpp"/"pap"/"zaf" and "heinrich86"/"xraylib" (case-insensitive); 0 on success. */
int kr_epma_model_parse(const char *s, kr_epma_model *out);
const char *kr_epma_model_name(kr_epma_model m);
int kr_mac_source_parse(const char *s, kr_mac_source *out);

typedef struct {
    int z;
    kr_epma_role role;
    kr_xray_line line;      /* MEASURED only */
    double kv;              /* beam energy for this element's measurement, kV (MEASURED only) */
    double takeoff_deg;     /* spectrometer take-off angle, degrees (MEASURED only) */
    char standard[48];      /* formula of the standard ("" = pure element); MEASURED only */
    double fixed_mass_frac; /* FIXED only */
    int ox_cations, ox_oxygens; /* oxide M_nO_m for stoichiometric O and oxide wt%; 0/0 = default table */
} kr_epma_elem;

typedef struct {
    int emitter_z;
    kr_xray_line line;
    int absorber_z;
    double mac_cm2_g;
} kr_mac_override;

/* Plain value describing a setup (copy freely). */
typedef struct {
    kr_epma_model model;       /* default XPP */
    kr_mac_source mac;         /* default HEINRICH86 */
    int fluorescence;          /* 1 (default): Reed characteristic fluorescence on */
    int max_iter;              /* default 100 */
    double tol_rel;            /* default 1e-6: stop when every relative change < tol_rel */
    int n;
    kr_epma_elem el[KR_EPMA_MAX_EL];
    int n_mac_override;
    kr_mac_override mac_override[KR_EPMA_MAX_MAC_OVR];
} kr_epma_setup;

void kr_epma_setup_init(kr_epma_setup *s);
/* Append an element (symbol) with its role. For MEASURED give line, kv, takeoff_deg and standard
 * (NULL or "" = pure element); other roles ignore them. Valences come from the default table unless
 * kr_epma_setup_set_oxide is called. Returns the element's index or a negative status on error
 * (unknown symbol, duplicate element, too many elements: message pushed). */
int kr_epma_setup_add(kr_epma_setup *s, const kr_atomic *at, const char *symbol, kr_epma_role role,
                      kr_xray_line line, double kv, double takeoff_deg, const char *standard);
/* Set the oxide of element index i from a formula like "FeO", "Fe2O3" (must match the element). */
int kr_epma_setup_set_oxide(kr_epma_setup *s, const kr_atomic *at, int i, const char *oxide);
/* Add a MAC override (cm2/g) for the emitter's line absorbed by absorber_z. */
int kr_epma_setup_add_mac(kr_epma_setup *s, int emitter_z, kr_xray_line line, int absorber_z,
                          double mac_cm2_g);

/* Precomputed, read-only context (opaque). Owner: caller, free with kr_epma_ctx_free. Fails (message
 * naming the element) for a line xraylib does not know, an overvoltage <= 1, a standard whose formula
 * does not contain the element, two difference elements, ... */
typedef struct kr_epma_ctx kr_epma_ctx;
int kr_epma_ctx_new(const kr_epma_setup *s, const kr_atomic *at, kr_epma_ctx **out);
void kr_epma_ctx_free(kr_epma_ctx *ctx);
int kr_epma_ctx_n(const kr_epma_ctx *ctx);
const kr_epma_setup *kr_epma_ctx_setup(const kr_epma_ctx *ctx);
/* Intensity of the standard of measured element i relative to the pure element (emitted, i.e. with
 * absorption and fluorescence, computed from the standard's full composition by the same model):
 * k_pure = k_std * std_factor (= C_std * z * a * f of the standard); 1 for a pure-element standard. */
double kr_epma_ctx_std_factor(const kr_epma_ctx *ctx, int i);
/* Mass absorption coefficient (cm2/g) used for element i's line in absorber z (after overrides);
 * NaN if i is not measured. */
double kr_epma_ctx_mac(const kr_epma_ctx *ctx, int i, int absorber_z);

/* Per-thread scratch space. Plain struct, put it on the stack or in a per-thread array. */
typedef struct {
    double c[KR_EPMA_MAX_EL], c_prev[KR_EPMA_MAX_EL], g_prev[KR_EPMA_MAX_EL], g[KR_EPMA_MAX_EL];
    double cn[KR_EPMA_MAX_EL];       /* normalised composition used for matrix terms */
    double chi[KR_EPMA_MAX_EL];      /* chi of each measured line in the current matrix */
    double mu_line[KR_EPMA_MAX_EL];  /* mu/rho of the matrix for each measured line */
    double zaf[KR_EPMA_MAX_EL][3];
    double mu_src[KR_EPMA_MAX_EL * 4]; /* 1/(mu/rho) of each fluorescence source line in the matrix */
} kr_epma_work;

typedef struct {
    int n;                             /* elements (same order as the setup) */
    double mass_frac[KR_EPMA_MAX_EL];  /* analytical mass fractions (not normalised) */
    double oxide_frac[KR_EPMA_MAX_EL]; /* oxide mass fraction per cation (NaN for O and oxide-less) */
    double k_pure[KR_EPMA_MAX_EL];     /* k vs the pure element (measured elements; NaN otherwise) */
    double z[KR_EPMA_MAX_EL], a[KR_EPMA_MAX_EL], f[KR_EPMA_MAX_EL]; /* k_pure = C z a f (NaN if unmeasured) */
    double total;                      /* sum of mass fractions */
    double oxide_total;                /* sum of oxide fractions (+ non-oxide elements), when O is stoichiometric */
    int iterations;
} kr_epma_result;

/* k-ratio -> composition. k[i] = k-ratio of measured element i against ITS standard (entries for other
 * roles ignored). c_start: optional starting composition (mass fractions, e.g. the neighbouring pixel's
 * result), NULL = start from k. Wegstein iteration with fallback to simple iteration; stop when every
 * relative change < tol_rel. Non-convergence -> KR_ENUMERIC with a message. No allocation. */
int kr_epma_solve(const kr_epma_ctx *ctx, const double *k, const double *c_start, kr_epma_work *w,
                  kr_epma_result *out);

/* The same solution by a fixed-Jacobian Newton iteration, for many analyses of similar composition (map
 * pixels): C' = C + J (k - k_model(C)) with jac[i][j] = dC_i/dk_j (k against the standards) of a nearby
 * composition, e.g. from finite differences of kr_epma_solve. Same stopping rule and reported values as
 * kr_epma_solve; when it does not converge in a few steps it falls back to kr_epma_solve. */
int kr_epma_solve_jac(const kr_epma_ctx *ctx, const double *k, const double *c_start,
                      const double (*jac)[KR_EPMA_MAX_EL], kr_epma_work *w, kr_epma_result *out);
/* Analytical total (mass fraction) before any matrix correction: measured elements at C = k against
 * the pure element, fixed ones as given, O and the difference element from them. */
int kr_epma_first_order_total(const kr_epma_ctx *ctx, const double *k, double *total);
/* Forward: composition (mass fractions of every element of the setup, O and difference elements
 * included; need not sum to 1) -> k-ratios of the measured elements against the pure element (k_pure)
 * and against their standards (k_std). Either output may be NULL; entries of unmeasured elements are
 * NaN. z/a/f per element can be had from the result of kr_epma_solve. No allocation. */
int kr_epma_forward(const kr_epma_ctx *ctx, const double *mass_frac, kr_epma_work *w, double *k_pure,
                    double *k_std);

/* Mass absorption coefficient (cm2/g) of a photon of energy e_kev in element z, from the given source
 * (Heinrich 1986 parameterisation for Z 3..95, xraylib for H and He; or xraylib CS_Total). NaN outside
 * the range. */
double kr_mac_cm2_g(const kr_atomic *at, kr_mac_source src, int z, double e_kev);

#endif
