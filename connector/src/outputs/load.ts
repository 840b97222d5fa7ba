/**
 * Loads the outputs document: from a file (the local runner's `.local-stack/outputs.json`,
 * or a saved `pulumi stack output --json --show-secrets`), or by running the Pulumi CLI.
 */
import { spawnSync } from "node:child_process";
import { ConfigError, DOCUMENT } from "../errors";
import { readJsonFile } from "../jsonFile";
import { parseStackOutputs, parseStackOutputsJson, type StackOutputs } from "./validate";

/** Where the outputs document comes from. */
export type OutputsSource = { file: string } | { stack?: string; pulumiTimeoutMs?: number; cwd?: string };

/** Default bound on `pulumi stack output`. */
export const PULUMI_TIMEOUT_MS = 60_000;

/** Reads and validates an outputs document from a JSON file (`envVar`: the env var that named it, for errors). */
export function loadStackOutputsFile(path: string, envVar?: string): StackOutputs {
  return parseStackOutputs(readJsonFile(path, DOCUMENT, "stack outputs", envVar), `stack outputs ${path}`);
}

/**
 * Runs `pulumi stack output --json --show-secrets [--stack S]` (bounded) and validates what
 * it prints. A missing CLI, a timeout or a failure is a ConfigError; the CLI's stdout
 * (it holds the password) is never quoted in it.
 */
export function loadStackOutputsFromPulumi(options: { stack?: string; timeoutMs?: number; cwd?: string } = {}): StackOutputs {
  const args = ["stack", "output", "--json", "--show-secrets"];
  if (options.stack !== undefined) args.push("--stack", options.stack);
  const source = `pulumi stack output${options.stack === undefined ? "" : ` --stack ${options.stack}`}`;
  const timeoutMs = options.timeoutMs ?? PULUMI_TIMEOUT_MS;
  const result = spawnSync("pulumi", args, {
    encoding: "utf8",
    timeout: timeoutMs,
    cwd: options.cwd,
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 16 * 1024 * 1024,
  });
  if (result.error !== undefined) {
    const code = (result.error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new ConfigError(DOCUMENT, "REDIS_OUTPUTS_FILE", source,
        "the pulumi CLI is not on PATH; pass the outputs document as a file instead (--file / REDIS_OUTPUTS_FILE)");
    }
    if (code === "ETIMEDOUT") {
      throw new ConfigError(DOCUMENT, undefined, source, `pulumi did not answer within ${timeoutMs} ms`);
    }
    throw new ConfigError(DOCUMENT, undefined, source, `could not run pulumi (${code ?? result.error.message})`);
  }
  if (result.status !== 0) {
    const firstLine = (result.stderr ?? "").split("\n").find((line) => line.trim() !== "") ?? "";
    throw new ConfigError(DOCUMENT, undefined, source,
      `pulumi exited with ${result.status ?? result.signal}${firstLine === "" ? "" : `: ${firstLine.trim().slice(0, 300)}`}`);
  }
  return parseStackOutputsJson(result.stdout, source);
}

/** Loads the outputs document from a file or from the Pulumi CLI. */
export function loadStackOutputs(source: OutputsSource): StackOutputs {
  if ("file" in source) return loadStackOutputsFile(source.file);
  return loadStackOutputsFromPulumi({ stack: source.stack, timeoutMs: source.pulumiTimeoutMs, cwd: source.cwd });
}
