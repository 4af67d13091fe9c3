// The deployment policy of video2mp3, as functions from parsed manifests to a list of
// problems (empty when everything holds). deploy/check/run feeds them every rendered
// overlay; policy.test.mjs shows each rule failing on a manifest that breaks it.

import { Buffer } from "node:buffer";

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"]);
const ROLE_REPLICAS = { gateway: 2, auth: 2, converter: 4, notifier: 2 };
const PLACEHOLDER = "CHANGE_ME";
/// kMaxMultipartOverhead in src/gateway/gateway.cpp: the gateway refuses a body larger than
/// VIDEO2MP3_MAX_UPLOAD_BYTES plus this (check.mjs reads the real value from the source).
export const MULTIPART_OVERHEAD = 1024 * 1024;
/// The slowest upload the gateway's grace period must let finish: the largest file at this
/// rate (bytes per second).
export const DRAIN_UPLOAD_RATE = 20e6;

const where = (object) => `${object.kind}/${object.metadata?.name ?? "?"}`;

function podSpecOf(object) {
    if (object.kind === "CronJob") {
        return object.spec?.jobTemplate?.spec?.template?.spec;
    }
    return object.spec?.template?.spec;
}

function podLabelsOf(object) {
    return object.spec?.template?.metadata?.labels ?? {};
}

/// `image:tag` or `image@sha256:...`; `latest` and a missing tag are not pinned.
export function imagePinned(image) {
    if (typeof image !== "string" || image.length === 0) {
        return false;
    }
    if (/@sha256:[0-9a-f]{64}$/.test(image)) {
        return true;
    }
    const lastPart = image.slice(image.lastIndexOf("/") + 1);
    const colon = lastPart.indexOf(":");
    if (colon < 0) {
        return false;
    }
    const tag = lastPart.slice(colon + 1);
    return tag.length > 0 && tag !== "latest";
}

/// Is this one of our own containers (the video2mp3 image)?
function isOwnImage(image) {
    const name = image.split("@")[0].replace(/:[^/]*$/, "");
    return name === "video2mp3" || name.endsWith("/video2mp3");
}

function checkContainer(object, pod, container, problems, { role, writableDirs = [] }) {
    const at = `${where(object)} container ${container.name}`;
    if (!imagePinned(container.image)) {
        problems.push(`${at}: image ${container.image} has no pinned tag (not :latest)`);
    }
    for (const probe of ["livenessProbe", "readinessProbe"]) {
        if (!container[probe]) {
            problems.push(`${at}: no ${probe}`);
        }
    }
    if (role && !container.startupProbe) {
        problems.push(`${at}: no startupProbe (the roles wait for their servers at start)`);
    }
    const resources = container.resources ?? {};
    for (const kind of ["requests", "limits"]) {
        for (const resource of ["cpu", "memory"]) {
            if (resources[kind]?.[resource] === undefined) {
                problems.push(`${at}: no resources.${kind}.${resource}`);
            }
        }
    }

    // The restricted Pod Security Standard, with container settings winning over the pod's.
    const podSecurity = pod.securityContext ?? {};
    const security = container.securityContext ?? {};
    const runAsNonRoot = security.runAsNonRoot ?? podSecurity.runAsNonRoot;
    if (runAsNonRoot !== true) {
        problems.push(`${at}: runAsNonRoot is not true`);
    }
    const runAsUser = security.runAsUser ?? podSecurity.runAsUser;
    if (runAsUser === 0) {
        problems.push(`${at}: runs as user 0`);
    }
    if (security.allowPrivilegeEscalation !== false) {
        problems.push(`${at}: allowPrivilegeEscalation is not false`);
    }
    if (security.privileged === true) {
        problems.push(`${at}: privileged`);
    }
    const drop = security.capabilities?.drop ?? [];
    if (!drop.includes("ALL")) {
        problems.push(`${at}: capabilities.drop does not include ALL`);
    }
    const added = (security.capabilities?.add ?? []).filter((c) => c !== "NET_BIND_SERVICE");
    if (added.length > 0) {
        problems.push(`${at}: adds capabilities ${added.join(", ")}`);
    }
    const seccomp = security.seccompProfile?.type ?? podSecurity.seccompProfile?.type;
    if (seccomp !== "RuntimeDefault" && seccomp !== "Localhost") {
        problems.push(`${at}: seccompProfile is not RuntimeDefault`);
    }
    if (isOwnImage(container.image ?? "") && security.readOnlyRootFilesystem !== true) {
        problems.push(`${at}: readOnlyRootFilesystem is not true`);
    }
    // A read-only root needs a writable volume where the program writes: /tmp for every
    // container (the temp folder: Mailpit's database, the converter's default scratch
    // folder), and the folders named in `writableDirs`.
    if (security.readOnlyRootFilesystem === true) {
        const writable = (container.volumeMounts ?? []).filter((m) => m.readOnly !== true)
            .map((m) => m.mountPath.replace(/\/+$/, ""));
        for (const dir of ["/tmp", ...writableDirs]) {
            const clean = dir.replace(/\/+$/, "");
            if (!writable.some((m) => clean === m || clean.startsWith(`${m}/`))) {
                problems.push(`${at}: the root filesystem is read-only and nothing writable is mounted at ${dir}`);
            }
        }
    }

    // A probe on a named port must name a port the container has.
    const portNames = new Set((container.ports ?? []).map((p) => p.name).filter(Boolean));
    for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) {
        const port = container[probe]?.httpGet?.port ?? container[probe]?.tcpSocket?.port;
        if (typeof port === "string" && !portNames.has(port)) {
            problems.push(`${at}: ${probe} uses port ${port}, which the container does not name`);
        }
    }
}

/// Probes, resources, security context and pinned images of every container; the roles'
/// replica counts, volumes for a read-only root, and grace periods.
export function checkWorkloads(objects) {
    const problems = [];
    for (const object of objects.filter((o) => WORKLOAD_KINDS.has(o.kind))) {
        const pod = podSpecOf(object) ?? {};
        const labels = podLabelsOf(object);
        const role = labels["app.kubernetes.io/name"] === "video2mp3"
            ? labels["app.kubernetes.io/component"]
            : undefined;
        if ((pod.containers ?? []).length === 0) {
            problems.push(`${where(object)}: no containers`);
        }
        // The converter writes each MP3 to VIDEO2MP3_SCRATCH_DIR (the temp folder if unset).
        const scratch = role === "converter"
            ? configMapData(objects, "converter-config")?.VIDEO2MP3_SCRATCH_DIR
            : undefined;
        for (const container of pod.containers ?? []) {
            checkContainer(object, pod, container, problems,
                           { role, writableDirs: scratch ? [scratch] : [] });
        }
        for (const container of pod.initContainers ?? []) {
            checkContainer(object, pod, { ...container, livenessProbe: {}, readinessProbe: {},
                                          startupProbe: {} }, problems, { role: undefined });
        }
        if (pod.hostNetwork || pod.hostPID || pod.hostIPC) {
            problems.push(`${where(object)}: shares a host namespace`);
        }
        for (const volume of pod.volumes ?? []) {
            if (volume.hostPath) {
                problems.push(`${where(object)}: hostPath volume ${volume.name}`);
            }
        }
        if (role) {
            const expected = ROLE_REPLICAS[role];
            const replicas = object.spec?.replicas;
            if (expected === undefined) {
                problems.push(`${where(object)}: unknown role ${role}`);
            } else if (replicas !== undefined && replicas !== expected) {
                problems.push(`${where(object)}: ${replicas} replicas, the design has ${expected}`);
            }
            if (pod.automountServiceAccountToken !== false) {
                problems.push(`${where(object)}: mounts a service account token it never uses`);
            }
            const grace = pod.terminationGracePeriodSeconds ?? 30;
            if (grace < 30) {
                problems.push(`${where(object)}: terminationGracePeriodSeconds ${grace} < 30, too short to drain`);
            }
        }
    }
    return problems;
}

function configMapData(objects, name) {
    const found = objects.find((o) => o.kind === "ConfigMap" &&
        (o.metadata?.name === name || o.metadata?.name?.startsWith(`${name}-`)));
    return found?.data;
}

/// `2048m`, `2g`, `1048576`: nginx's size syntax in bytes.
export function nginxSize(text) {
    const match = /^(\d+)([kKmMgG]?)$/.exec(String(text ?? "").trim());
    if (!match) {
        return undefined;
    }
    const unit = { "": 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2].toLowerCase()];
    return Number(match[1]) * unit;
}

/// Only the gateway is reachable from outside, through an Ingress that lets a whole upload
/// through; nothing else (RabbitMQ's management UI included) is exposed.
export function checkExposure(objects, { multipartOverhead = MULTIPART_OVERHEAD } = {}) {
    const problems = [];
    const ingresses = objects.filter((o) => o.kind === "Ingress");
    if (ingresses.length === 0) {
        problems.push("no Ingress for the gateway");
    }
    for (const ingress of ingresses) {
        for (const rule of ingress.spec?.rules ?? []) {
            for (const path of rule.http?.paths ?? []) {
                const service = path.backend?.service?.name;
                if (service !== "gateway") {
                    problems.push(`${where(ingress)}: routes ${rule.host}${path.path} to ${service}; only the gateway may be exposed`);
                }
            }
        }
        const annotations = ingress.metadata?.annotations ?? {};
        const bodySize = nginxSize(annotations["nginx.ingress.kubernetes.io/proxy-body-size"]);
        const gateway = configMapData(objects, "gateway-config") ?? {};
        const uploadLimit = Number(gateway.VIDEO2MP3_MAX_UPLOAD_BYTES ?? 2 * 1024 ** 3);
        // nginx counts the whole body, the gateway the file in it: the body of the largest
        // upload is the file plus the multipart overhead the gateway allows.
        const largestBody = uploadLimit + multipartOverhead;
        if (bodySize === undefined) {
            problems.push(`${where(ingress)}: no nginx.ingress.kubernetes.io/proxy-body-size`);
        } else if (bodySize < largestBody) {
            problems.push(`${where(ingress)}: proxy-body-size is ${bodySize} bytes, less than VIDEO2MP3_MAX_UPLOAD_BYTES ${uploadLimit} + ${multipartOverhead} bytes of multipart overhead = ${largestBody}: nginx would refuse uploads the gateway takes`);
        } else if (bodySize >= 2 * largestBody) {
            problems.push(`${where(ingress)}: proxy-body-size is ${bodySize} bytes, twice or more the largest body the gateway takes (${largestBody})`);
        }
        if (annotations["nginx.ingress.kubernetes.io/proxy-request-buffering"] !== "off") {
            problems.push(`${where(ingress)}: proxy-request-buffering is not off (nginx would spool every upload to disk first)`);
        }
        for (const timeout of ["proxy-send-timeout", "proxy-read-timeout"]) {
            const seconds = Number(annotations[`nginx.ingress.kubernetes.io/${timeout}`] ?? 60);
            if (!(seconds >= 300)) {
                problems.push(`${where(ingress)}: ${timeout} ${seconds} s is too short for a large upload`);
            }
        }
    }
    for (const service of objects.filter((o) => o.kind === "Service")) {
        const type = service.spec?.type ?? "ClusterIP";
        if (type !== "ClusterIP") {
            problems.push(`${where(service)}: type ${type} exposes it outside the cluster`);
        }
        for (const port of service.spec?.ports ?? []) {
            if (port.port === 15672 || port.targetPort === 15672) {
                problems.push(`${where(service)}: exposes RabbitMQ's management UI`);
            }
        }
    }
    return problems;
}

function isPlaceholder(value) {
    return value === "" || value.includes(PLACEHOLDER);
}

/// A Secret may hold placeholders only: every value whose key says secret, and every
/// password inside a URL, is empty or carries CHANGE_ME.
export function checkSecrets(objects) {
    const problems = [];
    for (const secret of objects.filter((o) => o.kind === "Secret")) {
        const values = {};
        for (const [key, encoded] of Object.entries(secret.data ?? {})) {
            values[key] = Buffer.from(encoded, "base64").toString("utf8");
        }
        Object.assign(values, secret.stringData ?? {});
        for (const [key, value] of Object.entries(values)) {
            const secretKey = /PASSWORD|SECRET|TOKEN|KEY|CREDENTIAL/i.test(key);
            if (secretKey && !isPlaceholder(value)) {
                problems.push(`${where(secret)}: ${key} carries a real-looking value, not a ${PLACEHOLDER} placeholder`);
            }
            const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^/@]*)@/i.exec(value);
            if (userinfo && userinfo[1].includes(":") && !userinfo[1].includes(PLACEHOLDER)) {
                problems.push(`${where(secret)}: ${key} has a password in its URL that is not a ${PLACEHOLDER} placeholder`);
            }
        }
    }
    return problems;
}

/// Deny by default, and every Service reaches some pod, and every ConfigMap and Secret a
/// pod names exists.
export function checkWiring(objects) {
    const problems = [];
    const denyAll = objects.some((o) => o.kind === "NetworkPolicy" &&
        Object.keys(o.spec?.podSelector ?? {}).length === 0 &&
        ["Ingress", "Egress"].every((t) => (o.spec?.policyTypes ?? []).includes(t)) &&
        !o.spec?.ingress?.length && !o.spec?.egress?.length);
    if (!denyAll) {
        problems.push("no default-deny NetworkPolicy (empty podSelector, Ingress and Egress, no rules)");
    }

    const workloads = objects.filter((o) => WORKLOAD_KINDS.has(o.kind));
    for (const service of objects.filter((o) => o.kind === "Service")) {
        const selector = service.spec?.selector ?? {};
        const matches = workloads.some((w) => {
            const labels = podLabelsOf(w);
            return Object.entries(selector).every(([k, v]) => labels[k] === v);
        });
        if (Object.keys(selector).length === 0 || !matches) {
            problems.push(`${where(service)}: its selector matches no pod`);
        }
    }

    const names = (kind) => new Set(objects.filter((o) => o.kind === kind).map((o) => o.metadata?.name));
    const configMaps = names("ConfigMap");
    const secrets = names("Secret");
    for (const workload of workloads) {
        const pod = podSpecOf(workload) ?? {};
        const wanted = [];
        for (const container of [...(pod.containers ?? []), ...(pod.initContainers ?? [])]) {
            for (const source of container.envFrom ?? []) {
                if (source.configMapRef) wanted.push(["ConfigMap", source.configMapRef.name]);
                if (source.secretRef) wanted.push(["Secret", source.secretRef.name]);
            }
            for (const variable of container.env ?? []) {
                const from = variable.valueFrom ?? {};
                if (from.configMapKeyRef) wanted.push(["ConfigMap", from.configMapKeyRef.name]);
                if (from.secretKeyRef) wanted.push(["Secret", from.secretKeyRef.name]);
            }
        }
        for (const volume of pod.volumes ?? []) {
            if (volume.configMap) wanted.push(["ConfigMap", volume.configMap.name]);
            if (volume.secret) wanted.push(["Secret", volume.secret.secretName]);
        }
        for (const [kind, name] of wanted) {
            if (!(kind === "ConfigMap" ? configMaps : secrets).has(name)) {
                problems.push(`${where(workload)}: uses ${kind} ${name}, which the overlay does not make`);
            }
        }
    }
    return problems;
}

const isPlainObject = (value) =>
    value !== null && typeof value === "object" && !Array.isArray(value);

/// Where the object has a null (in YAML, a key with nothing under it: most often the keys
/// meant for it were indented beside it instead of below). Kubernetes reads a null as
/// "not set", so the keys meant for it are lost.
function nullsIn(value, path, found) {
    if (value === null) {
        found.push(path);
    } else if (Array.isArray(value)) {
        value.forEach((item, i) => nullsIn(item, `${path}[${i}]`, found));
    } else if (typeof value === "object") {
        for (const [key, item] of Object.entries(value)) {
            nullsIn(item, path ? `${path}.${key}` : key, found);
        }
    }
    return found;
}

const TOP_LEVEL_KEYS = new Set(["apiVersion", "kind", "metadata", "spec", "data", "stringData",
                                "binaryData", "type", "immutable"]);

/// No null anywhere, and no key at the top of an object that no kind has there.
export function checkStructure(objects) {
    const problems = [];
    for (const object of objects) {
        for (const path of nullsIn(object, "", [])) {
            problems.push(`${where(object)}: ${path} is null (a key with nothing under it: are the keys meant for it indented beside it instead of below?)`);
        }
        for (const key of Object.keys(object ?? {})) {
            if (!TOP_LEVEL_KEYS.has(key)) {
                problems.push(`${where(object)}: unknown top-level key ${key}`);
            }
        }
    }
    return problems;
}

function unknownKeys(value, allowed) {
    return Object.keys(value).filter((key) => !allowed.includes(key));
}

/// A metav1.LabelSelector: an object of matchLabels and matchExpressions only.
function labelSelectorProblems(selector, at) {
    if (!isPlainObject(selector)) {
        return [`${at} is ${selector === null ? "null" : typeof selector}, not a label selector object`];
    }
    const problems = [];
    const extra = unknownKeys(selector, ["matchLabels", "matchExpressions"]);
    if (extra.length > 0) {
        problems.push(`${at} has ${extra.join(", ")}, which a label selector has not (only matchLabels and matchExpressions)`);
    }
    if (selector.matchLabels !== undefined &&
        (!isPlainObject(selector.matchLabels) ||
         Object.values(selector.matchLabels).some((v) => typeof v !== "string"))) {
        problems.push(`${at}.matchLabels is not a map of strings`);
    }
    if (selector.matchExpressions !== undefined) {
        if (!Array.isArray(selector.matchExpressions)) {
            problems.push(`${at}.matchExpressions is not a list`);
        } else {
            selector.matchExpressions.forEach((expression, i) => {
                const here = `${at}.matchExpressions[${i}]`;
                if (!isPlainObject(expression) || typeof expression.key !== "string" ||
                    !["In", "NotIn", "Exists", "DoesNotExist"].includes(expression.operator) ||
                    unknownKeys(expression, ["key", "operator", "values"]).length > 0) {
                    problems.push(`${here} is not {key, operator: In|NotIn|Exists|DoesNotExist, values}`);
                }
            });
        }
    }
    return problems;
}

const PEER_KEYS = ["podSelector", "namespaceSelector", "ipBlock"];

/// Every NetworkPolicy has the shape the API reads. kubernetes-models' schemas accept
/// unknown keys and nulls, so a selector indented beside `- podSelector:` instead of under
/// it (a peer `{podSelector: null, matchLabels: ...}`) would pass them, and the API server
/// would refuse the peer, or drop the stray keys and allow more than meant.
export function checkNetworkPolicies(objects) {
    const problems = [];
    for (const policy of objects.filter((o) => o.kind === "NetworkPolicy")) {
        const at = where(policy);
        const spec = policy.spec;
        if (!isPlainObject(spec)) {
            problems.push(`${at}: no spec`);
            continue;
        }
        const extra = unknownKeys(spec, ["podSelector", "policyTypes", "ingress", "egress"]);
        if (extra.length > 0) {
            problems.push(`${at}: spec has ${extra.join(", ")}, which a NetworkPolicy has not`);
        }
        problems.push(...labelSelectorProblems(spec.podSelector, `${at}: spec.podSelector`));
        for (const type of spec.policyTypes ?? []) {
            if (type !== "Ingress" && type !== "Egress") {
                problems.push(`${at}: policyType ${type} is neither Ingress nor Egress`);
            }
        }
        for (const [direction, peersKey] of [["ingress", "from"], ["egress", "to"]]) {
            if (spec[direction] === undefined) {
                continue;
            }
            if (!Array.isArray(spec[direction])) {
                problems.push(`${at}: spec.${direction} is not a list of rules`);
                continue;
            }
            spec[direction].forEach((rule, r) => {
                const ruleAt = `${at}: spec.${direction}[${r}]`;
                if (!isPlainObject(rule)) {
                    problems.push(`${ruleAt} is not a rule object`);
                    return;
                }
                const ruleExtra = unknownKeys(rule, [peersKey, "ports"]);
                if (ruleExtra.length > 0) {
                    problems.push(`${ruleAt} has ${ruleExtra.join(", ")} (an ${direction} rule has only ${peersKey} and ports)`);
                }
                (Array.isArray(rule.ports) ? rule.ports : []).forEach((port, p) => {
                    if (!isPlainObject(port) ||
                        unknownKeys(port, ["protocol", "port", "endPort"]).length > 0) {
                        problems.push(`${ruleAt}.ports[${p}] is not {protocol, port, endPort}`);
                    }
                });
                if (rule[peersKey] !== undefined && !Array.isArray(rule[peersKey])) {
                    problems.push(`${ruleAt}.${peersKey} is not a list of peers`);
                    return;
                }
                (rule[peersKey] ?? []).forEach((peer, i) => {
                    const peerAt = `${ruleAt}.${peersKey}[${i}]`;
                    if (!isPlainObject(peer)) {
                        problems.push(`${peerAt} is not a peer object`);
                        return;
                    }
                    const stray = unknownKeys(peer, PEER_KEYS);
                    if (stray.length > 0) {
                        problems.push(`${peerAt} has ${stray.join(", ")}: a peer has only podSelector, namespaceSelector and ipBlock (is a selector indented beside its key instead of under it?)`);
                    }
                    const present = PEER_KEYS.filter((key) => peer[key] !== undefined);
                    if (present.length === 0) {
                        problems.push(`${peerAt} names no podSelector, namespaceSelector or ipBlock`);
                    }
                    if (present.includes("ipBlock") && present.length > 1) {
                        problems.push(`${peerAt} combines ipBlock with a selector, which the API refuses`);
                    }
                    for (const key of ["podSelector", "namespaceSelector"]) {
                        if (peer[key] !== undefined) {
                            problems.push(...labelSelectorProblems(peer[key], `${peerAt}.${key}`));
                        }
                    }
                    if (peer.ipBlock !== undefined && (!isPlainObject(peer.ipBlock) ||
                        typeof peer.ipBlock.cidr !== "string" ||
                        unknownKeys(peer.ipBlock, ["cidr", "except"]).length > 0)) {
                        problems.push(`${peerAt}.ipBlock is not {cidr, except}`);
                    }
                });
            });
        }
    }
    // The other label selectors (workloads', PodDisruptionBudgets') have the same shape.
    for (const object of objects.filter((o) => WORKLOAD_KINDS.has(o.kind) ||
                                              o.kind === "PodDisruptionBudget")) {
        if (object.spec?.selector !== undefined) {
            problems.push(...labelSelectorProblems(object.spec.selector,
                                                   `${where(object)}: spec.selector`));
        }
    }
    return problems;
}

/// The gateway's shutdown: /readyz answers 503 for VIDEO2MP3_SHUTDOWN_DELAY before it stops
/// taking requests, which must be long enough for the readiness probe to mark the pod
/// unready (periodSeconds x failureThreshold); then the requests in flight finish, the
/// longest being the largest upload at DRAIN_UPLOAD_RATE, all within the grace period.
export function checkDraining(objects) {
    const problems = [];
    const gateway = configMapData(objects, "gateway-config") ?? {};
    const delay = Number(gateway.VIDEO2MP3_SHUTDOWN_DELAY ?? 0);
    const uploadLimit = Number(gateway.VIDEO2MP3_MAX_UPLOAD_BYTES ?? 2 * 1024 ** 3);
    const drain = Math.ceil(uploadLimit / DRAIN_UPLOAD_RATE);
    for (const object of objects.filter((o) => WORKLOAD_KINDS.has(o.kind))) {
        const labels = podLabelsOf(object);
        if (labels["app.kubernetes.io/name"] !== "video2mp3" ||
            labels["app.kubernetes.io/component"] !== "gateway") {
            continue;
        }
        const pod = podSpecOf(object) ?? {};
        const probe = pod.containers?.[0]?.readinessProbe;
        if (probe) {
            const period = probe.periodSeconds ?? 10;
            const failures = probe.failureThreshold ?? 3;
            if (!(delay >= period * failures)) {
                problems.push(`${where(object)}: VIDEO2MP3_SHUTDOWN_DELAY ${delay} s is less than the readinessProbe's periodSeconds ${period} x failureThreshold ${failures} = ${period * failures} s: the gateway would stop taking requests while still marked ready`);
            }
        }
        const grace = pod.terminationGracePeriodSeconds ?? 30;
        if (!(grace > delay + drain)) {
            problems.push(`${where(object)}: terminationGracePeriodSeconds ${grace} is not more than VIDEO2MP3_SHUTDOWN_DELAY ${delay} s + ${drain} s to finish a ${uploadLimit}-byte upload at ${DRAIN_UPLOAD_RATE / 1e6} MB/s`);
        }
    }
    return problems;
}

/// `250m`, `1`, `0.5` in cores.
export function cpuCores(quantity) {
    const match = /^(\d+(?:\.\d+)?)(m?)$/.exec(String(quantity ?? "").trim());
    if (!match) {
        return undefined;
    }
    return Number(match[1]) / (match[2] === "m" ? 1000 : 1);
}

function podCpuRequest(pod) {
    const sum = (containers) => (containers ?? [])
        .reduce((total, c) => total + (cpuCores(c.resources?.requests?.cpu) ?? 0), 0);
    const init = Math.max(0, ...(pod.initContainers ?? [])
        .map((c) => cpuCores(c.resources?.requests?.cpu) ?? 0));
    return Math.max(sum(pod.containers), init);
}

/// Pods a rolling update may add: maxSurge as a count or a percentage (rounded up) of the
/// replicas; 25% by default.
function surgePods(deployment) {
    const strategy = deployment.spec?.strategy ?? {};
    if (strategy.type === "Recreate") {
        return 0;
    }
    const surge = strategy.rollingUpdate?.maxSurge ?? "25%";
    const replicas = deployment.spec?.replicas ?? 1;
    if (typeof surge === "string" && surge.endsWith("%")) {
        return Math.ceil(replicas * Number(surge.slice(0, -1)) / 100);
    }
    return Number(surge);
}

/// The CPU requests of everything the overlay runs (every replica), plus what the cluster's
/// own pods take, plus the largest rolling-update surge, must fit the node's cores, or pods
/// stay Pending. Returns the problems and the sums.
export function cpuBudget(objects, { cores, reservedCores }) {
    let requested = 0;
    let surge = 0;
    for (const object of objects.filter((o) => WORKLOAD_KINDS.has(o.kind))) {
        const perPod = podCpuRequest(podSpecOf(object) ?? {});
        const replicas = ["Deployment", "StatefulSet"].includes(object.kind)
            ? object.spec?.replicas ?? 1
            : 1;
        requested += perPod * replicas;
        if (object.kind === "Deployment") {
            surge = Math.max(surge, perPod * surgePods(object));
        }
    }
    const round = (n) => Math.round(n * 1000) / 1000;
    const total = round(requested + reservedCores + surge);
    const summary = `CPU requests ${round(requested)} cores + ${reservedCores} for the cluster's own pods + ${round(surge)} for a surge pod = ${total} of ${cores}`;
    const problems = total > cores
        ? [`${summary}: more than the node has, so pods would stay Pending`]
        : [];
    return { problems, summary, requested: round(requested), surge: round(surge), total };
}

/// `options.multipartOverhead`: the gateway's (from its source); `options.cpu`: the node's
/// `{cores, reservedCores}` where the overlay has a known budget (minikube).
export function checkAll(objects, options = {}) {
    return [
        ...checkStructure(objects),
        ...checkWorkloads(objects),
        ...checkExposure(objects, options),
        ...checkDraining(objects),
        ...checkNetworkPolicies(objects),
        ...checkSecrets(objects),
        ...checkWiring(objects),
        ...(options.cpu ? cpuBudget(objects, options.cpu).problems : []),
    ];
}
