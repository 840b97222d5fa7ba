/**
 * The sync facade over a real 6-node cluster from the local runner: keys land on all three
 * masters (checked on each master directly), hash tags keep multi-key commands in one slot,
 * and CROSSSLOT errors reach the caller with their class.
 */
import { expect } from "chai";
import Redis, { ReplyError } from "ioredis";
import { createSyncClient, loadConfig, type SyncRedisClient } from "@redis-on-docker/connector";
import { useLocalStack } from "../support/localStack";

describe("sync client: 6-node cluster (local runner)", function () {
  const stack = useLocalStack();
  let client: SyncRedisClient | undefined;
  const direct: Redis[] = [];

  const sync = (): SyncRedisClient => {
    if (client === undefined) throw new Error("client not created");
    return client;
  };

  /** A plain (non-cluster) connection: it sees MOVED instead of following it. */
  const connectDirect = (port: number): Redis => {
    const r = new Redis({
      host: "127.0.0.1",
      port,
      password: stack().outputs.password || undefined,
      commandTimeout: 3000,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
    });
    r.on("error", () => undefined);
    direct.push(r);
    return r;
  };

  before(function () {
    this.timeout(20_000);
    const config = loadConfig({
      env: {},
      outputs: stack().outputs,
      overrides: { topology: "cluster", form: "sync", commandTimeoutMs: 3000, connectTimeoutMs: 5000 },
    });
    client = createSyncClient(config);
  });

  after(() => {
    client?.close();
    for (const r of direct) r.disconnect();
  });

  it("routes keys to each of the three masters", async function () {
    this.timeout(20_000);
    const seed = stack().outputs.cluster.seeds[0];
    const probe = connectDirect(seed.port);
    // [start, end, master, ...replicas], each node as [host, port, id, ...].
    const ranges = (await probe.cluster("SLOTS")).map(([start, end, master]) => ({ start, end, masterPort: master[1] }));
    const masterPorts = [...new Set(ranges.map((r) => r.masterPort))].sort();
    expect(masterPorts).to.have.length(3);

    // One key per master, chosen by asking Redis for each candidate's slot.
    const keyFor = new Map<number, string>();
    for (let i = 0; keyFor.size < 3 && i < 1000; i++) {
      const key = `spread:${i}`;
      const slot = (await probe.cluster("KEYSLOT", key)) as number;
      const owner = ranges.find((r) => slot >= r.start && slot <= r.end);
      if (owner && !keyFor.has(owner.masterPort)) keyFor.set(owner.masterPort, key);
    }
    expect(keyFor.size).to.equal(3);

    const c = sync();
    for (const [port, key] of keyFor) {
      expect(c.set(key, `value on ${port}`)).to.equal("OK");
      expect(c.get(key)).to.equal(`value on ${port}`);
      expect(c.getBuffer(key)).to.deep.equal(Buffer.from(`value on ${port}`));
    }
    for (const [port, key] of keyFor) {
      const owner = connectDirect(port);
      expect(await owner.get(key), `${key} on master ${port}`).to.equal(`value on ${port}`);
      // Any other master answers MOVED: the facade's worker followed the slot map.
      const other = masterPorts.find((p) => p !== port) as number;
      const moved = await connectDirect(other)
        .get(key)
        .then(
          () => undefined,
          (e: Error) => e,
        );
      expect(moved?.message).to.match(/^MOVED \d+ /);
    }
  });

  it("keeps multi-key commands, pipelines and MULTI in one slot with hash tags", () => {
    const c = sync();
    expect(c.mset("{user:1}:name", "Ada", "{user:1}:role", "admin")).to.equal("OK");
    expect(c.mget("{user:1}:name", "{user:1}:role", "{user:1}:none")).to.deep.equal(["Ada", "admin", null]);
    expect(c.pipeline().incr("{user:1}:visits").incr("{user:1}:visits").get("{user:1}:visits").exec()).to.deep.equal([
      [null, 1],
      [null, 2],
      [null, "2"],
    ]);
    expect(c.multi().set("{user:1}:a", "1").get("{user:1}:a").exec()).to.deep.equal([
      [null, "OK"],
      [null, "1"],
    ]);
  });

  it("surfaces CROSSSLOT as a ReplyError, and the client carries on", () => {
    const c = sync();
    let error: unknown;
    try {
      c.mget("cross:a", "cross:b", "cross:c");
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(ReplyError);
    expect((error as Error).message).to.match(/^CROSSSLOT/);

    let batchError: unknown;
    try {
      // Ten keys over three masters' slot ranges: not all served by one node.
      const batch = c.pipeline();
      for (let i = 0; i < 10; i++) batch.set(`cross:${i}`, String(i));
      batch.exec();
    } catch (e) {
      batchError = e;
    }
    expect(batchError, "a cross-slot pipeline is refused like ioredis's").to.be.instanceOf(Error);
    expect((batchError as Error).message).to.match(/same slot|slots allocation group/i);
    expect(c.set("cross:a", "fine")).to.equal("OK");
    expect(c.get("cross:a")).to.equal("fine");
  });

  it("passes typed commands and call() straight through to the owning node", () => {
    const c = sync();
    c.del("h:{x}");
    expect(c.hset("h:{x}", { f: "v", g: "w" })).to.equal(2);
    expect(c.hgetall("h:{x}")).to.deep.equal({ f: "v", g: "w" });
    expect(c.call("HGET", "h:{x}", "g")).to.equal("w");
    expect(c.callBuffer("HGET", "h:{x}", "g")).to.deep.equal(Buffer.from("w"));
  });
});
