/**
 * Child process that runs the sync workload with the connector's blocking client. It is a
 * separate process because a blocking call would also stall the async load running in the
 * test process. The config (with the password) arrives over IPC, never on the command line.
 *
 * Protocol (advanced serialization): parent -> {type: "start", config, spec} then {type: "stop"};
 * child -> {type: "ready"}, {type: "record", record} per call, {type: "done", attempts},
 * or {type: "fatal", error}.
 */
import { createClient, type ConnectorConfig } from "@redis-on-docker/connector";
import { SyncWorkloadStepper, describeError, type CallRecord, type WorkloadSpec } from "./workload";
import { syncKeyValue } from "./keyValue";

export type ParentMessage = { type: "start"; config: ConnectorConfig; spec: WorkloadSpec } | { type: "stop" };
export type ChildMessage =
  | { type: "ready" }
  | { type: "record"; record: CallRecord }
  | { type: "done"; attempts: number }
  | { type: "fatal"; error: string };

function send(message: ChildMessage): void {
  process.send?.(message);
}

let stopRequested = false;

// The parent went away without asking us to stop (killed, crashed): do not linger.
process.on("disconnect", () => {
  if (!stopRequested) process.exit(1);
});

async function run(config: ConnectorConfig, spec: WorkloadSpec): Promise<void> {
  const client = createClient({ ...config, form: "sync" as const });
  let attempts = 0;
  try {
    send({ type: "ready" });
    const stepper = new SyncWorkloadStepper(syncKeyValue(client), spec);
    while (!stopRequested) {
      attempts++;
      send({ type: "record", record: stepper.step() });
      // Yielding between calls lets IPC messages (stop) in and paces the load.
      await new Promise((resolve) => setTimeout(resolve, spec.pauseMs));
    }
  } finally {
    client.close();
  }
  send({ type: "done", attempts });
  process.disconnect?.();
}

process.on("message", (message: ParentMessage) => {
  if (message.type === "stop") {
    stopRequested = true;
    return;
  }
  run(message.config, message.spec).catch((error: unknown) => {
    send({ type: "fatal", error: describeError(error) });
    process.disconnect?.();
  });
});
