/**
 * The local runner against real redis-server processes: a healthy 3-master/3-replica
 * cluster plus a standalone, a valid outputs document, keys on every master through the
 * real `redis-cli -c`, no password on any command line, node restarts, and teardown by
 * stop(), by the owner's SIGINT, after the owner was SIGKILLed, and through the CLI.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { expect } from "chai";
import type { StackOutputs } from "@redis-on-docker/connector";
import { isAlive, processStartTime, sleep } from "../../local/src/processControl";
import { parseInfo, probeRedis } from "../../local/src/redisProbe";
import { startLocalStack } from "@redis-on-docker/local";
import { readStackRecord, reapAbandonedStacks, stopRecordedStack } from "../../local/src/stackRecord";
import { clusterDisagreements } from "../support/clusterAgreement";
import { redisCli, useLocalStack, type LocalStack } from "../support/localStack";

const REPO_ROOT = path.resolve(__dirname, "..", "..");
const CLI = path.join(REPO_ROOT, "local", "dist", "cli.js");
const TS_NODE = ["-r", "ts-node/register/transpile-only"];

function mode(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

/** Pids of every process whose command line names one of `ports` as 127.0.0.1:<port> (redis-server's title). */
function redisServersOnPorts(ports: number[]): number[] {
  const ps = spawnSync("ps", ["-eww", "-o", "pid=,args="], { encoding: "utf8", timeout: 10_000 });
  return ps.stdout
    .split("\n")
    .filter((line) => line.includes("redis-server") && ports.some((p) => line.includes(`127.0.0.1:${p} `) || line.endsWith(`127.0.0.1:${p}`)))
    .map((line) => Number(line.trim().split(/\s+/)[0]));
}

async function waitUntil(what: string, boundMs: number, check: () => boolean | Promise<boolean>): Promise<void> {
  const until = Date.now() + boundMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`${what}: not within ${boundMs} ms`);
    await sleep(50);
  }
}

async function clusterInfo(port: number, password: string): Promise<Map<string, string>> {
  return parseInfo(String(await probeRedis(port, ["CLUSTER", "INFO"], { password, timeoutMs: 2000 })));
}

/** Runs `node -r ts-node/register/transpile-only <args>` from the repository root, bounded. */
function runNode(args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...TS_NODE, ...args], { cwd: REPO_ROOT, timeout: timeoutMs }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr });
    });
  });
}

/**
 * Starts a child process that owns a local stack and prints its record; resolves once the
 * stack is up. The caller must end the child; `cleanUp` removes whatever it left.
 */
async function startOwnerChild(): Promise<{ child: ChildProcess; dir: string; pids: number[] }> {
  const code = `
    const { startLocalStack } = require("@redis-on-docker/local");
    startLocalStack({ password: "owner-child-pw" }).then(
      (s) => { console.log(JSON.stringify({ dir: s.dir, pids: s.nodes.map((n) => n.pid) })); setInterval(() => {}, 1000); },
      (e) => { console.error(e.message); process.exit(1); });`;
  const child = spawn(process.execPath, [...TS_NODE, "-e", code], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("owner child: no stack within 60 s")), 60_000);
    readline.createInterface({ input: child.stdout as NodeJS.ReadableStream }).once("line", (l) => (clearTimeout(timer), resolve(l)));
    child.once("exit", (c) => (clearTimeout(timer), reject(new Error(`owner child exited (${String(c)}) before its stack was up`))));
  });
  const { dir, pids } = JSON.parse(line) as { dir: string; pids: number[] };
  return { child, dir, pids };
}

/** Whatever a failed test left behind: the child, its processes, its dir. */
async function cleanUp(child: ChildProcess | undefined, dir: string | undefined): Promise<void> {
  if (child && child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  if (dir) {
    const record = readStackRecord(path.join(dir, "stack.json"));
    if (record) await stopRecordedStack(record, () => undefined);
  }
}

describe("local runner: standalone + 3-master/3-replica cluster", function () {
  const stack = useLocalStack();

  it("brings up a standalone and a healthy cluster: every node cluster_state:ok, 3 masters, 3 replicas", async function () {
    const s = stack();
    console.log(`      (time to ready: ${s.readyMs} ms)`);
    expect(s.nodes.map((n) => n.role)).to.deep.equal(["standalone", "cluster", "cluster", "cluster", "cluster", "cluster", "cluster"]);
    const password = s.outputs.password;
    const roles: string[] = [];
    for (const seed of s.outputs.cluster.seeds) {
      const info = await clusterInfo(seed.port, password);
      expect(info.get("cluster_state"), `node ${seed.port}`).to.equal("ok");
      expect(info.get("cluster_known_nodes")).to.equal("6");
      expect(info.get("cluster_slots_assigned")).to.equal("16384");
      const replication = parseInfo(String(await probeRedis(seed.port, ["INFO", "replication"], { password, timeoutMs: 2000 })));
      roles.push(replication.get("role") as string);
    }
    expect(roles.filter((r) => r === "master")).to.have.length(3);
    expect(roles.filter((r) => r === "slave")).to.have.length(3);

    const standalonePort = s.outputs.standalone.port;
    expect((await redisCli(standalonePort, ["PING"], { password })).stdout.trim()).to.equal("PONG");
    expect((await redisCli(standalonePort, ["PING"])).stdout).to.match(/NOAUTH/);
    expect((await redisCli(standalonePort, ["SET", "standalone:key", "v1"], { password })).stdout.trim()).to.equal("OK");
    expect((await redisCli(standalonePort, ["GET", "standalone:key"], { password })).stdout.trim()).to.equal("v1");
  });

  it("writes a valid outputs document (mode 0600) in a private dir", async function () {
    const s = stack();
    const written = JSON.parse(fs.readFileSync(s.outputsFile, "utf8")) as StackOutputs;
    expect(written).to.deep.equal(s.outputs);
    expect(mode(s.outputsFile)).to.equal(0o600);
    expect(mode(s.dir)).to.equal(0o700);
    for (const node of s.nodes) expect(mode(path.join(s.dir, node.name, "redis.conf")), node.name).to.equal(0o600);

    const version = /v=(\S+)/.exec(spawnSync("redis-server", ["--version"], { encoding: "utf8" }).stdout)?.[1];
    expect(written.schemaVersion).to.equal(1);
    expect(written.redisVersion).to.equal(version);
    expect(written.redisImage).to.be.a("string").and.not.equal("");
    expect(written.passwordRequired).to.equal(true);
    expect(written.password).to.have.length.greaterThan(15);
    expect(written.standalone).to.deep.equal({
      host: "127.0.0.1",
      port: s.nodes[0].port,
      internalHost: "127.0.0.1",
      internalPort: s.nodes[0].port,
    });
    expect(written.cluster.seeds).to.deep.equal(s.nodes.slice(1).map((n) => ({ host: "127.0.0.1", port: n.port })));
    expect(written.cluster.internalSeeds).to.deep.equal(written.cluster.seeds);
    expect(written.cluster.natMap).to.deep.equal({});
    expect(written.cluster.replicasPerMaster).to.equal(1);
    const ports = [written.standalone.port, ...written.cluster.seeds.map((e) => e.port)];
    expect(new Set(ports).size).to.equal(7);
  });

  it("redis-cli -c against a seed node SETs and GETs keys on all three masters", async function () {
    this.timeout(30_000);
    const s = stack();
    const password = s.outputs.password;
    const [seed, otherSeed] = s.outputs.cluster.seeds;
    // Masters and their slot ranges, from the seed's view.
    const nodesText = String(await probeRedis(seed.port, ["CLUSTER", "NODES"], { password, timeoutMs: 2000 }));
    const masters = nodesText
      .trim()
      .split("\n")
      .map((line) => line.trim().split(" "))
      .filter((f) => f[2].includes("master"))
      .map((f) => ({
        port: Number(/:(\d+)@/.exec(f[1])?.[1]),
        ranges: f.slice(8).map((r) => r.split("-").map(Number)),
      }));
    expect(masters).to.have.length(3);

    for (const master of masters) {
      let key = "";
      for (let i = 0; key === "" && i < 1000; i++) {
        const slot = Number(await probeRedis(seed.port, ["CLUSTER", "KEYSLOT", `key:${i}`], { password, timeoutMs: 2000 }));
        if (master.ranges.some(([lo, hi]) => slot >= lo && slot <= (hi ?? lo))) key = `key:${i}`;
      }
      expect(key, `a key for master ${master.port}`).to.not.equal("");
      const value = `on-${master.port}`;
      const set = await redisCli(seed.port, ["SET", key, value], { password, cluster: true });
      expect(set.stdout.trim(), set.stderr).to.equal("OK");
      const viaOther = await redisCli(otherSeed.port, ["GET", key], { password, cluster: true });
      expect(viaOther.stdout.trim()).to.equal(value);
      // Without -c: the master itself holds it.
      const direct = await redisCli(master.port, ["GET", key], { password });
      expect(direct.stdout.trim(), `${key} on master ${master.port}`).to.equal(value);
    }
  });

  it("puts the password on no process's command line", function () {
    const s = stack();
    const ps = spawnSync("ps", ["-eww", "-o", "args="], { encoding: "utf8", timeout: 10_000 });
    expect(ps.status).to.equal(0);
    expect(ps.stdout).to.include(`redis-server 127.0.0.1:${s.nodes[1].port}`);
    expect(ps.stdout).not.to.include(s.outputs.password);
  });

  it("restartNode brings a killed replica back on its port with its node ID, and it rejoins", async function () {
    this.timeout(30_000);
    const s = stack();
    const password = s.outputs.password;
    let replica: { name: string; port: number } | undefined;
    for (const node of s.nodes.slice(1)) {
      const replication = parseInfo(String(await probeRedis(node.port, ["INFO", "replication"], { password, timeoutMs: 2000 })));
      if (replication.get("role") === "slave") replica = { name: node.name, port: node.port };
    }
    if (!replica) throw new Error("no replica in the cluster");
    const id = await probeRedis(replica.port, ["CLUSTER", "MYID"], { password, timeoutMs: 2000 });
    const oldPid = s.nodes.find((n) => n.name === replica?.name)?.pid as number;

    await s.killNode(replica.name);
    expect(isAlive({ pid: oldPid, startTime: "" })).to.equal(false);
    await s.restartNode(replica.name);
    const node = s.nodes.find((n) => n.name === replica?.name);
    expect(node?.pid).to.not.equal(oldPid);
    expect(node?.port).to.equal(replica.port);
    expect(await probeRedis(replica.port, ["CLUSTER", "MYID"], { password, timeoutMs: 2000 })).to.equal(id);
    await waitUntil("restarted replica reports cluster_state:ok", 15_000, async () => {
      const info = await clusterInfo(replica?.port as number, password);
      return info.get("cluster_state") === "ok" && info.get("cluster_known_nodes") === "6";
    });
  });
});

/**
 * Rounds of `up` in this run; the bar is 20 of 20 (READINESS_ROUNDS=20). Each round
 * takes ~2.5 s, so the suite's default stays small.
 */
const READINESS_ROUNDS = Number(process.env.READINESS_ROUNDS ?? 5);

describe("local runner: ready means every node agrees on the topology", function () {
  this.timeout(60_000 + READINESS_ROUNDS * 30_000);

  it(`at the return of startLocalStack, every node's CLUSTER NODES lists the same 3 masters and 3 replicas (${READINESS_ROUNDS} rounds)`, async function () {
    const readyMs: number[] = [];
    for (let round = 1; round <= READINESS_ROUNDS; round++) {
      const stack = await startLocalStack();
      try {
        // Read at once: the nodes' views right at the return of `up` are what a client sees.
        const problems = await clusterDisagreements(stack.outputs.cluster.seeds, stack.outputs.password, 1);
        expect(problems, `round ${round}: views at the return of up`).to.deep.equal([]);
        readyMs.push(stack.readyMs);
      } finally {
        await stack.stop();
      }
    }
    console.log(`      (time to agreement over ${READINESS_ROUNDS} rounds: ${readyMs.join(", ")} ms)`);
  });
});

describe("local runner: teardown", function () {
  it("rejects options that cannot form a cluster, naming the setting, and starts nothing", async function () {
    const before = fs.readdirSync(os.tmpdir()).filter((e) => e.startsWith("redis-local-"));
    let error: Error | undefined;
    await startLocalStack({ clusterNodes: 5 }).catch((e: Error) => (error = e));
    expect(error?.message).to.match(/clusterNodes.*5 nodes with 1 replica\(s\) per master do not form a cluster/);
    // Across hosts the nodes listen on addresses other machines reach: an open server is refused.
    const hosts = ["a", "b", "c"].map((name, i) => ({ name, address: `10.231.255.${i + 1}`, netns: `never-made-${name}` }));
    const openAcrossHosts = await startLocalStack({ password: "", hosts }).then(() => undefined, (e: Error) => e);
    expect(openAcrossHosts?.message).to.match(/password.*required with 3 hosts/);
    // Other processes may start stacks meanwhile: only dirs owned by this one count.
    const ours = fs
      .readdirSync(os.tmpdir())
      .filter((e) => e.startsWith("redis-local-") && !before.includes(e))
      .filter((e) => readStackRecord(path.join(os.tmpdir(), e, "stack.json"))?.owner.pid === process.pid);
    expect(ours).to.deep.equal([]);
  });


  it("restartNode returns once the node has loaded its data: no LOADING reply after it", async function () {
    this.timeout(90_000);
    const stack = await startLocalStack({ persistence: "rdb", clusterNodes: 6 });
    try {
      const password = stack.outputs.password;
      const standalone = stack.nodes.find((n) => n.role === "standalone")!;
      // About 40 MB of RDB: loading it takes long enough that INFO (served while loading) answers first.
      const keys = 200_000;
      const value = "v".repeat(200);
      for (let batch = 0; batch < keys / 2000; batch++) {
        const args = ["MSET"];
        for (let i = 0; i < 2000; i++) args.push(`load:${batch}:${i}`, value);
        expect(await probeRedis(standalone.port, args, { password, timeoutMs: 10_000 })).to.equal("OK");
      }
      expect(await probeRedis(standalone.port, ["SAVE"], { password, timeoutMs: 30_000 })).to.equal("OK");
      await stack.killNode(standalone.name);
      await stack.restartNode(standalone.name);
      // DBSIZE is refused with -LOADING while the dataset loads.
      expect(await probeRedis(standalone.port, ["DBSIZE"], { password, timeoutMs: 2000 })).to.equal(keys);
    } finally {
      await stack.stop();
    }
  });

  it("stop() leaves no redis-server process and no temp dir behind (open servers, no password)", async function () {
    this.timeout(60_000);
    const stack: LocalStack = await startLocalStack({ password: "" });
    const ports = stack.nodes.map((n) => n.port);
    const pids = stack.nodes.map((n) => n.pid);
    try {
      expect(stack.outputs.passwordRequired).to.equal(false);
      expect(stack.outputs.password).to.equal("");
      expect((await redisCli(stack.outputs.standalone.port, ["PING"])).stdout.trim()).to.equal("PONG");
      expect(redisServersOnPorts(ports).sort()).to.deep.equal([...pids].sort());
    } finally {
      const began = Date.now();
      await stack.stop();
      console.log(`      (time to ready: ${stack.readyMs} ms, teardown: ${Date.now() - began} ms)`);
    }
    expect(redisServersOnPorts(ports)).to.deep.equal([]);
    for (const pid of pids) expect(processStartTime(pid), `pid ${pid}`).to.equal(undefined);
    expect(fs.existsSync(stack.dir)).to.equal(false);
    expect(fs.existsSync(stack.outputsFile)).to.equal(false);
    await stack.stop(); // idempotent
  });

  it("kills the stack and removes its dir when the owning process gets SIGINT (Ctrl-C)", async function () {
    this.timeout(90_000);
    let owner: Awaited<ReturnType<typeof startOwnerChild>> | undefined;
    try {
      owner = await startOwnerChild();
      expect(owner.pids.every((pid) => processStartTime(pid) !== undefined)).to.equal(true);
      const exited = new Promise<NodeJS.Signals | null>((resolve) => owner?.child.once("exit", (_c, signal) => resolve(signal)));
      owner.child.kill("SIGINT");
      expect(await exited, "the owner still dies of SIGINT").to.equal("SIGINT");
      const { pids, dir } = owner;
      await waitUntil("redis-servers gone after SIGINT", 5000, () => pids.every((pid) => processStartTime(pid) === undefined));
      expect(fs.existsSync(dir)).to.equal(false);
    } finally {
      await cleanUp(owner?.child, owner?.dir);
    }
  });

  it("cleans up a stack whose owner was SIGKILLed (no exit hooks ran)", async function () {
    this.timeout(90_000);
    let owner: Awaited<ReturnType<typeof startOwnerChild>> | undefined;
    try {
      owner = await startOwnerChild();
      const exited = new Promise<void>((resolve) => owner?.child.once("exit", () => resolve()));
      owner.child.kill("SIGKILL");
      await exited;
      // Its redis-servers survive their owner...
      expect(owner.pids.every((pid) => processStartTime(pid) !== undefined)).to.equal(true);
      const lines: string[] = [];
      await reapAbandonedStacks((line) => lines.push(line));
      // ...until the next runner reaps them.
      expect(lines.join("\n")).to.include(owner.dir);
      const { pids } = owner;
      await waitUntil("abandoned redis-servers gone", 5000, () => pids.every((pid) => processStartTime(pid) === undefined));
      expect(fs.existsSync(owner.dir)).to.equal(false);
    } finally {
      await cleanUp(owner?.child, owner?.dir);
    }
  });
});

describe("local runner CLI", function () {
  let stateDir = "";
  before(function () {
    stateDir = fs.mkdtempSync(path.join(os.tmpdir(), "local-stack-cli-test-"));
  });
  after(async function () {
    this.timeout(15_000);
    const record = readStackRecord(path.join(stateDir, "state.json"));
    if (record) await stopRecordedStack(record, () => undefined);
    fs.rmSync(stateDir, { recursive: true, force: true });
  });

  it("up starts processes that outlive it and writes outputs + state; status; down stops them and removes everything", async function () {
    this.timeout(180_000);
    const passwordFile = path.join(stateDir, "pw");
    fs.writeFileSync(passwordFile, "cli-secret-pw\n", { mode: 0o600 });
    const outputsFile = path.join(stateDir, "out", "outputs.json");
    const up = await runNode([CLI, "up", "--state-dir", stateDir, "--password-file", passwordFile, "--outputs", outputsFile], 60_000);
    expect(up.code, up.stderr).to.equal(0);
    expect(up.stdout).to.include(`outputs: ${outputsFile}`);
    expect(up.stderr).to.match(/waiting for .* to answer PING/);
    expect(up.stderr).to.match(/ready in \d+ ms/);
    expect(up.stdout + up.stderr).not.to.include("cli-secret-pw");

    const outputs = JSON.parse(fs.readFileSync(outputsFile, "utf8")) as StackOutputs;
    expect(outputs.password).to.equal("cli-secret-pw");
    expect(mode(outputsFile)).to.equal(0o600);
    const state = readStackRecord(path.join(stateDir, "state.json"));
    expect(state?.nodes).to.have.length(7);
    // The CLI has exited; its servers run on.
    expect((await redisCli(outputs.standalone.port, ["PING"], { password: "cli-secret-pw" })).stdout.trim()).to.equal("PONG");
    expect((await clusterInfo(outputs.cluster.seeds[0].port, "cli-secret-pw")).get("cluster_state")).to.equal("ok");

    const again = await runNode([CLI, "up", "--state-dir", stateDir, "-q"], 60_000);
    expect(again.code).to.equal(1);
    expect(again.stderr).to.include("already up");

    const status = await runNode([CLI, "status", "--state-dir", stateDir], 60_000);
    expect(status.code).to.equal(0);
    expect(status.stdout).to.include("7 of 7 redis-server processes running");

    const down = await runNode([CLI, "down", "--state-dir", stateDir], 60_000);
    expect(down.code, down.stderr).to.equal(0);
    const ports = [outputs.standalone.port, ...outputs.cluster.seeds.map((s) => s.port)];
    expect(redisServersOnPorts(ports)).to.deep.equal([]);
    expect(fs.existsSync(state?.dir as string)).to.equal(false);
    expect(fs.existsSync(outputsFile)).to.equal(false);
    expect(fs.existsSync(path.join(stateDir, "state.json"))).to.equal(false);

    const statusDown = await runNode([CLI, "status", "--state-dir", stateDir], 60_000);
    expect(statusDown.code).to.equal(3);
    const downAgain = await runNode([CLI, "down", "--state-dir", stateDir], 60_000);
    expect(downAgain.code).to.equal(0);
    expect(downAgain.stdout).to.include("no local stack is up");
  });

  it("rejects bad options with a clear message and exit code 2", async function () {
    this.timeout(60_000);
    const bad = await runNode([CLI, "up", "--state-dir", stateDir, "--persistence", "sometimes"], 60_000);
    expect(bad.code).to.equal(2);
    expect(bad.stderr).to.include('--persistence: "sometimes" is not one of none, rdb, aof');
    expect(fs.existsSync(path.join(stateDir, "state.json"))).to.equal(false);
  });
});
