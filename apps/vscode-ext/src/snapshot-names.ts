// Snapshot names offered and accepted by the commands: validated with the protocol's own schema, so a
// name the server would refuse is refused in the input box already.
import { ObjectName } from "@livesnap/protocol";

/** Default snapshot name: sortable and unique to the second. */
export function defaultSnapshotName(now = new Date()): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `live-${now.getFullYear()}${p(now.getMonth() + 1)}${p(now.getDate())}-${p(now.getHours())}${p(now.getMinutes())}${p(now.getSeconds())}`;
}

export function validateObjectName(text: string): string | undefined {
  const r = ObjectName.safeParse(text);
  return r.success ? undefined : (r.error.issues[0]?.message ?? "invalid name");
}
