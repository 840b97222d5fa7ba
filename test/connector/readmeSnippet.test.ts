/**
 * The connector README's snippet, verbatim, in a CommonJS app and in an ES module app: it
 * compiles with strict and exits by itself (both clients closed) against a real local stack.
 */
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describeRun, REPO, run } from "../support/packedPackages";
import { useLocalStack } from "../support/localStack";

const TSC = path.join(REPO, "node_modules/typescript/bin/tsc");
/** Well above a connect + two commands + close on a loaded machine; the old snippet never exited. */
const EXIT_BOUND_MS = 15_000;

function readmeSnippet(): string {
  const readme = fs.readFileSync(path.join(REPO, "connector/README.md"), "utf8");
  const match = /```ts\n([\s\S]*?)```/.exec(readme);
  if (match === null) throw new Error("no ts snippet in connector/README.md");
  return match[1];
}

describe("connector README snippet", function () {
  this.timeout(120_000);
  const stack = useLocalStack({ password: "readme-Pw 1" });
  let work: string;
  before(() => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "readme-snippet-"));
  });
  after(() => fs.rmSync(work, { recursive: true, force: true }));

  for (const kind of ["commonjs", "module"] as const) {
    it(`compiles verbatim with strict in a ${kind === "module" ? "ESM" : "CommonJS"} app and exits by itself`, async () => {
      const app = path.join(work, kind);
      fs.mkdirSync(app);
      fs.writeFileSync(path.join(app, "package.json"), JSON.stringify({ name: `readme-${kind}`, private: true, type: kind }));
      fs.symlinkSync(path.join(REPO, "node_modules"), path.join(app, "node_modules"));
      fs.writeFileSync(path.join(app, "main.ts"), readmeSnippet());
      const moduleFlags = kind === "module" ? ["--module", "nodenext", "--moduleResolution", "nodenext"] : ["--module", "commonjs"];
      const tsc = await run(process.execPath, [TSC, "--strict", "--target", "ES2022", "--types", "node", "--skipLibCheck", ...moduleFlags, "main.ts"], { cwd: app, timeoutMs: 90_000 });
      expect(tsc.code, describeRun(tsc)).to.equal(0);
      const env = { PATH: process.env.PATH, REDIS_OUTPUTS_FILE: stack().outputsFile };
      const ran = await run(process.execPath, ["main.js"], { cwd: app, timeoutMs: EXIT_BOUND_MS, env });
      expect(ran.timedOut, `exits within ${EXIT_BOUND_MS} ms: ${describeRun(ran)}`).to.equal(false);
      expect(ran.code, describeRun(ran)).to.equal(0);
      expect(ran.stdout).to.equal("async cluster\nsync singal\n");
    });
  }
});
