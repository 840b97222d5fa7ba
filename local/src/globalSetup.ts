/**
 * A `globalSetup` for Jest and Vitest: starts one local stack for the run and sets `REDIS_*`
 * in `process.env` before the test workers start (they inherit it).
 *
 * - Vitest: `globalSetup: ["@redis-on-docker/local/global-setup"]` (the default export returns
 *   the teardown).
 * - Jest: `globalSetup: "@redis-on-docker/local/global-setup"` and
 *   `globalTeardown: "@redis-on-docker/local/global-teardown"` (Jest keeps globals between the two).
 */
import { startTestRunStack, type TestRunStack } from "./testRun";

const KEY = Symbol.for("@redis-on-docker/local:test-run");
type Holder = { [KEY]?: TestRunStack };

export default async function globalSetup(): Promise<() => Promise<void>> {
  const run = await startTestRunStack();
  (globalThis as Holder)[KEY] = run;
  return globalTeardown;
}

export async function globalTeardown(): Promise<void> {
  const holder = globalThis as Holder;
  const run = holder[KEY];
  delete holder[KEY];
  await run?.stop();
}
