/**
 * Reading the JSON documents the connector is given (a config file, an outputs document):
 * errors are ConfigErrors that say where the text broke, never quote it (it may hold the
 * password), and name the env var that pointed at the file.
 */
import { readFileSync } from "node:fs";
import { ConfigError } from "./errors";

/**
 * Parses JSON without echoing the input in the error (it may hold the password); says
 * where it broke, and calls an early end "truncated".
 */
export function parseJsonText(text: string, setting: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const position = /position (\d+)/.exec(message);
    const truncated = position !== null && Number(position[1]) >= text.trimEnd().length;
    const where = /end of JSON input/i.test(message) || text.trim() === "" || truncated
      ? "it ends early (truncated or empty)"
      : position !== null
        ? `syntax error at character ${position[1]}`
        : "syntax error";
    throw new ConfigError(setting, undefined, source, `not valid JSON: ${where}`);
  }
}

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * The text of a JSON file, which must be UTF-8. A UTF-8 byte-order mark (Windows editors,
 * PowerShell's `Out-File -Encoding utf8`) is dropped; UTF-16 (PowerShell 5's `>`
 * redirection) is refused with the fix, instead of a bare "syntax error".
 */
function decodeJsonBytes(bytes: Buffer, setting: string, source: string, envVar: string | undefined): string {
  if (bytes.subarray(0, 3).equals(UTF8_BOM)) return bytes.subarray(3).toString("utf8");
  const utf16Bom = bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff));
  if (utf16Bom || bytes.subarray(0, 64).includes(0)) {
    throw new ConfigError(setting, envVar, source,
      "the file is UTF-16 encoded (as PowerShell's `>` writes), not UTF-8; save it as UTF-8 " +
        "(e.g. redis-connector env --out FILE, or PowerShell's Out-File -Encoding utf8)");
  }
  return bytes.toString("utf8");
}

/**
 * Reads a JSON file; a missing or unreadable file is a ConfigError naming it, and `envVar`
 * when the path came from that env var.
 */
export function readJsonFile(path: string, setting: string, sourceLabel: string, envVar?: string): unknown {
  const source = `${sourceLabel} ${path}${envVar === undefined ? "" : ` (from env ${envVar})`}`;
  let bytes: Buffer;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    const fix = envVar === undefined ? "" : `; set ${envVar} to an existing file, or unset it`;
    throw new ConfigError(setting, envVar, source, `cannot read the file (${code})${fix}`);
  }
  return parseJsonText(decodeJsonBytes(bytes, setting, source, envVar), setting, source);
}
