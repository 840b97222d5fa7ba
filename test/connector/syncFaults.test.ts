/**
 * At most once, under injected faults: the sync client's fast lane must give exactly the
 * outcomes of its worker path (ioredis) — never a command run twice, never an `ok` for a
 * command whose reply was lost, WATCH kept, a dead worker's fds never touched — checked key
 * by key on the server. Each scenario runs on both paths (`fastLane: true` / `false`) and
 * compares. Faults: a TCP forwarder of our own in its own thread (pause, cut mid-reply, drop a
 * reply, drop connections), worker termination. The hung-master case is in
 * syncHungMaster.test.ts.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import Redis from "ioredis";
import {
  CommandTimeoutError,
  SyncClientClosedError,
  WatchLostError,
  createAsyncClient,
  createSyncClient,
  type SyncRedisClient,
} from "@redis-on-docker/connector";
import { terminateWorker } from "@redis-on-docker/connector/dist/testing";
import { FaultProxy } from "./support/faultProxy";
import { OwnRedisServer } from "./support/ownRedis";
import { standaloneSyncConfig } from "./support/syncConfig";

const PASSWORD = "faults-test-pw";
const PATHS = [
  { name: "fast lane", fastLane: true },
  { name: "worker path", fastLane: false },
] as const;

/** What a call gave, reduced to what both paths must agree on. */
type Outcome = "ok" | `error:${string}`;

function outcomeOf(fn: () => unknown): Outcome {
  try {
    fn();
    return "ok";
  } catch (error) {
    return `error:${(error as Error).name}`;
  }
}

function batchOutcomes(results: ReadonlyArray<[Error | null, unknown?]> | null): Outcome[] {
  return (results ?? []).map(([error]): Outcome => (error === null ? "ok" : `error:${error.name}`));
}

/** Outcome kinds and how many of each, in a stable order. */
function tally(outcomes: Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const o of outcomes) counts[o] = (counts[o] ?? 0) + 1;
  return counts;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Blocks the calling thread (as a sync app would) without running the event loop. */
function blockFor(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

describe("sync client under connection faults: the fast lane gives the worker path's outcomes, at most once", function () {
  this.timeout(60_000);
  let server: OwnRedisServer;
  let proxy: FaultProxy;
  let direct: Redis;
  const clients: SyncRedisClient[] = [];

  before(async function () {
    server = await OwnRedisServer.start([], PASSWORD);
    proxy = await FaultProxy.start({ host: "127.0.0.1", port: server.port });
    direct = new Redis({ port: server.port, host: "127.0.0.1", password: PASSWORD, lazyConnect: true });
    await direct.connect();
  });

  afterEach(async function () {
    await proxy?.resume();
    for (const c of clients.splice(0)) c.close();
  });

  after(async function () {
    direct?.disconnect();
    await proxy?.close();
    await server?.stop();
  });

  function client(fastLane: boolean, commandTimeoutMs: number): SyncRedisClient {
    const c = createSyncClient(standaloneSyncConfig(proxy.port, PASSWORD, { commandTimeoutMs }), { fastLane });
    clients.push(c);
    // After one answer the worker has lent its socket: the next call is the lane's.
    expect(c.ping()).to.equal("PONG");
    return c;
  }

  /** Waits until the list stops growing (the server has run what reached it), bounded. */
  async function settledLength(key: string): Promise<number> {
    let last = -1;
    for (let i = 0; i < 100; i++) {
      const length = await direct.llen(key);
      if (length === last) return length;
      last = length;
      await sleep(200);
    }
    throw new Error(`${key} kept growing for 20 s`);
  }

  /** Each value of `key`'s list and how often it is there. */
  async function listCounts(key: string): Promise<Map<string, number>> {
    const counts = new Map<string, number>();
    for (const value of await direct.lrange(key, 0, -1)) counts.set(value, (counts.get(value) ?? 0) + 1);
    return counts;
  }

  function expectAtMostOnce(counts: Map<string, number>, key: string): void {
    const twice = [...counts].filter(([, n]) => n > 1);
    expect(twice.length, `${key}: values run more than once, e.g. ${twice.slice(0, 3).map(([v, n]) => `${v} x${n}`).join(", ")}`).to.equal(0);
  }

  it("a pipeline cut off mid-write (peer stopped reading, deadline passes) is never sent again: every command fails as unknown, none runs twice, within the bound", async function () {
    // 20k commands of 1 KiB: more than the kernel buffers on the way hold, quick to encode.
    const N = 20_000;
    const value = "v".repeat(1024);
    const timeoutMs = 1500;
    const seen: Record<string, Record<string, number>> = {};
    for (const { name, fastLane } of PATHS) {
      const key = `partial-write:${fastLane}`;
      await direct.del(key);
      const c = client(fastLane, timeoutMs);
      await proxy.pause();
      const batch = c.pipeline();
      for (let i = 0; i < N; i++) batch.rpush(key, `${i}:${value}`);
      const started = performance.now();
      let outcomes: Outcome[];
      try {
        outcomes = batchOutcomes(batch.exec());
      } catch (error) {
        // The facade's own bound (commandTimeoutMs + 500 ms) may end the call as a whole: the
        // same answer for every command.
        expect(error, name).to.be.instanceOf(CommandTimeoutError);
        outcomes = Array.from({ length: N }, (): Outcome => "error:CommandTimeoutError");
      }
      const ms = performance.now() - started;
      await proxy.resume();
      expect(outcomes.length, name).to.equal(N);
      seen[name] = tally(outcomes);
      expect(seen[name], `${name}: nothing was answered`).to.deep.equal({ "error:CommandTimeoutError": N });
      // The caller's bound: commandTimeoutMs plus the facade's margin (500 ms), plus slack for a busy machine.
      expect(ms, `${name}: the call took ${Math.round(ms)} ms`).to.be.below(timeoutMs + 500 + 1000);
      const length = await settledLength(key);
      expectAtMostOnce(await listCounts(key), key);
      expect(length, name).to.be.at.most(N);
      // The client carries on (the lane's half-written connection is replaced).
      expect(outcomeOf(() => c.set(`${key}:after`, "x")), name).to.equal("ok");
      expect(c.get(`${key}:after`), name).to.equal("x");
    }
    expect(seen["fast lane"]).to.deep.equal(seen["worker path"]);
  });

  it("a connection dropped mid-reply: the answered part is ok, the unanswered tail fails with AbortError and runs once, on both paths", async function () {
    const N = 2000;
    const seen: Record<string, string[]> = {};
    for (const { name, fastLane } of PATHS) {
      const key = `cut-reply:${fastLane}`;
      await direct.del(key);
      const c = client(fastLane, 2000);
      // RPUSH replies are ":n\r\n" (4-7 bytes): about a third of them get through.
      await proxy.cutRepliesAfter(4000);
      const batch = c.pipeline();
      for (let i = 0; i < N; i++) batch.rpush(key, String(i));
      const results = batch.exec() ?? [];
      const outcomes = batchOutcomes(results);
      const okCount = outcomes.filter((o) => o === "ok").length;
      expect(okCount, `${name}: some replies arrived before the cut`).to.be.within(1, N - 1);
      // ioredis's rule: after a partial answer, the rest is aborted (it may have run), never re-sent.
      expect(outcomes.slice(okCount).every((o) => o === "error:AbortError"), `${name}: ${JSON.stringify(tally(outcomes))}`).to.equal(true);
      const length = await settledLength(key);
      const counts = await listCounts(key);
      expectAtMostOnce(counts, key);
      expect(length, name).to.be.at.most(N);
      // Each acknowledged command ran exactly once.
      for (let i = 0; i < okCount; i++) expect(counts.get(String(i)), `${name}: acknowledged value ${i}`).to.equal(1);
      seen[name] = [...new Set(outcomes)];
      expect(c.incr(`${key}:after`), `${name}: the client carries on`).to.equal(1);
    }
    expect(seen["fast lane"]).to.deep.equal(seen["worker path"]);
  });

  it("a reply lost with its connection (the server ran the command): AbortError, the command ran once, on both paths", async function () {
    const seen: Record<string, Outcome> = {};
    for (const { name, fastLane } of PATHS) {
      const key = `lost-reply:${fastLane}`;
      await direct.del(key);
      const c = client(fastLane, 2000);
      await proxy.dropReplyOfNextRequest();
      seen[name] = outcomeOf(() => c.incr(key));
      await sleep(300);
      expect(await direct.get(key), `${name}: INCR ran exactly once`).to.equal("1");
      expect(seen[name], name).to.equal("error:AbortError");
      expect(c.incr(key), `${name}: the next call runs once`).to.equal(2);
    }
    expect(seen["fast lane"]).to.equal(seen["worker path"]);
  });

  it("the async form (the same ioredis options) does not send a command again after its reply was lost either", async function () {
    const key = "lost-reply:async";
    await direct.del(key);
    const redis = createAsyncClient(standaloneSyncConfig(proxy.port, PASSWORD, { form: "async", commandTimeoutMs: 2000 }));
    try {
      expect(await redis.ping()).to.equal("PONG");
      await proxy.dropReplyOfNextRequest();
      const error = await redis.incr(key).then(
        () => undefined,
        (e: Error) => e,
      );
      expect(error?.name).to.equal("AbortError");
      await sleep(300);
      expect(await direct.get(key), "INCR ran exactly once").to.equal("1");
      expect(await redis.incr(key)).to.equal(2);
    } finally {
      redis.disconnect();
    }
  });

  it("a connection closed while idle (server restart, network drop): the next call reconnects and runs once, on both paths", async function () {
    for (const { name, fastLane } of PATHS) {
      const key = `idle-drop:${fastLane}`;
      await direct.del(key);
      const c = client(fastLane, 2000);
      expect(c.incr(key)).to.equal(1);
      const before = await proxy.accepted();
      await proxy.dropConnections();
      await sleep(100);
      expect(c.incr(key), name).to.equal(2);
      expect(await proxy.accepted(), `${name}: it reconnected`).to.be.greaterThan(before);
      expect(await direct.get(key)).to.equal("2");
    }
  });

  it("CLIENT KILL of an idle connection, and of one that holds WATCH: the next call runs once; EXEC is refused (WatchLostError), on both paths", async function () {
    for (const { name, fastLane } of PATHS) {
      // Straight to the server: CLIENT KILL closes the client's own connection.
      const c = createSyncClient(standaloneSyncConfig(server.port, PASSWORD, { commandTimeoutMs: 2000 }), { fastLane });
      clients.push(c);
      const key = `client-kill:${fastLane}`;
      await direct.del(key);
      expect(c.incr(key)).to.equal(1);
      expect(await direct.client("KILL", "TYPE", "normal", "SKIPME", "yes"), `${name}: killed`).to.be.at.least(1);
      await sleep(100);
      expect(c.incr(key), `${name}: after the kill`).to.equal(2);
      expect(await direct.get(key)).to.equal("2");
      const acct = `client-kill-watch:${fastLane}`;
      await direct.set(acct, "100");
      expect(c.watch(acct)).to.equal("OK");
      await direct.client("KILL", "TYPE", "normal", "SKIPME", "yes");
      await sleep(100);
      await direct.set(acct, "0");
      expect(outcomeOf(() => c.multi().set(acct, "90").exec()), name).to.equal("error:WatchLostError");
      expect(await direct.get(acct), `${name}: nothing committed`).to.equal("0");
    }
  });

  it("WATCH survives a timed-out call: a concurrent change makes EXEC return null, on both paths (no lost update)", async function () {
    for (const { name, fastLane } of PATHS) {
      const acct = `watch-timeout:${fastLane}`;
      await direct.set(acct, "100");
      const c = client(fastLane, 300);
      expect(c.watch(acct)).to.equal("OK");
      expect(c.get(acct)).to.equal("100");
      await proxy.pause();
      expect(outcomeOf(() => c.get(acct)), name).to.equal("error:CommandTimeoutError");
      await proxy.resume();
      await direct.set(acct, "0");
      await sleep(100);
      expect(c.multi().set(acct, "90").exec(), `${name}: EXEC must see the concurrent change`).to.equal(null);
      expect(await direct.get(acct), name).to.equal("0");
    }
  });

  it("WATCH lost with its connection: EXEC is not sent (WatchLostError) and the transaction does not run, on both paths", async function () {
    for (const { name, fastLane } of PATHS) {
      const acct = `watch-lost:${fastLane}`;
      await direct.set(acct, "100");
      const c = client(fastLane, 2000);
      expect(c.watch(acct)).to.equal("OK");
      await proxy.dropConnections();
      await sleep(200);
      await direct.set(acct, "0");
      let thrown: unknown;
      try {
        c.multi().set(acct, "90").exec();
      } catch (error) {
        thrown = error;
      }
      expect(thrown, name).to.be.instanceOf(WatchLostError);
      expect(await direct.get(acct), `${name}: nothing committed`).to.equal("0");
      // After the refusal the client is usable, and a new WATCH works as usual.
      expect(c.watch(acct)).to.equal("OK");
      expect(c.multi().set(acct, "90").exec()).to.deep.equal([[null, "OK"]]);
      expect(await direct.get(acct)).to.equal("90");
    }
  });

  it("a terminated worker: later calls throw SyncClientClosedError naming it; a reused fd number is never read or written", async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "sync-fd-reuse-"));
    try {
      for (const { name, fastLane } of PATHS) {
        const c = client(fastLane, 1000);
        expect(c.set("fd-reuse", "mine")).to.equal("OK");
        void terminateWorker(c);
        // No event loop turn (a sync app in a loop): the worker's exit event cannot arrive.
        blockFor(200);
        // The process opens files meanwhile: the lowest free fd numbers are the ones the worker closed.
        const files = Array.from({ length: 8 }, (_, i) => fs.openSync(path.join(dir, `${fastLane}-${i}`), "w+"));
        try {
          let thrown: unknown;
          const started = performance.now();
          try {
            c.get("fd-reuse");
          } catch (error) {
            thrown = error;
          }
          expect(thrown, name).to.be.instanceOf(SyncClientClosedError);
          expect((thrown as Error).message, name).to.match(/worker thread/);
          expect(performance.now() - started, `${name}: noticed within the bound`).to.be.below(1000 + 500);
          expect(outcomeOf(() => c.get("fd-reuse")), `${name}: and every later call`).to.equal("error:SyncClientClosedError");
          for (const fd of files) expect(fs.fstatSync(fd).size, `${name}: nothing was written to a reused fd`).to.equal(0);
        } finally {
          for (const fd of files) fs.closeSync(fd);
        }
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a worker that stopped is noticed from its exit event too (the app's event loop ran)", async function () {
    for (const { name, fastLane } of PATHS) {
      const c = client(fastLane, 1000);
      await terminateWorker(c);
      await sleep(20);
      const started = performance.now();
      expect(outcomeOf(() => c.get("x")), name).to.equal("error:SyncClientClosedError");
      expect(performance.now() - started, `${name}: at once`).to.be.below(20);
    }
  });

  it("refuses CLIENT REPLY (typed, call, batch) and subscriber commands named by a Buffer, with a clear error, on both paths", function () {
    for (const { name, fastLane } of PATHS) {
      const c = client(fastLane, 1000);
      const refusals: Array<() => unknown> = [
        () => c.client("REPLY", "OFF"),
        () => c.call("client", "reply", "skip"),
        () => c.call(Buffer.from("CLIENT") as unknown as string, "REPLY", "OFF"),
        () => c.pipeline().client("REPLY", "ON"),
        () => c.pipeline([["client", "reply", "off"]]),
        () => c.call(Buffer.from("subscribe") as unknown as string, "ch"),
        () => c.callBuffer(Buffer.from("MONITOR") as unknown as string),
      ];
      for (const refuse of refusals) {
        let thrown: unknown;
        try {
          refuse();
        } catch (error) {
          thrown = error;
        }
        expect(thrown, `${name}: ${refuse.toString()}`).to.be.instanceOf(TypeError);
        expect((thrown as Error).message, name).to.match(/does not support (CLIENT REPLY|SUBSCRIBE|MONITOR)/);
      }
      // A command name as bytes is otherwise read as text.
      expect(c.call(Buffer.from("ECHO") as unknown as string, "bytes"), name).to.equal("bytes");
      expect(c.get("never-set-key"), `${name}: replies still match requests`).to.equal(null);
    }
  });

  it("CommandTimeoutError is what both paths give a call the server never answers", async function () {
    for (const { name, fastLane } of PATHS) {
      const c = client(fastLane, 200);
      await proxy.pause();
      let thrown: unknown;
      try {
        c.get("k");
      } catch (error) {
        thrown = error;
      }
      await proxy.resume();
      expect(thrown, name).to.be.instanceOf(CommandTimeoutError);
    }
  });
});
