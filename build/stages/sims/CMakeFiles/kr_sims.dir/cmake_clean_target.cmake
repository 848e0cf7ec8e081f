file(REMOVE_RECURSE
  "libkr_sims.a"
)
