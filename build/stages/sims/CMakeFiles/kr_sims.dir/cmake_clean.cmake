file(REMOVE_RECURSE
  "CMakeFiles/kr_sims.dir/__/__/cmake/empty.c.o"
  "CMakeFiles/kr_sims.dir/__/__/cmake/empty.c.o.d"
  "libkr_sims.a"
  "libkr_sims.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/kr_sims.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
