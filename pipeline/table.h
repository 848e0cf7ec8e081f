/* Describing a table once: a row struct plus a column table (name, type, offset, unit, description).
 * The product writer turns it into a 1-D HDF5 compound dataset with `column_units`/`column_desc`
 * attributes; the same description prints CSV. Strings are fixed-length char arrays in the row struct. */
#ifndef KR_TABLE_H
#define KR_TABLE_H
#include <stddef.h>

typedef enum { KR_COL_F64, KR_COL_I32, KR_COL_I64, KR_COL_STR } kr_col_type;

typedef struct {
    const char *name;  /* column name: snake_case with the unit in it where it has one (tio2_wt) */
    kr_col_type type;
    size_t offset;     /* offsetof(row_struct, field) */
    size_t str_len;    /* for KR_COL_STR: sizeof the char array (NUL included) */
    const char *unit;  /* "wt%", "cps", "s", "" for none */
    const char *desc;  /* one line */
} kr_column;

typedef struct {
    const kr_column *cols;
    int ncols;
    size_t row_size;   /* sizeof(row_struct) */
} kr_table_desc;

/* A table description whose column count is derived from the column array. */
#define KR_TABLE(cols, row_type) {cols, (int)(sizeof cols / sizeof cols[0]), sizeof(row_type)}

#define KR_COL_D(type_, field, unit, desc) {#field, KR_COL_F64, offsetof(type_, field), 0, unit, desc}
#define KR_COL_INT(type_, field, unit, desc) {#field, KR_COL_I32, offsetof(type_, field), 0, unit, desc}
#define KR_COL_INT64(type_, field, unit, desc) {#field, KR_COL_I64, offsetof(type_, field), 0, unit, desc}
#define KR_COL_S(type_, field, desc) \
    {#field, KR_COL_STR, offsetof(type_, field), sizeof(((type_ *)0)->field), "", desc}

#endif
