/**
 * Reads the flat `config:` map of a Pulumi stack file (Pulumi.ci.yaml), as `pulumi config`
 * hands values to the program: strings. Nested values (`secure:` entries) are refused: the
 * test sets its own password.
 */
import { readFileSync } from "node:fs";

export function readStackConfigFile(path: string): Record<string, string> {
  const lines = readFileSync(path, "utf8").split("\n");
  const config: Record<string, string> = {};
  let inConfig = false;
  for (const [i, line] of lines.entries()) {
    if (/^\s*(#|$)/.test(line)) continue;
    if (/^config:\s*$/.test(line)) {
      inConfig = true;
      continue;
    }
    if (!/^\s/.test(line)) {
      inConfig = false;
      continue;
    }
    if (!inConfig) continue;
    const m = /^\s+([\w-]+:[\w-]+):\s*(.*?)\s*$/.exec(line);
    if (!m || m[2] === "") throw new Error(`${path}:${i + 1}: expected \`  namespace:key: value\` (nested values such as secure: are not supported here)`);
    config[m[1]] = m[2].replace(/^"(.*)"$/, "$1").replace(/^'(.*)'$/, "$1");
  }
  return config;
}
