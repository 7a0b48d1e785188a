/* FIPS 180-4 SHA-512, incremental. */
#ifndef YK_SHA512_H
#define YK_SHA512_H
#include <stddef.h>
#include <stdint.h>

typedef struct {
  uint64_t h[8];
  uint8_t buf[128];
  size_t fill;
  uint64_t bytes;
} yk_sha512_ctx;

void yk_sha512_init(yk_sha512_ctx *c);
void yk_sha512_update(yk_sha512_ctx *c, const uint8_t *m, size_t len);
void yk_sha512_final(yk_sha512_ctx *c, uint8_t out[64]);

#endif
