/**
 * Errors that explain themselves, as an app outside this repo meets them: each names the
 * setting (env var) to change, arrives as soon as the cause is certain (not after the whole
 * connect timeout), and keeps the classes an app checks with `instanceof`.
 * Real redis-servers throughout (own ones, and the local runner's cluster for MOVED).
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import path from "node:path";
import Redis from "ioredis";
import {
  CommandTimeoutError,
  createClient,
  createReadyClient,
  loadConfig,
  NotReadyError,
  ReplyError,
  SyncConnectError,
  type ConnectorConfig,
  type DeepPartial,
} from "@redis-on-docker/connector";
import { findFreePorts } from "../../local/src/freePorts";
import { useLocalStack } from "../support/localStack";
import { ForwarderGroup } from "./support/forwarder";
import { OwnRedisServer } from "./support/ownRedis";
import { SLACK_MS } from "./support/bounds";
import { silentPeer } from "./support/silentPeer";

const CLI = path.resolve(__dirname, "../../connector/dist/cli.js");
const PASSWORD = "explained-Pw 1";
/** The connect timeout of these tests: long, so "fails fast" is told apart from "waits it out". */
const CONNECT_TIMEOUT_MS = 5000;
/** What "at once" means on a loaded 2-core machine. */
const FAST_MS = 1500;

function config(overrides: DeepPartial<ConnectorConfig>): ConnectorConfig {
  return loadConfig({
    env: {},
    overrides: { connectTimeoutMs: CONNECT_TIMEOUT_MS, commandTimeoutMs: 1000, reconnectMaxDelayMs: 200, ...overrides },
  });
}

async function timedFailure(action: () => Promise<unknown> | unknown): Promise<{ error: Error; elapsedMs: number }> {
  const started = Date.now();
  try {
    const result = await action();
    const client = result as { disconnect?: () => void; close?: () => void };
    void (client.close?.() ?? client.disconnect?.());
  } catch (error) {
    return { error: error as Error, elapsedMs: Date.now() - started };
  }
  throw new Error("expected a failure");
}

function runCli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string; elapsedMs: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH ?? "", ...env }, timeout: 20_000, encoding: "utf8" }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
      resolve({ code, stdout, stderr, elapsedMs: Date.now() - started });
    });
  });
}


describe("connector: errors that explain themselves", function () {
  this.timeout(60_000);
  let server: OwnRedisServer | undefined;
  const port = (): number => (server as OwnRedisServer).port;
  const standalone = (extra: DeepPartial<ConnectorConfig> = {}): ConnectorConfig =>
    config({ topology: "standalone", password: PASSWORD, standalone: { host: "127.0.0.1", port: port() }, ...extra });

  before(async function () {
    this.timeout(20_000);
    server = await OwnRedisServer.start([], PASSWORD);
  });
  after(async () => {
    await server?.stop();
  });

  async function admin<T>(use: (redis: Redis) => Promise<T>): Promise<T> {
    const redis = new Redis({ host: "127.0.0.1", port: port(), password: PASSWORD, lazyConnect: true, commandTimeout: 3000, retryStrategy: () => null });
    try {
      await redis.connect();
      return await use(redis);
    } finally {
      redis.disconnect();
    }
  }

  describe("REDIS_DB beyond the server's databases", () => {
    for (const db of [16, 99999]) {
      it(`async: REDIS_DB=${db} fails at once naming REDIS_DB, and nothing is written to db 0`, async () => {
        await admin((r) => r.flushall());
        const { error, elapsedMs } = await timedFailure(() => createReadyClient(standalone({ standalone: { host: "127.0.0.1", port: port(), db } })));
        expect(error).to.be.instanceOf(NotReadyError);
        expect(error.message).to.include("REDIS_DB").and.to.include("out of range");
        expect(elapsedMs).to.be.below(FAST_MS);

        // Without waiting for ready: the write must fail, not land in database 0.
        const client = createClient({ ...standalone({ standalone: { host: "127.0.0.1", port: port(), db } }), form: "async" as const });
        client.on("error", () => undefined);
        const write = await client.set("db-check", "x").then(() => "written", (e: Error) => e.message);
        client.disconnect();
        expect(write).not.to.equal("written");
        expect(await admin((r) => r.exists("db-check")), "key in db 0").to.equal(0);
      });
    }

    it("sync: createClient throws SyncConnectError naming REDIS_DB", async () => {
      const { error, elapsedMs } = await timedFailure(() => createClient({ ...standalone({ standalone: { host: "127.0.0.1", port: port(), db: 16 } }), form: "sync" as const }));
      expect(error).to.be.instanceOf(SyncConnectError);
      expect(error.message).to.include("REDIS_DB");
      expect(elapsedMs).to.be.below(FAST_MS + 1000);
    });

    it("redis-connector check: exit 1 naming REDIS_DB (was: ok with \"db\":16)", async () => {
      const run = await runCli(["check"], { REDIS_PORT: String(port()), REDIS_PASSWORD: PASSWORD, REDIS_DB: "16" });
      expect(run.code, run.stderr).to.equal(1);
      expect(run.stdout).to.equal("");
      expect(run.stderr).to.include("REDIS_DB");
      expect(run.stderr).not.to.include(PASSWORD);
    });

    it("control: REDIS_DB=15 works and writes to database 15", async () => {
      await admin((r) => r.flushall());
      const client = await createReadyClient({ ...standalone({ standalone: { host: "127.0.0.1", port: port(), db: 15 } }), form: "async" as const });
      try {
        await client.set("db-check", "x");
      } finally {
        client.disconnect();
      }
      expect(await admin(async (r) => [await r.exists("db-check"), await r.select(15).then(() => r.exists("db-check"))])).to.deep.equal([0, 1]);
    });
  });

  describe("authentication", () => {
    for (const topology of ["standalone", "cluster"] as const) {
      it(`async ${topology}: a wrong password fails at once, not after connectTimeoutMs`, async () => {
        const where: DeepPartial<ConnectorConfig> = topology === "standalone"
          ? { standalone: { host: "127.0.0.1", port: port() } }
          : { cluster: { nodes: [{ host: "127.0.0.1", port: port() }] } };
        const { error, elapsedMs } = await timedFailure(() => createReadyClient(config({ topology, form: "async", password: "wrong one", ...where })));
        expect(error.message).to.match(/WRONGPASS|invalid password/).and.to.include("REDIS_PASSWORD");
        expect(elapsedMs).to.be.below(FAST_MS);
      });
    }

    it("redis-connector check with a wrong password: fast, one line, the hint once", async () => {
      const run = await runCli(["check"], { REDIS_PORT: String(port()), REDIS_PASSWORD: "wrong one" });
      expect(run.code).to.equal(1);
      expect(run.elapsedMs).to.be.below(FAST_MS + 2000);
      const lines = run.stderr.trimEnd().split("\n");
      expect(lines).to.have.length(1);
      expect(lines[0].split("check REDIS_PASSWORD").length - 1, lines[0]).to.equal(1);
    });
  });

  describe("the wrong kind of server", () => {
    for (const form of ["async", "sync"] as const) {
      it(`${form}: TLS on against a plain Redis says so and names REDIS_TLS`, async () => {
        const { error } = await timedFailure(() => createReadyClient({ ...standalone({ tls: true, connectTimeoutMs: 2000 }), form }));
        expect(error.message).to.include("plain (non-TLS) Redis").and.to.include("REDIS_TLS=false");
        expect(error.message).not.to.include("no error reported");
      });

      it(`${form}: cluster seeds at a server without cluster support fail at once, naming REDIS_TOPOLOGY`, async () => {
        const { error, elapsedMs } = await timedFailure(() =>
          createReadyClient({ ...config({ topology: "cluster", password: PASSWORD, cluster: { nodes: [{ host: "127.0.0.1", port: port() }] } }), form }),
        );
        expect(error.message).to.include("cluster support disabled").and.to.include("REDIS_TOPOLOGY");
        expect(elapsedMs).to.be.below(FAST_MS + (form === "sync" ? 1000 : 0));
      });
    }

    it("check against a peer that accepts but never answers: prints at its bound and exits right after (was: ~4 s later)", async () => {
      const peer = await silentPeer();
      try {
        const run = await runCli(["check"], { REDIS_PORT: String(peer.port), REDIS_CONNECT_TIMEOUT_MS: "2000" });
        expect(run.code).to.equal(1);
        expect(run.stderr).to.include("does not answer like a Redis server");
        // 2000 ms bound + node start-up + under 1 s to exit, on a loaded 2-core machine.
        expect(run.elapsedMs, "exit delay after the error").to.be.below(2000 + 1800);
      } finally {
        await peer.close();
      }
    });

    it("async: a peer that accepts but never answers is called not Redis (was: no error reported)", async () => {
      const peer = await silentPeer();
      try {
        const { error } = await timedFailure(() =>
          createReadyClient(config({ topology: "standalone", form: "async", connectTimeoutMs: 2000, standalone: { host: "127.0.0.1", port: peer.port } })),
        );
        expect(error.message).to.include(`127.0.0.1:${peer.port} accepts connections but does not answer like a Redis server`);
      } finally {
        await peer.close();
      }
    });

    it("async cluster with nothing listening names the seed addresses", async () => {
      const ports = await findFreePorts(2, { withBusPort: false });
      const nodes = ports.map((p) => ({ host: "127.0.0.1", port: p }));
      const { error } = await timedFailure(() => createReadyClient(config({ topology: "cluster", form: "async", connectTimeoutMs: 1500, cluster: { nodes } })));
      for (const p of ports) expect(error.message).to.include(`127.0.0.1:${p}`);
      expect(error.message).to.include("ECONNREFUSED");
    });
  });

  describe("classes an app checks with instanceof", () => {
    it("ReplyError is exported, and both forms' Redis errors are instances of it", async () => {
      expect(ReplyError, "export").to.be.a("function");
      const asyncClient = await createReadyClient({ ...standalone(), form: "async" as const });
      try {
        const error = await asyncClient.call("NO-SUCH-COMMAND").then(() => undefined, (e: unknown) => e);
        expect(error).to.be.instanceOf(ReplyError);
      } finally {
        asyncClient.disconnect();
      }
      const syncClient = createClient({ ...standalone(), form: "sync" as const });
      try {
        expect(() => syncClient.call("NO-SUCH-COMMAND")).to.throw(ReplyError);
      } finally {
        syncClient.close();
      }
    });

    describe("command timeouts (the server stopped with SIGSTOP)", () => {
      it("async: a CommandTimeoutError naming the command (was: plain Error \"Command timed out\")", async () => {
        const client = await createReadyClient({ ...standalone({ commandTimeoutMs: 500 }), form: "async" as const });
        server?.signal("SIGSTOP");
        try {
          const started = Date.now();
          const error = await client.call("GET", "timeout:key").then(() => undefined, (e: unknown) => e);
          expect(Date.now() - started).to.be.below(500 + SLACK_MS);
          expect(error).to.be.instanceOf(CommandTimeoutError);
          expect((error as Error).name).to.equal("CommandTimeoutError");
          expect((error as Error).message).to.include("GET got no reply within 500 ms");
        } finally {
          server?.signal("SIGCONT");
          client.disconnect();
        }
      });

      it("sync: call(\"GET\", ...) times out as GET, not CALL, with the caller's stack frames", () => {
        const client = createClient({ ...standalone({ commandTimeoutMs: 500 }), form: "sync" as const });
        server?.signal("SIGSTOP");
        let error: unknown;
        try {
          client.call("GET", "timeout:key");
        } catch (e) {
          error = e;
        } finally {
          server?.signal("SIGCONT");
          client.close();
        }
        expect(error).to.be.instanceOf(CommandTimeoutError);
        expect((error as Error).message).to.include("GET got no reply").and.not.to.include("CALL");
        expect((error as Error).stack, "stack holds this test's frame").to.include("explainedErrors.test.ts");
      });

      it("sync: a Redis error thrown by the facade carries the caller's stack frames", () => {
        const client = createClient({ ...standalone(), form: "sync" as const });
        let error: unknown;
        try {
          client.call("NO-SUCH-COMMAND");
        } catch (e) {
          error = e;
        } finally {
          client.close();
        }
        expect(error).to.be.instanceOf(ReplyError);
        expect((error as Error).stack).to.include("explainedErrors.test.ts");
      });
    });
  });

  it("no CLIENT SETINFO is sent (Redis < 7.2 answers it with an error on every connection), async and sync", async () => {
    // What the clients send, read on the wire through a forwarder (in its own process: the sync
    // client blocks this thread). MONITOR cannot tell: a server that refuses a command never shows it.
    const forwarder = await ForwarderGroup.start([port()]);
    try {
      const through = { standalone: { host: "127.0.0.1", port: forwarder.ports[0] } };
      const asyncClient = await createReadyClient({ ...standalone(through), form: "async" as const });
      await asyncClient.ping();
      asyncClient.disconnect();
      const syncClient = createClient({ ...standalone(through), form: "sync" as const });
      syncClient.ping();
      syncClient.close();
      const stats = await forwarder.stats();
      expect(stats.accepted[0], "connections of both clients").to.be.at.least(2);
      const sent = stats.clientBytes[0].toUpperCase();
      expect(sent.split("PING").length - 1, "both PINGs on the wire").to.be.at.least(2);
      expect(sent).not.to.include("SETINFO");
    } finally {
      await forwarder.stop();
    }
  });

  describe("standalone topology pointed at a cluster node", () => {
    const stack = useLocalStack();
    it("with REDIS_DB=1: the refused SELECT names REDIS_TOPOLOGY, not the databases setting", async () => {
      const seed = stack().outputs.cluster.seeds[0];
      const { error, elapsedMs } = await timedFailure(() =>
        createReadyClient({
          ...loadConfig({ env: {}, outputs: stack().outputs, overrides: { topology: "standalone", standalone: { host: seed.host, port: seed.port, db: 1 } } }),
          form: "async" as const,
        }),
      );
      expect(error.message).to.include("REDIS_TOPOLOGY=cluster").and.not.to.include("`databases`");
      expect(elapsedMs).to.be.below(FAST_MS);
    });

    for (const form of ["async", "sync"] as const) {
      it(`${form}: a seed list mixing the standalone server and a cluster node fails every time, naming the standalone one`, async () => {
        const { standalone, cluster } = stack().outputs;
        const odd = `${standalone.host}:${standalone.port}`;
        const orders = [[standalone, cluster.seeds[0]], [cluster.seeds[0], standalone], [cluster.seeds[1], standalone, cluster.seeds[2]]];
        const runs = form === "async" ? 10 : 4;
        for (let run = 0; run < runs; run++) {
          const nodes = orders[run % orders.length].map((e) => ({ host: e.host, port: e.port }));
          const { error, elapsedMs } = await timedFailure(() =>
            createReadyClient({ ...loadConfig({ env: {}, outputs: stack().outputs, overrides: { topology: "cluster", cluster: { nodes } } }), form }),
          );
          expect(error.message, `run ${run}`).to.include(`seed node(s) ${odd} of REDIS_CLUSTER_NODES have cluster support disabled`);
          expect(error.message).not.to.include(`${cluster.seeds[0].host}:${cluster.seeds[0].port} of`);
          expect(elapsedMs).to.be.below(FAST_MS + (form === "sync" ? 1000 : 0));
        }
      });
    }

    for (const form of ["async", "sync"] as const) {
      it(`${form}: MOVED carries a hint about REDIS_TOPOLOGY`, async () => {
        const seed = stack().outputs.cluster.seeds[0];
        const client = await createReadyClient({
          ...loadConfig({ env: {}, outputs: stack().outputs, overrides: { topology: "standalone", standalone: { host: seed.host, port: seed.port } } }),
          form,
        });
        const errors: Error[] = [];
        try {
          // Keys spread over the slots: some belong to other masters.
          for (let i = 0; i < 20; i++) {
            try {
              await (client as unknown as { set(k: string, v: string): unknown }).set(`moved:${i}`, "x");
            } catch (e) {
              errors.push(e as Error);
            }
          }
        } finally {
          if ("close" in client) client.close();
          else client.disconnect();
        }
        expect(errors.length, "some keys were elsewhere").to.be.greaterThan(0);
        for (const error of errors) {
          expect(error).to.be.instanceOf(ReplyError);
          expect(error.message).to.match(/^MOVED \d+ \S+:\d+ /).and.to.include("REDIS_TOPOLOGY=cluster");
        }
      });
    }
  });
});
