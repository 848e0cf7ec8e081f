# Empty dependencies file for kr_pipeline.
# This may be replaced when dependencies are built.
