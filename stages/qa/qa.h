/* QA over time (issue 6, "QA report"): per-session quality numbers gathered from HDF5 products (listed in
 * the nightly ledger, or given as files/folders), Westgard control rules, and one self-contained HTML
 * report (inline CSS and SVG, no script, no network), written atomically.
 *
 * What is read from each product (columns are found by name; absent tables are skipped):
 *   /qa/reference_materials  LA-ICP-MS secondary glasses: material (or glass), element (or analyte),
 *                            mean*, rsd*, bias*, z, zeta    -> control charts, z/zeta tables, RSD
 *   /epma/points             element, point_index, std_net_cps_na (net cps/nA of the standard)
 *                                                            -> standard intensity per session (drift)
 *   /sims/ages               group, wmean_age_ma, wmean_err_ma -> reference-material ages against
 *                                                            calib/sims_reference_materials.csv */
#ifndef KR_QA_H
#define KR_QA_H
#include <stddef.h>

enum { KR_QA_NAME = 48 };

typedef struct {
    char name[96];        /* session label (ledger path or product file name) */
    char instrument[16];  /* "laicpms", "epma", "sims", or "" */
    char time_utc[32];    /* when it ran (ledger finished_utc or product created_utc) */
    char status[16];      /* "done", "partial", "failed", ... */
    char error[256];      /* ledger error, or why the product could not be read */
    char product[512];
} kr_qa_session;

/* One reference glass and element in one session (/qa/reference_materials row). */
typedef struct {
    size_t session;
    char material[KR_QA_NAME], element[16];
    double mean, rsd_pct, bias_pct, z, zeta; /* NaN when absent */
} kr_qa_rm;

/* EPMA standard intensity of one element in one session (mean over the session's points). */
typedef struct {
    size_t session;
    char element[16];
    double std_cps_na;      /* mean net cps/nA of the standard */
    double first_cps_na, last_cps_na; /* at the first and last point of the session (within-session drift) */
    int n_points;
} kr_qa_epma;

/* SIMS reference-material age of one session. */
typedef struct {
    size_t session;
    char material[KR_QA_NAME];
    double age_ma, err_ma;          /* weighted mean and its 1 sigma (as in /sims/ages) */
    double ref_ma, ref_err_ma;      /* reference value and its uncertainty as listed in calib/ */
    char ref_err_type[16];          /* "95%CL", "1s", ... */
} kr_qa_age;

/* Everything the report shows. Owner: caller (kr_qa_data_free); start from {0}. */
typedef struct {
    kr_qa_session *sessions;
    size_t nsessions, cap_sessions;
    kr_qa_rm *rm;
    size_t nrm, cap_rm;
    kr_qa_epma *epma;
    size_t nepma, cap_epma;
    kr_qa_age *ages;
    size_t nages, cap_ages;
} kr_qa_data;

void kr_qa_data_free(kr_qa_data *d);
/* Add one session; its product (may be NULL for a failed run) is read when status is done/partial. A
 * product that cannot be read marks the session "unreadable" with the reason (the report goes on). */
int kr_qa_add_session(kr_qa_data *d, const char *name, const char *instrument, const char *time_utc,
                      const char *status, const char *error, const char *product);
/* Sessions of the ledger (latest run per inbox entry, nightly and reprocess, finished since `since_utc`,
 * NULL = all), ordered by time then name. */
int kr_qa_from_ledger(kr_qa_data *d, const char *ledger_path, const char *since_utc);
/* A product file (*.h5) or a folder of them (sorted by name). */
int kr_qa_from_path(kr_qa_data *d, const char *path);

/* ---- Westgard multirule control (Westgard, Barry, Hunt & Groth 1981, Clin. Chem. 27, 493) ---------- */
enum {
    KR_WG_1_2S = 1,  /* warning: one value beyond 2 sigma */
    KR_WG_1_3S = 2,  /* one value beyond 3 sigma */
    KR_WG_2_2S = 4,  /* two consecutive beyond 2 sigma on the same side */
    KR_WG_R_4S = 8,  /* within one run: one control > +2 sigma and another < -2 sigma (kr_qa_range_rule) */
    KR_WG_4_1S = 16, /* four consecutive beyond 1 sigma on the same side */
    KR_WG_10X = 32   /* ten consecutive on the same side of the mean */
};
#define KR_WG_REJECT (KR_WG_1_3S | KR_WG_2_2S | KR_WG_R_4S | KR_WG_4_1S | KR_WG_10X)
/* Flags per value of a series (NaN values are skipped and break no run), given the control mean and
 * sigma. As in Westgard et al. 1981, a rule is applied at each run with the runs before it: a rule
 * spanning several values flags the value that completes it (the run to reject), not the earlier ones. */
void kr_qa_westgard(const double *x, size_t n, double mean, double sigma, int *flags);
/* R-4s over the z values of the controls of ONE run (session): 1 if one is > +2 and another < -2. It is a
 * within-run rule (Westgard et al. 1981), so kr_qa_westgard does not apply it across sessions. */
int kr_qa_range_rule(const double *z, size_t n);
/* Control limits from the series itself, robust to the out-of-control values they must reveal: median,
 * and sigma = 1.4826 x median absolute deviation. Returns the count of finite values. */
size_t kr_qa_robust_limits(const double *x, size_t n, double *center, double *sigma);
/* Names of the rules set in `flags` ("1-3s 2-2s") into buf. */
void kr_qa_rule_names(int flags, char *buf, size_t len);
/* |score| <= 2 ok (0), 2 < |score| < 3 warning (1), >= 3 fail (2); NaN -> -1. */
int kr_qa_score_class(double score);

/* Write the HTML report atomically (temp file beside `out_path`, fsync, rename). `title` may be NULL. */
int kr_qa_write_html(const kr_qa_data *d, const char *out_path, const char *title);

/* Generated QA data for tests and scripts/render-qa: `nsessions` products in `dir` (qa_session_NN.h5:
 * two glasses x four elements, EPMA standard intensities, a Temora age), registered as nightly runs in
 * the ledger `ledger_path` (created when absent). Session `bad` (0-based; < 0 for none) is out of control
 * (+6 sigma bias on every glass). Deterministic for a given seed. */
int kr_qa_synth(const char *dir, const char *ledger_path, int nsessions, int bad, unsigned long seed);

#endif
