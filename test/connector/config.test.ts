import { expect } from "chai";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { inspect } from "node:util";
import { MessageChannel } from "node:worker_threads";
import {
  ConfigError,
  describeConfig,
  envEntries,
  loadConfig,
  SETTINGS,
  type ConnectorConfig,
  type LoadConfigOptions,
  type StackOutputs,
} from "@redis-on-docker/connector";

const SECRET = "s3cr3t pa ss'\"ü";

function outputsDocument(): StackOutputs {
  return {
    schemaVersion: 1,
    redisImage: "redis:5.0.4",
    redisVersion: "5.0.4",
    passwordRequired: true,
    password: "from-outputs",
    standalone: { host: "127.0.0.1", port: 7100, internalHost: "172.28.0.10", internalPort: 6379 },
    cluster: {
      seeds: [{ host: "127.0.0.1", port: 7101 }, { host: "127.0.0.1", port: 7102 }],
      internalSeeds: [{ host: "172.28.0.11", port: 6379 }, { host: "172.28.0.12", port: 6379 }],
      natMap: { "172.28.0.11:6379": { host: "127.0.0.1", port: 7101 }, "172.28.0.12:6379": { host: "127.0.0.1", port: 7102 } },
      replicasPerMaster: 1,
    },
  };
}

let dir: string;
function writeFile(name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

function writeBytes(name: string, bytes: Buffer): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, bytes);
  return file;
}

before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "connector-config-"));
});
after(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe("loadConfig: defaults", () => {
  it("gives every documented default with an empty env", () => {
    const config = loadConfig({ env: {} });
    const plain: ConnectorConfig = JSON.parse(JSON.stringify(config));
    expect(plain).to.deep.equal({
      topology: "standalone",
      form: "async",
      standalone: { host: "127.0.0.1", port: 6379, db: 0 },
      cluster: { nodes: [], natMap: {}, scaleReads: "master", maxRedirections: 16 },
      password: "",
      username: "",
      keyPrefix: "",
      tls: false,
      connectTimeoutMs: 5000,
      commandTimeoutMs: 5000,
      maxRetriesPerRequest: 2,
      reconnectMaxDelayMs: 2000,
    });
  });

  it("reads every setting from its env var", () => {
    const env: Record<string, string> = {
      REDIS_TOPOLOGY: "cluster",
      REDIS_FORM: "sync",
      REDIS_HOST: "localhost",
      REDIS_PORT: "7000",
      REDIS_DB: "3",
      REDIS_CLUSTER_NODES: "127.0.0.1:7001, [::1]:7002",
      REDIS_CLUSTER_NAT_MAP: "10.0.0.1:6379=127.0.0.1:7001,10.0.0.2:6379=127.0.0.1:7002",
      REDIS_CLUSTER_SCALE_READS: "all",
      REDIS_CLUSTER_MAX_REDIRECTIONS: "5",
      REDIS_PASSWORD: SECRET,
      REDIS_USERNAME: "app",
      REDIS_KEY_PREFIX: "app:",
      REDIS_TLS: "yes",
      REDIS_CONNECT_TIMEOUT_MS: "1500",
      REDIS_COMMAND_TIMEOUT_MS: "2500",
      REDIS_MAX_RETRIES_PER_REQUEST: "0",
      REDIS_RECONNECT_MAX_DELAY_MS: "300",
    };
    expect(Object.keys(env).sort()).to.deep.equal(SETTINGS.map((s) => s.env).sort());
    const config = loadConfig({ env });
    expect(config.topology).to.equal("cluster");
    expect(config.form).to.equal("sync");
    expect(config.standalone).to.deep.equal({ host: "localhost", port: 7000, db: 3 });
    expect(config.cluster.nodes).to.deep.equal([{ host: "127.0.0.1", port: 7001 }, { host: "::1", port: 7002 }]);
    expect(config.cluster.natMap).to.deep.equal({
      "10.0.0.1:6379": { host: "127.0.0.1", port: 7001 },
      "10.0.0.2:6379": { host: "127.0.0.1", port: 7002 },
    });
    expect(config.cluster.scaleReads).to.equal("all");
    expect(config.cluster.maxRedirections).to.equal(5);
    expect(config.password).to.equal(SECRET);
    expect(config.username).to.equal("app");
    expect(config.keyPrefix).to.equal("app:");
    expect(config.tls).to.equal(true);
    expect(config.connectTimeoutMs).to.equal(1500);
    expect(config.commandTimeoutMs).to.equal(2500);
    expect(config.maxRetriesPerRequest).to.equal(0);
    expect(config.reconnectMaxDelayMs).to.equal(300);
  });

  it("accepts JSON forms of the node list and natMap", () => {
    const config = loadConfig({
      env: {
        REDIS_CLUSTER_NODES: '[{"host":"127.0.0.1","port":7001}]',
        REDIS_CLUSTER_NAT_MAP: '{"10.0.0.1:6379":{"host":"127.0.0.1","port":7001}}',
      },
    });
    expect(config.cluster.nodes).to.deep.equal([{ host: "127.0.0.1", port: 7001 }]);
    expect(config.cluster.natMap).to.deep.equal({ "10.0.0.1:6379": { host: "127.0.0.1", port: 7001 } });
  });

  it("IPv6 natMap keys: bracketed or as ioredis keys them, held as ioredis looks them up, and the env rendering reads back", () => {
    const to = { host: "127.0.0.1", port: 7001 };
    const forms = [
      "[fd00::5]:7000=127.0.0.1:7001",
      "fd00::5:7000=127.0.0.1:7001",
      '{"[fd00::5]:7000":{"host":"127.0.0.1","port":7001}}',
      '{"fd00::5:7000":{"host":"127.0.0.1","port":7001}}',
    ];
    for (const natMap of forms) {
      const config = loadConfig({ env: { REDIS_TOPOLOGY: "cluster", REDIS_CLUSTER_NODES: "127.0.0.1:7001", REDIS_CLUSTER_NAT_MAP: natMap } });
      expect(config.cluster.natMap, natMap).to.deep.equal({ "fd00::5:7000": to });
      const rendered = Object.fromEntries(envEntries(config, ["cluster.natMap"], false));
      expect(rendered.REDIS_CLUSTER_NAT_MAP, natMap).to.equal("[fd00::5]:7000=127.0.0.1:7001");
      expect(loadConfig({ env: { REDIS_TOPOLOGY: "cluster", REDIS_CLUSTER_NODES: "127.0.0.1:7001", ...rendered } }).cluster.natMap).to.deep.equal(config.cluster.natMap);
    }
    // An override object is held the same way.
    expect(loadConfig({ env: {}, overrides: { topology: "cluster", cluster: { nodes: [to], natMap: { "[fd00::5]:7000": to } } } }).cluster.natMap)
      .to.deep.equal({ "fd00::5:7000": to });
    // One address written both ways is one key.
    expect(() => loadConfig({ env: { REDIS_CLUSTER_NAT_MAP: '{"[fd00::5]:7000":{"host":"127.0.0.1","port":1},"fd00::5:7000":{"host":"127.0.0.1","port":2}}' } }))
      .to.throw(ConfigError, /mapped twice/);
  });
});

describe("loadConfig: sources and precedence (defaults < file < outputs < env < overrides)", () => {
  const file = (): string =>
    writeFile("precedence.json", JSON.stringify({ standalone: { host: "file-host", port: 7200, db: 1 }, keyPrefix: "file:" }));

  it("a config file beats defaults", () => {
    const config = loadConfig({ env: {}, file: file() });
    expect(config.standalone).to.deep.equal({ host: "file-host", port: 7200, db: 1 });
    expect(config.keyPrefix).to.equal("file:");
    expect(config.connectTimeoutMs).to.equal(5000);
  });

  it("the outputs document beats the config file (only for what it carries)", () => {
    const config = loadConfig({ env: {}, file: file(), outputs: outputsDocument() });
    expect(config.standalone).to.deep.equal({ host: "127.0.0.1", port: 7100, db: 1 });
    expect(config.keyPrefix).to.equal("file:");
    expect(config.password).to.equal("from-outputs");
    expect(config.cluster.nodes).to.have.length(2);
    expect(config.cluster.natMap).to.have.keys("172.28.0.11:6379", "172.28.0.12:6379");
  });

  it("outputs as a file path work like the document itself", () => {
    const outputsFile = writeFile("outputs.json", JSON.stringify(outputsDocument()));
    const fromPath = JSON.parse(JSON.stringify(loadConfig({ env: {}, outputs: outputsFile, overrides: { password: "x" } })));
    const fromDoc = JSON.parse(JSON.stringify(loadConfig({ env: {}, outputs: outputsDocument(), overrides: { password: "x" } })));
    expect(fromPath).to.deep.equal(fromDoc);
  });

  it("internal network addresses are used when asked, without natMap", () => {
    const config = loadConfig({ env: {}, outputs: outputsDocument(), outputsNetwork: "internal" });
    expect(config.standalone.host).to.equal("172.28.0.10");
    expect(config.cluster.nodes[0]).to.deep.equal({ host: "172.28.0.11", port: 6379 });
    expect(config.cluster.natMap).to.deep.equal({});
  });

  it("env beats the outputs document and the file", () => {
    const config = loadConfig({
      env: { REDIS_PORT: "7300", REDIS_PASSWORD: "from-env", REDIS_KEY_PREFIX: "env:" },
      file: file(),
      outputs: outputsDocument(),
    });
    expect(config.standalone.port).to.equal(7300);
    expect(config.standalone.host).to.equal("127.0.0.1");
    expect(config.password).to.equal("from-env");
    expect(config.keyPrefix).to.equal("env:");
  });

  it("overrides beat env", () => {
    const config = loadConfig({
      env: { REDIS_PORT: "7300", REDIS_TOPOLOGY: "standalone" },
      outputs: outputsDocument(),
      overrides: { standalone: { port: 7400 }, topology: "cluster", form: "sync" },
    });
    expect(config.standalone.port).to.equal(7400);
    expect(config.topology).to.equal("cluster");
    expect(config.form).to.equal("sync");
  });

  it("REDIS_CONFIG_FILE and REDIS_OUTPUTS_FILE name the file sources", () => {
    const outputsFile = writeFile("outputs-env.json", JSON.stringify(outputsDocument()));
    const config = loadConfig({ env: { REDIS_CONFIG_FILE: file(), REDIS_OUTPUTS_FILE: outputsFile } });
    expect(config.keyPrefix).to.equal("file:");
    expect(config.standalone.port).to.equal(7100);
  });

  it("an empty env var is a value, not absence (REDIS_PASSWORD='' clears the outputs password)", () => {
    const config = loadConfig({ env: { REDIS_PASSWORD: "" }, outputs: outputsDocument() });
    expect(config.password).to.equal("");
  });
});

describe("loadConfig: the password is never printed", () => {
  const config = (): ConnectorConfig => loadConfig({ env: { REDIS_PASSWORD: SECRET } });

  it("inspect, console formatting, toString, template strings and JSON redact it", () => {
    const c = config();
    for (const printed of [inspect(c), inspect(c, { depth: 10 }), String(c), `${c}`, JSON.stringify(c), describeConfig(c)]) {
      expect(printed).not.to.include(SECRET);
      expect(printed).to.include("[redacted]");
    }
    expect(c.password).to.equal(SECRET);
  });

  it("a structured clone (what the sync worker receives) still carries it", () => {
    const c = config();
    const { port1, port2 } = new MessageChannel();
    try {
      port1.postMessage(c);
      const received = require("node:worker_threads").receiveMessageOnPort(port2)?.message as ConnectorConfig;
      expect(received.password).to.equal(SECRET);
      expect(structuredClone(c).password).to.equal(SECRET);
    } finally {
      port1.close();
      port2.close();
    }
  });
});

interface BadCase {
  name: string;
  options: () => LoadConfigOptions;
  setting: string;
  envVar?: string;
  source: string | RegExp;
  message: RegExp;
}

/** Each bad input gives one ConfigError naming the setting, its env var and the source. */
const BAD_CASES: BadCase[] = [
  { name: "port not a number", options: () => ({ env: { REDIS_PORT: "12abc" } }), setting: "standalone.port", envVar: "REDIS_PORT", source: "env REDIS_PORT", message: /not an integer/ },
  { name: "port out of range", options: () => ({ env: { REDIS_PORT: "70000" } }), setting: "standalone.port", envVar: "REDIS_PORT", source: "env REDIS_PORT", message: /between 1 and 65535/ },
  { name: "port zero", options: () => ({ env: { REDIS_PORT: "0" } }), setting: "standalone.port", envVar: "REDIS_PORT", source: "env REDIS_PORT", message: /between 1 and 65535/ },
  { name: "negative db", options: () => ({ env: { REDIS_DB: "-1" } }), setting: "standalone.db", envVar: "REDIS_DB", source: "env REDIS_DB", message: /non-negative/ },
  { name: "unknown topology", options: () => ({ env: { REDIS_TOPOLOGY: "sentinel" } }), setting: "topology", envVar: "REDIS_TOPOLOGY", source: "env REDIS_TOPOLOGY", message: /standalone, cluster/ },
  { name: "unknown form", options: () => ({ env: { REDIS_FORM: "blocking" } }), setting: "form", envVar: "REDIS_FORM", source: "env REDIS_FORM", message: /async, sync/ },
  { name: "unknown scaleReads", options: () => ({ env: { REDIS_CLUSTER_SCALE_READS: "replica" } }), setting: "cluster.scaleReads", envVar: "REDIS_CLUSTER_SCALE_READS", source: "env REDIS_CLUSTER_SCALE_READS", message: /master, slave, all/ },
  { name: "host with a scheme", options: () => ({ env: { REDIS_HOST: "redis://x" } }), setting: "standalone.host", envVar: "REDIS_HOST", source: "env REDIS_HOST", message: /not a host name/ },
  { name: "empty host", options: () => ({ env: { REDIS_HOST: "" } }), setting: "standalone.host", envVar: "REDIS_HOST", source: "env REDIS_HOST", message: /non-empty/ },
  { name: "node without port", options: () => ({ env: { REDIS_CLUSTER_NODES: "127.0.0.1:7001,127.0.0.1" } }), setting: "cluster.nodes", envVar: "REDIS_CLUSTER_NODES", source: "env REDIS_CLUSTER_NODES", message: /entry 2 .* not host:port/ },
  { name: "node port out of range", options: () => ({ env: { REDIS_CLUSTER_NODES: "127.0.0.1:99999" } }), setting: "cluster.nodes", envVar: "REDIS_CLUSTER_NODES", source: "env REDIS_CLUSTER_NODES", message: /port must be an integer between 1 and 65535/ },
  { name: "duplicate nodes", options: () => ({ env: { REDIS_CLUSTER_NODES: "127.0.0.1:7001,127.0.0.1:7001" } }), setting: "cluster.nodes", envVar: "REDIS_CLUSTER_NODES", source: "env REDIS_CLUSTER_NODES", message: /listed twice/ },
  { name: "cluster without nodes", options: () => ({ env: { REDIS_TOPOLOGY: "cluster" } }), setting: "cluster.nodes", envVar: "REDIS_CLUSTER_NODES", source: "defaults", message: /topology is cluster \(from env REDIS_TOPOLOGY\) but no seed nodes/ },
  { name: "cluster with an empty node list", options: () => ({ env: { REDIS_TOPOLOGY: "cluster", REDIS_CLUSTER_NODES: " " } }), setting: "cluster.nodes", envVar: "REDIS_CLUSTER_NODES", source: "env REDIS_CLUSTER_NODES", message: /no seed nodes/ },
  { name: "natMap without '='", options: () => ({ env: { REDIS_CLUSTER_NAT_MAP: "10.0.0.1:6379>127.0.0.1:7001" } }), setting: "cluster.natMap", envVar: "REDIS_CLUSTER_NAT_MAP", source: "env REDIS_CLUSTER_NAT_MAP", message: /announced-ip:port=host:port/ },
  { name: "natMap target without port", options: () => ({ env: { REDIS_CLUSTER_NAT_MAP: "10.0.0.1:6379=127.0.0.1" } }), setting: "cluster.natMap", envVar: "REDIS_CLUSTER_NAT_MAP", source: "env REDIS_CLUSTER_NAT_MAP", message: /not host:port/ },
  { name: "natMap as broken JSON", options: () => ({ env: { REDIS_CLUSTER_NAT_MAP: '{"10.0.0.1:6379": {' } }), setting: "cluster.natMap", envVar: "REDIS_CLUSTER_NAT_MAP", source: "env REDIS_CLUSTER_NAT_MAP", message: /not valid JSON/ },
  { name: "natMap key mapped twice", options: () => ({ env: { REDIS_CLUSTER_NAT_MAP: "10.0.0.1:6379=127.0.0.1:1,10.0.0.1:6379=127.0.0.1:2" } }), setting: "cluster.natMap", envVar: "REDIS_CLUSTER_NAT_MAP", source: "env REDIS_CLUSTER_NAT_MAP", message: /mapped twice/ },
  { name: "boolean that is not one", options: () => ({ env: { REDIS_TLS: "maybe" } }), setting: "tls", envVar: "REDIS_TLS", source: "env REDIS_TLS", message: /not a boolean/ },
  { name: "zero timeout", options: () => ({ env: { REDIS_COMMAND_TIMEOUT_MS: "0" } }), setting: "commandTimeoutMs", envVar: "REDIS_COMMAND_TIMEOUT_MS", source: "env REDIS_COMMAND_TIMEOUT_MS", message: /between 1 and 3600000/ },
  { name: "fractional timeout", options: () => ({ env: { REDIS_CONNECT_TIMEOUT_MS: "1.5" } }), setting: "connectTimeoutMs", envVar: "REDIS_CONNECT_TIMEOUT_MS", source: "env REDIS_CONNECT_TIMEOUT_MS", message: /not an integer/ },
  { name: "password with a line break", options: () => ({ env: { REDIS_PASSWORD: `${SECRET}\nx` } }), setting: "password", envVar: "REDIS_PASSWORD", source: "env REDIS_PASSWORD", message: /line breaks/ },
  { name: "username without password", options: () => ({ env: { REDIS_USERNAME: "app" } }), setting: "username", envVar: "REDIS_USERNAME", source: "env REDIS_USERNAME", message: /needs a password/ },
  { name: "username with a space", options: () => ({ env: { REDIS_USERNAME: "a b", REDIS_PASSWORD: SECRET } }), setting: "username", envVar: "REDIS_USERNAME", source: "env REDIS_USERNAME", message: /spaces/ },
  { name: "unknown key in the config file", options: () => ({ env: {}, file: writeFile("unknown.json", '{"standalone":{"hots":"x"}}') }), setting: "standalone.hots", source: /^config file .*unknown\.json$/, message: /unknown setting "standalone.hots"/ },
  { name: "unknown top-level key in the config file", options: () => ({ env: {}, file: writeFile("unknown-top.json", '{"sentinels":[]}') }), setting: "sentinels", source: /^config file /, message: /unknown setting/ },
  { name: "wrong type in the config file", options: () => ({ env: {}, file: writeFile("type.json", '{"standalone":{"port":true}}') }), setting: "standalone.port", envVar: "REDIS_PORT", source: /^config file .*type\.json$/, message: /between 1 and 65535, got true/ },
  { name: "group given as a scalar in the config file", options: () => ({ env: {}, file: writeFile("scalar.json", '{"cluster":"a:1"}') }), setting: "cluster", source: /^config file /, message: /must be a JSON object/ },
  { name: "truncated config file", options: () => ({ env: {}, file: writeFile("trunc.json", '{"standalone":{"host":"x","port":') }), setting: "(document)", source: /^config file .*trunc\.json$/, message: /ends early \(truncated/ },
  { name: "config file with a JSON syntax error next to the password", options: () => ({ env: {}, file: writeFile("syntax.json", `{"password":"${SECRET}"}`) }), setting: "(document)", source: /^config file .*syntax\.json$/, message: /not valid JSON: syntax error at character \d+/ },
  { name: "missing config file", options: () => ({ env: {}, file: path.join(os.tmpdir(), "no-such-connector-config.json") }), setting: "(document)", source: /^config file .*no-such/, message: /cannot read the file \(ENOENT\)/ },
  { name: "bad value in an override", options: () => ({ env: {}, overrides: { standalone: { port: -5 } } }), setting: "standalone.port", envVar: "REDIS_PORT", source: "override", message: /between 1 and 65535/ },
  { name: "unknown override key", options: () => ({ env: {}, overrides: { clsuter: {} } as never }), setting: "clsuter", source: "override", message: /unknown setting/ },
  { name: "REDIS_CONFIG_FILE pointing nowhere", options: () => ({ env: { REDIS_CONFIG_FILE: path.join(os.tmpdir(), "no-such-connector-config.json") } }), setting: "(document)", envVar: "REDIS_CONFIG_FILE", source: /^config file .*no-such-connector-config\.json \(from env REDIS_CONFIG_FILE\)$/, message: /cannot read the file \(ENOENT\); set REDIS_CONFIG_FILE to an existing file/ },
  { name: "REDIS_OUTPUTS_FILE pointing nowhere", options: () => ({ env: { REDIS_OUTPUTS_FILE: path.join(os.tmpdir(), "no-such-outputs.json") } }), setting: "(document)", envVar: "REDIS_OUTPUTS_FILE", source: /^stack outputs .*no-such-outputs\.json \(from env REDIS_OUTPUTS_FILE\)$/, message: /cannot read the file \(ENOENT\); set REDIS_OUTPUTS_FILE/ },
  { name: "outputs file in UTF-16 (PowerShell redirection)", options: () => ({ env: {}, outputs: writeBytes("utf16.json", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(JSON.stringify(outputsDocument()), "utf16le")])) }), setting: "(document)", source: /^stack outputs .*utf16\.json$/, message: /UTF-16 encoded .* save it as UTF-8/ },
  { name: "config file in UTF-16 without a byte-order mark", options: () => ({ env: {}, file: writeBytes("utf16-nobom.json", Buffer.from('{"standalone":{"port":7000}}', "utf16le")) }), setting: "(document)", source: /^config file .*utf16-nobom\.json$/, message: /UTF-16 encoded/ },
  { name: "IPv6 seed without brackets", options: () => ({ env: { REDIS_CLUSTER_NODES: "::1:7000" } }), setting: "cluster.nodes", envVar: "REDIS_CLUSTER_NODES", source: "env REDIS_CLUSTER_NODES", message: /write an IPv6 address in brackets: \[::1\]:7000/ },
  { name: "IPv6 natMap target without brackets", options: () => ({ env: { REDIS_CLUSTER_NAT_MAP: "10.0.0.1:6379=fe80::1:7001" } }), setting: "cluster.natMap", envVar: "REDIS_CLUSTER_NAT_MAP", source: "env REDIS_CLUSTER_NAT_MAP", message: /\[fe80::1\]:7001/ },
  { name: "bad outputs file (REDIS_OUTPUTS_FILE)", options: () => ({ env: { REDIS_OUTPUTS_FILE: writeFile("bad-outputs.json", '{"schemaVersion":2}') } }), setting: "schemaVersion", source: /^stack outputs .*bad-outputs\.json$/, message: /must be 1/ },
];

describe("loadConfig: files with a UTF-8 byte-order mark (Windows editors, PowerShell Out-File -Encoding utf8)", () => {
  const BOM = Buffer.from([0xef, 0xbb, 0xbf]);
  it("reads an outputs document that starts with one (was: \"syntax error\")", () => {
    const file = writeBytes("bom-outputs.json", Buffer.concat([BOM, Buffer.from(JSON.stringify(outputsDocument()))]));
    const config = loadConfig({ env: {}, outputs: file });
    expect(config.standalone.port).to.equal(outputsDocument().standalone.port);
    expect(config.password === "from-outputs").to.equal(true);
  });
  it("reads a config file that starts with one", () => {
    const file = writeBytes("bom-config.json", Buffer.concat([BOM, Buffer.from('{"standalone":{"port":7123}}')]));
    expect(loadConfig({ env: { REDIS_CONFIG_FILE: file } }).standalone.port).to.equal(7123);
  });
});

describe("loadConfig: bad input table", () => {
  for (const bad of BAD_CASES) {
    it(`${bad.name} -> ConfigError naming ${bad.setting}`, () => {
      let caught: unknown;
      try {
        loadConfig(bad.options());
      } catch (error) {
        caught = error;
      }
      expect(caught, "loadConfig should have thrown").to.be.instanceOf(ConfigError);
      const error = caught as ConfigError;
      expect(error.setting).to.equal(bad.setting);
      expect(error.envVar).to.equal(bad.envVar);
      if (typeof bad.source === "string") expect(error.source).to.equal(bad.source);
      else expect(error.source).to.match(bad.source);
      expect(error.message).to.match(bad.message);
      expect(error.message).to.include(bad.setting === "(document)" ? error.source : bad.setting);
      if (bad.envVar !== undefined) expect(error.message).to.include(bad.envVar);
      expect(error.message).not.to.include(SECRET);
      expect(inspect(error)).not.to.include(SECRET);
      expect(error.message.split("\n")).to.have.length(1);
    });
  }
});

describe("loadConfig: nothing silently ignored (issue 17)", () => {
  const base = { REDIS_PORT: "7000" };

  it("an unknown REDIS_* variable warns once, with a did-you-mean; unknownEnv: error refuses it, ignore keeps quiet", async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on("warning", onWarning);
    try {
      expect(loadConfig({ env: { ...base, REDIS_TOPLOGY: "cluster" } }).topology).to.equal("standalone");
      loadConfig({ env: { ...base, REDIS_TOPLOGY: "cluster" } });
      loadConfig({ env: { ...base, REDIS_NOT_OURS_AT_ALL: "1" }, unknownEnv: "ignore" });
      await new Promise<void>((resolve) => setImmediate(resolve));
    } finally {
      process.off("warning", onWarning);
    }
    const ours = warnings.filter((w) => (w as Error & { code?: string }).code === "REDIS_CONNECTOR_UNKNOWN_ENV");
    expect(ours.map((w) => w.message)).to.deep.equal([
      'redis-connector: unknown variable REDIS_TOPLOGY is not a connector setting and is ignored; did you mean "REDIS_TOPOLOGY"?',
    ]);
    expect(() => loadConfig({ env: { ...base, REDIS_TOPLOGY: "cluster" }, unknownEnv: "error" }))
      .to.throw(ConfigError, /REDIS_TOPLOGY .*did you mean "REDIS_TOPOLOGY"\?.*unknownEnv/);
  });

  const TYPOS: Array<[env: string, value: string, suggestion: string]> = [
    ["REDIS_TOPOLOGY", "clustr", "cluster"],
    ["REDIS_TOPOLOGY", "standlone", "standalone"],
    ["REDIS_FORM", "asnyc", "async"],
    ["REDIS_FORM", "SYNC", "sync"],
    ["REDIS_CLUSTER_SCALE_READS", "slaves", "slave"],
  ];
  for (const [env, value, suggestion] of TYPOS) {
    it(`${env}=${value}: refused with did you mean "${suggestion}"`, () => {
      expect(() => loadConfig({ env: { ...base, [env]: value } })).to.throw(ConfigError, new RegExp(`${env}.*did you mean "${suggestion}"\\?`));
    });
  }

  it("surrounding whitespace is ignored for every setting but the free-text ones (password, key prefix), which stay verbatim", () => {
    const config = loadConfig({
      env: {
        REDIS_TOPOLOGY: "cluster ", REDIS_FORM: " sync", REDIS_HOST: " 10.0.0.1 ", REDIS_PORT: "7000 ", REDIS_DB: " 1",
        REDIS_CLUSTER_NODES: " 127.0.0.1:7001 ", REDIS_CLUSTER_SCALE_READS: "all\t", REDIS_TLS: " true ",
        REDIS_USERNAME: " app ", REDIS_PASSWORD: " secret ", REDIS_KEY_PREFIX: " p: ", REDIS_CONNECT_TIMEOUT_MS: " 100 ",
      },
    });
    expect(config).to.deep.include({ topology: "cluster", form: "sync", tls: true, username: "app", password: " secret ", keyPrefix: " p: ", connectTimeoutMs: 100 });
    expect(config.standalone).to.deep.equal({ host: "10.0.0.1", port: 7000, db: 1 });
    expect(config.cluster.scaleReads).to.equal("all");
  });
});

describe("loadConfig: IPv6 hosts and list separators (issue 17)", () => {
  for (const raw of ["[::1]", " [::1] ", "::1"]) {
    it(`REDIS_HOST=${JSON.stringify(raw)} is the IPv6 address ::1`, () => {
      expect(loadConfig({ env: { REDIS_HOST: raw } }).standalone.host).to.equal("::1");
    });
  }

  it("brackets around anything but a whole IPv6 address are refused, naming REDIS_HOST", () => {
    expect(() => loadConfig({ env: { REDIS_HOST: "[127.0.0.1]" } })).to.throw(ConfigError, /REDIS_HOST.*brackets only around a whole IPv6 address/);
  });

  for (const separator of [" ", "\n", " \n\t"]) {
    it(`REDIS_CLUSTER_NODES separated by ${JSON.stringify(separator)}: the hint says to use commas (not IPv6 brackets)`, () => {
      const env = { REDIS_TOPOLOGY: "cluster", REDIS_CLUSTER_NODES: `127.0.0.1:10285${separator}127.0.0.1:17569` };
      expect(() => loadConfig({ env })).to.throw(ConfigError, /separate entries with commas/);
      try {
        loadConfig({ env });
      } catch (error) {
        expect((error as Error).message).not.to.include("IPv6").and.not.to.include("\n");
      }
    });
  }

  it("an unbracketed IPv6 seed still gets the bracket hint", () => {
    expect(() => loadConfig({ env: { REDIS_TOPOLOGY: "cluster", REDIS_CLUSTER_NODES: "::1:7000" } })).to.throw(ConfigError, /\[::1\]:7000/);
  });
});
