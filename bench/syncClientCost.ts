/** Runs syncClientProbe.ts in a fresh child process and returns what it measured. */
import { fork, type ChildProcess } from "node:child_process";
import path from "node:path";
import type { StackOutputs, Topology } from "@redis-on-docker/connector";
import type { ProbeRequest, ProbeResult } from "./syncClientProbe";

const live = new Set<ChildProcess>();

/** Kills probes still running (on Ctrl-C or the bench's deadline). */
export function killSyncClientProbes(): void {
  for (const child of live) child.kill("SIGKILL");
  live.clear();
}

export function probeSyncClient(outputs: StackOutputs, topology: Topology, timeoutMs: number): Promise<ProbeResult> {
  const child = fork(path.join(__dirname, "syncClientProbe.ts"), [], {
    execArgv: ["--expose-gc", "-r", "ts-node/register/transpile-only"],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  live.add(child);
  return new Promise<ProbeResult>((resolve, reject) => {
    let settled = false;
    const finish = (error: Error | undefined, result?: ProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error !== undefined) reject(error);
      else resolve(result as ProbeResult);
    };
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      finish(new Error(`sync client probe (${topology}) gave no result within ${timeoutMs} ms`));
    }, timeoutMs);
    child.once("message", (reply: { ok: true; result: ProbeResult } | { ok: false; error: string }) => {
      if (reply.ok) finish(undefined, reply.result);
      else finish(new Error(`sync client probe (${topology}) failed: ${reply.error}`));
    });
    child.once("error", (error) => finish(new Error(`sync client probe (${topology}) could not run: ${error.message}`)));
    child.once("exit", (code, signal) => {
      live.delete(child);
      finish(new Error(`sync client probe (${topology}) exited (${signal ?? `code ${code}`}) without a result`));
    });
    child.send({ outputs, topology } satisfies ProbeRequest);
  });
}
