/**
 * The connector as an app outside this repo meets it: `npm pack`, the tarball installed into
 * a throwaway app in a fresh temp dir (outside the repo, so nothing of the repo's
 * node_modules is found), compiled with `strict` and no extra @types (only Node's), configured
 * only by the env lines of the installed CLI, run in the four modes against the local stack.
 * Then: no rendering of config, clients (cluster nodes too) or connection errors holds the
 * password; the tarball is what a package should be; the README's snippet runs and exits.
 *
 * Packing and installing: test/support/packedPackages.ts. The temp dir is removed.
 */
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { useLocalStack } from "../support/localStack";
import { processesIn } from "../reliability/support/boundedRun";
import { describeRun, installIntoApp, packWorkspace, REPO, run } from "../support/packedPackages";

const TSC = path.join(REPO, "node_modules/typescript/bin/tsc");
const FIXTURE = path.join(__dirname, "consumerApp/app.ts");
/** Spaces, a double quote and non-ASCII: the env file has to carry it intact. */
const PASSWORD = `consumer Pw "dq" ü✓ ${"x"}`;
const WRONG_PASSWORD = "consumer-wrong-password";

/** The first ```ts block after the README's "## Using the connector" heading, verbatim. */
function readmeSnippet(): string {
  const readme = fs.readFileSync(path.join(REPO, "README.md"), "utf8");
  const section = readme.slice(readme.indexOf("## Using the connector"));
  const match = /```ts\n([\s\S]*?)```/.exec(section);
  if (match === null) throw new Error("README.md: no ```ts block under \"## Using the connector\"");
  return match[1];
}

function listFiles(dir: string, prefix = ""): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    return entry.isDirectory() ? listFiles(path.join(dir, entry.name), rel) : [rel];
  });
}

describe("consumer: the packed connector in a strict TypeScript app outside the repo", function () {
  this.timeout(120_000);
  const stack = useLocalStack({ password: PASSWORD });
  let work = "";
  let app = "";
  let tarball = "";
  /** `tar -tv` lines by path inside the tarball. */
  const listing = new Map<string, string>();

  before(async function () {
    this.timeout(300_000);
    work = fs.mkdtempSync(path.join(os.tmpdir(), "connector-consumer-"));
    expect(path.relative(REPO, work).startsWith(".."), "the app is outside the repo").to.equal(true);
    // The connector depends on the outputs contract's package: an outsider installs both from the registry.
    const contract = await packWorkspace("outputs", work);
    tarball = await packWorkspace("connector", work);
    const tar = await run("tar", ["-tvzf", tarball], { cwd: work, timeoutMs: 30_000 });
    expect(tar.code, describeRun(tar)).to.equal(0);
    for (const line of tar.stdout.trim().split("\n")) listing.set(line.split(/\s+/).slice(5).join(" "), line);
    fs.mkdirSync(path.join(work, "extracted"));
    const extract = await run("tar", ["-xzf", tarball, "-C", path.join(work, "extracted")], { cwd: work, timeoutMs: 30_000 });
    expect(extract.code, describeRun(extract)).to.equal(0);

    app = path.join(work, "app");
    await installIntoApp(app, "consumer-app", [contract, tarball]);
    fs.mkdirSync(path.join(app, "src"), { recursive: true });
  });

  after(function () {
    if (work !== "") fs.rmSync(work, { recursive: true, force: true });
  });

  it("the tarball: LICENSE, engines, an executable CLI, and source maps that point only at shipped sources", function () {
    expect(listing.has("package/LICENSE"), "LICENSE in the tarball").to.equal(true);
    expect(fs.readFileSync(path.join(work, "extracted/package/LICENSE"), "utf8")).to.match(/^MIT License/);
    const manifest = JSON.parse(fs.readFileSync(path.join(work, "extracted/package/package.json"), "utf8")) as {
      license?: string;
      engines?: { node?: string };
      bin?: Record<string, string>;
    };
    expect(manifest.license).to.equal("MIT");
    expect(manifest.engines?.node, "engines.node").to.be.a("string").and.to.match(/>=\s*\d+/);
    const cli = listing.get(`package/${manifest.bin?.["redis-connector"]?.replace(/^\.\//, "")}`);
    expect(cli, "the bin file is in the tarball").to.be.a("string");
    expect(cli as string, "bin file mode in the tarball").to.match(/^-rwx/);

    const root = path.join(work, "extracted/package");
    const maps = listFiles(root).filter((f) => f.endsWith(".map"));
    expect(maps.length, "source maps shipped").to.be.greaterThan(0);
    const dangling: string[] = [];
    for (const map of maps) {
      const parsed = JSON.parse(fs.readFileSync(path.join(root, map), "utf8")) as { sources: string[]; sourceRoot?: string };
      for (const source of parsed.sources) {
        const target = path.resolve(path.dirname(path.join(root, map)), parsed.sourceRoot ?? "", source);
        if (!fs.existsSync(target)) dangling.push(`${map} -> ${source}`);
      }
    }
    expect(dangling, "source map entries pointing at files not in the tarball").to.deep.equal([]);
  });

  it("compiles with strict, skipLibCheck off and no @types but Node's (the package's declarations included)", async function () {
    fs.copyFileSync(FIXTURE, path.join(app, "src/app.ts"));
    fs.writeFileSync(path.join(app, "src/readme.ts"), readmeSnippet());
    fs.writeFileSync(
      path.join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          target: "ES2022",
          module: "commonjs",
          moduleResolution: "node",
          lib: ["ES2022"],
          strict: true,
          skipLibCheck: false,
          esModuleInterop: true,
          rootDir: "src",
          outDir: "dist",
          // Node's own types only: a type root holding nothing but the repo's @types/node (TypeScript
          // also looks up untyped modules' declarations in typeRoots, so the repo's whole @types
          // folder would hide a missing @types/convict).
          typeRoots: [path.join(work, "types")],
          types: ["node"],
        },
        include: ["src"],
      }, null, 2),
    );
    fs.mkdirSync(path.join(work, "types"));
    fs.symlinkSync(path.join(REPO, "node_modules/@types/node"), path.join(work, "types/node"));
    expect(fs.existsSync(path.join(app, "node_modules/@types")), "no @types in the app").to.equal(false);
    const compiled = await run(process.execPath, [TSC, "-p", "tsconfig.json"], { cwd: app, timeoutMs: 120_000 });
    expect(compiled.code, describeRun(compiled)).to.equal(0);
  });

  it("with the installed CLI's env lines (--out: a 0600 file), runs the four modes; no rendering holds the password", async function () {
    const cli = path.join(app, "node_modules/.bin/redis-connector");
    const env = await run(cli, ["env", "--file", stack().outputsFile, "--include-secrets", "--out", ".env"], { cwd: app, timeoutMs: 30_000 });
    expect(env.code, describeRun(env)).to.equal(0);
    expect(fs.statSync(path.join(app, ".env")).mode & 0o777, ".env mode").to.equal(0o600);

    const started = run(process.execPath, ["--env-file=.env", "dist/app.js"], { cwd: app, timeoutMs: 90_000, env: { PATH: process.env.PATH } });
    const result = await started;
    expect(result.code, describeRun(result)).to.equal(0);
    expect(processesIn(app), "processes left in the app dir").to.deep.equal([]);
    const output = JSON.parse(result.stdout.trim()) as Record<string, Record<string, unknown> | string | boolean>;
    for (const topology of ["standalone", "cluster"]) {
      for (const form of ["async", "sync"]) {
        expect(output[`${form} ${topology}`], `${form} ${topology}`).to.deep.include({
          allValues: true,
          pipeline: ["OK", 2, "2"],
          multi: ["OK", "OK", ["a", "b"]],
          buffer: [0, 255, 1],
          replyError: true,
        });
        expect(output[`${form} ${topology} wrong password`], `${form} ${topology} wrong password`).to.be.oneOf(["NotReadyError", "SyncConnectError"]);
        expect(output[`${form} ${topology} wrong username`], `${form} ${topology} wrong username`).to.be.oneOf(["NotReadyError", "SyncConnectError"]);
      }
    }
    expect((output["async cluster"] as Record<string, unknown>).isIoredis).to.equal(true);
    expect((output["async cluster"] as Record<string, unknown>).nodes as number, "cluster nodes rendered").to.be.at.least(3);
    expect(output.configError).to.equal("REDIS_PORT");

    const renderings = fs.readFileSync(path.join(app, "renderings.txt"), "utf8");
    // The renderings are real: clients, nodes, configs and errors are in there.
    // A refused password renders as Redis 6+'s "WRONGPASS" or Redis 5's "ERR invalid password".
    expect(renderings).to.include("Cluster").and.to.include("status").and.to.include("[redacted]");
    expect(renderings).to.match(/WRONGPASS|ERR invalid password/);
    expect(renderings.includes(PASSWORD), "a rendering holds the password").to.equal(false);
    expect(renderings.includes(WRONG_PASSWORD), "a rendering holds the tried password").to.equal(false);
    expect(`${result.stdout}${result.stderr}`.includes(PASSWORD), "the app's output holds the password").to.equal(false);
  });

  it("the README's snippet compiles (above), runs against the stack and exits on its own", async function () {
    expect(fs.existsSync(path.join(app, ".env")), "env lines written by the previous test").to.equal(true);
    const result = await run(process.execPath, ["--env-file=.env", "dist/readme.js"], { cwd: app, timeoutMs: 20_000, env: { PATH: process.env.PATH } });
    expect(result.timedOut, "the snippet did not exit within 20 s").to.equal(false);
    expect(result.code, describeRun(result)).to.equal(0);
    expect(result.stdout).to.equal("async cluster\nsync cluster\n");
  });
});
