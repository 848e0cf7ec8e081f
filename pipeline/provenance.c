/* Provenance records of a run: calibration files, failed samples. */
#include "provenance.h"

#include "calib.h"
#include "error.h"
#include "text.h"

#include <stddef.h>

static const kr_column FAILURE_COLS[] = {
    KR_COL_S(kr_failure_row, stage, "stage in which the sample failed"),
    KR_COL_S(kr_failure_row, sample, "sample id"),
    KR_COL_S(kr_failure_row, message, "error chain (outer: inner)"),
};
const kr_table_desc kr_failure_desc = KR_TABLE(FAILURE_COLS, kr_failure_row);

int kr_provenance_add_calib_files(kr_product *p)
{
    for (size_t i = 0;; i++) {
        const char *name = kr_calib_name(i);
        if (!name) break;
        kr_text t;
        int rc = kr_calib_text(name, &t);
        if (rc) return kr_err(rc, "cannot record calibration file %s in the provenance", name);
        rc = kr_product_add_calib(p, name, t.data, t.len);
        kr_text_free(&t);
        if (rc) return rc;
    }
    return KR_OK;
}
