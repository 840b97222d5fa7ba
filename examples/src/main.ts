/**
 * Runs the four snippets in the seed's order and prints what each read back, one line per
 * mode: `<mode>: name = <value>`. Exit code 1 (with the error's one-line message) when any fails.
 */
import { asyncCluster } from "./asyncCluster";
import { asyncStandalone } from "./asyncStandalone";
import { syncCluster } from "./syncCluster";
import { syncStandalone } from "./syncStandalone";

const SNIPPETS: Array<[mode: string, run: () => string | null | Promise<string | null>]> = [
  ["sync standalone", syncStandalone],
  ["async standalone", asyncStandalone],
  ["sync cluster", syncCluster],
  ["async cluster", asyncCluster],
];

async function main(): Promise<number> {
  let failures = 0;
  for (const [mode, run] of SNIPPETS) {
    try {
      console.log(`${mode}: name = ${await run()}`);
    } catch (error) {
      failures += 1;
      console.error(`${mode}: FAILED: ${(error as Error).message.split("\n")[0]}`);
    }
  }
  return failures === 0 ? 0 : 1;
}

main().then((code) => {
  process.exitCode = code;
});
