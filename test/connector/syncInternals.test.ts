/**
 * Every private part of ioredis (and of Node) the connector reads, pinned: if an ioredis
 * release in the allowed range moves one, this fails here rather than in an app. Each part
 * is read through one fenced module (connector/src/client/ioredisInternals.ts,
 * connector/src/sync/laneParts.ts, connector/src/sync/errorRevival.ts) that switches its feature off
 * instead of throwing when the shape differs.
 */
import { expect } from "chai";
import Redis, { Cluster } from "ioredis";
import connectorPackage from "../../connector/package.json";
import ioredisPackage from "ioredis/package.json";
import { IOREDIS_PRIVATE_FIELDS, clusterConnection, connectionState } from "../../connector/src/client/ioredisInternals";
import { IOREDIS_ERROR_FILES } from "../../connector/src/sync/errorRevival";
import { COMMAND_METHODS, laneParts } from "../../connector/src/sync/laneParts";
import { useLocalStack } from "../support/localStack";
import { OwnRedisServer } from "./support/ownRedis";

describe("the ioredis internals the connector reads (pinned)", function () {
  this.timeout(60_000);
  const stack = useLocalStack();
  let server: OwnRedisServer;

  before(async function () {
    server = await OwnRedisServer.start();
  });
  after(async function () {
    await server?.stop();
  });

  it("the connector allows only the ioredis minor it was tested with, and that is the one installed", function () {
    expect(connectorPackage.dependencies.ioredis).to.equal("~5.11.1");
    expect(ioredisPackage.version).to.match(/^5\.11\./);
  });

  it("the fast lane's parts load: ioredis's public Command (with getSlot/getKeys/toWritable/transformReply) and redis-parser", function () {
    const parts = laneParts();
    expect(parts, "laneParts() switched the lane off").to.not.equal(null);
    expect(COMMAND_METHODS).to.deep.equal(["getSlot", "getKeys", "toWritable", "transformReply"]);
  });

  it("ioredis's error classes the sync facade rebuilds are in the files it loads them from", function () {
    for (const [name, file] of Object.entries(IOREDIS_ERROR_FILES)) {
      const loaded = require(file) as { default?: { name?: string } };
      expect(loaded.default?.name, file).to.equal(name);
    }
  });

  it(`Redis: ${IOREDIS_PRIVATE_FIELDS.Redis.join(", ")} have the shapes read (prevCommandQueue: on close, the commands written and unanswered)`, async function () {
    // Reconnecting (later than this test lasts): ioredis keeps the unanswered commands aside for it.
    const redis = new Redis({ port: server.port, host: "127.0.0.1", lazyConnect: true, retryStrategy: () => 60_000 });
    const killer = new Redis({ port: server.port, host: "127.0.0.1", lazyConnect: true });
    redis.on("error", () => undefined);
    try {
      await redis.connect();
      await killer.connect();
      const state = connectionState(redis);
      expect(state, "connectionState read nothing").to.not.equal(undefined);
      expect(state?.ready).to.equal(true);
      expect(state?.busy).to.equal(false);
      expect(state?.socket?.constructor.name).to.equal("Socket");
      const id = await redis.client("ID");
      const pending = redis.blpop("never-pushed", 0).catch((error: Error) => error);
      const seenOnClose = new Promise<unknown>((resolve) => redis.once("close", () => resolve((redis as unknown as { prevCommandQueue?: { length: number; shift(): unknown } }).prevCommandQueue)));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(connectionState(redis)?.busy, "a command in flight").to.equal(true);
      await killer.call("CLIENT", "KILL", "ID", String(id));
      const queue = (await seenOnClose) as { length: number; shift(): unknown };
      expect(queue?.length, "prevCommandQueue holds the unanswered BLPOP").to.equal(1);
      expect(typeof queue.shift).to.equal("function");
      // (BLPOP stays queued for a reconnect that disconnect() below cancels.)
      void pending;
    } finally {
      redis.disconnect();
      killer.disconnect();
    }
  });

  it(`Cluster: ${IOREDIS_PRIVATE_FIELDS.Cluster.join(", ")} (connectionPool.${IOREDIS_PRIVATE_FIELDS.ConnectionPool.join(", ")} gives each master's connection)`, async function () {
    const outputs = stack().outputs;
    const cluster = new Cluster(outputs.cluster.seeds.map((s) => ({ host: s.host, port: s.port })), {
      redisOptions: { password: outputs.password },
    });
    try {
      await new Promise<void>((resolve, reject) => {
        cluster.once("ready", () => resolve());
        cluster.once("error", reject);
      });
      const key = cluster.slots[0]?.[0];
      expect(key).to.be.a("string");
      expect(cluster._groupsBySlot, "_groupsBySlot").to.be.an("array").with.length(16384);
      expect(cluster._groupsIds, "_groupsIds").to.be.an("object");
      const node = clusterConnection(cluster, key as string);
      expect(node).to.be.instanceOf(Redis);
      expect(connectionState(node as Redis)).to.not.equal(undefined);
    } finally {
      cluster.disconnect();
    }
  });

  it("an object without those fields is read as unknown (the feature is switched off), not as a connection", function () {
    expect(connectionState({} as Redis)).to.equal(undefined);
    expect(clusterConnection({} as Cluster, "127.0.0.1:1")).to.equal(undefined);
  });
});
