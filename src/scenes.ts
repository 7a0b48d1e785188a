/**
 * @module The scene catalogue (spec §5): every scene of the seeds' 20-task list (seeds/000, annex),
 * the licence types it may need (the "V-model data needs list") and the issuers it accepts.
 */
import { readFileSync } from "node:fs";

/** §5 licence types, by consent bit. */
export const LICENCE_TYPES = [
  "identity-card", "driver-licence", "vehicle-licence", "marriage-certificate",
  "business-licence", "medical-insurance", "social-security-card", "student-card",
] as const;
export type LicenceType = (typeof LICENCE_TYPES)[number];

export function licenceBit(t: LicenceType): number {
  return 1 << LICENCE_TYPES.indexOf(t);
}

export function isLicenceType(s: string): s is LicenceType {
  return (LICENCE_TYPES as readonly string[]).includes(s);
}

export interface SceneDef {
  id: string;
  /** Name in the seeds' words. */
  name: string;
  /** Seed tasks (annex of seeds/000, 序号) the scene serves. */
  tasks: number[];
  needs: LicenceType[];
  /** Transit scenes accept Chongqing and Sichuan codes (川渝通乘). */
  transit: boolean;
}

export interface Scene extends SceneDef {
  /** Bitmask of `needs` over the §5 consent bits. */
  needMask: number;
  accepts: ReadonlySet<number>;
}

const ALL_BUT_STUDENT = LICENCE_TYPES.filter((t) => t !== "student-card");

export const SCENE_DEFS: readonly SceneDef[] = [
  { id: "metro", name: "轨道交通扫码乘车", tasks: [4], needs: [], transit: true },
  { id: "bus", name: "公交客运扫码乘车", tasks: [4], needs: [], transit: true },
  { id: "internet-cafe", name: "网吧扫码登记上网", tasks: [1], needs: ["identity-card"], transit: false },
  { id: "hotel", name: "扫码住店", tasks: [2], needs: ["identity-card"], transit: false },
  { id: "venue", name: "文化场馆服务", tasks: [3], needs: [], transit: false },
  { id: "scenic", name: "旅游景点入园", tasks: [10], needs: [], transit: false },
  { id: "park-gate", name: "园区扫码通行", tasks: [8], needs: [], transit: false },
  { id: "community-gate", name: "社区门禁通行", tasks: [12], needs: [], transit: false },
  { id: "utilities", name: "水电气查询缴费", tasks: [17], needs: [], transit: false },
  { id: "payments", name: "金融支付服务", tasks: [5], needs: [], transit: false },
  { id: "bank", name: "银行展码与扫码应用", tasks: [6], needs: ["identity-card"], transit: false },
  { id: "housing-fund", name: "公积金业务", tasks: [7], needs: ["identity-card"], transit: false },
  { id: "tax", name: "税费缴纳", tasks: [19], needs: ["identity-card"], transit: false },
  { id: "nontax-payment", name: "非税扫码缴纳", tasks: [13], needs: ["identity-card"], transit: false },
  { id: "pharmacy", name: "医保购药", tasks: [9], needs: ["medical-insurance"], transit: false },
  { id: "hospital", name: "就医住院服务", tasks: [20], needs: ["identity-card", "medical-insurance"], transit: false },
  { id: "campus", name: "教育身份管理", tasks: [15], needs: ["student-card"], transit: false },
  { id: "traffic-fine", name: "交通罚款缴纳", tasks: [18], needs: ["driver-licence", "vehicle-licence"], transit: false },
  { id: "subsidy", name: "财政奖补资金发放、惠民惠农政策", tasks: [11, 14], needs: ["identity-card", "business-licence"], transit: false },
  { id: "gov-hall", name: "政务服务大厅扫码办事", tasks: [16], needs: ALL_BUT_STUDENT, transit: false },
];

export const CHONGQING = 500000;
export const SICHUAN = 510000;

export type SceneCatalogue = ReadonlyMap<string, Scene>;

/**
 * Build the catalogue for a node issuing for `ownIssuer`. `overrides` maps scene id → accepted issuers
 * (from `YUKUAI_SCENES_FILE`: `{"hotel": {"issuers": [500000, 510000]}}`).
 */
export function buildCatalogue(ownIssuer: number, overrides: Record<string, { issuers: number[] }> = {}): SceneCatalogue {
  const out = new Map<string, Scene>();
  for (const id of Object.keys(overrides)) {
    if (!SCENE_DEFS.some((d) => d.id === id)) throw new Error(`scenes file names an unknown scene ${JSON.stringify(id)}`);
    const issuers = overrides[id]?.issuers;
    if (!Array.isArray(issuers) || !issuers.every((i) => Number.isInteger(i) && i >= 100000 && i <= 999999)) {
      throw new Error(`scenes file: ${id}.issuers must be a list of 6-digit division codes`);
    }
  }
  for (const d of SCENE_DEFS) {
    const accepts = overrides[d.id]?.issuers ?? (d.transit ? [CHONGQING, SICHUAN] : [ownIssuer]);
    out.set(d.id, {
      ...d,
      needMask: d.needs.reduce((m, t) => m | licenceBit(t), 0),
      accepts: new Set(accepts),
    });
  }
  return out;
}

export function loadCatalogue(ownIssuer: number, file: string | null): SceneCatalogue {
  if (!file) return buildCatalogue(ownIssuer);
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`YUKUAI_SCENES_FILE ${file}: ${(e as Error).message}`);
  }
  return buildCatalogue(ownIssuer, parsed as Record<string, { issuers: number[] }>);
}
