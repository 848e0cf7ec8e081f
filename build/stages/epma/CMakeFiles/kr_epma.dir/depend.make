# Empty dependencies file for kr_epma.
# This may be replaced when dependencies are built.
