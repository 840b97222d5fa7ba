/**
 * scripts/check-shell.sh (run by `npm test`): passes on the committed shell files and on the
 * rendered bootstrap (settings header + redis-cluster-bootstrap.sh) of a sample plan, and fails,
 * naming the file, when a copy gets a syntax error or a shellcheck finding.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { BOOTSTRAP_SCRIPT_FILE, planTopology, validateStackSettings } from "@redis-on-docker/topology";

const REPO = path.resolve(__dirname, "../..");
const CHECKER = path.join(REPO, "scripts/check-shell.sh");

function checkShell(files: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    execFile("bash", [CHECKER, ...files], { timeout: 120_000, killSignal: "SIGKILL", encoding: "utf8" }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === "number" ? error.code : null, output: stdout + stderr });
    });
  });
}

describe("scripts/check-shell.sh", function () {
  this.timeout(150_000);
  let dir = "";
  const body = (): string => fs.readFileSync(BOOTSTRAP_SCRIPT_FILE, "utf8");
  before(() => (dir = fs.mkdtempSync(path.join(os.tmpdir(), "check-shell-"))));
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("passes on every committed shell file and on the rendered bootstrap of a sample plan", async function () {
    const all = await checkShell([]);
    expect(all.code, all.output).to.equal(0);
    const rendered = path.join(dir, "rendered.sh");
    const plan = planTopology(validateStackSettings({ password: "sample pass" }, "test"));
    fs.writeFileSync(rendered, plan.bootstrap.script);
    const one = await checkShell([rendered]);
    expect(one.code, one.output).to.equal(0);
  });

  it("fails, naming the file and each shell, on a syntax error", async function () {
    const broken = path.join(dir, "syntax.sh");
    fs.writeFileSync(broken, body().replace("\ndone\n", "\n"));
    const run = await checkShell([broken]);
    expect(run.code).to.equal(1);
    expect(run.output).to.include(`${broken}: dash -n failed`);
    expect(run.output).to.include(`${broken}: busybox sh -n failed`);
  });

  it("fails on a shellcheck finding that parses fine", async function () {
    const broken = path.join(dir, "lint.sh");
    // An unquoted variable in a test: valid sh, shellcheck SC2086.
    fs.writeFileSync(broken, body().replace('[ -s "$PASSWORD_FILE" ]', "[ -s $PASSWORD_FILE ]"));
    const run = await checkShell([broken]);
    expect(run.code, run.output).to.equal(1);
    expect(run.output).to.include(`${broken}: shellcheck failed`);
    expect(run.output).to.include("SC2086");
    expect(run.output).not.to.include("-n failed");
  });
});
