file(REMOVE_RECURSE
  "CMakeFiles/kr_laicpms.dir/__/__/cmake/empty.c.o"
  "CMakeFiles/kr_laicpms.dir/__/__/cmake/empty.c.o.d"
  "CMakeFiles/kr_laicpms.dir/la_read.c.o"
  "CMakeFiles/kr_laicpms.dir/la_read.c.o.d"
  "CMakeFiles/kr_laicpms.dir/la_reduce.c.o"
  "CMakeFiles/kr_laicpms.dir/la_reduce.c.o.d"
  "CMakeFiles/kr_laicpms.dir/la_stage.c.o"
  "CMakeFiles/kr_laicpms.dir/la_stage.c.o.d"
  "libkr_laicpms.a"
  "libkr_laicpms.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/kr_laicpms.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
