/**
 * @module Bench code maker (bench/codes.ts): holders (device key + credential signed by the bench issuer)
 * and presentations (signed by the device key), written into shared memory.
 */
import { generateKeyPairSync, randomFillSync, type KeyObject } from "node:crypto";
import { privateKeyFromSeed, rawPublicKey, rawSeed, sign } from "../src/crypto/ed25519.ts";
import { OFF, presentationMessage, signCredential } from "../src/wire/code.ts";

declare var self: Worker;

const HOLDER_BYTES = 32 + 138;
const keys = new Map<number, KeyObject>();

self.onmessage = (e: MessageEvent) => {
  const m = e.data;
  if (m.t === "holders") {
    const bytes = m.bytes as Uint8Array;
    const issuer = privateKeyFromSeed(m.issuerSeed);
    const serial = new Uint8Array(8);
    const subject = new Uint8Array(16);
    for (let i = m.from; i < m.to; i++) {
      const { privateKey } = generateKeyPairSync("ed25519");
      randomFillSync(serial);
      randomFillSync(subject);
      const o = i * HOLDER_BYTES;
      bytes.set(rawSeed(privateKey), o);
      bytes.set(signCredential({
        kind: 1, issuer: 500000, kid: 1, serial, subject, devicePub: rawPublicKey(privateKey),
        notBefore: 1_700_000_000, notAfter: 2_000_000_000, flags: 0,
      }, issuer), o + 32);
    }
    self.postMessage({ id: m.id });
    return;
  }
  if (m.t === "present") {
    const { holders, out, from, holder, counter, time } = m as {
      holders: Uint8Array; out: Uint8Array; from: number; holder: Uint32Array; counter: Uint32Array; time: Uint32Array;
    };
    const code = new Uint8Array(212);
    const v = new DataView(code.buffer);
    for (let k = 0; k < holder.length; k++) {
      const h = holder[k]!;
      const o = h * HOLDER_BYTES;
      let key = keys.get(h);
      if (key === undefined) {
        key = privateKeyFromSeed(holders.slice(o, o + 32));
        keys.set(h, key);
      }
      code.set(holders.subarray(o + 32, o + HOLDER_BYTES), 0);
      v.setUint32(OFF.time, time[k]!);
      v.setUint32(OFF.counter, counter[k]!);
      v.setUint16(OFF.consent, 0);
      code.set(sign(key, presentationMessage(code)), OFF.deviceSig);
      out.set(code, (from + k) * 212);
    }
    self.postMessage({ id: m.id });
  }
};
