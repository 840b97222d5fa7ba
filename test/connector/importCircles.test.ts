/**
 * The import-circle check `npm test` runs (`npm run check:circles`: madge over the packages'
 * src, its options under "madge" in package.json): it passes on the tree, and it fails on two
 * modules that import each other, also when one import is type-only (as the connector's
 * config/formats.ts <-> stackOutputs.ts circle was).
 */
import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describeRun, REPO, run } from "../support/packedPackages";

const MADGE = path.join(REPO, "node_modules/madge/bin/cli.js");
const CHECK = (JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts["check:circles"];

/** The check's command with the tree's folders replaced by `folder` (same options, same cwd). */
async function checkFolder(folder: string) {
  const [tool, ...words] = CHECK.split(/\s+/);
  expect(tool).to.equal("madge");
  const options = words.filter((w) => w.startsWith("--"));
  return run(process.execPath, [MADGE, ...options, folder], { cwd: REPO, timeoutMs: 60_000 });
}

describe("import circle check (npm run check:circles)", function () {
  this.timeout(120_000);

  it("finds no circle in the packages' sources", async () => {
    expect(CHECK, "the check looks for circles in the connector").to.match(/^madge --circular .*\bconnector\/src\b/);
    const result = await run("npm", ["run", "--silent", "check:circles"], { cwd: REPO, timeoutMs: 60_000 });
    expect(result.code, describeRun(result)).to.equal(0);
  });

  it("fails, naming both files, when two modules import each other (one import type-only)", async () => {
    const folder = fs.mkdtempSync(path.join(os.tmpdir(), "import-circle-"));
    try {
      fs.writeFileSync(path.join(folder, "endpoint.ts"), 'import type { Settings } from "./settings";\nexport interface Endpoint { settings?: Settings }\n');
      fs.writeFileSync(path.join(folder, "settings.ts"), 'import { type Endpoint } from "./endpoint";\nexport interface Settings { nodes: Endpoint[] }\n');
      fs.writeFileSync(path.join(folder, "leaf.ts"), 'import type { Settings } from "./settings";\nexport const none: Settings[] = [];\n');
      const circle = await checkFolder(folder);
      expect(circle.code, describeRun(circle)).to.not.equal(0);
      expect(circle.stdout, describeRun(circle)).to.match(/endpoint\.ts > settings\.ts|settings\.ts > endpoint\.ts/);
    } finally {
      fs.rmSync(folder, { recursive: true, force: true });
    }
  });
});
