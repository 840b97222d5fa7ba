import { expect } from "chai";
import { execFile, type ExecFileException } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseEnv } from "node:util";
import { loadConfig, SETTINGS, settingSources } from "@redis-on-docker/connector";
import { findFreePorts } from "../../local/src/freePorts";
import { OwnRedisServer } from "./support/ownRedis";
import { AWKWARD_PASSWORD, outputsFixture } from "./support/outputsFixture";

const CLI = path.resolve(__dirname, "../../connector/dist/cli.js");
const CLI_TIMEOUT_MS = 15_000;

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI (bounded); `env` replaces the child's environment. */
function runCli(args: string[], env: NodeJS.ProcessEnv = { PATH: process.env.PATH }): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, ...args], { env, timeout: CLI_TIMEOUT_MS, encoding: "utf8" }, (error, stdout, stderr) => {
      const failure = error as ExecFileException | null;
      if (failure !== null && typeof failure.code !== "number") {
        reject(new Error(`CLI did not finish: ${failure.message}`));
        return;
      }
      resolve({ code: failure === null ? 0 : (failure.code as number), stdout, stderr });
    });
  });
}

function runShell(script: string, env: NodeJS.ProcessEnv): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("bash", ["-c", script], { env, timeout: CLI_TIMEOUT_MS, encoding: "utf8" }, (error, stdout) =>
      error === null ? resolve(stdout) : reject(error),
    );
  });
}

describe("redis-connector CLI", function () {
  this.timeout(60_000);
  let dir: string;
  let outputsFile: string;
  const write = (name: string, text: string): string => {
    const file = path.join(dir, name);
    fs.writeFileSync(file, text);
    return file;
  };

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "connector-cli-"));
    outputsFile = write("outputs.json", JSON.stringify(outputsFixture()));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("--help is generated from the schema: every env var, doc and default", async () => {
    const { code, stdout } = await runCli(["--help"]);
    expect(code).to.equal(0);
    for (const spec of SETTINGS) {
      expect(stdout).to.include(spec.env);
      expect(stdout).to.include(spec.doc);
      if (spec.sensitive !== true) expect(stdout).to.include(`Default ${JSON.stringify(spec.default)}`);
    }
    const envHelp = await runCli(["env", "--help"]);
    expect(envHelp.code).to.equal(0);
    expect(envHelp.stdout).to.include("--include-secrets").and.to.include("REDIS_CLUSTER_NAT_MAP");
  });

  it("shell format: eval'd by bash, every value (an awkward password too) arrives intact", async () => {
    const { code, stdout, stderr } = await runCli(["env", "--file", outputsFile, "--format", "shell", "--topology", "cluster", "--form", "sync", "--include-secrets"]);
    expect(code, stderr).to.equal(0);
    const script = `${stdout}\nprintf '%s\\0' "$REDIS_TOPOLOGY" "$REDIS_FORM" "$REDIS_HOST" "$REDIS_PORT" "$REDIS_CLUSTER_NODES" "$REDIS_CLUSTER_NAT_MAP" "$REDIS_PASSWORD"`;
    const values = (await runShell(script, { PATH: process.env.PATH })).split("\0");
    expect(values.slice(0, 7)).to.deep.equal([
      "cluster",
      "sync",
      "127.0.0.1",
      "7000",
      "127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003",
      "172.28.0.11:6379=127.0.0.1:7001,172.28.0.12:6379=127.0.0.1:7002,172.28.0.13:6379=127.0.0.1:7003",
      AWKWARD_PASSWORD,
    ]);
  });

  it("json format: the lines load back into the same config", async () => {
    const { code, stdout } = await runCli(["env", "--file", outputsFile, "--format", "json", "--topology", "cluster", "--include-secrets"]);
    expect(code).to.equal(0);
    const env = JSON.parse(stdout) as Record<string, string>;
    const config = loadConfig({ env });
    expect(config.topology).to.equal("cluster");
    expect(config.password).to.equal(AWKWARD_PASSWORD);
    expect(config.cluster.nodes).to.deep.equal(outputsFixture().cluster.seeds);
    expect(config.cluster.natMap).to.deep.equal(outputsFixture().cluster.natMap);
    expect(config.standalone).to.deep.include({ host: "127.0.0.1", port: 7000 });
  });

  it("dotenv format: read back by Node's own parser", async () => {
    const password = "p w'ü # x";
    const file = write("outputs-dotenv.json", JSON.stringify(outputsFixture(password)));
    const { code, stdout } = await runCli(["env", "--file", file, "--include-secrets"]);
    expect(code).to.equal(0);
    const env = parseEnv(stdout);
    expect(env.REDIS_PASSWORD).to.equal(password);
    expect(env.REDIS_CLUSTER_NAT_MAP).to.include("172.28.0.11:6379=127.0.0.1:7001");
    expect(loadConfig({ env }).password).to.equal(password);
  });

  it("dotenv refuses, in one line, a password it cannot quote", async () => {
    const { code, stdout, stderr } = await runCli(["env", "--file", outputsFile, "--include-secrets"]);
    expect(code).to.equal(1);
    expect(stdout).to.equal("");
    expect(stderr.trim().split("\n")).to.have.length(1);
    expect(stderr).to.include("REDIS_PASSWORD").and.to.include("--format shell").and.to.include("node --env-file, the dotenv package, sh and bash");
    expect(stderr).not.to.include(AWKWARD_PASSWORD);
  });

  it("--out FILE writes the lines to a file only its owner can read (0600), whatever the umask", async () => {
    const fresh = path.join(dir, "fresh.env");
    const existing = write("existing.env", "old content\n");
    fs.chmodSync(existing, 0o644);
    for (const target of [fresh, existing]) {
      // umask 000: a plain `> file` would give 0666.
      const script = `umask 000 && exec "${process.execPath}" "${CLI}" env --file "${outputsFile}" --format shell --include-secrets --out "${target}"`;
      const stdout = await runShell(script, { PATH: process.env.PATH });
      expect(stdout, "nothing on stdout").to.equal("");
      expect(fs.statSync(target).mode & 0o777, `${path.basename(target)} mode`).to.equal(0o600);
      const values = await runShell(`. "${target}" && printf %s "$REDIS_PASSWORD"`, { PATH: process.env.PATH });
      expect(values === AWKWARD_PASSWORD, "the file holds the password, intact").to.equal(true);
    }
    const help = await runCli(["env", "--help"]);
    expect(help.stdout).to.include("--out FILE").and.to.include("0600");
  });

  it("without --include-secrets the password is left out, with a note on stderr", async () => {
    const { code, stdout, stderr } = await runCli(["env", "--file", outputsFile, "--format", "shell"]);
    expect(code).to.equal(0);
    expect(stdout).not.to.include("REDIS_PASSWORD");
    expect(stdout + stderr).not.to.include(AWKWARD_PASSWORD);
    expect(stderr).to.include("--include-secrets");
  });

  describe("provenance: which source set what", () => {
    const PASSWORD = "prov-Pw 1";
    let server: OwnRedisServer;
    before(async () => {
      server = await OwnRedisServer.start([], PASSWORD);
    });
    after(async () => server?.stop());

    it("loadConfig keeps each setting's source (defaults, config file, stack outputs, env, override)", () => {
      const file = write("prov-config.json", JSON.stringify({ standalone: { host: "127.0.0.2" }, keyPrefix: "k:" }));
      const config = loadConfig({ file, outputs: outputsFixture(""), env: { REDIS_PORT: "7100" }, overrides: { form: "sync" } });
      expect(settingSources(config)).to.deep.include({
        topology: "defaults",
        form: "override",
        keyPrefix: `config file ${file}`,
        "standalone.host": "stack outputs",
        "standalone.port": "env REDIS_PORT",
        "cluster.nodes": "stack outputs",
      });
    });

    it("check prints every setting with its source, the password masked", async () => {
      const file = write("prov-check.json", JSON.stringify({ standalone: { port: 1 }, commandTimeoutMs: 1234 }));
      const { code, stdout, stderr } = await runCli(["check", "--config-file", file],
        { PATH: process.env.PATH, REDIS_PORT: String(server.port), REDIS_PASSWORD: PASSWORD });
      expect(code, stderr).to.equal(0);
      expect(stdout).to.include(`REDIS_PORT=${server.port}  (from env REDIS_PORT)`)
        .and.to.include(`REDIS_COMMAND_TIMEOUT_MS=1234  (from config file ${file})`)
        .and.to.include("REDIS_HOST=127.0.0.1  (from defaults)")
        .and.to.include("REDIS_PASSWORD=[redacted]  (from env REDIS_PASSWORD)");
      for (const spec of SETTINGS) expect(stdout).to.include(`  ${spec.env}=`);
      expect(stdout).not.to.include(PASSWORD);
    });

    it("a connection error names the source of the address when it is not the default", async () => {
      const [closedPort] = await findFreePorts(1, { withBusPort: false });
      const file = write("prov-ok.json", JSON.stringify({ standalone: { port: server.port }, connectTimeoutMs: 1000 }));
      const { code, stderr } = await runCli(["check", "--config-file", file], { PATH: process.env.PATH, REDIS_PORT: String(closedPort) });
      expect(code).to.equal(1);
      expect(stderr).to.include(`127.0.0.1:${closedPort} (port from env REDIS_PORT)`);
    });
  });

  const BAD_INVOCATIONS: Array<{ name: string; args: () => string[]; code: number; message: RegExp; env?: NodeJS.ProcessEnv }> = [
    { name: "no outputs document", args: () => ["env"], code: 2, message: /--file outputs\.json or --stack/ },
    { name: "both --file and --stack", args: () => ["env", "--file", outputsFile, "--stack", "dev"], code: 2, message: /not both/ },
    { name: "unknown option", args: () => ["env", "--file", outputsFile, "--bogus"], code: 2, message: /Unknown option '--bogus'/ },
    { name: "unknown format", args: () => ["env", "--file", outputsFile, "--format", "yaml"], code: 2, message: /--format must be one of dotenv, shell, json/ },
    { name: "unknown topology", args: () => ["env", "--file", outputsFile, "--topology", "sentinel"], code: 2, message: /--topology must be one of/ },
    { name: "unknown command", args: () => ["start"], code: 2, message: /unknown command "start"/ },
    { name: "missing file", args: () => ["env", "--file", path.join(dir, "absent.json")], code: 1, message: /absent\.json: cannot read the file \(ENOENT\)/ },
    { name: "truncated file", args: () => ["env", "--file", write("cut.json", fs.readFileSync(outputsFile, "utf8").slice(0, 150))], code: 1, message: /cut\.json: not valid JSON/ },
    { name: "document violating the contract", args: () => ["env", "--file", write("bad.json", JSON.stringify({ ...outputsFixture(), passwordRequired: 1 }))], code: 1, message: /passwordRequired .*bad\.json: must be true or false/ },
    { name: "--stack without the pulumi CLI", args: () => ["env", "--stack", "dev"], env: { PATH: "/nonexistent" }, code: 1, message: /pulumi CLI is not on PATH/ },
    { name: "check with a bad env var", args: () => ["check"], env: { PATH: process.env.PATH, REDIS_PORT: "http" }, code: 1, message: /standalone\.port \(env REDIS_PORT\) from env REDIS_PORT/ },
  ];

  for (const bad of BAD_INVOCATIONS) {
    it(`bad input: ${bad.name} -> exit ${bad.code}, one clear line`, async () => {
      const { code, stdout, stderr } = await runCli(bad.args(), bad.env);
      expect(code).to.equal(bad.code);
      expect(stdout).to.equal("");
      const lines = stderr.trim().split("\n");
      expect(lines, stderr).to.have.length(1);
      expect(lines[0]).to.match(/^redis-connector: /).and.to.match(bad.message);
      expect(stderr).not.to.include(AWKWARD_PASSWORD);
    });
  }
});
