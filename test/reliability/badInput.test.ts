/**
 * Bad input, data-driven: malformed env vars, config files, outputs documents and Pulumi
 * stack config. Each must give one clear error naming the setting and its source, exit
 * non-zero (CLI), never print the password, finish within a bound, and leave no file or
 * process behind.
 *
 * The CLI cases run the built CLI (`connector/dist/cli.js`) as a user would: `check` reads
 * REDIS_* env and --config-file, `env` reads an outputs document. The Pulumi cases run the
 * program's own config reader (`readStackSettings`, which is what `pulumi up` runs first)
 * under Pulumi's mocks, with the config as Pulumi hands it over (strings).
 */
import { expect } from "chai";
import path from "node:path";
import { readStackSettings } from "../../infra/program";
import { SettingError } from "@redis-on-docker/topology";
import { runMocked } from "../support/pulumiMocks";
import { startLocalStack, type LocalStack } from "@redis-on-docker/local";
import { probeRedis } from "../../local/src/redisProbe";
import { withNode } from "./support/clusterProbe";
import { runBounded, type BoundedResult } from "./support/boundedRun";
import { startOwnRedis, type OwnRedis } from "./support/ownRedis";

const CLI = path.resolve(__dirname, "../../connector/dist/cli.js");
/** Distinctive, with a space, quotes and non-ASCII: any echo of it (or of its core) is caught. */
const SECRET = `bi-Zq8vK "dq" 'sq' Sécr3t✓`;
const SECRET_CORE = "bi-Zq8vK";
const CLI_BOUND_MS = 15_000;

interface Expectation {
  /** Substrings the error line must contain: the setting (path or env var; for a whole unreadable document, the document)... */
  setting: string;
  /** ...and the source (env var, or the kind of file and its name). */
  source: string[];
}

interface CliCase {
  name: string;
  kind: "env" | "config file" | "outputs document";
  args: string[];
  env?: Record<string, string>;
  files?: Record<string, string>;
  expect: Expectation;
}

interface StackCase {
  name: string;
  /** Raw stack config, as in `Pulumi.dev.yaml` (values are strings). */
  config: Record<string, string>;
  setting: string;
}

/** A valid outputs document (the contract), which cases break one field at a time. */
function outputsDocument() {
  const seeds = [7001, 7002, 7003, 7004, 7005, 7006].map((port) => ({ host: "127.0.0.1", port }));
  return {
    schemaVersion: 1,
    redisImage: "redis:5.0.4",
    redisVersion: "5.0.4",
    passwordRequired: true,
    password: SECRET,
    standalone: { host: "127.0.0.1", port: 7000, internalHost: "172.28.0.10", internalPort: 6379 },
    cluster: {
      seeds,
      internalSeeds: seeds.map((_, i) => ({ host: `172.28.0.${11 + i}`, port: 6379 })),
      natMap: Object.fromEntries(seeds.map((s, i) => [`172.28.0.${11 + i}:6379`, s])),
      replicasPerMaster: 1,
    },
  };
}

type OutputsDocument = ReturnType<typeof outputsDocument>;

/** The valid document with one change; casts let a case put a wrongly typed value in. */
function outputsWith(change: (doc: OutputsDocument) => void): string {
  const doc = outputsDocument();
  change(doc);
  return JSON.stringify(doc, null, 2);
}

// Env cases run `check` with REDIS_PASSWORD set to the secret, as an app's environment would.
const envCase = (name: string, env: Record<string, string>, setting: string): CliCase => ({
  name,
  kind: "env",
  args: [CLI, "check"],
  env: { REDIS_PASSWORD: SECRET, ...env },
  expect: { setting, source: [`env ${setting}`] },
});
const fileCase = (name: string, content: string, setting: string): CliCase => ({
  name,
  kind: "config file",
  args: [CLI, "check", "--config-file", "{dir}/redis.json"],
  env: {},
  files: { "redis.json": content },
  expect: { setting, source: ["config file", "redis.json"] },
});
const outputsCase = (name: string, content: string, setting: string): CliCase => ({
  name,
  kind: "outputs document",
  args: [CLI, "env", "--file", "{dir}/outputs.json", "--format", "shell", "--include-secrets"],
  files: { "outputs.json": content },
  expect: { setting, source: ["stack outputs", "outputs.json"] },
});

const CLI_CASES: CliCase[] = [
  envCase("port not a number", { REDIS_PORT: "six-three-seven-nine" }, "REDIS_PORT"),
  envCase("port out of range", { REDIS_PORT: "70000" }, "REDIS_PORT"),
  envCase("port zero", { REDIS_PORT: "0" }, "REDIS_PORT"),
  envCase("unknown topology", { REDIS_TOPOLOGY: "mesh" }, "REDIS_TOPOLOGY"),
  envCase("unknown form", { REDIS_FORM: "blocking" }, "REDIS_FORM"),
  envCase("cluster with an empty node list", { REDIS_TOPOLOGY: "cluster", REDIS_CLUSTER_NODES: "" }, "REDIS_CLUSTER_NODES"),
  envCase("duplicate cluster nodes", { REDIS_TOPOLOGY: "cluster", REDIS_CLUSTER_NODES: "127.0.0.1:7001,127.0.0.1:7001" }, "REDIS_CLUSTER_NODES"),
  envCase("cluster node without a port", { REDIS_TOPOLOGY: "cluster", REDIS_CLUSTER_NODES: "127.0.0.1" }, "REDIS_CLUSTER_NODES"),
  envCase("malformed natMap (no =)", { REDIS_CLUSTER_NAT_MAP: "172.28.0.11:6379->127.0.0.1:7001" }, "REDIS_CLUSTER_NAT_MAP"),
  envCase("natMap JSON target without port", { REDIS_CLUSTER_NAT_MAP: '{"172.28.0.11:6379":{"host":"127.0.0.1"}}' }, "REDIS_CLUSTER_NAT_MAP"),
  envCase("natMap truncated JSON", { REDIS_CLUSTER_NAT_MAP: '{"172.28.0.11:6379":{"host":"127.0.0.1","po' }, "REDIS_CLUSTER_NAT_MAP"),
  envCase("TLS flag not a boolean", { REDIS_TLS: "maybe" }, "REDIS_TLS"),
  envCase("negative command timeout", { REDIS_COMMAND_TIMEOUT_MS: "-5" }, "REDIS_COMMAND_TIMEOUT_MS"),
  envCase("fractional retry count", { REDIS_MAX_RETRIES_PER_REQUEST: "1.5" }, "REDIS_MAX_RETRIES_PER_REQUEST"),
  envCase("unknown scaleReads", { REDIS_CLUSTER_SCALE_READS: "everywhere" }, "REDIS_CLUSTER_SCALE_READS"),
  envCase("password with a line break", { REDIS_PASSWORD: `${SECRET}\nsecond line` }, "REDIS_PASSWORD"),
  envCase("username with a space", { REDIS_USERNAME: "app user" }, "REDIS_USERNAME"),

  fileCase("unknown key", JSON.stringify({ prot: 6379, password: SECRET }), "prot"),
  fileCase("unknown nested key", JSON.stringify({ standalone: { hots: "127.0.0.1" }, password: SECRET }), "standalone.hots"),
  fileCase("port of the wrong type", JSON.stringify({ standalone: { port: "six" }, password: SECRET }), "standalone.port"),
  fileCase("port out of range (with a password in the file)", JSON.stringify({ password: SECRET, standalone: { port: 99999 } }), "standalone.port"),
  fileCase("truncated JSON (cut inside the password)", JSON.stringify({ standalone: { port: 7000 }, password: SECRET }).slice(0, 52), "config file"),
  fileCase("unknown topology", JSON.stringify({ topology: "ring", password: SECRET }), "topology"),
  fileCase("natMap key not ip:port", JSON.stringify({ cluster: { natMap: { "node-a": { host: "127.0.0.1", port: 7001 } } }, password: SECRET }), "cluster.natMap"),
  fileCase("cluster nodes not a list", JSON.stringify({ topology: "cluster", cluster: { nodes: 7001 }, password: SECRET }), "cluster.nodes"),

  outputsCase("truncated JSON (cut after the password)", outputsWith(() => undefined).slice(0, 160), "stack outputs"),
  outputsCase("unknown top-level key", outputsWith((d) => ((d as Record<string, unknown>).extra = true)), "extra"),
  outputsCase("empty seed list", outputsWith((d) => (d.cluster.seeds = [])), "cluster.seeds"),
  outputsCase("duplicate seeds", outputsWith((d) => (d.cluster.seeds[1] = { ...d.cluster.seeds[0] })), "cluster.seeds[1]"),
  outputsCase("standalone port out of range", outputsWith((d) => (d.standalone.port = 70000)), "standalone.port"),
  outputsCase("seed port of the wrong type", outputsWith((d) => ((d.cluster.seeds[2] as { port: unknown }).port = "7003")), "cluster.seeds[2].port"),
  outputsCase("natMap key not ip:port", outputsWith((d) => (d.cluster.natMap = { "redis-node-0": { host: "127.0.0.1", port: 7001 } })), "cluster.natMap"),
  outputsCase("natMap target missing its port", outputsWith((d) => ((d.cluster.natMap as Record<string, unknown>)["172.28.0.11:6379"] = { host: "127.0.0.1" })), "cluster.natMap"),
  outputsCase("unknown schema version", outputsWith((d) => ((d as { schemaVersion: number }).schemaVersion = 2)), "schemaVersion"),
  outputsCase("password required but empty", outputsWith((d) => (d.password = "")), "password"),
  outputsCase("Pulumi's [secret] placeholder instead of the password", outputsWith((d) => (d.password = "[secret]")), "password"),
  outputsCase("seeds given as a string", outputsWith((d) => ((d.cluster as { seeds: unknown }).seeds = "127.0.0.1:7001")), "cluster.seeds"),
];

const STACK_CASES: StackCase[] = [
  { name: "clusterNodes not a number", config: { "redis-on-docker:clusterNodes": "six" }, setting: "redis-on-docker:clusterNodes" },
  { name: "too few nodes for 3 masters with replicas", config: { "redis-on-docker:clusterNodes": "4" }, setting: "redis-on-docker:clusterNodes" },
  { name: "host port base out of range", config: { "redis-on-docker:hostPortBase": "70000" }, setting: "redis-on-docker:hostPortBase" },
  { name: "host ports run past 65535", config: { "redis-on-docker:hostPortBase": "65530" }, setting: "redis-on-docker:hostPortBase" },
  { name: "misspelt key holding the password", config: { "redis-on-docker:pasword": SECRET }, setting: "redis-on-docker:pasword" },
  { name: "subnet too small", config: { "redis-on-docker:subnet": "172.28.0.0/29" }, setting: "redis-on-docker:subnet" },
  { name: "subnet not a CIDR", config: { "redis-on-docker:subnet": "172.28.0.0" }, setting: "redis-on-docker:subnet" },
  { name: "image name not a reference", config: { "redis-on-docker:image": "Redis 5.0.4" }, setting: "redis-on-docker:image" },
  { name: "unknown persistence", config: { "redis-on-docker:persistence": "sometimes" }, setting: "redis-on-docker:persistence" },
  { name: "bind address not an IP", config: { "redis-on-docker:hostBindAddress": "localhost" }, setting: "redis-on-docker:hostBindAddress" },
  { name: "allowNoPassword not a boolean", config: { "redis-on-docker:allowNoPassword": "yes" }, setting: "redis-on-docker:allowNoPassword" },
  { name: "password with a line break", config: { "redis-on-docker:password": `${SECRET}\nx` }, setting: "redis-on-docker:password" },
  { name: "node timeout zero", config: { "redis-on-docker:nodeTimeoutMs": "0" }, setting: "redis-on-docker:nodeTimeoutMs" },
];

function expectNoSecret(texts: string[], what: string): void {
  for (const text of texts) {
    expect(text.includes(SECRET), `${what} holds the password`).to.equal(false);
    expect(text.includes(SECRET_CORE), `${what} holds part of the password`).to.equal(false);
  }
}

function describeRun(r: BoundedResult): string {
  return `exit ${r.status} signal ${r.signal} failure ${r.failure} in ${r.elapsedMs} ms; stderr: ${r.stderr.replaceAll(SECRET_CORE, "<SECRET>")}`;
}

describe("reliability: bad input gives one clear, secret-free error", function () {
  this.timeout(30_000);

  it(`has at least 25 cases across env, config files, outputs documents and Pulumi stack config`, function () {
    const kinds = new Set(CLI_CASES.map((c) => c.kind));
    expect([...kinds].sort()).to.deep.equal(["config file", "env", "outputs document"]);
    expect(STACK_CASES.length).to.be.greaterThan(0);
    expect(CLI_CASES.length + STACK_CASES.length).to.be.at.least(25);
  });

  describe("CLI (redis-connector)", function () {
    for (const c of CLI_CASES) {
      it(`${c.kind}: ${c.name}`, function () {
        const r = runBounded(process.execPath, c.args, { env: c.env, files: c.files, timeoutMs: CLI_BOUND_MS });
        expect(r.failure, `bounded run (${describeRun(r)})`).to.equal(undefined);
        expect(r.status, `exit code (${describeRun(r)})`).to.equal(1);
        const lines = r.stderr.trimEnd().split("\n");
        expect(lines, `one error line (${describeRun(r)})`).to.have.length(1);
        expect(lines[0]).to.match(/^redis-connector: /);
        expect(lines[0], "names the setting").to.include(c.expect.setting);
        for (const part of c.expect.source) expect(lines[0], "names the source").to.include(part);
        expect(r.stdout, "nothing on stdout").to.equal("");
        expectNoSecret([r.stdout, r.stderr], "CLI output");
        expect(r.leftoverFiles, "files left behind").to.deep.equal([]);
        expect(r.leftoverProcesses, "processes left behind").to.deep.equal([]);
      });
    }
  });

  describe("Pulumi stack config (readStackSettings under mocks)", function () {
    for (const c of STACK_CASES) {
      it(c.name, async function () {
        const config = { "redis-on-docker:password": "ok-password", ...c.config };
        let caught: unknown;
        const started = Date.now();
        try {
          await runMocked(() => readStackSettings(), { config, stack: "dev", secretKeys: ["redis-on-docker:password"] });
        } catch (error) {
          caught = error;
        }
        expect(Date.now() - started, "bounded").to.be.below(10_000);
        expect(caught, "rejected").to.be.instanceOf(SettingError);
        const error = caught as SettingError;
        expect(error.setting).to.equal(c.setting);
        expect(error.message, "names the setting").to.include(c.setting);
        expect(error.message, "names the source").to.include("Pulumi.dev.yaml");
        expect(error.message.split("\n"), "one line").to.have.length(1);
        expectNoSecret([error.message, String(error.stack)], "the error");
      });
    }
  });

  /*
   * Redis 5 has no ACL users, so a username must never be sent to it. The connector decides
   * from the server's answer to `HELLO 2`. No Redis 6/7 feature sets the test up: the server's
   * own version (INFO server, an oracle independent of that probe) says which answer is right.
   * Here the servers are Redis 7 (ACL users: the username is sent); on a machine whose
   * redis-server is 5.x the other branch runs. Redis 5.0.4's reply itself is covered in
   * test/connector/username.test.ts. The server's command statistics show whether AUTH arrived.
   */
  describe("a username, for the server at hand (the Redis 5 rule)", function () {
    let server: OwnRedis | undefined;
    afterEach(async function () {
      await server?.stop();
      server = undefined;
    });

    it("check: refused before any AUTH where the server has no ACL users (naming REDIS_USERNAME), sent where it has", async function () {
      server = await startOwnRedis(SECRET, []);
      const port = server.port;
      const { run, authSeen, hasAcl } = await withNode({ host: "127.0.0.1", port }, SECRET, async (redis) => {
        const version = Number(/redis_version:(\d+)\./.exec(await redis.info("server"))?.[1]);
        await redis.config("RESETSTAT"); // after this connection's own AUTH
        const run = runBounded(process.execPath, [CLI, "check"], {
          env: { REDIS_PORT: String(port), REDIS_PASSWORD: SECRET, REDIS_USERNAME: "app", REDIS_CONNECT_TIMEOUT_MS: "2000" },
          timeoutMs: CLI_BOUND_MS,
        });
        const stats = await redis.info("commandstats");
        return { run, authSeen: /^cmdstat_auth:/m.test(stats), hasAcl: version >= 6 };
      });
      expect(run.failure, describeRun(run)).to.equal(undefined);
      // No user "app" exists where ACLs do, so check fails either way; what differs is whether AUTH was sent.
      expect(run.status, describeRun(run)).to.equal(1);
      const lines = run.stderr.trimEnd().split("\n");
      expect(lines, describeRun(run)).to.have.length(1);
      expect(lines[0]).to.include("REDIS_USERNAME");
      expect(authSeen, "an AUTH reached the server").to.equal(hasAcl);
      if (!hasAcl) expect(lines[0], "names the server it asked").to.include(`127.0.0.1:${port}`);
      expectNoSecret([run.stdout, run.stderr], "CLI output");
      expect(run.leftoverFiles).to.deep.equal([]);
      expect(run.leftoverProcesses).to.deep.equal([]);
    });
  });

  describe("a password with spaces, quotes, $, backslash and non-ASCII works end to end", function () {
    // No backtick: dotenv cannot quote a value holding ', " and ` at once (the CLI says so).
    const PASSWORD = `e2e Zx9 "dq" 'sq' $HOME \\ ü✓ ${"end"}`;
    let stack: LocalStack | undefined;
    before(async function () {
      this.timeout(30_000);
      stack = await startLocalStack({ password: PASSWORD });
    });
    after(async function () {
      await stack?.stop();
    });

    function envLines(format: "json" | "shell" | "dotenv", topology: "standalone" | "cluster"): string {
      const run = runBounded(process.execPath, [CLI, "env", "--file", (stack as LocalStack).outputsFile, "--format", format, "--topology", topology, "--include-secrets"], { timeoutMs: CLI_BOUND_MS });
      expect(run.status, describeRun(run)).to.equal(0);
      expect(run.stderr, "nothing on stderr").to.equal("");
      return run.stdout;
    }

    it("the outputs document -> env lines round-trip the exact password (json, shell), dotenv refuses what it cannot carry", function () {
      expect(JSON.parse(envLines("json", "standalone")).REDIS_PASSWORD).to.equal(PASSWORD);
      const shell = runBounded("bash", ["-c", '. ./env.sh && printf %s "$REDIS_PASSWORD"'], { files: { "env.sh": envLines("shell", "standalone") } });
      expect(shell.stdout).to.equal(PASSWORD);
      // This password holds ' with " and $: no dotenv quoting reads back the same in node --env-file,
      // dotenv and sh, so dotenv refuses it, naming its readers (test/connector/envRoundTrip.test.ts covers what it carries).
      const dotenv = runBounded(process.execPath, [CLI, "env", "--file", (stack as LocalStack).outputsFile, "--format", "dotenv", "--include-secrets"], { timeoutMs: CLI_BOUND_MS });
      expect(dotenv.status, describeRun(dotenv)).to.equal(1);
      expect(dotenv.stdout).to.equal("");
      expect(dotenv.stderr).to.include("--format dotenv cannot carry").and.to.include("node --env-file").and.not.to.include(PASSWORD);
    });

    for (const topology of ["standalone", "cluster"] as const) {
      it(`${topology}: an app configured only by the CLI's env lines connects (check) and never prints the password`, function () {
        const run = runBounded("bash", ["-c", `. ./env.sh && exec "${process.execPath}" "${CLI}" check`], {
          files: { "env.sh": envLines("shell", topology) },
          timeoutMs: CLI_BOUND_MS,
        });
        expect(run.status, describeRun(run)).to.equal(0);
        expect(run.stdout).to.match(new RegExp(`^ok: ${topology} PONG`));
        expect(run.stdout.includes(PASSWORD) || run.stderr.includes(PASSWORD), "password printed").to.equal(false);
        expect(run.leftoverProcesses).to.deep.equal([]);
      });

      it(`${topology}: both forms (async and sync) SET and GET with config from those env lines`, function () {
        const connector = path.resolve(__dirname, "../../connector");
        // The app reads REDIS_* only; the script text holds no secret.
        const app = [
          `const c = require(${JSON.stringify(connector)});`,
          "(async () => {",
          "  const out = {};",
          "  const asyncClient = await c.connect({ overrides: { form: 'async' } });",
          "  await asyncClient.set('e2e:name', 'async value');",
          "  out.async = await asyncClient.get('e2e:name');",
          "  asyncClient.disconnect();",
          "  const syncClient = c.createClient(c.loadConfig({ overrides: { form: 'sync' } }));",
          "  syncClient.set('e2e:name', 'sync value');",
          "  out.sync = syncClient.get('e2e:name');",
          "  syncClient.close();",
          "  process.stdout.write(JSON.stringify(out));",
          "})().catch((e) => { process.stderr.write(String(e && e.message)); process.exitCode = 1; });",
        ].join("\n");
        const run = runBounded("bash", ["-c", `. ./env.sh && exec "${process.execPath}" app.js`], {
          files: { "env.sh": envLines("shell", topology), "app.js": app },
          timeoutMs: CLI_BOUND_MS,
        });
        expect(run.status, describeRun(run)).to.equal(0);
        expect(JSON.parse(run.stdout)).to.deep.equal({ async: "async value", sync: "sync value" });
        expect(run.stderr.includes(PASSWORD), "password printed").to.equal(false);
        expect(run.leftoverProcesses).to.deep.equal([]);
      });
    }

    it("the password really is required by every server, and this one is accepted", async function () {
      const live = stack as LocalStack;
      for (const port of [live.outputs.standalone.port, ...live.outputs.cluster.seeds.map((s) => s.port)]) {
        const wrong = await probeRedis(port, ["PING"], { password: "not-the-password", timeoutMs: 2000 }).catch((e: unknown) => e);
        expect(String(wrong), `port ${port} with a wrong password`).to.match(/WRONGPASS|invalid password/i);
        expect(await probeRedis(port, ["PING"], { password: PASSWORD, timeoutMs: 2000 }), `port ${port}`).to.equal("PONG");
      }
    });
  });
});
