/**
 * Child-process entry (forked by syncClientCost.ts): the cost of one sync client in a fresh
 * process. Receives `{ outputs, topology }` over IPC, sends back a ProbeResult, exits.
 * Run with `--expose-gc` so that garbage from start-up does not blur the RSS difference.
 */
import { createClient, loadConfig, type StackOutputs, type Topology } from "@redis-on-docker/connector";
import { nowMs } from "./stats";
import { keyAt } from "./workload";

export interface ProbeRequest {
  outputs: StackOutputs;
  topology: Topology;
}

export interface ProbeResult {
  /** RSS with the connector module loaded, before the client exists. */
  rssBeforeBytes: number;
  /** RSS after creating the client and its first reply. */
  rssAfterFirstReplyBytes: number;
  /** RSS after a further 1000 calls (steady state, for the record). */
  rssAfter1000CallsBytes: number;
  /** `createClient` returning. */
  createMs: number;
  /** From calling `createClient` to the first GET's reply. */
  firstReplyMs: number;
}

function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error("syncClientProbe needs node --expose-gc");
  gc();
}

function probe(request: ProbeRequest): ProbeResult {
  const config = loadConfig({ outputs: request.outputs, env: {}, overrides: { topology: request.topology, form: "sync" } });
  collectGarbage();
  const rssBeforeBytes = process.memoryUsage.rss();
  const start = nowMs();
  const client = createClient(config);
  const createMs = nowMs() - start;
  client.get(keyAt(0));
  const firstReplyMs = nowMs() - start;
  collectGarbage();
  const rssAfterFirstReplyBytes = process.memoryUsage.rss();
  for (let i = 0; i < 1000; i++) client.get(keyAt(i));
  collectGarbage();
  const rssAfter1000CallsBytes = process.memoryUsage.rss();
  client.close();
  return { rssBeforeBytes, rssAfterFirstReplyBytes, rssAfter1000CallsBytes, createMs, firstReplyMs };
}

process.once("message", (request: ProbeRequest) => {
  let reply: { ok: true; result: ProbeResult } | { ok: false; error: string };
  try {
    reply = { ok: true, result: probe(request) };
  } catch (error) {
    reply = { ok: false, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) };
  }
  process.send?.(reply, () => process.disconnect());
});
