file(REMOVE_RECURSE
  "CMakeFiles/kr_pipeline.dir/calib.c.o"
  "CMakeFiles/kr_pipeline.dir/calib.c.o.d"
  "CMakeFiles/kr_pipeline.dir/calib_embedded.c.o"
  "CMakeFiles/kr_pipeline.dir/calib_embedded.c.o.d"
  "CMakeFiles/kr_pipeline.dir/config.c.o"
  "CMakeFiles/kr_pipeline.dir/config.c.o.d"
  "CMakeFiles/kr_pipeline.dir/error.c.o"
  "CMakeFiles/kr_pipeline.dir/error.c.o.d"
  "CMakeFiles/kr_pipeline.dir/hash.c.o"
  "CMakeFiles/kr_pipeline.dir/hash.c.o.d"
  "CMakeFiles/kr_pipeline.dir/ledger.c.o"
  "CMakeFiles/kr_pipeline.dir/ledger.c.o.d"
  "CMakeFiles/kr_pipeline.dir/lock.c.o"
  "CMakeFiles/kr_pipeline.dir/lock.c.o.d"
  "CMakeFiles/kr_pipeline.dir/log.c.o"
  "CMakeFiles/kr_pipeline.dir/log.c.o.d"
  "CMakeFiles/kr_pipeline.dir/product.c.o"
  "CMakeFiles/kr_pipeline.dir/product.c.o.d"
  "CMakeFiles/kr_pipeline.dir/provenance.c.o"
  "CMakeFiles/kr_pipeline.dir/provenance.c.o.d"
  "CMakeFiles/kr_pipeline.dir/run.c.o"
  "CMakeFiles/kr_pipeline.dir/run.c.o.d"
  "CMakeFiles/kr_pipeline.dir/text.c.o"
  "CMakeFiles/kr_pipeline.dir/text.c.o.d"
  "CMakeFiles/kr_pipeline.dir/yaml_tree.c.o"
  "CMakeFiles/kr_pipeline.dir/yaml_tree.c.o.d"
  "calib_embedded.c"
  "libkr_pipeline.a"
  "libkr_pipeline.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/kr_pipeline.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
