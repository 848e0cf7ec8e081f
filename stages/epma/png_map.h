/* PNG rendering of quantified maps (libpng): the map in a perceptual colour scale with a colour bar
 * labelled in the map's unit, a scale bar in µm, and mask images. Digits and the few letters needed
 * ("wt%", "µm") are drawn with a tiny built-in 5x7 bitmap font. */
#ifndef KR_PNG_MAP_H
#define KR_PNG_MAP_H
#include <stddef.h>

typedef struct {
    const char *units; /* colour-bar label, e.g. "wt%" (characters outside the font are skipped) */
    double vmin, vmax; /* colour range; NaN: the 1st and 99th percentiles of the finite values */
    double pixel_um;   /* pixel size for the scale bar (<= 0 or NaN: no scale bar) */
    const unsigned char *range_mask; /* non-NULL: the percentiles use only these pixels (e.g. the glass) */
} kr_png_map_opts;

/* Write values (ny x nx, row-major, rows = y; NaN drawn grey) as an RGB PNG at `path`.
 * The PNG is written to path + ".tmp" and renamed, so a failure leaves no partial image. */
int kr_png_write_map(const char *path, const float *values, size_t ny, size_t nx, const kr_png_map_opts *opts);
/* Write a mask (ny x nx, nonzero = in the region) as a black/white PNG with a scale bar. */
int kr_png_write_mask(const char *path, const unsigned char *mask, size_t ny, size_t nx, double pixel_um);
/* Decimal places used for colour-bar labels of the range [vmin, vmax] (for tests). */
int kr_png_label_decimals(double vmin, double vmax);

#endif
