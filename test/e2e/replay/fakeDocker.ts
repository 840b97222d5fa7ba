/**
 * A DockerReplay that records instead of calling an engine, for tests of the replay's engine
 * logic (preview, diff, URNs, aliases) that need no Docker. What its "read" stores is set by
 * the test (`daemon`), as a daemon's defaults would be.
 */
import { DockerEngine } from "./dockerEngine";
import { DockerReplay, type AppliedContainer, type ContainerInspect, type ContainerReadBack } from "./applyToDocker";
import type { PlainValue, RecordedResource } from "./recordProgram";

export class FakeDocker extends DockerReplay {
  /** What the fake daemon merges into every container it creates. */
  daemon: Partial<ContainerReadBack> = {};
  readonly calls: string[] = [];
  private next = 0;

  constructor() {
    super(new DockerEngine("/nonexistent/fake-docker.sock"), { runId: "fake", attachTimeoutMs: 1000 });
  }

  private id(prefix: string): string {
    this.next += 1;
    return `${prefix}-${this.next}`;
  }

  override async imageId(r: RecordedResource): Promise<string> {
    return `sha256:${"0".repeat(63)}${String(r.inputs.name).length % 10}`;
  }
  override async createNetwork(r: RecordedResource): Promise<string> {
    this.calls.push(`create network ${r.name}`);
    return this.id("net");
  }
  override async deleteNetwork(id: string): Promise<void> {
    this.calls.push(`delete network ${id}`);
  }
  override async createVolume(r: RecordedResource): Promise<string> {
    this.calls.push(`create volume ${r.name}`);
    return String(r.inputs.name);
  }
  override async deleteVolume(name: string): Promise<void> {
    this.calls.push(`delete volume ${name}`);
  }
  override async createContainer(r: RecordedResource): Promise<AppliedContainer> {
    this.calls.push(`create container ${r.name}`);
    const attach = r.inputs.attach === true;
    return {
      resourceName: r.name,
      dockerName: String(r.inputs.name),
      id: this.id("ctr"),
      exitCode: attach ? 0 : undefined,
      logs: attach ? "bootstrap: cluster ready\n" : undefined,
      readBack: {
        logDriver: (r.inputs.logDriver as string | undefined) ?? "json-file",
        logOpts: { ...this.daemon.logOpts, ...((r.inputs.logOpts as Record<string, string> | undefined) ?? {}) },
        ulimits: this.daemon.ulimits ?? [],
        restart: (r.inputs.restart as string | undefined) ?? "no",
        maxRetryCount: Number(r.inputs.maxRetryCount ?? 0),
        ports: [],
        networkData: [],
        mounts: [],
      },
      elapsedMs: 0,
    };
  }
  override async updateContainer(id: string, inputs: Record<string, PlainValue>): Promise<void> {
    this.calls.push(`update container ${String(inputs.name)} restart=${String(inputs.restart)}`);
  }
  override async deleteContainer(id: string, inputs: Record<string, PlainValue>): Promise<void> {
    this.calls.push(`delete container ${String(inputs.name)}`);
  }
  override async inspect(idOrName: string): Promise<ContainerInspect> {
    throw new Error(`FakeDocker cannot inspect ${idOrName}`);
  }
}
