/**
 * End to end on a real Docker engine: the resources the Pulumi program declares are replayed
 * (test/e2e/replay), the cluster forms, and clients on the host reach the standalone server
 * and all three masters through the published 127.0.0.1 ports and the exported natMap.
 *
 * Needs a running engine (scripts/ensure-docker.sh) and fails — never skips — without one.
 * Traffic goes only to 127.0.0.1 and to the networks this test creates.
 */
import { execFile } from "node:child_process";
import * as path from "node:path";
import { expect } from "chai";
import Redis, { Cluster } from "ioredis";
import { createClient, loadConfig, waitUntilReady, type StackOutputs } from "@redis-on-docker/connector";
import { defineRedisStack } from "../../infra/program";
import { validateStackSettings, type StackSettings } from "../../infra/settings";
import { CONTAINER_TYPE, ContainerExitError, DockerReplay, sweepLeftovers, type ContainerInspect } from "./replay/applyToDocker";
import { readStackConfigFile } from "./replay/ciStackConfig";
import { DockerEngine } from "./replay/dockerEngine";
import { freePortRun, freeSubnet, randomPassword, uniqueNamePrefix } from "./replay/freeResources";
import { recordProgram, type RecordedResource } from "./replay/recordProgram";
import { ReplayUpdateError, replayProgram } from "./replay/replayProgram";

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
  const clients: Array<{ disconnect(): void }> = [];
  let settings: StackSettings;
  let resources: RecordedResource[];
  let outputs: StackOutputs;
  let mainReplay: DockerReplay;
  /** One key per master (container address), chosen by the cluster's own slot map. */
  let masterKeys: Array<{ master: string; key: string }>;
  let removeSignalHandlers: () => void = () => undefined;

  const cleanupAll = async (): Promise<void> => {
    for (const c of clients.splice(0)) c.disconnect();
    const errors: string[] = [];
    for (const r of replays.splice(0)) await r.cleanup().catch((e: Error) => errors.push(e.message));
    if (errors.length) throw new Error(errors.join("\n"));
  };

  const newReplay = (s: StackSettings, skip?: (r: RecordedResource) => boolean): DockerReplay => {
    const r = new DockerReplay(engine, {
      runId: s.namePrefix,
      skip,
      attachTimeoutMs: (s.bootstrapTimeoutSec + 30) * 1000,
      log: process.env.E2E_VERBOSE ? (line) => console.log(`      [replay] ${line}`) : undefined,
    });
    replays.push(r);
    return r;
  };

  const program = (s: StackSettings) => () => defineRedisStack(s);

  before(async function () {
    this.timeout(240_000);
    await requireEngine(engine);
    await sweepLeftovers(engine);
    await run("bash", ["scripts/build-redis-image.sh"], 180_000);
    removeSignalHandlers = cleanupOnSignal(cleanupAll);

    settings = await ciSettings(engine, {});
    mainReplay = newReplay(settings);
    const result = await replayProgram({ program: program(settings), project: PROJECT, stack: STACK, replay: mainReplay });
    resources = result.resources;
    outputs = result.exports as unknown as StackOutputs;
    masterKeys = await keysOnEveryMaster();
  });

  after(async function () {
    this.timeout(120_000);
    removeSignalHandlers();
    await cleanupAll();
  });

  const password = (): string => settings.password ?? "";
  const containers = (): RecordedResource[] => resources.filter((r) => r.type === CONTAINER_TYPE);
  const direct = (host: string, port: number, withPassword = true): Redis => {
    const client = new Redis({
      host,
      port,
      password: withPassword ? password() : undefined,
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

  it("exports the outputs document for the host: published 127.0.0.1 ports and a natMap for every node", () => {
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
    for (const r of containers()) {
      const inspect = await mainReplay.inspect(String(r.inputs.name));
      const text = JSON.stringify(inspect);
      expect(text.includes(password()), `password in docker inspect of ${inspect.Name}`).to.equal(false);
      for (const [port, bindings] of Object.entries(inspect.HostConfig.PortBindings ?? {})) {
        for (const b of bindings) expect(b.HostIp, `${inspect.Name} ${port}`).to.equal("127.0.0.1");
      }
    }
  });

  it("standalone: SET/GET through the published port, and the password is required", async () => {
    const client = direct(outputs.standalone.host, outputs.standalone.port);
    await client.connect();
    await client.set("e2e:standalone", "works");
    expect(await client.get("e2e:standalone")).to.equal("works");
    expect(await client.call("CONFIG", "GET", "cluster-enabled")).to.deep.equal(["cluster-enabled", "no"]);

    const anonymous = direct(outputs.standalone.host, outputs.standalone.port, false);
    await anonymous.connect();
    let error: Error | undefined;
    await anonymous.get("e2e:standalone").catch((e: Error) => (error = e));
    expect(error?.message).to.match(/NOAUTH/);
  });

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

  it("cluster: three masters, and ioredis Cluster with the natMap puts a key on each", async () => {
    expect(masterKeys.map((m) => m.master)).to.have.length(settings.clusterNodes / (settings.replicasPerMaster + 1));
    const cluster = new Cluster(outputs.cluster.seeds, {
      natMap: outputs.cluster.natMap,
      redisOptions: { password: password(), connectTimeout: COMMAND_TIMEOUT_MS, commandTimeout: COMMAND_TIMEOUT_MS },
      slotsRefreshTimeout: COMMAND_TIMEOUT_MS,
      clusterRetryStrategy: (times) => (times > 3 ? null : 200),
    });
    clients.push(cluster);
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

  it("a second run of the bootstrap on the formed cluster exits 0 and changes nothing", async function () {
    this.timeout((settings.bootstrapTimeoutSec + 40) * 1000);
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
        // Drop the ping/pong timestamps: they change by themselves.
        const stable = mine.split(" ").filter((_, i) => i !== 4 && i !== 5).join(" ");
        out.push({ id, currentEpoch: field("cluster_current_epoch"), myEpoch: field("cluster_my_epoch"), nodesLine: stable });
        node.disconnect();
      }
      return out;
    };
    const before = await identities();
    const bootstrap = containers().find((r) => r.inputs.attach === true);
    expect(bootstrap, "a one-shot (attach) container in the program").to.not.equal(undefined);

    // As `pulumi up --replace` would: remove the finished job, create and run it again.
    await mainReplay.removeContainer(String(bootstrap!.inputs.name));
    await replayProgram({ program: program(settings), project: PROJECT, stack: STACK, replay: mainReplay, resources: [bootstrap!] });
    const rerun = mainReplay.applied.get(bootstrap!.name);
    expect(rerun?.exitCode).to.equal(0);

    expect(await identities()).to.deep.equal(before);
  });

  describe("a bootstrap against a node that never comes up", () => {
    it("fails with a non-zero exit and a message naming the node, within its bound", async function () {
      const boundSec = 8;
      this.timeout((boundSec + 90) * 1000);
      const s = await ciSettings(engine, { "redis-on-docker:bootstrapTimeoutSec": String(boundSec) });
      const { resources: declared } = await recordProgram(program(s), { project: PROJECT, stack: STACK });
      const nodes = declared.filter((r) => r.type === CONTAINER_TYPE && r.inputs.attach !== true && /-node-/.test(String(r.inputs.name)));
      const missing = nodes[nodes.length - 1];
      const missingIp = ((missing.inputs.networksAdvanced as Array<{ ipv4Address: string }>)[0] ?? {}).ipv4Address;
      expect(missingIp, "the missing node's static IP").to.be.a("string");

      const skipped = new Set([missing.urn]);
      // The standalone server plays no part here; leaving it out saves time.
      for (const r of declared) if (r.type === CONTAINER_TYPE && /-standalone$/.test(String(r.inputs.name))) skipped.add(r.urn);
      const replay = newReplay(s, (r) => skipped.has(r.urn));

      let failure: unknown;
      await replayProgram({ program: program(s), project: PROJECT, stack: STACK, replay, resources: declared }).catch((e) => (failure = e));
      expect(failure, "the update must fail").to.be.instanceOf(ReplayUpdateError);
      const exit = (failure as ReplayUpdateError).containerExit;
      expect(exit).to.be.instanceOf(ContainerExitError);
      expect(exit.exitCode).to.not.equal(0);
      expect(exit.elapsedMs).to.be.lessThan((boundSec + 15) * 1000);
      expect(exit.logs).to.include(missingIp);
      // The program's own check turns the exit code into the update's error, with the job's output.
      expect((failure as Error).message).to.match(/bootstrap/).and.to.include(missingIp);

      for (const r of declared.filter((d) => d.type === CONTAINER_TYPE && !skipped.has(d.urn))) {
        const inspect: ContainerInspect = await replay.inspect(String(r.inputs.name));
        expect(JSON.stringify(inspect).includes(s.password ?? "")).to.equal(false);
      }
      await replay.cleanup();
    });
  });
});
