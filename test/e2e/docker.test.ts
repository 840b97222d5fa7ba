/**
 * End to end on a real Docker engine: the Pulumi program runs with the replayed Docker provider
 * (test/e2e/replay), the cluster forms, and clients on the host reach the standalone server
 * and all three masters through the published 127.0.0.1 ports and the exported natMap. Then the
 * stack's life goes on as a user's would: (a) first up, (b) up with no change, (c) a password
 * change with persistence aof, (d) a node removed by hand (with its data) then refresh + up,
 * (e) destroy.
 *
 * Needs a running engine (scripts/ensure-docker.sh) and fails — never skips — without one.
 * Traffic goes only to 127.0.0.1 and to the networks this test creates.
 */
import { execFile } from "node:child_process";
import * as net from "node:net";
import { statSync } from "node:fs";
import * as path from "node:path";
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import Redis, { Cluster } from "ioredis";
import { createClient, loadConfig, waitUntilReady, type StackOutputs } from "@redis-on-docker/connector";
import { defineRedisStack } from "../../infra/program";
import { planTopology, validateStackSettings, type StackSettings } from "@redis-on-docker/topology";
import { agreedView } from "../support/clusterAgreement";
import { CONTAINER_TYPE, NETWORK_TYPE, VOLUME_TYPE, DockerReplay, sweepLeftovers, type ContainerInspect } from "./replay/applyToDocker";
import { readStackConfigFile } from "./replay/ciStackConfig";
import { DockerEngine } from "./replay/dockerEngine";
import { startExtraDockerd, sweepExtraDockerds, type ExtraDockerd } from "./replay/extraDockerd";
import { freePortRun, freeSubnet, randomPassword, uniqueNamePrefix } from "./replay/freeResources";
import { ReplayStack, summarisePlan, type StateEntry, type Step } from "./replay/replayStack";
import { DAEMON_FILLED_CONTAINER_INPUTS } from "../../pulumi/src/components/daemonDefaults";

const ROOT = path.resolve(__dirname, "../..");
const PROJECT = "redis-on-docker";
const STACK = "ci";
const COMMAND_TIMEOUT_MS = 5000;

function run(file: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { cwd: ROOT, timeout: timeoutMs, killSignal: "SIGKILL" }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(" ")} failed: ${err.message}\n${stderr}`));
      else resolve(stdout + stderr);
    });
  });
}

/** Pulumi.ci.yaml with the run's own free values, validated like `pulumi up --stack ci` would. */
async function ciSettings(engine: DockerEngine, overrides: Record<string, string>): Promise<StackSettings> {
  const config = readStackConfigFile(path.join(ROOT, "Pulumi.ci.yaml"));
  const nodes = Number(config["redis-on-docker:clusterNodes"] ?? 6);
  return validateStackSettings(
    {
      ...config,
      "redis-on-docker:namePrefix": uniqueNamePrefix(),
      "redis-on-docker:subnet": await freeSubnet(engine),
      "redis-on-docker:hostPortBase": String(await freePortRun(nodes + 1)),
      "redis-on-docker:password": randomPassword(),
      ...overrides,
    },
    "Pulumi.ci.yaml (+ e2e overrides)",
  );
}

/** The Docker engine must answer; the reason is the failure message otherwise. */
async function requireEngine(engine: DockerEngine): Promise<void> {
  try {
    await engine.ping();
  } catch (e) {
    throw new Error(
      `the Docker engine at ${engine.socketPath} is not available (${(e as Error).message}); ` +
        "start it with `bash scripts/ensure-docker.sh` (as root). The e2e test does not skip.",
    );
  }
}

/** Runs cleanups on SIGINT/SIGTERM too, so an interrupted run leaves nothing behind. */
function cleanupOnSignal(cleanup: () => Promise<void>): () => void {
  const handler = (signal: NodeJS.Signals): void => {
    void cleanup().finally(() => process.kill(process.pid, signal));
  };
  process.once("SIGINT", handler);
  process.once("SIGTERM", handler);
  return () => {
    process.removeListener("SIGINT", handler);
    process.removeListener("SIGTERM", handler);
  };
}

interface NodeIdentity {
  id: string;
  currentEpoch: string;
  myEpoch: string;
  nodesLine: string;
}

describe("e2e: the Pulumi program replayed on a real Docker engine", function () {
  this.timeout(60_000);
  const engine = new DockerEngine();
  const replays: DockerReplay[] = [];
  /** Extra engines some scenarios start; stopped (and their dirs removed) after the replays' cleanup. */
  const extraDockerds: ExtraDockerd[] = [];
  const clients: Array<{ disconnect(): void }> = [];
  let settings: StackSettings;
  let outputs: StackOutputs;
  let docker: DockerReplay;
  let stack: ReplayStack;
  /** One key per master (container address), chosen by the cluster's own slot map. */
  let masterKeys: Array<{ master: string; key: string }>;
  let removeSignalHandlers: () => void = () => undefined;

  const cleanupAll = async (): Promise<void> => {
    for (const c of clients.splice(0)) c.disconnect();
    const errors: string[] = [];
    for (const r of replays.splice(0)) await r.cleanup().catch((e: Error) => errors.push(e.message));
    for (const d of extraDockerds.splice(0)) await d.stop().catch((e: Error) => errors.push(`extra dockerd ${d.dir}: ${e.message}`));
    if (errors.length) throw new Error(errors.join("\n"));
  };

  const newStack = (s: StackSettings, skip?: (type: string, name: string) => boolean, on: DockerEngine = engine): ReplayStack => {
    const replay = new DockerReplay(on, {
      runId: s.namePrefix,
      attachTimeoutMs: (s.bootstrapTimeoutSec + 30) * 1000,
      log: process.env.E2E_VERBOSE ? (line) => console.log(`      [replay] ${line}`) : undefined,
    });
    replays.push(replay);
    return new ReplayStack(replay, { project: PROJECT, stack: STACK, timeoutMs: (s.bootstrapTimeoutSec + 150) * 1000, skip });
  };

  const program = (s: StackSettings) => () => defineRedisStack(s);
  const up = async (s: StackSettings, opts: { replace?: string[] } = {}): Promise<StackOutputs> =>
    (await stack.up(program(s), opts)) as unknown as StackOutputs;

  before(async function () {
    this.timeout(300_000);
    await requireEngine(engine);
    await sweepLeftovers(engine);
    await sweepExtraDockerds();
    await run("bash", ["scripts/build-redis-image.sh"], 180_000);
    removeSignalHandlers = cleanupOnSignal(cleanupAll);

    // aof: scenario (c) checks that data outlives the containers.
    settings = await ciSettings(engine, { "redis-on-docker:persistence": "aof" });
    stack = newStack(settings);
    docker = stack.docker;
    outputs = await up(settings);
    masterKeys = await keysOnEveryMaster();
  });

  after(async function () {
    this.timeout(120_000);
    removeSignalHandlers();
    await cleanupAll();
  });

  const password = (): string => settings.password ?? "";
  const entries = (type: string): StateEntry[] => [...stack.state.values()].filter((e) => e.type === type);
  const containers = (): StateEntry[] => entries(CONTAINER_TYPE);
  const bootstrapEntry = (): StateEntry => {
    const found = containers().filter((e) => e.inputs.attach === true);
    expect(found, "one one-shot (attach) container").to.have.length(1);
    return found[0];
  };
  const nodeEntries = (): StateEntry[] => containers().filter((e) => /-node-\d+$/.test(e.name));
  const containerIds = (): Record<string, string> => Object.fromEntries(containers().map((e) => [e.name, e.id]));
  /** What the last up's preview listed, counted per type and step (the apply was checked against it). */
  const previewed = (on: ReplayStack = stack): Record<string, number> => summarisePlan(on.lastPreview);
  const stepsOf = (steps: Step[], type: string): Record<string, string> =>
    Object.fromEntries(steps.filter((s) => s.type === type).map((s) => [s.name, s.op]));

  const direct = (host: string, port: number, withPassword = true, pw = password()): Redis => {
    const client = new Redis({
      host,
      port,
      password: withPassword ? pw : undefined,
      connectTimeout: COMMAND_TIMEOUT_MS,
      commandTimeout: COMMAND_TIMEOUT_MS,
      maxRetriesPerRequest: 1,
      retryStrategy: () => null,
      lazyConnect: true,
      // Without a password the ready check (INFO) itself gets NOAUTH; the test wants to see that on a command.
      enableReadyCheck: withPassword,
    });
    clients.push(client);
    return client;
  };
  /** The host address of a node the cluster announces by its container address. */
  const viaNatMap = (internalHost: string, internalPort: number): { host: string; port: number } => {
    const mapped = outputs.cluster.natMap[`${internalHost}:${internalPort}`];
    if (!mapped) throw new Error(`natMap has no entry for ${internalHost}:${internalPort}: ${JSON.stringify(outputs.cluster.natMap)}`);
    return mapped;
  };

  /** Each node's id, epochs and own CLUSTER NODES line (less timestamps): what a re-create would change. */
  const identities = async (): Promise<NodeIdentity[]> => {
    const out: NodeIdentity[] = [];
    for (const seed of outputs.cluster.seeds) {
      const node = direct(seed.host, seed.port);
      await node.connect();
      const id = String(await node.call("CLUSTER", "MYID"));
      const info = String(await node.call("CLUSTER", "INFO"));
      const nodes = String(await node.call("CLUSTER", "NODES"));
      const field = (name: string): string => new RegExp(`^${name}:(\\S+)`, "m").exec(info)?.[1] ?? "";
      const mine = nodes.split("\n").find((l) => l.startsWith(id)) ?? "";
      // Drop the ping/pong timestamps and the link state: they change by themselves.
      const stable = mine.split(" ").filter((_, i) => i !== 4 && i !== 5 && i !== 7).join(" ");
      out.push({ id, currentEpoch: field("cluster_current_epoch"), myEpoch: field("cluster_my_epoch"), nodesLine: stable });
      node.disconnect();
    }
    return out;
  };

  describe("(a) first up", () => {
    // Clients of this stage hold the first password; (c) changes it.
    after(() => {
      for (const c of clients.splice(0)) c.disconnect();
    });

    it("exports the outputs document for the host: published 127.0.0.1 ports and a natMap for every node", () => {
      expect(previewed(), "the first up's preview").to.deep.equal({ "RemoteImage create": 1, "Network create": 1, "Volume create": 7, "Container create": 8 });
      expect(outputs.schemaVersion).to.equal(1);
      expect(outputs.redisImage).to.equal(settings.image);
      expect(outputs.passwordRequired).to.equal(true);
      expect(outputs.password).to.equal(password());
      expect(outputs.standalone).to.include({ host: "127.0.0.1", port: settings.hostPortBase });
      expect(outputs.cluster.seeds).to.have.length(settings.clusterNodes);
      expect(Object.keys(outputs.cluster.natMap)).to.have.length(settings.clusterNodes);
    });

    it("publishes every port on 127.0.0.1 only and keeps the password out of every container's config", async () => {
      expect(containers().length).to.equal(settings.clusterNodes + 2); // nodes + standalone + bootstrap
      for (const e of containers()) {
        const inspect = await docker.inspect(e.id);
        const text = JSON.stringify(inspect);
        expect(text.includes(password()), `password in docker inspect of ${inspect.Name}`).to.equal(false);
        for (const [port, bindings] of Object.entries(inspect.HostConfig.PortBindings ?? {})) {
          for (const b of bindings) expect(b.HostIp, `${inspect.Name} ${port}`).to.equal("127.0.0.1");
        }
      }
    });

    it("the job ran with a TTY: its containerLogs, as the provider keeps them, are plain UTF-8 lines", async () => {
      const job = bootstrapEntry();
      expect((await docker.inspect(job.id)).Config.Tty).to.equal(true);
      expect(job.outputs.exitCode).to.equal(0);
      const logs = String(job.outputs.containerLogs);
      // The replay already refused invalid UTF-8 (as the engine's gRPC does); no frame header bytes either.
      expect(/[\x00-\x08\x0b-\x1f\x7f]/.test(logs), "control bytes (frame headers, colour codes) in containerLogs").to.equal(false);
      expect(logs).to.include("cluster ready");
      expect(logs.split("\n").some((l) => Buffer.byteLength(l) >= 128), "a line long enough to have broken a frame header").to.equal(true);
    });

    it("the network hands out dynamic addresses (the job's) from its ipRange only, away from every static address", async () => {
      const [network] = entries(NETWORK_TYPE);
      const [ipam] = network.inputs.ipamConfigs as Array<{ subnet: string; ipRange: string }>;
      const onEngine = await engine.request<{ IPAM: { Config: Array<{ Subnet: string; IPRange?: string; Gateway?: string }> } }>({
        method: "GET",
        path: `/networks/${encodeURIComponent(network.id)}`,
        timeoutMs: 10_000,
      });
      expect(onEngine.IPAM.Config).to.deep.equal([{ Subnet: ipam.subnet, IPRange: ipam.ipRange, Gateway: onEngine.IPAM.Config[0].Gateway }]);
      const [rangeBase, rangePrefix] = ipam.ipRange.split("/");
      const toInt = (ip: string): number => ip.split(".").reduce((acc, p) => ((acc << 8) | Number(p)) >>> 0, 0);
      for (const e of containers().filter((c) => c.inputs.attach !== true)) {
        const ip = (e.inputs.networksAdvanced as Array<{ ipv4Address: string }>)[0].ipv4Address;
        expect(toInt(ip) >>> (32 - Number(rangePrefix)), `${e.name} ${ip} outside ${ipam.ipRange}`).to.not.equal(toInt(rangeBase) >>> (32 - Number(rangePrefix)));
      }
    });

    it("every redis-server runs as the redis user on a named volume at /data that the redis user owns", async () => {
      const servers = containers().filter((e) => e.inputs.attach !== true);
      expect(servers).to.have.length(7);
      for (const e of servers) {
        const inspect = await docker.inspect(e.id);
        const data = (inspect.Mounts ?? []).filter((m) => m.Destination === "/data");
        expect(data, `${e.name} mounts`).to.have.length(1);
        expect(data[0]).to.include({ Type: "volume", Name: `${e.name}-data` });
        const volume = await engine.request<{ Mountpoint: string }>({ method: "GET", path: `/volumes/${encodeURIComponent(data[0].Name!)}`, timeoutMs: 10_000 });
        expect(statSync(volume.Mountpoint).uid, `${data[0].Name} owner`).to.equal(999);
        const top = await engine.request<{ Titles: string[]; Processes: string[][] }>({ method: "GET", path: `/containers/${e.id}/top?ps_args=-o%20pid,uid,comm`, timeoutMs: 10_000 });
        const redis = top.Processes.filter((p) => p[2] === "redis-server");
        expect(redis.map((p) => p[1]), `${e.name}: redis-server's uid`).to.deep.equal(["999"]);
      }
      expect(entries(VOLUME_TYPE).map((v) => v.name).sort()).to.deep.equal(servers.map((e) => `${e.name}-data`).sort());
    });

    it("standalone: SET/GET through the published port, and the password is required", async () => {
      const client = direct(outputs.standalone.host, outputs.standalone.port);
      await client.connect();
      await client.set("e2e:standalone", "works");
      expect(await client.get("e2e:standalone")).to.equal("works");
      // INFO, not CONFIG GET: Redis 5 does not return cluster-enabled to CONFIG GET.
      expect(await client.info("cluster")).to.contain("cluster_enabled:0\r\n");

      const anonymous = direct(outputs.standalone.host, outputs.standalone.port, false);
      await anonymous.connect();
      let error: Error | undefined;
      await anonymous.get("e2e:standalone").catch((e: Error) => (error = e));
      expect(error?.message).to.match(/NOAUTH/);
    });

    it("cluster: three masters, and ioredis Cluster with the natMap puts a key on each", async () => {
      expect(masterKeys.map((m) => m.master)).to.have.length(settings.clusterNodes / (settings.replicasPerMaster + 1));
      const cluster = clusterClient(password());
      for (const { master, key } of masterKeys) {
        await cluster.set(key, `ioredis on ${master}`);
        expect(await cluster.get(key)).to.equal(`ioredis on ${master}`);
        expect(await valueOnMaster(master, key)).to.equal(`ioredis on ${master}`);
      }
    });

    /** The subset of the sync facade this test uses: plain calls, no await. */
    interface SyncKeyValue {
      set(key: string, value: string): unknown;
      get(key: string): string | null;
      close(): void;
    }

    for (const topology of ["standalone", "cluster"] as const) {
      for (const form of ["async", "sync"] as const) {
        it(`connector ${topology}/${form}, configured from the outputs document: SET/GET${topology === "cluster" ? " on all three masters" : ""}`, async () => {
          const config = loadConfig({ outputs, env: {}, overrides: { topology, form } });
          const keys = topology === "cluster" ? masterKeys : [{ master: "", key: "e2e:standalone:connector" }];
          const value = (key: string) => `${topology}/${form} ${key}`;
          if (form === "async") {
            const client = createClient({ ...config, form: "async" as const });
            clients.push(client);
            await waitUntilReady(client, COMMAND_TIMEOUT_MS);
            for (const { key } of keys) {
              await client.set(key, value(key));
              expect(await client.get(key)).to.equal(value(key));
            }
          } else {
            const client = createClient({ ...config, form: "sync" as const }) as unknown as SyncKeyValue;
            try {
              for (const { key } of keys) {
                client.set(key, value(key));
                expect(client.get(key)).to.equal(value(key));
              }
            } finally {
              client.close();
            }
          }
          for (const { master, key } of keys) {
            if (topology === "cluster") expect(await valueOnMaster(master, key)).to.equal(value(key));
          }
          if (topology === "standalone") {
            const check = direct(outputs.standalone.host, outputs.standalone.port);
            await check.connect();
            expect(await check.get(keys[0].key)).to.equal(value(keys[0].key));
          }
        });
      }
    }
  });

  describe("(b) a second up with no change", () => {
    it("recreates nothing and leaves the cluster untouched", async function () {
      this.timeout(120_000);
      const idsBefore = containerIds();
      const before = await identities();
      const again = await up(settings);
      expect(previewed(), "preview").to.deep.equal({ "RemoteImage same": 1, "Network same": 1, "Volume same": 7, "Container same": 8 });
      expect(stack.steps.filter((s) => s.op !== "same"), "every step is `same`").to.deep.equal([]);
      expect(containerIds()).to.deep.equal(idsBefore);
      expect(again).to.deep.equal(outputs);
      expect(await identities()).to.deep.equal(before);
    });

    it("`pulumi up --replace` of the job runs the bootstrap again: it exits 0 and changes nothing", async function () {
      this.timeout((settings.bootstrapTimeoutSec + 60) * 1000);
      const before = await identities();
      const job = bootstrapEntry();
      await up(settings, { replace: [job.name] });
      expect(stack.lastPreview.filter((p) => p.op !== "same").map((p) => `${p.op} ${p.name} ${p.because.join(",")}`)).to.deep.equal([`replace ${job.name} --replace`]);
      expect(stack.steps.filter((s) => s.op !== "same")).to.deep.equal([{ op: "replace", type: CONTAINER_TYPE, name: job.name }]);
      expect(bootstrapEntry().id).to.not.equal(job.id);
      expect(bootstrapEntry().outputs.exitCode).to.equal(0);
      expect(String(bootstrapEntry().outputs.containerLogs)).to.include("cluster already formed");
      expect(await identities()).to.deep.equal(before);
    });
  });

  /** Writes one key per master and one on the standalone, with `pw`; returns key -> value. */
  async function writeMarkers(tag: string, pw: string): Promise<Map<string, string>> {
    const written = new Map<string, string>();
    const cluster = clusterClient(pw);
    for (const { key } of masterKeys) {
      await cluster.set(`${key}:${tag}`, `${tag} ${key}`);
      written.set(`${key}:${tag}`, `${tag} ${key}`);
    }
    const standalone = direct(outputs.standalone.host, outputs.standalone.port, true, pw);
    await standalone.connect();
    await standalone.set(`e2e:standalone:${tag}`, `${tag} standalone`);
    cluster.disconnect();
    standalone.disconnect();
    return written;
  }

  async function expectMarkers(tag: string, written: Map<string, string>, pw: string): Promise<void> {
    const cluster = clusterClient(pw);
    for (const [key, value] of written) expect(await cluster.get(key), key).to.equal(value);
    const standalone = direct(outputs.standalone.host, outputs.standalone.port, true, pw);
    await standalone.connect();
    expect(await standalone.get(`e2e:standalone:${tag}`)).to.equal(`${tag} standalone`);
    cluster.disconnect();
    standalone.disconnect();
  }

  describe("(c) a password change with persistence aof", () => {
    it("replaces every container, keeps the volumes and the data; the new password works, the old one not", async function () {
      this.timeout(240_000);
      const oldPassword = password();
      const written = await writeMarkers("before-password-change", oldPassword);
      const idsBefore = containerIds();
      const nodeIdsBefore = (await identities()).map((i) => i.id);
      const volumesBefore = entries(VOLUME_TYPE).map((v) => v.id).sort();

      settings = { ...settings, password: randomPassword() };
      outputs = await up(settings);
      expect(outputs.password).to.equal(password());
      expect(previewed(), "preview").to.deep.equal({ "RemoteImage same": 1, "Network same": 1, "Volume same": 7, "Container replace (delete first)": 8 });
      const containerSteps = stepsOf(stack.steps, CONTAINER_TYPE);
      expect(Object.values(containerSteps), JSON.stringify(containerSteps)).to.deep.equal(Array(8).fill("replace"));
      expect(Object.values(stepsOf(stack.steps, VOLUME_TYPE))).to.deep.equal(Array(7).fill("same"));
      expect(Object.values(stepsOf(stack.steps, NETWORK_TYPE))).to.deep.equal(["same"]);
      for (const [name, id] of Object.entries(containerIds())) expect(id, `${name} is a new container`).to.not.equal(idsBefore[name]);
      expect(entries(VOLUME_TYPE).map((v) => v.id).sort()).to.deep.equal(volumesBefore);

      // Same volumes: each node kept its cluster identity (nodes.conf) and its data (AOF).
      expect((await identities()).map((i) => i.id)).to.deep.equal(nodeIdsBefore);
      await expectMarkers("before-password-change", written, password());
      await agreedView(outputs.cluster.seeds, password());

      const stale = direct(outputs.standalone.host, outputs.standalone.port, false);
      await stale.connect();
      let refused: Error | undefined;
      await stale.call("AUTH", oldPassword).catch((e: Error) => (refused = e));
      // Redis 7 says WRONGPASS, Redis 5 "invalid password".
      expect(refused?.message, "the old password is refused").to.match(/WRONGPASS|invalid password/);
    });
  });

  /** The node container at `ip` and its line in a seed's CLUSTER NODES. */
  async function nodeAt(pick: (flags: string[]) => boolean): Promise<{ entry: StateEntry; id: string; ip: string }> {
    const seed = direct(outputs.cluster.seeds[0].host, outputs.cluster.seeds[0].port);
    await seed.connect();
    const view = String(await seed.call("CLUSTER", "NODES")).trim().split("\n").map((l) => l.split(" "));
    seed.disconnect();
    const line = view.find((f) => pick(f[2].split(",")))!;
    const ip = line[1].split(":")[0];
    const entry = nodeEntries().find((e) => (e.inputs.networksAdvanced as Array<{ ipv4Address: string }>)[0].ipv4Address === ip)!;
    expect(entry, `the node container at ${ip}`).to.not.equal(undefined);
    return { entry, id: line[0], ip };
  }

  describe("(d) a node stopped, then refresh (which deletes it: mustRun) + up; its volume is kept", () => {
    it("the node comes back with its identity and data; every node agrees on 3+3", async function () {
      this.timeout(240_000);
      const written = await writeMarkers("before-master-removal", password());
      const idsBefore = (await identities()).map((i) => i.id).sort();
      const master = await nodeAt((flags) => flags.includes("master"));
      // The story of the issue: a node is down while `pulumi refresh` runs.
      await engine.requestRaw({ method: "POST", path: `/containers/${master.entry.id}/stop?t=10`, timeoutMs: 30_000 });

      const refreshed = await stack.refresh();
      expect(refreshed.map((s) => `${s.op} ${s.name}`)).to.deep.equal([`gone ${master.entry.name}`]);
      expect(await docker.inspectIfExists(master.entry.id), "the provider's read deleted the stopped container").to.equal(undefined);
      await up(settings);
      const changed = stack.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`).sort();
      expect(changed).to.deep.equal([`create ${master.entry.name}`, `replace ${bootstrapEntry().name}`].sort());
      expect(previewed(), "preview").to.deep.equal({ "RemoteImage same": 1, "Network same": 1, "Volume same": 7, "Container same": 6, "Container create": 1, "Container replace (delete first)": 1 });
      // nodes.conf on the kept volume: the same node ids (whether or not its replica took over meanwhile).
      expect((await identities()).map((i) => i.id).sort()).to.deep.equal(idsBefore);
      await agreedView(outputs.cluster.seeds, password());
      await expectMarkers("before-master-removal", written, password());
    });
  });

  describe("(d) a node container removed by hand with its data volume, then refresh + up", () => {
    it("the node comes back empty, the bootstrap heals the cluster to 3+3 and every node agrees", async function () {
      this.timeout(240_000);
      const written = await writeMarkers("before-heal", password());
      // A replica: its data is on its master, so nothing is lost by removing it with its volume.
      const replica = await nodeAt((flags) => flags.includes("slave"));
      const victim = replica.entry;
      const replicaIp = replica.ip;
      const replicaLine = [replica.id];
      const oldJob = bootstrapEntry().id;

      // What a user (or `docker system prune --volumes`) would do; the state does not know yet.
      await engine.request({ method: "DELETE", path: `/containers/${victim.id}?force=1`, timeoutMs: 30_000 });
      await engine.request({ method: "DELETE", path: `/volumes/${encodeURIComponent(`${victim.name}-data`)}`, timeoutMs: 30_000 });

      const refreshed = await stack.refresh();
      expect(refreshed.map((s) => `${s.op} ${s.name}`).sort()).to.deep.equal([`gone ${victim.name}`, `gone ${victim.name}-data`].sort());
      await up(settings);
      const changed = stack.steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.name}`).sort();
      expect(changed).to.deep.equal([`create ${victim.name}`, `create ${victim.name}-data`, `replace ${bootstrapEntry().name}`].sort());
      expect(previewed(), "preview").to.deep.equal({ "RemoteImage same": 1, "Network same": 1, "Volume same": 6, "Volume create": 1, "Container same": 6, "Container create": 1, "Container replace (delete first)": 1 });
      expect(bootstrapEntry().id).to.not.equal(oldJob);
      const logs = String(bootstrapEntry().outputs.containerLogs);
      expect(logs).to.include(`heal: forgot the stale node id ${replicaLine[0]}`);
      expect(logs).to.match(new RegExp(`heal: ${replicaIp.replace(/\./g, "\\.")}:6379 is now a replica of [0-9a-f]{40}`));

      const agreed = await agreedView(outputs.cluster.seeds, password());
      expect([...agreed.keys()], "the old id is forgotten everywhere").to.not.include(replicaLine[0]);
      await expectMarkers("before-heal", written, password());
    });
  });

  describe("(d) a subnet change: every node comes back at a new address on its kept volume", () => {
    it("the bootstrap meets the nodes at their new addresses: same ids, data, and every node agrees", async function () {
      this.timeout(300_000);
      const written = await writeMarkers("before-subnet-change", password());
      const idsBefore = (await identities()).map((i) => i.id).sort();
      const volumesBefore = entries(VOLUME_TYPE).map((v) => v.id).sort();
      settings = { ...settings, subnet: await freeSubnet(engine) };
      outputs = await up(settings);
      const steps = Object.fromEntries(stack.steps.map((st) => [st.name, st.op]));
      // The network is replaced (delete-before-replace, its containers deleted first), so is every container; the volumes stay.
      expect(previewed(), "preview").to.deep.equal({ "RemoteImage same": 1, "Network replace (delete first)": 1, "Volume same": 7, "Container replace (delete first)": 8 });
      expect(Object.values(stepsOf(stack.steps, NETWORK_TYPE))).to.deep.equal(["replace"]);
      expect(Object.values(stepsOf(stack.steps, CONTAINER_TYPE)), JSON.stringify(steps)).to.deep.equal(Array(8).fill("replace"));
      expect(Object.values(stepsOf(stack.steps, VOLUME_TYPE))).to.deep.equal(Array(7).fill("same"));
      expect(entries(VOLUME_TYPE).map((v) => v.id).sort()).to.deep.equal(volumesBefore);
      expect(String(bootstrapEntry().outputs.containerLogs)).to.include("re-introducing");
      expect((await identities()).map((i) => i.id).sort()).to.deep.equal(idsBefore);
      const agreed = await agreedView(outputs.cluster.seeds, password());
      const prefix = settings.subnet.split(".").slice(0, 3).join(".");
      for (const n of agreed.values()) expect(n.host.startsWith(`${prefix}.`), `${n.host} in ${settings.subnet}`).to.equal(true);
      await expectMarkers("before-subnet-change", written, password());
    });
  });

  describe("(e) destroy", () => {
    it("with retainDataVolumes: removes containers and the network, keeps the data volumes on purpose", async function () {
      this.timeout(180_000);
      // A change of resource options only: no step touches Docker.
      settings = { ...settings, retainDataVolumes: true };
      await up(settings);
      expect(previewed(), "preview").to.deep.equal({ "RemoteImage same": 1, "Network same": 1, "Volume same": 7, "Container same": 8 });
      expect(stack.steps.filter((s) => s.op !== "same")).to.deep.equal([]);
      const volumes = entries(VOLUME_TYPE).map((v) => v.id).sort();
      const steps = await stack.destroy();
      expect(steps.filter((s) => s.op === "retain").map((s) => s.name).sort()).to.deep.equal(volumes);
      const left = await docker.leftovers();
      expect({ ...left, volumes: left.volumes.sort() }).to.deep.equal({ containers: [], networks: [], volumes });
      expect(stack.state.size).to.equal(0);
    });
  });

  describe("a daemon with log-opts and default-ulimits (dockerd --log-opt max-size=10m --default-ulimit nofile=4096:8192, as a server's daemon.json)", () => {
    it("a second up changes nothing: no container replaced, the data kept", async function () {
      this.timeout(300_000);
      const started = Date.now();
      const extra = await startExtraDockerd({ daemonArgs: ["--log-opt", "max-size=10m", "--default-ulimit", "nofile=4096:8192"], images: [settings.image], from: engine });
      extraDockerds.push(extra);
      const engineReadyMs = Date.now() - started;
      // The stack's defaults (persistence included): what a user on such a server gets.
      const s = await ciSettings(extra.engine, {});
      extra.allowSubnet(s.subnet);
      const onServer = newStack(s, undefined, extra.engine);
      const out = (await onServer.up(program(s))) as unknown as StackOutputs;
      const serverContainers = [...onServer.state.values()].filter((e) => e.type === CONTAINER_TYPE);
      expect(serverContainers).to.have.length(s.clusterNodes + 2);
      // The provider's read stores the daemon's options in every container's log_opts.
      for (const e of serverContainers) {
        expect(e.outputs.logOpts, `${e.name} log_opts as read back`).to.deep.equal({ "max-size": "10m" });
        expect(e.outputs.ulimits, `${e.name} ulimit as read back`).to.deep.equal([{ name: "nofile", soft: 4096, hard: 8192 }]);
      }

      const pw = s.password ?? "";
      const cluster = new Cluster(out.cluster.seeds, {
        natMap: out.cluster.natMap,
        redisOptions: { password: pw, connectTimeout: COMMAND_TIMEOUT_MS, commandTimeout: COMMAND_TIMEOUT_MS },
        slotsRefreshTimeout: COMMAND_TIMEOUT_MS,
        clusterRetryStrategy: (times) => (times > 3 ? null : 200),
      });
      clients.push(cluster);
      const keys = ["{a}log-opts", "{b}log-opts", "{c}log-opts"];
      for (const k of keys) await cluster.set(k, `kept ${k}`);
      const standalone = new Redis({ host: out.standalone.host, port: out.standalone.port, password: pw, lazyConnect: true, commandTimeout: COMMAND_TIMEOUT_MS, maxRetriesPerRequest: 1 });
      clients.push(standalone);
      await standalone.connect();
      await standalone.set("log-opts", "kept standalone");

      const idsBefore = Object.fromEntries(serverContainers.map((e) => [e.name, e.id]));
      // `pulumi refresh` reads the daemon's options back again; without the daemonDefaults
      // ignoreChanges the preview replaces every container (kreuzwerker#873), with them nothing.
      expect((await onServer.refresh()).map((st) => `${st.op} ${st.name}`)).to.deep.equal([]);
      const unprotected = new ReplayStack(onServer.docker, { ...onServer.options, dropIgnoreChanges: DAEMON_FILLED_CONTAINER_INPUTS });
      for (const [k, e] of onServer.state) unprotected.state.set(k, e);
      const wouldChurn = await unprotected.preview(program(s));
      expect(summarisePlan(wouldChurn), "preview without ignoreChanges").to.deep.equal({ "RemoteImage same": 1, "Network same": 1, "Volume same": 7, "Container replace (delete first)": 8 });
      for (const p of wouldChurn.filter((x) => x.type === CONTAINER_TYPE)) expect(p.because.join(" "), p.name).to.include('logOpts (read back {"max-size":"10m"})');
      const secondUpStarted = Date.now();
      await onServer.up(program(s));
      expect(previewed(onServer), "preview").to.deep.equal({ "RemoteImage same": 1, "Network same": 1, "Volume same": 7, "Container same": 8 });
      expect(onServer.steps.filter((st) => st.op !== "same").map((st) => `${st.op} ${st.name}`), "every step of the second up is `same`").to.deep.equal([]);
      const idsAfter = Object.fromEntries([...onServer.state.values()].filter((e) => e.type === CONTAINER_TYPE).map((e) => [e.name, e.id]));
      expect(idsAfter).to.deep.equal(idsBefore);
      for (const k of keys) expect(await cluster.get(k), k).to.equal(`kept ${k}`);
      expect(await standalone.get("log-opts")).to.equal("kept standalone");
      if (process.env.E2E_VERBOSE) {
        console.log(`      extra dockerd + image load ${engineReadyMs} ms; second up ${Date.now() - secondUpStarted} ms; whole scenario ${Date.now() - started} ms`);
      }
    });
  });

  describe("a node whose create failed (its host port held by another process)", () => {
    it("the next plain up says which `--replace` retries it; that up then forms the cluster", async function () {
      this.timeout(420_000);
      // A short bound for the job while the node is broken; the fixing up uses the default.
      const s = await ciSettings(engine, { "redis-on-docker:bootstrapTimeoutSec": "8" });
      const victim = planTopology(s).clusterNodes[2];
      const held = net.createServer();
      await new Promise<void>((resolve, reject) => {
        held.once("error", reject);
        held.listen({ host: "127.0.0.1", port: victim.hostPort, exclusive: true }, resolve);
      });
      const stack3 = newStack(s);
      let failure: unknown;
      try {
        await stack3.up(program(s)).catch((e) => (failure = e));
      } finally {
        await new Promise((resolve) => held.close(resolve));
      }
      // The provider fails the step after creating the container: the engine keeps it with initErrors.
      expect(String(failure)).to.match(/Unable to start container/);
      expect(stack3.entry(victim.name).initErrors, "saved with init errors").to.have.length(1);

      // The cause is gone; a plain `pulumi up` only "updates" the node (a no-op in the provider).
      let second: unknown;
      await stack3.up(program(s)).catch((e) => (second = e));
      expect(stack3.steps.find((st) => st.name === victim.name)?.op).to.equal("update");
      expect(stack3.lastPreview.find((p) => p.name === victim.name)).to.include({ op: "update" }).and.to.have.property("because").that.deep.equals(["initErrors"]);
      expect(pulumi.RunError.isInstance(second), String(second)).to.equal(true);
      const message = (second as Error).message;
      expect(message).to.include(`node ${victim.ip}:${victim.port} did not answer PING`);
      expect(message).to.match(new RegExp(`pulumi up --replace 'urn:pulumi:[^']*::${victim.name}'`));

      // What the message says: replace that node (with the default bound again).
      const fixed = { ...s, bootstrapTimeoutSec: settings.bootstrapTimeoutSec };
      const out = (await stack3.up(program(fixed), { replace: [victim.name] })) as unknown as StackOutputs;
      const changed = stack3.steps.filter((st) => st.op !== "same").map((st) => `${st.op} ${st.name}`).sort();
      expect(changed).to.include(`replace ${victim.name}`);
      expect(stack3.entry(victim.name).initErrors).to.equal(undefined);
      await agreedView(out.cluster.seeds, s.password ?? "");
      await stack3.destroy();
      expect(await stack3.docker.leftovers()).to.deep.equal({ containers: [], networks: [], volumes: [] });
    });
  });

  describe("a bootstrap against a node that never comes up", () => {
    it("fails the update with the program's RunError naming the node, within its bound; destroy then leaves nothing", async function () {
      const boundSec = 8;
      this.timeout((boundSec + 150) * 1000);
      const s = await ciSettings(engine, { "redis-on-docker:bootstrapTimeoutSec": String(boundSec) });
      const missingName = `${s.namePrefix}-node-5`;
      // The standalone server plays no part here; leaving it out saves time.
      const failing = newStack(s, (type, name) => type === CONTAINER_TYPE && (name === missingName || name === `${s.namePrefix}-standalone`));
      const began = Date.now();
      let failure: unknown;
      await failing.up(program(s)).catch((e) => (failure = e));
      expect(pulumi.RunError.isInstance(failure), `a RunError (message only, no stack trace): ${String(failure)}`).to.equal(true);
      const missingIp = (failing.entry(missingName).inputs.networksAdvanced as Array<{ ipv4Address: string }>)[0].ipv4Address;
      expect((failure as Error).message).to.match(/bootstrap job .* exited with code [1-9]/).and.to.include(missingIp);
      expect((failure as Error).message).to.include("pulumi up --replace");
      expect(Date.now() - began).to.be.lessThan((boundSec + 60) * 1000);
      // The job is in the state with its exit code, as the provider records it.
      const job = [...failing.state.values()].find((e) => e.inputs.attach === true)!;
      expect(job.outputs.exitCode).to.not.equal(0);
      for (const e of [...failing.state.values()].filter((x) => x.type === CONTAINER_TYPE && !x.id.startsWith("skipped-"))) {
        const inspect: ContainerInspect = await failing.docker.inspect(e.id);
        expect(JSON.stringify(inspect).includes(s.password ?? "")).to.equal(false);
      }

      await failing.destroy();
      expect(await failing.docker.leftovers()).to.deep.equal({ containers: [], networks: [], volumes: [] });
    });
  });

  /** An ioredis Cluster through the natMap, closed by the suite. */
  function clusterClient(pw: string): Cluster {
    const cluster = new Cluster(outputs.cluster.seeds, {
      natMap: outputs.cluster.natMap,
      redisOptions: { password: pw, connectTimeout: COMMAND_TIMEOUT_MS, commandTimeout: COMMAND_TIMEOUT_MS },
      slotsRefreshTimeout: COMMAND_TIMEOUT_MS,
      clusterRetryStrategy: (times) => (times > 3 ? null : 200),
    });
    clients.push(cluster);
    return cluster;
  }

  /** Slot ranges by master as a node reports them, and a key for each master's ranges. */
  async function keysOnEveryMaster(): Promise<Array<{ master: string; key: string }>> {
    const seed = direct(outputs.cluster.seeds[0].host, outputs.cluster.seeds[0].port);
    await seed.connect();
    const slots = (await seed.call("CLUSTER", "SLOTS")) as Array<[number, number, [string, number, ...unknown[]]]>;
    const ranges = new Map<string, Array<[number, number]>>();
    for (const [from, to, [host, port]] of slots) ranges.set(`${host}:${port}`, [...(ranges.get(`${host}:${port}`) ?? []), [from, to]]);
    const out: Array<{ master: string; key: string }> = [];
    for (const [master, owned] of ranges) {
      for (let i = 0; i < 10_000; i++) {
        const slot = Number(await seed.call("CLUSTER", "KEYSLOT", `e2e:key:${i}`));
        if (owned.some(([from, to]) => slot >= from && slot <= to)) {
          out.push({ master, key: `e2e:key:${i}` });
          break;
        }
      }
    }
    seed.disconnect();
    return out;
  }

  /** Reads `key` straight from `master`'s published port: there, not MOVED. */
  async function valueOnMaster(master: string, key: string): Promise<string | null> {
    const [host, port] = master.split(":");
    const hostSide = viaNatMap(host, Number(port));
    const node = direct(hostSide.host, hostSide.port);
    await node.connect();
    try {
      return await node.get(key);
    } finally {
      node.disconnect();
    }
  }
});
