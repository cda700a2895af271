import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { bearerToken, loadOrCreateToken, tokenMatches } from "../../src/management/token.js";

const logger = pino({ level: "silent" });
let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "livesnap-token-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("API token", () => {
  it("is generated once, mode 0600, and reused", async () => {
    const first = await loadOrCreateToken(join(dir, "data"), logger);
    // Prefixed, so never taken for a command-line option (a bare base64url token starts with "-"
    // one time in 64, and `--token -x…` then fails to parse).
    expect(first).toMatch(/^livesnap_[A-Za-z0-9_-]{43}$/);
    const path = join(dir, "data", "api-token");
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await readFile(path, "utf8")).trim()).toBe(first);
    expect(await loadOrCreateToken(join(dir, "data"), logger)).toBe(first);
  });

  it("restricts a token file readable by others", async () => {
    const path = join(dir, "api-token");
    await writeFile(path, "0123456789abcdef0123\n");
    await chmod(path, 0o644);
    expect(await loadOrCreateToken(dir, logger)).toBe("0123456789abcdef0123");
    expect((await stat(path)).mode & 0o777).toBe(0o600);
  });

  it("refuses an empty or short token file", async () => {
    await writeFile(join(dir, "api-token"), "short\n", { mode: 0o600 });
    await expect(loadOrCreateToken(dir, logger)).rejects.toThrow(/shorter than 16/);
  });

  it("compares tokens exactly", () => {
    expect(tokenMatches("secret-token", "secret-token")).toBe(true);
    expect(tokenMatches("secret-token", "secret-tokeN")).toBe(false);
    expect(tokenMatches("secret-token", "secret-token-longer")).toBe(false);
    expect(tokenMatches("secret-token", undefined)).toBe(false);
  });

  it("reads bearer headers", () => {
    expect(bearerToken("Bearer abc")).toBe("abc");
    expect(bearerToken("bearer   abc ")).toBe("abc");
    expect(bearerToken("Basic abc")).toBeUndefined();
    expect(bearerToken("Bearer a b")).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
  });
});
