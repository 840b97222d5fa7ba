/**
 * `pulumi up` for the e2e test, without the Pulumi CLI: record the program's resources under
 * mocks, apply them to Docker, then run the program once more with the real results of its
 * one-shot containers (exit code, logs) so that its exports — and its own checks on those
 * results — behave as they would after a real update.
 */
import { isDeepStrictEqual } from "node:util";
import { ContainerExitError, type DockerReplay } from "./applyToDocker";
import { recordProgram, type ContainerResult, type PlainValue, type RecordedResource } from "./recordProgram";

/** The update failed the way `pulumi up` would report it: the program's own error, caused by a failed one-shot. */
export class ReplayUpdateError extends Error {
  constructor(
    message: string,
    readonly containerExit: ContainerExitError,
  ) {
    super(message);
    this.name = "ReplayUpdateError";
  }
}

export interface ProgramReplayResult {
  resources: RecordedResource[];
  /** The program's exports after the update (the stack outputs document). */
  exports: PlainValue | undefined;
}

export async function replayProgram(args: {
  program: () => unknown;
  project: string;
  stack: string;
  replay: DockerReplay;
  /** Resources from a previous recording, to apply again (a subset); records afresh when absent. */
  resources?: RecordedResource[];
}): Promise<ProgramReplayResult> {
  const { program, project, stack, replay } = args;
  const resources = args.resources ?? (await recordProgram(program, { project, stack })).resources;

  let containerExit: ContainerExitError | undefined;
  try {
    await replay.apply(resources);
  } catch (e) {
    if (!(e instanceof ContainerExitError)) throw e;
    containerExit = e;
  }

  const containerResults = new Map<string, ContainerResult>();
  for (const [name, applied] of replay.applied) {
    if (applied.exitCode !== undefined) containerResults.set(name, { exitCode: applied.exitCode, containerLogs: applied.logs ?? "" });
  }

  let second;
  try {
    second = await recordProgram(program, { project, stack, containerResults });
  } catch (e) {
    if (containerExit) throw new ReplayUpdateError((e as Error).message, containerExit);
    throw e;
  }
  if (containerExit) {
    throw new Error(
      `${containerExit.message}\n...but the program's exports still resolved: \`pulumi up\` would report success with an unformed cluster`,
    );
  }
  // The second pass must declare the same resources, or the replay applied something else.
  const shape = (rs: RecordedResource[]) => rs.map((r) => ({ type: r.type, name: r.name, inputs: r.inputs, dependsOn: r.dependsOn }));
  const sortByUrn = (rs: RecordedResource[]) => [...rs].sort((a, b) => a.urn.localeCompare(b.urn));
  const full = args.resources === undefined;
  if (full && !isDeepStrictEqual(shape(sortByUrn(resources)), shape(sortByUrn(second.resources)))) {
    throw new Error("the program declared different resources once it saw the one-shot containers' results; the replay cannot tell which to apply");
  }
  return { resources, exports: second.exports };
}
