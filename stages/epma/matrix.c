/* EPMA matrix correction: setup, precomputed context, XPP / PAP / ZAF models, Reed fluorescence,
 * Wegstein iteration, forward model. See matrix.h and DOMAIN.md §2.3.
 *
 * References:
 *  [PP91] J.L. Pouchou and F. Pichoir, "Quantitative analysis of homogeneous or stratified microvolumes
 *         applying the model PAP", in K.F.J. Heinrich and D.E. Newbury (eds), Electron Probe Quantitation,
 *         Plenum, New York 1991, p. 31-75 (XPP: the simplified model of its Appendix).
 *  [R65]  S.J.B. Reed, Br. J. Appl. Phys. 16 (1965) 913 (characteristic fluorescence).
 *  [DR68] P. Duncumb and S.J.B. Reed, NBS Spec. Publ. 298 (1968) 133 (atomic number correction).
 *  [PH]   J. Philibert (1963) in X-ray Optics and X-ray Microanalysis, p. 379; K.F.J. Heinrich (1969)
 *         NBS Tech. Note 521 (absorption correction f(chi), h = 1.2 A/Z^2).
 *  [W58]  J.H. Wegstein, Commun. ACM 1(6) (1958) 9 (accelerated fixed-point iteration).
 */
#include "matrix.h"

#include "error.h"
#include "mac.h"
#include "text.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xraylib/xraylib.h>

/* ---------- constant data per element and per measured line ---------- */

typedef struct {
    int z;
    double aw;        /* atomic weight */
    double z_a;       /* Z/A */
    double ln_j_kev;  /* ln of Zeller's mean ionisation potential (keV) */
    double j_dd_kev;  /* Duncumb-DeCasa mean ionisation potential (keV), classic ZAF */
    double sqrt_z, ln_z;
    double h_phil;    /* 1.2 A/Z^2 */
    double ox_o;      /* oxygen mass per unit mass of this element: n_O A_O/(n_cat A) (0 if none) */
    double ox_mult;   /* oxide mass per unit element mass: (n_cat A + n_O A_O)/(n_cat A) (NaN if none) */
} elem_c;

/* A set of elements (the unknown's or a standard's). */
typedef struct {
    int n;
    elem_c el[KR_EPMA_MAX_EL];
} sys_c;

/* One fluorescence source: a line of element j (index in the sys) exciting the measured line's shell. */
typedef struct {
    int j;
    int src;        /* source line id j * N_SRC_LINES + line index (shared by all measured lines) */
    double konst;   /* 0.5 P (absorbed fraction in A's shell) omega_B f_line (A_A/A_B) ((U_B-1)/(U_A-1))^1.67 */
    double mu_in_a; /* mu/rho of the B line in pure A (cm2/g) */
    double mu[KR_EPMA_MAX_EL]; /* mu/rho of the B line in each element of the sys */
} fl_term;

typedef struct {
    int z;
    kr_line_data ld;
    kr_shell_family fam;
    double e0_kev, u0, ln_u0, ln_e0, ln_ec, csc;
    double m_exp;          /* ionisation cross-section exponent m [PP91] */
    double qla;            /* ln U0 / (Ec^2 U0^m) [PP91] */
    double s_fix[2];       /* (E0/U0)^P_k [(T_k U0^T_k ln U0 - U0^T_k + 1)/T_k^2] for k = 1, 2 (P fixed) */
    double u0_m042;        /* U0^-0.42 */
    double inv_csc_sig;    /* 1/sigma_lenard */
    double pap_e_fix[2];   /* PAP: (E0^(1+P_k) - Ec^(1+P_k))/(1+P_k) for k = 1, 2 */
    double pap_g2;         /* PAP: G2 = 1 - exp(-(U0-1)^0.35/1.19) [PP91 eq. 26] */
    double sigma_lenard;   /* Heinrich 1967 Lenard coefficient for this line */
    double mac[KR_EPMA_MAX_EL]; /* mu/rho of this line in each element of the sys */
    double r_dr[KR_EPMA_MAX_EL];  /* Duncumb-Reed R of each element for this line (ZAF) */
    double ln_em_j[KR_EPMA_MAX_EL]; /* ln(1.166 Em / J_j) for the Thomas stopping power (ZAF) */
    int nfl;
    fl_term *fl;           /* owned */
    double pure_gen, pure_emit; /* model values for the pure element */
} line_c;

struct kr_epma_ctx {
    kr_epma_setup s;
    sys_c sys;
    int i_o, i_diff;
    line_c ln[KR_EPMA_MAX_EL];   /* for measured elements (index = element index) */
    int n_src;                   /* distinct fluorescence source lines in use */
    int src_id[KR_EPMA_MAX_EL * 4];
    const double *src_mu[KR_EPMA_MAX_EL * 4]; /* mu/rho per absorber of each source (points into a term) */
    double std_factor[KR_EPMA_MAX_EL];
};

/* Composition-dependent quantities shared by all lines. */
typedef struct {
    double m;        /* sum C Z/A */
    double ln_j, j;  /* mean ionisation potential (keV) */
    double zb;       /* (sum C sqrt Z)^2  [PP91 App.] */
    double zbar;     /* sum C Z (PAP) */
    double zbar_n;   /* exp(sum C ln Z) (PAP) */
    double eta, w, q;
    double d[3], p[3];
    double h_phil;
    double eta12;            /* eta^1.2 */
    double x_xpp, y_xpp, inv_ln1p_y, ln4zb; /* XPP Rbar and slope terms that depend on Zb only */
    double j_pow[3];         /* J^-P_k (P_3 depends on J) */
    /* PAP only */
    double pap_q0, pap_zb045, pap_g1, pap_zb04, pap_j1p[3];
} comp_c;

/* ---------- parsing helpers ---------- */

int kr_epma_model_parse(const char *s, kr_epma_model *out)
{
    if (!s) return -1;
    if (kr_streq_ci(s, "xpp")) *out = KR_EPMA_XPP;
    else if (kr_streq_ci(s, "pap")) *out = KR_EPMA_PAP;
    else if (kr_streq_ci(s, "zaf")) *out = KR_EPMA_ZAF;
    else return -1;
    return 0;
}

const char *kr_epma_model_name(kr_epma_model m)
{
    return m == KR_EPMA_PAP ? "pap" : m == KR_EPMA_ZAF ? "zaf" : "xpp";
}

int kr_mac_source_parse(const char *s, kr_mac_source *out)
{
    if (!s) return -1;
    if (kr_streq_ci(s, "heinrich86")) *out = KR_MAC_HEINRICH86;
    else if (kr_streq_ci(s, "xraylib")) *out = KR_MAC_XRAYLIB;
    else return -1;
    return 0;
}

/* ---------- setup ---------- */

void kr_epma_setup_init(kr_epma_setup *s)
{
    memset(s, 0, sizeof *s);
    s->model = KR_EPMA_XPP;
    s->mac = KR_MAC_HEINRICH86;
    s->fluorescence = 1;
    s->max_iter = 100;
    s->tol_rel = 1e-6;
}

int kr_epma_setup_add(kr_epma_setup *s, const kr_atomic *at, const char *symbol, kr_epma_role role,
                      kr_xray_line line, double kv, double takeoff_deg, const char *standard)
{
    int z = kr_atomic_z(at, symbol);
    if (!z) return -kr_err(KR_EINPUT, "unknown element symbol '%s'", symbol ? symbol : "");
    if (s->n >= KR_EPMA_MAX_EL)
        return -kr_err(KR_EINPUT, "too many elements in one analysis (max %d)", KR_EPMA_MAX_EL);
    for (int i = 0; i < s->n; i++)
        if (s->el[i].z == z) return -kr_err(KR_EINPUT, "element %s listed twice", symbol);
    kr_epma_elem *e = &s->el[s->n];
    memset(e, 0, sizeof *e);
    e->z = z;
    e->role = role;
    e->line = line;
    e->kv = kv;
    e->takeoff_deg = takeoff_deg;
    if (standard) snprintf(e->standard, sizeof e->standard, "%s", standard);
    e->ox_cations = at->ox_cations[z];
    e->ox_oxygens = at->ox_oxygens[z];
    return s->n++;
}

int kr_epma_setup_set_oxide(kr_epma_setup *s, const kr_atomic *at, int i, const char *oxide)
{
    if (i < 0 || i >= s->n) return kr_err(KR_EINPUT, "no element %d in the setup", i);
    int z, nc, no;
    int rc = kr_oxide_parse(at, oxide, &z, &nc, &no);
    if (rc) return rc;
    if (z != s->el[i].z)
        return kr_err(KR_EINPUT, "oxide %s does not belong to element %s", oxide, kr_atomic_symbol(at, s->el[i].z));
    s->el[i].ox_cations = nc;
    s->el[i].ox_oxygens = no;
    return KR_OK;
}

int kr_epma_setup_add_mac(kr_epma_setup *s, int emitter_z, kr_xray_line line, int absorber_z, double mac_cm2_g)
{
    if (s->n_mac_override >= KR_EPMA_MAX_MAC_OVR)
        return kr_err(KR_EINPUT, "too many MAC overrides (max %d)", KR_EPMA_MAX_MAC_OVR);
    if (!(mac_cm2_g > 0) || !isfinite(mac_cm2_g))
        return kr_err(KR_EINPUT, "MAC override must be a positive number, got %g", mac_cm2_g);
    kr_mac_override *o = &s->mac_override[s->n_mac_override++];
    o->emitter_z = emitter_z;
    o->line = line;
    o->absorber_z = absorber_z;
    o->mac_cm2_g = mac_cm2_g;
    return KR_OK;
}

/* ---------- element and line constants ---------- */

static void elem_init(const kr_atomic *at, int z, int ox_c, int ox_o, elem_c *e)
{
    const double zd = z;
    e->z = z;
    e->aw = at->weight[z];
    e->z_a = zd / e->aw;
    /* Zeller (in Ruste & Gantois 1975, J. Phys. D 8, 872): J = Z (10.04 + 8.25 exp(-Z/11.22)) eV [PP91] */
    e->ln_j_kev = log(zd * (10.04 + 8.25 * exp(-zd / 11.22)) * 1e-3);
    /* Duncumb, Shields-Mason & DeCasa 1969 (ICXOM-5 p.146): J/Z = 14(1-e^-0.1Z) + 75.5/Z^(Z/7.5) - Z/(100+Z) eV */
    e->j_dd_kev = zd * (14.0 * (1.0 - exp(-0.1 * zd)) + 75.5 / pow(zd, zd / 7.5) - zd / (100.0 + zd)) * 1e-3;
    e->sqrt_z = sqrt(zd);
    e->ln_z = log(zd);
    e->h_phil = at->philibert_h * e->aw / (zd * zd); /* Heinrich 1969: h = 1.2 A/Z^2 */
    const double ao = at->weight[8];
    if (ox_c > 0 && z != 8) {
        e->ox_o = ox_o * ao / (ox_c * e->aw);                      /* DOMAIN §2.3: n_O A_O/(n_cat A_i) */
        e->ox_mult = (ox_c * e->aw + ox_o * ao) / (ox_c * e->aw); /* DOMAIN §2.3 oxide wt% factor */
    } else {
        e->ox_o = 0;
        e->ox_mult = NAN;
    }
}

static double mac_get(const kr_atomic *at, const kr_epma_setup *s, int emitter_z, int line, double e_kev,
                      int absorber_z)
{
    for (int k = 0; k < s->n_mac_override; k++) {
        const kr_mac_override *o = &s->mac_override[k];
        if (o->emitter_z == emitter_z && (int)o->line == line && o->absorber_z == absorber_z) return o->mac_cm2_g;
    }
    return kr_mac_cm2_g(at, s->mac, absorber_z, e_kev);
}

/* Jump-ratio absorbed fraction of a photon of energy e_kev that leaves a vacancy in `shell` of element
 * z, including L-subshell Coster-Kronig transfers (edges from xraylib, jump ratios r: (r-1)/r per
 * edge, Reed 1965 / Heinrich 1981 Electron Beam X-ray Microanalysis ch. 12). */
static double shell_vacancy_fraction(int z, int shell, double e_kev)
{
    static const int order[] = {K_SHELL, L1_SHELL, L2_SHELL, L3_SHELL, M1_SHELL, M2_SHELL, M3_SHELL, M4_SHELL, M5_SHELL};
    double p[M5_SHELL + 1] = {0};
    double rem = 1.0;
    for (size_t k = 0; k < sizeof order / sizeof order[0]; k++) {
        const int sh = order[k];
        const double ee = kr_edge_kev(z, sh);
        if (isnan(ee) || e_kev <= ee) continue;
        xrl_error *err = NULL;
        double r = JumpFactor(z, sh, &err);
        if (err) {
            xrl_error_free(err);
            continue;
        }
        if (!(r > 1)) continue;
        p[sh] = rem * (1.0 - 1.0 / r);
        rem /= r;
    }
    if (shell == L2_SHELL || shell == L3_SHELL) {
        xrl_error *err = NULL;
        double f12 = CosKronTransProb(z, FL12_TRANS, &err);
        if (err) { xrl_error_free(err); err = NULL; f12 = 0; }
        double f13 = CosKronTransProb(z, FL13_TRANS, &err);
        if (err) { xrl_error_free(err); err = NULL; f13 = 0; }
        double f23 = CosKronTransProb(z, FL23_TRANS, &err);
        if (err) { xrl_error_free(err); f23 = 0; }
        if (shell == L2_SHELL) return p[L2_SHELL] + p[L1_SHELL] * f12;
        return p[L3_SHELL] + p[L2_SHELL] * f23 + p[L1_SHELL] * (f13 + f12 * f23);
    }
    return p[shell];
}

/* Lines of an element that can act as fluorescence sources. */
static const kr_xray_line fl_src_lines[] = {KR_LINE_KA, KR_LINE_KB, KR_LINE_LA, KR_LINE_LB};
enum { N_SRC_LINES = sizeof fl_src_lines / sizeof fl_src_lines[0] };
_Static_assert(N_SRC_LINES == 4, "kr_epma_work.mu_src is sized for 4 source lines per element");

/* Build the fluorescence terms of line `ln` (element A) in the element set `sys`. */
static int fl_build(const kr_atomic *at, const kr_epma_setup *s, const sys_c *sys, line_c *ln)
{
    const int nmax = sys->n * (int)(sizeof fl_src_lines / sizeof fl_src_lines[0]);
    ln->fl = calloc((size_t)(nmax > 0 ? nmax : 1), sizeof *ln->fl);
    if (!ln->fl) return kr_err(KR_ENOMEM, "out of memory");
    ln->nfl = 0;
    const double ec_a = ln->ld.edge_kev;
    const double aw_a = at->weight[ln->z];
    for (int j = 0; j < sys->n; j++) {
        const int zb = sys->el[j].z;
        if (zb == ln->z) continue;
        for (size_t L = 0; L < sizeof fl_src_lines / sizeof fl_src_lines[0]; L++) {
            kr_line_data bd;
            if (kr_line_data_probe(zb, fl_src_lines[L], &bd)) continue; /* B has no such line: not a source */
            if (!(bd.line_kev > ec_a) || !(bd.edge_kev < ln->e0_kev)) continue;
            const kr_shell_family fb = kr_xray_line_family(fl_src_lines[L]);
            double P;
            if (ln->fam == fb) P = 1.0;
            else if (ln->fam == KR_FAMILY_K && fb == KR_FAMILY_L) P = at->reed_p_k_by_l;
            else if (ln->fam == KR_FAMILY_L && fb == KR_FAMILY_K) P = at->reed_p_l_by_k;
            else P = at->reed_p_m_by_kl;
            const double vac = shell_vacancy_fraction(ln->z, ln->ld.shell, bd.line_kev);
            if (!(vac > 0)) continue;
            const double ub = ln->e0_kev / bd.edge_kev, ua = ln->u0;
            fl_term *t = &ln->fl[ln->nfl];
            t->j = j;
            t->src = j * N_SRC_LINES + (int)L;
            /* Reed 1965 eq. (characteristic fluorescence): 0.5 P C_B (r_A-1)/r_A omega_B (A_A/A_B)
             * (mu_B^A/mu_B) ((U_B-1)/(U_A-1))^1.67 [ln(1+u)/u + ln(1+v)/v]; here the line's share of the
             * B shell's radiative decays (f_line) is included so Ka and Kb act separately */
            t->konst = 0.5 * P * vac * bd.omega * bd.line_fraction * (aw_a / sys->el[j].aw) *
                       pow((ub - 1.0) / (ua - 1.0), at->reed_depth_exp);
            t->mu_in_a = mac_get(at, s, zb, fl_src_lines[L], bd.line_kev, ln->z);
            for (int k = 0; k < sys->n; k++) t->mu[k] = mac_get(at, s, zb, fl_src_lines[L], bd.line_kev, sys->el[k].z);
            int bad = !(t->mu_in_a > 0);
            for (int k = 0; k < sys->n; k++) bad |= !(t->mu[k] > 0);
            if (bad)
                return kr_err(KR_EINPUT, "no mass absorption coefficient for the %s line of %s (%.3f keV)",
                              kr_xray_line_name(fl_src_lines[L]), kr_atomic_symbol(at, zb), bd.line_kev);
            ln->nfl++;
        }
    }
    return KR_OK;
}

static int line_init(const kr_atomic *at, const kr_epma_setup *s, const sys_c *sys, int z, kr_xray_line line,
                     double kv, double takeoff_deg, line_c *ln)
{
    memset(ln, 0, sizeof *ln);
    ln->z = z;
    int rc = kr_line_data_get(z, line, &ln->ld);
    if (rc) return rc;
    ln->fam = kr_xray_line_family(line);
    if (!(kv > 0) || !isfinite(kv)) return kr_err(KR_EINPUT, "beam energy must be > 0 kV, got %g", kv);
    if (!(takeoff_deg > 0 && takeoff_deg < 90))
        return kr_err(KR_EINPUT, "take-off angle must be in (0, 90) degrees, got %g", takeoff_deg);
    ln->e0_kev = kv;
    ln->u0 = kv / ln->ld.edge_kev;
    if (!(ln->u0 > 1.0))
        return kr_err(KR_EINPUT, "%s %s: beam energy %g kV is not above the %.3f keV edge (overvoltage %.3f)",
                      kr_atomic_symbol(at, z), kr_xray_line_name(line), kv, ln->ld.edge_kev, ln->u0);
    ln->ln_u0 = log(ln->u0);
    ln->ln_e0 = log(kv);
    ln->ln_ec = log(ln->ld.edge_kev);
    ln->csc = 1.0 / sin(takeoff_deg * M_PI / 180.0);
    /* ionisation cross-section exponent m [PP91 eq. for Q(U) = ln U / (U^m Ec^2)] */
    const double zd = z;
    ln->m_exp = ln->fam == KR_FAMILY_K ? 0.86 + 0.12 * exp(-zd * zd / 25.0) : ln->fam == KR_FAMILY_L ? 0.82 : 0.78;
    ln->qla = ln->ln_u0 / (ln->ld.edge_kev * ln->ld.edge_kev * exp(ln->m_exp * ln->ln_u0));
    {
        static const double p_fix[2] = {0.78, 0.1}; /* [PP91 eq. 6] P1, P2 */
        for (int k = 0; k < 2; k++) {
            const double tk = 1.0 + p_fix[k] - ln->m_exp;
            const double u_t = exp(tk * ln->ln_u0);
            ln->s_fix[k] = exp(p_fix[k] * (ln->ln_e0 - ln->ln_u0)) * ((tk * ln->ln_u0 - 1.0) * u_t + 1.0) / (tk * tk);
        }
        ln->u0_m042 = exp(-0.42 * ln->ln_u0);
        for (int k = 0; k < 2; k++)
            ln->pap_e_fix[k] = (pow(kv, 1.0 + p_fix[k]) - pow(ln->ld.edge_kev, 1.0 + p_fix[k])) / (1.0 + p_fix[k]);
        ln->pap_g2 = 1.0 - exp(-pow(ln->u0 - 1.0, 0.35) / 1.19);
    }
    /* Heinrich 1967 Lenard coefficient sigma = 4.5e5/(E0^1.65 - Ec^1.65) */
    ln->sigma_lenard = at->lenard_const / (pow(kv, at->lenard_exp) - pow(ln->ld.edge_kev, at->lenard_exp));
    ln->inv_csc_sig = 1.0 / ln->sigma_lenard;
    const double w = 1.0 / ln->u0;
    const double em = 0.5 * (kv + ln->ld.edge_kev);
    for (int k = 0; k < sys->n; k++) {
        ln->mac[k] = mac_get(at, s, z, line, ln->ld.line_kev, sys->el[k].z);
        if (!(ln->mac[k] > 0))
            return kr_err(KR_EINPUT, "no mass absorption coefficient for %s %s (%.3f keV) in %s",
                          kr_atomic_symbol(at, z), kr_xray_line_name(line), ln->ld.line_kev,
                          kr_atomic_symbol(at, sys->el[k].z));
        /* Duncumb & Reed 1968 backscatter factor polynomial in Z and W = Ec/E0 */
        double r = 1.0, zp = 1.0;
        for (int p = 0; p < 5; p++) {
            zp *= sys->el[k].z;
            double c = 0, wq = 1.0;
            for (int q = 0; q < 6; q++) {
                c += at->duncumb_reed[p][q] * wq;
                wq *= w;
            }
            r += c * zp;
        }
        ln->r_dr[k] = r;
        /* Thomas 1963 / Bethe stopping power with Em = (E0+Ec)/2: ln(1.166 Em/J) [DR68] */
        ln->ln_em_j[k] = log(1.166 * em / sys->el[k].j_dd_kev);
    }
    if (s->fluorescence) return fl_build(at, s, sys, ln);
    return KR_OK;
}

/* ---------- the models ---------- */

static void comp_fill(const sys_c *sys, const double *c, kr_epma_model model, comp_c *cc)
{
    double m = 0, lnj = 0, sz = 0, zbar = 0, lnz = 0, h = 0;
    for (int k = 0; k < sys->n; k++) {
        const elem_c *e = &sys->el[k];
        const double ck = c[k];
        if (ck <= 0) continue;
        m += ck * e->z_a;
        lnj += ck * e->z_a * e->ln_j_kev;
        sz += ck * e->sqrt_z;
        zbar += ck * e->z;
        lnz += ck * e->ln_z;
        h += ck * e->h_phil;
    }
    cc->m = m;
    cc->ln_j = lnj / m; /* [PP91] ln J = sum (C Z/A) ln J_i / M */
    cc->j = exp(cc->ln_j);
    cc->zb = sz * sz; /* [PP91 App.] Zb = (sum C sqrt Z)^2 */
    cc->zbar = zbar;
    cc->zbar_n = exp(lnz);
    cc->h_phil = h;
    const double zb = cc->zb;
    /* [PP91 App.] eta = 1.75e-3 Zb + 0.37 (1 - exp(-0.015 Zb^1.3)) */
    cc->eta = 1.75e-3 * zb + 0.37 * (1.0 - exp(-0.015 * pow(zb, 1.3)));
    /* [PP91 App.] W = 0.595 + eta/3.7 + eta^4.55; q = (2W - 1)/(1 - W) */
    cc->w = 0.595 + cc->eta / 3.7 + pow(cc->eta, 4.55);
    cc->q = (2.0 * cc->w - 1.0) / (1.0 - cc->w);
    /* [PP91 eq. 5-6] deceleration: D1 = 6.6e-6, D2 = 1.12e-5 (1.35 - 0.45 J^2), D3 = 2.2e-6/J;
     * P1 = 0.78, P2 = 0.1, P3 = -(0.5 - 0.25 J), J in keV */
    const double j = cc->j;
    cc->d[0] = 6.6e-6;
    cc->d[1] = 1.12e-5 * (1.35 - 0.45 * j * j);
    cc->d[2] = 2.2e-6 / j;
    cc->p[0] = 0.78;
    cc->p[1] = 0.1;
    cc->p[2] = -(0.5 - 0.25 * j);
    cc->eta12 = pow(cc->eta, 1.2);
    cc->x_xpp = 1.0 + 1.3 * log(zb);  /* [PP91 App.] X = 1 + 1.3 ln Zb */
    cc->y_xpp = 0.2 + zb / 200.0;     /* [PP91 App.] Y = 0.2 + Zb/200 */
    cc->inv_ln1p_y = 1.0 / log(1.0 + cc->y_xpp);
    cc->ln4zb = log(4.0 * zb);
    for (int k = 0; k < 3; k++) cc->j_pow[k] = exp(-cc->p[k] * cc->ln_j);
    if (model == KR_EPMA_PAP) {
        const double zn = cc->zbar_n;
        /* [PP91 eq. 24] q0 = 1 - 0.535 exp(-(21/Zn)^1.2) - 2.5e-4 (Zn/20)^3.5 */
        cc->pap_q0 = 1.0 - 0.535 * exp(-pow(21.0 / zn, 1.2)) - 2.5e-4 * pow(zn / 20.0, 3.5);
        cc->pap_zb045 = pow(cc->zbar, 0.45);
        cc->pap_g1 = 0.11 + 0.41 * exp(-pow(cc->zbar / 12.75, 0.75)); /* [PP91 eq. 26] G1 */
        cc->pap_zb04 = pow(cc->zbar, 0.4);
        for (int k = 0; k < 3; k++) cc->pap_j1p[k] = exp((1.0 - cc->p[k]) * cc->ln_j); /* J^(1-P_k) */
    }
}

/* Area F of the phi(rho z) curve = R (1/S) / Q [PP91 eq. 13 as R/S divided by Q(E0)] */
static double pp_area(const line_c *ln, const comp_c *cc)
{
    const double u0 = ln->u0, lnu0 = ln->ln_u0;
    /* 1/S = U0/(V0 M) sum_k D_k (V0/U0)^P_k [(T_k U0^T_k ln U0 - U0^T_k + 1)/T_k^2], T_k = 1 + P_k - m,
     * V0 = E0/J [PP91 eq. 8] */
    /* k = 1, 2: (V0/U0)^P_k = (E0/U0)^P_k J^-P_k with the line part precomputed */
    double s = cc->d[0] * ln->s_fix[0] * cc->j_pow[0] + cc->d[1] * ln->s_fix[1] * cc->j_pow[1];
    {
        const double tk = 1.0 + cc->p[2] - ln->m_exp;
        const double u_t = exp(tk * lnu0);
        s += cc->d[2] * exp(cc->p[2] * (ln->ln_e0 - lnu0)) * cc->j_pow[2] * ((tk * lnu0 - 1.0) * u_t + 1.0) / (tk * tk);
    }
    const double inv_s = s * u0 * cc->j / (ln->e0_kev * cc->m);
    /* backscatter factor R = 1 - eta W (1 - G(U0)), G = (U0 - 1 - (1 - U0^-(1+q))/(1+q))/((2+q) J(U0)),
     * J(U0) = 1 + U0 (ln U0 - 1) [PP91 App. eq. for R] */
    const double q = cc->q;
    const double ju = 1.0 + u0 * (lnu0 - 1.0);
    const double g = (u0 - 1.0 - (1.0 - exp(-(1.0 + q) * lnu0)) / (1.0 + q)) / ((2.0 + q) * ju);
    const double r = 1.0 - cc->eta * cc->w * (1.0 - g);
    return r * inv_s / ln->qla;
}

/* surface ionisation phi(0) = 1 + 3.3 (1 - U0^-(2 - 2.3 eta)) eta^1.2 [PP91 eq. 28] */
static double pp_phi0(const line_c *ln, const comp_c *cc)
{
    return 1.0 + 3.3 * (1.0 - exp(-(2.0 - 2.3 * cc->eta) * ln->ln_u0)) * cc->eta12;
}

/* XPP: generated area and emitted intensity F(chi) per unit mass fraction. */
static void xpp_eval(const line_c *ln, const comp_c *cc, double chi, double *gen, double *emit)
{
    const double F = pp_area(ln, cc);
    const double phi0 = pp_phi0(ln, cc);
    const double zb = cc->zb, u0 = ln->u0;
    /* mean depth of ionisation Rbar = F / (1 + X ln(1 + Y (1 - U0^-0.42)) / ln(1 + Y)),
     * X = 1 + 1.3 ln Zb, Y = 0.2 + Zb/200 [PP91 App., XPP] */
    double rbar = F / (1.0 + cc->x_xpp * log(1.0 + cc->y_xpp * (1.0 - ln->u0_m042)) * cc->inv_ln1p_y);
    if (F / rbar < phi0) rbar = F / phi0; /* [PP91 App.] condition F/Rbar >= phi0 */
    /* initial slope P = g h^4 F / Rbar^2, g = 0.22 ln(4 Zb)(1 - 2 exp(-Zb (U0-1)/15)),
     * h = 1 - 10 (1 - 1/(1 + U0/10))/Zb^2, limited to 0.9 b Rbar^2 (b - 2 phi0/F) [PP91 App.] */
    const double g = 0.22 * cc->ln4zb * (1.0 - 2.0 * exp(-zb * (u0 - 1.0) / 15.0));
    const double h = 1.0 - 10.0 * (1.0 - 1.0 / (1.0 + u0 / 10.0)) / (zb * zb);
    const double b = M_SQRT2 * (1.0 + sqrt(1.0 - rbar * phi0 / F)) / rbar; /* [PP91 App.] */
    double gh4 = g * h * h * h * h;
    const double lim = 0.9 * b * rbar * rbar * (b - 2.0 * phi0 / F);
    if (gh4 > lim) gh4 = lim;
    const double P = gh4 * F / (rbar * rbar);
    /* a = (P + b (2 phi0 - b F)) / (b F (2 - b Rbar) - phi0); eps = (a - b)/b [PP91 App.] */
    double a = (P + b * (2.0 * phi0 - b * F)) / (b * F * (2.0 - b * rbar) - phi0);
    double eps = (a - b) / b;
    if (fabs(eps) < 1e-6) { /* keep the closed forms finite */
        eps = eps < 0 ? -1e-6 : 1e-6;
        a = b * (1.0 + eps);
    }
    /* B = (b^2 F (1 + eps) - P - phi0 b (2 + eps))/eps; A = (B/b + phi0 - b F)(1 + eps)/eps [PP91 App.] */
    const double B = (b * b * F * (1.0 + eps) - P - phi0 * b * (2.0 + eps)) / eps;
    const double A = (B / b + phi0 - b * F) * (1.0 + eps) / eps;
    /* F(chi) = (phi0 + B/(b + chi) - A b eps/(b (1 + eps) + chi)) / (b + chi) [PP91 App.] */
    const double bc = b + chi;
    *gen = F;
    *emit = (phi0 + B / bc - A * b * eps / (b * (1.0 + eps) + chi)) / bc;
}

/* PAP: the two-parabola phi(rho z) [PP91 eqs. 19-33]. */
static void pap_eval(const line_c *ln, const comp_c *cc, double chi, double *gen, double *emit)
{
    const double F = pp_area(ln, cc);
    const double phi0 = pp_phi0(ln, cc);
    const double u0 = ln->u0, zbar = cc->zbar;
    /* path length from E0 down to Ec: R0 = (1/M) sum_k J^(1-P_k) D_k (E0^(1+P_k) - Ec^(1+P_k))/(1+P_k)
     * [PP91 eq. 9, integral of the deceleration law between Ec and E0]; k = 1, 2 precomputed per line */
    const double p3 = 1.0 + cc->p[2];
    double r0 = cc->pap_j1p[0] * cc->d[0] * ln->pap_e_fix[0] + cc->pap_j1p[1] * cc->d[1] * ln->pap_e_fix[1] +
                cc->pap_j1p[2] * cc->d[2] * (exp(p3 * ln->ln_e0) - exp(p3 * ln->ln_ec)) / p3;
    r0 /= cc->m;
    /* ionisation range Rx = q D R0, q = q0 + (1 - q0) exp(-(U0 - 1)/(40/Z)), D = 1 + 1/U0^(Z^0.45)
     * [PP91 eqs. 23-25] */
    const double q0 = cc->pap_q0;
    const double q = q0 + (1.0 - q0) * exp((1.0 - u0) * zbar / 40.0);
    const double D = 1.0 + exp(-cc->pap_zb045 * ln->ln_u0);
    const double rx = q * D * r0;
    /* peak depth Rm = G1 G2 G3 Rx, G3 = 1 - exp((0.5 - U0) Z^0.4/4) [PP91 eq. 26] */
    const double g3 = 1.0 - exp((0.5 - u0) * cc->pap_zb04 / 4.0);
    double rm = cc->pap_g1 * ln->pap_g2 * g3 * rx;
    /* junction depth Rc from the area condition [PP91 eqs. 29-31] */
    double rc = 0;
    const double dd = ((rx * phi0 - 3.0 * F) * (3.0 * F * (rm - rx) + rx * (3.0 * rm + rx) * phi0)) / (rx - rm);
    if (dd > 0.0) rc = -0.5 * (rx * phi0 - 3.0 * F + sqrt(dd)) / phi0;
    if (!(dd > 0.0) || !(rc > rm && rc < rx)) { /* [PP91 eq. 32]: Rm moved so that the curve fits the area */
        rm = rx * (F - phi0 * rx / 3.0) / (F + phi0 * rx);
        rc = 3.0 * rm * (F + phi0 * rx) / (2.0 * phi0 * rx);
    }
    const double a1 = phi0 / (rm * (rc + rx) - rx * rc); /* [PP91 eq. 33] */
    const double a2 = a1 * (rc - rm) / (rc - rx);
    /* F(chi) of the two parabolas [PP91 eq. 34, as corrected in NIST EPQ PAP1991] */
    const double c2 = chi * chi;
    const double erc = exp(-chi * rc);
    const double f1 = (a1 / chi) * ((((rc - rm) * (rx - rc - 2.0 / chi) - 2.0 / c2) * erc - (rc - rm) * rx) +
                                    rm * (rc - 2.0 / chi) + 2.0 / c2);
    const double f2 = (a2 / chi) * (((rx - rc) * (rx - rc - 2.0 / chi) + 2.0 / c2) * erc - (2.0 / c2) * exp(-chi * rx));
    *gen = F;
    *emit = f1 + f2;
}

/* Classic ZAF: generated R/S (Duncumb & Reed 1968) and Philibert-Heinrich f(chi). */
static void zaf_eval(const line_c *ln, const sys_c *sys, const double *c, const comp_c *cc, double chi, double *gen,
                     double *emit)
{
    double r = 0, s = 0;
    for (int k = 0; k < sys->n; k++) {
        if (c[k] <= 0) continue;
        r += c[k] * ln->r_dr[k];                           /* [DR68] R = sum C_i R_i */
        s += c[k] * sys->el[k].z_a * ln->ln_em_j[k];       /* [DR68] S ~ sum C_i Z_i/A_i ln(1.166 Em/J_i) */
    }
    const double sig = ln->sigma_lenard, h = cc->h_phil;
    const double x = 1.0 + chi / sig;
    /* [PH] f(chi) = (1 + h) / ((1 + chi/sigma)(1 + h (1 + chi/sigma))) */
    *gen = r / s;
    *emit = *gen * (1.0 + h) / (x * (1.0 + h * x));
}

/* ln(1+x) for x > 0 (log is cheaper than log1p; the series covers small x where 1+x loses digits) */
static inline double ln1p_fast(double x)
{
    if (x < 1e-3) return x * (1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x)));
    return log(1.0 + x);
}

/* Reed 1965 fluorescence ratio I_f/I_p for line ln in composition c (normalised), mu_a = mu/rho of
 * the measured line in the matrix. */
static double fl_eval(const line_c *ln, const double *c, const double *inv_mu_src, double mu_a)
{
    double sum = 0;
    const double mu_a_csc = mu_a * ln->csc, inv_mu_a_csc = 1.0 / mu_a_csc;
    for (int t = 0; t < ln->nfl; t++) {
        const fl_term *ft = &ln->fl[t];
        const double cb = c[ft->j];
        if (cb <= 0) continue;
        const double inv_mu_b = inv_mu_src[ft->src];
        /* [R65] u = mu_A cosec psi / mu_B, v = sigma / mu_B */
        const double u = mu_a_csc * inv_mu_b, v = ln->sigma_lenard * inv_mu_b;
        /* (mu_B^A/mu_B)(ln(1+u)/u + ln(1+v)/v) = mu_B^A (ln(1+u)/(mu_A cosec psi) + ln(1+v)/sigma) */
        sum += cb * ft->konst * ft->mu_in_a * (ln1p_fast(u) * inv_mu_a_csc + ln1p_fast(v) * ln->inv_csc_sig);
    }
    return sum;
}

/* Emitted intensity per unit mass fraction (with fluorescence) and the Z/A/F parts, for line ln in
 * composition c (normalised; elements of sys). */
/* mu/rho in the matrix of the fluorescence sources of one line (slow path: standards). */
static void fl_src_fill(const line_c *ln, const sys_c *sys, const double *c, double *mu_src)
{
    for (int t = 0; t < ln->nfl; t++) {
        double mu = 0;
        for (int k = 0; k < sys->n; k++) mu += c[k] * ln->fl[t].mu[k];
        mu_src[ln->fl[t].src] = 1.0 / mu;
    }
}

static void line_eval(kr_epma_model model, const double *mu_src, const line_c *ln, const sys_c *sys,
                      const double *c, const comp_c *cc, double *gen, double *emit, double *fl)
{
    double mu = 0;
    for (int k = 0; k < sys->n; k++) mu += c[k] * ln->mac[k];
    const double chi = mu * ln->csc; /* chi = (mu/rho) cosec psi */
    if (model == KR_EPMA_PAP) pap_eval(ln, cc, chi, gen, emit);
    else if (model == KR_EPMA_ZAF) zaf_eval(ln, sys, c, cc, chi, gen, emit);
    else xpp_eval(ln, cc, chi, gen, emit);
    *fl = mu_src ? fl_eval(ln, c, mu_src, mu) : 0.0;
}

/* Model values of the pure element of line `ln` (built against sys_pure). */
static int pure_eval(const kr_atomic *at, const kr_epma_setup *s, int z, kr_xray_line line, double kv, double to,
                     double *gen, double *emit)
{
    sys_c sp;
    memset(&sp, 0, sizeof sp);
    sp.n = 1;
    elem_init(at, z, 0, 0, &sp.el[0]);
    line_c lp;
    kr_epma_setup s1 = *s;
    s1.fluorescence = 0;
    int rc = line_init(at, &s1, &sp, z, line, kv, to, &lp);
    if (rc) return rc;
    const double c1 = 1.0;
    comp_c cc;
    comp_fill(&sp, &c1, s->model, &cc);
    double fl;
    line_eval(s->model, NULL, &lp, &sp, &c1, &cc, gen, emit, &fl);
    free(lp.fl);
    if (!(*gen > 0) || !(*emit > 0) || !isfinite(*emit))
        return kr_err(KR_ENUMERIC, "%s %s at %g kV: the %s model gives no intensity for the pure element",
                      kr_atomic_symbol(at, z), kr_xray_line_name(line), kv, kr_epma_model_name(s->model));
    return KR_OK;
}

/* k of the standard against the pure element per unit ... : returns C_std * z a f of the standard. */
static int std_factor_eval(const kr_atomic *at, const kr_epma_setup *s, const kr_epma_elem *e, const line_c *ln,
                           double *out)
{
    if (!e->standard[0]) {
        *out = 1.0;
        return KR_OK;
    }
    kr_formula f;
    int rc = kr_formula_parse(at, e->standard, &f);
    if (rc) return rc;
    int ia = -1;
    for (int i = 0; i < f.n; i++)
        if (f.z[i] == e->z) ia = i;
    if (ia < 0)
        return kr_err(KR_EINPUT, "standard %s does not contain %s", e->standard, kr_atomic_symbol(at, e->z));
    if (f.n > KR_EPMA_MAX_EL) return kr_err(KR_EINPUT, "standard %s has too many elements", e->standard);
    sys_c ss;
    memset(&ss, 0, sizeof ss);
    ss.n = f.n;
    for (int i = 0; i < f.n; i++) elem_init(at, f.z[i], 0, 0, &ss.el[i]);
    line_c ls;
    rc = line_init(at, s, &ss, e->z, e->line, e->kv, e->takeoff_deg, &ls);
    if (rc) {
        free(ls.fl);
        return rc;
    }
    comp_c cc;
    comp_fill(&ss, f.mass_frac, s->model, &cc);
    double gen, emit, fl, mu_src[KR_EPMA_MAX_EL * N_SRC_LINES];
    fl_src_fill(&ls, &ss, f.mass_frac, mu_src);
    line_eval(s->model, s->fluorescence ? mu_src : NULL, &ls, &ss, f.mass_frac, &cc, &gen, &emit, &fl);
    free(ls.fl);
    *out = f.mass_frac[ia] * emit * (1.0 + fl) / ln->pure_emit;
    if (!(*out > 0) || !isfinite(*out))
        return kr_err(KR_ENUMERIC, "standard %s: no intensity computed for %s", e->standard, kr_atomic_symbol(at, e->z));
    return KR_OK;
}

void kr_epma_ctx_free(kr_epma_ctx *ctx)
{
    if (!ctx) return;
    for (int i = 0; i < ctx->s.n; i++) free(ctx->ln[i].fl);
    free(ctx);
}

int kr_epma_ctx_new(const kr_epma_setup *s, const kr_atomic *at, kr_epma_ctx **out)
{
    *out = NULL;
    int rc = KR_OK;
    kr_epma_ctx *ctx = calloc(1, sizeof *ctx);
    if (!ctx) return kr_err(KR_ENOMEM, "out of memory");
    ctx->s = *s;
    ctx->i_o = ctx->i_diff = -1;
    if (s->n < 1 || s->n > KR_EPMA_MAX_EL) {
        rc = kr_err(KR_EINPUT, "an analysis needs 1..%d elements, got %d", KR_EPMA_MAX_EL, s->n);
        goto cleanup;
    }
    if (!(s->tol_rel > 0) || s->max_iter < 2) {
        rc = kr_err(KR_EINPUT, "iteration tolerance must be > 0 and max_iter >= 2");
        goto cleanup;
    }
    ctx->sys.n = s->n;
    for (int i = 0; i < s->n; i++) {
        const kr_epma_elem *e = &s->el[i];
        if (e->z < 1 || e->z >= KR_Z_MAX || !(at->weight[e->z] > 0)) {
            rc = kr_err(KR_EINPUT, "element %d: no atomic weight for Z=%d", i, e->z);
            goto cleanup;
        }
        elem_init(at, e->z, e->ox_cations, e->ox_oxygens, &ctx->sys.el[i]);
        if (e->role == KR_EPMA_DIFFERENCE) {
            if (ctx->i_diff >= 0) {
                rc = kr_err(KR_EINPUT, "two elements by difference (%s and %s)", kr_atomic_symbol(at, s->el[ctx->i_diff].z),
                            kr_atomic_symbol(at, e->z));
                goto cleanup;
            }
            ctx->i_diff = i;
        } else if (e->role == KR_EPMA_STOICH_O) {
            if (e->z != 8) {
                rc = kr_err(KR_EINPUT, "only oxygen can be computed by stoichiometry, not %s", kr_atomic_symbol(at, e->z));
                goto cleanup;
            }
            ctx->i_o = i;
        } else if (e->role == KR_EPMA_FIXED) {
            if (!(e->fixed_mass_frac >= 0 && e->fixed_mass_frac <= 1)) {
                rc = kr_err(KR_EINPUT, "fixed mass fraction of %s must be in [0, 1], got %g", kr_atomic_symbol(at, e->z),
                            e->fixed_mass_frac);
                goto cleanup;
            }
        } else if (e->role != KR_EPMA_MEASURED) {
            rc = kr_err(KR_EINPUT, "element %s: unknown role %d", kr_atomic_symbol(at, e->z), (int)e->role);
            goto cleanup;
        }
    }
    if (ctx->i_o >= 0 && ctx->i_diff >= 0 && s->el[ctx->i_diff].z == 8) {
        rc = kr_err(KR_EINPUT, "oxygen cannot be both by stoichiometry and by difference");
        goto cleanup;
    }
    for (int i = 0; i < s->n; i++) {
        const kr_epma_elem *e = &s->el[i];
        if (e->role != KR_EPMA_MEASURED) continue;
        line_c *ln = &ctx->ln[i];
        rc = line_init(at, s, &ctx->sys, e->z, e->line, e->kv, e->takeoff_deg, ln);
        if (!rc) rc = pure_eval(at, s, e->z, e->line, e->kv, e->takeoff_deg, &ln->pure_gen, &ln->pure_emit);
        if (!rc) rc = std_factor_eval(at, s, e, ln, &ctx->std_factor[i]);
        if (rc) {
            rc = kr_err(rc, "element %s (%s, %g kV)", kr_atomic_symbol(at, e->z), kr_xray_line_name(e->line), e->kv);
            goto cleanup;
        }
    }
    for (int i = 0; i < s->n; i++) { /* distinct fluorescence sources */
        const line_c *ln = &ctx->ln[i];
        if (s->el[i].role != KR_EPMA_MEASURED) continue;
        for (int t = 0; t < ln->nfl; t++) {
            int seen = 0;
            for (int u = 0; u < ctx->n_src; u++) seen |= ctx->src_id[u] == ln->fl[t].src;
            if (seen) continue;
            ctx->src_id[ctx->n_src] = ln->fl[t].src;
            ctx->src_mu[ctx->n_src++] = ln->fl[t].mu;
        }
    }
    *out = ctx;
    return KR_OK;
cleanup:
    kr_epma_ctx_free(ctx);
    return rc;
}

int kr_epma_ctx_n(const kr_epma_ctx *ctx) { return ctx->s.n; }
const kr_epma_setup *kr_epma_ctx_setup(const kr_epma_ctx *ctx) { return &ctx->s; }

double kr_epma_ctx_std_factor(const kr_epma_ctx *ctx, int i)
{
    if (i < 0 || i >= ctx->s.n || ctx->s.el[i].role != KR_EPMA_MEASURED) return NAN;
    return ctx->std_factor[i];
}

double kr_epma_ctx_mac(const kr_epma_ctx *ctx, int i, int absorber_z)
{
    if (i < 0 || i >= ctx->s.n || ctx->s.el[i].role != KR_EPMA_MEASURED) return NAN;
    for (int k = 0; k < ctx->sys.n; k++)
        if (ctx->sys.el[k].z == absorber_z) return ctx->ln[i].mac[k];
    return NAN;
}

/* ---------- evaluation on a composition ---------- */

/* Fill w->zaf[i] (z, a, f) for every measured element at composition c. Pushes no message (the
 * iteration may recover): returns 1 if the composition sums to zero, 2 if a factor is not finite. */
static int eval_all(const kr_epma_ctx *ctx, const double *c, kr_epma_work *w)
{
    const sys_c *sys = &ctx->sys;
    double tot = 0;
    for (int k = 0; k < sys->n; k++) tot += c[k] > 0 ? c[k] : 0;
    if (!(tot > 0)) return 1;
    for (int k = 0; k < sys->n; k++) w->cn[k] = c[k] > 0 ? c[k] / tot : 0;
    comp_c cc;
    comp_fill(sys, w->cn, ctx->s.model, &cc);
    for (int t = 0; t < ctx->n_src; t++) { /* each source line's matrix mu once per evaluation */
        const double *m = ctx->src_mu[t];
        double mu = 0;
        for (int k = 0; k < sys->n; k++) mu += w->cn[k] * m[k];
        w->mu_src[ctx->src_id[t]] = 1.0 / mu;
    }
    for (int i = 0; i < sys->n; i++) {
        if (ctx->s.el[i].role != KR_EPMA_MEASURED) continue;
        const line_c *ln = &ctx->ln[i];
        double gen, emit, fl;
        line_eval(ctx->s.model, ctx->s.fluorescence ? w->mu_src : NULL, ln, sys, w->cn, &cc, &gen, &emit, &fl);
        const double z = gen / ln->pure_gen;
        const double a = (emit / gen) / (ln->pure_emit / ln->pure_gen);
        const double f = 1.0 + fl;
        if (!isfinite(z * a * f) || !(z * a * f > 0))
            return 2;
        w->zaf[i][0] = z;
        w->zaf[i][1] = a;
        w->zaf[i][2] = f;
    }
    return KR_OK;
}

/* Recompute O by stoichiometry and the difference element from the others (in place). */
static void fill_dependent(const kr_epma_ctx *ctx, double *c)
{
    const sys_c *sys = &ctx->sys;
    const int io = ctx->i_o, id = ctx->i_diff;
    double o = 0, rest = 0;
    for (int k = 0; k < sys->n; k++) {
        if (k == io || k == id) continue;
        const double ck = c[k] > 0 ? c[k] : 0;
        if (io >= 0) o += ck * sys->el[k].ox_o; /* DOMAIN §2.3: O = sum C_i n_O A_O/(n_cat A_i) */
        rest += c[k];
    }
    if (id >= 0) {
        /* d = 1 - rest - O(rest) - d f_d  =>  d = (1 - rest - O_rest)/(1 + f_d) */
        const double fd = io >= 0 ? sys->el[id].ox_o : 0;
        c[id] = (1.0 - rest - o) / (1.0 + fd);
        if (io >= 0) o += (c[id] > 0 ? c[id] : 0) * fd;
    }
    if (io >= 0) c[io] = o;
}

static void fill_result(const kr_epma_ctx *ctx, const double *c, const double *kp, const kr_epma_work *w,
                        int iters, kr_epma_result *out)
{
    const sys_c *sys = &ctx->sys;
    out->n = sys->n;
    out->total = 0;
    out->oxide_total = 0;
    out->iterations = iters;
    for (int k = 0; k < sys->n; k++) {
        out->mass_frac[k] = c[k];
        out->total += c[k];
        const int meas = ctx->s.el[k].role == KR_EPMA_MEASURED;
        out->k_pure[k] = meas && kp ? kp[k] : NAN;
        out->z[k] = meas ? w->zaf[k][0] : NAN;
        out->a[k] = meas ? w->zaf[k][1] : NAN;
        out->f[k] = meas ? w->zaf[k][2] : NAN;
        out->oxide_frac[k] = (k == ctx->i_o || isnan(sys->el[k].ox_mult)) ? NAN : c[k] * sys->el[k].ox_mult;
        if (k != ctx->i_o) out->oxide_total += isnan(out->oxide_frac[k]) ? c[k] : out->oxide_frac[k];
    }
    if (ctx->i_o < 0) out->oxide_total = out->total;
}

int kr_epma_forward(const kr_epma_ctx *ctx, const double *mass_frac, kr_epma_work *w, double *k_pure, double *k_std)
{
    int rc = eval_all(ctx, mass_frac, w);
    if (rc)
        return kr_err(KR_ENUMERIC, "forward model: %s", rc == 1 ? "composition sums to zero" : "matrix factors not finite");
    for (int i = 0; i < ctx->s.n; i++) {
        const int meas = ctx->s.el[i].role == KR_EPMA_MEASURED;
        const double kp = meas ? mass_frac[i] * w->zaf[i][0] * w->zaf[i][1] * w->zaf[i][2] : NAN;
        if (k_pure) k_pure[i] = kp;
        if (k_std) k_std[i] = meas ? kp / ctx->std_factor[i] : NAN;
    }
    return KR_OK;
}

/* One run of the fixed-point iteration; wegstein = 1 accelerates. Returns iterations used (> 0) on
 * convergence, 0 if not converged, negative status on a numeric failure. */
static int iterate(const kr_epma_ctx *ctx, const double *kp, const double *c0, int wegstein, kr_epma_work *w)
{
    const int n = ctx->s.n;
    const kr_epma_elem *el = ctx->s.el;
    memcpy(w->c, c0, sizeof(double) * (size_t)n);
    fill_dependent(ctx, w->c);
    for (int it = 1; it <= ctx->s.max_iter; it++) {
        int rc = eval_all(ctx, w->c, w);
        if (rc) return -rc;
        int done = 1;
        for (int i = 0; i < n; i++) {
            if (el[i].role != KR_EPMA_MEASURED) continue;
            const double x = w->c[i];
            const double g = kp[i] / (w->zaf[i][0] * w->zaf[i][1] * w->zaf[i][2]); /* C = k / (z a f) */
            double xn = g;
            if (wegstein && it > 1) {
                /* Wegstein 1958: slope s of g from the last two points, x' = q x + (1 - q) g, q = s/(s - 1) */
                const double dx = x - w->c_prev[i];
                if (fabs(dx) > 1e-15 * (fabs(x) + 1e-300)) {
                    const double s = (g - w->g_prev[i]) / dx;
                    /* accelerate only where simple iteration is slow or unstable (|s| large); with weak
                     * coupling the per-element secant slope is noise from the other elements */
                    if (fabs(s) > 0.5) {
                        double q = s / (s - 1.0);
                        if (!isfinite(q)) q = 0;
                        if (q > 0.98) q = 0.98;
                        if (q < -5.0) q = -5.0;
                        xn = q * x + (1.0 - q) * g;
                    }
                }
            }
            w->c_prev[i] = x;
            w->g_prev[i] = g;
            w->g[i] = g;
            if (!isfinite(xn)) return 0;
            const double scale = fabs(xn) > 1e-6 ? fabs(xn) : 1e-6;
            if (fabs(xn - x) > ctx->s.tol_rel * scale || fabs(g - x) > ctx->s.tol_rel * scale) done = 0;
            w->c[i] = xn;
        }
        if (done) { /* report C = k/(z a f) with the factors just evaluated (within tol of the fixed point) */
            for (int i = 0; i < n; i++)
                if (el[i].role == KR_EPMA_MEASURED) w->c[i] = w->g[i];
        }
        fill_dependent(ctx, w->c);
        if (done) return it;
    }
    return 0;
}

/* One quasi-Newton run: C' = C + J (k - k_model(C)) with the given dC/dk (Dennis & Schnabel 1996, §8.1,
 * a fixed-Jacobian Newton iteration); same stopping rule as iterate(). Returns iterations used (> 0),
 * 0 if not converged within max_iter, negative status on a numeric failure. */
static int iterate_jac(const kr_epma_ctx *ctx, const double *kp, const double *c0, const double (*jac)[KR_EPMA_MAX_EL],
                       int max_iter, kr_epma_work *w)
{
    const int n = ctx->s.n;
    const kr_epma_elem *el = ctx->s.el;
    double r[KR_EPMA_MAX_EL];
    memcpy(w->c, c0, sizeof(double) * (size_t)n);
    fill_dependent(ctx, w->c);
    for (int it = 1; it <= max_iter; it++) {
        int rc = eval_all(ctx, w->c, w);
        if (rc) return -rc;
        for (int j = 0; j < n; j++) {
            if (el[j].role != KR_EPMA_MEASURED) continue;
            const double zaf = w->zaf[j][0] * w->zaf[j][1] * w->zaf[j][2];
            w->g[j] = kp[j] / zaf;                                  /* C = k / (z a f) */
            r[j] = (kp[j] - w->c[j] * zaf) / ctx->std_factor[j]; /* residual in k against the standard */
        }
        int done = 1;
        for (int i = 0; i < n; i++) {
            if (el[i].role != KR_EPMA_MEASURED) continue;
            double step = 0;
            for (int j = 0; j < n; j++)
                if (el[j].role == KR_EPMA_MEASURED) step += jac[i][j] * r[j];
            const double x = w->c[i], xn = x + step;
            if (!isfinite(xn)) return 0;
            const double scale = fabs(xn) > 1e-6 ? fabs(xn) : 1e-6;
            if (fabs(xn - x) > ctx->s.tol_rel * scale || fabs(w->g[i] - x) > ctx->s.tol_rel * scale) done = 0;
            w->c[i] = xn;
        }
        if (done) /* report C = k/(z a f) with the factors just evaluated, as kr_epma_solve does */
            for (int i = 0; i < n; i++)
                if (el[i].role == KR_EPMA_MEASURED) w->c[i] = w->g[i];
        fill_dependent(ctx, w->c);
        if (done) return it;
    }
    return 0;
}

/* Starting composition of a solve: measured from c_start (or k vs pure), fixed from the setup, 0 otherwise;
 * kp = k against the pure element. */
static int solve_start(const kr_epma_ctx *ctx, const double *k, const double *c_start, double *kp, double *c0)
{
    for (int i = 0; i < ctx->s.n; i++) {
        const kr_epma_elem *e = &ctx->s.el[i];
        kp[i] = NAN;
        if (e->role == KR_EPMA_MEASURED) {
            if (!isfinite(k[i]))
                return kr_err(KR_EINPUT, "k-ratio of element Z=%d is not a number", e->z);
            kp[i] = k[i] * ctx->std_factor[i]; /* k vs pure = k vs std * (std intensity / pure) */
            c0[i] = c_start && isfinite(c_start[i]) ? c_start[i] : kp[i];
        } else if (e->role == KR_EPMA_FIXED) {
            c0[i] = e->fixed_mass_frac;
        } else {
            c0[i] = 0;
        }
    }
    return KR_OK;
}

int kr_epma_first_order_total(const kr_epma_ctx *ctx, const double *k, double *total)
{
    double kp[KR_EPMA_MAX_EL], c0[KR_EPMA_MAX_EL];
    int rc = solve_start(ctx, k, NULL, kp, c0);
    if (rc) return rc;
    fill_dependent(ctx, c0);
    double t = 0;
    for (int i = 0; i < ctx->s.n; i++) t += c0[i];
    *total = t;
    return KR_OK;
}

/* Iterations of the quasi-Newton run before kr_epma_solve_jac falls back to kr_epma_solve. */
#define JAC_MAX_ITER 8

int kr_epma_solve_jac(const kr_epma_ctx *ctx, const double *k, const double *c_start,
                      const double (*jac)[KR_EPMA_MAX_EL], kr_epma_work *w, kr_epma_result *out)
{
    double kp[KR_EPMA_MAX_EL], c0[KR_EPMA_MAX_EL];
    int rc = solve_start(ctx, k, c_start, kp, c0);
    if (rc) return rc;
    int its = iterate_jac(ctx, kp, c0, jac, JAC_MAX_ITER, w);
    if (its <= 0) { /* the sensitivity does not fit this composition: the general solver decides */
        rc = kr_epma_solve(ctx, k, c_start, w, out);
        if (!rc) out->iterations += JAC_MAX_ITER;
        return rc;
    }
    fill_result(ctx, w->c, kp, w, its, out);
    return KR_OK;
}

int kr_epma_solve(const kr_epma_ctx *ctx, const double *k, const double *c_start, kr_epma_work *w,
                  kr_epma_result *out)
{
    double kp[KR_EPMA_MAX_EL], c0[KR_EPMA_MAX_EL];
    int rc = solve_start(ctx, k, c_start, kp, c0);
    if (rc) return rc;
    int its = iterate(ctx, kp, c0, 1, w);
    int total = its > 0 ? its : ctx->s.max_iter;
    if (its <= 0) { /* fallback: simple iteration from the start */
        its = iterate(ctx, kp, c0, 0, w);
        total += its > 0 ? its : ctx->s.max_iter;
    }
    if (its < 0)
        return kr_err(KR_ENUMERIC, "matrix correction failed: %s",
                      its == -1 ? "the composition sums to zero (all k-ratios <= 0?)" : "matrix factors not finite");
    if (its == 0)
        return kr_err(KR_ENUMERIC, "matrix correction did not converge in %d iterations (Wegstein and simple)",
                      ctx->s.max_iter);
    fill_result(ctx, w->c, kp, w, total, out);
    return KR_OK;
}
