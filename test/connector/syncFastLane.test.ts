/**
 * The sync client's fast lane (connector/src/sync/README.md): calls run on the calling
 * thread over the socket the worker lent, give exactly what the worker path (ioredis) gives,
 * and stay bounded by commandTimeoutMs when the server freezes mid-session (SIGSTOP), with
 * no late reply ever taken for a later call; standalone and cluster.
 */
import { expect } from "chai";
import { ReplyError } from "ioredis";
import {
  CommandTimeoutError,
  createSyncClient,
  loadConfig,
  type ConnectorConfig,
  type DeepPartial,
  type SyncRedisClient,
} from "@redis-on-docker/connector";
import { fastLaneCalls as fastCalls } from "@redis-on-docker/connector/dist/testing";
import { clusterNodes, masterOfSlot, sleep, waitFor, withNode, type ClusterNodeInfo } from "../reliability/support/clusterProbe";
import { useLocalStack } from "../support/localStack";
import { OwnRedisServer } from "./support/ownRedis";
import { standaloneSyncConfig } from "./support/syncConfig";

const PASSWORD = "fast-lane-test-pw";
/** Slack on top of commandTimeoutMs for a loaded 2-core machine. */
const SLACK_MS = 1000;

function standaloneConfig(port: number, overrides: DeepPartial<ConnectorConfig> = {}): ConnectorConfig {
  return standaloneSyncConfig(port, PASSWORD, overrides);
}

function timed<T>(fn: () => T): { value?: T; error?: Error; ms: number } {
  const started = performance.now();
  try {
    return { value: fn(), ms: performance.now() - started };
  } catch (error) {
    return { error: error as Error, ms: performance.now() - started };
  }
}

/** What a call gave, in a form deep-equal can compare across the two paths (errors as class + message + command). */
function outcome(fn: () => unknown): unknown {
  try {
    return { value: normalise(fn()) };
  } catch (error) {
    return { thrown: normalise(error) };
  }
}

function normalise(value: unknown): unknown {
  if (value instanceof Error) {
    return { class: value.constructor.name, name: value.name, message: value.message, command: (value as { command?: unknown }).command };
  }
  if (Array.isArray(value)) return value.map(normalise);
  return value;
}

/** The same workload on a client: replies, transformations, errors, batches. */
function workload(c: SyncRedisClient): unknown[] {
  const bytes = Buffer.from([0, 255, 10, 13, 0x80, 0xc3]);
  return [
    outcome(() => c.set("s", "grüße, 世界")),
    outcome(() => c.get("s")),
    outcome(() => c.set("b", bytes)),
    outcome(() => c.getBuffer("b")),
    outcome(() => c.get("missing")),
    outcome(() => c.incrby("n", 2 ** 40)),
    outcome(() => c.hset("h", { a: "1", b: Buffer.from("two") })),
    outcome(() => c.hgetall("h")),
    outcome(() => c.hgetallBuffer("h")),
    outcome(() => c.rpush("l", "x", "y")),
    outcome(() => c.lrange("l", 0, -1)),
    outcome(() => c.call("LRANGE", "l", "0", "-1")),
    outcome(() => c.callBuffer("lrange", "l", "0", "0")),
    outcome(() => c.lpush("s", "wrong type")),
    outcome(() => c.call("NOSUCHCOMMAND", "x")),
    outcome(() => c.eval("return {1, {'a', false}, redis.call('GET', KEYS[1])}", 1, "s")),
    outcome(() => c.pipeline().set("p", "1").incr("p").lpush("p", "x").hgetall("h").getBuffer("b").exec()),
    outcome(() => c.multi().set("m", "1").incr("m").exec()),
    outcome(() => c.keys("*").sort()),
  ];
}

describe("sync client fast lane: standalone redis-server", function () {
  this.timeout(30_000);

  it("answers on the calling thread exactly as the worker path (ioredis) does, key prefix and db included", async function () {
    const server = await OwnRedisServer.start([], PASSWORD);
    const clients: SyncRedisClient[] = [];
    try {
      const results: unknown[][] = [];
      for (const [fastLane, db] of [[true, 3], [false, 4]] as const) {
        const client = createSyncClient(standaloneConfig(server.port, { keyPrefix: "pre:", standalone: { db } }), { fastLane });
        clients.push(client);
        const before = fastCalls(client);
        results.push(workload(client));
        if (fastLane) expect(fastCalls(client) - before, "calls served by the fast lane").to.be.at.least(15);
        else expect(fastCalls(client)).to.equal(0);
      }
      expect(results[0]).to.deep.equal(results[1]);
      const first = results[0] as Array<{ value?: unknown; thrown?: { class: string } }>;
      expect(first[13].thrown?.class).to.equal(ReplyError.name);
      expect(first[18].value).to.deep.equal(["pre:b", "pre:h", "pre:l", "pre:m", "pre:n", "pre:p", "pre:s"]);
      // Each client wrote to its own db, through the lent socket of a connection that ran SELECT.
      expect(clients[0].dbsize()).to.equal(clients[1].dbsize());
      clients[0].select(4);
      expect(clients[0].get("s")).to.equal("grüße, 世界");
      expect(clients[0].flushdb()).to.equal("OK");
      expect(clients[1].dbsize()).to.equal(0);
    } finally {
      for (const client of clients) client.close();
      await server.stop();
    }
  });

  for (const fastLane of [true, false]) {
    it(`with the server frozen mid-session (SIGSTOP), every call ends within its bound, and no late reply is taken for a later call (${fastLane ? "fast lane" : "worker path"})`, async function () {
      const server = await OwnRedisServer.start([], PASSWORD);
      const timeoutMs = 400;
      // The fast lane's bound is commandTimeoutMs itself; the worker path adds its margin.
      const bound = timeoutMs + (fastLane ? 0 : 500) + SLACK_MS;
      const client = createSyncClient(standaloneConfig(server.port, { commandTimeoutMs: timeoutMs }), { fastLane });
      try {
        for (let i = 0; i < 5; i++) client.set(`k${i}`, `v${i}`);
        const fastBefore = fastCalls(client);
        server.signal("SIGSTOP");
        try {
          await new Promise((resolve) => setTimeout(resolve, 200));
          for (const [what, call] of [
            ["GET", () => client.get("k0")],
            ["SET", () => client.set("k1", "during")],
            ["GET", () => client.get("k2")],
          ] as const) {
            const { error, ms } = timed(call);
            expect(error, what).to.be.instanceOf(CommandTimeoutError);
            expect(error?.message).to.match(new RegExp(`^Command timed out: ${what}`));
            expect(ms, what).to.be.within(timeoutMs - 50, bound);
          }
          const { value, ms } = timed(() => client.pipeline().get("k3").get("k4").exec());
          expect(ms).to.be.within(timeoutMs - 50, bound);
          expect(value).to.have.length(2);
          for (const [error] of value ?? []) expect(error).to.be.instanceOf(CommandTimeoutError);
          if (fastLane) expect(fastCalls(client) - fastBefore, "the timeouts came from the fast lane").to.equal(4);
        } finally {
          server.signal("SIGCONT");
        }
        // The server now answers the 5 abandoned commands first: none may be taken for these.
        const deadline = Date.now() + 10_000;
        for (;;) {
          const { value } = timed(() => client.get("k4"));
          if (value !== undefined) {
            expect(value).to.equal("v4");
            break;
          }
          if (Date.now() > deadline) throw new Error("no answer 10 s after SIGCONT");
        }
        for (let round = 0; round < 3; round++) {
          for (let i = 0; i < 5; i++) {
            const expected = i === 1 ? "during" : `v${i}`;
            expect(client.get(`k${i}`)).to.equal(expected);
            expect(client.pipeline().get(`k${i}`).echo(`e${i}`).exec()).to.deep.equal([[null, expected], [null, `e${i}`]]);
          }
        }
      } finally {
        server.signal("SIGCONT");
        client.close();
        await server.stop();
      }
    });
  }
});

describe("sync client fast lane: 6-node cluster (local runner)", function () {
  const stack = useLocalStack();
  this.timeout(30_000);

  const clusterConfig = (commandTimeoutMs: number): ConnectorConfig =>
    loadConfig({
      env: {},
      outputs: stack().outputs,
      overrides: { topology: "cluster", form: "sync", commandTimeoutMs, connectTimeoutMs: 5000 },
    });

  it("routes each slot to its master on the lent sockets, with the same replies as the worker path", function () {
    const fast = createSyncClient(clusterConfig(2000));
    const worker = createSyncClient(clusterConfig(2000), { fastLane: false });
    try {
      const keys = Array.from({ length: 60 }, (_, i) => `fl:key:${i}`);
      for (const key of keys) expect(fast.set(key, `${key}=v`)).to.equal("OK");
      // Warm: after the worker connected every master once, everything runs on the lane.
      const before = fastCalls(fast);
      for (const key of keys) expect(fast.get(key)).to.equal(`${key}=v`);
      expect(fastCalls(fast) - before).to.be.at.least(keys.length - 3);
      for (const key of keys) expect(worker.get(key)).to.equal(`${key}=v`);
      const batch = (c: SyncRedisClient): unknown =>
        normalise(c.pipeline().set("{fl}a", "1").incr("{fl}a").lpush("{fl}a", "x").get("{fl}a").exec());
      expect(batch(fast)).to.deep.equal(batch(worker));
      expect(outcome(() => fast.mget("{x}1", "{y}2"))).to.deep.equal(outcome(() => worker.mget("{x}1", "{y}2")));
      expect(fastCalls(worker)).to.equal(0);
    } finally {
      fast.close();
      worker.close();
    }
  });

  it("hands ASK and MOVED to the worker (ioredis follows them), then serves the slot's new owner on the lane", async function () {
    const outputs = stack().outputs;
    const password = outputs.password;
    const client = createSyncClient(clusterConfig(2000));
    const tag = `{fl-redirect-${Date.now()}}`;
    const [present, absent] = [`${tag}present`, `${tag}absent`];
    const seed = outputs.cluster.seeds[0];
    const slot = Number(await withNode(seed, password, (r) => r.call("CLUSTER", "KEYSLOT", present)));
    const nodes = await clusterNodes(seed, password);
    const masters = nodes.filter((n) => n.role === "master" && n.slots.length > 0);
    const from = masterOfSlot(nodes, slot) as ClusterNodeInfo;
    const to = masters.find((m) => m.id !== from.id) as ClusterNodeInfo;
    const setSlot = (node: ClusterNodeInfo, ...args: string[]): Promise<unknown> =>
      withNode({ host: "127.0.0.1", port: node.port }, password, (r) => r.call("CLUSTER", "SETSLOT", String(slot), ...args));
    try {
      expect(client.set(present, "p")).to.equal("OK");
      expect(client.get(present)).to.equal("p");
      // Migrating: the old owner answers ASK for a key it does not hold.
      await setSlot(to, "IMPORTING", from.id);
      await setSlot(from, "MIGRATING", to.id);
      let before = fastCalls(client);
      expect(client.get(present), "a key still on the old owner: served there, on the lane").to.equal("p");
      expect(fastCalls(client) - before).to.equal(1);
      before = fastCalls(client);
      expect(client.set(absent, "a"), "ASK: ioredis sends ASKING + SET to the importing node").to.equal("OK");
      expect(fastCalls(client) - before, "the ASK went to the worker").to.equal(0);
      expect(await withNode({ host: "127.0.0.1", port: to.port }, password, (r) => r.call("ASKING").then(() => r.get(absent)))).to.equal("a");
      // Moved: every master names the new owner; the old one answers MOVED.
      await withNode({ host: "127.0.0.1", port: from.port }, password, (r) => r.del(present));
      for (const master of [to, from, ...masters.filter((m) => m.id !== to.id && m.id !== from.id)]) await setSlot(master, "NODE", to.id);
      before = fastCalls(client);
      expect(client.get(absent), "MOVED: ioredis follows it").to.equal("a");
      expect(fastCalls(client) - before, "the MOVED went to the worker").to.equal(0);
      before = fastCalls(client);
      for (let i = 0; i < 5; i++) expect(client.get(absent)).to.equal("a");
      expect(client.pipeline().set(present, "p2").get(present).exec()).to.deep.equal([[null, "OK"], [null, "p2"]]);
      // The slot refresh the MOVED started may change the worker's map while its sockets are
      // lent (a replica that has not heard of the SETSLOT yet answers it): the lane then hands
      // one call back to the worker, which lends again with the new map.
      expect(fastCalls(client) - before, "after the MOVED, the new owner is served on the lane").to.be.at.least(5);
    } finally {
      client.close();
    }
  });

  it("a pipeline of reads where one key's slot is migrating (ASK) answers every key, on both paths (ioredis alone answers MOVED for the others)", async function () {
    const outputs = stack().outputs;
    const password = outputs.password;
    const seed = outputs.cluster.seeds[0];
    const nodes = await clusterNodes(seed, password);
    const masters = nodes.filter((n) => n.role === "master" && n.slots.length > 0);
    const [from, to] = masters;
    // Two keys of `from` in different slots: only the first slot will migrate.
    const keys: string[] = [];
    const slots: number[] = [];
    for (let i = 0; keys.length < 2; i++) {
      const key = `ask-pipe:${Date.now()}:${i}`;
      const slot = Number(await withNode(seed, password, (r) => r.call("CLUSTER", "KEYSLOT", key)));
      if (masterOfSlot(nodes, slot)?.id === from.id && !slots.includes(slot)) {
        keys.push(key);
        slots.push(slot);
      }
    }
    const [migrating, staying] = keys;
    const setSlot = (node: ClusterNodeInfo, ...args: string[]): Promise<unknown> =>
      withNode({ host: "127.0.0.1", port: node.port }, password, (r) => r.call("CLUSTER", "SETSLOT", String(slots[0]), ...args));
    const fast = createSyncClient(clusterConfig(2000));
    const worker = createSyncClient(clusterConfig(2000), { fastLane: false });
    try {
      expect(fast.set(staying, "here")).to.equal("OK");
      await setSlot(to, "IMPORTING", from.id);
      await setSlot(from, "MIGRATING", to.id);
      for (const [name, client] of [["fast lane", fast], ["worker path", worker]] as const) {
        const results = client.pipeline().get(migrating).get(staying).exec();
        expect(normalise(results), name).to.deep.equal([[null, null], [null, "here"]]);
      }
    } finally {
      await setSlot(from, "STABLE");
      await setSlot(to, "STABLE");
      fast.close();
      worker.close();
    }
  });

  it("with one master frozen (SIGSTOP), its calls end within commandTimeoutMs and later replies stay in step", async function () {
    const timeoutMs = 300;
    const client = createSyncClient(clusterConfig(timeoutMs));
    const seedPort = stack().outputs.cluster.seeds[0].port;
    const frozen = stack().nodes.find((n) => n.port === seedPort);
    if (frozen === undefined) throw new Error("no node on the first seed's port");
    // A key whose slot the frozen node serves (it is a master right after start).
    const slots = client.cluster("SLOTS");
    const owned = slots.find(([, , master]) => master[1] === seedPort);
    if (owned === undefined) throw new Error(`node ${seedPort} owns no slot`);
    let key = "";
    for (let i = 0; key === ""; i++) {
      const candidate = `frozen:${i}`;
      const slot = client.cluster("KEYSLOT", candidate) as number;
      if (slot >= owned[0] && slot <= owned[1]) key = candidate;
    }
    try {
      client.set(key, "before");
      expect(client.get(key)).to.equal("before");
      const fastBefore = fastCalls(client);
      process.kill(frozen.pid, "SIGSTOP");
      try {
        await new Promise((resolve) => setTimeout(resolve, 100));
        for (let i = 0; i < 2; i++) {
          const { error, ms } = timed(() => client.get(key));
          expect(error).to.be.instanceOf(CommandTimeoutError);
          expect(ms).to.be.within(timeoutMs - 50, timeoutMs + SLACK_MS);
        }
        // The first timeout on a cluster node sends that node's calls to the worker (which
        // follows a failover); only the first ran on the lane.
        expect(fastCalls(client) - fastBefore).to.equal(1);
      } finally {
        process.kill(frozen.pid, "SIGCONT");
      }
      // Within the node timeout (2 s) nothing failed over: ioredis's connection has its own late reply first.
      const deadline = Date.now() + 10_000;
      for (;;) {
        // Retried only while it times out; the first answer must be its own.
        const { value } = timed(() => client.set(key, "after"));
        if (value !== undefined) {
          expect(value).to.equal("OK");
          break;
        }
        if (Date.now() > deadline) throw new Error("no answer 10 s after SIGCONT");
      }
      for (let i = 0; i < 5; i++) {
        expect(client.get(key)).to.equal("after");
        expect(client.echo(`e${i}`)).to.equal(`e${i}`);
      }
    } finally {
      process.kill(frozen.pid, "SIGCONT");
      client.close();
    }
  });

  // Last in this block: it swaps a master and its replica.
  it("a master demoted while its socket is lent (CLUSTER FAILOVER): what ioredis sends on that connection meanwhile (READONLY) never reaches the caller", async function () {
    this.timeout(40_000);
    const outputs = stack().outputs;
    const password = outputs.password;
    const client = createSyncClient(clusterConfig(2000));
    try {
      const key = `demoted:${Date.now()}`;
      expect(client.set(key, "v")).to.equal("OK");
      const seed = outputs.cluster.seeds[0];
      const slot = Number(await withNode(seed, password, (r) => r.call("CLUSTER", "KEYSLOT", key)));
      const nodes = await clusterNodes(seed, password);
      const master = masterOfSlot(nodes, slot) as ClusterNodeInfo;
      const replica = nodes.find((n) => n.role === "replica" && n.masterId === master.id);
      if (replica === undefined) throw new Error(`no replica of ${master.port}`);
      // WAIT: the replica has the key before it takes over.
      await withNode({ host: "127.0.0.1", port: master.port }, password, (r) => r.call("WAIT", "1", "2000"));
      const before = fastCalls(client);
      expect(client.get(key)).to.equal("v");
      expect(fastCalls(client) - before, "the master's socket is lent").to.equal(1);
      await withNode({ host: "127.0.0.1", port: replica.port }, password, (r) => r.call("CLUSTER", "FAILOVER"));
      await waitFor("the replica to take over on every node", 15_000, async () => {
        for (const s of outputs.cluster.seeds) {
          const view = await clusterNodes(s, password);
          if (view.find((n) => n.id === replica.id)?.role !== "master" || view.find((n) => n.id === master.id)?.role !== "replica") return undefined;
        }
        return true;
      }, 100);
      // ioredis's periodic slot refresh (5 s) finds the demoted node and sends READONLY on its
      // connection, the one lent to the caller: that reply must not be taken for a call's.
      await sleep(6000);
      for (let i = 0; i < 5; i++) {
        expect(client.get(key), `GET #${i}`).to.equal("v");
        expect(client.set(key, "v")).to.equal("OK");
      }
      const onLane = fastCalls(client);
      expect(client.get(key)).to.equal("v");
      expect(fastCalls(client) - onLane, "the new master is served on the lane").to.equal(1);
    } finally {
      client.close();
    }
  });
});
