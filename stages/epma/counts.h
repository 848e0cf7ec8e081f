/* WDS counts -> net intensities -> k-ratios (DOMAIN.md §2.2).
 * Pure functions over one peak/background measurement; no I/O. Every function that can fail pushes an
 * error naming `where` (e.g. "run/Pos_0003/data001.qnt:57 (Si)"). */
#ifndef KR_EPMA_COUNTS_H
#define KR_EPMA_COUNTS_H

typedef enum {
    KR_DT_NONPARALYZABLE = 0, /* r = r'/(1 - tau r'): JEOL's own correction */
    KR_DT_LOG = 1             /* r = r'/(1 + ln(1 - tau r')): Donovan et al. 2023 */
} kr_deadtime_form;

typedef enum {
    KR_BG_LINEAR = 0, /* linear in spectrometer position */
    KR_BG_EXP = 1     /* log-linear (exponential) in spectrometer position */
} kr_bg_form;

/* Flags on a reduced measurement (bit set). */
enum {
    KR_WDS_FLAG_EXP_FALLBACK = 1 << 0, /* exponential bg impossible (zero counts): linear used */
    KR_WDS_FLAG_NEG_NET = 1 << 1,      /* net intensity below zero (element absent) */
    KR_WDS_FLAG_JEOL_MISMATCH = 1 << 2 /* net/bg/sigma disagree with JEOL's own fields */
};

/* One WDS measurement: peak and the two background positions. */
typedef struct {
    double peak_counts, bgm_counts, bgp_counts; /* raw counts (not rates) */
    double peak_time_s, bgm_time_s, bgp_time_s; /* counting times */
    double off_minus_mm, off_plus_mm;           /* background offsets from the peak, both >= 0 */
    double dead_time_us;                        /* tau */
    double current_na;                          /* beam current during the measurement */
} kr_wds_counts;

typedef struct {
    double peak_cps, bgm_cps, bgp_cps; /* dead-time corrected rates */
    double bg_cps;                     /* interpolated background under the peak */
    double net_cps, sigma_cps;         /* net = peak - bg, and its 1 sigma from counting statistics */
    double net_cps_na, sigma_cps_na;   /* the same per nA of beam current */
    double bg_cps_na;
    int flags;                         /* KR_WDS_FLAG_* */
} kr_wds_net;

/* Dead-time correct one raw rate (cps). tau*rate >= 1 (or log form's 1+ln(1-x) <= 0) is an error. */
int kr_deadtime_correct(double rate_cps, double dead_time_us, kr_deadtime_form form, const char *where,
                        double *out_cps);

/* Full reduction of one measurement. Errors: non-positive time or current, negative counts,
 * tau*rate >= 1, offsets not both >= 0 with a positive sum. */
int kr_wds_net_compute(const kr_wds_counts *c, kr_deadtime_form dt, kr_bg_form bg, const char *where,
                       kr_wds_net *out);

/* Compare our net/bg/sigma with JEOL's printed fields (strings as written in the file, e.g. "9021.5"):
 * 1 if all three agree to their printed precision (half a unit of the last printed digit), else 0. */
int kr_wds_matches_printed(const kr_wds_net *n, const char *net_txt, const char *bg_txt, const char *sigma_txt);

/* k-ratio of an unknown against a standard, both per nA: k = (N_u/I_u)/(N_s/I_s), with sigma from
 * both counting errors. Non-positive standard intensity is an error. */
int kr_kratio(const kr_wds_net *unk, const kr_wds_net *std, const char *where, double *k, double *sigma_k);

/* Detection limit (element mass fraction, same unit as c_std):
 * C_DL = 3 sqrt(I_B t i) C_std / (t i I_std) with I_B, I_std in cps/nA, t in s, i in nA. */
double kr_detection_limit(double bg_cps_na, double peak_time_s, double current_na, double c_std,
                          double std_net_cps_na);

/* Parse a form name ("nonparalyzable"|"jeol", "log"|"logarithmic"; "linear", "exponential"|"exp"). */
int kr_deadtime_form_parse(const char *s, kr_deadtime_form *out);
int kr_bg_form_parse(const char *s, kr_bg_form *out);

#endif
