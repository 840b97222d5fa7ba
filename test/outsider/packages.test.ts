/**
 * Both packages as a team outside this repo gets them: `npm pack` of @redis-on-docker/local and
 * @redis-on-docker/pulumi (and the two packages they depend on), installed into a throwaway
 * project in a fresh temp dir, and there: (a) the team's mocha suite with the root hooks talks to
 * the cluster, and leaves nothing behind; (b) the team's Pulumi program under Pulumi's mocks
 * declares `new RedisOnDocker(...)` on its own docker.Provider; (c) `npx redis-local up`, then
 * `down`, leaves no process and no dir. The temp dir is always removed.
 */
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { readStackRecord, stopRecordedStack, type LocalStackRecord } from "../../local/src/stackRecord";
import { isAlive } from "../../local/src/processControl";
import { processesIn } from "../reliability/support/boundedRun";
import { describeRun, installIntoApp, packWorkspace, REPO, run } from "../support/packedPackages";

const TSC = path.join(REPO, "node_modules/typescript/bin/tsc");
const FIXTURE = path.join(__dirname, "fixture");
/** The versions the repo is tested with, so npm finds them in the cache `npm ci` filled. */
const versionOf = (name: string): string =>
  (JSON.parse(fs.readFileSync(path.join(REPO, "node_modules", name, "package.json"), "utf8")) as { version: string }).version;

/** Whatever a stack described by `record` left: none of its processes alive, its dir gone. */
function leftovers(record: Pick<LocalStackRecord, "dir" | "nodes">): string[] {
  const found = processesIn(record.dir);
  for (const node of record.nodes) if (isAlive(node) && !found.some((p) => p.startsWith(`${node.pid} `))) found.push(`pid ${node.pid} (${node.name})`);
  if (fs.existsSync(record.dir)) found.push(`dir ${record.dir}`);
  return found;
}

describe("outsider: the packed local and pulumi packages in a project outside the repo", function () {
  this.timeout(120_000);
  let work = "";
  let app = "";

  before(async function () {
    this.timeout(400_000);
    work = fs.mkdtempSync(path.join(os.tmpdir(), "redis-packages-outsider-"));
    expect(path.relative(REPO, work).startsWith(".."), "the project is outside the repo").to.equal(true);
    const tarballs: string[] = [];
    for (const folder of ["outputs", "topology", "local", "pulumi"]) tarballs.push(await packWorkspace(folder, work));
    app = path.join(work, "app");
    const tools = ["mocha", "ioredis", "@pulumi/pulumi", "@pulumi/docker"].map((name) => `${name}@${versionOf(name)}`);
    await installIntoApp(app, "team-app", tarballs, tools);
  });

  after(async function () {
    this.timeout(30_000);
    // A failed test may have left the CLI's stack up.
    const record = app === "" ? undefined : readStackRecord(path.join(app, ".local-stack", "state.json"));
    if (record) await stopRecordedStack(record, () => undefined).catch(() => undefined);
    if (work !== "") fs.rmSync(work, { recursive: true, force: true });
  });

  it("(a) a mocha suite with the root hooks gets REDIS_*, talks to the cluster and the standalone; nothing is left after the run", async function () {
    fs.copyFileSync(path.join(FIXTURE, "cluster.spec.js"), path.join(app, "cluster.spec.js"));
    const report = path.join(work, "stack-report.json");
    const mocha = await run(path.join(app, "node_modules/.bin/mocha"), ["--require", "@redis-on-docker/local/mocha", "cluster.spec.js"], {
      cwd: app,
      timeoutMs: 120_000,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, STACK_REPORT_FILE: report },
    });
    expect(mocha.code, describeRun(mocha)).to.equal(0);
    expect(mocha.stdout).to.include("3 passing");
    const { dir, ports } = JSON.parse(fs.readFileSync(report, "utf8")) as { dir: string; ports: number[] };
    expect(ports).to.have.length(7);
    expect(path.basename(dir)).to.match(/^redis-local-/);
    expect(leftovers({ dir, nodes: [] }), "left by the hooks' stack").to.deep.equal([]);
  });

  it("(b) a Pulumi program under mocks: new RedisOnDocker on the team's docker.Provider, every docker resource through it, typed outputs", async function () {
    const src = path.join(app, "src");
    fs.mkdirSync(src, { recursive: true });
    fs.copyFileSync(path.join(FIXTURE, "pulumiProgram.ts"), path.join(src, "pulumiProgram.ts"));
    fs.mkdirSync(path.join(work, "types"), { recursive: true });
    fs.symlinkSync(path.join(REPO, "node_modules/@types/node"), path.join(work, "types/node"));
    fs.writeFileSync(
      path.join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022", module: "commonjs", moduleResolution: "node", lib: ["ES2022"], strict: true,
          esModuleInterop: true, skipLibCheck: true, rootDir: "src", outDir: "dist",
          typeRoots: [path.join(work, "types")], types: ["node"],
        },
        include: ["src"],
      }),
    );
    const compiled = await run(process.execPath, [TSC, "-p", "tsconfig.json"], { cwd: app, timeoutMs: 120_000 });
    expect(compiled.code, describeRun(compiled)).to.equal(0);

    const program = await run(process.execPath, ["dist/pulumiProgram.js"], { cwd: app, timeoutMs: 60_000, env: { PATH: process.env.PATH } });
    expect(program.code, describeRun(program)).to.equal(0);
    const result = JSON.parse(program.stdout.trim()) as {
      providerRef: string;
      resources: Array<{ type: string; name: string; provider: string }>;
      passwordSecret: boolean;
      outputs: { standalone: { port: number }; cluster: { seeds: Array<{ port: number }> }; password: string; passwordRequired: boolean; redisImage: string };
      spread: { hostProviderRefs: string[]; seeds: Array<{ host: string; port: number }>; natMap: Record<string, unknown> };
    };
    expect(result.providerRef).to.match(/^urn:pulumi:dev::team-app::pulumi:providers:docker::remote-docker::/);
    const docker = result.resources.filter((r) => r.type.startsWith("docker:"));
    const dockerResources = docker.filter((r) => !r.name.startsWith("spread-"));
    // Across three hosts: every docker resource on one of the hosts' providers, two nodes per host, seeds at the hosts' addresses.
    const spreadResources = docker.filter((r) => r.name.startsWith("spread-"));
    expect(spreadResources.length).to.be.greaterThan(0);
    for (const r of spreadResources) expect(result.spread.hostProviderRefs, `${r.type} ${r.name}`).to.include(r.provider);
    expect(result.spread.seeds.map((s) => s.host).sort()).to.deep.equal(["10.77.1.1", "10.77.1.1", "10.77.1.2", "10.77.1.2", "10.77.1.3", "10.77.1.3"]);
    expect(result.spread.natMap).to.deep.equal({});
    const count = (type: string): number => dockerResources.filter((r) => r.type === type).length;
    expect(count("docker:index/network:Network")).to.equal(1);
    expect(count("docker:index/remoteImage:RemoteImage")).to.equal(1);
    expect(count("docker:index/volume:Volume")).to.equal(7);
    expect(count("docker:index/container:Container"), "7 nodes + the bootstrap job").to.equal(8);
    for (const r of dockerResources) expect(r.provider, `${r.type} ${r.name}`).to.equal(result.providerRef);
    expect(result.resources.map((r) => r.type)).to.include("redis-on-docker:index:RedisOnDocker");
    expect(result.passwordSecret).to.equal(true);
    expect(result.outputs.password).to.equal("<the password>");
    expect(result.outputs.passwordRequired).to.equal(true);
    expect(result.outputs.redisImage).to.equal("redis:5.0.4");
    expect(result.outputs.standalone.port).to.equal(16380);
    expect(result.outputs.cluster.seeds.map((s) => s.port)).to.deep.equal([16381, 16382, 16383, 16384, 16385, 16386]);
  });

  it("(c) npx redis-local up, then down: no process, no dir, no state left", async function () {
    const env = { PATH: process.env.PATH, HOME: process.env.HOME };
    const help = await run("npx", ["--no-install", "redis-local", "--help"], { cwd: app, timeoutMs: 60_000, env });
    expect(help.code, describeRun(help)).to.equal(0);
    expect(help.stdout).to.match(/^Usage: redis-local <up\|down\|status\|placement>/);

    const up = await run("npx", ["--no-install", "redis-local", "up", "-q"], { cwd: app, timeoutMs: 90_000, env });
    expect(up.code, describeRun(up)).to.equal(0);
    expect(up.stdout).to.include("stop with: redis-local down");
    const record = readStackRecord(path.join(app, ".local-stack", "state.json"));
    expect(record?.nodes, "7 recorded redis-server processes").to.have.length(7);
    const stack = record as LocalStackRecord;
    expect(stack.nodes.every((n) => isAlive(n)), "the servers outlive the CLI").to.equal(true);
    const status = await run("npx", ["--no-install", "redis-local", "status"], { cwd: app, timeoutMs: 60_000, env });
    expect(status.code, describeRun(status)).to.equal(0);

    const down = await run("npx", ["--no-install", "redis-local", "down"], { cwd: app, timeoutMs: 60_000, env });
    expect(down.code, describeRun(down)).to.equal(0);
    expect(leftovers(stack), "left by up/down").to.deep.equal([]);
    expect(fs.existsSync(stack.outputsFile), "outputs file").to.equal(false);
    expect(fs.existsSync(path.join(app, ".local-stack")), "state dir").to.equal(false);
    const after = await run("npx", ["--no-install", "redis-local", "status"], { cwd: app, timeoutMs: 60_000, env });
    expect(after.code).to.equal(3);
  });
});
