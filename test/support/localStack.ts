/**
 * Mocha fixture for the local runner: one stack shared by a `describe` block, started in
 * `before` and always stopped in `after` (also when tests fail; the runner's exit hooks
 * cover Ctrl-C). Set LOCAL_STACK_LOG=1 to see the runner's progress lines.
 */
import { execFile } from "node:child_process";
import { startLocalStack, type LocalStack, type LocalStackOptions } from "@redis-on-docker/local";

export type { LocalStack, LocalStackOptions } from "@redis-on-docker/local";

/** Bound on starting the stack in `before` (a 6-node cluster takes ~2.5 s on a quiet machine). */
const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;

/**
 * Registers before/after hooks for a local stack in the enclosing `describe` and returns
 * an accessor for it. Call the accessor inside tests or later hooks, not at definition time.
 */
export function useLocalStack(options: LocalStackOptions = {}): () => LocalStack {
  let stack: LocalStack | undefined;
  before(async function () {
    this.timeout(START_TIMEOUT_MS);
    const log = process.env.LOCAL_STACK_LOG ? (line: string): void => console.error(`    [local-stack] ${line}`) : undefined;
    stack = await startLocalStack({ log, ...options });
  });
  after(async function () {
    this.timeout(STOP_TIMEOUT_MS);
    const current = stack;
    stack = undefined;
    await current?.stop();
  });
  return () => {
    if (!stack) throw new Error("the local stack is not running: use the accessor inside tests or hooks");
    return stack;
  };
}

export interface RedisCliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the real `redis-cli` against 127.0.0.1:`port` (bounded). The password goes through
 * REDISCLI_AUTH, never argv; pass `cluster: true` for `-c` (follow MOVED/ASK).
 */
export function redisCli(
  port: number,
  args: string[],
  options: { password?: string; cluster?: boolean; timeoutMs?: number } = {},
): Promise<RedisCliResult> {
  const env: NodeJS.ProcessEnv = { PATH: process.env.PATH };
  if (options.password) env.REDISCLI_AUTH = options.password;
  const cliArgs = ["-h", "127.0.0.1", "-p", String(port), ...(options.cluster ? ["-c"] : []), ...args];
  return new Promise((resolve) => {
    execFile("redis-cli", cliArgs, { env, timeout: options.timeoutMs ?? 10_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : null) : 0;
      resolve({ code, stdout: stdout.toString(), stderr: stderr.toString() });
    });
  });
}
