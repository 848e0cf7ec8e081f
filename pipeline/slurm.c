/* Slurm job-array script writer (see slurm.h). */
#include "slurm.h"

#include "error.h"
#include "ledger.h"

#include <stdlib.h>
#include <string.h>

char *kr_shell_quote(const char *s)
{
    size_t n = 3;
    for (const char *c = s; *c; c++) n += *c == '\'' ? 4 : 1;
    char *q = malloc(n);
    if (!q) return NULL;
    char *w = q;
    *w++ = '\'';
    for (const char *c = s; *c; c++) {
        if (*c == '\'') {
            memcpy(w, "'\\''", 4);
            w += 4;
        } else {
            *w++ = *c;
        }
    }
    *w++ = '\'';
    *w = '\0';
    return q;
}

/* Print `s` single-quoted; returns nonzero on allocation failure. */
static int putq(FILE *out, const char *s)
{
    char *q = kr_shell_quote(s);
    if (!q) return kr_err(KR_ENOMEM, "out of memory");
    fputs(q, out);
    free(q);
    return KR_OK;
}

int kr_slurm_write(FILE *out, const kr_nightly_plan *plan, const kr_slurm_opts *o, size_t *nruns)
{
    int rc = KR_OK;
    size_t n = 0;
    char now[32];
    kr_ledger_now_utc(now, sizeof now);
    for (size_t i = 0; i < plan->n; i++) n += plan->jobs[i].action == KR_JOB_RUN;
    *nruns = n;
    fprintf(out, "#!/bin/bash\n");
    fprintf(out, "# kreep nightly as a Slurm job array: written by `kreep plan` (kreep %s) at %s\n", KREEP_VERSION, now);
    fprintf(out, "# from %s: %zu run(s), one array task each, and a merge-and-QA task after them.\n",
            o->nightly_yaml, n);
    fprintf(out, "#   submit:          bash THIS_SCRIPT --submit\n"
                 "#   one task here:   SLURM_ARRAY_TASK_ID=0 bash THIS_SCRIPT\n"
                 "#   merge and QA:    bash THIS_SCRIPT --merge\n");
    fprintf(out, "#SBATCH --job-name=kreep-night\n");
    if (n) fprintf(out, "#SBATCH --array=0-%zu\n", n - 1);
    fprintf(out, "#SBATCH --ntasks=1\n#SBATCH --cpus-per-task=1\n");
    if (o->mem_mb > 0) fprintf(out, "#SBATCH --mem=%ldM\n", o->mem_mb);
    if (o->time_limit) fprintf(out, "#SBATCH --time=%s\n", o->time_limit);
    if (o->partition) fprintf(out, "#SBATCH --partition=%s\n", o->partition);
    fprintf(out, "#SBATCH --output=%s/kreep-night-%%A_%%a.out\n", o->log_dir);
    fprintf(out, "set -u\n");
    fprintf(out, "KREEP=${KREEP:-");
    if ((rc = putq(out, o->kreep))) return rc;
    fprintf(out, "}\nINDEX=");
    if ((rc = putq(out, o->index_path))) return rc;
    fprintf(out, "\nNIGHTLY=");
    if ((rc = putq(out, o->nightly_yaml))) return rc;
    fprintf(out, "\nLEDGER=");
    if ((rc = putq(out, o->ledger_path))) return rc;
    fprintf(out, "\nLOGDIR=");
    if ((rc = putq(out, o->log_dir))) return rc;
    fprintf(out, "\nNRUNS=%zu\nPRODUCTS=(\n", n);
    for (size_t i = 0; i < plan->n; i++) {
        if (plan->jobs[i].action != KR_JOB_RUN) continue;
        fprintf(out, "  ");
        if ((rc = putq(out, plan->jobs[i].product))) return rc;
        fprintf(out, "\n");
    }
    fprintf(out, ")\n\nrun_task() {\n  case \"$1\" in\n");
    size_t k = 0;
    for (size_t i = 0; i < plan->n; i++) {
        const kr_nightly_job *j = &plan->jobs[i];
        if (j->action != KR_JOB_RUN) continue;
        fprintf(out, "  %zu) # %s/%s: %s\n     mkdir -p \"$(dirname \"${PRODUCTS[%zu]}\")\" &&\n     \"$KREEP\" run ", k,
                j->instrument, j->name, j->reason, k);
        if ((rc = putq(out, j->template_path))) return rc;
        fprintf(out, " -o \"${PRODUCTS[%zu]}\"", k);
        for (size_t s = 0; s < j->noverrides; s++) {
            fprintf(out, " \\\n       --set ");
            if ((rc = putq(out, j->overrides[s]))) return rc;
        }
        fprintf(out, " ;;\n");
        k++;
    }
    fprintf(out, "  *) echo \"kreep plan: no task $1 (0..$((NRUNS - 1)))\" >&2; return 2 ;;\n  esac\n}\n\n");
    fprintf(out,
            "merge_and_qa() {\n"
            "  local have=() p st=0\n"
            "  for p in \"${PRODUCTS[@]}\"; do [ -f \"$p\" ] && have+=(\"$p\"); done\n"
            "  echo \"merge: ${#have[@]} of $NRUNS products present\"\n"
            "  [ ${#have[@]} -eq $NRUNS ] || st=3\n"
            "  \"$KREEP\" nightly \"$NIGHTLY\" --adopt --scan-interval 0 || st=$?\n"
            "  if [ ${#have[@]} -gt 0 ]; then \"$KREEP\" merge -o \"$INDEX\" \"${have[@]}\" || st=1; fi\n"
            "  if \"$KREEP\" qa --help >/dev/null 2>&1; then\n"
            "    \"$KREEP\" qa --ledger \"$LEDGER\" -o \"${INDEX%%.h5}.qa.html\" || st=1\n"
            "  fi\n"
            "  return $st\n"
            "}\n\n"
            "case \"${1:-}\" in\n"
            "  --submit)\n"
            "    mkdir -p \"$LOGDIR\"\n"
            "    [ \"$NRUNS\" -gt 0 ] || { echo 'kreep plan: nothing to run'; exit 0; }\n"
            "    jid=$(sbatch --parsable \"$0\") || exit 1\n"
            "    sbatch --parsable --job-name=kreep-merge --dependency=afterany:\"${jid%%%%;*}\" \\\n"
            "      --output=\"$LOGDIR/kreep-merge-%%j.out\" --wrap \"bash '$0' --merge\"\n"
            "    exit $? ;;\n"
            "  --merge) merge_and_qa; exit $? ;;\n"
            "  '') : \"${SLURM_ARRAY_TASK_ID:?set SLURM_ARRAY_TASK_ID (or use --submit / --merge)}\"\n"
            "      run_task \"$SLURM_ARRAY_TASK_ID\"; exit $? ;;\n"
            "  *) echo \"usage: bash $0 [--submit|--merge] (or SLURM_ARRAY_TASK_ID=N bash $0)\" >&2; exit 2 ;;\n"
            "esac\n");
    if (ferror(out)) return kr_err(KR_EIO, "cannot write the Slurm script");
    return KR_OK;
}
