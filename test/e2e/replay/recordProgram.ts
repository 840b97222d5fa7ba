/**
 * Runs a Pulumi program under `pulumi.runtime.setMocks` and records every resource it
 * registers the way the engine would see it: type, name, inputs (secrets unwrapped to plain
 * values) and dependencies (explicit `dependsOn` plus the implicit ones from Output inputs,
 * i.e. what `pulumi up` orders its steps by). Also resolves the program's exports.
 */
import * as pulumi from "@pulumi/pulumi";
import { mockImageId, valueOf, waitForRegistrations, withTimeout, type RegisterRequestLike } from "../../support/pulumiMocks";

/** A plain JSON-like value: what the replay gets after unwrapping secrets. */
export type PlainValue = string | number | boolean | null | PlainValue[] | { [key: string]: PlainValue };

export interface RecordedResource {
  urn: string;
  type: string;
  /** The Pulumi resource name (not the Docker name). */
  name: string;
  custom: boolean;
  parentUrn?: string;
  inputs: Record<string, PlainValue>;
  /** URNs of the custom resources this one depends on (components expanded to their custom children). */
  dependsOn: string[];
}

export interface RecordedProgram {
  resources: RecordedResource[];
  /** The program's exports, deeply resolved, secrets unwrapped. */
  exports: PlainValue | undefined;
}

/**
 * Outputs the recording mocks give back: the values later resources may read from earlier ones.
 * A one-shot (`attach`) container reads as a successful run, so the program registers everything.
 */
function mockState(
  type: string,
  name: string,
  inputs: Record<string, unknown>,
): { id: string; state: Record<string, unknown> } {
  switch (type) {
    case "docker:index/network:Network": {
      // The Docker API accepts a network's name wherever it wants its id.
      const dockerName = String(inputs.name ?? name);
      return { id: dockerName, state: { ...inputs, name: dockerName } };
    }
    case "docker:index/remoteImage:RemoteImage": {
      // Docker's shape of an image id (`sha256:` + 64 hex), as the provider reports it.
      const ref = String(inputs.name);
      const imageId = mockImageId(ref);
      return { id: `${imageId}${ref}`, state: { ...inputs, imageId, repoDigest: `${ref}@${imageId}` } };
    }
    case "docker:index/container:Container": {
      const dockerName = String(inputs.name ?? name);
      const state: Record<string, unknown> = { ...inputs, name: dockerName };
      if (inputs.attach === true) {
        state.exitCode = 0;
        state.containerLogs = "";
      }
      return { id: dockerName, state };
    }
    default:
      return { id: `${name}-id`, state: { ...inputs } };
  }
}

const UNKNOWN_SENTINEL = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

/** Unwraps Pulumi's secret envelopes; any other special value (unknowns, resource refs) is an error. */
export function toPlain(value: unknown, where: string, unknownAs?: string): PlainValue {
  if (value === null || value === undefined) return null;
  // A preview's unknown (pulumi.unknown after deserialising): the caller says how to show it.
  if (pulumi.isUnknown(value)) {
    if (unknownAs !== undefined) return unknownAs;
    throw new Error(`${where}: value is unknown at registration time; the replay needs every input known`);
  }
  if (typeof value === "string") {
    if (value === UNKNOWN_SENTINEL) throw new Error(`${where}: value is unknown at registration time; the replay needs every input known`);
    return value;
  }
  if (typeof value === "number" || typeof value === "boolean") return value;
  if (Array.isArray(value)) return value.map((v, i) => toPlain(v, `${where}[${i}]`, unknownAs));
  if (typeof value === "object") {
    const obj = value as Record<string, unknown>;
    const sig = obj[pulumi.runtime.specialSigKey];
    if (sig === pulumi.runtime.specialSecretSig) return toPlain(obj.value, where, unknownAs);
    if (sig !== undefined) throw new Error(`${where}: special Pulumi value (signature ${String(sig)}) the replay does not understand`);
    const out: Record<string, PlainValue> = {};
    for (const [k, v] of Object.entries(obj)) {
      if (v !== undefined) out[k] = toPlain(v, `${where}.${k}`, unknownAs);
    }
    return out;
  }
  throw new Error(`${where}: value of type ${typeof value} is not plain data`);
}

interface RegisterResponseLike {
  getUrn(): string;
}
type RegisterCallback = (err: unknown, resp?: RegisterResponseLike) => void;
interface MonitorLike {
  registerResource(req: RegisterRequestLike, cb: RegisterCallback): void;
}

/** Pulumi's own "all outstanding resource RPCs are done" wait (what the language host awaits before exit). */
/**
 * Runs `program` under mocks (project/stack as given) and records what it registers.
 * The previously installed mock monitor (another test file's) is restored afterwards.
 */
export async function recordProgram(
  program: () => unknown,
  options: {
    project: string;
    stack: string;
    timeoutMs?: number;
  },
): Promise<RecordedProgram> {
  const previousMonitor = pulumi.runtime.hasMonitor() ? pulumi.runtime.getMonitor() : undefined;
  const previousProject = pulumi.runtime.getProject();
  const previousStack = pulumi.runtime.getStack();

  await pulumi.runtime.setMocks(
    {
      newResource: async (args) =>
        mockState(args.type, args.name, args.inputs as Record<string, unknown>),
      call: async (args) => {
        throw new Error(`the replay does not support provider function calls (invoke ${args.token})`);
      },
    },
    options.project,
    options.stack,
    false,
  );

  const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike;
  const original = monitor.registerResource.bind(monitor);
  const registered: Array<Omit<RecordedResource, "dependsOn"> & { rawDependencies: string[] }> = [];
  const registrationErrors: string[] = [];
  monitor.registerResource = (req, cb) => {
    original(req, (err, resp) => {
      if (!err && resp) {
        try {
          const inputs = toPlain(
            pulumi.runtime.deserializeProperties(req.getObject() as Parameters<typeof pulumi.runtime.deserializeProperties>[0]),
            `${req.getType()} ${req.getName()}`,
          );
          registered.push({
            urn: resp.getUrn(),
            type: req.getType(),
            name: req.getName(),
            custom: req.getCustom(),
            parentUrn: req.getParent() || undefined,
            inputs: inputs as Record<string, PlainValue>,
            rawDependencies: req.getDependenciesList(),
          });
        } catch (e) {
          registrationErrors.push((e as Error).message);
        }
      }
      cb(err, resp);
    });
  };

  try {
    const { outcome, unhandled } = await runProgramToEnd(program, options.timeoutMs ?? 30_000, "running the Pulumi program under mocks");
    // `pulumi up` fails when an export rejects; so does the replay, with the program's message.
    if (!outcome.ok) throw outcome.error;
    const exported = outcome.value;
    if (unhandled.length > 0) throw unhandled[0];
    if (registrationErrors.length > 0) throw new Error(`cannot replay the program:\n  ${registrationErrors.join("\n  ")}`);

    // Components stand for their custom descendants, as the engine treats `dependsOn: [component]`.
    const byUrn = new Map(registered.map((r) => [r.urn, r]));
    const customDescendants = (urn: string): string[] => {
      const r = byUrn.get(urn);
      if (r?.custom) return [urn];
      return registered.filter((c) => c.parentUrn === urn).flatMap((c) => customDescendants(c.urn));
    };
    const resources: RecordedResource[] = registered.map(({ rawDependencies, ...r }) => ({
      ...r,
      dependsOn: [...new Set(rawDependencies.flatMap(customDescendants))].filter((u) => u !== r.urn),
    }));
    return { resources, exports: exported === undefined ? undefined : toPlain(exported, "exports") };
  } finally {
    monitor.registerResource = original;
    if (previousMonitor !== undefined) pulumi.runtime.setMockOptions(previousMonitor, previousProject, previousStack);
  }
}

export type ProgramOutcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Runs a Pulumi program under the installed mocks until every registration is done and its
 * exports have settled (bounded), as the language host does. Rejections nobody handled (e.g. a
 * component's registerOutputs of a failed check) fail an update; they are collected, not
 * allowed to crash the test process.
 */
export async function runProgramToEnd(
  program: () => unknown,
  timeoutMs: number,
  what: string,
): Promise<{ outcome: ProgramOutcome; unhandled: unknown[] }> {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  process.on("unhandledRejection", onUnhandled);
  try {
    const outcome = await withTimeout(
      (async (): Promise<ProgramOutcome> => {
        const result = await program();
        const settled = valueOf(pulumi.output(result as pulumi.Input<unknown>), 2 ** 31 - 1).then(
          (value): ProgramOutcome => ({ ok: true, value }),
          (error: unknown): ProgramOutcome => ({ ok: false, error }),
        );
        await waitForRegistrations();
        return settled;
      })(),
      timeoutMs,
      what,
    );
    await new Promise((resolve) => setImmediate(resolve));
    return { outcome, unhandled };
  } finally {
    // Late rejections of this run are still this run's: keep collecting them for a moment.
    setTimeout(() => process.removeListener("unhandledRejection", onUnhandled), 2000).unref();
  }
}
