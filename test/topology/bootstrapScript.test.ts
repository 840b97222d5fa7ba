/**
 * The cluster bootstrap script, run with `sh` (dash here) against real redis-server
 * processes on loopback: it forms the cluster, is idempotent, refuses to re-create a
 * partially formed cluster, and fails within its bound with a message naming the node.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { BOOTSTRAP_LINE_MAX, FORMATION_NODE_TIMEOUT_MS, renderBootstrapScript } from "@redis-on-docker/topology";
import { Cluster } from "ioredis";
import { CLUSTER_BUS_PORT_OFFSET, findFreePorts } from "../../local/src/freePorts";
import { LocalRedisNode, startLocalNodes, writePrivateFile } from "../../local/src/localNodes";
import { terminateProcesses, type ProcessIdentity } from "../../local/src/processControl";
import { parseInfo, probeRedis } from "../../local/src/redisProbe";
import { planTopology } from "@redis-on-docker/topology";
import { validateStackSettings } from "@redis-on-docker/topology";
import type { Endpoint } from "@redis-on-docker/connector";
import { agreedView } from "../support/clusterAgreement";
import { parseClusterNodes, type ClusterNodeInfo } from "../reliability/support/clusterProbe";
import { redisCli } from "../support/localStack";

/** The nodes' planned cluster-node-timeout in these tests. */
const NODE_TIMEOUT_MS = 2000;

interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * The shell that runs the script: `sh` (dash on Debian). Set BOOTSTRAP_TEST_SHELL="busybox sh"
 * to run the same tests under busybox, as in Alpine-based images.
 */
const SHELL = (process.env.BOOTSTRAP_TEST_SHELL ?? "sh").split(" ");

/** Runs a rendered script with SHELL, killed after `timeoutMs` (the test's own bound). */
function runScript(script: string, dir: string, timeoutMs: number): Promise<ScriptRun> {
  const file = path.join(dir, `bootstrap-${Date.now()}-${Math.random().toString(36).slice(2)}.sh`);
  writePrivateFile(file, script);
  const began = Date.now();
  return new Promise((resolve) => {
    const child = spawn(SHELL[0], [...SHELL.slice(1), file], { stdio: ["ignore", "pipe", "pipe"], env: { PATH: process.env.PATH } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, ms: Date.now() - began });
    });
  });
}

/**
 * Six fresh cluster-enabled redis-servers from the plan, plus its standalone server,
 * started and stopped by the enclosing describe.
 */
function useFreshClusterNodes(password: string, overrides: Record<string, string> = {}): {
  dir: () => string;
  seeds: () => Endpoint[];
  standalone: () => Endpoint;
  clusterNodes: () => LocalRedisNode[];
} {
  let dir = "";
  let nodes: LocalRedisNode[] = [];
  before(async function () {
    this.timeout(30_000);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-test-"));
    const settings = validateStackSettings(
      { clusterNodes: 6, replicasPerMaster: 1, nodeTimeoutMs: NODE_TIMEOUT_MS, ...(password ? { password } : { allowNoPassword: true }), ...overrides },
      "test",
    );
    const plan = planTopology(settings);
    nodes = [...plan.clusterNodes, plan.standalone].map((node) => new LocalRedisNode(node, { dir, password, detached: false }));
    await startLocalNodes(nodes, () => undefined);
  });
  after(async function () {
    this.timeout(15_000);
    await terminateProcesses(nodes.flatMap((n): ProcessIdentity[] => {
      const id = n.identity();
      return id ? [id] : [];
    }), 1500);
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    dir: () => dir,
    seeds: () => nodes.filter((n) => n.role === "cluster").map((n) => ({ host: "127.0.0.1", port: n.port })),
    standalone: () => ({ host: "127.0.0.1", port: nodes[nodes.length - 1].port }),
    clusterNodes: () => nodes.filter((n) => n.role === "cluster"),
  };
}

/**
 * useFreshClusterNodes, formed by a first bootstrap run in the enclosing describe's `before`
 * (password in a file in the nodes' dir). `script(timeoutSec)` renders the bootstrap for them.
 */
function useFormedCluster(
  password: string,
  overrides: Record<string, string> = {},
): { fresh: ReturnType<typeof useFreshClusterNodes>; script: (timeoutSec: number) => string } {
  const fresh = useFreshClusterNodes(password, overrides);
  let passwordFile = "";
  const script = (timeoutSec: number): string =>
    renderBootstrapScript({ nodes: fresh.seeds(), replicasPerMaster: 1, timeoutSec, passwordFile, nodeTimeoutMs: NODE_TIMEOUT_MS });
  before(async function () {
    this.timeout(45_000);
    passwordFile = path.join(fresh.dir(), "password");
    writePrivateFile(passwordFile, password);
    const run = await runScript(script(30), fresh.dir(), 35_000);
    expect(run.code, run.stderr + run.stdout).to.equal(0);
  });
  return { fresh, script };
}

async function clusterInfo(seed: Endpoint, password: string): Promise<Map<string, string>> {
  return parseInfo(String(await probeRedis(seed.port, ["CLUSTER", "INFO"], { password, timeoutMs: 2000 })));
}

/**
 * Each node's own line of `CLUSTER NODES` (its `myself` entry), as `id role config-epoch slots`
 * in seed order: what a re-create would change. Own lines, because another node's view of
 * the roles may still lag behind right after the create.
 */
async function clusterLayout(seeds: Endpoint[], password: string): Promise<string[]> {
  return Promise.all(
    seeds.map(async (seed) => {
      const text = String(await probeRedis(seed.port, ["CLUSTER", "NODES"], { password, timeoutMs: 2000 }));
      const own = text.split("\n").find((line) => line.split(" ")[2]?.includes("myself"));
      if (!own) throw new Error(`127.0.0.1:${seed.port}: no myself line in CLUSTER NODES`);
      const [id, , flags, , , , epoch, , ...slots] = own.trim().split(" ");
      return `${id} ${flags.includes("master") ? "master" : "replica"} ${epoch} ${slots.join(",")}`;
    }),
  );
}

describe("renderBootstrapScript", function () {
  const nodes = [1, 2, 3, 4, 5, 6].map((i) => ({ host: `10.0.0.${i}`, port: 6379 }));
  const args = { nodes, replicasPerMaster: 1, timeoutSec: 60, passwordFile: "/run/secrets/redis-password" };

  it(`renders a script that ${SHELL.join(" ")} parses, with the nodes, replicas, bound and password file`, async function () {
    const script = renderBootstrapScript(args);
    expect(script.startsWith("#!/bin/sh\n")).to.equal(true);
    expect(script).to.include("NODES='10.0.0.1:6379 10.0.0.2:6379 10.0.0.3:6379 10.0.0.4:6379 10.0.0.5:6379 10.0.0.6:6379'");
    expect(script).to.include("REPLICAS=1");
    expect(script).to.include("TIMEOUT_SEC=60");
    expect(script).to.include("PASSWORD_FILE='/run/secrets/redis-password'");
    expect(script).to.include("--cluster-replicas");
    expect(script).not.to.match(/ -a /, "the password must never be passed with -a");
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-syntax-"));
    try {
      const file = path.join(dir, "bootstrap.sh");
      fs.writeFileSync(file, script);
      const check = await new Promise<number | null>((resolve) => {
        const child = spawn(SHELL[0], [...SHELL.slice(1), "-n", file], { stdio: "ignore" });
        const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
        child.on("close", (code) => (clearTimeout(timer), resolve(code)));
      });
      expect(check).to.equal(0);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it("quotes a password file path with quotes and spaces for sh", function () {
    const script = renderBootstrapScript({ ...args, passwordFile: "/run/it's a file" });
    expect(script).to.include(`PASSWORD_FILE='/run/it'\\''s a file'`);
  });

  it("rejects input that cannot form a cluster or could break the script", function () {
    expect(() => renderBootstrapScript({ ...args, nodes: nodes.slice(0, 5) })).to.throw(/5 node\(s\).*need at least 6/);
    expect(() => renderBootstrapScript({ ...args, nodes: [...nodes.slice(0, 5), { host: "10.0.0.1", port: 6379 }] })).to.throw(
      /10\.0\.0\.1:6379 is listed twice/,
    );
    expect(() => renderBootstrapScript({ ...args, nodes: [{ host: "x; rm -rf /", port: 1 }, ...nodes] })).to.throw(/not an IP address/);
    expect(() => renderBootstrapScript({ ...args, nodes: [{ host: "10.0.0.9", port: 70000 }, ...nodes] })).to.throw(/invalid port/);
    expect(() => renderBootstrapScript({ ...args, timeoutSec: 0 })).to.throw(/timeoutSec/);
    expect(() => renderBootstrapScript({ ...args, replicasPerMaster: -1 })).to.throw(/replicasPerMaster/);
    expect(() => renderBootstrapScript({ ...args, passwordFile: "password" })).to.throw(/absolute path/);
  });
});

describe(`bootstrap script run by ${SHELL.join(" ")} against real redis-server processes`, function () {
  it(`writes no line longer than ${BOOTSTRAP_LINE_MAX} bytes, even with a long message (the provider's line scanner)`, async function () {
    this.timeout(20_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "bootstrap-lines-"));
    try {
      // A password file at the end of a 1.6 KB path: the script logs where the password came from.
      let deep = dir;
      for (let i = 0; i < 8; i++) deep = path.join(deep, `${"d".repeat(199)}${i}`);
      fs.mkdirSync(deep, { recursive: true });
      const passwordFile = path.join(deep, "password");
      writePrivateFile(passwordFile, "line pass");
      const [port] = await findFreePorts(1, { withBusPort: false });
      const nodes = Array.from({ length: 6 }, (_, i) => ({ host: "127.0.0.1", port: port + i }));
      const run = await runScript(renderBootstrapScript({ nodes, replicasPerMaster: 1, timeoutSec: 1, passwordFile }), dir, 15_000);
      expect(run.code).to.not.equal(0);
      expect(run.stdout).to.include("using the password from");
      const longest = Math.max(...(run.stdout + run.stderr).split("\n").map((l) => Buffer.byteLength(l)));
      expect(longest).to.be.at.most(BOOTSTRAP_LINE_MAX);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("with a password", function () {
    const password = "b00tstrap pass'word";
    const fresh = useFreshClusterNodes(password);
    let passwordFile = "";
    let firstLayout: string[] = [];

    before(function () {
      passwordFile = path.join(fresh.dir(), "password");
      writePrivateFile(passwordFile, password);
    });

    it("forms a 6-node cluster: 3 masters with all slots, 3 replicas, cluster_state:ok everywhere", async function () {
      this.timeout(40_000);
      const seeds = fresh.seeds();
      const run = await runScript(
        renderBootstrapScript({ nodes: seeds, replicasPerMaster: 1, timeoutSec: 30, passwordFile, nodeTimeoutMs: NODE_TIMEOUT_MS }),
        fresh.dir(),
        35_000,
      );
      expect(run.code, run.stderr + run.stdout).to.equal(0);
      expect(run.stdout).to.include("creating the cluster");
      expect(run.stdout).to.include(`forming with cluster-node-timeout ${FORMATION_NODE_TIMEOUT_MS} ms`);
      expect(run.stdout).to.include("cluster ready: every node reports cluster_state:ok and lists the same 3 masters and their replicas");
      // The planned node timeout is back on every node.
      for (const seed of seeds) {
        const reply = await redisCli(seed.port, ["CONFIG", "GET", "cluster-node-timeout"], { password });
        expect(reply.stdout.split("\n").map((l) => l.trim()), `cluster-node-timeout of ${seed.port}`).to.include(String(NODE_TIMEOUT_MS));
      }
      expect(run.stdout + run.stderr).not.to.include(password);
      for (const seed of seeds) {
        // Ready means replicas have synced: a master killed now has a replica to take over.
        const replication = parseInfo(String(await probeRedis(seed.port, ["INFO", "replication"], { password, timeoutMs: 2000 })));
        if (replication.get("role") === "slave") expect(replication.get("master_link_status"), `${seed.port}`).to.equal("up");
        const info = await clusterInfo(seed, password);
        expect(info.get("cluster_state"), `${seed.port}`).to.equal("ok");
        expect(info.get("cluster_known_nodes")).to.equal("6");
        expect(info.get("cluster_slots_assigned")).to.equal("16384");
      }
      firstLayout = await clusterLayout(seeds, password);
      const roles = firstLayout.map((v) => v.split(" ")[1]);
      expect(roles.filter((r) => r === "master")).to.have.length(3);
      expect(roles.filter((r) => r === "replica")).to.have.length(3);
    });

    it("a second run skips the create: node IDs, roles, slots and config epochs unchanged", async function () {
      this.timeout(20_000);
      expect(firstLayout, "needs the cluster formed by the previous test").to.have.length(6);
      const seeds = fresh.seeds();
      const run = await runScript(renderBootstrapScript({ nodes: seeds, replicasPerMaster: 1, timeoutSec: 10, passwordFile }), fresh.dir(), 15_000);
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).to.include("cluster already formed");
      expect(run.stdout).not.to.include("creating the cluster");
      expect(await clusterLayout(seeds, password)).to.deep.equal(firstLayout);
    });

    it("is not ready while the nodes are not in the planned shape: fails within its bound, saying what each node sees", async function () {
      this.timeout(30_000);
      const seeds = fresh.seeds();
      const views = parseClusterNodes(String(await probeRedis(seeds[0].port, ["CLUSTER", "NODES"], { password, timeoutMs: 2000 })));
      const replica = views.find((n) => n.role === "replica") as ClusterNodeInfo;
      const otherMaster = views.find((n) => n.role === "master" && n.id !== replica.masterId) as ClusterNodeInfo;
      // Two replicas on one master, none on another: every node comes to agree, on the wrong shape.
      expect(await probeRedis(replica.port, ["CLUSTER", "REPLICATE", otherMaster.id], { password, timeoutMs: 2000 })).to.equal("OK");
      try {
        const run = await runScript(renderBootstrapScript({ nodes: seeds, replicasPerMaster: 1, timeoutSec: 4, passwordFile }), fresh.dir(), 20_000);
        expect(run.code, run.stdout).to.equal(1);
        expect(run.stderr).to.include("the nodes did not agree on the cluster's masters and replicas within 4s");
        for (const seed of seeds) expect(run.stderr).to.include(`127.0.0.1:${seed.port} sees`);
        expect(run.stderr).to.include("(master with 0 of 1 replicas)");
        expect(run.stderr).to.include(`127.0.0.1:${replica.port}->127.0.0.1:${otherMaster.port}`);
        // The deadline is checked between passes over the 6 nodes (a dozen processes each): past
        // the 4 s, at most the whole-second rounding and one pass, which took up to 4.4 s at load 9
        // (6 busy loops on 2 cores). Exit code 1 (above) already says the test's backstop did not end it.
        expect(run.ms, "ended by its own bound, not the test's backstop (20 s)").to.be.below(4000 + 8000);
      } finally {
        await probeRedis(replica.port, ["CLUSTER", "REPLICATE", replica.masterId as string], { password, timeoutMs: 2000 });
      }
    });

    it("exits non-zero within its bound, naming a node that never answers", async function () {
      this.timeout(20_000);
      const seeds = fresh.seeds();
      const [deadPort] = await findFreePorts(1, { withBusPort: false, exclude: seeds.map((s) => s.port) });
      const nodes = [...seeds, { host: "127.0.0.1", port: deadPort }];
      const run = await runScript(renderBootstrapScript({ nodes, replicasPerMaster: 1, timeoutSec: 2, passwordFile }), fresh.dir(), 10_000);
      expect(run.code).to.not.equal(0);
      expect(run.code, "killed by the test's backstop instead of its own bound").to.not.equal(null);
      expect(run.stderr).to.include(`node 127.0.0.1:${deadPort} did not answer PING within 2s`);
      expect(run.stderr).to.match(/Connection refused/);
      expect(run.ms).to.be.below(2000 + 2500);
    });

    it("fails at once, naming the node, when a node is not cluster-enabled", async function () {
      this.timeout(50_000);
      const nodes = [...fresh.seeds().slice(0, 5), fresh.standalone()];
      // A deadline far above the bound below: "at once" stays distinct from "at the deadline"
      // also when a loaded machine makes a dozen redis-cli calls take seconds.
      const run = await runScript(renderBootstrapScript({ nodes, replicasPerMaster: 1, timeoutSec: 40, passwordFile }), fresh.dir(), 45_000);
      expect(run.code).to.not.equal(0);
      expect(run.stderr).to.include(`node 127.0.0.1:${fresh.standalone().port} is not a cluster node`);
      expect(run.stderr).to.include("cluster-enabled yes");
      expect(run.ms, "fails at once, not at the deadline (40 s)").to.be.below(15_000);
    });

    it("fails clearly with a wrong password, without printing either password", async function () {
      this.timeout(20_000);
      const wrongFile = path.join(fresh.dir(), "wrong-password");
      writePrivateFile(wrongFile, "not-the-password");
      const run = await runScript(
        renderBootstrapScript({ nodes: fresh.seeds(), replicasPerMaster: 1, timeoutSec: 1, passwordFile: wrongFile }),
        fresh.dir(),
        10_000,
      );
      expect(run.code).to.not.equal(0);
      expect(run.stderr).to.include(`node 127.0.0.1:${fresh.seeds()[0].port} did not answer PING`);
      expect(run.stderr).to.match(/AUTH|NOAUTH|WRONGPASS/);
      expect(run.stdout + run.stderr).not.to.include("not-the-password");
      expect(run.stdout + run.stderr).not.to.include(password);
    });
  });

  describe("without a password (no password file)", function () {
    const fresh = useFreshClusterNodes("");
    const noPasswordFile = "/nonexistent/redis-password";

    it("does not re-create a partially formed cluster: waits, then fails with every node's state", async function () {
      this.timeout(20_000);
      const [a, b] = fresh.seeds();
      expect(await probeRedis(a.port, ["CLUSTER", "MEET", "127.0.0.1", String(b.port)], { timeoutMs: 2000 })).to.equal("OK");
      const run = await runScript(
        renderBootstrapScript({ nodes: fresh.seeds(), replicasPerMaster: 1, timeoutSec: 2, passwordFile: noPasswordFile }),
        fresh.dir(),
        10_000,
      );
      expect(run.code).to.not.equal(0);
      expect(run.stdout).to.include("partially formed; not re-creating");
      expect(run.stdout).not.to.include("creating the cluster:");
      expect(run.stderr).to.include("cluster not ready within 2s (0 of 6 nodes ready)");
      for (const seed of fresh.seeds()) expect(run.stderr).to.include(`127.0.0.1:${seed.port} cluster_state:fail`);
      // Nothing was created: no node serves slots.
      for (const seed of fresh.seeds()) expect((await clusterInfo(seed, "")).get("cluster_slots_assigned")).to.equal("0");
    });

    it("forms the cluster once the nodes are fresh again", async function () {
      this.timeout(40_000);
      const seeds = fresh.seeds();
      // Undo the MEET of the previous test.
      for (const seed of seeds) {
        expect(await probeRedis(seed.port, ["CLUSTER", "RESET", "HARD"], { timeoutMs: 2000 })).to.equal("OK");
      }
      const run = await runScript(
        renderBootstrapScript({ nodes: seeds, replicasPerMaster: 1, timeoutSec: 30, passwordFile: noPasswordFile }),
        fresh.dir(),
        35_000,
      );
      expect(run.code, run.stderr).to.equal(0);
      expect(run.stdout).not.to.include("using the password");
      for (const seed of seeds) expect((await clusterInfo(seed, "")).get("cluster_state")).to.equal("ok");
    });
  });

  describe("an address change: every node comes back at another address with its nodes.conf", function () {
    // A new subnet or static IP in Docker; other ports here. aof: the keys must outlive the restart.
    const password = "moved pass 7";
    const { fresh, script } = useFormedCluster(password, { persistence: "aof" });

    it("the bootstrap meets the nodes at their planned addresses: same ids, roles, slots, epochs and keys", async function () {
      this.timeout(90_000);
      const keys = Array.from({ length: 12 }, (_, i) => `moved:${i}`);
      const before = new Cluster(fresh.seeds(), { redisOptions: { password, commandTimeout: 2000 }, clusterRetryStrategy: () => null });
      try {
        // A SIGTERMed master flushes its AOF: the keys are on its disk when it restarts.
        for (const k of keys) await before.set(k, `value of ${k}`);
      } finally {
        before.disconnect();
      }
      const layoutBefore = await clusterLayout(fresh.seeds(), password);
      const nodes = fresh.clusterNodes();
      const oldPorts = nodes.map((n) => n.port);
      expect(await terminateProcesses(nodes.map((n) => n.identity()!), 3000)).to.deep.equal([]);
      const newPorts = await findFreePorts(nodes.length, { withBusPort: true, exclude: oldPorts.flatMap((p) => [p, p + CLUSTER_BUS_PORT_OFFSET]) });
      await Promise.all(nodes.map((n, i) => n.start(newPorts[i])));
      // Each node still lists its peers at their old ports.
      const stale = String(await probeRedis(newPorts[0], ["CLUSTER", "NODES"], { password, timeoutMs: 2000 }));
      expect(stale).to.include(`127.0.0.1:${oldPorts[1]}@`);

      const run = await runScript(script(30), fresh.dir(), 40_000);
      expect(run.code, run.stderr + run.stdout).to.equal(0);
      expect(run.stdout).to.include("nodes list peers at addresses outside the plan");
      expect(run.stdout).not.to.include("creating the cluster");
      expect(run.stdout + run.stderr).not.to.include(password);
      expect(await clusterLayout(fresh.seeds(), password)).to.deep.equal(layoutBefore);
      const view = await agreedView(fresh.seeds(), password);
      expect([...view.values()].map((v) => `${v.host}:${v.port}`).sort()).to.deep.equal(newPorts.map((p) => `127.0.0.1:${p}`).sort());
      const after = new Cluster(fresh.seeds(), { redisOptions: { password, commandTimeout: 2000 }, clusterRetryStrategy: () => null });
      try {
        for (const k of keys) expect(await after.get(k), k).to.equal(`value of ${k}`);
      } finally {
        after.disconnect();
      }
      // Nothing left to re-introduce: the next run goes straight to "already formed".
      const again = await runScript(script(30), fresh.dir(), 40_000);
      expect(again.code, again.stderr + again.stdout).to.equal(0);
      expect(again.stdout).to.include("cluster already formed");
      expect(again.stdout).not.to.include("outside the plan");
    });
  });

  describe("healing: a node came back empty while the others stay formed", function () {
    const password = "heal pass 5";
    const { fresh, script } = useFormedCluster(password);

    const myId = async (node: LocalRedisNode): Promise<string> =>
      String(await probeRedis(node.port, ["CLUSTER", "MYID"], { password, timeoutMs: 2000 }));
    const role = async (node: LocalRedisNode): Promise<string | undefined> =>
      parseInfo(String(await probeRedis(node.port, ["INFO", "replication"], { password, timeoutMs: 2000 }))).get("role");

    /** Removes a node's cluster identity and data: nodes.conf, the RDB, the AOF (Redis 7 keeps it in appendonlydir/). */
    function emptyDataDir(dir: string): void {
      for (const file of fs.readdirSync(dir)) {
        if (/^(nodes\.conf|dump\.rdb|appendonly\.aof|appendonlydir)$/.test(file)) fs.rmSync(path.join(dir, file), { recursive: true });
      }
    }

    /** Stops the node and starts it again on its port with an empty data dir (no nodes.conf): a new node. */
    async function replaceWithEmptyNode(node: LocalRedisNode): Promise<void> {
      const identity = node.identity();
      expect(identity, `${node.name} runs`).to.not.equal(undefined);
      expect(await terminateProcesses([identity!], 2000)).to.deep.equal([]);
      emptyDataDir(node.dir);
      await node.start(node.port);
      const info = await clusterInfo({ host: "127.0.0.1", port: node.port }, password);
      expect(info.get("cluster_known_nodes"), `${node.name} came back new`).to.equal("1");
    }

    async function expectHealed(node: LocalRedisNode, oldId: string, run: ScriptRun): Promise<void> {
      expect(run.code, run.stderr + run.stdout).to.equal(0);
      expect(run.stdout).to.include("partially formed");
      expect(run.stdout).to.include(`heal: forgot the stale node id ${oldId} on every formed node`);
      expect(run.stdout).to.match(new RegExp(`heal: 127\\.0\\.0\\.1:${node.port} is now a replica of [0-9a-f]{40}`));
      expect(run.stdout).not.to.include("creating the cluster");
      expect(run.stdout + run.stderr).not.to.include(password);
      // Exit 0 means every node already agrees (the script's own last wait): no grace period here.
      const view = await agreedView(fresh.seeds(), password);
      const newId = await myId(node);
      expect(newId).to.not.equal(oldId);
      expect([...view.keys()], "the old id is forgotten").to.not.include(oldId);
      expect(view.get(newId)?.role, "the new node is a replica").to.equal("replica");
      for (const seed of fresh.seeds()) expect((await clusterInfo(seed, password)).get("cluster_state"), `${seed.port}`).to.equal("ok");
    }

    it("a replica replaced by an empty node: its old id is forgotten, the new node replicates the master that lacks one", async function () {
      this.timeout(60_000);
      const replica = (await Promise.all(fresh.clusterNodes().map(async (n) => ((await role(n)) === "slave" ? n : undefined)))).find(Boolean)!;
      const oldId = await myId(replica);
      await replaceWithEmptyNode(replica);
      const run = await runScript(script(30), fresh.dir(), 40_000);
      await expectHealed(replica, oldId, run);
    });

    it("a master replaced by an empty node after its replica took over: the same heal", async function () {
      this.timeout(90_000);
      const master = (await Promise.all(fresh.clusterNodes().map(async (n) => ((await role(n)) === "master" ? n : undefined)))).find(Boolean)!;
      const oldId = await myId(master);
      const replicaPorts = [];
      for (const n of fresh.clusterNodes()) {
        const replication = parseInfo(String(await probeRedis(n.port, ["INFO", "replication"], { password, timeoutMs: 2000 })));
        if (replication.get("role") === "slave" && replication.get("master_port") === String(master.port)) replicaPorts.push(n.port);
      }
      expect(replicaPorts).to.have.length(1);
      expect(await terminateProcesses([master.identity()!], 2000)).to.deep.equal([]);
      // The replica takes over once the master is marked failed (node timeout 2 s, then the election).
      const deadline = Date.now() + 30_000;
      while ((await clusterInfo({ host: "127.0.0.1", port: replicaPorts[0] }, password)).get("cluster_state") !== "ok" ||
        parseInfo(String(await probeRedis(replicaPorts[0], ["INFO", "replication"], { password, timeoutMs: 2000 }))).get("role") !== "master") {
        expect(Date.now(), "the replica did not take over within 30 s").to.be.below(deadline);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      emptyDataDir(master.dir);
      await master.start(master.port);
      const run = await runScript(script(30), fresh.dir(), 40_000);
      await expectHealed(master, oldId, run);
    });
  });
});
