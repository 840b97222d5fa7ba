/**
 * A compact binary encoding of request and reply values, written straight into a
 * (shared) byte buffer. It replaces structured clone on the hot path: no message
 * object per call, and Buffers stay Buffers on both sides.
 *
 * Encodes: null, undefined, booleans, numbers, strings, Buffers/Uint8Arrays, arrays,
 * plain objects (ioredis returns them for HGETALL and takes them for HSET/MSET) and
 * Errors (class name, message and own enumerable properties such as ioredis's
 * `command`). Anything else makes the encoder give up with `UnsupportedValue`, and
 * the caller falls back to structured clone.
 */

const TAG_NULL = 0;
const TAG_UNDEFINED = 1;
const TAG_FALSE = 2;
const TAG_TRUE = 3;
const TAG_INT32 = 4;
const TAG_FLOAT64 = 5;
const TAG_STRING = 6;
const TAG_BUFFER = 7;
const TAG_ARRAY = 8;
const TAG_OBJECT = 9;
const TAG_ERROR = 10;

/** Thrown (a shared instance, no stack) when the value does not fit in the buffer. */
export const BUFFER_OVERFLOW = Object.freeze({ reason: "overflow" });
/** Thrown (a shared instance, no stack) when a value has no encoding here. */
export const UNSUPPORTED_VALUE = Object.freeze({ reason: "unsupported" });

/** An Error as data: enough to rebuild the same class, name, message and properties. */
export interface EncodedError {
  className: string;
  name: string;
  message: string;
  props: Record<string, unknown>;
}

/** Turns an EncodedError back into an Error object (see errorRevival.ts). */
export type ErrorReviver = (encoded: EncodedError) => Error;

export class Writer {
  buf: Buffer;
  private view: DataView;
  pos = 0;

  constructor(buf: Buffer) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  reset(): void {
    this.pos = 0;
  }

  private need(bytes: number): void {
    if (this.pos + bytes > this.buf.length) throw BUFFER_OVERFLOW;
  }

  u8(v: number): void {
    this.need(1);
    this.buf[this.pos++] = v;
  }

  u32(v: number): void {
    this.need(4);
    this.view.setUint32(this.pos, v, true);
    this.pos += 4;
  }

  string(s: string): void {
    // 1 tag + 4 length; a UTF-16 unit never takes more than 3 UTF-8 bytes.
    const start = this.pos;
    if (start + 5 + s.length * 3 > this.buf.length) {
      this.need(5 + Buffer.byteLength(s, "utf8"));
    }
    this.buf[start] = TAG_STRING;
    const len = s.length === 0 ? 0 : this.buf.write(s, start + 5, "utf8");
    this.view.setUint32(start + 1, len, true);
    this.pos = start + 5 + len;
  }

  bytes(b: Uint8Array): void {
    this.need(5 + b.length);
    this.buf[this.pos] = TAG_BUFFER;
    this.view.setUint32(this.pos + 1, b.length, true);
    this.buf.set(b, this.pos + 5);
    this.pos += 5 + b.length;
  }

  number(n: number): void {
    if ((n | 0) === n && !Object.is(n, -0)) {
      this.need(5);
      this.buf[this.pos] = TAG_INT32;
      this.view.setInt32(this.pos + 1, n, true);
      this.pos += 5;
    } else {
      this.need(9);
      this.buf[this.pos] = TAG_FLOAT64;
      this.view.setFloat64(this.pos + 1, n, true);
      this.pos += 9;
    }
  }

  array(a: readonly unknown[]): void {
    this.u8(TAG_ARRAY);
    this.u32(a.length);
    for (let i = 0; i < a.length; i++) this.value(a[i]);
  }

  value(v: unknown): void {
    switch (typeof v) {
      case "string":
        return this.string(v);
      case "number":
        return this.number(v);
      case "boolean":
        return this.u8(v ? TAG_TRUE : TAG_FALSE);
      case "undefined":
        return this.u8(TAG_UNDEFINED);
      case "object":
        if (v === null) return this.u8(TAG_NULL);
        if (v instanceof Uint8Array) return this.bytes(v);
        if (Array.isArray(v)) return this.array(v);
        if (v instanceof Error) return this.error(v);
        if (Object.getPrototypeOf(v) === Object.prototype || Object.getPrototypeOf(v) === null) {
          return this.object(v as Record<string, unknown>);
        }
        throw UNSUPPORTED_VALUE;
      default:
        throw UNSUPPORTED_VALUE;
    }
  }

  private object(o: Record<string, unknown>): void {
    const keys = Object.keys(o);
    this.u8(TAG_OBJECT);
    this.u32(keys.length);
    for (const k of keys) {
      this.string(k);
      this.value(o[k]);
    }
  }

  private error(e: Error): void {
    this.u8(TAG_ERROR);
    this.string(e.constructor?.name ?? "Error");
    this.string(String(e.name));
    this.string(String(e.message));
    // An error can contain itself: ioredis rejects every command of a batch whose connection
    // closed with one Error object, so a failed MULTI's `previousErrors` lists its own error.
    // Inside itself it is encoded once more without its properties.
    if (this.errorsBeingEncoded.has(e)) return this.object({});
    this.errorsBeingEncoded.add(e);
    try {
      // Own enumerable properties carry ioredis's context (`command`, `lastNodeError`,
      // `previousErrors`, socket `code`s). Ones that cannot be encoded are left out.
      const props: Record<string, unknown> = {};
      for (const k of Object.keys(e)) {
        const p = (e as unknown as Record<string, unknown>)[k];
        if (isEncodable(p, 0)) props[k] = p;
      }
      this.object(props);
    } finally {
      this.errorsBeingEncoded.delete(e);
    }
  }

  private readonly errorsBeingEncoded = new Set<Error>();
}

function isEncodable(v: unknown, depth: number): boolean {
  if (depth > 8) return false;
  switch (typeof v) {
    case "string":
    case "number":
    case "boolean":
    case "undefined":
      return true;
    case "object":
      if (v === null || v instanceof Uint8Array || v instanceof Error) return true;
      if (Array.isArray(v)) return v.every((x) => isEncodable(x, depth + 1));
      if (Object.getPrototypeOf(v) === Object.prototype) {
        return Object.values(v as object).every((x) => isEncodable(x, depth + 1));
      }
      return false;
    default:
      return false;
  }
}

export class Reader {
  private buf: Buffer;
  private view: DataView;
  pos = 0;

  constructor(buf: Buffer, private readonly reviveError: ErrorReviver) {
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  }

  reset(buf?: Buffer): void {
    if (buf !== undefined && buf !== this.buf) {
      this.buf = buf;
      this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    }
    this.pos = 0;
  }

  u8(): number {
    return this.buf[this.pos++];
  }

  u32(): number {
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  string(): string {
    const v = this.value();
    if (typeof v !== "string") throw new Error("sync client protocol: expected a string");
    return v;
  }

  value(): unknown {
    const tag = this.buf[this.pos++];
    switch (tag) {
      case TAG_NULL:
        return null;
      case TAG_UNDEFINED:
        return undefined;
      case TAG_FALSE:
        return false;
      case TAG_TRUE:
        return true;
      case TAG_INT32: {
        const v = this.view.getInt32(this.pos, true);
        this.pos += 4;
        return v;
      }
      case TAG_FLOAT64: {
        const v = this.view.getFloat64(this.pos, true);
        this.pos += 8;
        return v;
      }
      case TAG_STRING: {
        const len = this.u32();
        const start = this.pos;
        this.pos += len;
        return len === 0 ? "" : this.buf.toString("utf8", start, start + len);
      }
      case TAG_BUFFER: {
        const len = this.u32();
        // A copy: the shared bytes are overwritten by the next reply.
        const out = Buffer.allocUnsafe(len);
        this.buf.copy(out, 0, this.pos, this.pos + len);
        this.pos += len;
        return out;
      }
      case TAG_ARRAY: {
        const n = this.u32();
        const out = new Array<unknown>(n);
        for (let i = 0; i < n; i++) out[i] = this.value();
        return out;
      }
      case TAG_OBJECT: {
        const n = this.u32();
        const out: Record<string, unknown> = {};
        for (let i = 0; i < n; i++) {
          const k = this.string();
          out[k] = this.value();
        }
        return out;
      }
      case TAG_ERROR: {
        const className = this.string();
        const name = this.string();
        const message = this.string();
        const props = this.value() as Record<string, unknown>;
        return this.reviveError({ className, name, message, props });
      }
      default:
        throw new Error(`sync client protocol: unknown tag ${tag} at ${this.pos - 1}`);
    }
  }
}

/**
 * Encodes with a Writer into a fresh, growing buffer (for values too big for the
 * shared one). Returns the bytes and their ArrayBuffer, for postMessage's transfer list.
 */
export function encodeToOwnBuffer(
  write: (w: Writer) => void,
  initial: number,
): { bytes: Uint8Array; transfer: ArrayBuffer } {
  let size = Math.max(initial, 1024);
  for (;;) {
    const transfer = new ArrayBuffer(size);
    const w = new Writer(Buffer.from(transfer));
    try {
      write(w);
      return { bytes: new Uint8Array(transfer, 0, w.pos), transfer };
    } catch (e) {
      if (e !== BUFFER_OVERFLOW) throw e;
      size *= 2;
    }
  }
}

/** After structured clone, Buffers arrive as plain Uint8Arrays: make them Buffers again. */
export function restoreBuffers(v: unknown): unknown {
  if (v instanceof Uint8Array) {
    return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  }
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = restoreBuffers(v[i]);
    return v;
  }
  if (v instanceof Map) {
    for (const [k, x] of v) v.set(k, restoreBuffers(x));
    return v;
  }
  if (v !== null && typeof v === "object" && Object.getPrototypeOf(v) === Object.prototype) {
    const o = v as Record<string, unknown>;
    for (const k of Object.keys(o)) o[k] = restoreBuffers(o[k]);
  }
  return v;
}
