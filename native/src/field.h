/*
 * Arithmetic in GF(p), p = 2^255 − 19, radix 2^51: five 64-bit limbs, products in unsigned __int128
 * (Bernstein, Duif, Lange, Schwabe, Yang, "High-speed high-security signatures", §4, and RFC 8032 §5.1).
 *
 * Limb bounds (what keeps every product inside 128 bits): fe_mul, fe_sq and fe_sub return limbs
 * < 2^51 + 2^13; fe_add does not carry, so its sum of two such values is < 2^53; fe_mul and fe_sq accept
 * limbs < 2^54 and fe_sub accepts g limbs < 2^53. The point formulas in point.h never add more than two
 * reduced values before a multiplication.
 */
#ifndef YK_FIELD_H
#define YK_FIELD_H
#include <stdint.h>
#include <string.h>

typedef unsigned __int128 u128;
typedef struct { uint64_t v[5]; } fe;

#define MASK51 ((uint64_t)0x7ffffffffffff)

static const fe FE_ZERO = {{0, 0, 0, 0, 0}};
static const fe FE_ONE = {{1, 0, 0, 0, 0}};
/* d = −121665/121666, 2d, √−1 (RFC 8032 §5.1), and the base point B (x even, y = 4/5). */
static const fe FE_D = {{0x34dca135978a3ULL, 0x1a8283b156ebdULL, 0x5e7a26001c029ULL, 0x739c663a03cbbULL, 0x52036cee2b6ffULL}};
static const fe FE_D2 = {{0x69b9426b2f159ULL, 0x35050762add7aULL, 0x3cf44c0038052ULL, 0x6738cc7407977ULL, 0x2406d9dc56dffULL}};
static const fe FE_SQRTM1 = {{0x61b274a0ea0b0ULL, 0x0d5a5fc8f189dULL, 0x7ef5e9cbd0c60ULL, 0x78595a6804c9eULL, 0x2b8324804fc1dULL}};
static const fe FE_BX = {{0x62d608f25d51aULL, 0x412a4b4f6592aULL, 0x75b7171a4b31dULL, 0x1ff60527118feULL, 0x216936d3cd6e5ULL}};
static const fe FE_BY = {{0x6666666666658ULL, 0x4ccccccccccccULL, 0x1999999999999ULL, 0x3333333333333ULL, 0x6666666666666ULL}};
static const fe FE_BT = {{0x68ab3a5b7dda3ULL, 0x00eea2a5eadbbULL, 0x2af8df483c27eULL, 0x332b375274732ULL, 0x67875f0fd78b7ULL}};

static inline void fe_carry(fe *h) {
  uint64_t c;
  c = h->v[0] >> 51; h->v[0] &= MASK51; h->v[1] += c;
  c = h->v[1] >> 51; h->v[1] &= MASK51; h->v[2] += c;
  c = h->v[2] >> 51; h->v[2] &= MASK51; h->v[3] += c;
  c = h->v[3] >> 51; h->v[3] &= MASK51; h->v[4] += c;
  c = h->v[4] >> 51; h->v[4] &= MASK51; h->v[0] += c * 19;
}

static inline void fe_add(fe *h, const fe *f, const fe *g) {
  for (int i = 0; i < 5; i++) h->v[i] = f->v[i] + g->v[i];
}

/* h = f − g, computed as f + 4p − g and carried. */
static inline void fe_sub(fe *h, const fe *f, const fe *g) {
  h->v[0] = (f->v[0] + 0x1fffffffffffb4ULL) - g->v[0];
  h->v[1] = (f->v[1] + 0x1ffffffffffffcULL) - g->v[1];
  h->v[2] = (f->v[2] + 0x1ffffffffffffcULL) - g->v[2];
  h->v[3] = (f->v[3] + 0x1ffffffffffffcULL) - g->v[3];
  h->v[4] = (f->v[4] + 0x1ffffffffffffcULL) - g->v[4];
  fe_carry(h);
}

static inline void fe_neg(fe *h, const fe *f) { fe_sub(h, &FE_ZERO, f); }

/* Carries five 128-bit column sums into limbs < 2^51 (limb 1 < 2^51 + 2^13). For inputs within the bounds
 * above, r4 < 5·2^108, so 19·(r4 >> 51) < 2^64: the wrap-around carry fits a 64-bit word. */
static inline void fe_reduce_wide(fe *h, u128 r0, u128 r1, u128 r2, u128 r3, u128 r4) {
  r1 += (uint64_t)(r0 >> 51);
  uint64_t h0 = (uint64_t)r0 & MASK51;
  r2 += (uint64_t)(r1 >> 51);
  const uint64_t h1 = (uint64_t)r1 & MASK51;
  r3 += (uint64_t)(r2 >> 51);
  const uint64_t h2 = (uint64_t)r2 & MASK51;
  r4 += (uint64_t)(r3 >> 51);
  const uint64_t h3 = (uint64_t)r3 & MASK51;
  const uint64_t c = (uint64_t)(r4 >> 51);
  const uint64_t h4 = (uint64_t)r4 & MASK51;
  h0 += c * 19;
  h->v[0] = h0 & MASK51;
  h->v[1] = h1 + (h0 >> 51);
  h->v[2] = h2;
  h->v[3] = h3;
  h->v[4] = h4;
}

static inline void fe_mul(fe *h, const fe *f, const fe *g) {
  const uint64_t f0 = f->v[0], f1 = f->v[1], f2 = f->v[2], f3 = f->v[3], f4 = f->v[4];
  const uint64_t g0 = g->v[0], g1 = g->v[1], g2 = g->v[2], g3 = g->v[3], g4 = g->v[4];
  const uint64_t g1_19 = 19 * g1, g2_19 = 19 * g2, g3_19 = 19 * g3, g4_19 = 19 * g4;
  u128 r0 = (u128)f0 * g0 + (u128)f1 * g4_19 + (u128)f2 * g3_19 + (u128)f3 * g2_19 + (u128)f4 * g1_19;
  u128 r1 = (u128)f0 * g1 + (u128)f1 * g0 + (u128)f2 * g4_19 + (u128)f3 * g3_19 + (u128)f4 * g2_19;
  u128 r2 = (u128)f0 * g2 + (u128)f1 * g1 + (u128)f2 * g0 + (u128)f3 * g4_19 + (u128)f4 * g3_19;
  u128 r3 = (u128)f0 * g3 + (u128)f1 * g2 + (u128)f2 * g1 + (u128)f3 * g0 + (u128)f4 * g4_19;
  u128 r4 = (u128)f0 * g4 + (u128)f1 * g3 + (u128)f2 * g2 + (u128)f3 * g1 + (u128)f4 * g0;
  fe_reduce_wide(h, r0, r1, r2, r3, r4);
}

static inline void fe_sq(fe *h, const fe *f) {
  const uint64_t f0 = f->v[0], f1 = f->v[1], f2 = f->v[2], f3 = f->v[3], f4 = f->v[4];
  const uint64_t f0_2 = 2 * f0, f1_2 = 2 * f1, f1_38 = 38 * f1, f2_38 = 38 * f2, f3_38 = 38 * f3, f3_19 = 19 * f3, f4_19 = 19 * f4;
  u128 r0 = (u128)f0 * f0 + (u128)f1_38 * f4 + (u128)f2_38 * f3;
  u128 r1 = (u128)f0_2 * f1 + (u128)f2_38 * f4 + (u128)f3_19 * f3;
  u128 r2 = (u128)f0_2 * f2 + (u128)f1 * f1 + (u128)f3_38 * f4;
  u128 r3 = (u128)f0_2 * f3 + (u128)f1_2 * f2 + (u128)f4_19 * f4;
  u128 r4 = (u128)f0_2 * f4 + (u128)f1_2 * f3 + (u128)f2 * f2;
  fe_reduce_wide(h, r0, r1, r2, r3, r4);
}

static inline void fe_sqn(fe *h, const fe *f, int n) {
  fe_sq(h, f);
  for (int i = 1; i < n; i++) fe_sq(h, h);
}

/* The low 255 bits of 32 little-endian bytes (bit 255 ignored: the caller reads it as the sign of x). */
static inline void fe_frombytes(fe *h, const uint8_t s[32]) {
  uint64_t w[4];
  memcpy(w, s, 32); /* x86-64 and aarch64 are little-endian; binding.gyp builds only there */
  h->v[0] = w[0] & MASK51;
  h->v[1] = ((w[0] >> 51) | (w[1] << 13)) & MASK51;
  h->v[2] = ((w[1] >> 38) | (w[2] << 26)) & MASK51;
  h->v[3] = ((w[2] >> 25) | (w[3] << 39)) & MASK51;
  h->v[4] = (w[3] >> 12) & MASK51;
}

/* The canonical encoding (0 ≤ h < p) of h. */
static inline void fe_tobytes(uint8_t s[32], const fe *f) {
  fe h = *f;
  fe_carry(&h);
  fe_carry(&h);
  /* now h < 2^255 + small; q = 1 iff h ≥ p */
  uint64_t q = (h.v[0] + 19) >> 51;
  q = (h.v[1] + q) >> 51;
  q = (h.v[2] + q) >> 51;
  q = (h.v[3] + q) >> 51;
  q = (h.v[4] + q) >> 51;
  h.v[0] += 19 * q;
  uint64_t c;
  c = h.v[0] >> 51; h.v[0] &= MASK51; h.v[1] += c;
  c = h.v[1] >> 51; h.v[1] &= MASK51; h.v[2] += c;
  c = h.v[2] >> 51; h.v[2] &= MASK51; h.v[3] += c;
  c = h.v[3] >> 51; h.v[3] &= MASK51; h.v[4] += c;
  h.v[4] &= MASK51;
  uint64_t w[4];
  w[0] = h.v[0] | (h.v[1] << 51);
  w[1] = (h.v[1] >> 13) | (h.v[2] << 38);
  w[2] = (h.v[2] >> 26) | (h.v[3] << 25);
  w[3] = (h.v[3] >> 39) | (h.v[4] << 12);
  memcpy(s, w, 32);
}

static inline int fe_iszero(const fe *f) {
  uint8_t s[32];
  fe_tobytes(s, f);
  uint8_t acc = 0;
  for (int i = 0; i < 32; i++) acc |= s[i];
  return acc == 0;
}

static inline int fe_isnegative(const fe *f) {
  uint8_t s[32];
  fe_tobytes(s, f);
  return s[0] & 1;
}

static inline int fe_equal(const fe *f, const fe *g) {
  fe t;
  fe_sub(&t, f, g);
  return fe_iszero(&t);
}

/* z^((p − 5) / 8) = z^(2^252 − 3), the addition chain of ref10 (RFC 8032 §5.1.3 step 2). */
static inline void fe_pow22523(fe *out, const fe *z) {
  fe t0, t1, t2;
  fe_sq(&t0, z);
  fe_sqn(&t1, &t0, 2);
  fe_mul(&t1, z, &t1);
  fe_mul(&t0, &t0, &t1);
  fe_sq(&t0, &t0);
  fe_mul(&t0, &t1, &t0);
  fe_sqn(&t1, &t0, 5);
  fe_mul(&t0, &t1, &t0);
  fe_sqn(&t1, &t0, 10);
  fe_mul(&t1, &t1, &t0);
  fe_sqn(&t2, &t1, 20);
  fe_mul(&t1, &t2, &t1);
  fe_sqn(&t1, &t1, 10);
  fe_mul(&t0, &t1, &t0);
  fe_sqn(&t1, &t0, 50);
  fe_mul(&t1, &t1, &t0);
  fe_sqn(&t2, &t1, 100);
  fe_mul(&t1, &t2, &t1);
  fe_sqn(&t1, &t1, 50);
  fe_mul(&t0, &t1, &t0);
  fe_sqn(&t0, &t0, 2);
  fe_mul(out, &t0, z);
}

#endif
