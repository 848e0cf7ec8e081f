/* Provenance records that every run writes besides the config (see product.h for inputs/config). */
#ifndef KR_PROVENANCE_H
#define KR_PROVENANCE_H
#include "product.h"

/* Record every calibration file the build knows (calib/, embedded or read from KREEP_CALIB_DIR) in
 * /provenance/calibration with its SHA-256 and size. */
int kr_provenance_add_calib_files(kr_product *p);

/* One failed sample, as written to /provenance/failures. */
typedef struct {
    char stage[16];
    char sample[64];
    char message[512];
} kr_failure_row;
extern const kr_table_desc kr_failure_desc;

#endif
