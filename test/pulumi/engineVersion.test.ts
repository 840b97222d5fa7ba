/**
 * The Docker Engine version check of `RedisOnDocker` under Pulumi's mocks, each engine a small
 * HTTP server on a unix socket answering `GET /version` as dockerd does: 25.0.0 stops `up` before
 * any docker resource, naming version, setting and fix; other versions proceed; an engine that
 * cannot be read is a warning; a preview asks nothing. Plus the reader against the real dockerd.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { engineVersionAt, RedisOnDocker, type RedisOnDockerHost } from "@redis-on-docker/pulumi";
import { expect } from "chai";
import { runMocked, valueOf, type ExtraState, type RegisteredResource } from "../support/pulumiMocks";

const CONTAINER = "docker:index/container:Container";
const bootstrapExits0: ExtraState = (type) => (type === CONTAINER ? { exitCode: 0 } : {});
const dockerResources = (resources: RegisteredResource[]) => resources.filter((r) => r.custom && r.type.startsWith("docker:"));

interface FakeEngine {
  host: string;
  requests: number;
}

describe("@redis-on-docker/pulumi: Docker Engine version check", function () {
  this.timeout(30_000);
  let dir: string;
  const servers: http.Server[] = [];

  before(() => {
    dir = mkdtempSync(join(tmpdir(), "engine-version-"));
  });
  after(async () => {
    const closed = servers.map((s) => new Promise((resolve) => s.close(resolve)));
    servers.forEach((s) => s.closeAllConnections());
    await Promise.all(closed);
    rmSync(dir, { recursive: true, force: true });
  });

  /** An engine answering `GET /version` with `version`, or never answering (`undefined`). */
  async function fakeEngine(version: string | undefined): Promise<FakeEngine> {
    const engine = { host: `unix://${join(dir, `docker-${servers.length}.sock`)}`, requests: 0 };
    const server = http.createServer((req, res) => {
      engine.requests += 1;
      if (version === undefined) return; // holds the connection, as a wedged daemon does
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ Platform: { Name: "Docker Engine - Community" }, Version: version, ApiVersion: "1.44" }));
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(engine.host.slice("unix://".length), resolve));
    return engine;
  }

  /** Runs `program` as `pulumi up` (or preview), collecting warnings and the program's unhandled errors (as the language host sees them). */
  async function run<T>(program: () => T, options: { config?: Record<string, string>; preview?: boolean } = {}) {
    const warnings: string[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    const warn = console.warn;
    console.warn = (...args: unknown[]) => warnings.push(args.join(" "));
    process.on("unhandledRejection", onUnhandled);
    try {
      const mocked = await runMocked(program, { ...options, extraState: bootstrapExits0 });
      await new Promise((resolve) => setImmediate(resolve)); // let the last rejections be reported
      return { ...mocked, warnings, unhandled };
    } finally {
      process.off("unhandledRejection", onUnhandled);
      console.warn = warn;
    }
  }

  const oneHost = () => new RedisOnDocker("redis", { password: pulumi.secret("engine-check-pw") });

  it("Engine 25.0.0 (docker:host): `up` fails naming the version, where it came from and the fix; no docker resource is registered", async function () {
    const engine = await fakeEngine("25.0.0");
    const r = await run(oneHost, { config: { "docker:host": engine.host } });
    expect(engine.requests).to.equal(1);
    expect(dockerResources(r.resources)).to.deep.equal([]);
    // Pulumi prefixes the property it was serializing (`error serializing property "outputs": `).
    const expected = new RegExp(
      `Docker Engine 25\\.0\\.0 at ${engine.host} \\(docker:host\\) is not supported: .*ipRange \\(moby#47120\\).*Upgrade Docker Engine to 25\\.0\\.1 or later`,
    );
    let failure: unknown;
    await valueOf(r.result.standalone).catch((e: unknown) => (failure = e));
    expect(String((failure as Error)?.message)).to.match(expected);
    // What fails the update: the program's unhandled RunError, which the language host prints without a stack.
    expect(r.unhandled.length).to.be.greaterThan(0);
    for (const e of r.unhandled) {
      expect(pulumi.RunError.isInstance(e), String(e)).to.equal(true);
      expect((e as Error).message).to.match(expected);
    }
  });

  for (const version of ["25.0.1", "24.0.7"]) {
    it(`Engine ${version}: \`up\` declares every resource, without a warning`, async function () {
      const engine = await fakeEngine(version);
      const r = await run(oneHost, { config: { "docker:host": engine.host } });
      expect(engine.requests).to.equal(1);
      expect(dockerResources(r.resources).filter((x) => x.type === CONTAINER)).to.have.length(8);
      expect(r.warnings.filter((w) => w.includes("Docker Engine"))).to.deep.equal([]);
      expect(r.unhandled).to.deep.equal([]);
      expect((await valueOf(r.result.standalone)).port).to.equal(6380);
    });
  }

  it("an engine that cannot be read (ssh://): one warning naming why, and `up` proceeds", async function () {
    const r = await run(oneHost, { config: { "docker:host": "ssh://deploy@engine.invalid" } });
    expect(r.warnings.filter((w) => w.includes("Docker Engine"))).to.deep.equal([
      "warning: [runtime] Docker Engine version at ssh://deploy@engine.invalid (docker:host) not checked: the check does not speak ssh://",
    ]);
    expect(dockerResources(r.resources).filter((x) => x.type === CONTAINER)).to.have.length(8);
    expect(r.unhandled).to.deep.equal([]);
  });

  it("a preview asks no engine: Engine 25.0.0 still previews every resource", async function () {
    const engine = await fakeEngine("25.0.0");
    const r = await run(oneHost, { config: { "docker:host": engine.host }, preview: true });
    expect(engine.requests).to.equal(0);
    expect(dockerResources(r.resources).filter((x) => x.type === CONTAINER)).to.have.length(8);
    expect(r.unhandled).to.deep.equal([]);
  });

  it("across hosts each host's engine is asked: one on 25.0.0 fails `up` naming that host; no docker resource on any host", async function () {
    const engines = await Promise.all(["24.0.7", "25.0.0", "27.3.1"].map(fakeEngine));
    const r = await run(() => {
      const hosts: RedisOnDockerHost[] = ["host-a", "host-b", "host-c"].map((name, i) => ({
        name,
        address: `10.77.0.1${i + 1}`,
        provider: new docker.Provider(`docker-${name}`, { host: engines[i].host }),
      }));
      return new RedisOnDocker("spread", { password: pulumi.secret("multi-host-pw"), namePrefix: "spread", hosts });
    });
    expect(engines.map((e) => e.requests)).to.deep.equal([1, 1, 1]);
    expect(dockerResources(r.resources)).to.deep.equal([]);
    let failure: unknown;
    await valueOf(r.result.cluster).catch((e: unknown) => (failure = e));
    expect(String((failure as Error)?.message)).to.match(
      new RegExp(`Docker Engine 25\\.0\\.0 at ${engines[1].host} \\(hosts entry host-b: its docker.Provider's host\\) is not supported`),
    );
  });

  it("the reader is bounded: an engine that never answers is given up after the timeout", async function () {
    const engine = await fakeEngine(undefined);
    const started = Date.now();
    let failure: unknown;
    await engineVersionAt(engine.host, false, 300).catch((e: unknown) => (failure = e));
    expect(String((failure as Error)?.message)).to.equal("no answer within 300 ms");
    expect(Date.now() - started).to.be.below(2000);
  });

  it("the reader reads the real local dockerd's version (/var/run/docker.sock), within its bound", async function () {
    const started = Date.now();
    const version = await engineVersionAt("unix:///var/run/docker.sock", false, 5000);
    const elapsed = Date.now() - started;
    const cli = execFileSync("docker", ["version", "--format", "{{.Server.Version}}"], { encoding: "utf8", timeout: 10_000 }).trim();
    expect(version).to.equal(cli);
    expect(version).to.match(/^\d+\.\d+\.\d+/);
    expect(elapsed).to.be.below(5000);
  });
});
