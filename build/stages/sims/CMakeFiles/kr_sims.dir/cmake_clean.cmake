file(REMOVE_RECURSE
  "CMakeFiles/kr_sims.dir/__/__/cmake/empty.c.o"
  "CMakeFiles/kr_sims.dir/__/__/cmake/empty.c.o.d"
  "CMakeFiles/kr_sims.dir/asc.c.o"
  "CMakeFiles/kr_sims.dir/asc.c.o.d"
  "CMakeFiles/kr_sims.dir/cmd_isochron.c.o"
  "CMakeFiles/kr_sims.dir/cmd_isochron.c.o.d"
  "CMakeFiles/kr_sims.dir/cmd_wmean.c.o"
  "CMakeFiles/kr_sims.dir/cmd_wmean.c.o.d"
  "CMakeFiles/kr_sims.dir/pbpb.c.o"
  "CMakeFiles/kr_sims.dir/pbpb.c.o.d"
  "CMakeFiles/kr_sims.dir/ratio_io.c.o"
  "CMakeFiles/kr_sims.dir/ratio_io.c.o.d"
  "CMakeFiles/kr_sims.dir/reduce.c.o"
  "CMakeFiles/kr_sims.dir/reduce.c.o.d"
  "CMakeFiles/kr_sims.dir/sims_stage.c.o"
  "CMakeFiles/kr_sims.dir/sims_stage.c.o.d"
  "CMakeFiles/kr_sims.dir/stats.c.o"
  "CMakeFiles/kr_sims.dir/stats.c.o.d"
  "libkr_sims.a"
  "libkr_sims.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/kr_sims.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
