/**
 * Secrets: the password stays out of every process's argv, log lines, error messages,
 * printed configs and clients, and non-secret Pulumi outputs; the servers really require
 * it (requirepass + masterauth on every node); ports bind to 127.0.0.1 unless the stack
 * config says otherwise; the Pulumi program refuses to deploy without a password unless
 * allowNoPassword is set. (Container command/env checks live in the Docker e2e test.)
 */
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { spawn, spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { format, inspect } from "node:util";
import Redis, { Cluster } from "ioredis";
import {
  ConfigError,
  createClient,
  createReadyClient,
  describeConfig,
  loadConfig,
  waitUntilReady,
  type ConnectorConfig,
} from "@redis-on-docker/connector";
import { defineRedisStack, readStackSettings, type RedisStackExports } from "../../infra/program";
import { SettingError, validateStackSettings } from "@redis-on-docker/topology";
import { nonSecretStrings, runMocked, valueOf, type ExtraState } from "../support/pulumiMocks";
import { useLocalStack } from "../support/localStack";
import { withNode } from "./support/clusterProbe";
import { runBounded } from "./support/boundedRun";
import { asyncKeyValue } from "./support/keyValue";
import { readyAsyncClient, reliabilityConfig } from "./support/stackClients";
import { SyncLoadProcess } from "./support/syncLoad";

/**
 * The refusal text the server's version gives (detected with INFO server): Redis 6+ answers a
 * bad password or user with WRONGPASS; Redis 5 answers AUTH <password> with "ERR invalid
 * password" and has no users (the connector then says REDIS_USERNAME must stay empty).
 */
async function expectedRefusal(outputs: { standalone: { host: string; port: number }; password: string }, what: string): Promise<RegExp> {
  const probe = new Redis({ host: outputs.standalone.host, port: outputs.standalone.port, password: outputs.password, lazyConnect: true, maxRetriesPerRequest: 0, commandTimeout: 2000, connectTimeout: 2000, retryStrategy: () => null });
  try {
    await probe.connect();
    const major = Number(/redis_version:(\d+)/.exec(await probe.info("server"))?.[1]);
    if (major >= 6) return /WRONGPASS/;
    return what.startsWith("wrong username") ? /no ACL users.*REDIS_USERNAME/ : /ERR invalid password/;
  } finally {
    probe.disconnect();
  }
}

const PASSWORD = `sec-Kq3Lm "dq" 'sq' Pässwört ✓`;
const WRONG_PASSWORD = `wrong-Vb7Np "x" ü`;
const CLI = path.resolve(__dirname, "../../connector/dist/cli.js");
const LOCAL_CLI = path.resolve(__dirname, "../../local/dist/cli.js");

/** Lines of `ps -eo args` (every process on the machine) that hold `secret`. */
function argvLinesHolding(secret: string): string[] {
  const ps = spawnSync("ps", ["-eo", "pid,args"], { encoding: "utf8", timeout: 10_000, maxBuffer: 16 * 1024 * 1024 });
  expect(ps.status, "ps ran").to.equal(0);
  return ps.stdout.split("\n").filter((line) => line.includes(secret));
}

/** Every way an app or a JSON logger renders a value: inspect at full depth (and %o), JSON, String. */
function renderings(what: string, value: unknown): Record<string, string> {
  return {
    [`util.inspect(${what}, depth Infinity)`]: inspect(value, { depth: Infinity }),
    [`util.inspect(${what}, showHidden)`]: inspect(value, { depth: Infinity, showHidden: true }),
    [`%o of ${what}`]: format("%o", value),
    [`JSON.stringify(${what})`]: JSON.stringify(value) ?? "",
    [`String(${what})`]: String(value),
    [`stack of ${what}`]: value instanceof Error ? String(value.stack) : "",
  };
}

function expectAbsent(texts: Record<string, string>, secret: string): void {
  for (const [what, text] of Object.entries(texts)) {
    expect(text.includes(secret), `${what} holds the password`).to.equal(false);
  }
}

describe("reliability: secrets", function () {
  this.timeout(60_000);

  describe("with the local runner's stack", function () {
    const logLines: string[] = [];
    const stack = useLocalStack({ password: PASSWORD, log: (line) => logLines.push(line) });

    it("keeps the password out of every process's argv, also while a sync client runs", async function () {
      expect(argvLinesHolding(PASSWORD), "argv while the stack runs").to.deep.equal([]);
      const sync = await SyncLoadProcess.start(
        reliabilityConfig(stack().outputs, "cluster", "sync"),
        { keys: [{ key: "sec:k", shard: "any" }], waitTimeoutMs: 0, pauseMs: 5 },
        15_000,
      );
      try {
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(sync.records.some((r) => r.ok), "the sync client is working").to.equal(true);
        expect(argvLinesHolding(PASSWORD), "argv while a sync client runs").to.deep.equal([]);
      } finally {
        await sync.stop(5000).catch(() => undefined);
        await sync.dispose();
      }
      expectAbsent({ "sync client output": sync.output.join("") }, PASSWORD);
    });

    it("keeps it out of the runner's progress lines and the servers' logs", function () {
      expect(logLines.length, "the runner logged progress").to.be.greaterThan(0);
      expectAbsent({ "runner progress": logLines.join("\n") }, PASSWORD);
      const logs = fs
        .readdirSync(stack().dir, { recursive: true, encoding: "utf8" })
        .filter((f) => f.endsWith(".log"));
      expect(logs.length, "server log files").to.be.greaterThan(0);
      for (const file of logs) expectAbsent({ [file]: fs.readFileSync(path.join(stack().dir, file), "utf8") }, PASSWORD);
    });

    it("sets requirepass and masterauth on every cluster node, and binds every node to 127.0.0.1", async function () {
      const live = stack();
      const cluster = live.nodes.filter((n) => n.role === "cluster");
      expect(cluster).to.have.length(6);
      for (const node of live.nodes) {
        await withNode({ host: "127.0.0.1", port: node.port }, PASSWORD, async (redis) => {
          const [, bind] = (await redis.config("GET", "bind")) as string[];
          expect(bind, `${node.name} bind`).to.equal("127.0.0.1");
          const [, requirepass] = (await redis.config("GET", "requirepass")) as string[];
          // Compared, never printed.
          expect(requirepass === PASSWORD, `${node.name} requirepass is the stack's password`).to.equal(true);
          if (node.role === "cluster") {
            const [, masterauth] = (await redis.config("GET", "masterauth")) as string[];
            expect(masterauth === PASSWORD, `${node.name} masterauth is the stack's password`).to.equal(true);
          }
        });
      }
    });

    it("keeps it out of a printed local stack and its nodes (the outputs document holds it)", function () {
      expect(stack().outputs.password, "the stack really holds it").to.equal(PASSWORD);
      for (const printed of [inspect(stack(), { depth: 10 }), inspect(stack().nodes, { depth: 10 })]) {
        expect(printed).to.include("redis-node-0");
        expect(printed).not.to.include(PASSWORD);
      }
    });

    it("keeps it out of printed configs: inspect, toString, template strings, JSON, describeConfig", function () {
      for (const topology of ["standalone", "cluster"] as const) {
        const config: ConnectorConfig = reliabilityConfig(stack().outputs, topology, "async");
        expect(config.password === PASSWORD, "the config holds the password").to.equal(true);
        expectAbsent(
          {
            "util.inspect(config)": inspect(config, { depth: 10 }),
            "String(config)": String(config),
            "template string": `${config as unknown as string}`,
            "JSON.stringify(config)": JSON.stringify(config),
            describeConfig: describeConfig(config),
            ...renderings("config", config),
          },
          PASSWORD,
        );
      }
    });

    it("keeps it out of printed async clients and every cluster node: inspect at any depth, %o, JSON, String", async function () {
      for (const topology of ["standalone", "cluster"] as const) {
        const client = await readyAsyncClient(reliabilityConfig(stack().outputs, topology, "async"));
        try {
          expect(await asyncKeyValue(client).write("sec:x", 1, "set", 0)).to.equal(-1);
          const objects: Array<[string, unknown]> = [[`${topology} client`, client]];
          if (client instanceof Cluster) {
            const nodes = client.nodes("all");
            expect(nodes.length, "cluster nodes known").to.be.at.least(3);
            nodes.forEach((node, i) => objects.push([`cluster.nodes()[${i}]`, node]));
          }
          for (const [what, object] of objects) expectAbsent(renderings(what, object), PASSWORD);
        } finally {
          client.disconnect();
        }
      }
    });

    it("keeps it out of a printed sync client, also after the app sent AUTH itself: inspect at any depth, %o, JSON, String", function () {
      for (const topology of ["standalone", "cluster"] as const) {
        const client = createClient({ ...reliabilityConfig(stack().outputs, topology, "sync"), form: "sync" as const });
        try {
          // AUTH's arguments travel to the worker through the client's shared request area.
          expect(client.call("AUTH", PASSWORD)).to.equal("OK");
          const texts = renderings(`${topology} sync client`, client);
          expectAbsent(texts, PASSWORD);
          // Nor its bytes, as inspect prints a buffer (<6b 33 ...>) or JSON a Buffer ([107,51,...]).
          const bytes = Buffer.from(PASSWORD);
          expectAbsent(texts, [...bytes].map((b) => b.toString(16).padStart(2, "0")).join(" "));
          expectAbsent(texts, [...bytes].join(","));
          // A JSON logger gets a summary, not the client's buffers (they were megabytes).
          expect(JSON.parse(JSON.stringify(client))).to.deep.equal({ client: "SyncRedisClient", topology, closed: false });
        } finally {
          client.close();
        }
      }
    });

    // Wrong password: the tried one is the secret. Right password with a wrong username: the
    // real one (ioredis keeps the AUTH arguments in error.command.args; a cluster error nests
    // the node's error in lastNodeError).
    const badCredentials = [
      { what: "wrong password", overrides: { password: WRONG_PASSWORD } },
      { what: "wrong username, right password", overrides: { username: "no-such-user" } },
    ];
    for (const bad of badCredentials) {
      it(`keeps the tried and the real password out of connection errors, ${bad.what} (async, sync, CLI), at any depth`, async function () {
        const live = stack();
        for (const topology of ["standalone", "cluster"] as const) {
          const config = loadConfig({
            outputs: live.outputs,
            env: {},
            overrides: { topology, form: "async", connectTimeoutMs: 1500, commandTimeoutMs: 1500, ...bad.overrides },
          });
          // Through createReadyClient (NotReadyError and its lastError), and as the error events and a command see it.
          const seen: Array<[string, unknown]> = [];
          const ready = await createReadyClient(config).then(() => new Error("connected with bad credentials"), (e: Error) => e);
          seen.push([`${topology} createReadyClient error`, ready]);
          const client = createClient({ ...config, form: "async" as const });
          client.on("error", (e: Error) => seen.push([`${topology} error event`, e]));
          client.on("node error", (e: Error) => seen.push([`${topology} node error event`, e]));
          const waited = await waitUntilReady(client, 2000).then(() => new Error("connected with bad credentials"), (e: Error) => e);
          seen.push([`${topology} waitUntilReady error`, waited]);
          seen.push([`${topology} command error`, await client.get("sec:x").then(() => undefined, (e: unknown) => e)]);
          client.disconnect();
          expect(ready.message, `${topology} async error`).to.match(await expectedRefusal(live.outputs, bad.what));
          expect(seen.some(([what]) => what.includes("event")), "error events seen").to.equal(true);

          // The sync client connects when it is created: the error comes from there (or the first call).
          let syncError: unknown;
          try {
            const syncClient = createClient({ ...config, form: "sync" as const });
            try {
              syncClient.get("sec:x");
            } finally {
              syncClient.close();
            }
          } catch (e) {
            syncError = e;
          }
          expect(syncError, `${topology} sync call with bad credentials throws`).to.be.instanceOf(Error);
          seen.push([`${topology} sync error`, syncError]);
          for (const [what, error] of seen) {
            expectAbsent(renderings(what, error), WRONG_PASSWORD);
            expectAbsent(renderings(what, error), PASSWORD);
          }
        }
        const env: Record<string, string> = { REDIS_PORT: String(live.outputs.standalone.port), REDIS_PASSWORD: PASSWORD, REDIS_CONNECT_TIMEOUT_MS: "1500" };
        if ("password" in bad.overrides) env.REDIS_PASSWORD = WRONG_PASSWORD;
        else env.REDIS_USERNAME = "no-such-user";
        const cli = runBounded(process.execPath, [CLI, "check"], { env });
        expect(cli.status, cli.stderr).to.equal(1);
        expectAbsent({ "CLI stdout": cli.stdout, "CLI stderr": cli.stderr }, WRONG_PASSWORD);
        expectAbsent({ "CLI stdout": cli.stdout, "CLI stderr": cli.stderr }, PASSWORD);
      });
    }

    it("keeps it out of config errors even when the password is what is wrong", function () {
      const error = (() => {
        try {
          loadConfig({ env: { REDIS_PASSWORD: `${PASSWORD}\n` } });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).to.be.instanceOf(ConfigError);
      expect((error as ConfigError).envVar).to.equal("REDIS_PASSWORD");
      expectAbsent({ message: (error as Error).message, inspect: inspect(error) }, PASSWORD);
    });
  });

  it("the local runner's CLI: password from a file, never in argv or in its output", async function () {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "reliability-localcli-"));
    const passwordFile = path.join(dir, "password");
    fs.writeFileSync(passwordFile, PASSWORD, { mode: 0o600 });
    const args = ["-r", "ts-node/register/transpile-only", LOCAL_CLI];
    const common = ["--state-dir", path.join(dir, "state"), "--outputs", path.join(dir, "outputs.json")];
    const cwd = path.resolve(__dirname, "../..");
    try {
      const up = await new Promise<{ status: number | null; output: string }>((resolve) => {
        const child = spawn(process.execPath, [...args, "up", ...common, "--password-file", passwordFile], { cwd, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        child.stdout.on("data", (c: Buffer) => (output += c.toString()));
        child.stderr.on("data", (c: Buffer) => (output += c.toString()));
        const timer = setTimeout(() => child.kill("SIGKILL"), 45_000);
        child.once("exit", (status) => {
          clearTimeout(timer);
          resolve({ status, output });
        });
      });
      expect(up.status, up.output).to.equal(0);
      // The background servers are running now.
      expect(argvLinesHolding(PASSWORD), "argv while the CLI's stack runs").to.deep.equal([]);
      const outputs = JSON.parse(fs.readFileSync(path.join(dir, "outputs.json"), "utf8")) as { password: string };
      expect(outputs.password === PASSWORD, "outputs document carries the password").to.equal(true);
      expect((fs.statSync(path.join(dir, "outputs.json")).mode & 0o077), "outputs document is private (0600)").to.equal(0);
      expectAbsent({ "local CLI up output": up.output }, PASSWORD);
    } finally {
      const down = spawnSync(process.execPath, [...args, "down", ...common], { cwd, encoding: "utf8", timeout: 30_000 });
      fs.rmSync(dir, { recursive: true, force: true });
      expect(down.status, `down: ${down.stderr}`).to.equal(0);
      expectAbsent({ "local CLI down output": `${down.stdout}${down.stderr}` }, PASSWORD);
    }
  });

  describe("the Pulumi program (mocks)", function () {
    const bootstrapOk: ExtraState = (type, name) =>
      type === "docker:index/container:Container" && name.endsWith("-cluster-bootstrap") ? { exitCode: 0, containerLogs: "ok\n" } : {};

    async function deploy(config: Record<string, string>) {
      return runMocked(() => defineRedisStack(readStackSettings()), {
        config,
        stack: "dev",
        secretKeys: ["redis-on-docker:password"],
        extraState: bootstrapOk,
      });
    }

    it("exports the password only as a secret, and no other output or resource input holds it", async function () {
      const run = await deploy({ "redis-on-docker:password": PASSWORD });
      const exports: RedisStackExports = run.result;
      for (const [name, output] of Object.entries(exports) as Array<[string, pulumi.Output<unknown>]>) {
        const secret = await pulumi.isSecret(output);
        if (name === "password") {
          expect(secret, "password export is a secret").to.equal(true);
          expect((await valueOf(output)) === PASSWORD).to.equal(true);
        } else {
          expect(secret, `${name} export is not marked secret`).to.equal(false);
          expectAbsent({ [`export ${name}`]: JSON.stringify(await valueOf(output)) }, PASSWORD);
        }
      }
      for (const resource of run.resources) {
        expectAbsent({ [`${resource.type} ${resource.name} non-secret inputs`]: nonSecretStrings(resource.inputs).join("\n") }, PASSWORD);
      }
    });

    it("binds host ports to 127.0.0.1 by default, and to the configured address otherwise", async function () {
      const portIps = async (config: Record<string, string>): Promise<string[]> => {
        const run = await deploy({ "redis-on-docker:password": PASSWORD, ...config });
        return run.resources
          .filter((r) => r.type === "docker:index/container:Container" && Array.isArray(r.inputs.ports))
          .flatMap((r) => (r.inputs.ports as Array<{ ip?: string }>).map((p) => p.ip ?? "(all interfaces)"));
      };
      const defaults = await portIps({});
      expect(defaults, "published ports: standalone + 6 nodes").to.have.length(7);
      expect([...new Set(defaults)]).to.deep.equal(["127.0.0.1"]);
      expect([...new Set(await portIps({ "redis-on-docker:hostBindAddress": "0.0.0.0" }))]).to.deep.equal(["0.0.0.0"]);
    });

    it("refuses to deploy without a password unless allowNoPassword is set", async function () {
      const refused = await deploy({}).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(refused).to.be.instanceOf(SettingError);
      expect((refused as SettingError).setting).to.equal("redis-on-docker:password");
      expect((refused as Error).message).to.include("redis-on-docker:allowNoPassword");

      const open = await deploy({ "redis-on-docker:allowNoPassword": "true" });
      expect(await valueOf(open.result.passwordRequired)).to.equal(false);
      // And the explicit opt-out is all it takes: the same settings validate directly too.
      expect(validateStackSettings({ allowNoPassword: true }).password).to.equal(undefined);
    });
  });
});
