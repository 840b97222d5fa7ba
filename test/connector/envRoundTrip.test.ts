/**
 * Property test: every password the connector accepts, written by `formatEnv` in each
 * `--format`, reads back byte for byte through every reader that format names, and no
 * value can run a command; a value a format cannot carry is refused naming the format and
 * its readers. Passwords are generated from a fixed seed, so every run checks the same cases.
 */
import { expect } from "chai";
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parse as dotenvParse } from "dotenv";
import { loadConfig } from "@redis-on-docker/connector";
import { formatEnv, EnvFormatError, ENV_FORMAT_READERS, type EnvFormat } from "@redis-on-docker/connector/dist/envFormat";
import { outputsFixture } from "./support/outputsFixture";

const CLI = path.resolve(__dirname, "../../connector/dist/cli.js");
const READER_TIMEOUT_MS = 15_000;
const SEED = 0x17_2026;
const CASES = 400;

/** mulberry32: a small, well-known seeded PRNG (reproducible runs). */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PRINTABLE_ASCII = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i));
/** Pieces that break naive quoting: quotes, expansions, command substitutions, escapes, comments. */
const AWKWARD = [
  "'", '"', "`", "$", "\\", "#", " ", "=", "\t",
  "\\n", "\\r", "\\t", "\\\\", "\\'", '\\"', "\\$", "\\`", "\\x41", "\\u00e9", "\\0",
  "$HOME", "${HOME}", "$(touch PWNED)", "`touch PWNED`", ";touch PWNED", "' ; touch PWNED ; '", '" ; touch PWNED ; "',
  "'a' \"b\";touch PWNED", "it's", "export X=1", "#comment", " # ", "=x",
];
const UNICODE = ["é", "ü", "€", "中文", "😀", "\u00a0", "\u200b", "\u2028", "\ufeff", "e\u0301", "𝔘"];

/** A password the connector accepts (no CR/LF/NUL, 1..512 UTF-8 bytes), built from random pieces. */
function generatePassword(random: () => number): string {
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)];
  const targetBytes = 1 + Math.floor(random() ** 2 * 512);
  let password = "";
  while (Buffer.byteLength(password) < targetBytes) {
    const r = random();
    const piece = r < 0.55 ? pick(PRINTABLE_ASCII) : r < 0.85 ? pick(AWKWARD) : pick(UNICODE);
    if (Buffer.byteLength(password + piece) > 512) break;
    password += piece;
  }
  return password === "" ? "x" : password;
}

/** The fixed cases the issue reported, then the generated ones. */
function passwords(): string[] {
  const random = prng(SEED);
  const fixed = ["it's\\nx", "it's $HOME", 'it\'s "q"', "'a' \"b\";touch PWNED", "x\\", "a\\'", "'", "\\", " lead", "trail ", "#", "\\\\'\"$`"];
  const generated = Array.from({ length: CASES }, () => generatePassword(random));
  return [...fixed, ...generated, "x".repeat(512), "😀".repeat(128)];
}

function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = { PATH: process.env.PATH }): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, env, timeout: READER_TIMEOUT_MS, encoding: "utf8", maxBuffer: 64 << 20 }, (error, stdout, stderr) =>
      error === null ? resolve(stdout) : reject(new Error(`${command} ${args.join(" ")}: ${error.message} ${stderr}`)));
  });
}

/** Prints the P_* and REDIS_* variables of its environment as JSON: what a reader that exports them handed on. */
const PRINT_ENV = "const o={};for(const[k,v]of Object.entries(process.env))if(/^(P_\\d+|REDIS_\\w+)$/.test(k))o[k]=v;process.stdout.write(JSON.stringify(o))";

type Reader = (file: string, cwd: string) => Promise<Record<string, string>>;

const sourcedBy = (shell: string): Reader => async (file, cwd) =>
  JSON.parse(await run(shell, ["-c", `set -a; . "$1"; exec "$2" -e "$3"`, shell, file, process.execPath, PRINT_ENV], cwd)) as Record<string, string>;

/** Each format's readers, as the connector names them in ENV_FORMAT_READERS. */
const READERS: Record<EnvFormat, Record<string, Reader>> = {
  dotenv: {
    "node --env-file": async (file, cwd) => JSON.parse(await run(process.execPath, [`--env-file=${file}`, "-e", PRINT_ENV], cwd, {})) as Record<string, string>,
    dotenv: async (file) => dotenvParse(fs.readFileSync(file)),
    "sh (dash)": sourcedBy("dash"),
    bash: sourcedBy("bash"),
  },
  shell: {
    "sh (dash)": sourcedBy("dash"),
    bash: sourcedBy("bash"),
  },
  json: {
    "JSON.parse": async (file) => JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>,
  },
};

describe("env files: every accepted password round-trips through each format's readers, and never runs", function () {
  this.timeout(60_000);
  let dir: string;
  const all = passwords();

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "env-roundtrip-"));
  });
  after(() => fs.rmSync(dir, { recursive: true, force: true }));

  it("the generated passwords are ones the connector accepts, and cover the awkward characters", () => {
    for (const password of all) expect(loadConfig({ env: { REDIS_PASSWORD: password } }).password === password).to.equal(true);
    const joined = all.join("");
    for (const needle of ["'", '"', "`", "$", "\\", "😀", "$(touch PWNED)"]) expect(joined).to.include(needle);
    expect(Math.max(...all.map((p) => Buffer.byteLength(p)))).to.equal(512);
    expect(Math.min(...all.map((p) => Buffer.byteLength(p)))).to.equal(1);
  });

  for (const format of Object.keys(READERS) as EnvFormat[]) {
    it(`--format ${format}: read back byte for byte by ${Object.keys(READERS[format]).join(", ")}; refusals name the format and readers`, async () => {
      const cwd = fs.mkdtempSync(path.join(dir, `${format}-`));
      const carried: Array<[string, string]> = [];
      const refused: string[] = [];
      all.forEach((password, i) => {
        const name = `P_${i}`;
        try {
          formatEnv([[name, password]], format);
          carried.push([name, password]);
        } catch (error) {
          expect(error).to.be.instanceOf(EnvFormatError);
          const message = (error as Error).message;
          expect(message).to.include(name).and.to.include(`--format ${format}`).and.to.include(ENV_FORMAT_READERS[format]);
          expect(message.includes(password), "the refusal does not echo the value").to.equal(false);
          refused.push(password);
        }
      });
      if (format !== "dotenv") expect(refused, `${format} carries every accepted value`).to.have.length(0);
      // dotenv refuses exactly what its help names: a single quote together with one of " $ ` \\.
      else expect(refused).to.deep.equal(all.filter((p) => p.includes("'") && /["$`\\]/.test(p)));

      const file = path.join(cwd, `lines.${format}`);
      fs.writeFileSync(file, formatEnv(carried, format));
      const expected = Object.fromEntries(carried);
      for (const [readerName, read] of Object.entries(READERS[format])) {
        const got = await read(file, cwd);
        const wrong = carried.filter(([name, value]) => got[name] !== value);
        expect(wrong.map(([name, value]) => `${name}: ${JSON.stringify(value)} -> ${JSON.stringify(got[name])}`), `${format} via ${readerName}`).to.deep.equal([]);
        expect(Object.keys(got).filter((k) => /^P_\d+$/.test(k)).sort()).to.deep.equal(Object.keys(expected).sort());
      }
      expect(fs.readdirSync(cwd), "no reader ran a command (no file appeared)").to.deep.equal([`lines.${format}`]);
    });
  }

  it("the CLI writes the same lines: the issue's passwords through `env --include-secrets --out`", async () => {
    const cases = ["it's\\nx", "it's $HOME", 'it\'s "q"', "'a' \"b\";touch PWNED", "p w'ü $HOME \\ x", "a\\"];
    for (const [i, password] of cases.entries()) {
      const outputs = path.join(dir, `outputs-${i}.json`);
      fs.writeFileSync(outputs, JSON.stringify(outputsFixture(password)));
      for (const format of Object.keys(READERS) as EnvFormat[]) {
        const cwd = fs.mkdtempSync(path.join(dir, `cli-${format}-`));
        const out = path.join(cwd, "out.env");
        let refusedMessage: string | undefined;
        try {
          await run(process.execPath, [CLI, "env", "--file", outputs, "--format", format, "--include-secrets", "--out", out], cwd);
        } catch (error) {
          refusedMessage = (error as Error).message;
        }
        let libraryRefused = false;
        try {
          formatEnv([["REDIS_PASSWORD", password]], format);
        } catch {
          libraryRefused = true;
        }
        expect(refusedMessage !== undefined, `${format} ${JSON.stringify(password)}: CLI refuses exactly when formatEnv does`).to.equal(libraryRefused);
        if (refusedMessage !== undefined) {
          expect(refusedMessage).to.include("REDIS_PASSWORD").and.to.include(`--format ${format}`);
          continue;
        }
        for (const [readerName, read] of Object.entries(READERS[format])) {
          const got = await read(out, cwd);
          expect(got.REDIS_PASSWORD === password, `${format} via ${readerName}: ${JSON.stringify(password)} -> ${JSON.stringify(got.REDIS_PASSWORD)}`).to.equal(true);
          expect(got.REDIS_CLUSTER_NODES).to.equal("127.0.0.1:7001,127.0.0.1:7002,127.0.0.1:7003");
        }
        expect(fs.readdirSync(cwd).sort(), "nothing ran").to.deep.equal(["out.env"]);
      }
    }
  });
});

