#include "kr_test.h"

#include "error.h"

#include <CUnit/Basic.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char shared_dir[PATH_MAX];
static char tmp_dir[64];

const char *kr_test_shared(void)
{
    if (shared_dir[0]) return shared_dir;
    const char *env = getenv("KREEP_SHARED");
    char cand[PATH_MAX];
    if (env && *env)
        snprintf(cand, sizeof cand, "%s", env);
    else
        snprintf(cand, sizeof cand, "%s/../shared", KREEP_SOURCE_DIR);
    struct stat st;
    if (stat(cand, &st) != 0 || !S_ISDIR(st.st_mode)) return NULL;
    snprintf(shared_dir, sizeof shared_dir, "%s", cand);
    return shared_dir;
}

const char *kr_test_shared_path(char *buf, size_t len, const char *rel, const char *test_name)
{
    const char *s = kr_test_shared();
    if (!s) {
        printf("\nSKIP: %s: ../shared is absent (set KREEP_SHARED)\n", test_name);
        return NULL;
    }
    snprintf(buf, len, "%s/%s", s, rel);
    if (access(buf, R_OK) != 0) {
        printf("\nSKIP: %s: %s is absent\n", test_name, buf);
        return NULL;
    }
    return buf;
}

const char *kr_test_source_path(char *buf, size_t len, const char *rel)
{
    snprintf(buf, len, "%s/%s", KREEP_SOURCE_DIR, rel);
    return buf;
}

const char *kr_test_tmpdir(void)
{
    if (!tmp_dir[0]) {
        snprintf(tmp_dir, sizeof tmp_dir, "/tmp/kreep-test-XXXXXX");
        if (!mkdtemp(tmp_dir)) {
            perror("mkdtemp");
            exit(1);
        }
    }
    return tmp_dir;
}

int kr_test_run(const char *suite_name, const kr_test_case *tests)
{
    kr_err_install_handlers();
    if (CU_initialize_registry() != CUE_SUCCESS) return 1;
    CU_pSuite suite = CU_add_suite(suite_name, NULL, NULL);
    for (const kr_test_case *t = tests; t->name; t++) CU_add_test(suite, t->name, t->fn);
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    CU_cleanup_registry();
    if (tmp_dir[0]) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp_dir);
        if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", tmp_dir);
    }
    return failed ? 1 : 0;
}
