/**
 * The sync facade itself, against real redis-server processes this file starts (one it
 * can SIGSTOP): replies exactly as ioredis gives them, errors re-thrown synchronously with
 * their class, batches, refused subscriber mode, bounded calls, and a clean exit.
 */
import { spawn, spawnSync } from "node:child_process";
import path from "node:path";
import { expect } from "chai";
import Redis, { ReplyError } from "ioredis";
import {
  CommandTimeoutError,
  SyncClientClosedError,
  SyncConnectError,
  createAsyncClient,
  createSyncClient,
  loadConfig,
  type ConnectorConfig,
  type DeepPartial,
  type BatchReply,
  type SyncRedisClient,
} from "@redis-on-docker/connector";
import { findFreePorts } from "../../local/src/freePorts";
import { OwnRedisServer } from "./support/ownRedis";
import { standaloneSyncConfig } from "./support/syncConfig";

const PASSWORD = "sync-facade-test-pw";
/** Slack on top of the facade's own bound, for a loaded 2-core machine. */
const SLACK_MS = 1500;
const MARGIN_MS = 500; // SYNC_TIMEOUT_MARGIN_MS

function standaloneConfig(port: number, overrides: DeepPartial<ConnectorConfig> = {}): ConnectorConfig {
  return standaloneSyncConfig(port, PASSWORD, overrides);
}

/** Runs `fn`, returns what it threw and how long it took; fails the test if it returned. */
function thrownBy(fn: () => unknown): { error: Error; ms: number } {
  const started = performance.now();
  try {
    fn();
  } catch (error) {
    return { error: error as Error, ms: performance.now() - started };
  }
  throw new Error("expected the call to throw");
}

describe("sync client: standalone redis-server", function () {
  let server: OwnRedisServer | undefined;
  let client: SyncRedisClient | undefined;
  let reference: Redis | undefined;

  const sync = (): SyncRedisClient => {
    if (client === undefined) throw new Error("client not created");
    return client;
  };
  const ref = (): Redis => {
    if (reference === undefined) throw new Error("reference client not created");
    return reference;
  };

  before(async function () {
    this.timeout(30_000);
    server = await OwnRedisServer.start([], PASSWORD);
    const config = standaloneConfig(server.port);
    client = createSyncClient(config);
    // ioredis itself, built the same way: what the sync client must mirror.
    reference = createAsyncClient({ ...config, form: "async", topology: "standalone" });
  });

  after(async function () {
    this.timeout(15_000);
    client?.close();
    reference?.disconnect();
    await server?.stop();
  });

  beforeEach(() => {
    sync().flushdb();
  });

  it("returns strings, Buffers, null and integers like ioredis", async () => {
    const c = sync();
    expect(c.set("greeting", "grüße, 世界")).to.equal("OK");
    expect(c.get("greeting")).to.equal("grüße, 世界");
    const bytes = Buffer.from([0, 255, 10, 13, 0x80, 0xc3]);
    c.set("bytes", bytes);
    const back = c.getBuffer("bytes");
    expect(Buffer.isBuffer(back)).to.equal(true);
    expect(back?.equals(bytes)).to.equal(true);
    expect(c.get("missing")).to.equal(null);
    expect(c.getBuffer("missing")).to.equal(null);
    expect(c.incr("counter")).to.equal(1);
    expect(c.incrby("counter", 2 ** 40)).to.equal(2 ** 40 + 1);
    expect(c.set("empty", "")).to.equal("OK");
    expect(c.get("empty")).to.equal("");
    expect(await ref().getBuffer("bytes")).to.deep.equal(back);
  });

  it("returns nested replies deep-equal to ioredis's", async () => {
    const c = sync();
    c.hset("h", { a: "1", b: Buffer.from("two") });
    c.rpush("list", "x", "y", "z");
    c.zadd("z", 1, "one", 2.5, "two");
    const script = "return {1, {'a', {2, 'b'}, false}, redis.call('GET', KEYS[1]), 'c'}";
    const cases: Array<[string, () => unknown, () => Promise<unknown>]> = [
      ["hgetall", () => c.hgetall("h"), () => ref().hgetall("h")],
      ["hgetallBuffer", () => c.hgetallBuffer("h"), () => ref().hgetallBuffer("h")],
      ["lrange", () => c.lrange("list", 0, -1), () => ref().lrange("list", 0, -1)],
      ["lrangeBuffer", () => c.lrangeBuffer("list", 0, -1), () => ref().lrangeBuffer("list", 0, -1)],
      ["zrange withscores", () => c.zrange("z", 0, -1, "WITHSCORES"), () => ref().zrange("z", 0, -1, "WITHSCORES")],
      ["eval nested", () => c.eval(script, 1, "missing"), () => ref().eval(script, 1, "missing")],
      ["mget", () => c.mget("list", "nope", "h"), () => ref().mget("list", "nope", "h")],
      ["mget array arg", () => c.mget(["nope", "nope2"]), () => ref().mget(["nope", "nope2"])],
      ["call", () => c.call("lrange", "list", "0", "1"), () => ref().call("lrange", "list", "0", "1")],
      ["callBuffer", () => c.callBuffer("lrange", "list", "0", "1"), () => ref().callBuffer("lrange", "list", "0", "1")],
      ["time length", () => (c.time() as unknown[]).length, async () => ((await ref().time()) as unknown[]).length],
    ];
    for (const [name, viaSync, viaAsync] of cases) {
      expect(viaSync(), name).to.deep.equal(await viaAsync());
    }
    expect((c.eval(script, 1, "missing") as unknown[])[2]).to.equal(null);
  });

  it("carries large values (beyond the shared areas) and Map arguments", () => {
    const c = sync();
    const big = "é".repeat(1_500_000); // 3 MB of UTF-8 each way
    c.set("big", big);
    expect(c.strlen("big")).to.equal(3_000_000);
    expect(c.get("big")).to.equal(big);
    const bigBytes = Buffer.alloc(2_000_000, 7);
    c.set("bigbytes", bigBytes);
    expect(c.getBuffer("bigbytes")?.equals(bigBytes)).to.equal(true);
    c.hset("fromMap", new Map([["k", "v"]]));
    expect(c.hgetall("fromMap")).to.deep.equal({ k: "v" });
  });

  it("re-throws Redis errors synchronously with their class, message and command", async () => {
    const c = sync();
    c.set("str", "v");
    const { error } = thrownBy(() => c.lpush("str", "x"));
    expect(error).to.be.instanceOf(ReplyError);
    expect(error.name).to.equal("ReplyError");
    expect(error.message).to.match(/^WRONGTYPE Operation against a key holding the wrong kind of value/);
    expect((error as Error & { command?: unknown }).command).to.deep.equal({ name: "lpush", args: ["str", "x"] });
    const asyncError = await ref().lpush("str", "x").catch((e: Error) => e);
    expect(error.message).to.equal((asyncError as Error).message);
    expect(error.constructor).to.equal((asyncError as Error).constructor);

    const unknown = thrownBy(() => c.call("nosuchcommand", "x")).error;
    expect(unknown).to.be.instanceOf(ReplyError);
    expect(unknown.message).to.match(/unknown command/i);
    // The client is still in step: the next reply is the next command's.
    expect(c.get("str")).to.equal("v");
  });

  it("runs a pipeline and a MULTI in one exec(), [err, result] per command like ioredis", async () => {
    const c = sync();
    c.set("text", "abc");
    const batch = c.pipeline().set("p", "1").get("p").incr("text").getBuffer("p");
    expect(batch.length).to.equal(4);
    const results = batch.exec();
    expect(results).to.have.length(4);
    const [set, get, incr, getBuffer] = results ?? [];
    expect(set).to.deep.equal([null, "OK"]);
    expect(get).to.deep.equal([null, "1"]);
    expect(incr?.[0]).to.be.instanceOf(ReplyError);
    expect(incr?.[0]?.message).to.match(/not an integer/);
    expect(getBuffer?.[1]).to.deep.equal(Buffer.from("1"));
    const viaAsync = await ref().pipeline().set("p", "1").get("p").incr("text").getBuffer("p").exec();
    expect(results?.map(([e, r]) => [e?.message ?? null, r])).to.deep.equal(
      viaAsync?.map(([e, r]) => [e?.message ?? null, r]),
    );

    expect(c.multi().set("m", "1").incr("m").get("m").exec()).to.deep.equal([
      [null, "OK"],
      [null, 2],
      [null, "2"],
    ]);
    expect(c.pipeline([["set", "fromList", "x"], ["get", "fromList"]]).exec()).to.deep.equal([
      [null, "OK"],
      [null, "x"],
    ]);
    expect(c.pipeline().exec()).to.deep.equal([]);
  });

  it("returns null from a MULTI that WATCH aborted, and throws EXECABORT like ioredis", async () => {
    const c = sync();
    c.set("watched", "0");
    expect(c.watch("watched")).to.equal("OK");
    await ref().set("watched", "changed elsewhere");
    expect(c.multi().set("watched", "mine").exec()).to.equal(null);
    expect(c.get("watched")).to.equal("changed elsewhere");

    const viaSync = thrownBy(() => c.multi().set("a", "1").call("set", "only-a-key").exec()).error;
    const viaAsync = await ref()
      .multi()
      .set("a", "1")
      .call("set", "only-a-key")
      .exec()
      .then(
        () => new Error("async exec did not fail"),
        (e: Error) => e,
      );
    expect(viaSync.constructor).to.equal(viaAsync.constructor);
    expect(viaSync.message).to.equal(viaAsync.message);
    expect(viaSync.message).to.match(/EXECABORT/);
    expect(c.exists("a")).to.equal(0);
  });

  it("refuses subscriber mode and callbacks with a clear error, and keeps working", () => {
    const c = sync();
    const loose = c as unknown as Record<string, (...args: unknown[]) => unknown>;
    for (const attempt of [
      () => loose.subscribe("news"),
      () => loose.psubscribe("news.*"),
      () => loose.monitor(),
      () => c.call("SUBSCRIBE", "news"),
      () => c.pipeline([["subscribe", "news"]]),
      () => (c.pipeline() as unknown as Record<string, (...args: unknown[]) => unknown>).subscribe("news"),
    ]) {
      const { error } = thrownBy(attempt);
      expect(error).to.be.instanceOf(TypeError);
      expect(error.message).to.match(/does not support (P?SUBSCRIBE|MONITOR): subscriber\/monitor mode/);
    }
    const callback = thrownBy(() => loose.get("k", () => undefined)).error;
    expect(callback.message).to.match(/get\(\) returns its reply; it takes no callback/);
    expect(c.ping()).to.equal("PONG");
  });

  it("is typed as ioredis's commands with the Promise taken off (checked by tsc)", () => {
    const c = sync();
    c.set("typed", "1");
    const text: string | null = c.get("typed");
    const bytes: Buffer | null = c.getBuffer("typed");
    const count: number = c.incr("typed");
    const hash: Record<string, string> = c.hgetall("typed-hash");
    const batch: BatchReply | null = c.pipeline().get("typed").incr("typed").exec();
    expect([text, bytes, count, hash, batch?.length]).to.deep.equal(["1", Buffer.from("1"), 2, {}, 2]);
    // Never run: lines tsc must reject.
    const mustNotTypecheck = (): void => {
      // @ts-expect-error a sync reply is not a Promise
      void c.get("typed").then;
      // @ts-expect-error subscriber mode is not part of the sync client
      c.subscribe("news");
      // @ts-expect-error EXEC belongs to a batch
      c.exec();
    };
    void mustNotTypecheck;
  });

  it("exposes every command of ioredis's command list, and its Buffer twin", () => {
    const { list } = require("@ioredis/commands") as { list: string[] };
    const methods = sync() as unknown as Record<string, unknown>;
    // EXEC belongs to a batch (`multi().….exec()`); MULTI and QUIT are the facade's own verbs.
    const facadeVerbs = new Set(["multi", "exec", "quit"]);
    expect(list.length).to.be.greaterThan(200);
    for (const name of list) {
      if (facadeVerbs.has(name)) continue;
      expect(typeof methods[name], name).to.equal("function");
      expect(typeof methods[`${name}Buffer`], `${name}Buffer`).to.equal("function");
    }
    expect(typeof methods.multi).to.equal("function");
    expect(typeof methods.quit).to.equal("function");
    expect(methods.exec).to.equal(undefined);
  });
});

describe("sync client: bounds and failures", function () {
  it("a stopped server times a call out within commandTimeoutMs + margin, and the client recovers", async function () {
    this.timeout(40_000);
    const server = await OwnRedisServer.start([], PASSWORD);
    const config = standaloneConfig(server.port, { commandTimeoutMs: 800 });
    const client = createSyncClient(config);
    try {
      client.set("k", "before");
      server.signal("SIGSTOP");
      // The stop is delivered asynchronously: give it a moment to take hold.
      await new Promise((resolve) => setTimeout(resolve, 300));
      try {
        const first = thrownBy(() => client.get("k"));
        expect(first.error).to.be.instanceOf(CommandTimeoutError);
        expect(first.error.message).to.match(/^Command timed out: GET/);
        expect(first.ms).to.be.within(700, 800 + MARGIN_MS + SLACK_MS);
        const second = thrownBy(() => client.set("k", "during"));
        expect(second.error).to.be.instanceOf(CommandTimeoutError);
        expect(second.ms).to.be.below(800 + MARGIN_MS + SLACK_MS);
        // Like ioredis: each queued command times out on its own, exec() reports it per command.
        const started = performance.now();
        const batch = client.pipeline().get("k").get("k").exec();
        expect(performance.now() - started).to.be.below(800 + MARGIN_MS + SLACK_MS);
        expect(batch).to.have.length(2);
        for (const [error] of batch ?? []) expect(error).to.be.instanceOf(CommandTimeoutError);
      } finally {
        server.signal("SIGCONT");
      }
      // Late replies (to the timed-out GET/SET) must not be taken for later ones.
      const deadline = Date.now() + 10_000;
      for (;;) {
        try {
          client.set("after", "1");
          break;
        } catch (error) {
          if (Date.now() > deadline) throw error;
        }
      }
      expect(client.set("k2", "fresh")).to.equal("OK");
      expect(client.get("k2")).to.equal("fresh");
      expect(client.incr("counter")).to.equal(1);
      expect(client.get("after")).to.equal("1");
    } finally {
      client.close();
      await server.stop();
    }
  });

  it("a server that is gone fails calls within the bound instead of hanging", async function () {
    this.timeout(40_000);
    const server = await OwnRedisServer.start([], PASSWORD);
    const client = createSyncClient(standaloneConfig(server.port, { commandTimeoutMs: 1000 }));
    try {
      expect(client.set("k", "v")).to.equal("OK");
      await server.stop();
      for (let i = 0; i < 2; i++) {
        const { error, ms } = thrownBy(() => client.get("k"));
        expect(error.message).to.match(/Command timed out|max retries|Connection is closed|ECONNREFUSED/i);
        expect(ms).to.be.below(1000 + MARGIN_MS + SLACK_MS);
      }
    } finally {
      client.close();
    }
  });

  it("fails creation with SyncConnectError on a wrong password, without echoing it", async function () {
    this.timeout(30_000);
    const server = await OwnRedisServer.start([], PASSWORD);
    try {
      const wrong = "not-the-password-4711";
      const { error, ms } = thrownBy(() => createSyncClient(standaloneConfig(server.port, { password: wrong, connectTimeoutMs: 4000 })));
      expect(error).to.be.instanceOf(SyncConnectError);
      expect(error.message).to.match(/WRONGPASS|invalid password/);
      expect(error.message).to.match(/REDIS_PASSWORD/);
      expect(error.message).not.to.contain(wrong);
      expect(error.message).not.to.contain(PASSWORD);
      expect(ms, "auth failures do not wait for the whole connect timeout").to.be.below(4000);
    } finally {
      await server.stop();
    }
  });

  it("fails creation with SyncConnectError within connectTimeoutMs when nothing listens", async function () {
    this.timeout(30_000);
    const [port] = await findFreePorts(1, { withBusPort: false });
    const { error, ms } = thrownBy(() => createSyncClient(standaloneConfig(port, { connectTimeoutMs: 1000 })));
    expect(error).to.be.instanceOf(SyncConnectError);
    expect(error.message).to.contain(`127.0.0.1:${port}`);
    expect(error.message).to.match(/within connectTimeoutMs=1000 ms: .*ECONNREFUSED/);
    expect(ms).to.be.within(900, 1000 + SLACK_MS);
  });

  it("SyncConnectError names where the address came from when it is not the default (env REDIS_PORT)", async function () {
    this.timeout(30_000);
    const [port] = await findFreePorts(1, { withBusPort: false });
    const config = loadConfig({
      env: { REDIS_PORT: String(port), REDIS_CONNECT_TIMEOUT_MS: "1000" },
      overrides: { topology: "standalone", form: "sync", password: PASSWORD },
    });
    const { error } = thrownBy(() => createSyncClient(config));
    expect(error).to.be.instanceOf(SyncConnectError);
    expect(error.message).to.contain(`127.0.0.1:${port} (port from env REDIS_PORT)`);
  });

  it("refuses a hand-made config without a positive command or connect bound", () => {
    const config = standaloneConfig(1); // never contacted: rejected before any worker starts
    for (const [key, env] of [
      ["commandTimeoutMs", "REDIS_COMMAND_TIMEOUT_MS"],
      ["connectTimeoutMs", "REDIS_CONNECT_TIMEOUT_MS"],
    ] as const) {
      const { error } = thrownBy(() => createSyncClient({ ...config, [key]: 0 }));
      expect(error).to.be.instanceOf(TypeError);
      expect(error.message).to.contain(key).and.to.contain(env);
    }
  });

  it("close() ends it: later calls throw SyncClientClosedError; close and quit are idempotent", async function () {
    this.timeout(30_000);
    const server = await OwnRedisServer.start([], PASSWORD);
    try {
      const client = createSyncClient(standaloneConfig(server.port));
      expect(client.closed).to.equal(false);
      expect(client.ping()).to.equal("PONG");
      expect(client.quit()).to.equal("OK");
      expect(client.closed).to.equal(true);
      client.close();
      client.disconnect();
      expect(thrownBy(() => client.get("k")).error).to.be.instanceOf(SyncClientClosedError);
      expect(thrownBy(() => client.pipeline().get("k").exec()).error).to.be.instanceOf(SyncClientClosedError);
    } finally {
      await server.stop();
    }
  });

  for (const fastLane of [true, false]) {
    it(`a process that moved 20 MB exits within 1 s of close() (${fastLane ? "fast lane" : "worker path"})`, async function () {
      this.timeout(40_000);
      const server = await OwnRedisServer.start([], PASSWORD);
      try {
        // The child reports how long after close() its 'exit' event came.
        const script = `
          const { createSyncClient, loadConfig } = require("@redis-on-docker/connector");
          const config = loadConfig({ env: {}, overrides: JSON.parse(process.env.SYNC_TEST_CONFIG) });
          const client = createSyncClient(config, { fastLane: process.env.SYNC_TEST_LANE === "1" });
          const value = "x".repeat(1024 * 1024);
          for (let i = 0; i < 20; i++) { client.set("big" + i, value); client.get("big" + i); }
          const closedAt = Date.now();
          client.close();
          process.on("exit", () => console.log(Date.now() - closedAt));
        `;
        const overrides = { standalone: { host: "127.0.0.1", port: server.port }, password: PASSWORD, form: "sync" };
        const child = spawnSync(process.execPath, ["-e", script], {
          cwd: path.resolve(__dirname, "../.."),
          env: { PATH: process.env.PATH, SYNC_TEST_CONFIG: JSON.stringify(overrides), SYNC_TEST_LANE: fastLane ? "1" : "0" },
          encoding: "utf8",
          timeout: 30_000,
        });
        expect(child.status, child.stderr).to.equal(0);
        // redis-parser's pool-shrinking interval kept the process 2.8 s (fast lane) before.
        expect(Number(child.stdout.trim()), "ms from close() to exit").to.be.below(1000);
      } finally {
        await server.stop();
      }
    });
  }

  for (const closes of [true, false]) {
    it(`a process using it exits by itself${closes ? " after close()" : " even without close()"}`, async function () {
      this.timeout(40_000);
      const server = await OwnRedisServer.start([], PASSWORD);
      try {
        const script = `
          const { createSyncClient, loadConfig } = require("@redis-on-docker/connector");
          const config = loadConfig({ env: {}, overrides: JSON.parse(process.env.SYNC_TEST_CONFIG) });
          const client = createSyncClient(config);
          client.set("child", "hello from the child");
          console.log(client.get("child"));
          if (process.env.SYNC_TEST_CLOSE === "1") client.close();
        `;
        const overrides = { standalone: { host: "127.0.0.1", port: server.port }, password: PASSWORD, form: "sync" };
        const child = spawn(process.execPath, ["-e", script], {
          cwd: path.resolve(__dirname, "../.."),
          env: { PATH: process.env.PATH, SYNC_TEST_CONFIG: JSON.stringify(overrides), SYNC_TEST_CLOSE: closes ? "1" : "0" },
          stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        const started = Date.now();
        const exit = await new Promise<number | string | null>((resolve) => {
          const timer = setTimeout(() => {
            child.kill("SIGKILL");
            resolve("did not exit within 20 s");
          }, 20_000);
          child.once("exit", (code) => {
            clearTimeout(timer);
            resolve(code);
          });
        });
        expect(exit, stderr).to.equal(0);
        expect(stdout.trim()).to.equal("hello from the child");
        expect(Date.now() - started).to.be.below(20_000);
      } finally {
        await server.stop();
      }
    });
  }
});
