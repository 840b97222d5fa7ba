/**
 * The repo's packages as an outsider gets them: `npm pack` of workspaces into a throwaway dir
 * outside the repo, and `npm install` of the tarballs into an app there. npm may use the registry
 * for the packages' dependencies but prefers the cache that `npm ci` filled (--prefer-offline);
 * every step is bounded (killed at its bound), and `run` never rejects.
 */
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

export const REPO = path.resolve(__dirname, "../..");

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  elapsedMs: number;
  timedOut: boolean;
}

/** Runs a command (bounded, killed with SIGKILL at the bound), never rejecting. */
export function run(command: string, args: string[], options: { cwd: string; timeoutMs: number; env?: NodeJS.ProcessEnv }): Promise<Run> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: options.cwd, timeout: options.timeoutMs, killSignal: "SIGKILL", encoding: "utf8", maxBuffer: 32 * 1024 * 1024, env: options.env ?? process.env },
      (error, stdout, stderr) => {
        const elapsedMs = Date.now() - started;
        const timedOut = error !== null && (error as { killed?: boolean }).killed === true;
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
        resolve({ code, stdout, stderr, elapsedMs, timedOut });
      },
    );
  });
}

export const describeRun = (r: Run): string => `exit ${r.code}${r.timedOut ? " (killed at its bound)" : ""}\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-3000)}`;

/** `npm pack` of the workspace in `<repo>/<folder>` into `destination`; returns the tarball's path. */
export async function packWorkspace(folder: string, destination: string): Promise<string> {
  const packed = await run("npm", ["pack", "--json", "--pack-destination", destination], { cwd: path.join(REPO, folder), timeoutMs: 120_000 });
  if (packed.code !== 0) throw new Error(`npm pack in ${folder} failed: ${describeRun(packed)}`);
  const jsonStart = packed.stdout.indexOf("[");
  return path.join(destination, (JSON.parse(packed.stdout.slice(jsonStart)) as Array<{ filename: string }>)[0].filename);
}

/** Creates `<dir>` as an npm project named `name` and installs `tarballs` (and `extra` specs) there. */
export async function installIntoApp(dir: string, name: string, tarballs: string[], extra: string[] = []): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name, version: "1.0.0", private: true, license: "MIT" }, null, 2));
  const install = await run("npm", ["install", "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error", ...tarballs, ...extra], {
    cwd: dir,
    timeoutMs: 240_000,
  });
  if (install.code !== 0) throw new Error(`npm install in ${dir} failed: ${describeRun(install)}`);
}
