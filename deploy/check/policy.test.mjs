// Each rule of the deployment policy fails on a manifest that breaks it.
// Run: node --test deploy/check/
import assert from "node:assert/strict";
import { test } from "node:test";
import { checkAll, cpuBudget, cpuCores, imagePinned, nginxSize } from "./policy.mjs";
import { checkCompose, checkDockerfile } from "./artifacts.mjs";
import { validateObject } from "./schema.mjs";

function role(name, replicas) {
    const labels = { "app.kubernetes.io/name": "video2mp3", "app.kubernetes.io/component": name };
    const probe = { httpGet: { path: "/healthz", port: "http" } };
    return {
        apiVersion: "apps/v1",
        kind: "Deployment",
        metadata: { name },
        spec: {
            replicas,
            selector: { matchLabels: labels },
            template: {
                metadata: { labels },
                spec: {
                    automountServiceAccountToken: false,
                    terminationGracePeriodSeconds: 60,
                    securityContext: { runAsNonRoot: true, runAsUser: 10001,
                                       seccompProfile: { type: "RuntimeDefault" } },
                    containers: [{
                        name,
                        image: "video2mp3:0.1.0",
                        args: [name],
                        ports: [{ name: "http", containerPort: 8080 }],
                        envFrom: [{ configMapRef: { name: `${name}-config` } }],
                        startupProbe: probe,
                        livenessProbe: probe,
                        readinessProbe: { httpGet: { path: "/readyz", port: "http" } },
                        resources: { requests: { cpu: "100m", memory: "64Mi" },
                                     limits: { cpu: "1", memory: "256Mi" } },
                        securityContext: { allowPrivilegeEscalation: false,
                                           readOnlyRootFilesystem: true,
                                           capabilities: { drop: ["ALL"] } },
                        volumeMounts: [{ name: "secrets", mountPath: "/run/secrets", readOnly: true },
                                       { name: "tmp", mountPath: "/tmp" }],
                    }],
                    volumes: [{ name: "secrets", secret: { secretName: "video2mp3-secrets" } },
                              { name: "tmp", emptyDir: {} }],
                },
            },
        },
    };
}

function gateway() {
    const deployment = role("gateway", 2);
    const pod = deployment.spec.template.spec;
    pod.terminationGracePeriodSeconds = 150;
    Object.assign(pod.containers[0].readinessProbe, { periodSeconds: 5, failureThreshold: 2 });
    return deployment;
}

function goodObjects() {
    const base64 = (text) => Buffer.from(text).toString("base64");
    return [
        gateway(), role("auth", 2), role("converter", 4), role("notifier", 2),
        ...["gateway", "auth", "converter", "notifier"].map((name) => ({
            apiVersion: "v1", kind: "ConfigMap", metadata: { name: `${name}-config` },
            data: {
                gateway: { VIDEO2MP3_MAX_UPLOAD_BYTES: "2147483648", VIDEO2MP3_SHUTDOWN_DELAY: "15" },
                converter: { VIDEO2MP3_SCRATCH_DIR: "/tmp/scratch" },
            }[name] ?? {},
        })),
        {
            apiVersion: "v1", kind: "Secret", metadata: { name: "video2mp3-secrets" },
            data: { JWT_SECRET: base64("CHANGE_ME_jwt"),
                    AMQP_URL: base64("amqp://video2mp3:CHANGE_ME_mq@rabbitmq:5672/"),
                    SMTP_URL: base64("smtp://mailpit:1025"), SMTP_PASSWORD: "" },
        },
        {
            apiVersion: "v1", kind: "Service", metadata: { name: "gateway" },
            spec: { selector: { "app.kubernetes.io/component": "gateway" },
                    ports: [{ port: 8080 }] },
        },
        {
            apiVersion: "networking.k8s.io/v1", kind: "Ingress", metadata: {
                name: "gateway", annotations: {
                    "nginx.ingress.kubernetes.io/proxy-body-size": "2050m",
                    "nginx.ingress.kubernetes.io/proxy-request-buffering": "off",
                    "nginx.ingress.kubernetes.io/proxy-send-timeout": "600",
                    "nginx.ingress.kubernetes.io/proxy-read-timeout": "600",
                },
            },
            spec: { rules: [{ host: "mp3converter.com", http: { paths: [{
                path: "/", pathType: "Prefix",
                backend: { service: { name: "gateway", port: { number: 8080 } } } }] } }] },
        },
        {
            apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy",
            metadata: { name: "default-deny" },
            spec: { podSelector: {}, policyTypes: ["Ingress", "Egress"] },
        },
        {
            apiVersion: "networking.k8s.io/v1", kind: "NetworkPolicy",
            metadata: { name: "auth-from-gateway" },
            spec: {
                podSelector: { matchLabels: { "app.kubernetes.io/component": "auth" } },
                policyTypes: ["Ingress"],
                ingress: [{
                    from: [{
                        podSelector: {
                            matchLabels: { "app.kubernetes.io/name": "video2mp3" },
                            matchExpressions: [{ key: "app.kubernetes.io/component",
                                                 operator: "In", values: ["gateway"] }],
                        },
                        namespaceSelector: { matchLabels: { team: "video2mp3" } },
                    }, { ipBlock: { cidr: "10.20.0.0/16" } }],
                    ports: [{ protocol: "TCP", port: 8081 }],
                }],
            },
        },
    ];
}

const find = (objects, kind, name) =>
    objects.find((o) => o.kind === kind && o.metadata.name === name);
const container = (objects, name) =>
    find(objects, "Deployment", name).spec.template.spec.containers[0];

/// Applies `breakIt` to a good set and returns the problems found.
function problemsAfter(breakIt) {
    const objects = goodObjects();
    breakIt(objects);
    return checkAll(objects);
}

function assertFlags(breakIt, pattern) {
    const problems = problemsAfter(breakIt);
    assert.ok(problems.some((p) => pattern.test(p)),
              `expected a problem matching ${pattern}, got:\n${problems.join("\n")}`);
}

test("a manifest set that follows the policy passes", () => {
    assert.deepEqual(checkAll(goodObjects()), []);
});

test("every container needs liveness and readiness probes, roles a startup probe", () => {
    assertFlags((o) => delete container(o, "auth").livenessProbe, /auth.*no livenessProbe/);
    assertFlags((o) => delete container(o, "gateway").readinessProbe,
                /gateway.*no readinessProbe/);
    assertFlags((o) => delete container(o, "converter").startupProbe,
                /converter.*no startupProbe/);
    // A misspelt field is as good as a missing one.
    assertFlags((o) => {
        const c = container(o, "notifier");
        c.livenessprobe = c.livenessProbe;
        delete c.livenessProbe;
    }, /notifier.*no livenessProbe/);
});

test("a probe must use a port the container names", () => {
    assertFlags((o) => { container(o, "auth").readinessProbe.httpGet.port = "health"; },
                /readinessProbe uses port health/);
});

test("every container needs cpu and memory requests and limits", () => {
    assertFlags((o) => delete container(o, "converter").resources.limits.memory,
                /converter.*no resources.limits.memory/);
    assertFlags((o) => delete container(o, "gateway").resources.requests,
                /gateway.*no resources.requests.cpu/);
});

test("the restricted security context is required", () => {
    assertFlags((o) => { container(o, "gateway").securityContext.allowPrivilegeEscalation = true; },
                /allowPrivilegeEscalation is not false/);
    assertFlags((o) => { container(o, "gateway").securityContext.capabilities.drop = ["NET_RAW"]; },
                /capabilities.drop does not include ALL/);
    assertFlags((o) => {
        find(o, "Deployment", "auth").spec.template.spec.securityContext.runAsNonRoot = false;
    }, /auth.*runAsNonRoot is not true/);
    assertFlags((o) => {
        delete find(o, "Deployment", "auth").spec.template.spec.securityContext.seccompProfile;
    }, /seccompProfile is not RuntimeDefault/);
    assertFlags((o) => { container(o, "notifier").securityContext.readOnlyRootFilesystem = false; },
                /notifier.*readOnlyRootFilesystem is not true/);
    assertFlags((o) => { container(o, "notifier").securityContext.runAsUser = 0; },
                /runs as user 0/);
});

test("a read-only root has writable volumes at /tmp and the converter's scratch folder", () => {
    assertFlags((o) => { container(o, "notifier").volumeMounts.pop(); },
                /notifier.*read-only and nothing writable is mounted at \/tmp/);
    assertFlags((o) => { container(o, "auth").volumeMounts[1].readOnly = true; },
                /auth.*nothing writable is mounted at \/tmp/);
    assertFlags((o) => {
        find(o, "ConfigMap", "converter-config").data.VIDEO2MP3_SCRATCH_DIR = "/scratch";
    }, /converter.*nothing writable is mounted at \/scratch/);
});

test("image tags are pinned", () => {
    assert.equal(imagePinned("video2mp3:0.1.0"), true);
    assert.equal(imagePinned("registry.example.com:5000/video2mp3:0.1.0"), true);
    assert.equal(imagePinned(`mongo@sha256:${"a".repeat(64)}`), true);
    assert.equal(imagePinned("mongo"), false);
    assert.equal(imagePinned("mongo:latest"), false);
    assert.equal(imagePinned("registry.example.com:5000/video2mp3"), false);
    assertFlags((o) => { container(o, "converter").image = "video2mp3:latest"; },
                /image video2mp3:latest has no pinned tag/);
});

test("the roles keep the seed's replica counts", () => {
    assertFlags((o) => { find(o, "Deployment", "converter").spec.replicas = 1; },
                /converter: 1 replicas, the design has 4/);
});

test("no Secret carries a real value", () => {
    const setSecret = (key, value) => (o) => {
        find(o, "Secret", "video2mp3-secrets").data[key] = Buffer.from(value).toString("base64");
    };
    assertFlags(setSecret("JWT_SECRET", "d3b07384d113edec49eaa6238ad5ff00"),
                /JWT_SECRET carries a real-looking value/);
    assertFlags(setSecret("AMQP_URL", "amqp://video2mp3:hunter2@rabbitmq:5672/"),
                /AMQP_URL has a password in its URL/);
    assertFlags((o) => {
        find(o, "Secret", "video2mp3-secrets").stringData = { SMTP_PASSWORD: "hunter2" };
    }, /SMTP_PASSWORD carries a real-looking value/);
});

test("the Ingress exposes only the gateway and lets a whole upload through", () => {
    assertFlags((o) => {
        find(o, "Ingress", "gateway").spec.rules[0].http.paths[0].backend.service.name = "auth";
    }, /only the gateway may be exposed/);
    assertFlags((o) => {
        find(o, "ConfigMap", "gateway-config").data.VIDEO2MP3_MAX_UPLOAD_BYTES = "4294967296";
    }, /proxy-body-size is 2149580800 bytes, less than VIDEO2MP3_MAX_UPLOAD_BYTES 4294967296/);
    // Equal to the upload limit is too small: the multipart headers come on top.
    const bodySize = (value) => (o) => {
        find(o, "Ingress", "gateway").metadata.annotations[
            "nginx.ingress.kubernetes.io/proxy-body-size"] = value;
    };
    assertFlags(bodySize("2048m"), /2147483648 \+ 1048576 bytes of multipart overhead/);
    assertFlags(bodySize("0"), /proxy-body-size is 0 bytes, less than/);
    assertFlags(bodySize("5g"), /twice or more the largest body/);
    assert.deepEqual(problemsAfter(bodySize("2100m")), []);
    // The overhead the gateway's source says.
    const objects = goodObjects();
    assert.match(checkAll(objects, { multipartOverhead: 64 * 1024 ** 2 }).join("\n"),
                 /less than VIDEO2MP3_MAX_UPLOAD_BYTES 2147483648 \+ 67108864/);
    assertFlags((o) => {
        delete find(o, "Ingress", "gateway").metadata.annotations[
            "nginx.ingress.kubernetes.io/proxy-request-buffering"];
    }, /proxy-request-buffering is not off/);
    assertFlags((o) => {
        find(o, "Ingress", "gateway").metadata.annotations[
            "nginx.ingress.kubernetes.io/proxy-read-timeout"] = "60";
    }, /proxy-read-timeout 60 s is too short/);
    assert.equal(nginxSize("2g"), 2 * 1024 ** 3);
    assert.equal(nginxSize("512k"), 512 * 1024);
    assert.equal(nginxSize("lots"), undefined);
});

test("nothing else is exposed, the management UI least of all", () => {
    assertFlags((o) => { find(o, "Service", "gateway").spec.type = "LoadBalancer"; },
                /type LoadBalancer exposes it/);
    assertFlags((o) => o.push({ apiVersion: "v1", kind: "Service", metadata: { name: "mq" },
                                spec: { selector: { "app.kubernetes.io/component": "auth" },
                                        ports: [{ port: 15672 }] } }),
                /management UI/);
});

test("deny by default, and every reference resolves", () => {
    assertFlags((o) => o.splice(o.indexOf(find(o, "NetworkPolicy", "default-deny")), 1),
                /no default-deny NetworkPolicy/);
    assertFlags((o) => {
        find(o, "Service", "gateway").spec.selector = { "app.kubernetes.io/component": "gatway" };
    }, /Service\/gateway: its selector matches no pod/);
    assertFlags((o) => {
        container(o, "auth").envFrom[0].configMapRef.name = "auth-settings";
    }, /uses ConfigMap auth-settings, which the overlay does not make/);
});

test("the schemas catch malformed objects and unknown kinds", async () => {
    const deployment = goodObjects()[0];
    assert.deepEqual(await validateObject(deployment), []);
    const wrong = structuredClone(deployment);
    wrong.spec.replicas = "two";
    assert.match((await validateObject(wrong)).join(), /replicas must be integer/);
    const quantity = structuredClone(deployment);
    quantity.spec.template.spec.containers[0].resources.limits.cpu = "lots";
    assert.match((await validateObject(quantity)).join(), /cpu/);
    assert.match((await validateObject({ apiVersion: "example.com/v1", kind: "Widget",
                                         metadata: { name: "w" } })).join(),
                 /no schema for example.com\/v1 Widget/);
    const scaled = { apiVersion: "keda.sh/v1alpha1", kind: "ScaledObject",
                     metadata: { name: "converter" },
                     spec: { scaleTargetRef: { name: "converter" }, triggers: "rabbitmq" } };
    assert.notDeepEqual(await validateObject(scaled), []);
});

const DOCKERFILE = `FROM debian:12.8-slim AS build
RUN apt-get install -y g++
COPY src src
FROM debian:12.8-slim
RUN apt-get update && apt-get install -y --no-install-recommends \\
    libpq5 libsodium23 && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/video2mp3 /usr/local/bin/
USER 10001:10001
ENTRYPOINT ["video2mp3"]
`;

test("the Dockerfile: pinned Debian 12, non-root, every linked library installed", () => {
    const check = (text, runtimePackages = ["libpq5", "libc6"]) =>
        checkDockerfile(text, { imagePinned, runtimePackages });
    assert.deepEqual(check(DOCKERFILE), []);
    assert.match(check(DOCKERFILE, ["libpq5", "librabbitmq4"]).join(),
                 /does not install librabbitmq4/);
    assert.match(check(DOCKERFILE.replaceAll("debian:12.8-slim", "debian")).join(),
                 /base image debian is not pinned/);
    assert.match(check(DOCKERFILE.replace("USER 10001:10001\n", "")).join(), /non-root USER/);
    assert.match(check(DOCKERFILE.replace("libpq5 ", "libpq-dev libpq5 ")).join(),
                 /installs build tool libpq-dev/);
});

test("compose: every role and server, pinned, the gateway on 8080", () => {
    const services = {
        gateway: { image: "video2mp3:0.1.0", command: ["gateway"], ports: ["8080:8080"] },
        auth: { image: "video2mp3:0.1.0", command: ["auth"] },
        converter: { image: "video2mp3:0.1.0", command: ["converter"] },
        notifier: { image: "video2mp3:0.1.0", command: ["notifier"] },
        mongodb: { image: "mongo:7.0.14" },
        rabbitmq: { image: "rabbitmq:3.13.7-management" },
        postgres: { image: "postgres:15.8" },
        mailpit: { image: "axllent/mailpit:v1.20.4" },
    };
    const check = (change) => {
        const copy = structuredClone(services);
        change(copy);
        return checkCompose({ services: copy }, { imagePinned }).join("\n");
    };
    assert.equal(check(() => {}), "");
    assert.match(check((s) => delete s.notifier), /no notifier service/);
    assert.match(check((s) => { s.mongodb.image = "mongo:6.0.5"; }), /no MongoDB 7/);
    assert.match(check((s) => { s.rabbitmq.image = "rabbitmq:3.13.7"; }), /management plugin/);
    assert.match(check((s) => { s.postgres.image = "postgres"; }), /postgres's image postgres is not pinned/);
    assert.match(check((s) => { s.gateway.ports = ["8000:8080"]; }), /not published on port 8080/);
    assert.match(check((s) => { s.auth.command = ["gateway"]; }), /auth does not run/);
});

test("the gateway is marked unready before it stops, and has time to drain", () => {
    const gatewayPod = (o) => find(o, "Deployment", "gateway").spec.template.spec;
    assertFlags((o) => {
        find(o, "ConfigMap", "gateway-config").data.VIDEO2MP3_SHUTDOWN_DELAY = "5";
    }, /SHUTDOWN_DELAY 5 s is less than the readinessProbe's periodSeconds 5 x failureThreshold 2 = 10 s/);
    assertFlags((o) => { delete find(o, "ConfigMap", "gateway-config").data.VIDEO2MP3_SHUTDOWN_DELAY; },
                /SHUTDOWN_DELAY 0 s is less than/);
    // The probe's defaults (10 s x 3) count when the manifest leaves them out.
    assertFlags((o) => {
        const probe = gatewayPod(o).containers[0].readinessProbe;
        delete probe.periodSeconds;
        delete probe.failureThreshold;
    }, /periodSeconds 10 x failureThreshold 3 = 30 s/);
    assertFlags((o) => { gatewayPod(o).containers[0].readinessProbe.periodSeconds = 10; },
                /periodSeconds 10 x failureThreshold 2 = 20 s/);
    assertFlags((o) => { gatewayPod(o).terminationGracePeriodSeconds = 120; },
                /terminationGracePeriodSeconds 120 is not more than VIDEO2MP3_SHUTDOWN_DELAY 15 s \+ 108 s/);
});

test("NetworkPolicies are well formed: no nulls, no stray keys in a peer", () => {
    const peer = (o) => find(o, "NetworkPolicy", "auth-from-gateway").spec.ingress[0].from[0];
    // The selector indented beside `- podSelector:` instead of under it.
    const misIndented = (o) => {
        const p = peer(o);
        Object.assign(p, p.podSelector);
        p.podSelector = null;
    };
    assertFlags(misIndented, /spec.ingress\[0\].from\[0\].podSelector is null/);
    assertFlags(misIndented, /from\[0\] has matchLabels, matchExpressions: a peer has only podSelector/);
    assertFlags((o) => { peer(o).podSelector.matchLabel = { a: "b" }; },
                /podSelector has matchLabel, which a label selector has not/);
    assertFlags((o) => { delete peer(o).podSelector; delete peer(o).namespaceSelector; },
                /from\[0\] names no podSelector, namespaceSelector or ipBlock/);
    assertFlags((o) => { peer(o).ipBlock = { cidr: "10.0.0.0/8" }; },
                /combines ipBlock with a selector/);
    assertFlags((o) => {
        const rule = find(o, "NetworkPolicy", "auth-from-gateway").spec.ingress[0];
        rule.to = rule.from;
        delete rule.from;
    }, /spec.ingress\[0\] has to \(an ingress rule has only from and ports\)/);
    assertFlags((o) => { peer(o).podSelector.matchExpressions[0].operator = "in"; },
                /matchExpressions\[0\] is not \{key, operator/);
    assertFlags((o) => { find(o, "NetworkPolicy", "default-deny").spec.podSelector = null; },
                /default-deny: spec.podSelector is null/);
    // A null anywhere else, and a key at the top that belongs under spec.
    assertFlags((o) => { container(o, "auth").env = null; }, /Deployment\/auth: spec.template.spec.containers\[0\].env is null/);
    assertFlags((o) => { find(o, "Service", "gateway").selector = {}; },
                /Service\/gateway: unknown top-level key selector/);
});

test("the CPU requests fit the node, with a surge pod", () => {
    assert.equal(cpuCores("250m"), 0.25);
    assert.equal(cpuCores("2"), 2);
    assert.equal(cpuCores("0.5"), 0.5);
    assert.equal(cpuCores("lots"), undefined);
    // 2 x 0.1 + 2 x 0.1 + 4 x 0.1 + 2 x 0.1 = 1 core; the largest surge is one 0.1 pod.
    const sums = cpuBudget(goodObjects(), { cores: 4, reservedCores: 0.85 });
    assert.deepEqual([sums.requested, sums.surge, sums.total, sums.problems], [1, 0.1, 1.95, []]);
    assert.deepEqual(checkAll(goodObjects(), { cpu: { cores: 4, reservedCores: 0.85 } }), []);
    const heavy = (o) => { container(o, "converter").resources.requests.cpu = "750m"; };
    const objects = goodObjects();
    heavy(objects);
    // 0.6 + 4 x 0.75 = 3.6, + 0.85, + a 0.75 surge pod (25% of 4) = 5.2 > 4.
    assert.match(checkAll(objects, { cpu: { cores: 4, reservedCores: 0.85 } }).join("\n"),
                 /CPU requests 3.6 cores \+ 0.85 .* \+ 0.75 for a surge pod = 5.2 of 4: more than the node has/);
    assert.deepEqual(checkAll(objects), []); // no budget where none is given
});
