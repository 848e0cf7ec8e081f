pipeline/CMakeFiles/kr_pipeline.dir/calib_embedded.c.o: \
 /work/main/build/pipeline/calib_embedded.c /usr/include/stdc-predef.h \
 /usr/lib/gcc/x86_64-linux-gnu/12/include/stddef.h
