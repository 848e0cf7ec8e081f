/* Calibration data (calib/): reference values, atomic data, decay constants, each with its source and
 * uncertainty. The files are embedded into the binary at build time; KREEP_CALIB_DIR (or
 * kr_calib_set_dir) makes kreep read them from a folder instead, e.g. to test a new reference value. */
#ifndef KR_CALIB_H
#define KR_CALIB_H
#include "text.h"

#include <stddef.h>

/* Directory override (NULL = embedded/env). The string is copied. */
int kr_calib_set_dir(const char *dir);
/* Load calib file `name` (e.g. "atomic_weights.csv") as text. Free with kr_text_free. */
int kr_calib_text(const char *name, kr_text *out);
/* Names of the embedded calib files, for provenance (NULL past the end). */
const char *kr_calib_name(size_t i);

/* A named-constant table: CSV with header
 *   name,value,uncertainty,unit,uncertainty_type,source
 * ('#' lines are comments). uncertainty_type says what the uncertainty is (1s, 2s, 95%CL, ...). */
typedef struct {
    char name[48];
    double value;
    double uncertainty;
    char unit[24];
    char uncertainty_type[16];
    char source[160];
} kr_constant;

typedef struct {
    kr_constant *items;
    size_t n;
    char file[64];
} kr_constants;

int kr_constants_load(const char *calib_name, kr_constants *out);
void kr_constants_free(kr_constants *c);
/* Look a constant up; pushes an error naming the file if it is missing. */
int kr_constant_get(const kr_constants *c, const char *name, double *value, double *uncertainty);

#endif
