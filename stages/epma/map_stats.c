/* Region masks and statistics of quantified maps. */
#include "map_stats.h"

#include "error.h"
#include "text.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const kr_column REGION_COLS[] = {
    KR_COL_S(kr_map_region_row, map, "map name (group /epma/maps/<map>)"),
    KR_COL_S(kr_map_region_row, region, "region (mask) name from the config"),
    KR_COL_S(kr_map_region_row, quantity, "quantity: oxide, element or total"),
    KR_COL_S(kr_map_region_row, unit, "unit of the statistics"),
    KR_COL_INT(kr_map_region_row, n_pixels, "", "pixels in the region with a finite value"),
    KR_COL_D(kr_map_region_row, mean, "", "mean over the region's pixels"),
    KR_COL_D(kr_map_region_row, sd, "", "standard deviation (n - 1) over the pixels"),
    KR_COL_D(kr_map_region_row, min, "", "minimum"),
    KR_COL_D(kr_map_region_row, max, "", "maximum"),
    KR_COL_D(kr_map_region_row, p05, "", "5th percentile (Hyndman & Fan 1996 def. 7)"),
    KR_COL_D(kr_map_region_row, p25, "", "25th percentile"),
    KR_COL_D(kr_map_region_row, p50, "", "median"),
    KR_COL_D(kr_map_region_row, p75, "", "75th percentile"),
    KR_COL_D(kr_map_region_row, p95, "", "95th percentile"),
};
static const kr_table_desc REGION_DESC = KR_TABLE(REGION_COLS, kr_map_region_row);

const kr_table_desc *kr_map_region_table(void) { return &REGION_DESC; }

int kr_map_cond_parse(const char *text, const char *where, kr_map_cond *out)
{
    memset(out, 0, sizeof *out);
    const char *p = text;
    while (isspace((unsigned char)*p)) p++;
    size_t n = 0;
    while (p[n] && (isalnum((unsigned char)p[n]) || p[n] == '_')) n++;
    if (n == 0 || n >= sizeof out->var)
        return kr_err(KR_EINPUT, "%s: condition \"%s\": expected \"<quantity> <op> <number>\" (e.g. \"total >= 97\")",
                      where, text);
    memcpy(out->var, p, n);
    p += n;
    while (isspace((unsigned char)*p)) p++;
    if (p[0] == '<' && p[1] == '=') out->op = KR_CMP_LE, p += 2;
    else if (p[0] == '>' && p[1] == '=') out->op = KR_CMP_GE, p += 2;
    else if (p[0] == '<') out->op = KR_CMP_LT, p++;
    else if (p[0] == '>') out->op = KR_CMP_GT, p++;
    else
        return kr_err(KR_EINPUT, "%s: condition \"%s\": operator must be one of < <= > >=", where, text);
    if (kr_parse_double(p, &out->value) != 0 || !isfinite(out->value))
        return kr_err(KR_EINPUT, "%s: condition \"%s\": \"%s\" is not a number", where, text, p);
    return KR_OK;
}

int kr_map_mask(const kr_map_rule *rule, const kr_map_layer *layers, int nlayers, size_t npx, unsigned char *mask,
                size_t *n_in)
{
    const kr_map_layer *lay[KR_MAP_RULE_MAX];
    for (int c = 0; c < rule->ncond; c++) {
        lay[c] = NULL;
        for (int l = 0; l < nlayers; l++)
            if (!strcmp(layers[l].name, rule->cond[c].var)) lay[c] = &layers[l];
        if (!lay[c]) {
            char known[512] = "";
            for (int l = 0; l < nlayers; l++) {
                size_t k = strlen(known);
                snprintf(known + k, sizeof known - k, "%s%s", l ? ", " : "", layers[l].name);
            }
            return kr_err(KR_EINPUT, "region \"%s\": no quantity \"%s\" in this map (known: %s)", rule->name,
                          rule->cond[c].var, known);
        }
    }
    size_t cnt = 0;
    for (size_t p = 0; p < npx; p++) {
        int in = 1;
        for (int c = 0; c < rule->ncond && in; c++) {
            double v = (double)lay[c]->v[p] * lay[c]->scale, t = rule->cond[c].value;
            switch (rule->cond[c].op) {
            case KR_CMP_LT: in = v < t; break;
            case KR_CMP_LE: in = v <= t; break;
            case KR_CMP_GT: in = v > t; break;
            case KR_CMP_GE: in = v >= t; break;
            }
        }
        mask[p] = (unsigned char)in;
        cnt += (size_t)in;
    }
    if (n_in) *n_in = cnt;
    return KR_OK;
}

/* Place the k-th smallest of a[lo..hi] at a[k] with smaller-or-equal values before it and larger-or-equal
 * after it (Hoare's selection, "FIND", Hoare 1961, CACM 4(7) 321). */
static void select_k(float *a, size_t lo, size_t hi, size_t k)
{
    while (hi > lo) {
        float pivot = a[lo + (hi - lo) / 2];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                float t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                if (j == 0) break;
                j--;
            }
        }
        if (k <= j) hi = j;
        else if (k >= i) lo = i;
        else return;
    }
}

/* Smallest value of a[lo..n-1]. */
static float min_from(const float *a, size_t lo, size_t n)
{
    float m = a[lo];
    for (size_t i = lo + 1; i < n; i++) m = a[i] < m ? a[i] : m;
    return m;
}

/* Hyndman & Fan 1996, definition 7: h = (n - 1) p, Q = x[floor h] + (h - floor h)(x[floor h + 1] - x[floor h]).
 * Percentiles asked in increasing order: everything left of `*from` is already below. */
static double quantile7(float *a, size_t n, double p, size_t *from)
{
    double h = (double)(n - 1) * p;
    size_t lo = (size_t)floor(h);
    select_k(a, *from, n - 1, lo);
    *from = lo;
    if (lo + 1 >= n) return a[lo];
    double next = min_from(a, lo + 1, n);
    return a[lo] + (h - (double)lo) * (next - a[lo]);
}

void kr_map_region_stats(const kr_map_layer *layer, const unsigned char *mask, size_t npx, float *scratch,
                         kr_map_region_row *row)
{
    size_t n = 0;
    double sum = 0;
    for (size_t p = 0; p < npx; p++) {
        if (mask && !mask[p]) continue;
        double v = (double)layer->v[p] * layer->scale;
        if (!isfinite(v)) continue;
        scratch[n++] = (float)v;
        sum += v;
    }
    snprintf(row->quantity, sizeof row->quantity, "%s", layer->name);
    snprintf(row->unit, sizeof row->unit, "%s", layer->unit ? layer->unit : "");
    row->n_pixels = (int)n;
    if (n == 0) {
        row->mean = row->sd = row->min = row->max = row->p05 = row->p25 = row->p50 = row->p75 = row->p95 = NAN;
        return;
    }
    double mean = sum / (double)n, ss = 0;
    for (size_t q = 0; q < n; q++) ss += ((double)scratch[q] - mean) * ((double)scratch[q] - mean);
    float vmin = scratch[0], vmax = scratch[0];
    for (size_t q = 1; q < n; q++) {
        vmin = scratch[q] < vmin ? scratch[q] : vmin;
        vmax = scratch[q] > vmax ? scratch[q] : vmax;
    }
    row->mean = mean;
    row->sd = n > 1 ? sqrt(ss / (double)(n - 1)) : NAN;
    row->min = vmin;
    row->max = vmax;
    size_t from = 0;
    row->p05 = quantile7(scratch, n, 0.05, &from);
    row->p25 = quantile7(scratch, n, 0.25, &from);
    row->p50 = quantile7(scratch, n, 0.50, &from);
    row->p75 = quantile7(scratch, n, 0.75, &from);
    row->p95 = quantile7(scratch, n, 0.95, &from);
}
