/* Westgard multirule control and robust control limits. */
#include "qa.h"
#include "robust.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_sorted(const double *v, size_t n)
{
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

size_t kr_qa_robust_limits(const double *x, size_t n, double *center, double *sigma)
{
    *center = NAN;
    *sigma = NAN;
    double *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) v[m++] = x[i];
    if (m > 0) {
        qsort(v, m, sizeof *v, cmp_double);
        double med = median_sorted(v, m);
        for (size_t i = 0; i < m; i++) v[i] = fabs(v[i] - med);
        qsort(v, m, sizeof *v, cmp_double);
        *center = med;
        *sigma = m >= 2 ? KR_MAD_TO_SD * median_sorted(v, m) : NAN; /* consistent for normal data */
    }
    free(v);
    return m;
}

/* Westgard, Barry, Hunt & Groth 1981 (Clin. Chem. 27, 493): rules on z = (x - mean) / sigma. */
void kr_qa_westgard(const double *x, size_t n, double mean, double sigma, int *flags)
{
    for (size_t i = 0; i < n; i++) flags[i] = 0;
    if (!(sigma > 0) || !isfinite(mean)) return;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    double *z = malloc((n ? n : 1) * sizeof *z);
    if (!idx || !z) goto cleanup;
    size_t m = 0; /* finite values only, in order */
    for (size_t i = 0; i < n; i++)
        if (isfinite(x[i])) {
            idx[m] = i;
            z[m++] = (x[i] - mean) / sigma;
        }
    for (size_t k = 0; k < m; k++) {
        double a = fabs(z[k]);
        if (a > 2) flags[idx[k]] |= KR_WG_1_2S;
        if (a > 3) flags[idx[k]] |= KR_WG_1_3S;
        if (k >= 1) {
            double p = z[k - 1], c = z[k];
            if ((p > 2 && c > 2) || (p < -2 && c < -2)) flags[idx[k]] |= KR_WG_2_2S;
        }
        if (k >= 3) {
            int up = 1, dn = 1;
            for (size_t j = k - 3; j <= k; j++) {
                up &= z[j] > 1;
                dn &= z[j] < -1;
            }
            if (up || dn) flags[idx[k]] |= KR_WG_4_1S;
        }
        if (k >= 9) {
            int up = 1, dn = 1;
            for (size_t j = k - 9; j <= k; j++) {
                up &= z[j] > 0;
                dn &= z[j] < 0;
            }
            if (up || dn) flags[idx[k]] |= KR_WG_10X;
        }
    }
cleanup:
    free(idx);
    free(z);
}

int kr_qa_range_rule(const double *z, size_t n)
{
    int hi = 0, lo = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(z[i])) continue;
        hi |= z[i] > 2;
        lo |= z[i] < -2;
    }
    return hi && lo; /* R-4s: range of one run's controls beyond 4 sigma (Westgard et al. 1981) */
}

void kr_qa_rule_names(int flags, char *buf, size_t len)
{
    static const struct {
        int bit;
        const char *name;
    } rules[] = {{KR_WG_1_3S, "1-3s"}, {KR_WG_2_2S, "2-2s"}, {KR_WG_R_4S, "R-4s"},
                 {KR_WG_4_1S, "4-1s"}, {KR_WG_10X, "10-x"}, {KR_WG_1_2S, "1-2s"}};
    if (len == 0) return;
    buf[0] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        if (!(flags & rules[i].bit)) continue;
        /* 1-2s is only a warning: named when no rejection rule fired */
        if (rules[i].bit == KR_WG_1_2S && (flags & KR_WG_REJECT)) continue;
        int w = snprintf(buf + used, len - used, "%s%s", used ? " " : "", rules[i].name);
        if (w < 0 || (size_t)w >= len - used) break;
        used += (size_t)w;
    }
}

int kr_qa_score_class(double score)
{
    if (!isfinite(score)) return -1;
    double a = fabs(score);
    return a <= 2 ? 0 : a < 3 ? 1 : 2;
}
