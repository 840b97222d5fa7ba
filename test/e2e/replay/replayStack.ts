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
 * deleted afterwards, and `retainOnDelete` ones are only dropped from the state.
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
  key: string;
  urn: string;
  type: string;
  name: string;
  inputs: Record<string, PlainValue>;
  /** Provider id: container id, network id, volume name, image id. */
  id: string;
  /** Outputs beyond the inputs (exitCode, containerLogs, imageId). */
  outputs: Record<string, unknown>;
  /** Keys of the custom resources this one depends on. */
  dependsOn: string[];
  retainOnDelete: boolean;
  /** Set when its create failed after the container existed: the engine's `initErrors`. */
  initErrors?: string[];
}

export type StepOp = "same" | "create" | "update" | "replace" | "delete" | "retain" | "gone";
export interface Step {
  op: StepOp;
  type: string;
  name: string;
}

/** Container inputs terraform-provider-docker v3.9.0 can change in place (no ForceNew); any other change replaces. */
const CONTAINER_UPDATABLE = new Set([
  "rm", "start", "wait", "waitTimeout", "attach", "logs", "mustRun", "restart", "maxRetryCount", "removeVolumes",
  "destroyGraceSeconds", "healthcheck", "init", "memory", "memoryReservation", "memorySwap", "cpuShares", "cpuSet",
  "containerReadRefreshTimeoutMilliseconds",
]);

/**
 * Container attributes the provider's read stores from Docker (see ContainerReadBack) and how its
 * diff treats them (resource_docker_container.go, v3.9.0): `log_opts` and `ulimit` are Optional +
 * ForceNew and not Computed, so a stored value the inputs do not repeat is a change that
 * replaces; `log_driver` is also Computed, so only a declared value that differs counts.
 */
const CONTAINER_READ_BACK: ReadonlyArray<{ key: "logOpts" | "logDriver" | "ulimits"; computed: boolean }> = [
  { key: "logOpts", computed: false },
  { key: "logDriver", computed: true },
  { key: "ulimits", computed: false },
];

interface RequestMeta {
  dependencies: string[];
  retainOnDelete: boolean;
  deleteBeforeReplace: boolean;
  ignoreChanges: string[];
  parent: string;
  custom: boolean;
}
interface RegisterRequestMeta {
  getType(): string;
  getName(): string;
  getCustom(): boolean;
  getParent(): string;
  getDependenciesList(): string[];
  getRetainondelete(): boolean | undefined;
  getDeletebeforereplace(): boolean;
  getIgnorechangesList(): string[];
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
}

export class ReplayStack {
  readonly state = new Map<string, StateEntry>();
  /** Steps of the last operation, in the order they finished. */
  steps: Step[] = [];
  /** Keys deleted during this up because a delete-before-replace needed them gone; their create is a replace. */
  private deletedAsDependents = new Set<string>();
  /** Deletions in flight, by key. */
  private readonly deleting = new Map<string, Promise<void>>();

  constructor(
    readonly docker: DockerReplay,
    readonly options: ReplayStackOptions,
  ) {}

  /** `pulumi up [--replace name...]`: returns the exports, or throws what `pulumi up` would report. */
  async up(program: () => unknown, opts: { replace?: string[] } = {}): Promise<PlainValue | undefined> {
    this.steps = [];
    this.deletedAsDependents = new Set();
    const metas = new Map<string, RequestMeta>();
    const urnToKey = new Map<string, string>();
    const declared = new Map<string, RequestMeta & { urn: string }>();
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

    const previousMonitor = pulumi.runtime.hasMonitor() ? pulumi.runtime.getMonitor() : undefined;
    const previousProject = pulumi.runtime.getProject();
    const previousStack = pulumi.runtime.getStack();
    await pulumi.runtime.setMocks(
      {
        newResource: async (args) => {
          const key = `${args.type}::${args.name}`;
          if (args.custom === false) return { id: undefined, state: {} };
          // The engine starts no new step once one has failed.
          if (stepErrors.length > 0) throw new Error(`${key}: not started, the update already failed`);
          const running = this.step(key, args.type, args.name, toPlain(args.inputs, key) as Record<string, PlainValue>, metas.get(key), (urns) => this.customKeys(urns, urnToKey, metas), forceReplace.has(args.name));
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
        call: async (args) => {
          throw new Error(`the replay does not support provider function calls (invoke ${args.token})`);
        },
      },
      this.options.project,
      this.options.stack,
      false,
    );
    const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike;
    const original = monitor.registerResource.bind(monitor);
    monitor.registerResource = (req, cb) => {
      const key = `${req.getType()}::${req.getName()}`;
      const meta: RequestMeta = {
        dependencies: req.getDependenciesList(),
        retainOnDelete: req.getRetainondelete() === true,
        deleteBeforeReplace: req.getDeletebeforereplace(),
        ignoreChanges: req.getIgnorechangesList(),
        parent: req.getParent(),
        custom: req.getCustom(),
      };
      metas.set(key, meta);
      original(req, (err, resp) => {
        if (resp) {
          urnToKey.set(resp.getUrn(), key);
          declared.set(key, { ...meta, urn: resp.getUrn() });
        }
        cb(err, resp);
      });
    };

    try {
      let ran: Awaited<ReturnType<typeof runProgramToEnd>>;
      try {
        ran = await Promise.race([runProgramToEnd(program, this.options.timeoutMs, "pulumi up (replayed)"), firstStepFailure]);
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
    } finally {
      monitor.registerResource = original;
      if (previousMonitor !== undefined) pulumi.runtime.setMockOptions(previousMonitor, previousProject, previousStack);
    }
  }

  /** Runs one resource's step and records it in the state; returns what the mocks hand back to the program. */
  private async step(
    key: string,
    type: string,
    name: string,
    inputs: Record<string, PlainValue>,
    meta: RequestMeta | undefined,
    customKeysOf: (urns: string[]) => string[],
    forceReplace: boolean,
  ): Promise<{ id: string; state: Record<string, unknown> }> {
    if (meta === undefined) throw new Error(`${key}: registered without passing the monitor`);
    const record: RecordedResource = { urn: key, type, name, custom: true, inputs, dependsOn: [] };
    const problems = validateRecordedResources([record]);
    if (problems.length > 0) throw new Error(`the replay cannot realise ${key}:\n  ${problems.join("\n  ")}`);
    const dependsOn = customKeysOf(meta.dependencies);
    const old = this.state.get(key);
    const skipped = this.options.skip?.(type, name) === true;
    // The engine's ignoreChanges: an ignored input keeps its old value (top-level keys only here).
    if (old !== undefined) {
      for (const k of meta.ignoreChanges) {
        if (k.includes(".") || k.includes("[")) throw new Error(`${key}: the replay handles top-level ignoreChanges only, not ${k}`);
        if (k in old.inputs) inputs[k] = old.inputs[k];
        else delete inputs[k];
      }
    }

    let op: StepOp;
    if (old === undefined) op = this.deletedAsDependents.has(key) ? "replace" : "create";
    else if (forceReplace) op = "replace";
    else if (this.readBackChanged(type, old, inputs, meta.ignoreChanges)) op = "replace";
    else if (isDeepStrictEqual(old.inputs, inputs)) op = old.initErrors ? "update" : "same";
    else op = this.changeKind(type, old.inputs, inputs);

    let entry: StateEntry;
    if (op === "same") {
      entry = { ...old!, dependsOn, retainOnDelete: meta.retainOnDelete };
    } else if (op === "update") {
      // The provider's update: only restart/limits reach Docker, the rest is state. The engine
      // also "updates" a resource saved with initErrors (no diff needed); the provider's update
      // does nothing for it, and a successful update clears the errors.
      entry = { ...old!, inputs, dependsOn, retainOnDelete: meta.retainOnDelete, initErrors: undefined };
    } else {
      if (op === "replace" && old !== undefined) {
        if (!meta.deleteBeforeReplace) {
          throw new Error(`${key}: replacing it would create the new one before deleting the old, and its name is fixed; set deleteBeforeReplace`);
        }
        // The engine deletes the dependents of a delete-before-replace first (they are replaced
        // too); Docker would refuse to remove a network with containers attached. Here every
        // dependent is taken as replaced, which is what a changed network means for containers.
        const dependents = this.dependentsOf(key);
        for (const k of dependents) this.deletedAsDependents.add(k);
        await this.deleteAll(dependents, { silent: true });
        await this.deleteOne(old);
      }
      let created: { id: string; outputs: Record<string, unknown> };
      try {
        created = skipped ? { id: `skipped-${name}`, outputs: {} } : await this.create(type, record);
      } catch (e) {
        if (e instanceof PartialCreateError) {
          this.state.set(key, { key, urn: key, type, name, inputs, id: e.id, outputs: {}, dependsOn, retainOnDelete: meta.retainOnDelete, initErrors: [e.message] });
          this.steps.push({ op, type, name });
          this.docker.log(`${op} ${name} failed; saved with initErrors`);
        }
        throw e;
      }
      entry = { key, urn: key, type, name, inputs, id: created.id, outputs: created.outputs, dependsOn, retainOnDelete: meta.retainOnDelete };
    }
    this.state.set(key, entry);
    this.steps.push({ op, type, name });
    this.docker.log(`${op} ${name}`);
    return { id: entry.id, state: { ...inputs, ...entry.outputs } };
  }

  /**
   * The provider's diff of its stored state (what its read got from Docker) against the new
   * inputs, for the attributes the daemon decides; `ignoreChanges` drops them from the diff as
   * the bridge does with the provider's own diff.
   */
  private readBackChanged(type: string, old: StateEntry, inputs: Record<string, PlainValue>, ignoreChanges: string[]): boolean {
    if (type !== CONTAINER_TYPE || old.id.startsWith("skipped-")) return false;
    for (const { key, computed } of CONTAINER_READ_BACK) {
      if (ignoreChanges.includes(key)) continue;
      const declared = inputs[key];
      if (computed && (declared === undefined || declared === null)) continue;
      const stored = old.outputs[key];
      // Terraform's SDK treats an absent map and an empty one alike.
      const empty = (v: unknown): boolean => v === undefined || v === null || v === "" || (typeof v === "object" && Object.keys(v as object).length === 0);
      if (empty(stored) && empty(declared)) continue;
      if (!isDeepStrictEqual(stored, declared)) {
        this.docker.log(`${old.name}: ${key} stored ${JSON.stringify(stored)} != declared ${JSON.stringify(declared ?? null)} (ForceNew)`);
        return true;
      }
    }
    return false;
  }

  private changeKind(type: string, before: Record<string, PlainValue>, after: Record<string, PlainValue>): StepOp {
    if (type !== CONTAINER_TYPE) return "replace";
    const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
    for (const k of keys) {
      if (!isDeepStrictEqual(before[k], after[k]) && !CONTAINER_UPDATABLE.has(k)) return "replace";
    }
    return "update";
  }

  /** Keys of the custom resources behind `urns`: a component stands for its custom descendants, as in the engine. */
  private customKeys(urns: string[], urnToKey: Map<string, string>, metas: Map<string, RequestMeta>): string[] {
    const keyToUrn = new Map([...urnToKey].map(([urn, key]) => [key, urn]));
    const expand = (urn: string): string[] => {
      const key = urnToKey.get(urn);
      if (key === undefined) return [];
      if (metas.get(key)?.custom) return [key];
      return [...metas].filter(([, m]) => m.parent === urn).flatMap(([k]) => expand(keyToUrn.get(k) ?? ""));
    };
    return [...new Set(urns.flatMap(expand))];
  }

  private async create(type: string, r: RecordedResource): Promise<{ id: string; outputs: Record<string, unknown> }> {
    switch (type) {
      case IMAGE_TYPE: {
        const id = await this.docker.imageId(r);
        return { id: `${id}${String(r.inputs.name)}`, outputs: { imageId: id, repoDigest: id } };
      }
      case NETWORK_TYPE:
        return { id: await this.docker.createNetwork(r), outputs: {} };
      case VOLUME_TYPE: {
        const name = await this.docker.createVolume(r);
        return { id: name, outputs: { name } };
      }
      case CONTAINER_TYPE: {
        const applied: AppliedContainer = await this.docker.createContainer(r);
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
      switch (entry.type) {
        case CONTAINER_TYPE:
          await this.docker.deleteContainer(entry.id, entry.inputs);
          break;
        case NETWORK_TYPE:
          await this.docker.deleteNetwork(entry.id);
          break;
        case VOLUME_TYPE:
          await this.docker.deleteVolume(entry.id);
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
      if (entry.type === CONTAINER_TYPE) {
        const found = await this.docker.inspectIfExists(entry.id);
        if (found === undefined) gone = true;
        else if (!found.State.Running && entry.inputs.mustRun !== false) {
          await this.docker.deleteContainer(entry.id, entry.inputs);
          gone = true;
        } else {
          if (!found.State.Running) entry.outputs.exitCode = found.State.ExitCode;
          Object.assign(entry.outputs, readBackOf(found));
        }
      } else if (entry.type === VOLUME_TYPE) {
        gone = !(await this.docker.volumeExists(entry.id));
      } else if (entry.type === NETWORK_TYPE) {
        gone = !(await this.docker.networkExists(entry.id));
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
