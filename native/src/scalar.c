/* See scalar.h. */
#include "scalar.h"
#include <string.h>

typedef unsigned __int128 u128;

static const uint64_t L[4] = {0x5812631a5cf5d3edULL, 0x14def9dea2f79cd6ULL, 0, 0x1000000000000000ULL};
/* μ = floor(2^512 / L), five limbs. */
static const uint64_t MU[5] = {0xed9ce5a30a2c131bULL, 0x2106215d086329a7ULL, 0xffffffffffffffebULL, 0xffffffffffffffffULL, 0xfULL};

void sc_load(uint64_t out[4], const uint8_t s[32]) { memcpy(out, s, 32); }

int sc_is_canonical(const uint8_t s[32]) {
  uint64_t v[4];
  sc_load(v, s);
  for (int i = 3; i >= 0; i--) {
    if (v[i] < L[i]) return 1;
    if (v[i] > L[i]) return 0;
  }
  return 0; /* S = L */
}

/* r = a × b, na + nb limbs. */
static void mul_limbs(uint64_t *r, const uint64_t *a, int na, const uint64_t *b, int nb) {
  memset(r, 0, sizeof(uint64_t) * (size_t)(na + nb));
  for (int i = 0; i < na; i++) {
    uint64_t carry = 0;
    for (int j = 0; j < nb; j++) {
      u128 t = (u128)a[i] * b[j] + r[i + j] + carry;
      r[i + j] = (uint64_t)t;
      carry = (uint64_t)(t >> 64);
    }
    r[i + nb] = carry;
  }
}

/* r ≥ L for five limbs. */
static int geq_L5(const uint64_t r[5]) {
  if (r[4] != 0) return 1;
  for (int i = 3; i >= 0; i--) {
    if (r[i] > L[i]) return 1;
    if (r[i] < L[i]) return 0;
  }
  return 1;
}

static void sub_L5(uint64_t r[5]) {
  uint64_t borrow = 0;
  for (int i = 0; i < 5; i++) {
    uint64_t l = i < 4 ? L[i] : 0;
    u128 t = (u128)r[i] - l - borrow;
    r[i] = (uint64_t)t;
    borrow = (uint64_t)(t >> 64) & 1;
  }
}

void sc_reduce512(uint64_t out[4], const uint64_t x[8]) {
  uint64_t q2[10], q3L[9], r[5];
  /* q1 = floor(x / b^3) (five limbs); q2 = q1 μ; q3 = floor(q2 / b^5) */
  mul_limbs(q2, x + 3, 5, MU, 5);
  mul_limbs(q3L, q2 + 5, 5, L, 4);
  /* r = (x mod b^5) − (q3 L mod b^5), modulo b^5 */
  uint64_t borrow = 0;
  for (int i = 0; i < 5; i++) {
    u128 t = (u128)x[i] - q3L[i] - borrow;
    r[i] = (uint64_t)t;
    borrow = (uint64_t)(t >> 64) & 1;
  }
  while (geq_L5(r)) sub_L5(r); /* at most twice (HAC 14.44) */
  memcpy(out, r, 32);
}

void sc_muladd_wide(uint64_t acc[8], const uint64_t a[4], const uint64_t z[2]) {
  uint64_t p[6];
  mul_limbs(p, a, 4, z, 2);
  uint64_t carry = 0;
  for (int i = 0; i < 8; i++) {
    u128 t = (u128)acc[i] + (i < 6 ? p[i] : 0) + carry;
    acc[i] = (uint64_t)t;
    carry = (uint64_t)(t >> 64);
  }
}
