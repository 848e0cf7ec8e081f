/* The QA report: one self-contained HTML file (inline CSS and SVG; no script, no network). */
#include "qa.h"

#include "error.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { CHART_W = 620, CHART_H = 220, PAD_L = 64, PAD_R = 16, PAD_T = 14, PAD_B = 40 };

static void esc(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        switch (*s) {
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '&': fputs("&amp;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static int isalnum_ascii(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* id-safe slug */
static void slug(char *out, size_t len, const char *a, const char *b)
{
    size_t n = 0;
    for (const char *p = a; p && *p && n + 2 < len; p++) out[n++] = (char)(isalnum_ascii(*p) ? *p : '_');
    if (b && n + 2 < len) out[n++] = '-';
    for (const char *p = b; p && *p && n + 1 < len; p++) out[n++] = (char)(isalnum_ascii(*p) ? *p : '_');
    out[n] = '\0';
}

static const char *const CLASS_NAME[3] = {"ok", "warn", "fail"};

static void fmt(char *buf, size_t len, double v, const char *f)
{
    if (isfinite(v))
        snprintf(buf, len, f, v);
    else
        snprintf(buf, len, "–");
}

/* A series for a control chart: value per session (NaN where none), flags per session. */
typedef struct {
    double *v;
    int *flags;
    double center, sigma;
} series;

/* One control chart as inline SVG. `ref` (NaN: none) and `ref_err` draw a reference band. `err`
 * (NULL: none) draws error bars. */
static void svg_chart(FILE *f, const kr_qa_data *d, const series *s, const double *err, double ref, double ref_err,
                      const char *ylabel)
{
    size_t n = d->nsessions;
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        if (isfinite(s->v[i])) {
            double e = err && isfinite(err[i]) ? err[i] : 0;
            lo = fmin(lo, s->v[i] - e);
            hi = fmax(hi, s->v[i] + e);
        }
    if (isfinite(s->center) && s->sigma > 0) {
        lo = fmin(lo, s->center - 3.5 * s->sigma);
        hi = fmax(hi, s->center + 3.5 * s->sigma);
    }
    if (isfinite(ref)) {
        double re = isfinite(ref_err) ? ref_err : 0;
        lo = fmin(lo, ref - re);
        hi = fmax(hi, ref + re);
    }
    if (!(hi > lo)) {
        double c = isfinite(lo) ? lo : 0;
        lo = c - 1;
        hi = c + 1;
    }
    double pw = CHART_W - PAD_L - PAD_R, ph = CHART_H - PAD_T - PAD_B;
#define X(i) (PAD_L + (n > 1 ? (double)(i) / (double)(n - 1) : 0.5) * pw)
#define Y(v) (PAD_T + (hi - (v)) / (hi - lo) * ph)
    fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">\n",
            CHART_W, CHART_H, CHART_W, CHART_H);
    fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%.0f\" height=\"%.0f\" class=\"plot\"/>\n", PAD_L, PAD_T, pw, ph);
    if (isfinite(ref)) {
        double re = isfinite(ref_err) ? ref_err : 0;
        fprintf(f, "<rect x=\"%d\" y=\"%.1f\" width=\"%.0f\" height=\"%.1f\" class=\"refband\"/>\n", PAD_L, Y(ref + re), pw,
                fmax(1.0, Y(ref - re) - Y(ref + re)));
        fprintf(f, "<line x1=\"%d\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" class=\"ref\"/>\n", PAD_L, PAD_L + pw, Y(ref), Y(ref));
    }
    if (isfinite(s->center) && s->sigma > 0) {
        static const struct {
            double k;
            const char *cls;
        } lines[] = {{0, "center"}, {2, "warn2"}, {-2, "warn2"}, {3, "act3"}, {-3, "act3"}};
        for (size_t k = 0; k < sizeof lines / sizeof lines[0]; k++) {
            double y = Y(s->center + lines[k].k * s->sigma);
            fprintf(f, "<line x1=\"%d\" x2=\"%.0f\" y1=\"%.1f\" y2=\"%.1f\" class=\"%s\"/>\n", PAD_L, PAD_L + pw, y, y,
                    lines[k].cls);
            if (lines[k].k != 0)
                fprintf(f, "<text x=\"%.0f\" y=\"%.1f\" class=\"lim\">%+.0fs</text>\n", PAD_L + pw - 2, y - 2, lines[k].k);
        }
    }
    /* y axis ticks: lo, mid, hi */
    for (int t = 0; t <= 2; t++) {
        double v = lo + (hi - lo) * t / 2.0;
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" class=\"tick\" text-anchor=\"end\">%.4g</text>\n", PAD_L - 4, Y(v) + 4, v);
    }
    fprintf(f, "<text x=\"12\" y=\"%.0f\" class=\"tick\" transform=\"rotate(-90 12 %.0f)\" text-anchor=\"middle\">", PAD_T + ph / 2,
            PAD_T + ph / 2);
    esc(f, ylabel);
    fputs("</text>\n", f);
    /* x labels: every k-th session */
    size_t step = n > 12 ? (n + 11) / 12 : 1;
    for (size_t i = 0; i < n; i += step) {
        fprintf(f, "<text x=\"%.1f\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">%zu</text>\n", X(i), CHART_H - PAD_B + 14,
                i + 1);
    }
    fprintf(f, "<text x=\"%.0f\" y=\"%d\" class=\"tick\" text-anchor=\"middle\">session</text>\n", PAD_L + pw / 2,
            CHART_H - 6);
    /* polyline through the values, then the points */
    fputs("<polyline class=\"series\" points=\"", f);
    for (size_t i = 0; i < n; i++)
        if (isfinite(s->v[i])) fprintf(f, "%.1f,%.1f ", X(i), Y(s->v[i]));
    fputs("\"/>\n", f);
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(s->v[i])) continue;
        if (err && isfinite(err[i]))
            fprintf(f, "<line x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\" class=\"errbar\"/>\n", X(i), X(i),
                    Y(s->v[i] - err[i]), Y(s->v[i] + err[i]));
        int fl = s->flags ? s->flags[i] : 0;
        const char *cls = fl & KR_WG_REJECT ? "pt fail" : fl & KR_WG_1_2S ? "pt warn" : "pt";
        char rules[64];
        kr_qa_rule_names(fl, rules, sizeof rules);
        fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%d\" class=\"%s\"><title>", X(i), Y(s->v[i]),
                fl & KR_WG_REJECT ? 6 : 4, cls);
        esc(f, d->sessions[i].name);
        fprintf(f, ": %.5g%s%s</title></circle>\n", s->v[i], *rules ? " — " : "", rules);
    }
    fputs("</svg>\n", f);
#undef X
#undef Y
}

typedef struct {
    char a[KR_QA_NAME], b[16];
} key2;

/* Distinct (a, b) keys in first-appearance order. */
static int add_key(key2 **keys, size_t *n, size_t *cap, const char *a, const char *b)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*keys)[i].a, a) && !strcmp((*keys)[i].b, b)) return KR_OK;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        key2 *p = realloc(*keys, nc * sizeof *p);
        if (!p) return kr_err(KR_ENOMEM, "out of memory");
        *keys = p;
        *cap = nc;
    }
    snprintf((*keys)[*n].a, sizeof (*keys)[*n].a, "%s", a);
    snprintf((*keys)[*n].b, sizeof (*keys)[*n].b, "%s", b);
    (*n)++;
    return KR_OK;
}

static const char CSS[] =
    "body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1320px}"
    "h1{margin-bottom:4px}h2{border-bottom:2px solid #ccc;padding-bottom:4px;margin-top:32px}"
    "table{border-collapse:collapse;margin:8px 0;font-size:13px}th,td{border:1px solid #ccc;padding:3px 8px;"
    "text-align:right}th{background:#f0f0f0}td.l,th.l{text-align:left}"
    "tr.ok td.cls{background:#e3f4e3}tr.warn td.cls,tr.warn td.l:first-child{background:#fff3cd}"
    "tr.fail td{background:#f8d7da}tr.fail td.cls{font-weight:bold}td.sc.ok{background:#e3f4e3}td.sc.warn{background:#fff3cd}"
    "td.sc.fail{background:#f1a7ae;font-weight:bold}"
    ".box{display:inline-block;padding:8px 14px;margin:4px 8px 4px 0;border-radius:6px;border:1px solid #bbb}"
    ".box.fail{background:#f8d7da;border-color:#c00}.box.ok{background:#e3f4e3}.box.warn{background:#fff3cd}"
    ".charts{display:flex;flex-wrap:wrap;gap:12px}figure.chart{margin:0;border:1px solid #ddd;padding:4px}"
    "figcaption{font-weight:bold;font-size:14px}figcaption .bad{color:#c00}"
    "svg .plot{fill:#fcfcfc;stroke:#999}svg .center{stroke:#2a6;stroke-width:1.5}"
    "svg .warn2{stroke:#e90;stroke-dasharray:6 4}svg .act3{stroke:#c00;stroke-dasharray:2 3;stroke-width:1.5}"
    "svg .ref{stroke:#36c;stroke-width:1.5}svg .refband{fill:#36c;fill-opacity:.12}"
    "svg .series{fill:none;stroke:#555;stroke-width:1}svg .pt{fill:#333}svg .pt.warn{fill:#e90}"
    "svg .pt.fail{fill:#c00;stroke:#000;stroke-width:1}svg .errbar{stroke:#555}"
    "svg text{font-size:11px;fill:#333}svg .lim{text-anchor:end;font-size:10px;fill:#777}"
    ".meta{color:#666}";

/* Per-session QA state, worst first: 3 failed run, 2 out of control, 1 warning, 0 ok. */
typedef struct {
    int state;
    char why[256];
} sess_state;

static void note(sess_state *s, int state, const char *what)
{
    if (state > s->state) s->state = state;
    size_t used = strlen(s->why);
    if (used < sizeof s->why - 2 && !strstr(s->why, what))
        snprintf(s->why + used, sizeof s->why - used, "%s%s", used ? "; " : "", what);
}

static int write_body(FILE *f, const kr_qa_data *d, const char *title)
{
    size_t n = d->nsessions;
    int rc = KR_OK;
    key2 *rmk = NULL, *epk = NULL, *agk = NULL;
    size_t nrmk = 0, crmk = 0, nepk = 0, cepk = 0, nagk = 0, cagk = 0;
    series *rms = NULL, *eps = NULL, *ags = NULL;
    double *agerr = NULL;
    sess_state *st = calloc(n ? n : 1, sizeof *st);
    if (!st) return kr_err(KR_ENOMEM, "out of memory");
    for (size_t i = 0; i < d->nrm && !rc; i++) rc = add_key(&rmk, &nrmk, &crmk, d->rm[i].material, d->rm[i].element);
    for (size_t i = 0; i < d->nepma && !rc; i++) rc = add_key(&epk, &nepk, &cepk, "", d->epma[i].element);
    for (size_t i = 0; i < d->nages && !rc; i++) rc = add_key(&agk, &nagk, &cagk, d->ages[i].material, "");
    if (rc) goto cleanup;
    rms = calloc(nrmk + 1, sizeof *rms);
    eps = calloc(nepk + 1, sizeof *eps);
    ags = calloc(nagk + 1, sizeof *ags);
    agerr = malloc((nagk + 1) * (n + 1) * sizeof *agerr);
    if (!rms || !eps || !ags || !agerr) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    /* series and their control limits */
    series *groups[3] = {rms, eps, ags};
    size_t ngroups[3] = {nrmk, nepk, nagk};
    for (int g = 0; g < 3; g++)
        for (size_t k = 0; k < ngroups[g]; k++) {
            series *s = &groups[g][k];
            s->v = malloc((n + 1) * sizeof *s->v);
            s->flags = calloc(n + 1, sizeof *s->flags);
            if (!s->v || !s->flags) {
                rc = kr_err(KR_ENOMEM, "out of memory");
                goto cleanup;
            }
            for (size_t i = 0; i < n; i++) s->v[i] = NAN;
        }
    for (size_t i = 0; i < (nagk + 1) * (n + 1); i++) agerr[i] = NAN;
    for (size_t i = 0; i < d->nrm; i++)
        for (size_t k = 0; k < nrmk; k++)
            if (!strcmp(rmk[k].a, d->rm[i].material) && !strcmp(rmk[k].b, d->rm[i].element))
                rms[k].v[d->rm[i].session] = d->rm[i].mean;
    for (size_t i = 0; i < d->nepma; i++)
        for (size_t k = 0; k < nepk; k++)
            if (!strcmp(epk[k].b, d->epma[i].element)) eps[k].v[d->epma[i].session] = d->epma[i].std_cps_na;
    for (size_t i = 0; i < d->nages; i++)
        for (size_t k = 0; k < nagk; k++)
            if (!strcmp(agk[k].a, d->ages[i].material)) {
                ags[k].v[d->ages[i].session] = d->ages[i].age_ma;
                agerr[k * (n + 1) + d->ages[i].session] = d->ages[i].err_ma;
            }
    for (int g = 0; g < 2; g++)
        for (size_t k = 0; k < ngroups[g]; k++) {
            series *s = &groups[g][k];
            kr_qa_robust_limits(s->v, n, &s->center, &s->sigma);
            kr_qa_westgard(s->v, n, s->center, s->sigma, s->flags);
        }
    /* R-4s within each session over its reference-glass controls */
    double *zrun = malloc((nrmk + 1) * sizeof *zrun);
    if (!zrun) {
        rc = kr_err(KR_ENOMEM, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < nrmk; k++)
            zrun[k] = rms[k].sigma > 0 ? (rms[k].v[i] - rms[k].center) / rms[k].sigma : NAN;
        if (!kr_qa_range_rule(zrun, nrmk)) continue;
        for (size_t k = 0; k < nrmk; k++)
            if (fabs(zrun[k]) > 2) rms[k].flags[i] |= KR_WG_R_4S;
    }
    free(zrun);
    for (int g = 0; g < 2; g++)
        for (size_t k = 0; k < ngroups[g]; k++) {
            series *s = &groups[g][k];
            for (size_t i = 0; i < n; i++) {
                char what[128], rules[64];
                kr_qa_rule_names(s->flags[i], rules, sizeof rules);
                snprintf(what, sizeof what, "%s%s%s %s", g == 0 ? rmk[k].a : "EPMA std ", g == 0 ? " " : "",
                         g == 0 ? rmk[k].b : epk[k].b, rules);
                if (s->flags[i] & KR_WG_REJECT)
                    note(&st[i], 2, what);
                else if (s->flags[i] & KR_WG_1_2S)
                    note(&st[i], 1, what);
            }
        }
    size_t n_score_fail = 0;
    for (size_t i = 0; i < d->nrm; i++) {
        int cz = kr_qa_score_class(d->rm[i].z), cc = kr_qa_score_class(d->rm[i].zeta);
        int c = cz > cc ? cz : cc;
        if (c >= 1) {
            char what[128];
            snprintf(what, sizeof what, "%s %s %s", d->rm[i].material, d->rm[i].element, c == 2 ? "|z| >= 3" : "|z| > 2");
            note(&st[d->rm[i].session], 1, what); /* a score is a warning for the session; the table says fail */
            n_score_fail += c == 2;
        }
    }
    for (size_t i = 0; i < d->nages; i++) {
        const kr_qa_age *a = &d->ages[i];
        /* reference uncertainty at 95% CL taken as 2 sigma */
        double rs = strstr(a->ref_err_type, "95") || strstr(a->ref_err_type, "2s") ? a->ref_err_ma / 2 : a->ref_err_ma;
        double z = (a->age_ma - a->ref_ma) / sqrt(a->err_ma * a->err_ma + rs * rs); /* zeta score, ISO 13528:2015 eq. 21 */
        int c = kr_qa_score_class(z);
        if (c >= 1) {
            char what[128];
            snprintf(what, sizeof what, "SIMS %s age %s", a->material, c == 2 ? "|zeta| >= 3" : "|zeta| > 2");
            note(&st[a->session], c, what); /* one age per session: its zeta is the SIMS control */
        }
    }
    size_t n_done = 0, n_failed = 0, n_ooc = 0, n_warn = 0;
    for (size_t i = 0; i < n; i++) {
        const char *s = d->sessions[i].status;
        if (!strcmp(s, "done") || !strcmp(s, "partial"))
            n_done++;
        else {
            n_failed++;
            note(&st[i], 3, !strcmp(s, "unreadable") ? "product unreadable" : "run failed");
        }
        if (st[i].state == 2) n_ooc++;
        if (st[i].state == 1) n_warn++;
    }

    /* ---- header and summary ---- */
    char now[32];
    time_t t = time(NULL);
    struct tm tmv;
    gmtime_r(&t, &tmv);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    fprintf(f, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>");
    esc(f, title);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", CSS);
    esc(f, title);
    fprintf(f, "</h1>\n<p class=\"meta\">kreep %s, generated %s; %zu sessions", KREEP_VERSION, now, n);
    if (n) {
        fputs(" from ", f);
        esc(f, d->sessions[0].time_utc[0] ? d->sessions[0].time_utc : d->sessions[0].name);
        fputs(" to ", f);
        esc(f, d->sessions[n - 1].time_utc[0] ? d->sessions[n - 1].time_utc : d->sessions[n - 1].name);
    }
    fputs(".</p>\n", f);
    fputs("<section id=\"summary\">\n<h2>Summary</h2>\n", f);
    fprintf(f, "<div class=\"box ok\">ran: <b>%zu</b></div>", n_done);
    fprintf(f, "<div class=\"box %s\">failed: <b>%zu</b></div>", n_failed ? "fail" : "ok", n_failed);
    fprintf(f, "<div class=\"box %s\">out of control: <b id=\"n-out-of-control\">%zu</b></div>", n_ooc ? "fail" : "ok", n_ooc);
    fprintf(f, "<div class=\"box %s\">warnings: <b>%zu</b></div>", n_warn ? "warn" : "ok", n_warn);
    fprintf(f, "<div class=\"box %s\">z/&zeta; fails: <b id=\"n-score-fail\">%zu</b></div>\n", n_score_fail ? "fail" : "ok",
            n_score_fail);
    fputs("<table id=\"summary-problems\">\n<tr><th class=\"l\">session</th><th class=\"l\">time</th><th class=\"l\">"
          "state</th><th class=\"l\">why</th></tr>\n", f);
    for (size_t i = 0; i < n; i++) {
        if (st[i].state < 2) continue;
        const char *cls = "fail";
        fprintf(f, "<tr class=\"%s\" data-session=\"", cls);
        esc(f, d->sessions[i].name);
        fputs("\"><td class=\"l\">", f);
        esc(f, d->sessions[i].name);
        fputs("</td><td class=\"l\">", f);
        esc(f, d->sessions[i].time_utc);
        fprintf(f, "</td><td class=\"l cls\">%s</td><td class=\"l\">", st[i].state == 3 ? "failed" : "out of control");
        esc(f, st[i].state == 3 && d->sessions[i].error[0] ? d->sessions[i].error : st[i].why);
        fputs("</td></tr>\n", f);
    }
    fputs("</table>\n</section>\n", f);

    /* ---- control charts ---- */
    fputs("<section id=\"control-charts\">\n<h2>Reference glasses: control charts</h2>\n<p>Session mean of each secondary "
          "reference glass and element. Centre line: median of the sessions; warning lines &plusmn;2&sigma;, action "
          "lines &plusmn;3&sigma; with &sigma; = 1.4826 &times; median absolute deviation (robust to the sessions it must "
          "flag). Westgard rules (Westgard, Barry, Hunt &amp; Groth 1981, Clin. Chem. 27, 493): 1-3s, 2-2s, R-4s, "
          "4-1s, 10-x reject (red), 1-2s warns (orange).</p>\n<div class=\"charts\">\n", f);
    for (size_t k = 0; k < nrmk; k++) {
        char id[128], ylabel[96];
        slug(id, sizeof id, rmk[k].a, rmk[k].b);
        int nrej = 0;
        for (size_t i = 0; i < n; i++) nrej += (rms[k].flags[i] & KR_WG_REJECT) != 0;
        fprintf(f, "<figure class=\"chart\" id=\"cc-%s\" data-rejected=\"%d\"><figcaption>", id, nrej);
        esc(f, rmk[k].a);
        fputs(" &middot; ", f);
        esc(f, rmk[k].b);
        if (nrej) fprintf(f, " <span class=\"bad\">(%d out of control)</span>", nrej);
        fputs("</figcaption>\n", f);
        snprintf(ylabel, sizeof ylabel, "%s mean", rmk[k].b);
        svg_chart(f, d, &rms[k], NULL, NAN, NAN, ylabel);
        fputs("</figure>\n", f);
    }
    if (!nrmk) fputs("<p>No /qa/reference_materials table in these products.</p>\n", f);
    fputs("</div>\n</section>\n", f);


    /* ---- EPMA standard intensities ---- */
    fputs("<section id=\"epma-drift\">\n<h2>EPMA standard intensities</h2>\n<p>Net count rate per nA of the standard of "
          "each element (mean over the session's points), with the same control lines and rules.</p>\n<div "
          "class=\"charts\">\n", f);
    for (size_t k = 0; k < nepk; k++) {
        char id[64], ylabel[64];
        slug(id, sizeof id, epk[k].b, NULL);
        int nrej = 0;
        for (size_t i = 0; i < n; i++) nrej += (eps[k].flags[i] & KR_WG_REJECT) != 0;
        fprintf(f, "<figure class=\"chart\" id=\"epma-%s\" data-rejected=\"%d\"><figcaption>EPMA standard ", id, nrej);
        esc(f, epk[k].b);
        if (nrej) fprintf(f, " <span class=\"bad\">(%d out of control)</span>", nrej);
        fputs("</figcaption>\n", f);
        snprintf(ylabel, sizeof ylabel, "%s cps/nA", epk[k].b);
        svg_chart(f, d, &eps[k], NULL, NAN, NAN, ylabel);
        fputs("</figure>\n", f);
    }
    if (!nepk) fputs("<p>No EPMA standard intensities (/epma/points) in these products.</p>\n", f);
    fputs("</div>\n<p>Drift within each session, % (last point against the first):</p>\n<table id=\"epma-table\">\n"
          "<tr><th class=\"l\">session</th>", f);
    for (size_t k = 0; k < nepk; k++) {
        fputs("<th>", f);
        esc(f, epk[k].b);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (size_t i = 0; i < n; i++) {
        int any = 0;
        for (size_t j = 0; j < d->nepma; j++) any |= d->epma[j].session == i;
        if (!any) continue;
        fputs("<tr><td class=\"l\">", f);
        esc(f, d->sessions[i].name);
        fputs("</td>", f);
        for (size_t k = 0; k < nepk; k++) {
            double drift = NAN;
            for (size_t j = 0; j < d->nepma; j++) {
                const kr_qa_epma *e = &d->epma[j];
                /* within-session drift: (last - first) / first */
                if (e->session == i && !strcmp(e->element, epk[k].b) && e->first_cps_na != 0)
                    drift = 100.0 * (e->last_cps_na - e->first_cps_na) / e->first_cps_na;
            }
            char b[32];
            fmt(b, sizeof b, drift, "%+.2f");
            fprintf(f, "<td>%s</td>", b);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n</section>\n", f);


    /* ---- SIMS ages ---- */
    fputs("<section id=\"sims-ages\">\n<h2>SIMS reference-material ages</h2>\n<p>Weighted-mean <sup>207</sup>Pb/"
          "<sup>206</sup>Pb age (&plusmn;1&sigma;) against the reference value (blue band, calib/"
          "sims_reference_materials.csv).</p>\n<div class=\"charts\">\n", f);
    for (size_t k = 0; k < nagk; k++) {
        double ref = NAN, ref_err = NAN;
        for (size_t i = 0; i < d->nages; i++)
            if (!strcmp(d->ages[i].material, agk[k].a)) ref = d->ages[i].ref_ma, ref_err = d->ages[i].ref_err_ma;
        char id[64];
        slug(id, sizeof id, agk[k].a, NULL);
        fprintf(f, "<figure class=\"chart\" id=\"sims-%s\"><figcaption>SIMS ", id);
        esc(f, agk[k].a);
        fputs(" age</figcaption>\n", f);
        ags[k].center = NAN;
        svg_chart(f, d, &ags[k], agerr + k * (n + 1), ref, ref_err, "age (Ma)");
        fputs("</figure>\n", f);
    }
    if (!nagk) fputs("<p>No SIMS reference-material ages (/sims/ages) in these products.</p>\n", f);
    fputs("</div>\n<table id=\"sims-table\">\n<tr><th class=\"l\">session</th><th class=\"l\">material</th><th>age Ma</th>"
          "<th>&plusmn;1&sigma;</th><th>reference Ma</th><th>&zeta;</th><th class=\"l\">class</th></tr>\n", f);
    for (size_t i = 0; i < d->nages; i++) {
        const kr_qa_age *a = &d->ages[i];
        double rs = strstr(a->ref_err_type, "95") || strstr(a->ref_err_type, "2s") ? a->ref_err_ma / 2 : a->ref_err_ma;
        double z = (a->age_ma - a->ref_ma) / sqrt(a->err_ma * a->err_ma + rs * rs); /* ISO 13528:2015 eq. 21 */
        int c = kr_qa_score_class(z);
        char b1[32], b2[32], b3[32], b4[32];
        fmt(b1, sizeof b1, a->age_ma, "%.2f");
        fmt(b2, sizeof b2, a->err_ma, "%.2f");
        fmt(b3, sizeof b3, a->ref_ma, "%.2f");
        fmt(b4, sizeof b4, z, "%.2f");
        fprintf(f, "<tr class=\"%s\" data-session=\"", c >= 0 ? CLASS_NAME[c] : "");
        esc(f, d->sessions[a->session].name);
        fputs("\"><td class=\"l\">", f);
        esc(f, d->sessions[a->session].name);
        fputs("</td><td class=\"l\">", f);
        esc(f, a->material);
        fprintf(f, "</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td class=\"l cls\">%s</td></tr>\n", b1, b2, b3, b4,
                c >= 0 ? CLASS_NAME[c] : "n/a");
    }
    fputs("</table>\n</section>\n", f);

    /* ---- z / zeta: one row per session, one cell per glass and element ---- */
    fputs("<section id=\"scores\">\n<h2>z and &zeta; scores</h2>\n<p>Each cell: z / &zeta;. |score| &le; 2 ok, "
          "2&ndash;3 warning, &ge; 3 fail (ISO 13528); the row takes its worst cell.</p>\n<table id=\"score-table\">\n"
          "<tr><th class=\"l\">session</th>", f);
    for (size_t k = 0; k < nrmk; k++) {
        fputs("<th>", f);
        esc(f, rmk[k].a);
        fputs(" ", f);
        esc(f, rmk[k].b);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (size_t i = 0; i < n; i++) {
        int worst = -1, any = 0;
        for (size_t j = 0; j < d->nrm; j++) {
            if (d->rm[j].session != i) continue;
            int cz = kr_qa_score_class(d->rm[j].z), cc = kr_qa_score_class(d->rm[j].zeta);
            any = 1;
            if (cz > worst) worst = cz;
            if (cc > worst) worst = cc;
        }
        if (!any) continue;
        fprintf(f, "<tr class=\"%s\" data-session=\"", worst >= 0 ? CLASS_NAME[worst] : "");
        esc(f, d->sessions[i].name);
        fputs("\"><td class=\"l\">", f);
        esc(f, d->sessions[i].name);
        fputs("</td>", f);
        for (size_t k = 0; k < nrmk; k++) {
            const kr_qa_rm *r = NULL;
            for (size_t j = 0; j < d->nrm; j++)
                if (d->rm[j].session == i && !strcmp(d->rm[j].material, rmk[k].a) && !strcmp(d->rm[j].element, rmk[k].b))
                    r = &d->rm[j];
            if (!r) {
                fputs("<td>&ndash;</td>", f);
                continue;
            }
            int cz = kr_qa_score_class(r->z), cc = kr_qa_score_class(r->zeta), c = cz > cc ? cz : cc;
            char zz[32], ze[32];
            fmt(zz, sizeof zz, r->z, "%.2f");
            fmt(ze, sizeof ze, r->zeta, "%.2f");
            fprintf(f, "<td class=\"sc %s\">%s / %s</td>", c >= 0 ? CLASS_NAME[c] : "na", zz, ze);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n</section>\n", f);

    /* ---- RSD per session ---- */
    fputs("<section id=\"rsd\">\n<h2>RSD per session (%)</h2>\n<table>\n<tr><th class=\"l\">session</th>", f);
    for (size_t k = 0; k < nrmk; k++) {
        fputs("<th>", f);
        esc(f, rmk[k].a);
        fputs(" ", f);
        esc(f, rmk[k].b);
        fputs("</th>", f);
    }
    fputs("</tr>\n", f);
    for (size_t i = 0; i < n; i++) {
        fputs("<tr><td class=\"l\">", f);
        esc(f, d->sessions[i].name);
        fputs("</td>", f);
        for (size_t k = 0; k < nrmk; k++) {
            double v = NAN;
            for (size_t j = 0; j < d->nrm; j++)
                if (d->rm[j].session == i && !strcmp(d->rm[j].material, rmk[k].a) && !strcmp(d->rm[j].element, rmk[k].b))
                    v = d->rm[j].rsd_pct;
            char b[32];
            fmt(b, sizeof b, v, "%.2f");
            fprintf(f, "<td>%s</td>", b);
        }
        fputs("</tr>\n", f);
    }
    fputs("</table>\n</section>\n", f);


    /* ---- sessions ---- */
    fputs("<section id=\"sessions\">\n<h2>Sessions</h2>\n<table>\n<tr><th>#</th><th class=\"l\">session</th><th class=\"l\">"
          "instrument</th><th class=\"l\">time (UTC)</th><th class=\"l\">run</th><th class=\"l\">QA</th></tr>\n", f);
    for (size_t i = 0; i < n; i++) {
        static const char *const state_cls[4] = {"ok", "warn", "fail", "fail"};
        static const char *const state_txt[4] = {"ok", "warning", "out of control", "failed"};
        fprintf(f, "<tr class=\"%s\"><td>%zu</td><td class=\"l\">", state_cls[st[i].state], i + 1);
        esc(f, d->sessions[i].name);
        fputs("</td><td class=\"l\">", f);
        esc(f, d->sessions[i].instrument);
        fputs("</td><td class=\"l\">", f);
        esc(f, d->sessions[i].time_utc);
        fputs("</td><td class=\"l\">", f);
        esc(f, d->sessions[i].status);
        fprintf(f, "</td><td class=\"l cls\">%s</td></tr>\n", state_txt[st[i].state]);
    }
    fputs("</table>\n</section>\n", f);

    fputs("<footer class=\"meta\"><p>Control rules: Westgard J.O., Barry P.L., Hunt M.R., Groth T. (1981) A multi-rule "
          "Shewhart chart for quality control in clinical chemistry. Clin. Chem. 27, 493&ndash;501. Robust sigma: "
          "Rousseeuw &amp; Croux (1993) JASA 88, 1273. Scores: ISO 13528:2015.</p></footer>\n</body>\n</html>\n", f);
cleanup:
    for (int g = 0; g < 3; g++) {
        series *arr = g == 0 ? rms : g == 1 ? eps : ags;
        size_t cnt = g == 0 ? nrmk : g == 1 ? nepk : nagk;
        for (size_t k = 0; arr && k < cnt; k++) {
            free(arr[k].v);
            free(arr[k].flags);
        }
    }
    free(rms);
    free(eps);
    free(ags);
    free(agerr);
    free(rmk);
    free(epk);
    free(agk);
    free(st);
    return rc;
}

int kr_qa_write_html(const kr_qa_data *d, const char *out_path, const char *title)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%ld", out_path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (!f) return kr_err(KR_EIO, "cannot create %s: %s", tmp, strerror(errno));
    int rc = write_body(f, d, title ? title : "kreep QA report");
    if (!rc && (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) != 0))
        rc = kr_err(KR_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (fclose(f) != 0 && !rc) rc = kr_err(KR_EIO, "cannot write %s: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, out_path) != 0) rc = kr_err(KR_EIO, "cannot rename %s to %s: %s", tmp, out_path, strerror(errno));
    if (rc) {
        remove(tmp);
        return kr_err(rc, "QA report %s not written (any previous file is unchanged)", out_path);
    }
    /* make the rename durable: fsync the folder */
    char dir[4096];
    const char *slash = strrchr(out_path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - out_path) + (slash == out_path) : 1, slash ? out_path : ".");
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    return KR_OK;
}
