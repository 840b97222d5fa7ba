/**
 * One local stack for a whole test run, as the mocha root hooks and the Jest/Vitest
 * `globalSetup` use it: start it, put its `REDIS_*` variables into `process.env` (test files and
 * worker processes started afterwards inherit them), and later stop it and put the environment
 * back. The runner's exit hooks still stop the stack if the run is killed or interrupted.
 */
import { startLocalStack, type LocalStack, type LocalStackOptions } from "./runner";
import { STACK_ENV_NAMES, stackEnv } from "./stackEnv";

export interface TestRunStack {
  readonly stack: LocalStack;
  /** Stops the stack and restores the `REDIS_*` variables as they were. Idempotent. */
  stop(): Promise<void>;
}

/** `REDIS_LOCAL_LOG=1` prints the runner's progress lines on stderr. */
function defaultLog(): ((line: string) => void) | undefined {
  return process.env.REDIS_LOCAL_LOG ? (line: string): void => void process.stderr.write(`[redis-local] ${line}\n`) : undefined;
}

export async function startTestRunStack(options: LocalStackOptions = {}): Promise<TestRunStack> {
  const stack = await startLocalStack({ log: defaultLog(), ...options });
  const saved = new Map(STACK_ENV_NAMES.map((name) => [name, process.env[name]]));
  Object.assign(process.env, stackEnv(stack));
  let stopping: Promise<void> | undefined;
  return {
    stack,
    stop(): Promise<void> {
      stopping ??= (async () => {
        for (const [name, value] of saved) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
        await stack.stop();
      })();
      return stopping;
    },
  };
}
