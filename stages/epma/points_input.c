#include "points_input.h"

#include "error.h"
#include "generic_csv.h"
#include "jeol_points.h"
#include "text.h"

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
    return KR_OK;
}

void kr_epma_points_free(kr_epma_points *l)
{
    if (!l) return;
    free(l->items);
    memset(l, 0, sizeof *l);
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

