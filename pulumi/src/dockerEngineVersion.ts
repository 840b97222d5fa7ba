/**
 * The Docker Engine version check at `pulumi up`. @pulumi/docker 4.11 exposes no data source for
 * the engine's version, so the component asks each engine it deploys to (`GET /version`), bounded,
 * during a real update only. Engine 25.0.0 refuses static IPs outside a network's `ipRange`
 * (moby#47120, fixed in 25.0.1): every node's create would fail there, so `up` stops first.
 */
import * as http from "node:http";
import * as pulumi from "@pulumi/pulumi";

/** One engine the component deploys to: where it is, and how the version check names it. */
export interface DockerEngineRef {
  /** The engine's address (`unix://`, `tcp://`, `ssh://`); undefined: the provider's own default. */
  host: pulumi.Input<string | undefined>;
  /** Whether the provider talks TLS to it (the check does not: it then reads nothing). */
  tls: pulumi.Input<boolean>;
  /** The setting the address came from, e.g. `docker:host` or `hosts entry host-a (its docker.Provider's host)`. */
  setting: string;
}

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

/** The default provider's engine, as that provider chooses it (`docker:host`, else `DOCKER_HOST`, else the local socket). */
export function defaultDockerEngine(): DockerEngineRef {
  const config = new pulumi.Config("docker");
  const configured = config.get("host");
  return {
    host: configured ?? process.env.DOCKER_HOST,
    tls: Boolean(config.get("certPath") ?? config.get("certMaterial") ?? process.env.DOCKER_TLS_VERIFY),
    setting: configured !== undefined ? "docker:host" : process.env.DOCKER_HOST !== undefined ? "DOCKER_HOST" : "the default socket",
  };
}

/** The engine of an explicit `docker.Provider` (its `host`, else `DOCKER_HOST`, else the local socket). */
export function providerDockerEngine(
  provider: { host: pulumi.Output<string | undefined>; certPath: pulumi.Output<string | undefined>; certMaterial: pulumi.Output<string | undefined> },
  setting: string,
): DockerEngineRef {
  return {
    host: provider.host.apply((host) => host ?? process.env.DOCKER_HOST),
    tls: pulumi.all([provider.certPath, provider.certMaterial]).apply(([path, material]) => Boolean(path ?? material ?? process.env.DOCKER_TLS_VERIFY)),
    setting,
  };
}

/**
 * `GET /version` over `unix://` or plain `tcp://` (http), bounded by `timeoutMs`. Rejects, saying
 * why, on any other transport (ssh://, TLS), no answer in time, or an answer without a version.
 */
export function engineVersionAt(host: string, tls = false, timeoutMs = 3000): Promise<string> {
  let target: http.RequestOptions;
  if (host.startsWith("unix://")) target = { socketPath: host.slice("unix://".length) };
  else if (host.startsWith("tcp://") && !tls) {
    const url = new URL(`http://${host.slice("tcp://".length)}`);
    target = { host: url.hostname, port: Number(url.port || 2375) };
  } else {
    const transport = tls ? "TLS" : `${host.split("://")[0]}://`;
    return Promise.reject(new Error(`the check does not speak ${transport}`));
  }
  return new Promise((resolve, reject) => {
    const req = http.request({ ...target, method: "GET", path: "/version", timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        try {
          const version = (JSON.parse(Buffer.concat(chunks).toString("utf8")) as { Version?: unknown }).Version;
          if (typeof version === "string") resolve(version);
          else reject(new Error("GET /version gave no Version"));
        } catch (e) {
          reject(new Error(`GET /version answered something other than JSON: ${(e as Error).message}`));
        }
      });
      res.on("error", reject);
    });
    // `timeout` is idle time only; the whole exchange is bounded too.
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.on("close", () => clearTimeout(timer));
    req.end();
  });
}

/**
 * Known (undefined) when every engine may be used; rejected with a RunError naming the first
 * refused engine otherwise. Not checked in a preview. An engine that cannot be asked is a one-line
 * warning, not an error: the provider's own connection (or success) decides then.
 *
 * An Output, not a Promise, so that the caller can declare its resources in `apply`: a rejected
 * gate must keep every resource from registering at all. Gating resources by `dependsOn` or an
 * input instead leaves them prepared-but-failed with outputs that never resolve, so everything
 * waiting on them (dependents, `registerOutputs`) waits forever under Pulumi's mocks.
 */
export function dockerEngineGate(engines: DockerEngineRef[], resource: pulumi.Resource): pulumi.Output<void> {
  if (pulumi.runtime.isDryRun()) return pulumi.output(undefined);
  const checks = engines.map((engine) =>
    pulumi.all([engine.host, engine.tls]).apply(async ([host, tls]) => {
      const address = host ?? "unix:///var/run/docker.sock";
      const where = `${address} (${engine.setting})`;
      let version: string;
      try {
        version = await engineVersionAt(address, tls);
      } catch (e) {
        void pulumi.log.warn(`Docker Engine version at ${where} not checked: ${(e as Error).message}`, resource);
        return;
      }
      checkDockerEngineVersion(version, where);
    }),
  );
  // A secret host must not make the component's outputs secret.
  return pulumi.unsecret(pulumi.all(checks).apply(() => undefined));
}
