# Empty compiler generated dependencies file for kr_laicpms.
# This may be replaced when dependencies are built.
