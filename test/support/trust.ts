/**
 * Trust for tests (DESIGN.md §7): a trust-list authority and foreign issuers whose keys are made fresh in
 * each test process — no private key is committed, and nothing made here is trusted outside the tests
 * that load the list — and holders of credentials those issuers (or any seed) sign.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { privateKeyFromSeed, rawPublicKey } from "../../src/crypto/ed25519.ts";
import { Holder, newDeviceKey } from "../../src/holder/holder.ts";
import { authorityPublicKey, signTrustList, type TrustList, type TrustListIssuer } from "../../src/trust/list.ts";
import { signCredential } from "../../src/wire/code.ts";

export const b64u = (b: Uint8Array) => Buffer.from(b).toString("base64url");

/** The test authority: its seed signs lists, its public key is the anchor. */
export const AUTHORITY_SEED = new Uint8Array(randomBytes(32));
export const ANCHOR = b64u(authorityPublicKey(AUTHORITY_SEED));

/** The test Sichuan issuer (510000, kid 1): its credentials verify only on nodes given `sichuanList`. */
export const SICHUAN_SEED = new Uint8Array(randomBytes(32));
export const SICHUAN_PUBLIC = b64u(rawPublicKey(privateKeyFromSeed(SICHUAN_SEED)));

export function sichuanEntry(opts: { notBefore?: number; notAfter?: number; status?: "active" | "revoked" } = {}): TrustListIssuer {
  return {
    issuer: 510000, name: "四川省 Sichuan (test)",
    keys: [{ kid: 1, publicKey: SICHUAN_PUBLIC, notBefore: opts.notBefore ?? 0, notAfter: opts.notAfter ?? 0xffffffff, status: opts.status ?? "active" }],
  };
}

/** A signed list in a file of a new temp dir; returns the env that makes a node take it. */
export async function trustListEnv(list: TrustList, seed: Uint8Array = AUTHORITY_SEED): Promise<{ env: Record<string, string>; path: string }> {
  const path = join(mkdtempSync(join(tmpdir(), "yukuai-trust-")), "list.jws");
  writeFileSync(path, await signTrustList(list, seed));
  return { path, env: { YUKUAI_TRUST_LIST: path, YUKUAI_TRUST_ANCHORS: ANCHOR } };
}

/** Env for a node that trusts the test Sichuan issuer, by a list valid for a week from `now`. */
export async function sichuanTrust(now: number): Promise<Record<string, string>> {
  return (await trustListEnv({ version: 1, issuedAt: now - 60, nextUpdate: now + 7 * 86400, issuers: [sichuanEntry()] })).env;
}

/** A holder with a credential made and signed here, by any issuer seed (e.g. Sichuan, or an unknown issuer). */
export function foreignHolder(opts: { seed: Uint8Array; issuer: number; kid?: number; kind?: number; notBefore: number; notAfter: number; flags?: number; serial?: Uint8Array; subject?: Uint8Array }): Holder {
  const device = newDeviceKey();
  const cred = signCredential({
    kind: opts.kind ?? 1, issuer: opts.issuer, kid: opts.kid ?? 1,
    serial: opts.serial ?? new Uint8Array(createHash("sha256").update(String(Math.random())).digest().subarray(0, 8)),
    subject: opts.subject ?? new Uint8Array(16).fill(7), devicePub: device.publicKey,
    notBefore: opts.notBefore, notAfter: opts.notAfter, flags: opts.flags ?? 0,
  }, privateKeyFromSeed(opts.seed));
  return new Holder(device.privateKey, cred);
}
