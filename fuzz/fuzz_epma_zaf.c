/* libFuzzer: `kreep zaf` input CSV (stages/epma/cmd_zaf.c: its reader is private, so the whole command
 * runs, matrix correction included; its stdout goes to /dev/null). */
#include "commands.h"
#include "fuzz_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!freopen("/dev/null", "w", stdout)) abort();
    kr_err_install_handlers();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[512];
    if (kr_fuzz_tmpfile(data, size, "zaf", ".csv", path, sizeof path)) return 0;
    char a0[] = "zaf", a2[] = "--model", a3[] = "xpp";
    char *argv[] = {a0, path, a2, a3, NULL};
    /* the first byte of the input also picks the model, so all three get fuzzed */
    if (size > 0 && data[0] % 3 == 1) argv[3] = "pap";
    if (size > 0 && data[0] % 3 == 2) argv[3] = "zaf";
    (void)cmd_zaf(4, argv);
    remove(path);
    kr_fuzz_drain_errors();
    return 0;
}
