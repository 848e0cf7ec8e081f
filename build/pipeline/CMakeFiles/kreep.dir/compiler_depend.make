# Empty compiler generated dependencies file for kreep.
# This may be replaced when dependencies are built.
