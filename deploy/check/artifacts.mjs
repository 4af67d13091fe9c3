// Checks of the files around the manifests: the Dockerfile (pinned base images, a runtime
// stage that installs the package of every library the binary links, a non-root user) and
// compose.yaml (pinned images, every role and server, the gateway on 8080).

/// FROM lines and, per stage, the packages its `apt-get install` names.
export function parseDockerfile(text) {
    const joined = text.replace(/\\\n/g, " ");
    const stages = [];
    for (const line of joined.split("\n")) {
        const trimmed = line.trim();
        const from = /^FROM\s+(\S+)(?:\s+AS\s+(\S+))?/i.exec(trimmed);
        if (from) {
            stages.push({ image: from[1], name: from[2], packages: [], user: undefined,
                          copies: [] });
            continue;
        }
        const stage = stages.at(-1);
        if (!stage) {
            continue;
        }
        const install = /apt-get\s+install\s+(.*?)(?:&&|$)/.exec(trimmed);
        if (install) {
            stage.packages.push(...install[1].split(/\s+/).filter((w) => w && !w.startsWith("-")));
        }
        const user = /^USER\s+(\S+)/i.exec(trimmed);
        if (user) {
            stage.user = user[1];
        }
        const copy = /^COPY\s+(?!--from)(.*)$/i.exec(trimmed);
        if (copy) {
            const parts = copy[1].split(/\s+/).filter((p) => !p.startsWith("--"));
            stage.copies.push(...parts.slice(0, -1));
        }
    }
    return stages;
}

/// `runtimePackages`: the Debian packages that own the libraries the binary needs
/// (deploy/check/run finds them with objdump and dpkg); the base image's own libc6 and
/// libgcc-s1 need not be listed.
export function checkDockerfile(text, { imagePinned, runtimePackages = [] }) {
    const problems = [];
    const stages = parseDockerfile(text);
    if (stages.length < 2) {
        problems.push("Dockerfile: not multi-stage (a build stage and a runtime stage)");
        return problems;
    }
    const stageNames = new Set(stages.map((s) => s.name).filter(Boolean));
    for (const stage of stages) {
        if (!stageNames.has(stage.image) && !imagePinned(stage.image)) {
            problems.push(`Dockerfile: base image ${stage.image} is not pinned`);
        }
        if (!/^debian:12[.\w-]*$|^debian:bookworm[\w.-]*$/.test(stage.image) &&
            !stageNames.has(stage.image)) {
            problems.push(`Dockerfile: base image ${stage.image} is not Debian 12`);
        }
    }
    const runtime = stages.at(-1);
    const user = runtime.user?.split(":")[0];
    if (!user || user === "root" || user === "0") {
        problems.push("Dockerfile: the runtime stage does not switch to a non-root USER");
    }
    const baseImagePackages = new Set(["libc6", "libgcc-s1"]);
    for (const needed of runtimePackages) {
        if (!baseImagePackages.has(needed) && !runtime.packages.includes(needed)) {
            problems.push(`Dockerfile: the runtime stage does not install ${needed}, which the binary links`);
        }
    }
    for (const pkg of runtime.packages) {
        if (/-dev$/.test(pkg) || ["g++", "gcc", "cmake"].includes(pkg)) {
            problems.push(`Dockerfile: the runtime stage installs build tool ${pkg}`);
        }
    }
    return problems;
}

export function checkCompose(compose, { imagePinned }) {
    const problems = [];
    const services = compose?.services ?? {};
    for (const role of ["gateway", "auth", "converter", "notifier"]) {
        const service = services[role];
        if (!service) {
            problems.push(`compose.yaml: no ${role} service`);
            continue;
        }
        const command = [].concat(service.command ?? []);
        if (command[0] !== role) {
            problems.push(`compose.yaml: ${role} does not run \`video2mp3 ${role}\``);
        }
    }
    const images = Object.entries(services).map(([name, s]) => [name, s.image]);
    for (const [name, image] of images) {
        if (!imagePinned(image)) {
            problems.push(`compose.yaml: ${name}'s image ${image} is not pinned`);
        }
    }
    const has = (pattern) => images.some(([, image]) => pattern.test(image ?? ""));
    if (!has(/^mongo:7[.\d]*/)) problems.push("compose.yaml: no MongoDB 7");
    if (!has(/^rabbitmq:[\w.]*-management/)) problems.push("compose.yaml: no RabbitMQ with its management plugin");
    if (!has(/^postgres:/)) problems.push("compose.yaml: no PostgreSQL");
    if (!has(/mailpit|mailhog|maildev|smtp4dev/)) problems.push("compose.yaml: no mail catcher");
    const gatewayPorts = [].concat(services.gateway?.ports ?? []).map(String);
    if (!gatewayPorts.some((p) => /(^|:)8080:8080$/.test(p))) {
        problems.push("compose.yaml: the gateway is not published on port 8080");
    }
    return problems;
}
