/* Config: strict YAML validation against parameter tables, --set overrides, defaults, effective YAML.
 * The expected messages (file:line:column) are counted by hand from the YAML texts below. */
#include "config.h"
#include "error.h"
#include "kr_test.h"
#include "text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const kr_param EPMA[] = {
    {"epma.model", KR_PT_CHOICE, "xpp", "", 1, 0, "xpp|pap|zaf", "matrix correction"},
    {"epma.dead_time_us", KR_PT_DOUBLE, "1.1", "µs", 0, 10, NULL, "counter dead time"},
    {"epma.kv", KR_PT_DOUBLE, NULL, "kV", 1, 40, NULL, "accelerating voltage (optional)"},
    {"epma.fluorescence", KR_PT_BOOL, "true", "", 1, 0, NULL, "characteristic fluorescence correction"},
    {"epma.background.model", KR_PT_CHOICE, "linear", "", 1, 0, "linear|exponential", "background model"},
    {"epma.background.order", KR_PT_INT, "1", "", 0, 3, NULL, "polynomial order"},
    {"epma.inputs", KR_PT_NODE, NULL, "", 1, 0, NULL, "JEOL folders"},
    {"epma.label", KR_PT_STRING, "none", "", 1, 0, NULL, "a label"},
};
static const kr_param RUN[] = {
    {"run.name", KR_PT_STRING, NULL, "", 1, 0, NULL, "run name"},
    {"run.notes", KR_PT_STRING, NULL, "", 1, 0, NULL, "notes"},
};
static const kr_param_table TABLES[] = {
    {"run", RUN, 2},
    {"epma", EPMA, sizeof EPMA / sizeof EPMA[0]},
};

static int load(const char *yaml, char *const *sets, size_t nsets, kr_config **cfg)
{
    kr_err_clear();
    return kr_config_load_string("t.yaml", yaml, strlen(yaml), TABLES, 2, sets, nsets, cfg);
}

/* The whole error chain contains `want`. */
static int err_has(const char *want)
{
    char buf[4096];
    kr_err_format(buf, sizeof buf);
    if (!strstr(buf, want)) {
        printf("\n  expected '%s' in: %s\n", want, buf);
        return 0;
    }
    return 1;
}

static void expect_error(const char *yaml, const char *want)
{
    kr_config *cfg = NULL;
    int rc = load(yaml, NULL, 0, &cfg);
    CU_ASSERT_EQUAL(rc, KR_EINPUT);
    CU_ASSERT_PTR_NULL(cfg);
    CU_ASSERT(err_has(want));
    kr_err_clear();
}

static void test_valid_and_defaults(void)
{
    const char *y = "run:\n  name: beads\nepma:\n  model: pap\n  background:\n    order: 2\n  inputs:\n"
                    "    - a/b\n    - c\n";
    kr_config *cfg = NULL;
    CU_ASSERT_EQUAL_FATAL(load(y, NULL, 0, &cfg), KR_OK);
    CU_ASSERT_STRING_EQUAL(kr_config_string(cfg, "epma.model"), "pap");
    CU_ASSERT_DOUBLE_EQUAL(kr_config_double(cfg, "epma.dead_time_us"), 1.1, 1e-15);
    CU_ASSERT_EQUAL(kr_config_long(cfg, "epma.background.order"), 2);
    CU_ASSERT_STRING_EQUAL(kr_config_string(cfg, "epma.background.model"), "linear");
    CU_ASSERT_EQUAL(kr_config_bool(cfg, "epma.fluorescence"), 1);
    CU_ASSERT(isnan(kr_config_double(cfg, "epma.kv")));
    CU_ASSERT_PTR_NULL(kr_config_string(cfg, "run.notes"));
    CU_ASSERT(kr_config_has(cfg, "epma.model"));
    CU_ASSERT(!kr_config_has(cfg, "epma.dead_time_us"));
    CU_ASSERT(kr_config_has_section(cfg, "epma"));
    CU_ASSERT(kr_config_has_section(cfg, "run"));
    CU_ASSERT_STRING_EQUAL(kr_config_source(cfg, "epma.dead_time_us"), "default");
    const kr_node *in = kr_config_node(cfg, "epma.inputs");
    CU_ASSERT_PTR_NOT_NULL_FATAL(in);
    CU_ASSERT_EQUAL(kr_node_kind_of(in), KR_NODE_SEQ);
    CU_ASSERT_EQUAL(kr_node_len(in), 2);
    CU_ASSERT_STRING_EQUAL(kr_node_scalar(kr_node_item(in, 1)), "c");
    CU_ASSERT_EQUAL(kr_node_line(kr_node_item(in, 1)), 9);
    CU_ASSERT_EQUAL(kr_node_col(kr_node_item(in, 1)), 7);
    CU_ASSERT_STRING_EQUAL(kr_node_file(in), "t.yaml");
    kr_config_free(cfg);
}

static void test_unknown_key_suggests(void)
{
    expect_error("epma:\n  modle: pap\n", "t.yaml:2:3: unknown key 'epma.modle' (did you mean 'epma.model'?)");
    expect_error("epam:\n  model: pap\n", "t.yaml:1:1: unknown key 'epam' (did you mean 'epma'?)");
    expect_error("epma:\n  background:\n    ordre: 2\n",
                 "t.yaml:3:5: unknown key 'epma.background.ordre' (did you mean 'epma.background.order'?)");
    expect_error("epma:\n  zzzzzzzzzzzz: 1\n", "t.yaml:2:3: unknown key 'epma.zzzzzzzzzzzz' (see kreep config");
}

static void test_wrong_type(void)
{
    expect_error("epma:\n  dead_time_us: fast\n", "t.yaml:2:17: 'epma.dead_time_us' must be a number, found 'fast'");
    expect_error("epma:\n  background:\n    order: 1.5\n", "t.yaml:3:12: 'epma.background.order' must be an integer");
    expect_error("epma:\n  fluorescence: maybe\n", "t.yaml:2:17: 'epma.fluorescence' must be true or false");
    expect_error("epma:\n  model: [xpp]\n", "t.yaml:2:10: 'epma.model' must be one of xpp|pap|zaf, found a list");
    expect_error("epma:\n  dead_time_us: .nan\n", "must be a number");
    expect_error("epma:\n  dead_time_us:\n", "t.yaml:2:16: 'epma.dead_time_us' needs a value");
    expect_error("epma: 3\n", "t.yaml:1:7: 'epma' is a section of parameters");
}

static void test_range_and_choice(void)
{
    expect_error("epma:\n  dead_time_us: 10.5\n", "t.yaml:2:17: 'epma.dead_time_us' = 10.5 is out of range [0, 10] µs");
    expect_error("epma:\n  dead_time_us: -0.1\n", "out of range");
    expect_error("epma:\n  background:\n    order: 4\n", "t.yaml:3:12: 'epma.background.order' = 4 is out of range [0, 3]");
    expect_error("epma:\n  model: ppa\n", "t.yaml:2:10: 'epma.model' must be one of xpp|pap|zaf, found 'ppa'");
    /* the bounds themselves are inside the range */
    kr_config *cfg = NULL;
    CU_ASSERT_EQUAL(load("epma:\n  dead_time_us: 10\n  background: {order: 0}\n", NULL, 0, &cfg), KR_OK);
    kr_config_free(cfg);
}

static void test_bad_yaml_syntax(void)
{
    /* libyaml: a key at deeper indentation after a scalar value */
    expect_error("epma:\n model: pap\n  x: 1\n", "t.yaml:3:4: bad YAML: mapping values are not allowed");
    /* unclosed quote: reported at the end, naming where the quoted scalar starts */
    expect_error("epma:\n  model: \"pap\n", "starts at line 2, column 10");
    /* unclosed flow sequence */
    expect_error("epma:\n  inputs: [a, b\n", "t.yaml:3:1: bad YAML");
    expect_error("epma:\n  model: pap\n  model: zaf\n", "t.yaml:3:3: duplicate key 'model' (first at line 2, column 3)");
    expect_error("- a\n- b\n", "t.yaml:1:1: a run config is a mapping of sections");
    expect_error("epma: &x\n  model: pap\nrun: *x\n", "t.yaml:3:6: YAML aliases");
    expect_error("epma:\n  model: pap\n---\nepma: {}\n", "t.yaml:3:1: more than one YAML document");
    /* the same parameter through a section and a dotted key */
    expect_error("epma:\n  model: pap\nepma.model: zaf\n", "t.yaml:3:13: 'epma.model' is set twice (first at t.yaml:2:10)");
}

static void test_overrides(void)
{
    char *ok[] = {"epma.model=zaf", "epma.background.order=3", "epma.inputs=[x, y, z]"};
    kr_config *cfg = NULL;
    CU_ASSERT_EQUAL_FATAL(load("epma:\n  model: pap\n", ok, 3, &cfg), KR_OK);
    CU_ASSERT_STRING_EQUAL(kr_config_string(cfg, "epma.model"), "zaf");
    CU_ASSERT_EQUAL(kr_config_long(cfg, "epma.background.order"), 3);
    CU_ASSERT_EQUAL(kr_node_len(kr_config_node(cfg, "epma.inputs")), 3);
    CU_ASSERT_STRING_EQUAL(kr_config_source(cfg, "epma.model"), "--set");
    kr_config_free(cfg);

    char *unknown[] = {"epma.modle=pap"};
    CU_ASSERT_EQUAL(load("epma: {}\n", unknown, 1, &cfg), KR_EINPUT);
    CU_ASSERT(err_has("--set epma.modle=pap: unknown parameter 'epma.modle' (did you mean 'epma.model'?)"));
    char *range[] = {"epma.dead_time_us=11"};
    CU_ASSERT_EQUAL(load("epma: {}\n", range, 1, &cfg), KR_EINPUT);
    CU_ASSERT(err_has("--set epma.dead_time_us: 'epma.dead_time_us' = 11 is out of range"));
    char *noeq[] = {"epma.model"};
    CU_ASSERT_EQUAL(load("epma: {}\n", noeq, 1, &cfg), KR_EUSAGE);
    CU_ASSERT(err_has("--set expects name=value"));
    kr_err_clear();
}

static void test_effective_yaml(void)
{
    char *sets[] = {"epma.dead_time_us=2.5"};
    kr_config *cfg = NULL, *again = NULL;
    CU_ASSERT_EQUAL_FATAL(load("epma:\n  model: pap\n  inputs: [\"a b\", c]\n  label: \"yes\"\n", sets, 1, &cfg), KR_OK);
    char *y = kr_config_effective_yaml(cfg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(y);
    const char *expected = "epma:\n"
                           "  model: pap\n"
                           "  dead_time_us: 2.5\n"
                           "  fluorescence: true\n"
                           "  background:\n"
                           "    model: linear\n"
                           "    order: 1\n"
                           "  inputs:\n"
                           "  - \"a b\"\n"
                           "  - c\n"
                           "  label: \"yes\"\n";
    if (strcmp(y, expected)) printf("\n  effective YAML:\n%s\n", y);
    CU_ASSERT_STRING_EQUAL(y, expected);
    /* it reloads to the same values */
    CU_ASSERT_EQUAL_FATAL(load(y, NULL, 0, &again), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(kr_config_double(again, "epma.dead_time_us"), 2.5, 0);
    CU_ASSERT_STRING_EQUAL(kr_config_string(again, "epma.label"), "yes");
    CU_ASSERT_STRING_EQUAL(kr_node_scalar(kr_node_item(kr_config_node(again, "epma.inputs"), 0)), "a b");
    free(y);
    kr_config_free(again);
    kr_config_free(cfg);
}

static void test_paths_and_file(void)
{
    char dir[512], path[600], rel[700];
    snprintf(dir, sizeof dir, "%s", kr_test_tmpdir());
    snprintf(path, sizeof path, "%s/run.yaml", dir);
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("epma:\n  inputs: [here.txt, missing.txt]\n", f);
    fclose(f);
    snprintf(rel, sizeof rel, "%s/here.txt", dir);
    f = fopen(rel, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    fputs("x\n", f);
    fclose(f);
    kr_config *cfg = NULL;
    kr_err_clear();
    CU_ASSERT_EQUAL_FATAL(kr_config_load(path, TABLES, 2, NULL, 0, &cfg), KR_OK);
    CU_ASSERT_STRING_EQUAL(kr_config_path(cfg), path);
    char *r = kr_config_resolve_path(cfg, "here.txt");
    CU_ASSERT_STRING_EQUAL(r, rel);
    free(r);
    r = kr_config_resolve_path(cfg, "/abs/x");
    CU_ASSERT_STRING_EQUAL(r, "/abs/x");
    free(r);
    const kr_node *in = kr_config_node(cfg, "epma.inputs");
    char *p = NULL;
    CU_ASSERT_EQUAL(kr_config_input_path(cfg, kr_node_item(in, 0), &p), KR_OK);
    free(p);
    CU_ASSERT_EQUAL(kr_config_input_path(cfg, kr_node_item(in, 1), &p), KR_EINPUT);
    char want[700];
    snprintf(want, sizeof want, "%s:2:22: input 'missing.txt' does not exist", path);
    CU_ASSERT(err_has(want));
    kr_err_clear();
    kr_config_free(cfg);
    /* a missing config file */
    CU_ASSERT_NOT_EQUAL(kr_config_load("no/such/run.yaml", TABLES, 2, NULL, 0, &cfg), KR_OK);
    CU_ASSERT(err_has("no/such/run.yaml: cannot open"));
    kr_err_clear();
}

static void test_typed_node_reads(void)
{
    kr_config *cfg = NULL;
    CU_ASSERT_EQUAL_FATAL(load("epma:\n  inputs:\n    - {kv: 15, n: 3, ok: yes, bad: x1}\n", NULL, 0, &cfg), KR_OK);
    const kr_node *m = kr_node_item(kr_config_node(cfg, "epma.inputs"), 0);
    double d;
    long l;
    int b;
    CU_ASSERT_EQUAL(kr_node_double(kr_node_get(m, "kv"), &d), KR_OK);
    CU_ASSERT_DOUBLE_EQUAL(d, 15, 0);
    CU_ASSERT_EQUAL(kr_node_long(kr_node_get(m, "n"), &l), KR_OK);
    CU_ASSERT_EQUAL(l, 3);
    CU_ASSERT_EQUAL(kr_node_bool(kr_node_get(m, "ok"), &b), KR_OK);
    CU_ASSERT_EQUAL(b, 1);
    kr_err_clear();
    CU_ASSERT_EQUAL(kr_node_double(kr_node_get(m, "bad"), &d), KR_EINPUT);
    CU_ASSERT(err_has("t.yaml:3:36: expected a number, found 'x1'"));
    kr_err_clear();
    CU_ASSERT_PTR_NULL(kr_node_get(m, "absent"));
    CU_ASSERT_STRING_EQUAL(kr_node_key(m, 2), "ok");
    kr_config_free(cfg);
}

static void test_defaults_text(void)
{
    char path[600];
    snprintf(path, sizeof path, "%s/defaults.yaml", kr_test_tmpdir());
    FILE *f = fopen(path, "w");
    CU_ASSERT_PTR_NOT_NULL_FATAL(f);
    CU_ASSERT_EQUAL(kr_config_print_defaults(f, TABLES, 2), KR_OK);
    fclose(f);
    /* the printed defaults are themselves a valid config */
    kr_config *cfg = NULL;
    kr_err_clear();
    CU_ASSERT_EQUAL_FATAL(kr_config_load(path, TABLES, 2, NULL, 0, &cfg), KR_OK);
    CU_ASSERT_STRING_EQUAL(kr_config_string(cfg, "epma.background.model"), "linear");
    kr_config_free(cfg);
    kr_text t;
    CU_ASSERT_EQUAL_FATAL(kr_text_read(path, &t), KR_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "  # counter dead time [number, unit µs, range 0..10]\n  dead_time_us: 1.1\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "one of xpp|pap|zaf]\n  model: xpp\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(t.data, "  # kv:   (no default: optional)\n"));
    kr_text_free(&t);
}

int main(void)
{
    static const kr_test_case tests[] = {
        {"valid config, defaults, nodes", test_valid_and_defaults},
        {"unknown key names place and nearest key", test_unknown_key_suggests},
        {"wrong type names place", test_wrong_type},
        {"out of range and bad choice", test_range_and_choice},
        {"bad YAML syntax names line and column", test_bad_yaml_syntax},
        {"--set overrides", test_overrides},
        {"effective YAML", test_effective_yaml},
        {"paths relative to the config", test_paths_and_file},
        {"typed node reads", test_typed_node_reads},
        {"--defaults text reloads", test_defaults_text},
        {NULL, NULL},
    };
    return kr_test_run("pipeline_config", tests);
}
