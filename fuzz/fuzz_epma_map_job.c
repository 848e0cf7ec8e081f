/* libFuzzer: the epma.maps section of run.yaml (kr_config_load_string with the EPMA table, then
 * kr_maps_opts_from_config and kr_map_job_from_node on every item of epma.maps.inputs): option values,
 * element entries, backgrounds, spots, region rules, png lists, fixed and fixed_from, std_cps_na: session.
 * Only parsing: no map file is opened. */
#include "config.h"
#include "fuzz_util.h"
#include "map_run.h"
#include "stage_epma.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    kr_err_install_handlers();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const kr_param_table tables[] = {kr_epma_params};
    kr_config *cfg = NULL;
    kr_map_job *job = malloc(sizeof *job);
    if (job && kr_config_load_string("fuzz.yaml", (const char *)data, size, tables, 1, NULL, 0, &cfg) == KR_OK) {
        kr_maps_opts opts;
        (void)kr_maps_opts_from_config(cfg, &opts);
        const kr_node *inputs = kr_config_node(cfg, "epma.maps.inputs");
        for (size_t i = 0; inputs && i < kr_node_len(inputs); i++) (void)kr_map_job_from_node(kr_node_item(inputs, i), "/base", job);
    }
    kr_config_free(cfg);
    free(job);
    kr_err_clear();
    return 0;
}
