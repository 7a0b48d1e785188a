/*
 * yk_sha512 (native/src/sha512.c) against the FIPS 180-4 SHA-512 examples (NIST "SHA-512" example
 * values, the same digests as node:crypto): the empty message, "abc" (one block), the 448-bit message
 * "abcdbcdecdef…nopq" (one block, padding fills it), the 896-bit message "abcdefghbcdefghi…nopqrstu"
 * (two blocks) and one million 'a'. Each through the one-shot yk_sha512 and through the incremental
 * yk_sha512_init/update/final in pieces of 1, 3, 63, 64, 111, 112, 127, 128, 129 and 1000 bytes (every
 * way a piece can meet a block boundary). Built under ASan and UBSan by run.sh; exits 1 on any mismatch.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "sha512.h"
#include "yk_ed25519.h"

static const struct { const char *name; const char *msg; size_t repeat; const char *digest; } V[] = {
  {"empty", "", 1,
   "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"},
  {"abc", "abc", 1,
   "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"},
  {"448 bits", "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
   "204a8fc6dda82f0a0ced7beb8e08a41657c16ef468b228a8279be331a703c33596fd15c13b1b07f9aa1d3bea57789ca031ad85c7a71dd70354ec631238ca3445"},
  {"896 bits", "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu", 1,
   "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909"},
  {"one million a", "a", 1000000,
   "e718483d0ce769644e2e42c7bc15b4638e1f98b13b2044285632a803afa973ebde0ff244877ea60a4cb0432ce577c31beb009c5c2c49aa2e4eadb217ad8cc09b"},
};

static void tohex(char *out, const uint8_t d[64]) {
  for (int i = 0; i < 64; i++) sprintf(out + 2 * i, "%02x", d[i]);
}

int main(void) {
  static const size_t PIECES[] = {1, 3, 63, 64, 111, 112, 127, 128, 129, 1000};
  int failures = 0, checks = 0;
  for (size_t v = 0; v < sizeof V / sizeof V[0]; v++) {
    const size_t unit = strlen(V[v].msg), len = unit * V[v].repeat;
    uint8_t *m = malloc(len ? len : 1);
    for (size_t i = 0; i < V[v].repeat; i++) memcpy(m + i * unit, V[v].msg, unit);
    uint8_t d[64];
    char h[129];
    yk_sha512(len ? m : NULL, len, d);
    tohex(h, d);
    checks++;
    if (strcmp(h, V[v].digest) != 0) { fprintf(stderr, "FAIL %s, one-shot: %s\n", V[v].name, h); failures++; }
    for (size_t p = 0; p < sizeof PIECES / sizeof PIECES[0]; p++) {
      yk_sha512_ctx c;
      yk_sha512_init(&c);
      for (size_t o = 0; o < len; o += PIECES[p]) yk_sha512_update(&c, m + o, len - o < PIECES[p] ? len - o : PIECES[p]);
      yk_sha512_final(&c, d);
      tohex(h, d);
      checks++;
      if (strcmp(h, V[v].digest) != 0) { fprintf(stderr, "FAIL %s, pieces of %zu: %s\n", V[v].name, PIECES[p], h); failures++; }
    }
    free(m);
  }
  printf("sha512_test: %d checks of 5 FIPS 180-4 examples, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
