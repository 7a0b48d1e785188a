/* Integers modulo the group order L = 2^252 + 27742317777372353535851937790883648493, as four 64-bit
 * little-endian limbs, and the wide accumulators the batch equation sums into before one reduction. */
#ifndef YK_SCALAR_H
#define YK_SCALAR_H
#include <stdint.h>
#include <stddef.h>

/* S < L for 32 little-endian bytes (RFC 8032 §5.1.7 step 1). */
int sc_is_canonical(const uint8_t s[32]);
/* 32 little-endian bytes as limbs. */
void sc_load(uint64_t out[4], const uint8_t s[32]);
/* x mod L for x < 2^512 (eight limbs), Barrett reduction (Menezes et al., HAC 14.42). */
void sc_reduce512(uint64_t out[4], const uint64_t x[8]);
/* acc += a × z, a < 2^256 (four limbs), z < 2^128 (two limbs); acc is eight limbs and must not overflow
 * (2^128 such terms fit). */
void sc_muladd_wide(uint64_t acc[8], const uint64_t a[4], const uint64_t z[2]);

#endif
