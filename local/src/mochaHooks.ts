/**
 * Mocha root hooks: `mocha --require @redis-on-docker/local/mocha` starts one local stack
 * before the first test and stops it after the last; tests read `REDIS_*` from `process.env`
 * (see `stackEnv`). `createMochaHooks(options)` is the same with runner options.
 */
import type { LocalStackOptions } from "./runner";
import { startTestRunStack, type TestRunStack } from "./testRun";

/** Bounds on the hooks (mocha's default 2 s is too short for a cluster to form). */
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

/** What mocha calls a hook's `this`, reduced to what the hooks use. */
interface HookContext {
  timeout(ms: number): unknown;
}

export interface MochaRootHooks {
  beforeAll(this: HookContext): Promise<void>;
  afterAll(this: HookContext): Promise<void>;
}

export function createMochaHooks(options: LocalStackOptions = {}): MochaRootHooks {
  let run: TestRunStack | undefined;
  return {
    async beforeAll(this: HookContext): Promise<void> {
      this.timeout(START_TIMEOUT_MS);
      run = await startTestRunStack(options);
    },
    async afterAll(this: HookContext): Promise<void> {
      this.timeout(STOP_TIMEOUT_MS);
      const current = run;
      run = undefined;
      await current?.stop();
    },
  };
}

export const mochaHooks: MochaRootHooks = createMochaHooks();
