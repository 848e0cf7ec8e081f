file(REMOVE_RECURSE
  "libkr_pipeline.a"
)
