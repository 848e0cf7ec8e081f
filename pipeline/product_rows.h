/* Streaming writers for the HDF5 product: a table whose rows are appended in blocks (memory stays one
 * chunk however many rows), and the small group/attribute helpers a stage needs to write its own NXdata
 * groups through kr_product_file(). Everything matches the conventions of kr_product_write_table
 * (product.c, DESIGN.md "HDF5 product rules"): packed compound type, fixed-length NUL-terminated UTF-8
 * strings with nothing after the NUL, shuffle + deflate 4, CLASS/VERSION/TITLE (PyTables) and
 * column_units/column_desc attributes, no timestamps. A reader cannot tell an appended table from one
 * written at once (only the chunk size, a storage property, may differ). */
#ifndef KR_PRODUCT_ROWS_H
#define KR_PRODUCT_ROWS_H
#include "product.h"
#include "table.h"

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

typedef struct kr_rows_writer kr_rows_writer;

/* Create the extendible table `path` ("laicpms/spots"), creating parent groups; it must not exist yet.
 * `desc` is borrowed and must outlive the writer. Owner of *out: caller (kr_rows_close). */
int kr_rows_open(kr_product *p, const char *path, const kr_table_desc *desc, kr_rows_writer **out);
/* Append n rows (row_size bytes each). Rows are buffered and written one full chunk at a time. */
int kr_rows_append(kr_rows_writer *w, const void *rows, size_t n);
/* Rows appended so far. */
size_t kr_rows_count(const kr_rows_writer *w);
/* Read back rows [first, first + n) already appended (flushed or still buffered) into `rows`. */
int kr_rows_read(kr_rows_writer *w, size_t first, size_t n, void *rows);
/* Flush the last partial chunk and close. Frees w (also on error). NULL is a no-op. */
int kr_rows_close(kr_rows_writer *w);

/* Read the columns `desc` names (a subset of the table's, in any order) of table `path` of a written
 * product file into a new array (*rows, caller frees; strings NUL-terminated). */
int kr_table_read_file(const char *file, const char *path, const kr_table_desc *desc, void **rows, size_t *nrows);

/* Open or create every group along `path` (relative to the root; created without timestamps).
 * Returns the last group (caller H5Gclose) or -1 with an error pushed. */
hid_t kr_product_group(kr_product *p, const char *path);
/* Attributes as kr_product_write_* writes them: variable-length UTF-8 strings (scalar or 1-D), int32. */
int kr_h5_attr_string(hid_t obj, const char *name, const char *value);
int kr_h5_attr_strings(hid_t obj, const char *name, const char *const *values, size_t n);
int kr_h5_attr_int32(hid_t obj, const char *name, int32_t value);
/* A scalar attribute of HDF5 type `type` (H5T_NATIVE_DOUBLE, ...) from *value. */
int kr_h5_attr_numeric(hid_t obj, const char *name, hid_t type, const void *value);
/* Variable-length UTF-8 string type (caller H5Tclose), or -1. */
hid_t kr_h5_vlen_str_type(void);
/* Push HDF5's error stack and "HDF5: cannot <what> '<path>'"; returns KR_EIO. */
int kr_h5_fail(const char *what, const char *path);

#endif
