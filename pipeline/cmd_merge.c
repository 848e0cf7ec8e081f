/* kreep merge: one index file linking many products. */
#include "commands.h"
#include "error.h"
#include "merge.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *out)
{
    fprintf(out, "usage: kreep merge -o INDEX.h5 PRODUCT.h5 [PRODUCT.h5 ...]\n"
                 "\n"
                 "Write one index file: /runs/<run name>/<group> are HDF5 external links to each product's\n"
                 "top-level groups, /index is a table of the products (run name, creation time, software\n"
                 "version, config hash, file SHA-256, groups). Products inside the index's folder are linked by\n"
                 "relative path, so the folder can be moved as a whole. The products are not copied.\n"
                 "\n"
                 "  -o, --output INDEX.h5   the index file (written atomically)\n"
                 "  -h, --help              this help\n"
                 "exit status: 0 written, 1 a product is missing or not a kreep product (nothing written), 2 usage\n");
}

int cmd_merge(int argc, char **argv)
{
    const char *out = NULL;
    int n = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return KR_OK;
        } else if (!strcmp(argv[i], "-o") || !strcmp(argv[i], "--output")) {
            if (++i >= argc) return kr_err(KR_EUSAGE, "merge: %s needs a file name", argv[i - 1]);
            out = argv[i];
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return kr_err(KR_EUSAGE, "merge: unknown option '%s' (see kreep merge --help)", argv[i]);
        } else {
            argv[1 + n++] = argv[i]; /* compact the product names in place */
        }
    }
    if (!out || n == 0) {
        usage(stderr);
        return kr_err(KR_EUSAGE, "merge: %s", !out ? "missing -o INDEX.h5" : "no products given");
    }
    int rc = kr_merge_products(out, (const char *const *)(argv + 1), (size_t)n);
    if (!rc) printf("wrote %s linking %d product(s)\n", out, n);
    return rc;
}
