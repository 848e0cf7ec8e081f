
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/cmake/empty.c" "stages/epma/CMakeFiles/kr_epma.dir/__/__/cmake/empty.c.o" "gcc" "stages/epma/CMakeFiles/kr_epma.dir/__/__/cmake/empty.c.o.d"
  "/work/main/stages/epma/atomic.c" "stages/epma/CMakeFiles/kr_epma.dir/atomic.c.o" "gcc" "stages/epma/CMakeFiles/kr_epma.dir/atomic.c.o.d"
  "/work/main/stages/epma/cmd_zaf.c" "stages/epma/CMakeFiles/kr_epma.dir/cmd_zaf.c.o" "gcc" "stages/epma/CMakeFiles/kr_epma.dir/cmd_zaf.c.o.d"
  "/work/main/stages/epma/counts.c" "stages/epma/CMakeFiles/kr_epma.dir/counts.c.o" "gcc" "stages/epma/CMakeFiles/kr_epma.dir/counts.c.o.d"
  "/work/main/stages/epma/generic_csv.c" "stages/epma/CMakeFiles/kr_epma.dir/generic_csv.c.o" "gcc" "stages/epma/CMakeFiles/kr_epma.dir/generic_csv.c.o.d"
  "/work/main/stages/epma/jeol.c" "stages/epma/CMakeFiles/kr_epma.dir/jeol.c.o" "gcc" "stages/epma/CMakeFiles/kr_epma.dir/jeol.c.o.d"
  "/work/main/stages/epma/jeol_points.c" "stages/epma/CMakeFiles/kr_epma.dir/jeol_points.c.o" "gcc" "stages/epma/CMakeFiles/kr_epma.dir/jeol_points.c.o.d"
  "/work/main/stages/epma/mac.c" "stages/epma/CMakeFiles/kr_epma.dir/mac.c.o" "gcc" "stages/epma/CMakeFiles/kr_epma.dir/mac.c.o.d"
  "/work/main/stages/epma/map_quant.c" "stages/epma/CMakeFiles/kr_epma.dir/map_quant.c.o" "gcc" "stages/epma/CMakeFiles/kr_epma.dir/map_quant.c.o.d"
  "/work/main/stages/epma/map_read.c" "stages/epma/CMakeFiles/kr_epma.dir/map_read.c.o" "gcc" "stages/epma/CMakeFiles/kr_epma.dir/map_read.c.o.d"
  "/work/main/stages/epma/map_run.c" "stages/epma/CMakeFiles/kr_epma.dir/map_run.c.o" "gcc" "stages/epma/CMakeFiles/kr_epma.dir/map_run.c.o.d"
  "/work/main/stages/epma/map_stats.c" "stages/epma/CMakeFiles/kr_epma.dir/map_stats.c.o" "gcc" "stages/epma/CMakeFiles/kr_epma.dir/map_stats.c.o.d"
  "/work/main/stages/epma/map_synth.c" "stages/epma/CMakeFiles/kr_epma.dir/map_synth.c.o" "gcc" "stages/epma/CMakeFiles/kr_epma.dir/map_synth.c.o.d"
  "/work/main/stages/epma/matrix.c" "stages/epma/CMakeFiles/kr_epma.dir/matrix.c.o" "gcc" "stages/epma/CMakeFiles/kr_epma.dir/matrix.c.o.d"
  "/work/main/stages/epma/png_map.c" "stages/epma/CMakeFiles/kr_epma.dir/png_map.c.o" "gcc" "stages/epma/CMakeFiles/kr_epma.dir/png_map.c.o.d"
  "/work/main/stages/epma/points.c" "stages/epma/CMakeFiles/kr_epma.dir/points.c.o" "gcc" "stages/epma/CMakeFiles/kr_epma.dir/points.c.o.d"
  "/work/main/stages/epma/points_input.c" "stages/epma/CMakeFiles/kr_epma.dir/points_input.c.o" "gcc" "stages/epma/CMakeFiles/kr_epma.dir/points_input.c.o.d"
  "/work/main/stages/epma/stage_epma.c" "stages/epma/CMakeFiles/kr_epma.dir/stage_epma.c.o" "gcc" "stages/epma/CMakeFiles/kr_epma.dir/stage_epma.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build/pipeline/CMakeFiles/kr_pipeline.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
