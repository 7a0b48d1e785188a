/*
 * Points of edwards25519 (−x² + y² = 1 + d x² y²) in extended coordinates (X : Y : Z : T), x = X/Z,
 * y = Y/Z, xy = T/Z (Hisil, Wong, Carter, Dawson, "Twisted Edwards curves revisited", 2008, a = −1).
 * The addition law is complete on this curve (d is not a square), so the identity and equal points need
 * no special case: the multi-scalar multiplication adds into empty buckets as into any other.
 */
#ifndef YK_POINT_H
#define YK_POINT_H
#include "field.h"

typedef struct { fe X, Y, Z, T; } ge_p3;
/* A point ready to be added: (Y + X, Y − X, Z, 2d·T). */
typedef struct { fe YpX, YmX, Z, T2d; } ge_cached;
/* The four products of an addition or doubling before the last four multiplications. */
typedef struct { fe E, F, G, H; } ge_p1p1;

static inline void ge_identity(ge_p3 *p) {
  p->X = FE_ZERO; p->Y = FE_ONE; p->Z = FE_ONE; p->T = FE_ZERO;
}

static inline void ge_base(ge_p3 *p) {
  p->X = FE_BX; p->Y = FE_BY; p->Z = FE_ONE; p->T = FE_BT;
}

static inline void ge_to_p3(ge_p3 *r, const ge_p1p1 *p) {
  fe_mul(&r->X, &p->E, &p->F);
  fe_mul(&r->Y, &p->G, &p->H);
  fe_mul(&r->Z, &p->F, &p->G);
  fe_mul(&r->T, &p->E, &p->H);
}

/* Projective only (T not computed): for a doubling that is followed by another doubling. */
static inline void ge_to_p2(ge_p3 *r, const ge_p1p1 *p) {
  fe_mul(&r->X, &p->E, &p->F);
  fe_mul(&r->Y, &p->G, &p->H);
  fe_mul(&r->Z, &p->F, &p->G);
}

static inline void ge_to_cached(ge_cached *r, const ge_p3 *p) {
  fe_add(&r->YpX, &p->Y, &p->X);
  fe_sub(&r->YmX, &p->Y, &p->X);
  r->Z = p->Z;
  fe_mul(&r->T2d, &p->T, &FE_D2);
}

static inline void ge_neg_cached(ge_cached *r, const ge_cached *p) {
  r->YpX = p->YmX;
  r->YmX = p->YpX;
  r->Z = p->Z;
  fe_neg(&r->T2d, &p->T2d);
}

/* dbl-2008-hwcd: 4 squarings; reads X, Y, Z only. */
static inline void ge_dbl(ge_p1p1 *r, const ge_p3 *p) {
  fe A, B, C, S, t;
  fe_sq(&A, &p->X);
  fe_sq(&B, &p->Y);
  fe_sq(&C, &p->Z);
  fe_add(&C, &C, &C);
  fe_add(&t, &p->X, &p->Y);
  fe_sq(&S, &t);
  fe_add(&t, &A, &B);        /* A + B */
  fe_sub(&r->E, &S, &t);     /* E = (X + Y)² − A − B */
  fe_sub(&r->G, &B, &A);     /* G = −A + B */
  fe_sub(&r->F, &r->G, &C);  /* F = G − C */
  fe_neg(&r->H, &t);         /* H = −A − B */
}

/*
 * add-2008-hwcd-3 with k = 2d folded into q: r = p + q, or p − q when neg (−q swaps Y + X with Y − X and
 * negates T); when q_z1, q has Z = 1 (a decoded point), which saves a multiplication. The wrappers below
 * pass constants, so each is compiled to its own straight line.
 */
static inline void ge_add_general(ge_p1p1 *r, const ge_p3 *p, const ge_cached *q, const int neg, const int q_z1) {
  fe A, B, C, D, t;
  fe_sub(&t, &p->Y, &p->X);
  fe_mul(&A, &t, neg ? &q->YpX : &q->YmX);
  fe_add(&t, &p->Y, &p->X);
  fe_mul(&B, &t, neg ? &q->YmX : &q->YpX);
  fe_mul(&C, &p->T, &q->T2d);
  if (q_z1) {
    fe_add(&D, &p->Z, &p->Z);
  } else {
    fe_mul(&D, &p->Z, &q->Z);
    fe_add(&D, &D, &D);
  }
  fe_sub(&r->E, &B, &A);
  if (neg) {
    fe_add(&r->F, &D, &C);
    fe_sub(&r->G, &D, &C);
  } else {
    fe_sub(&r->F, &D, &C);
    fe_add(&r->G, &D, &C);
  }
  fe_add(&r->H, &B, &A);
}

static inline void ge_add(ge_p1p1 *r, const ge_p3 *p, const ge_cached *q) { ge_add_general(r, p, q, 0, 0); }
static inline void ge_sub(ge_p1p1 *r, const ge_p3 *p, const ge_cached *q) { ge_add_general(r, p, q, 1, 0); }
static inline void ge_add_niels(ge_p1p1 *r, const ge_p3 *p, const ge_cached *q) { ge_add_general(r, p, q, 0, 1); }
static inline void ge_sub_niels(ge_p1p1 *r, const ge_p3 *p, const ge_cached *q) { ge_add_general(r, p, q, 1, 1); }

static inline void ge_add_p3(ge_p3 *r, const ge_p3 *p, const ge_cached *q) {
  ge_p1p1 t;
  ge_add(&t, p, q);
  ge_to_p3(r, &t);
}

static inline void ge_dbl_p3(ge_p3 *r, const ge_p3 *p) {
  ge_p1p1 t;
  ge_dbl(&t, p);
  ge_to_p3(r, &t);
}

/* The identity: X = 0 and Y = Z. */
static inline int ge_is_identity(const ge_p3 *p) {
  return fe_iszero(&p->X) && fe_equal(&p->Y, &p->Z);
}

/* [8]P is the identity (P is of small order, or P is 0 in the prime-order part when the cofactor is applied). */
static inline int ge_mul8_is_identity(const ge_p3 *p) {
  ge_p1p1 t;
  ge_p3 q;
  ge_dbl(&t, p); ge_to_p2(&q, &t);
  ge_dbl(&t, &q); ge_to_p2(&q, &t);
  ge_dbl(&t, &q); ge_to_p3(&q, &t);
  return ge_is_identity(&q);
}

/* y from the low 255 bits of an encoding s: 1 when they are canonical (y < p, RFC 8032 §5.1.3 step 1), else 0. */
static inline int fe_frombytes_canonical(fe *y, const uint8_t s[32]) {
  uint8_t check[32];
  fe_frombytes(y, s);
  fe_tobytes(check, y);
  uint8_t diff = 0;
  for (int i = 0; i < 31; i++) diff |= check[i] ^ s[i];
  diff |= check[31] ^ (s[31] & 0x7f);
  return diff == 0;
}

/*
 * RFC 8032 §5.1.3 decoding, strict: 1 when s is the canonical encoding of a curve point (y < p, and not
 * x = 0 with the sign bit set), else 0. The point is written to p (Z = 1).
 */
static inline int ge_decode(ge_p3 *p, const uint8_t s[32]) {
  fe y, u, v, v3, x, vx2, t;
  if (!fe_frombytes_canonical(&y, s)) return 0; /* y ≥ p */
  const int sign = s[31] >> 7;
  fe_sq(&u, &y);
  fe_mul(&v, &u, &FE_D);
  fe_sub(&u, &u, &FE_ONE);   /* u = y² − 1 */
  fe_add(&v, &v, &FE_ONE);   /* v = d y² + 1 */
  fe_sq(&v3, &v);
  fe_mul(&v3, &v3, &v);      /* v³ */
  fe_sq(&x, &v3);
  fe_mul(&x, &x, &v);
  fe_mul(&x, &x, &u);        /* u v⁷ */
  fe_pow22523(&x, &x);
  fe_mul(&x, &x, &v3);
  fe_mul(&x, &x, &u);        /* x = u v³ (u v⁷)^((p − 5)/8) */
  fe_sq(&vx2, &x);
  fe_mul(&vx2, &vx2, &v);
  if (!fe_equal(&vx2, &u)) {
    fe_neg(&t, &u);
    if (!fe_equal(&vx2, &t)) return 0; /* no square root: not on the curve */
    fe_mul(&x, &x, &FE_SQRTM1);
  }
  if (fe_iszero(&x) && sign) return 0; /* "negative zero" */
  if (fe_isnegative(&x) != sign) fe_neg(&x, &x);
  fe_carry(&x);
  p->X = x;
  p->Y = y;
  p->Z = FE_ONE;
  fe_mul(&p->T, &x, &y);
  return 1;
}

/*
 * A point from the x coordinate this core decoded before and the encoding s (its y and sign): 1 when
 * (x, y) is on the curve and x has s's sign and is canonical, else 0 (then decode s instead).
 */
static inline int ge_from_xy(ge_p3 *p, const uint8_t x_bytes[32], const uint8_t s[32]) {
  fe x, y, xx, yy, lhs, rhs, t;
  uint8_t check[32];
  fe_frombytes(&x, x_bytes);
  fe_tobytes(check, &x);
  if (memcmp(check, x_bytes, 32) != 0) return 0;
  if ((check[0] & 1) != (s[31] >> 7)) return 0;
  if (!fe_frombytes_canonical(&y, s)) return 0;
  if (fe_iszero(&x) && (s[31] >> 7)) return 0;
  fe_sq(&xx, &x);
  fe_sq(&yy, &y);
  fe_sub(&lhs, &yy, &xx);          /* −x² + y² */
  fe_mul(&t, &xx, &yy);
  fe_mul(&rhs, &t, &FE_D);
  fe_add(&rhs, &rhs, &FE_ONE);     /* 1 + d x² y² */
  if (!fe_equal(&lhs, &rhs)) return 0;
  p->X = x;
  p->Y = y;
  p->Z = FE_ONE;
  fe_mul(&p->T, &x, &y);
  return 1;
}

#endif
