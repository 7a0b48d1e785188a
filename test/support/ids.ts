/**
 * Identity numbers for tests: GB 11643 resident IDs and GB 32100 unified social credit codes with their
 * check characters, and the fixed subjects tests issue to.
 */

/** GB 11643: 17 digits + check digit. */
export function residentId(body17: string): string {
  const w = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
  let s = 0;
  for (let i = 0; i < 17; i++) s += Number(body17[i]) * w[i]!;
  return body17 + "10X98765432"[s % 11];
}

/** GB 32100: 17 characters + check character. */
export function uscc(body17: string): string {
  const cs = "0123456789ABCDEFGHJKLMNPQRTUWXY";
  const w = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
  let s = 0;
  for (let i = 0; i < 17; i++) s += cs.indexOf(body17[i]!) * w[i]!;
  return body17 + cs[(31 - (s % 31)) % 31];
}

export const PERSON_ID = residentId("11010519491231002");
export const PERSON_ID_2 = residentId("50010319900101123");
export const COMPANY_ID = uscc("91500000MA5U00000");
