/**
 * The replay harness's own rules, without Docker: it refuses what it cannot realise, orders by
 * dependencies, reads Go durations like the provider, and writes tar uploads that real `tar`
 * extracts with the declared mode. The records come from running the real program under mocks.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import * as path from "node:path";
import { expect } from "chai";
import { defineRedisStack } from "../../infra/program";
import { validateStackSettings } from "../../infra/settings";
import { CONTAINER_TYPE, applyWaves, goDurationToNs, validateRecordedResources } from "./replay/applyToDocker";
import { tarOneFile } from "./replay/dockerEngine";
import { recordProgram, type RecordedResource } from "./replay/recordProgram";

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
    rs.push({ ...node, type: "docker:index/volume:Volume", name: "data", urn: "urn:x" });
    const problems = validateRecordedResources(rs);
    expect(problems.join("\n")).to.match(/-node-0.*\.privileged: input the replay does not understand/);
    expect(problems.join("\n")).to.match(/ports\.hostIpFamily: input the replay does not understand/);
    expect(problems.join("\n")).to.match(/docker:index\/volume:Volume "data": resource type the replay does not support/);
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
});
