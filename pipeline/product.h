/* The HDF5 product of one run, written atomically: NAME.h5.tmp.PID in the target folder, then fsync,
 * rename and fsync of the folder. Until kr_product_commit nothing at the final path changes;
 * kr_product_abort (or a crash) leaves any previous product untouched. Layout rules: DESIGN.md. */
#ifndef KR_PRODUCT_H
#define KR_PRODUCT_H
#include "config.h"
#include "table.h"

#include <hdf5.h>
#include <stddef.h>

typedef struct kr_product kr_product;

/* Create the temp file. Owner: caller (kr_product_commit or kr_product_abort frees it). */
int kr_product_open(const char *final_path, kr_product **out);
/* Write a 1-D compound table at `path` ("epma/points"), creating parent groups. */
int kr_product_write_table(kr_product *p, const char *path, const kr_table_desc *desc, const void *rows,
                           size_t nrows);
/* Write an NXdata group at `group` with a 2-D signal (ny x nx, row-major, float64) named `signal`
 * and axes `y_um`, `x_um` (dimension scales); chunked, shuffle + deflate 4. `units` goes on the signal.
 * Further signals in the same group: call again with the same group and another signal name. */
int kr_product_write_map(kr_product *p, const char *group, const char *signal, const char *units,
                         const double *values, size_t ny, size_t nx, const double *y_um, const double *x_um);
/* Streamed float32 maps, for maps too large to hold whole: kr_product_map_open creates the signal like
 * kr_product_write_map_f32 (group, axes, units) with chunks of chunk_rows x nx; kr_map_chunk_encode
 * turns one chunk's values (chunk_rows * nx, the last chunk padded) into the stored bytes (shuffle +
 * deflate) - thread-safe, no HDF5 call; kr_product_map_put writes chunk i (rows i*chunk_rows...) - one
 * thread at a time; kr_product_map_close frees. kr_product_read_map_f32 reads a written map back. */
typedef struct kr_map_ds kr_map_ds;
int kr_product_map_open(kr_product *p, const char *group, const char *signal, const char *units, size_t ny,
                        size_t nx, size_t chunk_rows, const double *y_um, const double *x_um, kr_map_ds **out);
size_t kr_map_chunk_bound(size_t nvalues);
/* scratch: nvalues floats' bytes; out: kr_map_chunk_bound(nvalues) bytes. */
int kr_map_chunk_encode(const float *values, size_t nvalues, unsigned char *scratch, unsigned char *out,
                        size_t out_cap, size_t *out_bytes);
int kr_product_map_put(kr_map_ds *m, size_t chunk_index, const void *data, size_t nbytes);
int kr_product_map_close(kr_map_ds *m);
int kr_product_read_map_f32(kr_product *p, const char *group, const char *signal, float *out, size_t npx);
/* Record an input or calibration file in /provenance (SHA-256 and size computed here). */
int kr_product_add_input(kr_product *p, const char *role, const char *path);
int kr_product_add_calib(kr_product *p, const char *name, const char *data, size_t size);
/* Effective config text, parameter table and config hash for /provenance and root attributes. */
int kr_product_set_config(kr_product *p, const char *effective_yaml, const void *tables, size_t ntables);
/* Direct access for special cases (attributes on a group, ...). */
hid_t kr_product_file(const kr_product *p);
/* The final path the product will have once committed (side files such as PNGs go beside it). */
const char *kr_product_path(const kr_product *p);
/* Side files that belong to the product (e.g. PNG images): written into a staging folder made here
 * (`final_dir`.tmp.<pid>); kr_product_commit puts it in place of `final_dir` after the product's own rename
 * (an old folder is exchanged atomically and removed), kr_product_abort removes it. One per product;
 * *staging is owned by the product. */
int kr_product_side_dir(kr_product *p, const char *final_dir, const char **staging);
int kr_product_commit(kr_product *p);
void kr_product_abort(kr_product *p);

/* ---- Additions (engine): ----------------------------------------------------------------------------
 * `tables` of kr_product_set_config is a `const kr_param_table *` array (the effective YAML is
 * re-validated against it to fill the parameter table). The usual call from a run is this one: */
int kr_product_set_config_from(kr_product *p, const kr_config *cfg);
/* Attributes on an existing group or dataset ("" or "/" = the root). */
int kr_product_attr_string(kr_product *p, const char *obj_path, const char *name, const char *value);
int kr_product_attr_double(kr_product *p, const char *obj_path, const char *name, double value);

#endif
