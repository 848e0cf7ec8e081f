/* One index file over many products: /runs/<name>/<group> are HDF5 external links to each product's
 * top-level groups (epma, laicpms, sims, qa, provenance), and /index is a table with one row per
 * product (its path as linked, run name, creation time, software version, config hash, SHA-256, groups).
 * The products stay where they are; the index is written atomically like any product. */
#ifndef KR_MERGE_H
#define KR_MERGE_H
#include <stddef.h>

/* Row of /index. */
typedef struct {
    char name[64];             /* the group under /runs */
    char product[512];         /* path as stored in the links (relative to the index file's folder when inside it) */
    char run_name[64];
    char created_utc[32];
    char software_version[32];
    char config_sha256[65];
    char product_sha256[65];
    char groups[256];          /* linked groups, comma-separated */
} kr_merge_row;

/* Link `products` into a new index file `out_path`. Every product must be a kreep product (root
 * attribute schema = "kreep"); a product that is not fails the merge and nothing is written. */
int kr_merge_products(const char *out_path, const char *const *products, size_t n);

/* Root string attribute `name` of the HDF5 file `path` into buf (""  when absent). Returns KR_EINPUT when
 * the file cannot be opened as HDF5. */
int kr_merge_root_attr(const char *path, const char *name, char *buf, size_t len);

#endif
