/* LA-ICP-MS time-resolved exports: Thermo Qtegra per-spot CSV, Qtegra batch "rows"/"columns" exports,
 * Agilent MassHunter CSV, and a long acquisition split by a laser log. One pass over the text, one
 * allocation for all values of an acquisition (no per-value allocation). */
#ifndef KR_LA_READ_H
#define KR_LA_READ_H
#include "text.h"

#include <stddef.h>

#define KR_LA_NAME 64
#define KR_LA_LABEL 24

typedef struct {
    char label[KR_LA_LABEL]; /* normalised "Ca43" (element then mass); an unknown label is kept verbatim */
    char element[4];         /* "Ca"; "" when the label is not element+mass */
    int mass;                /* 43; 0 when unknown */
    double dwell_s;          /* dwell time per sweep; NaN when the export gives none */
} kr_la_isotope;

typedef struct {
    char name[KR_LA_NAME];   /* acquisition name: file stem (per-spot files) or batch column/row */
    char sample[KR_LA_NAME]; /* sample name written by the instrument (Qtegra line 1, Agilent path) */
    char source[256];        /* file path for messages */
    char format[24];         /* "qtegra", "qtegra_rows", "qtegra_columns", "agilent" */
    char software[32];       /* "Qtegra 2.4.1800.96", "" */
    double start_s;          /* acquisition start: seconds since 1970-01-01 on the instrument clock */
    int counts_input;        /* 1 when the export held counts per sweep (converted to cps with dwell_s) */
    int niso;
    kr_la_isotope *iso;
    size_t n, cap;           /* sweeps; capacity of each column */
    double *time_s;          /* n sweep times, s from acquisition start */
    double *cps;             /* isotope k, sweep t at cps[k * cap + t] */
} kr_la_acq;

static inline double *kr_la_col(const kr_la_acq *a, int k) { return a->cps + (size_t)k * a->cap; }

/* Owner of the arrays: the acq (kr_la_acq_free). */
void kr_la_acq_free(kr_la_acq *a);
void kr_la_acqs_free(kr_la_acq *a, size_t n);

/* Normalise an isotope label: "43Ca", "Ca43", "43 Ca", "Ca 43", "ca43" -> "Ca43". Returns 1 when the
 * label was recognised (element symbol + mass), 0 when it is kept verbatim (element "" and mass 0). */
int kr_la_isotope_parse(const char *label, kr_la_isotope *out);

/* Date-time of the exports to seconds since 1970 (no time zone): "01/28/2015 04:27:26 PM",
 * "11-18-2020 04:26:15 AM" (US month first), "2020-11-18 16:26:15" (ISO, 'T' allowed), "18.11.2020 16:26:15"
 * (day first), "Oct 29 2015  03:06:01 pm" (Agilent); seconds optional; 12 h with AM/PM or 24 h.
 * Returns 0, or -1 for an unknown format (no error pushed). */
int kr_la_parse_datetime(const char *s, double *out_s);

/* Per-spot Qtegra CSV (iCAP Q/RQ/TQ, Qtegra 2.4 and 2.7). `t` is modified in place. */
int kr_la_parse_qtegra(kr_text *t, kr_la_acq *out);
/* Agilent MassHunter CSV (CPS or Counts; optional "Printed:" footer). MassHunter writes no dwell times:
 * `dwell_s` (> 0) is used for every isotope (needed to convert Counts to cps, and for counting
 * statistics). */
int kr_la_parse_agilent(kr_text *t, double dwell_s, kr_la_acq *out);
/* Qtegra batch export ("rows" or "columns" layout, detected): one acquisition per sample. Owner of *out:
 * caller (kr_la_acqs_free). The batch exports carry no dwell times: `dwell_s` is used. */
int kr_la_parse_qtegra_batch(kr_text *t, double dwell_s, kr_la_acq **out, size_t *nout);

/* Strict number parse with the contract of kr_parse_double (whole string, surrounding blanks allowed,
 * 0 on success) and the same bits as strtod; plain decimals take an exact fast path (Clinger 1990). */
int kr_la_parse_number(const char *s, double *out);

/* Read any of the formats above (detected from the first lines). Owner of *out: caller. */
int kr_la_read_file(const char *path, double default_dwell_s, kr_la_acq **out, size_t *nout);

/* Laser log for a long acquisition (format documented in stages/laicpms/README.md):
 *   # comment lines
 *   spot,sample,start_s[,end_s]
 * start_s/end_s are seconds from the start of the acquisition; a spot without end_s runs to the next
 * spot's start (the last one to the end of the acquisition). */
typedef struct {
    char spot[KR_LA_NAME];
    char sample[KR_LA_NAME];
    double start_s, end_s; /* end_s NaN when not given */
    long line;
} kr_la_log_entry;
typedef struct {
    kr_la_log_entry *e;
    size_t n;
    char path[256];
} kr_la_log;
int kr_la_log_parse(kr_text *t, kr_la_log *out);
int kr_la_log_read(const char *path, kr_la_log *out);
void kr_la_log_free(kr_la_log *log);
/* Split one long acquisition into one acquisition per log entry (copies the sweeps). Owner: caller. */
int kr_la_split_by_log(const kr_la_acq *a, const kr_la_log *log, kr_la_acq **out, size_t *nout);

#endif
