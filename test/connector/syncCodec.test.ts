/**
 * The sync facade's reply codec on error shapes ioredis really produces: a failed MULTI whose
 * connection closed rejects every command with one Error object, so that error's
 * `previousErrors` contains the error itself (this once overflowed the stack and killed the worker).
 */
import { expect } from "chai";
import { ReplyError } from "ioredis";
import { Reader, Writer } from "../../connector/src/sync/codec";
import { makeErrorReviver } from "../../connector/src/sync/errorRevival";

function roundTrip(value: unknown): unknown {
  const writer = new Writer(Buffer.alloc(64 * 1024));
  writer.value(value);
  return new Reader(writer.buf.subarray(0, writer.pos), makeErrorReviver(1000)).value();
}

describe("sync codec: errors", function () {
  it("encodes an error that lists itself among its previousErrors, keeping class, message and the other errors", function () {
    const closed = new Error("Connection is closed.");
    const moved = new ReplyError("MOVED 3999 127.0.0.1:7002") as Error;
    Object.assign(closed, { previousErrors: [closed, moved, closed] });

    const decoded = roundTrip(closed) as Error & { previousErrors: Array<Error & { previousErrors?: unknown }> };
    expect(decoded).to.be.instanceOf(Error);
    expect(decoded.message).to.equal("Connection is closed.");
    expect(decoded.previousErrors.map((e) => e.message)).to.deep.equal(["Connection is closed.", "MOVED 3999 127.0.0.1:7002", "Connection is closed."]);
    expect(decoded.previousErrors[1]).to.be.instanceOf(ReplyError);
    // The inner copy of the error carries no properties: no cycle to follow.
    expect(decoded.previousErrors[0].previousErrors).to.equal(undefined);
  });

  it("encodes errors nested in each other's properties both ways (a -> b -> a)", function () {
    const a = new Error("a");
    const b = new Error("b");
    Object.assign(a, { lastNodeError: b });
    Object.assign(b, { lastNodeError: a });
    const decoded = roundTrip([a]) as Array<Error & { lastNodeError: Error & { lastNodeError: Error & { lastNodeError?: unknown } } }>;
    expect(decoded[0].lastNodeError.message).to.equal("b");
    expect(decoded[0].lastNodeError.lastNodeError.message).to.equal("a");
    expect(decoded[0].lastNodeError.lastNodeError.lastNodeError).to.equal(undefined);
  });
});
