/* kreep's subcommands. Each takes argv with argv[0] = the command name, handles its own --help, and
 * returns a kr_status (mapped to the exit code by main). */
#ifndef KR_COMMANDS_H
#define KR_COMMANDS_H

int cmd_run(int argc, char **argv);      /* pipeline/cmd_run.c */
int cmd_inspect(int argc, char **argv);  /* pipeline/cmd_inspect.c */
int cmd_config(int argc, char **argv);   /* pipeline/cmd_config.c */
int cmd_zaf(int argc, char **argv);      /* stages/epma/cmd_zaf.c */
int cmd_isochron(int argc, char **argv); /* stages/sims/cmd_isochron.c */
int cmd_wmean(int argc, char **argv);    /* stages/sims/cmd_wmean.c */
int cmd_nightly(int argc, char **argv);   /* pipeline/cmd_nightly.c */
int cmd_reprocess(int argc, char **argv); /* pipeline/cmd_reprocess.c */
int cmd_plan(int argc, char **argv);      /* pipeline/cmd_plan.c */
int cmd_merge(int argc, char **argv);     /* pipeline/cmd_merge.c */
int cmd_qa(int argc, char **argv);        /* pipeline/cmd_qa.c */

#endif
