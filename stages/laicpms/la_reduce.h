/* LA-ICP-MS reduction: laser-on windows, spike rejection, blank subtraction, internal-standard
 * quantification (Longerich et al. 1996) or 100 % oxide normalisation (Liu et al. 2008), drift between
 * bracketing calibrant analyses, detection limits (Longerich 1996, Pettke et al. 2012), uncertainty terms.
 *
 * Flow (what the stage does; a benchmark or test can do the same):
 *   kr_la_session_init -> for each acquisition: kr_la_find_windows + kr_la_session_add_spot (keeps only a
 *   per-spot summary; the raw sweeps can be freed) -> kr_la_session_calibrate -> kr_la_quantify_spot for
 *   each spot -> kr_la_session_free. */
#ifndef KR_LA_REDUCE_H
#define KR_LA_REDUCE_H
#include "la_read.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- reference values (calib/laicpms_reference_materials.csv, atomic_weights.csv, epma_oxides.csv) ---- */
typedef struct {
    char material[KR_LA_NAME];
    char analyte[12];  /* element "Mg" or oxide "SiO2" */
    double value;      /* ug/g (elements) or wt% (oxides) */
    double u_1s;       /* one standard deviation in the same unit (95 % CL divided by 1.96); NaN if none */
    char unit[8];
    char u_type[16];   /* as written in calib: 95%CL, 1s, none */
} kr_la_refval;

typedef struct {
    kr_la_refval *v;
    size_t n;
    char (*materials)[KR_LA_NAME];
    size_t nmat;
    double aw[104];         /* atomic weights by Z (g/mol), NaN when absent */
    int ox_cat[104], ox_o[104]; /* default oxide cations/oxygens per Z (epma_oxides.csv); 0 when none */
    double ci_ugg[104];     /* CI chondrite (McDonough & Sun 1995), NaN when absent */
    double k_longerich, currie_lc, currie_ld_counts, k95;
} kr_la_refs;

int kr_la_refs_load(kr_la_refs *r);
void kr_la_refs_free(kr_la_refs *r);
/* Index of the material whose normalised name (letters and digits, upper case; "SRM 610"/"NIST SRM 610"
 * = "NIST610") matches `name`, or -1. */
int kr_la_refs_material(const kr_la_refs *r, const char *name);
/* Element concentration (ug/g) and its 1 sigma in material `mat`; from the oxide (e.g. SiO2 wt%) by
 * stoichiometry when no element value is listed. Returns 1 when found, 0 when not. */
int kr_la_refs_element(const kr_la_refs *r, int mat, const char *element, double *ugg, double *u_1s, char *u_type,
                       size_t u_type_len);
int kr_la_z_of(const char *symbol); /* 1..103, or 0 */
/* Mass fraction of the element in its default oxide (e.g. Si in SiO2): 0 when no oxide is known. */
double kr_la_element_in_oxide(const kr_la_refs *r, int z);

/* ---- windows ------------------------------------------------------------------------------------- */
typedef struct {
    double threshold_frac;      /* laser-on threshold: blank + frac x (signal - blank) of the total cps */
    double min_rise_sd;         /* the signal level must exceed the blank by this many blank noise sd */
    double blank_skip_s;        /* dropped at the start of the acquisition */
    double blank_guard_s;       /* dropped before the laser-on step */
    double signal_guard_start_s, signal_guard_end_s; /* dropped after the rise / before the fall */
    double min_signal_s, min_blank_s;
    double washout_s;           /* after an ablation, before the next blank (several ablations per file) */
    double spike_k;             /* spike: |counts - rolling median| > k x robust sd (and > k x sqrt(median)) */
    int spike_halfwidth;        /* rolling-median half width (sweeps) */
    int spike_max_iter;
} kr_la_opts;
void kr_la_opts_default(kr_la_opts *o);

typedef struct {
    size_t b0, b1, s0, s1;   /* sweeps [b0,b1) gas blank, [s0,s1) signal */
    size_t seg0, seg1;       /* sweeps of this spot in the acquisition (for its time series) */
    double blank_start_s, blank_end_s, signal_start_s, signal_end_s; /* from the acquisition start */
} kr_la_window;

/* Find every ablation in `a` (one per Qtegra spot file, several in an Agilent file). Errors name the
 * acquisition and say what is wrong (no blank window, signal never rises). */
int kr_la_find_windows(const kr_la_acq *a, const kr_la_opts *o, kr_la_window *w, size_t maxw, size_t *nw);
/* Per-spot override: windows given in seconds from the acquisition start. */
int kr_la_window_from_times(const kr_la_acq *a, double blank0_s, double blank1_s, double sig0_s, double sig1_s,
                            kr_la_window *w);
/* Spike rejection on counts (cps x dwell) inside [s0,s1) of one isotope; keep[] (s1-s0 bytes) gets 1 for
 * kept sweeps. Returns the number of sweeps removed. */
int kr_la_despike(const double *cps, double dwell_s, size_t s0, size_t s1, const kr_la_opts *o, unsigned char *keep);

/* ---- session ------------------------------------------------------------------------------------- */
typedef struct {
    double blank_cps, blank_sd_cps, gross_cps, net_cps;
    double var_mean;   /* variance of the mean signal (cps^2) from the sweeps */
    double cov_is;     /* covariance of the mean signals of this isotope and the IS isotope (cps^2) */
    double dwell_s;
    int n_blank, n_signal, n_spikes, present;
} kr_la_meas;

enum { KR_LA_UNKNOWN = 0, KR_LA_CALIBRANT = 1, KR_LA_SECONDARY = 2 };
enum { KR_LA_SPOT_MSG = 320 }; /* longest kept failure message of a spot, NUL included */

typedef struct {
    char spot[KR_LA_NAME], sample[KR_LA_NAME];
    double acq_start_s;   /* absolute start of its acquisition (s since 1970) */
    double time_s;        /* absolute mid-signal time */
    kr_la_window w;
    int rm, role;         /* reference material index (-1) and role */
    int failed;
    char *msg;            /* why it failed (owned; NULL unless failed) */
    int nm;               /* entries in m (session analytes known when the spot was added) */
    kr_la_meas *m;        /* by session analyte index; NULL while spilled (see kr_la_session.spill) */
    long long spill_off;  /* byte offset of its nm measurements in the spill file, -1 when none */
} kr_la_spot;

#define KR_LA_MAXANA 128

typedef struct {
    char calibrant[KR_LA_NAME]; /* material name: NIST610 */
    char is_element[4];         /* "Si", "Ca"; "" = no internal standard (oxide normalisation) */
    char is_label[KR_LA_LABEL]; /* isotope of the IS: "" = first of that element */
    int drift;                  /* 0 none (session mean), 1 linear between brackets, 2 smooth polynomial */
    int smooth_degree;
    int blank_interp;           /* 0 per spot, 1 interpolated in time across the session */
    int require_bracket;        /* an unknown outside the calibrant brackets fails (else held flat) */
    int is_fallback_oxide;      /* a spot without IS value is quantified by oxide normalisation */
    double fe3_fraction;        /* Fe3+/Fe_total for the oxide sum (Liu et al. 2008) */
    int lod_flag_pettke;        /* below_lod flag from Pettke (1) or Longerich (0) */
} kr_la_settings;
void kr_la_settings_default(kr_la_settings *s);

/* Internal-standard value of a sample: returns 1 and fills oxide wt% (e.g. SiO2) and its sd (NaN allowed)
 * when known, 0 when not (e.g. the EPMA per-sample mean SiO2 from the run context). */
typedef int (*kr_la_is_oxide_fn)(void *user, const char *sample, double *oxide_wt, double *sd_wt);

typedef struct {
    char sample[KR_LA_NAME];
    double ugg, u_ugg;         /* IS element concentration from config */
} kr_la_is_value;

typedef struct {
    kr_la_settings set;
    kr_la_opts opts;
    const kr_la_refs *refs;    /* borrowed */
    int cal_rm;                /* index of the calibrant material */
    int nana;
    kr_la_isotope ana[KR_LA_MAXANA];
    int is_ana;                /* analyte index of the IS isotope, -1 */
    kr_la_spot *spots;
    size_t nspots, capspots;
    /* Per-spot measurements (nm x kr_la_meas, ~3 KB per spot at 40 isotopes) go to an unlinked scratch file
     * (tmpfile) once a spot is summarised and are read back only while that spot is used (calibration,
     * blank interpolation, quantification), so memory holds one spot's measurements, not the session's. */
    FILE *spill;
    long long spill_end;
    /* calibration (after kr_la_session_calibrate) */
    size_t *cal;               /* spot indices of calibrant analyses, time order */
    size_t ncal;
    double *rsf, *rsf_u, *sens, *sens_u; /* ncal x nana: relative sensitivity vs IS, absolute sensitivity */
    double *fit;               /* smooth drift: nana x (degree+1) coefficients (time in h from first cal) */
    double *fitcov;            /* nana x (degree+1)^2 */
    double *rsf_mean;          /* nana */
    /* internal-standard sources */
    kr_la_is_oxide_fn is_oxide;
    void *is_user;
    const kr_la_is_value *is_values;
    size_t n_is_values;
    double is_default_ugg, is_default_u_ugg; /* NaN when none */
} kr_la_session;

/* Owner: caller (kr_la_session_free). `refs` must outlive the session. */
int kr_la_session_init(kr_la_session *s, const kr_la_settings *set, const kr_la_opts *o, const kr_la_refs *refs);
void kr_la_session_free(kr_la_session *s);
/* Summarise one window of `a` as a spot (blank, despiked signal, per-isotope statistics). A spot that
 * cannot be summarised is added with failed = 1 and the message. `sample` overrides a->sample if not NULL. */
int kr_la_session_add_spot(kr_la_session *s, const kr_la_acq *a, const kr_la_window *w, const char *spot_name,
                           const char *sample);
/* Add a spot that failed before a window was found (reported, never silently dropped). */
int kr_la_session_add_failed(kr_la_session *s, const kr_la_acq *a, const char *spot_name, const char *msg);
/* Roles from the sample names, calibration curves and drift. Errors: no calibrant analysis, a linear
 * drift with a single calibrant analysis (no bracket). */
int kr_la_session_calibrate(kr_la_session *s);

/* One result row per spot and analyte (the /laicpms/spots table). */
typedef struct {
    char spot[KR_LA_NAME];
    char sample[KR_LA_NAME];
    char analyte[KR_LA_LABEL];
    char element[4];
    char role[12];
    char status[16];                 /* ok, failed, no_ref, not_measured */
    double time_s;                   /* absolute mid-signal time, s since 1970 (instrument clock) */
    double conc_ugg;
    double u_total_ugg, u_signal_ugg, u_blank_ugg, u_rm_ugg, u_calib_ugg, u_is_ugg; /* 1 sigma */
    double lod_longerich_ugg, lod_pettke_ugg;
    int32_t below_lod;
    double blank_cps, blank_sd_cps, net_cps;
    double blank_start_s, blank_end_s, signal_start_s, signal_end_s;
    int32_t n_blank, n_signal, spikes_removed;
    double drift_factor;             /* RSF at this time / session mean RSF */
    int32_t outside_bracket;
    char is_analyte[KR_LA_LABEL];
    double is_ugg, is_u_ugg;
    char is_source[24];              /* reference, epma, config, config_default, oxide_sum */
    char message[160];
} kr_la_result;

/* Quantify spot `i` into rows[0..nana) (one per session analyte). Returns KR_OK, or an error when the
 * spot cannot be quantified (its rows still say why: status "failed"). */
int kr_la_quantify_spot(kr_la_session *s, size_t i, kr_la_result *rows);

/* Equations, exposed for tests. */
/* Longerich et al. 1996 eq. (internal standard): concentration of analyte i in the sample. */
double kr_la_longerich(double c_is_sam, double i_sam, double i_is_sam, double c_rm, double c_is_rm, double i_rm,
                       double i_is_rm);
/* Longerich et al. 1996 LOD (ug/g): k x sd_blank_cps x sqrt(1/n_b + 1/n_s) / sens_cps_per_ugg. */
double kr_la_lod_longerich(double k, double sd_blank_cps, int n_b, int n_s, double sens_cps_per_ugg);
/* Pettke et al. 2012 eq. 6 (Currie form): (lc sqrt(B t_s n_s (1 + n_s/n_b)) + ld) / (n_s t_s) / sens, with
 * B the mean blank cps, t_s the dwell time, n_s/n_b the signal/blank sweeps. */
double kr_la_lod_pettke(double lc, double ld_counts, double blank_cps, double dwell_s, int n_b, int n_s,
                        double sens_cps_per_ugg);

#endif
