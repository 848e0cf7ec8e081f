#include "points_input.h"

#include "error.h"
#include "generic_csv.h"
#include "jeol_points.h"
#include "text.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int kr_epma_points_push(kr_epma_points *l, kr_epma_point **slot)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 32;
        kr_epma_point *p = realloc(l->items, cap * sizeof *p);
        if (!p) return kr_err(KR_ENOMEM, "out of memory for %zu points", cap);
        l->items = p;
        l->cap = cap;
    }
    *slot = &l->items[l->n++];
    memset(*slot, 0, sizeof **slot);
    (*slot)->acq_time_s = NAN;
    return KR_OK;
}

void kr_epma_points_free(kr_epma_points *l)
{
    if (!l) return;
    free(l->items);
    memset(l, 0, sizeof *l);
}

/* Read exactly `n` decimal digits at *s into *v. */
static int digits(const char **s, int n, long *v)
{
    *v = 0;
    for (int i = 0; i < n; i++, (*s)++) {
        if (!isdigit((unsigned char)**s)) return 0;
        *v = *v * 10 + (**s - '0');
    }
    return 1;
}

int kr_epma_parse_time(const char *s, double *out_s)
{
    long y, mo, d, h, mi, sec = 0;
    double frac = 0;
    if (!s) return KR_EINPUT;
    while (*s == ' ' || *s == '\t') s++;
    if (!digits(&s, 4, &y)) return KR_EINPUT;
    char sep = *s;
    if (sep != '-' && sep != '/') return KR_EINPUT;
    s++;
    if (!digits(&s, 2, &mo) || *s++ != sep || !digits(&s, 2, &d)) return KR_EINPUT;
    if (*s != 'T' && *s != ' ') return KR_EINPUT;
    s++;
    if (!digits(&s, 2, &h) || *s++ != ':' || !digits(&s, 2, &mi)) return KR_EINPUT;
    if (*s == ':') {
        s++;
        if (!digits(&s, 2, &sec)) return KR_EINPUT;
        if (*s == '.' && isdigit((unsigned char)s[1])) {
            double scale = 0.1;
            for (s++; isdigit((unsigned char)*s); s++, scale *= 0.1) frac += (*s - '0') * scale;
        }
    }
    if (*s == 'Z') s++;
    while (*s == ' ' || *s == '\t') s++;
    if (*s) return KR_EINPUT;
    if (kr_utc_seconds(y, mo, d, h, mi, (double)sec + frac, out_s)) return KR_EINPUT;
    return KR_OK;
}

static int has_suffix_ci(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && kr_streq_ci(s + a - b, suf);
}

int kr_epma_read_inputs(const char *const *paths, size_t n, const kr_atomic *at, kr_epma_points *unknowns,
                        kr_epma_points *standards)
{
    kr_epma_points all;
    memset(&all, 0, sizeof all);
    int rc = KR_OK;
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(paths[i], &st) != 0) {
            rc = kr_err(KR_EINPUT, "epma input %s does not exist", paths[i]);
            goto cleanup;
        }
        if (S_ISDIR(st.st_mode))
            rc = kr_jeol_read_tree(paths[i], at, &all);
        else if (has_suffix_ci(paths[i], ".csv"))
            rc = kr_epma_csv_read(paths[i], at, &all);
        else
            rc = kr_err(KR_EINPUT, "epma input %s: expected a JEOL folder or a .csv file", paths[i]);
        if (rc) goto cleanup;
    }
    for (size_t i = 0; i < all.n; i++) {
        kr_epma_point *p = NULL;
        if ((rc = kr_epma_points_push(all.items[i].is_standard ? standards : unknowns, &p))) goto cleanup;
        *p = all.items[i];
    }
cleanup:
    kr_epma_points_free(&all);
    return rc;
}

