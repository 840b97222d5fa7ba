/**
 * The Docker Engine version check at `pulumi up`. @pulumi/docker 4.11 exposes no data source for
 * the engine's version, so the component asks the engine itself (`GET /version`) at the address
 * the provider uses (`docker:host`, else `DOCKER_HOST`, else the local socket), bounded, during a
 * real update only. Engine 25.0.0 refuses static IPs outside a network's `ipRange` (moby#47120,
 * fixed in 25.0.1): every node's create would fail there, so `up` should stop first with what to do.
 *
 * Not yet wired into RedisOnDocker: gating the image on `engineVersionGate` (as dependsOn or as an
 * input) left the program's registrations waiting forever under Pulumi's mocks when it rejected,
 * so the failure path could not be tested; the README still says the version is not checked.
 */
import * as http from "node:http";
import * as pulumi from "@pulumi/pulumi";

/** Gives the engine's version (`Version` of `GET /version`), or undefined when it cannot be read (then nothing is checked). */
export type DockerEngineVersionSource = () => Promise<string | undefined>;

/** Engine versions the topology cannot run on, and why. */
const REFUSED_ENGINES: Record<string, string> = {
  "25.0.0":
    "it refuses a container's static IP outside the network's ipRange (moby#47120), so no cluster node can be created. Upgrade Docker Engine to 25.0.1 or later (or downgrade to 24.x)",
};

/** Throws a RunError naming the version and the fix when the engine is one the stack cannot run on. */
export function checkDockerEngineVersion(version: string, where: string): void {
  const why = REFUSED_ENGINES[version.trim()];
  if (why !== undefined) {
    throw new pulumi.RunError(`Docker Engine ${version} at ${where} is not supported: ${why}.`);
  }
}

/** The address the Docker provider talks to, as it chooses it. */
export function dockerHost(): string {
  return new pulumi.Config("docker").get("host") ?? process.env.DOCKER_HOST ?? "unix:///var/run/docker.sock";
}

/**
 * `GET /version` over `unix://` or plain `tcp://` (http), bounded by `timeoutMs`. Other transports
 * (ssh://, TLS: DOCKER_TLS_VERIFY or a `docker:certPath`) are not read: undefined.
 */
export function engineVersionAt(host: string, timeoutMs = 3000): Promise<string | undefined> {
  let target: http.RequestOptions;
  if (host.startsWith("unix://")) target = { socketPath: host.slice("unix://".length) };
  else if (host.startsWith("tcp://") && !process.env.DOCKER_TLS_VERIFY && !new pulumi.Config("docker").get("certPath")) {
    const url = new URL(`http://${host.slice("tcp://".length)}`);
    target = { host: url.hostname, port: Number(url.port || 2375) };
  } else return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const req = http.request({ ...target, method: "GET", path: "/version", timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        try {
          const version = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { Version?: unknown }).Version;
          resolve(typeof version === "string" ? version : undefined);
        } catch (e) {
          reject(new Error(`GET /version answered something other than JSON: ${(e as Error).message}`));
        }
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end();
  });
}

/**
 * Resolves when the engine may be used; rejects with a RunError on a refused version. Skipped in
 * a preview. An engine that cannot be asked is a warning, not an error: the provider's own
 * connection error (or success) decides then.
 */
export async function engineVersionGate(
  source: DockerEngineVersionSource | undefined,
  resource: pulumi.Resource,
  callerHasProvider: boolean,
): Promise<void> {
  if (pulumi.runtime.isDryRun()) return;
  // A caller's docker.Provider may talk to another engine, whose address is not readable here.
  if (source === undefined && callerHasProvider) return;
  const where = source === undefined ? dockerHost() : "the given version source";
  let version: string | undefined;
  try {
    version = await (source ?? (() => engineVersionAt(dockerHost())))();
  } catch (e) {
    void pulumi.log.warn(`could not read the Docker Engine version at ${where} (${(e as Error).message}); it is not checked`, resource);
    return;
  }
  if (version !== undefined) checkDockerEngineVersion(version, where);
}
