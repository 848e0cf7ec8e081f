/* JEOL map exports: the map conditions (.cnd, both the JXA-8230/8530 "$KEY value" style and the old
 * JXA-8800 "value  description" style, Shift-JIS), per-element CSV matrices (rows = y) and raw binary
 * .map files (16/32-bit integer or float32, byte order detected and checked). DOMAIN.md §2.1.
 * A data size that does not match the declared pixels is an error, never a guess. */
#ifndef KR_MAP_READ_H
#define KR_MAP_READ_H
#include <stddef.h>
#include <stdint.h>

#define KR_MAP_MAX_ELEM 24

typedef enum { KR_CND_KEYVALUE = 1, KR_CND_JXA8800 = 2 } kr_cnd_style;

/* One channel of the map (element keys of the .cnd). Numbers are NaN when absent. */
typedef struct {
    char element[4];     /* "Ti" */
    char xray[8];        /* "Ka" */
    char crystal[16];    /* "PETJ" */
    int channel;         /* spectrometer channel, -1 if absent */
    double peak_mm, back_minus_mm, back_plus_mm;
    double max_value, min_value, ave_value; /* as declared by the instrument (old style, or DATA_COUNT_*) */
} kr_map_channel;

/* Map conditions. Owner: plain value, nothing to free. */
typedef struct {
    kr_cnd_style style;
    long nx, ny;                 /* pixels along x (columns) and y (rows) */
    double pixel_x_um, pixel_y_um;
    double dwell_ms;
    double accel_kv;             /* NaN if absent */
    double current_a, current_pre_a, current_post_a; /* probe current, A (NaN if absent) */
    double stage_mm[5][3];       /* stage centre then 4 corners (x y z, mm); NaN if absent */
    int beam_scan;               /* 1: beam scan (no stage positions per pixel), 0: stage scan */
    int data_bytes;              /* old style "Data Byte Length" (2 or 4); 0 if not declared */
    double count_max, count_min; /* $XM_DATA_COUNT_MAX/MIN (key/value style), NaN if absent */
    char comment[96];            /* $XM_AP_COMMENT%0 or the old style guide line (ASCII only) */
    int nchan;
    kr_map_channel chan[KR_MAP_MAX_ELEM];
} kr_map_cnd;

/* Read a .cnd file (style detected from its first line). Errors name the file and line. */
int kr_map_cnd_read(const char *path, kr_map_cnd *out);
/* Same on an in-memory copy (name used in messages); buf need not be NUL-terminated. */
int kr_map_cnd_parse(const char *name, const char *buf, size_t len, kr_map_cnd *out);
/* Channel of `element` (case-insensitive), or -1. */
int kr_map_cnd_find(const kr_map_cnd *c, const char *element);

/* Binary sample types of a raw .map. */
typedef enum { KR_MAPBIN_AUTO = 0, KR_MAPBIN_U16, KR_MAPBIN_I16, KR_MAPBIN_U32, KR_MAPBIN_I32, KR_MAPBIN_F32 } kr_mapbin_type;
typedef enum { KR_ORDER_AUTO = 0, KR_ORDER_LITTLE, KR_ORDER_BIG } kr_byte_order;

/* How a raw map was decoded (for provenance and the report). */
typedef struct {
    kr_mapbin_type type;
    kr_byte_order order;
    int bytes_per_pixel;
    double vmin, vmax, vmean;
} kr_mapbin_info;

/* Read a raw binary map of nx*ny pixels into out (float, row-major, rows = y).
 * bytes per pixel = file size / pixel count (must divide exactly: else an error naming both);
 * 2 -> 16-bit integer, 4 -> 32-bit integer or float32 (`type` forces one; AUTO picks float32 only if the
 * data are finite floats and not plausible integers). Byte order: `order` forces one; AUTO picks the
 * order whose values are smooth and in range, and checks it against `declared_max` (NaN: unchecked):
 * the decoded maximum must equal it. `info` may be NULL. */
int kr_map_read_bin(const char *path, long nx, long ny, kr_mapbin_type type, kr_byte_order order,
                    double declared_max, float *out, kr_mapbin_info *info);
/* Read a CSV matrix (rows = y, nx values per row; ',', ';', tab or blanks separate; a trailing
 * separator is allowed). Errors name the file and line: wrong count of rows or columns, a non-numeric,
 * NaN or infinite cell. */
int kr_map_read_csv(const char *path, long nx, long ny, float *out);
/* Read either, by extension (.csv/.txt -> CSV, anything else -> binary with AUTO type and order). */
int kr_map_read_any(const char *path, long nx, long ny, double declared_max, float *out);

/* Axes in µm from the stage positions and pixel size: x_um[i] = x0 + (i + 0.5) px, x0 = the scan
 * corner's stage x (µm) when stage positions exist, else 0. Arrays of nx and ny. */
void kr_map_axes(const kr_map_cnd *c, double *x_um, double *y_um);

#endif
