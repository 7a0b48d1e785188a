/**
 * @module The holder side (亮码): a device key (phone or card chip), its credential, and fresh
 * presentations, made offline. Tests and benches use this module too.
 */
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { privateKeyFromSeed, rawPublicKey, rawSeed, sign } from "../crypto/ed25519.ts";
import {
  CREDENTIAL_LENGTH, decodeCredential, encodePresentationBody, FLAG_CARD, OFF, presentationMessage, toText,
  type CredentialFields,
} from "../wire/code.ts";

export interface HolderState {
  /** Device key seed, hex. */
  seed: string;
  /** The credential, base64url (138 bytes). */
  credential: string;
  /** The last counter used. */
  counter: number;
}

export class Holder {
  readonly #key: KeyObject;
  readonly credential: Uint8Array;
  readonly fields: CredentialFields;
  /** The last counter used; every presentation takes the next one (strictly increasing, §2). */
  counter: number;

  constructor(deviceKey: KeyObject, credential: Uint8Array, counter = 0) {
    if (credential.length !== CREDENTIAL_LENGTH) throw new RangeError("a credential is 138 bytes");
    this.#key = deviceKey;
    this.credential = credential;
    this.fields = decodeCredential(credential);
    this.counter = counter;
  }

  static fromState(s: HolderState): Holder {
    return new Holder(privateKeyFromSeed(Buffer.from(s.seed, "hex")), new Uint8Array(Buffer.from(s.credential, "base64url")), s.counter);
  }

  state(): HolderState {
    return { seed: Buffer.from(rawSeed(this.#key)).toString("hex"), credential: Buffer.from(this.credential).toString("base64url"), counter: this.counter };
  }

  get isCard(): boolean {
    return (this.fields.flags & FLAG_CARD) !== 0;
  }

  /**
   * A fresh presentation: the 212-byte code. `time` is unix seconds; `consent` the §5 licence bits the holder
   * agrees to release; `counter` defaults to the next one.
   */
  present(time: number, consent = 0, counter = this.counter + 1): Uint8Array {
    if (counter > this.counter) this.counter = counter;
    const code = encodePresentationBody(this.credential, { time, counter, consent });
    code.set(sign(this.#key, presentationMessage(code)), OFF.deviceSig);
    return code;
  }

  /** The QR text (`YK1:` + Base45). */
  presentText(time: number, consent = 0, counter?: number): string {
    return toText(this.present(time, consent, counter));
  }
}

/** A new device key (the phone's or the card chip's). */
export function newDeviceKey(): { privateKey: KeyObject; publicKey: Uint8Array } {
  const { privateKey } = generateKeyPairSync("ed25519");
  return { privateKey, publicKey: rawPublicKey(privateKey) };
}
