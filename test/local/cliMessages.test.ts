/** redis-local's own words: errors name its flags and the port range that is really full; `status` is safe in a pipe. */
import { expect } from "chai";
import { execFile, spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { findFreePorts } from "../../local/src/freePorts";

const CLI = path.resolve(__dirname, "../../local/bin/redis-local.js");

function runCli(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000, encoding: "utf8" }, (error, _stdout, stderr) =>
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stderr }));
  });
}

describe("redis-local CLI messages", function () {
  this.timeout(60_000);
  let dir: string;
  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-local-msg-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  for (const [args, flag] of [[["--cluster-nodes", "5"], "--cluster-nodes"], [["--replicas", "3"], "--replicas"]] as const) {
    it(`up ${args.join(" ")}: the error names ${flag}, not Pulumi config keys`, async () => {
      const { code, stderr } = await runCli(["up", ...args, "--state-dir", path.join(dir, "state")]);
      expect(code).to.equal(1);
      expect(stderr).to.include(flag).and.not.to.include("redis-on-docker:");
    });
  }

  it("with every cluster bus port taken, the error names the bus port range, not only the client one", async () => {
    const busPorts = Array.from({ length: 10_000 }, (_, i) => 20_000 + i);
    const error = await findFreePorts(1, { withBusPort: true, exclude: busPorts }).then(() => undefined, (e: Error) => e);
    expect(error?.message).to.include("cluster bus ports").and.to.include("20000-29999");
  });

  it("up interrupted (SIGINT) while starting: says so and what it cleaned; nothing left running, no state dir", async () => {
    const stateDir = path.join(dir, "interrupted");
    const child = spawn(process.execPath, [CLI, "up", "--state-dir", stateDir], { stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    const started = new Promise<string>((resolve) => {
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        const match = /starting \d+ redis-server \S+ processes in (\S+)/.exec(stderr);
        if (match) resolve(match[1]);
      });
    });
    const closed = new Promise<NodeJS.Signals | null>((resolve) => child.on("close", (_code, signal) => resolve(signal)));
    const stackDir = await Promise.race([started, closed.then(() => "")]);
    expect(stackDir, stderr).to.not.equal("");
    child.kill("SIGINT");
    expect(await closed).to.equal("SIGINT");
    expect(stderr).to.match(/up interrupted \(SIGINT\) before the stack was ready; stopped \d+ redis-server process\(es\), removed /);
    expect(stderr).to.include(stackDir);
    expect(fs.existsSync(stateDir), "state dir").to.equal(false);
    expect(fs.existsSync(stackDir), "stack dir").to.equal(false);
    const ps = await new Promise<string>((resolve) => execFile("ps", ["-eo", "args"], (_e, out) => resolve(String(out))));
    expect(ps.split("\n").filter((line) => line.includes(stackDir)), "redis-server processes of that stack").to.deep.equal([]);
  });

  it("status | head -1: the closed pipe ends it quietly (no EPIPE stack, exit 0 or its own code)", async () => {
    // A stale state file makes status print several lines.
    const stateDir = path.join(dir, "piped");
    fs.mkdirSync(stateDir);
    const child = spawn(process.execPath, [CLI, "status", "--state-dir", stateDir], { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.destroy(); // the reader is gone before the first write
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(stderr).not.to.include("EPIPE");
    expect(code).to.be.oneOf([0, 3]);
  });
});
