/* JEOL map readers: .cnd conditions (key/value and JXA-8800 styles, split into entries by the shared
 * JEOL parser jeol.h), CSV matrices, raw binary .map. */
#include "map_read.h"

#include "error.h"
#include "jeol.h"
#include "text.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void copy_ascii(char *dst, size_t n, const char *src)
{
    size_t j = 0;
    for (; *src && j + 1 < n; src++)
        if ((unsigned char)*src >= 0x20 && (unsigned char)*src < 0x7f) dst[j++] = *src;
    dst[j] = '\0';
    while (j > 0 && dst[j - 1] == ' ') dst[--j] = '\0';
}

static void cnd_init(kr_map_cnd *c)
{
    memset(c, 0, sizeof *c);
    c->pixel_x_um = c->pixel_y_um = c->dwell_ms = NAN;
    c->accel_kv = c->current_a = c->current_pre_a = c->current_post_a = NAN;
    c->count_max = c->count_min = NAN;
    for (int i = 0; i < 5; i++)
        for (int j = 0; j < 3; j++) c->stage_mm[i][j] = NAN;
}

static void chan_init(kr_map_channel *ch)
{
    memset(ch, 0, sizeof *ch);
    ch->channel = -1;
    ch->peak_mm = ch->back_minus_mm = ch->back_plus_mm = NAN;
    ch->max_value = ch->min_value = ch->ave_value = NAN;
}

/* Parse up to n whitespace-separated doubles; returns how many parsed (stops at the first non-number). */
static int parse_doubles(const char *s, double *v, int n)
{
    int k = 0;
    while (k < n) {
        while (*s && isspace((unsigned char)*s)) s++;
        if (!*s) break;
        char *end;
        errno = 0;
        double x = strtod(s, &end);
        if (end == s || errno == ERANGE || !(end[0] == '\0' || isspace((unsigned char)end[0]))) break;
        v[k++] = x;
        s = end;
    }
    return k;
}

/* A whole number read as a double, made an integer safely: casting a huge double to an integer is
 * undefined behaviour, so anything negative, non-integral or above 1e9 becomes -1, which the checks on
 * pixel counts, byte lengths and channel numbers reject. */
static long as_count(double x) { return (x >= 0 && x <= 1e9 && x == floor(x)) ? (long)x : -1; }

static int need_doubles(const char *path, long line, const char *key, const char *val, double *v, int n)
{
    if (parse_doubles(val, v, n) != n)
        return kr_err_at(KR_EINPUT, path, line, "%s: expected %d number%s, found \"%s\"", key, n,
                         n > 1 ? "s" : "", val);
    return KR_OK;
}

/* ---- key/value style ("$KEY value", %N channel index, %N_M sub-index) ---- */

static kr_map_channel *chan_at(kr_map_cnd *c, int idx, const char *path, long line, int *rc)
{
    if (idx < 0 || idx >= KR_MAP_MAX_ELEM) {
        *rc = kr_err_at(KR_EINPUT, path, line, "channel index %%%d outside 0..%d", idx, KR_MAP_MAX_ELEM - 1);
        return NULL;
    }
    while (c->nchan <= idx) chan_init(&c->chan[c->nchan++]);
    return &c->chan[idx];
}

static int parse_keyvalue(const char *path, const kr_jeol_file *jf, kr_map_cnd *c)
{
    int rc = KR_OK;
    long pixels_line = 0;
    for (size_t ei = 0; ei < jf->n; ei++) {
        const char *name = jf->entries[ei].key, *val = jf->entries[ei].value;
        int idx = jf->entries[ei].index, sub = jf->entries[ei].sub;
        long ln = jf->entries[ei].line;
        double v[3];
        kr_map_channel *ch = NULL;
        if (strncmp(name, "XM_ELEM_", 8) == 0 && idx >= 0) {
            ch = chan_at(c, idx, path, ln, &rc);
            if (!ch) return rc;
        }
        if (!strcmp(name, "XM_AP_SA_PIXELS") || !strcmp(name, "XM_AP_BSA_PIXELS")) {
            if ((rc = need_doubles(path, ln, name, val, v, 2))) return rc;
            if (v[0] < 1 || v[1] < 1 || v[0] != floor(v[0]) || v[1] != floor(v[1]) || v[0] > 1e6 || v[1] > 1e6)
                return kr_err_at(KR_EINPUT, path, ln, "%s: pixel counts must be positive integers, found \"%s\"",
                                 name, val);
            c->nx = as_count(v[0]);
            c->ny = as_count(v[1]);
            c->beam_scan = name[6] == 'B';
            pixels_line = ln;
        } else if (!strcmp(name, "XM_AP_SA_PIXEL_SIZE")) {
            if ((rc = need_doubles(path, ln, name, val, v, 2))) return rc;
            c->pixel_x_um = v[0];
            c->pixel_y_um = v[1];
        } else if (!strcmp(name, "XM_AP_SA_DWELL_TIME") || !strcmp(name, "XM_AP_BSA_DWELL_TIME")) {
            if ((rc = need_doubles(path, ln, name, val, v, 1))) return rc;
            c->dwell_ms = v[0];
        } else if (!strcmp(name, "XM_AP_SA_STAGE_POS") && sub >= 0 && sub < 5) {
            if ((rc = need_doubles(path, ln, name, val, v, 3))) return rc;
            memcpy(c->stage_mm[sub], v, sizeof(double) * 3);
        } else if (!strcmp(name, "XM_AP_BSA_STAGE_POS") && sub < 0) {
            if ((rc = need_doubles(path, ln, name, val, v, 3))) return rc;
            memcpy(c->stage_mm[0], v, sizeof(double) * 3);
        } else if (!strcmp(name, "XM_EC_ACCEL_VOLT")) {
            if ((rc = need_doubles(path, ln, name, val, v, 1))) return rc;
            c->accel_kv = v[0];
        } else if (!strcmp(name, "XM_DATA_PROBE_CURRENT")) {
            if ((rc = need_doubles(path, ln, name, val, v, 1))) return rc;
            c->current_a = v[0];
        } else if (!strcmp(name, "XM_DATA_PROBE_CURRENT_PRE")) {
            if ((rc = need_doubles(path, ln, name, val, v, 1))) return rc;
            c->current_pre_a = v[0];
        } else if (!strcmp(name, "XM_DATA_PROBE_CURRENT_POST")) {
            if ((rc = need_doubles(path, ln, name, val, v, 1))) return rc;
            c->current_post_a = v[0];
        } else if (!strcmp(name, "XM_DATA_COUNT_MAX")) {
            if ((rc = need_doubles(path, ln, name, val, v, 1))) return rc;
            c->count_max = v[0];
        } else if (!strcmp(name, "XM_DATA_COUNT_MIN")) {
            if ((rc = need_doubles(path, ln, name, val, v, 1))) return rc;
            c->count_min = v[0];
        } else if (!strcmp(name, "XM_AP_COMMENT") && idx == 0) {
            copy_ascii(c->comment, sizeof c->comment, val);
        } else if (ch && !strcmp(name, "XM_ELEM_NAME")) {
            copy_ascii(ch->element, sizeof ch->element, val);
        } else if (ch && !strcmp(name, "XM_ELEM_WDS_XRAY")) {
            copy_ascii(ch->xray, sizeof ch->xray, val);
        } else if (ch && !strcmp(name, "XM_ELEM_WDS_CRYSTAL_NAME")) {
            copy_ascii(ch->crystal, sizeof ch->crystal, val);
        } else if (ch && !strcmp(name, "XM_ELEM_WDS_CHANNEL_NO")) {
            if ((rc = need_doubles(path, ln, name, val, v, 1))) return rc;
            ch->channel = (int)as_count(v[0]);
        } else if (ch && !strcmp(name, "XM_ELEM_WDS_PEAK")) {
            if ((rc = need_doubles(path, ln, name, val, v, 1))) return rc;
            ch->peak_mm = v[0];
        } else if (ch && !strcmp(name, "XM_ELEM_WDS_BACK_MINUS")) {
            if ((rc = need_doubles(path, ln, name, val, v, 1))) return rc;
            ch->back_minus_mm = v[0];
        } else if (ch && !strcmp(name, "XM_ELEM_WDS_BACK_PLUS")) {
            if ((rc = need_doubles(path, ln, name, val, v, 1))) return rc;
            ch->back_plus_mm = v[0];
        }
    }
    if (!pixels_line)
        return kr_err_at(KR_EINPUT, path, 0, "no $XM_AP_SA_PIXELS%%0 (or $XM_AP_BSA_PIXELS%%0): not a map .cnd");
    if (!isfinite(c->dwell_ms))
        return kr_err_at(KR_EINPUT, path, 0, "no $XM_AP_SA_DWELL_TIME%%0: the map's dwell time is unknown");
    /* a key/value map file holds one channel's data: its count range applies to that channel */
    if (c->nchan == 1) {
        c->chan[0].max_value = c->count_max;
        c->chan[0].min_value = c->count_min;
    }
    /* drop channels whose name is empty (data006.cnd: "$XM_ELEM_NAME%0 " with nothing) */
    int k = 0;
    for (int i = 0; i < c->nchan; i++)
        if (c->chan[i].element[0]) c->chan[k++] = c->chan[i];
    c->nchan = k;
    return KR_OK;
}

/* ---- JXA-8800 style: "value<blanks>description" ---- */

/* The value of an entry whose description starts with `desc` (NULL if the entry is something else). */
static const char *old_value(const kr_jeol_entry *e, const char *desc)
{
    return strncmp(e->key, desc, strlen(desc)) == 0 ? e->value : NULL;
}

static int parse_jxa8800(const char *path, const kr_jeol_file *jf, kr_map_cnd *c)
{
    int rc = KR_OK;
    kr_map_channel *ch = NULL;
    double v[3];
    int have_nx = 0, have_ny = 0;
    double start_mm[3] = {NAN, NAN, NAN};
    for (size_t ei = 0; ei < jf->n; ei++) {
        const kr_jeol_entry *line = &jf->entries[ei];
        long ln = line->line;
        const char *val;
#define OLD_NUM(desc, n, dst_expr)                                                     \
    if ((val = old_value(line, desc))) {                                                \
        if ((rc = need_doubles(path, ln, desc, val, v, n))) return rc;                 \
        dst_expr;                                                                       \
        continue;                                                                       \
    }
        if ((val = old_value(line, "Element Name No."))) {
            if (c->nchan >= KR_MAP_MAX_ELEM)
                return kr_err_at(KR_EINPUT, path, ln, "more than %d elements", KR_MAP_MAX_ELEM);
            ch = &c->chan[c->nchan++];
            chan_init(ch);
            copy_ascii(ch->element, sizeof ch->element, val);
            if (!ch->element[0]) return kr_err_at(KR_EINPUT, path, ln, "empty element name");
            continue;
        }
        OLD_NUM("X-axis Step Number", 1, (c->nx = as_count(v[0]), have_nx = 1))
        OLD_NUM("Y-axis Step Number", 1, (c->ny = as_count(v[0]), have_ny = 1))
        OLD_NUM("X Step Size", 1, c->pixel_x_um = v[0])
        OLD_NUM("Y Step Size", 1, c->pixel_y_um = v[0])
        OLD_NUM("Dwell Time [msec]", 1, c->dwell_ms = v[0])
        OLD_NUM("Data Byte Length", 1, c->data_bytes = (int)as_count(v[0]))
        OLD_NUM("EOS Acc. Voltage", 1, c->accel_kv = v[0])
        OLD_NUM("Probe Current Avg, Before After", 3,
                (c->current_a = v[0], c->current_pre_a = v[1], c->current_post_a = v[2]))
        OLD_NUM("Measurement Center Position X", 1, c->stage_mm[0][0] = v[0])
        OLD_NUM("Measurement Center Position Y", 1, c->stage_mm[0][1] = v[0])
        OLD_NUM("Measurement Center Position Z", 1, c->stage_mm[0][2] = v[0])
        OLD_NUM("Measurement Start Position X", 1, start_mm[0] = v[0])
        OLD_NUM("Measurement Start Position Y", 1, start_mm[1] = v[0])
        OLD_NUM("Measurement Start Position Z", 1, start_mm[2] = v[0])
        if ((val = old_value(line, "Stage[S] or Beam[B] Scan"))) {
            c->beam_scan = val[0] == 'B';
            continue;
        }
        if (ch) {
            if ((val = old_value(line, "X-ray Name"))) {
                copy_ascii(ch->xray, sizeof ch->xray, val);
                continue;
            }
            if ((val = old_value(line, "Crystal Name"))) {
                copy_ascii(ch->crystal, sizeof ch->crystal, val);
                continue;
            }
            OLD_NUM("Channel Number", 1, ch->channel = (int)as_count(v[0]))
            OLD_NUM("Peak Position [mm]", 1, ch->peak_mm = v[0])
            OLD_NUM("Max Value", 1, ch->max_value = v[0])
            OLD_NUM("Min Value", 1, ch->min_value = v[0])
            OLD_NUM("Ave Value", 1, ch->ave_value = v[0])
        } else if (!c->comment[0] && !line->value[0] && isalpha((unsigned char)line->key[0])) {
            copy_ascii(c->comment, sizeof c->comment, line->key); /* the guide/comment line (no value) */
        }
#undef OLD_NUM
    }
    if (!have_nx || !have_ny || c->nx < 1 || c->ny < 1)
        return kr_err_at(KR_EINPUT, path, 0, "no positive \"X-axis Step Number\"/\"Y-axis Step Number\": not a map .cnd");
    if (!isfinite(c->dwell_ms)) return kr_err_at(KR_EINPUT, path, 0, "no \"Dwell Time [msec]\" line");
    if (c->data_bytes && c->data_bytes != 2 && c->data_bytes != 4)
        return kr_err_at(KR_EINPUT, path, 0, "Data Byte Length %d: expected 2 or 4", c->data_bytes);
    (void)start_mm; /* the start corner: kept implicit (centre and pixel size define the axes) */
    return KR_OK;
}

static int map_cnd_from_jeol(const char *name, const kr_jeol_file *jf, kr_map_cnd *out);

int kr_map_cnd_parse(const char *name, const char *buf, size_t len, kr_map_cnd *out)
{
    kr_jeol_file jf;
    int rc = kr_jeol_parse_mem(name, buf, len, &jf);
    if (!rc) rc = map_cnd_from_jeol(name, &jf, out);
    kr_jeol_free(&jf);
    return rc;
}

static int map_cnd_from_jeol(const char *name, const kr_jeol_file *jf, kr_map_cnd *out)
{
    cnd_init(out);
    int rc;
    if (!jf->old_style) {
        out->style = KR_CND_KEYVALUE;
        rc = parse_keyvalue(name, jf, out);
    } else {
        out->style = KR_CND_JXA8800;
        rc = parse_jxa8800(name, jf, out);
    }
    if (rc) return rc;
    if (out->nx * out->ny > 100000000L)
        return kr_err_at(KR_EINPUT, name, 0, "%ld x %ld pixels: more than 1e8", out->nx, out->ny);
    if (!(out->dwell_ms > 0)) return kr_err_at(KR_EINPUT, name, 0, "dwell time %g ms: must be > 0", out->dwell_ms);
    return KR_OK;
}

int kr_map_cnd_read(const char *path, kr_map_cnd *out)
{
    kr_jeol_file jf;
    int rc = kr_jeol_read(path, &jf);
    if (!rc) rc = map_cnd_from_jeol(path, &jf, out);
    kr_jeol_free(&jf);
    return rc;
}

int kr_map_cnd_find(const kr_map_cnd *c, const char *element)
{
    for (int i = 0; i < c->nchan; i++)
        if (kr_streq_ci(c->chan[i].element, element)) return i;
    return -1;
}

/* ---- binary maps ---- */

static uint32_t rd32(const unsigned char *b, int big)
{
    return big ? (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3]
               : (uint32_t)b[3] << 24 | (uint32_t)b[2] << 16 | (uint32_t)b[1] << 8 | b[0];
}

static double decode(const unsigned char *b, kr_mapbin_type type, int big)
{
    switch (type) {
    case KR_MAPBIN_U16: return big ? (double)((unsigned)b[0] << 8 | b[1]) : (double)((unsigned)b[1] << 8 | b[0]);
    case KR_MAPBIN_I16: {
        uint16_t u = big ? (uint16_t)((unsigned)b[0] << 8 | b[1]) : (uint16_t)((unsigned)b[1] << 8 | b[0]);
        int16_t s;
        memcpy(&s, &u, 2);
        return s;
    }
    case KR_MAPBIN_U32: return rd32(b, big);
    case KR_MAPBIN_I32: {
        uint32_t u = rd32(b, big);
        int32_t s;
        memcpy(&s, &u, 4);
        return s;
    }
    case KR_MAPBIN_F32: {
        uint32_t u = rd32(b, big);
        float f;
        memcpy(&f, &u, 4);
        return f;
    }
    default: return NAN;
    }
}

/* Score of a decoding (lower is more plausible): a heavy penalty for implausible values (non-finite,
 * above 1e8, or non-zero magnitudes below 1e-6: integers read as float32 denormals, floats read as
 * integers), then the magnitude (log10 of the mean |value|: the wrong byte order turns 1 into 256 or
 * 16777216 and spreads counts over the whole range), then the roughness (mean |difference| between
 * horizontal neighbours relative to the mean level) as a tie-breaker. */
static double roughness(const unsigned char *buf, size_t n, int bpp, kr_mapbin_type type, int big)
{
    size_t step = n > 200000 ? n / 200000 : 1;
    double sum_d = 0, sum_v = 0;
    size_t cnt = 0, bad = 0;
    for (size_t i = 0; i + 1 < n; i += step) {
        double a = decode(buf + i * (size_t)bpp, type, big), b = decode(buf + (i + 1) * (size_t)bpp, type, big);
        int ok_a = isfinite(a) && fabs(a) <= 1e8 && (a == 0 || fabs(a) >= 1e-6);
        int ok_b = isfinite(b) && fabs(b) <= 1e8 && (b == 0 || fabs(b) >= 1e-6);
        if (!ok_a || !ok_b) {
            bad++;
            continue;
        }
        sum_d += fabs(b - a);
        sum_v += fabs(a);
        cnt++;
    }
    if (cnt == 0) return 1e9;
    return (double)bad / (double)(cnt + bad) * 1e3 + log10(1.0 + sum_v / (double)cnt) +
           0.1 * (sum_d + 1.0) / (sum_v + 1.0);
}

static const char *type_name(kr_mapbin_type t)
{
    switch (t) {
    case KR_MAPBIN_U16: return "16-bit unsigned";
    case KR_MAPBIN_I16: return "16-bit signed";
    case KR_MAPBIN_U32: return "32-bit unsigned";
    case KR_MAPBIN_I32: return "32-bit signed";
    case KR_MAPBIN_F32: return "float32";
    default: return "auto";
    }
}

int kr_map_read_bin(const char *path, long nx, long ny, kr_mapbin_type type, kr_byte_order order,
                    double declared_max, float *out, kr_mapbin_info *info)
{
    int rc = KR_OK;
    unsigned char *buf = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return kr_err(KR_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode)) {
        rc = kr_err(KR_EIO, "%s: not a regular file", path);
        goto cleanup;
    }
    size_t npx = (size_t)nx * (size_t)ny;
    size_t size = (size_t)st.st_size;
    if (npx == 0 || size == 0 || size % npx != 0) {
        rc = kr_err(KR_EINPUT, "%s: %zu bytes is not a whole number of bytes per pixel for %ld x %ld = %zu pixels "
                    "(truncated file or wrong pixel count)", path, size, nx, ny, npx);
        goto cleanup;
    }
    int bpp = (int)(size / npx);
    if (bpp != 2 && bpp != 4) {
        rc = kr_err(KR_EINPUT, "%s: %d bytes per pixel (%zu bytes / %zu pixels): expected 2 or 4", path, bpp, size, npx);
        goto cleanup;
    }
    if (type == KR_MAPBIN_U16 || type == KR_MAPBIN_I16 ? bpp != 2 : type != KR_MAPBIN_AUTO && bpp != 4) {
        rc = kr_err(KR_EINPUT, "%s: %d bytes per pixel but %s samples were asked for", path, bpp, type_name(type));
        goto cleanup;
    }
    buf = malloc(size);
    if (!buf) {
        rc = kr_err(KR_ENOMEM, "%s: out of memory for %zu bytes", path, size);
        goto cleanup;
    }
    if (fread(buf, 1, size, f) != size) {
        rc = kr_err(KR_EIO, "%s: short read (truncated file?)", path);
        goto cleanup;
    }
    /* candidate decodings */
    kr_mapbin_type cands[3];
    int ncand = 0;
    if (type != KR_MAPBIN_AUTO) cands[ncand++] = type;
    else if (bpp == 2) cands[ncand++] = KR_MAPBIN_U16;
    else {
        cands[ncand++] = KR_MAPBIN_I32;
        cands[ncand++] = KR_MAPBIN_F32;
    }
    /* pick the smoothest decoding; with a declared maximum, only decodings reaching it exactly qualify */
    double best = INFINITY;
    kr_mapbin_type best_t = cands[0];
    int best_big = 0, nmatch = 0;
    double seen_max[6];
    int nseen = 0;
    for (int ci = 0; ci < ncand; ci++)
        for (int big = 0; big <= 1; big++) {
            if ((order == KR_ORDER_LITTLE && big) || (order == KR_ORDER_BIG && !big)) continue;
            double r = roughness(buf, npx, bpp, cands[ci], big);
            if (isfinite(declared_max)) {
                double m = -INFINITY;
                for (size_t i = 0; i < npx; i++) {
                    double x = decode(buf + i * (size_t)bpp, cands[ci], big);
                    m = x > m ? x : m;
                }
                seen_max[nseen++] = m;
                if (m != declared_max) continue;
                nmatch++;
            }
            if (r < best) {
                best = r;
                best_t = cands[ci];
                best_big = big;
            }
        }
    if (isfinite(declared_max) && nmatch == 0) {
        rc = kr_err(KR_EINPUT, "%s: no decoding as %d-byte samples reaches the maximum %g the .cnd declares "
                    "(decoded maxima: %g%s%g): wrong file, type or pixel count", path, bpp, declared_max,
                    seen_max[0], nseen > 1 ? ", " : "", nseen > 1 ? seen_max[1] : NAN);
        goto cleanup;
    }
    if (!isfinite(best) || best >= 1e9) {
        rc = kr_err(KR_EINPUT, "%s: no decoding as %d-byte samples gives plausible values", path, bpp);
        goto cleanup;
    }
    double vmin = INFINITY, vmax = -INFINITY, sum = 0;
    for (size_t i = 0; i < npx; i++) {
        double x = decode(buf + i * (size_t)bpp, best_t, best_big);
        if (!isfinite(x)) {
            rc = kr_err(KR_EINPUT, "%s: pixel %zu (x %zu, y %zu) is not finite as %s %s-endian", path, i,
                        i % (size_t)nx, i / (size_t)nx, type_name(best_t), best_big ? "big" : "little");
            goto cleanup;
        }
        vmin = x < vmin ? x : vmin;
        vmax = x > vmax ? x : vmax;
        sum += x;
        out[i] = (float)x;
    }
    if (isfinite(declared_max) && vmax != declared_max) {
        rc = kr_err(KR_EINPUT, "%s: decoded as %s %s-endian the maximum is %g but the .cnd declares %g: "
                    "byte order or sample type wrong", path, type_name(best_t), best_big ? "big" : "little",
                    vmax, declared_max);
        goto cleanup;
    }
    if (info) {
        info->type = best_t;
        info->order = best_big ? KR_ORDER_BIG : KR_ORDER_LITTLE;
        info->bytes_per_pixel = bpp;
        info->vmin = vmin;
        info->vmax = vmax;
        info->vmean = sum / (double)npx;
    }
cleanup:
    free(buf);
    fclose(f);
    return rc;
}

/* ---- CSV matrices ---- */

int kr_map_read_csv(const char *path, long nx, long ny, float *out)
{
    kr_text t;
    int rc = kr_text_read(path, &t);
    if (rc) return rc;
    kr_lines it;
    kr_lines_init(&it, &t);
    char *line;
    long row = 0;
    while ((line = kr_lines_next(&it))) {
        char *p = line;
        while (*p == ' ' || *p == '\t') p++;
        if (!*p) continue; /* blank lines (a trailing newline) */
        if (row >= ny) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "more than the %ld rows (y pixels) the .cnd declares", ny);
            goto cleanup;
        }
        long col = 0;
        for (;;) {
            while (*p == ' ' || *p == '\t') p++;
            if (!*p) break;
            char *end;
            errno = 0;
            double v = strtod(p, &end);
            if (end == p || errno == ERANGE) {
                char cell[24];
                size_t k = 0;
                while (p[k] && p[k] != ',' && p[k] != ';' && p[k] != '\t' && k + 1 < sizeof cell) k++;
                memcpy(cell, p, k);
                cell[k] = '\0';
                rc = kr_err_at(KR_EINPUT, path, it.lineno, "column %ld: \"%s\" is not a number", col + 1, cell);
                goto cleanup;
            }
            if (!isfinite(v)) {
                rc = kr_err_at(KR_EINPUT, path, it.lineno, "column %ld: %s value (NaN or infinite) in a count map",
                               col + 1, isnan(v) ? "NaN" : "infinite");
                goto cleanup;
            }
            if (col >= nx) {
                rc = kr_err_at(KR_EINPUT, path, it.lineno, "more than the %ld columns (x pixels) the .cnd declares", nx);
                goto cleanup;
            }
            out[(size_t)row * (size_t)nx + (size_t)col] = (float)v;
            col++;
            p = end;
            int blank = 0;
            while (*p == ' ' || *p == '\t') {
                p++;
                blank = 1;
            }
            if (*p == ',' || *p == ';') p++;
            else if (*p && !blank) {
                rc = kr_err_at(KR_EINPUT, path, it.lineno, "column %ld: unexpected \"%.12s\" after a number", col, p);
                goto cleanup;
            }
        }
        if (col != nx) {
            rc = kr_err_at(KR_EINPUT, path, it.lineno, "%ld values in the row, the .cnd declares %ld x pixels", col, nx);
            goto cleanup;
        }
        row++;
    }
    if (row != ny)
        rc = kr_err_at(KR_EINPUT, path, it.lineno, "%ld rows, the .cnd declares %ld y pixels", row, ny);
cleanup:
    kr_text_free(&t);
    return rc;
}

int kr_map_read_any(const char *path, long nx, long ny, double declared_max, float *out)
{
    const char *dot = strrchr(path, '.');
    if (dot && (kr_streq_ci(dot, ".csv") || kr_streq_ci(dot, ".txt"))) return kr_map_read_csv(path, nx, ny, out);
    return kr_map_read_bin(path, nx, ny, KR_MAPBIN_AUTO, KR_ORDER_AUTO, declared_max, out, NULL);
}

void kr_map_axes(const kr_map_cnd *c, double *x_um, double *y_um)
{
    double cx = isfinite(c->stage_mm[0][0]) ? c->stage_mm[0][0] * 1000.0 : NAN;
    double cy = isfinite(c->stage_mm[0][1]) ? c->stage_mm[0][1] * 1000.0 : NAN;
    double px = isfinite(c->pixel_x_um) ? c->pixel_x_um : 1.0, py = isfinite(c->pixel_y_um) ? c->pixel_y_um : 1.0;
    for (long i = 0; i < c->nx; i++)
        x_um[i] = (isfinite(cx) ? cx - 0.5 * (double)(c->nx - 1) * px : 0.0) + (double)i * px;
    for (long j = 0; j < c->ny; j++)
        y_um[j] = (isfinite(cy) ? cy - 0.5 * (double)(c->ny - 1) * py : 0.0) + (double)j * py;
}
