# Empty compiler generated dependencies file for kr_sims.
# This may be replaced when dependencies are built.
