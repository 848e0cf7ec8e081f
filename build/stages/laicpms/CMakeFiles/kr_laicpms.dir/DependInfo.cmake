
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/cmake/empty.c" "stages/laicpms/CMakeFiles/kr_laicpms.dir/__/__/cmake/empty.c.o" "gcc" "stages/laicpms/CMakeFiles/kr_laicpms.dir/__/__/cmake/empty.c.o.d"
  "/work/main/stages/laicpms/la_read.c" "stages/laicpms/CMakeFiles/kr_laicpms.dir/la_read.c.o" "gcc" "stages/laicpms/CMakeFiles/kr_laicpms.dir/la_read.c.o.d"
  "/work/main/stages/laicpms/la_reduce.c" "stages/laicpms/CMakeFiles/kr_laicpms.dir/la_reduce.c.o" "gcc" "stages/laicpms/CMakeFiles/kr_laicpms.dir/la_reduce.c.o.d"
  "/work/main/stages/laicpms/la_stage.c" "stages/laicpms/CMakeFiles/kr_laicpms.dir/la_stage.c.o" "gcc" "stages/laicpms/CMakeFiles/kr_laicpms.dir/la_stage.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build/pipeline/CMakeFiles/kr_pipeline.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
