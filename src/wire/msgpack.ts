/**
 * @module msgpack as gateways send it (spec §4): plain maps and arrays (no records extension),
 * `bin` ↔ Uint8Array.
 */
import { Packr } from "msgpackr";

export const packr = new Packr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });
