/* SHA-256 of files and buffers (OpenSSL libcrypto EVP), as lowercase hex. */
#ifndef KR_HASH_H
#define KR_HASH_H
#include <stddef.h>

enum { KR_SHA256_HEX = 65 }; /* 64 hex digits + NUL */

/* Hash a whole file (streamed); `size` (may be NULL) receives its size in bytes. */
int kr_sha256_file(const char *path, char hex[KR_SHA256_HEX], long long *size);
int kr_sha256_mem(const void *data, size_t len, char hex[KR_SHA256_HEX]);

#endif
