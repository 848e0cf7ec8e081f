/* Map images: colour scale, colour bar with labels in the map's unit, scale bar in µm (libpng). */
#include "png_map.h"

#include "error.h"

#include <errno.h>
#include <math.h>
#include <png.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- tiny 5x7 bitmap font: each glyph is 7 rows of 5 bits (bit 4 = leftmost column) ---- */
typedef struct {
    char c;
    unsigned char rows[7];
} glyph;

#define GLYPH_MU '\x01'
static const glyph FONT[] = {
    {'0', {0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E}}, {'1', {0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E}},
    {'2', {0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F}}, {'3', {0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E}},
    {'4', {0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02}}, {'5', {0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E}},
    {'6', {0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E}}, {'7', {0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08}},
    {'8', {0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E}}, {'9', {0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C}},
    {'.', {0x00, 0x00, 0x00, 0x00, 0x00, 0x0C, 0x0C}}, {'-', {0x00, 0x00, 0x00, 0x1F, 0x00, 0x00, 0x00}},
    {'%', {0x18, 0x19, 0x02, 0x04, 0x08, 0x13, 0x03}}, {'w', {0x00, 0x00, 0x11, 0x11, 0x15, 0x15, 0x0A}},
    {'t', {0x08, 0x08, 0x1C, 0x08, 0x08, 0x09, 0x06}}, {'m', {0x00, 0x00, 0x1A, 0x15, 0x15, 0x11, 0x11}},
    {'u', {0x00, 0x00, 0x11, 0x11, 0x11, 0x13, 0x0D}}, {GLYPH_MU, {0x00, 0x00, 0x11, 0x11, 0x13, 0x1D, 0x10}},
    {'+', {0x00, 0x04, 0x04, 0x1F, 0x04, 0x04, 0x00}}, {' ', {0, 0, 0, 0, 0, 0, 0}},
};

static const glyph *find_glyph(char c)
{
    for (size_t i = 0; i < sizeof FONT / sizeof FONT[0]; i++)
        if (FONT[i].c == c) return &FONT[i];
    return NULL;
}

typedef struct {
    unsigned char *px; /* RGB */
    size_t w, h;
} canvas;

static void put(canvas *cv, long x, long y, const unsigned char rgb[3])
{
    if (x < 0 || y < 0 || (size_t)x >= cv->w || (size_t)y >= cv->h) return;
    memcpy(cv->px + ((size_t)y * cv->w + (size_t)x) * 3, rgb, 3);
}

static void rect(canvas *cv, long x0, long y0, long w, long h, const unsigned char rgb[3])
{
    for (long y = y0; y < y0 + h; y++)
        for (long x = x0; x < x0 + w; x++) put(cv, x, y, rgb);
}

/* Draw UTF-8 text (µ = C2 B5 recognised); returns the width drawn. */
static long text(canvas *cv, long x, long y, const char *s, int scale, const unsigned char rgb[3])
{
    long x0 = x;
    for (; *s; s++) {
        char c = *s;
        if ((unsigned char)c == 0xC2 && (unsigned char)s[1] == 0xB5) {
            c = GLYPH_MU;
            s++;
        }
        const glyph *g = find_glyph(c);
        if (!g) continue;
        for (int r = 0; r < 7; r++)
            for (int col = 0; col < 5; col++)
                if (g->rows[r] & (1u << (4 - col))) rect(cv, x + col * scale, y + r * scale, scale, scale, rgb);
        x += 6 * scale;
    }
    return x - x0;
}

static long text_width(const char *s, int scale)
{
    long n = 0;
    for (; *s; s++) {
        if ((unsigned char)*s == 0xC2 && (unsigned char)s[1] == 0xB5) s++;
        n++;
    }
    return n * 6 * scale;
}

/* viridis colour scale (van der Walt & Smith 2015, matplotlib's default), 9 anchors interpolated
 * linearly in sRGB. */
static void viridis(double t, unsigned char rgb[3])
{
    static const unsigned char A[9][3] = {{68, 1, 84},    {71, 44, 122},  {59, 81, 139},
                                          {44, 113, 142}, {33, 144, 141}, {39, 173, 129},
                                          {92, 200, 99},  {170, 220, 50}, {253, 231, 37}};
    if (!(t > 0)) t = 0;
    if (t > 1) t = 1;
    double f = t * 8.0;
    int i = (int)f;
    if (i >= 8) i = 7;
    double u = f - i;
    for (int k = 0; k < 3; k++) rgb[k] = (unsigned char)lround(A[i][k] + u * (A[i + 1][k] - A[i][k]));
}

static int cmp_float(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

int kr_png_label_decimals(double vmin, double vmax)
{
    double step = (vmax - vmin) / 4.0;
    if (!(step > 0)) return 2;
    int d = (int)ceil(-log10(step)) + 1;
    if (d < 0) d = 0;
    if (d > 6) d = 6;
    return d;
}

static int write_png(const char *path, const canvas *cv)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp) return kr_err(KR_EIO, "%s: path too long", path);
    FILE *f = fopen(tmp, "wb");
    if (!f) return kr_err(KR_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    png_bytep *volatile rows = NULL;
    int rc = KR_OK;
    if (!png || !info) {
        rc = kr_err(KR_ENOMEM, "%s: libpng could not start", path);
        goto cleanup;
    }
    rows = malloc(sizeof(png_bytep) * cv->h);
    if (!rows) {
        rc = kr_err(KR_ENOMEM, "%s: out of memory", path);
        goto cleanup;
    }
    for (size_t y = 0; y < cv->h; y++) rows[y] = cv->px + y * cv->w * 3;
    if (setjmp(png_jmpbuf(png))) {
        rc = kr_err(KR_EIO, "%s: libpng failed while writing", tmp);
        goto cleanup;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)cv->w, (png_uint_32)cv->h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    png_write_image(png, rows);
    png_write_end(png, NULL);
cleanup:
    if (png) png_destroy_write_struct(&png, info ? &info : NULL);
    free(rows);
    if (fclose(f) != 0 && rc == KR_OK) rc = kr_err(KR_EIO, "%s: write failed: %s", tmp, strerror(errno));
    if (rc == KR_OK && rename(tmp, path) != 0) rc = kr_err(KR_EIO, "%s: cannot rename into place: %s", path, strerror(errno));
    if (rc != KR_OK) remove(tmp);
    return rc;
}

typedef struct {
    long map_x, map_y, scale, font, bar_x, bar_w, scale_y;
} layout;

static layout make_layout(size_t ny, size_t nx, long label_w, canvas *cv, int with_bar)
{
    layout L;
    size_t big = nx > ny ? nx : ny;
    L.scale = big >= 300 ? 1 : (long)(300 / big);
    if (L.scale > 8) L.scale = 8;
    L.font = (long)ny * L.scale >= 300 ? 2 : 1;
    long m = 10;
    L.map_x = m;
    L.map_y = m + 7 * L.font + 8;
    L.bar_w = with_bar ? 20 : 0;
    L.bar_x = L.map_x + (long)nx * L.scale + 15;
    L.scale_y = L.map_y + (long)ny * L.scale + 12;
    long right = with_bar ? L.bar_x + L.bar_w + 8 + label_w + m : L.map_x + (long)nx * L.scale + m;
    cv->w = (size_t)right;
    cv->h = (size_t)(L.scale_y + 5 + 4 + 7 * L.font + m);
    return L;
}

static void scale_bar(canvas *cv, const layout *L, size_t nx, double pixel_um)
{
    static const unsigned char black[3] = {0, 0, 0};
    if (!(pixel_um > 0) || !isfinite(pixel_um)) return;
    double width_um = (double)nx * pixel_um, target = width_um / 5.0;
    double p10 = pow(10.0, floor(log10(target))), len_um = p10;
    if (5 * p10 <= target) len_um = 5 * p10;
    else if (2 * p10 <= target) len_um = 2 * p10;
    long len_px = lround(len_um / pixel_um * (double)L->scale);
    rect(cv, L->map_x, L->scale_y, len_px, 5, black);
    char lab[32];
    snprintf(lab, sizeof lab, len_um >= 1 ? "%.0f \xC2\xB5m" : "%.1f \xC2\xB5m", len_um);
    text(cv, L->map_x, L->scale_y + 9, lab, (int)L->font, black);
}

int kr_png_write_map(const char *path, const float *values, size_t ny, size_t nx, const kr_png_map_opts *o)
{
    static const unsigned char black[3] = {0, 0, 0}, grey[3] = {160, 160, 160}, white[3] = {255, 255, 255};
    int rc = KR_OK;
    float *sorted = NULL;
    canvas cv = {NULL, 0, 0};
    size_t n = nx * ny, nf = 0;
    double vmin = o->vmin, vmax = o->vmax;
    if (!isfinite(vmin) || !isfinite(vmax)) {
        sorted = malloc(sizeof(float) * (n ? n : 1));
        if (!sorted) {
            rc = kr_err(KR_ENOMEM, "%s: out of memory", path);
            goto cleanup;
        }
        for (size_t i = 0; i < n; i++)
            if (isfinite(values[i]) && (!o->range_mask || o->range_mask[i])) sorted[nf++] = values[i];
        if (nf) {
            qsort(sorted, nf, sizeof(float), cmp_float);
            if (!isfinite(vmin)) vmin = sorted[(size_t)(0.01 * (double)(nf - 1))];
            if (!isfinite(vmax)) vmax = sorted[(size_t)(0.99 * (double)(nf - 1))];
        } else {
            vmin = isfinite(vmin) ? vmin : 0;
            vmax = isfinite(vmax) ? vmax : 1;
        }
        free(sorted);
        sorted = NULL;
    }
    if (!(vmax > vmin)) vmax = vmin + (vmin != 0 ? fabs(vmin) * 1e-3 : 1.0);
    int dec = kr_png_label_decimals(vmin, vmax);
    char labels[5][32];
    long label_w = 0;
    for (int i = 0; i < 5; i++) {
        snprintf(labels[i], sizeof labels[i], "%.*f", dec, vmin + (vmax - vmin) * i / 4.0);
    }
    layout L = make_layout(ny, nx, 0, &cv, 1);
    for (int i = 0; i < 5; i++) {
        long w = text_width(labels[i], (int)L.font);
        label_w = w > label_w ? w : label_w;
    }
    long uw = o->units ? text_width(o->units, (int)L.font) : 0;
    L = make_layout(ny, nx, label_w > uw ? label_w : uw, &cv, 1);
    cv.px = malloc(cv.w * cv.h * 3);
    if (!cv.px) {
        rc = kr_err(KR_ENOMEM, "%s: out of memory for a %zu x %zu image", path, cv.w, cv.h);
        goto cleanup;
    }
    memset(cv.px, 255, cv.w * cv.h * 3);
    (void)white;
    for (size_t y = 0; y < ny; y++)
        for (size_t x = 0; x < nx; x++) {
            float v = values[y * nx + x];
            unsigned char rgb[3];
            if (isfinite(v)) viridis(((double)v - vmin) / (vmax - vmin), rgb);
            else memcpy(rgb, grey, 3);
            rect(&cv, L.map_x + (long)x * L.scale, L.map_y + (long)y * L.scale, L.scale, L.scale, rgb);
        }
    /* colour bar: top = vmax, bottom = vmin */
    long bar_h = (long)ny * L.scale;
    for (long y = 0; y < bar_h; y++) {
        unsigned char rgb[3];
        viridis(1.0 - (double)y / (double)(bar_h > 1 ? bar_h - 1 : 1), rgb);
        rect(&cv, L.bar_x, L.map_y + y, L.bar_w, 1, rgb);
    }
    for (int i = 0; i < 5; i++) {
        long ty = L.map_y + lround((double)(bar_h - 1) * (1.0 - i / 4.0));
        rect(&cv, L.bar_x + L.bar_w, ty, 4, 1, black);
        long ly = ty - 7 * L.font / 2;
        if (ly < L.map_y - 2) ly = L.map_y - 2;
        text(&cv, L.bar_x + L.bar_w + 8, ly, labels[i], (int)L.font, black);
    }
    if (o->units) text(&cv, L.bar_x, 10, o->units, (int)L.font, black);
    scale_bar(&cv, &L, nx, o->pixel_um);
    rc = write_png(path, &cv);
cleanup:
    free(sorted);
    free(cv.px);
    return rc;
}

int kr_png_write_mask(const char *path, const unsigned char *mask, size_t ny, size_t nx, double pixel_um)
{
    static const unsigned char black[3] = {0, 0, 0}, white[3] = {255, 255, 255}, dark[3] = {40, 40, 40};
    canvas cv = {NULL, 0, 0};
    layout L = make_layout(ny, nx, 0, &cv, 0);
    cv.px = malloc(cv.w * cv.h * 3);
    if (!cv.px) return kr_err(KR_ENOMEM, "%s: out of memory", path);
    memset(cv.px, 255, cv.w * cv.h * 3);
    for (size_t y = 0; y < ny; y++)
        for (size_t x = 0; x < nx; x++)
            rect(&cv, L.map_x + (long)x * L.scale, L.map_y + (long)y * L.scale, L.scale, L.scale,
                 mask[y * nx + x] ? white : dark);
    /* frame, so the white region shows against the page */
    rect(&cv, L.map_x - 1, L.map_y - 1, (long)nx * L.scale + 2, 1, black);
    rect(&cv, L.map_x - 1, L.map_y + (long)ny * L.scale, (long)nx * L.scale + 2, 1, black);
    rect(&cv, L.map_x - 1, L.map_y - 1, 1, (long)ny * L.scale + 2, black);
    rect(&cv, L.map_x + (long)nx * L.scale, L.map_y - 1, 1, (long)ny * L.scale + 2, black);
    scale_bar(&cv, &L, nx, pixel_um);
    int rc = write_png(path, &cv);
    free(cv.px);
    return rc;
}
