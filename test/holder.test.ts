/**
 * The holder side (亮码): obtaining a credential from a node, presentations, saved state, consent names.
 */
import { afterEach, expect, test } from "bun:test";
import { consentBits } from "../src/cli.ts";
import { Holder } from "../src/holder/holder.ts";
import { obtainCredential } from "../src/net/admin-client.ts";
import { decodePresentation, parseCode } from "../src/wire/code.ts";
import { PERSON_ID } from "./support/ids.ts";
import { ADMIN, makeGateway, makeNode, T0, verifyBatch, type TestNode } from "./support/node.ts";

let t: TestNode;
afterEach(() => t?.close());

test("a holder obtains a credential, shows fresh codes with increasing counters, and survives a save and load", async () => {
  t = makeNode();
  const fetchFn = ((url: string, init: RequestInit) => t.app.request(new URL(url).pathname, init)) as unknown as typeof fetch;
  const h = await obtainCredential("http://node.invalid/", ADMIN, { kind: "person", idNumber: PERSON_ID, flags: 2 }, fetchFn);
  const a = h.presentText(T0, consentBits("identity-card,student-card"));
  const b = h.presentText(T0);
  const pa = decodePresentation(parseCode(a)!), pb = decodePresentation(parseCode(b)!);
  expect([pa.counter, pb.counter, pa.consent, pb.consent]).toEqual([1, 2, 0b10000001, 0]);
  const restored = Holder.fromState(JSON.parse(JSON.stringify(h.state())));
  expect(restored.counter).toBe(2);
  const c = restored.presentText(T0);
  expect(decodePresentation(parseCode(c)!).counter).toBe(3);
  const gw = await makeGateway(t, "campus");
  const { body } = await verifyBatch(t, gw, [a, b, c]);
  expect(body.results.map((r) => r.result)).toEqual(["OK", "OK", "OK"]);
  expect(body.results[0]!.flags).toEqual(["student"]);
});

test("issuance refusals reach the holder as an error naming the code", async () => {
  t = makeNode();
  const fetchFn = ((url: string, init: RequestInit) => t.app.request(new URL(url).pathname, init)) as unknown as typeof fetch;
  await expect(obtainCredential("http://node.invalid", ADMIN, { kind: "person", idNumber: "123" }, fetchFn)).rejects.toThrow("BAD_ID_NUMBER");
  await expect(obtainCredential("http://node.invalid", "wrong", { kind: "person", idNumber: PERSON_ID }, fetchFn)).rejects.toThrow("401");
});

test("consent from licence names or a number", () => {
  expect(consentBits(undefined)).toBe(0);
  expect(consentBits("identity-card")).toBe(1);
  expect(consentBits("medical-insurance, identity-card")).toBe(0b100001);
  expect(consentBits("255")).toBe(255);
});
