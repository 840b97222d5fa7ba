/**
 * `RedisOnDocker` across Docker hosts, on real engines: three simulated hosts (network
 * namespaces, test/support/simulatedHosts.ts), one dockerd inside each with its own data root,
 * exec root and socket, and one `docker.Provider` per host. The replay (test/e2e/replay) sends
 * each resource to the engine of its provider. `up` must form the cluster across hosts with the
 * bootstrap job on the first host; then a connector client in the root namespace (seeds = the
 * hosts' addresses, no natMap) writes and reads a key in every slot, every node agrees, and no
 * master shares a host with its replica; `destroy` removes every resource.
 *
 * Needs root, iproute2, nsenter and docker.io (dockerd), and the image redis-local:7.0.15 on the
 * main engine (scripts/build-redis-image.sh); without root or iproute2 it skips and prints why.
 * 30-70 s here, load-dependent (3 engines 4-11 s, up 13-33 s, checks 2-6 s, destroy 4-5 s); docs/testing.md.
 */
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { createAsyncClient, loadConfig, type StackOutputs } from "@redis-on-docker/connector";
import { RedisOnDocker, type RedisOnDockerHost } from "@redis-on-docker/pulumi";
import { agreedView } from "../support/clusterAgreement";
import { SimulatedHosts, simulatedHostsUnavailable } from "../support/simulatedHosts";
import { CONTAINER_TYPE, DockerReplay } from "./replay/applyToDocker";
import { DockerEngine } from "./replay/dockerEngine";
import { startExtraDockerd, sweepExtraDockerds, type ExtraDockerd } from "./replay/extraDockerd";
import { freeSubnet, randomPassword, uniqueNamePrefix } from "./replay/freeResources";
import { ReplayStack } from "./replay/replayStack";

// ioredis's own slot function (it ships no types).
const calculateSlot = require("cluster-key-slot") as (key: string) => number;

const IMAGE = "redis-local:7.0.15";
const HOST_NAMES = ["host-a", "host-b", "host-c"];
const BOOTSTRAP_TIMEOUT_SEC = 60;
const COMMAND_TIMEOUT_MS = 5000;

/** Keys that hash to every one of the 16384 slots: `k{<n>}` for enough n (CRC16 spreads them). */
function keysForEverySlot(slotOf: (key: string) => number): Map<number, string> {
  const bySlot = new Map<number, string>();
  for (let n = 0; bySlot.size < 16384; n++) {
    const key = `mh:${n}`;
    const slot = slotOf(key);
    if (!bySlot.has(slot)) bySlot.set(slot, key);
  }
  return bySlot;
}

describe("e2e: RedisOnDocker across three Docker hosts (one dockerd per network namespace)", function () {
  this.timeout(60_000);
  const skipReason = simulatedHostsUnavailable();

  const main = new DockerEngine();
  let hosts: SimulatedHosts | undefined;
  const dockerds: ExtraDockerd[] = [];
  const replays: DockerReplay[] = [];
  let stack: ReplayStack | undefined;
  const clients: Array<{ disconnect(): void }> = [];
  const password = randomPassword();
  const namePrefix = uniqueNamePrefix();
  let subnet: string;
  let program: () => unknown;
  let outputs: StackOutputs;
  const timings: Record<string, number> = {};
  let removeSignalHandlers: () => void = () => undefined;

  const cleanupAll = async (): Promise<void> => {
    const errors: string[] = [];
    for (const c of clients.splice(0)) c.disconnect();
    for (const r of replays.splice(0)) await r.cleanup().catch((e: Error) => errors.push(e.message));
    // The daemons before the namespaces: a namespace's destroy would SIGKILL its dockerd and leave its mounts.
    for (const d of dockerds.splice(0)) await d.stop().catch((e: Error) => errors.push(`dockerd ${d.dir}: ${e.message}`));
    try {
      hosts?.destroy();
      const left = hosts?.leftovers() ?? [];
      if (left.length > 0) errors.push(`left behind: ${left.join(", ")}`);
    } catch (e) {
      errors.push((e as Error).message);
    }
    hosts = undefined;
    if (errors.length > 0) throw new Error(errors.join("\n"));
  };

  before(async function () {
    if (skipReason !== undefined) {
      console.log(`      skipped: ${skipReason}`);
      this.skip();
    }
    this.timeout(180_000);
    const started = Date.now();
    const handler = (signal: NodeJS.Signals): void => {
      void cleanupAll().finally(() => process.kill(process.pid, signal));
    };
    process.once("SIGINT", handler);
    process.once("SIGTERM", handler);
    removeSignalHandlers = () => {
      process.removeListener("SIGINT", handler);
      process.removeListener("SIGTERM", handler);
    };
    await main.ping();
    await sweepExtraDockerds();
    hosts = SimulatedHosts.create(HOST_NAMES);
    // Started one by one: three daemons at once on two shared cores only contend.
    for (const host of hosts.hosts) {
      dockerds.push(await startExtraDockerd({ daemonArgs: [], images: [IMAGE], from: main, netns: host.netns, timeoutMs: 60_000 }));
    }
    timings.enginesMs = Date.now() - started;
    // The networks live in the namespaces, but a subnet free on the main engine is free of the hosts' range too.
    subnet = await freeSubnet(main);
    const bySocket = new Map<string, DockerReplay>();
    dockerds.forEach((d, i) => {
      const replay = new DockerReplay(d.engine, {
        runId: `${namePrefix}-${HOST_NAMES[i]}`,
        attachTimeoutMs: (BOOTSTRAP_TIMEOUT_SEC + 30) * 1000,
        log: process.env.E2E_VERBOSE ? (line) => console.log(`      [${HOST_NAMES[i]}] ${line}`) : undefined,
      });
      replays.push(replay);
      bySocket.set(`unix://${d.engine.socketPath}`, replay);
    });
    // A resource without a provider would land on the main engine (the first test asserts there is none).
    const noDefault = new DockerReplay(main, { runId: `${namePrefix}-default`, attachTimeoutMs: 1000 });
    replays.push(noDefault);
    stack = new ReplayStack(noDefault, {
      project: "redis-on-docker",
      stack: "multihost",
      timeoutMs: (BOOTSTRAP_TIMEOUT_SEC + 150) * 1000,
      engineForProvider: (host, name) => {
        const found = bySocket.get(host);
        if (found === undefined) throw new Error(`provider ${name}: ${host} is none of the simulated hosts' engines`);
        return found;
      },
    });
    const simulated = hosts.hosts;
    program = () => {
      const withProviders: RedisOnDockerHost[] = simulated.map((h, i) => ({
        name: h.name,
        address: h.address,
        bindAddress: h.address,
        provider: new docker.Provider(`docker-${h.name}`, { host: `unix://${dockerds[i].engine.socketPath}` }),
      }));
      const redis = new RedisOnDocker("redis", {
        password: pulumi.secret(password),
        hosts: withProviders,
        image: IMAGE,
        namePrefix,
        subnet,
        clusterNodes: 6,
        replicasPerMaster: 1,
        // Published on each namespace's own address: no port of the machine's is taken.
        hostPortBase: 17400,
        nodeTimeoutMs: 3000,
        persistence: "none",
        bootstrapTimeoutSec: BOOTSTRAP_TIMEOUT_SEC,
      });
      return redis.outputs();
    };
    const upStarted = Date.now();
    outputs = (await stack.up(program)) as unknown as StackOutputs;
    timings.upMs = Date.now() - upStarted;
  });

  after(async function () {
    this.timeout(120_000);
    removeSignalHandlers();
    await cleanupAll();
    if (Object.keys(timings).length > 0) console.log(`      timings: ${JSON.stringify(timings)}`);
  });

  it("puts every resource on its host's engine and none on the main engine; the job ran on the first host", function () {
    const containers = [...stack!.state.values()].filter((e) => e.type === CONTAINER_TYPE);
    for (const e of stack!.state.values()) expect(e.provider, `${e.name} has a host's provider`).to.match(/^docker-host-[abc]@unix:/);
    const job = containers.filter((e) => e.inputs.attach === true);
    expect(job, "one bootstrap job").to.have.length(1);
    expect(job[0].provider).to.equal(`docker-host-a@unix://${dockerds[0].engine.socketPath}`);
    expect(job[0].outputs.exitCode).to.equal(0);
    const nodesPerHost = HOST_NAMES.map((h) => containers.filter((e) => e.provider?.startsWith(`docker-${h}@`) && /-node-\d+$/.test(e.name)).length);
    expect(nodesPerHost, "cluster nodes per host").to.deep.equal([2, 2, 2]);
  });

  it("exports the hosts' addresses as seeds and no natMap", function () {
    const addresses = hosts!.hosts.map((h) => h.address);
    expect(outputs.cluster.seeds).to.have.length(6);
    for (const seed of outputs.cluster.seeds) expect(addresses).to.include(seed.host);
    expect(outputs.cluster.natMap ?? {}).to.deep.equal({});
  });

  it("serves every slot to a connector client outside the hosts; every node agrees; no master shares a host with its replica", async function () {
    const started = Date.now();
    const config = loadConfig({ outputs, env: {}, overrides: { topology: "cluster", form: "async", commandTimeoutMs: COMMAND_TIMEOUT_MS } });
    const client = createAsyncClient(config as typeof config & { topology: "cluster" });
    clients.push(client);
    const keys = keysForEverySlot(calculateSlot);
    // A cluster pipeline must stay on one node: plain commands, 1024 in flight at a time.
    const entries = [...keys];
    const failures: string[] = [];
    const values: Array<string | null> = [];
    for (let i = 0; i < entries.length; i += 1024) {
      const batch = entries.slice(i, i + 1024);
      const set = await Promise.allSettled(batch.map(([slot, key]) => client.set(key, `v${slot}`)));
      set.forEach((r, j) => r.status === "rejected" && failures.push(`SET ${batch[j][1]}: ${String(r.reason)}`));
      values.push(...(await Promise.all(batch.map(([, key]) => client.get(key)))));
    }
    expect(failures.slice(0, 3)).to.deep.equal([]);
    expect(values).to.deep.equal(entries.map(([slot]) => `v${slot}`));

    const view = await agreedView(outputs.cluster.seeds, password);
    const hostOf = (n: { host: string }): string => hosts!.hosts.find((h) => h.address === n.host)?.name ?? `unknown ${n.host}`;
    for (const node of view.values()) expect(hostOf(node), `${node.host}:${node.port} announces a host address`).to.not.match(/^unknown/);
    const sharing = [...view.values()]
      .filter((n) => n.role === "replica")
      .filter((r) => hostOf(view.get(r.masterId!)!) === hostOf(r))
      .map((r) => `${r.host}:${r.port} replicates a master on its own host`);
    expect(sharing).to.deep.equal([]);
    timings.clientChecksMs = Date.now() - started;
  });

  it("destroy removes every resource from every engine", async function () {
    const started = Date.now();
    for (const c of clients.splice(0)) c.disconnect();
    await stack!.destroy();
    timings.destroyMs = Date.now() - started;
    expect([...stack!.state.keys()]).to.deep.equal([]);
    for (const d of dockerds) {
      const containers = await d.engine.request<unknown[]>({ method: "GET", path: "/containers/json?all=1", timeoutMs: 10_000 });
      expect(containers, `containers left on ${d.dir}`).to.deep.equal([]);
    }
  });
});
