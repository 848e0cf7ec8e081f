file(REMOVE_RECURSE
  "libkr_laicpms.a"
)
