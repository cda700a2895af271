// Messages between the VS Code extension host and its webviews (postMessage), validated on both sides.
// Kept small on purpose; the extension adds message types here rather than declaring its own.
import { z } from "zod";
import { BlockMap, ChunkRuns } from "./blockmap.js";
import { ObjectName, Snapshot, Volume } from "./model.js";

/** Host → webview. */
export const HostToWebview = z.discriminatedUnion("type", [
  /** A full block map for the view the webview asked for. */
  z.object({
    type: z.literal("blockmap"),
    volume: z.string(),
    snapshot: z.string().optional(),
    since: z.string().optional(),
    /** Echo of the request's id: the webview drops answers to views it has since left. */
    requestId: z.number().int().optional(),
    map: BlockMap,
  }),
  /** Chunks just written in the live volume (forwarded `blockmap.delta`). */
  z.object({
    type: z.literal("delta"),
    volume: z.string(),
    chunkSize: z.number().int().positive(),
    runs: ChunkRuns,
  }),
  z.object({ type: z.literal("volume"), volume: Volume, snapshots: z.array(Snapshot) }),
  z.object({ type: z.literal("error"), message: z.string(), requestId: z.number().int().optional() }),
  /** What to show, when a command opens or reuses the panel: a snapshot, or the diff of two views. */
  z.object({
    type: z.literal("focus"),
    snapshot: z.string().optional(),
    diff: z.object({ from: z.string(), to: z.string().optional() }).optional(),
  }),
  /** The connection behind the panel went away or came back. */
  z.object({ type: z.literal("connection"), connected: z.boolean(), message: z.string().optional() }),
]);
export type HostToWebview = z.infer<typeof HostToWebview>;

/** Webview → host. */
export const WebviewToHost = z.discriminatedUnion("type", [
  z.object({ type: z.literal("ready") }),
  z.object({
    type: z.literal("request-blockmap"),
    volume: ObjectName,
    snapshot: ObjectName.optional(),
    since: ObjectName.optional(),
    buckets: z.number().int().min(1).max(65536),
    start: z.number().int().nonnegative().optional(),
    end: z.number().int().nonnegative().optional(),
    requestId: z.number().int().optional(),
  }),
  z.object({ type: z.literal("take-snapshot"), volume: ObjectName, name: ObjectName.optional() }),
]);
export type WebviewToHost = z.infer<typeof WebviewToHost>;
