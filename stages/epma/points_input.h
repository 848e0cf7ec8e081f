/* EPMA point measurements as read from any vendor format (JEOL folders, generic CSV): the common model
 * the readers fill and the EPMA stage reduces. Plain values, no owned pointers except kr_epma_points. */
#ifndef KR_EPMA_POINTS_INPUT_H
#define KR_EPMA_POINTS_INPUT_H
#include "atomic.h"
#include "counts.h"

#include <stddef.h>

#define KR_EPMA_MAX_CH 24   /* channels (elements) per point */
#define KR_EPMA_MAX_COMP 16 /* elements in a standard's composition */

typedef struct {
    char element[4];    /* symbol as written ("Si") */
    char line[4];       /* "Ka", "La", ... */
    char crystal[12];   /* "TAP", "PETH", ... ("" if unknown) */
    char oxide[16];     /* oxide for stoichiometry from the file ("SiO2"), "" if none */
    double peak_mm;     /* spectrometer peak position (NaN if unknown) */
    kr_wds_counts counts;
    int has_vendor_net; /* JEOL's own net/bg/sigma present (printed text kept for the check) */
    char vendor_net[24], vendor_bg[24], vendor_sigma[24];
    char where[160];    /* "file:line" of the counts, for messages */
} kr_epma_channel;

typedef struct {
    char source[256];    /* file the counts came from (the .qnt / .std / CSV) */
    char label[64];      /* point name: "Pos_0003" (JEOL) or the CSV `point` value */
    char comment[96];    /* operator's label (UTF-8): $XM_AP_COMMENT%0 or the CSV `comment` */
    double kv;           /* accelerating voltage */
    double current_na;   /* beam current */
    double takeoff_deg;  /* NaN: not in the file (the config's epma.takeoff_deg applies) */
    double x_mm, y_mm, z_mm; /* stage position (NaN if unknown) */
    double acq_time_s;   /* acquisition time, s since 1970-01-01 00:00:00 taking the written time as UTC
                          * ($XM_ANALYSIS_ACQ_DATE or the CSV `time`); NaN if absent */
    int is_standard;
    char std_name[64];   /* standards: name ("Wollastonite") */
    int ncomp;           /* standards: composition, element mass % */
    char comp_el[KR_EPMA_MAX_COMP][4];
    double comp_wt[KR_EPMA_MAX_COMP];
    int nch;
    kr_epma_channel ch[KR_EPMA_MAX_CH];
} kr_epma_point;

/* A growable list of points. Owner: caller (kr_epma_points_free). */
typedef struct {
    kr_epma_point *items;
    size_t n, cap;
} kr_epma_points;

int kr_epma_points_push(kr_epma_points *l, kr_epma_point **slot); /* zeroed new slot, acq_time_s NaN */
void kr_epma_points_free(kr_epma_points *l);

/* Parse an acquisition date and time into seconds since 1970-01-01 00:00:00, the written time taken as
 * UTC: "YYYY-MM-DDThh:mm:ss", "YYYY-MM-DD hh:mm:ss" (ISO 8601) or JEOL's "YYYY/MM/DD hh:mm:ss"; seconds
 * may carry a fraction or be left out (hh:mm), a trailing "Z" is allowed. Returns KR_OK, or KR_EINPUT
 * without pushing a message (the caller names file:line). */
int kr_epma_parse_time(const char *s, double *out_s);

/* Read every input (a directory: JEOL tree, see jeol_points.h; a *.csv file: generic CSV, see
 * generic_csv.h) and split the points into unknowns and standards (appended). */
int kr_epma_read_inputs(const char *const *paths, size_t n, const kr_atomic *at, kr_epma_points *unknowns,
                        kr_epma_points *standards);

#endif
