/**
 * One source per setting: the docs say what `topology/src/settings.ts` says. Each field's doc
 * comment states its default in `@defaultValue`, which must be the default the code applies, and
 * every settings table in the READMEs and docs/ is the one made from that source.
 */
import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { DEFAULT_SETTINGS, SETTING_KEYS } from "@redis-on-docker/topology";
import { documentationFiles, REPO, settingDocs, shownDefault, tableBlocks } from "../support/settingsTables";

const REWRITE = "npx ts-node test/support/settingsTables.ts --write";

describe("settings docs: one source", () => {
  const docs = settingDocs();

  it("every setting, and only those, has a doc comment on StackSettings", () => {
    expect([...docs.keys()]).to.have.members([...SETTING_KEYS]);
    for (const [key, doc] of docs) expect(doc.meaning, key).to.not.equal("");
  });

  it("each doc comment's @defaultValue is the default validateStackSettings applies", () => {
    for (const key of SETTING_KEYS) {
      const applied = (DEFAULT_SETTINGS as Record<string, unknown>)[key];
      expect(docs.get(key)?.defaultTag, `@defaultValue of StackSettings.${key}`).to.equal(
        applied === undefined ? undefined : shownDefault(applied),
      );
    }
  });

  const blocks = documentationFiles().flatMap(tableBlocks);

  it("the README tables are there: the stack's settings and the local runner's", () => {
    expect(blocks.map((b) => b.kind)).to.include.members(["stack", "local"]);
  });

  for (const block of blocks) {
    it(`${block.file}: the ${block.kind} settings table is current`, () => {
      expect(block.current, `${block.file} (rewrite with: ${REWRITE})`).to.equal(block.expected);
    });
  }

  it("no setting's default is restated in a table by hand (outside the generated ones)", () => {
    const row = new RegExp(`^\\| \`(${SETTING_KEYS.join("|")})\` \\|`);
    for (const file of documentationFiles()) {
      const outside = fs.readFileSync(path.join(REPO, file), "utf8").replace(/<!-- settings-table:\w+ -->[\s\S]*?<!-- \/settings-table -->/g, "");
      const restated = outside.split("\n").filter((line) => row.test(line));
      expect(restated, `${file}: put the table between <!-- settings-table:stack --> and <!-- /settings-table -->`).to.deep.equal([]);
    }
  });
});
