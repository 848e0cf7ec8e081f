
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/pipeline/cmd_config.c" "pipeline/CMakeFiles/kreep.dir/cmd_config.c.o" "gcc" "pipeline/CMakeFiles/kreep.dir/cmd_config.c.o.d"
  "/work/main/pipeline/cmd_inspect.c" "pipeline/CMakeFiles/kreep.dir/cmd_inspect.c.o" "gcc" "pipeline/CMakeFiles/kreep.dir/cmd_inspect.c.o.d"
  "/work/main/pipeline/cmd_merge.c" "pipeline/CMakeFiles/kreep.dir/cmd_merge.c.o" "gcc" "pipeline/CMakeFiles/kreep.dir/cmd_merge.c.o.d"
  "/work/main/pipeline/cmd_nightly.c" "pipeline/CMakeFiles/kreep.dir/cmd_nightly.c.o" "gcc" "pipeline/CMakeFiles/kreep.dir/cmd_nightly.c.o.d"
  "/work/main/pipeline/cmd_plan.c" "pipeline/CMakeFiles/kreep.dir/cmd_plan.c.o" "gcc" "pipeline/CMakeFiles/kreep.dir/cmd_plan.c.o.d"
  "/work/main/pipeline/cmd_qa.c" "pipeline/CMakeFiles/kreep.dir/cmd_qa.c.o" "gcc" "pipeline/CMakeFiles/kreep.dir/cmd_qa.c.o.d"
  "/work/main/pipeline/cmd_reprocess.c" "pipeline/CMakeFiles/kreep.dir/cmd_reprocess.c.o" "gcc" "pipeline/CMakeFiles/kreep.dir/cmd_reprocess.c.o.d"
  "/work/main/pipeline/cmd_run.c" "pipeline/CMakeFiles/kreep.dir/cmd_run.c.o" "gcc" "pipeline/CMakeFiles/kreep.dir/cmd_run.c.o.d"
  "/work/main/pipeline/main.c" "pipeline/CMakeFiles/kreep.dir/main.c.o" "gcc" "pipeline/CMakeFiles/kreep.dir/main.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build/stages/epma/CMakeFiles/kr_epma.dir/DependInfo.cmake"
  "/work/main/build/stages/laicpms/CMakeFiles/kr_laicpms.dir/DependInfo.cmake"
  "/work/main/build/stages/sims/CMakeFiles/kr_sims.dir/DependInfo.cmake"
  "/work/main/build/stages/qa/CMakeFiles/kr_qa.dir/DependInfo.cmake"
  "/work/main/build/pipeline/CMakeFiles/kr_pipeline.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
