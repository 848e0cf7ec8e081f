file(REMOVE_RECURSE
  "CMakeFiles/kr_epma.dir/__/__/cmake/empty.c.o"
  "CMakeFiles/kr_epma.dir/__/__/cmake/empty.c.o.d"
  "libkr_epma.a"
  "libkr_epma.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/kr_epma.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
