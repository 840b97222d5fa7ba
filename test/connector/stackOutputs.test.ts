import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  ConfigError,
  configFromStackOutputs,
  loadStackOutputsFile,
  parseStackOutputs,
  parseStackOutputsJson,
} from "@redis-on-docker/connector";
import { AWKWARD_PASSWORD, outputsFixture } from "./support/outputsFixture";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- documents of any shape, broken on purpose
type Doc = Record<string, any>;

interface BadDocument {
  name: string;
  change: (doc: Doc) => unknown;
  field: string;
  message: RegExp;
}

const BAD_DOCUMENTS: BadDocument[] = [
  { name: "not an object", change: () => [], field: "(root)", message: /must be a JSON object/ },
  { name: "other schema version", change: (d) => ({ ...d, schemaVersion: 2 }), field: "schemaVersion", message: /must be 1/ },
  { name: "unknown top-level field", change: (d) => ({ ...d, extra: 1 }), field: "extra", message: /unknown field/ },
  { name: "missing cluster", change: (d) => { delete d.cluster; return d; }, field: "cluster", message: /is missing/ },
  { name: "password left as Pulumi's placeholder", change: (d) => ({ ...d, password: "[secret]" }), field: "password", message: /--show-secrets/ },
  { name: "password required but empty", change: (d) => ({ ...d, password: "" }), field: "password", message: /passwordRequired is true/ },
  { name: "password not a string", change: (d) => ({ ...d, password: 5 }), field: "password", message: /must be a string/ },
  { name: "passwordRequired not a boolean", change: (d) => ({ ...d, passwordRequired: "yes" }), field: "passwordRequired", message: /true or false/ },
  { name: "standalone port out of range", change: (d) => { d.standalone.port = 65536; return d; }, field: "standalone.port", message: /between 1 and 65535/ },
  { name: "standalone port as a string", change: (d) => { d.standalone.port = "7000"; return d; }, field: "standalone.port", message: /between 1 and 65535/ },
  { name: "empty seed list", change: (d) => { d.cluster.seeds = []; return d; }, field: "cluster.seeds", message: /at least one node/ },
  { name: "duplicate seeds", change: (d) => { d.cluster.seeds[1] = { ...d.cluster.seeds[0] }; return d; }, field: "cluster.seeds[1]", message: /listed twice/ },
  { name: "seed without host", change: (d) => { delete d.cluster.seeds[2].host; return d; }, field: "cluster.seeds[2].host", message: /is missing/ },
  { name: "seed with an unknown key", change: (d) => { d.cluster.seeds[0].ip = "x"; return d; }, field: "cluster.seeds[0].ip", message: /unknown field/ },
  { name: "natMap key without port", change: (d) => { d.cluster.natMap = { "172.28.0.11": { host: "127.0.0.1", port: 7001 } }; return d; }, field: 'cluster.natMap["172.28.0.11"]', message: /ip:port/ },
  { name: "natMap target with a bad port", change: (d) => { d.cluster.natMap["172.28.0.11:6379"].port = 0; return d; }, field: 'cluster.natMap["172.28.0.11:6379"].port', message: /between 1 and 65535/ },
  { name: "negative replicasPerMaster", change: (d) => { d.cluster.replicasPerMaster = -1; return d; }, field: "cluster.replicasPerMaster", message: /non-negative/ },
  { name: "empty redisVersion", change: (d) => ({ ...d, redisVersion: "" }), field: "redisVersion", message: /must not be empty/ },
];

describe("stack outputs: validation against the contract", () => {
  it("accepts a valid document unchanged", () => {
    expect(parseStackOutputs(outputsFixture(), "test")).to.deep.equal(outputsFixture());
  });

  it("accepts a document without a password when none is required", () => {
    expect(parseStackOutputs(outputsFixture(""), "test").password).to.equal("");
  });

  for (const bad of BAD_DOCUMENTS) {
    it(`${bad.name} -> names ${bad.field}`, () => {
      const doc = bad.change(JSON.parse(JSON.stringify(outputsFixture())) as Doc);
      let caught: unknown;
      try {
        parseStackOutputs(doc, "stack outputs fixture.json");
      } catch (error) {
        caught = error;
      }
      expect(caught).to.be.instanceOf(ConfigError);
      const error = caught as ConfigError;
      expect(error.setting).to.equal(bad.field);
      expect(error.source).to.equal("stack outputs fixture.json");
      expect(error.message).to.match(bad.message);
      expect(error.message).to.include("fixture.json");
      expect(error.message).not.to.include(AWKWARD_PASSWORD);
    });
  }

  it("truncated JSON is named as such, without echoing the text", () => {
    const text = JSON.stringify(outputsFixture());
    for (const cut of [10, text.indexOf(AWKWARD_PASSWORD) + 3, text.length - 1]) {
      const error = catchError(() => parseStackOutputsJson(text.slice(0, cut), "stack outputs cut.json"));
      expect(error.message).to.match(/^Invalid stack outputs cut\.json: not valid JSON: /);
      expect(error.message).not.to.include(AWKWARD_PASSWORD.slice(0, 3));
    }
    expect(catchError(() => parseStackOutputsJson(text.slice(0, text.length - 1))).message).to.match(/truncated/);
  });

  it("loads from a file, naming the file in errors", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "connector-outputs-"));
    try {
      const good = path.join(dir, "outputs.json");
      fs.writeFileSync(good, JSON.stringify(outputsFixture()));
      expect(loadStackOutputsFile(good)).to.deep.equal(outputsFixture());
      const missing = catchError(() => loadStackOutputsFile(path.join(dir, "absent.json")));
      expect(missing.message).to.match(/absent\.json: cannot read the file \(ENOENT\)/);
      const empty = path.join(dir, "empty.json");
      fs.writeFileSync(empty, "");
      expect(catchError(() => loadStackOutputsFile(empty)).message).to.match(/empty\.json: not valid JSON: it ends early/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("stack outputs -> config", () => {
  it("maps host addresses, seeds, natMap and password", () => {
    const partial = configFromStackOutputs(outputsFixture());
    expect(partial).to.deep.equal({
      standalone: { host: "127.0.0.1", port: 7000 },
      cluster: {
        nodes: [{ host: "127.0.0.1", port: 7001 }, { host: "127.0.0.1", port: 7002 }, { host: "127.0.0.1", port: 7003 }],
        natMap: {
          "172.28.0.11:6379": { host: "127.0.0.1", port: 7001 },
          "172.28.0.12:6379": { host: "127.0.0.1", port: 7002 },
          "172.28.0.13:6379": { host: "127.0.0.1", port: 7003 },
        },
      },
      password: AWKWARD_PASSWORD,
    });
  });

  it("maps internal addresses without natMap for apps inside the Docker network", () => {
    const partial = configFromStackOutputs(outputsFixture(), "internal");
    expect(partial.standalone).to.deep.equal({ host: "172.28.0.10", port: 6379 });
    expect(partial.cluster?.nodes?.[2]).to.deep.equal({ host: "172.28.0.13", port: 6379 });
    expect(partial.cluster?.natMap).to.deep.equal({});
  });
});

function catchError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect(error).to.be.instanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error("expected a ConfigError");
}
