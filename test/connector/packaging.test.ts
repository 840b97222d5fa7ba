/**
 * The connector as a user gets it: `npx redis-connector` in a fresh checkout (a committed bin
 * shim, as redis-local has), and the connector's tarball installed alone into an app outside the
 * repo (the outputs contract's types are carried inside, so nothing unpublished is needed).
 */
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describeRun, installIntoApp, packWorkspace, REPO, run } from "../support/packedPackages";

const { contractCopy, TARGET: CONTRACT_COPY } = require("../../connector/scripts/generate-outputs-contract.js") as { contractCopy: () => string; TARGET: string };

const TSC = path.join(REPO, "node_modules/typescript/bin/tsc");

describe("connector packaging", function () {
  this.timeout(300_000);

  it("the bin is a committed shim, so npx redis-connector works before anything is built", () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(REPO, "connector/package.json"), "utf8")) as { bin: Record<string, string>; files: string[] };
    const bin = manifest.bin["redis-connector"];
    const tracked = execFileSync("git", ["ls-files", "--", `connector/${bin}`], { cwd: REPO, encoding: "utf8" }).trim();
    expect(tracked, `connector/${bin} is in git (a fresh checkout has it at npm ci time)`).to.equal(`connector/${bin}`);
    expect(fs.statSync(path.join(REPO, "connector", bin)).mode & 0o111, "executable").to.not.equal(0);
    expect(manifest.files).to.include("bin");
    const help = execFileSync(path.join(REPO, "node_modules/.bin/redis-connector"), ["--help"], { encoding: "utf8", timeout: 15_000 });
    expect(help).to.match(/^Usage: redis-connector/);
  });

  it("the outputs contract the connector carries is generated from the contract (outputs/src/index.ts) by its build, not a second source in git", () => {
    const copy = fs.readFileSync(CONTRACT_COPY, "utf8");
    expect(copy === contractCopy(), `${CONTRACT_COPY} is stale: run npm run build`).to.equal(true);
    const tracked = execFileSync("git", ["ls-files", "--", path.relative(REPO, CONTRACT_COPY)], { cwd: REPO, encoding: "utf8" }).trim();
    expect(tracked, "the generated copy is not committed").to.equal("");
  });

  it("the connector's tarball installs alone into an app, compiles with strict and runs its bin", async () => {
    const work = fs.mkdtempSync(path.join(os.tmpdir(), "connector-alone-"));
    try {
      const manifest = JSON.parse(fs.readFileSync(path.join(REPO, "connector/package.json"), "utf8")) as { dependencies: Record<string, string> };
      expect(Object.keys(manifest.dependencies).filter((d) => d.startsWith("@redis-on-docker/")), "no unpublished dependency").to.deep.equal([]);
      const tarball = await packWorkspace("connector", work);
      const app = path.join(work, "app");
      await installIntoApp(app, "connector-alone-app", [tarball]);
      fs.writeFileSync(path.join(app, "main.ts"), [
        'import { loadConfig, parseStackOutputs, type StackOutputs } from "@redis-on-docker/connector";',
        "const outputs: StackOutputs = parseStackOutputs({ schemaVersion: 1, redisImage: \"redis:5.0.4\", redisVersion: \"5.0.4\", passwordRequired: false, password: \"\",",
        '  standalone: { host: "127.0.0.1", port: 7000, internalHost: "172.28.0.10", internalPort: 6379 },',
        '  cluster: { seeds: [{ host: "127.0.0.1", port: 7001 }], internalSeeds: [{ host: "172.28.0.11", port: 6379 }], natMap: {}, replicasPerMaster: 1 } });',
        "console.log(loadConfig({ env: {}, outputs }).standalone.port);",
        "",
      ].join("\n"));
      const tsc = await run(process.execPath, [TSC, "--strict", "--module", "commonjs", "--target", "ES2022", "--types", "node", "--typeRoots", path.join(REPO, "node_modules/@types"), "main.ts"], { cwd: app, timeoutMs: 120_000 });
      expect(tsc.code, describeRun(tsc)).to.equal(0);
      const main = await run(process.execPath, ["main.js"], { cwd: app, timeoutMs: 30_000 });
      expect(main.stdout.trim(), describeRun(main)).to.equal("7000");
      const help = await run(path.join(app, "node_modules/.bin/redis-connector"), ["--help"], { cwd: app, timeoutMs: 30_000 });
      expect(help.stdout, describeRun(help)).to.match(/^Usage: redis-connector/);
    } finally {
      fs.rmSync(work, { recursive: true, force: true });
    }
  });
});
