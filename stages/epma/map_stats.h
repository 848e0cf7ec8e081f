/* Region statistics of quantified maps: masks from thresholds or phase rules ("total >= 97",
 * "SiO2 < 55": a conjunction of conditions on named layers), and per region the mean, sd, min, max and
 * percentiles of each quantity, as table rows (pipeline/table.h). */
#ifndef KR_MAP_STATS_H
#define KR_MAP_STATS_H
#include "table.h"

#include <stddef.h>

typedef enum { KR_CMP_LT = 0, KR_CMP_LE, KR_CMP_GT, KR_CMP_GE } kr_cmp_op;

typedef struct {
    char var[24]; /* layer name: "total", "TiO2", "Ti", ... (case-sensitive) */
    kr_cmp_op op;
    double value;
} kr_map_cond;

#define KR_MAP_RULE_MAX 8
typedef struct {
    char name[32];
    int ncond; /* 0 = every pixel with finite values */
    kr_map_cond cond[KR_MAP_RULE_MAX];
} kr_map_rule;

/* Parse "var op number" (op one of < <= > >=). `where` names the place for the message. */
int kr_map_cond_parse(const char *text, const char *where, kr_map_cond *out);

/* A named per-pixel quantity: value = v[p] * scale (an oxide from its element's map). */
typedef struct {
    const char *name;
    const char *unit;
    const float *v;
    double scale;
} kr_map_layer;

/* Build the mask of a rule (1 = in the region). A pixel whose tested layers are not finite is out.
 * Unknown layer names are errors naming the rule. n_in may be NULL. */
int kr_map_mask(const kr_map_rule *rule, const kr_map_layer *layers, int nlayers, size_t npx, unsigned char *mask,
                size_t *n_in);

typedef struct {
    char map[48];
    char region[32];
    char quantity[24];
    char unit[8];
    int n_pixels;
    double mean, sd, min, max, p05, p25, p50, p75, p95;
} kr_map_region_row;

/* Column description of kr_map_region_row (for kr_product_write_table). */
const kr_table_desc *kr_map_region_table(void);

/* Statistics of `layer` over the pixels of `mask` (NULL = all); non-finite values are skipped.
 * scratch: npx floats. Percentiles: linear interpolation between order statistics (Hyndman & Fan 1996,
 * definition 7). An empty region gives n_pixels 0 and NaN statistics. */
void kr_map_region_stats(const kr_map_layer *layer, const unsigned char *mask, size_t npx, float *scratch,
                         kr_map_region_row *row);

#endif
