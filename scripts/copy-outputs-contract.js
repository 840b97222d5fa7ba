#!/usr/bin/env node
// Writes connector/src/outputsContract.ts: the outputs contract (outputs/src/index.ts) under a
// header, so the connector's package carries the contract's types and installs alone.
const fs = require("node:fs");
const path = require("node:path");

const root = path.resolve(__dirname, "..");
const HEADER = `/**
 * GENERATED copy of outputs/src/index.ts (the outputs contract), so the connector's package
 * carries the contract's types and installs alone. Edit outputs/src/index.ts, then run
 * \`node scripts/copy-outputs-contract.js\`; test/connector/packaging.test.ts fails on any drift.
 */
`;
/** The text connector/src/outputsContract.ts must hold. */
function contractCopy() {
  return HEADER + fs.readFileSync(path.join(root, "outputs/src/index.ts"), "utf8");
}
module.exports = { contractCopy };
if (require.main === module) fs.writeFileSync(path.join(root, "connector/src/outputsContract.ts"), contractCopy());
