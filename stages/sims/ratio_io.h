/* Reading ratio tables as IsoplotR writes them (Pb-Pb isochron input, value/sigma lists). */
#ifndef KR_SIMS_RATIO_IO_H
#define KR_SIMS_RATIO_IO_H
#include "pbpb.h"

#include <stddef.h>

/* Pb-Pb ratios with 1 sigma absolute errors and error correlation, in one form. */
typedef struct {
    size_t n;
    kr_iso_form form; /* NORMAL: x = 206/204, y = 207/204; INVERSE: x = 204/206, y = 207/206 */
    double *x, *sx, *y, *sy, *rxy;
    long *line; /* input line of each row (for messages) */
} kr_pbpb_data;

/* Read an IsoplotR Pb-Pb CSV, recognised by its header:
 *   Pb206Pb204,errPb206Pb204,Pb207Pb204,errPb207Pb204,rho  (normal form) or
 *   Pb204Pb206,errPb204Pb206,Pb207Pb206,errPb207Pb206,rho  (inverse form).
 * A missing rho column means rho = 0. Errors name path:line. Owner: caller (kr_pbpb_data_free). */
int kr_pbpb_data_read(const char *path, kr_pbpb_data *out);
/* Convert to `form` (normal -> inverse as IsoplotR normal2inverse, and back). Owner: caller. */
int kr_pbpb_data_to_form(const kr_pbpb_data *in, kr_iso_form form, kr_pbpb_data *out);
int kr_pbpb_data_alloc(kr_pbpb_data *d, size_t n);
void kr_pbpb_data_free(kr_pbpb_data *d);

/* Read a CSV of two columns (value, 1 sigma) with a header row. Arrays owned by the caller (free). */
int kr_value_sigma_read(const char *path, double **x, double **sx, long **line, size_t *n);

#endif
