import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import { DAEMON_FILLED_CONTAINER_INPUTS } from "./daemonDefaults";
import { BOOTSTRAP_PASSWORD_PATH, BOOTSTRAP_SCRIPT_PATH, type BootstrapPlan } from "@redis-on-docker/topology";

/** Lines of the job's output quoted in the error when it fails. */
const LOG_TAIL_LINES = 40;

export interface RedisClusterBootstrapArgs {
  /** The job from the topology plan: name, node addresses, command, script. */
  plan: BootstrapPlan;
  imageId: pulumi.Input<string>;
  networkName: pulumi.Input<string>;
  password?: pulumi.Input<string>;
  /** The node containers; the job starts after all of them, and runs again when any is replaced. */
  nodeContainers: docker.Container[];
}

/**
 * The one-shot job that forms the cluster: a container running the bootstrap script, attached
 * until it exits. The Docker provider records a non-zero exit code without failing, so
 * `exitCode` is checked here: it rejects, and with it every output that depends on it (the
 * stack's `cluster` export), which fails `pulumi up`.
 */
export class RedisClusterBootstrap extends pulumi.ComponentResource {
  readonly container: docker.Container;
  /** The job's exit code, once it is 0; rejects with the job's output otherwise. */
  readonly exitCode: pulumi.Output<number>;

  constructor(name: string, args: RedisClusterBootstrapArgs, opts?: pulumi.ComponentResourceOptions) {
    super("redis-on-docker:index:RedisClusterBootstrap", name, {}, opts);
    const { plan } = args;
    this.container = new docker.Container(
      plan.name,
      {
        name: plan.name,
        image: args.imageId,
        command: plan.command,
        networksAdvanced: [{ name: args.networkName }],
        uploads: [
          { file: BOOTSTRAP_SCRIPT_PATH, content: plan.script, permissions: "0755" },
          // The provider rejects an upload with empty content; without a password the script
          // finds no file and runs redis-cli without auth.
          ...(args.password === undefined
            ? []
            : [{ file: BOOTSTRAP_PASSWORD_PATH, content: pulumi.secret(args.password), permissions: "0600" }]),
        ],
        // A job, not a service: must not be restarted or required to keep running; wait for its end
        // and keep its output. Not `rm`: it breaks together with `attach`.
        mustRun: false,
        attach: true,
        logs: true,
        // With a TTY, Docker's log stream is the raw output. Without one it is multiplexed: every
        // write gets an 8-byte frame header, which the provider (v3.9.0 reads the stream with a
        // line scanner, no demultiplexing) keeps in containerLogs; a header of a write of 128+
        // bytes holds a byte >= 0x80, invalid UTF-8 that the Pulumi engine's gRPC refuses.
        tty: true,
        restart: "no",
        rm: false,
        // The provider reads the job's logs back (`logs: true`) and panics when it cannot, e.g. on a
        // daemon whose default log driver is `none` or a remote-only one: use one Docker can read.
        logDriver: "json-file",
        // Replacing a node gives it a new ID; the changed label replaces (re-runs) the job.
        labels: [
          {
            label: "redis-on-docker.cluster-node-ids",
            value: pulumi.all(args.nodeContainers.map((c) => c.id)).apply((ids) => ids.join(",")),
          },
        ],
      },
      { parent: this, dependsOn: args.nodeContainers, deleteBeforeReplace: true, ignoreChanges: DAEMON_FILLED_CONTAINER_INPUTS },
    );
    // Node containers by the address the job reaches them at (plan.nodes and nodeContainers share the plan's order).
    const nodeUrns = pulumi.all(args.nodeContainers.map((c) => c.urn));
    this.exitCode = pulumi
      .all([this.container.exitCode, this.container.containerLogs, this.container.urn, nodeUrns])
      .apply(([exitCode, logs, urn, urns]) =>
        checkBootstrapExit(plan.name, exitCode, logs, urn, plan.nodes.map((n, i) => ({ address: `${n.host}:${n.port}`, urn: urns[i] ?? "" }))),
      );
    this.registerOutputs({ exitCode: this.exitCode });
  }
}

/**
 * Throws unless the job exited 0; the message carries the tail of its output and how to re-run it.
 * A `pulumi.RunError`: the CLI shows its message alone, without a stack trace of this program.
 */
export function checkBootstrapExit(
  jobName: string,
  exitCode: number | undefined,
  logs: string | undefined,
  urn: string,
  nodes: Array<{ address: string; urn: string }> = [],
): number {
  if (exitCode === 0) return 0;
  const lines = printableLines(logs ?? "");
  const tail = lines.slice(-LOG_TAIL_LINES).join("\n");
  const status = exitCode === undefined || exitCode === null ? "did not report an exit code" : `exited with code ${exitCode}`;
  // A node that never answers is most often one whose create failed in an earlier `pulumi up`
  // (host port taken, not healthy in time): the engine keeps it with an init error, and a plain
  // `pulumi up` only "updates" it, which the provider does as a no-op. Replacing it retries the create.
  const silent = nodes.filter((n) => lines.some((l) => l.includes(`node ${n.address} did not answer PING`)));
  const fix =
    silent.length > 0
      ? `Node container(s) ${silent.map((n) => n.address).join(", ")} never answered. If an earlier \`pulumi up\` failed creating ` +
        `them (host port already in use, not healthy within the wait), a plain \`pulumi up\` does not create them again. ` +
        `Fix the cause (see docker logs <container>), then run:\n  pulumi up ${silent.map((n) => `--replace '${n.urn}'`).join(" ")}`
      : `Fix the cause, then run it again with: pulumi up --replace '${urn}'`;
  throw new pulumi.RunError(
    `cluster bootstrap job ${jobName} ${status}; the cluster is not formed.\n` +
      `Last output of the job:\n${tail === "" ? "(no output)" : tail}\n` + fix,
  );
}

/** The output's lines without CRs (a TTY writes CRLF) and control characters such as colour codes. */
function printableLines(text: string): string[] {
  const lines = text
    .replace(/\x1b\[[0-9;]*[A-Za-z]/g, "")
    .split(/\r?\n/)
    .map((line) => line.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, ""));
  while (lines.length > 0 && lines[lines.length - 1].trim() === "") lines.pop();
  return lines;
}
