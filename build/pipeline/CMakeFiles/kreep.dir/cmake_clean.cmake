file(REMOVE_RECURSE
  "../kreep"
  "../kreep.pdb"
  "CMakeFiles/kreep.dir/cmd_config.c.o"
  "CMakeFiles/kreep.dir/cmd_config.c.o.d"
  "CMakeFiles/kreep.dir/cmd_inspect.c.o"
  "CMakeFiles/kreep.dir/cmd_inspect.c.o.d"
  "CMakeFiles/kreep.dir/cmd_merge.c.o"
  "CMakeFiles/kreep.dir/cmd_merge.c.o.d"
  "CMakeFiles/kreep.dir/cmd_nightly.c.o"
  "CMakeFiles/kreep.dir/cmd_nightly.c.o.d"
  "CMakeFiles/kreep.dir/cmd_plan.c.o"
  "CMakeFiles/kreep.dir/cmd_plan.c.o.d"
  "CMakeFiles/kreep.dir/cmd_qa.c.o"
  "CMakeFiles/kreep.dir/cmd_qa.c.o.d"
  "CMakeFiles/kreep.dir/cmd_reprocess.c.o"
  "CMakeFiles/kreep.dir/cmd_reprocess.c.o.d"
  "CMakeFiles/kreep.dir/cmd_run.c.o"
  "CMakeFiles/kreep.dir/cmd_run.c.o.d"
  "CMakeFiles/kreep.dir/main.c.o"
  "CMakeFiles/kreep.dir/main.c.o.d"
)

# Per-language clean rules from dependency scanning.
foreach(lang C)
  include(CMakeFiles/kreep.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
