/**
 * @module The ratio's denominator: raw node:crypto Ed25519 verifications per second on this process's
 * core (run pinned with taskset), of a presentation-sized message (16 + 148 bytes) under a prepared key.
 * Prints {"perSecond"} as its last line.
 */
import { generateKeyPairSync, sign, verify } from "node:crypto";

const seconds = Number(process.argv[2] ?? 3);
const { privateKey, publicKey } = generateKeyPairSync("ed25519");
const message = new Uint8Array(164).fill(7);
const signature = sign(null, message, privateKey);
for (let i = 0; i < 2000; i++) verify(null, message, publicKey, signature); // warm up
let n = 0;
const start = Bun.nanoseconds();
const end = start + seconds * 1e9;
let now = start;
while (now < end) {
  for (let i = 0; i < 500; i++) if (!verify(null, message, publicKey, signature)) throw new Error("verify failed");
  n += 500;
  now = Bun.nanoseconds();
}
console.log(JSON.stringify({ perSecond: n / ((now - start) / 1e9), verifications: n, seconds: (now - start) / 1e9 }));
