file(REMOVE_RECURSE
  "../kreep"
  "../kreep.pdb"
  "CMakeFiles/kreep.dir/cmd_config.c.o"
  "CMakeFiles/kreep.dir/cmd_config.c.o.d"
  "CMakeFiles/kreep.dir/cmd_inspect.c.o"
  "CMakeFiles/kreep.dir/cmd_inspect.c.o.d"
  "CMakeFiles/kreep.dir/cmd_run.c.o"
  "CMakeFiles/kreep.dir/cmd_run.c.o.d"
  "CMakeFiles/kreep.dir/main.c.o"
  "CMakeFiles/kreep.dir/main.c.o.d"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/kreep.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
