/*
 * Yukuai Code's Ed25519 verification core (spec §2 signature rule).
 *
 * R ‖ S over M under A is valid iff A and R are canonical encodings of curve points (RFC 8032 §5.1.3),
 * A is not of small order, S < L, and [8]([S]B − R − [k]A) = 0 with k = SHA-512(R ‖ A ‖ M) mod L.
 * Batches check Σ zᵢ(Sᵢ B − Rᵢ − kᵢ Aᵢ) with 128-bit zᵢ from getrandom(2), equal keys merged into one
 * term, times the cofactor; a batch that fails is bisected, so every answer equals the single check.
 * No global state: every function may run on any thread at once.
 */
#ifndef YK_ED25519_H
#define YK_ED25519_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* One signature: public key, R ‖ S, and the message in two pieces (msg = m1 ‖ m2; either may be empty). */
typedef struct {
  const uint8_t *pk;   /* 32 bytes */
  const uint8_t *sig;  /* 64 bytes */
  const uint8_t *m1;
  size_t n1;
  const uint8_t *m2;
  size_t n2;
  /* Optional: the x coordinate (32 bytes, canonical) of pk as this core decoded it before, which saves the
   * square root of decoding (it is checked to be on the curve with pk's y and sign); NULL to decode. */
  const uint8_t *ax;
  /* Optional: where pk's x coordinate is written when pk is found a valid key, which it is whenever the
   * signature is valid (it is not looked at when S ≥ L or R does not decode); NULL: not wanted. */
  uint8_t *ax_out;
} yk_item;

/* 1 when the signature is valid under the rule, else 0. */
int yk_verify(const uint8_t pk[32], const uint8_t *msg, size_t len, const uint8_t sig[64]);

/* out[i] = 1 valid, 0 invalid, for n items. Returns 0, or −1 when memory or getrandom failed (out unset). */
int yk_verify_batch(const yk_item *items, size_t n, uint8_t *out);

/* FIPS 180-4 SHA-512. */
void yk_sha512(const uint8_t *m, size_t len, uint8_t out[64]);

#ifdef __cplusplus
}
#endif
#endif
