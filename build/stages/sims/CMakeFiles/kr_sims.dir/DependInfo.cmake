
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/cmake/empty.c" "stages/sims/CMakeFiles/kr_sims.dir/__/__/cmake/empty.c.o" "gcc" "stages/sims/CMakeFiles/kr_sims.dir/__/__/cmake/empty.c.o.d"
  "/work/main/stages/sims/asc.c" "stages/sims/CMakeFiles/kr_sims.dir/asc.c.o" "gcc" "stages/sims/CMakeFiles/kr_sims.dir/asc.c.o.d"
  "/work/main/stages/sims/cmd_isochron.c" "stages/sims/CMakeFiles/kr_sims.dir/cmd_isochron.c.o" "gcc" "stages/sims/CMakeFiles/kr_sims.dir/cmd_isochron.c.o.d"
  "/work/main/stages/sims/cmd_wmean.c" "stages/sims/CMakeFiles/kr_sims.dir/cmd_wmean.c.o" "gcc" "stages/sims/CMakeFiles/kr_sims.dir/cmd_wmean.c.o.d"
  "/work/main/stages/sims/pbpb.c" "stages/sims/CMakeFiles/kr_sims.dir/pbpb.c.o" "gcc" "stages/sims/CMakeFiles/kr_sims.dir/pbpb.c.o.d"
  "/work/main/stages/sims/ratio_io.c" "stages/sims/CMakeFiles/kr_sims.dir/ratio_io.c.o" "gcc" "stages/sims/CMakeFiles/kr_sims.dir/ratio_io.c.o.d"
  "/work/main/stages/sims/reduce.c" "stages/sims/CMakeFiles/kr_sims.dir/reduce.c.o" "gcc" "stages/sims/CMakeFiles/kr_sims.dir/reduce.c.o.d"
  "/work/main/stages/sims/sims_stage.c" "stages/sims/CMakeFiles/kr_sims.dir/sims_stage.c.o" "gcc" "stages/sims/CMakeFiles/kr_sims.dir/sims_stage.c.o.d"
  "/work/main/stages/sims/stats.c" "stages/sims/CMakeFiles/kr_sims.dir/stats.c.o" "gcc" "stages/sims/CMakeFiles/kr_sims.dir/stats.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build/pipeline/CMakeFiles/kr_pipeline.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
