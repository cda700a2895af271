// Entry point of the livesnap binary (daemon + CLI): `livesnap serve` runs the target, every other
// command talks to a running one. See src/cli/main.ts.
import { main } from "./cli/main.js";

process.exitCode = await main(process.argv.slice(2));
