/**
 * A minimal, bounded Redis request over one TCP connection, for the local runner's health
 * checks (is this *our* process answering, is the cluster ok). It speaks just enough RESP
 * for AUTH, PING, INFO and CLUSTER INFO; apps use the connector (ioredis) instead.
 */
import net from "node:net";

/** A reply from Redis: simple string, bulk string (null when nil) or integer. */
export type ProbeReply = string | number | null;

/** Redis answered with an error (`-ERR ...`, `-NOAUTH ...`, `-LOADING ...`). */
export class RedisReplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RedisReplyError";
  }
}

export interface ProbeOptions {
  host?: string;
  /** Sent with AUTH before the command when non-empty. */
  password?: string;
  /** Bound on connect + all replies. */
  timeoutMs: number;
}

function encodeCommand(args: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const arg of args) {
    const bytes = Buffer.from(arg, "utf8");
    parts.push(Buffer.from(`$${bytes.length}\r\n`), bytes, Buffer.from("\r\n"));
  }
  return Buffer.concat(parts);
}

/** Parses one reply from the start of `buffer`: the reply and its length, or undefined when incomplete. */
function parseReply(buffer: Buffer): { reply: ProbeReply | RedisReplyError; length: number } | undefined {
  const lineEnd = buffer.indexOf("\r\n");
  if (lineEnd === -1) return undefined;
  const line = buffer.toString("utf8", 1, lineEnd);
  switch (buffer[0]) {
    case 0x2b /* + */:
      return { reply: line, length: lineEnd + 2 };
    case 0x2d /* - */:
      return { reply: new RedisReplyError(line), length: lineEnd + 2 };
    case 0x3a /* : */:
      return { reply: Number(line), length: lineEnd + 2 };
    case 0x24 /* $ */: {
      const size = Number(line);
      if (size < 0) return { reply: null, length: lineEnd + 2 };
      const end = lineEnd + 2 + size;
      if (buffer.length < end + 2) return undefined;
      return { reply: buffer.toString("utf8", lineEnd + 2, end), length: end + 2 };
    }
    default:
      throw new Error(`unexpected reply type ${JSON.stringify(String.fromCharCode(buffer[0]))}`);
  }
}

/**
 * Sends `command` (after AUTH when a password is given) to `host:port` and resolves with its
 * reply. Rejects with `RedisReplyError` when Redis answers with an error (AUTH's included),
 * and with a plain Error on connection failure or when `timeoutMs` passes.
 */
export function probeRedis(port: number, command: string[], options: ProbeOptions): Promise<ProbeReply> {
  const host = options.host ?? "127.0.0.1";
  const commands = options.password ? [["AUTH", options.password], command] : [command];
  return new Promise((resolve, reject) => {
    const socket = net.createConnection({ host, port });
    const replies: Array<ProbeReply | RedisReplyError> = [];
    let pending = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | undefined, reply?: ProbeReply): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error) reject(error);
      else resolve(reply as ProbeReply);
    };
    socket.setTimeout(options.timeoutMs, () =>
      finish(new Error(`${host}:${port}: no reply to ${command[0]} within ${options.timeoutMs} ms`)),
    );
    socket.once("error", (error) => finish(new Error(`${host}:${port}: ${error.message}`)));
    socket.once("close", () => finish(new Error(`${host}:${port}: connection closed before the reply`)));
    socket.on("data", (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      try {
        for (let parsed = parseReply(pending); parsed; parsed = parseReply(pending)) {
          replies.push(parsed.reply);
          pending = pending.subarray(parsed.length);
        }
      } catch (error) {
        finish(error as Error);
        return;
      }
      const failed = replies.find((r): r is RedisReplyError => r instanceof RedisReplyError);
      if (failed) finish(failed);
      else if (replies.length === commands.length) finish(undefined, replies[replies.length - 1] as ProbeReply);
    });
    socket.write(Buffer.concat(commands.map(encodeCommand)));
  });
}

/** `INFO`-style text (`key:value` lines) as a map. */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0 && !line.startsWith("#")) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}
