/* Shared helpers for the CUnit suites. */
#ifndef KR_TEST_H
#define KR_TEST_H
#include <CUnit/CUnit.h>

/* Path to ../shared (KREEP_SHARED overrides), or NULL when absent: tests that need it skip. */
const char *kr_test_shared(void);
/* Build a path under ../shared into buf; returns NULL (and prints a SKIP line naming the test) when
 * shared data is absent. */
const char *kr_test_shared_path(char *buf, size_t len, const char *rel, const char *test_name);
/* Path under the source tree (e.g. "sample_runs/ce5-glass-beads/run.yaml"). */
const char *kr_test_source_path(char *buf, size_t len, const char *rel);
/* A fresh temporary directory for this process (removed by kr_test_run). */
const char *kr_test_tmpdir(void);
/* Relative closeness: |a-b| <= rel*|b| */
#define KR_ASSERT_REL(a, b, rel) CU_ASSERT_DOUBLE_EQUAL((a), (b), (rel) * fabs((double)(b)) + 1e-300)

/* Register `suite` with `tests` (NULL-terminated {name, fn}) and run everything; returns the exit code. */
typedef struct {
    const char *name;
    CU_TestFunc fn;
} kr_test_case;
int kr_test_run(const char *suite, const kr_test_case *tests);
#endif
