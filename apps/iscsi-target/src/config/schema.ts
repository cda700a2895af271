// The daemon's config file: targets, portals, LUNs, CHAP secrets, allowed initiators. Validated
// with zod so a mistake is reported with the path of the offending field.
import { z } from "zod";

const iqn = z
  .string()
  .regex(
    /^(iqn\.\d{4}-\d{2}\.[^\s]+|eui\.[0-9A-Fa-f]{16}|naa\.[0-9A-Fa-f]{16,32})$/,
    "must be an iSCSI name (iqn., eui. or naa.)",
  );

const address = z.object({
  host: z.string().min(1),
  port: z.number().int().min(0).max(65535),
});

const chapCredentials = z.object({
  username: z.string().min(1),
  // RFC 7143 §12.1.3: at least 96 bits; 12 characters is what initiators enforce.
  secret: z.string().min(12, "CHAP secrets must be at least 12 characters").max(255),
});

const volumeLun = z.object({
  lun: z.number().int().min(0).max(16383),
  volume: z.string().min(1),
});

const target = z.object({
  iqn,
  alias: z.string().max(255).optional(),
  /** Volumes served as LUNs. A volume created in the pool without a mapping goes to the auto target. */
  luns: z.array(volumeLun).default([]),
  /** This target also serves every pool volume not mapped elsewhere (one target at most). */
  autoVolumes: z.boolean().default(false),
  chap: chapCredentials.optional(),
  mutualChap: chapCredentials.optional(),
  allowedInitiators: z.array(iqn).optional(),
  /** Serve without CHAP even on a portal beyond loopback. */
  allowNoAuth: z.boolean().default(false),
});

export const configSchema = z
  .object({
    portals: z
      .array(address)
      .min(1)
      .default([{ host: "127.0.0.1", port: 3260 }]),
    api: address.default({ host: "127.0.0.1", port: 7260 }),
    targets: z.array(target).min(1),
    discoveryChap: chapCredentials.optional(),
    /** Created when the pool holds no volume at all (first start). */
    defaultVolume: z
      .object({
        name: z.string().min(1),
        sizeBytes: z.number().int().positive(),
        blockSize: z.union([z.literal(512), z.literal(4096)]).default(512),
      })
      .optional(),
    iscsi: z
      .object({
        keepaliveIntervalMs: z.number().int().min(0).default(5000),
        keepaliveTimeoutMs: z.number().int().min(100).default(10000),
        queueDepth: z.number().int().min(1).max(4096).default(128),
        maxRecvDataSegmentLength: z.number().int().min(512).max(16777215).default(262144),
        maxBurstLength: z.number().int().min(512).max(16777215).default(1048576),
        firstBurstLength: z.number().int().min(512).max(16777215).default(262144),
        maxOutstandingR2T: z.number().int().min(1).max(65535).default(8),
      })
      .prefault({}),
  })
  .superRefine((cfg, ctx) => {
    const names = new Set<string>();
    cfg.targets.forEach((t, i) => {
      if (names.has(t.iqn))
        ctx.addIssue({ code: "custom", path: ["targets", i, "iqn"], message: `duplicate target ${t.iqn}` });
      names.add(t.iqn);
      const luns = new Set<number>();
      t.luns.forEach((l, j) => {
        if (luns.has(l.lun))
          ctx.addIssue({
            code: "custom",
            path: ["targets", i, "luns", j, "lun"],
            message: `duplicate LUN ${l.lun}`,
          });
        luns.add(l.lun);
      });
      if (t.mutualChap && !t.chap) {
        ctx.addIssue({
          code: "custom",
          path: ["targets", i, "mutualChap"],
          message: "mutualChap needs chap",
        });
      }
      const exposed = cfg.portals.some((p) => !isLoopback(p.host));
      if (exposed && !t.chap && !t.allowNoAuth) {
        ctx.addIssue({
          code: "custom",
          path: ["targets", i, "chap"],
          message: "required when a portal listens beyond loopback (or set allowNoAuth: true)",
        });
      }
    });
    if (cfg.targets.filter((t) => t.autoVolumes).length > 1) {
      ctx.addIssue({ code: "custom", path: ["targets"], message: "at most one target may set autoVolumes" });
    }
  });

export type TargetConfig = z.infer<typeof target>;
export type DaemonConfig = z.infer<typeof configSchema>;

export function isLoopback(host: string): boolean {
  return host === "localhost" || host === "::1" || /^127\./.test(host);
}
