/*
 * Fuzz harness of the C verification core's entry points (native/src/yk_ed25519.h), built with
 * AddressSanitizer and UndefinedBehaviorSanitizer (or ThreadSanitizer) by native/fuzz/run.sh, linked with
 * every .c file of native/src but addon.c (no N-API).
 *
 * What it proves, for as long as it runs (exit 0 only if all of it held):
 * - the corpus (make-corpus.ts: vectors and generated cases with @noble/ed25519's §2 answers): yk_verify
 *   and one yk_verify_batch over the whole corpus give every pinned answer;
 * - random and mutated inputs (bit flips, random bytes, small-order and non-canonical encodings put in as
 *   A or R, S set to S + L, L, L − 1, 0 or 2^256 − 1, keys and R swapped between items, messages cut,
 *   extended or replaced): yk_verify(pk, m, sig) equals yk_verify_batch on the same item alone, and on
 *   the item inside batches of n = 0..600 (odd and even, powers of two ± 1, all one key, repeats of one
 *   item, mixes of valid and invalid), with the message split at a random point between m1 and m2 (NULL
 *   when empty); every item still unmutated gets its pinned answer; yk_verify_batch returns 0 and writes
 *   0 or 1 to every out[i];
 * - the key cache of yk_item (ax, ax_out): an x coordinate given in ax — the right one, or a wrong one
 *   (random, another key's, negated, a bit flipped, the key's own after the key was mutated) — never
 *   changes an answer; ax_out, when written, holds the corpus key's x as noble computes it, is written for
 *   every valid signature, never for a key noble refuses, and given back as ax gives the same answers;
 * - yk_sha512 on lengths 0..1000 (and some up to 5000) at every alignment equals an independent SHA-512
 *   written here (checked first against FIPS 180-4 "abc" and the corpus' node:crypto digests), and the
 *   incremental yk_sha512_init/update/final in random pieces equals the one-shot digest;
 * - no sanitizer report: every buffer is allocated at its exact size, so a read past a key, signature or
 *   message is an AddressSanitizer error; with --threads, the same loops run at once on several threads
 *   (under ThreadSanitizer: the core's "no global state" claim).
 *
 *   fuzz --corpus FILE [--seconds S] [--iterations N] [--seed X] [--threads T]
 * Prints counts and any mismatch (pk, msg, sig hex); exits 1 on a mismatch, 2 on a usage or corpus error.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "sha512.h"
#include "yk_ed25519.h"

/* ── an independent SHA-512 (FIPS 180-4 §6.4), the reference for yk_sha512 ───────────────────────────── */

static const uint64_t RK[80] = {
  0x428a2f98d728ae22ULL, 0x7137449123ef65cdULL, 0xb5c0fbcfec4d3b2fULL, 0xe9b5dba58189dbbcULL, 0x3956c25bf348b538ULL, 0x59f111f1b605d019ULL,
  0x923f82a4af194f9bULL, 0xab1c5ed5da6d8118ULL, 0xd807aa98a3030242ULL, 0x12835b0145706fbeULL, 0x243185be4ee4b28cULL, 0x550c7dc3d5ffb4e2ULL,
  0x72be5d74f27b896fULL, 0x80deb1fe3b1696b1ULL, 0x9bdc06a725c71235ULL, 0xc19bf174cf692694ULL, 0xe49b69c19ef14ad2ULL, 0xefbe4786384f25e3ULL,
  0x0fc19dc68b8cd5b5ULL, 0x240ca1cc77ac9c65ULL, 0x2de92c6f592b0275ULL, 0x4a7484aa6ea6e483ULL, 0x5cb0a9dcbd41fbd4ULL, 0x76f988da831153b5ULL,
  0x983e5152ee66dfabULL, 0xa831c66d2db43210ULL, 0xb00327c898fb213fULL, 0xbf597fc7beef0ee4ULL, 0xc6e00bf33da88fc2ULL, 0xd5a79147930aa725ULL,
  0x06ca6351e003826fULL, 0x142929670a0e6e70ULL, 0x27b70a8546d22ffcULL, 0x2e1b21385c26c926ULL, 0x4d2c6dfc5ac42aedULL, 0x53380d139d95b3dfULL,
  0x650a73548baf63deULL, 0x766a0abb3c77b2a8ULL, 0x81c2c92e47edaee6ULL, 0x92722c851482353bULL, 0xa2bfe8a14cf10364ULL, 0xa81a664bbc423001ULL,
  0xc24b8b70d0f89791ULL, 0xc76c51a30654be30ULL, 0xd192e819d6ef5218ULL, 0xd69906245565a910ULL, 0xf40e35855771202aULL, 0x106aa07032bbd1b8ULL,
  0x19a4c116b8d2d0c8ULL, 0x1e376c085141ab53ULL, 0x2748774cdf8eeb99ULL, 0x34b0bcb5e19b48a8ULL, 0x391c0cb3c5c95a63ULL, 0x4ed8aa4ae3418acbULL,
  0x5b9cca4f7763e373ULL, 0x682e6ff3d6b2b8a3ULL, 0x748f82ee5defb2fcULL, 0x78a5636f43172f60ULL, 0x84c87814a1f0ab72ULL, 0x8cc702081a6439ecULL,
  0x90befffa23631e28ULL, 0xa4506cebde82bde9ULL, 0xbef9a3f7b2c67915ULL, 0xc67178f2e372532bULL, 0xca273eceea26619cULL, 0xd186b8c721c0c207ULL,
  0xeada7dd6cde0eb1eULL, 0xf57d4f7fee6ed178ULL, 0x06f067aa72176fbaULL, 0x0a637dc5a2c898a6ULL, 0x113f9804bef90daeULL, 0x1b710b35131c471bULL,
  0x28db77f523047d84ULL, 0x32caab7b40c72493ULL, 0x3c9ebe0a15c9bebcULL, 0x431d67c49c100d4cULL, 0x4cc5d4becb3e42b6ULL, 0x597f299cfc657e2aULL,
  0x5fcb6fab3ad6faecULL, 0x6c44198c4a475817ULL,
};

static uint64_t rotr(uint64_t x, int n) { return (x >> n) | (x << (64 - n)); }

/* The whole message padded in one buffer, then block by block: no state shared with the core's streaming code. */
static void ref_sha512(const uint8_t *m, size_t len, uint8_t out[64]) {
  uint64_t h[8] = {0x6a09e667f3bcc908ULL, 0xbb67ae8584caa73bULL, 0x3c6ef372fe94f82bULL, 0xa54ff53a5f1d36f1ULL,
                   0x510e527fade682d1ULL, 0x9b05688c2b3e6c1fULL, 0x1f83d9abfb41bd6bULL, 0x5be0cd19137e2179ULL};
  size_t padded = ((len + 17 + 127) / 128) * 128;
  uint8_t *p = calloc(padded, 1);
  if (p == NULL) abort();
  if (len > 0) memcpy(p, m, len);
  p[len] = 0x80;
  uint64_t bits = (uint64_t)len * 8;
  for (int i = 0; i < 8; i++) p[padded - 1 - i] = (uint8_t)(bits >> (8 * i));
  for (size_t off = 0; off < padded; off += 128) {
    uint64_t w[80];
    for (int t = 0; t < 16; t++) {
      w[t] = 0;
      for (int j = 0; j < 8; j++) w[t] = (w[t] << 8) | p[off + 8 * (size_t)t + (size_t)j];
    }
    for (int t = 16; t < 80; t++)
      w[t] = (rotr(w[t - 2], 19) ^ rotr(w[t - 2], 61) ^ (w[t - 2] >> 6)) + w[t - 7] + (rotr(w[t - 15], 1) ^ rotr(w[t - 15], 8) ^ (w[t - 15] >> 7)) + w[t - 16];
    uint64_t v[8];
    memcpy(v, h, sizeof v);
    for (int t = 0; t < 80; t++) {
      uint64_t t1 = v[7] + (rotr(v[4], 14) ^ rotr(v[4], 18) ^ rotr(v[4], 41)) + ((v[4] & v[5]) ^ (~v[4] & v[6])) + RK[t] + w[t];
      uint64_t t2 = (rotr(v[0], 28) ^ rotr(v[0], 34) ^ rotr(v[0], 39)) + ((v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]));
      memmove(v + 1, v, 7 * sizeof v[0]);
      v[4] += t1;
      v[0] = t1 + t2;
    }
    for (int i = 0; i < 8; i++) h[i] += v[i];
  }
  free(p);
  for (int i = 0; i < 8; i++) for (int j = 0; j < 8; j++) out[8 * i + j] = (uint8_t)(h[i] >> (56 - 8 * j));
}

/* ── the corpus ─────────────────────────────────────────────────────────────────────────────────────── */

typedef struct {
  uint8_t expect, group, keyvalid;
  uint16_t kind;
  uint32_t len;
  uint8_t pk[32], sig[64], x[32]; /* x: pk's x coordinate (noble) when keyvalid */
  uint8_t *msg;
} citem;

static citem *corpus;
static size_t ncorpus;
static char **kind_names;
static uint32_t nkinds;
static uint8_t (*digests)[64];
static uint32_t ndigests;
static size_t *group1; /* indices of the same-key group's valid items */
static size_t ngroup1;
static size_t *valid_items;
static size_t nvalid;

static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static int load_corpus(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) { perror(path); return -1; }
  fseek(f, 0, SEEK_END);
  long size = ftell(f);
  fseek(f, 0, SEEK_SET);
  uint8_t *b = malloc((size_t)size);
  if (!b || fread(b, 1, (size_t)size, f) != (size_t)size) { fclose(f); return -1; }
  fclose(f);
  size_t o = 0, n = (size_t)size;
#define NEED(k) do { if (o + (k) > n) { fprintf(stderr, "corpus %s truncated\n", path); return -1; } } while (0)
  NEED(20);
  if (memcmp(b, "YKFZ", 4) != 0 || rd32(b + 4) != 2) { fprintf(stderr, "%s is not a version 2 corpus (rerun make-corpus.ts)\n", path); return -1; }
  nkinds = rd32(b + 8);
  ncorpus = rd32(b + 12);
  ndigests = rd32(b + 16);
  o = 20;
  kind_names = calloc(nkinds, sizeof *kind_names);
  for (uint32_t k = 0; k < nkinds; k++) {
    NEED(1);
    size_t l = b[o++];
    NEED(l);
    kind_names[k] = strndup((const char *)b + o, l);
    o += l;
  }
  corpus = calloc(ncorpus, sizeof *corpus);
  group1 = calloc(ncorpus, sizeof *group1);
  valid_items = calloc(ncorpus, sizeof *valid_items);
  for (size_t i = 0; i < ncorpus; i++) {
    NEED(12 + 128);
    citem *c = &corpus[i];
    c->expect = b[o];
    c->group = b[o + 1];
    c->kind = (uint16_t)(b[o + 2] | b[o + 3] << 8);
    c->len = rd32(b + o + 4);
    c->keyvalid = b[o + 8];
    memcpy(c->pk, b + o + 12, 32);
    memcpy(c->sig, b + o + 44, 64);
    memcpy(c->x, b + o + 108, 32);
    o += 140;
    NEED(c->len);
    c->msg = malloc(c->len ? c->len : 1);
    memcpy(c->msg, b + o, c->len);
    o += c->len;
    if (c->kind >= nkinds || c->expect > 1 || c->keyvalid > 1 || (c->expect && !c->keyvalid)) { fprintf(stderr, "corpus item %zu malformed\n", i); return -1; }
    if (c->expect) valid_items[nvalid++] = i;
    if (c->expect && c->group == 1) group1[ngroup1++] = i;
  }
  NEED((size_t)ndigests * 64);
  digests = malloc((size_t)ndigests * 64 + 1);
  memcpy(digests, b + o, (size_t)ndigests * 64);
  free(b);
  if (nvalid == 0 || ngroup1 == 0) { fprintf(stderr, "corpus has no valid items or no same-key group\n"); return -1; }
  return 0;
#undef NEED
}

/* ── randomness (xoshiro256**, seeded by splitmix64) ────────────────────────────────────────────────── */

typedef struct { uint64_t s[4]; } rng_t;
static uint64_t splitmix(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static void rng_seed(rng_t *r, uint64_t seed) { for (int i = 0; i < 4; i++) r->s[i] = splitmix(&seed); }
static uint64_t next64(rng_t *r) {
  uint64_t *s = r->s, res = rotr(s[1] * 5, 57) * 9, t = s[1] << 17;
  s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotr(s[3], 19);
  return res;
}
static size_t below(rng_t *r, size_t n) { return n ? (size_t)(next64(r) % n) : 0; }
static void fill(rng_t *r, uint8_t *p, size_t n) { for (size_t i = 0; i < n; i++) p[i] = (uint8_t)next64(r); }

/* ── interesting encodings ──────────────────────────────────────────────────────────────────────────── */

static const char *const SMALL_ORDER_HEX[8] = {
  "0100000000000000000000000000000000000000000000000000000000000000", "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "0000000000000000000000000000000000000000000000000000000000000000", "0000000000000000000000000000000000000000000000000000000000000080",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
};
/* L, little-endian. */
static const uint8_t L_LE[32] = {0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10};

static void unhex(uint8_t *out, const char *h, size_t n) {
  for (size_t i = 0; i < n; i++) { unsigned v; sscanf(h + 2 * i, "%2x", &v); out[i] = (uint8_t)v; }
}

/* A 32-byte encoding worth trying as A or R: small order, y ≥ p, negative zero, all ones, p − 1, 2^255 − 1. */
static void interesting_point(rng_t *r, uint8_t out[32]) {
  switch (below(r, 6)) {
  case 0: unhex(out, SMALL_ORDER_HEX[below(r, 8)], 32); if (below(r, 3) == 0) out[31] ^= 0x80; break;
  case 1: { /* y = p + k, k = 0..18 (p = 2^255 − 19 = ed ff … ff 7f), either sign */
    memset(out, 0xff, 32); out[31] = 0x7f; out[0] = (uint8_t)(0xed + below(r, 19));
    if (below(r, 2)) out[31] |= 0x80;
    break;
  }
  case 2: memset(out, 0, 32); out[0] = 1; out[31] = 0x80; break; /* y = 1, x = "−0" */
  case 3: memset(out, 0xff, 32); out[0] = 0xec; break;          /* y = p − 1 with the sign bit */
  case 4: memset(out, 0xff, 32); if (below(r, 2)) out[31] = 0x7f; break;
  default: fill(r, out, 32); out[31] &= 0x7f; out[0] = (uint8_t)below(r, 20); break;
  }
}

/* 32 bytes + 32 bytes (little-endian), the low 256 bits. */
static void add_le(uint8_t *a, const uint8_t *b) {
  unsigned carry = 0;
  for (int i = 0; i < 32; i++) { unsigned t = a[i] + b[i] + carry; a[i] = (uint8_t)t; carry = t >> 8; }
}

/* ── test items: every buffer at its exact size ─────────────────────────────────────────────────────── */

typedef struct {
  uint8_t *pk, *sig, *msg; /* msg: the whole message (NULL when empty) */
  size_t len;
  uint8_t *m1, *m2;        /* the message split in two own buffers (NULL when empty) */
  size_t n1;
  int expect;              /* the corpus answer, or −1 once mutated */
  long from;               /* the corpus item, or −1 */
  uint8_t *ax, *ax_out;    /* yk_item.ax and .ax_out (32 bytes each, or NULL) */
  const char *ax_what;
} titem;

static const uint8_t AX_SENTINEL[32] = {0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5,
                                        0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5};

/* The corpus key's x when t's key is still the corpus item's and noble finds it valid, else NULL. */
static const uint8_t *known_x(const titem *t) {
  if (t->from < 0) return NULL;
  const citem *c = &corpus[t->from];
  return c->keyvalid && memcmp(t->pk, c->pk, 32) == 0 ? c->x : NULL;
}
/* t's key is still the corpus item's, and noble refuses it. */
static int known_invalid_key(const titem *t) {
  return t->from >= 0 && !corpus[t->from].keyvalid && memcmp(t->pk, corpus[t->from].pk, 32) == 0;
}

static uint8_t *dup_exact(const uint8_t *p, size_t n) {
  if (n == 0) return NULL;
  uint8_t *q = malloc(n);
  if (!q) abort();
  memcpy(q, p, n);
  return q;
}

static void titem_split(rng_t *r, titem *t) {
  t->n1 = below(r, 4) == 0 ? (below(r, 2) ? 0 : t->len) : below(r, t->len + 1);
  t->m1 = dup_exact(t->msg, t->n1);
  t->m2 = dup_exact(t->msg ? t->msg + t->n1 : NULL, t->len - t->n1);
}

static void titem_free(titem *t) { free(t->pk); free(t->sig); free(t->msg); free(t->m1); free(t->m2); free(t->ax); free(t->ax_out); }

/* p − x for a canonical x ≠ 0 (little-endian): the other x with the same y. */
static void neg_x(uint8_t out[32], const uint8_t x[32]) {
  static const uint8_t P_LE[32] = {0xed, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f};
  int borrow = 0;
  for (int i = 0; i < 32; i++) { int d = P_LE[i] - x[i] - borrow; borrow = d < 0; out[i] = (uint8_t)(d + (borrow ? 256 : 0)); }
}

/* yk_item.ax: none (half), the right x when known, or a wrong one; ax_out half the time. */
static void choose_ax(rng_t *r, titem *t) {
  const uint8_t *x = known_x(t);
  size_t pick = below(r, 10);
  t->ax = t->ax_out = NULL;
  t->ax_what = "none";
  if (pick >= 5) {
    t->ax = malloc(32);
    if (!t->ax) abort();
    if (pick < 8 && x != NULL) { memcpy(t->ax, x, 32); t->ax_what = "right x"; }
    else switch (below(r, 5)) {
    case 0: fill(r, t->ax, 32); t->ax_what = "random"; break;
    case 1: memcpy(t->ax, corpus[valid_items[below(r, nvalid)]].x, 32); t->ax_what = "another key's x"; break;
    case 2: if (x) { neg_x(t->ax, x); t->ax_what = "p - x"; } else { memset(t->ax, 0, 32); t->ax_what = "zero"; } break;
    case 3: if (x) { memcpy(t->ax, x, 32); t->ax[below(r, 32)] ^= (uint8_t)(1u << below(r, 8)); t->ax_what = "x, a bit flipped"; }
            else { memset(t->ax, 0xff, 32); t->ax_what = "all ones"; } break;
    default:
      if (t->from >= 0 && corpus[t->from].keyvalid) { memcpy(t->ax, corpus[t->from].x, 32); t->ax_what = "the corpus key's x (key maybe mutated)"; }
      else { fill(r, t->ax, 32); t->ax[31] &= 0x7f; t->ax_what = "random < 2^255"; }
      break;
    }
  }
  if (below(r, 2)) {
    t->ax_out = malloc(32);
    if (!t->ax_out) abort();
    memcpy(t->ax_out, AX_SENTINEL, 32);
  }
}

static void mutate(rng_t *r, titem *t, const char **what) {
  uint8_t buf[64];
  int op = (int)below(r, 12);
  switch (op) {
  case 0: t->pk[below(r, 32)] ^= (uint8_t)(1u << below(r, 8)); *what = "flip A"; break;
  case 1: t->sig[below(r, 32)] ^= (uint8_t)(1u << below(r, 8)); *what = "flip R"; break;
  case 2: t->sig[32 + below(r, 32)] ^= (uint8_t)(1u << below(r, 8)); *what = "flip S"; break;
  case 3:
    if (t->len == 0) { *what = "flip M (empty)"; break; }
    t->msg[below(r, t->len)] ^= (uint8_t)(1u << below(r, 8)); *what = "flip M"; break;
  case 4: interesting_point(r, t->pk); *what = "special A"; break;
  case 5: interesting_point(r, t->sig); *what = "special R"; break;
  case 6:
    switch (below(r, 6)) {
    case 0: add_le(t->sig + 32, L_LE); *what = "S + L"; break;
    case 1: memcpy(t->sig + 32, L_LE, 32); *what = "S = L"; break;
    case 2: memcpy(t->sig + 32, L_LE, 32); t->sig[32] -= 1; *what = "S = L - 1"; break;
    case 3: memset(t->sig + 32, 0, 32); *what = "S = 0"; break;
    case 4: memset(t->sig + 32, 0xff, 32); *what = "S = 2^256 - 1"; break;
    default: fill(r, t->sig + 32, 32); t->sig[63] &= 0x0f; *what = "random S < 2^252"; break;
    }
    break;
  case 7: memcpy(t->pk, corpus[below(r, ncorpus)].pk, 32); *what = "A of another item"; break;
  case 8: memcpy(t->sig, corpus[below(r, ncorpus)].sig, 32); *what = "R of another item"; break;
  case 9: { /* cut or extend the message */
    size_t nl = below(r, 2) && t->len > 0 ? below(r, t->len) : t->len + 1 + below(r, 64);
    uint8_t *m = nl ? malloc(nl) : NULL;
    if (nl) { fill(r, m, nl); if (t->len) memcpy(m, t->msg, t->len < nl ? t->len : nl); }
    free(t->msg); t->msg = m; t->len = nl;
    *what = "message length";
    break;
  }
  case 10: fill(r, buf, 64); memcpy(t->sig, buf, 64); *what = "random signature"; break;
  default: fill(r, t->pk, 32); *what = "random A"; break;
  }
}

/* An item: from the corpus index `from` (or a random one when −1 and random is set), mutated `muts` times. */
static titem make_item(rng_t *r, long from, int muts, int random_bytes) {
  titem t;
  memset(&t, 0, sizeof t);
  t.pk = malloc(32);
  t.sig = malloc(64);
  if (!t.pk || !t.sig) abort();
  if (random_bytes) {
    fill(r, t.pk, 32); fill(r, t.sig, 64);
    if (below(r, 2)) t.sig[63] &= 0x0f;
    t.len = below(r, 301);
    t.msg = t.len ? malloc(t.len) : NULL;
    fill(r, t.msg, t.len);
    t.expect = -1;
    t.from = -1;
  } else {
    const citem *c = &corpus[from];
    memcpy(t.pk, c->pk, 32);
    memcpy(t.sig, c->sig, 64);
    t.len = c->len;
    t.msg = dup_exact(c->msg, c->len);
    t.expect = c->expect;
    t.from = from;
    const char *what;
    for (int i = 0; i < muts; i++) mutate(r, &t, &what);
    if (muts > 0) t.expect = -1;
  }
  titem_split(r, &t);
  choose_ax(r, &t);
  return t;
}

/* ── reporting ──────────────────────────────────────────────────────────────────────────────────────── */

static pthread_mutex_t report_lock = PTHREAD_MUTEX_INITIALIZER;
static long mismatches;

static void hexout(FILE *f, const char *label, const uint8_t *p, size_t n) {
  fprintf(f, "  %s (%zu bytes): ", label, n);
  for (size_t i = 0; i < n; i++) fprintf(f, "%02x", p[i]);
  fputc('\n', f);
}

static void report(const char *what, const titem *t, int single, int batch, size_t pos, size_t n) {
  pthread_mutex_lock(&report_lock);
  if (mismatches++ < 20) {
    fprintf(stderr, "MISMATCH %s: item %zu of a batch of %zu; corpus item %ld (%s); pinned %d, yk_verify %d, yk_verify_batch %d\n", what, pos, n,
            t->from, t->from >= 0 ? kind_names[corpus[t->from].kind] : "random", t->expect, single, batch);
    hexout(stderr, "pk", t->pk, 32);
    hexout(stderr, "sig", t->sig, 64);
    hexout(stderr, "msg", t->msg ? t->msg : (const uint8_t *)"", t->len);
    fprintf(stderr, "  split at %zu; ax: %s; ax_out %s\n", t->n1, t->ax_what ? t->ax_what : "none", t->ax_out ? "given" : "none");
    if (t->ax) hexout(stderr, "ax", t->ax, 32);
    if (t->ax_out) hexout(stderr, "ax_out after the call", t->ax_out, 32);
  }
  pthread_mutex_unlock(&report_lock);
}

/* ── the checks ─────────────────────────────────────────────────────────────────────────────────────── */

typedef struct {
  uint64_t seed;
  double seconds;
  long iterations;
  long singles, batches, batch_items, shas, null_calls, max_n, ax_rounds;
  long valid_answers, invalid_answers;
  long n_hist[4]; /* n = 0, 1, even, odd ≥ 3 */
} job_t;

/* yk_verify_batch on items[0..n), each compared with yk_verify and the pinned answer. */
static void check_batch(rng_t *r, job_t *j, titem *items, size_t n, const char *style) {
  yk_item *it = calloc(n ? n : 1, sizeof(yk_item));
  uint8_t *out = malloc(n ? n : 1);
  if (!it || !out) abort();
  for (size_t i = 0; i < n; i++) {
    it[i] = (yk_item){items[i].pk, items[i].sig, items[i].m1, items[i].n1, items[i].m2, items[i].len - items[i].n1, items[i].ax, items[i].ax_out};
    out[i] = 0xa5;
  }
  int rc = yk_verify_batch(it, n, out);
  if (rc != 0) {
    pthread_mutex_lock(&report_lock);
    mismatches++;
    fprintf(stderr, "MISMATCH yk_verify_batch returned %d for a %s batch of %zu\n", rc, style, n);
    pthread_mutex_unlock(&report_lock);
  }
  for (size_t i = 0; i < n; i++) {
    int single = yk_verify(items[i].pk, items[i].msg, items[i].len, items[i].sig);
    if (out[i] > 1 || out[i] != single || (items[i].expect >= 0 && single != items[i].expect)) report(style, &items[i], single, out[i], i, n);
    if (single) j->valid_answers++; else j->invalid_answers++;
    if (items[i].ax_out == NULL) continue;
    /* the key cache's output */
    const int written = memcmp(items[i].ax_out, AX_SENTINEL, 32) != 0;
    const uint8_t *x = known_x(&items[i]);
    if ((x != NULL && written && memcmp(items[i].ax_out, x, 32) != 0) || (out[i] == 1 && !written) || (known_invalid_key(&items[i]) && written)) {
      report(x != NULL && written ? "ax_out is not the key's x" : written ? "ax_out written for a key noble refuses" : "ax_out not written for a valid signature",
             &items[i], single, out[i], i, n);
    } else if (written) { /* given back as ax: the same answer */
      j->ax_rounds++;
      yk_item again = it[i];
      again.ax = items[i].ax_out;
      again.ax_out = NULL;
      uint8_t o2 = 0xa5;
      if (yk_verify_batch(&again, 1, &o2) != 0 || o2 != single) report("ax_out given back as ax", &items[i], single, o2, i, n);
    }
  }
  j->batches++;
  j->batch_items += (long)n;
  if ((long)n > j->max_n) j->max_n = (long)n;
  j->n_hist[n == 0 ? 0 : n == 1 ? 1 : n % 2 == 0 ? 2 : 3]++;
  (void)r;
  free(it);
  free(out);
}

static size_t batch_size(rng_t *r) {
  switch (below(r, 5)) {
  case 0: return below(r, 9);
  case 1: return 1 + below(r, 64);
  case 2: { size_t p = (size_t)1 << (1 + below(r, 9)); return p - 1 + below(r, 3); } /* 2^k − 1, 2^k, 2^k + 1, k ≤ 9 */
  default: return below(r, 601);
  }
}

static void one_iteration(rng_t *r, job_t *j) {
  int what = (int)below(r, 10);
  if (what < 3) { /* one item alone: yk_verify against the batch of one and the pinned answer */
    int random_bytes = below(r, 4) == 0;
    titem t = make_item(r, random_bytes ? -1 : (long)below(r, ncorpus), random_bytes ? 0 : (int)below(r, 4), random_bytes);
    check_batch(r, j, &t, 1, random_bytes ? "random single" : "mutated single");
    j->singles++;
    titem_free(&t);
  } else if (what < 8) { /* a batch */
    size_t n = batch_size(r);
    titem *items = calloc(n ? n : 1, sizeof *items);
    static const char *const STYLE[5] = {"mixed", "one key", "valid", "repeated", "run"};
    const int mode = (int)below(r, 5);
    const char *style = STYLE[mode];
    const long same = (long)below(r, ncorpus);
    for (size_t i = 0; i < n; i++) {
      switch (mode) {
      case 0: /* any corpus items, a third of them mutated, a tenth random bytes */
        items[i] = below(r, 10) == 0 ? make_item(r, -1, 0, 1) : make_item(r, (long)below(r, ncorpus), below(r, 3) == 0 ? 1 + (int)below(r, 3) : 0, 0);
        break;
      case 1: /* one key: the same-key group's valid signatures, one in 16 mutated, at random positions */
        items[i] = make_item(r, (long)group1[below(r, ngroup1)], below(r, 16) == 0 ? 1 : 0, 0);
        break;
      case 2: /* valid items only (below: or with exactly one mutated) */
        items[i] = make_item(r, (long)valid_items[below(r, nvalid)], 0, 0);
        break;
      case 3: /* one corpus item repeated */
        items[i] = make_item(r, same, 0, 0);
        break;
      default: /* corpus items in corpus order from a random start (neighbours share keys), one in 20 mutated */
        items[i] = make_item(r, (long)(((size_t)same + i) % ncorpus), below(r, 20) == 0 ? 1 : 0, 0);
        break;
      }
    }
    if (mode == 2 && n > 0 && below(r, 2)) { /* exactly one bad among the valid */
      size_t at = below(r, n);
      const char *w;
      mutate(r, &items[at], &w);
      items[at].expect = -1;
      free(items[at].m1);
      free(items[at].m2);
      free(items[at].ax);
      free(items[at].ax_out);
      titem_split(r, &items[at]);
      choose_ax(r, &items[at]);
      style = "valid + one mutated";
    }
    check_batch(r, j, items, n, style);
    for (size_t i = 0; i < n; i++) titem_free(&items[i]);
    free(items);
  } else if (what < 9) { /* SHA-512 */
    size_t len = below(r, 8) == 0 ? below(r, 5001) : below(r, 1001), off = below(r, 8);
    uint8_t *buf = malloc(len + off + 1), d1[64], d2[64], d3[64];
    if (!buf) abort();
    fill(r, buf, len + off);
    const uint8_t *m = len ? buf + off : NULL;
    yk_sha512(m, len, d1);
    ref_sha512(m, len, d2);
    yk_sha512_ctx c;
    yk_sha512_init(&c);
    for (size_t done = 0; done < len;) {
      size_t piece = below(r, 4) == 0 ? below(r, 300) : below(r, 130);
      if (piece > len - done) piece = len - done;
      yk_sha512_update(&c, buf + off + done, piece);
      done += piece;
    }
    yk_sha512_final(&c, d3);
    if (memcmp(d1, d2, 64) != 0 || memcmp(d1, d3, 64) != 0) {
      pthread_mutex_lock(&report_lock);
      mismatches++;
      fprintf(stderr, "MISMATCH yk_sha512 (one-shot %s reference, %s incremental) on %zu bytes at offset %zu\n",
              memcmp(d1, d2, 64) ? "!=" : "==", memcmp(d1, d3, 64) ? "!=" : "==", len, off);
      hexout(stderr, "msg", m ? m : (const uint8_t *)"", len);
      pthread_mutex_unlock(&report_lock);
    }
    free(buf);
    j->shas++;
  } else { /* NULL with length 0 wherever a message may be empty */
    const citem *c = &corpus[valid_items[below(r, nvalid)]];
    uint8_t d[64], e[64];
    yk_sha512(NULL, 0, d);
    ref_sha512(NULL, 0, e);
    int single = yk_verify(c->pk, c->len ? c->msg : NULL, c->len, c->sig);
    yk_item it = {c->pk, c->sig, NULL, 0, c->len ? c->msg : NULL, c->len, NULL, NULL};
    uint8_t out = 0xa5;
    int rc = yk_verify_batch(&it, 1, &out);
    uint8_t dummy = 0xa5;
    int rc0 = yk_verify_batch(&it, 0, &dummy);
    if (memcmp(d, e, 64) != 0 || single != c->expect || rc != 0 || out != c->expect || rc0 != 0 || dummy != 0xa5) {
      pthread_mutex_lock(&report_lock);
      mismatches++;
      fprintf(stderr, "MISMATCH with NULL, 0 arguments: sha %d, yk_verify %d, batch rc %d out %d, empty batch rc %d wrote %d (pinned %d)\n",
              memcmp(d, e, 64) != 0, single, rc, out, rc0, dummy != 0xa5, c->expect);
      pthread_mutex_unlock(&report_lock);
    }
    j->null_calls++;
  }
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run_job(void *arg) {
  job_t *j = arg;
  rng_t r;
  rng_seed(&r, j->seed);
  const double end = now() + j->seconds;
  for (long i = 0; j->iterations < 0 || i < j->iterations; i++) {
    if (j->seconds > 0 && (i & 7) == 0 && now() > end) break;
    one_iteration(&r, j);
    if (mismatches > 20) break;
  }
  return NULL;
}

/* ── the fixed checks, once ─────────────────────────────────────────────────────────────────────────── */

static int fixed_checks(void) {
  int bad = 0;
  uint8_t d[64], want[64];
  unhex(want, "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f", 64);
  ref_sha512((const uint8_t *)"abc", 3, d);
  if (memcmp(d, want, 64) != 0) { fprintf(stderr, "the reference SHA-512 is wrong on \"abc\"\n"); return 1; }
  for (uint32_t len = 0; len < ndigests; len++) {
    uint8_t *m = len ? malloc(len) : NULL, a[64], b[64];
    for (uint32_t i = 0; i < len; i++) m[i] = (uint8_t)(i * 131 + len * 7 + 1);
    yk_sha512(m, len, a);
    ref_sha512(m, len, b);
    if (memcmp(a, digests[len], 64) != 0 || memcmp(b, digests[len], 64) != 0) {
      fprintf(stderr, "MISMATCH SHA-512 of the %u-byte pattern: yk_sha512 %s, reference %s node:crypto\n", len,
              memcmp(a, digests[len], 64) ? "!=" : "==", memcmp(b, digests[len], 64) ? "!=" : "==");
      bad++;
    }
    free(m);
  }
  /* every corpus item alone, then the whole corpus in one batch */
  titem *all = calloc(ncorpus, sizeof *all);
  long valid = 0;
  for (size_t i = 0; i < ncorpus; i++) {
    const citem *c = &corpus[i];
    all[i] = (titem){(uint8_t *)c->pk, (uint8_t *)c->sig, c->msg, c->len, c->msg, NULL, c->len, c->expect, (long)i, NULL, NULL, "none"};
    int single = yk_verify(c->pk, c->msg, c->len, c->sig);
    if (single != c->expect) { report("corpus, yk_verify", &all[i], single, -1, 0, 1); bad++; }
    valid += single;
  }
  yk_item *it = malloc(sizeof(yk_item) * ncorpus);
  uint8_t *out = malloc(ncorpus);
  for (size_t i = 0; i < ncorpus; i++) it[i] = (yk_item){corpus[i].pk, corpus[i].sig, corpus[i].msg, corpus[i].len, NULL, 0, NULL, NULL};
  if (yk_verify_batch(it, ncorpus, out) != 0) { fprintf(stderr, "MISMATCH yk_verify_batch failed on the corpus\n"); bad++; }
  else for (size_t i = 0; i < ncorpus; i++) if (out[i] != corpus[i].expect) { report("corpus, one batch", &all[i], -1, out[i], i, ncorpus); bad++; }
  /* again with every valid key's x given as ax and ax_out asked for: same answers, ax_out = x exactly for the valid keys reached */
  uint8_t (*xo)[32] = malloc(32 * ncorpus);
  for (size_t i = 0; i < ncorpus; i++) {
    memcpy(xo[i], AX_SENTINEL, 32);
    it[i].ax = corpus[i].keyvalid && (i & 1) ? corpus[i].x : NULL;
    it[i].ax_out = xo[i];
  }
  long written = 0;
  if (yk_verify_batch(it, ncorpus, out) != 0) { fprintf(stderr, "MISMATCH yk_verify_batch failed on the corpus with ax\n"); bad++; }
  else for (size_t i = 0; i < ncorpus; i++) {
    const int w = memcmp(xo[i], AX_SENTINEL, 32) != 0;
    written += w;
    if (out[i] != corpus[i].expect || (w && (!corpus[i].keyvalid || memcmp(xo[i], corpus[i].x, 32) != 0)) || (out[i] && !w)) {
      report("corpus, one batch with ax and ax_out", &all[i], -1, out[i], i, ncorpus);
      bad++;
    }
  }
  printf("fixed checks: %u SHA-512 digests; %zu corpus items (%ld valid) one by one, in one batch, and in one batch with ax (ax_out written for %ld): %d mismatches\n",
         ndigests, ncorpus, valid, written, bad);
  free(xo); free(it); free(out); free(all);
  return bad;
}

int main(int argc, char **argv) {
  const char *corpus_path = NULL;
  double seconds = 10;
  long iterations = -1;
  uint64_t seed = (uint64_t)time(NULL);
  int threads = 1;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--corpus") && v) corpus_path = argv[++i];
    else if (!strcmp(a, "--seconds") && v) { seconds = atof(v); i++; }
    else if (!strcmp(a, "--iterations") && v) { iterations = atol(v); i++; if (iterations >= 0) seconds = 0; }
    else if (!strcmp(a, "--seed") && v) { seed = strtoull(v, NULL, 0); i++; }
    else if (!strcmp(a, "--threads") && v) { threads = atoi(v); i++; }
    else { fprintf(stderr, "usage: fuzz --corpus FILE [--seconds S] [--iterations N] [--seed X] [--threads T]\n"); return 2; }
  }
  if (corpus_path == NULL || threads < 1 || threads > 64) { fprintf(stderr, "fuzz: --corpus is required; 1 ≤ threads ≤ 64\n"); return 2; }
  if (load_corpus(corpus_path) != 0) return 2;
  printf("fuzz: seed %llu, %s %g, %d thread(s), corpus %s (%zu items, %zu valid, same-key group of %zu)\n", (unsigned long long)seed,
         iterations >= 0 ? "iterations per thread" : "seconds", iterations >= 0 ? (double)iterations : seconds, threads, corpus_path, ncorpus, nvalid, ngroup1);
  double t0 = now();
  int bad = fixed_checks();
  job_t *jobs = calloc((size_t)threads, sizeof *jobs);
  pthread_t *tid = calloc((size_t)threads, sizeof *tid);
  for (int t = 0; t < threads; t++) {
    jobs[t].seed = seed + 0x1000193ULL * (uint64_t)t;
    jobs[t].seconds = seconds;
    jobs[t].iterations = iterations;
    if (pthread_create(&tid[t], NULL, run_job, &jobs[t]) != 0) { perror("pthread_create"); return 2; }
  }
  job_t sum;
  memset(&sum, 0, sizeof sum);
  for (int t = 0; t < threads; t++) {
    pthread_join(tid[t], NULL);
    sum.singles += jobs[t].singles; sum.batches += jobs[t].batches; sum.batch_items += jobs[t].batch_items; sum.shas += jobs[t].shas;
    sum.null_calls += jobs[t].null_calls; sum.ax_rounds += jobs[t].ax_rounds; sum.valid_answers += jobs[t].valid_answers; sum.invalid_answers += jobs[t].invalid_answers;
    if (jobs[t].max_n > sum.max_n) sum.max_n = jobs[t].max_n;
    for (int k = 0; k < 4; k++) sum.n_hist[k] += jobs[t].n_hist[k];
  }
  printf("fuzz: %.1f s; %ld yk_verify_batch calls (%ld of them single items; n = 0: %ld, 1: %ld, even: %ld, odd ≥ 3: %ld; largest %ld) holding %ld items, "
         "each also through yk_verify (%ld valid, %ld invalid); %ld ax_out given back as ax; %ld yk_sha512 checks; %ld NULL-argument checks; %ld mismatches\n",
         now() - t0, sum.batches, sum.singles, sum.n_hist[0], sum.n_hist[1], sum.n_hist[2], sum.n_hist[3], sum.max_n, sum.batch_items,
         sum.valid_answers, sum.invalid_answers, sum.ax_rounds, sum.shas, sum.null_calls, mismatches);
  for (size_t i = 0; i < ncorpus; i++) free(corpus[i].msg);
  for (uint32_t k = 0; k < nkinds; k++) free(kind_names[k]);
  free(corpus); free(kind_names); free(digests); free(group1); free(valid_items); free(jobs); free(tid);
  return bad || mismatches ? 1 : 0;
}
