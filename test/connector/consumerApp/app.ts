/**
 * A throwaway app that uses the packed connector as an outside project would: installed from
 * the tarball, compiled with `strict` and no extra @types, configured only by the env lines of
 * the installed CLI (`node --env-file=.env`). consumerApp.test.ts copies it out of the repo.
 *
 * It runs the four modes, then renders (util.inspect at full depth, %o, JSON.stringify,
 * String) the config, every client (cluster nodes too) and the errors of bad credentials,
 * and writes all of it to `renderings.txt` for the test to search for the password.
 * Prints one JSON line of results. The password never reaches stdout or stderr.
 */
import { writeFileSync } from "node:fs";
import { format, inspect } from "node:util";
import {
  CommandTimeoutError,
  ConfigError,
  createClient,
  createReadyClient,
  loadConfig,
  NotReadyError,
  ReplyError,
  type ClientForm,
  type ConnectorConfig,
  type DeepPartial,
  type SyncRedisClient,
  type Topology,
} from "@redis-on-docker/connector";
import Redis, { Cluster } from "ioredis";

const renderings: string[] = [];

function render(value: unknown): void {
  renderings.push(
    inspect(value, { depth: Infinity }),
    inspect(value, { depth: Infinity, showHidden: true }),
    format("%o", value),
    JSON.stringify(value) ?? "",
    String(value),
    value instanceof Error ? String(value.stack) : "",
  );
}

function configFor(topology: Topology, form: ClientForm, extra: DeepPartial<ConnectorConfig> = {}): ConnectorConfig {
  return loadConfig({ overrides: { connectTimeoutMs: 3000, commandTimeoutMs: 3000, ...extra, topology, form } });
}

/** Keys with one hash tag share a slot, so MULTI works on a cluster too. */
const keys = (tag: string, n: number): string[] => Array.from({ length: n }, (_, i) => `{consumer-${tag}}:${i}`);
const spread = (tag: string, n: number): string[] => Array.from({ length: n }, (_, i) => `consumer-${tag}:${i}`);

async function runAsync(topology: Topology): Promise<Record<string, unknown>> {
  const config = configFor(topology, "async");
  render(config);
  const client = await createReadyClient({ ...config, form: "async" as const });
  try {
    const tag = `async-${topology}`;
    for (const key of spread(tag, 50)) await client.set(key, key);
    const values = await Promise.all(spread(tag, 50).map((key) => client.get(key)));
    const pipelined = await client.pipeline().set(`${tag}:p`, "1").incr(`${tag}:p`).get(`${tag}:p`).exec();
    const [k1, k2] = keys(tag, 2);
    const multi = await client.multi().set(k1, "a").set(k2, "b").mget(k1, k2).exec();
    await client.set(`${tag}:buf`, Buffer.from([0, 255, 1]));
    const buffer = await client.getBuffer(`${tag}:buf`);
    const replyError = await client.call("NO-SUCH-COMMAND").then(() => undefined, (e: unknown) => e);
    render(client);
    if (client instanceof Cluster) for (const node of client.nodes("all")) render(node);
    return {
      allValues: values.every((v, i) => v === spread(tag, 50)[i]),
      pipeline: pipelined?.map(([, v]) => v),
      multi: multi?.map(([, v]) => v),
      buffer: buffer?.toJSON().data,
      replyError: replyError instanceof ReplyError,
      isIoredis: topology === "cluster" ? client instanceof Cluster : client instanceof Redis,
      nodes: client instanceof Cluster ? client.nodes("all").length : 1,
    };
  } finally {
    await client.quit();
  }
}

function runSync(topology: Topology): Record<string, unknown> {
  const config = configFor(topology, "sync");
  const client: SyncRedisClient = createClient({ ...config, form: "sync" as const });
  try {
    const tag = `sync-${topology}`;
    for (const key of spread(tag, 50)) client.set(key, key);
    const values = spread(tag, 50).map((key) => client.get(key));
    const pipelined = client.pipeline().set(`${tag}:p`, "1").incr(`${tag}:p`).get(`${tag}:p`).exec();
    const [k1, k2] = keys(tag, 2);
    const multi = client.multi().set(k1, "a").set(k2, "b").mget(k1, k2).exec();
    client.set(`${tag}:buf`, Buffer.from([0, 255, 1]));
    const buffer = client.getBuffer(`${tag}:buf`);
    let replyError: unknown;
    try {
      client.call("NO-SUCH-COMMAND");
    } catch (e) {
      replyError = e;
    }
    render(client);
    return {
      allValues: values.every((v, i) => v === spread(tag, 50)[i]),
      pipeline: pipelined?.map(([, v]) => v),
      multi: multi?.map(([, v]) => v),
      buffer: buffer?.toJSON().data,
      replyError: replyError instanceof ReplyError,
    };
  } finally {
    client.close();
  }
}

/** Bad credentials: connecting fails; what the app gets must not hold either password. */
async function badCredentials(topology: Topology, form: ClientForm, extra: DeepPartial<ConnectorConfig>): Promise<string> {
  const config = configFor(topology, form, { ...extra, connectTimeoutMs: 2000 });
  try {
    const client = await createReadyClient(config);
    if (client instanceof Redis || client instanceof Cluster) client.disconnect();
    else client.close();
    return "connected";
  } catch (error) {
    render(error);
    if (error instanceof NotReadyError) render(error.lastError);
    return error instanceof Error ? error.name : typeof error;
  }
}

async function main(): Promise<void> {
  const results: Record<string, unknown> = {};
  for (const topology of ["standalone", "cluster"] as const) {
    results[`async ${topology}`] = await runAsync(topology);
    results[`sync ${topology}`] = runSync(topology);
    for (const form of ["async", "sync"] as const) {
      results[`${form} ${topology} wrong password`] = await badCredentials(topology, form, { password: "consumer-wrong-password" });
      results[`${form} ${topology} wrong username`] = await badCredentials(topology, form, { username: "consumer-no-such-user" });
    }
  }
  const configError = (() => {
    try {
      loadConfig({ env: { REDIS_PORT: "not-a-port" } });
      return "accepted";
    } catch (error) {
      return error instanceof ConfigError ? error.envVar : "other";
    }
  })();
  results.configError = configError;
  results.timeoutClass = typeof CommandTimeoutError === "function";
  writeFileSync("renderings.txt", renderings.join("\n"), { mode: 0o600 });
  process.stdout.write(`${JSON.stringify(results)}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`consumer app failed: ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}\n`);
  process.exitCode = 1;
});
