/*
 * The §2 signature rule, single and batch (yk_ed25519.h).
 *
 * Batch equation (Bernstein et al., "High-speed high-security signatures", §5, cofactored as RFC 8032
 * §5.1.7 step 3 and spec §2 require):
 *     [8] ( [Σ zᵢSᵢ mod L] B  +  Σ_keys [Σ_{i: Aᵢ = A} zᵢkᵢ mod L] (−A)  +  Σᵢ [zᵢ] (−Rᵢ) ) = 0
 * with zᵢ uniform in [1, 2^128) from getrandom(2), fresh for every call. Equal keys (an issuer's
 * signatures) share one term. The left side P is one multi-scalar multiplication: Straus with width-5
 * NAF for a few points, Pippenger's bucket method with signed digits for many.
 *
 * Failure: P is kept; the first half's P_left is computed and the second half's is P − P_left (the same
 * zᵢ), so each halving costs one multiplication of half the size. A single signature's own term is
 * [zⱼ](Sⱼ B − Rⱼ − kⱼ Aⱼ) with 0 < zⱼ < L, which the cofactor kills exactly when the single cofactored
 * equation holds: a leaf's answer is the single answer. A batch or half that holds while containing a
 * bad signature has probability ≤ 2^−125 per test over the zᵢ.
 *
 * Checked per signature before any of that: S < L, R canonical and on the curve, A canonical, on the
 * curve and not of small order ([8]A ≠ 0). A failing signature is simply left out of the equation.
 */
#include "yk_ed25519.h"
#include "point.h"
#include "scalar.h"
#include "sha512.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/random.h>

/* ── random bytes ──────────────────────────────────────────────────────── */

static int fill_random(uint8_t *buf, size_t len) {
  while (len > 0) {
    ssize_t r = getrandom(buf, len, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    buf += r;
    len -= (size_t)r;
  }
  return 0;
}

/* ── multi-scalar multiplication ───────────────────────────────────────── */

/*
 * Width-w NAF of a scalar < 2^253 (ref10's slide, for digits odd in [−max, max] or 0; max = 2^(w−1) − 1):
 * 256 digits.
 */
static void slide(int8_t r[256], const uint64_t s[4], int max) {
  for (int i = 0; i < 256; i++) r[i] = (int8_t)((s[i >> 6] >> (i & 63)) & 1);
  for (int i = 0; i < 256; i++) {
    if (!r[i]) continue;
    for (int b = 1; b <= 8 && i + b < 256; b++) {
      if (!r[i + b]) continue;
      if (r[i] + (r[i + b] << b) <= max) {
        r[i] = (int8_t)(r[i] + (r[i + b] << b));
        r[i + b] = 0;
      } else if (r[i] - (r[i + b] << b) >= -max) {
        r[i] = (int8_t)(r[i] - (r[i + b] << b));
        for (int k = i + b; k < 256; k++) {
          if (!r[k]) { r[k] = 1; break; }
          r[k] = 0;
        }
      } else {
        break;
      }
    }
  }
}

/* The odd multiples B, 3B, …, 127B of the base point, made once per process (width-8 NAF for B's term). */
#define BASE_MAX 127
static ge_cached base_table[64];
static pthread_once_t base_once = PTHREAD_ONCE_INIT;

static void base_init(void) {
  ge_p3 B, B2, acc;
  ge_cached c2;
  ge_base(&B);
  ge_dbl_p3(&B2, &B);
  ge_to_cached(&c2, &B2);
  acc = B;
  ge_to_cached(&base_table[0], &acc);
  for (int k = 1; k < 64; k++) {
    ge_add_p3(&acc, &acc, &c2);
    ge_to_cached(&base_table[k], &acc);
  }
}

typedef struct {
  ge_cached *tab;  /* Straus: 8 odd multiples per point */
  int8_t *naf;     /* Straus: 256 digits per point */
  ge_cached *pc;   /* Pippenger: each point, cached */
  int16_t *dig;    /* Pippenger: signed digits, nw per point */
  ge_p3 *bucket;   /* Pippenger: 2^(c−1) buckets */
  uint8_t *used;
  size_t cap_points;
  size_t cap_straus;
  int cap_c;
} msm_scratch;

/* Straus is the cheaper method only for a few dozen points (the cost model below decides). */
#define STRAUS_MAX 64

/*
 * Straus' interleaved method: width-5 NAF per point over 8 odd multiples (only as many as its digits use),
 * and when base_first, the width-8 NAF of point 0 (the base point) over the process's table.
 */
static void straus(ge_p3 *out, const ge_p3 *const *pts, const uint64_t (*sc)[4], size_t n, int base_first, msm_scratch *w) {
  int top = -1;
  for (size_t j = 0; j < n; j++) {
    int8_t *r = w->naf + 256 * j;
    const int is_base = base_first && j == 0;
    slide(r, sc[j], is_base ? BASE_MAX : 15);
    int most = 0;
    for (int i = 255; i >= 0; i--) {
      if (r[i] && i > top) top = i;
      const int a = r[i] < 0 ? -r[i] : r[i];
      if (a > most) most = a;
    }
    if (is_base) continue;
    ge_cached *t = w->tab + 8 * j;
    ge_to_cached(&t[0], pts[j]);
    if (most <= 1) continue;
    ge_p3 p2, acc;
    ge_cached c2;
    ge_dbl_p3(&p2, pts[j]);
    ge_to_cached(&c2, &p2);
    acc = *pts[j];
    for (int k = 1; 2 * k + 1 <= most; k++) {
      ge_add_p3(&acc, &acc, &c2);
      ge_to_cached(&t[k], &acc);
    }
  }
  if (base_first) pthread_once(&base_once, base_init);
  ge_p3 q;
  ge_identity(&q);
  ge_p1p1 t;
  for (int i = top; i >= 0; i--) {
    int any = 0;
    for (size_t j = 0; j < n && !any; j++) any = w->naf[256 * j + i] != 0;
    ge_dbl(&t, &q);
    if (any || i == 0) ge_to_p3(&q, &t); else ge_to_p2(&q, &t);
    if (!any) continue;
    for (size_t j = 0; j < n; j++) {
      int d = w->naf[256 * j + i];
      if (d == 0) continue;
      const ge_cached *e = base_first && j == 0 ? &base_table[(d < 0 ? -d : d) >> 1] : &w->tab[8 * j + ((d < 0 ? -d : d) >> 1)];
      if (d > 0) ge_add(&t, &q, e); else ge_sub(&t, &q, e);
      ge_to_p3(&q, &t);
    }
  }
  *out = q;
}

/* Windows of c bits that hold a scalar < 2^253 with signed digits (the top window absorbs the carry). */
static int windows(int c) { return (254 + c - 1) / c; }
/* Windows a 128-bit scalar's digits can reach (its last carry included). */
static int windows_short(int c) {
  int w = 127 / c + 2, nw = windows(c);
  return w < nw ? w : nw;
}

static void recode(int16_t *dig, const uint64_t s[4], int c, int nw) {
  int carry = 0;
  const int half = 1 << (c - 1), full = 1 << c;
  for (int w = 0; w < nw; w++) {
    int bit = w * c, v = 0;
    for (int b = 0; b < c && bit + b < 256; b++) v |= (int)((s[(bit + b) >> 6] >> ((bit + b) & 63)) & 1) << b;
    v += carry;
    if (v >= half) { v -= full; carry = 1; } else carry = 0;
    dig[w] = (int16_t)v;
  }
}

static void ge_add_p3p3(ge_p3 *r, const ge_p3 *p, const ge_p3 *q) {
  ge_cached c;
  ge_to_cached(&c, q);
  ge_add_p3(r, p, &c);
}

static void pippenger(ge_p3 *out, const ge_p3 *const *pts, const uint64_t (*sc)[4], size_t n, size_t nlong, int c, msm_scratch *w) {
  const int nw = windows(c), nws = windows_short(c), nb = 1 << (c - 1);
  for (size_t j = 0; j < n; j++) {
    ge_to_cached(&w->pc[j], pts[j]);
    recode(w->dig + (size_t)nw * j, sc[j], c, nw);
  }
  ge_p3 acc;
  ge_identity(&acc);
  ge_p1p1 t;
  for (int win = nw - 1; win >= 0; win--) {
    if (win != nw - 1) {
      for (int k = 0; k < c; k++) {
        ge_dbl(&t, &acc);
        if (k == c - 1) ge_to_p3(&acc, &t); else ge_to_p2(&acc, &t);
      }
    }
    memset(w->used, 0, (size_t)nb);
    const size_t limit = win < nws ? n : nlong;
    for (size_t j = 0; j < limit; j++) {
      int d = w->dig[(size_t)nw * j + (size_t)win];
      if (d == 0) continue;
      int b = (d > 0 ? d : -d) - 1;
      if (!w->used[b]) {
        w->used[b] = 1;
        w->bucket[b] = *pts[j];
        if (d < 0) { fe_neg(&w->bucket[b].X, &w->bucket[b].X); fe_neg(&w->bucket[b].T, &w->bucket[b].T); }
      } else if (d > 0) {
        ge_add_niels(&t, &w->bucket[b], &w->pc[j]); ge_to_p3(&w->bucket[b], &t);
      } else {
        ge_sub_niels(&t, &w->bucket[b], &w->pc[j]); ge_to_p3(&w->bucket[b], &t);
      }
    }
    ge_p3 running, total;
    int started = 0, have_total = 0;
    for (int b = nb - 1; b >= 0; b--) {
      if (w->used[b]) {
        if (started) ge_add_p3p3(&running, &running, &w->bucket[b]); else { running = w->bucket[b]; started = 1; }
      }
      if (!started) continue;
      if (have_total) ge_add_p3p3(&total, &total, &running); else { total = running; have_total = 1; }
    }
    if (have_total) ge_add_p3p3(&acc, &acc, &total);
  }
  *out = acc;
}

/* Point additions (≈ 8 multiplications; a doubling ≈ 7) each method needs. */
static double straus_cost(size_t n, size_t nlong) {
  return 254 * 0.9 + (double)n * 8 + (double)nlong * 253 / 6 + (double)(n - nlong) * 128 / 6;
}
static double pippenger_cost(size_t n, size_t nlong, int c) {
  const int nw = windows(c);
  return 254 * 0.9 + (double)nlong * nw + (double)(n - nlong) * windows_short(c) + (double)nw * 2 * (1 << (c - 1));
}

#define MAX_C 14

static int best_c(size_t n, size_t nlong, double *cost) {
  int best = 0;
  double bc = straus_cost(n, nlong);
  for (int c = 2; c <= MAX_C; c++) {
    double pc = pippenger_cost(n, nlong, c);
    if (pc < bc) { bc = pc; best = c; }
  }
  *cost = bc;
  return best;
}

/* out = Σ [scⱼ] ptsⱼ; the first nlong scalars are < 2^253, the rest < 2^128; every point has Z = 1.
 * The cheaper method by the cost model, within what the scratch was sized for. */
static void msm(ge_p3 *out, const ge_p3 *const *pts, const uint64_t (*sc)[4], size_t n, size_t nlong, int base_first, msm_scratch *w) {
  double cost;
  int c = best_c(n, nlong, &cost);
  if (c == 0 && n <= w->cap_straus) {
    straus(out, pts, sc, n, base_first, w);
    return;
  }
  if (c == 0) c = 5;
  if (c > w->cap_c) c = w->cap_c;
  pippenger(out, pts, sc, n, nlong, c, w);
}

/* Bytes of scratch for multiplications of up to n points (nlong of them long), and its layout. */
static size_t scratch_size(msm_scratch *w, size_t n, size_t nlong) {
  double cost;
  int c = best_c(n, nlong, &cost);
  w->cap_points = n;
  w->cap_straus = n < STRAUS_MAX ? n : STRAUS_MAX;
  w->cap_c = c < 4 ? 4 : c; /* smaller combinations never want a wider window */
  return sizeof(ge_cached) * 8 * w->cap_straus + 256 * w->cap_straus + sizeof(ge_cached) * n +
         sizeof(int16_t) * (size_t)windows(2) * n + (sizeof(ge_p3) << (w->cap_c - 1)) + ((size_t)1 << (w->cap_c - 1)) + 64;
}

static void scratch_place(msm_scratch *w, uint8_t *p) {
  /* largest alignment first: every piece keeps 8-byte alignment */
  w->tab = (ge_cached *)p; p += sizeof(ge_cached) * 8 * w->cap_straus;
  w->pc = (ge_cached *)p; p += sizeof(ge_cached) * w->cap_points;
  w->bucket = (ge_p3 *)p; p += sizeof(ge_p3) << (w->cap_c - 1);
  w->dig = (int16_t *)p; p += sizeof(int16_t) * (size_t)windows(2) * w->cap_points;
  w->naf = (int8_t *)p; p += 256 * w->cap_straus;
  w->used = p;
}

/* ── the batch ─────────────────────────────────────────────────────────── */

/*
 * The y coordinates (sign bit clear) of the 8 points of small order: 1 (the identity), p − 1 (order 2), 0
 * (order 4) and the two of order 8. For a canonical encoding of a curve point (ge_decode or ge_from_xy
 * accepted it), "small order" is exactly "its y is one of these, with either sign bit": the byte test
 * replaces three doublings. The differential (test/crypto) and the fuzz corpus (small-order and mixed-order
 * keys) hold the answers to @noble/ed25519's.
 */
static const uint8_t SMALL_ORDER_Y[5][32] = {
  {0x01},
  {0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f},
  {0x00},
  {0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67, 0x0f,
   0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac, 0x03, 0x7a},
  {0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98, 0xf0,
   0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53, 0xfc, 0x05},
};

static int small_order_encoding(const uint8_t s[32]) {
  for (int k = 0; k < 5; k++) {
    if (memcmp(s, SMALL_ORDER_Y[k], 31) == 0 && (s[31] & 0x7f) == SMALL_ORDER_Y[k][31]) return 1;
  }
  return 0;
}

typedef struct {
  ge_p3 negR;
  uint64_t s[4], k[4], z[2];
  uint32_t key;   /* index into the batch's distinct keys */
  uint32_t item;  /* index into the caller's items */
} sig_state;

typedef struct {
  ge_p3 negA;
  const uint8_t *pk;
  int valid;
  uint8_t x[32];     /* A's x coordinate, canonical (for yk_item.ax_out) */
  int32_t slot;      /* position in the current combination, or −1 */
  uint64_t acc[8];   /* Σ zᵢkᵢ over the current combination, unreduced */
} key_state;

typedef struct {
  sig_state *sig;
  size_t nsig;
  key_state *key;
  size_t nkey;
  ge_p3 base;
  const ge_p3 **pts;
  uint64_t (*sc)[4];
  uint32_t *keys_used;
  msm_scratch w;
} batch_t;

/* P = the left side of the batch equation (without the cofactor) over the signatures idx[0..m). */
static int combine(batch_t *b, const uint32_t *idx, size_t m, ge_p3 *P) {
  uint64_t accB[8] = {0};
  size_t nk = 0;
  for (size_t i = 0; i < m; i++) {
    const sig_state *s = &b->sig[idx[i]];
    key_state *k = &b->key[s->key];
    sc_muladd_wide(accB, s->s, s->z);
    if (k->slot < 0) {
      k->slot = (int32_t)nk;
      memset(k->acc, 0, sizeof k->acc);
      b->keys_used[nk++] = s->key;
    }
    sc_muladd_wide(k->acc, s->k, s->z);
  }
  b->pts[0] = &b->base;
  sc_reduce512(b->sc[0], accB);
  for (size_t j = 0; j < nk; j++) {
    key_state *k = &b->key[b->keys_used[j]];
    b->pts[1 + j] = &k->negA;
    sc_reduce512(b->sc[1 + j], k->acc);
    k->slot = -1;
  }
  const size_t nlong = 1 + nk;
  for (size_t i = 0; i < m; i++) {
    const sig_state *s = &b->sig[idx[i]];
    b->pts[nlong + i] = &s->negR;
    b->sc[nlong + i][0] = s->z[0];
    b->sc[nlong + i][1] = s->z[1];
    b->sc[nlong + i][2] = 0;
    b->sc[nlong + i][3] = 0;
  }
  msm(P, b->pts, (const uint64_t (*)[4])b->sc, nlong + m, nlong, 1, &b->w);
  return 0;
}

/* Marks each of idx[0..m) valid or not, given P = combine(idx, m). */
static int bisect(batch_t *b, const uint32_t *idx, size_t m, const ge_p3 *P, uint8_t *ok) {
  if (ge_mul8_is_identity(P)) {
    for (size_t i = 0; i < m; i++) ok[idx[i]] = 1;
    return 0;
  }
  if (m == 1) return 0;
  const size_t h = m / 2;
  ge_p3 PL, PR;
  combine(b, idx, h, &PL);
  ge_cached cl;
  ge_to_cached(&cl, &PL);
  ge_p1p1 t;
  ge_sub(&t, P, &cl);
  ge_to_p3(&PR, &t);
  if (bisect(b, idx, h, &PL, ok) != 0) return -1;
  return bisect(b, idx + h, m - h, &PR, ok);
}

static uint64_t load64(const uint8_t *p) { uint64_t v; memcpy(&v, p, 8); return v; }

/*
 * The shared body of yk_verify and yk_verify_batch. With deterministic = 1 every zᵢ is 1 (one signature:
 * the single equation itself, no randomness needed).
 */
static int verify_items(const yk_item *items, size_t n, uint8_t *out, int deterministic) {
  for (size_t i = 0; i < n; i++) out[i] = 0;
  if (n == 0) return 0;
  if (n > ((size_t)1 << 24)) return -1;
  batch_t b;
  memset(&b, 0, sizeof b);
  size_t cap = 4;
  while (cap < 2 * n) cap <<= 1;
  /* one allocation (on the stack for a signature or two): the pieces, 8-byte aligned each */
  const size_t np = 2 * n + 1;
  const size_t sizes[] = {
    sizeof(sig_state) * n, sizeof(key_state) * n, sizeof(ge_p3 *) * np, sizeof(uint64_t[4]) * np,
    sizeof(uint32_t) * n, sizeof(uint32_t) * n, sizeof(uint32_t) * cap, 16 * n + 32, n, scratch_size(&b.w, np, n + 1),
  };
  size_t total = 0;
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) total += (sizes[i] + 7) & ~(size_t)7;
  _Alignas(16) uint8_t small[24 * 1024];
  uint8_t *arena = total <= sizeof small ? small : malloc(total);
  if (arena == NULL) {
    for (size_t i = 0; i < n; i++) out[i] = 0;
    return -1;
  }
  uint8_t *p = arena;
  void *piece[10];
  for (size_t i = 0; i < 10; i++) { piece[i] = p; p += (sizes[i] + 7) & ~(size_t)7; }
  b.sig = piece[0];
  b.key = piece[1];
  b.pts = piece[2];
  b.sc = piece[3];
  b.keys_used = piece[4];
  uint32_t *idx = piece[5], *table = piece[6];
  uint8_t *rnd = piece[7], *ok = piece[8];
  scratch_place(&b.w, piece[9]);
  memset(table, 0, sizeof(uint32_t) * cap);
  int rc = -1;
  if (deterministic) memset(rnd, 0, 16 * n + 32);
  else if (fill_random(rnd, 16 * n + 32) != 0) goto done;
  const uint64_t h0 = load64(rnd + 16 * n) | 1, h1 = load64(rnd + 16 * n + 8) | 1,
                 h2 = load64(rnd + 16 * n + 16) | 1, h3 = load64(rnd + 16 * n + 24) | 1;
  int shift = 64;
  for (size_t c = cap; c > 1; c >>= 1) shift--;
  ge_base(&b.base);

  for (size_t i = 0; i < n; i++) {
    const yk_item *it = &items[i];
    if (!sc_is_canonical(it->sig + 32)) continue;
    sig_state *s = &b.sig[b.nsig];
    if (!ge_decode(&s->negR, it->sig)) continue;
    /* the key: found among this batch's keys, or decoded and tested once */
    const uint64_t hh = (load64(it->pk) * h0) ^ (load64(it->pk + 8) * h1) ^ (load64(it->pk + 16) * h2) ^ (load64(it->pk + 24) * h3);
    size_t pos = (size_t)(hh >> shift);
    uint32_t kid = UINT32_MAX;
    while (table[pos] != 0) {
      key_state *k = &b.key[table[pos] - 1];
      if (memcmp(k->pk, it->pk, 32) == 0) { kid = table[pos] - 1; break; }
      pos = (pos + 1) & (cap - 1);
    }
    if (kid == UINT32_MAX) {
      kid = (uint32_t)b.nkey++;
      table[pos] = kid + 1;
      key_state *k = &b.key[kid];
      k->pk = it->pk;
      k->slot = -1;
      const int known = it->ax != NULL && ge_from_xy(&k->negA, it->ax, it->pk);
      k->valid = (known || ge_decode(&k->negA, it->pk)) && !small_order_encoding(it->pk);
      if (k->valid) {
        fe_tobytes(k->x, &k->negA.X);
        fe_neg(&k->negA.X, &k->negA.X);
        fe_neg(&k->negA.T, &k->negA.T);
      }
    }
    if (!b.key[kid].valid) continue;
    if (it->ax_out != NULL) memcpy(it->ax_out, b.key[kid].x, 32);
    fe_neg(&s->negR.X, &s->negR.X);
    fe_neg(&s->negR.T, &s->negR.T);
    sc_load(s->s, it->sig + 32);
    uint8_t hash[64];
    uint64_t wide[8];
    yk_sha512_ctx hc;
    yk_sha512_init(&hc);
    yk_sha512_update(&hc, it->sig, 32);
    yk_sha512_update(&hc, it->pk, 32);
    yk_sha512_update(&hc, it->m1, it->n1);
    yk_sha512_update(&hc, it->m2, it->n2);
    yk_sha512_final(&hc, hash);
    memcpy(wide, hash, 64);
    sc_reduce512(s->k, wide);
    if (deterministic) { s->z[0] = 1; s->z[1] = 0; }
    else {
      s->z[0] = load64(rnd + 16 * i);
      s->z[1] = load64(rnd + 16 * i + 8);
      if ((s->z[0] | s->z[1]) == 0) s->z[0] = 1;
    }
    s->key = kid;
    s->item = (uint32_t)i;
    b.nsig++;
  }
  if (b.nsig > 0) {
    for (size_t i = 0; i < b.nsig; i++) { idx[i] = (uint32_t)i; ok[i] = 0; }
    ge_p3 P;
    combine(&b, idx, b.nsig, &P);
    if (bisect(&b, idx, b.nsig, &P, ok) != 0) goto done;
    for (size_t i = 0; i < b.nsig; i++) out[b.sig[i].item] = ok[i];
  }
  rc = 0;
done:
  if (rc != 0) for (size_t i = 0; i < n; i++) out[i] = 0;
  if (arena != small) free(arena);
  return rc;
}

int yk_verify_batch(const yk_item *items, size_t n, uint8_t *out) {
  return verify_items(items, n, out, n == 1);
}

int yk_verify(const uint8_t pk[32], const uint8_t *msg, size_t len, const uint8_t sig[64]) {
  yk_item it = {pk, sig, msg, len, NULL, 0, NULL, NULL};
  uint8_t ok = 0;
  if (verify_items(&it, 1, &ok, 1) != 0) return 0;
  return ok;
}
