/**
 * How the local package finds redis-server and redis-cli: an env var naming the file, else PATH;
 * when missing, the library and the CLI fail at once with install instructions (apt, Homebrew)
 * and start nothing. `--help` tells the truth about these variables.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { findRedisBinaries, MissingRedisBinaryError, startLocalStack } from "@redis-on-docker/local";

const CLI = path.resolve(__dirname, "../../local/dist/cli.js");

function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env, timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr });
    });
  });
}

function stackDirs(): string[] {
  return fs.readdirSync(os.tmpdir()).filter((e) => e.startsWith("redis-local-"));
}

describe("local package: finding redis-server and redis-cli", function () {
  let dir = "";
  beforeEach(function () {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "redis-binaries-test-"));
  });
  afterEach(function () {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function fakeBinary(name: string, mode = 0o755): string {
    const file = path.join(dir, name);
    fs.writeFileSync(file, "#!/bin/sh\nexit 0\n", { mode });
    return file;
  }

  it("takes the first executable on PATH, and the env vars over PATH", function () {
    const server = fakeBinary("redis-server");
    const cli = fakeBinary("redis-cli");
    expect(findRedisBinaries({ PATH: `/nonexistent${path.delimiter}${dir}` })).to.deep.equal({ server, cli });
    const other = fs.mkdtempSync(path.join(dir, "other-"));
    const otherServer = path.join(other, "my-redis-server");
    fs.writeFileSync(otherServer, "#!/bin/sh\n", { mode: 0o755 });
    expect(findRedisBinaries({ PATH: dir, REDIS_SERVER_BIN: otherServer }).server).to.equal(otherServer);
  });

  it("missing from PATH: names the binary, the env var and how to install (apt, Homebrew)", function () {
    fakeBinary("redis-server");
    fakeBinary("redis-cli", 0o644); // not executable: does not count
    let error: unknown;
    try {
      findRedisBinaries({ PATH: dir });
    } catch (e) {
      error = e;
    }
    expect(error).to.be.instanceOf(MissingRedisBinaryError);
    const message = (error as Error).message;
    expect(message).to.include("redis-cli not found on PATH").and.to.include("REDIS_CLI_BIN");
    expect(message).to.include("apt-get install redis-server").and.to.include("brew install redis");
  });

  it("an env var naming no executable is an error naming the variable", function () {
    expect(() => findRedisBinaries({ PATH: "", REDIS_SERVER_BIN: path.join(dir, "nope") })).to.throw(MissingRedisBinaryError, /REDIS_SERVER_BIN=.*nope: no executable/);
  });

  it("startLocalStack without redis on PATH rejects at once and leaves no temp dir", async function () {
    const before = stackDirs();
    const savedPath = process.env.PATH;
    process.env.PATH = dir;
    try {
      const started = Date.now();
      let error: unknown;
      await startLocalStack().catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(MissingRedisBinaryError);
      expect(Date.now() - started).to.be.below(5000);
    } finally {
      process.env.PATH = savedPath;
    }
    expect(stackDirs()).to.deep.equal(before);
  });

  it("the CLI: exit 1 with the install hint; --help names the variables", async function () {
    const up = await runCli(["up", "--state-dir", path.join(dir, "state")], { PATH: dir });
    expect(up.code, up.stderr).to.equal(1);
    expect(up.stderr).to.include("redis-server not found on PATH").and.to.include("brew install redis");
    expect(fs.existsSync(path.join(dir, "state")), "no state dir left by the failed up").to.equal(false);
    const help = await runCli(["--help"], { PATH: dir });
    expect(help.code).to.equal(0);
    expect(help.stdout).to.match(/^Usage: redis-local <up\|down\|status\|placement>/).and.to.include("REDIS_SERVER_BIN").and.to.include("REDIS_CLI_BIN");
  });
});
