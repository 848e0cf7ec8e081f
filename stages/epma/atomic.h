/* Atomic data for EPMA: element symbols <-> Z and IUPAC atomic weights (calib/atomic_weights.csv),
 * X-ray line and edge data from xraylib (line and edge energies, fluorescence yields, jump ratios,
 * Coster-Kronig and radiative rates), chemical formula parsing, default oxide valences
 * (calib/epma_oxides.csv). DOMAIN.md §2.3. */
#ifndef KR_EPMA_ATOMIC_H
#define KR_EPMA_ATOMIC_H
#include <stddef.h>

#define KR_Z_MAX 98 /* elements 1..97 handled */
#define KR_H86_ROWS 40
#define KR_H86_COEF 6

/* X-ray lines measured in EPMA (Siegbahn names). */
typedef enum {
    KR_LINE_KA = 0, /* K-L2,3 (weighted), K shell */
    KR_LINE_KB,     /* K-M2,3, K shell */
    KR_LINE_LA,     /* L3-M4,5, L3 shell */
    KR_LINE_LB,     /* L2-M4 (Lb1), L2 shell */
    KR_LINE_MA,     /* M5-N6,7, M5 shell */
    KR_LINE_MB,     /* M4-N6, M4 shell */
    KR_LINE_COUNT
} kr_xray_line;

/* Ionised shell families. */
typedef enum { KR_FAMILY_K = 0, KR_FAMILY_L = 1, KR_FAMILY_M = 2 } kr_shell_family;

/* Atomic tables loaded once from calib/ (plain value: nothing to free, read-only after load, shareable
 * across threads). Index by Z (0 unused). */
typedef struct {
    char symbol[KR_Z_MAX][4];
    double weight[KR_Z_MAX];             /* standard atomic weight, g/mol (NaN if none) */
    double weight_unc[KR_Z_MAX];         /* its uncertainty as listed by IUPAC/CIAAW */
    int ox_cations[KR_Z_MAX];            /* default oxide M_nO_m: n (0 = none, e.g. O itself) */
    int ox_oxygens[KR_Z_MAX];            /* m */
    /* Heinrich 1986 MAC coefficients (calib/epma_heinrich86_mac.csv), filled by kr_mac_h86_load */
    double h86[KR_H86_ROWS][KR_H86_COEF + 1]; /* [row][0] = zsplit, [row][1..] = c0..c5 */
    /* model constants (calib/epma_constants.csv) */
    double reed_p_k_by_l, reed_p_l_by_k, reed_p_m_by_kl, reed_depth_exp;
    double lenard_const, lenard_exp, philibert_h;
    double duncumb_reed[5][6]; /* calib/epma_duncumb_reed.csv: [Z power - 1][W power] */
} kr_atomic;

/* Load calib/atomic_weights.csv, calib/epma_oxides.csv, calib/epma_heinrich86_mac.csv and
 * calib/epma_constants.csv, calib/epma_duncumb_reed.csv. Errors name the file and line. */
int kr_atomic_load(kr_atomic *at);

/* Symbol (case-sensitive first letter upper, e.g. "Fe"; also accepts "FE"/"fe") -> Z, or 0. */
int kr_atomic_z(const kr_atomic *at, const char *symbol);
const char *kr_atomic_symbol(const kr_atomic *at, int z);

/* "Ka", "Kb", "La", "Lb", "Ma", "Mb" (case-insensitive) -> line; 0 on success. */
int kr_xray_line_parse(const char *s, kr_xray_line *out);
const char *kr_xray_line_name(kr_xray_line line);
kr_shell_family kr_xray_line_family(kr_xray_line line);

/* Line data from xraylib (energies in keV). Returns KR_EINPUT (with a message) when xraylib has no data
 * for the line (e.g. Ma of Fe). */
typedef struct {
    double line_kev;     /* emitted line energy */
    double edge_kev;     /* ionisation edge of the line's initial shell */
    int shell;           /* xraylib shell index of the initial vacancy */
    double omega;        /* fluorescence yield of that shell */
    double line_fraction;/* radiative rate of this line within its shell */
} kr_line_data;
int kr_line_data_get(int z, kr_xray_line line, kr_line_data *out);
/* Same without pushing an error (returns nonzero when there is no data). */
int kr_line_data_probe(int z, kr_xray_line line, kr_line_data *out);

/* Edge energy (keV) of xraylib shell `shell` of element z, NaN if absent. */
double kr_edge_kev(int z, int shell);

/* Formula parsing: "CaSiO3", "KAlSi3O8", "Al2O3", "Fe", "Fe2SiO4", "(Mg,Fe)" is not supported;
 * parentheses with a multiplier "Ca(OH)2" and decimal counts "Fe0.9O" are. Output: distinct elements
 * in order of first appearance, their atom counts and mass fractions (summing to 1). */
#define KR_FORMULA_MAX 16
typedef struct {
    int n;
    int z[KR_FORMULA_MAX];
    double atoms[KR_FORMULA_MAX];
    double mass_frac[KR_FORMULA_MAX];
} kr_formula;
int kr_formula_parse(const kr_atomic *at, const char *formula, kr_formula *out);

/* Oxide "SiO2", "FeO", "Fe2O3", "K2O" for cation z: n cations and m oxygens. 0 on success. */
int kr_oxide_parse(const kr_atomic *at, const char *oxide, int *z, int *cations, int *oxygens);

#endif
