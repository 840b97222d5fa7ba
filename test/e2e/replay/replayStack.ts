/**
 * `pulumi up` / `pulumi refresh` / `pulumi destroy` for the e2e test, without the Pulumi CLI.
 *
 * The program runs under Pulumi's mocks, and the mocks' `newResource` is the Docker provider:
 * the SDK calls it once a resource's inputs (and its dependsOn) are resolved, as the engine
 * would send the step, and what it returns (ids, exit code, logs) feeds the resources that
 * depend on it. Between runs a state keeps each resource's inputs and outputs, so a later `up`
 * diffs like the engine with terraform-provider-docker v3.9.0's schema: unchanged -> same (no
 * Docker call, old outputs), changed ForceNew input -> replace (delete first with
 * deleteBeforeReplace), other changes -> update in place; resources no longer declared are
 * deleted afterwards, and `retainOnDelete` ones are only dropped from the state. Every `up`
 * previews first (`preview`) and fails if the apply does anything else; the state is keyed by
 * the engine's URN, and aliases continue old entries.
 *
 * Providers: a resource goes to the engine of its `provider` (a `pulumi:providers:docker`
 * resource, whose `host` input `engineForProvider` turns into that engine's replay); one with no
 * provider (the default provider) goes to `docker`. Providers themselves touch no engine and are
 * kept out of the state and the steps; a resource whose provider (name or host) changes is
 * replaced. Such a move works only with deleteBeforeReplace: the replay's create-before-delete
 * replacement is refused as for any fixed-name resource (not modelled across engines).
 */
import { isDeepStrictEqual } from "node:util";
import * as pulumi from "@pulumi/pulumi";
import {
  CONTAINER_TYPE,
  IMAGE_TYPE,
  NETWORK_TYPE,
  PartialCreateError,
  VOLUME_TYPE,
  readBackOf,
  validateRecordedResources,
  type AppliedContainer,
  type DockerReplay,
} from "./applyToDocker";
import { runProgramToEnd, toPlain, type PlainValue, type RecordedResource } from "./recordProgram";

export interface StateEntry {
  /** The engine's key: the resource's URN. */
  key: string;
  urn: string;
  type: string;
  name: string;
  inputs: Record<string, PlainValue>;
  /** Provider id: container id, network id, volume name, image id. */
  id: string;
  /** Outputs beyond the inputs (exitCode, containerLogs, imageId, what the read stored). */
  outputs: Record<string, unknown>;
  /** URNs of the custom resources this one depends on. */
  dependsOn: string[];
  retainOnDelete: boolean;
  /** The `docker.Provider` whose engine holds it (`<Pulumi name>@<host>`); absent: the default engine. */
  provider?: string;
  /** Set when its create failed after the container existed: the engine's `initErrors`. */
  initErrors?: string[];
}

export type StepOp = "same" | "create" | "update" | "replace" | "delete" | "retain" | "gone";
export interface Step {
  op: StepOp;
  type: string;
  name: string;
}
/** One line of the preview: what the engine will do to a resource, and why. */
export interface PlannedStep extends Step {
  urn: string;
  /** For a replace: the old one is deleted first (deleteBeforeReplace), else created first. */
  deleteBeforeReplace?: boolean;
  /** Inputs (or read-back attributes) whose change decided the step; `--replace`, `initErrors`, `dependent`. */
  because: string[];
}

/** A preview as counts per resource type and step, e.g. `{"Container replace (delete first)": 8, "Volume same": 7}`. */
export function summarisePlan(plan: PlannedStep[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const p of plan) {
    const key = `${p.type.split(":").pop()} ${p.op}${p.deleteBeforeReplace ? " (delete first)" : ""}`;
    out[key] = (out[key] ?? 0) + 1;
  }
  return out;
}

/** A preview input the engine does not know yet (an output of a resource being created or replaced). */
export const UNKNOWN = "\u0000<unknown until apply>";

/** Container inputs terraform-provider-docker v3.9.0 can change in place (no ForceNew); any other change replaces. */
const CONTAINER_UPDATABLE = new Set([
  "rm", "start", "wait", "waitTimeout", "attach", "logs", "mustRun", "restart", "maxRetryCount", "removeVolumes",
  "destroyGraceSeconds", "healthcheck", "init", "memory", "memoryReservation", "memorySwap", "cpuShares", "cpuSet",
  "cpuPeriod", "cpuQuota", "tmpfs", "containerReadRefreshTimeoutMilliseconds",
]);
/** The updatable attributes whose change makes the provider's update call ContainerUpdate. */
const CONTAINER_UPDATE_CALLS = ["restart", "maxRetryCount", "cpuShares", "memory", "memoryReservation", "cpuSet", "memorySwap"];

/**
 * Container attributes the provider's read stores from Docker (see ContainerReadBack) and how its
 * diff treats them (resource_docker_container.go, v3.9.0): `log_opts` and `ulimit` are Optional +
 * ForceNew and not Computed, so a stored value the inputs do not repeat is a change that
 * replaces; `log_driver` is also Computed, so only a declared value that differs counts;
 * `restart` (default "no") and `max_retry_count` (default 0) are updatable in place.
 */
const CONTAINER_READ_BACK: ReadonlyArray<{ key: "logOpts" | "logDriver" | "ulimits" | "restart" | "maxRetryCount"; computed: boolean; default?: PlainValue }> = [
  { key: "logOpts", computed: false },
  { key: "logDriver", computed: true },
  { key: "ulimits", computed: false },
  { key: "restart", computed: false, default: "no" },
  { key: "maxRetryCount", computed: false, default: 0 },
];

interface RequestMeta {
  dependencies: string[];
  /** Input key -> URNs its value came from (the request's propertyDependencies). */
  propertyDependencies: Map<string, string[]>;
  retainOnDelete: boolean;
  deleteBeforeReplace: boolean;
  ignoreChanges: string[];
  parent: string;
  custom: boolean;
  /** The engine's URN of this resource and the URNs its aliases stand for. */
  urn: string;
  aliases: string[];
}
interface AliasSpecLike {
  getName(): string;
  getType(): string;
  getStack(): string;
  getProject(): string;
  hasParenturn(): boolean;
  getParenturn(): string;
  getNoparent(): boolean;
}
interface AliasLike {
  getUrn(): string;
  getSpec(): AliasSpecLike | undefined;
}
interface RegisterRequestMeta {
  getType(): string;
  getName(): string;
  getCustom(): boolean;
  getParent(): string;
  getDependenciesList(): string[];
  getPropertydependenciesMap(): { forEach(cb: (value: { getUrnsList(): string[] }, key: string) => void): void };
  getRetainondelete(): boolean | undefined;
  getDeletebeforereplace(): boolean;
  getIgnorechangesList(): string[];
  getAliasesList(): AliasLike[];
}
type RegisterCallback = (err: unknown, resp?: { getUrn(): string }) => void;
interface MonitorLike {
  registerResource(req: RegisterRequestMeta, cb: RegisterCallback): void;
}

export interface ReplayStackOptions {
  project: string;
  stack: string;
  /** Bound on one run of the program (all its steps). */
  timeoutMs: number;
  /** Resources to leave out of Docker (their steps pretend success), e.g. a node that never comes up. */
  skip?: (type: string, name: string) => boolean;
  /** ignoreChanges entries to drop from every resource: proves what they protect against. */
  dropIgnoreChanges?: string[];
  /**
   * The replay of the engine a `docker.Provider` reaches, by its `host` input (e.g.
   * `unix:///tmp/x/docker.sock`). Without it, a program that declares a provider is refused.
   */
  engineForProvider?: (host: string, providerName: string) => DockerReplay;
}

const PROVIDER_TYPE = "pulumi:providers:docker";

const isEmpty = (v: unknown): boolean => v === undefined || v === null || v === "" || (typeof v === "object" && Object.keys(v as object).length === 0);

function hasUnknown(v: PlainValue | undefined): boolean {
  if (v === UNKNOWN) return true;
  if (Array.isArray(v)) return v.some(hasUnknown);
  if (v !== null && typeof v === "object") return Object.values(v).some(hasUnknown);
  return false;
}

/**
 * The provider's diff of one resource (its stored state against the new inputs) as the engine
 * turns it into a step: which keys changed and whether any of them is ForceNew. `inputs` may hold
 * UNKNOWN (preview): an unknown value is a change.
 */
export function diffResource(
  type: string,
  old: StateEntry,
  inputs: Record<string, PlainValue>,
  ignoreChanges: string[],
): { changed: string[]; replaceKeys: string[] } {
  const changed: string[] = [];
  const replaceKeys: string[] = [];
  const keys = new Set([...Object.keys(old.inputs), ...Object.keys(inputs)]);
  for (const k of keys) {
    if (ignoreChanges.includes(k)) continue;
    const before = old.inputs[k];
    const after = inputs[k];
    if (!hasUnknown(after) && (isDeepStrictEqual(before, after) || (isEmpty(before) && isEmpty(after)))) continue;
    changed.push(k);
    // Networks, volumes, images: every input is ForceNew (keepLocally is not, it only matters on delete).
    const updatable = type === CONTAINER_TYPE ? CONTAINER_UPDATABLE.has(k) : type === IMAGE_TYPE && k === "keepLocally";
    if (!updatable) replaceKeys.push(k);
  }
  // What the provider's read stored from Docker, against what the program declares.
  if (type === CONTAINER_TYPE && !old.id.startsWith("skipped-")) {
    for (const { key, computed, default: dflt } of CONTAINER_READ_BACK) {
      if (ignoreChanges.includes(key) || changed.includes(key) || !(key in old.outputs)) continue;
      const declared = inputs[key] ?? dflt;
      if (computed && (declared === undefined || declared === null)) continue;
      const stored = old.outputs[key] as PlainValue;
      if (isEmpty(stored) && isEmpty(declared)) continue;
      if (isDeepStrictEqual(stored, declared)) continue;
      changed.push(`${key} (read back ${JSON.stringify(stored)})`);
      if (!CONTAINER_UPDATABLE.has(key)) replaceKeys.push(key);
    }
  }
  return { changed, replaceKeys };
}

/** The engine's URN: `urn:pulumi:<stack>::<project>::<parent type chain $ type>::<name>`. */
function engineUrn(stack: string, project: string, parentUrn: string | undefined, type: string, name: string): string {
  const parentChain = parentUrn ? parentUrn.split("::")[2] : undefined;
  const qualified = parentChain && parentChain !== "pulumi:pulumi:Stack" ? `${parentChain}$${type}` : type;
  return `urn:pulumi:${stack}::${project}::${qualified}::${name}`;
}

export class ReplayStack {
  readonly state = new Map<string, StateEntry>();
  /** Steps of the last operation, in the order they finished. */
  steps: Step[] = [];
  /** The preview that the last `up` computed before applying (and checked the apply against). */
  lastPreview: PlannedStep[] = [];
  /** Keys deleted during this up because a delete-before-replace needed them gone; their create is a replace. */
  private deletedAsDependents = new Set<string>();
  /** Registrations of the program run in progress, and the SDK's (mock) URNs -> the engine's. */
  private liveDeclared = new Map<string, RequestMeta>();
  private mockToEngine = new Map<string, string>();
  /** Deletions in flight, by key. */
  private readonly deleting = new Map<string, Promise<void>>();
  /** The engines of the `docker.Provider`s the program declared (in any run), by `<name>@<host>`. */
  private readonly providers = new Map<string, DockerReplay>();

  constructor(
    readonly docker: DockerReplay,
    readonly options: ReplayStackOptions,
  ) {}

  /**
   * Installs mocks whose newResource is `onResource`, with a monitor that gives each registration
   * its engine URN, aliases and resource options; runs the program to its end and restores the
   * previous mocks.
   */
  private async runProgram(
    program: () => unknown,
    dryRun: boolean,
    onResource: (meta: RequestMeta, type: string, name: string, inputs: Record<string, PlainValue>, provider: string | undefined) => Promise<{ id: string | undefined; state: Record<string, unknown> }>,
    failFast: Promise<never> | undefined,
    what: string,
  ): Promise<{ declared: Map<string, RequestMeta>; ran: Awaited<ReturnType<typeof runProgramToEnd>> }> {
    const declared = new Map<string, RequestMeta>();
    this.liveDeclared = declared;
    const mockToEngine = new Map<string, string>();
    this.mockToEngine = mockToEngine;
    const engineAliases = new Map<string, string[]>();
    const pending = new Map<string, RequestMeta>();
    const { project, stack } = this.options;
    const previousMonitor = pulumi.runtime.hasMonitor() ? pulumi.runtime.getMonitor() : undefined;
    const previousProject = pulumi.runtime.getProject();
    const previousStack = pulumi.runtime.getStack();
    await pulumi.runtime.setMocks(
      {
        newResource: async (args) => {
          const meta = pending.get(`${args.type}::${args.name}`);
          if (meta === undefined) throw new Error(`${args.type}::${args.name}: registered without passing the monitor`);
          if (args.custom === false) return { id: undefined, state: {} };
          const inputs = toPlain(args.inputs, meta.urn, UNKNOWN) as Record<string, PlainValue>;
          if (args.type === PROVIDER_TYPE) return this.declareProvider(args.name, inputs);
          return onResource(meta, args.type, args.name, inputs, this.providerOf(meta.urn, args.provider));
        },
        call: async (args) => {
          throw new Error(`the replay does not support provider function calls (invoke ${args.token})`);
        },
      },
      project,
      stack,
      dryRun,
    );
    const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike;
    const original = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, cb) => {
      const type = req.getType();
      const name = req.getName();
      const parent = req.getParent() ? mockToEngine.get(req.getParent()) : undefined;
      const urn = engineUrn(stack, project, parent, type, name);
      // The engine's aliases: each spec (defaults: this name, type, parent), and this resource under each of its parent's aliases.
      const aliases: string[] = [];
      for (const a of req.getAliasesList()) {
        const spec = a.getSpec();
        if (spec === undefined) {
          aliases.push(a.getUrn());
          continue;
        }
        const aliasParent = spec.getNoparent() ? undefined : spec.hasParenturn() ? (mockToEngine.get(spec.getParenturn()) ?? spec.getParenturn()) : parent;
        aliases.push(engineUrn(spec.getStack() || stack, spec.getProject() || project, aliasParent, spec.getType() || type, spec.getName() || name));
      }
      for (const parentAlias of parent ? (engineAliases.get(parent) ?? []) : []) aliases.push(engineUrn(stack, project, parentAlias, type, name));
      engineAliases.set(urn, aliases);
      const propertyDependencies = new Map<string, string[]>();
      req.getPropertydependenciesMap().forEach((v, k) => propertyDependencies.set(k, v.getUrnsList()));
      const meta: RequestMeta = {
        dependencies: req.getDependenciesList(),
        propertyDependencies,
        retainOnDelete: req.getRetainondelete() === true,
        deleteBeforeReplace: req.getDeletebeforereplace(),
        ignoreChanges: req.getIgnorechangesList().filter((k) => !(this.options.dropIgnoreChanges ?? []).includes(k)),
        parent: parent ?? "",
        custom: req.getCustom(),
        urn,
        aliases,
      };
      const pendingKey = `${type}::${name}`;
      if (pending.has(pendingKey)) {
        cb(new Error(`${pendingKey}: two resources of one type and name; the replay tells them apart by name`));
        return;
      }
      pending.set(pendingKey, meta);
      original(req, (err, resp) => {
        if (resp) {
          mockToEngine.set(resp.getUrn(), urn);
          if (declared.has(urn)) {
            cb(new Error(`${urn}: registered twice (duplicate URN)`));
            return;
          }
          declared.set(urn, meta);
        }
        cb(err, resp);
      });
    };
    try {
      const running = runProgramToEnd(program, this.options.timeoutMs, what);
      const ran = await (failFast ? Promise.race([running, failFast]) : running);
      // Dependencies arrive as the SDK's (mock) URNs: the engine's from here on.
      for (const m of declared.values()) {
        m.dependencies = m.dependencies.map((u) => mockToEngine.get(u) ?? u);
        for (const [k, urns] of m.propertyDependencies) m.propertyDependencies.set(k, urns.map((u) => mockToEngine.get(u) ?? u));
      }
      return { declared, ran };
    } finally {
      monitor.registerResource = original;
      if (previousMonitor !== undefined) pulumi.runtime.setMockOptions(previousMonitor, previousProject, previousStack);
    }
  }

  /** The state entry a declared resource continues: its own URN's, or one of its aliases'. */
  private oldEntry(meta: RequestMeta): StateEntry | undefined {
    const own = this.state.get(meta.urn);
    if (own) return own;
    for (const alias of meta.aliases) {
      const found = this.state.get(alias);
      if (found) return found;
    }
    return undefined;
  }

  /** ignoreChanges as the engine applies it: an ignored input keeps its old value (top-level keys only here). */
  private withIgnored(meta: RequestMeta, old: StateEntry | undefined, inputs: Record<string, PlainValue>): Record<string, PlainValue> {
    if (old === undefined) return inputs;
    const out = { ...inputs };
    for (const k of meta.ignoreChanges) {
      if (k.includes(".") || k.includes("[")) throw new Error(`${meta.urn}: the replay handles top-level ignoreChanges only, not ${k}`);
      if (k in old.inputs) out[k] = old.inputs[k];
      else delete out[k];
    }
    return out;
  }

  /**
   * `pulumi preview`: the program runs in dry-run, each registration is diffed against the state
   * with the provider's rules, and what a step would produce is handed back: old outputs for
   * same/update, unknown ids and outputs for create/replace, so dependents see the unknowns the
   * engine would show them. The dependents of a delete-before-replace get the inputs that came
   * from it as unknown (the engine's dependent-replacement check). Nothing touches Docker.
   */
  async preview(program: () => unknown, opts: { replace?: string[] } = {}): Promise<PlannedStep[]> {
    const planned = new Map<string, PlannedStep>();
    const forceReplace = new Set(opts.replace ?? []);
    const dbrReplaced = new Set<string>();
    /** Component URNs stand for their custom descendants. */
    const { declared, ran } = await this.runProgram(
      program,
      true,
      async (meta, type, name, rawInputs, provider) => {
        const old = this.oldEntry(meta);
        let inputs = this.withIgnored(meta, old, rawInputs);
        const because: string[] = [];
        // Inputs that come from a resource being deleted before its replacement are unknown to the dependent.
        if (old !== undefined) {
          for (const [k, mockUrns] of meta.propertyDependencies) {
            if (meta.ignoreChanges.includes(k)) continue;
            const urns = mockUrns.map((u) => this.mockToEngine.get(u) ?? u);
            if (urns.some((u) => [...dbrReplaced].some((r) => r === u || this.isDescendant(r, u, this.liveDeclared)))) {
              inputs = { ...inputs, [k]: UNKNOWN };
              because.push(`dependent: ${k}`);
            }
          }
        }
        let op: StepOp;
        if (old === undefined) op = "create";
        else if (forceReplace.has(name)) {
          op = "replace";
          because.push("--replace");
        } else if (old.provider !== provider) {
          op = "replace";
          because.push("provider");
        } else {
          const { changed, replaceKeys } = diffResource(type, old, inputs, meta.ignoreChanges);
          if (replaceKeys.length > 0) {
            op = "replace";
            because.push(...changed.filter((c) => replaceKeys.some((k) => c === k || c.startsWith(`${k} `))));
          } else if (changed.length > 0) {
            op = "update";
            because.push(...changed);
          } else if (old.initErrors) {
            op = "update";
            because.push("initErrors");
          } else op = "same";
        }
        if (op === "replace" && meta.deleteBeforeReplace) dbrReplaced.add(meta.urn);
        planned.set(meta.urn, { op, type, name, urn: meta.urn, because: [...new Set(because.filter((b) => !b.startsWith("dependent") || op === "replace"))], ...(op === "replace" ? { deleteBeforeReplace: meta.deleteBeforeReplace } : {}) });
        if (op === "same") return { id: old!.id, state: { ...old!.inputs, ...old!.outputs } };
        if (op === "update") return { id: old!.id, state: { ...inputs, ...old!.outputs } };
        // A create's computed outputs are unknown in a preview; its inputs are what it will have.
        const unknowns: Record<string, unknown> = {};
        if (type === CONTAINER_TYPE) for (const k of ["exitCode", "containerLogs"]) unknowns[k] = pulumi.unknown;
        if (type === IMAGE_TYPE) for (const k of ["imageId", "repoDigest"]) unknowns[k] = pulumi.unknown;
        return { id: undefined, state: { ...inputs, ...unknowns } };
      },
      undefined,
      "pulumi preview (replayed)",
    );
    if (!ran.outcome.ok) throw ran.outcome.error;
    // Resources no longer declared (nor continued under an alias) are deleted.
    const continued = new Set([...declared.values()].map((m) => this.oldEntry(m)?.key).filter((k): k is string => k !== undefined));
    for (const e of this.state.values()) {
      if (continued.has(e.key)) continue;
      planned.set(e.key, { op: e.retainOnDelete ? "retain" : "delete", type: e.type, name: e.name, urn: e.key, because: ["no longer declared"] });
    }
    return [...planned.values()];
  }

  private isDescendant(urn: string, ancestor: string, declared: Map<string, RequestMeta>): boolean {
    for (let m = declared.get(urn); m && m.parent; m = declared.get(m.parent)) if (m.parent === ancestor) return true;
    return false;
  }

  /**
   * `pulumi up [--replace name...]`: previews, then applies; every step must be the one the
   * preview listed (else it throws, naming the differences). Returns the exports, or throws what
   * `pulumi up` would report.
   */
  async up(program: () => unknown, opts: { replace?: string[] } = {}): Promise<PlainValue | undefined> {
    const preview = await this.preview(program, opts);
    this.lastPreview = preview;
    let result: PlainValue | undefined;
    let failure: unknown;
    try {
      result = await this.apply(program, opts);
    } catch (e) {
      failure = e;
    }
    // Compare what ran with what the preview said (a failed update compares the steps it got to).
    const planned = new Map(preview.map((p) => [`${p.type}::${p.name}`, p.op]));
    const diverged = this.steps
      .filter((st) => planned.get(`${st.type}::${st.name}`) !== st.op)
      .map((st) => `${st.name}: preview ${planned.get(`${st.type}::${st.name}`) ?? "(absent)"}, apply ${st.op}`);
    if (failure === undefined) {
      const ran = new Set(this.steps.map((st) => `${st.type}::${st.name}`));
      for (const p of preview) if (!ran.has(`${p.type}::${p.name}`)) diverged.push(`${p.name}: preview ${p.op}, apply (no step)`);
    }
    if (diverged.length > 0) {
      const detail = `the apply diverged from the preview:\n  ${diverged.join("\n  ")}`;
      if (failure !== undefined) throw new Error(`${detail}\n(the update also failed: ${String(failure)})`);
      throw new Error(detail);
    }
    if (failure !== undefined) throw failure;
    return result;
  }

  private async apply(program: () => unknown, opts: { replace?: string[] }): Promise<PlainValue | undefined> {
    this.steps = [];
    this.deletedAsDependents = new Set();
    const stepErrors: Error[] = [];
    const forceReplace = new Set(opts.replace ?? []);
    // A failed step ends the update once the steps in flight finish, as in the engine: the
    // program's later registrations would wait forever on the failed resource's outputs.
    const inFlight = new Set<Promise<unknown>>();
    let stepFailed: (e: Error) => void = () => undefined;
    const firstStepFailure = new Promise<never>((_, reject) => {
      stepFailed = reject;
    });
    firstStepFailure.catch(() => undefined);
    let declared: Map<string, RequestMeta>;
    let ran: Awaited<ReturnType<typeof runProgramToEnd>>;
    try {
      ({ declared, ran } = await this.runProgram(
        program,
        false,
        async (meta, type, name, inputs, provider) => {
          // The engine starts no new step once one has failed.
          if (stepErrors.length > 0) throw new Error(`${meta.urn}: not started, the update already failed`);
          const running = this.step(meta, type, name, inputs, provider, (urns) => this.customKeys(urns.map((u) => this.mockToEngine.get(u) ?? u)), forceReplace.has(name));
          inFlight.add(running);
          try {
            return await running;
          } catch (e) {
            stepErrors.push(e as Error);
            if (stepErrors.length === 1) stepFailed(e as Error);
            throw e;
          } finally {
            inFlight.delete(running);
          }
        },
        firstStepFailure,
        "pulumi up (replayed)",
      ));
    } catch (e) {
      if (stepErrors.length === 0) throw e;
      await Promise.allSettled([...inFlight]);
      throw stepErrors[0];
    }
    const { outcome, unhandled } = ran;
    // A failed step is what `pulumi up` reports first; then the program's own errors.
    if (stepErrors.length > 0) throw stepErrors[0];
    if (!outcome.ok) throw outcome.error;
    if (unhandled.length > 0) throw unhandled[0];
    // Only after a successful run: resources the program no longer declares are deleted.
    await this.deleteAll([...this.state.keys()].filter((k) => !declared.has(k)));
    return outcome.value === undefined ? undefined : toPlain(outcome.value, "exports");
  }

  /** Runs one resource's step and records it in the state; returns what the mocks hand back to the program. */
  private async step(
    meta: RequestMeta,
    type: string,
    name: string,
    rawInputs: Record<string, PlainValue>,
    provider: string | undefined,
    customKeysOf: (urns: string[]) => string[],
    forceReplace: boolean,
  ): Promise<{ id: string; state: Record<string, unknown> }> {
    const key = meta.urn;
    const record: RecordedResource = { urn: key, type, name, custom: true, inputs: rawInputs, dependsOn: [] };
    const problems = validateRecordedResources([record]);
    if (problems.length > 0) throw new Error(`the replay cannot realise ${key}:\n  ${problems.join("\n  ")}`);
    const dependsOn = customKeysOf(meta.dependencies);
    let old = this.oldEntry(meta);
    if (old !== undefined && old.key !== key) {
      // An alias: the engine continues the old resource under its new URN.
      this.state.delete(old.key);
      for (const e of this.state.values()) e.dependsOn = e.dependsOn.map((d) => (d === old!.key ? key : d));
      old = { ...old, key, urn: key };
      this.state.set(key, old);
    }
    const skipped = this.options.skip?.(type, name) === true;
    const inputs = this.withIgnored(meta, old, rawInputs);

    let op: StepOp;
    let callsUpdate = false;
    if (old === undefined) op = this.deletedAsDependents.has(key) ? "replace" : "create";
    else if (forceReplace || old.provider !== provider) op = "replace";
    else {
      const { changed, replaceKeys } = diffResource(type, old, inputs, meta.ignoreChanges);
      if (changed.length > 0) this.docker.log(`${name}: changed ${changed.join(", ")}`);
      if (replaceKeys.length > 0) op = "replace";
      else if (changed.length > 0 || old.initErrors) {
        op = "update";
        callsUpdate = changed.some((c) => CONTAINER_UPDATE_CALLS.includes(c.split(" ")[0]));
      } else op = "same";
    }

    let entry: StateEntry;
    if (op === "same") {
      entry = { ...old!, dependsOn, retainOnDelete: meta.retainOnDelete };
    } else if (op === "update") {
      // The provider's update: restart/limits reach Docker (ContainerUpdate), the rest is state.
      // The engine also "updates" a resource saved with initErrors (no diff needed); the
      // provider's update does nothing for it, and a successful update clears the errors.
      const outputs = { ...old!.outputs };
      if (callsUpdate && !skipped) await this.dockerOf(old!).updateContainer(old!.id, inputs);
      // The update reads nothing back: the state takes the planned values.
      if (type === CONTAINER_TYPE) Object.assign(outputs, { restart: inputs.restart ?? "no", maxRetryCount: inputs.maxRetryCount ?? 0 });
      entry = { ...old!, inputs, outputs, dependsOn, retainOnDelete: meta.retainOnDelete, initErrors: undefined };
    } else {
      if (op === "replace" && old !== undefined) {
        if (!meta.deleteBeforeReplace) {
          throw new Error(`${key}: replacing it would create the new one before deleting the old, and its name is fixed; set deleteBeforeReplace`);
        }
        // The engine deletes the dependents of a delete-before-replace first (they are replaced
        // too); Docker would refuse to remove a network with containers attached. Here every
        // dependent is taken as replaced; the preview check catches it when the engine would not.
        const dependents = this.dependentsOf(key);
        for (const k of dependents) this.deletedAsDependents.add(k);
        await this.deleteAll(dependents, { silent: true });
        await this.deleteOne(old);
      }
      let created: { id: string; outputs: Record<string, unknown> };
      try {
        created = skipped ? { id: `skipped-${name}`, outputs: {} } : await this.create(type, record, this.dockerOf({ provider }));
      } catch (e) {
        if (e instanceof PartialCreateError) {
          this.state.set(key, { key, urn: key, type, name, inputs, id: e.id, outputs: {}, dependsOn, retainOnDelete: meta.retainOnDelete, ...(provider === undefined ? {} : { provider }), initErrors: [e.message] });
          this.steps.push({ op, type, name });
          this.docker.log(`${op} ${name} failed; saved with initErrors`);
        }
        throw e;
      }
      entry = { key, urn: key, type, name, inputs, id: created.id, outputs: created.outputs, dependsOn, retainOnDelete: meta.retainOnDelete, ...(provider === undefined ? {} : { provider }) };
    }
    this.state.set(key, entry);
    this.steps.push({ op, type, name });
    this.docker.log(`${op} ${name}`);
    return { id: entry.id, state: { ...inputs, ...entry.outputs } };
  }

  /**
   * A `docker.Provider`: its engine's replay is looked up by its `host` (and kept under its name,
   * which is the id the SDK puts in its dependents' provider references). No Docker call.
   */
  private declareProvider(name: string, inputs: Record<string, PlainValue>): { id: string | undefined; state: Record<string, unknown> } {
    const host = inputs.host;
    if (typeof host !== "string" || host === UNKNOWN) throw new Error(`provider ${name}: the replay needs its host known at registration, got ${JSON.stringify(host)}`);
    if (this.options.engineForProvider === undefined) throw new Error(`provider ${name} (${host}): the replay was given no engineForProvider`);
    // The id names the engine too: a provider moved to another engine is another provider, so its
    // resources are replaced (created on the new engine, deleted from the old one), never lost track of.
    // Known even in a preview (the engine's would be unknown for a new provider): dependents route by it.
    const id = `${name}@${host}`;
    if (!this.providers.has(id)) this.providers.set(id, this.options.engineForProvider(host, name));
    return { id, state: inputs };
  }

  /** The provider (its name) a resource's provider reference `<urn>::<id>` names; undefined for the default provider. */
  private providerOf(urn: string, reference: string | undefined): string | undefined {
    if (reference === undefined || reference === "") return undefined;
    const cut = reference.lastIndexOf("::");
    const providerUrn = reference.slice(0, cut);
    if (providerUrn.endsWith(`::${PROVIDER_TYPE}::default`) || /::default_[0-9_]+$/.test(providerUrn)) return undefined;
    const id = reference.slice(cut + 2);
    if (!this.providers.has(id)) throw new Error(`${urn}: its provider ${reference} is not a docker provider the replay knows`);
    return id;
  }

  /** The engine's replay of a resource: its provider's, or the default engine's. */
  private dockerOf(entry: { provider?: string }): DockerReplay {
    if (entry.provider === undefined) return this.docker;
    const found = this.providers.get(entry.provider);
    if (found === undefined) throw new Error(`provider ${entry.provider}: not declared in this run of the program, so its engine is unknown`);
    return found;
  }

  /** URNs of the custom resources behind `urns`: a component stands for its custom descendants, as in the engine. */
  private customKeys(urns: string[]): string[] {
    const declared = this.liveDeclared;
    const expand = (urn: string): string[] => {
      const m = declared.get(urn);
      if (m === undefined) return this.state.has(urn) ? [urn] : [];
      if (m.custom) return [urn];
      return [...declared.values()].filter((c) => c.parent === urn).flatMap((c) => expand(c.urn));
    };
    return [...new Set(urns.flatMap(expand))];
  }

  private async create(type: string, r: RecordedResource, docker: DockerReplay): Promise<{ id: string; outputs: Record<string, unknown> }> {
    switch (type) {
      case IMAGE_TYPE: {
        const id = await docker.imageId(r);
        return { id: `${id}${String(r.inputs.name)}`, outputs: { imageId: id, repoDigest: id } };
      }
      case NETWORK_TYPE:
        return { id: await docker.createNetwork(r), outputs: {} };
      case VOLUME_TYPE: {
        const name = await docker.createVolume(r);
        return { id: name, outputs: { name } };
      }
      case CONTAINER_TYPE: {
        const applied: AppliedContainer = await docker.createContainer(r);
        const outputs: Record<string, unknown> = { ...applied.readBack };
        if (applied.exitCode !== undefined) outputs.exitCode = applied.exitCode;
        if (applied.logs !== undefined) outputs.containerLogs = applied.logs;
        return { id: applied.id, outputs };
      }
      default:
        throw new Error(`resource type ${type} is not supported by the replay`);
    }
  }

  private async deleteOne(entry: StateEntry): Promise<void> {
    if (!entry.id.startsWith("skipped-")) {
      const docker = this.dockerOf(entry);
      switch (entry.type) {
        case CONTAINER_TYPE:
          await docker.deleteContainer(entry.id, entry.inputs);
          break;
        case NETWORK_TYPE:
          await docker.deleteNetwork(entry.id);
          break;
        case VOLUME_TYPE:
          await docker.deleteVolume(entry.id);
          break;
        case IMAGE_TYPE:
          if (entry.inputs.keepLocally !== true) throw new Error(`${entry.name}: the replay never removes images (set keepLocally)`);
          break;
      }
    }
    this.state.delete(entry.key);
  }

  /** Keys of the state entries that depend on `key`, directly or not. */
  private dependentsOf(key: string): string[] {
    const found = new Set<string>();
    const visit = (k: string): void => {
      for (const e of this.state.values()) {
        if (e.dependsOn.includes(k) && !found.has(e.key)) {
          found.add(e.key);
          visit(e.key);
        }
      }
    };
    visit(key);
    return [...found];
  }

  /** Deletes `keys` dependents first (reverse dependency order); retainOnDelete ones only leave the state. */
  private async deleteAll(keys: string[], opts: { silent?: boolean } = {}): Promise<void> {
    const pending = new Set(keys);
    while (pending.size > 0) {
      // Deletable now: nothing still in the state depends on it.
      const ready = [...pending].filter((k) => ![...this.state.values()].some((e) => e.key !== k && e.dependsOn.includes(k)));
      if (ready.length === 0) throw new Error(`cannot order the deletion of ${[...pending].join(", ")}: something still depends on them`);
      await Promise.all(
        ready.map(async (k) => {
          pending.delete(k);
          // Concurrent replacements may share a dependent (the job depends on every node): delete it once.
          const running = this.deleting.get(k);
          if (running) return running;
          const entry = this.state.get(k);
          if (entry === undefined) return;
          if (entry.retainOnDelete) {
            this.state.delete(k);
            this.steps.push({ op: "retain", type: entry.type, name: entry.name });
            return;
          }
          const deletion = this.deleteOne(entry).finally(() => this.deleting.delete(k));
          this.deleting.set(k, deletion);
          await deletion;
          if (!opts.silent) this.steps.push({ op: "delete", type: entry.type, name: entry.name });
        }),
      );
    }
  }

  /**
   * `pulumi refresh`: the provider's reads. A container that is gone leaves the state; one that
   * stopped while `mustRun` is set is deleted by the read (and leaves the state); a volume or
   * network that is gone leaves the state.
   */
  async refresh(): Promise<Step[]> {
    this.steps = [];
    for (const entry of [...this.state.values()]) {
      if (entry.id.startsWith("skipped-")) continue;
      let gone = false;
      const docker = this.dockerOf(entry);
      if (entry.type === CONTAINER_TYPE) {
        const found = await docker.inspectIfExists(entry.id);
        if (found === undefined) gone = true;
        else if (!found.State.Running && entry.inputs.mustRun !== false) {
          await docker.deleteContainer(entry.id, entry.inputs);
          gone = true;
        } else {
          if (!found.State.Running) entry.outputs.exitCode = found.State.ExitCode;
          Object.assign(entry.outputs, readBackOf(found));
        }
      } else if (entry.type === VOLUME_TYPE) {
        gone = !(await docker.volumeExists(entry.id));
      } else if (entry.type === NETWORK_TYPE) {
        gone = !(await docker.networkExists(entry.id));
      }
      if (gone) {
        this.state.delete(entry.key);
        this.steps.push({ op: "gone", type: entry.type, name: entry.name });
      }
    }
    return this.steps;
  }

  /** `pulumi destroy`. */
  async destroy(): Promise<Step[]> {
    this.steps = [];
    await this.deleteAll([...this.state.keys()]);
    return this.steps;
  }

  /** The state entry of a resource by its Pulumi name. */
  entry(name: string): StateEntry {
    const found = [...this.state.values()].filter((e) => e.name === name);
    if (found.length !== 1) throw new Error(`no single resource named ${name} in the replay's state`);
    return found[0];
  }
}
