/* Mass absorption coefficients. Heinrich 1986: K.F.J. Heinrich, Proc. ICXOM-11 (London, Ontario 1986)
 * p. 67; coefficients in calib/epma_heinrich86_mac.csv. xraylib: Schoonjans et al. 2011,
 * Spectrochim. Acta B 66, 776 (CS_Total). */
#include "mac.h"

#include "calib.h"
#include "error.h"
#include "matrix.h"
#include "text.h"

#include <math.h>
#include <string.h>
#include <xraylib/xraylib.h>

/* Row names of calib/epma_heinrich86_mac.csv, in the order of at->h86. */
enum {
    H_K_LOW_C, H_K_LOW_A, H_K_LOW_B, H_K_LOW_N, H_K_C, H_K_A, H_K_B, H_K_N, H_L_C, H_L_A, H_L_B, H_L_N,
    H_L_F12, H_L_F3, H_M1_N, H_M1_C_LO, H_M1_C_HI, H_M1_A, H_M1_B_LO, H_M1_B_HI, H_M_A, H_M_C, H_M_CMULT,
    H_M_B, H_M_N, H_M_F1, H_M_F2, H_M_F3, H_M_F4, H_MV_C, H_MV_A, H_MV_B, H_MV_N, H_N1_CUTOFF, H_N1_SCALE,
    H_HC, H_COUNT
};
static const char *const h86_names[H_COUNT] = {
    "k_low_C", "k_low_A", "k_low_B", "k_low_n", "k_C",    "k_A",    "k_B",     "k_n",     "l_C",
    "l_A",     "l_B",     "l_n",     "l_f12",   "l_f3",   "m1_n",   "m1_C_lo", "m1_C_hi", "m1_A",
    "m1_B_lo", "m1_B_hi", "m_A",     "m_C",     "m_Cmult", "m_B",   "m_n",     "m_f1",    "m_f2",
    "m_f3",    "m_f4",    "mv_C",    "mv_A",    "mv_B",    "mv_n",  "n1_cutoff", "n1_scale", "hc_ev_angstrom"};
_Static_assert(H_COUNT <= KR_H86_ROWS, "h86 table too small");

int kr_mac_h86_load(kr_atomic *at)
{
    kr_text t;
    int rc = kr_calib_text("epma_heinrich86_mac.csv", &t);
    if (rc) return rc;
    int seen[H_COUNT] = {0};
    kr_rows rows;
    kr_rows_init(&rows, &t, ',');
    int header = 0;
    int got;
    while ((got = kr_rows_next(&rows)) > 0) {
        char **f = rows.f;
        int nf = rows.nf;
        if (!header) {
            header = 1;
            continue;
        }
        int row = -1;
        for (int i = 0; i < H_COUNT && nf > 0; i++)
            if (strcmp(f[0], h86_names[i]) == 0) row = i;
        if (row < 0 || nf != 2 + KR_H86_COEF) {
            rc = kr_err_at(KR_EINPUT, t.path, rows.lineno, "expected a known row name and %d numbers",
                           1 + KR_H86_COEF);
            goto cleanup;
        }
        for (int j = 0; j <= KR_H86_COEF; j++)
            if (kr_parse_double(f[1 + j], &at->h86[row][j])) {
                rc = kr_err_at(KR_EINPUT, t.path, rows.lineno, "column %d is not a number: '%s'", j + 2, f[1 + j]);
                goto cleanup;
            }
        seen[row] = 1;
    }
    if (got < 0) {
        rc = KR_EINPUT;
        goto cleanup;
    }
    for (int i = 0; i < H_COUNT; i++)
        if (!seen[i]) {
            rc = kr_err_at(KR_EINPUT, t.path, 0, "row %s missing", h86_names[i]);
            goto cleanup;
        }
cleanup:
    kr_text_free(&t);
    return rc;
}

/* polynomial row in Z */
static double hp(const kr_atomic *at, int row, double z)
{
    const double *c = at->h86[row] + 1;
    double v = 0;
    for (int j = KR_H86_COEF - 1; j >= 0; j--) v = v * z + c[j];
    return v;
}

double kr_mac_heinrich86(const kr_atomic *at, int zi, double e_kev)
{
    /* Heinrich 1986 (ICXOM-11 p. 67), region-wise parameterisation; energies in eV */
    if (zi < 3 || zi > 95 || !(e_kev > 0)) return NAN;
    const double z = zi, e = e_kev * 1000.0;
    const double ek = kr_edge_kev(zi, K_SHELL) * 1000.0;
    const double en1 = kr_edge_kev(zi, N1_SHELL) * 1000.0;
    double c, a, b = 0, n;
    if (e > ek) {
        if (zi < 6) {
            c = hp(at, H_K_LOW_C, z); a = hp(at, H_K_LOW_A, z); b = hp(at, H_K_LOW_B, z); n = hp(at, H_K_LOW_N, z);
        } else {
            c = hp(at, H_K_C, z); a = hp(at, H_K_A, z); b = hp(at, H_K_B, z); n = hp(at, H_K_N, z);
        }
    } else {
        const double el3 = kr_edge_kev(zi, L3_SHELL) * 1000.0;
        const double em1 = kr_edge_kev(zi, M1_SHELL) * 1000.0;
        if (!isnan(el3) && e > el3) {
            c = hp(at, H_L_C, z); a = hp(at, H_L_A, z); b = hp(at, H_L_B, z); n = hp(at, H_L_N, z);
            const double el2 = kr_edge_kev(zi, L2_SHELL) * 1000.0, el1 = kr_edge_kev(zi, L1_SHELL) * 1000.0;
            if (e < el1 && e >= el2) c *= hp(at, H_L_F12, z);
            if (e < el2) c *= hp(at, H_L_F3, z);
        } else if (!isnan(em1) && e > em1) {
            n = hp(at, H_M1_N, z);
            c = z < at->h86[H_M1_C_LO][0] ? hp(at, H_M1_C_LO, z) : hp(at, H_M1_C_HI, z);
            a = hp(at, H_M1_A, z);
            b = z < at->h86[H_M1_B_LO][0] ? hp(at, H_M1_B_LO, z) : hp(at, H_M1_B_HI, z);
        } else {
            const double em5 = kr_edge_kev(zi, M5_SHELL) * 1000.0;
            if (!isnan(em5) && e >= em5) {
                const double em4 = kr_edge_kev(zi, M4_SHELL) * 1000.0;
                const double em3 = kr_edge_kev(zi, M3_SHELL) * 1000.0;
                const double em2 = kr_edge_kev(zi, M2_SHELL) * 1000.0;
                a = hp(at, H_M_A, z);
                c = hp(at, H_M_C, z) * hp(at, H_M_CMULT, z);
                b = hp(at, H_M_B, z) * em4;
                n = hp(at, H_M_N, z);
                if (e >= em2) c *= hp(at, H_M_F1, z);
                else if (e >= em3) c *= hp(at, H_M_F2, z);
                else if (e >= em4) c *= hp(at, H_M_F3, z);
                else c *= hp(at, H_M_F4, z);
            } else {
                c = hp(at, H_MV_C, z); a = hp(at, H_MV_A, z); b = hp(at, H_MV_B, z); n = hp(at, H_MV_N, z);
            }
        }
    }
    const double hc = at->h86[H_HC][1];
    const double aw = at->weight[zi];
    const double z4 = z * z * z * z;
    double mu;
    if (isnan(en1) || e > en1) {
        mu = c * pow(hc / e, n) * z4 / aw * (1.0 - exp((b - e) / a)); /* Heinrich 1986 eq. (main form) */
    } else {
        /* below the N1 edge: evaluated at the edge and scaled linearly towards the cutoff (Heinrich 1986 as
         * implemented by Myklebust) */
        mu = c * pow(hc / e, n) * z4 / aw * (1.0 - exp((b - en1) / a));
        const double cut = hp(at, H_N1_CUTOFF, z);
        if (e > cut) mu = hp(at, H_N1_SCALE, z) * mu * (e - cut) / (en1 - cut);
    }
    return mu;
}

double kr_mac_xraylib(int z, double e_kev)
{
    xrl_error *err = NULL;
    double v = CS_Total(z, e_kev, &err);
    if (err) {
        xrl_error_free(err);
        return NAN;
    }
    return v;
}

double kr_mac_cm2_g(const kr_atomic *at, kr_mac_source src, int z, double e_kev)
{
    if (src == KR_MAC_XRAYLIB) return kr_mac_xraylib(z, e_kev);
    /* Heinrich 1986 covers Z 3..95: H and He (OH, H2O in standards) take xraylib's value; their
     * absorption is negligible at EPMA energies */
    return z < 3 ? kr_mac_xraylib(z, e_kev) : kr_mac_heinrich86(at, z, e_kev);
}
