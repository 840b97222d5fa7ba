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
export const VOLUME_TYPE = "docker:index/volume:Volume";

/** Labels on everything the replay creates: the owning process (for leftover sweeps) and the run. */
export const OWNER_LABEL = "org.redis-on-docker.e2e-owner-pid";
export const RUN_LABEL = "org.redis-on-docker.e2e-run";

type Obj = { [key: string]: PlainValue };

/** Input keys the replay realises, per resource type; nested objects list their own keys. */
const KNOWN_KEYS: Record<string, readonly string[]> = {
  [NETWORK_TYPE]: ["name", "driver", "ipamConfigs", "internal", "attachable", "checkDuplicate", "labels"],
  "network.ipamConfigs": ["subnet", "gateway", "ipRange"],
  [IMAGE_TYPE]: ["name", "keepLocally"],
  [VOLUME_TYPE]: ["name", "driver", "labels"],
  [CONTAINER_TYPE]: [
    "name", "image", "command", "entrypoints", "envs", "user", "workingDir", "hostname", "labels",
    "networksAdvanced", "ports", "healthcheck", "restart", "maxRetryCount", "uploads",
    "mustRun", "attach", "logs", "start", "wait", "waitTimeout", "rm", "init", "tty", "volumes",
    "logDriver", "logOpts",
    // Only used when the container is destroyed; the replay removes with force anyway.
    "destroyGraceSeconds", "stopTimeout", "stopSignal", "removeVolumes",
  ],
  "container.networksAdvanced": ["name", "ipv4Address", "aliases"],
  "container.ports": ["internal", "external", "ip", "protocol"],
  "container.healthcheck": ["tests", "interval", "timeout", "startPeriod", "retries"],
  "container.uploads": ["file", "content", "contentBase64", "source", "executable", "permissions"],
  "container.volumes": ["volumeName", "containerPath", "readOnly"],
  labels: ["label", "value"],
};

export interface AppliedContainer {
  resourceName: string;
  dockerName: string;
  id: string;
  /** Set when the container is not running after create (the provider's read), e.g. a finished `attach` job. */
  exitCode?: number;
  /** `containerLogs` as the provider fills it (`attach` + `logs`): the raw stream, read line by line. */
  logs?: string;
  /** What the provider's read after create stores beyond the inputs (see readBack). */
  readBack: ContainerReadBack;
  elapsedMs: number;
}

/**
 * Container attributes terraform-provider-docker v3.9.0's read stores from `docker inspect`
 * that the daemon, not the inputs, can decide (resource_docker_container_funcs.go:
 * `d.Set("log_driver", HostConfig.LogConfig.Type)`, `d.Set("log_opts", HostConfig.LogConfig.Config)`,
 * `d.Set("ulimit", flattenUlimits(HostConfig.Ulimits))`). Docker merges the daemon's `log-opts`
 * into every container of the daemon's default driver, and its `default-ulimits` into every
 * container at start, so these hold values even when the program declares none.
 */
export interface ContainerReadBack {
  logDriver: string;
  logOpts: Record<string, string>;
  ulimits: Array<{ name: string; soft: number; hard: number }>;
  /** `d.Set("restart", RestartPolicy.Name)`, `d.Set("max_retry_count", ...)`: updatable in place. */
  restart: string;
  maxRetryCount: number;
  /** `flattenContainerPorts(NetworkSettings.Ports)`: published bindings. */
  ports: Array<{ internal: number; external: number; ip: string; protocol: string }>;
  /** `flattenContainerNetworks`: each network's address (computed, never an input). */
  networkData: Array<{ networkName: string; ipAddress: string }>;
  /** `getDockerContainerMounts`: what is mounted where. */
  mounts: Array<{ type: string; source: string; target: string }>;
}

export function readBackOf(inspect: ContainerInspect): ContainerReadBack {
  const ports: ContainerReadBack["ports"] = [];
  for (const [key, bindings] of Object.entries(inspect.NetworkSettings.Ports ?? {})) {
    const [internal, protocol] = key.split("/");
    for (const b of bindings ?? []) ports.push({ internal: Number(internal), external: Number(b.HostPort), ip: b.HostIp, protocol });
  }
  ports.sort((a, b) => a.internal - b.internal || a.ip.localeCompare(b.ip));
  return {
    logDriver: inspect.HostConfig.LogConfig?.Type ?? "",
    logOpts: { ...(inspect.HostConfig.LogConfig?.Config ?? {}) },
    ulimits: (inspect.HostConfig.Ulimits ?? []).map((u) => ({ name: u.Name, soft: u.Soft, hard: u.Hard })),
    restart: inspect.HostConfig.RestartPolicy?.Name || "no",
    maxRetryCount: inspect.HostConfig.RestartPolicy?.MaximumRetryCount ?? 0,
    ports,
    networkData: Object.entries(inspect.NetworkSettings.Networks ?? {}).map(([networkName, n]) => ({ networkName, ipAddress: n.IPAddress })),
    mounts: (inspect.Mounts ?? []).map((m) => ({ type: m.Type, source: m.Name ?? m.Source ?? "", target: m.Destination })),
  };
}

/** terraform-provider-docker v3.9.0's networkRemoveRefresh{Delay,WaitBeforeRefreshes,Timeout}. */
export const NETWORK_REMOVE_TIMING = { delayMs: 2000, minTimeoutMs: 5000, timeoutMs: 30_000 };

export interface ReplayOptions {
  /** Value of RUN_LABEL on everything created. */
  runId: string;
  /** Bound on a one-shot (`attach`) container's run. */
  attachTimeoutMs: number;
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
    if (r.type === VOLUME_TYPE) {
      checkKeys(r.inputs.labels, KNOWN_KEYS.labels, `${where}.labels`, problems);
      if (typeof r.inputs.name !== "string") problems.push(`${where}.name: the replay needs an explicit volume name`);
      if (r.inputs.driver !== undefined && r.inputs.driver !== null && r.inputs.driver !== "local") problems.push(`${where}.driver: only "local" is replayed`);
    }
    if (r.type === NETWORK_TYPE) {
      checkKeys(r.inputs.ipamConfigs, KNOWN_KEYS["network.ipamConfigs"], `${where}.ipamConfigs`, problems);
      checkKeys(r.inputs.labels, KNOWN_KEYS.labels, `${where}.labels`, problems);
      if (r.inputs.driver !== undefined && r.inputs.driver !== "bridge") problems.push(`${where}.driver: only "bridge" is replayed`);
    }
    if (r.type === CONTAINER_TYPE) {
      for (const nested of ["networksAdvanced", "ports", "healthcheck", "uploads", "volumes"]) {
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

function stringMap(value: Obj): Record<string, string> {
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, String(v)]));
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

/**
 * Docker Go's `bufio.Scanner` default token limit: the provider (v3.9.0) reads `containerLogs`
 * with a Scanner, and a longer line ends the provider process (`log.Fatal`).
 */
export const SCANNER_MAX_LINE_BYTES = 64 * 1024;

/**
 * `containerLogs` exactly as terraform-provider-docker v3.9.0 builds it (resource_docker_container_funcs.go,
 * `attach` + `logs`): the raw `ContainerLogs` stream — multiplexed with 8-byte frame headers unless the
 * container has a TTY — split by a line scanner (which drops a trailing CR) and each line written back
 * with "\n". The result then crosses the engine's gRPC boundary as a protobuf string, which must be
 * valid UTF-8; both limits fail here as they fail the real update.
 */
export function providerContainerLogs(raw: Buffer, where: string): string {
  const lines: Buffer[] = [];
  let start = 0;
  while (start < raw.length) {
    let end = raw.indexOf(0x0a, start);
    const next = end === -1 ? raw.length : end + 1;
    if (end === -1) end = raw.length;
    let line = raw.subarray(start, end);
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    if (line.length > SCANNER_MAX_LINE_BYTES) {
      throw new Error(`${where}: a log line of ${line.length} bytes exceeds the provider's line scanner (bufio.Scanner: token too long); the provider process exits`);
    }
    lines.push(line, Buffer.from("\n"));
    start = next;
  }
  const bytes = Buffer.concat(lines);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const bad = firstInvalidUtf8(bytes);
    throw new Error(
      `${where}: containerLogs holds invalid UTF-8 (byte 0x${bytes[bad].toString(16)} at offset ${bad}); ` +
        `the Pulumi engine refuses it ("string field contains invalid UTF-8") and the update fails. ` +
        `Without a TTY Docker's log stream carries 8-byte frame headers, which the provider keeps.`,
    );
  }
}

function firstInvalidUtf8(bytes: Buffer): number {
  // The shortest prefix that does not decode, allowing a character cut at the prefix's end.
  let lo = 0;
  let hi = bytes.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, mid + 1), { stream: true });
      lo = mid + 1;
    } catch {
      hi = mid;
    }
  }
  const failing = Math.min(lo, bytes.length - 1);
  // Decoding fails on the byte that breaks a sequence: name the sequence's lead byte if there is one.
  for (let i = failing; i >= Math.max(0, failing - 3); i--) if (bytes[i] >= 0xc0) return i;
  return failing;
}

/**
 * The Docker provider's create/read/delete steps on a real engine, one resource at a time
 * (ContainerCreate, leave the default bridge, NetworkConnect with the static IP, CopyToContainer
 * for `uploads`, ContainerStart, the healthy wait, ContainerWait + ContainerLogs for `attach`,
 * then the read that records `exit_code` and enforces `mustRun`). Which step runs when is the
 * engine's business: see ReplayStack. Everything created carries the owner labels.
 */
export class DockerReplay {
  constructor(
    readonly engine: DockerEngine,
    readonly options: ReplayOptions,
  ) {}

  log(line: string): void {
    this.options.log?.(line);
  }

  ownerLabels(): Record<string, string> {
    return { [OWNER_LABEL]: String(process.pid), [RUN_LABEL]: this.options.runId };
  }

  /** The image's id (`sha256:...`) as the RemoteImage resource reports it; nothing is ever pulled. */
  async imageId(r: RecordedResource): Promise<string> {
    const ref = String(r.inputs.name);
    try {
      const image = await this.engine.request<{ Id: string }>({ method: "GET", path: `/images/${encodeURIComponent(ref)}/json`, timeoutMs: 10_000 });
      return image.Id;
    } catch (e) {
      if (e instanceof DockerApiError && e.statusCode === 404) {
        throw new Error(`image ${ref} (${r.name}) is not on this engine and the replay never pulls; run scripts/build-redis-image.sh`);
      }
      throw e;
    }
  }

  async createNetwork(r: RecordedResource): Promise<string> {
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
    this.log(`network ${name} created (${ipam.map((c) => `${c.subnet} gw ${c.gateway} range ${c.ipRange}`).join(", ")})`);
    return created.Id;
  }

  /**
   * The provider's delete (resource_docker_network_funcs.go, v3.9.0): a StateChangeConf with
   * Delay 2 s, MinTimeout 5 s, Timeout 30 s around inspect + NetworkRemove; "has active endpoints"
   * (a container still detaching) is "pending" and retried, anything else fails, a missing network
   * counts as removed.
   */
  async deleteNetwork(id: string, timing: { delayMs: number; minTimeoutMs: number; timeoutMs: number } = NETWORK_REMOVE_TIMING): Promise<void> {
    const deadline = Date.now() + timing.timeoutMs;
    await new Promise((res) => setTimeout(res, timing.delayMs));
    let wait = timing.minTimeoutMs;
    for (let attempt = 1; ; attempt++) {
      if (!(await this.networkExists(id))) return;
      try {
        await this.engine.request({ method: "DELETE", path: `/networks/${encodeURIComponent(id)}`, timeoutMs: 30_000 });
        return;
      } catch (e) {
        if (e instanceof DockerApiError && e.statusCode === 404) return;
        if (!(e instanceof DockerApiError && e.engineMessage.includes("has active endpoints"))) throw e;
        this.log(`network ${id}: has active endpoints (attempt ${attempt}); retrying in ${wait} ms`);
        if (Date.now() + wait > deadline) throw new Error(`timeout while waiting for state to become 'removed' (last state: 'pending', timeout: ${timing.timeoutMs / 1000}s): ${e.message}`);
        await new Promise((res) => setTimeout(res, wait));
        // The SDK's StateChangeConf backs off by doubling, up to 10 s.
        wait = Math.min(wait * 2, 10_000);
      }
    }
  }

  /** VolumeCreate; like the provider, an existing volume of that name is simply taken (Docker answers with it). */
  async createVolume(r: RecordedResource): Promise<string> {
    const name = String(r.inputs.name);
    const created = await this.engine.request<{ Name: string }>({
      method: "POST",
      path: "/volumes/create",
      timeoutMs: 30_000,
      body: { Name: name, Driver: (r.inputs.driver as string | undefined) ?? "local", Labels: { ...labelsOf(r.inputs.labels), ...this.ownerLabels() } },
    });
    this.log(`volume ${name} created`);
    return created.Name;
  }

  /** The provider retries VolumeRemove while the volume is in use (bounded). */
  async deleteVolume(name: string, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await ignoreNotFound(this.engine.request({ method: "DELETE", path: `/volumes/${encodeURIComponent(name)}`, timeoutMs: 30_000 }));
        return;
      } catch (e) {
        if (!(e instanceof DockerApiError && e.statusCode === 409) || Date.now() > deadline) throw e;
        await new Promise((res) => setTimeout(res, 500));
      }
    }
  }

  async volumeExists(name: string): Promise<boolean> {
    try {
      await this.engine.request({ method: "GET", path: `/volumes/${encodeURIComponent(name)}`, timeoutMs: 15_000 });
      return true;
    } catch (e) {
      if (e instanceof DockerApiError && e.statusCode === 404) return false;
      throw e;
    }
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
    // volumeSetToDockerVolumes: a named volume becomes a bind "name:path:rw|ro" plus a Volumes entry.
    const volumes: Record<string, object> = {};
    const binds: string[] = [];
    for (const v of Array.isArray(inp.volumes) ? inp.volumes.filter(isObj) : []) {
      if (typeof v.containerPath !== "string" || v.containerPath === "") throw new Error(`${where}.volumes: volume entry without container path`);
      volumes[v.containerPath] = {};
      if (typeof v.volumeName === "string" && v.volumeName !== "") binds.push(`${v.volumeName}:${v.containerPath}:${v.readOnly === true ? "ro" : "rw"}`);
    }
    return {
      Image: inp.image,
      Hostname: inp.hostname ?? "",
      Tty: inp.tty === true,
      OpenStdin: false,
      Env: strings(inp.envs, `${where}.envs`),
      Cmd: command,
      Entrypoint: strings(inp.entrypoints, `${where}.entrypoints`),
      User: inp.user ?? "",
      WorkingDir: inp.workingDir ?? "",
      ExposedPorts: Object.keys(exposed).length ? exposed : undefined,
      Volumes: Object.keys(volumes).length ? volumes : undefined,
      Labels: { ...labelsOf(inp.labels), ...this.ownerLabels() },
      Healthcheck: healthcheck,
      HostConfig: {
        Binds: binds.length ? binds : undefined,
        PortBindings: Object.keys(bindings).length ? bindings : undefined,
        RestartPolicy: { Name: (inp.restart as string | undefined) ?? "no", MaximumRetryCount: Number(inp.maxRetryCount ?? 0) },
        AutoRemove: inp.rm === true,
        Init: inp.init === true,
        // The provider sends log_driver ("" = the daemon's default) and log_opts as given.
        LogConfig: { Type: (inp.logDriver as string | undefined) ?? "", Config: isObj(inp.logOpts) ? stringMap(inp.logOpts) : undefined },
      },
      NetworkingConfig: {},
    };
  }

  /**
   * The provider's create. A one-shot's non-zero exit code is recorded, not thrown: the provider
   * reports it as `exitCode` and leaves judging it to the program. A container that is not running
   * afterwards with `mustRun` (default true) is deleted and fails the step, as the provider's read does.
   */
  async createContainer(r: RecordedResource): Promise<AppliedContainer> {
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
      try {
        await this.engine.requestRaw({ method: "POST", path: `/containers/${id}/start`, timeoutMs: 30_000 });
      } catch (e) {
        throw new PartialCreateError(`Unable to start container: ${(e as Error).message}`, id);
      }
    }

    const applied: AppliedContainer = { resourceName: r.name, dockerName, id, readBack: { logDriver: "", logOpts: {}, ulimits: [], restart: "no", maxRetryCount: 0, ports: [], networkData: [], mounts: [] }, elapsedMs: 0 };
    if (inp.wait === true) {
      try {
        await this.waitHealthy(id, dockerName, Number(inp.waitTimeout ?? 60) * 1000);
      } catch (e) {
        throw new PartialCreateError((e as Error).message, id);
      }
    }
    if (inp.attach === true) {
      await this.engine.request<{ StatusCode: number }>({
        method: "POST",
        path: `/containers/${id}/wait?condition=not-running`,
        timeoutMs: this.options.attachTimeoutMs,
      });
      if (inp.logs === true) {
        let raw: Buffer;
        try {
          raw = await this.engine.rawLogs(id);
        } catch (e) {
          // v3.9.0: `log.Panic` when ContainerLogs fails, e.g. under a log driver that cannot be read back.
          throw new Error(`${r.name}: the provider panics reading the job's logs (log.Panic: ${(e as Error).message}); set logDriver on the job to one Docker can read (json-file)`);
        }
        applied.logs = providerContainerLogs(raw, `${r.name}.containerLogs`);
      }
    }

    // The provider's read after create: a container that does not run fails `mustRun` (default true).
    const state = await this.inspect(id);
    if (!state.State.Running && inp.mustRun !== false) {
      const logs = await this.engine.logs(id).catch(() => "");
      await this.deleteContainer(id, r.inputs);
      throw new Error(
        `container ${dockerName} (${r.name}) is not running after create (exit code ${state.State.ExitCode}) and mustRun is not false: ` +
          `the provider deletes it and fails the update ("container failed to be in running state"); logs:\n${indent(logs)}`,
      );
    }
    if (!state.State.Running) applied.exitCode = state.State.ExitCode;
    applied.readBack = readBackOf(state);
    applied.elapsedMs = Date.now() - started;
    if (applied.exitCode !== undefined) this.log(`one-shot ${dockerName} exited ${applied.exitCode} after ${applied.elapsedMs} ms`);
    else this.log(`container ${dockerName} running`);
    return applied;
  }

  /**
   * The provider's update (resourceDockerContainerUpdate): when restart, max_retry_count or a
   * resource limit changed, one ContainerUpdate with the restart policy; every other updatable
   * attribute (mustRun, logs, healthcheck...) only changes the state.
   */
  async updateContainer(id: string, inputs: Record<string, PlainValue>): Promise<void> {
    await this.engine.request({
      method: "POST",
      path: `/containers/${encodeURIComponent(id)}/update`,
      timeoutMs: 30_000,
      body: { RestartPolicy: { Name: (inputs.restart as string | undefined) ?? "no", MaximumRetryCount: Number(inputs.maxRetryCount ?? 0) } },
    });
    this.log(`container ${String(inputs.name)} updated in place`);
  }

  /** The provider's delete: stop (unless `attach`), remove with force and `removeVolumes` (default true), wait. */
  async deleteContainer(id: string, inputs: Record<string, PlainValue>): Promise<void> {
    if (inputs.attach !== true) {
      const grace = typeof inputs.destroyGraceSeconds === "number" ? inputs.destroyGraceSeconds : 0;
      await ignoreNotFound(this.engine.requestRaw({ method: "POST", path: `/containers/${id}/stop?t=${grace}`, timeoutMs: 30_000 + grace * 1000 }));
    }
    const removeVolumes = inputs.removeVolumes !== false;
    await ignoreNotFound(this.engine.request({ method: "DELETE", path: `/containers/${id}?force=1&v=${removeVolumes ? 1 : 0}`, timeoutMs: 30_000 }));
    this.log(`container ${String(inputs.name)} deleted`);
  }

  private async waitHealthy(id: string, name: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.inspect(id);
      if (s.State.Health?.Status === "healthy") return;
      // The provider's words, which the README tells users how to act on.
      if (Date.now() > deadline) throw new Error(`container failed to be in healthy state (${name}, status ${s.State.Health?.Status ?? "none"} after ${timeoutMs} ms)`);
      await new Promise((res) => setTimeout(res, 250));
    }
  }

  inspect(idOrName: string): Promise<ContainerInspect> {
    return this.engine.request<ContainerInspect>({ method: "GET", path: `/containers/${encodeURIComponent(idOrName)}/json`, timeoutMs: 15_000 });
  }

  /** Inspect, or undefined when the container is gone. */
  async inspectIfExists(idOrName: string): Promise<ContainerInspect | undefined> {
    try {
      return await this.inspect(idOrName);
    } catch (e) {
      if (e instanceof DockerApiError && e.statusCode === 404) return undefined;
      throw e;
    }
  }

  async networkExists(id: string): Promise<boolean> {
    try {
      await this.engine.request({ method: "GET", path: `/networks/${encodeURIComponent(id)}`, timeoutMs: 15_000 });
      return true;
    } catch (e) {
      if (e instanceof DockerApiError && e.statusCode === 404) return false;
      throw e;
    }
  }

  /** What this run left on the engine (by RUN_LABEL), e.g. to assert that destroy removed everything. */
  async leftovers(): Promise<{ containers: string[]; networks: string[]; volumes: string[] }> {
    return listLabelled(this.engine, `${RUN_LABEL}=${this.options.runId}`);
  }

  /** Removes everything carrying this run's label: containers, then networks, then volumes. */
  async cleanup(): Promise<void> {
    const errors = await removeLabelled(this.engine, `${RUN_LABEL}=${this.options.runId}`, () => true);
    if (errors.length) throw new Error(`replay cleanup left things behind:\n  ${errors.join("\n  ")}`);
  }
}

/**
 * A create that failed after the container existed: v3.9.0 has already called `d.SetId`, so the
 * step returns the id with its error and the engine saves the resource with `initErrors`.
 */
export class PartialCreateError extends Error {
  constructor(
    message: string,
    readonly id: string,
  ) {
    super(message);
    this.name = "PartialCreateError";
  }
}

export interface ContainerInspect {
  Id: string;
  Name: string;
  State: { Running: boolean; ExitCode: number; Health?: { Status: string } };
  Config: { Cmd: string[] | null; Env: string[] | null; Labels: Record<string, string> | null; Tty?: boolean };
  HostConfig: {
    PortBindings: Record<string, Array<{ HostIp: string; HostPort: string }>> | null;
    Binds?: string[] | null;
    LogConfig?: { Type: string; Config: Record<string, string> | null };
    RestartPolicy?: { Name: string; MaximumRetryCount: number };
    Ulimits?: Array<{ Name: string; Soft: number; Hard: number }> | null;
  };
  Mounts?: Array<{ Type: string; Name?: string; Source?: string; Destination: string }>;
  NetworkSettings: {
    Networks: Record<string, { IPAddress: string }>;
    Ports?: Record<string, Array<{ HostIp: string; HostPort: string }> | null> | null;
  };
}

async function ignoreNotFound<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e) {
    if (e instanceof DockerApiError && e.statusCode === 404) return undefined;
    throw e;
  }
}

interface Labelled {
  containers: Array<{ Id: string; Names: string[]; Labels: Record<string, string> }>;
  networks: Array<{ Id: string; Name: string; Labels: Record<string, string> }>;
  volumes: Array<{ Name: string; Labels: Record<string, string> | null }>;
}

async function listLabelledRaw(engine: DockerEngine, label: string): Promise<Labelled> {
  const filter = encodeURIComponent(JSON.stringify({ label: [label] }));
  const containers = await engine.request<Labelled["containers"]>({ method: "GET", path: `/containers/json?all=1&filters=${filter}`, timeoutMs: 15_000 });
  const networks = await engine.request<Labelled["networks"]>({ method: "GET", path: `/networks?filters=${filter}`, timeoutMs: 15_000 });
  const volumes = (await engine.request<{ Volumes: Labelled["volumes"] | null }>({ method: "GET", path: `/volumes?filters=${filter}`, timeoutMs: 15_000 })).Volumes ?? [];
  return { containers, networks, volumes };
}

async function listLabelled(engine: DockerEngine, label: string): Promise<{ containers: string[]; networks: string[]; volumes: string[] }> {
  const found = await listLabelledRaw(engine, label);
  return {
    containers: found.containers.map((c) => c.Names.join(",").replace(/^\//, "")),
    networks: found.networks.map((n) => n.Name),
    volumes: found.volumes.map((v) => v.Name),
  };
}

async function removeLabelled(engine: DockerEngine, label: string, owned: (labels: Record<string, string>) => boolean): Promise<string[]> {
  const found = await listLabelledRaw(engine, label);
  const errors: string[] = [];
  const attempt = async (what: string, p: Promise<unknown>): Promise<void> => {
    await ignoreNotFound(p).catch((e: Error) => errors.push(`${what}: ${e.message}`));
  };
  for (const c of found.containers.filter((c) => owned(c.Labels))) {
    await attempt(`container ${c.Names.join(",")}`, engine.request({ method: "DELETE", path: `/containers/${c.Id}?force=1&v=1`, timeoutMs: 30_000 }));
  }
  for (const n of found.networks.filter((n) => owned(n.Labels))) {
    await attempt(`network ${n.Name}`, engine.request({ method: "DELETE", path: `/networks/${n.Id}`, timeoutMs: 30_000 }));
  }
  for (const v of found.volumes.filter((v) => owned(v.Labels ?? {}))) {
    await attempt(`volume ${v.Name}`, engine.request({ method: "DELETE", path: `/volumes/${encodeURIComponent(v.Name)}`, timeoutMs: 30_000 }));
  }
  return errors;
}

/**
 * Removes containers, networks and volumes left by replays whose process is gone (an interrupted
 * run that could not clean up). Other live processes' replays are left alone.
 */
export async function sweepLeftovers(engine: DockerEngine): Promise<void> {
  const alive = (pid: string | undefined): boolean => {
    try {
      process.kill(Number(pid), 0);
      return true;
    } catch {
      return false;
    }
  };
  const errors = await removeLabelled(engine, OWNER_LABEL, (labels) => !alive(labels[OWNER_LABEL]));
  if (errors.length) throw new Error(`could not remove leftovers of earlier runs:\n  ${errors.join("\n  ")}`);
}
