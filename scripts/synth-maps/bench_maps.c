/* bench-maps: quantify a map export through the run's code path (YAML -> job -> read -> per-pixel
 * matrix correction -> HDF5 product) and report wall time and memory.
 *
 *   bench-maps --run-dir DIR --name bead [--threads 2] [--no-write] [--repeat 3]
 *
 * DIR holds maps/<name>.maps.yaml (from synth-maps) and the files it names. Memory: the peak resident
 * set of each run (VmHWM, reset before the run through /proc/self/clear_refs) minus the resident set
 * just before it, against the size of the raw map files. Run 1 also counts the library code and HDF5
 * state first touched by a map; later runs show the map's own working set. */
#include "error.h"
#include "map_run.h"
#include "product.h"
#include "text.h"

#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* VmRSS or VmHWM (peak resident set) of this process, kB */
static long status_kb(const char *key)
{
    long kb = -1;
    size_t kl = strlen(key);
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return -1;
    char line[256];
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl)) kb = atol(line + kl);
    fclose(f);
    return kb;
}

/* Reset the peak resident set to the current one (Linux >= 4.0: "5" into /proc/self/clear_refs);
 * 0 on success. */
static int reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (!f) return -1;
    int ok = fputs("5", f) >= 0;
    return fclose(f) == 0 && ok ? 0 : -1;
}

int main(int argc, char **argv)
{
    const char *dir = NULL, *name = "bead";
    int threads = 2, write = 1, repeat = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--run-dir") && i + 1 < argc) dir = argv[++i];
        else if (!strcmp(argv[i], "--name") && i + 1 < argc) name = argv[++i];
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc) repeat = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-write")) write = 0;
        else {
            fprintf(stderr, "usage: bench-maps --run-dir DIR [--name bead] [--threads 2] [--no-write] [--repeat N]\n");
            return 2;
        }
    }
    if (!dir) return 2;
    kr_err_install_handlers();
    int rc = KR_OK;
    char path[4096];
    kr_text frag = {0};
    char *yaml = NULL;
    kr_config *cfg = NULL;
    kr_atomic *at = malloc(sizeof *at);
    kr_map_job *job = malloc(sizeof *job);
    kr_map_region_row *rows = NULL;
    size_t nrows = 0;
    if (!at || !job) return 1;
    snprintf(path, sizeof path, "%s/maps/%s.maps.yaml", dir, name);
    if ((rc = kr_text_read(path, &frag)) || (rc = kr_atomic_load(at))) goto cleanup;
    /* wrap the fragment as run.yaml: epma.maps.threads and epma.maps.inputs */
    size_t cap = frag.len * 2 + 256;
    yaml = malloc(cap);
    if (!yaml) goto cleanup;
    size_t n = (size_t)snprintf(yaml, cap, "epma:\n  maps:\n    threads: %d\n    png: false\n    inputs:\n", threads);
    for (const char *p = frag.data; *p;) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        n += (size_t)snprintf(yaml + n, cap - n, "      %.*s\n", (int)l, p);
        p += l + (e ? 1 : 0);
    }
    size_t np;
    const kr_param *params = kr_epma_maps_params(&np);
    kr_param_table table = {"epma", params, np};
    snprintf(path, sizeof path, "%s/run.yaml", dir);
    if ((rc = kr_config_load_string(path, yaml, n, &table, 1, NULL, 0, &cfg))) goto cleanup;
    kr_maps_opts opts;
    if ((rc = kr_maps_opts_from_config(cfg, &opts))) goto cleanup;
    const kr_node *inputs = kr_config_node(cfg, "epma.maps.inputs");
    char *base = kr_config_resolve_path(cfg, ".");
    rc = kr_map_job_from_node(kr_node_item(inputs, 0), base, job);
    free(base);
    if (rc) goto cleanup;
    printf("bench-maps: %s, %d element maps, model %s, fluorescence %s, threads %d, %s\n", name, job->nel,
           kr_epma_model_name(opts.model), opts.fluorescence ? "on" : "off", opts.threads,
           write ? "HDF5 product written" : "no product");
    for (int r = 0; r < repeat; r++) {
        kr_product *prod = NULL;
        char h5[4200];
        snprintf(h5, sizeof h5, "%s/bench-maps.h5", dir);
        malloc_trim(0); /* give freed heap back, so the resident set before the run is what is in use */
        long rss0 = status_kb("VmRSS:"), file0 = status_kb("RssFile:");
        int reset = reset_peak() == 0; /* run 1 also counts the library code first touched by the map */
        double t0 = now_s();
        if (write && (rc = kr_product_open(h5, &prod))) goto cleanup;
        kr_map_summary sum;
        rc = kr_map_job_run(job, at, &opts, NULL, prod, &rows, &nrows, &sum);
        if (!rc && nrows && prod) rc = kr_product_write_table(prod, "epma/map_regions", kr_map_region_table(), rows, nrows);
        if (rc) {
            if (prod) kr_product_abort(prod);
            goto cleanup;
        }
        if (prod && (rc = kr_product_commit(prod))) goto cleanup;
        double t1 = now_s();
        free(rows);
        rows = NULL;
        nrows = 0;
        long pk = status_kb("VmHWM:");
        printf("  run %d: %zu x %zu px, wall %.3f s: read %.3f s, quantification streamed with chunk encoding and "
               "writing %.3f s (%.2f iterations/pixel, %zu failed, %zu outside the material), datasets %.3f s, "
               "region statistics %.3f s\n", r + 1, sum.nx, sum.ny, t1 - t0, sum.read_s, sum.quant_s,
               sum.mean_iterations, sum.n_failed, sum.n_outside, sum.write_s, sum.stats_s);
        printf("         raw map files %.2f MB; peak RSS %.1f MB%s, RSS before the map %.1f MB, growth %.1f MB = %.2f x raw\n",
               sum.raw_bytes / 1e6, pk / 1024.0, reset ? " (this run)" : " (process)", rss0 / 1024.0,
               (pk - rss0) / 1024.0, (double)(pk - rss0) * 1024.0 / (double)sum.raw_bytes);
        printf("         of the growth, library code and data paged in from files (RssFile): %.1f MB\n",
               (status_kb("RssFile:") - file0) / 1024.0);
        if (write) unlink(h5);
    }
cleanup:
    if (rc) kr_err_print(stderr);
    kr_config_free(cfg);
    kr_text_free(&frag);
    free(yaml);
    free(rows);
    free(job);
    free(at);
    return rc ? kr_exit_code(rc) : 0;
}
