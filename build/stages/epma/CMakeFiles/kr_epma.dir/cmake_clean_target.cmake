file(REMOVE_RECURSE
  "libkr_epma.a"
)
