/* SHA-256 (FIPS 180-4) through OpenSSL's EVP interface. */
#include "hash.h"

#include "error.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

static void to_hex(const unsigned char *md, unsigned len, char hex[KR_SHA256_HEX])
{
    static const char digits[] = "0123456789abcdef";
    for (unsigned i = 0; i < len && i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
}

int kr_sha256_mem(const void *data, size_t len, char hex[KR_SHA256_HEX])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    if (!EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32)
        return kr_err(KR_EIO, "SHA-256 failed (OpenSSL)");
    to_hex(md, mdlen, hex);
    return KR_OK;
}

int kr_sha256_file(const char *path, char hex[KR_SHA256_HEX], long long *size)
{
    int rc = KR_OK;
    unsigned char buf[65536];
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned mdlen = 0;
    long long total = 0;
    EVP_MD_CTX *ctx = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return kr_err(KR_EIO, "%s: cannot open: %s", path, strerror(errno));
    ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
        rc = kr_err(KR_ENOMEM, "%s: cannot start SHA-256 (OpenSSL)", path);
        goto cleanup;
    }
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
        if (!EVP_DigestUpdate(ctx, buf, n)) {
            rc = kr_err(KR_EIO, "%s: SHA-256 failed (OpenSSL)", path);
            goto cleanup;
        }
        total += (long long)n;
    }
    if (ferror(f)) {
        rc = kr_err(KR_EIO, "%s: read failed: %s", path, strerror(errno));
        goto cleanup;
    }
    if (!EVP_DigestFinal_ex(ctx, md, &mdlen) || mdlen != 32) {
        rc = kr_err(KR_EIO, "%s: SHA-256 failed (OpenSSL)", path);
        goto cleanup;
    }
    to_hex(md, mdlen, hex);
    if (size) *size = total;
cleanup:
    EVP_MD_CTX_free(ctx);
    fclose(f);
    return rc;
}
