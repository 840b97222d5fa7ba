import { expect } from "chai";
import { DEFAULT_SETTINGS, SettingError, validateStackSettings } from "@redis-on-docker/topology";

// Distinctive, so a message that leaks it is caught.
const PASSWORD = "pw-Zq8 \"quoted\" \\ secret-9731";

function rejectionOf(raw: Record<string, unknown>, source?: string): SettingError {
  try {
    validateStackSettings(raw, source);
  } catch (error) {
    expect(error).to.be.instanceOf(SettingError);
    return error as SettingError;
  }
  throw new Error(`expected ${JSON.stringify(Object.keys(raw))} to be rejected`);
}

describe("validateStackSettings", () => {
  it("applies every documented default", () => {
    const settings = validateStackSettings({ password: PASSWORD });
    expect(settings).to.deep.equal({ ...DEFAULT_SETTINGS, password: PASSWORD });
    expect(settings).to.include({
      image: "redis:5.0.4",
      clusterNodes: 6,
      replicasPerMaster: 1,
      subnet: "10.213.0.0/24",
      hostPortBase: 6380,
      hostBindAddress: "127.0.0.1",
      allowNoPassword: false,
      nodeTimeoutMs: 5000,
      persistence: "aof",
      namePrefix: "redis",
      bootstrapTimeoutSec: 60,
      retainDataVolumes: false,
    });
  });

  it("reads Pulumi's string values and namespaced keys", () => {
    const settings = validateStackSettings({
      "redis-on-docker:image": "registry.local:5000/team/redis:5.0.4-alpine",
      "redis-on-docker:clusterNodes": "9",
      "redis-on-docker:replicasPerMaster": "2",
      "redis-on-docker:subnet": "10.20.0.0/26",
      "redis-on-docker:hostPortBase": "30000",
      "redis-on-docker:hostBindAddress": "::1",
      "redis-on-docker:allowNoPassword": "true",
      "redis-on-docker:nodeTimeoutMs": "2500",
      "redis-on-docker:persistence": "aof",
      "redis-on-docker:namePrefix": "t1_redis",
      "redis-on-docker:bootstrapTimeoutSec": "30",
      "redis-on-docker:retainDataVolumes": "true",
      "redis-on-docker:hosts": '[{"name":"a","address":"10.20.1.1"},{"name":"b","address":"10.20.1.2"},{"name":"c","address":"10.20.1.3"}]',
      "redis-on-docker:minReplicasToWrite": "1",
      "redis-on-docker:minReplicasMaxLagSec": "3",
      "redis-on-docker:restoreSpread": "true",
      // Several hosts need a password, whatever allowNoPassword says.
      "redis-on-docker:password": "pulumi-pw",
    });
    expect(settings).to.deep.equal({
      image: "registry.local:5000/team/redis:5.0.4-alpine",
      clusterNodes: 9,
      replicasPerMaster: 2,
      subnet: "10.20.0.0/26",
      hostPortBase: 30000,
      hostBindAddress: "::1",
      allowNoPassword: true,
      nodeTimeoutMs: 2500,
      persistence: "aof",
      namePrefix: "t1_redis",
      bootstrapTimeoutSec: 30,
      retainDataVolumes: true,
      hosts: [
        { name: "a", address: "10.20.1.1" },
        { name: "b", address: "10.20.1.2" },
        { name: "c", address: "10.20.1.3" },
      ],
      minReplicasToWrite: 1,
      minReplicasMaxLagSec: 3,
      restoreSpread: true,
      password: "pulumi-pw",
    });
  });

  it("accepts a digest-pinned image and replicasPerMaster 0 with 3 masters", () => {
    const digest = "a".repeat(64);
    const settings = validateStackSettings({
      image: `redis@sha256:${digest}`,
      clusterNodes: 3,
      replicasPerMaster: 0,
      password: PASSWORD,
    });
    expect(settings.image).to.equal(`redis@sha256:${digest}`);
    expect(settings.clusterNodes).to.equal(3);
  });

  it("accepts the smallest subnet that holds every address and the last usable host port", () => {
    // 6 nodes end at base+16 in the lower half; a /26 (lower half base..base+31) fits, a /27 (base..base+15) does not.
    expect(validateStackSettings({ subnet: "192.168.5.64/26", password: PASSWORD }).subnet).to.equal("192.168.5.64/26");
    expect(validateStackSettings({ hostPortBase: 65535 - 6, password: PASSWORD }).hostPortBase).to.equal(65529);
  });

  const rejections: Array<{ why: string; raw: Record<string, unknown>; key: string; says: RegExp }> = [
    { why: "unknown key", raw: { clusterNode: 6 }, key: "redis-on-docker:clusterNode", says: /unknown setting/ },
    { why: "misspelt password key, value not echoed", raw: { passwrod: PASSWORD }, key: "redis-on-docker:passwrod", says: /unknown setting/ },
    { why: "key of another namespace", raw: { "aws:region": "x" }, key: "aws:region", says: /unknown setting/ },
    { why: "image with upper case", raw: { image: "Redis:5.0.4" }, key: "redis-on-docker:image", says: /not a Docker image reference/ },
    { why: "image with a space", raw: { image: "redis 5" }, key: "redis-on-docker:image", says: /not a Docker image reference/ },
    { why: "empty image", raw: { image: "" }, key: "redis-on-docker:image", says: /not a Docker image reference/ },
    { why: "image with bad digest", raw: { image: "redis@sha256:abc" }, key: "redis-on-docker:image", says: /not a Docker image reference/ },
    { why: "image not a string", raw: { image: 5 }, key: "redis-on-docker:image", says: /must be a string/ },
    { why: "clusterNodes not a number", raw: { clusterNodes: "six" }, key: "redis-on-docker:clusterNodes", says: /must be an integer/ },
    { why: "clusterNodes fractional", raw: { clusterNodes: 6.5 }, key: "redis-on-docker:clusterNodes", says: /must be an integer/ },
    { why: "too few masters", raw: { clusterNodes: 4 }, key: "redis-on-docker:clusterNodes", says: /at least 3 masters/ },
    { why: "nodes not a multiple of replicas+1", raw: { clusterNodes: 7 }, key: "redis-on-docker:clusterNodes", says: /multiple of 2/ },
    { why: "replicas leave 2 masters", raw: { clusterNodes: 6, replicasPerMaster: 2 }, key: "redis-on-docker:clusterNodes", says: /at least 3 masters/ },
    { why: "negative replicas", raw: { replicasPerMaster: -1 }, key: "redis-on-docker:replicasPerMaster", says: /between 0/ },
    { why: "subnet not CIDR", raw: { subnet: "172.28.0.0" }, key: "redis-on-docker:subnet", says: /not an IPv4 CIDR/ },
    { why: "subnet octet out of range", raw: { subnet: "172.280.0.0/24" }, key: "redis-on-docker:subnet", says: /not an IPv4 CIDR/ },
    { why: "IPv6 subnet", raw: { subnet: "fd00::/64" }, key: "redis-on-docker:subnet", says: /not an IPv4 CIDR/ },
    { why: "subnet with host bits", raw: { subnet: "172.28.0.5/24" }, key: "redis-on-docker:subnet", says: /host bits set.*172\.28\.0\.0\/24/ },
    { why: "subnet too small", raw: { subnet: "172.28.0.0/27" }, key: "redis-on-docker:subnet", says: /too small.*upper half.*\/26/ },
    { why: "subnet too small for many nodes", raw: { subnet: "172.28.0.0/26", clusterNodes: 24 }, key: "redis-on-docker:subnet", says: /too small/ },
    { why: "port 0", raw: { hostPortBase: 0 }, key: "redis-on-docker:hostPortBase", says: /between 1 and 65535/ },
    { why: "port above range", raw: { hostPortBase: 70000 }, key: "redis-on-docker:hostPortBase", says: /between 1 and 65535/ },
    { why: "ports run past 65535", raw: { hostPortBase: 65530 }, key: "redis-on-docker:hostPortBase", says: /65530\.\.65536/ },
    { why: "bind address a host name", raw: { hostBindAddress: "localhost" }, key: "redis-on-docker:hostBindAddress", says: /not an IP address/ },
    { why: "bind address malformed", raw: { hostBindAddress: "127.0.0.256" }, key: "redis-on-docker:hostBindAddress", says: /not an IP address/ },
    { why: "no password", raw: {}, key: "redis-on-docker:password", says: /no password is set.*allowNoPassword/ },
    { why: "empty password", raw: { password: "" }, key: "redis-on-docker:password", says: /no password is set/ },
    { why: "password with newline", raw: { password: `${PASSWORD}\nmore` }, key: "redis-on-docker:password", says: /line break or NUL/ },
    { why: "password with CR", raw: { password: `${PASSWORD}\r` }, key: "redis-on-docker:password", says: /line break or NUL/ },
    { why: "password with NUL", raw: { password: `${PASSWORD}\0` }, key: "redis-on-docker:password", says: /line break or NUL/ },
    { why: "password too long", raw: { password: PASSWORD.repeat(20) }, key: "redis-on-docker:password", says: /at most 512/ },
    { why: "password not a string", raw: { password: 12345 }, key: "redis-on-docker:password", says: /must be a string/ },
    { why: "allowNoPassword not boolean", raw: { allowNoPassword: "yes" }, key: "redis-on-docker:allowNoPassword", says: /true or false/ },
    { why: "zero node timeout", raw: { nodeTimeoutMs: 0 }, key: "redis-on-docker:nodeTimeoutMs", says: /between 1/ },
    { why: "negative node timeout", raw: { nodeTimeoutMs: "-5" }, key: "redis-on-docker:nodeTimeoutMs", says: /between 1/ },
    { why: "zero bootstrap timeout", raw: { bootstrapTimeoutSec: 0 }, key: "redis-on-docker:bootstrapTimeoutSec", says: /between 1/ },
    { why: "retainDataVolumes not boolean", raw: { retainDataVolumes: "keep" }, key: "redis-on-docker:retainDataVolumes", says: /true or false/ },
    { why: "unknown persistence", raw: { persistence: "both" }, key: "redis-on-docker:persistence", says: /not one of none, rdb, aof/ },
    { why: "name prefix with slash", raw: { namePrefix: "a/b" }, key: "redis-on-docker:namePrefix", says: /not a usable name prefix/ },
    { why: "name prefix starting with dash", raw: { namePrefix: "-x" }, key: "redis-on-docker:namePrefix", says: /not a usable name prefix/ },
  ];

  for (const { why, raw, key, says } of rejections) {
    it(`rejects ${why}, naming ${key}`, () => {
      // A password is present unless the case is about it, so each case fails for its own reason.
      const input = "password" in raw || why === "no password" ? raw : { password: PASSWORD, ...raw };
      const error = rejectionOf(input, "Pulumi.ci.yaml");
      expect(error.setting).to.equal(key);
      expect(error.message).to.contain(key);
      expect(error.message).to.contain("Pulumi.ci.yaml");
      expect(error.message).to.match(says);
      expect(error.message).not.to.contain(PASSWORD);
      expect(error.message).not.to.contain("secret-9731");
    });
  }

  it("names the default source when none is given", () => {
    expect(rejectionOf({ clusterNodes: 2, password: PASSWORD }).message).to.contain("Pulumi.<stack>.yaml");
  });
});
