
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/pipeline/calib.c" "pipeline/CMakeFiles/kr_pipeline.dir/calib.c.o" "gcc" "pipeline/CMakeFiles/kr_pipeline.dir/calib.c.o.d"
  "/work/main/build/pipeline/calib_embedded.c" "pipeline/CMakeFiles/kr_pipeline.dir/calib_embedded.c.o" "gcc" "pipeline/CMakeFiles/kr_pipeline.dir/calib_embedded.c.o.d"
  "/work/main/pipeline/config.c" "pipeline/CMakeFiles/kr_pipeline.dir/config.c.o" "gcc" "pipeline/CMakeFiles/kr_pipeline.dir/config.c.o.d"
  "/work/main/pipeline/error.c" "pipeline/CMakeFiles/kr_pipeline.dir/error.c.o" "gcc" "pipeline/CMakeFiles/kr_pipeline.dir/error.c.o.d"
  "/work/main/pipeline/hash.c" "pipeline/CMakeFiles/kr_pipeline.dir/hash.c.o" "gcc" "pipeline/CMakeFiles/kr_pipeline.dir/hash.c.o.d"
  "/work/main/pipeline/ledger.c" "pipeline/CMakeFiles/kr_pipeline.dir/ledger.c.o" "gcc" "pipeline/CMakeFiles/kr_pipeline.dir/ledger.c.o.d"
  "/work/main/pipeline/lock.c" "pipeline/CMakeFiles/kr_pipeline.dir/lock.c.o" "gcc" "pipeline/CMakeFiles/kr_pipeline.dir/lock.c.o.d"
  "/work/main/pipeline/log.c" "pipeline/CMakeFiles/kr_pipeline.dir/log.c.o" "gcc" "pipeline/CMakeFiles/kr_pipeline.dir/log.c.o.d"
  "/work/main/pipeline/merge.c" "pipeline/CMakeFiles/kr_pipeline.dir/merge.c.o" "gcc" "pipeline/CMakeFiles/kr_pipeline.dir/merge.c.o.d"
  "/work/main/pipeline/nightly.c" "pipeline/CMakeFiles/kr_pipeline.dir/nightly.c.o" "gcc" "pipeline/CMakeFiles/kr_pipeline.dir/nightly.c.o.d"
  "/work/main/pipeline/product.c" "pipeline/CMakeFiles/kr_pipeline.dir/product.c.o" "gcc" "pipeline/CMakeFiles/kr_pipeline.dir/product.c.o.d"
  "/work/main/pipeline/provenance.c" "pipeline/CMakeFiles/kr_pipeline.dir/provenance.c.o" "gcc" "pipeline/CMakeFiles/kr_pipeline.dir/provenance.c.o.d"
  "/work/main/pipeline/run.c" "pipeline/CMakeFiles/kr_pipeline.dir/run.c.o" "gcc" "pipeline/CMakeFiles/kr_pipeline.dir/run.c.o.d"
  "/work/main/pipeline/slurm.c" "pipeline/CMakeFiles/kr_pipeline.dir/slurm.c.o" "gcc" "pipeline/CMakeFiles/kr_pipeline.dir/slurm.c.o.d"
  "/work/main/pipeline/text.c" "pipeline/CMakeFiles/kr_pipeline.dir/text.c.o" "gcc" "pipeline/CMakeFiles/kr_pipeline.dir/text.c.o.d"
  "/work/main/pipeline/yaml_tree.c" "pipeline/CMakeFiles/kr_pipeline.dir/yaml_tree.c.o" "gcc" "pipeline/CMakeFiles/kr_pipeline.dir/yaml_tree.c.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
