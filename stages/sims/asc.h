/* CAMECA IMS-1270/1280 `.asc` exports (DOMAIN.md 4.1): species table, detector table, RAW DATA cycles.
 * Single-collector (peak hopping on EM) and multicollector (species on L2, C, H1, ...) files share this
 * layout; each species names its detector, looked up in the detector table. */
#ifndef KR_SIMS_ASC_H
#define KR_SIMS_ASC_H
#include <stddef.h>

enum { KR_ASC_NAME = 32 };

typedef struct {
    char name[KR_ASC_NAME]; /* "206Pb" */
    double mass_amu;
    double count_time_s;        /* C.TIME(s) per cycle */
    char detector[KR_ASC_NAME]; /* "EM", "L2", "H1", "FC2" */
    char type[KR_ASC_NAME];     /* "Em", "Fc" */
    int det;                    /* index into detectors, -1 if the detector table lacks it */
} kr_asc_species;

typedef struct {
    char name[KR_ASC_NAME];
    double yield;
    double bkg_cps; /* 0 when not set */
    int bkg_set;    /* 0 when the file holds the 2147483647 "not set" sentinel */
    double dead_time_ns;
} kr_asc_detector;

typedef struct {
    char path[512];
    char sample_name[64];
    size_t nspecies, ndet, ncycles;
    kr_asc_species *species;
    kr_asc_detector *det;
    int *block, *cycle; /* per RAW DATA row */
    long *line;         /* input line of each RAW DATA row */
    double *cps;        /* ncycles x nspecies, row-major: uncorrected cps as written */
    long species_line;  /* line of the species header (for messages) */
} kr_asc;

/* Read a file. Errors name path:line (truncated section, bad number, zero count time, unknown
 * species column). Owner: caller (kr_asc_free). */
int kr_asc_read(const char *path, kr_asc *out);
void kr_asc_free(kr_asc *a);
/* Index of a species by name ("204Pb"), or -1. */
int kr_asc_find(const kr_asc *a, const char *name);
/* Fail naming the file if a species is absent. */
int kr_asc_require(const kr_asc *a, const char *name, int *index);

/* Corrected cps of row `i`, species `s`: dead time cps/(1 - cps tau) (non-extending counter, e.g.
 * Knoll 2010, eq. 4-7), minus the detector background (if set), divided by the detector yield. */
double kr_asc_cps_corrected(const kr_asc *a, size_t i, size_t s);
/* Counts of row i, species s: uncorrected cps x C.TIME. */
double kr_asc_counts(const kr_asc *a, size_t i, size_t s);

#endif
