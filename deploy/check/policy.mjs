// The deployment policy of video2mp3, as functions from parsed manifests to a list of
// problems (empty when everything holds). deploy/check/run feeds them every rendered
// overlay; policy.test.mjs shows each rule failing on a manifest that breaks it.

import { Buffer } from "node:buffer";

const WORKLOAD_KINDS = new Set(["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"]);
const ROLE_REPLICAS = { gateway: 2, auth: 2, converter: 4, notifier: 2 };
const PLACEHOLDER = "CHANGE_ME";

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

function checkContainer(object, pod, container, problems, { role }) {
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
        for (const container of pod.containers ?? []) {
            checkContainer(object, pod, container, problems, { role });
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
export function checkExposure(objects) {
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
        if (bodySize === undefined) {
            problems.push(`${where(ingress)}: no nginx.ingress.kubernetes.io/proxy-body-size`);
        } else if (bodySize !== uploadLimit) {
            problems.push(`${where(ingress)}: proxy-body-size is ${bodySize} bytes but VIDEO2MP3_MAX_UPLOAD_BYTES is ${uploadLimit}`);
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

export function checkAll(objects) {
    return [
        ...checkWorkloads(objects),
        ...checkExposure(objects),
        ...checkSecrets(objects),
        ...checkWiring(objects),
    ];
}
