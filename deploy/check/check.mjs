#!/usr/bin/env node
// Usage: node check.mjs [--manifests NAME=FILE]... [--dockerfile FILE] [--compose FILE]
//                       [--runtime-packages "pkg pkg ..."] [--gateway-source FILE]
// Prints every problem found and exits 1 when there is one. deploy/check/run calls it with
// each rendered overlay. --gateway-source (src/gateway/gateway.cpp) gives the multipart
// overhead the gateway allows on top of the upload limit, for the Ingress's body size.
import fs from "node:fs";
import { parseAllDocuments, parse } from "yaml";
import { validateAll } from "./schema.mjs";
import { MULTIPART_OVERHEAD, checkAll, cpuBudget, imagePinned } from "./policy.mjs";
import { checkCompose, checkDockerfile } from "./artifacts.mjs";

// The node each overlay is meant for: the README starts minikube with `--cpus 4`; its own
// pods ask about 0.85 core (kubeadm's defaults: kube-apiserver 250m, controller-manager
// 200m, etcd, scheduler and CoreDNS 100m each) with the ingress addon's controller (100m).
const CPU_BUDGETS = { minikube: { cores: 4, reservedCores: 0.85 } };

const args = process.argv.slice(2);
const problems = [];

/// kMaxMultipartOverhead from the gateway's source: a product of integers (`1024 * 1024`).
function multipartOverheadFrom(file) {
    const match = /kMaxMultipartOverhead\s*=\s*([^;]+);/.exec(fs.readFileSync(file, "utf8"));
    const factors = match?.[1].split("*").map((f) => f.trim().replace(/[uUlL]+$/, ""));
    if (!factors || factors.some((f) => !/^\d+$/.test(f))) {
        problems.push(`${file}: no kMaxMultipartOverhead = N * M ...; the check cannot tell the gateway's multipart overhead`);
        return MULTIPART_OVERHEAD;
    }
    return factors.reduce((product, f) => product * Number(f), 1);
}

const sourceAt = args.indexOf("--gateway-source");
const multipartOverhead = sourceAt >= 0 ? multipartOverheadFrom(args[sourceAt + 1])
                                        : MULTIPART_OVERHEAD;
for (let i = 0; i < args.length; i += 2) {
    const [flag, value] = [args[i], args[i + 1]];
    if (value === undefined) {
        console.error(`check: ${flag} needs a value`);
        process.exit(2);
    }
    if (flag === "--manifests") {
        const [name, file] = value.split("=");
        const documents = parseAllDocuments(fs.readFileSync(file, "utf8"));
        const errors = documents.flatMap((d) => d.errors.map((e) => e.message));
        const objects = documents.map((d) => d.toJS()).filter(Boolean);
        const cpu = CPU_BUDGETS[name];
        const found = [...errors, ...(await validateAll(objects)),
                       ...checkAll(objects, { multipartOverhead, cpu })];
        console.log(`${name}: ${objects.length} objects, ${found.length} problems`);
        if (cpu) {
            console.log(`${name}: ${cpuBudget(objects, cpu).summary}`);
        }
        problems.push(...found.map((p) => `${name}: ${p}`));
    } else if (flag === "--dockerfile") {
        const packages = (args[args.indexOf("--runtime-packages") + 1] ?? "").split(/\s+/)
            .filter(Boolean);
        const withPackages = args.includes("--runtime-packages") ? packages : [];
        const found = checkDockerfile(fs.readFileSync(value, "utf8"),
                                      { imagePinned, runtimePackages: withPackages });
        console.log(`Dockerfile: ${withPackages.length} linked packages checked, ${found.length} problems`);
        problems.push(...found);
    } else if (flag === "--compose") {
        const found = checkCompose(parse(fs.readFileSync(value, "utf8"), { merge: true }),
                                   { imagePinned });
        console.log(`compose.yaml: ${found.length} problems`);
        problems.push(...found);
    } else if (flag !== "--runtime-packages" && flag !== "--gateway-source") {
        console.error(`check: unknown option ${flag}`);
        process.exit(2);
    }
}
for (const problem of problems) {
    console.log(`  PROBLEM ${problem}`);
}
process.exit(problems.length === 0 ? 0 : 1);
