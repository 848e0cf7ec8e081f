# CMake generated Testfile for 
# Source directory: /work/main
# Build directory: /work/main/build
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
subdirs("pipeline")
subdirs("stages/epma")
subdirs("stages/sims")
subdirs("stages/laicpms")
subdirs("stages/qa")
subdirs("scripts/synth-maps")
subdirs("scripts/synth-epma")
subdirs("scripts/synth-sims")
subdirs("scripts/synth-laicpms")
subdirs("tests")
