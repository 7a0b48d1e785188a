/*
 * N-API binding of the verification core (loaded by src/crypto/native.ts; Bun implements N-API).
 * Every function takes caller-owned typed arrays, checks their types and lengths, and throws a TypeError
 * or RangeError for a wrong call; a bad signature is an answer (0), never an exception.
 *
 *   verifyOne(pk, msg, sig) → boolean
 *   verifyBatch(pk n×32, sig n×64, msg, msgEnd: Uint32Array n, out: Uint8Array ≥ n)
 *   verifyScans(codes n×len, keys k×32, slot: Int32Array n, out ≥ n, credDomain, presDomain, layout)
 *     layout: Uint32Array [code length, credential signed bytes, issuerSig offset,
 *                          presentation signed bytes, devicePub offset, deviceSig offset]
 *     out[i] = 0 both signatures valid, 1 issuer signature invalid, 2 device signature invalid;
 *     slot[i] < 0: no issuer signature to check (credential already verified).
 *   verifyScans(…, dx n×32, dknown n): also, per code, the device key's x coordinate: read from dx[i] when
 *     dknown[i] = 1 (saves the square root; checked against the code's devicePub), and written to dx[i]
 *     whenever the device signature is valid (out[i] = 0), so the caller can keep it with the credential.
 */
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include "yk_ed25519.h"

#define THROW(env, kind, msg) do { napi_throw_##kind(env, NULL, msg); return NULL; } while (0)

static int typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *len) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  napi_typedarray_type t;
  napi_value ab;
  size_t off;
  if (napi_get_typedarray_info(env, v, &t, len, data, &ab, &off) != napi_ok) return 0;
  if (t != want) return 0;
  if (*data == NULL) { static uint8_t empty; *data = &empty; } /* a zero-length array may have no storage */
  return 1;
}

static napi_value verify_one(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) THROW(env, type_error, "verifyOne(pk, msg, sig)");
  void *pk, *msg, *sig;
  size_t npk, nmsg, nsig;
  if (!typed(env, argv[0], napi_uint8_array, &pk, &npk) || !typed(env, argv[1], napi_uint8_array, &msg, &nmsg) ||
      !typed(env, argv[2], napi_uint8_array, &sig, &nsig)) THROW(env, type_error, "verifyOne takes three Uint8Arrays");
  int ok = npk == 32 && nsig == 64 && yk_verify(pk, msg, nmsg, sig);
  napi_value r;
  napi_get_boolean(env, ok, &r);
  return r;
}

static napi_value verify_batch(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) THROW(env, type_error, "verifyBatch(pk, sig, msg, msgEnd, out)");
  void *pk, *sig, *msg, *end, *out;
  size_t npk, nsig, nmsg, n, nout;
  if (!typed(env, argv[0], napi_uint8_array, &pk, &npk) || !typed(env, argv[1], napi_uint8_array, &sig, &nsig) ||
      !typed(env, argv[2], napi_uint8_array, &msg, &nmsg) || !typed(env, argv[3], napi_uint32_array, &end, &n) ||
      !typed(env, argv[4], napi_uint8_array, &out, &nout)) THROW(env, type_error, "verifyBatch takes Uint8Array pk, sig, msg, Uint32Array msgEnd, Uint8Array out");
  if (npk != 32 * n || nsig != 64 * n || nout < n) THROW(env, range_error, "verifyBatch: pk, sig and out do not hold msgEnd.length signatures");
  const uint32_t *e = end;
  uint32_t prev = 0;
  for (size_t i = 0; i < n; i++) {
    if (e[i] < prev || e[i] > nmsg) THROW(env, range_error, "verifyBatch: msgEnd must be non-decreasing and within msg");
    prev = e[i];
  }
  if (n == 0) return NULL;
  yk_item *items = malloc(sizeof(yk_item) * n);
  if (items == NULL) THROW(env, error, "verifyBatch: out of memory");
  prev = 0;
  for (size_t i = 0; i < n; i++) {
    items[i] = (yk_item){(const uint8_t *)pk + 32 * i, (const uint8_t *)sig + 64 * i, (const uint8_t *)msg + prev, e[i] - prev, NULL, 0, NULL, NULL};
    prev = e[i];
  }
  int rc = yk_verify_batch(items, n, out);
  free(items);
  if (rc != 0) THROW(env, error, "verifyBatch: out of memory or no randomness from the OS");
  return NULL;
}

static napi_value verify_scans(napi_env env, napi_callback_info info) {
  size_t argc = 9;
  napi_value argv[9];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 7) THROW(env, type_error, "verifyScans(codes, keys, slot, out, credDomain, presDomain, layout[, dx, dknown])");
  void *codes, *keys, *slot, *out, *cd, *pd, *lay;
  size_t ncodes, nkeys, n, nout, ncd, npd, nlay;
  if (!typed(env, argv[0], napi_uint8_array, &codes, &ncodes) || !typed(env, argv[1], napi_uint8_array, &keys, &nkeys) ||
      !typed(env, argv[2], napi_int32_array, &slot, &n) || !typed(env, argv[3], napi_uint8_array, &out, &nout) ||
      !typed(env, argv[4], napi_uint8_array, &cd, &ncd) || !typed(env, argv[5], napi_uint8_array, &pd, &npd) ||
      !typed(env, argv[6], napi_uint32_array, &lay, &nlay)) THROW(env, type_error, "verifyScans: wrong argument types");
  const uint32_t *L = lay;
  if (nlay != 6) THROW(env, range_error, "verifyScans: layout has 6 entries");
  const size_t len = L[0], cred = L[1], isig = L[2], pres = L[3], dpub = L[4], dsig = L[5];
  if (len == 0 || cred > len || pres > len || isig + 64 > len || dpub + 32 > len || dsig + 64 > len) THROW(env, range_error, "verifyScans: layout outside the code");
  if (ncodes != n * len || nout < n || nkeys % 32 != 0) THROW(env, range_error, "verifyScans: codes, keys, slot and out disagree");
  const int32_t *s = slot;
  for (size_t i = 0; i < n; i++) if (s[i] >= 0 && (size_t)s[i] >= nkeys / 32) THROW(env, range_error, "verifyScans: slot out of range");
  void *dxv = NULL, *dkv = NULL;
  if (argc >= 9) {
    size_t ndx, ndk;
    if (!typed(env, argv[7], napi_uint8_array, &dxv, &ndx) || !typed(env, argv[8], napi_uint8_array, &dkv, &ndk)) THROW(env, type_error, "verifyScans: dx and dknown are Uint8Arrays");
    if (ndx < 32 * n || ndk < n) THROW(env, range_error, "verifyScans: dx holds 32 bytes and dknown 1 byte per code");
  }
  uint8_t *dx = dxv, *dknown = dkv;
  if (n == 0) return NULL;
  yk_item *items = malloc(sizeof(yk_item) * 2 * n);
  uint8_t *ok = malloc(2 * n);
  int32_t *issuer_at = malloc(sizeof(int32_t) * n);
  if (!items || !ok || !issuer_at) { free(items); free(ok); free(issuer_at); THROW(env, error, "verifyScans: out of memory"); }
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    const uint8_t *c = (const uint8_t *)codes + i * len;
    issuer_at[i] = -1;
    if (s[i] >= 0) {
      issuer_at[i] = (int32_t)m;
      items[m++] = (yk_item){(const uint8_t *)keys + 32 * (size_t)s[i], c + isig, cd, ncd, c, cred, NULL, NULL};
    }
    items[m++] = (yk_item){c + dpub, c + dsig, pd, npd, c, pres,
                           dx != NULL && dknown[i] ? dx + 32 * i : NULL, dx != NULL ? dx + 32 * i : NULL};
  }
  int rc = yk_verify_batch(items, m, ok);
  if (rc == 0) {
    uint8_t *o = out;
    m = 0;
    for (size_t i = 0; i < n; i++) {
      int issuer_ok = 1;
      if (issuer_at[i] >= 0) issuer_ok = ok[m++];
      int device_ok = ok[m++];
      o[i] = !issuer_ok ? 1 : !device_ok ? 2 : 0;
    }
  }
  free(items); free(ok); free(issuer_at);
  if (rc != 0) THROW(env, error, "verifyScans: out of memory or no randomness from the OS");
  return NULL;
}

/* A start-up check: SHA-512("abc") (FIPS 180-4) and RFC 8032 §7.1 TEST 2, valid and tampered. */
static int self_test(void) {
  static const uint8_t abc[64] = {
    0xdd, 0xaf, 0x35, 0xa1, 0x93, 0x61, 0x7a, 0xba, 0xcc, 0x41, 0x73, 0x49, 0xae, 0x20, 0x41, 0x31, 0x12, 0xe6, 0xfa, 0x4e, 0x89, 0xa9,
    0x7e, 0xa2, 0x0a, 0x9e, 0xee, 0xe6, 0x4b, 0x55, 0xd3, 0x9a, 0x21, 0x92, 0x99, 0x2a, 0x27, 0x4f, 0xc1, 0xa8, 0x36, 0xba, 0x3c, 0x23,
    0xa3, 0xfe, 0xeb, 0xbd, 0x45, 0x4d, 0x44, 0x23, 0x64, 0x3c, 0xe8, 0x0e, 0x2a, 0x9a, 0xc9, 0x4f, 0xa5, 0x4c, 0xa4, 0x9f};
  static const uint8_t pk[32] = {
    0x3d, 0x40, 0x17, 0xc3, 0xe8, 0x43, 0x89, 0x5a, 0x92, 0xb7, 0x0a, 0xa7, 0x4d, 0x1b, 0x7e, 0xbc,
    0x9c, 0x98, 0x2c, 0xcf, 0x2e, 0xc4, 0x96, 0x8c, 0xc0, 0xcd, 0x55, 0xf1, 0x2a, 0xf4, 0x66, 0x0c};
  uint8_t sig[64] = {
    0x92, 0xa0, 0x09, 0xa9, 0xf0, 0xd4, 0xca, 0xb8, 0x72, 0x0e, 0x82, 0x0b, 0x5f, 0x64, 0x25, 0x40, 0xa2, 0xb2, 0x7b, 0x54, 0x16, 0x50,
    0x3f, 0x8f, 0xb3, 0x76, 0x22, 0x23, 0xeb, 0xdb, 0x69, 0xda, 0x08, 0x5a, 0xc1, 0xe4, 0x3e, 0x15, 0x99, 0x6e, 0x45, 0x8f, 0x36, 0x13,
    0xd0, 0xf1, 0x1d, 0x8c, 0x38, 0x7b, 0x2e, 0xae, 0xb4, 0x30, 0x2a, 0xee, 0xb0, 0x0d, 0x29, 0x16, 0x12, 0xbb, 0x0c, 0x00};
  const uint8_t msg[1] = {0x72};
  uint8_t d[64];
  yk_sha512((const uint8_t *)"abc", 3, d);
  if (memcmp(d, abc, 64) != 0) return 0;
  if (!yk_verify(pk, msg, 1, sig)) return 0;
  yk_item two[2] = {{pk, sig, msg, 1, NULL, 0, NULL, NULL}, {pk, sig, msg, 1, NULL, 0, NULL, NULL}};
  uint8_t ok[2];
  if (yk_verify_batch(two, 2, ok) != 0 || !ok[0] || !ok[1]) return 0;
  sig[10] ^= 1;
  if (yk_verify(pk, msg, 1, sig)) return 0;
  if (yk_verify_batch(two, 2, ok) != 0 || ok[0] || ok[1]) return 0;
  return 1;
}

static napi_value init(napi_env env, napi_value exports) {
  if (!self_test()) {
    napi_throw_error(env, NULL, "yukuai_ed25519: self-test failed");
    return NULL;
  }
  napi_property_descriptor props[] = {
    {"verifyOne", NULL, verify_one, NULL, NULL, NULL, napi_enumerable, NULL},
    {"verifyBatch", NULL, verify_batch, NULL, NULL, NULL, napi_enumerable, NULL},
    {"verifyScans", NULL, verify_scans, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  napi_value v;
  napi_create_string_utf8(env, "yukuai-ed25519 1", NAPI_AUTO_LENGTH, &v);
  napi_set_named_property(env, exports, "version", v);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
