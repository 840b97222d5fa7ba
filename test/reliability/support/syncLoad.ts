/**
 * Parent side of the sync workload: forks `syncLoadChild.ts`, collects its call records
 * live, and bounds every wait (start, stop, exit). The child is always ended by `dispose`.
 */
import { fork, type ChildProcess } from "node:child_process";
import { join } from "node:path";
import type { ConnectorConfig } from "@redis-on-docker/connector";
import type { ChildMessage, ParentMessage } from "./syncLoadChild";
import type { CallRecord, WorkloadSpec } from "./workload";

const CHILD_SCRIPT = join(__dirname, "syncLoadChild.ts");

export class SyncLoadProcess {
  private attempts: number | undefined;
  private received = 0;
  private fatal: string | undefined;
  private exited = false;
  private readonly exit: Promise<void>;

  private constructor(
    private readonly child: ChildProcess,
    /** May be shared with other loads (one timeline per form). */
    readonly records: CallRecord[],
  ) {
    this.exit = new Promise((resolve) => {
      child.once("exit", () => {
        this.exited = true;
        resolve();
      });
    });
    child.on("message", (message: ChildMessage) => {
      if (message.type === "record") {
        this.records.push(message.record);
        this.received++;
      }
      else if (message.type === "done") this.attempts = message.attempts;
      else if (message.type === "fatal") this.fatal = message.error;
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Forks the child and waits (at most `boundMs`) until its sync client exists. */
  static async start(config: ConnectorConfig, spec: WorkloadSpec, boundMs: number, records: CallRecord[] = []): Promise<SyncLoadProcess> {
    const child = fork(CHILD_SCRIPT, [], {
      // No secrets here: the config travels over IPC. `advanced` keeps the password that
      // the config's redacting toJSON would drop under JSON serialization.
      execArgv: ["-r", "ts-node/register/transpile-only"],
      serialization: "advanced",
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    const load = new SyncLoadProcess(child, records);
    const output: string[] = [];
    child.stdout?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => output.push(chunk.toString()));
    load.output = output;
    const ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sync load child not ready within ${boundMs} ms`)), boundMs);
      child.on("message", (message: ChildMessage) => {
        if (message.type === "ready") {
          clearTimeout(timer);
          resolve();
        } else if (message.type === "fatal") {
          clearTimeout(timer);
          reject(new Error(`sync load child failed: ${message.error}`));
        }
      });
      child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`sync load child exited (${code}) before it was ready: ${output.join("")}`));
      });
    });
    const message: ParentMessage = { type: "start", config, spec };
    child.send(message);
    try {
      await ready;
    } catch (error) {
      await load.dispose();
      throw error;
    }
    return load;
  }

  /** Everything the child printed (for failure messages and secret checks). */
  output: string[] = [];

  /**
   * Asks the child to stop after its current call, waits at most `boundMs` for its last
   * report and its exit (a blocking client whose close() does not end its worker keeps the
   * process alive: that is reported). Returns the child's attempt count.
   */
  async stop(boundMs: number): Promise<{ attempts: number; recorded: number; exitedOnItsOwn: boolean }> {
    if (!this.exited && this.child.connected) this.child.send({ type: "stop" } satisfies ParentMessage);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exit, new Promise<void>((resolve) => (timer = setTimeout(resolve, boundMs)))]);
    clearTimeout(timer);
    const exitedOnItsOwn = this.exited;
    await this.dispose();
    if (this.fatal !== undefined) throw new Error(`sync load child failed: ${this.fatal}`);
    if (this.attempts === undefined) {
      throw new Error(`sync load child did not report its end within ${boundMs} ms (a call hung?) after ${this.received} calls`);
    }
    return { attempts: this.attempts, recorded: this.received, exitedOnItsOwn };
  }

  /** Ends the child if it is still running (also for failing tests). */
  async dispose(): Promise<void> {
    if (this.exited) return;
    this.child.kill("SIGKILL");
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.exit, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
  }
}
