/**
 * Runs Pulumi program code under `pulumi.runtime.setMocks` and records what reaches the engine:
 * each resource's type, name, inputs (with secret envelopes kept, so secrecy can be asserted)
 * and its dependency URNs (explicit `dependsOn` plus those implied by Output inputs).
 */
import { createHash } from "node:crypto";
import * as pulumi from "@pulumi/pulumi";

export interface RegisteredResource {
  urn: string;
  type: string;
  name: string;
  custom: boolean;
  parentUrn: string;
  /** Whether one of its aliases says "it used to have no parent" (sat at the stack root). */
  aliasedFromRoot: boolean;
  /** Provider reference (`<provider urn>::<provider id>`) the engine would use; "" for the default provider. */
  provider: string;
  /** Inputs as the engine receives them; secrets are `{ [specialSigKey]: specialSecretSig, value }`. */
  inputs: Record<string, unknown>;
  dependencies: string[];
  /** Resource options the engine acts on at delete/replace time. */
  retainOnDelete: boolean;
  deleteBeforeReplace: boolean;
}

export interface MockedRun<T> {
  result: T;
  resources: RegisteredResource[];
}

/** Mock outputs of a resource; `extraState` lets a test choose e.g. the bootstrap job's exit code. */
export type ExtraState = (type: string, name: string, inputs: Record<string, unknown>) => Record<string, unknown>;

/** The parts of the engine's RegisterResourceRequest the mock helpers read. */
export interface RegisterRequestLike {
  getType(): string;
  getName(): string;
  getCustom(): boolean;
  getParent(): string;
  getProvider(): string;
  getAliasesList(): Array<{ getSpec?(): { getNoparent(): boolean } | undefined }>;
  getDependenciesList(): string[];
  getObject(): unknown;
  getRetainondelete(): boolean | undefined;
  getDeletebeforereplace(): boolean;
}
type RegisterCallback = (err: unknown, resp?: { getUrn(): string }) => void;
interface MonitorLike {
  registerResource(req: RegisterRequestLike, cb: RegisterCallback): void;
}

/**
 * Fake image id, so a test can tell the container's image came from the RemoteImage; shaped like
 * Docker's (`sha256:` + 64 hex digits), as the provider reports it.
 */
export function mockImageId(reference: string): string {
  return `sha256:${createHash("sha256").update(`mock image ${reference}`).digest("hex")}`;
}

/** Sets up mocks with `config`, runs `program` (as `pulumi up`, or `preview`), and waits (bounded) until every registration is done. */
export async function runMocked<T>(
  program: () => T,
  options: { config?: Record<string, string>; secretKeys?: string[]; extraState?: ExtraState; stack?: string; preview?: boolean } = {},
): Promise<MockedRun<T>> {
  const byName = new Map<string, Record<string, unknown>>();
  await pulumi.runtime.setMocks(
    {
      newResource: (args) => {
        const inputs = args.inputs as Record<string, unknown>;
        byName.set(`${args.type}::${args.name}`, inputs);
        const extra = options.extraState?.(args.type, args.name, inputs) ?? {};
        const base: Record<string, unknown> =
          args.type === "docker:index/remoteImage:RemoteImage" ? { imageId: mockImageId(String(inputs.name)) } : {};
        return { id: `${args.name}-id`, state: { ...inputs, ...base, ...extra } };
      },
      call: (args) => {
        throw new Error(`unexpected provider function call ${args.token}`);
      },
    },
    "redis-on-docker",
    options.stack ?? "test",
    options.preview ?? false,
  );
  pulumi.runtime.setAllConfig(options.config ?? {}, options.secretKeys);

  const monitor = pulumi.runtime.getMonitor() as unknown as MonitorLike;
  const original = monitor.registerResource.bind(monitor);
  const pending: Array<Omit<RegisteredResource, "inputs"> & { key: string }> = [];
  monitor.registerResource = (req, cb) => {
    original(req, (err, resp) => {
      if (!err && resp) {
        pending.push({
          key: `${req.getType()}::${req.getName()}`,
          urn: resp.getUrn(),
          type: req.getType(),
          name: req.getName(),
          custom: req.getCustom(),
          parentUrn: req.getParent(),
          provider: req.getProvider(),
          aliasedFromRoot: req.getAliasesList().some((alias) => alias.getSpec?.()?.getNoparent() === true),
          dependencies: req.getDependenciesList(),
          retainOnDelete: req.getRetainondelete() === true,
          deleteBeforeReplace: req.getDeletebeforereplace(),
        });
      }
      cb(err, resp);
    });
  };

  const result = program();
  await withTimeout(waitForRegistrations(), 20000, "Pulumi resource registrations under mocks");
  const resources = pending.map(({ key, ...r }) => ({ ...r, inputs: byName.get(key) ?? {} }));
  return { result, resources };
}

/** Resolves an Output's value (bounded); rejects if the Output rejects. */
export function valueOf<T>(output: pulumi.Output<T>, timeoutMs = 10000): Promise<T> {
  return withTimeout(
    new Promise<T>((resolve, reject) => {
      // `promise()` is internal but is how an Output's rejection can be observed.
      const internal = output as unknown as { promise(withUnknowns?: boolean): Promise<T> };
      internal.promise().then(resolve, reject);
    }),
    timeoutMs,
    "resolving an Output",
  );
}

/** Strips secret envelopes: the plain value a provider would get. */
export function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    if (obj[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig) return plain(obj.value);
    return Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, plain(v)]));
  }
  return value;
}

/** Every string in `value` that is not inside a secret envelope. */
export function nonSecretStrings(value: unknown): string[] {
  if (isSecretEnvelope(value)) return [];
  if (typeof value === "string") return [value];
  if (Array.isArray(value)) return value.flatMap(nonSecretStrings);
  if (value !== null && typeof value === "object") return Object.values(value).flatMap(nonSecretStrings);
  return [];
}

/** Whether `value` is (or, for an array, is wrapped as) a secret envelope. */
export function isSecretEnvelope(value: unknown): boolean {
  return (
    value !== null &&
    typeof value === "object" &&
    (value as Record<string, unknown>)[pulumi.runtime.specialSigKey] === pulumi.runtime.specialSecretSig
  );
}

/** Waits until every resource registration the program started has reached the mock monitor. */
export function waitForRegistrations(): Promise<void> {
  // Internal in the typings but exported at run time; checked so that an SDK change fails loudly.
  const settings = require("@pulumi/pulumi/runtime/settings") as { waitForRPCs?: () => Promise<void> };
  if (typeof settings.waitForRPCs !== "function") {
    throw new Error("@pulumi/pulumi no longer exports runtime/settings.waitForRPCs; adapt test/support/pulumiMocks.ts (also used by the e2e replay)");
  }
  return settings.waitForRPCs();
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms} ms`)), ms);
    // Unref'd: a bound on a promise that never settles (a program whose outputs never settle after a
    // failed step) must not keep the test process alive after the suite; mocha's own test timeout
    // keeps the process up while a test waits.
    timer.unref();
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
