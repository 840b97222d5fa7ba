/**
 * The replay harness's own rules, without Docker: it refuses what it cannot realise, orders by
 * dependencies, reads Go durations like the provider, and writes tar uploads that real `tar`
 * extracts with the declared mode. The records come from running the real program under mocks.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { expect } from "chai";
import { RedisOnDocker } from "@redis-on-docker/pulumi";
import { defineRedisStack } from "../../infra/program";
import { validateStackSettings } from "@redis-on-docker/topology";
import { CONTAINER_TYPE, SCANNER_MAX_LINE_BYTES, applyWaves, goDurationToNs, providerContainerLogs, validateRecordedResources } from "./replay/applyToDocker";
import { tarOneFile } from "./replay/dockerEngine";
import { recordProgram, type RecordedResource } from "./replay/recordProgram";
import { FakeDocker } from "./replay/fakeDocker";
import { ReplayStack, summarisePlan } from "./replay/replayStack";
import { DAEMON_FILLED_CONTAINER_INPUTS } from "../../pulumi/src/components/daemonDefaults";

describe("e2e replay harness", () => {
  let resources: RecordedResource[];
  const password = "harness-test-password";

  before(async () => {
    const settings = validateStackSettings({ image: "redis-local:7.0.15", password, namePrefix: "harness" });
    resources = (await recordProgram(() => defineRedisStack(settings), { project: "redis-on-docker", stack: "ci" })).resources;
  });

  const clone = (): RecordedResource[] => JSON.parse(JSON.stringify(resources)) as RecordedResource[];
  const bootstrapOf = (rs: RecordedResource[]) => rs.find((r) => r.type === CONTAINER_TYPE && r.inputs.attach === true)!;

  it("understands every input the program declares today", () => {
    expect(validateRecordedResources(resources)).to.deep.equal([]);
  });

  it("unwraps secrets: the password reaches the uploads, as plain text", () => {
    const uploads = JSON.stringify(resources.map((r) => r.inputs.uploads ?? null));
    expect(uploads).to.include(password);
  });

  it("refuses an input it does not know, a nested one, and a resource type it does not support", () => {
    const rs = clone();
    const node = rs.find((r) => r.type === CONTAINER_TYPE && /-node-0$/.test(String(r.inputs.name)))!;
    node.inputs.privileged = true;
    (node.inputs.ports as Array<Record<string, unknown>>)[0].hostIpFamily = "v4" as never;
    rs.push({ ...node, type: "docker:index/service:Service", name: "svc", urn: "urn:x" });
    const problems = validateRecordedResources(rs);
    expect(problems.join("\n")).to.match(/-node-0.*\.privileged: input the replay does not understand/);
    expect(problems.join("\n")).to.match(/ports\.hostIpFamily: input the replay does not understand/);
    expect(problems.join("\n")).to.match(/docker:index\/service:Service "svc": resource type the replay does not support/);
  });

  it("refuses rm together with attach (breaks in the provider)", () => {
    const rs = clone();
    bootstrapOf(rs).inputs.rm = true;
    expect(validateRecordedResources(rs).join("\n")).to.match(/rm with attach/);
  });

  it("puts the bootstrap after every cluster node and the nodes after the network and image", () => {
    const waves = applyWaves(resources).map((w) => w.map((r) => String(r.inputs.name ?? r.name)));
    const waveOf = (pattern: RegExp) => waves.findIndex((w) => w.some((n) => pattern.test(n)));
    const bootstrap = waveOf(/cluster-bootstrap$/);
    for (let i = 0; i < 6; i++) expect(waveOf(new RegExp(`-node-${i}$`))).to.be.lessThan(bootstrap);
    expect(waveOf(/-net$/)).to.be.lessThan(waveOf(/-node-0$/));
    expect(waveOf(/^redis-local/)).to.be.lessThan(waveOf(/-node-0$/));
  });

  it("without the bootstrap's dependsOn, it would run alongside the nodes (so a missing dependency is a real race)", () => {
    const rs = clone();
    const bootstrap = bootstrapOf(rs);
    bootstrap.dependsOn = bootstrap.dependsOn.filter((u) => !/node-/.test(u));
    bootstrap.inputs.labels = null; // its label reads the node ids, an implicit dependency
    const waves = applyWaves(rs);
    const nodeWave = waves.findIndex((w) => w.some((r) => /-node-0$/.test(String(r.inputs.name))));
    expect(waves.findIndex((w) => w.includes(bootstrap))).to.be.at.most(nodeWave);
  });

  it("reads Go durations as the provider does and refuses others", () => {
    expect(goDurationToNs("2s", "x")).to.equal(2e9);
    expect(goDurationToNs("1m30s", "x")).to.equal(90e9);
    expect(goDurationToNs("500ms", "x")).to.equal(5e8);
    expect(() => goDurationToNs("2 seconds", "hc.interval")).to.throw(/hc.interval: "2 seconds" is not a Go duration/);
  });

  it("writes uploads that tar extracts to the declared path and mode", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "replay-tar-"));
    try {
      const archive = path.join(dir, "upload.tar");
      writeFileSync(archive, tarOneFile("/run/secrets/redis-password", Buffer.from("s3cret\n"), 0o600));
      execFileSync("tar", ["-xpf", archive, "-C", dir], { timeout: 10_000 });
      const file = path.join(dir, "run/secrets/redis-password");
      expect(readFileSync(file, "utf8")).to.equal("s3cret\n");
      expect(statSync(file).mode & 0o777).to.equal(0o600);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("containerLogs as terraform-provider-docker v3.9.0 keeps them", () => {
    /** One frame of Docker's multiplexed log stream: [stream, 0, 0, 0, size (uint32 BE)] + payload. */
    const frame = (stream: 1 | 2, text: string): Buffer => {
      const payload = Buffer.from(text, "utf8");
      const header = Buffer.alloc(8);
      header[0] = stream;
      header.writeUInt32BE(payload.length, 4);
      return Buffer.concat([header, payload]);
    };

    it("a raw (TTY) stream: lines without CRs, each ended by a newline", () => {
      expect(providerContainerLogs(Buffer.from("bootstrap: a\r\nbootstrap: b\r\n"), "job")).to.equal("bootstrap: a\nbootstrap: b\n");
      expect(providerContainerLogs(Buffer.from("no newline at the end"), "job")).to.equal("no newline at the end\n");
    });

    it("a multiplexed (no TTY) stream keeps its frame headers; a line of 128+ bytes makes it invalid UTF-8, and that fails", () => {
      const short = frame(1, "bootstrap: waiting\n");
      // A short write's header holds only bytes < 0x80: still valid UTF-8, but with NULs and a frame byte in the text.
      expect(providerContainerLogs(short, "job")).to.include("\u0000\u0000\u0000").and.include("bootstrap: waiting");
      const long = frame(1, `bootstrap: creating the cluster: redis-cli --cluster create ${"10.213.0.11:6379 ".repeat(8)}--cluster-replicas 1\n`);
      expect(long.length - 8).to.be.at.least(128);
      expect(() => providerContainerLogs(long, "job.containerLogs")).to.throw(/job\.containerLogs: containerLogs holds invalid UTF-8 \(byte 0x[89a-f][0-9a-f] at offset 7\)/);
    });

    it("a line longer than the provider's line scanner allows fails as the provider does", () => {
      expect(() => providerContainerLogs(Buffer.from("x".repeat(SCANNER_MAX_LINE_BYTES + 1)), "job")).to.throw(/token too long/);
    });
  });

  describe("the engine's plan: preview, URNs, aliases, read-back (no Docker: a fake provider)", () => {
    const base = validateStackSettings({ image: "redis-local:7.0.15", password, namePrefix: "plan", subnet: "10.213.0.0/24", persistence: "aof" });
    const program = (s: typeof base) => () => defineRedisStack(s);
    const newStack = (docker = new FakeDocker(), dropIgnoreChanges?: string[]): ReplayStack =>
      new ReplayStack(docker, { project: "redis-on-docker", stack: "ci", timeoutMs: 30_000, dropIgnoreChanges });
    const countOps = summarisePlan;

    it("keys the state by the engine's URN, with the whole parent type chain", async () => {
      const stack = newStack();
      await stack.up(program(base));
      const node = stack.entry("plan-node-0");
      expect(node.urn).to.equal(
        "urn:pulumi:ci::redis-on-docker::redis-on-docker:index:RedisOnDocker$redis-on-docker:index:RedisClusterNodes$redis-on-docker:index:RedisServer$docker:index/container:Container::plan-node-0",
      );
      expect(stack.lastPreview.every((p) => p.op === "create")).to.equal(true);
      expect([...stack.state.keys()].every((k) => k.startsWith("urn:pulumi:ci::redis-on-docker::"))).to.equal(true);
    });

    it("a second up previews `same` for everything and the apply does exactly that", async () => {
      const stack = newStack();
      await stack.up(program(base));
      const plan = await stack.preview(program(base));
      expect(plan.filter((p) => p.op !== "same")).to.deep.equal([]);
      await stack.up(program(base));
      expect(stack.steps.every((st) => st.op === "same")).to.equal(true);
    });

    it("resources saved at the stack root (before the component) continue under their aliases: all `same`", async () => {
      const stack = newStack();
      await stack.up(program(base));
      // The state of an older stack: the RedisOnDocker component did not exist, its children sat at the root.
      const atRoot = (urn: string): string => urn.replace("::redis-on-docker:index:RedisOnDocker$", "::");
      for (const [urn, e] of [...stack.state]) {
        stack.state.delete(urn);
        stack.state.set(atRoot(urn), { ...e, key: atRoot(urn), urn: atRoot(urn), dependsOn: e.dependsOn.map(atRoot) });
      }
      expect(stack.state.has("urn:pulumi:ci::redis-on-docker::redis-on-docker:index:RedisNetwork$docker:index/network:Network::plan-net")).to.equal(true);
      const plan = await stack.preview(program(base));
      expect(plan.filter((p) => p.op !== "same").map((p) => `${p.op} ${p.name}`)).to.deep.equal([]);
      await stack.up(program(base));
      expect(stack.entry("plan-node-0").urn).to.match(/RedisOnDocker\$.*::plan-node-0$/);
    });

    it("a daemon's log-opts read back: `same` with the daemonDefaults ignoreChanges; without them every container is replaced", async () => {
      const docker = new FakeDocker();
      docker.daemon = { logOpts: { "max-size": "10m" }, ulimits: [{ name: "nofile", soft: 4096, hard: 8192 }] };
      const stack = newStack(docker);
      await stack.up(program(base));
      expect((await stack.preview(program(base))).filter((p) => p.op !== "same")).to.deep.equal([]);

      const unprotected = newStack(docker, DAEMON_FILLED_CONTAINER_INPUTS);
      for (const [k, e] of stack.state) unprotected.state.set(k, e);
      const plan = await unprotected.preview(program(base));
      const containers = plan.filter((p) => p.type === CONTAINER_TYPE);
      expect(containers).to.have.length(8);
      for (const c of containers) {
        expect(c.op, c.name).to.equal("replace");
        expect(c.because.join(" "), c.name).to.match(/logOpts \(read back \{"max-size":"10m"\}\)/);
      }
    });

    it("a subnet change: network replaced (delete first), every container replaced as its dependent, volumes kept", async () => {
      const stack = newStack();
      await stack.up(program(base));
      const moved = { ...base, subnet: "10.214.0.0/24" };
      const plan = await stack.preview(program(moved));
      expect(countOps(plan)).to.deep.equal({ "Network replace (delete first)": 1, "Container replace (delete first)": 8, "Volume same": 7, "RemoteImage same": 1 });
      await stack.up(program(moved));
    });

    it("a password change: nodes delete-before-replace, the volumes and the network `same`", async () => {
      const stack = newStack();
      await stack.up(program(base));
      const changed = { ...base, password: "another-harness-password" };
      const plan = await stack.preview(program(changed));
      expect(countOps(plan)).to.deep.equal({ "Network same": 1, "Container replace (delete first)": 8, "Volume same": 7, "RemoteImage same": 1 });
      const docker = stack.docker as FakeDocker;
      docker.calls.length = 0;
      await stack.up(program(changed));
      expect(docker.calls.filter((c) => c.includes("volume") || c.includes("network"))).to.deep.equal([]);
    });

    it("an updatable input (restart) changed by hand is an in-place update, and the apply calls the provider's update", async () => {
      const stack = newStack();
      await stack.up(program(base));
      // `docker update --restart no` on a node, then `pulumi refresh` would store it.
      stack.entry("plan-node-1").outputs.restart = "no";
      const plan = await stack.preview(program(base));
      expect(plan.filter((p) => p.op !== "same").map((p) => `${p.op} ${p.name} ${p.because.join(",")}`)).to.deep.equal([`update plan-node-1 restart (read back "no")`]);
      const docker = stack.docker as FakeDocker;
      docker.calls.length = 0;
      await stack.up(program(base));
      expect(docker.calls).to.deep.equal(["update container plan-node-1 restart=unless-stopped"]);
      expect((await stack.preview(program(base))).filter((p) => p.op !== "same")).to.deep.equal([]);
    });

    it("an apply that differs from its preview fails the update, naming the resource", async () => {
      const stack = newStack();
      await stack.up(program(base));
      // A provider whose create succeeds in preview but whose state moved under it between preview and apply.
      const preview = stack.preview.bind(stack);
      stack.preview = async (p, o) => {
        const plan = await preview(p, o);
        stack.entry("plan-standalone").inputs.user = "root";
        return plan;
      };
      let error: unknown;
      await stack.up(program(base)).catch((e) => (error = e));
      expect(String(error)).to.match(/apply diverged from the preview:\n {2}plan-standalone: preview same, apply replace/);
    });

    it("sends each resource to its docker.Provider's engine, none to the default one", async () => {
      const engines: Record<string, FakeDocker> = { "unix:///a": new FakeDocker(), "unix:///b": new FakeDocker(), "unix:///c": new FakeDocker() };
      const stack = new ReplayStack(new FakeDocker(), {
        project: "redis-on-docker",
        stack: "ci",
        timeoutMs: 30_000,
        engineForProvider: (host) => engines[host] ?? (() => { throw new Error(`no engine ${host}`); })(),
      });
      const twoHosts = (secondEngine: string) => (): unknown => {
        const hosts = [
          { name: "a", address: "10.77.0.11", provider: new docker.Provider("docker-a", { host: "unix:///a" }) },
          { name: "b", address: "10.77.0.12", provider: new docker.Provider("docker-b", { host: secondEngine }) },
        ];
        return new RedisOnDocker("redis", { password: pulumi.secret(password), namePrefix: "mh", subnet: "10.213.0.0/24", hosts }).outputs();
      };
      await stack.up(twoHosts("unix:///b"));
      const created = (e: FakeDocker): string[] => e.calls.filter((c) => c.startsWith("create container")).sort();
      expect((stack.docker as FakeDocker).calls, "nothing on the default engine").to.deep.equal([]);
      expect(created(engines["unix:///a"])).to.include.members(["create container mh-cluster-bootstrap", "create container mh-standalone"]);
      const onB = created(engines["unix:///b"]);
      expect(onB, "b's nodes").to.have.length(3);
      expect([...created(engines["unix:///a"]), ...onB].filter((c) => /-node-\d$/.test(c)), "6 nodes over both").to.have.length(6);
      expect((await stack.preview(twoHosts("unix:///b"))).filter((p) => p.op !== "same"), "a second preview changes nothing").to.deep.equal([]);

    });
  });
});
