/* libFuzzer: run configuration loader (pipeline/config.h: kr_config_load_string) against the real
 * parameter tables (run, epma, sims), then every read-back a stage or provenance does. */
#include "config.h"
#include "fuzz_util.h"
#include "sims_stage.h"
#include "stage.h"
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

/* Walk a node tree (bounded depth), reading every scalar as each type. */
static void walk(const kr_node *n, int depth)
{
    if (!n || depth > 64) return;
    (void)kr_node_file(n);
    (void)kr_node_line(n);
    (void)kr_node_col(n);
    if (kr_node_kind_of(n) == KR_NODE_SCALAR) {
        double d;
        long l;
        int b;
        (void)kr_node_scalar(n);
        (void)kr_node_double(n, &d);
        (void)kr_node_long(n, &l);
        (void)kr_node_bool(n, &b);
        return;
    }
    size_t len = kr_node_len(n);
    for (size_t i = 0; i < len; i++) {
        if (kr_node_kind_of(n) == KR_NODE_MAP) {
            const char *k = kr_node_key(n, i);
            if (k) (void)kr_node_get(n, k);
        }
        walk(kr_node_item(n, i), depth + 1);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const kr_param_table tables[] = {kr_run_params, kr_epma_params, kr_sims_params};
    char set0[] = "epma.model=pap";
    char *overrides[] = {set0};
    size_t nover = size > 0 && (data[0] & 1) ? 1 : 0;
    kr_config *cfg = NULL;
    if (kr_config_load_string("fuzz.yaml", (const char *)data, size, tables, 3, overrides, nover, &cfg) == KR_OK) {
        char *eff = kr_config_effective_yaml(cfg);
        free(eff);
        (void)kr_config_has_section(cfg, "epma");
        (void)kr_config_has_section(cfg, "sims");
        size_t np = kr_config_nparams(cfg);
        for (size_t i = 0; i < np; i++) {
            const kr_param *p;
            const char *value, *source;
            if (!kr_config_param(cfg, i, &p, &value, &source)) break;
            (void)kr_config_param_stage(cfg, i);
            (void)kr_config_source(cfg, p->name);
            (void)kr_config_has(cfg, p->name);
            switch (p->type) {
            case KR_PT_BOOL: (void)kr_config_bool(cfg, p->name); break;
            case KR_PT_INT: (void)kr_config_long(cfg, p->name); break;
            case KR_PT_DOUBLE: (void)kr_config_double(cfg, p->name); break;
            case KR_PT_STRING:
            case KR_PT_CHOICE: (void)kr_config_string(cfg, p->name); break;
            case KR_PT_NODE: walk(kr_config_node(cfg, p->name), 0); break;
            }
        }
    }
    kr_config_free(cfg);
    kr_fuzz_drain_errors();
    return 0;
}
