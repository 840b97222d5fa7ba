/**
 * The "done when": an app outside the package, importing it by name and configured
 * only by the env lines the CLI produced from the runner's outputs document, runs all four
 * modes. Also `redis-connector check` on the same lines.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import path from "node:path";
import { useLocalStack } from "../support/localStack";

const ROOT = path.resolve(__dirname, "../..");
const CLI = path.join(ROOT, "connector/dist/cli.js");
const RUN_TIMEOUT_MS = 60_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(file: string, args: string[], env: NodeJS.ProcessEnv, cwd = ROOT): Promise<Run> {
  return new Promise((resolve) => {
    execFile(file, args, { env, cwd, timeout: RUN_TIMEOUT_MS, encoding: "utf8" }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, stdout, stderr });
    });
  });
}

describe("examples app: configured only by the CLI's env lines, all four modes", function () {
  this.timeout(120_000);
  const stack = useLocalStack();
  let envLines: Record<string, string>;

  before(async () => {
    const result = await run(process.execPath, [CLI, "env", "--file", stack().outputsFile, "--format", "json", "--include-secrets"], {
      PATH: process.env.PATH,
    });
    expect(result.code, result.stderr).to.equal(0);
    envLines = JSON.parse(result.stdout) as Record<string, string>;
    expect(envLines.REDIS_PASSWORD).to.equal(stack().outputs.password);
  });

  it("prints what each mode read back", async () => {
    // Only PATH and the CLI's lines: nothing else of this process's env reaches the app.
    const env = { PATH: process.env.PATH, ...envLines };
    const result = await run(
      process.execPath,
      ["-r", require.resolve("ts-node/register/transpile-only"), "src/main.ts"],
      env,
      path.join(ROOT, "examples"),
    );
    expect(result.stderr).to.equal("");
    expect(result.code).to.equal(0);
    expect(result.stdout.trim().split("\n")).to.deep.equal([
      "sync standalone: name = sync singal",
      "async standalone: name = async singal",
      "sync cluster: name = sync cluster",
      "async cluster: name = async cluster",
    ]);
    expect(result.stdout).not.to.include(stack().outputs.password);
  });

  it("the app fails clearly (and fast) when its env is wrong", async () => {
    const env = { PATH: process.env.PATH, ...envLines, REDIS_CLUSTER_NODES: "127.0.0.1:notaport" };
    const result = await run(process.execPath, ["-r", require.resolve("ts-node/register/transpile-only"), "src/main.ts"], env, path.join(ROOT, "examples"));
    expect(result.code).to.equal(1);
    expect(result.stderr).to.include("cluster.nodes (env REDIS_CLUSTER_NODES) from env REDIS_CLUSTER_NODES");
    expect(result.stderr).not.to.include(stack().outputs.password);
  });

  for (const topology of ["standalone", "cluster"]) {
    it(`redis-connector check (${topology}) connects and PINGs with the same lines`, async () => {
      const result = await run(process.execPath, [CLI, "check"], { PATH: process.env.PATH, ...envLines, REDIS_TOPOLOGY: topology });
      expect(result.code, result.stderr).to.equal(0);
      expect(result.stdout).to.match(new RegExp(`^ok: ${topology} PONG `));
      expect(result.stdout).to.include('"password":"[redacted]"').and.not.to.include(stack().outputs.password);
    });
  }
});
