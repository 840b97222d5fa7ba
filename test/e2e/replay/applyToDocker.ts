/**
 * Applies recorded @pulumi/docker resources to a real Docker engine the way the provider's
 * create step does (pulumi-docker 4.x = terraform-provider-docker 3.x: ContainerCreate, leave
 * the default bridge, NetworkConnect with the static IP, CopyToContainer for `uploads`,
 * ContainerStart, then ContainerWait for `attach`, and the `mustRun` check).
 *
 * Only inputs listed here are understood; anything else fails before Docker is touched, so
 * the replay cannot silently drift from the program. Everything created carries the owner
 * labels below and is removed by `cleanup()`.
 */
import { readFileSync } from "node:fs";
import { DockerApiError, DockerEngine, tarOneFile } from "./dockerEngine";
import type { PlainValue, RecordedResource } from "./recordProgram";

export const NETWORK_TYPE = "docker:index/network:Network";
export const IMAGE_TYPE = "docker:index/remoteImage:RemoteImage";
export const CONTAINER_TYPE = "docker:index/container:Container";

/** Labels on everything the replay creates: the owning process (for leftover sweeps) and the run. */
export const OWNER_LABEL = "org.redis-on-docker.e2e-owner-pid";
export const RUN_LABEL = "org.redis-on-docker.e2e-run";

type Obj = { [key: string]: PlainValue };

/** Input keys the replay realises, per resource type; nested objects list their own keys. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  [NETWORK_TYPE]: ["name", "driver", "ipamConfigs", "internal", "attachable", "checkDuplicate", "labels"],
  "network.ipamConfigs": ["subnet", "gateway", "ipRange"],
  [IMAGE_TYPE]: ["name", "keepLocally"],
  [CONTAINER_TYPE]: [
    "name", "image", "command", "entrypoints", "envs", "user", "workingDir", "hostname", "labels",
    "networksAdvanced", "ports", "healthcheck", "restart", "maxRetryCount", "uploads",
    "mustRun", "attach", "logs", "start", "wait", "waitTimeout", "rm", "init",
    // Only used when the container is destroyed; the replay removes with force anyway.
    "destroyGraceSeconds", "stopTimeout", "stopSignal", "removeVolumes",
  ],
  "container.networksAdvanced": ["name", "ipv4Address", "aliases"],
  "container.ports": ["internal", "external", "ip", "protocol"],
  "container.healthcheck": ["tests", "interval", "timeout", "startPeriod", "retries"],
  "container.uploads": ["file", "content", "contentBase64", "source", "executable", "permissions"],
  labels: ["label", "value"],
};

/** Thrown when a one-shot (`attach`) container exits non-zero: the update fails. */
export class ContainerExitError extends Error {
  constructor(
    readonly resourceName: string,
    readonly dockerName: string,
    readonly exitCode: number,
    readonly logs: string,
    readonly elapsedMs: number,
  ) {
    super(`one-shot container ${dockerName} (${resourceName}) exited with code ${exitCode} after ${elapsedMs} ms; logs:\n${indent(logs)}`);
    this.name = "ContainerExitError";
  }
}

export interface AppliedContainer {
  resourceName: string;
  dockerName: string;
  id: string;
  /** Set for `attach` containers, which run to completion. */
  exitCode?: number;
  logs?: string;
  elapsedMs: number;
}

export interface ReplayOptions {
  /** Value of RUN_LABEL on everything created. */
  runId: string;
  /** Bound on a one-shot (`attach`) container's run. */
  attachTimeoutMs: number;
  /** Resources to leave out (dependents still run), e.g. a node that never comes up. */
  skip?: (resource: RecordedResource) => boolean;
  log?: (line: string) => void;
}

function indent(text: string): string {
  return text.trimEnd().split("\n").map((l) => `    ${l}`).join("\n");
}

function isObj(v: PlainValue | undefined): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkKeys(value: PlainValue | undefined, known: readonly string[], where: string, problems: string[]): void {
  if (value === undefined || value === null) return;
  const items = Array.isArray(value) ? value : [value];
  for (const item of items) {
    if (!isObj(item)) {
      problems.push(`${where}: expected an object, got ${JSON.stringify(item)}`);
      continue;
    }
    for (const key of Object.keys(item)) {
      if (!known.includes(key)) problems.push(`${where}.${key}: input the replay does not understand`);
    }
  }
}

/** Every problem with the recorded resources, before anything is applied. */
export function validateRecordedResources(resources: RecordedResource[]): string[] {
  const problems: string[] = [];
  for (const r of resources) {
    const where = `${r.type} "${r.name}"`;
    if (!r.custom) continue; // components only group resources
    const known = KNOWN_KEYS[r.type];
    if (!known) {
      problems.push(`${where}: resource type the replay does not support`);
      continue;
    }
    checkKeys(r.inputs, known, where, problems);
    if (r.type === NETWORK_TYPE) {
      checkKeys(r.inputs.ipamConfigs, KNOWN_KEYS["network.ipamConfigs"], `${where}.ipamConfigs`, problems);
      checkKeys(r.inputs.labels, KNOWN_KEYS.labels, `${where}.labels`, problems);
      if (r.inputs.driver !== undefined && r.inputs.driver !== "bridge") problems.push(`${where}.driver: only "bridge" is replayed`);
    }
    if (r.type === CONTAINER_TYPE) {
      for (const nested of ["networksAdvanced", "ports", "healthcheck", "uploads"]) {
        checkKeys(r.inputs[nested], KNOWN_KEYS[`container.${nested}`], `${where}.${nested}`, problems);
      }
      checkKeys(r.inputs.labels, KNOWN_KEYS.labels, `${where}.labels`, problems);
      if (typeof r.inputs.name !== "string") problems.push(`${where}.name: the replay needs an explicit container name`);
      if (typeof r.inputs.image !== "string") problems.push(`${where}.image: missing`);
      if (r.inputs.rm === true && r.inputs.attach === true) {
        problems.push(`${where}: rm with attach is known to break in the provider (the container is gone before its exit code is read)`);
      }
    }
  }
  return problems;
}

/** Go's time.ParseDuration subset the provider accepts for healthchecks, in nanoseconds. */
export function goDurationToNs(text: string, where: string): number {
  const units: Record<string, number> = { ns: 1, us: 1e3, "µs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    total += Number(m[1]) * units[m[2]];
    consumed = re.lastIndex;
  }
  if (text === "0") return 0;
  if (consumed !== text.length || text.length === 0) throw new Error(`${where}: ${JSON.stringify(text)} is not a Go duration`);
  return Math.round(total);
}

function labelsOf(value: PlainValue | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (Array.isArray(value)) for (const l of value) if (isObj(l)) out[String(l.label)] = String(l.value);
  return out;
}

function strings(value: PlainValue | undefined, where: string): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) throw new Error(`${where}: expected a list of strings`);
  return value as string[];
}

/**
 * Dependency waves: each wave holds the resources whose dependencies are all in earlier
 * waves. Resources of one wave are applied concurrently, as `pulumi up` runs independent
 * steps in parallel; so a missing dependsOn is a race here too, not hidden by ordering.
 */
export function applyWaves(resources: RecordedResource[]): RecordedResource[][] {
  const custom = resources.filter((r) => r.custom);
  const urns = new Set(custom.map((r) => r.urn));
  const done = new Set<string>();
  const waves: RecordedResource[][] = [];
  while (done.size < custom.length) {
    const ready = custom.filter((r) => !done.has(r.urn) && r.dependsOn.every((d) => done.has(d) || !urns.has(d)));
    if (ready.length === 0) throw new Error(`dependency cycle among ${custom.filter((r) => !done.has(r.urn)).map((r) => r.name).join(", ")}`);
    for (const r of ready) done.add(r.urn);
    waves.push(ready);
  }
  return waves;
}

export class DockerReplay {
  private readonly containers: Array<{ id: string; name: string }> = [];
  private readonly networks: Array<{ id: string; name: string }> = [];
  readonly applied = new Map<string, AppliedContainer>();

  constructor(
    readonly engine: DockerEngine,
    readonly options: ReplayOptions,
  ) {}

  private log(line: string): void {
    this.options.log?.(line);
  }

  private ownerLabels(): Record<string, string> {
    return { [OWNER_LABEL]: String(process.pid), [RUN_LABEL]: this.options.runId };
  }

  /** Validates, then applies in dependency order. Throws on the first failing step (as `pulumi up` stops). */
  async apply(resources: RecordedResource[]): Promise<Map<string, AppliedContainer>> {
    const problems = validateRecordedResources(resources);
    if (problems.length > 0) throw new Error(`the replay cannot realise the program's resources:\n  ${problems.join("\n  ")}`);
    for (const wave of applyWaves(resources)) {
      const steps = wave.map(async (r) => {
        if (this.options.skip?.(r)) {
          this.log(`skip ${r.name}`);
          return;
        }
        if (r.type === IMAGE_TYPE) await this.applyImage(r);
        else if (r.type === NETWORK_TYPE) await this.applyNetwork(r);
        else await this.applyContainer(r);
      });
      // Like the engine, let the wave's other steps finish (and be tracked for cleanup), then stop.
      const outcomes = await Promise.allSettled(steps);
      const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === "rejected");
      if (failed) throw failed.reason;
    }
    return this.applied;
  }

  private async applyImage(r: RecordedResource): Promise<void> {
    const ref = String(r.inputs.name);
    try {
      await this.engine.request({ method: "GET", path: `/images/${encodeURIComponent(ref)}/json`, timeoutMs: 10_000 });
    } catch (e) {
      if (e instanceof DockerApiError && e.statusCode === 404) {
        // Nothing is pulled here: CI has no registry access.
        throw new Error(`image ${ref} (${r.name}) is not on this engine and the replay never pulls; run scripts/build-redis-image.sh`);
      }
      throw e;
    }
    this.log(`image ${ref} present`);
  }

  private async applyNetwork(r: RecordedResource): Promise<void> {
    const name = String(r.inputs.name ?? r.name);
    const ipam = Array.isArray(r.inputs.ipamConfigs) ? r.inputs.ipamConfigs.filter(isObj) : [];
    const created = await this.engine.request<{ Id: string }>({
      method: "POST",
      path: "/networks/create",
      timeoutMs: 30_000,
      body: {
        Name: name,
        CheckDuplicate: r.inputs.checkDuplicate !== false,
        Driver: (r.inputs.driver as string | undefined) ?? "bridge",
        Internal: r.inputs.internal === true,
        Attachable: r.inputs.attachable === true,
        IPAM: {
          Driver: "default",
          Config: ipam.map((c) => ({
            Subnet: c.subnet ?? undefined,
            Gateway: c.gateway ?? undefined,
            IPRange: c.ipRange ?? undefined,
          })),
        },
        Labels: { ...labelsOf(r.inputs.labels), ...this.ownerLabels() },
      },
    });
    this.networks.push({ id: created.Id, name });
    this.log(`network ${name} created (${ipam.map((c) => `${c.subnet} gw ${c.gateway}`).join(", ")})`);
  }

  private createBody(r: RecordedResource): Record<string, unknown> {
    const where = `${r.name}`;
    const inp = r.inputs;
    const command = strings(inp.command, `${where}.command`);
    if (command?.some((c) => c === "")) throw new Error(`${where}.command: values for command may not be empty`);
    const exposed: Record<string, object> = {};
    const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
    for (const p of Array.isArray(inp.ports) ? inp.ports.filter(isObj) : []) {
      const key = `${Number(p.internal)}/${(p.protocol as string | undefined) ?? "tcp"}`;
      exposed[key] = {};
      // The provider's default for `ip` is 0.0.0.0: all interfaces.
      (bindings[key] ??= []).push({ HostIp: (p.ip as string | undefined) ?? "0.0.0.0", HostPort: p.external == null ? "" : String(p.external) });
    }
    let healthcheck: Record<string, unknown> | undefined;
    if (isObj(inp.healthcheck)) {
      const h = inp.healthcheck;
      healthcheck = {
        Test: strings(h.tests, `${where}.healthcheck.tests`),
        Interval: h.interval ? goDurationToNs(String(h.interval), `${where}.healthcheck.interval`) : 0,
        Timeout: h.timeout ? goDurationToNs(String(h.timeout), `${where}.healthcheck.timeout`) : 0,
        StartPeriod: h.startPeriod ? goDurationToNs(String(h.startPeriod), `${where}.healthcheck.startPeriod`) : 0,
        Retries: typeof h.retries === "number" ? h.retries : 0,
      };
    }
    return {
      Image: inp.image,
      Hostname: inp.hostname ?? "",
      Tty: false,
      OpenStdin: false,
      Env: strings(inp.envs, `${where}.envs`),
      Cmd: command,
      Entrypoint: strings(inp.entrypoints, `${where}.entrypoints`),
      User: inp.user ?? "",
      WorkingDir: inp.workingDir ?? "",
      ExposedPorts: Object.keys(exposed).length ? exposed : undefined,
      Labels: { ...labelsOf(inp.labels), ...this.ownerLabels() },
      Healthcheck: healthcheck,
      HostConfig: {
        PortBindings: Object.keys(bindings).length ? bindings : undefined,
        RestartPolicy: { Name: (inp.restart as string | undefined) ?? "no", MaximumRetryCount: Number(inp.maxRetryCount ?? 0) },
        AutoRemove: inp.rm === true,
        Init: inp.init === true,
      },
      NetworkingConfig: {},
    };
  }

  private async applyContainer(r: RecordedResource): Promise<void> {
    const started = Date.now();
    const inp = r.inputs;
    const dockerName = String(inp.name);
    const created = await this.engine.request<{ Id: string }>({
      method: "POST",
      path: `/containers/create?name=${encodeURIComponent(dockerName)}`,
      body: this.createBody(r),
      timeoutMs: 30_000,
    });
    const id = created.Id;
    this.containers.push({ id, name: dockerName });

    if (Array.isArray(inp.networksAdvanced) && inp.networksAdvanced.length > 0) {
      try {
        await this.engine.request({ method: "POST", path: "/networks/bridge/disconnect", body: { Container: id, Force: false }, timeoutMs: 15_000 });
      } catch (e) {
        if (!(e instanceof DockerApiError && /is not connected/.test(e.engineMessage))) throw e;
      }
      for (const n of inp.networksAdvanced.filter(isObj)) {
        await this.engine.request({
          method: "POST",
          path: `/networks/${encodeURIComponent(String(n.name))}/connect`,
          timeoutMs: 15_000,
          body: {
            Container: id,
            EndpointConfig: {
              Aliases: strings(n.aliases, `${r.name}.networksAdvanced.aliases`),
              IPAMConfig: { IPv4Address: (n.ipv4Address as string | undefined) ?? "" },
            },
          },
        });
      }
    }

    for (const u of Array.isArray(inp.uploads) ? inp.uploads.filter(isObj) : []) {
      const sources = [u.content, u.contentBase64, u.source].filter((v) => typeof v === "string" && v !== "");
      if (sources.length !== 1) throw new Error(`${r.name}.uploads ${String(u.file)}: exactly one of content, contentBase64, source must be set`);
      const content =
        typeof u.content === "string" && u.content !== ""
          ? Buffer.from(u.content, "utf8")
          : typeof u.contentBase64 === "string" && u.contentBase64 !== ""
            ? Buffer.from(u.contentBase64, "base64")
            : readFileSync(String(u.source));
      let mode = u.executable === true ? 0o744 : 0o644;
      if (typeof u.permissions === "string" && u.permissions !== "") {
        if (!/^0?[0-7]{3,4}$/.test(u.permissions)) throw new Error(`${r.name}.uploads ${String(u.file)}: permissions ${JSON.stringify(u.permissions)} is not an octal mode`);
        mode = parseInt(u.permissions, 8);
      }
      await this.engine.requestRaw({
        method: "PUT",
        path: `/containers/${id}/archive?path=${encodeURIComponent("/")}`,
        body: tarOneFile(String(u.file), content, mode),
        timeoutMs: 30_000,
      });
    }

    if (inp.start !== false) {
      await this.engine.requestRaw({ method: "POST", path: `/containers/${id}/start`, timeoutMs: 30_000 });
    }

    const applied: AppliedContainer = { resourceName: r.name, dockerName, id, elapsedMs: 0 };
    if (inp.wait === true) await this.waitHealthy(id, dockerName, Number(inp.waitTimeout ?? 60) * 1000);
    if (inp.attach === true) {
      const waited = await this.engine.request<{ StatusCode: number }>({
        method: "POST",
        path: `/containers/${id}/wait?condition=not-running`,
        timeoutMs: this.options.attachTimeoutMs,
      });
      applied.exitCode = waited.StatusCode;
      applied.logs = await this.engine.logs(id);
    }

    // The provider's read after create: a container that does not run fails `mustRun` (default true).
    const state = await this.inspect(id);
    if (!state.State.Running && inp.mustRun !== false) {
      const logs = await this.engine.logs(id).catch(() => "");
      throw new Error(
        `container ${dockerName} (${r.name}) is not running after create (exit code ${state.State.ExitCode}) and mustRun is not false: ` +
          `the provider fails the update here; logs:\n${indent(logs)}`,
      );
    }
    applied.elapsedMs = Date.now() - started;
    this.applied.set(r.name, applied);
    if (applied.exitCode !== undefined) {
      this.log(`one-shot ${dockerName} exited ${applied.exitCode} after ${applied.elapsedMs} ms`);
      if (applied.exitCode !== 0) throw new ContainerExitError(r.name, dockerName, applied.exitCode, applied.logs ?? "", applied.elapsedMs);
    } else {
      this.log(`container ${dockerName} running`);
    }
  }

  private async waitHealthy(id: string, name: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.inspect(id);
      if (s.State.Health?.Status === "healthy") return;
      if (Date.now() > deadline) throw new Error(`container ${name} not healthy within ${timeoutMs} ms (status ${s.State.Health?.Status ?? "none"})`);
      await new Promise((res) => setTimeout(res, 250));
    }
  }

  inspect(idOrName: string): Promise<ContainerInspect> {
    return this.engine.request<ContainerInspect>({ method: "GET", path: `/containers/${encodeURIComponent(idOrName)}/json`, timeoutMs: 15_000 });
  }

  /** Removes one container this replay created (e.g. a finished one-shot before running it again). */
  async removeContainer(dockerName: string): Promise<void> {
    const i = this.containers.findIndex((c) => c.name === dockerName);
    if (i < 0) throw new Error(`container ${dockerName} was not created by this replay`);
    await removeContainer(this.engine, this.containers[i].id);
    this.containers.splice(i, 1);
  }

  /** Removes everything this replay created, containers before networks; reports what could not be removed. */
  async cleanup(): Promise<void> {
    const errors: string[] = [];
    for (const c of this.containers.splice(0).reverse()) {
      await removeContainer(this.engine, c.id).catch((e: Error) => errors.push(`container ${c.name}: ${e.message}`));
    }
    for (const n of this.networks.splice(0).reverse()) {
      await removeNetwork(this.engine, n.id).catch((e: Error) => errors.push(`network ${n.name}: ${e.message}`));
    }
    if (errors.length) throw new Error(`replay cleanup left things behind:\n  ${errors.join("\n  ")}`);
  }
}

export interface ContainerInspect {
  Id: string;
  Name: string;
  State: { Running: boolean; ExitCode: number; Health?: { Status: string } };
  Config: { Cmd: string[] | null; Env: string[] | null; Labels: Record<string, string> | null };
  HostConfig: { PortBindings: Record<string, Array<{ HostIp: string; HostPort: string }>> | null };
  NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
}

async function removeContainer(engine: DockerEngine, id: string): Promise<void> {
  try {
    await engine.request({ method: "DELETE", path: `/containers/${id}?force=1&v=1`, timeoutMs: 30_000 });
  } catch (e) {
    if (!(e instanceof DockerApiError && e.statusCode === 404)) throw e;
  }
}

async function removeNetwork(engine: DockerEngine, id: string): Promise<void> {
  try {
    await engine.request({ method: "DELETE", path: `/networks/${id}`, timeoutMs: 30_000 });
  } catch (e) {
    if (!(e instanceof DockerApiError && e.statusCode === 404)) throw e;
  }
}

/**
 * Removes containers and networks left by replays whose process is gone (an interrupted
 * run that could not clean up). Other live processes' replays are left alone.
 */
export async function sweepLeftovers(engine: DockerEngine): Promise<string[]> {
  const filter = encodeURIComponent(JSON.stringify({ label: [OWNER_LABEL] }));
  const alive = (pid: string): boolean => {
    try {
      process.kill(Number(pid), 0);
      return true;
    } catch {
      return false;
    }
  };
  const removed: string[] = [];
  const containers = await engine.request<Array<{ Id: string; Names: string[]; Labels: Record<string, string> }>>({
    method: "GET",
    path: `/containers/json?all=1&filters=${filter}`,
    timeoutMs: 15_000,
  });
  for (const c of containers) {
    if (alive(c.Labels[OWNER_LABEL])) continue;
    await removeContainer(engine, c.Id);
    removed.push(`container ${c.Names.join(",")}`);
  }
  const networks = await engine.request<Array<{ Id: string; Name: string; Labels: Record<string, string> }>>({
    method: "GET",
    path: `/networks?filters=${filter}`,
    timeoutMs: 15_000,
  });
  for (const n of networks) {
    if (alive(n.Labels[OWNER_LABEL])) continue;
    await removeNetwork(engine, n.Id);
    removed.push(`network ${n.Name}`);
  }
  return removed;
}
