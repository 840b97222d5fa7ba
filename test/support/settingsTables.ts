/**
 * The settings tables of the READMEs and docs, made from the settings' one source: each field's
 * doc comment on `StackSettings` (topology/src/settings.ts; its first paragraph is the meaning)
 * and the defaults objects (`DEFAULT_SETTINGS`, the local runner's `LOCAL_DEFAULTS`).
 *
 * A table sits between `<!-- settings-table:<kind> -->` and `<!-- /settings-table -->`.
 * Rewrite every table after a settings change: `npx ts-node test/support/settingsTables.ts --write`.
 */
import fs from "node:fs";
import path from "node:path";
import ts from "typescript";
import { LOCAL_DEFAULTS } from "@redis-on-docker/local";
import { DEFAULT_SETTINGS, SETTING_KEYS, type SettingKey } from "@redis-on-docker/topology";

export const REPO = path.resolve(__dirname, "../..");
const SETTINGS_SOURCE = path.join(REPO, "topology/src/settings.ts");

export interface SettingDoc {
  /** The doc comment's first paragraph, on one line. */
  meaning: string;
  /** The `@defaultValue` tag's text, when there is one. */
  defaultTag?: string;
}

/** Each `StackSettings` field's doc comment, read from the source with the TypeScript parser. */
export function settingDocs(): Map<string, SettingDoc> {
  const source = ts.createSourceFile(SETTINGS_SOURCE, fs.readFileSync(SETTINGS_SOURCE, "utf8"), ts.ScriptTarget.ES2022, true);
  const settings = source.statements.find(
    (s): s is ts.InterfaceDeclaration => ts.isInterfaceDeclaration(s) && s.name.text === "StackSettings",
  );
  if (settings === undefined) throw new Error(`${SETTINGS_SOURCE}: no interface StackSettings`);
  const docs = new Map<string, SettingDoc>();
  for (const member of settings.members) {
    if (!ts.isPropertySignature(member) || !ts.isIdentifier(member.name)) continue;
    const jsDoc = ts.getJSDocCommentsAndTags(member).filter(ts.isJSDoc).at(-1);
    const text = ts.getTextOfJSDocComment(jsDoc?.comment) ?? "";
    const tag = jsDoc?.tags?.find((t) => t.tagName.text === "defaultValue");
    docs.set(member.name.text, {
      meaning: text.split(/\n\s*\n/)[0].replace(/\s+/g, " ").trim(),
      ...(tag ? { defaultTag: (ts.getTextOfJSDocComment(tag.comment) ?? "").trim() } : {}),
    });
  }
  return docs;
}

/** A default as the docs show it. */
export function shownDefault(value: unknown): string {
  if (value === undefined) return "none";
  return `\`${typeof value === "object" ? JSON.stringify(value) : String(value)}\``;
}

const cell = (text: string): string => text.replace(/\|/g, "\\|");

/** The kinds of table, and the rows each shows. */
const TABLES = {
  /** The stack's settings (`redis-on-docker:<key>` in `Pulumi.<stack>.yaml`, `RedisOnDockerArgs`). */
  stack: {
    keys: SETTING_KEYS,
    defaultOf: (key: SettingKey): string => (key === "password" ? "none (secret)" : shownDefault(DEFAULT_SETTINGS[key])),
  },
  /** The settings `startLocalStack` / `redis-local up` take, with the local runner's defaults. */
  local: {
    keys: Object.keys(LOCAL_DEFAULTS) as Array<keyof typeof LOCAL_DEFAULTS>,
    defaultOf: (key: keyof typeof LOCAL_DEFAULTS): string => shownDefault(LOCAL_DEFAULTS[key]),
  },
} as const;
export type TableKind = keyof typeof TABLES;

export function renderSettingsTable(kind: TableKind): string {
  const docs = settingDocs();
  const table = TABLES[kind];
  const rows = (table.keys as readonly string[]).map((key) => {
    const doc = docs.get(key);
    if (doc === undefined || doc.meaning === "") throw new Error(`StackSettings.${key} has no doc comment`);
    const shown = (table.defaultOf as (k: string) => string)(key);
    return `| \`${key}\` | ${cell(shown)} | ${cell(doc.meaning)} |`;
  });
  return ["| key | default | meaning |", "|---|---|---|", ...rows].join("\n");
}

const BLOCK = /(<!-- settings-table:(\w+) -->\n)([\s\S]*?)(<!-- \/settings-table -->)/g;

/** Every Markdown file that may hold a settings table: the READMEs and docs/. */
export function documentationFiles(): string[] {
  const readmes = ["README.md", ...fs.readdirSync(REPO).map((d) => path.join(d, "README.md"))];
  const docs = fs.existsSync(path.join(REPO, "docs")) ? fs.readdirSync(path.join(REPO, "docs")).map((f) => path.join("docs", f)) : [];
  return [...new Set([...readmes, ...docs])].filter((f) => f.endsWith(".md") && fs.existsSync(path.join(REPO, f))).sort();
}

export interface TableBlock {
  file: string;
  kind: string;
  current: string;
  expected: string;
}

/** The settings tables in `file` (relative to the repo), each with what it should say. */
export function tableBlocks(file: string): TableBlock[] {
  const text = fs.readFileSync(path.join(REPO, file), "utf8");
  return [...text.matchAll(BLOCK)].map((m) => ({
    file,
    kind: m[2],
    current: m[3].trimEnd(),
    expected: m[2] in TABLES ? renderSettingsTable(m[2] as TableKind) : `(unknown table kind ${m[2]})`,
  }));
}

/** Rewrites every table in every documentation file; returns the files changed. */
export function writeSettingsTables(): string[] {
  const changed: string[] = [];
  for (const file of documentationFiles()) {
    const full = path.join(REPO, file);
    const text = fs.readFileSync(full, "utf8");
    const updated = text.replace(BLOCK, (_all, open: string, kind: string, _body: string, close: string) =>
      kind in TABLES ? `${open}${renderSettingsTable(kind as TableKind)}\n${close}` : _all,
    );
    if (updated !== text) {
      fs.writeFileSync(full, updated);
      changed.push(file);
    }
  }
  return changed;
}

if (require.main === module && process.argv.includes("--write")) {
  const changed = writeSettingsTables();
  process.stdout.write(changed.length > 0 ? `rewrote the settings tables in ${changed.join(", ")}\n` : "settings tables are current\n");
}
