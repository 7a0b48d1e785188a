/**
 * @module The command line's client of a running node's admin routes (spec §4): 申码 for a new holder
 * device key, and a new issuer kid (§7 rotation).
 */
import { Holder, newDeviceKey } from "../holder/holder.ts";

export interface CredentialRequest {
  kind: "person" | "enterprise";
  idNumber: string;
  validDays?: number;
  flags?: number;
}

const base = (url: string) => url.replace(/\/+$/, "");

async function refusedBy(res: Response, what: string): Promise<Error> {
  const body = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  return new Error(`${what} refused (${res.status}): ${body.error?.code ?? ""} ${body.error?.message ?? ""}`.trim());
}

/** 申码 against a running node: binds a new device key to the subject; returns the holder. */
export async function obtainCredential(nodeUrl: string, adminToken: string, req: CredentialRequest, fetchFn: typeof fetch = fetch): Promise<Holder> {
  const device = newDeviceKey();
  const res = await fetchFn(`${base(nodeUrl)}/v1/credentials`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${adminToken}` },
    body: JSON.stringify({ ...req, devicePublicKey: Buffer.from(device.publicKey).toString("base64url") }),
  });
  if (res.status !== 201) throw await refusedBy(res, "issuance");
  const body = (await res.json()) as { credential: string };
  return new Holder(device.privateKey, new Uint8Array(Buffer.from(body.credential, "base64url")));
}

/** A new issuer kid on the running node; answers the new key as `POST /v1/issuer-keys` does. */
export async function rotateIssuerKey(nodeUrl: string, adminToken: string, fetchFn: typeof fetch = fetch): Promise<unknown> {
  const res = await fetchFn(`${base(nodeUrl)}/v1/issuer-keys`, { method: "POST", headers: { authorization: `Bearer ${adminToken}` } });
  if (res.status !== 201) throw await refusedBy(res, "key rotation");
  return res.json();
}
