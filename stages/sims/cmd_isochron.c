/* kreep isochron PbPb.csv [--form inverse|normal]: York regression and Pb-Pb isochron age. */
#include "commands.h"
#include "error.h"
#include "pbpb.h"
#include "ratio_io.h"

#include <stdio.h>
#include <string.h>

static void isochron_usage(FILE *out)
{
    fprintf(out, "usage: kreep isochron PbPb.csv [--form inverse|normal] [--u238-u235 hiess|sj77]\n"
                 "\n"
                 "York (2004) regression of IsoplotR Pb-Pb ratios and the 207Pb/206Pb isochron age.\n"
                 "Input header: Pb206Pb204,errPb206Pb204,Pb207Pb204,errPb207Pb204,rho (normal form) or\n"
                 "              Pb204Pb206,errPb204Pb206,Pb207Pb206,errPb207Pb206,rho (inverse form); 1 sigma.\n"
                 "--form inverse (default): 204/206 vs 207/206, intercept = 207Pb* / 206Pb*.\n"
                 "--form normal: 206/204 vs 207/204, slope = 207Pb* / 206Pb*.\n"
                 "Prints one CSV row; errors are 1 sigma; age_err_ma is internal, age_err_ext_ma adds decay\n"
                 "constant and 238U/235U uncertainties, age_err_inflated_ma is sqrt(MSWD) x internal when p < 0.05.\n");
}

int cmd_isochron(int argc, char **argv)
{
    const char *path = NULL;
    kr_iso_form form = KR_ISO_INVERSE;
    const char *u_name = "u238_u235";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            isochron_usage(stdout);
            return KR_OK;
        } else if (!strcmp(argv[i], "--form") && i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(v, "inverse"))
                form = KR_ISO_INVERSE;
            else if (!strcmp(v, "normal"))
                form = KR_ISO_NORMAL;
            else
                return kr_err(KR_EUSAGE, "--form must be inverse or normal, not '%s'", v);
        } else if (!strcmp(argv[i], "--u238-u235") && i + 1 < argc) {
            const char *v = argv[++i];
            if (!strcmp(v, "hiess"))
                u_name = "u238_u235";
            else if (!strcmp(v, "sj77"))
                u_name = "u238_u235_sj77";
            else
                return kr_err(KR_EUSAGE, "--u238-u235 must be hiess or sj77, not '%s'", v);
        } else if (argv[i][0] == '-' && argv[i][1]) {
            isochron_usage(stderr);
            return kr_err(KR_EUSAGE, "unknown or incomplete option '%s'", argv[i]);
        } else if (!path) {
            path = argv[i];
        } else {
            return kr_err(KR_EUSAGE, "isochron takes one input file, got '%s' and '%s'", path, argv[i]);
        }
    }
    if (!path) {
        isochron_usage(stderr);
        return kr_err(KR_EUSAGE, "isochron: missing input file");
    }
    kr_pbpb_consts c;
    int rc = kr_pbpb_consts_load(&c, u_name);
    if (rc) return rc;
    kr_pbpb_data raw, d;
    rc = kr_pbpb_data_read(path, &raw);
    if (rc) return rc;
    rc = kr_pbpb_data_to_form(&raw, form, &d);
    kr_pbpb_data_free(&raw);
    if (rc) return rc;
    kr_pbpb_isochron iso;
    rc = kr_pbpb_isochron_fit(&c, form, d.x, d.sx, d.y, d.sy, d.rxy, d.n, &iso);
    kr_pbpb_data_free(&d);
    if (rc) return kr_err(rc == KR_ENUMERIC ? KR_EINPUT : rc, "%s: isochron fit failed", path);
    printf("form,n,intercept,intercept_err,slope,slope_err,cov_ab,mswd,p,df,pb207_pb206_rad,"
           "pb207_pb206_rad_err,age_ma,age_err_ma,age_err_ext_ma,age_err_inflated_ma\n");
    printf("%s,%zu,%.12g,%.12g,%.12g,%.12g,%.12g,%.12g,%.12g,%d,%.12g,%.12g,%.12g,%.12g,%.12g,%.12g\n",
           form == KR_ISO_INVERSE ? "inverse" : "normal", iso.fit.n, iso.fit.a, iso.fit.sa, iso.fit.b, iso.fit.sb,
           iso.fit.cov_ab, iso.fit.mswd, iso.fit.p, iso.fit.df, iso.rstar, iso.srstar, iso.age.t_ma, iso.age.st_int_ma,
           iso.age.st_ext_ma, iso.st_inflated_ma);
    return KR_OK;
}
